/* Benchmark: the agent store (agent/store.h) on a real SQLite file. Sent
 * messages per second, each in its own transaction with the ratchet state
 * it advanced (sx_agent_store_snd_msg_create: ids reserved, ratchet read,
 * header encrypted, message, sent message, delivery and ratchet written),
 * against a baseline in the same run: a bare SQLite INSERT of a row of the
 * same body size and COMMIT per transaction, on a file opened with the same
 * settings (WAL, synchronous=FULL). Then the bytes on disk per connection
 * for N idle duplex connections (a receive queue, a send queue and a
 * ratchet each), after a checkpoint, beside the bytes of their ratchet
 * states alone. Wall-clock figures: the file's fsyncs dominate.
 * Usage: bench_agent_store [messages] [connections] [dir]
 * (defaults 2000, 10000, $TMPDIR or /tmp). */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/store.h"
#include "core/writer.h"
#include "crypto/hash.h"
#include "crypto/util.h"

#define BODY_LEN 200
#define PAD 16000

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int check(sx_status st, const char *what)
{
    if (st != SX_OK) {
        fprintf(stderr, "bench_agent_store: %s: %s (%s)\n", what, sx_status_str(st),
                sx_error_message());
        exit(1);
    }
    return 0;
}

static long long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
}

static void rm_db(const char *path)
{
    char p[1100];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

static uint8_t body[BODY_LEN];

static sx_status snd_cb(void *ctx, const sx_agent_snd_ids *ids, sx_ratchet *r,
                        sx_agent_snd_msg *msg)
{
    (void)ctx;
    (void)ids;
    msg->msg_type = 'M';
    msg->body = sx_slice_of(body, sizeof body);
    msg->padded_len = PAD;
    SX_TRY(sx_sha256(msg->body, msg->internal_hash));
    return sx_ratchet_encrypt_header(r, SX_PQ_KEEP, SX_E2E_VERSION_CURRENT, &msg->mek);
}

static void pair(sx_ratchet *alice, sx_ratchet *bob)
{
    sx_e2e_private ap, bp;
    sx_e2e_params au, bu;
    sx_x3dh_result ar, br;
    check(sx_e2e_generate(3, SX_USE_KEM_NO, NULL, NULL, &ap, &au), "keys");
    check(sx_e2e_generate(3, SX_USE_KEM_NO, NULL, NULL, &bp, &bu), "keys");
    check(sx_x3dh_snd(&bp, &au, &br), "x3dh");
    check(sx_x3dh_rcv(&ap, &bu, &ar), "x3dh");
    check(sx_ratchet_init_snd(bob, 3, 3, au.k2, NULL, &br, NULL), "ratchet");
    check(sx_ratchet_init_rcv(alice, 3, 3, ap.k2, &ar, false, NULL), "ratchet");
    sx_e2e_private_wipe(&ap);
    sx_e2e_private_wipe(&bp);
}

/* Baseline: INSERT one row of the same body and COMMIT, n times. */
static double bare_sqlite(const char *path, int n)
{
    sqlite3 *db;
    rm_db(path);
    if (sqlite3_open(path, &db) != SQLITE_OK)
        exit(1);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                     "CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB NOT NULL)",
                 NULL, NULL, NULL);
    sqlite3_stmt *q;
    sqlite3_prepare_v2(db, "INSERT INTO t(body) VALUES (?)", -1, &q, NULL);
    double t0 = now();
    for (int i = 0; i < n; i++) {
        sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        sqlite3_reset(q);
        sqlite3_bind_blob(q, 1, body, sizeof body, SQLITE_STATIC);
        if (sqlite3_step(q) != SQLITE_DONE)
            exit(1);
        if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            exit(1);
    }
    double dt = now() - t0;
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n / dt;
}

static double store_sends(const char *path, int n)
{
    rm_db(path);
    sx_agent_store *s;
    check(sx_agent_store_open(path, 0, &s), "open");
    int64_t user, srv, q;
    check(sx_agent_store_user_create(s, &user), "user");
    sx_agent_conn c = {.user_id = user, .mode = SX_AGENT_MODE_INVITATION, .state = SX_AGENT_CONN_DUPLEX, .agent_version = 7};
    sx_agent_id conn;
    check(sx_agent_store_conn_create(s, &c, &conn), "connection");
    check(sx_agent_store_server_get_or_create(s, "smp.example.org", "5223",
                                              sx_slice_str("0123456789abcdef0123456789abcdef"),
                                              &srv),
          "server");
    sx_agent_snd_queue sq = {.conn_id = conn, .server_id = srv, .snd_id_len = 24, .snd_priv_key_len = 48, .status = SX_AGENT_Q_ACTIVE, .smp_client_version = 4, .primary = true};
    check(sx_agent_store_snd_queue_create(s, &sq, &q), "queue");
    sx_ratchet alice, bob;
    pair(&alice, &bob);
    check(sx_agent_store_ratchet_save(s, &conn, &bob), "ratchet");
    double t0 = now();
    for (int i = 0; i < n; i++)
        check(sx_agent_store_snd_msg_create(s, &conn, &q, 1, snd_cb, NULL, NULL), "send");
    double dt = now() - t0;
    sx_ratchet_cleanup(&alice);
    sx_ratchet_cleanup(&bob);
    sx_agent_store_close(s);
    return n / dt;
}

static void idle_connections(const char *path, int n)
{
    rm_db(path);
    sx_agent_store *s;
    check(sx_agent_store_open(path, 0, &s), "open");
    long long empty = file_size(path);
    sx_ratchet alice, bob;
    pair(&alice, &bob);
    sx_writer w;
    sx_writer_init_dynamic(&w, 1u << 16);
    if (!sx_ratchet_write(&w, &alice))
        exit(1);
    size_t state_len = w.len;
    sx_writer_cleanup(&w);
    int64_t user, srv;
    check(sx_agent_store_user_create(s, &user), "user");
    check(sx_agent_store_server_get_or_create(s, "smp.example.org", "5223",
                                              sx_slice_str("0123456789abcdef0123456789abcdef"),
                                              &srv),
          "server");
    double t0 = now();
    check(sx_agent_store_begin(s), "begin");
    for (int i = 0; i < n; i++) {
        sx_agent_conn c = {.user_id = user, .mode = SX_AGENT_MODE_INVITATION, .state = SX_AGENT_CONN_DUPLEX, .agent_version = 7};
        sx_agent_id conn;
        check(sx_agent_store_conn_create(s, &c, &conn), "connection");
        sx_agent_rcv_queue rq = {.conn_id = conn, .server_id = srv, .rcv_id_len = 24, .snd_id_len = 24, .rcv_priv_key_len = 48, .status = SX_AGENT_Q_ACTIVE, .smp_client_version = 4, .primary = true, .has_e2e_dh_secret = true};
        sx_agent_snd_queue sq = {.conn_id = conn, .server_id = srv, .snd_id_len = 24, .snd_priv_key_len = 48, .status = SX_AGENT_Q_ACTIVE, .smp_client_version = 4, .primary = true};
        sx_random_bytes(rq.rcv_id, 24);
        sx_random_bytes(rq.snd_id, 24);
        sx_random_bytes(rq.rcv_priv_key, 48);
        sx_random_bytes(rq.rcv_dh_secret, 32);
        sx_random_bytes(rq.e2e_priv_key, 32);
        sx_random_bytes(rq.e2e_dh_secret, 32);
        sx_random_bytes(sq.snd_id, 24);
        sx_random_bytes(sq.snd_priv_key, 48);
        sx_random_bytes(sq.e2e_pub_key, 32);
        sx_random_bytes(sq.e2e_dh_secret, 32);
        int64_t id;
        check(sx_agent_store_rcv_queue_create(s, &rq, &id), "receive queue");
        check(sx_agent_store_snd_queue_create(s, &sq, &id), "send queue");
        check(sx_agent_store_ratchet_save(s, &conn, &alice), "ratchet");
    }
    check(sx_agent_store_commit(s), "commit");
    double dt = now() - t0;
    sx_agent_store_close(s);
    sqlite3 *db;
    if (sqlite3_open(path, &db) == SQLITE_OK) {
        sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
        sqlite3_close(db);
    }
    long long size = file_size(path);
    printf("idle connections: %d created in %.2f s (one transaction)\n", n, dt);
    printf("  store file:        %lld bytes, %.0f bytes per connection (empty store %lld)\n", size,
           (double)(size - empty) / n, empty);
    printf("  baseline:          %zu bytes of ratchet state per connection (our encoding)\n",
           state_len);
    sx_ratchet_cleanup(&alice);
    sx_ratchet_cleanup(&bob);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    int conns = argc > 2 ? atoi(argv[2]) : 10000;
    const char *dir = argc > 3 ? argv[3] : getenv("TMPDIR");
    if (dir == NULL)
        dir = "/tmp";
    if (n <= 0 || conns <= 0)
        return 2;
    check(sx_crypto_init(), "init");
    sx_random_bytes(body, sizeof body);
    char path[1024];
    snprintf(path, sizeof path, "%s/bench-agent-store-%d.db", dir, (int)getpid());
    printf("bench_agent_store: %d messages, %d connections, in %s\n", n, conns, dir);
    double base = bare_sqlite(path, n);
    double ours = store_sends(path, n);
    printf("messages, one transaction each (WAL, synchronous=FULL):\n");
    printf("  bare INSERT+COMMIT: %8.0f /s  (baseline)\n", base);
    printf("  store send+ratchet: %8.0f /s  (%.2f x the baseline)\n", ours, ours / base);
    idle_connections(path, conns);
    rm_db(path);
    return 0;
}
