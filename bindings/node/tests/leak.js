'use strict';
// tests/leak.js - leak check of the binding (a script, run as the meson test node-leak; not
// timed). Run with --expose-gc.
//
// Phase 1: 100,000 verifies through one Context (the san chain, accepted, full identity;
// every 4th the expired chain, refused; every 100th a malformed PEM that throws, and a
// Context made and closed), RSS measured after a 10,000-verify warm-up and at the end.
// Phase 2: 20,000 Contexts (each with a CA) dropped without close(): the
// FinalizationRegistry must free them (RSS bounded the same way).
// Fails (exit 1) when, in either phase, the process's native memory (RSS minus the V8 heap's
// committed size, heapTotal, and RSS itself: both) or the live JS heap (heapUsed) grows by
// more than LIMIT_MIB.
// Neither alone would do: V8 sizes heapTotal by its own heuristics (node 18 once grew it by
// 8 MiB during phase 1 with heapUsed flat at 4 MiB: RSS up, not native memory). Each
// measurement follows gc() and malloc_trim(0) (see settle()); the bytes malloc has in use
// are printed as well.
//
// Environment: MTLS_LIBRARY, MTLS_CONFORMANCE (or MTLS_BUILD_DIR); MTLS_LEAK_ITER overrides
// 100000 for a quick look.

const h = require('./helpers');
const mtls = require('..');
const native = require('../lib/native');

const LIMIT_MIB = 4;
const ITER = Number(process.env.MTLS_LEAK_ITER || 100000);
const WARMUP = Math.min(10000, Math.floor(ITER / 10));
const CONTEXTS = 20000;

if (typeof global.gc !== 'function') {
  console.error('leak.js: run with node --expose-gc');
  process.exit(2);
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

// glibc keeps freed memory in its arenas; how much depends on the allocation pattern (node
// 18 grew its main arena by ~3 MiB over 60k verifies with the bytes in use flat, a leak-free
// drift that an RSS bound would count). malloc_trim(0) hands free pages back before each
// measurement, so RSS tracks what is in use; mallinfo2() (main arena, where these verifies
// allocate) is printed too, as the exact count of bytes in use.
const libc = native.koffi.load('libc.so.6');
const mallocTrim = libc.func('int malloc_trim(size_t pad)');
const MallInfo2 = native.koffi.struct('mtls_leak_mallinfo2', {
  arena: 'size_t', ordblks: 'size_t', smblks: 'size_t', hblks: 'size_t', hblkhd: 'size_t',
  usmblks: 'size_t', fsmblks: 'size_t', uordblks: 'size_t', fordblks: 'size_t',
  keepcost: 'size_t',
});
const mallinfo2 = libc.func(`${MallInfo2.name} mallinfo2(void)`);

async function settle() {
  // Let FinalizationRegistry callbacks run (they need the event loop), then collect again.
  for (let i = 0; i < 5; i++) {
    global.gc();
    await tick();
  }
  mallocTrim(0);
}

const MiB = 1024 * 1024;

function measure() {
  const u = process.memoryUsage();
  const m = mallinfo2();
  return {
    rss: u.rss / MiB,
    native: (u.rss - u.heapTotal) / MiB,
    heapUsed: u.heapUsed / MiB,
    malloc: (Number(m.uordblks) + Number(m.hblkhd)) / MiB,
  };
}

// growth(a, b) -> the larger of the two bounded growths, and a line describing all four.
// Native memory that leaks raises RSS and RSS - heapTotal alike, so the native growth bounded
// is the smaller of the two: V8 shrinking heapTotal faster than it unmaps the pages raises
// RSS - heapTotal alone (seen on the OpenSSL build under load: +7 MiB with RSS down 8 MiB
// and malloc's bytes in use flat), and growing it raises RSS alone.
function growth(a, b) {
  const f = (k) => `${k} ${a[k].toFixed(1)} -> ${b[k].toFixed(1)}`;
  return {
    worst: Math.max(Math.min(b.native - a.native, b.rss - a.rss), b.heapUsed - a.heapUsed),
    text: `${f('native')} MiB (growth ${(b.native - a.native).toFixed(2)}), ` +
          `${f('heapUsed')} (growth ${(b.heapUsed - a.heapUsed).toFixed(2)}); ` +
          `${f('rss')} MiB, ${f('malloc')} MiB (in use)`,
  };
}

async function phase1() {
  // san under `require` (full identity, no signature check: 100k full verifies would take
  // minutes and allocate the same); every 4th call the expired chain, verified and refused.
  const san = h.findCase('san/require');
  const expired = h.findCase('expired/require_and_verify');
  const ctx = new mtls.Context(san.policy);
  const vctx = new mtls.Context(expired.policy);
  const sanDer = h.ders(san);
  const expiredDer = h.ders(expired);
  let accepted = 0;
  let thrown = 0;
  const step = (i) => {
    const refuse = i % 4 === 3;
    const r = (refuse ? vctx : ctx).verify(refuse ? expiredDer : sanDer, { at: san.at });
    if (r.accepted === refuse || r.identity['http.request.tls.client.subject'] === undefined) {
      throw new Error(`iteration ${i}: unexpected verdict ${r.reason}`);
    }
    accepted += r.accepted ? 1 : 0;
    if (i % 100 === 0) {
      try {
        ctx.verify('-----BEGIN CERTIFICATE-----\n!\n-----END CERTIFICATE-----\n');
      } catch (e) {
        thrown += e instanceof mtls.MtlsError ? 1 : 0;
      }
      new mtls.Context(san.policy).close();
    }
  };
  let i = 0;
  for (; i < WARMUP; i++) {
    step(i);
  }
  await settle();
  const before = measure();
  const t0 = process.hrtime.bigint();
  for (; i < ITER; i++) {
    step(i);
    if (i % 10000 === 0) {
      await tick();
    }
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  await settle();
  const g = growth(before, measure());
  ctx.close();
  vctx.close();
  console.log(`phase 1: ${ITER} verifies (${accepted} accepted, ${thrown} PEM errors, ` +
              `${(secs * 1e6 / (ITER - WARMUP)).toFixed(1)} us/verify), after warm-up -> ` +
              `end: ${g.text}`);
  return g.worst;
}

async function phase2() {
  const pol = h.findCase('basic/require_and_verify').policy;
  const make = (n) => {
    for (let i = 0; i < n; i++) {
      const ctx = new mtls.Context(pol); // dropped without close()
      if (ctx.numPolicies !== 1) {
        throw new Error('bad context');
      }
    }
  };
  make(2000);
  await settle();
  const before = measure();
  for (let done = 0; done < CONTEXTS; done += 1000) {
    make(1000);
    await settle();
  }
  const g = growth(before, measure());
  console.log(`phase 2: ${CONTEXTS} Contexts left to the FinalizationRegistry: ${g.text}`);
  return g.worst;
}

(async () => {
  console.log(`libmtls ${mtls.version()} on ${mtls.tlsLibrary()}, node ${process.version}, ` +
              `limit ${LIMIT_MIB} MiB`);
  const g1 = await phase1();
  const g2 = await phase2();
  if (g1 > LIMIT_MIB || g2 > LIMIT_MIB) {
    console.log(`FAIL: memory grew by more than ${LIMIT_MIB} MiB`);
    process.exit(1);
  }
  console.log('PASS');
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
