/* Unit tests of ntf-server's setup (PROTOCOL-NOTES H20-H23): file names
 * under both folders, the INI text read back through our INI parser for
 * default and given options, the printed host and address, and init's
 * files and its refusal to run twice. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/ini.h"
#include "ntf_router/setup.h"

static sx_ini *parse(const char *text)
{
    sx_ini *ini = NULL;
    char err[256];
    assert_ok(sx_ini_parse(text, strlen(text), &ini, err, sizeof err));
    return ini;
}

static void assert_value(const sx_ini *ini, const char *section, const char *key, const char *want)
{
    const char *v = sx_ini_get(ini, section, key);
    if (!want) {
        assert_null(v);
        return;
    }
    assert_non_null(v);
    assert_string_equal(v, want);
}

static void test_paths(void **state)
{
    (void)state;
    sx_kit_paths p;
    assert_ok(sx_ntf_paths_init(&p, "/c", "/l"));
    assert_string_equal(p.ini, "/c/ntf-server.ini");
    assert_string_equal(p.store_log, "/l/ntf-server-store.log");
    assert_string_equal(p.stats_daily, "/l/ntf-server-stats.daily.log");
    assert_string_equal(p.metrics, "/l/ntf-server-metrics.txt");
    assert_string_equal(p.fingerprint, "/c/fingerprint");
    setenv(SX_NTF_CFG_ENV, "", 1);
    unsetenv(SX_NTF_LOG_ENV);
    assert_ok(sx_ntf_paths_from_env(&p));
    assert_string_equal(p.cfg_dir, SX_NTF_DEFAULT_CFG_DIR);
    assert_string_equal(p.log_dir, SX_NTF_DEFAULT_LOG_DIR);
    setenv(SX_NTF_LOG_ENV, "/tmp/x", 1);
    assert_ok(sx_ntf_paths_from_env(&p));
    assert_string_equal(p.store_log, "/tmp/x/ntf-server-store.log");
    unsetenv(SX_NTF_CFG_ENV);
    unsetenv(SX_NTF_LOG_ENV);
}

static void test_ini_text(void **state)
{
    (void)state;
    sx_ntf_init_options o;
    sx_ntf_init_options_default(&o);
    assert_string_equal(sx_ntf_init_host(&o), "<hostnames>");
    char *text = NULL;
    assert_ok(sx_ntf_ini_text(&o, sx_ntf_init_host(&o), &text));
    sx_ini *ini = parse(text);
    assert_value(ini, "STORE_LOG", "enable", "on");
    assert_value(ini, "STORE_LOG", "log_stats", "off");
    assert_value(ini, "STORE_LOG", "db_connection", NULL);
    assert_value(ini, "STORE_LOG", "db_pool_size", NULL);
    assert_value(ini, "TRANSPORT", "host", "<hostnames>");
    assert_value(ini, "TRANSPORT", "port", "443");
    assert_value(ini, "TRANSPORT", "log_tls_errors", "off");
    assert_value(ini, "TRANSPORT", "websockets", "off");
    assert_value(ini, "TRANSPORT", "control_port", NULL);
    assert_value(ini, "SUBSCRIBER", "use_service_credentials", NULL);
    assert_value(ini, "INACTIVE_CLIENTS", "disconnect", "off");
    assert_non_null(strstr(text, "\n# db_connection: postgresql://ntf@/ntf_server_store\n"));
    assert_non_null(strstr(text, "\n# control_port: 5227\n"));
    sx_ini_free(ini);
    free(text);

    o.store_log = false;
    o.ip = "192.0.2.1";
    o.db_conn = "postgresql://a@/b";
    o.db_schema = SX_NTF_DEFAULT_DB_SCHEMA; /* the default stays commented */
    o.db_pool_size = 3;
    assert_string_equal(sx_ntf_init_host(&o), "192.0.2.1");
    o.fqdn = "ntf.example.com";
    assert_string_equal(sx_ntf_init_host(&o), "ntf.example.com");
    assert_ok(sx_ntf_ini_text(&o, sx_ntf_init_host(&o), &text));
    ini = parse(text);
    assert_value(ini, "STORE_LOG", "enable", "off");
    assert_value(ini, "STORE_LOG", "db_connection", "postgresql://a@/b");
    assert_value(ini, "STORE_LOG", "db_schema", NULL);
    assert_value(ini, "STORE_LOG", "db_pool_size", "3");
    assert_value(ini, "TRANSPORT", "host", "ntf.example.com");
    sx_ini_free(ini);
    free(text);

    char err[256];
    sx_ntf_init_options bad = o;
    bad.fqdn = "a\nb";
    assert_int_equal(sx_ntf_init_check(&bad, err, sizeof err), SX_E_USAGE);
    bad = o;
    bad.db_schema = "";
    assert_int_equal(sx_ntf_init_check(&bad, err, sizeof err), SX_E_USAGE);
    assert_ok(sx_ntf_init_check(&o, err, sizeof err));
}

static void test_address(void **state)
{
    (void)state;
    uint8_t fp[SX_FINGERPRINT_LEN];
    memset(fp, 0xfb, sizeof fp);
    char out[256];
    assert_ok(sx_ntf_format_address(fp, "h.example", NULL, out, sizeof out));
    assert_string_equal(out, "ntf://-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_s=@h.example");
    assert_ok(sx_ntf_format_address(fp, "h.example", "443", out, sizeof out));
    assert_non_null(strstr(out, "@h.example"));
    assert_null(strchr(strstr(out, "@"), ':'));
    assert_ok(sx_ntf_format_address(fp, "h.example", "8443", out, sizeof out));
    assert_non_null(strstr(out, "@h.example:8443"));
    assert_int_equal(sx_ntf_format_address(fp, "h.example", NULL, out, 20), SX_E_LIMIT);
}

static void test_init_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/sx_ntf_setup.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cfg[128], log[128];
    snprintf(cfg, sizeof cfg, "%s/etc", dir);
    snprintf(log, sizeof log, "%s/var", dir);
    sx_kit_paths p;
    assert_ok(sx_ntf_paths_init(&p, cfg, log));
    sx_ntf_init_options o;
    sx_ntf_init_options_default(&o);
    uint8_t fp[SX_FINGERPRINT_LEN];
    char host[64], err[512];
    assert_ok(sx_ntf_setup_init(&p, &o, fp, host, sizeof host, err, sizeof err));
    assert_string_equal(host, "<hostnames>");
    assert_int_equal(access(p.ini, R_OK), 0);
    assert_int_equal(access(p.ca_crt, R_OK), 0);
    assert_int_equal(access(p.server_key, R_OK), 0);
    assert_int_equal(access(log, F_OK), 0);
    /* the fingerprint file is the text of the returned fingerprint */
    char text[SX_FINGERPRINT_TEXT_SIZE], got[128] = "";
    assert_ok(sx_x509_fingerprint_text(fp, text, sizeof text));
    FILE *f = fopen(p.fingerprint, "r");
    assert_non_null(f);
    assert_non_null(fgets(got, sizeof got, f));
    fclose(f);
    got[strcspn(got, "\n")] = 0;
    assert_string_equal(got, text);
    assert_int_equal(sx_ntf_setup_init(&p, &o, fp, host, sizeof host, err, sizeof err), SX_E_USAGE);
    assert_non_null(strstr(err, "already initialized"));
    tu_rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_ini_text),
        cmocka_unit_test(test_address),
        cmocka_unit_test(test_init_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
