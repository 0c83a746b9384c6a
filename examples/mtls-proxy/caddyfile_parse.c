/*
 * caddyfile_parse.c - server blocks, snippets and imports (Caddy 2.6.2 caddyfile/parse.go),
 * with imports bounded in depth (cycles and nesting) and in tokens produced.
 *
 * Caddy splices imported tokens into one flat token slice at the cursor; this keeps the
 * same cursor semantics on a gap buffer (tokens up to the cursor in `lo`, the rest reversed
 * in `hi`), so an import costs O(imported tokens) instead of O(file).
 */
#include "caddyfile_int.h"

#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef GLOB_PERIOD
#define GLOB_PERIOD 0 /* GNU: let '*' match a leading dot, as Go's filepath.Glob does */
#endif

struct snippet {
    const char *name;
    struct cf_token *tok;
    size_t n;
};

struct parser {
    struct cf_ctx *ctx;
    struct cf_token *lo, *hi;
    size_t lo_n, lo_cap, hi_n, hi_cap;
    long cursor;
    int nesting;
    int eof;
    struct snippet *snip;
    size_t nsnip, snipcap;
    struct cf_block block;
    const char *main_file;
};

static size_t p_len(const struct parser *p)
{
    return p->lo_n + p->hi_n;
}

static int push_tok(struct cf_ctx *ctx, struct cf_token **v, size_t *n, size_t *cap,
                    const struct cf_token *t)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        struct cf_token *nv = cf_grow(ctx, *v, *n * sizeof(**v), nc * sizeof(**v));
        if (nv == NULL) {
            return -1;
        }
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = *t;
    return 0;
}

/* The gap buffer lives on the heap (realloc), not in the arena, so that growing it does
 * not leave dead copies behind; cf_parse frees it. */
static int gap_push(struct parser *p, struct cf_token **v, size_t *n, size_t *cap,
                    const struct cf_token *t)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 256;
        if (nc > SIZE_MAX / sizeof(**v)) {
            return cf_oom(p->ctx);
        }
        struct cf_token *nv = realloc(*v, nc * sizeof(**v));
        if (nv == NULL) {
            return cf_oom(p->ctx);
        }
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = *t;
    return 0;
}

/* Moves tokens between lo and hi so that lo holds tokens [0, cursor]. */
static int p_sync(struct parser *p)
{
    long n = (long)p_len(p);
    long want = p->cursor + 1;
    if (want < 0) {
        want = 0;
    }
    if (want > n) {
        want = n;
    }
    while ((long)p->lo_n < want) {
        struct cf_token t = p->hi[--p->hi_n];
        if (gap_push(p, &p->lo, &p->lo_n, &p->lo_cap, &t) != 0) {
            return -1;
        }
    }
    while ((long)p->lo_n > want) {
        struct cf_token t = p->lo[--p->lo_n];
        if (gap_push(p, &p->hi, &p->hi_n, &p->hi_cap, &t) != 0) {
            return -1;
        }
    }
    return 0;
}

static const struct cf_token *p_at(const struct parser *p, long i)
{
    if (i < 0 || i >= (long)p_len(p)) {
        return NULL;
    }
    if ((size_t)i < p->lo_n) {
        return &p->lo[i];
    }
    return &p->hi[p->hi_n - 1 - ((size_t)i - p->lo_n)];
}

static const struct cf_token *p_tok(const struct parser *p)
{
    return p_at(p, p->cursor);
}

static const char *p_val(const struct parser *p)
{
    const struct cf_token *t = p_tok(p);
    return t ? t->text : "";
}

static int p_move(struct parser *p, long delta)
{
    p->cursor += delta;
    return p_sync(p);
}

static int p_next(struct parser *p)
{
    if (p->cursor < (long)p_len(p) - 1) {
        return p_move(p, 1) == 0;
    }
    return 0;
}

int cf_line_breaks(const struct cf_token *t)
{
    int n = 0;
    for (const char *s = t->text; *s; s++) {
        n += *s == '\n';
    }
    return n;
}

static int next_on_new_line(const struct cf_token *cur, const struct cf_token *next)
{
    if (strcmp(cur->file, next->file) != 0) {
        return 1;
    }
    return cur->line + cf_line_breaks(cur) < next->line;
}

int cf_same_line(const struct cf_token *cur, const struct cf_token *next)
{
    return strcmp(cur->file, next->file) == 0 && cur->line + cf_line_breaks(cur) == next->line;
}

static int p_is_new_line(const struct parser *p)
{
    if (p->cursor < 1) {
        return 1;
    }
    if (p->cursor > (long)p_len(p) - 1) {
        return 0;
    }
    return next_on_new_line(p_at(p, p->cursor - 1), p_at(p, p->cursor));
}

static int p_next_on_same_line(struct parser *p)
{
    if (p->cursor < 0) {
        return p_move(p, 1) == 0;
    }
    if (p->cursor >= (long)p_len(p)) {
        return 0;
    }
    if (p->cursor < (long)p_len(p) - 1 && cf_same_line(p_at(p, p->cursor), p_at(p, p->cursor + 1))) {
        return p_move(p, 1) == 0;
    }
    return 0;
}

static int p_next_arg(struct parser *p)
{
    if (!p_next_on_same_line(p)) {
        return 0;
    }
    if (strcmp(p_val(p), "{") == 0) {
        p_move(p, -1);
        return 0;
    }
    return 1;
}

static int p_err(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int p_err(struct parser *p, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    const struct cf_token *t = p_tok(p);
    if (t == NULL && p_len(p) > 0) {
        t = p_at(p, (long)p_len(p) - 1);
    }
    if (t == NULL) {
        return cf_fail_at(p->ctx, p->main_file, 0, "%s", msg);
    }
    return cf_fail(p->ctx, t, "%s", msg);
}

static int p_arg_err(struct parser *p)
{
    if (strcmp(p_val(p), "{") == 0) {
        return p_err(p, "unexpected token '{', expecting argument");
    }
    return p_err(p, "wrong argument count or unexpected line ending after '%s'", p_val(p));
}

static int p_syntax_err(struct parser *p, const char *expected)
{
    return p_err(p, "syntax error: unexpected token '%s', expecting '%s'", p_val(p), expected);
}

static const struct snippet *find_snippet(const struct parser *p, const char *name)
{
    for (size_t i = 0; i < p->nsnip; i++) {
        if (strcmp(p->snip[i].name, name) == 0) {
            return &p->snip[i];
        }
    }
    return NULL;
}

/* caddy.Replacer.ReplaceKnown with only {args.N} known (NewEmptyReplacer + Set), including
 * its handling of escaped braces and its "too many unclosed placeholders" bail-out. */
static const char *replace_args(struct cf_ctx *ctx, const char *in, const struct cf_strv *args)
{
    if (strchr(in, '{') == NULL) {
        return in;
    }
    size_t len = strlen(in), cap = len + 1, n = 0, last = 0;
    int unclosed = 0;
    char *out = cf_alloc(ctx, cap);
    if (out == NULL) {
        return NULL;
    }
#define PUT(src, cnt)                                                                    \
    do {                                                                                 \
        size_t c_ = (cnt);                                                               \
        if (n + c_ + 1 > cap) {                                                          \
            size_t nc_ = (n + c_ + 1) * 2;                                               \
            char *no_ = cf_grow(ctx, out, n, nc_);                                       \
            if (no_ == NULL) {                                                           \
                return NULL;                                                             \
            }                                                                            \
            out = no_;                                                                   \
            cap = nc_;                                                                   \
        }                                                                                \
        memcpy(out + n, (src), c_);                                                      \
        n += c_;                                                                         \
    } while (0)
    for (size_t i = 0; i < len; i++) {
        if (i > 0 && in[i - 1] == '\\' && (in[i] == '}' || in[i] == '{')) {
            if (i - 1 >= last) {
                PUT(in + last, i - 1 - last);
            }
            last = i;
            continue;
        }
        if (in[i] != '{') {
            continue;
        }
        if (unclosed > 100) {
            return ""; /* ReplaceKnown drops the error and returns "" */
        }
        const char *close = strchr(in + i, '}');
        if (close == NULL) {
            unclosed++;
            continue;
        }
        size_t end = (size_t)(close - in);
        int skip = 0;
        while (end > 0 && end < len - 1 && in[end - 1] == '\\') {
            const char *nx = strchr(in + end + 1, '}');
            if (nx == NULL) {
                unclosed++;
                skip = 1;
                break;
            }
            end = (size_t)(nx - in);
        }
        if (skip) {
            continue;
        }
        PUT(in + last, i - last);
        const char *key = in + i + 1;
        size_t klen = end - i - 1;
        long idx = -1;
        if (klen > 5 && memcmp(key, "args.", 5) == 0) {
            char num[24];
            if (klen - 5 < sizeof(num)) {
                memcpy(num, key + 5, klen - 5);
                num[klen - 5] = '\0';
                long v;
                /* strconv.Itoa(index) forms only: no sign, no leading zeros */
                if (num[0] != '+' && num[0] != '-' && !(num[0] == '0' && num[1] != '\0') &&
                    cf_atoi(num, &v) == 0 && v >= 0 && (size_t)v < args->n) {
                    idx = v;
                }
            }
        }
        if (idx < 0) {
            last = i;
            continue;
        }
        PUT(args->v[idx], strlen(args->v[idx]));
        i = end;
        last = i + 1;
    }
    PUT(in + last, len - last);
#undef PUT
    out[n] = '\0';
    return out;
}

static int cycle_or_depth(struct parser *p, const struct cf_token *imp, const char *node)
{
    for (const struct cf_frame *f = imp->frame; f != NULL; f = f->parent) {
        if (strcmp(f->name, node) == 0) {
            return p_err(p, "a cycle of imports exists between %s and %s",
                         imp->frame ? imp->frame->name : imp->file, node);
        }
    }
    if (imp->frame != NULL && imp->frame->depth >= CF_IMPORT_DEPTH) {
        return p_err(p, "imports are nested more than %d deep", CF_IMPORT_DEPTH);
    }
    return 0;
}

static int import_file(struct parser *p, const char *path, const struct cf_frame *frame,
                       struct cf_token **v, size_t *n, size_t *cap)
{
    char *text;
    size_t len;
    int e = 0;
    if (p->ctx->opts.no_files) {
        return p_err(p, "Could not import %s: file access is disabled", path);
    }
    if (cf_read_file(p->ctx, path, &text, &len, &e) != 0) {
        if (e == EISDIR) {
            return p_err(p, "Could not import %s: is a directory", path);
        }
        if (e == EINVAL) {
            return p_err(p, "Could not import %s: not a regular file", path);
        }
        return p_err(p, "Could not import %s: %s", path, strerror(e));
    }
    struct cf_token *toks;
    size_t nt;
    if (cf_lex(p->ctx, text, len, frame->name, frame, &toks, &nt) != 0) {
        return -1;
    }
    for (size_t i = 0; i < nt; i++) {
        if (push_tok(p->ctx, v, n, cap, &toks[i]) != 0) {
            return -1;
        }
    }
    return 0;
}

static int count_char(const char *s, char c)
{
    int n = 0;
    for (; *s; s++) {
        n += *s == c;
    }
    return n;
}

/* Resolves a file import pattern (relative to the importing token's file) into tokens. */
static int import_files(struct parser *p, const struct cf_token *imp, const char *pattern,
                        struct cf_token **v, size_t *n, size_t *cap)
{
    const char *glob_pattern = pattern;
    if (pattern[0] != '/') {
        char *abs = cf_abs_path(p->ctx, imp->file);
        char *dir = abs ? cf_dir(p->ctx, abs) : NULL;
        glob_pattern = dir ? cf_printf(p->ctx, "%s/%s", dir, pattern) : NULL;
        if (glob_pattern == NULL) {
            return -1;
        }
    }
    if (count_char(glob_pattern, '*') > 1 || count_char(glob_pattern, '?') > 1 ||
        (strchr(glob_pattern, '[') && strchr(glob_pattern, ']'))) {
        return p_err(p, "Glob pattern may only contain one wildcard (*), but has others: %s",
                     glob_pattern);
    }
    if (p->ctx->opts.no_files) {
        return p_err(p, "Could not import %s: file access is disabled", pattern);
    }
    glob_t g;
    memset(&g, 0, sizeof(g));
    int rc = glob(glob_pattern, GLOB_PERIOD, NULL, &g);
    if (rc == GLOB_NOMATCH || (rc == 0 && g.gl_pathc == 0)) {
        globfree(&g);
        if (strpbrk(glob_pattern, "*?[]") != NULL) {
            return 0; /* Caddy only warns: no files matching import glob pattern */
        }
        return p_err(p, "File to import not found: %s (no snippet or file of that name; a "
                        "snippet must be defined before it is imported)",
                     pattern);
    }
    if (rc != 0) {
        globfree(&g);
        return p_err(p, "Failed to use import pattern %s", pattern);
    }
    int ret = 0;
    for (size_t i = 0; i < g.gl_pathc && ret == 0; i++) {
        char *abs = cf_abs_path(p->ctx, g.gl_pathv[i]);
        struct cf_frame *fr = cf_alloc(p->ctx, sizeof(*fr));
        if (abs == NULL || fr == NULL) {
            ret = -1;
            break;
        }
        if (cycle_or_depth(p, imp, abs) != 0) {
            ret = -1;
            break;
        }
        fr->name = abs;
        fr->parent = imp->frame;
        fr->depth = imp->frame ? imp->frame->depth + 1 : 1;
        ret = import_file(p, g.gl_pathv[i], fr, v, n, cap);
    }
    globfree(&g);
    return ret;
}

/* doImport: the cursor is on "import"; replaces it and its arguments by the imported
 * tokens and leaves the cursor on the first of them (Caddy's cursor arithmetic). */
static int do_import(struct parser *p)
{
    struct cf_token imp = *p_tok(p);
    if (!p_next_arg(p)) {
        return p_arg_err(p);
    }
    const char *pattern = p_val(p);
    if (pattern[0] == '\0') {
        return p_err(p, "Import requires a non-empty filepath");
    }
    struct cf_strv args = {0};
    while (p_next_arg(p)) {
        if (cf_strv_push(p->ctx, &args, p_val(p)) != 0) {
            return -1;
        }
    }
    struct cf_token *imported = NULL;
    size_t ni = 0, capi = 0;
    const struct snippet *sn = find_snippet(p, pattern);
    if (sn != NULL) {
        const char *node = cf_printf(p->ctx, "%s:%s", sn->n ? sn->tok[0].file : imp.file,
                                     sn->name);
        struct cf_frame *fr = cf_alloc(p->ctx, sizeof(*fr));
        if (node == NULL || fr == NULL || cycle_or_depth(p, &imp, node) != 0) {
            return -1;
        }
        fr->name = node;
        fr->parent = imp.frame;
        fr->depth = imp.frame ? imp.frame->depth + 1 : 1;
        if (sn->n > CF_TOKEN_BUDGET - p->ctx->tokens_made) {
            return p_err(p, "too many tokens after imports (more than %zu)",
                         (size_t)CF_TOKEN_BUDGET);
        }
        imported = cf_alloc(p->ctx, (sn->n ? sn->n : 1) * sizeof(*imported));
        if (imported == NULL) {
            return -1;
        }
        for (size_t i = 0; i < sn->n; i++) {
            imported[i] = sn->tok[i];
            imported[i].frame = fr;
        }
        ni = capi = sn->n;
    } else if (import_files(p, &imp, pattern, &imported, &ni, &capi) != 0) {
        return -1;
    }
    if (sn != NULL) {
        p->ctx->tokens_made += ni;
    }
    if (p->ctx->tokens_made > CF_TOKEN_BUDGET) {
        return p_err(p, "too many tokens after imports (more than %zu)", (size_t)CF_TOKEN_BUDGET);
    }
    for (size_t i = 0; i < ni; i++) {
        imported[i].text = replace_args(p->ctx, imported[i].text, &args);
        if (imported[i].text == NULL) {
            return -1;
        }
    }
    /* splice: drop import, pattern and args (the last args.n + 2 tokens of lo) */
    if (p->ctx->failed || p->lo_n < args.n + 2 || p->cursor + 1 != (long)p->lo_n) {
        return -1;
    }
    p->lo_n -= args.n + 2;
    for (size_t i = ni; i > 0; i--) {
        if (gap_push(p, &p->hi, &p->hi_n, &p->hi_cap, &imported[i - 1]) != 0) {
            return -1;
        }
    }
    p->cursor = (long)p->lo_n;
    return p_sync(p);
}

static int block_add_key(struct parser *p, const char *key, const struct cf_token *t)
{
    struct cf_block *b = &p->block;
    size_t n = b->keys.n;
    if (cf_strv_push(p->ctx, &b->keys, key) != 0) {
        return -1;
    }
    const struct cf_token **kt = cf_grow(p->ctx, b->keytok, n * sizeof(*kt), (n + 1) * sizeof(*kt));
    struct cf_token *copy = cf_alloc(p->ctx, sizeof(*copy));
    if (kt == NULL || copy == NULL) {
        return -1;
    }
    *copy = *t;
    kt[n] = copy;
    b->keytok = kt;
    return 0;
}

static int addresses(struct parser *p)
{
    int expecting_another = 0;
    for (;;) {
        const char *tkn = p_val(p);
        if (strcmp(tkn, "import") == 0 && p_is_new_line(p)) {
            if (do_import(p) != 0) {
                return -1;
            }
            continue;
        }
        if (strcmp(tkn, "{") == 0) {
            if (expecting_another) {
                return p_err(p, "Expected another address but had '%s' - check for extra comma",
                             tkn);
            }
            break;
        }
        if (cf_has_suffix(tkn, "{")) {
            return p_err(p,
                         "Site addresses cannot end with a curly brace: '%s' - put a space "
                         "between the token and the brace",
                         tkn);
        }
        if (tkn[0] != '\0') {
            size_t l = strlen(tkn);
            const char *key = tkn;
            if (tkn[l - 1] == ',') {
                key = cf_strndup(p->ctx, tkn, l - 1);
                if (key == NULL) {
                    return -1;
                }
                expecting_another = 1;
            } else {
                expecting_another = 0;
            }
            if (block_add_key(p, key, p_tok(p)) != 0) {
                return -1;
            }
        }
        int has_next = p_next(p);
        if (p->ctx->failed) {
            return -1;
        }
        if (expecting_another && !has_next) {
            return p_err(p, "unexpected EOF");
        }
        if (!has_next) {
            p->eof = 1;
            break;
        }
        if (!expecting_another && p_is_new_line(p)) {
            break;
        }
    }
    return 0;
}

static int add_segment(struct parser *p, struct cf_token *tok, size_t n)
{
    struct cf_block *b = &p->block;
    if (b->nseg == b->segcap) {
        size_t nc = b->segcap ? b->segcap * 2 : 8;
        struct cf_segment *ns = cf_grow(p->ctx, b->seg, b->nseg * sizeof(*ns), nc * sizeof(*ns));
        if (ns == NULL) {
            return -1;
        }
        b->seg = ns;
        b->segcap = nc;
    }
    b->seg[b->nseg].tok = tok;
    b->seg[b->nseg].n = n;
    b->nseg++;
    return 0;
}

static int directive(struct parser *p)
{
    struct cf_token *seg = NULL;
    size_t n = 0, cap = 0;
    if (push_tok(p->ctx, &seg, &n, &cap, p_tok(p)) != 0) {
        return -1;
    }
    while (p_next(p)) {
        const char *v = p_val(p);
        if (strcmp(v, "{") == 0) {
            p->nesting++;
        } else if (p_is_new_line(p) && p->nesting == 0) {
            if (p_move(p, -1) != 0) {
                return -1;
            }
            break;
        } else if (strcmp(v, "}") == 0 && p->nesting > 0) {
            p->nesting--;
        } else if (strcmp(v, "}") == 0 && p->nesting == 0) {
            return p_err(p, "Unexpected '}' because no matching opening brace");
        } else if (strcmp(v, "import") == 0 && p_is_new_line(p)) {
            if (do_import(p) != 0 || p_move(p, -1) != 0) {
                return -1;
            }
            continue;
        }
        if (push_tok(p->ctx, &seg, &n, &cap, p_tok(p)) != 0) {
            return -1;
        }
    }
    if (p->ctx->failed || add_segment(p, seg, n) != 0) {
        return -1;
    }
    if (p->nesting > 0) {
        return p_err(p, "unexpected EOF");
    }
    return 0;
}

static int directives(struct parser *p)
{
    while (p_next(p)) {
        if (strcmp(p_val(p), "}") == 0) {
            break;
        }
        if (strcmp(p_val(p), "import") == 0) {
            if (do_import(p) != 0 || p_move(p, -1) != 0) {
                return -1;
            }
            continue;
        }
        if (directive(p) != 0) {
            return -1;
        }
    }
    return p->ctx->failed ? -1 : 0;
}

static int block_contents(struct parser *p)
{
    int open = strcmp(p_val(p), "{") == 0;
    if (!open && p_move(p, -1) != 0) {
        return -1;
    }
    if (directives(p) != 0) {
        return -1;
    }
    if (open && strcmp(p_val(p), "}") != 0) {
        return p_syntax_err(p, "}");
    }
    return 0;
}

static int snippet_tokens(struct parser *p, const char *name)
{
    if (strcmp(p_val(p), "{") != 0) {
        return p_syntax_err(p, "{");
    }
    int nesting = 1;
    struct cf_token *tok = NULL;
    size_t n = 0, cap = 0;
    while (p_next(p)) {
        if (strcmp(p_val(p), "}") == 0) {
            nesting--;
            if (nesting == 0) {
                break;
            }
        }
        if (strcmp(p_val(p), "{") == 0) {
            nesting++;
        }
        struct cf_token t = *p_tok(p);
        t.snippet = name;
        if (push_tok(p->ctx, &tok, &n, &cap, &t) != 0) {
            return -1;
        }
    }
    if (p->ctx->failed) {
        return -1;
    }
    if (nesting != 0) {
        return p_syntax_err(p, "}");
    }
    if (p->nsnip == p->snipcap) {
        size_t nc = p->snipcap ? p->snipcap * 2 : 8;
        struct snippet *ns = cf_grow(p->ctx, p->snip, p->nsnip * sizeof(*ns), nc * sizeof(*ns));
        if (ns == NULL) {
            return -1;
        }
        p->snip = ns;
        p->snipcap = nc;
    }
    p->snip[p->nsnip].name = name;
    p->snip[p->nsnip].tok = tok;
    p->snip[p->nsnip].n = n;
    p->nsnip++;
    return 0;
}

static int begin(struct parser *p)
{
    if (p_len(p) == 0) {
        return 0;
    }
    if (addresses(p) != 0) {
        return -1;
    }
    if (p->eof) {
        return 0;
    }
    const struct cf_strv *keys = &p->block.keys;
    if (keys->n == 1 && keys->v[0][0] == '(' && cf_has_suffix(keys->v[0], ")")) {
        size_t l = strlen(keys->v[0]);
        char *name = cf_strndup(p->ctx, keys->v[0] + 1, l >= 2 ? l - 2 : 0);
        if (name == NULL) {
            return -1;
        }
        if (strcmp(keys->v[0], "(") == 0) {
            name[0] = '\0';
        }
        if (find_snippet(p, name) != NULL) {
            return p_err(p, "redeclaration of previously declared snippet %s", name);
        }
        if (snippet_tokens(p, name) != 0) {
            return -1;
        }
        memset(&p->block, 0, sizeof(p->block));
        return 0;
    }
    return block_contents(p);
}

static int parse_all(struct parser *p, struct cf_blocks *out)
{
    struct cf_ctx *ctx = p->ctx;
    while (p_next(p)) {
        memset(&p->block, 0, sizeof(p->block));
        if (begin(p) != 0) {
            return -1;
        }
        if (p->block.keys.n > 0 || p->block.nseg > 0) {
            if (out->n == out->cap) {
                size_t nc = out->cap ? out->cap * 2 : 8;
                struct cf_block *nb = cf_grow(ctx, out->v, out->n * sizeof(*nb), nc * sizeof(*nb));
                if (nb == NULL) {
                    return -1;
                }
                out->v = nb;
                out->cap = nc;
            }
            out->v[out->n++] = p->block;
        }
        if (p->nesting > 0) {
            return p_err(p, "unexpected EOF");
        }
    }
    return ctx->failed ? -1 : 0;
}

int cf_parse(struct cf_ctx *ctx, const char *text, size_t len, const char *filename,
             struct cf_blocks *out)
{
    struct parser p;
    int rc = -1;
    memset(&p, 0, sizeof(p));
    memset(out, 0, sizeof(*out));
    p.ctx = ctx;
    p.cursor = -1;
    p.main_file = filename;
    struct cf_frame *root = cf_alloc(ctx, sizeof(*root));
    if (root == NULL || (root->name = cf_abs_path(ctx, filename)) == NULL) {
        return -1;
    }
    struct cf_token *toks;
    size_t n;
    if (cf_lex(ctx, text, len, filename, root, &toks, &n) != 0) {
        return -1;
    }
    /* all tokens start in hi (reversed), the cursor before the first one */
    for (size_t i = n; i > 0; i--) {
        if (gap_push(&p, &p.hi, &p.hi_n, &p.hi_cap, &toks[i - 1]) != 0) {
            goto out;
        }
    }
    rc = parse_all(&p, out);
out:
    free(p.lo);
    free(p.hi);
    return rc;
}
