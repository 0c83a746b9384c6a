/*
 * fuzz/known_issues.h - findings in library or proxy code that the fuzz targets reported and
 * that are not fixed yet (fuzz/README.md, "Findings"). While a KNOWN_* macro is 1, the
 * target checks the weaker invariant that today's code meets, so that the replay tests stay
 * green; the crashing input is kept in regressions/<target>/. Once the code is fixed, set
 * the macro to 0 (or delete it and its uses): the regression input then proves the fix.
 */
#ifndef MTLS_FUZZ_KNOWN_ISSUES_H
#define MTLS_FUZZ_KNOWN_ISSUES_H

/* libmtls/policy/load.c:43 passes jansson's column through: 0 for an error before the first
 * character of a line (empty document, "[\n"), where mtls.h promises 1-based positions.
 * regressions/fuzz_policy_load/json_error_column_zero */
#define KNOWN_JSON_COLUMN_ZERO 0

/* libmtls/verify/chain.c (parse_all) judges with BoringSSL's parser plus verify/goparse.c,
 * which since 778e76c covers Go's extension checks (the first case found, a malformed
 * rfc822Name SAN, is fixed) but not the rest of x509.ParseCertificate. Under `require` (no
 * validity check) a leaf that Go refuses is still accepted -- Caddy's handshake would fail --
 * and then none of its placeholders render (mtls_peer_get: MTLS_ERR_CERT_PARSE, which mtls.h
 * does not list). Reasons fuzz_identity found: "x509: malformed UTCTime",
 * "x509: inner and outer signature algorithm identifiers don't match", "x509: malformed
 * extension critical field", "net/url: invalid URL escape" (URI SAN), and DN strings Go
 * refuses: "invalid NumericString", "invalid PrintableString", "invalid IA5String",
 * "unsupported string type: 10/11/13". The full Go reading exists in the library:
 * identity/cert.c mtlsp_gocert_parse; running it on every presented certificate in
 * parse_all closes the class.
 * regressions/fuzz_identity/accepted_go_refuses_* (one per reason) */
#define KNOWN_ACCEPTS_GO_UNPARSABLE 0

/* examples/mtls-proxy/rewrite.c rewrite_normalize() takes the Host of an absolute-form
 * request ("GET https://HOST/p") from the target without the Host byte check that
 * http.c note_host() applies to a Host header (Go's httpguts.ValidHostHeader): the request
 * is routed and SNI-checked by, and forwarded with, a Host that h1_parse_request (and Go's
 * transport, which answers 502 there) refuses, e.g. with a byte >= 0x80 or '<'.
 * regressions/fuzz_rewrite/absolute_form_host_non_ascii */
#define KNOWN_ABSOLUTE_FORM_HOST_UNCHECKED 0

/* examples/mtls-proxy/rewrite.c forward_header() drops every header a Connection token
 * names (named_by_connection), Content-Length included ("Connection: Content-Length"), but
 * the proxy still forwards the body by that length (conn.c h1_body_init): the upstream reads
 * a request without a body and takes the body bytes as the next request -- request
 * smuggling, and the smuggled request carries whatever identity headers the client wrote
 * (X-Client-Subject: CN=admin), never stripped. Transfer-Encoding is exempted already; exempt
 * Content-Length too (Go's ReverseProxy writes the framing from the parsed length).
 * regressions/fuzz_rewrite/connection_names_content_length */
#define KNOWN_CONNECTION_DROPS_CONTENT_LENGTH 0

/* examples/mtls-proxy/rewrite.c add_upgrade() re-adds the first Upgrade header, even an
 * empty one, while http.c counts a request as an upgrade when any Upgrade header is
 * non-empty: "Upgrade:" then "Upgrade: websocket" is an upgrade to the proxy (it tunnels
 * after a 101) but reaches the upstream as "Upgrade: " (empty), which is none.
 * regressions/fuzz_rewrite/upgrade_first_empty */
#define KNOWN_UPGRADE_FIRST_EMPTY 0

#endif
