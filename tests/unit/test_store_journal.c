/* Unit tests of the queue store on the journal message store
 * (smp_router/store_journal.h): the store.h message functions go to the
 * queue's folder, survive a new store on the same folder (a restart),
 * expire, and a deleted queue's folder goes; two stores in one process
 * with different message back-ends. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smp_router/store_journal.h"

static char dir[256];

static sx_store *new_store(sx_queue **q)
{
    sx_store *st;
    assert_ok(sx_store_new(&st));
    sx_jstore_cfg c;
    sx_jstore_cfg_default(&c, dir);
    sx_jstore *js;
    assert_ok(sx_jstore_open(&c, &js));
    sx_store_use_journal(st, js);
    sx_queue *nq = calloc(1, sizeof *nq);
    tu_bytes_seq(nq->rid, SX_ID_LEN, 1);
    tu_bytes_seq(nq->sid, SX_ID_LEN, 101);
    nq->n_rkeys = 1;
    nq->rkey.len = 32;
    assert_ok(sx_store_insert(st, nq));
    *q = nq;
    return st;
}

static void push(sx_store *st, sx_queue *q, uint8_t id_byte, int64_t ts, const char *body, sx_push_result want)
{
    uint8_t id[SX_ID_LEN];
    memset(id, id_byte, sizeof id);
    sx_push_result res;
    bool was_empty;
    assert_ok(sx_queue_push(st, q, id, ts, false, sx_slice_of((const uint8_t *)body, strlen(body)), &res, &was_empty));
    assert_int_equal(res, want);
}

static void test_messages_in_folder(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/test_store_journal.%d", (int)getpid());
    tu_rm_rf(dir);
    sx_queue *q;
    sx_store *st = new_store(&q);
    assert_null(sx_queue_head(st, q));
    push(st, q, 1, 1000, "old", SX_PUSH_OK);
    push(st, q, 2, 1700000002, "two", SX_PUSH_OK);
    push(st, q, 3, 1700000003, "three", SX_PUSH_OK);
    assert_int_equal(q->n_msgs, 3);
    assert_true(q->head == NULL); /* nothing in memory */
    /* as the reference: a queue written since idle_interval is not expired */
    assert_int_equal(sx_queue_expire(st, q, 2000), 0);
    sx_store_free(st);
    st = new_store(&q); /* not open after a restart: expired, then closed */
    assert_int_equal(sx_queue_expire(st, q, 2000), 1);
    assert_int_equal(q->n_msgs, 2);
    sx_msg *h = sx_queue_head(st, q);
    assert_non_null(h);
    assert_int_equal(h->len, 3);
    assert_memory_equal(h->body, "two", 3);
    uint8_t id[SX_ID_LEN];
    memset(id, 2, sizeof id);
    assert_true(sx_queue_remove_head(st, q, id));
    assert_false(sx_queue_remove_head(st, q, id)); /* not the head any more */
    sx_store_free(st);                         /* closes the journal too */

    /* a restart: the queue record again, its message from the folder */
    st = new_store(&q);
    assert_int_equal(q->n_msgs, 0);
    h = sx_queue_head(st, q);
    assert_non_null(h);
    assert_memory_equal(h->body, "three", 5);
    assert_int_equal(q->n_msgs, 1);
    char qdir[512];
    sx_jstore_cfg c;
    sx_jstore_cfg_default(&c, dir);
    assert_ok(sx_jstore_queue_dir(&c, q->rid, qdir, sizeof qdir));
    struct stat sb;
    assert_int_equal(stat(qdir, &sb), 0);
    sx_queue_retain(st, q);
    sx_store_delete(st, q);
    assert_int_equal(stat(qdir, &sb), -1);
    sx_queue_release(st, q);
    sx_store_free(st);
    tu_rm_rf(dir);
}

/* Two stores in one process, one on the journal and one in memory: each
 * keeps its own message back-end (store.h), so the same queue ids in both do
 * not see each other's messages, and freeing the journal store leaves the
 * memory store's messages where they are. */
static void test_two_stores(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/test_store_journal2.%d", (int)getpid());
    tu_rm_rf(dir);
    sx_queue *jq;
    sx_store *js = new_store(&jq);
    sx_store *ms;
    assert_ok(sx_store_new(&ms));
    sx_queue *mq = calloc(1, sizeof *mq);
    tu_bytes_seq(mq->rid, SX_ID_LEN, 1); /* the same ids as jq */
    tu_bytes_seq(mq->sid, SX_ID_LEN, 101);
    mq->n_rkeys = 1;
    mq->rkey.len = 32;
    assert_ok(sx_store_insert(ms, mq));

    push(js, jq, 1, 1700000001, "to journal", SX_PUSH_OK);
    push(ms, mq, 2, 1700000002, "to memory", SX_PUSH_OK);
    push(ms, mq, 3, 1700000003, "second", SX_PUSH_OK);
    assert_null(jq->head);     /* the journal's message is on disk */
    assert_non_null(mq->head); /* the memory store's in its list */
    assert_int_equal(jq->n_msgs, 1);
    assert_int_equal(mq->n_msgs, 2);
    sx_msg *h = sx_queue_head(js, jq);
    assert_non_null(h);
    assert_memory_equal(h->body, "to journal", 10);
    h = sx_queue_head(ms, mq);
    assert_non_null(h);
    assert_memory_equal(h->body, "to memory", 9);
    uint8_t id[SX_ID_LEN];
    memset(id, 2, sizeof id);
    assert_false(sx_queue_remove_head(js, jq, id)); /* not this store's head */
    assert_true(sx_queue_remove_head(ms, mq, id));
    memset(id, 1, sizeof id);
    assert_true(sx_queue_remove_head(js, jq, id));
    assert_null(sx_queue_head(js, jq));

    /* Freeing the journal store closes its back-end only. */
    push(js, jq, 4, 1700000004, "kept", SX_PUSH_OK);
    sx_store_free(js);
    h = sx_queue_head(ms, mq);
    assert_non_null(h);
    assert_memory_equal(h->body, "second", 6);
    push(ms, mq, 5, 1700000005, "after", SX_PUSH_OK);
    assert_int_equal(mq->n_msgs, 2);
    assert_null(mq->head->next->next);
    /* a store of its own on the journal's folder finds the message kept */
    js = new_store(&jq);
    h = sx_queue_head(js, jq);
    assert_non_null(h);
    assert_memory_equal(h->body, "kept", 4);
    sx_store_free(js);
    sx_store_free(ms);
    tu_rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_messages_in_folder),
        cmocka_unit_test(test_two_stores),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
