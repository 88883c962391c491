/* Helpers of the agent store tests (see agent_store_util.h). */
#include "agent_store_util.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/writer.h"
#include "crypto/hash.h"
#include "crypto/util.h"
#include "testutil.h"

static char g_dir[512];

int asu_setup(void **state)
{
    (void)state;
    if (sx_crypto_init() != SX_OK)
        return -1;
    const char *base = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/sx-agent-store-XXXXXX", base != NULL ? base : "/tmp");
    return mkdtemp(g_dir) != NULL ? 0 : -1;
}

int asu_teardown(void **state)
{
    (void)state;
    tu_rm_rf(g_dir);
    return 0;
}

char *asu_fresh(const char *name)
{
    /* Without asu_setup as the group's setup the folder is "": the file
     * would land at the file system's root. */
    if (g_dir[0] == '\0')
        fail_msg("asu_fresh(%s) without asu_setup", name);
    size_t n = strlen(g_dir) + strlen(name) + 2;
    char *p = malloc(n);
    assert_non_null(p);
    snprintf(p, n, "%s/%s", g_dir, name);
    remove(p);
    return p;
}

int64_t asu_sql_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 30000);
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return v;
}

void asu_sql_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 30000);
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", sql, err != NULL ? err : "?");
    sqlite3_close(db);
}

void asu_ratchet_pair(sx_ratchet *alice, sx_ratchet *bob)
{
    sx_e2e_private apriv, bpriv;
    sx_e2e_params apub, bpub;
    sx_x3dh_result ares, bres;
    assert_ok(sx_e2e_generate(3, SX_USE_KEM_NO, NULL, NULL, &apriv, &apub));
    assert_ok(sx_e2e_generate(3, SX_USE_KEM_NO, NULL, NULL, &bpriv, &bpub));
    assert_ok(sx_x3dh_snd(&bpriv, &apub, &bres));
    assert_ok(sx_x3dh_rcv(&apriv, &bpub, &ares));
    assert_ok(sx_ratchet_init_snd(bob, 3, 3, apub.k2, NULL, &bres, NULL));
    assert_ok(sx_ratchet_init_rcv(alice, 3, 3, apriv.k2, &ares, false, NULL));
    sx_e2e_private_wipe(&apriv);
    sx_e2e_private_wipe(&bpriv);
    sx_x3dh_result_wipe(&ares);
    sx_x3dh_result_wipe(&bres);
}

uint8_t *asu_ratchet_bytes(const sx_ratchet *r, size_t *len)
{
    sx_writer w;
    sx_writer_init_dynamic(&w, 1u << 20);
    assert_true(sx_ratchet_write(&w, r));
    assert_ok(sx_writer_status(&w));
    return sx_writer_take(&w, len);
}

void asu_conn(sx_agent_store *s, sx_agent_conn_state state, int64_t *user, sx_agent_id *id)
{
    assert_ok(sx_agent_store_user_create(s, user));
    sx_agent_conn c = {
        .user_id = *user,
        .mode = SX_AGENT_MODE_INVITATION,
        .state = state,
        .agent_version = 7,
    };
    assert_ok(sx_agent_store_conn_create(s, &c, id));
}

static int64_t server(sx_agent_store *s)
{
    int64_t id;
    assert_ok(sx_agent_store_server_get_or_create(s, "smp.example.org", "5223",
                                                  sx_slice_str("0123456789abcdef0123456789abcdef"),
                                                  &id));
    return id;
}

int64_t asu_snd_queue(sx_agent_store *s, const sx_agent_id *conn, uint8_t tag)
{
    sx_agent_snd_queue q = {.conn_id = *conn, .server_id = server(s), .snd_id_len = 24, .snd_priv_key_len = 48, .status = SX_AGENT_Q_ACTIVE, .smp_client_version = 4, .primary = true};
    memset(q.snd_id, tag, q.snd_id_len);
    memset(q.snd_priv_key, tag ^ 0x55, q.snd_priv_key_len);
    memset(q.e2e_pub_key, tag ^ 0x11, 32);
    memset(q.e2e_dh_secret, tag ^ 0x22, 32);
    int64_t id;
    assert_ok(sx_agent_store_snd_queue_create(s, &q, &id));
    return id;
}

int64_t asu_rcv_queue(sx_agent_store *s, const sx_agent_id *conn, uint8_t tag)
{
    sx_agent_rcv_queue q = {.conn_id = *conn, .server_id = server(s), .rcv_id_len = 24, .snd_id_len = 24, .rcv_priv_key_len = 48, .status = SX_AGENT_Q_NEW, .smp_client_version = 4, .primary = true, .queue_mode = 'M'};
    memset(q.rcv_id, tag, q.rcv_id_len);
    memset(q.snd_id, tag ^ 0x80, q.snd_id_len);
    memset(q.rcv_priv_key, tag ^ 0x33, q.rcv_priv_key_len);
    memset(q.rcv_dh_secret, tag ^ 0x44, 32);
    memset(q.e2e_priv_key, tag ^ 0x66, 32);
    int64_t id;
    assert_ok(sx_agent_store_rcv_queue_create(s, &q, &id));
    return id;
}

sx_status asu_snd_cb(void *ctx, const sx_agent_snd_ids *ids, sx_ratchet *r, sx_agent_snd_msg *msg)
{
    asu_snd_ctx *c = ctx;
    c->seen = *ids;
    msg->msg_type = 'M';
    msg->notification = true;
    msg->body = sx_slice_str(c->text);
    msg->padded_len = ASU_PAD;
    SX_TRY(sx_sha256(msg->body, msg->internal_hash));
    SX_TRY(sx_ratchet_encrypt_header(r, SX_PQ_KEEP, SX_E2E_VERSION_CURRENT, &msg->mek));
    if (c->fail)
        return SX_E_IO;
    if (c->out != NULL)
        SX_TRY(sx_ratchet_encrypt_msg(&msg->mek, ASU_PAD, msg->body, c->out, c->cap, &c->out_len));
    return SX_OK;
}

sx_status asu_rcv_cb(void *ctx, const sx_agent_rcv_prev *prev, sx_ratchet *r, sx_agent_rcv_msg *msg)
{
    asu_rcv_ctx *c = ctx;
    c->seen = *prev;
    sx_slice plain;
    SX_TRY(sx_ratchet_decrypt(r, sx_slice_of(c->wire, c->wire_len), c->plain, sizeof c->plain,
                              &plain, &c->err));
    msg->rcv_queue_id = c->rcv_queue_id;
    memcpy(msg->broker_id, c->broker_id, sizeof c->broker_id);
    msg->broker_id_len = sizeof c->broker_id;
    msg->broker_ts = 1700000000;
    msg->external_snd_id = prev->last_external_snd_id + 1;
    msg->msg_type = 'M';
    msg->body = plain;
    msg->integrity = sx_slice_str("OK");
    SX_TRY(sx_sha256(plain, msg->internal_hash));
    memcpy(msg->prev_hash, prev->last_rcv_hash, prev->last_rcv_hash_len);
    msg->prev_hash_len = prev->last_rcv_hash_len;
    return sx_sha256(sx_slice_of(c->wire, c->wire_len), msg->encrypted_hash);
}
