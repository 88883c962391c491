/* XRCP session transport over HTTP/2 (h2.h, PROTOCOL-NOTES X11). */
#include "xrcp/h2.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nghttp2/nghttp2.h>


#define MAX_STREAMS 8
#define WINDOW (1 << 20)

typedef struct stream {
    int32_t id;           /* 0: free */
    sx_xrcp_h2_sink sink; /* where the peer's body goes */
    void *sink_arg;
    bool complete;      /* the peer's END_STREAM */
    bool closed;        /* nghttp2 closed the stream */
    bool taken;         /* server: next() has returned it */
    int status;         /* client: the response's :status */
    sx_xrcp_h2_src src; /* what we send on it */
    void *src_arg;
    bool out_eof; /* the source has given its last byte */
    sx_status err;
} stream;

struct sx_xrcp_h2 {
    nghttp2_session *s;
    sx_tls_conn *conn;
    int fd;
    bool server;
    sx_xrcp_h2_sink req_sink; /* server: the bodies of requests */
    void *req_sink_arg;
    const uint8_t *pending;
    size_t pending_len, pending_off;
    stream st[MAX_STREAMS];
    size_t io_off, io_len; /* input read but not yet taken by nghttp2 (paused) */
    uint8_t io[16384];
};

static stream *find(sx_xrcp_h2 *h, int32_t id)
{
    for (size_t i = 0; i < MAX_STREAMS; i++)
        if (h->st[i].id == id && id != 0)
            return &h->st[i];
    return NULL;
}

static stream *add(sx_xrcp_h2 *h, int32_t id)
{
    for (size_t i = 0; i < MAX_STREAMS; i++) {
        if (h->st[i].id == 0) {
            memset(&h->st[i], 0, sizeof h->st[i]);
            h->st[i].id = id;
            h->st[i].sink = h->req_sink;
            h->st[i].sink_arg = h->req_sink_arg;
            return &h->st[i];
        }
    }
    return NULL;
}

static void drop(stream *s)
{
    memset(s, 0, sizeof *s);
}

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user)
{
    (void)session;
    sx_xrcp_h2 *h = user;
    if (h->server && frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST &&
        add(h, frame->hd.stream_id) == NULL)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* refuses the stream */
    return 0;
}

/* Server: a stream other than id that failed and has not been returned by
 * next() yet. */
static bool failed_pending(sx_xrcp_h2 *h, int32_t id)
{
    for (size_t i = 0; i < MAX_STREAMS; i++)
        if (h->st[i].id != 0 && h->st[i].id != id && !h->st[i].taken && h->st[i].err != SX_OK)
            return true;
    return false;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *user)
{
    (void)session;
    (void)flags;
    sx_xrcp_h2 *h = user;
    /* a newer request waits (its header is dropped: the server reads none)
     * until next() has returned the failed one */
    if (h->server && failed_pending(h, frame->hd.stream_id))
        return NGHTTP2_ERR_PAUSE;
    stream *s = find(user, frame->hd.stream_id);
    if (s != NULL && namelen == 7 && memcmp(name, ":status", 7) == 0) {
        int v = 0;
        for (size_t i = 0; i < valuelen && i < 3; i++)
            v = v * 10 + (value[i] - '0');
        s->status = v;
    }
    return 0;
}

static int on_data(nghttp2_session *session, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *user)
{
    (void)session;
    (void)flags;
    stream *s = find(user, id);
    if (s == NULL || s->err != SX_OK)
        return 0; /* a stream that has failed: its bytes are dropped */
    sx_status st = s->sink != NULL ? s->sink(s->sink_arg, id, sx_slice_of(data, len)) : SX_E_PROTOCOL;
    if (st != SX_OK)
        s->err = st;
    return 0;
}

static int on_frame(nghttp2_session *session, const nghttp2_frame *frame, void *user)
{
    (void)session;
    stream *s = find(user, frame->hd.stream_id);
    if (s != NULL && (frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        s->complete = true;
    return 0;
}

static int on_close(nghttp2_session *session, int32_t id, uint32_t code, void *user)
{
    (void)session;
    (void)code;
    stream *s = find(user, id);
    if (s != NULL) {
        s->closed = true;
        if (!s->complete && s->err == SX_OK)
            s->err = SX_E_PROTOCOL; /* reset before its end */
    }
    return 0;
}

static ssize_t provide_out(nghttp2_session *session, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
                           nghttp2_data_source *source, void *user)
{
    (void)session;
    (void)id;
    (void)user;
    stream *s = source->ptr;
    size_t n = 0;
    bool eof = false;
    sx_status st = s->src(s->src_arg, buf, length, &n, &eof);
    if (st == SX_OK && (n > length || (n == 0 && !eof)))
        st = SX_E_INTERNAL;
    if (st != SX_OK) {
        s->err = st;
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
    }
    if (eof) {
        s->out_eof = true;
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    }
    return (ssize_t)n;
}

sx_status sx_xrcp_h2_new(sx_tls_conn *conn, int fd, bool server, sx_xrcp_h2 **out)
{
    if (conn == NULL || fd < 0 || out == NULL)
        return SX_E_USAGE;
    *out = NULL;
    sx_xrcp_h2 *h = calloc(1, sizeof *h);
    if (h == NULL)
        return SX_E_NOMEM;
    h->conn = conn;
    h->fd = fd;
    h->server = server;
    nghttp2_session_callbacks *cb = NULL;
    if (nghttp2_session_callbacks_new(&cb) != 0) {
        free(h);
        return SX_E_NOMEM;
    }
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
    int rv = server ? nghttp2_session_server_new(&h->s, cb, h) : nghttp2_session_client_new(&h->s, cb, h);
    nghttp2_session_callbacks_del(cb);
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, MAX_STREAMS},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, WINDOW},
    };
    if (rv != 0 || nghttp2_submit_settings(h->s, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]) != 0 ||
        nghttp2_session_set_local_window_size(h->s, NGHTTP2_FLAG_NONE, 0, WINDOW) != 0) {
        sx_xrcp_h2_free(h);
        return SX_E_INTERNAL;
    }
    *out = h;
    return SX_OK;
}

void sx_xrcp_h2_free(sx_xrcp_h2 *h)
{
    if (h == NULL)
        return;
    nghttp2_session_del(h->s);
    for (size_t i = 0; i < MAX_STREAMS; i++)
        drop(&h->st[i]);
    free(h);
}

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static sx_status flush(sx_xrcp_h2 *h, bool *blocked)
{
    *blocked = false;
    for (;;) {
        if (h->pending_off == h->pending_len) {
            const uint8_t *p = NULL;
            ssize_t n = nghttp2_session_mem_send(h->s, &p);
            if (n < 0)
                return SX_E_PROTOCOL;
            if (n == 0)
                return SX_OK;
            h->pending = p;
            h->pending_len = (size_t)n;
            h->pending_off = 0;
        }
        sx_status st = sx_tls_write(h->conn, h->pending, h->pending_len, &h->pending_off);
        if (st == SX_E_WOULD_BLOCK) {
            *blocked = true;
            return SX_OK;
        }
        if (st != SX_OK)
            return SX_E_CLOSED; /* the peer has gone */
    }
}

/* Gives nghttp2 the input held in io; false when it paused again. */
static sx_status feed(sx_xrcp_h2 *h, bool *paused)
{
    *paused = false;
    while (h->io_off < h->io_len) {
        ssize_t k = nghttp2_session_mem_recv(h->s, h->io + h->io_off, h->io_len - h->io_off);
        if (k < 0 || (size_t)k > h->io_len - h->io_off)
            return SX_E_PROTOCOL;
        h->io_off += (size_t)k;
        if (h->io_off < h->io_len) {
            *paused = true; /* a callback paused: the rest waits for the next round */
            return SX_OK;
        }
    }
    return SX_OK;
}

static sx_status drain(sx_xrcp_h2 *h)
{
    bool paused = false;
    SX_TRY(feed(h, &paused));
    while (!paused) {
        size_t got = 0;
        sx_status st = sx_tls_read(h->conn, h->io, sizeof h->io, &got);
        h->io_off = 0;
        h->io_len = got;
        SX_TRY(feed(h, &paused));
        if (st == SX_E_WOULD_BLOCK || paused)
            return SX_OK;
        if (st != SX_OK)
            return SX_E_CLOSED; /* closed or broken: the peer has gone */
    }
    return SX_OK;
}

typedef bool (*done_fn)(sx_xrcp_h2 *h, void *arg);

/* Runs the session until done says so, the peer goes or the deadline. */
static sx_status pump(sx_xrcp_h2 *h, done_fn done, void *arg, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        bool blocked = false;
        SX_TRY(flush(h, &blocked));
        if (done(h, arg))
            return SX_OK;
        if (!nghttp2_session_want_read(h->s) && !nghttp2_session_want_write(h->s) &&
            h->pending_off == h->pending_len)
            return SX_E_CLOSED;
        if (!sx_tls_has_pending(h->conn) && h->io_off == h->io_len) {
            int64_t left = deadline - now_ms();
            if (left <= 0)
                return SX_E_IO;
            struct pollfd p = {.fd = h->fd, .events = POLLIN};
            if (blocked || sx_tls_conn_want(h->conn) == SX_TLS_WANT_WRITE)
                p.events |= POLLOUT;
            int k = poll(&p, 1, left > 1000 ? 1000 : (int)left);
            if (k < 0 && errno != EINTR)
                return SX_E_IO;
            if (k <= 0 || !(p.revents & (POLLIN | POLLERR | POLLHUP)))
                continue;
        }
        SX_TRY(drain(h));
    }
}

static bool stream_done(sx_xrcp_h2 *h, void *arg)
{
    (void)h;
    stream *s = arg;
    return s->complete || s->closed || s->err != SX_OK;
}

sx_status sx_xrcp_h2_request(sx_xrcp_h2 *h, sx_xrcp_h2_src src, void *src_arg, sx_xrcp_h2_sink sink,
                             void *sink_arg, int timeout_ms)
{
    if (h == NULL || h->server || src == NULL || sink == NULL)
        return SX_E_USAGE;
    const nghttp2_nv nva[] = {
        {(uint8_t *)":method", (uint8_t *)"POST", 7, 4, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)":scheme", (uint8_t *)"https", 7, 5, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)":path", (uint8_t *)"/", 5, 1, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)":authority", (uint8_t *)"localhost", 10, 9, NGHTTP2_NV_FLAG_NONE},
    };
    stream *s = add(h, -1); /* the id comes from nghttp2 */
    if (s == NULL)
        return SX_E_LIMIT;
    s->src = src;
    s->src_arg = src_arg;
    s->sink = sink;
    s->sink_arg = sink_arg;
    nghttp2_data_provider prov = {.source.ptr = s, .read_callback = provide_out};
    int32_t id = nghttp2_submit_request(h->s, NULL, nva, sizeof nva / sizeof nva[0], &prov, NULL);
    if (id < 0) {
        drop(s);
        return SX_E_PROTOCOL;
    }
    s->id = id;
    sx_status st = pump(h, stream_done, s, timeout_ms);
    if (st == SX_OK && s->err != SX_OK)
        st = s->err;
    if (st == SX_OK && (!s->complete || s->status != 200))
        st = SX_E_PROTOCOL;
    drop(s);
    return st;
}

void sx_xrcp_h2_set_sink(sx_xrcp_h2 *h, sx_xrcp_h2_sink sink, void *arg)
{
    h->req_sink = sink;
    h->req_sink_arg = arg;
}

static bool any_request(sx_xrcp_h2 *h, void *arg)
{
    stream **found = arg;
    for (size_t i = 0; i < MAX_STREAMS; i++) {
        stream *s = &h->st[i];
        if (s->id != 0 && !s->taken && (s->complete || s->err != SX_OK)) {
            *found = s;
            return true;
        }
    }
    return false;
}

sx_status sx_xrcp_h2_next(sx_xrcp_h2 *h, int timeout_ms, int32_t *stream_id)
{
    if (h == NULL || !h->server || stream_id == NULL)
        return SX_E_USAGE;
    stream *s = NULL;
    sx_status st = pump(h, any_request, &s, timeout_ms);
    if (st != SX_OK)
        return st;
    *stream_id = s->id;
    if (s->err != SX_OK) {
        st = s->err;
        if (!s->closed && nghttp2_submit_rst_stream(h->s, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_REFUSED_STREAM) != 0)
            st = SX_E_PROTOCOL;
        drop(s);
        return st;
    }
    s->taken = true; /* the stream stays until it is answered */
    return SX_OK;
}

static bool response_sent(sx_xrcp_h2 *h, void *arg)
{
    stream *s = arg;
    return s->closed || s->err != SX_OK ||
           (s->out_eof && h->pending_off == h->pending_len && !nghttp2_session_want_write(h->s));
}

sx_status sx_xrcp_h2_close(sx_xrcp_h2 *h, int timeout_ms)
{
    if (h == NULL)
        return SX_E_USAGE;
    if (nghttp2_session_terminate_session(h->s, NGHTTP2_NO_ERROR) != 0)
        return SX_E_PROTOCOL;
    bool blocked = false;
    int64_t deadline = now_ms() + timeout_ms;
    sx_status st;
    while ((st = flush(h, &blocked)) == SX_OK && blocked && now_ms() < deadline) {
        struct pollfd p = {.fd = h->fd, .events = POLLOUT};
        if (poll(&p, 1, 100) < 0 && errno != EINTR)
            return SX_E_IO;
    }
    return st;
}

sx_status sx_xrcp_h2_respond(sx_xrcp_h2 *h, int32_t stream_id, sx_xrcp_h2_src src, void *src_arg, int timeout_ms)
{
    stream *s = h != NULL && h->server ? find(h, stream_id) : NULL;
    if (s == NULL || src == NULL)
        return SX_E_USAGE;
    const nghttp2_nv nva[] = {{(uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE}};
    s->src = src;
    s->src_arg = src_arg;
    s->out_eof = false;
    nghttp2_data_provider prov = {.source.ptr = s, .read_callback = provide_out};
    sx_status st = nghttp2_submit_response(h->s, stream_id, nva, 1, &prov) == 0 ? SX_OK : SX_E_PROTOCOL;
    if (st == SX_OK)
        st = pump(h, response_sent, s, timeout_ms);
    if (st == SX_OK && s->err != SX_OK)
        st = s->err;
    drop(s);
    return st;
}
