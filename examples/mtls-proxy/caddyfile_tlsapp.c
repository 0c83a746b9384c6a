/*
 * caddyfile_tlsapp.c - the tls app of the adapted config (Caddy 2.6.2 httpcaddyfile
 * buildTLSApp): certificates.load_files in server/site order (repeated when a site block is
 * split over several listeners, as Caddy does), certificates.automate for hosts that share a
 * block with a host-less key, and the automation policies Caddy emits without any issuer
 * options: public names alone are dropped, internal names (localhost, *.local, IPs, ...)
 * mixed with public ones get an internal-issuer policy (consolidateAutomationPolicies).
 */
#include "caddyfile_int.h"

#include <string.h>
#include <strings.h>

struct autopol {
    struct cf_strv subjects;
    int internal;
};

static int match_wildcard(const char *subject, const char *wildcard)
{
    if (strcasecmp(subject, wildcard) == 0) {
        return 1;
    }
    if (strchr(wildcard, '*') == NULL) {
        return 0;
    }
    /* replace each non-empty label in turn with "*" and compare */
    size_t n = strlen(subject);
    for (size_t start = 0; start <= n;) {
        size_t end = start;
        while (end < n && subject[end] != '.') {
            end++;
        }
        if (end > start) {
            size_t wl = strlen(wildcard);
            size_t cand_len = start + 1 + (n - end);
            if (cand_len == wl && strncasecmp(subject, wildcard, start) == 0 &&
                wildcard[start] == '*' && strcasecmp(subject + end, wildcard + start + 1) == 0) {
                return 1;
            }
        }
        start = end + 1;
    }
    return 0;
}

static int is_internal_subject(const char *s)
{
    return strcmp(s, "localhost") == 0 || cf_has_suffix(s, ".localhost") ||
           cf_has_suffix(s, ".local");
}

static int qualifies_for_public_cert(const char *s)
{
    uint8_t ip[16];
    int v4, stars = 0;
    for (const char *p = strstr(s, "*."); p != NULL; p = strstr(p + 2, "*.")) {
        stars++;
    }
    return cf_parse_ip(s, ip, &v4) != 0 && !is_internal_subject(s) && stars < 2;
}

/* certmagic.SubjectQualifiesForCert */
static int qualifies_for_cert(const char *s)
{
    const char *p = s;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\v' || *p == '\f') {
        p++;
    }
    if (*p == '\0' || s[0] == '.' || cf_has_suffix(s, ".")) {
        return 0;
    }
    if (strchr(s, '*') != NULL && !cf_has_prefix(s, "*.") && strcmp(s, "*") != 0) {
        return 0;
    }
    return strpbrk(s, "()[]{}<> \t\n\"\\!@#$%^&|;'+=") == NULL;
}

static int ap_is_subset(const struct autopol *a, const struct autopol *b)
{
    if (b->subjects.n == 0) {
        return 1;
    }
    if (a->subjects.n == 0) {
        return 0;
    }
    for (size_t i = 0; i < a->subjects.n; i++) {
        int in = 0;
        for (size_t j = 0; j < b->subjects.n && !in; j++) {
            in = match_wildcard(a->subjects.v[i], b->subjects.v[j]);
        }
        if (!in) {
            return 0;
        }
    }
    return 1;
}

static int ap_less(void *user, const void *va, const void *vb)
{
    (void)user;
    const struct autopol *a = va, *b = vb;
    if (ap_is_subset(a, b)) {
        return 1;
    }
    if (ap_is_subset(b, a)) {
        return 0;
    }
    return a->subjects.n > b->subjects.n;
}

static int ap_all_public(const struct autopol *a)
{
    for (size_t i = 0; i < a->subjects.n; i++) {
        if (!qualifies_for_public_cert(a->subjects.v[i])) {
            return 0;
        }
    }
    return 1;
}

static void ap_delete(struct autopol **aps, size_t *n, size_t i)
{
    memmove(&aps[i], &aps[i + 1], (*n - i - 1) * sizeof(*aps));
    (*n)--;
}

/* consolidateAutomationPolicies (2.6.2) */
static int consolidate_aps(struct cf_ctx *ctx, struct autopol **aps, size_t *n_io)
{
    size_t n = *n_io, orig = n, empty = 0;
    cf_sort_stable((void **)aps, n, ap_less, NULL);
    for (long i = 0; i < (long)n; i++) {
        if (!aps[i]->internal) {
            empty++;
            if (!ap_all_public(aps[i])) {
                ap_delete(aps, &n, (size_t)i);
                i--;
            }
        }
    }
    if (empty == orig) {
        *n_io = 0;
        return 0;
    }
    for (long i = 0; i < (long)n; i++) {
        for (long j = i + 1; j < (long)n; j++) {
            if (aps[i]->internal != aps[j]->internal) {
                continue;
            }
            if (cf_strv_equal(&aps[i]->subjects, &aps[j]->subjects)) {
                ap_delete(aps, &n, (size_t)j);
                i--;
                break;
            }
            if (aps[i]->subjects.n > 0 && aps[j]->subjects.n == 0) {
                long shadow = -1;
                for (long k = i + 1; k < (long)n; k++) {
                    if (ap_is_subset(aps[i], aps[k])) {
                        shadow = k;
                        break;
                    }
                }
                if (shadow >= j) {
                    ap_delete(aps, &n, (size_t)i);
                    i--;
                    break;
                }
            } else {
                for (size_t k = 0; k < aps[j]->subjects.n; k++) {
                    const char *s = aps[j]->subjects.v[k];
                    if (!cf_strv_contains(&aps[i]->subjects, s) &&
                        cf_strv_push(ctx, &aps[i]->subjects, s) != 0) {
                        return -1;
                    }
                }
                ap_delete(aps, &n, (size_t)j);
                j--;
            }
        }
    }
    *n_io = n;
    return 0;
}

static int is_all_http(const struct sblock *sb)
{
    for (size_t i = 0; i < sb->nkeys; i++) {
        if (strcmp(sb->keys[i].scheme, "http") != 0) {
            return 0;
        }
    }
    return 1;
}

static int push_ap(struct cf_ctx *ctx, struct autopol ***aps, size_t *n, size_t *cap,
                   struct autopol *ap)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        struct autopol **nv = cf_grow(ctx, *aps, *n * sizeof(*nv), nc * sizeof(*nv));
        if (nv == NULL) {
            return -1;
        }
        *aps = nv;
        *cap = nc;
    }
    (*aps)[(*n)++] = ap;
    return 0;
}

/* one site block's automation policy (and the internal-issuer split) */
static int site_aps(struct build *b, const struct sblock *sb, struct autopol **catch_all,
                    struct autopol ***aps, size_t *n, size_t *cap)
{
    struct cf_ctx *ctx = b->ctx;
    struct autopol *ap = NULL, *ap2 = NULL;
    struct cf_strv subjects = {0}, internal = {0}, external = {0}, hosts;
    if (cf_hosts_from_keys(ctx, sb, &hosts) != 0) {
        return -1;
    }
    /* the first host-less block's policy is the catch-all; later host-less blocks reuse
     * (and overwrite) that same object, as in Caddy */
    if (hosts.n == 0 && *catch_all != NULL) {
        ap = *catch_all;
    } else if ((ap = cf_alloc(ctx, sizeof(*ap))) == NULL) {
        return -1;
    }
    if (hosts.n == 0 && *catch_all == NULL) {
        *catch_all = ap;
    }
    for (size_t k = 0; k < sb->nkeys; k++) {
        const struct addr *a = &sb->keys[k];
        if (a->host[0] != '\0' && strcmp(a->scheme, "http") != 0 &&
            strcmp(a->port, b->http_port) != 0 && !cf_strv_contains(&subjects, a->host) &&
            cf_strv_push(ctx, &subjects, a->host) != 0) {
            return -1;
        }
    }
    cf_sort_strings(&subjects);
    for (size_t k = 0; k < subjects.n; k++) {
        const char *s = subjects.v[k];
        if (!qualifies_for_cert(s)) {
            return cf_fail(ctx, sb->keys[0].tok, "subject does not qualify for certificate: '%s'",
                           s);
        }
        if (cf_strv_push(ctx, qualifies_for_public_cert(s) ? &external : &internal, s) != 0) {
            return -1;
        }
    }
    ap->subjects = subjects;
    if (external.n > 0 && internal.n > 0) {
        ap->subjects = external;
        ap2 = cf_alloc(ctx, sizeof(*ap2));
        if (ap2 == NULL) {
            return -1;
        }
        ap2->subjects = internal;
        ap2->internal = 1;
    }
    if (push_ap(ctx, aps, n, cap, ap) != 0 || (ap2 && push_ap(ctx, aps, n, cap, ap2) != 0)) {
        return -1;
    }
    return 0;
}

/* certmagic.SubjectQualifiesForPublicCert (v0.17) */
static int certmagic_public(const char *s)
{
    uint8_t ip[16];
    int v4, stars = 0, dots = 0;
    for (const char *q = s; *q; q++) {
        stars += *q == '*';
        dots += *q == '.';
    }
    return qualifies_for_cert(s) && !is_internal_subject(s) && cf_parse_ip(s, ip, &v4) != 0 &&
           (stars == 0 || (stars == 1 && dots > 1 && strlen(s) > 2 && cf_has_prefix(s, "*.")));
}

/* hosts sharing a split block with a host-less key (they get no route matcher, so Caddy
 * lists them under certificates.automate); Caddy iterates a map, we sort */
static int shared_with_hostless(struct build *b, struct pairing *p, size_t np, struct cf_strv *out)
{
    memset(out, 0, sizeof(*out));
    if (b->g->auto_https != NULL && strcmp(b->g->auto_https, "off") == 0) {
        return 0;
    }
    for (size_t i = 0; i < np; i++) {
        for (size_t j = 0; j < p[i].blocks.n; j++) {
            const struct sblock *sb = p[i].blocks.v[j];
            for (size_t k = 0; k < sb->nkeys; k++) {
                if (sb->keys[k].host[0] != '\0') {
                    continue;
                }
                for (size_t o = 0; o < sb->nkeys; o++) {
                    const struct addr *a = &sb->keys[o];
                    if (strcmp(a->original, sb->keys[k].original) == 0) {
                        continue;
                    }
                    if (a->host[0] != '\0' && strcmp(a->scheme, "http") != 0 &&
                        strcmp(a->port, b->http_port) != 0 && !cf_strv_contains(out, a->host) &&
                        cf_strv_push(b->ctx, out, a->host) != 0) {
                        return -1;
                    }
                }
                break;
            }
        }
    }
    return cf_sort_strings(out);
}

json_t *cf_tls_app(struct build *b, struct pairing *p, size_t np)
{
    struct cf_ctx *ctx = b->ctx;
    struct autopol **aps = NULL;
    size_t naps = 0, capaps = 0;
    json_t *files = json_array(), *tls = json_object(), *certs = json_object();
    struct cf_strv shared;
    struct autopol *catch_all = NULL;
    if (files == NULL || tls == NULL || certs == NULL || shared_with_hostless(b, p, np, &shared)) {
        goto fail;
    }
    for (size_t i = 0; i < np; i++) {
        if (!cf_listeners_use_port_other_than(&p[i].addresses, b->http_port)) {
            continue;
        }
        for (size_t j = 0; j < p[i].blocks.n; j++) {
            const struct sblock *sb = p[i].blocks.v[j];
            if (is_all_http(sb)) {
                continue;
            }
            if (site_aps(b, sb, &catch_all, &aps, &naps, &capaps) != 0) {
                goto fail;
            }
            const struct cf_pile *pile = &sb->site->pile;
            for (size_t k = 0; k < pile->nloaders; k++) {
                const struct cf_loadfile *lf = &pile->loaders[k];
                json_t *o = json_pack("{s:s, s:s, s:[s]}", "certificate", lf->cert, "key", lf->key,
                                      "tags", lf->tag);
                if (o == NULL || json_array_append_new(files, o) != 0) {
                    goto fail;
                }
            }
        }
    }
    if (shared.n > 0) {
        struct autopol *internal = cf_alloc(ctx, sizeof(*internal));
        if (internal == NULL) {
            goto fail;
        }
        internal->internal = 1;
        for (size_t i = 0; i < shared.n; i++) {
            if (!certmagic_public(shared.v[i]) &&
                cf_strv_push(ctx, &internal->subjects, shared.v[i]) != 0) {
                goto fail;
            }
        }
        if (internal->subjects.n > 0 && push_ap(ctx, &aps, &naps, &capaps, internal) != 0) {
            goto fail;
        }
        if (json_object_set_new(certs, "automate", cf_strv_json(&shared)) != 0) {
            goto fail;
        }
    }
    if (consolidate_aps(ctx, aps, &naps) != 0) {
        goto fail;
    }
    struct cf_strv seen = {0};
    for (size_t i = 0; i < naps; i++) {
        for (size_t k = 0; k < aps[i]->subjects.n; k++) {
            const char *s = aps[i]->subjects.v[k];
            if (cf_strv_contains(&seen, s)) {
                cf_fail(ctx, NULL, "hostname appears in more than one automation policy, making "
                                   "certificate management ambiguous: %s",
                        s);
                goto fail;
            }
            if (cf_strv_push(ctx, &seen, s) != 0) {
                goto fail;
            }
        }
    }
    if (json_array_size(files) > 0 && json_object_set(certs, "load_files", files) != 0) {
        goto fail;
    }
    if (json_object_size(certs) > 0 && json_object_set(tls, "certificates", certs) != 0) {
        goto fail;
    }
    if (naps > 0) {
        json_t *pols = json_array();
        if (pols == NULL ||
            json_object_set_new(tls, "automation", json_pack("{s:o}", "policies", pols)) != 0) {
            goto fail;
        }
        for (size_t i = 0; i < naps; i++) {
            json_t *o = json_object();
            if (o == NULL || json_array_append_new(pols, o) != 0) {
                goto fail;
            }
            if (aps[i]->subjects.n > 0 &&
                json_object_set_new(o, "subjects", cf_strv_json(&aps[i]->subjects)) != 0) {
                goto fail;
            }
            if (aps[i]->internal &&
                json_object_set_new(o, "issuers", json_pack("[{s:s}]", "module", "internal"))) {
                goto fail;
            }
        }
    }
    json_decref(files);
    json_decref(certs);
    return tls;
fail:
    if (!ctx->failed) {
        cf_oom(ctx);
    }
    json_decref(files);
    json_decref(certs);
    json_decref(tls);
    return NULL;
}

