'use strict';
// The shared conformance table (bindings/conformance): every case, in every chain input
// form (PEM text, one DER Buffer, a list of DER, Uint8Arrays, null for none), with the
// policy given as a string, as bytes, as a parsed object and as a file. Every field of
// `expect` must match byte for byte.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const h = require('./helpers');
const mtls = require('..');

const T = h.table();

test('table metadata matches the loaded library', () => {
  assert.equal(T.library_version, mtls.version());
  assert.equal(T.tls_library, mtls.tlsLibrary());
  assert.deepEqual(T.placeholders, [...mtls.placeholderNames()]);
  assert.ok(T.cases.length > 100, `only ${T.cases.length} cases`);
});

test('every case conforms in every chain form and policy form', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mtls-node-conf-'));
  const formCount = {};
  const failures = [];
  try {
    T.cases.forEach((c, i) => {
      let ctx;
      switch (i % 4) {
        case 0: ctx = new mtls.Context(c.policy); break;
        case 1: ctx = new mtls.Context(Buffer.from(c.policy)); break;
        case 2: ctx = new mtls.Context(JSON.parse(c.policy)); break;
        default: {
          const file = path.join(tmp, `policy-${i}.json`);
          fs.writeFileSync(file, c.policy);
          ctx = mtls.Context.fromFile(file);
        }
      }
      try {
        for (const [form, chain] of h.chainForms(c)) {
          formCount[form] = (formCount[form] || 0) + 1;
          const r = ctx.verify(chain, { at: c.at, policyIndex: c.policy_index });
          for (const d of h.compare(r, c)) {
            failures.push(`${c.name} [${form}] ${d}`);
          }
        }
      } finally {
        ctx.close();
      }
    });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  assert.deepEqual(failures, [], failures.slice(0, 20).join('\n'));
  for (const form of ['pem', 'der-list', 'der', 'null', 'uint8array-list']) {
    assert.ok(formCount[form] > 0, `chain form ${form} never exercised`);
  }
});

test('`at` as Date, number and bigint give the same verdict', () => {
  const c = h.findCase('basic/require_and_verify');
  const ctx = new mtls.Context(c.policy);
  for (const at of [c.at, BigInt(c.at), new Date(c.at * 1000), c.at + 0.9]) {
    assert.deepEqual(h.compare(ctx.verify(h.ders(c), { at }), c), [], String(at));
  }
  // Far in the future the same leaf has expired: `at` is really passed through.
  const late = ctx.verify(h.ders(c), { at: new Date('2200-01-01T00:00:00Z') });
  assert.equal(late.accepted, false);
  assert.equal(late.reason, 'CERT_EXPIRED');
  ctx.close();
});

test('default `at` is now', () => {
  // The table's PKI is valid from its generation time on; `now` gives the verdict of an
  // explicit current time (and the table's, while the leaf has not expired).
  const c = h.findCase('san/require_and_verify');
  const ctx = new mtls.Context(c.policy);
  const byDefault = ctx.verify(c.chain_pem);
  const now = ctx.verify(c.chain_pem, { at: new Date() });
  assert.deepEqual(byDefault.toJSON(), now.toJSON());
  if (Date.now() / 1000 < h.table().generated_at + 300 * 86400) {
    assert.deepEqual(h.compare(byDefault, c), []);
  }
  ctx.close();
});

test('typed fields agree with the identity strings', () => {
  const c = h.findCase('san/require_and_verify');
  const ctx = new mtls.Context(c.policy);
  const r = ctx.verify(c.chain_pem, { at: c.at });
  ctx.close();
  const id = (k) => Buffer.from(c.expect.identity_b64[`http.request.tls.client.${k}`], 'base64')
    .toString('utf8');
  assert.equal(r.subject, id('subject'));
  assert.equal(r.issuer, id('issuer'));
  assert.equal(r.serial, id('serial'));
  assert.equal(r.fingerprint, id('fingerprint'));
  assert.equal(r.spiffeId, id('spiffe_id'));
  assert.deepEqual(r.sanDnsNames, [id('san.dns_names.0'), id('san.dns_names.1')]);
  assert.deepEqual(r.sanEmails, [id('san.emails.0')]);
  assert.deepEqual(r.sanIps, [id('san.ips.0'), id('san.ips.1'), id('san.ips.2')]);
  assert.deepEqual(r.sanUris, [id('san.uris.0')]);
  assert.ok(r.notBefore instanceof Date && r.notAfter instanceof Date);
  assert.equal(r.notBefore.toISOString().replace('.000Z', 'Z'), id('not_before'));
  assert.equal(r.notAfter.toISOString().replace('.000Z', 'Z'), id('not_after'));
  assert.equal(r.identity['http.request.tls.client.subject'], r.subject);
  assert.equal(r.modeName, 'require_and_verify');
  assert.equal(r.errorDepth, -1);
  // presented: what was sent; chain: the verified path, ending at the trust anchor.
  assert.deepEqual(r.presented, h.ders(c));
  assert.equal(r.chain.length, c.expect.num_chain);
  assert.ok(r.chain[0].equals(h.ders(c)[0]));
  const anchor = Buffer.from(JSON.parse(c.policy).trusted_ca_certs[0], 'base64');
  assert.ok(r.chain[r.chain.length - 1].equals(anchor));
});

test('no certificate: typed fields are null / empty', () => {
  const c = h.findCase('none/verify_if_given');
  const ctx = new mtls.Context(c.policy);
  for (const chain of [null, undefined, [], '']) {
    const r = ctx.verify(chain, { at: c.at });
    assert.deepEqual(h.compare(r, c), []);
    assert.equal(r.subject, null);
    assert.equal(r.notAfter, null);
    assert.deepEqual(r.sanDnsNames, []);
    assert.deepEqual(r.presented, []);
  }
  ctx.close();
});

test('refusals carry the fault depth', () => {
  const c = h.findCase('expired/require_and_verify');
  const ctx = new mtls.Context(c.policy);
  const r = ctx.verify(h.ders(c), { at: c.at });
  assert.equal(r.accepted, false);
  assert.equal(r.errorDepth, 0);
  assert.deepEqual(r.chain, []);
  ctx.close();
});

test('select() agrees with every select entry of the table', () => {
  let n = 0;
  for (const c of T.cases.filter((x) => x.select)) {
    const ctx = new mtls.Context(c.policy);
    for (const s of c.select) {
      assert.equal(ctx.select(s.sni, s.remote_ip, s.local_ip), s.index,
                   `${c.name}: select(${s.sni}, ${s.remote_ip}, ${s.local_ip})`);
      n++;
    }
    ctx.close();
  }
  assert.ok(n > 0, 'the table has no select entries');
});

test('describe() and policyMode() agree with every case policy', () => {
  for (const c of T.cases) {
    const ctx = new mtls.Context(c.policy);
    const d = ctx.describe();
    assert.equal(d.policies.length, ctx.numPolicies);
    assert.equal(ctx.policyMode(c.policy_index), c.expect.mode, c.name);
    assert.equal(d.policies[c.policy_index].mode, mtls.modeName(c.expect.mode), c.name);
    ctx.close();
  }
});
