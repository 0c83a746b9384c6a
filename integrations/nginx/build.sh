#!/usr/bin/env bash
# integrations/nginx/build.sh [LIBMTLS_BUILD_DIR] - build ngx_http_mtls_module.so for Debian's
# nginx (1.22) against the OpenSSL build of libmtls.
#
#   LIBMTLS_BUILD_DIR  a meson build directory of libmtls configured with
#                      -Dtls_backend=openssl (default: build-openssl in the source tree, as scripts/test.sh makes it, or $MTLS_BUILD_DIR).
#                      Its libmtls/libmtls.so is linked, with an rpath to that directory.
#                      Alternatively set MTLS_PREFIX to an installed libmtls (PREFIX/include,
#                      PREFIX/lib*/libmtls.so): the rpath then points there.
#   Output:            $OUT/ngx_http_mtls_module.so (OUT defaults to LIBMTLS_BUILD_DIR/nginx-module,
#                      or ./nginx-module-build with MTLS_PREFIX); the last line printed is its path.
#
# Needs Debian's nginx-dev (apt-get install nginx-dev): it ships nginx's configure scripts and
# headers in /usr/share/nginx/src and the configure flags Debian built nginx with
# (/usr/share/nginx/src/conf_flags). The module is configured the way Debian builds its own
# libnginx-mod-* packages (dh_nginx): same flags plus --with-compat, so `load_module` accepts it.
# The source tree is copied into the output directory (configure writes a Makefile next to it).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
NGX_SRC=${NGX_SRC:-/usr/share/nginx/src}

die() { echo "build.sh: $*" >&2; exit 1; }

[ -f "$NGX_SRC/conf_flags" ] && [ -x "$NGX_SRC/configure" ] ||
    die "nginx-dev is not installed ($NGX_SRC/conf_flags missing): apt-get install nginx-dev"
command -v nginx >/dev/null || die "nginx is not installed"

if [ -n "${MTLS_PREFIX:-}" ]; then
    libdir=""
    for d in "$MTLS_PREFIX/lib" "$MTLS_PREFIX/lib64" "$MTLS_PREFIX"/lib/*-linux-gnu; do
        [ -e "$d/libmtls.so" ] && libdir=$d && break
    done
    [ -n "$libdir" ] || die "no libmtls.so under $MTLS_PREFIX/lib*"
    incs="$MTLS_PREFIX/include"
    OUT=${OUT:-$PWD/nginx-module-build}
else
    BUILD=${1:-${MTLS_BUILD_DIR:-$TOP/build-openssl}}
    [ -d "$BUILD" ] || die "no libmtls build directory $BUILD (meson setup $BUILD $TOP -Dtls_backend=openssl)"
    BUILD=$(cd "$BUILD" && pwd)
    libdir=$BUILD/libmtls
    [ -e "$libdir/libmtls.so" ] || die "$libdir/libmtls.so not built (ninja -C $BUILD)"
    [ -f "$BUILD/libmtls/include/mtls/version.h" ] || die "$BUILD/libmtls/include/mtls/version.h missing"
    incs="$TOP/libmtls/include $BUILD/libmtls/include"
    OUT=${OUT:-$BUILD/nginx-module}
fi

# libmtls must run on the OpenSSL that nginx runs on (DESIGN.md section 4).
deps=$(ldd "$libdir/libmtls.so")
if grep -q 'android\|boringssl' <<< "$deps"; then
    die "$libdir/libmtls.so is the BoringSSL build; nginx needs -Dtls_backend=openssl"
fi
if ! grep -q 'libssl\.so\.3' <<< "$deps"; then
    echo "build.sh: warning: $libdir/libmtls.so does not link libssl.so.3" >&2
fi

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
rm -rf "$OUT/src-tree" "$OUT/objs"
cp -a "$NGX_SRC" "$OUT/src-tree"

export MTLS_NGX_INCS="$incs"
export MTLS_NGX_LIBS="-L$libdir -lmtls -Wl,-rpath,$libdir"

cflags="$(dpkg-buildflags --get CFLAGS 2>/dev/null || echo -O2 -g) -fPIC $(dpkg-buildflags --get CPPFLAGS 2>/dev/null || true)"
ldflags="$(dpkg-buildflags --get LDFLAGS 2>/dev/null || true) -fPIC"

(
    cd "$OUT/src-tree"
    # shellcheck disable=SC1091
    . ./conf_flags
    ./configure --with-cc-opt="$cflags" --with-ld-opt="$ldflags" "${NGX_CONF_FLAGS[@]}" \
        --add-dynamic-module="$HERE" --builddir="$OUT/objs" > "$OUT/configure.log" 2>&1 ||
        { tail -30 "$OUT/configure.log" >&2; die "nginx configure failed (log: $OUT/configure.log)"; }
    make -f "$OUT/objs/Makefile" -j"${JOBS:-2}" modules > "$OUT/make.log" 2>&1 ||
        { tail -40 "$OUT/make.log" >&2; die "make modules failed (log: $OUT/make.log)"; }
)

cp "$OUT/objs/ngx_http_mtls_module.so" "$OUT/ngx_http_mtls_module.so"
echo "$OUT/ngx_http_mtls_module.so"
