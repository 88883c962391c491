/* One connection per service, as the reference's router keeps it
 * (PROTOCOL-NOTES C11, D27, D29c), on an in-process router with clients over
 * loopback TLS:
 *   - a single SUB as the service from a second connection of the same
 *     service takes the whole service: the first connection is told ENDS
 *     with its own counts (no END per queue), the second receives the
 *     messages of queues it never subscribed; a third connection's NEW takes
 *     it again; the association statistics count only the SUBs;
 *   - the same for a notifier service with one NSUB;
 *   - a repeated SUBS / NSUBS answers the session's counts: zero on a
 *     connection that was told ENDS (and the service stays where it is),
 *     following NEW, END and DEL on the connection that holds it;
 *   - a command of another role for a queue that does not exist is AUTH,
 *     for one that exists CMD PROHIBITED. */
#include "services_env.h"

#include <stdio.h>
#include <string.h>

#include "crypto/hash.h"

/* A queue made by a service connection with NEW (associated at once). */
static void tq_new_as_service(sx_smp_client *sv, const uint8_t id[24], tq *q)
{
    memset(q, 0, sizeof *q);
    q->rkey = gen(SX_KEY_ED25519);
    q->rdh = gen(SX_KEY_X25519);
    uint8_t b1[SX_KEY_SPKI_MAX], b2[SX_KEY_SPKI_MAX];
    sx_smp_cmd nw = {.tag = SX_SMP_C_NEW};
    nw.new_queue.rcv_auth_key = pub_of(q->rkey, b1);
    nw.new_queue.rcv_dh_key = pub_of(q->rdh, b2);
    nw.new_queue.has_queue_req = true;
    nw.new_queue.queue_req.mode = SX_SMP_QUEUE_MESSAGING;
    nw.new_queue.subscribe = true;
    sx_smp_client_reply r;
    assert_int_equal(call(sv, sx_slice_of(NULL, 0), &nw, q->rkey, &r, NULL), SX_SMP_R_IDS);
    assert_true(r.reply.resp.ids.has_service_id);
    assert_memory_equal(r.reply.resp.ids.service_id.ptr, id, 24);
    memcpy(q->rid, r.reply.resp.ids.rcv_id.ptr, 24);
    memcpy(q->sid, r.reply.resp.ids.snd_id.ptr, 24);
    sx_smp_client_reply_free(&r);
}

/* SUB as the service: SOK with the service's id. */
static void sub_as_service(sx_smp_client *sv, const tq *q, const uint8_t id[24])
{
    sx_smp_cmd sub = {.tag = SX_SMP_C_SUB};
    sx_smp_client_reply r;
    assert_int_equal(call(sv, sx_slice_of(q->rid, 24), &sub, q->rkey, &r, NULL), SX_SMP_R_SOK);
    assert_true(r.reply.resp.sok.has_service_id);
    assert_memory_equal(r.reply.resp.sok.service_id.ptr, id, 24);
    sx_smp_client_reply_free(&r);
}

/* The next event is ENDS for the service with count n and hash h. */
static void expect_ends(sx_smp_client *cl, const uint8_t id[24], int64_t n, const uint8_t h[16])
{
    sx_smp_client_reply ev;
    assert_ok(sx_smp_client_next_event(cl, WAIT_MS, &ev));
    assert_true(ev.ok);
    assert_int_equal(ev.reply.resp.tag, SX_SMP_R_ENDS);
    assert_int_equal(ev.reply.resp.subs.count, n);
    assert_int_equal(ev.reply.resp.subs.ids_hash.len, 16);
    assert_memory_equal(ev.reply.resp.subs.ids_hash.ptr, h, 16);
    assert_memory_equal(ev.reply.t.entity_id.ptr, id, 24);
    sx_smp_client_reply_free(&ev);
}

static void expect_quiet(sx_smp_client *cl)
{
    sx_smp_client_reply ev;
    assert_int_equal(sx_smp_client_next_event(cl, 300, &ev), SX_E_WOULD_BLOCK);
}

/* SUBS / NSUBS (tag) whose answer is SOKS n with hash h; no messages are
 * expected (the caller reads what follows). */
static void subs_answer(sx_smp_client *cl, sx_smp_cmd_tag tag, const uint8_t id[24], const sx_key *k, int64_t n,
                        const uint8_t h[16])
{
    sx_smp_cmd c = {.tag = tag};
    c.subs.count = n;
    c.subs.ids_hash = sx_slice_of(zero_hash, 16);
    sx_smp_client_reply r;
    assert_int_equal(call(cl, sx_slice_of(id, 24), &c, k, &r, NULL), SX_SMP_R_SOKS);
    assert_int_equal(r.reply.resp.subs.count, n);
    assert_int_equal(r.reply.resp.subs.ids_hash.len, 16);
    assert_memory_equal(r.reply.resp.subs.ids_hash.ptr, h, 16);
    sx_smp_client_reply_free(&r);
}

/* The messaging service's association counters reach want[] (new,
 * duplicate, updated, removed, sub_count, sub_queues) and no more. */
static void rcv_assoc(const env *e, const long long want[6])
{
    static const char *const names[] = {"assoc_new", "assoc_duplicate", "assoc_updated",
                                        "assoc_removed", "sub_count", "sub_queues"};
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < 6; i++) {
            char name[96];
            snprintf(name, sizeof name, "simplex_smp_rcv_services_%s", names[i]);
            long long v = pass == 0 ? metric_reach(e, name, want[i]) : metric(e, name);
            if (v != want[i])
                fail_msg("%s: %lld, expected %lld", name, v, want[i]);
        }
}

static void test_sub_takes_service(void **state)
{
    (void)state;
    env e;
    env_init(&e);
    chain_files m;
    make_chain(&e, "m", false, &m);
    sx_key *km = gen(SX_KEY_ED25519);
    sx_smp_client *pl = plain_connect(&e);
    tq q1, q2, q3;
    tq_create(pl, &q1);
    tq_create(pl, &q2);
    tq_create(pl, &q3);
    sx_smp_client_close(pl);

    uint8_t id[24], id2[24], id3[24];
    sx_smp_client *sv1 = svc_connect_role(&e, &m, SX_SMP_SERVICE_MESSAGING, km, id);
    sub_as_service(sv1, &q1, id);
    sub_as_service(sv1, &q2, id);
    sub_as_service(sv1, &q3, id);
    /* three new associations, one session subscription of three queues */
    rcv_assoc(&e, (const long long[6]){3, 0, 0, 0, 1, 3});

    /* one SUB from a second connection of the service takes all three */
    sx_smp_client *sv2 = svc_connect_role(&e, &m, SX_SMP_SERVICE_MESSAGING, km, id2);
    assert_memory_equal(id, id2, 24);
    sub_as_service(sv2, &q1, id);
    tq *all[3] = {&q1, &q2, &q3};
    uint8_t h[16];
    rid_hash(all, 3, h);
    expect_ends(sv1, id, 3, h);
    expect_quiet(sv1); /* no END per queue */
    send_msg(&e, &q2);
    expect_msg(sv2, &q2); /* never subscribed on this connection */
    send_msg(&e, &q3);
    expect_msg(sv2, &q3);
    expect_quiet(sv1);
    /* the move itself counts nothing: a duplicate association, the second
     * session's subscription of one queue */
    rcv_assoc(&e, (const long long[6]){3, 1, 0, 0, 2, 4});
    assert_int_equal(metric(&e, "simplex_smp_rcv_services_sub_end"), 0);
    assert_int_equal(metric(&e, "simplex_smp_rcv_services_sub_duplicate"), 0);

    /* a third connection's NEW takes it again: the second is told its own
     * count (one queue, the one it subscribed) */
    sx_smp_client *sv3 = svc_connect_role(&e, &m, SX_SMP_SERVICE_MESSAGING, km, id3);
    tq q4;
    tq_new_as_service(sv3, id, &q4);
    tq *one[1] = {&q1};
    rid_hash(one, 1, h);
    expect_ends(sv2, id, 1, h);
    send_msg(&e, &q1);
    expect_msg(sv3, &q1);
    expect_quiet(sv2);
    rcv_assoc(&e, (const long long[6]){3, 1, 0, 0, 2, 4}); /* NEW counts none */

    /* SUBS on the third: the store's four queues; then the first connection,
     * told ENDS but without SUBS before, makes its first and takes the
     * service back with every waiting message */
    tq *four[4] = {&q1, &q2, &q3, &q4};
    rid_hash(four, 4, h);
    tq *moved[2] = {&q2, &q3}, *mine[3] = {&q1, &q2, &q3};
    /* the messages sv2 did not acknowledge come again (the connection has
     * no subscription of its own to those queues); q1's was delivered to
     * this connection already */
    subs_expect(sv3, id, km, four, 4, moved, 2);
    subs_expect(sv1, id, km, four, 4, mine, 3);
    expect_ends(sv3, id, 4, h);

    sx_smp_client_close(sv1);
    sx_smp_client_close(sv2);
    sx_smp_client_close(sv3);
    tq_free(&q1);
    tq_free(&q2);
    tq_free(&q3);
    tq_free(&q4);
    sx_key_free(km);
    env_done(&e);
}

static void test_nsub_takes_service(void **state)
{
    (void)state;
    env e;
    env_init(&e);
    chain_files a;
    make_chain(&e, "a", false, &a);
    sx_key *ka = gen(SX_KEY_ED25519);
    sx_smp_client *pl = plain_connect(&e);
    tq q1, q2;
    tq_create(pl, &q1);
    tq_create(pl, &q2);
    sx_smp_client_close(pl);
    uint8_t id[24], id2[24];
    sx_smp_client *sn1 = svc_connect_ok(&e, &a, ka, id);
    nsub(sn1, &q1, true, id);
    nsub(sn1, &q2, true, id);
    sx_smp_client *sn2 = svc_connect_ok(&e, &a, ka, id2);
    nsub(sn2, &q1, true, id);
    tq *both[2] = {&q1, &q2};
    uint8_t h[16];
    ids_hash(both, 2, h);
    expect_ends(sn1, id, 2, h);
    expect_quiet(sn1);
    send_msg(&e, &q2);
    expect_nmsg(sn2, &q2);
    expect_quiet(sn1);
    /* a service's NSUB is not among the ordinary NSUB counters (the reference) */
    assert_int_equal(metric_reach(&e, "simplex_smp_ntf_services_assoc_duplicate", 1), 1);
    assert_int_equal(metric(&e, "simplex_smp_subscription_ntf_requests"), 0);
    assert_int_equal(metric(&e, "simplex_smp_subscribtion_ntf_errors{type=\"duplicate\"}"), 0);
    sx_smp_client_close(sn1);
    sx_smp_client_close(sn2);
    tq_free(&q1);
    tq_free(&q2);
    sx_key_free(ka);
    env_done(&e);
}

static void test_repeated_subs(void **state)
{
    (void)state;
    env e;
    env_init(&e);
    chain_files m, a;
    make_chain(&e, "m", false, &m);
    make_chain(&e, "a", false, &a);
    sx_key *km = gen(SX_KEY_ED25519), *ka = gen(SX_KEY_ED25519);
    uint8_t id[24], id2[24];
    sx_smp_client *sv1 = svc_connect_role(&e, &m, SX_SMP_SERVICE_MESSAGING, km, id);
    tq q1, q2, q3;
    tq_new_as_service(sv1, id, &q1);
    tq_new_as_service(sv1, id, &q2);
    sx_smp_client_close(sv1);

    sv1 = svc_connect_role(&e, &m, SX_SMP_SERVICE_MESSAGING, km, id2);
    tq *two[2] = {&q1, &q2};
    subs_expect(sv1, id, km, two, 2, NULL, 0);
    sx_smp_client *sv2 = svc_connect_role(&e, &m, SX_SMP_SERVICE_MESSAGING, km, id2);
    subs_expect(sv2, id, km, two, 2, NULL, 0);
    uint8_t h[16];
    rid_hash(two, 2, h);
    expect_ends(sv1, id, 2, h);
    /* repeated where ENDS came: the session's counts, zero; the service
     * stays with the second connection */
    subs_answer(sv1, SX_SMP_C_SUBS, id, km, 0, zero_hash);
    expect_quiet(sv2);
    send_msg(&e, &q1);
    expect_msg(sv2, &q1);
    expect_quiet(sv1);

    /* on the second: NEW adds one, an ordinary client's SUB (END) and a DEL
     * take one each */
    tq_new_as_service(sv2, id, &q3);
    tq *three[3] = {&q1, &q2, &q3};
    rid_hash(three, 3, h);
    subs_answer(sv2, SX_SMP_C_SUBS, id, km, 3, h);
    sx_smp_client *pl = plain_connect(&e);
    sx_smp_cmd sub = {.tag = SX_SMP_C_SUB};
    assert_int_equal(call(pl, sx_slice_of(q2.rid, 24), &sub, q2.rkey, NULL, NULL), SX_SMP_R_SOK);
    expect_event(sv2, SX_SMP_R_END, q2.rid);
    tq *q13[2] = {&q1, &q3};
    rid_hash(q13, 2, h);
    subs_answer(sv2, SX_SMP_C_SUBS, id, km, 2, h);
    sx_smp_cmd del = {.tag = SX_SMP_C_DEL};
    assert_int_equal(call(sv2, sx_slice_of(q3.rid, 24), &del, q3.rkey, NULL, NULL), SX_SMP_R_OK);
    rid_hash(q13, 1, h);
    subs_answer(sv2, SX_SMP_C_SUBS, id, km, 1, h);
    sx_smp_client_close(pl);
    sx_smp_client_close(sv1);
    sx_smp_client_close(sv2);

    /* NSUBS the same: zero after ENDS */
    pl = plain_connect(&e);
    tq n1;
    tq_create(pl, &n1);
    sx_smp_client_close(pl);
    sx_smp_client *sn1 = svc_connect_ok(&e, &a, ka, id);
    nsub(sn1, &n1, true, id);
    tq *only[1] = {&n1};
    nsubs_expect(sn1, id, ka, only, 1);
    sx_smp_client *sn2 = svc_connect_ok(&e, &a, ka, id2);
    nsubs_expect(sn2, id, ka, only, 1);
    ids_hash(only, 1, h);
    expect_ends(sn1, id, 1, h);
    subs_answer(sn1, SX_SMP_C_NSUBS, id, ka, 0, zero_hash);
    send_msg(&e, &n1);
    expect_nmsg(sn2, &n1);
    expect_quiet(sn1);
    sx_smp_client_close(sn1);
    sx_smp_client_close(sn2);

    tq_free(&q1);
    tq_free(&q2);
    tq_free(&q3);
    tq_free(&n1);
    sx_key_free(km);
    sx_key_free(ka);
    env_done(&e);
}

static void expect_err(sx_smp_client *cl, const uint8_t entity[24], const sx_smp_cmd *c, const sx_key *k,
                       sx_smp_err_type type)
{
    sx_smp_error err = {0};
    assert_int_equal(call(cl, sx_slice_of(entity, 24), c, k, NULL, &err), SX_SMP_R_ERR);
    assert_int_equal(err.type, type);
    if (type == SX_SMP_ERR_CMD)
        assert_int_equal(err.cmd, SX_SMP_CMD_PROHIBITED);
}

static void test_wrong_role(void **state)
{
    (void)state;
    env e;
    env_init(&e);
    chain_files m, a;
    make_chain(&e, "m", false, &m);
    make_chain(&e, "a", false, &a);
    sx_key *km = gen(SX_KEY_ED25519), *ka = gen(SX_KEY_ED25519);
    sx_smp_client *pl = plain_connect(&e);
    tq q;
    tq_create(pl, &q);
    uint8_t none[24];
    memset(none, 0x5a, sizeof none);
    uint8_t id[24];

    /* a notifier service: SUB, SEND, GET of the messaging role */
    sx_smp_client *sn = svc_connect_ok(&e, &a, ka, id);
    sx_smp_cmd sub = {.tag = SX_SMP_C_SUB}, get = {.tag = SX_SMP_C_GET};
    sx_smp_cmd snd = {.tag = SX_SMP_C_SEND};
    static uint8_t body[16];
    snd.send.body = sx_slice_of(body, sizeof body);
    expect_err(sn, none, &sub, q.rkey, SX_SMP_ERR_AUTH);
    expect_err(sn, q.rid, &sub, q.rkey, SX_SMP_ERR_CMD);
    expect_err(sn, none, &get, q.rkey, SX_SMP_ERR_AUTH);
    expect_err(sn, q.rid, &get, q.rkey, SX_SMP_ERR_CMD);
    expect_err(sn, none, &snd, NULL, SX_SMP_ERR_AUTH);
    expect_err(sn, q.sid, &snd, NULL, SX_SMP_ERR_CMD);

    /* a messaging service: NSUB of the notifier role */
    sx_smp_client *sv = svc_connect_role(&e, &m, SX_SMP_SERVICE_MESSAGING, km, id);
    sx_smp_cmd ns = {.tag = SX_SMP_C_NSUB};
    expect_err(sv, none, &ns, q.nkey, SX_SMP_ERR_AUTH);
    expect_err(sv, q.nid, &ns, q.nkey, SX_SMP_ERR_CMD);
    /* the missing queue's SUB counted as the reference counts AUTH */
    assert_int_equal(metric_reach(&e, "simplex_smp_subscribtion_errors{type=\"auth\"}", 1), 1);

    sx_smp_client_close(sn);
    sx_smp_client_close(sv);
    sx_smp_client_close(pl);
    tq_free(&q);
    sx_key_free(km);
    sx_key_free(ka);
    env_done(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sub_takes_service),
        cmocka_unit_test(test_nsub_takes_service),
        cmocka_unit_test(test_repeated_subs),
        cmocka_unit_test(test_wrong_role),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
