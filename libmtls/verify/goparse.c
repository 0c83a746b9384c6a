/*
 * verify/goparse.c - the parts of Go 1.19's x509.ParseCertificate (parser.go
 * processExtensions) that refuse certificates BoringSSL's parser accepts. crypto/tls
 * parses every certificate a client sends and fails the handshake on any error, so libmtls
 * refuses them too (verify/chain.c, every mode), and does not trust a path through them.
 * Checked here: duplicate extensions, and the structure of the extensions Go reads that
 * BoringSSL does not validate when verifying: SAN and name constraints (nameconstraints.c),
 * authority information access, CRL distribution points, authority and subject key
 * identifiers.
 */
#include <string.h>

#include "../core/der.h"
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "paths.h"

#define CTX(n) (MTLSP_ASN1_CONTEXT_SPECIFIC | (n))
#define CTX_CONS(n) (MTLSP_ASN1_CONTEXT_SPECIFIC | MTLSP_ASN1_CONSTRUCTED | (n))

/* cryptobyte's ReadASN1ObjectIdentifier: non-empty, minimal base-128 arcs. */
static int read_oid(mtlsp_cbs *in)
{
    mtlsp_cbs oid;
    if (!mtlsp_cbs_get_asn1(in, &oid, MTLSP_ASN1_OBJECT) || mtlsp_cbs_len(&oid) == 0) {
        return 0;
    }
    const uint8_t *p = mtlsp_cbs_data(&oid);
    size_t n = mtlsp_cbs_len(&oid);
    int start = 1;
    for (size_t i = 0; i < n; i++) {
        if (start && p[i] == 0x80) {
            return 0; /* non-minimal arc */
        }
        start = (p[i] & 0x80) == 0;
    }
    return start; /* the last arc is complete */
}

/* AuthorityInfoAccessSyntax as Go reads it. */
static int aia_ok(mtlsp_cbs v)
{
    mtlsp_cbs seq;
    if (!mtlsp_cbs_get_asn1(&v, &seq, MTLSP_ASN1_SEQUENCE)) {
        return 0;
    }
    while (mtlsp_cbs_len(&seq) > 0) {
        mtlsp_cbs desc, uri;
        if (!mtlsp_cbs_get_asn1(&seq, &desc, MTLSP_ASN1_SEQUENCE) || !read_oid(&desc)) {
            return 0;
        }
        if (mtlsp_cbs_peek_asn1_tag(&desc, CTX(6)) && !mtlsp_cbs_get_asn1(&desc, &uri, CTX(6))) {
            return 0;
        }
    }
    return 1;
}

/* CRLDistributionPoints as Go reads it (only fullName URIs are looked at). */
static int crldp_ok(mtlsp_cbs v)
{
    mtlsp_cbs seq;
    if (!mtlsp_cbs_get_asn1(&v, &seq, MTLSP_ASN1_SEQUENCE)) {
        return 0;
    }
    while (mtlsp_cbs_len(&seq) > 0) {
        mtlsp_cbs dp, name, full, uri;
        int present;
        if (!mtlsp_cbs_get_asn1(&seq, &dp, MTLSP_ASN1_SEQUENCE) ||
            !mtlsp_cbs_get_optional_asn1(&dp, &name, &present, CTX_CONS(0))) {
            return 0;
        }
        if (!present) {
            continue;
        }
        if (!mtlsp_cbs_get_asn1(&name, &full, CTX_CONS(0))) {
            return 0;
        }
        while (mtlsp_cbs_len(&full) > 0 && mtlsp_cbs_peek_asn1_tag(&full, CTX(6))) {
            if (!mtlsp_cbs_get_asn1(&full, &uri, CTX(6))) {
                return 0;
            }
        }
    }
    return 1;
}

static int akid_ok(mtlsp_cbs v)
{
    mtlsp_cbs akid, keyid;
    if (!mtlsp_cbs_get_asn1(&v, &akid, MTLSP_ASN1_SEQUENCE)) {
        return 0;
    }
    return !mtlsp_cbs_peek_asn1_tag(&akid, CTX(0)) || mtlsp_cbs_get_asn1(&akid, &keyid, CTX(0));
}

static int skid_ok(mtlsp_cbs v)
{
    mtlsp_cbs skid;
    return mtlsp_cbs_get_asn1(&v, &skid, MTLSP_ASN1_OCTETSTRING);
}

static int ext_ok(X509_EXTENSION *ext)
{
    const ASN1_OCTET_STRING *data = X509_EXTENSION_get_data(ext);
    mtlsp_cbs v;
    mtlsp_cbs_init(&v, ASN1_STRING_get0_data(data), (size_t)ASN1_STRING_length(data));
    switch (OBJ_obj2nid(X509_EXTENSION_get_object(ext))) {
    case NID_info_access:
        return aia_ok(v);
    case NID_crl_distribution_points:
        return crldp_ok(v);
    case NID_authority_key_identifier:
        return akid_ok(v);
    case NID_subject_key_identifier:
        return skid_ok(v);
    default:
        return 1;
    }
}

/* Go refuses a certificate that repeats an extension. */
static int seen_before(X509 *x, int i)
{
    const ASN1_OBJECT *oid = X509_EXTENSION_get_object(X509_get_ext(x, i));
    for (int k = 0; k < i; k++) {
        if (OBJ_cmp(oid, X509_EXTENSION_get_object(X509_get_ext(x, k))) == 0) {
            return 1;
        }
    }
    return 0;
}

/* More extensions than any real certificate has: refused rather than compared pairwise. */
#define MAX_EXTENSIONS 256

int mtlsp_go_parse_ok(X509 *x)
{
    int n = X509_get_ext_count(x);
    if (n > MAX_EXTENSIONS) {
        return 0;
    }
    for (int i = 0; i < n; i++) {
        if (seen_before(x, i) || !ext_ok(X509_get_ext(x, i))) {
            return 0;
        }
    }
    return mtlsp_nc_parse_ok(x);
}
