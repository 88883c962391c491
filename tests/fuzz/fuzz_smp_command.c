/* Fuzz target: a client transmission as the router receives it (PROTOCOL-NOTES
 * C.1-C.3, D.0-D.6). The first input byte chooses the SMP version (6 + b % 14),
 * the rest is one batch item. Whatever decodes must re-encode: the transmission
 * to exactly the input, the command to exactly its bytes (SEND may drop
 * extra flag characters), and a second decode/encode must be stable. */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "smp/address.h"
#include "smp/command.h"
#include "smp/version.h"

#define SESSION_BYTE 0x11 /* the seeds' v6 session id: 32 bytes of 0x11 */

static uint8_t out1[1 << 17], out2[1 << 17];

static void check_within(sx_slice s, const uint8_t *base, size_t size)
{
    if (s.len && (s.ptr < base || s.ptr + s.len > base + size))
        __builtin_trap();
}

static sx_slice encode_cmd(const sx_smp_cmd *c, uint16_t v, uint8_t *buf)
{
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof out1);
    sx_smp_cmd_write(&w, v, c);
    if (sx_writer_status(&w) != SX_OK)
        __builtin_trap(); /* every decoded command must encode */
    return sx_writer_slice(&w);
}

static void check_command(sx_slice bytes, uint16_t v, const sx_smp_cmd *c)
{
    if (bytes.len > sizeof out1 / 2)
        return;
    sx_slice e1 = encode_cmd(c, v, out1);
    if (c->tag != SX_SMP_C_SEND && !sx_slice_eq(e1, bytes))
        __builtin_trap();
    if (e1.len > bytes.len)
        __builtin_trap();
    sx_smp_cmd d;
    sx_smp_cmd_err err;
    if (sx_smp_cmd_decode(e1, v, &d, &err) != SX_OK || d.tag != c->tag)
        __builtin_trap();
    sx_slice e2 = encode_cmd(&d, v, out2);
    if (!sx_slice_eq(e1, e2))
        __builtin_trap();
}

/* A PRXY's destination as the router keys its relays
 * (sx_server_address_from_wire): refused as protocol or limit, or an smp://
 * address of every host in order that equals itself. */
static void check_prxy_server(const sx_smp_server *srv)
{
    static sx_server_address a;
    sx_status st = sx_server_address_from_wire(srv, &a);
    if (st != SX_OK) {
        if (st != SX_E_PROTOCOL && st != SX_E_LIMIT)
            __builtin_trap();
        return;
    }
    if (a.scheme != SX_SERVER_SMP || a.host_count != srv->hosts.count || a.port_len != srv->port.len ||
        sx_server_address_compare(&a, &a) != 0 || !sx_server_address_share_host(&a, &a))
        __builtin_trap();
    for (size_t i = 0; i < a.host_count; i++)
        if (!sx_server_address_host_eq(&a, i, &a, i))
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

    sx_smp_request req;
    sx_status st = sx_smp_request_decode(in, v, sx_slice_of(sid, sizeof sid), &req);
    if (st == SX_OK) {
        check_within(req.t.command, in.ptr, in.len);
        check_within(req.t.entity_id, in.ptr, in.len);
        if (req.err.type != 0)
            __builtin_trap();
        /* the transmission layout is canonical */
        if (in.len <= sizeof out1) {
            sx_writer w;
            sx_writer_init_fixed(&w, out1, sizeof out1);
            if (!sx_smp_transmission_write(&w, v, &req.t) || !sx_slice_eq(sx_writer_slice(&w), in))
                __builtin_trap();
        }
        sx_smp_cmd_err ce;
        if (sx_smp_check_credentials(req.cmd.tag, req.t.auth.len > 0, req.t.entity_id.len == 0,
                                     &ce) != SX_OK)
            __builtin_trap();
        check_command(req.t.command, v, &req.cmd);
    } else {
        if (st != SX_E_PROTOCOL || req.err.type == 0)
            __builtin_trap();
        check_within(req.reply_corr_id, in.ptr, in.len);
    }

    /* The same bytes as a bare command. */
    sx_smp_cmd c;
    sx_smp_cmd_err err;
    if (sx_smp_cmd_decode(in, v, &c, &err) == SX_OK) {
        check_command(in, v, &c);
        if (c.tag == SX_SMP_C_PRXY)
            check_prxy_server(&c.prxy.server);
    } else if (err != SX_SMP_CMD_UNKNOWN && err != SX_SMP_CMD_SYNTAX)
        __builtin_trap();
    return 0;
}
