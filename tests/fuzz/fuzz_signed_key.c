/* Fuzz target: the PROTOCOL-NOTES A20 signed-key parser and verifier, and the
 * certificate chain decoder, alone and as the CertChainPubKey of a server hello
 * (PROTOCOL-NOTES B16): chain || Large(signed key). Nothing may crash, leak or
 * read out of bounds, and every slice handed out must lie inside the input. */
#include <stdint.h>
#include <stddef.h>

#include "crypto/x509.h"

/* Public keys of the signers in vectors/smp-crypto.md section 4 (their
 * private keys are bytes(32, 1) and bytes(57, 1)), so the seed corpus holds
 * inputs that verify. */
static sx_key *signers[2];

static void init_signers(void)
{
    if (signers[0])
        return;
    uint8_t raw[57];
    for (int i = 0; i < 57; i++)
        raw[i] = (uint8_t)(1 + i);
    sx_key *priv;
    if (sx_key_from_raw_private(SX_KEY_ED25519, sx_slice_of(raw, 32), &priv) != SX_OK ||
        sx_key_public_copy(priv, &signers[0]) != SX_OK)
        __builtin_trap();
    sx_key_free(priv);
    if (sx_key_from_raw_private(SX_KEY_ED448, sx_slice_of(raw, 57), &priv) != SX_OK ||
        sx_key_public_copy(priv, &signers[1]) != SX_OK)
        __builtin_trap();
    sx_key_free(priv);
}

static void inside(sx_slice s, const uint8_t *data, size_t size)
{
    if (s.len && (s.ptr < data || s.ptr + s.len > data + size))
        __builtin_trap();
}

static void check_signed_key(sx_slice der, const uint8_t *data, size_t size)
{
    sx_signed_key sk;
    if (sx_x509_signed_key_parse(der, &sk) == SX_OK) {
        inside(sk.tbs, data, size);
        inside(sk.spki, data, size);
        inside(sk.signature, data, size);
        if (sk.signature.len != sx_key_sig_len(sk.sig_alg))
            __builtin_trap();
    }
    for (int i = 0; i < 2; i++) {
        sx_key *k = NULL;
        if (sx_x509_signed_key_verify(der, signers[i], SX_KEY_ANY, &k) == SX_OK)
            sx_key_free(k);
        else if (k)
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_signers();
    check_signed_key(sx_slice_of(data, size), data, size);

    sx_reader r;
    sx_reader_init(&r, data, size);
    sx_x509_chain ch;
    if (sx_x509_read_chain(&r, &ch)) {
        if (ch.n < 1 || ch.n > SX_X509_CHAIN_MAX)
            __builtin_trap();
        for (size_t i = 0; i < ch.n; i++)
            inside(ch.der[i], data, size);
        sx_slice sk;
        if (sx_read_large(&r, &sk)) {
            check_signed_key(sk, data, size);
            sx_key *leaf = NULL, *got = NULL;
            if (sx_x509_public_key(ch.certs[0], &leaf) == SX_OK &&
                sx_x509_signed_key_verify(sk, leaf, SX_KEY_DH_ALGS, &got) == SX_OK)
                sx_key_free(got);
            sx_key_free(leaf);
        }
        sx_x509_chain_cleanup(&ch);
    } else if (ch.n != 0 || ch.certs[0]) {
        __builtin_trap();
    }
    sx_status fin = sx_reader_finish(&r); /* trailing bytes are fine here */
    (void)fin;
    return 0;
}
