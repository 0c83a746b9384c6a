/*
 * test_policy_match.c - connection-policy selection (Caddy's first-match rule, SNI
 * wildcards as certmagic.MatchWildcard, remote_ip/local_ip ranges, the >30-policy SNI
 * index) and IP parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/mem.h"
#include "policy/policy.h"

static struct policy_set *load(const char *json)
{
    struct policy_set *set = NULL;
    mtls_error e;
    mtlsp_error_clear(&e);
    if (!MTLS_IS_OK(mtlsp_policy_load(&set, json, strlen(json), NULL, &e))) {
        fail_msg("load: %s", e.message);
    }
    return set;
}

/* pick returns the selected index, or -1 for MTLS_ERR_NO_MATCHING_POLICY. */
static long pick(const struct policy_set *set, const char *sni, const char *remote,
                 const char *local)
{
    size_t idx = 99;
    mtls_error e;
    mtlsp_error_clear(&e);
    mtls_result r = mtlsp_policy_select(set, sni, remote, local, &idx, &e);
    if (r.code == MTLS_ERR_NO_MATCHING_POLICY) {
        assert_int_equal(e.code, MTLS_ERR_NO_MATCHING_POLICY);
        return -1;
    }
    assert_true(MTLS_IS_OK(r));
    return (long)idx;
}

static void test_parse_ip(void **state)
{
    int fam = 0;
    uint8_t a[16];
    static const uint8_t v4[4] = {10, 0, 0, 1};
    assert_true(mtlsp_parse_ip("10.0.0.1", &fam, a));
    assert_int_equal(fam, 4);
    assert_memory_equal(a, v4, 4);
    assert_true(mtlsp_parse_ip("::ffff:10.0.0.1", &fam, a));
    assert_int_equal(fam, 4);
    assert_memory_equal(a, v4, 4);
    assert_true(mtlsp_parse_ip("2001:db8::1", &fam, a));
    assert_int_equal(fam, 6);
    assert_int_equal(a[0], 0x20);
    assert_int_equal(a[15], 1);
    assert_false(mtlsp_parse_ip("1.2.3", &fam, a));
    assert_false(mtlsp_parse_ip("01.2.3.4", &fam, a));
    assert_false(mtlsp_parse_ip("1.2.3.4:443", &fam, a));
    assert_false(mtlsp_parse_ip("fe80::1%eth0", &fam, a));
    assert_false(mtlsp_parse_ip("", &fam, a));
    assert_false(mtlsp_parse_ip(NULL, &fam, a));
}

static void test_sni_wildcard_semantics(void **state)
{
    struct policy_set *s = load("[{\"match\":{\"sni\":[\"*.Example.com\"]}}]");
    assert_int_equal(pick(s, "a.example.com", NULL, NULL), 0);
    assert_int_equal(pick(s, "A.EXAMPLE.COM", NULL, NULL), 0);
    assert_int_equal(pick(s, "example.com", NULL, NULL), -1);
    assert_int_equal(pick(s, "a.b.example.com", NULL, NULL), -1);
    assert_int_equal(pick(s, ".example.com", NULL, NULL), -1);
    assert_int_equal(pick(s, NULL, NULL, NULL), -1);
    mtlsp_policy_set_free(s);
    /* MatchWildcard replaces any one label, not only the leftmost */
    s = load("[{\"match\":{\"sni\":[\"foo.*.com\",\"*\"]}}]");
    assert_int_equal(pick(s, "foo.bar.com", NULL, NULL), 0);
    assert_int_equal(pick(s, "localhost", NULL, NULL), 0);
    assert_int_equal(pick(s, "foo.bar.org", NULL, NULL), -1);
    assert_int_equal(pick(s, "a.b", NULL, NULL), -1);
    mtlsp_policy_set_free(s);
}

static void test_first_match_wins(void **state)
{
    struct policy_set *s = load("[{\"match\":{\"sni\":[\"*.example.com\"]}},"
                                "{\"match\":{\"sni\":[\"a.example.com\"]}},{}]");
    /* an exact name beats an earlier wildcard (DESIGN.md §6; Caddy 2.6.2 would pick 0) */
    assert_int_equal(pick(s, "a.example.com", NULL, NULL), 1);
    assert_int_equal(pick(s, "b.example.com", NULL, NULL), 0);
    assert_int_equal(pick(s, "other.org", NULL, NULL), 2);
    mtlsp_policy_set_free(s);
}

static void test_no_sni(void **state)
{
    struct policy_set *s = load("[{\"match\":{\"sni\":[\"a.example\"]}},{}]");
    assert_int_equal(pick(s, NULL, NULL, NULL), 1);
    assert_int_equal(pick(s, "", NULL, NULL), 1);
    mtlsp_policy_set_free(s);
    s = load("[{\"match\":{\"sni\":[\"a.example\",\"\"]}}]"); /* "" lists the empty SNI */
    assert_int_equal(pick(s, NULL, NULL, NULL), 0);
    mtlsp_policy_set_free(s);
    s = load("[{\"match\":{\"sni\":[]}},{}]"); /* an empty list matches nothing */
    assert_int_equal(pick(s, "a.example", NULL, NULL), 1);
    assert_int_equal(pick(s, NULL, NULL, NULL), 1);
    mtlsp_policy_set_free(s);
}

static void test_long_sni(void **state)
{
    char name[400];
    memset(name, 'a', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    struct policy_set *s = load("[{\"match\":{\"sni\":[\"*\"]}},{}]");
    assert_int_equal(pick(s, name, NULL, NULL), 1);
    mtlsp_policy_set_free(s);
}

static void test_remote_ip(void **state)
{
    struct policy_set *s = load(
        "[{\"match\":{\"remote_ip\":{\"ranges\":[\"10.0.0.0/8\",\"2001:db8::/32\",\"192.168.1.7\"],"
        "\"not_ranges\":[\"10.1.0.0/16\"]}}},"
        "{\"match\":{\"remote_ip\":{\"not_ranges\":[\"172.16.0.0/12\"]}}}]");
    assert_int_equal(pick(s, NULL, "10.2.3.4", NULL), 0);
    assert_int_equal(pick(s, NULL, "::ffff:10.2.3.4", NULL), 0);
    assert_int_equal(pick(s, NULL, "10.1.2.3", NULL), 1);
    assert_int_equal(pick(s, NULL, "192.168.1.7", NULL), 0);
    assert_int_equal(pick(s, NULL, "192.168.1.8", NULL), 1);
    assert_int_equal(pick(s, NULL, "2001:db8:ffff::1", NULL), 0);
    assert_int_equal(pick(s, NULL, "2001:db9::1", NULL), 1);
    assert_int_equal(pick(s, NULL, "172.20.0.1", NULL), -1);
    assert_int_equal(pick(s, NULL, NULL, NULL), -1); /* unknown IP: IP matchers fail */
    assert_int_equal(pick(s, NULL, "not-an-ip", NULL), -1);
    mtlsp_policy_set_free(s);
}

static void test_cidr_host_bits_and_zero_prefix(void **state)
{
    struct policy_set *s = load("[{\"match\":{\"remote_ip\":{\"ranges\":[\"10.9.9.9/8\"]}}},"
                                "{\"match\":{\"remote_ip\":{\"ranges\":[\"0.0.0.0/0\"]}}},"
                                "{\"match\":{\"remote_ip\":{\"ranges\":[\"::/0\"]}}}]");
    assert_int_equal(pick(s, NULL, "10.0.0.1", NULL), 0);
    assert_int_equal(pick(s, NULL, "11.0.0.1", NULL), 1);
    assert_int_equal(pick(s, NULL, "::1", NULL), 2);
    mtlsp_policy_set_free(s);
}

static void test_local_ip_and_combined(void **state)
{
    struct policy_set *s = load(
        "[{\"match\":{\"sni\":[\"a.example\"],\"local_ip\":{\"ranges\":[\"127.0.0.1\"]},"
        "\"remote_ip\":{\"ranges\":[\"10.0.0.0/8\"]}}},"
        "{\"match\":{\"local_ip\":{\"ranges\":[\"::1\"]}}}]");
    assert_int_equal(pick(s, "a.example", "10.0.0.5", "127.0.0.1"), 0);
    assert_int_equal(pick(s, "a.example", "11.0.0.5", "127.0.0.1"), -1);
    assert_int_equal(pick(s, "b.example", "10.0.0.5", "127.0.0.1"), -1);
    assert_int_equal(pick(s, "a.example", "10.0.0.5", "::1"), 1);
    assert_int_equal(pick(s, "a.example", "10.0.0.5", NULL), -1);
    mtlsp_policy_set_free(s);
}

/* Exact names first; over 30 policies only those (Caddy's index), else a fallback. */
static char *many_policies(size_t n)
{
    struct buf b = {0};
    char *out = NULL;
    mtls_error e;
    char item[96];
    assert_true(MTLS_IS_OK(mtlsp_buf_append_str(&b, "[{\"match\":{\"sni\":[\"*.example.com\"]}}", &e)));
    for (size_t i = 1; i < n; i++) {
        snprintf(item, sizeof(item), ",{\"match\":{\"sni\":[\"h%zu.example.com\"]}}", i);
        assert_true(MTLS_IS_OK(mtlsp_buf_append_str(&b, item, &e)));
    }
    assert_true(MTLS_IS_OK(mtlsp_buf_append_str(&b, "]", &e)));
    assert_true(MTLS_IS_OK(mtlsp_buf_take(&b, &out, &e)));
    return out;
}

static void test_sni_index_over_30(void **state)
{
    char *j30 = many_policies(30), *j31 = many_policies(31);
    struct policy_set *s30 = load(j30), *s31 = load(j31);
    assert_int_equal(pick(s30, "h5.example.com", NULL, NULL), 5); /* exact name first */
    assert_int_equal(pick(s31, "h5.example.com", NULL, NULL), 5); /* Caddy's index */
    assert_int_equal(pick(s31, "H5.Example.com", NULL, NULL), 5);
    assert_int_equal(pick(s31, "zz.example.com", NULL, NULL), 0); /* not indexed */
    mtlsp_policy_set_free(s30);
    mtlsp_policy_set_free(s31);
    mtlsp_free(j30);
    mtlsp_free(j31);
}

static void test_default_policies_match_everything(void **state)
{
    struct policy_set *s = load("{\"mode\":\"request\"}");
    assert_int_equal(pick(s, NULL, NULL, NULL), 0);
    assert_int_equal(pick(s, "x.example", "1.2.3.4", "::1"), 0);
    mtlsp_policy_set_free(s);
    s = load("[]");
    assert_int_equal(pick(s, "x", NULL, NULL), 0);
    mtlsp_policy_set_free(s);
}

static void test_bad_arguments(void **state)
{
    size_t idx;
    mtls_error e;
    mtlsp_error_clear(&e);
    assert_int_equal(mtlsp_policy_select(NULL, "a", NULL, NULL, &idx, &e).code,
                     MTLS_ERR_INVALID_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ip),
        cmocka_unit_test(test_sni_wildcard_semantics),
        cmocka_unit_test(test_first_match_wins),
        cmocka_unit_test(test_no_sni),
        cmocka_unit_test(test_long_sni),
        cmocka_unit_test(test_remote_ip),
        cmocka_unit_test(test_cidr_host_bits_and_zero_prefix),
        cmocka_unit_test(test_local_ip_and_combined),
        cmocka_unit_test(test_sni_index_over_30),
        cmocka_unit_test(test_default_policies_match_everything),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
