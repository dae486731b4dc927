package proxy

import (
	"net/http"
	"strings"
	"testing"
)

func FuzzCredentials(f *testing.F) {
	for _, s := range []string{
		"", "Basic", "Basic ", "Basic YWxpY2U6cHc=", "basic YWxpY2U6cHc=", "Basic YWxpY2U=", "Basic Og==",
		"Basic !!!", "Bearer abc", "Basic YWxpY2U6cHc6bW9yZQ==", "Basic  YWxpY2U6cHc=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		user, pass, ok := Credentials(http.Header{"Authorization": {v}})
		if !ok {
			if user != "" || pass != "" {
				t.Fatalf("refused %q but returned credentials", v)
			}
			return
		}
		if user == "" || strings.Contains(user, ":") {
			t.Fatalf("%q: user %q", v, user)
		}
		// What was read is what a client sending these credentials sends.
		h := basic(user, pass)
		if u2, p2, ok2 := Credentials(h); !ok2 || u2 != user || p2 != pass {
			t.Fatalf("%q: %q/%q does not round-trip", v, user, pass)
		}
	})
}

func FuzzParseAuthFile(f *testing.F) {
	const hash = "$2a$04$lQx8ibjD4sjW5w5sn9d5XeHsmbdkBtR/F5zYCR5cDQ6qNGNm2Rw9K"
	for _, s := range []string{
		"", "#\n", "alice:" + hash + ":read\n", "alice:" + hash + ":admin\r\nbob:" + hash + ":write",
		"alice:" + hash, "alice:" + hash + ":root", ":" + hash + ":read", "a b:" + hash + ":read",
		"alice:" + hash + ":read\nalice:" + hash + ":write", "alice:$2y$99$x:read", "alice::read",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		users, err := ParseAuthFile(data)
		if err != nil {
			if users != nil {
				t.Fatal("an error with users")
			}
			for _, line := range strings.Split(string(data), "\n") {
				fields := strings.Split(line, ":")
				if len(fields) > 1 && len(fields[1]) >= 20 && !strings.Contains(fields[0], fields[1]) && strings.Contains(err.Error(), fields[1]) {
					t.Fatalf("the error holds a hash: %v", err)
				}
			}
			return
		}
		if len(users) == 0 {
			t.Fatal("no error and no users")
		}
		for name, u := range users {
			if !validUserName(name) || u.role < RoleRead || u.role > RoleAdmin || len(u.hash) == 0 {
				t.Fatalf("accepted user %q role %v", name, u.role)
			}
		}
	})
}
