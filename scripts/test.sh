#!/usr/bin/env bash
# test.sh [MESON TEST ARGS] - install dependencies, build, and run the whole test suite
# (unit + integration) four ways:
#   1. the normal build ($BUILDDIR, default ./build): meson test;
#   1b. the OpenSSL 3 build of libmtls ($BUILDDIR-openssl, -Dtls_backend=openssl): its whole
#      suite (the library's unit tests, limbo, the tool, and the nginx module in Debian's nginx);
#   2. the same build, unit tests under valgrind memcheck (meson test --setup valgrind);
#   3. an ASan+UBSan build ($BUILDDIR-asan, default ./build-asan): the whole suite again,
#      every process we start (unit tests, fuzz replays, mtls-proxy, minimal-server, tools)
#      instrumented. (minimal-server dies by SIGTERM without exiting, so LeakSanitizer never
#      runs in it: memory errors are caught there, leaks are not.)
# All of them run even if one fails; any test failure or any sanitizer/valgrind report fails the
# script. Arguments (test names, --suite ...) go to runs 1 and 3. MTLS_TEST_SANITIZERS=0 skips
# runs 2 and 3 (a quick local loop).
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
builddir=${BUILDDIR:-$top/build}
asandir=${builddir%/}-asan
"$top/scripts/setup.sh" "$builddir"

failed=()
# 1. The normal build.
meson test -C "$builddir" --print-errorlogs "$@" || failed+=("tests")

# 1b. The OpenSSL build (BoringSSL-only parts -- the examples, bench, the fuzz targets whose
# oracle is BoringSSL -- are not built there; meson.build says which). The bindings' soak
# tests (suite 'soak': 100k-call leak checks, Go's race run) run in stage 1 only, to keep the
# whole script under 20 minutes; `meson test -C build-openssl --suite soak` runs them there.
ossldir=${builddir%/}-openssl
werror=false
[ "${CI:-}" = "true" ] && werror=true
if [ ! -f "$ossldir/build.ninja" ]; then
    meson setup "$ossldir" "$top" -Dtls_backend=openssl -Dwerror=$werror >&2
fi
meson compile -C "$ossldir" >&2
meson test -C "$ossldir" --print-errorlogs --no-suite soak "$@" || failed+=("OpenSSL build tests")
if [ "${MTLS_TEST_SANITIZERS:-1}" = 0 ]; then
    [ ${#failed[@]} -eq 0 ]
    exit
fi

# 2. Unit tests under valgrind (setup in meson.build; suppressions in scripts/valgrind.supp).
if ! command -v valgrind > /dev/null; then
    echo "test: installing valgrind" >&2
    sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq \
        --no-install-recommends valgrind >&2
fi
# (--no-suite as in the setup's exclude_suites, which an explicit --suite overrides.)
meson test -C "$builddir" --setup valgrind --suite unit --no-suite script --no-suite limbo \
    --print-errorlogs || failed+=("valgrind")

# 3. The whole suite under AddressSanitizer (+ LeakSanitizer) and UBSan.
werror=false
[ "${CI:-}" = "true" ] && werror=true
if [ ! -f "$asandir/build.ninja" ]; then
    meson setup "$asandir" "$top" -Dwerror=$werror -Dbuildtype=debugoptimized \
        -Db_sanitize=address,undefined -Db_lundef=false >&2
fi
meson compile -C "$asandir" >&2
# Reports go to files, one per process (<name>.<pid>), not to stderr: integration tests run
# mtls-proxy and the servers as children whose stderr and exit status a harness may not look
# at (a proxy stopped by SIGTERM exits 0 after its drain and LeakSanitizer runs at that exit;
# a report then changes the status, which only some harnesses check). Any file here fails
# the run, whichever process wrote it. abort_on_error makes the process that erred die at
# once, so its own test fails too. quarantine_size_mb=16 (default 256) still catches
# use-after-free of recently freed memory and keeps RSS near what big_body_bounded_rss bounds.
logdir=$asandir/sanitizer-reports
rm -rf "$logdir"
mkdir -p "$logdir"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:quarantine_size_mb=16:log_path=$logdir/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$logdir/ubsan"
# The bindings' suites are left out here: Node and Go cannot load an ASan libmtls with deep
# binding or the race detector (they skip), and what the Python suite would add -- the
# library's memory errors -- the C suites above already cover under ASan.
meson test -C "$asandir" --print-errorlogs --no-suite python --no-suite node --no-suite go "$@" \
    || failed+=("sanitizer build tests")
reports=$(find "$logdir" -type f | sort)
if [ -n "$reports" ]; then
    for f in $reports; do
        echo "==== sanitizer report $f" >&2
        cat "$f" >&2
    done
    echo "test: $(echo "$reports" | wc -l) sanitizer report(s) in $logdir" >&2
    failed+=("sanitizer reports")
fi
if [ ${#failed[@]} -gt 0 ]; then
    echo "test: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "test: all passed (normal build, OpenSSL build, valgrind, ASan+UBSan)" >&2
