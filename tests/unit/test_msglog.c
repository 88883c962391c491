/* Unit tests of the message log and the notification log (PROTOCOL-NOTES
 * E27, E28): exact lines as the reference's encoders write them, round
 * trips, parser robustness, saving and the restore rules. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storelog_util.h"

#include "core/base64.h"
#include "smp_router/msglog.h"
#include "smp_router/ntflog.h"
#include "smp_router/slapply.h"

/* The same for message and notification lines. */
static void check_msg_mutation(const uint8_t *buf, size_t len)
{
    sx_slmsg m, m2;
    if (sx_slmsg_parse(sx_slice_of(buf, len), &m) != SX_OK)
        return;
    sx_writer w, w2;
    sx_writer_init_dynamic(&w, 65536);
    sx_writer_init_dynamic(&w2, 65536);
    assert_true(sx_slmsg_encode(&w, &m));
    assert_ok(sx_slmsg_parse(sx_writer_slice(&w), &m2));
    assert_true(sx_slmsg_encode(&w2, &m2));
    assert_true(sx_slice_eq(sx_writer_slice(&w), sx_writer_slice(&w2)));
    sx_slmsg_cleanup(&m);
    sx_slmsg_cleanup(&m2);
    sx_writer_cleanup(&w);
    sx_writer_cleanup(&w2);
}

static void check_ntf_mutation(const uint8_t *buf, size_t len)
{
    sx_ntfrec n, n2;
    if (sx_ntfrec_parse(sx_slice_of(buf, len), &n) != SX_OK)
        return;
    sx_writer w, w2;
    sx_writer_init_dynamic(&w, 65536);
    sx_writer_init_dynamic(&w2, 65536);
    assert_true(sx_ntfrec_encode(&w, &n));
    assert_ok(sx_ntfrec_parse(sx_writer_slice(&w), &n2));
    assert_true(sx_ntfrec_encode(&w2, &n2));
    assert_true(sx_slice_eq(sx_writer_slice(&w), sx_writer_slice(&w2)));
    sx_ntfrec_cleanup(&n);
    sx_ntfrec_cleanup(&n2);
    sx_writer_cleanup(&w);
    sx_writer_cleanup(&w2);
}

static void test_msg_ntf_truncation_and_corruption(void **state)
{
    (void)state;
    /* Each line, and the shortest prefix that may parse: a cut inside the
     * last base64 field can still decode (the format has no end marker, and
     * the older message form takes any base64 after the time as the body). */
    const struct {
        const char *line, *head;
    } lines[] = {
        {"v3 " RID " " SID " 1718928005 flags=T " FIXED, "v3 " RID " " SID " 1718928005 "},
        {"v3 " RID " " SID " -5 quota", "v3 " RID " " SID " -5 "},
        {"v1 " NID " " SID " 1718928000 " RID " BwgJCgsMDQ4PEA==", "v1 " NID " " SID " 1718928000 " RID " "},
    };
    const uint8_t subst[] = {' ', '=', 'A', '-', 0, '\n', 0xff, 'q'};
    for (size_t l = 0; l < sizeof lines / sizeof lines[0]; l++) {
        size_t len = strlen(lines[l].line), head = strlen(lines[l].head);
        uint8_t *buf = malloc(len + 1);
        void (*check)(const uint8_t *, size_t) = l < 2 ? check_msg_mutation : check_ntf_mutation;
        for (size_t cut = 0; cut <= len; cut++) {
            memcpy(buf, lines[l].line, cut); /* exact-size copy: ASan sees overreads */
            check(buf, cut);
            sx_slmsg m;
            sx_ntfrec n;
            bool ok_m = sx_slmsg_parse(sx_slice_of(buf, cut), &m) == SX_OK;
            bool ok_n = sx_ntfrec_parse(sx_slice_of(buf, cut), &n) == SX_OK;
            if (ok_m)
                sx_slmsg_cleanup(&m);
            if (ok_n)
                sx_ntfrec_cleanup(&n);
            if (cut <= head && (ok_m || ok_n))
                fail_msg("accepted a cut at %zu of line %zu", cut, l);
            if (cut == len)
                assert_true(l < 2 ? ok_m : ok_n);
        }
        for (size_t i = 0; i < len; i++) {
            for (size_t k = 0; k < sizeof subst; k++) {
                memcpy(buf, lines[l].line, len);
                buf[i] = subst[k];
                check(buf, len);
            }
        }
        free(buf);
    }
}

/* ---- messages (PROTOCOL-NOTES E27) ---- */

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

static void push(sx_queue *q, uint8_t id_start, int64_t ts, bool notify, sx_slice body, sx_push_result want)
{
    uint8_t id[SX_ID_LEN];
    tu_bytes_seq(id, SX_ID_LEN, id_start);
    sx_push_result res;
    bool was_empty;
    assert_ok(sx_queue_push(NULL, q, id, ts, notify, body, &res, &was_empty));
    assert_int_equal(res, want);
}

static void test_msg_lines_exact(void **state)
{
    (void)state;
    sx_slmsg m = {0};
    tu_bytes_seq(m.rid, SX_ID_LEN, 0x01);
    tu_bytes_seq(m.msg_id, SX_ID_LEN, 0x21);
    m.ts = DAY0 + 5;
    m.notify = true;
    m.body = sx_slice_str("fixed data");
    sx_writer w;
    sx_writer_init_dynamic(&w, 65536);
    assert_true(sx_slmsg_encode(&w, &m));
    assert_true(sx_write_u8(&w, 0));
    assert_string_equal((char *)w.buf, "v3 " RID " " SID " 1718928005 flags=T " FIXED);
    sx_writer_cleanup(&w);
    m.quota = true;
    sx_writer_init_dynamic(&w, 65536);
    assert_true(sx_slmsg_encode(&w, &m));
    assert_true(sx_write_u8(&w, 0));
    assert_string_equal((char *)w.buf, "v3 " RID " " SID " 1718928005 quota");
    sx_writer_cleanup(&w);

    sx_slmsg p;
    assert_ok(sx_slmsg_parse(sx_slice_str("v3 " RID " " SID " 1718928005 flags=F " USER), &p));
    assert_false(p.quota);
    assert_false(p.notify);
    assert_int_equal(p.ts, DAY0 + 5);
    assert_memory_equal(p.body.ptr, "user data", 9);
    sx_slmsg_cleanup(&p);
    /* Older form without flags; flags with room for more letters. */
    assert_ok(sx_slmsg_parse(sx_slice_str("v3 " RID " " SID " 1 " USER), &p));
    assert_false(p.notify);
    sx_slmsg_cleanup(&p);
    assert_ok(sx_slmsg_parse(sx_slice_str("v3 " RID " " SID " 1 flags=Txy " USER), &p));
    assert_true(p.notify);
    sx_slmsg_cleanup(&p);
    assert_ok(sx_slmsg_parse(sx_slice_str("v3 " RID " " SID " 1 flags=T "), &p)); /* empty body */
    assert_int_equal(p.body.len, 0);
    sx_slmsg_cleanup(&p);
    assert_ok(sx_slmsg_parse(sx_slice_str("v3 " RID " " SID " 1 quota"), &p));
    assert_true(p.quota);
    sx_slmsg_cleanup(&p);

    const char *bad[] = {
        "v2 " RID " " SID " 1 quota",
        "v3 " RID " " SID " 1 quota ",
        "v3 " RID " " SID " 1 quotas",
        "v3 " RID " " SID " 1",
        "v3 " RID " " SID " 1 ",
        "v3 " RID " " SID " x flags=T " USER,
        "v3 " RID " " SID " 1 flags=X " USER,
        "v3 " RID " " SID " 1 flags=T " USER " ",
        "v3 " RID " " FIXED " 1 flags=T " USER,
        "v3 " RID " " SID " 1 flags=T" USER,
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (sx_slmsg_parse(sx_slice_str(bad[i]), &p) == SX_OK)
            fail_msg("accepted: %s", bad[i]);

    /* Bodies up to MaxMessageLen. */
    uint8_t *big = malloc(SX_MSG_BODY_MAX + 1);
    memset(big, 0x5a, SX_MSG_BODY_MAX + 1);
    m.quota = false;
    m.body = sx_slice_of(big, SX_MSG_BODY_MAX);
    sx_writer_init_dynamic(&w, 65536);
    assert_true(sx_slmsg_encode(&w, &m));
    assert_ok(sx_slmsg_parse(sx_writer_slice(&w), &p));
    assert_int_equal(p.body.len, SX_MSG_BODY_MAX);
    sx_slmsg_cleanup(&p);
    sx_writer_cleanup(&w);
    m.body = sx_slice_of(big, SX_MSG_BODY_MAX + 1);
    sx_writer_init_dynamic(&w, 65536);
    assert_false(sx_slmsg_encode(&w, &m));
    sx_writer_cleanup(&w);
    /* ... and a line with a longer one is refused. */
    char *text = malloc(40000);
    snprintf(text, 40000, "v3 " RID " " SID " 1 flags=T ");
    size_t off = strlen(text);
    assert_ok(sx_b64_encode(sx_slice_of(big, SX_MSG_BODY_MAX + 1), SX_B64_URL, text + off, 40000 - off));
    assert_int_equal(sx_slmsg_parse(sx_slice_str(text), &p), SX_E_LIMIT);
    free(text);
    free(big);
}

static void test_messages_round_trip(void **state)
{
    (void)state;
    make_tmpdir();
    sx_store *st;
    assert_ok(sx_store_new(&st));
    add_queue(st, 0x01, 0x11);
    add_queue(st, 0x21, 0x31);
    add_queue(st, 0x41, 0x51); /* empty */
    sx_queue *q1 = queue_at(st, 0x01), *q2 = queue_at(st, 0x21);
    sx_queue_lock(q1);
    push(q1, 0x61, DAY0 - 100, true, sx_slice_str("fixed data"), SX_PUSH_OK);
    push(q1, 0x62, DAY0, false, sx_slice_str("user data"), SX_PUSH_OK);
    push(q1, 0x63, DAY0 + 100, true, sx_slice_str("third"), SX_PUSH_OK);
    sx_queue_unlock(q1);
    sx_queue_lock(q2);
    for (int i = 0; i < SX_QUEUE_QUOTA; i++)
        push(q2, (uint8_t)i, DAY0 + i, false, sx_slice_str("m"), SX_PUSH_OK);
    push(q2, 0xee, DAY0 + 999, false, sx_slice_str("over"), SX_PUSH_QUOTA);
    sx_queue_unlock(q2);
    sx_queue_release(st, q1);
    sx_queue_release(st, q2);

    size_t saved;
    assert_ok(sx_msglog_save(tpath("msgs.log"), st, &saved));
    assert_int_equal(saved, 3 + SX_QUEUE_QUOTA + 1);
    assert_false(exists(tpath("msgs.log.tmp")));
    char *text = read_file(tpath("msgs.log"));
    assert_int_equal(count_lines(text), saved);
    assert_non_null(strstr(text, "v3 " RID " YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4 1718927900 flags=T " FIXED "\n"));
    assert_non_null(strstr(text, " 1718928999 quota\n"));
    free(text);

    /* Restore into a store with the same queues, dropping the expired one. */
    sx_store *st2;
    assert_ok(sx_store_new(&st2));
    add_queue(st2, 0x01, 0x11);
    add_queue(st2, 0x21, 0x31);
    add_queue(st2, 0x41, 0x51);
    sx_msglog_opts mo = quiet_mopts();
    mo.expire = true;
    mo.expire_before = DAY0 - 50;
    sx_msglog_stats ms;
    assert_ok(sx_msglog_restore(tpath("msgs.log"), st2, &mo, &ms));
    assert_int_equal(ms.stored, 2 + SX_QUEUE_QUOTA);
    assert_int_equal(ms.expired, 1);
    assert_int_equal(ms.dropped, 0);
    assert_false(exists(tpath("msgs.log")));
    assert_true(exists(tpath("msgs.log.bak")));

    q1 = queue_at(st2, 0x01);
    assert_int_equal(q1->n_msgs, 2);
    assert_int_equal(q1->head->len, 9);
    assert_memory_equal(q1->head->body, "user data", 9);
    assert_false(q1->head->notify);
    assert_true(q1->tail->notify);
    assert_int_equal(q1->tail->ts, DAY0 + 100);
    sx_queue_release(st2, q1);
    /* The quota marker is back, so the queue still refuses messages. */
    q2 = queue_at(st2, 0x21);
    assert_int_equal(q2->n_msgs, SX_QUEUE_QUOTA + 1);
    assert_true(q2->tail->quota);
    assert_int_equal(q2->tail->ts, DAY0 + 999);
    sx_queue_lock(q2);
    push(q2, 0xef, DAY0 + 1000, false, sx_slice_str("x"), SX_PUSH_QUOTA);
    sx_queue_unlock(q2);
    sx_queue_release(st2, q2);

    /* Without expiry everything comes back. */
    sx_store *st3;
    assert_ok(sx_store_new(&st3));
    add_queue(st3, 0x01, 0x11);
    add_queue(st3, 0x21, 0x31);
    rename(tpath("msgs.log.bak"), tpath("msgs.log"));
    mo.expire = false;
    assert_ok(sx_msglog_restore(tpath("msgs.log"), st3, &mo, &ms));
    assert_int_equal(ms.stored, 3 + SX_QUEUE_QUOTA);
    /* A missing file restores nothing. */
    assert_ok(sx_msglog_restore(tpath("msgs.log"), st3, &mo, &ms));
    assert_int_equal(ms.stored, 0);

    sx_store_free(st);
    sx_store_free(st2);
    sx_store_free(st3);
    remove_tmpdir();
}

static void test_messages_restore_rules(void **state)
{
    (void)state;
    make_tmpdir();
    sx_store *st;
    assert_ok(sx_store_new(&st));
    add_queue(st, 0x01, 0x11);
    sx_msglog_opts mo = quiet_mopts();
    sx_msglog_stats ms;
    const char *good = "v3 " RID " " SID " 1 flags=T " USER "\n";
    char text[4096];

    /* Unknown queue: a warning, fatal unless skipped. */
    snprintf(text, sizeof text, "%sv3 " LID " " SID " 1 flags=T " USER "\n%s", good, good);
    write_file(tpath("m.log"), text);
    assert_int_equal(sx_msglog_restore(tpath("m.log"), st, &mo, &ms), SX_E_PROTOCOL);
    assert_true(exists(tpath("m.log")));
    mo.skip_warnings = true;
    assert_ok(sx_msglog_restore(tpath("m.log"), st, &mo, &ms));
    assert_int_equal(ms.dropped, 1);
    assert_int_equal(ms.stored, 2);
    assert_true(exists(tpath("m.log.bak")));

    /* A bad line that is not the last is always fatal. */
    snprintf(text, sizeof text, "%sgarbage\n%s", good, good);
    write_file(tpath("m.log"), text);
    assert_int_equal(sx_msglog_restore(tpath("m.log"), st, &mo, &ms), SX_E_PROTOCOL);
    /* A bad last line (cut short) is a warning. */
    snprintf(text, sizeof text, "%s%.20s", good, good);
    write_file(tpath("m.log"), text);
    mo.skip_warnings = false;
    assert_int_equal(sx_msglog_restore(tpath("m.log"), st, &mo, &ms), SX_E_PROTOCOL);
    mo.skip_warnings = true;
    assert_ok(sx_msglog_restore(tpath("m.log"), st, &mo, &ms));
    assert_int_equal(ms.stored, 1);

    /* A queue over quota gets the marker once; the rest is not restored. */
    sx_store *st2;
    assert_ok(sx_store_new(&st2));
    add_queue(st2, 0x01, 0x11);
    FILE *f = fopen(tpath("m.log"), "wb");
    for (int i = 0; i < SX_QUEUE_QUOTA + 3; i++)
        fprintf(f, "v3 " RID " " SID " %d flags=F " USER "\n", i);
    fclose(f);
    assert_ok(sx_msglog_restore(tpath("m.log"), st2, &mo, &ms));
    assert_int_equal(ms.stored, SX_QUEUE_QUOTA);
    assert_int_equal(ms.dropped, 3);
    sx_queue *q = queue_at(st2, 0x01);
    assert_int_equal(q->n_msgs, SX_QUEUE_QUOTA + 1);
    assert_true(q->tail->quota);
    assert_int_equal(q->tail->ts, SX_QUEUE_QUOTA);
    sx_queue_release(st2, q);

    /* A quota line replaces a marker at the head. */
    sx_store *st3;
    assert_ok(sx_store_new(&st3));
    add_queue(st3, 0x01, 0x11);
    write_file(tpath("m.log"), "v3 " RID " " SID " 5 quota\nv3 " RID " " NID " 6 quota\n");
    assert_ok(sx_msglog_restore(tpath("m.log"), st3, &mo, &ms));
    q = queue_at(st3, 0x01);
    assert_int_equal(q->n_msgs, 1);
    assert_true(q->head->quota);
    assert_int_equal(q->head->ts, 6);
    sx_queue_release(st3, q);

    sx_store_free(st);
    sx_store_free(st2);
    sx_store_free(st3);
    remove_tmpdir();
}

/* ---- notifications (PROTOCOL-NOTES E28) ---- */

static void test_ntfs(void **state)
{
    (void)state;
    make_tmpdir();
    sx_ntf_list l;
    sx_ntf_list_init(&l);
    uint8_t meta[144];
    tu_bytes_seq(meta, sizeof meta, 7);
    for (int i = 0; i < 3; i++) {
        sx_ntfrec n = {0};
        tu_bytes_seq(n.nid, SX_ID_LEN, 0x41);
        tu_bytes_seq(n.msg_id, SX_ID_LEN, (uint8_t)(0x21 + i));
        n.ts = DAY0 + i * 100;
        tu_bytes_seq(n.nonce, SX_NTF_NONCE_LEN, 0x01);
        n.meta = sx_slice_of(meta, i == 0 ? 10 : sizeof meta);
        assert_ok(sx_ntf_list_add(&l, &n));
    }
    assert_ok(sx_ntflog_save(tpath("n.log"), &l));
    char *text = read_file(tpath("n.log"));
    assert_int_equal(count_lines(text), 3);
    const char *first = "v1 " NID " " SID " 1718928000 " RID " BwgJCgsMDQ4PEA==\n";
    assert_memory_equal(text, first, strlen(first));
    free(text);

    sx_ntf_list back;
    sx_ntf_list_init(&back);
    sx_msglog_opts mo = quiet_mopts();
    mo.expire = true;
    mo.expire_before = DAY0 + 50;
    sx_msglog_stats ms;
    assert_ok(sx_ntflog_restore(tpath("n.log"), &mo, &back, &ms));
    assert_int_equal(ms.stored, 2);
    assert_int_equal(ms.expired, 1);
    assert_int_equal(back.n, 2);
    assert_int_equal(back.items[0].ts, DAY0 + 100);
    assert_int_equal(back.items[1].meta.len, 144);
    assert_memory_equal(back.items[1].meta.ptr, meta, 144);
    assert_memory_equal(back.items[1].nonce, l.items[2].nonce, SX_NTF_NONCE_LEN);
    assert_false(exists(tpath("n.log")));
    assert_true(exists(tpath("n.log.bak")));

    /* Short nonces are zero-padded; any bad line stops the restore. */
    sx_ntfrec n;
    assert_ok(sx_ntfrec_parse(sx_slice_str("v1 " NID " " SID " 5 AQI= BwgJ"), &n));
    uint8_t want[SX_NTF_NONCE_LEN] = {1, 2};
    assert_memory_equal(n.nonce, want, SX_NTF_NONCE_LEN);
    sx_ntfrec_cleanup(&n);
    write_file(tpath("n.log"), "v1 " NID " " SID " 5 AQI= BwgJ\nv1 " NID " " SID " 5 AQI=\n");
    assert_int_equal(sx_ntflog_restore(tpath("n.log"), &mo, &back, &ms), SX_E_PROTOCOL);
    assert_true(exists(tpath("n.log")));
    const char *bad[] = {"v1 " NID " " SID " 5 AQI= ", "v2 " NID " " SID " 5 AQI= BwgJ", "v1 " NID " " SID " 5 AQI= BwgJ ",
                         "v1 " NID " " SID " AQI= BwgJ"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_not_equal(sx_ntfrec_parse(sx_slice_str(bad[i]), &n), SX_OK);

    sx_ntf_list_cleanup(&l);
    sx_ntf_list_cleanup(&back);
    remove_tmpdir();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_msg_ntf_truncation_and_corruption),
        cmocka_unit_test(test_msg_lines_exact),
        cmocka_unit_test(test_messages_round_trip),
        cmocka_unit_test(test_messages_restore_rules),
        cmocka_unit_test(test_ntfs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
