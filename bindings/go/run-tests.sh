#!/usr/bin/env bash
# run-tests.sh MODE - the meson tests of the Go binding (suite 'go'), or the benchmark.
#   test     go vet, then the package's tests (conformance table, errors, inspect, ...)
#   example  the example HTTPS server (examples/server) with real clients
#   race     the concurrency tests under the race detector
#   leak     100k verifies, RSS after warm-up vs at the end (build tag mtls_leak)
#   bench    not a test: ns per call vs bindings/conformance/bench_c (needs BENCH_C)
# Environment (meson.build sets it): MTLS_LIBRARY (the built libmtls.so.*), MTLS_INCLUDE_DIR
# (':'-separated: <source>/libmtls/include and <build>/libmtls/include), MTLS_PKI_DIR,
# MTLS_CONFORMANCE, MTLS_GO_WORK (a build directory for the Go caches and binaries),
# MTLS_GO_REQUIRE ("pki,table": what must be present; otherwise those tests skip).
# No network: GOPROXY=off, and the module has no dependencies. Exit 77 (skipped) without go.
set -euo pipefail
mode=${1:-test}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if ! command -v go > /dev/null; then
    echo "run-tests: no go tool (Debian package golang-go): skipped" >&2
    exit 77
fi
: "${MTLS_LIBRARY:?}" "${MTLS_INCLUDE_DIR:?}" "${MTLS_GO_WORK:?}"
work=$MTLS_GO_WORK
libdir=$(cd "$(dirname "$MTLS_LIBRARY")" && pwd)
mkdir -p "$work/bin"

cflags="-g -O2"
IFS=: read -ra incs <<< "$MTLS_INCLUDE_DIR"
for d in "${incs[@]}"; do
    cflags+=" -I$d"
done
# HOME may be unset (CI): every Go location is explicit, inside the build directory.
export CGO_ENABLED=1 CGO_CFLAGS="$cflags" CGO_LDFLAGS="-L$libdir -lmtls -Wl,-rpath,$libdir"
export GOFLAGS="-mod=mod -buildvcs=false" GOPROXY=off GOSUMDB=off GOENV=off GOTOOLCHAIN=local
export GOCACHE="$work/gocache" GOPATH="$work/gopath" GOTMPDIR="$work/tmp" GOTRACEBACK=all
mkdir -p "$GOTMPDIR"
export MTLS_GO_REQUIRE=${MTLS_GO_REQUIRE:-pki}
tags=mtls_no_pkgconfig

# A libmtls built with -Db_sanitize=address (scripts/test.sh's third run) needs the ASan
# runtime first in the process: preload it into the test binaries (not into go or gcc).
run=()
asan=$(ldd "$MTLS_LIBRARY" 2> /dev/null | awk '/libasan\.so/ {print $3; exit}')
if [ -n "$asan" ]; then
    run=(env "LD_PRELOAD=$asan" "ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0:handle_segv=0:allow_user_segv_handler=1")
fi

# Several of these tests start at once and share one cache: compile one at a time, so that
# the first compiles the standard library and the others reuse it.
build() {
    (cd "$src" && flock "$work/build.lock" go "$@")
}

case $mode in
test)
    build vet -tags "$tags" ./...
    build test -c -tags "$tags" -o "$work/bin/mtls.test" .
    cd "$src"
    exec "${run[@]}" "$work/bin/mtls.test" -test.v -test.count=1 -test.timeout=600s
    ;;
example)
    build build -tags "$tags" -o "$work/bin/example-server" ./examples/server
    build test -c -tags "$tags" -o "$work/bin/example-server.test" ./examples/server
    cd "$src/examples/server"
    MTLS_GO_EXAMPLE_SERVER="$work/bin/example-server" exec "${run[@]}" "$work/bin/example-server.test" -test.v -test.count=1 \
        -test.timeout=300s
    ;;
race)
    if [ -n "$asan" ]; then
        echo "run-tests: libmtls is built with ASan; the race detector cannot share the process: skipped" >&2
        exit 77
    fi
    if ! build test -c -race -tags "$tags" -o "$work/bin/mtls-race.test" .; then
        echo "run-tests: go test -race does not build here" >&2
        exit 1
    fi
    cd "$src"
    exec "$work/bin/mtls-race.test" -test.v -test.count=1 -test.timeout=900s \
        -test.run '^(TestConformanceParallel|TestCloseWhileVerifying|TestParallelSelect)$'
    ;;
leak)
    if [ -n "$asan" ]; then
        # ASan's allocator and quarantine make RSS say nothing about leaks (and LeakSanitizer
        # never runs in a Go process: Go exits without atexit). The normal build checks it.
        echo "run-tests: libmtls is built with ASan; RSS is no leak measure there: skipped" >&2
        exit 77
    fi
    build test -c -tags "$tags mtls_leak" -o "$work/bin/mtls-leak.test" .
    cd "$src"
    exec "${run[@]}" "$work/bin/mtls-leak.test" -test.v -test.count=1 -test.timeout=900s \
        -test.run '^TestLeak$'
    ;;
bench)
    : "${MTLS_CONFORMANCE:?}" "${BENCH_C:?path of bindings/conformance/bench_c}"
    build test -c -tags "$tags" -o "$work/bin/mtls.test" .
    iter=${BENCH_ITER:-20000}
    case_name=${BENCH_CASE:-san/require_and_verify}
    rounds=${BENCH_ROUNDS:-3}
    cd "$src"
    : > "$work/bench_c.txt"
    : > "$work/bench_go.txt"
    # C and Go in turn, several rounds; the best of each is compared (a shared machine's
    # noise only ever adds time). verify_cpu: CPU time per verify instead of wall time.
    for r in $(seq "$rounds"); do
        echo "== round $r: bench_c $MTLS_CONFORMANCE $case_name $iter"
        TIMEFORMAT='%U %S'
        { time "$BENCH_C" "$MTLS_CONFORMANCE" "$case_name" "$iter" > "$work/bench_c.out"; } \
            2> "$work/bench_c.time"
        cat "$work/bench_c.out" | tee -a "$work/bench_c.txt"
        # CPU time per verify (setup and the error_name loop included: a slight overestimate).
        awk -v n="$iter" '{ printf "verify_cpu %.1f\n", ($1 + $2) * 1e9 / n }' \
            "$work/bench_c.time" | tee -a "$work/bench_c.txt"
        echo "== round $r: go test -bench (ErrorName: 1 s; VerifyIdentity: ${iter}x)"
        "$work/bin/mtls.test" -test.run '^$' -test.bench '^BenchmarkErrorName$' |
            tee -a "$work/bench_go.txt"
        BENCH_CASE=$case_name "$work/bin/mtls.test" -test.run '^$' \
            -test.bench '^BenchmarkVerifyIdentity$' -test.benchtime "${iter}x" |
            tee -a "$work/bench_go.txt"
    done
    awk -v cfile="$work/bench_c.txt" '
        function min(k, v) { if (!(k in best) || v < best[k]) best[k] = v }
        BEGIN { while ((getline l < cfile) > 0) { split(l, f, " "); min("c_" f[1], f[2] + 0) } }
        $1 ~ /^BenchmarkErrorName(-[0-9]+)?$/ { min("go_error_name", $3 + 0) }
        $1 ~ /^BenchmarkVerifyIdentity(-[0-9]+)?$/ {
            min("go_verify_identity", $3 + 0)
            for (i = 4; i < NF; i++) if ($(i + 1) == "cpu-ns/op") min("go_verify_cpu", $i + 0)
        }
        END {
            n = split("error_name verify_identity verify_cpu", ops, " ")
            for (i = 1; i <= n; i++) {
                o = ops[i]
                printf "%-16s Go %12.1f ns/call  C %12.1f ns/call  ratio %.2f  overhead %+.1f ns\n", o ":",
                    best["go_" o], best["c_" o], best["go_" o] / best["c_" o], best["go_" o] - best["c_" o]
            }
        }' "$work/bench_go.txt"
    ;;
*)
    echo "usage: run-tests.sh test|example|race|leak|bench" >&2
    exit 2
    ;;
esac
