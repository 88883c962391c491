/* Fuzz target: the payloads of 2-hop routing (PROTOCOL-NOTES D31-D37). The
 * first input byte chooses what the rest is: 0 the RFWD plaintext, 1 the
 * RRES plaintext (both must encode back to the same bytes), 2 the content
 * of a sealed batch (sealed with a fixed key, it must open to one
 * transmission or be refused), 3 the parameters of a PKEY, decoded and
 * checked as a client checks it against a fixed identity. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "crypto/box.h"
#include "crypto/x509.h"
#include "smp/proxy.h"
#include "smp/response.h"
#include "smp_client/smp_proxy.h"

static uint8_t out[1 << 17];
static uint8_t box[SX_SMP_PROXIED_BOX_LEN], opened[SX_SMP_PROXIED_BOX_LEN];

static void same_encoding(sx_slice in, bool ok, sx_writer *w)
{
    if (ok && !sx_slice_eq(sx_writer_slice(w), in))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    sx_slice in = sx_slice_of(data + 1, size - 1);
    sx_writer w;
    sx_writer_init_fixed(&w, out, sizeof out);
    switch (data[0] % 4) {
    case 0: {
        sx_smp_fwd_t f;
        if (sx_smp_fwd_t_decode(in, &f) == SX_OK)
            same_encoding(in, sx_smp_fwd_t_write(&w, &f), &w);
        break;
    }
    case 1: {
        sx_smp_fwd_resp f;
        if (sx_smp_fwd_resp_decode(in, &f) == SX_OK)
            same_encoding(in, sx_smp_fwd_resp_write(&w, &f), &w);
        break;
    }
    case 2: {
        uint8_t secret[32] = {1}, nonce[24] = {2};
        if (sx_cb_encrypt_padded(secret, nonce, in, SX_SMP_PROXIED_T_LEN, box, sizeof box) != SX_OK)
            break;
        sx_slice t;
        sx_status st = sx_smp_proxied_open(secret, nonce, sx_slice_of(box, sizeof box), opened, sizeof opened, &t);
        if (st == SX_OK && (t.len + 3 != in.len || !sx_slice_eq(t, sx_slice_of(in.ptr + 3, in.len - 3))))
            __builtin_trap();
        if (st != SX_OK && st != SX_E_PROTOCOL)
            __builtin_trap();
        break;
    }
    default: {
        if (!sx_write_str(&w, "PKEY ") || !sx_write_slice(&w, in))
            break;
        sx_smp_resp m;
        sx_smp_cmd_err err;
        if (sx_smp_resp_decode(sx_writer_slice(&w), 17, &m, &err) != SX_OK || m.tag != SX_SMP_R_PKEY)
            break;
        uint8_t fp[SX_FINGERPRINT_LEN] = {0};
        if (m.pkey.chain.count >= 2) {
            /* The identity of the 2nd certificate, so that the checks go on. */
            sx_slice der;
            if (sx_smp_list_get(&m.pkey.chain, SX_SMP_ITEM_LARGE, 1, &der) != SX_OK ||
                sx_x509_fingerprint_der(der, fp) != SX_OK)
                memset(fp, 0, sizeof fp);
        }
        sx_smp_relay_session rs;
        if (sx_smp_pkey_check(&m, fp, (sx_version_range){6, 19}, &rs) == SX_OK)
            sx_smp_relay_session_cleanup(&rs);
        break;
    }
    }
    return 0;
}
