package mtls_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	mtls "libmtls.dev/mtls"
)

// Benchmarks against bindings/conformance/bench_c (run-tests.sh bench): the same two
// operations, (a) one trivial call (mtls_error_name) and (b) verify + the full identity of
// a table case (BENCH_CASE, default san/require_and_verify), the context built once.

var sink interface{}

func BenchmarkErrorName(b *testing.B) {
	var s string
	for i := 0; i < b.N; i++ {
		s = mtls.ErrorName(int(mtls.CodeCertExpired))
	}
	sink = s
}

func benchCase(b *testing.B) (*mtls.Context, [][]byte, time.Time, int) {
	name := os.Getenv("BENCH_CASE")
	if name == "" {
		name = "san/require_and_verify"
	}
	if os.Getenv("MTLS_CONFORMANCE") != "" {
		for _, c := range loadTable(b).Cases {
			if c.Name == name {
				return newCtx(b, []byte(c.Policy)), c.chain(b), time.Unix(c.At, 0), c.PolicyIndex
			}
		}
		b.Fatalf("no case %s in the table", name)
	}
	pki := pkiDir(b)
	chain, err := mtls.DecodePEM(readFile(b, filepath.Join(pki, "san.chain.pem")))
	if err != nil {
		b.Fatal(err)
	}
	ctx := newCtx(b, policyJSON(b, "require_and_verify", filepath.Join(pki, "root-ca.pem")))
	return ctx, chain, time.Time{}, 0
}

// cpuNanos is the process's user + system CPU time.
func cpuNanos() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkVerifyIdentity also reports CPU time per call (cpu-ns/op: the whole process's,
// GC included), which a busy machine disturbs less than wall time.
func BenchmarkVerifyIdentity(b *testing.B) {
	ctx, chain, at, index := benchCase(b)
	b.ResetTimer()
	cpu0 := cpuNanos()
	for i := 0; i < b.N; i++ {
		r, err := ctx.Verify(chain, at, index)
		if err != nil {
			b.Fatal(err)
		}
		sink = r
	}
	b.ReportMetric(float64(cpuNanos()-cpu0)/float64(b.N), "cpu-ns/op")
}

func BenchmarkVerifyIdentityParallel(b *testing.B) {
	ctx, chain, at, index := benchCase(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := ctx.Verify(chain, at, index); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
