/* Streaming secret box with the tag at the end (tailbox.h). */
#include "xrcp/tailbox.h"

#include <string.h>

#include "crypto/util.h"

/* The keystream of the box starts 32 bytes in: the first 32 key Poly1305. */
#define SKIP 32

sx_status sx_xrcp_tailbox_init(sx_xrcp_tailbox *b, const uint8_t key[32], const uint8_t nonce[24])
{
    if (b == NULL || key == NULL || nonce == NULL)
        return SX_E_USAGE;
    memset(b, 0, sizeof *b);
    memcpy(b->nonce, nonce, sizeof b->nonce);
    /* the secret box key of the reference's sbEncrypt is HSalsa20 of the
     * chain key over sixteen zero bytes */
    static const uint8_t zero16[16];
    uint8_t mk[32];
    sx_status st = crypto_core_hsalsa20(b->key, zero16, key, NULL) == 0 &&
                           crypto_stream_xsalsa20(mk, sizeof mk, b->nonce, b->key) == 0 &&
                           crypto_onetimeauth_poly1305_init(&b->mac, mk) == 0
                       ? SX_OK
                       : SX_E_INTERNAL;
    sx_wipe(mk, sizeof mk);
    if (st != SX_OK)
        sx_xrcp_tailbox_cleanup(b);
    return st;
}

/* XORs len bytes with the keystream from message offset b->pos on. */
static sx_status xor_at(sx_xrcp_tailbox *b, const uint8_t *in, uint8_t *out, size_t len)
{
    while (len > 0) {
        uint64_t o = SKIP + b->pos;
        uint64_t block = o / 64;
        size_t skip = (size_t)(o % 64), n = len;
        if (skip != 0) {
            /* a block begun by the piece before */
            uint8_t tmp[64] = {0};
            if (n > 64 - skip)
                n = 64 - skip;
            memcpy(tmp + skip, in, n);
            if (crypto_stream_xsalsa20_xor_ic(tmp, tmp, sizeof tmp, b->nonce, block, b->key) != 0)
                return SX_E_INTERNAL;
            memcpy(out, tmp + skip, n);
            sx_wipe(tmp, sizeof tmp);
        } else if (crypto_stream_xsalsa20_xor_ic(out, in, n, b->nonce, block, b->key) != 0) {
            return SX_E_INTERNAL;
        }
        b->pos += n;
        in += n;
        out += n;
        len -= n;
    }
    return SX_OK;
}

sx_status sx_xrcp_tailbox_seal(sx_xrcp_tailbox *b, sx_slice in, uint8_t *out)
{
    if (b == NULL || (in.len > 0 && (in.ptr == NULL || out == NULL)))
        return SX_E_USAGE;
    if (in.len == 0)
        return SX_OK;
    sx_status st = xor_at(b, in.ptr, out, in.len);
    if (st == SX_OK && crypto_onetimeauth_poly1305_update(&b->mac, out, in.len) != 0)
        st = SX_E_INTERNAL;
    return st;
}

sx_status sx_xrcp_tailbox_open(sx_xrcp_tailbox *b, sx_slice in, uint8_t *out)
{
    if (b == NULL || (in.len > 0 && (in.ptr == NULL || out == NULL)))
        return SX_E_USAGE;
    if (in.len == 0)
        return SX_OK;
    /* the tag covers the ciphertext: read it before out overwrites it */
    if (crypto_onetimeauth_poly1305_update(&b->mac, in.ptr, in.len) != 0)
        return SX_E_INTERNAL;
    return xor_at(b, in.ptr, out, in.len);
}

void sx_xrcp_tailbox_tag(sx_xrcp_tailbox *b, uint8_t tag[SX_XRCP_TAILBOX_TAG_LEN])
{
    crypto_onetimeauth_poly1305_final(&b->mac, tag);
    sx_xrcp_tailbox_cleanup(b);
}

bool sx_xrcp_tailbox_verify(sx_xrcp_tailbox *b, const uint8_t tag[SX_XRCP_TAILBOX_TAG_LEN])
{
    uint8_t mine[SX_XRCP_TAILBOX_TAG_LEN];
    crypto_onetimeauth_poly1305_final(&b->mac, mine);
    bool ok = crypto_verify_16(mine, tag) == 0;
    sx_wipe(mine, sizeof mine);
    sx_xrcp_tailbox_cleanup(b);
    return ok;
}

void sx_xrcp_tailbox_cleanup(sx_xrcp_tailbox *b)
{
    if (b != NULL)
        sx_wipe(b, sizeof *b);
}
