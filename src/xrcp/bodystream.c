/* An XRCP body received piece by piece (bodystream.h). */
#include "xrcp/bodystream.h"

#include <stdlib.h>
#include <string.h>

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
