/*
 * verify/gorules.c - the rules of Go 1.19 crypto/x509 (what Caddy runs) that BoringSSL's
 * X509_verify_cert applies differently or not at all, on one certificate (Go's isValid,
 * used to prune path building) and on a whole path (applied to every path accepted):
 * - extended key usage of the purpose on every certificate, anyExtendedKeyUsage accepted
 *   (checkChainForKeyUsage; serverAuth also accepts Netscape/Microsoft SGC);
 * - every issuer, the anchor included, may sign as CheckSignatureFrom says (v1, or v3 with
 *   CA:TRUE and keyCertSign when it has keyUsage); intermediates need CA:TRUE;
 * - pathLenConstraint counts every intermediate below it, self-issued ones included;
 * - SHA-1 and MD5 signatures are refused;
 * - critical extensions Go does not handle make a certificate unusable;
 * - name constraints as Go checks them (nameconstraints.c);
 * - and libmtls's own bound, the ctx's max depth (self-issued intermediates not counted).
 */
#include <string.h>

#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "paths.h"
#include "verify.h"

#define PATH_CAP (MTLS_MAX_PEER_CERTS + 1)

int mtlsp_go_weak_signature(const X509 *x)
{
    switch (X509_get_signature_nid(x)) {
    case NID_md5WithRSAEncryption:
    case NID_sha1WithRSAEncryption:
    case NID_ecdsa_with_SHA1:
    case NID_md5WithRSA:
    case NID_sha1WithRSA:
    case NID_dsaWithSHA1:
        return 1;
    default:
        return 0;
    }
}

/* Go checks signatures only with RSA, ECDSA on the curves it parses (P-224, P-256, P-384,
 * P-521) and Ed25519 keys; OpenSSL also checks DSA and other curves (BoringSSL does not). */
static int go_checks_signatures_of(X509 *issuer)
{
    EVP_PKEY *key = X509_get_pubkey(issuer);
    int ok = 0;
    switch (key != NULL ? EVP_PKEY_id(key) : EVP_PKEY_NONE) {
    case EVP_PKEY_RSA:
    case EVP_PKEY_ED25519:
        ok = 1;
        break;
    case EVP_PKEY_EC: {
        const EC_KEY *ec = EVP_PKEY_get0_EC_KEY(key);
        int curve = ec != NULL ? EC_GROUP_get_curve_name(EC_KEY_get0_group(ec)) : NID_undef;
        ok = curve == NID_secp224r1 || curve == NID_X9_62_prime256v1 ||
             curve == NID_secp384r1 || curve == NID_secp521r1;
        break;
    }
    default:
        break;
    }
    EVP_PKEY_free(key);
    ERR_clear_error();
    return ok;
}

int mtlsp_go_can_sign(X509 *issuer)
{
    uint32_t flags = X509_get_extension_flags(issuer);
    if (X509_get_version(issuer) == X509_VERSION_3 && !(flags & EXFLAG_BCONS)) {
        return 0;
    }
    if ((flags & EXFLAG_BCONS) && !(flags & EXFLAG_CA)) {
        return 0;
    }
    return !(flags & EXFLAG_KUSAGE) || (X509_get_key_usage(issuer) & KU_KEY_CERT_SIGN);
}

/* The extensions Go 1.19's parser handles; any other critical one is unhandled. */
static int go_handled_nid(int nid)
{
    switch (nid) {
    case NID_key_usage:
    case NID_basic_constraints:
    case NID_subject_alt_name:
    case NID_name_constraints:
    case NID_crl_distribution_points:
    case NID_authority_key_identifier:
    case NID_ext_key_usage:
    case NID_subject_key_identifier:
    case NID_certificate_policies:
    case NID_info_access:
        return 1;
    default:
        return 0;
    }
}

static int go_unhandled_critical(X509 *x)
{
    int n = X509_get_ext_count(x);
    for (int i = 0; i < n; i++) {
        X509_EXTENSION *ext = X509_get_ext(x, i);
        if (X509_EXTENSION_get_critical(ext) &&
            !go_handled_nid(OBJ_obj2nid(X509_EXTENSION_get_object(ext)))) {
            return 1;
        }
    }
    return mtlsp_nc_unhandled_critical(x);
}

static int eku_ok(X509 *x, int purpose)
{
    if (!(X509_get_extension_flags(x) & EXFLAG_XKUSAGE)) {
        return 1;
    }
    uint32_t want = purpose == MTLS_PURPOSE_SERVER ? (XKU_SSL_SERVER | XKU_SGC) : XKU_SSL_CLIENT;
    return (X509_get_extended_key_usage(x) & (want | XKU_ANYEKU)) != 0;
}

static const char *eku_why(int purpose, size_t i)
{
    if (purpose == MTLS_PURPOSE_SERVER) {
        return i == 0 ? "it does not allow serverAuth"
                      : "an issuer's extended key usage excludes serverAuth";
    }
    return i == 0 ? "it does not allow clientAuth"
                  : "an issuer's extended key usage excludes clientAuth";
}

/* Go's isValid NameMismatch check: the child's issuer is the parent's subject, byte for
 * byte (BoringSSL compares canonical forms, which links more). */
static int names_chain(X509 *child, X509 *parent)
{
    const uint8_t *a, *b;
    size_t al, bl;
    return X509_NAME_get0_der(X509_get_issuer_name(child), &a, &al) == 1 &&
           X509_NAME_get0_der(X509_get_subject_name(parent), &b, &bl) == 1 && al == bl &&
           memcmp(a, b, al) == 0;
}

static int self_issued(X509 *x)
{
    return X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0;
}

/* The validity period, as BoringSSL checks it. Go's clock has nanoseconds and counts
 * notAfter itself as valid; libmtls's has whole seconds, so the second of notAfter counts
 * as expired: never valid when Go says expired, at most one second earlier. */
static int time_check(X509 *x, int64_t at)
{
    time_t t = (time_t)at;
    int nb = X509_cmp_time(X509_get0_notBefore(x), &t);
    int na = X509_cmp_time(X509_get0_notAfter(x), &t);
    if (nb >= 0) {
        return MTLS_ERR_CERT_NOT_YET_VALID; /* notBefore > at, or unreadable */
    }
    return na <= 0 ? MTLS_ERR_CERT_EXPIRED : MTLS_OK; /* notAfter <= at, or unreadable */
}

/* Intermediates of path[1..len-1] plus `next`, self-issued ones not counted. */
static size_t counted_intermediates(X509 *const *path, size_t len, X509 *next)
{
    size_t n = self_issued(next) ? 0 : 1;
    for (size_t i = 1; i < len; i++) {
        n += self_issued(path[i]) ? 0 : 1;
    }
    return n;
}

/* Go's isValid on an issuer: CA:TRUE for intermediates, pathLenConstraint, names. */
static int issuer_valid(X509 *cert, enum path_role role, X509 *const *path, size_t len,
                        const char **why)
{
    uint32_t flags = X509_get_extension_flags(cert);
    if (role == ROLE_INTERMEDIATE && !((flags & EXFLAG_BCONS) && (flags & EXFLAG_CA))) {
        *why = "intermediate lacks basicConstraints CA:TRUE";
        return MTLS_ERR_ISSUER_NOT_CA;
    }
    long plen = X509_get_pathlen(cert);
    if ((flags & EXFLAG_BCONS) && plen >= 0 && len - 1 > (size_t)plen) {
        *why = "Go counts every intermediate below a pathLenConstraint, self-issued ones too";
        return MTLS_ERR_PATH_LENGTH;
    }
    return mtlsp_nc_check(cert, path[0], why);
}

int mtlsp_go_cert_valid(X509 *cert, enum path_role role, X509 *const *path, size_t len,
                        const struct verify_opts *o, const char **why)
{
    *why = NULL;
    if (go_unhandled_critical(cert)) {
        *why = "a critical extension Go does not handle";
        return MTLS_ERR_UNHANDLED_CRITICAL;
    }
    int r = time_check(cert, o->at);
    if (r != MTLS_OK || role == ROLE_LEAF) {
        return r;
    }
    r = issuer_valid(cert, role, path, len, why);
    if (r != MTLS_OK) {
        return r;
    }
    if (role == ROLE_INTERMEDIATE &&
        counted_intermediates(path, len, cert) > (size_t)o->max_depth) {
        *why = "more intermediates than the maximum depth";
        return MTLS_ERR_CHAIN_TOO_LONG;
    }
    return MTLS_OK;
}

/* The checks of the existing client-auth rules, per certificate of the path. */
static struct verdict link_rules(X509 *const *path, size_t i, size_t n,
                                 const struct verify_opts *o)
{
    X509 *x = path[i];
    uint32_t flags = X509_get_extension_flags(x);
    if (!eku_ok(x, o->purpose)) {
        return (struct verdict){MTLS_ERR_WRONG_EKU, (int)i, eku_why(o->purpose, i)};
    }
    if (i > 0 && !mtlsp_go_can_sign(x)) {
        return (struct verdict){MTLS_ERR_ISSUER_NOT_CA, (int)i,
                                "issuer lacks CA:TRUE or keyCertSign"};
    }
    if (i > 0 && !go_checks_signatures_of(x)) {
        return (struct verdict){MTLS_ERR_INSECURE_ALGORITHM, (int)i,
                                "issuer key type that Go cannot check signatures with"};
    }
    if (i > 0 && i + 1 < n && !((flags & EXFLAG_BCONS) && (flags & EXFLAG_CA))) {
        return (struct verdict){MTLS_ERR_ISSUER_NOT_CA, (int)i,
                                "intermediate lacks basicConstraints CA:TRUE"};
    }
    if (i + 1 < n && mtlsp_go_weak_signature(x)) {
        return (struct verdict){MTLS_ERR_INSECURE_ALGORITHM, (int)i,
                                "signed with SHA-1 or MD5, which Go refuses"};
    }
    if (!mtlsp_go_parse_ok(x)) {
        return (struct verdict){MTLS_ERR_CERT_PARSE, (int)i, "Go's parser refuses it"};
    }
    if (i > 0 && !names_chain(path[i - 1], x)) {
        return (struct verdict){MTLS_ERR_UNKNOWN_ISSUER, (int)i,
                                "issuer name differs byte for byte from the issuer's subject"};
    }
    return (struct verdict){MTLS_OK, -1, NULL};
}

struct verdict mtlsp_go_path_rules(STACK_OF(X509) *path, const struct verify_opts *o)
{
    size_t n = sk_X509_num(path);
    X509 *arr[PATH_CAP];
    if (n == 0 || n > PATH_CAP) {
        return (struct verdict){MTLS_ERR_CHAIN_TOO_LONG, -1, "path too long"};
    }
    for (size_t i = 0; i < n; i++) {
        arr[i] = sk_X509_value(path, i);
    }
    for (size_t i = 0; i < n; i++) {
        struct verdict v = link_rules(arr, i, n, o);
        if (v.reason != MTLS_OK) {
            return v;
        }
        enum path_role role = i == 0 ? ROLE_LEAF : i + 1 < n ? ROLE_INTERMEDIATE : ROLE_ROOT;
        const char *why = NULL;
        int r = mtlsp_go_cert_valid(arr[i], role, arr, i, o, &why);
        if (r != MTLS_OK) {
            return (struct verdict){r, (int)i, why};
        }
    }
    return (struct verdict){MTLS_OK, -1, NULL};
}
