/* Secret-box chains for transport block encryption (PROTOCOL-NOTES B30-B34):
 * HKDF-SHA512 derivations give one key and nonce per block, and each block is
 * an PROTOCOL-NOTES A34 secret_box of the PROTOCOL-NOTES A30-padded content. */
#include "crypto/sbchain.h"

#include "crypto/hash.h"
#include "crypto/util.h"

#include <string.h>

#define SBC_INIT_INFO "SimpleXSbChainInit"
#define SBC_STEP_INFO "SimpleXSbChain"
#define SBC_STEP_LEN  (SX_SBCHAIN_KEY_LEN + SX_SBCHAIN_KEY_LEN + SX_CB_NONCE_LEN) /* 88 */

sx_status sx_sbchain_init(sx_slice session_id, const uint8_t secret[SX_SBCHAIN_KEY_LEN],
                          sx_sbchain *ck1, sx_sbchain *ck2)
{
    SX_ENSURE(secret != NULL && ck1 != NULL && ck2 != NULL && ck1 != ck2, SX_E_USAGE);
    uint8_t okm[2 * SX_SBCHAIN_KEY_LEN];
    sx_status st = sx_hkdf_sha512(session_id, sx_slice_of(secret, SX_SBCHAIN_KEY_LEN),
                                  sx_slice_str(SBC_INIT_INFO), okm, sizeof okm);
    if (st != SX_OK) {
        sx_sbchain_cleanup(ck1);
        sx_sbchain_cleanup(ck2);
        return st;
    }
    memcpy(ck1->ck, okm, SX_SBCHAIN_KEY_LEN);
    memcpy(ck2->ck, okm + SX_SBCHAIN_KEY_LEN, SX_SBCHAIN_KEY_LEN);
    sx_wipe(okm, sizeof okm);
    return SX_OK;
}

sx_status sx_sbchain_step(sx_sbchain *c, uint8_t key[SX_SBCHAIN_KEY_LEN],
                          uint8_t nonce[SX_CB_NONCE_LEN])
{
    SX_ENSURE(c != NULL && key != NULL && nonce != NULL, SX_E_USAGE);
    uint8_t out[SBC_STEP_LEN];
    /* PROTOCOL-NOTES B32: the salt is empty. */
    SX_TRY(sx_hkdf_sha512(sx_slice_of(NULL, 0), sx_slice_of(c->ck, sizeof c->ck),
                          sx_slice_str(SBC_STEP_INFO), out, sizeof out));
    memcpy(c->ck, out, SX_SBCHAIN_KEY_LEN);
    memcpy(key, out + SX_SBCHAIN_KEY_LEN, SX_SBCHAIN_KEY_LEN);
    memcpy(nonce, out + 2 * SX_SBCHAIN_KEY_LEN, SX_CB_NONCE_LEN);
    sx_wipe(out, sizeof out);
    return SX_OK;
}

sx_status sx_sbchain_seal(sx_sbchain *c, sx_slice content, uint8_t *out, size_t cap)
{
    SX_ENSURE(c != NULL && out != NULL && cap >= SX_SBBLOCK_LEN, SX_E_USAGE);
    SX_ENSURE(content.ptr != NULL || content.len == 0, SX_E_USAGE);
    /* Refuse oversize content before touching the chain: no block, no step. */
    SX_ENSURE(content.len <= SX_SBBLOCK_MAX_CONTENT, SX_E_LIMIT);
    uint8_t key[SX_SBCHAIN_KEY_LEN];
    uint8_t nonce[SX_CB_NONCE_LEN];
    sx_sbchain next = *c;
    sx_status st = sx_sbchain_step(&next, key, nonce);
    if (st == SX_OK)
        st = sx_sb_encrypt_padded(key, nonce, content, SX_SBBLOCK_PADDED_LEN, out, cap);
    /* Advance only once a block exists for the peer to count. */
    if (st == SX_OK)
        *c = next;
    sx_sbchain_cleanup(&next);
    sx_wipe(key, sizeof key);
    return st;
}

sx_status sx_sbchain_open(sx_sbchain *c, sx_slice block, uint8_t *buf, size_t cap,
                          sx_slice *content)
{
    SX_ENSURE(content != NULL, SX_E_USAGE);
    *content = sx_slice_of(NULL, 0);
    SX_ENSURE(c != NULL && buf != NULL && block.ptr != NULL, SX_E_USAGE);
    SX_ENSURE(block.len == SX_SBBLOCK_LEN && cap >= SX_SBBLOCK_PADDED_LEN, SX_E_USAGE);
    uint8_t key[SX_SBCHAIN_KEY_LEN];
    uint8_t nonce[SX_CB_NONCE_LEN];
    SX_TRY(sx_sbchain_step(c, key, nonce));
    /* PROTOCOL-NOTES B34: from here on the chain has advanced, whatever the
     * block holds. */
    sx_status st = sx_sb_decrypt_padded(key, nonce, block, buf, cap, content);
    sx_wipe(key, sizeof key);
    if (st != SX_OK)
        sx_wipe(buf, SX_SBBLOCK_PADDED_LEN);
    return st;
}

void sx_sbchain_cleanup(sx_sbchain *c)
{
    if (c != NULL)
        sx_wipe(c->ck, sizeof c->ck);
}
