/*
 * verify/pathcheck.c - BoringSSL's X509_verify_cert on one exact candidate path, then Go's
 * rules (gorules.c). The candidate's anchor is the only trusted certificate and its
 * intermediates the only untrusted ones, so BoringSSL checks that path (signatures,
 * validity, critical extensions, its own constraints) and no other; what libmtls checks
 * itself the Go way (name constraints, v1 anchors) is left out of BoringSSL's verdict by
 * the verify callback.
 */
#include <openssl/err.h>
#include <openssl/x509.h>

#include "paths.h"
#include "verify.h"

/* Errors the callback forgives because libmtls decides them itself, as Go does. */
static int checked_by_libmtls(X509_STORE_CTX *sctx)
{
    switch (X509_STORE_CTX_get_error(sctx)) {
    case X509_V_ERR_PERMITTED_VIOLATION:
    case X509_V_ERR_EXCLUDED_VIOLATION:
    case X509_V_ERR_SUBTREE_MINMAX:
    case X509_V_ERR_UNSUPPORTED_CONSTRAINT_TYPE:
    case X509_V_ERR_UNSUPPORTED_CONSTRAINT_SYNTAX:
    case X509_V_ERR_UNSUPPORTED_NAME_SYNTAX:
    case X509_V_ERR_NAME_CONSTRAINTS_WITHOUT_SANS:
        return 1; /* Go's name constraints: nameconstraints.c */
    default:
        return 0;
    }
}

/* Go accepts an X.509 v1 certificate as a trust anchor even when it is not self-signed;
 * BoringSSL reports it as X509_V_ERR_INVALID_CA. Forgive exactly that case; the Go rules
 * then apply Go's issuer rules to the whole chain. */
static int verify_cb(int ok, X509_STORE_CTX *sctx)
{
    if (ok || checked_by_libmtls(sctx)) {
        return 1;
    }
    if (X509_STORE_CTX_get_error(sctx) != X509_V_ERR_INVALID_CA) {
        return 0;
    }
    X509 *cert = X509_STORE_CTX_get_current_cert(sctx);
    STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(sctx);
    int depth = X509_STORE_CTX_get_error_depth(sctx);
    return cert != NULL && chain != NULL && depth == (int)sk_X509_num(chain) - 1 &&
           X509_get_version(cert) == X509_VERSION_1;
}

void mtlsp_verify_setup(X509_STORE_CTX *sctx, const struct verify_opts *o)
{
    X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(sctx);
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
    /* The ctx's max depth is applied by the Go rules (self-issued CAs not counted); this
     * only bounds BoringSSL's own path building. */
    X509_VERIFY_PARAM_set_depth(param, MTLS_MAX_PEER_CERTS);
    X509_STORE_CTX_set_time(sctx, 0, (time_t)o->at);
    X509_STORE_CTX_set_verify_cb(sctx, verify_cb);
}

static int fill(STACK_OF(X509) *untrusted, STACK_OF(X509) *trusted, X509 *const *path,
                size_t len)
{
    for (size_t i = 1; i + 1 < len; i++) {
        if (!sk_X509_push(untrusted, path[i])) {
            return 0;
        }
    }
    return sk_X509_push(trusted, path[len - 1]) != 0;
}

MTLS_RESULT mtlsp_path_check(struct verdict *out, STACK_OF(X509) **out_chain,
                             X509 *const *path, size_t len, const struct verify_opts *o,
                             mtls_error *err)
{
    mtls_result rc = MTLS_RESULT_OK;
    *out_chain = NULL;
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *sctx = X509_STORE_CTX_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    STACK_OF(X509) *trusted = sk_X509_new_null();
    if (store == NULL || sctx == NULL || untrusted == NULL || trusted == NULL ||
        !fill(untrusted, trusted, path, len) ||
        !X509_STORE_CTX_init(sctx, store, path[0], untrusted)) {
        SET_OUT(MTLS_ERR_NOMEM, NULL);
    }
    X509_STORE_CTX_trusted_stack(sctx, trusted);
    mtlsp_verify_setup(sctx, o);
    if (X509_verify_cert(sctx) != 1) {
        int e = X509_STORE_CTX_get_error(sctx);
        *out = (struct verdict){MTLS_ERR_VERIFY_FAILED, -1, X509_verify_cert_error_string(e)};
        goto out;
    }
    STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(sctx);
    *out = mtlsp_go_path_rules(chain, o);
    if (out->reason == MTLS_OK) {
        *out_chain = X509_chain_up_ref(chain);
        if (*out_chain == NULL) {
            SET_OUT(MTLS_ERR_NOMEM, NULL);
        }
    }
out:
    ERR_clear_error();
    X509_STORE_CTX_free(sctx);
    sk_X509_free(untrusted);
    sk_X509_free(trusted);
    X509_STORE_free(store);
    return rc;
}
