/* An XRCP body received piece by piece (bodystream.h). */
#include "xrcp/bodystream.h"

#include <stdlib.h>
#include <string.h>

#include "core/reader.h"
#include "crypto/util.h"

#define ATT_HEADER 5 /* %x01 Word32 */

void sx_xrcp_body_rx_init(sx_xrcp_body_rx *rx, sx_xrcp_crypto *c, sx_xrcp_att_writer write, void *arg)
{
    memset(rx, 0, sizeof *rx);
    rx->c = c;
    rx->write = write;
    rx->arg = arg;
    sx_writer_init_dynamic(&rx->head, SX_XRCP_JSON_MAX + 1024);
}

static sx_status fail(sx_xrcp_body_rx *rx, sx_status st, sx_xrcp_body_err why)
{
    rx->state = 3;
    rx->st = st;
    rx->why = why;
    sx_xrcp_tailbox_cleanup(&rx->box);
    return st;
}

/* The head and the attachment header are whole: check them. */
static sx_status head_done(sx_xrcp_body_rx *rx, bool has_att)
{
    sx_slice h = sx_writer_slice(&rx->head);
    if (has_att) {
        const uint8_t *a = h.ptr + rx->head_len;
        uint32_t n = (uint32_t)a[1] << 24 | (uint32_t)a[2] << 16 | (uint32_t)a[3] << 8 | a[4];
        if (a[0] != 1 || n < SX_XRCP_TAILBOX_TAG_LEN || rx->write == NULL)
            return fail(rx, SX_E_PROTOCOL, SX_XRCP_BODY_INVALID);
        rx->att_len = rx->att_left = n - SX_XRCP_TAILBOX_TAG_LEN;
    }
    sx_xrcp_body_err why = SX_XRCP_BODY_OK;
    sx_status st = sx_xrcp_body_read_head(rx->c, sx_slice_of(h.ptr, rx->head_len), has_att, &rx->json_buf,
                                          &rx->json, &rx->box, &why);
    if (st != SX_OK)
        return fail(rx, st, why);
    rx->state = has_att && rx->att_left > 0 ? 1 : 2;
    return SX_OK;
}

sx_status sx_xrcp_body_rx_feed(sx_xrcp_body_rx *rx, sx_slice data)
{
    if (rx == NULL || (data.ptr == NULL && data.len != 0))
        return SX_E_USAGE;
    if (rx->state == 3)
        return rx->st;
    if (rx->state == 4)
        return SX_E_USAGE;
    while (data.len > 0) {
        if (rx->state == 0) {
            /* take no byte past the attachment's header */
            sx_slice h = sx_writer_slice(&rx->head);
            long want = sx_xrcp_body_head_want(rx->c, h);
            if (want < 0)
                return fail(rx, SX_E_PROTOCOL, SX_XRCP_BODY_INVALID);
            size_t target = (size_t)want;
            if (target <= h.len) {
                rx->head_len = target;
                target += ATT_HEADER;
            }
            size_t n = target - h.len < data.len ? target - h.len : data.len;
            if (!sx_write_bytes(&rx->head, data.ptr, n))
                return fail(rx, SX_E_PROTOCOL, SX_XRCP_BODY_INVALID);
            data = sx_slice_of(data.ptr + n, data.len - n);
            if (rx->head_len != 0 && rx->head.len == rx->head_len + ATT_HEADER) {
                sx_status st = head_done(rx, true);
                if (st != SX_OK)
                    return st;
            }
        } else if (rx->state == 1) {
            size_t n = data.len < sizeof rx->piece ? data.len : sizeof rx->piece;
            if (n > rx->att_left)
                n = (size_t)rx->att_left;
            if (n == 0) {
                rx->state = 2;
                continue;
            }
            sx_status st = sx_xrcp_tailbox_open(&rx->box, sx_slice_of(data.ptr, n), rx->piece);
            if (st == SX_OK)
                st = rx->write(rx->arg, sx_slice_of(rx->piece, n));
            if (st != SX_OK)
                return fail(rx, st, SX_XRCP_BODY_OK);
            rx->att_left -= n;
            data = sx_slice_of(data.ptr + n, data.len - n);
            if (rx->att_left == 0)
                rx->state = 2;
        } else {
            /* the attachment's tag */
            size_t n = SX_XRCP_TAILBOX_TAG_LEN - rx->tag_have;
            if (data.len > n)
                return fail(rx, SX_E_PROTOCOL, SX_XRCP_BODY_INVALID);
            memcpy(rx->tag + rx->tag_have, data.ptr, data.len);
            rx->tag_have += data.len;
            data = sx_slice_of(NULL, 0);
        }
    }
    return SX_OK;
}

sx_status sx_xrcp_body_rx_end(sx_xrcp_body_rx *rx, uint8_t **json_buf, sx_slice *json, bool *has_att,
                              uint64_t *att_len, sx_xrcp_body_err *why)
{
    if (rx == NULL || json_buf == NULL || json == NULL || has_att == NULL || att_len == NULL)
        return SX_E_USAGE;
    *json_buf = NULL;
    *json = sx_slice_of(NULL, 0);
    *has_att = false;
    *att_len = 0;
    sx_status st = rx->st;
    if (rx->state == 0) {
        /* no attachment: the body is its head, whole */
        long want = sx_xrcp_body_head_want(rx->c, sx_writer_slice(&rx->head));
        if (want < 0 || (size_t)want != rx->head.len) {
            st = fail(rx, SX_E_PROTOCOL, SX_XRCP_BODY_INVALID);
        } else {
            rx->head_len = (size_t)want;
            st = head_done(rx, false);
        }
    } else if (rx->state == 1 || (rx->state == 2 && rx->tag_have != SX_XRCP_TAILBOX_TAG_LEN)) {
        st = fail(rx, SX_E_PROTOCOL, SX_XRCP_BODY_INVALID);
    } else if (rx->state == 2) {
        st = sx_xrcp_tailbox_verify(&rx->box, rx->tag) ? SX_OK : fail(rx, SX_E_AUTH, SX_XRCP_BODY_DECRYPT);
        *has_att = st == SX_OK;
        *att_len = st == SX_OK ? rx->att_len : 0;
    } else if (rx->state == 4) {
        return SX_E_USAGE;
    }
    if (why != NULL)
        *why = rx->why;
    if (st != SX_OK)
        return st;
    *json_buf = rx->json_buf;
    *json = rx->json;
    rx->json_buf = NULL;
    rx->state = 4;
    return SX_OK;
}

void sx_xrcp_body_rx_cleanup(sx_xrcp_body_rx *rx)
{
    if (rx == NULL)
        return;
    sx_writer_cleanup(&rx->head);
    if (rx->json_buf != NULL)
        sx_wipe(rx->json_buf, rx->json.len);
    free(rx->json_buf);
    sx_xrcp_tailbox_cleanup(&rx->box);
    sx_wipe(rx->piece, sizeof rx->piece);
    rx->json_buf = NULL;
}

/* ---- sending ---- */

sx_status sx_xrcp_body_tx_init(sx_xrcp_body_tx *tx, sx_xrcp_crypto *c, sx_slice json, bool has_att,
                               uint64_t att_len, sx_xrcp_att_reader read, void *arg)
{
    memset(tx, 0, sizeof *tx);
    sx_writer_init_dynamic(&tx->head, SX_XRCP_JSON_MAX + 1024);
    if (has_att && read == NULL && att_len > 0)
        return SX_E_USAGE;
    if (!sx_xrcp_body_write_head(&tx->head, c, json, has_att, att_len, &tx->box)) {
        sx_status st = sx_writer_status(&tx->head);
        return st != SX_OK ? st : SX_E_INTERNAL;
    }
    tx->has_att = has_att;
    tx->att_left = att_len;
    tx->read = read;
    tx->arg = arg;
    return SX_OK;
}

sx_status sx_xrcp_body_tx_take(sx_xrcp_body_tx *tx, uint8_t *buf, size_t cap, size_t *got, bool *eof)
{
    *got = 0;
    *eof = false;
    while (*got < cap) {
        if (tx->state == 0) {
            size_t n = tx->head.len - tx->head_off;
            if (n > cap - *got)
                n = cap - *got;
            memcpy(buf + *got, tx->head.buf + tx->head_off, n);
            tx->head_off += n;
            *got += n;
            if (tx->head_off == tx->head.len)
                tx->state = !tx->has_att ? 3 : tx->att_left > 0 ? 1
                                                                : 2;
            if (tx->state == 2)
                sx_xrcp_tailbox_tag(&tx->box, tx->tag);
        } else if (tx->state == 1) {
            size_t want = cap - *got;
            if (want > tx->att_left)
                want = (size_t)tx->att_left;
            size_t n = 0;
            sx_status st = tx->read(tx->arg, buf + *got, want, &n);
            if (st == SX_OK && (n == 0 || n > want))
                st = SX_E_PROTOCOL; /* the reader ended early (or overran) */
            if (st == SX_OK)
                st = sx_xrcp_tailbox_seal(&tx->box, sx_slice_of(buf + *got, n), buf + *got);
            if (st != SX_OK)
                return st;
            *got += n;
            tx->att_left -= n;
            if (tx->att_left == 0) {
                sx_xrcp_tailbox_tag(&tx->box, tx->tag);
                tx->state = 2;
            }
        } else if (tx->state == 2) {
            size_t n = SX_XRCP_TAILBOX_TAG_LEN - tx->tag_off;
            if (n > cap - *got)
                n = cap - *got;
            memcpy(buf + *got, tx->tag + tx->tag_off, n);
            tx->tag_off += n;
            *got += n;
            if (tx->tag_off == SX_XRCP_TAILBOX_TAG_LEN)
                tx->state = 3;
        } else {
            break;
        }
    }
    *eof = tx->state == 3;
    return SX_OK;
}

sx_status sx_xrcp_body_tx_source(void *arg, uint8_t *buf, size_t cap, size_t *got, bool *eof)
{
    return sx_xrcp_body_tx_take(arg, buf, cap, got, eof);
}

void sx_xrcp_body_tx_cleanup(sx_xrcp_body_tx *tx)
{
    if (tx == NULL)
        return;
    sx_writer_cleanup(&tx->head);
    sx_xrcp_tailbox_cleanup(&tx->box);
    sx_wipe(tx->tag, sizeof tx->tag);
}

/* ---- in memory ---- */

sx_status sx_xrcp_mem_read(void *arg, uint8_t *buf, size_t cap, size_t *got)
{
    sx_xrcp_mem_src *m = arg;
    size_t n = m->s.len - m->off;
    if (n > cap)
        n = cap;
    sx_reader r;
    sx_reader_init(&r, m->s.ptr + m->off, n);
    if (n > 0 && !sx_read_copy(&r, buf, n))
        return SX_E_INTERNAL;
    m->off += n;
    *got = n;
    return SX_OK;
}

sx_status sx_xrcp_mem_write(void *arg, sx_slice plain)
{
    sx_writer *w = arg;
    if (w->len + plain.len > SX_XRCP_ATTACH_MAX)
        return SX_E_LIMIT;
    return sx_write_bytes(w, plain.ptr, plain.len) ? SX_OK : sx_writer_status(w);
}

sx_status sx_xrcp_mem_join(uint8_t **json_buf, sx_slice *json, sx_writer *att, sx_slice *att_out)
{
    uint8_t *b = malloc(json->len + att->len + 1);
    if (b == NULL)
        return SX_E_NOMEM;
    if (json->len > 0)
        memcpy(b, json->ptr, json->len);
    if (att->len > 0)
        memcpy(b + json->len, att->buf, att->len);
    if (*json_buf != NULL)
        sx_wipe(*json_buf, json->len);
    free(*json_buf);
    *json_buf = b;
    *json = sx_slice_of(b, json->len);
    *att_out = sx_slice_of(b + json->len, att->len);
    return SX_OK;
}
