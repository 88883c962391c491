/* Fuzz target: the `smp` client's queue files (client/queue_file.h). Any
 * input either is refused or parses to a queue that formats to a text
 * which parses again and formats to the very same text. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smp_client/queue_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sx_queue_file q;
    char err[256];
    if (sx_queue_file_parse((const char *)data, size, &q, err, sizeof err) != SX_OK)
        return 0;
    char *text = NULL, *again = NULL;
    size_t len = 0, len2 = 0;
    sx_queue_file q2;
    if (sx_queue_file_format(&q, &text, &len) != SX_OK)
        __builtin_trap();
    if (sx_queue_file_parse(text, len, &q2, err, sizeof err) != SX_OK)
        __builtin_trap();
    if (sx_queue_file_format(&q2, &again, &len2) != SX_OK || len != len2 || memcmp(text, again, len) != 0)
        __builtin_trap();
    free(text);
    free(again);
    sx_queue_file_cleanup(&q);
    sx_queue_file_cleanup(&q2);
    return 0;
}
