/* Text forms of bytes (PROTOCOL-NOTES A23, P12): base64url with '=' padding on
 * output and lenient input (padding optional), plus standard base64 for the
 * few places the reference uses it. Built on libsodium's codecs. */
#ifndef SX_CORE_BASE64_H
#define SX_CORE_BASE64_H

#include "core/bytes.h"
#include "simplex/status.h"

typedef enum sx_b64_variant {
    SX_B64_URL,        /* PROTOCOL-NOTES A23: base64url, padded on output */
    SX_B64_URL_NOPAD,  /* APNS JWT */
    SX_B64_STD,        /* standard alphabet, padded (PROTOCOL-NOTES C12 literals, JSON) */
} sx_b64_variant;

/* Length of the encoding of n bytes, including the terminating NUL. */
size_t sx_b64_encoded_size(size_t n, sx_b64_variant v);
/* Writes the encoding of in into out without a NUL and returns its length,
 * sx_b64_encoded_size(in.len, v) - 1; out must have room for that many
 * characters (the caller checks). For encoding straight into a writer. */
size_t sx_b64_encode_text(sx_slice in, sx_b64_variant v, char *out);
/* Writes the NUL-terminated encoding of in into out (cap bytes). */
SX_MUST_CHECK sx_status sx_b64_encode(sx_slice in, sx_b64_variant v, char *out, size_t cap);
/* Decodes text (exactly len chars, no NUL needed) into out (cap bytes).
 * Accepts the variant's alphabet with or without trailing '=' padding; the
 * input must have at least one character. Anything else is SX_E_PROTOCOL;
 * output larger than cap is SX_E_LIMIT. */
SX_MUST_CHECK sx_status sx_b64_decode(const char *text, size_t len, sx_b64_variant v,
                                      uint8_t *out, size_t cap, size_t *out_len);
/* The same two through libsodium (sodium_bin2base64, sodium_base642bin):
 * the reference the differential tests compare ours with. */
SX_MUST_CHECK sx_status sx_b64_encode_sodium(sx_slice in, sx_b64_variant v, char *out, size_t cap);
SX_MUST_CHECK sx_status sx_b64_decode_sodium(const char *text, size_t len, sx_b64_variant v,
                                             uint8_t *out, size_t cap, size_t *out_len);

#endif
