/* Unit tests of the host a client connects to (the reference's
 * chooseTransportHost): sx_smp_address_parse keeping the first onion and
 * the first public host, and sx_smp_address_choose_host over every host
 * mode, with and without a SOCKS proxy, required or not, for addresses with
 * public hosts only, onion hosts only, and both in either order. Also the
 * route the library's connects share (sx_smpapi_route): the chosen host,
 * the SOCKS decision and the "HOST" error. */
#include "testutil.h"

#include <string.h>

#include "core/error.h"
#include "simplex/smp.h"
#include "smp_client/smp_api_int.h"
#include "smp_client/smp_client.h"

#define FP "LcJUMfVhwD8yxjAiSaDzzGF3-kLG4Uh0Fl_ZIjrRwjI="
#define ONION1 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz234.onion"
#define ONION2 "bbcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz234.onion"

enum {
    K_PUBLIC,       /* public hosts only */
    K_ONION,        /* onion hosts only */
    K_PUBLIC_FIRST, /* both, a public one first */
    K_ONION_FIRST,  /* both, an onion one first */
    K_COUNT,
};

static const char *const addrs[K_COUNT] = {
    "smp://" FP "@smp1.example.com,192.0.2.7:5223",
    "smp://" FP "@" ONION1 "," ONION2,
    "smp://" FP "@smp1.example.com," ONION1 ",192.0.2.7," ONION2,
    "smp://" FP "@" ONION1 ",[2001:db8::1],smp1.example.com",
};

/* The first host of the address and its first public and onion hosts. */
static const char *const first[K_COUNT] = {"smp1.example.com", ONION1, "smp1.example.com", ONION1};
static const char *const pub[K_COUNT] = {"smp1.example.com", NULL, "smp1.example.com", "2001:db8::1"};
static const char *const oni[K_COUNT] = {NULL, ONION1, ONION1, ONION1};

/* The expected choice, written out from the reference's rules: the mode
 * names the kind (onion-via-socks: onion with a proxy, public without);
 * the first host of that kind; else the first host, or none if required. */
static const char *expect(int kind, int mode, bool socks, bool required)
{
    bool want_onion = mode == SX_SMP_HOSTS_ONION || (mode == SX_SMP_HOSTS_ONION_VIA_SOCKS && socks);
    const char *h = want_onion ? oni[kind] : pub[kind];
    if (h)
        return h;
    return required ? NULL : first[kind];
}

static void test_parse_keeps_kinds(void **state)
{
    (void)state;
    for (int k = 0; k < K_COUNT; k++) {
        sx_smp_address a;
        assert_ok(sx_smp_address_parse(addrs[k], &a));
        assert_string_equal(a.host, first[k]);
        assert_string_equal(a.public_host, pub[k] ? pub[k] : "");
        assert_string_equal(a.onion_host, oni[k] ? oni[k] : "");
    }
}

static void test_table(void **state)
{
    (void)state;
    static const int modes[] = {SX_SMP_HOSTS_ONION_VIA_SOCKS, SX_SMP_HOSTS_ONION, SX_SMP_HOSTS_PUBLIC};
    int checked = 0;
    for (int k = 0; k < K_COUNT; k++) {
        sx_smp_address a;
        assert_ok(sx_smp_address_parse(addrs[k], &a));
        for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++)
            for (int socks = 0; socks < 2; socks++)
                for (int req = 0; req < 2; req++) {
                    const char *got = sx_smp_address_choose_host(&a, modes[m], req, socks);
                    const char *want = expect(k, modes[m], socks, req);
                    if (!want) {
                        assert_null(got);
                    } else {
                        assert_non_null(got);
                        assert_string_equal(got, want);
                    }
                    checked++;
                }
    }
    assert_int_equal(checked, K_COUNT * 3 * 2 * 2);
}

/* A few rows written out by hand, so the table above is not checked only
 * against a second copy of the rule. */
static void test_rows(void **state)
{
    (void)state;
    sx_smp_address a;
    assert_ok(sx_smp_address_parse(addrs[K_PUBLIC_FIRST], &a));
    assert_string_equal(sx_smp_address_choose_host(&a, SX_SMP_HOSTS_ONION_VIA_SOCKS, false, false), "smp1.example.com");
    assert_string_equal(sx_smp_address_choose_host(&a, SX_SMP_HOSTS_ONION_VIA_SOCKS, false, true), ONION1);
    assert_string_equal(sx_smp_address_choose_host(&a, SX_SMP_HOSTS_ONION, false, false), ONION1);
    assert_string_equal(sx_smp_address_choose_host(&a, SX_SMP_HOSTS_PUBLIC, true, true), "smp1.example.com");
    assert_ok(sx_smp_address_parse(addrs[K_ONION], &a));
    assert_string_equal(sx_smp_address_choose_host(&a, SX_SMP_HOSTS_PUBLIC, false, false), ONION1);
    assert_null(sx_smp_address_choose_host(&a, SX_SMP_HOSTS_PUBLIC, true, false));
    assert_null(sx_smp_address_choose_host(&a, SX_SMP_HOSTS_ONION_VIA_SOCKS, true, false));
    assert_string_equal(sx_smp_address_choose_host(&a, SX_SMP_HOSTS_ONION_VIA_SOCKS, true, true), ONION1);
    assert_ok(sx_smp_address_parse(addrs[K_PUBLIC], &a));
    assert_null(sx_smp_address_choose_host(&a, SX_SMP_HOSTS_ONION, true, false));
    assert_string_equal(sx_smp_address_choose_host(&a, SX_SMP_HOSTS_ONION, false, true), "smp1.example.com");
    assert_ok(sx_smp_address_parse(addrs[K_ONION_FIRST], &a));
    assert_string_equal(sx_smp_address_choose_host(&a, SX_SMP_HOSTS_PUBLIC, true, true), "2001:db8::1");
}

static void test_route(void **state)
{
    (void)state;
    sx_smp_address a;
    assert_ok(sx_smp_address_parse(addrs[K_PUBLIC_FIRST], &a));
    const int64_t t = 1796555143123456789LL; /* 2026-12-06 11:05:43.123456789 UTC */
    sx_socks_route r;
    bool use = true;
    const char *host = NULL;
    /* no options: the public host, direct */
    assert_ok(sx_smpapi_route(NULL, &a, t, &host, &r, &use));
    assert_false(use);
    assert_string_equal(host, "smp1.example.com");
    /* a proxy, default host mode: the onion host through it, isolated */
    sx_smp_conn_opts o = {.socks_proxy = "127.0.0.1:9050"};
    assert_ok(sx_smpapi_route(&o, &a, t, &host, &r, &use));
    assert_true(use);
    assert_string_equal(host, ONION1);
    assert_string_equal(r.host, "127.0.0.1");
    assert_int_equal(r.port, 9050);
    assert_string_equal(r.user, "Vjf7HINlg1YttdyYfbbjVk/jCZTKfL4b4EcgIc90niY=");
    assert_string_equal(r.pass, "");
    /* host mode public with SOCKS mode onion: the public host, direct */
    o.host_mode = SX_SMP_HOSTS_PUBLIC;
    o.socks_mode = SX_SMP_SOCKS_ONION;
    assert_ok(sx_smpapi_route(&o, &a, t, &host, &r, &use));
    assert_false(use);
    assert_string_equal(host, "smp1.example.com");
    /* required and none of the kind: SX_E_USAGE, code HOST */
    assert_ok(sx_smp_address_parse(addrs[K_ONION], &a));
    o.required_host_mode = true;
    assert_int_equal(sx_smpapi_route(&o, &a, t, &host, &r, &use), SX_E_USAGE);
    assert_false(use);
    assert_string_equal(sx_error_code(), "HOST");
    /* a failed connect names the host it tried, not the address's first */
    assert_ok(sx_smp_address_parse(addrs[K_PUBLIC_FIRST], &a));
    assert_int_equal(sx_smpapi_connect_error(&a, ONION1, SX_E_IO), SX_E_IO);
    assert_non_null(strstr(sx_error_message(), "cannot connect to " ONION1 ":5223"));
    /* a malformed proxy string is refused before the host is chosen */
    o.socks_proxy = "not a proxy";
    assert_int_equal(sx_smpapi_route(&o, &a, t, &host, &r, &use), SX_E_USAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_keeps_kinds),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_route),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
