'use strict';
// lib/chain.js - turns what callers pass as a certificate chain into a list of DER Buffers.
//
// Accepted (leaf first in every form):
//   - a string of PEM text with one or more CERTIFICATE blocks ("" = no certificate);
//   - a Buffer / Uint8Array / ArrayBuffer of one DER certificate (or of PEM text: bytes
//     starting with "-----BEGIN" are read as PEM);
//   - an object with a `raw` Buffer (crypto.X509Certificate, tls getPeerCertificate());
//   - an array of any of the above; null / undefined / [] = no certificate.
// Malformed PEM raises the same codes as libmtls's PEM reader (PEM_NO_CERTIFICATE,
// PEM_MALFORMED, BASE64_INVALID); DER bytes are passed through unparsed (libmtls judges them).

const PEM_RE = /-----BEGIN ([A-Z0-9 ]+)-----([^-]*)-----END ([A-Z0-9 ]+)-----/g;
const B64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
const PEM_MARK = Buffer.from('-----BEGIN');

// makeError(code, message) is supplied by index.js (MtlsError with the library's names).
function parsePem(text, makeError) {
  const out = [];
  let sawBlock = false;
  PEM_RE.lastIndex = 0;
  let m;
  while ((m = PEM_RE.exec(text)) !== null) {
    sawBlock = true;
    if (m[1] !== m[3]) {
      throw makeError('PEM_MALFORMED', `PEM block BEGIN ${m[1]} ends with END ${m[3]}`);
    }
    if (m[1] !== 'CERTIFICATE') {
      continue; // keys, CSRs, ... next to the certificates are skipped, as OpenSSL does
    }
    const body = m[2].replace(/[\r\n\t ]/g, '');
    if (!B64_RE.test(body) || body.length % 4 !== 0 || body.length === 0) {
      throw makeError('BASE64_INVALID', `invalid base64 in CERTIFICATE block ${out.length}`);
    }
    out.push(Buffer.from(body, 'base64'));
  }
  if (out.length === 0) {
    if (text.includes('-----BEGIN') && !sawBlock) {
      throw makeError('PEM_MALFORMED', 'unterminated PEM block');
    }
    throw makeError('PEM_NO_CERTIFICATE', 'no CERTIFICATE block in the PEM text');
  }
  return out;
}

function fromBytes(u8, makeError) {
  const b = Buffer.isBuffer(u8) ? u8 : Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
  if (b.length >= PEM_MARK.length && b.subarray(0, PEM_MARK.length).equals(PEM_MARK)) {
    return parsePem(b.toString('latin1'), makeError);
  }
  return [b];
}

function one(item, makeError, depth) {
  if (typeof item === 'string') {
    return item === '' && depth === 0 ? [] : parsePem(item, makeError);
  }
  if (item instanceof ArrayBuffer) {
    return fromBytes(new Uint8Array(item), makeError);
  }
  if (ArrayBuffer.isView(item)) {
    if (!(item instanceof Uint8Array)) {
      throw new TypeError('a certificate must be a Uint8Array/Buffer, not another typed array');
    }
    return fromBytes(item, makeError);
  }
  if (item !== null && typeof item === 'object' && item.raw !== undefined &&
      ArrayBuffer.isView(item.raw)) {
    return [Buffer.from(item.raw.buffer, item.raw.byteOffset, item.raw.byteLength)];
  }
  throw new TypeError('a certificate chain is PEM text, DER bytes, an object with a `raw` ' +
                      'Buffer, or an array of these');
}

// toDerList(chain, makeError) -> Buffer[] (views of the caller's memory, not copies).
function toDerList(chain, makeError) {
  if (chain === null || chain === undefined) {
    return [];
  }
  if (Array.isArray(chain)) {
    const out = [];
    for (const item of chain) {
      for (const der of one(item, makeError, 1)) {
        out.push(der);
      }
    }
    return out;
  }
  return one(chain, makeError, 0);
}

module.exports = { toDerList, parsePem };
