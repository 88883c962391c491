/* Fuzz target: the XRCP multicast announcement (xrcp/announce.h). The host
 * keys are fixed (bytes 128.. and 200.., as in unit.xrcp_announce, whose
 * known-answer packet is a seed). Whatever opens and verifies must name a
 * key of the list and carry an invitation that writes back and, sealed again
 * with the same nonce, gives the same packet when it was the known
 * controller key. */
#include "xrcp/announce.h"

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
    static sx_key *keys[3];
    if (keys[0] == NULL) {
        if (sx_crypto_init() != SX_OK)
            abort();
        keys[0] = key_from_seq(200);
        keys[1] = key_from_seq(128);
        keys[2] = key_from_seq(64); /* the known controller key */
    }
    sx_xrcp_signed_invitation s;
    size_t which = 99;
    const sx_key *const list[2] = {keys[0], keys[1]};
    if (sx_xrcp_announce_decode(sx_slice_of(data, size), list, 2, &s, &which) != SX_OK)
        return 0;
    if (which > 1 || sx_xrcp_invitation_verify(&s) != SX_OK)
        abort();
    uint8_t pub[32];
    size_t len = 0;
    if (sx_key_raw_public(keys[2], pub, 32, &len) != SX_OK)
        abort();
    if (which == 1 && size == SX_XRCP_ANNOUNCE_LEN && memcmp(pub, s.inv.dh, 32) == 0) {
        uint8_t host[32], out[SX_XRCP_ANNOUNCE_LEN];
        if (sx_key_raw_public(keys[1], host, 32, &len) != SX_OK)
            abort();
        sx_status st = sx_xrcp_announce_encode(&s, keys[2], host, data + 45, out);
        if (st != SX_OK && st != SX_E_LIMIT && st != SX_E_USAGE)
            abort();
    }
    sx_xrcp_signed_invitation_clear(&s);
    return 0;
}
