/* Base64 text forms over libsodium's constant-time codecs. Input padding is
 * optional (the reference decodes leniently); output follows the variant. */
#include "core/base64.h"

#include <errno.h>
#include <stdbool.h>
#include <sodium.h>

static int sodium_variant(sx_b64_variant v, bool padded)
{
    switch (v) {
    case SX_B64_URL:
    case SX_B64_URL_NOPAD:
        return padded ? sodium_base64_VARIANT_URLSAFE : sodium_base64_VARIANT_URLSAFE_NO_PADDING;
    case SX_B64_STD:
    default:
        return padded ? sodium_base64_VARIANT_ORIGINAL : sodium_base64_VARIANT_ORIGINAL_NO_PADDING;
    }
}

size_t sx_b64_encoded_size(size_t n, sx_b64_variant v)
{
    return sodium_base64_encoded_len(n, sodium_variant(v, v != SX_B64_URL_NOPAD));
}

sx_status sx_b64_encode(sx_slice in, sx_b64_variant v, char *out, size_t cap)
{
    SX_ENSURE(out, SX_E_USAGE);
    /* Guard the size computation itself against overflow. */
    SX_ENSURE(in.len <= (SIZE_MAX / 4) * 3 - 3, SX_E_LIMIT);
    SX_ENSURE(cap >= sx_b64_encoded_size(in.len, v), SX_E_LIMIT);
    sodium_bin2base64(out, cap, in.len ? in.ptr : (const unsigned char *)"", in.len,
                      sodium_variant(v, v != SX_B64_URL_NOPAD));
    return SX_OK;
}

sx_status sx_b64_decode(const char *text, size_t len, sx_b64_variant v, uint8_t *out, size_t cap,
                        size_t *out_len)
{
    *out_len = 0;
    SX_ENSURE(text, SX_E_USAGE);
    /* Strip the optional padding, at most two characters, then decode the
     * rest strictly so that no stray character is ignored. */
    size_t n = len;
    while (n > 0 && len - n < 2 && text[n - 1] == '=')
        n--;
    SX_ENSURE(n > 0, SX_E_PROTOCOL);
    /* libsodium 1.0.18 decodes bytes >= 0x80 as digits: check the alphabet
     * here so that no stray byte is ever accepted. */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        bool digit = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        bool extra = v == SX_B64_STD ? (c == '+' || c == '/') : (c == '-' || c == '_');
        SX_ENSURE(digit || extra, SX_E_PROTOCOL);
    }
    const char *end = NULL;
    size_t got = 0;
    uint8_t dummy;
    errno = 0;
    if (sodium_base642bin(cap ? out : &dummy, cap, text, n, NULL, &got, &end,
                          sodium_variant(v, false)) != 0)
        return errno == ERANGE ? SX_E_LIMIT : SX_E_PROTOCOL;
    SX_ENSURE(end == text + n, SX_E_PROTOCOL);
    *out_len = got;
    return SX_OK;
}
