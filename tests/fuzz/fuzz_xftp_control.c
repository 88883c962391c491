/* Fuzz target: XFTP control-port command lines (xs_cp_parse). The input is
 * split into lines as the control port splits them; each parses to one
 * command whose fields stay inside the line, and a parsed delete / block id
 * re-encoded as base64url parses back to the same id. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/base64.h"
#include "xftp_router/server_control.h"

static void check_line(const char *line, size_t len)
{
    static xs_cp_cmd cmd, again;
    xs_cp_parse(line, len, &cmd);
    switch (cmd.kind) {
    case XS_CP_ERROR:
        if (!cmd.error || !cmd.error[0])
            __builtin_trap();
        break;
    case XS_CP_AUTH:
        if (cmd.loggable || cmd.password.len == 0 || (const char *)cmd.password.ptr < line ||
            (const char *)cmd.password.ptr + cmd.password.len != line + len ||
            memchr(cmd.password.ptr, ' ', cmd.password.len) || memchr(cmd.password.ptr, '@', cmd.password.len))
            __builtin_trap();
        break;
    case XS_CP_DELETE:
    case XS_CP_BLOCK: {
        if (!cmd.loggable || cmd.id_len == 0 || cmd.id_len > sizeof cmd.id)
            __builtin_trap();
        static char text[XS_CP_LINE_MAX * 2];
        memcpy(text, "delete ", 7);
        if (sx_b64_encode(sx_slice_of(cmd.id, cmd.id_len), SX_B64_URL, text + 7, sizeof text - 7) != SX_OK)
            __builtin_trap();
        xs_cp_parse(text, strlen(text), &again);
        if (again.kind != XS_CP_DELETE || again.id_len != cmd.id_len || memcmp(again.id, cmd.id, cmd.id_len) != 0)
            __builtin_trap();
        break;
    }
    case XS_CP_EMPTY:
    case XS_CP_STATS_RTS:
    case XS_CP_HELP:
    case XS_CP_QUIT:
        break;
    default:
        __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    size_t start = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i < size && p[i] != '\n')
            continue;
        size_t end = i;
        if (end > start && p[end - 1] == '\r')
            end--;
        check_line(p + start, end - start);
        start = i + 1;
    }
    return 0;
}
