'use strict';
// Which TLS library do libmtls's calls reach inside node? (DESIGN.md §4)
// node exports the OpenSSL it carries (or, for Debian's nodejs, has libcrypto.so.3 in the
// global scope), and Debian's BoringSSL exports the same names unversioned. The binding
// loads libmtls with RTLD_DEEPBIND; these tests prove that it matters and that it works.

const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const h = require('./helpers');
const mtls = require('..');
const native = require('../lib/native');

// A fresh node process that dlopens libmtls through koffi with or without deep binding
// and prints what mtls_tls_library() reports there.
function childTlsLibrary(deep) {
  const script = `
    const native = require(${JSON.stringify(path.join(__dirname, '..', 'lib', 'native.js'))});
    const { fn } = native.open(process.env.MTLS_LIBRARY, ${deep});
    process.stdout.write(JSON.stringify({ tls: fn.tlsLibrary(), node: process.versions.openssl }));
  `;
  const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30000 });
  return JSON.parse(out);
}

test('the binding runs libmtls on BoringSSL', () => {
  assert.equal(mtls.tlsLibrary(), 'BoringSSL');
  assert.equal(native.pinned(), true, 'libmtls is not pinned with RTLD_NODELETE');
});

test('the hazard is real: without RTLD_DEEPBIND libmtls reaches node\'s OpenSSL', (t) => {
  const plain = childTlsLibrary(false);
  t.diagnostic(`plain dlopen: mtls_tls_library() = ${JSON.stringify(plain.tls)} ` +
               `(node's process.versions.openssl = ${plain.node})`);
  assert.match(plain.tls, /^OpenSSL \d+\.\d+\.\d+/);
  assert.notEqual(plain.tls, 'BoringSSL');
  const deep = childTlsLibrary(true);
  t.diagnostic(`RTLD_DEEPBIND: mtls_tls_library() = ${JSON.stringify(deep.tls)}`);
  assert.equal(deep.tls, 'BoringSSL');
});

test('a verification in this process gives the table\'s verdict (it ran on BoringSSL)', () => {
  // Ed25519 and RSA leaves, an expired one and an unknown issuer: signatures and time checks
  // done by the TLS library must agree with the C table byte for byte.
  for (const name of ['ed25519/require_and_verify', 'rsa2048/require_and_verify',
                      'expired/require_and_verify', 'untrusted-ca/require_and_verify',
                      'via-int-sent/require_and_verify']) {
    const c = h.findCase(name);
    const ctx = new mtls.Context(c.policy);
    assert.deepEqual(h.compare(ctx.verify(c.chain_pem, { at: c.at }), c), [], name);
    ctx.close();
  }
  assert.equal(mtls.tlsLibrary(), h.table().tls_library);
});
