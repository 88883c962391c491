/* What the store-log tests share (see storelog_util.h). */
#include "testutil.h"

#include "storelog_util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base64.h"
#include "core/writer.h"
#include "crypto/keys.h"
#include "kit/lines.h"

int n_warnings;
char last_warning[512];

void count_warn(void *arg, const char *msg)
{
    (void)arg;
    n_warnings++;
    snprintf(last_warning, sizeof last_warning, "%s", msg);
}

sx_kit_log_opts quiet_opts(void)
{
    sx_kit_log_opts o = {0};
    o.warn = count_warn;
    return o;
}

sx_msglog_opts quiet_mopts(void)
{
    sx_msglog_opts o = {0};
    o.warn = count_warn;
    return o;
}

sx_qkey qkey(sx_key_alg alg, uint8_t start)
{
    sx_qkey k = {0};
    k.alg = (uint8_t)alg;
    k.len = (uint8_t)sx_key_raw_len(alg);
    tu_bytes_seq(k.raw, k.len, start);
    return k;
}

void fill_queue(sx_slrec *r)
{
    memset(r, 0, sizeof *r);
    r->type = SX_SLREC_CREATE;
    tu_bytes_seq(r->rid, SX_ID_LEN, 0x01);
    r->q.n_rkeys = 1;
    r->q.rkeys[0] = qkey(SX_KEY_ED25519, 0xa0);
    tu_bytes_seq(r->q.dh_secret, 32, 0xd0);
    tu_bytes_seq(r->q.sid, SX_ID_LEN, 0x21);
}

char *encode(const sx_slrec *r)
{
    sx_writer w;
    sx_writer_init_dynamic(&w, SX_KIT_LINE_MAX);
    assert_true(sx_slrec_encode(&w, r));
    assert_true(sx_write_u8(&w, 0));
    size_t len;
    return (char *)sx_writer_take(&w, &len);
}

void assert_round_trip(const char *line)
{
    sx_slrec r;
    sx_status st = sx_slrec_parse(sx_slice_str(line), &r);
    if (st != SX_OK)
        fail_msg("parse failed (%s): %s", sx_status_str(st), line);
    char *again = encode(&r);
    assert_string_equal(again, line);
    free(again);
    sx_slrec_cleanup(&r);
}

void assert_encodes(const sx_slrec *r, const char *expected)
{
    char *got = encode(r);
    assert_string_equal(got, expected);
    free(got);
    assert_round_trip(expected);
}

static char tmpdir[64];

void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sx_storelog_XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
}

void remove_tmpdir(void)
{
    DIR *d = opendir(tmpdir);
    assert_non_null(d);
    struct dirent *de;
    char p[512];
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", tmpdir, de->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(tmpdir);
}

const char *tpath(const char *name)
{
    static char p[4][512];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof p[i], "%s/%s", tmpdir, name);
    return p[i];
}

void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
}

char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    return buf;
}

bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

size_t count_lines(const char *text)
{
    size_t n = 0;
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    return n;
}

/* dump_store: the sorted CREATE lines of every queue. */
typedef struct dump_ctx {
    char **lines;
    size_t n, cap;
    const sx_slservices *svc;
} dump_ctx;

static void dump_one(sx_queue *q, void *arg)
{
    dump_ctx *c = arg;
    sx_queue_lock(q);
    sx_slrec r;
    sx_slrec_from_queue(q, c->svc, &r);
    char *line = encode(&r);
    sx_queue_unlock(q);
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->lines = realloc(c->lines, c->cap * sizeof *c->lines);
        assert_non_null(c->lines);
    }
    c->lines[c->n++] = line;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *dump_store(sx_store *st, const sx_slservices *svc)
{
    dump_ctx c = {.svc = svc};
    assert_ok(sx_store_each(st, dump_one, &c));
    qsort(c.lines, c.n, sizeof *c.lines, cmp_str);
    size_t total = 1;
    for (size_t i = 0; i < c.n; i++)
        total += strlen(c.lines[i]) + 1;
    char *out = calloc(1, total);
    assert_non_null(out);
    for (size_t i = 0; i < c.n; i++) {
        strcat(out, c.lines[i]);
        strcat(out, "\n");
        free(c.lines[i]);
    }
    free(c.lines);
    return out;
}

sx_queue *find_rid(sx_store *st, const char *rid_text)
{
    uint8_t rid[SX_ID_LEN];
    size_t n;
    assert_ok(sx_b64_decode(rid_text, strlen(rid_text), SX_B64_URL, rid, sizeof rid, &n));
    assert_int_equal(n, SX_ID_LEN);
    return sx_store_find(st, SX_PARTY_RECIPIENT, sx_slice_of(rid, SX_ID_LEN));
}
