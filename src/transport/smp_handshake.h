/* SMP transport handshake and session (PROTOCOL-NOTES B.4-B.6, P3, P5, P6, W1, W2, W11).
 *
 * Three layers: the codecs of the hello blocks (server hello
 * PROTOCOL-NOTES B16, client hello PROTOCOL-NOTES B17, service reply
 * PROTOCOL-NOTES B21) and of the transport error text (PROTOCOL-NOTES C20); the
 * negotiation as pure functions over handshake blocks (no I/O, usable from an
 * event loop), producing an sx_smp_session; and blocking helpers on top of
 * tls.h for clients and tests. A session then turns batch content into 16384-
 * byte blocks and back, encrypted with the block chains (PROTOCOL-NOTES
 * B30-B34) when the agreed version and keys allow it (PROTOCOL-NOTES B25). */
#ifndef SX_TRANSPORT_SMP_HANDSHAKE_H
#define SX_TRANSPORT_SMP_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bytes.h"
#include "core/reader.h"
#include "core/writer.h"
#include "crypto/keys.h"
#include "crypto/sbchain.h"
#include "crypto/x509.h"
#include "simplex/status.h"
#include "transport/block.h"
#include "transport/smp_version.h"
#include "transport/tls.h"

#define SX_SMP_DH_KEY_LEN 32       /* raw X25519 public key */
#define SX_SMP_SESSION_SECRET_LEN 32
#define SX_SMP_SERVICE_ID_MAX 255  /* shortString */

/* ---- Transport errors (PROTOCOL-NOTES C20) ------------------------------- */

typedef enum sx_transport_error {
    SX_TE_NONE = 0, /* no transport error (success, or a local failure) */
    SX_TE_BLOCK,
    SX_TE_VERSION,
    SX_TE_LARGE_MSG,
    SX_TE_SESSION,
    SX_TE_NO_AUTH,
    SX_TE_HANDSHAKE_PARSE,
    SX_TE_HANDSHAKE_IDENTITY,
    SX_TE_HANDSHAKE_BAD_AUTH,
    SX_TE_HANDSHAKE_BAD_SERVICE,
} sx_transport_error;

/* Wire text of e: "BLOCK", "VERSION", ..., "HANDSHAKE BAD_AUTH"; "" for
 * SX_TE_NONE or an unknown value. */
const char *sx_transport_error_str(sx_transport_error e);
/* Appends the text (no length prefix). SX_E_USAGE in w for SX_TE_NONE. */
bool sx_transport_error_write(sx_writer *w, sx_transport_error e);
/* Reads a word up to a space or the end; "HANDSHAKE" is followed by one
 * space and a second word. Unknown words fail r with SX_E_PROTOCOL. */
bool sx_transport_error_read(sx_reader *r, sx_transport_error *out);

/* ---- Hello codecs (PROTOCOL-NOTES B16, B17, B21, B22) -------------------- */

/* CertChainPubKey (PROTOCOL-NOTES A20): a certificate chain and a key signed by
 * its leaf. All slices are borrowed from the decoded (or caller's) buffer. */
typedef struct sx_smp_cert_key {
    size_t chain_len;                  /* 1..SX_X509_CHAIN_MAX */
    sx_slice chain[SX_X509_CHAIN_MAX]; /* DER of each certificate, leaf first */
    sx_slice signed_key;               /* DER of the signed key object */
} sx_smp_cert_key;

/* PROTOCOL-NOTES B16. cert_key exists on the wire only when range.max >= 7 (no
 * tag). */
typedef struct sx_smp_server_hello {
    sx_version_range range;
    sx_slice session_id;
    bool has_cert_key;
    sx_smp_cert_key cert_key;
} sx_smp_server_hello;

typedef enum sx_smp_service_role {
    SX_SMP_SERVICE_MESSAGING = 'M',
    SX_SMP_SERVICE_NOTIFIER = 'N',
    SX_SMP_SERVICE_PROXY = 'P',
} sx_smp_service_role;

/* PROTOCOL-NOTES B17. Each optional part exists on the wire only from its
 * version on: dh_key from 7 (present or absent, no tag), proxy_server from 14,
 * the service (Maybe) from 16. */
typedef struct sx_smp_client_hello {
    uint16_t version;
    sx_slice key_hash; /* shortString: the server identity (PROTOCOL-NOTES B10) */
    bool has_dh_key;
    uint8_t dh_key[SX_SMP_DH_KEY_LEN]; /* raw X25519 public key */
    bool proxy_server;
    bool has_service;
    sx_smp_service_role service_role;
    sx_smp_cert_key service; /* the service's TLS chain and its signed Ed25519 key */
} sx_smp_client_hello;

/* PROTOCOL-NOTES B21: the third block, sent by the server when the client sent
 * a service. */
typedef struct sx_smp_service_reply {
    bool ok;             /* 'R' serviceId, or 'E' error */
    sx_slice service_id; /* when ok (shortString) */
    sx_transport_error error;
} sx_smp_service_reply;

/* Encoders append the content (unpadded) to w, writer style: false with w
 * failed on error (SX_E_USAGE for a range with min > max, a chain of 0 or
 * more than 4 certificates, an unknown role or SX_TE_NONE; SX_E_LIMIT for
 * over-long fields). Fields beyond what the version carries are not written. */
bool sx_smp_server_hello_write(sx_writer *w, const sx_smp_server_hello *h);
bool sx_smp_client_hello_write(sx_writer *w, const sx_smp_client_hello *h);
bool sx_smp_service_reply_write(sx_writer *w, const sx_smp_service_reply *rep);

/* Decoders of block content (after unpadding). Trailing bytes are ignored
 * (PROTOCOL-NOTES B22); a truncated or malformed mandatory field is
 * SX_E_PROTOCOL (HANDSHAKE PARSE). As in the reference, the optional parts
 * without a tag are tried and treated as absent when they do not parse: the
 * server hello's CertChainPubKey (every certificate must parse as X.509 and the
 * signed key structurally, PROTOCOL-NOTES A20) and the client hello's X25519
 * key (strict SPKI, PROTOCOL-NOTES A16). A service, having a Maybe tag, must
 * parse. out's slices point into content. SX_E_NOMEM on allocation failure. */
SX_MUST_CHECK sx_status sx_smp_server_hello_decode(sx_slice content, sx_smp_server_hello *out);
SX_MUST_CHECK sx_status sx_smp_client_hello_decode(sx_slice content, sx_smp_client_hello *out);
SX_MUST_CHECK sx_status sx_smp_service_reply_decode(sx_slice content, sx_smp_service_reply *out);

/* Handshake blocks are never encrypted (PROTOCOL-NOTES P6): writes the reply as
 * pad(content, 16384) (PROTOCOL-NOTES B13). */
SX_MUST_CHECK sx_status sx_smp_service_reply_block(const sx_smp_service_reply *rep,
                                                   uint8_t block[SX_BLOCK_SIZE]);

/* ---- Session ------------------------------------------------------------- */

/* What the layers above need from a completed handshake. Owned by the caller
 * (plain memory plus the heap objects below); release with
 * sx_smp_session_cleanup. Belongs to one connection / thread. */
typedef struct sx_smp_session {
    bool is_server;
    uint16_t version;        /* agreed version v */
    sx_version_range range;  /* server: [own min, v]; client: the intersection */
    uint8_t session_id[SX_TLS_UNIQUE_MAX]; /* tls-unique (PROTOCOL-NOTES B8) */
    size_t session_id_len;
    bool proxy_server;       /* the client declared itself a proxy (PROTOCOL-NOTES B17) */
    bool has_secret;         /* PROTOCOL-NOTES B26: both sides had an X25519 session key */
    uint8_t secret[SX_SMP_SESSION_SECRET_LEN];
    bool encrypted;          /* PROTOCOL-NOTES B25: blocks after the handshake are encrypted */
    sx_sbchain snd, rcv;     /* block chains (PROTOCOL-NOTES B31), used when encrypted */
    /* Server: own per-connection X25519 private key (PROTOCOL-NOTES C8
     * authenticators). */
    sx_key *server_dh_priv;
    /* Client: the server's X25519 session public key from its hello (NULL
     * when the server sent none, v6). */
    sx_key *server_dh_pub;
    /* Client: the server's chain from its hello. Server: the client's
     * service chain (empty without a service). DER copies owned here. */
    size_t peer_chain_len;
    sx_slice peer_chain[SX_X509_CHAIN_MAX];
    uint8_t *peer_chain_buf;
    /* Client: the server's signed session key (DER, in peer_chain_buf) and
     * the range of its hello, which a proxy reports in PKEY (PROTOCOL-NOTES
     * D31). */
    sx_slice peer_signed_key;
    sx_version_range peer_range;
    /* Service (PROTOCOL-NOTES B21). Server: set when the client sent a valid
     * service; the caller must answer with sx_smp_service_reply_block ('R' with
     * the id it assigns, or 'E' HANDSHAKE BAD_SERVICE) before any other block.
     * Client: set when it sent one and the server accepted it (service_id
     * filled). */
    bool has_service;
    bool service_pending;    /* client: sent a service, its reply not yet read */
    sx_smp_service_role service_role;
    uint8_t service_cert_hash[SX_FINGERPRINT_LEN]; /* SHA-256 of the id certificate */
    sx_key *service_key;                           /* server: the client's Ed25519 key */
    uint8_t service_id[SX_SMP_SERVICE_ID_MAX];
    size_t service_id_len;
} sx_smp_session;

/* Wipes secrets and chains, frees the keys and the chain copy. Accepts NULL
 * and a zeroed session; the session is zeroed afterwards. */
void sx_smp_session_cleanup(sx_smp_session *s);

static inline sx_slice sx_smp_session_id(const sx_smp_session *s)
{
    return sx_slice_of(s->session_id, s->session_id_len);
}

/* PROTOCOL-NOTES B30/B31: initialises both block chains from the session id and
 * secret and turns block encryption on (the server sends with ck1, the client
 * with ck2). The handshake calls it when PROTOCOL-NOTES B25 allows; exposed for
 * known-answer tests. Errors: SX_E_USAGE (empty session id), SX_E_INTERNAL. */
SX_MUST_CHECK sx_status sx_smp_session_start_encryption(
    sx_smp_session *s, const uint8_t secret[SX_SMP_SESSION_SECRET_LEN]);

/* Batch capacity for this session's blocks (PROTOCOL-NOTES B14). */
static inline size_t sx_smp_session_batch_capacity(const sx_smp_session *s)
{
    return sx_batch_capacity(s->encrypted);
}

/* One block of the session in its mode (sx_block_write / sx_block_read with
 * the session's chain or none). Blocks must be written and read in order and
 * never dropped (PROTOCOL-NOTES P6). Errors as in block.h. */
SX_MUST_CHECK sx_status sx_smp_session_write_block(sx_smp_session *s, sx_slice content,
                                                   uint8_t block[SX_BLOCK_SIZE]);
SX_MUST_CHECK sx_status sx_smp_session_read_block(sx_smp_session *s, uint8_t block[SX_BLOCK_SIZE],
                                                  sx_slice *content);

/* ---- Negotiation (pure: no I/O) ------------------------------------------ */

/* What the TLS layer established, as plain data (filled from a connection
 * with sx_smp_tls_info_from_conn, or by hand in tests). Slices borrowed. */
typedef struct sx_smp_tls_info {
    sx_slice tls_unique;    /* PROTOCOL-NOTES B8 */
    bool alpn;              /* server: an ALPN protocol was negotiated (PROTOCOL-NOTES B16) */
    size_t peer_chain_len;  /* the peer's TLS chain, leaf first */
    sx_slice peer_chain[SX_TLS_MAX_CHAIN];
} sx_smp_tls_info;

/* Fills info from an established connection; slices live as long as c. */
void sx_smp_tls_info_from_conn(const sx_tls_conn *c, sx_smp_tls_info *info);

typedef struct sx_smp_server_config sx_smp_server_config;
/* Blocking server only: assigns a service id (PROTOCOL-NOTES B21) for a
 * verified service; s holds the role, the certificate hash, the key and the
 * chain. SX_OK with the id in id[0..*id_len) (1..SX_SMP_SERVICE_ID_MAX bytes),
 * any error to refuse (the client is told HANDSHAKE BAD_SERVICE). */
typedef sx_status (*sx_smp_service_cb)(void *arg, const sx_smp_session *s, uint8_t *id,
                                       size_t *id_len);

/* Server settings shared by its connections (read-only once initialised, so
 * usable from several threads). */
struct sx_smp_server_config {
    size_t chain_len;                   /* the TLS chain sent in every hello */
    sx_slice chain[SX_TLS_MAX_CHAIN];   /* DER, borrowed from the TLS context */
    sx_key *sign_key;                   /* private key of chain[0], owned */
    uint8_t key_hash[SX_FINGERPRINT_LEN]; /* own identity: SHA-256 of chain[1] (PROTOCOL-NOTES B10) */
    sx_version_range range;             /* offered with ALPN (default 6..19) */
    sx_smp_service_cb service_cb;       /* blocking server; NULL: refuse services */
    void *service_arg;
};

/* From a server TLS context with a chain of 2..4 certificates: the chain,
 * the context's private key, the identity and the default range. The
 * context must outlive cfg. Errors: SX_E_USAGE (not a server context or a
 * chain of 1), SX_E_NOMEM, SX_E_INTERNAL. */
SX_MUST_CHECK sx_status sx_smp_server_config_init(sx_smp_server_config *cfg, const sx_tls_ctx *ctx);
void sx_smp_server_config_cleanup(sx_smp_server_config *cfg);

/* Server handshake state between its two steps. */
typedef struct sx_smp_server_hs {
    const sx_smp_server_config *cfg;
    sx_version_range range; /* offered in the hello */
    uint8_t session_id[SX_TLS_UNIQUE_MAX];
    size_t session_id_len;
    sx_key *dh_key;         /* per-connection X25519 private key */
    /* Set by sx_smp_server_hs_finish when the failure was in the client's
     * service: the reference then answers with an 'E' block (te) before
     * closing; other failures close without a block (PROTOCOL-NOTES B19,
     * B21). */
    bool reply_error;
} sx_smp_server_hs;

/* Step 1 (PROTOCOL-NOTES B16): generates a fresh X25519 key and writes the
 * server hello block (range cfg->range with ALPN, else 6..6; the session id;
 * the chain and the key signed by cfg->sign_key). cfg must outlive hs. Errors:
 * SX_E_USAGE (no tls-unique), SX_E_LIMIT (chain too large for a block),
 * SX_E_NOMEM, SX_E_INTERNAL. */
SX_MUST_CHECK sx_status sx_smp_server_hs_start(sx_smp_server_hs *hs,
                                               const sx_smp_server_config *cfg,
                                               const sx_smp_tls_info *tls,
                                               uint8_t block[SX_BLOCK_SIZE]);
/* The same with a given X25519 private key (takes ownership, also on
 * error): for known-answer tests only. On any error hs holds nothing. */
SX_MUST_CHECK sx_status sx_smp_server_hs_start_with_key(sx_smp_server_hs *hs,
                                                        const sx_smp_server_config *cfg,
                                                        const sx_smp_tls_info *tls, sx_key *dh_key,
                                                        uint8_t block[SX_BLOCK_SIZE]);

/* Step 2 (PROTOCOL-NOTES B19, B21, B25, B26): processes the client hello block
 * and fills *out (zeroed first; the X25519 key moves into it). Checks in the
 * reference's order: parse (HANDSHAKE PARSE), key hash == cfg->key_hash
 * (HANDSHAKE IDENTITY), version within the offered range (VERSION), then a
 * service if one was sent: the TLS client chain (tls->peer_chain) must equal
 * the hello's, hold 1..4 certificates, and the signed key must be an Ed25519
 * key verified by the leaf (HANDSHAKE BAD_AUTH, with hs->reply_error set).
 * Returns SX_OK, or SX_E_PROTOCOL / SX_E_AUTH with *te set (te may be NULL),
 * or SX_E_NOMEM / SX_E_INTERNAL (te SX_TE_NONE). A client key that gives no
 * shared secret (small-order point) is HANDSHAKE BAD_AUTH. */
SX_MUST_CHECK sx_status sx_smp_server_hs_finish(sx_smp_server_hs *hs, const sx_smp_tls_info *tls,
                                                const uint8_t block[SX_BLOCK_SIZE],
                                                sx_smp_session *out, sx_transport_error *te);
/* Frees the key if it was not handed to a session. Accepts a zeroed hs. */
void sx_smp_server_hs_cleanup(sx_smp_server_hs *hs);

/* A service credential the client presents (PROTOCOL-NOTES B17, B21): its TLS
 * chain (the same that the client's TLS context sends), the chain's leaf
 * private key, and the Ed25519 key pair it signs. */
typedef struct sx_smp_client_service {
    sx_smp_service_role role;
    size_t chain_len;
    sx_slice chain[SX_X509_CHAIN_MAX];
    const sx_key *leaf_key;    /* private, Ed25519 or Ed448 */
    const sx_key *service_key; /* Ed25519 key pair (public half is signed) */
} sx_smp_client_service;

typedef struct sx_smp_client_config {
    uint8_t key_hash[SX_FINGERPRINT_LEN]; /* server identity from its address */
    sx_version_range range;               /* default 6..19 */
    bool proxy_server;                    /* this client is a router acting as proxy */
    /* NULL: none. Sent only when v >= 16 (messaging role: v >= 19). Set it
     * only when the TLS context sent this chain as its client certificate
     * (the reference's certificateSent). */
    const sx_smp_client_service *service;
} sx_smp_client_config;

/* Client side (PROTOCOL-NOTES B18, B20, B25, B26): processes the server hello
 * block and writes the client hello block into reply (which must not overlap
 * server_block), filling *out (zeroed first). Checks: parse (HANDSHAKE
 * PARSE); session id == tls->tls_unique (SESSION); intersection of the
 * ranges, own max capped to max(own min, 10) for a proxy talking to a server
 * whose max < 14 (VERSION when empty); the CertChainPubKey: 2..4
 * certificates, SHA-256 of the 2nd == key_hash, the signed key an X25519 key
 * verified by the TLS leaf (tls->peer_chain[0]) (HANDSHAKE BAD_AUTH). v =
 * max of the intersection. A fresh X25519 key is sent from v7 on.
 * Stricter than the reference: a server whose max >= 7 must send its
 * CertChainPubKey (the reference would go on without server key). When a
 * service was sent, out->has_service is false until
 * sx_smp_client_hs_service_reply accepts the server's third block
 * (out->service_pending tells that one is expected).
 * Returns as sx_smp_server_hs_finish. */
SX_MUST_CHECK sx_status sx_smp_client_hs_process(const sx_smp_client_config *cfg,
                                                 const sx_smp_tls_info *tls,
                                                 const uint8_t server_block[SX_BLOCK_SIZE],
                                                 uint8_t reply[SX_BLOCK_SIZE], sx_smp_session *out,
                                                 sx_transport_error *te);
/* The same with a given X25519 private key (borrowed): known-answer tests. */
SX_MUST_CHECK sx_status sx_smp_client_hs_process_with_key(const sx_smp_client_config *cfg,
                                                          const sx_smp_tls_info *tls,
                                                          const uint8_t server_block[SX_BLOCK_SIZE],
                                                          const sx_key *dh_key,
                                                          uint8_t reply[SX_BLOCK_SIZE],
                                                          sx_smp_session *out,
                                                          sx_transport_error *te);
/* Client, when s->service_pending (its hello carried a service): reads the
 * server's reply block (PROTOCOL-NOTES B21). 'R' sets has_service and the
 * service id; 'E' returns SX_E_AUTH with *te = the server's error; an
 * unparsable block is SX_E_PROTOCOL with HANDSHAKE PARSE. SX_E_USAGE when
 * nothing is pending. */
SX_MUST_CHECK sx_status sx_smp_client_hs_service_reply(sx_smp_session *s,
                                                       const uint8_t block[SX_BLOCK_SIZE],
                                                       sx_transport_error *te);

/* ---- Blocking helpers (clients, tests) ----------------------------------- */

/* Runs the client side over an established TLS connection: reads the server
 * hello, writes the client hello (and reads the service reply when a
 * service was sent); each block waits up to timeout_ms (negative: no
 * limit). *out is filled on SX_OK, and zeroed on errors. Errors: those of
 * sx_smp_client_hs_process, and of tls.h's block I/O (SX_E_IO for a
 * timeout, SX_E_CLOSED). */
SX_MUST_CHECK sx_status sx_smp_handshake_client_blocking(sx_tls_conn *c,
                                                         const uint8_t key_hash[SX_FINGERPRINT_LEN],
                                                         sx_version_range range, int timeout_ms,
                                                         sx_smp_session *out);
/* With the full client configuration (proxy flag, service) and the
 * transport error (may be NULL). */
SX_MUST_CHECK sx_status sx_smp_handshake_client_blocking_ex(sx_tls_conn *c,
                                                            const sx_smp_client_config *cfg,
                                                            int timeout_ms, sx_smp_session *out,
                                                            sx_transport_error *te);
/* Server side (each block waits up to timeout_ms, as for the client):
 * writes the hello, reads and processes the client hello; for
 * a service, calls cfg->service_cb and answers 'R' (or 'E' HANDSHAKE
 * BAD_SERVICE when there is no callback or it fails, then fails with that
 * error). On a service check failure the 'E' block is sent as the reference
 * does. te may be NULL. */
SX_MUST_CHECK sx_status sx_smp_handshake_server_blocking(sx_tls_conn *c,
                                                         const sx_smp_server_config *cfg,
                                                         int timeout_ms, sx_smp_session *out,
                                                         sx_transport_error *te);

/* Send / receive one block of the session over c (blocking, as tls.h).
 * recv: block is the caller's buffer and *content a slice of it. */
SX_MUST_CHECK sx_status sx_smp_session_send_blocking(sx_smp_session *s, sx_tls_conn *c,
                                                     sx_slice content, int timeout_ms);
SX_MUST_CHECK sx_status sx_smp_session_recv_blocking(sx_smp_session *s, sx_tls_conn *c,
                                                     uint8_t block[SX_BLOCK_SIZE],
                                                     sx_slice *content, int timeout_ms);

#endif
