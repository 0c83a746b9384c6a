'use strict';
// Worker thread of workers.test.js: verifies table cases and reports the differences.
//   workerData.names   the cases to check
//   workerData.handle  (optional) a Context.shareHandle() of the one policy all `names` share;
//                      else each case builds its own Context in this thread
//   workerData.rounds  how many times to go through `names`

const { parentPort, workerData, threadId } = require('node:worker_threads');

const h = require('./helpers');
const mtls = require('..');

const { names, handle, rounds } = workerData;
const cases = names.map(h.findCase);
const failures = [];
let checked = 0;
const shared = handle === undefined ? null : mtls.Context.fromSharedHandle(handle);
try {
  for (let round = 0; round < rounds; round++) {
    for (const c of cases) {
      const ctx = shared || new mtls.Context(c.policy);
      try {
        for (const [form, chain] of h.chainForms(c)) {
          const r = ctx.verify(chain, { at: c.at, policyIndex: c.policy_index });
          for (const d of h.compare(r, c)) {
            failures.push(`thread ${threadId} ${c.name} [${form}] ${d}`);
          }
          checked++;
        }
      } finally {
        if (ctx !== shared) {
          ctx.close();
        }
      }
    }
  }
} finally {
  if (shared !== null) {
    shared.close();
  }
}
parentPort.postMessage({ checked, failures, tlsLibrary: mtls.tlsLibrary() });
