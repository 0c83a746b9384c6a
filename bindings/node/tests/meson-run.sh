#!/usr/bin/env bash
# meson-run.sh MODE - the meson tests of the Node binding (suite 'node').
#   test   node --test tests/*.test.js (conformance table, errors, inspect, select, describe,
#          worker_threads, RTLD_DEEPBIND proof, the example HTTPS server with curl)
#   leak   tests/leak.js: 100k verifies, RSS after warm-up vs at the end (not timed)
#   types  tsc --noEmit on index.d.ts and tests/types-check.ts
# Environment (meson.build sets it): MTLS_LIBRARY, MTLS_CONFORMANCE, MTLS_PKI_DIR,
# MTLS_NODE_WORK (a build directory). The npm dependencies (package-lock.json: koffi, and
# typescript + @types/node for `types`) are installed with `npm ci` into
# $MTLS_NODE_WORK/pkg/node_modules, once per lock file, never into the source tree; the
# tests find them through NODE_PATH. Exit 77 (skipped) without node or npm.
set -euo pipefail
mode=${1:-test}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
for tool in node npm; do
    if ! command -v "$tool" > /dev/null; then
        echo "meson-run: no $tool (Debian packages nodejs, npm): skipped" >&2
        exit 77
    fi
done
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
    echo "meson-run: node $(node --version) is too old (18 or newer)" >&2
    exit 1
fi
: "${MTLS_LIBRARY:?}" "${MTLS_CONFORMANCE:?}" "${MTLS_PKI_DIR:?}" "${MTLS_NODE_WORK:?}"
# A libmtls built with -Db_sanitize=address (scripts/test.sh's third run) cannot be loaded
# here: the sanitizer runtime's dlopen interceptor aborts on RTLD_DEEPBIND (google/sanitizers
# issue 611), and without deep binding libmtls would run on node's OpenSSL. Skipped there;
# the normal build runs these tests.
if [ "$mode" != types ] && ldd "$MTLS_LIBRARY" 2> /dev/null | grep -Eq 'lib(asan|tsan|msan)\.so'; then
    echo "meson-run: $MTLS_LIBRARY is built with a sanitizer, which refuses RTLD_DEEPBIND: skipped" >&2
    exit 77
fi

pkg=$MTLS_NODE_WORK/pkg
mkdir -p "$pkg"

# npm ci once per package-lock.json; the tests of this suite start at once: one at a time.
(
    flock 9
    if ! cmp -s "$src/package-lock.json" "$pkg/package-lock.json" ||
       [ ! -f "$pkg/node_modules/.package-lock.json" ]; then
        cp "$src/package.json" "$src/package-lock.json" "$pkg/"
        rm -rf "$pkg/node_modules"
        # The cache stays in the build directory (HOME may be unset, and a build directory
        # is thrown away whole).
        if ! (cd "$pkg" && npm ci --no-audit --no-fund --loglevel=warn \
                --cache "$MTLS_NODE_WORK/npm-cache") > "$pkg/npm-ci.log" 2>&1; then
            cat "$pkg/npm-ci.log" >&2
            rm -f "$pkg/package-lock.json"
            echo "meson-run: npm ci failed (needs the npm registry)" >&2
            exit 1
        fi
    fi
) 9> "$MTLS_NODE_WORK/npm.lock"
export NODE_PATH=$pkg/node_modules
export NODE_OPTIONS=

cd "$src"
case $mode in
    test)
        # Explicit files: `node --test DIR` means different things in node 18, 20 and 22.
        exec node --test tests/*.test.js ;;
    leak)
        exec node --expose-gc tests/leak.js ;;
    types)
        exec node "$pkg/node_modules/typescript/bin/tsc" -p tsconfig.json \
            --typeRoots "$pkg/node_modules/@types" ;;
    *)
        echo "usage: $0 test|leak|types" >&2
        exit 2 ;;
esac
