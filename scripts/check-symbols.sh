#!/usr/bin/env bash
# check-symbols.sh LIB MAP INCLUDEDIR: the shared library exports exactly the functions that
# the version script lists and the public headers declare with MTLS_API; nothing else leaks.
set -euo pipefail
lib=$1 map=$2 inc=$3
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRW]$/ {print $3}' | sed 's/@.*//' | sort -u)
listed=$(sed -n 's/^[[:space:]]*\(mtls_[a-z0-9_]*\);.*/\1/p' "$map" | sort -u)
declared=$(grep -hv "^#" "$inc"/*.h | tr '\n' ' ' | grep -o 'MTLS_API[^;(]*(' | sed 's/($//; s/.*[ *]//' | sort -u)
status=0
leaks=$(printf '%s\n' "$exported" | grep -v '^mtls_' | grep -v '^MTLS_[0-9.]*$' || true)
if [ -n "$leaks" ]; then
    echo "symbols not prefixed mtls_ leak from $lib:"; printf '  %s\n' $leaks; status=1
fi
exp_mtls=$(printf '%s\n' "$exported" | grep '^mtls_' || true)
if [ "$exp_mtls" != "$listed" ]; then
    echo "exported symbols differ from $map:"; diff <(echo "$exp_mtls") <(echo "$listed") || true; status=1
fi
if [ "$listed" != "$declared" ]; then
    echo "map differs from MTLS_API declarations in $inc:"; diff <(echo "$listed") <(echo "$declared") || true; status=1
fi
n=$(printf '%s\n' "$listed" | wc -l)
[ $status -eq 0 ] && echo "symbols: $n exported, all mtls_*, map and headers agree"
exit $status
