/* Tests for the agent store's delivery receipts (store_rcpt.c) on a real
 * SQLite file with a real ratchet pair: a delivered A_MSG kept without its
 * body and key for its receipt, the received message's sender id and hash
 * for the receipt, the receipt's outcome on the sent message, the sent
 * messages an acknowledged ok receipt confirmed deleted (and those with a
 * bad hash kept), and a message whose ok receipt came before its last
 * delivery was done deleted at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/store.h"
#include "agent_store_util.h"
#include "crypto/hash.h"
#include "simplex/status.h"
#include "testutil.h"

/* bob sends text on queue bq (and q2 when not 0); alice receives it. */
static int64_t send_one(sx_agent_store *sb, const sx_agent_id *cb, const int64_t *qs, size_t nq,
                        sx_agent_store *sa, const sx_agent_id *ca, int64_t aq, const char *text,
                        uint8_t broker_tag, int64_t *rid)
{
    uint8_t wire[1024];
    asu_snd_ctx sc = {.text = text, .out = wire, .cap = sizeof wire};
    sx_agent_snd_ids ids;
    assert_ok(sx_agent_store_snd_msg_create(sb, cb, qs, nq, asu_snd_cb, &sc, &ids));
    asu_rcv_ctx rc = {.wire = wire, .wire_len = sc.out_len, .rcv_queue_id = aq};
    memset(rc.broker_id, broker_tag, sizeof rc.broker_id);
    assert_ok(sx_agent_store_rcv_msg_record(sa, ca, asu_rcv_cb, &rc, rid));
    return ids.internal_id;
}

static void test_receipts(void **state)
{
    (void)state;
    char *pa = asu_fresh("alice.db"), *pb = asu_fresh("bob.db");
    sx_agent_store *sa, *sb;
    assert_ok(sx_agent_store_open(pa, 0, &sa));
    assert_ok(sx_agent_store_open(pb, 0, &sb));
    int64_t ua, ub;
    sx_agent_id ca, cb;
    asu_conn(sa, SX_AGENT_CONN_DUPLEX, &ua, &ca);
    asu_conn(sb, SX_AGENT_CONN_DUPLEX, &ub, &cb);
    sx_ratchet alice, bob;
    asu_ratchet_pair(&alice, &bob);
    assert_ok(sx_agent_store_ratchet_save(sa, &ca, &alice));
    assert_ok(sx_agent_store_ratchet_save(sb, &cb, &bob));
    int64_t bq = asu_snd_queue(sb, &cb, 1);
    int64_t bq2 = asu_snd_queue(sb, &cb, 3);
    int64_t aq = asu_rcv_queue(sa, &ca, 2);

    int64_t rid1 = 0, rid2 = 0, rid3 = 0;
    int64_t m1 = send_one(sb, &cb, &bq, 1, sa, &ca, aq, "one", 'a', &rid1);
    int64_t m2 = send_one(sb, &cb, &bq, 1, sa, &ca, aq, "two", 'b', &rid2);
    /* Delivered and kept: no body, no key, the hash stays. */
    assert_ok(sx_agent_store_delivery_done(sb, &cb, bq, m1, true));
    assert_ok(sx_agent_store_delivery_done(sb, &cb, bq, m2, true));
    assert_int_equal(asu_sql_int(pb, "SELECT count(*) FROM messages WHERE length(body) = 0"), 2);
    assert_int_equal(asu_sql_int(pb, "SELECT count(*) FROM snd_messages WHERE "
                                     "length(msg_encrypt_key) = 0 AND length(internal_hash) = 32"),
                     2);

    /* Alice's side: what a receipt of message 1 carries. */
    sx_agent_rcv_info ri;
    assert_ok(sx_agent_store_rcv_msg_get(sa, &ca, rid1, &ri));
    assert_int_equal(ri.external_snd_id, 1);
    uint8_t h[32];
    assert_ok(sx_sha256(sx_slice_str("one"), h));
    assert_memory_equal(ri.internal_hash, h, 32);
    assert_false(ri.user_ack);
    assert_int_equal(ri.body.len, 3);
    sx_agent_blob_free(&ri.body);
    assert_int_equal(sx_agent_store_rcv_msg_get(sa, &ca, 99, &ri), SX_E_USAGE);

    /* Bob's side: the sent message the receipt names. */
    sx_agent_snd_rcpt sr;
    bool found = false;
    assert_ok(sx_agent_store_snd_msg_for_rcpt(sb, &cb, 1, &sr, &found));
    assert_true(found);
    assert_int_equal(sr.internal_id, m1);
    assert_memory_equal(sr.internal_hash, h, 32);
    assert_int_equal(sr.status, SX_AGENT_RCPT_NONE);
    assert_int_equal(sr.body.len, 0);
    sx_agent_blob_free(&sr.body);
    assert_ok(sx_agent_store_snd_msg_for_rcpt(sb, &cb, 99, &sr, &found));
    assert_false(found);

    /* Outcomes: 1 ok (through bob's received message 10), 2 a bad hash
     * (through 11). */
    assert_ok(sx_agent_store_snd_msg_rcpt_set(sb, &cb, 1, 10, SX_AGENT_RCPT_OK));
    assert_ok(sx_agent_store_snd_msg_rcpt_set(sb, &cb, 2, 11, SX_AGENT_RCPT_BAD_HASH));
    assert_int_equal(sx_agent_store_snd_msg_rcpt_set(sb, &cb, 2, 11, SX_AGENT_RCPT_NONE),
                     SX_E_USAGE);
    assert_int_equal(sx_agent_store_snd_msg_rcpt_set(sb, &cb, 99, 11, SX_AGENT_RCPT_OK),
                     SX_E_USAGE);
    assert_ok(sx_agent_store_snd_msg_for_rcpt(sb, &cb, 1, &sr, &found));
    assert_int_equal(sr.status, SX_AGENT_RCPT_OK);
    assert_int_equal(sr.rcpt_internal_id, 10);
    sx_agent_blob_free(&sr.body);

    /* Acknowledging receipt message 10 deletes message 1; 11 keeps 2. */
    size_t deleted = 9;
    assert_ok(sx_agent_store_rcpt_acked(sb, &cb, 11, &deleted));
    assert_int_equal(deleted, 0);
    assert_ok(sx_agent_store_rcpt_acked(sb, &cb, 10, &deleted));
    assert_int_equal(deleted, 1);
    bool exists = true;
    assert_ok(sx_agent_store_msg_exists(sb, &cb, m1, &exists));
    assert_false(exists);
    assert_ok(sx_agent_store_msg_exists(sb, &cb, m2, &exists));
    assert_true(exists);
    assert_int_equal(asu_sql_int(pb, "SELECT count(*) FROM snd_messages"), 1);

    /* Message 3 on two queues: its ok receipt comes while the second
     * delivery is pending; that delivery's end deletes it. */
    int64_t qs[2] = {bq, bq2};
    int64_t m3 = send_one(sb, &cb, qs, 2, sa, &ca, aq, "three", 'c', &rid3);
    assert_ok(sx_agent_store_delivery_done(sb, &cb, bq, m3, true));
    assert_ok(sx_agent_store_snd_msg_for_rcpt(sb, &cb, 3, &sr, &found));
    assert_true(found);
    assert_int_equal(sr.body.len, 5); /* still there for the other queue */
    sx_agent_blob_free(&sr.body);
    assert_ok(sx_agent_store_snd_msg_rcpt_set(sb, &cb, 3, 12, SX_AGENT_RCPT_OK));
    assert_ok(sx_agent_store_rcpt_acked(sb, &cb, 12, &deleted));
    assert_int_equal(deleted, 0); /* a delivery is pending */
    assert_ok(sx_agent_store_delivery_done(sb, &cb, bq2, m3, true));
    assert_ok(sx_agent_store_msg_exists(sb, &cb, m3, &exists));
    assert_false(exists);

    sx_ratchet_cleanup(&alice);
    sx_ratchet_cleanup(&bob);
    sx_agent_store_close(sa);
    sx_agent_store_close(sb);
    free(pa);
    free(pb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_receipts),
    };
    return cmocka_run_group_tests(tests, asu_setup, asu_teardown);
}
