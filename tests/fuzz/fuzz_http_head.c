/* Fuzz target: an HTTP/1.1 request head as the routers' web server parses
 * it (src/kit/web.h). What parses must have consumed a prefix of the input
 * ending in the empty line, with a method and a path that starts with '/'
 * and holds no NUL; the parse must not depend on bytes after the head. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kit/web.h"

#define CHECK(c)     \
    do {             \
        if (!(c))    \
            abort(); \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sx_kit_http_req req, again;
    size_t used = 0, used2 = 0;
    sx_status st = sx_kit_http_parse(data, size, &req, &used);
    if (st != SX_OK)
        return 0;
    CHECK(used >= 4 && used <= size && used <= SX_KIT_HTTP_HEAD_MAX);
    CHECK(memcmp(data + used - 4, "\r\n\r\n", 4) == 0);
    CHECK(req.method[0] != 0 && req.path[0] == '/');
    CHECK(strlen(req.path) < sizeof req.path);
    st = sx_kit_http_parse(data, used, &again, &used2);
    CHECK(st == SX_OK && used2 == used);
    CHECK(memcmp(&req, &again, sizeof req) == 0);
    return 0;
}
