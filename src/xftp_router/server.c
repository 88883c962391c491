/* XFTP router network server: listener and worker threads with one event
 * loop each, non-blocking TLS connections carrying one nghttp2 server
 * session, the handshake (xftp/1 and web), CORS and the static page, expiry
 * and idle-connection timers. Commands are in server_cmd.c.
 *
 * A connection lives on one worker for its whole life. nghttp2 is driven
 * with mem_recv (bytes from TLS) and mem_send (bytes to TLS); a frame that
 * TLS could not take whole stays pending until the socket is writable. */
#include "xftp_router/server_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "core/pad.h"
#include "crypto/util.h"
#include "crypto/x509.h"
#include "transport/net.h"

#define XS_TICK_MS 1000
#define XS_TLS_TIMEOUT_MS 60000
#define XS_READ_CHUNK 16384
#define XS_WINDOW (1024 * 1024) /* per-stream and connection receive window */

static const char *const xs_alpn[] = {"xftp/1", "h2", "http/1.1", NULL};

static void conn_close(xs_conn *c);
static void conn_flush(xs_conn *c);
static void conn_io_cb(sx_loop *loop, sx_loop_io *io, unsigned events);

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

static void stream_free(xs_stream *st)
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
    xs_respond(st, NULL, 0, NULL);
}

/* The request head is complete (16384 bytes or the end of the body). */
static void dispatch(xs_stream *st)
{
    xs_conn *c = st->c;
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
        stream_free(st);
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

/* ---- connections ---- */

static void conn_update_interest(xs_conn *c)
{
    unsigned ev = SX_EV_READ;
    if (c->state == XS_CONN_TLS)
        ev = sx_tls_conn_want(c->tls) == SX_TLS_WANT_WRITE ? SX_EV_WRITE : SX_EV_READ;
    else if (c->wpend_len > 0 || sx_tls_conn_want(c->tls) == SX_TLS_WANT_WRITE)
        ev |= SX_EV_WRITE;
    if (sx_loop_io_start(c->w->loop, &c->io, ev) != SX_OK)
        conn_close(c);
}

static void free_conn_cb(sx_loop *loop, sx_loop_task *t)
{
    (void)loop;
    free(t->data);
}

static void conn_close(xs_conn *c)
{
    if (c->fd < 0)
        return;
    xs_worker *w = c->w;
    sx_loop_io_stop(w->loop, &c->io);
    while (c->streams) {
        if (c->h2)
            nghttp2_session_set_stream_user_data(c->h2, c->streams->id, NULL);
        stream_free(c->streams);
    }
    if (c->h2)
        nghttp2_session_del(c->h2);
    c->h2 = NULL;
    sx_key_free(c->hs_key);
    c->hs_key = NULL;
    sx_wipe(c->hs_priv, sizeof c->hs_priv);
    sx_tls_conn_free(c->tls);
    c->tls = NULL;
    sx_net_close(c->fd);
    c->fd = -1;
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    /* Callers up the stack may still look at c (they check c->fd). */
    c->task.cb = free_conn_cb;
    c->task.data = c;
    sx_loop_post(w->loop, &c->task);
}

static void conn_flush(xs_conn *c)
{
    while (c->fd >= 0 && c->h2) {
        if (c->wpend_len == 0) {
            const uint8_t *p = NULL;
            ssize_t n = nghttp2_session_mem_send(c->h2, &p);
            if (n < 0) {
                conn_close(c);
                return;
            }
            if (n == 0)
                break;
            c->wpend = p;
            c->wpend_len = (size_t)n;
            c->wdone = 0;
        }
        sx_status st = sx_tls_write(c->tls, c->wpend, c->wpend_len, &c->wdone);
        if (st == SX_E_WOULD_BLOCK)
            break;
        if (st != SX_OK) {
            conn_close(c);
            return;
        }
        c->wpend_len = 0;
        c->wdone = 0;
    }
    if (c->fd < 0)
        return;
    if (c->wpend_len == 0 &&
        (c->closing || (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2)))) {
        conn_close(c);
        return;
    }
    conn_update_interest(c);
}

void xs_conn_flush(xs_conn *c)
{
    if (c->fd >= 0)
        conn_flush(c);
}

/* [INACTIVE_CLIENTS] check_interval in ms, bounded so that adding it to a
 * clock reading cannot overflow (0: every tick). */
static int64_t idle_check_ms(const sx_xftp_server_opts *o)
{
    int64_t s = o->inactive_check_interval;
    return s <= 0 ? 0 : s > ((int64_t)1 << 32) ? ((int64_t)1 << 42) : s * 1000;
}

static void conn_read(xs_conn *c)
{
    uint8_t buf[XS_READ_CHUNK];
    for (;;) {
        size_t done = 0;
        sx_status st = sx_tls_read(c->tls, buf, sizeof buf, &done);
        if (done > 0) {
            c->last_active_ms = sx_loop_now_ms();
            ssize_t r = nghttp2_session_mem_recv(c->h2, buf, done);
            if (r < 0 || c->closing) {
                c->closing = true;
                return;
            }
        }
        if (st == SX_E_WOULD_BLOCK) {
            /* Nothing more to read now: queue partly filled upload
             * buffers, so no received byte waits for more input. */
            for (xs_stream *s2 = c->streams; s2; s2 = s2->next)
                xs_upload_flush(s2);
            return;
        }
        if (st != SX_OK) {
            conn_close(c);
            return;
        }
    }
}

static void conn_start_h2(xs_conn *c)
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
        conn_close(c);
        return;
    }
    nghttp2_settings_entry iv[2] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 16},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, XS_WINDOW},
    };
    if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, 2) != 0 ||
        nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, XS_WINDOW) != 0) {
        conn_close(c);
        return;
    }
    c->state = XS_CONN_H2;
}

static void conn_tls_step(xs_conn *c)
{
    sx_status st = sx_tls_handshake(c->tls);
    if (st == SX_E_WOULD_BLOCK) {
        conn_update_interest(c);
        return;
    }
    if (st != SX_OK) {
        if (c->w->s->opts.log_tls_errors)
            fprintf(stderr, "TLS error: %s\n", sx_tls_conn_error(c->tls));
        conn_close(c);
        return;
    }
    conn_start_h2(c);
}

static void conn_io_cb(sx_loop *loop, sx_loop_io *io, unsigned events)
{
    (void)loop;
    xs_conn *c = io->data;
    if (c->state == XS_CONN_TLS) {
        conn_tls_step(c);
        if (c->fd < 0 || c->state == XS_CONN_TLS)
            return;
        events |= SX_EV_READ; /* data may already be buffered in TLS */
    }
    if (c->wpend_len > 0 && (events & (SX_EV_WRITE | SX_EV_ERROR)))
        conn_flush(c);
    if (c->fd >= 0 && (events & (SX_EV_READ | SX_EV_ERROR)))
        conn_read(c);
    if (c->fd >= 0)
        conn_flush(c);
}

static void adopt_cb(sx_loop *loop, sx_loop_task *t)
{
    xs_conn *c = t->data;
    xs_worker *w = c->w;
    if (__atomic_load_n(&w->s->stopping, __ATOMIC_ACQUIRE)) {
        sx_net_close(c->fd);
        free(c);
        return;
    }
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    c->last_active_ms = c->accepted_ms = sx_loop_now_ms();
    c->next_idle_check_ms = c->accepted_ms + idle_check_ms(&w->s->opts);
    sx_loop_io_init(&c->io, c->fd, conn_io_cb, c);
    if (sx_tls_conn_new_server(w->s->tls, c->fd, &c->tls) != SX_OK ||
        sx_loop_io_start(loop, &c->io, SX_EV_READ) != SX_OK) {
        conn_close(c);
        return;
    }
    conn_tls_step(c);
    if (c->fd >= 0 && c->state == XS_CONN_H2)
        conn_flush(c);
}

static void accept_cb(sx_loop *loop, sx_loop_io *io, unsigned events)
{
    (void)loop;
    (void)events;
    xs_server *s = io->data;
    for (int i = 0; i < 64; i++) {
        int fd;
        if (sx_net_accept(io->fd, 0, &fd) != SX_OK)
            return;
        xs_conn *c = calloc(1, sizeof *c);
        if (!c) {
            sx_net_close(fd);
            continue;
        }
        c->fd = fd;
        c->w = &s->workers[s->next_worker++ % s->n_workers];
        c->task.cb = adopt_cb;
        c->task.data = c;
        sx_loop_post(c->w->loop, &c->task);
    }
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
static void log_durable_cb(void *arg)
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

/* ---- timers ---- */

static void expire_files(xs_server *s, int64_t now)
{
    if (s->file_ttl < 0)
        return;
    size_t n = 0;
    /* Nobody waits for these records: the sweep only queues them. */
    sx_status st = sx_xftp_fstore_expire(s->store, now, s->file_ttl, &n, NULL);
    sx_xftp_stats_add(&s->stats, SX_XFTP_STAT_FILES_EXPIRED, (int64_t)n);
    if (st != SX_OK)
        fprintf(stderr, "File expiration failed: %s\n", sx_status_str(st));
    else if (!s->opts.quiet && n > 0)
        printf("Expired %zu files\n", n);
}

#define XS_STATS_INTERVAL 86400 /* the reference's logStatsInterval */
#define XS_STATS_START 0        /* logStatsStartTime: seconds after 00:00 UTC */

static sx_status log_stats(xs_server *s, int64_t now)
{
    char line[512];
    SX_TRY(sx_xftp_stats_daily_line(&s->stats, now, line, sizeof line));
    FILE *f = fopen(s->opts.stats_log_path, "a");
    if (!f)
        return SX_E_IO;
    bool ok = fputs(line, f) >= 0;
    ok = fclose(f) == 0 && ok;
    return ok ? SX_OK : SX_E_IO;
}

static void tick_cb(sx_loop *loop, void *data)
{
    (void)loop;
    xs_worker *w = data;
    xs_server *s = w->s;
    int64_t now = sx_loop_now_ms();
    if (w->index == 0 && now >= s->next_expire_ms) {
        s->next_expire_ms = now + s->expire_interval * 1000;
        expire_files(s, (int64_t)time(NULL));
    }
    if (w->index == 0 && s->opts.stats_log_path) {
        int64_t t = (int64_t)time(NULL);
        if (t >= s->next_stats_log) {
            s->next_stats_log += XS_STATS_INTERVAL;
            if (s->next_stats_log <= t)
                s->next_stats_log = t + XS_STATS_INTERVAL;
            if (log_stats(s, t) != SX_OK)
                fprintf(stderr, "Cannot write server stats to %s\n", s->opts.stats_log_path);
        }
    }
    const sx_xftp_server_opts *o = &s->opts;
    xs_conn *c = w->conns;
    while (c) {
        xs_conn *next = c->next;
        if (c->state == XS_CONN_TLS) {
            if (now - c->accepted_ms > XS_TLS_TIMEOUT_MS)
                conn_close(c);
            c = next;
            continue;
        }
        bool busy = false;
        for (xs_stream *st = c->streams; st; st = st->next) {
            busy = true;
            if (st->phase == XS_UPLOAD && !st->responded && now > st->deadline_ms) {
                xs_upload_abort(st);
                st->phase = XS_DISCARD;
                xs_respond_err(st, c->version, sx_slice_of(st->corr, st->corr_len),
                               sx_slice_of(st->ent, st->ent_len), SX_XFTP_ERR_TIMEOUT);
            }
        }
        /* as the reference, every check_interval from the connection's
         * start; a connection with a request in progress is left alone */
        bool check = o->inactive_disconnect && o->inactive_ttl > 0 && now >= c->next_idle_check_ms;
        if (check)
            c->next_idle_check_ms = now + idle_check_ms(o);
        if (check && !busy && now - c->last_active_ms > o->inactive_ttl * 1000) {
            conn_close(c);
        } else {
            conn_flush(c);
        }
        c = next;
    }
}

static void *worker_main(void *arg)
{
    xs_worker *w = arg;
    xs_io_start(w);
    if (sx_loop_run(w->loop) != SX_OK)
        fprintf(stderr, "xftp worker %u: event loop failed\n", w->index);
    while (w->conns)
        conn_close(w->conns);
    /* Buffers still queued post back to the loop; sx_xftp_server_stop
     * drains it, which frees the detached uploads. */
    xs_io_stop(w);
    return NULL;
}

/* ---- start / stop ---- */

static void store_warn(void *arg, const char *msg)
{
    const xs_server *s = arg;
    if (!s->opts.quiet)
        fprintf(stderr, "%s\n", msg);
}

static sx_status load_identity(xs_server *s)
{
    X509 *ca = NULL;
    SX_TRY(sx_x509_read_cert_file(s->opts.ca_file, &ca));
    sx_status st = sx_x509_fingerprint(ca, s->identity);
    X509_free(ca);
    return st;
}

static void server_free(xs_server *s)
{
    /* The writer thread posts to the loops no more once this returns. */
    if (s->store)
        sx_xftp_fstore_set_durable_cb(s->store, NULL, NULL);
    if (s->listen_fd >= 0)
        sx_net_close(s->listen_fd);
    if (s->workers)
        for (unsigned i = 0; i < s->n_workers; i++)
            sx_loop_free(s->workers[i].loop);
    free(s->workers);
    sx_xftp_fstore_close(s->store);
    sx_xftp_stats_cleanup(&s->stats);
    sx_key_free(s->sign_key);
    sx_tls_ctx_free(s->tls);
    sx_tls_ctx_free(s->web_tls);
    free(s);
}

/* As the reference's restoreServerStats: the backup's counters, with the
 * file count and size taken from the store; the file is renamed to .bak. */
static sx_status restore_stats(xs_server *s)
{
    const char *path = s->opts.stats_backup_path;
    if (!path || access(path, F_OK) != 0)
        return SX_OK;
    if (!s->opts.quiet)
        printf("restoring server stats from file %s\n", path);
    sx_xftp_stats_data d;
    size_t line = 0;
    sx_status st = sx_xftp_stats_load(path, &d, &line);
    if (st != SX_OK) {
        fprintf(stderr, "error restoring server stats from %s (line %zu): %s\n", path, line, sx_status_str(st));
        return st == SX_E_NOMEM ? st : SX_E_PROTOCOL;
    }
    sx_xftp_fstore_stats fs;
    sx_xftp_fstore_stats_get(s->store, &fs);
    int64_t stats_count = d.c[SX_XFTP_STAT_FILES_COUNT], stats_size = d.c[SX_XFTP_STAT_FILES_SIZE];
    d.c[SX_XFTP_STAT_FILES_COUNT] = (int64_t)fs.files;
    d.c[SX_XFTP_STAT_FILES_SIZE] = fs.used;
    sx_xftp_stats_restore(&s->stats, &d);
    sx_xftp_stats_data_cleanup(&d);
    size_t plen = strlen(path);
    char *bak = malloc(plen + 5);
    if (!bak)
        return SX_E_NOMEM;
    memcpy(bak, path, plen);
    memcpy(bak + plen, ".bak", 5);
    if (rename(path, bak) != 0)
        fprintf(stderr, "cannot rename %s to %s\n", path, bak);
    free(bak);
    if (!s->opts.quiet) {
        printf("server stats restored\n");
        if (stats_count != (int64_t)fs.files)
            printf("Files count differs: stats: %lld, store: %zu\n", (long long)stats_count, fs.files);
        if (stats_size != fs.used)
            printf("Files size differs: stats: %lld, store: %lld\n", (long long)stats_size, (long long)fs.used);
        printf("Restored %lld MBs in %zu files\n", (long long)(fs.used / 1048576), fs.files);
    }
    return SX_OK;
}

static void save_stats(xs_server *s)
{
    const char *path = s->opts.stats_backup_path;
    if (!path)
        return;
    if (!s->opts.quiet)
        printf("saving server stats to file %s\n", path);
    sx_status st = sx_xftp_stats_save(&s->stats, path);
    if (st != SX_OK)
        fprintf(stderr, "cannot save server stats to %s: %s\n", path, sx_status_str(st));
    else if (!s->opts.quiet)
        printf("server stats saved\n");
}

/* Creates <files>/.part for uploads in progress and removes what a crash
 * left there. SX_E_IO when the folder cannot be made. */
static sx_status prepare_part_dir(const char *files_dir, bool quiet)
{
    char dir[XS_PATH_MAX], path[XS_PATH_MAX];
    int k = snprintf(dir, sizeof dir, "%s/" XS_PART_DIR, files_dir);
    if (k < 0 || (size_t)k >= sizeof dir)
        return SX_E_IO;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return SX_E_IO;
    DIR *d = opendir(dir);
    if (!d)
        return SX_E_IO;
    struct dirent *e;
    size_t n = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        k = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (k > 0 && (size_t)k < sizeof path && unlink(path) == 0)
            n++;
    }
    closedir(d);
    if (n && !quiet)
        fprintf(stderr, "removed %zu incomplete upload(s) from %s\n", n, dir);
    return SX_OK;
}

sx_status xs_server_start(const sx_xftp_server_opts *opts, sx_xftp_server **out)
{
    SX_ENSURE(out != NULL, SX_E_USAGE);
    *out = NULL;
    SX_ENSURE(opts && opts->cert_file && opts->ca_file && opts->key_file && opts->files_dir, SX_E_USAGE);
    SX_TRY(sx_crypto_init());
    xs_server *s = calloc(1, sizeof *s);
    if (!s)
        return SX_E_NOMEM;
    s->opts = *opts;
    s->listen_fd = -1;
    sx_xftp_stats_init(&s->stats, (int64_t)time(NULL));
    s->file_ttl = opts->file_ttl == 0 ? SX_XFTP_DEFAULT_FILE_TTL : opts->file_ttl;
    s->expire_interval = opts->expire_interval > 0 ? opts->expire_interval : SX_XFTP_DEFAULT_EXPIRE_INTERVAL;
    s->file_timeout_ms = opts->file_timeout_ms > 0 ? opts->file_timeout_ms : SX_XFTP_DEFAULT_FILE_TIMEOUT_MS;
    sx_status st;
    sx_tls_server_config tcfg = {0};
    tcfg.creds.cert_file = opts->cert_file;
    tcfg.creds.ca_file = opts->ca_file;
    tcfg.creds.key_file = opts->key_file;
    tcfg.alpn = xs_alpn;
    tcfg.no_client_cert_request = true;
    tcfg.https_compat = opts->web_cert_file && opts->web_key_file; /* PROTOCOL-NOTES B3 */
    st = sx_tls_server_ctx_new(&tcfg, &s->tls);
    if (st == SX_OK)
        st = sx_tls_ctx_private_key(s->tls, &s->sign_key);
    if (st == SX_OK)
        st = load_identity(s);
    if (st != SX_OK) {
        server_free(s);
        return st == SX_E_IO ? SX_E_IO : SX_E_PROTOCOL;
    }
    if (opts->web_cert_file && opts->web_key_file) {
        sx_tls_server_config wcfg = {0};
        wcfg.creds.cert_file = opts->web_cert_file;
        wcfg.creds.key_file = opts->web_key_file;
        wcfg.alpn = xs_alpn;
        wcfg.no_client_cert_request = true;
        wcfg.https_compat = true;
        st = sx_tls_server_ctx_new(&wcfg, &s->web_tls);
        if (st == SX_OK)
            st = sx_tls_server_ctx_set_sni(s->tls, s->web_tls);
        if (st != SX_OK) {
            server_free(s);
            return st == SX_E_IO ? SX_E_IO : SX_E_PROTOCOL;
        }
    }
    if (opts->web_static_path) {
        char canon[PATH_MAX];
        if (realpath(opts->web_static_path, canon) && strlen(canon) < sizeof s->web_root)
            memcpy(s->web_root, canon, strlen(canon) + 1);
        else if (!opts->quiet)
            fprintf(stderr, "Web static path %s is not usable\n", opts->web_static_path);
    }
    sx_xftp_fstore_opts so = {0};
    so.files_dir = opts->files_dir;
    so.log_path = opts->store_log_path;
    so.quota = opts->quota;
    so.warn = store_warn;
    so.warn_arg = s;
    st = sx_xftp_fstore_open(&so, &s->store);
    if (st != SX_OK) {
        server_free(s);
        return st == SX_E_NOMEM ? st : SX_E_IO;
    }
    if (prepare_part_dir(opts->files_dir, opts->quiet) != SX_OK) {
        server_free(s);
        return SX_E_IO;
    }
    /* PROTOCOL-NOTES F28: one sweep at start, then the statistics backup. */
    expire_files(s, (int64_t)time(NULL));
    st = restore_stats(s);
    if (st != SX_OK) {
        server_free(s);
        return st;
    }
    if (opts->stats_log_path) {
        int64_t t = (int64_t)time(NULL);
        int64_t delay = XS_STATS_START - t % 86400;
        s->next_stats_log = t + (delay < 0 ? delay + 86400 : delay);
        if (!opts->quiet)
            printf("server stats log enabled: %s\n", opts->stats_log_path);
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    s->n_workers = opts->workers ? opts->workers : (cores > 0 ? (unsigned)cores : 1);
    s->workers = calloc(s->n_workers, sizeof *s->workers);
    if (!s->workers) {
        server_free(s);
        return SX_E_NOMEM;
    }
    for (unsigned i = 0; i < s->n_workers; i++) {
        s->workers[i].s = s;
        s->workers[i].index = i;
        st = sx_loop_new(&s->workers[i].loop);
        if (st != SX_OK) {
            s->n_workers = i;
            server_free(s);
            return st;
        }
        sx_loop_set_tick(s->workers[i].loop, XS_TICK_MS, tick_cb, &s->workers[i]);
    }
    /* Every loop exists: the writer thread may post to them from now on. */
    sx_xftp_fstore_set_durable_cb(s->store, log_durable_cb, s);
    s->next_expire_ms = sx_loop_now_ms() + s->expire_interval * 1000;
    st = sx_net_listen(opts->host ? opts->host : "0.0.0.0", opts->port, 1024, &s->listen_fd, &s->port);
    if (st == SX_OK) {
        sx_loop_io_init(&s->listen_io, s->listen_fd, accept_cb, s);
        st = sx_loop_io_start(s->workers[0].loop, &s->listen_io, SX_EV_READ);
    }
    if (st != SX_OK) {
        server_free(s);
        return SX_E_IO;
    }
    for (unsigned i = 0; i < s->n_workers; i++) {
        if (pthread_create(&s->workers[i].thread, NULL, worker_main, &s->workers[i]) != 0) {
            for (unsigned j = 0; j < i; j++) {
                sx_loop_stop(s->workers[j].loop);
                pthread_join(s->workers[j].thread, NULL);
            }
            sx_loop_io_stop(s->workers[0].loop, &s->listen_io);
            server_free(s);
            return SX_E_INTERNAL;
        }
    }
    *out = s;
    return SX_OK;
}

uint16_t sx_xftp_server_port(const sx_xftp_server *s)
{
    return s ? s->port : 0;
}

sx_status sx_xftp_server_expire_now(sx_xftp_server *s, int64_t now, size_t *n_deleted)
{
    SX_ENSURE(s && n_deleted, SX_E_USAGE);
    *n_deleted = 0;
    if (s->file_ttl < 0)
        return SX_OK;
    uint64_t seq = 0;
    sx_status st = sx_xftp_fstore_expire(s->store, now, s->file_ttl, n_deleted, &seq);
    sx_xftp_stats_add(&s->stats, SX_XFTP_STAT_FILES_EXPIRED, (int64_t)*n_deleted);
    /* The caller's thread (tests) may wait: the records are in the log when
     * this returns. */
    sx_status ls = sx_xftp_fstore_wait_durable(s->store, seq);
    return st != SX_OK ? st : ls;
}

sx_status sx_xftp_server_log_stats_now(sx_xftp_server *s, int64_t now)
{
    SX_ENSURE(s && s->opts.stats_log_path, SX_E_USAGE);
    return log_stats(s, now);
}

void xs_server_stop(sx_xftp_server *s)
{
    if (!s)
        return;
    __atomic_store_n(&s->stopping, true, __ATOMIC_RELEASE);
    for (unsigned i = 0; i < s->n_workers; i++)
        sx_loop_stop(s->workers[i].loop);
    for (unsigned i = 0; i < s->n_workers; i++)
        pthread_join(s->workers[i].thread, NULL);
    for (int round = 0; round < 2; round++)
        for (unsigned i = 0; i < s->n_workers; i++)
            sx_loop_drain(s->workers[i].loop);
    sx_loop_io_stop(s->workers[0].loop, &s->listen_io);
    save_stats(s);
    server_free(s);
}
