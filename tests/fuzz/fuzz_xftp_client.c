/* Fuzz target: what the XFTP client decodes from a router before any
 * command — the server hello (padded block or bare content) with the
 * PROTOCOL-NOTES F8 checks against a fixed session id and the fixture
 * identity — and the recipient web link form of a description (base64url
 * raw-DEFLATE YAML). Accepted hellos must yield an X25519 session key and an
 * agreed version inside both ranges. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "transport/block.h"
#include "xftp_client/client.h"
#include "xftp_client/transfer.h"

#define FIXTURE_FP "LcJUMfVhwD8yxjAiSaDzzGF3-kLG4Uh0Fl_ZIjrRwjI="

static void check_hello(sx_slice content)
{
    static uint8_t sid[32], kh[32];
    static int init;
    if (!init) {
        memset(sid, 0x11, sizeof sid);
        size_t n = 0;
        if (sx_b64_decode(FIXTURE_FP, strlen(FIXTURE_FP), SX_B64_URL, kh, sizeof kh, &n) != SX_OK ||
            n != sizeof kh)
            __builtin_trap();
        init = 1;
    }
    sx_xftp_server_hello h;
    if (sx_xftp_server_hello_decode(content, &h) != SX_OK)
        return;
    uint16_t v = 0;
    sx_key *k = NULL;
    sx_status st = sx_xftp_client_check_hello(&h, sx_slice_of(sid, sizeof sid),
                                              sx_slice_of(kh, sizeof kh), &v, &k);
    if (st == SX_OK) {
        if (!k || sx_key_alg_of(k) != SX_KEY_X25519 || v < SX_XFTP_VERSION_MIN ||
            v > SX_XFTP_VERSION_MAX || v < h.range.min || v > h.range.max)
            __builtin_trap();
    } else if (k) {
        __builtin_trap();
    }
    sx_key_free(k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == SX_BLOCK_SIZE) {
        sx_slice content;
        if (sx_block_decode(sx_slice_of(data, size), &content) == SX_OK)
            check_hello(content);
    }
    check_hello(sx_slice_of(data, size));

    /* the web link: "https://h/#" + the input as text */
    if (size < 65536) {
        char *link = malloc(size + 16);
        if (!link)
            return 0;
        memcpy(link, "https://h/#", 11);
        memcpy(link + 11, data, size);
        link[11 + size] = '\0';
        sx_xftp_fd fd;
        char err[256];
        if (sx_xftp_read_description(link, &fd, err, sizeof err) == SX_OK) {
            if (sx_xftp_fd_validate(&fd) != SX_OK)
                __builtin_trap();
            sx_xftp_fd_cleanup(&fd);
        }
        free(link);
    }
    return 0;
}
