/* Fixed-size padding of PROTOCOL-NOTES A.3, written and read through the
 * bounds-checked writer and reader. */
#include "core/pad.h"

#include <string.h>

#include "core/reader.h"
#include "core/writer.h"

sx_status sx_pad(sx_slice msg, uint8_t *out, size_t n)
{
    SX_ENSURE(out && n >= 2, SX_E_USAGE);
    SX_ENSURE(msg.len <= n - 2 && msg.len <= 65533, SX_E_LIMIT);
    sx_writer w;
    sx_writer_init_fixed(&w, out, n);
    sx_write_u16(&w, (uint16_t)msg.len);
    sx_write_slice(&w, msg);
    SX_TRY(sx_writer_status(&w));
    memset(out + w.len, SX_PAD_CHAR, n - w.len);
    return SX_OK;
}

sx_status sx_unpad(sx_slice padded, sx_slice *msg)
{
    sx_reader r;
    sx_reader_init_slice(&r, padded);
    sx_read_large(&r, msg);
    return sx_reader_status(&r);
}

sx_status sx_pad_lazy(sx_slice msg, uint8_t *out, size_t n)
{
    SX_ENSURE(out && n >= 8, SX_E_USAGE);
    SX_ENSURE(msg.len <= n - 8, SX_E_LIMIT);
    sx_writer w;
    sx_writer_init_fixed(&w, out, n);
    sx_write_i64(&w, (int64_t)msg.len);
    sx_write_slice(&w, msg);
    SX_TRY(sx_writer_status(&w));
    memset(out + w.len, SX_PAD_CHAR, n - w.len);
    return SX_OK;
}

sx_status sx_unpad_lazy(sx_slice padded, sx_slice *msg)
{
    sx_reader r;
    int64_t len;
    sx_reader_init_slice(&r, padded);
    *msg = sx_slice_of(NULL, 0);
    if (!sx_read_i64(&r, &len))
        return sx_reader_status(&r);
    if (len < 0 || (uint64_t)len > sx_reader_remaining(&r))
        return SX_E_PROTOCOL;
    sx_read_bytes(&r, (size_t)len, msg);
    return sx_reader_status(&r);
}
