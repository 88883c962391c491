/* 2-hop routing payloads (see proxy.h). */
#include "smp/proxy.h"

#include <string.h>

#include "core/reader.h"
#include "crypto/box.h"
#include "crypto/util.h"
#include "transport/block.h"

bool sx_smp_fwd_t_write(sx_writer *w, const sx_smp_fwd_t *f)
{
    return sx_write_short(w, f->corr_id) && sx_write_version(w, f->version) &&
           sx_smp_write_pubkey(w, SX_KEY_BIT(SX_KEY_X25519), &f->dh_key) && sx_write_slice(w, f->enc);
}

sx_status sx_smp_fwd_t_decode(sx_slice bytes, sx_smp_fwd_t *out)
{
    memset(out, 0, sizeof *out);
    sx_reader r;
    sx_reader_init(&r, bytes.ptr, bytes.len);
    sx_read_short(&r, &out->corr_id);
    sx_read_version(&r, &out->version);
    sx_smp_read_pubkey(&r, SX_KEY_BIT(SX_KEY_X25519), &out->dh_key);
    sx_read_tail(&r, &out->enc);
    return sx_reader_status(&r) == SX_OK ? SX_OK : SX_E_PROTOCOL;
}

bool sx_smp_fwd_resp_write(sx_writer *w, const sx_smp_fwd_resp *f)
{
    return sx_write_short(w, f->corr_id) && sx_write_slice(w, f->enc);
}

sx_status sx_smp_fwd_resp_decode(sx_slice bytes, sx_smp_fwd_resp *out)
{
    memset(out, 0, sizeof *out);
    sx_reader r;
    sx_reader_init(&r, bytes.ptr, bytes.len);
    sx_read_short(&r, &out->corr_id);
    sx_read_tail(&r, &out->enc);
    return sx_reader_status(&r) == SX_OK ? SX_OK : SX_E_PROTOCOL;
}

sx_status sx_smp_proxied_seal(const uint8_t secret[32], const uint8_t nonce[24], sx_slice t, uint8_t *out,
                              size_t cap)
{
    static __thread uint8_t batch[SX_SMP_PROXIED_T_LEN];
    sx_writer w;
    sx_writer_init_fixed(&w, batch, sizeof batch);
    if (!sx_write_u8(&w, 1) || !sx_write_large(&w, t))
        return SX_E_LIMIT;
    sx_status st = sx_cb_encrypt_padded(secret, nonce, sx_writer_slice(&w), SX_SMP_PROXIED_T_LEN, out, cap);
    sx_wipe(batch, w.len);
    return st;
}

sx_status sx_smp_proxied_open(const uint8_t secret[32], const uint8_t nonce[24], sx_slice box, uint8_t *buf,
                              size_t cap, sx_slice *t)
{
    sx_slice content;
    sx_status st = sx_cb_decrypt_padded(secret, nonce, box, buf, cap, &content);
    if (st != SX_OK)
        return st == SX_E_USAGE ? st : SX_E_AUTH;
    size_t n = 0;
    sx_slice item;
    if (sx_batch_decode(content, &item, 1, &n) != SX_OK || n != 1)
        return SX_E_PROTOCOL;
    *t = item;
    return SX_OK;
}
