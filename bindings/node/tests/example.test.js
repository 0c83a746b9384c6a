'use strict';
// examples/https-server.js on 127.0.0.1 with real TLS clients (curl): accepted and refused
// client certificates of the test PKI, with the identity and reasons libmtls gives.

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn, execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const h = require('./helpers');
const mtls = require('..');

const SERVER = path.join(__dirname, '..', 'examples', 'https-server.js');

function startServer(policyFile) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SERVER, '--policy', policyFile,
                                           '--cert', h.pki('server.pem'),
                                           '--key', h.pki('server.key.pem'),
                                           '--host', '127.0.0.1', '--port', '0'],
                        { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start: ${out} ${err}`));
    }, 20000);
    child.stderr.on('data', (d) => { err += d; });
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on https:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m && timer) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]), log: () => out, errors: () => err });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}): ${out} ${err}`));
    });
  });
}

function stopServer(s) {
  return new Promise((resolve) => {
    if (s.child.exitCode !== null || s.child.signalCode !== null) {
      resolve(s.child.exitCode);
      return;
    }
    const kill = setTimeout(() => s.child.kill('SIGKILL'), 5000);
    s.child.removeAllListeners('exit');
    s.child.on('exit', (code) => { clearTimeout(kill); resolve(code); });
    s.child.kill('SIGTERM');
  });
}

// curl the server with client certificate `cert`/`key` (files of the PKI, or none).
function curl(port, cert, key) {
  const args = ['-sS', '--max-time', '10', '--noproxy', '*', '--cacert', h.pki('server-ca.pem'),
                '-o', '-', '-w', '\n%{http_code}'];
  if (cert) {
    args.push('--cert', h.pki(cert), '--key', h.pki(key));
  }
  args.push(`https://127.0.0.1:${port}/`);
  return new Promise((resolve, reject) => {
    execFile('curl', args, { timeout: 20000 }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`curl ${cert}: ${error.message} ${stderr}`));
        return;
      }
      const nl = stdout.lastIndexOf('\n');
      resolve({ status: Number(stdout.slice(nl + 1)), body: JSON.parse(stdout.slice(0, nl)) });
    });
  });
}

test('the example HTTPS server accepts and refuses as the policy says', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mtls-node-example-'));
  const policy = path.join(dir, 'policy.json');
  fs.writeFileSync(policy, JSON.stringify({
    mode: 'require_and_verify',
    trusted_ca_certs_pem_files: [h.pki('root-ca.pem')],
  }));
  const s = await startServer(policy);
  try {
    const ok = async (name, cert, key) => {
      const r = await curl(s.port, cert, key);
      assert.equal(r.status, 200, `${name}: ${JSON.stringify(r.body)}`);
      const want = mtls.inspect(fs.readFileSync(h.pki(cert), 'utf8'));
      assert.equal(r.body.subject, want.subject, name);
      assert.equal(r.body.fingerprint, want.fingerprint, name);
      assert.deepEqual(r.body.sanDnsNames, want.sanDnsNames, name);
      assert.equal(r.body.verified, true, name);
      return r.body;
    };
    const refused = async (name, cert, key, reason) => {
      const r = await curl(s.port, cert, key);
      assert.equal(r.status, 403, `${name}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.reason, reason, name);
    };
    await ok('basic', 'basic.pem', 'basic.key.pem');
    const san = await ok('san', 'san.pem', 'san.key.pem');
    assert.deepEqual(san.sanUris, ['spiffe://example.org/ns/prod/sa/alice']);
    assert.equal(san.spiffeId, 'spiffe://example.org/ns/prod/sa/alice');
    // The intermediate reaches libmtls through node's issuerCertificate links.
    await ok('via-int-sent', 'via-int-sent.chain.pem', 'via-int.key.pem');
    await refused('via-int-not-sent', 'via-int.pem', 'via-int.key.pem', 'UNKNOWN_ISSUER');
    await refused('expired', 'expired.pem', 'expired.key.pem', 'CERT_EXPIRED');
    await refused('untrusted-ca', 'untrusted-ca.pem', 'untrusted-ca.key.pem', 'UNKNOWN_ISSUER');
    await refused('eku-server', 'eku-server.pem', 'eku-server.key.pem', 'WRONG_EKU');
    await refused('no certificate', null, null, 'NO_CERTIFICATE');
    t.diagnostic(s.log().trim().split('\n').join(' | '));
    const lib = h.EXPECTED_TLS_LIBRARY.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    assert.match(s.log(), new RegExp(`libmtls .* on ${lib}`));
    assert.equal((s.log().match(/ accept /g) || []).length, 3);
    assert.equal((s.log().match(/ refuse /g) || []).length, 5);
  } finally {
    const code = await stopServer(s);
    fs.rmSync(dir, { recursive: true, force: true });
    assert.equal(code, 0, s.errors());
  }
});
