#!/usr/bin/env python3
"""Leak check (a script, run as the meson test `python-leak`, not a timed unit test):
N verify calls (default 100,000) over a mix of table cases -- accepted, refused, no
certificate, unparsable, multi-policy, pinned -- in every input form, plus Context
create/close, load errors and inspect() along the way. RSS is read after a warm-up and at the
end; the growth must stay below the limit (default 4 MiB; 8 MiB under AddressSanitizer).

    leak_check.py [N] [LIMIT_KIB]      (MTLS_LIBRARY, MTLS_CONFORMANCE set)
"""

import gc
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import support  # noqa: E402

# An AddressSanitizer build of libmtls needs its runtime preloaded: re-exec once with it.
_env = support.sanitizer_env()
if _env.get("LD_PRELOAD", "") != os.environ.get("LD_PRELOAD", ""):
    os.execve(sys.executable, [sys.executable] + sys.argv, _env)

import mtls  # noqa: E402

# Mostly unverified modes: the binding's allocations are the same, and a full signature check
# per call (~250 us) would make 100k calls take minutes; two of the eight still verify.
CASES = ("san/require", "expired/require_and_verify", "none/require",
         "garbage/request", "multi/basic@1", "pin/p256/require", "uri-odd/request",
         "via-int-sent/verify_if_given")


def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def main():
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    asan = "libasan" in os.environ.get("LD_PRELOAD", "")
    # ASan's allocator keeps per-size-class caches that still grow a little after warm-up
    # (measured: ~2 MiB over 100k calls); a leak of even 100 bytes per call is 10 MiB.
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else (8192 if asan else 4096)
    warmup = min(10_000, total // 10)
    cases = [support.case(n) for n in CASES]
    inputs = []
    for i, c in enumerate(cases):
        ders = support.ders(c)
        forms = [c["chain_pem"], ders, ders[0] if len(ders) == 1 else ders]
        inputs.append((c, forms[i % 3]))
    contexts = {c["policy"]: mtls.Context(c["policy"]) for c in cases}

    def one_round(i):
        c, chain = inputs[i % len(inputs)]
        r = contexts[c["policy"]].verify(chain, at=c["at"], policy_index=c["policy_index"])
        if r.accepted != c["expect"]["accepted"]:
            raise AssertionError("%s: verdict changed" % c["name"])
        if i % 1000 == 0:  # the other entry points, now and then
            with mtls.Context(c["policy"]) as extra:
                extra.describe()
                extra.select("b.example", "127.0.0.1")
            try:
                mtls.Context('{"mode": }')
            except mtls.PolicyError:
                pass
            mtls.inspect(support.ders(cases[0])[0])

    t0 = time.perf_counter()
    for i in range(warmup):
        one_round(i)
    gc.collect()
    before = rss_kib()
    for i in range(warmup, total):
        one_round(i)
    gc.collect()
    after = rss_kib()
    elapsed = time.perf_counter() - t0
    for ctx in contexts.values():
        ctx.close()
    growth = after - before
    print("%d verify calls in %.1fs (%.1f us each)%s: RSS %d KiB after %d warm-up calls, %d KiB "
          "at the end: growth %d KiB (limit %d KiB)"
          % (total, elapsed, elapsed / total * 1e6, " under ASan" if asan else "", before,
             warmup, after, growth, limit))
    if growth >= limit:
        print("FAIL: RSS grew by %d KiB" % growth)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
