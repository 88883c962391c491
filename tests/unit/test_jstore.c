/* Unit tests of the journal message store (smp_router/jstate.h, jstore.h):
 * the state line and message line formats (truncated, oversized, trailing
 * input), folders made here byte by byte in the reference's layout, the
 * recovery of truncated and corrupt state and message files, rotation of
 * journals, quota, expiry, idle queues closed, export reading, the least
 * recently used queue closed at max_open, writers on different queues at once. */
#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "smp_router/jstore.h"

/* rid bytes 0, 1, ..., 23 */
#define RID_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYX"
#define QDIR "/AA/EC/Aw/QF/BgcICQoLDA0ODxAREhMUFRYX"
#define STATE_NAME "queue_state." RID_B64 ".log"
/* message ids: 24 bytes of 0x01, 0x02, 0x03 */
#define ID1 "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB"
#define ID2 "AgICAgICAgICAgICAgICAgICAgICAgIC"
#define ID3 "AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMD"
#define JID_A "AAAAAAAAAAAAAAAA"
#define JID_B "BBBBBBBBBBBBBBBB"
/* message lines as the reference writes them ("hello", "world", "again") */
#define L1 ID1 " 1700000001 flags=F aGVsbG8=\n"
#define L2 ID2 " 1700000002 flags=T d29ybGQ=\n"
#define L3 ID3 " 1700000003 flags=F YWdhaW4=\n"

static char root[256];
static uint8_t rid[SX_ID_LEN];
static char reports[4096];

static void warn(void *arg, const char *msg)
{
    (void)arg;
    size_t n = strlen(reports);
    snprintf(reports + n, sizeof reports - n, "%s\n", msg);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/test_jstore.%d", (int)getpid());
    tu_rm_rf(root);
    assert_int_equal(mkdir(root, 0700), 0);
    tu_bytes_seq(rid, SX_ID_LEN, 0);
    reports[0] = 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rm_rf(root);
    return 0;
}

static const char *path_of(const char *rel)
{
    static char p[4][512];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof p[i], "%s%s", root, rel);
    return p[i];
}

static void write_file(const char *rel, const char *text)
{
    FILE *f = fopen(path_of(rel), "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
}

static char *read_text(const char *rel)
{
    static char buf[8192];
    FILE *f = fopen(path_of(rel), "rb");
    if (!f)
        return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

static bool exists(const char *rel)
{
    struct stat sb;
    return stat(path_of(rel), &sb) == 0;
}

static long file_size(const char *rel)
{
    struct stat sb;
    assert_int_equal(stat(path_of(rel), &sb), 0);
    return (long)sb.st_size;
}

static void make_qdir(void)
{
    const char *parts[] = {"/AA", "/AA/EC", "/AA/EC/Aw", "/AA/EC/Aw/QF", QDIR};
    for (size_t i = 0; i < 5; i++)
        mkdir(path_of(parts[i]), 0700);
}

/* Files in the queue folder whose names start with pfx. */
static int count_files(const char *pfx)
{
    DIR *d = opendir(path_of(QDIR));
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, pfx, strlen(pfx)) == 0)
            n++;
    closedir(d);
    return n;
}

static sx_jstore *open_store(sx_jstore_cfg *c)
{
    static sx_jstore_cfg def;
    if (!c) {
        sx_jstore_cfg_default(&def, root);
        c = &def;
    }
    c->warn = warn;
    sx_jstore *js;
    assert_ok(sx_jstore_open(c, &js));
    return js;
}

static void expect_msg(sx_jstore *js, uint8_t id_byte, const char *body, bool notify)
{
    sx_jmsg *m = malloc(sizeof *m);
    bool found;
    assert_ok(sx_jstore_peek(js, rid, m, &found));
    assert_true(found);
    uint8_t id[SX_ID_LEN];
    memset(id, id_byte, sizeof id);
    assert_memory_equal(m->id, id, SX_ID_LEN);
    assert_false(m->quota);
    assert_int_equal(m->notify, notify);
    assert_int_equal(m->len, strlen(body));
    assert_memory_equal(m->body, body, m->len);
    assert_int_equal(m->ts, 1700000000 + id_byte);
    free(m);
}

static void ack(sx_jstore *js, uint8_t id_byte)
{
    uint8_t id[SX_ID_LEN];
    memset(id, id_byte, sizeof id);
    bool deleted;
    assert_ok(sx_jstore_ack(js, rid, id, &deleted, NULL, NULL));
    assert_true(deleted);
}

static void expect_empty(sx_jstore *js)
{
    sx_jmsg *m = malloc(sizeof *m);
    bool found = true;
    assert_ok(sx_jstore_peek(js, rid, m, &found));
    assert_false(found);
    free(m);
}

static sx_jmsg *msg(uint8_t id_byte, int64_t ts, const char *body)
{
    static sx_jmsg m;
    memset(&m, 0, sizeof m);
    memset(m.id, id_byte, SX_ID_LEN);
    m.ts = ts;
    m.len = (uint16_t)strlen(body);
    memcpy(m.body, body, m.len);
    return &m;
}

/* ---- formats ---- */

static const char *state_line =
    "write=" JID_B ",2,2,58,58 read=" JID_A ",1,3,58,174 canWrite=T size=4";

static void test_state_line(void **state)
{
    (void)state;
    sx_jstate st;
    assert_ok(sx_jstate_parse(sx_slice_of((const uint8_t *)state_line, strlen(state_line)), &st));
    assert_string_equal(st.write.jid, JID_B);
    assert_string_equal(st.read.jid, JID_A);
    assert_int_equal(st.write.msg_pos, 2);
    assert_int_equal(st.read.msg_count, 3);
    assert_int_equal(st.read.byte_pos, 58);
    assert_int_equal(st.read.byte_count, 174);
    assert_true(st.can_write);
    assert_int_equal(st.size, 4);
    assert_true(sx_jstate_valid(&st));
    uint8_t buf[512];
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_true(sx_jstate_encode(&w, &st));
    assert_int_equal(w.len, strlen(state_line));
    assert_memory_equal(buf, state_line, w.len);
    /* every truncation fails */
    for (size_t n = 0; n < strlen(state_line); n++)
        assert_int_not_equal(sx_jstate_parse(sx_slice_of((const uint8_t *)state_line, n), &st), SX_OK);
    const char *bad[] = {
        "write=" JID_A ",0,0,0,0 read=" JID_A ",0,0,0,0 canWrite=T size=0 ",   /* trailing */
        "write=" JID_A ",0,0,0,0 read=" JID_A ",0,0,0,0 canWrite=T size=0\r",  /* trailing */
        "write=" JID_A ",0,0,0,0 read=" JID_A ",0,0,0,0 canWrite=true size=0", /* Bool is T/F */
        "write=" JID_A ",-1,0,0,0 read=" JID_A ",0,0,0,0 canWrite=T size=0",   /* unsigned */
        "write=,0,0,0,0 read=" JID_A ",0,0,0,0 canWrite=T size=0",             /* empty id */
        "write=a/b,0,0,0,0 read=" JID_A ",0,0,0,0 canWrite=T size=0",          /* not a file name */
        "read=" JID_A ",0,0,0,0 write=" JID_A ",0,0,0,0 canWrite=T size=0",    /* order */
        "write=" JID_A ",0,0,0,0  read=" JID_A ",0,0,0,0 canWrite=T size=0",   /* two spaces */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_not_equal(sx_jstate_parse(sx_slice_of((const uint8_t *)bad[i], strlen(bad[i])), &st), SX_OK);
    const char *big = "write=" JID_A ",99999999999999999999,0,0,0 read=" JID_A ",0,0,0,0 canWrite=T size=0";
    assert_int_equal(sx_jstate_parse(sx_slice_of((const uint8_t *)big, strlen(big)), &st), SX_E_LIMIT);
    char longid[256] = "write=";
    memset(longid + 6, 'A', SX_JID_MAX + 1);
    strcat(longid, ",0,0,0,0 read=" JID_A ",0,0,0,0 canWrite=T size=0");
    assert_int_equal(sx_jstate_parse(sx_slice_of((const uint8_t *)longid, strlen(longid)), &st), SX_E_LIMIT);
    /* size is signed: it parses, but is not consistent */
    const char *neg = "write=" JID_A ",0,0,0,0 read=" JID_A ",0,0,0,0 canWrite=F size=-1";
    assert_ok(sx_jstate_parse(sx_slice_of((const uint8_t *)neg, strlen(neg)), &st));
    assert_false(st.can_write);
    assert_false(sx_jstate_valid(&st));
}

static void test_state_valid(void **state)
{
    (void)state;
    sx_jstate st;
    sx_jstate_init(&st, JID_A);
    assert_true(sx_jstate_valid(&st));
    st.write.msg_pos = st.write.msg_count = 3;
    st.write.byte_pos = st.write.byte_count = 90;
    assert_false(sx_jstate_valid(&st)); /* read counts must follow in one journal */
    st.read.msg_count = 3;
    st.read.byte_count = 90;
    assert_false(sx_jstate_valid(&st)); /* size */
    st.size = 3;
    assert_true(sx_jstate_valid(&st));
    st.read.msg_pos = 4;
    assert_false(sx_jstate_valid(&st));
    /* two journals */
    sx_jstate t;
    sx_jstate_init(&t, JID_B);
    t.write.msg_pos = t.write.msg_count = 2;
    t.write.byte_pos = t.write.byte_count = 58;
    sx_jpos_init(&t.read, JID_A);
    t.read.msg_pos = 1;
    t.read.msg_count = 3;
    t.read.byte_pos = 58;
    t.read.byte_count = 174;
    t.size = 4;
    assert_true(sx_jstate_valid(&t));
    t.write.byte_pos = 57; /* the write position is the end */
    assert_false(sx_jstate_valid(&t));
}

static void test_msg_line(void **state)
{
    (void)state;
    const char *l = L2;
    size_t n = strlen(l) - 1;
    sx_slmsg m;
    assert_ok(sx_slmsg_parse_msg(sx_slice_of((const uint8_t *)l, n), &m));
    assert_int_equal(m.ts, 1700000002);
    assert_true(m.notify);
    assert_int_equal(m.body.len, 5);
    assert_memory_equal(m.body.ptr, "world", 5);
    sx_writer w;
    sx_writer_init_dynamic(&w, SX_JMSG_LINE_MAX);
    assert_true(sx_slmsg_encode_msg(&w, &m));
    assert_int_equal(w.len, n);
    assert_memory_equal(w.buf, l, n);
    sx_writer_cleanup(&w);
    sx_slmsg_cleanup(&m);
    /* cut before the body starts: never a message (later cuts can be one,
     * as for the reference: "flag" is a body, "flags=T " an empty one) */
    for (size_t k = 0; k <= strlen(ID2 " 1700000002 "); k++)
        assert_int_not_equal(sx_slmsg_parse_msg(sx_slice_of((const uint8_t *)l, k), &m), SX_OK);
    const char *q = ID1 " 1700000001 quota";
    assert_ok(sx_slmsg_parse_msg(sx_slice_of((const uint8_t *)q, strlen(q)), &m));
    assert_true(m.quota);
    sx_slmsg_cleanup(&m);
    const char *trail = ID1 " 1700000001 quota ";
    assert_int_not_equal(sx_slmsg_parse_msg(sx_slice_of((const uint8_t *)trail, strlen(trail)), &m), SX_OK);
    /* a body over the limit */
    size_t big = SX_JMSG_LINE_MAX + 64;
    char *huge = malloc(big);
    int h = snprintf(huge, big, "%s 1 flags=F ", ID1);
    size_t body = (big - (size_t)h) / 4 * 4; /* valid base64url, too long */
    memset(huge + h, 'A', body);
    assert_int_equal(sx_slmsg_parse_msg(sx_slice_of((const uint8_t *)huge, (size_t)h + body), &m), SX_E_LIMIT);
    free(huge);
}

static void test_layout(void **state)
{
    (void)state;
    tu_bytes_seq(rid, SX_ID_LEN, 0);
    sx_jstore_cfg c;
    sx_jstore_cfg_default(&c, "/var/opt/simplex/messages");
    char dir[512];
    assert_ok(sx_jstore_queue_dir(&c, rid, dir, sizeof dir));
    assert_string_equal(dir, "/var/opt/simplex/messages" QDIR);
    c.path_parts = 1;
    assert_ok(sx_jstore_queue_dir(&c, rid, dir, sizeof dir));
    assert_string_equal(dir, "/var/opt/simplex/messages/" RID_B64);
    char small[20];
    assert_int_equal(sx_jstore_queue_dir(&c, rid, small, sizeof small), SX_E_LIMIT);
}

/* ---- folders made by hand ---- */

/* One journal, the first message read: "world" and "again" are next. */
static void test_handmade_one_journal(void **state)
{
    (void)state;
    make_qdir();
    char st[512];
    /* an older line first, then the current one */
    snprintf(st, sizeof st,
             "write=" JID_A ",2,2,%zu,%zu read=" JID_A ",0,2,0,%zu canWrite=T size=2\n"
             "write=" JID_A ",3,3,%zu,%zu read=" JID_A ",1,3,%zu,%zu canWrite=T size=2\n",
             strlen(L1 L2), strlen(L1 L2), strlen(L1 L2), strlen(L1 L2 L3), strlen(L1 L2 L3), strlen(L1),
             strlen(L1 L2 L3));
    write_file(QDIR "/" STATE_NAME, st);
    write_file(QDIR "/messages." JID_A ".log", L1 L2 L3);
    sx_jstore *js = open_store(NULL);
    int64_t size;
    assert_ok(sx_jstore_size(js, rid, &size));
    assert_int_equal(size, 2);
    expect_msg(js, 2, "world", true);
    ack(js, 2);
    expect_msg(js, 3, "again", false);
    /* the line the ACK appended, byte for byte */
    char want[1024];
    snprintf(want, sizeof want, "%swrite=" JID_A ",3,3,%zu,%zu read=" JID_A ",2,3,%zu,%zu canWrite=T size=1\n", st,
             strlen(L1 L2 L3), strlen(L1 L2 L3), strlen(L1 L2), strlen(L1 L2 L3));
    assert_string_equal(read_text(QDIR "/" STATE_NAME), want);
    ack(js, 3);
    expect_empty(js);
    sx_jstore_close(js);
    /* reopened empty: a new journal, the old one removed, the state moved aside */
    js = open_store(NULL);
    expect_empty(js);
    assert_false(exists(QDIR "/messages." JID_A ".log"));
    assert_false(exists(QDIR "/" STATE_NAME));
    assert_int_equal(count_files(STATE_NAME "."), 1);
    sx_jstore_close(js);
}

/* Reading ends in journal A and goes on in B, whose file is then the only one. */
static void test_handmade_two_journals(void **state)
{
    (void)state;
    make_qdir();
    char st[512];
    snprintf(st, sizeof st, "write=" JID_B ",1,1,%zu,%zu read=" JID_A ",1,2,%zu,%zu canWrite=T size=2\n",
             strlen(L3), strlen(L3), strlen(L1), strlen(L1 L2));
    write_file(QDIR "/" STATE_NAME, st);
    write_file(QDIR "/messages." JID_A ".log", L1 L2);
    write_file(QDIR "/messages." JID_B ".log", L3);
    sx_jstore *js = open_store(NULL);
    expect_msg(js, 2, "world", true);
    ack(js, 2);
    assert_true(exists(QDIR "/messages." JID_A ".log"));
    expect_msg(js, 3, "again", false);
    assert_false(exists(QDIR "/messages." JID_A ".log"));
    /* export reading sees the same through the files */
    sx_jstore_close(js);
    js = open_store(NULL);
    int64_t size;
    assert_ok(sx_jstore_size(js, rid, &size));
    assert_int_equal(size, 1);
    expect_msg(js, 3, "again", false);
    sx_jstore_close(js);
}

/* A message written but its state not (a crash between the two): cut back. */
static void test_crash_after_message(void **state)
{
    (void)state;
    make_qdir();
    char st[512];
    snprintf(st, sizeof st, "write=" JID_A ",1,1,%zu,%zu read=" JID_A ",0,1,0,%zu canWrite=T size=1\n", strlen(L1),
             strlen(L1), strlen(L1));
    write_file(QDIR "/" STATE_NAME, st);
    write_file(QDIR "/messages." JID_A ".log", L1 L2 "AwMD"); /* a whole line and a partial one */
    sx_jstore *js = open_store(NULL);
    expect_msg(js, 1, "hello", false);
    assert_int_equal(file_size(QDIR "/messages." JID_A ".log"), (long)strlen(L1));
    assert_non_null(strstr(reports, "cut back"));
    /* the next message goes where the lost one was */
    sx_jwrite r;
    assert_ok(sx_jstore_write(js, rid, msg(3, 1700000003, "again"), &r, NULL));
    assert_int_equal(r, SX_JW_STORED);
    assert_string_equal(read_text(QDIR "/messages." JID_A ".log"), L1 L3);
    ack(js, 1);
    expect_msg(js, 3, "again", false);
    sx_jstore_close(js);
}

/* A state file whose last line was cut: the line before is used, the file compacted. */
static void test_truncated_state(void **state)
{
    (void)state;
    make_qdir();
    char st[512];
    int n = snprintf(st, sizeof st,
                     "write=" JID_A ",2,2,%zu,%zu read=" JID_A ",0,2,0,%zu canWrite=T size=2\n"
                     "write=" JID_A ",3,3,%zu,%zu read=",
                     strlen(L1 L2), strlen(L1 L2), strlen(L1 L2), strlen(L1 L2 L3), strlen(L1 L2 L3));
    assert_true(n > 0);
    write_file(QDIR "/" STATE_NAME, st);
    write_file(QDIR "/messages." JID_A ".log", L1 L2 L3);
    sx_jstore *js = open_store(NULL);
    expect_msg(js, 1, "hello", false);
    /* the third message was never in a state: cut */
    assert_int_equal(file_size(QDIR "/messages." JID_A ".log"), (long)strlen(L1 L2));
    /* a fresh state file with the one good line, the old one kept as a timed backup */
    char want[512];
    snprintf(want, sizeof want, "write=" JID_A ",2,2,%zu,%zu read=" JID_A ",0,2,0,%zu canWrite=T size=2\n",
             strlen(L1 L2), strlen(L1 L2), strlen(L1 L2));
    assert_string_equal(read_text(QDIR "/" STATE_NAME), want);
    assert_int_equal(count_files(STATE_NAME "."), 1);
    assert_false(exists(QDIR "/" STATE_NAME ".bak"));
    sx_jstore_close(js);
}

/* One invalid line: the queue starts anew (as the reference), no crash. */
static void test_invalid_state(void **state)
{
    (void)state;
    make_qdir();
    write_file(QDIR "/" STATE_NAME, "write=garbage\n");
    write_file(QDIR "/messages." JID_A ".log", L1);
    sx_jstore *js = open_store(NULL);
    expect_empty(js);
    assert_false(exists(QDIR "/" STATE_NAME));
    assert_int_equal(count_files(STATE_NAME "."), 1);
    sx_jwrite r;
    assert_ok(sx_jstore_write(js, rid, msg(2, 1700000002, "world"), &r, NULL));
    expect_msg(js, 2, "world", false);
    sx_jstore_close(js);

    /* two bad lines, inconsistent positions: errors for this queue only */
    tu_rm_rf(path_of(QDIR));
    make_qdir();
    write_file(QDIR "/" STATE_NAME, "bad\nbad\n");
    js = open_store(NULL);
    sx_jmsg *m = malloc(sizeof *m);
    bool found;
    assert_int_equal(sx_jstore_peek(js, rid, m, &found), SX_E_PROTOCOL);
    write_file(QDIR "/" STATE_NAME, "write=" JID_A ",1,1,10,10 read=" JID_A ",0,1,0,10 canWrite=T size=5\n");
    assert_int_equal(sx_jstore_peek(js, rid, m, &found), SX_E_PROTOCOL);
    /* the message file shorter than its state */
    char st[256];
    snprintf(st, sizeof st, "write=" JID_A ",1,1,%zu,%zu read=" JID_A ",0,1,0,%zu canWrite=T size=1\n",
             strlen(L1) + 5, strlen(L1) + 5, strlen(L1) + 5);
    write_file(QDIR "/" STATE_NAME, st);
    write_file(QDIR "/messages." JID_A ".log", L1);
    assert_int_equal(sx_jstore_peek(js, rid, m, &found), SX_E_PROTOCOL);
    /* a corrupt message line */
    snprintf(st, sizeof st, "write=" JID_A ",1,1,%zu,%zu read=" JID_A ",0,1,0,%zu canWrite=T size=1\n",
             strlen(L1), strlen(L1), strlen(L1));
    write_file(QDIR "/" STATE_NAME, st);
    char bad[256];
    snprintf(bad, sizeof bad, "%s", L1);
    bad[3] = ' ';
    write_file(QDIR "/messages." JID_A ".log", bad);
    assert_int_equal(sx_jstore_peek(js, rid, m, &found), SX_E_PROTOCOL);
    assert_int_equal(sx_jstore_loaded(js), 0);
    free(m);
    sx_jstore_close(js);
}

/* A crash while compacting left the old state as the temporary backup. */
static void test_temp_backup_restored(void **state)
{
    (void)state;
    make_qdir();
    char st[512];
    snprintf(st, sizeof st, "write=" JID_A ",1,1,%zu,%zu read=" JID_A ",0,1,0,%zu canWrite=T size=1\n", strlen(L1),
             strlen(L1), strlen(L1));
    write_file(QDIR "/" STATE_NAME ".bak", st);
    write_file(QDIR "/" STATE_NAME, "write=half");
    write_file(QDIR "/messages." JID_A ".log", L1);
    sx_jstore *js = open_store(NULL);
    expect_msg(js, 1, "hello", false);
    assert_false(exists(QDIR "/" STATE_NAME ".bak"));
    sx_jstore_close(js);
}

/* ---- the operations ---- */

static void test_quota_rotation_restart(void **state)
{
    (void)state;
    sx_jstore_cfg c;
    sx_jstore_cfg_default(&c, root);
    c.quota = 3;
    c.max_msg_count = 2;
    sx_jstore *js = open_store(&c);
    expect_empty(js);
    assert_false(exists(QDIR)); /* nothing on disk for a queue never written */
    sx_jwrite r;
    bool was_empty;
    const char *bodies[] = {"", "hello", "world", "again"};
    for (uint8_t i = 1; i <= 3; i++) {
        assert_ok(sx_jstore_write(js, rid, msg(i, 1700000000 + i, bodies[i]), &r, &was_empty));
        assert_int_equal(r, SX_JW_STORED);
        assert_int_equal(was_empty, i == 1);
    }
    assert_ok(sx_jstore_write(js, rid, msg(4, 1700000004, "over"), &r, NULL));
    assert_int_equal(r, SX_JW_QUOTA);
    assert_ok(sx_jstore_write(js, rid, msg(5, 1700000005, "over"), &r, NULL));
    assert_int_equal(r, SX_JW_FULL);
    /* two journals: 2 messages in the first, the rest in the second */
    assert_int_equal(count_files("messages."), 2);
    sx_jstore_close(js);
    js = open_store(&c);
    int64_t size;
    assert_ok(sx_jstore_size(js, rid, &size));
    assert_int_equal(size, 4);
    expect_msg(js, 1, "hello", false);
    ack(js, 1);
    ack(js, 2);
    expect_msg(js, 3, "again", false);
    assert_int_equal(count_files("messages."), 1);
    ack(js, 3);
    sx_jmsg *m = malloc(sizeof *m);
    bool found;
    assert_ok(sx_jstore_peek(js, rid, m, &found));
    assert_true(found && m->quota);
    /* while the marker is there nothing is written */
    assert_ok(sx_jstore_write(js, rid, msg(6, 1700000006, "x"), &r, NULL));
    assert_int_equal(r, SX_JW_FULL);
    uint8_t id4[SX_ID_LEN];
    memset(id4, 4, sizeof id4);
    bool deleted, next_found;
    assert_ok(sx_jstore_ack(js, rid, id4, &deleted, m, &next_found));
    assert_true(deleted);
    assert_false(next_found);
    assert_ok(sx_jstore_write(js, rid, msg(7, 1700000007, "back"), &r, &was_empty));
    assert_int_equal(r, SX_JW_STORED);
    assert_true(was_empty);
    free(m);
    sx_jstore_close(js);
}

static bool collect(void *arg, const sx_jmsg *m)
{
    char *out = arg;
    size_t n = strlen(out);
    snprintf(out + n, 256 - n, "%s%.*s", n ? "," : "", m->quota ? 1 : (int)m->len, m->quota ? "Q" : (const char *)m->body);
    return true;
}

static void test_expire_idle_delete_export(void **state)
{
    (void)state;
    sx_jstore_cfg c;
    sx_jstore_cfg_default(&c, root);
    c.idle_interval = 100;
    c.max_msg_count = 2;
    sx_jstore *js = open_store(&c);
    sx_jwrite r;
    assert_ok(sx_jstore_write(js, rid, msg(1, 1000, "old1"), &r, NULL));
    assert_ok(sx_jstore_write(js, rid, msg(2, 1001, "old2"), &r, NULL));
    assert_ok(sx_jstore_write(js, rid, msg(3, 1700000003, "new"), &r, NULL));
    assert_int_equal(sx_jstore_loaded(js), 1);
    assert_int_equal(sx_jstore_open_files(js), 1);
    char out[256] = "";
    assert_ok(sx_jstore_read_all(js, rid, collect, out, NULL));
    assert_string_equal(out, "old1,old2,new");
    int64_t now = (int64_t)time(NULL);
    size_t expired;
    int64_t stored;
    /* the queue read_all closed is opened for expiry and closed after */
    assert_ok(sx_jstore_expire(js, rid, 2000, now, &expired, &stored));
    assert_int_equal(expired, 2);
    assert_int_equal(stored, 1);
    assert_int_equal(sx_jstore_loaded(js), 0);
    expect_msg(js, 3, "new", false);
    assert_int_equal(sx_jstore_loaded(js), 1);
    /* an active queue stays open; idle ones are closed */
    assert_ok(sx_jstore_expire(js, rid, 2000, now, &expired, &stored));
    assert_int_equal(sx_jstore_loaded(js), 1);
    assert_int_equal(sx_jstore_close_idle(js, now + 50), 0);
    assert_int_equal(sx_jstore_close_idle(js, now + 200), 1);
    assert_int_equal(sx_jstore_loaded(js), 0);
    assert_int_equal(sx_jstore_open_files(js), 0);
    out[0] = 0;
    assert_ok(sx_jstore_read_all(js, rid, collect, out, NULL));
    assert_string_equal(out, "new");
    assert_ok(sx_jstore_delete_queue(js, rid));
    assert_false(exists(QDIR));
    expect_empty(js);
    sx_jstore_close(js);
}

/* At most max_open queues are held: the others are closed, their messages kept. */
static void test_max_open(void **state)
{
    (void)state;
    sx_jstore_cfg c;
    sx_jstore_cfg_default(&c, root);
    c.max_open = 3;
    sx_jstore *js = open_store(&c);
    sx_jwrite r;
    uint8_t rids[10][SX_ID_LEN];
    for (uint8_t i = 0; i < 10; i++) {
        memset(rids[i], 0x40 + i, SX_ID_LEN);
        assert_ok(sx_jstore_write(js, rids[i], msg(i + 1, 1700000000, "m"), &r, NULL));
        assert_true(sx_jstore_loaded(js) <= 3);
        assert_true(sx_jstore_open_files(js) <= 3);
    }
    for (uint8_t i = 0; i < 10; i++) {
        int64_t size;
        assert_ok(sx_jstore_size(js, rids[i], &size));
        assert_int_equal(size, 1);
    }
    sx_jstore_close(js);
}

/* max_open reached: the least recently used queue is closed, not all. */
static void test_lru_eviction(void **state)
{
    (void)state;
    sx_jstore_cfg c;
    sx_jstore_cfg_default(&c, root);
    c.max_open = 3;
    sx_jstore *js = open_store(&c);
    sx_jwrite r;
    uint8_t rids[5][SX_ID_LEN];
    for (uint8_t i = 0; i < 5; i++)
        memset(rids[i], 0x60 + i, SX_ID_LEN);
    for (uint8_t i = 0; i < 3; i++)
        assert_ok(sx_jstore_write(js, rids[i], msg(i + 1, 1700000000, "m"), &r, NULL));
    /* reading queue 0 makes it the most recently used: 0, 2, 1 */
    sx_jmsg *m = malloc(sizeof *m);
    bool found;
    assert_ok(sx_jstore_peek(js, rids[0], m, &found));
    assert_true(found);
    assert_ok(sx_jstore_write(js, rids[3], msg(4, 1700000000, "m"), &r, NULL));
    assert_int_equal(sx_jstore_loaded(js), 3);
    assert_true(sx_jstore_is_loaded(js, rids[0]));
    assert_false(sx_jstore_is_loaded(js, rids[1])); /* the least recently used */
    assert_true(sx_jstore_is_loaded(js, rids[2]));
    assert_true(sx_jstore_is_loaded(js, rids[3]));
    assert_int_equal(sx_jstore_open_files(js), 3);
    /* 3, 0, 2; a size query on 2: 2, 3, 0; a new queue closes 0 */
    int64_t size;
    assert_ok(sx_jstore_size(js, rids[2], &size));
    assert_int_equal(size, 1);
    assert_ok(sx_jstore_write(js, rids[4], msg(5, 1700000000, "m"), &r, NULL));
    assert_false(sx_jstore_is_loaded(js, rids[0]));
    assert_true(sx_jstore_is_loaded(js, rids[2]));
    assert_true(sx_jstore_is_loaded(js, rids[3]));
    assert_true(sx_jstore_is_loaded(js, rids[4]));
    /* a closed queue opens again with its message */
    assert_ok(sx_jstore_peek(js, rids[1], m, &found));
    assert_true(found);
    assert_int_equal(m->id[0], 2);
    assert_false(sx_jstore_is_loaded(js, rids[3])); /* LRU then: 4, 2, 3 */
    assert_true(sx_jstore_loaded(js) <= 3);
    for (uint8_t i = 0; i < 5; i++) {
        assert_ok(sx_jstore_size(js, rids[i], &size));
        assert_int_equal(size, 1);
    }
    free(m);
    sx_jstore_close(js);
}

#define CW_THREADS 4
#define CW_MSGS 150

typedef struct cw_arg {
    sx_jstore *js;
    uint8_t rid[SX_ID_LEN];
    int index;
    int acked;
    bool ok;
} cw_arg;

/* One writer on its own queue: writes, and acknowledges every third message
 * after checking that the head is the oldest not yet acknowledged. */
static void *cw_writer(void *p)
{
    cw_arg *a = p;
    sx_jmsg *m = calloc(1, sizeof *m), *h = malloc(sizeof *h);
    a->ok = m && h;
    for (int i = 0; i < CW_MSGS && a->ok; i++) {
        memset(m->id, 0, SX_ID_LEN);
        m->id[0] = (uint8_t)a->index;
        m->id[1] = (uint8_t)i;
        m->ts = 1700000000 + i;
        m->len = (uint16_t)snprintf((char *)m->body, 64, "t%d-%d", a->index, i);
        sx_jwrite r;
        bool empty;
        if (sx_jstore_write(a->js, a->rid, m, &r, &empty) != SX_OK || r != SX_JW_STORED)
            a->ok = false;
        if (i % 3 == 2 && a->ok) {
            bool found = false, deleted = false;
            if (sx_jstore_peek(a->js, a->rid, h, &found) != SX_OK || !found || h->id[0] != a->index ||
                h->id[1] != a->acked)
                a->ok = false;
            else if (sx_jstore_ack(a->js, a->rid, h->id, &deleted, NULL, NULL) != SX_OK || !deleted)
                a->ok = false;
            else
                a->acked++;
        }
    }
    free(m);
    free(h);
    return NULL;
}

static bool cw_stop; /* read and written with __atomic builtins */

/* Closes idle queues over and over while the writers run (the sweep the
 * router makes now and then), so entries leave and come back meanwhile. */
static void *cw_sweeper(void *p)
{
    sx_jstore *js = p;
    while (!__atomic_load_n(&cw_stop, __ATOMIC_ACQUIRE)) {
        (void)sx_jstore_close_idle(js, (int64_t)time(NULL) + 1000000);
        (void)sx_jstore_loaded(js);
        usleep(100);
    }
    return NULL;
}

typedef struct cw_collect {
    int index, next;
    bool ok;
} cw_collect;

static bool cw_check(void *arg, const sx_jmsg *m)
{
    cw_collect *c = arg;
    char want[64];
    int n = snprintf(want, sizeof want, "t%d-%d", c->index, c->next);
    if (m->id[0] != c->index || m->id[1] != c->next || m->len != n || memcmp(m->body, want, (size_t)n) != 0)
        c->ok = false;
    c->next++;
    return true;
}

/* Writers on different queues at once (each queue with its own lock), with a
 * small max_open and an idle sweep closing queues meanwhile: every queue ends
 * with exactly its own messages, in order. Run under TSan by scripts/test. */
static void test_concurrent_writers(void **state)
{
    (void)state;
    sx_jstore_cfg c;
    sx_jstore_cfg_default(&c, root);
    c.max_open = 2;
    c.max_msg_count = 16; /* journals rotate meanwhile */
    c.quota = 1000;
    sx_jstore *js; /* no warn callback: reports would come from many threads */
    assert_ok(sx_jstore_open(&c, &js));
    cw_arg args[CW_THREADS];
    pthread_t th[CW_THREADS], sweeper;
    __atomic_store_n(&cw_stop, false, __ATOMIC_RELEASE);
    assert_int_equal(pthread_create(&sweeper, NULL, cw_sweeper, js), 0);
    for (int i = 0; i < CW_THREADS; i++) {
        args[i] = (cw_arg){.js = js, .index = i};
        memset(args[i].rid, 0x70 + i, SX_ID_LEN);
        assert_int_equal(pthread_create(&th[i], NULL, cw_writer, &args[i]), 0);
    }
    for (int i = 0; i < CW_THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    __atomic_store_n(&cw_stop, true, __ATOMIC_RELEASE);
    assert_int_equal(pthread_join(sweeper, NULL), 0);
    for (int i = 0; i < CW_THREADS; i++) {
        assert_true(args[i].ok);
        assert_int_equal(args[i].acked, CW_MSGS / 3);
        int64_t size;
        assert_ok(sx_jstore_size(js, args[i].rid, &size));
        assert_int_equal(size, CW_MSGS - CW_MSGS / 3);
        cw_collect cc = {.index = i, .next = CW_MSGS / 3, .ok = true};
        assert_ok(sx_jstore_read_all(js, args[i].rid, cw_check, &cc, NULL));
        assert_true(cc.ok);
        assert_int_equal(cc.next, CW_MSGS);
    }
    sx_jstore_close(js);
    /* and again after a restart, from the files */
    assert_ok(sx_jstore_open(&c, &js));
    for (int i = 0; i < CW_THREADS; i++) {
        cw_collect cc = {.index = i, .next = CW_MSGS / 3, .ok = true};
        assert_ok(sx_jstore_read_all(js, args[i].rid, cw_check, &cc, NULL));
        assert_true(cc.ok);
        assert_int_equal(cc.next, CW_MSGS);
    }
    sx_jstore_close(js);
}

/* State files over max_state_lines are compacted at open; old backups go. */
static void test_state_compaction(void **state)
{
    (void)state;
    sx_jstore_cfg c;
    sx_jstore_cfg_default(&c, root);
    c.max_state_lines = 4;
    c.expire_backups_after = -3600; /* every backup is old enough */
    c.keep_min_backups = 2;
    for (int round = 0; round < 4; round++) {
        sx_jstore *js = open_store(&c);
        sx_jwrite r;
        for (uint8_t i = 0; i < 6; i++)
            assert_ok(sx_jstore_write(js, rid, msg((uint8_t)(10 * round + i + 1), 1700000000, "m"), &r, NULL));
        sx_jstore_close(js);
    }
    sx_jstore *js = open_store(&c);
    int64_t size;
    assert_ok(sx_jstore_size(js, rid, &size));
    assert_int_equal(size, 24);
    sx_jstore_close(js);
    /* the state holds one line after compaction and only 2 backups are left */
    const char *t = read_text(QDIR "/" STATE_NAME);
    assert_non_null(t);
    assert_int_equal(strchr(t, '\n') - t + 1, (long)strlen(t));
    assert_int_equal(count_files(STATE_NAME "."), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_line),
        cmocka_unit_test(test_state_valid),
        cmocka_unit_test(test_msg_line),
        cmocka_unit_test(test_layout),
        cmocka_unit_test_setup_teardown(test_handmade_one_journal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handmade_two_journals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_after_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_temp_backup_restored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quota_rotation_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expire_idle_delete_export, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_compaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lru_eviction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
