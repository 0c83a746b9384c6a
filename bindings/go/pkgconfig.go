//go:build !mtls_no_pkgconfig

package mtls

// The compiler and linker flags of an installed libmtls, from its pkg-config file
// (libmtls.pc). Build with -tags mtls_no_pkgconfig to pass them yourself in CGO_CFLAGS and
// CGO_LDFLAGS instead (an uninstalled build tree, as the meson test wrapper does).

// #cgo pkg-config: libmtls
import "C"
