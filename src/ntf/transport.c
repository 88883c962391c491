/* NTF blocks, batches, transmissions and hellos (PROTOCOL-NOTES G1-G6). */
#include <string.h>

#include "core/pad.h"
#include "crypto/x509.h"
#include "ntf/protocol.h"

/* ---- blocks and batches ---- */

sx_status sx_ntf_block_encode(sx_slice content, uint8_t block[SX_NTF_BLOCK_SIZE])
{
    SX_ENSURE(block != NULL, SX_E_USAGE);
    SX_ENSURE(content.len <= SX_NTF_MAX_CONTENT, SX_E_LIMIT);
    return sx_pad(content, block, SX_NTF_BLOCK_SIZE);
}

sx_status sx_ntf_block_decode(sx_slice block, sx_slice *content)
{
    SX_ENSURE(content != NULL, SX_E_USAGE);
    SX_ENSURE(block.len == SX_NTF_BLOCK_SIZE, SX_E_PROTOCOL);
    return sx_unpad(block, content) == SX_OK ? SX_OK : SX_E_PROTOCOL;
}

sx_status sx_ntf_batch_split(sx_slice content, uint16_t v, sx_slice *items, size_t max,
                             size_t *count)
{
    SX_ENSURE(items != NULL && count != NULL && max > 0, SX_E_USAGE);
    *count = 0;
    if (v < SX_NTF_V_AUTH_BATCH) {
        items[0] = content;
        *count = 1;
        return SX_OK;
    }
    sx_reader r;
    sx_reader_init_slice(&r, content);
    uint8_t n = 0;
    if (!sx_read_u8(&r, &n) || n == 0)
        return SX_E_PROTOCOL;
    SX_ENSURE(n <= max, SX_E_LIMIT);
    for (size_t i = 0; i < n; i++)
        if (!sx_read_large(&r, &items[i]))
            return SX_E_PROTOCOL;
    if (sx_reader_finish(&r) != SX_OK)
        return SX_E_PROTOCOL;
    *count = n;
    return SX_OK;
}

bool sx_ntf_batch_write(sx_writer *w, uint16_t v, const sx_slice *items, size_t n)
{
    if (!items || n == 0 || n > SX_NTF_BATCH_MAX || (v < SX_NTF_V_AUTH_BATCH && n != 1))
        return sx_writer_fail(w, SX_E_USAGE);
    if (v < SX_NTF_V_AUTH_BATCH)
        return sx_write_slice(w, items[0]);
    if (!sx_write_u8(w, (uint8_t)n))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!sx_write_large(w, items[i]))
            return false;
    return true;
}

/* ---- transmissions ---- */

/* The SMP layout of the same shape: v6 carries the session id, v7..15 imply
 * it; neither has the service slot (v16). */
static uint16_t smp_layout_version(uint16_t v)
{
    return v < SX_NTF_V_AUTH_BATCH ? 6 : 7;
}

sx_status sx_ntf_transmission_parse(sx_slice bytes, uint16_t v, sx_smp_transmission *out)
{
    return sx_smp_transmission_parse(bytes, smp_layout_version(v), out);
}

bool sx_ntf_transmission_write(sx_writer *w, uint16_t v, const sx_smp_transmission *t)
{
    if (!t || t->has_service_sig)
        return sx_writer_fail(w, SX_E_USAGE);
    return sx_smp_transmission_write(w, smp_layout_version(v), t);
}

bool sx_ntf_auth_bytes(sx_writer *w, sx_slice session_id, sx_slice corr_id, sx_slice entity_id,
                       sx_slice command)
{
    return sx_smp_write_auth_bytes(w, sx_slice_of(NULL, 0), session_id, corr_id, entity_id,
                                   command);
}

/* ---- hellos ---- */

bool sx_ntf_server_hello_write(sx_writer *w, const sx_ntf_server_hello *h)
{
    if (!h)
        return sx_writer_fail(w, SX_E_USAGE);
    bool with_key = h->range.max >= SX_NTF_V_AUTH_BATCH;
    if (with_key && !h->has_signed_key)
        return sx_writer_fail(w, SX_E_USAGE);
    if (!sx_write_version_range(w, h->range) || !sx_write_short(w, h->session_id))
        return false;
    return !with_key || sx_write_large(w, h->signed_key);
}

bool sx_ntf_client_hello_write(sx_writer *w, const sx_ntf_client_hello *h)
{
    if (!h)
        return sx_writer_fail(w, SX_E_USAGE);
    return sx_write_version(w, h->version) && sx_write_short(w, h->key_hash);
}

sx_status sx_ntf_server_hello_decode(sx_slice content, sx_ntf_server_hello *out)
{
    SX_ENSURE(out != NULL, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    sx_reader r;
    sx_reader_init_slice(&r, content);
    sx_read_version_range(&r, &out->range);
    sx_read_short(&r, &out->session_id);
    if (sx_reader_ok(&r) && out->range.max >= SX_NTF_V_AUTH_BATCH) {
        sx_signed_key sk;
        if (sx_read_large(&r, &out->signed_key) &&
            sx_x509_signed_key_parse(out->signed_key, &sk) != SX_OK)
            sx_reader_fail(&r, SX_E_PROTOCOL);
        out->has_signed_key = true;
    }
    if (!sx_reader_ok(&r)) {
        memset(out, 0, sizeof *out);
        return SX_E_PROTOCOL;
    }
    return SX_OK;
}

sx_status sx_ntf_client_hello_decode(sx_slice content, sx_ntf_client_hello *out)
{
    SX_ENSURE(out != NULL, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    sx_reader r;
    sx_reader_init_slice(&r, content);
    sx_read_version(&r, &out->version);
    sx_read_short(&r, &out->key_hash);
    if (!sx_reader_ok(&r)) {
        memset(out, 0, sizeof *out);
        return SX_E_PROTOCOL;
    }
    return SX_OK;
}
