/* Transport blocks and batches (PROTOCOL-NOTES B12-B14). Encoding goes
 * through sx_writer and sx_pad, decoding through sx_reader and sx_unpad; this
 * file never indexes wire bytes itself. */
#include "transport/block.h"

#include "core/pad.h"
#include "core/reader.h"

_Static_assert(SX_BLOCK_SIZE == SX_SBBLOCK_LEN, "block size agrees with sbchain");
_Static_assert(SX_BLOCK_ENC_MAX_CONTENT == SX_SBBLOCK_MAX_CONTENT, "encrypted content limit agrees");
_Static_assert(SX_BATCH_CAP_ENCRYPTED == 16365, "B14");

sx_status sx_block_encode(sx_slice content, uint8_t *out)
{
    SX_ENSURE(out != NULL, SX_E_USAGE);
    SX_ENSURE(content.len <= SX_BLOCK_MAX_CONTENT, SX_E_LIMIT);
    return sx_pad(content, out, SX_BLOCK_SIZE);
}

sx_status sx_block_decode(sx_slice block, sx_slice *content)
{
    *content = sx_slice_of(NULL, 0);
    /* PROTOCOL-NOTES B12: anything but a full block ends the connection. */
    SX_ENSURE(block.len == SX_BLOCK_SIZE, SX_E_PROTOCOL);
    sx_status st = sx_unpad(block, content);
    if (st != SX_OK) {
        *content = sx_slice_of(NULL, 0);
        return SX_E_PROTOCOL;
    }
    return SX_OK;
}

sx_status sx_block_write(sx_sbchain *chain, sx_slice content, uint8_t *out)
{
    SX_ENSURE(out != NULL, SX_E_USAGE);
    if (!chain)
        return sx_block_encode(content, out);
    SX_ENSURE(content.len <= SX_BLOCK_ENC_MAX_CONTENT, SX_E_LIMIT);
    return sx_sbchain_seal(chain, content, out, SX_BLOCK_SIZE);
}

sx_status sx_block_read(sx_sbchain *chain, uint8_t *block, sx_slice *content)
{
    *content = sx_slice_of(NULL, 0);
    SX_ENSURE(block != NULL, SX_E_USAGE);
    if (!chain)
        return sx_block_decode(sx_slice_of(block, SX_BLOCK_SIZE), content);
    sx_status st = sx_sbchain_open(chain, sx_slice_of(block, SX_BLOCK_SIZE), block, SX_BLOCK_SIZE, content);
    if (st != SX_OK)
        *content = sx_slice_of(NULL, 0);
    return st;
}

sx_status sx_batch_init(sx_batch *b, size_t capacity)
{
    SX_ENSURE(b != NULL, SX_E_USAGE);
    SX_ENSURE(capacity > 0 && capacity <= SX_BATCH_CAP_PLAIN, SX_E_USAGE);
    b->capacity = capacity;
    sx_batch_reset(b);
    return SX_OK;
}

void sx_batch_reset(sx_batch *b)
{
    sx_writer_init_fixed(&b->w, b->buf, sizeof b->buf);
    /* The count byte is reserved now and kept current by sx_batch_add. */
    b->count_at = sx_write_reserve(&b->w, 1);
    *b->count_at = 0;
    b->items_len = 0;
    b->count = 0;
}

bool sx_batch_fits_alone(size_t capacity, size_t len)
{
    return capacity >= SX_BLOCK_PAD_LEN && len <= capacity - SX_BLOCK_PAD_LEN && len <= UINT16_MAX;
}

sx_status sx_batch_add(sx_batch *b, sx_slice t)
{
    SX_ENSURE(b != NULL && b->count_at != NULL, SX_E_USAGE);
    SX_ENSURE(t.ptr != NULL || t.len == 0, SX_E_USAGE);
    SX_ENSURE(b->count < SX_BATCH_MAX_ITEMS, SX_E_LIMIT);
    /* Written so that nothing can overflow: items_len <= capacity always. */
    SX_ENSURE(t.len <= UINT16_MAX, SX_E_LIMIT);
    SX_ENSURE(b->capacity - b->items_len >= SX_BLOCK_PAD_LEN, SX_E_LIMIT);
    SX_ENSURE(t.len <= b->capacity - b->items_len - SX_BLOCK_PAD_LEN, SX_E_LIMIT);

    /* An empty transmission may come as a NULL slice: write just its length. */
    bool ok = t.len == 0 ? sx_write_u16(&b->w, 0) : sx_write_large(&b->w, t);
    if (!ok)
        return SX_E_INTERNAL; /* capacity checks above make this unreachable */
    b->items_len += SX_BLOCK_PAD_LEN + t.len;
    b->count++;
    *b->count_at = (uint8_t)b->count;
    return SX_OK;
}

sx_status sx_batch_content(const sx_batch *b, sx_slice *content)
{
    *content = sx_slice_of(NULL, 0);
    SX_ENSURE(b != NULL && b->count > 0, SX_E_USAGE);
    SX_TRY(sx_writer_status(&b->w));
    *content = sx_writer_slice(&b->w);
    return SX_OK;
}

sx_status sx_batch_decode(sx_slice content, sx_slice *items, size_t max_items, size_t *count)
{
    *count = 0;
    SX_ENSURE(items != NULL || max_items == 0, SX_E_USAGE);

    sx_reader r;
    sx_reader_init_slice(&r, content);
    uint8_t n = 0;
    if (!sx_read_nonempty_count(&r, &n))
        return SX_E_PROTOCOL;
    SX_ENSURE(n <= max_items, SX_E_LIMIT);
    for (size_t i = 0; i < n; i++)
        sx_read_large(&r, &items[i]);
    sx_status st = sx_reader_finish(&r);
    if (st != SX_OK) {
        for (size_t i = 0; i < n; i++)
            items[i] = sx_slice_of(NULL, 0);
        return SX_E_PROTOCOL;
    }
    *count = n;
    return SX_OK;
}

sx_status sx_block_decode_batch(sx_slice block, sx_slice *items, size_t max_items, size_t *count)
{
    *count = 0;
    sx_slice content;
    SX_TRY(sx_block_decode(block, &content));
    return sx_batch_decode(content, items, max_items, count);
}
