/* MSG body and NMSG metadata encryption. The MSG plaintext is written
 * straight into the output buffer behind the tag position and sealed in
 * place, so a 16 KiB message needs no second buffer. */
#include "smp/msgcrypt.h"

#include <string.h>

#include "core/pad.h"
#include "core/reader.h"
#include "core/writer.h"
#include "crypto/util.h"

/* Writes the PROTOCOL-NOTES A31 padded plaintext into out[16..16122) and seals
 * it. */
static sx_status seal_rcv_body(const uint8_t secret[SX_CB_KEY_LEN], sx_slice msg_id,
                               const uint8_t *head, size_t head_len, sx_slice body,
                               uint8_t out[SX_SMP_ENC_MSG_LEN])
{
    size_t len = head_len + body.len;
    SX_ENSURE(len <= SX_SMP_RCV_MSG_PADDED - 2, SX_E_LIMIT);
    uint8_t *plain = out + SX_CB_TAG_LEN;
    sx_writer w;
    sx_writer_init_fixed(&w, plain, SX_SMP_RCV_MSG_PADDED);
    sx_write_u16(&w, (uint16_t)len);
    sx_write_bytes(&w, head, head_len);
    sx_write_slice(&w, body);
    size_t fill = SX_SMP_RCV_MSG_PADDED - w.len;
    uint8_t *p = sx_write_reserve(&w, fill);
    if (p)
        memset(p, SX_PAD_CHAR, fill);
    SX_TRY(sx_writer_status(&w));
    uint8_t nonce[SX_CB_NONCE_LEN];
    sx_cb_nonce(msg_id, nonce);
    sx_status st = sx_cb_encrypt(secret, nonce, sx_slice_of(plain, SX_SMP_RCV_MSG_PADDED), out,
                                 SX_SMP_ENC_MSG_LEN);
    if (st != SX_OK)
        sx_wipe(out, SX_SMP_ENC_MSG_LEN);
    return st;
}

sx_status sx_smp_msg_encrypt(const uint8_t secret[SX_CB_KEY_LEN], sx_slice msg_id, int64_t ts,
                             bool notification, sx_slice body, uint8_t out[SX_SMP_ENC_MSG_LEN])
{
    SX_ENSURE(secret && out && (body.ptr || body.len == 0), SX_E_USAGE);
    SX_ENSURE(body.len <= SX_SMP_MSG_BODY_MAX, SX_E_LIMIT);
    /* Int64 ts || flags || ' ' (encodeRcvMsgBody). */
    uint8_t head[10];
    sx_writer w;
    sx_writer_init_fixed(&w, head, sizeof head);
    sx_write_i64(&w, ts);
    sx_write_bool(&w, notification);
    sx_write_str(&w, " ");
    SX_TRY(sx_writer_status(&w));
    return seal_rcv_body(secret, msg_id, head, w.len, body, out);
}

sx_status sx_smp_msg_encrypt_quota(const uint8_t secret[SX_CB_KEY_LEN], sx_slice msg_id,
                                   int64_t ts, uint8_t out[SX_SMP_ENC_MSG_LEN])
{
    SX_ENSURE(secret && out, SX_E_USAGE);
    uint8_t head[14];
    sx_writer w;
    sx_writer_init_fixed(&w, head, sizeof head);
    sx_write_str(&w, "QUOTA ");
    sx_write_i64(&w, ts);
    SX_TRY(sx_writer_status(&w));
    return seal_rcv_body(secret, msg_id, head, w.len, sx_slice_of(NULL, 0), out);
}

/* PROTOCOL-NOTES D25: the quota marker if the body parses as one, else a
 * message. */
static sx_status parse_rcv_body(sx_slice plain, sx_smp_rcv_msg *out)
{
    memset(out, 0, sizeof *out);
    sx_reader r;
    sx_reader_init_slice(&r, plain);
    sx_read_expect_str(&r, "QUOTA ");
    sx_read_i64(&r, &out->ts);
    if (sx_reader_finish(&r) == SX_OK) {
        out->quota = true;
        return SX_OK;
    }
    sx_reader_init_slice(&r, plain);
    sx_read_i64(&r, &out->ts);
    sx_read_bool(&r, &out->notification);
    sx_slice more_flags;
    sx_read_word(&r, &more_flags);
    sx_read_expect_str(&r, " ");
    sx_read_tail(&r, &out->body);
    sx_status st = sx_reader_finish(&r);
    if (st != SX_OK)
        memset(out, 0, sizeof *out);
    return st;
}

sx_status sx_smp_msg_decrypt(const uint8_t secret[SX_CB_KEY_LEN], sx_slice msg_id, sx_slice enc,
                             uint8_t *buf, size_t cap, sx_smp_rcv_msg *out)
{
    SX_ENSURE(secret && buf && out, SX_E_USAGE);
    uint8_t nonce[SX_CB_NONCE_LEN];
    sx_cb_nonce(msg_id, nonce);
    sx_slice plain;
    SX_TRY(sx_cb_decrypt_padded(secret, nonce, enc, buf, cap, &plain));
    sx_status st = parse_rcv_body(plain, out);
    if (st != SX_OK)
        sx_wipe(buf, enc.len - SX_CB_TAG_LEN);
    return st;
}

sx_status sx_smp_nmsg_encrypt(const uint8_t secret[SX_CB_KEY_LEN],
                              const uint8_t nonce[SX_CB_NONCE_LEN], sx_slice msg_id, int64_t ts,
                              uint8_t out[SX_SMP_NMSG_META_LEN])
{
    SX_ENSURE(secret && nonce && out && (msg_id.ptr || msg_id.len == 0), SX_E_USAGE);
    /* shortString(msg_id) || Int64 must fit the padding with its length word. */
    SX_ENSURE(msg_id.len <= SX_SMP_NMSG_META_PADDED - 2 - 1 - 8, SX_E_LIMIT);
    uint8_t meta[SX_SMP_NMSG_META_PADDED];
    sx_writer w;
    sx_writer_init_fixed(&w, meta, sizeof meta);
    sx_write_short(&w, msg_id);
    sx_write_i64(&w, ts);
    sx_status st = sx_writer_status(&w);
    if (st == SX_OK)
        st = sx_cb_encrypt_padded(secret, nonce, sx_writer_slice(&w), SX_SMP_NMSG_META_PADDED, out,
                                  SX_SMP_NMSG_META_LEN);
    sx_wipe(meta, sizeof meta);
    return st;
}

sx_status sx_smp_nmsg_decrypt(const uint8_t secret[SX_CB_KEY_LEN],
                              const uint8_t nonce[SX_CB_NONCE_LEN], sx_slice enc, uint8_t *buf,
                              size_t cap, sx_slice *msg_id, int64_t *ts)
{
    SX_ENSURE(secret && nonce && buf && msg_id && ts, SX_E_USAGE);
    sx_slice plain;
    SX_TRY(sx_cb_decrypt_padded(secret, nonce, enc, buf, cap, &plain));
    sx_reader r;
    sx_reader_init_slice(&r, plain);
    sx_read_short(&r, msg_id);
    sx_read_i64(&r, ts);
    sx_status st = sx_reader_status(&r); /* trailing bytes are allowed */
    if (st != SX_OK) {
        sx_wipe(buf, enc.len - SX_CB_TAG_LEN);
        *msg_id = sx_slice_of(NULL, 0);
        *ts = 0;
    }
    return st;
}
