/* Fuzz target: the XRCP HELLO blocks (xrcp/session.h). The input goes to
 * the host HELLO reader (controller key from bytes 64..), to the reader of
 * the controller's reply (HELLO or ERROR, with the DH secret of the unit
 * test's keys) and to the controller HELLO's opener (chains of the unit
 * test's hybrid secret); the seeds are the known-answer blocks of
 * unit.xrcp_session. Whatever is read must be written back the same. */
#include "xrcp/session.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/util.h"

static sx_key *key_from_seq(uint8_t start)
{
    uint8_t raw[32];
    for (size_t i = 0; i < 32; i++)
        raw[i] = (uint8_t)(start + i);
    sx_key *k = NULL;
    if (sx_key_from_raw_private(SX_KEY_X25519, sx_slice_of(raw, 32), &k) != SX_OK)
        abort();
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sx_key *ctrl, *host;
    static uint8_t secret[32], hybrid[32];
    if (ctrl == NULL) {
        if (sx_crypto_init() != SX_OK)
            abort();
        ctrl = key_from_seq(64);
        host = key_from_seq(128);
        uint8_t pub[32], ss[32];
        size_t len = 0;
        for (size_t i = 0; i < 32; i++)
            ss[i] = (uint8_t)i;
        if (sx_key_raw_public(ctrl, pub, 32, &len) != SX_OK || sx_xrcp_hybrid_secret(host, pub, ss, hybrid) != SX_OK)
            abort();
        sx_key *peer = NULL;
        if (sx_key_from_raw_public(SX_KEY_X25519, sx_slice_of(pub, 32), &peer) != SX_OK ||
            sx_key_dh(host, peer, secret, 32, &len) != SX_OK)
            abort();
        sx_key_free(peer);
    }
    sx_slice in = sx_slice_of(data, size);
    sx_xrcp_host_hello h;
    uint8_t s2[32];
    if (sx_xrcp_host_hello_decode(in, ctrl, &h, s2) == SX_OK) {
        /* the host key read is the one in the block (after length, "HELLO ", DER head) */
        if (memcmp(s2, secret, 32) == 0 && memcmp(h.dh, data + 2 + 6 + 1 + 12, 32) != 0)
            abort();
        sx_xrcp_host_hello_clear(&h);
    }
    bool is_error = false;
    uint8_t ct[SX_SNTRUP761_CT_LEN];
    char msg[64];
    if (sx_xrcp_ctrl_reply_decode(in, secret, &is_error, ct, msg, sizeof msg) == SX_OK && !is_error) {
        /* a HELLO read back: the same ciphertext at the same place */
        if (size != SX_XRCP_BLOCK_LEN || memcmp(ct, data + 2 + 6 + 2, sizeof ct) != 0)
            abort();
    }
    sx_sbchain snd, rcv;
    if (sx_xrcp_chains_init(hybrid, false, &snd, &rcv) != SX_OK)
        abort();
    if (sx_xrcp_ctrl_hello_open(in, &rcv) == SX_OK && size != SX_XRCP_BLOCK_LEN)
        abort();
    return 0;
}
