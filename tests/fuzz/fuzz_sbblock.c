/* Fuzz target: received encrypted transport blocks (PROTOCOL-NOTES B33/B34).
 * The input is (1) opened as a block with a fixed receive chain, and (2) sealed
 * as the padded plaintext of an authentic block and opened again, so the unpad
 * path behind the Poly1305 check is reached too. Any crash or contract breach
 * (wrong status, content outside the buffer) aborts. */
#include "crypto/box.h"
#include "crypto/sbchain.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ck1 of vectors/smp-crypto.md section 1; the seed corpus holds the router's
 * first block on this chain. */
static const uint8_t chain_key[SX_SBCHAIN_KEY_LEN] = {
    0x15, 0xed, 0xae, 0x1e, 0x6c, 0x8f, 0x33, 0x88, 0xf7, 0xcb, 0xb9, 0x88, 0xef, 0x10, 0xc5, 0x84,
    0xed, 0x81, 0x3a, 0x69, 0xa5, 0x5b, 0x89, 0xb2, 0x26, 0x21, 0x28, 0xc3, 0xb0, 0xda, 0xfb, 0x82,
};

static uint8_t buf[SX_SBBLOCK_PADDED_LEN];
static uint8_t plain[SX_SBBLOCK_PADDED_LEN];
static uint8_t block[SX_SBBLOCK_LEN];

static void check_content(sx_slice content, const uint8_t *base)
{
    if (content.len > SX_SBBLOCK_MAX_CONTENT)
        abort();
    if (content.len > 0 && (content.ptr < base || content.ptr + content.len > base + sizeof buf))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sx_sbchain rx;
    sx_slice content;
    memcpy(rx.ck, chain_key, sizeof rx.ck);

    /* (1) the input as a received block */
    sx_status st = sx_sbchain_open(&rx, sx_slice_of(data, size), buf, sizeof buf, &content);
    if (size != SX_SBBLOCK_LEN) {
        if (st != SX_E_USAGE || memcmp(rx.ck, chain_key, sizeof rx.ck) != 0)
            abort();
    } else if (st == SX_OK) {
        check_content(content, buf);
    } else if (st != SX_E_AUTH && st != SX_E_PROTOCOL) {
        abort();
    }

    /* (2) the input as the padded plaintext of an authentic block */
    sx_sbchain tx;
    memcpy(tx.ck, chain_key, sizeof tx.ck);
    memcpy(rx.ck, chain_key, sizeof rx.ck);
    memset(plain, 0, sizeof plain);
    size_t n = size < sizeof plain ? size : sizeof plain;
    if (n > 0)
        memcpy(plain, data, n);
    uint8_t key[SX_SBCHAIN_KEY_LEN], nonce[SX_CB_NONCE_LEN];
    if (sx_sbchain_step(&tx, key, nonce) != SX_OK)
        abort();
    if (sx_sb_encrypt(key, nonce, sx_slice_of(plain, sizeof plain), block, sizeof block) != SX_OK)
        abort();
    st = sx_sbchain_open(&rx, sx_slice_of(block, sizeof block), buf, sizeof buf, &content);
    size_t declared = (size_t)plain[0] << 8 | plain[1];
    if (declared <= SX_SBBLOCK_MAX_CONTENT) {
        if (st != SX_OK || content.len != declared || content.ptr != buf + 2)
            abort();
        check_content(content, buf);
        if (declared > 0 && memcmp(content.ptr, plain + 2, declared) != 0)
            abort();
    } else if (st != SX_E_PROTOCOL) {
        abort();
    }
    if (memcmp(rx.ck, tx.ck, sizeof rx.ck) != 0)
        abort();
    return 0;
}
