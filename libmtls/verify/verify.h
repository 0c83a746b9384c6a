/*
 * verify/verify.h - the compiled policy set (struct mtls_ctx), chain verification with Go
 * crypto/x509 client-auth semantics, and the verdict object (struct mtls_peer).
 */
#ifndef MTLS_VERIFY_H
#define MTLS_VERIFY_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

/* BoringSSL's verify error for a name-constrained chain whose leaf has no SAN; OpenSSL 3 has
 * no such code (a value no verification reports). */
#ifndef X509_V_ERR_NAME_CONSTRAINTS_WITHOUT_SANS
#define X509_V_ERR_NAME_CONSTRAINTS_WITHOUT_SANS (-1000)
#endif

#include "../core/blob.h"
#include "../core/buf.h"
#include "../core/result.h"
#include "../policy/policy.h"
#include "../truststore/truststore.h"

/* Most certificates a client may send. Go has no count limit (only its 64 KiB handshake
 * message bound, which holds about 150 small certificates); BetterTLS sends 36. Path
 * length is bounded by the ctx's max depth (mtls_ctx_set_max_depth), work by the
 * signature-check budget of path building (paths.h). */
#define MTLS_MAX_PEER_CERTS 64

/* Shared DER blobs: a verified path (leaf first, anchor last: mtls_peer_chain_cert), or a
 * policy's CA names. */
struct blob_list {
    struct mtlsp_blob **items; /* owned references */
    size_t num;
    size_t cap;
};

struct compiled_policy {
    X509_STORE *store;                 /* anchors; NULL when the policy has none */
    STACK_OF(X509) *anchors;           /* the same anchors, for path building */
    struct blob_list ca_names;         /* anchor subjects for CertificateRequest (DER
                                        * Names); empty when they would not fit */
    struct pinset **pins;              /* one per leaf list; the leaf must be in each */
    size_t num_pins;
    uint8_t sid_ctx[32];               /* session-ID context: digest of policy + generation */
};

struct mtls_ctx {
    atomic_int refs;
    struct policy_set *set;
    struct compiled_policy *compiled; /* set->num entries */
    mtls_clock_fn clock;
    void *clock_user;
    uint64_t generation;
    int purpose;   /* mtls_purpose: the extended key usage required */
    int max_depth; /* most intermediates (self-issued ones not counted) */
};

/* Connection facts the TLS glue attaches to a peer (all optional). */
struct conn_info {
    char *version;     /* "tls1.3" */
    char *cipher;      /* Go/IANA suite name */
    char *proto;       /* ALPN */
    char *server_name; /* SNI */
    int resumed;
};

struct cache_entry {
    char *name;
    char *value;
    size_t len;
};


struct mtls_peer {
    atomic_int refs;
    int accepted;
    int verified;
    int reason; /* MTLS_OK or MTLS_ERR_* */
    const char *why; /* static detail for the message, or NULL */
    int depth;       /* presented certificate at fault, or -1 */
    X509 *bad;       /* certificate at fault when known (may come from the trust store) */
    char *message;   /* rendered on first mtls_peer_message */
    size_t policy_index;
    int mode;
    struct mtlsp_blob **certs; /* as presented, leaf first */
    size_t num_certs;
    struct blob_list chain; /* the verified path; empty unless verified */
    int has_conn;
    struct conn_info conn;
    struct cache_entry *cache;
    size_t num_cache;
    struct mtlsp_leaf *leaf; /* certs[0] as identity/ reads it, on the first placeholder */
};

/* mtlsp_ctx_now returns the time from the ctx clock. */
int64_t mtlsp_ctx_now(const struct mtls_ctx *ctx);

/* mtlsp_judge reaches the verdict of policy `index` on the chain `certs` (borrowed; the
 * peer takes its own references) at `at_unix`. `parsed` (may be NULL; borrowed) is the same
 * chain as the TLS library already parsed it, certificate i from certs[i]: the judge then
 * does not parse it again (it is ignored when its length differs). Fails only on
 * NOMEM/internal errors; a refusal is a peer with accepted == 0. */
MTLS_RESULT mtlsp_judge(struct mtls_peer **out, const struct mtls_ctx *ctx, size_t index,
                        struct mtlsp_blob *const *certs, STACK_OF(X509) *parsed, size_t num_certs,
                        int64_t at_unix, mtls_error *err);

/* mtlsp_judge_rejects_no_cert: 1 if a client that sends no certificate is refused. */
int mtlsp_judge_rejects_no_cert(const struct mtls_ctx *ctx, size_t index);

/* mtlsp_peer_new: an empty peer with one reference (accepted = 0). */
struct mtls_peer *mtlsp_peer_new(void);

/* mtlsp_chain_capture stores the path `chain` (leaf first) in `out`: certificates that are
 * in `presented` share the client's buffer from `certs` (same order as `presented`), others
 * (the anchor) are encoded. `out` is empty on failure. */
MTLS_RESULT mtlsp_chain_capture(struct blob_list *out, STACK_OF(X509) *chain,
                                STACK_OF(X509) *presented, struct mtlsp_blob *const *certs,
                                mtls_error *err);
/* mtlsp_blob_list_push appends `b` (takes the reference; frees it on failure). */
MTLS_RESULT mtlsp_blob_list_push(struct blob_list *l, struct mtlsp_blob *b, mtls_error *err);
/* mtlsp_blob_list_free drops the references held by `c` and empties it. */
void mtlsp_blob_list_free(struct blob_list *c);

/* mtlsp_describe_cert appends "subject \"...\" (sha256 ...)" for `der`. */
MTLS_RESULT mtlsp_describe_cert(struct buf *out, const uint8_t *der, size_t len,
                                mtls_error *err);

#endif
