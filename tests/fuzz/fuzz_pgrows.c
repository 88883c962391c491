/* Fuzz target: the column decoders of the PostgreSQL queue store
 * (smp_router/pgqueues.h) on rows from the database, which are trusted but
 * checked. The first byte picks recipient_keys or service_cert, the rest is
 * the column's value; what decodes must encode back to the same bytes. */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "smp_router/pgqueues.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    sx_slice v = sx_slice_of(data + 1, size - 1);
    if (data[0] & 1) {
        sx_slice certs[SX_SL_CERTS_MAX];
        uint8_t n = 0;
        if (sx_pgq_decode_certs(v, certs, &n) == SX_OK) {
            uint8_t *out = malloc(v.len + 1);
            size_t len = 0;
            if (!out || sx_pgq_encode_certs(certs, n, out, v.len + 1, &len) != SX_OK || len != v.len ||
                memcmp(out, v.ptr, len) != 0)
                __builtin_trap();
            free(out);
        }
    } else {
        sx_qkey keys[SX_MAX_RCV_KEYS];
        uint8_t n = 0;
        if (sx_pgq_decode_rkeys(v, keys, &n) == SX_OK) {
            uint8_t out[1 + SX_MAX_RCV_KEYS * (1 + SX_KEY_SPKI_MAX)];
            size_t len = 0;
            /* keys are kept as algorithm and raw bytes: their DER is canonical */
            if (sx_pgq_encode_rkeys(keys, n, out, sizeof out, &len) != SX_OK || len != v.len ||
                memcmp(out, v.ptr, len) != 0)
                __builtin_trap();
        }
    }
    return 0;
}
