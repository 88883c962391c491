/* Fixed-size transport blocks and transmission batches (PROTOCOL-NOTES B12-B14, P5).
 *
 * Every SMP block on the wire is exactly SX_BLOCK_SIZE bytes. Its content is a
 * batch: one count byte (1..255) followed by that many Large-encoded
 * transmissions. An unencrypted block is pad(content, SX_BLOCK_SIZE)
 * (PROTOCOL-NOTES A30); an encrypted one (PROTOCOL-NOTES B33) pads to
 * SX_BLOCK_SIZE - 16 and adds a 16-byte tag. */
#ifndef SX_TRANSPORT_BLOCK_H
#define SX_TRANSPORT_BLOCK_H

#include "core/bytes.h"
#include "core/writer.h"
#include "crypto/sbchain.h"
#include "simplex/status.h"

#define SX_BLOCK_SIZE 16384     /* PROTOCOL-NOTES B12: smpBlockSize */
#define SX_BLOCK_PAD_LEN 2      /* PROTOCOL-NOTES A30: Word16 length in front of the content */
#define SX_BLOCK_AUTH_TAG 16    /* PROTOCOL-NOTES B33: Poly1305 tag of an encrypted block */
/* Largest content of an unencrypted block (PROTOCOL-NOTES B13). */
#define SX_BLOCK_MAX_CONTENT (SX_BLOCK_SIZE - SX_BLOCK_PAD_LEN)
/* Padded size of the plaintext inside an encrypted block (PROTOCOL-NOTES
 * B33). */
#define SX_BLOCK_ENC_PADDED (SX_BLOCK_SIZE - SX_BLOCK_AUTH_TAG)
/* Largest content of an encrypted block. */
#define SX_BLOCK_ENC_MAX_CONTENT (SX_BLOCK_ENC_PADDED - SX_BLOCK_PAD_LEN)

#define SX_BATCH_MAX_ITEMS 255  /* PROTOCOL-NOTES B14: one count byte, 0 invalid */
/* PROTOCOL-NOTES B14: room for the Large-encoded items (sum of 2 + len over all
 * items), after the pad length and the count byte. */
#define SX_BATCH_CAP_PLAIN (SX_BLOCK_MAX_CONTENT - 1)         /* 16381 */
#define SX_BATCH_CAP_ENCRYPTED (SX_BLOCK_ENC_MAX_CONTENT - 1) /* 16365 */

/* PROTOCOL-NOTES B13: writes pad(content, SX_BLOCK_SIZE) into out (exactly
 * SX_BLOCK_SIZE bytes). SX_E_LIMIT when content is longer than
 * SX_BLOCK_MAX_CONTENT. */
SX_MUST_CHECK sx_status sx_block_encode(sx_slice content, uint8_t *out);

/* PROTOCOL-NOTES B13: the content of an unencrypted block, as a slice of block.
 * block must be exactly SX_BLOCK_SIZE bytes (else SX_E_PROTOCOL); a declared
 * length that does not fit is SX_E_PROTOCOL. The fill bytes are not checked
 * (PROTOCOL-NOTES A30). */
SX_MUST_CHECK sx_status sx_block_decode(sx_slice block, sx_slice *content);

/* Batch builder (PROTOCOL-NOTES B14). Transmissions are appended one by one as
 * Large items until one does not fit; the caller then sends the batch and
 * starts a new one with that transmission.
 *
 *     sx_batch b;
 *     SX_TRY(sx_batch_init(&b, SX_BATCH_CAP_ENCRYPTED));
 *     while (have_more && sx_batch_add(&b, next) == SX_OK) ...
 *     SX_TRY(sx_batch_content(&b, &content));   -> sx_block_encode / encrypt
 *
 * The struct holds its own buffer (about 16 KiB) and a writer pointing into
 * it: it must not be copied or moved after sx_batch_init. */
typedef struct sx_batch {
    sx_writer w;
    uint8_t *count_at; /* the count byte, filled in as items are added */
    size_t capacity;   /* limit for the sum of Large-encoded items */
    size_t items_len;  /* current sum of Large-encoded items */
    size_t count;
    uint8_t buf[SX_BLOCK_MAX_CONTENT];
} sx_batch;

/* Starts an empty batch whose Large-encoded items may take up to capacity
 * bytes in total: SX_BATCH_CAP_PLAIN for unencrypted blocks,
 * SX_BATCH_CAP_ENCRYPTED for encrypted ones (the reference always uses the
 * latter). SX_E_USAGE when capacity is 0 or over SX_BATCH_CAP_PLAIN. */
SX_MUST_CHECK sx_status sx_batch_init(sx_batch *b, size_t capacity);

/* Empties the batch, keeping its capacity. */
void sx_batch_reset(sx_batch *b);

/* Appends Large(t). SX_E_LIMIT when the batch already has
 * SX_BATCH_MAX_ITEMS items or 2 + t.len does not fit in the remaining
 * capacity; the batch is then unchanged. When sx_batch_fits_alone() is false
 * for t.len, t can never be sent in any block. The bytes of t are copied. */
SX_MUST_CHECK sx_status sx_batch_add(sx_batch *b, sx_slice t);

/* Whether a transmission of len bytes fits in an empty batch of capacity. */
bool sx_batch_fits_alone(size_t capacity, size_t len);

/* Number of transmissions added so far. */
static inline size_t sx_batch_count(const sx_batch *b) { return b->count; }

/* The encoded batch (count byte || items), a slice of b valid until the next
 * change to b. SX_E_USAGE when the batch is empty (a count of 0 is invalid). */
SX_MUST_CHECK sx_status sx_batch_content(const sx_batch *b, sx_slice *content);

/* PROTOCOL-NOTES B14: decodes batch content: count byte N in 1..255, then
 * exactly N Large items and nothing after them. Fills items[0..*count) with
 * slices of content. SX_E_PROTOCOL for count 0, a truncated item or trailing
 * bytes; SX_E_LIMIT when N > max_items. */
SX_MUST_CHECK sx_status sx_batch_decode(sx_slice content, sx_slice *items, size_t max_items,
                                        size_t *count);

/* One block of the session in either mode (PROTOCOL-NOTES B13 / B33). chain is
 * the direction's block-encryption chain (PROTOCOL-NOTES B30-B32), or NULL
 * while blocks are not encrypted (handshake blocks, v < 11, proxy sessions,
 * PROTOCOL-NOTES B25).
 *
 * sx_block_write: content -> exactly SX_BLOCK_SIZE bytes in out (content
 * must not overlap out). Plain: as sx_block_encode. Encrypted: seals with
 * the next key of chain (content up to SX_BLOCK_ENC_MAX_CONTENT, else
 * SX_E_LIMIT; the chain advances only on success). */
SX_MUST_CHECK sx_status sx_block_write(sx_sbchain *chain, sx_slice content, uint8_t *out);

/* sx_block_read: block holds the SX_BLOCK_SIZE bytes received. Plain: as
 * sx_block_decode. Encrypted: decrypts in place (block is overwritten) and
 * the chain advances whatever the outcome (PROTOCOL-NOTES B34). *content is a
 * slice of block. Errors: SX_E_PROTOCOL (bad length or padding), SX_E_AUTH
 * (block not authentic: the reference answers ERR BLOCK), SX_E_USAGE. */
SX_MUST_CHECK sx_status sx_block_read(sx_sbchain *chain, uint8_t *block, sx_slice *content);

/* Batch capacity for blocks of the given mode (PROTOCOL-NOTES B14). */
static inline size_t sx_batch_capacity(bool encrypted)
{
    return encrypted ? SX_BATCH_CAP_ENCRYPTED : SX_BATCH_CAP_PLAIN;
}

/* sx_block_decode then sx_batch_decode. */
SX_MUST_CHECK sx_status sx_block_decode_batch(sx_slice block, sx_slice *items, size_t max_items,
                                              size_t *count);

#endif
