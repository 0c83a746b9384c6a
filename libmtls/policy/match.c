/*
 * policy/match.c - choosing the connection policy for a ClientHello, as Caddy's
 * ConnectionPolicies.TLSConfig does: the first policy whose matchers all match wins.
 *
 * SNI names match as certmagic.MatchWildcard: case-insensitively, either equal, or equal
 * after replacing exactly one non-empty label of the client's name by "*" (so
 * "*.example.com" covers "a.example.com" but neither "example.com" nor "a.b.example.com";
 * "" in the list matches a ClientHello without SNI).
 *
 * Exact names beat wildcards (DESIGN.md §6, Caddy #7920): the policies whose sni matcher
 * lists the client's SNI exactly are tried first, so an earlier "*.example.com" policy
 * without client auth can never shadow a later "admin.example.com" policy that requires it.
 * With more than 30 policies this is Caddy's own SNI index, reproduced exactly: only those
 * policies are considered. With 30 or fewer Caddy 2.6.2 lets the first match win; libmtls
 * falls back to that only when no policy listing the name matches -- a deliberate
 * difference, since Caddy's order silently lands the client on the weaker policy.
 *
 * No I/O, no TLS library: pure functions over the loaded policy_set.
 */
#include <arpa/inet.h>
#include <string.h>

#include "policy.h"

int mtlsp_parse_ip(const char *s, int *out_family, uint8_t out_addr[16])
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    uint8_t a[16];
    if (s == NULL) {
        return 0;
    }
    memset(out_addr, 0, 16);
    if (inet_pton(AF_INET, s, a) == 1) {
        memcpy(out_addr, a, 4);
        *out_family = 4;
        return 1;
    }
    if (inet_pton(AF_INET6, s, a) != 1) {
        return 0;
    }
    if (memcmp(a, mapped, sizeof(mapped)) == 0) {
        memcpy(out_addr, a + 12, 4);
        *out_family = 4;
        return 1;
    }
    memcpy(out_addr, a, 16);
    *out_family = 6;
    return 1;
}

/* label_wildcard_eq: `subject` with its label [start, end) replaced by "*" equals `wild`. */
static int label_wildcard_eq(const char *subject, size_t start, size_t end, const char *wild)
{
    size_t n = strlen(subject), w = strlen(wild);
    if (w != n - (end - start) + 1) {
        return 0;
    }
    return strncmp(subject, wild, start) == 0 && wild[start] == '*' &&
           strcmp(subject + end, wild + start + 1) == 0;
}

/* match_wildcard: certmagic.MatchWildcard on an already lowercased `subject` and `wild`. */
static int match_wildcard(const char *subject, const char *wild)
{
    if (strcmp(subject, wild) == 0) {
        return 1;
    }
    if (strchr(wild, '*') == NULL) {
        return 0;
    }
    size_t start = 0, n = strlen(subject);
    for (size_t i = 0; i <= n; i++) {
        if (i < n && subject[i] != '.') {
            continue;
        }
        if (i > start && label_wildcard_eq(subject, start, i, wild)) {
            return 1;
        }
        start = i + 1;
    }
    return 0;
}

static int match_sni(const struct matchers *m, const char *sni)
{
    for (size_t i = 0; i < m->num_sni; i++) {
        if (match_wildcard(sni, m->sni[i])) {
            return 1;
        }
    }
    return 0;
}

static int in_cidr(const struct cidr *c, int family, const uint8_t addr[16])
{
    if (c->family != family) {
        return 0;
    }
    int bits = c->bits;
    for (int i = 0; bits > 0; i++, bits -= 8) {
        uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
        if ((addr[i] & mask) != c->addr[i]) {
            return 0;
        }
    }
    return 1;
}

static int in_ranges(const struct cidr *r, size_t n, int family, const uint8_t addr[16])
{
    for (size_t i = 0; i < n; i++) {
        if (in_cidr(&r[i], family, addr)) {
            return 1;
        }
    }
    return 0;
}

/* Caddy's remote_ip: (no ranges or in one) and (no not_ranges or in none). */
static int match_ip(const struct cidr *ranges, size_t num, const struct cidr *not_ranges,
                    size_t num_not, const char *ip)
{
    int family = 0;
    uint8_t addr[16];
    if (!mtlsp_parse_ip(ip, &family, addr)) {
        return 0;
    }
    return (num == 0 || in_ranges(ranges, num, family, addr)) &&
           (num_not == 0 || !in_ranges(not_ranges, num_not, family, addr));
}

static int policy_matches(const struct conn_policy *cp, const char *sni, const char *remote,
                          const char *local)
{
    const struct matchers *m = &cp->match;
    if (m->has_sni && !match_sni(m, sni)) {
        return 0;
    }
    if (m->has_remote_ip && !match_ip(m->remote_ranges, m->num_remote_ranges,
                                      m->remote_not_ranges, m->num_remote_not_ranges, remote)) {
        return 0;
    }
    if (m->has_local_ip &&
        !match_ip(m->local_ranges, m->num_local_ranges, NULL, 0, local)) {
        return 0;
    }
    return 1;
}

static int lists_exact(const struct conn_policy *cp, const char *sni)
{
    for (size_t i = 0; cp->match.has_sni && i < cp->match.num_sni; i++) {
        if (strcmp(cp->match.sni[i], sni) == 0) {
            return 1;
        }
    }
    return 0;
}

#define SNI_INDEX_THRESHOLD 30

/* indexed: some policy lists `sni` exactly (those are tried first). */
static int indexed(const struct policy_set *set, const char *sni)
{
    for (size_t i = 0; i < set->num; i++) {
        if (lists_exact(&set->policies[i], sni)) {
            return 1;
        }
    }
    return 0;
}

/* lower_sni copies `sni` lowercased into `buf` (false if it does not fit). */
static int lower_sni(char *buf, size_t cap, const char *sni)
{
    size_t n = sni ? strlen(sni) : 0;
    if (n >= cap) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        buf[i] = (sni[i] >= 'A' && sni[i] <= 'Z') ? (char)(sni[i] + 32) : sni[i];
    }
    buf[n] = '\0';
    return 1;
}

MTLS_RESULT mtlsp_policy_select(const struct policy_set *set, const char *sni,
                                const char *remote_ip, const char *local_ip, size_t *out_index,
                                mtls_error *err)
{
    ENSURE_REF(set);
    ENSURE_REF(out_index);
    char name[256]; /* a DNS name is at most 253 bytes; longer SNI matches no sni matcher */
    int ok = lower_sni(name, sizeof(name), sni);
    int exact = ok && indexed(set, name);
    /* Pass 0: the policies listing the name; pass 1 (30 policies or fewer): all of them. */
    for (int pass = exact ? 0 : 1; pass < 2; pass++) {
        if (pass == 1 && exact && set->num > SNI_INDEX_THRESHOLD) {
            break;
        }
        for (size_t i = 0; i < set->num; i++) {
            const struct conn_policy *cp = &set->policies[i];
            if ((!ok && cp->match.has_sni) || (pass == 0 && !lists_exact(cp, name))) {
                continue;
            }
            if (policy_matches(cp, name, remote_ip, local_ip)) {
                *out_index = i;
                return MTLS_RESULT_OK;
            }
        }
    }
    BAIL_MSG(MTLS_ERR_NO_MATCHING_POLICY,
             "no TLS connection policy matches the connection (sni \"%.64s\")", ok ? name : "?");
}
