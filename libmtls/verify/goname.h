/*
 * verify/goname.h - the name syntax of Go's crypto/x509 (1.19, what Caddy 2.6.2 runs), as
 * its name-constraint code parses and compares names: domainToReverseLabels,
 * parseRFC2821Mailbox, matchDomainConstraint, matchEmailConstraint and the host part of
 * url.Parse. Pure functions on (pointer, length) byte strings; no allocation.
 */
#ifndef MTLS_VERIFY_GONAME_H
#define MTLS_VERIFY_GONAME_H

#include <stddef.h>
#include <stdint.h>

/* A byte string that is not NUL-terminated. */
struct bstr {
    const uint8_t *p;
    size_t len;
};

/* Results of a match: no, yes, or an error that makes Go refuse the certificate. */
enum { GN_NO = 0, GN_YES = 1, GN_ERROR = -1 };

/* mtlsp_gn_ia5: 1 if every byte is ASCII (Go's isIA5String). */
int mtlsp_gn_ia5(struct bstr s);

/* mtlsp_gn_domain_ok: 1 if Go's domainToReverseLabels accepts `s` (no empty label, no
 * trailing dot, bytes 33..126; a single leading dot is ignored; "" has zero labels). */
int mtlsp_gn_domain_ok(struct bstr s);

/* mtlsp_gn_match_domain: Go's matchDomainConstraint(`domain`, `constraint`). */
int mtlsp_gn_match_domain(struct bstr domain, struct bstr constraint);

/* mtlsp_gn_wildcard_may_be: 1 if the wildcard DNS name `name` ("*.example.com") can stand
 * for the name `constraint` ("bar.example.com"), so that an excluded constraint applies to
 * it. Go 1.19 misses this (CVE-2025-61727, fixed in later Go); libmtls applies it. */
int mtlsp_gn_wildcard_may_be(struct bstr name, struct bstr constraint);

/* A parsed mailbox: `local` is unescaped into the caller's buffer. */
struct gn_mailbox {
    uint8_t local[256];
    size_t local_len;
    struct bstr domain;
};

/* mtlsp_gn_parse_mailbox: Go's parseRFC2821Mailbox. 1 on success. Local parts longer than
 * the buffer are refused (Go has no such limit; such names fail closed). */
int mtlsp_gn_parse_mailbox(struct gn_mailbox *out, struct bstr in);

/* mtlsp_gn_match_email: Go's matchEmailConstraint(`mailbox`, `constraint`). */
int mtlsp_gn_match_email(const struct gn_mailbox *mailbox, struct bstr constraint);

/* mtlsp_gn_uri_host: the Host that Go's url.Parse finds in `uri` (empty when the URI has
 * no authority). 1 on success, 0 when url.Parse would fail (or the URI uses syntax this
 * approximation does not follow, which fails closed). */
int mtlsp_gn_uri_host(struct bstr *out_host, struct bstr uri);

/* mtlsp_gn_match_uri: Go's matchURIConstraint on a URI whose Host is `host`. */
int mtlsp_gn_match_uri(struct bstr host, struct bstr constraint);

/* mtlsp_gn_is_ip: 1 if Go's net.ParseIP accepts `s` (dotted IPv4 or IPv6 text). */
int mtlsp_gn_is_ip(struct bstr s);

#endif
