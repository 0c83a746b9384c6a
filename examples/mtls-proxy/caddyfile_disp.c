/*
 * caddyfile_disp.c - the token dispenser the directive parsers use (Caddy 2.6.2
 * caddyfile/dispenser.go): Next, NextArg, NextBlock with its nesting quirks, RemainingArgs,
 * NextSegment, and errors located at the current token.
 */
#include "caddyfile_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void cf_disp_init(struct cf_disp *d, struct cf_ctx *ctx, const struct cf_token *tok, size_t n)
{
    d->ctx = ctx;
    d->tok = tok;
    d->n = n;
    d->cursor = -1;
    d->nesting = 0;
}

int cf_disp_next(struct cf_disp *d)
{
    if (d->cursor < (long)d->n - 1) {
        d->cursor++;
        return 1;
    }
    return 0;
}

int cf_disp_prev(struct cf_disp *d)
{
    if (d->cursor > -1) {
        d->cursor--;
        return d->cursor > -1;
    }
    return 0;
}

static int d_next_on_same_line(struct cf_disp *d)
{
    if (d->cursor < 0) {
        d->cursor++;
        return 1;
    }
    if (d->cursor >= (long)d->n) {
        return 0;
    }
    if (d->cursor < (long)d->n - 1 && cf_same_line(&d->tok[d->cursor], &d->tok[d->cursor + 1])) {
        d->cursor++;
        return 1;
    }
    return 0;
}

int cf_disp_next_arg(struct cf_disp *d)
{
    if (!d_next_on_same_line(d)) {
        return 0;
    }
    if (strcmp(cf_disp_val(d), "{") == 0) {
        d->cursor--;
        return 0;
    }
    return 1;
}

int cf_disp_next_block(struct cf_disp *d, int initial)
{
    if (d->nesting > initial) {
        if (!cf_disp_next(d)) {
            return 0;
        }
        if (strcmp(cf_disp_val(d), "}") == 0 && !d_next_on_same_line(d)) {
            d->nesting--;
        } else if (strcmp(cf_disp_val(d), "{") == 0 && !d_next_on_same_line(d)) {
            d->nesting++;
        }
        return d->nesting > initial;
    }
    if (!d_next_on_same_line(d)) {
        return 0;
    }
    if (strcmp(cf_disp_val(d), "{") != 0) {
        d->cursor--;
        return 0;
    }
    cf_disp_next(d);
    if (strcmp(cf_disp_val(d), "}") == 0) {
        return 0;
    }
    d->nesting++;
    return 1;
}

const struct cf_token *cf_disp_token(const struct cf_disp *d)
{
    if (d->cursor < 0 || d->cursor >= (long)d->n) {
        return NULL;
    }
    return &d->tok[d->cursor];
}

const char *cf_disp_val(const struct cf_disp *d)
{
    const struct cf_token *t = cf_disp_token(d);
    return t ? t->text : "";
}

int cf_disp_remaining_args(struct cf_disp *d, struct cf_strv *out)
{
    memset(out, 0, sizeof(*out));
    while (cf_disp_next_arg(d)) {
        if (cf_strv_push(d->ctx, out, cf_disp_val(d)) != 0) {
            return -1;
        }
    }
    return 0;
}

int cf_disp_count_remaining_args(struct cf_disp *d)
{
    int count = 0;
    while (cf_disp_next_arg(d)) {
        count++;
    }
    for (int i = 0; i < count; i++) {
        cf_disp_prev(d);
    }
    return count;
}

/* NextSegment + NewDispenser: the current token, its arguments and its block. */
int cf_disp_next_segment(struct cf_disp *d, struct cf_disp *sub)
{
    long start = d->cursor;
    while (cf_disp_next_arg(d)) {
    }
    long end = d->cursor; /* the last argument */
    int opened = 0;
    for (int nesting = d->nesting; cf_disp_next_block(d, nesting);) {
        opened = 1;
    }
    if (opened) {
        end = d->cursor; /* the closing brace */
    }
    if (start < 0) {
        start = 0;
    }
    size_t n = end >= start ? (size_t)(end - start + 1) : 0;
    if (start + (long)n > (long)d->n) {
        n = d->n - (size_t)start;
    }
    cf_disp_init(sub, d->ctx, d->tok + start, n);
    return 0;
}

static const struct cf_token *d_where(const struct cf_disp *d)
{
    const struct cf_token *t = cf_disp_token(d);
    if (t == NULL && d->n > 0) {
        t = &d->tok[d->cursor < 0 ? 0 : d->n - 1];
    }
    return t;
}

int cf_disp_err(struct cf_disp *d, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return cf_fail(d->ctx, d_where(d), "%s", msg);
}

int cf_disp_arg_err(struct cf_disp *d)
{
    if (strcmp(cf_disp_val(d), "{") == 0) {
        return cf_disp_err(d, "unexpected token '{', expecting argument");
    }
    return cf_disp_err(d, "wrong argument count or unexpected line ending after '%s'",
                       cf_disp_val(d));
}
