//go:build mtls_leak

package mtls_test

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	mtls "libmtls.dev/mtls"
)

// rssKiB reads VmRSS from /proc/self/status after a full collection (finalizers included)
// has given the Go heap back to the system.
func rssKiB(t *testing.T) int64 {
	t.Helper()
	runtime.GC()
	runtime.GC() // the finalizers queued by the first one have run
	debug.FreeOSMemory()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(strings.TrimPrefix(line, "VmRSS:")) // "1234 kB"
			if len(f) != 2 || f[1] != "kB" {
				t.Fatalf("unexpected %q", line)
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// TestLeak: 100k verifies with the full identity copied out (DER list and PEM in turn),
// plus contexts dropped without Close (the finalizer frees them) and Inspect calls; RSS
// after a warm-up vs at the end must grow less than 4 MiB. Not timed.
func TestLeak(t *testing.T) {
	const total, warmup, limitKiB = 100000, 10000, 4096
	pki := pkiDir(t)
	// `require`: the full identity without a signature check per call (100k verifies would
	// take minutes and allocate the same in the binding).
	policy := policyJSON(t, "require", filepath.Join(pki, "root-ca.pem"))
	pemText := readFile(t, filepath.Join(pki, "san.chain.pem"))
	at := time.Time{}
	if tb := os.Getenv("MTLS_CONFORMANCE"); tb != "" {
		// The table's san case: a self-contained policy, at its fixed time.
		for _, c := range loadTable(t).Cases {
			if c.Name == "san/require" {
				policy, pemText, at = []byte(c.Policy), []byte(c.ChainPEM), time.Unix(c.At, 0)
			}
		}
	}
	chain, err := mtls.DecodePEM(pemText)
	if err != nil {
		t.Fatal(err)
	}
	ctx := newCtx(t, policy)
	var before int64
	for i := 0; i < total; i++ {
		if i == warmup {
			before = rssKiB(t)
		}
		var r *mtls.Result
		if i%2 == 0 {
			r, err = ctx.Verify(chain, at, 0)
		} else {
			r, err = ctx.VerifyPEM(pemText, at, 0)
		}
		if err != nil || !r.Accepted || len(r.Placeholders) < 20 {
			t.Fatalf("verify %d: %v %v", i, err, r)
		}
		if i%1000 == 0 {
			dropped, err := mtls.NewContextFromJSON(policy, "") // freed by its finalizer
			if err != nil {
				t.Fatal(err)
			}
			_ = dropped.NumPolicies()
			if _, err := mtls.Inspect(chain); err != nil {
				t.Fatal(err)
			}
		}
	}
	after := rssKiB(t)
	t.Logf("RSS after %d warm-up verifies: %d KiB; after %d: %d KiB; growth %d KiB (limit %d)",
		warmup, before, total, after, after-before, limitKiB)
	if after-before > limitKiB {
		t.Errorf("RSS grew by %d KiB over %d verifies", after-before, total-warmup)
	}
}
