/*
 * tools/mtls/main.c - `mtls`: explain libmtls's verdicts, identities and policies.
 *   mtls verify ... CERT | mtls inspect ... CERT | mtls policy check FILE
 * Exit status: 0 success / accepted, 1 refused (verify), 2 usage or configuration error.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tool.h"

#define STR_(x) #x
#define STR(x) STR_(x)

static const char help[] =
    "usage: mtls verify [--policy FILE | --ca FILE ...] [--untrusted FILE ...] [--at TIME]\n"
    "                   [--purpose client|server] [--max-depth N] [--json] CERT\n"
    "       mtls inspect [--json] CERT\n"
    "       mtls policy check FILE\n"
    "       mtls --help | --version\n"
    "\n"
    "mtls verify: judge the chain in CERT as libmtls does in a TLS handshake, and explain.\n"
    "  CERT              PEM (or DER) file: the leaf, then the intermediates a client sends\n"
    "  --policy FILE     a policy or Caddy config, as mtls_ctx_new_from_file loads it; the\n"
    "                    first connection policy that asks for client certificates judges\n"
    "  --ca FILE         trust the CA certificates of this PEM file (repeatable): a policy\n"
    "                    with mode require_and_verify and these CAs\n"
    "  --untrusted FILE  more intermediates, sent after those of CERT (repeatable)\n"
    "  --at TIME         verification time: RFC 3339 (2024-05-01T12:00:00Z) or\n"
    "                    @UNIX_SECONDS (default: now)\n"
    "  --purpose P       the extended key usage required: client (default) or server\n"
    "  --max-depth N     most intermediate CAs between leaf and anchor (0-" STR(
        MTLS_MAX_DEPTH_LIMIT) ", default " STR(MTLS_DEFAULT_MAX_DEPTH) ")\n"
    "  --json            print verdict, reason, message, chains, the failure and every\n"
    "                    identity placeholder (Caddy's raw values) as JSON\n"
    "  Prints the verdict and the chain built; for a refusal the certificate at fault,\n"
    "  the check that failed and a hint. Exit 0 accepted, 1 refused, 2 usage/config error.\n"
    "\n"
    "mtls inspect: every identity placeholder of the leaf (first certificate) in CERT\n"
    "  exactly as mtls-proxy forwards it: bytes below 0x20 and 0x7f as \\xHH. Verifies\n"
    "  nothing ({http.request.tls.client.verified} is UNVERIFIED). --json: as an object.\n"
    "\n"
    "mtls policy check: load FILE (a client_authentication object, a tls_connection_policies\n"
    "  array or a whole Caddy config: then every server that has connection policies) and\n"
    "  print the effective policies: matchers, mode after Caddy's defaults, trust anchors\n"
    "  (subject, SHA-256, validity), leaf pins and other fields. Warns when an anchor is not\n"
    "  self-signed (chains may end there). Exit 0 loaded, 2 error (printed with line and\n"
    "  column for JSON syntax errors).\n";

void tool_print_help(FILE *f)
{
    fputs(help, f);
}

void tool_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("mtls: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void tool_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("mtls: warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void tool_usage_hint(const char *cmd)
{
    fprintf(stderr, "Try 'mtls --help'%s%s.\n", cmd ? " for the options of " : "",
            cmd ? cmd : "");
}

void tool_lib_error(const char *file, const mtls_error *err)
{
    /* With a position, print FILE:LINE:COLUMN like a compiler; the library's message then
     * starts with "FILE: " already, which is dropped. */
    if (err->line >= 0 && err->code != MTLS_OK && file != NULL) {
        const char *msg = err->message;
        size_t n = strlen(file);
        if (strncmp(msg, file, n) == 0 && strncmp(msg + n, ": ", 2) == 0) {
            msg += n + 2;
        }
        tool_error("%s:%d:%d: %s (%s)", file, err->line, err->column, msg,
                   tool_error_name(err->code));
        return;
    }
    tool_error("%s (%s)", err->message[0] ? err->message : mtls_strerror(err->code),
               tool_error_name(err->code));
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(help, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("mtls %s (libmtls %s)\n", MTLS_VERSION_STRING, mtls_version());
        return 0;
    }
    int rc;
    if (strcmp(cmd, "verify") == 0) {
        rc = cmd_verify(argc - 1, argv + 1);
    } else if (strcmp(cmd, "inspect") == 0) {
        rc = cmd_inspect(argc - 1, argv + 1);
    } else if (strcmp(cmd, "policy") == 0) {
        rc = cmd_policy(argc - 1, argv + 1);
    } else {
        tool_error("unknown command \"%s\"", cmd);
        tool_usage_hint(NULL);
        rc = EXIT_USAGE;
    }
    certinfo_shutdown();
    return rc;
}
