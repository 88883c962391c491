/* Fuzz target: the state file of an unfinished `xftp send`
 * (xftp_client/transfer_state.h), read back from disk on a re-run. Any input
 * either is refused or parses to a state that prints to a text which parses
 * again and prints to the very same text. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xftp_client/transfer_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sx_xftp_send_state s, s2;
    if (sx_xftp_state_parse((const char *)data, size, &s) != SX_OK)
        return 0;
    char *text = NULL, *again = NULL;
    size_t len = 0, len2 = 0;
    if (sx_xftp_state_print(&s, &text, &len) != SX_OK)
        __builtin_trap();
    if (sx_xftp_state_parse(text, len, &s2) != SX_OK)
        __builtin_trap();
    if (sx_xftp_state_print(&s2, &again, &len2) != SX_OK || len != len2 || memcmp(text, again, len) != 0)
        __builtin_trap();
    free(text);
    free(again);
    sx_xftp_state_cleanup(&s);
    sx_xftp_state_cleanup(&s2);
    return 0;
}
