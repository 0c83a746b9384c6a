'use strict';
// Which TLS library do libmtls's calls reach inside node? (DESIGN.md §4)
// node exports the OpenSSL it carries (or, for Debian's nodejs, has libcrypto.so.3 in the
// global scope), and Debian's BoringSSL exports the same names unversioned. The binding
// loads libmtls with RTLD_DEEPBIND; in the BoringSSL build these tests prove that it matters
// and that it works. In the OpenSSL build (-Dtls_backend=openssl; meson sets
// MTLS_EXPECT_TLS_LIBRARY) libmtls links the system's libssl.so.3, which Debian's node uses
// too: sharing it is right, so they check that libmtls reports that OpenSSL with and
// without deep binding and that the process maps a single libcrypto.

const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const h = require('./helpers');
const mtls = require('..');
const native = require('../lib/native');

// A fresh node process that dlopens libmtls through koffi with or without deep binding
// and prints what mtls_tls_library() reports there, and how many distinct libcrypto files
// it maps.
function childTlsLibrary(deep) {
  const script = `
    const native = require(${JSON.stringify(path.join(__dirname, '..', 'lib', 'native.js'))});
    const { fn } = native.open(process.env.MTLS_LIBRARY, ${deep});
    const tls = fn.tlsLibrary();
    const maps = require('node:fs').readFileSync('/proc/self/maps', 'utf8').split('\\n');
    const crypto = new Set(maps.map((l) => l.split(/\\s+/).slice(5).join(' '))
      .filter((f) => f.includes('/libcrypto.so')));
    process.stdout.write(JSON.stringify({ tls, node: process.versions.openssl,
                                          libcrypto: crypto.size }));
  `;
  const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30000 });
  return JSON.parse(out);
}

test('the binding runs libmtls on the TLS library it was built with', () => {
  assert.ok(h.isExpectedTlsLibrary(mtls.tlsLibrary()),
            `${mtls.tlsLibrary()}, want ${h.EXPECTED_TLS_LIBRARY}`);
  assert.equal(native.pinned(), true, 'libmtls is not pinned with RTLD_NODELETE');
});

test('the hazard is real: without RTLD_DEEPBIND libmtls reaches node\'s OpenSSL',
  { skip: h.OPENSSL_BUILD && 'the OpenSSL build shares node\'s OpenSSL by design' }, (t) => {
    const plain = childTlsLibrary(false);
    t.diagnostic(`plain dlopen: mtls_tls_library() = ${JSON.stringify(plain.tls)} ` +
                 `(node's process.versions.openssl = ${plain.node})`);
    assert.match(plain.tls, /^OpenSSL \d+\.\d+\.\d+/);
    assert.notEqual(plain.tls, 'BoringSSL');
    const deep = childTlsLibrary(true);
    t.diagnostic(`RTLD_DEEPBIND: mtls_tls_library() = ${JSON.stringify(deep.tls)}`);
    assert.equal(deep.tls, 'BoringSSL');
  });

test('the OpenSSL build shares node\'s OpenSSL, with or without RTLD_DEEPBIND',
  { skip: !h.OPENSSL_BUILD && 'BoringSSL build: the test above' }, (t) => {
    const plain = childTlsLibrary(false);
    const deep = childTlsLibrary(true);
    t.diagnostic(`plain dlopen: ${JSON.stringify(plain)}; RTLD_DEEPBIND: ${JSON.stringify(deep)}`);
    for (const r of [plain, deep]) {
      assert.ok(h.isExpectedTlsLibrary(r.tls), `${r.tls}, want ${h.EXPECTED_TLS_LIBRARY}`);
      assert.equal(r.libcrypto, 1, 'one libcrypto mapped (libmtls uses node\'s)');
    }
    assert.equal(plain.tls, deep.tls);
    // ... so loading the binding raises no MTLS_TLS_LIBRARY warning (native.js asks the
    // libcrypto directly, which gives the same answer).
    const script = `
      let warned = 0;
      process.on('warning', (w) => { warned += w.code === 'MTLS_TLS_LIBRARY'; });
      require(${JSON.stringify(path.join(__dirname, '..'))}).tlsLibrary();
      setTimeout(() => process.stdout.write(String(warned)), 50);
    `;
    assert.equal(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }), '0');
  });

test('a verification in this process gives the table\'s verdict (same TLS library)', () => {
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
