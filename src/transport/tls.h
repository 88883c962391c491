/* TLS 1.3 over non-blocking sockets with OpenSSL (PROTOCOL-NOTES B.1, B.2).
 *
 * A context (sx_tls_ctx) carries the settings shared by many connections:
 * protocol versions, cipher suites, groups, signature algorithms, the
 * certificate chain and ALPN. A connection (sx_tls_conn) runs one TLS session
 * over a connected socket the caller owns: the handshake and exact-length
 * reads and writes make partial progress and return SX_E_WOULD_BLOCK when the
 * socket is not ready; sx_tls_conn_want() says which direction to wait for.
 *
 * Writing to a socket whose peer has gone is an I/O error, never a SIGPIPE:
 * connections write with MSG_NOSIGNAL. A context and its connections belong to one
 * thread at a time; different connections may live on different threads. */
#ifndef SX_TRANSPORT_TLS_H
#define SX_TRANSPORT_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bytes.h"
#include "simplex/status.h"

struct ssl_st;

#define SX_TLS_KEY_HASH_LEN 32 /* PROTOCOL-NOTES B10: SHA-256 of the identity certificate */
#define SX_TLS_UNIQUE_MAX 64   /* PROTOCOL-NOTES B8: 32 (SHA-256 suites) or 48 (SHA-384 suite) */
#define SX_TLS_MAX_CHAIN 4     /* PROTOCOL-NOTES B6, B10: longest accepted certificate chain */
#define SX_TLS_MAX_ALPN 8      /* protocols in one ALPN list */

typedef struct sx_tls_ctx sx_tls_ctx;
typedef struct sx_tls_conn sx_tls_conn;

/* Certificate chain and key, all PEM files. The chain sent to the peer is
 * every certificate of cert_file (the first is the leaf whose key is
 * key_file) followed by every certificate of ca_file (PROTOCOL-NOTES B9:
 * server.crt then ca.crt). At most SX_TLS_MAX_CHAIN certificates. */
typedef struct sx_tls_credentials {
    const char *cert_file;
    const char *ca_file; /* NULL: the chain is cert_file alone */
    const char *key_file;
    /* In memory instead of files (used when cert_file is NULL): der_chain_len
     * DER certificates, leaf first, and the leaf's private key, all only read
     * while the context is made (a per-session leaf that never touches disk). */
    const sx_slice *der_chain;
    size_t der_chain_len;
    const struct sx_key *key;
} sx_tls_credentials;

typedef struct sx_tls_server_config {
    sx_tls_credentials creds;
    /* PROTOCOL-NOTES B5: protocols the server accepts, NULL-terminated; NULL
     * means the default {"smp/1", "h2", "http/1.1"}. The first protocol of the
     * client's list that is accepted is chosen; when none is, the handshake
     * fails with the no_application_protocol alert (PROTOCOL-NOTES B5a). */
    const char *const *alpn;
    /* PROTOCOL-NOTES B6: the server asks for a client certificate unless this
     * is set. */
    bool no_client_cert_request;
    /* PROTOCOL-NOTES B3: the broader parameter set of a port shared with an
     * HTTPS site (TLS 1.2 too, ECDHE suites, NIST/FFDHE groups, ECDSA/RSA
     * signatures besides ed25519/ed448) so browsers can connect. Off by
     * default. */
    bool https_compat;
} sx_tls_server_config;

typedef struct sx_tls_client_config {
    /* Protocols offered, in order of preference, NULL-terminated; NULL sends
     * no ALPN extension. A connection may override it (sx_tls_conn_set_alpn). */
    const char *const *alpn;
    /* Optional client certificate (service certificates, PROTOCOL-NOTES B21);
     * NULL: none. */
    const sx_tls_credentials *creds;
} sx_tls_client_config;

/* Creates a server context: TLS 1.3 only; suites CHACHA20_POLY1305_SHA256
 * (preferred), AES_256_GCM_SHA384, AES_128_GCM_SHA256; groups X448, X25519;
 * signatures ed448, ed25519; no session tickets, cache or resumption.
 * *out is freed with sx_tls_ctx_free and must outlive its connections.
 * Errors: SX_E_USAGE (missing file name, bad ALPN entry), SX_E_IO (file
 * unreadable), SX_E_PROTOCOL (PEM without certificate or key, key not
 * matching the leaf), SX_E_LIMIT (chain longer than 4), SX_E_NOMEM,
 * SX_E_INTERNAL (OpenSSL refused a setting). */
SX_MUST_CHECK sx_status sx_tls_server_ctx_new(const sx_tls_server_config *cfg, sx_tls_ctx **out);

/* Creates a client context with the same protocol settings, no SNI, and the
 * server certificate checks of PROTOCOL-NOTES B10/B11 run for every connection.
 * Errors as for sx_tls_server_ctx_new. */
SX_MUST_CHECK sx_status sx_tls_client_ctx_new(const sx_tls_client_config *cfg, sx_tls_ctx **out);

void sx_tls_ctx_free(sx_tls_ctx *ctx);

/* The context's own certificate chain (leaf first): number of certificates
 * and the DER of the i-th (an empty slice when i is out of range). The slices
 * live as long as ctx. */
size_t sx_tls_ctx_chain_len(const sx_tls_ctx *ctx);
sx_slice sx_tls_ctx_cert(const sx_tls_ctx *ctx, size_t i);

/* A new key object holding the context's private key (the key of the leaf
 * certificate, chain[0]), e.g. for the SMP server to sign its session keys
 * (PROTOCOL-NOTES B16). The caller frees it with sx_key_free. Errors:
 * SX_E_USAGE (the context has no key), SX_E_PROTOCOL (an algorithm keys.h does
 * not know), SX_E_NOMEM. */
struct sx_key;
SX_MUST_CHECK sx_status sx_tls_ctx_private_key(const sx_tls_ctx *ctx, struct sx_key **out);

/* Server only: a connection whose client sends a server name (SNI) uses
 * sni_ctx instead (its certificate chain and ALPN list; an XFTP router's
 * web credential), and sx_tls_sni_used reports it. Without this call SNI is
 * ignored. sni_ctx stays owned by the caller and must outlive ctx. Errors:
 * SX_E_USAGE (not two distinct server contexts). */
SX_MUST_CHECK sx_status sx_tls_server_ctx_set_sni(sx_tls_ctx *ctx, sx_tls_ctx *sni_ctx);
/* True when the connection was switched to the SNI context. */
bool sx_tls_sni_used(const sx_tls_conn *c);

/* Starts a server-side connection over fd, a connected non-blocking socket
 * that stays owned by the caller (close it after sx_tls_conn_free). */
SX_MUST_CHECK sx_status sx_tls_conn_new_server(sx_tls_ctx *ctx, int fd, sx_tls_conn **out);

/* Starts a client-side connection over fd (owned by the caller, as above).
 * key_hash is the server identity from its address (PROTOCOL-NOTES B10): the
 * handshake fails unless the server chain has 2..4 certificates, the SHA-256 of
 * the DER of the 2nd equals key_hash, and the chain validates up to its last
 * certificate as the only trust anchor (PROTOCOL-NOTES B11; no host name
 * check). */
SX_MUST_CHECK sx_status sx_tls_conn_new_client(sx_tls_ctx *ctx, int fd,
                                               const uint8_t key_hash[SX_TLS_KEY_HASH_LEN],
                                               sx_tls_conn **out);

/* Client only, before the handshake: replaces the context's ALPN list (NULL
 * sends none). SX_E_USAGE for a server connection or a bad entry. */
SX_MUST_CHECK sx_status sx_tls_conn_set_alpn(sx_tls_conn *c, const char *const *alpn);

/* Frees the connection without closing its socket. Accepts NULL. */
void sx_tls_conn_free(sx_tls_conn *c);

typedef enum sx_tls_want {
    SX_TLS_WANT_NONE = 0,
    SX_TLS_WANT_READ = 1,
    SX_TLS_WANT_WRITE = 2,
} sx_tls_want;

/* Direction to wait for after a call returned SX_E_WOULD_BLOCK. */
sx_tls_want sx_tls_conn_want(const sx_tls_conn *c);

/* Advances the handshake. SX_OK once it is complete (and on later calls),
 * SX_E_WOULD_BLOCK to be called again when the socket is ready.
 * Errors (the connection is then unusable): SX_E_AUTH a certificate check
 * failed on this side (client: PROTOCOL-NOTES B10/B11; server: a client chain
 * that does not validate, PROTOCOL-NOTES B6); SX_E_CLOSED the peer closed the
 * socket; SX_E_PROTOCOL any other TLS failure (alert from the peer, no common
 * version or suite, no tls-unique); SX_E_IO a socket error. */
SX_MUST_CHECK sx_status sx_tls_handshake(sx_tls_conn *c);

/* True once sx_tls_handshake has returned SX_OK. */
bool sx_tls_established(const sx_tls_conn *c);
/* Client: the handshake failed with the server's no_application_protocol
 * alert: it accepts none of the protocols offered (PROTOCOL-NOTES B5a; a
 * server of another protocol). */
bool sx_tls_alpn_refused(const sx_tls_conn *c);

/* PROTOCOL-NOTES B8: the tls-unique channel binding, the client's Finished
 * verify_data on both sides (32 bytes for the SHA-256 suites, 48 for
 * AES_256_GCM_SHA384). Empty before the handshake completes. Valid while c
 * lives. */
sx_slice sx_tls_unique(const sx_tls_conn *c);

/* The negotiated ALPN protocol; an empty slice when none was agreed. */
sx_slice sx_tls_alpn(const sx_tls_conn *c);

/* The peer's certificate chain as it was sent (leaf first): the server chain
 * on a client, the client chain (usually none) on a server. DER slices valid
 * while c lives; an empty slice when i is out of range. */
size_t sx_tls_peer_chain_len(const sx_tls_conn *c);
sx_slice sx_tls_peer_cert(const sx_tls_conn *c, size_t i);

/* Reads until buf holds len bytes. *done counts the bytes already in buf:
 * set it to 0 for a new read and pass it back unchanged after
 * SX_E_WOULD_BLOCK. SX_OK when *done == len. Errors: SX_E_CLOSED (peer
 * closed, cleanly or not), SX_E_PROTOCOL (TLS failure), SX_E_IO,
 * SX_E_USAGE (handshake not complete). */
SX_MUST_CHECK sx_status sx_tls_read(sx_tls_conn *c, uint8_t *buf, size_t len, size_t *done);

/* Writes buf[*done..len) with the same progress rule as sx_tls_read. */
SX_MUST_CHECK sx_status sx_tls_write(sx_tls_conn *c, const uint8_t *buf, size_t len, size_t *done);

/* True when bytes are buffered inside TLS (decrypted, or read ahead from the
 * socket and not yet decrypted), so a read can make progress without the
 * socket becoming readable. */
bool sx_tls_has_pending(const sx_tls_conn *c);

/* Whether this CPU has AES and carry-less multiply instructions: then every
 * context prefers TLS_AES_128_GCM_SHA256 over ChaCha20-Poly1305 (both stay
 * accepted; PROTOCOL-NOTES B2). */
bool sx_tls_cpu_has_aes(void);

/* The negotiated cipher suite's OpenSSL name ("TLS_AES_128_GCM_SHA256"), or
 * "" before the handshake ends. */
const char *sx_tls_conn_cipher(const sx_tls_conn *c);

/* Sends close_notify once (does not wait for the peer's). SX_OK when sent,
 * SX_E_WOULD_BLOCK to retry, SX_E_CLOSED / SX_E_IO when the socket is gone. */
SX_MUST_CHECK sx_status sx_tls_shutdown(sx_tls_conn *c);

/* A short description of the last TLS failure on c (for logs), or "". */
const char *sx_tls_conn_error(const sx_tls_conn *c);

/* The underlying OpenSSL object, for diagnostics and tests only. */
struct ssl_st *sx_tls_conn_ssl(sx_tls_conn *c);

/* For code that runs its own OpenSSL connection (the NTF router's APNS
 * client, whose peer is a web PKI server): reads and writes ssl over fd
 * (still the caller's) with the BIO above, never raising SIGPIPE.
 * SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_tls_ssl_set_fd(struct ssl_st *ssl, int fd);

/* Blocking convenience layer (tests, simple tools): each call polls the
 * socket until done or timeout_ms milliseconds have passed in total (a
 * negative timeout waits forever). A timeout is SX_E_IO and leaves the
 * connection unusable; other errors as for the non-blocking calls. */
SX_MUST_CHECK sx_status sx_tls_handshake_blocking(sx_tls_conn *c, int timeout_ms);
SX_MUST_CHECK sx_status sx_tls_read_full(sx_tls_conn *c, uint8_t *buf, size_t len, int timeout_ms);
SX_MUST_CHECK sx_status sx_tls_write_full(sx_tls_conn *c, const uint8_t *buf, size_t len,
                                          int timeout_ms);
/* PROTOCOL-NOTES B12: exactly one SX_BLOCK_SIZE block (transport/block.h). */
SX_MUST_CHECK sx_status sx_tls_read_block(sx_tls_conn *c, uint8_t *block, int timeout_ms);
SX_MUST_CHECK sx_status sx_tls_write_block(sx_tls_conn *c, const uint8_t *block, int timeout_ms);
/* Sends close_notify, waiting up to timeout_ms for the socket. */
SX_MUST_CHECK sx_status sx_tls_shutdown_blocking(sx_tls_conn *c, int timeout_ms);

#endif
