/* XSalsa20-Poly1305 secret box (NaCl crypto_secretbox, detached: the 16-byte
 * tag apart from the ciphertext), byte for byte what libsodium's
 * crypto_secretbox_detached / _open_detached compute. The stream is
 * libsodium's XSalsa20; for longer messages the Poly1305 tag comes from
 * OpenSSL's EVP_MAC "POLY1305", whose vector code is several times faster than
 * libsodium's on CPUs with AVX-512 or AVX2. Short messages stay with libsodium,
 * where OpenSSL's per-call set-up would cost more than it saves.
 *
 * Used by crypto/box.c for every box and so for every transport block
 * (PROTOCOL-NOTES A34, B33). Thread-safe. */
#ifndef SX_CRYPTO_SECRETBOX_H
#define SX_CRYPTO_SECRETBOX_H

#include "simplex/status.h"

#include <stddef.h>
#include <stdint.h>

#define SX_SECRETBOX_KEY_LEN   32
#define SX_SECRETBOX_NONCE_LEN 24
#define SX_SECRETBOX_TAG_LEN   16

/* Messages of at least this many bytes take OpenSSL's Poly1305. */
#define SX_SECRETBOX_OSSL_MIN 1024

/* Encrypts mlen bytes of m into c (mlen bytes) and writes the tag. m and c may
 * be the same buffer or overlap in any way; tag must not overlap c but may
 * overlap m (it is written last).
 * SX_E_INTERNAL when a library call fails (c and tag are wiped then). */
SX_MUST_CHECK sx_status sx_secretbox_seal(uint8_t tag[SX_SECRETBOX_TAG_LEN], uint8_t *c,
                                          const uint8_t *m, size_t mlen,
                                          const uint8_t nonce[SX_SECRETBOX_NONCE_LEN],
                                          const uint8_t key[SX_SECRETBOX_KEY_LEN]);

/* Checks tag over the clen bytes of c (in constant time) and only then
 * decrypts them into m. m and c may be the same buffer or overlap in any way;
 * m may overlap tag (tag is read first).
 * SX_E_AUTH when the tag does not match (m is untouched then), SX_E_INTERNAL
 * when a library call fails. */
SX_MUST_CHECK sx_status sx_secretbox_open(uint8_t *m, const uint8_t *c, size_t clen,
                                          const uint8_t tag[SX_SECRETBOX_TAG_LEN],
                                          const uint8_t nonce[SX_SECRETBOX_NONCE_LEN],
                                          const uint8_t key[SX_SECRETBOX_KEY_LEN]);

/* The same two with OpenSSL's Poly1305 whatever the length (SX_E_INTERNAL when
 * this OpenSSL has none), and with libsodium's whatever the length: for tests
 * and benchmarks. */
SX_MUST_CHECK sx_status sx_secretbox_seal_openssl(uint8_t tag[SX_SECRETBOX_TAG_LEN], uint8_t *c,
                                                  const uint8_t *m, size_t mlen,
                                                  const uint8_t nonce[SX_SECRETBOX_NONCE_LEN],
                                                  const uint8_t key[SX_SECRETBOX_KEY_LEN]);
SX_MUST_CHECK sx_status sx_secretbox_open_openssl(uint8_t *m, const uint8_t *c, size_t clen,
                                                  const uint8_t tag[SX_SECRETBOX_TAG_LEN],
                                                  const uint8_t nonce[SX_SECRETBOX_NONCE_LEN],
                                                  const uint8_t key[SX_SECRETBOX_KEY_LEN]);
SX_MUST_CHECK sx_status sx_secretbox_seal_sodium(uint8_t tag[SX_SECRETBOX_TAG_LEN], uint8_t *c,
                                                 const uint8_t *m, size_t mlen,
                                                 const uint8_t nonce[SX_SECRETBOX_NONCE_LEN],
                                                 const uint8_t key[SX_SECRETBOX_KEY_LEN]);
SX_MUST_CHECK sx_status sx_secretbox_open_sodium(uint8_t *m, const uint8_t *c, size_t clen,
                                                 const uint8_t tag[SX_SECRETBOX_TAG_LEN],
                                                 const uint8_t nonce[SX_SECRETBOX_NONCE_LEN],
                                                 const uint8_t key[SX_SECRETBOX_KEY_LEN]);

#endif
