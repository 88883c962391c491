/* Unit tests of `journal import|export|delete` (smp_router/jmigrate.h): a
 * messages log as a clean stop writes it goes into the journal folder and
 * comes back line for line; a full queue keeps its quota marker (and stays
 * full); messages of unknown queues are dropped only with skip_warnings. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storelog_util.h"

#include "smp_router/jmigrate.h"

static char dir[256], log_path[300], jdir[300];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/test_jmigrate.%d", (int)getpid());
    tu_rm_rf(dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(log_path, sizeof log_path, "%s/smp-server-messages.log", dir);
    snprintf(jdir, sizeof jdir, "%s/messages", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rm_rf(dir);
    return 0;
}

static void add_queue(sx_store *st, uint8_t rid_start)
{
    sx_slrec r;
    fill_queue(&r);
    tu_bytes_seq(r.rid, SX_ID_LEN, rid_start);
    tu_bytes_seq(r.q.sid, SX_ID_LEN, (uint8_t)(rid_start + 100));
    sx_kit_log_opts o = quiet_opts();
    assert_ok(sx_slrec_apply(st, NULL, &r, &o));
}

/* The messages log: queue 1 with 3 messages, queue 40 full (quota messages
 * and the marker), and when stray, one line for a queue that does not exist. */
static char *make_log(bool stray, size_t *n_lines, int64_t quota)
{
    static char text[1 << 22];
    size_t o = 0;
    *n_lines = 0;
    sx_writer w;
    sx_writer_init_dynamic(&w, SX_JMSG_LINE_MAX + 128);
    for (int q = 0; q < 3; q++) {
        uint8_t start = q == 0 ? 1 : q == 1 ? 40
                                            : 200;
        if (q == 2 && !stray)
            break;
        int64_t count = q == 1 ? quota + 1 : 3;
        for (int64_t i = 0; i < count; i++) {
            sx_slmsg m = {0};
            tu_bytes_seq(m.rid, SX_ID_LEN, start);
            memset(m.msg_id, (int)(i + 1), SX_ID_LEN);
            m.msg_id[0] = start;
            m.ts = 1700000000 + i;
            m.notify = i % 2;
            m.quota = q == 1 && i == quota;
            char body[32];
            int bl = snprintf(body, sizeof body, "msg %d/%lld", start, (long long)i);
            m.body = sx_slice_of((const uint8_t *)body, (size_t)bl);
            w.len = 0;
            assert_true(sx_slmsg_encode(&w, &m));
            memcpy(text + o, w.buf, w.len);
            o += w.len;
            text[o++] = '\n';
            ++*n_lines;
        }
    }
    text[o] = 0;
    sx_writer_cleanup(&w);
    return text;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
}

static char *read_all_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[1 << 22];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The lines of text, sorted, joined again. */
static char *sorted(const char *text)
{
    char *copy = strdup(text);
    size_t n = 0, cap = 1024;
    char **lines = malloc(cap * sizeof *lines);
    for (char *save, *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (n == cap)
            lines = realloc(lines, (cap *= 2) * sizeof *lines);
        lines[n++] = l;
    }
    qsort(lines, n, sizeof *lines, cmp_str);
    char *out = malloc(strlen(text) + 2);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = strlen(lines[i]);
        memcpy(out + o, lines[i], k);
        o += k;
        out[o++] = '\n';
    }
    out[o] = 0;
    free(lines);
    free(copy);
    return out;
}

static sx_jstore *open_js(void)
{
    sx_jstore_cfg c;
    sx_jstore_cfg_default(&c, jdir);
    c.warn = count_warn;
    sx_jstore *js;
    assert_ok(sx_jstore_open(&c, &js));
    return js;
}

static void test_round_trip(void **state)
{
    (void)state;
    size_t n;
    char *text = make_log(false, &n, SX_QUEUE_QUOTA);
    char *want = sorted(text);
    write_text(log_path, text);
    sx_store *st;
    assert_ok(sx_store_new(&st));
    add_queue(st, 1);
    add_queue(st, 40);
    sx_jstore *js = open_js();
    sx_msglog_stats s = {0};
    sx_msglog_opts o = {.warn = count_warn};
    assert_ok(sx_jmigrate_import(log_path, st, js, &o, &s));
    assert_int_equal(s.stored, n - 1); /* the marker is not counted as a message */
    assert_int_equal(access(log_path, F_OK), -1);
    char bak[400];
    snprintf(bak, sizeof bak, "%s.bak", log_path);
    assert_int_equal(access(bak, F_OK), 0);
    /* the full queue stays full in the journal */
    uint8_t rid[SX_ID_LEN];
    tu_bytes_seq(rid, SX_ID_LEN, 40);
    sx_jmsg *m = calloc(1, sizeof *m);
    sx_jwrite r;
    assert_ok(sx_jstore_write(js, rid, m, &r, NULL));
    assert_int_equal(r, SX_JW_FULL);
    int64_t size;
    assert_ok(sx_jstore_size(js, rid, &size));
    assert_int_equal(size, SX_QUEUE_QUOTA + 1);
    free(m);
    sx_jstore_close(js);

    /* export from a store that reopens the folder */
    js = open_js();
    size_t saved, bad;
    assert_ok(sx_jmigrate_export(st, js, log_path, &saved, &bad));
    assert_int_equal(saved, n);
    assert_int_equal(bad, 0);
    char *got = sorted(read_all_text(log_path));
    assert_string_equal(got, want);
    free(got);
    free(want);
    sx_jstore_close(js);
    sx_store_free(st);
    assert_ok(sx_jmigrate_delete(jdir));
    assert_int_equal(access(jdir, F_OK), -1);
}

static void test_unknown_queue(void **state)
{
    (void)state;
    size_t n;
    write_text(log_path, make_log(true, &n, SX_QUEUE_QUOTA));
    sx_store *st;
    assert_ok(sx_store_new(&st));
    add_queue(st, 1);
    add_queue(st, 40);
    sx_jstore *js = open_js();
    sx_msglog_stats s = {0};
    sx_msglog_opts o = {.warn = count_warn};
    /* without skip_warnings nothing is imported and the file stays */
    assert_int_equal(sx_jmigrate_import(log_path, st, js, &o, &s), SX_E_PROTOCOL);
    assert_int_equal(access(log_path, F_OK), 0);
    o.skip_warnings = true;
    sx_store_free(st);
    assert_ok(sx_store_new(&st));
    add_queue(st, 1);
    add_queue(st, 40);
    memset(&s, 0, sizeof s);
    assert_ok(sx_jmigrate_import(log_path, st, js, &o, &s));
    assert_int_equal(s.stored, n - 3 - 1);
    sx_jstore_close(js);
    sx_store_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_queue, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
