/* The state of a send that has not finished, kept in <out>/<name>.xftp.part/
 * state so that the same command goes on from where it stopped and `xftp
 * del` can remove the chunks it created. Plain text, one field per line:
 *
 *   xftp-send-state 1
 *   key HEX                  file key (32 bytes)
 *   nonce HEX                file nonce (24 bytes)
 *   source-size N            the source file when it was encrypted
 *   source-mtime SEC NSEC
 *   encrypted-size N
 *   digest HEX               SHA-512 of the encrypted file
 *   recipients N             1..255
 *   chunks N                 1..SX_XFTP_MAX_CHUNKS
 *   then per chunk, in order:
 *   chunk NUMBER SIZE HEX    1-based number, size, SHA-256
 *   router ADDRESS           without a password
 *   sender-key HEX           PKCS#8 DER
 *   sender-id HEX|-          "-" until FNEW answered
 *   recipient HEX HEX|-      key and id, once per recipient
 *   uploaded yes|no
 *   and last: end
 *
 * The parser takes exactly this (no extra spaces, no trailing bytes) and
 * checks every length, number and the sum of the chunk sizes. */
#ifndef SX_XFTP_CLIENT_TRANSFER_STATE_H
#define SX_XFTP_CLIENT_TRANSFER_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/keys.h"
#include "simplex/status.h"
#include "xftp/description.h"
#include "xftp/filecrypt.h"
#include "xftp_client/client.h"

#define SX_XFTP_STATE_MAX_LEN (8 * 1024 * 1024) /* bytes of a state file we read */

typedef struct sx_xftp_state_key {
    uint8_t der[SX_KEY_PKCS8_MAX];
    size_t len;
} sx_xftp_state_key;

typedef struct sx_xftp_state_chunk {
    uint32_t number, size;
    uint8_t digest[32];
    char router[SX_XFTP_FD_SERVER_MAX + 1];
    sx_xftp_state_key snd_key;
    sx_xftp_id snd_id;            /* len 0: not created yet */
    sx_xftp_state_key *rcv_keys;  /* recipients of them */
    sx_xftp_id *rcv_ids;
    bool uploaded;
} sx_xftp_state_chunk;

typedef struct sx_xftp_send_state {
    uint8_t key[SX_XFTP_SB_KEY_LEN];
    uint8_t nonce[SX_XFTP_SB_NONCE_LEN];
    int64_t src_size;
    int64_t src_mtime_sec;
    int64_t src_mtime_nsec;
    int64_t enc_size;
    uint8_t digest[64];
    int recipients;
    size_t chunk_count;
    sx_xftp_state_chunk *chunks;
} sx_xftp_send_state;

/* Room for n chunks of nrcv recipients, all zero. SX_E_NOMEM, SX_E_USAGE. */
SX_MUST_CHECK sx_status sx_xftp_state_alloc(sx_xftp_send_state *s, size_t n, int nrcv);
/* Frees and wipes (keys included). */
void sx_xftp_state_cleanup(sx_xftp_send_state *s);
/* The text of s into a new heap buffer (*len bytes, NUL-terminated). */
SX_MUST_CHECK sx_status sx_xftp_state_print(const sx_xftp_send_state *s, char **out, size_t *len);
/* Parses the text; SX_E_PROTOCOL for anything but the format above,
 * SX_E_NOMEM. *s is zeroed on failure. */
SX_MUST_CHECK sx_status sx_xftp_state_parse(const char *text, size_t len, sx_xftp_send_state *s);
/* Writes s to path through path.tmp (0600), fsynced and renamed over it. */
SX_MUST_CHECK sx_status sx_xftp_state_save(const sx_xftp_send_state *s, const char *path);
/* Reads and parses the state file at path (SX_E_IO when it cannot be read). */
SX_MUST_CHECK sx_status sx_xftp_state_load(const char *path, sx_xftp_send_state *s);

#endif
