/* Unit tests of the in-memory queue store (PROTOCOL-NOTES E.1-E.5). */
#include "testutil.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/util.h"
#include "smp_router/store.h"

static sx_qkey test_key(uint8_t seed)
{
    sx_qkey k = {.alg = SX_KEY_ED25519, .len = 32};
    memset(k.raw, seed, 32);
    return k;
}

static sx_queue *create(sx_store *s, uint8_t mode)
{
    sx_new_queue nq = {0};
    nq.rkey = test_key(1);
    nq.mode = mode;
    nq.now = 1718928000 + 1234;
    sx_queue *q;
    assert_ok(sx_store_create(s, &nq, &q));
    return q;
}

static void test_create_find_delete(void **state)
{
    (void)state;
    sx_store *s;
    assert_ok(sx_store_new(&s));
    sx_queue *q = create(s, 'M');
    assert_int_equal(q->updated_at, 1718928000); /* PROTOCOL-NOTES E5: rounded to the day */
    assert_int_equal(sx_store_queue_count(s), 1);
    assert_memory_not_equal(q->rid, q->sid, SX_ID_LEN);

    sx_queue *f = sx_store_find(s, SX_PARTY_RECIPIENT, sx_slice_of(q->rid, SX_ID_LEN));
    assert_ptr_equal(f, q);
    sx_queue_release(s, f);
    f = sx_store_find(s, SX_PARTY_SENDER, sx_slice_of(q->sid, SX_ID_LEN));
    assert_ptr_equal(f, q);
    sx_queue_release(s, f);
    /* PROTOCOL-NOTES E2: an id is found only in its own party's map. */
    assert_null(sx_store_find(s, SX_PARTY_SENDER, sx_slice_of(q->rid, SX_ID_LEN)));
    assert_null(sx_store_find(s, SX_PARTY_RECIPIENT, sx_slice_of(q->sid, SX_ID_LEN)));
    assert_null(sx_store_find(s, SX_PARTY_RECIPIENT, sx_slice_of(q->rid, 23)));

    uint8_t rid[SX_ID_LEN];
    memcpy(rid, q->rid, SX_ID_LEN);
    sx_store_delete(s, q);
    sx_store_delete(s, q); /* idempotent */
    assert_true(q->deleted);
    assert_null(sx_store_find(s, SX_PARTY_RECIPIENT, sx_slice_of(rid, SX_ID_LEN)));
    assert_int_equal(sx_store_queue_count(s), 0);
    sx_queue_release(s, q); /* the creator's reference frees it */
    sx_store_free(s);
}

static void test_client_sender_id(void **state)
{
    (void)state;
    sx_store *s;
    assert_ok(sx_store_new(&s));
    sx_new_queue nq = {0};
    nq.rkey = test_key(2);
    nq.has_sid = true;
    memset(nq.sid, 0x55, SX_ID_LEN);
    sx_queue *q, *q2;
    assert_ok(sx_store_create(s, &nq, &q));
    assert_memory_equal(q->sid, nq.sid, SX_ID_LEN);
    /* PROTOCOL-NOTES D4: the same client-chosen id again is AUTH, nothing is
     * created. */
    assert_int_equal(sx_store_create(s, &nq, &q2), SX_E_AUTH);
    assert_null(q2);
    assert_int_equal(sx_store_queue_count(s), 1);
    sx_queue_release(s, q);
    sx_store_free(s);
}

static void test_quota(void **state)
{
    (void)state;
    sx_store *s;
    assert_ok(sx_store_new(&s));
    sx_queue *q = create(s, 'M');
    uint8_t id[SX_ID_LEN] = {0};
    sx_push_result res;
    bool empty;
    for (int i = 0; i < SX_QUEUE_QUOTA; i++) {
        id[0] = (uint8_t)i;
        assert_ok(sx_queue_push(s, q, id, 100 + i, true, sx_slice_str("hello"), &res, &empty));
        assert_int_equal(res, SX_PUSH_OK);
        assert_int_equal(empty, i == 0);
    }
    /* PROTOCOL-NOTES E11: the 129th is refused and leaves the marker with its
     * id. */
    id[0] = 200;
    assert_ok(sx_queue_push(s, q, id, 999, true, sx_slice_str("x"), &res, &empty));
    assert_int_equal(res, SX_PUSH_QUOTA);
    assert_true(q->tail->quota);
    assert_int_equal(q->tail->id[0], 200);
    assert_int_equal(q->tail->ts, 999);
    assert_int_equal(q->n_msgs, SX_QUEUE_QUOTA + 1);
    /* Further sends refused without another marker, even after one ACK. */
    id[0] = 201;
    assert_ok(sx_queue_push(s, q, id, 1000, false, sx_slice_str("y"), &res, &empty));
    assert_int_equal(res, SX_PUSH_QUOTA);
    uint8_t head[SX_ID_LEN] = {0};
    assert_true(sx_queue_remove_head(s, q, head));
    assert_ok(sx_queue_push(s, q, id, 1000, false, sx_slice_str("y"), &res, &empty));
    assert_int_equal(res, SX_PUSH_QUOTA);
    assert_int_equal(q->n_msgs, SX_QUEUE_QUOTA);
    /* Drain everything including the marker: sending works again. */
    while (q->head) {
        memcpy(head, q->head->id, SX_ID_LEN);
        assert_true(sx_queue_remove_head(s, q, head));
    }
    assert_ok(sx_queue_push(s, q, id, 1001, false, sx_slice_str("z"), &res, &empty));
    assert_int_equal(res, SX_PUSH_OK);
    assert_true(empty);
    sx_queue_release(s, q);
    sx_store_free(s);
}

static void test_remove_head_only(void **state)
{
    (void)state;
    sx_store *s;
    assert_ok(sx_store_new(&s));
    sx_queue *q = create(s, 'M');
    uint8_t a[SX_ID_LEN] = {1}, b[SX_ID_LEN] = {2};
    sx_push_result res;
    bool empty;
    assert_ok(sx_queue_push(s, q, a, 1, false, sx_slice_str("a"), &res, &empty));
    assert_ok(sx_queue_push(s, q, b, 2, false, sx_slice_str("b"), &res, &empty));
    assert_false(sx_queue_remove_head(s, q, b)); /* PROTOCOL-NOTES E13: only the head */
    assert_true(sx_queue_remove_head(s, q, a));
    assert_memory_equal(sx_queue_head(s, q)->body, "b", 1);
    assert_true(sx_queue_remove_head(s, q, b));
    assert_null(sx_queue_head(s, q));
    assert_false(sx_queue_remove_head(s, q, b));
    sx_queue_release(s, q);
    sx_store_free(s);
}

static void test_expire(void **state)
{
    (void)state;
    sx_store *s;
    assert_ok(sx_store_new(&s));
    sx_queue *q = create(s, 'M');
    uint8_t id[SX_ID_LEN] = {0};
    sx_push_result res;
    bool empty;
    for (int i = 0; i < 5; i++) {
        id[0] = (uint8_t)i;
        assert_ok(sx_queue_push(s, q, id, 10 * i, false, sx_slice_str("m"), &res, &empty));
    }
    assert_int_equal(sx_queue_expire(s, q, 25), 3); /* ts 0, 10, 20 */
    assert_int_equal(q->n_msgs, 2);
    assert_int_equal(q->head->ts, 30);
    sx_queue_release(s, q);
    sx_store_free(s);
}

static void test_notifier_and_link(void **state)
{
    (void)state;
    sx_store *s;
    assert_ok(sx_store_new(&s));
    sx_queue *q = create(s, 'C');
    sx_queue *other = create(s, 'C');
    sx_notifier n = {0};
    memset(n.id, 7, SX_ID_LEN);
    n.key = test_key(3);
    sx_queue_lock(q);
    assert_ok(sx_store_set_notifier(s, q, &n));
    sx_queue_unlock(q);
    sx_queue *f = sx_store_find(s, SX_PARTY_NOTIFIER, sx_slice_of(n.id, SX_ID_LEN));
    assert_ptr_equal(f, q);
    sx_queue_release(s, f);
    /* The same notifier id on another queue is refused. */
    assert_int_equal(sx_store_set_notifier(s, other, &n), SX_E_AUTH);
    assert_null(sx_queue_notifier(other));
    /* Replacing it moves the map entry (PROTOCOL-NOTES D13). */
    sx_notifier n2 = n;
    memset(n2.id, 8, SX_ID_LEN);
    assert_ok(sx_store_set_notifier(s, q, &n2));
    assert_null(sx_store_find(s, SX_PARTY_NOTIFIER, sx_slice_of(n.id, SX_ID_LEN)));
    f = sx_store_find(s, SX_PARTY_NOTIFIER, sx_slice_of(n2.id, SX_ID_LEN));
    assert_ptr_equal(f, q);
    sx_queue_release(s, f);
    sx_store_delete_notifier(s, q);
    assert_null(sx_store_find(s, SX_PARTY_NOTIFIER, sx_slice_of(n2.id, SX_ID_LEN)));

    uint8_t lid[SX_ID_LEN];
    memset(lid, 9, SX_ID_LEN);
    assert_ok(sx_store_set_link(s, q, sx_slice_of(lid, SX_ID_LEN), sx_slice_str("fixed"), sx_slice_str("user")));
    f = sx_store_find(s, SX_PARTY_LINK, sx_slice_of(lid, SX_ID_LEN));
    assert_ptr_equal(f, q);
    sx_queue_release(s, f);
    assert_int_equal(sx_queue_link(q)->fixed_len, 5);
    assert_memory_equal(sx_queue_link(q)->data + 5, "user", 4);
    /* Updating the same queue's link keeps the id. */
    assert_ok(sx_store_set_link(s, q, sx_slice_of(lid, SX_ID_LEN), sx_slice_str("fixed"), sx_slice_str("u2")));
    assert_int_equal(sx_store_set_link(s, other, sx_slice_of(lid, SX_ID_LEN), sx_slice_str("f"), sx_slice_str("")),
                     SX_E_AUTH);
    /* Deleting the queue removes notifier and link entries too. */
    sx_store_delete(s, q);
    assert_null(sx_store_find(s, SX_PARTY_LINK, sx_slice_of(lid, SX_ID_LEN)));
    sx_queue_release(s, q);
    sx_queue_release(s, other);
    sx_store_free(s);
}

static void test_rkeys(void **state)
{
    (void)state;
    sx_store *s;
    assert_ok(sx_store_new(&s));
    sx_queue *q = create(s, 'C');
    sx_qkey keys[3] = {test_key(4), test_key(5), test_key(6)};
    assert_ok(sx_queue_set_rkeys(q, keys, 3));
    assert_int_equal(q->n_rkeys, 3);
    sx_qkey got = sx_queue_rkey(q, 2);
    assert_true(sx_qkey_equal(&got, &keys[2]));
    assert_int_equal(sx_queue_rkey(q, 3).len, 0);
    assert_int_equal(sx_queue_set_rkeys(q, keys, 0), SX_E_LIMIT);
    assert_ok(sx_queue_set_rkeys(q, keys + 1, 1));
    got = sx_queue_rkey(q, 0);
    assert_true(sx_qkey_equal(&got, &keys[1]));
    sx_queue_release(s, q);
    sx_store_free(s);
}

/* Keys longer than the record's room (Ed448) are kept apart and read back
 * whole; a queue with none of the rare fields has no side record. */
static void test_long_keys_and_side(void **state)
{
    (void)state;
    sx_store *s;
    assert_ok(sx_store_new(&s));
    sx_queue *q = create(s, 'M');
    assert_null(q->side);
    sx_qkey big = {.alg = SX_KEY_ED448, .len = 57};
    for (int i = 0; i < 57; i++)
        big.raw[i] = (uint8_t)(200 - i);
    assert_false(sx_queue_secured(q));
    assert_ok(sx_queue_set_skey(q, &big));
    assert_true(sx_queue_secured(q));
    sx_qkey got = sx_queue_skey(q);
    assert_true(sx_qkey_equal(&got, &big));
    sx_qkey keys[2] = {big, test_key(7)};
    keys[0].raw[0] ^= 1;
    assert_ok(sx_queue_set_rkeys(q, keys, 1));
    assert_null(q->side); /* one key: still no side record */
    got = sx_queue_rkey(q, 0);
    assert_true(sx_qkey_equal(&got, &keys[0]));
    assert_ok(sx_queue_set_rkeys(q, keys, 2));
    assert_non_null(q->side);
    got = sx_queue_rkey(q, 1);
    assert_true(sx_qkey_equal(&got, &keys[1]));
    /* a short key replaces the long one in place */
    sx_qkey small = test_key(8);
    assert_ok(sx_queue_set_skey(q, &small));
    got = sx_queue_skey(q);
    assert_true(sx_qkey_equal(&got, &small));
    assert_ok(sx_queue_set_skey(q, &big));
    sx_queue_clear_skey(q);
    assert_false(sx_queue_secured(q));
    assert_ok(sx_queue_set_skey(q, &big)); /* freed with the queue */
    sx_queue_release(s, q);
    sx_store_free(s);
}

static void test_qkey_conversion(void **state)
{
    (void)state;
    sx_key *k, *back;
    sx_qkey qk;
    assert_ok(sx_key_generate(SX_KEY_ED448, &k));
    assert_ok(sx_qkey_from_key(k, &qk));
    assert_int_equal(qk.len, 57);
    assert_ok(sx_qkey_to_key(&qk, &back));
    assert_true(sx_key_public_equal(k, back));
    sx_key_free(k);
    sx_key_free(back);
}

static void test_pending_ntfs(void **state)
{
    (void)state;
    sx_store *s;
    assert_ok(sx_store_new(&s));
    sx_queue *q = create(s, 'M');
    sx_pending_ntf n = {0};
    for (int i = 0; i < SX_NTF_PENDING_MAX + 5; i++) {
        n.ts = 100 + i;
        n.msg_id[0] = (uint8_t)i;
        assert_ok(sx_queue_add_ntf(q, &n));
    }
    /* The oldest were dropped to keep the bound. */
    assert_int_equal(q->n_ntfs, SX_NTF_PENDING_MAX);
    assert_int_equal(q->side->ntf_head->ts, 105);
    assert_int_equal(sx_queue_expire_ntfs(q, 110), 5);
    assert_int_equal(q->side->ntf_head->ts, 110);
    sx_pending_ntf *list = sx_queue_take_ntfs(q);
    assert_false(sx_queue_has_ntfs(q));
    assert_int_equal(q->n_ntfs, 0);
    int count = 0;
    int64_t prev = 0;
    while (list) {
        sx_pending_ntf *next = list->next;
        assert_true(list->ts > prev); /* oldest first */
        prev = list->ts;
        free(list);
        list = next;
        count++;
    }
    assert_int_equal(count, SX_NTF_PENDING_MAX - 5);
    assert_ok(sx_queue_add_ntf(q, &n));
    sx_queue_drop_ntfs(q);
    assert_int_equal(q->n_ntfs, 0);
    assert_ok(sx_queue_add_ntf(q, &n)); /* freed with the queue */
    sx_queue_release(s, q);
    sx_store_free(s);
}

static void test_snapshot(void **state)
{
    (void)state;
    sx_store *s;
    assert_ok(sx_store_new(&s));
    sx_queue *a = create(s, 'M'), *b = create(s, 'C');
    sx_queue **qs;
    size_t n;
    assert_ok(sx_store_snapshot(s, &qs, &n));
    assert_int_equal(n, 2);
    assert_true((qs[0] == a && qs[1] == b) || (qs[0] == b && qs[1] == a));
    /* Deleting while holding the snapshot keeps the queue alive. */
    sx_store_delete(s, a);
    sx_queue_release(s, a);
    for (size_t i = 0; i < n; i++) {
        sx_queue_lock(qs[i]);
        sx_queue_unlock(qs[i]);
        sx_queue_release(s, qs[i]);
    }
    free(qs);
    assert_int_equal(sx_store_queue_count(s), 1);
    sx_queue_release(s, b);
    sx_store_free(s);
}

/* Many threads create, find and delete queues at once. */
typedef struct thr_arg {
    sx_store *s;
    int created;
} thr_arg;

static void *churn(void *p)
{
    thr_arg *a = p;
    for (int i = 0; i < 2000; i++) {
        sx_new_queue nq = {0};
        nq.rkey = test_key(9);
        sx_queue *q;
        if (sx_store_create(a->s, &nq, &q) != SX_OK)
            continue;
        a->created++;
        sx_queue *f = sx_store_find(a->s, SX_PARTY_SENDER, sx_slice_of(q->sid, SX_ID_LEN));
        if (f != q)
            abort();
        sx_queue_release(a->s, f);
        if (i % 2)
            sx_store_delete(a->s, q);
        sx_queue_release(a->s, q);
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    (void)state;
    sx_store *s;
    assert_ok(sx_store_new(&s));
    pthread_t t[4];
    thr_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (thr_arg){s, 0};
        assert_int_equal(pthread_create(&t[i], NULL, churn, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    int created = 0;
    for (int i = 0; i < 4; i++)
        created += a[i].created;
    assert_int_equal(created, 8000);
    assert_int_equal(sx_store_queue_count(s), 4000);
    sx_store_free(s);
}

/* Debug builds refuse a second queue lock on the same thread (the rule of
 * store.h): a child process that takes two aborts; one at a time is fine. */
static void test_two_queue_locks_abort(void **state)
{
    (void)state;
#ifdef NDEBUG
    skip();
#else
    sx_store *s;
    assert_ok(sx_store_new(&s));
    sx_queue *a = create(s, 0), *b = create(s, 0);
    sx_queue_lock(a);
    sx_queue_unlock(a);
    sx_queue_lock(b);
    sx_queue_unlock(b);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGABRT, SIG_DFL);
        if (!freopen("/dev/null", "w", stderr)) /* the assertion's message */
            _exit(1);
        sx_queue_lock(a);
        sx_queue_lock(b);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    sx_queue_release(s, a);
    sx_queue_release(s, b);
    sx_store_free(s);
#endif
}

/* ---- queues read on demand (sx_store_set_loader) ---- */

/* A stand-in for the database: two queues, each with all four ids (bytes
 * 0x10*k + party), read as fresh queues; counts the reads. */
typedef struct fake_db {
    int reads;
    bool gone[2];      /* rows marked deleted */
    sx_store *race;    /* set: the queue is put in this store during the read */
} fake_db;

static void fake_ids(int k, sx_party p, uint8_t id[SX_ID_LEN]) { memset(id, 0x10 * (k + 1) + (int)p, SX_ID_LEN); }

static sx_queue *fake_row(int k)
{
    sx_queue *q = calloc(1, sizeof *q);
    fake_ids(k, SX_PARTY_RECIPIENT, q->rid);
    fake_ids(k, SX_PARTY_SENDER, q->sid);
    q->n_rkeys = 1;
    sx_qkey rk = test_key(3);
    assert_ok(sx_queue_set_rkeys(q, &rk, 1));
    assert_non_null(sx_queue_side_get(q));
    q->side->notifier = calloc(1, sizeof *q->side->notifier);
    fake_ids(k, SX_PARTY_NOTIFIER, q->side->notifier->id);
    uint8_t lid[SX_ID_LEN];
    fake_ids(k, SX_PARTY_LINK, lid);
    q->side->link = sx_link_new(sx_slice_of(lid, SX_ID_LEN), sx_slice_str("fixed"), sx_slice_str("user"));
    q->n_msgs = 7; /* as msg_queue_size says */
    return q;
}

static sx_status fake_load(void *ctx, sx_party party, const uint8_t id[SX_ID_LEN], sx_queue **out)
{
    fake_db *db = ctx;
    db->reads++;
    *out = NULL;
    for (int k = 0; k < 2; k++) {
        uint8_t want[SX_ID_LEN];
        fake_ids(k, party, want);
        if (memcmp(want, id, SX_ID_LEN) != 0 || db->gone[k])
            continue;
        if (db->race) { /* another thread read it first */
            sx_store *st = db->race;
            db->race = NULL;
            assert_ok(sx_store_insert(st, fake_row(k)));
        }
        *out = fake_row(k);
    }
    return SX_OK;
}

static void test_lazy_loader(void **state)
{
    (void)state;
    sx_store *s;
    assert_ok(sx_store_new(&s));
    fake_db db = {0};
    sx_queue_loader l = {.load = fake_load, .ctx = &db};
    sx_store_set_loader(s, &l);
    assert_true(sx_store_lazy(s));
    uint8_t id[SX_ID_LEN];

    /* by each of its ids, read once, then held */
    for (sx_party p = SX_PARTY_RECIPIENT; p <= SX_PARTY_LINK; p++) {
        fake_ids(0, p, id);
        sx_queue *q = sx_store_find(s, p, sx_slice_of(id, SX_ID_LEN));
        assert_non_null(q);
        assert_int_equal(q->rid[0], 0x10);
        assert_int_equal(q->n_msgs, 7);
        sx_queue_release(s, q);
    }
    assert_int_equal(db.reads, 1);
    assert_int_equal(sx_store_queue_count(s), 1);
    fake_ids(0, SX_PARTY_SENDER, id);
    sx_queue *held = sx_store_find_cached(s, SX_PARTY_SENDER, sx_slice_of(id, SX_ID_LEN));
    assert_non_null(held);
    sx_queue_release(s, held);

    /* not in the database: NULL, asked each time */
    memset(id, 0x77, sizeof id);
    assert_null(sx_store_find(s, SX_PARTY_SENDER, sx_slice_of(id, SX_ID_LEN)));
    assert_int_equal(db.reads, 2);

    /* read by another thread meanwhile: that one is kept */
    db.race = s;
    fake_ids(1, SX_PARTY_NOTIFIER, id);
    sx_queue *q1 = sx_store_find(s, SX_PARTY_NOTIFIER, sx_slice_of(id, SX_ID_LEN));
    assert_non_null(q1);
    fake_ids(1, SX_PARTY_RECIPIENT, id);
    sx_queue *again = sx_store_find_cached(s, SX_PARTY_RECIPIENT, sx_slice_of(id, SX_ID_LEN));
    assert_ptr_equal(again, q1);
    sx_queue_release(s, again);
    assert_int_equal(sx_store_queue_count(s), 2);

    /* deleted: not read back while the database may still have the row */
    sx_store_delete(s, q1);
    sx_queue_release(s, q1);
    int before = db.reads;
    assert_null(sx_store_find(s, SX_PARTY_RECIPIENT, sx_slice_of(id, SX_ID_LEN)));
    fake_ids(1, SX_PARTY_SENDER, id);
    assert_null(sx_store_find(s, SX_PARTY_SENDER, sx_slice_of(id, SX_ID_LEN)));
    assert_int_equal(db.reads, before + 2); /* read, and refused */
    assert_int_equal(sx_store_queue_count(s), 1);

    /* a client-chosen sender id that is in the database only is taken */
    db.gone[1] = true;
    sx_new_queue nq = {0};
    nq.rkey = test_key(1);
    nq.now = 1718928000;
    nq.has_sid = true;
    fake_ids(0, SX_PARTY_SENDER, nq.sid); /* held in memory */
    sx_queue *q;
    assert_int_equal(sx_store_create(s, &nq, &q), SX_E_AUTH);
    sx_store *s2;
    assert_ok(sx_store_new(&s2));
    sx_store_set_loader(s2, &l);
    before = db.reads;
    assert_int_equal(sx_store_create(s2, &nq, &q), SX_E_AUTH); /* read from the "database" */
    assert_int_equal(db.reads, before + 1);
    memset(nq.sid, 0x55, sizeof nq.sid); /* free */
    assert_ok(sx_store_create(s2, &nq, &q));
    sx_queue_release(s2, q);
    sx_store_free(s2);

    sx_store_set_loader(s, NULL);
    assert_false(sx_store_lazy(s));
    sx_store_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_find_delete),
        cmocka_unit_test(test_client_sender_id),
        cmocka_unit_test(test_quota),
        cmocka_unit_test(test_remove_head_only),
        cmocka_unit_test(test_expire),
        cmocka_unit_test(test_notifier_and_link),
        cmocka_unit_test(test_rkeys),
        cmocka_unit_test(test_long_keys_and_side),
        cmocka_unit_test(test_qkey_conversion),
        cmocka_unit_test(test_pending_ntfs),
        cmocka_unit_test(test_snapshot),
        cmocka_unit_test(test_concurrent),
        cmocka_unit_test(test_lazy_loader),
        cmocka_unit_test(test_two_queue_locks_abort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
