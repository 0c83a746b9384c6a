/*
 * verify/nameconstraints.c - name constraints with the semantics of Go 1.19 crypto/x509
 * (what Caddy runs), checked by libmtls itself: BoringSSL's own check reports IP-address
 * constraints as unsupported and also applies constraints to the subject CN, which Go
 * does not. Go 1.19 checks every CA of the path against the subject alternative names of
 * the leaf and of that CA itself (DNS, IP, email, URI; other name types are ignored; a
 * certificate without a SAN extension is not checked) -- not against intermediates in
 * between, nor against subject DNs. Parsing follows Go's parser: what it rejects, libmtls
 * rejects (fail closed); a critical extension with constraint types Go does not handle
 * (directoryName, otherName, ...) makes the CA unusable, as Go's UnhandledCriticalExtension
 * does.
 */
#include <string.h>

#include "../core/der.h"
#include <openssl/obj_mac.h>
#include <openssl/x509.h>

#include "goname.h"
#include "paths.h"

#define TAG_EMAIL (MTLSP_ASN1_CONTEXT_SPECIFIC | 1)
#define TAG_DNS (MTLSP_ASN1_CONTEXT_SPECIFIC | 2)
#define TAG_URI (MTLSP_ASN1_CONTEXT_SPECIFIC | 6)
#define TAG_IP (MTLSP_ASN1_CONTEXT_SPECIFIC | 7)

struct name_constraints {
    mtlsp_cbs permitted; /* GeneralSubtrees contents (may be empty) */
    mtlsp_cbs excluded;
    int unhandled; /* a constraint type Go does not handle */
};

/* The DER value of the only extension `nid` of `x`: 1 present, 0 absent. */
static int ext_value(X509 *x, int nid, mtlsp_cbs *out, int *critical)
{
    int idx = X509_get_ext_by_NID(x, nid, -1);
    if (idx < 0) {
        return 0;
    }
    X509_EXTENSION *ext = X509_get_ext(x, idx);
    const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(ext);
    mtlsp_cbs_init(out, ASN1_STRING_get0_data(v), (size_t)ASN1_STRING_length(v));
    if (critical != NULL) {
        *critical = X509_EXTENSION_get_critical(ext);
    }
    return 1;
}

static struct bstr bs(const mtlsp_cbs *c)
{
    return (struct bstr){mtlsp_cbs_data(c), mtlsp_cbs_len(c)};
}

/* Go's isValidIPMask: ones, then zeros. */
static int ip_mask_ok(const uint8_t *m, size_t n)
{
    int seen_zero = 0;
    for (size_t i = 0; i < n; i++) {
        for (int b = 7; b >= 0; b--) {
            int one = (m[i] >> b) & 1;
            if (one && seen_zero) {
                return 0;
            }
            seen_zero |= !one;
        }
    }
    return 1;
}

/* A domain constraint value as Go's parser accepts it (one leading dot allowed). */
static int domain_constraint_ok(struct bstr v)
{
    if (v.len > 0 && v.p[0] == '.') {
        v = (struct bstr){v.p + 1, v.len - 1};
    }
    return mtlsp_gn_domain_ok(v);
}

/* One constraint value as Go's parseNameConstraintsExtension validates it. */
static int constraint_value_ok(unsigned tag, struct bstr v, int *unhandled)
{
    struct gn_mailbox mb;
    switch (tag) {
    case TAG_DNS:
        return mtlsp_gn_ia5(v) && domain_constraint_ok(v);
    case TAG_IP:
        return (v.len == 8 || v.len == 32) && ip_mask_ok(v.p + v.len / 2, v.len / 2);
    case TAG_EMAIL:
        if (!mtlsp_gn_ia5(v)) {
            return 0;
        }
        return memchr(v.p, '@', v.len) ? mtlsp_gn_parse_mailbox(&mb, v)
                                       : domain_constraint_ok(v);
    case TAG_URI:
        return mtlsp_gn_ia5(v) && !mtlsp_gn_is_ip(v) && domain_constraint_ok(v);
    default:
        *unhandled = 1;
        return 1;
    }
}

/* Reads the next GeneralSubtree of `subtrees`: its base name's tag and value. */
static int next_subtree(mtlsp_cbs *subtrees, unsigned *tag, mtlsp_cbs *value)
{
    mtlsp_cbs seq;
    return mtlsp_cbs_get_asn1(subtrees, &seq, MTLSP_ASN1_SEQUENCE) && mtlsp_cbs_get_any_asn1(&seq, value, tag);
}

static int subtrees_ok(mtlsp_cbs subtrees, int *unhandled)
{
    while (mtlsp_cbs_len(&subtrees) > 0) {
        unsigned tag;
        mtlsp_cbs value;
        if (!next_subtree(&subtrees, &tag, &value) ||
            !constraint_value_ok(tag, bs(&value), unhandled)) {
            return 0;
        }
    }
    return 1;
}

/* Parses `ext` as Go does; 0 when Go's parser rejects the certificate. */
static int nc_parse(struct name_constraints *nc, mtlsp_cbs ext)
{
    mtlsp_cbs top;
    int have_p = 0, have_e = 0;
    memset(nc, 0, sizeof(*nc));
    if (!mtlsp_cbs_get_asn1(&ext, &top, MTLSP_ASN1_SEQUENCE) || mtlsp_cbs_len(&ext) != 0 ||
        !mtlsp_cbs_get_optional_asn1(&top, &nc->permitted, &have_p,
                               MTLSP_ASN1_CONTEXT_SPECIFIC | MTLSP_ASN1_CONSTRUCTED | 0) ||
        !mtlsp_cbs_get_optional_asn1(&top, &nc->excluded, &have_e,
                               MTLSP_ASN1_CONTEXT_SPECIFIC | MTLSP_ASN1_CONSTRUCTED | 1) ||
        mtlsp_cbs_len(&top) != 0) {
        return 0;
    }
    if (!have_p) {
        mtlsp_cbs_init(&nc->permitted, NULL, 0);
    }
    if (!have_e) {
        mtlsp_cbs_init(&nc->excluded, NULL, 0);
    }
    if (mtlsp_cbs_len(&nc->permitted) == 0 && mtlsp_cbs_len(&nc->excluded) == 0) {
        return 0; /* "empty name constraints extension" */
    }
    return subtrees_ok(nc->permitted, &nc->unhandled) && subtrees_ok(nc->excluded, &nc->unhandled);
}

/* One SAN entry as Go's parseSANExtension validates it. */
static int san_entry_ok(unsigned tag, struct bstr v, int *known)
{
    struct bstr host;
    switch (tag) {
    case TAG_EMAIL:
    case TAG_DNS:
        *known = 1;
        return mtlsp_gn_ia5(v);
    case TAG_URI:
        *known = 1;
        return mtlsp_gn_ia5(v) && mtlsp_gn_uri_host(&host, v) &&
               (host.len == 0 || mtlsp_gn_domain_ok(host));
    case TAG_IP:
        *known = 1;
        return v.len == 4 || v.len == 16;
    default:
        return 1;
    }
}

/* Go's forEachSAN + parseSANExtension; *known: some name of a type Go keeps. */
static int san_parse_ok(mtlsp_cbs ext, int *known)
{
    mtlsp_cbs names;
    *known = 0;
    if (!mtlsp_cbs_get_asn1(&ext, &names, MTLSP_ASN1_SEQUENCE)) {
        return 0;
    }
    while (mtlsp_cbs_len(&names) > 0) {
        mtlsp_cbs value;
        unsigned tag;
        if (!mtlsp_cbs_get_any_asn1(&names, &value, &tag) || !san_entry_ok(tag, bs(&value), known)) {
            return 0;
        }
    }
    return 1;
}

int mtlsp_nc_unhandled_critical(X509 *x)
{
    mtlsp_cbs ext;
    int critical = 0, known = 0;
    struct name_constraints nc;
    if (ext_value(x, NID_name_constraints, &ext, &critical) && critical && nc_parse(&nc, ext) &&
        nc.unhandled) {
        return 1;
    }
    critical = 0;
    return ext_value(x, NID_subject_alt_name, &ext, &critical) && critical &&
           san_parse_ok(ext, &known) && !known;
}

int mtlsp_nc_parse_ok(X509 *x)
{
    mtlsp_cbs ext;
    struct name_constraints nc;
    int known;
    if (ext_value(x, NID_name_constraints, &ext, NULL) && !nc_parse(&nc, ext)) {
        return 0;
    }
    return !ext_value(x, NID_subject_alt_name, &ext, NULL) || san_parse_ok(ext, &known);
}

/* Whether one name matches one constraint of the same type (GN_YES/GN_NO/GN_ERROR). */
static int match_one(unsigned tag, struct bstr name, struct bstr c)
{
    struct gn_mailbox mb;
    struct bstr host;
    switch (tag) {
    case TAG_DNS:
        return mtlsp_gn_match_domain(name, c);
    case TAG_EMAIL:
        return mtlsp_gn_parse_mailbox(&mb, name) ? mtlsp_gn_match_email(&mb, c) : GN_ERROR;
    case TAG_URI:
        return mtlsp_gn_uri_host(&host, name) ? mtlsp_gn_match_uri(host, c) : GN_ERROR;
    case TAG_IP:
        if (name.len != c.len / 2) {
            return GN_NO;
        }
        for (size_t i = 0; i < name.len; i++) {
            uint8_t m = c.p[name.len + i];
            if ((name.p[i] & m) != (c.p[i] & m)) {
                return GN_NO;
            }
        }
        return GN_YES;
    default:
        return GN_NO;
    }
}

/* Scans `subtrees` for constraints of type `tag` matching `name`: *out_num counts them,
 * the result is GN_YES if one matches, GN_ERROR if a comparison fails. For excluded
 * subtrees (`excluding`), a wildcard DNS name also matches the names it can stand for. */
static int scan(mtlsp_cbs subtrees, unsigned tag, struct bstr name, int excluding, size_t *out_num)
{
    int result = GN_NO;
    *out_num = 0;
    while (mtlsp_cbs_len(&subtrees) > 0) {
        unsigned t;
        mtlsp_cbs value;
        if (!next_subtree(&subtrees, &t, &value)) {
            return GN_ERROR;
        }
        if (t != tag) {
            continue;
        }
        (*out_num)++;
        int m = result == GN_NO ? match_one(tag, name, bs(&value)) : result;
        if (m == GN_NO && excluding && tag == TAG_DNS &&
            mtlsp_gn_wildcard_may_be(name, bs(&value))) {
            m = GN_YES;
        }
        result = m;
    }
    return result;
}

/* Go's per-name syntax check before comparing (cannot parse rfc822Name / dnsName / URI). */
static int name_parses(unsigned tag, struct bstr name)
{
    struct gn_mailbox mb;
    struct bstr host;
    switch (tag) {
    case TAG_EMAIL:
        return mtlsp_gn_parse_mailbox(&mb, name);
    case TAG_DNS:
        return mtlsp_gn_domain_ok(name);
    case TAG_URI:
        return mtlsp_gn_uri_host(&host, name);
    case TAG_IP:
        return name.len == 4 || name.len == 16;
    default:
        return 1;
    }
}

/* Go's checkNameConstraints for one SAN entry. */
static int check_name(const struct name_constraints *nc, unsigned tag, struct bstr name,
                      size_t *count, const char **why)
{
    size_t num_excluded, num_permitted;
    if (tag != TAG_DNS && tag != TAG_IP && tag != TAG_EMAIL && tag != TAG_URI) {
        return MTLS_OK; /* Go ignores other name types */
    }
    if (!name_parses(tag, name)) {
        *why = "Go cannot parse a subject alternative name";
        return MTLS_ERR_NAME_CONSTRAINTS;
    }
    int excluded = scan(nc->excluded, tag, name, 1, &num_excluded);
    int permitted = scan(nc->permitted, tag, name, 0, &num_permitted);
    *count += num_excluded;
    if (*count > MTLS_MAX_CONSTRAINT_COMPARISONS) {
        *why = "too many name constraint comparisons";
        return MTLS_ERR_NAME_CONSTRAINTS;
    }
    if (excluded != GN_NO) {
        *why = excluded == GN_YES ? "a subject alternative name is excluded by a CA"
                                  : "a subject alternative name cannot be compared to a constraint";
        return MTLS_ERR_NAME_CONSTRAINTS;
    }
    *count += num_permitted;
    if (*count > MTLS_MAX_CONSTRAINT_COMPARISONS) {
        *why = "too many name constraint comparisons";
        return MTLS_ERR_NAME_CONSTRAINTS;
    }
    if (permitted == GN_ERROR || (num_permitted > 0 && permitted != GN_YES)) {
        *why = permitted == GN_ERROR
                   ? "a subject alternative name cannot be compared to a constraint"
                   : "a subject alternative name is not permitted by a CA";
        return MTLS_ERR_NAME_CONSTRAINTS;
    }
    return MTLS_OK;
}

/* Go's forEachSAN over the SAN extension of `x` against the constraints `nc`. */
static int check_sans(const struct name_constraints *nc, X509 *x, size_t *count,
                      const char **why)
{
    mtlsp_cbs san, names;
    if (!ext_value(x, NID_subject_alt_name, &san, NULL)) {
        return MTLS_OK;
    }
    if (!mtlsp_cbs_get_asn1(&san, &names, MTLSP_ASN1_SEQUENCE)) {
        *why = "subject alternative names do not parse";
        return MTLS_ERR_NAME_CONSTRAINTS;
    }
    while (mtlsp_cbs_len(&names) > 0) {
        mtlsp_cbs value;
        unsigned tag;
        if (!mtlsp_cbs_get_any_asn1(&names, &value, &tag)) {
            *why = "subject alternative names do not parse";
            return MTLS_ERR_NAME_CONSTRAINTS;
        }
        int r = check_name(nc, tag, bs(&value), count, why);
        if (r != MTLS_OK) {
            return r;
        }
    }
    return MTLS_OK;
}

int mtlsp_nc_check(X509 *ca, X509 *leaf, const char **why)
{
    mtlsp_cbs ext;
    struct name_constraints nc;
    int critical = 0;
    if (!ext_value(ca, NID_name_constraints, &ext, &critical)) {
        return MTLS_OK;
    }
    if (!nc_parse(&nc, ext)) {
        *why = "the CA's name constraints do not parse";
        return MTLS_ERR_NAME_CONSTRAINTS;
    }
    if (critical && nc.unhandled) {
        *why = "critical name constraints of a type Go does not handle";
        return MTLS_ERR_UNHANDLED_CRITICAL;
    }
    /* Go 1.19 checks the leaf's names, then the constraining CA's own names. */
    size_t count = 0;
    int r = check_sans(&nc, leaf, &count, why);
    return r != MTLS_OK ? r : check_sans(&nc, ca, &count, why);
}
