/* Internals of the routers' web server shared by its HTTP/1.1 part (web.c)
 * and its HTTP/2 part (web_h2.c). Not a public header. */
#ifndef SX_KIT_WEB_INT_H
#define SX_KIT_WEB_INT_H

#include "kit/web.h"

/* One connection, served on its own thread. */
typedef struct sx_kit_web_conn {
    sx_kit_web *w;
    int fd;
    int slot;
    sx_tls_conn *tls; /* NULL on the plain HTTP port */
    uint8_t buf[SX_KIT_HTTP_HEAD_MAX];
    size_t have; /* bytes in buf */
} sx_kit_web_conn;

/* Reads at least one more byte into buf (SX_E_LIMIT when it is full);
 * errors end the connection. */
SX_MUST_CHECK sx_status sx_kit_web_conn_read(sx_kit_web_conn *c);
/* Writes all of p. */
SX_MUST_CHECK sx_status sx_kit_web_conn_write(sx_kit_web_conn *c, const void *p, size_t n);

/* The file for a decoded path: *body (malloc'd, the caller frees), *len and
 * *type. SX_E_IO when there is none (404), SX_E_NOMEM / SX_E_LIMIT (500). */
SX_MUST_CHECK sx_status sx_kit_web_load(const sx_kit_web_conn *c, const char *path, uint8_t **body, size_t *len,
                                        const char **type);

/* Serves an HTTP/2 connection (ALPN h2) until it ends. */
void sx_kit_web_serve_h2(sx_kit_web_conn *c);

#endif
