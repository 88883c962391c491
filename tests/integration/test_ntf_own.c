/* The NTF router's per-router counters of the operator's own SMP routers
 * (reference Notifications/Server/Stats.hs, Prometheus.hs at 152c30ca68):
 * the smp-server, ntf-server (its INI with own_server_domains: 127.0.0.1,
 * log_stats on, prometheus_interval 1) and APNS stand-in programs as
 * processes, our SMP and NTF clients:
 *  - two messages sent with the notification flag to a queue on the SMP
 *    router at 127.0.0.1 are pushed; a third is answered 400
 *    BadDeviceToken: the metrics file has the _own series labelled
 *    {server="127.0.0.1"}: received 3, delivered 2, failed 1, no
 *    received_auth_own series;
 *  - at stop, ntf-server-stats.log has the reference's per-router lines;
 *    after a start on it, the metrics file shows the same counts again;
 *  - the subscription and connection gauges: the SMP router is an own one
 *    (its _own series labelled by host, the _other ones at 0);
 *  - the same with own_server_domains: example.com counts nothing per
 *    router (the received total still counts), and the gauges count the
 *    SMP router among the others, with no _own series;
 *  - the control port's server-info (the router in this process): the
 *    SMP router's host and counts for the admin role, counts only for the
 *    user role. */
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/base64.h"
#include "ntf_router/server.h"
#include "transport/net.h"
#include "ntf_env.h"
#include "pool_router.h"
#include "prom_check.h"
#include "simplex/smp.h"

#define OWN "{server=\"127.0.0.1\"}"

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = (size_t)1 << 20;
    char *b = malloc(cap);
    size_t n = b ? fread(b, 1, cap - 1, f) : 0;
    fclose(f);
    if (b)
        b[n] = 0;
    return b;
}

/* Waits until the metrics file has series at want (and is Prometheus text);
 * returns the file's text (the caller frees it). */
static char *wait_metric(env *e, const char *series, double want)
{
    double v = -1;
    for (int i = 0; i < WAIT_S * 10; i++) {
        char *m = read_all(e->paths.metrics);
        if (m && prom_value(m, series, &v) && v == want) {
            char err[256];
            size_t samples = 0;
            if (!prom_check(m, &samples, err, sizeof err))
                fail_msg("metrics: %s", err);
            return m;
        }
        free(m);
        ntf_sleep_ms(100);
    }
    fail_msg("%s: %g, expected %g", series, v, want);
    return NULL;
}

static void wait_sub(env *e, sx_slice sub_id, const sx_key *verify)
{
    sx_ntf_sub_status st = 0;
    for (int i = 0; i < WAIT_S * 20; i++) {
        assert_ok(sx_ntf_sub_check(e->c, sub_id, verify, &st, NULL, 0, NULL));
        if (st == SX_NTF_SUB_ACTIVE)
            return;
        ntf_sleep_ms(50);
    }
    fail_msg("subscription status %d, expected ACTIVE", st);
}

typedef struct queue_setup {
    sx_smp_conn *rc, *sc;
    sx_smp_queue *rcv, *snd;
} queue_setup;

/* A queue with a notifier on rp, subscribed at the NTF router for d. */
static void queue_subscribed(env *e, device *d, pool_router *rp, queue_setup *qs)
{
    assert_ok(sx_smp_connect(rp->addr, NULL, &qs->rc));
    assert_ok(sx_smp_connect(rp->addr, NULL, &qs->sc));
    assert_ok(sx_smp_queue_create(qs->rc, &qs->rcv));
    assert_ok(sx_smp_queue_sender(qs->rcv, &qs->snd));
    sx_smp_ntf_creds nc;
    assert_ok(sx_smp_queue_notify_on(qs->rc, qs->rcv, &nc));
    uint8_t nkey[128];
    size_t nkey_len = 0;
    assert_ok(sx_b64_decode(nc.notifier_key, strlen(nc.notifier_key), SX_B64_URL, nkey, sizeof nkey, &nkey_len));
    uint8_t qbuf[600];
    sx_ntf_queue q;
    assert_ok(sx_ntf_queue_of(rp->addr, sx_slice_of(nc.notifier_id, sizeof nc.notifier_id), qbuf, sizeof qbuf, &q));
    uint8_t sid[SX_NTF_CLIENT_ID_MAX];
    size_t sid_len = 0;
    assert_ok(sx_ntf_sub_create(e->c, dev_id(d), d->verify, &q, sx_slice_of(nkey, nkey_len), sid, &sid_len, NULL));
    wait_sub(e, sx_slice_of(sid, sid_len), d->verify);
}

static void queue_free(queue_setup *qs)
{
    sx_smp_close(qs->sc);
    sx_smp_close(qs->rc);
    sx_smp_queue_free(qs->snd);
    sx_smp_queue_free(qs->rcv);
}

static void test_own_counters(void **state)
{
    (void)state;
    pool_router rp;
    assert_int_equal(pool_router_init(&rp, NULL), 0);
    pool_router_start(&rp);
    assert_non_null(strstr(rp.addr, "@127.0.0.1:"));
    g_ntf_stats = true;
    g_ntf_stats_interval = 1;
    g_ntf_own_domains = "127.0.0.1";
    env e;
    env_init(&e, 0);
    device d;
    device_activate(&e, &d, "0a0a0a0a5b5b5b5b");
    queue_setup qs;
    queue_subscribed(&e, &d, &rp, &qs);

    /* the gauges: one subscription on one own router, one connection */
    char *m = wait_metric(&e, "simplex_ntf_smp_subscription_active_sub_count_own" OWN, 1);
    double v = 0;
    assert_true(prom_value(m, "simplex_ntf_smp_subscription_active_server_count_own" OWN, &v));
    assert_true(v == 1);
    assert_true(prom_value(m, "simplex_ntf_smp_subscription_active_sub_count_other", &v));
    assert_true(v == 0);
    assert_true(prom_value(m, "simplex_ntf_smp_subscription_active_server_count_other", &v));
    assert_true(v == 0);
    assert_true(prom_value(m, "simplex_ntf_smp_subscribers_count_own" OWN, &v));
    assert_true(v == 1);
    assert_true(prom_value(m, "simplex_ntf_smp_agent_clients_count_own" OWN, &v));
    assert_true(v == 1);
    assert_true(prom_value(m, "simplex_ntf_smp_agent_clients_count_other", &v));
    assert_true(v == 0);
    assert_true(prom_value(m, "simplex_ntf_smp_subscribers_count_other", &v));
    assert_true(v == 0);
    free(m);

    static char line[16384];
    assert_ok(sx_smp_send_notify(qs.sc, qs.snd, "one", 3));
    wait_lines(&e, d.hex, "\"apns-push-type\":\"alert\"", 1, line, sizeof line);
    assert_ok(sx_smp_send_notify(qs.sc, qs.snd, "two", 3));
    wait_lines(&e, d.hex, "\"apns-push-type\":\"alert\"", 2, line, sizeof line);
    char rule[128];
    snprintf(rule, sizeof rule, "%s 400 BadDeviceToken\n", d.hex);
    write_text(e.failures, rule);
    assert_ok(sx_smp_send_notify(qs.sc, qs.snd, "three", 5));
    wait_lines(&e, d.hex, "\"status\":400", 1, line, sizeof line);

    m = wait_metric(&e, "simplex_ntf_notifications_failed_own" OWN, 1);
    free(m);
    m = wait_metric(&e, "simplex_ntf_notifications_delivered_own" OWN, 2);
    assert_true(prom_value(m, "simplex_ntf_notifications_received_own" OWN, &v));
    assert_true(v == 3);
    assert_true(prom_value(m, "simplex_ntf_notifications_received", &v));
    assert_true(v == 3);
    assert_non_null(strstr(m, "# TYPE simplex_ntf_notifications_delivered_own counter\n"));
    assert_non_null(strstr(m, "\n# ntfFailedOwn\n"));
    assert_null(strstr(m, "simplex_ntf_notifications_received_auth_own"));
    free(m);

    /* the stats file at stop, and the counts back after a start on it */
    env_router_stop(&e);
    char *st = read_all(e.paths.stats_backup);
    assert_non_null(st);
    assert_non_null(strstr(st, "\nntfReceivedOwn=127.0.0.1 3\n"
                               "ntfReceivedAuthOwn=\n"
                               "ntfDeliveredOwn=127.0.0.1 2\n"
                               "ntfFailedOwn=127.0.0.1 1\n"));
    free(st);
    assert_int_equal(unlink(e.paths.metrics), 0);
    env_router_start(&e);
    m = wait_metric(&e, "simplex_ntf_notifications_received_own" OWN, 3);
    assert_true(prom_value(m, "simplex_ntf_notifications_delivered_own" OWN, &v));
    assert_true(v == 2);
    assert_true(prom_value(m, "simplex_ntf_notifications_failed_own" OWN, &v));
    assert_true(v == 1);
    free(m);

    queue_free(&qs);
    device_free(&d);
    env_free(&e);
    pool_router_free(&rp);
    g_ntf_own_domains = NULL;
}

/* A router not on the own domains: counted in the totals only. */
static void test_other_router(void **state)
{
    (void)state;
    pool_router rp;
    assert_int_equal(pool_router_init(&rp, NULL), 0);
    pool_router_start(&rp);
    g_ntf_stats = true;
    g_ntf_stats_interval = 1;
    g_ntf_own_domains = "example.com 0.0.0.1";
    env e;
    env_init(&e, 0);
    device d;
    device_activate(&e, &d, "0c0c0c0c5d5d5d5d");
    queue_setup qs;
    queue_subscribed(&e, &d, &rp, &qs);
    static char line[16384];
    assert_ok(sx_smp_send_notify(qs.sc, qs.snd, "one", 3));
    wait_lines(&e, d.hex, "\"apns-push-type\":\"alert\"", 1, line, sizeof line);
    char *m = wait_metric(&e, "simplex_ntf_notifications_delivered", 1);
    assert_null(strstr(m, "_own{"));
    free(m);
    /* the gauges: the router among the others */
    m = wait_metric(&e, "simplex_ntf_smp_subscription_active_sub_count_other", 1);
    double v = 0;
    assert_true(prom_value(m, "simplex_ntf_smp_subscription_active_server_count_other", &v));
    assert_true(v == 1);
    assert_true(prom_value(m, "simplex_ntf_smp_subscribers_count_other", &v));
    assert_true(v == 1);
    assert_true(prom_value(m, "simplex_ntf_smp_agent_clients_count_other", &v));
    assert_true(v == 1);
    assert_null(strstr(m, "_count_own"));
    free(m);
    env_router_stop(&e);
    char *st = read_all(e.paths.stats_backup);
    assert_non_null(st);
    assert_non_null(strstr(st, "\nntfReceivedOwn=\nntfReceivedAuthOwn=\nntfDeliveredOwn=\nntfFailedOwn=\n"));
    free(st);
    queue_free(&qs);
    device_free(&d);
    env_free(&e);
    pool_router_free(&rp);
    g_ntf_own_domains = NULL;
}

/* server-info on a control session authorized with password, '\n'-joined
 * into out (the lines before the help answer that follows it). */
static void server_info(env *e, const char *password, char *out, size_t cap)
{
    int fd = -1;
    assert_ok(sx_net_connect("127.0.0.1", sx_ntf_server_control_port(e->srv), TIMEOUT_MS, &fd));
    int fl = fcntl(fd, F_GETFL);
    assert_true(fl >= 0 && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == 0);
    struct timeval tv = {WAIT_S, 0};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    FILE *in = fdopen(dup(fd), "r");
    assert_non_null(in);
    char cmd[128];
    int n = snprintf(cmd, sizeof cmd, "auth %s\nserver-info\nhelp\n", password);
    assert_int_equal(write(fd, cmd, (size_t)n), n);
    char line[1100];
    for (int i = 0; i < 3; i++) /* greeting, its second line, the role */
        assert_non_null(fgets(line, sizeof line, in));
    out[0] = 0;
    while (fgets(line, sizeof line, in) && strncmp(line, "commands: ", 10) != 0)
        strncat(out, line, cap - strlen(out) - 1);
    fclose(in);
    close(fd);
}

static void test_server_info(void **state)
{
    (void)state;
    pool_router rp;
    assert_int_equal(pool_router_init(&rp, NULL), 0);
    pool_router_start(&rp);
    const char *process = g_ntf_server;
    g_ntf_server = NULL; /* the control port is the in-process router's */
    g_ntf_control = true;
    g_ntf_own_domains = "127.0.0.1";
    env e;
    env_init(&e, 0);
    device d;
    device_activate(&e, &d, "0e0e0e0e5f5f5f5f");
    queue_setup qs;
    queue_subscribed(&e, &d, &rp, &qs);
    static char out[16384];
    const char *want = "SMP queue subscriptions total: 1\n"
                       "SMP queue subscriptions on own servers: 1\n"
                       "SMP queue subscriptions on 127.0.0.1: 1\n"
                       "SMP queue subscriptions on other servers: 0\n";
    for (int i = 0; i < WAIT_S * 10; i++) {
        server_info(&e, "ntf-admin", out, sizeof out);
        if (strstr(out, want))
            break;
        ntf_sleep_ms(100);
    }
    if (!strstr(out, want))
        fail_msg("server-info:\n%s", out);
    assert_non_null(strstr(out, "SMP subcscribers own servers count: 1\n"
                                "SMP subcscribers own servers: 127.0.0.1\n"
                                "SMP subcscribers other servers count: 0\n"));
    assert_non_null(strstr(out, "SMP clients own servers count: 1\n"));
    assert_non_null(strstr(out, "SMP sessions count: 1\n"));
    assert_non_null(strstr(out, "Pending SMP queue subscriptions own servers count: 0\n"));
    /* the user role: counts, no hosts */
    server_info(&e, "ntf-user", out, sizeof out);
    assert_non_null(strstr(out, "SMP queue subscriptions on own servers: 1\n"
                                "SMP queue subscriptions on other servers: 0\n"));
    assert_null(strstr(out, "127.0.0.1"));
    queue_free(&qs);
    device_free(&d);
    env_free(&e);
    pool_router_free(&rp);
    g_ntf_own_domains = NULL;
    g_ntf_control = false;
    g_ntf_server = process;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s <apns-standin> <ntf-server>\n", argv[0]);
        return 2;
    }
    g_standin = argv[1];
    g_ntf_server = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_own_counters),
        cmocka_unit_test(test_other_router),
        cmocka_unit_test(test_server_info),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
