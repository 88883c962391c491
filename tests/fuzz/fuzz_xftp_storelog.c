/* Fuzz target: XFTP store-log lines (PROTOCOL-NOTES F27). The input is split
 * into lines; each is parsed, and what parses must re-encode to a line that
 * parses again and encodes to the same text (the encoding is canonical). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "xftp_router/flog.h"

static void check_line(sx_slice line)
{
    sx_xftp_flog_rec r;
    if (sx_xftp_flog_parse(line, &r) != SX_OK)
        return;
    sx_writer w1, w2;
    sx_writer_init_dynamic(&w1, 4 * SX_XFTP_FLOG_LINE_MAX);
    sx_writer_init_dynamic(&w2, 4 * SX_XFTP_FLOG_LINE_MAX);
    if (!sx_xftp_flog_encode(&w1, &r))
        __builtin_trap();
    sx_xftp_flog_rec again;
    if (sx_xftp_flog_parse(sx_writer_slice(&w1), &again) != SX_OK)
        __builtin_trap();
    if (!sx_xftp_flog_encode(&w2, &again) || !sx_slice_eq(sx_writer_slice(&w1), sx_writer_slice(&w2)))
        __builtin_trap();
    if (again.type != r.type || memcmp(again.id, r.id, sizeof r.id) != 0 || again.n_rcps != r.n_rcps)
        __builtin_trap();
    sx_xftp_flog_cleanup(&again);
    sx_writer_cleanup(&w1);
    sx_writer_cleanup(&w2);
    sx_xftp_flog_cleanup(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t start = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i == size || data[i] == '\n') {
            check_line(sx_slice_of(data + start, i - start));
            start = i + 1;
        }
    }
    return 0;
}
