/* Helpers shared by the unit tests. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "testutil.h"

#include <ctype.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

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

/* The test data folder: SX_TEST_DATA_DIR from the environment, else the
 * one compiled in (tests/data of the source tree). */
static const char *data_dir(void)
{
    const char *dir = getenv("SX_TEST_DATA_DIR");
    return dir && *dir ? dir : SX_TEST_DATA_DIR;
}

const char *tu_data_path(const char *rel)
{
    static char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s", data_dir(), rel);
    if (n < 0 || (size_t)n >= sizeof path)
        fail_msg("test data path too long: %s/%s", data_dir(), rel);
    if (access(path, R_OK) != 0)
        fail_msg("test data file %s: %s (the data is in tests/data; the environment variable "
                 "SX_TEST_DATA_DIR names another folder)",
                 path, strerror(errno));
    return path;
}

uint8_t *tu_read_data(const char *rel, size_t *len)
{
    const char *path = tu_data_path(rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("test data file %s: %s", path, strerror(errno));
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        fail_msg("test data file %s: cannot find its size", path);
    }
    uint8_t *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    if (got != (size_t)n) {
        free(buf);
        fail_msg("test data file %s: read %zu of %ld bytes", path, got, n);
    }
    buf[n] = 0;
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

uint16_t tu_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}
