/* Fuzz target: one line of the NTF store log (src/ntf_router/slrec.h), as
 * read back at start from a file an operator may bring from elsewhere.
 * Whatever parses must write again, and what it writes must parse to a
 * record that writes the same line. The same input is also read as a line
 * of the last-notifications file (sx_ntf_sl_last_parse). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ntf_router/slrec.h"

static sx_ntf_sl_rec a, b;
static sx_ntf_sl_last last;
static uint8_t out1[8192], out2[8192];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    /* a line of ntf-server-last-notifications.log: read, bounds held */
    if (sx_ntf_sl_last_parse(sx_slice_of(data, size), &last) == SX_OK &&
        (last.meta_len > sizeof last.meta || last.token_id.len == 0 || last.notifier_id.len == 0))
        __builtin_trap();
    if (sx_ntf_sl_parse(sx_slice_of(data, size), &a) != SX_OK)
        return 0;
    sx_writer w;
    sx_writer_init_fixed(&w, out1, sizeof out1);
    if (!sx_ntf_sl_write(&w, &a))
        __builtin_trap();
    sx_slice first = sx_writer_slice(&w);
    if (sx_ntf_sl_parse(first, &b) != SX_OK || b.kind != a.kind)
        __builtin_trap();
    sx_writer_init_fixed(&w, out2, sizeof out2);
    if (!sx_ntf_sl_write(&w, &b) || !sx_slice_eq(sx_writer_slice(&w), first))
        __builtin_trap();
    return 0;
}
