/*
 * tools/mtls/cli.h - option scanning shared by the subcommands: "--name VALUE",
 * "--name=VALUE", flags, "--" and positional arguments.
 */
#ifndef MTLS_TOOL_CLI_H
#define MTLS_TOOL_CLI_H

struct cli {
    int argc;
    char **argv;
    int i;          /* next argument */
    int only_pos;   /* after "--" */
    const char *cmd; /* for messages: "verify" */
    int failed;
};

/* cli_next: 1 when argv[i] exists (then cli_flag/cli_value/cli_positional look at it). */
int cli_next(struct cli *c);
/* cli_flag: argv[i] is `--name` (no value): consume it. */
int cli_flag(struct cli *c, const char *name);
/* cli_value: argv[i] is `--name VALUE` or `--name=VALUE`: consume, set *out. A missing
 * value prints a usage error and sets c->failed. */
int cli_value(struct cli *c, const char *name, const char **out);
/* cli_positional: argv[i] is not an option: consume it into *out. An unknown option
 * prints a usage error and sets c->failed. */
int cli_positional(struct cli *c, const char **out);

#endif
