/* Helpers shared by the unit tests. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "testutil.h"

#include <ctype.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

uint8_t *tu_hex(const char *hex, size_t *len)
{
    size_t n = strlen(hex);
    uint8_t *out = malloc(n / 2 + 1);
    assert_non_null(out);
    size_t o = 0;
    int hi = -1;
    for (size_t i = 0; i < n; i++) {
        if (isspace((unsigned char)hex[i]))
            continue;
        int v = hexval((unsigned char)hex[i]);
        if (v < 0)
            fail_msg("bad hex character '%c'", hex[i]);
        if (hi < 0) {
            hi = v;
        } else {
            out[o++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    if (hi >= 0)
        fail_msg("odd number of hex digits");
    *len = o;
    return out;
}

void tu_hex_to(const char *hex, uint8_t *out, size_t len)
{
    size_t n;
    uint8_t *b = tu_hex(hex, &n);
    assert_int_equal(n, len);
    memcpy(out, b, n);
    free(b);
}

const char *tu_to_hex(const uint8_t *p, size_t n)
{
    static char buf[8192];
    static const char digits[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < n && o + 3 < sizeof buf; i++) {
        buf[o++] = digits[p[i] >> 4];
        buf[o++] = digits[p[i] & 15];
    }
    buf[o] = 0;
    return buf;
}

const char *tu_shared_path(const char *rel)
{
    static char path[4096];
    const char *dir = getenv("SX_SHARED_DIR");
    if (!dir || !*dir)
        dir = SX_SHARED_DIR;
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    return path;
}

uint8_t *tu_read_shared(const char *rel, size_t *len)
{
    const char *path = tu_shared_path(rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open shared file %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    assert_true(n >= 0);
    uint8_t *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return buf;
}

void tu_bytes_seq(uint8_t *out, size_t n, uint8_t start)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(start + i);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(p);
    else
        unlink(p);
    return 0;
}

void tu_rm_rf(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
