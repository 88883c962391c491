/* Router kit: a router's static web site ([WEB] of the INI). A small file
 * server over a folder, HTTP/1.1 and, over TLS with ALPN h2, HTTP/2
 * (nghttp2, web_h2.c): GET and HEAD of the files under it,
 * `/.well-known/` read from the folder's `well-known/` (a dot folder is not
 * served), a folder answered by its index.html, 404 for anything else, and
 * nothing outside the folder (symbolic links are resolved and checked).
 *
 * It listens on a plain HTTP port and on an HTTPS port with the web
 * certificate (either optional), and also serves TLS connections another
 * listener has accepted: the SMP router's shared port hands over the
 * connections whose client sent a server name (SNI). Each connection is
 * served on a thread of its own with blocking reads and writes under
 * timeouts; the pages are few and small. */
#ifndef SX_KIT_WEB_H
#define SX_KIT_WEB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "simplex/status.h"
#include "transport/tls.h"

typedef struct sx_kit_web sx_kit_web;

typedef struct sx_kit_web_opts {
    const char *root; /* the static folder; must exist */
    const char *host; /* listening address, NULL = 0.0.0.0 */
    bool http;        /* listen for plain HTTP on http_port (0 = any free port) */
    uint16_t http_port;
    bool https; /* listen for HTTPS on https_port (0 = any free port) */
    uint16_t https_port;
    const char *cert_file; /* the web certificate (chain) and key: required for */
    const char *key_file;  /* https and for sx_kit_web_tls */
    int io_timeout_ms;     /* per read or write, 0 = 30 s */
} sx_kit_web_opts;

/* Resolves the root, loads the web certificate when given, binds the ports
 * and starts the listening threads. SX_E_USAGE (no root, https without a
 * certificate), SX_E_IO (root missing, a port cannot be bound, the
 * certificate or key cannot be read) with the reason in err. */
SX_MUST_CHECK sx_status sx_kit_web_start(const sx_kit_web_opts *o, sx_kit_web **out, char *err, size_t errlen);

/* The port bound for HTTP / HTTPS (0 when not listening). */
uint16_t sx_kit_web_http_port(const sx_kit_web *w);
uint16_t sx_kit_web_https_port(const sx_kit_web *w);

/* The web certificate's TLS server context (ALPN h2, http/1.1), for a listener
 * that switches to it on SNI (sx_tls_server_ctx_set_sni); NULL without a
 * certificate. Owned by w. */
sx_tls_ctx *sx_kit_web_tls(sx_kit_web *w);

/* Takes over a connected socket whose TLS handshake on the web context is
 * done (any thread): w serves it and frees tls and closes fd. When the
 * server is stopping or out of threads both are freed at once. */
void sx_kit_web_adopt(sx_kit_web *w, int fd, sx_tls_conn *tls);

/* Closes the listeners, waits for the connection threads (each ends within
 * its timeout) and frees w. Accepts NULL. */
void sx_kit_web_stop(sx_kit_web *w);

/* ---- pieces exposed for tests ---- */

#define SX_KIT_HTTP_HEAD_MAX 8192 /* request line and headers, at most */
#define SX_KIT_HTTP_PATH_MAX 1024 /* the decoded path, at most */

typedef struct sx_kit_http_req {
    char method[8];
    char path[SX_KIT_HTTP_PATH_MAX]; /* percent-decoded, without the query */
    unsigned minor;                  /* HTTP/1.<minor> */
    bool keep_alive;                 /* 1.1 without "Connection: close", or 1.0 with keep-alive */
    bool has_body;                   /* Content-Length other than 0, or Transfer-Encoding */
} sx_kit_http_req;

/* Parses one request head at the start of buf[0..len). SX_OK with *used
 * the bytes of the head (through the empty line); SX_E_WOULD_BLOCK when the
 * head is not complete yet (SX_E_LIMIT once len reaches
 * SX_KIT_HTTP_HEAD_MAX without it); SX_E_PROTOCOL for a malformed head
 * (bad request line, not HTTP/1.x, a path not starting with '/', a NUL or
 * bad escape in the path, a header line without ':'); SX_E_LIMIT for a
 * method or path too long. */
SX_MUST_CHECK sx_status sx_kit_http_parse(const uint8_t *buf, size_t len, sx_kit_http_req *req, size_t *used);

/* The path of a request target (t[0..n), from '/' on; the query and
 * fragment dropped, %XX decoded) into out. SX_E_PROTOCOL (not starting with
 * '/', a byte outside 33..126, a bad escape or %00), SX_E_LIMIT (longer than
 * cap - 1). Both HTTP versions use it. */
SX_MUST_CHECK sx_status sx_kit_http_path(const uint8_t *t, size_t n, char *out, size_t cap);

/* The file under root (a canonical absolute path) that path names, in out:
 * `/.well-known/x` as `/well-known/x`, a folder as its index.html. SX_OK
 * for a regular file inside root; SX_E_IO otherwise (missing, a
 * `..` segment, outside root after resolving links); SX_E_LIMIT (too
 * long). */
SX_MUST_CHECK sx_status sx_kit_web_resolve(const char *root, const char *path, char *out, size_t outlen);

/* The Content-Type for a file name (by its extension). */
const char *sx_kit_web_mime(const char *name);

#endif
