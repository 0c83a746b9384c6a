/*
 * identity/identity_int.h - helpers shared by the identity module's files. Each one
 * reproduces a piece of Go's crypto/x509 (parser.go), crypto/x509/pkix, encoding/asn1,
 * net and net/url, because Caddy renders its placeholders from Go's parsed certificate.
 */
#ifndef MTLS_IDENTITY_INT_H
#define MTLS_IDENTITY_INT_H

#include <stddef.h>
#include <stdint.h>

#include "../core/der.h"

#include "../core/buf.h"
#include "../core/result.h"

/* The parts of a leaf that the placeholders need, as slices of the caller's DER. */
struct gocert {
    mtlsp_cbs raw;        /* the whole certificate */
    mtlsp_cbs serial;     /* INTEGER contents (two's complement, minimal) */
    mtlsp_cbs issuer;     /* Name, tag included */
    mtlsp_cbs subject;    /* Name, tag included */
    mtlsp_cbs spki;       /* SubjectPublicKeyInfo, tag included */
    mtlsp_cbs key_oid;    /* algorithm OID contents */
    mtlsp_cbs key_params; /* parameters element, tag included; empty when absent */
    mtlsp_cbs key_bits;   /* subjectPublicKey BIT STRING contents without the padding byte */
    int64_t not_before;
    int64_t not_after; /* Unix seconds, UTC */
    mtlsp_cbs san;           /* SubjectAltName extension value (a SEQUENCE), empty if none */
};

/* cert.c: mtlsp_gocert_parse fills `out` the way Go's x509.ParseCertificate reads the
 * certificate; MTLS_ERR_CERT_PARSE (with Go's reason) where Go refuses it. */
MTLS_RESULT mtlsp_gocert_parse(struct gocert *out, const uint8_t *der, size_t der_len,
                               mtls_error *err);

/* gotime.c: Go's cryptobyte UTCTime / GeneralizedTime readers; RFC 3339 rendering. */
MTLS_RESULT mtlsp_gotime_read(mtlsp_cbs *cbs, int64_t *out_unix, mtls_error *err);
MTLS_RESULT mtlsp_gotime_append_rfc3339(struct buf *out, int64_t unix_secs, mtls_error *err);

/* goasn1.c: Go's cryptobyte OBJECT IDENTIFIER reader, rendered dotted (Go's
 * ObjectIdentifier.String); 0 when Go would refuse it. `out` holds at least 12 per arc. */
int mtlsp_oid_valid(const mtlsp_cbs *oid_contents);
MTLS_RESULT mtlsp_oid_append_text(struct buf *out, const mtlsp_cbs *oid_contents, mtls_error *err);

/* goasn1.c: Go's parseASN1String: decodes a name attribute value of type `tag` into UTF-8
 * appended to `out`; MTLS_ERR_CERT_PARSE for types or bytes Go refuses. */
MTLS_RESULT mtlsp_asn1_string_decode(struct buf *out, unsigned tag, const mtlsp_cbs *value,
                                     mtls_error *err);

/* goasn1.c: the DER that Go's asn1.Marshal produces for a Go string (PrintableString when
 * every byte allows it, else UTF8String), appended as lowercase hex. */
MTLS_RESULT mtlsp_asn1_append_marshalled_hex(struct buf *out, const char *s, size_t len,
                                             mtls_error *err);

/* goint.c: decimal of a two's-complement big-endian INTEGER (Go's big.Int String). */
MTLS_RESULT mtlsp_int_append_decimal(struct buf *out, const uint8_t *p, size_t len,
                                     mtls_error *err);

/* gourl.c: parse `s` like Go's url.Parse and append url.URL.String(); MTLS_ERR_CERT_PARSE
 * where url.Parse fails. `*out_spiffe` (may be NULL) is set when the scheme is "spiffe"
 * and an authority ("//") was present. */
MTLS_RESULT mtlsp_url_append(struct buf *out, int *out_spiffe, const char *s, size_t len,
                             mtls_error *err);

/* san.c: the SAN lists. `kind` is one of the SAN_* values; index < 0 means the whole list
 * in Go's %+v form, else element `index` (empty when out of range). */
enum { SAN_DNS, SAN_EMAIL, SAN_IP, SAN_URI };
MTLS_RESULT mtlsp_san_check(const mtlsp_cbs *san, mtls_error *err);
MTLS_RESULT mtlsp_san_append(struct buf *out, const mtlsp_cbs *san, int kind, long index,
                             mtls_error *err);
/* Appends the SPIFFE ID: the only URI SAN, when it is a spiffe:// URI; else nothing. */
MTLS_RESULT mtlsp_san_append_spiffe(struct buf *out, const mtlsp_cbs *san, mtls_error *err);
/* Appends Envoy XFCC ";URI=..." and ";DNS=..." pairs, quoted where Envoy quotes. */
MTLS_RESULT mtlsp_san_append_xfcc(struct buf *out, const mtlsp_cbs *san, mtls_error *err);
/* Appends `s` as an Envoy XFCC value: double-quoted (with '"' and '\\' backslash-escaped)
 * when `force_quote` or when it holds one of , ; = " \\ . */
MTLS_RESULT mtlsp_xfcc_append_value(struct buf *out, const char *s, size_t n, int force_quote,
                                    mtls_error *err);
/* Go's net.IP.String() of a 4- or 16-byte address. */
MTLS_RESULT mtlsp_ip_append(struct buf *out, const uint8_t *ip, size_t len, mtls_error *err);

/* pubkey.c: the bytes Caddy's marshalPublicKey gives (EC point, Ed25519 key, PKCS#1 for
 * RSA -- see DESIGN.md §3); `*out_len` 0 when Caddy renders nothing. Validates the key
 * the way Go's parsePublicKey does. Free `*out` with mtlsp_free. */
/* mtlsp_gocert_key_supported: 1 when the key is RSA, ECDSA or Ed25519 -- the keys Go's
 * crypto/tls accepts from a client (its parser has already checked the key itself). */
int mtlsp_gocert_key_supported(const struct gocert *c);
MTLS_RESULT mtlsp_pubkey_bytes(uint8_t **out, size_t *out_len, const struct gocert *c,
                               mtls_error *err);

#endif
