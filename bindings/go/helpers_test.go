package mtls_test

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	mtls "libmtls.dev/mtls"
)

// The meson wrapper (run-tests.sh) sets MTLS_PKI_DIR and MTLS_CONFORMANCE, and
// MTLS_GO_REQUIRE ("pki,table") so that a missing one fails instead of skipping.

func required(what string) bool {
	for _, w := range strings.Split(os.Getenv("MTLS_GO_REQUIRE"), ",") {
		if w == what {
			return true
		}
	}
	return false
}

func pkiDir(t testing.TB) string {
	t.Helper()
	d := os.Getenv("MTLS_PKI_DIR")
	if d == "" {
		if required("pki") {
			t.Fatal("MTLS_PKI_DIR is not set")
		}
		t.Skip("MTLS_PKI_DIR is not set (the test PKI of the meson build)")
	}
	return d
}

func pkiFile(t testing.TB, name string) string {
	return filepath.Join(pkiDir(t), name)
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// policyJSON is {"mode": MODE, "trusted_ca_certs_pem_files": [TRUST]}.
func policyJSON(t testing.TB, mode, trust string) []byte {
	t.Helper()
	doc, err := json.Marshal(map[string]interface{}{"mode": mode,
		"trusted_ca_certs_pem_files": []string{trust}})
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func newCtx(t testing.TB, doc []byte) *mtls.Context {
	t.Helper()
	ctx, err := mtls.NewContextFromJSON(doc, "")
	if err != nil {
		t.Fatalf("loading %s: %v", doc, err)
	}
	t.Cleanup(func() { ctx.Close() })
	return ctx
}

// The conformance table (bindings/conformance, format 1).
type table struct {
	Format         int         `json:"format"`
	LibraryVersion string      `json:"library_version"`
	TLSLibrary     string      `json:"tls_library"`
	Placeholders   []string    `json:"placeholders"`
	Cases          []tableCase `json:"cases"`
}

type tableCase struct {
	Name        string                     `json:"name"`
	Cert        string                     `json:"cert"`
	Policy      string                     `json:"policy"`
	PolicyIndex int                        `json:"policy_index"`
	ChainDERB64 []string                   `json:"chain_der_b64"`
	ChainPEM    string                     `json:"chain_pem"`
	At          int64                      `json:"at"`
	Select      []tableSelect              `json:"select"`
	Expect      map[string]json.RawMessage `json:"expect"`
}

// tableSelect: mtls_ctx_select(sni, remote_ip, local_ip) must give Index (-1: no policy).
type tableSelect struct {
	SNI      *string `json:"sni"`
	RemoteIP *string `json:"remote_ip"`
	LocalIP  *string `json:"local_ip"`
	Index    int     `json:"index"`
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (c *tableCase) chain(t testing.TB) [][]byte {
	t.Helper()
	out := make([][]byte, 0, len(c.ChainDERB64))
	for _, s := range c.ChainDERB64 {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("%s: chain base64: %v", c.Name, err)
		}
		out = append(out, b)
	}
	return out
}

func loadTable(t testing.TB) *table {
	t.Helper()
	path := os.Getenv("MTLS_CONFORMANCE")
	if path == "" {
		if required("table") {
			t.Fatal("MTLS_CONFORMANCE is not set")
		}
		t.Skip("MTLS_CONFORMANCE is not set (bindings/conformance/conformance.json)")
	}
	var tb table
	if err := json.Unmarshal(readFile(t, path), &tb); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if tb.Format != 1 {
		t.Fatalf("%s: format %d, this test knows 1", path, tb.Format)
	}
	if len(tb.Cases) == 0 {
		t.Fatalf("%s: no cases", path)
	}
	return &tb
}
