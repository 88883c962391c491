/* The NTF router's pushes end to end (PROTOCOL-NOTES G7-G12, G19-G24): the
 * APNS stand-in as a separate process (tests/apns_standin, its own test CA
 * trusted by the router), the NTF router in process with its APNS client
 * pointed at it, and the NTF client library (src/ntf_client):
 *  - TNEW of an apns_test token: the verification push arrives with the
 *    reference's headers and a JWT the stand-in accepted; its payload opens
 *    with the DH secret to the registration code; the token becomes
 *    CONFIRMED, and ACTIVE after TVFY with that code;
 *  - TCRN: a periodic "checkMessages" push arrives;
 *  - the stand-in answering 400 BadDeviceToken and 410 Unregistered to a
 *    replaced token's verification push: INVALID,BAD / INVALID,UNREGISTERED;
 *  - GOAWAY after a push: the next push goes over a new connection;
 *  - a batch of commands with an answer per item (one ERR AUTH among them);
 *  - TDEL;
 *  - the control port: stats refused before auth, then the counters of a
 *    registered and verified token; server-info, stats-rts, help, an
 *    unknown command, quit;
 *  - the statistics file: written at stop in the reference's format,
 *    read at start (then renamed .bak) so the counters go on from where
 *    they were; the daily line appended on time with the counters it
 *    restarts; the metrics file as Prometheus text. */
#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/base64.h"
#include "crypto/box.h"
#include "ntf_client/client.h"
#include "ntf_router/apns_wire.h"
#include "ntf_router/server.h"
#include "ntf_router/setup.h"
#include "ntf_router/stats.h"
#include "transport/net.h"

#include "ntf_env.h"
#include "prom_check.h"

static void test_verification(void **state)
{
    (void)state;
    env e;
    env_init(&e, 0);
    device d;
    static char line[16384];
    device_register(&e, &d, "0123456789abcdef0123456789abcdef");
    wait_lines(&e, d.hex, "verification", 1, line, sizeof line);
    /* what the reference sends: a background push, priority 5, the topic,
     * a JWT the stand-in took, answered 200 */
    assert_non_null(strstr(line, "\"path\":\"/3/device/0123456789abcdef0123456789abcdef\""));
    assert_non_null(strstr(line, "\"apns-push-type\":\"background\""));
    assert_non_null(strstr(line, "\"apns-priority\":\"5\""));
    assert_non_null(strstr(line, "\"apns-topic\":\"chat.simplex.app\""));
    assert_non_null(strstr(line, "\"status\":200"));
    assert_non_null(strstr(line, "\"content-available\\\":1"));
    const char *auth = strstr(line, "\"authorization\":\"bearer ");
    assert_non_null(auth);
    auth += strlen("\"authorization\":\"bearer ");
    const char *end = strchr(auth, '"');
    assert_non_null(end);
    sx_ntf_apns_jwt_parts p;
    assert_ok(sx_ntf_apns_jwt_parse(sx_slice_of((const uint8_t *)auth, (size_t)(end - auth)), &p));
    assert_string_equal(p.kid, KID);
    assert_string_equal(p.iss, SX_NTF_APNS_TEAM_ID);
    sx_ntf_apns_key *k = NULL;
    assert_ok(sx_ntf_apns_key_load(e.key, &k));
    assert_true(sx_ntf_apns_jwt_verify(&p, k));
    sx_ntf_apns_key_free(k);
    /* the verification push was delivered: CONFIRMED; a wrong code is refused */
    wait_status(&e, dev_id(&d), d.verify, SX_NTF_TKN_CONFIRMED, SX_NTF_INVALID_NONE);
    uint8_t code[64];
    size_t n = open_sealed(line, "verification", d.reg.dh_secret, code, sizeof code);
    assert_int_equal(n, 32);
    uint8_t wrong[32];
    memcpy(wrong, code, 32);
    wrong[0] ^= 1;
    sx_smp_error err;
    assert_int_equal(sx_ntf_token_verify(e.c, dev_id(&d), d.verify, sx_slice_of(wrong, 32), &err), SX_E_AUTH);
    assert_int_equal(err.type, SX_SMP_ERR_AUTH);
    assert_ok(sx_ntf_token_verify(e.c, dev_id(&d), d.verify, sx_slice_of(code, n), NULL));
    wait_status(&e, dev_id(&d), d.verify, SX_NTF_TKN_ACTIVE, SX_NTF_INVALID_NONE);
    /* TDEL: the token is gone */
    assert_ok(sx_ntf_token_delete(e.c, dev_id(&d), d.verify, NULL));
    sx_ntf_tkn_state s;
    assert_int_equal(sx_ntf_token_check(e.c, dev_id(&d), d.verify, &s, &err), SX_E_AUTH);
    sx_ntf_push_stats ps;
    sx_ntf_server_push_stats(e.srv, &ps);
    assert_true(ps.delivered >= 1);
    device_free(&d);
    env_free(&e);
}

static void test_periodic(void **state)
{
    (void)state;
    env e;
    env_init(&e, 1);
    device d;
    device_activate(&e, &d, "aa00aa00aa00aa00");
    sx_smp_error err;
    assert_int_equal(sx_ntf_token_cron(e.c, dev_id(&d), d.verify, 5, &err), SX_E_LIMIT); /* under 20 min */
    assert_int_equal(err.type, SX_SMP_ERR_QUOTA);
    assert_ok(sx_ntf_token_cron(e.c, dev_id(&d), d.verify, 20, NULL));
    static char line[16384];
    wait_lines(&e, d.hex, "checkMessages", 1, line, sizeof line);
    assert_non_null(strstr(line, "\"apns-push-type\":\"background\""));
    assert_non_null(strstr(line, "{\\\"aps\\\":{\\\"content-available\\\":1},\\\"notificationData\\\":{"
                                 "\\\"checkMessages\\\":true}}"));
    assert_non_null(strstr(line, "\"status\":200"));
    device_free(&d);
    env_free(&e);
}

static void test_apns_errors(void **state)
{
    (void)state;
    env e;
    env_init(&e, 0);
    device d;
    static char line[16384];
    device_activate(&e, &d, "bb11bb11bb11bb11");
    /* the replaced token's verification push: 400 BadDeviceToken */
    write_text(e.failures, "cc22cc22 400 BadDeviceToken\ndd33dd33 410 Unregistered\n");
    assert_ok(sx_ntf_token_replace(e.c, dev_id(&d), d.verify, SX_NTF_PP_APNS_TEST, "cc22cc22", NULL));
    wait_lines(&e, "cc22cc22", "\"status\":400", 1, line, sizeof line);
    wait_status(&e, dev_id(&d), d.verify, SX_NTF_TKN_INVALID, SX_NTF_INVALID_BAD);
    /* 410 Unregistered */
    assert_ok(sx_ntf_token_replace(e.c, dev_id(&d), d.verify, SX_NTF_PP_APNS_TEST, "dd33dd33", NULL));
    wait_lines(&e, "dd33dd33", "\"status\":410", 1, line, sizeof line);
    wait_status(&e, dev_id(&d), d.verify, SX_NTF_TKN_INVALID, SX_NTF_INVALID_UNREGISTERED);
    /* GOAWAY after the answer: the next push connects again */
    write_text(e.failures, "ee44ee44 goaway\n");
    assert_ok(sx_ntf_token_replace(e.c, dev_id(&d), d.verify, SX_NTF_PP_APNS_TEST, "ee44ee44", NULL));
    wait_lines(&e, "ee44ee44", "\"status\":200", 1, line, sizeof line);
    wait_status(&e, dev_id(&d), d.verify, SX_NTF_TKN_CONFIRMED, SX_NTF_INVALID_NONE);
    write_text(e.failures, "");
    assert_ok(sx_ntf_token_replace(e.c, dev_id(&d), d.verify, SX_NTF_PP_APNS_TEST, "ff55ff55", NULL));
    wait_lines(&e, "ff55ff55", "\"status\":200", 1, line, sizeof line);
    wait_status(&e, dev_id(&d), d.verify, SX_NTF_TKN_CONFIRMED, SX_NTF_INVALID_NONE);
    device_free(&d);
    env_free(&e);
}

static void test_batch(void **state)
{
    (void)state;
    env e;
    env_init(&e, 0);
    device d;
    device_register(&e, &d, "1234");
    sx_key *other = NULL;
    assert_ok(sx_key_generate(SX_KEY_ED25519, &other));
    sx_ntf_call calls[3];
    memset(calls, 0, sizeof calls);
    calls[0].entity = dev_id(&d);
    calls[0].key = d.verify;
    calls[0].cmd.tag = SX_NTF_C_TCHK;
    calls[1].entity = dev_id(&d);
    calls[1].key = other; /* not the token's key */
    calls[1].cmd.tag = SX_NTF_C_TCHK;
    calls[2].cmd.tag = SX_NTF_C_PING;
    assert_ok(sx_ntf_client_batch(e.c, calls, 3));
    for (int i = 0; i < 3; i++)
        assert_ok(calls[i].status);
    assert_int_equal(calls[0].resp.tag, SX_NTF_R_TKN);
    assert_int_equal(calls[1].resp.tag, SX_NTF_R_ERR);
    assert_int_equal(calls[1].resp.err.type, SX_SMP_ERR_AUTH);
    assert_int_equal(calls[2].resp.tag, SX_NTF_R_PONG);
    assert_ok(sx_ntf_ping(e.c));
    sx_key_free(other);
    device_free(&d);
    env_free(&e);
}

/* ---- the control port ---- */

static FILE *g_ctl_in;

/* The next answer line (without its newline), failing after WAIT_S. */
static const char *ctl_line(void)
{
    static char line[1024];
    if (!fgets(line, sizeof line, g_ctl_in))
        fail_msg("control port: no line");
    line[strcspn(line, "\r\n")] = 0;
    return line;
}

/* Sends cmd, then "help" as an end mark: the lines before the help
 * answer, '\n'-joined, into out. */
static void ctl_cmd(int fd, const char *cmd, char *out, size_t cap)
{
    char buf[256];
    int n = snprintf(buf, sizeof buf, "%s\nhelp\n", cmd);
    assert_int_equal(write(fd, buf, (size_t)n), n);
    out[0] = 0;
    for (;;) {
        const char *l = ctl_line();
        if (strcmp(l, "commands: stats, stats-rts, server-info, help, quit") == 0)
            return;
        strncat(out, l, cap - strlen(out) - 2);
        strcat(out, "\n");
    }
}

static long long stat_of(const char *text, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "\n%s: ", name);
    const char *p = strstr(text, key);
    if (!p) {
        snprintf(key, sizeof key, "%s: ", name);
        p = strncmp(text, key, strlen(key)) == 0 ? text - 1 : NULL;
    }
    assert_non_null(p);
    return atoll(p + 1 + strlen(name) + 2);
}

static void test_control(void **state)
{
    (void)state;
    g_ntf_control = true;
    env e;
    env_init(&e, 0);
    uint16_t port = sx_ntf_server_control_port(e.srv);
    assert_true(port != 0);
    int fd = -1;
    assert_ok(sx_net_connect("127.0.0.1", port, TIMEOUT_MS, &fd));
    int fl = fcntl(fd, F_GETFL);
    assert_true(fl >= 0 && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == 0);
    struct timeval tv = {WAIT_S, 0};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    g_ctl_in = fdopen(dup(fd), "r");
    assert_non_null(g_ctl_in);
    assert_string_equal(ctl_line(), "Ntf server control port");
    assert_string_equal(ctl_line(), "'help' for supported commands");
    static char out[8192];
    ctl_cmd(fd, "stats", out, sizeof out);
    assert_string_equal(out, "AUTH\n");
    ctl_cmd(fd, "server-info", out, sizeof out);
    assert_string_equal(out, "AUTH\n");
    ctl_cmd(fd, "auth ntf-user", out, sizeof out);
    assert_non_null(strstr(out, "User"));

    device d;
    device_activate(&e, &d, "99998888aaaabbbb");
    ctl_cmd(fd, "stats", out, sizeof out);
    assert_memory_equal(out, "fromTime: ", 10);
    assert_int_equal(stat_of(out, "tknCreated"), 1);
    assert_int_equal(stat_of(out, "tknVerified"), 1);
    assert_int_equal(stat_of(out, "ntfVrfQueued"), 1);
    assert_int_equal(stat_of(out, "ntfVrfDelivered"), 1);
    assert_int_equal(stat_of(out, "ntfVrfFailed"), 0);
    assert_int_equal(stat_of(out, "subCreated"), 0);
    assert_int_equal(stat_of(out, "tknDeleted"), 0);
    assert_ok(sx_ntf_token_delete(e.c, dev_id(&d), d.verify, NULL));
    ctl_cmd(fd, "stats", out, sizeof out);
    assert_int_equal(stat_of(out, "tknDeleted"), 1);
    ctl_cmd(fd, "server-info", out, sizeof out);
    assert_non_null(strstr(out, "SMP sessions count: 0\n"));
    /* own / other routers; their hosts for the admin role only */
    assert_non_null(strstr(out, "SMP subcscribers own servers count: 0\n"
                                "SMP subcscribers other servers count: 0\n"));
    assert_non_null(strstr(out, "SMP queue subscriptions total: 0\n"
                                "SMP queue subscriptions on own servers: 0\n"
                                "SMP queue subscriptions on other servers: 0\n"));
    assert_null(strstr(out, "SMP subcscribers own servers: "));
    assert_non_null(strstr(out, "Push notifications queue length: "));
    ctl_cmd(fd, "stats-rts", out, sizeof out);
    assert_non_null(strstr(out, "VmRSS: "));
    ctl_cmd(fd, "nonsense", out, sizeof out);
    assert_string_equal(out, "error: Failed reading: bad ControlProtocol command\n");
    ctl_cmd(fd, "stats extra", out, sizeof out);
    assert_string_equal(out, "error: endOfInput\n");
    /* quit: the session ends */
    assert_int_equal(write(fd, "quit\n", 5), 5);
    char rest[64];
    assert_null(fgets(rest, sizeof rest, g_ctl_in));
    fclose(g_ctl_in);
    close(fd);
    device_free(&d);
    env_free(&e);
    g_ntf_control = false;
}

/* A control session authorized as the user (g_ctl_in reads it). */
static int ctl_open(env *e)
{
    int fd = -1;
    assert_ok(sx_net_connect("127.0.0.1", sx_ntf_server_control_port(e->srv), TIMEOUT_MS, &fd));
    int fl = fcntl(fd, F_GETFL);
    assert_true(fl >= 0 && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == 0);
    struct timeval tv = {WAIT_S, 0};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    g_ctl_in = fdopen(dup(fd), "r");
    assert_non_null(g_ctl_in);
    assert_string_equal(ctl_line(), "Ntf server control port");
    assert_string_equal(ctl_line(), "'help' for supported commands");
    static char out[256];
    ctl_cmd(fd, "auth ntf-user", out, sizeof out);
    assert_non_null(strstr(out, "User"));
    return fd;
}

static void ctl_close(int fd)
{
    fclose(g_ctl_in);
    g_ctl_in = NULL;
    close(fd);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    buf[n] = 0;
    if (len)
        *len = n;
    return buf;
}

/* The backup file as the router left it, parsed. */
static void backup_counts(env *e, int64_t c[SX_NTF_STAT_COUNT])
{
    size_t len = 0;
    char *text = read_all(e->paths.stats_backup, &len);
    assert_non_null(text);
    assert_memory_equal(text, "fromTime=", 9);
    sx_ntf_stats_data *d = calloc(1, sizeof *d);
    assert_non_null(d);
    size_t line = 0;
    assert_ok(sx_ntf_stats_parse(text, len, d, &line));
    memcpy(c, d->c, sizeof d->c);
    sx_ntf_stats_data_cleanup(d);
    free(d);
    free(text);
}

static void test_stats_restore(void **state)
{
    (void)state;
    g_ntf_control = true;
    g_ntf_stats = true;
    g_ntf_stats_interval = 0;
    env e;
    env_init(&e, 0);
    device d;
    device_activate(&e, &d, "77776666aaaabbbb");
    env_router_stop(&e);
    int64_t c[SX_NTF_STAT_COUNT];
    backup_counts(&e, c);
    assert_int_equal(c[SX_NTF_STAT_TKN_CREATED], 1);
    assert_int_equal(c[SX_NTF_STAT_TKN_VERIFIED], 1);
    assert_int_equal(c[SX_NTF_STAT_NTF_VRF_DELIVERED], 1);
    assert_int_equal(c[SX_NTF_STAT_TKN_DELETED], 0);

    /* read back at start and renamed */
    env_router_start(&e);
    char bak[SX_KIT_PATH_MAX + 8];
    snprintf(bak, sizeof bak, "%s.bak", e.paths.stats_backup);
    assert_int_equal(access(e.paths.stats_backup, F_OK), -1);
    assert_int_equal(access(bak, F_OK), 0);
    int fd = ctl_open(&e);
    static char out[8192];
    ctl_cmd(fd, "stats", out, sizeof out);
    assert_int_equal(stat_of(out, "tknCreated"), 1);
    assert_int_equal(stat_of(out, "tknVerified"), 1);
    assert_int_equal(stat_of(out, "ntfVrfDelivered"), 1);
    assert_non_null(strstr(out, "\ndaily active tokens: 0\ndaily active subscriptions: 0\n"));
    assert_ok(sx_ntf_token_delete(e.c, dev_id(&d), d.verify, NULL));
    ctl_cmd(fd, "stats", out, sizeof out);
    assert_int_equal(stat_of(out, "tknDeleted"), 1);
    ctl_close(fd);

    /* a second restart: the counters go on */
    env_router_stop(&e);
    backup_counts(&e, c);
    assert_int_equal(c[SX_NTF_STAT_TKN_CREATED], 1);
    assert_int_equal(c[SX_NTF_STAT_TKN_DELETED], 1);
    env_router_start(&e);
    fd = ctl_open(&e);
    ctl_cmd(fd, "stats", out, sizeof out);
    assert_int_equal(stat_of(out, "tknCreated"), 1);
    assert_int_equal(stat_of(out, "tknDeleted"), 1);
    ctl_close(fd);

    /* a file that does not parse stops the start, as the reference */
    env_router_stop(&e);
    write_text(e.paths.stats_backup, "fromTime=2024-01-01T00:00:00Z\ntknCreated=x\n");
    sx_ntf_server_opts bad = {0};
    bad.host = "127.0.0.1";
    bad.cert_file = e.paths.server_crt;
    bad.ca_file = e.paths.ca_crt;
    bad.key_file = e.paths.server_key;
    bad.stats_backup_path = e.paths.stats_backup;
    sx_ntf_server *srv = NULL;
    assert_int_not_equal(sx_ntf_server_start(&bad, &srv), SX_OK);
    assert_null(srv);
    unlink(e.paths.stats_backup);
    env_router_start(&e);

    device_free(&d);
    env_free(&e);
    g_ntf_control = false;
    g_ntf_stats = false;
}

/* Sum of column i over the daily file's whole lines; every line has the
 * reference's 22 columns and starts with a date. */
static long long daily_sum(env *e, size_t i, size_t *lines)
{
    char *text = read_all(e->paths.stats_daily, NULL);
    *lines = 0;
    if (!text)
        return 0;
    long long sum = 0;
    for (char *l = text; *l;) {
        char *end = strchr(l, '\n');
        if (!end)
            break; /* a line being written */
        *end = 0;
        size_t cols = 1;
        for (char *p = l; *p; p++)
            cols += *p == ',';
        assert_int_equal(cols, 22);
        assert_true(strlen(l) > 11 && l[4] == '-' && l[7] == '-' && l[10] == ',');
        char *p = l;
        for (size_t k = 0; k < i; k++)
            p = strchr(p, ',') + 1;
        sum += atoll(p);
        (*lines)++;
        l = end + 1;
    }
    free(text);
    return sum;
}

static void test_stats_daily(void **state)
{
    (void)state;
    g_ntf_stats = true;
    g_ntf_stats_interval = 1;
    env e;
    env_init(&e, 0);
    device d;
    device_activate(&e, &d, "55554444aaaabbbb");
    /* the counters are restarted by each line: their sums over the lines
     * reach what was done (tknCreated column 1, tknVerified 2,
     * ntfVrfDelivered 19) */
    size_t lines = 0;
    long long created = 0, verified = 0, vrf = 0;
    for (int i = 0; i < WAIT_S * 10 && (created < 1 || verified < 1 || vrf < 1); i++) {
        ntf_sleep_ms(100);
        created = daily_sum(&e, 1, &lines);
        verified = daily_sum(&e, 2, &lines);
        vrf = daily_sum(&e, 19, &lines);
    }
    assert_int_equal(created, 1);
    assert_int_equal(verified, 1);
    assert_int_equal(vrf, 1);
    assert_true(lines >= 1);
    /* the metrics file: Prometheus text with the reference's names; the
     * token in the store */
    double v = -1;
    char *m = NULL;
    for (int i = 0; i < WAIT_S * 10 && v != 1; i++) {
        ntf_sleep_ms(100);
        free(m);
        m = read_all(e.paths.metrics, NULL);
        if (!m || !prom_value(m, "simplex_ntf_tokens_total", &v))
            v = -1;
    }
    assert_non_null(m);
    char err[256];
    size_t samples = 0;
    if (!prom_check(m, &samples, err, sizeof err))
        fail_msg("metrics: %s", err);
    assert_true(prom_value(m, "simplex_ntf_tokens_total", &v));
    assert_true(v == 1);
    assert_true(prom_value(m, "simplex_ntf_apns_push_queue_length", &v));
    assert_true(prom_value(m, "simplex_ntf_threads_total", &v));
    assert_true(v >= 1);
    free(m);
    device_free(&d);
    env_free(&e);
    g_ntf_stats = false;
    g_ntf_stats_interval = 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s <apns-standin>\n", argv[0]);
        return 2;
    }
    g_standin = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verification),
        cmocka_unit_test(test_periodic),
        cmocka_unit_test(test_apns_errors),
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_control),
        cmocka_unit_test(test_stats_restore),
        cmocka_unit_test(test_stats_daily),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
