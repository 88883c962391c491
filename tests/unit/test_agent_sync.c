/* The agent's ratchet re-synchronisation rules (src/agent/agent_sync.c)
 * without a router: which decryption errors move a connection's state and
 * how (the reference's cryptoErrToSyncState), in which states an error
 * changes nothing, a re-delivered message (hash known) changing nothing,
 * the return to ok after a good message, the RSYNC events with their
 * error text, and the refusals of sx_agent_synchronize_ratchet. The whole
 * exchange over a router is tests/integration/test_agent.c. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_int.h"
#include "agent_store_util.h"
#include "crypto/hash.h"

typedef struct fixture {
    char *path;
    sx_agent *a;
    sx_agent_id conn;
    char conn_text[SX_AGENT_CONN_ID_TEXT];
} fixture;

static fixture F;

static sx_agent_rsync state_of(void)
{
    sx_agent_conn cn;
    pthread_mutex_lock(&F.a->mu);
    assert_ok(sx_agent_store_conn_get(F.a->store, &F.conn, &cn));
    pthread_mutex_unlock(&F.a->mu);
    return cn.rsync;
}

static void set_state(sx_agent_rsync s)
{
    sx_agent_conn cn;
    pthread_mutex_lock(&F.a->mu);
    assert_ok(sx_agent_store_conn_get(F.a->store, &F.conn, &cn));
    cn.rsync = s;
    assert_ok(sx_agent_store_conn_update(F.a->store, &cn));
    pthread_mutex_unlock(&F.a->mu);
}

static bool decrypt_error(sx_ratchet_err code, uint32_t n, const char *enc)
{
    sx_ratchet_error e = {.code = code, .n = n};
    pthread_mutex_lock(&F.a->mu);
    bool r = sx_agent_sync_on_decrypt_error(F.a, &F.conn, &e, sx_slice_str(enc));
    pthread_mutex_unlock(&F.a->mu);
    return r;
}

static void expect_rsync(const char *state, const char *err)
{
    sx_agent_event ev;
    assert_ok(sx_agent_next(F.a, 0, &ev));
    assert_int_equal(ev.kind, SX_AGENT_EV_RSYNC);
    assert_string_equal(ev.conn, F.conn_text);
    assert_string_equal(ev.rsync, state);
    assert_string_equal(ev.detail, err);
    sx_agent_event_clear(&ev);
}

static void expect_none(void)
{
    sx_agent_event ev;
    assert_ok(sx_agent_next(F.a, 0, &ev));
    assert_int_equal(ev.kind, SX_AGENT_EV_NONE);
}

static int setup(void **state)
{
    if (asu_setup(state) != 0)
        return -1;
    F.path = asu_fresh("sync.db");
    sx_agent_opts o;
    memset(&o, 0, sizeof o);
    o.no_subscribe = true;
    if (sx_agent_open(F.path, &o, &F.a) != SX_OK)
        return -1;
    int64_t user;
    pthread_mutex_lock(&F.a->mu);
    asu_conn(F.a->store, SX_AGENT_CONN_DUPLEX, &user, &F.conn);
    pthread_mutex_unlock(&F.a->mu);
    sx_agent_id_text(&F.conn, F.conn_text);
    return 0;
}

static int teardown(void **state)
{
    sx_agent_close(F.a);
    free(F.path);
    memset(&F, 0, sizeof F);
    return asu_teardown(state);
}

/* cryptoErrToSyncState, starting from ok and going on from each result:
 * errors move the state both ways between allowed and required. */
static void test_classify(void **state)
{
    (void)state;
    assert_int_equal(state_of(), SX_AGENT_RSYNC_OK);
    assert_true(decrypt_error(SX_RATCHET_ERR_HEADER, 0, "m1"));
    assert_int_equal(state_of(), SX_AGENT_RSYNC_REQUIRED);
    expect_rsync("required", "RATCHET_HEADER");
    assert_true(decrypt_error(SX_RATCHET_ERR_BODY, 0, "m2"));
    assert_int_equal(state_of(), SX_AGENT_RSYNC_ALLOWED);
    expect_rsync("allowed", "DECRYPT_AES");
    assert_true(decrypt_error(SX_RATCHET_ERR_TOO_MANY_SKIPPED, 600, "m3"));
    assert_int_equal(state_of(), SX_AGENT_RSYNC_REQUIRED);
    expect_rsync("required", "RATCHET_SKIPPED 600");
    assert_true(decrypt_error(SX_RATCHET_ERR_EARLIER, 3, "m4"));
    assert_int_equal(state_of(), SX_AGENT_RSYNC_ALLOWED);
    expect_rsync("allowed", "RATCHET_EARLIER 3");
    /* Errors that say nothing about the ratchet are the caller's. */
    static const sx_ratchet_err other[] = {SX_RATCHET_ERR_DUPLICATE, SX_RATCHET_ERR_MESSAGE,
                                           SX_RATCHET_ERR_HEADER_PARSE, SX_RATCHET_ERR_KEM_STATE,
                                           SX_RATCHET_ERR_STATE, SX_RATCHET_ERR_BODY_PAD,
                                           SX_RATCHET_OK};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
        assert_false(decrypt_error(other[i], 0, "m5"));
    assert_int_equal(state_of(), SX_AGENT_RSYNC_ALLOWED);
    expect_none();
}

/* Once started or agreed the exchange decides: errors are handled (the
 * message is acknowledged) but change nothing and say nothing. */
static void test_started_agreed_keep(void **state)
{
    (void)state;
    set_state(SX_AGENT_RSYNC_STARTED);
    assert_true(decrypt_error(SX_RATCHET_ERR_HEADER, 0, "m1"));
    assert_int_equal(state_of(), SX_AGENT_RSYNC_STARTED);
    set_state(SX_AGENT_RSYNC_AGREED);
    assert_true(decrypt_error(SX_RATCHET_ERR_BODY, 0, "m2"));
    assert_int_equal(state_of(), SX_AGENT_RSYNC_AGREED);
    expect_none();
    /* A good message: agreed (or allowed, required) back to ok; started
     * waits for the peer's key. */
    pthread_mutex_lock(&F.a->mu);
    sx_agent_sync_on_decrypted(F.a, &F.conn);
    pthread_mutex_unlock(&F.a->mu);
    assert_int_equal(state_of(), SX_AGENT_RSYNC_OK);
    expect_rsync("ok", "");
    pthread_mutex_lock(&F.a->mu);
    sx_agent_sync_on_decrypted(F.a, &F.conn);
    pthread_mutex_unlock(&F.a->mu);
    expect_none();
    set_state(SX_AGENT_RSYNC_STARTED);
    pthread_mutex_lock(&F.a->mu);
    sx_agent_sync_on_decrypted(F.a, &F.conn);
    pthread_mutex_unlock(&F.a->mu);
    assert_int_equal(state_of(), SX_AGENT_RSYNC_STARTED);
    expect_none();
}

/* A message whose encrypted hash is known was received before: the
 * router delivered it again, and the ratchet is not out of step. */
static void test_redelivery_keeps(void **state)
{
    (void)state;
    uint8_t h[32];
    assert_ok(sx_sha256(sx_slice_str("seen before"), h));
    char sql[256], hex[2 * 32 + 1], idhex[2 * SX_AGENT_ID_LEN + 1];
    for (size_t i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", h[i]);
    for (size_t i = 0; i < SX_AGENT_ID_LEN; i++)
        snprintf(idhex + 2 * i, 3, "%02x", F.conn.b[i]);
    snprintf(sql, sizeof sql,
             "INSERT INTO encrypted_rcv_message_hashes(conn_id, hash, created_at) "
             "VALUES (x'%s', x'%s', 0)",
             idhex, hex);
    asu_sql_exec(F.path, sql);
    assert_true(decrypt_error(SX_RATCHET_ERR_HEADER, 0, "seen before"));
    assert_int_equal(state_of(), SX_AGENT_RSYNC_OK);
    expect_none();
    assert_true(decrypt_error(SX_RATCHET_ERR_HEADER, 0, "not seen"));
    assert_int_equal(state_of(), SX_AGENT_RSYNC_REQUIRED);
    expect_rsync("required", "RATCHET_HEADER");
}

/* A connection that is not duplex has no state to move: the caller
 * reports the error. */
static void test_not_duplex(void **state)
{
    (void)state;
    pthread_mutex_lock(&F.a->mu);
    assert_ok(sx_agent_store_conn_set_state(F.a->store, &F.conn, SX_AGENT_CONN_SND));
    pthread_mutex_unlock(&F.a->mu);
    assert_false(decrypt_error(SX_RATCHET_ERR_HEADER, 0, "m1"));
    assert_int_equal(state_of(), SX_AGENT_RSYNC_OK);
    assert_int_equal(sx_agent_synchronize_ratchet(F.a, F.conn_text, true), SX_E_USAGE);
    expect_none();
}

/* synchronizeRatchet: only from allowed or required unless forced; a
 * forced start on a connection with no ratchet and no send queue fails and
 * leaves nothing behind; never with an agent older than version 3. */
static void test_start_refusals(void **state)
{
    (void)state;
    assert_int_equal(sx_agent_synchronize_ratchet(F.a, F.conn_text, false), SX_E_USAGE);
    set_state(SX_AGENT_RSYNC_STARTED);
    assert_int_equal(sx_agent_synchronize_ratchet(F.a, F.conn_text, false), SX_E_USAGE);
    set_state(SX_AGENT_RSYNC_REQUIRED);
    assert_int_equal(sx_agent_synchronize_ratchet(F.a, F.conn_text, false), SX_E_USAGE);
    assert_int_equal(state_of(), SX_AGENT_RSYNC_REQUIRED);
    assert_int_equal(sx_agent_synchronize_ratchet(F.a, F.conn_text, true), SX_E_USAGE);
    assert_int_equal(state_of(), SX_AGENT_RSYNC_REQUIRED);
    assert_int_equal(sx_agent_synchronize_ratchet(F.a, "not an id", true), SX_E_USAGE);
    /* The peer's agent older than version 3. */
    sx_agent_conn cn;
    pthread_mutex_lock(&F.a->mu);
    assert_ok(sx_agent_store_conn_get(F.a->store, &F.conn, &cn));
    cn.agent_version = 2;
    assert_ok(sx_agent_store_conn_update(F.a->store, &cn));
    pthread_mutex_unlock(&F.a->mu);
    assert_int_equal(sx_agent_synchronize_ratchet(F.a, F.conn_text, true), SX_E_USAGE);
    assert_int_equal(asu_sql_int(F.path, "SELECT count(*) FROM messages"), 0);
    /* Sending is refused while required. */
    cn.agent_version = 7;
    pthread_mutex_lock(&F.a->mu);
    assert_ok(sx_agent_store_conn_update(F.a->store, &cn));
    pthread_mutex_unlock(&F.a->mu);
    assert_int_equal(sx_agent_send(F.a, F.conn_text, "x", 1, NULL), SX_E_USAGE);
    expect_none();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_classify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_started_agreed_keep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redelivery_keeps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_duplex, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_refusals, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
