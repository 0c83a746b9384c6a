/*
 * identity/dn.c - Go's pkix.Name.String() of a certificate Name.
 *
 * Go never prints the Name as encoded. parseName reads every attribute (refusing value
 * types it does not know), FillFromRDNSequence files the nine standard attributes into
 * fields (CN and SERIALNUMBER keep the last value, the others collect every value) and
 * keeps all attributes in Names; String() then rebuilds the sequence: the attributes of
 * Names that have no field first, then ToRDNSequence's C, ST, L, STREET, POSTALCODE, O, OU,
 * CN, SERIALNUMBER (each field one RDN, its values joined by '+', empty CN/SERIALNUMBER
 * left out), and prints that sequence in reverse, comma-separated. Attributes without a
 * field print as OID=#hex of the DER asn1.Marshal makes for the decoded string.
 */
#include "../core/mem.h"
#include "identity.h"
#include "identity_int.h"

struct attr {
    int std; /* last arc of 2.5.4.x for the nine standard types, else -1 */
    mtlsp_cbs oid;
    size_t off, len; /* decoded value inside dn.vals */
};

struct dn {
    struct attr *attrs;
    size_t num_attrs, cap_attrs;
    struct buf vals;
};

struct std_type {
    int arc;
    const char *label;
    int single; /* Go keeps one value (the last) for this type */
};

/* Printing order: ToRDNSequence's order, reversed by RDNSequence.String. */
static const struct std_type std_types[] = {
    {5, "SERIALNUMBER", 1}, {3, "CN", 1}, {11, "OU", 0}, {10, "O", 0}, {17, "POSTALCODE", 0},
    {9, "STREET", 0},       {7, "L", 0},  {8, "ST", 0},  {6, "C", 0},
};
#define NUM_STD_TYPES (sizeof(std_types) / sizeof(std_types[0]))

/* Go tests the parsed arcs for exactly 2.5.4.x, x one of the nine field types. */
static int std_arc(const mtlsp_cbs *oid)
{
    const uint8_t *p = mtlsp_cbs_data(oid);
    if (mtlsp_cbs_len(oid) != 3 || p[0] != 0x55 || p[1] != 0x04) {
        return -1;
    }
    for (size_t i = 0; i < NUM_STD_TYPES; i++) {
        if (std_types[i].arc == p[2]) {
            return p[2];
        }
    }
    return -1;
}

static MTLS_RESULT push_attr(struct dn *dn, const mtlsp_cbs *oid, unsigned tag, const mtlsp_cbs *val,
                             mtls_error *err)
{
    if (dn->num_attrs == dn->cap_attrs) {
        size_t cap = dn->cap_attrs ? dn->cap_attrs * 2 : 16;
        struct attr *a = mtlsp_reallocarray(dn->attrs, cap, sizeof(*a));
        ENSURE_MEM(a);
        dn->attrs = a;
        dn->cap_attrs = cap;
    }
    struct attr *a = &dn->attrs[dn->num_attrs];
    a->std = std_arc(oid);
    a->oid = *oid;
    a->off = dn->vals.len;
    GUARD(mtlsp_asn1_string_decode(&dn->vals, tag, val, err));
    a->len = dn->vals.len - a->off;
    dn->num_attrs++;
    return MTLS_RESULT_OK;
}

static MTLS_RESULT parse_rdn(struct dn *dn, mtlsp_cbs *set, mtls_error *err)
{
    while (mtlsp_cbs_len(set) > 0) {
        mtlsp_cbs atav, oid, val;
        unsigned tag;
        ENSURE_MSG(mtlsp_cbs_get_asn1(set, &atav, MTLSP_ASN1_SEQUENCE), MTLS_ERR_CERT_PARSE,
                   "x509: invalid RDNSequence: invalid attribute");
        ENSURE_MSG(mtlsp_cbs_get_asn1(&atav, &oid, MTLSP_ASN1_OBJECT) && mtlsp_oid_valid(&oid),
                   MTLS_ERR_CERT_PARSE, "x509: invalid RDNSequence: invalid attribute type");
        ENSURE_MSG(mtlsp_cbs_get_any_asn1(&atav, &val, &tag), MTLS_ERR_CERT_PARSE,
                   "x509: invalid RDNSequence: invalid attribute value");
        GUARD(push_attr(dn, &oid, tag, &val, err));
    }
    return MTLS_RESULT_OK;
}

static MTLS_RESULT parse_name(struct dn *dn, const uint8_t *name, size_t name_len,
                              mtls_error *err)
{
    mtlsp_cbs in, seq, set;
    mtlsp_cbs_init(&in, name, name_len);
    ENSURE_MSG(mtlsp_cbs_get_asn1(&in, &seq, MTLSP_ASN1_SEQUENCE), MTLS_ERR_CERT_PARSE,
               "x509: invalid RDNSequence");
    while (mtlsp_cbs_len(&seq) > 0) {
        ENSURE_MSG(mtlsp_cbs_get_asn1(&seq, &set, MTLSP_ASN1_SET), MTLS_ERR_CERT_PARSE,
                   "x509: invalid RDNSequence");
        GUARD(parse_rdn(dn, &set, err));
    }
    return MTLS_RESULT_OK;
}

/* RDNSequence.String's escaping: , + " \ < > ; always, '#' first, ' ' first or last. */
static MTLS_RESULT append_escaped(struct buf *out, const char *v, size_t n, mtls_error *err)
{
    for (size_t k = 0; k < n; k++) {
        char c = v[k];
        int esc = c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' || c == '>' ||
                  c == ';' || (c == ' ' && (k == 0 || k == n - 1)) || (c == '#' && k == 0);
        if (esc) {
            GUARD(mtlsp_buf_append_byte(out, '\\', err));
        }
        GUARD(mtlsp_buf_append_byte(out, (uint8_t)c, err));
    }
    return MTLS_RESULT_OK;
}

static MTLS_RESULT append_std(struct buf *out, const struct dn *dn, const struct attr *a,
                              const char *label, mtls_error *err)
{
    GUARD(mtlsp_buf_append_str(out, label, err));
    GUARD(mtlsp_buf_append_byte(out, '=', err));
    return append_escaped(out, dn->vals.data + a->off, a->len, err);
}

/* One field's RDN: the last value of a single-valued field (if non-empty), else all. */
static MTLS_RESULT append_field(struct buf *out, int *first, const struct dn *dn,
                                const struct std_type *t, mtls_error *err)
{
    const struct attr *last = NULL;
    for (size_t i = 0; i < dn->num_attrs; i++) {
        if (dn->attrs[i].std == t->arc) {
            last = &dn->attrs[i];
        }
    }
    if (last == NULL || (t->single && last->len == 0)) {
        return MTLS_RESULT_OK;
    }
    if (!*first) {
        GUARD(mtlsp_buf_append_byte(out, ',', err));
    }
    *first = 0;
    if (t->single) {
        return append_std(out, dn, last, t->label, err);
    }
    int n = 0;
    for (size_t i = 0; i < dn->num_attrs; i++) {
        if (dn->attrs[i].std == t->arc) {
            if (n++ > 0) {
                GUARD(mtlsp_buf_append_byte(out, '+', err));
            }
            GUARD(append_std(out, dn, &dn->attrs[i], t->label, err));
        }
    }
    return MTLS_RESULT_OK;
}

static MTLS_RESULT render(struct buf *out, const struct dn *dn, mtls_error *err)
{
    int first = 1;
    for (size_t t = 0; t < NUM_STD_TYPES; t++) {
        GUARD(append_field(out, &first, dn, &std_types[t], err));
    }
    /* Attributes without a field were placed first, so they print last, reversed. */
    for (size_t i = dn->num_attrs; i-- > 0;) {
        const struct attr *a = &dn->attrs[i];
        if (a->std >= 0) {
            continue;
        }
        if (!first) {
            GUARD(mtlsp_buf_append_byte(out, ',', err));
        }
        first = 0;
        GUARD(mtlsp_oid_append_text(out, &a->oid, err));
        GUARD(mtlsp_buf_append_str(out, "=#", err));
        GUARD(mtlsp_asn1_append_marshalled_hex(out, dn->vals.data + a->off, a->len, err));
    }
    return MTLS_RESULT_OK;
}

MTLS_RESULT mtlsp_render_dn(struct buf *out, const uint8_t *name, size_t name_len,
                            mtls_error *err)
{
    struct dn dn = {0};
    mtls_result rc = MTLS_RESULT_OK;
    ENSURE_REF(out);
    ENSURE_REF(name);
    GUARD_OUT(mtlsp_buf_append(&dn.vals, "", 0, err)); /* vals.data non-NULL from here */
    GUARD_OUT(parse_name(&dn, name, name_len, err));
    GUARD_OUT(render(out, &dn, err));
out:
    mtlsp_free(dn.attrs);
    mtlsp_buf_free(&dn.vals);
    return rc;
}
