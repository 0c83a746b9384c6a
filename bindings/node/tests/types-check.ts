// tests/types-check.ts - not run: type-checked by `tsc -p tsconfig.json` (meson test
// node-types, `npm test`) to prove index.d.ts describes the whole API usably under --strict.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as mtls from '..';
import { Context, MtlsError, Mode, Result } from '..';

const policy = { mode: 'require_and_verify', trusted_ca_certs_pem_files: ['ca.pem'] };
const ctx: Context = new Context(policy, { server: null });
const fromText = new Context('{"mode":"request"}');
const fromBytes = new Context(Buffer.from('{"mode":"request"}'));
const fromFile = Context.fromFile('policy.json', { server: 'srv0' });

ctx.setPurpose('client').setMaxDepth(4);
const n: number = ctx.numPolicies;
const mode: 0 | 1 | 2 | 3 | 4 = ctx.policyMode(0);
const index: number = ctx.select('a.example', '192.0.2.1', null);
const alpn: unknown = ctx.policyField(0, 'alpn');
const described = ctx.describe();
const anchors: string[] = described.policies[0].trust_anchors.map((a) => a.sha256);

const pem = readFileSync('client.pem', 'utf8');
const der: Buffer = readFileSync('client.der');
const results: Result[] = [
  ctx.verify(pem),
  ctx.verify(der, { at: new Date() }),
  ctx.verify([der, new Uint8Array(der)], { at: 1795000000, policyIndex: index }),
  ctx.verify(new X509Certificate(pem), { at: 1795000000n }),
  ctx.verify(null),
];
for (const r of results) {
  const ok: boolean = r.accepted && r.verified && r.hasCertificate;
  const why: string = `${r.reason} ${r.reasonCode} ${r.category} ${r.message}`;
  const subject: string | null = r.subject;
  const dns: string[] = r.sanDnsNames.concat(r.sanEmails, r.sanIps, r.sanUris);
  const until: number | undefined = r.notAfter?.getTime();
  const since: Date | null = r.notBefore;
  const raw: Buffer | undefined = r.identityBytes['http.request.tls.client.subject'];
  const text: string | undefined = r.identity['http.request.tls.client.serial'];
  const path: Buffer[] = r.chain.concat(r.presented);
  const depth: number = r.errorDepth + r.policyIndex + r.mode;
  const name: string = r.modeName;
  void [ok, why, subject, dns, until, since, raw, text, path, depth, name, r.fingerprint,
        r.issuer, r.serial, r.spiffeId, r.toJSON().identity];
}

const handle: bigint = ctx.shareHandle();
const shared = Context.fromSharedHandle(handle);
shared.close();

try {
  mtls.inspect(pem).sanUris.forEach((u: string) => u.length);
} catch (e) {
  if (e instanceof MtlsError) {
    const fields: [number, string, number, string, number, number, string] =
      [e.code, e.codeName, e.category, e.categoryName, e.line, e.column, e.where];
    void fields;
  }
}

const strings: string[] = [mtls.version(), mtls.tlsLibrary(), mtls.errorName(103),
                           mtls.strerror(103), mtls.libraryPath(), ...mtls.placeholderNames()];
const numbers: number[] = [mtls.categoryOf(103), Mode.REQUIRE_AND_VERIFY, mtls.Category.VERIFY,
                           mtls.Purpose.SERVER];
const ders: Buffer[] = mtls.parseChain(pem);
void [n, mode, alpn, anchors, strings, numbers, ders, mtls.modeName(4), ctx.closed];
for (const c of [ctx, fromText, fromBytes, fromFile]) {
  c.close();
}

// Misuse must not type-check:
// @ts-expect-error a number is not a chain
ctx.verify(42);
// @ts-expect-error policyIndex is a number
ctx.verify(pem, { policyIndex: '0' });
// @ts-expect-error purposes are 'client' | 'server'
ctx.setPurpose('email');
// @ts-expect-error results are read-only
results[0].accepted = true;
