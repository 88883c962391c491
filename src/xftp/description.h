/* XFTP file descriptions (PROTOCOL-NOTES F30-F33; reference
 * FileTransfer/Description.hs at 152c30ca68): the YAML document a sender
 * gives to recipients, listing the encrypted file's size, digest, key and
 * nonce and, per chunk, where its replicas are stored and the keys that
 * authorize downloading them.
 *
 * The parser reads exactly the YAML subset the reference writes (block
 * mappings and sequences, plain or single-quoted scalars, the `key: []`
 * empty list); the printer writes the reference's bytes: keys in sorted
 * order, replicas grouped by server in the server order of the reference,
 * digest and non-default chunk size on each chunk's first replica only. */
#ifndef SX_XFTP_DESCRIPTION_H
#define SX_XFTP_DESCRIPTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bytes.h"
#include "crypto/keys.h"
#include "simplex/status.h"
#include "smp/address.h"
#include "xftp/protocol.h"

#define SX_XFTP_FD_TEXT_MAX (1u << 20)  /* longest description accepted */
#define SX_XFTP_FD_MAX_CHUNKS 100000    /* 4 MiB chunks: far above the 5 GiB hard limit */
#define SX_XFTP_FD_BYTES_MAX 255        /* ids and digests (shortString on the wire) */
#define SX_XFTP_FD_KEY_LEN 32           /* secret_box key */
#define SX_XFTP_FD_SERVER_MAX SX_SERVER_ADDRESS_MAX /* length of a server address */
#define SX_XFTP_FD_HOSTS_MAX SX_SERVER_HOSTS_MAX

/* A server address "xftp://<key hash>@<host>[,<host>...][:<port>]" as
 * written (no basic auth), with what the reference orders servers by: the
 * common server address type (smp/address.h); text, host_count,
 * host_kind/off/len, port_off/len and key_hash/key_hash_len are what the
 * XFTP code reads. */
typedef sx_server_address sx_xftp_fd_server;

typedef struct sx_xftp_fd_replica {
    size_t server; /* index into sx_xftp_fd.servers */
    uint8_t id[SX_XFTP_FD_BYTES_MAX];
    size_t id_len;
    uint8_t key[SX_KEY_PKCS8_MAX]; /* PKCS#8 DER of the private auth key */
    size_t key_len;
    sx_key_alg key_alg;
} sx_xftp_fd_replica;

typedef struct sx_xftp_fd_chunk {
    uint32_t number; /* 1-based */
    uint32_t size;
    uint8_t digest[SX_XFTP_FD_BYTES_MAX]; /* SHA-256 of the encrypted chunk */
    size_t digest_len;
    size_t replica_count;
    sx_xftp_fd_replica *replicas;
} sx_xftp_fd_chunk;

/* A description. Heap parts are owned by it: release with
 * sx_xftp_fd_cleanup (which wipes the keys). */
typedef struct sx_xftp_fd {
    sx_xftp_party party;
    int64_t size; /* total encrypted size */
    uint8_t digest[SX_XFTP_FD_BYTES_MAX]; /* SHA-512 of the encrypted file */
    size_t digest_len;
    uint8_t key[SX_XFTP_FD_KEY_LEN];
    uint8_t nonce[SX_XFTP_NONCE_LEN];
    uint32_t chunk_size; /* default chunk size */
    size_t chunk_count;
    sx_xftp_fd_chunk *chunks;
    size_t server_count;
    sx_xftp_fd_server *servers;
    bool has_redirect;
    int64_t redirect_size;
    uint8_t redirect_digest[SX_XFTP_FD_BYTES_MAX];
    size_t redirect_digest_len;
} sx_xftp_fd;

/* Parses and validates a YAML description (len bytes, no NUL needed).
 * Validation as the reference: chunk numbers exactly 1..n, the chunk sizes
 * sum to size, every chunk has a digest, replicas of one chunk agree on
 * digest and size. Errors: SX_E_PROTOCOL (syntax, a missing, duplicate or
 * unknown field, bad base64, bad key, inconsistent values), SX_E_LIMIT
 * (over the limits above), SX_E_NOMEM. On error *out is zeroed. */
SX_MUST_CHECK sx_status sx_xftp_fd_parse(const char *text, size_t len, sx_xftp_fd *out);

/* Prints fd as the reference does into a new NUL-terminated heap string
 * (*out, *out_len without the NUL; free with free()). Errors: SX_E_USAGE
 * (bad party, a replica with an unknown server index, a chunk without
 * replicas), SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_xftp_fd_print(const sx_xftp_fd *fd, char **out, size_t *out_len);

/* The reference's checks on a description (also applied by the parser). */
SX_MUST_CHECK sx_status sx_xftp_fd_validate(const sx_xftp_fd *fd);

void sx_xftp_fd_cleanup(sx_xftp_fd *fd);

/* PROTOCOL-NOTES F32 FileSize text: "26mb", "64kb", "1000". Writes a
 * NUL-terminated string into out (cap >= 24 is enough); SX_E_LIMIT if smaller,
 * SX_E_USAGE if size < 0. */
SX_MUST_CHECK sx_status sx_xftp_size_to_text(int64_t size, char *out, size_t cap);
/* Parses "<decimal>[kb|mb|gb]" up to max; SX_E_PROTOCOL otherwise (the
 * reference wraps on overflow; this refuses). */
SX_MUST_CHECK sx_status sx_xftp_size_from_text(const char *text, size_t len, int64_t max,
                                               int64_t *out);

/* Parses a server address of a description into *out: sx_server_address_parse
 * that also refuses another scheme than xftp:// and a basic auth
 * (SX_E_PROTOCOL / SX_E_LIMIT / SX_E_USAGE; *out zeroed on error). */
SX_MUST_CHECK sx_status sx_xftp_fd_server_parse(const char *text, size_t len,
                                                sx_xftp_fd_server *out);
/* The reference's order of servers (derived Ord: hosts by kind IPv4 < IPv6
 * < onion < domain then value, then port, then key hash): <0, 0, >0.
 * Same as sx_server_address_compare. */
int sx_xftp_fd_server_compare(const sx_xftp_fd_server *a, const sx_xftp_fd_server *b);

#endif
