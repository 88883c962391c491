/* Unit tests of the smp-server configuration (src/smp_router/config.h), of init
 * (src/smp_router/setup.h) and of the router kit's paths, identity and delete
 * (src/kit/paths.h, identity.h): PROTOCOL-NOTES H1, H3-H11, H14. */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "kit/identity.h"
#include "smp_router/config.h"
#include "smp_router/setup.h"

static sx_kit_paths test_paths(void)
{
    sx_kit_paths p;
    assert_ok(sx_router_paths_init(&p, "/etc/opt/simplex", "/var/opt/simplex"));
    return p;
}

/* An INI laid out as the reference's `init -y` writes it (key lines and the
 * commented-out key lines verbatim, comments replaced by our own), with a
 * fixed password and the [WEB] https lines enabled. */
static const char reference_ini[] =
    "[INFORMATION]\n"
    "# about the source code\n"
    "\n"
    "# source_code: URI\n"
    "\n"
    "# optional fields\n"
    "\n"
    "# usage_conditions: https://github.com/simplex-chat/simplex-chat/blob/stable/PRIVACY.md\n"
    "# condition_amendments: link\n"
    "\n"
    "# server_country: ISO-3166 2-letter code\n"
    "# operator: entity (organization or person name)\n"
    "# operator_country: ISO-3166 2-letter code\n"
    "# website: \n"
    "\n"
    "# admin_simplex: SimpleX address\n"
    "# admin_email:\n"
    "# admin_pgp:\n"
    "# admin_pgp_fingerprint:\n"
    "\n"
    "# complaints_simplex: SimpleX address\n"
    "# complaints_email:\n"
    "# complaints_pgp:\n"
    "# complaints_pgp_fingerprint:\n"
    "\n"
    "# hosting: entity (organization or person name)\n"
    "# hosting_country: ISO-3166 2-letter code\n"
    "\n"
    "hosting_type: virtual\n"
    "\n"
    "[STORE_LOG]\n"
    "enable: on\n"
    "\n"
    "store_queues: memory\n"
    "\n"
    "# db_connection: postgresql://smp@/smp_server_store\n"
    "# db_schema: smp_server\n"
    "# db_pool_size: 10\n"
    "\n"
    "# db_store_log: off\n"
    "\n"
    "# db_deleted_ttl: 21\n"
    "\n"
    "store_messages: memory\n"
    "\n"
    "restore_messages: on\n"
    "\n"
    "expire_messages_days: 21\n"
    "expire_messages_on_start: on\n"
    "expire_messages_on_send: off\n"
    "expire_ntfs_hours: 24\n"
    "\n"
    "log_stats: off\n"
    "\n"
    "# prometheus_interval: 60\n"
    "\n"
    "[AUTH]\n"
    "new_queues: on\n"
    "\n"
    "create_password: s3cr3t-PW_=\n"
    "\n"
    "# control_port_admin_password: \n"
    "# control_port_user_password: \n"
    "\n"
    "# daily_block_queue_quota: 20\n"
    "\n"
    "[TRANSPORT]\n"
    "host: <hostnames>\n"
    "port: 5223,443\n"
    "log_tls_errors: off\n"
    "\n"
    "websockets: off\n"
    "# control_port: 5224\n"
    "\n"
    "[PROXY]\n"
    "# host_mode: public\n"
    "# required_host_mode: off\n"
    "\n"
    "# own_server_domains: \n"
    "\n"
    "# socks_proxy: localhost:9050\n"
    "\n"
    "# socks_mode: onion\n"
    "\n"
    "# client_concurrency: 32\n"
    "\n"
    "[INACTIVE_CLIENTS]\n"
    "disconnect: on\n"
    "ttl: 21600\n"
    "check_interval: 3600\n"
    "\n"
    "[WEB]\n"
    "static_path: /var/opt/simplex/www\n"
    "\n"
    "# http: 8000\n"
    "\n"
    "https: 443\n"
    "cert: /etc/opt/simplex/web.crt\n"
    "key: /etc/opt/simplex/web.key\n";

static const char minimal_ini[] = "[TRANSPORT]\nport: 5223\nwebsockets: off\n";

static sx_status parse(const char *text, sx_router_config *cfg, char *err, size_t errlen)
{
    sx_kit_paths p = test_paths();
    return sx_router_config_parse(text, strlen(text), &p, cfg, err, errlen);
}

/* reference_ini with the line starting with `line_prefix` replaced by
 * `replacement` (NULL removes it). Returns a heap string. */
static char *edit_ini(const char *base, const char *line_prefix, const char *replacement)
{
    const char *at = strstr(base, line_prefix);
    assert_non_null(at);
    const char *eol = strchr(at, '\n');
    assert_non_null(eol);
    size_t head = (size_t)(at - base), rep = replacement ? strlen(replacement) : 0;
    char *out = malloc(strlen(base) + rep + 2);
    assert_non_null(out);
    memcpy(out, base, head);
    size_t n = head;
    if (replacement) {
        memcpy(out + n, replacement, rep);
        n += rep;
        out[n++] = '\n';
    }
    strcpy(out + n, eol + 1);
    return out;
}

static void test_reference_ini_loads(void **state)
{
    (void)state;
    sx_router_config cfg;
    char err[256];
    assert_ok(parse(reference_ini, &cfg, err, sizeof err));
    assert_string_equal(cfg.paths.ini, "/etc/opt/simplex/smp-server.ini");
    assert_string_equal(cfg.paths.store_log, "/var/opt/simplex/smp-server-store.log");
    assert_true(cfg.store_log);
    assert_true(cfg.restore_messages);
    assert_int_equal(cfg.msg_ttl, 21 * 86400);
    assert_true(cfg.expire_on_start);
    assert_false(cfg.expire_on_send);
    assert_int_equal(cfg.ntf_ttl, 24 * 3600);
    assert_false(cfg.log_stats);
    assert_int_equal(cfg.prometheus_interval, 0);
    assert_true(cfg.new_queues);
    assert_true(cfg.has_create_password);
    assert_string_equal(cfg.create_password, "s3cr3t-PW_=");
    assert_false(cfg.has_control_admin_password);
    assert_int_equal(cfg.daily_block_queue_quota, 20);
    assert_string_equal(cfg.host, "<hostnames>");
    assert_string_equal(cfg.port_text, "5223,443");
    assert_int_equal(cfg.n_ports, 2);
    assert_int_equal(cfg.ports[0], 5223);
    assert_int_equal(cfg.ports[1], 443);
    assert_false(cfg.log_tls_errors);
    assert_int_equal(cfg.control_port, 0);
    assert_true(cfg.workers >= 1);
    assert_int_equal(cfg.proxy_client_concurrency, 32);
    assert_true(cfg.expire_inactive);
    assert_int_equal(cfg.inactive_ttl, 21600);
    assert_int_equal(cfg.inactive_check_interval, 3600);
    assert_false(cfg.has_source_code);
    assert_string_equal(cfg.web_static_path, "/var/opt/simplex/www");
    assert_int_equal(cfg.web_https_port, 443);
    assert_int_equal(cfg.web_http_port, 0);
    assert_string_equal(cfg.web_cert, "/etc/opt/simplex/web.crt");
    assert_string_equal(cfg.web_key, "/etc/opt/simplex/web.key");
}

static void test_defaults_when_absent(void **state)
{
    (void)state;
    sx_router_config cfg;
    char err[256];
    assert_ok(parse(minimal_ini, &cfg, err, sizeof err));
    assert_false(cfg.store_log);
    assert_false(cfg.restore_messages); /* follows enable */
    assert_true(cfg.expire_on_start);
    assert_true(cfg.expire_on_send); /* the code default, not init's */
    assert_true(cfg.new_queues);
    assert_false(cfg.has_create_password);
    assert_string_equal(cfg.host, "<hostnames>");
    assert_false(cfg.expire_inactive);
    assert_int_equal(cfg.msg_ttl, 21 * 86400);
    assert_int_equal(cfg.daily_block_queue_quota, 20);
    assert_int_equal(cfg.n_ports, 1);
    assert_int_equal(cfg.start.log_level, SX_ROUTER_LOG_INFO);

    /* restore_messages follows enable when absent */
    assert_ok(parse("[STORE_LOG]\nenable: on\n[TRANSPORT]\nport: 443\nwebsockets: off\n", &cfg,
                    err, sizeof err));
    assert_true(cfg.restore_messages);
    /* `key = value` is read too (PROTOCOL-NOTES H8), and our workers key */
    assert_ok(parse("[TRANSPORT]\nport = 443\nwebsockets = off\nworkers = 3\n"
                    "[STORE_LOG]\nenable = on\nrestore_messages = off\n",
                    &cfg, err, sizeof err));
    assert_true(cfg.store_log);
    assert_false(cfg.restore_messages);
    assert_int_equal(cfg.workers, 3);
}

/* [PROXY] (PROTOCOL-NOTES H7, D30-D38): the reference's keys, and ours. */
static void test_proxy_section(void **state)
{
    (void)state;
    sx_router_config cfg;
    char err[512];
    const char *base = "[TRANSPORT]\nport: 443\nwebsockets: off\n[PROXY]\n";
    char text[1024];
    assert_ok(parse(base, &cfg, err, sizeof err));
    assert_int_equal(cfg.proxy_client_concurrency, 32);
    assert_false(cfg.proxy_host_mode_onion);
    assert_false(cfg.proxy_required_host_mode);
    assert_false(cfg.proxy_socks_always);
    assert_string_equal(cfg.own_server_domains, "");
    assert_int_equal(cfg.proxy_forward_timeout, 30);
    snprintf(text, sizeof text,
             "%shost_mode: onion\nrequired_host_mode: on\nsocks_mode: always\nown_server_domains: a.example "
             "b.example\nclient_concurrency: 4\nforward_timeout: 5\n",
             base);
    assert_ok(parse(text, &cfg, err, sizeof err));
    assert_true(cfg.proxy_host_mode_onion);
    assert_true(cfg.proxy_required_host_mode);
    assert_true(cfg.proxy_socks_always);
    assert_string_equal(cfg.own_server_domains, "a.example b.example");
    assert_int_equal(cfg.proxy_client_concurrency, 4);
    assert_int_equal(cfg.proxy_forward_timeout, 5);
    /* A SOCKS proxy, for onion destinations or for all (the reference's
     * proxy string: credentials, numeric host, port). */
    snprintf(text, sizeof text, "%ssocks_proxy: 127.0.0.1:9150\nsocks_mode: onion\n", base);
    assert_ok(parse(text, &cfg, err, sizeof err));
    assert_true(cfg.proxy_has_socks);
    assert_false(cfg.proxy_socks_always);
    assert_string_equal(cfg.proxy_socks.host, "127.0.0.1");
    assert_int_equal(cfg.proxy_socks.port, 9150);
    assert_int_equal(cfg.proxy_socks.auth, SX_SOCKS_AUTH_ISOLATE);
    snprintf(text, sizeof text, "%ssocks_proxy: u:p@127.0.0.1:1080\nsocks_mode: always\n", base);
    assert_ok(parse(text, &cfg, err, sizeof err));
    assert_true(cfg.proxy_socks_always);
    assert_int_equal(cfg.proxy_socks.auth, SX_SOCKS_AUTH_USER);
    assert_string_equal(cfg.proxy_socks.user, "u");
    static const char *const bad[][2] = {
        {"host_mode: tor", "host_mode"},
        {"socks_mode: never", "socks_mode"},
        {"required_host_mode: yes", "required_host_mode"},
        {"client_concurrency: 0", "client_concurrency"},
        {"forward_timeout: 0", "forward_timeout"},
        /* the reference takes only a numeric host for the proxy */
        {"socks_proxy: localhost:9050\nsocks_mode: always", "socks_proxy"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "%s%s\n", base, bad[i][0]);
        assert_int_equal(parse(text, &cfg, err, sizeof err), SX_E_PROTOCOL);
        if (!strstr(err, bad[i][1]))
            fail_msg("'%s': error '%s' does not name %s", bad[i][0], err, bad[i][1]);
    }
}

static void test_bad_boolean_names_key(void **state)
{
    (void)state;
    static const char *const keys[][2] = {
        {"enable: on", "enable"},
        {"restore_messages: on", "restore_messages"},
        {"expire_messages_on_start: on", "expire_messages_on_start"},
        {"expire_messages_on_send: off", "expire_messages_on_send"},
        {"log_stats: off", "log_stats"},
        {"new_queues: on", "new_queues"},
        {"log_tls_errors: off", "log_tls_errors"},
        {"disconnect: on", "disconnect"},
    };
    static const char *const bad[] = {"yes", "On", "true", "1", ""};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++) {
            char line[128];
            snprintf(line, sizeof line, "%s: %s", keys[i][1], bad[j]);
            char *text = edit_ini(reference_ini, keys[i][0], line);
            sx_router_config cfg;
            char err[256] = "";
            assert_int_equal(parse(text, &cfg, err, sizeof err), SX_E_PROTOCOL);
            assert_non_null(strstr(err, keys[i][1]));
            free(text);
        }
    }
}

/* store_messages: journal with our journal_fsync key (off when absent). */
static void test_journal_keys(void **state)
{
    (void)state;
    sx_router_config cfg;
    char err[256] = "";
    assert_ok(parse(reference_ini, &cfg, err, sizeof err));
    assert_false(cfg.msgs_journal);
    char *text = edit_ini(reference_ini, "store_messages: memory", "store_messages: journal");
    assert_ok(parse(text, &cfg, err, sizeof err));
    assert_true(cfg.msgs_journal);
    assert_false(cfg.journal_fsync);
    free(text);
    text = edit_ini(reference_ini, "store_messages: memory", "store_messages: journal\njournal_fsync: on");
    assert_ok(parse(text, &cfg, err, sizeof err));
    assert_true(cfg.journal_fsync);
    free(text);
}

/* store_queues: database with journal or database messages and the db_*
 * keys (the reference's defaults when absent); no store log then. */
static void test_database_keys(void **state)
{
    (void)state;
    sx_router_config cfg;
    char err[256] = "";
    char *db = edit_ini(reference_ini, "store_queues: memory", "store_queues: database");
    char *text = edit_ini(db, "store_messages: memory", "store_messages: journal");
    assert_ok(parse(text, &cfg, err, sizeof err));
    assert_true(cfg.queues_db);
    assert_true(cfg.msgs_journal);
    assert_false(cfg.msgs_db);
    assert_false(cfg.store_log);
    assert_string_equal(cfg.db_connection, "postgresql://smp@/smp_server_store");
    assert_string_equal(cfg.db_schema, "smp_server");
    assert_int_equal(cfg.db_pool_size, 10);
    assert_int_equal(cfg.db_deleted_ttl, 21 * 86400);
    free(text);
    text = edit_ini(db, "store_messages: memory",
                    "store_messages: database\ndb_connection: postgresql://u@h/d\ndb_schema: s2\ndb_pool_size: 3\n"
                    "db_deleted_ttl: 60");
    assert_ok(parse(text, &cfg, err, sizeof err));
    assert_true(cfg.queues_db);
    assert_true(cfg.msgs_db);
    assert_string_equal(cfg.db_connection, "postgresql://u@h/d");
    assert_string_equal(cfg.db_schema, "s2");
    assert_int_equal(cfg.db_pool_size, 3);
    assert_int_equal(cfg.db_deleted_ttl, 60);
    free(text);
    free(db);
}

/* Our [STORE_LOG] fsync key: off when absent, on/off only. */
static void test_fsync_key(void **state)
{
    (void)state;
    sx_router_config cfg;
    char err[256] = "";
    assert_ok(parse(reference_ini, &cfg, err, sizeof err));
    assert_false(cfg.store_log_fsync);
    char *text = edit_ini(reference_ini, "enable: on", "enable: on\nfsync: on");
    assert_ok(parse(text, &cfg, err, sizeof err));
    assert_true(cfg.store_log_fsync);
    free(text);
    text = edit_ini(reference_ini, "enable: on", "enable: on\nfsync: yes");
    assert_int_equal(parse(text, &cfg, err, sizeof err), SX_E_PROTOCOL);
    assert_non_null(strstr(err, "fsync"));
    free(text);
}

static void expect_error(const char *base, const char *prefix, const char *replacement,
                         sx_status want, const char *in_err)
{
    char *text = edit_ini(base, prefix, replacement);
    sx_router_config cfg;
    char err[512] = "";
    sx_status st = parse(text, &cfg, err, sizeof err);
    if (st != want || !strstr(err, in_err))
        fail_msg("'%s' -> '%s': status %s, err '%s'", prefix, replacement ? replacement : "(removed)",
                 sx_status_str(st), err);
    free(text);
}

static void test_missing_mandatory_keys(void **state)
{
    (void)state;
    expect_error(reference_ini, "port: 5223,443", NULL, SX_E_PROTOCOL, "port");
    expect_error(reference_ini, "websockets: off", NULL, SX_E_PROTOCOL, "websockets");
    expect_error(reference_ini, "ttl: 21600", NULL, SX_E_PROTOCOL, "ttl");
    expect_error(reference_ini, "check_interval: 3600", NULL, SX_E_PROTOCOL, "check_interval");
    /* ttl/check_interval are only needed when disconnect is on */
    char *text = edit_ini(reference_ini, "disconnect: on", "disconnect: off");
    char *text2 = edit_ini(text, "ttl: 21600", NULL);
    sx_router_config cfg;
    char err[256];
    assert_ok(parse(text2, &cfg, err, sizeof err));
    assert_false(cfg.expire_inactive);
    free(text2);
    free(text);
    /* an empty file has no [TRANSPORT] port */
    assert_int_equal(parse("", &cfg, err, sizeof err), SX_E_PROTOCOL);
    assert_non_null(strstr(err, "port"));
}

static void test_bad_values(void **state)
{
    (void)state;
    const char *p = "port: 5223,443";
    expect_error(reference_ini, p, "port: 5223,abc", SX_E_PROTOCOL, "port");
    expect_error(reference_ini, p, "port: 0", SX_E_PROTOCOL, "port");
    expect_error(reference_ini, p, "port: 65536", SX_E_PROTOCOL, "port");
    expect_error(reference_ini, p, "port: 5223,,443", SX_E_PROTOCOL, "port");
    expect_error(reference_ini, p, "port: 443,443", SX_E_PROTOCOL, "port");
    expect_error(reference_ini, p, "port: 1,2,3,4,5,6,7,8,9", SX_E_PROTOCOL, "port");
    expect_error(reference_ini, "websockets: off", "websockets: on", SX_E_USAGE, "websockets");
    expect_error(reference_ini, "websockets: off", "websockets: 443", SX_E_USAGE, "websockets");
    expect_error(reference_ini, "create_password:", "create_password: a@b", SX_E_PROTOCOL,
                 "create_password");
    expect_error(reference_ini, "create_password:", "create_password: a b", SX_E_PROTOCOL,
                 "create_password");
    expect_error(reference_ini, "create_password:", "create_password: a/b", SX_E_PROTOCOL,
                 "create_password");
    expect_error(reference_ini, "create_password:", "create_password:", SX_E_PROTOCOL,
                 "create_password");
    expect_error(reference_ini, "# control_port_admin_password:",
                 "control_port_admin_password: x:y", SX_E_PROTOCOL, "control_port_admin_password");
    expect_error(reference_ini, "expire_messages_days: 21", "expire_messages_days: 3w",
                 SX_E_PROTOCOL, "expire_messages_days");
    expect_error(reference_ini, "ttl: 21600", "ttl: -5", SX_E_PROTOCOL, "ttl");
    expect_error(reference_ini, "# control_port: 5224", "control_port: 70000", SX_E_PROTOCOL,
                 "control_port");
    expect_error(reference_ini, "https: 443", "https: web", SX_E_PROTOCOL, "https");
    /* our workers key */
    expect_error(reference_ini, "# control_port: 5224", "workers: 0", SX_E_PROTOCOL, "workers");
    expect_error(reference_ini, "# control_port: 5224", "workers: 10000", SX_E_PROTOCOL, "workers");
    /* PROTOCOL-NOTES H11 storage combinations, as the reference's
     * readStoreType: database queues with journal or database messages;
     * database and memory together are refused */
    char *db = edit_ini(reference_ini, "store_queues: memory", "store_queues: database");
    expect_error(db, "store_messages: memory", "store_messages: memory", SX_E_PROTOCOL, "not compatible");
    expect_error(db, "store_messages: memory", "store_messages: journal\ndb_store_log: on", SX_E_USAGE,
                 "db_store_log");
    expect_error(db, "store_messages: memory", "store_messages: journal\ndb_pool_size: 0", SX_E_PROTOCOL,
                 "db_pool_size");
    free(db);
    char *nolog = edit_ini(reference_ini, "enable: on", "enable: off");
    expect_error(nolog, "store_messages: memory", "store_messages: journal", SX_E_USAGE, "needs the store log");
    free(nolog);
    expect_error(reference_ini, "store_messages: memory", "store_messages: journal\njournal_fsync: yes",
                 SX_E_PROTOCOL, "journal_fsync");
    expect_error(reference_ini, "store_messages: memory", "store_messages: database",
                 SX_E_PROTOCOL, "not compatible");
    expect_error(reference_ini, "store_queues: memory", "store_queues: database", SX_E_PROTOCOL,
                 "not compatible");
    expect_error(reference_ini, "store_queues: memory", "store_queues: disk", SX_E_PROTOCOL,
                 "Invalid storage settings");
    expect_error(reference_ini, "store_messages: memory", "store_messages: disk", SX_E_PROTOCOL,
                 "store_messages: disk");
    /* [INFORMATION] is validated only when source_code is present */
    char *with_src = edit_ini(reference_ini, "# source_code: URI", "source_code: https://x.org/src");
    expect_error(with_src, "hosting_type: virtual", "hosting_type: cloud", SX_E_PROTOCOL,
                 "hosting_type");
    expect_error(with_src, "# server_country:", "server_country: GBR", SX_E_PROTOCOL,
                 "server_country");
    expect_error(with_src, "# hosting_country:", "hosting_country: 1A", SX_E_PROTOCOL,
                 "hosting_country");
    sx_router_config cfg;
    char err[256];
    assert_ok(parse(with_src, &cfg, err, sizeof err));
    assert_true(cfg.has_source_code);
    assert_string_equal(cfg.source_code, "https://x.org/src");
    free(with_src);
    char *no_src = edit_ini(reference_ini, "hosting_type: virtual", "hosting_type: cloud");
    assert_ok(parse(no_src, &cfg, err, sizeof err));
    free(no_src);
}

static void init_defaults(sx_router_init_options *o)
{
    sx_router_init_options_default(o);
    assert_true(o->store_log);
    assert_int_equal(o->sign_alg, SX_KEY_ED25519);
    assert_string_equal(o->ip, "127.0.0.1");
    assert_int_equal(o->password_mode, SX_ROUTER_PASSWORD_RANDOM);
}

static void test_ini_text_round_trip(void **state)
{
    (void)state;
    sx_kit_paths p = test_paths();
    sx_router_init_options o;
    init_defaults(&o);
    char *text = NULL;
    assert_ok(sx_router_ini_text(&p, &o, "<hostnames>", "s3cr3t-PW_=", NULL, NULL, &text));
    /* Our default INI has the same key lines as the reference's. */
    char *no_workers = edit_ini(text, "# workers:", NULL);
    char *ours = malloc(strlen(no_workers) + 2);
    assert_non_null(ours);
    ours[0] = '\n'; /* so that the first line is matched like the others */
    strcpy(ours + 1, no_workers);
    free(no_workers);
    const char *ours_nc = ours;
    const char *k = reference_ini;
    /* every key line of the reference sample appears in ours, in order; the
     * sample has https enabled and a fixed password, as passed above */
    while (*k) {
        const char *eol = strchr(k, '\n');
        size_t n = (size_t)(eol - k);
        const char *colon = memchr(k, ':', n);
        bool key_line = n > 0 && (k[0] != '#' || colon != NULL);
        if (key_line) {
            char line[256];
            line[0] = '\n';
            memcpy(line + 1, k, n);
            line[n + 1] = '\n';
            line[n + 2] = 0;
            const char *at = strstr(ours_nc, line);
            if (!at)
                fail_msg("key line '%.*s' missing or out of order", (int)n, k);
            ours_nc = at + n + 1;
        }
        k = eol + 1;
    }
    free(ours);

    sx_router_config cfg;
    char err[256];
    assert_ok(sx_router_config_parse(text, strlen(text), &p, &cfg, err, sizeof err));
    assert_true(cfg.store_log && cfg.restore_messages && cfg.new_queues && cfg.expire_inactive);
    assert_false(cfg.expire_on_send);
    assert_false(cfg.log_stats);
    assert_string_equal(cfg.create_password, "s3cr3t-PW_=");
    assert_string_equal(cfg.host, "<hostnames>");
    assert_string_equal(cfg.port_text, "5223,443");
    assert_int_equal(cfg.web_https_port, 443); /* web not disabled */
    assert_false(cfg.has_source_code);
    free(text);

    /* Every option set: values land where the reference puts them. */
    o.store_log = false;
    o.daily_stats = true;
    o.password_mode = SX_ROUTER_PASSWORD_NONE;
    o.control_port = 5300;
    o.socks_proxy = "127.0.0.1:9050";
    o.own_domains = "example.com,example.net";
    o.source_code = "https://example.com/src";
    o.operator_name = "Op Ltd";
    o.operator_country = "gb";
    o.hosting_name = "Host Inc";
    o.hosting_country = "US";
    o.hosting_type = "dedicated";
    o.server_country = "de";
    o.website = "https://op.example";
    o.web_path = "/srv/www";
    o.disable_web = true;
    o.db_schema = "other";
    assert_ok(sx_router_init_check(&o, err, sizeof err));
    assert_ok(sx_router_ini_text(&p, &o, "smp.example.com", NULL, "adminpw", "userpw", &text));
    static const char *const expect[] = {
        "\nsource_code: https://example.com/src\n",
        "\nserver_country: DE\n",
        "\noperator: Op Ltd\n",
        "\noperator_country: GB\n",
        "\nwebsite: https://op.example\n",
        "\nhosting: Host Inc\n",
        "\nhosting_country: US\n",
        "\nhosting_type: dedicated\n",
        "\nenable: off\n",
        "\n# db_connection: postgresql://smp@/smp_server_store\n",
        "\ndb_schema: other\n",
        "\nrestore_messages: off\n",
        "\nlog_stats: on\n",
        "\n# create_password: ",
        "\ncontrol_port_admin_password: adminpw\n",
        "\ncontrol_port_user_password: userpw\n",
        "\nhost: smp.example.com\n",
        "\ncontrol_port: 5300\n",
        "\nown_server_domains: example.com,example.net\n",
        "\nsocks_proxy: 127.0.0.1:9050\n",
        "\nstatic_path: /srv/www\n",
        "\n# https: 443\n",
        "\n# cert: /etc/opt/simplex/web.crt\n",
        "\n# key: /etc/opt/simplex/web.key\n",
    };
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++)
        if (!strstr(text, expect[i]))
            fail_msg("missing '%s'", expect[i]);
    assert_ok(sx_router_config_parse(text, strlen(text), &p, &cfg, err, sizeof err));
    assert_false(cfg.store_log);
    assert_false(cfg.restore_messages);
    assert_true(cfg.log_stats);
    assert_false(cfg.has_create_password);
    assert_true(cfg.has_control_admin_password);
    assert_string_equal(cfg.control_user_password, "userpw");
    assert_int_equal(cfg.control_port, 5300);
    assert_true(cfg.has_source_code);
    assert_int_equal(cfg.web_https_port, 0);
    assert_string_equal(cfg.web_static_path, "/srv/www");
    free(text);
}

static void test_init_check(void **state)
{
    (void)state;
    sx_router_init_options o;
    char err[256];
#define BAD(stmt, text)                                                         \
    do {                                                                        \
        init_defaults(&o);                                                      \
        stmt;                                                                   \
        err[0] = 0;                                                             \
        assert_int_equal(sx_router_init_check(&o, err, sizeof err), SX_E_USAGE); \
        assert_non_null(strstr(err, text));                                     \
    } while (0)
    BAD(o.operator_name = "x", "--source-code");
    BAD(o.server_country = "DE", "--source-code");
    BAD((o.source_code = "https://s", o.operator_country = "DE"), "--operator");
    BAD((o.source_code = "https://s", o.hosting_country = "DE"), "--hosting");
    BAD((o.source_code = "https://s", o.server_country = "DEU"), "ISO 3166");
    BAD((o.source_code = "https://s", o.hosting_type = "cloud"), "hosting-type");
    BAD((o.password_mode = SX_ROUTER_PASSWORD_GIVEN, o.password = "a:b"), "password");
    BAD((o.password_mode = SX_ROUTER_PASSWORD_GIVEN, o.password = ""), "password");
    BAD(o.fqdn = "a\nb", "control characters");
    BAD(o.web_path = "/x\r", "control characters");
    BAD(o.ip = "", "--ip");
    BAD(o.fqdn = "a234567890123456789012345678901234567890123456789012345678901234567890", "--fqdn");
    BAD(o.sign_alg = SX_KEY_X25519, "ED25519");
#undef BAD
    init_defaults(&o);
    assert_ok(sx_router_init_check(&o, err, sizeof err));
}

static void test_address_and_printing(void **state)
{
    (void)state;
    uint8_t fp[SX_FINGERPRINT_LEN];
    for (size_t i = 0; i < sizeof fp; i++)
        fp[i] = (uint8_t)i;
    char fptext[SX_FINGERPRINT_TEXT_SIZE];
    assert_ok(sx_x509_fingerprint_text(fp, fptext, sizeof fptext));
    char addr[256], want[256];
    assert_ok(sx_router_format_address(fp, "pw", "smp.example.com", "5223,443", addr, sizeof addr));
    snprintf(want, sizeof want, "smp://%s:pw@smp.example.com:5223,443", fptext);
    assert_string_equal(addr, want);
    assert_ok(sx_router_format_address(fp, NULL, "h", NULL, addr, sizeof addr));
    snprintf(want, sizeof want, "smp://%s@h", fptext);
    assert_string_equal(addr, want);
    assert_int_equal(sx_router_format_address(fp, NULL, "h", NULL, addr, 20), SX_E_LIMIT);

    sx_router_config cfg;
    char err[256];
    assert_ok(parse(reference_ini, &cfg, err, sizeof err));
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    assert_non_null(f);
    sx_router_config_print_start(&cfg, f, "SMP server v0.1.0 / abcdef0", fp);
    sx_router_config_print_limits(&cfg, f);
    sx_router_config_print_serving(&cfg, f);
    fclose(f);
    char expected[2048];
    snprintf(expected, sizeof expected,
             "SMP server v0.1.0 / abcdef0\n"
             "Fingerprint: %s\n"
             "Server address: smp://%s:s3cr3t-PW_=@<hostnames>:5223,443\n"
             "Warning: server source code is not specified.\n"
             "Add 'source_code' property to [INFORMATION] section of INI file.\n"
             "Store log: /var/opt/simplex/smp-server-store.log\n"
             "expiring messages after 21 days\n"
             "expiring clients inactive for 21600 seconds every 3600 seconds\n"
             "creating new queues requires password\n"
             "Serving SMP protocol on port 5223 (TLS)...\n"
             "Serving SMP protocol on port 443 (TLS)...\n"
             "Serving static site on port 443 (TLS)...\n",
             fptext, fptext);
    assert_string_equal(out, expected);
    free(out);

    /* port 5223 alone: no port suffix, the 443 warning; other policies */
    assert_ok(parse("[INFORMATION]\nsource_code: https://s.org\n"
                    "[STORE_LOG]\nexpire_messages_days: 0\n"
                    "[AUTH]\nnew_queues: off\n"
                    "[TRANSPORT]\nhost: a.org\nport: 5223\nwebsockets: off\n",
                    &cfg, err, sizeof err));
    f = open_memstream(&out, &len);
    assert_non_null(f);
    sx_router_config_print_start(&cfg, f, "V", fp);
    sx_router_config_print_limits(&cfg, f);
    sx_router_config_print_serving(&cfg, f);
    fclose(f);
    snprintf(expected, sizeof expected,
             "V\nFingerprint: %s\n"
             "Server address: smp://%s@a.org\n"
             "Server source code: https://s.org\n"
             "Store log disabled.\n"
             "expiring messages after 0 days\n"
             "not expiring inactive clients\n"
             "creating new queues NOT allowed\n"
             "Serving SMP protocol on port 5223 (TLS)...\n"
             "\nWARNING: the clients will use port 443 by default soon.\n"
             "Set `port` in smp-server.ini section [TRANSPORT] to `5223,443`\n\n",
             fptext, fptext);
    assert_string_equal(out, expected);
    free(out);

    /* allowed without a password; TTL units as the reference shows them */
    assert_ok(parse("[STORE_LOG]\nexpire_messages_days: 7\n"
                    "[TRANSPORT]\nport: 443\nwebsockets: off\n",
                    &cfg, err, sizeof err));
    f = open_memstream(&out, &len);
    assert_non_null(f);
    sx_router_config_print_limits(&cfg, f);
    cfg.msg_ttl = 90;
    sx_router_config_print_limits(&cfg, f);
    cfg.msg_ttl = 7200;
    sx_router_config_print_limits(&cfg, f);
    cfg.msg_ttl = 5400;
    sx_router_config_print_limits(&cfg, f);
    fclose(f);
    assert_non_null(strstr(out, "expiring messages after 7 days\n"));
    assert_non_null(strstr(out, "creating new queues allowed\n"));
    assert_non_null(strstr(out, "expiring messages after 90 seconds\n"));
    assert_non_null(strstr(out, "expiring messages after 2 hours\n"));
    assert_non_null(strstr(out, "expiring messages after 90 minutes\n"));
    free(out);
}

static void test_paths_from_env(void **state)
{
    (void)state;
    sx_kit_paths p;
    assert_int_equal(setenv(SX_ROUTER_CFG_ENV, "", 1), 0);
    assert_int_equal(unsetenv(SX_ROUTER_LOG_ENV), 0);
    assert_ok(sx_router_paths_from_env(&p));
    assert_string_equal(p.cfg_dir, "/etc/opt/simplex");
    assert_string_equal(p.log_dir, "/var/opt/simplex");
    assert_string_equal(p.fingerprint, "/etc/opt/simplex/fingerprint");
    assert_string_equal(p.messages_dir, "/var/opt/simplex/messages");
    assert_int_equal(setenv(SX_ROUTER_CFG_ENV, "/a", 1), 0);
    assert_int_equal(setenv(SX_ROUTER_LOG_ENV, "/b", 1), 0);
    assert_ok(sx_router_paths_from_env(&p));
    assert_string_equal(p.ini, "/a/smp-server.ini");
    assert_string_equal(p.ntfs_log, "/b/smp-server-ntfs.log");
    char longp[SX_KIT_PATH_MAX];
    memset(longp, 'x', sizeof longp - 10);
    longp[0] = '/';
    longp[sizeof longp - 10] = 0;
    assert_int_equal(sx_router_paths_init(&p, longp, "/b"), SX_E_LIMIT);
    unsetenv(SX_ROUTER_CFG_ENV);
    unsetenv(SX_ROUTER_LOG_ENV);
}

static mode_t file_mode(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        fail_msg("%s: %s", path, strerror(errno));
    return sb.st_mode & 0777;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_setup_init_and_delete(void **state)
{
    (void)state;
    umask(022);
    char base[] = "/tmp/sx_config_test.XXXXXX";
    assert_non_null(mkdtemp(base));
    char cfg_dir[256], log_dir[256], junk[300];
    snprintf(cfg_dir, sizeof cfg_dir, "%s/etc/nested", base);
    snprintf(log_dir, sizeof log_dir, "%s/var", base);
    /* init empties an existing log folder */
    assert_int_equal(mkdir(log_dir, 0755), 0);
    snprintf(junk, sizeof junk, "%s/old", log_dir);
    assert_int_equal(mkdir(junk, 0755), 0);
    snprintf(junk, sizeof junk, "%s/old/file", log_dir);
    write_file(junk, "x");

    sx_kit_paths p;
    assert_ok(sx_router_paths_init(&p, cfg_dir, log_dir));
    sx_router_init_options o;
    init_defaults(&o);
    o.fqdn = "smp.example.com";
    o.sign_alg = SX_KEY_ED448;
    o.disable_web = true;
    sx_router_init_result res;
    char err[512] = "";
    if (sx_router_setup_init(&p, &o, &res, err, sizeof err) != SX_OK)
        fail_msg("init: %s", err);
    assert_int_equal(access(junk, F_OK), -1);
    assert_true(res.has_password);
    assert_int_equal(strlen(res.password), 44); /* base64url of 32 bytes */
    assert_true(sx_kit_password_valid(res.password));
    assert_string_equal(res.host, "smp.example.com");

    assert_int_equal(file_mode(p.ca_key), 0600);
    assert_int_equal(file_mode(p.server_key), 0600);
    assert_int_equal(file_mode(p.ca_crt), 0644);
    assert_int_equal(file_mode(p.server_crt), 0644);
    assert_int_equal(file_mode(p.fingerprint), 0644);
    assert_int_equal(file_mode(p.ini), 0600); /* holds the passwords */

    /* fingerprint file = base64url(SHA-256(DER(ca.crt))) + "\n" */
    X509 *ca = NULL, *srv = NULL;
    assert_ok(sx_x509_read_cert_file(p.ca_crt, &ca));
    assert_ok(sx_x509_read_cert_file(p.server_crt, &srv));
    uint8_t fp[SX_FINGERPRINT_LEN];
    assert_ok(sx_x509_fingerprint(ca, fp));
    assert_memory_equal(fp, res.fingerprint, sizeof fp);
    char fptext[SX_FINGERPRINT_TEXT_SIZE], line[128];
    assert_ok(sx_x509_fingerprint_text(fp, fptext, sizeof fptext));
    FILE *f = fopen(p.fingerprint, "r");
    assert_non_null(f);
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = 0;
    assert_int_equal(n, strlen(fptext) + 1);
    assert_memory_equal(line, fptext, strlen(fptext));
    assert_int_equal(line[n - 1], '\n');
    assert_ok(sx_x509_verify_signed_by(srv, ca));
    char cn[128];
    assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(srv), NID_commonName, cn,
                                          sizeof cn) > 0);
    assert_string_equal(cn, "smp.example.com");
    sx_key *k = NULL;
    assert_ok(sx_x509_read_key_file(p.ca_key, SX_KEY_SIGN_ALGS, &k));
    assert_int_equal(sx_key_alg_of(k), SX_KEY_ED448);
    sx_key_free(k);
    X509_free(srv);
    X509_free(ca);

    /* the INI written by init loads, and start's checks pass */
    sx_router_config cfg;
    if (sx_router_config_load(&p, &cfg, err, sizeof err) != SX_OK)
        fail_msg("load: %s", err);
    assert_string_equal(cfg.host, "smp.example.com");
    assert_string_equal(cfg.create_password, res.password);
    assert_int_equal(cfg.web_https_port, 0);
    uint8_t fp2[SX_FINGERPRINT_LEN];
    assert_ok(sx_kit_check_fingerprint(&p, fp2, err, sizeof err));
    assert_memory_equal(fp2, fp, sizeof fp);
    assert_ok(sx_router_config_check_storage(&cfg, err, sizeof err));

    /* a second init refuses and leaves the files alone */
    assert_int_equal(sx_router_setup_init(&p, &o, &res, err, sizeof err), SX_E_USAGE);
    assert_non_null(strstr(err, "already initialized"));
    assert_ok(sx_kit_check_fingerprint(&p, fp2, err, sizeof err));

    /* PROTOCOL-NOTES H6: a changed fingerprint file */
    write_file(p.fingerprint, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n");
    assert_int_equal(sx_kit_check_fingerprint(&p, fp2, err, sizeof err), SX_E_AUTH);
    assert_string_equal(err, "Stored fingerprint is invalid.");
    assert_int_equal(unlink(p.fingerprint), 0);
    assert_int_equal(sx_kit_check_fingerprint(&p, fp2, err, sizeof err), SX_E_IO);

    /* PROTOCOL-NOTES H11: a journal folder next to the memory store */
    assert_int_equal(mkdir(p.messages_dir, 0755), 0);
    assert_int_equal(sx_router_config_check_storage(&cfg, err, sizeof err), SX_E_USAGE);
    assert_non_null(strstr(err, p.messages_dir));
    write_file(p.messages_log, "");
    assert_int_equal(sx_router_config_check_storage(&cfg, err, sizeof err), SX_E_USAGE);
    assert_non_null(strstr(err, "both"));
    /* on the journal the folder is expected and the messages log is not */
    cfg.msgs_journal = true;
    assert_int_equal(sx_router_config_check_storage(&cfg, err, sizeof err), SX_E_USAGE);
    assert_non_null(strstr(err, "journal import"));
    assert_int_equal(unlink(p.messages_log), 0);
    assert_ok(sx_router_config_check_storage(&cfg, err, sizeof err));
    cfg.msgs_journal = false;

    /* PROTOCOL-NOTES H14 */
    assert_ok(sx_kit_setup_delete(&p, err, sizeof err));
    assert_int_equal(access(cfg_dir, F_OK), -1);
    assert_int_equal(access(log_dir, F_OK), -1);
    assert_ok(sx_kit_setup_delete(&p, err, sizeof err)); /* already gone */

    /* no password, IP other than loopback: host is the IP */
    init_defaults(&o);
    o.ip = "192.0.2.7";
    o.password_mode = SX_ROUTER_PASSWORD_NONE;
    o.control_port = SX_ROUTER_DEFAULT_CONTROL_PORT;
    if (sx_router_setup_init(&p, &o, &res, err, sizeof err) != SX_OK)
        fail_msg("init: %s", err);
    assert_false(res.has_password);
    assert_string_equal(res.host, "192.0.2.7");
    assert_ok(sx_router_config_load(&p, &cfg, err, sizeof err));
    assert_false(cfg.has_create_password);
    assert_int_equal(cfg.control_port, 5224);
    assert_true(cfg.has_control_admin_password && cfg.has_control_user_password);
    assert_int_equal(strlen(cfg.control_admin_password), 24); /* 18 random bytes */
    assert_string_not_equal(cfg.control_admin_password, cfg.control_user_password);
    assert_int_equal(cfg.web_https_port, 443); /* disable_web not set here */
    assert_ok(sx_kit_setup_delete(&p, err, sizeof err));

    char etc[300];
    snprintf(etc, sizeof etc, "%s/etc", base);
    assert_int_equal(rmdir(etc), 0);
    assert_int_equal(rmdir(base), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_ini_loads),
        cmocka_unit_test(test_defaults_when_absent),
        cmocka_unit_test(test_proxy_section),
        cmocka_unit_test(test_bad_boolean_names_key),
        cmocka_unit_test(test_fsync_key),
        cmocka_unit_test(test_database_keys),
        cmocka_unit_test(test_journal_keys),
        cmocka_unit_test(test_missing_mandatory_keys),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_ini_text_round_trip),
        cmocka_unit_test(test_init_check),
        cmocka_unit_test(test_address_and_printing),
        cmocka_unit_test(test_paths_from_env),
        cmocka_unit_test(test_setup_init_and_delete),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
