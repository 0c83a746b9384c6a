/*
 * caddyfile_lex.c - {$ENV} substitution and the lexer, ported from Caddy 2.6.2
 * (caddyconfig/caddyfile/parse.go replaceEnvVars, lexer.go). Quirks are kept on purpose:
 * the escape flag resets with every token, '\' keeps its backslash except before a quote
 * inside "..." and before a newline (line continuation), backtick strings are raw, and
 * invalid UTF-8 bytes become U+FFFD (Go reads runes).
 */
#include "caddyfile_int.h"

#include <stdlib.h>
#include <string.h>

/* replaceEnvVars: {$NAME} or {$NAME:default}, on raw bytes, before lexing. */
static int replace_env(struct cf_ctx *ctx, const char *in, size_t len, char **out, size_t *out_len)
{
    char *buf = cf_strndup(ctx, in, len);
    size_t n = len, offset = 0;
    if (buf == NULL) {
        return -1;
    }
    for (;;) {
        char *begin_p = NULL;
        for (size_t i = offset; i + 1 < n; i++) {
            if (buf[i] == '{' && buf[i + 1] == '$') {
                begin_p = buf + i;
                break;
            }
        }
        if (begin_p == NULL) {
            break;
        }
        size_t begin = (size_t)(begin_p - buf);
        char *close = memchr(buf + begin + 2, '}', n - begin - 2);
        if (close == NULL) {
            break;
        }
        size_t end = (size_t)(close - buf);
        if (end == begin + 2) {
            offset = end + 1;
            continue;
        }
        char *name = cf_strndup(ctx, buf + begin + 2, end - begin - 2);
        if (name == NULL) {
            return -1;
        }
        const char *def = NULL;
        char *colon = strchr(name, ':');
        if (colon != NULL) {
            *colon = '\0';
            def = colon + 1;
        }
        const char *val = getenv(name);
        if (val == NULL) {
            val = def != NULL ? def : "";
        }
        size_t vl = strlen(val);
        size_t tail = n - end - 1;
        if (begin + vl + tail + 1 > CF_ARENA_BUDGET) {
            return cf_oom(ctx);
        }
        char *nb = cf_alloc(ctx, begin + vl + tail + 1);
        if (nb == NULL) {
            return -1;
        }
        memcpy(nb, buf, begin);
        memcpy(nb + begin, val, vl);
        memcpy(nb + begin + vl, buf + end + 1, tail);
        n = begin + vl + tail;
        nb[n] = '\0';
        buf = nb;
        offset = begin + vl;
    }
    *out = buf;
    *out_len = n;
    return 0;
}

/* utf8.DecodeRune: returns the rune and its width; invalid input is U+FFFD width 1. */
static uint32_t decode_rune(const unsigned char *s, size_t n, size_t *w)
{
    unsigned char b0 = s[0];
    *w = 1;
    if (b0 < 0x80) {
        return b0;
    }
    unsigned char lo = 0x80, hi = 0xBF;
    size_t need;
    uint32_t r;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 2;
        r = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 3;
        r = b0 & 0x0F;
        if (b0 == 0xE0) {
            lo = 0xA0;
        } else if (b0 == 0xED) {
            hi = 0x9F;
        }
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 4;
        r = b0 & 0x07;
        if (b0 == 0xF0) {
            lo = 0x90;
        } else if (b0 == 0xF4) {
            hi = 0x8F;
        }
    } else {
        return 0xFFFD;
    }
    if (n < need || s[1] < lo || s[1] > hi) {
        return 0xFFFD;
    }
    r = r << 6 | (s[1] & 0x3F);
    for (size_t i = 2; i < need; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF) {
            return 0xFFFD;
        }
        r = r << 6 | (s[i] & 0x3F);
    }
    *w = need;
    return r;
}

/* unicode.IsSpace */
static int is_space(uint32_t r)
{
    switch (r) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
        return 1;
    default:
        return r >= 0x2000 && r <= 0x200A;
    }
}

struct buf {
    char *p;
    size_t n, cap;
};

static int buf_put(struct cf_ctx *ctx, struct buf *b, uint32_t r)
{
    if (b->n + 5 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        char *np = cf_grow(ctx, b->p, b->n, cap);
        if (np == NULL) {
            return -1;
        }
        b->p = np;
        b->cap = cap;
    }
    if (r < 0x80) {
        b->p[b->n++] = (char)r;
    } else if (r < 0x800) {
        b->p[b->n++] = (char)(0xC0 | r >> 6);
        b->p[b->n++] = (char)(0x80 | (r & 0x3F));
    } else if (r < 0x10000) {
        b->p[b->n++] = (char)(0xE0 | r >> 12);
        b->p[b->n++] = (char)(0x80 | ((r >> 6) & 0x3F));
        b->p[b->n++] = (char)(0x80 | (r & 0x3F));
    } else {
        b->p[b->n++] = (char)(0xF0 | r >> 18);
        b->p[b->n++] = (char)(0x80 | ((r >> 12) & 0x3F));
        b->p[b->n++] = (char)(0x80 | ((r >> 6) & 0x3F));
        b->p[b->n++] = (char)(0x80 | (r & 0x3F));
    }
    return 0;
}

struct lexer {
    struct cf_ctx *ctx;
    const unsigned char *s;
    size_t n, pos;
    int line, skipped;
    const char *file;
};

/* lexer.next: 1 = token made, 0 = end of input, -1 = error. */
static int lex_next(struct lexer *l, struct cf_token *t)
{
    struct buf val = {0};
    int comment = 0, quoted = 0, btquoted = 0, escaped = 0;
    int tok_line = l->line;
    for (;;) {
        if (l->pos >= l->n) {
            if (val.n > 0) {
                break;
            }
            return 0;
        }
        size_t w;
        uint32_t ch = decode_rune(l->s + l->pos, l->n - l->pos, &w);
        l->pos += w;
        if (ch == 0) {
            return cf_fail_at(l->ctx, l->file, l->line,
                              "NUL byte in Caddyfile is not supported by mtls-proxy");
        }
        if (!escaped && !btquoted && ch == '\\') {
            escaped = 1;
            continue;
        }
        if (quoted || btquoted) {
            if (quoted && escaped) {
                if (ch != '"' && buf_put(l->ctx, &val, '\\') != 0) {
                    return -1;
                }
                escaped = 0;
            } else if ((quoted && ch == '"') || (btquoted && ch == '`')) {
                t->quoted = (char)ch;
                goto make;
            }
            if (ch == '\n') {
                l->line += 1 + l->skipped;
                l->skipped = 0;
            }
            if (buf_put(l->ctx, &val, ch) != 0) {
                return -1;
            }
            continue;
        }
        if (is_space(ch)) {
            if (ch == '\r') {
                continue;
            }
            if (ch == '\n') {
                if (escaped) {
                    l->skipped++;
                    escaped = 0;
                } else {
                    l->line += 1 + l->skipped;
                    l->skipped = 0;
                }
                comment = 0;
            }
            if (val.n > 0) {
                break;
            }
            continue;
        }
        if (ch == '#' && val.n == 0) {
            comment = 1;
        }
        if (comment) {
            continue;
        }
        if (val.n == 0) {
            tok_line = l->line;
            if (ch == '"') {
                quoted = 1;
                continue;
            }
            if (ch == '`') {
                btquoted = 1;
                continue;
            }
        }
        if (escaped) {
            if (buf_put(l->ctx, &val, '\\') != 0) {
                return -1;
            }
            escaped = 0;
        }
        if (buf_put(l->ctx, &val, ch) != 0) {
            return -1;
        }
    }
    t->quoted = 0;
make:
    t->text = cf_strndup(l->ctx, val.p ? val.p : "", val.n);
    if (t->text == NULL) {
        return -1;
    }
    t->line = tok_line;
    t->file = l->file;
    return 1;
}

int cf_lex(struct cf_ctx *ctx, const char *input, size_t len, const char *file,
           const struct cf_frame *frame, struct cf_token **out, size_t *out_n)
{
    char *text = NULL;
    size_t n = 0;
    if (replace_env(ctx, input, len, &text, &n) != 0) {
        return -1;
    }
    if (n == 0) {
        /* Caddy's lexer fails to load an empty input ("EOF") */
        return cf_fail_at(ctx, file, 1, "empty Caddyfile (EOF)");
    }
    struct lexer l = {ctx, (const unsigned char *)text, n, 0, 1, 0, file};
    size_t w;
    if (decode_rune(l.s, l.n, &w) == 0xFEFF) {
        l.pos = w; /* byte order mark */
    }
    struct cf_token *v = NULL;
    size_t cnt = 0, cap = 0;
    for (;;) {
        struct cf_token t = {0};
        int rc = lex_next(&l, &t);
        if (rc < 0) {
            return -1;
        }
        if (rc == 0) {
            break;
        }
        if (++ctx->tokens_made > CF_TOKEN_BUDGET) {
            return cf_fail_at(ctx, file, t.line, "too many tokens (more than %zu)",
                              (size_t)CF_TOKEN_BUDGET);
        }
        t.frame = frame;
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            struct cf_token *nv = cf_grow(ctx, v, cnt * sizeof(*v), ncap * sizeof(*v));
            if (nv == NULL) {
                return -1;
            }
            v = nv;
            cap = ncap;
        }
        v[cnt++] = t;
    }
    *out = v;
    *out_n = cnt;
    return 0;
}
