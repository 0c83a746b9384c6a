#!/usr/bin/env bash
# bench/micro/run.sh [BUILDDIR] [OPTIONS...] - build and run the libmtls micro-benchmarks
# (issue 6, part 2) and print their tables and JSON lines.
#
#   BUILDDIR  meson build directory (default: ./build at the repository root; configured
#             with `meson setup` if it does not exist yet)
#   OPTIONS   passed to every benchmark: --quick (small sizes and iterations, a few
#             seconds: a smoke test), --reps N (repetitions; the median is reported)
#   MICRO_ONLY="handshake pins"   run only these (handshake placeholders policy_load pins)
#   MICRO_MAX_PINS=N              largest pin set (default 1000000; 1 M pins write ~0.9 GB of
#                                 PEM to $TMPDIR and need ~1.5 GB of RAM)
#   MICRO_MAX_CAS=N               largest trust pool (default 10000)
#
# Everything (keys, certificates, pin files, policies) is generated at run time in a private
# directory under $TMPDIR (default /tmp), removed at exit. The combined output is also
# written to BUILDDIR/bench/micro/results.txt.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=$ROOT/build
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then
    BUILD=$1
    shift
fi
ONLY=${MICRO_ONLY:-handshake placeholders policy_load pins}

if [ ! -f "$BUILD/build.ninja" ]; then
    meson setup "$BUILD" "$ROOT"
fi
targets=()
for b in $ONLY; do
    case $b in
        handshake|placeholders|policy_load|pins) targets+=("micro_$b") ;;
        *) echo "run.sh: unknown benchmark '$b' (handshake placeholders policy_load pins)" >&2; exit 2 ;;
    esac
done
if ! meson compile -C "$BUILD" "${targets[@]}"; then
    echo "run.sh: could not build ${targets[*]}: is bench/micro part of the build" \
         "(subdir('bench') in meson.build, subdir('micro') in bench/meson.build)?" >&2
    exit 1
fi

BIN=$BUILD/bench/micro
OUT=$BIN/results.txt
extra() {
    case $1 in
        pins) [ -n "${MICRO_MAX_PINS:-}" ] && echo "--max-pins $MICRO_MAX_PINS" ;;
        policy_load) [ -n "${MICRO_MAX_CAS:-}" ] && echo "--max-cas $MICRO_MAX_CAS" ;;
    esac
    return 0
}
{
    echo "# libmtls micro-benchmarks, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -m)," \
         "$(nproc) cores, libmtls $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?')"
    echo "# before: $(uptime)"
    for b in $ONLY; do
        echo
        echo "## $b"
        # shellcheck disable=SC2046
        "$BIN/micro_$b" "$@" $(extra "$b")
    done
    echo
    echo "# after: $(uptime)"
} 2>&1 | tee "$OUT"
echo "(written to $OUT)"
