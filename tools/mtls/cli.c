/*
 * tools/mtls/cli.c - option scanning (no getopt: subcommands, and no argument permutation
 * surprises).
 */
#include <string.h>

#include "cli.h"
#include "tool.h"

int cli_next(struct cli *c)
{
    if (c->i < c->argc && !c->only_pos && strcmp(c->argv[c->i], "--") == 0) {
        c->only_pos = 1;
        c->i++;
    }
    return !c->failed && c->i < c->argc;
}

int cli_flag(struct cli *c, const char *name)
{
    if (c->only_pos || strcmp(c->argv[c->i], name) != 0) {
        return 0;
    }
    c->i++;
    return 1;
}

int cli_value(struct cli *c, const char *name, const char **out)
{
    const char *a = c->argv[c->i];
    size_t n = strlen(name);
    if (c->only_pos || strncmp(a, name, n) != 0 || (a[n] != '\0' && a[n] != '=')) {
        return 0;
    }
    if (a[n] == '=') {
        *out = a + n + 1;
        c->i++;
        return 1;
    }
    if (c->i + 1 >= c->argc) {
        tool_error("%s: option %s needs a value", c->cmd, name);
        tool_usage_hint(c->cmd);
        c->failed = 1;
        return 1;
    }
    *out = c->argv[c->i + 1];
    c->i += 2;
    return 1;
}

int cli_positional(struct cli *c, const char **out)
{
    const char *a = c->argv[c->i];
    if (!c->only_pos && a[0] == '-' && a[1] != '\0') {
        tool_error("%s: unknown option %s", c->cmd, a);
        tool_usage_hint(c->cmd);
        c->failed = 1;
        return 0;
    }
    *out = a;
    c->i++;
    return 1;
}
