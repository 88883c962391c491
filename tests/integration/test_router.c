/* Integration tests of the SMP router over real TLS on loopback, driven by
 * our client library: PROTOCOL-NOTES T1-T6 (handshake versions, queue
 * lifecycle, quota, subscription transfer, GET/SUB, notifier subscription),
 * malformed input, and a router that keeps serving after it. */
#include "testutil.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "smp_client/smp_client.h"
#include "smp_client/smp_client_int.h"
#include "crypto/hash.h"
#include "crypto/util.h"
#include "crypto/x509.h"
#include "smp_router/server.h"
#include "core/loop.h"
#include "transport/block.h"
#include "transport/net.h"
#include "transport/smp_handshake.h"
#include "transport/tls.h"
#include "smp/msgcrypt.h"

typedef struct env {
    sx_router *r;
    uint16_t port;
    uint8_t fp[SX_FINGERPRINT_LEN];
} env;

static int setup(void **state)
{
    static env e;
    memset(&e, 0, sizeof e);
    *state = &e; /* so teardown stops what a failed setup started */
    char crt[1024], ca[1024], key[1024];
    snprintf(crt, sizeof crt, "%s", tu_data_path("fixtures/server.crt"));
    snprintf(ca, sizeof ca, "%s", tu_data_path("fixtures/ca.crt"));
    snprintf(key, sizeof key, "%s", tu_data_path("fixtures/server.key"));
    static char s_crt[1024], s_ca[1024], s_key[1024];
    memcpy(s_crt, crt, sizeof crt);
    memcpy(s_ca, ca, sizeof ca);
    memcpy(s_key, key, sizeof key);
    sx_router_opts o = {0};
    o.cert_file = s_crt;
    o.ca_file = s_ca;
    o.key_file = s_key;
    o.host = "127.0.0.1";
    o.n_ports = 1;
    o.workers = 2;
    o.new_queues = true;
    o.handshake_timeout_ms = 2000;
    o.block_timeout_ms = 2000;
    if (sx_router_start(&o, &e.r) != SX_OK)
        return -1;
    e.port = sx_router_port(e.r, 0);
    X509 *x;
    if (sx_x509_read_cert_file(s_ca, &x) != SX_OK)
        return -1;
    if (sx_x509_fingerprint(x, e.fp) != SX_OK)
        return -1;
    X509_free(x);
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

static sx_smp_client *connect_v(env *e, sx_version_range range, bool no_alpn)
{
    sx_smp_client_opts o = {.range = range, .no_alpn = no_alpn, .timeout_ms = 10000};
    sx_smp_client *cl = NULL;
    assert_ok(sx_smp_client_connect("127.0.0.1", e->port, e->fp, &o, &cl));
    return cl;
}

static sx_smp_client *connect_default(env *e)
{
    return connect_v(e, (sx_version_range){0, 0}, false);
}

/* A queue as its creator knows it. */
typedef struct queue {
    sx_key *rkey; /* recipient auth key */
    sx_key *rdh;  /* recipient DH key */
    uint8_t rid[24], sid[24];
    uint8_t secret[32]; /* rcvDhSecret */
    sx_key *skey;
} queue;

static sx_smp_pubkey pub_of(const sx_key *k, uint8_t *buf)
{
    sx_smp_pubkey p;
    assert_ok(sx_smp_pubkey_of(k, buf, &p));
    return p;
}

static void queue_free(queue *q)
{
    sx_key_free(q->rkey);
    sx_key_free(q->rdh);
    sx_key_free(q->skey);
}

static void expect_err(sx_smp_client_reply *r, sx_smp_err_type t)
{
    assert_true(r->ok);
    if (r->reply.resp.tag != SX_SMP_R_ERR)
        fail_msg("expected ERR %s, got %s", sx_smp_err_name(t), sx_smp_resp_name(r->reply.resp.tag));
    assert_int_equal(r->reply.resp.err.type, t);
}

static void expect_tag(sx_smp_client_reply *r, sx_smp_resp_tag tag)
{
    assert_true(r->ok);
    if (r->reply.resp.tag != tag) {
        if (r->reply.resp.tag == SX_SMP_R_ERR)
            fail_msg("expected %s, got ERR %s", sx_smp_resp_name(tag), sx_smp_err_name(r->reply.resp.err.type));
        fail_msg("expected %s, got %s", sx_smp_resp_name(tag), sx_smp_resp_name(r->reply.resp.tag));
    }
}

static void create_queue(sx_smp_client *cl, sx_key_alg auth_alg, bool subscribe, queue *q)
{
    memset(q, 0, sizeof *q);
    assert_ok(sx_key_generate(auth_alg, &q->rkey));
    assert_ok(sx_key_generate(SX_KEY_X25519, &q->rdh));
    uint8_t b1[SX_KEY_SPKI_MAX], b2[SX_KEY_SPKI_MAX];
    sx_smp_cmd c = {.tag = SX_SMP_C_NEW};
    c.new_queue.rcv_auth_key = pub_of(q->rkey, b1);
    c.new_queue.rcv_dh_key = pub_of(q->rdh, b2);
    c.new_queue.subscribe = subscribe;
    c.new_queue.has_queue_req = true;
    c.new_queue.queue_req.mode = SX_SMP_QUEUE_MESSAGING;
    sx_smp_client_reply r;
    assert_ok(sx_smp_client_call(cl, sx_slice_of(NULL, 0), &c, q->rkey, &r));
    expect_tag(&r, SX_SMP_R_IDS);
    const sx_smp_ids *ids = &r.reply.resp.ids;
    assert_int_equal(ids->rcv_id.len, 24);
    assert_int_equal(ids->snd_id.len, 24);
    memcpy(q->rid, ids->rcv_id.ptr, 24);
    memcpy(q->sid, ids->snd_id.ptr, 24);
    sx_key *srv;
    assert_ok(sx_key_decode_public(ids->srv_dh_key.der, SX_KEY_BIT(SX_KEY_X25519), &srv));
    size_t n;
    assert_ok(sx_key_dh(q->rdh, srv, q->secret, sizeof q->secret, &n));
    sx_key_free(srv);
    sx_smp_client_reply_free(&r);
}

static void call_simple(sx_smp_client *cl, const uint8_t *entity, sx_smp_cmd_tag tag, const sx_key *k,
                        sx_smp_client_reply *r)
{
    sx_smp_cmd c = {.tag = tag};
    assert_ok(sx_smp_client_call(cl, sx_slice_of(entity, entity ? 24 : 0), &c, k, r));
}

static void send_msg(sx_smp_client *cl, queue *q, const char *body, sx_smp_client_reply *r)
{
    sx_smp_cmd c = {.tag = SX_SMP_C_SEND};
    c.send.notification = true;
    c.send.body = sx_slice_str(body);
    assert_ok(sx_smp_client_call(cl, sx_slice_of(q->sid, 24), &c, q->skey, r));
}

static void secure(sx_smp_client *cl, queue *q, sx_key_alg alg)
{
    assert_ok(sx_key_generate(alg, &q->skey));
    uint8_t b[SX_KEY_SPKI_MAX];
    sx_smp_cmd c = {.tag = SX_SMP_C_SKEY};
    c.key = pub_of(q->skey, b);
    sx_smp_client_reply r;
    assert_ok(sx_smp_client_call(cl, sx_slice_of(q->sid, 24), &c, q->skey, &r));
    expect_tag(&r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
}

/* Decrypts a MSG and checks its body. */
static void check_msg(queue *q, sx_smp_client_reply *r, const char *expect, uint8_t id_out[24])
{
    expect_tag(r, SX_SMP_R_MSG);
    assert_memory_equal(r->reply.t.entity_id.ptr, q->rid, 24);
    static uint8_t buf[SX_SMP_ENC_MSG_LEN];
    sx_smp_rcv_msg m;
    assert_ok(sx_smp_msg_decrypt(q->secret, r->reply.resp.msg.msg_id, r->reply.resp.msg.body, buf, sizeof buf, &m));
    if (expect) {
        assert_false(m.quota);
        assert_int_equal(m.body.len, strlen(expect));
        assert_memory_equal(m.body.ptr, expect, m.body.len);
    } else {
        assert_true(m.quota);
    }
    if (id_out)
        memcpy(id_out, r->reply.resp.msg.msg_id.ptr, 24);
}

static void ack(sx_smp_client *cl, queue *q, const uint8_t id[24], sx_smp_client_reply *r)
{
    sx_smp_cmd c = {.tag = SX_SMP_C_ACK};
    c.msg_id = sx_slice_of(id, 24);
    assert_ok(sx_smp_client_call(cl, sx_slice_of(q->rid, 24), &c, q->rkey, r));
}

static void next_event(sx_smp_client *cl, sx_smp_client_reply *r)
{
    assert_ok(sx_smp_client_next_event(cl, 5000, r));
}

/* PROTOCOL-NOTES T1: version negotiation. */
static void test_versions(void **state)
{
    env *e = *state;
    sx_smp_client *cl = connect_default(e);
    assert_int_equal(sx_smp_client_session(cl)->version, 19);
    assert_true(sx_smp_client_session(cl)->encrypted);
    sx_smp_client_reply r;
    call_simple(cl, NULL, SX_SMP_C_PING, NULL, &r);
    expect_tag(&r, SX_SMP_R_PONG);
    sx_smp_client_reply_free(&r);
    sx_smp_client_close(cl);

    cl = connect_v(e, (sx_version_range){0, 0}, true);
    assert_int_equal(sx_smp_client_session(cl)->version, 6);
    assert_false(sx_smp_client_session(cl)->encrypted);
    call_simple(cl, NULL, SX_SMP_C_PING, NULL, &r);
    expect_tag(&r, SX_SMP_R_PONG);
    sx_smp_client_reply_free(&r);
    sx_smp_client_close(cl);

    cl = connect_v(e, (sx_version_range){6, 10}, false);
    assert_int_equal(sx_smp_client_session(cl)->version, 10);
    call_simple(cl, NULL, SX_SMP_C_PING, NULL, &r);
    expect_tag(&r, SX_SMP_R_PONG);
    sx_smp_client_reply_free(&r);
    sx_smp_client_close(cl);

    /* A wrong identity fails the client's certificate check. */
    uint8_t bad[SX_FINGERPRINT_LEN];
    memcpy(bad, e->fp, sizeof bad);
    bad[0] ^= 1;
    sx_smp_client_opts o = {.timeout_ms = 5000};
    assert_int_not_equal(sx_smp_client_connect("127.0.0.1", e->port, bad, &o, &cl), SX_OK);
}

/* PROTOCOL-NOTES T2: the queue lifecycle, at several versions and key types. */
static void lifecycle(env *e, sx_version_range range, sx_key_alg rkey_alg, sx_key_alg skey_alg)
{
    sx_smp_client *rcv = connect_v(e, range, false);
    sx_smp_client *snd = connect_v(e, range, false);
    uint16_t v = sx_smp_client_session(rcv)->version;
    queue q;
    create_queue(rcv, rkey_alg, true, &q);
    sx_smp_client_reply r;
    /* Unsecured: an unsigned SEND is accepted (the confirmation). */
    send_msg(snd, &q, "confirmation", &r);
    expect_tag(&r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    next_event(rcv, &r);
    uint8_t id[24];
    check_msg(&q, &r, "confirmation", id);
    sx_smp_client_reply_free(&r);
    /* Secure it: SKEY (v >= 9) by the sender, or KEY by the recipient. */
    if (v >= 9) {
        secure(snd, &q, skey_alg);
    } else {
        assert_ok(sx_key_generate(skey_alg, &q.skey));
        uint8_t b[SX_KEY_SPKI_MAX];
        sx_smp_cmd c = {.tag = SX_SMP_C_KEY};
        c.key = pub_of(q.skey, b);
        assert_ok(sx_smp_client_call(rcv, sx_slice_of(q.rid, 24), &c, q.rkey, &r));
        expect_tag(&r, SX_SMP_R_OK);
        sx_smp_client_reply_free(&r);
    }
    /* Now an unsigned SEND is refused, a signed one accepted. */
    sx_key *saved = q.skey;
    q.skey = NULL;
    send_msg(snd, &q, "unsigned", &r);
    expect_err(&r, SX_SMP_ERR_AUTH);
    sx_smp_client_reply_free(&r);
    q.skey = saved;
    send_msg(snd, &q, "hello 1", &r);
    expect_tag(&r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    send_msg(snd, &q, "hello 2", &r);
    expect_tag(&r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    /* ACK of the first message returns the next one as the response. */
    ack(rcv, &q, id, &r);
    check_msg(&q, &r, "hello 1", id);
    sx_smp_client_reply_free(&r);
    ack(rcv, &q, id, &r);
    check_msg(&q, &r, "hello 2", id);
    sx_smp_client_reply_free(&r);
    ack(rcv, &q, id, &r);
    expect_tag(&r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    /* Nothing is delivered now: ACK again is NO_MSG. */
    ack(rcv, &q, id, &r);
    expect_err(&r, SX_SMP_ERR_NO_MSG);
    sx_smp_client_reply_free(&r);
    /* A wrong recipient key is AUTH. */
    sx_key *wrong;
    assert_ok(sx_key_generate(rkey_alg, &wrong));
    call_simple(rcv, q.rid, SX_SMP_C_SUB, wrong, &r);
    expect_err(&r, SX_SMP_ERR_AUTH);
    sx_smp_client_reply_free(&r);
    sx_key_free(wrong);
    /* DEL, then everything is AUTH. */
    call_simple(rcv, q.rid, SX_SMP_C_DEL, q.rkey, &r);
    expect_tag(&r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    call_simple(rcv, q.rid, SX_SMP_C_SUB, q.rkey, &r);
    expect_err(&r, SX_SMP_ERR_AUTH);
    sx_smp_client_reply_free(&r);
    send_msg(snd, &q, "after delete", &r);
    expect_err(&r, SX_SMP_ERR_AUTH);
    sx_smp_client_reply_free(&r);
    queue_free(&q);
    sx_smp_client_close(rcv);
    sx_smp_client_close(snd);
}

static void test_lifecycle_v19_ed25519(void **state)
{
    lifecycle(*state, (sx_version_range){0, 0}, SX_KEY_ED25519, SX_KEY_ED25519);
}

static void test_lifecycle_v19_x25519(void **state)
{
    /* X25519 queue keys authorize with authenticators (PROTOCOL-NOTES C8). */
    lifecycle(*state, (sx_version_range){0, 0}, SX_KEY_X25519, SX_KEY_X25519);
}

static void test_lifecycle_v19_ed448(void **state)
{
    lifecycle(*state, (sx_version_range){0, 0}, SX_KEY_ED448, SX_KEY_ED448);
}

static void test_lifecycle_v8(void **state)
{
    lifecycle(*state, (sx_version_range){6, 8}, SX_KEY_ED25519, SX_KEY_ED25519);
}

static void test_lifecycle_v12(void **state)
{
    lifecycle(*state, (sx_version_range){6, 12}, SX_KEY_ED25519, SX_KEY_X25519);
}

/* PROTOCOL-NOTES T3: quota of 128, the marker, and recovery after draining. */
static void test_quota(void **state)
{
    env *e = *state;
    sx_smp_client *rcv = connect_default(e);
    sx_smp_client *snd = connect_default(e);
    queue q;
    create_queue(rcv, SX_KEY_ED25519, false, &q);
    secure(snd, &q, SX_KEY_ED25519);
    sx_smp_client_reply r;
    for (int i = 0; i < 128; i++) {
        send_msg(snd, &q, "m", &r);
        expect_tag(&r, SX_SMP_R_OK);
        sx_smp_client_reply_free(&r);
    }
    send_msg(snd, &q, "over", &r);
    expect_err(&r, SX_SMP_ERR_QUOTA);
    sx_smp_client_reply_free(&r);
    /* Drain with SUB + ACK: 128 messages, then the QUOTA marker. */
    uint8_t id[24];
    call_simple(rcv, q.rid, SX_SMP_C_SUB, q.rkey, &r);
    expect_tag(&r, SX_SMP_R_SOK);
    sx_smp_client_reply_free(&r);
    next_event(rcv, &r);
    check_msg(&q, &r, "m", id);
    sx_smp_client_reply_free(&r);
    for (int i = 1; i < 128; i++) {
        ack(rcv, &q, id, &r);
        check_msg(&q, &r, "m", id);
        sx_smp_client_reply_free(&r);
    }
    ack(rcv, &q, id, &r);
    check_msg(&q, &r, NULL, id); /* the marker */
    sx_smp_client_reply_free(&r);
    send_msg(snd, &q, "still full", &r);
    expect_err(&r, SX_SMP_ERR_QUOTA);
    sx_smp_client_reply_free(&r);
    ack(rcv, &q, id, &r);
    expect_tag(&r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    send_msg(snd, &q, "again", &r);
    expect_tag(&r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    next_event(rcv, &r);
    check_msg(&q, &r, "again", id);
    sx_smp_client_reply_free(&r);
    queue_free(&q);
    sx_smp_client_close(rcv);
    sx_smp_client_close(snd);
}

/* PROTOCOL-NOTES T4: a second subscriber takes over; the first gets END; DEL on
 * the second sends DELD to nobody else. */
/* The blocking client PINGs while waiting for events once the connection
 * has been idle for the interval, and an event that arrives while it waits
 * is still delivered; with keep-alive off nothing is sent. */
static void test_blocking_keepalive(void **state)
{
    env *e = *state;
    sx_smp_client_opts o = {.timeout_ms = 5000, .ping_interval_ms = 100};
    sx_smp_client *cl = NULL;
    assert_ok(sx_smp_client_connect("127.0.0.1", e->port, e->fp, &o, &cl));
    sx_smp_client_reply r;
    int64_t t0 = sx_loop_now_ms();
    assert_int_equal(sx_smp_client_next_event(cl, 550, &r), SX_E_WOULD_BLOCK);
    assert_true(sx_loop_now_ms() - t0 >= 540);
    sx_smp_client_stats st;
    sx_smp_client_get_stats(cl, &st);
    assert_true(st.pings_sent >= 4 && st.pings_sent <= 6);
    assert_int_equal(st.pongs_received, st.pings_sent);
    /* Still usable, and events still come through between PINGs. */
    queue q;
    create_queue(cl, SX_KEY_ED25519, true, &q);
    sx_smp_client *snd = connect_default(e);
    send_msg(snd, &q, "while pinging", &r);
    expect_tag(&r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    next_event(cl, &r);
    check_msg(&q, &r, "while pinging", NULL);
    sx_smp_client_reply_free(&r);
    queue_free(&q);
    sx_smp_client_close(snd);
    sx_smp_client_close(cl);

    sx_smp_client_opts off = {.timeout_ms = 5000, .ping_interval_ms = 50, .no_keepalive = true};
    assert_ok(sx_smp_client_connect("127.0.0.1", e->port, e->fp, &off, &cl));
    assert_int_equal(sx_smp_client_next_event(cl, 300, &r), SX_E_WOULD_BLOCK);
    sx_smp_client_get_stats(cl, &st);
    assert_int_equal(st.pings_sent, 0);
    sx_smp_client_close(cl);
}

/* A peer that completes the SMP handshake and then reads every block
 * without ever answering: a router that swallows PINGs. */
typedef struct mute_peer {
    sx_tls_ctx *ctx;
    sx_smp_server_config cfg;
    int lfd;
    uint16_t port;
    pthread_t thread;
    int blocks; /* blocks read after the handshake */
} mute_peer;

static void *mute_main(void *arg)
{
    mute_peer *m = arg;
    int fd = -1;
    sx_tls_conn *c = NULL;
    sx_smp_session s;
    memset(&s, 0, sizeof s);
    if (sx_net_accept(m->lfd, 5000, &fd) == SX_OK && sx_tls_conn_new_server(m->ctx, fd, &c) == SX_OK &&
        sx_tls_handshake_blocking(c, 5000) == SX_OK &&
        sx_smp_handshake_server_blocking(c, &m->cfg, 5000, &s, NULL) == SX_OK) {
        static uint8_t block[SX_BLOCK_SIZE];
        sx_slice content;
        while (sx_smp_session_recv_blocking(&s, c, block, &content, 5000) == SX_OK)
            m->blocks++;
    }
    sx_smp_session_cleanup(&s);
    sx_tls_conn_free(c);
    sx_net_close(fd);
    return NULL;
}

/* Keep-alive failure: no PONG within the call's timeout ends the connection
 * with SX_E_IO after exactly one PING. */
static void test_blocking_keepalive_no_pong(void **state)
{
    env *e = *state;
    mute_peer m;
    memset(&m, 0, sizeof m);
    char crt[1024], ca[1024], key[1024];
    snprintf(crt, sizeof crt, "%s", tu_data_path("fixtures/server.crt"));
    snprintf(ca, sizeof ca, "%s", tu_data_path("fixtures/ca.crt"));
    snprintf(key, sizeof key, "%s", tu_data_path("fixtures/server.key"));
    sx_tls_server_config tcfg = {.creds = {.cert_file = crt, .ca_file = ca, .key_file = key}};
    assert_ok(sx_tls_server_ctx_new(&tcfg, &m.ctx));
    assert_ok(sx_smp_server_config_init(&m.cfg, m.ctx));
    assert_ok(sx_net_listen("127.0.0.1", 0, 4, &m.lfd, &m.port));
    assert_int_equal(pthread_create(&m.thread, NULL, mute_main, &m), 0);

    /* The timeout also bounds the TLS and SMP handshakes with the peer's
     * thread: 300 ms was too short for them on a loaded machine. */
    sx_smp_client_opts o = {.timeout_ms = 1000, .ping_interval_ms = 200};
    sx_smp_client *cl = NULL;
    assert_ok(sx_smp_client_connect("127.0.0.1", m.port, e->fp, &o, &cl));
    sx_smp_client_reply r;
    int64_t t0 = sx_loop_now_ms();
    assert_int_equal(sx_smp_client_next_event(cl, 10000, &r), SX_E_IO);
    int64_t took = sx_loop_now_ms() - t0;
    /* up to 200 ms of silence (counted from the handshake, which may have
     * ended a while before t0 on a loaded machine), one PING, then 1000 ms
     * for the PONG */
    if (took < 1000 || took >= 8000)
        fail_msg("gave up after %lld ms", (long long)took);
    sx_smp_client_stats st;
    sx_smp_client_get_stats(cl, &st);
    assert_int_equal(st.pings_sent, 1);
    assert_int_equal(st.pongs_received, 0);
    sx_smp_client_close(cl);
    assert_int_equal(pthread_join(m.thread, NULL), 0);
    assert_int_equal(m.blocks, 1); /* the PING reached the peer */
    sx_net_close(m.lfd);
    sx_smp_server_config_cleanup(&m.cfg);
    sx_tls_ctx_free(m.ctx);
}

static void test_subscription_transfer(void **state)
{
    env *e = *state;
    sx_smp_client *a = connect_default(e);
    sx_smp_client *b = connect_default(e);
    sx_smp_client *snd = connect_default(e);
    queue q;
    create_queue(a, SX_KEY_ED25519, true, &q);
    sx_smp_client_reply r;
    call_simple(b, q.rid, SX_SMP_C_SUB, q.rkey, &r);
    expect_tag(&r, SX_SMP_R_SOK);
    sx_smp_client_reply_free(&r);
    next_event(a, &r);
    expect_tag(&r, SX_SMP_R_END);
    assert_memory_equal(r.reply.t.entity_id.ptr, q.rid, 24);
    assert_int_equal(r.reply.t.corr_id.len, 0);
    sx_smp_client_reply_free(&r);
    /* Messages now go to b only. */
    send_msg(snd, &q, "to b", &r);
    expect_tag(&r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    next_event(b, &r);
    check_msg(&q, &r, "to b", NULL);
    sx_smp_client_reply_free(&r);
    assert_int_equal(sx_smp_client_next_event(a, 300, &r), SX_E_WOULD_BLOCK);
    /* a subscribes back; b gets END; then a deletes, b is not subscribed. */
    call_simple(a, q.rid, SX_SMP_C_SUB, q.rkey, &r);
    expect_tag(&r, SX_SMP_R_SOK);
    sx_smp_client_reply_free(&r);
    next_event(a, &r); /* the undelivered head is delivered again (PROTOCOL-NOTES E8) */
    check_msg(&q, &r, "to b", NULL);
    sx_smp_client_reply_free(&r);
    next_event(b, &r);
    expect_tag(&r, SX_SMP_R_END);
    sx_smp_client_reply_free(&r);
    /* b deletes the queue while a is subscribed: a gets DELD. */
    call_simple(b, q.rid, SX_SMP_C_DEL, q.rkey, &r);
    expect_tag(&r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    next_event(a, &r);
    expect_tag(&r, SX_SMP_R_DELD);
    sx_smp_client_reply_free(&r);
    queue_free(&q);
    sx_smp_client_close(a);
    sx_smp_client_close(b);
    sx_smp_client_close(snd);
}

/* PROTOCOL-NOTES T5: GET/SUB exclusivity, GET repeats the head, empty-id
 * ACK. */
static void test_get_and_sub(void **state)
{
    env *e = *state;
    sx_smp_client *rcv = connect_default(e);
    sx_smp_client *other = connect_default(e);
    queue q;
    create_queue(rcv, SX_KEY_ED25519, false, &q);
    secure(rcv, &q, SX_KEY_ED25519);
    sx_smp_client_reply r;
    call_simple(rcv, q.rid, SX_SMP_C_GET, q.rkey, &r);
    expect_tag(&r, SX_SMP_R_OK); /* empty */
    sx_smp_client_reply_free(&r);
    send_msg(rcv, &q, "one", &r);
    expect_tag(&r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    send_msg(rcv, &q, "two", &r);
    expect_tag(&r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    uint8_t id[24], id2[24];
    call_simple(rcv, q.rid, SX_SMP_C_GET, q.rkey, &r);
    check_msg(&q, &r, "one", id);
    sx_smp_client_reply_free(&r);
    call_simple(rcv, q.rid, SX_SMP_C_GET, q.rkey, &r);
    check_msg(&q, &r, "one", id2); /* the same head again */
    assert_memory_equal(id, id2, 24);
    sx_smp_client_reply_free(&r);
    /* After GET, SUB on this connection is prohibited. */
    call_simple(rcv, q.rid, SX_SMP_C_SUB, q.rkey, &r);
    expect_err(&r, SX_SMP_ERR_CMD);
    assert_int_equal(r.reply.resp.err.cmd, SX_SMP_CMD_PROHIBITED);
    sx_smp_client_reply_free(&r);
    /* GET-mode ACK answers OK (not the next message). */
    ack(rcv, &q, id, &r);
    expect_tag(&r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    /* ACK on another connection: NO_MSG (PROTOCOL-NOTES P10). */
    ack(other, &q, id, &r);
    expect_err(&r, SX_SMP_ERR_NO_MSG);
    sx_smp_client_reply_free(&r);
    /* SUB on the other connection, then GET there is prohibited. */
    call_simple(other, q.rid, SX_SMP_C_SUB, q.rkey, &r);
    expect_tag(&r, SX_SMP_R_SOK);
    sx_smp_client_reply_free(&r);
    next_event(other, &r);
    check_msg(&q, &r, "two", id);
    sx_smp_client_reply_free(&r);
    call_simple(other, q.rid, SX_SMP_C_GET, q.rkey, &r);
    expect_err(&r, SX_SMP_ERR_CMD);
    sx_smp_client_reply_free(&r);
    /* Empty-id ACK re-sends the head as the response (PROTOCOL-NOTES D16). */
    sx_smp_cmd c = {.tag = SX_SMP_C_ACK};
    c.msg_id = sx_slice_of(NULL, 0);
    assert_ok(sx_smp_client_call(other, sx_slice_of(q.rid, 24), &c, q.rkey, &r));
    check_msg(&q, &r, "two", id2);
    assert_memory_equal(id, id2, 24);
    sx_smp_client_reply_free(&r);
    queue_free(&q);
    sx_smp_client_close(rcv);
    sx_smp_client_close(other);
}

/* Malformed input gets errors; the connection and the router go on. */
static void test_malformed(void **state)
{
    env *e = *state;
    sx_smp_client *cl = connect_default(e);
    sx_smp_client_reply r;
    /* A batch with a count of 0. */
    const uint8_t zero[] = {0};
    assert_ok(sx_smp_client_send_raw(cl, sx_slice_of(zero, 1)));
    next_event(cl, &r);
    expect_err(&r, SX_SMP_ERR_BLOCK);
    sx_smp_client_reply_free(&r);
    /* An unknown command. */
    const uint8_t unk[] = {1, 0, 7, 0, 0, 0, 'N', 'O', 'P', 'E'};
    assert_ok(sx_smp_client_send_raw(cl, sx_slice_of(unk, sizeof unk)));
    next_event(cl, &r);
    expect_err(&r, SX_SMP_ERR_CMD);
    assert_int_equal(r.reply.resp.err.cmd, SX_SMP_CMD_UNKNOWN);
    sx_smp_client_reply_free(&r);
    /* SEND without entity. */
    sx_smp_cmd c = {.tag = SX_SMP_C_SEND};
    c.send.body = sx_slice_str("x");
    assert_ok(sx_smp_client_call(cl, sx_slice_of(NULL, 0), &c, NULL, &r));
    expect_err(&r, SX_SMP_ERR_CMD);
    assert_int_equal(r.reply.resp.err.cmd, SX_SMP_CMD_NO_ENTITY);
    sx_smp_client_reply_free(&r);
    /* Still serving. */
    call_simple(cl, NULL, SX_SMP_C_PING, NULL, &r);
    expect_tag(&r, SX_SMP_R_PONG);
    sx_smp_client_reply_free(&r);
    sx_smp_client_close(cl);
}

/* PROTOCOL-NOTES B7: a peer that connects and never finishes a handshake is
 * closed. */
static void test_handshake_timeout(void **state)
{
    env *e = *state;
    int fd_tls, fd_hello;
    /* One connection sends nothing at all (TLS never starts). */
    assert_ok(sx_net_connect("127.0.0.1", e->port, 2000, &fd_tls));
    /* Another finishes TLS but never sends the SMP client hello. */
    sx_tls_client_config tcfg = {0};
    static const char *const alpn[] = {"smp/1", NULL};
    tcfg.alpn = alpn;
    sx_tls_ctx *ctx;
    assert_ok(sx_tls_client_ctx_new(&tcfg, &ctx));
    assert_ok(sx_net_connect("127.0.0.1", e->port, 2000, &fd_hello));
    sx_tls_conn *tls;
    assert_ok(sx_tls_conn_new_client(ctx, fd_hello, e->fp, &tls));
    assert_ok(sx_tls_handshake_blocking(tls, 2000));
    uint8_t block[SX_BLOCK_SIZE];
    assert_ok(sx_tls_read_block(tls, block, 2000)); /* the server hello */
    /* Both are closed by the router within its timeouts (2 s here, ticks of 1 s). */
    char b;
    int64_t t0 = sx_loop_now_ms();
    assert_ok(sx_net_wait(fd_tls, false, 6000));
    assert_int_equal(read(fd_tls, &b, 1), 0);
    assert_int_equal(sx_tls_read_block(tls, block, 6000), SX_E_CLOSED);
    assert_true(sx_loop_now_ms() - t0 < 6000);
    sx_tls_conn_free(tls);
    sx_tls_ctx_free(ctx);
    sx_net_close(fd_tls);
    sx_net_close(fd_hello);
}

/* PROTOCOL-NOTES B7a: after the handshake, a block that keeps arriving a
 * byte at a time is not waited for longer than the block timeout (2 s
 * here): one connection dribbles block bytes in TLS records of their own,
 * another the bytes of one TLS record. */
static void test_block_timeout(void **state)
{
    env *e = *state;
    sx_tls_client_config tcfg = {0};
    static const char *const alpn[] = {"smp/1", NULL};
    tcfg.alpn = alpn;
    sx_tls_ctx *ctx;
    assert_ok(sx_tls_client_ctx_new(&tcfg, &ctx));
    int fd[2];
    sx_tls_conn *tls[2];
    sx_smp_session sess[2];
    for (int i = 0; i < 2; i++) {
        assert_ok(sx_net_connect("127.0.0.1", e->port, 2000, &fd[i]));
        assert_ok(sx_tls_conn_new_client(ctx, fd[i], e->fp, &tls[i]));
        assert_ok(sx_tls_handshake_blocking(tls[i], 2000));
        assert_ok(sx_smp_handshake_client_blocking(tls[i], e->fp, sx_smp_server_vrange(), 5000, &sess[i]));
    }
    static const uint8_t part[3] = {23, 3, 3}; /* an application data record begins */
    assert_int_equal(send(fd[1], part, sizeof part, MSG_NOSIGNAL), 3);
    int64_t t0 = sx_loop_now_ms();
    bool closed[2] = {false, false};
    uint8_t byte = 0;
    while (sx_loop_now_ms() - t0 < 8000 && !(closed[0] && closed[1])) {
        size_t done = 0;
        if (!closed[0] && sx_tls_write(tls[0], &byte, 1, &done) != SX_OK)
            closed[0] = true;
        if (!closed[1] && send(fd[1], &byte, 1, MSG_NOSIGNAL) != 1)
            closed[1] = true;
        for (int i = 0; i < 2; i++) {
            char b;
            if (!closed[i] && sx_net_wait(fd[i], false, 0) == SX_OK && recv(fd[i], &b, 1, MSG_PEEK) <= 0)
                closed[i] = true;
        }
        usleep(200000);
    }
    int64_t took = sx_loop_now_ms() - t0;
    assert_true(closed[0] && closed[1]);
    assert_true(took >= 1500 && took < 6000);
    for (int i = 0; i < 2; i++) {
        sx_smp_session_cleanup(&sess[i]);
        sx_tls_conn_free(tls[i]);
        sx_net_close(fd[i]);
    }
    sx_tls_ctx_free(ctx);
    /* a client that sends whole blocks is served as before */
    sx_smp_client *cl = connect_default(e);
    sx_smp_client_reply r;
    call_simple(cl, NULL, SX_SMP_C_PING, NULL, &r);
    expect_tag(&r, SX_SMP_R_PONG);
    sx_smp_client_reply_free(&r);
    sx_smp_client_close(cl);
}

/* At most max_pending_per_addr connections of one address wait for their
 * handshake (loopback counts here with limit_loopback); another is closed
 * at accept, and connections that finished their handshake do not count. */
static void test_pending_per_address(void **state)
{
    env *e = *state;
    sx_router_opts o = {0};
    static char crt[1024], ca[1024], key[1024];
    snprintf(crt, sizeof crt, "%s", tu_data_path("fixtures/server.crt"));
    snprintf(ca, sizeof ca, "%s", tu_data_path("fixtures/ca.crt"));
    snprintf(key, sizeof key, "%s", tu_data_path("fixtures/server.key"));
    o.cert_file = crt;
    o.ca_file = ca;
    o.key_file = key;
    o.host = "127.0.0.1";
    o.n_ports = 1;
    o.workers = 2;
    o.new_queues = true;
    o.max_pending_per_addr = 2;
    o.limit_loopback = true;
    sx_router *r;
    assert_ok(sx_router_start(&o, &r));
    env e2 = *e;
    e2.r = r;
    e2.port = sx_router_port(r, 0);
    sx_smp_client *a = connect_default(&e2); /* done: not counted */
    int fd1, fd2, fd3;
    assert_ok(sx_net_connect("127.0.0.1", e2.port, 2000, &fd1));
    assert_ok(sx_net_connect("127.0.0.1", e2.port, 2000, &fd2));
    usleep(100000);
    assert_ok(sx_net_connect("127.0.0.1", e2.port, 2000, &fd3));
    char b;
    assert_ok(sx_net_wait(fd3, false, 2000));
    assert_int_equal(read(fd3, &b, 1), 0); /* closed at once */
    sx_smp_client_opts co = {.timeout_ms = 2000};
    sx_smp_client *cl = NULL;
    assert_int_not_equal(sx_smp_client_connect("127.0.0.1", e2.port, e2.fp, &co, &cl), SX_OK);
    /* one of them leaves: room for a client again */
    sx_net_close(fd1);
    usleep(100000);
    sx_smp_client *c2 = connect_default(&e2);
    sx_smp_client_reply rep;
    call_simple(a, NULL, SX_SMP_C_PING, NULL, &rep);
    expect_tag(&rep, SX_SMP_R_PONG);
    sx_smp_client_reply_free(&rep);
    sx_smp_client_close(c2);
    sx_smp_client_close(a);
    sx_net_close(fd2);
    sx_net_close(fd3);
    sx_router_stop(r);
}

/* One TLS connection offering alpn (NULL: no ALPN extension): the
 * handshake's status, and when it succeeds the version range of the SMP
 * server hello that follows. */
static sx_status alpn_probe(env *e, const char *const *alpn, sx_version_range *range)
{
    sx_tls_client_config tcfg = {.alpn = alpn};
    sx_tls_ctx *ctx;
    assert_ok(sx_tls_client_ctx_new(&tcfg, &ctx));
    int fd;
    assert_ok(sx_net_connect("127.0.0.1", e->port, 2000, &fd));
    sx_tls_conn *tls;
    assert_ok(sx_tls_conn_new_client(ctx, fd, e->fp, &tls));
    sx_status st = sx_tls_handshake_blocking(tls, 2000);
    if (st == SX_OK) {
        uint8_t block[SX_BLOCK_SIZE];
        sx_slice content;
        sx_smp_server_hello h;
        assert_ok(sx_tls_read_block(tls, block, 2000));
        assert_ok(sx_block_decode(sx_slice_of(block, SX_BLOCK_SIZE), &content));
        assert_ok(sx_smp_server_hello_decode(content, &h));
        *range = h.range;
    }
    sx_tls_conn_free(tls);
    sx_tls_ctx_free(ctx);
    sx_net_close(fd);
    return st;
}

/* PROTOCOL-NOTES B5, B5a, B16: the SMP port, with no web server, accepts
 * what the reference's does: smp/1, h2 and http/1.1 all get the SMP
 * handshake with the full version range, no ALPN gets v6 only, and a list
 * with none of the three ends the TLS handshake. */
static void test_alpn_accepted(void **state)
{
    env *e = *state;
    static const char *const smp[] = {"smp/1", NULL}, *const h2[] = {"h2", NULL},
                             *const http11[] = {"http/1.1", NULL}, *const both_http[] = {"http/1.1", "h2", NULL},
                             *const late_smp[] = {"foo", "smp/1", NULL}, *const foo[] = {"foo", NULL},
                             *const xftp[] = {"xftp/1", "ntf/1", NULL};
    const char *const *accepted[] = {smp, h2, http11, both_http, late_smp};
    sx_version_range full = sx_smp_server_vrange(), r;
    for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
        memset(&r, 0, sizeof r);
        assert_ok(alpn_probe(e, accepted[i], &r));
        assert_int_equal(r.min, full.min);
        assert_int_equal(r.max, full.max);
    }
    memset(&r, 0, sizeof r);
    assert_ok(alpn_probe(e, NULL, &r));
    assert_int_equal(r.min, 6);
    assert_int_equal(r.max, 6);
    sx_status st = alpn_probe(e, foo, &r);
    assert_true(st == SX_E_PROTOCOL || st == SX_E_CLOSED);
    st = alpn_probe(e, xftp, &r);
    assert_true(st == SX_E_PROTOCOL || st == SX_E_CLOSED);
    /* the router still serves a normal client afterwards */
    memset(&r, 0, sizeof r);
    assert_ok(alpn_probe(e, smp, &r));
    assert_int_equal(r.max, full.max);
}

/* A burst of many blocks (more than the router reads per event) is all
 * answered, including blocks left buffered inside TLS. */
static void test_burst(void **state)
{
    env *e = *state;
    sx_smp_client *cl = connect_default(e);
    const sx_smp_session *sess = sx_smp_client_session(cl);
    enum { N = 150 };
    for (int i = 0; i < N; i++) {
        uint8_t corr[24], t[128], content[256];
        memset(corr, i, sizeof corr);
        sx_smp_transmission tr = {0};
        tr.corr_id = sx_slice_of(corr, 24);
        tr.command = sx_slice_str("PING");
        tr.session_id = sx_smp_session_id(sess);
        sx_writer w;
        sx_writer_init_fixed(&w, t, sizeof t);
        assert_true(sx_smp_transmission_write(&w, sess->version, &tr));
        sx_writer bw;
        sx_writer_init_fixed(&bw, content, sizeof content);
        sx_write_u8(&bw, 1);
        sx_write_large(&bw, sx_writer_slice(&w));
        assert_ok(sx_writer_status(&bw));
        assert_ok(sx_smp_client_send_raw(cl, sx_writer_slice(&bw)));
    }
    for (int i = 0; i < N; i++) {
        sx_smp_client_reply r;
        next_event(cl, &r);
        expect_tag(&r, SX_SMP_R_PONG);
        assert_int_equal(r.reply.t.corr_id.ptr[0], (uint8_t)i); /* in order */
        sx_smp_client_reply_free(&r);
    }
    sx_smp_client_close(cl);
}

/* Blocks that reach the router together are answered together: 100 PING
 * blocks written in one go come back as 100 PONGs in order, in fewer blocks
 * than were sent (the router reads many blocks per pass while the client
 * writes 1.6 MB at memory speed). */
static void test_replies_share_blocks(void **state)
{
    env *e = *state;
    sx_tls_client_config tcfg = {0};
    static const char *const alpn[] = {"smp/1", NULL};
    tcfg.alpn = alpn;
    sx_tls_ctx *ctx;
    assert_ok(sx_tls_client_ctx_new(&tcfg, &ctx));
    int fd;
    sx_tls_conn *tls;
    sx_smp_session sess;
    assert_ok(sx_net_connect("127.0.0.1", e->port, 2000, &fd));
    assert_ok(sx_tls_conn_new_client(ctx, fd, e->fp, &tls));
    assert_ok(sx_tls_handshake_blocking(tls, 2000));
    assert_ok(sx_smp_handshake_client_blocking(tls, e->fp, sx_smp_server_vrange(), 5000, &sess));
    enum { N = 100 };
    uint8_t *out = malloc((size_t)N * SX_BLOCK_SIZE);
    assert_non_null(out);
    for (int i = 0; i < N; i++) {
        uint8_t corr[24], t[128], content[256];
        memset(corr, i, sizeof corr);
        sx_smp_transmission tr = {0};
        tr.corr_id = sx_slice_of(corr, 24);
        tr.command = sx_slice_str("PING");
        tr.session_id = sx_smp_session_id(&sess);
        sx_writer w;
        sx_writer_init_fixed(&w, t, sizeof t);
        assert_true(sx_smp_transmission_write(&w, sess.version, &tr));
        sx_writer bw;
        sx_writer_init_fixed(&bw, content, sizeof content);
        sx_write_u8(&bw, 1);
        sx_write_large(&bw, sx_writer_slice(&w));
        assert_ok(sx_writer_status(&bw));
        assert_ok(sx_smp_session_write_block(&sess, sx_writer_slice(&bw), out + (size_t)i * SX_BLOCK_SIZE));
    }
    assert_ok(sx_tls_write_full(tls, out, (size_t)N * SX_BLOCK_SIZE, 5000));
    int pongs = 0, blocks = 0;
    while (pongs < N) {
        sx_slice content, items[SX_BATCH_MAX_ITEMS];
        size_t n = 0;
        assert_ok(sx_smp_session_recv_blocking(&sess, tls, out, &content, 5000));
        blocks++;
        assert_ok(sx_batch_decode(content, items, SX_BATCH_MAX_ITEMS, &n));
        for (size_t k = 0; k < n; k++) {
            sx_smp_reply rep;
            assert_ok(sx_smp_reply_decode(items[k], sess.version, sx_smp_session_id(&sess), &rep));
            assert_int_equal(rep.resp.tag, SX_SMP_R_PONG);
            assert_int_equal(rep.t.corr_id.len, 24);
            assert_int_equal(rep.t.corr_id.ptr[0], (uint8_t)pongs); /* in order */
            pongs++;
        }
    }
    assert_int_equal(pongs, N);
    assert_true(blocks < N);
    free(out);
    sx_smp_session_cleanup(&sess);
    sx_tls_conn_free(tls);
    sx_net_close(fd);
    sx_tls_ctx_free(ctx);
}

/* Several commands in one block come back matched by corrId. */
static void test_batched(void **state)
{
    env *e = *state;
    sx_smp_client *cl = connect_default(e);
    enum { N = 40 };
    sx_smp_cmd ping = {.tag = SX_SMP_C_PING};
    sx_smp_client_cmd cmds[N];
    sx_smp_client_reply replies[N];
    for (int i = 0; i < N; i++)
        cmds[i] = (sx_smp_client_cmd){.entity = sx_slice_of(NULL, 0), .cmd = &ping};
    sx_smp_client_stats s0, s1;
    sx_smp_client_get_stats(cl, &s0);
    assert_ok(sx_smp_client_call_many(cl, cmds, N, replies));
    sx_smp_client_get_stats(cl, &s1);
    /* one block out; the PONGs fit one block too (the client counts both) */
    assert_int_equal(s1.blocks_sent - s0.blocks_sent, 1);
    assert_int_equal(s1.blocks_received - s0.blocks_received, 1);
    for (int i = 0; i < N; i++) {
        expect_tag(&replies[i], SX_SMP_R_PONG);
        sx_smp_client_reply_free(&replies[i]);
    }
    sx_smp_client_close(cl);
}

/* The signed commands of one block are verified together (batch Ed25519
 * verification, src/crypto/ed25519_batch.h): every answer is the one each
 * command gets alone. SUBs signed with the wrong key, for a queue that is
 * not there, for a queue an earlier command of the same block deleted, an
 * Ed448 queue among Ed25519 ones, and SENDs with right and wrong sender
 * keys: ERR AUTH exactly where a one-by-one check refuses, the rest served. */
static void test_batched_signatures(void **state)
{
    env *e = *state;
    sx_smp_client *rcv = connect_default(e);
    sx_smp_client *snd = connect_default(e);
    enum { N = 40,
           DEL_AT = 30 };
    queue q[N];
    for (int i = 0; i < N; i++)
        create_queue(rcv, i == 5 ? SX_KEY_ED448 : SX_KEY_ED25519, false, &q[i]);
    sx_key *wrong;
    assert_ok(sx_key_generate(SX_KEY_ED25519, &wrong));
    uint8_t missing[24];
    sx_random_bytes(missing, sizeof missing);
    sx_smp_cmd sub = {.tag = SX_SMP_C_SUB}, del = {.tag = SX_SMP_C_DEL};
    sx_smp_client_cmd cmds[N + 2];
    sx_smp_client_reply replies[N + 2];
    bool bad[N + 2] = {false};
    size_t n = 0;
    for (int i = 0; i < N; i++) {
        if (i == DEL_AT) /* DEL, then SUB of the same queue: AUTH */
            cmds[n++] = (sx_smp_client_cmd){.entity = sx_slice_of(q[i].rid, 24), .cmd = &del, .auth_key = q[i].rkey};
        bool wrong_key = i == 0 || i == 7 || i == 21 || i == N - 1;
        cmds[n] = (sx_smp_client_cmd){.entity = sx_slice_of(q[i].rid, 24), .cmd = &sub, .auth_key = wrong_key ? wrong : q[i].rkey};
        bad[n++] = wrong_key || i == DEL_AT;
        if (i == 12) {
            cmds[n] = (sx_smp_client_cmd){.entity = sx_slice_of(missing, 24), .cmd = &sub, .auth_key = wrong};
            bad[n++] = true;
        }
    }
    sx_smp_client_stats s0, s1;
    sx_smp_client_get_stats(rcv, &s0);
    assert_ok(sx_smp_client_call_many(rcv, cmds, n, replies));
    sx_smp_client_get_stats(rcv, &s1);
    assert_int_equal(s1.blocks_sent - s0.blocks_sent, 1); /* one block: one batch */
    for (size_t i = 0; i < n; i++) {
        if (cmds[i].cmd == &del)
            expect_tag(&replies[i], SX_SMP_R_OK);
        else if (bad[i])
            expect_err(&replies[i], SX_SMP_ERR_AUTH);
        else
            expect_tag(&replies[i], SX_SMP_R_SOK);
        sx_smp_client_reply_free(&replies[i]);
    }
    /* SENDs in one block: secured queues, two with a wrong sender key */
    enum { NS = 12 };
    sx_smp_cmd sends[NS];
    for (int i = 0; i < NS; i++) {
        secure(snd, &q[10 + i], SX_KEY_ED25519);
        sends[i] = (sx_smp_cmd){.tag = SX_SMP_C_SEND};
        sends[i].send.notification = true;
        sends[i].send.body = sx_slice_str("batched");
        cmds[i] = (sx_smp_client_cmd){.entity = sx_slice_of(q[10 + i].sid, 24), .cmd = &sends[i], .auth_key = (i == 3 || i == 9) ? wrong : q[10 + i].skey};
    }
    assert_ok(sx_smp_client_call_many(snd, cmds, NS, replies));
    for (int i = 0; i < NS; i++) {
        if (i == 3 || i == 9)
            expect_err(&replies[i], SX_SMP_ERR_AUTH);
        else
            expect_tag(&replies[i], SX_SMP_R_OK);
        sx_smp_client_reply_free(&replies[i]);
    }
    sx_key_free(wrong);
    for (int i = 0; i < N; i++)
        queue_free(&q[i]);
    sx_smp_client_close(snd);
    sx_smp_client_close(rcv);
}

/* PROTOCOL-NOTES T6 (subscription part): NKEY, then NSUB from another
 * connection. */
static void test_notifier(void **state)
{
    env *e = *state;
    sx_smp_client *rcv = connect_default(e);
    sx_smp_client *ntf = connect_default(e);
    queue q;
    create_queue(rcv, SX_KEY_ED25519, true, &q);
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
    uint8_t nsecret[32];
    {
        sx_key *srv;
        size_t n;
        assert_ok(sx_key_decode_public(r.reply.resp.nid.srv_dh_key.der, SX_KEY_BIT(SX_KEY_X25519), &srv));
        assert_ok(sx_key_dh(ndh, srv, nsecret, sizeof nsecret, &n));
        sx_key_free(srv);
    }
    sx_smp_client_reply_free(&r);
    /* A message sent before NSUB waits as a pending notification
     * (PROTOCOL-NOTES E14). */
    sx_smp_client *snd = connect_default(e);
    send_msg(snd, &q, "early", &r);
    expect_tag(&r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    uint8_t id1[24], id2[24];
    next_event(rcv, &r);
    check_msg(&q, &r, "early", id1);
    sx_smp_client_reply_free(&r);
    call_simple(ntf, nid, SX_SMP_C_NSUB, nkey, &r);
    expect_tag(&r, SX_SMP_R_SOK);
    sx_smp_client_reply_free(&r);
    for (int k = 0; k < 2; k++) {
        if (k == 1) {
            /* And one sent while subscribed arrives at once. */
            ack(rcv, &q, id1, &r);
            expect_tag(&r, SX_SMP_R_OK);
            sx_smp_client_reply_free(&r);
            send_msg(snd, &q, "late", &r);
            expect_tag(&r, SX_SMP_R_OK);
            sx_smp_client_reply_free(&r);
            next_event(rcv, &r);
            check_msg(&q, &r, "late", id2);
            sx_smp_client_reply_free(&r);
        }
        next_event(ntf, &r);
        expect_tag(&r, SX_SMP_R_NMSG);
        assert_memory_equal(r.reply.t.entity_id.ptr, nid, 24);
        uint8_t buf[SX_SMP_NMSG_META_LEN];
        sx_slice mid;
        int64_t ts;
        uint8_t nonce[24];
        assert_int_equal(r.reply.resp.nmsg.nonce.len, 24);
        memcpy(nonce, r.reply.resp.nmsg.nonce.ptr, 24);
        assert_ok(sx_smp_nmsg_decrypt(nsecret, nonce, r.reply.resp.nmsg.enc_meta, buf, sizeof buf, &mid, &ts));
        assert_int_equal(mid.len, 24);
        assert_memory_equal(mid.ptr, k == 0 ? id1 : id2, 24);
        assert_true(ts > 1700000000);
        sx_smp_client_reply_free(&r);
    }
    sx_smp_client_close(snd);
    /* The recipient key does not authorize NSUB. */
    call_simple(ntf, nid, SX_SMP_C_NSUB, q.rkey, &r);
    expect_err(&r, SX_SMP_ERR_AUTH);
    sx_smp_client_reply_free(&r);
    /* NDEL: the notifier subscriber is told. */
    call_simple(rcv, q.rid, SX_SMP_C_NDEL, q.rkey, &r);
    expect_tag(&r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    next_event(ntf, &r);
    expect_tag(&r, SX_SMP_R_DELD);
    assert_memory_equal(r.reply.t.entity_id.ptr, nid, 24);
    sx_smp_client_reply_free(&r);
    sx_key_free(nkey);
    sx_key_free(ndh);
    queue_free(&q);
    sx_smp_client_close(rcv);
    sx_smp_client_close(ntf);
}

/* One connection may hold a queue's recipient subscription and its
 * notifier's at once (the reference keeps them in two maps): NSUB then
 * GET; NSUB and SUB on a fresh connection, where a notified SEND gives both
 * MSG and NMSG; NDEL ends only the notifier's, DEL forgets both. */
static void test_sub_and_nsub_one_conn(void **state)
{
    env *e = *state;
    sx_smp_client *cl = connect_default(e);
    sx_smp_client *snd = connect_default(e);
    queue q;
    create_queue(cl, SX_KEY_ED25519, false, &q);
    sx_key *nkey, *ndh;
    assert_ok(sx_key_generate(SX_KEY_ED25519, &nkey));
    assert_ok(sx_key_generate(SX_KEY_X25519, &ndh));
    uint8_t b1[SX_KEY_SPKI_MAX], b2[SX_KEY_SPKI_MAX];
    sx_smp_cmd c = {.tag = SX_SMP_C_NKEY};
    c.nkey.auth_key = pub_of(nkey, b1);
    c.nkey.dh_key = pub_of(ndh, b2);
    sx_smp_client_reply r;
    assert_ok(sx_smp_client_call(cl, sx_slice_of(q.rid, 24), &c, q.rkey, &r));
    expect_tag(&r, SX_SMP_R_NID);
    uint8_t nid[24];
    memcpy(nid, r.reply.resp.nid.notifier_id.ptr, 24);
    sx_smp_client_reply_free(&r);
    call_simple(cl, nid, SX_SMP_C_NSUB, nkey, &r);
    expect_tag(&r, SX_SMP_R_SOK);
    sx_smp_client_reply_free(&r);
    /* GET on the connection that holds the notifier: allowed */
    call_simple(cl, q.rid, SX_SMP_C_GET, q.rkey, &r);
    expect_tag(&r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    /* GET made this connection's recipient subscription a GET one: SUB is
     * refused, as the reference does; a fresh connection holds both */
    call_simple(cl, q.rid, SX_SMP_C_SUB, q.rkey, &r);
    expect_err(&r, SX_SMP_ERR_CMD);
    sx_smp_client_reply_free(&r);
    sx_smp_client_close(cl);
    cl = connect_default(e);
    call_simple(cl, nid, SX_SMP_C_NSUB, nkey, &r);
    expect_tag(&r, SX_SMP_R_SOK);
    sx_smp_client_reply_free(&r);
    call_simple(cl, q.rid, SX_SMP_C_SUB, q.rkey, &r);
    expect_tag(&r, SX_SMP_R_SOK);
    sx_smp_client_reply_free(&r);
    /* a notified SEND: the message and the notification, both here */
    sx_smp_cmd sc = {.tag = SX_SMP_C_SEND};
    sc.send.notification = true;
    sc.send.body = sx_slice_of("both", 4);
    assert_ok(sx_smp_client_call(snd, sx_slice_of(q.sid, 24), &sc, NULL, &r));
    expect_tag(&r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    bool got_msg = false, got_nmsg = false;
    uint8_t id[24];
    for (int i = 0; i < 2; i++) {
        next_event(cl, &r);
        if (r.ok && r.reply.resp.tag == SX_SMP_R_NMSG) {
            assert_memory_equal(r.reply.t.entity_id.ptr, nid, 24);
            got_nmsg = true;
        } else {
            check_msg(&q, &r, "both", id);
            got_msg = true;
        }
        sx_smp_client_reply_free(&r);
    }
    assert_true(got_msg && got_nmsg);
    /* NDEL ends the notifier's subscription only (DELD of the notifier id);
     * the recipient's ACK still works */
    call_simple(cl, q.rid, SX_SMP_C_NDEL, q.rkey, &r);
    expect_tag(&r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    ack(cl, &q, id, &r);
    expect_tag(&r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    /* DEL from this connection: answered OK, the connection goes on */
    call_simple(cl, q.rid, SX_SMP_C_DEL, q.rkey, &r);
    expect_tag(&r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    sx_smp_cmd ping = {.tag = SX_SMP_C_PING};
    assert_ok(sx_smp_client_call(cl, sx_slice_of(NULL, 0), &ping, NULL, &r));
    expect_tag(&r, SX_SMP_R_PONG);
    sx_smp_client_reply_free(&r);
    sx_key_free(nkey);
    sx_key_free(ndh);
    queue_free(&q);
    sx_smp_client_close(cl);
    sx_smp_client_close(snd);
}

/* Restart: queues come back from the store log and undelivered messages
 * from the messages file (PROTOCOL-NOTES E25-E27). Uses its own router on a
 * temp folder. */
static void test_restart_persistence(void **state)
{
    env *e = *state;
    char dir[] = "/tmp/sx_router_XXXXXX";
    assert_non_null(mkdtemp(dir));
    static char slog[256], mlog[256];
    snprintf(slog, sizeof slog, "%s/smp-server-store.log", dir);
    snprintf(mlog, sizeof mlog, "%s/smp-server-messages.log", dir);
    sx_router_opts o = {0};
    char crt[1024], ca[1024], key[1024];
    snprintf(crt, sizeof crt, "%s", tu_data_path("fixtures/server.crt"));
    snprintf(ca, sizeof ca, "%s", tu_data_path("fixtures/ca.crt"));
    snprintf(key, sizeof key, "%s", tu_data_path("fixtures/server.key"));
    o.cert_file = crt;
    o.ca_file = ca;
    o.key_file = key;
    o.host = "127.0.0.1";
    o.n_ports = 1;
    o.workers = 2;
    o.new_queues = true;
    o.store_log_path = slog;
    o.msgs_log_path = mlog;
    o.quiet = true;

    env e2 = *e;
    assert_ok(sx_router_start(&o, &e2.r));
    e2.port = sx_router_port(e2.r, 0);
    sx_smp_client *cl = connect_default(&e2);
    queue q, gone;
    create_queue(cl, SX_KEY_ED25519, false, &q);
    create_queue(cl, SX_KEY_X25519, false, &gone);
    secure(cl, &q, SX_KEY_ED448);
    sx_smp_client_reply r;
    send_msg(cl, &q, "kept 1", &r);
    expect_tag(&r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    send_msg(cl, &q, "kept 2", &r);
    expect_tag(&r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    call_simple(cl, gone.rid, SX_SMP_C_DEL, gone.rkey, &r);
    expect_tag(&r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    sx_smp_client_close(cl);
    sx_router_stop(e2.r);

    /* Second life: same files. */
    assert_ok(sx_router_start(&o, &e2.r));
    e2.port = sx_router_port(e2.r, 0);
    cl = connect_default(&e2);
    /* Still secured: an unsigned SEND is refused. */
    sx_key *saved = q.skey;
    q.skey = NULL;
    send_msg(cl, &q, "unsigned", &r);
    expect_err(&r, SX_SMP_ERR_AUTH);
    sx_smp_client_reply_free(&r);
    q.skey = saved;
    uint8_t id[24];
    call_simple(cl, q.rid, SX_SMP_C_SUB, q.rkey, &r);
    expect_tag(&r, SX_SMP_R_SOK);
    sx_smp_client_reply_free(&r);
    next_event(cl, &r);
    check_msg(&q, &r, "kept 1", id);
    sx_smp_client_reply_free(&r);
    ack(cl, &q, id, &r);
    check_msg(&q, &r, "kept 2", id);
    sx_smp_client_reply_free(&r);
    /* The deleted queue stays deleted. */
    call_simple(cl, gone.rid, SX_SMP_C_SUB, gone.rkey, &r);
    expect_err(&r, SX_SMP_ERR_AUTH);
    sx_smp_client_reply_free(&r);
    sx_smp_client_close(cl);
    sx_router_stop(e2.r);
    queue_free(&q);
    queue_free(&gone);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* A client that sends one block of SUBs and leaves at once: the replies
 * (SOK, and the waiting messages of half the queues) overflow a block, so
 * the worker flushes while it holds a queue's lock, finds the peer gone and
 * must not close the connection there (closing takes the queue locks of
 * its subscriptions: the same stripe would wait for itself). The router
 * must keep answering on every worker. */
static void test_peer_gone_mid_batch(void **state)
{
    env *e = *state;
    sx_smp_client *owner = connect_default(e);
    sx_smp_client *snd = connect_default(e);
    enum { EMPTY = 25,
           FULL = 25,
           N = EMPTY + FULL };
    static queue qs[N];
    for (int i = 0; i < N; i++) {
        create_queue(owner, SX_KEY_ED25519, false, &qs[i]);
        if (i >= EMPTY) {
            sx_smp_client_reply r;
            send_msg(snd, &qs[i], "hello", &r);
            expect_tag(&r, SX_SMP_R_OK);
            sx_smp_client_reply_free(&r);
        }
    }
    for (int round = 0; round < 20; round++) {
        sx_smp_client *cl = connect_default(e);
        const sx_smp_session *sess = sx_smp_client_session(cl);
        static uint8_t content[16384];
        sx_writer bw;
        sx_writer_init_fixed(&bw, content, sizeof content);
        sx_write_u8(&bw, N);
        for (int i = 0; i < N; i++) {
            uint8_t t[1024], corr[24];
            sx_writer w;
            sx_writer_init_fixed(&w, t, sizeof t);
            sx_smp_cmd c = {.tag = SX_SMP_C_SUB};
            assert_ok(sx_smp_client_encode(sess, sx_slice_of(qs[i].rid, 24), &c, qs[i].rkey, corr, &w));
            sx_write_large(&bw, sx_writer_slice(&w));
        }
        assert_ok(sx_writer_status(&bw));
        assert_ok(sx_smp_client_send_raw(cl, sx_writer_slice(&bw)));
        sx_smp_client_close(cl);
        usleep(20000);
        /* The router still answers, on both workers. */
        for (int k = 0; k < 2; k++) {
            sx_smp_client *p = connect_default(e);
            sx_smp_client_reply r;
            call_simple(p, NULL, SX_SMP_C_PING, NULL, &r);
            expect_tag(&r, SX_SMP_R_PONG);
            sx_smp_client_reply_free(&r);
            sx_smp_client_close(p);
        }
    }
    sx_smp_client_close(snd);
    sx_smp_client_close(owner);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_alpn_accepted),
        cmocka_unit_test(test_lifecycle_v19_ed25519),
        cmocka_unit_test(test_lifecycle_v19_x25519),
        cmocka_unit_test(test_lifecycle_v19_ed448),
        cmocka_unit_test(test_lifecycle_v8),
        cmocka_unit_test(test_lifecycle_v12),
        cmocka_unit_test(test_quota),
        cmocka_unit_test(test_subscription_transfer),
        cmocka_unit_test(test_blocking_keepalive),
        cmocka_unit_test(test_blocking_keepalive_no_pong),
        cmocka_unit_test(test_get_and_sub),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_batched),
        cmocka_unit_test(test_batched_signatures),
        cmocka_unit_test(test_replies_share_blocks),
        cmocka_unit_test(test_burst),
        cmocka_unit_test(test_handshake_timeout),
        cmocka_unit_test(test_pending_per_address),
        cmocka_unit_test(test_block_timeout),
        cmocka_unit_test(test_notifier),
        cmocka_unit_test(test_sub_and_nsub_one_conn),
        cmocka_unit_test(test_peer_gone_mid_batch),
        cmocka_unit_test(test_restart_persistence),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
