/* Two agents over the test's router (pool_router.c): opening them, taking
 * their events and the fast handshake between them, for the agent's
 * integration tests (tests/integration/test_agent*.c). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "agent_pair.h"
#include "pool_router.h"

char DIR_[64];

void db_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s.db", DIR_, name);
}

long long db_count(const char *name, const char *sql)
{
    char p[128];
    db_path(p, sizeof p, name);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(p, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    long long n = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n;
}

size_t conn_count(sx_agent *a)
{
    sx_agent_conn_info *cs = NULL;
    size_t n = 0;
    assert_ok(sx_agent_connections(a, &cs, &n));
    free(cs);
    return n;
}

sx_agent *open_agent_opts(const char *name, const sx_agent_opts *opts)
{
    char p[128];
    db_path(p, sizeof p, name);
    sx_agent_opts o = *opts;
    o.retry_min_ms = 100;
    o.retry_max_ms = 500;
    o.send_retry_ms = 200;
    sx_agent *a = NULL;
    if (sx_agent_open(p, &o, &a) != SX_OK)
        fail_msg("open %s: %s", name, sx_error_message());
    return a;
}

sx_agent *open_agent(const char *name, bool pq_off)
{
    sx_agent_opts o;
    memset(&o, 0, sizeof o);
    o.pq_off = pq_off;
    return open_agent_opts(name, &o);
}

void next_ev(sx_agent *a, sx_agent_event *ev)
{
    int64_t until = now_ms() + WAIT_MS;
    for (;;) {
        assert_ok(sx_agent_next(a, 200, ev));
        if (ev->kind == SX_AGENT_EV_ERR || ev->kind == SX_AGENT_EV_MERR)
            fail_msg("%s %s: %s", sx_agent_event_name(ev->kind), ev->conn, ev->detail);
        if (ev->kind != SX_AGENT_EV_NONE && ev->kind != SX_AGENT_EV_UP &&
            ev->kind != SX_AGENT_EV_DOWN)
            return;
        if (now_ms() > until)
            fail_msg("no event in %d ms", WAIT_MS);
    }
}

void expect(sx_agent *a, sx_agent_event_kind kind, const char *conn, sx_agent_event *ev)
{
    next_ev(a, ev);
    if (ev->kind != kind)
        fail_msg("event %s (%s), expected %s", sx_agent_event_name(ev->kind), ev->detail,
                 sx_agent_event_name(kind));
    assert_string_equal(ev->conn, conn);
}

void expect_body(const sx_agent_event *ev, const char *text)
{
    assert_int_equal(ev->body_len, strlen(text));
    assert_memory_equal(ev->body, text, ev->body_len);
}

/* alice invites, bob joins; the event sequence of the reference's
 * runAgentClientTest for the fast handshake. */
void connect_pair(sx_agent *alice, sx_agent *bob, char *bob_id, char *alice_id, bool pq)
{
    char *link = NULL;
    assert_ok(sx_agent_create_invitation(alice, R.addr, bob_id, &link));
    assert_non_null(strstr(link, "simplex:/invitation#/?v=2-7&smp="));
    assert_ok(sx_agent_join(bob, link, NULL, "bob's info", 10, alice_id));
    sx_agent_free_text(link);
    sx_agent_event ev;
    expect(alice, SX_AGENT_EV_CONF, bob_id, &ev);
    expect_body(&ev, "bob's info");
    char conf[SX_AGENT_CONN_ID_TEXT];
    memcpy(conf, ev.conf_id, sizeof conf);
    sx_agent_event_clear(&ev);
    assert_ok(sx_agent_allow(alice, bob_id, conf, "alice's info", 12));
    expect(alice, SX_AGENT_EV_CON, bob_id, &ev);
    assert_int_equal(ev.pq, pq);
    sx_agent_event_clear(&ev);
    expect(bob, SX_AGENT_EV_INFO, alice_id, &ev);
    expect_body(&ev, "alice's info");
    sx_agent_event_clear(&ev);
    expect(bob, SX_AGENT_EV_CON, alice_id, &ev);
    assert_int_equal(ev.pq, pq);
    sx_agent_event_clear(&ev);
}

void send_expect_sent(sx_agent *a, const char *conn, const char *text, int64_t id)
{
    int64_t got = 0;
    assert_ok(sx_agent_send(a, conn, text, strlen(text), &got));
    assert_int_equal(got, id);
}

void expect_sent(sx_agent *a, const char *conn, int64_t id)
{
    sx_agent_event ev;
    expect(a, SX_AGENT_EV_SENT, conn, &ev);
    assert_int_equal(ev.msg_id, id);
}

/* pq: 0 or 1, or -1 for a message shown again from the store (no flag kept). */
void expect_msg(sx_agent *a, const char *conn, const char *text, int64_t id, int pq)
{
    sx_agent_event ev;
    expect(a, SX_AGENT_EV_MSG, conn, &ev);
    expect_body(&ev, text);
    assert_string_equal(ev.integrity, "OK");
    assert_int_equal(ev.msg_id, id);
    if (pq >= 0)
        assert_int_equal(ev.pq, pq);
    assert_ok(sx_agent_ack(a, conn, ev.msg_id));
    sx_agent_event_clear(&ev);
}

int pair_setup(void **state)
{
    snprintf(DIR_, sizeof DIR_, "/tmp/sx-agent-XXXXXX");
    if (!mkdtemp(DIR_))
        return -1;
    return router_setup(state);
}

int pair_teardown(void **state)
{
    tu_rm_rf(DIR_);
    return router_teardown(state);
}
