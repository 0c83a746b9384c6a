/* gomtls.c - see gomtls.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gomtls.h"

#define SAN_PREFIX "http.request.tls.client.san."
#define STACK_CERTS 16

const char *const gomtls_san_lists[4] = {
    SAN_PREFIX "dns_names", SAN_PREFIX "emails", SAN_PREFIX "ips", SAN_PREFIX "uris"};

static int fail_nomem(mtls_error *err)
{
    if (err != NULL) {
        memset(err, 0, sizeof(*err));
        err->code = MTLS_ERR_NOMEM;
        err->category = mtls_category_of(MTLS_ERR_NOMEM);
        err->line = -1;
        err->column = -1;
        snprintf(err->message, sizeof(err->message), "%s", mtls_strerror(MTLS_ERR_NOMEM));
        snprintf(err->where, sizeof(err->where), "bindings/go/gomtls.c");
    }
    return MTLS_ERR_NOMEM;
}

static int add_entry(gomtls_result *r, size_t *cap, gomtls_entry e)
{
    if (r->num_entries == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        gomtls_entry *p = realloc(r->entries, ncap * sizeof(*p));
        if (p == NULL) {
            return -1;
        }
        r->entries = p;
        *cap = ncap;
    }
    r->entries[r->num_entries++] = e;
    return 0;
}

/* Every placeholder that renders, then NAME.0, NAME.1, ... of each SAN list up to the first
 * empty value (the conformance table's rule). */
static int collect_identity(gomtls_result *r)
{
    size_t cap = 0;
    for (size_t i = 0; i < mtls_placeholder_count(); i++) {
        const char *name = mtls_placeholder_name(i), *v = NULL;
        size_t len = 0;
        if (name == NULL || mtls_peer_get(r->peer, name, &v, &len, NULL) != MTLS_OK) {
            continue;
        }
        if (add_entry(r, &cap, (gomtls_entry){name, -1, -1, v, len}) != 0) {
            return -1;
        }
    }
    for (int l = 0; l < 4; l++) {
        for (int n = 0; n >= 0; n++) {
            char name[96];
            const char *v = NULL;
            size_t len = 0;
            snprintf(name, sizeof(name), "%s.%d", gomtls_san_lists[l], n);
            if (mtls_peer_get(r->peer, name, &v, &len, NULL) != MTLS_OK || len == 0) {
                break;
            }
            if (add_entry(r, &cap, (gomtls_entry){NULL, l, n, v, len}) != 0) {
                return -1;
            }
        }
    }
    return 0;
}

static gomtls_blob *collect_certs(const mtls_peer *peer, size_t n, int chain)
{
    gomtls_blob *b = calloc(n ? n : 1, sizeof(*b));
    for (size_t i = 0; b != NULL && i < n; i++) {
        b[i].data = chain ? mtls_peer_chain_cert(peer, i, &b[i].len)
                          : mtls_peer_cert(peer, i, &b[i].len);
    }
    return b;
}

static int collect(gomtls_result *r)
{
    mtls_peer *p = r->peer;
    r->accepted = mtls_peer_accepted(p);
    r->verified = mtls_peer_verified(p);
    r->has_certificate = mtls_peer_has_certificate(p);
    r->reason = mtls_peer_reason(p);
    r->mode = mtls_peer_mode(p);
    r->error_depth = mtls_peer_error_depth(p);
    r->policy_index = mtls_peer_policy_index(p);
    r->message = mtls_peer_message(p);
    r->num_presented = mtls_peer_num_certs(p);
    r->presented = collect_certs(p, r->num_presented, 0);
    r->num_chain = mtls_peer_num_chain(p);
    r->chain = collect_certs(p, r->num_chain, 1);
    if (r->presented == NULL || r->chain == NULL) {
        return -1;
    }
    return collect_identity(r);
}

int gomtls_verify(const mtls_ctx *ctx, size_t index, const uint8_t *buf, const size_t *lens,
                  size_t n, int64_t at, gomtls_result *r, mtls_error *err)
{
    const uint8_t *stack[STACK_CERTS];
    const uint8_t **certs = stack;
    memset(r, 0, sizeof(*r));
    if (n > STACK_CERTS) {
        certs = calloc(n, sizeof(*certs));
        if (certs == NULL) {
            return fail_nomem(err);
        }
    }
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        certs[i] = buf + off;
        off += lens[i];
    }
    int rc = mtls_verify_der(ctx, index, certs, lens, n, at, &r->peer, err);
    if (certs != stack) {
        free(certs);
    }
    if (rc != MTLS_OK) {
        return rc;
    }
    return collect(r) == 0 ? MTLS_OK : fail_nomem(err);
}

void gomtls_result_free(gomtls_result *r)
{
    free(r->entries);
    free(r->presented);
    free(r->chain);
    mtls_peer_free(r->peer);
    memset(r, 0, sizeof(*r));
}
