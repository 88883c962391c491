/* Unit tests of the INI reader (PROTOCOL-NOTES H8). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/ini.h"

static const char sample[] =
    "# comment\n"
    "[STORE_LOG]\n"
    "enable: on\n"
    "restore_messages = off\n"
    "\n"
    "; another comment\n"
    "[TRANSPORT]\n"
    "host: smp.example.com\n"
    "port: 5223,443   \r\n"
    "log_tls_errors: maybe\n"
    "url: https://x.org/a=b\n"
    "[ AUTH ]\n"
    "create_password: a:b\n"
    "create_password: second\n"
    "ttl: 21600\n";

static void test_parse_and_get(void **state)
{
    (void)state;
    sx_ini *ini;
    char err[128];
    assert_ok(sx_ini_parse(sample, strlen(sample), &ini, err, sizeof err));
    assert_string_equal(sx_ini_get(ini, "STORE_LOG", "enable"), "on");
    assert_string_equal(sx_ini_get(ini, "STORE_LOG", "restore_messages"), "off");
    assert_string_equal(sx_ini_get(ini, "TRANSPORT", "port"), "5223,443");
    assert_string_equal(sx_ini_get(ini, "TRANSPORT", "url"), "https://x.org/a=b");
    assert_string_equal(sx_ini_get(ini, "AUTH", "create_password"), "second"); /* last wins */
    assert_null(sx_ini_get(ini, "AUTH", "enable"));
    assert_null(sx_ini_get(ini, "NOPE", "enable"));

    bool b;
    assert_ok(sx_ini_bool(ini, "STORE_LOG", "enable", false, &b, err, sizeof err));
    assert_true(b);
    assert_ok(sx_ini_bool(ini, "STORE_LOG", "restore_messages", true, &b, err, sizeof err));
    assert_false(b);
    assert_ok(sx_ini_bool(ini, "STORE_LOG", "absent", true, &b, err, sizeof err));
    assert_true(b);
    assert_int_equal(sx_ini_bool(ini, "TRANSPORT", "log_tls_errors", false, &b, err, sizeof err), SX_E_PROTOCOL);
    assert_non_null(strstr(err, "log_tls_errors"));

    int64_t v;
    assert_ok(sx_ini_int(ini, "AUTH", "ttl", 0, 1000000, 5, &v, err, sizeof err));
    assert_int_equal(v, 21600);
    assert_ok(sx_ini_int(ini, "AUTH", "absent", 0, 10, 5, &v, err, sizeof err));
    assert_int_equal(v, 5);
    assert_int_equal(sx_ini_int(ini, "AUTH", "ttl", 0, 100, 5, &v, err, sizeof err), SX_E_PROTOCOL);
    assert_non_null(strstr(err, "ttl"));
    assert_int_equal(sx_ini_int(ini, "TRANSPORT", "host", 0, 100, 5, &v, err, sizeof err), SX_E_PROTOCOL);
    sx_ini_free(ini);
}

static void test_syntax_errors(void **state)
{
    (void)state;
    const char *bad[] = {"key: value\n", "[S]\nnovalue\n", "[S\nk: v\n", "[S]\n: v\n", "[]\n", "["};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sx_ini *ini = (sx_ini *)1;
        char err[128];
        assert_int_equal(sx_ini_parse(bad[i], strlen(bad[i]), &ini, err, sizeof err), SX_E_PROTOCOL);
        assert_null(ini);
        assert_non_null(strstr(err, "line"));
    }
}

static void test_truncated_inputs(void **state)
{
    (void)state;
    /* Every prefix either parses or fails cleanly; never reads past len. */
    for (size_t i = 0; i <= strlen(sample); i++) {
        sx_ini *ini = NULL;
        char err[128];
        sx_status st = sx_ini_parse(sample, i, &ini, err, sizeof err);
        assert_true(st == SX_OK || st == SX_E_PROTOCOL);
        sx_ini_free(ini);
    }
}

static void test_load_file(void **state)
{
    (void)state;
    char path[] = "/tmp/sx_ini_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, sample, strlen(sample)), (ssize_t)strlen(sample));
    close(fd);
    sx_ini *ini;
    char err[128];
    assert_ok(sx_ini_load(path, &ini, err, sizeof err));
    assert_string_equal(sx_ini_get(ini, "TRANSPORT", "host"), "smp.example.com");
    sx_ini_free(ini);
    unlink(path);
    assert_int_equal(sx_ini_load(path, &ini, err, sizeof err), SX_E_IO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_get),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_truncated_inputs),
        cmocka_unit_test(test_load_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
