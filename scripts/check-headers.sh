#!/usr/bin/env bash
# check-headers.sh SRC_INCLUDE GEN_INCLUDE BORINGSSL_INCLUDE: each public header compiles on
# its own as C11 and as C++ (extern "C").
set -euo pipefail
src=$1 gen=$2 bssl=$3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
n=0
for h in "$src"/mtls/*.h; do
    name=mtls/$(basename "$h")
    printf '#include <%s>\nint main(void) { return 0; }\n' "$name" > "$tmp/t.c"
    cc -std=c11 -Wall -Wextra -Wpedantic -Werror -I"$src" -I"$gen" -isystem "$bssl" -fsyntax-only "$tmp/t.c"
    cp "$tmp/t.c" "$tmp/t.cc"
    c++ -std=c++14 -Wall -Wextra -Werror -I"$src" -I"$gen" -isystem "$bssl" -fsyntax-only "$tmp/t.cc"
    n=$((n + 1))
done
echo "headers: $n public headers compile alone as C11 and C++14"
