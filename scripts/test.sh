#!/usr/bin/env bash
# test.sh - install dependencies, build, and run the whole test suite (unit + integration).
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
builddir=${BUILDDIR:-$top/build}
"$top/scripts/setup.sh" "$builddir"
meson test -C "$builddir" --print-errorlogs "$@"
