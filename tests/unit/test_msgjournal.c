/* Unit tests of the message journal (smp_router/msgjournal.h): its record
 * lines and their parser (truncated, oversized, trailing input), replay,
 * the start-up sequence after each kind of stop or crash, the log writer's
 * retry after a failed write, and compaction while records keep coming. */
#include "testutil.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "storelog_util.h"

#include "kit/logwriter.h"
#include "smp_router/msgjournal.h"

static void add_queue(sx_store *st, uint8_t rid_start, uint8_t sid_start)
{
    sx_slrec r;
    fill_queue(&r);
    tu_bytes_seq(r.rid, SX_ID_LEN, rid_start);
    tu_bytes_seq(r.q.sid, SX_ID_LEN, sid_start);
    sx_kit_log_opts o = quiet_opts();
    assert_ok(sx_slrec_apply(st, NULL, &r, &o));
}

static sx_queue *queue_at(sx_store *st, uint8_t rid_start)
{
    uint8_t rid[SX_ID_LEN];
    tu_bytes_seq(rid, SX_ID_LEN, rid_start);
    sx_queue *q = sx_store_find(st, SX_PARTY_RECIPIENT, sx_slice_of(rid, SX_ID_LEN));
    assert_non_null(q);
    return q;
}

/* A queue's messages as "body,body,..." (quota marker: "Q"). */
static char *bodies(sx_store *st, uint8_t rid_start)
{
    static char out[8192];
    size_t o = 0;
    out[0] = 0;
    sx_queue *q = queue_at(st, rid_start);
    sx_queue_lock(q);
    for (const sx_msg *m = q->head; m; m = m->next) {
        int n = m->quota ? snprintf(out + o, sizeof out - o, "%sQ", o ? "," : "")
                         : snprintf(out + o, sizeof out - o, "%s%.*s", o ? "," : "", (int)m->len, m->body);
        assert_true(n > 0 && (size_t)n < sizeof out - o);
        o += (size_t)n;
    }
    sx_queue_unlock(q);
    sx_queue_release(st, q);
    return out;
}

static char *rec_line(const sx_mjrec *r)
{
    sx_writer w;
    sx_writer_init_dynamic(&w, 65536);
    assert_true(sx_mjrec_encode(&w, r));
    assert_true(sx_write_u8(&w, 0));
    char *s = strdup((const char *)w.buf);
    sx_writer_cleanup(&w);
    return s;
}

/* A message record of queue rid_start with id id_start. */
static sx_mjrec msg_rec(uint8_t rid_start, uint8_t id_start, int64_t ts, const char *body)
{
    sx_mjrec r = {.type = SX_MJ_MSG};
    tu_bytes_seq(r.msg.rid, SX_ID_LEN, rid_start);
    tu_bytes_seq(r.msg.msg_id, SX_ID_LEN, id_start);
    r.msg.ts = ts;
    if (body)
        r.msg.body = sx_slice_str(body);
    else
        r.msg.quota = true;
    return r;
}

static sx_mjrec id_rec(sx_mjrec_type t, uint8_t rid_start, uint8_t id_start)
{
    sx_mjrec r = {.type = t};
    tu_bytes_seq(r.msg.rid, SX_ID_LEN, rid_start);
    tu_bytes_seq(r.msg.msg_id, SX_ID_LEN, id_start);
    return r;
}

static void test_records_exact(void **state)
{
    (void)state;
    sx_mjrec a = id_rec(SX_MJ_ACK, 0x01, 0x61);
    char *l = rec_line(&a);
    assert_string_equal(l, "ack " RID " YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4");
    sx_mjrec p;
    assert_ok(sx_mjrec_parse(sx_slice_str(l), &p));
    assert_int_equal(p.type, SX_MJ_ACK);
    assert_memory_equal(p.msg.rid, a.msg.rid, SX_ID_LEN);
    assert_memory_equal(p.msg.msg_id, a.msg.msg_id, SX_ID_LEN);
    sx_mjrec_cleanup(&p);
    free(l);

    sx_mjrec rs = id_rec(SX_MJ_RESET, 0x01, 0);
    l = rec_line(&rs);
    assert_string_equal(l, "reset " RID);
    assert_ok(sx_mjrec_parse(sx_slice_str(l), &p));
    assert_int_equal(p.type, SX_MJ_RESET);
    assert_memory_equal(p.msg.rid, rs.msg.rid, SX_ID_LEN);
    sx_mjrec_cleanup(&p);
    free(l);

    sx_mjrec sn = {.type = SX_MJ_SNAPSHOT};
    l = rec_line(&sn);
    assert_string_equal(l, "snapshot");
    assert_ok(sx_mjrec_parse(sx_slice_str(l), &p));
    assert_int_equal(p.type, SX_MJ_SNAPSHOT);
    free(l);

    /* A message is exactly the line of smp-server-messages.log. */
    sx_mjrec m = msg_rec(0x01, 0x61, DAY0 - 100, "fixed data");
    m.msg.notify = true;
    l = rec_line(&m);
    assert_string_equal(l, "v3 " RID " YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4 1718927900 flags=T " FIXED);
    assert_ok(sx_mjrec_parse(sx_slice_str(l), &p));
    assert_int_equal(p.type, SX_MJ_MSG);
    assert_true(p.msg.notify);
    assert_true(sx_slice_eq(p.msg.body, sx_slice_str("fixed data")));
    sx_mjrec_cleanup(&p);
    free(l);
    sx_mjrec qm = msg_rec(0x01, 0x61, DAY0, NULL);
    l = rec_line(&qm);
    assert_string_equal(l, "v3 " RID " YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4 1718928000 quota");
    assert_ok(sx_mjrec_parse(sx_slice_str(l), &p));
    assert_true(p.msg.quota);
    sx_mjrec_cleanup(&p);
    free(l);
}

static void expect_bad(const char *line, sx_status want)
{
    sx_mjrec p;
    sx_status st = sx_mjrec_parse(sx_slice_str(line), &p);
    if (st == SX_OK)
        fail_msg("parsed: \"%s\"", line);
    if (want != SX_OK)
        assert_int_equal(st, want);
}

static void test_records_malformed(void **state)
{
    (void)state;
    /* Every proper prefix of the id records fails (the ids are fixed
     * length); so does each with something after it. */
    const char *lines[] = {("ack " RID " YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4"), ("reset " RID), "snapshot"};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        size_t n = strlen(lines[i]);
        for (size_t k = 0; k < n; k++) {
            sx_mjrec p;
            if (sx_mjrec_parse(sx_slice_of((const uint8_t *)lines[i], k), &p) == SX_OK)
                fail_msg("prefix %zu of \"%s\" parsed", k, lines[i]);
        }
        char buf[256];
        snprintf(buf, sizeof buf, "%s ", lines[i]);
        expect_bad(buf, SX_OK);
        snprintf(buf, sizeof buf, "%sx", lines[i]);
        expect_bad(buf, SX_OK);
        snprintf(buf, sizeof buf, "%s %s", lines[i], RID);
        expect_bad(buf, SX_OK);
    }
    expect_bad("", SX_OK);
    expect_bad("ACK " RID " " RID, SX_OK);
    expect_bad("ack " RID, SX_OK);
    expect_bad("ack  " RID " " RID, SX_OK);
    expect_bad("reset AQID", SX_OK);        /* an id too short */
    expect_bad("reset " RID "AQID", SX_OK); /* too long */
    expect_bad("v4 " RID " " RID " 1 quota", SX_OK);
    expect_bad("v3 " RID " " RID " 1 quota x", SX_OK);
    /* A body over the longest message is refused as such. */
    size_t big = (SX_MSG_BODY_MAX + 3) / 3 * 4 + 8;
    char *line = malloc(big + 128);
    assert_non_null(line);
    int n = snprintf(line, 128, "v3 %s %s 1 flags=F ", RID, RID);
    memset(line + n, 'A', big);
    line[n + big] = 0;
    expect_bad(line, SX_E_LIMIT);
    free(line);
}

/* Writes lines (each followed by '\n') to path. */
static void write_lines(const char *path, const sx_mjrec *recs, size_t n, const char *extra_at_end)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++) {
        char *l = rec_line(&recs[i]);
        fprintf(f, "%s\n", l);
        free(l);
    }
    if (extra_at_end)
        fputs(extra_at_end, f);
    assert_int_equal(fclose(f), 0);
}

static sx_store *three_queues(void)
{
    sx_store *st;
    assert_ok(sx_store_new(&st));
    add_queue(st, 0x01, 0x11);
    add_queue(st, 0x21, 0x31);
    add_queue(st, 0x41, 0x51);
    return st;
}

static void test_replay(void **state)
{
    (void)state;
    make_tmpdir();
    sx_mjrec recs[] = {
        msg_rec(0x01, 0x61, DAY0, "a1"),
        msg_rec(0x01, 0x62, DAY0, "a2"),
        msg_rec(0x21, 0x63, DAY0, "b1"),
        id_rec(SX_MJ_ACK, 0x01, 0x61),
        id_rec(SX_MJ_ACK, 0x01, 0x70),               /* not the head: nothing */
        msg_rec(0x99, 0x64, DAY0, "gone"),           /* a deleted queue */
        msg_rec(0x01, 0x65, DAY0 - 10 * DAY, "old"), /* expired */
        msg_rec(0x01, 0x66, DAY0, "a3"),
        id_rec(SX_MJ_RESET, 0x21, 0),
        msg_rec(0x21, 0x67, DAY0, "b2"),
    };
    write_lines(tpath("j"), recs, sizeof recs / sizeof recs[0], "v3 cut by a cra");
    sx_store *st = three_queues();
    sx_msglog_opts mo = quiet_mopts();
    mo.expire = true;
    mo.expire_before = DAY0 - DAY;
    n_warnings = 0;
    sx_msgjournal_stats js;
    assert_ok(sx_msgjournal_replay(tpath("j"), st, &mo, &js));
    assert_int_equal(js.lines, 11);
    assert_int_equal(js.bad_lines, 1);
    assert_int_equal(js.stored, 5);
    assert_int_equal(js.acked, 1);
    assert_int_equal(js.expired, 1);
    assert_int_equal(js.unknown, 1);
    assert_int_equal(n_warnings, 1);
    assert_string_equal(bodies(st, 0x01), "a2,a3");
    assert_string_equal(bodies(st, 0x21), "b2");
    assert_string_equal(bodies(st, 0x41), "");

    /* A snapshot line drops everything before it. */
    sx_mjrec recs2[] = {msg_rec(0x41, 0x71, DAY0, "c1"), {.type = SX_MJ_SNAPSHOT}, msg_rec(0x21, 0x72, DAY0, "b9")};
    write_lines(tpath("j2"), recs2, 3, NULL);
    assert_ok(sx_msgjournal_replay(tpath("j2"), st, &mo, &js));
    assert_string_equal(bodies(st, 0x01), "");
    assert_string_equal(bodies(st, 0x21), "b9");
    assert_string_equal(bodies(st, 0x41), "");
    /* A missing journal replays nothing. */
    assert_ok(sx_msgjournal_replay(tpath("none"), st, &mo, &js));
    assert_int_equal(js.lines, 0);
    sx_store_free(st);
    remove_tmpdir();
}

static sx_status start(sx_store *st, sx_kit_log **log, sx_msgjournal_stats *js)
{
    sx_msgjournal_paths p = {.journal = tpath("wal"), .msgs_log = tpath("msgs.log")};
    sx_msglog_opts mo = quiet_mopts();
    sx_kit_log_opts lo = quiet_opts();
    sx_msglog_stats ms;
    return sx_msgjournal_start(&p, st, &mo, &lo, &ms, js, log);
}

static void test_start_sequence(void **state)
{
    (void)state;
    make_tmpdir();
    sx_msgjournal_stats js;
    sx_kit_log *log;

    /* 1. After a crash: the journal alone, replayed and compacted. */
    sx_mjrec j1[] = {msg_rec(0x01, 0x61, DAY0, "a1"), msg_rec(0x01, 0x62, DAY0, "a2"),
                     id_rec(SX_MJ_ACK, 0x01, 0x61)};
    write_lines(tpath("wal"), j1, 3, NULL);
    sx_store *st = three_queues();
    assert_ok(start(st, &log, &js));
    assert_int_equal(js.stored, 2);
    assert_string_equal(bodies(st, 0x01), "a2");
    sx_kit_log_close(log);
    char *text = read_file(tpath("wal"));
    assert_non_null(text);
    assert_int_equal(strncmp(text, "snapshot\nv3 ", 12), 0);
    assert_int_equal(count_lines(text), 2);
    free(text);
    assert_false(exists(tpath("wal.next")));
    sx_store_free(st);

    /* 2. A crash during a compaction: the journal, then .next. */
    sx_mjrec j2[] = {msg_rec(0x21, 0x63, DAY0, "b1"), id_rec(SX_MJ_ACK, 0x01, 0x62)};
    write_lines(tpath("wal.next"), j2, 2, NULL);
    st = three_queues();
    assert_ok(start(st, &log, &js));
    assert_string_equal(bodies(st, 0x01), "");
    assert_string_equal(bodies(st, 0x21), "b1");
    sx_kit_log_close(log);
    assert_false(exists(tpath("wal.next")));
    sx_store_free(st);

    /* 3. A crash in the start-up sequence after .next got the snapshot: the
     * old journal, then the snapshot that replaces it. */
    sx_mjrec old[] = {msg_rec(0x41, 0x64, DAY0, "stale"), msg_rec(0x21, 0x63, DAY0, "b1")};
    write_lines(tpath("wal"), old, 2, NULL);
    sx_mjrec snap[] = {{.type = SX_MJ_SNAPSHOT}, msg_rec(0x21, 0x63, DAY0, "b1")};
    write_lines(tpath("wal.next"), snap, 2, NULL);
    st = three_queues();
    assert_ok(start(st, &log, &js));
    assert_string_equal(bodies(st, 0x21), "b1");
    assert_string_equal(bodies(st, 0x41), "");
    sx_kit_log_close(log);
    sx_store_free(st);

    /* 4. After a clean stop: smp-server-messages.log holds everything; the
     * journal left by a crash between the save and its removal is stale. */
    sx_mjrec saved[] = {msg_rec(0x01, 0x65, DAY0, "clean")};
    write_lines(tpath("msgs.log"), saved, 1, NULL);
    write_lines(tpath("wal"), old, 2, NULL);
    st = three_queues();
    n_warnings = 0;
    assert_ok(start(st, &log, &js));
    assert_string_equal(bodies(st, 0x01), "clean");
    assert_string_equal(bodies(st, 0x21), "");
    assert_int_equal(n_warnings, 1);
    assert_true(exists(tpath("wal.bak")));
    assert_true(exists(tpath("msgs.log.bak")));
    assert_false(exists(tpath("msgs.log")));
    sx_kit_log_close(log);
    text = read_file(tpath("wal"));
    assert_non_null(strstr(text, " flags=F Y2xlYW4=\n"));
    free(text);
    sx_store_free(st);

    /* 5. The journal removed after a clean stop; nothing left to replay. */
    sx_msgjournal_remove(tpath("wal"));
    assert_false(exists(tpath("wal")));
    st = three_queues();
    assert_ok(start(st, &log, &js));
    assert_int_equal(js.lines, 0);
    sx_kit_log_close(log);
    sx_store_free(st);
    remove_tmpdir();
}

/* ---- the writer's retry ---- */

static int g_cb_calls;

static void count_cb(void *arg, uint64_t seq, bool ok)
{
    (void)arg;
    (void)seq;
    (void)ok;
    __atomic_add_fetch(&g_cb_calls, 1, __ATOMIC_ACQ_REL);
}

static bool enc_text(sx_writer *w, const void *rec)
{
    return sx_write_str(w, rec);
}

static bool wait_until(bool (*pred)(sx_kit_logwriter *), sx_kit_logwriter *w)
{
    for (int i = 0; i < 5000; i++) {
        if (pred(w))
            return true;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return false;
}

static bool is_failed(sx_kit_logwriter *w)
{
    return sx_kit_logwriter_failed(w);
}

static bool is_ok(sx_kit_logwriter *w)
{
    return !sx_kit_logwriter_failed(w);
}

static void test_writer_retry(void **state)
{
    (void)state;
    make_tmpdir();
    sx_kit_log_opts lo = quiet_opts();
    sx_kit_log *log;
    assert_ok(sx_kit_log_open(tpath("log"), true, &lo, &log));
    sx_kit_logwriter_opts wo = {.cb = count_cb, .retry_ms = 20};
    sx_kit_logwriter *w;
    assert_ok(sx_kit_logwriter_start_opts(log, &wo, &w));
    uint64_t s1 = sx_kit_logwriter_submit(w, enc_text, "one");
    assert_int_equal(s1, 1);
    for (int i = 0; i < 5000 && sx_kit_logwriter_durable(w) < s1; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(sx_kit_logwriter_durable(w), 1);

    /* A file size limit stands for a full disk. */
    struct rlimit old_lim, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old_lim), 0);
    void (*old_sig)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old_lim;
    lim.rlim_cur = 4; /* "one\n" */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    uint64_t s2 = sx_kit_logwriter_submit(w, enc_text, "two");
    assert_int_equal(s2, 2);
    assert_true(wait_until(is_failed, w));
    assert_false(sx_kit_logwriter_dead(w));
    /* Refused while failing; a removal still queues, after the kept batch. */
    assert_int_equal(sx_kit_logwriter_submit(w, enc_text, "refused"), 0);
    uint64_t s3 = sx_kit_logwriter_submit_always(w, enc_text, "three");
    assert_int_equal(s3, 3);
    assert_int_equal(sx_kit_logwriter_durable(w), 1);
    /* Space comes back: the kept batch and what followed are written, in
     * order, and records are taken again. */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old_lim), 0);
    signal(SIGXFSZ, old_sig);
    assert_true(wait_until(is_ok, w));
    for (int i = 0; i < 5000 && sx_kit_logwriter_durable(w) < s3; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(sx_kit_logwriter_durable(w), 3);
    assert_int_equal(sx_kit_logwriter_submit(w, enc_text, "four"), 4);
    sx_kit_logwriter_stop(w);
    sx_kit_log_close(log);
    char *text = read_file(tpath("log"));
    assert_string_equal(text, "one\ntwo\nthree\nfour\n");
    free(text);
    assert_true(g_cb_calls >= 3);
    remove_tmpdir();
}

/* ---- compaction while running ---- */

typedef struct feeder {
    sx_store *st;
    sx_kit_logwriter *w;
    int rounds;
} feeder;

/* Sends and acknowledges through the store and the journal as the router
 * does: the change and its record under the queue's lock. */
static void *feed_main(void *arg)
{
    feeder *f = arg;
    uint8_t starts[3] = {0x01, 0x21, 0x41};
    char body[256];
    for (int i = 0; i < f->rounds; i++) {
        sx_queue *q = queue_at(f->st, starts[i % 3]);
        sx_queue_lock(q);
        uint8_t id[SX_ID_LEN] = {0};
        memcpy(id, &i, sizeof i);
        snprintf(body, sizeof body, "m%d-%0200d", i, 0);
        sx_push_result res;
        bool was_empty;
        assert_ok(sx_queue_push(f->st, q, id, DAY0, false, sx_slice_str(body), &res, &was_empty));
        if (res == SX_PUSH_OK) {
            sx_mjrec r = {.type = SX_MJ_MSG};
            memcpy(r.msg.rid, q->rid, SX_ID_LEN);
            memcpy(r.msg.msg_id, id, SX_ID_LEN);
            r.msg.ts = DAY0;
            r.msg.body = sx_slice_str(body);
            assert_true(sx_msgjournal_submit(f->w, &r) != 0);
        }
        /* Keep about ten messages per queue. */
        if (q->n_msgs > 10) {
            sx_mjrec a = {.type = SX_MJ_ACK};
            memcpy(a.msg.rid, q->rid, SX_ID_LEN);
            memcpy(a.msg.msg_id, q->head->id, SX_ID_LEN);
            assert_true(sx_queue_remove_head(f->st, q, a.msg.msg_id));
            assert_true(sx_msgjournal_submit(f->w, &a) != 0);
        }
        sx_queue_unlock(q);
        sx_queue_release(f->st, q);
    }
    return NULL;
}

/* The journal's bytes with those of an unfinished compaction's .next. */
static off_t journal_bytes(void)
{
    struct stat sb, sbn;
    off_t total = stat(tpath("wal"), &sb) == 0 ? sb.st_size : 0;
    return total + (stat(tpath("wal.next"), &sbn) == 0 ? sbn.st_size : 0);
}

static void test_compaction(void **state)
{
    (void)state;
    make_tmpdir();
    sx_store *st = three_queues();
    sx_kit_log *log;
    sx_msgjournal_stats js;
    assert_ok(start(st, &log, &js));
    sx_kit_logwriter_opts wo = {.retry_ms = 20};
    sx_kit_logwriter *w;
    assert_ok(sx_kit_logwriter_start_opts(log, &wo, &w));
    sx_msgjournal_compact_opts co = {
        .journal = tpath("wal"), .log_opts = quiet_opts(), .min_bytes = 32 << 10, .growth = 2, .check_ms = 2};
    sx_msgjournal_compactor *c;
    assert_ok(sx_msgjournal_compactor_start(&co, st, w, &log, &c));
    /* Two rounds of records, each followed by a compaction: the second
     * round runs while the first compaction may still be copying. */
    feeder f = {.st = st, .w = w, .rounds = 3000};
    uint64_t done = 0;
    for (int round = 0; round < 2; round++) {
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, feed_main, &f), 0);
        assert_int_equal(pthread_join(t, NULL), 0);
        for (int i = 0; i < 20000 && sx_msgjournal_compactions(c) <= done; i++) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        assert_true(sx_msgjournal_compactions(c) > done);
        done = sx_msgjournal_compactions(c);
    }
    /* On a loaded machine the compaction counted for round 1 may have
     * started in round 0 and copied through the whole of round 1 (it keeps
     * what is appended while it copies). So a last one is made to start
     * after the rounds: the feed goes on in small steps only until a
     * compaction begins (its .next appears) or ends, then stops. */
    struct stat sn0;
    for (int i = 0; i < 20000; i++) {
        uint64_t cs = sx_msgjournal_compacted_size(c);
        uint64_t lim0 = 2 * cs > co.min_bytes ? 2 * cs : co.min_bytes;
        if (journal_bytes() < (off_t)lim0 && stat(tpath("wal.next"), &sn0) != 0)
            break; /* idle: none under way, none due */
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    uint64_t before = sx_msgjournal_compactions(c);
    for (int k = 0; k < 4000 && sx_msgjournal_compactions(c) == before && stat(tpath("wal.next"), &sn0) != 0;
         k++) {
        feeder step = {.st = st, .w = w, .rounds = 30};
        feed_main(&step);
    }
    for (int i = 0; i < 20000 && sx_msgjournal_compactions(c) <= before; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    assert_true(sx_msgjournal_compactions(c) > before);
    /* A compaction keeps the live messages and what is appended while it
     * copies them; the journal then grows to twice that before the next
     * (growth 2, and at least min_bytes). With nothing more written, the
     * compactor is idle once the journal is below that threshold (a
     * compaction under way when the feed stopped ends first: give it up to
     * 20 s). */
    uint64_t compacted = 0, limit = 0;
    for (int i = 0; i < 20000; i++) {
        compacted = sx_msgjournal_compacted_size(c);
        limit = 2 * compacted > co.min_bytes ? 2 * compacted : co.min_bytes;
        struct stat sn;
        if (journal_bytes() < (off_t)limit && stat(tpath("wal.next"), &sn) != 0)
            break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    /* The last compaction began after the rounds, with at most one small
     * step appended while it copied: it dropped the rounds' records (3,000
     * messages of ~360 bytes and their acks per round, ~1 MB each), 33
     * messages are live. */
    assert_true(compacted < 3 << 19);
    assert_true(journal_bytes() < (off_t)limit);
    sx_msgjournal_compactor_stop(c);
    sx_kit_logwriter_stop(w);
    sx_kit_log_close(log);

    /* What the journal (and a .next of an unfinished compaction) replays
     * to is what the store holds. */
    sx_store *st2 = three_queues();
    sx_msglog_opts mo = quiet_mopts();
    assert_ok(sx_msgjournal_replay(tpath("wal"), st2, &mo, &js));
    assert_ok(sx_msgjournal_replay(tpath("wal.next"), st2, &mo, &js));
    assert_int_equal(js.bad_lines, 0);
    uint8_t starts[3] = {0x01, 0x21, 0x41};
    for (int i = 0; i < 3; i++) {
        char *want = strdup(bodies(st, starts[i]));
        assert_string_equal(bodies(st2, starts[i]), want);
        free(want);
    }
    sx_store_free(st);
    sx_store_free(st2);
    remove_tmpdir();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records_exact),
        cmocka_unit_test(test_records_malformed),
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_start_sequence),
        cmocka_unit_test(test_writer_retry),
        cmocka_unit_test(test_compaction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
