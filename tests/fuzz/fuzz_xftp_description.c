/* Fuzz target: XFTP file description YAML (PROTOCOL-NOTES F30-F33). Whatever
 * parses must print, the printed text must parse, and printing that gives the
 * same text again. */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "xftp/description.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sx_xftp_fd fd, back;
    if (sx_xftp_fd_parse((const char *)data, size, &fd) != SX_OK)
        return 0;
    char *out = NULL, *out2 = NULL;
    size_t len, len2;
    if (sx_xftp_fd_validate(&fd) != SX_OK || sx_xftp_fd_print(&fd, &out, &len) != SX_OK)
        __builtin_trap();
    if (sx_xftp_fd_parse(out, len, &back) != SX_OK)
        __builtin_trap();
    if (back.size != fd.size || back.chunk_count != fd.chunk_count ||
        memcmp(back.key, fd.key, sizeof fd.key) != 0)
        __builtin_trap();
    if (sx_xftp_fd_print(&back, &out2, &len2) != SX_OK)
        __builtin_trap();
    /* printing regroups replicas, so only the second print must be a fixpoint */
    sx_xftp_fd third;
    char *out3 = NULL;
    size_t len3;
    if (sx_xftp_fd_parse(out2, len2, &third) != SX_OK ||
        sx_xftp_fd_print(&third, &out3, &len3) != SX_OK || len3 != len2 ||
        memcmp(out2, out3, len2) != 0)
        __builtin_trap();
    free(out);
    free(out2);
    free(out3);
    sx_xftp_fd_cleanup(&third);
    sx_xftp_fd_cleanup(&back);
    sx_xftp_fd_cleanup(&fd);
    return 0;
}
