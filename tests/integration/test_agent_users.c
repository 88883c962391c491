/* Users and per-connection subscriptions of the agent (the reference's
 * createUser / deleteUser and subscribeConnections) over a real smp-server:
 * one agent with two users, each connected to a peer, one made by
 * inviting and one by joining; deleting a user takes only its connections
 * (DEL_USER; their queues deleted on the router, so the peer's next
 * message fails with AUTH) while the other user's go on; an agent opened
 * with no_subscribe receives only the connections it subscribes, and
 * unsubscribing and subscribing again brings the waiting message; a
 * user's contact address and the contact accepted for that user. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simplex/agent.h"

#include "agent_pair.h"
#include "pool_router.h"

/* inviter (as user inv_user, 0: its default) invites, joiner (as
 * join_user) joins; the fast handshake's events on both sides. */
static void connect_users(sx_agent *inviter, int64_t inv_user, sx_agent *joiner, int64_t join_user,
                          char *inv_conn, char *join_conn)
{
    char *link = NULL;
    if (inv_user)
        assert_ok(sx_agent_create_invitation_for_user(inviter, inv_user, R.addr, inv_conn, &link));
    else
        assert_ok(sx_agent_create_invitation(inviter, R.addr, inv_conn, &link));
    if (join_user)
        assert_ok(sx_agent_join_for_user(joiner, join_user, link, NULL, "j", 1, join_conn));
    else
        assert_ok(sx_agent_join(joiner, link, NULL, "j", 1, join_conn));
    sx_agent_free_text(link);
    sx_agent_event ev;
    expect(inviter, SX_AGENT_EV_CONF, inv_conn, &ev);
    char conf[SX_AGENT_CONN_ID_TEXT];
    memcpy(conf, ev.conf_id, sizeof conf);
    sx_agent_event_clear(&ev);
    assert_ok(sx_agent_allow(inviter, inv_conn, conf, "i", 1));
    expect(inviter, SX_AGENT_EV_CON, inv_conn, &ev);
    sx_agent_event_clear(&ev);
    expect(joiner, SX_AGENT_EV_INFO, join_conn, &ev);
    sx_agent_event_clear(&ev);
    expect(joiner, SX_AGENT_EV_CON, join_conn, &ev);
    sx_agent_event_clear(&ev);
}

/* from sends text on conn: SENT, then `to` gets it on to_conn (acked). */
static void send_recv(sx_agent *from, const char *conn, sx_agent *to, const char *to_conn,
                      const char *text)
{
    int64_t id = 0;
    assert_ok(sx_agent_send(from, conn, text, strlen(text), &id));
    sx_agent_event ev;
    expect(from, SX_AGENT_EV_SENT, conn, &ev);
    assert_int_equal(ev.msg_id, id);
    sx_agent_event_clear(&ev);
    expect(to, SX_AGENT_EV_MSG, to_conn, &ev);
    expect_body(&ev, text);
    assert_ok(sx_agent_ack(to, to_conn, ev.msg_id));
    sx_agent_event_clear(&ev);
}

/* The ids of a user's connections, as a count and whether id is there. */
static size_t user_conns(sx_agent *a, int64_t user, const char *id, bool *has)
{
    sx_agent_conn_info *ci = NULL;
    size_t n = 0;
    assert_ok(sx_agent_user_connections(a, user, &ci, &n));
    *has = false;
    for (size_t i = 0; i < n; i++) {
        if (user)
            assert_int_equal(ci[i].user_id, user);
        if (id && strcmp(ci[i].id, id) == 0)
            *has = true;
    }
    free(ci);
    return n;
}

static void test_two_users_delete_one(void **state)
{
    (void)state;
    router_start();
    sx_agent *a = open_agent("a", false), *b = open_agent("b", false), *c = open_agent("c", false);
    int64_t u1 = 0, u2 = 0;
    assert_ok(sx_agent_user_create(a, &u1));
    assert_ok(sx_agent_user_create(a, &u2));
    assert_true(u1 > 0 && u2 > 0 && u1 != u2);
    assert_true(u1 != sx_agent_default_user(a) && u2 != sx_agent_default_user(a));
    /* u1 invites b; u2 joins c's invitation; the default user has one too. */
    char a1[SX_AGENT_CONN_ID_TEXT], b1[SX_AGENT_CONN_ID_TEXT];
    char a2[SX_AGENT_CONN_ID_TEXT], c2[SX_AGENT_CONN_ID_TEXT];
    char a0[SX_AGENT_CONN_ID_TEXT], b0[SX_AGENT_CONN_ID_TEXT];
    connect_users(a, u1, b, 0, a1, b1);
    connect_users(c, 0, a, u2, c2, a2);
    connect_users(a, 0, b, 0, a0, b0);
    bool has = false;
    assert_int_equal(user_conns(a, u1, a1, &has), 1);
    assert_true(has);
    assert_int_equal(user_conns(a, u2, a2, &has), 1);
    assert_true(has);
    assert_int_equal(user_conns(a, sx_agent_default_user(a), a0, &has), 1);
    assert_true(has);
    assert_int_equal(user_conns(a, 0, NULL, &has), 3);
    send_recv(b, b1, a, a1, "to u1");
    send_recv(a, a2, c, c2, "from u2");

    /* The default user and unknown users cannot be deleted. */
    assert_int_equal(sx_agent_user_delete(a, sx_agent_default_user(a), true), SX_E_USAGE);
    assert_int_equal(sx_agent_user_delete(a, u2 + 1000, true), SX_E_USAGE);

    assert_ok(sx_agent_user_delete(a, u1, true));
    sx_agent_event ev;
    next_ev(a, &ev);
    assert_int_equal(ev.kind, SX_AGENT_EV_DEL_USER);
    assert_int_equal(ev.user_id, u1);
    sx_agent_event_clear(&ev);
    assert_int_equal(user_conns(a, u1, NULL, &has), 0);
    assert_int_equal(user_conns(a, 0, NULL, &has), 2);
    assert_int_equal(sx_agent_send(a, a1, "x", 1, NULL), SX_E_USAGE);
    /* A deleted user makes no connections. */
    char id[SX_AGENT_CONN_ID_TEXT], *link = NULL;
    assert_int_equal(sx_agent_create_invitation_for_user(a, u1, R.addr, id, &link), SX_E_USAGE);
    assert_null(link);

    /* u1's queue is gone on the router: b's message to it fails (AUTH). */
    int64_t mid = 0;
    assert_ok(sx_agent_send(b, b1, "to nobody", 9, &mid));
    int64_t until = now_ms() + WAIT_MS;
    for (;;) {
        assert_ok(sx_agent_next(b, 200, &ev));
        if (ev.kind == SX_AGENT_EV_MERR) {
            assert_string_equal(ev.conn, b1);
            assert_int_equal(ev.msg_id, mid);
            assert_non_null(strstr(ev.detail, "AUTH"));
            sx_agent_event_clear(&ev);
            break;
        }
        if (ev.kind == SX_AGENT_EV_SENT || ev.kind == SX_AGENT_EV_ERR)
            fail_msg("%s %s", sx_agent_event_name(ev.kind), ev.detail);
        sx_agent_event_clear(&ev);
        if (now_ms() > until)
            fail_msg("no MERR in %d ms", WAIT_MS);
    }
    /* The other users' connections go on, both ways. */
    send_recv(c, c2, a, a2, "to u2");
    send_recv(a, a2, c, c2, "from u2 again");
    send_recv(b, b0, a, a0, "to the default user");

    /* Deleting u2 without the router: its connection goes here only. */
    assert_ok(sx_agent_user_delete(a, u2, false));
    assert_int_equal(user_conns(a, 0, a0, &has), 1);
    assert_true(has);
    assert_int_equal(sx_agent_user_delete(a, u2, false), SX_E_USAGE);

    /* After a reopen the users left are the same. */
    sx_agent_close(a);
    a = open_agent("a", false);
    assert_int_equal(user_conns(a, 0, a0, &has), 1);
    assert_true(has);
    send_recv(b, b0, a, a0, "after reopen");
    sx_agent_close(a);
    sx_agent_close(b);
    sx_agent_close(c);
}

/* The next event of a other than UP/DOWN within a short look, which must
 * not be a MSG (nothing of an unsubscribed connection comes). */
static void expect_no_msg(sx_agent *a)
{
    sx_agent_event ev;
    int64_t until = now_ms() + 1500;
    while (now_ms() < until) {
        assert_ok(sx_agent_next(a, 200, &ev));
        if (ev.kind == SX_AGENT_EV_MSG)
            fail_msg("MSG of %s, not subscribed", ev.conn);
        sx_agent_event_clear(&ev);
    }
}

static void test_subscribe_chosen(void **state)
{
    (void)state;
    router_start();
    sx_agent *a = open_agent("a", false), *b = open_agent("b", false);
    char a1[SX_AGENT_CONN_ID_TEXT], b1[SX_AGENT_CONN_ID_TEXT];
    char a2[SX_AGENT_CONN_ID_TEXT], b2[SX_AGENT_CONN_ID_TEXT];
    connect_users(a, 0, b, 0, a1, b1);
    connect_users(a, 0, b, 0, a2, b2);
    sx_agent_close(a);
    /* b writes on both connections while a is away. */
    sx_agent_event ev;
    int64_t id = 0;
    assert_ok(sx_agent_send(b, b1, "one", 3, &id));
    expect(b, SX_AGENT_EV_SENT, b1, &ev);
    sx_agent_event_clear(&ev);
    assert_ok(sx_agent_send(b, b2, "two", 3, &id));
    expect(b, SX_AGENT_EV_SENT, b2, &ev);
    sx_agent_event_clear(&ev);

    sx_agent_opts o;
    memset(&o, 0, sizeof o);
    o.no_subscribe = true;
    a = open_agent_opts("a", &o);
    expect_no_msg(a);
    /* Only a1 (and an id that is no connection). */
    char bogus[SX_AGENT_CONN_ID_TEXT];
    memcpy(bogus, a1, sizeof bogus);
    bogus[0] = bogus[0] == 'A' ? 'B' : 'A';
    const char *ids[] = {a1, bogus, "not an id"};
    sx_status rs[3] = {SX_E_INTERNAL, SX_E_INTERNAL, SX_E_INTERNAL};
    assert_int_equal(sx_agent_subscribe(a, ids, 3, rs), SX_E_USAGE);
    assert_int_equal(rs[0], SX_OK);
    assert_int_equal(rs[1], SX_E_USAGE);
    assert_int_equal(rs[2], SX_E_USAGE);
    expect(a, SX_AGENT_EV_MSG, a1, &ev);
    expect_body(&ev, "one");
    assert_ok(sx_agent_ack(a, a1, ev.msg_id));
    sx_agent_event_clear(&ev);
    expect_no_msg(a);
    /* Subscribing again is harmless; then a2. */
    assert_ok(sx_agent_subscribe(a, ids, 1, NULL));
    assert_ok(sx_agent_subscribe(a, (const char *const[]){a2}, 1, NULL));
    expect(a, SX_AGENT_EV_MSG, a2, &ev);
    expect_body(&ev, "two");
    assert_ok(sx_agent_ack(a, a2, ev.msg_id));
    sx_agent_event_clear(&ev);

    /* Unsubscribed, a1 takes nothing until it is subscribed again; a2
     * goes on meanwhile. */
    rs[0] = SX_E_INTERNAL;
    assert_ok(sx_agent_unsubscribe(a, ids, 1, rs));
    assert_int_equal(rs[0], SX_OK);
    assert_ok(sx_agent_send(b, b1, "three", 5, &id));
    expect(b, SX_AGENT_EV_SENT, b1, &ev);
    sx_agent_event_clear(&ev);
    send_recv(b, b2, a, a2, "four");
    expect_no_msg(a);
    assert_ok(sx_agent_subscribe(a, ids, 1, NULL));
    expect(a, SX_AGENT_EV_MSG, a1, &ev);
    expect_body(&ev, "three");
    assert_ok(sx_agent_ack(a, a1, ev.msg_id));
    sx_agent_event_clear(&ev);
    /* a sends on its subscribed connection as usual. */
    send_recv(a, a1, b, b1, "five");
    sx_agent_close(a);
    sx_agent_close(b);
}

/* A user's contact address: the request's accepted connection is made for
 * the user that accepts it, beside the address. */
static void test_contact_for_user(void **state)
{
    (void)state;
    router_start();
    sx_agent *a = open_agent("a", false), *b = open_agent("b", false);
    int64_t u = 0;
    assert_ok(sx_agent_user_create(a, &u));
    char addr[SX_AGENT_CONN_ID_TEXT], *link = NULL;
    assert_ok(sx_agent_create_contact_for_user(a, u, R.addr, addr, &link));
    char b_a[SX_AGENT_CONN_ID_TEXT], a_b[SX_AGENT_CONN_ID_TEXT];
    assert_ok(sx_agent_join(b, link, NULL, "req", 3, b_a));
    sx_agent_free_text(link);
    sx_agent_event ev;
    expect(a, SX_AGENT_EV_REQ, addr, &ev);
    expect_body(&ev, "req");
    char inv[SX_AGENT_CONN_ID_TEXT];
    memcpy(inv, ev.inv_id, sizeof inv);
    sx_agent_event_clear(&ev);
    assert_ok(sx_agent_accept_contact_for_user(a, u, inv, NULL, "acc", 3, a_b));
    expect(b, SX_AGENT_EV_CONF, b_a, &ev);
    char conf[SX_AGENT_CONN_ID_TEXT];
    memcpy(conf, ev.conf_id, sizeof conf);
    sx_agent_event_clear(&ev);
    assert_ok(sx_agent_allow(b, b_a, conf, "b", 1));
    expect(b, SX_AGENT_EV_CON, b_a, &ev);
    sx_agent_event_clear(&ev);
    expect(a, SX_AGENT_EV_INFO, a_b, &ev);
    sx_agent_event_clear(&ev);
    expect(a, SX_AGENT_EV_CON, a_b, &ev);
    sx_agent_event_clear(&ev);
    send_recv(a, a_b, b, b_a, "hi");
    bool has = false;
    assert_int_equal(user_conns(a, u, a_b, &has), 2); /* the address and the contact */
    assert_true(has);
    assert_int_equal(user_conns(a, u, addr, &has), 2);
    assert_true(has);
    assert_int_equal(user_conns(a, sx_agent_default_user(a), NULL, &has), 0);
    /* Deleting the user takes the address and the contact. */
    assert_ok(sx_agent_user_delete(a, u, true));
    next_ev(a, &ev);
    assert_int_equal(ev.kind, SX_AGENT_EV_DEL_USER);
    sx_agent_event_clear(&ev);
    assert_int_equal(user_conns(a, 0, NULL, &has), 0);
    sx_agent_close(a);
    sx_agent_close(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_two_users_delete_one, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_subscribe_chosen, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_contact_for_user, pair_setup, pair_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
