/* Integration tests of the SMP handshake and session over loopback TLS: our
 * server (in a thread) and our client with the reference's fixture
 * certificates. Checks the agreed version and block encryption for each ALPN
 * and client range, batches in both directions over several blocks, a wrong
 * key hash in the client hello, and the service handshake (PROTOCOL-NOTES
 * B21). */
#include "testutil.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "transport/net.h"
#include "transport/smp_handshake.h"
#include "transport/tls.h"

#define WAIT_MS 10000

static char crt_path[512], ca_path[512], key_path[512];
static const char *const alpn_smp[] = {"smp/1", NULL};

static void fixture_paths(void)
{
    snprintf(crt_path, sizeof crt_path, "%s", tu_data_path("fixtures/server.crt"));
    snprintf(ca_path, sizeof ca_path, "%s", tu_data_path("fixtures/ca.crt"));
    snprintf(key_path, sizeof key_path, "%s", tu_data_path("fixtures/server.key"));
}

static void ca_fingerprint(uint8_t out[32])
{
    const char *fp = "LcJUMfVhwD8yxjAiSaDzzGF3-kLG4Uh0Fl_ZIjrRwjI=";
    size_t n = 0;
    assert_ok(sx_b64_decode(fp, strlen(fp), SX_B64_URL, out, 32, &n));
    assert_int_equal(n, 32);
}

/* ------------------------------------------------------------------ */
/* Server thread: TLS, SMP handshake, then an echo loop                */

typedef struct server_job {
    sx_tls_ctx *ctx;
    sx_smp_server_config cfg;
    int lfd;
    uint16_t port;
    pthread_t thread;
    /* results, read after join */
    sx_status tls_st, hs_st, echo_st;
    sx_transport_error te;
    uint16_t version;
    bool encrypted, has_service;
    uint8_t service_id[SX_SMP_SERVICE_ID_MAX];
    size_t service_id_len;
    int blocks_echoed;
} server_job;

/* Answers every transmission of each received batch with "re:" + it, in one
 * batch, until a batch holds "bye"; then waits for the client to close. */
static sx_status echo_loop(server_job *job, sx_smp_session *s, sx_tls_conn *c)
{
    static uint8_t blk[SX_BLOCK_SIZE];
    static sx_batch batch;
    static char bufs[SX_BATCH_MAX_ITEMS][128];
    sx_slice items[SX_BATCH_MAX_ITEMS];
    for (;;) {
        sx_slice content;
        size_t n = 0;
        bool bye = false;
        SX_TRY(sx_smp_session_recv_blocking(s, c, blk, &content, WAIT_MS));
        SX_TRY(sx_batch_decode(content, items, SX_BATCH_MAX_ITEMS, &n));
        SX_TRY(sx_batch_init(&batch, sx_smp_session_batch_capacity(s)));
        for (size_t i = 0; i < n; i++) {
            int len = snprintf(bufs[i], sizeof bufs[i], "re:%.*s", (int)items[i].len,
                               (const char *)items[i].ptr);
            bye = bye || sx_slice_eq(items[i], sx_slice_str("bye"));
            SX_TRY(sx_batch_add(&batch, sx_slice_of(bufs[i], (size_t)len)));
        }
        SX_TRY(sx_batch_content(&batch, &content));
        SX_TRY(sx_smp_session_send_blocking(s, c, content, WAIT_MS));
        job->blocks_echoed++;
        if (bye)
            break;
    }
    sx_status st = sx_tls_read_block(c, blk, WAIT_MS);
    return st == SX_E_CLOSED ? SX_OK : SX_E_INTERNAL;
}

static sx_status assign_service_cb(void *arg, const sx_smp_session *s, uint8_t *id, size_t *id_len)
{
    (void)arg;
    if (s->service_role != SX_SMP_SERVICE_NOTIFIER)
        return SX_E_AUTH;
    memcpy(id, "svc-0123456789abcdef0123", 24);
    *id_len = 24;
    return SX_OK;
}

static void *server_main(void *arg)
{
    server_job *job = arg;
    int fd = -1;
    sx_tls_conn *c = NULL;
    sx_smp_session s;
    memset(&s, 0, sizeof s);
    job->tls_st = sx_net_accept(job->lfd, WAIT_MS, &fd);
    if (job->tls_st == SX_OK)
        job->tls_st = sx_tls_conn_new_server(job->ctx, fd, &c);
    if (job->tls_st == SX_OK)
        job->tls_st = sx_tls_handshake_blocking(c, WAIT_MS);
    if (job->tls_st == SX_OK) {
        job->hs_st = sx_smp_handshake_server_blocking(c, &job->cfg, WAIT_MS, &s, &job->te);
        if (job->hs_st == SX_OK) {
            job->version = s.version;
            job->encrypted = s.encrypted;
            job->has_service = s.has_service;
            memcpy(job->service_id, s.service_id, s.service_id_len);
            job->service_id_len = s.service_id_len;
            job->echo_st = echo_loop(job, &s, c);
        }
    }
    sx_smp_session_cleanup(&s);
    sx_tls_conn_free(c);
    sx_net_close(fd);
    return NULL;
}

static void server_start(server_job *job, bool with_service_cb)
{
    memset(job, 0, sizeof *job);
    sx_tls_server_config tcfg = {
        .creds = {.cert_file = crt_path, .ca_file = ca_path, .key_file = key_path}};
    assert_ok(sx_tls_server_ctx_new(&tcfg, &job->ctx));
    assert_ok(sx_smp_server_config_init(&job->cfg, job->ctx));
    if (with_service_cb)
        job->cfg.service_cb = assign_service_cb;
    job->tls_st = job->hs_st = job->echo_st = SX_E_INTERNAL;
    assert_ok(sx_net_listen("127.0.0.1", 0, 8, &job->lfd, &job->port));
    assert_int_equal(pthread_create(&job->thread, NULL, server_main, job), 0);
}

static void server_join(server_job *job)
{
    assert_int_equal(pthread_join(job->thread, NULL), 0);
    sx_net_close(job->lfd);
    sx_smp_server_config_cleanup(&job->cfg);
    sx_tls_ctx_free(job->ctx);
}

/* ------------------------------------------------------------------ */
/* Client side                                                          */

typedef struct client {
    sx_tls_ctx *ctx;
    int fd;
    sx_tls_conn *c;
} client;

static void client_connect(client *cl, uint16_t port, const char *const *alpn,
                           const sx_tls_credentials *creds)
{
    sx_tls_client_config cfg = {.alpn = alpn, .creds = creds};
    assert_ok(sx_tls_client_ctx_new(&cfg, &cl->ctx));
    uint8_t kh[32];
    ca_fingerprint(kh);
    assert_ok(sx_net_connect("127.0.0.1", port, WAIT_MS, &cl->fd));
    assert_ok(sx_tls_conn_new_client(cl->ctx, cl->fd, kh, &cl->c));
    assert_ok(sx_tls_handshake_blocking(cl->c, WAIT_MS));
}

static void client_close(client *cl)
{
    sx_status st = sx_tls_shutdown_blocking(cl->c, WAIT_MS);
    (void)st; /* the server may already be gone */
    sx_tls_conn_free(cl->c);
    sx_net_close(cl->fd);
    sx_tls_ctx_free(cl->ctx);
}

/* Sends batches of 1, 7 and 60 transmissions (and finally "bye") and checks
 * each echoed batch. */
static void client_echo_rounds(sx_smp_session *s, sx_tls_conn *c)
{
    static uint8_t blk[SX_BLOCK_SIZE];
    static sx_batch batch;
    const size_t sizes[] = {1, 7, 60, 1};
    char msg[64];
    for (size_t round = 0; round < 4; round++) {
        bool last = round == 3;
        assert_ok(sx_batch_init(&batch, sx_smp_session_batch_capacity(s)));
        for (size_t i = 0; i < sizes[round]; i++) {
            int len = last ? snprintf(msg, sizeof msg, "bye")
                           : snprintf(msg, sizeof msg, "SEND %zu/%zu", round, i);
            assert_ok(sx_batch_add(&batch, sx_slice_of(msg, (size_t)len)));
        }
        sx_slice content;
        assert_ok(sx_batch_content(&batch, &content));
        assert_ok(sx_smp_session_send_blocking(s, c, content, WAIT_MS));

        assert_ok(sx_smp_session_recv_blocking(s, c, blk, &content, WAIT_MS));
        sx_slice items[SX_BATCH_MAX_ITEMS];
        size_t n = 0;
        assert_ok(sx_batch_decode(content, items, SX_BATCH_MAX_ITEMS, &n));
        assert_int_equal(n, sizes[round]);
        for (size_t i = 0; i < n; i++) {
            int len = last ? snprintf(msg, sizeof msg, "re:bye")
                           : snprintf(msg, sizeof msg, "re:SEND %zu/%zu", round, i);
            assert_true(sx_slice_eq(items[i], sx_slice_of(msg, (size_t)len)));
        }
    }
}

/* One full session: connect, handshake with the client range, echo. */
static void run_session(const char *const *alpn, sx_version_range range, uint16_t want_v,
                        bool want_encrypted)
{
    server_job job;
    server_start(&job, false);
    client cl;
    client_connect(&cl, job.port, alpn, NULL);
    uint8_t kh[32];
    ca_fingerprint(kh);
    sx_smp_session s;
    assert_ok(sx_smp_handshake_client_blocking(cl.c, kh, range, WAIT_MS, &s));
    assert_int_equal(s.version, want_v);
    assert_int_equal(s.encrypted, want_encrypted);
    assert_true(sx_slice_eq(sx_smp_session_id(&s), sx_tls_unique(cl.c)));
    assert_int_equal(s.server_dh_pub != NULL, want_v >= 7);
    client_echo_rounds(&s, cl.c);
    client_close(&cl);
    server_join(&job);
    assert_ok(job.tls_st);
    assert_ok(job.hs_st);
    assert_int_equal(job.version, want_v);
    assert_int_equal(job.encrypted, want_encrypted);
    assert_ok(job.echo_st);
    assert_int_equal(job.blocks_echoed, 4);
    sx_smp_session_cleanup(&s);
}

/* ------------------------------------------------------------------ */
/* Tests                                                                */

static void test_alpn_v19_encrypted(void **state)
{
    (void)state;
    run_session(alpn_smp, sx_smp_server_vrange(), 19, true);
}

static void test_no_alpn_v6_plain(void **state)
{
    (void)state;
    run_session(NULL, sx_smp_server_vrange(), 6, false);
}

static void test_client_range_v10_plain(void **state)
{
    (void)state;
    run_session(alpn_smp, (sx_version_range){6, 10}, 10, false);
}

static void test_wrong_key_hash_in_hello(void **state)
{
    (void)state;
    server_job job;
    server_start(&job, false);
    client cl;
    client_connect(&cl, job.port, alpn_smp, NULL); /* TLS itself checks the right hash */

    /* Read the server hello, answer with a hello naming another server. */
    static uint8_t blk[SX_BLOCK_SIZE];
    assert_ok(sx_tls_read_block(cl.c, blk, WAIT_MS));
    sx_slice content;
    sx_smp_server_hello sh;
    assert_ok(sx_block_decode(sx_slice_of(blk, SX_BLOCK_SIZE), &content));
    assert_ok(sx_smp_server_hello_decode(content, &sh));
    assert_int_equal(sh.range.max, 19);
    assert_true(sh.has_cert_key);

    uint8_t wrong[32];
    ca_fingerprint(wrong);
    wrong[0] ^= 0xff;
    sx_key *k = NULL;
    assert_ok(sx_key_generate(SX_KEY_X25519, &k));
    sx_smp_client_hello ch = {
        .version = 19, .key_hash = sx_slice_of(wrong, 32), .has_dh_key = true};
    size_t len = 0;
    assert_ok(sx_key_raw_public(k, ch.dh_key, 32, &len));
    sx_key_free(k);
    uint8_t buf[256];
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_true(sx_smp_client_hello_write(&w, &ch));
    assert_ok(sx_block_encode(sx_writer_slice(&w), blk));
    assert_ok(sx_tls_write_block(cl.c, blk, WAIT_MS));

    /* The server aborts without an error block: the next read sees the end. */
    sx_status st = sx_tls_read_block(cl.c, blk, WAIT_MS);
    assert_true(st == SX_E_CLOSED || st == SX_E_PROTOCOL); /* not a timeout (SX_E_IO) */
    client_close(&cl);
    server_join(&job);
    assert_ok(job.tls_st);
    assert_int_equal(job.hs_st, SX_E_AUTH);
    assert_int_equal(job.te, SX_TE_HANDSHAKE_IDENTITY);
}

static void test_client_wrong_identity(void **state)
{
    (void)state;
    /* The SMP client expects another identity than the TLS one it checked:
     * it refuses the server hello (BAD_AUTH) and closes; the server sees the
     * connection end during its handshake. */
    server_job job;
    server_start(&job, false);
    client cl;
    client_connect(&cl, job.port, alpn_smp, NULL);
    sx_smp_client_config cfg = {.range = sx_smp_server_vrange()};
    ca_fingerprint(cfg.key_hash);
    cfg.key_hash[31] ^= 1;
    sx_smp_session s;
    sx_transport_error te;
    assert_int_equal(sx_smp_handshake_client_blocking_ex(cl.c, &cfg, WAIT_MS, &s, &te), SX_E_AUTH);
    assert_int_equal(te, SX_TE_HANDSHAKE_BAD_AUTH);
    client_close(&cl);
    server_join(&job);
    assert_int_not_equal(job.hs_st, SX_OK);
}

static void run_service(bool with_cb)
{
    server_job job;
    server_start(&job, with_cb);
    /* The fixture chain doubles as the service's TLS client certificate. */
    sx_tls_credentials creds = {.cert_file = crt_path, .ca_file = ca_path, .key_file = key_path};
    client cl;
    client_connect(&cl, job.port, alpn_smp, &creds);

    sx_key *leaf = NULL, *svc_key = NULL;
    assert_ok(sx_tls_ctx_private_key(cl.ctx, &leaf));
    assert_ok(sx_key_generate(SX_KEY_ED25519, &svc_key));
    sx_smp_client_service svc = {
        .role = SX_SMP_SERVICE_NOTIFIER, .leaf_key = leaf, .service_key = svc_key};
    svc.chain_len = sx_tls_ctx_chain_len(cl.ctx);
    for (size_t i = 0; i < svc.chain_len; i++)
        svc.chain[i] = sx_tls_ctx_cert(cl.ctx, i);
    sx_smp_client_config cfg = {.range = sx_smp_server_vrange(), .service = &svc};
    ca_fingerprint(cfg.key_hash);
    sx_smp_session s;
    sx_transport_error te;
    sx_status st = sx_smp_handshake_client_blocking_ex(cl.c, &cfg, WAIT_MS, &s, &te);
    if (with_cb) {
        assert_ok(st);
        assert_true(s.has_service);
        assert_int_equal(s.service_id_len, 24);
        assert_bytes_equal(s.service_id, "svc-0123456789abcdef0123", 24);
        assert_true(s.encrypted);
        client_echo_rounds(&s, cl.c);
        sx_smp_session_cleanup(&s);
    } else {
        /* No service store: the server answers HANDSHAKE BAD_SERVICE. */
        assert_int_equal(st, SX_E_AUTH);
        assert_int_equal(te, SX_TE_HANDSHAKE_BAD_SERVICE);
    }
    client_close(&cl);
    server_join(&job);
    if (with_cb) {
        assert_ok(job.hs_st);
        assert_true(job.has_service);
        assert_ok(job.echo_st);
    } else {
        assert_int_equal(job.hs_st, SX_E_AUTH);
        assert_int_equal(job.te, SX_TE_HANDSHAKE_BAD_SERVICE);
    }
    sx_key_free(leaf);
    sx_key_free(svc_key);
}

static void test_service_accepted(void **state)
{
    (void)state;
    run_service(true);
}

static void test_service_refused(void **state)
{
    (void)state;
    run_service(false);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    fixture_paths();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alpn_v19_encrypted),
        cmocka_unit_test(test_no_alpn_v6_plain),
        cmocka_unit_test(test_client_range_v10_plain),
        cmocka_unit_test(test_wrong_key_hash_in_hello),
        cmocka_unit_test(test_client_wrong_identity),
        cmocka_unit_test(test_service_accepted),
        cmocka_unit_test(test_service_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
