'use strict';
// libmtls for Node.js: Caddy-compatible verdicts on TLS client certificates, and the same
// identity strings (Caddy placeholders) as a C server or mtls-proxy, through koffi.
// README.md documents the API; index.d.ts types it. Every call is synchronous.

const native = require('./lib/native');
const { toDerList } = require('./lib/chain');

const { fns, copyBytes, ERROR_SIZE, ERROR_MESSAGE_OFFSET, ERROR_WHERE_OFFSET } = native;

/** Client authentication modes, as Caddy names them (mtls_mode). */
const Mode = Object.freeze({
  OFF: 0, REQUEST: 1, REQUIRE: 2, VERIFY_IF_GIVEN: 3, REQUIRE_AND_VERIFY: 4,
});
const MODE_NAMES = ['off', 'request', 'require', 'verify_if_given', 'require_and_verify'];

/** Error categories (mtls_category). */
const Category = Object.freeze({
  NONE: 0, USAGE: 1, POLICY: 2, TRUST: 3, VERIFY: 4, DENIED: 5, IO: 6, NOMEM: 7, INTERNAL: 8,
});
const CATEGORY_NAMES = ['none', 'usage', 'policy', 'trust', 'verify', 'denied', 'io', 'nomem',
                        'internal'];

/** What a verified chain must be good for (mtls_purpose). */
const Purpose = Object.freeze({ CLIENT: 1, SERVER: 2 });

// Codes the binding raises itself (same numbers as <mtls/errors.def>).
const CODES = Object.freeze({
  INVALID_ARGUMENT: 1, PEM_NO_CERTIFICATE: 40, PEM_MALFORMED: 42, BASE64_INVALID: 43,
});

const MTLS_TIME_NOW = -(2n ** 63n);
const SAN_LISTS = ['dns_names', 'emails', 'ips', 'uris'];
const CLIENT = 'http.request.tls.client.';

/**
 * MtlsError is thrown for every libmtls failure. `code` is the MTLS_ERR_* number,
 * `codeName` its name without the prefix (mtls_error_name: "JSON_SYNTAX", ...), `category`
 * the mtls_category number and `categoryName` its name; `line`/`column` locate a JSON
 * syntax error (1-based), else -1; `where` is the libmtls source location ("" when the
 * binding raised it). `name` stays "MtlsError", as Error subclasses conventionally do: the
 * library's name of the code is `codeName`.
 */
class MtlsError extends Error {
  constructor(code, message, { category, line = -1, column = -1, where = '' } = {}) {
    super(message);
    const f = fns();
    this.name = 'MtlsError';
    this.code = code;
    this.codeName = f.errorName(code);
    this.category = category === undefined ? f.categoryOf(code) : category;
    this.categoryName = CATEGORY_NAMES[this.category] || 'unknown';
    this.line = line;
    this.column = column;
    this.where = where;
  }
}

function bindingError(codeName, message) {
  return new MtlsError(CODES[codeName], message);
}

// One error buffer per thread (module instance): libmtls keeps the first error recorded,
// so its code is cleared before every call that may fill it.
const errBuf = Buffer.alloc(ERROR_SIZE);

function clearErr() {
  errBuf.writeInt32LE(0, 0);
  return errBuf;
}

function cString(buf, start, end) {
  const nul = buf.indexOf(0, start);
  return buf.toString('utf8', start, nul < 0 || nul > end ? end : nul);
}

function lastError(fallbackCode) {
  let code = errBuf.readInt32LE(0);
  if (code === 0) {
    code = fallbackCode;
    return new MtlsError(code, fns().strerror(code));
  }
  return new MtlsError(code, cString(errBuf, ERROR_MESSAGE_OFFSET, ERROR_WHERE_OFFSET), {
    category: errBuf.readInt32LE(4),
    line: errBuf.readInt32LE(8),
    column: errBuf.readInt32LE(12),
    where: cString(errBuf, ERROR_WHERE_OFFSET, ERROR_SIZE),
  });
}

function check(status) {
  if (status !== 0) {
    throw lastError(status);
  }
}

function toUnixSeconds(at) {
  if (at === undefined || at === null) {
    return MTLS_TIME_NOW;
  }
  if (at instanceof Date) {
    const ms = at.getTime();
    if (!Number.isFinite(ms)) {
      throw bindingError('INVALID_ARGUMENT', 'verification time is an invalid Date');
    }
    return Math.floor(ms / 1000);
  }
  if (typeof at === 'bigint') {
    return at;
  }
  if (typeof at === 'number' && Number.isFinite(at)) {
    return Math.floor(at);
  }
  throw new TypeError('`at` is a Date, unix seconds (number or bigint), or null for now');
}

function toIndex(i, what) {
  if (!Number.isInteger(i) || i < 0) {
    throw bindingError('INVALID_ARGUMENT', `${what} must be a non-negative integer`);
  }
  return i;
}

let placeholderCache = null;

/** placeholderNames() lists every placeholder libmtls renders (without the `.N` forms). */
function placeholderNames() {
  if (placeholderCache === null) {
    const f = fns();
    const n = Number(f.placeholderCount());
    const names = [];
    for (let i = 0; i < n; i++) {
      names.push(f.placeholderName(i));
    }
    placeholderCache = Object.freeze(names);
  }
  return placeholderCache;
}

// Scratch output slots (one set per thread): a pointer at offset 0, a size_t at offset 8.
const scratch = Buffer.alloc(16);
const outPtr = scratch.subarray(0, 8);
const outLen = scratch.subarray(8, 16);
const readPtr = () => scratch.readBigUInt64LE(0);
const readLen = () => Number(scratch.readBigUInt64LE(8));

// Renders placeholder `name` of `peer`: a Buffer copy of the exact bytes, or null when the
// placeholder does not render (e.g. the fields of an unparsable certificate).
function peerGet(f, peer, name) {
  if (f.peerGet(peer, name, outPtr, outLen, clearErr()) !== 0) {
    return null;
  }
  return copyBytes(readPtr(), readLen());
}

function peerDerList(f, peer, count, get) {
  const n = Number(count(peer));
  const out = [];
  for (let i = 0; i < n; i++) {
    const p = get(peer, i, outLen);
    out.push(copyBytes(p, readLen()));
  }
  return out;
}

/**
 * Result: the verdict on one client and its identity. Everything is copied out of the
 * native mtls_peer, which is freed before verify() returns: a Result holds no native
 * memory, needs no close(), and may be kept, cloned or sent to another thread.
 */
class Result {
  #identity;

  constructor(f, peer) {
    this.accepted = f.peerAccepted(peer) === 1;
    this.verified = f.peerVerified(peer) === 1;
    this.hasCertificate = f.peerHasCertificate(peer) === 1;
    this.reasonCode = f.peerReason(peer);
    this.reason = f.errorName(this.reasonCode);
    this.category = f.categoryOf(this.reasonCode);
    this.message = f.peerMessage(peer);
    this.policyIndex = Number(f.peerPolicyIndex(peer));
    this.mode = f.peerMode(peer);
    this.errorDepth = f.peerErrorDepth(peer);
    this.presented = peerDerList(f, peer, f.peerNumCerts, f.peerCert);
    this.chain = peerDerList(f, peer, f.peerNumChain, f.peerChainCert);
    // identityBytes: every placeholder that renders, then the `.N` forms of the SAN lists
    // up to the first empty one: name -> exact bytes (Buffer).
    const bytes = Object.create(null);
    for (const name of placeholderNames()) {
      const v = peerGet(f, peer, name);
      if (v !== null) {
        bytes[name] = v;
      }
    }
    for (const list of SAN_LISTS) {
      const base = `${CLIENT}san.${list}`;
      if (!(base in bytes)) {
        continue;
      }
      for (let i = 0; ; i++) {
        const v = peerGet(f, peer, `${base}.${i}`);
        if (v === null || v.length === 0) {
          break;
        }
        bytes[`${base}.${i}`] = v;
      }
    }
    this.identityBytes = bytes;
    this.#identity = null;
  }

  /**
   * identity: name -> string, the UTF-8 decoding of identityBytes. A sequence that is not
   * valid UTF-8 would become U+FFFD here (Go's parser refuses invalid UTF8String and
   * converts the other string types, so none is expected): identityBytes keeps the bytes.
   */
  get identity() {
    if (this.#identity === null) {
      const out = Object.create(null);
      for (const [k, v] of Object.entries(this.identityBytes)) {
        out[k] = v.toString('utf8');
      }
      this.#identity = out;
    }
    return this.#identity;
  }

  get modeName() { return MODE_NAMES[this.mode]; }

  _text(name) {
    const v = this.identityBytes[CLIENT + name];
    return this.hasCertificate && v !== undefined ? v.toString('utf8') : null;
  }

  _list(name) {
    const out = [];
    for (let i = 0; ; i++) {
      const v = this.identityBytes[`${CLIENT}san.${name}.${i}`];
      if (v === undefined) {
        return out;
      }
      out.push(v.toString('utf8'));
    }
  }

  _date(name) {
    const v = this._text(name);
    return v ? new Date(v) : null;
  }

  /** Typed fields: null when there is no certificate or the field does not render. */
  get subject() { return this._text('subject'); }
  get issuer() { return this._text('issuer'); }
  get serial() { return this._text('serial'); }
  get fingerprint() { return this._text('fingerprint'); }
  get spiffeId() { return this._text('spiffe_id'); }
  get sanDnsNames() { return this._list('dns_names'); }
  get sanEmails() { return this._list('emails'); }
  get sanIps() { return this._list('ips'); }
  get sanUris() { return this._list('uris'); }
  get notBefore() { return this._date('not_before'); }
  get notAfter() { return this._date('not_after'); }

  toJSON() {
    return {
      accepted: this.accepted, verified: this.verified, hasCertificate: this.hasCertificate,
      reason: this.reason, reasonCode: this.reasonCode, category: this.category,
      message: this.message, policyIndex: this.policyIndex, mode: this.mode,
      errorDepth: this.errorDepth, identity: this.identity,
    };
  }
}

// Context lifetime: close() frees at once; otherwise the FinalizationRegistry drops the
// native reference some time after the Context becomes unreachable.
const registry = new FinalizationRegistry((ptr) => {
  fns().ctxFree(ptr);
});

function toPolicyBytes(json) {
  if (typeof json === 'string') {
    return Buffer.from(json, 'utf8');
  }
  if (json instanceof ArrayBuffer) {
    return Buffer.from(json);
  }
  if (ArrayBuffer.isView(json)) {
    return Buffer.from(json.buffer, json.byteOffset, json.byteLength);
  }
  if (json !== null && typeof json === 'object') {
    return Buffer.from(JSON.stringify(json), 'utf8');
  }
  throw new TypeError('a policy is JSON text (string or bytes) or a plain object');
}

function serverOf(options) {
  const server = options && options.server;
  if (server !== undefined && server !== null && typeof server !== 'string') {
    throw new TypeError('options.server must be a string');
  }
  return server === undefined ? null : server;
}

const ADOPT = Symbol('adopt');

/**
 * Context: a loaded policy set (Caddy tls_connection_policies with their trust anchors and
 * leaf pins). Build it with `new Context(json, {server})` or `Context.fromFile(path)`.
 * Set options (setPurpose, setMaxDepth) before the first verify and before sharing.
 */
class Context {
  constructor(json, options = {}) {
    if (json === ADOPT) {
      this._adopt(options);
      return;
    }
    const bytes = toPolicyBytes(json);
    const server = serverOf(options);
    this._adopt({ ptr: fns().ctxNewFromJson(bytes, bytes.length, server, clearErr()) });
  }

  /** Context.fromFile(path, {server}) loads the policy document at `path`. */
  static fromFile(file, options = {}) {
    if (typeof file !== 'string') {
      throw new TypeError('path must be a string');
    }
    const server = serverOf(options);
    return new Context(ADOPT, { ptr: fns().ctxNewFromFile(file, server, clearErr()) });
  }

  /**
   * Context.fromSharedHandle(handle) adopts a reference made by ctx.shareHandle(), usually
   * in another worker thread. Each handle must be adopted exactly once.
   */
  static fromSharedHandle(handle) {
    if (typeof handle !== 'bigint' || handle === 0n) {
      throw new TypeError('a shared handle is the bigint returned by shareHandle()');
    }
    return new Context(ADOPT, { ptr: handle, shared: true });
  }

  _adopt({ ptr, shared = false }) {
    if (ptr === null || ptr === 0n) {
      throw lastError(CODES.INVALID_ARGUMENT);
    }
    this._ptr = ptr;
    this._shared = shared;
    this._token = {};
    registry.register(this, ptr, this._token);
  }

  _live() {
    if (this._ptr === null) {
      throw bindingError('INVALID_ARGUMENT', 'the Context is closed');
    }
    return this._ptr;
  }

  _mutable() {
    const p = this._live();
    if (this._shared) {
      throw bindingError('INVALID_ARGUMENT',
                         'the Context is shared with other threads: set options before sharing');
    }
    return p;
  }

  /** close() frees the native context now (idempotent). Results stay valid. */
  close() {
    if (this._ptr !== null) {
      registry.unregister(this._token);
      fns().ctxFree(this._ptr);
      this._ptr = null;
    }
  }

  get closed() { return this._ptr === null; }

  /**
   * shareHandle() returns a new native reference to this context as a bigint, to post to a
   * worker thread, which adopts it with Context.fromSharedHandle(). A built context is
   * safe for concurrent verifies (mtls.h); after this call its options are frozen.
   */
  shareHandle() {
    const p = this._live();
    fns().ctxUpRef(p);
    this._shared = true;
    return p;
  }

  /** numPolicies: how many connection policies the context holds (>= 1). */
  get numPolicies() { return Number(fns().ctxNumPolicies(this._live())); }

  /** policyMode(i): the effective Mode of policy i (after Caddy's defaults). */
  policyMode(index = 0) {
    const m = fns().ctxPolicyMode(this._live(), toIndex(index, 'policy index'));
    if (m < 0) {
      throw bindingError('INVALID_ARGUMENT', `policy index ${index} out of range`);
    }
    return m;
  }

  /**
   * policyField(i, name): the parsed JSON value of connection-policy field `name`
   * ("alpn", "protocol_min", ...) of policy i, or undefined when the policy does not set it.
   */
  policyField(index, name) {
    const text = fns().ctxPolicyField(this._live(), toIndex(index, 'policy index'), name);
    return text === null ? undefined : JSON.parse(text);
  }

  /**
   * select(sni, remoteIp, localIp): the index of the first policy whose matchers all match
   * this connection, or -1 when none does (Caddy then fails the handshake). Any argument
   * may be null/undefined (unknown).
   */
  select(sni, remoteIp, localIp) {
    const st = fns().ctxSelect(this._live(), sni ?? null, remoteIp ?? null, localIp ?? null,
                               outLen, clearErr());
    if (st === 101 /* NO_MATCHING_POLICY */) {
      return -1;
    }
    check(st);
    return readLen();
  }

  /** setPurpose('client' | 'server' | Purpose.X): the extended key usage verification requires. */
  setPurpose(purpose) {
    const p = purpose === 'client' ? Purpose.CLIENT
      : purpose === 'server' ? Purpose.SERVER : purpose;
    if (!Number.isInteger(p)) {
      throw bindingError('INVALID_ARGUMENT', `unknown purpose ${String(purpose)}`);
    }
    check(fns().ctxSetPurpose(this._mutable(), p, clearErr()));
    return this;
  }

  /** setMaxDepth(n): the most intermediates allowed between leaf and anchor (0..64). */
  setMaxDepth(n) {
    if (!Number.isInteger(n)) {
      throw bindingError('INVALID_ARGUMENT', 'max depth must be an integer');
    }
    check(fns().ctxSetMaxDepth(this._mutable(), n, clearErr()));
    return this;
  }

  /** describe(): the effective policy set as parsed JSON ({policies: [...]}). */
  describe() {
    const f = fns();
    check(f.ctxDescribeJson(this._live(), outPtr, outLen, clearErr()));
    const ptr = readPtr();
    try {
      return JSON.parse(copyBytes(ptr, readLen()).toString('utf8'));
    } finally {
      f.free(ptr);
    }
  }

  /**
   * verify(chain, {at, policyIndex}): judges a client certificate chain (PEM text, DER
   * bytes, an array of DER, X509Certificate / getPeerCertificate() objects; leaf first;
   * null or [] = no certificate) under policy `policyIndex` (default 0) at `at` (Date or
   * unix seconds; default now). A refusal is a Result with accepted false, not an error:
   * errors are for bad arguments.
   */
  verify(chain, options = {}) {
    const ders = toDerList(chain, bindingError);
    const at = toUnixSeconds(options.at);
    const index = toIndex(options.policyIndex === undefined ? 0 : options.policyIndex,
                          'policyIndex');
    const f = fns();
    const lens = ders.map((d) => d.length);
    check(f.verifyDer(this._live(), index, ders, lens, ders.length, at, outPtr, clearErr()));
    const peer = readPtr();
    try {
      return new Result(f, peer);
    } finally {
      f.peerFree(peer);
    }
  }
}

if (typeof Symbol.dispose === 'symbol') {
  Context.prototype[Symbol.dispose] = Context.prototype.close;
}

let inspectCtx = null;

/**
 * inspect(cert): the identity of a certificate (the leaf of `cert`, any chain form) without
 * verification, as `mtls inspect` does (a {"mode":"require"} policy). Returns the Result
 * (identity, identityBytes and the typed fields); throws MtlsError CERT_PARSE for bytes
 * that are not a certificate.
 */
function inspect(cert) {
  if (inspectCtx === null) {
    inspectCtx = new Context('{"mode":"require"}');
  }
  const r = inspectCtx.verify(cert);
  if (!r.hasCertificate) {
    throw bindingError('INVALID_ARGUMENT', 'inspect() needs a certificate');
  }
  if (!r.accepted) {
    throw new MtlsError(r.reasonCode, r.message);
  }
  return r;
}

module.exports = {
  Context,
  Result,
  MtlsError,
  Mode,
  Category,
  Purpose,
  inspect,
  placeholderNames,
  version: () => fns().version(),
  tlsLibrary: () => fns().tlsLibrary(),
  errorName: (code) => fns().errorName(code),
  strerror: (code) => fns().strerror(code),
  categoryOf: (code) => fns().categoryOf(code),
  modeName: (mode) => MODE_NAMES[mode],
  libraryPath: native.libraryPath,
  /** parseChain(chain): the DER list verify() would pass for `chain` (PEM parsing helper). */
  parseChain: (chain) => toDerList(chain, bindingError).map((b) => Buffer.from(b)),
};
