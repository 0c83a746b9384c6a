/*
 * tools/mtls/verify_out.c - `mtls verify` output: for people (verdict, chain, the failing
 * certificate, the check and a hint; certificate strings escaped like mtls-proxy does) and
 * as JSON (the same facts plus every identity placeholder, raw).
 */
#include <string.h>

#include "verify.h"

static void print_cert(const char *index, const struct certinfo *ci, const char *note)
{
    printf("  %s ", index);
    tool_fputs_escaped(stdout, ci->subject);
    printf("%s\n      sha256 %s\n      issuer ", note, ci->sha256);
    tool_fputs_escaped(stdout, ci->issuer);
    printf("\n      valid %s .. %s\n", ci->not_before, ci->not_after);
}

static void print_chain(const struct verify_run *r)
{
    char idx[32];
    if (r->num_chain > 0) {
        printf("chain built (leaf to trust anchor):\n");
        for (size_t i = 0; i < r->num_chain; i++) {
            snprintf(idx, sizeof(idx), "[%zu]", i);
            print_cert(idx, &r->chain[i], i + 1 == r->num_chain ? "  (trust anchor)" : "");
        }
        return;
    }
    printf("chain presented (leaf first)%s:\n",
           mtls_peer_accepted(r->peer) ? "" : "; no path to a trust anchor was accepted");
    for (size_t i = 0; i < r->certs.num; i++) {
        snprintf(idx, sizeof(idx), "[%zu]", i);
        print_cert(idx, &r->info[i], "");
    }
}

static const char *verdict_words(mtls_peer *p)
{
    if (!mtls_peer_accepted(p)) {
        return "refused";
    }
    if (mtls_peer_verified(p)) {
        return "accepted (verified)";
    }
    return mtls_peer_mode(p) == MTLS_MODE_OFF ? "accepted (client authentication is off)"
                                              : "accepted (not verified: the mode does not verify)";
}

void verify_print_human(struct verify_run *r)
{
    char at[32];
    int reason = mtls_peer_reason(r->peer);
    tool_format_time(r->at, at);
    printf("verdict: %s\n", verdict_words(r->peer));
    if (reason != MTLS_OK) {
        printf("reason:  %s: %s\n", tool_error_name(reason), mtls_strerror(reason));
    }
    printf("message: ");
    tool_fputs_escaped(stdout, mtls_peer_message(r->peer));
    printf("\npolicy:  #%zu of %zu, mode %s\ntime:    %s\n", r->index,
           mtls_ctx_num_policies(r->ctx), tool_mode_name(mtls_peer_mode(r->peer)), at);
    print_chain(r);
    if (reason == MTLS_OK) {
        return;
    }
    const struct explanation *w = &r->why;
    if (w->fault_subject != NULL) {
        printf("failing certificate: ");
        if (w->fault_index >= 0) {
            printf("[%d] ", w->fault_index);
        } else {
            printf("(trust anchor) ");
        }
        tool_fputs_escaped(stdout, w->fault_subject);
        printf(" (sha256 %s)\n", w->fault_sha256);
    }
    printf("check failed: %s\nhint: ", w->check != NULL ? w->check : "?");
    tool_fputs_escaped(stdout, w->hint);
    fputc('\n', stdout);
}

static json_t *chain_json(const struct certinfo *list, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, certinfo_json(&list[i]));
    }
    return arr;
}

static json_t *placeholders_json(mtls_peer *peer)
{
    json_t *obj = json_object();
    for (size_t i = 0; i < mtls_placeholder_count(); i++) {
        const char *name = mtls_placeholder_name(i);
        const char *v = NULL;
        size_t n = 0;
        if (name != NULL && mtls_peer_get(peer, name, &v, &n, NULL) == MTLS_OK) {
            json_object_set_new(obj, name, tool_json_text(v, n));
        }
    }
    return obj;
}

static json_t *failure_json(const struct verify_run *r)
{
    const struct explanation *w = &r->why;
    if (mtls_peer_reason(r->peer) == MTLS_OK) {
        return json_null();
    }
    json_t *f = json_object();
    json_object_set_new(f, "index", json_integer(w->fault_index));
    json_object_set_new(f, "subject", w->fault_subject != NULL
                                          ? tool_json_text(w->fault_subject,
                                                           strlen(w->fault_subject))
                                          : json_null());
    json_object_set_new(f, "sha256",
                        w->fault_sha256 != NULL ? json_string(w->fault_sha256) : json_null());
    json_object_set_new(f, "check", json_string(w->check != NULL ? w->check : ""));
    json_object_set_new(f, "hint", tool_json_text(w->hint, strlen(w->hint)));
    return f;
}

void verify_print_json(struct verify_run *r)
{
    char at[32];
    int reason = mtls_peer_reason(r->peer);
    const char *msg = mtls_peer_message(r->peer);
    tool_format_time(r->at, at);
    json_t *o = json_object();
    json_object_set_new(o, "verdict", json_string(mtls_peer_accepted(r->peer) ? "accepted"
                                                                               : "refused"));
    json_object_set_new(o, "accepted", json_boolean(mtls_peer_accepted(r->peer)));
    json_object_set_new(o, "verified", json_boolean(mtls_peer_verified(r->peer)));
    json_object_set_new(o, "reason", json_string(tool_error_name(reason)));
    json_object_set_new(o, "reason_code", json_integer(reason));
    json_object_set_new(o, "message", tool_json_text(msg, strlen(msg)));
    json_object_set_new(o, "policy_index", json_integer((json_int_t)r->index));
    json_object_set_new(o, "mode", json_string(tool_mode_name(mtls_peer_mode(r->peer))));
    json_object_set_new(o, "time", json_string(at));
    json_object_set_new(o, "chain", chain_json(r->chain, r->num_chain));
    json_object_set_new(o, "presented", chain_json(r->info, r->certs.num));
    json_object_set_new(o, "failure", failure_json(r));
    json_object_set_new(o, "placeholders", placeholders_json(r->peer));
    tool_print_json(o);
}
