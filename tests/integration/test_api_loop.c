/* The event-loop flavour of the public SMP API (simplex/loop.h and the
 * sx_smp_aconn_* part of simplex/smp.h) against SMP routers started in
 * process on loopback (fixture certificates): connect failures and their
 * detail, close while connecting, operations before connected, the whole
 * life of a queue on one connection (create with and without the create
 * password, secure, send up to the longest body, subscribe, MESSAGE events
 * in order with the next one only after the ack, NO_MSG, delete), END and
 * DELETED between two connections (the queue freed inside the callback),
 * UNREADABLE and QUOTA events, an event callback that keeps the body,
 * close with operations waiting, a router that goes away, sx_loop_call from
 * another thread and timers (repeat, stop, free inside their callback).
 *
 * Each scenario runs the loop on the test thread until what it waits for
 * has come; every callback records what it got and stops the loop, and a
 * guard timer stops it after GUARD_MS so that a callback that never comes
 * fails the test instead of hanging it. Every call that starts an
 * operation is made inside CALL(), and every callback checks that it was
 * not called from inside such a call.
 *
 * What the test exercises goes through simplex/simplex.h only; the router
 * header is here to start the routers. */
#include "testutil.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "simplex/simplex.h"

#include "smp_router/server.h"

/* base64url SHA-256 of fixtures/ca.crt: the routers' identity */
#define FIXTURE_FP "LcJUMfVhwD8yxjAiSaDzzGF3-kLG4Uh0Fl_ZIjrRwjI="
#define OTHER_FP "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
#define CREATE_PW "api-loop-pw"
#define TIMEOUT_MS 10000
#define GUARD_MS 10000
#define MAX_EVENTS 300
#define DETAIL_MAX 512

static char g_cert[1024], g_ca[1024], g_key[1024];
static sx_router *g_smp;
static char g_addr[512];      /* with the create password */
static char g_addr_nopw[512]; /* without */
static uint16_t g_smp_port;
static size_t g_max_body;     /* the longest body, from a blocking connection */
static unsigned g_version;    /* the version that connection agreed */

#define assert_status(expr, want)                                                                   \
    do {                                                                                            \
        sx_status got_ = (expr);                                                                    \
        if (got_ != (want))                                                                         \
            fail_msg("%s: got %s (%s, code '%s'), expected %s", #expr, sx_status_str(got_),          \
                     sx_error_message(), sx_error_code(), sx_status_str(want));                     \
    } while (0)
#define assert_contains(s, part)                                                                    \
    do {                                                                                            \
        const char *s_ = (s);                                                                       \
        if (!strstr(s_, (part)))                                                                    \
            fail_msg("'%s' does not contain '%s'", s_, (part));                                     \
    } while (0)
#define assert_msg_contains(part) assert_contains(sx_error_message(), part)

/* ---- the state of one test ---- */

typedef struct tstate {
    sx_loop *loop;
    sx_timer *guard;
    pthread_t thread;  /* the loop's (the test's) thread */
    bool timed_out;
    bool in_call;      /* inside a call that starts an operation */
    int seq;           /* orders the callbacks */
    int callbacks;     /* all of them */
    char bad[512];     /* the first broken rule a callback saw */
} tstate;

static tstate *T;

static void note_bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note_bad(const char *fmt, ...)
{
    if (T->bad[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(T->bad, sizeof T->bad, fmt, ap);
    va_end(ap);
}

/* Every callback starts here: not from inside the call that started it,
 * on the loop's thread. */
static int enter(const char *what)
{
    if (T->in_call)
        note_bad("%s: callback from inside the call that started it", what);
    if (!pthread_equal(pthread_self(), T->thread))
        note_bad("%s: callback on another thread", what);
    T->callbacks++;
    return ++T->seq;
}

static void check_clean(void)
{
    if (T->bad[0])
        fail_msg("%s", T->bad);
}

/* Makes a call that may start an operation, marked so that a callback from
 * inside it is seen. */
static sx_status call_end(sx_status st)
{
    T->in_call = false;
    return st;
}
#define CALL(expr) (T->in_call = true, call_end(expr))

static void guard_cb(sx_loop *loop, void *arg)
{
    (void)arg;
    enter("guard");
    T->timed_out = true;
    sx_loop_stop(loop);
}

/* Runs the loop until cond holds; fails after GUARD_MS. */
#define WAIT(cond)                                                                                  \
    do {                                                                                            \
        sx_timer_start(T->guard, GUARD_MS, 0);                                                      \
        while (!(cond)) {                                                                           \
            assert_status(sx_loop_run(T->loop), SX_OK);                                             \
            check_clean();                                                                          \
            if (T->timed_out && !(cond))                                                            \
                fail_msg("timed out after %d ms waiting for %s", GUARD_MS, #cond);                  \
        }                                                                                           \
        sx_timer_stop(T->guard);                                                                    \
        check_clean();                                                                              \
    } while (0)

static void ran_out(sx_loop *loop, void *arg)
{
    enter("run_for");
    *(bool *)arg = true;
    sx_loop_stop(loop);
}

/* Runs the loop for ms milliseconds. */
static void run_for(unsigned ms)
{
    bool done = false;
    sx_timer *t = NULL;
    assert_status(sx_timer_new(T->loop, ran_out, &done, &t), SX_OK);
    sx_timer_start(t, ms, 0);
    while (!done)
        assert_status(sx_loop_run(T->loop), SX_OK);
    sx_timer_free(t);
    check_clean();
}

static int loop_setup(void **state)
{
    T = calloc(1, sizeof *T);
    if (!T)
        return -1;
    T->thread = pthread_self();
    if (sx_loop_new(&T->loop) != SX_OK || sx_timer_new(T->loop, guard_cb, NULL, &T->guard) != SX_OK)
        return -1;
    *state = T;
    return 0;
}

static int loop_teardown(void **state)
{
    (void)state;
    sx_timer_free(T->guard);
    sx_loop_free(T->loop); /* runs the last clean-up of the connections */
    free(T);
    T = NULL;
    return 0;
}

static void save_detail(char msg[DETAIL_MAX], char code[64])
{
    snprintf(msg, DETAIL_MAX, "%s", sx_error_message());
    snprintf(code, 64, "%s", sx_error_code());
}

/* ---- connections ---- */

typedef struct ev_rec {
    sx_smp_event ev; /* a copy; the body is the record's (free) */
    int seq;
} ev_rec;

typedef struct conn_rec {
    sx_smp_aconn *c;
    int connected_n, closed_n;
    sx_status connected_st, closed_st;
    int connected_seq, closed_seq;
    unsigned version;              /* sx_smp_aconn_version in connected(SX_OK) */
    char msg[DETAIL_MAX], code[64]; /* detail in connected(error) or closed(error) */
    bool ended;                    /* its final callback came */
    ev_rec ev[MAX_EVENTS];
    int n_ev;
    bool take_body;    /* take ev->body in the callback instead of copying it */
    bool auto_ack;     /* acknowledge each message-kind event from the callback */
    int acks_ok, acks_failed;
    bool free_on_end;  /* free the queue of END and DELETED in the callback */
    int freed;
} conn_rec;

static void on_connected(sx_smp_aconn *c, sx_status st, void *arg)
{
    conn_rec *r = arg;
    int seq = enter("connected");
    if (r->ended || r->connected_n)
        note_bad("connected after the connection's final callback or twice");
    if (c != r->c)
        note_bad("connected: another connection");
    r->connected_n++;
    r->connected_st = st;
    r->connected_seq = seq;
    if (st == SX_OK) {
        r->version = sx_smp_aconn_version(c);
        if (sx_error_message()[0])
            note_bad("connected(SX_OK) with error detail '%s'", sx_error_message());
    } else {
        save_detail(r->msg, r->code);
        r->ended = true;
    }
    sx_loop_stop(T->loop);
}

static void on_closed(sx_smp_aconn *c, sx_status st, void *arg)
{
    conn_rec *r = arg;
    int seq = enter("closed");
    if (r->ended || r->connected_n != 1 || r->connected_st != SX_OK)
        note_bad("closed without connected(SX_OK) before it, or after the final callback");
    if (c != r->c)
        note_bad("closed: another connection");
    r->closed_n++;
    r->closed_st = st;
    r->closed_seq = seq;
    save_detail(r->msg, r->code);
    r->ended = true;
    sx_loop_stop(T->loop);
}

static void on_auto_acked(sx_smp_aconn *c, sx_status st, void *arg)
{
    (void)c;
    conn_rec *r = arg;
    enter("auto ack");
    if (st == SX_OK)
        r->acks_ok++;
    else
        r->acks_failed++;
    sx_loop_stop(T->loop);
}

static void on_event(sx_smp_aconn *c, sx_smp_event *ev, void *arg)
{
    conn_rec *r = arg;
    int seq = enter("event");
    if (r->ended)
        note_bad("event after the connection's final callback");
    if (c != r->c)
        note_bad("event: another connection");
    if (!ev || ev->kind == SX_SMP_EVENT_NONE || !ev->queue) {
        note_bad("event: none, or without its queue");
        return;
    }
    if (r->n_ev == MAX_EVENTS) {
        note_bad("too many events");
        return;
    }
    ev_rec *e = &r->ev[r->n_ev++];
    e->seq = seq;
    e->ev = *ev;
    e->ev.body = NULL;
    if (ev->kind == SX_SMP_EVENT_MESSAGE) {
        if (!ev->body)
            note_bad("MESSAGE without a body");
        if (r->take_body) {
            e->ev.body = ev->body;
            ev->body = NULL;
        } else {
            e->ev.body = malloc(ev->body_len ? ev->body_len : 1);
            if (e->ev.body)
                memcpy(e->ev.body, ev->body, ev->body_len);
        }
    } else if (ev->body) {
        note_bad("event kind %d with a body", (int)ev->kind);
    }
    if (r->auto_ack && ev->kind != SX_SMP_EVENT_END && ev->kind != SX_SMP_EVENT_DELETED &&
        CALL(sx_smp_aconn_ack(c, ev->queue, ev, on_auto_acked, r)) != SX_OK)
        note_bad("ack from the event callback: %s", sx_error_message());
    if (r->free_on_end && (ev->kind == SX_SMP_EVENT_END || ev->kind == SX_SMP_EVENT_DELETED)) {
        sx_smp_queue_free(ev->queue); /* the connection holds it no more */
        r->freed++;
    }
    sx_loop_stop(T->loop);
}

static void conn_rec_cleanup(conn_rec *r)
{
    for (int i = 0; i < r->n_ev; i++)
        free(r->ev[i].ev.body);
    r->n_ev = 0;
}

static sx_smp_aconn_callbacks callbacks_of(conn_rec *r)
{
    return (sx_smp_aconn_callbacks){.connected = on_connected, .event = on_event, .closed = on_closed, .arg = r};
}

/* Starts connecting r to addr. */
static void start_connect(conn_rec *r, const char *addr, int timeout_ms)
{
    sx_smp_conn_opts o = {.timeout_ms = timeout_ms};
    sx_smp_aconn_callbacks cbs = callbacks_of(r);
    r->c = (sx_smp_aconn *)&o; /* must be overwritten */
    assert_status(CALL(sx_smp_aconn_connect(T->loop, addr, &o, &cbs, &r->c)), SX_OK);
    assert_non_null(r->c);
    assert_string_equal(sx_error_message(), "");
}

/* Connects r to addr and waits until it is connected. */
static void connect_to(conn_rec *r, const char *addr)
{
    start_connect(r, addr, TIMEOUT_MS);
    assert_int_equal(sx_smp_aconn_version(r->c), 0);
    WAIT(r->connected_n > 0);
    assert_status(r->connected_st, SX_OK);
    assert_true(r->version >= 9);
    assert_int_equal(sx_smp_aconn_version(r->c), r->version);
}

/* Closes r and waits for closed(SX_OK). */
static void close_conn(conn_rec *r)
{
    sx_smp_aconn_close(r->c);
    WAIT(r->ended);
    assert_int_equal(r->closed_n, 1);
    assert_status(r->closed_st, SX_OK);
    r->c = NULL;
}

/* ---- operations ---- */

typedef struct op_rec {
    conn_rec *conn;
    int n;
    sx_status st;
    sx_smp_queue *q; /* create: the new recipient side */
    int seq;
    char msg[DETAIL_MAX], code[64];
} op_rec;

static void op_record(op_rec *r, sx_smp_aconn *c, sx_status st, const char *what)
{
    int seq = enter(what);
    if (r->n)
        note_bad("%s: its callback came twice", what);
    if (r->conn && r->conn->ended)
        note_bad("%s: callback after the connection's final callback", what);
    if (r->conn && c != r->conn->c)
        note_bad("%s: another connection", what);
    r->n++;
    r->st = st;
    r->seq = seq;
    save_detail(r->msg, r->code);
    if (st == SX_OK && (r->msg[0] || r->code[0]))
        note_bad("%s: SX_OK with error detail '%s'", what, r->msg);
    if (st != SX_OK && !r->msg[0])
        note_bad("%s: %s without error detail", what, sx_status_str(st));
    sx_loop_stop(T->loop);
}

static void on_done(sx_smp_aconn *c, sx_status st, void *arg)
{
    op_record(arg, c, st, "done");
}

static void on_created(sx_smp_aconn *c, sx_status st, sx_smp_queue *q, void *arg)
{
    op_rec *r = arg;
    op_record(r, c, st, "created");
    r->q = q;
    if ((st == SX_OK) != (q != NULL))
        note_bad("created: status %s with queue %p", sx_status_str(st), (void *)q);
}

static op_rec op_on(conn_rec *c)
{
    return (op_rec){.conn = c};
}

/* Waits for the operation's callback and checks its status. */
static void wait_op(op_rec *r, sx_status want)
{
    WAIT(r->n > 0);
    if (r->st != want)
        fail_msg("operation: got %s (%s, code '%s'), expected %s", sx_status_str(r->st), r->msg, r->code,
                 sx_status_str(want));
}

/* A new queue on c (its recipient side; the sender side in *sq). */
static sx_smp_queue *create_queue(conn_rec *c, sx_smp_queue **sq)
{
    op_rec r = op_on(c);
    assert_status(CALL(sx_smp_aconn_create(c->c, on_created, &r)), SX_OK);
    wait_op(&r, SX_OK);
    assert_non_null(r.q);
    assert_int_equal(sx_smp_queue_role(r.q), SX_SMP_ROLE_RECIPIENT);
    if (sq)
        assert_status(sx_smp_queue_sender(r.q, sq), SX_OK);
    return r.q;
}

static void do_op(conn_rec *c, sx_status want, int kind, sx_smp_queue *q, const void *body, size_t len)
{
    op_rec r = op_on(c);
    sx_status st = SX_E_INTERNAL;
    switch (kind) {
    case 's': st = CALL(sx_smp_aconn_secure(c->c, q, on_done, &r)); break;
    case 'm': st = CALL(sx_smp_aconn_send(c->c, q, body, len, on_done, &r)); break;
    case 'S': st = CALL(sx_smp_aconn_subscribe(c->c, q, on_done, &r)); break;
    case 'd': st = CALL(sx_smp_aconn_delete(c->c, q, on_done, &r)); break;
    default: fail();
    }
    assert_status(st, SX_OK);
    wait_op(&r, want);
}
#define secure_ok(c, q) do_op((c), SX_OK, 's', (q), NULL, 0)
#define send_ok(c, q, s) do_op((c), SX_OK, 'm', (q), (s), strlen(s))
#define subscribe_ok(c, q) do_op((c), SX_OK, 'S', (q), NULL, 0)
#define delete_ok(c, q) do_op((c), SX_OK, 'd', (q), NULL, 0)

static void ack_ok(conn_rec *c, sx_smp_queue *q, const sx_smp_event *ev)
{
    op_rec r = op_on(c);
    assert_status(CALL(sx_smp_aconn_ack(c->c, q, ev, on_done, &r)), SX_OK);
    wait_op(&r, SX_OK);
}

/* Waits for the event number i of c and checks its kind and queue. */
static ev_rec *wait_event(conn_rec *c, int i, sx_smp_event_kind kind, const sx_smp_queue *q)
{
    WAIT(c->n_ev > i);
    ev_rec *e = &c->ev[i];
    if (e->ev.kind != kind)
        fail_msg("event %d: kind %d, expected %d", i, (int)e->ev.kind, (int)kind);
    assert_ptr_equal(e->ev.queue, q);
    return e;
}

/* Waits for the message event number i of c with body s; acknowledges it. */
static void expect_message(conn_rec *c, int i, sx_smp_queue *q, const char *s)
{
    ev_rec *e = wait_event(c, i, SX_SMP_EVENT_MESSAGE, q);
    assert_int_equal(e->ev.body_len, strlen(s));
    assert_memory_equal(e->ev.body, s, strlen(s));
    ack_ok(c, q, &e->ev);
}

/* A copy of q through its text; with another dh_secret when spoil is set
 * (messages then do not open). */
static sx_smp_queue *copy_queue(const sx_smp_queue *q, bool spoil)
{
    char *text = NULL;
    size_t len = 0;
    assert_status(sx_smp_queue_format(q, &text, &len), SX_OK);
    if (spoil) {
        char *p = strstr(text, "dh_secret: ");
        assert_non_null(p);
        p += strlen("dh_secret: ");
        *p = *p == 'A' ? 'B' : 'A';
    }
    sx_smp_queue *out = NULL;
    assert_status(sx_smp_queue_parse(text, len, &out), SX_OK);
    sx_smp_text_free(text, len);
    return out;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    uint32_t x = seed * 2654435761u + 7;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (uint8_t)(x >> 16);
    }
}

/* ---- routers ---- */

static sx_status start_router(sx_router **out)
{
    sx_router_opts o;
    memset(&o, 0, sizeof o);
    o.cert_file = g_cert;
    o.ca_file = g_ca;
    o.key_file = g_key;
    o.host = "127.0.0.1";
    o.n_ports = 1;
    o.workers = 2;
    o.new_queues = true;
    o.create_password = CREATE_PW;
    o.quiet = true;
    o.handshake_timeout_ms = 5000;
    return sx_router_start(&o, out);
}

static int smp_setup(void **state)
{
    (void)state;
    snprintf(g_cert, sizeof g_cert, "%s", tu_data_path("fixtures/server.crt"));
    snprintf(g_ca, sizeof g_ca, "%s", tu_data_path("fixtures/ca.crt"));
    snprintf(g_key, sizeof g_key, "%s", tu_data_path("fixtures/server.key"));
    if (start_router(&g_smp) != SX_OK)
        return -1;
    g_smp_port = sx_router_port(g_smp, 0);
    snprintf(g_addr, sizeof g_addr, "smp://" FIXTURE_FP ":" CREATE_PW "@127.0.0.1:%u", g_smp_port);
    snprintf(g_addr_nopw, sizeof g_addr_nopw, "smp://" FIXTURE_FP "@127.0.0.1:%u", g_smp_port);
    /* The event-loop flavour has no max_body of its own: the same router
     * and version as a blocking connection. */
    sx_smp_conn_opts o = {.timeout_ms = TIMEOUT_MS};
    sx_smp_conn *c = NULL;
    if (sx_smp_connect(g_addr, &o, &c) != SX_OK)
        return -1;
    g_max_body = sx_smp_conn_max_body(c);
    g_version = sx_smp_conn_version(c);
    sx_smp_close(c);
    return 0;
}

static int smp_teardown(void **state)
{
    (void)state;
    sx_router_stop(g_smp);
    g_smp = NULL;
    return 0;
}

/* ---- connecting ---- */

static void test_connect_usage(void **state)
{
    (void)state;
    conn_rec r = {0};
    sx_smp_aconn_callbacks cbs = callbacks_of(&r);
    sx_smp_conn_opts o = {.timeout_ms = 3000};
    sx_smp_aconn *c = (sx_smp_aconn *)&o; /* must be set to NULL */

    /* an address that does not parse */
    assert_status(CALL(sx_smp_aconn_connect(T->loop, "smp://not-an-address", &o, &cbs, &c)), SX_E_USAGE);
    assert_null(c);
    assert_msg_contains("invalid server address");
    assert_msg_contains("smp://not-an-address");
    assert_string_equal(sx_error_code(), "");
    c = (sx_smp_aconn *)&o;
    assert_status(CALL(sx_smp_aconn_connect(T->loop, "smp://" FIXTURE_FP "@127.0.0.1:5223 x", &o, &cbs, &c)),
                  SX_E_USAGE);
    assert_null(c);
    c = (sx_smp_aconn *)&o;
    assert_status(CALL(sx_smp_aconn_connect(T->loop, NULL, &o, &cbs, &c)), SX_E_USAGE);
    assert_null(c);

    /* no connected callback; no loop; no place for the connection */
    sx_smp_aconn_callbacks none = cbs;
    none.connected = NULL;
    c = (sx_smp_aconn *)&o;
    assert_status(CALL(sx_smp_aconn_connect(T->loop, g_addr, &o, &none, &c)), SX_E_USAGE);
    assert_null(c);
    assert_msg_contains("connected callback");
    assert_status(CALL(sx_smp_aconn_connect(T->loop, g_addr, &o, NULL, &c)), SX_E_USAGE);
    assert_status(CALL(sx_smp_aconn_connect(NULL, g_addr, &o, &cbs, &c)), SX_E_USAGE);
    assert_status(CALL(sx_smp_aconn_connect(T->loop, g_addr, &o, &cbs, NULL)), SX_E_USAGE);

    /* none of them calls back; the NULL connection is harmless */
    assert_int_equal(sx_smp_aconn_version(NULL), 0);
    sx_smp_aconn_close(NULL);
    op_rec op = {0};
    assert_status(CALL(sx_smp_aconn_create(NULL, on_created, &op)), SX_E_USAGE);
    assert_status(CALL(sx_smp_aconn_subscribe(NULL, NULL, on_done, &op)), SX_E_USAGE);
    run_for(200);
    assert_int_equal(T->callbacks, 1); /* run_for's own timer */
    assert_int_equal(r.connected_n + r.closed_n + r.n_ev + op.n, 0);
}

/* The host of a several-host address that the connect takes (host modes,
 * as the reference's chooseTransportHost): the first host is an onion name
 * nobody resolves, the public one is our router. */
static void test_host_mode(void **state)
{
    (void)state;
    static const char onion[] = "abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvw.onion";
    char addr[600];
    snprintf(addr, sizeof addr, "smp://" FIXTURE_FP "@%s,127.0.0.1:%u", onion, g_smp_port);
    /* no proxy, the default mode: the public host */
    conn_rec r = {0};
    connect_to(&r, addr);
    close_conn(&r);
    conn_rec_cleanup(&r);
    /* host mode public, required: the same */
    conn_rec r2 = {0};
    sx_smp_conn_opts o = {.timeout_ms = TIMEOUT_MS, .host_mode = SX_SMP_HOSTS_PUBLIC, .required_host_mode = true};
    sx_smp_aconn_callbacks cbs = callbacks_of(&r2);
    assert_status(CALL(sx_smp_aconn_connect(T->loop, addr, &o, &cbs, &r2.c)), SX_OK);
    WAIT(r2.connected_n > 0);
    assert_status(r2.connected_st, SX_OK);
    close_conn(&r2);
    conn_rec_cleanup(&r2);
    /* host mode onion, required, an address with no onion host: refused
     * before any connection, code HOST */
    conn_rec r3 = {0};
    cbs = callbacks_of(&r3);
    o.host_mode = SX_SMP_HOSTS_ONION;
    sx_smp_aconn *c = (sx_smp_aconn *)&o;
    assert_status(CALL(sx_smp_aconn_connect(T->loop, g_addr, &o, &cbs, &c)), SX_E_USAGE);
    assert_null(c);
    assert_string_equal(sx_error_code(), "HOST");
    assert_msg_contains("required_host_mode");
    /* not required: the first host, our router */
    conn_rec r4 = {0};
    cbs = callbacks_of(&r4);
    o.required_host_mode = false;
    assert_status(CALL(sx_smp_aconn_connect(T->loop, g_addr, &o, &cbs, &r4.c)), SX_OK);
    WAIT(r4.connected_n > 0);
    assert_status(r4.connected_st, SX_OK);
    close_conn(&r4);
    conn_rec_cleanup(&r4);
}

static void test_connect_failures(void **state)
{
    (void)state;
    char addr[512];

    /* nothing listening: connected(SX_E_IO) naming the host, and nothing
     * after it (the connection is gone: ASan sees a use) */
    conn_rec r = {0};
    snprintf(addr, sizeof addr, "smp://" FIXTURE_FP "@127.0.0.1:%u", tu_free_port());
    start_connect(&r, addr, 3000);
    assert_int_equal(sx_smp_aconn_version(r.c), 0);
    WAIT(r.connected_n > 0);
    assert_status(r.connected_st, SX_E_IO);
    assert_contains(r.msg, "cannot connect to 127.0.0.1");
    assert_string_equal(r.code, "");

    /* a router whose identity is not the fingerprint's */
    conn_rec w = {0};
    snprintf(addr, sizeof addr, "smp://" OTHER_FP ":" CREATE_PW "@127.0.0.1:%u", g_smp_port);
    start_connect(&w, addr, 3000);
    WAIT(w.connected_n > 0);
    assert_status(w.connected_st, SX_E_AUTH);
    assert_contains(w.msg, "identity");
    assert_contains(w.msg, "fingerprint");
    assert_string_equal(w.code, "");

    run_for(200);
    assert_int_equal(r.connected_n + w.connected_n, 2);
    assert_int_equal(r.closed_n + w.closed_n + r.n_ev + w.n_ev, 0);
}

/* close while connecting, at moments spread over the handshakes */
typedef struct close_at {
    conn_rec *r;
    bool fired, was_connected;
} close_at;

static void close_now(sx_loop *loop, void *arg)
{
    (void)loop;
    close_at *a = arg;
    enter("close timer");
    a->fired = true;
    a->was_connected = a->r->connected_n > 0;
    if (!a->was_connected)
        usleep(10 * 1000); /* what the router sends meanwhile waits on the socket */
    sx_smp_aconn_close(a->r->c);
    sx_smp_aconn_close(a->r->c); /* does nothing more */
    sx_loop_stop(loop);
}

static void test_close_connecting(void **state)
{
    (void)state;
    /* at once */
    conn_rec r = {0};
    start_connect(&r, g_addr, TIMEOUT_MS);
    sx_smp_aconn_close(r.c);
    WAIT(r.ended);
    assert_int_equal(r.connected_n, 1);
    assert_status(r.connected_st, SX_E_CLOSED);
    assert_contains(r.msg, "closed");
    assert_int_equal(r.closed_n, 0);

    /* from a timer at steps of 250 us into the connect (armed k ms ahead,
     * the connect started d us after it): until connected(SX_OK) came, the
     * close ends it with connected(SX_E_CLOSED) and nothing else, also
     * when the router's last handshake block is already waiting on the
     * socket (the timer sleeps before closing); after it, closed(SX_OK).
     * A few rounds, for the moments between the TLS handshake and the
     * router's SMP hello are short. */
    int while_connecting = 0;
    for (int round = 0; round < 4; round++) {
        bool reached = false;
        for (unsigned k = 0; k < 200 && !reached; k++) {
            for (int d = 750; d >= 0 && !reached; d -= 250) {
                conn_rec c = {0};
                close_at a = {.r = &c};
                sx_timer *t = NULL;
                assert_status(sx_timer_new(T->loop, close_now, &a, &t), SX_OK);
                sx_timer_start(t, k, 0);
                usleep((useconds_t)d);
                start_connect(&c, g_addr, TIMEOUT_MS);
                WAIT(c.ended);
                sx_timer_free(t);
                assert_true(a.fired);
                assert_int_equal(c.n_ev, 0);
                if (a.was_connected) {
                    assert_int_equal(c.connected_n, 1);
                    assert_status(c.connected_st, SX_OK);
                    assert_int_equal(c.closed_n, 1);
                    assert_status(c.closed_st, SX_OK);
                    reached = true;
                    break;
                }
                while_connecting++;
                if (c.connected_n != 1 || c.connected_st != SX_E_CLOSED || c.closed_n != 0)
                    fail_msg("closed %u ms - %d us into the connect: connected %d time(s) with %s, closed %d "
                             "time(s)",
                             k, d, c.connected_n, sx_status_str(c.connected_st), c.closed_n);
                assert_contains(c.msg, "closed");
            }
        }
        assert_true(reached);
    }
    assert_true(while_connecting > 0);
    run_for(100);
}

/* ---- operations before connected and after close ---- */

static void test_not_connected(void **state)
{
    (void)state;
    conn_rec a = {0};
    connect_to(&a, g_addr);
    sx_smp_queue *sq = NULL;
    sx_smp_queue *rq = create_queue(&a, &sq);
    assert_int_equal(a.version, g_version);

    /* a second connection, still connecting: every operation is refused at
     * the call, without a callback */
    conn_rec b = {0};
    start_connect(&b, g_addr, TIMEOUT_MS);
    assert_int_equal(sx_smp_aconn_version(b.c), 0);
    op_rec op = op_on(&b);
    sx_smp_event msg = {.kind = SX_SMP_EVENT_MESSAGE, .msg_id = {1}, .msg_id_len = 1};
    assert_status(CALL(sx_smp_aconn_create(b.c, on_created, &op)), SX_E_USAGE);
    assert_msg_contains("not connected yet");
    assert_string_equal(sx_error_code(), "");
    assert_status(CALL(sx_smp_aconn_secure(b.c, sq, on_done, &op)), SX_E_USAGE);
    assert_status(CALL(sx_smp_aconn_send(b.c, sq, "x", 1, on_done, &op)), SX_E_USAGE);
    assert_status(CALL(sx_smp_aconn_subscribe(b.c, rq, on_done, &op)), SX_E_USAGE);
    assert_status(CALL(sx_smp_aconn_ack(b.c, rq, &msg, on_done, &op)), SX_E_USAGE);
    assert_status(CALL(sx_smp_aconn_delete(b.c, rq, on_done, &op)), SX_E_USAGE);
    assert_msg_contains("not connected yet");
    WAIT(b.connected_n > 0);
    assert_status(b.connected_st, SX_OK);
    assert_true(b.version >= 9);

    /* closing: refused the same way */
    sx_smp_aconn_close(b.c);
    assert_status(CALL(sx_smp_aconn_send(b.c, sq, "x", 1, on_done, &op)), SX_E_USAGE);
    assert_msg_contains("closing");
    assert_status(CALL(sx_smp_aconn_create(b.c, on_created, &op)), SX_E_USAGE);
    WAIT(b.ended);
    assert_int_equal(b.closed_n, 1);
    assert_status(b.closed_st, SX_OK);
    run_for(100);
    assert_int_equal(op.n, 0);

    /* the queue is untouched by all that */
    send_ok(&a, sq, "after");
    subscribe_ok(&a, rq);
    expect_message(&a, 0, rq, "after");
    delete_ok(&a, rq);
    close_conn(&a);
    assert_int_equal(a.n_ev, 1);
    conn_rec_cleanup(&a);
    sx_smp_queue_free(sq);
    sx_smp_queue_free(rq);
}

/* ---- a queue's life on one connection ---- */

static void test_create_password(void **state)
{
    (void)state;
    conn_rec c = {0};
    connect_to(&c, g_addr_nopw);
    op_rec r = op_on(&c);
    assert_status(CALL(sx_smp_aconn_create(c.c, on_created, &r)), SX_OK);
    wait_op(&r, SX_E_AUTH);
    assert_null(r.q);
    assert_string_equal(r.code, "AUTH");
    assert_contains(r.msg, "password");
    close_conn(&c);

    /* a wrong password */
    char addr[512];
    snprintf(addr, sizeof addr, "smp://" FIXTURE_FP ":wrong-pw@127.0.0.1:%u", g_smp_port);
    conn_rec w = {0};
    connect_to(&w, addr);
    r = op_on(&w);
    assert_status(CALL(sx_smp_aconn_create(w.c, on_created, &r)), SX_OK);
    wait_op(&r, SX_E_AUTH);
    assert_null(r.q);
    assert_string_equal(r.code, "AUTH");
    close_conn(&w);

    /* with it: the recipient side keeps the address, the sender side
     * gets it without the password */
    conn_rec ok = {0};
    connect_to(&ok, g_addr);
    sx_smp_queue *sq = NULL;
    sx_smp_queue *rq = create_queue(&ok, &sq);
    assert_string_equal(sx_smp_queue_server(rq), g_addr);
    assert_string_equal(sx_smp_queue_server(sq), g_addr_nopw);
    assert_status(CALL(sx_smp_aconn_create(ok.c, NULL, NULL)), SX_E_USAGE);
    assert_msg_contains("callback");
    delete_ok(&ok, rq);
    close_conn(&ok);
    sx_smp_queue_free(sq);
    sx_smp_queue_free(rq);
}

static void test_queue_life(void **state)
{
    (void)state;
    conn_rec c = {0};
    connect_to(&c, g_addr);
    assert_int_equal(c.version, g_version);
    sx_smp_queue *sq = NULL;
    sx_smp_queue *rq = create_queue(&c, &sq);
    assert_false(sx_smp_queue_has_sender_key(sq));
    secure_ok(&c, sq);
    assert_true(sx_smp_queue_has_sender_key(sq));
    secure_ok(&c, sq); /* repeated with the same key */

    /* bodies of different sizes up to the limit, sent at once (each send's
     * callback exactly once, in order) */
    size_t max = g_max_body;
    assert_true(max > 1000);
    const size_t sizes[] = {0, 1, 100, 1000, max - 1, max};
    enum { N = sizeof sizes / sizeof sizes[0] };
    uint8_t *body[N];
    op_rec sent[N];
    for (size_t i = 0; i < N; i++) {
        body[i] = malloc(sizes[i] + 1);
        assert_non_null(body[i]);
        fill(body[i], sizes[i], (unsigned)i + 1);
        sent[i] = op_on(&c);
        assert_status(CALL(sx_smp_aconn_send(c.c, sq, sizes[i] ? body[i] : NULL, sizes[i], on_done, &sent[i])),
                      SX_OK);
    }
    /* one byte more: refused at the call, no callback */
    uint8_t *big = calloc(1, max + 1);
    assert_non_null(big);
    op_rec too_long = op_on(&c);
    assert_status(CALL(sx_smp_aconn_send(c.c, sq, big, max + 1, on_done, &too_long)), SX_E_LIMIT);
    assert_msg_contains("longer than");
    assert_string_equal(sx_error_code(), "");
    free(big);
    for (size_t i = 0; i < N; i++) {
        wait_op(&sent[i], SX_OK);
        if (i)
            assert_true(sent[i].seq > sent[i - 1].seq);
    }

    /* subscribed: the messages in order, each after the ack of the one
     * before; odd ones have their body taken in the callback */
    op_rec sub = op_on(&c);
    assert_status(CALL(sx_smp_aconn_subscribe(c.c, rq, on_done, &sub)), SX_OK);
    int64_t now = (int64_t)time(NULL);
    for (int i = 0; i < N; i++) {
        ev_rec *e = wait_event(&c, i, SX_SMP_EVENT_MESSAGE, rq);
        if (i == 0) {
            assert_int_equal(sub.n, 1);
            assert_status(sub.st, SX_OK);
            assert_true(sub.seq < e->seq);
        }
        assert_int_equal(e->ev.body_len, sizes[i]);
        assert_non_null(e->ev.body);
        if (sizes[i])
            assert_memory_equal(e->ev.body, body[i], sizes[i]);
        assert_false(e->ev.notification);
        assert_true(e->ev.msg_id_len > 0 && e->ev.msg_id_len <= SX_SMP_MSG_ID_MAX);
        assert_true(e->ev.timestamp > now - 3600 && e->ev.timestamp < now + 3600);
        /* nothing more until it is acknowledged */
        run_for(i == 0 ? 300 : 50);
        assert_int_equal(c.n_ev, i + 1);
        c.take_body = (i + 1) % 2 == 1; /* the next one comes with the ack's answer */
        ack_ok(&c, rq, &e->ev);
    }
    for (size_t i = 0; i < N; i++)
        free(body[i]);
    run_for(200);
    assert_int_equal(c.n_ev, N);

    /* the last one again: NO_MSG from the router */
    op_rec again = op_on(&c);
    assert_status(CALL(sx_smp_aconn_ack(c.c, rq, &c.ev[N - 1].ev, on_done, &again)), SX_OK);
    wait_op(&again, SX_E_PROTOCOL);
    assert_string_equal(again.code, "NO_MSG");
    assert_contains(again.msg, "NO_MSG");
    assert_contains(again.msg, "acknowledge");

    /* refused at the call: sides in the other's role, no event to ack */
    op_rec no = op_on(&c);
    sx_smp_event none = {0};
    assert_status(CALL(sx_smp_aconn_send(c.c, rq, "x", 1, on_done, &no)), SX_E_USAGE);
    assert_msg_contains("sender side");
    assert_status(CALL(sx_smp_aconn_subscribe(c.c, sq, on_done, &no)), SX_E_USAGE);
    assert_msg_contains("recipient side");
    assert_status(CALL(sx_smp_aconn_secure(c.c, rq, on_done, &no)), SX_E_USAGE);
    assert_status(CALL(sx_smp_aconn_delete(c.c, sq, on_done, &no)), SX_E_USAGE);
    assert_status(CALL(sx_smp_aconn_ack(c.c, sq, &c.ev[0].ev, on_done, &no)), SX_E_USAGE);
    assert_status(CALL(sx_smp_aconn_ack(c.c, rq, &none, on_done, &no)), SX_E_USAGE);
    assert_status(CALL(sx_smp_aconn_ack(c.c, rq, NULL, on_done, &no)), SX_E_USAGE);
    assert_status(CALL(sx_smp_aconn_send(c.c, sq, NULL, 3, on_done, &no)), SX_E_USAGE);
    assert_status(CALL(sx_smp_aconn_subscribe(c.c, NULL, on_done, &no)), SX_E_USAGE);

    /* a sender side without the key of the secured queue: AUTH */
    sx_smp_queue *sq2 = NULL;
    assert_status(sx_smp_queue_sender(rq, &sq2), SX_OK);
    op_rec nokey = op_on(&c);
    assert_status(CALL(sx_smp_aconn_send(c.c, sq2, "x", 1, on_done, &nokey)), SX_OK);
    wait_op(&nokey, SX_E_AUTH);
    assert_string_equal(nokey.code, "AUTH");
    assert_contains(nokey.msg, "no key");
    op_rec other = op_on(&c);
    assert_status(CALL(sx_smp_aconn_secure(c.c, sq2, on_done, &other)), SX_OK); /* makes another key */
    wait_op(&other, SX_E_AUTH);
    assert_string_equal(other.code, "AUTH");
    sx_smp_queue_free(sq2);

    /* a message without a callback still goes */
    assert_status(CALL(sx_smp_aconn_send(c.c, sq, "no callback", 11, NULL, NULL)), SX_OK);
    expect_message(&c, N, rq, "no callback");

    /* deleted: the sender is refused, a second delete too */
    delete_ok(&c, rq);
    op_rec late = op_on(&c);
    assert_status(CALL(sx_smp_aconn_send(c.c, sq, "late", 4, on_done, &late)), SX_OK);
    wait_op(&late, SX_E_AUTH);
    assert_string_equal(late.code, "AUTH");
    assert_contains(late.msg, "AUTH");
    op_rec del2 = op_on(&c);
    assert_status(CALL(sx_smp_aconn_delete(c.c, rq, on_done, &del2)), SX_OK);
    wait_op(&del2, SX_E_AUTH);
    assert_string_equal(del2.code, "AUTH");
    assert_contains(del2.msg, "delete");

    close_conn(&c);
    run_for(100);
    assert_int_equal(no.n + too_long.n, 0);
    assert_int_equal(c.n_ev, N + 1);
    conn_rec_cleanup(&c);
    sx_smp_queue_free(sq);
    sx_smp_queue_free(rq);
}

/* ---- END and DELETED between two connections ---- */

static void test_end_deleted(void **state)
{
    (void)state;
    conn_rec c1 = {0}, c2 = {0};
    connect_to(&c1, g_addr);
    connect_to(&c2, g_addr);
    c1.free_on_end = c2.free_on_end = true;
    sx_smp_queue *sq = NULL;
    sx_smp_queue *rq = create_queue(&c1, &sq);
    sx_smp_queue *rq_keep = copy_queue(rq, false);
    sx_smp_queue *rq2 = copy_queue(rq, false);
    subscribe_ok(&c1, rq);
    send_ok(&c1, sq, "to c1");
    expect_message(&c1, 0, rq, "to c1");

    /* the second connection takes the subscription: the first hears END
     * and frees the queue in the callback */
    subscribe_ok(&c2, rq2);
    ev_rec *e = wait_event(&c1, 1, SX_SMP_EVENT_END, rq);
    assert_null(e->ev.body);
    assert_int_equal(c1.freed, 1);
    rq = NULL;
    send_ok(&c1, sq, "to c2");
    expect_message(&c2, 0, rq2, "to c2");

    /* c1 goes on with another queue (it must not look at the freed one) */
    sx_smp_queue *osq = NULL;
    sx_smp_queue *orq = create_queue(&c1, &osq);
    subscribe_ok(&c1, orq);
    send_ok(&c1, osq, "other");
    expect_message(&c1, 2, orq, "other");
    run_for(100);
    assert_int_equal(c1.n_ev, 3);

    /* a subscription that fails keeps nothing either: the queue is gone */
    sx_smp_queue *gone = create_queue(&c1, NULL);
    sx_smp_queue *gone2 = copy_queue(gone, false);
    delete_ok(&c1, gone);
    op_rec sub = op_on(&c1);
    assert_status(CALL(sx_smp_aconn_subscribe(c1.c, gone2, on_done, &sub)), SX_OK);
    wait_op(&sub, SX_E_AUTH);
    assert_string_equal(sub.code, "AUTH");
    assert_contains(sub.msg, "subscribe");
    sx_smp_queue_free(gone2);
    sx_smp_queue_free(gone);
    send_ok(&c1, osq, "other again");
    expect_message(&c1, 3, orq, "other again");

    /* deleted from the first connection: the subscriber hears DELETED and
     * frees the queue in the callback */
    delete_ok(&c1, rq_keep);
    wait_event(&c2, 1, SX_SMP_EVENT_DELETED, rq2);
    assert_int_equal(c2.freed, 1);
    rq2 = NULL;
    op_rec gone_send = op_on(&c1);
    assert_status(CALL(sx_smp_aconn_send(c1.c, sq, "gone", 4, on_done, &gone_send)), SX_OK);
    wait_op(&gone_send, SX_E_AUTH);
    assert_string_equal(gone_send.code, "AUTH");

    /* c2 goes on too */
    sx_smp_queue *tsq = NULL;
    sx_smp_queue *trq = create_queue(&c2, &tsq);
    subscribe_ok(&c2, trq);
    send_ok(&c2, tsq, "c2 again");
    expect_message(&c2, 2, trq, "c2 again");

    /* a subscribed queue deleted on its own connection leaves it: freed
     * at once, then the connection goes on */
    delete_ok(&c2, trq);
    sx_smp_queue_free(trq);
    sx_smp_queue_free(tsq);
    sx_smp_queue *usq = NULL;
    sx_smp_queue *urq = create_queue(&c2, &usq);
    subscribe_ok(&c2, urq);
    send_ok(&c2, usq, "last");
    expect_message(&c2, 3, urq, "last");

    delete_ok(&c1, orq);
    delete_ok(&c2, urq);
    close_conn(&c1);
    close_conn(&c2);
    assert_int_equal(c1.n_ev, 4);
    assert_int_equal(c2.n_ev, 4);
    conn_rec_cleanup(&c1);
    conn_rec_cleanup(&c2);
    sx_smp_queue_free(urq);
    sx_smp_queue_free(usq);
    sx_smp_queue_free(orq);
    sx_smp_queue_free(osq);
    sx_smp_queue_free(rq_keep);
    sx_smp_queue_free(sq);
}

/* ---- UNREADABLE and QUOTA ---- */

static void test_unreadable_quota(void **state)
{
    (void)state;
    conn_rec c = {0};
    connect_to(&c, g_addr);
    sx_smp_queue *sq = NULL;
    sx_smp_queue *rq = create_queue(&c, &sq);

    /* a recipient side with another secret: the message does not open */
    sx_smp_queue *spoilt = copy_queue(rq, true);
    send_ok(&c, sq, "secret");
    subscribe_ok(&c, spoilt);
    ev_rec *e = wait_event(&c, 0, SX_SMP_EVENT_UNREADABLE, spoilt);
    assert_null(e->ev.body);
    assert_true(e->ev.msg_id_len > 0);
    ack_ok(&c, spoilt, &e->ev);
    delete_ok(&c, spoilt);
    sx_smp_queue_free(spoilt);
    sx_smp_queue_free(sq);
    sx_smp_queue_free(rq);

    /* a full queue: the send after the last that fits is refused with
     * QUOTA; subscribed, the messages come and then the QUOTA mark, each
     * acknowledged from the event callback */
    rq = create_queue(&c, &sq);
    enum { MAX_SENDS = 400 };
    op_rec *sends = calloc(MAX_SENDS, sizeof *sends);
    assert_non_null(sends);
    int n = 0;
    for (;; n++) {
        char m[32];
        snprintf(m, sizeof m, "message %d", n);
        sends[n] = op_on(&c);
        assert_status(CALL(sx_smp_aconn_send(c.c, sq, m, strlen(m), on_done, &sends[n])), SX_OK);
        WAIT(sends[n].n > 0);
        if (sends[n].st != SX_OK || n == MAX_SENDS - 1)
            break;
    }
    assert_true(n > 0 && n < MAX_SENDS - 1);
    assert_status(sends[n].st, SX_E_LIMIT);
    assert_string_equal(sends[n].code, "QUOTA");
    assert_contains(sends[n].msg, "QUOTA");
    free(sends);
    c.auto_ack = true;
    conn_rec_cleanup(&c); /* events from 0 again */
    subscribe_ok(&c, rq);
    WAIT(c.n_ev > n);
    for (int i = 0; i < n; i++) {
        char m[32];
        snprintf(m, sizeof m, "message %d", i);
        assert_int_equal(c.ev[i].ev.kind, SX_SMP_EVENT_MESSAGE);
        assert_int_equal(c.ev[i].ev.body_len, strlen(m));
        assert_memory_equal(c.ev[i].ev.body, m, strlen(m));
    }
    assert_int_equal(c.ev[n].ev.kind, SX_SMP_EVENT_QUOTA);
    assert_ptr_equal(c.ev[n].ev.queue, rq);
    assert_null(c.ev[n].ev.body);
    WAIT(c.acks_ok == n + 1);
    assert_int_equal(c.acks_failed, 0);
    c.auto_ack = false;
    send_ok(&c, sq, "room again");
    expect_message(&c, n + 1, rq, "room again");
    delete_ok(&c, rq);
    close_conn(&c);
    conn_rec_cleanup(&c);
    sx_smp_queue_free(sq);
    sx_smp_queue_free(rq);
}

/* ---- close with operations waiting ---- */

static void test_close_waiting(void **state)
{
    (void)state;
    conn_rec c = {0};
    connect_to(&c, g_addr);
    sx_smp_queue *sq = NULL;
    sx_smp_queue *rq = create_queue(&c, &sq);
    sx_smp_queue *other = create_queue(&c, NULL);
    sx_smp_queue *victim = create_queue(&c, NULL);
    subscribe_ok(&c, rq);

    /* a batch of operations, then the close before any answer came (they
     * are written to the router before the close: what it did with them is
     * not known, so victim is not used again) */
    enum { N = 8 };
    op_rec ops[N];
    for (int i = 0; i < N; i++)
        ops[i] = op_on(&c);
    sx_smp_event msg = {.kind = SX_SMP_EVENT_MESSAGE, .msg_id = {1, 2, 3}, .msg_id_len = 3};
    assert_status(CALL(sx_smp_aconn_create(c.c, on_created, &ops[0])), SX_OK);
    assert_status(CALL(sx_smp_aconn_secure(c.c, sq, on_done, &ops[1])), SX_OK);
    assert_status(CALL(sx_smp_aconn_send(c.c, sq, "one", 3, on_done, &ops[2])), SX_OK);
    assert_status(CALL(sx_smp_aconn_send(c.c, sq, "two", 3, on_done, &ops[3])), SX_OK);
    assert_status(CALL(sx_smp_aconn_subscribe(c.c, other, on_done, &ops[4])), SX_OK);
    assert_status(CALL(sx_smp_aconn_ack(c.c, rq, &msg, on_done, &ops[5])), SX_OK);
    assert_status(CALL(sx_smp_aconn_delete(c.c, victim, on_done, &ops[6])), SX_OK);
    assert_status(CALL(sx_smp_aconn_create(c.c, on_created, &ops[7])), SX_OK);
    sx_smp_aconn_close(c.c);
    sx_smp_aconn_close(c.c);
    WAIT(c.ended);
    assert_int_equal(c.connected_n, 1);
    assert_int_equal(c.closed_n, 1);
    assert_status(c.closed_st, SX_OK);
    for (int i = 0; i < N; i++) {
        if (ops[i].n != 1)
            fail_msg("operation %d: %d callbacks", i, ops[i].n);
        if (ops[i].st != SX_E_CLOSED)
            fail_msg("operation %d: %s (%s), expected CLOSED", i, sx_status_str(ops[i].st), ops[i].msg);
        assert_true(ops[i].seq < c.closed_seq);
        assert_null(ops[i].q);
        assert_string_equal(ops[i].code, "");
        /* the cause is the program's close, not the router */
        assert_contains(ops[i].msg, "closed");
        if (strstr(ops[i].msg, "router"))
            fail_msg("operation %d: '%s' blames the router", i, ops[i].msg);
    }
    assert_contains(ops[0].msg, "create");
    assert_contains(ops[2].msg, "send");
    assert_contains(ops[5].msg, "acknowledge");
    /* nothing after closed */
    int calls = T->callbacks;
    run_for(300);
    assert_int_equal(T->callbacks, calls + 1);
    assert_int_equal(c.n_ev, 0);

    /* the queues are the program's again; a fresh connection uses them */
    conn_rec d = {0};
    connect_to(&d, g_addr);
    delete_ok(&d, rq);
    delete_ok(&d, other);
    close_conn(&d);
    sx_smp_queue_free(victim);
    sx_smp_queue_free(other);
    sx_smp_queue_free(sq);
    sx_smp_queue_free(rq);
}

/* ---- a router that goes away ---- */

static void test_router_gone(void **state)
{
    (void)state;
    sx_router *r = NULL;
    assert_status(start_router(&r), SX_OK);
    char addr[512];
    snprintf(addr, sizeof addr, "smp://" FIXTURE_FP ":" CREATE_PW "@127.0.0.1:%u", sx_router_port(r, 0));
    conn_rec c = {0};
    connect_to(&c, addr);
    sx_smp_queue *sq = NULL;
    sx_smp_queue *rq = create_queue(&c, &sq);
    subscribe_ok(&c, rq);
    send_ok(&c, sq, "before");
    expect_message(&c, 0, rq, "before");

    /* operations waiting when the router stops */
    op_rec ops[3] = {op_on(&c), op_on(&c), op_on(&c)};
    assert_status(CALL(sx_smp_aconn_send(c.c, sq, "lost", 4, on_done, &ops[0])), SX_OK);
    assert_status(CALL(sx_smp_aconn_create(c.c, on_created, &ops[1])), SX_OK);
    assert_status(CALL(sx_smp_aconn_delete(c.c, rq, on_done, &ops[2])), SX_OK);
    sx_router_stop(r);
    WAIT(c.ended);
    assert_int_equal(c.closed_n, 1);
    if (c.closed_st != SX_E_CLOSED && c.closed_st != SX_E_IO)
        fail_msg("closed with %s (%s)", sx_status_str(c.closed_st), c.msg);
    assert_true(c.msg[0] != '\0');
    assert_contains(c.msg, c.closed_st == SX_E_CLOSED ? "router closed" : "network error");
    assert_string_equal(c.code, "");
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ops[i].n, 1);
        assert_status(ops[i].st, c.closed_st);
        assert_true(ops[i].seq < c.closed_seq);
        assert_true(ops[i].msg[0] != '\0');
    }
    assert_contains(ops[0].msg, "send");
    assert_null(ops[1].q);
    run_for(100);
    assert_int_equal(c.n_ev, 1);

    /* and one that was never there: connected(SX_E_IO) */
    conn_rec again = {0};
    start_connect(&again, addr, 3000);
    WAIT(again.ended);
    assert_status(again.connected_st, SX_E_IO);
    conn_rec_cleanup(&c);
    sx_smp_queue_free(sq);
    sx_smp_queue_free(rq);
}

/* ---- sx_loop_call from another thread, timers ---- */

enum { JOBS = 50 };

typedef struct job_ctx {
    conn_rec *c;
    sx_smp_queue *sq;
    int ran;
    int sends_failed;
    bool order_ok;
} job_ctx;

typedef struct job {
    job_ctx *ctx;
    int i;
} job;

static void on_job_sent(sx_smp_aconn *c, sx_status st, void *arg)
{
    (void)c;
    job_ctx *x = arg;
    enter("job sent");
    if (st != SX_OK)
        x->sends_failed++;
}

static void run_job(sx_loop *loop, void *arg)
{
    job *j = arg;
    job_ctx *x = j->ctx;
    enter("loop call");
    if (!pthread_equal(pthread_self(), T->thread))
        note_bad("sx_loop_call ran on another thread");
    if (loop != T->loop)
        note_bad("sx_loop_call: another loop");
    if (j->i != x->ran)
        x->order_ok = false;
    x->ran++;
    char m[32];
    snprintf(m, sizeof m, "job %d", j->i);
    if (CALL(sx_smp_aconn_send(x->c->c, x->sq, m, strlen(m), on_job_sent, x)) != SX_OK)
        x->sends_failed++;
    free(j);
}

static void *poster(void *arg)
{
    job_ctx *x = arg;
    for (int i = 0; i < JOBS; i++) {
        job *j = malloc(sizeof *j);
        if (!j)
            abort();
        j->ctx = x;
        j->i = i;
        if (sx_loop_call(T->loop, run_job, j) != SX_OK)
            abort();
        if (i % 10 == 0)
            usleep(2000);
    }
    return NULL;
}

typedef struct tick_ctx {
    conn_rec *c;
    sx_smp_queue *sq;
    sx_timer *t;
    int ticks;
    int stop_at, free_at;
} tick_ctx;

static void on_tick(sx_loop *loop, void *arg)
{
    (void)loop;
    tick_ctx *k = arg;
    enter("tick");
    char m[32];
    snprintf(m, sizeof m, "tick %d", k->ticks++);
    if (CALL(sx_smp_aconn_send(k->c->c, k->sq, m, strlen(m), NULL, NULL)) != SX_OK)
        note_bad("tick send: %s", sx_error_message());
    if (k->ticks == k->stop_at)
        sx_timer_stop(k->t); /* from its own callback */
    if (k->ticks == k->free_at) {
        sx_timer_free(k->t); /* from its own callback */
        k->t = NULL;
    }
}

static void test_loop_call_timers(void **state)
{
    (void)state;
    conn_rec c = {0};
    connect_to(&c, g_addr);
    c.auto_ack = true;
    sx_smp_queue *sq = NULL;
    sx_smp_queue *rq = create_queue(&c, &sq);
    subscribe_ok(&c, rq);

    /* work handed to the loop from another thread, in order */
    job_ctx x = {.c = &c, .sq = sq, .order_ok = true};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, poster, &x), 0);
    WAIT(c.n_ev == JOBS);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(x.ran, JOBS);
    assert_true(x.order_ok);
    assert_int_equal(x.sends_failed, 0);
    for (int i = 0; i < JOBS; i++) {
        char m[32];
        snprintf(m, sizeof m, "job %d", i);
        assert_int_equal(c.ev[i].ev.kind, SX_SMP_EVENT_MESSAGE);
        assert_int_equal(c.ev[i].ev.body_len, strlen(m));
        assert_memory_equal(c.ev[i].ev.body, m, strlen(m));
    }

    /* a repeating timer that stops itself after 5 ticks */
    tick_ctx k = {.c = &c, .sq = sq, .stop_at = 5, .free_at = 8};
    assert_status(sx_timer_new(T->loop, on_tick, &k, &k.t), SX_OK);
    assert_string_equal(sx_error_message(), "");
    sx_timer_start(k.t, 1, 5);
    WAIT(c.n_ev == JOBS + 5);
    run_for(100);
    assert_int_equal(k.ticks, 5);
    assert_int_equal(c.n_ev, JOBS + 5);
    /* re-armed, it frees itself in its 8th tick */
    sx_timer_start(k.t, 0, 3);
    WAIT(c.n_ev == JOBS + 8);
    assert_null(k.t);
    run_for(100);
    assert_int_equal(k.ticks, 8);
    assert_int_equal(c.n_ev, JOBS + 8);
    for (int i = 0; i < 8; i++) {
        char m[32];
        snprintf(m, sizeof m, "tick %d", i);
        ev_rec *e = &c.ev[JOBS + i];
        assert_int_equal(e->ev.body_len, strlen(m));
        assert_memory_equal(e->ev.body, m, strlen(m));
    }
    WAIT(c.acks_ok == JOBS + 8);
    assert_int_equal(c.acks_failed, 0);

    /* a timer freed before it fired, and a stopped one, never call */
    sx_timer *never = NULL, *stopped = NULL;
    bool fired = false;
    assert_status(sx_timer_new(T->loop, ran_out, &fired, &never), SX_OK);
    assert_status(sx_timer_new(T->loop, ran_out, &fired, &stopped), SX_OK);
    sx_timer_start(never, 10, 0);
    sx_timer_start(stopped, 10, 10);
    sx_timer_free(never);
    sx_timer_stop(stopped);
    run_for(100);
    assert_false(fired);
    sx_timer_free(stopped);
    sx_timer_free(NULL);

    /* a failed call's detail is cleared by the next call that succeeds */
    sx_timer *t = NULL;
    assert_status(sx_timer_new(T->loop, NULL, NULL, &t), SX_E_USAGE);
    assert_null(t);
    assert_msg_contains("timer");
    assert_status(sx_timer_new(T->loop, ran_out, &fired, &t), SX_OK);
    assert_string_equal(sx_error_message(), "");
    sx_timer_free(t);
    assert_status(sx_loop_call(NULL, run_job, NULL), SX_E_USAGE);
    assert_msg_contains("loop call");
    bool called = false;
    assert_status(sx_loop_call(T->loop, ran_out, &called), SX_OK);
    assert_string_equal(sx_error_message(), "");
    WAIT(called);

    delete_ok(&c, rq);
    close_conn(&c);
    conn_rec_cleanup(&c);
    sx_smp_queue_free(sq);
    sx_smp_queue_free(rq);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_connect_usage, loop_setup, loop_teardown),
        cmocka_unit_test_setup_teardown(test_connect_failures, loop_setup, loop_teardown),
        cmocka_unit_test_setup_teardown(test_host_mode, loop_setup, loop_teardown),
        cmocka_unit_test_setup_teardown(test_close_connecting, loop_setup, loop_teardown),
        cmocka_unit_test_setup_teardown(test_not_connected, loop_setup, loop_teardown),
        cmocka_unit_test_setup_teardown(test_create_password, loop_setup, loop_teardown),
        cmocka_unit_test_setup_teardown(test_queue_life, loop_setup, loop_teardown),
        cmocka_unit_test_setup_teardown(test_end_deleted, loop_setup, loop_teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_quota, loop_setup, loop_teardown),
        cmocka_unit_test_setup_teardown(test_close_waiting, loop_setup, loop_teardown),
        cmocka_unit_test_setup_teardown(test_router_gone, loop_setup, loop_teardown),
        cmocka_unit_test_setup_teardown(test_loop_call_timers, loop_setup, loop_teardown),
    };
    return cmocka_run_group_tests(tests, smp_setup, smp_teardown);
}
