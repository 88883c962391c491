/* The XFTP router in process over loopback TLS, driven by a minimal HTTP/2
 * client written here (nghttp2 + blocking sx_tls): handshake, every
 * command, FPUT/FGET streaming with a 4 MiB chunk, quota, expiry, restart
 * with the store log, answers after their store-log records, malformed
 * input (PROTOCOL-NOTES T9), inactive-client disconnect. */
#include <nghttp2/nghttp2.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#include "core/base64.h"
#include "core/pad.h"
#include "crypto/box.h"
#include "crypto/hash.h"
#include "crypto/keys.h"
#include "crypto/util.h"
#include "crypto/x509.h"
#include "transport/net.h"
#include "transport/tls.h"
#include "xftp/filecrypt.h"
#include "xftp/protocol.h"
#include "xftp_router/server.h"
#include "xftp_router/stats.h"

#define BLK SX_XFTP_BLOCK_SIZE

/* ---- minimal HTTP/2 client ---- */

typedef void (*tc_sink)(void *arg, const uint8_t *p, size_t n);
typedef void (*tc_gen)(void *arg, uint64_t off, uint8_t *p, size_t n);

typedef struct tc {
    int fd;
    sx_tls_ctx *ctx;
    sx_tls_conn *tls;
    nghttp2_session *h2;
    uint8_t sid[64];
    size_t sid_len;
    uint16_t v;
    sx_key *srv_dh; /* server session X25519 key from the hello */
    /* current request */
    const uint8_t *body;
    size_t body_len, body_pos;
    uint64_t gen_len, gen_pos;
    tc_gen gen;
    void *gen_arg;
    /* current response */
    bool done;
    int status;
    uint8_t *resp;
    size_t resp_len, resp_cap;
    bool cors;    /* access-control-allow-origin seen */
    char ctype[64];
    const char *method, *path; /* NULL: POST / */
    uint64_t defer_at;         /* stop sending the body here (0: never) */
    size_t pace;               /* send generated body bytes this many at a time, pausing between (0: no) */
    size_t paced;              /* bytes sent since the last pause */
    bool paused;
    int32_t stream;
    tc_sink sink; /* bytes after the first BLK go here when set */
    void *sink_arg;
    uint64_t sunk;
} tc;

static ssize_t tc_read_cb(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                          nghttp2_data_source *src, void *ud)
{
    (void)s;
    (void)id;
    (void)src;
    tc *c = ud;
    size_t n = 0;
    if (c->body_pos < c->body_len) {
        n = c->body_len - c->body_pos;
        if (n > len)
            n = len;
        memcpy(buf, c->body + c->body_pos, n);
        c->body_pos += n;
    }
    if (c->defer_at && c->gen_pos >= c->defer_at && n == 0)
        return NGHTTP2_ERR_DEFERRED;
    if (c->pace && c->paced >= c->pace && n == 0 && c->gen_pos < c->gen_len) {
        c->paced = 0;
        c->paused = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    if (n < len && c->gen_pos < c->gen_len) {
        size_t k = len - n;
        if (c->pace && k > c->pace - c->paced)
            k = c->pace - c->paced;
        if (c->defer_at && c->gen_pos < c->defer_at && k > c->defer_at - c->gen_pos)
            k = (size_t)(c->defer_at - c->gen_pos);
        if (k > c->gen_len - c->gen_pos)
            k = (size_t)(c->gen_len - c->gen_pos);
        c->gen(c->gen_arg, c->gen_pos, buf + n, k);
        c->gen_pos += k;
        n += k;
    }
    if (c->body_pos == c->body_len && c->gen_pos == c->gen_len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static int tc_on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *ud)
{
    (void)s;
    (void)flags;
    (void)id;
    tc *c = ud;
    while (len > 0) {
        if (c->sink && c->resp_len >= BLK) {
            c->sink(c->sink_arg, data, len);
            c->sunk += len;
            return 0;
        }
        size_t k = len;
        if (c->sink && k > BLK - c->resp_len)
            k = BLK - c->resp_len;
        if (c->resp_len + k > c->resp_cap) {
            size_t cap = c->resp_cap ? c->resp_cap * 2 : 32768;
            while (cap < c->resp_len + k)
                cap *= 2;
            c->resp = realloc(c->resp, cap);
            assert_non_null(c->resp);
            c->resp_cap = cap;
        }
        memcpy(c->resp + c->resp_len, data, k);
        c->resp_len += k;
        data += k;
        len -= k;
    }
    return 0;
}

static int tc_on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                        const uint8_t *value, size_t vl, uint8_t flags, void *ud)
{
    (void)s;
    (void)f;
    (void)flags;
    tc *c = ud;
    if (nl == 7 && memcmp(name, ":status", 7) == 0 && vl == 3)
        c->status = (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0');
    if (nl == 27 && memcmp(name, "access-control-allow-origin", 27) == 0)
        c->cors = true;
    if (nl == 12 && memcmp(name, "content-type", 12) == 0 && vl < sizeof c->ctype) {
        memcpy(c->ctype, value, vl);
        c->ctype[vl] = 0;
    }
    return 0;
}

/* The response is complete when its last frame arrives (the request may
 * still be open, e.g. after an early FPUT error). */
static int tc_on_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    (void)s;
    tc *c = ud;
    if (f->hd.stream_id == c->stream && (f->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
        (f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA))
        c->done = true;
    return 0;
}

static int tc_on_close(nghttp2_session *s, int32_t id, uint32_t err, void *ud)
{
    (void)s;
    (void)err;
    tc *c = ud;
    if (id == c->stream)
        c->done = true; /* reset by the server */
    return 0;
}

static const uint8_t *g_identity;
static uint8_t g_identity_buf[32];

static void tc_open_sni(tc *c, uint16_t port, const char *const *alpn, const char *sni)
{
    memset(c, 0, sizeof *c);
    sx_tls_client_config cfg = {0};
    cfg.alpn = alpn;
    assert_ok(sx_tls_client_ctx_new(&cfg, &c->ctx));
    assert_ok(sx_net_connect("127.0.0.1", port, 5000, &c->fd));
    assert_ok(sx_tls_conn_new_client(c->ctx, c->fd, g_identity, &c->tls));
    if (sni)
        assert_int_equal(SSL_set_tlsext_host_name(sx_tls_conn_ssl(c->tls), sni), 1);
    assert_ok(sx_tls_handshake_blocking(c->tls, 10000));
    sx_slice u = sx_tls_unique(c->tls);
    memcpy(c->sid, u.ptr, u.len);
    c->sid_len = u.len;
    nghttp2_session_callbacks *cb;
    assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, tc_on_data);
    nghttp2_session_callbacks_set_on_header_callback(cb, tc_on_header);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, tc_on_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, tc_on_frame);
    assert_int_equal(nghttp2_session_client_new(&c->h2, cb, c), 0);
    nghttp2_session_callbacks_del(cb);
    nghttp2_settings_entry iv[1] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20}};
    assert_int_equal(nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 1), 0);
    c->v = 1;
}

static void tc_open_alpn(tc *c, uint16_t port, const char *const *alpn)
{
    tc_open_sni(c, port, alpn, NULL);
}

static void tc_open(tc *c, uint16_t port)
{
    static const char *const alpn[] = {"xftp/1", NULL};
    tc_open_alpn(c, port, alpn);
}

static void tc_close(tc *c)
{
    nghttp2_session_del(c->h2);
    sx_tls_conn_free(c->tls);
    sx_net_close(c->fd);
    sx_tls_ctx_free(c->ctx);
    sx_key_free(c->srv_dh);
    free(c->resp);
}

/* Sends one request (body, then gen_len generated bytes) and waits for the
 * whole response. SX_OK or the I/O error. */
static sx_status tc_request_gen(tc *c, const uint8_t *body, size_t body_len, tc_gen gen, void *gen_arg,
                                uint64_t gen_len, const char *extra_header)
{
    c->body = body;
    c->body_len = body_len;
    c->body_pos = 0;
    c->gen = gen;
    c->gen_arg = gen_arg;
    c->gen_len = gen_len;
    c->gen_pos = 0;
    c->done = false;
    c->status = 0;
    c->resp_len = 0;
    c->sunk = 0;
    c->cors = false;
    c->ctype[0] = 0;
    const char *method = c->method ? c->method : "POST", *path = c->path ? c->path : "/";
    nghttp2_nv nv[5] = {
        {(uint8_t *)":method", (uint8_t *)(uintptr_t)method, 7, strlen(method), 0},
        {(uint8_t *)":scheme", (uint8_t *)"https", 7, 5, 0},
        {(uint8_t *)":authority", (uint8_t *)"localhost", 10, 9, 0},
        {(uint8_t *)":path", (uint8_t *)(uintptr_t)path, 5, strlen(path), 0},
        {(uint8_t *)(uintptr_t)extra_header, (uint8_t *)"1", extra_header ? strlen(extra_header) : 0, 1, 0},
    };
    nghttp2_data_provider dp = {.source = {.ptr = NULL}, .read_callback = tc_read_cb};
    bool has_body = body_len > 0 || gen_len > 0;
    int32_t id = nghttp2_submit_request(c->h2, NULL, nv, extra_header ? 5 : 4, has_body ? &dp : NULL, c);
    assert_true(id > 0);
    c->stream = id;
    while (!c->done) {
        for (;;) {
            const uint8_t *p;
            ssize_t n = nghttp2_session_mem_send(c->h2, &p);
            if (n < 0)
                return SX_E_PROTOCOL;
            if (n == 0)
                break;
            SX_TRY(sx_tls_write_full(c->tls, p, (size_t)n, 20000));
        }
        if (c->done)
            break;
        if (c->paused) { /* paced body: a pause, then the next piece */
            c->paused = false;
            usleep(2000);
            if (nghttp2_session_resume_data(c->h2, id) != 0)
                return SX_E_PROTOCOL;
        } else if (!sx_tls_has_pending(c->tls))
            SX_TRY(sx_net_wait(c->fd, false, 20000));
        uint8_t buf[16384];
        size_t got = 0;
        sx_status st = sx_tls_read(c->tls, buf, sizeof buf, &got);
        if (got > 0 && nghttp2_session_mem_recv(c->h2, buf, got) < 0)
            return SX_E_PROTOCOL;
        if (st != SX_OK && st != SX_E_WOULD_BLOCK)
            return st;
    }
    /* Answered before the whole body went: stop sending it. */
    if ((c->body_pos < c->body_len || c->gen_pos < c->gen_len) &&
        nghttp2_session_get_stream_local_close(c->h2, id) == 0)
        (void)nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    c->defer_at = 0;
    c->pace = c->paced = 0;
    c->paused = false;
    return SX_OK;
}

static sx_status tc_request(tc *c, const uint8_t *body, size_t len)
{
    return tc_request_gen(c, body, len, NULL, NULL, 0, NULL);
}

/* Chunk bytes generated from memory. */
static void mem_gen(void *arg, uint64_t off, uint8_t *p, size_t n)
{
    memcpy(p, (const uint8_t *)arg + off, n);
}

/* ---- handshake ---- */

static void tc_handshake(tc *c, uint16_t version)
{
    assert_ok(tc_request(c, NULL, 0));
    assert_int_equal(c->status, 200);
    assert_int_equal(c->resp_len, BLK);
    sx_slice content;
    assert_ok(sx_unpad(sx_slice_of(c->resp, c->resp_len), &content));
    sx_xftp_server_hello h;
    assert_ok(sx_xftp_server_hello_decode(content, &h));
    assert_int_equal(h.range.min, 1);
    assert_int_equal(h.range.max, 3);
    assert_int_equal(h.session_id.len, c->sid_len);
    assert_memory_equal(h.session_id.ptr, c->sid, c->sid_len);
    assert_int_equal(h.cert_key.chain_len, 2);
    uint8_t fp[32];
    assert_ok(sx_x509_fingerprint_der(h.cert_key.chain[1], fp));
    assert_memory_equal(fp, g_identity, 32);
    X509 *leaf = NULL;
    sx_key *leaf_key = NULL;
    assert_ok(sx_x509_from_der(h.cert_key.chain[0], &leaf));
    assert_ok(sx_x509_public_key(leaf, &leaf_key));
    sx_key_free(c->srv_dh);
    c->srv_dh = NULL;
    assert_ok(sx_x509_signed_key_verify(h.cert_key.signed_key, leaf_key, SX_KEY_BIT(SX_KEY_X25519), &c->srv_dh));
    sx_key_free(leaf_key);
    X509_free(leaf);

    uint8_t hs[64], block[BLK];
    sx_writer w;
    sx_writer_init_fixed(&w, hs, sizeof hs);
    sx_xftp_client_handshake ch = {version, sx_slice_of(g_identity, 32)};
    assert_true(sx_xftp_client_handshake_write(&w, &ch));
    assert_ok(sx_pad(sx_writer_slice(&w), block, BLK));
    assert_ok(tc_request(c, block, BLK));
    assert_int_equal(c->status, 200);
    assert_int_equal(c->resp_len, 0);
    c->v = version;
}

/* ---- commands ---- */

typedef struct keypair {
    sx_key *k;
    uint8_t der[SX_KEY_SPKI_MAX];
    size_t der_len;
} keypair;

static void kp_new(keypair *kp, sx_key_alg alg)
{
    assert_ok(sx_key_generate(alg, &kp->k));
    sx_writer w;
    sx_writer_init_fixed(&w, kp->der, sizeof kp->der);
    assert_true(sx_key_write_public(&w, kp->k));
    kp->der_len = w.len;
}

static sx_smp_pubkey kp_pub(const keypair *kp)
{
    sx_smp_pubkey p = {sx_slice_of(kp->der, kp->der_len), sx_key_alg_of(kp->k)};
    return p;
}

/* Builds a signed (or authenticator) request block. */
static void make_block(tc *c, const keypair *signer, sx_slice sid, sx_slice entity, const sx_xftp_cmd *cmd,
                       uint8_t block[BLK])
{
    uint8_t cb[8192], ab[8192], tb[BLK], auth[SX_CB_AUTH_LEN + 64];
    size_t auth_len = 0;
    sx_writer w;
    sx_writer_init_fixed(&w, cb, sizeof cb);
    assert_true(sx_xftp_cmd_write(&w, c->v, cmd));
    sx_slice command = sx_writer_slice(&w);
    sx_slice corr = sx_slice_of(NULL, 0);
    if (signer) {
        sx_writer aw;
        sx_writer_init_fixed(&aw, ab, sizeof ab);
        assert_true(sx_xftp_write_auth_bytes(&aw, sid, corr, entity, command));
        if (sx_key_alg_of(signer->k) == SX_KEY_X25519) {
            uint8_t secret[32], nonce[SX_CB_NONCE_LEN];
            size_t n;
            assert_ok(sx_key_dh(signer->k, c->srv_dh, secret, sizeof secret, &n));
            sx_cb_nonce(corr, nonce);
            assert_ok(sx_cb_authenticate(secret, nonce, sx_writer_slice(&aw), auth));
            auth_len = SX_CB_AUTH_LEN;
        } else {
            assert_ok(sx_key_sign(signer->k, sx_writer_slice(&aw), auth, sizeof auth, &auth_len));
        }
    }
    sx_xftp_transmission t = {0};
    t.auth = sx_slice_of(auth, auth_len);
    t.session_id = sid;
    t.corr_id = corr;
    t.entity_id = entity;
    t.command = command;
    sx_writer tw;
    sx_writer_init_fixed(&tw, tb, sizeof tb);
    assert_true(sx_xftp_transmission_write(&tw, &t));
    assert_ok(sx_xftp_block_encode(sx_writer_slice(&tw), block));
}

/* The decoded response of the last request (its block). */
static sx_xftp_resp_tag tc_reply(tc *c, sx_xftp_reply *r)
{
    assert_int_equal(c->status, 200);
    assert_true(c->resp_len >= BLK);
    sx_slice tr;
    assert_ok(sx_xftp_block_decode(sx_slice_of(c->resp, BLK), &tr));
    sx_status st = sx_xftp_reply_decode(tr, c->v, sx_slice_of(c->sid, c->sid_len), r);
    if (st != SX_OK) {
        r->resp.tag = SX_XFTP_R_ERR;
        r->resp.err = r->err;
    }
    return r->resp.tag;
}

static sx_xftp_err_type tc_err(tc *c)
{
    sx_xftp_reply r;
    assert_int_equal(tc_reply(c, &r), SX_XFTP_R_ERR);
    return r.resp.err.type;
}

static sx_xftp_resp_tag cmd_simple(tc *c, const keypair *signer, sx_slice entity, const sx_xftp_cmd *cmd,
                                   sx_xftp_reply *r)
{
    uint8_t block[BLK];
    make_block(c, signer, sx_slice_of(c->sid, c->sid_len), entity, cmd, block);
    assert_ok(tc_request(c, block, BLK));
    return tc_reply(c, r);
}

typedef struct file_ids {
    uint8_t sid[16];
    uint8_t rid[4][16];
    size_t n_rid;
} file_ids;

static sx_xftp_resp_tag do_fnew(tc *c, const keypair *snd, const keypair *rcv, size_t n_rcv, uint32_t size,
                                const uint8_t digest[32], file_ids *ids)
{
    uint8_t items[1024];
    sx_writer w;
    sx_writer_init_fixed(&w, items, sizeof items);
    for (size_t i = 0; i < n_rcv; i++) {
        sx_smp_pubkey p = kp_pub(&rcv[i]);
        assert_true(sx_smp_write_pubkey(&w, SX_KEY_AUTH_ALGS, &p));
    }
    sx_xftp_cmd cmd = {0};
    cmd.tag = SX_XFTP_C_FNEW;
    cmd.fnew.file.snd_key = kp_pub(snd);
    cmd.fnew.file.size = size;
    cmd.fnew.file.digest = sx_slice_of(digest, 32);
    cmd.fnew.rcv_keys.count = n_rcv;
    cmd.fnew.rcv_keys.items = sx_writer_slice(&w);
    sx_xftp_reply r;
    sx_xftp_resp_tag tag = cmd_simple(c, snd, sx_slice_of(NULL, 0), &cmd, &r);
    if (tag == SX_XFTP_R_SIDS) {
        assert_int_equal(r.resp.sids.sender_id.len, 16);
        memcpy(ids->sid, r.resp.sids.sender_id.ptr, 16);
        assert_int_equal(r.resp.sids.rcv_ids.count, n_rcv);
        ids->n_rid = n_rcv;
        for (size_t i = 0; i < n_rcv; i++) {
            sx_slice id;
            assert_ok(sx_xftp_ids_get(&r.resp.sids.rcv_ids, i, &id));
            assert_int_equal(id.len, 16);
            memcpy(ids->rid[i], id.ptr, 16);
        }
    }
    return tag;
}

/* FPUT with body_len generated bytes; returns the reply tag. */
static sx_xftp_resp_tag do_fput(tc *c, const keypair *snd, const uint8_t sid[16], tc_gen gen, void *arg,
                                uint64_t body_len, sx_xftp_reply *r)
{
    sx_xftp_cmd cmd = {0};
    cmd.tag = SX_XFTP_C_FPUT;
    uint8_t block[BLK];
    make_block(c, snd, sx_slice_of(c->sid, c->sid_len), sx_slice_of(sid, 16), &cmd, block);
    assert_ok(tc_request_gen(c, block, BLK, gen, arg, body_len, NULL));
    return tc_reply(c, r);
}

typedef struct dl {
    sx_xftp_sb sb;
    sx_hash_ctx h;
    uint64_t size, got;
    uint8_t tag[16];
    size_t tag_len;
} dl;

static void dl_sink(void *arg, const uint8_t *p, size_t n)
{
    dl *d = arg;
    uint8_t buf[16384];
    while (n > 0) {
        if (d->got < d->size) {
            size_t k = n;
            if (k > d->size - d->got)
                k = (size_t)(d->size - d->got);
            if (k > sizeof buf)
                k = sizeof buf;
            assert_ok(sx_xftp_sb_decrypt(&d->sb, sx_slice_of(p, k), buf));
            assert_ok(sx_hash_update(&d->h, sx_slice_of(buf, k)));
            d->got += k;
            p += k;
            n -= k;
        } else {
            assert_true(d->tag_len + n <= 16);
            memcpy(d->tag + d->tag_len, p, n);
            d->tag_len += n;
            n = 0;
        }
    }
}

/* FGET with a fresh DH key; the stream is decrypted and hashed on the fly.
 * Returns the reply tag; on FILE checks the tag and the SHA-256. */
static sx_xftp_resp_tag do_fget(tc *c, const keypair *rcv, const uint8_t rid[16], uint32_t size,
                                const uint8_t digest[32])
{
    keypair dh;
    kp_new(&dh, SX_KEY_X25519);
    sx_xftp_cmd cmd = {0};
    cmd.tag = SX_XFTP_C_FGET;
    cmd.dh_key = kp_pub(&dh);
    uint8_t block[BLK];
    make_block(c, rcv, sx_slice_of(c->sid, c->sid_len), sx_slice_of(rid, 16), &cmd, block);
    dl *d = calloc(1, sizeof *d);
    assert_non_null(d);
    d->size = size;
    assert_ok(sx_hash_init(&d->h, SX_HASH_SHA256));
    assert_ok(tc_request(c, block, BLK));
    sx_xftp_reply r;
    sx_xftp_resp_tag tag = tc_reply(c, &r);
    if (tag == SX_XFTP_R_FILE) {
        assert_int_equal(c->resp_len, (size_t)BLK + size + 16);
        sx_key *srv = NULL;
        assert_ok(sx_key_decode_public(r.resp.file.dh_key.der, SX_KEY_BIT(SX_KEY_X25519), &srv));
        uint8_t secret[32];
        size_t n;
        assert_ok(sx_key_dh(dh.k, srv, secret, sizeof secret, &n));
        sx_key_free(srv);
        assert_int_equal(r.resp.file.nonce.len, 24);
        assert_ok(sx_xftp_sb_init(&d->sb, secret, r.resp.file.nonce.ptr));
        dl_sink(d, c->resp + BLK, c->resp_len - BLK);
        assert_int_equal(d->tag_len, 16);
        assert_ok(sx_xftp_sb_verify(&d->sb, sx_slice_of(d->tag, 16)));
        uint8_t h[32];
        assert_ok(sx_hash_final(&d->h, h, sizeof h));
        assert_memory_equal(h, digest, 32);
    }
    sx_hash_cleanup(&d->h);
    free(d);
    sx_key_free(dh.k);
    return tag;
}

static sx_xftp_resp_tag do_simple(tc *c, const keypair *k, sx_xftp_cmd_tag t, const uint8_t id[16],
                                  sx_xftp_reply *r)
{
    sx_xftp_cmd cmd = {0};
    cmd.tag = t;
    return cmd_simple(c, k, sx_slice_of(id, id ? 16 : 0), &cmd, r);
}

/* ---- server fixture ---- */

typedef struct fx {
    char dir[256];
    char files[300];
    char log[300];
    sx_xftp_server_opts o;
    sx_xftp_server *s;
    uint16_t port;
    int64_t timeout_ms;
    bool web;
    bool control;
    unsigned pending_limit; /* > 0: max_pending_per_addr, loopback counted */
    bool stats; /* [STORE_LOG] log_stats: stats.daily.log, stats.log in dir */
    char stats_daily[300];
    char stats_backup[300];
    int64_t inactive_ttl; /* > 0: [INACTIVE_CLIENTS] on, checked every second */
    char web_cert[300];
    char web_key[300];
    char web_root[300];
} fx;

static void fx_start(fx *f, int64_t quota, bool store_log)
{
    if (!f->dir[0]) {
        snprintf(f->dir, sizeof f->dir, "/tmp/sx_xftp_itest_XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->files, sizeof f->files, "%s/files", f->dir);
        snprintf(f->log, sizeof f->log, "%s/file-server-store.log", f->dir);
    }
    memset(&f->o, 0, sizeof f->o);
    f->o.cert_file = tu_data_path("fixtures/server.crt");
    static char ca[512], key[512], crt[512];
    snprintf(crt, sizeof crt, "%s", tu_data_path("fixtures/server.crt"));
    snprintf(ca, sizeof ca, "%s", tu_data_path("fixtures/ca.crt"));
    snprintf(key, sizeof key, "%s", tu_data_path("fixtures/server.key"));
    f->o.cert_file = crt;
    f->o.ca_file = ca;
    f->o.key_file = key;
    f->o.host = "127.0.0.1";
    f->o.workers = 2;
    f->o.files_dir = f->files;
    f->o.quota = quota;
    f->o.store_log_path = store_log ? f->log : NULL;
    f->o.new_files = true;
    f->o.quiet = true;
    f->o.file_timeout_ms = f->timeout_ms;
    f->o.inactive_disconnect = f->inactive_ttl > 0;
    f->o.inactive_ttl = f->inactive_ttl;
    f->o.inactive_check_interval = 1;
    f->o.has_control_port = f->control;
    f->o.max_pending_per_addr = f->pending_limit;
    f->o.limit_loopback = f->pending_limit > 0;
    if (f->stats) {
        snprintf(f->stats_daily, sizeof f->stats_daily, "%s/file-server-stats.daily.log", f->dir);
        snprintf(f->stats_backup, sizeof f->stats_backup, "%s/file-server-stats.log", f->dir);
        f->o.stats_log_path = f->stats_daily;
        f->o.stats_backup_path = f->stats_backup;
    }
    f->o.control_admin_password = "adm1n";
    f->o.control_user_password = "us3r";
    if (f->web) {
        f->o.web_cert_file = f->web_cert;
        f->o.web_key_file = f->web_key[0] ? f->web_key : key;
        f->o.web_static_path = f->web_root;
    }
    assert_ok(sx_xftp_server_start(&f->o, &f->s));
    f->port = sx_xftp_server_port(f->s);
    assert_true(f->port > 0);
}

static void fx_stop(fx *f)
{
    sx_xftp_server_stop(f->s);
    f->s = NULL;
}

static void fx_cleanup(fx *f)
{
    fx_stop(f);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
}

static void load_identity(void)
{
    if (g_identity)
        return;
    X509 *ca = NULL;
    assert_ok(sx_x509_read_cert_file(tu_data_path("fixtures/ca.crt"), &ca));
    assert_ok(sx_x509_fingerprint(ca, g_identity_buf));
    X509_free(ca);
    g_identity = g_identity_buf;
}

static void random_chunk(uint8_t *p, size_t n, uint8_t digest[32])
{
    sx_random_bytes(p, n);
    assert_ok(sx_sha256(sx_slice_of(p, n), digest));
}

/* ---- tests ---- */

/* PROTOCOL-NOTES T9 in full. */
static void test_t9(void **state)
{
    (void)state;
    load_identity();
    fx f = {0};
    fx_start(&f, 0, false);
    tc c;
    tc_open(&c, f.port);
    tc_handshake(&c, 3);
    keypair snd, rcv;
    kp_new(&snd, SX_KEY_ED25519);
    kp_new(&rcv, SX_KEY_ED25519);
    size_t size = SX_XFTP_CHUNK_64K;
    uint8_t *chunk = malloc(size), digest[32];
    random_chunk(chunk, size, digest);
    file_ids ids;
    assert_int_equal(do_fnew(&c, &snd, &rcv, 1, (uint32_t)size, digest, &ids), SX_XFTP_R_SIDS);
    sx_xftp_reply r;
    /* wrong digest: change a byte of the body */
    chunk[100] ^= 1;
    assert_int_equal(do_fput(&c, &snd, ids.sid, mem_gen, chunk, size, &r), SX_XFTP_R_ERR);
    assert_int_equal(r.resp.err.type, SX_XFTP_ERR_DIGEST);
    chunk[100] ^= 1;
    assert_int_equal(do_fput(&c, &snd, ids.sid, mem_gen, chunk, size, &r), SX_XFTP_R_OK);
    assert_int_equal(do_fput(&c, &snd, ids.sid, mem_gen, chunk, size, &r), SX_XFTP_R_OK);
    assert_int_equal(do_fget(&c, &rcv, ids.rid[0], (uint32_t)size, digest), SX_XFTP_R_FILE);
    /* a second download works too (fresh key and nonce) */
    assert_int_equal(do_fget(&c, &rcv, ids.rid[0], (uint32_t)size, digest), SX_XFTP_R_FILE);
    assert_int_equal(do_simple(&c, &rcv, SX_XFTP_C_FACK, ids.rid[0], &r), SX_XFTP_R_OK);
    /* acknowledged: that recipient id is gone */
    assert_int_equal(do_fget(&c, &rcv, ids.rid[0], (uint32_t)size, digest), SX_XFTP_R_ERR);
    assert_int_equal(do_simple(&c, &snd, SX_XFTP_C_FDEL, ids.sid, &r), SX_XFTP_R_OK);
    assert_int_equal(do_simple(&c, &snd, SX_XFTP_C_FDEL, ids.sid, &r), SX_XFTP_R_ERR);
    assert_int_equal(r.resp.err.type, SX_XFTP_ERR_AUTH);
    /* FGET after FDEL */
    file_ids ids2;
    assert_int_equal(do_fnew(&c, &snd, &rcv, 1, (uint32_t)size, digest, &ids2), SX_XFTP_R_SIDS);
    assert_int_equal(do_fput(&c, &snd, ids2.sid, mem_gen, chunk, size, &r), SX_XFTP_R_OK);
    assert_int_equal(do_simple(&c, &snd, SX_XFTP_C_FDEL, ids2.sid, &r), SX_XFTP_R_OK);
    assert_int_equal(do_fget(&c, &rcv, ids2.rid[0], (uint32_t)size, digest), SX_XFTP_R_ERR);
    assert_int_equal(tc_err(&c), SX_XFTP_ERR_AUTH);
    /* disallowed size */
    assert_int_equal(do_fnew(&c, &snd, &rcv, 1, 100000, digest, &ids), SX_XFTP_R_ERR);
    assert_int_equal(tc_err(&c), SX_XFTP_ERR_SIZE);
    /* PING */
    assert_int_equal(do_simple(&c, NULL, SX_XFTP_C_PING, NULL, &r), SX_XFTP_R_PONG);
    sx_key_free(snd.k);
    sx_key_free(rcv.k);
    free(chunk);
    tc_close(&c);
    fx_cleanup(&f);
}

/* The kit's limit on connections per address that have not finished the
 * handshake (2 here, loopback counted): a connection whose XFTP handshake is
 * done does not count, a third unfinished one is closed at once, and one
 * that leaves makes room again. */
static void test_pending_per_address(void **state)
{
    (void)state;
    load_identity();
    fx f = {0};
    f.pending_limit = 2;
    fx_start(&f, 0, false);
    tc a, b;
    tc_open(&a, f.port);
    tc_handshake(&a, 3);
    int fd1, fd2, fd3;
    assert_ok(sx_net_connect("127.0.0.1", f.port, 2000, &fd1));
    assert_ok(sx_net_connect("127.0.0.1", f.port, 2000, &fd2));
    usleep(100 * 1000);
    assert_ok(sx_net_connect("127.0.0.1", f.port, 2000, &fd3));
    char ch;
    assert_ok(sx_net_wait(fd3, false, 2000));
    assert_int_equal(read(fd3, &ch, 1), 0); /* closed at once */
    sx_net_close(fd1);
    usleep(100 * 1000);
    tc_open(&b, f.port);
    tc_handshake(&b, 3);
    sx_xftp_reply r;
    assert_int_equal(do_simple(&a, NULL, SX_XFTP_C_PING, NULL, &r), SX_XFTP_R_PONG);
    assert_int_equal(do_simple(&b, NULL, SX_XFTP_C_PING, NULL, &r), SX_XFTP_R_PONG);
    tc_close(&a);
    tc_close(&b);
    sx_net_close(fd2);
    sx_net_close(fd3);
    fx_cleanup(&f);
}

/* Wrong body sizes, NO_FILE, FADD, bad auth, X25519 authenticators. */
static void test_commands(void **state)
{
    (void)state;
    load_identity();
    fx f = {0};
    fx_start(&f, 0, false);
    tc c;
    tc_open(&c, f.port);
    tc_handshake(&c, 3);
    keypair snd, rcv, other;
    kp_new(&snd, SX_KEY_ED25519);
    kp_new(&rcv, SX_KEY_ED448);
    kp_new(&other, SX_KEY_ED25519);
    size_t size = SX_XFTP_CHUNK_64K;
    uint8_t *chunk = malloc(size + 10), digest[32];
    random_chunk(chunk, size, digest);
    file_ids ids;
    sx_xftp_reply r;
    assert_int_equal(do_fnew(&c, &snd, &rcv, 1, (uint32_t)size, digest, &ids), SX_XFTP_R_SIDS);
    /* not uploaded yet */
    assert_int_equal(do_fget(&c, &rcv, ids.rid[0], (uint32_t)size, digest), SX_XFTP_R_ERR);
    assert_int_equal(tc_err(&c), SX_XFTP_ERR_NO_FILE);
    /* short, long and missing bodies */
    assert_int_equal(do_fput(&c, &snd, ids.sid, mem_gen, chunk, size - 1, &r), SX_XFTP_R_ERR);
    assert_int_equal(r.resp.err.type, SX_XFTP_ERR_SIZE);
    assert_int_equal(do_fput(&c, &snd, ids.sid, mem_gen, chunk, size + 10, &r), SX_XFTP_R_ERR);
    assert_int_equal(r.resp.err.type, SX_XFTP_ERR_SIZE);
    assert_int_equal(do_fput(&c, &snd, ids.sid, mem_gen, chunk, 0, &r), SX_XFTP_R_ERR);
    assert_int_equal(r.resp.err.type, SX_XFTP_ERR_SIZE);
    /* wrong key */
    assert_int_equal(do_fput(&c, &other, ids.sid, mem_gen, chunk, size, &r), SX_XFTP_R_ERR);
    assert_int_equal(r.resp.err.type, SX_XFTP_ERR_AUTH);
    /* unknown id */
    uint8_t unknown[16] = {1, 2, 3};
    assert_int_equal(do_simple(&c, &snd, SX_XFTP_C_FDEL, unknown, &r), SX_XFTP_R_ERR);
    assert_int_equal(r.resp.err.type, SX_XFTP_ERR_AUTH);
    assert_int_equal(do_fput(&c, &snd, ids.sid, mem_gen, chunk, size, &r), SX_XFTP_R_OK);
    /* a repeated FPUT with the wrong length */
    assert_int_equal(do_fput(&c, &snd, ids.sid, mem_gen, chunk, size - 5, &r), SX_XFTP_R_ERR);
    assert_int_equal(r.resp.err.type, SX_XFTP_ERR_SIZE);
    /* FADD: two more recipients (Ed25519 and X25519 keys) */
    keypair r2, r3;
    kp_new(&r2, SX_KEY_ED25519);
    kp_new(&r3, SX_KEY_X25519);
    uint8_t items[512];
    sx_writer w;
    sx_writer_init_fixed(&w, items, sizeof items);
    sx_smp_pubkey p2 = kp_pub(&r2), p3 = kp_pub(&r3);
    assert_true(sx_smp_write_pubkey(&w, SX_KEY_AUTH_ALGS, &p2));
    assert_true(sx_smp_write_pubkey(&w, SX_KEY_AUTH_ALGS, &p3));
    sx_xftp_cmd cmd = {0};
    cmd.tag = SX_XFTP_C_FADD;
    cmd.rcv_keys.count = 2;
    cmd.rcv_keys.items = sx_writer_slice(&w);
    assert_int_equal(cmd_simple(&c, &snd, sx_slice_of(ids.sid, 16), &cmd, &r), SX_XFTP_R_RIDS);
    assert_int_equal(r.resp.rcv_ids.count, 2);
    uint8_t rid2[16], rid3[16];
    sx_slice id;
    assert_ok(sx_xftp_ids_get(&r.resp.rcv_ids, 0, &id));
    memcpy(rid2, id.ptr, 16);
    assert_ok(sx_xftp_ids_get(&r.resp.rcv_ids, 1, &id));
    memcpy(rid3, id.ptr, 16);
    assert_int_equal(do_fget(&c, &rcv, ids.rid[0], (uint32_t)size, digest), SX_XFTP_R_FILE);
    assert_int_equal(do_fget(&c, &r2, rid2, (uint32_t)size, digest), SX_XFTP_R_FILE);
    /* X25519 authenticator with the session key */
    assert_int_equal(do_fget(&c, &r3, rid3, (uint32_t)size, digest), SX_XFTP_R_FILE);
    assert_int_equal(do_simple(&c, &r3, SX_XFTP_C_FACK, rid3, &r), SX_XFTP_R_OK);
    /* a sender with an X25519 key */
    keypair xs;
    kp_new(&xs, SX_KEY_X25519);
    file_ids ids3;
    assert_int_equal(do_fnew(&c, &xs, &r2, 1, (uint32_t)size, digest, &ids3), SX_XFTP_R_SIDS);
    assert_int_equal(do_fput(&c, &xs, ids3.sid, mem_gen, chunk, size, &r), SX_XFTP_R_OK);
    assert_int_equal(do_fget(&c, &r2, ids3.rid[0], (uint32_t)size, digest), SX_XFTP_R_FILE);
    /* the authenticator of another key fails */
    keypair xs2;
    kp_new(&xs2, SX_KEY_X25519);
    assert_int_equal(do_simple(&c, &xs2, SX_XFTP_C_FDEL, ids3.sid, &r), SX_XFTP_R_ERR);
    assert_int_equal(r.resp.err.type, SX_XFTP_ERR_AUTH);
    assert_int_equal(do_simple(&c, &xs, SX_XFTP_C_FDEL, ids3.sid, &r), SX_XFTP_R_OK);
    sx_key_free(xs.k);
    sx_key_free(xs2.k);
    sx_key_free(r2.k);
    sx_key_free(r3.k);
    sx_key_free(snd.k);
    sx_key_free(rcv.k);
    sx_key_free(other.k);
    free(chunk);
    tc_close(&c);
    fx_cleanup(&f);
}

/* Handshake errors, SESSION, malformed blocks, requests outside XFTP. */
static void test_protocol_errors(void **state)
{
    (void)state;
    load_identity();
    fx f = {0};
    fx_start(&f, 0, false);
    keypair snd, rcv;
    kp_new(&snd, SX_KEY_ED25519);
    kp_new(&rcv, SX_KEY_ED25519);
    uint8_t digest[32] = {0}, block[BLK];
    sx_slice content;

    /* a command before the hello */
    tc c;
    tc_open(&c, f.port);
    sx_xftp_cmd ping = {0};
    ping.tag = SX_XFTP_C_PING;
    make_block(&c, NULL, sx_slice_of(c.sid, c.sid_len), sx_slice_of(NULL, 0), &ping, block);
    assert_ok(tc_request(&c, block, BLK));
    assert_int_equal(c.resp_len, BLK);
    assert_ok(sx_unpad(sx_slice_of(c.resp, BLK), &content));
    assert_int_equal(content.len, 9);
    assert_memory_equal(content.ptr, "HANDSHAKE", 9);
    tc_close(&c);

    /* a client handshake with the wrong key hash, then with a bad version */
    tc_open(&c, f.port);
    assert_ok(tc_request(&c, NULL, 0));
    uint8_t hs[64];
    uint8_t bad[32] = {0};
    sx_writer w;
    sx_writer_init_fixed(&w, hs, sizeof hs);
    sx_xftp_client_handshake ch = {3, sx_slice_of(bad, 32)};
    assert_true(sx_xftp_client_handshake_write(&w, &ch));
    assert_ok(sx_pad(sx_writer_slice(&w), block, BLK));
    assert_ok(tc_request(&c, block, BLK));
    assert_ok(sx_unpad(sx_slice_of(c.resp, BLK), &content));
    assert_memory_equal(content.ptr, "HANDSHAKE", 9);
    sx_writer_init_fixed(&w, hs, sizeof hs);
    ch.version = 9;
    ch.key_hash = sx_slice_of(g_identity, 32);
    assert_true(sx_xftp_client_handshake_write(&w, &ch));
    assert_ok(sx_pad(sx_writer_slice(&w), block, BLK));
    assert_ok(tc_request(&c, block, BLK));
    assert_ok(sx_unpad(sx_slice_of(c.resp, BLK), &content));
    assert_memory_equal(content.ptr, "HANDSHAKE", 9);
    tc_close(&c);

    /* after a good handshake at version 1 */
    tc_open(&c, f.port);
    tc_handshake(&c, 1);
    sx_xftp_reply r;
    assert_int_equal(do_simple(&c, NULL, SX_XFTP_C_PING, NULL, &r), SX_XFTP_R_PONG);
    tc_close(&c);

    tc_open(&c, f.port);
    tc_handshake(&c, 3);
    /* bad session id */
    uint8_t wrong_sid[32];
    memset(wrong_sid, 7, sizeof wrong_sid);
    make_block(&c, NULL, sx_slice_of(wrong_sid, 32), sx_slice_of(NULL, 0), &ping, block);
    assert_ok(tc_request(&c, block, BLK));
    assert_int_equal(tc_err(&c), SX_XFTP_ERR_SESSION);
    /* random bytes as a block, and a short body */
    sx_random_bytes(block, BLK);
    assert_ok(tc_request(&c, block, BLK));
    assert_int_equal(tc_err(&c), SX_XFTP_ERR_BLOCK);
    assert_ok(tc_request(&c, block, 100));
    assert_int_equal(tc_err(&c), SX_XFTP_ERR_BLOCK);
    /* two transmissions in one block */
    uint8_t two[8] = {0x02, 0x00, 0x01, 0x00, 0x00, 0x01, 0x00};
    assert_ok(sx_pad(sx_slice_of(two, sizeof two), block, BLK));
    assert_ok(tc_request(&c, block, BLK));
    assert_int_equal(tc_err(&c), SX_XFTP_ERR_BLOCK);
    /* unknown command */
    sx_xftp_transmission t = {0};
    uint8_t tb[256];
    t.session_id = sx_slice_of(c.sid, c.sid_len);
    t.command = sx_slice_of("NOPE", 4);
    sx_writer_init_fixed(&w, tb, sizeof tb);
    assert_true(sx_xftp_transmission_write(&w, &t));
    assert_ok(sx_xftp_block_encode(sx_writer_slice(&w), block));
    assert_ok(tc_request(&c, block, BLK));
    assert_int_equal(tc_err(&c), SX_XFTP_ERR_CMD);
    /* FNEW with an invalid signature */
    file_ids ids;
    keypair k2;
    kp_new(&k2, SX_KEY_ED25519);
    uint8_t items[128];
    sx_writer_init_fixed(&w, items, sizeof items);
    sx_smp_pubkey rp = kp_pub(&rcv);
    assert_true(sx_smp_write_pubkey(&w, SX_KEY_AUTH_ALGS, &rp));
    sx_xftp_cmd cmd = {0};
    cmd.tag = SX_XFTP_C_FNEW;
    cmd.fnew.file.snd_key = kp_pub(&snd);
    cmd.fnew.file.size = SX_XFTP_CHUNK_64K;
    cmd.fnew.file.digest = sx_slice_of(digest, 32);
    cmd.fnew.rcv_keys.count = 1;
    cmd.fnew.rcv_keys.items = sx_writer_slice(&w);
    assert_int_equal(cmd_simple(&c, &k2, sx_slice_of(NULL, 0), &cmd, &r), SX_XFTP_R_ERR);
    assert_int_equal(r.resp.err.type, SX_XFTP_ERR_AUTH);
    /* still serving */
    assert_int_equal(do_fnew(&c, &snd, &rcv, 1, SX_XFTP_CHUNK_64K, digest, &ids), SX_XFTP_R_SIDS);
    tc_close(&c);

    /* h2 without SNI: 200 with an empty body */
    static const char *const h2[] = {"h2", NULL};
    tc_open_alpn(&c, f.port, h2);
    assert_ok(tc_request(&c, block, BLK));
    assert_int_equal(c.status, 200);
    assert_int_equal(c.resp_len, 0);
    tc_close(&c);

    /* no ALPN: version 1 commands without a handshake */
    tc_open_alpn(&c, f.port, NULL);
    assert_int_equal(do_simple(&c, NULL, SX_XFTP_C_PING, NULL, &r), SX_XFTP_R_PONG);
    assert_int_equal(do_fnew(&c, &snd, &rcv, 1, SX_XFTP_CHUNK_64K, digest, &ids), SX_XFTP_R_SIDS);
    tc_close(&c);

    sx_key_free(k2.k);
    sx_key_free(snd.k);
    sx_key_free(rcv.k);
    fx_cleanup(&f);
}

/* Quota, expiry, restart with the store log. */
static void test_quota_expiry_restart(void **state)
{
    (void)state;
    load_identity();
    fx f = {0};
    fx_start(&f, SX_XFTP_CHUNK_64K + 1000, true);
    tc c;
    tc_open(&c, f.port);
    tc_handshake(&c, 3);
    keypair snd, rcv;
    kp_new(&snd, SX_KEY_ED25519);
    kp_new(&rcv, SX_KEY_ED25519);
    size_t size = SX_XFTP_CHUNK_64K;
    uint8_t *chunk = malloc(size), digest[32];
    random_chunk(chunk, size, digest);
    file_ids a, b;
    sx_xftp_reply r;
    assert_int_equal(do_fnew(&c, &snd, &rcv, 1, (uint32_t)size, digest, &a), SX_XFTP_R_SIDS);
    assert_int_equal(do_fnew(&c, &snd, &rcv, 1, (uint32_t)size, digest, &b), SX_XFTP_R_SIDS);
    assert_int_equal(do_fput(&c, &snd, a.sid, mem_gen, chunk, size, &r), SX_XFTP_R_OK);
    assert_int_equal(do_fput(&c, &snd, b.sid, mem_gen, chunk, size, &r), SX_XFTP_R_ERR);
    assert_int_equal(r.resp.err.type, SX_XFTP_ERR_QUOTA);
    char path[600];
    struct stat sb;
    tc_close(&c);

    /* restart: a is still downloadable. The used storage is recomputed
     * from the stored chunks only: a counts, b (announced, refused, never
     * uploaded) does not, so b fits beside a under a quota of two chunks.
     * The reference's countUsedStorage counts every record, a and b, and
     * would refuse b until one of them is deleted or expires. */
    fx_stop(&f);
    /* an upload interrupted by a crash leaves a part file: removed at start,
     * while the chunk files stay */
    char part[700];
    snprintf(part, sizeof part, "%s/.part/AAAAAAAAAAAAAAAAAAAAAA==.1.1", f.files);
    FILE *pf = fopen(part, "w");
    assert_non_null(pf);
    fputs("partial", pf);
    fclose(pf);
    fx_start(&f, 2 * SX_XFTP_CHUNK_64K + 1000, true);
    assert_int_not_equal(stat(part, &sb), 0);
    tc_open(&c, f.port);
    tc_handshake(&c, 3);
    assert_int_equal(do_fget(&c, &rcv, a.rid[0], (uint32_t)size, digest), SX_XFTP_R_FILE);
    assert_int_equal(do_fput(&c, &snd, b.sid, mem_gen, chunk, size, &r), SX_XFTP_R_OK);
    assert_int_equal(do_fget(&c, &rcv, b.rid[0], (uint32_t)size, digest), SX_XFTP_R_FILE);
    /* both stored: a third chunk does not fit until one is deleted */
    file_ids d;
    assert_int_equal(do_fnew(&c, &snd, &rcv, 1, (uint32_t)size, digest, &d), SX_XFTP_R_SIDS);
    assert_int_equal(do_fput(&c, &snd, d.sid, mem_gen, chunk, size, &r), SX_XFTP_R_ERR);
    assert_int_equal(r.resp.err.type, SX_XFTP_ERR_QUOTA);
    assert_int_equal(do_simple(&c, &snd, SX_XFTP_C_FDEL, a.sid, &r), SX_XFTP_R_OK);
    assert_int_equal(do_simple(&c, &snd, SX_XFTP_C_FDEL, d.sid, &r), SX_XFTP_R_OK);

    /* expiry: nothing is old now; 49 hours later everything is */
    size_t n = 99;
    assert_ok(sx_xftp_server_expire_now(f.s, (int64_t)time(NULL), &n));
    assert_int_equal(n, 0);
    assert_ok(sx_xftp_server_expire_now(f.s, (int64_t)time(NULL) + 50 * 3600, &n));
    assert_int_equal(n, 1);
    assert_int_equal(do_fget(&c, &rcv, b.rid[0], (uint32_t)size, digest), SX_XFTP_R_ERR);
    assert_int_equal(tc_err(&c), SX_XFTP_ERR_AUTH);
    snprintf(path, sizeof path, "%s", f.files);
    assert_int_equal(stat(path, &sb), 0);
    tc_close(&c);
    sx_key_free(snd.k);
    sx_key_free(rcv.k);
    free(chunk);
    fx_cleanup(&f);
}

/* ---- statistics ---- */

static char *read_all(const char *path)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    char *buf = calloc(1, 65536);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 65535, fp);
    buf[n] = 0;
    fclose(fp);
    return buf;
}

/* Counters move with FNEW/FPUT/FGET/FACK/FDEL, the daily line has them in
 * the reference's column order, and stop/start keeps them in the backup. */
static void test_stats(void **state)
{
    (void)state;
    load_identity();
    fx f = {0};
    f.stats = true;
    fx_start(&f, 0, true);
    int64_t started = (int64_t)time(NULL);
    tc c;
    tc_open(&c, f.port);
    tc_handshake(&c, 3);
    keypair snd, rcv[2];
    kp_new(&snd, SX_KEY_ED25519);
    kp_new(&rcv[0], SX_KEY_ED25519);
    kp_new(&rcv[1], SX_KEY_ED25519);
    size_t size = SX_XFTP_CHUNK_64K;
    uint8_t *chunk = malloc(size), digest[32];
    random_chunk(chunk, size, digest);
    file_ids a, b, d;
    sx_xftp_reply r;
    assert_int_equal(do_fnew(&c, &snd, rcv, 2, (uint32_t)size, digest, &a), SX_XFTP_R_SIDS);
    assert_int_equal(do_fnew(&c, &snd, rcv, 1, (uint32_t)size, digest, &b), SX_XFTP_R_SIDS);
    assert_int_equal(do_fput(&c, &snd, a.sid, mem_gen, chunk, size, &r), SX_XFTP_R_OK);
    assert_int_equal(do_fput(&c, &snd, b.sid, mem_gen, chunk, size, &r), SX_XFTP_R_OK);
    assert_int_equal(do_fget(&c, &rcv[0], a.rid[0], (uint32_t)size, digest), SX_XFTP_R_FILE);
    assert_int_equal(do_fget(&c, &rcv[1], a.rid[1], (uint32_t)size, digest), SX_XFTP_R_FILE);
    assert_int_equal(do_fget(&c, &rcv[0], b.rid[0], (uint32_t)size, digest), SX_XFTP_R_FILE);
    assert_int_equal(do_simple(&c, &rcv[0], SX_XFTP_C_FACK, a.rid[0], &r), SX_XFTP_R_OK);
    assert_int_equal(do_simple(&c, &snd, SX_XFTP_C_FDEL, b.sid, &r), SX_XFTP_R_OK);
    /* a failed command counts nothing */
    assert_int_equal(do_simple(&c, &snd, SX_XFTP_C_FDEL, b.sid, &r), SX_XFTP_R_ERR);

    /* the daily line, at a Tuesday (no week / month counts): date of the
     * start, created, recipients, uploaded, deleted, downloaded files that
     * day, week, month, downloads, acks, count, size, expired */
    const int64_t tuesday = 1704153600; /* 2024-01-02 */
    assert_ok(sx_xftp_server_log_stats_now(f.s, tuesday));
    char *line = read_all(f.stats_daily);
    char date[16], want[128];
    time_t tt = (time_t)started;
    struct tm tm;
    assert_non_null(gmtime_r(&tt, &tm));
    strftime(date, sizeof date, "%Y-%m-%d", &tm);
    snprintf(want, sizeof want, "%s,2,3,2,1,2,,,3,1,1,%zu,0\n", date, size);
    if (tm.tm_hour == 23 && tm.tm_min == 59) /* the day may have turned since */
        assert_non_null(strstr(line, ",2,3,2,1,2,,,3,1,1,"));
    else
        assert_string_equal(line, want);
    free(line);
    /* counters restarted; period sets for week and month kept */
    assert_int_equal(do_fget(&c, &rcv[1], a.rid[1], (uint32_t)size, digest), SX_XFTP_R_FILE);
    tc_close(&c);
    fx_stop(&f);

    /* the backup file written at stop */
    sx_xftp_stats_data sd;
    assert_ok(sx_xftp_stats_load(f.stats_backup, &sd, NULL));
    assert_int_equal(sd.from_time, tuesday);
    assert_int_equal(sd.c[SX_XFTP_STAT_FILES_CREATED], 0);
    assert_int_equal(sd.c[SX_XFTP_STAT_FILE_DOWNLOADS], 1);
    assert_int_equal(sd.c[SX_XFTP_STAT_FILES_COUNT], 1);
    assert_int_equal(sd.c[SX_XFTP_STAT_FILES_SIZE], (int64_t)size);
    assert_int_equal(sd.downloaded.day.n, 1);
    assert_int_equal(sd.downloaded.week.n, 2);
    assert_int_equal(sd.downloaded.month.n, 2);
    sx_xftp_stats_data_cleanup(&sd);
    char *saved = read_all(f.stats_backup);

    /* restart: restored (the file moves to .bak), and counting goes on */
    fx_start(&f, 0, true);
    char bak[320];
    snprintf(bak, sizeof bak, "%s.bak", f.stats_backup);
    struct stat sb;
    assert_int_not_equal(stat(f.stats_backup, &sb), 0);
    char *moved = read_all(bak);
    assert_string_equal(moved, saved);
    free(moved);
    free(saved);
    tc_open(&c, f.port);
    tc_handshake(&c, 3);
    assert_int_equal(do_fnew(&c, &snd, rcv, 1, (uint32_t)size, digest, &d), SX_XFTP_R_SIDS);
    tc_close(&c);
    fx_stop(&f);
    assert_ok(sx_xftp_stats_load(f.stats_backup, &sd, NULL));
    assert_int_equal(sd.from_time, tuesday);
    assert_int_equal(sd.c[SX_XFTP_STAT_FILES_CREATED], 1);
    assert_int_equal(sd.c[SX_XFTP_STAT_FILE_RECIPIENTS], 1);
    assert_int_equal(sd.c[SX_XFTP_STAT_FILE_DOWNLOADS], 1);
    assert_int_equal(sd.c[SX_XFTP_STAT_FILES_COUNT], 1); /* from the store at restore */
    assert_int_equal(sd.c[SX_XFTP_STAT_FILES_SIZE], (int64_t)size);
    assert_int_equal(sd.downloaded.week.n, 2);
    sx_xftp_stats_data_cleanup(&sd);

    /* a backup that does not parse stops the start, as the reference */
    FILE *fp = fopen(f.stats_backup, "w");
    assert_non_null(fp);
    fputs("fromTime=yesterday\n", fp);
    fclose(fp);
    assert_int_equal(sx_xftp_server_start(&f.o, &f.s), SX_E_PROTOCOL);
    assert_null(f.s);
    sx_key_free(snd.k);
    sx_key_free(rcv[0].k);
    sx_key_free(rcv[1].k);
    free(chunk);
    fx_cleanup(&f);
}

/* ---- 4 MiB chunk with memory measurement ---- */

#if defined(__SANITIZE_ADDRESS__)
#define TU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TU_ASAN 1
#endif
#endif

/* A sanitizer's allocator (ASan's quarantine, TSan's shadow memory) makes
 * RSS figures meaningless for the flat-memory check. */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TU_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define TU_TSAN 1
#endif

static bool under_sanitizer(void)
{
#if defined(TU_ASAN) || defined(TU_TSAN)
    return true;
#else
    return false;
#endif
}

static long rss_kb(const char *field)
{
    FILE *fp = fopen("/proc/self/status", "r");
    if (!fp)
        return -1;
    char line[256];
    long v = -1;
    size_t fl = strlen(field);
    while (fgets(line, sizeof line, fp))
        if (strncmp(line, field, fl) == 0 && line[fl] == ':')
            v = strtol(line + fl + 1, NULL, 10);
    fclose(fp);
    return v;
}

typedef struct pattern {
    uint64_t seed;
    long max_rss;
} pattern;

static void pattern_bytes(uint64_t seed, uint64_t off, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t x = (off + i) * 0x9E3779B97F4A7C15ull ^ seed;
        p[i] = (uint8_t)(x >> 29);
    }
}

static void pattern_gen(void *arg, uint64_t off, uint8_t *p, size_t n)
{
    pattern *pt = arg;
    pattern_bytes(pt->seed, off, p, n);
    if ((off & 0xFFFFF) < n) {
        long r = rss_kb("VmRSS");
        if (r > pt->max_rss)
            pt->max_rss = r;
    }
}

typedef struct big_dl {
    sx_xftp_sb sb;
    sx_hash_ctx h;
    uint64_t size, got;
    uint8_t tag[16];
    size_t tag_len;
    long max_rss;
} big_dl;

static void big_sink(void *arg, const uint8_t *p, size_t n)
{
    big_dl *d = arg;
    uint8_t buf[16384];
    while (n > 0) {
        if (d->got < d->size) {
            size_t k = n;
            if (k > d->size - d->got)
                k = (size_t)(d->size - d->got);
            if (k > sizeof buf)
                k = sizeof buf;
            assert_ok(sx_xftp_sb_decrypt(&d->sb, sx_slice_of(p, k), buf));
            assert_ok(sx_hash_update(&d->h, sx_slice_of(buf, k)));
            if ((d->got & 0xFFFFF) < k) {
                long r = rss_kb("VmRSS");
                if (r > d->max_rss)
                    d->max_rss = r;
            }
            d->got += k;
            p += k;
            n -= k;
        } else {
            assert_true(d->tag_len + n <= 16);
            memcpy(d->tag + d->tag_len, p, n);
            d->tag_len += n;
            n = 0;
        }
    }
}

/* The FILE block must be decoded before the stream: hold the key exchange
 * in a sink that initialises on the first call. */
typedef struct big_fget {
    tc *c;
    keypair *dh;
    big_dl d;
    bool init;
} big_fget;

static void big_fget_sink(void *arg, const uint8_t *p, size_t n)
{
    big_fget *g = arg;
    if (!g->init) {
        sx_xftp_reply r;
        assert_int_equal(tc_reply(g->c, &r), SX_XFTP_R_FILE);
        sx_key *srv = NULL;
        assert_ok(sx_key_decode_public(r.resp.file.dh_key.der, SX_KEY_BIT(SX_KEY_X25519), &srv));
        uint8_t secret[32];
        size_t sl;
        assert_ok(sx_key_dh(g->dh->k, srv, secret, sizeof secret, &sl));
        sx_key_free(srv);
        assert_ok(sx_xftp_sb_init(&g->d.sb, secret, r.resp.file.nonce.ptr));
        g->init = true;
    }
    big_sink(&g->d, p, n);
}

static void test_big_chunk(void **state)
{
    (void)state;
    load_identity();
    fx f = {0};
    fx_start(&f, 0, true);
    tc c;
    tc_open(&c, f.port);
    tc_handshake(&c, 3);
    keypair snd, rcv;
    kp_new(&snd, SX_KEY_ED25519);
    kp_new(&rcv, SX_KEY_ED25519);
    const uint32_t size = SX_XFTP_CHUNK_4M;
    pattern pt = {0x1234567, 0};
    uint8_t digest[32], buf[16384];
    sx_hash_ctx h = {0};
    assert_ok(sx_hash_init(&h, SX_HASH_SHA256));
    for (uint64_t off = 0; off < size; off += sizeof buf) {
        pattern_bytes(pt.seed, off, buf, sizeof buf);
        assert_ok(sx_hash_update(&h, sx_slice_of(buf, sizeof buf)));
    }
    assert_ok(sx_hash_final(&h, digest, sizeof digest));
    sx_hash_cleanup(&h);
    file_ids ids;
    sx_xftp_reply r;
    assert_int_equal(do_fnew(&c, &snd, &rcv, 1, size, digest, &ids), SX_XFTP_R_SIDS);
    long rss0 = rss_kb("VmRSS");
    assert_int_equal(do_fput(&c, &snd, ids.sid, pattern_gen, &pt, size, &r), SX_XFTP_R_OK);
    long rss_up = pt.max_rss;

    keypair dh;
    kp_new(&dh, SX_KEY_X25519);
    sx_xftp_cmd cmd = {0};
    cmd.tag = SX_XFTP_C_FGET;
    cmd.dh_key = kp_pub(&dh);
    uint8_t block[BLK];
    make_block(&c, &rcv, sx_slice_of(c.sid, c.sid_len), sx_slice_of(ids.rid[0], 16), &cmd, block);
    big_fget g = {0};
    g.c = &c;
    g.dh = &dh;
    g.d.size = size;
    assert_ok(sx_hash_init(&g.d.h, SX_HASH_SHA256));
    c.sink = big_fget_sink;
    c.sink_arg = &g;
    assert_ok(tc_request(&c, block, BLK));
    c.sink = NULL;
    assert_true(g.init);
    assert_int_equal(g.d.got, size);
    assert_int_equal(g.d.tag_len, 16);
    assert_ok(sx_xftp_sb_verify(&g.d.sb, sx_slice_of(g.d.tag, 16)));
    uint8_t got[32];
    assert_ok(sx_hash_final(&g.d.h, got, sizeof got));
    sx_hash_cleanup(&g.d.h);
    assert_memory_equal(got, digest, 32);
    printf("RSS (kB): before %ld, max during 4 MiB upload %ld, max during download %ld\n", rss0, rss_up,
           g.d.max_rss);
    /* Flat memory: the chunk is never held whole (4 MiB = 4096 kB). The
     * sanitizers' allocators keep freed buffers and shadow memory, so only
     * plain builds check. */
    if (!under_sanitizer()) {
        assert_true(rss_up - rss0 < 3000);
        assert_true(g.d.max_rss - rss0 < 3000);
    }
    sx_key_free(dh.k);
    sx_key_free(snd.k);
    sx_key_free(rcv.k);
    tc_close(&c);
    fx_cleanup(&f);
}

/* An FPUT whose body stalls gets ERR TIMEOUT and leaves nothing behind. */
static void test_upload_timeout(void **state)
{
    (void)state;
    load_identity();
    fx f = {0};
    f.timeout_ms = 1500;
    fx_start(&f, 0, false);
    tc c;
    tc_open(&c, f.port);
    tc_handshake(&c, 3);
    keypair snd, rcv;
    kp_new(&snd, SX_KEY_ED25519);
    kp_new(&rcv, SX_KEY_ED25519);
    size_t size = SX_XFTP_CHUNK_64K;
    uint8_t *chunk = malloc(size), digest[32];
    random_chunk(chunk, size, digest);
    file_ids ids;
    sx_xftp_reply r;
    assert_int_equal(do_fnew(&c, &snd, &rcv, 1, (uint32_t)size, digest, &ids), SX_XFTP_R_SIDS);
    c.defer_at = 1000;
    assert_int_equal(do_fput(&c, &snd, ids.sid, mem_gen, chunk, size, &r), SX_XFTP_R_ERR);
    assert_int_equal(r.resp.err.type, SX_XFTP_ERR_TIMEOUT);
    /* the partial file is gone; a retry works */
    assert_int_equal(do_fput(&c, &snd, ids.sid, mem_gen, chunk, size, &r), SX_XFTP_R_OK);
    assert_int_equal(do_fget(&c, &rcv, ids.rid[0], (uint32_t)size, digest), SX_XFTP_R_FILE);
    sx_key_free(snd.k);
    sx_key_free(rcv.k);
    free(chunk);
    tc_close(&c);
    fx_cleanup(&f);
}

/* FPUT bodies that arrive in small pieces with pauses between: the router
 * holds partly filled buffers across read passes (XS_UPLOAD_HOLD_MAX) and
 * still stores every byte, whether the body ends below that bound (64 KiB)
 * or passes it several times (1 MiB). */
static void test_upload_paced(void **state)
{
    (void)state;
    load_identity();
    fx f = {0};
    fx_start(&f, 0, false);
    tc c;
    tc_open(&c, f.port);
    tc_handshake(&c, 3);
    static const struct {
        uint32_t size;
        size_t pace;
    } cases[] = {{SX_XFTP_CHUNK_64K, 5000}, {SX_XFTP_CHUNK_1M, 20000}, {SX_XFTP_CHUNK_256K, 131072 - 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        keypair snd, rcv;
        kp_new(&snd, SX_KEY_ED25519);
        kp_new(&rcv, SX_KEY_ED25519);
        uint8_t *chunk = malloc(cases[i].size), digest[32];
        assert_non_null(chunk);
        random_chunk(chunk, cases[i].size, digest);
        file_ids ids;
        sx_xftp_reply r;
        assert_int_equal(do_fnew(&c, &snd, &rcv, 1, cases[i].size, digest, &ids), SX_XFTP_R_SIDS);
        c.pace = cases[i].pace;
        assert_int_equal(do_fput(&c, &snd, ids.sid, mem_gen, chunk, cases[i].size, &r), SX_XFTP_R_OK);
        assert_int_equal(do_fget(&c, &rcv, ids.rid[0], cases[i].size, digest), SX_XFTP_R_FILE);
        sx_key_free(snd.k);
        sx_key_free(rcv.k);
        free(chunk);
    }
    tc_close(&c);
    fx_cleanup(&f);
}

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

static void append_file(FILE *out, const char *path)
{
    size_t n;
    uint8_t *p = tu_read_data(path, &n);
    assert_int_equal(fwrite(p, 1, n, out), n);
    free(p);
}

/* Browsers: SNI selects the web credential; CORS, pre-flight, static page,
 * the web hello with its identity proof and the header-driven handshake. */
static void test_web(void **state)
{
    (void)state;
    load_identity();
    fx f = {0};
    snprintf(f.dir, sizeof f.dir, "/tmp/sx_xftp_itest_XXXXXX");
    assert_non_null(mkdtemp(f.dir));
    snprintf(f.files, sizeof f.files, "%s/files", f.dir);
    snprintf(f.log, sizeof f.log, "%s/file-server-store.log", f.dir);
    snprintf(f.web_cert, sizeof f.web_cert, "%s/web.crt", f.dir);
    snprintf(f.web_root, sizeof f.web_root, "%s/www", f.dir);
    FILE *fp = fopen(f.web_cert, "w");
    assert_non_null(fp);
    append_file(fp, "fixtures/server.crt");
    append_file(fp, "fixtures/ca.crt");
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(mkdir(f.web_root, 0755), 0);
    char p[400];
    snprintf(p, sizeof p, "%s/index.html", f.web_root);
    write_text(p, "<html>xftp</html>");
    snprintf(p, sizeof p, "%s/app.js", f.web_root);
    write_text(p, "let x = 1;");
    f.web = true;
    fx_start(&f, 0, false);

    static const char *const h2[] = {"h2", NULL};
    tc c;
    tc_open_sni(&c, f.port, h2, "xftp.example.com");
    c.method = "GET";
    assert_ok(tc_request(&c, NULL, 0));
    assert_int_equal(c.status, 200);
    assert_string_equal(c.ctype, "text/html");
    assert_int_equal(c.resp_len, 17);
    assert_memory_equal(c.resp, "<html>xftp</html>", 17);
    c.path = "/app.js";
    assert_ok(tc_request(&c, NULL, 0));
    assert_string_equal(c.ctype, "application/javascript");
    c.path = "/../../../etc/passwd";
    assert_ok(tc_request(&c, NULL, 0));
    assert_int_equal(c.status, 404);
    c.path = NULL;
    c.method = "OPTIONS";
    assert_ok(tc_request(&c, NULL, 0));
    assert_int_equal(c.status, 200);
    assert_true(c.cors);
    c.method = NULL;

    /* POST without the web hello header: SESSION */
    sx_slice content;
    assert_ok(tc_request(&c, NULL, 0));
    assert_ok(sx_unpad(sx_slice_of(c.resp, c.resp_len), &content));
    assert_int_equal(content.len, 7);
    assert_memory_equal(content.ptr, "SESSION", 7);

    /* web hello with a challenge */
    uint8_t challenge[32], hb[64], block[BLK];
    sx_random_bytes(challenge, sizeof challenge);
    sx_writer w;
    sx_writer_init_fixed(&w, hb, sizeof hb);
    sx_xftp_client_hello ch = {true, sx_slice_of(challenge, 32)};
    assert_true(sx_xftp_client_hello_write(&w, &ch));
    assert_ok(sx_pad(sx_writer_slice(&w), block, BLK));
    assert_ok(tc_request_gen(&c, block, BLK, NULL, NULL, 0, "xftp-web-hello"));
    assert_int_equal(c.status, 200);
    assert_true(c.cors);
    assert_ok(sx_unpad(sx_slice_of(c.resp, c.resp_len), &content));
    sx_xftp_server_hello h;
    assert_ok(sx_xftp_server_hello_decode(content, &h));
    assert_true(h.has_web_proof);
    X509 *leaf = NULL;
    sx_key *leaf_key = NULL;
    assert_ok(sx_x509_from_der(h.cert_key.chain[0], &leaf));
    assert_ok(sx_x509_public_key(leaf, &leaf_key));
    uint8_t msg[32 + 64];
    memcpy(msg, challenge, 32);
    memcpy(msg + 32, c.sid, c.sid_len);
    assert_ok(sx_key_verify(leaf_key, sx_slice_of(msg, 32 + c.sid_len), h.web_proof));
    assert_ok(sx_x509_signed_key_verify(h.cert_key.signed_key, leaf_key, SX_KEY_BIT(SX_KEY_X25519), &c.srv_dh));
    sx_key_free(leaf_key);
    X509_free(leaf);
    /* client handshake, then commands */
    uint8_t hs[64];
    sx_writer_init_fixed(&w, hs, sizeof hs);
    sx_xftp_client_handshake chs = {3, sx_slice_of(g_identity, 32)};
    assert_true(sx_xftp_client_handshake_write(&w, &chs));
    assert_ok(sx_pad(sx_writer_slice(&w), block, BLK));
    assert_ok(tc_request(&c, block, BLK));
    assert_int_equal(c.status, 200);
    assert_int_equal(c.resp_len, 0);
    c.v = 3;
    sx_xftp_reply r;
    assert_int_equal(do_simple(&c, NULL, SX_XFTP_C_PING, NULL, &r), SX_XFTP_R_PONG);
    assert_true(c.cors);
    /* re-handshake keeps working on the same session */
    assert_ok(tc_request_gen(&c, block, BLK, NULL, NULL, 0, "xftp-handshake"));
    assert_int_equal(c.status, 200);
    assert_int_equal(c.resp_len, 0);
    assert_int_equal(do_simple(&c, NULL, SX_XFTP_C_PING, NULL, &r), SX_XFTP_R_PONG);
    tc_close(&c);

    /* without SNI the same port is the XFTP router */
    tc_open(&c, f.port);
    tc_handshake(&c, 3);
    assert_int_equal(do_simple(&c, NULL, SX_XFTP_C_PING, NULL, &r), SX_XFTP_R_PONG);
    assert_false(c.cors);
    tc_close(&c);
    fx_cleanup(&f);
}

/* ---- control port ---- */

static void cp_line(int fd, char *out, size_t cap)
{
    size_t n = 0;
    for (;;) {
        assert_ok(sx_net_wait(fd, false, 10000));
        char ch;
        ssize_t r = recv(fd, &ch, 1, 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        assert_int_equal(r, 1);
        if (ch == '\n')
            break;
        assert_true(n + 1 < cap);
        out[n++] = ch;
    }
    out[n] = 0;
}

static void cp_cmd(int fd, const char *cmd, const char *expect)
{
    char line[512];
    snprintf(line, sizeof line, "%s\n", cmd);
    assert_int_equal(send(fd, line, strlen(line), MSG_NOSIGNAL), (ssize_t)strlen(line));
    if (expect) {
        cp_line(fd, line, sizeof line);
        assert_string_equal(line, expect);
    }
}

static void test_control_port(void **state)
{
    (void)state;
    load_identity();
    fx f = {0};
    f.control = true;
    f.stats = true;
    fx_start(&f, 0, true);
    uint16_t cport = sx_xftp_server_control_port(f.s);
    assert_true(cport > 0);
    tc c;
    tc_open(&c, f.port);
    tc_handshake(&c, 3);
    keypair snd, rcv;
    kp_new(&snd, SX_KEY_ED25519);
    kp_new(&rcv, SX_KEY_ED25519);
    size_t size = SX_XFTP_CHUNK_64K;
    uint8_t *chunk = malloc(size), digest[32];
    random_chunk(chunk, size, digest);
    file_ids a, b;
    sx_xftp_reply r;
    assert_int_equal(do_fnew(&c, &snd, &rcv, 1, (uint32_t)size, digest, &a), SX_XFTP_R_SIDS);
    assert_int_equal(do_fput(&c, &snd, a.sid, mem_gen, chunk, size, &r), SX_XFTP_R_OK);
    assert_int_equal(do_fnew(&c, &snd, &rcv, 1, (uint32_t)size, digest, &b), SX_XFTP_R_SIDS);
    char ra[64], rb[64], cmd[200];
    assert_ok(sx_b64_encode(sx_slice_of(a.rid[0], 16), SX_B64_URL, ra, sizeof ra));
    assert_ok(sx_b64_encode(sx_slice_of(b.rid[0], 16), SX_B64_URL, rb, sizeof rb));

    int fd;
    assert_ok(sx_net_connect("127.0.0.1", cport, 5000, &fd));
    char line[512];
    cp_line(fd, line, sizeof line);
    assert_string_equal(line, "XFTP server control port");
    cp_line(fd, line, sizeof line);
    assert_string_equal(line, "'help' for supported commands");
    snprintf(cmd, sizeof cmd, "delete %s", ra);
    cp_cmd(fd, cmd, "AUTH");
    cp_cmd(fd, "help", "commands: stats-rts, delete, help, quit");
    cp_cmd(fd, "nonsense", "error: Failed reading: bad ControlProtocol command");
    cp_cmd(fd, "", NULL);
    cp_cmd(fd, "auth wrong", "Current role is CPRNone");
    cp_cmd(fd, "auth us3r", "Current role is CPRUser");
    cp_cmd(fd, "auth adm1n", "Current role is CPRUser, start new session to change.");
    sx_net_close(fd);
    assert_ok(sx_net_connect("127.0.0.1", cport, 5000, &fd));
    cp_line(fd, line, sizeof line);
    cp_line(fd, line, sizeof line);
    cp_cmd(fd, "auth adm1n", "Current role is CPRAdmin");
    snprintf(cmd, sizeof cmd, "block %s reason=spam", ra);
    cp_cmd(fd, cmd, "ok");
    snprintf(cmd, sizeof cmd, "delete %s", rb);
    cp_cmd(fd, cmd, "ok");
    cp_cmd(fd, cmd, "error: AUTH");
    cp_cmd(fd, "quit", NULL);
    sx_net_close(fd);

    /* blocked: ERR BLOCKED (v3); deleted: AUTH */
    assert_int_equal(do_fget(&c, &rcv, a.rid[0], (uint32_t)size, digest), SX_XFTP_R_ERR);
    assert_int_equal(tc_err(&c), SX_XFTP_ERR_BLOCKED);
    assert_int_equal(do_fput(&c, &snd, a.sid, mem_gen, chunk, size, &r), SX_XFTP_R_ERR);
    assert_int_equal(r.resp.err.type, SX_XFTP_ERR_BLOCKED);
    assert_int_equal(do_fget(&c, &rcv, b.rid[0], (uint32_t)size, digest), SX_XFTP_R_ERR);
    assert_int_equal(tc_err(&c), SX_XFTP_ERR_AUTH);
    tc_close(&c);
    /* a version 2 session hears AUTH for a blocked file */
    tc_open(&c, f.port);
    tc_handshake(&c, 2);
    assert_int_equal(do_fget(&c, &rcv, a.rid[0], (uint32_t)size, digest), SX_XFTP_R_ERR);
    assert_int_equal(tc_err(&c), SX_XFTP_ERR_AUTH);
    tc_close(&c);
    /* statistics: a (uploaded) blocked, b (never uploaded) deleted */
    fx_stop(&f);
    sx_xftp_stats_data sd;
    assert_ok(sx_xftp_stats_load(f.stats_backup, &sd, NULL));
    assert_int_equal(sd.c[SX_XFTP_STAT_FILES_BLOCKED], 1);
    assert_int_equal(sd.c[SX_XFTP_STAT_FILES_DELETED], 1);
    assert_int_equal(sd.c[SX_XFTP_STAT_FILES_UPLOADED], 1);
    assert_int_equal(sd.c[SX_XFTP_STAT_FILES_COUNT], 0);
    assert_int_equal(sd.c[SX_XFTP_STAT_FILES_SIZE], 0);
    assert_int_equal(sd.c[SX_XFTP_STAT_FILE_DOWNLOADS], 0);
    sx_xftp_stats_data_cleanup(&sd);
    sx_key_free(snd.k);
    sx_key_free(rcv.k);
    free(chunk);
    fx_cleanup(&f);
}

/* ---- store log before the answer ---- */

/* Whether the store log has a line starting with word and the base64url of
 * id (the file's present content, read now). */
static bool log_has(const fx *f, const char *word, const uint8_t id[16])
{
    char b64[32], want[48];
    assert_ok(sx_b64_encode(sx_slice_of(id, 16), SX_B64_URL, b64, sizeof b64));
    snprintf(want, sizeof want, "%s %s", word, b64);
    char *text = read_all(f->log);
    bool found = false;
    for (char *p = text; *p && !found;) {
        found = strncmp(p, want, strlen(want)) == 0;
        char *nl = strchr(p, '\n');
        p = nl ? nl + 1 : p + strlen(p);
    }
    free(text);
    return found;
}

static long file_size(const char *path)
{
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    return (long)sb.st_size;
}

static void copy_file(const char *from, const char *to)
{
    char *text = read_all(from);
    FILE *fp = fopen(to, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
    assert_int_equal(fclose(fp), 0);
    free(text);
}

/* PROTOCOL-NOTES F27: the answer to a change comes only once the change's
 * record is in the store log file. The log's writer thread writes the
 * records while the workers go on; each answer read here must find its
 * line already in the file, a copy of the file taken right after the last
 * answer (what a crash would leave) restores what the clients were told,
 * and when the log cannot be written the answers are errors, never
 * success. */
static void test_store_log_before_answer(void **state)
{
    (void)state;
    load_identity();
    fx f = {0};
    f.control = true;
    fx_start(&f, 0, true);
    uint16_t cport = sx_xftp_server_control_port(f.s);
    tc c;
    tc_open(&c, f.port);
    tc_handshake(&c, 3);
    keypair snd, rcv[2], extra;
    kp_new(&snd, SX_KEY_ED25519);
    kp_new(&rcv[0], SX_KEY_ED25519);
    kp_new(&rcv[1], SX_KEY_X25519);
    kp_new(&extra, SX_KEY_ED25519);
    size_t size = SX_XFTP_CHUNK_64K;
    uint8_t *chunk = malloc(size), digest[32];
    random_chunk(chunk, size, digest);
    sx_xftp_reply r;

    /* a: created, uploaded, one more recipient, one recipient acknowledged */
    file_ids a;
    assert_int_equal(do_fnew(&c, &snd, rcv, 2, (uint32_t)size, digest, &a), SX_XFTP_R_SIDS);
    assert_true(log_has(&f, "FNEW", a.sid));
    assert_true(log_has(&f, "FADD", a.sid));
    assert_int_equal(do_fput(&c, &snd, a.sid, mem_gen, chunk, size, &r), SX_XFTP_R_OK);
    assert_true(log_has(&f, "FPUT", a.sid));
    uint8_t items[128];
    sx_writer w;
    sx_writer_init_fixed(&w, items, sizeof items);
    sx_smp_pubkey pe = kp_pub(&extra);
    assert_true(sx_smp_write_pubkey(&w, SX_KEY_AUTH_ALGS, &pe));
    sx_xftp_cmd cmd = {0};
    cmd.tag = SX_XFTP_C_FADD;
    cmd.rcv_keys.count = 1;
    cmd.rcv_keys.items = sx_writer_slice(&w);
    long before = file_size(f.log);
    assert_int_equal(cmd_simple(&c, &snd, sx_slice_of(a.sid, 16), &cmd, &r), SX_XFTP_R_RIDS);
    sx_slice id;
    assert_ok(sx_xftp_ids_get(&r.resp.rcv_ids, 0, &id));
    uint8_t rid_extra[16];
    memcpy(rid_extra, id.ptr, 16);
    assert_true(file_size(f.log) > before); /* the second FADD of a */
    char *text = read_all(f.log);
    char b64[32];
    assert_ok(sx_b64_encode(sx_slice_of(rid_extra, 16), SX_B64_URL, b64, sizeof b64));
    assert_non_null(strstr(text, b64));
    free(text);
    assert_int_equal(do_simple(&c, &rcv[0], SX_XFTP_C_FACK, a.rid[0], &r), SX_XFTP_R_OK);
    assert_true(log_has(&f, "FACK", a.rid[0]));

    /* b: created, uploaded, deleted; d: created, blocked on the control port */
    file_ids b, d;
    assert_int_equal(do_fnew(&c, &snd, rcv, 1, (uint32_t)size, digest, &b), SX_XFTP_R_SIDS);
    assert_int_equal(do_fput(&c, &snd, b.sid, mem_gen, chunk, size, &r), SX_XFTP_R_OK);
    assert_int_equal(do_simple(&c, &snd, SX_XFTP_C_FDEL, b.sid, &r), SX_XFTP_R_OK);
    assert_true(log_has(&f, "FDEL", b.sid));
    assert_int_equal(do_fnew(&c, &snd, rcv, 1, (uint32_t)size, digest, &d), SX_XFTP_R_SIDS);
    int fd;
    assert_ok(sx_net_connect("127.0.0.1", cport, 5000, &fd));
    char line[512], cpcmd[200];
    cp_line(fd, line, sizeof line);
    cp_line(fd, line, sizeof line);
    cp_cmd(fd, "auth adm1n", "Current role is CPRAdmin");
    assert_ok(sx_b64_encode(sx_slice_of(d.rid[0], 16), SX_B64_URL, b64, sizeof b64));
    snprintf(cpcmd, sizeof cpcmd, "block %s reason=spam", b64);
    cp_cmd(fd, cpcmd, "ok");
    assert_true(log_has(&f, "FBLK", d.sid));

    /* What a crash right now would leave: every answered change is in it. */
    char crash[400];
    snprintf(crash, sizeof crash, "%s/crash.log", f.dir);
    copy_file(f.log, crash);

    /* The log cannot grow any more (the file size limit of this process):
     * the control port's delete of x is made in memory and its record
     * queued, but the write fails: the writer keeps it and tries again
     * every second, and the operator hears the error at once. Meanwhile the
     * log refuses every change (nothing changes), reads are served, and
     * once the file can grow the kept record is written and changes are
     * taken again, without a restart. */
    file_ids x;
    assert_int_equal(do_fnew(&c, &snd, rcv, 1, (uint32_t)size, digest, &x), SX_XFTP_R_SIDS);
    struct rlimit old_lim, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old_lim), 0);
    void (*old_sig)(int) = signal(SIGXFSZ, SIG_IGN);
    long at_limit = file_size(f.log);
    lim.rlim_cur = (rlim_t)at_limit;
    lim.rlim_max = old_lim.rlim_max;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    assert_ok(sx_b64_encode(sx_slice_of(x.rid[0], 16), SX_B64_URL, b64, sizeof b64));
    snprintf(cpcmd, sizeof cpcmd, "delete %s", b64);
    cp_cmd(fd, cpcmd, "error: FILE_IO");
    file_ids e;
    assert_int_equal(do_fnew(&c, &snd, rcv, 1, (uint32_t)size, digest, &e), SX_XFTP_R_ERR);
    assert_int_equal(tc_err(&c), SX_XFTP_ERR_INTERNAL);
    assert_int_equal(do_simple(&c, &rcv[1], SX_XFTP_C_FACK, a.rid[1], &r), SX_XFTP_R_ERR);
    assert_int_equal(r.resp.err.type, SX_XFTP_ERR_FILE_IO);
    assert_int_equal(do_fget(&c, &rcv[1], a.rid[1], (uint32_t)size, digest), SX_XFTP_R_FILE);
    assert_ok(sx_b64_encode(sx_slice_of(a.rid[1], 16), SX_B64_URL, b64, sizeof b64));
    snprintf(cpcmd, sizeof cpcmd, "delete %s", b64);
    cp_cmd(fd, cpcmd, "error: FILE_IO");
    assert_int_equal(do_fget(&c, &rcv[1], a.rid[1], (uint32_t)size, digest), SX_XFTP_R_FILE);
    assert_int_equal(file_size(f.log), at_limit);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old_lim), 0);
    signal(SIGXFSZ, old_sig);
    for (int i = 0; i < 100 && !log_has(&f, "FDEL", x.sid); i++)
        usleep(50 * 1000);
    assert_true(log_has(&f, "FDEL", x.sid));
    assert_int_equal(do_fnew(&c, &snd, rcv, 1, (uint32_t)size, digest, &e), SX_XFTP_R_SIDS);
    sx_net_close(fd);
    tc_close(&c);
    fx_stop(&f);

    /* Restart from the crash copy: exactly what the clients were told. */
    copy_file(crash, f.log);
    fx_start(&f, 0, true);
    tc_open(&c, f.port);
    tc_handshake(&c, 3);
    assert_int_equal(do_fget(&c, &rcv[1], a.rid[1], (uint32_t)size, digest), SX_XFTP_R_FILE);
    assert_int_equal(do_fget(&c, &extra, rid_extra, (uint32_t)size, digest), SX_XFTP_R_FILE);
    assert_int_equal(do_fget(&c, &rcv[0], a.rid[0], (uint32_t)size, digest), SX_XFTP_R_ERR);
    assert_int_equal(tc_err(&c), SX_XFTP_ERR_AUTH);
    assert_int_equal(do_fget(&c, &rcv[0], b.rid[0], (uint32_t)size, digest), SX_XFTP_R_ERR);
    assert_int_equal(tc_err(&c), SX_XFTP_ERR_AUTH);
    assert_int_equal(do_fget(&c, &rcv[0], d.rid[0], (uint32_t)size, digest), SX_XFTP_R_ERR);
    assert_int_equal(tc_err(&c), SX_XFTP_ERR_BLOCKED);
    tc_close(&c);
    sx_key_free(snd.k);
    sx_key_free(rcv[0].k);
    sx_key_free(rcv[1].k);
    sx_key_free(extra.k);
    free(chunk);
    fx_cleanup(&f);
}

/* PROTOCOL-NOTES B3: a browser-like client (default OpenSSL settings, TLS 1.2
 * allowed, no Ed25519) gets the web credential, an ECDSA P-256 certificate, by
 * SNI. */
static void test_web_ecdsa(void **state)
{
    (void)state;
    load_identity();
    fx f = {0};
    snprintf(f.dir, sizeof f.dir, "/tmp/sx_xftp_itest_XXXXXX");
    assert_non_null(mkdtemp(f.dir));
    snprintf(f.files, sizeof f.files, "%s/files", f.dir);
    snprintf(f.web_cert, sizeof f.web_cert, "%s/web.crt", f.dir);
    snprintf(f.web_key, sizeof f.web_key, "%s/web.key", f.dir);
    snprintf(f.web_root, sizeof f.web_root, "%s", f.dir);
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    assert_non_null(pk);
    X509 *x = X509_new();
    assert_non_null(x);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
    assert_int_equal(X509_set_pubkey(x, pk), 1);
    X509_NAME *nm = X509_get_subject_name(x);
    assert_int_equal(X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0), 1);
    assert_int_equal(X509_set_issuer_name(x, nm), 1);
    assert_true(X509_sign(x, pk, EVP_sha256()) > 0);
    FILE *fp = fopen(f.web_cert, "w");
    assert_non_null(fp);
    assert_int_equal(PEM_write_X509(fp, x), 1);
    assert_int_equal(fclose(fp), 0);
    fp = fopen(f.web_key, "w");
    assert_non_null(fp);
    assert_int_equal(PEM_write_PrivateKey(fp, pk, NULL, NULL, 0, NULL, NULL), 1);
    assert_int_equal(fclose(fp), 0);
    f.web = true;
    fx_start(&f, 0, false);

    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(ctx);
    static const unsigned char alpn[] = "\x02h2";
    assert_int_equal(SSL_CTX_set_alpn_protos(ctx, alpn, 3), 0);
    int fd;
    assert_ok(sx_net_connect("127.0.0.1", f.port, 5000, &fd));
    SSL *ssl = SSL_new(ctx);
    assert_non_null(ssl);
    assert_int_equal(SSL_set_fd(ssl, fd), 1);
    assert_int_equal(SSL_set_tlsext_host_name(ssl, "localhost"), 1);
    int rc;
    while ((rc = SSL_connect(ssl)) != 1) {
        int e = SSL_get_error(ssl, rc);
        assert_true(e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE);
        assert_ok(sx_net_wait(fd, e == SSL_ERROR_WANT_WRITE, 5000));
    }
    X509 *peer = SSL_get1_peer_certificate(ssl);
    assert_non_null(peer);
    assert_int_equal(X509_cmp(peer, x), 0);
    const unsigned char *sel = NULL;
    unsigned sel_len = 0;
    SSL_get0_alpn_selected(ssl, &sel, &sel_len);
    assert_int_equal(sel_len, 2);
    assert_memory_equal(sel, "h2", 2);
    X509_free(peer);
    SSL_free(ssl);
    sx_net_close(fd);
    SSL_CTX_free(ctx);
    X509_free(x);
    EVP_PKEY_free(pk);

    /* XFTP clients on the same port still get the protocol chain */
    tc c;
    tc_open(&c, f.port);
    tc_handshake(&c, 3);
    tc_close(&c);
    fx_cleanup(&f);
}

/* Whether the router closes c within ms (what arrives is dropped). */
static bool tc_closed_within(tc *c, int ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > ms)
            return false;
        if (!sx_tls_has_pending(c->tls) && sx_net_wait(c->fd, false, 100) != SX_OK)
            continue;
        uint8_t buf[4096];
        size_t got = 0;
        sx_status st = sx_tls_read(c->tls, buf, sizeof buf, &got);
        if (st != SX_OK && st != SX_E_WOULD_BLOCK)
            return true;
    }
}

/* [INACTIVE_CLIENTS]: with ttl 1 s checked every second, a connection with
 * no request for longer is closed by the router, one sending a PING every
 * 300 ms stays open. */
static void test_inactive_clients(void **state)
{
    (void)state;
    load_identity();
    fx f = {0};
    f.inactive_ttl = 1;
    fx_start(&f, 0, false);
    tc idle, active;
    tc_open(&idle, f.port);
    tc_handshake(&idle, 3);
    tc_open(&active, f.port);
    tc_handshake(&active, 3);
    sx_xftp_reply r;
    /* 3.6 s: over ttl + check interval + the router's 1 s tick */
    for (int i = 0; i < 12; i++) {
        assert_int_equal(do_simple(&active, NULL, SX_XFTP_C_PING, NULL, &r), SX_XFTP_R_PONG);
        usleep(300 * 1000);
    }
    assert_true(tc_closed_within(&idle, 3000));
    assert_int_equal(do_simple(&active, NULL, SX_XFTP_C_PING, NULL, &r), SX_XFTP_R_PONG);
    assert_false(tc_closed_within(&active, 200));
    tc_close(&idle);
    tc_close(&active);
    fx_cleanup(&f);

    /* without [INACTIVE_CLIENTS] an idle connection stays */
    fx g = {0};
    fx_start(&g, 0, false);
    tc_open(&idle, g.port);
    tc_handshake(&idle, 3);
    assert_false(tc_closed_within(&idle, 3500));
    assert_int_equal(do_simple(&idle, NULL, SX_XFTP_C_PING, NULL, &r), SX_XFTP_R_PONG);
    tc_close(&idle);
    fx_cleanup(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_t9),
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_pending_per_address),
        cmocka_unit_test(test_protocol_errors),
        cmocka_unit_test(test_quota_expiry_restart),
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_big_chunk),
        cmocka_unit_test(test_upload_timeout),
        cmocka_unit_test(test_upload_paced),
        cmocka_unit_test(test_web),
        cmocka_unit_test(test_web_ecdsa),
        cmocka_unit_test(test_control_port),
        cmocka_unit_test(test_store_log_before_answer),
        cmocka_unit_test(test_inactive_clients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
