/*
 * verify/pathbuild.c - path building with backtracking, in the order of Go's buildChains
 * (crypto/x509, what Caddy runs), for when BoringSSL's single path fails: BoringSSL does
 * not backtrack, so a client that sends a cross-signed or superseded intermediate first can
 * be refused although a valid path exists (BetterTLS "pathbuilding").
 *
 * From each certificate, candidate issuers are the trust anchors, then the certificates
 * the client sent, whose subject equals the issuer name byte for byte, ordered as Go's
 * findPotentialParents does (key identifiers match; one is missing; they differ). A
 * candidate already in the path (same subject, key and SAN: a cycle) is skipped; every
 * other one costs one signature check, at most MTLS_MAX_SIGNATURE_CHECKS in all (Go's
 * bound); it must have signed the certificate (CheckSignatureFrom) and pass Go's isValid
 * (gorules.c) before the search goes on through it. Each path that reaches an anchor is
 * verified as a whole by BoringSSL and the Go rules (pathcheck.c); the first accepted one
 * wins. Work is bounded by the signature budget and MTLS_MAX_CANDIDATE_PATHS, the path
 * length by the ctx's max depth.
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "../core/mem.h"
#include "paths.h"
#include "verify.h"

#define PATH_CAP (MTLS_MAX_PEER_CERTS + 1)

struct node {
    X509 *x;
    int is_root;
};

struct search {
    struct node *nodes; /* anchors first, then the client's intermediates */
    size_t num_nodes;
    X509 *path[PATH_CAP];
    size_t len;
    size_t sig_checks;
    size_t paths_checked;
    int exhausted;
    const struct verify_opts *o;
    STACK_OF(X509) *found;
};

static int name_der(X509_NAME *name, const uint8_t **der, size_t *len)
{
    return X509_NAME_get0_der(name, der, len) == 1;
}

/* Go's byName lookup: the candidate's subject equals the child's issuer, byte for byte. */
static int names_issuer(X509 *child, X509 *cand)
{
    const uint8_t *a, *b;
    size_t al, bl;
    return name_der(X509_get_issuer_name(child), &a, &al) &&
           name_der(X509_get_subject_name(cand), &b, &bl) && al == bl && memcmp(a, b, al) == 0;
}

static size_t octets(const ASN1_OCTET_STRING *s, const uint8_t **p)
{
    *p = s != NULL ? ASN1_STRING_get0_data(s) : NULL;
    return s != NULL ? (size_t)ASN1_STRING_length(s) : 0;
}

/* findPotentialParents's order: 0 key ids equal (both absent included), 1 one missing,
 * 2 they differ. */
static int kid_class(X509 *child, X509 *cand)
{
    const uint8_t *a, *s;
    size_t al = octets(X509_get0_authority_key_id(child), &a);
    size_t sl = octets(X509_get0_subject_key_id(cand), &s);
    if (al == sl && (al == 0 || memcmp(a, s, al) == 0)) {
        return 0;
    }
    return (al == 0) != (sl == 0) ? 1 : 2;
}

static int same_bytes(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    return al == bl && (al == 0 || memcmp(a, b, al) == 0);
}

static int san_of(X509 *x, const uint8_t **p, size_t *len)
{
    int idx = X509_get_ext_by_NID(x, NID_subject_alt_name, -1);
    if (idx < 0) {
        return 0;
    }
    const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(X509_get_ext(x, idx));
    *len = octets(v, p);
    return 1;
}

/* Go's alreadyInChain for one certificate of the path: 1 same subject, key and SAN
 * extension; -1 same subject and key but only one has a SAN (Go then stops looking and
 * answers no); 0 otherwise. */
static int same_entity(X509 *a, X509 *b)
{
    const uint8_t *an, *bn, *as = NULL, *bsn = NULL;
    size_t anl, bnl, asl = 0, bsl = 0;
    if (!name_der(X509_get_subject_name(a), &an, &anl) ||
        !name_der(X509_get_subject_name(b), &bn, &bnl) || !same_bytes(an, anl, bn, bnl)) {
        return 0;
    }
    const ASN1_BIT_STRING *ak = X509_get0_pubkey_bitstr(a), *bk = X509_get0_pubkey_bitstr(b);
    if (ak == NULL || bk == NULL ||
        !same_bytes(ASN1_STRING_get0_data(ak), (size_t)ASN1_STRING_length(ak),
                    ASN1_STRING_get0_data(bk), (size_t)ASN1_STRING_length(bk))) {
        return 0;
    }
    int ha = san_of(a, &as, &asl), hb = san_of(b, &bsn, &bsl);
    if (ha != hb) {
        return -1;
    }
    return !ha || same_bytes(as, asl, bsn, bsl);
}

static int already_in_path(const struct search *s, X509 *cand)
{
    for (size_t i = 0; i < s->len; i++) {
        int same = same_entity(cand, s->path[i]);
        if (same != 0) {
            return same > 0;
        }
    }
    return 0;
}

/* Go's CheckSignatureFrom(issuer) on `child`. */
static int signed_by(X509 *child, X509 *issuer)
{
    if (!mtlsp_go_can_sign(issuer) || mtlsp_go_weak_signature(child)) {
        return 0;
    }
    EVP_PKEY *key = X509_get_pubkey(issuer);
    int ok = key != NULL && X509_verify(child, key) == 1;
    EVP_PKEY_free(key);
    ERR_clear_error();
    return ok;
}

static MTLS_RESULT extend(struct search *s, mtls_error *err);

/* A complete candidate path: accepted if BoringSSL and the Go rules accept it. */
static MTLS_RESULT try_path(struct search *s, mtls_error *err)
{
    struct verdict v;
    if (++s->paths_checked > MTLS_MAX_CANDIDATE_PATHS) {
        s->exhausted = 1;
        return MTLS_RESULT_OK;
    }
    return mtlsp_path_check(&v, &s->found, s->path, s->len, s->o, err);
}

/* Go's considerCandidate. */
static MTLS_RESULT consider(struct search *s, const struct node *nd, mtls_error *err)
{
    X509 *child = s->path[s->len - 1];
    if (already_in_path(s, nd->x)) {
        return MTLS_RESULT_OK;
    }
    if (++s->sig_checks > MTLS_MAX_SIGNATURE_CHECKS) {
        s->exhausted = 1;
        return MTLS_RESULT_OK;
    }
    const char *why;
    enum path_role role = nd->is_root ? ROLE_ROOT : ROLE_INTERMEDIATE;
    if (s->len >= PATH_CAP || !signed_by(child, nd->x) ||
        mtlsp_go_cert_valid(nd->x, role, s->path, s->len, s->o, &why) != MTLS_OK) {
        return MTLS_RESULT_OK;
    }
    s->path[s->len++] = nd->x;
    mtls_result rc = nd->is_root ? try_path(s, err) : extend(s, err);
    s->len--;
    return rc;
}

/* Go's buildChains from the last certificate of the path. */
static MTLS_RESULT extend(struct search *s, mtls_error *err)
{
    X509 *child = s->path[s->len - 1];
    for (int roots = 1; roots >= 0; roots--) {
        for (int cls = 0; cls < 3; cls++) {
            for (size_t k = 0; k < s->num_nodes; k++) {
                const struct node *nd = &s->nodes[k];
                if (nd->is_root != roots || !names_issuer(child, nd->x) ||
                    kid_class(child, nd->x) != cls) {
                    continue;
                }
                GUARD(consider(s, nd, err));
                if (s->found != NULL || s->exhausted) {
                    return MTLS_RESULT_OK;
                }
            }
        }
    }
    return MTLS_RESULT_OK;
}

/* Adds `x` to the candidates unless the same pool already has it (Go's CertPool). The
 * anchors come deduplicated from the ctx; the client's certificates are compared here. */
static void add_node(struct search *s, X509 *x, int is_root)
{
    for (size_t i = 0; !is_root && i < s->num_nodes; i++) {
        if (!s->nodes[i].is_root && X509_cmp(s->nodes[i].x, x) == 0) {
            return;
        }
    }
    s->nodes[s->num_nodes++] = (struct node){x, is_root};
}

static int leaf_is_anchor(STACK_OF(X509) *anchors, X509 *leaf)
{
    for (size_t i = 0; i < (size_t)sk_X509_num(anchors); i++) {
        if (X509_cmp(sk_X509_value(anchors, i), leaf) == 0) {
            return 1;
        }
    }
    return 0;
}

MTLS_RESULT mtlsp_pathbuild(STACK_OF(X509) **out_chain, STACK_OF(X509) *anchors,
                            STACK_OF(X509) *presented, const struct verify_opts *o,
                            mtls_error *err)
{
    mtls_result rc = MTLS_RESULT_OK;
    size_t na = sk_X509_num(anchors), np = sk_X509_num(presented);
    struct search s = {.o = o};
    *out_chain = NULL;
    if (np == 0) {
        return MTLS_RESULT_OK;
    }
    s.nodes = mtlsp_calloc(na + np, sizeof(*s.nodes));
    ENSURE_MEM(s.nodes);
    for (size_t i = 0; i < na; i++) {
        add_node(&s, sk_X509_value(anchors, i), 1);
    }
    for (size_t i = 1; i < np; i++) {
        add_node(&s, sk_X509_value(presented, i), 0);
    }
    s.path[s.len++] = sk_X509_value(presented, 0);
    const char *why;
    if (mtlsp_go_cert_valid(s.path[0], ROLE_LEAF, s.path, 0, o, &why) != MTLS_OK) {
        goto out;
    }
    GUARD_OUT(leaf_is_anchor(anchors, s.path[0]) ? try_path(&s, err) : extend(&s, err));
    *out_chain = s.found;
    s.found = NULL;
out:
    sk_X509_pop_free(s.found, X509_free);
    mtlsp_free(s.nodes);
    return rc;
}
