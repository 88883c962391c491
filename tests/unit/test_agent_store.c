/* Tests for agent/store: migrations from an empty file and step by step,
 * reopening, refusal of a newer schema and of a file that is no database,
 * and every function of the API on a real SQLite file, with a real ratchet
 * pair for the message functions. Transactions, concurrency and crashes
 * are in test_agent_store_tx.c. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/store.h"
#include "agent/store_int.h"
#include "agent_store_util.h"
#include "crypto/hash.h"
#include "simplex/status.h"
#include "testutil.h"

/* ---- opening and migrations ------------------------------------------------ */

static void test_migrate_empty(void **state)
{
    (void)state;
    char *p = asu_fresh("empty.db");
    sx_agent_store *s = NULL;
    assert_ok(sx_agent_store_open(p, 0, &s));
    int v = 0;
    assert_ok(sx_agent_store_schema(s, &v));
    assert_int_equal(v, SX_AGENT_STORE_SCHEMA);
    sx_agent_store_close(s);
    assert_int_equal(asu_sql_int(p, "SELECT count(*) FROM schema_migrations"),
                     SX_AGENT_STORE_SCHEMA);
    /* WAL is a property of the file; the tables are there. */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
    sqlite3_finalize(q);
    sqlite3_close(db);
    const char *tables[] = {"settings", "users", "servers", "connections", "rcv_queues",
                            "snd_queues", "ratchets", "skipped_keys", "messages", "rcv_messages",
                            "snd_messages", "snd_message_deliveries", "conn_confirmations",
                            "conn_invitations", "commands", "encrypted_rcv_message_hashes"};
    char sql[256];
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '%s'",
                 tables[i]);
        assert_int_equal(asu_sql_int(p, sql), 1);
    }
    free(p);
}

static void test_migrate_steps_and_reopen(void **state)
{
    (void)state;
    char *p = asu_fresh("steps.db");
    sx_agent_store *s = NULL;
    assert_ok(sx_agent_store_open(p, 1, &s));
    int v = 0;
    assert_ok(sx_agent_store_schema(s, &v));
    assert_int_equal(v, 1);
    int64_t user;
    assert_ok(sx_agent_store_user_create(s, &user));
    assert_ok(sx_agent_store_setting_set(s, "name", sx_slice_str("kept")));
    sx_agent_store_close(s);
    assert_int_equal(asu_sql_int(p, "SELECT count(*) FROM sqlite_schema WHERE name = "
                                    "'encrypted_rcv_message_hashes'"),
                     0);
    /* A target below the file's version changes nothing. */
    size_t n_migrations = 0;
    (void)sx_agent_store_migrations(&n_migrations);
    assert_int_equal(n_migrations, SX_AGENT_STORE_SCHEMA);
    assert_ok(sx_agent_store_open(p, 0, &s));
    assert_ok(sx_agent_store_schema(s, &v));
    assert_int_equal(v, (int)n_migrations);
    sx_agent_store_close(s);
    assert_ok(sx_agent_store_open(p, 1, &s));
    assert_ok(sx_agent_store_schema(s, &v));
    assert_int_equal(v, (int)n_migrations);
    sx_agent_blob b;
    bool found;
    assert_ok(sx_agent_store_setting_get(s, "name", &b, &found));
    assert_true(found);
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.ptr, "kept", 4);
    sx_agent_blob_free(&b);
    sx_agent_store_close(s);
    assert_int_equal(asu_sql_int(p, "SELECT count(*) FROM users"), 1);
    assert_int_equal(asu_sql_int(p, "SELECT max(version) FROM schema_migrations"),
                     (int64_t)n_migrations);
    /* Out-of-range targets. */
    assert_int_equal(sx_agent_store_open(p, SX_AGENT_STORE_SCHEMA + 1, &s), SX_E_USAGE);
    assert_null(s);
    free(p);
}

static void test_newer_refused(void **state)
{
    (void)state;
    char *p = asu_fresh("newer.db");
    sx_agent_store *s = NULL;
    assert_ok(sx_agent_store_open(p, 0, &s));
    sx_agent_store_close(s);
    asu_sql_exec(p, "INSERT INTO schema_migrations(version, name, applied_at) "
                    "VALUES (99, 'from the future', 0)");
    assert_int_equal(sx_agent_store_open(p, 0, &s), SX_E_PROTOCOL);
    assert_null(s);
    assert_non_null(strstr(sx_error_message(), "newer"));
    assert_non_null(strstr(sx_error_message(), "99"));
    free(p);

    /* A file that is not a database. */
    p = asu_fresh("garbage.db");
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    for (int i = 0; i < 4096; i++)
        fputc(i * 7 + 3, f);
    fclose(f);
    assert_int_equal(sx_agent_store_open(p, 0, &s), SX_E_PROTOCOL);
    assert_null(s);
    free(p);

    /* A folder that does not exist. */
    assert_int_equal(sx_agent_store_open("/nonexistent-sx-dir/x.db", 0, &s), SX_E_IO);
}

/* ---- settings, users, servers ---------------------------------------------- */

static void test_settings_users_servers(void **state)
{
    (void)state;
    char *p = asu_fresh("small.db");
    sx_agent_store *s;
    assert_ok(sx_agent_store_open(p, 0, &s));
    sx_agent_blob b;
    bool found = true;
    assert_ok(sx_agent_store_setting_get(s, "missing", &b, &found));
    assert_false(found);
    assert_null(b.ptr);
    assert_ok(sx_agent_store_setting_set(s, "k", sx_slice_str("one")));
    assert_ok(sx_agent_store_setting_set(s, "k", sx_slice_str("two!")));
    assert_ok(sx_agent_store_setting_get(s, "k", &b, &found));
    assert_true(found);
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.ptr, "two!", 4);
    sx_agent_blob_free(&b);
    /* SQL text in a value or key is only data. */
    assert_ok(sx_agent_store_setting_set(s, "x'); DROP TABLE users; --", sx_slice_str("v")));
    assert_ok(sx_agent_store_setting_get(s, "x'); DROP TABLE users; --", &b, &found));
    assert_true(found);
    sx_agent_blob_free(&b);

    int64_t u1, u2;
    assert_ok(sx_agent_store_user_create(s, &u1));
    assert_ok(sx_agent_store_user_create(s, &u2));
    assert_true(u2 > u1);
    assert_ok(sx_agent_store_user_delete(s, u1));
    assert_int_equal(sx_agent_store_user_delete(s, u1), SX_E_USAGE);

    int64_t a, b2, c;
    assert_ok(sx_agent_store_server_get_or_create(s, "a.example", "5223", sx_slice_str("h1"), &a));
    assert_ok(sx_agent_store_server_get_or_create(s, "a.example", "5223", sx_slice_str("h2"), &b2));
    assert_ok(sx_agent_store_server_get_or_create(s, "a.example", "443", sx_slice_str("h1"), &c));
    assert_int_equal(a, b2);
    assert_int_not_equal(a, c);
    sx_agent_store_close(s);
    assert_int_equal(asu_sql_int(p, "SELECT count(*) FROM servers WHERE key_hash = CAST('h2' AS BLOB)"), 1);
    free(p);
}

/* ---- connections ----------------------------------------------------------- */

static void test_connections(void **state)
{
    (void)state;
    char *p = asu_fresh("conns.db");
    sx_agent_store *s;
    assert_ok(sx_agent_store_open(p, 0, &s));
    int64_t u1, u2;
    assert_ok(sx_agent_store_user_create(s, &u1));
    assert_ok(sx_agent_store_user_create(s, &u2));
    sx_agent_conn c = {.user_id = u1, .mode = SX_AGENT_MODE_CONTACT, .state = SX_AGENT_CONN_CONTACT, .agent_version = 7, .pq_support = true, .enable_ntfs = true};
    sx_agent_id ids[3];
    assert_ok(sx_agent_store_conn_create(s, &c, &ids[0]));
    c.user_id = u2;
    c.mode = SX_AGENT_MODE_INVITATION;
    c.state = SX_AGENT_CONN_NEW;
    c.pq_support = false;
    assert_ok(sx_agent_store_conn_create(s, &c, &ids[1]));
    assert_ok(sx_agent_store_conn_create(s, &c, &ids[2]));
    assert_memory_not_equal(ids[1].b, ids[2].b, SX_AGENT_ID_LEN);

    sx_agent_conn got;
    assert_ok(sx_agent_store_conn_get(s, &ids[0], &got));
    assert_memory_equal(got.id.b, ids[0].b, SX_AGENT_ID_LEN);
    assert_int_equal(got.user_id, u1);
    assert_int_equal(got.mode, SX_AGENT_MODE_CONTACT);
    assert_int_equal(got.state, SX_AGENT_CONN_CONTACT);
    assert_int_equal(got.agent_version, 7);
    assert_true(got.pq_support && got.enable_ntfs && !got.duplex_handshake);
    assert_int_equal(got.rsync, SX_AGENT_RSYNC_OK);
    assert_int_equal(got.last_internal_msg_id, 0);
    assert_int_equal(got.last_rcv_hash_len, 0);

    got.state = SX_AGENT_CONN_DUPLEX;
    got.duplex_handshake = true;
    got.agent_version = 6;
    got.rsync = SX_AGENT_RSYNC_REQUIRED;
    assert_ok(sx_agent_store_conn_update(s, &got));
    assert_ok(sx_agent_store_conn_set_state(s, &ids[1], SX_AGENT_CONN_RCV));
    sx_agent_conn again;
    assert_ok(sx_agent_store_conn_get(s, &ids[0], &again));
    assert_int_equal(again.state, SX_AGENT_CONN_DUPLEX);
    assert_true(again.duplex_handshake);
    assert_int_equal(again.agent_version, 6);
    assert_int_equal(again.rsync, SX_AGENT_RSYNC_REQUIRED);

    /* Invalid fields and missing rows. */
    sx_agent_conn bad = c;
    bad.mode = 3;
    sx_agent_id none;
    assert_int_equal(sx_agent_store_conn_create(s, &bad, &none), SX_E_USAGE);
    bad = c;
    bad.user_id = 12345;
    assert_int_equal(sx_agent_store_conn_create(s, &bad, &none), SX_E_USAGE);
    memset(none.b, 0xee, sizeof none.b);
    assert_int_equal(sx_agent_store_conn_get(s, &none, &got), SX_E_USAGE);
    assert_int_equal(sx_agent_store_conn_set_state(s, &none, SX_AGENT_CONN_DUPLEX), SX_E_USAGE);
    assert_int_equal(sx_agent_store_conn_delete(s, &none), SX_E_USAGE);
    assert_int_equal(sx_agent_store_conn_set_state(s, &ids[0], 9), SX_E_USAGE);

    sx_agent_conn *list;
    size_t n;
    assert_ok(sx_agent_store_conn_list(s, 0, &list, &n));
    assert_int_equal(n, 3);
    assert_memory_equal(list[0].id.b, ids[0].b, SX_AGENT_ID_LEN);
    assert_int_equal(list[0].state, SX_AGENT_CONN_DUPLEX);
    assert_int_equal(list[1].state, SX_AGENT_CONN_RCV);
    assert_int_equal(list[2].state, SX_AGENT_CONN_NEW);
    free(list);
    assert_ok(sx_agent_store_conn_list(s, u2, &list, &n));
    assert_int_equal(n, 2);
    free(list);
    /* Deleting a user takes its connections. */
    assert_ok(sx_agent_store_user_delete(s, u2));
    assert_ok(sx_agent_store_conn_list(s, 0, &list, &n));
    assert_int_equal(n, 1);
    free(list);
    assert_ok(sx_agent_store_conn_list(s, u2, &list, &n));
    assert_int_equal(n, 0);
    assert_null(list);
    sx_agent_store_close(s);
    free(p);
}

/* ---- queues ---------------------------------------------------------------- */

static void test_queues(void **state)
{
    (void)state;
    char *p = asu_fresh("queues.db");
    sx_agent_store *s;
    assert_ok(sx_agent_store_open(p, 0, &s));
    int64_t user;
    sx_agent_id conn;
    asu_conn(s, SX_AGENT_CONN_NEW, &user, &conn);

    int64_t rq = asu_rcv_queue(s, &conn, 0x10);
    sx_agent_rcv_queue r;
    assert_ok(sx_agent_store_rcv_queue_get(s, rq, &r));
    assert_int_equal(r.queue_id, rq);
    assert_memory_equal(r.conn_id.b, conn.b, SX_AGENT_ID_LEN);
    assert_int_equal(r.rcv_id_len, 24);
    assert_int_equal(r.rcv_id[5], 0x10);
    assert_int_equal(r.snd_id[0], 0x90);
    assert_int_equal(r.rcv_priv_key_len, 48);
    assert_int_equal(r.rcv_dh_secret[0], 0x54);
    assert_int_equal(r.e2e_priv_key[31], 0x76);
    assert_false(r.has_e2e_dh_secret);
    assert_int_equal(r.status, SX_AGENT_Q_NEW);
    assert_int_equal(r.smp_client_version, 4);
    assert_true(r.primary);
    assert_int_equal(r.queue_mode, 'M');
    uint8_t secret[32];
    memset(secret, 0x77, sizeof secret);
    assert_ok(sx_agent_store_rcv_queue_set_e2e(s, rq, secret));
    assert_ok(sx_agent_store_rcv_queue_set_status(s, rq, SX_AGENT_Q_SECURED));
    sx_agent_rcv_queue f;
    assert_ok(sx_agent_store_rcv_queue_find(s, r.server_id, sx_slice_of(r.rcv_id, r.rcv_id_len), &f));
    assert_int_equal(f.queue_id, rq);
    assert_true(f.has_e2e_dh_secret);
    assert_memory_equal(f.e2e_dh_secret, secret, 32);
    assert_int_equal(f.status, SX_AGENT_Q_SECURED);
    assert_int_equal(sx_agent_store_rcv_queue_find(s, r.server_id, sx_slice_str("nope"), &f),
                     SX_E_USAGE);
    /* The same router and id twice; lengths over the maximum. */
    r.queue_id = 0;
    int64_t dup;
    assert_int_equal(sx_agent_store_rcv_queue_create(s, &r, &dup), SX_E_USAGE);
    r.rcv_id_len = SX_AGENT_QID_MAX + 1;
    assert_int_equal(sx_agent_store_rcv_queue_create(s, &r, &dup), SX_E_USAGE);
    int64_t rq2 = asu_rcv_queue(s, &conn, 0x20);
    assert_ok(sx_agent_store_rcv_queue_set_status(s, rq2, SX_AGENT_Q_DISABLED));
    sx_agent_rcv_queue *rl;
    size_t n;
    assert_ok(sx_agent_store_rcv_queue_list(s, &conn, &rl, &n));
    assert_int_equal(n, 2);
    assert_int_equal(rl[0].queue_id, rq);
    assert_int_equal(rl[1].status, SX_AGENT_Q_DISABLED);
    free(rl);

    int64_t sq = asu_snd_queue(s, &conn, 0x30);
    sx_agent_snd_queue q;
    assert_ok(sx_agent_store_snd_queue_get(s, sq, &q));
    assert_int_equal(q.snd_id[0], 0x30);
    assert_int_equal(q.snd_priv_key_len, 48);
    assert_int_equal(q.e2e_pub_key[0], 0x21);
    assert_int_equal(q.e2e_dh_secret[0], 0x12);
    assert_int_equal(q.status, SX_AGENT_Q_ACTIVE);
    /* A retry of a NEW queue keeps its id; a used one is not overwritten. */
    q.status = SX_AGENT_Q_NEW;
    q.queue_id = 0;
    int64_t sq2 = 0;
    memset(q.snd_id, 0x40, q.snd_id_len);
    assert_ok(sx_agent_store_snd_queue_create(s, &q, &sq2));
    memset(q.snd_priv_key, 0x99, q.snd_priv_key_len);
    int64_t sq3 = 0;
    assert_ok(sx_agent_store_snd_queue_create(s, &q, &sq3));
    assert_int_equal(sq2, sq3);
    sx_agent_snd_queue q3;
    assert_ok(sx_agent_store_snd_queue_get(s, sq3, &q3));
    assert_int_equal(q3.snd_priv_key[0], 0x99);
    assert_ok(sx_agent_store_snd_queue_set_status(s, sq3, SX_AGENT_Q_CONFIRMED));
    assert_int_equal(sx_agent_store_snd_queue_create(s, &q, &sq3), SX_E_USAGE);
    assert_int_equal(sx_agent_store_snd_queue_set_status(s, 999999, SX_AGENT_Q_ACTIVE), SX_E_USAGE);
    sx_agent_snd_queue *sl;
    assert_ok(sx_agent_store_snd_queue_list(s, &conn, &sl, &n));
    assert_int_equal(n, 2);
    free(sl);
    sx_agent_store_close(s);
    free(p);
}

/* ---- ratchets -------------------------------------------------------------- */

static void test_ratchets(void **state)
{
    (void)state;
    char *p = asu_fresh("ratchets.db");
    sx_agent_store *s;
    assert_ok(sx_agent_store_open(p, 0, &s));
    int64_t user;
    sx_agent_id conn;
    asu_conn(s, SX_AGENT_CONN_NEW, &user, &conn);

    sx_ratchet r;
    assert_int_equal(sx_agent_store_ratchet_get(s, &conn, &r), SX_E_USAGE);
    sx_e2e_private priv, back;
    sx_e2e_params pub;
    assert_ok(sx_e2e_generate(3, SX_USE_KEM_PROPOSE, NULL, NULL, &priv, &pub));
    uint16_t v = 0;
    assert_int_equal(sx_agent_store_x3dh_get(s, &conn, &v, &back), SX_E_USAGE);
    assert_ok(sx_agent_store_x3dh_save(s, &conn, 3, &priv));
    assert_ok(sx_agent_store_x3dh_get(s, &conn, &v, &back));
    assert_int_equal(v, 3);
    assert_memory_equal(back.k1, priv.k1, SX_X448_LEN);
    assert_memory_equal(back.k2, priv.k2, SX_X448_LEN);
    assert_int_equal(back.kem, SX_KEM_PROPOSED);
    assert_memory_equal(back.kem_sk, priv.kem_sk, SX_SNTRUP761_SK_LEN);
    sx_e2e_private_wipe(&back);
    sx_e2e_private_wipe(&priv);

    /* A state with skipped keys: bob sends three, alice reads the third. */
    sx_ratchet alice, bob;
    asu_ratchet_pair(&alice, &bob);
    uint8_t wire[3][1024];
    size_t wl[3];
    for (int i = 0; i < 3; i++)
        assert_ok(sx_ratchet_encrypt(&bob, SX_PQ_KEEP, 3, ASU_PAD, sx_slice_str("m"), wire[i],
                                     sizeof wire[i], &wl[i]));
    uint8_t out[1024];
    sx_slice plain;
    assert_ok(sx_ratchet_decrypt(&alice, sx_slice_of(wire[2], wl[2]), out, sizeof out, &plain,
                                 NULL));
    assert_int_equal(alice.n_skipped, 2);
    assert_ok(sx_agent_store_ratchet_save(s, &conn, &alice));
    /* The X3DH keys are forgotten once the ratchet exists. */
    assert_int_equal(sx_agent_store_x3dh_get(s, &conn, &v, &back), SX_E_USAGE);
    assert_ok(sx_agent_store_ratchet_get(s, &conn, &r));
    size_t n1, n2;
    uint8_t *b1 = asu_ratchet_bytes(&alice, &n1), *b2 = asu_ratchet_bytes(&r, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(b1, b2, n1);
    free(b1);
    free(b2);
    /* The read-back state decrypts the skipped message. */
    assert_ok(sx_ratchet_decrypt(&r, sx_slice_of(wire[0], wl[0]), out, sizeof out, &plain, NULL));
    assert_int_equal(r.n_skipped, 1);
    assert_ok(sx_agent_store_ratchet_save(s, &conn, &r));
    sx_ratchet_cleanup(&r);
    char sql[256];
    assert_int_equal(asu_sql_int(p, "SELECT count(*) FROM skipped_keys"), 1);
    sx_agent_store_close(s);

    /* Damaged bytes on disk are refused, not trusted. */
    asu_sql_exec(p, "UPDATE ratchets SET ratchet_state = substr(ratchet_state, 1, 100)");
    assert_ok(sx_agent_store_open(p, 0, &s));
    assert_int_equal(sx_agent_store_ratchet_get(s, &conn, &r), SX_E_PROTOCOL);
    assert_ok(sx_agent_store_ratchet_save(s, &conn, &alice));
    assert_ok(sx_agent_store_ratchet_get(s, &conn, &r));
    sx_ratchet_cleanup(&r);
    sx_agent_store_close(s);
    asu_sql_exec(p, "UPDATE ratchets SET ratchet_state = CAST(ratchet_state || x'00' AS BLOB)");
    assert_ok(sx_agent_store_open(p, 0, &s));
    assert_int_equal(sx_agent_store_ratchet_get(s, &conn, &r), SX_E_PROTOCOL);
    assert_ok(sx_agent_store_ratchet_save(s, &conn, &alice));
    /* Back to two keys from one: the rows follow the list, in order. */
    assert_ok(sx_agent_store_ratchet_get(s, &conn, &r));
    b1 = asu_ratchet_bytes(&alice, &n1);
    b2 = asu_ratchet_bytes(&r, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(b1, b2, n1);
    free(b1);
    free(b2);
    sx_ratchet_cleanup(&r);
    sx_agent_store_close(s);
    snprintf(sql, sizeof sql, "UPDATE skipped_keys SET msg_key = x'0011' WHERE ord = "
                              "(SELECT max(ord) FROM skipped_keys)");
    asu_sql_exec(p, sql);
    assert_ok(sx_agent_store_open(p, 0, &s));
    assert_int_equal(sx_agent_store_ratchet_get(s, &conn, &r), SX_E_PROTOCOL);
    sx_agent_store_close(s);
    asu_sql_exec(p, "UPDATE ratchets SET x3dh_private = x'01'");
    assert_ok(sx_agent_store_open(p, 0, &s));
    assert_int_equal(sx_agent_store_x3dh_get(s, &conn, &v, &back), SX_E_PROTOCOL);
    sx_agent_store_close(s);
    sx_ratchet_cleanup(&alice);
    sx_ratchet_cleanup(&bob);
    free(p);
}

/* Ratchet re-synchronisation: our new X3DH keys kept beside the ratchet
 * in use (message steps keep them), and the peer's key hashes recorded
 * once. */
static void test_sync_keys(void **state)
{
    (void)state;
    char *p = asu_fresh("sync.db");
    sx_agent_store *s;
    assert_ok(sx_agent_store_open(p, 0, &s));
    int64_t user;
    sx_agent_id conn, other;
    asu_conn(s, SX_AGENT_CONN_DUPLEX, &user, &conn);
    asu_conn(s, SX_AGENT_CONN_DUPLEX, &user, &other);
    sx_e2e_private priv, back;
    sx_e2e_params pub;
    assert_ok(sx_e2e_generate(2, SX_USE_KEM_NO, NULL, NULL, &priv, &pub));
    uint16_t v = 0;
    /* No ratchet yet: nothing to keep them beside. */
    assert_int_equal(sx_agent_store_sync_keys_save(s, &conn, 2, &priv), SX_E_USAGE);
    sx_ratchet alice, bob;
    asu_ratchet_pair(&alice, &bob);
    assert_ok(sx_agent_store_ratchet_save(s, &conn, &bob));
    assert_int_equal(sx_agent_store_sync_keys_get(s, &conn, &v, &back), SX_E_USAGE);
    assert_ok(sx_agent_store_sync_keys_save(s, &conn, 2, &priv));
    /* Not the handshake's keys, and a message step keeps them. */
    assert_int_equal(sx_agent_store_x3dh_get(s, &conn, &v, &back), SX_E_USAGE);
    assert_ok(sx_agent_store_ratchet_save(s, &conn, &bob));
    assert_ok(sx_agent_store_sync_keys_get(s, &conn, &v, &back));
    assert_int_equal(v, 2);
    assert_memory_equal(back.k1, priv.k1, SX_X448_LEN);
    assert_memory_equal(back.k2, priv.k2, SX_X448_LEN);
    assert_int_equal(back.kem, SX_KEM_NONE);
    sx_e2e_private_wipe(&back);
    assert_ok(sx_agent_store_sync_keys_clear(s, &conn));
    assert_int_equal(sx_agent_store_sync_keys_get(s, &conn, &v, &back), SX_E_USAGE);
    assert_ok(sx_agent_store_sync_keys_save(s, &conn, 3, &priv));
    sx_agent_store_close(s);
    /* Damaged bytes are refused. */
    asu_sql_exec(p, "UPDATE ratchets SET sync_x3dh_private = x'0003'");
    assert_ok(sx_agent_store_open(p, 0, &s));
    assert_int_equal(sx_agent_store_sync_keys_get(s, &conn, &v, &back), SX_E_PROTOCOL);

    uint8_t h1[SX_AGENT_HASH_LEN], h2[SX_AGENT_HASH_LEN];
    memset(h1, 1, sizeof h1);
    memset(h2, 2, sizeof h2);
    bool seen = true;
    assert_ok(sx_agent_store_rkey_hash_add(s, &conn, h1, &seen));
    assert_false(seen);
    assert_ok(sx_agent_store_rkey_hash_add(s, &conn, h1, &seen));
    assert_true(seen);
    assert_ok(sx_agent_store_rkey_hash_add(s, &conn, h2, &seen));
    assert_false(seen);
    assert_ok(sx_agent_store_rkey_hash_add(s, &other, h1, &seen));
    assert_false(seen);
    assert_ok(sx_agent_store_conn_delete(s, &conn));
    sx_agent_store_close(s);
    assert_int_equal(asu_sql_int(p, "SELECT count(*) FROM processed_ratchet_key_hashes"), 1);
    sx_e2e_private_wipe(&priv);
    sx_ratchet_cleanup(&alice);
    sx_ratchet_cleanup(&bob);
    free(p);
}

/* Many saves of a ratchet whose skipped keys come and go (messages read
 * out of order, the ratchet turning now and then): after each, what the
 * store reads back is the ratchet, byte for byte. */
static void test_ratchet_saves(void **state)
{
    (void)state;
    char *p = asu_fresh("saves.db");
    sx_agent_store *s;
    assert_ok(sx_agent_store_open(p, 0, &s));
    int64_t user;
    sx_agent_id conn;
    asu_conn(s, SX_AGENT_CONN_DUPLEX, &user, &conn);
    sx_ratchet alice, bob;
    asu_ratchet_pair(&alice, &bob);
    enum { MAXQ = 24 };
    uint8_t wire[MAXQ][600];
    size_t wl[MAXQ];
    size_t nq = 0;
    uint32_t seed = 12345;
    uint8_t out[600];
    sx_slice plain;
    for (int step = 0; step < 300; step++) {
        seed = seed * 1103515245u + 12345u;
        unsigned pick = (seed >> 16) % 10;
        if (pick < 5 && nq < MAXQ) {
            assert_ok(sx_ratchet_encrypt(&bob, SX_PQ_KEEP, 3, ASU_PAD, sx_slice_str("m"), wire[nq],
                                         sizeof wire[nq], &wl[nq]));
            nq++;
            continue;
        }
        if (pick == 9 && alice.has_snd) {
            /* alice answers: bob's next message turns the ratchet */
            uint8_t back[600];
            size_t bl;
            assert_ok(sx_ratchet_encrypt(&alice, SX_PQ_KEEP, 3, ASU_PAD, sx_slice_str("r"), back,
                                         sizeof back, &bl));
            assert_ok(sx_ratchet_decrypt(&bob, sx_slice_of(back, bl), out, sizeof out, &plain,
                                         NULL));
        } else if (nq > 0) {
            size_t i = (seed >> 8) % nq;
            assert_ok(sx_ratchet_decrypt(&alice, sx_slice_of(wire[i], wl[i]), out, sizeof out,
                                         &plain, NULL));
            memmove(wire[i], wire[nq - 1], wl[nq - 1]);
            wl[i] = wl[nq - 1];
            nq--;
        }
        assert_ok(sx_agent_store_ratchet_save(s, &conn, &alice));
        sx_ratchet r;
        assert_ok(sx_agent_store_ratchet_get(s, &conn, &r));
        size_t n1, n2;
        uint8_t *b1 = asu_ratchet_bytes(&alice, &n1), *b2 = asu_ratchet_bytes(&r, &n2);
        assert_int_equal(n1, n2);
        assert_memory_equal(b1, b2, n1);
        free(b1);
        free(b2);
        assert_int_equal(asu_sql_int(p, "SELECT count(*) FROM skipped_keys"), (int64_t)r.n_skipped);
        sx_ratchet_cleanup(&r);
    }
    sx_ratchet_cleanup(&alice);
    sx_ratchet_cleanup(&bob);
    sx_agent_store_close(s);
    free(p);
}

/* ---- messages -------------------------------------------------------------- */

static void test_messages(void **state)
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
    int64_t aq = asu_rcv_queue(sa, &ca, 2);

    const char *texts[] = {"first", "second", "third"};
    uint8_t first_hash[32];
    assert_ok(sx_sha256(sx_slice_str("first"), first_hash));
    for (int i = 0; i < 3; i++) {
        uint8_t wire[1024], again[1024];
        asu_snd_ctx sc = {.text = texts[i], .out = wire, .cap = sizeof wire};
        sx_agent_snd_ids ids;
        assert_ok(sx_agent_store_snd_msg_create(sb, &cb, &bq, 1, asu_snd_cb, &sc, &ids));
        assert_int_equal(ids.internal_id, i + 1);
        assert_int_equal(ids.internal_snd_id, i + 1);
        assert_int_equal(ids.prev_hash_len, i == 0 ? 0 : 32);
        if (i == 1)
            assert_memory_equal(ids.prev_hash, first_hash, 32);
        /* The worker re-encrypts from the stored key: the same bytes. */
        sx_agent_delivery d;
        bool found;
        assert_ok(sx_agent_store_delivery_next(sb, bq, &d, &found));
        assert_true(found);
        assert_int_equal(d.internal_id, i + 1);
        assert_int_equal(d.msg_type, 'M');
        assert_true(d.notification);
        assert_int_equal(d.body.len, strlen(texts[i]));
        size_t al;
        assert_ok(sx_ratchet_encrypt_msg(&d.mek, d.padded_len,
                                         sx_slice_of(d.body.ptr, d.body.len), again, sizeof again,
                                         &al));
        assert_int_equal(al, sc.out_len);
        assert_memory_equal(again, wire, al);
        size_t pending;
        assert_ok(sx_agent_store_delivery_count(sb, &cb, &pending));
        assert_int_equal(pending, 1);
        assert_ok(sx_agent_store_delivery_done(sb, &cb, bq, d.internal_id, i == 0));
        assert_int_equal(sx_agent_store_delivery_done(sb, &cb, bq, d.internal_id, false),
                         SX_E_USAGE);
        sx_agent_delivery_cleanup(&d);
        assert_ok(sx_agent_store_delivery_next(sb, bq, &d, &found));
        assert_false(found);

        asu_rcv_ctx rc = {.wire = wire, .wire_len = sc.out_len, .rcv_queue_id = aq};
        memset(rc.broker_id, 'a' + i, sizeof rc.broker_id);
        int64_t rid;
        assert_ok(sx_agent_store_rcv_msg_record(sa, &ca, asu_rcv_cb, &rc, &rid));
        assert_int_equal(rid, i + 1);
        assert_int_equal(rc.seen.last_external_snd_id, i);
        assert_int_equal(rc.seen.last_rcv_hash_len, i == 0 ? 0 : 32);
        if (i == 1)
            assert_memory_equal(rc.seen.last_rcv_hash, first_hash, 32);
        bool seen;
        uint8_t eh[32];
        assert_ok(sx_sha256(sx_slice_of(wire, sc.out_len), eh));
        assert_ok(sx_agent_store_rcv_hash_seen(sa, &ca, eh, &seen));
        assert_true(seen);
        /* A re-delivery: the stored ratchet calls it a duplicate and
         * nothing is stored (docs/AGENT-STORE.md, "Duplicates"). */
        int64_t rid2 = 0;
        assert_int_equal(sx_agent_store_rcv_msg_record(sa, &ca, asu_rcv_cb, &rc, &rid2),
                         SX_E_PROTOCOL);
        assert_int_equal(rc.err.code, SX_RATCHET_ERR_DUPLICATE);
    }
    /* Counters on both sides. */
    sx_agent_conn c;
    assert_ok(sx_agent_store_conn_get(sb, &cb, &c));
    assert_int_equal(c.last_internal_snd_msg_id, 3);
    assert_int_equal(c.last_snd_hash_len, 32);
    assert_ok(sx_agent_store_conn_get(sa, &ca, &c));
    assert_int_equal(c.last_internal_rcv_msg_id, 3);
    assert_int_equal(c.last_external_snd_msg_id, 3);
    /* Only the first (kept for its receipt) of bob's messages is left. */
    assert_int_equal(asu_sql_int(pb, "SELECT count(*) FROM messages"), 1);
    assert_int_equal(asu_sql_int(pb, "SELECT count(*) FROM snd_messages"), 1);
    assert_ok(sx_agent_store_msg_delete(sb, &cb, 1));
    assert_int_equal(asu_sql_int(pb, "SELECT count(*) FROM snd_messages"), 0);
    assert_int_equal(sx_agent_store_msg_delete(sb, &cb, 1), SX_E_USAGE);

    /* Alice finds, acknowledges and deletes. */
    uint8_t broker[24];
    memset(broker, 'b', sizeof broker);
    sx_agent_rcv_stored m;
    bool found;
    assert_ok(sx_agent_store_rcv_msg_find(sa, &ca, sx_slice_of(broker, 24), &m, &found));
    assert_true(found);
    assert_int_equal(m.internal_id, 2);
    assert_int_equal(m.external_snd_id, 2);
    assert_false(m.user_ack);
    assert_int_equal(m.body.len, 6);
    assert_memory_equal(m.body.ptr, "second", 6);
    sx_agent_blob_free(&m.body);
    assert_ok(sx_agent_store_rcv_msg_ack(sa, &ca, 2));
    assert_ok(sx_agent_store_rcv_msg_find(sa, &ca, sx_slice_of(broker, 24), &m, &found));
    assert_true(found && m.user_ack);
    sx_agent_blob_free(&m.body);
    assert_ok(sx_agent_store_msg_delete(sa, &ca, 2));
    assert_ok(sx_agent_store_rcv_msg_find(sa, &ca, sx_slice_of(broker, 24), &m, &found));
    assert_false(found);
    assert_int_equal(sx_agent_store_rcv_msg_ack(sa, &ca, 2), SX_E_USAGE);
    assert_int_equal(asu_sql_int(pa, "SELECT count(*) FROM rcv_messages"), 2);

    /* A delivery to a queue of another connection is refused. */
    int64_t other_user;
    sx_agent_id other;
    asu_conn(sb, SX_AGENT_CONN_DUPLEX, &other_user, &other);
    int64_t oq = asu_snd_queue(sb, &other, 9);
    asu_snd_ctx sc = {.text = "wrong queue"};
    assert_int_equal(sx_agent_store_snd_msg_create(sb, &cb, &oq, 1, asu_snd_cb, &sc, NULL),
                     SX_E_USAGE);
    assert_ok(sx_agent_store_conn_get(sb, &cb, &c));
    assert_int_equal(c.last_internal_snd_msg_id, 3);

    sx_ratchet_cleanup(&alice);
    sx_ratchet_cleanup(&bob);
    sx_agent_store_close(sa);
    sx_agent_store_close(sb);
    free(pa);
    free(pb);
}

/* ---- confirmations, invitations, commands ---------------------------------- */

static void test_confirmations_invitations(void **state)
{
    (void)state;
    char *p = asu_fresh("pending.db");
    sx_agent_store *s;
    assert_ok(sx_agent_store_open(p, 0, &s));
    int64_t user;
    sx_agent_id conn;
    asu_conn(s, SX_AGENT_CONN_RCV, &user, &conn);
    sx_agent_confirmation c = {.conn_id = conn,
                               .sender_key = sx_slice_str("sender key"),
                               .ratchet_state = sx_slice_str("ratchet"),
                               .sender_conn_info = sx_slice_str("their info"),
                               .smp_client_version = 4};
    memset(c.e2e_snd_pub_key, 0x5a, 32);
    sx_agent_id cid;
    assert_ok(sx_agent_store_confirmation_create(s, &c, &cid));
    sx_agent_confirmation got;
    sx_agent_blob storage;
    bool accepted = true;
    assert_ok(sx_agent_store_confirmation_get(s, &cid, &got, &accepted, &storage));
    assert_false(accepted);
    assert_memory_equal(got.conn_id.b, conn.b, SX_AGENT_ID_LEN);
    assert_int_equal(got.e2e_snd_pub_key[7], 0x5a);
    assert_int_equal(got.sender_key.len, 10);
    assert_memory_equal(got.ratchet_state.ptr, "ratchet", 7);
    assert_memory_equal(got.sender_conn_info.ptr, "their info", 10);
    assert_int_equal(got.reply_queues.len, 0);
    assert_int_equal(got.smp_client_version, 4);
    sx_agent_blob_free(&storage);
    assert_ok(sx_agent_store_confirmation_accept(s, &cid, sx_slice_str("mine")));
    assert_ok(sx_agent_store_confirmation_get(s, &cid, &got, &accepted, &storage));
    assert_true(accepted);
    sx_agent_blob_free(&storage);
    sx_agent_id none;
    memset(none.b, 1, sizeof none.b);
    assert_int_equal(sx_agent_store_confirmation_get(s, &none, &got, &accepted, &storage),
                     SX_E_USAGE);
    assert_int_equal(sx_agent_store_confirmation_accept(s, &none, sx_slice_str("x")), SX_E_USAGE);

    sx_agent_id iid;
    assert_ok(sx_agent_store_invitation_create(s, &conn, sx_slice_str("invitation"),
                                               sx_slice_str("info"), &iid));
    sx_slice inv, info;
    assert_ok(sx_agent_store_invitation_get(s, &iid, &inv, &info, &accepted, &storage));
    assert_false(accepted);
    assert_int_equal(inv.len, 10);
    assert_memory_equal(info.ptr, "info", 4);
    sx_agent_blob_free(&storage);
    /* The same invitation again on this address is found; another
     * invitation, or this one on another connection, is not. */
    bool found = false;
    assert_ok(sx_agent_store_invitation_find(s, &conn, sx_slice_str("invitation"), &found));
    assert_true(found);
    assert_ok(sx_agent_store_invitation_find(s, &conn, sx_slice_str("invitatioN"), &found));
    assert_false(found);
    assert_ok(sx_agent_store_invitation_find(s, &cid, sx_slice_str("invitation"), &found));
    assert_false(found);
    assert_ok(sx_agent_store_invitation_accept(s, &iid, sx_slice_str("ours")));
    assert_ok(sx_agent_store_invitation_get(s, &iid, &inv, &info, &accepted, &storage));
    assert_true(accepted);
    sx_agent_blob_free(&storage);
    /* The request outlives its address (its link is forgotten). */
    assert_ok(sx_agent_store_conn_delete(s, &conn));
    assert_int_equal(asu_sql_int(p, "SELECT count(*) FROM conn_confirmations"), 0);
    assert_int_equal(asu_sql_int(p, "SELECT count(*) FROM conn_invitations WHERE "
                                    "contact_conn_id IS NULL"),
                     1);
    assert_ok(sx_agent_store_invitation_delete(s, &iid));
    assert_int_equal(sx_agent_store_invitation_delete(s, &iid), SX_E_USAGE);
    sx_agent_store_close(s);
    free(p);
}

static void test_commands(void **state)
{
    (void)state;
    char *p = asu_fresh("commands.db");
    sx_agent_store *s;
    assert_ok(sx_agent_store_open(p, 0, &s));
    int64_t user, srv;
    sx_agent_id c1, c2;
    asu_conn(s, SX_AGENT_CONN_DUPLEX, &user, &c1);
    asu_conn(s, SX_AGENT_CONN_DUPLEX, &user, &c2);
    assert_ok(sx_agent_store_server_get_or_create(s, "h", "1", sx_slice_str("k"), &srv));
    int64_t id1, id2, id3, id4;
    assert_ok(sx_agent_store_cmd_enqueue(s, &c1, srv, "ACK", sx_slice_str("one"), &id1));
    assert_ok(sx_agent_store_cmd_enqueue(s, &c2, 0, "SWCH", sx_slice_str(""), &id2));
    assert_ok(sx_agent_store_cmd_enqueue(s, &c1, srv, "DEL", sx_slice_str("three"), &id3));
    assert_true(id1 > 0 && id2 > id1 && id3 > id2);
    assert_int_equal(sx_agent_store_cmd_enqueue(s, &c1, 0, "", sx_slice_str(""), &id4), SX_E_USAGE);
    assert_int_equal(sx_agent_store_cmd_enqueue(s, &c1, 0, "A-TAG-MUCH-TOO-LONG", sx_slice_str(""), &id4), SX_E_USAGE);
    /* For a connection being deleted, or gone: dropped. */
    assert_ok(sx_agent_store_conn_set_state(s, &c2, SX_AGENT_CONN_DELETED));
    assert_ok(sx_agent_store_cmd_enqueue(s, &c2, 0, "ACK", sx_slice_str("x"), &id4));
    assert_int_equal(id4, 0);
    sx_agent_id none;
    memset(none.b, 3, sizeof none.b);
    assert_ok(sx_agent_store_cmd_enqueue(s, &none, 0, "ACK", sx_slice_str("x"), &id4));
    assert_int_equal(id4, 0);

    sx_agent_command c;
    bool found;
    assert_ok(sx_agent_store_cmd_take(s, &c1, srv, &c, &found));
    assert_true(found);
    assert_int_equal(c.command_id, id1);
    assert_string_equal(c.tag, "ACK");
    assert_int_equal(c.server_id, srv);
    assert_int_equal(c.body.len, 3);
    sx_agent_command_cleanup(&c);
    assert_ok(sx_agent_store_cmd_take(s, &c2, srv, &c, &found));
    assert_false(found);
    assert_ok(sx_agent_store_cmd_take(s, NULL, 0, &c, &found));
    assert_true(found);
    assert_int_equal(c.command_id, id2);
    assert_int_equal(c.server_id, 0);
    assert_int_equal(c.body.len, 0);
    sx_agent_command_cleanup(&c);
    size_t pending, taken;
    assert_ok(sx_agent_store_cmd_count(s, &pending, &taken));
    assert_int_equal(pending, 1);
    assert_int_equal(taken, 2);
    assert_ok(sx_agent_store_cmd_complete(s, id1));
    assert_int_equal(sx_agent_store_cmd_complete(s, id1), SX_E_USAGE);
    sx_agent_store_close(s);

    /* A restart: the taken one that did not complete runs again. */
    assert_ok(sx_agent_store_open(p, 0, &s));
    size_t resumed;
    assert_ok(sx_agent_store_cmd_resume(s, &resumed));
    assert_int_equal(resumed, 1);
    assert_ok(sx_agent_store_cmd_count(s, &pending, &taken));
    assert_int_equal(pending, 2);
    assert_int_equal(taken, 0);
    assert_ok(sx_agent_store_conn_delete(s, &c2));
    assert_ok(sx_agent_store_cmd_count(s, &pending, &taken));
    assert_int_equal(pending, 1);
    sx_agent_store_close(s);
    free(p);
}

/* Short links: stored, read back, replaced, deleted, and gone with their
 * connection. */
static void test_short_links(void **state)
{
    (void)state;
    char *p = asu_fresh("short_links.db");
    sx_agent_store *s;
    assert_ok(sx_agent_store_open(p, 0, &s));
    int64_t user;
    sx_agent_id c1, c2;
    asu_conn(s, SX_AGENT_CONN_CONTACT, &user, &c1);
    asu_conn(s, SX_AGENT_CONN_RCV, &user, &c2);
    uint8_t key[48], fixed[2048];
    memset(key, 7, sizeof key);
    memset(fixed, 9, sizeof fixed);
    sx_agent_short_link_row r;
    memset(&r, 0, sizeof r);
    r.mode = 'C';
    memset(r.link_id, 1, sizeof r.link_id);
    memset(r.link_key, 2, sizeof r.link_key);
    r.root_priv = (sx_agent_blob){key, sizeof key};
    r.enc_fixed = (sx_agent_blob){fixed, sizeof fixed};
    assert_ok(sx_agent_store_short_link_set(s, &c1, &r));
    r.mode = 'I';
    assert_ok(sx_agent_store_short_link_set(s, &c2, &r));
    sx_agent_short_link_row got;
    bool found = false;
    assert_ok(sx_agent_store_short_link_get(s, &c1, &got, &found));
    assert_true(found);
    assert_int_equal(got.mode, 'C');
    assert_memory_equal(got.link_id, r.link_id, sizeof r.link_id);
    assert_memory_equal(got.link_key, r.link_key, sizeof r.link_key);
    assert_int_equal(got.root_priv.len, sizeof key);
    assert_memory_equal(got.root_priv.ptr, key, sizeof key);
    assert_int_equal(got.enc_fixed.len, sizeof fixed);
    assert_memory_equal(got.enc_fixed.ptr, fixed, sizeof fixed);
    sx_agent_short_link_row_free(&got);
    /* Replaced in place. */
    memset(r.link_key, 5, sizeof r.link_key);
    assert_ok(sx_agent_store_short_link_set(s, &c1, &r));
    assert_ok(sx_agent_store_short_link_get(s, &c1, &got, &found));
    assert_int_equal(got.mode, 'I');
    assert_int_equal(got.link_key[0], 5);
    sx_agent_short_link_row_free(&got);
    r.root_priv.len = 0;
    assert_int_equal(sx_agent_store_short_link_set(s, &c1, &r), SX_E_USAGE);
    assert_ok(sx_agent_store_short_link_delete(s, &c1));
    assert_ok(sx_agent_store_short_link_get(s, &c1, &got, &found));
    assert_false(found);
    assert_ok(sx_agent_store_conn_delete(s, &c2));
    assert_int_equal(asu_sql_int(p, "SELECT count(*) FROM short_links"), 0);
    /* A joiner's LKEY key: the first one stays. */
    int64_t srv;
    assert_ok(sx_agent_store_server_get_or_create(s, "h", "1", sx_slice_str("k"), &srv));
    sx_slice lid = sx_slice_str("link id of 24 bytes ....");
    sx_agent_blob k = {0};
    assert_ok(sx_agent_store_inv_short_link_get(s, srv, lid, &k, &found));
    assert_false(found);
    assert_ok(sx_agent_store_inv_short_link_set(s, srv, lid, sx_slice_str("key one")));
    assert_ok(sx_agent_store_inv_short_link_set(s, srv, lid, sx_slice_str("key two")));
    assert_ok(sx_agent_store_inv_short_link_get(s, srv, lid, &k, &found));
    assert_true(found);
    assert_int_equal(k.len, 7);
    assert_memory_equal(k.ptr, "key one", 7);
    sx_agent_blob_free(&k);
    assert_ok(sx_agent_store_inv_short_link_delete(s, srv, lid));
    assert_ok(sx_agent_store_inv_short_link_get(s, srv, lid, &k, &found));
    assert_false(found);
    sx_agent_store_close(s);
    free(p);
}

/* Deleting a connection takes every row hanging off it. */
static void test_delete_cascades(void **state)
{
    (void)state;
    char *p = asu_fresh("cascade.db");
    sx_agent_store *s;
    assert_ok(sx_agent_store_open(p, 0, &s));
    int64_t user;
    sx_agent_id keep, conn;
    asu_conn(s, SX_AGENT_CONN_DUPLEX, &user, &keep);
    asu_conn(s, SX_AGENT_CONN_DUPLEX, &user, &conn);
    sx_ratchet alice, bob;
    asu_ratchet_pair(&alice, &bob);
    assert_ok(sx_agent_store_ratchet_save(s, &conn, &bob));
    assert_ok(sx_agent_store_ratchet_save(s, &keep, &bob));
    int64_t sq = asu_snd_queue(s, &conn, 1);
    asu_rcv_queue(s, &conn, 2);
    asu_snd_queue(s, &keep, 3);
    uint8_t wire[1024];
    asu_snd_ctx sc = {.text = "hello", .out = wire, .cap = sizeof wire};
    assert_ok(sx_agent_store_snd_msg_create(s, &conn, &sq, 1, asu_snd_cb, &sc, NULL));
    /* A skipped key row for conn. */
    uint8_t w2[3][1024];
    size_t l2[3];
    for (int i = 0; i < 3; i++)
        assert_ok(sx_ratchet_encrypt(&bob, SX_PQ_KEEP, 3, ASU_PAD, sx_slice_str("m"), w2[i],
                                     sizeof w2[i], &l2[i]));
    uint8_t out[1024];
    sx_slice plain;
    assert_ok(sx_ratchet_decrypt(&alice, sx_slice_of(w2[2], l2[2]), out, sizeof out, &plain, NULL));
    assert_ok(sx_agent_store_ratchet_save(s, &conn, &alice));
    int64_t cmd;
    assert_ok(sx_agent_store_cmd_enqueue(s, &conn, 0, "ACK", sx_slice_str(""), &cmd));
    sx_agent_confirmation c = {.conn_id = conn};
    sx_agent_id cid;
    assert_ok(sx_agent_store_confirmation_create(s, &c, &cid));
    int64_t aq = asu_rcv_queue(s, &keep, 4);
    (void)aq;

    assert_ok(sx_agent_store_conn_delete(s, &conn));
    const char *tables[] = {"rcv_queues", "snd_queues", "ratchets", "skipped_keys", "messages",
                            "snd_messages", "snd_message_deliveries", "conn_confirmations",
                            "commands"};
    int64_t expect[] = {1, 1, 1, 0, 0, 0, 0, 0, 0}; /* what belongs to keep */
    char sql[128];
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", tables[i]);
        if (asu_sql_int(p, sql) != expect[i])
            fail_msg("%s: %lld rows", tables[i], (long long)asu_sql_int(p, sql));
    }
    sx_ratchet_cleanup(&alice);
    sx_ratchet_cleanup(&bob);
    sx_agent_store_close(s);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrate_empty),
        cmocka_unit_test(test_migrate_steps_and_reopen),
        cmocka_unit_test(test_newer_refused),
        cmocka_unit_test(test_settings_users_servers),
        cmocka_unit_test(test_connections),
        cmocka_unit_test(test_queues),
        cmocka_unit_test(test_ratchets),
        cmocka_unit_test(test_ratchet_saves),
        cmocka_unit_test(test_sync_keys),
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_confirmations_invitations),
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_delete_cascades),
        cmocka_unit_test(test_short_links),
    };
    return cmocka_run_group_tests(tests, asu_setup, asu_teardown);
}
