// Package walletfile reads and creates factom-walletd's bolt wallet file
// (github.com/FactomProject/wallet/v2 with factomd's boltdb wrapper)
// without linking the wallet library, which would drag factomd into the
// sidecar. The format, as that library writes it:
//
//	bucket "DB Seed"       key "DB Seed"   gob of {MnemonicSeed string;
//	                                        NextFactoidAddressIndex,
//	                                        NextECAddressIndex,
//	                                        NextIdentityKeyIndex uint32}
//	bucket "Factoids"      key FA... public  32-byte secret key
//	bucket "Entry Credits" key EC... public  32-byte secret key
//	bucket "Identities"    key idpub...      32-byte secret key
//
// Tests check a file written here against a real walletd.
package walletfile

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/FactomProject/factom"
	bolt "go.etcd.io/bbolt"

	"github.com/factom-sidecar/factom-sidecar/internal/walletd"
)

var (
	bucketSeed       = []byte("DB Seed")
	keySeed          = []byte("DB Seed")
	bucketFactoids   = []byte("Factoids")
	bucketECs        = []byte("Entry Credits")
	bucketIdentities = []byte("Identities")
)

// dbSeedBase mirrors wallet.DBSeedBase field for field: gob matches fields
// by name.
type dbSeedBase struct {
	MnemonicSeed            string
	NextFactoidAddressIndex uint32
	NextECAddressIndex      uint32
	NextIdentityKeyIndex    uint32
}

// Counters are the wallet's next derivation indices.
type Counters struct{ FCT, EC, ID uint32 }

// Contents is what Create writes.
type Contents struct {
	Seed walletd.Secret
	Next Counters
	// Keys are written with their secrets (FCT, EC and identity keys,
	// derived or imported); the bucket follows from the secret's prefix.
	Keys []walletd.Secret
	// Passphrase, when set, writes the encrypted format walletd
	// -encrypted opens (see encrypted.go).
	Passphrase walletd.Secret
}

// ErrNoSeed: the file has no seed record (not a walletd wallet, or an
// encrypted one).
var ErrNoSeed = errors.New("wallet file has no seed record")

// lockTimeout bounds waiting for bolt's file lock: a running walletd holds
// it, and the init container must not hang on it.
const lockTimeout = 2 * time.Second

// ReadSeed returns the seed of the plain wallet file at path.
// os.ErrNotExist (wrapped) when there is no file; ErrEncrypted for an
// encrypted one. Errors contain no secret.
func ReadSeed(path string) (walletd.Secret, Counters, error) {
	return ReadSeedWith(path, "")
}

// ReadSeedWith is ReadSeed for a file encrypted with passphrase (empty: a
// plain file). ErrWrongPassphrase, ErrNotEncrypted and ErrEncrypted say
// why a file does not open.
func ReadSeedWith(path string, passphrase walletd.Secret) (walletd.Secret, Counters, error) {
	if _, err := os.Stat(path); err != nil {
		return "", Counters{}, fmt.Errorf("wallet file: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: lockTimeout})
	if err != nil {
		return "", Counters{}, fmt.Errorf("open wallet file %s: %w", path, err)
	}
	defer db.Close()
	var seed dbSeedBase
	err = db.View(func(tx *bolt.Tx) error {
		sealer, err := encryption(tx, passphrase)
		if err != nil {
			return err
		}
		b := tx.Bucket(bucketSeed)
		if b == nil {
			return ErrNoSeed
		}
		v := b.Get(keySeed)
		if v == nil {
			return ErrNoSeed
		}
		if sealer != nil {
			if v, err = sealer.open(v); err != nil {
				return err
			}
		}
		if err := gob.NewDecoder(bytes.NewReader(v)).Decode(&seed); err != nil {
			return fmt.Errorf("wallet file seed record: undecodable")
		}
		return nil
	})
	if err != nil {
		return "", Counters{}, err
	}
	return walletd.Secret(seed.MnemonicSeed), Counters{seed.NextFactoidAddressIndex, seed.NextECAddressIndex, seed.NextIdentityKeyIndex}, nil
}

// Create writes a new wallet file at path holding c, in one transaction;
// it refuses to touch an existing file. The file is written under a
// temporary name and renamed, so a crash leaves no half-written wallet
// that walletd would open.
func Create(path string, c Contents) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("create wallet file %s: %w", path, os.ErrExist)
	}
	m, err := walletd.ParseMnemonic(c.Seed)
	if err != nil {
		return fmt.Errorf("create wallet file: the seed is not a valid 12-word mnemonic")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create wallet file: %w", err)
	}
	tmp := path + ".walletd-init.tmp"
	_ = os.Remove(tmp) // left by an earlier crash: never a live wallet
	db, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: lockTimeout})
	if err != nil {
		return fmt.Errorf("create wallet file: %w", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		var buf bytes.Buffer
		if err := gob.NewEncoder(&buf).Encode(dbSeedBase{m, c.Next.FCT, c.Next.EC, c.Next.ID}); err != nil {
			return fmt.Errorf("encode seed record: %w", err)
		}
		for _, name := range [][]byte{bucketSeed, bucketFactoids, bucketECs, bucketIdentities} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		put := func(bucket, key, v []byte) error { return tx.Bucket(bucket).Put(key, v) }
		if c.Passphrase != "" {
			sealer, err := newEncryption(tx, c.Passphrase)
			if err != nil {
				return err
			}
			put = func(bucket, key, v []byte) error {
				sealed, err := sealer.seal(v)
				if err != nil {
					return err
				}
				return tx.Bucket(bucket).Put(key, sealed)
			}
		}
		if err := put(bucketSeed, keySeed, buf.Bytes()); err != nil {
			return err
		}
		for i, s := range c.Keys {
			bucket, pub, sec, err := parse(s)
			if err != nil {
				return fmt.Errorf("key %d: %w", i, err)
			}
			if err := put(bucket, []byte(pub), sec); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("create wallet file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("create wallet file: %w", err)
	}
	return nil
}

// parse returns the bucket, public key and raw 32-byte secret for a
// secret string. Errors contain no secret.
func parse(s walletd.Secret) ([]byte, string, []byte, error) {
	str := s.Reveal()
	switch factom.AddressStringType(str) {
	case factom.FactoidSec:
		a, err := factom.GetFactoidAddress(str)
		if err != nil {
			return nil, "", nil, errors.New("invalid factoid secret")
		}
		return bucketFactoids, a.String(), a.SecBytes()[:32], nil
	case factom.ECSec:
		a, err := factom.GetECAddress(str)
		if err != nil {
			return nil, "", nil, errors.New("invalid entry credit secret")
		}
		return bucketECs, a.PubString(), a.SecBytes()[:32], nil
	}
	if factom.IdentityKeyStringType(str) == factom.IDSec {
		k, err := factom.GetIdentityKey(str)
		if err != nil {
			return nil, "", nil, errors.New("invalid identity secret")
		}
		return bucketIdentities, k.PubString(), k.SecBytes()[:32], nil
	}
	return nil, "", nil, errors.New("secret of unknown kind")
}
