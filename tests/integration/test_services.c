/* Service certificates on a real router (PROTOCOL-NOTES B6, B21, C9-C11,
 * D29): an in-process router with a store log and clients over loopback TLS.
 *   - a notifier service gets a 24-byte ServiceId, the same one after a
 *     reconnect and after a router restart (NEW_SERVICE replayed), another
 *     certificate another one;
 *   - NSUB as the service associates the queue (SOK with the id), NSUBS
 *     answers SOKS with the count and the XOR of the notifier ids' MD5,
 *     notifications reach the service, the association survives a restart,
 *     an ordinary client's NSUB takes it back;
 *   - a messaging service: NEW and SUB associate queues (IDS and SOK with
 *     the id), SUBS answers SOKS, sends the waiting messages, then ALLS,
 *     after a reconnect (the previous connection told ENDS) and a restart;
 *   - a proxy service: its id, and only PING and RFWD in its session;
 *   - refusals: a service's certificate in another role, a TLS chain other than
 *     the hello's (HANDSHAKE BAD_AUTH), a chain whose leaf is not signed by
 *     its CA (TLS refused), a command of another role (CMD PROHIBITED),
 *     NSUBS from an ordinary client or for another id, a service signature in
 *     an ordinary session (SERVICE). */
#include "services_env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "crypto/hash.h"
#include "crypto/util.h"
#include "crypto/x509.h"
#include "smp/transmission.h"
#include "smp_client/smp_client.h"
#include "smp_router/server.h"
#include "smp_router/storelog.h"
#include "transport/net.h"

static void test_service_id(void **state)
{
    (void)state;
    env e;
    env_init(&e);
    chain_files a, b;
    make_chain(&e, "a", false, &a);
    make_chain(&e, "b", false, &b);
    sx_key *ka = gen(SX_KEY_ED25519), *kb = gen(SX_KEY_ED25519);
    uint8_t id1[24], id2[24], id3[24], id4[24];
    sx_smp_client_close(svc_connect_ok(&e, &a, ka, id1));
    assert_int_equal(count_lines(e.slog, "NEW_SERVICE ", false), 1);
    /* the same certificate, even with a new service key: the same id */
    sx_key *ka2 = gen(SX_KEY_ED25519);
    sx_smp_client_close(svc_connect_ok(&e, &a, ka2, id2));
    assert_memory_equal(id1, id2, 24);
    sx_smp_client_close(svc_connect_ok(&e, &b, kb, id3));
    assert_memory_not_equal(id1, id3, 24);
    /* an ordinary client beside them */
    sx_smp_client *pl = plain_connect(&e);
    assert_false(sx_smp_client_session(pl)->has_service);
    tq q;
    tq_create(pl, &q);
    sx_smp_client_close(pl);
    env_restart(&e);
    assert_int_equal(count_lines(e.slog, "NEW_SERVICE ", false), 2);
    sx_smp_client_close(svc_connect_ok(&e, &a, ka, id4));
    assert_memory_equal(id1, id4, 24);
    sx_smp_client_close(svc_connect_ok(&e, &b, kb, id4));
    assert_memory_equal(id3, id4, 24);
    /* a single self-signed certificate (PROTOCOL-NOTES B6: 1..4) */
    chain_files one;
    make_single(&e, "one", &one);
    uint8_t id5[24], id6[24];
    sx_smp_client_close(svc_connect_ok(&e, &one, kb, id5));
    sx_smp_client_close(svc_connect_ok(&e, &one, ka, id6));
    assert_memory_equal(id5, id6, 24);
    assert_memory_not_equal(id5, id1, 24);
    env_restart(&e); /* compacted: three services */
    assert_int_equal(count_lines(e.slog, "NEW_SERVICE ", false), 3);
    sx_smp_client_close(svc_connect_ok(&e, &one, kb, id6));
    assert_memory_equal(id5, id6, 24);
    sx_smp_client_close(svc_connect_ok(&e, &a, ka, id4));
    assert_memory_equal(id1, id4, 24);
    tq_free(&q);
    sx_key_free(ka);
    sx_key_free(ka2);
    sx_key_free(kb);
    env_done(&e);
}

static void test_nsub_nsubs(void **state)
{
    (void)state;
    env e;
    env_init(&e);
    chain_files a;
    make_chain(&e, "a", false, &a);
    sx_key *ka = gen(SX_KEY_ED25519);
    sx_smp_client *pl = plain_connect(&e);
    tq q1, q2, q3;
    tq_create(pl, &q1);
    tq_create(pl, &q2);
    tq_create(pl, &q3);
    uint8_t id[24], id2[24];
    sx_smp_client *sv = svc_connect_ok(&e, &a, ka, id);
    tq *none[1] = {NULL};
    nsubs_expect(sv, id, ka, none, 0);
    nsub(sv, &q1, true, id);
    nsub(sv, &q2, true, id);
    nsub(sv, &q2, true, id); /* again: no new association */
    tq *both[2] = {&q1, &q2};
    nsubs_expect(sv, id, ka, both, 2);
    nsubs_expect(sv, id, ka, both, 2); /* repeated: the same */
    send_msg(&e, &q1);
    expect_nmsg(sv, &q1);

    /* a second connection of the service takes both queues: the first is
     * told once, with ENDS, and not END per queue (PROTOCOL-NOTES D27) */
    sx_smp_client *sv2 = svc_connect_ok(&e, &a, ka, id2);
    nsubs_expect(sv2, id, ka, both, 2);
    sx_smp_client_reply ev;
    assert_ok(sx_smp_client_next_event(sv, WAIT_MS, &ev));
    assert_true(ev.ok);
    assert_int_equal(ev.reply.resp.tag, SX_SMP_R_ENDS);
    assert_int_equal(ev.reply.resp.subs.count, 2);
    uint8_t want[16];
    ids_hash(both, 2, want);
    assert_memory_equal(ev.reply.resp.subs.ids_hash.ptr, want, 16);
    assert_memory_equal(ev.reply.t.entity_id.ptr, id, 24);
    sx_smp_client_reply_free(&ev);
    send_msg(&e, &q2);
    expect_nmsg(sv2, &q2);
    assert_int_equal(sx_smp_client_next_event(sv, 300, &ev), SX_E_WOULD_BLOCK);
    sx_smp_client_close(sv2);
    sx_smp_client_close(sv);

    /* after a reconnect and a restart: one NSUBS for both */
    env_restart(&e);
    /* compacted: the associations are in the queues' records */
    assert_int_equal(count_lines(e.slog, "CREATE ", false), 3);
    assert_int_equal(count_lines(e.slog, " nsrv=", true), 2);
    sv = svc_connect_ok(&e, &a, ka, id2);
    assert_memory_equal(id, id2, 24);
    nsubs_expect(sv, id, ka, both, 2);
    send_msg(&e, &q2);
    expect_nmsg(sv, &q2);

    /* an ordinary client takes q1 back */
    sx_smp_client_close(pl);
    pl = plain_connect(&e);
    nsub(pl, &q1, false, NULL);
    /* the service's connection is told END, and q1 leaves its count */
    expect_event(sv, SX_SMP_R_END, q1.nid);
    tq *only2[1] = {&q2};
    nsubs_expect(sv, id, ka, only2, 1);
    send_msg(&e, &q1);
    expect_nmsg(pl, &q1);
    /* q3 was never associated: the ordinary NSUB is as before */
    nsub(pl, &q3, false, NULL);
    sx_smp_client_close(sv);
    sx_smp_client_close(pl);
    env_restart(&e);
    sv = svc_connect_ok(&e, &a, ka, id2);
    nsubs_expect(sv, id, ka, only2, 1);

    /* the association goes with the notifier (NDEL) and with the queue (DEL) */
    nsub(sv, &q3, true, id);
    tq *two3[2] = {&q2, &q3};
    nsubs_expect(sv, id, ka, two3, 2);
    pl = plain_connect(&e);
    sx_smp_cmd nd = {.tag = SX_SMP_C_NDEL};
    assert_int_equal(call(pl, sx_slice_of(q3.rid, 24), &nd, q3.rkey, NULL, NULL), SX_SMP_R_OK);
    expect_event(sv, SX_SMP_R_DELD, q3.nid);
    nsubs_expect(sv, id, ka, only2, 1);
    sx_smp_cmd del = {.tag = SX_SMP_C_DEL};
    assert_int_equal(call(pl, sx_slice_of(q2.rid, 24), &del, q2.rkey, NULL, NULL), SX_SMP_R_OK);
    expect_event(sv, SX_SMP_R_DELD, q2.nid);
    nsubs_expect(sv, id, ka, none, 0);
    sx_smp_client_close(sv);
    sx_smp_client_close(pl);
    env_restart(&e);
    assert_int_equal(count_lines(e.slog, " nsrv=", true), 0);
    sv = svc_connect_ok(&e, &a, ka, id2);
    nsubs_expect(sv, id, ka, none, 0);
    sx_smp_client_close(sv);
    tq_free(&q1);
    tq_free(&q2);
    tq_free(&q3);
    sx_key_free(ka);
    env_done(&e);
}

/* The client handshake over a TLS connection made with tls_chain, presenting
 * the service of hello_chain (its own leaf signs the key). */
static sx_status mismatched_hello(env *e, const chain_files *tls_chain, const chain_files *hello_chain,
                                  sx_transport_error *te)
{
    sx_tls_credentials ct = {.cert_file = tls_chain->crt, .ca_file = tls_chain->ca, .key_file = tls_chain->key};
    sx_tls_credentials ch = {.cert_file = hello_chain->crt, .ca_file = hello_chain->ca, .key_file = hello_chain->key};
    static const char *const alpn[] = {"smp/1", NULL};
    sx_tls_client_config c1 = {.alpn = alpn, .creds = &ct}, c2 = {.alpn = alpn, .creds = &ch};
    sx_tls_ctx *ctx, *hctx;
    assert_ok(sx_tls_client_ctx_new(&c1, &ctx));
    assert_ok(sx_tls_client_ctx_new(&c2, &hctx));
    int fd = -1;
    assert_ok(sx_net_connect("127.0.0.1", sx_router_port(e->r, 0), WAIT_MS, &fd));
    sx_tls_conn *tls;
    assert_ok(sx_tls_conn_new_client(ctx, fd, e->fp, &tls));
    assert_ok(sx_tls_handshake_blocking(tls, WAIT_MS));
    sx_key *leaf, *svc_key = gen(SX_KEY_ED25519);
    assert_ok(sx_tls_ctx_private_key(hctx, &leaf));
    sx_smp_client_service svc = {.role = SX_SMP_SERVICE_NOTIFIER, .leaf_key = leaf, .service_key = svc_key};
    svc.chain_len = sx_tls_ctx_chain_len(hctx);
    for (size_t i = 0; i < svc.chain_len; i++)
        svc.chain[i] = sx_tls_ctx_cert(hctx, i);
    sx_smp_client_config cfg = {.range = sx_smp_server_vrange(), .service = &svc};
    memcpy(cfg.key_hash, e->fp, SX_FINGERPRINT_LEN);
    sx_smp_session s;
    sx_status st = sx_smp_handshake_client_blocking_ex(tls, &cfg, WAIT_MS, &s, te);
    if (st == SX_OK)
        sx_smp_session_cleanup(&s);
    sx_key_free(leaf);
    sx_key_free(svc_key);
    sx_tls_conn_free(tls);
    sx_net_close(fd);
    sx_tls_ctx_free(ctx);
    sx_tls_ctx_free(hctx);
    return st;
}

/* A transmission sent as it is, for what our client would not send. */
static sx_smp_resp_tag raw_call(sx_smp_client *cl, const sx_smp_transmission *t, sx_smp_error *err)
{
    uint8_t buf[SX_BLOCK_SIZE];
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    uint16_t v = sx_smp_client_session(cl)->version;
    assert_true(sx_smp_transmission_write(&w, v, t));
    sx_batch b;
    assert_ok(sx_batch_init(&b, sx_smp_session_batch_capacity(sx_smp_client_session(cl))));
    assert_ok(sx_batch_add(&b, sx_writer_slice(&w)));
    sx_slice content;
    assert_ok(sx_batch_content(&b, &content));
    assert_ok(sx_smp_client_send_raw(cl, content));
    sx_smp_client_reply ev;
    assert_ok(sx_smp_client_next_event(cl, WAIT_MS, &ev));
    assert_true(ev.ok);
    sx_smp_resp_tag tag = ev.reply.resp.tag;
    if (tag == SX_SMP_R_ERR)
        *err = ev.reply.resp.err;
    sx_smp_client_reply_free(&ev);
    return tag;
}

/* A proxy service (PROTOCOL-NOTES D8a): registered as the other roles (a
 * ServiceId, the same after a reconnect and a restart, NEW_SERVICE with
 * role P); in its session only PING and RFWD pass the role check, every
 * other command is CMD PROHIBITED. */
static void test_proxy_service(void **state)
{
    (void)state;
    env e;
    env_init(&e);
    chain_files pc;
    make_chain(&e, "proxy", false, &pc);
    sx_key *k = gen(SX_KEY_ED25519);
    uint8_t id1[24], id2[24];
    sx_smp_client *px = svc_connect_role(&e, &pc, SX_SMP_SERVICE_PROXY, k, id1);
    sx_smp_client_close(px);
    px = svc_connect_role(&e, &pc, SX_SMP_SERVICE_PROXY, k, id2);
    assert_memory_equal(id1, id2, 24);
    assert_int_equal(count_lines(e.slog, "NEW_SERVICE", false), 1);
    assert_int_equal(count_lines(e.slog, " role=P ", true), 1);

    sx_smp_error err = {0};
    sx_smp_cmd ping = {.tag = SX_SMP_C_PING};
    assert_int_equal(call(px, sx_slice_of(NULL, 0), &ping, NULL, NULL, &err), SX_SMP_R_PONG);
    /* RFWD passes the role check: an envelope that does not open is CRYPTO */
    sx_smp_cmd rfwd = {.tag = SX_SMP_C_RFWD};
    rfwd.enc = sx_slice_str("not a box, but long enough to be tried as one");
    assert_int_equal(call(px, sx_slice_of(NULL, 0), &rfwd, NULL, NULL, &err), SX_SMP_R_ERR);
    assert_int_equal(err.type, SX_SMP_ERR_CRYPTO);
    /* the commands of other roles */
    sx_smp_client *pl = plain_connect(&e);
    tq q;
    tq_create(pl, &q);
    uint8_t b1[SX_KEY_SPKI_MAX], b2[SX_KEY_SPKI_MAX];
    sx_smp_cmd nw = {.tag = SX_SMP_C_NEW};
    nw.new_queue.rcv_auth_key = pub_of(q.rkey, b1);
    nw.new_queue.rcv_dh_key = pub_of(q.rdh, b2);
    nw.new_queue.subscribe = true;
    sx_smp_cmd send = {.tag = SX_SMP_C_SEND};
    send.send.body = sx_slice_str("x");
    sx_smp_cmd sub = {.tag = SX_SMP_C_SUB};
    sx_smp_cmd nsub_c = {.tag = SX_SMP_C_NSUB};
    sx_smp_cmd prxy = {.tag = SX_SMP_C_PRXY};
    static const uint8_t host[] = "\x09"
                                  "127.0.0.1";
    prxy.prxy.server.hosts = (sx_smp_list){.count = 1, .items = sx_slice_of(host, sizeof host - 1)};
    prxy.prxy.server.port = sx_slice_str("5223");
    prxy.prxy.server.key_hash = sx_slice_of(e.fp, SX_FINGERPRINT_LEN);
    struct {
        const sx_smp_cmd *c;
        sx_slice entity;
        const sx_key *k;
    } prohibited[] = {
        {&nw, sx_slice_of(NULL, 0), q.rkey},
        {&send, sx_slice_of(q.sid, 24), NULL},
        {&sub, sx_slice_of(q.rid, 24), q.rkey},
        {&nsub_c, sx_slice_of(q.nid, 24), q.nkey},
        {&prxy, sx_slice_of(NULL, 0), NULL},
    };
    for (size_t i = 0; i < sizeof prohibited / sizeof prohibited[0]; i++) {
        err = (sx_smp_error){0};
        assert_int_equal(call(px, prohibited[i].entity, prohibited[i].c, prohibited[i].k, NULL, &err), SX_SMP_R_ERR);
        assert_int_equal(err.type, SX_SMP_ERR_CMD);
        assert_int_equal(err.cmd, SX_SMP_CMD_PROHIBITED);
    }
    sx_smp_client_close(px);
    /* the same id after a restart (NEW_SERVICE replayed) */
    env_restart(&e);
    uint8_t id3[24];
    px = svc_connect_role(&e, &pc, SX_SMP_SERVICE_PROXY, k, id3);
    assert_memory_equal(id1, id3, 24);
    sx_smp_client_close(px);
    sx_smp_client_close(pl);
    tq_free(&q);
    sx_key_free(k);
    env_done(&e);
}

static void test_refusals(void **state)
{
    (void)state;
    env e;
    env_init(&e);
    chain_files a, b, bad;
    make_chain(&e, "a", false, &a);
    make_chain(&e, "b", false, &b);
    make_chain(&e, "bad", true, &bad);
    sx_key *ka = gen(SX_KEY_ED25519);
    sx_smp_client *cl = NULL;
    sx_transport_error te = SX_TE_NONE;

    /* a certificate registered as one role cannot come back as another
     * (the reference's SERVICE, at the handshake BAD_SERVICE) */
    chain_files pc;
    make_chain(&e, "p", false, &pc);
    uint8_t pid[24];
    sx_smp_client *px = svc_connect_role(&e, &pc, SX_SMP_SERVICE_PROXY, ka, pid);
    sx_smp_client_close(px);
    assert_int_equal(svc_connect(&e, &pc, SX_SMP_SERVICE_NOTIFIER, ka, &cl, &te), SX_E_AUTH);
    assert_int_equal(te, SX_TE_HANDSHAKE_BAD_SERVICE);
    assert_null(cl);
    /* the TLS chain is not the hello's */
    assert_int_equal(mismatched_hello(&e, &a, &b, &te), SX_E_AUTH);
    assert_int_equal(te, SX_TE_HANDSHAKE_BAD_AUTH);
    /* a leaf its CA did not sign: TLS refuses it */
    assert_int_not_equal(svc_connect(&e, &bad, SX_SMP_SERVICE_NOTIFIER, ka, &cl, &te), SX_OK);
    assert_null(cl);

    /* the router goes on serving both kinds of client */
    uint8_t id[24];
    sx_smp_client *sv = svc_connect_ok(&e, &a, ka, id);
    sx_smp_client *pl = plain_connect(&e);
    tq q;
    tq_create(pl, &q);
    sx_smp_error err = {0};

    /* PROTOCOL-NOTES C11: a notifier service creating a queue */
    uint8_t b1[SX_KEY_SPKI_MAX], b2[SX_KEY_SPKI_MAX];
    sx_smp_cmd nw = {.tag = SX_SMP_C_NEW};
    nw.new_queue.rcv_auth_key = pub_of(q.rkey, b1);
    nw.new_queue.rcv_dh_key = pub_of(q.rdh, b2);
    nw.new_queue.subscribe = true;
    assert_int_equal(call(sv, sx_slice_of(NULL, 0), &nw, q.rkey, NULL, &err), SX_SMP_R_ERR);
    assert_int_equal(err.type, SX_SMP_ERR_CMD);
    assert_int_equal(err.cmd, SX_SMP_CMD_PROHIBITED);

    /* PROTOCOL-NOTES C10: NSUBS from an ordinary client, for another id, with another key */
    sx_smp_cmd ns = {.tag = SX_SMP_C_NSUBS};
    ns.subs.ids_hash = sx_slice_of(zero_hash, 16);
    assert_int_equal(call(pl, sx_slice_of(id, 24), &ns, ka, NULL, &err), SX_SMP_R_ERR);
    assert_int_equal(err.type, SX_SMP_ERR_SERVICE);
    uint8_t other[24];
    memcpy(other, id, 24);
    other[0] ^= 1;
    assert_int_equal(call(sv, sx_slice_of(other, 24), &ns, ka, NULL, &err), SX_SMP_R_ERR);
    assert_int_equal(err.type, SX_SMP_ERR_SERVICE);
    sx_key *kx = gen(SX_KEY_ED25519);
    assert_int_equal(call(sv, sx_slice_of(id, 24), &ns, kx, NULL, &err), SX_SMP_R_ERR);
    assert_int_equal(err.type, SX_SMP_ERR_SERVICE);

    /* PROTOCOL-NOTES C9: a service signature in an ordinary session, and none on NSUB in
     * the service session */
    static uint8_t sig[64], auth[64], corr[24];
    sx_smp_transmission t = {0};
    t.auth = sx_slice_of(auth, 64);
    t.has_service_sig = true;
    t.service_sig = sx_slice_of(sig, 64);
    t.corr_id = sx_slice_of(corr, 24);
    t.entity_id = sx_slice_of(q.nid, 24);
    t.command = sx_slice_str("NSUB");
    t.session_id = sx_smp_session_id(sx_smp_client_session(pl));
    assert_int_equal(raw_call(pl, &t, &err), SX_SMP_R_ERR);
    assert_int_equal(err.type, SX_SMP_ERR_SERVICE);
    t.has_service_sig = false;
    t.session_id = sx_smp_session_id(sx_smp_client_session(sv));
    assert_int_equal(raw_call(sv, &t, &err), SX_SMP_R_ERR);
    assert_int_equal(err.type, SX_SMP_ERR_SERVICE);
    /* a forged service signature */
    t.has_service_sig = true;
    assert_int_equal(raw_call(sv, &t, &err), SX_SMP_R_ERR);
    assert_int_equal(err.type, SX_SMP_ERR_SERVICE);

    /* and with both signatures right: associated */
    nsub(sv, &q, true, id);
    sx_key_free(kx);
    tq_free(&q);
    sx_key_free(ka);
    sx_smp_client_close(sv);
    sx_smp_client_close(pl);
    env_done(&e);
}

/* Many queues (SX_SERVICES_QUEUES, default 10000): created with notifiers,
 * associated with the service in batches of NSUB, then after a router
 * restart resubscribed with one NSUBS whose count and hash cover them all;
 * a notification then reaches the service. */
#define CHUNK 100

static void create_many(sx_smp_client *cl, tq *qs, size_t n)
{
    sx_smp_client_cmd *cmds = calloc(CHUNK, sizeof *cmds);
    sx_smp_cmd *cs = calloc(CHUNK, sizeof *cs);
    sx_smp_client_reply *rs = calloc(CHUNK, sizeof *rs);
    uint8_t(*bufs)[4][SX_KEY_SPKI_MAX] = calloc(CHUNK, sizeof *bufs);
    assert_true(cmds && cs && rs && bufs);
    for (size_t i = 0; i < n; i += CHUNK) {
        size_t k = n - i < CHUNK ? n - i : CHUNK;
        for (size_t j = 0; j < k; j++) {
            tq *q = &qs[i + j];
            q->rkey = gen(SX_KEY_ED25519);
            q->rdh = gen(SX_KEY_X25519);
            q->nkey = gen(SX_KEY_ED25519);
            q->ndh = gen(SX_KEY_X25519);
            sx_smp_cmd *c = &cs[j];
            memset(c, 0, sizeof *c);
            c->tag = SX_SMP_C_NEW;
            c->new_queue.rcv_auth_key = pub_of(q->rkey, bufs[j][0]);
            c->new_queue.rcv_dh_key = pub_of(q->rdh, bufs[j][1]);
            c->new_queue.subscribe = true;
            c->new_queue.has_queue_req = true;
            c->new_queue.queue_req.mode = SX_SMP_QUEUE_MESSAGING;
            c->new_queue.has_ntf_creds = true;
            c->new_queue.ntf_auth_key = pub_of(q->nkey, bufs[j][2]);
            c->new_queue.ntf_dh_key = pub_of(q->ndh, bufs[j][3]);
            cmds[j] = (sx_smp_client_cmd){.entity = sx_slice_of(NULL, 0), .cmd = c, .auth_key = q->rkey};
        }
        assert_ok(sx_smp_client_call_many(cl, cmds, k, rs));
        for (size_t j = 0; j < k; j++) {
            assert_true(rs[j].ok);
            assert_int_equal(rs[j].reply.resp.tag, SX_SMP_R_IDS);
            const sx_smp_ids *ids = &rs[j].reply.resp.ids;
            memcpy(qs[i + j].rid, ids->rcv_id.ptr, 24);
            memcpy(qs[i + j].sid, ids->snd_id.ptr, 24);
            memcpy(qs[i + j].nid, ids->ntf_id.ptr, 24);
            sx_smp_client_reply_free(&rs[j]);
        }
    }
    free(cmds);
    free(cs);
    free(rs);
    free(bufs);
}

static void nsub_many(sx_smp_client *cl, tq *qs, size_t n, const uint8_t id[24])
{
    sx_smp_client_cmd cmds[CHUNK];
    sx_smp_client_reply rs[CHUNK];
    sx_smp_cmd c = {.tag = SX_SMP_C_NSUB};
    for (size_t i = 0; i < n; i += CHUNK) {
        size_t k = n - i < CHUNK ? n - i : CHUNK;
        for (size_t j = 0; j < k; j++)
            cmds[j] = (sx_smp_client_cmd){.entity = sx_slice_of(qs[i + j].nid, 24), .cmd = &c, .auth_key = qs[i + j].nkey};
        assert_ok(sx_smp_client_call_many(cl, cmds, k, rs));
        for (size_t j = 0; j < k; j++) {
            assert_true(rs[j].ok);
            assert_int_equal(rs[j].reply.resp.tag, SX_SMP_R_SOK);
            assert_true(rs[j].reply.resp.sok.has_service_id);
            assert_memory_equal(rs[j].reply.resp.sok.service_id.ptr, id, 24);
            sx_smp_client_reply_free(&rs[j]);
        }
    }
}

static void test_many_queues(void **state)
{
    (void)state;
    size_t n = 10000;
    const char *env_n = getenv("SX_SERVICES_QUEUES");
    if (env_n && atoi(env_n) > 0)
        n = (size_t)atoi(env_n);
    env e;
    env_init(&e);
    chain_files a;
    make_chain(&e, "a", false, &a);
    sx_key *ka = gen(SX_KEY_ED25519);
    tq *qs = calloc(n, sizeof *qs);
    tq **ps = calloc(n, sizeof *ps);
    assert_true(qs && ps);
    for (size_t i = 0; i < n; i++)
        ps[i] = &qs[i];
    sx_smp_client *pl = plain_connect(&e);
    create_many(pl, qs, n);
    sx_smp_client_close(pl);
    uint8_t id[24], id2[24];
    sx_smp_client *sv = svc_connect_ok(&e, &a, ka, id);
    nsub_many(sv, qs, n, id);
    sx_smp_client_close(sv);
    env_restart(&e);
    assert_int_equal(count_lines(e.slog, " nsrv=", true), n);
    sv = svc_connect_ok(&e, &a, ka, id2);
    assert_memory_equal(id, id2, 24);
    nsubs_expect(sv, id, ka, ps, n);
    send_msg(&e, &qs[n / 2]);
    expect_nmsg(sv, &qs[n / 2]);
    sx_smp_client_close(sv);
    for (size_t i = 0; i < n; i++)
        tq_free(&qs[i]);
    free(qs);
    free(ps);
    sx_key_free(ka);
    env_done(&e);
}

static void test_messaging_service(void **state)
{
    (void)state;
    env e;
    env_init(&e);
    chain_files m;
    make_chain(&e, "m", false, &m);
    sx_key *km = gen(SX_KEY_ED25519);
    uint8_t id[24], id2[24];
    sx_smp_client *sv = svc_connect_role(&e, &m, SX_SMP_SERVICE_MESSAGING, km, id);
    sx_smp_error err = {0};

    /* NEW as the service: only with subscription, then associated */
    tq qa = {0};
    qa.rkey = gen(SX_KEY_ED25519);
    qa.rdh = gen(SX_KEY_X25519);
    uint8_t b1[SX_KEY_SPKI_MAX], b2[SX_KEY_SPKI_MAX];
    sx_smp_cmd nw = {.tag = SX_SMP_C_NEW};
    nw.new_queue.rcv_auth_key = pub_of(qa.rkey, b1);
    nw.new_queue.rcv_dh_key = pub_of(qa.rdh, b2);
    nw.new_queue.has_queue_req = true;
    nw.new_queue.queue_req.mode = SX_SMP_QUEUE_MESSAGING;
    assert_int_equal(call(sv, sx_slice_of(NULL, 0), &nw, qa.rkey, NULL, &err), SX_SMP_R_ERR);
    assert_int_equal(err.type, SX_SMP_ERR_CMD);
    assert_int_equal(err.cmd, SX_SMP_CMD_PROHIBITED);
    nw.new_queue.subscribe = true;
    sx_smp_client_reply r;
    assert_int_equal(call(sv, sx_slice_of(NULL, 0), &nw, qa.rkey, &r, NULL), SX_SMP_R_IDS);
    assert_true(r.reply.resp.ids.has_service_id);
    assert_memory_equal(r.reply.resp.ids.service_id.ptr, id, 24);
    memcpy(qa.rid, r.reply.resp.ids.rcv_id.ptr, 24);
    memcpy(qa.sid, r.reply.resp.ids.snd_id.ptr, 24);
    sx_smp_client_reply_free(&r);

    /* SUB as the service of a queue an ordinary client made */
    sx_smp_client *pl = plain_connect(&e);
    tq qb;
    tq_create(pl, &qb);
    sx_smp_client_close(pl);
    sx_smp_cmd sub = {.tag = SX_SMP_C_SUB};
    assert_int_equal(call(sv, sx_slice_of(qb.rid, 24), &sub, qb.rkey, &r, NULL), SX_SMP_R_SOK);
    assert_true(r.reply.resp.sok.has_service_id);
    assert_memory_equal(r.reply.resp.sok.service_id.ptr, id, 24);
    sx_smp_client_reply_free(&r);
    /* a messaging service may not subscribe to notifications (PROTOCOL-NOTES C11) */
    sx_smp_cmd ns = {.tag = SX_SMP_C_NSUB};
    assert_int_equal(call(sv, sx_slice_of(qb.nid, 24), &ns, qb.nkey, NULL, &err), SX_SMP_R_ERR);
    assert_int_equal(err.cmd, SX_SMP_CMD_PROHIBITED);

    send_msg(&e, &qa);
    expect_msg(sv, &qa);
    send_msg(&e, &qb);
    expect_msg(sv, &qb);

    /* another connection of the service: SUBS takes both, with their
     * unacknowledged messages, then ALLS; the first is told ENDS */
    tq *both[2] = {&qa, &qb};
    sx_smp_client *sv2 = svc_connect_role(&e, &m, SX_SMP_SERVICE_MESSAGING, km, id2);
    assert_memory_equal(id, id2, 24);
    subs_expect(sv2, id, km, both, 2, both, 2);
    /* repeated on the session: the counts only, no messages or ALLS again */
    sx_smp_cmd again = {.tag = SX_SMP_C_SUBS};
    again.subs.ids_hash = sx_slice_of(zero_hash, 16);
    assert_int_equal(call(sv2, sx_slice_of(id, 24), &again, km, &r, NULL), SX_SMP_R_SOKS);
    assert_int_equal(r.reply.resp.subs.count, 2);
    sx_smp_client_reply_free(&r);
    sx_smp_client_reply ev;
    assert_ok(sx_smp_client_next_event(sv, WAIT_MS, &ev));
    assert_true(ev.ok);
    assert_int_equal(ev.reply.resp.tag, SX_SMP_R_ENDS);
    assert_int_equal(ev.reply.resp.subs.count, 2);
    uint8_t h[16];
    rid_hash(both, 2, h);
    assert_memory_equal(ev.reply.resp.subs.ids_hash.ptr, h, 16);
    sx_smp_client_reply_free(&ev);
    assert_int_equal(sx_smp_client_next_event(sv2, 300, &ev), SX_E_WOULD_BLOCK);
    sx_smp_client_close(sv);
    sx_smp_client_close(sv2);

    /* after a restart */
    env_restart(&e);
    assert_int_equal(count_lines(e.slog, " rsrv=", true), 2);
    sv = svc_connect_role(&e, &m, SX_SMP_SERVICE_MESSAGING, km, id2);
    assert_memory_equal(id, id2, 24);
    /* (the messages were not saved: this router keeps them in memory only) */
    subs_expect(sv, id, km, both, 2, NULL, 0);
    send_msg(&e, &qb);
    ack_next(sv, &qb);
    sx_smp_client_close(sv);

    /* an ordinary client takes qb back */
    pl = plain_connect(&e);
    assert_int_equal(call(pl, sx_slice_of(qb.rid, 24), &sub, qb.rkey, &r, NULL), SX_SMP_R_SOK);
    assert_false(r.reply.resp.sok.has_service_id);
    sx_smp_client_reply_free(&r);
    send_msg(&e, &qb);
    expect_msg(pl, &qb);
    send_msg(&e, &qa);
    sv = svc_connect_role(&e, &m, SX_SMP_SERVICE_MESSAGING, km, id2);
    tq *only_a[1] = {&qa};
    subs_expect(sv, id, km, only_a, 1, only_a, 1);
    sx_smp_client_close(sv);
    sx_smp_client_close(pl);
    tq_free(&qa);
    tq_free(&qb);
    sx_key_free(km);
    env_done(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_service_id),
        cmocka_unit_test(test_nsub_nsubs),
        cmocka_unit_test(test_messaging_service),
        cmocka_unit_test(test_proxy_service),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_many_queues),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
