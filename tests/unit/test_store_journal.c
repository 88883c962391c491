/* Unit tests of the queue store on the journal message store
 * (smp_router/store_journal.h): the store.h message functions go to the
 * queue's folder, survive a new store on the same folder (a restart),
 * expire, and a deleted queue's folder goes. */
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
    nq->rkeys[0].len = 32;
    assert_ok(sx_store_insert(st, nq));
    *q = nq;
    return st;
}

static void push(sx_queue *q, uint8_t id_byte, int64_t ts, const char *body, sx_push_result want)
{
    uint8_t id[SX_ID_LEN];
    memset(id, id_byte, sizeof id);
    sx_push_result res;
    bool was_empty;
    assert_ok(sx_queue_push(q, id, ts, false, sx_slice_of((const uint8_t *)body, strlen(body)), &res, &was_empty));
    assert_int_equal(res, want);
}

static void test_messages_in_folder(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/test_store_journal.%d", (int)getpid());
    tu_rm_rf(dir);
    sx_queue *q;
    sx_store *st = new_store(&q);
    assert_null(sx_queue_head(q));
    push(q, 1, 1000, "old", SX_PUSH_OK);
    push(q, 2, 1700000002, "two", SX_PUSH_OK);
    push(q, 3, 1700000003, "three", SX_PUSH_OK);
    assert_int_equal(q->n_msgs, 3);
    assert_true(q->head == NULL); /* nothing in memory */
    /* as the reference: a queue written since idle_interval is not expired */
    assert_int_equal(sx_queue_expire(q, 2000), 0);
    sx_store_free(st);
    st = new_store(&q); /* not open after a restart: expired, then closed */
    assert_int_equal(sx_queue_expire(q, 2000), 1);
    assert_int_equal(q->n_msgs, 2);
    sx_msg *h = sx_queue_head(q);
    assert_non_null(h);
    assert_int_equal(h->len, 3);
    assert_memory_equal(h->body, "two", 3);
    uint8_t id[SX_ID_LEN];
    memset(id, 2, sizeof id);
    assert_true(sx_queue_remove_head(q, id));
    assert_false(sx_queue_remove_head(q, id)); /* not the head any more */
    sx_store_free(st);                         /* closes the journal too */

    /* a restart: the queue record again, its message from the folder */
    st = new_store(&q);
    assert_int_equal(q->n_msgs, 0);
    h = sx_queue_head(q);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_messages_in_folder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
