/*
 * truststore/check.c - is this a certificate? A full X.509 parse for CA certificates, a
 * structural DER walk for leaf pins (why that is enough: MTLS_CERT_CHECK_PIN in
 * truststore.h).
 */
#include <stdio.h>

#include "../core/der.h"
#include <openssl/x509.h>

#include "truststore.h"

MTLS_RESULT mtlsp_cert_check_der(const uint8_t *data, size_t len, const char *what,
                                 mtls_error *err)
{
    ENSURE_MSG(len > 0 && len <= MTLS_MAX_CERT_BYTES, MTLS_ERR_DER_INVALID,
               "%s: not a DER X.509 certificate (%zu bytes)", what, len);
    mtlsp_cbs cbs, seq;
    mtlsp_cbs_init(&cbs, data, len);
    ENSURE_MSG(mtlsp_cbs_get_asn1(&cbs, &seq, MTLSP_ASN1_SEQUENCE) && mtlsp_cbs_len(&cbs) == 0,
               MTLS_ERR_DER_INVALID,
               "%s: not a DER X.509 certificate (not one complete DER SEQUENCE)", what);
    const uint8_t *p = data;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    int ok = x != NULL && p == data + len;
    X509_free(x);
    if (!ok) {
        mtlsp_error_set(err, MTLS_ERR_DER_INVALID, __FILE__, __LINE__,
                        "%s: not a DER X.509 certificate", what);
        mtlsp_error_append_tls(err);
        return (mtls_result){MTLS_ERR_DER_INVALID};
    }
    return MTLS_RESULT_OK;
}

/* structure_problem returns NULL when `data` is shaped like a certificate
 * (mtlsp_cert_check_structure), else what is wrong. Only CBS_get_asn1-style reads: the
 * reader may later be swapped for an in-house one. */
static const char *structure_problem(const uint8_t *data, size_t len)
{
    if (len == 0) {
        return "empty";
    }
    if (len > MTLS_MAX_CERT_BYTES) {
        return "larger than 64 KiB";
    }
    mtlsp_cbs in, cert, tbs, alg, sig;
    mtlsp_cbs_init(&in, data, len);
    if (data[0] != 0x30) { /* universal, constructed, SEQUENCE */
        return "does not start with a SEQUENCE";
    }
    if (!mtlsp_cbs_get_asn1(&in, &cert, MTLSP_ASN1_SEQUENCE)) {
        return "truncated, or not a DER length";
    }
    if (mtlsp_cbs_len(&in) != 0) {
        return "bytes after the certificate";
    }
    if (!mtlsp_cbs_get_asn1(&cert, &tbs, MTLSP_ASN1_SEQUENCE) || mtlsp_cbs_len(&tbs) == 0) {
        return "no TBSCertificate SEQUENCE";
    }
    if (!mtlsp_cbs_get_asn1(&cert, &alg, MTLSP_ASN1_SEQUENCE) || mtlsp_cbs_len(&alg) == 0) {
        return "no signatureAlgorithm SEQUENCE";
    }
    if (!mtlsp_cbs_get_asn1(&cert, &sig, MTLSP_ASN1_BITSTRING) || mtlsp_cbs_len(&sig) == 0 ||
        mtlsp_cbs_data(&sig)[0] > 7) {
        return "no signatureValue BIT STRING";
    }
    if (mtlsp_cbs_len(&cert) != 0) {
        return "fields after the signatureValue";
    }
    return NULL;
}

MTLS_RESULT mtlsp_cert_check_structure(const uint8_t *data, size_t len, const char *what,
                                       mtls_error *err)
{
    const char *problem = structure_problem(data, len);
    ENSURE_MSG(problem == NULL, MTLS_ERR_DER_INVALID, "%s: not a DER X.509 certificate (%s)",
               what, problem);
    return MTLS_RESULT_OK;
}

MTLS_RESULT mtlsp_cert_check(enum cert_check check, const uint8_t *data, size_t len,
                             const char *what, size_t block, mtls_error *err)
{
    /* The fast path formats no label: a million pins, a million snprintf calls saved. */
    if (check == MTLS_CERT_CHECK_PIN && structure_problem(data, len) == NULL) {
        return MTLS_RESULT_OK;
    }
    char label[300];
    if (block > 0) {
        snprintf(label, sizeof(label), "%s: PEM block %zu", what, block);
        what = label;
    }
    if (check == MTLS_CERT_CHECK_PIN) {
        return mtlsp_cert_check_structure(data, len, what, err);
    }
    return mtlsp_cert_check_der(data, len, what, err);
}
