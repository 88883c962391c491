/* The state file of a send under way (transfer_state.h): printing, a strict
 * line parser, and saving through a temporary file. */
#define _GNU_SOURCE
#include "xftp_client/transfer_state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fileio.h"
#include "crypto/util.h"

#define STATE_MAX_FILE (1024LL * 1024 * 1024) /* 1gb, the largest file sent */

#define STATE_MAGIC "xftp-send-state 1"

sx_status sx_xftp_state_alloc(sx_xftp_send_state *s, size_t n, int nrcv)
{
    memset(s, 0, sizeof *s);
    SX_ENSURE(n > 0 && n <= SX_XFTP_MAX_CHUNKS && nrcv >= 1 && nrcv <= 255, SX_E_USAGE);
    s->chunks = calloc(n, sizeof *s->chunks);
    if (!s->chunks)
        return SX_E_NOMEM;
    s->chunk_count = n;
    s->recipients = nrcv;
    for (size_t i = 0; i < n; i++) {
        s->chunks[i].rcv_keys = calloc((size_t)nrcv, sizeof *s->chunks[i].rcv_keys);
        s->chunks[i].rcv_ids = calloc((size_t)nrcv, sizeof *s->chunks[i].rcv_ids);
        if (!s->chunks[i].rcv_keys || !s->chunks[i].rcv_ids) {
            sx_xftp_state_cleanup(s);
            return SX_E_NOMEM;
        }
    }
    return SX_OK;
}

void sx_xftp_state_cleanup(sx_xftp_send_state *s)
{
    if (!s)
        return;
    for (size_t i = 0; s->chunks && i < s->chunk_count; i++) {
        sx_xftp_state_chunk *c = &s->chunks[i];
        if (c->rcv_keys)
            sx_wipe(c->rcv_keys, (size_t)s->recipients * sizeof *c->rcv_keys);
        free(c->rcv_keys);
        free(c->rcv_ids);
    }
    if (s->chunks)
        sx_wipe(s->chunks, s->chunk_count * sizeof *s->chunks);
    free(s->chunks);
    sx_wipe(s, sizeof *s);
}

/* ---- printing ---- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool failed;
} sbuf;

static void put(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(sbuf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->failed = true;
            return;
        }
        if (b->p && (size_t)k < b->cap - b->len) {
            b->len += (size_t)k;
            return;
        }
        size_t nc = b->cap ? b->cap * 2 : 4096;
        while (nc < b->len + (size_t)k + 1)
            nc *= 2;
        char *np = malloc(nc);
        if (!np) {
            b->failed = true;
            return;
        }
        if (b->p) {
            memcpy(np, b->p, b->len);
            sx_wipe(b->p, b->cap);
            free(b->p);
        }
        b->p = np;
        b->cap = nc;
    }
}

static void put_hex(sbuf *b, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put(b, "%02x", p[i]);
}

sx_status sx_xftp_state_print(const sx_xftp_send_state *s, char **out, size_t *len)
{
    SX_ENSURE(s && out && len && s->chunks, SX_E_USAGE);
    sbuf b = {0};
    put(&b, "%s\nkey ", STATE_MAGIC);
    put_hex(&b, s->key, sizeof s->key);
    put(&b, "\nnonce ");
    put_hex(&b, s->nonce, sizeof s->nonce);
    put(&b, "\nsource-size %lld\nsource-mtime %lld %lld\nencrypted-size %lld\ndigest ", (long long)s->src_size,
        (long long)s->src_mtime_sec, (long long)s->src_mtime_nsec, (long long)s->enc_size);
    put_hex(&b, s->digest, sizeof s->digest);
    put(&b, "\nrecipients %d\nchunks %zu\n", s->recipients, s->chunk_count);
    for (size_t i = 0; i < s->chunk_count; i++) {
        const sx_xftp_state_chunk *c = &s->chunks[i];
        put(&b, "chunk %u %u ", c->number, c->size);
        put_hex(&b, c->digest, sizeof c->digest);
        put(&b, "\nrouter %s\nsender-key ", c->router);
        put_hex(&b, c->snd_key.der, c->snd_key.len);
        put(&b, "\nsender-id ");
        if (c->snd_id.len)
            put_hex(&b, c->snd_id.bytes, c->snd_id.len);
        else
            put(&b, "-");
        for (int j = 0; j < s->recipients; j++) {
            put(&b, "\nrecipient ");
            put_hex(&b, c->rcv_keys[j].der, c->rcv_keys[j].len);
            put(&b, " ");
            if (c->rcv_ids[j].len)
                put_hex(&b, c->rcv_ids[j].bytes, c->rcv_ids[j].len);
            else
                put(&b, "-");
        }
        put(&b, "\nuploaded %s\n", c->uploaded ? "yes" : "no");
    }
    put(&b, "end\n");
    if (b.failed) {
        if (b.p)
            sx_wipe(b.p, b.cap);
        free(b.p);
        return SX_E_NOMEM;
    }
    *out = b.p;
    *len = b.len;
    return SX_OK;
}

/* ---- parsing ---- */

typedef struct lines {
    const char *p, *end;
    const char *line; /* the current line, without its '\n' */
    size_t len;
} lines;

/* The next line, which must end with '\n'. */
static bool next_line(lines *l)
{
    if (l->p >= l->end)
        return false;
    const char *nl = memchr(l->p, '\n', (size_t)(l->end - l->p));
    if (!nl)
        return false;
    l->line = l->p;
    l->len = (size_t)(nl - l->p);
    l->p = nl + 1;
    return memchr(l->line, '\0', l->len) == NULL;
}

/* The next line is "<name> <value>": the value into *v, *vl. */
static bool field(lines *l, const char *name, const char **v, size_t *vl)
{
    size_t nl = strlen(name);
    if (!next_line(l) || l->len <= nl || memcmp(l->line, name, nl) != 0 || l->line[nl] != ' ')
        return false;
    *v = l->line + nl + 1;
    *vl = l->len - nl - 1;
    return *vl > 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Lower-case hex of 1..cap bytes (exactly `want` when want > 0). */
static bool hex_bytes(const char *v, size_t vl, uint8_t *out, size_t cap, size_t want, size_t *got)
{
    if (vl == 0 || vl % 2 != 0 || vl / 2 > cap || (want && vl / 2 != want))
        return false;
    for (size_t i = 0; i < vl / 2; i++) {
        int h = hexval(v[2 * i]), lo = hexval(v[2 * i + 1]);
        if (h < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(h << 4 | lo);
    }
    if (got)
        *got = vl / 2;
    return true;
}

/* A decimal number 0..max without sign or leading zeros. */
static bool number(const char *v, size_t vl, int64_t max, int64_t *out)
{
    if (vl == 0 || vl > 19 || (vl > 1 && v[0] == '0'))
        return false;
    int64_t n = 0;
    for (size_t i = 0; i < vl; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        if (n > (max - (v[i] - '0')) / 10)
            return false;
        n = n * 10 + (v[i] - '0');
    }
    *out = n;
    return true;
}

/* "A B": two fields split at the only space. */
static bool split2(const char *v, size_t vl, const char **a, size_t *al, const char **b, size_t *bl)
{
    const char *sp = memchr(v, ' ', vl);
    if (!sp)
        return false;
    *a = v;
    *al = (size_t)(sp - v);
    *b = sp + 1;
    *bl = vl - *al - 1;
    return *al > 0 && *bl > 0 && !memchr(*b, ' ', *bl);
}

static bool id_field(const char *v, size_t vl, sx_xftp_id *id)
{
    if (vl == 1 && v[0] == '-') {
        id->len = 0;
        return true;
    }
    return hex_bytes(v, vl, id->bytes, sizeof id->bytes, 0, &id->len);
}

static bool key_field(const char *v, size_t vl, sx_xftp_state_key *k)
{
    return hex_bytes(v, vl, k->der, sizeof k->der, 0, &k->len);
}

static bool parse_chunk(lines *l, const sx_xftp_send_state *s, size_t i, int64_t *sum)
{
    sx_xftp_state_chunk *c = &s->chunks[i];
    const char *v, *a, *b, *d;
    size_t vl, al, bl, dl;
    int64_t n;
    if (!field(l, "chunk", &v, &vl))
        return false;
    /* "NUMBER SIZE DIGEST" */
    const char *sp = memchr(v, ' ', vl);
    if (!sp)
        return false;
    a = v;
    al = (size_t)(sp - v);
    b = sp + 1;
    const char *sp2 = memchr(b, ' ', vl - al - 1);
    if (!sp2)
        return false;
    bl = (size_t)(sp2 - b);
    d = sp2 + 1;
    dl = vl - al - 1 - bl - 1;
    if (!number(a, al, SX_XFTP_MAX_CHUNKS, &n) || n != (int64_t)i + 1)
        return false;
    c->number = (uint32_t)n;
    if (!number(b, bl, UINT32_MAX, &n) || n == 0)
        return false;
    c->size = (uint32_t)n;
    *sum += n;
    if (!hex_bytes(d, dl, c->digest, sizeof c->digest, sizeof c->digest, NULL))
        return false;
    if (!field(l, "router", &v, &vl) || vl >= sizeof c->router)
        return false;
    sx_xftp_fd_server srv;
    if (sx_xftp_fd_server_parse(v, vl, &srv) != SX_OK)
        return false;
    snprintf(c->router, sizeof c->router, "%.*s", (int)vl, v);
    if (!field(l, "sender-key", &v, &vl) || !key_field(v, vl, &c->snd_key))
        return false;
    if (!field(l, "sender-id", &v, &vl) || !id_field(v, vl, &c->snd_id))
        return false;
    for (int j = 0; j < s->recipients; j++) {
        if (!field(l, "recipient", &v, &vl) || !split2(v, vl, &a, &al, &b, &bl))
            return false;
        if (!key_field(a, al, &c->rcv_keys[j]) || !id_field(b, bl, &c->rcv_ids[j]))
            return false;
        /* a chunk is created with all its ids or none */
        if ((c->rcv_ids[j].len == 0) != (c->snd_id.len == 0))
            return false;
    }
    if (!field(l, "uploaded", &v, &vl))
        return false;
    if (vl == 3 && !memcmp(v, "yes", 3))
        c->uploaded = true;
    else if (!(vl == 2 && !memcmp(v, "no", 2)))
        return false;
    return !c->uploaded || c->snd_id.len > 0;
}

sx_status sx_xftp_state_parse(const char *text, size_t len, sx_xftp_send_state *s)
{
    SX_ENSURE(s && (text || len == 0), SX_E_USAGE);
    memset(s, 0, sizeof *s);
    if (len > SX_XFTP_STATE_MAX_LEN)
        return SX_E_PROTOCOL;
    lines l = {.p = text, .end = text + len};
    const char *v;
    size_t vl;
    int64_t rcv, chunks, ssize, msec, mnsec, esize;
    sx_xftp_send_state h;
    memset(&h, 0, sizeof h);
    bool ok = next_line(&l) && l.len == strlen(STATE_MAGIC) && !memcmp(l.line, STATE_MAGIC, l.len);
    ok = ok && field(&l, "key", &v, &vl) && hex_bytes(v, vl, h.key, sizeof h.key, sizeof h.key, NULL);
    ok = ok && field(&l, "nonce", &v, &vl) && hex_bytes(v, vl, h.nonce, sizeof h.nonce, sizeof h.nonce, NULL);
    ok = ok && field(&l, "source-size", &v, &vl) && number(v, vl, STATE_MAX_FILE, &ssize);
    const char *a = NULL, *b = NULL;
    size_t al = 0, bl = 0;
    ok = ok && field(&l, "source-mtime", &v, &vl) && split2(v, vl, &a, &al, &b, &bl) &&
         number(a, al, INT64_MAX, &msec) && number(b, bl, 999999999, &mnsec);
    ok = ok && field(&l, "encrypted-size", &v, &vl) && number(v, vl, 2 * STATE_MAX_FILE, &esize);
    ok = ok && field(&l, "digest", &v, &vl) && hex_bytes(v, vl, h.digest, sizeof h.digest, sizeof h.digest, NULL);
    ok = ok && field(&l, "recipients", &v, &vl) && number(v, vl, 255, &rcv) && rcv >= 1;
    ok = ok && field(&l, "chunks", &v, &vl) && number(v, vl, SX_XFTP_MAX_CHUNKS, &chunks) && chunks >= 1;
    /* Each chunk takes at least 5 + rcv lines of more than 6 bytes: a
     * count the text cannot hold is refused before room is made for it. */
    ok = ok && (uint64_t)chunks * (uint64_t)(5 + rcv) * 6 <= (uint64_t)len;
    if (!ok) {
        sx_wipe(&h, sizeof h);
        return SX_E_PROTOCOL;
    }
    sx_status st = sx_xftp_state_alloc(s, (size_t)chunks, (int)rcv);
    if (st != SX_OK) {
        sx_wipe(&h, sizeof h);
        return st;
    }
    for (size_t i = 0; i < sizeof s->key; i++)
        s->key[i] = h.key[i];
    for (size_t i = 0; i < sizeof s->nonce; i++)
        s->nonce[i] = h.nonce[i];
    for (size_t i = 0; i < sizeof s->digest; i++)
        s->digest[i] = h.digest[i];
    sx_wipe(&h, sizeof h);
    s->src_size = ssize;
    s->src_mtime_sec = msec;
    s->src_mtime_nsec = mnsec;
    s->enc_size = esize;
    int64_t sum = 0;
    for (size_t i = 0; ok && i < s->chunk_count; i++)
        ok = parse_chunk(&l, s, i, &sum);
    ok = ok && sum == s->enc_size;
    ok = ok && next_line(&l) && l.len == 3 && !memcmp(l.line, "end", 3) && l.p == l.end;
    if (!ok) {
        sx_xftp_state_cleanup(s);
        return SX_E_PROTOCOL;
    }
    return SX_OK;
}

/* ---- files ---- */

sx_status sx_xftp_state_save(const sx_xftp_send_state *s, const char *path)
{
    char *text = NULL;
    size_t len = 0;
    SX_TRY(sx_xftp_state_print(s, &text, &len));
    char tmp[4200];
    int k = snprintf(tmp, sizeof tmp, "%s.tmp", path);
    sx_status st = k > 0 && (size_t)k < sizeof tmp ? SX_OK : SX_E_LIMIT;
    int fd = -1;
    if (st == SX_OK) {
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
            st = SX_E_IO;
    }
    if (st == SX_OK)
        st = sx_fd_write_all(fd, text, len);
    if (st == SX_OK && fsync(fd) != 0)
        st = SX_E_IO;
    if (fd >= 0 && close(fd) != 0 && st == SX_OK)
        st = SX_E_IO;
    if (st == SX_OK && rename(tmp, path) != 0)
        st = SX_E_IO;
    if (st != SX_OK && fd >= 0)
        unlink(tmp);
    sx_wipe(text, len);
    free(text);
    return st;
}

sx_status sx_xftp_state_load(const char *path, sx_xftp_send_state *s)
{
    memset(s, 0, sizeof *s);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return SX_E_IO;
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > SX_XFTP_STATE_MAX_LEN) {
        close(fd);
        return SX_E_PROTOCOL;
    }
    size_t len = (size_t)sb.st_size;
    char *text = malloc(len + 1);
    sx_status st = text ? SX_OK : SX_E_NOMEM;
    size_t got = 0;
    while (st == SX_OK && got < len) {
        ssize_t r = read(fd, text + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            st = SX_E_IO;
        else
            got += (size_t)r;
    }
    close(fd);
    if (st == SX_OK)
        st = sx_xftp_state_parse(text, len, s);
    if (text)
        sx_wipe(text, len);
    free(text);
    return st;
}
