'use strict';
// Shared by the tests, the leak script and bench.js: where the built library, the
// conformance table and the test PKI are, and how a Result is compared with a table case.
//
// meson sets MTLS_LIBRARY, MTLS_CONFORMANCE, MTLS_PKI_DIR (and MTLS_INCLUDE_DIR). For
// `npm test` by hand, MTLS_BUILD_DIR=/path/to/meson/build fills in whichever is unset.

const fs = require('node:fs');
const path = require('node:path');

function env() {
  const build = process.env.MTLS_BUILD_DIR;
  const pick = (name, rel) => {
    if (process.env[name]) {
      return process.env[name];
    }
    if (build) {
      const p = path.join(build, rel);
      process.env[name] = p; // so that child processes and workers see it too
      return p;
    }
    throw new Error(`${name} is not set (run through meson, or set MTLS_BUILD_DIR)`);
  };
  return {
    library: pick('MTLS_LIBRARY', 'libmtls/libmtls.so.0'),
    conformance: pick('MTLS_CONFORMANCE', 'bindings/conformance/conformance.json'),
    pkiDir: pick('MTLS_PKI_DIR', 'libmtls/tests/pki'),
  };
}

const ENV = env();

// What mtls_tls_library() must say in this build: meson sets MTLS_EXPECT_TLS_LIBRARY
// ("BoringSSL", or "OpenSSL 3" for -Dtls_backend=openssl, whose libmtls links the system's
// libssl.so.3, the one node uses too); it matches exactly or followed by "." and the rest
// of the version ("OpenSSL 3.0.19 27 Jan 2026").
const EXPECTED_TLS_LIBRARY = process.env.MTLS_EXPECT_TLS_LIBRARY || 'BoringSSL';
const OPENSSL_BUILD = EXPECTED_TLS_LIBRARY.startsWith('OpenSSL');
function isExpectedTlsLibrary(name) {
  return name === EXPECTED_TLS_LIBRARY || name.startsWith(`${EXPECTED_TLS_LIBRARY}.`);
}

let tableCache = null;
function table() {
  if (tableCache === null) {
    tableCache = JSON.parse(fs.readFileSync(ENV.conformance, 'utf8'));
    if (tableCache.format !== 1) {
      throw new Error(`conformance table format ${tableCache.format}, this runner reads 1`);
    }
  }
  return tableCache;
}

function findCase(name) {
  const c = table().cases.find((x) => x.name === name);
  if (c === undefined) {
    throw new Error(`no case ${name} in the conformance table`);
  }
  return c;
}

function ders(c) {
  return c.chain_der_b64.map((s) => Buffer.from(s, 'base64'));
}

// Every input form of a case's chain that applies: [formName, value].
function chainForms(c) {
  const list = ders(c);
  const forms = [['pem', c.chain_pem], ['der-list', list]];
  if (list.length === 1) {
    forms.push(['der', list[0]]);
  } else if (list.length === 0) {
    forms.push(['null', null]);
  } else {
    forms.push(['uint8array-list', list.map((b) => new Uint8Array(b))]);
  }
  return forms;
}

// compare(result, c) -> list of differences from c.expect ([] = conforms), byte for byte.
function compare(r, c) {
  const e = c.expect;
  const diffs = [];
  const eq = (what, got, want) => {
    if (got !== want) {
      diffs.push(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    }
  };
  eq('accepted', r.accepted, e.accepted);
  eq('verified', r.verified, e.verified);
  eq('has_certificate', r.hasCertificate, e.has_certificate);
  eq('reason', r.reason, e.reason);
  eq('reason_code', r.reasonCode, e.reason_code);
  eq('category', r.category, e.category);
  eq('message', r.message, e.message);
  eq('mode', r.mode, e.mode);
  eq('num_chain', r.chain.length, e.num_chain);
  eq('policy_index', r.policyIndex, c.policy_index);
  const want = e.identity_b64;
  const got = r.identityBytes;
  for (const k of Object.keys(want)) {
    if (!(k in got)) {
      diffs.push(`identity ${k}: missing`);
    } else if (!got[k].equals(Buffer.from(want[k], 'base64'))) {
      diffs.push(`identity ${k}: got ${JSON.stringify(got[k].toString('utf8'))} ` +
                 `(${got[k].toString('hex')}), want ` +
                 `${JSON.stringify(Buffer.from(want[k], 'base64').toString('utf8'))}`);
    }
  }
  for (const k of Object.keys(want)) {
    // The string form too, wherever the expected bytes are valid UTF-8 (all, so far).
    const bytes = Buffer.from(want[k], 'base64');
    const text = bytes.toString('utf8');
    if (Buffer.from(text, 'utf8').equals(bytes) && r.identity[k] !== text) {
      diffs.push(`identity ${k}: string ${JSON.stringify(r.identity[k])}, want ${JSON.stringify(text)}`);
    }
  }
  for (const k of Object.keys(got)) {
    if (!(k in want)) {
      diffs.push(`identity ${k}: extra key`);
    }
  }
  return diffs;
}

function pki(file) {
  return path.join(ENV.pkiDir, file);
}

// The test PKI's manifest.tsv as objects (name, cert, key, chain, trust, expect, reason).
function manifest() {
  const lines = fs.readFileSync(pki('manifest.tsv'), 'utf8').trim().split('\n');
  const cols = lines[0].split('\t');
  return lines.slice(1).map((l) => Object.fromEntries(l.split('\t').map((v, i) => [cols[i], v])));
}

module.exports = {
  ENV, EXPECTED_TLS_LIBRARY, OPENSSL_BUILD, isExpectedTlsLibrary, table, findCase, ders,
  chainForms, compare, pki, manifest,
};
