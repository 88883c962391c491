/* Fuzz target: the NTF router's statistics backup (ntf-server-stats.log),
 * as the router reads it at start (src/ntf_router/stats.h): the per-router
 * lines set aside, the rest through the kit's parser over the NTF spec.
 *
 * What parses must encode to a text that parses again and encodes the same
 * and make a daily line; what does not parse must leave every counter 0
 * and no per-router value. A per-router line counted once more for a host
 * must hold the host and still parse. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ntf_router/stats.h"

#define MONDAY_THE_1ST 1704067200 /* 2024-01-01 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sx_ntf_stats_data d, d2;
    size_t line = 0;
    sx_status st = sx_ntf_stats_parse((const char *)data, size, &d, &line);
    if (st != SX_OK) {
        for (int i = 0; i < SX_NTF_STAT_COUNT; i++)
            if (d.c[i] != 0)
                __builtin_trap();
        for (int i = 0; i < SX_NTF_STATS_OWN; i++)
            if (d.own[i][0])
                __builtin_trap();
        if (d.active_tokens.day.n || d.active_subs.month.n)
            __builtin_trap();
        return 0;
    }
    char *text = NULL, *again = NULL;
    size_t len = 0, len2 = 0;
    if (sx_ntf_stats_encode(&d, &text, &len) != SX_OK)
        __builtin_trap();
    if (sx_ntf_stats_parse(text, len, &d2, &line) != SX_OK)
        __builtin_trap();
    if (sx_ntf_stats_encode(&d2, &again, &len2) != SX_OK || len != len2 || memcmp(text, again, len) != 0)
        __builtin_trap();
    for (int k = 0; k < SX_NTF_STATS_OWN; k++) {
        if (!sx_ntf_own_line_inc(d2.own[k], sizeof d2.own[k], "m.example"))
            continue;
        if (!strstr(d2.own[k], "m.example "))
            __builtin_trap();
        char *counted = NULL;
        size_t cl = 0;
        if (sx_ntf_stats_encode(&d2, &counted, &cl) != SX_OK)
            __builtin_trap();
        sx_ntf_stats_data_cleanup(&d);
        if (sx_ntf_stats_parse(counted, cl, &d, &line) != SX_OK)
            __builtin_trap();
        free(counted);
    }
    char out[4096];
    if (sx_kit_stats_daily_line(sx_ntf_stats_spec(), &d2, MONDAY_THE_1ST, out, sizeof out) != SX_OK)
        __builtin_trap();
    free(text);
    free(again);
    sx_ntf_stats_data_cleanup(&d);
    sx_ntf_stats_data_cleanup(&d2);
    return 0;
}
