/* Fuzz target: what the NTF router reads from APNS (an error body) and what
 * the APNS stand-in reads from the router (a provider token),
 * src/ntf_router/apns_wire.h. The first byte picks the parser. A reason read
 * must be printable and short; a token read must have its parts inside the
 * input. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ntf_router/apns_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 8192)
        return 0;
    sx_slice in = sx_slice_of(data + 1, size - 1);
    if (data[0] & 1) {
        char reason[SX_NTF_APNS_REASON_MAX];
        if (sx_ntf_apns_reason_parse(in, reason, sizeof reason) == SX_OK) {
            size_t n = strlen(reason);
            if (n >= SX_NTF_APNS_REASON_MAX)
                __builtin_trap();
            for (size_t i = 0; i < n; i++)
                if (reason[i] < 0x20 || reason[i] > 0x7e)
                    __builtin_trap();
        }
    } else {
        static sx_ntf_apns_jwt_parts p;
        if (sx_ntf_apns_jwt_parse(in, &p) == SX_OK) {
            if (p.signed_part.ptr != in.ptr || p.signed_part.len >= in.len || p.sig_len > sizeof p.sig ||
                strlen(p.kid) >= sizeof p.kid || p.iat < 0)
                __builtin_trap();
        }
    }
    return 0;
}
