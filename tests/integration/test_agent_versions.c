/* Versions between agents (sx_agent_opts agent_version_max and
 * e2e_version_max, sx_agent_connection_versions) with two agents over a real
 * smp-server process, as the reference's FunctionalAPITests:
 * - "different Ratchet versions" (testRatchetMatrix2): an agent whose
 *   ratchet stops at e2e version 2 (no post-quantum KEM) and one at version
 *   3, in every combination, connect through an invitation and through a
 *   contact address (the event sequences of runAgentClientTest and
 *   runAgentClientContactTest) and exchange messages both ways; both end on
 *   the lower e2e version, with PQ only when both have version 3 (here both
 *   agents have PQ on: the version alone turns it off); and the agent
 *   capped at version 2 opened again without the cap: both ratchets move to
 *   version 3 with the next messages; testMatrix2's "prev" rows (agent
 *   version 6 and ratchet version 2) the same way;
 * - "update connection agent version on received messages" (three tests):
 *   the connection's agent version rises with the peer's messages to the
 *   highest version both agents now speak, never above, and never falls when
 *   an agent is opened again with a lower cap. The reference's versions 1,
 *   2, 3 (its test ranges) are 4, 5, 6 here, with 7 the current one;
 * - getRatchetAdHash: the same hash of the ratchet's associated data on
 *   both sides of a connection, another one for another connection.
 * And caps outside the supported ranges are refused at open. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "simplex/agent.h"

#include "agent_pair.h"
#include "pool_router.h"

/* One side of the version matrix: its agent and e2e caps (7 and 3: the
 * current versions). */
typedef struct caps {
    uint16_t agent, e2e;
} caps;

static sx_agent *open_v(const char *name, uint16_t agent_max, uint16_t e2e_max, bool pq_off)
{
    sx_agent_opts o;
    memset(&o, 0, sizeof o);
    o.pq_off = pq_off;
    o.agent_version_max = agent_max;
    o.e2e_version_max = e2e_max;
    return open_agent_opts(name, &o);
}

static sx_agent_conn_versions versions(sx_agent *a, const char *conn)
{
    sx_agent_conn_versions v;
    assert_ok(sx_agent_connection_versions(a, conn, &v));
    return v;
}

static void check_agent_version(sx_agent *a, const char *conn, uint16_t want)
{
    sx_agent_conn_versions v = versions(a, conn);
    if (v.agent != want)
        fail_msg("connection %s: agent version %u, expected %u", conn, v.agent, want);
}

static void expect_pq(sx_agent *a, sx_agent_event_kind kind, const char *conn, bool pq,
                      const char *body)
{
    sx_agent_event ev;
    expect(a, kind, conn, &ev);
    if (ev.pq != pq)
        fail_msg("%s: pq %d, expected %d", sx_agent_event_name(kind), ev.pq, pq);
    if (body)
        expect_body(&ev, body);
    sx_agent_event_clear(&ev);
}

/* The messages of runAgentClientTest after the handshake (base id 1: the
 * confirmations took id 1 on each side; the counter is shared by both
 * directions). */
static void messages_both_ways(sx_agent *alice, const char *bob_id, sx_agent *bob,
                               const char *alice_id, bool pq)
{
    send_expect_sent(alice, bob_id, "hello", 2);
    expect_sent(alice, bob_id, 2);
    send_expect_sent(alice, bob_id, "how are you?", 3);
    expect_sent(alice, bob_id, 3);
    expect_msg(bob, alice_id, "hello", 2, pq);
    expect_msg(bob, alice_id, "how are you?", 3, pq);
    send_expect_sent(bob, alice_id, "hello too", 4);
    expect_sent(bob, alice_id, 4);
    send_expect_sent(bob, alice_id, "message 1", 5);
    expect_sent(bob, alice_id, 5);
    expect_msg(alice, bob_id, "hello too", 4, pq);
    expect_msg(alice, bob_id, "message 1", 5, pq);
}

/* Both sides on the lower e2e and agent versions (the messages both ways
 * do not raise them: the higher side announces a version the lower one
 * does not speak), each ratchet announcing its own highest, and the same
 * associated data. */
static void check_ratchets(sx_agent *alice, const char *bob_id, caps ac, sx_agent *bob,
                           const char *alice_id, caps bc)
{
    uint16_t e2e = ac.e2e < bc.e2e ? ac.e2e : bc.e2e;
    uint16_t agent = ac.agent < bc.agent ? ac.agent : bc.agent;
    sx_agent_conn_versions va = versions(alice, bob_id), vb = versions(bob, alice_id);
    assert_int_equal(va.e2e, e2e);
    assert_int_equal(vb.e2e, e2e);
    assert_int_equal(va.e2e_max, ac.e2e);
    assert_int_equal(vb.e2e_max, bc.e2e);
    assert_int_equal(va.agent, agent);
    assert_int_equal(vb.agent, agent);
    uint8_t ha[SX_AGENT_AD_HASH_LEN], hb[SX_AGENT_AD_HASH_LEN];
    assert_ok(sx_agent_ratchet_ad_hash(alice, bob_id, ha));
    assert_ok(sx_agent_ratchet_ad_hash(bob, alice_id, hb));
    assert_memory_equal(ha, hb, sizeof ha);
}

/* PQ when both can: agent version 5 and e2e version 3. */
static bool both_pq(caps ac, caps bc)
{
    return ac.agent >= 5 && bc.agent >= 5 && ac.e2e == 3 && bc.e2e == 3;
}

/* runAgentClientTest with alice's and bob's caps, PQ on in both agents. */
static void ratchet_invitation(caps ac, caps bc)
{
    router_start();
    char an[32], bn[32];
    snprintf(an, sizeof an, "alice_i%u%u%u%u", ac.agent, ac.e2e, bc.agent, bc.e2e);
    snprintf(bn, sizeof bn, "bob_i%u%u%u%u", ac.agent, ac.e2e, bc.agent, bc.e2e);
    sx_agent *alice = open_v(an, ac.agent, ac.e2e, false);
    sx_agent *bob = open_v(bn, bc.agent, bc.e2e, false);
    bool pq = both_pq(ac, bc);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT], *link = NULL;
    assert_ok(sx_agent_create_invitation(alice, R.addr, bob_id, &link));
    /* The link offers alice's ranges (the e2e one url-escaped in its
     * parameter), with a KEM key only at e2e version 3. */
    assert_non_null(strstr(link, ac.agent == 7 ? "#/?v=2-7&" : "#/?v=2-6&"));
    assert_non_null(strstr(link, ac.e2e == 3 ? "v%3D2-3%26" : "v%3D2%26"));
    assert_int_equal(strstr(link, "kem_key") != NULL, ac.e2e == 3);
    assert_ok(sx_agent_join(bob, link, NULL, "bob's connInfo", 14, alice_id));
    sx_agent_free_text(link);
    sx_agent_event ev;
    expect(alice, SX_AGENT_EV_CONF, bob_id, &ev);
    expect_body(&ev, "bob's connInfo");
    assert_int_equal(ev.pq, pq);
    char conf[SX_AGENT_CONN_ID_TEXT];
    memcpy(conf, ev.conf_id, sizeof conf);
    sx_agent_event_clear(&ev);
    assert_ok(sx_agent_allow(alice, bob_id, conf, "alice's connInfo", 16));
    expect_pq(alice, SX_AGENT_EV_CON, bob_id, pq, NULL);
    expect_pq(bob, SX_AGENT_EV_INFO, alice_id, pq, "alice's connInfo");
    expect_pq(bob, SX_AGENT_EV_CON, alice_id, pq, NULL);
    messages_both_ways(alice, bob_id, bob, alice_id, pq);
    check_ratchets(alice, bob_id, ac, bob, alice_id, bc);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

/* runAgentClientContactTest: alice's address, bob's request, alice
 * accepts (she joins bob's invitation), bob allows. */
static void ratchet_contact(caps ac, caps bc)
{
    router_start();
    char an[32], bn[32];
    snprintf(an, sizeof an, "alice_c%u%u%u%u", ac.agent, ac.e2e, bc.agent, bc.e2e);
    snprintf(bn, sizeof bn, "bob_c%u%u%u%u", ac.agent, ac.e2e, bc.agent, bc.e2e);
    sx_agent *alice = open_v(an, ac.agent, ac.e2e, false);
    sx_agent *bob = open_v(bn, bc.agent, bc.e2e, false);
    bool pq = both_pq(ac, bc);
    char addr[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT], *link = NULL;
    assert_ok(sx_agent_create_contact(alice, R.addr, addr, &link));
    assert_ok(sx_agent_join(bob, link, NULL, "bob's connInfo", 14, alice_id));
    sx_agent_free_text(link);
    sx_agent_event ev;
    expect(alice, SX_AGENT_EV_REQ, addr, &ev);
    expect_body(&ev, "bob's connInfo");
    if (ev.pq != pq)
        fail_msg("REQ: pq %d, expected %d", ev.pq, pq);
    char inv[SX_AGENT_CONN_ID_TEXT], bob_id[SX_AGENT_CONN_ID_TEXT];
    memcpy(inv, ev.inv_id, sizeof inv);
    sx_agent_event_clear(&ev);
    assert_ok(sx_agent_accept_contact(alice, inv, NULL, "alice's connInfo", 16, bob_id));
    expect(bob, SX_AGENT_EV_CONF, alice_id, &ev);
    expect_body(&ev, "alice's connInfo");
    assert_int_equal(ev.pq, pq);
    char conf[SX_AGENT_CONN_ID_TEXT];
    memcpy(conf, ev.conf_id, sizeof conf);
    sx_agent_event_clear(&ev);
    assert_ok(sx_agent_allow(bob, alice_id, conf, "bob's connInfo", 14));
    expect_pq(alice, SX_AGENT_EV_INFO, bob_id, pq, "bob's connInfo");
    expect_pq(alice, SX_AGENT_EV_CON, bob_id, pq, NULL);
    expect_pq(bob, SX_AGENT_EV_CON, alice_id, pq, NULL);
    messages_both_ways(alice, bob_id, bob, alice_id, pq);
    check_ratchets(alice, bob_id, ac, bob, alice_id, bc);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

static const caps CURRENT = {7, 3}, RATCHET_PREV = {7, 2}, PREV = {6, 2};

static void matrix(caps ac, caps bc)
{
    ratchet_invitation(ac, bc);
    ratchet_contact(ac, bc);
}

static void test_ratchet_current(void **state)
{
    (void)state;
    matrix(CURRENT, CURRENT);
}

static void test_ratchet_prev(void **state)
{
    (void)state;
    matrix(RATCHET_PREV, RATCHET_PREV);
}

static void test_ratchet_prev_to_current(void **state)
{
    (void)state;
    matrix(RATCHET_PREV, CURRENT);
}

static void test_ratchet_current_to_prev(void **state)
{
    (void)state;
    matrix(CURRENT, RATCHET_PREV);
}

/* testMatrix2's "prev" rows: an agent of the previous agent version (6)
 * and ratchet (2); the fast handshake all the same (the reference's
 * previous SMP client range, which we cannot cap, would also let the joiner
 * secure the queue). */
static void test_agent_prev(void **state)
{
    (void)state;
    matrix(PREV, PREV);
    matrix(PREV, CURRENT);
    matrix(CURRENT, PREV);
}

/* An agent whose ratchet stopped at version 2 opened again without the
 * cap: its headers announce version 3, the peer's ratchet moves to it, and
 * the peer's headers (announcing 3 all along) move its own. */
static void test_ratchet_upgrade(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_v("alice_ru", 0, 2, false);
    sx_agent *bob = open_v("bob_ru", 0, 0, false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT], *link = NULL;
    assert_ok(sx_agent_create_invitation(alice, R.addr, bob_id, &link));
    assert_ok(sx_agent_join(bob, link, NULL, "bob's connInfo", 14, alice_id));
    sx_agent_free_text(link);
    sx_agent_event ev;
    expect(alice, SX_AGENT_EV_CONF, bob_id, &ev);
    char conf[SX_AGENT_CONN_ID_TEXT];
    memcpy(conf, ev.conf_id, sizeof conf);
    sx_agent_event_clear(&ev);
    assert_ok(sx_agent_allow(alice, bob_id, conf, "alice's connInfo", 16));
    expect_pq(alice, SX_AGENT_EV_CON, bob_id, false, NULL);
    expect_pq(bob, SX_AGENT_EV_INFO, alice_id, false, "alice's connInfo");
    expect_pq(bob, SX_AGENT_EV_CON, alice_id, false, NULL);
    messages_both_ways(alice, bob_id, bob, alice_id, false);
    check_ratchets(alice, bob_id, RATCHET_PREV, bob, alice_id, CURRENT);

    sx_agent_close(alice);
    alice = open_v("alice_ru", 0, 0, false);
    send_expect_sent(alice, bob_id, "upgraded", 6);
    expect_sent(alice, bob_id, 6);
    expect_msg(bob, alice_id, "upgraded", 6, false);
    assert_int_equal(versions(bob, alice_id).e2e, 3);
    assert_int_equal(versions(alice, bob_id).e2e, 2);
    send_expect_sent(bob, alice_id, "welcome", 7);
    expect_sent(bob, alice_id, 7);
    expect_msg(alice, bob_id, "welcome", 7, false);
    check_ratchets(alice, bob_id, CURRENT, bob, alice_id, CURRENT);
    /* Messages go on flowing on version 3. */
    send_expect_sent(alice, bob_id, "on v3", 8);
    expect_sent(alice, bob_id, 8);
    expect_msg(bob, alice_id, "on v3", 8, false);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

/* ---- the connection's agent version ---- */

/* exchangeGreetingsMsgId_: alice sends id, bob id + 1, each acknowledged. */
static void greetings(int64_t id, sx_agent *alice, const char *bob_id, sx_agent *bob,
                      const char *alice_id)
{
    send_expect_sent(alice, bob_id, "hello", id);
    expect_sent(alice, bob_id, id);
    expect_msg(bob, alice_id, "hello", id, false);
    send_expect_sent(bob, alice_id, "hello too", id + 1);
    expect_sent(bob, alice_id, id + 1);
    expect_msg(alice, bob_id, "hello too", id + 1, false);
}

/* A connection between alice (agent versions up to a_max) and bob (b_max),
 * PQ off as in the reference's tests; the first greetings, ids 2 and 3. */
static void connect_versions(sx_agent **alice, const char *an, uint16_t a_max, sx_agent **bob,
                             const char *bn, uint16_t b_max, char *bob_id, char *alice_id)
{
    router_start();
    *alice = open_v(an, a_max, 0, true);
    *bob = open_v(bn, b_max, 0, true);
    char *link = NULL;
    assert_ok(sx_agent_create_invitation(*alice, R.addr, bob_id, &link));
    assert_ok(sx_agent_join(*bob, link, NULL, "bob", 3, alice_id));
    sx_agent_free_text(link);
    sx_agent_event ev;
    expect(*alice, SX_AGENT_EV_CONF, bob_id, &ev);
    char conf[SX_AGENT_CONN_ID_TEXT];
    memcpy(conf, ev.conf_id, sizeof conf);
    sx_agent_event_clear(&ev);
    assert_ok(sx_agent_allow(*alice, bob_id, conf, "alice", 5));
    expect_pq(*alice, SX_AGENT_EV_CON, bob_id, false, NULL);
    expect_pq(*bob, SX_AGENT_EV_INFO, alice_id, false, "alice");
    expect_pq(*bob, SX_AGENT_EV_CON, alice_id, false, NULL);
    greetings(2, *alice, bob_id, *bob, alice_id);
}

/* The agent closed and opened again from its store with another cap. */
static sx_agent *reopen(sx_agent *a, const char *name, uint16_t max)
{
    sx_agent_close(a);
    return open_v(name, max, 0, true);
}

/* testIncreaseConnAgentVersion */
static void test_conn_version_increase(void **state)
{
    (void)state;
    sx_agent *alice, *bob;
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    connect_versions(&alice, "alice_up", 5, &bob, "bob_up", 5, bob_id, alice_id);
    check_agent_version(alice, bob_id, 5);
    check_agent_version(bob, alice_id, 5);

    /* Not while the peer cannot go higher. */
    alice = reopen(alice, "alice_up", 6);
    greetings(4, alice, bob_id, bob, alice_id);
    check_agent_version(alice, bob_id, 5);
    check_agent_version(bob, alice_id, 5);

    /* Both can: both rise. */
    bob = reopen(bob, "bob_up", 6);
    greetings(6, alice, bob_id, bob, alice_id);
    check_agent_version(alice, bob_id, 6);
    check_agent_version(bob, alice_id, 6);

    /* Never down, whichever side is opened with a lower cap. */
    alice = reopen(alice, "alice_up", 5);
    greetings(8, alice, bob_id, bob, alice_id);
    check_agent_version(alice, bob_id, 6);
    check_agent_version(bob, alice_id, 6);
    bob = reopen(bob, "bob_up", 4);
    greetings(10, alice, bob_id, bob, alice_id);
    check_agent_version(alice, bob_id, 6);
    check_agent_version(bob, alice_id, 6);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

/* testIncreaseConnAgentVersionMaxCompatible: up to the highest version
 * both speak, not the higher side's. */
static void test_conn_version_max_compatible(void **state)
{
    (void)state;
    sx_agent *alice, *bob;
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    connect_versions(&alice, "alice_mc", 5, &bob, "bob_mc", 5, bob_id, alice_id);
    check_agent_version(alice, bob_id, 5);
    check_agent_version(bob, alice_id, 5);
    alice = reopen(alice, "alice_mc", 6);
    bob = reopen(bob, "bob_mc", 0);
    greetings(4, alice, bob_id, bob, alice_id);
    check_agent_version(alice, bob_id, 6);
    check_agent_version(bob, alice_id, 6);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

/* testIncreaseConnAgentVersionStartDifferentVersion: agreed on the lower of
 * the two in the handshake, raised when the lower side is upgraded. */
static void test_conn_version_start_different(void **state)
{
    (void)state;
    sx_agent *alice, *bob;
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    connect_versions(&alice, "alice_sd", 5, &bob, "bob_sd", 6, bob_id, alice_id);
    check_agent_version(alice, bob_id, 5);
    check_agent_version(bob, alice_id, 5);
    alice = reopen(alice, "alice_sd", 6);
    greetings(4, alice, bob_id, bob, alice_id);
    check_agent_version(alice, bob_id, 6);
    check_agent_version(bob, alice_id, 6);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

/* ---- getRatchetAdHash ---- */

static void test_ratchet_ad_hash(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice_ad", false);
    sx_agent *bob = open_agent("bob_ad", false);
    char b1[SX_AGENT_CONN_ID_TEXT], a1[SX_AGENT_CONN_ID_TEXT];
    char b2[SX_AGENT_CONN_ID_TEXT], a2[SX_AGENT_CONN_ID_TEXT];
    connect_pair(alice, bob, b1, a1, true);
    connect_pair(alice, bob, b2, a2, true);
    uint8_t h1a[SX_AGENT_AD_HASH_LEN], h1b[SX_AGENT_AD_HASH_LEN];
    uint8_t h2a[SX_AGENT_AD_HASH_LEN], h2b[SX_AGENT_AD_HASH_LEN];
    assert_ok(sx_agent_ratchet_ad_hash(alice, b1, h1a));
    assert_ok(sx_agent_ratchet_ad_hash(bob, a1, h1b));
    assert_ok(sx_agent_ratchet_ad_hash(alice, b2, h2a));
    assert_ok(sx_agent_ratchet_ad_hash(bob, a2, h2b));
    assert_memory_equal(h1a, h1b, sizeof h1a);
    assert_memory_equal(h2a, h2b, sizeof h2a);
    assert_memory_not_equal(h1a, h2a, sizeof h1a);
    /* Unchanged by messages (the associated data is fixed at the
     * handshake). */
    send_expect_sent(alice, b1, "hi", 2);
    expect_sent(alice, b1, 2);
    expect_msg(bob, a1, "hi", 2, true);
    uint8_t h[SX_AGENT_AD_HASH_LEN];
    assert_ok(sx_agent_ratchet_ad_hash(bob, a1, h));
    assert_memory_equal(h, h1a, sizeof h);
    /* No ratchet yet: an invitation nobody joined. */
    char pending[SX_AGENT_CONN_ID_TEXT], *link = NULL;
    assert_ok(sx_agent_create_invitation(alice, R.addr, pending, &link));
    sx_agent_free_text(link);
    assert_int_equal(sx_agent_ratchet_ad_hash(alice, pending, h), SX_E_USAGE);
    sx_agent_conn_versions v;
    assert_ok(sx_agent_connection_versions(alice, pending, &v));
    assert_int_equal(v.agent, 7);
    assert_int_equal(v.e2e, 0);
    assert_int_equal(sx_agent_ratchet_ad_hash(alice, "AAAAAAAAAAAAAAAA", h), SX_E_USAGE);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

/* Caps outside the supported ranges. */
static void test_bad_caps(void **state)
{
    (void)state;
    static const uint16_t bad[][2] = {{1, 0}, {8, 0}, {0, 1}, {0, 4}, {0xffff, 0xffff}};
    char p[128];
    db_path(p, sizeof p, "bad");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sx_agent_opts o;
        memset(&o, 0, sizeof o);
        o.agent_version_max = bad[i][0];
        o.e2e_version_max = bad[i][1];
        sx_agent *a = NULL;
        assert_int_equal(sx_agent_open(p, &o, &a), SX_E_USAGE);
        assert_null(a);
    }
    /* The lowest ones are fine. */
    sx_agent_opts o;
    memset(&o, 0, sizeof o);
    o.agent_version_max = 2;
    o.e2e_version_max = 2;
    sx_agent *a = NULL;
    assert_ok(sx_agent_open(p, &o, &a));
    sx_agent_close(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ratchet_current, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_ratchet_prev, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_ratchet_prev_to_current, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_ratchet_current_to_prev, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_agent_prev, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_ratchet_upgrade, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_conn_version_increase, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_conn_version_max_compatible, pair_setup,
                                        pair_teardown),
        cmocka_unit_test_setup_teardown(test_conn_version_start_different, pair_setup,
                                        pair_teardown),
        cmocka_unit_test_setup_teardown(test_ratchet_ad_hash, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_bad_caps, pair_setup, pair_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
