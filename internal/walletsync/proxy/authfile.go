package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// Role is what a proxy user may do. Each role includes the ones below it.
type Role int

// The roles of the auth file.
const (
	RoleNone Role = iota
	// RoleRead: reads that return no private key, and compose-*.
	RoleRead
	// RoleWrite: keystore writes, transaction building, unlock-wallet,
	// sign-data and the reads that return private keys.
	RoleWrite
	// RoleAdmin: wallet-backup (the seed).
	RoleAdmin
)

func (r Role) String() string {
	switch r {
	case RoleRead:
		return "read"
	case RoleWrite:
		return "write"
	case RoleAdmin:
		return "admin"
	default:
		return "none"
	}
}

// ParseRole reads a role name of the auth file.
func ParseRole(s string) (Role, error) {
	switch s {
	case "read":
		return RoleRead, nil
	case "write":
		return RoleWrite, nil
	case "admin":
		return RoleAdmin, nil
	}
	return RoleNone, errors.New("unknown role: want read, write or admin")
}

// authUser is one line of the auth file.
type authUser struct {
	hash []byte
	role Role
}

// maxAuthFileBytes bounds the auth file; a few thousand users fit.
const maxAuthFileBytes = 1 << 20

// ParseAuthFile parses the proxy's auth file: one USER:BCRYPT_HASH:ROLE a
// line (the first two fields as `htpasswd -B` writes them); blank lines
// and lines starting with # are skipped. Errors name the line, never its
// hash.
func ParseAuthFile(data []byte) (map[string]authUser, error) {
	if len(data) > maxAuthFileBytes {
		return nil, fmt.Errorf("auth file: larger than %d bytes", maxAuthFileBytes)
	}
	users := map[string]authUser{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxAuthFileBytes)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, u, err := parseAuthLine(line)
		if err != nil {
			return nil, fmt.Errorf("auth file line %d: %w", n, err)
		}
		if _, dup := users[name]; dup {
			return nil, fmt.Errorf("auth file line %d: user %q appears twice", n, name)
		}
		users[name] = u
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("auth file: %w", err)
	}
	if len(users) == 0 {
		return nil, errors.New("auth file: no users (want USER:BCRYPT_HASH:ROLE lines)")
	}
	return users, nil
}

func parseAuthLine(line string) (string, authUser, error) {
	parts := strings.Split(line, ":")
	if len(parts) != 3 {
		return "", authUser{}, fmt.Errorf("want USER:BCRYPT_HASH:ROLE, got %d fields", len(parts))
	}
	name, hash, roleName := parts[0], parts[1], strings.TrimSpace(parts[2])
	if !validUserName(name) {
		return "", authUser{}, errors.New("user name must be 1-64 printable characters without spaces")
	}
	// Checks the format and the cost; the text of a bcrypt error holds no
	// part of the hash.
	if _, err := bcrypt.Cost([]byte(hash)); err != nil {
		return "", authUser{}, fmt.Errorf("user %q: not a bcrypt hash (make one with htpasswd -nB USER): %w", name, err)
	}
	role, err := ParseRole(roleName)
	if err != nil {
		return "", authUser{}, fmt.Errorf("user %q: %w", name, err)
	}
	return name, authUser{hash: []byte(hash), role: role}, nil
}

func validUserName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if c <= ' ' || c == 0x7f || c > 0x7e {
			return false
		}
	}
	return true
}
