/* The agent's timers and housekeeping, two agents in one process with their
 * own store files over real smp-server processes:
 *  - a persisted command's back-off survives a restart: the allow's stored
 *    command retried while the joiner's router is down stores its interval
 *    (commands.retry_int_fast, migration 7), the interval grows, and the
 *    agent opened again goes on from it rather than from the first;
 *  - the slow QUOTA interval of a delivery is stored with the message
 *    (snd_messages.retry_int_slow) and read back after a restart: the next
 *    QUOTA grows it instead of starting again from quota_retry_ms;
 *  - the HELLO timeout (the reference's helloTimeout): a legacy joiner whose
 *    HELLO cannot reach the inviter's router gets MERR for it once
 *    hello_timeout_s has passed, and no CON;
 *  - the periodic cleanup (the reference's cleanup manager with
 *    storedMsgDataTTL): sent messages and the received messages' hashes
 *    older than stored_msg_ttl_s are deleted, and the connection goes on. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "simplex/agent.h"

#include "agent_pair.h"
#include "pool_router.h"

/* One integer from the store file of name: sql with one optional integer
 * parameter p. */
static int64_t store_int(const char *name, const char *sql, int64_t p)
{
    char path[128];
    db_path(path, sizeof path, name);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    if (sqlite3_bind_parameter_count(q) > 0)
        sqlite3_bind_int64(q, 1, p);
    int64_t v = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : -1;
    sqlite3_finalize(q);
    sqlite3_close(db);
    assert_true(v >= 0);
    return v;
}

/* Polls sql (with p) until it answers something other than old. */
static int64_t store_int_change(const char *name, const char *sql, int64_t p, int64_t old)
{
    int64_t until = now_ms() + WAIT_MS;
    for (;;) {
        int64_t v = store_int(name, sql, p);
        if (v != old)
            return v;
        if (now_ms() > until)
            fail_msg("%s stayed %lld", sql, (long long)old);
        sleep_ms(50);
    }
}

static void send_recv(sx_agent *x, const char *x_conn, sx_agent *y, const char *y_conn,
                      const char *text, int64_t id)
{
    send_expect_sent(x, x_conn, text, id);
    expect_sent(x, x_conn, id);
    expect_msg(y, y_conn, text, id, 1);
}

static const char CMD_RETRY[] = "SELECT MAX(IFNULL(retry_int_fast, 0)) FROM commands";

static void test_cmd_retry_kept(void **state)
{
    (void)state;
    router_start();
    pool_router r2;
    assert_int_equal(pool_router_init(&r2, NULL), 0);
    pool_router_start(&r2);
    sx_agent *alice = open_agent("alice_crk", false);
    sx_agent *bob = open_agent("bob_crk", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    char *link = NULL;
    assert_ok(sx_agent_create_invitation(alice, R.addr, bob_id, &link));
    /* bob's queue, the allow's destination, on the second router */
    assert_ok(sx_agent_join(bob, link, r2.addr, "bob's info", 10, alice_id));
    sx_agent_free_text(link);
    sx_agent_event ev;
    expect(alice, SX_AGENT_EV_CONF, bob_id, &ev);
    char conf[SX_AGENT_CONN_ID_TEXT];
    memcpy(conf, ev.conf_id, sizeof conf);
    sx_agent_event_clear(&ev);
    pool_router_kill9(&r2);
    assert_ok(sx_agent_allow(alice, bob_id, conf, "alice's info", 12));
    /* the first interval (open_agent's send_retry_ms), then grown once the
     * failures went on for 10 s */
    int64_t first = store_int_change("alice_crk", CMD_RETRY, 0, 0);
    int64_t grown = store_int_change("alice_crk", CMD_RETRY, 0, first);
    assert_true(grown > first);
    sx_agent_close(alice);
    int64_t kept = store_int("alice_crk", CMD_RETRY, 0);
    assert_true(kept >= grown);
    alice = open_agent("alice_crk", false);
    /* the next failures store what follows kept, not the first again */
    int64_t next = store_int_change("alice_crk", CMD_RETRY, 0, kept);
    if (next <= kept)
        fail_msg("after the restart the interval went from %lld to %lld", (long long)kept,
                 (long long)next);
    pool_router_start(&r2);
    expect(alice, SX_AGENT_EV_CON, bob_id, &ev);
    sx_agent_event_clear(&ev);
    expect(bob, SX_AGENT_EV_INFO, alice_id, &ev);
    sx_agent_event_clear(&ev);
    expect(bob, SX_AGENT_EV_CON, alice_id, &ev);
    sx_agent_event_clear(&ev);
    /* done: the row went with its interval */
    assert_int_equal(store_int("alice_crk", "SELECT count(*) FROM commands", 0), 0);
    send_recv(alice, bob_id, bob, alice_id, "hello", 2);
    sx_agent_close(alice);
    sx_agent_close(bob);
    pool_router_free(&r2);
    router_kill9();
}

/* The router's queue quota (fixed at 128, as the reference's). */
#define QUOTA 128

static const char SLOW_RETRY[] =
    "SELECT IFNULL(retry_int_slow, 0) FROM snd_messages WHERE internal_id = ?";

static sx_agent *open_quota(const char *name, unsigned quota_retry_ms)
{
    sx_agent_opts o;
    memset(&o, 0, sizeof o);
    o.quota_retry_ms = quota_retry_ms;
    return open_agent_opts(name, &o);
}

static void test_quota_slow_kept(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_quota("alice_qk", 300);
    sx_agent *bob = open_agent("bob_qk", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    connect_pair(alice, bob, bob_id, alice_id, true);
    sx_agent_close(bob); /* bob away: his queue fills */
    char t[32];
    for (int i = 0; i <= QUOTA; i++) {
        snprintf(t, sizeof t, "m%d", i);
        send_expect_sent(alice, bob_id, t, 2 + i);
    }
    for (int i = 0; i < QUOTA; i++)
        expect_sent(alice, bob_id, 2 + i);
    sx_agent_event ev;
    expect(alice, SX_AGENT_EV_MWARN, bob_id, &ev);
    assert_int_equal(ev.msg_id, 2 + QUOTA);
    sx_agent_event_clear(&ev);
    /* QUOTA stored the slow interval with the message */
    int64_t first = store_int_change("alice_qk", SLOW_RETRY, 2 + QUOTA, 0);
    assert_int_equal(first, 300);
    sx_agent_close(alice);
    /* opened again with another first interval: the stored one is taken
     * up and grown at the next QUOTA, rather than started again */
    alice = open_quota("alice_qk", 250);
    int64_t next = store_int_change("alice_qk", SLOW_RETRY, 2 + QUOTA, first);
    if (next <= first)
        fail_msg("after the restart the slow interval went from %lld to %lld", (long long)first,
                 (long long)next);
    expect(alice, SX_AGENT_EV_MWARN, bob_id, &ev);
    assert_int_equal(ev.msg_id, 2 + QUOTA);
    sx_agent_event_clear(&ev);
    sx_agent_close(alice);
    router_kill9();
}

/* The legacy handshake's agents, bob with a HELLO timeout of hello_s. */
static sx_agent *open_legacy(const char *name, unsigned hello_s)
{
    sx_agent_opts o;
    memset(&o, 0, sizeof o);
    o.legacy_handshake = true;
    o.hello_timeout_s = hello_s;
    return open_agent_opts(name, &o);
}

static void test_hello_timeout(void **state)
{
    (void)state;
    router_start();
    pool_router r2;
    assert_int_equal(pool_router_init(&r2, NULL), 0);
    pool_router_start(&r2);
    sx_agent *alice = open_legacy("alice_ht", 0);
    sx_agent *bob = open_legacy("bob_ht", 2);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    char *link = NULL;
    assert_ok(sx_agent_create_invitation(alice, R.addr, bob_id, &link));
    /* bob's reply queue on the second router; alice's on the first */
    assert_ok(sx_agent_join(bob, link, r2.addr, "bob's info", 10, alice_id));
    sx_agent_free_text(link);
    assert_ok(sx_agent_flush(bob, WAIT_MS));
    sx_agent_close(bob);
    sx_agent_event ev;
    expect(alice, SX_AGENT_EV_CONF, bob_id, &ev);
    char conf[SX_AGENT_CONN_ID_TEXT];
    memcpy(conf, ev.conf_id, sizeof conf);
    sx_agent_event_clear(&ev);
    assert_ok(sx_agent_allow(alice, bob_id, conf, "alice's info", 12));
    assert_ok(sx_agent_flush(alice, WAIT_MS)); /* alice's info is on r2 */
    /* alice's router down: bob's HELLO to her queue cannot go */
    router_kill9();
    bob = open_legacy("bob_ht", 2);
    expect(bob, SX_AGENT_EV_INFO, alice_id, &ev);
    expect_body(&ev, "alice's info");
    sx_agent_event_clear(&ev);
    /* MERR for the HELLO (message 2) once its 2 s are over; nothing else */
    int64_t start = now_ms(), until = start + WAIT_MS;
    for (;;) {
        assert_ok(sx_agent_next(bob, 200, &ev));
        if (ev.kind == SX_AGENT_EV_MERR)
            break;
        if (ev.kind != SX_AGENT_EV_NONE && ev.kind != SX_AGENT_EV_UP &&
            ev.kind != SX_AGENT_EV_DOWN)
            fail_msg("unexpected %s: %s", sx_agent_event_name(ev.kind), ev.detail);
        if (now_ms() > until)
            fail_msg("no MERR for the HELLO in %d ms", WAIT_MS);
    }
    assert_string_equal(ev.conn, alice_id);
    assert_int_equal(ev.msg_id, 2);
    assert_non_null(strstr(ev.detail, "expired"));
    sx_agent_event_clear(&ev);
    /* the HELLO's delivery is gone and the connection is not complete */
    assert_int_equal(store_int("bob_ht", "SELECT count(*) FROM snd_message_deliveries", 0), 0);
    sx_agent_conn_info *ci = NULL;
    size_t n = 0;
    assert_ok(sx_agent_connections(bob, &ci, &n));
    assert_int_equal(n, 1);
    assert_string_not_equal(ci[0].state, "duplex");
    free(ci);
    sx_agent_close(alice);
    sx_agent_close(bob);
    pool_router_free(&r2);
}

static const char SND_MSGS[] = "SELECT count(*) FROM messages WHERE internal_snd_id IS NOT NULL";
static const char RCV_HASHES[] = "SELECT count(*) FROM encrypted_rcv_message_hashes";

static sx_agent *open_ttl(const char *name, unsigned ttl_s)
{
    sx_agent_opts o;
    memset(&o, 0, sizeof o);
    o.stored_msg_ttl_s = ttl_s;
    o.cleanup_interval_ms = 200;
    return open_agent_opts(name, &o);
}

static void test_cleanup(void **state)
{
    (void)state;
    router_start();
    /* first with the default TTL: the rows stay */
    sx_agent *alice = open_ttl("alice_cl", 0);
    sx_agent *bob = open_ttl("bob_cl", 0);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    connect_pair(alice, bob, bob_id, alice_id, true);
    send_recv(alice, bob_id, bob, alice_id, "hello", 2);
    send_recv(bob, alice_id, alice, bob_id, "hello too", 3);
    sleep_ms(1500); /* several passes of the cleanup, and a second of age */
    assert_true(store_int("alice_cl", SND_MSGS, 0) > 0);
    assert_true(store_int("bob_cl", RCV_HASHES, 0) > 0);
    sx_agent_close(alice);
    sx_agent_close(bob);
    /* then with a TTL of one second: they go */
    alice = open_ttl("alice_cl", 1);
    bob = open_ttl("bob_cl", 1);
    int64_t until = now_ms() + WAIT_MS;
    while (store_int("alice_cl", SND_MSGS, 0) > 0 || store_int("bob_cl", SND_MSGS, 0) > 0 ||
           store_int("alice_cl", RCV_HASHES, 0) > 0 || store_int("bob_cl", RCV_HASHES, 0) > 0) {
        if (now_ms() > until)
            fail_msg("old messages and hashes are still stored after %d ms", WAIT_MS);
        sleep_ms(100);
    }
    /* the connection goes on, ids continuing */
    send_recv(alice, bob_id, bob, alice_id, "again", 4);
    send_recv(bob, alice_id, alice, bob_id, "again too", 5);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cmd_retry_kept, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_quota_slow_kept, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_hello_timeout, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_cleanup, pair_setup, pair_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
