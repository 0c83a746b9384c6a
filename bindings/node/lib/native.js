'use strict';
// lib/native.js - loads libmtls with koffi and declares the C functions of <mtls/mtls.h>.
//
// WHY RTLD_DEEPBIND: the `node` binary exports the OpenSSL it bundles (or, for Debian's
// nodejs, pulls libcrypto.so.3 into the global scope), and Debian's BoringSSL exports the
// same names (OpenSSL_version, X509_verify_cert, SHA256, ...) without symbol versions.
// dlopen()ed normally, libmtls's calls into "its" libcrypto resolve against the global
// scope first and silently land in Node's OpenSSL (DESIGN.md §4). koffi.load's `deep`
// option adds RTLD_DEEPBIND, so libmtls and the libraries it depends on look themselves up
// before the global scope. tests/deepbind.test.js proves both halves (tlsLibrary() is
// "BoringSSL" here, and "OpenSSL ..." for a plain dlopen in a child process).
//
// WHY RTLD_NODELETE: koffi dlclose()s a library when the last JS reference to it goes, and
// each worker thread loads its own reference. When the last thread that loaded libmtls
// ends, libmtls and BoringSSL's libcrypto were unmapped while that thread's BoringSSL
// thread-local destructors (its error queue) were still registered: SIGSEGV at thread exit
// (tests/workers.test.js found it). pin() marks the loaded library RTLD_NODELETE, so it
// stays mapped for the life of the process, as a library linked at start-up would.
//
// The library is located lazily, on the first call that needs it:
//   1. $MTLS_LIBRARY (a path to libmtls.so.0...),
//   2. "libmtls.so.0" through the dynamic loader's search (LD_LIBRARY_PATH, ld.so.cache,
//      the default directories),
//   3. `pkg-config --variable=libdir libmtls` + "/libmtls.so.0".

const koffi = require('koffi');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const SONAME = 'libmtls.so.0';

// sizeof(mtls_error): int code, category, line, column; char message[256]; char where[64].
const ERROR_SIZE = 4 * 4 + 256 + 64;
const ERROR_MESSAGE_OFFSET = 16;
const ERROR_WHERE_OFFSET = 16 + 256;

// koffi types are registered by name, once per process (and per worker thread: each
// worker has its own module instance and koffi registry).
koffi.opaque('mtls_ctx');
koffi.opaque('mtls_peer');

// Output parameters (`T **out`, `size_t *out_len`) and the mtls_error are declared as byte
// pointers and given Buffers, read back with readBigUInt64LE: koffi passes a Buffer's
// memory as is, about twice as fast as its single-element-array _Out_ parameters.
const PROTOTYPES = {
  strerror: 'const char *mtls_strerror(int code)',
  errorName: 'const char *mtls_error_name(int code)',
  categoryOf: 'int mtls_category_of(int code)',
  version: 'const char *mtls_version(void)',
  tlsLibrary: 'const char *mtls_tls_library(void)',
  free: 'void mtls_free(void *p)',
  ctxNewFromJson: 'mtls_ctx *mtls_ctx_new_from_json(const uint8_t *json, size_t json_len, const char *server, uint8_t *err)',
  ctxNewFromFile: 'mtls_ctx *mtls_ctx_new_from_file(const char *path, const char *server, uint8_t *err)',
  ctxUpRef: 'void mtls_ctx_up_ref(mtls_ctx *ctx)',
  ctxFree: 'void mtls_ctx_free(mtls_ctx *ctx)',
  ctxSetPurpose: 'int mtls_ctx_set_purpose(mtls_ctx *ctx, int purpose, uint8_t *err)',
  ctxSetMaxDepth: 'int mtls_ctx_set_max_depth(mtls_ctx *ctx, int max_depth, uint8_t *err)',
  ctxNumPolicies: 'size_t mtls_ctx_num_policies(const mtls_ctx *ctx)',
  ctxPolicyMode: 'int mtls_ctx_policy_mode(const mtls_ctx *ctx, size_t index)',
  ctxPolicyField: 'const char *mtls_ctx_policy_field(const mtls_ctx *ctx, size_t index, const char *name)',
  ctxSelect: 'int mtls_ctx_select(const mtls_ctx *ctx, const char *sni, const char *remote_ip, const char *local_ip, uint8_t *out_index, uint8_t *err)',
  ctxDescribeJson: 'int mtls_ctx_describe_json(const mtls_ctx *ctx, uint8_t *out, uint8_t *out_len, uint8_t *err)',
  verifyDer: 'int mtls_verify_der(const mtls_ctx *ctx, size_t index, const uint8_t **certs, const size_t *cert_lens, size_t num_certs, int64_t at_unix, uint8_t *out_peer, uint8_t *err)',
  peerFree: 'void mtls_peer_free(mtls_peer *peer)',
  peerAccepted: 'int mtls_peer_accepted(const mtls_peer *peer)',
  peerVerified: 'int mtls_peer_verified(const mtls_peer *peer)',
  peerHasCertificate: 'int mtls_peer_has_certificate(const mtls_peer *peer)',
  peerReason: 'int mtls_peer_reason(const mtls_peer *peer)',
  peerMessage: 'const char *mtls_peer_message(mtls_peer *peer)',
  peerPolicyIndex: 'size_t mtls_peer_policy_index(const mtls_peer *peer)',
  peerMode: 'int mtls_peer_mode(const mtls_peer *peer)',
  peerGet: 'int mtls_peer_get(mtls_peer *peer, const char *name, uint8_t *out, uint8_t *out_len, uint8_t *err)',
  placeholderCount: 'size_t mtls_placeholder_count(void)',
  placeholderName: 'const char *mtls_placeholder_name(size_t i)',
  peerNumCerts: 'size_t mtls_peer_num_certs(const mtls_peer *peer)',
  peerCert: 'void *mtls_peer_cert(const mtls_peer *peer, size_t i, uint8_t *out_len)',
  peerNumChain: 'size_t mtls_peer_num_chain(const mtls_peer *peer)',
  peerChainCert: 'void *mtls_peer_chain_cert(const mtls_peer *peer, size_t i, uint8_t *out_len)',
  peerErrorDepth: 'int mtls_peer_error_depth(const mtls_peer *peer)',
};

let state = null; // { lib, fn, path, how, pinned } once loaded (per thread)

// Where to look, in order; path null = ask pkg-config. MTLS_LIBRARY, when set, is the only
// candidate: a wrong path is an error, not a silent fallback to another copy.
function candidates() {
  const env = process.env.MTLS_LIBRARY;
  if (env) {
    return [{ path: env, how: 'MTLS_LIBRARY' }];
  }
  return [{ path: SONAME, how: 'dynamic loader search path' }, { path: null, how: 'pkg-config' }];
}

function pkgConfigLibdir() {
  try {
    const dir = execFileSync('pkg-config', ['--variable=libdir', 'libmtls'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 10000,
    }).trim();
    return dir ? path.join(dir, SONAME) : null;
  } catch {
    return null;
  }
}

// open(file, deep) dlopens `file` and declares every function. `deep` false is for the test
// that demonstrates the hazard (in a child process); the binding always passes true.
function open(file, deep) {
  const lib = koffi.load(file, { deep });
  const fn = {};
  for (const [key, proto] of Object.entries(PROTOTYPES)) {
    fn[key] = lib.func(proto);
  }
  return { lib, fn };
}

const RTLD_NOW = 0x2;
const RTLD_NOLOAD = 0x4;
const RTLD_NODELETE = 0x1000;

function pin(file) {
  for (const libc of ['libc.so.6', 'libdl.so.2']) {
    try {
      const dlopen = koffi.load(libc).func('void *dlopen(const char *file, int flags)');
      // NOLOAD: only find the copy koffi loaded (with RTLD_DEEPBIND), never load another.
      if (dlopen(file, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) !== null) {
        return true;
      }
    } catch {
      // not glibc: try the next name
    }
  }
  return false;
}

// The distinct libcrypto files mapped into this process (/proc/self/maps; [] elsewhere).
function mappedLibcrypto() {
  try {
    const files = fs.readFileSync('/proc/self/maps', 'utf8').split('\n')
      .map((line) => line.split(/\s+/).slice(5).join(' '))
      .filter((f) => f.includes('/libcrypto.so'));
    return [...new Set(files)];
  } catch {
    return [];
  }
}

// Whether every libcrypto in the process, asked directly, reports `tls` itself: then the
// library libmtls links (among them) is the one its calls reach. True for the OpenSSL build
// of libmtls, which shares node's libcrypto.so.3; false when a BoringSSL build's calls were
// captured (its BoringSSL libcrypto is mapped and says "BoringSSL").
function tlsLibraryIsOwn(tls) {
  const files = mappedLibcrypto();
  return files.length > 0 && files.every((f) => {
    try {
      return koffi.load(f).func('const char *OpenSSL_version(int type)')(0) === tls;
    } catch {
      return false;
    }
  });
}

function load() {
  if (state !== null) {
    return state;
  }
  const tried = [];
  for (const c of candidates()) {
    const file = c.path === null ? pkgConfigLibdir() : c.path;
    if (file === null) {
      tried.push(`${c.how}: libmtls not known to pkg-config`);
      continue;
    }
    try {
      const { lib, fn } = open(file, true);
      state = { lib, fn, path: file, how: c.how, pinned: pin(file) };
      break;
    } catch (e) {
      tried.push(`${c.how} (${file}): ${e.message}`);
    }
  }
  if (state === null) {
    throw new Error(`libmtls: cannot load ${SONAME}; set MTLS_LIBRARY to its path.\n  ` +
                    tried.join('\n  '));
  }
  const tls = state.fn.tlsLibrary();
  if (!tls.startsWith('BoringSSL') && !tlsLibraryIsOwn(tls)) {
    // Not fatal. An OpenSSL build of libmtls legitimately answers "OpenSSL 3..." (and every
    // libcrypto here says the same: no warning). For a BoringSSL build this means the
    // library was already loaded without RTLD_DEEPBIND.
    process.emitWarning(`libmtls (${state.path}) runs on "${tls}", not BoringSSL: if this ` +
                        'libmtls was built against BoringSSL, it was loaded without deep ' +
                        'binding and its calls reach another TLS library (DESIGN.md §4)',
                        { code: 'MTLS_TLS_LIBRARY' });
  }
  return state;
}

function fns() {
  return (state !== null ? state : load()).fn;
}

// Reads `len` bytes at C pointer `ptr` into a new Buffer (a copy: the memory is borrowed).
// libc's memcpy into the Buffer: koffi.view() would be the obvious tool, but each external
// ArrayBuffer it makes kept ~200 bytes of RSS for good (koffi 3.3.4, tests/leak.js found it).
let memcpy = null;
function copyBytes(ptr, len) {
  const out = Buffer.allocUnsafe(len);
  if (len > 0) {
    if (memcpy === null) {
      memcpy = koffi.load('libc.so.6').func('void *memcpy(void *dst, const void *src, size_t n)');
    }
    memcpy(out, ptr, len);
  }
  return out;
}

module.exports = {
  koffi,
  fns,
  load,
  open,
  copyBytes,
  SONAME,
  ERROR_SIZE,
  ERROR_MESSAGE_OFFSET,
  ERROR_WHERE_OFFSET,
  libraryPath: () => load().path,
  pinned: () => load().pinned,
};
