/* Integration tests of the SMP router's statistics files: an in-process
 * router on loopback with real TLS, driven by our SMP client library.
 * The backup in the reference's format (with its older forms) is restored
 * at start and renamed to .bak, counted events are saved again at stop,
 * the daily CSV lines add up to what was counted, and the metrics file
 * parses as Prometheus text and follows the messages sent. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "prom_check.h"
#include "smp_client/smp_client.h"
#include "crypto/util.h"
#include "crypto/x509.h"
#include "smp_router/server.h"
#include "smp_router/stats.h"

typedef struct env {
    sx_router *r;
    sx_router_opts o;
    uint16_t port;
    uint8_t fp[SX_FINGERPRINT_LEN];
    char dir[64];
    char slog[128], msgs[128], backup[128], bak[128], daily[128], metrics[128];
    char crt[1024], ca[1024], key[1024];
} env;

static env *env_new(bool daily)
{
    env *e = calloc(1, sizeof *e);
    assert_non_null(e);
    snprintf(e->dir, sizeof e->dir, "/tmp/sx_stats_XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    snprintf(e->slog, sizeof e->slog, "%s/smp-server-store.log", e->dir);
    snprintf(e->msgs, sizeof e->msgs, "%s/smp-server-messages.log", e->dir);
    snprintf(e->backup, sizeof e->backup, "%s/smp-server-stats.log", e->dir);
    snprintf(e->bak, sizeof e->bak, "%s/smp-server-stats.log.bak", e->dir);
    snprintf(e->daily, sizeof e->daily, "%s/smp-server-stats.daily.log", e->dir);
    snprintf(e->metrics, sizeof e->metrics, "%s/smp-server-metrics.txt", e->dir);
    snprintf(e->crt, sizeof e->crt, "%s", tu_data_path("fixtures/server.crt"));
    snprintf(e->ca, sizeof e->ca, "%s", tu_data_path("fixtures/ca.crt"));
    snprintf(e->key, sizeof e->key, "%s", tu_data_path("fixtures/server.key"));
    sx_router_opts *o = &e->o;
    o->cert_file = e->crt;
    o->ca_file = e->ca;
    o->key_file = e->key;
    o->host = "127.0.0.1";
    o->n_ports = 1;
    o->workers = 2;
    o->new_queues = true;
    o->store_log_path = e->slog;
    o->msgs_log_path = e->msgs;
    o->quiet = true;
    o->stats_backup_path = e->backup;
    o->stats_daily_path = daily ? e->daily : NULL;
    o->stats_interval = 1;
    o->metrics_path = e->metrics;
    o->metrics_interval = 1;
    X509 *x;
    assert_ok(sx_x509_read_cert_file(e->ca, &x));
    assert_ok(sx_x509_fingerprint(x, e->fp));
    X509_free(x);
    return e;
}

static void env_start(env *e)
{
    assert_ok(sx_router_start(&e->o, &e->r));
    e->port = sx_router_port(e->r, 0);
}

static void env_stop(env *e)
{
    assert_ok(sx_router_stop(e->r));
    e->r = NULL;
}

static void env_free(env *e)
{
    if (e->r)
        sx_router_stop(e->r);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->dir);
    assert_int_equal(system(cmd), 0);
    free(e);
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    assert_non_null(buf);
    size_t k;
    while ((k = fread(buf + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            assert_non_null(buf);
        }
    }
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
}

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- SMP side ---- */

typedef struct queue {
    sx_key *rkey, *rdh, *skey;
    uint8_t rid[24], sid[24];
} queue;

static sx_smp_client *smp_connect(env *e)
{
    sx_smp_client_opts o = {.timeout_ms = 10000};
    sx_smp_client *cl = NULL;
    assert_ok(sx_smp_client_connect("127.0.0.1", e->port, e->fp, &o, &cl));
    return cl;
}

static sx_smp_pubkey pub_of(const sx_key *k, uint8_t *buf)
{
    sx_smp_pubkey p;
    assert_ok(sx_smp_pubkey_of(k, buf, &p));
    return p;
}

static void expect_tag(sx_smp_client_reply *r, sx_smp_resp_tag tag)
{
    assert_true(r->ok);
    if (r->reply.resp.tag != tag)
        fail_msg("expected %s, got %s", sx_smp_resp_name(tag), sx_smp_resp_name(r->reply.resp.tag));
}

/* NEW (not subscribed), then SKEY by the sender. */
static void create_queue(sx_smp_client *cl, queue *q)
{
    memset(q, 0, sizeof *q);
    assert_ok(sx_key_generate(SX_KEY_ED25519, &q->rkey));
    assert_ok(sx_key_generate(SX_KEY_X25519, &q->rdh));
    uint8_t b1[SX_KEY_SPKI_MAX], b2[SX_KEY_SPKI_MAX], b3[SX_KEY_SPKI_MAX];
    sx_smp_cmd c = {.tag = SX_SMP_C_NEW};
    c.new_queue.rcv_auth_key = pub_of(q->rkey, b1);
    c.new_queue.rcv_dh_key = pub_of(q->rdh, b2);
    c.new_queue.has_queue_req = true;
    c.new_queue.queue_req.mode = SX_SMP_QUEUE_MESSAGING;
    sx_smp_client_reply r;
    assert_ok(sx_smp_client_call(cl, sx_slice_of(NULL, 0), &c, q->rkey, &r));
    expect_tag(&r, SX_SMP_R_IDS);
    memcpy(q->rid, r.reply.resp.ids.rcv_id.ptr, 24);
    memcpy(q->sid, r.reply.resp.ids.snd_id.ptr, 24);
    sx_smp_client_reply_free(&r);
    assert_ok(sx_key_generate(SX_KEY_ED25519, &q->skey));
    sx_smp_cmd k = {.tag = SX_SMP_C_SKEY};
    k.key = pub_of(q->skey, b3);
    assert_ok(sx_smp_client_call(cl, sx_slice_of(q->sid, 24), &k, q->skey, &r));
    expect_tag(&r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
}

static void queue_free(queue *q)
{
    sx_key_free(q->rkey);
    sx_key_free(q->rdh);
    sx_key_free(q->skey);
}

static void send_msg(sx_smp_client *cl, queue *q)
{
    sx_smp_cmd c = {.tag = SX_SMP_C_SEND};
    c.send.body = sx_slice_str("hello");
    sx_smp_client_reply r;
    assert_ok(sx_smp_client_call(cl, sx_slice_of(q->sid, 24), &c, q->skey, &r));
    expect_tag(&r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
}

/* GET the head message and ACK it. */
static void receive_msg(sx_smp_client *cl, queue *q)
{
    sx_smp_cmd g = {.tag = SX_SMP_C_GET};
    sx_smp_client_reply r;
    assert_ok(sx_smp_client_call(cl, sx_slice_of(q->rid, 24), &g, q->rkey, &r));
    expect_tag(&r, SX_SMP_R_MSG);
    uint8_t id[24];
    assert_int_equal(r.reply.resp.msg.msg_id.len, 24);
    memcpy(id, r.reply.resp.msg.msg_id.ptr, 24);
    sx_smp_client_reply_free(&r);
    sx_smp_cmd a = {.tag = SX_SMP_C_ACK};
    a.msg_id = sx_slice_of(id, 24);
    assert_ok(sx_smp_client_call(cl, sx_slice_of(q->rid, 24), &a, q->rkey, &r));
    expect_tag(&r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
}

/* An operator's backup written by the reference, in its older forms:
 * qDeleted= for the three deletion counters, activeQueues as
 * dayMsgQueues= lines, no proxy or service sections. */
static const char *const old_backup = "fromTime=2024-01-01T00:00:00Z\n"
                                      "qCreated=10\n"
                                      "qSecured=9\n"
                                      "qDeleted=2\n"
                                      "qCount=8\n"
                                      "qSubNoMsg=5\n"
                                      "msgSent=34\n"
                                      "msgRecv=30\n"
                                      "dayMsgQueues=1,2\n"
                                      "weekMsgQueues=1,2\n"
                                      "monthMsgQueues=1,2,3\n";

/* The metrics file once it shows at least min messages sent (5 s at most). */
static char *metrics_with_sent(env *e, double min)
{
    for (int i = 0; i < 100; i++) {
        char *text = read_all(e->metrics);
        double v = -1;
        if (text && prom_value(text, "simplex_smp_messages_sent", &v) && v >= min)
            return text;
        free(text);
        nap_ms(100);
    }
    fail_msg("the metrics file did not show %g messages sent", min);
    return NULL;
}

static void test_backup_restore_save(void **state)
{
    (void)state;
    env *e = env_new(false);
    write_file(e->backup, old_backup);
    env_start(e);
    /* restored and set aside, as the reference does */
    struct stat sb;
    assert_int_equal(stat(e->backup, &sb), -1);
    assert_int_equal(stat(e->bak, &sb), 0);

    sx_smp_client *cl = smp_connect(e);
    queue q;
    create_queue(cl, &q);
    for (int i = 0; i < 3; i++)
        send_msg(cl, &q);
    receive_msg(cl, &q);
    receive_msg(cl, &q);

    /* the metrics file: valid text, values that moved */
    char *text = metrics_with_sent(e, 37);
    char err[256] = "";
    size_t samples = 0;
    if (!prom_check(text, &samples, err, sizeof err))
        fail_msg("metrics file: %s", err);
    assert_true(samples > 100);
    double v = 0;
    assert_true(prom_value(text, "simplex_smp_messages_received", &v));
    assert_true(v == 32);
    assert_true(prom_value(text, "simplex_smp_queues_created", &v));
    assert_true(v == 11);
    assert_true(prom_value(text, "simplex_smp_queues_secured", &v));
    assert_true(v == 10);
    assert_true(prom_value(text, "simplex_smp_queues_total2", &v));
    assert_true(v == 1);
    assert_true(prom_value(text, "simplex_smp_messages_total", &v));
    assert_true(v == 1);
    assert_true(prom_value(text, "simplex_smp_queues_deleted{type=\"all\"}", &v));
    assert_true(v == 2);
    assert_true(prom_value(text, "simplex_smp_queues_daily", &v));
    assert_true(v == 3); /* two restored hashes and this queue */
    assert_true(prom_value(text, "simplex_smp_clients_total", &v));
    assert_true(v == 1);
    assert_true(prom_value(text, "simplex_smp_delivery_ack_confirmed_count{period=\"0-60\"}", &v));
    assert_true(v == 2);
    free(text);

    sx_smp_client_close(cl);
    env_stop(e);
    /* saved at stop */
    sx_smp_stats_data d;
    size_t line = 0;
    assert_ok(sx_smp_stats_load(e->backup, &d, &line));
    assert_int_equal(d.c[SX_SMP_STAT_MSG_SENT], 37);
    assert_int_equal(d.c[SX_SMP_STAT_MSG_RECV], 32);
    assert_int_equal(d.c[SX_SMP_STAT_Q_CREATED], 11);
    assert_int_equal(d.c[SX_SMP_STAT_Q_COUNT], 1);
    assert_int_equal(d.active.month.n, 4);
    sx_smp_stats_data_cleanup(&d);

    /* and restored again */
    env_start(e);
    cl = smp_connect(e);
    send_msg(cl, &q);
    text = metrics_with_sent(e, 38);
    assert_true(prom_value(text, "simplex_smp_messages_total", &v));
    assert_true(v == 2); /* the one left and the new one */
    free(text);
    sx_smp_client_close(cl);
    queue_free(&q);
    env_free(e);
}

static void test_bad_backup_refused(void **state)
{
    (void)state;
    env *e = env_new(false);
    write_file(e->backup, "fromTime=2024-01-01T00:00:00Z\nqCreated=x\n");
    assert_int_equal(sx_router_start(&e->o, &e->r), SX_E_PROTOCOL);
    e->r = NULL;
    env_free(e);
}

/* The sum of column col over the daily file's lines; *lines of them. */
static long long column_sum(const char *text, size_t col, size_t *lines, size_t *cols)
{
    long long sum = 0;
    *lines = 0;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        size_t n = 1;
        for (const char *s = p; s < nl; s++)
            n += *s == ',';
        *cols = n;
        const char *f = p;
        for (size_t k = 0; k < col; k++)
            f = strchr(f, ',') + 1;
        sum += atoll(f);
        (*lines)++;
        p = nl + 1;
    }
    return sum;
}

static void test_daily_lines(void **state)
{
    (void)state;
    env *e = env_new(true);
    env_start(e);
    sx_smp_client *cl = smp_connect(e);
    queue q;
    create_queue(cl, &q);
    for (int i = 0; i < 4; i++)
        send_msg(cl, &q);
    receive_msg(cl, &q);
    /* a line a second (this test's interval): the counters restart with
     * each, so the lines add up to what happened */
    long long sent = 0, recv = 0, created = 0;
    size_t lines = 0, cols = 0;
    for (int i = 0; i < 100 && (sent < 4 || recv < 1 || created < 1); i++) {
        nap_ms(100);
        char *text = read_all(e->daily);
        if (!text)
            continue;
        created = column_sum(text, 1, &lines, &cols);
        sent = column_sum(text, 4, &lines, &cols);
        recv = column_sum(text, 5, &lines, &cols);
        free(text);
    }
    assert_int_equal(sent, 4);
    assert_int_equal(recv, 1);
    assert_int_equal(created, 1);
    assert_int_equal(cols, 96);
    assert_true(lines >= 1);
    sx_smp_client_close(cl);
    queue_free(&q);
    env_free(e);
}

/* Notifications: NKEY, NSUB (and one refused with the wrong key), a SEND
 * with the flag and its NMSG, NDEL, DEL; then the counters as the metrics
 * file shows them. */
static void test_notification_counters(void **state)
{
    (void)state;
    env *e = env_new(false);
    env_start(e);
    sx_smp_client *rcv = smp_connect(e), *ntf = smp_connect(e);
    queue q;
    create_queue(rcv, &q);
    sx_key *nkey, *ndh;
    assert_ok(sx_key_generate(SX_KEY_ED25519, &nkey));
    assert_ok(sx_key_generate(SX_KEY_X25519, &ndh));
    uint8_t b1[SX_KEY_SPKI_MAX], b2[SX_KEY_SPKI_MAX];
    sx_smp_cmd c = {.tag = SX_SMP_C_NKEY};
    c.nkey.auth_key = pub_of(nkey, b1);
    c.nkey.dh_key = pub_of(ndh, b2);
    sx_smp_client_reply r;
    assert_ok(sx_smp_client_call(rcv, sx_slice_of(q.rid, 24), &c, q.rkey, &r));
    expect_tag(&r, SX_SMP_R_NID);
    uint8_t nid[24];
    memcpy(nid, r.reply.resp.nid.notifier_id.ptr, 24);
    sx_smp_client_reply_free(&r);
    sx_smp_cmd ns = {.tag = SX_SMP_C_NSUB};
    assert_ok(sx_smp_client_call(ntf, sx_slice_of(nid, 24), &ns, q.rkey, &r)); /* not the notifier key */
    expect_tag(&r, SX_SMP_R_ERR);
    sx_smp_client_reply_free(&r);
    assert_ok(sx_smp_client_call(ntf, sx_slice_of(nid, 24), &ns, nkey, &r));
    expect_tag(&r, SX_SMP_R_SOK);
    sx_smp_client_reply_free(&r);
    sx_smp_cmd sm = {.tag = SX_SMP_C_SEND};
    sm.send.notification = true;
    sm.send.body = sx_slice_str("ping");
    assert_ok(sx_smp_client_call(rcv, sx_slice_of(q.sid, 24), &sm, q.skey, &r));
    expect_tag(&r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    assert_ok(sx_smp_client_next_event(ntf, 10000, &r));
    expect_tag(&r, SX_SMP_R_NMSG);
    sx_smp_client_reply_free(&r);
    receive_msg(rcv, &q);
    sx_smp_cmd nd = {.tag = SX_SMP_C_NDEL};
    assert_ok(sx_smp_client_call(rcv, sx_slice_of(q.rid, 24), &nd, q.rkey, &r));
    expect_tag(&r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    sx_smp_cmd del = {.tag = SX_SMP_C_DEL};
    assert_ok(sx_smp_client_call(rcv, sx_slice_of(q.rid, 24), &del, q.rkey, &r));
    expect_tag(&r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);

    char *text = metrics_with_sent(e, 1);
    static const struct {
        const char *series;
        double want;
    } want[] = {
        {"simplex_smp_queues_notify_created", 1},
        {"simplex_smp_queues_notify_deleted", 1},
        {"simplex_smp_subscription_ntf_requests", 1},
        {"simplex_smp_subscribtion_ntf_errors{type=\"auth\"}", 1},
        {"simplex_smp_messages_notify_sent", 1},
        {"simplex_smp_messages_notify_received", 1},
        {"simplex_smp_messages_ntf_successes", 1},
        {"simplex_smp_queues_notify_daily", 1},
        {"simplex_smp_queues_deleted{type=\"secured\"}", 1},
        {"simplex_smp_queues_total1", 0},
        {"simplex_smp_queues_total2", 0},
        {"simplex_smp_messages_notify_get_sent", 1},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        double v = -1;
        if (!prom_value(text, want[i].series, &v) || v != want[i].want)
            fail_msg("%s: %g, want %g", want[i].series, v, want[i].want);
    }
    free(text);
    sx_key_free(nkey);
    sx_key_free(ndh);
    sx_smp_client_close(ntf);
    sx_smp_client_close(rcv);
    queue_free(&q);
    env_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backup_restore_save),
        cmocka_unit_test(test_bad_backup_refused),
        cmocka_unit_test(test_daily_lines),
        cmocka_unit_test(test_notification_counters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
