package admin

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// maxPassword is bcrypt's limit: longer passwords are refused rather than
// cut (Go's bcrypt cannot hash them, so no hash made here matches one).
const maxPassword = 72

// maxSessions bounds the session ids kept; the oldest goes first.
const maxSessions = 1000

// bcryptSlots bounds the bcrypt comparisons running at once: each takes
// tens of milliseconds of CPU, and the logins of a guessing client must not
// take the daemon's cores.
var bcryptSlots = make(chan struct{}, 2)

// AuthError is why a connection to the admin namespace was refused; its
// Message is what the Admin UI shows ("invalid credentials" is the one it
// translates).
type AuthError struct {
	Message string
	Code    string
}

func (e *AuthError) Error() string { return e.Message }

var errInvalidCredentials = &AuthError{Message: "invalid credentials", Code: "invalid_credentials"}

// checkHash refuses a password hash that is not bcrypt.
func checkHash(h string) error {
	if !strings.HasPrefix(h, "$2") {
		return fmt.Errorf("--admin-password-hash must be a bcrypt hash ($2a$, $2b$ or $2y$…, e.g. from `mpmd admin-hash` or `htpasswd -nbBC 10 user password`)")
	}
	if _, err := bcrypt.Cost([]byte(h)); err != nil {
		return fmt.Errorf("--admin-password-hash is not a valid bcrypt hash: %v", err)
	}
	return nil
}

// HashPassword makes a bcrypt hash of password for --admin-password-hash.
func HashPassword(password string, cost int) (string, error) {
	if password == "" {
		return "", fmt.Errorf("the password is empty")
	}
	if len(password) > maxPassword {
		return "", fmt.Errorf("the password is %d bytes; bcrypt takes at most %d", len(password), maxPassword)
	}
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	b, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	return string(b), err
}

// AuthRequired reports whether connections need credentials (otherwise only
// loopback connections are let in, with none).
func (s *Server) AuthRequired() bool { return s.cfg.PasswordHash != "" || s.cfg.Token != "" }

// Authenticate checks the auth object of a connection to the admin
// namespace (from remote, the peer's address), as the reference's basic
// auth does: a known auth.sessionId passes; else auth.username and
// auth.password must match the configured user and bcrypt hash, or the
// password (or auth.token) must be mpmd's token, and then a new session id
// is returned for the socket to be sent. With neither credentials nor token
// configured only loopback peers pass. Anything that is not a string is no
// credential.
func (s *Server) Authenticate(auth map[string]any, remote string) (session string, err error) {
	if id, ok := auth["sessionId"].(string); ok && id != "" && s.sessions.valid(id) {
		return "", nil
	}
	if !s.AuthRequired() {
		if isLoopback(remote) {
			return "", nil
		}
		return "", &AuthError{
			Message: "the Admin UI takes connections from other machines only with credentials: start mpmd with --admin-user and --admin-password-hash, or --token",
			Code:    "admin_auth_required",
		}
	}
	user, _ := auth["username"].(string)
	pass, _ := auth["password"].(string)
	tok, _ := auth["token"].(string)
	ok := false
	if s.cfg.Token != "" {
		ok = equal(pass, s.cfg.Token) || equal(tok, s.cfg.Token)
	}
	if !ok && s.cfg.PasswordHash != "" && pass != "" && len(pass) <= maxPassword && equal(user, s.cfg.Username) {
		bcryptSlots <- struct{}{}
		ok = bcrypt.CompareHashAndPassword([]byte(s.cfg.PasswordHash), []byte(pass)) == nil
		<-bcryptSlots
	}
	if !ok {
		return "", errInvalidCredentials
	}
	return s.sessions.add(), nil
}

func equal(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// isLoopback reports whether remote ("127.0.0.1", "[::1]:5000", …) is a
// loopback address.
func isLoopback(remote string) bool {
	h := remote
	if host, _, err := net.SplitHostPort(remote); err == nil {
		h = host
	}
	h = strings.Trim(h, "[]")
	if i := strings.IndexByte(h, '%'); i >= 0 {
		h = h[:i]
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// sessions are the session ids issued to logged-in Admin UIs, in memory
// (a restart logs everyone out), each valid for ttl.
type sessions struct {
	ttl time.Duration
	max int

	mu    sync.Mutex
	ids   map[string]time.Time // id → expiry
	order []string             // issue order, for eviction
}

func newSessions(ttl time.Duration, max int) *sessions {
	return &sessions{ttl: ttl, max: max, ids: map[string]time.Time{}}
}

func (ss *sessions) add() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for len(ss.order) >= ss.max {
		delete(ss.ids, ss.order[0])
		ss.order = ss.order[1:]
	}
	ss.ids[id] = time.Now().Add(ss.ttl)
	ss.order = append(ss.order, id)
	return id
}

func (ss *sessions) valid(id string) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	exp, ok := ss.ids[id]
	if !ok {
		return false
	}
	if time.Now().After(exp) {
		delete(ss.ids, id)
		return false
	}
	return true
}
