'use strict';
// inspect(), select(), describe(), policy fields, version and library location.

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');

const h = require('./helpers');
const mtls = require('..');
const { Context } = mtls;

test('inspect() gives the identity of a certificate without verification', () => {
  const pem = fs.readFileSync(h.pki('san.pem'), 'utf8');
  const san = h.findCase('san/require');
  const want = (k) => Buffer.from(san.expect.identity_b64[k], 'base64');
  for (const input of [pem, fs.readFileSync(h.pki('san.der')), new crypto.X509Certificate(pem),
                       [fs.readFileSync(h.pki('san.der'))]]) {
    const r = mtls.inspect(input);
    assert.equal(r.verified, false);
    assert.equal(r.modeName, 'require');
    // Not verified: the verification-independent placeholders equal the table's.
    for (const k of Object.keys(san.expect.identity_b64)) {
      if (k !== 'http.request.tls.client.verified') {
        assert.ok(r.identityBytes[k].equals(want(k)), k);
      }
    }
    assert.deepEqual(r.sanDnsNames, ['alice.example.org', 'www.alice.example.org']);
    assert.deepEqual(r.sanUris, ['spiffe://example.org/ns/prod/sa/alice']);
    assert.equal(r.spiffeId, 'spiffe://example.org/ns/prod/sa/alice');
    assert.equal(r.subject, 'CN=alice,O=Example Org');
  }
  // Node's own parse agrees on the fingerprint and validity.
  const x = new crypto.X509Certificate(pem);
  const r = mtls.inspect(x);
  assert.equal(r.fingerprint, x.fingerprint256.replace(/:/g, '').toLowerCase());
  assert.equal(r.notAfter.getTime(), new Date(x.validTo).getTime());
  assert.equal(r.notBefore.getTime(), new Date(x.validFrom).getTime());
  assert.equal(BigInt(r.serial), BigInt('0x' + x.serialNumber));
});

test('inspect() of an expired or untrusted certificate still works; garbage throws', () => {
  assert.equal(mtls.inspect(fs.readFileSync(h.pki('expired.pem'), 'utf8')).accepted, true);
  assert.equal(mtls.inspect(fs.readFileSync(h.pki('untrusted-ca.pem'))).subject.length > 0, true);
  assert.throws(() => mtls.inspect(Buffer.from('3003020105', 'hex')),
                (e) => e instanceof mtls.MtlsError && e.codeName === 'CERT_PARSE');
  assert.throws(() => mtls.inspect(null),
                (e) => e instanceof mtls.MtlsError && e.codeName === 'INVALID_ARGUMENT');
});

const MULTI = {
  apps: { http: { servers: { srv0: { listen: [':443'], tls_connection_policies: [
    { match: { sni: ['a.example'] }, client_authentication: { mode: 'request' } },
    { match: { sni: ['b.example'], remote_ip: { ranges: ['10.0.0.0/8'] } },
      client_authentication: { mode: 'require' }, alpn: ['h2', 'http/1.1'] },
    { match: { remote_ip: { ranges: ['192.0.2.0/24', '2001:db8::/32'] } },
      client_authentication: { mode: 'request' }, protocol_min: 'tls1.3' },
  ] } } } },
};

test('select() picks the first policy whose matchers all match, -1 for none', () => {
  const ctx = new Context(MULTI);
  assert.equal(ctx.numPolicies, 3);
  assert.equal(ctx.select('a.example', '10.1.2.3', null), 0);
  assert.equal(ctx.select('A.EXAMPLE', null, null), 0);
  assert.equal(ctx.select('b.example', '10.1.2.3', '127.0.0.1'), 1);
  assert.equal(ctx.select('b.example', '192.0.2.7'), 2);
  assert.equal(ctx.select(null, '2001:db8::1', null), 2);
  assert.equal(ctx.select('b.example', null, null), -1);
  assert.equal(ctx.select('', undefined, undefined), -1);
  assert.equal(ctx.select('x', 'not-an-ip', null), -1); // an unparsable IP matches no range
  assert.deepEqual([0, 1, 2].map((i) => ctx.policyMode(i)),
                   [mtls.Mode.REQUEST, mtls.Mode.REQUIRE, mtls.Mode.REQUEST]);
  assert.deepEqual(ctx.policyField(1, 'alpn'), ['h2', 'http/1.1']);
  assert.equal(ctx.policyField(2, 'protocol_min'), 'tls1.3');
  assert.equal(ctx.policyField(0, 'alpn'), undefined);
  ctx.close();
});

test('verify() under a selected policy reports that policy', () => {
  const c = h.findCase('multi/basic@1');
  const ctx = new Context(c.policy);
  const i = ctx.select('b.example', '127.0.0.1', null);
  assert.equal(i, 1);
  const r = ctx.verify(c.chain_pem, { at: c.at, policyIndex: i });
  assert.equal(r.policyIndex, 1);
  assert.deepEqual(h.compare(r, c), []);
  ctx.close();
});

test('describe() renders the effective policy set', () => {
  const root = fs.readFileSync(h.pki('root-ca.der'));
  const ctx = new Context({ mode: 'verify_if_given', trusted_ca_certs: [root.toString('base64')] });
  const d = ctx.describe();
  assert.equal(d.policies.length, 1);
  const p = d.policies[0];
  assert.equal(p.index, 0);
  assert.equal(p.mode, 'verify_if_given');
  assert.equal(p.mode_explicit, true);
  assert.equal(p.system_roots, false);
  assert.equal(p.trust_anchors.length, 1);
  const x = new crypto.X509Certificate(root);
  assert.equal(p.trust_anchors[0].sha256, crypto.createHash('sha256').update(root).digest('hex'));
  assert.equal(p.trust_anchors[0].self_signed, true);
  assert.equal(new Date(p.trust_anchors[0].not_after).getTime(), new Date(x.validTo).getTime());
  assert.equal(p.trust_anchors[0].subject, 'CN=Test Root CA,O=libmtls tests');
  assert.deepEqual(new Context(MULTI).describe().policies[1].match.sni, ['b.example']);
  ctx.close();
});

test('version, TLS library and library path', () => {
  assert.match(mtls.version(), /^\d+\.\d+\.\d+/);
  assert.ok(h.isExpectedTlsLibrary(mtls.tlsLibrary()),
            `${mtls.tlsLibrary()}, want ${h.EXPECTED_TLS_LIBRARY}`);
  assert.equal(mtls.libraryPath(), process.env.MTLS_LIBRARY);
  const names = mtls.placeholderNames();
  assert.ok(names.includes('http.request.tls.client.subject'));
  assert.ok(Object.isFrozen(names));
  assert.equal(mtls.modeName(mtls.Mode.REQUIRE_AND_VERIFY), 'require_and_verify');
});

test('Results are plain data: JSON and structuredClone work, no native memory', () => {
  const c = h.findCase('san/require_and_verify');
  const ctx = new Context(c.policy);
  const r = ctx.verify(c.chain_pem, { at: c.at });
  ctx.close(); // the Result outlives its Context
  const j = JSON.parse(JSON.stringify(r));
  assert.equal(j.accepted, true);
  assert.equal(j.identity['http.request.tls.client.subject'], 'CN=alice,O=Example Org');
  const clone = structuredClone(r);
  assert.ok(Buffer.from(clone.identityBytes['http.request.tls.client.subject'])
    .equals(r.identityBytes['http.request.tls.client.subject']));
});

test('library location: MTLS_LIBRARY first, then the dynamic loader', () => {
  const { execFileSync } = require('node:child_process');
  const path = require('node:path');
  const script = `const m = require(${JSON.stringify(path.join(__dirname, '..'))});
    try { process.stdout.write(JSON.stringify([m.libraryPath(), m.tlsLibrary()])); }
    catch (e) { process.stdout.write(JSON.stringify(['error', e.message])); }`;
  const run = (env) => JSON.parse(execFileSync(process.execPath, ['-e', script],
                                               { encoding: 'utf8', env, timeout: 30000 }));
  const base = { ...process.env };
  delete base.MTLS_LIBRARY;
  delete base.MTLS_BUILD_DIR;
  // Through the loader's search path (soname), as for an installed libmtls.
  const found = run({ ...base, LD_LIBRARY_PATH: path.dirname(process.env.MTLS_LIBRARY) });
  assert.equal(found[0], 'libmtls.so.0');
  assert.ok(h.isExpectedTlsLibrary(found[1]), `${found[1]}, want ${h.EXPECTED_TLS_LIBRARY}`);
  // A wrong MTLS_LIBRARY is an error naming it (no silent fallback to another copy).
  const missing = run({ ...base, MTLS_LIBRARY: '/nonexistent/libmtls.so.0' });
  assert.equal(missing[0], 'error');
  assert.match(missing[1], /MTLS_LIBRARY/);
  assert.match(missing[1], /nonexistent/);
});
