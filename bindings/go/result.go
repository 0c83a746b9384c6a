package mtls

// #include "gomtls.h"
import "C"

import (
	"bytes"
	"encoding/pem"
	"strconv"
	"time"
	"unsafe"
)

// Placeholder names of the typed Identity fields.
const (
	clientPrefix  = "http.request.tls.client."
	phSubject     = clientPrefix + "subject"
	phIssuer      = clientPrefix + "issuer"
	phSerial      = clientPrefix + "serial"
	phFingerprint = clientPrefix + "fingerprint"
	phSPIFFEID    = clientPrefix + "spiffe_id"
	phNotBefore   = clientPrefix + "not_before"
	phNotAfter    = clientPrefix + "not_after"
)

// Identity is what Caddy's placeholders say about a client: every placeholder that renders,
// under its full name, and the common ones as typed fields.
//
// Values are Go strings holding libmtls's exact bytes (Caddy-identical; not necessarily
// valid UTF-8, and they may contain control bytes such as CR, LF and NUL that Go passes
// through raw from distinguished names): escape them before writing them into headers or
// logs (strconv.Quote). []byte(v) gives the raw bytes; nothing is lost or replaced.
type Identity struct {
	// Placeholders maps every placeholder name that rendered (mtls_placeholder_name, e.g.
	// "http.request.tls.client.subject") plus the `.N` forms of the SAN lists
	// ("http.request.tls.client.san.dns_names.0", ... up to the first empty one) to its value.
	// Connection placeholders (http.request.tls.version, ...) are empty here: they belong to
	// a TLS connection, which Verify has not seen.
	Placeholders map[string]string

	Subject     string // Go's DN string of the leaf's subject ("CN=alice,O=Example")
	Issuer      string
	Serial      string // decimal
	Fingerprint string // SHA-256 of the leaf DER, lowercase hex
	SPIFFEID    string
	DNSNames    []string // SAN lists, in certificate order
	Emails      []string
	IPs         []string
	URIs        []string
	NotBefore   time.Time // zero when there is no certificate
	NotAfter    time.Time
}

// Get returns the value of placeholder `name` and whether it rendered.
func (id *Identity) Get(name string) (string, bool) {
	v, ok := id.Placeholders[name]
	return v, ok
}

// Bytes returns the raw bytes of placeholder `name` (nil if it did not render).
func (id *Identity) Bytes(name string) []byte {
	v, ok := id.Placeholders[name]
	if !ok {
		return nil
	}
	return []byte(v)
}

// Result is the verdict on one client (an mtls_peer, copied out) and its identity.
type Result struct {
	Identity // the leaf's placeholders; empty values when no certificate was sent

	Accepted       bool     // the policy lets this client in
	Verified       bool     // the chain was verified to a trusted CA
	HasCertificate bool     // the client presented a certificate
	Reason         string   // "OK" or why it was refused ("CERT_EXPIRED", ...)
	ReasonCode     Code     // CodeOK or the refusal's code
	Category       Category // ReasonCode.Category()
	Message        string   // human sentence for the verdict (certificate at fault named)
	PolicyIndex    int      // the policy that judged
	Mode           Mode     // its mode
	// ErrorDepth is, for a refusal, the index in Presented of the certificate at fault;
	// -1 when accepted or when no presented certificate is at fault.
	ErrorDepth int
	Presented  [][]byte // DER certificates as the client sent them, leaf first
	Chain      [][]byte // the verified path, leaf to trust anchor (empty unless Verified)
}

// Err returns nil for an accepted client, else an *Error carrying the refusal's code and
// message (Where is empty, Line and Column -1).
func (r *Result) Err() error {
	if r.Accepted {
		return nil
	}
	return &Error{Code: r.ReasonCode, Name: r.Reason, Category: r.Category, Message: r.Message,
		Line: -1, Column: -1}
}

func goBytes(p *C.uint8_t, n C.size_t) []byte {
	if p == nil {
		return nil
	}
	return C.GoBytes(unsafe.Pointer(p), C.int(n))
}

func blobs(b *C.gomtls_blob, n C.size_t) [][]byte {
	out := make([][]byte, 0, int(n))
	if n == 0 {
		return out
	}
	for _, x := range unsafe.Slice(b, int(n)) {
		out = append(out, goBytes(x.data, x.len))
	}
	return out
}

// The SAN list placeholders, in gomtls_entry.list order.
var sanBase = [4]string{clientPrefix + "san.dns_names", clientPrefix + "san.emails",
	clientPrefix + "san.ips", clientPrefix + "san.uris"}

// newResult copies everything out of a filled gomtls_result.
func newResult(r *C.gomtls_result) *Result {
	reason := Code(r.reason)
	res := &Result{
		Accepted:       r.accepted != 0,
		Verified:       r.verified != 0,
		HasCertificate: r.has_certificate != 0,
		Reason:         reason.Name(),
		ReasonCode:     reason,
		Category:       reason.Category(),
		Message:        C.GoString(r.message),
		PolicyIndex:    int(r.policy_index),
		Mode:           Mode(r.mode),
		ErrorDepth:     int(r.error_depth),
		Presented:      blobs(r.presented, r.num_presented),
		Chain:          blobs(r.chain, r.num_chain),
	}
	id := &res.Identity
	id.Placeholders = make(map[string]string, int(r.num_entries))
	var sans [4][]string
	if r.num_entries > 0 {
		for _, e := range unsafe.Slice(r.entries, int(r.num_entries)) {
			v := C.GoStringN(e.value, C.int(e.len))
			if e.name != nil {
				id.Placeholders[C.GoString(e.name)] = v
				continue
			}
			l := int(e.list)
			id.Placeholders[sanBase[l]+"."+strconv.Itoa(int(e.index))] = v
			sans[l] = append(sans[l], v)
		}
	}
	id.fill(sans)
	return res
}

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

func (id *Identity) fill(sans [4][]string) {
	p := id.Placeholders
	id.Subject, id.Issuer, id.Serial = p[phSubject], p[phIssuer], p[phSerial]
	id.Fingerprint, id.SPIFFEID = p[phFingerprint], p[phSPIFFEID]
	id.NotBefore, id.NotAfter = parseTime(p[phNotBefore]), parseTime(p[phNotAfter])
	id.DNSNames, id.Emails, id.IPs, id.URIs = sans[0], sans[1], sans[2], sans[3]
}

// DecodePEM returns the DER bytes of every CERTIFICATE block of PEM text, in order. Other
// block types are skipped. No CERTIFICATE block gives CodePEMNoCertificate; a BEGIN line
// whose block does not decode gives CodePEMMalformed. The DER is not parsed.
func DecodePEM(text []byte) ([][]byte, error) {
	var out [][]byte
	blocks := 0
	for rest := text; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		blocks++
		if b.Type == "CERTIFICATE" {
			out = append(out, b.Bytes)
		}
	}
	// pem.Decode skips a block it cannot decode: count the BEGIN lines to notice.
	begins := bytes.Count(text, []byte("\n-----BEGIN "))
	if bytes.HasPrefix(text, []byte("-----BEGIN ")) {
		begins++
	}
	if blocks < begins {
		return nil, usageError(CodePEMMalformed, "malformed PEM: %d of %d blocks do not decode",
			begins-blocks, begins)
	}
	if len(out) == 0 {
		return nil, usageError(CodePEMNoCertificate, "no CERTIFICATE block in PEM text")
	}
	return out, nil
}
