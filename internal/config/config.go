// Package config reads flags and their FACTOM_SIDECAR_* environment
// mirrors, and reports bad configuration as an error that names the flag.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strings"
)

// Section is the shape of every configuration of the sidecar: a struct
// that starts from its defaults (a Default function, which reads the
// environment through the lookup main hands the mode, never os.Getenv),
// registers its fields as flags with their current values as defaults,
// and checks them without I/O. Errors name the flag (FlagError).
type Section interface {
	RegisterFlags(fs *flag.FlagSet)
	Validate() error
}

// Loader is a Section whose flags name files (keys, passwords,
// certificates): Load reads them after Validate passed. Its errors are
// configuration errors too (exit code 2) and never hold a file's content.
type Loader interface {
	Section
	Load() error
}

// EnvPrefix starts the environment variable that mirrors each flag.
const EnvPrefix = "FACTOM_SIDECAR_"

// EnvName is the environment variable that mirrors a flag:
// --max-lag → FACTOM_SIDECAR_MAX_LAG.
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// FlagError is bad configuration attributed to one flag. main prints it as
// one line and exits with code 2.
type FlagError struct {
	Flag string
	Err  error
}

func (e *FlagError) Error() string { return fmt.Sprintf("invalid --%s: %v", e.Flag, e.Err) }
func (e *FlagError) Unwrap() error { return e.Err }

// Errorf returns a FlagError for flag.
func Errorf(flagName, format string, args ...any) error {
	return &FlagError{Flag: flagName, Err: fmt.Errorf(format, args...)}
}

// ApplyEnv sets every flag that was not given on the command line from its
// environment variable, if that is set. Command-line flags win over env.
func ApplyEnv(fs *flag.FlagSet, lookup func(string) (string, bool)) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		v, ok := lookup(EnvName(f.Name))
		if !ok {
			return
		}
		if list, isList := f.Value.(*StringList); isList {
			list.Reset()
			for _, item := range strings.Split(v, ",") {
				if item = strings.TrimSpace(item); item != "" {
					*list = append(*list, item)
				}
			}
			return
		}
		if err := f.Value.Set(v); err != nil {
			errs = append(errs, &FlagError{Flag: f.Name, Err: fmt.Errorf("from %s: %w", EnvName(f.Name), err)})
		}
	})
	return errors.Join(errs...)
}

// StringList is a repeatable string flag; its environment mirror is
// comma-separated.
type StringList []string

func (l *StringList) String() string { return strings.Join(*l, ",") }

// Set appends one value.
func (l *StringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// Reset empties the list.
func (l *StringList) Reset() { *l = (*l)[:0] }

// HTTPURL checks that raw is an absolute http(s) URL with a host.
func HTTPURL(flagName, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return &FlagError{Flag: flagName, Err: err}
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return Errorf(flagName, "%q: scheme must be http or https", raw)
	}
	if u.Host == "" {
		return Errorf(flagName, "%q: no host", raw)
	}
	return nil
}
