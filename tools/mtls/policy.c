/*
 * tools/mtls/policy.c - `mtls policy check FILE`: load a policy document or a whole Caddy
 * config (each server with connection policies) the way the proxy does, and print the
 * effective policies from mtls_ctx_describe_json. Errors are printed with line and column.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "tool.h"

#define MAX_POLICY_FILE ((size_t)64 << 20)
#define MAX_SERVERS 256

static void print_list(const char *label, json_t *arr, const char *sep)
{
    size_t i;
    json_t *v;
    printf("%s", label);
    json_array_foreach(arr, i, v) {
        printf("%s", i ? sep : "");
        tool_fputs_escaped(stdout, json_string_value(v) ? json_string_value(v) : "?");
    }
}

static void print_match(json_t *m)
{
    json_t *sni = json_object_get(m, "sni"), *r = json_object_get(m, "remote_ip"),
           *l = json_object_get(m, "local_ip");
    if (json_object_size(m) == 0) {
        printf("  match:     any connection\n");
        return;
    }
    const char *label = "  match:     ";
    if (sni != NULL) {
        print_list("  match:     sni ", sni, ", ");
        printf("\n");
        label = "             ";
    }
    if (r != NULL) {
        print_list(label, json_object_get(r, "ranges"), ", ");
        printf("%sremote_ip", json_array_size(json_object_get(r, "ranges")) ? " " : "");
        if (json_array_size(json_object_get(r, "not_ranges")) > 0) {
            print_list(", not ", json_object_get(r, "not_ranges"), ", ");
        }
        printf("\n");
        label = "             ";
    }
    if (l != NULL) {
        print_list(label, json_object_get(l, "ranges"), ", ");
        printf(" local_ip\n");
    }
}

static const char *jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : "(not renderable)";
}

static void print_anchors(const char *where, size_t index, json_t *pol)
{
    json_t *anchors = json_object_get(pol, "trust_anchors"), *a;
    size_t i, n = json_array_size(anchors);
    char now[32];
    tool_format_time((int64_t)time(NULL), now);
    printf("  trust:     %zu anchor%s%s\n", n, n == 1 ? "" : "s",
           json_is_true(json_object_get(pol, "system_roots")) ? " (includes the system roots)"
                                                              : "");
    json_array_foreach(anchors, i, a) {
        int self = json_is_true(json_object_get(a, "self_signed"));
        printf("    [%zu] ", i);
        tool_fputs_escaped(stdout, jstr(a, "subject"));
        printf("\n        sha256 %s\n        valid %s .. %s\n", jstr(a, "sha256"),
               jstr(a, "not_before"), jstr(a, "not_after"));
        printf("        %s",
               self ? "self-signed" : "NOT self-signed (chains may end here), issuer ");
        if (!self) {
            tool_fputs_escaped(stdout, jstr(a, "issuer"));
        }
        printf("\n");
        if (!self) {
            fprintf(stderr, "mtls: warning: %s: policy #%zu: trust anchor \"", where, index);
            tool_fputs_escaped(stderr, jstr(a, "subject"));
            fprintf(stderr, "\" (sha256 %s) is not self-signed (issuer \"", jstr(a, "sha256"));
            tool_fputs_escaped(stderr, jstr(a, "issuer"));
            fprintf(stderr, "\"): chains that end at it are accepted (a partial chain, as in "
                            "Caddy); trust its root instead unless that is intended\n");
        }
        if (strcmp(jstr(a, "not_after"), now) < 0) {
            tool_warn("%s: policy #%zu: trust anchor [%zu] expired on %s", where, index, i,
                      jstr(a, "not_after"));
        }
    }
}

static void print_pins(json_t *lists)
{
    size_t l, i;
    json_t *pins, *pin;
    if (json_array_size(lists) == 0) {
        printf("  leaf pins: none\n");
        return;
    }
    json_array_foreach(lists, l, pins) {
        printf("  leaf pins: list %zu (the leaf must be in %s): %zu certificate%s\n", l + 1,
               json_array_size(lists) > 1 ? "every list" : "it", json_array_size(pins),
               json_array_size(pins) == 1 ? "" : "s");
        json_array_foreach(pins, i, pin) {
            printf("    sha256 %s\n", json_string_value(pin));
        }
    }
}

static void print_fields(json_t *fields)
{
    const char *key;
    json_t *v;
    int first = 1;
    if (json_object_size(fields) == 0) {
        return;
    }
    printf("  fields:    ");
    json_object_foreach(fields, key, v) {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        printf("%s%s %s", first ? "" : "\n             ", key, s != NULL ? s : "?");
        free(s);
        first = 0;
    }
    printf("\n");
}

static void print_policy(const char *where, json_t *pol)
{
    size_t index = (size_t)json_integer_value(json_object_get(pol, "index"));
    const char *mode = jstr(pol, "mode");
    printf("policy #%zu\n", index);
    print_match(json_object_get(pol, "match"));
    printf("  mode:      %s%s\n", mode,
           json_is_true(json_object_get(pol, "mode_explicit")) ? ""
           : strcmp(mode, "off") == 0 ? " (nothing configured: no client certificate asked for)"
                                      : " (Caddy's default)");
    print_anchors(where, index, pol);
    print_pins(json_object_get(pol, "leaf_pins"));
    print_fields(json_object_get(pol, "fields"));
}

/* Loads `path` (server `server`, may be NULL) and prints its policies; -1 on error. */
static int check_one(const char *path, const char *server)
{
    mtls_error err = {0};
    mtls_ctx *ctx = mtls_ctx_new_from_file(path, server, &err);
    char *text = NULL;
    char where[512];
    snprintf(where, sizeof(where), server ? "%s (server \"%s\")" : "%s", path, server);
    if (ctx == NULL) {
        tool_lib_error(path, &err);
        return -1;
    }
    json_t *root = NULL;
    if (mtls_ctx_describe_json(ctx, &text, NULL, &err) != MTLS_OK ||
        (root = json_loads(text, 0, NULL)) == NULL) {
        tool_error("%s: cannot describe the policies: %s", where, err.message);
        mtls_free(text);
        mtls_ctx_free(ctx);
        return -1;
    }
    json_t *pols = json_object_get(root, "policies"), *pol;
    size_t i, n = json_array_size(pols);
    printf("%s: %zu connection polic%s\n", where, n, n == 1 ? "y" : "ies");
    json_array_foreach(pols, i, pol) {
        print_policy(where, pol);
    }
    json_decref(root);
    mtls_free(text);
    mtls_ctx_free(ctx);
    return 0;
}

/* The servers of a whole Caddy config that have tls_connection_policies (borrowed names
 * from `root`); 0 when `root` is not a whole config. */
static size_t server_names(json_t *root, const char **names, size_t max)
{
    json_t *servers = json_object_get(json_object_get(json_object_get(root, "apps"), "http"),
                                      "servers");
    const char *name;
    json_t *srv;
    size_t n = 0;
    json_object_foreach(servers, name, srv) {
        if (json_object_get(srv, "tls_connection_policies") != NULL && n < max) {
            names[n++] = name;
        }
    }
    return n;
}

static int policy_check(const char *path)
{
    uint8_t *data = NULL;
    size_t len = 0;
    char why[256];
    if (tool_read_file(path, MAX_POLICY_FILE, &data, &len, why, sizeof(why)) != 0) {
        tool_error("%s: %s", path, why);
        return EXIT_USAGE;
    }
    json_t *root = json_loadb((const char *)data, len, 0, NULL);
    free(data);
    const char *names[MAX_SERVERS];
    size_t n = server_names(root, names, MAX_SERVERS);
    int failed = 0;
    if (n < 2) {
        failed = check_one(path, NULL) != 0; /* the library reports syntax errors */
    }
    for (size_t i = 0; n >= 2 && i < n; i++) {
        if (i > 0) {
            printf("\n");
        }
        failed |= check_one(path, names[i]) != 0;
    }
    json_decref(root);
    return failed ? EXIT_USAGE : 0;
}

int cmd_policy(int argc, char **argv)
{
    struct cli c = {argc, argv, 1, 0, "policy", 0};
    const char *args[2] = {NULL, NULL};
    size_t n = 0;
    while (cli_next(&c)) {
        if (cli_flag(&c, "--help") || cli_flag(&c, "-h")) {
            tool_print_help(stdout);
            return 0;
        }
        const char *pos = NULL;
        if (cli_positional(&c, &pos) && n < 2) {
            args[n] = pos;
        }
        n += pos != NULL;
    }
    if (c.failed || n != 2 || strcmp(args[0], "check") != 0) {
        if (!c.failed) {
            tool_error("policy: usage: mtls policy check FILE");
            tool_usage_hint("policy");
        }
        return EXIT_USAGE;
    }
    return policy_check(args[1]);
}
