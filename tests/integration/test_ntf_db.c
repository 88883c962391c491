/* The NTF router on its PostgreSQL store (pgstore.h), in process, with the
 * APNS stand-in as a process and the database of a private PostgreSQL
 * server that test_ntf_db.sh starts (its connection string is the second
 * argument): a token registered and verified, a second one deleted, a
 * periodic interval set, a subscription created; the router stopped and
 * started again on the same database: the active token, its subscription
 * (the same SNEW answers the same id) and the deleted token's absence are
 * all read back. Then, on the store directly, a last notification of that
 * subscription saved to the last_notifications table and read back as the
 * same record, and an ERR status with its text. test_ntf_db.sh then reads the tables themselves.
 * Last, with the smp-server and ntf-server programs as processes (schema
 * ntf_kill): a message pushed for one of a token's two subscriptions, the
 * ntf-server killed with SIGKILL and started again, a message for the
 * other subscription: its push carries both notifications, so the first
 * was in the database before the kill (each last notification is written
 * as it comes, not at stop). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "core/base64.h"
#include "core/writer.h"
#include "crypto/keys.h"
#include "crypto/util.h"
#include "crypto/x509.h"
#include "kit/pgdb.h"
#include "ntf_env.h"
#include "pool_router.h"
#include "simplex/smp.h"
#include "ntf_router/pgschema.h"
#include "ntf_router/pgstore.h"

static void keep_line(void *arg, sx_slice line)
{
    char *out = arg;
    assert_true(line.len < 1024);
    memcpy(out, line.ptr, line.len);
    out[line.len] = 0;
}

/* The store read by a new router's records: *ns subscriptions, *nl last
 * notifications. */
static void load_store(sx_pgdb *db, sx_ntf_tokens **t, sx_ntf_subs **s, size_t *ns, size_t *nl)
{
    size_t nt = 0;
    assert_ok(sx_ntf_tokens_new(t));
    assert_ok(sx_ntf_subs_new(s));
    assert_ok(sx_ntf_pg_load(db, *t, *s, &nt, ns));
    assert_int_equal(nt, 1);
    assert_ok(sx_ntf_pg_load_last(db, *s, nl));
}

/* A last notification for the subscription of token tid to queue
 * server/nid, through the table and back. */
static void last_roundtrip(sx_slice tid, const char *server, sx_slice nid, sx_slice sid)
{
    sx_pgdb_cfg c = {.conninfo = g_ntf_db, .schema = SX_NTF_DEFAULT_DB_SCHEMA, .pool_size = 1, .migrate = true};
    sx_ntf_pg_cfg(&c);
    char err[700];
    sx_pgdb *db = NULL;
    assert_ok(sx_pgdb_open(&c, &db, err, sizeof err));
    sx_ntf_tokens *t = NULL;
    sx_ntf_subs *s = NULL;
    size_t ns = 0, nl = 0;
    load_store(db, &t, &s, &ns, &nl);
    assert_int_equal(ns, 1);
    assert_int_equal(nl, 0);

    char tb[64], nb[64], nonce_b[64], meta_b[128], line[1024], back[1024] = "";
    uint8_t nonce[24], meta[60];
    sx_random_bytes(nonce, sizeof nonce);
    sx_random_bytes(meta, sizeof meta);
    assert_ok(sx_b64_encode(tid, SX_B64_URL, tb, sizeof tb));
    assert_ok(sx_b64_encode(nid, SX_B64_URL, nb, sizeof nb));
    assert_ok(sx_b64_encode(sx_slice_of(nonce, sizeof nonce), SX_B64_URL, nonce_b, sizeof nonce_b));
    assert_ok(sx_b64_encode(sx_slice_of(meta, sizeof meta), SX_B64_URL, meta_b, sizeof meta_b));
    snprintf(line, sizeof line, "v1 %s %s/%s 1767225600 %s %s", tb, server, nb, nonce_b, meta_b);
    static sx_ntf_sl_last l;
    assert_ok(sx_ntf_sl_last_parse(sx_slice_str(line), &l));
    assert_true(sx_ntf_subs_restore_last(s, &l));
    size_t saved = 0;
    assert_ok(sx_ntf_pg_save_last(db, s, &saved));
    assert_int_equal(saved, 1);
    sx_ntf_subs_free(s);
    sx_ntf_tokens_free(t);

    load_store(db, &t, &s, &ns, &nl);
    assert_int_equal(nl, 1);
    assert_ok(sx_ntf_subs_write_last(s, keep_line, back));
    assert_string_equal(back, line);
    sx_ntf_subs_free(s);
    sx_ntf_tokens_free(t);

    /* an ERR status with its text, written and read back */
    static sx_ntf_sl_rec r;
    r.kind = SX_NTF_SL_SSTATUS;
    assert_ok(sx_ntf_sl_bytes_set(&r.id, sid));
    r.sub_status.status = SX_NTF_SUB_ERR;
    assert_ok(sx_ntf_sl_bytes_set(&r.sub_status.err, sx_slice_str("CONN TIMEOUT")));
    assert_ok(sx_ntf_pg_apply(db, &r));
    load_store(db, &t, &s, &ns, &nl);
    assert_int_equal(ns, 1);
    back[0] = 0;
    assert_ok(sx_ntf_subs_write_all(s, keep_line, back));
    assert_non_null(strstr(back, " subStatus=ERR CONN TIMEOUT"));
    sx_ntf_subs_free(s);
    sx_ntf_tokens_free(t);
    sx_pgdb_close(db);
}

static void test_restart(void **state)
{
    (void)state;
    env e;
    env_init(&e, 0);
    device d, gone;
    device_activate(&e, &d, "0a1b2c3d4e5f0a1b");
    device_register(&e, &gone, "ffee0011ffee0011");
    assert_ok(sx_ntf_token_delete(e.c, dev_id(&gone), gone.verify, NULL));
    assert_ok(sx_ntf_token_cron(e.c, dev_id(&d), d.verify, 20, NULL));

    /* a queue of an SMP router nobody runs: the subscription is kept
     * whatever its status becomes */
    uint8_t kh[32], nid[24];
    sx_random_bytes(kh, sizeof kh);
    sx_random_bytes(nid, sizeof nid);
    char khb64[64], server[160];
    assert_ok(sx_b64_encode(sx_slice_of(kh, sizeof kh), SX_B64_URL, khb64, sizeof khb64));
    snprintf(server, sizeof server, "smp://%s@127.0.0.1:1", khb64);
    uint8_t qbuf[600];
    sx_ntf_queue q;
    assert_ok(sx_ntf_queue_of(server, sx_slice_of(nid, sizeof nid), qbuf, sizeof qbuf, &q));
    sx_key *nk = NULL;
    assert_ok(sx_key_generate(SX_KEY_X25519, &nk));
    uint8_t nkey[128];
    sx_writer w;
    sx_writer_init_fixed(&w, nkey, sizeof nkey);
    assert_true(sx_key_write_private(&w, nk));
    size_t nkey_len = w.len;
    uint8_t sid[SX_NTF_CLIENT_ID_MAX], sid2[SX_NTF_CLIENT_ID_MAX];
    size_t sid_len = 0, sid2_len = 0;
    assert_ok(sx_ntf_sub_create(e.c, dev_id(&d), d.verify, &q, sx_slice_of(nkey, nkey_len), sid, &sid_len, NULL));
    sx_ntf_sub_status before = 0, after = 0;
    assert_ok(sx_ntf_sub_check(e.c, sx_slice_of(sid, sid_len), d.verify, &before, NULL, 0, NULL));

    /* the router again, on the same database */
    env_router_stop(&e);
    env_router_start(&e);
    sx_ntf_tkn_state ts;
    assert_ok(sx_ntf_token_check(e.c, dev_id(&d), d.verify, &ts, NULL));
    assert_int_equal(ts.status, SX_NTF_TKN_ACTIVE);
    sx_smp_error err;
    assert_int_equal(sx_ntf_token_check(e.c, dev_id(&gone), gone.verify, &ts, &err), SX_E_AUTH);
    assert_ok(sx_ntf_sub_check(e.c, sx_slice_of(sid, sid_len), d.verify, &after, NULL, 0, NULL));
    assert_true(after >= SX_NTF_SUB_NEW && after <= SX_NTF_SUB_ERR);
    /* the same queue and key: the subscription read back answers */
    assert_ok(sx_ntf_sub_create(e.c, dev_id(&d), d.verify, &q, sx_slice_of(nkey, nkey_len), sid2, &sid2_len,
                                NULL));
    assert_int_equal(sid_len, sid2_len);
    assert_memory_equal(sid, sid2, sid_len);
    /* a change after the restart is kept too: the token deleted below is
     * looked for by test_ntf_db.sh */
    device late;
    device_register(&e, &late, "1234123412341234");
    assert_ok(sx_ntf_token_delete(e.c, dev_id(&late), late.verify, NULL));
    env_free(&e);
    last_roundtrip(dev_id(&d), server, sx_slice_of(nid, sizeof nid), sx_slice_of(sid, sid_len));
    sx_key_free(nk);
    device_free(&late);
    device_free(&gone);
    device_free(&d);
}

static void wait_sub_active(env *e, sx_slice sub_id, const sx_key *verify)
{
    sx_ntf_sub_status st = 0;
    for (int i = 0; i < WAIT_S * 20; i++) {
        assert_ok(sx_ntf_sub_check(e->c, sub_id, verify, &st, NULL, 0, NULL));
        if (st == SX_NTF_SUB_ACTIVE)
            return;
        ntf_sleep_ms(50);
    }
    fail_msg("subscription status %d, not ACTIVE", st);
}

typedef struct kq {
    sx_smp_queue *rcv, *snd;
    sx_smp_ntf_creds nc;
    uint8_t sid[SX_NTF_CLIENT_ID_MAX];
    size_t sid_len;
    char nid_b64[64];
} kq;

static void kq_make(env *e, device *d, const char *addr, sx_smp_conn *rc, kq *k)
{
    assert_ok(sx_smp_queue_create(rc, &k->rcv));
    assert_ok(sx_smp_queue_sender(k->rcv, &k->snd));
    assert_ok(sx_smp_queue_notify_on(rc, k->rcv, &k->nc));
    uint8_t nkey[128], qbuf[600];
    size_t nkey_len = 0;
    assert_ok(sx_b64_decode(k->nc.notifier_key, strlen(k->nc.notifier_key), SX_B64_URL, nkey, sizeof nkey,
                            &nkey_len));
    sx_ntf_queue q;
    sx_slice nid = sx_slice_of(k->nc.notifier_id, sizeof k->nc.notifier_id);
    assert_ok(sx_ntf_queue_of(addr, nid, qbuf, sizeof qbuf, &q));
    assert_ok(sx_b64_encode(nid, SX_B64_URL, k->nid_b64, sizeof k->nid_b64));
    assert_ok(sx_ntf_sub_create(e->c, dev_id(d), d->verify, &q, sx_slice_of(nkey, nkey_len), k->sid, &k->sid_len,
                                NULL));
    wait_sub_active(e, sx_slice_of(k->sid, k->sid_len), d->verify);
}

static void test_kill9(void **state)
{
    (void)state;
    if (!g_ntf_server)
        skip();
    pool_router rp;
    assert_int_equal(pool_router_init(&rp, NULL), 0);
    pool_router_start(&rp);
    g_ntf_db_schema = "ntf_kill";
    env e;
    env_init(&e, 0);
    device d;
    device_activate(&e, &d, "9a9b9c9d9e9f9a9b");
    sx_smp_conn *rc = NULL, *sc = NULL;
    assert_ok(sx_smp_connect(rp.addr, NULL, &rc));
    assert_ok(sx_smp_connect(rp.addr, NULL, &sc));
    kq a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    kq_make(&e, &d, rp.addr, rc, &a);
    kq_make(&e, &d, rp.addr, rc, &b);
    static char line[16384];
    assert_ok(sx_smp_send_notify(sc, a.snd, "before", 6));
    wait_lines(&e, d.hex, "\"apns-push-type\":\"alert\"", 1, line, sizeof line);

    /* SIGKILL: nothing is saved at stop */
    env_router_kill(&e);
    env_router_start(&e);
    wait_sub_active(&e, sx_slice_of(b.sid, b.sid_len), d.verify);
    assert_ok(sx_smp_send_notify(sc, b.snd, "after", 5));
    wait_lines(&e, d.hex, "\"apns-push-type\":\"alert\"", 2, line, sizeof line);
    static uint8_t plain[4096];
    size_t len = open_sealed(line, "message", d.reg.dh_secret, plain, sizeof plain - 1);
    plain[len] = 0;
    /* two items, oldest first: a's from before the kill, then b's */
    char *sep = strchr((char *)plain, ';');
    assert_non_null(sep);
    *sep = 0;
    assert_null(strchr(sep + 1, ';'));
    char want_a[96], want_b[96];
    snprintf(want_a, sizeof want_a, "/%s ", a.nid_b64);
    snprintf(want_b, sizeof want_b, "/%s ", b.nid_b64);
    assert_non_null(strstr((char *)plain, want_a));
    assert_non_null(strstr(sep + 1, want_b));

    sx_smp_queue_free(a.rcv);
    sx_smp_queue_free(a.snd);
    sx_smp_queue_free(b.rcv);
    sx_smp_queue_free(b.snd);
    sx_smp_close(rc);
    sx_smp_close(sc);
    device_free(&d);
    env_free(&e);
    pool_router_free(&rp);
    g_ntf_db_schema = NULL;
}

/* One smp_servers row of schema ntf_svc, by port: the service columns,
 * checked for the reference's encodings (the chain as a count byte and a
 * 2-byte length before the DER, the base64url fingerprint, a PKCS#8
 * Ed25519 key whose public half is the certificate's); id and hash get the
 * base64url ServiceId and fingerprint. */
static void svc_row(uint16_t port, char *id, char *hash, size_t cap, long long *assoc)
{
    PGconn *pg = PQconnectdb(g_ntf_db);
    assert_int_equal(PQstatus(pg), CONNECTION_OK);
    char port_text[8];
    snprintf(port_text, sizeof port_text, "%u", port);
    const char *vals[1] = {port_text};
    PGresult *r = PQexecParams(pg,
                               "SELECT ntf_service_id, ntf_service_cert_hash, ntf_service_cert, ntf_service_priv_key, "
                               "smp_notifier_count::text FROM ntf_svc.smp_servers WHERE smp_port = $1",
                               1, NULL, vals, NULL, NULL, 1);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(r), 1);
    for (int c = 0; c < 5; c++)
        assert_false(PQgetisnull(r, 0, c));
    char count_text[32];
    snprintf(count_text, sizeof count_text, "%.*s", PQgetlength(r, 0, 4), PQgetvalue(r, 0, 4));
    *assoc = atoll(count_text);
    const uint8_t *sid = (const uint8_t *)PQgetvalue(r, 0, 0);
    assert_ok(sx_b64_encode(sx_slice_of(sid, (size_t)PQgetlength(r, 0, 0)), SX_B64_URL, id, cap));
    int hl = PQgetlength(r, 0, 1);
    assert_true((size_t)hl < cap);
    memcpy(hash, PQgetvalue(r, 0, 1), (size_t)hl);
    hash[hl] = 0;
    const uint8_t *cert = (const uint8_t *)PQgetvalue(r, 0, 2);
    size_t cl = (size_t)PQgetlength(r, 0, 2);
    assert_true(cl > 3);
    assert_int_equal(cert[0], 1);
    assert_int_equal((size_t)((cert[1] << 8) | cert[2]), cl - 3);
    X509 *x = NULL;
    assert_ok(sx_x509_from_der(sx_slice_of(cert + 3, cl - 3), &x));
    uint8_t fp[SX_FINGERPRINT_LEN];
    char fp_text[SX_FINGERPRINT_TEXT_SIZE];
    assert_ok(sx_x509_fingerprint(x, fp));
    assert_ok(sx_x509_fingerprint_text(fp, fp_text, sizeof fp_text));
    assert_string_equal(fp_text, hash);
    sx_key *pub = NULL, *priv = NULL;
    assert_ok(sx_x509_public_key(x, &pub));
    X509_free(x);
    assert_ok(sx_key_decode_private(sx_slice_of(PQgetvalue(r, 0, 3), (size_t)PQgetlength(r, 0, 3)),
                                    SX_KEY_BIT(SX_KEY_ED25519), &priv));
    uint8_t a[64], b[64];
    size_t al = 0, bl = 0;
    assert_ok(sx_key_raw_public(pub, a, sizeof a, &al));
    assert_ok(sx_key_raw_public(priv, b, sizeof b, &bl));
    assert_int_equal(al, bl);
    assert_memory_equal(a, b, al);
    sx_key_free(pub);
    sx_key_free(priv);
    PQclear(r);
    PQfinish(pg);
}

/* [SUBSCRIBER] use_service_credentials with the database (schema
 * ntf_svc, the ntf-server and two smp-server processes): a subscription on
 * each SMP router; each router's smp_servers row gets its own certificate
 * and the ServiceId that router gave, the same one its store log
 * registered for that certificate; the ntf-server killed and started
 * again: the same rows, no other service at either SMP router. */
static void test_service(void **state)
{
    (void)state;
    if (!g_ntf_server)
        skip();
    pool_router rp[2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pool_router_init(&rp[i], NULL), 0);
        pool_router_start(&rp[i]);
    }
    g_ntf_db_schema = "ntf_svc";
    g_ntf_service = true;
    env e;
    env_init(&e, 0);
    device d;
    device_activate(&e, &d, "5a5b5c5d5e5f5a5b");
    kq k[2];
    sx_smp_conn *rc[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++) {
        memset(&k[i], 0, sizeof k[i]);
        assert_ok(sx_smp_connect(rp[i].addr, NULL, &rc[i]));
        kq_make(&e, &d, rp[i].addr, rc[i], &k[i]);
    }
    char id[2][128], hash[2][128], sid[2][128], shash[2][128];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pool_router_wait_services(&rp[i], 'N', 1, sid[i], shash[i], sizeof sid[i]), 1);
        /* recorded at the connection, before the subscription was ACTIVE */
        long long assoc = -1;
        svc_row(rp[i].port, id[i], hash[i], sizeof id[i], &assoc);
        /* the subscription associated with the service (the triggers' count) */
        assert_int_equal(assoc, 1);
        assert_string_equal(id[i], sid[i]);
        assert_string_equal(hash[i], shash[i]);
    }
    assert_string_not_equal(hash[0], hash[1]);
    assert_string_not_equal(id[0], id[1]);

    env_router_kill(&e);
    env_router_start(&e);
    static char line[16384];
    sx_smp_conn *sc = NULL;
    assert_ok(sx_smp_connect(rp[1].addr, NULL, &sc));
    assert_ok(sx_smp_send_notify(sc, k[1].snd, "after", 5));
    wait_lines(&e, d.hex, "\"apns-push-type\":\"alert\"", 1, line, sizeof line);
    for (int i = 0; i < 2; i++) {
        char id2[128], hash2[128];
        long long assoc = -1;
        svc_row(rp[i].port, id2, hash2, sizeof id2, &assoc);
        assert_int_equal(assoc, 1);
        assert_string_equal(id2, id[i]);
        assert_string_equal(hash2, hash[i]);
        assert_int_equal(pool_router_services(&rp[i], 'N', id2, hash2, sizeof id2), 1);
        assert_string_equal(id2, id[i]);
    }

    sx_smp_close(sc);
    for (int i = 0; i < 2; i++) {
        sx_smp_queue_free(k[i].rcv);
        sx_smp_queue_free(k[i].snd);
        sx_smp_close(rc[i]);
    }
    device_free(&d);
    env_free(&e);
    for (int i = 0; i < 2; i++)
        pool_router_free(&rp[i]);
    g_ntf_db_schema = NULL;
    g_ntf_service = false;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s <apns-standin> <db connection> [<ntf-server>]\n", argv[0]);
        return 2;
    }
    g_standin = argv[1];
    g_ntf_db = argv[2];
    const struct CMUnitTest in_process[] = {
        cmocka_unit_test(test_restart),
    };
    int rc = cmocka_run_group_tests(in_process, NULL, NULL);
    if (argc > 3) {
        g_ntf_server = argv[3];
        const struct CMUnitTest processes[] = {
            cmocka_unit_test(test_kill9),
            cmocka_unit_test(test_service),
        };
        rc += cmocka_run_group_tests(processes, NULL, NULL);
    }
    return rc;
}
