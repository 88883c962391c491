/* A secret box written and read piece by piece, its tag at the end (the
 * layout of an XRCP attachment, PROTOCOL-NOTES X11): the bytes are those of
 * the one-shot XSalsa20-Poly1305 secret box with the 16-byte tag moved from
 * the front to the end, so an attachment of any size passes through a fixed
 * amount of memory. The receiver learns whether the bytes are authentic
 * only at the tag: what it has passed on before is to be discarded then.
 *
 * One state per attachment; not thread-safe. */
#ifndef SX_XRCP_TAILBOX_H
#define SX_XRCP_TAILBOX_H
#include <sodium.h>
#include <stdbool.h>

#include "core/bytes.h"
#include "simplex/status.h"

#define SX_XRCP_TAILBOX_TAG_LEN 16

typedef struct sx_xrcp_tailbox {
    uint8_t key[32]; /* HSalsa20(key, 0^16), as crypto/box.h's sx_sb_* */
    uint8_t nonce[24];
    uint64_t pos; /* bytes of the message done */
    crypto_onetimeauth_poly1305_state mac;
} sx_xrcp_tailbox;

/* key and nonce as sx_sb_encrypt takes them (crypto/box.h). */
SX_MUST_CHECK sx_status sx_xrcp_tailbox_init(sx_xrcp_tailbox *b, const uint8_t key[32], const uint8_t nonce[24]);
/* Encrypts the next in.len bytes into out (in.len bytes; out may be in). */
SX_MUST_CHECK sx_status sx_xrcp_tailbox_seal(sx_xrcp_tailbox *b, sx_slice in, uint8_t *out);
/* Decrypts the next in.len bytes of ciphertext into out (out may be in). */
SX_MUST_CHECK sx_status sx_xrcp_tailbox_open(sx_xrcp_tailbox *b, sx_slice in, uint8_t *out);
/* The sender's tag after the last piece; wipes the state. */
void sx_xrcp_tailbox_tag(sx_xrcp_tailbox *b, uint8_t tag[SX_XRCP_TAILBOX_TAG_LEN]);
/* The receiver's check of the tag that followed the last piece (constant
 * time); wipes the state. */
bool sx_xrcp_tailbox_verify(sx_xrcp_tailbox *b, const uint8_t tag[SX_XRCP_TAILBOX_TAG_LEN]);
void sx_xrcp_tailbox_cleanup(sx_xrcp_tailbox *b);

#endif
