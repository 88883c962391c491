/* Tests for agent/store's transactions and durability: a rollback leaves
 * nothing, a failing step inside a caller's transaction undoes only its own
 * part, two handles on one file (a reader beside a writer, busy waits,
 * writers in two processes), and processes killed with SIGKILL in the
 * middle of transactions: after reopening, each transaction is there whole
 * or not at all, and the ratchet agrees with the messages stored. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/store.h"
#include "agent_store_util.h"
#include "simplex/status.h"
#include "testutil.h"

/* ---- rollback ------------------------------------------------------------- */

static void test_rollback(void **state)
{
    (void)state;
    char *p = asu_fresh("rollback.db");
    sx_agent_store *s;
    assert_ok(sx_agent_store_open(p, 0, &s));
    assert_false(sx_agent_store_in_tx(s));
    assert_ok(sx_agent_store_begin(s));
    assert_true(sx_agent_store_in_tx(s));
    assert_int_equal(sx_agent_store_begin(s), SX_E_USAGE);
    int64_t user;
    sx_agent_id conn;
    asu_conn(s, SX_AGENT_CONN_NEW, &user, &conn);
    asu_snd_queue(s, &conn, 1);
    assert_ok(sx_agent_store_setting_set(s, "k", sx_slice_str("v")));
    sx_agent_store_rollback(s);
    assert_false(sx_agent_store_in_tx(s));
    sx_agent_store_rollback(s); /* harmless without one */
    assert_int_equal(sx_agent_store_commit(s), SX_E_USAGE);
    const char *tables[] = {"users", "connections", "servers", "snd_queues", "settings"};
    char sql[96];
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", tables[i]);
        assert_int_equal(asu_sql_int(p, sql), 0);
    }

    /* A failing send inside the caller's transaction undoes only itself:
     * the ratchet, the counters and the rows are as before it. */
    asu_conn(s, SX_AGENT_CONN_DUPLEX, &user, &conn);
    sx_ratchet alice, bob;
    asu_ratchet_pair(&alice, &bob);
    assert_ok(sx_agent_store_ratchet_save(s, &conn, &bob));
    int64_t q = asu_snd_queue(s, &conn, 2);
    size_t n0;
    uint8_t *before = asu_ratchet_bytes(&bob, &n0);
    assert_ok(sx_agent_store_begin(s));
    assert_ok(sx_agent_store_setting_set(s, "in the same transaction", sx_slice_str("kept")));
    asu_snd_ctx sc = {.text = "never stored", .fail = true};
    assert_int_equal(sx_agent_store_snd_msg_create(s, &conn, &q, 1, asu_snd_cb, &sc, NULL), SX_E_IO);
    assert_true(sx_agent_store_in_tx(s));
    assert_ok(sx_agent_store_commit(s));
    assert_int_equal(asu_sql_int(p, "SELECT count(*) FROM settings"), 1);
    assert_int_equal(asu_sql_int(p, "SELECT count(*) FROM messages"), 0);
    assert_int_equal(asu_sql_int(p, "SELECT count(*) FROM snd_message_deliveries"), 0);
    sx_agent_conn c;
    assert_ok(sx_agent_store_conn_get(s, &conn, &c));
    assert_int_equal(c.last_internal_msg_id, 0);
    assert_int_equal(c.last_internal_snd_msg_id, 0);
    sx_ratchet r;
    assert_ok(sx_agent_store_ratchet_get(s, &conn, &r));
    size_t n1;
    uint8_t *after = asu_ratchet_bytes(&r, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, n0);
    free(after);
    sx_ratchet_cleanup(&r);

    /* The same failure on its own: its own transaction, rolled back. */
    assert_int_equal(sx_agent_store_snd_msg_create(s, &conn, &q, 1, asu_snd_cb, &sc, NULL), SX_E_IO);
    assert_false(sx_agent_store_in_tx(s));
    assert_ok(sx_agent_store_ratchet_get(s, &conn, &r));
    after = asu_ratchet_bytes(&r, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, n0);
    free(after);
    sx_ratchet_cleanup(&r);
    /* A receive whose decryption fails stores nothing either. */
    uint8_t junk[300];
    memset(junk, 0x41, sizeof junk);
    asu_rcv_ctx rc = {.wire = junk, .wire_len = sizeof junk};
    int64_t id;
    assert_int_not_equal(sx_agent_store_rcv_msg_record(s, &conn, asu_rcv_cb, &rc, &id), SX_OK);
    assert_int_equal(asu_sql_int(p, "SELECT count(*) FROM messages"), 0);
    assert_ok(sx_agent_store_conn_get(s, &conn, &c));
    assert_int_equal(c.last_internal_msg_id, 0);
    free(before);
    sx_ratchet_cleanup(&alice);
    sx_ratchet_cleanup(&bob);
    sx_agent_store_close(s);
    free(p);
}

/* ---- two handles on one file ---------------------------------------------- */

static void test_two_handles(void **state)
{
    (void)state;
    char *p = asu_fresh("two.db");
    sx_agent_store *w, *r;
    assert_ok(sx_agent_store_open(p, 0, &w));
    assert_ok(sx_agent_store_open(p, 0, &r));
    int64_t user;
    sx_agent_id conn;
    asu_conn(w, SX_AGENT_CONN_DUPLEX, &user, &conn);

    /* The writer holds its transaction open: the reader still reads (the
     * last committed state), and a second writer waits, then gives up. */
    assert_ok(sx_agent_store_begin(w));
    sx_agent_id conn2;
    sx_agent_conn c = {.user_id = user, .mode = SX_AGENT_MODE_INVITATION, .agent_version = 7};
    assert_ok(sx_agent_store_conn_create(w, &c, &conn2));
    sx_agent_conn *list;
    size_t n;
    assert_ok(sx_agent_store_conn_list(r, 0, &list, &n));
    assert_int_equal(n, 1);
    free(list);
    sx_agent_conn got;
    assert_int_equal(sx_agent_store_conn_get(r, &conn2, &got), SX_E_USAGE);
    sx_agent_store_set_busy_timeout(r, 200);
    assert_int_equal(sx_agent_store_begin(r), SX_E_WOULD_BLOCK);
    assert_false(sx_agent_store_in_tx(r));
    assert_int_equal(sx_agent_store_setting_set(r, "blocked", sx_slice_str("x")),
                     SX_E_WOULD_BLOCK);
    assert_ok(sx_agent_store_commit(w));
    assert_ok(sx_agent_store_conn_get(r, &conn2, &got));
    assert_ok(sx_agent_store_setting_set(r, "free again", sx_slice_str("x")));
    sx_agent_store_close(r);
    sx_agent_store_close(w);
    free(p);
}

/* Two processes writing at once: every write lands, the busy waits absorb
 * the contention. */
static void test_two_processes(void **state)
{
    (void)state;
    char *p = asu_fresh("procs.db");
    sx_agent_store *s;
    assert_ok(sx_agent_store_open(p, 0, &s));
    sx_agent_store_close(s);
    enum { PER = 150 };
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            sx_agent_store *cs;
            if (sx_agent_store_open(p, 0, &cs) != SX_OK)
                _exit(2);
            sx_agent_store_set_busy_timeout(cs, 60000);
            char key[32];
            for (int i = 0; i < PER; i++) {
                snprintf(key, sizeof key, "p%d.%03d", k, i);
                if (sx_agent_store_begin(cs) != SX_OK ||
                    sx_agent_store_setting_set(cs, key, sx_slice_str("v")) != SX_OK ||
                    sx_agent_store_commit(cs) != SX_OK)
                    _exit(3);
            }
            sx_agent_store_close(cs);
            _exit(0);
        }
    }
    for (int k = 0; k < 2; k++) {
        int status = 0;
        assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_int_equal(asu_sql_int(p, "SELECT count(*) FROM settings"), 2 * PER);
    free(p);
}

/* ---- crashes -------------------------------------------------------------- */

static void kill_child(pid_t pid)
{
    assert_int_equal(kill(pid, SIGKILL), 0);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
}

/* Reads one byte the child writes when it reached its point. */
static void wait_child(int fd)
{
    char b;
    ssize_t got;
    do
        got = read(fd, &b, 1);
    while (got < 0 && errno == EINTR);
    assert_int_equal(got, 1);
}

/* The child is killed while its transaction is open: none of it stays. */
static void test_crash_open_transaction(void **state)
{
    (void)state;
    char *p = asu_fresh("crash-open.db");
    sx_agent_store *s;
    assert_ok(sx_agent_store_open(p, 0, &s));
    assert_ok(sx_agent_store_setting_set(s, "before", sx_slice_str("committed")));
    sx_agent_store_close(s);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        sx_agent_store *cs;
        if (sx_agent_store_open(p, 0, &cs) != SX_OK || sx_agent_store_begin(cs) != SX_OK)
            _exit(2);
        char key[32];
        int64_t user;
        sx_agent_id conn;
        sx_agent_conn c = {.mode = SX_AGENT_MODE_INVITATION, .agent_version = 7};
        /* Enough rows that some pages leave the cache for the WAL. */
        for (int i = 0; i < 3000; i++) {
            snprintf(key, sizeof key, "open.%04d", i);
            if (sx_agent_store_setting_set(cs, key, sx_slice_str("uncommitted value......")) !=
                SX_OK)
                _exit(3);
        }
        if (sx_agent_store_user_create(cs, &user) != SX_OK)
            _exit(4);
        c.user_id = user;
        if (sx_agent_store_conn_create(cs, &c, &conn) != SX_OK)
            _exit(5);
        if (write(fds[1], "x", 1) != 1)
            _exit(6);
        for (;;)
            pause();
    }
    close(fds[1]);
    wait_child(fds[0]);
    close(fds[0]);
    kill_child(pid);
    assert_ok(sx_agent_store_open(p, 0, &s));
    assert_int_equal(asu_sql_int(p, "SELECT count(*) FROM settings"), 1);
    assert_int_equal(asu_sql_int(p, "SELECT count(*) FROM users"), 0);
    assert_int_equal(asu_sql_int(p, "SELECT count(*) FROM connections"), 0);
    sx_agent_store_close(s);
    free(p);
}

enum { GROUP = 40 };

/* The child commits transaction after transaction of GROUP rows each, and
 * is killed wherever it happens to be: each group is whole or absent. */
static void test_crash_whole_or_nothing(void **state)
{
    (void)state;
    char *p = asu_fresh("crash-loop.db");
    sx_agent_store *s;
    assert_ok(sx_agent_store_open(p, 0, &s));
    sx_agent_store_close(s);
    for (int round = 0; round < 3; round++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            sx_agent_store *cs;
            if (sx_agent_store_open(p, 0, &cs) != SX_OK)
                _exit(2);
            char key[48];
            for (int t = 0;; t++) {
                if (sx_agent_store_begin(cs) != SX_OK)
                    _exit(3);
                for (int i = 0; i < GROUP; i++) {
                    snprintf(key, sizeof key, "r%d.t%06d.%02d", round, t, i);
                    if (sx_agent_store_setting_set(cs, key, sx_slice_str("v")) != SX_OK)
                        _exit(4);
                }
                if (sx_agent_store_commit(cs) != SX_OK)
                    _exit(5);
                if (t == 2 && write(fds[1], "x", 1) != 1)
                    _exit(6);
            }
        }
        close(fds[1]);
        wait_child(fds[0]);
        close(fds[0]);
        /* Somewhere in a later transaction (where exactly does not matter). */
        usleep(20000u * (unsigned)(round + 1));
        kill_child(pid);
        char sql[200];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM (SELECT substr(key, 1, 10) AS t, count(*) AS n FROM "
                 "settings WHERE key LIKE 'r%d.%%' GROUP BY t HAVING n != %d)",
                 round, GROUP);
        assert_int_equal(asu_sql_int(p, sql), 0);
        snprintf(sql, sizeof sql, "SELECT count(*) FROM settings WHERE key LIKE 'r%d.%%'", round);
        int64_t rows = asu_sql_int(p, sql);
        assert_true(rows >= 3 * GROUP);
        assert_int_equal(rows % GROUP, 0);
    }
    free(p);
}

/* The child sends message after message (ratchet advance and message row
 * in one transaction) and is killed: the stored ratchet has advanced
 * exactly once per stored message, and the state reads back. */
static void test_crash_messages(void **state)
{
    (void)state;
    char *p = asu_fresh("crash-msg.db");
    sx_agent_store *s;
    assert_ok(sx_agent_store_open(p, 0, &s));
    int64_t user;
    sx_agent_id conn;
    asu_conn(s, SX_AGENT_CONN_DUPLEX, &user, &conn);
    sx_ratchet alice, bob;
    asu_ratchet_pair(&alice, &bob);
    assert_ok(sx_agent_store_ratchet_save(s, &conn, &bob));
    int64_t q = asu_snd_queue(s, &conn, 1);
    sx_agent_store_close(s);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        sx_agent_store *cs;
        if (sx_agent_store_open(p, 0, &cs) != SX_OK)
            _exit(2);
        /* Within one chain's skip limit, so the last one can be read. */
        for (int t = 0; t < 400; t++) {
            asu_snd_ctx sc = {.text = "a message to keep the ratchet busy"};
            if (sx_agent_store_snd_msg_create(cs, &conn, &q, 1, asu_snd_cb, &sc, NULL) != SX_OK)
                _exit(3);
            if (t == 3 && write(fds[1], "x", 1) != 1)
                _exit(4);
        }
        for (;;)
            pause();
    }
    close(fds[1]);
    wait_child(fds[0]);
    close(fds[0]);
    usleep(30000);
    kill_child(pid);

    assert_ok(sx_agent_store_open(p, 0, &s));
    int64_t msgs = asu_sql_int(p, "SELECT count(*) FROM snd_messages");
    assert_true(msgs >= 4);
    assert_int_equal(asu_sql_int(p, "SELECT count(*) FROM messages"), msgs);
    assert_int_equal(asu_sql_int(p, "SELECT count(*) FROM snd_message_deliveries"), msgs);
    sx_agent_conn c;
    assert_ok(sx_agent_store_conn_get(s, &conn, &c));
    assert_int_equal(c.last_internal_snd_msg_id, msgs);
    sx_ratchet r;
    assert_ok(sx_agent_store_ratchet_get(s, &conn, &r));
    assert_int_equal(r.ns, (uint32_t)msgs);
    /* The last stored message decrypts with alice's ratchet from the
     * stored key: state and row belong together. */
    sx_agent_delivery d;
    bool found;
    for (int64_t i = 0; i < msgs; i++) {
        assert_ok(sx_agent_store_delivery_next(s, q, &d, &found));
        assert_true(found);
        if (i + 1 < msgs) {
            assert_ok(sx_agent_store_delivery_done(s, &conn, q, d.internal_id, false));
            sx_agent_delivery_cleanup(&d);
        }
    }
    uint8_t wire[1024], out[1024];
    size_t wl;
    assert_ok(sx_ratchet_encrypt_msg(&d.mek, d.padded_len, sx_slice_of(d.body.ptr, d.body.len),
                                     wire, sizeof wire, &wl));
    sx_slice plain;
    assert_ok(sx_ratchet_decrypt(&alice, sx_slice_of(wire, wl), out, sizeof out, &plain, NULL));
    assert_int_equal(plain.len, d.body.len);
    assert_int_equal(alice.n_skipped, (size_t)(msgs - 1));
    sx_agent_delivery_cleanup(&d);
    sx_ratchet_cleanup(&r);
    sx_ratchet_cleanup(&alice);
    sx_ratchet_cleanup(&bob);
    sx_agent_store_close(s);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rollback),
        cmocka_unit_test(test_two_handles),
        cmocka_unit_test(test_two_processes),
        cmocka_unit_test(test_crash_open_transaction),
        cmocka_unit_test(test_crash_whole_or_nothing),
        cmocka_unit_test(test_crash_messages),
    };
    return cmocka_run_group_tests(tests, asu_setup, asu_teardown);
}
