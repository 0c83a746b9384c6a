/*
 * verify/goname.c - Go 1.19 crypto/x509's name syntax for name constraints (see goname.h).
 * Every function follows the Go function it names, quirks included (a single leading dot
 * of a domain is ignored; the empty constraint matches everything, as NSS does), so that
 * libmtls refuses exactly the names Caddy refuses.
 */
#include <arpa/inet.h>
#include <string.h>

#include "goname.h"

int mtlsp_gn_ia5(struct bstr s)
{
    for (size_t i = 0; i < s.len; i++) {
        if (s.p[i] >= 0x80) {
            return 0;
        }
    }
    return 1;
}

/* Takes the rightmost label of `*rest` (as domainToReverseLabels's loop does). */
static int next_label(struct bstr *rest, struct bstr *label)
{
    if (rest->len == 0) {
        return 0;
    }
    size_t i = rest->len;
    while (i > 0 && rest->p[i - 1] != '.') {
        i--;
    }
    if (i == 0) {
        *label = *rest;
        rest->len = 0;
        return 1;
    }
    *label = (struct bstr){rest->p + i, rest->len - i};
    rest->len = i - 1;
    return 1;
}

/* Number of labels of a domain that mtlsp_gn_domain_ok accepted. */
static size_t count_labels(struct bstr s)
{
    size_t n = 0;
    struct bstr label;
    while (next_label(&s, &label)) {
        n++;
    }
    return n;
}

int mtlsp_gn_domain_ok(struct bstr s)
{
    struct bstr label;
    while (next_label(&s, &label)) {
        if (label.len == 0) {
            return 0;
        }
        for (size_t i = 0; i < label.len; i++) {
            if (label.p[i] < 33 || label.p[i] > 126) {
                return 0;
            }
        }
    }
    return 1;
}

static int ascii_fold_eq(struct bstr a, struct bstr b)
{
    if (a.len != b.len) {
        return 0;
    }
    for (size_t i = 0; i < a.len; i++) {
        uint8_t x = a.p[i], y = b.p[i];
        x = (x >= 'A' && x <= 'Z') ? (uint8_t)(x + 32) : x;
        y = (y >= 'A' && y <= 'Z') ? (uint8_t)(y + 32) : y;
        if (x != y) {
            return 0;
        }
    }
    return 1;
}

int mtlsp_gn_match_domain(struct bstr domain, struct bstr constraint)
{
    if (constraint.len == 0) {
        return GN_YES;
    }
    if (!mtlsp_gn_domain_ok(domain)) {
        return GN_ERROR;
    }
    int must_have_subdomains = constraint.p[0] == '.';
    if (must_have_subdomains) {
        constraint = (struct bstr){constraint.p + 1, constraint.len - 1};
    }
    if (!mtlsp_gn_domain_ok(constraint)) {
        return GN_ERROR;
    }
    size_t nd = count_labels(domain), nc = count_labels(constraint);
    if (nd < nc || (must_have_subdomains && nd == nc)) {
        return GN_NO;
    }
    struct bstr dl, cl;
    while (next_label(&constraint, &cl)) {
        if (!next_label(&domain, &dl) || !ascii_fold_eq(dl, cl)) {
            return GN_NO;
        }
    }
    return GN_YES;
}

int mtlsp_gn_wildcard_may_be(struct bstr name, struct bstr constraint)
{
    if (name.len < 3 || name.p[0] != '*' || name.p[1] != '.' || constraint.len == 0 ||
        constraint.p[0] == '.' || !mtlsp_gn_domain_ok(constraint)) {
        return 0;
    }
    struct bstr rest = {name.p + 2, name.len - 2};
    if (!mtlsp_gn_domain_ok(rest) || count_labels(constraint) != count_labels(rest) + 1) {
        return 0;
    }
    return mtlsp_gn_match_domain(constraint, rest) == GN_YES;
}

static int push(struct gn_mailbox *m, uint8_t c)
{
    if (m->local_len >= sizeof(m->local)) {
        return 0;
    }
    m->local[m->local_len++] = c;
    return 1;
}

/* RFC 5321 quoted-string local part, after the opening quote; advances *i past the
 * closing quote. */
static int quoted_local(struct gn_mailbox *m, struct bstr in, size_t *i)
{
    for (;;) {
        if (*i >= in.len) {
            return 0;
        }
        uint8_t c = in.p[(*i)++];
        if (c == '"') {
            return 1;
        }
        if (c == '\\') {
            if (*i >= in.len) {
                return 0;
            }
            uint8_t q = in.p[*i];
            if (!(q == 11 || q == 12 || (q >= 1 && q <= 9) || (q >= 14 && q <= 127))) {
                return 0;
            }
            (*i)++;
            if (!push(m, q)) {
                return 0;
            }
            continue;
        }
        if (!(c == 11 || c == 12 || c == 32 || c == 33 || c == 127 || (c >= 1 && c <= 8) ||
              (c >= 14 && c <= 31) || (c >= 35 && c <= 91) || (c >= 93 && c <= 126))) {
            return 0;
        }
        if (!push(m, c)) {
            return 0;
        }
    }
}

static int atext(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL);
}

/* Dot-atom local part (with Go's tolerance of backslash escapes); advances *i. */
static int atom_local(struct gn_mailbox *m, struct bstr in, size_t *i)
{
    while (*i < in.len) {
        uint8_t c = in.p[*i];
        if (c == '\\') {
            (*i)++;
            if (*i >= in.len) {
                return 0;
            }
        } else if (!atext(c)) {
            break;
        }
        if (!push(m, in.p[(*i)++])) {
            return 0;
        }
    }
    size_t n = m->local_len;
    if (n == 0 || m->local[0] == '.' || m->local[n - 1] == '.') {
        return 0;
    }
    for (size_t k = 1; k < n; k++) {
        if (m->local[k] == '.' && m->local[k - 1] == '.') {
            return 0;
        }
    }
    return 1;
}

int mtlsp_gn_parse_mailbox(struct gn_mailbox *out, struct bstr in)
{
    out->local_len = 0;
    if (in.len == 0) {
        return 0;
    }
    size_t i = 0;
    int ok = in.p[0] == '"' ? (i = 1, quoted_local(out, in, &i)) : atom_local(out, in, &i);
    if (!ok || i >= in.len || in.p[i] != '@') {
        return 0;
    }
    out->domain = (struct bstr){in.p + i + 1, in.len - i - 1};
    return mtlsp_gn_domain_ok(out->domain);
}

int mtlsp_gn_match_email(const struct gn_mailbox *mailbox, struct bstr constraint)
{
    if (memchr(constraint.p, '@', constraint.len) == NULL) {
        return mtlsp_gn_match_domain(mailbox->domain, constraint);
    }
    struct gn_mailbox want;
    if (!mtlsp_gn_parse_mailbox(&want, constraint)) {
        return GN_ERROR;
    }
    return want.local_len == mailbox->local_len &&
                   memcmp(want.local, mailbox->local, want.local_len) == 0 &&
                   ascii_fold_eq(want.domain, mailbox->domain)
               ? GN_YES
               : GN_NO;
}

int mtlsp_gn_is_ip(struct bstr s)
{
    char text[64];
    uint8_t buf[16];
    if (s.len == 0 || s.len >= sizeof(text) || memchr(s.p, 0, s.len) != NULL) {
        return 0;
    }
    memcpy(text, s.p, s.len);
    text[s.len] = '\0';
    return inet_pton(AF_INET, text, buf) == 1 || inet_pton(AF_INET6, text, buf) == 1;
}

static size_t find(struct bstr s, uint8_t c)
{
    const uint8_t *at = s.len ? memchr(s.p, c, s.len) : NULL;
    return at != NULL ? (size_t)(at - s.p) : s.len;
}

static size_t find_last(struct bstr s, uint8_t c)
{
    for (size_t i = s.len; i > 0; i--) {
        if (s.p[i - 1] == c) {
            return i - 1;
        }
    }
    return s.len;
}

/* url's getScheme: the length of the scheme (0: none), or -1 for a leading ':'. */
static long scheme_len(struct bstr s)
{
    for (size_t i = 0; i < s.len; i++) {
        uint8_t c = s.p[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
            continue;
        }
        if ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.') {
            if (i == 0) {
                return 0;
            }
            continue;
        }
        if (c == ':') {
            return i == 0 ? -1 : (long)i;
        }
        return 0;
    }
    return 0;
}

/* url's validOptionalPort on the text after the host ("" or ":digits"). */
static int port_ok(struct bstr p)
{
    if (p.len == 0) {
        return 1;
    }
    if (p.p[0] != ':') {
        return 0;
    }
    for (size_t i = 1; i < p.len; i++) {
        if (p.p[i] < '0' || p.p[i] > '9') {
            return 0;
        }
    }
    return 1;
}

/* Bytes url.parseHost accepts unescaped in a host; '%' escapes are refused (fail closed). */
static int host_bytes_ok(struct bstr h)
{
    for (size_t i = 0; i < h.len; i++) {
        uint8_t c = h.p[i];
        if (c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || strchr("!$&'()*+,;=:[]<>\"-_.~", c) != NULL) {
            continue;
        }
        return 0;
    }
    return 1;
}

static int parse_host(struct bstr h)
{
    if (h.len > 0 && h.p[0] == '[') {
        size_t close = find_last(h, ']');
        if (close == h.len) {
            return 0;
        }
        return port_ok((struct bstr){h.p + close + 1, h.len - close - 1}) && host_bytes_ok(h);
    }
    size_t colon = find_last(h, ':');
    if (colon < h.len && !port_ok((struct bstr){h.p + colon, h.len - colon})) {
        return 0;
    }
    return host_bytes_ok(h);
}

int mtlsp_gn_uri_host(struct bstr *out_host, struct bstr uri)
{
    *out_host = (struct bstr){uri.p, 0};
    for (size_t i = 0; i < uri.len; i++) {
        if (uri.p[i] < 0x20 || uri.p[i] == 0x7f) {
            return 0; /* "invalid control character in URL" */
        }
    }
    struct bstr rest = {uri.p, find(uri, '#')};
    long scheme = scheme_len(rest);
    if (scheme < 0) {
        return 0;
    }
    if (scheme > 0) {
        rest = (struct bstr){rest.p + scheme + 1, rest.len - (size_t)scheme - 1};
    }
    rest.len = find(rest, '?');
    if (rest.len < 2 || rest.p[0] != '/' || rest.p[1] != '/') {
        /* No authority. Without a scheme, a colon in the first segment is an error. */
        struct bstr seg = {rest.p, find(rest, '/')};
        return scheme > 0 || find(seg, ':') == seg.len;
    }
    struct bstr auth = {rest.p + 2, rest.len - 2};
    auth.len = find(auth, '/');
    size_t at = find_last(auth, '@');
    struct bstr host = at < auth.len ? (struct bstr){auth.p + at + 1, auth.len - at - 1} : auth;
    if (!parse_host(host)) {
        return 0;
    }
    *out_host = host;
    return 1;
}

int mtlsp_gn_match_uri(struct bstr host, struct bstr constraint)
{
    if (host.len == 0) {
        return GN_ERROR; /* a URI without a host cannot be matched */
    }
    if (host.p[0] == '[') {
        return GN_ERROR; /* an IP literal cannot be matched */
    }
    if (find(host, ':') < host.len) {
        /* net.SplitHostPort: exactly one colon, then the port. */
        size_t colon = find_last(host, ':');
        host.len = colon;
        if (find(host, ':') < host.len || find(host, ']') < host.len) {
            return GN_ERROR;
        }
    }
    if (mtlsp_gn_is_ip(host)) {
        return GN_ERROR;
    }
    return mtlsp_gn_match_domain(host, constraint);
}
