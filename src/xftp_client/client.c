/* XFTP client connection: TCP + TLS + an nghttp2 client session driven by a
 * poll loop (the session's output goes through sx_tls_write, socket input
 * through nghttp2_session_mem_recv), the PROTOCOL-NOTES F6-F8 handshake and one
 * function per command. Request and response bodies stream through small
 * buffers: FPUT reads the chunk with pread inside the data provider, FGET
 * decrypts each DATA frame as it arrives and writes it to the caller's file. */
#include "xftp_client/client.h"

#include <errno.h>
#include <limits.h>
#include <nghttp2/nghttp2.h>
#include <openssl/x509.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/writer.h"
#include "crypto/hash.h"
#include "crypto/util.h"
#include "crypto/x509.h"
#include "smp/encoding.h"
#include "transport/block.h"
#include "transport/net.h"
#include "transport/tls.h"
#include "xftp/filecrypt.h"

#define IO_BUF 16384
#define HOST_ONION 3 /* sx_xftp_fd_server.host_kind of a .onion name */
#define LOCAL_WINDOW (8 * 1024 * 1024)

/* The FGET body sink: ciphertext of `size` bytes then the 16-byte tag. */
typedef struct download {
    bool active;    /* FILE received, keys set */
    sx_xftp_sb sb;
    int fd;
    uint32_t size;
    uint32_t got;   /* ciphertext bytes processed */
    uint8_t tag[SX_XFTP_SB_TAG_LEN];
    size_t tag_len;
    bool too_long;
    sx_status io_err;
    sx_hash_ctx sha;
    const sx_key *dh_priv;
    uint16_t version;
} download;

/* One request in flight. */
typedef struct request {
    int32_t stream_id;
    bool closed;        /* the stream is closed (both sides ended, or reset) */
    bool answered;      /* the response ended (END_STREAM from the router) */
    uint32_t error_code;
    int status;         /* :status, 0 until received */
    size_t head_len;    /* bytes of the response block in the client's head buffer */
    bool head_overflow; /* more than a block with no sink for it */
    /* request body: block then fd[off, off + len) */
    const uint8_t *block;
    size_t block_len, block_off;
    int src_fd;
    int64_t src_off, src_len, src_done;
    sx_status src_err;
    download *dl; /* FGET only */
} request;

struct sx_xftp_client {
    int fd;
    sx_tls_ctx *tls_ctx;
    sx_tls_conn *tls;
    nghttp2_session *h2;
    char authority[SX_XFTP_FD_SERVER_MAX + 8];
    uint16_t version;
    bool usable;
    bool negotiated; /* ALPN "xftp/1" */
    bool goaway; /* the router is closing the connection: no new requests */
    int timeout_ms, per_kb_ms;
    const volatile sig_atomic_t *cancel;
    bool cancelled;
    sx_xftp_error err;
    const uint8_t *out; /* nghttp2 output not yet written */
    size_t out_len, out_off;
    request *req;
    uint8_t head[SX_XFTP_BLOCK_SIZE];
    uint8_t io[IO_BUF];
    uint8_t dec[IO_BUF];
    uint8_t session_id[SX_TLS_UNIQUE_MAX];
    size_t session_id_len;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whether the program asked to stop (the flag may be set from a signal
 * handler on any thread). */
static bool stop_asked(sx_xftp_client *c)
{
    if (c->cancel && __atomic_load_n(c->cancel, __ATOMIC_RELAXED)) {
        c->cancelled = true;
        return true;
    }
    return false;
}

/* A wait of at most `left` ms, cut into slices so that a cancel is seen. */
static int slice_ms(int64_t left)
{
    return left < SX_XFTP_CLIENT_SLICE_MS ? (int)left : SX_XFTP_CLIENT_SLICE_MS;
}

sx_status sx_xftp_error_status(const sx_xftp_error *e)
{
    switch (e->type) {
    case SX_XFTP_ERR_AUTH:
    case SX_XFTP_ERR_BLOCKED:
    case SX_XFTP_ERR_DIGEST:
    case SX_XFTP_ERR_CRYPTO:
        return SX_E_AUTH;
    case SX_XFTP_ERR_SIZE:
    case SX_XFTP_ERR_QUOTA:
        return SX_E_LIMIT;
    case SX_XFTP_ERR_TIMEOUT:
        return SX_E_IO;
    default:
        return SX_E_PROTOCOL;
    }
}

static sx_status fail_with(sx_xftp_client *c, sx_xftp_err_type t)
{
    c->err = sx_xftp_error_of(t);
    return sx_xftp_error_status(&c->err);
}

/* ---- nghttp2 callbacks ---------------------------------------------------- */

static sx_status download_data(sx_xftp_client *c, download *d, const uint8_t *p, size_t n)
{
    while (n > 0) {
        if (d->got < d->size) {
            size_t take = d->size - d->got;
            if (take > n)
                take = n;
            if (take > sizeof c->dec)
                take = sizeof c->dec;
            SX_TRY(sx_xftp_sb_decrypt(&d->sb, sx_slice_of(p, take), c->dec));
            SX_TRY(sx_hash_update(&d->sha, sx_slice_of(c->dec, take)));
            size_t w = 0;
            while (w < take) {
                ssize_t k = write(d->fd, c->dec + w, take - w);
                if (k < 0 && errno == EINTR)
                    continue;
                if (k <= 0)
                    return SX_E_IO;
                w += (size_t)k;
            }
            d->got += (uint32_t)take;
            p += take;
            n -= take;
        } else if (d->tag_len < sizeof d->tag) {
            size_t take = sizeof d->tag - d->tag_len;
            if (take > n)
                take = n;
            memcpy(d->tag + d->tag_len, p, take);
            d->tag_len += take;
            p += take;
            n -= take;
        } else {
            d->too_long = true;
            return SX_OK;
        }
    }
    return SX_OK;
}

/* Called once the response block is complete on an FGET: sets the keys. */
static void download_start(sx_xftp_client *c, request *r)
{
    download *d = r->dl;
    sx_slice t;
    sx_xftp_reply rep;
    if (sx_xftp_block_decode(sx_slice_of(c->head, SX_XFTP_BLOCK_SIZE), &t) != SX_OK ||
        sx_xftp_reply_decode(t, c->version, sx_slice_of(c->session_id, c->session_id_len),
                             &rep) != SX_OK ||
        rep.resp.tag != SX_XFTP_R_FILE)
        return; /* the caller decodes again and reports */
    sx_key *srv = NULL;
    uint8_t secret[SX_DH_MAX];
    size_t slen = 0;
    if (sx_key_decode_public(rep.resp.file.dh_key.der, SX_KEY_BIT(SX_KEY_X25519), &srv) != SX_OK)
        return;
    sx_status st = sx_key_dh(d->dh_priv, srv, secret, sizeof secret, &slen);
    sx_key_free(srv);
    if (st == SX_OK && slen == SX_XFTP_SB_KEY_LEN && rep.resp.file.nonce.len == SX_XFTP_NONCE_LEN)
        st = sx_xftp_sb_init(&d->sb, secret, rep.resp.file.nonce.ptr);
    else if (st == SX_OK)
        st = SX_E_PROTOCOL;
    sx_wipe(secret, sizeof secret);
    if (st == SX_OK)
        d->active = true;
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t stream_id, const uint8_t *data,
                         size_t len, void *ud)
{
    (void)s;
    (void)flags;
    sx_xftp_client *c = ud;
    request *r = c->req;
    if (!r || r->stream_id != stream_id)
        return 0;
    if (r->head_len < SX_XFTP_BLOCK_SIZE) {
        size_t take = SX_XFTP_BLOCK_SIZE - r->head_len;
        if (take > len)
            take = len;
        memcpy(c->head + r->head_len, data, take);
        r->head_len += take;
        data += take;
        len -= take;
        if (r->head_len == SX_XFTP_BLOCK_SIZE && r->dl)
            download_start(c, r);
    }
    if (len == 0)
        return 0;
    if (r->dl && r->dl->active) {
        if (r->dl->io_err == SX_OK)
            r->dl->io_err = download_data(c, r->dl, data, len);
    } else {
        r->head_overflow = true;
    }
    return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *ud)
{
    (void)s;
    (void)flags;
    sx_xftp_client *c = ud;
    request *r = c->req;
    if (!r || frame->hd.stream_id != r->stream_id || frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
        int v = 0;
        for (size_t i = 0; i < valuelen && i < 3; i++)
            v = v * 10 + (value[i] >= '0' && value[i] <= '9' ? value[i] - '0' : 0);
        r->status = v;
    }
    return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t stream_id, uint32_t error_code, void *ud)
{
    (void)s;
    sx_xftp_client *c = ud;
    if (c->req && c->req->stream_id == stream_id) {
        c->req->closed = true;
        c->req->error_code = error_code;
    }
    return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *frame, void *ud)
{
    (void)s;
    sx_xftp_client *c = ud;
    if (frame->hd.type == NGHTTP2_GOAWAY)
        c->goaway = true;
    request *r = c->req;
    if (r && frame->hd.stream_id == r->stream_id && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
        (frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA))
        r->answered = true;
    return 0;
}

static ssize_t body_read(nghttp2_session *s, int32_t stream_id, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    (void)s;
    (void)stream_id;
    (void)ud;
    request *r = src->ptr;
    size_t n = 0;
    if (r->block_off < r->block_len) {
        n = r->block_len - r->block_off;
        if (n > length)
            n = length;
        memcpy(buf, r->block + r->block_off, n);
        r->block_off += n;
    } else if (r->src_done < r->src_len) {
        int64_t want = r->src_len - r->src_done;
        if (want > (int64_t)length)
            want = (int64_t)length;
        ssize_t k;
        do
            k = pread(r->src_fd, buf, (size_t)want, (off_t)(r->src_off + r->src_done));
        while (k < 0 && errno == EINTR);
        if (k <= 0) {
            r->src_err = SX_E_IO;
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        }
        n = (size_t)k;
        r->src_done += k;
    }
    if (r->block_off == r->block_len && r->src_done == r->src_len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

/* ---- the poll loop ------------------------------------------------------- */

/* Writes what nghttp2 has to send until it has nothing or the socket is full
 * (*blocked). */
static sx_status flush(sx_xftp_client *c, bool *blocked)
{
    *blocked = false;
    for (;;) {
        if (c->out_off == c->out_len) {
            const uint8_t *p = NULL;
            ssize_t n = nghttp2_session_mem_send(c->h2, &p);
            if (n < 0)
                return SX_E_PROTOCOL;
            if (n == 0)
                return SX_OK;
            c->out = p;
            c->out_len = (size_t)n;
            c->out_off = 0;
        }
        sx_status st = sx_tls_write(c->tls, c->out, c->out_len, &c->out_off);
        if (st == SX_E_WOULD_BLOCK) {
            *blocked = true;
            return SX_OK;
        }
        SX_TRY(st);
    }
}

/* Feeds whatever TLS has to nghttp2 until the socket has no more. */
static sx_status drain(sx_xftp_client *c)
{
    for (;;) {
        size_t got = 0;
        sx_status st = sx_tls_read(c->tls, c->io, sizeof c->io, &got);
        if (got > 0) {
            ssize_t k = nghttp2_session_mem_recv(c->h2, c->io, got);
            if (k < 0 || (size_t)k != got)
                return SX_E_PROTOCOL;
        }
        if (st == SX_E_WOULD_BLOCK)
            return SX_OK;
        SX_TRY(st);
    }
}

/* Runs the session until the request is over (its stream closed, or its
 * response complete) or the deadline. */
static sx_status pump(sx_xftp_client *c, const request *r, int64_t deadline)
{
    for (;;) {
        bool blocked = false;
        SX_TRY(flush(c, &blocked));
        if (r->closed || r->answered)
            return SX_OK;
        if (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2) &&
            c->out_off == c->out_len)
            return SX_E_CLOSED;
        if (stop_asked(c))
            return SX_E_IO;
        if (!sx_tls_has_pending(c->tls)) {
            int64_t left = deadline - now_ms();
            if (left <= 0) {
                c->err = sx_xftp_error_of(SX_XFTP_ERR_TIMEOUT);
                return SX_E_IO;
            }
            struct pollfd p = {.fd = c->fd, .events = POLLIN};
            if (blocked || sx_tls_conn_want(c->tls) == SX_TLS_WANT_WRITE)
                p.events |= POLLOUT;
            int k = poll(&p, 1, slice_ms(left));
            if (k < 0 && errno != EINTR)
                return SX_E_IO;
            if (k <= 0)
                continue;
            if (!(p.revents & (POLLIN | POLLERR | POLLHUP)))
                continue;
        }
        SX_TRY(drain(c));
    }
}

/* Sends one POST / with the given body (block then an fd range; no body when
 * block is NULL) and waits for the whole response. On SX_OK, the response
 * status is in r->status and the first bytes of the body in c->head. */
static sx_status run_request(sx_xftp_client *c, request *r, int64_t timeout_ms)
{
    if (!c->usable || c->goaway) {
        c->usable = false;
        return SX_E_CLOSED;
    }
    const nghttp2_nv nva[] = {
        {(uint8_t *)":method", (uint8_t *)"POST", 7, 4, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)":scheme", (uint8_t *)"https", 7, 5, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)":path", (uint8_t *)"/", 5, 1, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)":authority", (uint8_t *)c->authority, 10, strlen(c->authority),
         NGHTTP2_NV_FLAG_NONE},
    };
    nghttp2_data_provider prov;
    prov.source.ptr = r;
    prov.read_callback = body_read;
    int32_t id = nghttp2_submit_request(c->h2, NULL, nva, sizeof nva / sizeof nva[0],
                                        r->block ? &prov : NULL, NULL);
    if (id < 0)
        return SX_E_PROTOCOL;
    r->stream_id = id;
    c->req = r;
    sx_status st = pump(c, r, now_ms() + timeout_ms);
    c->req = NULL;
    if (st == SX_OK && r->src_err != SX_OK)
        st = r->src_err;
    if (st == SX_OK && !r->closed) {
        /* The router answered before it read the whole body (ERR QUOTA
         * before a chunk, as the reference's router does): the answer
         * counts, and the rest of the upload is cancelled (RFC 9113 8.1)
         * instead of waiting for a body the router may never read. */
        bool blocked = false;
        if (nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL) != 0 ||
            flush(c, &blocked) != SX_OK)
            c->usable = false;
    }
    if (st != SX_OK) {
        /* the session state is unknown now: no more requests on it */
        c->usable = false;
        return st;
    }
    if (r->status != 200 || (r->error_code != 0 && r->head_len < SX_XFTP_BLOCK_SIZE)) {
        /* not an XFTP answer (or a reset one): do not trust this session */
        c->usable = false;
        return SX_E_PROTOCOL;
    }
    if (c->goaway)
        c->usable = false; /* this answer counts, the next request reconnects */
    return SX_OK;
}

static int64_t chunk_timeout(const sx_xftp_client *c, uint32_t size)
{
    return (int64_t)c->timeout_ms + (int64_t)(size / 1024) * c->per_kb_ms;
}

/* ---- commands ------------------------------------------------------------ */

/* Builds the signed block of a command for entity `entity`. key NULL: no
 * authorization (PING). */
static sx_status make_block(sx_xftp_client *c, const sx_key *key, sx_slice entity,
                            const sx_xftp_cmd *cmd, uint8_t block[SX_XFTP_BLOCK_SIZE])
{
    uint8_t cmdbuf[SX_XFTP_BLOCK_SIZE];
    sx_writer w;
    sx_writer_init_fixed(&w, cmdbuf, sizeof cmdbuf);
    (void)sx_xftp_cmd_write(&w, c->version, cmd);
    SX_TRY(sx_writer_status(&w));
    sx_slice command = sx_writer_slice(&w);
    sx_slice sid = sx_slice_of(c->session_id, c->session_id_len);
    uint8_t sig[SX_SIG_MAX];
    size_t sig_len = 0;
    if (key) {
        uint8_t authbuf[SX_XFTP_BLOCK_SIZE];
        sx_writer a;
        sx_writer_init_fixed(&a, authbuf, sizeof authbuf);
        (void)sx_xftp_write_auth_bytes(&a, sid, sx_slice_of(NULL, 0), entity, command);
        SX_TRY(sx_writer_status(&a));
        SX_TRY(sx_key_sign(key, sx_writer_slice(&a), sig, sizeof sig, &sig_len));
    }
    sx_xftp_transmission t = {
        .auth = sx_slice_of(sig, sig_len),
        .session_id = sid,
        .corr_id = sx_slice_of(NULL, 0),
        .entity_id = entity,
        .command = command,
    };
    uint8_t tbuf[SX_XFTP_BLOCK_SIZE];
    sx_writer tw;
    sx_writer_init_fixed(&tw, tbuf, sizeof tbuf);
    (void)sx_xftp_transmission_write(&tw, &t);
    SX_TRY(sx_writer_status(&tw));
    return sx_xftp_block_encode(sx_writer_slice(&tw), block);
}

/* Decodes the response block in c->head; an ERR becomes c->err and its
 * status. *out views c->head. */
static sx_status read_reply(sx_xftp_client *c, const request *r, sx_xftp_reply *out)
{
    sx_slice t;
    if (r->head_len != SX_XFTP_BLOCK_SIZE ||
        sx_xftp_block_decode(sx_slice_of(c->head, SX_XFTP_BLOCK_SIZE), &t) != SX_OK)
        return fail_with(c, SX_XFTP_ERR_BLOCK);
    sx_status st = sx_xftp_reply_decode(t, c->version,
                                        sx_slice_of(c->session_id, c->session_id_len), out);
    if (st != SX_OK) {
        c->err = out->err;
        return SX_E_PROTOCOL;
    }
    if (out->resp.tag == SX_XFTP_R_ERR) {
        c->err = out->resp.err;
        return sx_xftp_error_status(&c->err);
    }
    return SX_OK;
}

/* A command without a chunk body: sends it, decodes the reply, and checks
 * the response tag. */
static sx_status simple_command(sx_xftp_client *c, const sx_key *key, sx_slice entity,
                                const sx_xftp_cmd *cmd, sx_xftp_resp_tag want,
                                sx_xftp_reply *rep)
{
    memset(&c->err, 0, sizeof c->err);
    uint8_t block[SX_XFTP_BLOCK_SIZE];
    SX_TRY(make_block(c, key, entity, cmd, block));
    request r;
    memset(&r, 0, sizeof r);
    r.block = block;
    r.block_len = sizeof block;
    r.src_fd = -1;
    SX_TRY(run_request(c, &r, c->timeout_ms));
    SX_TRY(read_reply(c, &r, rep));
    if (rep->resp.tag != want)
        return SX_E_PROTOCOL;
    return SX_OK;
}

static sx_status write_keys(sx_writer *w, const sx_key *const *keys, size_t n, sx_smp_list *l)
{
    SX_ENSURE(n >= 1 && n <= SX_XFTP_CLIENT_MAX_RECIPIENTS, SX_E_USAGE);
    for (size_t i = 0; i < n; i++) {
        uint8_t der[SX_KEY_SPKI_MAX];
        sx_smp_pubkey pk;
        SX_TRY(sx_smp_pubkey_of(keys[i], der, &pk));
        (void)sx_smp_write_pubkey(w, SX_KEY_AUTH_ALGS, &pk);
    }
    SX_TRY(sx_writer_status(w));
    l->count = n;
    l->items = sx_writer_slice(w);
    return SX_OK;
}

static sx_status copy_ids(const sx_xftp_ids *ids, size_t n, sx_xftp_id *out)
{
    if (ids->count != n)
        return SX_E_PROTOCOL;
    for (size_t i = 0; i < n; i++) {
        sx_slice s;
        SX_TRY(sx_xftp_ids_get(ids, i, &s));
        if (s.len == 0 || s.len > SX_XFTP_ID_MAX)
            return SX_E_PROTOCOL;
        memcpy(out[i].bytes, s.ptr, s.len);
        out[i].len = s.len;
    }
    return SX_OK;
}

sx_status sx_xftp_client_fnew(sx_xftp_client *c, const sx_key *snd_key, uint32_t size,
                              sx_slice digest, const sx_key *const *rcv_keys, size_t n,
                              const char *basic_auth, sx_xftp_id *sender_id, sx_xftp_id *rcv_ids)
{
    SX_ENSURE(c && snd_key && rcv_keys && sender_id && rcv_ids, SX_E_USAGE);
    uint8_t kbuf[SX_XFTP_BLOCK_SIZE];
    sx_writer kw;
    sx_writer_init_fixed(&kw, kbuf, sizeof kbuf);
    sx_xftp_cmd cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.tag = SX_XFTP_C_FNEW;
    SX_TRY(write_keys(&kw, rcv_keys, n, &cmd.fnew.rcv_keys));
    uint8_t sder[SX_KEY_SPKI_MAX];
    SX_TRY(sx_smp_pubkey_of(snd_key, sder, &cmd.fnew.file.snd_key));
    cmd.fnew.file.size = size;
    cmd.fnew.file.digest = digest;
    if (basic_auth) {
        cmd.fnew.has_basic_auth = true;
        cmd.fnew.basic_auth = sx_slice_str(basic_auth);
    }
    sx_xftp_reply rep;
    SX_TRY(simple_command(c, snd_key, sx_slice_of(NULL, 0), &cmd, SX_XFTP_R_SIDS, &rep));
    sx_slice sid = rep.resp.sids.sender_id;
    if (sid.len == 0 || sid.len > SX_XFTP_ID_MAX)
        return SX_E_PROTOCOL;
    memcpy(sender_id->bytes, sid.ptr, sid.len);
    sender_id->len = sid.len;
    return copy_ids(&rep.resp.sids.rcv_ids, n, rcv_ids);
}

sx_status sx_xftp_client_fadd(sx_xftp_client *c, const sx_key *snd_key, sx_slice sender_id,
                              const sx_key *const *rcv_keys, size_t n, sx_xftp_id *rcv_ids)
{
    SX_ENSURE(c && snd_key && rcv_keys && rcv_ids && sender_id.len > 0, SX_E_USAGE);
    uint8_t kbuf[SX_XFTP_BLOCK_SIZE];
    sx_writer kw;
    sx_writer_init_fixed(&kw, kbuf, sizeof kbuf);
    sx_xftp_cmd cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.tag = SX_XFTP_C_FADD;
    SX_TRY(write_keys(&kw, rcv_keys, n, &cmd.rcv_keys));
    sx_xftp_reply rep;
    SX_TRY(simple_command(c, snd_key, sender_id, &cmd, SX_XFTP_R_RIDS, &rep));
    return copy_ids(&rep.resp.rcv_ids, n, rcv_ids);
}

sx_status sx_xftp_client_fput(sx_xftp_client *c, const sx_key *snd_key, sx_slice sender_id,
                              int fd, int64_t offset, uint32_t size)
{
    SX_ENSURE(c && snd_key && fd >= 0 && offset >= 0 && sender_id.len > 0, SX_E_USAGE);
    memset(&c->err, 0, sizeof c->err);
    sx_xftp_cmd cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.tag = SX_XFTP_C_FPUT;
    uint8_t block[SX_XFTP_BLOCK_SIZE];
    SX_TRY(make_block(c, snd_key, sender_id, &cmd, block));
    request r;
    memset(&r, 0, sizeof r);
    r.block = block;
    r.block_len = sizeof block;
    r.src_fd = fd;
    r.src_off = offset;
    r.src_len = size;
    SX_TRY(run_request(c, &r, chunk_timeout(c, size)));
    sx_xftp_reply rep;
    SX_TRY(read_reply(c, &r, &rep));
    return rep.resp.tag == SX_XFTP_R_OK ? SX_OK : SX_E_PROTOCOL;
}

sx_status sx_xftp_client_fget(sx_xftp_client *c, const sx_key *rcv_key, sx_slice rcv_id,
                              uint32_t size, sx_slice digest, int out_fd)
{
    SX_ENSURE(c && rcv_key && out_fd >= 0 && rcv_id.len > 0, SX_E_USAGE);
    memset(&c->err, 0, sizeof c->err);
    sx_key *dh = NULL;
    SX_TRY(sx_key_generate(SX_KEY_X25519, &dh));
    uint8_t dder[SX_KEY_SPKI_MAX];
    sx_xftp_cmd cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.tag = SX_XFTP_C_FGET;
    uint8_t block[SX_XFTP_BLOCK_SIZE];
    download d;
    memset(&d, 0, sizeof d);
    d.fd = out_fd;
    d.size = size;
    d.dh_priv = dh;
    sx_status st = sx_smp_pubkey_of(dh, dder, &cmd.dh_key);
    if (st == SX_OK)
        st = make_block(c, rcv_key, rcv_id, &cmd, block);
    if (st == SX_OK)
        st = sx_hash_init(&d.sha, SX_HASH_SHA256);
    if (st != SX_OK) {
        sx_key_free(dh);
        return st;
    }
    request r;
    memset(&r, 0, sizeof r);
    r.block = block;
    r.block_len = sizeof block;
    r.src_fd = -1;
    r.dl = &d;
    st = run_request(c, &r, chunk_timeout(c, size));
    sx_xftp_reply rep;
    if (st == SX_OK)
        st = read_reply(c, &r, &rep);
    if (st == SX_OK && rep.resp.tag != SX_XFTP_R_FILE)
        st = SX_E_PROTOCOL;
    if (st == SX_OK && !d.active)
        st = fail_with(c, SX_XFTP_ERR_CRYPTO);
    if (st == SX_OK && d.io_err != SX_OK)
        st = d.io_err;
    if (st == SX_OK && (d.too_long || d.got != size || d.tag_len != SX_XFTP_SB_TAG_LEN))
        st = fail_with(c, SX_XFTP_ERR_SIZE);
    if (st == SX_OK) {
        /* receiveSbFile: the tag first, then the digest of the plaintext */
        if (sx_xftp_sb_verify(&d.sb, sx_slice_of(d.tag, d.tag_len)) != SX_OK)
            st = fail_with(c, SX_XFTP_ERR_CRYPTO);
    }
    if (st == SX_OK) {
        uint8_t h[SX_SHA256_LEN];
        st = sx_hash_final(&d.sha, h, sizeof h);
        if (st == SX_OK && !sx_ct_equal(sx_slice_of(h, sizeof h), digest))
            st = fail_with(c, SX_XFTP_ERR_DIGEST);
    }
    sx_xftp_sb_cleanup(&d.sb);
    sx_hash_cleanup(&d.sha);
    sx_key_free(dh);
    return st;
}

sx_status sx_xftp_client_fack(sx_xftp_client *c, const sx_key *rcv_key, sx_slice rcv_id)
{
    SX_ENSURE(c && rcv_key && rcv_id.len > 0, SX_E_USAGE);
    sx_xftp_cmd cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.tag = SX_XFTP_C_FACK;
    sx_xftp_reply rep;
    return simple_command(c, rcv_key, rcv_id, &cmd, SX_XFTP_R_OK, &rep);
}

sx_status sx_xftp_client_fdel(sx_xftp_client *c, const sx_key *snd_key, sx_slice sender_id)
{
    SX_ENSURE(c && snd_key && sender_id.len > 0, SX_E_USAGE);
    sx_xftp_cmd cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.tag = SX_XFTP_C_FDEL;
    sx_xftp_reply rep;
    return simple_command(c, snd_key, sender_id, &cmd, SX_XFTP_R_OK, &rep);
}

sx_status sx_xftp_client_ping(sx_xftp_client *c)
{
    SX_ENSURE(c, SX_E_USAGE);
    sx_xftp_cmd cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.tag = SX_XFTP_C_PING;
    sx_xftp_reply rep;
    return simple_command(c, NULL, sx_slice_of(NULL, 0), &cmd, SX_XFTP_R_PONG, &rep);
}

/* ---- handshake ----------------------------------------------------------- */

sx_status sx_xftp_client_check_hello(const sx_xftp_server_hello *h, sx_slice session_id,
                                     sx_slice key_hash, uint16_t *version, sx_key **server_key)
{
    SX_ENSURE(h && version, SX_E_USAGE);
    if (server_key)
        *server_key = NULL;
    if (!sx_slice_eq(h->session_id, session_id))
        return SX_E_PROTOCOL; /* TEBadSession */
    sx_version_range ours = sx_xftp_vrange();
    uint16_t lo = h->range.min > ours.min ? h->range.min : ours.min;
    uint16_t hi = h->range.max < ours.max ? h->range.max : ours.max;
    if (lo > hi)
        return SX_E_PROTOCOL; /* TEVersion */
    if (h->cert_key.chain_len != 2)
        return SX_E_AUTH;
    uint8_t fp[SX_FINGERPRINT_LEN];
    sx_status st = sx_x509_fingerprint_der(h->cert_key.chain[1], fp);
    if (st == SX_E_NOMEM)
        return st;
    if (st != SX_OK || !sx_ct_equal(sx_slice_of(fp, sizeof fp), key_hash))
        return SX_E_AUTH;
    X509 *leaf = NULL;
    sx_key *leaf_key = NULL, *k = NULL;
    st = sx_x509_from_der(h->cert_key.chain[0], &leaf);
    if (st == SX_OK)
        st = sx_x509_public_key(leaf, &leaf_key);
    if (st == SX_OK)
        st = sx_x509_signed_key_verify(h->cert_key.signed_key, leaf_key,
                                       SX_KEY_BIT(SX_KEY_X25519), &k);
    X509_free(leaf);
    sx_key_free(leaf_key);
    if (st != SX_OK) {
        sx_key_free(k);
        return st == SX_E_NOMEM ? st : SX_E_AUTH;
    }
    *version = hi;
    if (server_key)
        *server_key = k;
    else
        sx_key_free(k);
    return SX_OK;
}

static sx_status handshake(sx_xftp_client *c, sx_slice key_hash)
{
    /* PROTOCOL-NOTES F6: an empty POST; the answer is the padded server
     * hello */
    request r;
    memset(&r, 0, sizeof r);
    r.src_fd = -1;
    SX_TRY(run_request(c, &r, c->timeout_ms));
    sx_slice content;
    if (r.head_len != SX_XFTP_BLOCK_SIZE || r.head_overflow ||
        sx_block_decode(sx_slice_of(c->head, SX_XFTP_BLOCK_SIZE), &content) != SX_OK)
        return fail_with(c, SX_XFTP_ERR_BLOCK);
    sx_xftp_server_hello h;
    sx_status st = sx_xftp_server_hello_decode(content, &h);
    if (st != SX_OK) {
        c->err = sx_xftp_error_of(SX_XFTP_ERR_HANDSHAKE);
        return st == SX_E_NOMEM ? st : SX_E_PROTOCOL;
    }
    uint16_t v = 0;
    st = sx_xftp_client_check_hello(&h, sx_slice_of(c->session_id, c->session_id_len), key_hash,
                                    &v, NULL);
    if (st != SX_OK) {
        c->err = sx_xftp_error_of(st == SX_E_AUTH || st == SX_E_PROTOCOL ? SX_XFTP_ERR_HANDSHAKE
                                                                         : SX_XFTP_ERR_INTERNAL);
        return st;
    }
    /* PROTOCOL-NOTES F7: the client handshake; the answer must be empty */
    uint8_t cbuf[128];
    sx_writer w;
    sx_writer_init_fixed(&w, cbuf, sizeof cbuf);
    sx_xftp_client_handshake ch = {.version = v, .key_hash = key_hash};
    (void)sx_xftp_client_handshake_write(&w, &ch);
    SX_TRY(sx_writer_status(&w));
    uint8_t block[SX_XFTP_BLOCK_SIZE];
    SX_TRY(sx_block_encode(sx_writer_slice(&w), block));
    memset(&r, 0, sizeof r);
    r.src_fd = -1;
    r.block = block;
    r.block_len = sizeof block;
    SX_TRY(run_request(c, &r, c->timeout_ms));
    if (r.head_len != 0) {
        /* a failed handshake answers with a padded error text */
        c->err = sx_xftp_error_of(SX_XFTP_ERR_HANDSHAKE);
        return SX_E_PROTOCOL;
    }
    c->version = v;
    return SX_OK;
}

static sx_status make_session(sx_xftp_client *c)
{
    nghttp2_session_callbacks *cb = NULL;
    if (nghttp2_session_callbacks_new(&cb) != 0)
        return SX_E_NOMEM;
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    int rv = nghttp2_session_client_new(&c->h2, cb, c);
    nghttp2_session_callbacks_del(cb);
    if (rv != 0)
        return SX_E_NOMEM;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, LOCAL_WINDOW},
    };
    if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]) != 0 ||
        nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, LOCAL_WINDOW) != 0)
        return SX_E_INTERNAL;
    return SX_OK;
}

/* TCP to host:port: each address of the name in turn, within the timeout. */
static sx_status dial(sx_xftp_client *c, const char *host, uint16_t port, sx_xftp_connect_fail *why)
{
    sx_net_addr addrs[8];
    size_t n = 0;
    if (sx_net_resolve(host, port, addrs, sizeof addrs / sizeof addrs[0], &n) != SX_OK || n == 0) {
        why->step = SX_XFTP_STEP_RESOLVE;
        return SX_E_IO;
    }
    why->step = SX_XFTP_STEP_TCP;
    why->sys_errno = ECONNREFUSED;
    int64_t deadline = now_ms() + c->timeout_ms;
    for (size_t i = 0; i < n; i++) {
        int fd = -1;
        errno = 0;
        if (sx_net_connect_start(&addrs[i], &fd) != SX_OK) {
            why->sys_errno = errno ? errno : ECONNREFUSED;
            continue;
        }
        sx_status st = SX_E_WOULD_BLOCK;
        for (int64_t left = deadline - now_ms(); st == SX_E_WOULD_BLOCK && left > 0 && !stop_asked(c);
             left = deadline - now_ms())
            st = sx_net_wait(fd, true, slice_ms(left));
        if (c->cancelled) {
            sx_net_close(fd);
            why->step = SX_XFTP_STEP_CANCELLED;
            return SX_E_IO;
        }
        int err = 0;
        socklen_t len = sizeof err;
        if (st == SX_E_WOULD_BLOCK)
            err = ETIMEDOUT;
        else if (st != SX_OK || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = err ? err : EIO;
        if (err == 0 && sx_net_connect_finish(fd) == SX_OK) {
            c->fd = fd;
            why->step = SX_XFTP_STEP_NONE;
            why->sys_errno = 0;
            return SX_OK;
        }
        why->sys_errno = err ? err : ECONNREFUSED;
        sx_net_close(fd);
        if (err == ETIMEDOUT)
            break;
    }
    return SX_E_IO;
}

/* The TLS handshake within the timeout, in slices. */
static sx_status tls_handshake(sx_xftp_client *c)
{
    int64_t deadline = now_ms() + c->timeout_ms;
    for (;;) {
        sx_status st = sx_tls_handshake(c->tls);
        if (st != SX_E_WOULD_BLOCK)
            return st;
        if (stop_asked(c))
            return SX_E_IO;
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return SX_E_IO;
        st = sx_net_wait(c->fd, sx_tls_conn_want(c->tls) == SX_TLS_WANT_WRITE, slice_ms(left));
        if (st != SX_OK && st != SX_E_WOULD_BLOCK)
            return st;
    }
}

sx_status sx_xftp_client_connect(const sx_xftp_fd_server *server, const sx_xftp_client_opts *opts,
                                 sx_xftp_client **out)
{
    return sx_xftp_client_connect_ex(server, opts, out, NULL);
}

sx_status sx_xftp_client_connect_ex(const sx_xftp_fd_server *server, const sx_xftp_client_opts *opts,
                                    sx_xftp_client **out, sx_xftp_connect_fail *why)
{
    sx_xftp_connect_fail ignored;
    if (!why)
        why = &ignored;
    memset(why, 0, sizeof *why);
    SX_ENSURE(server && out, SX_E_USAGE);
    *out = NULL;
    why->step = SX_XFTP_STEP_ADDRESS;
    SX_ENSURE(server->host_count > 0 && server->key_hash_len == SX_TLS_KEY_HASH_LEN, SX_E_USAGE);
    sx_xftp_client *c = calloc(1, sizeof *c);
    if (!c)
        return SX_E_NOMEM;
    c->fd = -1;
    c->timeout_ms = opts && opts->timeout_ms > 0 ? opts->timeout_ms
                                                  : SX_XFTP_CLIENT_DEFAULT_TIMEOUT_MS;
    c->per_kb_ms = opts && opts->timeout_per_kb_ms > 0 ? opts->timeout_per_kb_ms
                                                        : SX_XFTP_CLIENT_DEFAULT_PER_KB_MS;
    c->version = SX_XFTP_VERSION_MIN;
    c->cancel = opts ? opts->cancel : NULL;
    /* chooseTransportHost: the first public host (onion only through a
     * proxy, which this client does not have) */
    char host[SX_XFTP_FD_SERVER_MAX + 1];
    uint16_t port = 443;
    size_t hi = 0;
    while (hi < server->host_count && server->host_kind[hi] == HOST_ONION)
        hi++;
    sx_status st = SX_OK;
    if (hi == server->host_count) {
        st = SX_E_USAGE;
        goto fail;
    }
    {
        const char *h = server->text + server->host_off[hi];
        size_t hl = server->host_len[hi];
        snprintf(c->authority, sizeof c->authority, "%.*s", (int)hl, h);
        if (hl >= 2 && h[0] == '[') {
            h++;
            hl -= 2;
        }
        memcpy(host, h, hl);
        host[hl] = '\0';
        if (server->port_len > 0) {
            unsigned long p = 0;
            for (size_t i = 0; i < server->port_len; i++)
                p = p * 10 + (unsigned long)(server->text[server->port_off + i] - '0');
            if (p == 0 || p > 65535) {
                st = SX_E_USAGE;
                goto fail;
            }
            port = (uint16_t)p;
        }
    }
    if (opts && opts->host) {
        snprintf(host, sizeof host, "%s", opts->host);
        port = opts->port;
    }
    static const char *const alpn[] = {"xftp/1", NULL};
    sx_tls_client_config tcfg = {.alpn = alpn, .creds = NULL};
    why->step = SX_XFTP_STEP_NONE;
    st = sx_tls_client_ctx_new(&tcfg, &c->tls_ctx);
    if (st == SX_OK)
        st = dial(c, host, port, why);
    if (st != SX_OK)
        goto fail;
    why->step = SX_XFTP_STEP_TLS;
    st = sx_tls_conn_new_client(c->tls_ctx, c->fd, server->key_hash, &c->tls);
    if (st == SX_OK)
        st = tls_handshake(c);
    if (st == SX_E_AUTH)
        why->step = SX_XFTP_STEP_IDENTITY;
    else if (st != SX_OK && sx_tls_alpn_refused(c->tls))
        why->step = SX_XFTP_STEP_ALPN;
    if (st != SX_OK)
        goto fail;
    /* PROTOCOL-NOTES F8: exactly [leaf, ca]; the TLS layer checked the CA's
     * hash */
    if (sx_tls_peer_chain_len(c->tls) != 2) {
        why->step = SX_XFTP_STEP_IDENTITY;
        st = SX_E_AUTH;
        goto fail;
    }
    sx_slice u = sx_tls_unique(c->tls);
    if (u.len == 0 || u.len > sizeof c->session_id) {
        st = SX_E_PROTOCOL;
        goto fail;
    }
    memcpy(c->session_id, u.ptr, u.len);
    c->session_id_len = u.len;
    why->step = SX_XFTP_STEP_HANDSHAKE;
    st = make_session(c);
    if (st != SX_OK)
        goto fail;
    c->usable = true;
    sx_slice alpn_got = sx_tls_alpn(c->tls);
    c->negotiated = sx_slice_eq(alpn_got, sx_slice_str("xftp/1"));
    if (c->negotiated)
        st = handshake(c, sx_slice_of(server->key_hash, server->key_hash_len));
    if (st == SX_E_AUTH && c->err.type == SX_XFTP_ERR_HANDSHAKE)
        why->step = SX_XFTP_STEP_IDENTITY; /* the router's signed key did not check out */
    if (st != SX_OK)
        goto fail;
    why->step = SX_XFTP_STEP_NONE;
    *out = c;
    return SX_OK;
fail:
    if (c->cancelled) {
        why->step = SX_XFTP_STEP_CANCELLED;
        st = SX_E_IO;
    }
    sx_xftp_client_free(c);
    return st;
}

void sx_xftp_client_free(sx_xftp_client *c)
{
    if (!c)
        return;
    if (c->h2 && c->usable && c->tls) {
        /* best effort: GOAWAY and close_notify without waiting for replies */
        bool blocked = false;
        if (nghttp2_session_terminate_session(c->h2, NGHTTP2_NO_ERROR) == 0 &&
            flush(c, &blocked) == SX_OK && !blocked) {
            sx_status st = sx_tls_shutdown(c->tls);
            (void)st;
        }
    }
    if (c->h2)
        nghttp2_session_del(c->h2);
    sx_tls_conn_free(c->tls);
    sx_net_close(c->fd);
    sx_tls_ctx_free(c->tls_ctx);
    sx_wipe(c, sizeof *c);
    free(c);
}

uint16_t sx_xftp_client_version(const sx_xftp_client *c)
{
    return c->version;
}

sx_slice sx_xftp_client_session_id(const sx_xftp_client *c)
{
    return sx_slice_of(c->session_id, c->session_id_len);
}

sx_xftp_error sx_xftp_client_error(const sx_xftp_client *c)
{
    return c->err;
}

bool sx_xftp_client_usable(const sx_xftp_client *c)
{
    return c->usable;
}

bool sx_xftp_client_cancelled(const sx_xftp_client *c)
{
    return c->cancelled;
}

bool sx_xftp_client_negotiated(const sx_xftp_client *c)
{
    return c->negotiated;
}
