/* Queue files of the `smp` command-line client: what one side of an SMP
 * queue needs to use it, as a small `key: value` text file. The recipient
 * file holds the recipient's private key and the DH secret that opens
 * received messages; the sender file holds the sender id and, once the
 * queue is secured, the sender's private key. Files are written with mode
 * 0600 and read strictly: every key exactly once, nothing unknown, the
 * last line ended by a newline, so that a truncated or garbled file is
 * refused rather than half used.
 *
 *   # comment lines and blank lines anywhere
 *   version: 1
 *   role: recipient | sender
 *   server: smp://<fingerprint>[:<password>]@<host>[:<port>]
 *   recipient_id: <base64url, 24 bytes>      (recipient)
 *   sender_id: <base64url, 24 bytes>
 *   recipient_key: <base64url PKCS#8>        (recipient; Ed25519/Ed448/X25519)
 *   dh_secret: <base64url, 32 bytes>         (recipient)
 *   sender_key: <base64url PKCS#8> | none    (sender)
 */
#ifndef SX_CLIENT_QUEUE_FILE_H
#define SX_CLIENT_QUEUE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/box.h"
#include "crypto/keys.h"
#include "simplex/status.h"

#define SX_QUEUE_FILE_VERSION 1
#define SX_QUEUE_ID_LEN 24          /* queue ids of SMP routers */
#define SX_QUEUE_ADDR_MAX 1024      /* server address text, with its NUL */
#define SX_QUEUE_FILE_MAX 8192      /* larger files are refused */

typedef enum sx_queue_role {
    SX_QUEUE_RECIPIENT = 1,
    SX_QUEUE_SENDER,
} sx_queue_role;

/* One side of a queue. Keys are owned by the struct (freed and the secret
 * wiped by sx_queue_file_cleanup). */
typedef struct sx_queue_file {
    sx_queue_role role;
    char server[SX_QUEUE_ADDR_MAX];  /* a valid router address (sx_smp_address_parse) */
    uint8_t rcv_id[SX_QUEUE_ID_LEN]; /* recipient only */
    uint8_t snd_id[SX_QUEUE_ID_LEN];
    sx_key *rcv_key;                 /* recipient: private auth key */
    uint8_t dh_secret[SX_CB_KEY_LEN]; /* recipient: opens MSG bodies (PROTOCOL-NOTES D24) */
    sx_key *snd_key;                 /* sender: private key, or NULL while unsecured */
} sx_queue_file;

/* Zeroes q (no keys). */
void sx_queue_file_init(sx_queue_file *q);
/* Frees the keys and wipes q. Accepts NULL. */
void sx_queue_file_cleanup(sx_queue_file *q);

/* The text of q into a heap buffer (*out, *len; NUL-terminated; the caller
 * wipes and frees it: it may hold private keys). SX_E_USAGE when q is
 * incomplete (no role, bad address, a recipient without its key),
 * SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_queue_file_format(const sx_queue_file *q, char **out, size_t *len);

/* Parses len bytes of text into *out (initialised here; cleaned up on
 * failure). SX_E_PROTOCOL with a message naming the line or key in err for
 * anything malformed, SX_E_LIMIT for text over SX_QUEUE_FILE_MAX. */
SX_MUST_CHECK sx_status sx_queue_file_parse(const char *text, size_t len, sx_queue_file *out, char *err,
                                            size_t errlen);

/* Writes q to path with mode 0600. Without replace the file must not exist
 * (SX_E_USAGE when it does); with replace the new text goes to a temporary
 * file in the same folder first and then takes the old one's place, so a
 * crash leaves either the old file or the new one. SX_E_IO with a message
 * in err otherwise. */
SX_MUST_CHECK sx_status sx_queue_file_save(const char *path, const sx_queue_file *q, bool replace,
                                           char *err, size_t errlen);

/* Reads and parses path. SX_E_IO when it cannot be read; parse errors as
 * above, prefixed with the path. */
SX_MUST_CHECK sx_status sx_queue_file_load(const char *path, sx_queue_file *out, char *err, size_t errlen);

/* The sender side of a recipient's queue: same server without the
 * password (a queue-creation secret the sender does not need), the sender
 * id, no key. *out is initialised here. */
SX_MUST_CHECK sx_status sx_queue_file_sender_of(const sx_queue_file *rcv, sx_queue_file *out);

/* Copies address into out (cap bytes) without its ":password" part.
 * SX_E_PROTOCOL for an address that does not parse, SX_E_LIMIT if cap is
 * too small. */
SX_MUST_CHECK sx_status sx_queue_address_public(const char *address, char *out, size_t cap);

#endif
