/* Unit tests of xftp-server's configuration (src/xftp_router/srvconfig.c): paths,
 * init's checks and INI text, the INI loader with errors naming section and
 * key, server options, the printed address and start lines, and the
 * generated static page (src/xftp_router/website.c). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#include "kit/identity.h"
#include "xftp_router/srvconfig.h"
#include "xftp_router/website.h"

static sx_kit_paths paths;

static int setup(void **state)
{
    (void)state;
    return sx_xftp_paths_init(&paths, "/etc/opt/simplex-xftp", "/var/opt/simplex-xftp") == SX_OK ? 0 : -1;
}

static void test_paths(void **state)
{
    (void)state;
    assert_string_equal(paths.ini, "/etc/opt/simplex-xftp/file-server.ini");
    assert_string_equal(paths.ca_crt, "/etc/opt/simplex-xftp/ca.crt");
    assert_string_equal(paths.server_key, "/etc/opt/simplex-xftp/server.key");
    assert_string_equal(paths.fingerprint, "/etc/opt/simplex-xftp/fingerprint");
    assert_string_equal(paths.store_log, "/var/opt/simplex-xftp/file-server-store.log");
    assert_string_equal(paths.stats_daily, "/var/opt/simplex-xftp/file-server-stats.daily.log");
    assert_string_equal(paths.metrics, "/var/opt/simplex-xftp/xftp-server-metrics.txt");
    sx_kit_paths p;
    setenv(SX_XFTP_CFG_ENV, "/tmp/a", 1);
    setenv(SX_XFTP_LOG_ENV, "", 1);
    assert_ok(sx_xftp_paths_from_env(&p));
    assert_string_equal(p.ini, "/tmp/a/file-server.ini");
    assert_string_equal(p.store_log, "/var/opt/simplex-xftp/file-server-store.log");
    unsetenv(SX_XFTP_CFG_ENV);
    unsetenv(SX_XFTP_LOG_ENV);
    char longdir[SX_KIT_PATH_MAX + 10];
    memset(longdir, 'a', sizeof longdir - 1);
    longdir[sizeof longdir - 1] = 0;
    assert_int_equal(sx_xftp_paths_init(&p, longdir, "/x"), SX_E_LIMIT);
}

static void test_init_check(void **state)
{
    (void)state;
    sx_xftp_init_options o;
    sx_xftp_init_options_default(&o);
    assert_int_equal(o.sign_alg, SX_KEY_ED448);
    assert_true(o.store_log);
    assert_string_equal(o.ip, "127.0.0.1");
    char err[256];
    assert_int_equal(sx_xftp_init_check(&o, err, sizeof err), SX_E_USAGE);
    assert_non_null(strstr(err, "--path"));
    o.files_path = "/srv/files";
    assert_int_equal(sx_xftp_init_check(&o, err, sizeof err), SX_E_USAGE);
    assert_non_null(strstr(err, "--quota"));
    o.quota = "lots";
    assert_int_equal(sx_xftp_init_check(&o, err, sizeof err), SX_E_USAGE);
    o.quota = "100gb";
    assert_ok(sx_xftp_init_check(&o, err, sizeof err));
    o.fqdn = "bad\nname";
    assert_int_equal(sx_xftp_init_check(&o, err, sizeof err), SX_E_USAGE);
}

static sx_status parse(const char *text, sx_xftp_config *c, char *err, size_t errlen)
{
    return sx_xftp_config_parse(&paths, text, strlen(text), c, err, errlen);
}

static void test_ini_roundtrip(void **state)
{
    (void)state;
    sx_xftp_init_options o;
    sx_xftp_init_options_default(&o);
    o.files_path = "/srv/xftp/files";
    o.quota = "1024mb"; /* written back as the FileSize encoder does */
    char *text = NULL;
    assert_ok(sx_xftp_ini_text(&paths, &o, "xftp.example.com", &text));
    assert_non_null(strstr(text, "\n[STORE_LOG]\n"));
    assert_non_null(strstr(text, "\nenable: on\n"));
    assert_non_null(strstr(text, "\nexpire_files_hours: 48\n"));
    assert_non_null(strstr(text, "\nhost: xftp.example.com\nport: 443\n"));
    assert_non_null(strstr(text, "\npath: /srv/xftp/files\nstorage_quota: 1gb\n"));
    assert_non_null(strstr(text, "\nstatic_path: /var/opt/simplex-xftp/www\n"));
    assert_non_null(strstr(text, "\n# cert: /etc/opt/simplex-xftp/web.crt\n"));
    assert_true(text[strlen(text) - 1] == '\n');

    sx_xftp_config c;
    char err[256];
    assert_ok(parse(text, &c, err, sizeof err));
    assert_string_equal(c.host, "xftp.example.com");
    assert_int_equal(c.port, 443);
    assert_string_equal(c.port_text, "443");
    assert_true(c.store_log);
    assert_int_equal(c.expire_hours, 48);
    assert_string_equal(c.files_path, "/srv/xftp/files");
    assert_true(c.has_quota);
    assert_int_equal(c.quota, 1073741824LL);
    assert_true(c.new_files);
    assert_false(c.has_create_password);
    assert_false(c.has_control_port);
    assert_false(c.inactive_disconnect);
    assert_false(c.log_tls_errors);
    assert_true(c.has_static_path);
    assert_false(c.has_web_cert);
    assert_false(c.has_source_code);

    sx_xftp_server_opts so;
    sx_xftp_config_to_opts(&c, &so);
    assert_int_equal(so.port, 443);
    assert_string_equal(so.files_dir, "/srv/xftp/files");
    assert_int_equal(so.quota, 1073741824LL);
    assert_string_equal(so.store_log_path, "/var/opt/simplex-xftp/file-server-store.log");
    assert_string_equal(so.cert_file, "/etc/opt/simplex-xftp/server.crt");
    assert_string_equal(so.ca_file, "/etc/opt/simplex-xftp/ca.crt");
    assert_string_equal(so.key_file, "/etc/opt/simplex-xftp/server.key");
    assert_int_equal(so.file_ttl, 48 * 3600);
    assert_true(so.new_files);
    assert_null(so.create_password);
    assert_false(so.has_control_port);
    assert_null(so.web_cert_file);
    free(text);

    o.store_log = false;
    o.web_path = "/srv/www";
    assert_ok(sx_xftp_ini_text(&paths, &o, "<hostnames>", &text));
    assert_ok(parse(text, &c, err, sizeof err));
    assert_false(c.store_log);
    assert_string_equal(c.static_path, "/srv/www");
    sx_xftp_config_to_opts(&c, &so);
    assert_null(so.store_log_path);
    free(text);
}

static const char base_ini[] = "[TRANSPORT]\nport: 8443\n[FILES]\npath: /f\n";

static void expect_error(const char *text, const char *needle)
{
    sx_xftp_config c;
    char err[256] = "";
    sx_status st = parse(text, &c, err, sizeof err);
    if (st == SX_OK)
        fail_msg("accepted: %s", text);
    if (!strstr(err, needle))
        fail_msg("error '%s' does not name '%s'", err, needle);
}

static void test_ini_values(void **state)
{
    (void)state;
    sx_xftp_config c;
    char err[256];
    assert_ok(parse(base_ini, &c, err, sizeof err));
    assert_int_equal(c.port, 8443);
    assert_string_equal(c.host, "<hostnames>");
    assert_false(c.has_quota);
    assert_false(c.store_log);
    assert_true(c.new_files);
    assert_int_equal(c.expire_hours, 48);

    const char *full = "[INFORMATION]\nsource_code: https://example.com/src\n"
                       "[STORE_LOG]\nenable = on\nexpire_files_hours: 1\nstore_files: memory\n"
                       "[AUTH]\nnew_files: off\ncreate_password: s3cret\n"
                       "control_port_admin_password: adm\ncontrol_port_user_password: usr\n"
                       "[TRANSPORT]\nhost: a.example, b.onion\nport: 5443\nlog_tls_errors: on\ncontrol_port: 5226\n"
                       "[FILES]\npath: /data\nstorage_quota: 512kb\n"
                       "[INACTIVE_CLIENTS]\ndisconnect: on\nttl: 600\ncheck_interval: 60\n"
                       "[WEB]\nstatic_path: /www\ncert: /w.crt\nkey: /w.key\n";
    assert_ok(parse(full, &c, err, sizeof err));
    assert_true(c.has_source_code);
    assert_string_equal(c.source_code, "https://example.com/src");
    assert_true(c.store_log);
    assert_int_equal(c.expire_hours, 1);
    assert_false(c.new_files);
    assert_string_equal(c.create_password, "s3cret");
    assert_string_equal(c.admin_password, "adm");
    assert_string_equal(c.user_password, "usr");
    assert_string_equal(c.host, "a.example, b.onion");
    assert_int_equal(c.port, 5443);
    assert_true(c.log_tls_errors);
    assert_true(c.has_control_port);
    assert_int_equal(c.control_port, 5226);
    assert_int_equal(c.quota, 512 * 1024);
    assert_true(c.inactive_disconnect);
    assert_int_equal(c.inactive_ttl, 600);
    assert_int_equal(c.inactive_check_interval, 60);
    assert_true(c.has_web_cert);
    sx_xftp_server_opts so;
    sx_xftp_config_to_opts(&c, &so);
    assert_string_equal(so.create_password, "s3cret");
    assert_false(so.new_files);
    assert_int_equal(so.file_ttl, 3600);
    assert_true(so.has_control_port);
    assert_int_equal(so.control_port, 5226);
    assert_string_equal(so.control_admin_password, "adm");
    assert_string_equal(so.web_cert_file, "/w.crt");
    assert_string_equal(so.web_key_file, "/w.key");
    assert_string_equal(so.web_static_path, "/www");
    assert_true(so.inactive_disconnect);
    assert_int_equal(so.inactive_ttl, 600);

    /* Errors name the section and key. */
    expect_error("[FILES]\npath: /f\n", "[TRANSPORT] port");
    expect_error("[TRANSPORT]\nport: 443\n", "[FILES] path");
    expect_error("[TRANSPORT]\nport: 70000\n[FILES]\npath: /f\n", "[TRANSPORT] port");
    expect_error("[TRANSPORT]\nport: https\n[FILES]\npath: /f\n", "[TRANSPORT] port");
    expect_error("[TRANSPORT]\nport: 443\ncontrol_port: x\n[FILES]\npath: /f\n", "[TRANSPORT] control_port");
    expect_error("[TRANSPORT]\nport: 443\n[FILES]\npath: /f\nstorage_quota: 10 gb\n", "[FILES] storage_quota");
    expect_error("[TRANSPORT]\nport: 443\n[FILES]\npath: /f\n[STORE_LOG]\nenable: yes\n", "enable");
    expect_error("[TRANSPORT]\nport: 443\n[FILES]\npath: /f\n[STORE_LOG]\nexpire_files_hours: -1\n",
                 "expire_files_hours");
    expect_error("[TRANSPORT]\nport: 443\n[FILES]\npath: /f\n[STORE_LOG]\nstore_files: database\n", "store_files");
    expect_error("[TRANSPORT]\nport: 443\n[FILES]\npath: /f\n[AUTH]\ncreate_password: a@b\n",
                 "[AUTH] create_password");
    expect_error("[TRANSPORT]\nport: 443\n[FILES]\npath: /f\n[INACTIVE_CLIENTS]\ndisconnect: on\n",
                 "[INACTIVE_CLIENTS] ttl");
    expect_error("[TRANSPORT]\nport: 443\n[FILES]\npath: /f\n[INACTIVE_CLIENTS]\ndisconnect: on\nttl: 5\n",
                 "[INACTIVE_CLIENTS] check_interval");
    expect_error("port: 443\n", "line");
    assert_ok(parse("[TRANSPORT]\nport: 443\n[FILES]\npath: /f\n[STORE_LOG]\nexpire_files_hours: 0\n", &c, err,
                    sizeof err));
    sx_xftp_config_to_opts(&c, &so);
    assert_int_equal(so.file_ttl, 1);
}

static void test_address_and_lines(void **state)
{
    (void)state;
    uint8_t fp[SX_FINGERPRINT_LEN];
    memset(fp, 0xfb, sizeof fp);
    char addr[256];
    assert_ok(sx_xftp_format_address(fp, "a.example", "443", addr, sizeof addr));
    assert_string_equal(addr, "xftp://-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_s=@a.example");
    assert_ok(sx_xftp_format_address(fp, "a.example", "8443", addr, sizeof addr));
    assert_string_equal(addr, "xftp://-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_s=@a.example:8443");
    assert_ok(sx_xftp_format_address(fp, "a.example", NULL, addr, sizeof addr));
    assert_int_equal(sx_xftp_format_address(fp, "a.example", NULL, addr, 20), SX_E_LIMIT);

    char t[64];
    sx_kit_show_ttl(48 * 3600, t, sizeof t);
    assert_string_equal(t, "2 days");
    sx_kit_show_ttl(3600, t, sizeof t);
    assert_string_equal(t, "1 hours");
    sx_kit_show_ttl(120, t, sizeof t);
    assert_string_equal(t, "2 minutes");
    sx_kit_show_ttl(90, t, sizeof t);
    assert_string_equal(t, "90 seconds");
    sx_kit_show_ttl(0, t, sizeof t);
    assert_string_equal(t, "0 days");

    sx_xftp_config c;
    char err[256];
    assert_ok(parse("[TRANSPORT]\nhost: x.example\nport: 8443\n[FILES]\npath: /f\n[STORE_LOG]\nenable: on\n", &c,
                    err, sizeof err));
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    sx_xftp_config_print_start(&c, f, "SimpleX XFTP server v1 / abc", fp);
    fclose(f);
    assert_non_null(strstr(buf, "SimpleX XFTP server v1 / abc\nFingerprint: -_v7"));
    assert_non_null(strstr(buf, "\nServer address: xftp://-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_s=@x.example:8443\n"));
    assert_non_null(strstr(buf, "\nWarning: server source code is not specified.\n"));
    assert_non_null(strstr(buf, "\nStore log: /var/opt/simplex-xftp/file-server-store.log\n"));
    assert_non_null(strstr(buf, "\nexpiring files after 2 days\n"));
    assert_non_null(strstr(buf, "\nnot expiring inactive clients\n"));
    assert_non_null(strstr(buf, "\nUploading new files allowed.\n"));
    assert_null(strstr(buf, "Listening"));
    assert_null(strstr(buf, "log_stats"));
    free(buf);
    {
        /* log_stats on: both statistics files go to the server, and start
         * prints nothing about them (the server says so when it runs) */
        sx_xftp_config c2;
        assert_ok(parse("[TRANSPORT]\nport: 443\n[FILES]\npath: /f\n[STORE_LOG]\nenable: on\nlog_stats: on\n",
                        &c2, err, sizeof err));
        char *b3 = NULL;
        size_t l3 = 0;
        FILE *f3 = open_memstream(&b3, &l3);
        assert_non_null(f3);
        sx_xftp_config_print_start(&c2, f3, "v", fp);
        fclose(f3);
        assert_null(strstr(b3, "log_stats"));
        assert_null(strstr(b3, "Note:"));
        free(b3);
        sx_xftp_server_opts o2;
        memset(&o2, 0, sizeof o2);
        sx_xftp_config_to_opts(&c2, &o2);
        assert_string_equal(o2.stats_log_path, c2.paths.stats_daily);
        assert_string_equal(o2.stats_backup_path, c2.paths.stats_backup);
        sx_xftp_config_to_opts(&c, &o2);
        assert_null(o2.stats_log_path);
        assert_null(o2.stats_backup_path);
    }
    {
        char *b2 = NULL;
        size_t l2 = 0;
        FILE *f2 = open_memstream(&b2, &l2);
        assert_non_null(f2);
        sx_xftp_config_print_listening(&c, f2);
        fclose(f2);
        assert_string_equal(b2, "Listening on port 8443...\n");
        free(b2);
    }
}

static void test_setup_init(void **state)
{
    (void)state;
    char dir[] = "/tmp/sx_xftpcfg_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cfg[128], log[128];
    snprintf(cfg, sizeof cfg, "%s/etc", dir);
    snprintf(log, sizeof log, "%s/var/log", dir);
    sx_kit_paths p;
    assert_ok(sx_xftp_paths_init(&p, cfg, log));
    sx_xftp_init_options o;
    sx_xftp_init_options_default(&o);
    o.files_path = "/srv/files";
    o.quota = "5gb";
    o.sign_alg = SX_KEY_ED25519;
    uint8_t fp[SX_FINGERPRINT_LEN];
    char host[SX_KIT_HOST_MAX + 1], err[512];
    assert_ok(sx_xftp_setup_init(&p, &o, fp, host, sizeof host, err, sizeof err));
    assert_string_equal(host, "<hostnames>");
    struct stat sb;
    assert_int_equal(stat(p.ca_key, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(stat(p.server_key, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(stat(p.server_crt, &sb), 0);
    assert_int_equal(stat(p.ini, &sb), 0);
    uint8_t fp2[SX_FINGERPRINT_LEN];
    assert_ok(sx_kit_check_fingerprint(&p, fp2, err, sizeof err));
    assert_memory_equal(fp, fp2, sizeof fp);
    sx_xftp_config c;
    assert_ok(sx_xftp_config_load(&p, &c, err, sizeof err));
    assert_int_equal(c.quota, 5LL << 30);
    /* A second init refuses and keeps the identity. */
    assert_int_equal(sx_xftp_setup_init(&p, &o, fp2, host, sizeof host, err, sizeof err), SX_E_USAGE);
    assert_non_null(strstr(err, "already initialized"));
    assert_ok(sx_kit_check_fingerprint(&p, fp2, err, sizeof err));
    assert_memory_equal(fp, fp2, sizeof fp);
    /* An IP that is not the loopback placeholder is the host. */
    unlink(p.ini);
    o.ip = "192.0.2.7";
    assert_ok(sx_xftp_setup_init(&p, &o, fp2, host, sizeof host, err, sizeof err));
    assert_string_equal(host, "192.0.2.7");
    tu_rm_rf(dir);
}

static char *page_of(const char *ini_text, const char *address)
{
    sx_ini *ini = NULL;
    char err[256];
    if (ini_text)
        assert_ok(sx_ini_parse(ini_text, strlen(ini_text), &ini, err, sizeof err));
    char *html = NULL;
    size_t len = 0;
    assert_ok(sx_xftp_site_html(ini, address, "v1 <test>", &html, &len));
    assert_int_equal(strlen(html), len);
    sx_ini_free(ini);
    return html;
}

static void test_site_html(void **state)
{
    (void)state;
    /* No [INFORMATION]: address and version only, escaped. */
    char *h = page_of(NULL, "xftp://abc=@<hostnames>:443");
    assert_true(strncmp(h, "<!DOCTYPE html>\n", 16) == 0);
    assert_non_null(strstr(h, "xftp://abc=@&lt;hostnames&gt;:443"));
    assert_null(strstr(h, "<hostnames>"));
    assert_non_null(strstr(h, "v1 &lt;test&gt;"));
    assert_null(strstr(h, "Source code"));
    assert_null(strstr(h, "Operator"));
    assert_non_null(strstr(h, "</html>\n"));
    free(h);

    /* Fields present are shown, escaped; links only for http(s) / simplex. */
    h = page_of("[INFORMATION]\n"
                "source_code: https://example.com/a?b=1&c=\"2\"\n"
                "operator: O'Brien & <Sons>\n"
                "website: javascript:alert(1)\n"
                "hosting_country: DE\n"
                "admin_email:\n"
                "[OTHER]\noperator: not this one\n",
                "xftp://k@h");
    assert_non_null(strstr(h, "<a href=\"https://example.com/a?b=1&amp;c=&quot;2&quot;\">"));
    assert_non_null(strstr(h, "<td>O&#39;Brien &amp; &lt;Sons&gt;</td>"));
    assert_non_null(strstr(h, "<td>javascript:alert(1)</td>"));
    assert_null(strstr(h, "href=\"javascript"));
    assert_non_null(strstr(h, "<th>Hosting country</th><td>DE</td>"));
    assert_null(strstr(h, "Administrator email")); /* empty value: left out */
    assert_null(strstr(h, "not this one"));
    assert_null(strstr(h, "Website</th><td><a"));
    /* the source code row comes before the other fields */
    assert_true(strstr(h, "Source code") < strstr(h, "Operator"));
    free(h);

    char *out = NULL;
    size_t len = 0;
    assert_int_equal(sx_xftp_site_html(NULL, NULL, "v", &out, &len), SX_E_USAGE);
    assert_int_equal(sx_xftp_site_html(NULL, "a", NULL, &out, &len), SX_E_USAGE);
}

static void test_site_generate(void **state)
{
    (void)state;
    char dir[] = "/tmp/sx_xftpsite_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char ini[128], web[160], index[192], err[512];
    snprintf(ini, sizeof ini, "%s/file-server.ini", dir);
    snprintf(web, sizeof web, "%s/a/b/www", dir);
    snprintf(index, sizeof index, "%s/index.html", web);
    FILE *f = fopen(ini, "w");
    assert_non_null(f);
    fputs("[INFORMATION]\nserver_country: NL\n[WEB]\nstatic_path: x\n", f);
    assert_int_equal(fclose(f), 0);
    /* The folder and its parents are created; generating again replaces. */
    for (int i = 0; i < 2; i++) {
        assert_ok(sx_xftp_site_generate(ini, web, "xftp://fp=@host:5223", "ver", err, sizeof err));
        f = fopen(index, "r");
        assert_non_null(f);
        char buf[4096];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        assert_non_null(strstr(buf, "xftp://fp=@host:5223"));
        assert_non_null(strstr(buf, "<th>Server country</th><td>NL</td>"));
    }
    char tmp[224];
    snprintf(tmp, sizeof tmp, "%s/.index.html.tmp", web);
    assert_int_not_equal(access(tmp, F_OK), 0);
    /* A missing INI or a file in the way of the folder fail with a reason. */
    char missing[160];
    snprintf(missing, sizeof missing, "%s/none.ini", dir);
    assert_int_equal(sx_xftp_site_generate(missing, web, "a", "v", err, sizeof err), SX_E_IO);
    err[0] = 0;
    assert_int_equal(sx_xftp_site_generate(ini, index, "a", "v", err, sizeof err), SX_E_IO);
    assert_true(err[0] != 0);
    tu_rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_init_check),
        cmocka_unit_test(test_ini_roundtrip),
        cmocka_unit_test(test_ini_values),
        cmocka_unit_test(test_address_and_lines),
        cmocka_unit_test(test_setup_init),
        cmocka_unit_test(test_site_html),
        cmocka_unit_test(test_site_generate),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
