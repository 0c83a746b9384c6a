/*
 * caddyfile_tls.c - the `tls` directive (Caddy 2.6.2 httpcaddyfile parseTLS, subset), PEM
 * bundles for trusted_*_cert_file, `trust_pool` (current Caddy's syntax), and the merging
 * of connection policies (consolidateConnPolicies) including its client-auth conflict.
 *
 * Deliberate differences from 2.6.2 (DESIGN.md §1): a PEM bundle contributes every
 * certificate (2.6.2: only the first); a non-CERTIFICATE block anywhere in it is an error;
 * an unknown client_auth mode is an error here (Caddy fails only when it loads the config);
 * the conflicting-policies error says how to fix the Caddyfile.
 */
#include "caddyfile_int.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include <openssl/base64.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/mem.h>
#include <openssl/pem.h>

static const char *const supported_ciphers[] = {
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    NULL,
};
static const char *const supported_curves[] = {"x25519", "secp256r1", "secp384r1", "secp521r1",
                                               NULL};
static const char *const supported_protocols[] = {"tls1.2", "tls1.3", NULL};
static const char *const client_auth_modes[] = {"request", "require", "verify_if_given",
                                                "require_and_verify", NULL};
/* tls subdirectives Caddy 2.6.2 knows but mtls-proxy does not run */
static const char *const unsupported_tls_subdirs[] = {
    "load", "ca", "key_type", "eab", "issuer", "get_certificate", "dns", "resolvers", "ca_root",
    "on_demand", "propagation_timeout", "propagation_delay", "dns_ttl",
    "dns_challenge_override_domain", "reuse_private_keys", "insecure_secrets_log", NULL,
};

static int in_list(const char *const *list, const char *s)
{
    for (; *list != NULL; list++) {
        if (strcmp(*list, s) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Every PEM block of `path` must be a CERTIFICATE; appends each as base64 DER. */
static int read_pem_certs(struct cf_disp *d, const char *subdir, const char *path,
                          struct cf_strv *out)
{
    struct cf_ctx *ctx = d->ctx;
    char *data;
    size_t len;
    int e = 0, count = 0, rc = -1;
    if (ctx->opts.no_files) {
        return cf_disp_err(d, "%s: cannot read %s: file access is disabled", subdir, path);
    }
    if (cf_read_file(ctx, path, &data, &len, &e) != 0) {
        return cf_disp_err(d, "%s: cannot read %s: %s", subdir, path,
                           e == EINVAL ? "not a regular file" : strerror(e));
    }
    BIO *bio = BIO_new_mem_buf(data, len > (size_t)INT_MAX ? INT_MAX : (int)len);
    if (bio == NULL) {
        return cf_oom(ctx);
    }
    for (;;) {
        char *name = NULL, *header = NULL;
        unsigned char *der = NULL;
        long der_len = 0;
        ERR_clear_error();
        if (!PEM_read_bio(bio, &name, &header, &der, &der_len)) {
            uint32_t err = ERR_peek_last_error();
            ERR_clear_error();
            if (ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE) {
                break;
            }
            cf_disp_err(d, "%s: %s holds a malformed PEM block", subdir, path);
            goto out;
        }
        int is_cert = strcmp(name, "CERTIFICATE") == 0;
        char *b64 = NULL;
        size_t b64_len = 0;
        if (is_cert && EVP_EncodedLength(&b64_len, (size_t)der_len)) {
            b64 = cf_alloc(ctx, b64_len);
            if (b64 != NULL) {
                EVP_EncodeBlock((uint8_t *)b64, der, (size_t)der_len);
            }
        }
        if (!is_cert) {
            cf_disp_err(d,
                        "%s: %s holds a %s PEM block; only CERTIFICATE blocks are allowed "
                        "(no CERTIFICATE pem block found in %s)",
                        subdir, path, name, path);
        }
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(der);
        if (!is_cert || b64 == NULL || cf_strv_push(ctx, out, b64) != 0) {
            if (is_cert) {
                cf_oom(ctx);
            }
            goto out;
        }
        count++;
    }
    if (count == 0) {
        cf_disp_err(d, "%s: no CERTIFICATE pem block found in %s", subdir, path);
        goto out;
    }
    rc = 0;
out:
    BIO_free(bio);
    return rc;
}

/* `trust_pool file|inline ...` -> current Caddy's {"provider": ...} object. */
static int parse_trust_pool(struct cf_disp *d, struct cf_clientauth *ca)
{
    const struct cf_token *at = cf_disp_token(d);
    if (ca->trusted_ca_certs.n != 0) {
        return cf_disp_err(d, "cannot specify both 'trust_pool' and 'trusted_ca_cert' or "
                              "'trusted_ca_cert_file'");
    }
    if (ca->ca != NULL) {
        return cf_disp_err(d, "trust_pool given twice in one client_auth block");
    }
    if (!cf_disp_next_arg(d)) {
        return cf_disp_arg_err(d);
    }
    const char *mod = cf_disp_val(d);
    int is_file = strcmp(mod, "file") == 0, is_inline = strcmp(mod, "inline") == 0;
    if (!is_file && !is_inline) {
        const char *what = cf_printf(d->ctx, "trust_pool %s", mod);
        return cf_unsupported(d->ctx, cf_disp_token(d), what ? what : "trust_pool");
    }
    struct cf_disp sd;
    cf_disp_next_segment(d, &sd);
    struct cf_strv list = {0}, more;
    cf_disp_next(&sd); /* module name */
    if (cf_disp_remaining_args(&sd, &list) != 0) {
        return -1;
    }
    while (cf_disp_next_block(&sd, 0)) {
        const char *sub = cf_disp_val(&sd);
        if (strcmp(sub, is_file ? "pem_file" : "trust_der") != 0) {
            return cf_disp_err(&sd, "unrecognized directive: %s", sub);
        }
        if (cf_disp_remaining_args(&sd, &more) != 0) {
            return -1;
        }
        for (size_t i = 0; i < more.n; i++) {
            if (cf_strv_push(d->ctx, &list, more.v[i]) != 0) {
                return -1;
            }
        }
    }
    if (list.n == 0) {
        return cf_fail(d->ctx, at, "trust_pool %s: no certificates specified", mod);
    }
    ca->ca = cf_own(d->ctx, json_pack("{s:s, s:o}", "provider", mod,
                                      is_file ? "pem_files" : "trusted_ca_certs",
                                      cf_strv_json(&list)));
    return ca->ca != NULL ? 0 : -1;
}

static int parse_client_auth(struct cf_disp *d, struct cf_policy *cp)
{
    struct cf_clientauth *ca = cf_alloc(d->ctx, sizeof(*ca));
    if (ca == NULL) {
        return -1;
    }
    ca->mode = "";
    cp->client_auth = ca;
    for (int nesting = d->nesting; cf_disp_next_block(d, nesting);) {
        const char *sub = cf_disp_val(d);
        if (strcmp(sub, "mode") == 0) {
            if (!cf_disp_next_arg(d)) {
                return cf_disp_arg_err(d);
            }
            ca->mode = cf_disp_val(d);
            if (cf_disp_next_arg(d)) {
                return cf_disp_arg_err(d);
            }
            if (!in_list(client_auth_modes, ca->mode)) {
                return cf_disp_err(d, "client_auth: client auth mode not recognized: %s "
                                      "(use request, require, verify_if_given or "
                                      "require_and_verify)",
                                   ca->mode);
            }
        } else if (strcmp(sub, "trusted_ca_cert") == 0 || strcmp(sub, "trusted_leaf_cert") == 0) {
            int is_ca = sub[8] == 'c';
            if (is_ca && ca->ca != NULL) {
                return cf_disp_err(d, "cannot specify both 'trust_pool' and 'trusted_ca_cert' "
                                      "or 'trusted_ca_cert_file'");
            }
            if (!cf_disp_next_arg(d)) {
                return cf_disp_arg_err(d);
            }
            struct cf_strv *dst = is_ca ? &ca->trusted_ca_certs : &ca->trusted_leaf_certs;
            if (cf_strv_push(d->ctx, dst, cf_disp_val(d)) != 0) {
                return -1;
            }
        } else if (strcmp(sub, "trusted_ca_cert_file") == 0 ||
                   strcmp(sub, "trusted_leaf_cert_file") == 0) {
            int is_ca = sub[8] == 'c';
            if (is_ca && ca->ca != NULL) {
                return cf_disp_err(d, "cannot specify both 'trust_pool' and 'trusted_ca_cert' "
                                      "or 'trusted_ca_cert_file'");
            }
            if (!cf_disp_next_arg(d)) {
                return cf_disp_arg_err(d);
            }
            struct cf_strv *dst = is_ca ? &ca->trusted_ca_certs : &ca->trusted_leaf_certs;
            if (read_pem_certs(d, sub, cf_disp_val(d), dst) != 0) {
                return -1;
            }
        } else if (strcmp(sub, "trust_pool") == 0) {
            if (parse_trust_pool(d, ca) != 0) {
                return -1;
            }
        } else if (strcmp(sub, "verifier") == 0) {
            return cf_unsupported(d->ctx, cf_disp_token(d), "client_auth verifier");
        } else {
            return cf_disp_err(d, "unknown subdirective for client_auth: %s", sub);
        }
    }
    return 0;
}

static int parse_tls_subdir(struct cf_disp *d, struct cf_policy *cp)
{
    const char *sub = cf_disp_val(d);
    struct cf_strv args;
    if (strcmp(sub, "protocols") == 0) {
        if (cf_disp_remaining_args(d, &args) != 0) {
            return -1;
        }
        if (args.n == 0) {
            return cf_disp_err(d, "protocols requires one or two arguments");
        }
        for (size_t i = 0; i < args.n && i < 2; i++) {
            if (!in_list(supported_protocols, args.v[i])) {
                return cf_disp_err(d, "Wrong protocol name or protocol not supported: '%s'",
                                   args.v[i]);
            }
        }
        cp->protocol_min = args.v[0];
        if (args.n > 1) {
            cp->protocol_max = args.v[1];
        }
    } else if (strcmp(sub, "ciphers") == 0 || strcmp(sub, "curves") == 0) {
        int ciphers = sub[1] == 'i';
        while (cf_disp_next_arg(d)) {
            const char *v = cf_disp_val(d);
            if (ciphers && !in_list(supported_ciphers, v)) {
                return cf_disp_err(d, "Wrong cipher suite name or cipher suite not supported: '%s'",
                                   v);
            }
            if (!ciphers && !in_list(supported_curves, v)) {
                return cf_disp_err(d, "Wrong curve name or curve not supported: '%s'", v);
            }
            if (cf_strv_push(d->ctx, ciphers ? &cp->ciphers : &cp->curves, v) != 0) {
                return -1;
            }
        }
    } else if (strcmp(sub, "alpn") == 0) {
        if (cf_disp_remaining_args(d, &args) != 0) {
            return -1;
        }
        if (args.n == 0) {
            return cf_disp_arg_err(d);
        }
        cp->alpn = args;
    } else if (strcmp(sub, "client_auth") == 0) {
        return parse_client_auth(d, cp);
    } else if (in_list(unsupported_tls_subdirs, sub)) {
        const char *what = cf_printf(d->ctx, "tls subdirective %s", sub);
        return cf_unsupported(d->ctx, cf_disp_token(d), what ? what : sub);
    } else {
        return cf_disp_err(d, "unknown subdirective: %s", sub);
    }
    return 0;
}

static int tls_cert_key(struct cf_disp *d, const struct cf_strv *first, struct cf_tlsstate *st,
                        struct cf_pile *pile, struct cf_certsel *sel, struct cf_policy *cp)
{
    struct cf_ctx *ctx = d->ctx;
    const char *tag = NULL;
    for (size_t i = 0; i < st->cert_files.n; i++) {
        if (strcmp(st->cert_files.v[i], first->v[0]) == 0) {
            tag = cf_printf(ctx, "cert%zu", i);
            break;
        }
    }
    if (tag == NULL) {
        tag = cf_printf(ctx, "cert%zu", st->cert_files.n);
        struct cf_loadfile lf = {first->v[0], first->v[1], tag};
        if (tag == NULL || cf_strv_push(ctx, &st->cert_files, first->v[0]) != 0 ||
            cf_pile_add_loader(ctx, pile, lf) != 0) {
            return -1;
        }
    }
    if (tag == NULL || cf_strv_push(ctx, &sel->any_tag, tag) != 0) {
        return -1;
    }
    cp->cert_where = cf_disp_token(d);
    return 0;
}

int cf_parse_tls(struct cf_ctx *ctx, const struct cf_segment *seg, struct cf_tlsstate *st,
                 struct cf_pile *pile)
{
    struct cf_disp d;
    cf_disp_init(&d, ctx, seg->tok, seg->n);
    struct cf_policy *cp = cf_alloc(ctx, sizeof(*cp));
    struct cf_certsel *sel = cf_alloc(ctx, sizeof(*sel));
    if (cp == NULL || sel == NULL) {
        return -1;
    }
    cp->where = &seg->tok[0];
    cp->protocol_min = cp->protocol_max = "";
    while (cf_disp_next(&d)) {
        struct cf_strv first;
        if (cf_disp_remaining_args(&d, &first) != 0) {
            return -1;
        }
        if (first.n == 1) {
            if (strcmp(first.v[0], "internal") == 0) {
                return cf_unsupported(ctx, cf_disp_token(&d), "tls internal");
            }
            if (strchr(first.v[0], '@') != NULL) {
                return cf_unsupported(ctx, cf_disp_token(&d), "tls EMAIL (ACME)");
            }
            return cf_disp_err(&d, "single argument must either be 'internal' or an email "
                                   "address");
        }
        if (first.n == 2 && tls_cert_key(&d, &first, st, pile, sel, cp) != 0) {
            return -1;
        }
        if (first.n > 2) {
            return cf_disp_arg_err(&d);
        }
        int has_block = 0;
        for (int nesting = d.nesting; cf_disp_next_block(&d, nesting);) {
            has_block = 1;
            if (parse_tls_subdir(&d, cp) != 0) {
                return -1;
            }
        }
        if (first.n == 0 && !has_block) {
            return cf_disp_arg_err(&d);
        }
    }
    if (sel->any_tag.n > 0) {
        cp->certsel = sel;
    }
    return cf_pile_add_policy(ctx, pile, cp);
}

int cf_policy_settings_empty(const struct cf_policy *p)
{
    return p->certsel == NULL && p->ciphers.n == 0 && p->curves.n == 0 && p->alpn.n == 0 &&
           p->protocol_min[0] == '\0' && p->protocol_max[0] == '\0' && p->client_auth == NULL;
}

static int clientauth_equal(const struct cf_clientauth *a, const struct cf_clientauth *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }
    return cf_strv_equal(&a->trusted_ca_certs, &b->trusted_ca_certs) &&
           cf_strv_equal(&a->trusted_leaf_certs, &b->trusted_leaf_certs) &&
           strcmp(a->mode, b->mode) == 0 &&
           ((a->ca == NULL && b->ca == NULL) || (a->ca && b->ca && json_equal(a->ca, b->ca)));
}

static int sni_equal(const struct cf_strv *a, const struct cf_strv *b)
{
    if (a == NULL || b == NULL) {
        return a == b;
    }
    return cf_strv_equal(a, b);
}

/* reflect.DeepEqual on two *ConnectionPolicy */
static int policy_equal(const struct cf_policy *a, const struct cf_policy *b)
{
    if (a == b) {
        return 1;
    }
    if ((a->certsel == NULL) != (b->certsel == NULL)) {
        return 0;
    }
    if (a->certsel != NULL && !cf_strv_equal(&a->certsel->any_tag, &b->certsel->any_tag)) {
        return 0;
    }
    return sni_equal(a->sni, b->sni) && cf_strv_equal(&a->ciphers, &b->ciphers) &&
           cf_strv_equal(&a->curves, &b->curves) && cf_strv_equal(&a->alpn, &b->alpn) &&
           strcmp(a->protocol_min, b->protocol_min) == 0 &&
           strcmp(a->protocol_max, b->protocol_max) == 0 &&
           clientauth_equal(a->client_auth, b->client_auth);
}

static int catch_all_last(void *user, const void *a, const void *b)
{
    (void)user;
    const struct cf_policy *pa = a, *pb = b;
    return pb->sni == NULL && pa->sni != NULL;
}

static const char *sni_text(struct cf_ctx *ctx, const struct cf_policy *p)
{
    if (p->sni == NULL || p->sni->n == 0) {
        return "(all names)";
    }
    return p->sni->v[0] ? cf_printf(ctx, "%s%s", p->sni->v[0], p->sni->n > 1 ? ", ..." : "")
                        : "";
}

static int client_auth_conflict(struct cf_ctx *ctx, const struct cf_policy *i,
                                const struct cf_policy *j)
{
    const char *site = sni_text(ctx, i);
    if (i->cert_where != NULL) {
        return cf_fail(ctx, j->where,
                       "tls: site %s gets `tls CERT KEY` (%s:%d) and a separate `tls { "
                       "client_auth ... }` (e.g. from an imported snippet); Caddy rejects this "
                       "(two policies with same match criteria have conflicting client auth "
                       "configuration). Put the certificate on the snippet's tls line instead: "
                       "`tls cert.pem key.pem { client_auth { ... } }`",
                       site ? site : "", i->cert_where->file, i->cert_where->line);
    }
    if (i->where == NULL) {
        return cf_fail(ctx, j->where,
                       "tls: site %s: two policies with same match criteria have conflicting "
                       "client auth configuration; put all tls settings of the site in one tls "
                       "directive",
                       site ? site : "");
    }
    return cf_fail(ctx, j->where,
                   "tls: site %s has a `tls` directive without client_auth (%s:%d) before this "
                   "`tls { client_auth ... }`; Caddy rejects this (two policies with same match "
                   "criteria have conflicting client auth configuration). Put all tls settings "
                   "of the site in one tls directive",
                   site ? site : "", i->where->file, i->where->line);
}

static int check_mergeable(struct cf_ctx *ctx, const struct cf_policy *i, const struct cf_policy *j)
{
    static const char *const fmt = "tls: two policies with same match criteria have "
                                   "conflicting %s (site %s; first tls directive at %s:%d)";
    const char *what = NULL;
    if (i->alpn.n > 0 && j->alpn.n > 0 && !cf_strv_equal(&i->alpn, &j->alpn)) {
        what = "ALPN";
    } else if (i->ciphers.n > 0 && j->ciphers.n > 0 && !cf_strv_equal(&i->ciphers, &j->ciphers)) {
        what = "cipher suites";
    } else if (i->client_auth == NULL && j->client_auth != NULL) {
        return client_auth_conflict(ctx, i, j);
    } else if (i->curves.n > 0 && j->curves.n > 0 && !cf_strv_equal(&i->curves, &j->curves)) {
        what = "curves";
    } else if (i->protocol_min[0] && j->protocol_min[0] &&
               strcmp(i->protocol_min, j->protocol_min) != 0) {
        what = "min protocol";
    } else if (i->protocol_max[0] && j->protocol_max[0] &&
               strcmp(i->protocol_max, j->protocol_max) != 0) {
        what = "max protocol";
    }
    if (what != NULL) {
        const char *site = sni_text(ctx, i);
        const struct cf_token *w = i->where != NULL ? i->where : j->where;
        return cf_fail(ctx, j->where != NULL ? j->where : w, fmt, what, site ? site : "",
                       w ? w->file : "?", w ? w->line : 0);
    }
    return 0;
}

static int merge_into(struct cf_ctx *ctx, struct cf_policy *i, struct cf_policy *j)
{
    if (i->alpn.n == 0 && j->alpn.n > 0) {
        i->alpn = j->alpn;
    }
    if (i->ciphers.n == 0 && j->ciphers.n > 0) {
        i->ciphers = j->ciphers;
    }
    if (i->client_auth == NULL && j->client_auth != NULL) {
        i->client_auth = j->client_auth;
    }
    if (i->curves.n == 0 && j->curves.n > 0) {
        i->curves = j->curves;
    }
    if (i->protocol_min[0] == '\0' && j->protocol_min[0] != '\0') {
        i->protocol_min = j->protocol_min;
    }
    if (i->protocol_max[0] == '\0' && j->protocol_max[0] != '\0') {
        i->protocol_max = j->protocol_max;
    }
    if (i->certsel == NULL && j->certsel != NULL) {
        i->certsel = j->certsel;
    } else if (i->certsel != NULL && j->certsel != NULL) {
        for (size_t k = 0; k < j->certsel->any_tag.n; k++) {
            const char *tag = j->certsel->any_tag.v[k];
            if (!cf_strv_contains(&i->certsel->any_tag, tag) &&
                cf_strv_push(ctx, &i->certsel->any_tag, tag) != 0) {
                return -1;
            }
        }
    }
    if (i->cert_where == NULL) {
        i->cert_where = j->cert_where;
    }
    return 0;
}

/* consolidateConnPolicies (2.6.2): catch-alls last, drop duplicates, merge same matchers. */
int cf_consolidate_policies(struct cf_ctx *ctx, struct cf_policy ***cps_io, size_t *n_io)
{
    struct cf_policy **cps = *cps_io;
    size_t n = *n_io;
    cf_sort_stable((void **)cps, n, catch_all_last, NULL);
    for (long i = 0; i < (long)n; i++) {
        for (long j = 0; j < (long)n; j++) {
            if (j == i) {
                continue;
            }
            if (policy_equal(cps[i], cps[j])) {
                memmove(&cps[j], &cps[j + 1], (n - (size_t)j - 1) * sizeof(*cps));
                n--;
                i--;
                break;
            }
            if (sni_equal(cps[i]->sni, cps[j]->sni)) {
                if (check_mergeable(ctx, cps[i], cps[j]) != 0 ||
                    merge_into(ctx, cps[i], cps[j]) != 0) {
                    return -1;
                }
                memmove(&cps[j], &cps[j + 1], (n - (size_t)j - 1) * sizeof(*cps));
                n--;
                i--;
                break;
            }
        }
    }
    *n_io = n;
    return 0;
}

static int set_list(json_t *obj, const char *key, const struct cf_strv *v)
{
    if (v->n == 0) {
        return 0;
    }
    return json_object_set_new(obj, key, cf_strv_json(v));
}

static int set_str(json_t *obj, const char *key, const char *v)
{
    if (v == NULL || v[0] == '\0') {
        return 0;
    }
    return json_object_set_new(obj, key, json_string(v));
}

json_t *cf_policy_json(const struct cf_policy *p)
{
    json_t *o = json_object();
    int rc = 0;
    if (o == NULL) {
        return NULL;
    }
    if (p->sni != NULL) {
        rc |= json_object_set_new(o, "match", json_pack("{s:o}", "sni", cf_strv_json(p->sni)));
    }
    if (p->certsel != NULL) {
        rc |= json_object_set_new(o, "certificate_selection",
                                  json_pack("{s:o}", "any_tag", cf_strv_json(&p->certsel->any_tag)));
    }
    rc |= set_list(o, "cipher_suites", &p->ciphers);
    rc |= set_list(o, "curves", &p->curves);
    rc |= set_list(o, "alpn", &p->alpn);
    rc |= set_str(o, "protocol_min", p->protocol_min);
    rc |= set_str(o, "protocol_max", p->protocol_max);
    if (p->client_auth != NULL) {
        const struct cf_clientauth *ca = p->client_auth;
        json_t *c = json_object();
        rc |= c == NULL;
        if (c != NULL) {
            if (ca->ca != NULL) {
                rc |= json_object_set(c, "ca", ca->ca);
            }
            rc |= set_list(c, "trusted_ca_certs", &ca->trusted_ca_certs);
            rc |= set_list(c, "trusted_leaf_certs", &ca->trusted_leaf_certs);
            rc |= set_str(c, "mode", ca->mode);
            rc |= json_object_set_new(o, "client_authentication", c);
        }
    }
    if (rc != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}
