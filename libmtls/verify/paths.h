/*
 * verify/paths.h - certification paths as Go's crypto/x509 builds and judges them (what
 * Caddy runs): the per-path rules BoringSSL does not apply (gorules.c), Go's name
 * constraints (nameconstraints.c), checking one candidate path with BoringSSL
 * (pathcheck.c) and the bounded depth-first search over candidate paths (pathbuild.c).
 */
#ifndef MTLS_VERIFY_PATHS_H
#define MTLS_VERIFY_PATHS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "../core/result.h"

/* Go's maxChainSignatureChecks: candidate issuers considered per verification. */
#define MTLS_MAX_SIGNATURE_CHECKS 100
/* Complete candidate paths handed to BoringSSL per verification (each re-verifies every
 * signature of its path): bounds the work a client can cause; more are refused. */
#define MTLS_MAX_CANDIDATE_PATHS 16
/* Go's default VerifyOptions.MaxConstraintComparisions, per CA certificate. */
#define MTLS_MAX_CONSTRAINT_COMPARISONS 250000

/* What verification requires beyond the trust anchors (from the ctx). */
struct verify_opts {
    int purpose;   /* MTLS_PURPOSE_CLIENT or MTLS_PURPOSE_SERVER */
    int max_depth; /* most intermediates, self-issued ones not counted */
    int64_t at;    /* verification time, Unix seconds */
};

/* A verdict on a path: MTLS_OK, or the reason and the certificate at fault. */
struct verdict {
    int reason;      /* MTLS_OK or MTLS_ERR_* */
    int depth;       /* certificate at fault, index into the path or -1 */
    const char *why; /* extra words, static */
};

/* Where a certificate sits in a path: Go checks issuers and intermediates differently. */
enum path_role { ROLE_LEAF, ROLE_INTERMEDIATE, ROLE_ROOT };

/* --- gorules.c ------------------------------------------------------------------------ */

/* mtlsp_go_path_rules applies Go's rules that BoringSSL does differently or not at all to
 * the whole path (leaf first, anchor last): extended key usage for the purpose on every
 * certificate, CheckSignatureFrom's issuer rules, CA:TRUE on intermediates, Go's
 * pathLenConstraint count, SHA-1/MD5 refusal, Go's name constraints and the max depth. */
struct verdict mtlsp_go_path_rules(STACK_OF(X509) *path, const struct verify_opts *o);

/* mtlsp_go_cert_valid is Go's isValid for `cert` about to be appended as `role` to the
 * path `path[0..len-1]` (leaf first): validity period, CA:TRUE, pathLenConstraint, name
 * constraints against the leaf, max depth. MTLS_OK or the reason; `*why` gets detail. */
int mtlsp_go_cert_valid(X509 *cert, enum path_role role, X509 *const *path, size_t len,
                        const struct verify_opts *o, const char **why);

/* mtlsp_go_can_sign: Go's CheckSignatureFrom rules on `issuer` (without the signature). */
int mtlsp_go_can_sign(X509 *issuer);

/* mtlsp_go_weak_signature: 1 if `x` is signed with SHA-1 or MD5, which Go refuses. */
int mtlsp_go_weak_signature(const X509 *x);

/* --- nameconstraints.c ---------------------------------------------------------------- */

/* mtlsp_nc_check applies the name constraints of CA `ca` to the subject alternative names
 * of `leaf` and of `ca` itself, as Go 1.19's isValid does (DNS, IP, email and URI
 * constraints; a certificate without a SAN extension is not checked; a critical extension
 * with other constraint types is unhandled). Returns MTLS_OK, MTLS_ERR_NAME_CONSTRAINTS or
 * MTLS_ERR_UNHANDLED_CRITICAL; `*why` gets a static detail. Fails closed on anything it
 * cannot parse. */
int mtlsp_nc_check(X509 *ca, X509 *leaf, const char **why);

/* mtlsp_nc_parse_ok: 0 if `x` carries a name-constraints or SAN extension that Go's
 * certificate parser rejects (so Go refuses the certificate outright). */
int mtlsp_nc_parse_ok(X509 *x);

/* --- goparse.c ------------------------------------------------------------------------ */

/* mtlsp_go_parse_ok: 0 if Go's x509.ParseCertificate would refuse `x` for a reason
 * BoringSSL's parser lets through: duplicate extensions, or a malformed SAN, name
 * constraints, authority information access, CRL distribution points, authority or
 * subject key identifier extension. crypto/tls refuses a client that sends such a
 * certificate, in every mode. */
int mtlsp_go_parse_ok(X509 *x);

/* mtlsp_nc_unhandled_critical: 1 if `x` has a critical name-constraints extension with a
 * constraint type Go does not handle, or a critical SAN extension with no name of a type
 * Go keeps (Go then lists it in UnhandledCriticalExtensions). */
int mtlsp_nc_unhandled_critical(X509 *x);

/* --- pathcheck.c ---------------------------------------------------------------------- */

/* mtlsp_verify_setup prepares `sctx` (initialised) for `o`: partial chains, the time, the
 * depth bound and the callback that leaves to libmtls what it checks itself. */
void mtlsp_verify_setup(X509_STORE_CTX *sctx, const struct verify_opts *o);

/* mtlsp_path_check verifies exactly the candidate `path` (leaf first, trust anchor last)
 * with BoringSSL and then Go's rules. On acceptance `*out_chain` receives the verified path
 * (owned: sk_X509_pop_free); otherwise it stays NULL and `out` says why. */
MTLS_RESULT mtlsp_path_check(struct verdict *out, STACK_OF(X509) **out_chain,
                             X509 *const *path, size_t len, const struct verify_opts *o,
                             mtls_error *err);

/* --- pathbuild.c ---------------------------------------------------------------------- */

/* mtlsp_pathbuild searches, as Go's buildChains does (roots before intermediates, issuers
 * ordered by key identifier, cycles skipped, at most MTLS_MAX_SIGNATURE_CHECKS issuers
 * considered), the paths from `presented[0]` through `presented[1..]` to one of `anchors`,
 * and checks each complete one with mtlsp_path_check. `*out_chain` receives the first
 * accepted path (owned), or NULL when none is. */
MTLS_RESULT mtlsp_pathbuild(STACK_OF(X509) **out_chain, STACK_OF(X509) *anchors,
                            STACK_OF(X509) *presented, const struct verify_opts *o,
                            mtls_error *err);

#endif
