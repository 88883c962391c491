/* APNS over HTTP/2 (see apns_client.h). The socket is blocking with send
 * and receive timeouts; a batch of pushes is submitted as that many streams
 * at once (nghttp2 holds back what the server's MAX_CONCURRENT_STREAMS does
 * not allow yet) and the session runs until every stream has closed; each
 * stream's answer goes to its own slot through the stream's user data.
 * Before a batch whatever the server sent meanwhile (SETTINGS, PING, GOAWAY,
 * the end of the connection) is read without waiting. */
#include "ntf_router/apns_client.h"

#include <errno.h>
#include <fcntl.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "kit/say.h"
#include "transport/net.h"
#include "transport/tls.h"

#define N_PROVIDERS 5 /* indexed by sx_ntf_provider */
#define RESP_KEEP 512 /* an error body is ~60 bytes */
#define PATH_MAX_LEN 600

/* One push in flight: its request body and what came back. */
typedef struct apns_stream {
    bool closed;
    int status;
    uint8_t body[RESP_KEEP];
    size_t body_len;
    const uint8_t *req;
    size_t req_len, req_off;
} apns_stream;

typedef struct apns_conn {
    int fd;
    SSL *ssl;
    nghttp2_session *h2;
    bool goaway, broken;
    size_t open; /* streams of the batch not closed yet */
} apns_conn;

struct sx_ntf_apns_client {
    char *key_id, *team_id, *topic, *host, *ca_file;
    uint16_t port;
    int timeout_ms;
    sx_ntf_apns_key *key;
    SSL_CTX *ssl;
    char jwt[SX_NTF_APNS_JWT_MAX + 1];
    int64_t jwt_iat;
    apns_conn conns[N_PROVIDERS];
    uint64_t connects;
    apns_stream streams[SX_NTF_APNS_BATCH_MAX];
};

static char *dup_or(const char *s, const char *dflt)
{
    const char *v = s ? s : dflt;
    return v ? strdup(v) : NULL;
}

static sx_status make_jwt(sx_ntf_apns_client *c)
{
    int64_t now = (int64_t)time(NULL);
    sx_writer w;
    sx_writer_init_fixed(&w, (uint8_t *)c->jwt, SX_NTF_APNS_JWT_MAX);
    if (!sx_ntf_apns_jwt(&w, c->key, c->key_id, c->team_id, now))
        return sx_writer_status(&w) == SX_E_USAGE ? SX_E_USAGE : SX_E_INTERNAL;
    c->jwt[w.len] = 0;
    c->jwt_iat = now;
    return SX_OK;
}

sx_status sx_ntf_apns_client_new(const sx_ntf_apns_client_opts *o, sx_ntf_apns_client **out)
{
    SX_ENSURE(o != NULL && out != NULL && o->key_file && o->key_id && o->key_id[0], SX_E_USAGE);
    *out = NULL;
    sx_ntf_apns_client *c = calloc(1, sizeof *c);
    SX_ENSURE(c != NULL, SX_E_NOMEM);
    for (size_t i = 0; i < N_PROVIDERS; i++)
        c->conns[i].fd = -1;
    c->key_id = dup_or(o->key_id, NULL);
    c->team_id = dup_or(o->team_id, SX_NTF_APNS_TEAM_ID);
    c->topic = dup_or(o->topic, SX_NTF_APNS_TOPIC);
    c->host = dup_or(o->host, NULL);
    c->ca_file = dup_or(o->ca_file, NULL);
    c->port = o->port ? o->port : 443;
    c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 20000;
    sx_status st = (!c->key_id || !c->team_id || !c->topic || (o->host && !c->host) || (o->ca_file && !c->ca_file))
                       ? SX_E_NOMEM
                       : SX_OK;
    if (st == SX_OK)
        st = sx_ntf_apns_key_load(o->key_file, &c->key);
    if (st == SX_OK) {
        c->ssl = SSL_CTX_new(TLS_client_method());
        static const uint8_t alpn[] = {2, 'h', '2'};
        if (!c->ssl || SSL_CTX_set_min_proto_version(c->ssl, TLS1_2_VERSION) != 1 ||
            SSL_CTX_set_alpn_protos(c->ssl, alpn, sizeof alpn) != 0)
            st = SX_E_INTERNAL;
    }
    if (st == SX_OK) {
        SSL_CTX_set_verify(c->ssl, SSL_VERIFY_PEER, NULL);
        const char *ca = c->ca_file ? c->ca_file : SX_NTF_APNS_CA_FILE;
        if (SSL_CTX_load_verify_locations(c->ssl, ca, NULL) != 1) {
            ERR_clear_error();
            if (c->ca_file)
                st = SX_E_IO; /* a CA file asked for must be there */
            else if (SSL_CTX_set_default_verify_paths(c->ssl) != 1)
                st = SX_E_INTERNAL;
        }
    }
    if (st == SX_OK)
        st = make_jwt(c);
    if (st != SX_OK) {
        ERR_clear_error();
        sx_ntf_apns_client_free(c);
        return st;
    }
    *out = c;
    return SX_OK;
}

static void conn_drop(apns_conn *k)
{
    if (k->h2)
        nghttp2_session_del(k->h2);
    k->h2 = NULL;
    if (k->ssl) {
        if (!k->broken)
            (void)SSL_shutdown(k->ssl);
        SSL_free(k->ssl);
    }
    k->ssl = NULL;
    if (k->fd >= 0)
        sx_net_close(k->fd);
    k->fd = -1;
    k->goaway = k->broken = false;
    ERR_clear_error();
}

void sx_ntf_apns_client_free(sx_ntf_apns_client *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < N_PROVIDERS; i++)
        conn_drop(&c->conns[i]);
    SSL_CTX_free(c->ssl);
    sx_ntf_apns_key_free(c->key);
    free(c->key_id);
    free(c->team_id);
    free(c->topic);
    free(c->host);
    free(c->ca_file);
    free(c);
}

void sx_ntf_apns_client_disconnect(sx_ntf_apns_client *c, sx_ntf_provider pp)
{
    if (c && (unsigned)pp < N_PROVIDERS)
        conn_drop(&c->conns[pp]);
}

uint64_t sx_ntf_apns_client_connects(const sx_ntf_apns_client *c)
{
    return c ? c->connects : 0;
}

static const char *host_of(const sx_ntf_apns_client *c, sx_ntf_provider pp)
{
    if (c->host)
        return c->host;
    switch (pp) {
    case SX_NTF_PP_APNS_PROD: return SX_NTF_APNS_HOST_PROD;
    case SX_NTF_PP_APNS_DEV: return SX_NTF_APNS_HOST_DEV;
    case SX_NTF_PP_APNS_TEST: return SX_NTF_APNS_HOST_TEST;
    default: return NULL;
    }
}

/* ---- nghttp2 callbacks ---- */

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
                     const uint8_t *value, size_t vlen, uint8_t flags, void *ud)
{
    (void)flags;
    (void)ud;
    if (f->hd.type != NGHTTP2_HEADERS)
        return 0;
    apns_stream *t = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (!t || nlen != 7 || memcmp(name, ":status", 7) != 0 || vlen != 3)
        return 0;
    int v = 0;
    for (size_t i = 0; i < 3; i++) {
        if (value[i] < '0' || value[i] > '9')
            return 0;
        v = v * 10 + (value[i] - '0');
    }
    t->status = v;
    return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *ud)
{
    (void)flags;
    (void)ud;
    apns_stream *t = nghttp2_session_get_stream_user_data(s, id);
    if (!t)
        return 0;
    size_t room = sizeof t->body - t->body_len;
    size_t n = len < room ? len : room; /* the head of a long body is enough */
    memcpy(t->body + t->body_len, data, n);
    t->body_len += n;
    return 0;
}

static int on_close(nghttp2_session *s, int32_t id, uint32_t code, void *ud)
{
    (void)code;
    apns_conn *k = ud;
    apns_stream *t = nghttp2_session_get_stream_user_data(s, id);
    if (t && !t->closed) {
        t->closed = true;
        k->open--;
    }
    return 0;
}

static int on_frame(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    (void)s;
    apns_conn *k = ud;
    if (f->hd.type == NGHTTP2_GOAWAY)
        k->goaway = true;
    return 0;
}

static ssize_t req_source(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                          nghttp2_data_source *src, void *ud)
{
    (void)s;
    (void)id;
    (void)ud;
    apns_stream *t = src->ptr;
    size_t n = t->req_len - t->req_off;
    if (n > len)
        n = len;
    memcpy(buf, t->req + t->req_off, n);
    t->req_off += n;
    if (t->req_off == t->req_len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

/* ---- the connection ---- */

static sx_status conn_flush(apns_conn *k)
{
    for (;;) {
        const uint8_t *p = NULL;
        ssize_t n = nghttp2_session_mem_send(k->h2, &p);
        if (n < 0)
            return SX_E_PROTOCOL;
        if (n == 0)
            return SX_OK;
        if (SSL_write(k->ssl, p, (int)n) != (int)n)
            return SX_E_IO;
    }
}

/* Reads once (blocking up to the socket's timeout) and feeds nghttp2. */
static sx_status conn_read(apns_conn *k)
{
    uint8_t buf[16384];
    int n = SSL_read(k->ssl, buf, sizeof buf);
    if (n <= 0)
        return SX_E_IO;
    if (nghttp2_session_mem_recv(k->h2, buf, (size_t)n) != n)
        return SX_E_PROTOCOL;
    return SX_OK;
}

static sx_status conn_open(sx_ntf_apns_client *c, apns_conn *k, const char *host)
{
    SX_TRY(sx_net_connect(host, c->port, c->timeout_ms, &k->fd));
    int fl = fcntl(k->fd, F_GETFL);
    struct timeval tv = {.tv_sec = c->timeout_ms / 1000, .tv_usec = (c->timeout_ms % 1000) * 1000};
    if (fl < 0 || fcntl(k->fd, F_SETFL, fl & ~O_NONBLOCK) != 0 ||
        setsockopt(k->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        setsockopt(k->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0)
        return SX_E_IO;
    k->ssl = SSL_new(c->ssl);
    SX_ENSURE(k->ssl != NULL, SX_E_NOMEM);
    SX_TRY(sx_tls_ssl_set_fd(k->ssl, k->fd));
    if (SSL_set_tlsext_host_name(k->ssl, host) != 1 ||
        SSL_set1_host(k->ssl, host) != 1)
        return SX_E_INTERNAL;
    if (SSL_connect(k->ssl) != 1) {
        k->broken = true;
        SX_SAY(SX_SAY_WARN, "APNS TLS connection to %s failed (%s)", host,
               X509_verify_cert_error_string(SSL_get_verify_result(k->ssl)));
        return SX_E_IO;
    }
    const uint8_t *proto = NULL;
    unsigned plen = 0;
    SSL_get0_alpn_selected(k->ssl, &proto, &plen);
    SX_ENSURE(plen == 2 && memcmp(proto, "h2", 2) == 0, SX_E_PROTOCOL);
    nghttp2_session_callbacks *cb = NULL;
    SX_ENSURE(nghttp2_session_callbacks_new(&cb) == 0, SX_E_NOMEM);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
    int rv = nghttp2_session_client_new(&k->h2, cb, k);
    nghttp2_session_callbacks_del(cb);
    SX_ENSURE(rv == 0, SX_E_NOMEM);
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100}};
    SX_ENSURE(nghttp2_submit_settings(k->h2, NGHTTP2_FLAG_NONE, iv, 1) == 0, SX_E_INTERNAL);
    return conn_flush(k);
}

/* What the server sent since the last push, without waiting. */
static sx_status conn_catch_up(apns_conn *k)
{
    for (;;) {
        if (SSL_pending(k->ssl) == 0) {
            struct pollfd p = {.fd = k->fd, .events = POLLIN};
            int r = poll(&p, 1, 0);
            if (r < 0 && errno != EINTR)
                return SX_E_IO;
            if (r <= 0)
                return SX_OK;
        }
        SX_TRY(conn_read(k));
        SX_TRY(conn_flush(k));
    }
}

static sx_status conn_ready(sx_ntf_apns_client *c, sx_ntf_provider pp, apns_conn **out)
{
    apns_conn *k = &c->conns[pp];
    if (k->h2 && (k->goaway || conn_catch_up(k) != SX_OK || k->goaway || !nghttp2_session_want_read(k->h2)))
        conn_drop(k);
    if (!k->h2) {
        const char *host = host_of(c, pp);
        SX_ENSURE(host != NULL, SX_E_USAGE);
        sx_status st = conn_open(c, k, host);
        if (st != SX_OK) {
            k->broken = true;
            conn_drop(k);
            return st;
        }
        c->connects++;
    }
    *out = k;
    return SX_OK;
}

static nghttp2_nv nv(const char *name, const char *value)
{
    nghttp2_nv h = {(uint8_t *)name, (uint8_t *)value, strlen(name), strlen(value), NGHTTP2_NV_FLAG_NONE};
    return h;
}

sx_status sx_ntf_apns_client_push_batch(sx_ntf_apns_client *c, sx_ntf_provider pp, const sx_ntf_apns_req *reqs,
                                        size_t n, sx_ntf_apns_result *res)
{
    SX_ENSURE(c != NULL && res != NULL && (unsigned)pp < N_PROVIDERS && pp != SX_NTF_PP_APNS_NULL, SX_E_USAGE);
    SX_ENSURE(n <= SX_NTF_APNS_BATCH_MAX && (n == 0 || reqs != NULL), SX_E_USAGE);
    for (size_t i = 0; i < n; i++)
        SX_ENSURE(reqs[i].token_hex != NULL && strlen(reqs[i].token_hex) < 300, SX_E_USAGE);
    for (size_t i = 0; i < n; i++) {
        memset(&res[i], 0, sizeof res[i]);
        res[i].outcome = SX_NTF_APNS_RETRY;
    }
    if (n == 0)
        return SX_OK;
    if ((int64_t)time(NULL) - c->jwt_iat >= SX_NTF_APNS_TOKEN_TTL)
        SX_TRY(make_jwt(c));
    apns_conn *k = NULL;
    if (conn_ready(c, pp, &k) != SX_OK)
        return SX_OK; /* no connection: RETRY, status 0 */
    char auth[SX_NTF_APNS_JWT_MAX + 16];
    snprintf(auth, sizeof auth, "bearer %s", c->jwt);
    const char *authority = host_of(c, pp);
    k->open = 0;
    for (size_t i = 0; i < n; i++) { /* all of them: a failure may stop the submitting early */
        apns_stream *t = &c->streams[i];
        memset(t, 0, offsetof(apns_stream, body));
        t->body_len = 0;
        t->req = reqs[i].body.ptr;
        t->req_len = reqs[i].body.len;
        t->req_off = 0;
    }
    sx_status st = SX_OK;
    for (size_t i = 0; i < n && st == SX_OK; i++) {
        apns_stream *t = &c->streams[i];
        char path[PATH_MAX_LEN];
        snprintf(path, sizeof path, "/3/device/%s", reqs[i].token_hex);
        bool background = reqs[i].background;
        nghttp2_nv hdrs[8];
        size_t h = 0;
        hdrs[h++] = nv(":method", "POST");
        hdrs[h++] = nv(":scheme", "https");
        hdrs[h++] = nv(":path", path);
        hdrs[h++] = nv(":authority", authority);
        hdrs[h++] = nv("apns-topic", c->topic);
        hdrs[h++] = nv("apns-push-type", background ? "background" : "alert");
        hdrs[h++] = nv("authorization", auth);
        if (background)
            hdrs[h++] = nv("apns-priority", "5");
        nghttp2_data_provider prov = {.source.ptr = t, .read_callback = req_source};
        /* nghttp2 copies the header names and values */
        int32_t id = nghttp2_submit_request(k->h2, NULL, hdrs, h, &prov, t);
        if (id > 0)
            k->open++;
        else
            t->closed = true; /* not sent: RETRY */
        /* send as we go, so the first answers may come while the rest are
         * submitted (nghttp2 sends each stream's HEADERS before DATA) */
        if (i + 1 == n || (i + 1) % 16 == 0)
            st = conn_flush(k);
    }
    while (st == SX_OK && k->open > 0) {
        st = conn_flush(k);
        if (st == SX_OK && k->open > 0)
            st = conn_read(k);
    }
    bool drop = st != SX_OK || k->goaway;
    for (size_t i = 0; i < n; i++) {
        apns_stream *t = &c->streams[i];
        if (!t->closed || t->status == 0) {
            drop |= !t->closed; /* a connection that lost streams is not reused */
            continue;           /* RETRY */
        }
        res[i].status = t->status;
        if (sx_ntf_apns_reason_parse(sx_slice_of(t->body, t->body_len), res[i].reason, sizeof res[i].reason) !=
            SX_OK)
            res[i].reason[0] = 0; /* as the reference: an unreadable body has no reason */
        res[i].outcome = sx_ntf_apns_outcome_of(res[i].status, res[i].reason, &res[i].invalid);
        drop |= res[i].status == 503;
    }
    if (drop) {
        k->broken = st != SX_OK;
        conn_drop(k); /* also forgets the streams' user data */
    }
    for (size_t i = 0; i < n; i++)
        c->streams[i].req = NULL;
    return SX_OK;
}

sx_status sx_ntf_apns_client_push(sx_ntf_apns_client *c, sx_ntf_provider pp, const char *token_hex,
                                  bool background, sx_slice body, sx_ntf_apns_result *res)
{
    SX_ENSURE(token_hex != NULL, SX_E_USAGE);
    sx_ntf_apns_req r = {.token_hex = token_hex, .background = background, .body = body};
    return sx_ntf_apns_client_push_batch(c, pp, &r, 1, res);
}
