#!/usr/bin/env python3
"""Per-call overhead of the Python binding against the C baseline (a benchmark, not a test).

    MTLS_LIBRARY=build/libmtls/libmtls.so.0 PYTHONPATH=bindings/python/src \
    python3 bindings/python/bench.py --table build/bindings/conformance/conformance.json \
        --bench-c build/bindings/conformance/bench_c [--case san/require_and_verify] \
        [--iter 5000] [--rounds 5]

Operations, as bench_c measures them:
  error_name       mtls.error_name(103)  vs  mtls_error_name(MTLS_ERR_CERT_EXPIRED)
  verify_identity  Context.verify(list of DER, at=...) -- verdict, every placeholder and
                   `.N` form, typed fields, presented/verified chains copied into a Result --
                   vs mtls_verify_der + every placeholder and `.N` form + mtls_peer_free.
C and Python alternate for --rounds rounds; the best round of each is reported (the least
disturbed by other load on the machine), and ratio = Python / C. --clock cpu measures
process CPU time on both sides (MTLS_BENCH_CLOCK=cpu for bench_c) instead of wall-clock
time: steadier on a shared machine.
"""

import argparse
import base64
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "src"))
import mtls  # noqa: E402


def bench_c(exe, table, case, n, clock):
    env = dict(os.environ, MTLS_BENCH_CLOCK=clock)
    out = subprocess.run([exe, table, case, str(n)], capture_output=True, text=True,
                         check=True, timeout=3600, env=env).stdout
    return {k: float(v) for k, v in (line.split() for line in out.splitlines() if line)}


def bench_py(c, n, clock):
    now = time.process_time_ns if clock == "cpu" else time.perf_counter_ns
    ctx = mtls.Context(c["policy"])
    ders = [base64.b64decode(d) for d in c["chain_der_b64"]]
    at, index = c["at"], c["policy_index"]
    name, reps = mtls.error_name, n * 10
    t0 = now()
    for _ in range(reps):
        name(103)
    t1 = now()
    error_ns = (t1 - t0) / reps
    verify = ctx.verify
    t0 = now()
    for _ in range(n):
        r = verify(ders, at=at, policy_index=index)
    t1 = now()
    assert r.accepted == c["expect"]["accepted"] and len(r.identity) == len(
        c["expect"]["identity_b64"])
    ctx.close()
    return {"error_name": error_ns, "verify_identity": (t1 - t0) / n}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--table", required=True)
    ap.add_argument("--bench-c", required=True)
    ap.add_argument("--case", default="san/require_and_verify")
    ap.add_argument("--iter", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    args = ap.parse_args()
    with open(args.table, encoding="utf-8") as f:
        case = next(c for c in json.load(f)["cases"] if c["name"] == args.case)
    best_c, best_py = {}, {}
    for _ in range(args.rounds):
        for best, res in ((best_c, bench_c(args.bench_c, args.table, args.case, args.iter,
                                           args.clock)),
                          (best_py, bench_py(case, args.iter, args.clock))):
            for k, v in res.items():
                best[k] = min(best.get(k, v), v)
    print("case %s, %d iterations x %d rounds, %s clock, libmtls %s on %s, Python %s" % (
        args.case, args.iter, args.rounds, args.clock, mtls.version(), mtls.tls_library(),
        sys.version.split()[0]))
    print("%-16s %12s %12s %8s %14s" % ("operation", "C ns", "Python ns", "ratio", "overhead ns"))
    for k in ("error_name", "verify_identity"):
        print("%-16s %12.1f %12.1f %8.2f %14.1f" % (k, best_c[k], best_py[k],
                                                   best_py[k] / best_c[k], best_py[k] - best_c[k]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
