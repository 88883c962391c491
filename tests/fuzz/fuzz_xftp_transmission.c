/* Fuzz target: XFTP transmissions as the router and the client receive them
 * (PROTOCOL-NOTES F.3, F.4) and the hello messages (PROTOCOL-NOTES F.2). The
 * first byte picks the version (1 + b % 3), the rest is one transmission.
 * Whatever decodes must encode again: the transmission and every command to
 * exactly the input bytes, a response to bytes that decode to the same
 * encoding. */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "xftp/protocol.h"

#define SESSION_BYTE 0x11 /* the seeds' session id: 32 bytes of 0x11 */

static uint8_t out1[SX_XFTP_BLOCK_SIZE * 2], out2[SX_XFTP_BLOCK_SIZE * 2];

static void check_within(sx_slice s, sx_slice in)
{
    if (s.len && (s.ptr < in.ptr || s.ptr + s.len > in.ptr + in.len))
        __builtin_trap();
}

static sx_slice enc_resp(const sx_xftp_resp *r, uint16_t v, uint8_t *buf)
{
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof out1);
    sx_xftp_resp_write(&w, v, r);
    if (sx_writer_status(&w) != SX_OK)
        __builtin_trap();
    return sx_writer_slice(&w);
}

static void check_cmd(sx_slice bytes, uint16_t v)
{
    sx_xftp_cmd c;
    sx_smp_cmd_err err;
    if (sx_xftp_cmd_decode(bytes, v, &c, &err) != SX_OK) {
        if (err != SX_SMP_CMD_UNKNOWN && err != SX_SMP_CMD_SYNTAX)
            __builtin_trap();
        return;
    }
    sx_writer w;
    sx_writer_init_fixed(&w, out1, sizeof out1);
    if (!sx_xftp_cmd_write(&w, v, &c) || !sx_slice_eq(sx_writer_slice(&w), bytes))
        __builtin_trap();
}

static void check_resp(sx_slice bytes, uint16_t v)
{
    sx_xftp_resp r, d;
    sx_smp_cmd_err err;
    if (sx_xftp_resp_decode(bytes, v, &r, &err) != SX_OK)
        return;
    sx_slice e1 = enc_resp(&r, v, out1);
    if (sx_xftp_resp_decode(e1, v, &d, &err) != SX_OK || d.tag != r.tag)
        __builtin_trap();
    sx_slice e2 = enc_resp(&d, v, out2);
    if (!sx_slice_eq(e1, e2))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > SX_XFTP_BLOCK_SIZE)
        return 0;
    uint16_t v = (uint16_t)(SX_XFTP_VERSION_MIN + data[0] % 3);
    sx_slice in = sx_slice_of(data + 1, size - 1);
    uint8_t sid[32];
    memset(sid, SESSION_BYTE, sizeof sid);
    sx_slice session = sx_slice_of(sid, sizeof sid);

    sx_xftp_request req;
    if (sx_xftp_request_decode(in, v, session, &req) == SX_OK) {
        check_within(req.t.command, in);
        sx_writer w;
        sx_writer_init_fixed(&w, out1, sizeof out1);
        if (!sx_xftp_transmission_write(&w, &req.t) || !sx_slice_eq(sx_writer_slice(&w), in))
            __builtin_trap();
        sx_smp_cmd_err ce;
        if (sx_xftp_check_credentials(req.cmd.tag, req.t.auth.len > 0, req.t.entity_id.len == 0,
                                      &ce) != SX_OK)
            __builtin_trap();
    } else if (req.err.type == 0) {
        __builtin_trap();
    }

    sx_xftp_reply rep;
    if (sx_xftp_reply_decode(in, v, session, &rep) == SX_OK)
        check_resp(rep.t.command, v);
    else if (rep.err.type == 0)
        __builtin_trap();

    /* the same bytes as a bare command and a bare response */
    check_cmd(in, v);
    check_resp(in, v);

    /* a whole block, when the input has the size of one */
    sx_slice t;
    if (in.len == SX_XFTP_BLOCK_SIZE && sx_xftp_block_decode(in, &t) == SX_OK)
        check_within(t, in);

    /* hellos */
    sx_xftp_server_hello sh;
    if (sx_xftp_server_hello_decode(in, &sh) == SX_OK) {
        check_within(sh.cert_key.signed_key, in);
        sx_writer w;
        sx_writer_init_fixed(&w, out1, sizeof out1);
        if (!sx_xftp_server_hello_write(&w, &sh) || w.len > in.len ||
            memcmp(out1, in.ptr, w.len) != 0)
            __builtin_trap();
    }
    sx_xftp_client_hello ch;
    if (sx_xftp_client_hello_decode(in, &ch) == SX_OK) {
        sx_writer w;
        sx_writer_init_fixed(&w, out1, sizeof out1);
        if (!sx_xftp_client_hello_write(&w, &ch))
            __builtin_trap();
    }
    sx_xftp_client_handshake hs;
    if (sx_xftp_client_handshake_decode(in, &hs) == SX_OK) {
        sx_writer w;
        sx_writer_init_fixed(&w, out1, sizeof out1);
        if (!sx_xftp_client_handshake_write(&w, &hs) || memcmp(out1, in.ptr, w.len) != 0)
            __builtin_trap();
    }
    return 0;
}
