/* Per-block transport encryption keys (PROTOCOL-NOTES B.6, W11): a chain of
 * HKDF-SHA512 derivations per direction; each 16384-byte block is sealed with
 * a fresh secret_box key and nonce taken from the chain.
 *
 * An sx_sbchain holds one direction's current chain key. It is plain memory
 * owned by the caller (a connection keeps one for sending and one for
 * receiving); call sx_sbchain_cleanup to wipe it. Not thread-safe: one chain
 * belongs to one connection and is advanced in block order. */
#ifndef SX_CRYPTO_SBCHAIN_H
#define SX_CRYPTO_SBCHAIN_H

#include "core/bytes.h"
#include "crypto/box.h"
#include "simplex/status.h"

#define SX_SBCHAIN_KEY_LEN     32
#define SX_SBBLOCK_LEN         16384                            /* transport block size */
#define SX_SBBLOCK_PADDED_LEN  (SX_SBBLOCK_LEN - SX_CB_TAG_LEN) /* 16368 */
#define SX_SBBLOCK_MAX_CONTENT (SX_SBBLOCK_PADDED_LEN - 2)      /* 16366 */

typedef struct sx_sbchain {
    uint8_t ck[SX_SBCHAIN_KEY_LEN];
} sx_sbchain;

/* PROTOCOL-NOTES B30: ck1 || ck2 = HKDF-SHA512(salt = session_id (tls-unique),
 * ikm = the 32-byte X25519 session secret, info "SimpleXSbChainInit", 64
 * bytes). PROTOCOL-NOTES B31: the router sends with ck1 and receives with ck2;
 * the client sends with ck2 and receives with ck1. Errors: SX_E_USAGE,
 * SX_E_INTERNAL (both chains are wiped then). */
SX_MUST_CHECK sx_status sx_sbchain_init(sx_slice session_id,
                                        const uint8_t secret[SX_SBCHAIN_KEY_LEN], sx_sbchain *ck1,
                                        sx_sbchain *ck2);

/* PROTOCOL-NOTES B32: one derivation: HKDF-SHA512(salt "", ikm = chain key,
 * info "SimpleXSbChain", 88) = next chain key || block key || nonce. Replaces
 * the chain key and writes the block key and nonce (caller wipes the key after
 * use). Errors: SX_E_USAGE, SX_E_INTERNAL (chain unchanged then). */
SX_MUST_CHECK sx_status sx_sbchain_step(sx_sbchain *c, uint8_t key[SX_SBCHAIN_KEY_LEN],
                                        uint8_t nonce[SX_CB_NONCE_LEN]);

/* PROTOCOL-NOTES B33: seals content as the next block of this chain:
 * secret_box(blockKey, nonce, pad(content, 16368)) = 16 tag
 * bytes || 16368 = 16384 bytes written to out (cap >= SX_SBBLOCK_LEN; content
 * must not overlap out). SX_E_LIMIT when content is longer than
 * SX_SBBLOCK_MAX_CONTENT; the chain does not advance on any error. */
SX_MUST_CHECK sx_status sx_sbchain_seal(sx_sbchain *c, sx_slice content, uint8_t *out, size_t cap);

/* PROTOCOL-NOTES B33/B34: opens the next received block (exactly SX_SBBLOCK_LEN
 * bytes). The padded plaintext goes to buf (cap >= SX_SBBLOCK_PADDED_LEN; it
 * may overlap block) and *content points at the content inside it. Once the
 * arguments are valid the chain advances by one step whatever the outcome
 * (PROTOCOL-NOTES B34), so the next block still decrypts after a bad one.
 * Errors: SX_E_AUTH (tag mismatch: report ERR BLOCK), SX_E_PROTOCOL (bad
 * padding inside an authentic block), SX_E_USAGE (block not 16384 bytes, short
 * buf, NULL pointers: the chain is unchanged), SX_E_INTERNAL. buf is wiped on
 * every error after the step. */
SX_MUST_CHECK sx_status sx_sbchain_open(sx_sbchain *c, sx_slice block, uint8_t *buf, size_t cap,
                                        sx_slice *content);

/* Wipes the chain key. Accepts NULL. */
void sx_sbchain_cleanup(sx_sbchain *c);

#endif
