/* The NTF router's network server against a client built from the codecs
 * (PROTOCOL-NOTES G1-G12, T10): real TLS on loopback with ALPN ntf/1 (v3:
 * signed hello key, implied session id, batches) and without ALPN (v1:
 * session id in each transmission); TNEW of an AN token signed with Ed25519
 * and of one with an X25519 key authorized with an authenticator; TCHK,
 * TVFY with a wrong code, TCRN limits, PING, a bad signature, an unknown
 * token, a client hello with the wrong identity; and a restart of the
 * server on its store log with the tokens kept. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/box.h"
#include "crypto/util.h"
#include "ntf/protocol.h"
#include "ntf_router/server.h"
#include "ntf_router/setup.h"
#include "transport/net.h"
#include "transport/tls.h"

#define TIMEOUT_MS 10000

typedef struct env {
    char dir[64];
    sx_kit_paths paths;
    uint8_t fp[SX_FINGERPRINT_LEN];
    sx_ntf_server *srv;
    char log_path[SX_KIT_PATH_MAX];
} env;

static void start(env *e)
{
    sx_ntf_server_opts o = {0};
    o.host = "127.0.0.1";
    o.workers = 2;
    o.cert_file = e->paths.server_crt;
    o.ca_file = e->paths.ca_crt;
    o.key_file = e->paths.server_key;
    memcpy(o.key_hash, e->fp, sizeof o.key_hash);
    o.store_log_path = e->log_path;
    assert_ok(sx_ntf_server_start(&o, &e->srv));
}

static void env_init(env *e)
{
    memset(e, 0, sizeof *e);
    snprintf(e->dir, sizeof e->dir, "/tmp/sx_ntf_srv.XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    char cfg[128], log[128];
    snprintf(cfg, sizeof cfg, "%s/etc", e->dir);
    snprintf(log, sizeof log, "%s/var", e->dir);
    assert_ok(sx_ntf_paths_init(&e->paths, cfg, log));
    sx_ntf_init_options io;
    sx_ntf_init_options_default(&io);
    char host[64], err[256];
    assert_ok(sx_ntf_setup_init(&e->paths, &io, e->fp, host, sizeof host, err, sizeof err));
    snprintf(e->log_path, sizeof e->log_path, "%s", e->paths.store_log);
    start(e);
}

static void env_free(env *e)
{
    sx_ntf_server_stop(e->srv);
    tu_rm_rf(e->dir);
}

typedef struct conn {
    int fd;
    sx_tls_ctx *ctx;
    sx_tls_conn *tls;
    uint16_t v;
    uint8_t session[64];
    size_t session_len;
    sx_key *srv_dh; /* the hello's key (v >= 2) */
    uint8_t corr;
} conn;

static sx_status read_block(conn *c, uint8_t block[SX_NTF_BLOCK_SIZE])
{
    return sx_tls_read_full(c->tls, block, SX_NTF_BLOCK_SIZE, TIMEOUT_MS);
}

/* Connects and runs the NTF handshake; key_hash NULL: the right one. */
static sx_status conn_open(conn *c, env *e, bool alpn, const uint8_t *key_hash)
{
    static const char *const ntf[] = {SX_NTF_ALPN, NULL};
    memset(c, 0, sizeof *c);
    sx_tls_client_config cfg = {0};
    cfg.alpn = alpn ? ntf : NULL;
    assert_ok(sx_tls_client_ctx_new(&cfg, &c->ctx));
    assert_ok(sx_net_connect("127.0.0.1", sx_ntf_server_port(e->srv), TIMEOUT_MS, &c->fd));
    assert_ok(sx_tls_conn_new_client(c->ctx, c->fd, e->fp, &c->tls));
    assert_ok(sx_tls_handshake_blocking(c->tls, TIMEOUT_MS));
    uint8_t block[SX_NTF_BLOCK_SIZE];
    assert_ok(read_block(c, block));
    sx_slice content;
    assert_ok(sx_ntf_block_decode(sx_slice_of(block, sizeof block), &content));
    sx_ntf_server_hello h;
    assert_ok(sx_ntf_server_hello_decode(content, &h));
    assert_true(sx_slice_eq(h.session_id, sx_tls_unique(c->tls)));
    assert_int_equal(h.range.min, 1);
    assert_int_equal(h.range.max, alpn ? 3 : 1);
    memcpy(c->session, h.session_id.ptr, h.session_id.len);
    c->session_len = h.session_id.len;
    c->v = h.range.max;
    if (h.has_signed_key) {
        /* signed by the server certificate's key */
        sx_key *signer = NULL;
        assert_ok(sx_x509_read_key_file(e->paths.server_key, SX_KEY_SIGN_ALGS, &signer));
        assert_ok(sx_x509_signed_key_verify(h.signed_key, signer, SX_KEY_BIT(SX_KEY_X25519), &c->srv_dh));
        sx_key_free(signer);
    }
    uint8_t hb[SX_NTF_MAX_CONTENT];
    sx_writer w;
    sx_writer_init_fixed(&w, hb, sizeof hb);
    sx_ntf_client_hello ch = {c->v, sx_slice_of(key_hash ? key_hash : e->fp, SX_FINGERPRINT_LEN)};
    assert_true(sx_ntf_client_hello_write(&w, &ch));
    assert_ok(sx_ntf_block_encode(sx_writer_slice(&w), block));
    return sx_tls_write_full(c->tls, block, sizeof block, TIMEOUT_MS);
}

static void conn_close(conn *c)
{
    sx_key_free(c->srv_dh);
    sx_tls_conn_free(c->tls);
    sx_net_close(c->fd);
    sx_tls_ctx_free(c->ctx);
}

typedef enum { AUTH_NONE,
               AUTH_SIGN,
               AUTH_BOX,
               AUTH_BAD } auth_mode;

/* Sends one command and reads its response. */
static sx_status call(conn *c, sx_key *key, auth_mode mode, sx_slice entity, const sx_ntf_cmd *cmd,
                      sx_ntf_resp *resp, uint8_t *store, size_t cap)
{
    uint8_t cbuf[SX_NTF_MAX_CONTENT], corr[24], ab[SX_NTF_BLOCK_SIZE], auth[128];
    memset(corr, ++c->corr, sizeof corr);
    sx_writer w;
    sx_writer_init_fixed(&w, cbuf, sizeof cbuf);
    assert_true(sx_ntf_cmd_write(&w, c->v, cmd));
    sx_slice command = sx_writer_slice(&w);
    sx_slice session = sx_slice_of(c->session, c->session_len);
    sx_writer aw;
    sx_writer_init_fixed(&aw, ab, sizeof ab);
    assert_true(sx_ntf_auth_bytes(&aw, session, sx_slice_of(corr, 24), entity, command));
    sx_smp_transmission t = {0};
    t.session_id = session;
    t.corr_id = sx_slice_of(corr, 24);
    t.entity_id = entity;
    t.command = command;
    if (mode == AUTH_SIGN || mode == AUTH_BAD) {
        size_t n = 0;
        assert_ok(sx_key_sign(key, sx_writer_slice(&aw), auth, sizeof auth, &n));
        if (mode == AUTH_BAD)
            auth[0] ^= 1;
        t.auth = sx_slice_of(auth, n);
    } else if (mode == AUTH_BOX) {
        uint8_t secret[32];
        size_t n = 0;
        assert_ok(sx_key_dh(key, c->srv_dh, secret, sizeof secret, &n));
        assert_ok(sx_cb_authenticate(secret, corr, sx_writer_slice(&aw), auth));
        t.auth = sx_slice_of(auth, SX_CB_AUTH_LEN);
    }
    uint8_t tbuf[SX_NTF_MAX_CONTENT], content[SX_NTF_MAX_CONTENT], block[SX_NTF_BLOCK_SIZE];
    sx_writer tw;
    sx_writer_init_fixed(&tw, tbuf, sizeof tbuf);
    assert_true(sx_ntf_transmission_write(&tw, c->v, &t));
    sx_slice item = sx_writer_slice(&tw);
    sx_writer bw;
    sx_writer_init_fixed(&bw, content, sizeof content);
    assert_true(sx_ntf_batch_write(&bw, c->v, &item, 1));
    assert_ok(sx_ntf_block_encode(sx_writer_slice(&bw), block));
    sx_status st = sx_tls_write_full(c->tls, block, sizeof block, TIMEOUT_MS);
    if (st != SX_OK)
        return st;
    assert_true(cap >= SX_NTF_BLOCK_SIZE);
    st = read_block(c, store);
    if (st != SX_OK)
        return st;
    sx_slice rc, items[4];
    size_t n = 0;
    assert_ok(sx_ntf_block_decode(sx_slice_of(store, SX_NTF_BLOCK_SIZE), &rc));
    assert_ok(sx_ntf_batch_split(rc, c->v, items, 4, &n));
    assert_int_equal(n, 1);
    sx_ntf_reply rep;
    assert_ok(sx_ntf_reply_decode(items[0], c->v, session, &rep));
    assert_true(sx_slice_eq(rep.t.corr_id, sx_slice_of(corr, 24)));
    *resp = rep.resp;
    return SX_OK;
}

static sx_ntf_cmd tnew_cmd(sx_key *verify, sx_key *dh, uint8_t *vbuf, uint8_t *dbuf)
{
    sx_ntf_cmd c = {0};
    c.tag = SX_NTF_C_TNEW;
    c.tnew.token.provider = SX_NTF_PP_APNS_NULL;
    c.tnew.token.token = sx_slice_str("test_ntf_token");
    assert_ok(sx_smp_pubkey_of(verify, vbuf, &c.tnew.verify_key));
    assert_ok(sx_smp_pubkey_of(dh, dbuf, &c.tnew.dh_key));
    return c;
}

/* Lines of the file at path that start with prefix. */
static int count_lines(const char *path, const char *prefix)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += strncmp(line, prefix, strlen(prefix)) == 0;
    fclose(f);
    return n;
}

static sx_ntf_cmd simple(sx_ntf_cmd_tag tag)
{
    sx_ntf_cmd c = {0};
    c.tag = tag;
    return c;
}

static void test_tokens(void **state)
{
    (void)state;
    env e;
    env_init(&e);
    conn c;
    assert_ok(conn_open(&c, &e, true, NULL));
    assert_int_equal(c.v, 3);
    static uint8_t store[SX_NTF_BLOCK_SIZE];
    sx_ntf_resp r;
    sx_slice none = sx_slice_of(NULL, 0);

    sx_ntf_cmd ping = simple(SX_NTF_C_PING);
    assert_ok(call(&c, NULL, AUTH_NONE, none, &ping, &r, store, sizeof store));
    assert_int_equal(r.tag, SX_NTF_R_PONG);

    sx_key *verify = NULL, *dh = NULL;
    assert_ok(sx_key_generate(SX_KEY_ED25519, &verify));
    assert_ok(sx_key_generate(SX_KEY_X25519, &dh));
    uint8_t vbuf[SX_KEY_SPKI_MAX], dbuf[SX_KEY_SPKI_MAX];
    sx_ntf_cmd tn = tnew_cmd(verify, dh, vbuf, dbuf);
    assert_ok(call(&c, verify, AUTH_BAD, none, &tn, &r, store, sizeof store));
    assert_int_equal(r.tag, SX_NTF_R_ERR);
    assert_int_equal(r.err.type, SX_SMP_ERR_AUTH);
    assert_ok(call(&c, verify, AUTH_NONE, none, &tn, &r, store, sizeof store));
    assert_int_equal(r.tag, SX_NTF_R_ERR);
    assert_int_equal(r.err.cmd, SX_SMP_CMD_NO_AUTH);
    assert_ok(call(&c, verify, AUTH_SIGN, none, &tn, &r, store, sizeof store));
    assert_int_equal(r.tag, SX_NTF_R_IDTKN);
    uint8_t id_buf[SX_NTF_ID_LEN];
    assert_int_equal(r.idtkn.id.len, SX_NTF_ID_LEN);
    memcpy(id_buf, r.idtkn.id.ptr, sizeof id_buf);
    sx_slice id = sx_slice_of(id_buf, sizeof id_buf);

    sx_ntf_cmd chk = simple(SX_NTF_C_TCHK);
    assert_ok(call(&c, verify, AUTH_SIGN, id, &chk, &r, store, sizeof store));
    assert_int_equal(r.tag, SX_NTF_R_TKN);
    assert_int_equal(r.tkn.status, SX_NTF_TKN_REGISTERED);
    sx_ntf_cmd vfy = simple(SX_NTF_C_TVFY);
    uint8_t zero[32] = {0};
    vfy.reg_code = sx_slice_of(zero, sizeof zero);
    assert_ok(call(&c, verify, AUTH_SIGN, id, &vfy, &r, store, sizeof store));
    assert_int_equal(r.tag, SX_NTF_R_ERR);
    assert_int_equal(r.err.type, SX_SMP_ERR_AUTH);
    sx_ntf_cmd crn = simple(SX_NTF_C_TCRN);
    crn.cron_minutes = 10;
    assert_ok(call(&c, verify, AUTH_SIGN, id, &crn, &r, store, sizeof store));
    assert_int_equal(r.tag, SX_NTF_R_ERR);
    assert_int_equal(r.err.type, SX_SMP_ERR_QUOTA);
    crn.cron_minutes = 20;
    assert_ok(call(&c, verify, AUTH_SIGN, id, &crn, &r, store, sizeof store));
    assert_int_equal(r.tag, SX_NTF_R_OK);
    /* a bad signature, an unknown token, no entity */
    assert_ok(call(&c, verify, AUTH_BAD, id, &chk, &r, store, sizeof store));
    assert_int_equal(r.err.type, SX_SMP_ERR_AUTH);
    assert_ok(call(&c, verify, AUTH_SIGN, sx_slice_str("no such token"), &chk, &r, store, sizeof store));
    assert_int_equal(r.err.type, SX_SMP_ERR_AUTH);
    assert_ok(call(&c, verify, AUTH_SIGN, none, &chk, &r, store, sizeof store));
    assert_int_equal(r.err.cmd, SX_SMP_CMD_NO_AUTH);

    /* a token whose key is X25519, authorized with authenticators */
    sx_key *xv = NULL, *xdh = NULL;
    assert_ok(sx_key_generate(SX_KEY_X25519, &xv));
    assert_ok(sx_key_generate(SX_KEY_X25519, &xdh));
    uint8_t xvbuf[SX_KEY_SPKI_MAX], xdbuf[SX_KEY_SPKI_MAX];
    sx_ntf_cmd xtn = tnew_cmd(xv, xdh, xvbuf, xdbuf);
    assert_ok(call(&c, xv, AUTH_BOX, none, &xtn, &r, store, sizeof store));
    assert_int_equal(r.tag, SX_NTF_R_IDTKN);
    uint8_t xid_buf[SX_NTF_ID_LEN];
    memcpy(xid_buf, r.idtkn.id.ptr, sizeof xid_buf);
    sx_slice xid = sx_slice_of(xid_buf, sizeof xid_buf);
    assert_ok(call(&c, xv, AUTH_BOX, xid, &chk, &r, store, sizeof store));
    assert_int_equal(r.tag, SX_NTF_R_TKN);
    assert_int_equal(r.tkn.status, SX_NTF_TKN_REGISTERED);
    conn_close(&c);

    /* v1 without ALPN: the session id travels in each transmission */
    assert_ok(conn_open(&c, &e, false, NULL));
    assert_int_equal(c.v, 1);
    assert_ok(call(&c, NULL, AUTH_NONE, none, &ping, &r, store, sizeof store));
    assert_int_equal(r.tag, SX_NTF_R_PONG);
    assert_ok(call(&c, verify, AUTH_SIGN, id, &chk, &r, store, sizeof store));
    assert_int_equal(r.tag, SX_NTF_R_TKN);
    conn_close(&c);

    /* the wrong identity in the client hello: the server closes */
    uint8_t wrong_fp[SX_FINGERPRINT_LEN];
    memcpy(wrong_fp, e.fp, sizeof wrong_fp);
    wrong_fp[0] ^= 1;
    (void)conn_open(&c, &e, true, wrong_fp);
    assert_int_not_equal(call(&c, NULL, AUTH_NONE, none, &ping, &r, store, sizeof store), SX_OK);
    conn_close(&c);

    /* a restart keeps the tokens (store log replayed and compacted) */
    sx_ntf_server_stop(e.srv);
    e.srv = NULL;
    start(&e);
    assert_int_equal(count_lines(e.log_path, "TCREATE "), 2);
    assert_int_equal(count_lines(e.log_path, ""), 2);
    assert_ok(conn_open(&c, &e, true, NULL));
    assert_ok(call(&c, verify, AUTH_SIGN, id, &chk, &r, store, sizeof store));
    assert_int_equal(r.tag, SX_NTF_R_TKN);
    assert_int_equal(r.tkn.status, SX_NTF_TKN_REGISTERED);
    assert_ok(call(&c, xv, AUTH_BOX, xid, &chk, &r, store, sizeof store));
    assert_int_equal(r.tag, SX_NTF_R_TKN);
    sx_ntf_cmd del = simple(SX_NTF_C_TDEL);
    assert_ok(call(&c, xv, AUTH_BOX, xid, &del, &r, store, sizeof store));
    assert_int_equal(r.tag, SX_NTF_R_OK);
    assert_ok(call(&c, xv, AUTH_BOX, xid, &chk, &r, store, sizeof store));
    assert_int_equal(r.err.type, SX_SMP_ERR_AUTH);
    conn_close(&c);

    sx_key_free(xv);
    sx_key_free(xdh);
    sx_key_free(verify);
    sx_key_free(dh);
    env_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
