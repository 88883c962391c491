/* Fuzz target: a router transmission as the client receives it (PROTOCOL-NOTES
 * D.1-D.7, C19). The first input byte chooses the SMP version (6 + b % 14), the
 * rest is one batch item. A decoded message must encode again, and decoding
 * that encoding must give the same encoding (old-version downgrades and dropped
 * error details make the first encoding differ from the input). The rest is
 * also decoded as a bare ErrorType. */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "smp/response.h"
#include "smp/version.h"

#define SESSION_BYTE 0x11

static uint8_t out1[1 << 17], out2[1 << 17];

static sx_slice encode_resp(const sx_smp_resp *m, uint16_t v, uint8_t *buf)
{
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof out1);
    sx_smp_resp_write(&w, v, m);
    if (sx_writer_status(&w) != SX_OK)
        __builtin_trap();
    return sx_writer_slice(&w);
}

static void check_resp(sx_slice bytes, uint16_t v, const sx_smp_resp *m)
{
    if (bytes.len > sizeof out1 / 2)
        return;
    sx_slice e1 = encode_resp(m, v, out1);
    sx_smp_resp d;
    sx_smp_cmd_err err;
    if (sx_smp_resp_decode(e1, v, &d, &err) != SX_OK)
        __builtin_trap();
    sx_slice e2 = encode_resp(&d, v, out2);
    if (!sx_slice_eq(e1, e2))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint16_t v = (uint16_t)(SX_SMP_VERSION_MIN + data[0] % 14);
    sx_slice in = sx_slice_of(data + 1, size - 1);
    uint8_t sid[32];
    memset(sid, SESSION_BYTE, sizeof sid);

    sx_smp_reply r;
    sx_status st = sx_smp_reply_decode(in, v, sx_slice_of(sid, sizeof sid), &r);
    if (st == SX_OK) {
        check_resp(r.t.command, v, &r.resp);
    } else if (st != SX_E_PROTOCOL || r.err.type == 0) {
        __builtin_trap();
    }

    sx_smp_resp m;
    sx_smp_cmd_err err;
    if (sx_smp_resp_decode(in, v, &m, &err) == SX_OK)
        check_resp(in, v, &m);

    sx_smp_error e;
    if (sx_smp_error_decode(in, &e) == SX_OK) {
        sx_smp_resp em = {.tag = SX_SMP_R_ERR, .err = e};
        sx_slice enc = encode_resp(&em, SX_SMP_VERSION_CURRENT, out1);
        /* At the current version nothing is downgraded: the bytes after
         * "ERR " decode again to the same encoding. */
        sx_smp_error again;
        if (enc.len < 4 || sx_smp_error_decode(sx_slice_of(enc.ptr + 4, enc.len - 4), &again) != SX_OK)
            __builtin_trap();
    }
    return 0;
}
