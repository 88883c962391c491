/* Fuzz target: the XRCP session payloads (xrcp/body.h). The input is read
 * as a command by the host and as a response by the controller of the unit
 * test's KAT session (fresh state each run); the seeds are the known-answer
 * bodies of unit.xrcp_body. Whatever is read must lie inside the input's
 * size and anything accepted must have taken a counter. */
#include "xrcp/body.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/util.h"
#include "xrcp/session.h"

static const uint8_t HYBRID[32] = {0xe5, 0x17, 0xb9, 0x1c, 0xca, 0x3c, 0x71, 0x75, 0xed, 0x7f, 0x18,
                                   0xc1, 0x1a, 0xbe, 0x39, 0x2b, 0xbd, 0x38, 0x60, 0xe0, 0xf1, 0x0e,
                                   0x8a, 0x46, 0xfc, 0xd8, 0xe6, 0xe4, 0x32, 0x50, 0x6b, 0xa0};

static sx_key *key_from_seq(uint8_t start)
{
    uint8_t raw[32];
    for (size_t i = 0; i < 32; i++)
        raw[i] = (uint8_t)(start + i);
    sx_key *k = NULL;
    if (sx_key_from_raw_private(SX_KEY_ED25519, sx_slice_of(raw, 32), &k) != SX_OK)
        abort();
    return k;
}

static void check(sx_xrcp_crypto *c, const uint8_t *data, size_t size)
{
    uint8_t *buf = NULL;
    sx_slice json, att;
    bool has = false;
    sx_xrcp_body_err why;
    if (sx_xrcp_body_read(c, sx_slice_of(data, size), &buf, &json, &has, &att, &why) == SX_OK) {
        if (c->rcv_counter == 0 || json.len + att.len > size || (!has && att.len != 0))
            abort();
        free(buf);
    } else if (buf != NULL || why == SX_XRCP_BODY_OK) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sx_key *skey, *idkey;
    static sx_xrcp_invitation inv;
    if (skey == NULL) {
        if (sx_crypto_init() != SX_OK)
            abort();
        skey = key_from_seq(0);
        idkey = key_from_seq(32);
        size_t len = 0;
        if (sx_key_raw_public(skey, inv.skey, 32, &len) != SX_OK ||
            sx_key_raw_public(idkey, inv.idkey, 32, &len) != SX_OK)
            abort();
    }
    uint8_t code[32], k[32], n[24];
    for (size_t i = 0; i < 32; i++)
        code[i] = (uint8_t)(40 + i);
    sx_sbchain csnd, crcv, hsnd, hrcv;
    sx_xrcp_crypto ctrl, host;
    if (sx_xrcp_chains_init(HYBRID, true, &csnd, &crcv) != SX_OK ||
        sx_xrcp_chains_init(HYBRID, false, &hsnd, &hrcv) != SX_OK || sx_sbchain_step(&hrcv, k, n) != SX_OK ||
        sx_xrcp_crypto_init(&ctrl, sx_slice_of(code, 32), &csnd, &crcv, skey, idkey, NULL) != SX_OK ||
        sx_xrcp_crypto_init(&host, sx_slice_of(code, 32), &hsnd, &hrcv, NULL, NULL, &inv) != SX_OK)
        abort();
    check(&host, data, size);
    check(&ctrl, data, size);
    sx_xrcp_crypto_cleanup(&ctrl);
    sx_xrcp_crypto_cleanup(&host);
    return 0;
}
