/* Crypto start-up, CSPRNG, constant-time compare and secure wipe. libsodium
 * provides all four; the one-time initialisation goes through pthread_once so
 * the result of the first sodium_init() is shared by every thread. */
#include "crypto/util.h"

#include <pthread.h>
#include <sodium.h>

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_result = -1;

static void init_sodium(void)
{
    /* sodium_init returns 0 on first success and 1 if already initialised. */
    init_result = sodium_init() < 0 ? -1 : 0;
}

sx_status sx_crypto_init(void)
{
    if (pthread_once(&init_once, init_sodium) != 0)
        return SX_E_INTERNAL;
    return init_result == 0 ? SX_OK : SX_E_INTERNAL;
}

void sx_random_bytes(void *buf, size_t n)
{
    if (n == 0)
        return;
    /* Start libsodium first so that its random source is set up once under
     * pthread_once rather than lazily by racing threads. If that failed,
     * randombytes_buf still reads the operating system's source. */
    sx_status st = sx_crypto_init();
    (void)st;
    randombytes_buf(buf, n);
}

bool sx_ct_equal(sx_slice a, sx_slice b)
{
    if (a.len != b.len)
        return false;
    if (a.len == 0)
        return true;
    return sodium_memcmp(a.ptr, b.ptr, a.len) == 0;
}

void sx_wipe(void *p, size_t n)
{
    if (p == NULL || n == 0)
        return;
    sodium_memzero(p, n);
}
