/* The public C API (include/simplex/) against routers started in process on
 * loopback (fixture certificates): the semantics and the error detail of
 * simplex/smp.h (connect failures, a router that needs a password to create
 * queues, a queue's whole life, message sizes up to the limit, receive and
 * get, QUOTA, END, DELETED, AUTH after delete, NO_MSG, role misuse, queue
 * files), simplex/xftp.h (send to several recipients, receive, used and
 * deleted descriptions, bad arguments caught before any upload, progress,
 * describe), the per-thread error detail of simplex/status.h, and
 * simplex/version.h.
 *
 * What the test exercises goes through simplex/simplex.h only; the router
 * headers are here to start the routers (and for the router's queue quota,
 * PROTOCOL-NOTES E11). */
#include "testutil.h"

#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "simplex/simplex.h"

#include "smp_router/server.h"
#include "smp_router/store.h"
#include "xftp_router/server.h"

/* base64url SHA-256 of fixtures/ca.crt: the routers' identity */
#define FIXTURE_FP "LcJUMfVhwD8yxjAiSaDzzGF3-kLG4Uh0Fl_ZIjrRwjI="
#define OTHER_FP "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
#define CREATE_PW "api-test-pw"
#define TIMEOUT_MS 10000

static char g_dir[256];        /* temporary folder of the whole run */
static char g_cert[1024], g_ca[1024], g_key[1024];
static sx_router *g_smp;
static char g_addr[512];       /* with the create password */
static char g_addr_nopw[512];  /* without */
static uint16_t g_smp_port;
static sx_xftp_server *g_xftp;
static char g_xftp_files[300]; /* the XFTP router's files folder */
static char g_xftp_addr[512];

#define assert_msg_contains(s)                                                                      \
    do {                                                                                            \
        const char *m_ = sx_error_message();                                                        \
        if (!strstr(m_, (s)))                                                                       \
            fail_msg("sx_error_message() '%s' does not contain '%s'", m_, (s));                     \
    } while (0)
#define assert_code(s) assert_string_equal(sx_error_code(), (s))
#define assert_no_error()                                                                           \
    do {                                                                                            \
        assert_string_equal(sx_error_message(), "");                                                \
        assert_string_equal(sx_error_code(), "");                                                   \
    } while (0)
/* The call's status; on a mismatch the failure names the status and the
 * error detail. */
#define assert_status(expr, want)                                                                   \
    do {                                                                                            \
        sx_status got_ = (expr);                                                                    \
        if (got_ != (want))                                                                         \
            fail_msg("%s: got %s (%s, code '%s'), expected %s", #expr, sx_status_str(got_),          \
                     sx_error_message(), sx_error_code(), sx_status_str(want));                     \
    } while (0)

static void fixture_paths(void)
{
    snprintf(g_cert, sizeof g_cert, "%s", tu_data_path("fixtures/server.crt"));
    snprintf(g_ca, sizeof g_ca, "%s", tu_data_path("fixtures/ca.crt"));
    snprintf(g_key, sizeof g_key, "%s", tu_data_path("fixtures/server.key"));
}

static int smp_setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/sx_itest_api_XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    fixture_paths();
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
    if (sx_router_start(&o, &g_smp) != SX_OK)
        return -1;
    g_smp_port = sx_router_port(g_smp, 0);
    snprintf(g_addr, sizeof g_addr, "smp://" FIXTURE_FP ":" CREATE_PW "@127.0.0.1:%u", g_smp_port);
    snprintf(g_addr_nopw, sizeof g_addr_nopw, "smp://" FIXTURE_FP "@127.0.0.1:%u", g_smp_port);
    return 0;
}

static int smp_teardown(void **state)
{
    (void)state;
    sx_router_stop(g_smp);
    g_smp = NULL;
    tu_rm_rf(g_dir);
    return 0;
}

static sx_smp_conn *conn(const char *addr)
{
    sx_smp_conn_opts o = {.timeout_ms = TIMEOUT_MS};
    sx_smp_conn *c = NULL;
    assert_status(sx_smp_connect(addr, &o, &c), SX_OK);
    assert_non_null(c);
    assert_no_error();
    return c;
}

/* A new queue on c: its recipient side, and its sender side in *sq when
 * sq is not NULL. */
static sx_smp_queue *new_queue(sx_smp_conn *c, sx_smp_queue **sq)
{
    sx_smp_queue *rq = NULL;
    assert_status(sx_smp_queue_create(c, &rq), SX_OK);
    assert_non_null(rq);
    if (sq) {
        assert_status(sx_smp_queue_sender(rq, sq), SX_OK);
        assert_non_null(*sq);
    }
    return rq;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    uint32_t x = seed * 2654435761u + 7;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (uint8_t)(x >> 16);
    }
}

/* The next event from c within the timeout; fails unless it is `kind`. */
static void expect_event(sx_smp_conn *c, int timeout_ms, sx_smp_event_kind kind, sx_smp_event *ev)
{
    assert_status(sx_smp_receive(c, timeout_ms, ev), SX_OK);
    if (ev->kind != kind)
        fail_msg("expected event %d, got %d", (int)kind, (int)ev->kind);
}

/* Receives the message `body` of rq on c and acknowledges it. */
static void expect_message(sx_smp_conn *c, sx_smp_queue *rq, const void *body, size_t len)
{
    sx_smp_event ev;
    expect_event(c, 5000, SX_SMP_EVENT_MESSAGE, &ev);
    assert_ptr_equal(ev.queue, rq);
    assert_int_equal(ev.body_len, len);
    assert_non_null(ev.body);
    if (len)
        assert_memory_equal(ev.body, body, len);
    assert_status(sx_smp_ack(c, rq, &ev), SX_OK);
    sx_smp_event_clear(&ev);
    assert_null(ev.body);
    assert_int_equal(ev.kind, SX_SMP_EVENT_NONE);
}

/* ---- SMP: connecting ---- */

static void test_connect_errors(void **state)
{
    (void)state;
    sx_smp_conn_opts o = {.timeout_ms = 3000};
    sx_smp_conn *c = (sx_smp_conn *)&o; /* must be set to NULL on failure */

    /* an address that does not parse */
    assert_status(sx_smp_connect("smp://not-an-address", &o, &c), SX_E_USAGE);
    assert_null(c);
    assert_msg_contains("invalid server address");
    assert_msg_contains("smp://not-an-address");
    assert_code("");
    assert_status(sx_smp_connect("smp://" FIXTURE_FP "@127.0.0.1:5223 x", &o, &c), SX_E_USAGE);
    assert_status(sx_smp_connect(NULL, &o, &c), SX_E_USAGE);
    assert_status(sx_smp_connect(g_addr, &o, NULL), SX_E_USAGE);

    /* a router whose identity is not the fingerprint's */
    char addr[512];
    snprintf(addr, sizeof addr, "smp://" OTHER_FP ":" CREATE_PW "@127.0.0.1:%u", g_smp_port);
    assert_status(sx_smp_connect(addr, &o, &c), SX_E_AUTH);
    assert_null(c);
    assert_msg_contains("identity");
    assert_msg_contains("fingerprint");
    assert_code("");

    /* nothing listening */
    snprintf(addr, sizeof addr, "smp://" FIXTURE_FP "@127.0.0.1:%u", tu_free_port());
    assert_status(sx_smp_connect(addr, &o, &c), SX_E_IO);
    assert_null(c);
    assert_msg_contains("cannot connect to 127.0.0.1");
    assert_code("");

    /* a success clears the detail of the failure before it */
    c = conn(g_addr);
    assert_true(sx_smp_conn_version(c) > 0);
    assert_true(sx_smp_conn_max_body(c) > 0);
    sx_smp_close(c);
    sx_smp_close(NULL);
}

/* ---- SMP: a router that needs a password to create queues ---- */

static void test_create_password(void **state)
{
    (void)state;
    sx_smp_conn *c = conn(g_addr_nopw);
    sx_smp_queue *q = (sx_smp_queue *)c; /* must be set to NULL on failure */
    assert_status(sx_smp_queue_create(c, &q), SX_E_AUTH);
    assert_null(q);
    assert_code("AUTH");
    assert_msg_contains("password");
    sx_smp_close(c);

    /* a wrong password */
    char addr[512];
    snprintf(addr, sizeof addr, "smp://" FIXTURE_FP ":wrong-pw@127.0.0.1:%u", g_smp_port);
    c = conn(addr);
    assert_status(sx_smp_queue_create(c, &q), SX_E_AUTH);
    assert_code("AUTH");
    sx_smp_close(c);

    c = conn(g_addr);
    sx_smp_queue *sq = NULL;
    sx_smp_queue *rq = new_queue(c, &sq);
    assert_no_error();
    assert_int_equal(sx_smp_queue_role(rq), SX_SMP_ROLE_RECIPIENT);
    assert_string_equal(sx_smp_queue_server(rq), g_addr);
    /* the sender side does not get the password */
    assert_int_equal(sx_smp_queue_role(sq), SX_SMP_ROLE_SENDER);
    assert_string_equal(sx_smp_queue_server(sq), g_addr_nopw);
    assert_false(sx_smp_queue_has_sender_key(sq));
    assert_status(sx_smp_queue_delete(c, rq), SX_OK);
    sx_smp_queue_free(sq);
    sx_smp_queue_free(rq);
    sx_smp_close(c);
}

/* ---- SMP: a queue's life ---- */

static void test_queue_life(void **state)
{
    (void)state;
    sx_smp_conn *c = conn(g_addr);
    sx_smp_queue *sq = NULL;
    sx_smp_queue *rq = new_queue(c, &sq);

    bool created = false;
    assert_status(sx_smp_queue_make_sender_key(sq, &created), SX_OK);
    assert_true(created);
    assert_true(sx_smp_queue_has_sender_key(sq));
    assert_status(sx_smp_queue_make_sender_key(sq, &created), SX_OK);
    assert_false(created); /* kept, not replaced */
    assert_status(sx_smp_queue_secure(c, sq), SX_OK);
    /* repeated with the same key (an answer that was lost) */
    assert_status(sx_smp_queue_secure(c, sq), SX_OK);
    assert_no_error();

    /* messages of different sizes, up to the limit */
    size_t max = sx_smp_conn_max_body(c);
    assert_true(max > 1000);
    const size_t sizes[] = {0, 1, 100, 1000, max - 1, max};
    enum { N = sizeof sizes / sizeof sizes[0] };
    uint8_t *body[N];
    for (size_t i = 0; i < N; i++) {
        body[i] = malloc(sizes[i] + 1);
        assert_non_null(body[i]);
        fill(body[i], sizes[i], (unsigned)i + 1);
        assert_status(sx_smp_send(c, sq, sizes[i] ? body[i] : NULL, sizes[i]), SX_OK);
    }
    uint8_t *big = calloc(1, max + 1);
    assert_non_null(big);
    assert_status(sx_smp_send(c, sq, big, max + 1), SX_E_LIMIT);
    assert_code("");
    assert_msg_contains("longer than");
    free(big);

    /* in order, as MESSAGE events with the bodies sent */
    assert_status(sx_smp_subscribe(c, rq), SX_OK);
    int64_t now = (int64_t)time(NULL);
    sx_smp_event last = {0};
    for (size_t i = 0; i < N; i++) {
        sx_smp_event ev;
        expect_event(c, 5000, SX_SMP_EVENT_MESSAGE, &ev);
        assert_ptr_equal(ev.queue, rq);
        assert_int_equal(ev.body_len, sizes[i]);
        assert_non_null(ev.body);
        if (sizes[i])
            assert_memory_equal(ev.body, body[i], sizes[i]);
        assert_false(ev.notification);
        assert_true(ev.msg_id_len > 0 && ev.msg_id_len <= SX_SMP_MSG_ID_MAX);
        assert_true(ev.timestamp > now - 3600 && ev.timestamp < now + 3600);
        assert_status(sx_smp_ack(c, rq, &ev), SX_OK);
        sx_smp_event_clear(&last);
        last = ev;
    }
    for (size_t i = 0; i < N; i++)
        free(body[i]);

    /* nothing more: SX_OK with no event, after about the timeout */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    sx_smp_event ev;
    assert_status(sx_smp_receive(c, 300, &ev), SX_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(ev.kind, SX_SMP_EVENT_NONE);
    assert_null(ev.body);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(ms >= 250);

    /* the message acknowledged already */
    assert_status(sx_smp_ack(c, rq, &last), SX_E_PROTOCOL);
    assert_code("NO_MSG");
    assert_msg_contains("NO_MSG");
    sx_smp_event_clear(&last);

    /* a side used in the other's role */
    assert_status(sx_smp_send(c, rq, "x", 1), SX_E_USAGE);
    assert_msg_contains("sender side");
    assert_code("");
    assert_status(sx_smp_subscribe(c, sq), SX_E_USAGE);
    assert_msg_contains("recipient side");
    assert_status(sx_smp_queue_secure(c, rq), SX_E_USAGE);
    assert_status(sx_smp_queue_delete(c, sq), SX_E_USAGE);
    assert_status(sx_smp_get(c, sq, &ev), SX_E_USAGE);
    sx_smp_queue *sq2 = NULL;
    assert_status(sx_smp_queue_sender(sq, &sq2), SX_E_USAGE);
    assert_null(sq2);
    assert_status(sx_smp_queue_make_sender_key(rq, NULL), SX_E_USAGE);

    /* a sender side without the key of the secured queue */
    assert_status(sx_smp_queue_sender(rq, &sq2), SX_OK);
    assert_false(sx_smp_queue_has_sender_key(sq2));
    assert_status(sx_smp_send(c, sq2, "x", 1), SX_E_AUTH);
    assert_code("AUTH");
    assert_msg_contains("no key");
    /* ... and with another key */
    assert_status(sx_smp_queue_make_sender_key(sq2, NULL), SX_OK);
    assert_status(sx_smp_queue_secure(c, sq2), SX_E_AUTH);
    assert_code("AUTH");
    assert_msg_contains("another key");
    assert_status(sx_smp_send(c, sq2, "x", 1), SX_E_AUTH);
    assert_code("AUTH");
    sx_smp_queue_free(sq2);
    /* the right side still sends */
    assert_status(sx_smp_send(c, sq, "still", 5), SX_OK);
    expect_message(c, rq, "still", 5);

    /* deleted: the sender is refused */
    assert_status(sx_smp_queue_delete(c, rq), SX_OK);
    assert_status(sx_smp_send(c, sq, "late", 4), SX_E_AUTH);
    assert_code("AUTH");
    assert_msg_contains("AUTH");
    assert_status(sx_smp_queue_delete(c, rq), SX_E_AUTH);
    assert_code("AUTH");

    sx_smp_close(c);
    sx_smp_queue_free(sq);
    sx_smp_queue_free(rq);
}

/* ---- SMP: receive with timeout 0 polls ---- */

static void test_receive_poll(void **state)
{
    (void)state;
    sx_smp_conn *c = conn(g_addr);
    sx_smp_queue *sq = NULL;
    sx_smp_queue *rq = new_queue(c, &sq);
    assert_status(sx_smp_subscribe(c, rq), SX_OK);
    sx_smp_event ev;
    assert_status(sx_smp_receive(c, 0, &ev), SX_OK);
    assert_int_equal(ev.kind, SX_SMP_EVENT_NONE);
    assert_status(sx_smp_send(c, sq, "polled", 6), SX_OK);
    /* the message is there (on the socket or read already): a timeout of 0
     * takes it without waiting */
    usleep(300 * 1000);
    assert_status(sx_smp_receive(c, 0, &ev), SX_OK);
    assert_int_equal(ev.kind, SX_SMP_EVENT_MESSAGE);
    assert_int_equal(ev.body_len, 6);
    assert_memory_equal(ev.body, "polled", 6);
    assert_status(sx_smp_ack(c, rq, &ev), SX_OK);
    sx_smp_event_clear(&ev);
    assert_status(sx_smp_receive(c, 0, &ev), SX_OK);
    assert_int_equal(ev.kind, SX_SMP_EVENT_NONE);
    assert_status(sx_smp_queue_delete(c, rq), SX_OK);
    sx_smp_close(c);
    sx_smp_queue_free(sq);
    sx_smp_queue_free(rq);
}

/* ---- SMP: get without subscribing ---- */

static void test_get(void **state)
{
    (void)state;
    sx_smp_conn *c = conn(g_addr);
    sx_smp_queue *sq = NULL;
    sx_smp_queue *rq = new_queue(c, &sq);
    sx_smp_event ev;
    assert_status(sx_smp_get(c, rq, &ev), SX_OK);
    assert_int_equal(ev.kind, SX_SMP_EVENT_NONE);

    /* an unsecured queue: the sender side without a key sends */
    assert_status(sx_smp_send(c, sq, "one", 3), SX_OK);
    assert_status(sx_smp_send(c, sq, "second", 6), SX_OK);
    assert_status(sx_smp_get(c, rq, &ev), SX_OK);
    assert_int_equal(ev.kind, SX_SMP_EVENT_MESSAGE);
    assert_ptr_equal(ev.queue, rq);
    assert_int_equal(ev.body_len, 3);
    assert_memory_equal(ev.body, "one", 3);
    assert_status(sx_smp_ack(c, rq, &ev), SX_OK);
    assert_status(sx_smp_ack(c, rq, &ev), SX_E_PROTOCOL);
    assert_code("NO_MSG");
    assert_msg_contains("NO_MSG");
    sx_smp_event_clear(&ev);

    assert_status(sx_smp_get(c, rq, &ev), SX_OK);
    assert_int_equal(ev.kind, SX_SMP_EVENT_MESSAGE);
    assert_int_equal(ev.body_len, 6);
    assert_memory_equal(ev.body, "second", 6);
    assert_status(sx_smp_ack(c, rq, &ev), SX_OK);
    sx_smp_event_clear(&ev);
    assert_status(sx_smp_get(c, rq, &ev), SX_OK);
    assert_int_equal(ev.kind, SX_SMP_EVENT_NONE);
    /* an event that is not a message cannot be acknowledged */
    assert_status(sx_smp_ack(c, rq, &ev), SX_E_USAGE);

    assert_status(sx_smp_queue_delete(c, rq), SX_OK);
    assert_status(sx_smp_get(c, rq, &ev), SX_E_AUTH);
    assert_code("AUTH");
    sx_smp_close(c);
    sx_smp_queue_free(sq);
    sx_smp_queue_free(rq);
}

/* ---- SMP: a full queue (PROTOCOL-NOTES E11) ---- */

static void test_quota(void **state)
{
    (void)state;
    sx_smp_conn *c = conn(g_addr);
    sx_smp_queue *sq = NULL;
    sx_smp_queue *rq = new_queue(c, &sq);
    char m[32];
    int n = 0;
    sx_status st;
    for (;;) {
        snprintf(m, sizeof m, "message %d", n);
        st = sx_smp_send(c, sq, m, strlen(m));
        if (st != SX_OK || n > 4 * SX_QUEUE_QUOTA)
            break;
        n++;
    }
    assert_status(st, SX_E_LIMIT);
    assert_int_equal(n, SX_QUEUE_QUOTA);
    assert_code("QUOTA");
    assert_msg_contains("QUOTA");
    /* still full: refused again */
    assert_status(sx_smp_send(c, sq, "more", 4), SX_E_LIMIT);
    assert_code("QUOTA");

    assert_status(sx_smp_subscribe(c, rq), SX_OK);
    for (int i = 0; i < n; i++) {
        snprintf(m, sizeof m, "message %d", i);
        expect_message(c, rq, m, strlen(m));
    }
    sx_smp_event ev;
    expect_event(c, 5000, SX_SMP_EVENT_QUOTA, &ev);
    assert_ptr_equal(ev.queue, rq);
    assert_null(ev.body);
    assert_int_equal(ev.body_len, 0);
    assert_true(ev.msg_id_len > 0);
    /* until the marker is acknowledged nothing more comes */
    sx_smp_event none;
    assert_status(sx_smp_receive(c, 200, &none), SX_OK);
    assert_int_equal(none.kind, SX_SMP_EVENT_NONE);
    assert_status(sx_smp_ack(c, rq, &ev), SX_OK);
    sx_smp_event_clear(&ev);
    assert_status(sx_smp_receive(c, 200, &ev), SX_OK);
    assert_int_equal(ev.kind, SX_SMP_EVENT_NONE);
    /* room again */
    assert_status(sx_smp_send(c, sq, "after", 5), SX_OK);
    expect_message(c, rq, "after", 5);

    assert_status(sx_smp_queue_delete(c, rq), SX_OK);
    sx_smp_close(c);
    sx_smp_queue_free(sq);
    sx_smp_queue_free(rq);
}

/* A copy of q through its text. */
static sx_smp_queue *copy_queue(const sx_smp_queue *q)
{
    char *text = NULL;
    size_t len = 0;
    assert_status(sx_smp_queue_format(q, &text, &len), SX_OK);
    sx_smp_queue *out = NULL;
    assert_status(sx_smp_queue_parse(text, len, &out), SX_OK);
    sx_smp_text_free(text, len);
    return out;
}

/* ---- SMP: END and DELETED ---- */

static void test_end_deleted(void **state)
{
    (void)state;
    sx_smp_conn *c1 = conn(g_addr), *c2 = conn(g_addr);
    sx_smp_queue *sq = NULL;
    sx_smp_queue *rq = new_queue(c1, &sq);
    sx_smp_queue *rq2 = copy_queue(rq);
    assert_status(sx_smp_subscribe(c1, rq), SX_OK);
    assert_status(sx_smp_send(c1, sq, "to c1", 5), SX_OK);
    expect_message(c1, rq, "to c1", 5);

    /* the second connection takes the subscription: the first hears END */
    assert_status(sx_smp_subscribe(c2, rq2), SX_OK);
    sx_smp_event ev;
    expect_event(c1, 5000, SX_SMP_EVENT_END, &ev);
    assert_ptr_equal(ev.queue, rq);
    assert_null(ev.body);
    assert_status(sx_smp_ack(c1, rq, &ev), SX_E_USAGE); /* not a message */
    sx_smp_event_clear(&ev);
    assert_status(sx_smp_send(c1, sq, "to c2", 5), SX_OK);
    expect_message(c2, rq2, "to c2", 5);
    assert_status(sx_smp_receive(c1, 200, &ev), SX_OK);
    assert_int_equal(ev.kind, SX_SMP_EVENT_NONE);

    /* after END the first connection holds rq no more: it may be freed while
     * c1 goes on subscribing others (ASan sees a connection that looks at it) */
    sx_smp_queue *rq_keep = copy_queue(rq);
    sx_smp_queue_free(rq);
    rq = rq_keep;
    sx_smp_queue *other_sq = NULL;
    sx_smp_queue *other = new_queue(c1, &other_sq);
    assert_status(sx_smp_subscribe(c1, other), SX_OK);
    assert_status(sx_smp_send(c1, other_sq, "other", 5), SX_OK);
    expect_message(c1, other, "other", 5);
    sx_smp_queue_free(other_sq);

    /* deleted from the first connection: the subscriber hears DELETED */
    assert_status(sx_smp_queue_delete(c1, rq), SX_OK);
    expect_event(c2, 5000, SX_SMP_EVENT_DELETED, &ev);
    assert_ptr_equal(ev.queue, rq2);
    sx_smp_event_clear(&ev);
    assert_status(sx_smp_send(c1, sq, "gone", 4), SX_E_AUTH);
    assert_code("AUTH");

    sx_smp_close(c1);
    sx_smp_close(c2);
    sx_smp_queue_free(other);
    sx_smp_queue_free(rq2);
    sx_smp_queue_free(sq);
    sx_smp_queue_free(rq);
}

/* ---- SMP: queues the connection no longer holds may be freed ----
 * A queue whose subscription failed, or that was deleted, is not subscribed
 * on the connection: it may be freed while the connection goes on (the
 * connection must not look at it again; ASan sees it when it does). */

static void test_free_unsubscribed(void **state)
{
    (void)state;
    sx_smp_conn *c = conn(g_addr);
    /* a subscription that fails: the queue is gone */
    sx_smp_queue *gone = new_queue(c, NULL);
    sx_smp_queue *gone2 = copy_queue(gone);
    assert_status(sx_smp_queue_delete(c, gone), SX_OK);
    assert_status(sx_smp_subscribe(c, gone2), SX_E_AUTH);
    assert_code("AUTH");
    sx_smp_queue_free(gone2);
    sx_smp_queue_free(gone);
    /* a subscribed queue deleted on this connection */
    sx_smp_queue *sq1 = NULL;
    sx_smp_queue *del = new_queue(c, &sq1);
    assert_status(sx_smp_subscribe(c, del), SX_OK);
    assert_status(sx_smp_queue_delete(c, del), SX_OK);
    sx_smp_queue_free(del);
    sx_smp_queue_free(sq1);

    /* the connection goes on with another queue */
    sx_smp_queue *sq = NULL;
    sx_smp_queue *rq = new_queue(c, &sq);
    assert_status(sx_smp_subscribe(c, rq), SX_OK);
    assert_status(sx_smp_send(c, sq, "on", 2), SX_OK);
    expect_message(c, rq, "on", 2);
    sx_smp_event ev;
    assert_status(sx_smp_receive(c, 100, &ev), SX_OK);
    assert_int_equal(ev.kind, SX_SMP_EVENT_NONE);
    assert_status(sx_smp_queue_delete(c, rq), SX_OK);
    sx_smp_queue_free(rq);
    sx_smp_queue_free(sq);
    sx_smp_close(c);
}

/* ---- SMP: queue files ---- */

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(65536);
    assert_non_null(buf);
    *len = fread(buf, 1, 65535, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static void write_all(const char *path, const char *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* q formats, parses back to the same text, role and server. */
static void assert_round_trip(const sx_smp_queue *q)
{
    char *text = NULL, *text2 = NULL;
    size_t len = 0, len2 = 0;
    assert_status(sx_smp_queue_format(q, &text, &len), SX_OK);
    assert_int_equal(strlen(text), len);
    sx_smp_queue *p = NULL;
    assert_status(sx_smp_queue_parse(text, len, &p), SX_OK);
    assert_int_equal(sx_smp_queue_role(p), sx_smp_queue_role(q));
    assert_string_equal(sx_smp_queue_server(p), sx_smp_queue_server(q));
    assert_int_equal(sx_smp_queue_has_sender_key(p), sx_smp_queue_has_sender_key(q));
    assert_status(sx_smp_queue_format(p, &text2, &len2), SX_OK);
    assert_int_equal(len2, len);
    assert_memory_equal(text2, text, len);
    sx_smp_text_free(text, len);
    sx_smp_text_free(text2, len2);
    sx_smp_queue_free(p);
}

static void test_queue_files(void **state)
{
    (void)state;
    sx_smp_conn *c = conn(g_addr);
    sx_smp_queue *sq = NULL;
    sx_smp_queue *rq = new_queue(c, &sq);
    assert_round_trip(rq);
    assert_round_trip(sq);
    assert_status(sx_smp_queue_make_sender_key(sq, NULL), SX_OK);
    assert_round_trip(sq);

    char rpath[512], spath[512], tpath[512], missing[512];
    snprintf(rpath, sizeof rpath, "%s/alice.rcv", g_dir);
    snprintf(spath, sizeof spath, "%s/alice.snd", g_dir);
    snprintf(tpath, sizeof tpath, "%s/truncated.rcv", g_dir);
    snprintf(missing, sizeof missing, "%s/no-such.rcv", g_dir);
    assert_status(sx_smp_queue_save(rq, rpath, false), SX_OK);
    assert_status(sx_smp_queue_save(sq, spath, false), SX_OK);
    struct stat sb;
    assert_int_equal(stat(rpath, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    /* not over an existing file unless asked to */
    assert_status(sx_smp_queue_save(sq, rpath, false), SX_E_USAGE);
    assert_true(sx_error_message()[0] != '\0');
    assert_code("");
    sx_smp_queue *l = NULL;
    assert_status(sx_smp_queue_load(rpath, &l), SX_OK);
    assert_int_equal(sx_smp_queue_role(l), SX_SMP_ROLE_RECIPIENT); /* still the recipient's file */
    sx_smp_queue_free(l);
    assert_status(sx_smp_queue_save(rq, rpath, true), SX_OK);

    /* the loaded sides work: secure and send with the sender's file,
     * receive with the recipient's */
    sx_smp_queue *lr = NULL, *ls = NULL;
    assert_status(sx_smp_queue_load(rpath, &lr), SX_OK);
    assert_status(sx_smp_queue_load(spath, &ls), SX_OK);
    assert_int_equal(sx_smp_queue_role(lr), SX_SMP_ROLE_RECIPIENT);
    assert_string_equal(sx_smp_queue_server(lr), g_addr);
    assert_int_equal(sx_smp_queue_role(ls), SX_SMP_ROLE_SENDER);
    assert_string_equal(sx_smp_queue_server(ls), g_addr_nopw);
    assert_true(sx_smp_queue_has_sender_key(ls));
    assert_status(sx_smp_queue_secure(c, ls), SX_OK);
    assert_status(sx_smp_queue_secure(c, sq), SX_OK); /* the same key */
    assert_status(sx_smp_send(c, ls, "from file", 9), SX_OK);
    sx_smp_event ev;
    assert_status(sx_smp_get(c, lr, &ev), SX_OK);
    assert_int_equal(ev.kind, SX_SMP_EVENT_MESSAGE);
    assert_int_equal(ev.body_len, 9);
    assert_memory_equal(ev.body, "from file", 9);
    assert_status(sx_smp_ack(c, rq, &ev), SX_OK); /* the same queue */
    sx_smp_event_clear(&ev);

    /* a truncated file is refused, naming the file */
    size_t len = 0;
    char *text = read_all(rpath, &len);
    assert_true(len > 40);
    write_all(tpath, text, len / 2);
    sx_smp_queue *t = (sx_smp_queue *)c;
    assert_status(sx_smp_queue_load(tpath, &t), SX_E_PROTOCOL);
    assert_null(t);
    assert_msg_contains("truncated.rcv");
    assert_code("");
    /* ... as is the text cut short or with a line altered */
    assert_status(sx_smp_queue_parse(text, len - 1, &t), SX_E_PROTOCOL);
    assert_true(sx_error_message()[0] != '\0');
    char *role = strstr(text, "role: recipient");
    assert_non_null(role);
    memcpy(role, "role: recipiens", 15);
    assert_status(sx_smp_queue_parse(text, len, &t), SX_E_PROTOCOL);
    assert_msg_contains("role");
    free(text);
    /* a file that is not there, a folder that is not there */
    assert_status(sx_smp_queue_load(missing, &t), SX_E_IO);
    assert_msg_contains("no-such.rcv");
    snprintf(missing, sizeof missing, "%s/no-such-folder/alice.rcv", g_dir);
    assert_status(sx_smp_queue_save(rq, missing, false), SX_E_IO);
    assert_msg_contains("no-such-folder");
    assert_status(sx_smp_queue_save(rq, missing, true), SX_E_IO);
    /* the text with a NUL after it (len one too many) */
    char *rt = NULL;
    size_t rlen = 0;
    assert_status(sx_smp_queue_format(rq, &rt, &rlen), SX_OK);
    assert_status(sx_smp_queue_parse(rt, rlen + 1, &t), SX_E_PROTOCOL);
    assert_null(t);
    sx_smp_text_free(rt, rlen);

    assert_status(sx_smp_queue_delete(c, lr), SX_OK);
    sx_smp_close(c);
    sx_smp_queue_free(lr);
    sx_smp_queue_free(ls);
    sx_smp_queue_free(sq);
    sx_smp_queue_free(rq);
}

/* ---- the error detail is per thread ---- */

typedef struct thread_res {
    char before_msg[600], before_code[64];
    sx_status st;
    char msg[600], code[64];
} thread_res;

static void *failing_thread(void *arg)
{
    thread_res *r = arg;
    snprintf(r->before_msg, sizeof r->before_msg, "%s", sx_error_message());
    snprintf(r->before_code, sizeof r->before_code, "%s", sx_error_code());
    sx_smp_conn_opts o = {.timeout_ms = TIMEOUT_MS};
    sx_smp_conn *c = NULL;
    r->st = sx_smp_connect(g_addr_nopw, &o, &c);
    if (r->st == SX_OK) {
        sx_smp_queue *q = NULL;
        r->st = sx_smp_queue_create(c, &q); /* AUTH: no password */
        sx_smp_queue_free(q);
    }
    snprintf(r->msg, sizeof r->msg, "%s", sx_error_message());
    snprintf(r->code, sizeof r->code, "%s", sx_error_code());
    sx_smp_close(c);
    return NULL;
}

static void test_error_per_thread(void **state)
{
    (void)state;
    sx_smp_queue *q = NULL;
    /* a failure here, with no code */
    assert_status(sx_smp_queue_load("/nonexistent/api-test.rcv", &q), SX_E_IO);
    char mine[600];
    snprintf(mine, sizeof mine, "%s", sx_error_message());
    assert_non_null(strstr(mine, "/nonexistent/api-test.rcv"));

    /* another thread sees none of it, and its own failure stays there */
    thread_res r;
    memset(&r, 0, sizeof r);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, failing_thread, &r), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_string_equal(r.before_msg, "");
    assert_string_equal(r.before_code, "");
    assert_int_equal(r.st, SX_E_AUTH);
    assert_string_equal(r.code, "AUTH");
    assert_non_null(strstr(r.msg, "password"));
    assert_string_equal(sx_error_message(), mine);
    assert_code("");

    /* a success clears it: message and code */
    sx_smp_conn *c = conn(g_addr_nopw);
    assert_status(sx_smp_queue_create(c, &q), SX_E_AUTH);
    assert_code("AUTH");
    sx_smp_close(c);
    assert_status(sx_smp_queue_parse("x", 1, &q), SX_E_PROTOCOL);
    assert_code(""); /* a local failure has no code, whatever came before */
    c = conn(g_addr);
    q = new_queue(c, NULL);
    assert_no_error();
    assert_status(sx_smp_queue_delete(c, q), SX_OK);
    assert_status(sx_smp_queue_delete(c, q), SX_E_AUTH);
    assert_code("AUTH");
    char *text = NULL;
    size_t len = 0;
    assert_status(sx_smp_queue_format(q, &text, &len), SX_OK);
    assert_no_error();
    sx_smp_text_free(text, len);
    sx_smp_close(c);
    sx_smp_queue_free(q);
}

/* Connections on different threads at once, each with its own queue and
 * its own error detail. */
#define THREADS 4
#define THREAD_MSGS 20

typedef struct worker {
    int id;
    char fail[64];
    char missing[300];
    char seen[600];
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    sx_smp_conn_opts o = {.timeout_ms = TIMEOUT_MS};
    sx_smp_conn *c = NULL;
    sx_smp_queue *rq = NULL, *sq = NULL, *t = NULL;
    sx_smp_event ev = {0};
    char m[64];
#define W_CHECK(cond)                                                                               \
    do {                                                                                            \
        if (!(cond)) {                                                                              \
            snprintf(w->fail, sizeof w->fail, "line %d: %s", __LINE__, sx_error_message());         \
            goto out;                                                                               \
        }                                                                                           \
    } while (0)
    W_CHECK(sx_smp_connect(g_addr, &o, &c) == SX_OK);
    W_CHECK(sx_smp_queue_create(c, &rq) == SX_OK);
    W_CHECK(sx_smp_queue_sender(rq, &sq) == SX_OK);
    W_CHECK(sx_smp_queue_secure(c, sq) == SX_OK);
    W_CHECK(sx_smp_subscribe(c, rq) == SX_OK);
    for (int i = 0; i < THREAD_MSGS; i++) {
        snprintf(m, sizeof m, "thread %d message %d", w->id, i);
        W_CHECK(sx_smp_send(c, sq, m, strlen(m)) == SX_OK);
        /* a failure of this thread's own, between the calls of the others */
        W_CHECK(sx_smp_queue_load(w->missing, &t) == SX_E_IO);
        W_CHECK(strstr(sx_error_message(), w->missing) != NULL);
        W_CHECK(sx_smp_receive(c, 5000, &ev) == SX_OK);
        W_CHECK(sx_error_message()[0] == '\0');
        W_CHECK(ev.kind == SX_SMP_EVENT_MESSAGE && ev.queue == rq);
        W_CHECK(ev.body_len == strlen(m) && memcmp(ev.body, m, ev.body_len) == 0);
        W_CHECK(sx_smp_ack(c, rq, &ev) == SX_OK);
        sx_smp_event_clear(&ev);
    }
    W_CHECK(sx_smp_queue_delete(c, rq) == SX_OK);
    W_CHECK(sx_smp_queue_load(w->missing, &t) == SX_E_IO);
    snprintf(w->seen, sizeof w->seen, "%s", sx_error_message());
out:
#undef W_CHECK
    sx_smp_event_clear(&ev);
    sx_smp_close(c);
    sx_smp_queue_free(sq);
    sx_smp_queue_free(rq);
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    worker w[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].id = i;
        snprintf(w[i].missing, sizeof w[i].missing, "%s/missing-%d.rcv", g_dir, i);
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < THREADS; i++) {
        if (w[i].fail[0])
            fail_msg("thread %d: %s", i, w[i].fail);
        if (!strstr(w[i].seen, w[i].missing))
            fail_msg("thread %d saw '%s'", i, w[i].seen);
    }
}

/* ---- version and status ---- */

static void test_version_status(void **state)
{
    (void)state;
    assert_string_equal(sx_version(), SX_VERSION_STRING);
    char v[64];
    snprintf(v, sizeof v, "%d.%d.%d", SX_VERSION_MAJOR, SX_VERSION_MINOR, SX_VERSION_PATCH);
    assert_string_equal(SX_VERSION_STRING, v);

    static const struct {
        sx_status st;
        const char *name;
    } all[] = {
        {SX_OK, "OK"},
        {SX_E_IO, "IO"},
        {SX_E_CLOSED, "CLOSED"},
        {SX_E_WOULD_BLOCK, "WOULD_BLOCK"},
        {SX_E_PROTOCOL, "PROTOCOL"},
        {SX_E_AUTH, "AUTH"},
        {SX_E_LIMIT, "LIMIT"},
        {SX_E_NOMEM, "NOMEM"},
        {SX_E_INTERNAL, "INTERNAL"},
        {SX_E_USAGE, "USAGE"},
    };
    enum { N = sizeof all / sizeof all[0] };
    assert_int_equal(SX_E_USAGE + 1, N); /* every status is listed */
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(all[i].st, (sx_status)i);
        assert_string_equal(sx_status_str(all[i].st), all[i].name);
        const char *e = sx_strerror(all[i].st);
        assert_non_null(e);
        assert_true(strlen(e) > 3);
        for (size_t j = 0; j < i; j++)
            if (strcmp(e, sx_strerror(all[j].st)) == 0)
                fail_msg("sx_strerror(%s) == sx_strerror(%s): '%s'", all[i].name, all[j].name, e);
    }
    assert_string_equal(sx_status_str((sx_status)99), "UNKNOWN");
    assert_true(strlen(sx_strerror((sx_status)99)) > 0);
    assert_true(strlen(sx_strerror((sx_status)-1)) > 0);
}

/* ---- XFTP ---- */

static int xftp_setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/sx_itest_api_XXXXXX");
    if (!mkdtemp(g_dir))
        return -1;
    fixture_paths();
    snprintf(g_xftp_files, sizeof g_xftp_files, "%s/files", g_dir);
    if (mkdir(g_xftp_files, 0700) != 0)
        return -1;
    sx_xftp_server_opts o;
    memset(&o, 0, sizeof o);
    o.cert_file = g_cert;
    o.ca_file = g_ca;
    o.key_file = g_key;
    o.host = "127.0.0.1";
    o.workers = 1;
    o.files_dir = g_xftp_files;
    o.new_files = true;
    o.quiet = true;
    if (sx_xftp_server_start(&o, &g_xftp) != SX_OK)
        return -1;
    snprintf(g_xftp_addr, sizeof g_xftp_addr, "xftp://" FIXTURE_FP "@127.0.0.1:%u",
             sx_xftp_server_port(g_xftp));
    return 0;
}

static int xftp_teardown(void **state)
{
    (void)state;
    sx_xftp_server_stop(g_xftp);
    g_xftp = NULL;
    tu_rm_rf(g_dir);
    return 0;
}

/* Regular files in dir and its folders. */
static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        assert_int_equal(lstat(p, &sb), 0);
        if (S_ISDIR(sb.st_mode))
            n += count_files(p);
        else if (S_ISREG(sb.st_mode))
            n++;
    }
    closedir(d);
    return n;
}

static void make_dir(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", g_dir, name);
    assert_int_equal(mkdir(out, 0700), 0);
}

static void make_file(const char *path, size_t n, unsigned seed)
{
    uint8_t *buf = malloc(n ? n : 1);
    assert_non_null(buf);
    fill(buf, n, seed);
    write_all(path, (const char *)buf, n);
    free(buf);
}

static void assert_same_file(const char *a, const char *b)
{
    size_t na = 0, nb = 0;
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    assert_non_null(fa);
    assert_non_null(fb);
    static uint8_t ba[65536], bb[65536];
    for (;;) {
        size_t ka = fread(ba, 1, sizeof ba, fa), kb = fread(bb, 1, sizeof bb, fb);
        assert_int_equal(ka, kb);
        if (ka == 0)
            break;
        assert_memory_equal(ba, bb, ka);
        na += ka;
        nb += kb;
    }
    assert_int_equal(na, nb);
    fclose(fa);
    fclose(fb);
}

/* What the progress callback saw: the phases in order and, for the phases
 * that count bytes (total > 0), each call's done / total. Within a phase
 * done never goes down nor over total, and total stays the same; a phase
 * without a byte count ("Encrypting", "Decrypting") is reported as 0 / 0. */
#define PHASES_MAX 8
typedef struct progress {
    pthread_mutex_t mu;
    int calls;
    int nphases;
    struct {
        char name[32];
        int calls;
        int64_t last_done, total;
    } ph[PHASES_MAX];
    bool bad;
    char why[200];
} progress;

static void on_progress(void *arg, const char *phase, int64_t done, int64_t total)
{
    progress *p = arg;
    pthread_mutex_lock(&p->mu);
    p->calls++;
    int i = p->nphases - 1;
    if (!phase)
        phase = "(null)";
    if (i < 0 || strcmp(p->ph[i].name, phase) != 0) {
        if (p->nphases == PHASES_MAX) {
            p->bad = true;
            snprintf(p->why, sizeof p->why, "more than %d phases", PHASES_MAX);
            pthread_mutex_unlock(&p->mu);
            return;
        }
        i = p->nphases++;
        snprintf(p->ph[i].name, sizeof p->ph[i].name, "%s", phase);
        p->ph[i].total = total;
        p->ph[i].last_done = done;
    } else if (total != p->ph[i].total || done < p->ph[i].last_done) {
        p->bad = true;
        snprintf(p->why, sizeof p->why, "%s %lld/%lld after %lld/%lld", phase, (long long)done,
                 (long long)total, (long long)p->ph[i].last_done, (long long)p->ph[i].total);
    }
    if (done < 0 || done > total) {
        p->bad = true;
        snprintf(p->why, sizeof p->why, "%s: done %lld of %lld", phase, (long long)done, (long long)total);
    }
    p->ph[i].calls++;
    p->ph[i].last_done = done;
    pthread_mutex_unlock(&p->mu);
}

static void progress_reset(progress *p)
{
    pthread_mutex_lock(&p->mu);
    p->calls = p->nphases = 0;
    memset(p->ph, 0, sizeof p->ph);
    p->bad = false;
    p->why[0] = '\0';
    pthread_mutex_unlock(&p->mu);
}

/* The phases were `names` (n of them) in order; the byte-counting phase
 * `counted` went from 0 up to done == total over several calls (one per
 * chunk); returns its total. */
static int64_t assert_progress(progress *p, const char *const *names, int n, const char *counted)
{
    if (p->bad)
        fail_msg("progress: %s", p->why);
    assert_int_equal(p->nphases, n);
    int64_t total = -1;
    for (int i = 0; i < n; i++) {
        assert_string_equal(p->ph[i].name, names[i]);
        if (strcmp(names[i], counted) == 0) {
            assert_true(p->ph[i].total > 0);
            assert_true(p->ph[i].calls >= 3); /* 0, then one per chunk */
            assert_int_equal(p->ph[i].last_done, p->ph[i].total);
            total = p->ph[i].total;
        } else {
            assert_int_equal(p->ph[i].total, 0);
            assert_int_equal(p->ph[i].last_done, 0);
        }
    }
    assert_true(total > 0);
    return total;
}

/* The size as descriptions write it: the largest unit dividing it. */
static void size_text(int64_t n, char *out, size_t cap)
{
    const char *unit = "";
    static const char *const units[] = {"kb", "mb", "gb"};
    for (size_t i = 0; i < 3 && n != 0 && n % 1024 == 0; i++) {
        n /= 1024;
        unit = units[i];
    }
    snprintf(out, cap, "%lld%s", (long long)n, unit);
}

#define FILE_SIZE (300 * 1024 + 123)

static void test_xftp_files(void **state)
{
    (void)state;
    char in[512], out_dir[512], dl1[512], dl2[512], dl3[512];
    make_dir(in, sizeof in, "in");
    make_dir(out_dir, sizeof out_dir, "out");
    make_dir(dl1, sizeof dl1, "dl1");
    make_dir(dl2, sizeof dl2, "dl2");
    make_dir(dl3, sizeof dl3, "dl3");
    char path[600];
    snprintf(path, sizeof path, "%s/report.bin", in);
    make_file(path, FILE_SIZE, 5);
    int files_before = count_files(g_xftp_files);

    progress pr;
    memset(&pr, 0, sizeof pr);
    pthread_mutex_init(&pr.mu, NULL);
    const char *servers[] = {g_xftp_addr};
    sx_xftp_opts o = {.servers = servers, .server_count = 1, .recipients = 4, .tmp_dir = g_dir,
                      .timeout_ms = TIMEOUT_MS, .progress = on_progress, .progress_arg = &pr};
    sx_xftp_upload *up = NULL;
    assert_status(sx_xftp_send_file(path, out_dir, &o, &up), SX_OK);
    assert_non_null(up);
    assert_no_error();
    static const char *const send_phases[] = {"Encrypting", "Uploaded"};
    int64_t enc_size = assert_progress(&pr, send_phases, 2, "Uploaded");
    assert_true(enc_size > FILE_SIZE);
    assert_true(count_files(g_xftp_files) > files_before); /* chunks on the router */

    assert_int_equal(sx_xftp_upload_recipients(up), 4);
    char want[700];
    for (size_t i = 0; i < 4; i++) {
        const char *r = sx_xftp_upload_recipient(up, i);
        assert_non_null(r);
        snprintf(want, sizeof want, "%s/report.bin.xftp/rcv%zu.xftp", out_dir, i + 1);
        assert_string_equal(r, want);
        assert_int_equal(access(r, R_OK), 0);
    }
    assert_null(sx_xftp_upload_recipient(up, 4));
    snprintf(want, sizeof want, "%s/report.bin.xftp/snd.xftp.private", out_dir);
    assert_string_equal(sx_xftp_upload_sender(up), want);
    const char *link = sx_xftp_upload_link(up);
    assert_non_null(link);
    assert_true(strncmp(link, "https://", 8) == 0);

    /* the summary names the download size (the encrypted size moved) */
    char *text = NULL;
    assert_status(sx_xftp_describe(sx_xftp_upload_recipient(up, 0), &text), SX_OK);
    assert_non_null(text);
    char sz[32], line[64];
    size_text(enc_size, sz, sizeof sz);
    snprintf(line, sizeof line, "File download size: %s\n", sz);
    if (!strstr(text, line))
        fail_msg("describe: no '%s' in:\n%s", line, text);
    assert_non_null(strstr(text, "Recipient file description"));
    assert_non_null(strstr(text, "127.0.0.1"));
    sx_free(text);
    assert_status(sx_xftp_describe(sx_xftp_upload_sender(up), &text), SX_OK);
    assert_non_null(strstr(text, "Sender file description"));
    assert_non_null(strstr(text, line));
    sx_free(text);

    /* both recipients get the same bytes, under the file's name: the
     * first through the web link of its description */
    char saved[4096];
    /* not over an existing file (here the file sent); the description
     * stays usable */
    assert_status(sx_xftp_receive_file(link, path, &o, saved, sizeof saved), SX_E_USAGE);
    assert_msg_contains("not a folder");
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, FILE_SIZE);
    progress_reset(&pr);
    assert_status(sx_xftp_receive_file(link, dl1, &o, saved, sizeof saved), SX_OK);
    assert_no_error();
    snprintf(want, sizeof want, "%s/report.bin", dl1);
    assert_string_equal(saved, want);
    assert_same_file(path, saved);
    static const char *const recv_phases[] = {"Downloaded", "Decrypting"};
    assert_int_equal(assert_progress(&pr, recv_phases, 2, "Downloaded"), enc_size);
    /* the second into the same folder: the name made unique */
    assert_status(sx_xftp_receive_file(sx_xftp_upload_recipient(up, 1), dl1, &o, saved, sizeof saved),
                  SX_OK);
    snprintf(want, sizeof want, "%s/report_1.bin", dl1);
    assert_string_equal(saved, want);
    assert_same_file(path, saved);
    /* the third not to a folder that does not exist (nothing is
     * downloaded: the description stays usable), then into another one */
    char named[600];
    snprintf(named, sizeof named, "%s/named.out", dl2);
    progress_reset(&pr);
    assert_status(sx_xftp_receive_file(sx_xftp_upload_recipient(up, 2), named, &o, saved, sizeof saved),
                  SX_E_USAGE);
    assert_msg_contains("does not exist");
    assert_msg_contains(named);
    assert_int_equal(pr.calls, 0);
    assert_int_equal(count_files(dl2), 0);
    assert_status(sx_xftp_receive_file(sx_xftp_upload_recipient(up, 2), dl2, &o, saved, sizeof saved),
                  SX_OK);
    snprintf(want, sizeof want, "%s/report.bin", dl2);
    assert_string_equal(saved, want);
    assert_same_file(path, saved);
    assert_int_equal(count_files(dl2), 1);

    /* a used description does not work again, and leaves nothing */
    for (size_t i = 0; i < 3; i++) {
        assert_status(sx_xftp_receive_file(sx_xftp_upload_recipient(up, i), dl3, &o, saved, sizeof saved),
                      SX_E_AUTH);
        assert_msg_contains("AUTH");
        assert_int_equal(count_files(dl3), 0);
    }

    /* deleted by the sender: an unused description fails too */
    assert_true(count_files(g_xftp_files) > files_before);
    assert_status(sx_xftp_delete_file(sx_xftp_upload_sender(up), &o), SX_OK);
    assert_no_error();
    assert_int_equal(count_files(g_xftp_files), files_before);
    assert_status(sx_xftp_receive_file(sx_xftp_upload_recipient(up, 3), dl3, &o, saved, sizeof saved),
                  SX_E_AUTH);
    assert_msg_contains("AUTH");
    assert_string_equal(sx_error_code(), "AUTH"); /* the router's XFTP error */
    assert_int_equal(count_files(dl3), 0);
    /* a recipient's description cannot delete, a sender's cannot receive */
    assert_status(sx_xftp_delete_file(sx_xftp_upload_recipient(up, 3), &o), SX_E_USAGE);
    assert_msg_contains("not for sender");
    assert_status(sx_xftp_receive_file(sx_xftp_upload_sender(up), dl3, &o, saved, sizeof saved), SX_E_USAGE);
    assert_msg_contains("not for recipient");

    sx_xftp_upload_free(up);
    sx_xftp_upload_free(NULL);
    sx_free(NULL);
    pthread_mutex_destroy(&pr.mu);
}

static void test_xftp_errors(void **state)
{
    (void)state;
    char in[512], out_dir[512], path[600], missing_dir[600], missing_file[600], tmp[512];
    make_dir(in, sizeof in, "in2");
    make_dir(out_dir, sizeof out_dir, "out2");
    make_dir(tmp, sizeof tmp, "tmp2");
    snprintf(path, sizeof path, "%s/small.bin", in);
    make_file(path, 200 * 1024, 9);
    snprintf(missing_dir, sizeof missing_dir, "%s/no-such-folder", g_dir);
    snprintf(missing_file, sizeof missing_file, "%s/no-such-file.bin", in);
    int files_before = count_files(g_xftp_files);

    int calls = 0;
    progress pr;
    memset(&pr, 0, sizeof pr);
    pthread_mutex_init(&pr.mu, NULL);
    const char *servers[] = {g_xftp_addr};
    sx_xftp_opts o = {.servers = servers, .server_count = 1, .recipients = 1, .tmp_dir = tmp,
                      .timeout_ms = TIMEOUT_MS, .progress = on_progress, .progress_arg = &pr};
    sx_xftp_upload *up = (sx_xftp_upload *)&calls; /* must be set to NULL on failure */

    /* the folder for the descriptions is missing: nothing is uploaded */
    assert_status(sx_xftp_send_file(path, missing_dir, &o, &up), SX_E_USAGE);
    assert_null(up);
    assert_msg_contains("does not exist");
    assert_msg_contains("no-such-folder");
    assert_code("");
    assert_int_equal(count_files(g_xftp_files), files_before);
    assert_int_equal(count_files(tmp), 0);
    assert_int_equal(pr.calls, 0);

    /* the file to send is missing */
    assert_status(sx_xftp_send_file(missing_file, out_dir, &o, &up), SX_E_IO);
    assert_null(up);
    assert_msg_contains(missing_file);
    assert_code("");
    /* a folder is not a file */
    assert_status(sx_xftp_send_file(in, out_dir, &o, &up), SX_E_USAGE);
    assert_msg_contains("not a regular file");
    /* no routers, or too many recipients */
    sx_xftp_opts none = o;
    none.server_count = 0;
    assert_status(sx_xftp_send_file(path, out_dir, &none, &up), SX_E_USAGE);
    assert_status(sx_xftp_send_file(path, out_dir, NULL, &up), SX_E_USAGE);
    sx_xftp_opts many = o;
    many.recipients = 256;
    assert_status(sx_xftp_send_file(path, out_dir, &many, &up), SX_E_USAGE);
    assert_int_equal(count_files(g_xftp_files), files_before);
    assert_int_equal(count_files(out_dir), 0);

    /* a description that is not there */
    char *text = (char *)&calls;
    char nodesc[700];
    snprintf(nodesc, sizeof nodesc, "%s/rcv1.xftp", missing_dir);
    assert_status(sx_xftp_describe(nodesc, &text), SX_E_IO);
    assert_null(text);
    assert_msg_contains(nodesc);
    char saved[SX_XFTP_OUT_PATH_MAX];
    /* out_path without room for any path the file may get is refused first */
    assert_status(sx_xftp_receive_file(nodesc, out_dir, &o, saved, 512), SX_E_USAGE);
    assert_msg_contains("out_path");
    assert_status(sx_xftp_receive_file(nodesc, out_dir, &o, saved, sizeof saved), SX_E_IO);
    assert_msg_contains(nodesc);
    assert_status(sx_xftp_delete_file(nodesc, &o), SX_E_IO);
    assert_msg_contains(nodesc);

    /* with everything right the same call works, and a success clears the detail */
    assert_status(sx_xftp_send_file(path, out_dir, &o, &up), SX_OK);
    assert_no_error();
    assert_int_equal(count_files(tmp), 0); /* the encrypted copy is gone */
    assert_status(sx_xftp_delete_file(sx_xftp_upload_sender(up), &o), SX_OK);
    assert_int_equal(count_files(g_xftp_files), files_before);
    sx_xftp_upload_free(up);
    pthread_mutex_destroy(&pr.mu);
}

/* ---- SMP: a messaging service ---- */

static void test_service(void **state)
{
    (void)state;
    /* the fixture chain doubles as the service's certificate */
    sx_smp_service_creds creds = {.cert_file = g_cert, .ca_file = g_ca, .key_file = g_key};
    sx_smp_conn_opts o = {.timeout_ms = TIMEOUT_MS, .service = &creds};
    sx_smp_conn *sv = NULL;
    assert_status(sx_smp_connect(g_addr, &o, &sv), SX_OK);
    size_t id_len = 0;
    const uint8_t *id = sx_smp_conn_service_id(sv, &id_len);
    assert_non_null(id);
    assert_int_equal(id_len, 24);
    uint8_t id1[24];
    memcpy(id1, id, 24);
    sx_smp_conn *pl = conn(g_addr);
    assert_null(sx_smp_conn_service_id(pl, &id_len));
    assert_int_equal(id_len, 0);
    int64_t count = -1;
    assert_status(sx_smp_service_subscribe(pl, NULL, 0, &count), SX_E_USAGE);

    /* a queue the service creates is subscribed at once */
    sx_smp_queue *sq1 = NULL, *sq2 = NULL;
    sx_smp_queue *rq1 = new_queue(sv, &sq1);
    assert_status(sx_smp_send(pl, sq1, "one", 3), SX_OK);
    expect_message(sv, rq1, "one", 3);
    /* one made by an ordinary connection, subscribed by the service */
    sx_smp_queue *rq2 = new_queue(pl, &sq2);
    assert_status(sx_smp_subscribe(sv, rq2), SX_OK);

    /* messages wait while no connection of the service is there */
    sx_smp_close(sv);
    assert_status(sx_smp_send(pl, sq1, "two", 3), SX_OK);
    assert_status(sx_smp_send(pl, sq2, "three", 5), SX_OK);

    /* reconnected: the same id, one call for both queues */
    assert_status(sx_smp_connect(g_addr, &o, &sv), SX_OK);
    id = sx_smp_conn_service_id(sv, &id_len);
    assert_memory_equal(id, id1, 24);
    sx_smp_queue *rqs[2] = {rq1, rq2};
    assert_status(sx_smp_service_subscribe(sv, rqs, 2, &count), SX_OK);
    assert_int_equal(count, 2);
    bool got1 = false, got2 = false;
    for (int i = 0; i < 2; i++) {
        sx_smp_event ev;
        expect_event(sv, 5000, SX_SMP_EVENT_MESSAGE, &ev);
        if (ev.queue == rq1) {
            assert_int_equal(ev.body_len, 3);
            got1 = true;
        } else {
            assert_ptr_equal(ev.queue, rq2);
            assert_int_equal(ev.body_len, 5);
            got2 = true;
        }
        assert_status(sx_smp_ack(sv, ev.queue, &ev), SX_OK);
        sx_smp_event_clear(&ev);
    }
    assert_true(got1 && got2);
    sx_smp_event ev;
    expect_event(sv, 5000, SX_SMP_EVENT_SERVICE_ALL, &ev);
    assert_null(ev.queue);

    /* a second connection of the service takes the queues: SERVICE_END */
    sx_smp_conn *sv2 = NULL;
    assert_status(sx_smp_connect(g_addr, &o, &sv2), SX_OK);
    sx_smp_queue *rq1b = copy_queue(rq1), *rq2b = copy_queue(rq2);
    sx_smp_queue *rqs2[2] = {rq1b, rq2b};
    assert_status(sx_smp_service_subscribe(sv2, rqs2, 2, &count), SX_OK);
    assert_int_equal(count, 2);
    expect_event(sv2, 5000, SX_SMP_EVENT_SERVICE_ALL, &ev);
    expect_event(sv, 5000, SX_SMP_EVENT_SERVICE_END, &ev);
    assert_int_equal(ev.service_count, 2);
    assert_status(sx_smp_send(pl, sq2, "four", 4), SX_OK);
    expect_message(sv2, rq2b, "four", 4);

    sx_smp_close(sv);
    sx_smp_close(sv2);
    sx_smp_close(pl);
    sx_smp_queue_free(rq1);
    sx_smp_queue_free(rq2);
    sx_smp_queue_free(rq1b);
    sx_smp_queue_free(rq2b);
    sx_smp_queue_free(sq1);
    sx_smp_queue_free(sq2);
}

int main(void)
{
    const struct CMUnitTest smp[] = {
        cmocka_unit_test(test_version_status),
        cmocka_unit_test(test_connect_errors),
        cmocka_unit_test(test_create_password),
        cmocka_unit_test(test_queue_life),
        cmocka_unit_test(test_receive_poll),
        cmocka_unit_test(test_get),
        cmocka_unit_test(test_quota),
        cmocka_unit_test(test_end_deleted),
        cmocka_unit_test(test_service),
        cmocka_unit_test(test_free_unsubscribed),
        cmocka_unit_test(test_queue_files),
        cmocka_unit_test(test_error_per_thread),
        cmocka_unit_test(test_threads),
    };
    const struct CMUnitTest xftp[] = {
        cmocka_unit_test(test_xftp_files),
        cmocka_unit_test(test_xftp_errors),
    };
    int failed = cmocka_run_group_tests_name("smp", smp, smp_setup, smp_teardown);
    failed += cmocka_run_group_tests_name("xftp", xftp, xftp_setup, xftp_teardown);
    return failed;
}
