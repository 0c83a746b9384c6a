/*
 * policy/load_servers.c - finding a server's tls_connection_policies in a whole Caddy
 * config ({"apps":{"http":{"servers":{NAME:{...}}}}}). Only the path down to the policies
 * is type-checked; every other key of the config is tolerated.
 */
#include <stdio.h>
#include <string.h>

#include "load_internal.h"

/* step: `*out` = object field `name` of `obj` (NULL when absent), which must be an object.
 * `exact`: a Caddy module-map key (case-sensitive) rather than a struct field. */
static MTLS_RESULT step(json_t **out, json_t *obj, const char *name, int exact,
                        struct jpath *p, mtls_error *err)
{
    *out = NULL;
    if (obj == NULL) {
        return MTLS_RESULT_OK;
    }
    if (exact) {
        *out = json_object_get(obj, name);
        *out = json_is_null(*out) ? NULL : *out;
    } else {
        GUARD(mtlsp_policy_get_field(out, obj, name, p, err));
    }
    mtlsp_jpath_push_key(p, name);
    if (*out != NULL) {
        GUARD(mtlsp_policy_expect(*out, JSON_OBJECT, "an object", p, err));
    }
    return MTLS_RESULT_OK;
}

/* server_names renders the names of `servers` (those with policies if `only_tls`). */
static void server_names(char *out, size_t cap, json_t *servers, int only_tls)
{
    const char *key;
    json_t *v;
    size_t used = 0;
    out[0] = '\0';
    json_object_foreach(servers, key, v)
    {
        json_t *pol = json_is_object(v) ? json_object_get(v, "tls_connection_policies") : NULL;
        if (only_tls && (pol == NULL || json_is_null(pol))) {
            continue;
        }
        int n = snprintf(out + used, cap - used, "%s%s", used ? ", " : "", key);
        if (n < 0 || (size_t)n >= cap - used) {
            return;
        }
        used += (size_t)n;
    }
}

static MTLS_RESULT server_policies(json_t **out, json_t *srv, const char *name,
                                   struct jpath *p, mtls_error *err)
{
    mtlsp_jpath_push_key(p, name);
    GUARD(mtlsp_policy_expect(srv, JSON_OBJECT, "an object", p, err));
    GUARD(mtlsp_policy_get_field(out, srv, "tls_connection_policies", p, err));
    mtlsp_jpath_push_key(p, "tls_connection_policies");
    return MTLS_RESULT_OK;
}

static MTLS_RESULT pick_named(json_t **out, json_t *servers, const char *server,
                              struct jpath *p, mtls_error *err)
{
    json_t *srv = servers ? json_object_get(servers, server) : NULL;
    if (srv == NULL) {
        char names[160] = "";
        if (servers != NULL) {
            server_names(names, sizeof(names), servers, 0);
        }
        BAIL_MSG(MTLS_ERR_UNKNOWN_SERVER, "no server \"%s\" in apps.http.servers (servers: %s)",
                 server, names[0] ? names : "none");
    }
    return server_policies(out, srv, server, p, err);
}

static MTLS_RESULT pick_only(json_t **out, json_t *servers, struct jpath *p, mtls_error *err)
{
    const char *key, *found = NULL;
    json_t *v, *srv = NULL;
    size_t count = 0;
    json_object_foreach(servers, key, v)
    {
        json_t *pol = NULL;
        struct jpath q = *p;
        mtlsp_jpath_push_key(&q, key);
        GUARD(mtlsp_policy_expect(v, JSON_OBJECT, "an object", &q, err));
        GUARD(mtlsp_policy_get_field(&pol, v, "tls_connection_policies", &q, err));
        if (pol != NULL) {
            count++;
            found = key;
            srv = v;
        }
    }
    if (count > 1) {
        char names[180];
        server_names(names, sizeof(names), servers, 1);
        BAIL_MSG(MTLS_ERR_AMBIGUOUS_SERVER,
                 "several servers have tls_connection_policies (%s); name one", names);
    }
    return count == 1 ? server_policies(out, srv, found, p, err) : MTLS_RESULT_OK;
}

MTLS_RESULT mtlsp_policy_load_servers(json_t **out_policies, struct jpath *p, json_t *root,
                                      const char *server, mtls_error *err)
{
    json_t *apps, *http, *servers;
    *out_policies = NULL;
    mtlsp_jpath_init(p, "");
    GUARD(step(&apps, root, "apps", 0, p, err));
    GUARD(step(&http, apps, "http", 1, p, err));
    GUARD(step(&servers, http, "servers", 0, p, err));
    if (server != NULL) {
        return pick_named(out_policies, servers, server, p, err);
    }
    return servers != NULL ? pick_only(out_policies, servers, p, err) : MTLS_RESULT_OK;
}
