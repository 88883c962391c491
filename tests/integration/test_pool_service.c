/* The connection pool as a service (sx_smp_pool_opts.conn.service) against
 * the real smp-server program as a child process:
 *
 * - messaging: 10,000 queues subscribed through the pool are associated
 *   with the service (SOK with its ServiceId); messages are held
 *   unacknowledged, the router is killed with SIGKILL and started again on
 *   the same store; the pool reconnects and resubscribes all of them with
 *   one SUBS (the commands the pool sent: one SUBS, no per-queue SUB; the
 *   router's counters in its metrics file: one service subscription), the
 *   expected count and hash match the
 *   router's, the held messages arrive once each, then SERVICE_ALL; none is
 *   lost or delivered twice, and the messages sent after arrive too;
 * - notifier: the same with NSUB / NSUBS and NOTIFICATION events;
 * - drift: a queue deleted behind the pool's back (its DELETE appended to
 *   the store log while the router is down) shows in SERVICE_SUBSCRIBED as
 *   one queue fewer and another hash, and is only reported; every
 *   association removed behind its back (count 0) makes the pool subscribe
 *   each queue again (SERVICE_UNAVAILABLE), associating them anew;
 * - an older router (the pool offering at most v18): an ordinary connection
 *   and per-queue SUBs after the restart, no SUBS.
 * - ENDS: a blocking connection with the same certificate takes the queues
 *   with its own SUBS; the pool reports SERVICE_END, keeps them parked and
 *   subscribes them with SUBS on its next connection;
 * - refusals: a broken chain fails the connect; the event-loop client with
 *   a role the router does not serve gets the router's 'E' answer
 *   (SX_E_AUTH); a service without its key file is a usage error;
 * - the thread-safe pool (sx_smp_tpool) as a service: its notes carry the
 *   figures, sx_smp_tpool_service_id the same id after the restart;
 * - sx_smp_aconn as a service: queues created subscribed, the same ServiceId
 *   on the next connection, one SUBS, the waiting messages, SERVICE_ALL.
 *
 * Queues are made with a blocking connection; the service's certificate
 * chain is made here (CA and leaf, Ed25519). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "simplex/simplex.h"

#include "pool_router.h"

#include "smp_client/smp_api_int.h"
#include "smp_client/smp_client.h"
#include "smp_client/smp_client_loop.h"
#include "core/base64.h"
#include "crypto/x509.h"
#include "smp/encoding.h"

#define NQ 10000       /* queues of the messaging service */
#define HELD_EVERY 10  /* every 10th queue gets messages */
#define NN 300         /* notifiers of the notifier service */
#define ND 20          /* queues of the drift test */
#define WAIT_MS 180000 /* every wait of the loop */

/* ---- the service's certificate ---- */

static struct {
    char crt[160], ca[160], key[160];
} C;

/* A chain in the router's folder: <name>.crt, <name>-ca.crt, <name>.key. */
static void make_chain_named(const char *name, char crt[160], char ca[160], char key[160])
{
    snprintf(crt, 160, "%s/%s.crt", R.dir, name);
    snprintf(ca, 160, "%s/%s-ca.crt", R.dir, name);
    snprintf(key, 160, "%s/%s.key", R.dir, name);
    sx_key *ca_key, *leaf_key;
    assert_ok(sx_key_generate(SX_KEY_ED25519, &ca_key));
    assert_ok(sx_key_generate(SX_KEY_ED25519, &leaf_key));
    X509 *ca_cert, *leaf;
    assert_ok(sx_x509_create_ca(ca_key, &ca_cert));
    assert_ok(sx_x509_create_server(ca_key, ca_cert, leaf_key, "pool service", &leaf));
    assert_ok(sx_x509_write_cert_file(crt, leaf));
    assert_ok(sx_x509_write_cert_file(ca, ca_cert));
    assert_ok(sx_x509_write_key_file(key, leaf_key));
    X509_free(ca_cert);
    X509_free(leaf);
    sx_key_free(ca_key);
    sx_key_free(leaf_key);
}

static void make_chain(void)
{
    make_chain_named("svc", C.crt, C.ca, C.key);
}

/* ---- what the pool reported ---- */

typedef struct qrec {
    sx_smp_queue *rq, *sq;
    sx_smp_notifier *nt;
    int delivered[3][3]; /* [session 1, 2, 3+][message k] */
    int acked[3];
} qrec;

typedef struct idx {
    const void *p;
    int i;
} idx;

static struct {
    sx_loop *loop;
    sx_smp_pool *pool;
    qrec *q;
    int n;
    idx *by_ptr;
    uint64_t session;
    int subscribed, sub_failed, connected;
    bool hold; /* keep messages m1 unacknowledged */
    int svc_subscribed, svc_all, svc_end, svc_unavailable;
    int64_t svc_expected, svc_count;
    bool svc_hash_same;
    int msgs_after_all; /* held messages (m1) delivered after SERVICE_ALL on its session */
    uint64_t all_session;
    int ntfs[3];
    char bad[256];
} S;

static void note_bad(const char *what)
{
    if (!S.bad[0])
        snprintf(S.bad, sizeof S.bad, "%s", what);
}

static int idx_cmp(const void *a, const void *b)
{
    const idx *x = a, *y = b;
    return x->p < y->p ? -1 : x->p > y->p;
}

static void index_queues(bool notifiers)
{
    S.by_ptr = calloc((size_t)S.n, sizeof *S.by_ptr);
    assert_non_null(S.by_ptr);
    for (int i = 0; i < S.n; i++)
        S.by_ptr[i] = (idx){notifiers ? (const void *)S.q[i].nt : (const void *)S.q[i].rq, i};
    qsort(S.by_ptr, (size_t)S.n, sizeof *S.by_ptr, idx_cmp);
}

static int index_of(const void *p)
{
    idx key = {p, 0};
    const idx *f = bsearch(&key, S.by_ptr, (size_t)S.n, sizeof *S.by_ptr, idx_cmp);
    return f ? f->i : -1;
}

static int sess_slot(uint64_t session)
{
    return session <= 1 ? 0 : session == 2 ? 1
                                           : 2;
}

static void ack_done(sx_smp_pool *p, sx_status st, void *arg)
{
    (void)p;
    if (st != SX_OK)
        return; /* an ack cut by the kill: the message comes again */
    int *acked = arg;
    (*acked)++;
}

static void on_event(sx_smp_pool *p, const sx_smp_pool_event *e, void *arg)
{
    (void)arg;
    switch (e->kind) {
    case SX_SMP_POOL_CONNECTED:
        S.connected++;
        S.session = e->session;
        break;
    case SX_SMP_POOL_SUBSCRIBED: S.subscribed++; break;
    case SX_SMP_POOL_SUB_FAILED: S.sub_failed++; break;
    case SX_SMP_POOL_SERVICE_SUBSCRIBED:
        S.svc_subscribed++;
        S.svc_expected = e->service_expected;
        S.svc_count = e->service_count;
        S.svc_hash_same = memcmp(e->service_expected_hash, e->service_hash, 16) == 0;
        break;
    case SX_SMP_POOL_SERVICE_ALL:
        S.svc_all++;
        S.all_session = e->session;
        break;
    case SX_SMP_POOL_SERVICE_END: S.svc_end++; break;
    case SX_SMP_POOL_SERVICE_UNAVAILABLE: S.svc_unavailable++; break;
    case SX_SMP_POOL_NOTIFICATION: {
        int i = index_of(e->notifier);
        if (i < 0)
            note_bad("a NOTIFICATION of an unknown notifier");
        else
            S.ntfs[sess_slot(e->session)]++;
        break;
    }
    case SX_SMP_POOL_MESSAGE: {
        int i = index_of(e->queue);
        if (i < 0 || !e->ev || e->ev->kind != SX_SMP_EVENT_MESSAGE) {
            note_bad("MESSAGE of an unknown queue, or not a message");
            break;
        }
        int qi = -1, k = -1;
        char body[64] = "";
        size_t n = e->ev->body_len < sizeof body - 1 ? e->ev->body_len : sizeof body - 1;
        memcpy(body, e->ev->body, n);
        if (sscanf(body, "q%d m%d", &qi, &k) != 2 || qi != i || k < 0 || k > 2) {
            note_bad("a message body that is not the queue's");
            break;
        }
        if (S.q[i].acked[k])
            note_bad("a message delivered after its acknowledgement");
        S.q[i].delivered[sess_slot(e->session)][k]++;
        if (k == 1 && S.all_session == e->session)
            S.msgs_after_all++;
        if (S.hold && k == 1)
            break;
        if (sx_smp_pool_ack(p, e, ack_done, &S.q[i].acked[k]) != SX_OK)
            note_bad("ack refused on the current session");
        break;
    }
    default: break;
    }
}

/* ---- running the loop ---- */

static bool (*g_done)(void);
static int64_t g_deadline;
static bool g_timed_out;

static void check_cb(sx_loop *loop, void *arg)
{
    (void)arg;
    if (g_done() || S.bad[0])
        sx_loop_stop(loop);
    else if (now_ms() > g_deadline) {
        g_timed_out = true;
        sx_loop_stop(loop);
    }
}

static void run_until(bool (*done)(void), const char *what)
{
    g_done = done;
    g_deadline = now_ms() + WAIT_MS;
    g_timed_out = false;
    sx_timer *t;
    assert_ok(sx_timer_new(S.loop, check_cb, NULL, &t));
    sx_timer_start(t, 5, 5);
    assert_ok(sx_loop_run(S.loop));
    sx_timer_free(t);
    if (S.bad[0])
        fail_msg("%s: %s", what, S.bad);
    if (g_timed_out) {
        sx_smp_pool_stats st;
        sx_smp_pool_get_stats(S.pool, &st);
        fail_msg("%s: not done in %d ms (active %zu, pending %zu, associated %zu)", what, WAIT_MS, st.active,
                 st.pending, st.service_assoc);
    }
}

static bool all_active(void)
{
    sx_smp_pool_stats st;
    sx_smp_pool_get_stats(S.pool, &st);
    return st.active == (size_t)S.n && st.pending == 0;
}

static bool all_associated(void)
{
    sx_smp_pool_stats st;
    sx_smp_pool_get_stats(S.pool, &st);
    return all_active() && st.service_assoc == (size_t)S.n;
}

static int g_k, g_slot;
static bool sent_acked(void)
{
    for (int i = 0; i < S.n; i += HELD_EVERY)
        if (!S.q[i].acked[g_k])
            return false;
    return true;
}

static bool sent_delivered(void)
{
    for (int i = 0; i < S.n; i += HELD_EVERY)
        if (!S.q[i].delivered[g_slot][g_k])
            return false;
    return true;
}

static bool service_all_and_acked(void)
{
    return S.svc_all > 0 && S.all_session == S.session && sent_acked();
}

static void send_to_every_tenth(sx_smp_conn *bc, int k)
{
    for (int i = 0; i < S.n; i += HELD_EVERY) {
        char body[32];
        int n = snprintf(body, sizeof body, "q%d m%d", i, k);
        assert_ok(sx_smp_send(bc, S.q[i].sq, body, (size_t)n));
    }
}

/* ---- the router's own counters (its metrics file, written every second) ---- */

/* The value of a metric (-1: not there). */
static long long metric(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/smp-server-metrics.txt", R.var);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[512];
    long long v = -1;
    size_t nl = strlen(name);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, name, nl) == 0 && line[nl] == ' ')
            v = atoll(line + nl + 1);
    fclose(f);
    return v;
}

/* The service subscriptions (SUBS / NSUBS) the router counted, however
 * their figures compared: party "rcv" or "ntf". */
static long long service_subs(const char *party)
{
    static const char *const kinds[] = {"ok", "more", "fewer", "diff"};
    long long n = 0;
    for (size_t i = 0; i < 4; i++) {
        char name[96];
        snprintf(name, sizeof name, "simplex_smp_%s_services_sub_%s", party, kinds[i]);
        long long v = metric(name);
        if (v < 0)
            return -1;
        n += v;
    }
    return n;
}

/* Waits (up to WAIT_MS) until the metric reaches want; its value then. */
static long long metric_reach(const char *name, long long want)
{
    int64_t deadline = now_ms() + WAIT_MS;
    long long v;
    while ((v = metric(name)) < want && now_ms() < deadline)
        sleep_ms(100);
    return v;
}

/* The association counters of party ("rcv", "ntf") against want[]: new,
 * duplicate, updated, removed, then the session subscriptions and their
 * queues (the reference's srvAssoc* and srvSubCount / srvSubQueues). The
 * router writes its metrics every second: waits for the first that grows. */
static void assoc_metrics(const char *party, const long long want[6])
{
    static const char *const names[] = {"assoc_new", "assoc_duplicate", "assoc_updated",
                                        "assoc_removed", "sub_count", "sub_queues"};
    for (int i = 0; i < 6; i++) {
        char name[96];
        snprintf(name, sizeof name, "simplex_smp_%s_services_%s", party, names[i]);
        long long v = metric_reach(name, want[i]);
        if (v != want[i])
            fail_msg("%s: %lld, expected %lld", name, v, want[i]);
    }
}

/* Waits (up to WAIT_MS) until the router counted `want` of them. */
static long long service_subs_reach(const char *party, long long want)
{
    int64_t deadline = now_ms() + WAIT_MS;
    long long v;
    while ((v = service_subs(party)) < want && now_ms() < deadline)
        sleep_ms(100);
    return v;
}

static int setup(void **state)
{
    (void)state;
    memset(&S, 0, sizeof S);
    if (pool_router_init(&R, "prometheus_interval: 1\n") != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (S.pool)
        sx_smp_pool_free(S.pool);
    if (S.loop)
        sx_loop_free(S.loop);
    for (int i = 0; i < S.n; i++) {
        sx_smp_queue_free(S.q[i].rq);
        sx_smp_queue_free(S.q[i].sq);
        sx_smp_notifier_free(S.q[i].nt);
    }
    free(S.q);
    free(S.by_ptr);
    memset(&S, 0, sizeof S);
    return router_teardown(state);
}

static void make_queues(sx_smp_conn *bc, int n)
{
    S.n = n;
    S.q = calloc((size_t)n, sizeof *S.q);
    assert_non_null(S.q);
    for (int i = 0; i < n; i++) {
        assert_ok(sx_smp_queue_create(bc, &S.q[i].rq));
        assert_ok(sx_smp_queue_sender(S.q[i].rq, &S.q[i].sq));
    }
}

static void new_pool(bool notifier, unsigned max_version)
{
    sx_smp_service_creds creds = {.cert_file = C.crt, .ca_file = C.ca, .key_file = C.key};
    sx_smp_pool_opts o = {.retry_min_ms = 50, .retry_max_ms = 400, .notifier_service = notifier, .max_version = max_version};
    o.conn.service = &creds;
    assert_ok(sx_loop_new(&S.loop));
    assert_ok(sx_smp_pool_new(S.loop, &o, on_event, NULL, &S.pool));
}

/* ---- messaging ---- */

static void test_messaging_service(void **state)
{
    (void)state;
    router_start();
    make_chain();
    sx_smp_conn *bc;
    assert_ok(sx_smp_connect(R.addr, NULL, &bc));
    make_queues(bc, NQ);
    index_queues(false);
    new_pool(false, 0);
    for (int i = 0; i < S.n; i++)
        assert_ok(sx_smp_pool_subscribe(S.pool, S.q[i].rq));
    run_until(all_associated, "every queue subscribed and associated");
    size_t id_len = 0;
    const uint8_t *id = sx_smp_pool_service_id(S.pool, R.addr, &id_len);
    assert_non_null(id);
    assert_int_equal(id_len, 24);
    uint8_t id1[24];
    memcpy(id1, id, sizeof id1);
    assert_int_equal(S.subscribed, NQ);
    assert_int_equal(S.svc_subscribed, 0); /* nothing to SUBS on the first connection */

    /* m0 acknowledged, m1 held */
    send_to_every_tenth(bc, 0);
    g_k = 0;
    run_until(sent_acked, "m0 delivered and acknowledged");
    S.hold = true;
    send_to_every_tenth(bc, 1);
    g_k = 1;
    g_slot = 0;
    run_until(sent_delivered, "m1 delivered (held)");
    sx_smp_close(bc);
    sx_smp_pool_stats before;
    sx_smp_pool_get_stats(S.pool, &before);
    assert_int_equal(before.sub_sent, NQ);
    assert_int_equal(before.service_subs_sent, 0);
    /* every SUB a new association, in one session's subscription */
    assoc_metrics("rcv", (const long long[6]){NQ, 0, 0, 0, 1, NQ});

    router_kill9();
    router_start();
    S.hold = false;
    g_k = 1;
    run_until(service_all_and_acked, "SUBS, the held messages, then SERVICE_ALL");
    assert_true(S.session >= 2);
    sx_smp_pool_stats after;
    sx_smp_pool_get_stats(S.pool, &after);
    assert_int_equal(after.sub_sent, before.sub_sent); /* no per-queue SUB */
    assert_int_equal(after.service_subs_sent, 1);
    assert_int_equal(after.service_subs_ok, 1);
    assert_int_equal(after.service_assoc, NQ);
    assert_int_equal(S.svc_subscribed, 1);
    assert_int_equal(S.svc_expected, NQ);
    assert_int_equal(S.svc_count, NQ);
    assert_true(S.svc_hash_same);
    assert_int_equal(S.svc_unavailable, 0);
    assert_int_equal(S.msgs_after_all, 0);
    /* the router counted one service subscription and no per-queue SUB
     * that delivered a waiting message */
    assert_int_equal(service_subs_reach("rcv", 1), 1);
    assert_int_equal(metric("simplex_smp_subscribtion_successes"), 0);
    /* SUBS sent the held messages (rcvServicesSubMsg); it makes no
     * association, and the session subscription counts are SUB's only */
    assert_int_equal(metric_reach("simplex_smp_rcv_services_sub_msg", NQ / HELD_EVERY), NQ / HELD_EVERY);
    assert_int_equal(metric("simplex_smp_rcv_services_sub_duplicate"), 0);
    assoc_metrics("rcv", (const long long[6]){0, 0, 0, 0, 0, 0});
    id = sx_smp_pool_service_id(S.pool, R.addr, &id_len);
    assert_non_null(id);
    assert_memory_equal(id, id1, sizeof id1);
    for (int i = 0; i < S.n; i++) {
        bool got = i % HELD_EVERY == 0;
        assert_int_equal(S.q[i].delivered[0][0], got);
        assert_int_equal(S.q[i].delivered[0][1], got);
        /* the held message once on the new session; m0 never again */
        assert_int_equal(S.q[i].delivered[1][1] + S.q[i].delivered[2][1], got);
        assert_int_equal(S.q[i].delivered[1][0] + S.q[i].delivered[2][0], 0);
    }

    /* and messages sent now arrive on the service's subscription */
    assert_ok(sx_smp_connect(R.addr, NULL, &bc));
    send_to_every_tenth(bc, 2);
    g_k = 2;
    run_until(sent_acked, "m2 after the resubscription");
    sx_smp_close(bc);
    for (int i = 0; i < S.n; i += HELD_EVERY)
        assert_int_equal(S.q[i].delivered[1][2] + S.q[i].delivered[2][2], 1);
    router_kill9();
}

/* ---- notifier ---- */

static sx_smp_client *internal_connect(void)
{
    uint8_t fp[SX_FINGERPRINT_LEN];
    size_t got = 0;
    assert_ok(sx_b64_decode(R.fp, strlen(R.fp), SX_B64_URL, fp, sizeof fp, &got));
    sx_smp_client *ic = NULL;
    assert_ok(sx_smp_client_connect("127.0.0.1", R.port, fp, NULL, &ic));
    return ic;
}

static void send_notified(sx_smp_client *ic, const sx_smp_queue *sq)
{
    sx_smp_cmd cmd = {.tag = SX_SMP_C_SEND};
    cmd.send.notification = true;
    cmd.send.body = sx_slice_of("notified", 8);
    sx_smp_client_reply r;
    assert_ok(sx_smp_client_call(ic, sx_slice_of(sq->f.snd_id, SX_QUEUE_ID_LEN), &cmd, NULL, &r));
    assert_true(r.ok && r.reply.resp.tag == SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
}

/* NKEY by the recipient: a notifier for queue i. */
static void make_notifier(sx_smp_client *ic, int i)
{
    sx_key *nkey, *ndh;
    assert_ok(sx_key_generate(SX_KEY_ED25519, &nkey));
    assert_ok(sx_key_generate(SX_KEY_X25519, &ndh));
    uint8_t b1[SX_KEY_SPKI_MAX], b2[SX_KEY_SPKI_MAX];
    sx_smp_cmd cmd = {.tag = SX_SMP_C_NKEY};
    assert_ok(sx_smp_pubkey_of(nkey, b1, &cmd.nkey.auth_key));
    assert_ok(sx_smp_pubkey_of(ndh, b2, &cmd.nkey.dh_key));
    sx_smp_client_reply r;
    const sx_smp_queue *rq = S.q[i].rq;
    assert_ok(sx_smp_client_call(ic, sx_slice_of(rq->f.rcv_id, SX_QUEUE_ID_LEN), &cmd, rq->f.rcv_key, &r));
    assert_true(r.ok && r.reply.resp.tag == SX_SMP_R_NID);
    assert_int_equal(r.reply.resp.nid.notifier_id.len, SX_QUEUE_ID_LEN);
    char key_text[512];
    assert_ok(sx_key_private_to_text(nkey, key_text, sizeof key_text));
    assert_ok(sx_smp_notifier_new(R.addr, r.reply.resp.nid.notifier_id.ptr, SX_QUEUE_ID_LEN, key_text, &S.q[i].nt));
    sx_smp_client_reply_free(&r);
    sx_key_free(nkey);
    sx_key_free(ndh);
}

static int g_want_ntf;
static bool ntfs_reached(void)
{
    return S.ntfs[g_slot] >= g_want_ntf;
}

static bool nsubs_answered(void)
{
    return S.svc_subscribed > 0 && all_active();
}

static void test_notifier_service(void **state)
{
    (void)state;
    router_start();
    make_chain();
    sx_smp_conn *bc;
    assert_ok(sx_smp_connect(R.addr, NULL, &bc));
    make_queues(bc, NN);
    sx_smp_close(bc);
    sx_smp_client *ic = internal_connect();
    for (int i = 0; i < S.n; i++)
        make_notifier(ic, i);
    index_queues(true);
    new_pool(true, 0);
    for (int i = 0; i < S.n; i++)
        assert_ok(sx_smp_pool_subscribe_notifier(S.pool, S.q[i].nt));
    run_until(all_associated, "every notifier subscribed and associated");
    assoc_metrics("ntf", (const long long[6]){NN, 0, 0, 0, 1, NN});
    assoc_metrics("rcv", (const long long[6]){0, 0, 0, 0, 0, 0});
    for (int i = 0; i < S.n; i++)
        send_notified(ic, S.q[i].sq);
    g_slot = 0;
    g_want_ntf = NN;
    run_until(ntfs_reached, "a notification of every queue");
    sx_smp_client_close(ic);
    sx_smp_pool_stats before;
    sx_smp_pool_get_stats(S.pool, &before);

    router_kill9();
    router_start();
    run_until(nsubs_answered, "NSUBS after the restart");
    sx_smp_pool_stats after;
    sx_smp_pool_get_stats(S.pool, &after);
    assert_int_equal(after.sub_sent, before.sub_sent); /* no per-queue NSUB */
    assert_int_equal(after.service_subs_sent, 1);
    assert_int_equal(S.svc_expected, NN);
    assert_int_equal(S.svc_count, NN);
    assert_true(S.svc_hash_same);
    assert_int_equal(S.svc_all, 0); /* no ALLS for notifiers */
    assert_int_equal(service_subs_reach("ntf", 1), 1);

    ic = internal_connect();
    for (int i = 0; i < S.n; i++)
        send_notified(ic, S.q[i].sq);
    g_slot = sess_slot(S.session);
    g_want_ntf = NN;
    run_until(ntfs_reached, "a notification of every queue on the new session");
    sx_smp_client_close(ic);
    router_kill9();
}

/* ---- drift ---- */

/* Appends a line to the router's store log (while it is down). */
static void store_log_append(const char *tag, const uint8_t id[SX_QUEUE_ID_LEN], const char *tail)
{
    char path[256], b64[64];
    snprintf(path, sizeof path, "%s/smp-server-store.log", R.var);
    assert_ok(sx_b64_encode(sx_slice_of(id, SX_QUEUE_ID_LEN), SX_B64_URL, b64, sizeof b64));
    FILE *f = fopen(path, "a");
    assert_non_null(f);
    fprintf(f, "%s %s%s\n", tag, b64, tail);
    assert_int_equal(fclose(f), 0);
}

static int g_want_subscribed;
static bool svc_subscribed_reached(void)
{
    return S.svc_subscribed >= g_want_subscribed;
}

static bool reassociated(void)
{
    sx_smp_pool_stats st;
    sx_smp_pool_get_stats(S.pool, &st);
    return S.svc_unavailable > 0 && S.sub_failed == 1 && st.pending == 0 && st.active == (size_t)S.n - 1 &&
           st.service_assoc == (size_t)S.n - 1;
}

static void test_drift(void **state)
{
    (void)state;
    router_start();
    make_chain();
    sx_smp_conn *bc;
    assert_ok(sx_smp_connect(R.addr, NULL, &bc));
    make_queues(bc, ND);
    sx_smp_close(bc);
    index_queues(false);
    new_pool(false, 0);
    for (int i = 0; i < S.n; i++)
        assert_ok(sx_smp_pool_subscribe(S.pool, S.q[i].rq));
    run_until(all_associated, "every queue associated");

    /* queue 0 deleted behind the pool's back: reported, nothing else */
    router_kill9();
    store_log_append("DELETE", S.q[0].rq->f.rcv_id, "");
    router_start();
    g_want_subscribed = 1;
    run_until(svc_subscribed_reached, "SOKS after the deletion");
    assert_int_equal(S.svc_expected, ND);
    assert_int_equal(S.svc_count, ND - 1);
    assert_false(S.svc_hash_same);
    assert_int_equal(S.svc_unavailable, 0);
    sx_smp_pool_stats st;
    sx_smp_pool_get_stats(S.pool, &st);
    assert_int_equal(st.service_assoc, ND);
    uint64_t subs_before = st.sub_sent;
    assert_int_equal(service_subs_reach("rcv", 1), 1);
    assert_int_equal(metric("simplex_smp_rcv_services_sub_fewer"), 1);
    assert_int_equal(metric("simplex_smp_rcv_services_sub_fewer_total"), 1);

    /* every association removed behind its back: the router has none of
     * them, the pool associates each queue again */
    router_kill9();
    for (int i = 1; i < S.n; i++)
        store_log_append("QUEUE_SERVICE", S.q[i].rq->f.rcv_id, " R ");
    router_start();
    run_until(reassociated, "per-queue association again");
    assert_int_equal(S.svc_count, 0);
    sx_smp_pool_get_stats(S.pool, &st);
    assert_int_equal(st.sub_sent, subs_before + ND); /* each queue, the deleted one refused */
    assoc_metrics("rcv", (const long long[6]){ND - 1, 0, 0, 0, 1, ND - 1});

    /* an ordinary client takes queue 1 back: an association removed */
    assert_ok(sx_smp_connect(R.addr, NULL, &bc));
    assert_ok(sx_smp_subscribe(bc, S.q[1].rq));
    assoc_metrics("rcv", (const long long[6]){ND - 1, 0, 0, 1, 1, ND - 1});
    /* the same service in another session subscribes queue 2 it holds: a
     * duplicate association, and that session's first subscription */
    sx_smp_service_creds creds = {.cert_file = C.crt, .ca_file = C.ca, .key_file = C.key};
    sx_smp_conn_opts co = {.service = &creds};
    sx_smp_conn *sc;
    assert_ok(sx_smp_connect(R.addr, &co, &sc));
    assert_ok(sx_smp_subscribe(sc, S.q[2].rq));
    assoc_metrics("rcv", (const long long[6]){ND - 1, 1, 0, 1, 2, ND});
    /* another service takes queue 3: an association updated */
    char crt2[160], ca2[160], key2[160];
    make_chain_named("svc2", crt2, ca2, key2);
    sx_smp_service_creds creds2 = {.cert_file = crt2, .ca_file = ca2, .key_file = key2};
    sx_smp_conn_opts co2 = {.service = &creds2};
    sx_smp_conn *sc2;
    assert_ok(sx_smp_connect(R.addr, &co2, &sc2));
    assert_ok(sx_smp_subscribe(sc2, S.q[3].rq));
    assoc_metrics("rcv", (const long long[6]){ND - 1, 1, 1, 1, 3, ND + 1});
    sx_smp_close(sc2);
    sx_smp_close(sc);
    sx_smp_close(bc);
    router_kill9();
}

/* ---- the queues taken by another connection of the service (ENDS) ---- */

static bool service_ended(void)
{
    return S.svc_end > 0;
}

static bool resubscribed_after_end(void)
{
    return S.svc_subscribed >= 2 && all_active();
}

static void test_service_end(void **state)
{
    (void)state;
    router_start();
    make_chain();
    sx_smp_conn *bc;
    assert_ok(sx_smp_connect(R.addr, NULL, &bc));
    make_queues(bc, ND);
    sx_smp_close(bc);
    index_queues(false);
    new_pool(false, 0);
    for (int i = 0; i < S.n; i++)
        assert_ok(sx_smp_pool_subscribe(S.pool, S.q[i].rq));
    run_until(all_associated, "every queue associated");
    router_kill9();
    router_start();
    g_want_subscribed = 1;
    run_until(svc_subscribed_reached, "SUBS after the restart");
    run_until(all_active, "active through the service");

    /* a blocking connection with the same certificate takes them all */
    sx_smp_service_creds creds = {.cert_file = C.crt, .ca_file = C.ca, .key_file = C.key};
    sx_smp_conn_opts co = {.service = &creds};
    assert_ok(sx_smp_connect(R.addr, &co, &bc));
    sx_smp_queue **rqs = calloc(ND, sizeof *rqs);
    assert_non_null(rqs);
    for (int i = 0; i < ND; i++)
        rqs[i] = S.q[i].rq;
    int64_t count = 0;
    assert_ok(sx_smp_service_subscribe(bc, rqs, ND, &count));
    assert_int_equal(count, ND);
    run_until(service_ended, "SERVICE_END in the pool");
    sx_smp_pool_stats st;
    sx_smp_pool_get_stats(S.pool, &st);
    assert_int_equal(st.active, 0);
    assert_int_equal(st.pending, ND); /* parked, still held */
    assert_int_equal(st.service_assoc, ND);
    sx_smp_close(bc);
    free(rqs);

    /* the next connection subscribes them again with SUBS */
    router_kill9();
    router_start();
    run_until(resubscribed_after_end, "SUBS again after the next restart");
    assert_int_equal(S.svc_count, ND);
    assert_true(S.svc_hash_same);
    sx_smp_pool_get_stats(S.pool, &st);
    assert_int_equal(st.service_subs_sent, 2);
    assert_int_equal(st.sub_sent, ND);
    router_kill9();
}

/* ---- a service the router refuses ---- */

static int g_connect_failed;
static sx_status g_connect_failed_st;

static void refused_event(sx_smp_pool *p, const sx_smp_pool_event *e, void *arg)
{
    (void)p;
    (void)arg;
    if (e->kind == SX_SMP_POOL_CONNECT_FAILED) {
        g_connect_failed++;
        g_connect_failed_st = e->status;
    }
}

static bool one_connect_failed(void)
{
    return g_connect_failed > 0;
}

static bool g_ac_done;
static sx_status g_ac_st;

static void ac_connected(sx_smp_aclient *cl, sx_status st, void *arg)
{
    (void)arg;
    g_ac_done = true;
    g_ac_st = st;
    if (st == SX_OK)
        sx_smp_aclient_close(cl);
}

static bool ac_done(void)
{
    return g_ac_done;
}

static void test_refused_service(void **state)
{
    (void)state;
    router_start();
    make_chain();
    /* a chain whose leaf another key signed: the router's TLS refuses it */
    char crt[192], ca[192];
    snprintf(crt, sizeof crt, "%s/broken.crt", R.dir);
    snprintf(ca, sizeof ca, "%s/broken-ca.crt", R.dir);
    sx_key *ca_key, *other_key, *leaf_key;
    assert_ok(sx_key_generate(SX_KEY_ED25519, &ca_key));
    assert_ok(sx_key_generate(SX_KEY_ED25519, &other_key));
    assert_ok(sx_key_generate(SX_KEY_ED25519, &leaf_key));
    X509 *cax, *other, *leaf;
    assert_ok(sx_x509_create_ca(ca_key, &cax));
    assert_ok(sx_x509_create_ca(other_key, &other));
    assert_ok(sx_x509_create_server(other_key, other, leaf_key, "broken", &leaf));
    assert_ok(sx_x509_write_cert_file(crt, leaf));
    assert_ok(sx_x509_write_cert_file(ca, cax));
    char bad_key[192];
    snprintf(bad_key, sizeof bad_key, "%s/broken.key", R.dir);
    assert_ok(sx_x509_write_key_file(bad_key, leaf_key));
    X509_free(cax);
    X509_free(other);
    X509_free(leaf);
    sx_key_free(ca_key);
    sx_key_free(other_key);
    sx_key_free(leaf_key);
    sx_smp_service_creds creds = {.cert_file = crt, .ca_file = ca, .key_file = bad_key};
    sx_smp_pool_opts o = {.retry_min_ms = 50, .retry_max_ms = 400};
    o.conn.service = &creds;
    assert_ok(sx_loop_new(&S.loop));
    assert_ok(sx_smp_pool_new(S.loop, &o, refused_event, NULL, &S.pool));
    sx_smp_conn *bc;
    assert_ok(sx_smp_connect(R.addr, NULL, &bc));
    make_queues(bc, 1);
    sx_smp_close(bc);
    g_connect_failed = 0;
    assert_ok(sx_smp_pool_subscribe(S.pool, S.q[0].rq));
    run_until(one_connect_failed, "the refused service");
    assert_int_not_equal(g_connect_failed_st, SX_OK);
    sx_smp_pool_opts none = {0};
    sx_smp_service_creds half = {.cert_file = C.crt};
    none.conn.service = &half;
    sx_smp_pool *p2 = NULL;
    assert_int_equal(sx_smp_pool_new(S.loop, &none, refused_event, NULL, &p2), SX_E_USAGE);
    assert_null(p2);

    /* the event-loop client as a proxy service: served (PROTOCOL-NOTES
     * D8a); then the same certificate in another role: refused in the
     * router's answer to the service, SX_E_AUTH */
    uint8_t fp[SX_FINGERPRINT_LEN];
    size_t got = 0;
    assert_ok(sx_b64_decode(R.fp, strlen(R.fp), SX_B64_URL, fp, sizeof fp, &got));
    sx_key *svc_key;
    assert_ok(sx_key_generate(SX_KEY_ED25519, &svc_key));
    sx_smp_client_service_opts so = {.creds = {.cert_file = C.crt, .ca_file = C.ca, .key_file = C.key},
                                     .role = SX_SMP_SERVICE_PROXY,
                                     .service_key = svc_key};
    sx_smp_aclient_opts ao = {.service = &so};
    sx_smp_aclient_callbacks cbs = {.connected = ac_connected};
    sx_smp_aclient *cl;
    g_ac_done = false;
    assert_ok(sx_smp_aclient_connect(S.loop, "127.0.0.1", R.port, fp, &ao, &cbs, &cl));
    run_until(ac_done, "the proxy service");
    assert_int_equal(g_ac_st, SX_OK);
    so.role = SX_SMP_SERVICE_NOTIFIER;
    g_ac_done = false;
    assert_ok(sx_smp_aclient_connect(S.loop, "127.0.0.1", R.port, fp, &ao, &cbs, &cl));
    run_until(ac_done, "the proxy service's certificate as a notifier refused");
    assert_int_equal(g_ac_st, SX_E_AUTH);
    sx_key_free(svc_key);
    router_kill9();
}

/* ---- the pool on a thread of its own ---- */

/* Takes notes until one of kind comes (from this thread: the pool runs on
 * its own). */
static void tpool_wait(sx_smp_tpool *tp, sx_smp_pool_event_kind kind, sx_smp_pool_note *out, int *subscribed)
{
    int64_t deadline = now_ms() + WAIT_MS;
    while (now_ms() < deadline) {
        sx_smp_pool_note n;
        assert_ok(sx_smp_tpool_next(tp, 100, &n));
        if (n.kind == SX_SMP_POOL_SUBSCRIBED)
            (*subscribed)++;
        if (n.kind == SX_SMP_POOL_MESSAGE)
            assert_ok(sx_smp_tpool_ack(tp, &n));
        bool hit = n.kind == kind;
        if (hit)
            *out = n;
        else
            sx_smp_pool_note_clear(&n);
        if (hit)
            return;
    }
    fail_msg("no note of kind %d in %d ms", (int)kind, WAIT_MS);
}

static void test_tpool_service(void **state)
{
    (void)state;
    router_start();
    make_chain();
    sx_smp_conn *bc;
    assert_ok(sx_smp_connect(R.addr, NULL, &bc));
    make_queues(bc, ND);
    sx_smp_service_creds creds = {.cert_file = C.crt, .ca_file = C.ca, .key_file = C.key};
    sx_smp_pool_opts o = {.retry_min_ms = 50, .retry_max_ms = 400};
    o.conn.service = &creds;
    sx_smp_tpool *tp;
    assert_ok(sx_smp_tpool_new(&o, &tp));
    uint8_t id[SX_SMP_SERVICE_ID_CAP];
    assert_int_equal(sx_smp_tpool_service_id(tp, R.addr, id), 0);
    for (int i = 0; i < S.n; i++)
        assert_ok(sx_smp_tpool_subscribe(tp, S.q[i].rq));
    int subscribed = 0;
    sx_smp_pool_note n;
    while (subscribed < ND)
        tpool_wait(tp, SX_SMP_POOL_SUBSCRIBED, &n, &subscribed);
    assert_int_equal(sx_smp_tpool_service_id(tp, R.addr, id), 24);
    uint8_t id1[24];
    memcpy(id1, id, sizeof id1);
    sx_smp_pool_stats st;
    sx_smp_tpool_get_stats(tp, &st);
    assert_int_equal(st.service_assoc, ND);

    /* a message waiting at the restart, then SUBS */
    router_kill9();
    router_start();
    sx_smp_close(bc);
    assert_ok(sx_smp_connect(R.addr, NULL, &bc));
    tpool_wait(tp, SX_SMP_POOL_SERVICE_SUBSCRIBED, &n, &subscribed);
    assert_int_equal(n.service_expected, ND);
    assert_int_equal(n.service_count, ND);
    assert_memory_equal(n.service_expected_hash, n.service_hash, 16);
    sx_smp_pool_note_clear(&n);
    tpool_wait(tp, SX_SMP_POOL_SERVICE_ALL, &n, &subscribed);
    sx_smp_pool_note_clear(&n);
    assert_ok(sx_smp_send(bc, S.q[0].sq, "q0 m0", 5));
    tpool_wait(tp, SX_SMP_POOL_MESSAGE, &n, &subscribed);
    assert_ptr_equal(n.queue, S.q[0].rq);                      /* acknowledged by tpool_wait */
    assert_int_equal(sx_smp_tpool_ack(tp, &n), SX_E_PROTOCOL); /* the router has it no more: NO_MSG */
    sx_smp_pool_note_clear(&n);
    assert_int_equal(sx_smp_tpool_service_id(tp, R.addr, id), 24);
    assert_memory_equal(id, id1, sizeof id1);
    sx_smp_tpool_get_stats(tp, &st);
    assert_int_equal(st.service_subs_ok, 1);
    assert_int_equal(st.sub_sent, ND);
    sx_smp_tpool_free(tp);
    sx_smp_close(bc);
    router_kill9();
}

/* ---- an older router ---- */

static bool subscribed_again(void)
{
    return S.subscribed >= 2 * S.n && all_active();
}

static void test_older_router(void **state)
{
    (void)state;
    router_start();
    make_chain();
    sx_smp_conn *bc;
    assert_ok(sx_smp_connect(R.addr, NULL, &bc));
    make_queues(bc, ND);
    sx_smp_close(bc);
    index_queues(false);
    new_pool(false, 18); /* below the messaging service's v19 */
    for (int i = 0; i < S.n; i++)
        assert_ok(sx_smp_pool_subscribe(S.pool, S.q[i].rq));
    run_until(all_active, "every queue subscribed");
    size_t id_len = 1;
    assert_null(sx_smp_pool_service_id(S.pool, R.addr, &id_len));
    assert_int_equal(id_len, 0);
    router_kill9();
    router_start();
    run_until(subscribed_again, "per-queue SUBs after the restart");
    sx_smp_pool_stats st;
    sx_smp_pool_get_stats(S.pool, &st);
    assert_int_equal(st.service_subs_sent, 0);
    assert_int_equal(st.service_assoc, 0);
    assert_int_equal(st.sub_sent, 2 * ND);
    router_kill9();
}

/* ---- the event-loop connection as a service ---- */

#define NA 8 /* queues of the sx_smp_aconn test */

static struct {
    sx_smp_aconn *c;
    bool up, closed;
    sx_status st;
    int created;
    sx_smp_queue *rq[NA];
    int msgs[NA];
    int all, end;
    bool subs_done;
    sx_status subs_st;
    int64_t subs_count;
    int acked;
} A;

static void a_connected(sx_smp_aconn *c, sx_status st, void *arg)
{
    (void)c;
    (void)arg;
    A.st = st;
    A.up = st == SX_OK;
    if (st != SX_OK)
        A.closed = true;
}

static void a_closed(sx_smp_aconn *c, sx_status st, void *arg)
{
    (void)c;
    (void)st;
    (void)arg;
    A.closed = true;
}

static void a_acked(sx_smp_aconn *c, sx_status st, void *arg)
{
    (void)c;
    (void)arg;
    if (st != SX_OK)
        note_bad("aconn ack failed");
    A.acked++;
}

static void a_event(sx_smp_aconn *c, sx_smp_event *ev, void *arg)
{
    (void)arg;
    if (ev->kind == SX_SMP_EVENT_SERVICE_ALL) {
        A.all++;
        return;
    }
    if (ev->kind == SX_SMP_EVENT_SERVICE_END) {
        A.end++;
        return;
    }
    for (int i = 0; i < NA; i++)
        if (ev->queue == A.rq[i] && ev->kind == SX_SMP_EVENT_MESSAGE) {
            if (A.all)
                note_bad("a waiting message after SERVICE_ALL");
            A.msgs[i]++;
            if (sx_smp_aconn_ack(c, A.rq[i], ev, a_acked, NULL) != SX_OK)
                note_bad("aconn ack refused");
            return;
        }
    note_bad("an aconn event of no queue of the test");
}

static void a_created(sx_smp_aconn *c, sx_status st, sx_smp_queue *q, void *arg)
{
    (void)c;
    (void)arg;
    if (st != SX_OK || A.created >= NA) {
        note_bad("aconn create failed");
        sx_smp_queue_free(q);
        return;
    }
    A.rq[A.created++] = q;
}

static void a_subscribed(sx_smp_aconn *c, sx_status st, int64_t count, void *arg)
{
    (void)c;
    (void)arg;
    A.subs_done = true;
    A.subs_st = st;
    A.subs_count = count;
}

static bool a_up(void)
{
    return A.up || A.closed;
}
static bool a_created_all(void)
{
    return A.created == NA;
}
static bool a_closed_now(void)
{
    return A.closed;
}
static bool a_all_and_acked(void)
{
    return A.subs_done && A.all == 1 && A.acked == NA;
}

static void a_connect(void)
{
    sx_smp_service_creds creds = {.cert_file = C.crt, .ca_file = C.ca, .key_file = C.key};
    sx_smp_conn_opts o = {.service = &creds};
    sx_smp_aconn_callbacks cbs = {.connected = a_connected, .event = a_event, .closed = a_closed};
    A.up = A.closed = false;
    assert_ok(sx_smp_aconn_connect(S.loop, R.addr, &o, &cbs, &A.c));
    run_until(a_up, "the service's aconn connected");
    assert_int_equal(A.st, SX_OK);
}

static void test_aconn_service(void **state)
{
    (void)state;
    memset(&A, 0, sizeof A);
    router_start();
    make_chain();
    assert_ok(sx_loop_new(&S.loop));
    a_connect();
    size_t id_len = 0;
    const uint8_t *id = sx_smp_aconn_service_id(A.c, &id_len);
    assert_non_null(id);
    assert_int_equal(id_len, 24);
    uint8_t id1[24];
    memcpy(id1, id, sizeof id1);
    for (int i = 0; i < NA; i++)
        assert_ok(sx_smp_aconn_create(A.c, a_created, NULL));
    run_until(a_created_all, "queues created by the service");
    sx_smp_aconn_close(A.c);
    run_until(a_closed_now, "closed");

    /* messages wait while the service is away */
    sx_smp_conn *bc;
    assert_ok(sx_smp_connect(R.addr, NULL, &bc));
    assert_null(sx_smp_conn_service_id(bc, NULL));
    for (int i = 0; i < NA; i++) {
        sx_smp_queue *sq;
        assert_ok(sx_smp_queue_sender(A.rq[i], &sq));
        char body[32];
        int n = snprintf(body, sizeof body, "q%d m0", i);
        assert_ok(sx_smp_send(bc, sq, body, (size_t)n));
        sx_smp_queue_free(sq);
    }
    sx_smp_close(bc);

    a_connect();
    id = sx_smp_aconn_service_id(A.c, &id_len);
    assert_non_null(id);
    assert_memory_equal(id, id1, sizeof id1); /* the same certificate, the same ServiceId */
    assert_int_equal(sx_smp_aconn_service_subscribe(A.c, A.rq, NA, NULL, NULL), SX_E_USAGE);
    assert_ok(sx_smp_aconn_service_subscribe(A.c, A.rq, NA, a_subscribed, NULL));
    run_until(a_all_and_acked, "SUBS, the waiting messages, SERVICE_ALL");
    assert_int_equal(A.subs_st, SX_OK);
    assert_int_equal(A.subs_count, NA);
    for (int i = 0; i < NA; i++)
        assert_int_equal(A.msgs[i], 1);
    sx_smp_aconn_close(A.c);
    run_until(a_closed_now, "closed again");
    for (int i = 0; i < NA; i++)
        sx_smp_queue_free(A.rq[i]);
    router_kill9();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_aconn_service, setup, teardown),
        cmocka_unit_test_setup_teardown(test_older_router, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tpool_service, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_service, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drift, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notifier_service, setup, teardown),
        cmocka_unit_test_setup_teardown(test_messaging_service, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
