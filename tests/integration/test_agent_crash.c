/* Crash safety of the handshake's stored commands (docs/AGENT.md,
 * "Commands and crashes"): one side runs as the simplex-agent program with
 * SX_AGENT_CRASH_AT naming a step boundary, where the process ends at once
 * (_exit, what a kill -9 leaves); its store is then opened by an agent in
 * this process, which must take the handshake up by itself: CON on both
 * sides, messages both ways with the usual ids, and no second confirmation
 * or info. Every boundary of the joiner's JOIN (fast and legacy links) and
 * of the initiator's ALLOW is tried in turn, then those of a contact
 * address's requester (CJOIN: its queue, its invitation sent), of the
 * address's owner accepting (the JOIN of the invitation) and of a legacy
 * joiner's KEY and HELLO (KEYH); then the joiner's, the requester's and
 * the accepter's steps with the router down, retried by the agent until it
 * is back. */
#include "testutil.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "simplex/agent.h"

#include "agent_pair.h"
#include "pool_router.h"

extern char **environ;

/* The exit status of the crash hook (src/agent/agent_cmds.c). */
#define CRASH_EXIT 86

/* Runs simplex-agent with args (NULL-terminated, without the program) and
 * SX_AGENT_CRASH_AT=point (NULL: none), stdout to out (NULL: /dev/null);
 * returns its exit status (-1: not an exit). */
static int run_cli(const char *point, const char *out, const char *const *args)
{
    char *argv[16];
    size_t n = 0;
    argv[n++] = (char *)SX_AGENT_BIN;
    for (size_t i = 0; args[i] && n < 15; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    size_t ne = 0;
    while (environ[ne])
        ne++;
    char **envp = calloc(ne + 2, sizeof *envp);
    assert_non_null(envp);
    size_t k = 0;
    for (size_t i = 0; i < ne; i++)
        if (strncmp(environ[i], "SX_AGENT_CRASH_AT=", 18) != 0)
            envp[k++] = environ[i];
    char crash[64];
    if (point) {
        snprintf(crash, sizeof crash, "SX_AGENT_CRASH_AT=%s", point);
        envp[k++] = crash;
    }
    envp[k] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, SX_AGENT_BIN, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    free(envp);
    assert_int_equal(rc, 0);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The only connection of a (its id). */
static void only_conn(sx_agent *a, char id[SX_AGENT_CONN_ID_TEXT])
{
    sx_agent_conn_info *cs = NULL;
    size_t n = 0;
    assert_ok(sx_agent_connections(a, &cs, &n));
    assert_int_equal(n, 1);
    memcpy(id, cs[0].id, SX_AGENT_CONN_ID_TEXT);
    free(cs);
}

/* Nothing more for a while: no second CONF or INFO, no ERR. */
static void quiet(sx_agent *a)
{
    int64_t until = now_ms() + 1500;
    while (now_ms() < until) {
        sx_agent_event ev;
        assert_ok(sx_agent_next(a, 100, &ev));
        if (ev.kind != SX_AGENT_EV_NONE && ev.kind != SX_AGENT_EV_UP &&
            ev.kind != SX_AGENT_EV_DOWN)
            fail_msg("unexpected %s of %s", sx_agent_event_name(ev.kind), ev.conn);
        sx_agent_event_clear(&ev);
    }
}

/* After CON on both sides: messages both ways (the confirmations took id
 * 1 on both sides), then nothing more. */
static void converse(sx_agent *alice, sx_agent *bob, const char *bob_id, const char *alice_id,
                     int64_t first)
{
    send_expect_sent(alice, bob_id, "hello", first);
    expect_sent(alice, bob_id, first);
    expect_msg(bob, alice_id, "hello", first, -1);
    send_expect_sent(bob, alice_id, "hello too", first + 1);
    expect_sent(bob, alice_id, first + 1);
    expect_msg(alice, bob_id, "hello too", first + 1, -1);
    quiet(alice);
    quiet(bob);
}

/* The link a program printed to file out. */
static void read_link(const char *out, char *link, size_t cap)
{
    FILE *f = fopen(out, "r");
    assert_non_null(f);
    assert_non_null(fgets(link, (int)cap, f));
    fclose(f);
    link[strcspn(link, "\n")] = '\0';
}

/* alice in this process invites; bob joins as the program and ends at
 * point; bob's store opened here finishes the handshake. */
static void join_crash(const char *point, int iter, bool legacy)
{
    char an[32], bn[32], bdb[128];
    snprintf(an, sizeof an, "ja%d", iter);
    snprintf(bn, sizeof bn, "jb%d", iter);
    db_path(bdb, sizeof bdb, bn);
    sx_agent_opts o;
    memset(&o, 0, sizeof o);
    o.legacy_handshake = legacy;
    sx_agent *alice = open_agent_opts(an, &o);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    char *link = NULL;
    assert_ok(sx_agent_create_invitation(alice, R.addr, bob_id, &link));
    const char *args[] = {"--db", bdb, "join", link, NULL};
    int rc = run_cli(point, NULL, args);
    if (rc != CRASH_EXIT)
        fail_msg("join at %s: exit %d, expected the crash", point, rc);
    if (strcmp(point, "join-uncommitted") == 0) {
        /* Nothing of the join stays (not even its connection row): the
         * program joins again from the start. */
        sx_agent *b0 = open_agent(bn, false);
        sx_agent_conn_info *cs = NULL;
        size_t n = 0;
        assert_ok(sx_agent_connections(b0, &cs, &n));
        free(cs);
        assert_int_equal(n, 0);
        sx_agent_close(b0);
        assert_int_equal(run_cli(NULL, NULL, args), 0);
    }
    sx_agent_free_text(link);
    sx_agent *bob = open_agent(bn, false);
    only_conn(bob, alice_id);
    sx_agent_event ev;
    expect(alice, SX_AGENT_EV_CONF, bob_id, &ev);
    char conf[SX_AGENT_CONN_ID_TEXT];
    memcpy(conf, ev.conf_id, sizeof conf);
    sx_agent_event_clear(&ev);
    assert_ok(sx_agent_allow(alice, bob_id, conf, "alice's info", 12));
    /* With a legacy inviter: KEY on its queue, SKEY on bob's reply queue
     * (bob's agent makes a queue its sender secures), no HELLO. */
    expect(alice, SX_AGENT_EV_CON, bob_id, &ev);
    sx_agent_event_clear(&ev);
    expect(bob, SX_AGENT_EV_INFO, alice_id, &ev);
    expect_body(&ev, "alice's info");
    sx_agent_event_clear(&ev);
    expect(bob, SX_AGENT_EV_CON, alice_id, &ev);
    sx_agent_event_clear(&ev);
    converse(alice, bob, bob_id, alice_id, 2);
    sx_agent_close(bob);
    sx_agent_close(alice);
}

/* alice invites and listens as the program, which ends at point while
 * allowing bob's confirmation; alice's store opened here finishes. */
static void allow_crash(const char *point, int iter)
{
    char an[32], bn[32], adb[128], out[160];
    snprintf(an, sizeof an, "aa%d", iter);
    snprintf(bn, sizeof bn, "ab%d", iter);
    db_path(adb, sizeof adb, an);
    snprintf(out, sizeof out, "%s/link%d", DIR_, iter);
    const char *inv[] = {"--db", adb, "invite", "--server", R.addr, NULL};
    assert_int_equal(run_cli(NULL, out, inv), 0);
    char link[8192];
    read_link(out, link, sizeof link);
    sx_agent *bob = open_agent(bn, false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    assert_ok(sx_agent_join(bob, link, NULL, "bob's info", 10, alice_id));
    const char *listen[] = {"--db", adb, "listen", "--accept", "--timeout", "60", NULL};
    int rc = run_cli(point, NULL, listen);
    if (rc != CRASH_EXIT)
        fail_msg("allow at %s: exit %d, expected the crash", point, rc);
    sx_agent *alice = open_agent(an, false);
    only_conn(alice, bob_id);
    sx_agent_event ev;
    expect(alice, SX_AGENT_EV_CON, bob_id, &ev);
    sx_agent_event_clear(&ev);
    expect(bob, SX_AGENT_EV_INFO, alice_id, &ev);
    sx_agent_event_clear(&ev);
    expect(bob, SX_AGENT_EV_CON, alice_id, &ev);
    sx_agent_event_clear(&ev);
    converse(alice, bob, bob_id, alice_id, 2);
    sx_agent_close(bob);
    sx_agent_close(alice);
}

/* The REQ of address addr (the request's id in inv). */
static void expect_req(sx_agent *a, const char *addr, char inv[SX_AGENT_CONN_ID_TEXT])
{
    sx_agent_event ev;
    expect(a, SX_AGENT_EV_REQ, addr, &ev);
    memcpy(inv, ev.inv_id, SX_AGENT_CONN_ID_TEXT);
    sx_agent_event_clear(&ev);
}

/* After the owner alice accepted (alice_bob, her new connection): bob, who
 * made the invitation, allows her confirmation; CON on both sides. */
static void contact_finish(sx_agent *alice, sx_agent *bob, const char *alice_bob,
                           const char *bob_alice)
{
    sx_agent_event ev;
    expect(bob, SX_AGENT_EV_CONF, bob_alice, &ev);
    char conf[SX_AGENT_CONN_ID_TEXT];
    memcpy(conf, ev.conf_id, sizeof conf);
    sx_agent_event_clear(&ev);
    assert_ok(sx_agent_allow(bob, bob_alice, conf, "bob's info", 10));
    expect(bob, SX_AGENT_EV_CON, bob_alice, &ev);
    sx_agent_event_clear(&ev);
    expect(alice, SX_AGENT_EV_INFO, alice_bob, &ev);
    expect_body(&ev, "bob's info");
    sx_agent_event_clear(&ev);
    expect(alice, SX_AGENT_EV_CON, alice_bob, &ev);
    sx_agent_event_clear(&ev);
    converse(alice, bob, alice_bob, bob_alice, 2);
}

/* alice in this process has a contact address; bob joins it as the
 * program and ends at point; bob's store opened here sends the request:
 * alice sees it once (also when bob's agent sent it again, the crash
 * coming after the router took it), accepts, and the handshake completes. */
static void contact_crash(const char *point, int iter)
{
    char an[32], bn[32], bdb[128];
    snprintf(an, sizeof an, "ca%d", iter);
    snprintf(bn, sizeof bn, "cb%d", iter);
    db_path(bdb, sizeof bdb, bn);
    sx_agent *alice = open_agent(an, false);
    char addr[SX_AGENT_CONN_ID_TEXT], *link = NULL;
    assert_ok(sx_agent_create_contact(alice, R.addr, addr, &link));
    const char *args[] = {"--db", bdb, "join", link, NULL};
    int rc = run_cli(point, NULL, args);
    sx_agent_free_text(link);
    if (rc != CRASH_EXIT)
        fail_msg("contact join at %s: exit %d, expected the crash", point, rc);
    sx_agent *bob = open_agent(bn, false);
    char bob_alice[SX_AGENT_CONN_ID_TEXT], alice_bob[SX_AGENT_CONN_ID_TEXT];
    only_conn(bob, bob_alice);
    char inv[SX_AGENT_CONN_ID_TEXT];
    expect_req(alice, addr, inv);
    assert_ok(sx_agent_accept_contact(alice, inv, NULL, "alice's info", 12, alice_bob));
    contact_finish(alice, bob, alice_bob, bob_alice);
    sx_agent_close(bob);
    sx_agent_close(alice);
}

/* The connection of a other than its address addr. */
static void other_conn(sx_agent *a, const char *addr, char id[SX_AGENT_CONN_ID_TEXT])
{
    sx_agent_conn_info *cs = NULL;
    size_t n = 0;
    assert_ok(sx_agent_connections(a, &cs, &n));
    assert_int_equal(n, 2);
    size_t i = strcmp(cs[0].id, addr) == 0 ? 1 : 0;
    assert_string_not_equal(cs[i].id, addr);
    memcpy(id, cs[i].id, SX_AGENT_CONN_ID_TEXT);
    free(cs);
}

/* alice's address and her listening program, which accepts bob's request
 * and ends at point (a step of the invitation's JOIN); alice's store
 * opened here finishes the handshake, with one connection for bob. */
static void accept_crash(const char *point, int iter)
{
    char an[32], bn[32], adb[128], out[160];
    snprintf(an, sizeof an, "xa%d", iter);
    snprintf(bn, sizeof bn, "xb%d", iter);
    db_path(adb, sizeof adb, an);
    snprintf(out, sizeof out, "%s/addr%d", DIR_, iter);
    const char *inv[] = {"--db", adb, "invite", "--contact", "--server", R.addr, NULL};
    assert_int_equal(run_cli(NULL, out, inv), 0);
    char link[8192];
    read_link(out, link, sizeof link);
    char addr[SX_AGENT_CONN_ID_TEXT];
    {
        sx_agent *a = open_agent(an, false);
        only_conn(a, addr);
        sx_agent_close(a);
    }
    sx_agent *bob = open_agent(bn, false);
    char bob_alice[SX_AGENT_CONN_ID_TEXT], alice_bob[SX_AGENT_CONN_ID_TEXT];
    assert_ok(sx_agent_join(bob, link, NULL, "bob's request", 13, bob_alice));
    assert_ok(sx_agent_flush(bob, WAIT_MS));
    const char *listen[] = {"--db", adb, "listen", "--accept", "--timeout", "60", NULL};
    int rc = run_cli(point, out, listen);
    if (rc != CRASH_EXIT)
        fail_msg("accept at %s: exit %d, expected the crash", point, rc);
    /* The request's id from the REQ line the program printed (each line
     * is flushed) before it accepted. */
    char line[8192], inv_id[SX_AGENT_CONN_ID_TEXT] = "";
    FILE *f = fopen(out, "r");
    assert_non_null(f);
    const char *at = NULL;
    while (at == NULL && fgets(line, sizeof line, f) != NULL)
        at = strstr(line, "\"inv\":\"");
    fclose(f);
    if (at == NULL)
        fail_msg("accept at %s: no REQ printed", point);
    at += 7;
    size_t n = strcspn(at, "\"");
    assert_true(n > 0 && n < sizeof inv_id);
    memcpy(inv_id, at, n);
    inv_id[n] = '\0';
    sx_agent *alice = open_agent(an, false);
    other_conn(alice, addr, alice_bob);
    /* Accepted with the command: a second accept is refused. */
    char again[SX_AGENT_CONN_ID_TEXT];
    assert_int_equal(sx_agent_accept_contact(alice, inv_id, NULL, "", 0, again), SX_E_USAGE);
    contact_finish(alice, bob, alice_bob, bob_alice);
    other_conn(alice, addr, alice_bob); /* still one connection for bob */
    sx_agent_close(bob);
    sx_agent_close(alice);
}

/* bob joins alice's invitation with a queue its sender cannot secure (the
 * legacy handshake); his listening program takes alice's confirmation and
 * ends at point of the KEY + HELLO command; his store opened here sends
 * KEY and HELLO once: CON on both sides, the HELLOs taking ids 2 and 3. */
static void hello_crash(const char *point, int iter)
{
    char an[32], bn[32], bdb[128];
    snprintf(an, sizeof an, "ha%d", iter);
    snprintf(bn, sizeof bn, "hb%d", iter);
    db_path(bdb, sizeof bdb, bn);
    sx_agent *alice = open_agent(an, false);
    sx_agent_opts o;
    memset(&o, 0, sizeof o);
    o.legacy_handshake = true;
    sx_agent *bob = open_agent_opts(bn, &o);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    char *link = NULL;
    assert_ok(sx_agent_create_invitation(alice, R.addr, bob_id, &link));
    assert_ok(sx_agent_join(bob, link, NULL, "bob's info", 10, alice_id));
    sx_agent_free_text(link);
    sx_agent_event ev;
    expect(alice, SX_AGENT_EV_CONF, bob_id, &ev);
    char conf[SX_AGENT_CONN_ID_TEXT];
    memcpy(conf, ev.conf_id, sizeof conf);
    sx_agent_event_clear(&ev);
    sx_agent_close(bob);
    assert_ok(sx_agent_allow(alice, bob_id, conf, "alice's info", 12));
    const char *listen[] = {"--db", bdb, "listen", "--timeout", "60", NULL};
    int rc = run_cli(point, NULL, listen);
    if (rc != CRASH_EXIT)
        fail_msg("hello at %s: exit %d, expected the crash", point, rc);
    bob = open_agent(bn, false);
    expect(bob, SX_AGENT_EV_CON, alice_id, &ev);
    sx_agent_event_clear(&ev);
    expect(alice, SX_AGENT_EV_CON, bob_id, &ev);
    sx_agent_event_clear(&ev);
    converse(alice, bob, bob_id, alice_id, 4);
    sx_agent_close(bob);
    sx_agent_close(alice);
}

static void test_contact_crash(void **state)
{
    (void)state;
    router_start();
    static const char *const points[] = {"contact-stored", "contact-queue", "contact-sent",
                                         "contact-done"};
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++)
        contact_crash(points[i], (int)i);
}

static void test_accept_crash(void **state)
{
    (void)state;
    router_start();
    static const char *const points[] = {"join-stored", "join-skey", "join-secured", "join-reply",
                                         "join-done"};
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++)
        accept_crash(points[i], (int)i);
}

static void test_hello_crash(void **state)
{
    (void)state;
    router_start();
    static const char *const points[] = {"hello-stored", "hello-key", "hello-done"};
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++)
        hello_crash(points[i], (int)i);
}

/* The router is down while bob joins alice's address, then while alice
 * accepts: both calls return with their command stored, and each step
 * completes once the router is back (one REQ, one connection). */
static void test_contact_router_down(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice", false);
    sx_agent *bob = open_agent("bob", false);
    char addr[SX_AGENT_CONN_ID_TEXT], *link = NULL;
    assert_ok(sx_agent_create_contact(alice, R.addr, addr, &link));
    char bob_alice[SX_AGENT_CONN_ID_TEXT], alice_bob[SX_AGENT_CONN_ID_TEXT];
    router_kill9();
    assert_ok(sx_agent_join(bob, link, NULL, "bob's request", 13, bob_alice));
    sx_agent_free_text(link);
    sleep_ms(1000); /* a few failed attempts */
    router_start();
    char inv[SX_AGENT_CONN_ID_TEXT];
    expect_req(alice, addr, inv);
    router_kill9();
    assert_ok(sx_agent_accept_contact(alice, inv, NULL, "alice's info", 12, alice_bob));
    /* Accepted: the stored command finishes it, a second accept is refused. */
    char other[SX_AGENT_CONN_ID_TEXT];
    assert_int_equal(sx_agent_accept_contact(alice, inv, NULL, "", 0, other), SX_E_USAGE);
    sleep_ms(1000);
    router_start();
    contact_finish(alice, bob, alice_bob, bob_alice);
    other_conn(alice, addr, alice_bob);
    sx_agent_close(bob);
    sx_agent_close(alice);
}

static void test_join_crash(void **state)
{
    (void)state;
    router_start();
    static const char *const points[] = {"join-uncommitted", "join-stored", "join-skey",
                                         "join-secured", "join-reply", "join-done"};
    int iter = 0;
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++)
        join_crash(points[i], iter++, false);
    /* A legacy link: no SKEY. */
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++)
        if (strcmp(points[i], "join-skey") != 0)
            join_crash(points[i], iter++, true);
}

static void test_allow_crash(void **state)
{
    (void)state;
    router_start();
    static const char *const points[] = {"allow-stored", "allow-skey", "allow-secured",
                                         "allow-done"};
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++)
        allow_crash(points[i], (int)i);
}

/* The router is down while bob joins: join returns with the command
 * stored, the agent retries it, and the handshake completes once the
 * router is back. */
static void test_join_router_down(void **state)
{
    (void)state;
    router_start();
    sx_agent *alice = open_agent("alice", false);
    sx_agent *bob = open_agent("bob", false);
    char bob_id[SX_AGENT_CONN_ID_TEXT], alice_id[SX_AGENT_CONN_ID_TEXT];
    char *link = NULL;
    assert_ok(sx_agent_create_invitation(alice, R.addr, bob_id, &link));
    router_kill9();
    assert_ok(sx_agent_join(bob, link, NULL, "bob's info", 10, alice_id));
    sx_agent_free_text(link);
    sleep_ms(1000); /* a few failed attempts */
    router_start();
    sx_agent_event ev;
    expect(alice, SX_AGENT_EV_CONF, bob_id, &ev);
    expect_body(&ev, "bob's info");
    char conf[SX_AGENT_CONN_ID_TEXT];
    memcpy(conf, ev.conf_id, sizeof conf);
    sx_agent_event_clear(&ev);
    assert_ok(sx_agent_allow(alice, bob_id, conf, "alice's info", 12));
    /* A second allow is refused: the stored command finishes the first. */
    assert_int_equal(sx_agent_allow(alice, bob_id, conf, "alice's info", 12), SX_E_USAGE);
    expect(alice, SX_AGENT_EV_CON, bob_id, &ev);
    sx_agent_event_clear(&ev);
    expect(bob, SX_AGENT_EV_INFO, alice_id, &ev);
    sx_agent_event_clear(&ev);
    expect(bob, SX_AGENT_EV_CON, alice_id, &ev);
    sx_agent_event_clear(&ev);
    converse(alice, bob, bob_id, alice_id, 2);
    sx_agent_close(bob);
    sx_agent_close(alice);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_join_crash, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_allow_crash, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_join_router_down, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_contact_crash, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_accept_crash, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_hello_crash, pair_setup, pair_teardown),
        cmocka_unit_test_setup_teardown(test_contact_router_down, pair_setup, pair_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
