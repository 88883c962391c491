/* XRCP multicast announcement (announce.h, PROTOCOL-NOTES X6). */
#include "xrcp/announce.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/util.h"

static sx_status dh_secret(const sx_key *priv, const uint8_t pub[SX_XRCP_KEY_LEN], uint8_t out[SX_CB_KEY_LEN])
{
    sx_key *peer = NULL;
    size_t len = 0;
    if (priv == NULL || sx_key_alg_of(priv) != SX_KEY_X25519 || !sx_key_is_private(priv))
        return SX_E_USAGE;
    sx_status st = sx_key_from_raw_public(SX_KEY_X25519, sx_slice_of(pub, SX_XRCP_KEY_LEN), &peer);
    if (st == SX_OK)
        st = sx_key_dh(priv, peer, out, SX_CB_KEY_LEN, &len);
    if (st == SX_OK && len != SX_CB_KEY_LEN)
        st = SX_E_INTERNAL;
    sx_key_free(peer);
    return st;
}

sx_status sx_xrcp_announce_encode(const sx_xrcp_signed_invitation *s, const sx_key *ctrl_dh,
                                  const uint8_t host_dh[SX_XRCP_KEY_LEN], const uint8_t nonce[SX_CB_NONCE_LEN],
                                  uint8_t out[SX_XRCP_ANNOUNCE_LEN])
{
    if (s == NULL || ctrl_dh == NULL || host_dh == NULL || out == NULL)
        return SX_E_USAGE;
    uint8_t pub[SX_KEY_RAW_MAX];
    size_t plen = 0;
    if (sx_key_alg_of(ctrl_dh) != SX_KEY_X25519 || sx_key_raw_public(ctrl_dh, pub, sizeof pub, &plen) != SX_OK ||
        plen != SX_XRCP_KEY_LEN || memcmp(pub, s->inv.dh, SX_XRCP_KEY_LEN) != 0)
        return SX_E_USAGE;
    sx_writer uri;
    sx_writer_init_dynamic(&uri, SX_XRCP_URI_MAX);
    sx_status st = sx_xrcp_signed_invitation_write(&uri, s) ? SX_OK : sx_writer_status(&uri);
    if (st == SX_OK && uri.len > SX_XRCP_ANNOUNCE_PAD - 2)
        st = SX_E_LIMIT;
    uint8_t secret[SX_CB_KEY_LEN], n[SX_CB_NONCE_LEN];
    if (st == SX_OK)
        st = dh_secret(ctrl_dh, host_dh, secret);
    if (st == SX_OK) {
        if (nonce != NULL)
            memcpy(n, nonce, sizeof n);
        else
            sx_random_bytes(n, sizeof n);
        sx_writer w;
        sx_writer_init_fixed(&w, out, SX_XRCP_ANNOUNCE_LEN);
        sx_key *k = NULL;
        st = sx_key_public_copy(ctrl_dh, &k);
        if (st == SX_OK) {
            sx_key_write_public_short(&w, k);
            sx_write_bytes(&w, n, sizeof n);
            st = sx_writer_status(&w);
        }
        sx_key_free(k);
        if (st == SX_OK && w.len + SX_XRCP_ANNOUNCE_PAD + SX_CB_TAG_LEN != SX_XRCP_ANNOUNCE_LEN)
            st = SX_E_INTERNAL;
        if (st == SX_OK)
            st = sx_cb_encrypt_padded(secret, n, sx_writer_slice(&uri), SX_XRCP_ANNOUNCE_PAD, out + w.len,
                                      SX_XRCP_ANNOUNCE_LEN - w.len);
    }
    sx_wipe(secret, sizeof secret);
    sx_writer_cleanup(&uri);
    return st;
}

sx_status sx_xrcp_announce_decode(sx_slice packet, const sx_key *const *host_dh, size_t n,
                                  sx_xrcp_signed_invitation *out, size_t *which)
{
    if (out == NULL || (host_dh == NULL && n != 0) || (packet.ptr == NULL && packet.len != 0))
        return SX_E_USAGE;
    memset(out, 0, sizeof *out);
    sx_reader r;
    sx_slice der, nonce, box;
    sx_reader_init_slice(&r, packet);
    sx_read_short(&r, &der);
    sx_read_bytes(&r, SX_CB_NONCE_LEN, &nonce);
    sx_read_tail(&r, &box);
    if (sx_reader_finish(&r) != SX_OK || box.len < SX_CB_TAG_LEN || box.len > SX_XRCP_URI_MAX)
        return SX_E_PROTOCOL;
    sx_key *ctrl = NULL;
    if (sx_key_decode_public(der, SX_KEY_BIT(SX_KEY_X25519), &ctrl) != SX_OK)
        return SX_E_PROTOCOL;
    uint8_t ctrl_raw[SX_KEY_RAW_MAX];
    size_t clen = 0;
    sx_status st = sx_key_raw_public(ctrl, ctrl_raw, sizeof ctrl_raw, &clen);
    uint8_t *plain = st == SX_OK ? malloc(box.len) : NULL;
    if (st == SX_OK && plain == NULL)
        st = SX_E_NOMEM;
    sx_slice uri = {NULL, 0};
    size_t found = n;
    for (size_t i = 0; st == SX_OK && i < n && found == n; i++) {
        uint8_t secret[SX_CB_KEY_LEN];
        if (host_dh[i] == NULL || dh_secret(host_dh[i], ctrl_raw, secret) != SX_OK)
            continue;
        if (sx_cb_decrypt_padded(secret, nonce.ptr, box, plain, box.len, &uri) == SX_OK)
            found = i;
        sx_wipe(secret, sizeof secret);
    }
    if (st == SX_OK && found == n)
        st = SX_E_AUTH;
    if (st == SX_OK) {
        st = sx_xrcp_invitation_decode_verified(uri, out);
        if (st == SX_OK && memcmp(out->inv.dh, ctrl_raw, SX_XRCP_KEY_LEN) != 0) {
            sx_xrcp_signed_invitation_clear(out);
            st = SX_E_AUTH;
        }
    }
    if (st == SX_OK && which != NULL)
        *which = found;
    if (plain != NULL) {
        sx_wipe(plain, box.len);
        free(plain);
    }
    sx_key_free(ctrl);
    return st;
}
