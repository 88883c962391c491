/* Unit tests of the NTF router's subscriptions (src/ntf_router/subs.h;
 * PROTOCOL-NOTES G13, G14, G22): SNEW new, repeated with the same key and
 * with another, by another token; SCHK and SDEL, unknown ids; statuses set
 * and logged once; a token's subscriptions deleted; the message payload
 * with the newest six notifications oldest first; the store log lines
 * written while commands run and the compacted SCREATE lines replaying into
 * the same subscriptions; TDELETE on replay. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ntf_router/subs.h"

#define MAX_LINES 256
static char g_lines[MAX_LINES][2048];
static size_t g_nlines;

static void collect(void *arg, sx_slice line)
{
    (void)arg;
    assert_true(g_nlines < MAX_LINES && line.len < sizeof g_lines[0]);
    memcpy(g_lines[g_nlines], line.ptr, line.len);
    g_lines[g_nlines++][line.len] = 0;
}

static uint8_t g_qbuf[64][128];

/* SNEW of notifier id nid (one byte repeated) on router 127.0.0.1:5223. */
static sx_ntf_cmd snew(int slot, uint8_t nid, sx_slice key)
{
    static uint8_t kh[32];
    memset(kh, 0xab, sizeof kh);
    uint8_t *b = g_qbuf[slot];
    b[0] = 9;
    memcpy(b + 1, "127.0.0.1", 9);
    memcpy(b + 10, "5223", 4);
    memset(b + 14, nid, 24);
    sx_ntf_cmd c = {0};
    c.tag = SX_NTF_C_SNEW;
    c.snew.queue.server.hosts.count = 1;
    c.snew.queue.server.hosts.items = sx_slice_of(b, 10);
    c.snew.queue.server.port = sx_slice_of(b + 10, 4);
    c.snew.queue.server.key_hash = sx_slice_of(kh, sizeof kh);
    c.snew.queue.notifier_id = sx_slice_of(b + 14, 24);
    c.snew.notifier_key = key;
    return c;
}

static sx_ntf_sub_result res;

/* The PKCS#8 DER of a new Ed25519 key (the form SNEW carries). */
static size_t new_key(uint8_t *buf, size_t cap)
{
    sx_key *k = NULL;
    assert_ok(sx_key_generate(SX_KEY_ED25519, &k));
    sx_writer w;
    sx_writer_init_fixed(&w, buf, cap);
    assert_true(sx_key_write_private(&w, k));
    sx_key_free(k);
    return w.len;
}

static void test_commands(void **state)
{
    (void)state;
    sx_ntf_subs *s = NULL;
    assert_ok(sx_ntf_subs_new(&s));
    g_nlines = 0;
    sx_ntf_subs_set_log(s, collect, NULL);
    uint8_t k1[SX_KEY_PKCS8_MAX], k2[SX_KEY_PKCS8_MAX];
    size_t k1_len = new_key(k1, sizeof k1), k2_len = new_key(k2, sizeof k2);
    sx_slice t1 = sx_slice_str("token-1"), t2 = sx_slice_str("token-2");
    sx_ntf_cmd c = snew(0, 1, sx_slice_of(k1, k1_len));
    assert_ok(sx_ntf_subs_snew(s, t1, &c, &res));
    assert_int_equal(res.resp.tag, SX_NTF_R_IDSUB);
    assert_true(res.subscribe);
    assert_string_equal(res.sub.server.text, "smp://q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=@127.0.0.1:5223");
    uint8_t id[SX_NTF_ID_LEN];
    memcpy(id, res.id, sizeof id);
    sx_slice sid = sx_slice_of(id, sizeof id);
    assert_int_equal(g_nlines, 1);
    assert_non_null(strstr(g_lines[0], "SCREATE subId="));
    assert_non_null(strstr(g_lines[0], "subStatus=NEW"));
    /* again: the same id, nothing new */
    assert_ok(sx_ntf_subs_snew(s, t1, &c, &res));
    assert_int_equal(res.resp.tag, SX_NTF_R_IDSUB);
    assert_false(res.subscribe);
    assert_memory_equal(res.id, id, sizeof id);
    /* another key, another token: AUTH */
    sx_ntf_cmd c2 = snew(1, 1, sx_slice_of(k2, k2_len));
    assert_ok(sx_ntf_subs_snew(s, t1, &c2, &res));
    assert_int_equal(res.resp.tag, SX_NTF_R_ERR);
    assert_int_equal(res.resp.err.type, SX_SMP_ERR_AUTH);
    assert_ok(sx_ntf_subs_snew(s, t2, &c, &res));
    assert_int_equal(res.resp.tag, SX_NTF_R_ERR);
    assert_int_equal(g_nlines, 1);
    /* SCHK, statuses */
    sx_ntf_cmd chk = {.tag = SX_NTF_C_SCHK}, del = {.tag = SX_NTF_C_SDEL};
    assert_ok(sx_ntf_subs_cmd(s, sid, &chk, &res));
    assert_int_equal(res.resp.tag, SX_NTF_R_SUB);
    assert_int_equal(res.resp.sub.status, SX_NTF_SUB_NEW);
    assert_true(sx_ntf_subs_set_status(s, sid, SX_NTF_SUB_ACTIVE, sx_slice_of(NULL, 0)));
    assert_true(sx_ntf_subs_set_status(s, sid, SX_NTF_SUB_ACTIVE, sx_slice_of(NULL, 0))); /* logged once */
    assert_int_equal(g_nlines, 2);
    assert_non_null(strstr(g_lines[1], "SSTATUS "));
    assert_non_null(strstr(g_lines[1], " ACTIVE"));
    assert_true(sx_ntf_subs_set_status(s, sid, SX_NTF_SUB_ERR, sx_slice_str("SMP error X")));
    assert_ok(sx_ntf_subs_cmd(s, sid, &chk, &res));
    assert_int_equal(res.resp.sub.status, SX_NTF_SUB_ERR);
    assert_true(sx_slice_eq(res.resp.sub.err, sx_slice_str("SMP error X")));
    sx_ntf_sl_bytes tok;
    assert_true(sx_ntf_subs_token_of(s, sid, &tok));
    assert_true(sx_slice_eq(sx_ntf_sl_slice(&tok), t1));
    /* replay of what was logged, then compacted, gives the same */
    sx_ntf_subs *r = NULL;
    assert_ok(sx_ntf_subs_new(&r));
    static sx_ntf_sl_rec rec;
    for (size_t i = 0; i < g_nlines; i++) {
        assert_ok(sx_ntf_sl_parse(sx_slice_str(g_lines[i]), &rec));
        assert_ok(sx_ntf_subs_apply(r, &rec));
    }
    assert_ok(sx_ntf_subs_cmd(r, sid, &chk, &res));
    assert_int_equal(res.resp.sub.status, SX_NTF_SUB_ERR);
    size_t before = g_nlines;
    assert_ok(sx_ntf_subs_write_all(r, collect, NULL));
    assert_int_equal(g_nlines, before + 1);
    assert_non_null(strstr(g_lines[before], "subStatus=ERR SMP error X"));
    /* TDELETE on replay removes the token's subscriptions */
    memset(&rec, 0, sizeof rec);
    rec.kind = SX_NTF_SL_TDELETE;
    assert_ok(sx_ntf_sl_bytes_set(&rec.id, t1));
    assert_ok(sx_ntf_subs_apply(r, &rec));
    assert_int_equal(sx_ntf_subs_count(r), 0);
    sx_ntf_subs_free(r);
    /* SDEL, then unknown */
    assert_ok(sx_ntf_subs_cmd(s, sid, &del, &res));
    assert_int_equal(res.resp.tag, SX_NTF_R_OK);
    assert_true(res.unsubscribe);
    assert_non_null(strstr(g_lines[g_nlines - 1], "SDELETE "));
    assert_ok(sx_ntf_subs_cmd(s, sid, &chk, &res));
    assert_int_equal(res.resp.tag, SX_NTF_R_ERR);
    assert_false(sx_ntf_subs_set_status(s, sid, SX_NTF_SUB_ACTIVE, sx_slice_of(NULL, 0)));
    sx_ntf_subs_free(s);
}

static void test_payload(void **state)
{
    (void)state;
    sx_ntf_subs *s = NULL;
    assert_ok(sx_ntf_subs_new(&s));
    uint8_t key[SX_KEY_PKCS8_MAX];
    size_t key_len = new_key(key, sizeof key);
    sx_slice t1 = sx_slice_str("token-1");
    uint8_t ids[8][SX_NTF_ID_LEN];
    for (int i = 0; i < 8; i++) {
        sx_ntf_cmd c = snew(i, (uint8_t)(10 + i), sx_slice_of(key, key_len));
        assert_ok(sx_ntf_subs_snew(s, t1, &c, &res));
        memcpy(ids[i], res.id, SX_NTF_ID_LEN);
    }
    /* another token's subscription */
    sx_ntf_cmd c = snew(9, 99, sx_slice_of(key, key_len));
    assert_ok(sx_ntf_subs_snew(s, sx_slice_str("token-2"), &c, &res));
    uint8_t nonce[24], meta[128];
    memset(nonce, 5, sizeof nonce);
    memset(meta, 6, sizeof meta);
    static uint8_t out[4096];
    sx_writer w;
    sx_ntf_sl_bytes tok;
    /* one notification: one item */
    sx_writer_init_fixed(&w, out, sizeof out - 1);
    assert_true(sx_ntf_subs_notification(s, sx_slice_of(ids[0], SX_NTF_ID_LEN), 1000, nonce,
                                         sx_slice_of(meta, sizeof meta), &tok, &w));
    assert_true(sx_slice_eq(sx_ntf_sl_slice(&tok), t1));
    out[w.len] = 0;
    assert_null(strchr((char *)out, ';'));
    char want[128];
    snprintf(want, sizeof want, "@127.0.0.1:5223/");
    assert_non_null(strstr((char *)out, want));
    assert_non_null(strstr((char *)out, " 1000 BQUF"));
    /* eight: the newest six, oldest first */
    for (int i = 1; i < 8; i++) {
        sx_writer_init_fixed(&w, out, sizeof out - 1);
        assert_true(sx_ntf_subs_notification(s, sx_slice_of(ids[i], SX_NTF_ID_LEN), 1000 + i, nonce,
                                             sx_slice_of(meta, sizeof meta), &tok, &w));
    }
    out[w.len] = 0;
    int items = 1;
    for (char *p = (char *)out; (p = strchr(p, ';')) != NULL; p++)
        items++;
    assert_int_equal(items, SX_NTF_LAST_NTFS_MAX);
    char *p1002 = strstr((char *)out, " 1002 "), *p1007 = strstr((char *)out, " 1007 ");
    assert_non_null(p1002);
    assert_non_null(p1007);
    assert_true(p1002 < p1007);
    assert_null(strstr((char *)out, " 1001 "));
    /* unknown subscription */
    sx_writer_init_fixed(&w, out, sizeof out);
    assert_false(sx_ntf_subs_notification(s, sx_slice_str("nope"), 1, nonce, sx_slice_of(meta, 16), &tok, &w));
    /* the token's subscriptions go */
    assert_int_equal(sx_ntf_subs_delete_token(s, t1, NULL, NULL), 8);
    assert_int_equal(sx_ntf_subs_count(s), 1);
    sx_ntf_subs_free(s);
}

/* The last notifications written at stop and restored at start into a
 * store replayed from the compacted log. */
static void test_last_restored(void **state)
{
    (void)state;
    sx_ntf_subs *s = NULL, *s2 = NULL;
    assert_ok(sx_ntf_subs_new(&s));
    uint8_t key[SX_KEY_PKCS8_MAX];
    size_t key_len = new_key(key, sizeof key);
    sx_slice t1 = sx_slice_str("token-1");
    uint8_t ids[4][SX_NTF_ID_LEN];
    for (int i = 0; i < 4; i++) {
        sx_ntf_cmd c = snew(i, (uint8_t)(40 + i), sx_slice_of(key, key_len));
        assert_ok(sx_ntf_subs_snew(s, t1, &c, &res));
        memcpy(ids[i], res.id, SX_NTF_ID_LEN);
    }
    uint8_t nonce[24], meta[64];
    memset(nonce, 7, sizeof nonce);
    memset(meta, 8, sizeof meta);
    static uint8_t out[4096];
    sx_writer w;
    sx_ntf_sl_bytes tok;
    /* notifications on subscriptions 2, 0, 1 (3 has none) */
    const int order[3] = {2, 0, 1};
    for (int k = 0; k < 3; k++) {
        sx_writer_init_fixed(&w, out, sizeof out);
        assert_true(sx_ntf_subs_notification(s, sx_slice_of(ids[order[k]], SX_NTF_ID_LEN), 500, nonce,
                                             sx_slice_of(meta, sizeof meta), &tok, &w));
    }
    /* at stop: three lines, oldest first */
    g_nlines = 0;
    assert_ok(sx_ntf_subs_write_last(s, collect, NULL));
    assert_int_equal(g_nlines, 3);
    static char last[3][2048];
    for (int k = 0; k < 3; k++) {
        assert_memory_equal(g_lines[k], "v1 ", 3);
        memcpy(last[k], g_lines[k], sizeof last[k]);
    }
    /* at start: the compacted store, then the last notifications */
    g_nlines = 0;
    assert_ok(sx_ntf_subs_write_all(s, collect, NULL));
    assert_ok(sx_ntf_subs_new(&s2));
    static sx_ntf_sl_rec r;
    for (size_t i = 0; i < g_nlines; i++) {
        assert_ok(sx_ntf_sl_parse(sx_slice_str(g_lines[i]), &r));
        assert_ok(sx_ntf_subs_apply(s2, &r));
    }
    static sx_ntf_sl_last l;
    for (int k = 0; k < 3; k++) {
        assert_ok(sx_ntf_sl_last_parse(sx_slice_str(last[k]), &l));
        assert_true(sx_ntf_subs_restore_last(s2, &l));
    }
    /* of another token, or after SDEL: not restored */
    assert_ok(sx_ntf_sl_last_parse(sx_slice_str(last[0]), &l));
    l.token_id.b[0] ^= 1;
    assert_false(sx_ntf_subs_restore_last(s2, &l));
    /* the next notification carries the restored ones, oldest first */
    sx_writer_init_fixed(&w, out, sizeof out - 1);
    assert_true(sx_ntf_subs_notification(s2, sx_slice_of(ids[3], SX_NTF_ID_LEN), 600, nonce,
                                         sx_slice_of(meta, sizeof meta), &tok, &w));
    out[w.len] = 0;
    int items = 1;
    for (char *p = (char *)out; (p = strchr(p, ';')) != NULL; p++)
        items++;
    assert_int_equal(items, 4);
    /* the payload's items are the lines' message data, in their order */
    const char *pos = (const char *)out;
    for (int k = 0; k < 3; k++) {
        const char *data = strchr(last[k] + 3, ' ') + 1;
        const char *at = strstr(pos, data);
        assert_non_null(at);
        pos = at + strlen(data);
    }
    assert_non_null(strstr(pos, " 600 "));
    sx_ntf_subs_free(s2);
    sx_ntf_subs_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_payload),
        cmocka_unit_test(test_last_restored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
