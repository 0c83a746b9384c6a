package mtls_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mtls "libmtls.dev/mtls"
)

// expectedTLSLibrary is what TLSLibrary must report in this build: meson sets
// MTLS_EXPECT_TLS_LIBRARY ("BoringSSL", or "OpenSSL 3" for -Dtls_backend=openssl), which
// matches exactly or followed by "." and the rest of the version ("OpenSSL 3.0.19 ...").
func expectedTLSLibrary(got string) (bool, string) {
	want := os.Getenv("MTLS_EXPECT_TLS_LIBRARY")
	if want == "" {
		want = "BoringSSL"
	}
	return got == want || strings.HasPrefix(got, want+"."), want
}

func TestLibrary(t *testing.T) {
	if ok, want := expectedTLSLibrary(mtls.TLSLibrary()); !ok {
		t.Errorf("TLSLibrary() = %q, want %s", mtls.TLSLibrary(), want)
	}
	if v := mtls.Version(); v == "" || strings.Count(v, ".") != 2 {
		t.Errorf("Version() = %q", v)
	}
	if got := mtls.ErrorName(int(mtls.CodeCertExpired)); got != "CERT_EXPIRED" {
		t.Errorf("ErrorName = %q", got)
	}
	if got := mtls.ErrorName(0); got != "OK" {
		t.Errorf("ErrorName(0) = %q", got)
	}
	if got := mtls.ErrorName(9999); got != "UNKNOWN" {
		t.Errorf("ErrorName(9999) = %q", got)
	}
	if mtls.CodeFileOpen.Category() != mtls.CategoryIO || mtls.CategoryIO.String() != "IO" {
		t.Error("categories")
	}
	ph := mtls.Placeholders()
	if len(ph) < 20 || ph[0] == "" {
		t.Errorf("Placeholders() = %v", ph)
	}
}

func TestJSONSyntaxError(t *testing.T) {
	_, err := mtls.NewContextFromJSON([]byte("{\n  \"mode\": \"require\",\n  oops\n}"), "")
	var e *mtls.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %#v, want *mtls.Error", err)
	}
	if e.Code != mtls.CodeJSONSyntax || e.Name != "JSON_SYNTAX" ||
		e.Category != mtls.CategoryPolicy {
		t.Errorf("got %#v", e)
	}
	if e.Line != 3 || e.Column < 1 {
		t.Errorf("position %d:%d, want line 3 (1-based)", e.Line, e.Column)
	}
	if e.Message == "" || e.Where == "" || !strings.Contains(e.Error(), "JSON_SYNTAX") {
		t.Errorf("message %q where %q", e.Message, e.Where)
	}
	if !errors.Is(err, &mtls.Error{Code: mtls.CodeJSONSyntax}) {
		t.Error("errors.Is by code")
	}
	// Line 1, column 1: the very first byte.
	_, err = mtls.NewContextFromJSON([]byte("x"), "")
	if !errors.As(err, &e) || e.Line != 1 || e.Column != 1 {
		t.Errorf("got %#v, want JSON_SYNTAX at 1:1", err)
	}
}

func TestPolicyErrors(t *testing.T) {
	for _, c := range []struct {
		doc  string
		code mtls.Code
	}{
		{`{"mode":"sometimes"}`, mtls.CodeUnknownMode},
		{`{"mode":"require_and_verify"}`, mtls.CodeNoTrustForVerify},
		{`{"mode":"require","bogus":1}`, mtls.CodeUnknownField},
		{`{"mode":1}`, mtls.CodeJSONType},
		{`{"trusted_ca_certs":["!!!"]}`, mtls.CodeBase64Invalid},
	} {
		_, err := mtls.NewContextFromJSON([]byte(c.doc), "")
		var e *mtls.Error
		if !errors.As(err, &e) || e.Code != c.code {
			t.Errorf("%s: got %v, want %v", c.doc, err, c.code)
			continue
		}
		if e.Line != -1 || e.Column != -1 || e.Category != c.code.Category() {
			t.Errorf("%s: %#v", c.doc, e)
		}
	}
}

func TestFileErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-policy.json")
	_, err := mtls.NewContextFromFile(missing, "")
	var e *mtls.Error
	if !errors.As(err, &e) || e.Code != mtls.CodeFileOpen || e.Category != mtls.CategoryIO {
		t.Fatalf("got %#v, want FILE_OPEN", err)
	}
	if !strings.Contains(e.Message, missing) || e.Line != -1 {
		t.Errorf("message %q should name the file", e.Message)
	}
	// A directory opens but does not read.
	_, err = mtls.NewContextFromFile(t.TempDir(), "")
	if !errors.As(err, &e) || (e.Code != mtls.CodeFileRead && e.Code != mtls.CodeFileOpen) {
		t.Errorf("directory: got %#v", err)
	}
	// A readable file works, and the server argument reaches libmtls.
	dir := t.TempDir()
	p := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(p, []byte(`{"mode":"require"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, err := mtls.NewContextFromFile(p, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx.Close()
	_, err = mtls.NewContextFromFile(p, "srv0")
	if !errors.As(err, &e) || e.Code != mtls.CodeInvalidArgument {
		t.Errorf("server name with a bare policy: got %v", err)
	}
}

// A whole Caddy config with two servers: the server name picks the policies.
func TestServerName(t *testing.T) {
	doc := []byte(`{"apps":{"http":{"servers":{
	  "a":{"listen":[":1"],"tls_connection_policies":[{"client_authentication":{"mode":"request"}}]},
	  "b":{"listen":[":2"],"tls_connection_policies":[
	    {"match":{"sni":["x.test"]},"client_authentication":{"mode":"require"}},
	    {"client_authentication":{"mode":"request"}}]}}}}}`)
	_, err := mtls.NewContextFromJSON(doc, "")
	var e *mtls.Error
	if !errors.As(err, &e) || e.Code != mtls.CodeAmbiguousServer {
		t.Errorf("no server name: got %v, want AMBIGUOUS_SERVER", err)
	}
	if _, err = mtls.NewContextFromJSON(doc, "zzz"); !errors.As(err, &e) ||
		e.Code != mtls.CodeUnknownServer {
		t.Errorf("unknown server: got %v", err)
	}
	ctx, err := mtls.NewContextFromJSON(doc, "b")
	if err != nil {
		t.Fatal(err)
	}
	defer ctx.Close()
	if ctx.NumPolicies() != 2 {
		t.Errorf("NumPolicies = %d", ctx.NumPolicies())
	}
	if m, err := ctx.PolicyMode(0); err != nil || m != mtls.ModeRequire || m.String() != "require" {
		t.Errorf("PolicyMode(0) = %v, %v", m, err)
	}
	if _, err := ctx.PolicyMode(2); err == nil {
		t.Error("PolicyMode(2) should fail")
	}
}

func TestPolicyField(t *testing.T) {
	ctx := newCtx(t, []byte(`[{"alpn":["h2","http/1.1"],"client_authentication":{"mode":"request"}}]`))
	if v, ok := ctx.PolicyField(0, "alpn"); !ok || v != `["h2","http/1.1"]` {
		t.Errorf("alpn = %q, %v", v, ok)
	}
	if _, ok := ctx.PolicyField(0, "protocol_min"); ok {
		t.Error("protocol_min is not set")
	}
	if _, ok := ctx.PolicyField(1, "alpn"); ok {
		t.Error("policy 1 does not exist")
	}
	// An empty document is a syntax error, not a crash.
	var e *mtls.Error
	if _, err := mtls.NewContextFromJSON(nil, ""); !errors.As(err, &e) ||
		e.Category != mtls.CategoryPolicy {
		t.Errorf("empty document: %v", err)
	}
}

func TestSelect(t *testing.T) {
	ctx := newCtx(t, []byte(`[
	  {"match":{"sni":["a.test"]},"client_authentication":{"mode":"require"}},
	  {"match":{"remote_ip":{"ranges":["10.0.0.0/8"]}},"client_authentication":{"mode":"request"}},
	  {"match":{"sni":["b.test"]},"client_authentication":{"mode":"request"}}
	]`))
	for _, c := range []struct {
		sni, remote string
		want        int
	}{
		{"a.test", "", 0}, {"A.TEST", "192.0.2.1", 0}, {"", "10.1.2.3", 1},
		{"other.test", "10.0.0.1", 1},
	} {
		got, err := ctx.Select(c.sni, c.remote, "")
		if err != nil || got != c.want {
			t.Errorf("Select(%q, %q) = %d, %v; want %d", c.sni, c.remote, got, err, c.want)
		}
	}
	_, err := ctx.Select("none.test", "192.0.2.1", "127.0.0.1")
	var e *mtls.Error
	if !errors.As(err, &e) || e.Code != mtls.CodeNoMatchingPolicy {
		t.Errorf("no match: got %v", err)
	}
	if _, err := ctx.Select("", "not-an-ip", ""); err == nil {
		t.Log("a bad IP text just does not match") // either way: no crash
	}
}

// Select and Describe from many goroutines at once (run under -race by run-tests.sh race).
func TestParallelSelect(t *testing.T) {
	ctx := newCtx(t, []byte(`[
	  {"match":{"sni":["a.test"]},"client_authentication":{"mode":"require"}},
	  {"match":{"remote_ip":{"ranges":["10.0.0.0/8"]}},"client_authentication":{"mode":"request"}}
	]`))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				sni, remote, want := "a.test", "", 0
				if (i+w)%2 == 1 {
					sni, remote, want = "x.test", "10.0.0.1", 1
				}
				got, err := ctx.Select(sni, remote, "")
				if err != nil || got != want {
					errs <- fmt.Errorf("Select(%q, %q) = %d, %v", sni, remote, got, err)
					return
				}
				if i%100 == 0 {
					if _, err := ctx.Describe(); err != nil {
						errs <- err
						return
					}
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestDescribe(t *testing.T) {
	pki := pkiDir(t)
	ctx := newCtx(t, policyJSON(t, "require_and_verify", filepath.Join(pki, "root-ca.pem")))
	d, err := ctx.Describe()
	if err != nil {
		t.Fatal(err)
	}
	pols, ok := d["policies"].([]interface{})
	if !ok || len(pols) != 1 {
		t.Fatalf("describe: %v", d)
	}
	p := pols[0].(map[string]interface{})
	if p["mode"] != "require_and_verify" || p["mode_explicit"] != true {
		t.Errorf("policy: %v", p)
	}
	anchors, _ := p["trust_anchors"].([]interface{})
	if len(anchors) != 1 {
		t.Fatalf("anchors: %v", p["trust_anchors"])
	}
	a := anchors[0].(map[string]interface{})
	root, err := mtls.InspectPEM(readFile(t, filepath.Join(pki, "root-ca.pem")))
	if err != nil {
		t.Fatal(err)
	}
	if a["subject"] != root.Subject || a["sha256"] != root.Fingerprint || a["self_signed"] != true {
		t.Errorf("anchor %v, want subject %q sha256 %s", a, root.Subject, root.Fingerprint)
	}
	text, err := ctx.DescribeJSON()
	if err != nil || !strings.HasPrefix(string(text), "{") {
		t.Errorf("DescribeJSON: %q %v", text, err)
	}
}

func TestInspect(t *testing.T) {
	pki := pkiDir(t)
	pemText := readFile(t, filepath.Join(pki, "san.pem"))
	id, err := mtls.InspectPEM(pemText)
	if err != nil {
		t.Fatal(err)
	}
	if id.Subject != "CN=alice,O=Example Org" || !strings.HasPrefix(id.Issuer, "CN=") {
		t.Errorf("subject %q issuer %q", id.Subject, id.Issuer)
	}
	if strings.Join(id.DNSNames, " ") != "alice.example.org www.alice.example.org" ||
		len(id.Emails) != 1 || len(id.IPs) != 3 || len(id.URIs) != 1 ||
		id.SPIFFEID != id.URIs[0] {
		t.Errorf("SANs %q %q %q %q spiffe %q", id.DNSNames, id.Emails, id.IPs, id.URIs,
			id.SPIFFEID)
	}
	if id.NotBefore.IsZero() || !id.NotAfter.After(id.NotBefore) {
		t.Errorf("validity %v .. %v", id.NotBefore, id.NotAfter)
	}
	if v, _ := id.Get("http.request.tls.client.san.dns_names"); v != "[alice.example.org www.alice.example.org]" {
		t.Errorf("dns_names list = %q", v)
	}
	if string(id.Bytes("http.request.tls.client.subject")) != id.Subject ||
		id.Bytes("no.such") != nil {
		t.Error("Bytes")
	}
	// The same through DER, and the fingerprint matches the DER.
	der := readFile(t, filepath.Join(pki, "san.der"))
	id2, err := mtls.InspectDER(der)
	if err != nil || id2.Fingerprint != id.Fingerprint || len(id.Fingerprint) != 64 {
		t.Errorf("DER: %v %v", id2, err)
	}
	// Expired or untrusted: inspect does not care.
	if _, err := mtls.InspectPEM(readFile(t, filepath.Join(pki, "expired.pem"))); err != nil {
		t.Errorf("expired: %v", err)
	}
	// Garbage is refused by the parser, with the parse error's code.
	_, err = mtls.InspectDER([]byte("not a certificate"))
	var e *mtls.Error
	if !errors.As(err, &e) || e.Code != mtls.CodeCertParse {
		t.Errorf("garbage: got %v", err)
	}
	if _, err := mtls.InspectPEM([]byte("no pem here")); !errors.As(err, &e) ||
		e.Code != mtls.CodePEMNoCertificate {
		t.Errorf("no PEM: got %v", err)
	}
	// A control byte in a DN comes through raw (the Go string holds the exact bytes).
	lf, err := mtls.InspectPEM(readFile(t, filepath.Join(pki, "dn-ctl-lf.pem")))
	if err != nil || !strings.Contains(lf.Subject, "\n") {
		t.Errorf("dn-ctl-lf subject %q, %v", lf.Subject, err)
	}
}

func TestPEMForms(t *testing.T) {
	pki := pkiDir(t)
	chainPEM := readFile(t, filepath.Join(pki, "via-int-sent.chain.pem"))
	chain, err := mtls.DecodePEM(chainPEM)
	if err != nil || len(chain) != 2 {
		t.Fatalf("DecodePEM: %d certs, %v", len(chain), err)
	}
	// Other block types are skipped.
	key := readFile(t, filepath.Join(pki, "via-int.key.pem"))
	withKey, err := mtls.DecodePEM(append(append([]byte{}, key...), chainPEM...))
	if err != nil || len(withKey) != 2 {
		t.Errorf("with a key block: %d, %v", len(withKey), err)
	}
	var e *mtls.Error
	bad := []byte("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n")
	if _, err := mtls.DecodePEM(append(bad, chainPEM...)); !errors.As(err, &e) ||
		e.Code != mtls.CodePEMMalformed {
		t.Errorf("malformed block: got %v", err)
	}
}

// Every case of the PKI manifest (tests/pki/mkpki.sh) at the current time.
func TestPKIManifest(t *testing.T) {
	pki := pkiDir(t)
	f, err := os.Open(filepath.Join(pki, "manifest.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	reasons := map[string]mtls.Code{"-": mtls.CodeOK, "expired": mtls.CodeCertExpired,
		"not_yet_valid": mtls.CodeCertNotYetValid, "unknown_issuer": mtls.CodeUnknownIssuer,
		"wrong_eku": mtls.CodeWrongEKU, "issuer_not_ca": mtls.CodeIssuerNotCA,
		"bad_signature": mtls.CodeBadSignature, "insecure_algorithm": mtls.CodeInsecureAlgorithm}
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) != 7 || cols[0] == "name" {
			continue
		}
		name, chainFile, trust, expect, reason := cols[0], cols[3], cols[4], cols[5], cols[6]
		want, known := reasons[reason]
		if !known {
			t.Errorf("%s: unknown reason word %q", name, reason)
			continue
		}
		ctx := newCtx(t, policyJSON(t, "require_and_verify", filepath.Join(pki, trust)))
		r, err := ctx.VerifyPEM(readFile(t, filepath.Join(pki, chainFile)), time.Time{}, 0)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if r.Accepted != (expect == "accept") || r.ReasonCode != want {
			t.Errorf("%s: accepted %v reason %s (%s), want %s %s", name, r.Accepted, r.Reason,
				r.Message, expect, want.Name())
		}
		if r.Accepted && (!r.Verified || len(r.Chain) < 1 || r.ErrorDepth != -1 ||
			r.Subject == "") {
			t.Errorf("%s: accepted but %+v", name, r)
		}
		n++
	}
	if n < 20 {
		t.Errorf("only %d manifest cases", n)
	}
}

func TestVerifyArguments(t *testing.T) {
	ctx := newCtx(t, []byte(`{"mode":"require"}`))
	var e *mtls.Error
	if _, err := ctx.Verify(nil, time.Time{}, 1); !errors.As(err, &e) ||
		e.Code != mtls.CodeInvalidArgument {
		t.Errorf("index 1: got %v", err)
	}
	if _, err := ctx.Verify(nil, time.Time{}, -1); !errors.As(err, &e) {
		t.Errorf("index -1: got %v", err)
	}
	// No certificate under require: a refusal, not an error.
	r, err := ctx.Verify(nil, time.Time{}, 0)
	if err != nil || r.Accepted || r.ReasonCode != mtls.CodeNoCertificate || r.HasCertificate {
		t.Fatalf("no cert: %+v %v", r, err)
	}
	if !errors.Is(r.Err(), &mtls.Error{Code: mtls.CodeNoCertificate}) ||
		r.Category != mtls.CategoryDenied || r.Mode != mtls.ModeRequire {
		t.Errorf("no cert: %v", r.Err())
	}
	if r.Subject != "" || !r.NotBefore.IsZero() || len(r.Presented) != 0 {
		t.Errorf("no cert identity: %+v", r.Identity)
	}
	// An empty certificate and a garbage one are verdicts too.
	for _, chain := range [][][]byte{{{}}, {[]byte("junk")}, {[]byte("junk"), {}, []byte("x")}} {
		r, err := ctx.Verify(chain, time.Time{}, 0)
		if err != nil || r.Accepted || r.ReasonCode != mtls.CodeCertParse {
			t.Errorf("%q: %+v %v", chain, r, err)
		}
	}
}

func TestSettersAndClose(t *testing.T) {
	pki := pkiDir(t)
	ctx, err := mtls.NewContextFromJSON(policyJSON(t, "require_and_verify",
		filepath.Join(pki, "server-ca.pem")), "")
	if err != nil {
		t.Fatal(err)
	}
	chain := readFile(t, filepath.Join(pki, "server-as-client.chain.pem"))
	r, err := ctx.VerifyPEM(chain, time.Time{}, 0)
	if err != nil || r.ReasonCode != mtls.CodeWrongEKU || r.ErrorDepth != 0 {
		t.Fatalf("server cert as client: %+v %v", r, err)
	}
	if err := ctx.SetPurpose(mtls.PurposeServer); err != nil {
		t.Fatal(err)
	}
	if r, err = ctx.VerifyPEM(chain, time.Time{}, 0); err != nil || !r.Accepted {
		t.Errorf("with PurposeServer: %+v %v", r, err)
	}
	var e *mtls.Error
	if err := ctx.SetPurpose(7); !errors.As(err, &e) || e.Code != mtls.CodeInvalidArgument {
		t.Errorf("SetPurpose(7): %v", err)
	}
	if err := ctx.SetMaxDepth(mtls.MaxDepthLimit + 1); err == nil {
		t.Error("SetMaxDepth over the limit")
	}
	if err := ctx.SetMaxDepth(0); err != nil {
		t.Error(err)
	}
	ctx.Close()
	ctx.Close()
	if _, err := ctx.VerifyPEM(chain, time.Time{}, 0); !errors.As(err, &e) ||
		e.Code != mtls.CodeInvalidArgument {
		t.Errorf("after Close: %v", err)
	}
	if _, err := ctx.Select("", "", ""); err == nil || ctx.NumPolicies() != 0 {
		t.Error("Select after Close")
	}
	if err := ctx.SetMaxDepth(1); err == nil {
		t.Error("SetMaxDepth after Close")
	}
}

func TestMaxDepth(t *testing.T) {
	pki := pkiDir(t)
	ctx := newCtx(t, policyJSON(t, "require_and_verify", filepath.Join(pki, "long-root.pem")))
	chain := readFile(t, filepath.Join(pki, "long-chain.chain.pem"))
	r, err := ctx.VerifyPEM(chain, time.Time{}, 0)
	if err != nil || !r.Accepted {
		t.Fatalf("long chain: %+v %v", r, err)
	}
	if err := ctx.SetMaxDepth(0); err != nil {
		t.Fatal(err)
	}
	r, err = ctx.VerifyPEM(chain, time.Time{}, 0)
	if err != nil || r.Accepted || r.ReasonCode != mtls.CodeChainTooLong {
		t.Errorf("max depth 0: %s %v", r.Reason, err)
	}
}

// Close racing with verifies: no crash, every call either verifies or reports the Close.
func TestCloseWhileVerifying(t *testing.T) {
	pki := pkiDir(t)
	chain := readFile(t, filepath.Join(pki, "basic.chain.pem"))
	ctx, err := mtls.NewContextFromJSON(policyJSON(t, "require_and_verify",
		filepath.Join(pki, "root-ca.pem")), "")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				r, err := ctx.VerifyPEM(chain, time.Time{}, 0)
				if err != nil {
					return // closed
				}
				if !r.Accepted {
					t.Errorf("basic refused: %s", r.Message)
					return
				}
			}
		}()
	}
	time.Sleep(5 * time.Millisecond)
	ctx.Close()
	wg.Wait()
}
