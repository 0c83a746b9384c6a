'use strict';
// Errors: MtlsError carries libmtls's code, name, category, message, where, line/column.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const h = require('./helpers');
const mtls = require('..');
const { MtlsError, Context } = mtls;

function throwsMtls(fn, codeName, check = () => {}) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof MtlsError, `not an MtlsError: ${e}`);
    assert.ok(e instanceof Error);
    assert.equal(e.name, 'MtlsError');
    assert.equal(e.codeName, codeName, e.message);
    assert.equal(mtls.errorName(e.code), codeName);
    assert.equal(e.category, mtls.categoryOf(e.code));
    check(e);
    return true;
  });
}

test('JSON syntax errors carry line and column', () => {
  throwsMtls(() => new Context('{\n  "mode": "require",\n  oops\n}'), 'JSON_SYNTAX', (e) => {
    assert.equal(e.code, 10);
    assert.equal(e.categoryName, 'policy');
    assert.equal(e.category, mtls.Category.POLICY);
    assert.equal(e.line, 3);
    assert.ok(e.column > 0);
    assert.match(e.message, /malformed JSON/);
    assert.match(e.where, /\.c:\d+$/);
  });
});

test('field errors name the field; line/column are -1', () => {
  throwsMtls(() => new Context({ mode: 'bogus' }), 'UNKNOWN_MODE', (e) => {
    assert.equal(e.line, -1);
    assert.equal(e.column, -1);
    assert.match(e.message, /bogus/);
  });
  throwsMtls(() => new Context('{"mdoe": "require"}'), 'UNKNOWN_FIELD', (e) => {
    assert.match(e.message, /mdoe/);
  });
  throwsMtls(() => new Context({ mode: 'require_and_verify' }), 'NO_TRUST_FOR_VERIFY');
  throwsMtls(() => new Context({ trusted_ca_certs: ['AAAA'] }), 'DER_INVALID', (e) => {
    assert.equal(e.categoryName, 'trust');
  });
});

test('server names in a whole Caddy config', () => {
  const pol = (mode) => [{ client_authentication: { mode } }];
  const cfg = { apps: { http: { servers: {
    srv0: { listen: [':443'], tls_connection_policies: pol('request') },
    srv1: { listen: [':8443'], tls_connection_policies: pol('require') },
  } } } };
  throwsMtls(() => new Context(cfg), 'AMBIGUOUS_SERVER');
  throwsMtls(() => new Context(cfg, { server: 'nope' }), 'UNKNOWN_SERVER');
  const a = new Context(cfg, { server: 'srv1' });
  assert.equal(a.policyMode(0), mtls.Mode.REQUIRE);
  a.close();
  assert.throws(() => new Context(cfg, { server: 42 }), TypeError);
});

test('file errors', () => {
  const missing = path.join(os.tmpdir(), 'mtls-node-no-such-policy.json');
  throwsMtls(() => Context.fromFile(missing), 'FILE_OPEN', (e) => {
    assert.equal(e.categoryName, 'io');
    assert.ok(e.message.includes(missing));
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mtls-node-err-'));
  try {
    const f = path.join(dir, 'bad.json');
    fs.writeFileSync(f, '{"mode": "require",}');
    throwsMtls(() => Context.fromFile(f), 'JSON_SYNTAX', (e) => assert.equal(e.line, 1));
    // A policy file that names PEM files of its own.
    fs.writeFileSync(f, JSON.stringify({ trusted_ca_certs_pem_files: [h.pki('root-ca.pem')] }));
    const ctx = Context.fromFile(f);
    assert.equal(ctx.policyMode(0), mtls.Mode.REQUIRE_AND_VERIFY);
    ctx.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('bad arguments', () => {
  const ctx = new Context({ mode: 'request' });
  throwsMtls(() => ctx.verify(null, { policyIndex: 1 }), 'INVALID_ARGUMENT', (e) => {
    assert.equal(e.categoryName, 'usage');
    assert.match(e.message, /out of range/);
  });
  throwsMtls(() => ctx.verify(null, { policyIndex: -1 }), 'INVALID_ARGUMENT');
  throwsMtls(() => ctx.policyMode(5), 'INVALID_ARGUMENT');
  throwsMtls(() => ctx.setMaxDepth(65), 'INVALID_ARGUMENT');
  throwsMtls(() => ctx.setMaxDepth(-1), 'INVALID_ARGUMENT');
  throwsMtls(() => ctx.setPurpose(9), 'INVALID_ARGUMENT');
  throwsMtls(() => ctx.setPurpose('email'), 'INVALID_ARGUMENT');
  assert.equal(ctx.setPurpose('server').setMaxDepth(0), ctx); // chainable
  assert.throws(() => ctx.verify(42), TypeError);
  assert.throws(() => ctx.verify([['nested']]), TypeError);
  assert.throws(() => ctx.verify(new Uint16Array(4)), TypeError);
  assert.throws(() => ctx.verify(null, { at: 'yesterday' }), TypeError);
  throwsMtls(() => ctx.verify(null, { at: new Date('nonsense') }), 'INVALID_ARGUMENT');
  assert.throws(() => new Context(42), TypeError);
  ctx.close();
});

test('malformed PEM input raises the PEM codes', () => {
  const ctx = new Context({ mode: 'request' });
  throwsMtls(() => ctx.verify('hello'), 'PEM_NO_CERTIFICATE');
  throwsMtls(() => ctx.verify('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'),
             'PEM_NO_CERTIFICATE');
  throwsMtls(() => ctx.verify('-----BEGIN CERTIFICATE-----\nAAAA\n'), 'PEM_MALFORMED');
  throwsMtls(() => ctx.verify('-----BEGIN CERTIFICATE-----\nAAAA\n-----END X509 CRL-----\n'),
             'PEM_MALFORMED');
  throwsMtls(() => ctx.verify('-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n'),
             'BASE64_INVALID');
  throwsMtls(() => ctx.verify(['']), 'PEM_NO_CERTIFICATE');
  // PEM given as bytes is recognised too, and non-certificate blocks are skipped.
  const c = h.findCase('basic/request');
  const withKey = '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' + c.chain_pem;
  for (const chain of [Buffer.from(c.chain_pem), withKey, [c.chain_pem]]) {
    assert.deepEqual(h.compare(ctx.verify(chain, { at: c.at }), c), []);
  }
  assert.deepEqual(mtls.parseChain(withKey), h.ders(c));
  ctx.close();
});

test('bytes that are not a certificate are a refusal, not an error', () => {
  const c = h.findCase('garbage/require_and_verify');
  const ctx = new Context(c.policy);
  const r = ctx.verify(Buffer.from('3003020105', 'hex'), { at: c.at });
  assert.deepEqual(h.compare(r, c), []);
  assert.equal(r.subject, null);
  ctx.close();
});

test('a closed Context refuses every call; close() is idempotent', () => {
  const ctx = new Context({ mode: 'request' });
  ctx.close();
  ctx.close();
  assert.equal(ctx.closed, true);
  for (const fn of [() => ctx.verify(null), () => ctx.describe(), () => ctx.numPolicies,
                    () => ctx.select('a', null, null), () => ctx.setMaxDepth(1),
                    () => ctx.shareHandle()]) {
    throwsMtls(fn, 'INVALID_ARGUMENT', (e) => assert.match(e.message, /closed/));
  }
});

test('options are frozen once a Context is shared', () => {
  const ctx = new Context({ mode: 'request' });
  const handle = ctx.shareHandle();
  throwsMtls(() => ctx.setMaxDepth(2), 'INVALID_ARGUMENT', (e) => assert.match(e.message, /shared/));
  const other = Context.fromSharedHandle(handle);
  throwsMtls(() => other.setPurpose('server'), 'INVALID_ARGUMENT');
  ctx.close();
  assert.equal(other.verify(null).accepted, true); // still alive: it holds its own reference
  other.close();
  assert.throws(() => Context.fromSharedHandle(0n), TypeError);
});

test('error names, messages and categories of the whole code table', () => {
  assert.equal(mtls.errorName(0), 'OK');
  assert.equal(mtls.errorName(103), 'CERT_EXPIRED');
  assert.equal(mtls.errorName(99999), 'UNKNOWN');
  assert.equal(mtls.strerror(105), 'certificate signed by unknown authority');
  assert.equal(mtls.categoryOf(100), mtls.Category.DENIED);
  const e = new MtlsError(114, 'custom');
  assert.equal(e.codeName, 'LEAF_NOT_PINNED');
  assert.equal(e.categoryName, 'denied');
  assert.equal(e.message, 'custom');
  assert.equal(e.line, -1);
  assert.equal(e.where, '');
  assert.ok(e.stack.includes('MtlsError'));
});

test('setPurpose and setMaxDepth change verdicts', () => {
  const eku = h.findCase('eku-server/require_and_verify');
  const ctx = new Context(eku.policy).setPurpose('server');
  assert.equal(ctx.verify(h.ders(eku), { at: eku.at }).accepted, true);
  ctx.close();
  const chain = h.findCase('long-chain/require_and_verify');
  const deep = new Context(chain.policy).setMaxDepth(1);
  const r = deep.verify(h.ders(chain), { at: chain.at });
  assert.equal(r.accepted, false);
  assert.equal(r.reason, 'CHAIN_TOO_LONG');
  deep.close();
});
