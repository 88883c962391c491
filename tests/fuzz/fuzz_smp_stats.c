/* Fuzz target: the SMP router's statistics backup (smp-server-stats.log),
 * as the router reads it at start (src/smp_router/stats.h): the older
 * forms rewritten, then the kit's parser over the SMP spec.
 *
 * What parses must encode to a text that parses again and encodes the same
 * (the current form is canonical) and make a daily line; what does not
 * parse must leave every counter 0. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smp_router/stats.h"

#define MONDAY_THE_1ST 1704067200 /* 2024-01-01 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sx_smp_stats_data d;
    size_t line = 0;
    sx_status st = sx_smp_stats_parse((const char *)data, size, &d, &line);
    if (st != SX_OK) {
        for (int i = 0; i < SX_SMP_STAT_COUNT; i++)
            if (d.c[i] != 0)
                __builtin_trap();
        if (d.active.day.n || d.active.week.n || d.active.month.n)
            __builtin_trap();
        return 0;
    }
    char *text = NULL, *again = NULL;
    size_t len = 0, len2 = 0;
    if (sx_smp_stats_encode(&d, &text, &len) != SX_OK)
        __builtin_trap();
    sx_smp_stats_data d2;
    if (sx_smp_stats_parse(text, len, &d2, &line) != SX_OK)
        __builtin_trap();
    if (sx_smp_stats_encode(&d2, &again, &len2) != SX_OK || len != len2 || memcmp(text, again, len) != 0)
        __builtin_trap();
    char out[4096];
    if (sx_kit_stats_daily_line(sx_smp_stats_spec(), &d2, MONDAY_THE_1ST, out, sizeof out) != SX_OK)
        __builtin_trap();
    free(text);
    free(again);
    sx_smp_stats_data_cleanup(&d);
    sx_smp_stats_data_cleanup(&d2);
    return 0;
}
