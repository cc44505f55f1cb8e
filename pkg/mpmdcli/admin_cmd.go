package mpmdcli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mpm-dev/mpm/pkg/admin"
)

// adminConfig is the Admin UI's configuration from the flags, nil with
// --no-admin, or a sentence saying what is wrong with them.
func (f *ServeFlags) adminConfig() (*admin.Config, error) {
	if f.NoAdmin {
		if f.AdminUser != "" || f.AdminPasswordHash != "" || f.AdminReadonly {
			return nil, errors.New("--no-admin turns the Admin UI off: drop it, or --admin-user, --admin-password-hash and --admin-readonly")
		}
		return nil, nil
	}
	cfg := &admin.Config{
		Username:     f.AdminUser,
		PasswordHash: strings.TrimSpace(f.AdminPasswordHash),
		Token:        f.Token,
		Readonly:     f.AdminReadonly,
		Mode:         f.AdminMode,
	}
	// htpasswd -nbB prints "user:hash"; take the hash.
	if u, h, ok := strings.Cut(cfg.PasswordHash, ":"); ok && strings.HasPrefix(h, "$2") {
		if cfg.Username == "" {
			cfg.Username = u
		}
		cfg.PasswordHash = h
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// AdminHashCmd prints a bcrypt hash of a password for --admin-password-hash.
type AdminHashCmd struct {
	Cost int `help:"bcrypt cost (4 to 31; each step doubles the time a login takes)." default:"10"`
}

// Run reads the password (its first line) from standard input.
func (c *AdminHashCmd) Run(env *Env) error {
	if c.Cost < 4 || c.Cost > 31 {
		return fmt.Errorf("--cost must be between 4 and 31, got %d", c.Cost)
	}
	in := env.Stdin
	if in == nil {
		in = os.Stdin
		if st, err := os.Stdin.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			fmt.Fprint(env.Stderr, "Password (it is echoed; pipe it in to avoid that): ")
		}
	}
	line, err := bufio.NewReader(io.LimitReader(in, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("cannot read the password from standard input: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	h, err := admin.HashPassword(pw, c.Cost)
	if err != nil {
		return fmt.Errorf("cannot hash the password: %w", err)
	}
	fmt.Fprintln(env.Stdout, h)
	return nil
}
