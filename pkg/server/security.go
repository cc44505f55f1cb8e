package server

import (
	"crypto/subtle"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// tokenOK compares a presented token with the configured one in constant time.
func (s *Server) tokenOK(tok string) bool {
	return subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.Token)) == 1
}

// auth requires the token (Authorization: Bearer …) when one is configured.
func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Token == "" || r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		tok := bearer(r.Header.Get("Authorization"))
		if tok == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mpmd"`)
			writeError(w, http.StatusUnauthorized, "authentication required: send Authorization: Bearer <token> (the value of CLAUDE_MPM_SOCKETIO_TOKEN)")
			return
		}
		if !s.tokenOK(tok) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mpmd", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "invalid authentication token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// originAllowed reports whether a browser page at origin may talk to mpmd:
// loopback origins always, others only when listed with --cors-origin.
func (s *Server) originAllowed(origin string) bool {
	if origin == "" {
		return true // not a browser cross-origin request
	}
	for _, o := range s.cfg.CORSOrigins {
		if o == "*" || strings.EqualFold(strings.TrimRight(o, "/"), origin) {
			return true
		}
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	return isLoopbackHost(u.Hostname())
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// cors applies the origin policy to an HTTP route: a foreign origin is
// refused with 403 (nothing runs), an allowed one gets the CORS headers, and
// preflight requests are answered here.
func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" {
			if !s.originAllowed(origin) {
				writeError(w, http.StatusForbidden, "origin "+origin+" is not allowed: start mpmd with --cors-origin "+origin+" to allow it")
				return
			}
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
			h.Set("Access-Control-Allow-Credentials", "true")
			if r.Method == http.MethodOptions {
				h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// checkOrigin is the origin policy for Socket.IO's handshakes (websocket
// included, which CORS does not cover) and polling's CORS answers.
func (s *Server) checkOrigin(origin string) error {
	if !s.originAllowed(origin) {
		return &originError{origin}
	}
	return nil
}

type originError struct{ origin string }

func (e *originError) Error() string {
	return "origin " + e.origin + " is not allowed: start mpmd with --cors-origin " + e.origin
}

// hostCheck defends a loopback-bound mpmd against DNS rebinding: a page on
// a foreign site whose name resolves to 127.0.0.1 would talk to mpmd as its
// own origin (no Origin header on same-origin GETs) but must send its own
// name as Host. When mpmd listens on loopback, only loopback names, and the
// hosts of --cors-origin origins, are accepted.
func (s *Server) hostCheck(next http.Handler) http.Handler {
	if !isLoopbackHost(s.cfg.Host) {
		return next
	}
	allowed := map[string]bool{}
	for _, o := range s.cfg.CORSOrigins {
		if u, err := url.Parse(o); err == nil && u.Hostname() != "" {
			allowed[strings.ToLower(u.Hostname())] = true
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.Trim(host, "[]")
		if host != "" && !isLoopbackHost(host) && !allowed[strings.ToLower(host)] {
			writeError(w, http.StatusForbidden, "host "+r.Host+" is not allowed: mpmd listens on loopback and answers only to localhost names")
			return
		}
		next.ServeHTTP(w, r)
	})
}
