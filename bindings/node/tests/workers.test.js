'use strict';
// Parallel verifies in worker_threads agree with the conformance table: each worker with
// contexts of its own, and several workers sharing one native context (mtls.h: a built
// mtls_ctx is safe for concurrent mtls_verify_der).

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { Worker } = require('node:worker_threads');

const h = require('./helpers');
const mtls = require('..');

const WORKER = path.join(__dirname, 'verify-worker.js');

function run(workerData) {
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER, { workerData });
    let msg = null;
    w.on('message', (m) => { msg = m; });
    w.on('error', reject);
    w.on('exit', (code) => (code === 0 && msg ? resolve(msg) : reject(new Error(`worker exit ${code}`))));
  });
}

test('the whole table split across 3 workers, each with its own contexts', async () => {
  const names = h.table().cases.map((c) => c.name);
  const parts = [0, 1, 2].map((k) => names.filter((_, i) => i % 3 === k));
  const results = await Promise.all(parts.map((p) => run({ names: p, rounds: 2 })));
  const failures = results.flatMap((r) => r.failures);
  assert.deepEqual(failures, [], failures.slice(0, 20).join('\n'));
  const checked = results.reduce((n, r) => n + r.checked, 0);
  const forms = h.table().cases.reduce((n, c) => n + h.chainForms(c).length, 0);
  assert.equal(checked, 2 * forms);
  for (const r of results) {
    assert.ok(h.isExpectedTlsLibrary(r.tlsLibrary), r.tlsLibrary);
  }
});

test('4 workers verify concurrently through one shared native context', async () => {
  // The policy text shared by the most cases.
  const groups = new Map();
  for (const c of h.table().cases) {
    const key = `${c.policy}\u0000${c.policy_index}`;
    groups.set(key, [...(groups.get(key) || []), c.name]);
  }
  const [key, names] = [...groups.entries()].sort((a, b) => b[1].length - a[1].length)[0];
  assert.ok(names.length >= 10, `largest policy group has ${names.length} cases`);
  const ctx = new mtls.Context(key.split('\u0000')[0]);
  const handles = [0, 1, 2, 3].map(() => ctx.shareHandle());
  ctx.close(); // the workers' references keep the native context alive
  const results = await Promise.all(handles.map((handle) => run({ names, handle, rounds: 5 })));
  const failures = results.flatMap((r) => r.failures);
  assert.deepEqual(failures, [], failures.slice(0, 20).join('\n'));
  for (const r of results) {
    assert.ok(r.checked >= 5 * names.length);
  }
});
