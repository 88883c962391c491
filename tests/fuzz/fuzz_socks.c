/* Fuzz target: a SOCKS5 proxy's replies (RFC 1928 / 1929) as the client reads
 * them. The input is parsed as one connect reply (whose length, when known,
 * must agree with what the parser accepts), then fed to client state
 * machines (without and with credentials) in the pieces the client asks
 * for: whatever the proxy sends, the client never takes more than it wants
 * and ends done, failed or waiting. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "transport/socks.h"

static void drive(const uint8_t *data, size_t size, const char *user)
{
    static sx_socks_client s;
    if (sx_socks_client_init(&s, "abcdefghijklmnop.onion", 5223, user, user ? "" : NULL) != SX_OK)
        __builtin_trap();
    size_t off = 0;
    while (off < size && !sx_socks_client_done(&s)) {
        s.out_off = s.out_len; /* what the client sends is taken as sent */
        size_t want = sx_socks_client_want(&s);
        if (want == 0 || want > SX_SOCKS_REPLY_MAX)
            __builtin_trap();
        size_t n = size - off < want ? size - off : want;
        if (sx_socks_client_feed(&s, data + off, n) != SX_OK)
            return;
        off += n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sx_socks_reply rep;
    sx_status st = sx_socks_reply_parse(sx_slice_of(data, size), &rep);
    size_t total = 0;
    sx_status lst = sx_socks_reply_len(sx_slice_of(data, size), &total);
    if (st == SX_OK) {
        if (lst != SX_OK || total != size || rep.addr.ptr < data || rep.addr.ptr + rep.addr.len > data + size)
            __builtin_trap();
    } else if (lst == SX_OK && total == size) {
        __builtin_trap(); /* the length is right, so the parse had to succeed */
    }
    drive(data, size, NULL);
    drive(data, size, "user");
    return 0;
}
