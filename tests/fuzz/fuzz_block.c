/* Fuzz target: block and batch decoding of peer bytes (PROTOCOL-NOTES B12-B14).
 * The input is decoded as batch content, placed as the first bytes of a block
 * and decoded again, and whatever decodes is re-encoded with the batch builder,
 * which must reproduce the input exactly. */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "transport/block.h"

static sx_batch batch;
static uint8_t block[SX_BLOCK_SIZE];

static void check_reencode(const uint8_t *data, size_t size, const sx_slice *items, size_t n)
{
    /* Decoded content can exceed what a sender may put in one block. */
    if (size > SX_BLOCK_MAX_CONTENT)
        return;
    if (sx_batch_init(&batch, SX_BATCH_CAP_PLAIN) != SX_OK)
        __builtin_trap();
    for (size_t i = 0; i < n; i++)
        if (sx_batch_add(&batch, items[i]) != SX_OK)
            __builtin_trap();
    sx_slice content;
    if (sx_batch_content(&batch, &content) != SX_OK || content.len != size ||
        memcmp(content.ptr, data, size) != 0)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sx_slice items[SX_BATCH_MAX_ITEMS];
    size_t n = 0;

    /* 1. The input as batch content. */
    if (sx_batch_decode(sx_slice_of(data, size), items, SX_BATCH_MAX_ITEMS, &n) == SX_OK) {
        if (n < 1 || n > SX_BATCH_MAX_ITEMS)
            __builtin_trap();
        check_reencode(data, size, items, n);
    } else if (n != 0) {
        __builtin_trap();
    }

    /* 2. The input as the start of a block (its first two bytes are the
     * declared length), the rest filled as a sender would. */
    size_t take = size < SX_BLOCK_SIZE ? size : SX_BLOCK_SIZE;
    memset(block, '#', sizeof block);
    if (take > 0)
        memcpy(block, data, take);
    sx_slice content;
    if (sx_block_decode(sx_slice_of(block, SX_BLOCK_SIZE), &content) == SX_OK) {
        if (content.len > SX_BLOCK_MAX_CONTENT || content.ptr != block + 2)
            __builtin_trap();
    }
    (void)!sx_block_decode_batch(sx_slice_of(block, SX_BLOCK_SIZE), items, SX_BATCH_MAX_ITEMS, &n);

    /* 3. The input as a whole block, when it has the right size, and the
     * decoder's refusal of any other size. */
    sx_status st = sx_block_decode(sx_slice_of(data, size), &content);
    if (size != SX_BLOCK_SIZE && st == SX_OK)
        __builtin_trap();
    return 0;
}
