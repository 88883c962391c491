/* Unit tests of the SMP router's generated site (smp_router/website.h): the
 * reference's duration wording, and index.html from a configuration and its
 * INI: the configuration rows, [INFORMATION] escaped and shown only with
 * source_code, the onion host from [TRANSPORT] host. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "smp_router/website.h"

static void test_ttl_text(void **state)
{
    (void)state;
    char b[96];
    const struct {
        int64_t s;
        const char *want;
    } cases[] = {
        {0, "0 sec"},
        {59, "59 sec"},
        {90, "1 min 30 sec"},
        {3600, "1 hour"},
        {7200 + 60, "2 hours 1 min"},
        {86400, "1 day"},
        {86400 * 7, "1 week"},
        {86400 * 14, "2 weeks"},
        {86400 * 21, "21 days"},
        {86400 * 30, "1 month"},
        {86400 * 61 + 3600, "2 months 1 day 1 hour"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sx_router_site_ttl_text(cases[i].s, b, sizeof b);
        assert_string_equal(b, cases[i].want);
    }
    sx_router_site_ttl_text(86400 * 61 + 3661, b, 8); /* truncated, still terminated */
    assert_true(strlen(b) < 8);
}

static char *page(const sx_router_config *cfg, const char *ini_text)
{
    sx_ini *ini = NULL;
    char err[128];
    assert_int_equal(sx_ini_parse(ini_text, strlen(ini_text), &ini, err, sizeof err), SX_OK);
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(sx_router_site_index(cfg, ini, "SMP server v1", &out, &len), SX_OK);
    assert_int_equal(strlen(out), len);
    sx_ini_free(ini);
    return out;
}

static void test_index(void **state)
{
    (void)state;
    static sx_router_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.store_log = true;
    cfg.restore_messages = true;
    cfg.msg_ttl = 86400 * 21;
    cfg.new_queues = true;
    char *p = page(&cfg, "[INFORMATION]\nsource_code: https://e.org/s?a=1&b=<2>\noperator: A & B\n"
                         "[TRANSPORT]\nhost: smp.e.org, abcdef.onion\n");
    assert_non_null(strstr(p, "Queues and messages"));
    assert_non_null(strstr(p, "21 days"));
    assert_non_null(strstr(p, "<a href=\"https://e.org/s?a=1&amp;b=&lt;2&gt;\">"));
    assert_non_null(strstr(p, "A &amp; B"));
    assert_null(strstr(p, "A & B"));
    assert_non_null(strstr(p, "abcdef.onion"));
    assert_non_null(strstr(p, "SMP server v1"));
    free(p);

    /* no source_code: the other fields are not shown; other settings */
    cfg.store_log = false;
    cfg.msg_ttl = 0;
    cfg.new_queues = false;
    p = page(&cfg, "[INFORMATION]\noperator: Hidden Op\n[TRANSPORT]\nhost: smp.e.org\n");
    assert_null(strstr(p, "Hidden Op"));
    assert_non_null(strstr(p, "In-memory only"));
    assert_non_null(strstr(p, "Never"));
    assert_null(strstr(p, ".onion"));
    free(p);
    assert_int_equal(sx_router_site_index(NULL, NULL, "v", &p, &(size_t){0}), SX_E_USAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ttl_text),
        cmocka_unit_test(test_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
