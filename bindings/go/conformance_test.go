package mtls_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mtls "libmtls.dev/mtls"
)

// expectation is a case's "expect" object, decoded.
type expectation struct {
	Accepted       bool              `json:"accepted"`
	Verified       bool              `json:"verified"`
	HasCertificate bool              `json:"has_certificate"`
	Reason         string            `json:"reason"`
	ReasonCode     int               `json:"reason_code"`
	Category       int               `json:"category"`
	Message        string            `json:"message"`
	Mode           int               `json:"mode"`
	NumChain       int               `json:"num_chain"`
	IdentityB64    map[string]string `json:"identity_b64"`
	ErrorDepth     *int              `json:"error_depth"`
	PolicyIndex    *int              `json:"policy_index"`
	NumPresented   *int              `json:"num_presented"`
}

// The keys of "expect" this test checks: any other key fails the test (a table that grew a
// field nobody checks here would be drift).
var knownExpectKeys = map[string]bool{"accepted": true, "verified": true,
	"has_certificate": true, "reason": true, "reason_code": true, "category": true,
	"message": true, "mode": true, "num_chain": true, "identity_b64": true,
	"error_depth": true, "policy_index": true, "num_presented": true}

func decodeExpect(c *tableCase) (*expectation, error) {
	for k := range c.Expect {
		if !knownExpectKeys[k] {
			return nil, fmt.Errorf("%s: expect key %q unknown to the Go test", c.Name, k)
		}
	}
	for _, k := range []string{"accepted", "verified", "has_certificate", "reason",
		"reason_code", "category", "message", "mode", "num_chain", "identity_b64"} {
		if _, ok := c.Expect[k]; !ok {
			return nil, fmt.Errorf("%s: expect key %q missing", c.Name, k)
		}
	}
	raw, err := json.Marshal(c.Expect)
	if err != nil {
		return nil, err
	}
	var e expectation
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("%s: expect: %v", c.Name, err)
	}
	return &e, nil
}

// compare lists every difference between a Result and the case's expectation.
func compare(c *tableCase, e *expectation, r *mtls.Result) []string {
	var bad []string
	check := func(what string, got, want interface{}) {
		if got != want {
			bad = append(bad, fmt.Sprintf("%s: got %#v, want %#v", what, got, want))
		}
	}
	check("accepted", r.Accepted, e.Accepted)
	check("verified", r.Verified, e.Verified)
	check("has_certificate", r.HasCertificate, e.HasCertificate)
	check("reason", r.Reason, e.Reason)
	check("reason_code", int(r.ReasonCode), e.ReasonCode)
	check("category", int(r.Category), e.Category)
	check("message", r.Message, e.Message)
	check("mode", int(r.Mode), e.Mode)
	check("num_chain", len(r.Chain), e.NumChain)
	check("policy_index", r.PolicyIndex, c.PolicyIndex)
	if e.PolicyIndex != nil {
		check("expect.policy_index", r.PolicyIndex, *e.PolicyIndex)
	}
	if e.ErrorDepth != nil {
		check("error_depth", r.ErrorDepth, *e.ErrorDepth)
	}
	if e.NumPresented != nil {
		check("num_presented", len(r.Presented), *e.NumPresented)
	}
	check("presented count", len(r.Presented), len(c.ChainDERB64))
	for i, s := range c.ChainDERB64 {
		if i < len(r.Presented) && base64.StdEncoding.EncodeToString(r.Presented[i]) != s {
			bad = append(bad, fmt.Sprintf("presented[%d] differs from the chain sent", i))
		}
	}
	if (r.Err() == nil) != r.Accepted {
		bad = append(bad, "Err() disagrees with Accepted")
	}
	// Identity: every key present with equal bytes, no extra key.
	for name, b64 := range e.IdentityB64 {
		want, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			bad = append(bad, fmt.Sprintf("identity %s: bad base64 in table", name))
			continue
		}
		got, ok := r.Placeholders[name]
		if !ok {
			bad = append(bad, fmt.Sprintf("identity %s: missing", name))
		} else if !bytes.Equal([]byte(got), want) {
			bad = append(bad, fmt.Sprintf("identity %s: got %q, want %q", name, got, want))
		}
	}
	for name := range r.Placeholders {
		if _, ok := e.IdentityB64[name]; !ok {
			bad = append(bad, fmt.Sprintf("identity %s: not in the table", name))
		}
	}
	bad = append(bad, checkTyped(e, r)...)
	return bad
}

func b64(e *expectation, name string) string {
	v, err := base64.StdEncoding.DecodeString(e.IdentityB64["http.request.tls.client."+name])
	if err != nil {
		return "<bad base64>"
	}
	return string(v)
}

// checkTyped checks the typed fields against the table's placeholder values.
func checkTyped(e *expectation, r *mtls.Result) []string {
	var bad []string
	for name, got := range map[string]string{"subject": r.Subject, "issuer": r.Issuer,
		"serial": r.Serial, "fingerprint": r.Fingerprint, "spiffe_id": r.SPIFFEID} {
		if want := b64(e, name); got != want {
			bad = append(bad, fmt.Sprintf("typed %s: got %q, want %q", name, got, want))
		}
	}
	lists := map[string][]string{"dns_names": r.DNSNames, "emails": r.Emails, "ips": r.IPs,
		"uris": r.URIs}
	for name, got := range lists {
		var want []string
		for i := 0; ; i++ {
			k := "http.request.tls.client.san." + name + "." + strconv.Itoa(i)
			if _, ok := e.IdentityB64[k]; !ok {
				break
			}
			want = append(want, b64(e, "san."+name+"."+strconv.Itoa(i)))
		}
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") || len(got) != len(want) {
			bad = append(bad, fmt.Sprintf("typed san %s: got %q, want %q", name, got, want))
		}
	}
	for name, got := range map[string]time.Time{"not_before": r.NotBefore,
		"not_after": r.NotAfter} {
		want := b64(e, name)
		switch {
		case want == "" && !got.IsZero():
			bad = append(bad, fmt.Sprintf("typed %s: got %v, want zero", name, got))
		case want != "" && got.UTC().Format(time.RFC3339) != want:
			bad = append(bad, fmt.Sprintf("typed %s: got %v, want %s", name, got, want))
		}
	}
	return bad
}

type form int

const (
	formDERList form = iota
	formPEM
	formDER
)

func (f form) String() string { return [...]string{"der-list", "pem", "der"}[f] }

func verifyForm(ctx *mtls.Context, c *tableCase, chain [][]byte, f form) (*mtls.Result, error) {
	at := time.Unix(c.At, 0)
	switch f {
	case formPEM:
		if c.ChainPEM == "" {
			return ctx.Verify(nil, at, c.PolicyIndex)
		}
		return ctx.VerifyPEM([]byte(c.ChainPEM), at, c.PolicyIndex)
	case formDER:
		return ctx.VerifyDER(chain[0], at, c.PolicyIndex)
	default:
		return ctx.Verify(chain, at, c.PolicyIndex)
	}
}

func formsOf(chain [][]byte) []form {
	if len(chain) == 1 {
		return []form{formDERList, formPEM, formDER}
	}
	return []form{formDERList, formPEM}
}

func TestConformanceTable(t *testing.T) {
	tb := loadTable(t)
	if tb.TLSLibrary != mtls.TLSLibrary() {
		t.Errorf("table made with %q, this process runs on %q", tb.TLSLibrary, mtls.TLSLibrary())
	}
	if tb.LibraryVersion != mtls.Version() {
		t.Errorf("table made by libmtls %s, this is %s", tb.LibraryVersion, mtls.Version())
	}
	if got := mtls.Placeholders(); strings.Join(got, ",") != strings.Join(tb.Placeholders, ",") {
		t.Errorf("placeholders: got %v, table %v", got, tb.Placeholders)
	}
	runs, selects := 0, 0
	for i := range tb.Cases {
		c := &tb.Cases[i]
		t.Run(c.Name, func(t *testing.T) {
			e, err := decodeExpect(c)
			if err != nil {
				t.Fatal(err)
			}
			ctx := newCtx(t, []byte(c.Policy))
			chain := c.chain(t)
			if c.ChainPEM == "" && len(chain) > 0 {
				t.Fatal("table: chain_pem empty for a non-empty chain")
			}
			for _, s := range c.Select {
				got, err := ctx.Select(deref(s.SNI), deref(s.RemoteIP), deref(s.LocalIP))
				if s.Index < 0 {
					if !errors.Is(err, &mtls.Error{Code: mtls.CodeNoMatchingPolicy}) {
						t.Errorf("select %+v: got %d, %v; want no policy", s, got, err)
					}
				} else if err != nil || got != s.Index {
					t.Errorf("select %+v: got %d, %v", s, got, err)
				}
				selects++
			}
			for _, f := range formsOf(chain) {
				r, err := verifyForm(ctx, c, chain, f)
				if err != nil {
					t.Fatalf("%v: verify: %v", f, err)
				}
				for _, b := range compare(c, e, r) {
					t.Errorf("%v: %s", f, b)
				}
				runs++
			}
		})
	}
	t.Logf("%d cases, %d verifications (DER list, PEM and single DER forms), %d selects",
		len(tb.Cases), runs, selects)
}

// Parallel verifies on shared contexts agree with the table.
func TestConformanceParallel(t *testing.T) {
	tb := loadTable(t)
	type prepared struct {
		c     *tableCase
		e     *expectation
		ctx   *mtls.Context
		chain [][]byte
	}
	cases := make([]prepared, 0, len(tb.Cases))
	for i := range tb.Cases {
		c := &tb.Cases[i]
		e, err := decodeExpect(c)
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, prepared{c, e, newCtx(t, []byte(c.Policy)), c.chain(t)})
	}
	const workers, rounds = 8, 3
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	total := 0
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			n := 0
			for round := 0; round < rounds; round++ {
				for i := range cases {
					// Each worker walks the cases from a different start.
					p := &cases[(i+w*len(cases)/workers)%len(cases)]
					forms := formsOf(p.chain)
					f := forms[(i+w+round)%len(forms)]
					r, err := verifyForm(p.ctx, p.c, p.chain, f)
					var bad []string
					if err != nil {
						bad = []string{err.Error()}
					} else {
						bad = compare(p.c, p.e, r)
					}
					n++
					if len(bad) > 0 {
						mu.Lock()
						failures = append(failures, fmt.Sprintf("worker %d %s %v: %s", w,
							p.c.Name, f, strings.Join(bad, "; ")))
						mu.Unlock()
					}
				}
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	sort.Strings(failures)
	for i, f := range failures {
		if i == 20 {
			t.Errorf("... and %d more", len(failures)-20)
			break
		}
		t.Error(f)
	}
	t.Logf("%d goroutines, %d verifications", workers, total)
}
