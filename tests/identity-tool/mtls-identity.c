/*
 * mtls-identity: judge a client certificate chain with libmtls and print its identity as
 * Caddy placeholders, in the TSV format of tests/caddy/caddy-golden.sh. Uses only the public
 * API of <mtls/mtls.h>.
 *
 *   mtls-identity [options] [CHAIN.pem]
 *     CHAIN.pem            PEM certificates, leaf first (omitted or --no-cert: no certificate)
 *     --name NAME          first column (default: the file name, or "no-client-cert")
 *     --policy FILE        policy JSON (any shape mtls_ctx_new_from_file takes);
 *                          default {"mode":"request"}
 *     --policy-json TEXT   policy JSON given inline
 *     --sni NAME           pick the connection policy with mtls_ctx_select (default: index 0)
 *     --index N            use connection policy N
 *     --at UNIX            verify at this time (default: now)
 *     --placeholders FILE  placeholder names, one a line ('#' comments); default: the list of
 *                          tests/caddy/placeholders.txt, built in
 *     --all                every placeholder libmtls knows (mtls_placeholder_name)
 *     --verdict            print "NAME<TAB>accepted|rejected<TAB>reason<TAB>message" instead
 *
 * Identity rows: NAME<TAB>placeholder<TAB>value. Values are escaped: backslash -> \\,
 * TAB -> \t, LF -> \n, CR -> \r, other bytes < 0x20 and 0x7f -> \xHH (lower-case hex);
 * other bytes raw. A placeholder libmtls does not know prints <unknown placeholder>.
 * The reason word is the MTLS_ERR_ name in lower case without a CERT_ prefix (expired,
 * not_yet_valid, unknown_issuer, wrong_eku, issuer_not_ca, no_certificate, ...), "-" if accepted.
 * Exit status: 0 when a verdict was printed (accepted or not), 1 on errors, 2 on usage errors.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mtls/mtls.h>

#define MAX_CERTS 32
#define MAX_FILE (16u * 1024u * 1024u)
#define MAX_PLACEHOLDERS 256

static const char *const default_placeholders[] = {
    "http.request.tls.client.fingerprint",
    "http.request.tls.client.public_key",
    "http.request.tls.client.public_key_sha256",
    "http.request.tls.client.issuer",
    "http.request.tls.client.serial",
    "http.request.tls.client.subject",
    "http.request.tls.client.certificate_pem",
    "http.request.tls.client.certificate_der_base64",
    "http.request.tls.client.san.dns_names",
    "http.request.tls.client.san.emails",
    "http.request.tls.client.san.ips",
    "http.request.tls.client.san.uris",
    "http.request.tls.client.san.dns_names.0",
    "http.request.tls.client.san.dns_names.1",
    "http.request.tls.client.san.dns_names.7",
    "http.request.tls.client.san.emails.0",
    "http.request.tls.client.san.ips.0",
    "http.request.tls.client.san.ips.1",
    "http.request.tls.client.san.ips.2",
    "http.request.tls.client.san.uris.0",
    "http.request.tls.client.san.uris.1",
    "http.request.tls.version",
    "http.request.tls.cipher_suite",
    "http.request.tls.resumed",
    "http.request.tls.proto",
    "http.request.tls.server_name",
};

static void usage(void)
{
    fputs("usage: mtls-identity [--name NAME] [--policy FILE | --policy-json TEXT] [--sni NAME |"
          " --index N]\n"
          "                     [--at UNIX] [--placeholders FILE | --all] [--verdict]"
          " [--no-cert | CHAIN.pem]\n",
          stderr);
}

/* read_file reads a whole file into a NUL-terminated malloc'd buffer. */
static char *read_file(const char *path, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "mtls-identity: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        if (len + 1 >= cap) {
            if (cap >= MAX_FILE) {
                fprintf(stderr, "mtls-identity: %s: file too large\n", path);
                free(buf);
                buf = NULL;
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0) {
            if (ferror(f)) {
                fprintf(stderr, "mtls-identity: %s: read error\n", path);
                free(buf);
                buf = NULL;
            }
            break;
        }
    }
    fclose(f);
    if (buf != NULL) {
        buf[len] = '\0';
        if (out_len != NULL)
            *out_len = len;
    }
    return buf;
}

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* b64decode decodes [s, e) skipping whitespace; returns a malloc'd buffer or NULL. */
static uint8_t *b64decode(const char *s, const char *e, size_t *out_len)
{
    uint8_t *out = malloc((size_t)(e - s) / 4 * 3 + 3);
    if (out == NULL)
        return NULL;
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0, pad = 0;
    for (; s < e; s++) {
        unsigned char c = (unsigned char)*s;
        if (isspace(c))
            continue;
        if (c == '=') {
            pad++;
            continue;
        }
        int v = b64val(c);
        if (v < 0 || pad > 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    *out_len = n;
    return out;
}

/* load_pem_chain collects the CERTIFICATE blocks of a PEM file, in order. */
static int load_pem_chain(const char *path, uint8_t **certs, size_t *lens, size_t *num)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----";
    static const char end[] = "-----END CERTIFICATE-----";
    char *text = read_file(path, NULL);
    if (text == NULL)
        return -1;
    *num = 0;
    const char *p = text;
    while ((p = strstr(p, begin)) != NULL) {
        const char *body = p + sizeof begin - 1;
        const char *q = strstr(body, end);
        if (q == NULL) {
            fprintf(stderr, "mtls-identity: %s: unterminated PEM block\n", path);
            free(text);
            return -1;
        }
        if (*num == MAX_CERTS) {
            fprintf(stderr, "mtls-identity: %s: more than %d certificates\n", path, MAX_CERTS);
            free(text);
            return -1;
        }
        certs[*num] = b64decode(body, q, &lens[*num]);
        if (certs[*num] == NULL) {
            fprintf(stderr, "mtls-identity: %s: bad base64 in certificate %zu\n", path, *num + 1);
            free(text);
            return -1;
        }
        (*num)++;
        p = q + sizeof end - 1;
    }
    free(text);
    if (*num == 0) {
        fprintf(stderr, "mtls-identity: %s: no CERTIFICATE block\n", path);
        return -1;
    }
    return 0;
}

static void put_escaped(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '\\': fputs("\\\\", stdout); break;
        case '\t': fputs("\\t", stdout); break;
        case '\n': fputs("\\n", stdout); break;
        case '\r': fputs("\\r", stdout); break;
        default:
            if (c < 0x20 || c == 0x7f)
                printf("\\x%02x", c);
            else
                putchar(c);
        }
    }
}

/* reason_word: "CERT_EXPIRED" -> "expired", "UNKNOWN_ISSUER" -> "unknown_issuer". */
static const char *reason_word(int code, char *buf, size_t cap)
{
    const char *name = NULL;
    switch (code) {
#define X(n, value, category, message) \
    case value:                        \
        name = #n;                     \
        break;
#include <mtls/errors.def>
#undef X
    default:
        break;
    }
    if (code == 0)
        return "-";
    if (name == NULL) {
        snprintf(buf, cap, "code_%d", code);
        return buf;
    }
    if (strncmp(name, "CERT_", 5) == 0)
        name += 5;
    size_t i = 0;
    for (; name[i] != '\0' && i + 1 < cap; i++)
        buf[i] = (char)tolower((unsigned char)name[i]);
    buf[i] = '\0';
    return buf;
}

static void put_message(const char *s)
{
    put_escaped(s, s == NULL ? 0 : strlen(s));
}

int main(int argc, char **argv)
{
    const char *name = NULL, *policy_file = NULL, *policy_json = NULL, *sni = NULL;
    const char *ph_file = NULL, *chain_file = NULL;
    int all = 0, verdict_only = 0, no_cert = 0, have_index = 0;
    size_t index = 0;
    int64_t at = MTLS_TIME_NOW;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_arg = i + 1 < argc;
#define ARG(opt) (strcmp(a, opt) == 0 && has_arg)
        if (ARG("--name"))
            name = argv[++i];
        else if (ARG("--policy"))
            policy_file = argv[++i];
        else if (ARG("--policy-json"))
            policy_json = argv[++i];
        else if (ARG("--sni"))
            sni = argv[++i];
        else if (ARG("--index")) {
            char *endp;
            index = (size_t)strtoul(argv[++i], &endp, 10);
            if (*endp != '\0') {
                usage();
                return 2;
            }
            have_index = 1;
        } else if (ARG("--at")) {
            char *endp;
            at = (int64_t)strtoll(argv[++i], &endp, 10);
            if (*endp != '\0') {
                usage();
                return 2;
            }
        } else if (ARG("--placeholders"))
            ph_file = argv[++i];
        else if (strcmp(a, "--all") == 0)
            all = 1;
        else if (strcmp(a, "--verdict") == 0)
            verdict_only = 1;
        else if (strcmp(a, "--no-cert") == 0)
            no_cert = 1;
        else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage();
            return 0;
        } else if (a[0] == '-' && a[1] != '\0') {
            usage();
            return 2;
        } else if (chain_file == NULL)
            chain_file = a;
        else {
            usage();
            return 2;
        }
#undef ARG
    }
    if ((policy_file != NULL && policy_json != NULL) || (sni != NULL && have_index) ||
        (no_cert && chain_file != NULL) || (all && ph_file != NULL)) {
        usage();
        return 2;
    }
    if (name == NULL)
        name = chain_file != NULL ? chain_file : "no-client-cert";

    /* placeholder list */
    const char *phs[MAX_PLACEHOLDERS];
    size_t nph = 0;
    char *ph_text = NULL;
    if (all) {
        size_t n = mtls_placeholder_count();
        for (size_t i = 0; i < n && nph < MAX_PLACEHOLDERS; i++)
            phs[nph++] = mtls_placeholder_name(i);
    } else if (ph_file != NULL) {
        ph_text = read_file(ph_file, NULL);
        if (ph_text == NULL)
            return 1;
        for (char *line = strtok(ph_text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
            while (isspace((unsigned char)*line))
                line++;
            size_t l = strlen(line);
            while (l > 0 && isspace((unsigned char)line[l - 1]))
                line[--l] = '\0';
            if (l == 0 || line[0] == '#')
                continue;
            if (nph == MAX_PLACEHOLDERS) {
                fprintf(stderr, "mtls-identity: too many placeholders\n");
                free(ph_text);
                return 1;
            }
            phs[nph++] = line;
        }
    } else {
        for (size_t i = 0; i < sizeof default_placeholders / sizeof *default_placeholders; i++)
            phs[nph++] = default_placeholders[i];
    }

    /* policy */
    mtls_error err;
    memset(&err, 0, sizeof err);
    mtls_ctx *ctx;
    if (policy_file != NULL) {
        ctx = mtls_ctx_new_from_file(policy_file, NULL, &err);
    } else {
        const char *json = policy_json != NULL ? policy_json : "{\"mode\":\"request\"}";
        ctx = mtls_ctx_new_from_json(json, strlen(json), NULL, &err);
    }
    if (ctx == NULL) {
        fprintf(stderr, "mtls-identity: policy: %s (%s, code %d", err.message,
                mtls_strerror(err.code), err.code);
        if (err.line > 0)
            fprintf(stderr, ", line %d column %d", err.line, err.column);
        fprintf(stderr, ")\n");
        free(ph_text);
        return 1;
    }
    if (sni != NULL) {
        if (mtls_ctx_select(ctx, sni, NULL, NULL, &index, &err) != MTLS_OK) {
            fprintf(stderr, "mtls-identity: no policy for SNI %s: %s\n", sni, err.message);
            mtls_ctx_free(ctx);
            free(ph_text);
            return 1;
        }
    }

    /* chain */
    uint8_t *certs[MAX_CERTS];
    size_t lens[MAX_CERTS];
    size_t ncerts = 0;
    if (chain_file != NULL && load_pem_chain(chain_file, certs, lens, &ncerts) != 0) {
        mtls_ctx_free(ctx);
        free(ph_text);
        return 1;
    }

    int rc = 0;
    mtls_peer *peer = NULL;
    if (mtls_verify_der(ctx, index, (const uint8_t *const *)certs, lens, ncerts, at, &peer,
                        &err) != MTLS_OK) {
        fprintf(stderr, "mtls-identity: verify: %s (%s)\n", err.message, mtls_strerror(err.code));
        rc = 1;
        goto out;
    }

    if (verdict_only) {
        char word[64];
        int accepted = mtls_peer_accepted(peer);
        printf("%s\t%s\t%s\t", name, accepted ? "accepted" : "rejected",
               reason_word(mtls_peer_reason(peer), word, sizeof word));
        put_message(mtls_peer_message(peer));
        putchar('\n');
    } else {
        for (size_t i = 0; i < nph; i++) {
            const char *val = NULL;
            size_t len = 0;
            mtls_error perr;
            memset(&perr, 0, sizeof perr);
            mtls_status st = mtls_peer_get(peer, phs[i], &val, &len, &perr);
            printf("%s\t%s\t", name, phs[i]);
            if (st == MTLS_OK)
                put_escaped(val, len);
            else if (st == MTLS_ERR_UNKNOWN_PLACEHOLDER)
                fputs("<unknown placeholder>", stdout);
            else {
                fprintf(stderr, "mtls-identity: %s: %s\n", phs[i], perr.message);
                fputs("<error>", stdout);
                rc = 1;
            }
            putchar('\n');
        }
    }
    if (fflush(stdout) != 0)
        rc = 1;

out:
    mtls_peer_free(peer);
    for (size_t i = 0; i < ncerts; i++)
        free(certs[i]);
    mtls_ctx_free(ctx);
    free(ph_text);
    return rc;
}
