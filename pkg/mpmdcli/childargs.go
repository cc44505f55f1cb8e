package mpmdcli

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// notForwarded are the ServeFlags that `start` does not put on its child's
// command line: the token and the Admin UI's password hash go in the
// child's environment (ps shows a command line), the settings file's
// values are already in the flags, and --open is start's own.
var notForwarded = map[string]bool{"token": true, "admin-password-hash": true, "config": true, "open": true}

// childArgs is `mpmd run`'s command line for what f holds, every flag of
// ServeFlags but notForwarded: a flag added to ServeFlags reaches start's
// child with no line here (TestChildArgsForwardEveryFlag holds it to that).
func (f *ServeFlags) childArgs() []string {
	var args []string
	v := reflect.ValueOf(f).Elem()
	for i := 0; i < v.NumField(); i++ {
		field := v.Type().Field(i)
		name := flagName(field)
		if notForwarded[name] {
			continue
		}
		flag := "--" + name
		switch x := v.Field(i).Interface().(type) {
		case bool:
			if x {
				args = append(args, flag)
			}
		case string:
			if x != "" {
				args = append(args, flag, x)
			}
		case []string:
			for _, e := range x {
				args = append(args, flag, e)
			}
		case time.Duration:
			args = append(args, flag, x.String())
		case int:
			args = append(args, flag, strconv.Itoa(x))
		case int64:
			args = append(args, flag, strconv.FormatInt(x, 10))
		default:
			// A new kind of flag: say so at once rather than drop it.
			panic(fmt.Sprintf("mpmd start cannot forward --%s (%T) to its child", name, x))
		}
	}
	return args
}

// flagName is the flag kong makes of field: its name tag, or the field's
// name in kebab case.
func flagName(field reflect.StructField) string {
	if n := field.Tag.Get("name"); n != "" {
		return n
	}
	var b strings.Builder
	rs := []rune(field.Name)
	for i, r := range rs {
		if i > 0 && unicode.IsUpper(r) && (unicode.IsLower(rs[i-1]) || i+1 < len(rs) && unicode.IsLower(rs[i+1])) {
			b.WriteByte('-')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}
