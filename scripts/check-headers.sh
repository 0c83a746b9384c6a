#!/usr/bin/env bash
# check-headers.sh SRC_INCLUDE GEN_INCLUDE TLS_INCLUDE [SKIP]: each public header compiles on
# its own as C11 and as C++ (extern "C"), with the build's TLS library headers (TLS_INCLUDE:
# BoringSSL's directory, or "" for the system's OpenSSL). SKIP names the other backend's glue
# header (mtls/openssl.h in a BoringSSL build), which refuses the wrong library by #error.
set -euo pipefail
src=$1 gen=$2 tls=$3 skip=${4:-}
isys=(); [ -n "$tls" ] && isys=(-isystem "$tls")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
n=0
for h in "$src"/mtls/*.h; do
    name=mtls/$(basename "$h")
    [ -n "$skip" ] && [ "$(basename "$h")" = "$skip" ] && continue
    printf '#include <%s>\nint main(void) { return 0; }\n' "$name" > "$tmp/t.c"
    cc -std=c11 -Wall -Wextra -Wpedantic -Werror -I"$src" -I"$gen" "${isys[@]}" -fsyntax-only "$tmp/t.c"
    cp "$tmp/t.c" "$tmp/t.cc"
    c++ -std=c++14 -Wall -Wextra -Werror -I"$src" -I"$gen" "${isys[@]}" -fsyntax-only "$tmp/t.cc"
    n=$((n + 1))
done
echo "headers: $n public headers compile alone as C11 and C++14"
