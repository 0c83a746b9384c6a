package mtls

// #include <stdlib.h>
// #include <mtls/mtls.h>
import "C"

import (
	"fmt"
)

// Code is a libmtls error code (an MTLS_ERR_* value of mtls.h; CodeOK is 0). A refused
// client's Result.ReasonCode is one too.
type Code int

// The libmtls error codes (mtls/errors.def), taken from the C header at build time.
const (
	CodeOK                  Code = C.MTLS_OK
	CodeInvalidArgument     Code = C.MTLS_ERR_INVALID_ARGUMENT
	CodeUnknownPlaceholder  Code = C.MTLS_ERR_UNKNOWN_PLACEHOLDER
	CodeNotAttached         Code = C.MTLS_ERR_NOT_ATTACHED
	CodeJSONSyntax          Code = C.MTLS_ERR_JSON_SYNTAX
	CodeJSONType            Code = C.MTLS_ERR_JSON_TYPE
	CodeUnknownField        Code = C.MTLS_ERR_UNKNOWN_FIELD
	CodeUnknownMode         Code = C.MTLS_ERR_UNKNOWN_MODE
	CodeUnknownProvider     Code = C.MTLS_ERR_UNKNOWN_PROVIDER
	CodeUnsupportedProvider Code = C.MTLS_ERR_UNSUPPORTED_PROVIDER
	CodeUnknownVerifier     Code = C.MTLS_ERR_UNKNOWN_VERIFIER
	CodeUnknownLoader       Code = C.MTLS_ERR_UNKNOWN_LOADER
	CodeConflictingTrust    Code = C.MTLS_ERR_CONFLICTING_TRUST
	CodeInvalidCIDR         Code = C.MTLS_ERR_INVALID_CIDR
	CodeInvalidValue        Code = C.MTLS_ERR_INVALID_VALUE
	CodeMissingField        Code = C.MTLS_ERR_MISSING_FIELD
	CodeNoTrustForVerify    Code = C.MTLS_ERR_NO_TRUST_FOR_VERIFY
	CodeEmptyTrust          Code = C.MTLS_ERR_EMPTY_TRUST
	CodeTooLarge            Code = C.MTLS_ERR_TOO_LARGE
	CodeNoPolicies          Code = C.MTLS_ERR_NO_POLICIES
	CodeAmbiguousServer     Code = C.MTLS_ERR_AMBIGUOUS_SERVER
	CodeUnknownServer       Code = C.MTLS_ERR_UNKNOWN_SERVER
	CodePEMNoCertificate    Code = C.MTLS_ERR_PEM_NO_CERTIFICATE
	CodePEMWrongType        Code = C.MTLS_ERR_PEM_WRONG_TYPE
	CodePEMMalformed        Code = C.MTLS_ERR_PEM_MALFORMED
	CodeBase64Invalid       Code = C.MTLS_ERR_BASE64_INVALID
	CodeDERInvalid          Code = C.MTLS_ERR_DER_INVALID
	CodeFileOpen            Code = C.MTLS_ERR_FILE_OPEN
	CodeFileRead            Code = C.MTLS_ERR_FILE_READ
	CodeDirOpen             Code = C.MTLS_ERR_DIR_OPEN
	CodeNoMem               Code = C.MTLS_ERR_NOMEM
	CodeInternal            Code = C.MTLS_ERR_INTERNAL
	CodeTLSLibrary          Code = C.MTLS_ERR_TLS_LIBRARY
	CodeNoCertificate       Code = C.MTLS_ERR_NO_CERTIFICATE
	CodeNoMatchingPolicy    Code = C.MTLS_ERR_NO_MATCHING_POLICY
	CodeCertParse           Code = C.MTLS_ERR_CERT_PARSE
	CodeCertExpired         Code = C.MTLS_ERR_CERT_EXPIRED
	CodeCertNotYetValid     Code = C.MTLS_ERR_CERT_NOT_YET_VALID
	CodeUnknownIssuer       Code = C.MTLS_ERR_UNKNOWN_ISSUER
	CodeBadSignature        Code = C.MTLS_ERR_BAD_SIGNATURE
	CodeIssuerNotCA         Code = C.MTLS_ERR_ISSUER_NOT_CA
	CodeWrongEKU            Code = C.MTLS_ERR_WRONG_EKU
	CodeNameConstraints     Code = C.MTLS_ERR_NAME_CONSTRAINTS
	CodePathLength          Code = C.MTLS_ERR_PATH_LENGTH
	CodeChainTooLong        Code = C.MTLS_ERR_CHAIN_TOO_LONG
	CodeInsecureAlgorithm   Code = C.MTLS_ERR_INSECURE_ALGORITHM
	CodeUnhandledCritical   Code = C.MTLS_ERR_UNHANDLED_CRITICAL
	CodeLeafNotPinned       Code = C.MTLS_ERR_LEAF_NOT_PINNED
	CodeRevoked             Code = C.MTLS_ERR_REVOKED
	CodeVerifyFailed        Code = C.MTLS_ERR_VERIFY_FAILED
	CodeHandshakeUnverified Code = C.MTLS_ERR_HANDSHAKE_UNVERIFIED
)

// Name returns the code's name without the MTLS_ERR_ prefix ("CERT_EXPIRED", "OK"), or
// "UNKNOWN" (mtls_error_name).
func (c Code) Name() string { return ErrorName(int(c)) }

// String is Name.
func (c Code) String() string { return c.Name() }

// Category returns the category of the code (mtls_category_of).
func (c Code) Category() Category { return Category(C.mtls_category_of(C.int(c))) }

// Description returns the default message of the code (mtls_strerror).
func (c Code) Description() string { return C.GoString(C.mtls_strerror(C.int(c))) }

// ErrorName is mtls_error_name: the name of error code `code` ("UNKNOWN" if there is none).
func ErrorName(code int) string { return C.GoString(C.mtls_error_name(C.int(code))) }

// Category groups error codes by kind of failure (mtls_category).
type Category int

// The categories of mtls.h.
const (
	CategoryNone     Category = C.MTLS_CATEGORY_NONE
	CategoryUsage    Category = C.MTLS_CATEGORY_USAGE
	CategoryPolicy   Category = C.MTLS_CATEGORY_POLICY
	CategoryTrust    Category = C.MTLS_CATEGORY_TRUST
	CategoryVerify   Category = C.MTLS_CATEGORY_VERIFY
	CategoryDenied   Category = C.MTLS_CATEGORY_DENIED
	CategoryIO       Category = C.MTLS_CATEGORY_IO
	CategoryNoMem    Category = C.MTLS_CATEGORY_NOMEM
	CategoryInternal Category = C.MTLS_CATEGORY_INTERNAL
)

var categoryNames = [...]string{"NONE", "USAGE", "POLICY", "TRUST", "VERIFY", "DENIED", "IO",
	"NOMEM", "INTERNAL"}

func (c Category) String() string {
	if c >= 0 && int(c) < len(categoryNames) {
		return categoryNames[c]
	}
	return fmt.Sprintf("Category(%d)", int(c))
}

// Error is a libmtls error (mtls_error): a policy that does not load, a file that cannot be
// read, a bad argument, or -- from Result.Err -- the reason a client was refused.
type Error struct {
	Code     Code
	Name     string   // mtls_error_name(Code), e.g. "JSON_SYNTAX"
	Category Category // kind of failure
	Message  string   // human sentence naming the field, file or certificate at fault
	Where    string   // libmtls source location that raised it ("" for verdicts)
	Line     int      // 1-based position of a JSON syntax error in a policy, else -1
	Column   int
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("mtls: %s (line %d, column %d): %s", e.Name, e.Line, e.Column,
			e.Message)
	}
	return fmt.Sprintf("mtls: %s: %s", e.Name, e.Message)
}

// Is reports whether target is an *Error with the same Code, so that
// errors.Is(err, &mtls.Error{Code: mtls.CodeFileOpen}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// newError copies a filled mtls_error.
func newError(e *C.mtls_error) *Error {
	code := Code(e.code)
	return &Error{
		Code:     code,
		Name:     code.Name(),
		Category: Category(e.category),
		Message:  C.GoString(&e.message[0]),
		Where:    C.GoString(&e.where[0]),
		Line:     int(e.line),
		Column:   int(e.column),
	}
}

// usageError is an Error raised by the binding itself (not by libmtls).
func usageError(code Code, format string, args ...interface{}) *Error {
	return &Error{Code: code, Name: code.Name(), Category: code.Category(),
		Message: fmt.Sprintf(format, args...), Where: "bindings/go", Line: -1, Column: -1}
}
