/*
 * tools/mtls/tool.h - the `mtls` command: shared helpers of its subcommands.
 * The tool uses the public libmtls API (mtls/mtls.h) for every decision and identity
 * string; BoringSSL only to read certificate flags for hints (certinfo.c) and in pem.c.
 */
#ifndef MTLS_TOOL_H
#define MTLS_TOOL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <mtls/mtls.h>

#include "pem.h"

/* Exit statuses. */
enum { EXIT_ACCEPTED = 0, EXIT_REFUSED = 1, EXIT_USAGE = 2 };

/* Subcommands: argv[0] is the subcommand name. Each returns an exit status. */
int cmd_verify(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_policy(int argc, char **argv);

/* main.c */
void tool_print_help(FILE *f);
void tool_usage_hint(const char *cmd);
void tool_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tool_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* tool_lib_error prints a libmtls error, with FILE:LINE:COLUMN when it has a position. */
void tool_lib_error(const char *file, const mtls_error *err);

/* util.c */
/* tool_read_file reads at most `max` bytes; -1 with `why` (errno text, size) on failure. */
int tool_read_file(const char *path, size_t max, uint8_t **out, size_t *out_len, char *why,
                   size_t why_len);
/* tool_load_certs reads `path` and appends its certificates to `out`; prints the error
 * naming the file and returns -1 on failure. */
int tool_load_certs(struct tool_certs *out, const char *path);
/* tool_escape writes `s` as mtls-proxy forwards it (bytes < 0x20 and 0x7f as \xHH) to a new
 * NUL-terminated string (NULL when out of memory). */
char *tool_escape(const char *s, size_t n);
/* tool_fputs_escaped writes `s` escaped to `f`. */
void tool_fputs_escaped(FILE *f, const char *s);
/* tool_json_text: a JSON string of `s`; bytes that are not UTF-8 are written as \xHH text. */
json_t *tool_json_text(const char *s, size_t n);
/* tool_print_json prints `v` indented to stdout and drops the reference. */
void tool_print_json(json_t *v);
/* tool_error_name: "CERT_EXPIRED" for MTLS_ERR_CERT_EXPIRED ("OK" for 0). */
const char *tool_error_name(int code);
/* tool_mode_name: Caddy's name of an mtls_mode ("off" when client auth is off). */
const char *tool_mode_name(int mode);

/* timeparse.c */
/* tool_parse_time parses RFC 3339 ("2024-05-01T12:00:00Z", "...+02:00", fractions ignored)
 * or "@UNIX_SECONDS". Returns 0, or -1 with `why`. */
int tool_parse_time(const char *s, int64_t *out, char *why, size_t why_len);
/* tool_format_time writes `t` as RFC 3339 UTC ("2024-05-01T12:00:00Z", four-digit year), or as
 * "@SECONDS" when its year is outside 0000-9999 (no RFC 3339 form; --at reads both). */
void tool_format_time(int64_t t, char out[32]);

/* certinfo.c: facts about one certificate. Strings are libmtls's (Go's) renderings, raw. */
struct certinfo {
    char *subject;
    char *issuer;
    char *sha256;
    char *not_before;
    char *not_after;
    int64_t not_before_unix;
    int64_t not_after_unix;
    int x509_ok;      /* BoringSSL parsed it; the flags below are valid */
    int version;      /* 1 or 3 */
    int has_bc;       /* basicConstraints present */
    int is_ca;        /* basicConstraints CA:TRUE */
    int has_ku;       /* keyUsage present */
    int ku_cert_sign; /* keyUsage keyCertSign */
    int has_eku;      /* extendedKeyUsage present */
    int eku_client;
    int eku_server;
    int eku_any;
    int self_signed;  /* subject == issuer and its own key verifies it */
    char eku_names[160];
};
int certinfo_get(struct certinfo *ci, const uint8_t *der, size_t len);
void certinfo_free(struct certinfo *ci);
/* certinfo_shutdown frees the helper ctx (call once at exit). */
void certinfo_shutdown(void);
/* certinfo_json: {"subject","issuer","sha256","not_before","not_after"}. */
json_t *certinfo_json(const struct certinfo *ci);

/* explain.c: why a refusal happened, in words. */
struct verify_facts {
    mtls_peer *peer;
    const struct tool_certs *presented;
    const struct certinfo *info; /* one per presented certificate */
    json_t *anchors;             /* trust_anchors of the policy used (describe JSON) */
    int purpose_server;
    int64_t at;
};
struct explanation {
    const char *check;  /* the check that failed, e.g. "validity period" */
    int fault_index;    /* presented index of the certificate at fault, or -1 */
    const char *fault_subject; /* certificate at fault (borrowed), NULL if unknown */
    const char *fault_sha256;
    char hint[768];
};
void explain(struct explanation *out, const struct verify_facts *f);

#endif
