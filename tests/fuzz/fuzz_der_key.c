/* Fuzz target: the strict DER key decoders of PROTOCOL-NOTES A16/A17 (SPKI
 * and PKCS#8), their shortString and base64url text forms. Whatever decodes
 * must re-encode to exactly the input bytes. */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "crypto/keys.h"

static void check_der(const uint8_t *data, size_t size, bool priv)
{
    sx_key *k = NULL;
    sx_slice in = sx_slice_of(data, size);
    sx_status st = priv ? sx_key_decode_private(in, SX_KEY_ANY, &k)
                        : sx_key_decode_public(in, SX_KEY_ANY, &k);
    if (st != SX_OK) {
        if (k)
            __builtin_trap();
        return;
    }
    if (priv != sx_key_is_private(k))
        __builtin_trap();
    uint8_t out[SX_KEY_PKCS8_MAX];
    sx_writer w;
    sx_writer_init_fixed(&w, out, sizeof out);
    if (priv)
        sx_key_write_private(&w, k);
    else
        sx_key_write_public(&w, k);
    if (sx_writer_status(&w) != SX_OK || w.len != size || memcmp(out, data, size) != 0)
        __builtin_trap();
    /* The same bytes are refused by a field typed for any other algorithm. */
    sx_key *other = NULL;
    unsigned rest = SX_KEY_ANY & ~SX_KEY_BIT(sx_key_alg_of(k));
    if ((priv ? sx_key_decode_private(in, rest, &other) : sx_key_decode_public(in, rest, &other)) !=
        SX_E_PROTOCOL)
        __builtin_trap();
    sx_key_free(k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_der(data, size, false);
    check_der(data, size, true);

    /* shortString-framed, as inside protocol messages. */
    sx_reader r;
    sx_reader_init(&r, data, size);
    sx_key *k = NULL;
    if (sx_key_read_public_short(&r, SX_KEY_AUTH_ALGS, &k))
        sx_key_free(k);
    else if (k)
        __builtin_trap();
    sx_status fin = sx_reader_finish(&r); /* trailing bytes are fine here */
    (void)fin;

    /* Text form (PROTOCOL-NOTES A24). */
    k = NULL;
    if (sx_key_public_from_text((const char *)data, size, SX_KEY_ANY, &k) == SX_OK)
        sx_key_free(k);
    k = NULL;
    if (sx_key_private_from_text((const char *)data, size, SX_KEY_ANY, &k) == SX_OK)
        sx_key_free(k);
    return 0;
}
