/* Unit tests of the XFTP router's file store (src/xftp_router/fstore.c) and its
 * store-log lines (src/xftp_router/flog.c): operations, quota, expiry, replay,
 * compaction, a log written as the reference writes it, bad lines, missing
 * chunk files, and the log's writer thread (order across threads, a log
 * that fails). Real files in a temporary folder. */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#include "core/base64.h"
#include "xftp_router/flog.h"
#include "xftp_router/fstore.h"

/* ---- helpers ---------------------------------------------------------------- */

typedef struct fixture {
    char dir[256];
    char files[300];
    char log[300];
    int warnings;
    char last_warn[8][512];
} fixture;

static void on_warn(void *arg, const char *msg)
{
    fixture *fx = arg;
    snprintf(fx->last_warn[fx->warnings % 8], sizeof fx->last_warn[0], "%s", msg);
    fx->warnings++;
}

static int count_warn(const fixture *fx, const char *sub)
{
    int n = 0;
    for (int i = 0; i < fx->warnings && i < 8; i++)
        if (strstr(fx->last_warn[i], sub))
            n++;
    return n;
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/sx_fstore_XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    snprintf(fx->files, sizeof fx->files, "%s/files", fx->dir);
    snprintf(fx->log, sizeof fx->log, "%s/file-server-store.log", fx->dir);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    tu_rm_rf(fx->dir);
    free(fx);
    return 0;
}

static sx_xftp_fstore *open_store(fixture *fx, int64_t quota)
{
    sx_xftp_fstore_opts o = {fx->files, fx->log, quota, on_warn, fx, NULL};
    sx_xftp_fstore *st = NULL;
    assert_ok(sx_xftp_fstore_open(&o, &st));
    return st;
}

static const uint8_t ED_PREFIX[12] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
static const uint8_t X_PREFIX[12] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00};

typedef struct testkey {
    uint8_t der[44];
    sx_smp_pubkey k;
} testkey;

static void make_key(testkey *t, bool x25519, uint8_t fill)
{
    memcpy(t->der, x25519 ? X_PREFIX : ED_PREFIX, 12);
    memset(t->der + 12, fill, 32);
    t->k.der = sx_slice_of(t->der, sizeof t->der);
    t->k.alg = x25519 ? SX_KEY_X25519 : SX_KEY_ED25519;
}

static const uint8_t DIGEST[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                   17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void make_info(sx_xftp_file_info *fi, testkey *snd, uint32_t size)
{
    make_key(snd, false, 0x11);
    fi->snd_key = snd->k;
    fi->size = size;
    fi->digest = sx_slice_of(DIGEST, sizeof DIGEST);
}

#define NOW 1700001234LL

static void create_file(sx_xftp_fstore *st, uint32_t size, int64_t now, size_t n_rcv,
                        uint8_t sid[SX_XFTP_FILE_ID_LEN], uint8_t (*rids)[SX_XFTP_FILE_ID_LEN])
{
    testkey snd, rk[4];
    sx_xftp_file_info fi;
    make_info(&fi, &snd, size);
    sx_smp_pubkey keys[4];
    for (size_t i = 0; i < n_rcv; i++) {
        make_key(&rk[i], i % 2 == 1, (uint8_t)(0x40 + i));
        keys[i] = rk[i].k;
    }
    assert_ok(sx_xftp_fstore_create(st, &fi, keys, n_rcv, now, sid, rids, NULL));
}

static void write_chunk(sx_xftp_fstore *st, const uint8_t *sid)
{
    char path[512];
    assert_ok(sx_xftp_fstore_path(st, sid, path, sizeof path));
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs("chunk", f);
    fclose(f);
}

static bool chunk_exists(sx_xftp_fstore *st, const uint8_t *sid)
{
    char path[512];
    assert_ok(sx_xftp_fstore_path(st, sid, path, sizeof path));
    return access(path, F_OK) == 0;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int count_lines(const char *text, const char *prefix)
{
    int n = 0;
    for (const char *p = text; *p;) {
        if (strncmp(p, prefix, strlen(prefix)) == 0)
            n++;
        const char *nl = strchr(p, '\n');
        if (!nl)
            break;
        p = nl + 1;
    }
    return n;
}

static int count_backups(const fixture *fx)
{
    DIR *d = opendir(fx->dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strncmp(de->d_name, "file-server-store.log.20", 24) == 0)
            n++;
    closedir(d);
    return n;
}

static void id_of_text(const char *b64, uint8_t id[SX_XFTP_FILE_ID_LEN])
{
    size_t n;
    assert_ok(sx_b64_decode(b64, strlen(b64), SX_B64_URL, id, SX_XFTP_FILE_ID_LEN, &n));
    assert_int_equal(n, SX_XFTP_FILE_ID_LEN);
}

/* ---- operations ------------------------------------------------------------ */

static void test_create_get_ack_delete(void **state)
{
    fixture *fx = *state;
    sx_xftp_fstore *st = open_store(fx, 0);
    uint8_t sid[16], rids[3][16];
    create_file(st, SX_XFTP_CHUNK_64K, NOW, 2, sid, rids);
    assert_memory_not_equal(rids[0], rids[1], 16);
    assert_memory_not_equal(sid, rids[0], 16);

    sx_xftp_frec rec;
    assert_ok(sx_xftp_fstore_get_sender(st, sx_slice_of(sid, 16), &rec));
    assert_memory_equal(rec.sender_id, sid, 16);
    assert_int_equal(rec.size, SX_XFTP_CHUNK_64K);
    assert_int_equal(rec.created_at, NOW / 3600 * 3600);
    assert_int_equal(rec.n_recipients, 2);
    assert_false(rec.uploaded);
    assert_int_equal(rec.status, SX_XFTP_FILE_ACTIVE);
    assert_int_equal(rec.snd_alg, SX_KEY_ED25519);
    assert_int_equal(rec.digest_len, 32);
    assert_memory_equal(rec.digest, DIGEST, 32);

    sx_xftp_rkey key;
    assert_ok(sx_xftp_fstore_get_recipient(st, sx_slice_of(rids[1], 16), &rec, &key));
    assert_memory_equal(rec.sender_id, sid, 16);
    assert_int_equal(key.alg, SX_KEY_X25519);
    assert_int_equal(key.key_len, 44);
    assert_int_equal(key.key[12], 0x41);
    /* A sender id is not a recipient id and vice versa; wrong lengths are AUTH. */
    assert_int_equal(sx_xftp_fstore_get_recipient(st, sx_slice_of(sid, 16), &rec, &key), SX_E_AUTH);
    assert_int_equal(sx_xftp_fstore_get_sender(st, sx_slice_of(rids[0], 16), &rec), SX_E_AUTH);
    assert_int_equal(sx_xftp_fstore_get_sender(st, sx_slice_of(sid, 15), &rec), SX_E_AUTH);

    /* FADD */
    testkey extra;
    make_key(&extra, false, 0x77);
    assert_ok(sx_xftp_fstore_add_recipients(st, sid, &extra.k, 1, &rids[2], NULL));
    assert_ok(sx_xftp_fstore_get_recipient(st, sx_slice_of(rids[2], 16), &rec, &key));
    assert_int_equal(rec.n_recipients, 3);
    uint8_t unknown[16] = {9};
    uint8_t tmp[1][16];
    assert_int_equal(sx_xftp_fstore_add_recipients(st, unknown, &extra.k, 1, tmp, NULL), SX_E_AUTH);

    /* FPUT */
    write_chunk(st, sid);
    assert_ok(sx_xftp_fstore_set_uploaded(st, sid, NULL));
    assert_ok(sx_xftp_fstore_get_sender(st, sx_slice_of(sid, 16), &rec));
    assert_true(rec.uploaded);
    assert_int_equal(sx_xftp_fstore_set_uploaded(st, unknown, NULL), SX_E_AUTH);

    /* FACK */
    assert_ok(sx_xftp_fstore_ack(st, sx_slice_of(rids[0], 16), NULL));
    assert_int_equal(sx_xftp_fstore_ack(st, sx_slice_of(rids[0], 16), NULL), SX_E_AUTH);
    assert_int_equal(sx_xftp_fstore_get_recipient(st, sx_slice_of(rids[0], 16), &rec, &key), SX_E_AUTH);
    assert_ok(sx_xftp_fstore_get_sender(st, sx_slice_of(sid, 16), &rec));
    assert_int_equal(rec.n_recipients, 2);

    sx_xftp_fstore_stats s;
    sx_xftp_fstore_stats_get(st, &s);
    assert_int_equal(s.files, 1);
    assert_int_equal(s.uploaded, 1);
    assert_int_equal(s.recipients, 2);

    /* FDEL: the record, its recipients and the chunk file go. */
    assert_true(chunk_exists(st, sid));
    assert_ok(sx_xftp_fstore_delete(st, sid, NULL));
    assert_false(chunk_exists(st, sid));
    assert_int_equal(sx_xftp_fstore_get_sender(st, sx_slice_of(sid, 16), &rec), SX_E_AUTH);
    assert_int_equal(sx_xftp_fstore_get_recipient(st, sx_slice_of(rids[1], 16), &rec, &key), SX_E_AUTH);
    assert_int_equal(sx_xftp_fstore_delete(st, sid, NULL), SX_E_AUTH);
    sx_xftp_fstore_stats_get(st, &s);
    assert_int_equal(s.files, 0);
    assert_int_equal(s.recipients, 0);
    assert_int_equal(s.uploaded, 0);
    sx_xftp_fstore_close(st);

    /* The log holds every change in the reference's form. */
    char *text = read_text(fx->log);
    assert_int_equal(count_lines(text, "FNEW "), 1);
    assert_int_equal(count_lines(text, "FADD "), 2);
    assert_int_equal(count_lines(text, "FPUT "), 1);
    assert_int_equal(count_lines(text, "FACK "), 1);
    assert_int_equal(count_lines(text, "FDEL "), 1);
    assert_non_null(strstr(text, " active\n"));
    free(text);
}

static void test_limits_and_usage(void **state)
{
    fixture *fx = *state;
    sx_xftp_fstore *st = open_store(fx, 0);
    testkey snd;
    sx_xftp_file_info fi;
    make_info(&fi, &snd, SX_XFTP_CHUNK_64K);
    uint8_t sid[16];
    size_t n = SX_XFTP_MAX_RECIPIENTS + 1;
    sx_smp_pubkey *keys = calloc(n, sizeof *keys);
    uint8_t(*rids)[16] = calloc(n, 16);
    testkey rk;
    make_key(&rk, false, 0x55);
    for (size_t i = 0; i < n; i++)
        keys[i] = rk.k;
    assert_int_equal(sx_xftp_fstore_create(st, &fi, keys, n, NOW, sid, rids, NULL), SX_E_LIMIT);
    assert_ok(sx_xftp_fstore_create(st, &fi, keys, n - 2, NOW, sid, rids, NULL));
    assert_int_equal(sx_xftp_fstore_add_recipients(st, sid, keys, 2, rids, NULL), SX_E_LIMIT);
    assert_ok(sx_xftp_fstore_add_recipients(st, sid, keys, 1, rids, NULL));
    sx_xftp_frec rec;
    assert_ok(sx_xftp_fstore_get_sender(st, sx_slice_of(sid, 16), &rec));
    assert_int_equal(rec.n_recipients, SX_XFTP_MAX_RECIPIENTS);
    /* Bad key DER. */
    testkey bad;
    make_key(&bad, false, 1);
    bad.der[3] = 0x06 ^ 0xff;
    assert_int_equal(sx_xftp_fstore_add_recipients(st, sid, &bad.k, 1, rids, NULL), SX_E_USAGE);
    sx_xftp_fstore_close(st);
    /* A file with 1024 recipients survives compaction (one FADD line). */
    st = open_store(fx, 0);
    assert_ok(sx_xftp_fstore_get_sender(st, sx_slice_of(sid, 16), &rec));
    assert_int_equal(rec.n_recipients, SX_XFTP_MAX_RECIPIENTS);
    sx_xftp_fstore_close(st);
    free(keys);
    free(rids);
}

static void test_block(void **state)
{
    fixture *fx = *state;
    sx_xftp_fstore *st = open_store(fx, 0);
    uint8_t sid[16], rids[1][16];
    create_file(st, SX_XFTP_CHUNK_256K, NOW, 1, sid, rids);
    write_chunk(st, sid);
    assert_ok(sx_xftp_fstore_set_uploaded(st, sid, NULL));
    sx_smp_blocking_info bi = {SX_SMP_BLOCK_CONTENT, true, true, 3600};
    assert_ok(sx_xftp_fstore_block(st, sid, &bi, NULL));
    assert_false(chunk_exists(st, sid));
    sx_xftp_frec rec;
    sx_xftp_rkey key;
    assert_ok(sx_xftp_fstore_get_recipient(st, sx_slice_of(rids[0], 16), &rec, &key));
    assert_int_equal(rec.status, SX_XFTP_FILE_BLOCKED);
    assert_int_equal(rec.blocked.reason, SX_SMP_BLOCK_CONTENT);
    uint8_t unknown[16] = {7};
    assert_int_equal(sx_xftp_fstore_block(st, unknown, &bi, NULL), SX_E_AUTH);
    sx_xftp_fstore_close(st);
    char *text = read_text(fx->log);
    assert_non_null(strstr(text, " reason=content,notice={\"ttl\":3600}\n"));
    free(text);
    /* Replayed and compacted: the status moves into FNEW. */
    st = open_store(fx, 0);
    assert_ok(sx_xftp_fstore_get_sender(st, sx_slice_of(sid, 16), &rec));
    assert_int_equal(rec.status, SX_XFTP_FILE_BLOCKED);
    assert_true(rec.blocked.has_notice && rec.blocked.has_ttl && rec.blocked.ttl == 3600);
    sx_xftp_fstore_close(st);
    text = read_text(fx->log);
    assert_non_null(strstr(text, " blocked,reason=content,notice={\"ttl\":3600}\n"));
    assert_int_equal(count_lines(text, "FBLK "), 0);
    free(text);
    /* No "missing chunk" warning for a blocked file. */
    assert_int_equal(count_warn(fx, "missing"), 0);
}

/* ---- quota ------------------------------------------------------------------ */

static void test_quota(void **state)
{
    fixture *fx = *state;
    sx_xftp_fstore *st = open_store(fx, 300000);
    sx_xftp_fstore_stats s;
    assert_ok(sx_xftp_fstore_reserve(st, SX_XFTP_CHUNK_256K));
    assert_int_equal(sx_xftp_fstore_reserve(st, SX_XFTP_CHUNK_64K), SX_E_LIMIT);
    sx_xftp_fstore_stats_get(st, &s);
    assert_int_equal(s.used, SX_XFTP_CHUNK_256K);
    assert_int_equal(s.quota, 300000);
    sx_xftp_fstore_unreserve(st, SX_XFTP_CHUNK_256K);
    assert_ok(sx_xftp_fstore_reserve(st, SX_XFTP_CHUNK_64K));
    assert_ok(sx_xftp_fstore_reserve(st, SX_XFTP_CHUNK_64K));
    assert_ok(sx_xftp_fstore_reserve(st, SX_XFTP_CHUNK_64K));
    assert_ok(sx_xftp_fstore_reserve(st, SX_XFTP_CHUNK_64K));
    /* 4 * 65536 = 262144 <= 300000; one more is over. */
    assert_int_equal(sx_xftp_fstore_reserve(st, SX_XFTP_CHUNK_64K), SX_E_LIMIT);
    for (int i = 0; i < 4; i++)
        sx_xftp_fstore_unreserve(st, SX_XFTP_CHUNK_64K);
    sx_xftp_fstore_stats_get(st, &s);
    assert_int_equal(s.used, 0);

    /* Exactly the quota is allowed (used' <= quota). */
    sx_xftp_fstore_close(st);
    st = open_store(fx, SX_XFTP_CHUNK_64K);
    assert_ok(sx_xftp_fstore_reserve(st, SX_XFTP_CHUNK_64K));
    assert_int_equal(sx_xftp_fstore_reserve(st, 1), SX_E_LIMIT);
    sx_xftp_fstore_close(st);

    /* At start only stored chunks count, not files announced and never
     * uploaded (the reference's countUsedStorage counts every record). */
    st = open_store(fx, 0);
    uint8_t a[16], b[16], rids[1][16];
    create_file(st, SX_XFTP_CHUNK_64K, NOW, 1, a, rids);
    create_file(st, SX_XFTP_CHUNK_256K, NOW, 1, b, rids);
    assert_ok(sx_xftp_fstore_reserve(st, SX_XFTP_CHUNK_64K));
    write_chunk(st, a);
    assert_ok(sx_xftp_fstore_set_uploaded(st, a, NULL));
    sx_xftp_fstore_stats_get(st, &s);
    assert_int_equal(s.used, SX_XFTP_CHUNK_64K);
    sx_xftp_fstore_close(st);
    st = open_store(fx, SX_XFTP_CHUNK_64K + SX_XFTP_CHUNK_64K);
    sx_xftp_fstore_stats_get(st, &s);
    assert_int_equal(s.used, SX_XFTP_CHUNK_64K);
    /* so another 64 KB chunk fits though b's 256 KB were announced */
    assert_ok(sx_xftp_fstore_reserve(st, SX_XFTP_CHUNK_64K));
    sx_xftp_fstore_unreserve(st, SX_XFTP_CHUNK_64K);
    /* Deleting a file never uploaded gives nothing back; a stored one its
     * size. */
    assert_ok(sx_xftp_fstore_delete(st, b, NULL));
    sx_xftp_fstore_stats_get(st, &s);
    assert_int_equal(s.used, SX_XFTP_CHUNK_64K);
    assert_ok(sx_xftp_fstore_delete(st, a, NULL));
    sx_xftp_fstore_stats_get(st, &s);
    assert_int_equal(s.used, 0);
    /* A blocked file's chunk is removed: its size is given back once, and
     * not again when it is deleted, nor counted at the next start. */
    create_file(st, SX_XFTP_CHUNK_64K, NOW, 1, a, rids);
    assert_ok(sx_xftp_fstore_reserve(st, SX_XFTP_CHUNK_64K));
    write_chunk(st, a);
    assert_ok(sx_xftp_fstore_set_uploaded(st, a, NULL));
    sx_smp_blocking_info bi;
    memset(&bi, 0, sizeof bi);
    bi.reason = SX_SMP_BLOCK_SPAM;
    assert_ok(sx_xftp_fstore_block(st, a, &bi, NULL));
    sx_xftp_fstore_stats_get(st, &s);
    assert_int_equal(s.used, 0);
    sx_xftp_fstore_close(st);
    st = open_store(fx, 0);
    sx_xftp_fstore_stats_get(st, &s);
    assert_int_equal(s.used, 0);
    assert_ok(sx_xftp_fstore_delete(st, a, NULL));
    sx_xftp_fstore_stats_get(st, &s);
    assert_int_equal(s.used, 0);
    /* Over quota at start: a warning, and nothing can be reserved. */
    create_file(st, SX_XFTP_CHUNK_256K, NOW, 1, b, rids);
    assert_ok(sx_xftp_fstore_reserve(st, SX_XFTP_CHUNK_256K));
    write_chunk(st, b);
    assert_ok(sx_xftp_fstore_set_uploaded(st, b, NULL));
    sx_xftp_fstore_close(st);
    fx->warnings = 0;
    st = open_store(fx, 1000);
    assert_int_equal(count_warn(fx, "quota is less than used"), 1);
    assert_int_equal(sx_xftp_fstore_reserve(st, SX_XFTP_CHUNK_64K), SX_E_LIMIT);
    sx_xftp_fstore_close(st);
}

/* ---- expiry ----------------------------------------------------------------- */

static void test_expire_boundary(void **state)
{
    fixture *fx = *state;
    sx_xftp_fstore *st = open_store(fx, 0);
    const int64_t ttl = 48 * 3600;
    uint8_t a[16], b[16], rids[2][16];
    create_file(st, SX_XFTP_CHUNK_64K, NOW, 2, a, rids);
    create_file(st, SX_XFTP_CHUNK_64K, NOW + 3600, 1, b, rids);
    write_chunk(st, a);
    assert_ok(sx_xftp_fstore_set_uploaded(st, a, NULL));
    int64_t created = NOW / 3600 * 3600;
    size_t n = 99;
    /* createdAt + 3600 < now - ttl: equal is not expired. */
    assert_ok(sx_xftp_fstore_expire(st, created + 3600 + ttl, ttl, &n, NULL));
    assert_int_equal(n, 0);
    assert_ok(sx_xftp_fstore_expire(st, created + 3600 + ttl + 1, ttl, &n, NULL));
    assert_int_equal(n, 1);
    sx_xftp_frec rec;
    assert_int_equal(sx_xftp_fstore_get_sender(st, sx_slice_of(a, 16), &rec), SX_E_AUTH);
    assert_false(chunk_exists(st, a));
    assert_ok(sx_xftp_fstore_get_sender(st, sx_slice_of(b, 16), &rec));
    assert_ok(sx_xftp_fstore_expire(st, created + 7200 + ttl + 1, ttl, &n, NULL));
    assert_int_equal(n, 1);
    sx_xftp_fstore_stats s;
    sx_xftp_fstore_stats_get(st, &s);
    assert_int_equal(s.files, 0);
    assert_int_equal(s.recipients, 0);
    sx_xftp_fstore_close(st);
    char *text = read_text(fx->log);
    assert_int_equal(count_lines(text, "FDEL "), 2);
    free(text);
}

static void test_expire_many(void **state)
{
    fixture *fx = *state;
    sx_xftp_fstore *st = open_store(fx, 0);
    enum { N = 700 };
    uint8_t sid[16], rids[1][16];
    for (int i = 0; i < N; i++)
        create_file(st, SX_XFTP_CHUNK_64K, i % 2 ? NOW : NOW + 100000, 1, sid, rids);
    size_t n = 0;
    assert_ok(sx_xftp_fstore_expire(st, NOW + 3 * 3600, 3600, &n, NULL));
    assert_int_equal(n, N / 2);
    sx_xftp_fstore_stats s;
    sx_xftp_fstore_stats_get(st, &s);
    assert_int_equal(s.files, N / 2);
    sx_xftp_fstore_close(st);
}

/* ---- replay and compaction --------------------------------------------------- */

static void test_replay_reproduces_state(void **state)
{
    fixture *fx = *state;
    sx_xftp_fstore *st = open_store(fx, 0);
    uint8_t sids[5][16], rids[5][3][16];
    for (int i = 0; i < 5; i++)
        create_file(st, SX_XFTP_CHUNK_1M, NOW + i * 3600, 3, sids[i], rids[i]);
    for (int i = 0; i < 3; i++) {
        write_chunk(st, sids[i]);
        assert_ok(sx_xftp_fstore_set_uploaded(st, sids[i], NULL));
    }
    assert_ok(sx_xftp_fstore_ack(st, sx_slice_of(rids[0][1], 16), NULL));
    assert_ok(sx_xftp_fstore_delete(st, sids[1], NULL));
    sx_smp_blocking_info bi = {SX_SMP_BLOCK_SPAM, false, false, 0};
    assert_ok(sx_xftp_fstore_block(st, sids[2], &bi, NULL));
    sx_xftp_fstore_stats before;
    sx_xftp_fstore_stats_get(st, &before);
    sx_xftp_frec recs[5];
    for (int i = 0; i < 5; i++)
        if (i != 1)
            assert_ok(sx_xftp_fstore_get_sender(st, sx_slice_of(sids[i], 16), &recs[i]));
    sx_xftp_fstore_close(st);

    for (int round = 0; round < 2; round++) {
        st = open_store(fx, 0);
        sx_xftp_fstore_stats after;
        sx_xftp_fstore_stats_get(st, &after);
        assert_int_equal(after.files, before.files);
        assert_int_equal(after.uploaded, before.uploaded);
        assert_int_equal(after.recipients, before.recipients);
        for (int i = 0; i < 5; i++) {
            sx_xftp_frec rec;
            if (i == 1) {
                assert_int_equal(sx_xftp_fstore_get_sender(st, sx_slice_of(sids[i], 16), &rec), SX_E_AUTH);
                continue;
            }
            assert_ok(sx_xftp_fstore_get_sender(st, sx_slice_of(sids[i], 16), &rec));
            assert_memory_equal(&rec, &recs[i], sizeof rec);
            for (int k = 0; k < 3; k++) {
                sx_xftp_rkey key;
                sx_status want = i == 0 && k == 1 ? SX_E_AUTH : SX_OK;
                assert_int_equal(sx_xftp_fstore_get_recipient(st, sx_slice_of(rids[i][k], 16), &rec, &key), want);
            }
        }
        sx_xftp_fstore_close(st);
    }
    /* Compacted: one FNEW and one FADD per file, FPUT for those with data. */
    char *text = read_text(fx->log);
    assert_int_equal(count_lines(text, "FNEW "), 4);
    assert_int_equal(count_lines(text, "FADD "), 4);
    assert_int_equal(count_lines(text, "FPUT "), 2);
    assert_int_equal(count_lines(text, "FDEL "), 0);
    assert_int_equal(count_lines(text, "FACK "), 0);
    assert_int_equal(count_lines(text, "FBLK "), 0);
    free(text);
    /* Each start leaves a backup with the reference's name. */
    assert_true(count_backups(fx) >= 1);
}

static void test_start_recovery(void **state)
{
    fixture *fx = *state;
    sx_xftp_fstore *st = open_store(fx, 0);
    uint8_t a[16], b[16], rids[1][16];
    create_file(st, SX_XFTP_CHUNK_64K, NOW, 1, a, rids);
    sx_xftp_fstore_close(st);
    /* An interrupted compaction: the source in .start, a partial log. */
    char start[400], bak[400];
    snprintf(start, sizeof start, "%s.start", fx->log);
    snprintf(bak, sizeof bak, "%s.bak", fx->log);
    assert_int_equal(rename(fx->log, start), 0);
    write_text(fx->log, "FNEW partial");
    fx->warnings = 0;
    st = open_store(fx, 0);
    assert_true(count_warn(fx, "terminated abnormally") == 1);
    sx_xftp_frec rec;
    assert_ok(sx_xftp_fstore_get_sender(st, sx_slice_of(a, 16), &rec));
    create_file(st, SX_XFTP_CHUNK_64K, NOW, 1, b, rids);
    sx_xftp_fstore_close(st);
    assert_int_equal(access(start, F_OK), -1);
    char *text = read_text(bak);
    assert_string_equal(text, "FNEW partial");
    free(text);
    st = open_store(fx, 0);
    assert_ok(sx_xftp_fstore_get_sender(st, sx_slice_of(b, 16), &rec));
    sx_xftp_fstore_close(st);
}

static void test_no_log(void **state)
{
    fixture *fx = *state;
    sx_xftp_fstore_opts o = {fx->files, NULL, 0, on_warn, fx, NULL};
    sx_xftp_fstore *st = NULL;
    assert_ok(sx_xftp_fstore_open(&o, &st));
    uint8_t a[16], rids[1][16];
    create_file(st, SX_XFTP_CHUNK_64K, NOW, 1, a, rids);
    assert_ok(sx_xftp_fstore_delete(st, a, NULL));
    sx_xftp_fstore_close(st);
    assert_int_equal(access(fx->log, F_OK), -1);
    struct stat sb;
    assert_int_equal(stat(fx->files, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    /* files_dir that is a regular file: SX_E_IO. */
    char bad[400];
    snprintf(bad, sizeof bad, "%s/plain", fx->dir);
    write_text(bad, "x");
    sx_xftp_fstore_opts o2 = {bad, NULL, 0, on_warn, fx, NULL};
    assert_int_equal(sx_xftp_fstore_open(&o2, &st), SX_E_IO);
    assert_null(st);
}

/* ---- a log as the reference writes it ---------------------------------------- */

#define SID1 "AAECAwQFBgcICQoLDA0ODw=="
#define SID2 "EBESExQVFhcYGRobHB0eHw=="
#define SID3 "ICEiIyQlJicoKSorLC0uLw=="
#define SID4 "MDEyMzQ1Njc4OTo7PD0-Pw=="
#define RID1 "ZGVmZ2hpamtsbW5vcHFycw=="
#define RID2 "dHV2d3h5ent8fX5_gIGCgw=="
#define KED "MCowBQYDK2VwAyEAAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
#define KX "MCowBQYDK2VuAyEAAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="
#define K448 "MEMwBQYDK2VxAzoAAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMD"
#define DG "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqo="
/* base64url("/var/opt/simplex-xftp/files/" SID1) */
#define PATH1 "L3Zhci9vcHQvc2ltcGxleC14ZnRwL2ZpbGVzL0FBRUNBd1FGQmdjSUNRb0xEQTBPRHc9PQ=="

static void test_reference_log(void **state)
{
    fixture *fx = *state;
    write_text(fx->log,
               "FNEW " SID1 " " KED " 65536 " DG " 1700000000 active\n"
               "FADD " SID1 " " RID1 ":" KED "," RID2 ":" KX "\n"
               "FPUT " SID1 " " PATH1 "\n"
               "FNEW " SID2 " " K448 " 262144 " DG " 1700003600\n"
               "FNEW " SID3 " " KX " 1048576 " DG " 1700007200 blocked,reason=spam,notice={\"ttl\":86400}\n"
               "FBLK " SID2 " reason=content\n"
               "FACK " RID1 "\n"
               "FDEL " SID4 "\n"
               "FNEW " SID1 " " KED " 65536 " DG " 1700000000 active\n" /* duplicate */
               "this is not a record\n"
               "FNEW " SID4 " " KED " 65536\n"                           /* truncated */
               "FNEW " SID4 " " KED " 65536 " DG " 1700000000 active \n" /* trailing space */
               "FDEL " SID4 "\n");
    fx->warnings = 0;
    sx_xftp_fstore *st = open_store(fx, 0);
    /* Parsing errors: 3 lines; processing errors: FDEL x2, duplicate FNEW;
     * plus the differing path, the missing chunk and backup notes. */
    assert_true(fx->warnings >= 6);

    sx_xftp_frec rec;
    sx_xftp_rkey key;
    uint8_t sid1[16], sid2[16], sid3[16], sid4[16], rid1[16], rid2[16];
    id_of_text(SID1, sid1);
    id_of_text(SID2, sid2);
    id_of_text(SID3, sid3);
    id_of_text(SID4, sid4);
    id_of_text(RID1, rid1);
    id_of_text(RID2, rid2);
    assert_ok(sx_xftp_fstore_get_sender(st, sx_slice_of(sid1, 16), &rec));
    assert_int_equal(rec.size, 65536);
    assert_int_equal(rec.created_at, 1700000000);
    assert_true(rec.uploaded);
    assert_int_equal(rec.n_recipients, 1);
    assert_int_equal(rec.status, SX_XFTP_FILE_ACTIVE);
    assert_int_equal(sx_xftp_fstore_get_recipient(st, sx_slice_of(rid1, 16), &rec, &key), SX_E_AUTH);
    assert_ok(sx_xftp_fstore_get_recipient(st, sx_slice_of(rid2, 16), &rec, &key));
    assert_int_equal(key.alg, SX_KEY_X25519);
    assert_ok(sx_xftp_fstore_get_sender(st, sx_slice_of(sid2, 16), &rec));
    assert_int_equal(rec.snd_alg, SX_KEY_ED448);
    assert_int_equal(rec.status, SX_XFTP_FILE_BLOCKED);
    assert_int_equal(rec.blocked.reason, SX_SMP_BLOCK_CONTENT);
    assert_false(rec.blocked.has_notice);
    assert_ok(sx_xftp_fstore_get_sender(st, sx_slice_of(sid3, 16), &rec));
    assert_int_equal(rec.status, SX_XFTP_FILE_BLOCKED);
    assert_int_equal(rec.blocked.reason, SX_SMP_BLOCK_SPAM);
    assert_true(rec.blocked.has_ttl);
    assert_int_equal(rec.blocked.ttl, 86400);
    assert_int_equal(sx_xftp_fstore_get_sender(st, sx_slice_of(sid4, 16), &rec), SX_E_AUTH);
    sx_xftp_fstore_stats s;
    sx_xftp_fstore_stats_get(st, &s);
    assert_int_equal(s.files, 3);
    assert_int_equal(s.used, 65536); /* the stored chunk of SID1; the others are blocked */
    sx_xftp_fstore_close(st);

    /* Compacted into what the reference writes for the same state. */
    char *text = read_text(fx->log);
    assert_non_null(strstr(text, "FNEW " SID1 " " KED " 65536 " DG " 1700000000 active\n"));
    assert_non_null(strstr(text, "FADD " SID1 " " RID2 ":" KX "\n"));
    assert_non_null(strstr(text, "FNEW " SID2 " " K448 " 262144 " DG " 1700003600 blocked,reason=content\n"));
    assert_non_null(strstr(text, "FNEW " SID3 " " KX " 1048576 " DG
                                 " 1700007200 blocked,reason=spam,notice={\"ttl\":86400}\n"));
    assert_non_null(strstr(text, "FPUT " SID1 " "));
    assert_int_equal(count_lines(text, "FNEW "), 3);
    free(text);
}

static void test_bad_lines_warn(void **state)
{
    fixture *fx = *state;
    write_text(fx->log,
               "FNEW " SID1 " " KED " 65536 " DG " 1700000000 active\n"
               "FADD " SID1 " " RID1 ":" KED ",\n" /* empty item */
               "FADD " SID1 " " RID1 ":" KED "\n"
               "FNEW " SID2 " " KED " 65536 " DG " 1700000000 bogus\n"
               "FNEW " SID2 " " KED " 4294967296 " DG " 1\n" /* size over Word32 */
               "FDEL AAEC\n"                                 /* short id */
               "FACK " RID2 "\n"                             /* unknown recipient */
               "\n"
               "FNEW " SID3 " " KED " 65536 " DG " 1700000000"); /* no final newline */
    fx->warnings = 0;
    sx_xftp_fstore *st = open_store(fx, 0);
    sx_xftp_fstore_stats s;
    sx_xftp_fstore_stats_get(st, &s);
    assert_int_equal(s.files, 2);
    assert_int_equal(s.recipients, 1);
    assert_true(fx->warnings >= 5);
    sx_xftp_fstore_close(st);
}

static void test_missing_chunk_file(void **state)
{
    fixture *fx = *state;
    sx_xftp_fstore *st = open_store(fx, 0);
    uint8_t a[16], rids[1][16];
    create_file(st, SX_XFTP_CHUNK_64K, NOW, 1, a, rids);
    write_chunk(st, a);
    assert_ok(sx_xftp_fstore_set_uploaded(st, a, NULL));
    sx_xftp_fstore_close(st);
    char path[512];
    snprintf(path, sizeof path, "%s/", fx->files);
    size_t dl = strlen(path);
    char b64[32];
    assert_ok(sx_b64_encode(sx_slice_of(a, 16), SX_B64_URL, b64, sizeof b64));
    snprintf(path + dl, sizeof path - dl, "%s", b64);
    assert_int_equal(unlink(path), 0);
    fx->warnings = 0;
    st = open_store(fx, 0);
    assert_int_equal(count_warn(fx, "missing"), 1);
    sx_xftp_frec rec;
    assert_ok(sx_xftp_fstore_get_sender(st, sx_slice_of(a, 16), &rec));
    assert_true(rec.uploaded);
    /* Deleting a record whose chunk file is gone works. */
    assert_ok(sx_xftp_fstore_delete(st, a, NULL));
    sx_xftp_fstore_close(st);

    /* A chunk path that cannot be removed (a non-empty folder): FILE_IO and
     * the record stays. */
    st = open_store(fx, 0);
    create_file(st, SX_XFTP_CHUNK_64K, NOW, 1, a, rids);
    assert_ok(sx_xftp_fstore_set_uploaded(st, a, NULL));
    assert_ok(sx_xftp_fstore_path(st, a, path, sizeof path));
    assert_int_equal(mkdir(path, 0700), 0);
    char inner[600];
    snprintf(inner, sizeof inner, "%s/x", path);
    write_text(inner, "x");
    assert_int_equal(sx_xftp_fstore_delete(st, a, NULL), SX_E_IO);
    assert_ok(sx_xftp_fstore_get_sender(st, sx_slice_of(a, 16), &rec));
    unlink(inner);
    rmdir(path);
    assert_ok(sx_xftp_fstore_delete(st, a, NULL));
    char small[8];
    assert_int_equal(sx_xftp_fstore_path(st, a, small, sizeof small), SX_E_LIMIT);
    sx_xftp_fstore_close(st);
}

/* ---- threads ---------------------------------------------------------------- */

typedef struct worker {
    sx_xftp_fstore *st;
    int kept;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < 200; i++) {
        uint8_t sid[16], rids[2][16];
        create_file(w->st, SX_XFTP_CHUNK_64K, NOW, 2, sid, rids);
        if (sx_xftp_fstore_ack(w->st, sx_slice_of(rids[0], 16), NULL) != SX_OK)
            return NULL;
        if (i % 2 == 0) {
            if (sx_xftp_fstore_delete(w->st, sid, NULL) != SX_OK)
                return NULL;
        } else {
            w->kept++;
        }
        sx_xftp_fstore_stats s;
        sx_xftp_fstore_stats_get(w->st, &s);
    }
    return NULL;
}

static void test_threads(void **state)
{
    fixture *fx = *state;
    sx_xftp_fstore *st = open_store(fx, 0);
    enum { NT = 4 };
    pthread_t th[NT];
    worker w[NT];
    for (int i = 0; i < NT; i++) {
        w[i].st = st;
        w[i].kept = 0;
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    size_t expired = 0;
    assert_ok(sx_xftp_fstore_expire(st, NOW, 3600, &expired, NULL)); /* concurrently: nothing is old */
    assert_int_equal(expired, 0);
    int kept = 0;
    for (int i = 0; i < NT; i++) {
        pthread_join(th[i], NULL);
        kept += w[i].kept;
    }
    assert_int_equal(kept, NT * 100);
    sx_xftp_fstore_stats s;
    sx_xftp_fstore_stats_get(st, &s);
    assert_int_equal(s.files, (size_t)kept);
    assert_int_equal(s.recipients, (size_t)kept);
    sx_xftp_fstore_close(st);
    st = open_store(fx, 0);
    sx_xftp_fstore_stats_get(st, &s);
    assert_int_equal(s.files, (size_t)kept);
    assert_int_equal(s.recipients, (size_t)kept);
    assert_ok(sx_xftp_fstore_expire(st, NOW + 10 * 3600, 3600, &expired, NULL));
    assert_int_equal(expired, (size_t)kept);
    sx_xftp_fstore_close(st);
}

/* ---- the writer thread -------------------------------------------------------- */

enum { ORDER_THREADS = 4,
       ORDER_ROUNDS = 60 };

/* One logged change as its caller saw it: the record type, the id the line
 * names, and the sequence number the call gave. */
typedef struct logged_op {
    char word[5];
    uint8_t id[16];
    uint64_t seq;
} logged_op;

typedef struct order_worker {
    sx_xftp_fstore *st;
    const char *log;
    logged_op ops[ORDER_ROUNDS * 4];
    size_t n_ops;
    bool ok;
} order_worker;

static size_t count_all_lines(const char *path)
{
    char *text = read_text(path);
    size_t n = 0;
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    free(text);
    return n;
}

static void add_op(order_worker *w, const char *word, const uint8_t *id, uint64_t seq)
{
    logged_op *op = &w->ops[w->n_ops++];
    snprintf(op->word, sizeof op->word, "%s", word);
    memcpy(op->id, id, 16);
    op->seq = seq;
}

static void *order_work(void *arg)
{
    order_worker *w = arg;
    w->ok = false;
    testkey snd, rk[2];
    sx_xftp_file_info fi;
    make_info(&fi, &snd, SX_XFTP_CHUNK_64K);
    make_key(&rk[0], false, 0x21);
    make_key(&rk[1], true, 0x22);
    sx_smp_pubkey keys[2] = {rk[0].k, rk[1].k};
    for (int i = 0; i < ORDER_ROUNDS; i++) {
        uint8_t sid[16], rids[2][16];
        uint64_t seq = 0;
        if (sx_xftp_fstore_create(w->st, &fi, keys, 2, NOW, sid, rids, &seq) != SX_OK || seq < 2)
            return NULL;
        add_op(w, "FNEW", sid, seq - 1); /* FNEW and FADD, one after the other */
        add_op(w, "FADD", sid, seq);
        if (sx_xftp_fstore_ack(w->st, sx_slice_of(rids[0], 16), &seq) != SX_OK || seq == 0)
            return NULL;
        add_op(w, "FACK", rids[0], seq);
        if (i % 3 == 0) {
            if (sx_xftp_fstore_delete(w->st, sid, &seq) != SX_OK || seq == 0)
                return NULL;
            add_op(w, "FDEL", sid, seq);
        }
        if (i % 10 == 0) {
            /* Once it is durable, the line is in the file, and so is every
             * line before it. */
            if (sx_xftp_fstore_wait_durable(w->st, seq) != SX_OK ||
                sx_xftp_fstore_log_status(w->st, seq) != SX_OK || count_all_lines(w->log) < seq)
                return NULL;
        }
    }
    w->ok = true;
    return NULL;
}

/* Records of many threads reach the file in the order of their sequence
 * numbers, which the calls handed out under the store's lock together with
 * the changes: line k of the file (after the compacted part) is the record
 * numbered k, and each caller's records are where it was told. */
static void test_writer_order(void **state)
{
    fixture *fx = *state;
    sx_xftp_fstore *st = open_store(fx, 0);
    assert_int_equal(count_all_lines(fx->log), 0); /* nothing to compact */
    static order_worker w[ORDER_THREADS];
    pthread_t th[ORDER_THREADS];
    for (int i = 0; i < ORDER_THREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].st = st;
        w[i].log = fx->log;
        assert_int_equal(pthread_create(&th[i], NULL, order_work, &w[i]), 0);
    }
    size_t total = 0;
    uint64_t max_seq = 0;
    for (int i = 0; i < ORDER_THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_true(w[i].ok);
        total += w[i].n_ops;
        for (size_t k = 0; k < w[i].n_ops; k++)
            if (w[i].ops[k].seq > max_seq)
                max_seq = w[i].ops[k].seq;
    }
    sx_xftp_fstore_close(st); /* the writer writes what is queued first */
    assert_int_equal(max_seq, total);

    char *text = read_text(fx->log);
    char **lines = calloc(total + 1, sizeof *lines);
    size_t n = 0;
    for (char *p = text; *p && n <= total;) {
        lines[n++] = p;
        char *nl = strchr(p, '\n');
        assert_non_null(nl);
        *nl = '\0';
        p = nl + 1;
    }
    assert_int_equal(n, total);
    for (int i = 0; i < ORDER_THREADS; i++) {
        for (size_t k = 0; k < w[i].n_ops; k++) {
            const logged_op *op = &w[i].ops[k];
            char b64[32], want[48];
            assert_ok(sx_b64_encode(sx_slice_of(op->id, 16), SX_B64_URL, b64, sizeof b64));
            snprintf(want, sizeof want, "%s %s", op->word, b64);
            const char *line = lines[op->seq - 1];
            if (strncmp(line, want, strlen(want)) != 0)
                fail_msg("record %llu: want '%s...', file has '%.60s'", (unsigned long long)op->seq, want, line);
            /* A thread's own records are in the order it made them. */
            if (k > 0)
                assert_true(op->seq > w[i].ops[k - 1].seq);
        }
    }
    free(lines);
    free(text);
}

/* The log cannot be written (this process's file size limit): a change
 * already queued is made in memory but its record never reaches the file,
 * which the caller learns from log_status / wait_durable; from then on the
 * store refuses every change (SX_E_IO, nothing changed), and a restart has
 * only what was written. */
static void test_writer_failure(void **state)
{
    fixture *fx = *state;
    sx_xftp_fstore *st = open_store(fx, 0);
    uint8_t a[16], c[16], rids[2][16], c_rids[1][16];
    testkey snd, rk;
    sx_xftp_file_info fi;
    make_info(&fi, &snd, SX_XFTP_CHUNK_64K);
    make_key(&rk, false, 0x31);
    sx_smp_pubkey keys[2] = {rk.k, rk.k};
    uint64_t seq_a = 0, seq_ack = 0, seq = 0;
    assert_ok(sx_xftp_fstore_create(st, &fi, keys, 2, NOW, a, rids, &seq_a));
    assert_int_equal(seq_a, 2);
    assert_ok(sx_xftp_fstore_wait_durable(st, seq_a));
    assert_ok(sx_xftp_fstore_log_status(st, 0));

    struct stat sb;
    assert_int_equal(stat(fx->log, &sb), 0);
    struct rlimit old_lim, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old_lim), 0);
    void (*old_sig)(int) = signal(SIGXFSZ, SIG_IGN);
    lim.rlim_cur = (rlim_t)sb.st_size;
    lim.rlim_max = old_lim.rlim_max;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);

    /* One record, queued while the log still worked: made, kept by the
     * writer to try again, never written (the disk never gets room). */
    assert_ok(sx_xftp_fstore_ack(st, sx_slice_of(rids[0], 16), &seq_ack));
    assert_int_equal(seq_ack, 3);
    assert_int_equal(sx_xftp_fstore_wait_durable(st, seq_ack), SX_E_IO);
    assert_int_equal(sx_xftp_fstore_log_status(st, seq_ack), SX_E_WOULD_BLOCK);
    assert_ok(sx_xftp_fstore_log_status(st, seq_a)); /* written before */
    sx_xftp_frec rec;
    sx_xftp_rkey key;
    assert_int_equal(sx_xftp_fstore_get_recipient(st, sx_slice_of(rids[0], 16), &rec, &key), SX_E_AUTH);
    /* Refused from now on. */
    assert_int_equal(sx_xftp_fstore_create(st, &fi, keys, 1, NOW, c, c_rids, &seq), SX_E_IO);
    assert_int_equal(seq, 0);
    assert_int_equal(sx_xftp_fstore_delete(st, a, &seq), SX_E_IO);
    assert_int_equal(sx_xftp_fstore_ack(st, sx_slice_of(rids[1], 16), &seq), SX_E_IO);
    assert_ok(sx_xftp_fstore_get_recipient(st, sx_slice_of(rids[1], 16), &rec, &key));
    sx_xftp_fstore_stats s;
    sx_xftp_fstore_stats_get(st, &s);
    assert_int_equal(s.files, 1);
    assert_int_equal(s.recipients, 1);
    sx_xftp_fstore_close(st);

    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old_lim), 0);
    signal(SIGXFSZ, old_sig);
    struct stat sb2;
    assert_int_equal(stat(fx->log, &sb2), 0);
    assert_int_equal(sb2.st_size, sb.st_size);
    /* The unwritten FACK is not replayed: both recipients are back. */
    st = open_store(fx, 0);
    assert_ok(sx_xftp_fstore_get_recipient(st, sx_slice_of(rids[0], 16), &rec, &key));
    assert_int_equal(rec.n_recipients, 2);
    sx_xftp_fstore_close(st);
}

/* A full disk that gets room again: the record kept by the writer is
 * written by a later attempt, its answer may go out, and changes are taken
 * again without a restart. */
static void test_writer_recovers(void **state)
{
    fixture *fx = *state;
    sx_xftp_fstore *st = open_store(fx, 0);
    uint8_t a[16], c[16], rids[2][16], c_rids[1][16];
    testkey snd, rk;
    sx_xftp_file_info fi;
    make_info(&fi, &snd, SX_XFTP_CHUNK_64K);
    make_key(&rk, false, 0x32);
    sx_smp_pubkey keys[2] = {rk.k, rk.k};
    uint64_t seq_a = 0, seq_ack = 0, seq = 0;
    assert_ok(sx_xftp_fstore_create(st, &fi, keys, 2, NOW, a, rids, &seq_a));
    assert_ok(sx_xftp_fstore_wait_durable(st, seq_a));

    struct stat sb;
    assert_int_equal(stat(fx->log, &sb), 0);
    struct rlimit old_lim, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old_lim), 0);
    void (*old_sig)(int) = signal(SIGXFSZ, SIG_IGN);
    lim.rlim_cur = (rlim_t)sb.st_size;
    lim.rlim_max = old_lim.rlim_max;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    assert_ok(sx_xftp_fstore_ack(st, sx_slice_of(rids[0], 16), &seq_ack));
    assert_int_equal(sx_xftp_fstore_wait_durable(st, seq_ack), SX_E_IO); /* failing now */
    assert_int_equal(sx_xftp_fstore_log_status(st, seq_ack), SX_E_WOULD_BLOCK);
    assert_int_equal(sx_xftp_fstore_create(st, &fi, keys, 1, NOW, c, c_rids, &seq), SX_E_IO);

    /* Room again: within a few attempts the kept record is written. */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old_lim), 0);
    signal(SIGXFSZ, old_sig);
    sx_status ls = SX_E_WOULD_BLOCK;
    for (int i = 0; i < 100 && ls == SX_E_WOULD_BLOCK; i++) {
        ls = sx_xftp_fstore_log_status(st, seq_ack);
        if (ls == SX_E_WOULD_BLOCK)
            usleep(50 * 1000);
    }
    assert_int_equal(ls, SX_OK);
    struct stat sb2;
    assert_int_equal(stat(fx->log, &sb2), 0);
    assert_true(sb2.st_size > sb.st_size);
    /* and changes are taken again */
    seq = 0;
    assert_ok(sx_xftp_fstore_create(st, &fi, keys, 1, NOW, c, c_rids, &seq));
    assert_ok(sx_xftp_fstore_wait_durable(st, seq));
    sx_xftp_fstore_close(st);

    /* A restart has both: the FACK and the new file. */
    st = open_store(fx, 0);
    sx_xftp_frec rec;
    sx_xftp_rkey key;
    assert_int_equal(sx_xftp_fstore_get_recipient(st, sx_slice_of(rids[0], 16), &rec, &key), SX_E_AUTH);
    assert_ok(sx_xftp_fstore_get_recipient(st, sx_slice_of(rids[1], 16), &rec, &key));
    assert_int_equal(rec.n_recipients, 1);
    assert_ok(sx_xftp_fstore_get_recipient(st, sx_slice_of(c_rids[0], 16), &rec, &key));
    sx_xftp_fstore_close(st);
}

/* ---- lines ------------------------------------------------------------------ */

static void roundtrip(const char *line)
{
    sx_xftp_flog_rec r;
    assert_ok(sx_xftp_flog_parse(sx_slice_of(line, strlen(line)), &r));
    sx_writer w;
    sx_writer_init_dynamic(&w, 1 << 20);
    assert_true(sx_xftp_flog_encode(&w, &r));
    assert_int_equal(w.len, strlen(line));
    assert_memory_equal(w.buf, line, w.len);
    sx_writer_cleanup(&w);
    sx_xftp_flog_cleanup(&r);
}

static void test_lines(void **state)
{
    (void)state;
    roundtrip("FNEW " SID1 " " KED " 65536 " DG " 1700000000 active");
    roundtrip("FNEW " SID1 " " KED " 65536 " DG " -5 off");
    roundtrip("FNEW " SID1 " " KED " 65536 " DG " 1700000000 blocked,reason=spam,notice={}");
    roundtrip("FADD " SID1 " " RID1 ":" KED "," RID2 ":" K448);
    roundtrip("FPUT " SID1 " " PATH1);
    roundtrip("FDEL " SID1);
    roundtrip("FBLK " SID1 " reason=spam");
    roundtrip("FACK " RID1);

    /* Unpadded base64 is accepted. */
    sx_xftp_flog_rec r;
    const char *unpadded = "FDEL AAECAwQFBgcICQoLDA0ODw";
    assert_ok(sx_xftp_flog_parse(sx_slice_of(unpadded, strlen(unpadded)), &r));
    sx_xftp_flog_cleanup(&r);

    /* Truncation at every offset: never a crash; the few prefixes that are
     * whole lines themselves re-encode. */
    const char *full = "FNEW " SID1 " " KED " 65536 " DG " 1700000000 blocked,reason=spam,notice={\"ttl\":5}";
    for (size_t n = 0; n < strlen(full); n++) {
        sx_status st = sx_xftp_flog_parse(sx_slice_of(full, n), &r);
        if (st == SX_OK)
            sx_xftp_flog_cleanup(&r);
    }
    const char *fadd = "FADD " SID1 " " RID1 ":" KED "," RID2 ":" KX;
    for (size_t n = 0; n < strlen(fadd); n++) {
        sx_status st = sx_xftp_flog_parse(sx_slice_of(fadd, n), &r);
        if (st == SX_OK)
            sx_xftp_flog_cleanup(&r);
    }
    /* Trailing bytes. */
    const char *bad[] = {
        "FDEL " SID1 " ",
        "FDEL " SID1 "x!",
        "FACK " RID1 ",",
        "FBLK " SID1 " reason=spam,",
        "FBLK " SID1 " reason=other",
        "FADD " SID1 " " RID1 ":" KED ",",
        "FADD " SID1 " " RID1 ":" KED ":",
        "FADD " SID1,
        "FPUT " SID1 " AA", /* decodes to a NUL */
        "FPUT " SID1,
        "fdel " SID1,
        "FNEW " SID1 " " KED " 65536  1700000000",
        "FNEW " SID1 " " KED " -1 " DG " 1",
        "FNEW " SID1 " MCowBQYDK2VwAyEAAQ== 65536 " DG " 1",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sx_status st = sx_xftp_flog_parse(sx_slice_of(bad[i], strlen(bad[i])), &r);
        if (st == SX_OK)
            fail_msg("accepted: %s", bad[i]);
    }
    /* Oversize: a digest over 255 bytes, more than 1024 recipients, huge ints. */
    char big[2048];
    char dg[400];
    memset(dg, 'A', 344);
    dg[344] = '\0';
    snprintf(big, sizeof big, "FNEW " SID1 " " KED " 65536 %s 1", dg);
    assert_int_equal(sx_xftp_flog_parse(sx_slice_of(big, strlen(big)), &r), SX_E_LIMIT);
    const char *huge = "FNEW " SID1 " " KED " 65536 " DG " 99999999999999999999";
    assert_int_equal(sx_xftp_flog_parse(sx_slice_of(huge, strlen(huge)), &r), SX_E_LIMIT);
    size_t item = strlen(RID1 ":" KED ",");
    size_t cap = 64 + item * (SX_XFTP_MAX_RECIPIENTS + 1);
    char *many = malloc(cap);
    size_t off = (size_t)snprintf(many, cap, "FADD " SID1 " ");
    for (int i = 0; i <= SX_XFTP_MAX_RECIPIENTS; i++)
        off += (size_t)snprintf(many + off, cap - off, "%s" RID1 ":" KED, i ? "," : "");
    assert_int_equal(sx_xftp_flog_parse(sx_slice_of(many, off), &r), SX_E_LIMIT);
    free(many);

    /* The encoder refuses records the reference could not read back. */
    sx_writer w;
    sx_writer_init_dynamic(&w, 1 << 16);
    memset(&r, 0, sizeof r);
    r.type = SX_XFTP_FLOG_FADD;
    assert_false(sx_xftp_flog_encode(&w, &r));
    sx_writer_cleanup(&w);
}

/* PROTOCOL-NOTES E26a: a byte changed in the middle of the store log (in
 * the second file's FNEW, so that the line still parses) is reported with
 * its line number at the next open and the record skipped; the other files
 * are restored. */
static void test_damaged_line(void **state)
{
    fixture *fx = *state;
    sx_xftp_fstore *st = open_store(fx, 0);
    uint8_t a[16], b[16], c[16], rids[1][16];
    create_file(st, SX_XFTP_CHUNK_64K, NOW, 1, a, rids);
    create_file(st, SX_XFTP_CHUNK_64K, NOW, 1, b, rids);
    create_file(st, SX_XFTP_CHUNK_64K, NOW, 1, c, rids);
    sx_xftp_fstore_close(st);
    char *text = read_text(fx->log);
    /* the second FNEW line (b's), and its number */
    char *fnew_b = strstr(strstr(text, "FNEW ") + 1, "\nFNEW ");
    assert_non_null(fnew_b);
    fnew_b++;
    int lineno = 1;
    for (const char *p = text; p < fnew_b; p++)
        lineno += *p == '\n';
    fnew_b[9] = fnew_b[9] == 'B' ? 'C' : 'B';
    char want[128];
    snprintf(want, sizeof want, "file-server-store.log, line %d: damaged (its checksum does not match), skipped",
             lineno);
    FILE *f = fopen(fx->log, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(text);
    fx->warnings = 0;
    st = open_store(fx, 0);
    assert_int_equal(count_warn(fx, want), 1);
    assert_int_equal(count_warn(fx, "1 damaged lines skipped"), 1);
    sx_xftp_frec rec;
    assert_ok(sx_xftp_fstore_get_sender(st, sx_slice_of(a, 16), &rec));
    assert_int_equal(sx_xftp_fstore_get_sender(st, sx_slice_of(b, 16), &rec), SX_E_AUTH);
    assert_ok(sx_xftp_fstore_get_sender(st, sx_slice_of(c, 16), &rec));
    sx_xftp_fstore_stats s;
    sx_xftp_fstore_stats_get(st, &s);
    assert_int_equal(s.files, 2);
    sx_xftp_fstore_close(st);
    /* compacted with checksums of its own: the next open reports nothing */
    fx->warnings = 0;
    st = open_store(fx, 0);
    assert_int_equal(count_warn(fx, "damaged"), 0);
    assert_int_equal(count_warn(fx, "checksum"), 0);
    sx_xftp_fstore_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_get_ack_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits_and_usage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quota, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expire_boundary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expire_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_reproduces_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_recovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reference_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_lines_warn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_chunk_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_recovers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_line, setup, teardown),
        cmocka_unit_test(test_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
