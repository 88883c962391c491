/* The routers' web server over HTTP/2 (web_int.h): an nghttp2 server
 * session on the connection's thread, fed with what the connection reads
 * and drained to it. GET and HEAD of the static files; other methods 405,
 * missing files 404. Request bodies are discarded. */
#include <nghttp2/nghttp2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kit/web_int.h"

#define H2_MAX_STREAMS 100

typedef struct h2_stream {
    struct h2_stream *prev, *next; /* the connection's open streams */
    char method[8];
    char path[SX_KIT_HTTP_PATH_MAX];
    bool bad; /* a pseudo-header that does not parse or fit */
    bool answered;
    uint8_t *body; /* the response body while it is sent */
    size_t len, off;
} h2_stream;

typedef struct h2_conn {
    sx_kit_web_conn *c;
    nghttp2_session *s;
    h2_stream *streams;
} h2_conn;

static void stream_free(h2_conn *h, h2_stream *st)
{
    if (st->prev)
        st->prev->next = st->next;
    else
        h->streams = st->next;
    if (st->next)
        st->next->prev = st->prev;
    free(st->body);
    free(st);
}

static ssize_t body_chunk(nghttp2_session *s, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
                          nghttp2_data_source *src, void *ud)
{
    (void)s;
    (void)id;
    (void)ud;
    h2_stream *st = src->ptr;
    size_t n = st->len - st->off < length ? st->len - st->off : length;
    if (n)
        memcpy(buf, st->body + st->off, n);
    st->off += n;
    if (st->off == st->len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static void add_nv(nghttp2_nv *nv, size_t *n, const char *name, const char *value)
{
    nv[*n] = (nghttp2_nv){(uint8_t *)(uintptr_t)name, (uint8_t *)(uintptr_t)value, strlen(name), strlen(value),
                          NGHTTP2_NV_FLAG_NONE};
    (*n)++;
}

static int answer(h2_conn *h, int32_t id, h2_stream *st)
{
    if (st->answered)
        return 0;
    st->answered = true;
    bool head = strcmp(st->method, "HEAD") == 0;
    const char *status = "200", *type = "text/plain; charset=utf-8";
    static const uint8_t not_found[] = "404 Not Found\n", not_allowed[] = "405 Method Not Allowed\n",
                         bad[] = "400 Bad Request\n", failed[] = "500 Internal Server Error\n";
    const uint8_t *fixed = NULL;
    size_t fixed_len = 0;
    if (st->bad || !st->path[0]) {
        status = "400";
        fixed = bad;
        fixed_len = sizeof bad - 1;
    } else if (!head && strcmp(st->method, "GET") != 0) {
        status = "405";
        fixed = not_allowed;
        fixed_len = sizeof not_allowed - 1;
    } else {
        sx_status ls = sx_kit_web_load(h->c, st->path, &st->body, &st->len, &type);
        if (ls == SX_E_IO) {
            status = "404";
            fixed = not_found;
            fixed_len = sizeof not_found - 1;
        } else if (ls != SX_OK) {
            status = "500";
            fixed = failed;
            fixed_len = sizeof failed - 1;
        }
    }
    if (fixed) {
        type = "text/plain; charset=utf-8";
        st->body = malloc(fixed_len);
        if (!st->body)
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        memcpy(st->body, fixed, fixed_len);
        st->len = fixed_len;
    }
    char clen[24];
    snprintf(clen, sizeof clen, "%zu", st->len);
    nghttp2_nv nv[5];
    size_t n = 0;
    add_nv(nv, &n, ":status", status);
    add_nv(nv, &n, "content-type", type);
    add_nv(nv, &n, "content-length", clen);
    add_nv(nv, &n, "x-content-type-options", "nosniff");
    if (status[0] == '4' && status[2] == '5')
        add_nv(nv, &n, "allow", "GET, HEAD");
    nghttp2_data_provider prd = {.source.ptr = st, .read_callback = body_chunk};
    int rv = nghttp2_submit_response(h->s, id, nv, n, head || st->len == 0 ? NULL : &prd);
    return rv == 0 ? 0 : NGHTTP2_ERR_CALLBACK_FAILURE;
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    h2_conn *h = ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    h2_stream *st = calloc(1, sizeof *st);
    if (!st)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    st->next = h->streams;
    if (h->streams)
        h->streams->prev = st;
    h->streams = st;
    if (nghttp2_session_set_stream_user_data(s, f->hd.stream_id, st) != 0) {
        stream_free(h, st);
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
    (void)flags;
    (void)ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    h2_stream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (!st)
        return 0;
    if (namelen == 7 && memcmp(name, ":method", 7) == 0) {
        if (valuelen == 0 || valuelen >= sizeof st->method) {
            st->bad = true;
            return 0;
        }
        memcpy(st->method, value, valuelen);
        st->method[valuelen] = 0;
    } else if (namelen == 5 && memcmp(name, ":path", 5) == 0) {
        if (sx_kit_http_path(value, valuelen, st->path, sizeof st->path) != SX_OK)
            st->bad = true;
    }
    return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) || !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    h2_stream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    return st ? answer(ud, f->hd.stream_id, st) : 0;
}

static int on_stream_close(nghttp2_session *s, int32_t id, uint32_t error_code, void *ud)
{
    (void)error_code;
    h2_stream *st = nghttp2_session_get_stream_user_data(s, id);
    if (st) {
        (void)nghttp2_session_set_stream_user_data(s, id, NULL);
        stream_free(ud, st);
    }
    return 0;
}

static bool flush(h2_conn *h)
{
    for (;;) {
        const uint8_t *data = NULL;
        ssize_t n = nghttp2_session_mem_send(h->s, &data);
        if (n < 0)
            return false;
        if (n == 0)
            return true;
        if (sx_kit_web_conn_write(h->c, data, (size_t)n) != SX_OK)
            return false;
    }
}

void sx_kit_web_serve_h2(sx_kit_web_conn *c)
{
    nghttp2_session_callbacks *cbs = NULL;
    if (nghttp2_session_callbacks_new(&cbs) != 0)
        return;
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    h2_conn h = {.c = c};
    int rv = nghttp2_session_server_new(&h.s, cbs, &h);
    nghttp2_session_callbacks_del(cbs);
    if (rv != 0)
        return;
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, H2_MAX_STREAMS}};
    if (nghttp2_submit_settings(h.s, NGHTTP2_FLAG_NONE, iv, 1) != 0 || !flush(&h)) {
        nghttp2_session_del(h.s);
        return;
    }
    c->have = 0;
    while (nghttp2_session_want_read(h.s) || nghttp2_session_want_write(h.s)) {
        if (sx_kit_web_conn_read(c) != SX_OK)
            break;
        ssize_t n = nghttp2_session_mem_recv(h.s, c->buf, c->have);
        c->have = 0;
        if (n < 0 || !flush(&h))
            break;
    }
    (void)flush(&h);
    nghttp2_session_del(h.s);
    while (h.streams) /* streams still open when the connection ends */
        stream_free(&h, h.streams);
}
