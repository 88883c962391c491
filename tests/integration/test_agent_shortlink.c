/* Short links in the agent (include/simplex/agent.h, docs/AGENT.md "Short
 * links") over a real smp-server process, as the reference's "should
 * connect via 1-time short link", "should connect via contact short link"
 * and setConnShortLink tests: an invitation joined by its short link (LKEY
 * secures the inviter's queue, no SKEY; CONF, CON, messages both ways),
 * and the link refused to a second joiner; a join repeated after a
 * failure past its LKEY (the stored key sent again); a contact address joined by
 * two requesters through its short link, its user data replaced and seen
 * by the later one, the link deleted and then unknown; a short link added
 * to an address made without one ("should add short link to existing
 * contact and connect"); tampered and
 * unknown links refused with a clear error; an address's link prepared
 * before its queue and then created ("should connect via prepared
 * connection link"); links on preset routers named by host alone. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simplex/agent.h"

#include "agent_pair.h"
#include "pool_router.h"

static void expect_req(sx_agent *a, const char *addr, const char *info,
                       char inv[SX_AGENT_CONN_ID_TEXT])
{
    sx_agent_event ev;
    expect(a, SX_AGENT_EV_REQ, addr, &ev);
    expect_body(&ev, info);
    memcpy(inv, ev.inv_id, SX_AGENT_CONN_ID_TEXT);
    sx_agent_event_clear(&ev);
}

/* The handshake after the join: the inviter allows, CON on both sides. */
static void finish_handshake(sx_agent *inviter, const char *inv_conn, sx_agent *joiner,
                             const char *join_conn, const char *joiner_info)
{
    sx_agent_event ev;
    expect(inviter, SX_AGENT_EV_CONF, inv_conn, &ev);
    expect_body(&ev, joiner_info);
    char conf[SX_AGENT_CONN_ID_TEXT];
    memcpy(conf, ev.conf_id, sizeof conf);
    sx_agent_event_clear(&ev);
    assert_ok(sx_agent_allow(inviter, inv_conn, conf, "inviter's info", 14));
    expect(inviter, SX_AGENT_EV_CON, inv_conn, &ev);
    sx_agent_event_clear(&ev);
    expect(joiner, SX_AGENT_EV_INFO, join_conn, &ev);
    expect_body(&ev, "inviter's info");
    sx_agent_event_clear(&ev);
    expect(joiner, SX_AGENT_EV_CON, join_conn, &ev);
    sx_agent_event_clear(&ev);
}

/* The short link's form as the reference prints it, with our router. */
static void check_short_text(const char *s, const char *prefix)
{
    assert_int_equal(strncmp(s, prefix, strlen(prefix)), 0);
    assert_string_equal(strstr(s, "?"), strstr(s, "?p=")); /* the one host is the authority */
    assert_non_null(strstr(s, "&c="));
}

static void test_invitation_short(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice_si", false);
    sx_agent *bob = open_agent("bob_si", false);
    sx_agent *carol = open_agent("carol_si", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT], other[SX_AGENT_CONN_ID_TEXT];
    char *link = NULL, *sl = NULL;
    assert_ok(sx_agent_create_invitation_short(alice, R.addr, "alice's profile", 15, bob_id, &link, &sl));
    assert_non_null(strstr(link, "simplex:/invitation#/?v=2-7&smp="));
    check_short_text(sl, "https://127.0.0.1/i#");
    /* <link id>/<key>: 32 and 43 characters of unpadded base64url. */
    const char *slash = strchr(sl + 20, '/');
    assert_non_null(slash);
    assert_int_equal(slash - (sl + 20), 32);
    assert_int_equal(strchr(slash, '?') - (slash + 1), 43);
    /* The user data of an invitation not joined yet can be replaced. */
    assert_ok(sx_agent_set_short_link_data(alice, bob_id, "alice's new profile", 19));
    assert_ok(sx_agent_join(bob, sl, NULL, "bob's info", 10, alice_id));
    finish_handshake(alice, bob_id, bob, alice_id, "bob's info");
    send_expect_sent(alice, bob_id, "hello", 2);
    expect_sent(alice, bob_id, 2);
    expect_msg(bob, alice_id, "hello", 2, 1);
    send_expect_sent(bob, alice_id, "hello too", 3);
    expect_sent(bob, alice_id, 3);
    expect_msg(alice, bob_id, "hello too", 3, 1);
    /* One-time: the queue is secured with bob's key, carol's LKEY fails. */
    assert_int_not_equal(sx_agent_join(carol, sl, NULL, "carol", 5, other), SX_OK);
    assert_non_null(strstr(sx_error_message(), "short link"));
    /* An invitation's data is only read by joining it. */
    char *data = NULL;
    size_t dlen = 0;
    assert_int_equal(sx_agent_short_link_data(carol, sl, NULL, &data, &dlen), SX_E_USAGE);
    sx_agent_free_text(link);
    sx_agent_free_text(sl);
    sx_agent_close(alice);
    sx_agent_close(bob);
    sx_agent_close(carol);
    router_kill9();
}

/* A join that failed after its LKEY (here: a reply router that does not
 * parse) repeated: the sender key was stored before the LKEY, so the
 * router accepts the same key again and the join goes through. */
static void test_invitation_short_retry(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice_sr", false);
    sx_agent *bob = open_agent("bob_sr", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    char *sl = NULL;
    assert_ok(sx_agent_create_invitation_short(alice, R.addr, "", 0, bob_id, NULL, &sl));
    assert_int_not_equal(sx_agent_join(bob, sl, "smp://not-a-router", "bob's info", 10, alice_id), SX_OK);
    assert_ok(sx_agent_join(bob, sl, NULL, "bob's info", 10, alice_id));
    finish_handshake(alice, bob_id, bob, alice_id, "bob's info");
    send_expect_sent(bob, alice_id, "hello", 2);
    expect_sent(bob, alice_id, 2);
    expect_msg(alice, bob_id, "hello", 2, 1);
    sx_agent_free_text(sl);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

static void expect_data(sx_agent *a, const char *sl, const char *want, const char *full)
{
    char *data = NULL, *link = NULL;
    size_t dlen = 0;
    assert_ok(sx_agent_short_link_data(a, sl, &link, &data, &dlen));
    assert_int_equal(dlen, strlen(want));
    assert_string_equal(data, want);
    assert_string_equal(link, full);
    sx_agent_free_text(data);
    sx_agent_free_text(link);
}

static void test_contact_short(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice_sc", false);
    sx_agent *bob = open_agent("bob_sc", false);
    sx_agent *carol = open_agent("carol_sc", false);
    char addr[SX_AGENT_CONN_ID_TEXT], *link = NULL, *sl = NULL;
    assert_ok(sx_agent_create_contact_short(alice, R.addr, "profile v1", 10, addr, &link, &sl));
    assert_non_null(strstr(link, "simplex:/contact#/?v=2-7&smp="));
    check_short_text(sl, "https://127.0.0.1/a#");
    assert_null(strchr(sl + 20, '/')); /* a contact link has no link id */
    expect_data(carol, sl, "profile v1", link);

    char bob_alice[SX_AGENT_CONN_ID_TEXT], carol_alice[SX_AGENT_CONN_ID_TEXT];
    char bob_inv[SX_AGENT_CONN_ID_TEXT], carol_inv[SX_AGENT_CONN_ID_TEXT];
    assert_ok(sx_agent_join(bob, sl, NULL, "bob's request", 13, bob_alice));
    expect_req(alice, addr, "bob's request", bob_inv);

    /* The owner replaces the user data; a later reader sees the new one. */
    assert_ok(sx_agent_set_short_link_data(alice, addr, "profile v2, longer", 18));
    /* Reopened, the owner still holds what updating it needs. */
    sx_agent_close(alice);
    alice = open_agent("alice_sc", false);
    assert_ok(sx_agent_set_short_link_data(alice, addr, "profile v3", 10));
    expect_data(carol, sl, "profile v3", link);
    assert_ok(sx_agent_join(carol, sl, NULL, "carol's request", 15, carol_alice));
    expect_req(alice, addr, "carol's request", carol_inv);

    char alice_bob[SX_AGENT_CONN_ID_TEXT], alice_carol[SX_AGENT_CONN_ID_TEXT];
    assert_ok(sx_agent_accept_contact(alice, bob_inv, NULL, "alice's info", 12, alice_bob));
    finish_handshake(bob, bob_alice, alice, alice_bob, "alice's info");
    assert_ok(sx_agent_accept_contact(alice, carol_inv, NULL, "alice's info", 12, alice_carol));
    finish_handshake(carol, carol_alice, alice, alice_carol, "alice's info");
    send_expect_sent(alice, alice_bob, "hello bob", 2);
    expect_sent(alice, alice_bob, 2);
    expect_msg(bob, bob_alice, "hello bob", 2, 1);
    send_expect_sent(carol, carol_alice, "hello alice", 2);
    expect_sent(carol, carol_alice, 2);
    expect_msg(alice, alice_carol, "hello alice", 2, 1);

    /* Deleted: the router no longer knows the link; the full link stays. */
    assert_ok(sx_agent_delete_short_link(alice, addr));
    assert_int_equal(sx_agent_delete_short_link(alice, addr), SX_E_USAGE);
    char *data = NULL;
    size_t dlen = 0;
    assert_int_not_equal(sx_agent_short_link_data(carol, sl, NULL, &data, &dlen), SX_OK);
    assert_non_null(strstr(sx_error_message(), "short link"));
    assert_int_equal(sx_agent_set_short_link_data(alice, addr, "x", 1), SX_E_USAGE);
    sx_agent_free_text(link);
    sx_agent_free_text(sl);
    sx_agent_close(alice);
    sx_agent_close(bob);
    sx_agent_close(carol);
    router_kill9();
}

/* The reference's testAddContactShortLink: an address made without a short
 * link gets one afterwards (its queue and full link stay); two users read
 * it, the same one twice; a request through the full link connects; the
 * user data replaced gives the same short link, also after a restart. */
static void test_add_contact_short(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice_ac", false);
    sx_agent *bob = open_agent("bob_ac", false);
    sx_agent *carol = open_agent("carol_ac", false);
    char addr[SX_AGENT_CONN_ID_TEXT], *link = NULL, *sl = NULL, *sl2 = NULL;
    assert_ok(sx_agent_create_contact(alice, R.addr, addr, &link));
    /* Made without one: nothing to update yet. */
    assert_int_equal(sx_agent_set_short_link_data(alice, addr, "x", 1), SX_E_USAGE);
    assert_ok(sx_agent_set_contact_short_link(alice, addr, "some user data", 14, &sl));
    check_short_text(sl, "https://127.0.0.1/a#");
    expect_data(bob, sl, "some user data", link);
    expect_data(bob, sl, "some user data", link); /* the same user again */
    expect_data(carol, sl, "some user data", link);

    char bob_alice[SX_AGENT_CONN_ID_TEXT], bob_inv[SX_AGENT_CONN_ID_TEXT];
    char alice_bob[SX_AGENT_CONN_ID_TEXT];
    assert_ok(sx_agent_join(bob, link, NULL, "bob's connInfo", 14, bob_alice));
    expect_req(alice, addr, "bob's connInfo", bob_inv);
    assert_ok(sx_agent_accept_contact(alice, bob_inv, NULL, "alice's connInfo", 16, alice_bob));
    finish_handshake(bob, bob_alice, alice, alice_bob, "alice's connInfo");
    send_expect_sent(alice, alice_bob, "hello", 2);
    expect_sent(alice, alice_bob, 2);
    expect_msg(bob, bob_alice, "hello", 2, 1);
    send_expect_sent(bob, bob_alice, "hello too", 3);
    expect_sent(bob, bob_alice, 3);
    expect_msg(alice, alice_bob, "hello too", 3, 1);

    /* The user data replaced: the same link, the new data. */
    assert_ok(sx_agent_set_contact_short_link(alice, addr, "updated user data", 17, &sl2));
    assert_string_equal(sl2, sl);
    sx_agent_free_text(sl2);
    expect_data(carol, sl, "updated user data", link);
    sx_agent_close(alice);
    alice = open_agent("alice_ac", false);
    assert_ok(sx_agent_set_contact_short_link(alice, addr, "after a restart", 15, &sl2));
    assert_string_equal(sl2, sl);
    sx_agent_free_text(sl2);
    expect_data(bob, sl, "after a restart", link);
    /* Only for an address. */
    assert_int_equal(sx_agent_set_contact_short_link(alice, alice_bob, "x", 1, &sl2), SX_E_USAGE);
    assert_null(sl2);
    sx_agent_free_text(link);
    sx_agent_free_text(sl);
    sx_agent_close(alice);
    sx_agent_close(bob);
    sx_agent_close(carol);
    router_kill9();
}

/* The first character of the link key changed (another key). */
static void tamper_key(char *sl)
{
    char *q = strchr(sl, '?');
    char *k = q;
    while (k > sl && k[-1] != '/' && k[-1] != '#')
        k--;
    *k = *k == 'A' ? 'B' : 'A';
}

static void test_bad_short_links(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice_sb", false);
    sx_agent *bob = open_agent("bob_sb", false);
    char conn[SX_AGENT_CONN_ID_TEXT], addr[SX_AGENT_CONN_ID_TEXT], other[SX_AGENT_CONN_ID_TEXT];
    char *inv = NULL, *ct = NULL;
    assert_ok(sx_agent_create_invitation_short(alice, R.addr, "", 0, conn, NULL, &inv));
    assert_ok(sx_agent_create_contact_short(alice, R.addr, "", 0, addr, NULL, &ct));
    /* An invitation's link id with another key: the router gives the data,
     * which does not open with the key. */
    tamper_key(inv);
    assert_int_not_equal(sx_agent_join(bob, inv, NULL, "bob", 3, other), SX_OK);
    assert_string_equal(sx_error_code(), "A_LINK");
    assert_non_null(strstr(sx_error_message(), "does not verify"));
    /* An address's link id comes from its key: another key is unknown. */
    tamper_key(ct);
    assert_int_not_equal(sx_agent_join(bob, ct, NULL, "bob", 3, other), SX_OK);
    assert_non_null(strstr(sx_error_message(), "short link's router"));
    /* A link naming a router by host only (a preset router we do not have). */
    assert_int_equal(sx_agent_join(bob, "https://smp.simplex.im/a#MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY", NULL,
                                   "bob", 3, other),
                     SX_E_USAGE);
    /* Nothing was made on bob's side. */
    sx_agent_conn_info *ci = NULL;
    size_t n = 0;
    assert_ok(sx_agent_connections(bob, &ci, &n));
    assert_int_equal(n, 0);
    free(ci);
    sx_agent_free_text(inv);
    sx_agent_free_text(ct);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

/* The full link given beside an invitation's short link leaves the KEM key
 * out, as the reference's agent (it is in the short link's data); a peer
 * joining that full link still connects. */
static void test_invitation_full_beside_short(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice_sf", false);
    sx_agent *bob = open_agent("bob_sf", false);
    char plain_id[SX_AGENT_CONN_ID_TEXT], bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    char *plain = NULL, *link = NULL, *sl = NULL;
    assert_ok(sx_agent_create_invitation(alice, R.addr, plain_id, &plain));
    assert_non_null(strstr(plain, "kem_key"));
    assert_ok(sx_agent_create_invitation_short(alice, R.addr, "", 0, bob_id, &link, &sl));
    assert_null(strstr(link, "kem_key"));
    assert_ok(sx_agent_join(bob, link, NULL, "bob's info", 10, alice_id));
    finish_handshake(alice, bob_id, bob, alice_id, "bob's info");
    send_expect_sent(alice, bob_id, "hello", 2);
    expect_sent(alice, bob_id, 2);
    expect_msg(bob, alice_id, "hello", 2, 1);
    send_expect_sent(bob, alice_id, "hello too", 3);
    expect_sent(bob, alice_id, 3);
    expect_msg(alice, bob_id, "hello too", 3, 1);
    sx_agent_free_text(plain);
    sx_agent_free_text(link);
    sx_agent_free_text(sl);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

/* The reference's "should connect via prepared connection link": the
 * address's short link is made before its queue (unknown to the router
 * until then), the queue made with the link's data, which a reader gets
 * with the entity id given at preparation, then a requester joins through
 * it and the two exchange messages. */
static void test_prepared_contact(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice_sp", false);
    sx_agent *bob = open_agent("bob_sp", false);
    uint8_t entity[32];
    for (size_t i = 0; i < sizeof entity; i++)
        entity[i] = (uint8_t)(i * 7 + 1);
    char *link = NULL, *sl = NULL;
    sx_agent_prepared_link *p = NULL;
    assert_ok(sx_agent_prepare_contact_link(alice, R.addr, entity, sizeof entity, &link, &sl, &p));
    assert_non_null(strstr(link, "simplex:/contact#/?v=2-7&smp="));
    check_short_text(sl, "https://127.0.0.1/a#");
    /* Nothing exists yet: neither the connection nor the link. */
    sx_agent_conn_info *ci = NULL;
    size_t n = 0;
    assert_ok(sx_agent_connections(alice, &ci, &n));
    assert_int_equal(n, 0);
    free(ci);
    char *data = NULL;
    size_t dlen = 0;
    assert_int_not_equal(sx_agent_short_link_data(bob, sl, NULL, &data, &dlen), SX_OK);
    assert_non_null(strstr(sx_error_message(), "short link's router"));

    char addr[SX_AGENT_CONN_ID_TEXT];
    assert_ok(sx_agent_create_contact_for_link(alice, p, "test user data", 14, addr));
    char *got_link = NULL, *ent = NULL;
    size_t ent_len = 0;
    assert_ok(sx_agent_short_link_info(bob, sl, &got_link, &data, &dlen, &ent, &ent_len));
    assert_string_equal(data, "test user data");
    assert_string_equal(got_link, link);
    assert_int_equal(ent_len, sizeof entity);
    assert_memory_equal(ent, entity, sizeof entity);
    sx_agent_free_text(data);
    sx_agent_free_text(got_link);
    sx_agent_free_text(ent);

    /* A second queue from the same prepared link: its sender id is taken. */
    char again[SX_AGENT_CONN_ID_TEXT];
    assert_int_not_equal(sx_agent_create_contact_for_link(alice, p, "x", 1, again), SX_OK);
    assert_string_equal(sx_error_code(), "AUTH"); /* as the reference's router */
    assert_ok(sx_agent_connections(alice, &ci, &n));
    assert_int_equal(n, 1); /* the failed one left no connection */
    free(ci);
    sx_agent_prepared_link_free(p);

    char bob_alice[SX_AGENT_CONN_ID_TEXT], inv[SX_AGENT_CONN_ID_TEXT], alice_bob[SX_AGENT_CONN_ID_TEXT];
    assert_ok(sx_agent_join(bob, sl, NULL, "bob's connInfo", 14, bob_alice));
    expect_req(alice, addr, "bob's connInfo", inv);
    assert_ok(sx_agent_accept_contact(alice, inv, NULL, "alice's info", 12, alice_bob));
    finish_handshake(bob, bob_alice, alice, alice_bob, "alice's info");
    send_expect_sent(alice, alice_bob, "hello", 2);
    expect_sent(alice, alice_bob, 2);
    expect_msg(bob, bob_alice, "hello", 2, 1);
    send_expect_sent(bob, bob_alice, "hello too", 3);
    expect_sent(bob, bob_alice, 3);
    expect_msg(alice, alice_bob, "hello too", 3, 1);
    /* A link prepared without an entity id has none. */
    char *sl2 = NULL;
    assert_ok(sx_agent_prepare_contact_link(alice, R.addr, NULL, 0, NULL, &sl2, &p));
    assert_ok(sx_agent_create_contact_for_link(alice, p, "", 0, again));
    sx_agent_prepared_link_free(p);
    assert_ok(sx_agent_short_link_info(bob, sl2, NULL, &data, &dlen, &ent, &ent_len));
    assert_null(ent);
    assert_int_equal(dlen, 0);
    sx_agent_free_text(data);
    sx_agent_free_text(sl2);
    sx_agent_free_text(link);
    sx_agent_free_text(sl);
    sx_agent_close(alice);
    sx_agent_close(bob);
    router_kill9();
}

static sx_agent *open_with_presets(const char *name, const char *preset)
{
    sx_agent_opts o;
    memset(&o, 0, sizeof o);
    const char *list[1] = {preset};
    o.preset_routers = list;
    o.n_preset_routers = 1;
    return open_agent_opts(name, &o);
}

/* Preset routers (the reference's shortenShortLink / restoreShortLink in
 * the agent's flows): links made on a preset router name it by its host
 * alone; agents with the same preset join them, an agent without it
 * cannot; a preset that differs from the router (another port) does not
 * shorten. */
static void test_preset_routers(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_with_presets("alice_pr", R.addr);
    sx_agent *bob = open_with_presets("bob_pr", R.addr);
    sx_agent *carol = open_agent("carol_pr", false);
    char addr[SX_AGENT_CONN_ID_TEXT], conn[SX_AGENT_CONN_ID_TEXT], other[SX_AGENT_CONN_ID_TEXT];
    char *ct = NULL, *inv = NULL;
    assert_ok(sx_agent_create_contact_short(alice, R.addr, "profile", 7, addr, NULL, &ct));
    /* https://127.0.0.1/a#<43 characters of key> and nothing more (the
     * reference's "https://smp.simplex.im/a#..." of a preset) */
    assert_int_equal(strncmp(ct, "https://127.0.0.1/a#", 20), 0);
    assert_int_equal(strlen(ct), 20 + 43);
    assert_ok(sx_agent_create_invitation_short(alice, R.addr, "", 0, conn, NULL, &inv));
    assert_int_equal(strncmp(inv, "https://127.0.0.1/i#", 20), 0);
    assert_int_equal(strlen(inv), 20 + 32 + 1 + 43);

    /* Without the preset the router is unknown: refused, nothing made. */
    assert_int_equal(sx_agent_join(carol, ct, NULL, "carol", 5, other), SX_E_USAGE);
    assert_non_null(strstr(sx_error_message(), "preset"));
    assert_int_equal(sx_agent_join(carol, inv, NULL, "carol", 5, other), SX_E_USAGE);

    char *data = NULL;
    size_t dlen = 0;
    assert_ok(sx_agent_short_link_data(bob, ct, NULL, &data, &dlen));
    assert_string_equal(data, "profile");
    sx_agent_free_text(data);
    char bob_alice[SX_AGENT_CONN_ID_TEXT], req[SX_AGENT_CONN_ID_TEXT], alice_bob[SX_AGENT_CONN_ID_TEXT];
    assert_ok(sx_agent_join(bob, ct, NULL, "bob's request", 13, bob_alice));
    expect_req(alice, addr, "bob's request", req);
    assert_ok(sx_agent_accept_contact(alice, req, NULL, "alice's info", 12, alice_bob));
    finish_handshake(bob, bob_alice, alice, alice_bob, "alice's info");
    char alice_id[SX_AGENT_CONN_ID_TEXT];
    assert_ok(sx_agent_join(bob, inv, NULL, "bob's info", 10, alice_id));
    finish_handshake(alice, conn, bob, alice_id, "bob's info");
    send_expect_sent(bob, alice_id, "hello", 2);
    expect_sent(bob, alice_id, 2);
    expect_msg(alice, conn, "hello", 2, 1);

    /* The same key hash and host on another port is not this router. */
    char near[300];
    const char *colon = strrchr(R.addr, ':');
    snprintf(near, sizeof near, "%.*s:1", (int)(colon - R.addr), R.addr);
    sx_agent *dave = open_with_presets("dave_pr", near);
    char *full = NULL;
    assert_ok(sx_agent_create_contact_short(dave, R.addr, "", 0, other, NULL, &full));
    check_short_text(full, "https://127.0.0.1/a#");
    /* A preset that is not an smp:// address is refused at open. */
    sx_agent_opts o;
    memset(&o, 0, sizeof o);
    const char *bad[1] = {"not a router"};
    o.preset_routers = bad;
    o.n_preset_routers = 1;
    char path[128];
    db_path(path, sizeof path, "erin_pr");
    sx_agent *erin = NULL;
    assert_int_equal(sx_agent_open(path, &o, &erin), SX_E_PROTOCOL);
    assert_null(erin);
    sx_agent_free_text(full);
    sx_agent_free_text(ct);
    sx_agent_free_text(inv);
    sx_agent_close(alice);
    sx_agent_close(bob);
    sx_agent_close(carol);
    sx_agent_close(dave);
    router_kill9();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_invitation_short, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_invitation_short_retry, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_contact_short, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_add_contact_short, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_bad_short_links, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_invitation_full_beside_short, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_prepared_contact, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_preset_routers, pair_setup, pair_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
