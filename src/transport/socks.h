/* SOCKS5 client (RFC 1928 CONNECT; RFC 1929 username/password), as the
 * reference's routers and clients use a SOCKS proxy (Tor): the destination
 * goes to the proxy by name (domain-name address type), so a .onion name is
 * resolved at the proxy; numeric IPv4 / IPv6 hosts go as addresses. A
 * state machine that reads no byte past the proxy's last reply (what follows
 * is the destination's stream), driven by the loop client or by the blocking
 * helper below. The proxy's replies are network input: every length is
 * checked against the bytes received. */
#ifndef SX_TRANSPORT_SOCKS_H
#define SX_TRANSPORT_SOCKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bytes.h"
#include "simplex/status.h"

#define SX_SOCKS_NAME_MAX 255
/* The longest reply: VER REP RSV ATYP, a 255-byte name with its length, port. */
#define SX_SOCKS_REPLY_MAX (4 + 1 + SX_SOCKS_NAME_MAX + 2)

/* A connect reply (RFC 1928 section 6). */
typedef struct sx_socks_reply {
    uint8_t rep;  /* 0: succeeded */
    uint8_t atyp; /* 1 IPv4, 3 name, 4 IPv6 */
    sx_slice addr; /* the bound address (into the parsed bytes) */
    uint16_t port;
} sx_socks_reply;

/* The whole length of the connect reply that starts with in: SX_OK with
 * *total once the header tells it (in may be shorter); SX_E_WOULD_BLOCK
 * when fewer than 5 bytes are there; SX_E_PROTOCOL for a version other
 * than 5, a reserved byte not 0, an unknown address type or an empty name. */
SX_MUST_CHECK sx_status sx_socks_reply_len(sx_slice in, size_t *total);
/* Parses exactly one connect reply: truncated, trailing or malformed bytes
 * are SX_E_PROTOCOL. A reply that is not "succeeded" parses (out->rep). */
SX_MUST_CHECK sx_status sx_socks_reply_parse(sx_slice in, sx_socks_reply *out);

/* The client's state: the bytes to send next (out), and how many bytes of
 * the proxy's current reply are still to be read (sx_socks_client_want). */
typedef struct sx_socks_client {
    uint8_t step; /* internal */
    bool with_auth;
    uint8_t user[SX_SOCKS_NAME_MAX], pass[SX_SOCKS_NAME_MAX];
    uint8_t user_len, pass_len;
    uint8_t req[4 + 1 + SX_SOCKS_NAME_MAX + 2]; /* the CONNECT request */
    size_t req_len;
    uint8_t out[3 + SX_SOCKS_NAME_MAX * 2];
    size_t out_len, out_off; /* to send: out[out_off..out_len) */
    uint8_t in[SX_SOCKS_REPLY_MAX];
    size_t in_len;
    uint8_t rep; /* the proxy's failure code once failed (0: other failures) */
} sx_socks_client;

/* Starts a CONNECT to host:port through the proxy. user NULL: no
 * authentication offered; else username/password (pass may be "", each at
 * most 255 bytes). host: a name of 1..255 bytes or a numeric IPv4/IPv6
 * address. SX_E_USAGE for bad arguments. The greeting is then in out. */
SX_MUST_CHECK sx_status sx_socks_client_init(sx_socks_client *s, const char *host, uint16_t port, const char *user,
                                             const char *pass);
/* The bytes of the proxy's reply still to read (0: nothing to read now:
 * send out first, or done). */
size_t sx_socks_client_want(const sx_socks_client *s);
/* Takes n (<= want) bytes of the proxy's reply. SX_OK: go on (send what is
 * in out, read want more) or done; SX_E_PROTOCOL: malformed; SX_E_AUTH: no
 * acceptable method or the credentials refused; SX_E_IO: the proxy could
 * not connect (s->rep tells why). */
SX_MUST_CHECK sx_status sx_socks_client_feed(sx_socks_client *s, const uint8_t *b, size_t n);
bool sx_socks_client_done(const sx_socks_client *s);

/* The whole exchange on a connected non-blocking socket, waiting at most
 * timeout_ms in total (negative: no limit). Errors as sx_socks_client_feed,
 * SX_E_IO for a timeout or a closed socket. */
SX_MUST_CHECK sx_status sx_socks_connect_fd(int fd, const char *host, uint16_t port, const char *user,
                                            const char *pass, int timeout_ms);

/* How the proxy is asked to keep connections apart (the reference's
 * SocksAuth): by a username per session (the default, Tor's stream
 * isolation), not at all, or with given credentials. */
typedef enum sx_socks_auth {
    SX_SOCKS_AUTH_ISOLATE = 0,
    SX_SOCKS_AUTH_NONE,
    SX_SOCKS_AUTH_USER,
} sx_socks_auth;

typedef struct sx_socks_proxy {
    char host[64]; /* numeric IPv4 or IPv6 */
    uint16_t port;
    sx_socks_auth auth;
    char user[SX_SOCKS_NAME_MAX + 1], pass[SX_SOCKS_NAME_MAX + 1]; /* SX_SOCKS_AUTH_USER */
} sx_socks_proxy;

/* Parses the reference's proxy string: an optional "user:pass@" (given
 * credentials) or "@" (no authentication; nothing: isolation), then an
 * optional numeric host (IPv4, or IPv6 in brackets; 127.0.0.1 when left
 * out) and ":port" (9050 when left out). SX_E_USAGE when malformed. */
SX_MUST_CHECK sx_status sx_socks_proxy_parse(const char *s, sx_socks_proxy *out);

/* Whether host is a Tor onion name (ends in ".onion"). */
bool sx_socks_is_onion(const char *host);

/* One connection's way through the proxy: where the proxy is and the
 * credentials to give it (user[0] == '\0': none). */
typedef struct sx_socks_route {
    char host[64];
    uint16_t port;
    char user[SX_SOCKS_NAME_MAX + 1], pass[SX_SOCKS_NAME_MAX + 1];
} sx_socks_route;

/* Whether a connection to dest_host goes through proxy p (NULL: never):
 * always, or only for .onion names when onion_only (the reference's socks
 * modes "always" and "onion"). Fills out when it does: with isolation the
 * username is isolation (cut to 255 bytes; "" then means none) and the
 * password empty, as the reference's SocksIsolateByAuth. */
bool sx_socks_route_for(const sx_socks_proxy *p, bool onion_only, const char *dest_host, const char *isolation,
                        sx_socks_route *out);

/* A moment (nanoseconds since 1970 UTC) as the reference's clients print
 * one when they name a SOCKS session: "YYYY-MM-DD HH:MM:SS[.fraction] UTC",
 * the fraction with its trailing zeros dropped (none at all on a whole
 * second). Returns the length; out holds at least 40 bytes. */
size_t sx_socks_time_text(int64_t unix_ns, char *out, size_t cap);

#define SX_SOCKS_ISOLATION_LEN 44 /* standard base64 of a SHA-256 */

/* The isolation username of a session (the reference's
 * SocksIsolateByAuth with its default per-session mode): the standard
 * base64 of SHA-256 over "<user id>:<session start>", the start as
 * sx_socks_time_text. The reference's SMP client pool and its routers'
 * proxy clients use user id 1 and the time they started. */
SX_MUST_CHECK sx_status sx_socks_isolation_user(int64_t user_id, int64_t unix_ns,
                                                char out[SX_SOCKS_ISOLATION_LEN + 1]);

#endif
