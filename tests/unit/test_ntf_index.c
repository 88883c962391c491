/* Unit tests of the NTF router's hash indexes (src/ntf_router/hindex.h) and
 * of the subscription store that uses them (subs.h) with many entries:
 * 100,000 nodes found after growth, nodes sharing a key all found, removals
 * (every other node) leaving the rest findable and the removed ones gone,
 * the bucket walk seeing each node once; 20,000 subscriptions over 100
 * tokens found by id and by queue (SNEW of the same queue answers the same
 * id), SDEL of half, a token's deletion taking exactly its own, and the
 * store emptied and refilled. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ntf_router/hindex.h"
#include "ntf_router/subs.h"

typedef struct rec {
    uint32_t key;
    bool in;
    sx_hnode node;
} rec;

static uint64_t rec_hash(const sx_hindex *ix, uint32_t key)
{
    return sx_hindex_hash(ix, sx_slice_of(&key, sizeof key), sx_slice_of(NULL, 0));
}

static size_t count_key(const sx_hindex *ix, uint32_t key)
{
    size_t n = 0;
    for (sx_hnode *h = sx_hindex_first(ix, rec_hash(ix, key)); h; h = sx_hindex_next(h))
        if (SX_HNODE_OWNER(h, rec, node)->key == key)
            n++;
    return n;
}

static void test_hindex(void **state)
{
    (void)state;
    enum { N = 100000 };
    rec *r = calloc(N, sizeof *r);
    assert_non_null(r);
    sx_hindex ix;
    sx_hindex_init(&ix);
    assert_null(sx_hindex_first(&ix, 1));
    for (uint32_t i = 0; i < N; i++) {
        r[i].key = i < N - 10 ? i : 7; /* the last ten share key 7 */
        r[i].in = true;
        assert_ok(sx_hindex_add(&ix, &r[i].node, rec_hash(&ix, r[i].key)));
    }
    assert_int_equal(ix.count, N);
    assert_true(ix.cap >= N);
    for (uint32_t i = 0; i < N - 10; i++)
        assert_int_equal(count_key(&ix, i), i == 7 ? 11 : 1);
    assert_int_equal(count_key(&ix, N + 5), 0);
    /* every other node goes */
    for (uint32_t i = 0; i < N; i += 2) {
        sx_hindex_remove(&ix, &r[i].node);
        r[i].in = false;
    }
    assert_int_equal(ix.count, N / 2);
    for (uint32_t i = 0; i < N - 10; i++)
        if (i != 7)
            assert_int_equal(count_key(&ix, i), r[i].in ? 1 : 0);
    size_t shared = 0;
    for (uint32_t i = N - 10; i < N; i++)
        shared += r[i].in;
    assert_int_equal(count_key(&ix, 7), shared + (r[7].in ? 1 : 0));
    /* the bucket walk sees each node in the index once */
    size_t walked = 0;
    for (size_t i = 0; i < ix.cap; i++)
        for (sx_hnode *h = sx_hindex_bucket(&ix, i); h; h = h->next) {
            rec *o = SX_HNODE_OWNER(h, rec, node);
            assert_true(o->in);
            o->in = false; /* seen */
            walked++;
        }
    assert_int_equal(walked, N / 2);
    /* another index's seed hashes the same key differently (almost surely) */
    sx_hindex other;
    sx_hindex_init(&other);
    assert_true(rec_hash(&ix, 1) != rec_hash(&other, 1) || rec_hash(&ix, 2) != rec_hash(&other, 2));
    /* ("ab","c") and ("a","bc") are different keys */
    assert_true(sx_hindex_hash(&ix, sx_slice_str("ab"), sx_slice_str("c")) !=
                sx_hindex_hash(&ix, sx_slice_str("a"), sx_slice_str("bc")));
    sx_hindex_free(&other);
    sx_hindex_free(&ix);
    free(r);
}

/* SNEW of queue q (its notifier id from q) on router 127.0.0.1:5223. */
static uint8_t g_q[40];
static uint8_t g_kh[32];
static sx_ntf_cmd snew(uint32_t q, sx_slice key)
{
    memset(g_kh, 0xab, sizeof g_kh);
    g_q[0] = 9;
    memcpy(g_q + 1, "127.0.0.1", 9);
    memcpy(g_q + 10, "5223", 4);
    memset(g_q + 14, 0x5a, 24);
    memcpy(g_q + 14, &q, sizeof q);
    sx_ntf_cmd c = {0};
    c.tag = SX_NTF_C_SNEW;
    c.snew.queue.server.hosts.count = 1;
    c.snew.queue.server.hosts.items = sx_slice_of(g_q, 10);
    c.snew.queue.server.port = sx_slice_of(g_q + 10, 4);
    c.snew.queue.server.key_hash = sx_slice_of(g_kh, sizeof g_kh);
    c.snew.queue.notifier_id = sx_slice_of(g_q + 14, 24);
    c.snew.notifier_key = key;
    return c;
}

static sx_ntf_sub_result res;

static void token_name(char *buf, size_t cap, uint32_t t)
{
    snprintf(buf, cap, "token-%03u", (unsigned)t);
}

static void count_cb(void *arg, const sx_ntf_sub_rec *r)
{
    (void)r;
    (*(size_t *)arg)++;
}

static void test_many_subs(void **state)
{
    (void)state;
    enum { N = 20000,
           TOKENS = 100 };
    sx_ntf_subs *s = NULL;
    assert_ok(sx_ntf_subs_new(&s));
    sx_key *k = NULL;
    assert_ok(sx_key_generate(SX_KEY_ED25519, &k));
    uint8_t key[SX_KEY_PKCS8_MAX];
    sx_writer w;
    sx_writer_init_fixed(&w, key, sizeof key);
    assert_true(sx_key_write_private(&w, k));
    sx_key_free(k);
    sx_slice ks = sx_slice_of(key, w.len);
    uint8_t(*ids)[SX_NTF_ID_LEN] = calloc(N, SX_NTF_ID_LEN);
    assert_non_null(ids);
    char tn[32];
    for (uint32_t q = 0; q < N; q++) {
        token_name(tn, sizeof tn, q % TOKENS);
        sx_ntf_cmd c = snew(q, ks);
        assert_ok(sx_ntf_subs_snew(s, sx_slice_str(tn), &c, &res));
        assert_int_equal(res.resp.tag, SX_NTF_R_IDSUB);
        assert_true(res.subscribe);
        memcpy(ids[q], res.id, SX_NTF_ID_LEN);
    }
    assert_int_equal(sx_ntf_subs_count(s), N);
    /* by queue: the same id again; by id: its token */
    for (uint32_t q = 0; q < N; q += 97) {
        token_name(tn, sizeof tn, q % TOKENS);
        sx_ntf_cmd c = snew(q, ks);
        assert_ok(sx_ntf_subs_snew(s, sx_slice_str(tn), &c, &res));
        assert_false(res.subscribe);
        assert_memory_equal(res.id, ids[q], SX_NTF_ID_LEN);
        sx_ntf_sl_bytes tok;
        assert_true(sx_ntf_subs_token_of(s, sx_slice_of(ids[q], SX_NTF_ID_LEN), &tok));
        assert_true(sx_slice_eq(sx_ntf_sl_slice(&tok), sx_slice_str(tn)));
    }
    /* SDEL of the odd ones */
    sx_ntf_cmd del = {.tag = SX_NTF_C_SDEL};
    for (uint32_t q = 1; q < N; q += 2) {
        assert_ok(sx_ntf_subs_cmd(s, sx_slice_of(ids[q], SX_NTF_ID_LEN), &del, &res));
        assert_int_equal(res.resp.tag, SX_NTF_R_OK);
    }
    assert_int_equal(sx_ntf_subs_count(s), N / 2);
    for (uint32_t q = 0; q < N; q++)
        assert_int_equal(sx_ntf_subs_token_of(s, sx_slice_of(ids[q], SX_NTF_ID_LEN), NULL), q % 2 == 0);
    /* the deleted queue subscribes anew, with a new id */
    token_name(tn, sizeof tn, 1);
    sx_ntf_cmd c = snew(1, ks);
    assert_ok(sx_ntf_subs_snew(s, sx_slice_str(tn), &c, &res));
    assert_true(res.subscribe);
    assert_memory_not_equal(res.id, ids[1], SX_NTF_ID_LEN);
    /* token 2 has N / TOKENS subscriptions (all even); token 1 only the new one */
    size_t seen = 0;
    token_name(tn, sizeof tn, 2);
    assert_int_equal(sx_ntf_subs_delete_token(s, sx_slice_str(tn), count_cb, &seen), N / TOKENS);
    assert_int_equal(seen, N / TOKENS);
    token_name(tn, sizeof tn, 1);
    assert_int_equal(sx_ntf_subs_delete_token(s, sx_slice_str(tn), NULL, NULL), 1);
    assert_int_equal(sx_ntf_subs_count(s), N / 2 - N / TOKENS);
    for (uint32_t q = 0; q < N; q++)
        assert_int_equal(sx_ntf_subs_token_of(s, sx_slice_of(ids[q], SX_NTF_ID_LEN), NULL),
                         q % 2 == 0 && q % TOKENS != 2);
    /* a notification's payload holds only its token's items */
    uint8_t nonce[24] = {0}, meta[16] = {0};
    static uint8_t out[4096];
    sx_ntf_sl_bytes tok;
    for (uint32_t q = 4; q < 4 + 3 * TOKENS; q += TOKENS) {
        sx_writer_init_fixed(&w, out, sizeof out - 1);
        assert_true(sx_ntf_subs_notification(s, sx_slice_of(ids[q], SX_NTF_ID_LEN), 100 + q, nonce,
                                             sx_slice_of(meta, sizeof meta), &tok, &w));
    }
    out[w.len] = 0;
    int items = 1;
    for (char *p = (char *)out; (p = strchr(p, ';')) != NULL; p++)
        items++;
    assert_int_equal(items, 3);
    /* every token goes: the store is empty */
    for (uint32_t t = 0; t < TOKENS; t++) {
        token_name(tn, sizeof tn, t);
        (void)sx_ntf_subs_delete_token(s, sx_slice_str(tn), NULL, NULL);
    }
    assert_int_equal(sx_ntf_subs_count(s), 0);
    c = snew(3, ks);
    assert_ok(sx_ntf_subs_snew(s, sx_slice_str("token-x"), &c, &res));
    assert_true(res.subscribe);
    assert_int_equal(sx_ntf_subs_count(s), 1);
    free(ids);
    sx_ntf_subs_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hindex),
        cmocka_unit_test(test_many_subs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
