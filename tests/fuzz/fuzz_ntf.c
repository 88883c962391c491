/* Fuzz target: NTF bytes from peers (PROTOCOL-NOTES G.1, G.2): transmissions
 * as the router and the client receive them, bare commands and responses,
 * block content split into a batch, and the two hellos. The first byte picks
 * the version (1 + b % 3), the rest is the input. Whatever decodes must
 * encode again: a transmission and a command to exactly the input bytes, a
 * response to bytes that decode to the same encoding (a TKN reason is dropped
 * before v3), a hello to a prefix of the input. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ntf/protocol.h"

#define SESSION_BYTE 0x11 /* the seeds' session id: 32 bytes of 0x11 */

static uint8_t out1[SX_NTF_BLOCK_SIZE * 4], out2[SX_NTF_BLOCK_SIZE * 4];

static void check_within(sx_slice s, sx_slice in)
{
    if (s.len && (s.ptr < in.ptr || s.ptr + s.len > in.ptr + in.len))
        __builtin_trap();
}

static sx_slice enc_resp(const sx_ntf_resp *r, uint16_t v, uint8_t *buf)
{
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof out1);
    if (!sx_ntf_resp_write(&w, v, r))
        __builtin_trap();
    return sx_writer_slice(&w);
}

static void check_cmd(sx_slice bytes, uint16_t v)
{
    sx_ntf_cmd c;
    sx_smp_cmd_err err;
    sx_status st = sx_ntf_cmd_decode(bytes, v, &c, &err);
    if (st != SX_OK) {
        if (st != SX_E_NOMEM && err != SX_SMP_CMD_UNKNOWN && err != SX_SMP_CMD_SYNTAX)
            __builtin_trap();
        return;
    }
    sx_writer w;
    sx_writer_init_fixed(&w, out1, sizeof out1);
    if (!sx_ntf_cmd_write(&w, v, &c) || !sx_slice_eq(sx_writer_slice(&w), bytes))
        __builtin_trap();
}

static void check_resp(sx_slice bytes, uint16_t v)
{
    sx_ntf_resp r, d;
    sx_smp_cmd_err err;
    if (sx_ntf_resp_decode(bytes, v, &r, &err) != SX_OK)
        return;
    sx_slice e1 = enc_resp(&r, v, out1);
    if (sx_ntf_resp_decode(e1, v, &d, &err) != SX_OK || d.tag != r.tag)
        __builtin_trap();
    if (!sx_slice_eq(enc_resp(&d, v, out2), e1))
        __builtin_trap();
    if (v >= SX_NTF_V_INVALID_REASON && !sx_slice_eq(e1, bytes))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > SX_NTF_BLOCK_SIZE * 2)
        return 0;
    uint16_t v = (uint16_t)(SX_NTF_VERSION_MIN + data[0] % 3);
    sx_slice in = sx_slice_of(data + 1, size - 1);
    uint8_t sid[32];
    memset(sid, SESSION_BYTE, sizeof sid);
    sx_slice session = sx_slice_of(sid, sizeof sid);

    sx_ntf_request req;
    sx_status st = sx_ntf_request_decode(in, v, session, &req);
    if (st == SX_OK) {
        check_within(req.t.command, in);
        sx_writer w;
        sx_writer_init_fixed(&w, out1, sizeof out1);
        if (!sx_ntf_transmission_write(&w, v, &req.t) || !sx_slice_eq(sx_writer_slice(&w), in))
            __builtin_trap();
        sx_smp_cmd_err ce;
        if (sx_ntf_check_credentials(req.cmd.tag, req.t.auth.len > 0, req.t.entity_id.len == 0,
                                     &ce) != SX_OK)
            __builtin_trap();
    } else if (st != SX_E_NOMEM && req.err.type == 0) {
        __builtin_trap();
    }

    sx_ntf_reply rep;
    if (sx_ntf_reply_decode(in, v, session, &rep) == SX_OK)
        check_resp(rep.t.command, v);
    else if (rep.err.type == 0)
        __builtin_trap();

    check_cmd(in, v);
    check_resp(in, v);

    sx_slice items[SX_NTF_BATCH_MAX], content;
    size_t n = 0;
    if (sx_ntf_batch_split(in, v, items, SX_NTF_BATCH_MAX, &n) == SX_OK)
        for (size_t i = 0; i < n; i++)
            check_within(items[i], in);
    if (in.len == SX_NTF_BLOCK_SIZE && sx_ntf_block_decode(in, &content) == SX_OK)
        check_within(content, in);

    sx_ntf_server_hello sh;
    if (sx_ntf_server_hello_decode(in, &sh) == SX_OK) {
        sx_writer w;
        sx_writer_init_fixed(&w, out1, sizeof out1);
        if (!sx_ntf_server_hello_write(&w, &sh) || w.len > in.len ||
            memcmp(out1, in.ptr, w.len) != 0)
            __builtin_trap();
    }
    sx_ntf_client_hello ch;
    if (sx_ntf_client_hello_decode(in, &ch) == SX_OK) {
        sx_writer w;
        sx_writer_init_fixed(&w, out1, sizeof out1);
        if (!sx_ntf_client_hello_write(&w, &ch) || w.len > in.len ||
            memcmp(out1, in.ptr, w.len) != 0)
            __builtin_trap();
    }
    return 0;
}
