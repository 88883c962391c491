/* Router kit: the store log's sum file (see logsum.h). */
#define _GNU_SOURCE /* statx */
#include "kit/logsum.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fileio.h"
#include "kit/paths.h"

#define HEADER_MAX 96

/* ---- CRC-32C, reflected polynomial 0x82F63B78 ----
 * The SSE 4.2 crc32 instruction computes exactly this CRC 8 bytes at a time;
 * without it, a table per byte. The message journal sums every SEND body's
 * line (some 22 KB of base64 for a 16 KB message), so the bytewise loop
 * was a sixth of the SMP router's CPU per large message. */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static bool crc_hw;

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define SX_CRC_HW 1

__attribute__((target("sse4.2"))) static uint32_t crc_sse42(uint32_t crc, const uint8_t *p, size_t n)
{
    uint64_t c = crc;
    for (; n > 0 && ((uintptr_t)p & 7) != 0; n--)
        c = _mm_crc32_u8((uint32_t)c, *p++);
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
    }
    for (; n > 0; n--)
        c = _mm_crc32_u8((uint32_t)c, *p++);
    return (uint32_t)c;
}
#endif

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[i] = c;
    }
#ifdef SX_CRC_HW
    __builtin_cpu_init();
    crc_hw = __builtin_cpu_supports("sse4.2");
#endif
}

uint32_t sx_kit_crc32c_bytewise(uint32_t crc, const uint8_t *p, size_t n)
{
    pthread_once(&crc_once, crc_init);
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

uint32_t sx_kit_crc32c(uint32_t crc, const uint8_t *p, size_t n)
{
    pthread_once(&crc_once, crc_init);
#ifdef SX_CRC_HW
    if (crc_hw)
        return ~crc_sse42(~crc, p, n);
#endif
    return sx_kit_crc32c_bytewise(crc, p, n);
}

/* ---- writing ---- */

static const char HEX[] = "0123456789abcdef";

/* What tells the log file apart from any other: its inode and, where the
 * file system keeps it, its birth time (an inode number is reused once its
 * file is deleted; a birth time is not, to the nanosecond). */
typedef struct file_id {
    uint64_t ino, bsec, bnsec;
} file_id;

static bool get_file_id(int fd, file_id *id)
{
    memset(id, 0, sizeof *id);
    struct statx sx;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_INO | STATX_BTIME, &sx) == 0) {
        id->ino = sx.stx_ino;
        if (sx.stx_mask & STATX_BTIME) {
            id->bsec = (uint64_t)sx.stx_btime.tv_sec;
            id->bnsec = sx.stx_btime.tv_nsec;
        }
        return true;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return false;
    id->ino = sb.st_ino;
    return true;
}

static void put_hex(char *out, uint64_t v, int digits)
{
    for (int i = digits - 1; i >= 0; i--) {
        out[i] = HEX[v & 0xf];
        v >>= 4;
    }
}

sx_status sx_kit_logsum_create(const char *log_path, int log_fd, uint64_t from, int *fd)
{
    *fd = -1;
    file_id id;
    if (!get_file_id(log_fd, &id))
        return SX_E_IO;
    char *path = sx_kit_path_with(log_path, ".sum");
    if (!path)
        return SX_E_NOMEM;
    int f = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    free(path);
    if (f < 0)
        return SX_E_IO;
    char head[HEADER_MAX];
    int n = snprintf(head, sizeof head, "sxlogsum 1 ino=%llx born=%llx.%llx from=%llx\n",
                     (unsigned long long)id.ino, (unsigned long long)id.bsec, (unsigned long long)id.bnsec,
                     (unsigned long long)from);
    if (fchmod(f, 0600) != 0 || n <= 0 || (size_t)n >= sizeof head ||
        sx_fd_write_all(f, (const uint8_t *)head, (size_t)n) != SX_OK) {
        close(f);
        return SX_E_IO;
    }
    *fd = f;
    return SX_OK;
}

size_t sx_kit_logsum_lines(const uint8_t *buf, size_t len)
{
    size_t lines = 0;
    for (const uint8_t *p = buf, *end = buf + len; (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
        lines++;
    return lines;
}

sx_status sx_kit_logsum_append(int fd, uint64_t off, const uint8_t *buf, size_t len)
{
    size_t lines = sx_kit_logsum_lines(buf, len);
    if (lines == 0)
        return SX_OK;
    char *out = malloc(lines * SX_KIT_LOGSUM_ENTRY_LEN);
    if (!out)
        return SX_E_NOMEM;
    size_t o = 0, start = 0;
    for (const uint8_t *nl; start < len && (nl = memchr(buf + start, '\n', len - start)) != NULL;) {
        size_t i = (size_t)(nl - buf);
        char *e = out + o;
        put_hex(e, off + start, 16);
        e[16] = ' ';
        put_hex(e + 17, i + 1 - start, 8);
        e[25] = ' ';
        put_hex(e + 26, sx_kit_crc32c(0, buf + start, i - start), 8);
        e[34] = '\n';
        o += SX_KIT_LOGSUM_ENTRY_LEN;
        start = i + 1;
    }
    sx_status st = sx_fd_write_all(fd, (const uint8_t *)out, o);
    free(out);
    return st;
}

/* ---- checking ---- */

typedef struct entry {
    uint64_t off;
    uint32_t len, crc;
} entry;

struct sx_kit_logsum_check {
    entry *e;
    size_t n, k;
    uint64_t from, cov_end, last_end;
};

static bool get_hex(const char *s, size_t n, uint64_t *v)
{
    *v = 0;
    if (n == 0 || n > 16)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                                                      : -1;
        if (d < 0)
            return false;
        *v = (*v << 4) | (uint64_t)d;
    }
    return true;
}

/* "<key><hex>" at *p, up to the next ' ' or the end. */
static bool field(const char **p, const char *end, const char *key, uint64_t *v)
{
    size_t kl = strlen(key);
    if ((size_t)(end - *p) < kl || memcmp(*p, key, kl) != 0)
        return false;
    const char *s = *p + kl, *e = s;
    while (e < end && *e != ' ')
        e++;
    if (!get_hex(s, (size_t)(e - s), v))
        return false;
    *p = e < end ? e + 1 : e;
    return true;
}

static bool parse_header(const uint8_t *line, size_t len, file_id *id, uint64_t *from)
{
    const char *p = (const char *)line, *end = p + len;
    const char magic[] = "sxlogsum 1 ";
    if (len < sizeof magic - 1 || memcmp(p, magic, sizeof magic - 1) != 0)
        return false;
    p += sizeof magic - 1;
    if (!field(&p, end, "ino=", &id->ino))
        return false;
    /* born=<sec>.<nsec>: split at the '.' */
    const char *dot = memchr(p, '.', (size_t)(end - p));
    if (!dot || (size_t)(end - p) < 5 || memcmp(p, "born=", 5) != 0 ||
        !get_hex(p + 5, (size_t)(dot - p - 5), &id->bsec))
        return false;
    p = dot + 1;
    return field(&p, end, "", &id->bnsec) && field(&p, end, "from=", from) && p == end;
}

static bool parse_entry(const uint8_t *line, size_t len, entry *out)
{
    const char *s = (const char *)line;
    uint64_t off, l, c;
    if (len != SX_KIT_LOGSUM_ENTRY_LEN - 1 || s[16] != ' ' || s[25] != ' ' || !get_hex(s, 16, &off) ||
        !get_hex(s + 17, 8, &l) || !get_hex(s + 26, 8, &c) || l == 0)
        return false;
    out->off = off;
    out->len = (uint32_t)l;
    out->crc = (uint32_t)c;
    return true;
}

sx_status sx_kit_logsum_reopen(const char *log_path, uint64_t log_size, int *fd)
{
    *fd = -1;
    char *path = sx_kit_path_with(log_path, ".sum");
    if (!path)
        return SX_E_NOMEM;
    int f = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    int r = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    struct stat sb;
    uint8_t last[SX_KIT_LOGSUM_ENTRY_LEN + 1];
    entry e;
    off_t at = 0;
    bool ok = f >= 0 && r >= 0 && fstat(r, &sb) == 0 && sb.st_size > SX_KIT_LOGSUM_ENTRY_LEN;
    if (ok) {
        /* the '\n' before the last entry, and the entry itself */
        at = sb.st_size - SX_KIT_LOGSUM_ENTRY_LEN - 1;
        ok = pread(r, last, sizeof last, at) == (ssize_t)sizeof last && last[0] == '\n' &&
             last[SX_KIT_LOGSUM_ENTRY_LEN] == '\n' &&
             parse_entry(last + 1, SX_KIT_LOGSUM_ENTRY_LEN - 1, &e) && e.off + e.len == log_size;
    }
    if (r >= 0)
        close(r);
    if (!ok) {
        if (f >= 0)
            close(f);
        return SX_E_IO;
    }
    *fd = f;
    return SX_OK;
}

sx_status sx_kit_logsum_load(const char *log_path, int log_fd, sx_kit_warn_cb warn, void *warn_arg,
                             sx_kit_logsum_check **out)
{
    *out = NULL;
    char *path = sx_kit_path_with(log_path, ".sum");
    if (!path)
        return SX_E_NOMEM;
    /* lines of a known length: stdio is enough (kit/lines.h reads logs, and
     * uses this file) */
    FILE *fp = fopen(path, "rb");
    sx_status st = SX_OK;
    if (!fp) {
        bool missing = errno == ENOENT;
        st = SX_E_IO;
        if (missing) {
            sx_kit_report(warn, warn_arg, "store log %s has no checksums (no %s): its lines are not checked",
                          log_path, path);
            st = SX_OK;
        }
        free(path);
        return st;
    }
    sx_kit_logsum_check *c = calloc(1, sizeof *c);
    file_id now, was;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t n;
    if (!c) {
        st = SX_E_NOMEM;
        goto done;
    }
    if (!get_file_id(log_fd, &now)) {
        st = SX_E_IO;
        goto done;
    }
    n = getline(&line, &lcap, fp);
    if (n > 0 && line[n - 1] == '\n')
        n--;
    if (n <= 0 || !parse_header((const uint8_t *)line, (size_t)n, &was, &c->from)) {
        sx_kit_report(warn, warn_arg, "store log %s: %s has no valid header: its lines are not checked", log_path,
                      path);
        goto done;
    }
    if (was.ino != now.ino || was.bsec != now.bsec || was.bnsec != now.bnsec) {
        sx_kit_report(warn, warn_arg,
                      "store log %s: %s was written for another file (the log was rewritten by another program, "
                      "restored or copied): its lines are not checked",
                      log_path, path);
        goto done;
    }
    c->cov_end = c->from;
    size_t cap = 0, bad = 0;
    while ((n = getline(&line, &lcap, fp)) >= 0) {
        if (n > 0 && line[n - 1] == '\n')
            n--;
        entry e;
        if (!parse_entry((const uint8_t *)line, (size_t)n, &e) || e.off < c->cov_end) {
            bad++; /* out of order counts as damaged too */
            continue;
        }
        if (c->n == cap) {
            size_t ncap = cap ? cap * 2 : 1024;
            entry *ne = realloc(c->e, ncap * sizeof *ne);
            if (!ne) {
                st = SX_E_NOMEM;
                break;
            }
            c->e = ne;
            cap = ncap;
        }
        c->e[c->n++] = e;
        c->cov_end = e.off + e.len;
    }
    if (st == SX_OK && ferror(fp))
        st = SX_E_IO;
    if (st == SX_OK && bad)
        sx_kit_report(warn, warn_arg, "store log %s: %zu damaged lines in %s left out", log_path, bad, path);
    if (st == SX_OK) {
        c->last_end = c->from;
        *out = c;
        c = NULL;
    }
done:
    sx_kit_logsum_free(c);
    free(line);
    fclose(fp);
    free(path);
    return st;
}

sx_kit_logsum_verdict sx_kit_logsum_verify(sx_kit_logsum_check *c, uint64_t off, size_t len, bool has_nl,
                                           uint32_t crc)
{
    while (c->k < c->n && c->e[c->k].off < off) {
        uint64_t end = c->e[c->k].off + c->e[c->k].len;
        if (end > c->last_end)
            c->last_end = end;
        c->k++;
    }
    if (off < c->from)
        return SX_KIT_LOGSUM_UNCHECKED;
    if (off < c->last_end)
        return SX_KIT_LOGSUM_DAMAGED; /* inside an earlier record */
    if (c->k < c->n && c->e[c->k].off == off) {
        const entry *e = &c->e[c->k++];
        c->last_end = e->off + e->len;
        return has_nl && e->len == len + 1 && e->crc == crc ? SX_KIT_LOGSUM_GOOD : SX_KIT_LOGSUM_DAMAGED;
    }
    return SX_KIT_LOGSUM_UNCHECKED;
}

void sx_kit_logsum_free(sx_kit_logsum_check *c)
{
    if (!c)
        return;
    free(c->e);
    free(c);
}
