/* XFTP router, HTTP/2 requests (PROTOCOL-NOTES F5-F10): the nghttp2
 * session of a connection and its callbacks, request streams, responses
 * (padded blocks, the streamed FGET body, CORS), responses held until their
 * store-log record is written (PROTOCOL-NOTES E25), the handshake (xftp/1
 * and web), the static page on SNI connections, and the dispatch of a
 * complete request to the commands (server_cmd.c). Connections, workers and
 * timers are in server.c. */
#include "xftp_router/server_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "core/pad.h"
#include "crypto/util.h"
#include "crypto/x509.h"
#include "kit/say.h"

#define XS_WINDOW (1024 * 1024) /* per-stream and connection receive window */
#define XS_DATA_PAYLOAD (16384 - 9) /* DATA bytes per frame: a frame per TLS record */

/* ---- responses held for the store log ---- */

static void held_add(xs_stream *st)
{
    xs_worker *w = st->c->w;
    st->holding = true;
    st->held_next = NULL;
    st->held_prev = w->held_tail;
    if (w->held_tail)
        w->held_tail->held_next = st;
    else
        w->held_head = st;
    w->held_tail = st;
}

static void held_remove(xs_stream *st)
{
    xs_worker *w = st->c->w;
    if (!st->holding)
        return;
    if (st->held_prev)
        st->held_prev->held_next = st->held_next;
    else
        w->held_head = st->held_next;
    if (st->held_next)
        st->held_next->held_prev = st->held_prev;
    else
        w->held_tail = st->held_prev;
    st->holding = false;
    st->held_prev = st->held_next = NULL;
}

/* ---- streams ---- */

void xs_stream_free(xs_stream *st)
{
    xs_conn *c = st->c;
    if (st->prev)
        st->prev->next = st->next;
    else
        c->streams = st->next;
    if (st->next)
        st->next->prev = st->prev;
    held_remove(st);
    free(st->held);
    xs_upload_gone(st);
    if (st->file_fd >= 0)
        close(st->file_fd);
    sx_xftp_sb_cleanup(&st->sb);
    free(st->head);
    free(st->out);
    free(st);
}

/* ---- responses ---- */

static ssize_t body_read_cb(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t length,
                            uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    (void)h2;
    (void)id;
    (void)ud;
    xs_stream *st = src->ptr;
    size_t n = 0;
    /* Each frame goes to TLS on its own (conn_flush): a full 16384-byte
     * payload after the 9-byte frame header would take a full record and a
     * 9-byte one, each sealed and sent apart; a payload 9 bytes shorter
     * makes the frame one record exactly. */
    if (length > XS_DATA_PAYLOAD)
        length = XS_DATA_PAYLOAD;
    if (st->out_pos < st->out_len) {
        size_t k = st->out_len - st->out_pos;
        if (k > length)
            k = length;
        memcpy(buf, st->out + st->out_pos, k);
        st->out_pos += k;
        n += k;
        if (st->out_pos == st->out_len) {
            free(st->out);
            st->out = NULL;
            st->out_len = st->out_pos = 0;
        }
    }
    while (n < length && st->file_left > 0) {
        size_t want = length - n;
        if (want > st->file_left)
            want = (size_t)st->file_left;
        ssize_t r = pread(st->file_fd, buf + n, want, (off_t)st->file_off);
        if (r <= 0)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
        if (st->encrypt && sx_xftp_sb_encrypt(&st->sb, sx_slice_of(buf + n, (size_t)r), buf + n) != SX_OK)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        st->file_off += (uint64_t)r;
        st->file_left -= (uint64_t)r;
        n += (size_t)r;
    }
    if (st->file_left == 0 && st->file_fd >= 0) {
        close(st->file_fd);
        st->file_fd = -1;
        if (st->encrypt)
            sx_xftp_sb_tag(&st->sb, st->tag);
    }
    if (st->encrypt && st->file_fd < 0 && st->out_len == 0) {
        while (n < length && st->tag_pos < SX_XFTP_SB_TAG_LEN)
            buf[n++] = st->tag[st->tag_pos++];
        if (st->tag_pos == SX_XFTP_SB_TAG_LEN)
            st->encrypt = false;
    }
    if (st->out_len == 0 && st->file_fd < 0 && !st->encrypt)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static void add_header(nghttp2_nv *nv, size_t *n, const char *name, const char *value)
{
    nv[*n].name = (uint8_t *)(uintptr_t)name;
    nv[*n].namelen = strlen(name);
    nv[*n].value = (uint8_t *)(uintptr_t)value;
    nv[*n].valuelen = strlen(value);
    nv[*n].flags = NGHTTP2_NV_FLAG_NONE;
    (*n)++;
}

static void respond_status(xs_stream *st, const char *status, uint8_t *body, size_t len,
                           const char *content_type, bool preflight)
{
    xs_conn *c = st->c;
    if (st->responded) {
        free(body);
        return;
    }
    st->responded = true;
    nghttp2_nv nv[8];
    size_t n = 0;
    add_header(nv, &n, ":status", status);
    if (preflight) {
        add_header(nv, &n, "access-control-allow-origin", "*");
        add_header(nv, &n, "access-control-allow-methods", "POST, OPTIONS");
        add_header(nv, &n, "access-control-allow-headers", "*");
        add_header(nv, &n, "access-control-max-age", "86400");
    } else if (c->sni_used && !content_type) {
        /* CORS headers on XFTP responses to browsers (SNI connections). */
        add_header(nv, &n, "access-control-allow-origin", "*");
        add_header(nv, &n, "access-control-expose-headers", "*");
    }
    if (content_type)
        add_header(nv, &n, "content-type", content_type);
    free(st->out);
    st->out = body;
    st->out_len = body ? len : 0;
    st->out_pos = 0;
    nghttp2_data_provider dp;
    dp.source.ptr = st;
    dp.read_callback = body_read_cb;
    bool has_body = st->out_len > 0 || st->file_fd >= 0;
    if (nghttp2_submit_response(c->h2, st->id, nv, n, has_body ? &dp : NULL) != 0)
        c->closing = true;
}

/* The store log failed before the record a response depended on was
 * written: the client gets the command's error instead. */
static void respond_log_failed(xs_stream *st)
{
    st->hold_seq = 0;
    st->responded = false;
    xs_respond_err(st, st->v, sx_slice_of(st->corr, st->corr_len), sx_slice_of(st->ent, st->ent_len),
                   st->hold_err);
}

void xs_respond(xs_stream *st, uint8_t *body, size_t len, const char *content_type)
{
    if (st->hold_seq && !st->responded) {
        sx_status ls = sx_xftp_fstore_log_status(st->c->w->s->store, st->hold_seq);
        if (ls == SX_E_WOULD_BLOCK) {
            /* Kept until log_task_cb finds the record written. */
            st->responded = true;
            st->held = body;
            st->held_len = len;
            held_add(st);
            return;
        }
        if (ls != SX_OK) {
            free(body);
            respond_log_failed(st);
            return;
        }
        st->hold_seq = 0;
    }
    respond_status(st, "200", body, len, content_type, false);
}

/* A padded 16384-byte block of `content` as the response body. */
static void respond_padded(xs_stream *st, sx_slice content)
{
    uint8_t *b = malloc(SX_XFTP_BLOCK_SIZE);
    if (!b || sx_pad(content, b, SX_XFTP_BLOCK_SIZE) != SX_OK) {
        free(b);
        st->c->closing = true;
        return;
    }
    xs_respond(st, b, SX_XFTP_BLOCK_SIZE, NULL);
}

/* PROTOCOL-NOTES F7: a failed handshake answers the padded error text. */
static void respond_hs_error(xs_stream *st, sx_xftp_err_type t)
{
    uint8_t buf[64];
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    sx_xftp_error e = sx_xftp_error_of(t);
    if (!sx_xftp_error_write(&w, SX_XFTP_VERSION_MAX, &e)) {
        st->c->closing = true;
        return;
    }
    respond_padded(st, sx_writer_slice(&w));
}

/* ---- handshake (PROTOCOL-NOTES F6-F10) ---- */

static bool hs_key_ensure(xs_conn *c)
{
    if (c->hs_key)
        return true;
    size_t n = 0;
    if (sx_key_generate(SX_KEY_X25519, &c->hs_key) != SX_OK)
        return false;
    if (sx_key_raw_private(c->hs_key, c->hs_priv, sizeof c->hs_priv, &n) != SX_OK || n != 32) {
        sx_key_free(c->hs_key);
        c->hs_key = NULL;
        return false;
    }
    return true;
}

/* Server hello; the session key is made on the first hello and kept. */
static void hs_hello(xs_stream *st)
{
    xs_conn *c = st->c;
    xs_server *s = c->w->s;
    sx_xftp_client_hello ch = {0};
    sx_slice body = {0};
    if (st->head_len > 0) {
        if (!c->sni_used) {
            respond_hs_error(st, SX_XFTP_ERR_HANDSHAKE);
            return;
        }
        if (sx_unpad(sx_slice_of(st->head, st->head_len), &body) != SX_OK ||
            sx_xftp_client_hello_decode(body, &ch) != SX_OK) {
            respond_hs_error(st, SX_XFTP_ERR_HANDSHAKE);
            return;
        }
    }
    if (!hs_key_ensure(c)) {
        respond_hs_error(st, SX_XFTP_ERR_INTERNAL);
        return;
    }
    c->hs = XS_HS_SENT;
    uint8_t skbuf[SX_SIGNED_KEY_MAX];
    sx_writer sw;
    sx_writer_init_fixed(&sw, skbuf, sizeof skbuf);
    uint8_t proof[128];
    size_t proof_len = 0;
    sx_xftp_server_hello h = {0};
    h.range = sx_xftp_vrange();
    h.session_id = sx_slice_of(c->sid, c->sid_len);
    size_t nc = sx_tls_ctx_chain_len(s->tls);
    if (nc > SX_X509_CHAIN_MAX)
        nc = SX_X509_CHAIN_MAX;
    h.cert_key.chain_len = nc;
    for (size_t i = 0; i < nc; i++)
        h.cert_key.chain[i] = sx_tls_ctx_cert(s->tls, i);
    if (!sx_x509_write_signed_key(&sw, s->sign_key, c->hs_key)) {
        respond_hs_error(st, SX_XFTP_ERR_INTERNAL);
        return;
    }
    h.cert_key.signed_key = sx_writer_slice(&sw);
    if (ch.has_web_challenge) {
        uint8_t msg[SX_XFTP_WEB_CHALLENGE_LEN + SX_TLS_UNIQUE_MAX];
        memcpy(msg, ch.web_challenge.ptr, ch.web_challenge.len);
        memcpy(msg + ch.web_challenge.len, c->sid, c->sid_len);
        if (sx_key_sign(s->sign_key, sx_slice_of(msg, ch.web_challenge.len + c->sid_len), proof,
                        sizeof proof, &proof_len) != SX_OK) {
            respond_hs_error(st, SX_XFTP_ERR_INTERNAL);
            return;
        }
        h.has_web_proof = true;
        h.web_proof = sx_slice_of(proof, proof_len);
    }
    uint8_t *content = malloc(SX_XFTP_BLOCK_SIZE);
    if (!content) {
        c->closing = true;
        return;
    }
    sx_writer w;
    sx_writer_init_fixed(&w, content, SX_XFTP_BLOCK_SIZE);
    if (!sx_xftp_server_hello_write(&w, &h)) {
        free(content);
        respond_hs_error(st, SX_XFTP_ERR_HANDSHAKE);
        return;
    }
    respond_padded(st, sx_writer_slice(&w));
    free(content);
}

static void hs_client(xs_stream *st)
{
    xs_conn *c = st->c;
    sx_slice body;
    sx_xftp_client_handshake h;
    if (st->head_len != SX_XFTP_BLOCK_SIZE || sx_unpad(sx_slice_of(st->head, st->head_len), &body) != SX_OK ||
        sx_xftp_client_handshake_decode(body, &h) != SX_OK || h.key_hash.len != sizeof c->w->s->identity ||
        !sx_ct_equal(h.key_hash, sx_slice_of(c->w->s->identity, sizeof c->w->s->identity)) ||
        h.version < SX_XFTP_VERSION_MIN || h.version > SX_XFTP_VERSION_MAX) {
        respond_hs_error(st, SX_XFTP_ERR_HANDSHAKE);
        return;
    }
    c->version = h.version;
    c->hs = XS_HS_ACCEPTED;
    sx_kit_workers_handshake_done(c->w->s->ws, &c->peer);
    SX_SAY(SX_SAY_DEBUG, "client %llu: handshake done, XFTP version %u", (unsigned long long)c->id,
           (unsigned)h.version);
    xs_respond(st, NULL, 0, NULL);
}

/* The request head is complete (16384 bytes or the end of the body). */
static void dispatch(xs_stream *st)
{
    xs_conn *c = st->c;
    /* A connection with no XFTP handshake (no ALPN: version 1; another
     * protocol: a browser) has finished its handshake with its first
     * request; one with it, once the client's handshake is accepted. */
    if (c->alpn_none || !c->alpn_xftp)
        sx_kit_workers_handshake_done(c->w->s->ws, &c->peer);
    if (c->alpn_none) {
        xs_process_request(st, 1);
        return;
    }
    if (!c->alpn_xftp) {
        xs_respond(st, NULL, 0, NULL);
        return;
    }
    switch (c->hs) {
    case XS_HS_NONE:
        if (c->sni_used && !st->web_hello)
            respond_hs_error(st, SX_XFTP_ERR_SESSION);
        else
            hs_hello(st);
        return;
    case XS_HS_SENT:
        if (st->web_hello)
            hs_hello(st);
        else
            hs_client(st);
        return;
    case XS_HS_ACCEPTED:
        if (st->web_hello) {
            hs_hello(st);
        } else if (st->web_handshake) {
            hs_client(st);
        } else {
            xs_process_request(st, c->version);
        }
        return;
    }
}

/* ---- static page (GET on SNI connections) ---- */

static const char *mime_of(const char *p)
{
    static const char *const map[][2] = {
        {".html", "text/html"}, {".css", "text/css"}, {".js", "application/javascript"},
        {".svg", "image/svg+xml"}, {".png", "image/png"}, {".ico", "image/x-icon"},
        {".json", "application/json"}, {"apple-app-site-association", "application/json"},
        {".woff2", "font/woff2"}, {".woff", "font/woff"}, {".ttf", "font/ttf"},
    };
    size_t n = strlen(p);
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        size_t k = strlen(map[i][0]);
        if (n >= k && strcmp(p + n - k, map[i][0]) == 0)
            return map[i][1];
    }
    return "application/octet-stream";
}

static bool is_regular(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

static void serve_static(xs_stream *st)
{
    const xs_server *s = st->c->w->s;
    char rel[1024];
    const char *p = st->path[0] ? st->path : "/";
    size_t q = strcspn(p, "?#");
    if (st->path_long || q >= sizeof rel) {
        respond_status(st, "404", NULL, 0, NULL, false);
        return;
    }
    memcpy(rel, p, q);
    rel[q] = 0;
    const char *r = rel;
    char wk[1024];
    if (strncmp(r, "/.well-known/", 13) == 0) {
        int k = snprintf(wk, sizeof wk, "/well-known/%s", r + 13);
        if (k < 0 || (size_t)k >= sizeof wk) {
            respond_status(st, "404", NULL, 0, NULL, false);
            return;
        }
        r = wk;
    }
    while (*r == '/')
        r++;
    char cand[XS_PATH_MAX], canon[PATH_MAX];
    int k = *r ? snprintf(cand, sizeof cand, "%s/%s", s->web_root, r)
               : snprintf(cand, sizeof cand, "%s/index.html", s->web_root);
    bool found = k > 0 && (size_t)k < sizeof cand && is_regular(cand);
    if (!found && k > 0 && (size_t)k < sizeof cand) {
        char idx[XS_PATH_MAX + 16];
        int k2 = snprintf(idx, sizeof idx, "%s/index.html", cand);
        if (k2 > 0 && (size_t)k2 < sizeof cand && is_regular(idx)) {
            memcpy(cand, idx, (size_t)k2 + 1);
            found = true;
        }
    }
    size_t rl = strlen(s->web_root);
    if (!found || !realpath(cand, canon) || strncmp(canon, s->web_root, rl) != 0 || canon[rl] != '/') {
        respond_status(st, "404", NULL, 0, NULL, false);
        return;
    }
    int fd = open(canon, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        if (fd >= 0)
            close(fd);
        respond_status(st, "404", NULL, 0, NULL, false);
        return;
    }
    st->file_fd = fd;
    st->file_off = 0;
    st->file_left = (uint64_t)sb.st_size;
    if (st->file_left == 0) {
        close(fd);
        st->file_fd = -1;
    }
    respond_status(st, "200", NULL, 0, mime_of(canon), false);
}

/* Headers of a request are complete. */
static void on_request_headers(xs_stream *st, bool end_stream)
{
    xs_conn *c = st->c;
    if (strcmp(st->method, "OPTIONS") == 0 && c->sni_used) {
        st->phase = XS_DISCARD;
        respond_status(st, "200", NULL, 0, NULL, true);
        return;
    }
    if (strcmp(st->method, "GET") == 0 && c->sni_used) {
        st->phase = XS_DISCARD;
        if (c->w->s->web_root[0])
            serve_static(st);
        else
            respond_status(st, "404", NULL, 0, NULL, false);
        return;
    }
    if (end_stream) {
        st->phase = XS_DISCARD;
        dispatch(st);
    }
}

/* ---- nghttp2 callbacks ---- */

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *frame, void *ud)
{
    xs_conn *c = ud;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    xs_stream *st = calloc(1, sizeof *st);
    if (!st)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    st->c = c;
    st->id = frame->hd.stream_id;
    st->file_fd = -1;
    st->next = c->streams;
    if (c->streams)
        c->streams->prev = st;
    c->streams = st;
    nghttp2_session_set_stream_user_data(h2, st->id, st);
    return 0;
}

static bool hname_is(const uint8_t *name, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(name, want, len) == 0;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
    (void)flags;
    (void)ud;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    xs_stream *st = nghttp2_session_get_stream_user_data(h2, frame->hd.stream_id);
    if (!st)
        return 0;
    if (hname_is(name, namelen, ":method")) {
        size_t n = valuelen < sizeof st->method - 1 ? valuelen : sizeof st->method - 1;
        memcpy(st->method, value, n);
        st->method[n] = 0;
    } else if (hname_is(name, namelen, ":path")) {
        if (valuelen >= sizeof st->path) {
            st->path_long = true;
        } else {
            memcpy(st->path, value, valuelen);
            st->path[valuelen] = 0;
        }
    } else if (hname_is(name, namelen, "xftp-web-hello")) {
        st->web_hello = st->c->sni_used;
    } else if (hname_is(name, namelen, "xftp-handshake")) {
        st->web_handshake = st->c->sni_used;
    }
    return 0;
}

/* The head is only read while the request is dispatched. */
static void release_head(xs_stream *st)
{
    free(st->head);
    st->head = NULL;
}

/* Returns how many bytes the upload took (consumed later, when written). */
static size_t body_bytes(xs_stream *st, const uint8_t *data, size_t len)
{
    while (len > 0) {
        switch (st->phase) {
        case XS_HEAD: {
            if (!st->head) {
                st->head = malloc(SX_XFTP_BLOCK_SIZE);
                if (!st->head) {
                    st->c->closing = true;
                    return 0;
                }
            }
            size_t k = SX_XFTP_BLOCK_SIZE - st->head_len;
            if (k > len)
                k = len;
            memcpy(st->head + st->head_len, data, k);
            st->head_len += k;
            data += k;
            len -= k;
            if (st->head_len == SX_XFTP_BLOCK_SIZE) {
                st->phase = XS_DISCARD; /* unless FPUT sets a body phase */
                dispatch(st);
                release_head(st);
            }
            break;
        }
        case XS_UPLOAD:
        case XS_DRAIN:
            return xs_upload_data(st, data, len);
        case XS_DISCARD:
            return 0;
        }
    }
    return 0;
}

static int on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
                         void *ud)
{
    (void)flags;
    (void)ud;
    xs_stream *st = nghttp2_session_get_stream_user_data(h2, id);
    size_t kept = st ? body_bytes(st, data, len) : 0;
    /* Automatic window updates are off: what the upload did not take is
     * consumed now, the rest when the I/O thread has written it. */
    if (kept < len && nghttp2_session_consume(h2, id, len - kept) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return 0;
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *frame, void *ud)
{
    (void)ud;
    xs_stream *st = nghttp2_session_get_stream_user_data(h2, frame->hd.stream_id);
    if (!st)
        return 0;
    bool end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
        on_request_headers(st, end);
    } else if (frame->hd.type == NGHTTP2_DATA && end) {
        if (st->phase == XS_HEAD) {
            st->phase = XS_DISCARD;
            dispatch(st);
            release_head(st);
            if (st->phase == XS_UPLOAD || st->phase == XS_DRAIN)
                xs_upload_end(st); /* FPUT with nothing after the block */
        } else if (st->phase == XS_UPLOAD || st->phase == XS_DRAIN) {
            xs_upload_end(st);
        }
    }
    return 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t id, uint32_t error_code, void *ud)
{
    (void)error_code;
    (void)ud;
    xs_stream *st = nghttp2_session_get_stream_user_data(h2, id);
    if (st) {
        nghttp2_session_set_stream_user_data(h2, id, NULL);
        xs_stream_free(st);
    }
    return 0;
}

static nghttp2_session_callbacks *g_cbs;
static nghttp2_option *g_opt;
static pthread_once_t g_cbs_once = PTHREAD_ONCE_INIT;

static void make_callbacks(void)
{
    if (nghttp2_option_new(&g_opt) != 0) {
        g_opt = NULL;
        return;
    }
    nghttp2_option_set_no_auto_window_update(g_opt, 1);
    if (nghttp2_session_callbacks_new(&g_cbs) != 0) {
        g_cbs = NULL;
        return;
    }
    nghttp2_session_callbacks_set_on_begin_headers_callback(g_cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(g_cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(g_cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(g_cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(g_cbs, on_stream_close);
}

void xs_conn_start_h2(xs_conn *c)
{
    sx_slice sid = sx_tls_unique(c->tls);
    sx_slice alpn = sx_tls_alpn(c->tls);
    memcpy(c->sid, sid.ptr, sid.len);
    c->sid_len = sid.len;
    c->sni_used = sx_tls_sni_used(c->tls);
    c->alpn_none = alpn.len == 0;
    c->alpn_xftp = sx_slice_eq(alpn, sx_slice_of("xftp/1", 6)) || sx_slice_eq(alpn, sx_slice_of("http/1.1", 8)) ||
                   (c->sni_used && sx_slice_eq(alpn, sx_slice_of("h2", 2)));
    c->version = 1;
    pthread_once(&g_cbs_once, make_callbacks);
    if (!g_cbs || !g_opt || nghttp2_session_server_new2(&c->h2, g_cbs, c, g_opt) != 0) {
        xs_conn_close(c);
        return;
    }
    nghttp2_settings_entry iv[2] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 16},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, XS_WINDOW},
    };
    if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 2) != 0 ||
        nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, XS_WINDOW) != 0) {
        xs_conn_close(c);
        return;
    }
    c->state = XS_CONN_H2;
}

/* ---- the store log advanced ---- */

/* On a worker: the writer wrote a batch (or failed). Every held response
 * whose record is now in the file is sent, every one whose record never
 * will be becomes its error; the rest wait for the next batch. Nothing is
 * flushed until the list has been walked, since a flush may close a
 * connection and free its streams. */
static void log_task_cb(sx_loop *loop, sx_loop_task *t)
{
    (void)loop;
    xs_worker *w = t->data;
    __atomic_store_n(&w->log_task_posted, false, __ATOMIC_RELEASE);
    xs_stream *st = w->held_head;
    w->held_head = w->held_tail = NULL;
    xs_conn *to_flush = NULL;
    while (st) {
        xs_stream *next = st->held_next;
        st->holding = false;
        st->held_prev = st->held_next = NULL;
        sx_status ls = sx_xftp_fstore_log_status(w->s->store, st->hold_seq);
        if (ls == SX_E_WOULD_BLOCK) {
            held_add(st);
            st = next;
            continue;
        }
        uint8_t *body = st->held;
        st->held = NULL;
        if (ls == SX_OK) {
            st->hold_seq = 0;
            st->responded = false;
            respond_status(st, "200", body, st->held_len, NULL, false);
        } else {
            free(body);
            respond_log_failed(st);
        }
        xs_conn *c = st->c;
        if (!c->flush_listed) {
            c->flush_listed = true;
            c->flush_next = to_flush;
            to_flush = c;
        }
        st = next;
    }
    while (to_flush) {
        xs_conn *c = to_flush;
        to_flush = c->flush_next;
        c->flush_listed = false;
        xs_conn_flush(c); /* a closed c is freed by a later task */
    }
}

/* On the writer thread, after each batch (sx_xftp_fstore_set_durable_cb). */
void xs_log_durable_cb(void *arg)
{
    xs_server *s = arg;
    for (unsigned i = 0; i < s->n_workers; i++) {
        xs_worker *w = &s->workers[i];
        if (__atomic_exchange_n(&w->log_task_posted, true, __ATOMIC_ACQ_REL))
            continue;
        w->log_task.cb = log_task_cb;
        w->log_task.data = w;
        sx_loop_post(w->loop, &w->log_task);
    }
}

