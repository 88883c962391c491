/* The routers' static web site (web.h): listener threads, one thread per
 * connection, HTTP/1.1 request heads parsed with sx_reader, files resolved
 * under the canonical root. */
#include "kit/web.h"

#include "kit/web_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/reader.h"
#include "transport/net.h"

#define WEB_MAX_CONNS 256 /* connection threads at once; more are closed */
#define WEB_MAX_REQS 100  /* requests on one connection */
#define WEB_FILE_MAX (16u << 20)
#define WEB_STACK (512u << 10) /* a connection thread's stack */

static const char *const web_alpn[] = {"h2", "http/1.1", NULL};

typedef struct web_listener {
    sx_kit_web *w;
    int fd;
    bool tls;
    uint16_t port;
    pthread_t th;
    bool running;
} web_listener;

struct sx_kit_web {
    char root[PATH_MAX];
    sx_tls_ctx *tls;
    web_listener http, https;
    int stop_pipe[2];
    int timeout_ms;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned n_conns;
    int conn_fds[WEB_MAX_CONNS]; /* -1 = free slot; shut down at stop */
    bool stopping;
};

/* ---- request heads ---- */

static bool is_token_char(uint8_t c)
{
    return c > 32 && c < 127 && !strchr("()<>@,;:\\\"/[]?={}", c);
}

/* One line up to CRLF (the CRLF consumed, not included). */
static bool read_line(sx_reader *r, sx_slice *line)
{
    sx_slice rest = sx_reader_rest(r);
    for (size_t i = 0; i + 1 < rest.len; i++)
        if (rest.ptr[i] == '\r' && rest.ptr[i + 1] == '\n') {
            sx_slice crlf;
            return sx_read_bytes(r, i, line) && sx_read_bytes(r, 2, &crlf);
        }
    return sx_reader_fail(r, SX_E_WOULD_BLOCK);
}

static bool ieq(sx_slice s, const char *lit)
{
    size_t n = strlen(lit);
    if (s.len != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t a = s.ptr[i], b = (uint8_t)lit[i];
        if (a >= 'A' && a <= 'Z')
            a = (uint8_t)(a + 32);
        if (a != b)
            return false;
    }
    return true;
}

static sx_slice trim(sx_slice s)
{
    while (s.len && (s.ptr[0] == ' ' || s.ptr[0] == '\t')) {
        s.ptr++;
        s.len--;
    }
    while (s.len && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t'))
        s.len--;
    return s;
}

/* Whether a comma-separated header value holds the token lit. */
static bool has_token(sx_slice v, const char *lit)
{
    size_t start = 0;
    for (size_t i = 0; i <= v.len; i++)
        if (i == v.len || v.ptr[i] == ',') {
            if (ieq(trim(sx_slice_of(v.ptr + start, i - start)), lit))
                return true;
            start = i + 1;
        }
    return false;
}

sx_status sx_kit_http_path(const uint8_t *t, size_t n, char *out, size_t cap)
{
    SX_ENSURE(out && cap, SX_E_USAGE);
    out[0] = 0;
    if (n == 0 || t[0] != '/')
        return SX_E_PROTOCOL;
    size_t p = 0;
    bool query = false;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = t[i];
        if (c <= 32 || c >= 127)
            return SX_E_PROTOCOL;
        if (c == '?' || c == '#')
            query = true;
        if (query)
            continue;
        if (c == '%') {
            if (i + 2 >= n)
                return SX_E_PROTOCOL;
            int h = sx_hex_digit(t[i + 1]), l = sx_hex_digit(t[i + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0))
                return SX_E_PROTOCOL;
            c = (uint8_t)(h * 16 + l);
            i += 2;
        }
        if (p + 1 >= cap)
            return SX_E_LIMIT;
        out[p++] = (char)c;
    }
    out[p] = 0;
    return SX_OK;
}

static sx_status parse_request_line(sx_slice line, sx_kit_http_req *req)
{
    size_t i = 0, m = 0;
    while (i < line.len && line.ptr[i] != ' ') {
        if (!is_token_char(line.ptr[i]))
            return SX_E_PROTOCOL;
        if (m + 1 >= sizeof req->method)
            return SX_E_LIMIT;
        req->method[m++] = (char)line.ptr[i++];
    }
    req->method[m] = 0;
    if (m == 0 || i >= line.len)
        return SX_E_PROTOCOL;
    i++;
    size_t t = i;
    while (i < line.len && line.ptr[i] != ' ')
        i++;
    sx_status st = sx_kit_http_path(line.ptr + t, i - t, req->path, sizeof req->path);
    if (st != SX_OK)
        return st;
    static const char ver[] = " HTTP/1.";
    if (line.len - i != sizeof ver || memcmp(line.ptr + i, ver, sizeof ver - 1) != 0)
        return SX_E_PROTOCOL;
    uint8_t minor = line.ptr[line.len - 1];
    if (minor < '0' || minor > '9')
        return SX_E_PROTOCOL;
    req->minor = (unsigned)(minor - '0');
    return SX_OK;
}

sx_status sx_kit_http_parse(const uint8_t *buf, size_t len, sx_kit_http_req *req, size_t *used)
{
    SX_ENSURE(buf && req && used, SX_E_USAGE);
    memset(req, 0, sizeof *req);
    *used = 0;
    size_t n = len < SX_KIT_HTTP_HEAD_MAX ? len : SX_KIT_HTTP_HEAD_MAX;
    sx_reader r;
    sx_reader_init(&r, buf, n);
    sx_slice line;
    if (!read_line(&r, &line))
        return len >= SX_KIT_HTTP_HEAD_MAX ? SX_E_LIMIT : SX_E_WOULD_BLOCK;
    sx_status st = parse_request_line(line, req);
    if (st != SX_OK)
        return st;
    bool close = false, keep = false;
    for (;;) {
        if (!read_line(&r, &line))
            return len >= SX_KIT_HTTP_HEAD_MAX ? SX_E_LIMIT : SX_E_WOULD_BLOCK;
        if (line.len == 0)
            break;
        size_t colon = 0;
        while (colon < line.len && line.ptr[colon] != ':')
            colon++;
        if (colon == 0 || colon == line.len)
            return SX_E_PROTOCOL;
        for (size_t i = 0; i < colon; i++)
            if (!is_token_char(line.ptr[i]))
                return SX_E_PROTOCOL;
        sx_slice name = sx_slice_of(line.ptr, colon);
        sx_slice value = trim(sx_slice_of(line.ptr + colon + 1, line.len - colon - 1));
        if (ieq(name, "connection")) {
            close = close || has_token(value, "close");
            keep = keep || has_token(value, "keep-alive");
        } else if (ieq(name, "transfer-encoding")) {
            req->has_body = true;
        } else if (ieq(name, "content-length")) {
            if (!(value.len == 1 && value.ptr[0] == '0'))
                req->has_body = true;
        }
    }
    req->keep_alive = req->minor >= 1 ? !close : keep && !close;
    *used = n - sx_reader_remaining(&r);
    return SX_OK;
}

/* ---- files ---- */

const char *sx_kit_web_mime(const char *name)
{
    static const struct {
        const char *ext;
        const char *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".css", "text/css"},
        {".js", "application/javascript"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".ico", "image/x-icon"},
        {".woff", "font/woff"},
        {".woff2", "font/woff2"},
        {".ttf", "font/ttf"},
        {".txt", "text/plain; charset=utf-8"},
    };
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    if (strcmp(base, "apple-app-site-association") == 0)
        return "application/json";
    size_t n = strlen(base);
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        size_t k = strlen(types[i].ext);
        if (n > k && strcmp(base + n - k, types[i].ext) == 0)
            return types[i].type;
    }
    return "application/octet-stream";
}

static bool inside(const char *root, const char *p)
{
    size_t n = strlen(root);
    return strncmp(p, root, n) == 0 && (p[n] == '/' || p[n] == 0);
}

static bool regular(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

sx_status sx_kit_web_resolve(const char *root, const char *path, char *out, size_t outlen)
{
    SX_ENSURE(root && path && out && outlen, SX_E_USAGE);
    if (path[0] != '/')
        return SX_E_IO;
    static const char wk[] = "/.well-known/";
    char rel[SX_KIT_HTTP_PATH_MAX + 16];
    int k = strncmp(path, wk, sizeof wk - 1) == 0 ? snprintf(rel, sizeof rel, "/well-known/%s", path + sizeof wk - 1)
                                                  : snprintf(rel, sizeof rel, "%s", path);
    if (k < 0 || (size_t)k >= sizeof rel)
        return SX_E_LIMIT;
    /* No `..` or hidden segments (the dot folder is only reached above). */
    for (const char *s = rel; *s;) {
        while (*s == '/')
            s++;
        if (*s == '.')
            return SX_E_IO;
        while (*s && *s != '/')
            s++;
    }
    char cand[PATH_MAX];
    k = snprintf(cand, sizeof cand, "%s%s", root, rel);
    if (k < 0 || (size_t)k >= sizeof cand)
        return SX_E_LIMIT;
    if (!regular(cand)) {
        size_t n = (size_t)k;
        k = snprintf(cand + n, sizeof cand - n, "%sindex.html", n && cand[n - 1] == '/' ? "" : "/");
        if (k < 0 || (size_t)k >= sizeof cand - n)
            return SX_E_LIMIT;
        if (!regular(cand))
            return SX_E_IO;
    }
    char canon[PATH_MAX];
    if (!realpath(cand, canon) || !inside(root, canon) || !regular(canon))
        return SX_E_IO;
    if (strlen(canon) >= outlen)
        return SX_E_LIMIT;
    memcpy(out, canon, strlen(canon) + 1);
    return SX_OK;
}

/* ---- connections ---- */

typedef sx_kit_web_conn web_conn;

/* Reads more bytes into c->buf (at least one). */
sx_status sx_kit_web_conn_read(web_conn *c)
{
    size_t cap = sizeof c->buf;
    if (c->have >= cap)
        return SX_E_LIMIT;
    for (;;) {
        if (c->tls) {
            size_t done = c->have;
            sx_status st = sx_tls_read(c->tls, c->buf, cap, &done);
            if (done > c->have) {
                c->have = done;
                return SX_OK;
            }
            if (st != SX_E_WOULD_BLOCK)
                return st == SX_OK ? SX_E_INTERNAL : st;
            SX_TRY(sx_net_wait(c->fd, sx_tls_conn_want(c->tls) == SX_TLS_WANT_WRITE, c->w->timeout_ms));
        } else {
            ssize_t n = recv(c->fd, c->buf + c->have, cap - c->have, 0);
            if (n > 0) {
                c->have += (size_t)n;
                return SX_OK;
            }
            if (n == 0)
                return SX_E_CLOSED;
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                return SX_E_IO;
            SX_TRY(sx_net_wait(c->fd, false, c->w->timeout_ms));
        }
    }
}

sx_status sx_kit_web_conn_write(web_conn *c, const void *p, size_t n)
{
    if (c->tls)
        return sx_tls_write_full(c->tls, p, n, c->w->timeout_ms);
    size_t done = 0;
    while (done < n) {
        ssize_t k = send(c->fd, (const uint8_t *)p + done, n - done, MSG_NOSIGNAL);
        if (k > 0) {
            done += (size_t)k;
            continue;
        }
        if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return SX_E_IO;
        SX_TRY(sx_net_wait(c->fd, true, c->w->timeout_ms));
    }
    return SX_OK;
}

static sx_status respond(web_conn *c, const char *status, const char *type, const uint8_t *body, size_t len,
                         bool head_only, bool keep)
{
    char head[512];
    int k = snprintf(head, sizeof head,
                     "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "X-Content-Type-Options: nosniff\r\n%s%s\r\n",
                     status, type, len, strncmp(status, "405", 3) == 0 ? "Allow: GET, HEAD\r\n" : "",
                     keep ? "" : "Connection: close\r\n");
    if (k < 0 || (size_t)k >= sizeof head)
        return SX_E_INTERNAL;
    SX_TRY(sx_kit_web_conn_write(c, head, (size_t)k));
    if (!head_only && len)
        SX_TRY(sx_kit_web_conn_write(c, body, len));
    return SX_OK;
}

static sx_status respond_text(web_conn *c, const char *status, bool head_only, bool keep)
{
    char body[64];
    int k = snprintf(body, sizeof body, "%s\n", status);
    return respond(c, status, "text/plain; charset=utf-8", (const uint8_t *)body, (size_t)k, head_only, keep);
}

sx_status sx_kit_web_load(const web_conn *c, const char *path, uint8_t **body, size_t *len, const char **type)
{
    *body = NULL;
    *len = 0;
    char file[PATH_MAX];
    if (sx_kit_web_resolve(c->w->root, path, file, sizeof file) != SX_OK)
        return SX_E_IO;
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        if (fd >= 0)
            close(fd);
        return SX_E_IO;
    }
    if ((uint64_t)sb.st_size > WEB_FILE_MAX) {
        close(fd);
        return SX_E_LIMIT;
    }
    size_t n = (size_t)sb.st_size, got = 0;
    uint8_t *b = malloc(n ? n : 1);
    while (b && got < n) {
        ssize_t k = read(fd, b + got, n - got);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    if (!b || got != n) {
        free(b);
        return b ? SX_E_IO : SX_E_NOMEM;
    }
    *body = b;
    *len = n;
    *type = sx_kit_web_mime(file);
    return SX_OK;
}

static sx_status serve_file(web_conn *c, const sx_kit_http_req *req, bool keep)
{
    bool head = strcmp(req->method, "HEAD") == 0;
    uint8_t *body = NULL;
    size_t len = 0;
    const char *type = NULL;
    sx_status st = sx_kit_web_load(c, req->path, &body, &len, &type);
    if (st == SX_E_IO)
        return respond_text(c, "404 Not Found", head, keep);
    if (st != SX_OK) {
        SX_TRY(respond_text(c, "500 Internal Server Error", head, false));
        return SX_E_IO;
    }
    st = respond(c, "200 OK", type, body, len, head, keep);
    free(body);
    return st;
}

static void serve(web_conn *c)
{
    if (c->tls && !sx_tls_established(c->tls) && sx_tls_handshake_blocking(c->tls, c->w->timeout_ms) != SX_OK)
        return;
    if (c->tls) {
        sx_slice alpn = sx_tls_alpn(c->tls);
        if (alpn.len == 2 && memcmp(alpn.ptr, "h2", 2) == 0) {
            sx_kit_web_serve_h2(c);
            return;
        }
    }
    for (int n = 0; n < WEB_MAX_REQS; n++) {
        sx_kit_http_req req;
        size_t used = 0;
        sx_status st;
        while ((st = sx_kit_http_parse(c->buf, c->have, &req, &used)) == SX_E_WOULD_BLOCK)
            if (sx_kit_web_conn_read(c) != SX_OK)
                return;
        if (st == SX_E_LIMIT) {
            if (respond_text(c, "431 Request Header Fields Too Large", false, false) != SX_OK)
                c->have = 0;
            return;
        }
        if (st != SX_OK) {
            if (respond_text(c, "400 Bad Request", false, false) != SX_OK)
                c->have = 0;
            return;
        }
        memmove(c->buf, c->buf + used, c->have - used);
        c->have -= used;
        /* Bodies are not read: answer, then close. */
        bool keep = req.keep_alive && !req.has_body && n + 1 < WEB_MAX_REQS;
        if (strcmp(req.method, "GET") == 0 || strcmp(req.method, "HEAD") == 0)
            st = serve_file(c, &req, keep);
        else {
            st = respond_text(c, "405 Method Not Allowed", false, false);
            keep = false;
        }
        if (st != SX_OK || !keep)
            return;
    }
}

static void conn_end(web_conn *c)
{
    sx_kit_web *w = c->w;
    if (c->tls) {
        if (sx_tls_established(c->tls) && sx_tls_shutdown(c->tls) != SX_OK)
            c->have = 0; /* close_notify not sent: the socket closes anyway */
        sx_tls_conn_free(c->tls);
    }
    pthread_mutex_lock(&w->mu);
    w->conn_fds[c->slot] = -1;
    pthread_mutex_unlock(&w->mu);
    sx_net_close(c->fd);
    free(c);
    pthread_mutex_lock(&w->mu);
    w->n_conns--;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void *conn_thread(void *arg)
{
    web_conn *c = arg;
    serve(c);
    conn_end(c);
    return NULL;
}

/* Starts a thread for the connection, or frees it. */
static void start_conn(sx_kit_web *w, int fd, sx_tls_conn *tls)
{
    web_conn *c = NULL;
    int slot = -1;
    pthread_mutex_lock(&w->mu);
    bool ok = !w->stopping && w->n_conns < WEB_MAX_CONNS;
    if (ok) {
        w->n_conns++;
        for (int i = 0; i < WEB_MAX_CONNS && slot < 0; i++)
            if (w->conn_fds[i] < 0)
                slot = i;
        w->conn_fds[slot] = fd;
    }
    pthread_mutex_unlock(&w->mu);
    if (ok)
        c = calloc(1, sizeof *c);
    if (c) {
        c->w = w;
        c->slot = slot;
        c->fd = fd;
        c->tls = tls;
        pthread_t th;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, WEB_STACK);
        int rc = pthread_create(&th, &attr, conn_thread, c);
        pthread_attr_destroy(&attr);
        if (rc == 0)
            return;
        c->tls = NULL;
        free(c);
    }
    sx_tls_conn_free(tls);
    sx_net_close(fd);
    if (ok) {
        pthread_mutex_lock(&w->mu);
        w->conn_fds[slot] = -1;
        w->n_conns--;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
    }
}

void sx_kit_web_adopt(sx_kit_web *w, int fd, sx_tls_conn *tls)
{
    if (!w) {
        sx_tls_conn_free(tls);
        sx_net_close(fd);
        return;
    }
    start_conn(w, fd, tls);
}

static void *listen_thread(void *arg)
{
    web_listener *l = arg;
    sx_kit_web *w = l->w;
    for (;;) {
        struct pollfd p[2] = {{.fd = l->fd, .events = POLLIN}, {.fd = w->stop_pipe[0], .events = POLLIN}};
        int rc = poll(p, 2, -1);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0 || p[1].revents)
            return NULL;
        int fd = -1;
        uint8_t peer[16];
        int err = 0;
        if (sx_net_accept_peer(l->fd, &fd, peer, &err) != SX_OK) {
            if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM)
                poll(NULL, 0, 100);
            continue;
        }
        sx_tls_conn *tls = NULL;
        if (l->tls && sx_tls_conn_new_server(w->tls, fd, &tls) != SX_OK) {
            sx_net_close(fd);
            continue;
        }
        start_conn(w, fd, tls);
    }
}

static sx_status listen_on(sx_kit_web *w, web_listener *l, const char *host, uint16_t port, bool tls, char *err,
                           size_t errlen)
{
    l->w = w;
    l->tls = tls;
    if (sx_net_listen(host, port, 128, &l->fd, &l->port) != SX_OK) {
        l->fd = -1;
        snprintf(err, errlen, "cannot listen on port %u: %s", port, strerror(sx_net_listen_errno()));
        return SX_E_IO;
    }
    if (pthread_create(&l->th, NULL, listen_thread, l) != 0) {
        snprintf(err, errlen, "cannot start a thread");
        return SX_E_INTERNAL;
    }
    l->running = true;
    return SX_OK;
}

sx_status sx_kit_web_start(const sx_kit_web_opts *o, sx_kit_web **out, char *err, size_t errlen)
{
    char dummy[8];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = 0;
    SX_ENSURE(o && o->root && out, SX_E_USAGE);
    *out = NULL;
    if (o->https && !(o->cert_file && o->key_file)) {
        snprintf(err, errlen, "HTTPS needs [WEB] cert and key");
        return SX_E_USAGE;
    }
    sx_kit_web *w = calloc(1, sizeof *w);
    if (!w)
        return SX_E_NOMEM;
    w->http.fd = w->https.fd = w->stop_pipe[0] = w->stop_pipe[1] = -1;
    w->timeout_ms = o->io_timeout_ms > 0 ? o->io_timeout_ms : 30000;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    for (int i = 0; i < WEB_MAX_CONNS; i++)
        w->conn_fds[i] = -1;
    sx_status st = SX_OK;
    if (!realpath(o->root, w->root)) {
        snprintf(err, errlen, "static path %s: %s", o->root, strerror(errno));
        st = SX_E_IO;
        goto fail;
    }
    if (pipe(w->stop_pipe) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        st = SX_E_IO;
        goto fail;
    }
    if (o->cert_file && o->key_file) {
        sx_tls_server_config cfg = {0};
        cfg.creds.cert_file = o->cert_file;
        cfg.creds.key_file = o->key_file;
        cfg.alpn = web_alpn;
        cfg.no_client_cert_request = true;
        cfg.https_compat = true;
        st = sx_tls_server_ctx_new(&cfg, &w->tls);
        if (st != SX_OK) {
            snprintf(err, errlen, "cannot load the web certificate %s or key %s", o->cert_file, o->key_file);
            goto fail;
        }
    }
    const char *host = o->host ? o->host : "0.0.0.0";
    if (o->http && (st = listen_on(w, &w->http, host, o->http_port, false, err, errlen)) != SX_OK)
        goto fail;
    if (o->https && (st = listen_on(w, &w->https, host, o->https_port, true, err, errlen)) != SX_OK)
        goto fail;
    *out = w;
    return SX_OK;
fail:
    sx_kit_web_stop(w);
    return st;
}

uint16_t sx_kit_web_http_port(const sx_kit_web *w)
{
    return w && w->http.running ? w->http.port : 0;
}

uint16_t sx_kit_web_https_port(const sx_kit_web *w)
{
    return w && w->https.running ? w->https.port : 0;
}

sx_tls_ctx *sx_kit_web_tls(sx_kit_web *w)
{
    return w ? w->tls : NULL;
}

void sx_kit_web_stop(sx_kit_web *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    pthread_mutex_unlock(&w->mu);
    if (w->stop_pipe[1] >= 0) {
        ssize_t rc = write(w->stop_pipe[1], "x", 1);
        (void)rc;
    }
    web_listener *ls[2] = {&w->http, &w->https};
    for (int i = 0; i < 2; i++) {
        if (ls[i]->running)
            pthread_join(ls[i]->th, NULL);
        if (ls[i]->fd >= 0)
            sx_net_close(ls[i]->fd);
    }
    /* Wake the connection threads: their reads and writes fail. */
    pthread_mutex_lock(&w->mu);
    for (int i = 0; i < WEB_MAX_CONNS; i++)
        if (w->conn_fds[i] >= 0)
            shutdown(w->conn_fds[i], SHUT_RDWR);
    while (w->n_conns > 0)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < 2; i++)
        if (w->stop_pipe[i] >= 0)
            close(w->stop_pipe[i]);
    sx_tls_ctx_free(w->tls);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}
