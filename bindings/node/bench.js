'use strict';
// bench.js - per-call overhead of the Node binding against the C baseline (a benchmark, not
// a test). Prints ns per call of
//   error_name       mtls.errorName(CERT_EXPIRED)                   (a trivial call)
//   verify_identity  ctx.verify(san chain, {at}): verdict, every placeholder and `.N` form
//                    copied out, presented + verified path, peer freed
// and the same from bindings/conformance/bench_c, and the ratios. The two sides alternate
// for ROUNDS rounds and the fastest round of each is reported: on a shared machine the
// minimum is the best estimate of the unloaded cost.
//
//   MTLS_BUILD_DIR=build node bench.js [ITER] [CASE]
// Environment as for the tests (MTLS_LIBRARY, MTLS_CONFORMANCE, or MTLS_BUILD_DIR);
// MTLS_BENCH_C names bench_c (default: next to the conformance table).

const { execFileSync } = require('node:child_process');
const path = require('node:path');

const h = require('./tests/helpers');
const mtls = require('.');

const ITER = Number(process.argv[2] || 1000);
const CASE = process.argv[3] || 'san/require_and_verify';
const ROUNDS = Number(process.env.MTLS_BENCH_ROUNDS || 7);
const benchC = process.env.MTLS_BENCH_C ||
  path.join(path.dirname(h.ENV.conformance), 'bench_c');

const best = (xs) => Math.min(...xs);

function timeNs(n, fn) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    fn();
  }
  return Number(process.hrtime.bigint() - t0) / n;
}

function nodeRound(c, ctx, ders) {
  let sink = 0;
  const trivial = timeNs(ITER * 100, () => { sink += mtls.errorName(103).length; });
  const verify = timeNs(ITER, () => {
    const r = ctx.verify(ders, { at: c.at });
    sink += r.identityBytes['http.request.tls.client.subject'].length;
  });
  const withStrings = timeNs(ITER, () => {
    sink += ctx.verify(ders, { at: c.at }).identity['http.request.tls.client.subject'].length;
  });
  if (sink === 0) {
    throw new Error('nothing rendered');
  }
  return { error_name: trivial, verify_identity: verify, verify_identity_strings: withStrings };
}

function cRound() {
  const out = execFileSync(benchC, [h.ENV.conformance, CASE, String(ITER)], { encoding: 'utf8' });
  const r = {};
  for (const line of out.trim().split('\n')) {
    const [op, ns] = line.trim().split(/\s+/);
    r[op] = Number(ns);
  }
  return r;
}

const c = h.findCase(CASE);
const ctx = new mtls.Context(c.policy);
const ders = h.ders(c);
if (!ctx.verify(ders, { at: c.at }).accepted) {
  throw new Error(`${CASE} is not accepted`);
}
nodeRound(c, ctx, ders); // warm-up (JIT)
const node = [];
const cside = [];
for (let i = 0; i < ROUNDS; i++) {
  cside.push(cRound());
  node.push(nodeRound(c, ctx, ders));
}
ctx.close();

console.log(`libmtls ${mtls.version()} on ${mtls.tlsLibrary()}, node ${process.version}, ` +
            `case ${CASE}, ${ITER} iterations (x100 for error_name), best of ${ROUNDS} rounds`);
console.log('operation                 C ns/call   node ns/call   ratio   overhead ns');
for (const op of ['error_name', 'verify_identity', 'verify_identity_strings']) {
  const cop = op === 'verify_identity_strings' ? 'verify_identity' : op;
  const cn = best(cside.map((r) => r[cop]));
  const nn = best(node.map((r) => r[op]));
  console.log(`${op.padEnd(24)} ${cn.toFixed(1).padStart(10)} ${nn.toFixed(1).padStart(14)} ` +
              `${(nn / cn).toFixed(2).padStart(7)} ${(nn - cn).toFixed(0).padStart(13)}`);
}
