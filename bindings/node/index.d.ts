// Type declarations of the libmtls Node.js binding (index.js). Every call is synchronous.
/// <reference types="node" />

/** Client authentication modes, as Caddy names them (mtls_mode). */
export declare const Mode: Readonly<{
  OFF: 0;
  REQUEST: 1;
  REQUIRE: 2;
  VERIFY_IF_GIVEN: 3;
  REQUIRE_AND_VERIFY: 4;
}>;
export type ModeValue = 0 | 1 | 2 | 3 | 4;
export type ModeName = 'off' | 'request' | 'require' | 'verify_if_given' | 'require_and_verify';

/** Error categories (mtls_category). */
export declare const Category: Readonly<{
  NONE: 0;
  USAGE: 1;
  POLICY: 2;
  TRUST: 3;
  VERIFY: 4;
  DENIED: 5;
  IO: 6;
  NOMEM: 7;
  INTERNAL: 8;
}>;
export type CategoryName =
  'none' | 'usage' | 'policy' | 'trust' | 'verify' | 'denied' | 'io' | 'nomem' | 'internal' |
  'unknown';

/** What a verified chain must be good for (mtls_purpose). */
export declare const Purpose: Readonly<{ CLIENT: 1; SERVER: 2 }>;

/** An object carrying DER bytes in `raw`: crypto.X509Certificate, tls PeerCertificate. */
export interface HasRawDer {
  raw: Uint8Array;
}
/** One certificate (DER bytes, PEM text, or an object with `raw`). */
export type CertificateInput = string | Uint8Array | ArrayBuffer | HasRawDer;
/**
 * A client's chain, leaf first: PEM text with one or more CERTIFICATE blocks, DER bytes of
 * one certificate, an array of these; null, undefined, [] or "" for no certificate.
 */
export type ChainInput = CertificateInput | readonly CertificateInput[] | null | undefined;

/** A policy document: JSON text, its UTF-8 bytes, or the parsed object. */
export type PolicyInput = string | Uint8Array | ArrayBuffer | object;

export interface ContextOptions {
  /** The server of a whole Caddy config whose tls_connection_policies to take ("srv0"). */
  server?: string | null;
}

export interface VerifyOptions {
  /** Verification time: a Date, or unix seconds (number or bigint). Default: now. */
  at?: Date | number | bigint | null;
  /** The policy to judge under (see Context.select). Default 0. */
  policyIndex?: number;
}

/**
 * Thrown for every libmtls failure (bad policy, unreadable file, bad argument, malformed
 * PEM). A refused client is not an error: verify() returns a Result with accepted false.
 * `name` is "MtlsError", as for other Error subclasses; the library's name of the code
 * (mtls_error_name) is `codeName`.
 */
export declare class MtlsError extends Error {
  constructor(code: number, message: string, fields?: {
    category?: number; line?: number; column?: number; where?: string;
  });
  readonly name: 'MtlsError';
  /** The MTLS_ERR_* number. */
  readonly code: number;
  /** The code's name without the MTLS_ERR_ prefix: "JSON_SYNTAX", "FILE_OPEN", ... */
  readonly codeName: string;
  /** The mtls_category number (see Category). */
  readonly category: number;
  readonly categoryName: CategoryName;
  /** 1-based position of a JSON syntax error in the policy document, else -1. */
  readonly line: number;
  readonly column: number;
  /** The libmtls source location that raised it ("" when the binding raised it). */
  readonly where: string;
}

/**
 * Caddy placeholder names (without braces) to their values, e.g.
 * "http.request.tls.client.subject", plus the `.N` forms of the four SAN lists.
 */
export type Identity = Record<string, string>;
export type IdentityBytes = Record<string, Buffer>;

/**
 * The verdict on one client and its identity. A plain object: it holds no native memory
 * and outlives the Context that made it.
 */
export declare class Result {
  private constructor();
  /** Whether the policy lets this client in. */
  readonly accepted: boolean;
  /** Whether the chain was verified to a trusted CA. */
  readonly verified: boolean;
  /** Whether the client presented a certificate. */
  readonly hasCertificate: boolean;
  /** "OK" or why the client was refused: "CERT_EXPIRED", "UNKNOWN_ISSUER", ... */
  readonly reason: string;
  readonly reasonCode: number;
  /** The mtls_category of reasonCode. */
  readonly category: number;
  /** A sentence naming the certificate at fault by subject and SHA-256 fingerprint. */
  readonly message: string;
  readonly policyIndex: number;
  readonly mode: ModeValue;
  readonly modeName: ModeName;
  /** Index in `presented` of the certificate at fault, or -1. */
  readonly errorDepth: number;
  /** The DER certificates the client presented, leaf first. */
  readonly presented: Buffer[];
  /** The verified certification path, leaf first, trust anchor last ([] unless verified). */
  readonly chain: Buffer[];
  /** Every placeholder that renders, exact bytes. */
  readonly identityBytes: IdentityBytes;
  /** identityBytes decoded as UTF-8 (invalid sequences become U+FFFD). */
  readonly identity: Identity;
  /** Typed fields: null without a certificate, or when the field does not render. */
  readonly subject: string | null;
  readonly issuer: string | null;
  /** Decimal, as Caddy renders it (may exceed Number.MAX_SAFE_INTEGER). */
  readonly serial: string | null;
  /** Lowercase hex SHA-256 of the leaf's DER. */
  readonly fingerprint: string | null;
  readonly spiffeId: string | null;
  readonly sanDnsNames: string[];
  readonly sanEmails: string[];
  readonly sanIps: string[];
  readonly sanUris: string[];
  readonly notBefore: Date | null;
  readonly notAfter: Date | null;
  toJSON(): {
    accepted: boolean; verified: boolean; hasCertificate: boolean; reason: string;
    reasonCode: number; category: number; message: string; policyIndex: number;
    mode: ModeValue; errorDepth: number; identity: Identity;
  };
}

/** The effective policy set, as mtls_ctx_describe_json renders it. */
export interface Description {
  policies: Array<{
    index: number;
    match: {
      sni?: string[];
      remote_ip?: { ranges: string[]; not_ranges: string[] };
      local_ip?: { ranges: string[] };
    };
    mode: ModeName;
    mode_explicit: boolean;
    system_roots: boolean;
    trust_anchors: Array<{
      subject: string | null;
      issuer: string | null;
      sha256: string;
      self_signed: boolean;
      not_before: string;
      not_after: string;
    }>;
    leaf_pins: string[][];
    fields: Record<string, unknown>;
    [key: string]: unknown;
  }>;
  [key: string]: unknown;
}

export type PolicyFieldName =
  'certificate_selection' | 'protocol_min' | 'protocol_max' | 'alpn' | 'cipher_suites' |
  'curves' | 'default_sni' | 'fallback_sni' | 'drop';

/**
 * A loaded policy set (Caddy tls_connection_policies with their trust anchors and pins).
 * Free it with close() (or `using`, where Symbol.dispose exists); otherwise a
 * FinalizationRegistry frees it some time after it becomes unreachable.
 */
export declare class Context {
  /** Loads a policy document; throws MtlsError (JSON errors carry line/column). */
  constructor(policy: PolicyInput, options?: ContextOptions);
  /** Loads the policy document at `path`. */
  static fromFile(path: string, options?: ContextOptions): Context;
  /** Adopts a reference made by shareHandle() (usually in another worker thread), once. */
  static fromSharedHandle(handle: bigint): Context;
  /** Frees the native context now (idempotent). Results stay valid. */
  close(): void;
  readonly closed: boolean;
  /**
   * A new native reference to this context, to post to a worker thread. Options are frozen
   * from then on (a built context is safe for concurrent verifies).
   */
  shareHandle(): bigint;
  /** How many connection policies the context holds (>= 1). */
  readonly numPolicies: number;
  /** The effective mode of policy `index` (default 0). */
  policyMode(index?: number): ModeValue;
  /** The parsed value of a connection-policy field, or undefined when unset. */
  policyField(index: number, name: PolicyFieldName | string): unknown;
  /** The index of the policy for this connection, or -1 when none matches. */
  select(sni?: string | null, remoteIp?: string | null, localIp?: string | null): number;
  /** The extended key usage verification requires ('client', the default, or 'server'). */
  setPurpose(purpose: 'client' | 'server' | 1 | 2): this;
  /** The most intermediates allowed between leaf and anchor (0..64, default 8). */
  setMaxDepth(maxDepth: number): this;
  /** The effective policy set as parsed JSON. */
  describe(): Description;
  /** Judges a client chain; a refusal is a Result with accepted false, not an error. */
  verify(chain: ChainInput, options?: VerifyOptions): Result;
}

/**
 * The identity of a certificate (the leaf of `cert`) without verification, as
 * `mtls inspect` does. Throws MtlsError CERT_PARSE for bytes that are not a certificate.
 */
export declare function inspect(cert: ChainInput): Result;

/** Every placeholder name libmtls renders (without the `.N` forms). */
export declare function placeholderNames(): readonly string[];
/** The runtime library version, e.g. "0.1.0". */
export declare function version(): string;
/** What the TLS library libmtls's calls reach says of itself: "BoringSSL" expected. */
export declare function tlsLibrary(): string;
/** mtls_error_name: "CERT_EXPIRED" for 103, "OK" for 0, "UNKNOWN" if no such code. */
export declare function errorName(code: number): string;
/** The default message of a code. */
export declare function strerror(code: number): string;
/** The mtls_category of a code. */
export declare function categoryOf(code: number): number;
export declare function modeName(mode: number): ModeName | undefined;
/** The path libmtls was loaded from (loads it if needed). */
export declare function libraryPath(): string;
/** The DER certificates verify() would pass for `chain` (a PEM parsing helper). */
export declare function parseChain(chain: ChainInput): Buffer[];
