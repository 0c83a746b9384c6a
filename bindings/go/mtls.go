// Package mtls is the Go binding of libmtls: Caddy-compatible TLS client authentication.
// A Context holds a Caddy policy set (client_authentication, tls_connection_policies or a
// whole Caddy config); Verify judges a client certificate chain exactly as Caddy (and
// mtls-proxy) would and returns the verdict and the identity placeholders, byte for byte.
//
// Thread-safety: a Context may be used by any number of goroutines at once (Verify, Select,
// Describe, ...). SetPurpose and SetMaxDepth change it: call them before sharing it.
// Close waits for calls in flight; calls after Close return an error.
//
// Memory: a Context owns a C object. Close it when done (defer ctx.Close()); a finalizer
// frees it if it becomes unreachable unclosed. Results are plain Go values (the C verdict is
// copied out and freed before Verify returns).
package mtls

// #include <stdlib.h>
// #include "gomtls.h"
import "C"

import (
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// Mode is a client authentication mode, as Caddy names them (mtls_mode).
type Mode int

// The modes of mtls.h.
const (
	ModeOff              Mode = C.MTLS_MODE_OFF
	ModeRequest          Mode = C.MTLS_MODE_REQUEST
	ModeRequire          Mode = C.MTLS_MODE_REQUIRE
	ModeVerifyIfGiven    Mode = C.MTLS_MODE_VERIFY_IF_GIVEN
	ModeRequireAndVerify Mode = C.MTLS_MODE_REQUIRE_AND_VERIFY
)

var modeNames = [...]string{"off", "request", "require", "verify_if_given",
	"require_and_verify"}

// String returns Caddy's name of the mode ("require_and_verify", ...).
func (m Mode) String() string {
	if m >= 0 && int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Purpose is what a verified chain must be good for (mtls_purpose).
type Purpose int

// The purposes of mtls.h.
const (
	PurposeClient Purpose = C.MTLS_PURPOSE_CLIENT // clientAuth, what Caddy checks (default)
	PurposeServer Purpose = C.MTLS_PURPOSE_SERVER // serverAuth, for test suites of server certs
)

// DefaultMaxDepth and MaxDepthLimit bound SetMaxDepth.
const (
	DefaultMaxDepth = C.MTLS_DEFAULT_MAX_DEPTH
	MaxDepthLimit   = C.MTLS_MAX_DEPTH_LIMIT
)

// Version returns the runtime version of libmtls, e.g. "0.1.0".
func Version() string { return C.GoString(C.mtls_version()) }

// TLSLibrary returns what the TLS library that libmtls's calls actually reach reports about
// itself: "BoringSSL" for the default build, "OpenSSL 3.x.y ..." for the OpenSSL build. (A
// Go program holds no OpenSSL of its own, so libmtls binds to the library it was linked
// with.)
func TLSLibrary() string { return C.GoString(C.mtls_tls_library()) }

// Placeholders returns every placeholder name libmtls knows (mtls_placeholder_name),
// without the `.N` index forms of the SAN lists.
func Placeholders() []string {
	n := int(C.mtls_placeholder_count())
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		if p := C.mtls_placeholder_name(C.size_t(i)); p != nil {
			out = append(out, C.GoString(p))
		}
	}
	return out
}

// Context is a loaded policy set (an mtls_ctx).
type Context struct {
	mu  sync.RWMutex // readers: calls on ptr; writer: Close and the setters
	ptr *C.mtls_ctx
}

func wrap(p *C.mtls_ctx) *Context {
	c := &Context{ptr: p}
	runtime.SetFinalizer(c, (*Context).Close)
	return c
}

func cstringOrNil(s string) *C.char {
	if s == "" {
		return nil
	}
	return C.CString(s)
}

// NewContextFromJSON loads a policy set from a JSON document: a bare Caddy
// client_authentication object, a tls_connection_policies array, or a whole Caddy config
// whose server `server` ("srv0", ...) holds the policies ("" when there is at most one such
// server, and for the other shapes). Relative file paths inside resolve against the current
// directory. Errors are *Error (JSON syntax errors carry Line and Column).
func NewContextFromJSON(doc []byte, server string) (*Context, error) {
	var cerr C.mtls_error
	csrv := cstringOrNil(server)
	defer C.free(unsafe.Pointer(csrv))
	// A NUL-free copy is not needed: the length is passed. C.CBytes keeps Go memory out of C.
	buf := C.CBytes(doc)
	defer C.free(buf)
	p := C.mtls_ctx_new_from_json((*C.char)(buf), C.size_t(len(doc)), csrv, &cerr)
	if p == nil {
		return nil, newError(&cerr)
	}
	return wrap(p), nil
}

// NewContextFromFile is NewContextFromJSON on the contents of the file at `path`
// (errors: CodeFileOpen / CodeFileRead naming the path, besides the policy errors).
func NewContextFromFile(path, server string) (*Context, error) {
	var cerr C.mtls_error
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	csrv := cstringOrNil(server)
	defer C.free(unsafe.Pointer(csrv))
	p := C.mtls_ctx_new_from_file(cpath, csrv, &cerr)
	if p == nil {
		return nil, newError(&cerr)
	}
	return wrap(p), nil
}

// Close frees the policy set. It waits for calls in flight; later calls return an
// *Error with CodeInvalidArgument. Closing twice is harmless.
func (c *Context) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ptr != nil {
		C.mtls_ctx_free(c.ptr)
		c.ptr = nil
		runtime.SetFinalizer(c, nil)
	}
	return nil
}

// acquire read-locks c for a call on its C object; release with c.mu.RUnlock.
func (c *Context) acquire() (*C.mtls_ctx, error) {
	c.mu.RLock()
	if c.ptr == nil {
		c.mu.RUnlock()
		return nil, usageError(CodeInvalidArgument, "mtls.Context used after Close")
	}
	return c.ptr, nil
}

// NumPolicies returns how many connection policies the set holds (0 after Close).
func (c *Context) NumPolicies() int {
	p, err := c.acquire()
	if err != nil {
		return 0
	}
	defer c.mu.RUnlock()
	return int(C.mtls_ctx_num_policies(p))
}

// PolicyMode returns the effective mode of policy `index` (after Caddy's defaults).
func (c *Context) PolicyMode(index int) (Mode, error) {
	p, err := c.acquire()
	if err != nil {
		return 0, err
	}
	defer c.mu.RUnlock()
	if index < 0 {
		return 0, usageError(CodeInvalidArgument, "policy index %d out of range", index)
	}
	m := C.mtls_ctx_policy_mode(p, C.size_t(index))
	if m < 0 {
		return 0, usageError(CodeInvalidArgument, "policy index %d out of range", index)
	}
	return Mode(m), nil
}

// PolicyField returns the JSON text of connection-policy field `name` of policy `index`
// ("alpn", "protocol_min", ...; see mtls_ctx_policy_field), and whether the policy sets it.
func (c *Context) PolicyField(index int, name string) (string, bool) {
	if index < 0 {
		return "", false
	}
	p, err := c.acquire()
	if err != nil {
		return "", false
	}
	defer c.mu.RUnlock()
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	v := C.mtls_ctx_policy_field(p, C.size_t(index), cname)
	if v == nil {
		return "", false
	}
	return C.GoString(v), true
}

// SetPurpose sets the extended key usage verification requires (PurposeClient by default).
// Call it before sharing the Context.
func (c *Context) SetPurpose(p Purpose) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var cerr C.mtls_error
	if C.mtls_ctx_set_purpose(c.ptr, C.int(p), &cerr) != C.MTLS_OK {
		return newError(&cerr)
	}
	return nil
}

// SetMaxDepth bounds the number of intermediate CAs of an accepted path (0..MaxDepthLimit,
// default DefaultMaxDepth). Call it before sharing the Context.
func (c *Context) SetMaxDepth(n int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n < 0 || n > MaxDepthLimit {
		return usageError(CodeInvalidArgument, "max depth %d not in 0..%d", n, MaxDepthLimit)
	}
	var cerr C.mtls_error
	if C.mtls_ctx_set_max_depth(c.ptr, C.int(n), &cerr) != C.MTLS_OK {
		return newError(&cerr)
	}
	return nil
}

// Select picks the connection policy for a connection: the first whose matchers all match
// (Caddy's rule). `sni` is the TLS server name ("" if none), `remoteIP`/`localIP` textual
// addresses ("" when unknown: an IP matcher then does not match). No matching policy gives
// an *Error with CodeNoMatchingPolicy.
func (c *Context) Select(sni, remoteIP, localIP string) (int, error) {
	p, err := c.acquire()
	if err != nil {
		return 0, err
	}
	defer c.mu.RUnlock()
	csni, cr, cl := cstringOrNil(sni), cstringOrNil(remoteIP), cstringOrNil(localIP)
	defer C.free(unsafe.Pointer(csni))
	defer C.free(unsafe.Pointer(cr))
	defer C.free(unsafe.Pointer(cl))
	var idx C.size_t
	var cerr C.mtls_error
	if C.mtls_ctx_select(p, csni, cr, cl, &idx, &cerr) != C.MTLS_OK {
		return 0, newError(&cerr)
	}
	return int(idx), nil
}

// DescribeJSON returns the effective policy set as JSON text (mtls_ctx_describe_json).
func (c *Context) DescribeJSON() ([]byte, error) {
	p, err := c.acquire()
	if err != nil {
		return nil, err
	}
	defer c.mu.RUnlock()
	var out *C.char
	var n C.size_t
	var cerr C.mtls_error
	if C.mtls_ctx_describe_json(p, &out, &n, &cerr) != C.MTLS_OK {
		return nil, newError(&cerr)
	}
	defer C.mtls_free(unsafe.Pointer(out))
	return C.GoBytes(unsafe.Pointer(out), C.int(n)), nil
}

// Describe returns the effective policy set, parsed: {"policies": [{"index", "match",
// "mode", "mode_explicit", "system_roots", "trust_anchors", "leaf_pins", "fields"}, ...]}.
func (c *Context) Describe() (map[string]interface{}, error) {
	text, err := c.DescribeJSON()
	if err != nil {
		return nil, err
	}
	var v map[string]interface{}
	if err := json.Unmarshal(text, &v); err != nil {
		return nil, usageError(CodeInternal, "describe: %v", err)
	}
	return v, nil
}

// Unix returns the verification time for `at`: the zero time means now.
func unixAt(at time.Time) C.int64_t {
	if at.IsZero() {
		return C.int64_t(C.MTLS_TIME_NOW)
	}
	return C.int64_t(at.Unix())
}

// Verify judges a client certificate chain (DER certificates as the client sent them, leaf
// first; empty for a client that sent none) under policy `index`, at time `at` (the zero
// time means now). A refused client is not an error: read Result.Accepted and
// Result.Reason. Errors (*Error) are bad arguments (index out of range, closed Context) and
// out-of-memory. Safe for concurrent use.
func (c *Context) Verify(chain [][]byte, at time.Time, index int) (*Result, error) {
	if index < 0 {
		return nil, usageError(CodeInvalidArgument, "policy index %d out of range", index)
	}
	// One contiguous Go buffer plus a lengths array: Go memory holding no Go pointers, as
	// cgo's rules allow; the C side builds the pointer array itself.
	total := 0
	for _, der := range chain {
		total += len(der)
	}
	var buf []byte
	if len(chain) == 1 && total > 0 {
		buf = chain[0]
	} else {
		buf = make([]byte, 0, total+1)
		for _, der := range chain {
			buf = append(buf, der...)
		}
		buf = buf[:total+1] // never empty: &buf[0] exists
	}
	lens := make([]C.size_t, len(chain)+1)
	for i, der := range chain {
		lens[i] = C.size_t(len(der))
	}
	p, err := c.acquire()
	if err != nil {
		return nil, err
	}
	defer c.mu.RUnlock()
	var r C.gomtls_result
	var cerr C.mtls_error
	rc := C.gomtls_verify(p, C.size_t(index), (*C.uint8_t)(unsafe.Pointer(&buf[0])),
		&lens[0], C.size_t(len(chain)), unixAt(at), &r, &cerr)
	defer C.gomtls_result_free(&r)
	if rc != C.MTLS_OK {
		return nil, newError(&cerr)
	}
	return newResult(&r), nil
}

// VerifyDER is Verify on a chain of one DER certificate.
func (c *Context) VerifyDER(der []byte, at time.Time, index int) (*Result, error) {
	return c.Verify([][]byte{der}, at, index)
}

// VerifyPEM is Verify on the CERTIFICATE blocks of PEM text (leaf first). Other block types
// are skipped; text without any CERTIFICATE block gives CodePEMNoCertificate, a block that
// does not decode CodePEMMalformed.
func (c *Context) VerifyPEM(pemText []byte, at time.Time, index int) (*Result, error) {
	chain, err := DecodePEM(pemText)
	if err != nil {
		return nil, err
	}
	return c.Verify(chain, at, index)
}

var (
	inspectOnce sync.Once
	inspectCtx  *Context
	inspectErr  error
)

// Inspect returns the identity of a certificate chain's leaf without verifying anything
// (a {"mode":"require"} policy, as `mtls inspect` does: every certificate must parse the way
// Go parses it). A certificate Go would refuse gives an *Error (CodeCertParse, ...).
func Inspect(chain [][]byte) (*Identity, error) {
	inspectOnce.Do(func() {
		inspectCtx, inspectErr = NewContextFromJSON([]byte(`{"mode":"require"}`), "")
	})
	if inspectErr != nil {
		return nil, inspectErr
	}
	r, err := inspectCtx.Verify(chain, time.Time{}, 0)
	if err != nil {
		return nil, err
	}
	if !r.Accepted {
		return nil, r.Err()
	}
	return &r.Identity, nil
}

// InspectDER is Inspect on one DER certificate.
func InspectDER(der []byte) (*Identity, error) { return Inspect([][]byte{der}) }

// InspectPEM is Inspect on the CERTIFICATE blocks of PEM text.
func InspectPEM(pemText []byte) (*Identity, error) {
	chain, err := DecodePEM(pemText)
	if err != nil {
		return nil, err
	}
	return Inspect(chain)
}
