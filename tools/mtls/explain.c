/*
 * tools/mtls/explain.c - a refusal in words: the check that failed, the certificate at
 * fault and a hint that says what to change. Reads the verdict (reason code, fault depth)
 * from libmtls and the certificate's flags from certinfo; decides nothing itself.
 */
#include <string.h>

#include "tool.h"

#define HINT(...) snprintf(out->hint, sizeof(out->hint), __VA_ARGS__)

/* The trust anchor whose subject is `name` (describe JSON), or NULL. */
static json_t *anchor_named(json_t *anchors, const char *name)
{
    size_t i;
    json_t *a;
    json_array_foreach(anchors, i, a) {
        const char *s = json_string_value(json_object_get(a, "subject"));
        if (s != NULL && strcmp(s, name) == 0) {
            return a;
        }
    }
    return NULL;
}

static const char *jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : "";
}

/* The presented certificate at the top of what the client sent (the one whose issuer
 * verification looks for next): the last one. */
static const struct certinfo *top(const struct verify_facts *f)
{
    return &f->info[f->presented->num - 1];
}

/* For faults outside the presented chain: the anchor that issued the top certificate. */
static void fault_anchor(struct explanation *out, const struct verify_facts *f, json_t **out_a)
{
    *out_a = anchor_named(f->anchors, top(f)->issuer);
    if (*out_a != NULL) {
        out->fault_subject = jstr(*out_a, "subject");
        out->fault_sha256 = jstr(*out_a, "sha256");
    }
}

static void anchor_list(char *buf, size_t cap, json_t *anchors)
{
    size_t i, k = 0;
    json_t *a;
    buf[0] = '\0';
    json_array_foreach(anchors, i, a) {
        int w = i < 3 ? snprintf(buf + k, cap - k, "%s\"%s\"", i ? ", " : "", jstr(a, "subject"))
                      : snprintf(buf + k, cap - k, ", and %zu more", json_array_size(anchors) - 3);
        if (w < 0 || (size_t)w >= cap - k || i >= 3) {
            break;
        }
        k += (size_t)w;
    }
}

static void explain_validity(struct explanation *out, const struct verify_facts *f, int expired)
{
    char at[32], when[32];
    tool_format_time(f->at, at);
    out->check = expired ? "validity period (not after)" : "validity period (not before)";
    const struct certinfo *ci = out->fault_index >= 0 ? &f->info[out->fault_index] : NULL;
    if (ci != NULL) {
        HINT("%s \"%s\" %s %s (verification time %s)%s",
             out->fault_index ? "CA certificate" : "certificate", ci->subject,
             expired ? "expired on" : "is valid only from",
             expired ? ci->not_after : ci->not_before, at,
             expired ? "; renew it, or use --at to check an earlier time" : "");
        return;
    }
    json_t *a;
    fault_anchor(out, f, &a);
    snprintf(when, sizeof(when), "%s",
             a != NULL ? jstr(a, expired ? "not_after" : "not_before") : "?");
    HINT("the trust anchor \"%s\" %s %s (verification time %s)", a ? jstr(a, "subject") : "?",
         expired ? "expired on" : "is valid only from", when, at);
}

static void explain_unknown_issuer(struct explanation *out, const struct verify_facts *f)
{
    char list[512];
    out->check = "path to a trusted CA";
    const struct certinfo *ci = out->fault_index >= 0 ? &f->info[out->fault_index] : top(f);
    if (json_array_size(f->anchors) == 0) {
        HINT("the policy trusts no CA");
        return;
    }
    anchor_list(list, sizeof(list), f->anchors);
    if (ci->self_signed) {
        HINT("\"%s\" is self-signed and is not one of the trust anchors (%s)", ci->subject, list);
    } else if (anchor_named(f->anchors, ci->issuer) != NULL) {
        HINT("an anchor is named \"%s\" like the issuer of \"%s\" but its key did not sign it "
             "(a different CA with the same name?)", ci->issuer, ci->subject);
    } else {
        HINT("no path to a trusted CA: issuer \"%s\" of \"%s\" is not among the anchors (%s); "
             "if it is an intermediate CA, send it after the leaf (or pass --untrusted)",
             ci->issuer, ci->subject, list);
    }
}

static void explain_issuer(struct explanation *out, const struct verify_facts *f)
{
    out->check = "issuer may sign certificates (basicConstraints CA:TRUE, keyUsage keyCertSign)";
    if (out->fault_index < 0) {
        json_t *a;
        fault_anchor(out, f, &a);
        HINT("the trust anchor \"%s\" may not sign certificates: it lacks CA:TRUE or keyCertSign, "
             "and Go checks that even for anchors (only X.509 v1 anchors are exempt)",
             a != NULL ? jstr(a, "subject") : top(f)->issuer);
        return;
    }
    const struct certinfo *ci = &f->info[out->fault_index];
    if (ci->x509_ok && ci->version == 1) {
        HINT("CA certificate \"%s\" is X.509 v1: Go accepts a v1 CA only as a trust anchor, "
             "not as an intermediate; re-issue it as v3 with basicConstraints CA:TRUE",
             ci->subject);
    } else if (ci->x509_ok && !ci->has_bc) {
        HINT("CA certificate \"%s\" has no basicConstraints extension: an issuer needs CA:TRUE",
             ci->subject);
    } else if (ci->x509_ok && !ci->is_ca) {
        HINT("CA certificate \"%s\" lacks CA:TRUE (basicConstraints CA:FALSE): it may not issue "
             "certificates", ci->subject);
    } else if (ci->x509_ok && ci->has_ku && !ci->ku_cert_sign) {
        HINT("CA certificate \"%s\" has a keyUsage without keyCertSign", ci->subject);
    } else {
        HINT("\"%s\" may not act as a CA", ci->subject);
    }
}

static void explain_eku(struct explanation *out, const struct verify_facts *f)
{
    const char *want = f->purpose_server ? "serverAuth" : "clientAuth";
    out->check = f->purpose_server ? "extended key usage (serverAuth)"
                                   : "extended key usage (clientAuth)";
    int i = out->fault_index >= 0 ? out->fault_index : 0;
    const struct certinfo *ci = &f->info[i];
    if (i == 0 && !f->purpose_server && ci->eku_server && !ci->eku_client) {
        HINT("leaf allows only serverAuth (extendedKeyUsage: %s): a client certificate needs "
             "clientAuth, or no extendedKeyUsage at all", ci->eku_names);
    } else if (i == 0 && f->purpose_server && ci->eku_client && !ci->eku_server) {
        HINT("leaf allows only clientAuth (extendedKeyUsage: %s): a server certificate needs "
             "serverAuth, or no extendedKeyUsage at all", ci->eku_names);
    } else if (i == 0) {
        HINT("the leaf's extendedKeyUsage (%s) does not include %s", ci->eku_names, want);
    } else {
        HINT("CA certificate \"%s\" restricts extendedKeyUsage to (%s), which excludes %s: Go "
             "applies it to every certificate below", ci->subject, ci->eku_names, want);
    }
}

/* Reasons whose hint only needs the certificate at fault. */
static void explain_simple(struct explanation *out, const struct verify_facts *f, int reason)
{
    const struct certinfo *ci = out->fault_index >= 0 ? &f->info[out->fault_index] : &f->info[0];
    switch (reason) {
    case MTLS_ERR_BAD_SIGNATURE:
        out->check = "signature";
        HINT("the signature on \"%s\" does not verify with the key of its issuer \"%s\": that CA "
             "certificate is not the one that signed it, or the certificate was altered",
             ci->subject, ci->issuer);
        break;
    case MTLS_ERR_NAME_CONSTRAINTS:
        out->check = "name constraints";
        HINT("a CA in the chain limits the names it may certify (nameConstraints), and the names "
             "of \"%s\" are outside them", ci->subject);
        break;
    case MTLS_ERR_PATH_LENGTH:
        out->check = "path length (basicConstraints pathlen)";
        HINT("a CA's pathlen allows fewer intermediates below it than this chain has");
        break;
    case MTLS_ERR_CHAIN_TOO_LONG:
        out->check = "chain length";
        HINT("the chain is longer than allowed (%zu certificates sent; see --max-depth)",
             f->presented->num);
        break;
    case MTLS_ERR_INSECURE_ALGORITHM:
        out->check = "signature algorithm";
        HINT("\"%s\" is signed with SHA-1 or MD5, which Go refuses: re-issue it with SHA-256",
             ci->subject);
        break;
    case MTLS_ERR_UNHANDLED_CRITICAL:
        out->check = "critical extensions";
        HINT("\"%s\" has a critical extension that Go and libmtls do not process", ci->subject);
        break;
    case MTLS_ERR_LEAF_NOT_PINNED:
        out->check = "leaf pinning (trusted_leaf_certs / leaf verifier)";
        HINT("the leaf (sha256 %s) is not in the policy's pinned leaf list(s)", f->info[0].sha256);
        break;
    case MTLS_ERR_CERT_PARSE:
        out->check = "certificate parsing";
        HINT("certificate [%d] is not one Go accepts (malformed, or a key type other than RSA, "
             "ECDSA and Ed25519)", out->fault_index >= 0 ? out->fault_index : 0);
        break;
    case MTLS_ERR_REVOKED:
        out->check = "revocation";
        HINT("\"%s\" has been revoked", ci->subject);
        break;
    default:
        out->check = "chain verification";
        HINT("%s", mtls_peer_message(f->peer));
        break;
    }
}

void explain(struct explanation *out, const struct verify_facts *f)
{
    int reason = mtls_peer_reason(f->peer);
    memset(out, 0, sizeof(*out));
    out->fault_index = mtls_peer_error_depth(f->peer);
    if (out->fault_index >= 0 && (size_t)out->fault_index < f->presented->num) {
        out->fault_subject = f->info[out->fault_index].subject;
        out->fault_sha256 = f->info[out->fault_index].sha256;
    } else {
        out->fault_index = -1;
    }
    switch (reason) {
    case MTLS_OK:
        return;
    case MTLS_ERR_CERT_EXPIRED:
    case MTLS_ERR_CERT_NOT_YET_VALID:
        explain_validity(out, f, reason == MTLS_ERR_CERT_EXPIRED);
        return;
    case MTLS_ERR_UNKNOWN_ISSUER:
        explain_unknown_issuer(out, f);
        return;
    case MTLS_ERR_ISSUER_NOT_CA:
        explain_issuer(out, f);
        return;
    case MTLS_ERR_WRONG_EKU:
        explain_eku(out, f);
        return;
    case MTLS_ERR_NO_CERTIFICATE:
        out->check = "client certificate presence";
        HINT("no certificate was presented");
        return;
    default:
        explain_simple(out, f, reason);
        return;
    }
}
