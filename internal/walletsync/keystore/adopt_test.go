package keystore

import "testing"

func TestAdoptRecordsVanishedKeysAsRemoved(t *testing.T) {
	seed := testMnemonic(t, 1)
	d, err := NewDeriver(seed)
	if err != nil {
		t.Fatal(err)
	}
	key := func(i uint32) string {
		k, err := d.Key(EC, i)
		if err != nil {
			t.Fatal(err)
		}
		return k.Public
	}
	st := &State{Seed: seed, Next: Counters{EC: 1}}
	// walletd is at EC #3: it holds #1, and #2 was rolled back since.
	holds := map[string]bool{key(0): true, key(1): true}
	if err := st.Adopt(d, Counters{EC: 3}, func(p string) bool { return holds[p] }); err != nil {
		t.Fatal(err)
	}
	if st.Next.EC != 3 {
		t.Fatalf("EC counter %d, want 3", st.Next.EC)
	}
	if st.IsRemoved(key(1)) {
		t.Fatal("a key walletd holds was recorded as removed")
	}
	if !st.IsRemoved(key(2)) {
		t.Fatal("a key walletd no longer holds was not recorded as removed: a replica would restore it")
	}
	if st.IsRemoved(key(0)) {
		t.Fatal("a key below the old counter was touched")
	}
}
