/*
 * core/result.h - internal error plumbing.
 *
 * Internal fallible functions return `mtls_result` (a one-member struct, so it cannot be
 * confused with an int or silently dropped) and take `mtls_error *err` as their last
 * parameter. The guard macros below record the code, the message and the source location
 * into the `err` in scope and return; the first error recorded wins.
 */
#ifndef MTLS_CORE_RESULT_H
#define MTLS_CORE_RESULT_H

#include <mtls/mtls.h>

typedef struct mtls_result {
    int code;
} mtls_result;

#define MTLS_MUST_CHECK __attribute__((warn_unused_result))
#define MTLS_RESULT MTLS_MUST_CHECK mtls_result
#define MTLS_RESULT_OK ((mtls_result){0})
#define MTLS_IS_OK(r) ((r).code == 0)

/* mtlsp_error_clear resets `err` (may be NULL) at the start of a public call. */
void mtlsp_error_clear(mtls_error *err);

/* mtlsp_error_set records `code` with a printf-style message (NULL fmt: the default
 * message) unless `err` already holds an error. Never allocates. Returns `code`. */
int mtlsp_error_set(mtls_error *err, int code, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* mtlsp_error_set_pos records a JSON position on the error just set. */
void mtlsp_error_set_pos(mtls_error *err, int line, int column);

/* mtlsp_error_prefix puts "`prefix`: " in front of err->message (truncating its end). */
void mtlsp_error_prefix(mtls_error *err, const char *prefix);

/* mtlsp_error_append_tls appends the drained BoringSSL error queue to err->message. */
void mtlsp_error_append_tls(mtls_error *err);

/* mtlsp_error_name returns "CERT_EXPIRED" for MTLS_ERR_CERT_EXPIRED (static). */
const char *mtlsp_error_name(int code);

/* mtlsp_status converts an internal result to the public status. */
static inline mtls_status mtlsp_status(mtls_result r)
{
    return (mtls_status)r.code;
}

#define BAIL_MSG(code, ...)                                                                    \
    do {                                                                                       \
        return (mtls_result){mtlsp_error_set(err, (code), __FILE__, __LINE__, __VA_ARGS__)};   \
    } while (0)
#define BAIL(code) BAIL_MSG((code), NULL)
#define ENSURE(cond, code)                                                                     \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            BAIL(code);                                                                        \
        }                                                                                      \
    } while (0)
#define ENSURE_MSG(cond, code, ...)                                                            \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            BAIL_MSG((code), __VA_ARGS__);                                                     \
        }                                                                                      \
    } while (0)
#define ENSURE_REF(p) ENSURE((p) != NULL, MTLS_ERR_INVALID_ARGUMENT)
#define ENSURE_MEM(p) ENSURE((p) != NULL, MTLS_ERR_NOMEM)
#define GUARD(call)                                                                            \
    do {                                                                                       \
        mtls_result guard_r_ = (call);                                                         \
        if (!MTLS_IS_OK(guard_r_)) {                                                           \
            return guard_r_;                                                                   \
        }                                                                                      \
    } while (0)
/* GUARD_OUT: propagate into `rc` and jump to the function's single `out:` label. */
#define GUARD_OUT(call)                                                                        \
    do {                                                                                       \
        rc = (call);                                                                           \
        if (!MTLS_IS_OK(rc)) {                                                                 \
            goto out;                                                                          \
        }                                                                                      \
    } while (0)
/* SET_OUT: record an error into `rc` and jump to `out:`. */
#define SET_OUT(code, ...)                                                                     \
    do {                                                                                       \
        rc = (mtls_result){mtlsp_error_set(err, (code), __FILE__, __LINE__, __VA_ARGS__)};     \
        goto out;                                                                              \
    } while (0)

/* DEFER(var, fn): call fn(var) when var goes out of scope. */
#define DEFER(fn) __attribute__((cleanup(fn)))

#endif
