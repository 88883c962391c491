/* Integration tests of the TLS transport: our server and our client over real
 * loopback sockets (the server runs in a thread), with the reference's
 * certificate fixtures and certificates generated here for negative cases.
 * Every wait has a timeout so that a broken test fails instead of hanging. */
#include "testutil.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/base64.h"
#include "transport/block.h"
#include "transport/net.h"
#include "transport/tls.h"

#define WAIT_MS 10000

/* ------------------------------------------------------------------ */
/* Fixtures and generated certificates                                 */

static char tmpdir[256];

static const char *tmp_path(const char *name)
{
    static char paths[16][512];
    static int next;
    char *p = paths[next++ % 16];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    return p;
}

static void ca_fingerprint(uint8_t out[32])
{
    const char *fp = "LcJUMfVhwD8yxjAiSaDzzGF3-kLG4Uh0Fl_ZIjrRwjI=";
    size_t n = 0;
    assert_ok(sx_b64_decode(fp, strlen(fp), SX_B64_URL, out, 32, &n));
    assert_int_equal(n, 32);
}

static X509 *read_pem_cert(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(x);
    return x;
}

static void sha256_cert(X509 *x, uint8_t out[32])
{
    unsigned n = 0;
    assert_int_equal(X509_digest(x, EVP_sha256(), out, &n), 1);
    assert_int_equal(n, 32);
}

static EVP_PKEY *new_ed25519(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(k);
    return k;
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    assert_non_null(e);
    assert_int_equal(X509_add_ext(x, e, -1), 1);
    X509_EXTENSION_free(e);
}

/* A v3 certificate for key with subject cn, signed by issuer_key (self-signed
 * when issuer is NULL). */
static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, bool ca)
{
    static long serial = 1000;
    X509 *x = X509_new();
    assert_non_null(x);
    assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600L * 24 * 365);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    assert_int_equal(X509_set_pubkey(x, key), 1);
    X509 *iss = issuer ? issuer : x;
    add_ext(x, iss, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
    add_ext(x, iss, NID_subject_key_identifier, "hash");
    if (ca)
        add_ext(x, iss, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
    assert_true(X509_sign(x, issuer_key ? issuer_key : key, NULL) > 0);
    return x;
}

static void write_certs(const char *path, X509 *const *certs, size_t n)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(PEM_write_X509(f, certs[i]), 1);
    fclose(f);
}

static void write_key(const char *path, EVP_PKEY *k)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
}

/* ------------------------------------------------------------------ */
/* Server thread                                                       */

typedef struct server_job server_job;
typedef void (*script_fn)(server_job *job, sx_tls_conn *c);

struct server_job {
    sx_tls_ctx *ctx;
    int lfd;
    uint16_t port;
    script_fn script; /* runs after a successful handshake */
    pthread_t thread;
    /* results, read by the main thread after join */
    sx_status accept_st;
    sx_status hs_st;
    uint8_t unique[SX_TLS_UNIQUE_MAX];
    size_t unique_len;
    char alpn[256];
    size_t peer_chain_len;
    uint8_t peer_leaf_fp[32];
    int num_tickets;
    char cipher[64];
    sx_status script_st;
    int script_step;
};

static void *server_main(void *arg)
{
    server_job *job = arg;
    int fd = -1;
    sx_tls_conn *c = NULL;
    job->accept_st = sx_net_accept(job->lfd, WAIT_MS, &fd);
    if (job->accept_st != SX_OK)
        return NULL;
    job->hs_st = sx_tls_conn_new_server(job->ctx, fd, &c);
    if (job->hs_st == SX_OK)
        job->hs_st = sx_tls_handshake_blocking(c, WAIT_MS);
    if (job->hs_st == SX_OK) {
        sx_slice u = sx_tls_unique(c);
        memcpy(job->unique, u.ptr, u.len);
        job->unique_len = u.len;
        sx_slice a = sx_tls_alpn(c);
        if (a.len > 0)
            memcpy(job->alpn, a.ptr, a.len);
        job->alpn[a.len] = 0;
        job->peer_chain_len = sx_tls_peer_chain_len(c);
        if (job->peer_chain_len > 0)
            SHA256(sx_tls_peer_cert(c, 0).ptr, sx_tls_peer_cert(c, 0).len, job->peer_leaf_fp);
        job->num_tickets = (int)SSL_get_num_tickets(sx_tls_conn_ssl(c));
        snprintf(job->cipher, sizeof job->cipher, "%s", sx_tls_conn_cipher(c));
        if (job->script)
            job->script(job, c);
    }
    sx_tls_conn_free(c);
    sx_net_close(fd);
    return NULL;
}

static void server_start(server_job *job, sx_tls_ctx *ctx, script_fn script)
{
    memset(job, 0, sizeof *job);
    job->ctx = ctx;
    job->script = script;
    job->hs_st = SX_E_INTERNAL;
    job->script_st = SX_E_INTERNAL;
    assert_ok(sx_net_listen("127.0.0.1", 0, 8, &job->lfd, &job->port));
    assert_true(job->port != 0);
    assert_int_equal(pthread_create(&job->thread, NULL, server_main, job), 0);
}

static void server_join(server_job *job)
{
    assert_int_equal(pthread_join(job->thread, NULL), 0);
    sx_net_close(job->lfd);
}

static sx_tls_ctx *fixture_server_ctx(const char *const *alpn)
{
    sx_tls_server_config cfg = {.alpn = alpn};
    /* tu_data_path returns a static buffer: copy each path. */
    static char crt[512], ca[512], key[512];
    snprintf(crt, sizeof crt, "%s", tu_data_path("fixtures/server.crt"));
    snprintf(ca, sizeof ca, "%s", tu_data_path("fixtures/ca.crt"));
    snprintf(key, sizeof key, "%s", tu_data_path("fixtures/server.key"));
    cfg.creds.cert_file = crt;
    cfg.creds.ca_file = ca;
    cfg.creds.key_file = key;
    sx_tls_ctx *ctx = NULL;
    assert_ok(sx_tls_server_ctx_new(&cfg, &ctx));
    return ctx;
}

static sx_tls_ctx *client_ctx(const char *const *alpn)
{
    sx_tls_client_config cfg = {.alpn = alpn};
    sx_tls_ctx *ctx = NULL;
    assert_ok(sx_tls_client_ctx_new(&cfg, &ctx));
    return ctx;
}

/* Connects our client to the job's server; returns the handshake status. */
static sx_status client_connect(sx_tls_ctx *ctx, uint16_t port, const uint8_t key_hash[32], int *fd,
                                sx_tls_conn **c)
{
    assert_ok(sx_net_connect("127.0.0.1", port, WAIT_MS, fd));
    assert_ok(sx_tls_conn_new_client(ctx, *fd, key_hash, c));
    return sx_tls_handshake_blocking(*c, WAIT_MS);
}

static const char *const alpn_smp[] = {"smp/1", NULL};

/* ------------------------------------------------------------------ */
/* Tests                                                               */

static void test_fixture_fingerprint(void **state)
{
    (void)state;
    uint8_t fp[32], got[32];
    ca_fingerprint(fp);
    X509 *ca = read_pem_cert(tu_data_path("fixtures/ca.crt"));
    sha256_cert(ca, got);
    X509_free(ca);
    assert_bytes_equal(fp, got, 32);
}

static void test_handshake_alpn(void **state)
{
    (void)state;
    sx_tls_ctx *sctx = fixture_server_ctx(NULL);
    sx_tls_ctx *cctx = client_ctx(alpn_smp);
    assert_int_equal(sx_tls_ctx_chain_len(sctx), 2);
    assert_int_equal(sx_tls_ctx_chain_len(cctx), 0);
    server_job job;
    server_start(&job, sctx, NULL);

    uint8_t kh[32];
    ca_fingerprint(kh);
    int fd;
    sx_tls_conn *c;
    sx_status st = client_connect(cctx, job.port, kh, &fd, &c);
    assert_ok(st);
    assert_true(sx_tls_established(c));
    sx_slice u = sx_tls_unique(c);
    assert_int_equal(u.len, 32);
    assert_true(sx_slice_eq(sx_tls_alpn(c), sx_slice_str("smp/1")));
    /* The client saw the 2-certificate chain exactly as configured
     * (PROTOCOL-NOTES B9). */
    assert_int_equal(sx_tls_peer_chain_len(c), 2);
    for (size_t i = 0; i < 2; i++)
        assert_true(sx_slice_eq(sx_tls_peer_cert(c, i), sx_tls_ctx_cert(sctx, i)));
    assert_null(sx_tls_peer_cert(c, 2).ptr);
    /* Negotiated parameters (PROTOCOL-NOTES B2, brief): TLS 1.3, ChaCha20
     * (AES-128-GCM between our own ends where the CPU has AES: see
     * test_cipher_choice), X448. */
    SSL *ssl = sx_tls_conn_ssl(c);
    assert_int_equal(SSL_version(ssl), TLS1_3_VERSION);
    assert_string_equal(SSL_get_cipher_name(ssl), sx_tls_cpu_has_aes() ? "TLS_AES_128_GCM_SHA256"
                                                                       : "TLS_CHACHA20_POLY1305_SHA256");
    assert_int_equal(SSL_get_negotiated_group(ssl), NID_X448);
    assert_false(SSL_session_reused(ssl));
    uint8_t cu[32];
    memcpy(cu, u.ptr, 32);

    server_join(&job);
    assert_ok(job.hs_st);
    /* PROTOCOL-NOTES B8: both sides hold the client's Finished. */
    assert_int_equal(job.unique_len, 32);
    assert_bytes_equal(job.unique, cu, 32);
    assert_string_equal(job.alpn, "smp/1");
    assert_int_equal(job.peer_chain_len, 0); /* PROTOCOL-NOTES B6: no client certificate is fine */
    assert_int_equal(job.num_tickets, 0);

    sx_tls_conn_free(c);
    sx_net_close(fd);
    sx_tls_ctx_free(cctx);
    sx_tls_ctx_free(sctx);
}

/* Server script: receive a plain batch, answer each transmission with
 * "re:" + it in one batch, then do the same with encrypted blocks. */
static void script_echo(server_job *job, sx_tls_conn *c)
{
    static uint8_t blk[SX_BLOCK_SIZE];
    static sx_batch batch;
    char buf[SX_BATCH_MAX_ITEMS][64];
    sx_slice items[SX_BATCH_MAX_ITEMS];
    size_t n = 0;
    sx_status st;
    uint8_t secret[32];
    tu_bytes_seq(secret, 32, 0x40);
    sx_sbchain snd, rcv;
    memset(&snd, 0, sizeof snd);
    memset(&rcv, 0, sizeof rcv);

    for (int round = 0; round < 2; round++) {
        bool enc = round == 1;
        job->script_step = 10 * round + 1;
        if (enc && (st = sx_sbchain_init(sx_tls_unique(c), secret, &snd, &rcv)) != SX_OK)
            goto fail;
        if ((st = sx_tls_read_block(c, blk, WAIT_MS)) != SX_OK)
            goto fail;
        job->script_step++;
        sx_slice content;
        if ((st = sx_block_read(enc ? &rcv : NULL, blk, &content)) != SX_OK)
            goto fail;
        if ((st = sx_batch_decode(content, items, SX_BATCH_MAX_ITEMS, &n)) != SX_OK)
            goto fail;
        job->script_step++;
        if ((st = sx_batch_init(&batch, sx_batch_capacity(enc))) != SX_OK)
            goto fail;
        for (size_t i = 0; i < n; i++) {
            int len = snprintf(buf[i], sizeof buf[i], "re:%.*s", (int)items[i].len, (const char *)items[i].ptr);
            if ((st = sx_batch_add(&batch, sx_slice_of(buf[i], (size_t)len))) != SX_OK)
                goto fail;
        }
        if ((st = sx_batch_content(&batch, &content)) != SX_OK)
            goto fail;
        static uint8_t out[SX_BLOCK_SIZE];
        if ((st = sx_block_write(enc ? &snd : NULL, content, out)) != SX_OK)
            goto fail;
        job->script_step++;
        if ((st = sx_tls_write_block(c, out, WAIT_MS)) != SX_OK)
            goto fail;
    }
    /* Wait for the client to close. */
    st = sx_tls_read_block(c, blk, WAIT_MS);
    job->script_st = st == SX_E_CLOSED ? SX_OK : SX_E_INTERNAL;
    sx_sbchain_cleanup(&snd);
    sx_sbchain_cleanup(&rcv);
    return;
fail:
    job->script_st = st;
}

static void test_block_roundtrip(void **state)
{
    (void)state;
    sx_tls_ctx *sctx = fixture_server_ctx(NULL);
    sx_tls_ctx *cctx = client_ctx(alpn_smp);
    server_job job;
    server_start(&job, sctx, script_echo);
    uint8_t kh[32];
    ca_fingerprint(kh);
    int fd;
    sx_tls_conn *c;
    assert_ok(client_connect(cctx, job.port, kh, &fd, &c));

    static uint8_t blk[SX_BLOCK_SIZE];
    static sx_batch batch;
    const char *msgs[] = {"PING", "SUB abc", "", "SEND T hello"};
    uint8_t secret[32];
    tu_bytes_seq(secret, 32, 0x40);
    sx_sbchain srv_snd, srv_rcv; /* PROTOCOL-NOTES B31: client receives with ck1, sends with ck2 */
    assert_ok(sx_sbchain_init(sx_tls_unique(c), secret, &srv_snd, &srv_rcv));

    for (int round = 0; round < 2; round++) {
        bool enc = round == 1;
        assert_ok(sx_batch_init(&batch, sx_batch_capacity(enc)));
        for (size_t i = 0; i < 4; i++)
            assert_ok(sx_batch_add(&batch, sx_slice_str(msgs[i])));
        sx_slice content;
        assert_ok(sx_batch_content(&batch, &content));
        assert_ok(sx_block_write(enc ? &srv_rcv : NULL, content, blk));
        assert_ok(sx_tls_write_block(c, blk, WAIT_MS));

        assert_ok(sx_tls_read_block(c, blk, WAIT_MS));
        sx_slice items[8];
        size_t n = 0;
        assert_ok(sx_block_read(enc ? &srv_snd : NULL, blk, &content));
        assert_ok(sx_batch_decode(content, items, 8, &n));
        assert_int_equal(n, 4);
        for (size_t i = 0; i < 4; i++) {
            char want[64];
            int len = snprintf(want, sizeof want, "re:%s", msgs[i]);
            assert_true(sx_slice_eq(items[i], sx_slice_of(want, (size_t)len)));
        }
    }
    assert_ok(sx_tls_shutdown_blocking(c, WAIT_MS));
    server_join(&job);
    assert_ok(job.hs_st);
    assert_ok(job.script_st);

    sx_sbchain_cleanup(&srv_snd);
    sx_sbchain_cleanup(&srv_rcv);
    sx_tls_conn_free(c);
    sx_net_close(fd);
    sx_tls_ctx_free(cctx);
    sx_tls_ctx_free(sctx);
}

/* Runs one handshake with the client offering alpn; checks what both sides
 * agreed on (expect NULL: no ALPN). */
static void check_alpn(const char *const *server_alpn, const char *const *client_alpn, const char *expect)
{
    sx_tls_ctx *sctx = fixture_server_ctx(server_alpn);
    sx_tls_ctx *cctx = client_ctx(client_alpn);
    server_job job;
    server_start(&job, sctx, NULL);
    uint8_t kh[32];
    ca_fingerprint(kh);
    int fd;
    sx_tls_conn *c;
    assert_ok(client_connect(cctx, job.port, kh, &fd, &c));
    server_join(&job);
    assert_ok(job.hs_st);
    if (expect) {
        assert_string_equal(job.alpn, expect);
        assert_true(sx_slice_eq(sx_tls_alpn(c), sx_slice_str(expect)));
    } else {
        assert_int_equal(job.alpn[0], 0);
        assert_int_equal(sx_tls_alpn(c).len, 0);
    }
    /* The session is usable either way. */
    assert_int_equal(job.unique_len, 32);
    sx_tls_conn_free(c);
    sx_net_close(fd);
    sx_tls_ctx_free(cctx);
    sx_tls_ctx_free(sctx);
}

/* A client offering only protocols the server does not accept: the
 * handshake fails on both sides (the no_application_protocol alert,
 * PROTOCOL-NOTES B5a), with no session. */
static void check_alpn_refused(const char *const *server_alpn, const char *const *client_alpn)
{
    sx_tls_ctx *sctx = fixture_server_ctx(server_alpn);
    sx_tls_ctx *cctx = client_ctx(client_alpn);
    server_job job;
    server_start(&job, sctx, NULL);
    uint8_t kh[32];
    ca_fingerprint(kh);
    int fd;
    sx_tls_conn *c;
    sx_status st = client_connect(cctx, job.port, kh, &fd, &c);
    assert_true(st == SX_E_PROTOCOL || st == SX_E_CLOSED);
    assert_false(sx_tls_established(c));
    server_join(&job);
    assert_int_not_equal(job.hs_st, SX_OK);
    assert_int_equal(job.unique_len, 0);
    sx_tls_conn_free(c);
    sx_net_close(fd);
    sx_tls_ctx_free(cctx);
    sx_tls_ctx_free(sctx);
}

static void test_alpn_choice(void **state)
{
    (void)state;
    static const char *const none_known[] = {"xftp/1", "spdy/3", NULL};
    static const char *const h2_first[] = {"h2", "smp/1", NULL};
    static const char *const late_http[] = {"foo", "http/1.1", "smp/1", NULL};
    static const char *const only_xftp[] = {"xftp/1", NULL};
    check_alpn(NULL, NULL, NULL);         /* client sends no ALPN */
    check_alpn_refused(NULL, none_known); /* nothing in common: PROTOCOL-NOTES B5a */
    check_alpn(NULL, h2_first, "h2");     /* PROTOCOL-NOTES B5: first of the client's list */
    check_alpn(NULL, late_http, "http/1.1");
    check_alpn_refused(only_xftp, late_http); /* custom server list */
    check_alpn(only_xftp, none_known, "xftp/1");
}

static void test_wrong_fingerprint(void **state)
{
    (void)state;
    sx_tls_ctx *sctx = fixture_server_ctx(NULL);
    sx_tls_ctx *cctx = client_ctx(alpn_smp);
    server_job job;
    server_start(&job, sctx, NULL);
    uint8_t kh[32];
    ca_fingerprint(kh);
    kh[31] ^= 0x01;
    int fd;
    sx_tls_conn *c;
    assert_int_equal(client_connect(cctx, job.port, kh, &fd, &c), SX_E_AUTH);
    assert_false(sx_tls_established(c));
    assert_int_equal(sx_tls_unique(c).len, 0);
    /* The chain was seen, and is kept for diagnostics. */
    assert_int_equal(sx_tls_peer_chain_len(c), 2);
    sx_tls_conn_free(c);
    sx_net_close(fd);
    server_join(&job);
    /* The server sees the client's alert (or the close), never success. */
    assert_true(job.hs_st == SX_E_PROTOCOL || job.hs_st == SX_E_CLOSED);
    sx_tls_ctx_free(cctx);
    sx_tls_ctx_free(sctx);
}

/* Server ctx over a generated chain (cert files written to tmpdir). */
static sx_tls_ctx *gen_server_ctx(X509 *const *chain, size_t n, EVP_PKEY *leaf_key, sx_status expect)
{
    write_certs(tmp_path("chain.pem"), chain, n);
    write_key(tmp_path("leaf.key"), leaf_key);
    sx_tls_server_config cfg = {.creds = {.cert_file = tmp_path("chain.pem"), .key_file = tmp_path("leaf.key")}};
    sx_tls_ctx *ctx = NULL;
    assert_int_equal(sx_tls_server_ctx_new(&cfg, &ctx), expect);
    return ctx;
}

/* Client against a server ctx: returns the client handshake status. */
static sx_status try_client(sx_tls_ctx *sctx, const uint8_t kh[32], server_job *job)
{
    sx_tls_ctx *cctx = client_ctx(alpn_smp);
    server_start(job, sctx, NULL);
    int fd;
    sx_tls_conn *c;
    sx_status st = client_connect(cctx, job->port, kh, &fd, &c);
    sx_tls_conn_free(c);
    sx_net_close(fd);
    server_join(job);
    sx_tls_ctx_free(cctx);
    return st;
}

static void test_single_cert_chain(void **state)
{
    (void)state;
    /* The fixture leaf alone: PROTOCOL-NOTES B10 needs at least 2 certificates,
     * whatever the key hash (try the CA's and the leaf's own). */
    static char crt[512], key[512];
    snprintf(crt, sizeof crt, "%s", tu_data_path("fixtures/server.crt"));
    snprintf(key, sizeof key, "%s", tu_data_path("fixtures/server.key"));
    sx_tls_server_config cfg = {.creds = {.cert_file = crt, .key_file = key}};
    sx_tls_ctx *sctx = NULL;
    assert_ok(sx_tls_server_ctx_new(&cfg, &sctx));
    assert_int_equal(sx_tls_ctx_chain_len(sctx), 1);
    uint8_t kh[32];
    ca_fingerprint(kh);
    server_job job;
    assert_int_equal(try_client(sctx, kh, &job), SX_E_AUTH);
    assert_true(job.hs_st != SX_OK);
    X509 *leaf = read_pem_cert(crt);
    sha256_cert(leaf, kh);
    X509_free(leaf);
    assert_int_equal(try_client(sctx, kh, &job), SX_E_AUTH);
    assert_true(job.hs_st != SX_OK);
    sx_tls_ctx_free(sctx);
}

static void test_generated_chains(void **state)
{
    (void)state;
    EVP_PKEY *root_k = new_ed25519(), *id_k = new_ed25519(), *net_k = new_ed25519();
    EVP_PKEY *leaf_k = new_ed25519(), *other_k = new_ed25519();
    X509 *root = make_cert("root CA", root_k, NULL, NULL, true);
    X509 *net = make_cert("network CA", net_k, root, root_k, true);
    X509 *id = make_cert("identity CA", id_k, net, net_k, true);
    X509 *leaf = make_cert("localhost", leaf_k, id, id_k, false);
    X509 *other = make_cert("unrelated CA", other_k, NULL, NULL, true);
    uint8_t kh_id[32], kh_other[32], kh_root[32];
    sha256_cert(id, kh_id);
    sha256_cert(other, kh_other);
    sha256_cert(root, kh_root);
    server_job job;

    /* [leaf, id, net, root]: valid, identity = 2nd (PROTOCOL-NOTES B10). */
    X509 *four[] = {leaf, id, net, root};
    sx_tls_ctx *sctx = gen_server_ctx(four, 4, leaf_k, SX_OK);
    assert_ok(try_client(sctx, kh_id, &job));
    assert_ok(job.hs_st);
    /* The root's fingerprint is not the identity. */
    assert_int_equal(try_client(sctx, kh_root, &job), SX_E_AUTH);
    sx_tls_ctx_free(sctx);

    /* [leaf, id, net]: the last certificate is the only anchor even though
     * it is not self-signed. */
    sctx = gen_server_ctx(four, 3, leaf_k, SX_OK);
    assert_ok(try_client(sctx, kh_id, &job));
    sx_tls_ctx_free(sctx);

    /* [leaf, other]: the fingerprint matches, but the path does not
     * (PROTOCOL-NOTES B11). */
    X509 *bad[] = {leaf, other};
    sctx = gen_server_ctx(bad, 2, leaf_k, SX_OK);
    assert_int_equal(try_client(sctx, kh_other, &job), SX_E_AUTH);
    sx_tls_ctx_free(sctx);

    /* [leaf, id, net, other]: the last certificate must anchor the path. */
    X509 *bad4[] = {leaf, id, net, other};
    sctx = gen_server_ctx(bad4, 4, leaf_k, SX_OK);
    assert_int_equal(try_client(sctx, kh_id, &job), SX_E_AUTH);
    sx_tls_ctx_free(sctx);

    /* Five certificates cannot even be configured. */
    X509 *five[] = {leaf, id, net, root, other};
    assert_null(gen_server_ctx(five, 5, leaf_k, SX_E_LIMIT));
    /* A key that does not match the leaf. */
    assert_null(gen_server_ctx(four, 4, other_k, SX_E_PROTOCOL));

    X509_free(root);
    X509_free(net);
    X509_free(id);
    X509_free(leaf);
    X509_free(other);
    EVP_PKEY_free(root_k);
    EVP_PKEY_free(id_k);
    EVP_PKEY_free(net_k);
    EVP_PKEY_free(leaf_k);
    EVP_PKEY_free(other_k);
}

/* Server script: wait for one block, recording the status. */
static void script_read_one(server_job *job, sx_tls_conn *c)
{
    static uint8_t blk[SX_BLOCK_SIZE];
    job->script_st = sx_tls_read_block(c, blk, WAIT_MS);
}

static void test_client_certificate(void **state)
{
    (void)state;
    EVP_PKEY *ca_k = new_ed25519(), *leaf_k = new_ed25519(), *other_k = new_ed25519();
    X509 *ca = make_cert("service CA", ca_k, NULL, NULL, true);
    X509 *leaf = make_cert("service", leaf_k, ca, ca_k, false);
    X509 *other = make_cert("unrelated CA", other_k, NULL, NULL, true);
    uint8_t kh[32], leaf_fp[32];
    ca_fingerprint(kh);
    sha256_cert(leaf, leaf_fp);
    sx_tls_ctx *sctx = fixture_server_ctx(NULL);

    struct {
        X509 *chain[2];
        size_t n;
        bool valid;
    } cases[] = {
        {{leaf, ca}, 2, true},     /* service chain [leaf, CA] */
        {{ca, NULL}, 1, true},     /* a single self-signed certificate (PROTOCOL-NOTES B6) */
        {{leaf, other}, 2, false}, /* does not validate: server rejects */
        {{leaf, NULL}, 1, false},  /* single, not self-signed */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_certs(tmp_path("client.pem"), cases[i].chain, cases[i].n);
        write_key(tmp_path("client.key"), cases[i].chain[0] == ca ? ca_k : leaf_k);
        sx_tls_credentials creds = {.cert_file = tmp_path("client.pem"), .key_file = tmp_path("client.key")};
        sx_tls_client_config ccfg = {.alpn = alpn_smp, .creds = &creds};
        sx_tls_ctx *cctx = NULL;
        assert_ok(sx_tls_client_ctx_new(&ccfg, &cctx));
        assert_int_equal(sx_tls_ctx_chain_len(cctx), cases[i].n);

        server_job job;
        server_start(&job, sctx, script_read_one);
        int fd;
        sx_tls_conn *c;
        /* TLS 1.3: the client finishes before the server has judged its
         * certificate; a rejection shows up on the client's next read. */
        assert_ok(client_connect(cctx, job.port, kh, &fd, &c));
        static uint8_t blk[SX_BLOCK_SIZE];
        assert_ok(sx_block_encode(sx_slice_str("x"), blk));
        sx_status wst = sx_tls_write_block(c, blk, WAIT_MS);
        server_join(&job);
        if (cases[i].valid) {
            assert_ok(wst);
            assert_ok(job.hs_st);
            assert_ok(job.script_st);
            assert_int_equal(job.peer_chain_len, cases[i].n);
            uint8_t fp[32];
            sha256_cert(cases[i].chain[0], fp);
            assert_bytes_equal(job.peer_leaf_fp, fp, 32);
        } else {
            assert_int_equal(job.hs_st, SX_E_AUTH);
            sx_status rst = sx_tls_read_block(c, blk, WAIT_MS);
            assert_true(rst == SX_E_PROTOCOL || rst == SX_E_CLOSED);
        }
        sx_tls_conn_free(c);
        sx_net_close(fd);
        sx_tls_ctx_free(cctx);
    }
    sx_tls_ctx_free(sctx);
    X509_free(ca);
    X509_free(leaf);
    X509_free(other);
    EVP_PKEY_free(ca_k);
    EVP_PKEY_free(leaf_k);
    EVP_PKEY_free(other_k);
}

/* A raw OpenSSL client, for what our own client cannot be made to do. */
static int tickets_seen;

static int count_ticket_cb(SSL *ssl, SSL_SESSION *sess)
{
    (void)ssl;
    (void)sess;
    tickets_seen++;
    return 0;
}

static SSL *raw_client(SSL_CTX *cctx, int fd)
{
    SSL *ssl = SSL_new(cctx);
    assert_non_null(ssl);
    assert_int_equal(SSL_set_fd(ssl, fd), 1);
    return ssl;
}

/* Blocking-style drive of a raw SSL call over the non-blocking fd. */
static int raw_do(SSL *ssl, int (*op)(SSL *))
{
    for (int i = 0; i < 1000; i++) {
        int r = op(ssl);
        if (r == 1)
            return 1;
        int e = SSL_get_error(ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            if (sx_net_wait(SSL_get_fd(ssl), e == SSL_ERROR_WANT_WRITE, WAIT_MS) != SX_OK)
                return -1;
            continue;
        }
        return r;
    }
    return -1;
}

static void test_tls12_refused(void **state)
{
    (void)state;
    sx_tls_ctx *sctx = fixture_server_ctx(NULL);
    server_job job;
    server_start(&job, sctx, NULL);
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(cctx);
    SSL_CTX_set_max_proto_version(cctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);
    int fd;
    assert_ok(sx_net_connect("127.0.0.1", job.port, WAIT_MS, &fd));
    SSL *ssl = raw_client(cctx, fd);
    assert_true(raw_do(ssl, SSL_connect) != 1);
    ERR_clear_error();
    SSL_free(ssl);
    sx_net_close(fd);
    server_join(&job);
    assert_int_equal(job.hs_st, SX_E_PROTOCOL);
    SSL_CTX_free(cctx);
    sx_tls_ctx_free(sctx);
}

/* Server script: send one block, then wait for the client to go. */
static void script_send_one(server_job *job, sx_tls_conn *c)
{
    static uint8_t blk[SX_BLOCK_SIZE];
    sx_status st = sx_block_encode(sx_slice_str("hello"), blk);
    if (st == SX_OK)
        st = sx_tls_write_block(c, blk, WAIT_MS);
    job->script_st = st;
    if (st == SX_OK)
        (void)!sx_tls_read_block(c, blk, WAIT_MS);
}

/* Server script: four blocks written at once, then wait for the client. */
static void script_send_four(server_job *job, sx_tls_conn *c)
{
    static uint8_t blk[4 * SX_BLOCK_SIZE];
    sx_status st = SX_OK;
    for (int i = 0; i < 4 && st == SX_OK; i++)
        st = sx_block_encode(sx_slice_of(&"abcd"[i], 1), blk + (size_t)i * SX_BLOCK_SIZE);
    if (st == SX_OK)
        st = sx_tls_write_full(c, blk, sizeof blk, WAIT_MS);
    job->script_st = st;
    if (st == SX_OK)
        (void)!sx_tls_read_block(c, blk, WAIT_MS);
}

/* PROTOCOL-NOTES B2: our two ends agree on AES-128-GCM where the CPU has AES
 * instructions (ChaCha20-Poly1305 elsewhere); a client offering only
 * ChaCha20-Poly1305, as the reference does, still connects and gets it. */
static void test_cipher_choice(void **state)
{
    (void)state;
    const char *ours = sx_tls_cpu_has_aes() ? "TLS_AES_128_GCM_SHA256" : "TLS_CHACHA20_POLY1305_SHA256";
    sx_tls_ctx *sctx = fixture_server_ctx(alpn_smp);
    sx_tls_ctx *cctx = client_ctx(alpn_smp);
    uint8_t kh[32];
    ca_fingerprint(kh);
    server_job job;
    server_start(&job, sctx, script_read_one);
    int fd;
    sx_tls_conn *c;
    assert_int_equal(sx_tls_conn_cipher(NULL)[0], 0);
    assert_ok(client_connect(cctx, job.port, kh, &fd, &c));
    assert_string_equal(sx_tls_conn_cipher(c), ours);
    static uint8_t blk[SX_BLOCK_SIZE];
    assert_ok(sx_block_encode(sx_slice_str("x"), blk));
    assert_ok(sx_tls_write_block(c, blk, WAIT_MS));
    server_join(&job);
    assert_string_equal(job.cipher, ours);
    sx_tls_conn_free(c);
    sx_net_close(fd);

    server_start(&job, sctx, NULL);
    SSL_CTX *raw = SSL_CTX_new(TLS_client_method());
    assert_non_null(raw);
    assert_int_equal(SSL_CTX_set_min_proto_version(raw, TLS1_3_VERSION), 1);
    assert_int_equal(SSL_CTX_set_ciphersuites(raw, "TLS_CHACHA20_POLY1305_SHA256"), 1);
    assert_int_equal(SSL_CTX_set1_groups_list(raw, "X448:X25519"), 1);
    assert_int_equal(SSL_CTX_set1_sigalgs_list(raw, "ed448:ed25519"), 1);
    SSL_CTX_set_verify(raw, SSL_VERIFY_NONE, NULL);
    assert_ok(sx_net_connect("127.0.0.1", job.port, WAIT_MS, &fd));
    SSL *ssl = raw_client(raw, fd);
    assert_int_equal(raw_do(ssl, SSL_connect), 1);
    assert_string_equal(SSL_get_cipher_name(ssl), "TLS_CHACHA20_POLY1305_SHA256");
    SSL_free(ssl);
    sx_net_close(fd);
    server_join(&job);
    assert_ok(job.hs_st);
    assert_string_equal(job.cipher, "TLS_CHACHA20_POLY1305_SHA256");
    SSL_CTX_free(raw);
    sx_tls_ctx_free(cctx);
    sx_tls_ctx_free(sctx);
}

/* Read-ahead: with four blocks waiting on the socket, reading the first one
 * leaves the next ones inside TLS (a read needs no socket event), and they
 * come out whole and in order. */
static void test_read_ahead(void **state)
{
    (void)state;
    sx_tls_ctx *sctx = fixture_server_ctx(alpn_smp);
    sx_tls_ctx *cctx = client_ctx(alpn_smp);
    uint8_t kh[32];
    ca_fingerprint(kh);
    server_job job;
    server_start(&job, sctx, script_send_four);
    int fd;
    sx_tls_conn *c;
    assert_ok(client_connect(cctx, job.port, kh, &fd, &c));
    usleep(300000); /* all four blocks reach this socket */
    static uint8_t blk[SX_BLOCK_SIZE];
    for (int i = 0; i < 4; i++) {
        assert_ok(sx_tls_read_block(c, blk, WAIT_MS));
        sx_slice content;
        assert_ok(sx_block_decode(sx_slice_of(blk, SX_BLOCK_SIZE), &content));
        assert_int_equal(content.len, 1);
        assert_int_equal(content.ptr[0], "abcd"[i]);
        if (i == 0)
            assert_true(sx_tls_has_pending(c));
    }
    assert_ok(sx_tls_write_block(c, blk, WAIT_MS));
    server_join(&job);
    assert_ok(job.script_st);
    sx_tls_conn_free(c);
    sx_net_close(fd);
    sx_tls_ctx_free(cctx);
    sx_tls_ctx_free(sctx);
}

static void test_no_session_ticket(void **state)
{
    (void)state;
    sx_tls_ctx *sctx = fixture_server_ctx(NULL);
    server_job job;
    server_start(&job, sctx, script_send_one);
    /* A TLS 1.3 client that would gladly store tickets. */
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(cctx);
    SSL_CTX_set_min_proto_version(cctx, TLS1_3_VERSION);
    SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(cctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(cctx, count_ticket_cb);
    tickets_seen = 0;
    int fd;
    assert_ok(sx_net_connect("127.0.0.1", job.port, WAIT_MS, &fd));
    SSL *ssl = raw_client(cctx, fd);
    assert_int_equal(raw_do(ssl, SSL_connect), 1);
    /* Tickets would come before the server's first block. */
    static uint8_t blk[SX_BLOCK_SIZE];
    size_t got = 0;
    for (int i = 0; i < 1000 && got < SX_BLOCK_SIZE; i++) {
        size_t n = 0;
        int r = SSL_read_ex(ssl, blk + got, SX_BLOCK_SIZE - got, &n);
        if (r == 1) {
            got += n;
            continue;
        }
        int e = SSL_get_error(ssl, r);
        assert_true(e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE);
        assert_ok(sx_net_wait(fd, e == SSL_ERROR_WANT_WRITE, WAIT_MS));
    }
    assert_int_equal(got, SX_BLOCK_SIZE);
    sx_slice content;
    assert_ok(sx_block_decode(sx_slice_of(blk, SX_BLOCK_SIZE), &content));
    assert_true(sx_slice_eq(content, sx_slice_str("hello")));
    assert_int_equal(tickets_seen, 0);
    SSL_SESSION *sess = SSL_get_session(ssl);
    assert_non_null(sess);
    assert_false(SSL_SESSION_has_ticket(sess));
    assert_int_equal(SSL_version(ssl), TLS1_3_VERSION);
    SSL_free(ssl);
    sx_net_close(fd);
    server_join(&job);
    assert_ok(job.hs_st);
    assert_ok(job.script_st);
    assert_int_equal(job.num_tickets, 0);
    SSL_CTX_free(cctx);
    sx_tls_ctx_free(sctx);
}

/* Server script: half a block, wait for a go byte, then the rest. */
static void script_split_block(server_job *job, sx_tls_conn *c)
{
    static uint8_t blk[SX_BLOCK_SIZE];
    tu_bytes_seq(blk, SX_BLOCK_SIZE, 5);
    uint8_t go;
    sx_status st = sx_tls_write_full(c, blk, SX_BLOCK_SIZE / 2, WAIT_MS);
    if (st == SX_OK)
        st = sx_tls_read_full(c, &go, 1, WAIT_MS);
    if (st == SX_OK)
        st = sx_tls_write_full(c, blk + SX_BLOCK_SIZE / 2, SX_BLOCK_SIZE / 2, WAIT_MS);
    job->script_st = st;
    /* Then close abruptly, without close_notify. */
}

static void test_partial_progress_and_close(void **state)
{
    (void)state;
    sx_tls_ctx *sctx = fixture_server_ctx(NULL);
    sx_tls_ctx *cctx = client_ctx(alpn_smp);
    server_job job;
    server_start(&job, sctx, script_split_block);
    uint8_t kh[32];
    ca_fingerprint(kh);
    int fd;
    sx_tls_conn *c;
    assert_ok(client_connect(cctx, job.port, kh, &fd, &c));

    static uint8_t blk[SX_BLOCK_SIZE], want[SX_BLOCK_SIZE];
    tu_bytes_seq(want, SX_BLOCK_SIZE, 5);
    size_t done = 0;
    sx_status st;
    /* Non-blocking reads make partial progress and then ask to wait. */
    for (int i = 0; i < 1000; i++) {
        st = sx_tls_read(c, blk, SX_BLOCK_SIZE, &done);
        assert_int_equal(st, SX_E_WOULD_BLOCK);
        assert_int_equal(sx_tls_conn_want(c), SX_TLS_WANT_READ);
        if (done == SX_BLOCK_SIZE / 2)
            break;
        assert_ok(sx_net_wait(fd, false, WAIT_MS));
    }
    assert_int_equal(done, SX_BLOCK_SIZE / 2);
    /* Nothing more arrives until we ask. */
    assert_int_equal(sx_net_wait(fd, false, 200), SX_E_WOULD_BLOCK);
    uint8_t go = 'g';
    size_t wdone = 0;
    st = sx_tls_write(c, &go, 1, &wdone);
    assert_ok(st);
    assert_int_equal(wdone, 1);
    for (int i = 0; i < 1000 && (st = sx_tls_read(c, blk, SX_BLOCK_SIZE, &done)) == SX_E_WOULD_BLOCK; i++)
        assert_ok(sx_net_wait(fd, false, WAIT_MS));
    assert_ok(st);
    assert_int_equal(done, SX_BLOCK_SIZE);
    assert_bytes_equal(blk, want, SX_BLOCK_SIZE);

    server_join(&job);
    assert_ok(job.script_st);
    /* The server went away without close_notify: closed, not a hang. */
    assert_int_equal(sx_tls_read_block(c, blk, WAIT_MS), SX_E_CLOSED);
    sx_tls_conn_free(c);
    sx_net_close(fd);
    sx_tls_ctx_free(cctx);
    sx_tls_ctx_free(sctx);
}

/* Server script: close cleanly right away. */
static void script_close(server_job *job, sx_tls_conn *c)
{
    job->script_st = sx_tls_shutdown_blocking(c, WAIT_MS);
}

static void test_clean_close_and_timeout(void **state)
{
    (void)state;
    sx_tls_ctx *sctx = fixture_server_ctx(NULL);
    sx_tls_ctx *cctx = client_ctx(alpn_smp);
    uint8_t kh[32];
    ca_fingerprint(kh);
    static uint8_t blk[SX_BLOCK_SIZE];
    int fd;
    sx_tls_conn *c;

    server_job job;
    server_start(&job, sctx, script_close);
    assert_ok(client_connect(cctx, job.port, kh, &fd, &c));
    server_join(&job);
    assert_ok(job.script_st);
    assert_int_equal(sx_tls_read_block(c, blk, WAIT_MS), SX_E_CLOSED);
    sx_tls_conn_free(c);
    sx_net_close(fd);

    /* A peer that never sends: the blocking read times out. */
    server_start(&job, sctx, script_read_one);
    assert_ok(client_connect(cctx, job.port, kh, &fd, &c));
    assert_int_equal(sx_tls_read_block(c, blk, 200), SX_E_IO);
    assert_string_equal(sx_tls_conn_error(c), "timed out");
    assert_ok(sx_tls_shutdown_blocking(c, WAIT_MS));
    server_join(&job);
    assert_int_equal(job.script_st, SX_E_CLOSED);
    sx_tls_conn_free(c);
    sx_net_close(fd);

    /* Reads and writes before the handshake are refused. */
    server_start(&job, sctx, NULL);
    assert_ok(sx_net_connect("127.0.0.1", job.port, WAIT_MS, &fd));
    assert_ok(sx_tls_conn_new_client(cctx, fd, kh, &c));
    size_t done = 0;
    assert_int_equal(sx_tls_read(c, blk, 1, &done), SX_E_USAGE);
    assert_int_equal(sx_tls_write(c, blk, 1, &done), SX_E_USAGE);
    sx_tls_conn_free(c);
    sx_net_close(fd);
    server_join(&job);
    assert_true(job.hs_st == SX_E_CLOSED || job.hs_st == SX_E_PROTOCOL);

    sx_tls_ctx_free(cctx);
    sx_tls_ctx_free(sctx);
}

/* Writing to a peer that has gone is an error, not a SIGPIPE: the test
 * runs with SIGPIPE's default action, which would end the process. */
static void test_write_after_peer_left_no_sigpipe(void **state)
{
    (void)state;
    void (*old)(int) = signal(SIGPIPE, SIG_DFL);
    sx_tls_ctx *sctx = fixture_server_ctx(NULL);
    sx_tls_ctx *cctx = client_ctx(alpn_smp);
    uint8_t kh[32];
    ca_fingerprint(kh);
    static uint8_t blk[SX_BLOCK_SIZE];
    int fd;
    sx_tls_conn *c;
    server_job job;
    server_start(&job, sctx, NULL); /* handshake, then close without a word */
    assert_ok(client_connect(cctx, job.port, kh, &fd, &c));
    server_join(&job);
    sx_status st = SX_OK;
    for (int i = 0; i < 200 && st == SX_OK; i++) {
        st = sx_tls_write_block(c, blk, WAIT_MS);
        if (st == SX_OK)
            usleep(5000);
    }
    assert_true(st == SX_E_IO || st == SX_E_CLOSED);
    sx_tls_conn_free(c);
    sx_net_close(fd);
    sx_tls_ctx_free(cctx);
    sx_tls_ctx_free(sctx);
    signal(SIGPIPE, old);
}

static void test_config_errors(void **state)
{
    (void)state;
    sx_tls_ctx *ctx = NULL;
    sx_tls_server_config cfg = {.creds = {.cert_file = "/nonexistent/server.crt", .key_file = "/nonexistent/k"}};
    assert_int_equal(sx_tls_server_ctx_new(&cfg, &ctx), SX_E_IO);
    assert_null(ctx);
    cfg.creds.cert_file = NULL;
    assert_int_equal(sx_tls_server_ctx_new(&cfg, &ctx), SX_E_USAGE);
    static const char *const bad_alpn[] = {"", NULL};
    sx_tls_client_config ccfg = {.alpn = bad_alpn};
    assert_int_equal(sx_tls_client_ctx_new(&ccfg, &ctx), SX_E_USAGE);
    /* A file without any certificate. */
    FILE *f = fopen(tmp_path("empty.pem"), "w");
    assert_non_null(f);
    fputs("not a certificate\n", f);
    fclose(f);
    static char key[512];
    snprintf(key, sizeof key, "%s", tu_data_path("fixtures/server.key"));
    cfg.creds.cert_file = tmp_path("empty.pem");
    cfg.creds.key_file = key;
    assert_int_equal(sx_tls_server_ctx_new(&cfg, &ctx), SX_E_PROTOCOL);
    /* A server context cannot start client connections and vice versa. */
    sx_tls_ctx *sctx = fixture_server_ctx(NULL);
    sx_tls_conn *c = NULL;
    uint8_t kh[32] = {0};
    assert_int_equal(sx_tls_conn_new_client(sctx, 0, kh, &c), SX_E_USAGE);
    sx_tls_ctx_free(sctx);
}

static int setup_all(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sx_tls_test.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_all(void **state)
{
    (void)state;
    const char *names[] = {"chain.pem", "leaf.key", "client.pem", "client.key", "empty.pem"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unlink(tmp_path(names[i]));
    rmdir(tmpdir);
    return 0;
}

int main(void)
{
    /* Writes to a socket the peer closed must fail, not kill the test. */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_fingerprint),
        cmocka_unit_test(test_cipher_choice),
        cmocka_unit_test(test_read_ahead),
        cmocka_unit_test(test_handshake_alpn),
        cmocka_unit_test(test_block_roundtrip),
        cmocka_unit_test(test_alpn_choice),
        cmocka_unit_test(test_wrong_fingerprint),
        cmocka_unit_test(test_single_cert_chain),
        cmocka_unit_test(test_generated_chains),
        cmocka_unit_test(test_client_certificate),
        cmocka_unit_test(test_tls12_refused),
        cmocka_unit_test(test_no_session_ticket),
        cmocka_unit_test(test_partial_progress_and_close),
        cmocka_unit_test(test_clean_close_and_timeout),
        cmocka_unit_test(test_write_after_peer_left_no_sigpipe),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
