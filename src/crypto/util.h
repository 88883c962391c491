/* Small crypto helpers every other module uses: library start-up, random
 * bytes from the operating system's CSPRNG, constant-time comparison and
 * wiping of secrets. */
#ifndef SX_CRYPTO_UTIL_H
#define SX_CRYPTO_UTIL_H

#include "core/bytes.h"
#include "simplex/status.h"

/* Initialises libsodium (CPU feature detection, random source). Idempotent
 * and safe to call from any thread; every wrapper in src/crypto that uses
 * libsodium calls it itself, so callers need not, but a program may call it
 * once at start-up to fail early. SX_E_INTERNAL if libsodium cannot start. */
SX_MUST_CHECK sx_status sx_crypto_init(void);

/* Fills buf with n bytes from the CSPRNG (libsodium randombytes_buf). Cannot
 * fail: libsodium aborts the process if the system has no random source.
 * Thread-safe. */
void sx_random_bytes(void *buf, size_t n);

/* True when a and b hold the same bytes. The time taken depends only on the
 * lengths (which are treated as public), never on the contents, so it is safe
 * for MACs, authenticators and keys. Slices of different lengths are unequal. */
bool sx_ct_equal(sx_slice a, sx_slice b);

/* Overwrites n bytes at p with zeros in a way the compiler cannot remove.
 * Accepts p == NULL when n == 0. */
void sx_wipe(void *p, size_t n);

#endif
