/* Integration tests of the event-loop SMP client (client/smp_client_loop.h)
 * against the router in process over loopback TLS; the client's loop runs on
 * the test thread: handshake, a queue's lifecycle through callbacks, 100
 * commands in one flush, keep-alive (also two clients and the program's
 * own timers on one loop), connecting by name, refused and silent peers,
 * close with pending commands, and a router that goes away with commands
 * in flight. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "smp_client/smp_client_loop.h"
#include "core/loop.h"
#include "crypto/x509.h"
#include "smp_router/server.h"
#include "transport/net.h"
#include "smp/msgcrypt.h"

static char s_crt[1024], s_ca[1024], s_key[1024];

typedef struct env {
    sx_router *r;
    uint16_t port;
    uint8_t fp[SX_FINGERPRINT_LEN];
} env;

static sx_status start_router(env *e)
{
    snprintf(s_crt, sizeof s_crt, "%s", tu_data_path("fixtures/server.crt"));
    snprintf(s_ca, sizeof s_ca, "%s", tu_data_path("fixtures/ca.crt"));
    snprintf(s_key, sizeof s_key, "%s", tu_data_path("fixtures/server.key"));
    sx_router_opts o = {0};
    o.cert_file = s_crt;
    o.ca_file = s_ca;
    o.key_file = s_key;
    o.host = "127.0.0.1";
    o.n_ports = 1;
    o.workers = 2;
    o.new_queues = true;
    o.handshake_timeout_ms = 2000;
    SX_TRY(sx_router_start(&o, &e->r));
    e->port = sx_router_port(e->r, 0);
    X509 *x;
    SX_TRY(sx_x509_read_cert_file(s_ca, &x));
    sx_status st = sx_x509_fingerprint(x, e->fp);
    X509_free(x);
    return st;
}

static int setup(void **state)
{
    static env e;
    memset(&e, 0, sizeof e);
    *state = &e; /* so teardown stops what a failed setup started */
    if (start_router(&e) != SX_OK)
        return -1;
    *state = &e;
    return 0;
}

static int teardown(void **state)
{
    /* cmocka runs the group teardown after a failed setup too. */
    env *e = *state;
    if (e)
        sx_router_stop(e->r);
    return 0;
}

/* ---- the test's side of the client: a loop and what the callbacks saw ---- */

#define MAX_EVENTS 16

typedef struct tc {
    sx_loop *loop;
    sx_loop_io timer; /* stops sx_loop_run now and then so RUN_UNTIL can check */
    int tfd;
    sx_smp_aclient *cl;
    bool conn_done, closed;
    sx_status conn_st, closed_st;
    size_t n_events;
    sx_smp_client_reply events[MAX_EVENTS];
} tc;

/* One command's outcome. */
typedef struct res {
    bool done;
    sx_status st;
    sx_smp_client_reply r;
} res;

static void timer_cb(sx_loop *loop, sx_loop_io *io, unsigned events)
{
    (void)events;
    uint64_t n;
    if (read(io->fd, &n, sizeof n) < 0) {
    }
    sx_loop_stop(loop);
}

static void on_connected(sx_smp_aclient *cl, sx_status st, void *arg)
{
    tc *t = arg;
    assert_ptr_equal(cl, t->cl);
    t->conn_done = true;
    t->conn_st = st;
    sx_loop_stop(t->loop);
}

static void on_event(sx_smp_aclient *cl, sx_smp_client_reply *ev, void *arg)
{
    (void)cl;
    tc *t = arg;
    assert_true(t->n_events < MAX_EVENTS);
    t->events[t->n_events++] = *ev; /* take it */
    ev->buf = NULL;
    sx_loop_stop(t->loop);
}

static void on_closed(sx_smp_aclient *cl, sx_status st, void *arg)
{
    (void)cl;
    tc *t = arg;
    t->closed = true;
    t->closed_st = st;
    sx_loop_stop(t->loop);
}

static void on_reply(sx_smp_aclient *cl, sx_status st, sx_smp_client_reply *r, void *arg)
{
    (void)cl;
    res *x = arg;
    assert_false(x->done); /* exactly once */
    x->done = true;
    x->st = st;
    if (st == SX_OK) {
        assert_non_null(r);
        x->r = *r;
        r->buf = NULL;
    } else {
        assert_null(r);
    }
}

#define RUN_UNTIL(t, cond, ms)                                                  \
    do {                                                                        \
        int64_t deadline_ = sx_loop_now_ms() + (ms);                            \
        while (!(cond) && sx_loop_now_ms() < deadline_)                         \
            assert_ok(sx_loop_run((t)->loop));                                  \
        if (!(cond))                                                            \
            fail_msg("timed out waiting for %s", #cond);                        \
    } while (0)

static void tc_init(tc *t)
{
    memset(t, 0, sizeof *t);
    assert_ok(sx_loop_new(&t->loop));
    t->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    assert_true(t->tfd >= 0);
    struct itimerspec its = {.it_interval = {0, 20000000}, .it_value = {0, 20000000}};
    assert_int_equal(timerfd_settime(t->tfd, 0, &its, NULL), 0);
    sx_loop_io_init(&t->timer, t->tfd, timer_cb, t);
    assert_ok(sx_loop_io_start(t->loop, &t->timer, SX_EV_READ));
}

static void tc_connect(tc *t, env *e, const sx_smp_aclient_opts *o)
{
    sx_smp_aclient_callbacks cbs = {.connected = on_connected, .event = on_event, .closed = on_closed, .arg = t};
    assert_ok(sx_smp_aclient_connect(t->loop, "127.0.0.1", e->port, e->fp, o, &cbs, &t->cl));
    RUN_UNTIL(t, t->conn_done, 10000);
    assert_int_equal(t->conn_st, SX_OK);
}

/* Closes the client if still open, lets its free task run, frees the loop. */
static void tc_done(tc *t)
{
    if (t->cl && t->conn_done && t->conn_st == SX_OK && !t->closed) {
        sx_smp_aclient_close(t->cl);
        RUN_UNTIL(t, t->closed, 5000);
    }
    sx_loop_io_stop(t->loop, &t->timer);
    sx_loop_drain(t->loop);
    close(t->tfd);
    for (size_t i = 0; i < t->n_events; i++)
        sx_smp_client_reply_free(&t->events[i]);
    sx_loop_free(t->loop);
}

static void send_cmd(tc *t, const uint8_t *entity, size_t elen, const sx_smp_cmd *c, const sx_key *k, res *x)
{
    memset(x, 0, sizeof *x);
    assert_ok(sx_smp_aclient_send(t->cl, sx_slice_of(entity, elen), c, k, on_reply, x));
}

static void call_cmd(tc *t, const uint8_t *entity, size_t elen, const sx_smp_cmd *c, const sx_key *k, res *x)
{
    send_cmd(t, entity, elen, c, k, x);
    RUN_UNTIL(t, x->done, 10000);
    assert_int_equal(x->st, SX_OK);
    assert_true(x->r.ok);
}

static void expect_tag(const res *x, sx_smp_resp_tag tag)
{
    if (x->r.reply.resp.tag != tag)
        fail_msg("expected %s, got %s", sx_smp_resp_name(tag), sx_smp_resp_name(x->r.reply.resp.tag));
}

static sx_smp_pubkey pub_of(const sx_key *k, uint8_t *buf)
{
    sx_smp_pubkey p;
    assert_ok(sx_smp_pubkey_of(k, buf, &p));
    return p;
}

/* ---- tests ---- */

static void test_connect_close(void **state)
{
    tc t;
    tc_init(&t);
    tc_connect(&t, *state, NULL);
    assert_int_equal(sx_smp_aclient_session(t.cl)->version, sx_smp_server_vrange().max);
    sx_smp_aclient_close(t.cl);
    sx_smp_aclient_close(t.cl); /* a second close does nothing */
    assert_false(t.closed);     /* asynchronous */
    RUN_UNTIL(&t, t.closed, 5000);
    assert_int_equal(t.closed_st, SX_OK);
    tc_done(&t);
}

static void test_wrong_identity(void **state)
{
    env e = *(env *)*state;
    e.fp[0] ^= 1;
    tc t;
    tc_init(&t);
    sx_smp_aclient_callbacks cbs = {.connected = on_connected, .closed = on_closed, .arg = &t};
    assert_ok(sx_smp_aclient_connect(t.loop, "127.0.0.1", e.port, e.fp, NULL, &cbs, &t.cl));
    assert_false(t.conn_done); /* never from inside connect */
    RUN_UNTIL(&t, t.conn_done, 10000);
    assert_int_equal(t.conn_st, SX_E_AUTH);
    assert_false(t.closed);
    tc_done(&t);
}

/* NEW, SUB, SEND (to the unsecured queue), the MSG event, ACK. */
static void test_queue_flow(void **state)
{
    tc t;
    tc_init(&t);
    tc_connect(&t, *state, NULL);
    sx_key *rkey, *rdh;
    assert_ok(sx_key_generate(SX_KEY_ED25519, &rkey));
    assert_ok(sx_key_generate(SX_KEY_X25519, &rdh));
    uint8_t b1[SX_KEY_SPKI_MAX], b2[SX_KEY_SPKI_MAX];
    sx_smp_cmd c = {.tag = SX_SMP_C_NEW};
    c.new_queue.rcv_auth_key = pub_of(rkey, b1);
    c.new_queue.rcv_dh_key = pub_of(rdh, b2);
    c.new_queue.has_queue_req = true;
    c.new_queue.queue_req.mode = SX_SMP_QUEUE_MESSAGING;
    res x;
    call_cmd(&t, NULL, 0, &c, rkey, &x);
    expect_tag(&x, SX_SMP_R_IDS);
    uint8_t rid[24], sid[24], secret[32];
    const sx_smp_ids *ids = &x.r.reply.resp.ids;
    assert_int_equal(ids->rcv_id.len, 24);
    assert_int_equal(ids->snd_id.len, 24);
    memcpy(rid, ids->rcv_id.ptr, 24);
    memcpy(sid, ids->snd_id.ptr, 24);
    sx_key *srv;
    assert_ok(sx_key_decode_public(ids->srv_dh_key.der, SX_KEY_BIT(SX_KEY_X25519), &srv));
    size_t n;
    assert_ok(sx_key_dh(rdh, srv, secret, sizeof secret, &n));
    sx_key_free(srv);
    sx_smp_client_reply_free(&x.r);

    c = (sx_smp_cmd){.tag = SX_SMP_C_SUB};
    call_cmd(&t, rid, 24, &c, rkey, &x);
    if (x.r.reply.resp.tag != SX_SMP_R_SOK)
        expect_tag(&x, SX_SMP_R_OK);
    sx_smp_client_reply_free(&x.r);

    c = (sx_smp_cmd){.tag = SX_SMP_C_SEND};
    c.send.notification = true;
    c.send.body = sx_slice_str("hello loop");
    call_cmd(&t, sid, 24, &c, NULL, &x);
    expect_tag(&x, SX_SMP_R_OK);
    sx_smp_client_reply_free(&x.r);

    RUN_UNTIL(&t, t.n_events >= 1, 10000);
    sx_smp_client_reply *ev = &t.events[0];
    assert_true(ev->ok);
    assert_int_equal(ev->reply.resp.tag, SX_SMP_R_MSG);
    assert_memory_equal(ev->reply.t.entity_id.ptr, rid, 24);
    static uint8_t mbuf[SX_SMP_ENC_MSG_LEN];
    sx_smp_rcv_msg m;
    assert_ok(sx_smp_msg_decrypt(secret, ev->reply.resp.msg.msg_id, ev->reply.resp.msg.body, mbuf, sizeof mbuf, &m));
    assert_int_equal(m.body.len, strlen("hello loop"));
    assert_memory_equal(m.body.ptr, "hello loop", m.body.len);

    c = (sx_smp_cmd){.tag = SX_SMP_C_ACK};
    c.msg_id = ev->reply.resp.msg.msg_id;
    call_cmd(&t, rid, 24, &c, rkey, &x);
    expect_tag(&x, SX_SMP_R_OK);
    sx_smp_client_reply_free(&x.r);

    sx_key_free(rkey);
    sx_key_free(rdh);
    tc_done(&t);
}

#define N_MANY 100

static size_t count_done(const res *xs, size_t n)
{
    size_t done = 0;
    for (size_t i = 0; i < n; i++)
        done += xs[i].done;
    return done;
}

static void test_hundred_in_one_flush(void **state)
{
    tc t;
    tc_init(&t);
    tc_connect(&t, *state, NULL);
    sx_smp_aclient_stats before, after;
    sx_smp_aclient_get_stats(t.cl, &before);
    static res xs[N_MANY];
    sx_smp_cmd ping = {.tag = SX_SMP_C_PING};
    for (size_t i = 0; i < N_MANY; i++)
        send_cmd(&t, NULL, 0, &ping, NULL, &xs[i]);
    RUN_UNTIL(&t, count_done(xs, N_MANY) == N_MANY, 10000);
    for (size_t i = 0; i < N_MANY; i++) {
        assert_int_equal(xs[i].st, SX_OK);
        assert_true(xs[i].r.ok);
        expect_tag(&xs[i], SX_SMP_R_PONG);
        sx_smp_client_reply_free(&xs[i].r);
    }
    sx_smp_aclient_get_stats(t.cl, &after);
    /* ~30 bytes each: all 100 fit one block. */
    assert_int_equal(after.blocks_sent - before.blocks_sent, 1);
    assert_int_equal(t.n_events, 0);
    tc_done(&t);
}

static void test_keepalive(void **state)
{
    tc t;
    tc_init(&t);
    sx_smp_aclient_opts o = {.ping_interval_ms = 100};
    tc_connect(&t, *state, &o);
    int64_t end = sx_loop_now_ms() + 700;
    sx_smp_aclient_stats s;
    RUN_UNTIL(&t, sx_loop_now_ms() >= end, 2000);
    sx_smp_aclient_get_stats(t.cl, &s);
    assert_true(s.pings_sent >= 3);
    assert_true(s.pongs_received >= 2);
    assert_true(s.pings_sent <= 8);
    assert_false(t.closed);
    tc_done(&t);
}

static void test_default_no_ping(void **state)
{
    tc t;
    tc_init(&t);
    tc_connect(&t, *state, NULL);
    int64_t end = sx_loop_now_ms() + 300;
    RUN_UNTIL(&t, sx_loop_now_ms() >= end, 2000);
    sx_smp_aclient_stats s;
    sx_smp_aclient_get_stats(t.cl, &s);
    assert_int_equal(s.pings_sent, 0);
    tc_done(&t);
}

/* A second client on the test's loop, with callbacks of its own. */
typedef struct side {
    sx_loop *loop;
    sx_smp_aclient *cl;
    bool conn_done, closed;
    sx_status conn_st, closed_st;
} side;

static void side_connected(sx_smp_aclient *cl, sx_status st, void *arg)
{
    side *s = arg;
    assert_ptr_equal(cl, s->cl);
    s->conn_done = true;
    s->conn_st = st;
    sx_loop_stop(s->loop);
}

static void side_closed(sx_smp_aclient *cl, sx_status st, void *arg)
{
    (void)cl;
    side *s = arg;
    s->closed = true;
    s->closed_st = st;
    sx_loop_stop(s->loop);
}

static void side_connect(tc *t, side *s, const char *host, uint16_t port, const uint8_t *fp,
                         const sx_smp_aclient_opts *o)
{
    memset(s, 0, sizeof *s);
    s->loop = t->loop;
    sx_smp_aclient_callbacks cbs = {.connected = side_connected, .closed = side_closed, .arg = s};
    assert_ok(sx_smp_aclient_connect(t->loop, host, port, fp, o, &cbs, &s->cl));
    assert_false(s->conn_done); /* never from inside connect */
}

static void count_timer(sx_loop *loop, sx_loop_timer *tm)
{
    (void)loop;
    ++*(int *)tm->data;
}

static void count_tick(sx_loop *loop, void *data)
{
    (void)loop;
    ++*(int *)data;
}

/* Two clients keep alive on one loop with their own timers, while the
 * program runs a timer of its own and the loop's built-in tick. */
static void test_two_clients_one_loop(void **state)
{
    env *e = *state;
    tc t;
    tc_init(&t);
    int mine = 0, ticks = 0;
    sx_loop_timer tm;
    sx_loop_timer_init(&tm, count_timer, &mine);
    sx_loop_timer_start(t.loop, &tm, 30, 30);
    sx_loop_set_tick(t.loop, 50, count_tick, &ticks);
    side a, b;
    sx_smp_aclient_opts oa = {.ping_interval_ms = 100}, ob = {.ping_interval_ms = 150};
    side_connect(&t, &a, "127.0.0.1", e->port, e->fp, &oa);
    side_connect(&t, &b, "127.0.0.1", e->port, e->fp, &ob);
    RUN_UNTIL(&t, a.conn_done && b.conn_done, 10000);
    assert_int_equal(a.conn_st, SX_OK);
    assert_int_equal(b.conn_st, SX_OK);
    int64_t end = sx_loop_now_ms() + 800;
    RUN_UNTIL(&t, sx_loop_now_ms() >= end, 3000);
    sx_smp_aclient_stats sa, sb;
    sx_smp_aclient_get_stats(a.cl, &sa);
    sx_smp_aclient_get_stats(b.cl, &sb);
    assert_true(sa.pings_sent >= 3 && sa.pongs_received >= 2 && sa.pings_sent <= 10);
    assert_true(sb.pings_sent >= 2 && sb.pongs_received >= 1 && sb.pings_sent <= 7);
    assert_true(mine >= 15);
    assert_true(ticks >= 10);
    assert_false(a.closed || b.closed);
    /* Closing one leaves the other, and the program's timers, running. */
    sx_smp_aclient_close(a.cl);
    RUN_UNTIL(&t, a.closed, 5000);
    assert_int_equal(a.closed_st, SX_OK);
    int before = mine;
    sx_smp_aclient_get_stats(b.cl, &sb);
    uint64_t pings = sb.pings_sent;
    end = sx_loop_now_ms() + 400;
    RUN_UNTIL(&t, sx_loop_now_ms() >= end, 3000);
    sx_smp_aclient_get_stats(b.cl, &sb);
    assert_true(sb.pings_sent > pings);
    assert_true(mine > before);
    sx_smp_aclient_close(b.cl);
    RUN_UNTIL(&t, b.closed, 5000);
    sx_loop_timer_stop(t.loop, &tm);
    sx_loop_set_tick(t.loop, 0, NULL, NULL);
    tc_done(&t);
}

/* A host name is resolved off the loop ("localhost" may give ::1 first,
 * which the router does not listen on: the next address is tried). */
static void test_connect_by_name(void **state)
{
    env *e = *state;
    tc t;
    tc_init(&t);
    side a;
    side_connect(&t, &a, "localhost", e->port, e->fp, NULL);
    RUN_UNTIL(&t, a.conn_done, 10000);
    assert_int_equal(a.conn_st, SX_OK);
    sx_smp_aclient_close(a.cl);
    RUN_UNTIL(&t, a.closed, 5000);
    /* Closed while the name is still being resolved: the thread's answer
     * is dropped. */
    side b;
    side_connect(&t, &b, "localhost", e->port, e->fp, NULL);
    sx_smp_aclient_close(b.cl);
    RUN_UNTIL(&t, b.conn_done, 5000);
    assert_int_equal(b.conn_st, SX_E_CLOSED);
    /* A name that does not resolve. */
    side c;
    side_connect(&t, &c, "no-such-host.invalid", e->port, e->fp, NULL);
    RUN_UNTIL(&t, c.conn_done, 20000);
    assert_int_equal(c.conn_st, SX_E_IO);
    tc_done(&t);
}

/* A refused connect and a peer that accepts TCP but never answers TLS both
 * end through the callback, the latter at the connect timeout. */
static void test_connect_refused_and_silent(void **state)
{
    env *e = *state;
    tc t;
    tc_init(&t);
    int lfd = -1;
    uint16_t port = 0;
    assert_ok(sx_net_listen("127.0.0.1", 0, 4, &lfd, &port));
    sx_net_close(lfd); /* nothing listens there now */
    side a;
    side_connect(&t, &a, "127.0.0.1", port, e->fp, NULL);
    RUN_UNTIL(&t, a.conn_done, 5000);
    assert_int_equal(a.conn_st, SX_E_IO);

    assert_ok(sx_net_listen("127.0.0.1", 0, 4, &lfd, &port)); /* never accepts */
    sx_smp_aclient_opts o = {.connect_timeout_ms = 300};
    side b;
    int64_t t0 = sx_loop_now_ms();
    side_connect(&t, &b, "127.0.0.1", port, e->fp, &o);
    RUN_UNTIL(&t, b.conn_done, 5000);
    int64_t took = sx_loop_now_ms() - t0;
    assert_int_equal(b.conn_st, SX_E_IO);
    assert_true(took >= 290 && took < 1500);
    sx_net_close(lfd);
    tc_done(&t);
}

/* Commands queued when close is asked all get SX_E_CLOSED. */
static void test_close_with_pending(void **state)
{
    tc t;
    tc_init(&t);
    tc_connect(&t, *state, NULL);
    res xs[10];
    sx_smp_cmd ping = {.tag = SX_SMP_C_PING};
    for (size_t i = 0; i < 10; i++)
        send_cmd(&t, NULL, 0, &ping, NULL, &xs[i]);
    sx_smp_aclient_close(t.cl);
    assert_int_equal(sx_smp_aclient_send(t.cl, sx_slice_of(NULL, 0), &ping, NULL, on_reply, &xs[0]), SX_E_CLOSED);
    RUN_UNTIL(&t, t.closed, 5000);
    assert_int_equal(t.closed_st, SX_OK);
    for (size_t i = 0; i < 10; i++) {
        assert_true(xs[i].done);
        assert_int_equal(xs[i].st, SX_E_CLOSED);
    }
    tc_done(&t);
}

static void stop_task_cb(sx_loop *loop, sx_loop_task *task)
{
    (void)task;
    sx_loop_stop(loop);
}

/* The router goes away with 50 commands queued (stopped before the flush:
 * every callback gets an error) or in flight (stopped right after the
 * flush wrote them: answers already on the way may still arrive, the rest
 * fail); each callback is called exactly once, then closed() with an error. */
static void router_gone(bool after_flush)
{
    env e;
    memset(&e, 0, sizeof e);
    assert_ok(start_router(&e));
    tc t;
    tc_init(&t);
    tc_connect(&t, &e, NULL);
    static res xs[50];
    sx_smp_cmd ping = {.tag = SX_SMP_C_PING};
    for (size_t i = 0; i < 50; i++)
        send_cmd(&t, NULL, 0, &ping, NULL, &xs[i]);
    if (after_flush) {
        /* Tasks run in order: this one right after the client's flush. */
        sx_loop_task stop = {.cb = stop_task_cb};
        sx_loop_post(t.loop, &stop);
        assert_ok(sx_loop_run(t.loop));
        sx_smp_aclient_stats s;
        sx_smp_aclient_get_stats(t.cl, &s);
        assert_int_equal(s.blocks_sent, 2); /* client hello + the batch */
    }
    sx_router_stop(e.r);
    RUN_UNTIL(&t, t.closed, 10000);
    assert_int_not_equal(t.closed_st, SX_OK);
    size_t errors = 0;
    for (size_t i = 0; i < 50; i++) {
        assert_true(xs[i].done);
        if (xs[i].st == SX_OK)
            sx_smp_client_reply_free(&xs[i].r);
        else
            errors++;
    }
    if (!after_flush)
        assert_int_equal(errors, 50);
    tc_done(&t);
}

static void test_router_gone_queued(void **state)
{
    (void)state;
    router_gone(false);
}

static void test_router_gone_in_flight(void **state)
{
    (void)state;
    router_gone(true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_close),
        cmocka_unit_test(test_wrong_identity),
        cmocka_unit_test(test_queue_flow),
        cmocka_unit_test(test_hundred_in_one_flush),
        cmocka_unit_test(test_keepalive),
        cmocka_unit_test(test_default_no_ping),
        cmocka_unit_test(test_two_clients_one_loop),
        cmocka_unit_test(test_connect_by_name),
        cmocka_unit_test(test_connect_refused_and_silent),
        cmocka_unit_test(test_close_with_pending),
        cmocka_unit_test(test_router_gone_queued),
        cmocka_unit_test(test_router_gone_in_flight),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
