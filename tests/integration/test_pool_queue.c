/* Queue operations through the SMP connection pool (sx_smp_pool_create ...
 * and their sx_smp_tpool_* forms of simplex/smp.h) against real smp-server
 * processes on loopback: a queue created through the pool, secured by its
 * recipient (KEY) and by its sender (SKEY, directly and through a proxy
 * router), messages sent and received with GET, a notifier (NKEY, and with
 * NEW) whose NSUB gets the NMSG that opens with the secret the pool gave,
 * NDEL, OFF, DEL; short links: a contact queue made with link data and the
 * client's sender id, read with LGET from another pool, its user data
 * changed with LSET (its fixed data refused with AUTH), LDEL; an
 * invitation queue secured with LKEY (repeated with the same key: the same
 * answer; another key: AUTH); a NEW repeated with the same corrId refused
 * (AUTH) without touching the first queue. Plus the event-loop flavour's
 * callbacks: never from inside the call, none after sx_smp_pool_free; and
 * the same commands on blocking connections (sx_smp_queue_create_ex,
 * sx_smp_link_*, sx_smp_queue_notify_on ...). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simplex/simplex.h"

#include "pool_router.h"

/* Only for what the public API cannot do: opening the notification's
 * metadata, random bytes and wiping. */
#include "crypto/box.h"
#include "crypto/util.h"

#define WAIT_MS 30000

static void assert_code(const char *code)
{
    if (strcmp(sx_error_code(), code) != 0)
        fail_msg("error code '%s' (%s), expected '%s'", sx_error_code(), sx_error_message(), code);
}

/* The next note of kind, skipping CONNECTED and the like; fails after WAIT_MS. */
static void next_note(sx_smp_tpool *tp, sx_smp_pool_event_kind kind, sx_smp_pool_note *n)
{
    int64_t until = now_ms() + WAIT_MS;
    for (;;) {
        assert_ok(sx_smp_tpool_next(tp, 200, n));
        if (n->kind == kind)
            return;
        if (n->kind == SX_SMP_POOL_SUB_FAILED)
            fail_msg("a subscription failed: %s", n->detail);
        sx_smp_pool_note_clear(n);
        if (now_ms() > until)
            fail_msg("no note of kind %d in %d ms", (int)kind, WAIT_MS);
    }
}

/* The next SUB_FAILED note (a SUBSCRIBED one fails the test). */
static void next_note_or_fail(sx_smp_tpool *tp, sx_smp_pool_note *n)
{
    int64_t until = now_ms() + WAIT_MS;
    for (;;) {
        assert_ok(sx_smp_tpool_next(tp, 200, n));
        if (n->kind == SX_SMP_POOL_SUB_FAILED)
            return;
        if (n->kind == SX_SMP_POOL_SUBSCRIBED)
            fail_msg("subscribed where a refusal was expected");
        sx_smp_pool_note_clear(n);
        if (now_ms() > until)
            fail_msg("no SUB_FAILED note in %d ms", WAIT_MS);
    }
}

static void send_one(sx_smp_tpool *tp, sx_smp_queue *sq, const char *text)
{
    assert_ok(sx_smp_tpool_send(tp, sq, text, strlen(text)));
}

static void get_one(sx_smp_tpool *tp, sx_smp_queue *rq, const char *text)
{
    sx_smp_event ev;
    if (sx_smp_tpool_get(tp, rq, &ev) != SX_OK)
        fail_msg("get: %s", sx_error_message());
    assert_int_equal(ev.kind, SX_SMP_EVENT_MESSAGE);
    assert_int_equal(ev.body_len, strlen(text));
    assert_memory_equal(ev.body, text, ev.body_len);
    assert_ok(sx_smp_tpool_ack_got(tp, rq, &ev));
    sx_smp_event_clear(&ev);
}

static void get_none(sx_smp_tpool *tp, sx_smp_queue *rq)
{
    sx_smp_event ev;
    assert_ok(sx_smp_tpool_get(tp, rq, &ev));
    assert_int_equal(ev.kind, SX_SMP_EVENT_NONE);
    assert_null(ev.body);
}

/* ---- create, secure both ways, GET, OFF, DEL ---- */

static void test_queue_ops(void **state)
{
    (void)state;
    router_start();
    sx_smp_tpool *tp;
    assert_ok(sx_smp_tpool_new(NULL, &tp));

    /* a messaging queue, secured by its recipient with the sender's key */
    sx_smp_created c;
    assert_ok(sx_smp_tpool_create(tp, R.addr, NULL, &c));
    assert_non_null(c.queue);
    assert_int_equal(c.mode, 'M');
    assert_false(c.has_link_id);
    assert_false(c.has_ntf);
    sx_smp_queue *rq = c.queue, *sq;
    uint8_t rid[SX_SMP_QUEUE_ID_LEN], sid[SX_SMP_QUEUE_ID_LEN];
    sx_smp_queue_ids(rq, rid, sid);
    assert_memory_equal(rid, c.rcv_id, sizeof rid);
    assert_memory_equal(sid, c.snd_id, sizeof sid);
    assert_ok(sx_smp_queue_sender(rq, &sq));
    uint8_t key[SX_SMP_DH_KEY_MAX];
    size_t key_len;
    assert_int_equal(sx_smp_queue_sender_public_key(sq, key, 10, &key_len), SX_E_LIMIT);
    assert_ok(sx_smp_queue_sender_public_key(sq, key, sizeof key, &key_len));
    assert_int_equal(sx_smp_tpool_secure(tp, sq, key, key_len), SX_E_USAGE); /* the sender side */
    assert_int_equal(sx_smp_tpool_secure(tp, rq, key, 5), SX_E_USAGE);       /* not a key */
    assert_ok(sx_smp_tpool_secure(tp, rq, key, key_len));
    assert_ok(sx_smp_tpool_secure(tp, rq, key, key_len)); /* the same key again */
    sx_smp_queue *other;
    assert_ok(sx_smp_queue_sender(rq, &other));
    uint8_t key2[SX_SMP_DH_KEY_MAX];
    size_t key2_len;
    assert_ok(sx_smp_queue_sender_public_key(other, key2, sizeof key2, &key2_len));
    assert_int_equal(sx_smp_tpool_secure(tp, rq, key2, key2_len), SX_E_AUTH);
    assert_int_equal(sx_smp_tpool_send(tp, other, "x", 1), SX_E_AUTH); /* not its key */
    sx_smp_queue_free(other);

    /* GET: the messages in order, then nothing */
    get_none(tp, rq);
    send_one(tp, sq, "one");
    send_one(tp, sq, "two");
    get_one(tp, rq, "one");
    get_one(tp, rq, "two");
    get_none(tp, rq);

    /* a second queue, secured by its sender (SKEY), received by SUB */
    sx_smp_created c2;
    assert_ok(sx_smp_tpool_create(tp, R.addr, NULL, &c2));
    sx_smp_queue *rq2 = c2.queue, *sq2;
    assert_ok(sx_smp_queue_sender(rq2, &sq2));
    assert_int_equal(sx_smp_tpool_secure_sender(tp, rq2), SX_E_USAGE);
    assert_ok(sx_smp_tpool_secure_sender(tp, sq2));
    assert_true(sx_smp_queue_has_sender_key(sq2));
    assert_ok(sx_smp_tpool_secure_sender(tp, sq2)); /* repeated: the same key */
    sx_smp_queue *sq2b;
    assert_ok(sx_smp_queue_sender(rq2, &sq2b));
    assert_int_equal(sx_smp_tpool_secure_sender(tp, sq2b), SX_E_AUTH);
    assert_code("AUTH");
    sx_smp_queue_free(sq2b);
    send_one(tp, sq2, "by sub");
    assert_ok(sx_smp_tpool_subscribe(tp, rq2));
    sx_smp_pool_note n;
    next_note(tp, SX_SMP_POOL_MESSAGE, &n);
    assert_ptr_equal(n.queue, rq2);
    assert_int_equal(n.ev.kind, SX_SMP_EVENT_MESSAGE);
    assert_memory_equal(n.ev.body, "by sub", 6);
    assert_ok(sx_smp_tpool_ack(tp, &n));
    sx_smp_pool_note_clear(&n);
    /* GET of a queue subscribed on the same connection: the router refuses it */
    sx_smp_event ev;
    assert_int_equal(sx_smp_tpool_get(tp, rq2, &ev), SX_E_PROTOCOL);
    assert_code("CMD PROHIBITED");
    /* DEL of a subscribed queue: the pool lets go of it */
    assert_ok(sx_smp_tpool_delete(tp, rq2));
    assert_int_equal(sx_smp_tpool_unsubscribe(tp, rq2), SX_E_USAGE);
    assert_int_equal(sx_smp_tpool_send(tp, sq2, "x", 1), SX_E_AUTH);

    /* NEW that subscribes at once: the pool holds the queue */
    sx_smp_new_opts os = {.subscribe = true};
    sx_smp_created c3;
    assert_ok(sx_smp_tpool_create(tp, R.addr, &os, &c3));
    next_note(tp, SX_SMP_POOL_SUBSCRIBED, &n);
    assert_ptr_equal(n.queue, c3.queue);
    sx_smp_pool_note_clear(&n);
    sx_smp_queue *sq3;
    assert_ok(sx_smp_queue_sender(c3.queue, &sq3));
    send_one(tp, sq3, "subscribed at once");
    next_note(tp, SX_SMP_POOL_MESSAGE, &n);
    assert_ptr_equal(n.queue, c3.queue);
    assert_memory_equal(n.ev.body, "subscribed at once", 18);
    assert_ok(sx_smp_tpool_ack(tp, &n));
    sx_smp_pool_note_clear(&n);
    assert_ok(sx_smp_tpool_create(tp, R.addr, &os, &c2)); /* a second one: SUBSCRIBED again */
    next_note(tp, SX_SMP_POOL_SUBSCRIBED, &n);
    assert_ptr_equal(n.queue, c2.queue);
    sx_smp_pool_note_clear(&n);
    assert_ok(sx_smp_tpool_delete(tp, c2.queue)); /* and the pool lets go of it */
    assert_int_equal(sx_smp_tpool_unsubscribe(tp, c2.queue), SX_E_USAGE);
    assert_ok(sx_smp_tpool_unsubscribe(tp, c3.queue));
    sx_smp_queue_free(c2.queue);

    /* OFF: no more sends, the waiting message can still be taken */
    send_one(tp, sq, "before off");
    assert_ok(sx_smp_tpool_suspend(tp, rq));
    assert_int_equal(sx_smp_tpool_send(tp, sq, "after off", 9), SX_E_AUTH);
    get_one(tp, rq, "before off");
    /* DEL: gone */
    assert_ok(sx_smp_tpool_delete(tp, rq));
    assert_int_equal(sx_smp_tpool_get(tp, rq, &ev), SX_E_AUTH);
    assert_int_equal(sx_smp_tpool_delete(tp, rq), SX_E_AUTH);

    sx_smp_pool_stats st;
    sx_smp_tpool_get_stats(tp, &st);
    assert_int_equal(st.connected, 1);
    assert_int_equal(st.sessions, 1);
    sx_smp_tpool_free(tp);
    sx_smp_queue_free(rq);
    sx_smp_queue_free(sq);
    sx_smp_queue_free(rq2);
    sx_smp_queue_free(sq2);
    sx_smp_queue_free(c3.queue);
    sx_smp_queue_free(sq3);
    router_kill9();
}

/* ---- notifiers ---- */

/* SEND "notified" with the notification flag: through a pool (tp), or on
 * a blocking connection of its own. */
static void send_notified(sx_smp_tpool *tp, const sx_smp_queue *sq)
{
    if (tp) {
        assert_ok(sx_smp_tpool_send_notify(tp, sq, "notified", 8));
        return;
    }
    sx_smp_conn *c;
    assert_ok(sx_smp_connect(R.addr, NULL, &c));
    assert_ok(sx_smp_send_notify(c, sq, "notified", 8));
    sx_smp_close(c);
}

/* NSUB with the credentials on tp; a notified send (through via, or a
 * blocking connection when NULL) comes as a NOTIFICATION whose metadata
 * opens with their secret. */
static sx_smp_notifier *check_notifier(sx_smp_tpool *tp, const sx_smp_ntf_creds *nc, sx_smp_queue *sq,
                                       sx_smp_tpool *via)
{
    sx_smp_notifier *nt;
    assert_ok(sx_smp_notifier_new(R.addr, nc->notifier_id, sizeof nc->notifier_id, nc->notifier_key, &nt));
    assert_ok(sx_smp_tpool_subscribe_notifier(tp, nt));
    sx_smp_pool_note n;
    next_note(tp, SX_SMP_POOL_SUBSCRIBED, &n);
    assert_ptr_equal(n.notifier, nt);
    sx_smp_pool_note_clear(&n);
    send_notified(via, sq);
    next_note(tp, SX_SMP_POOL_NOTIFICATION, &n);
    assert_ptr_equal(n.notifier, nt);
    uint8_t plain[512];
    sx_slice meta;
    assert_ok(sx_cb_decrypt_padded(nc->dh_secret, n.nonce, sx_slice_of(n.meta, n.meta_len), plain, sizeof plain,
                                   &meta));
    assert_true(meta.len > 0);
    sx_smp_pool_note_clear(&n);
    return nt; /* freed after the pool: it stays subscribed */
}

static void test_notifiers(void **state)
{
    (void)state;
    router_start();
    sx_smp_tpool *tp;
    assert_ok(sx_smp_tpool_new(NULL, &tp));

    /* NKEY on an existing queue */
    sx_smp_created c;
    assert_ok(sx_smp_tpool_create(tp, R.addr, NULL, &c));
    sx_smp_queue *rq = c.queue, *sq;
    assert_ok(sx_smp_queue_sender(rq, &sq));
    sx_smp_ntf_creds nc;
    assert_int_equal(sx_smp_tpool_notify_on(tp, sq, &nc), SX_E_USAGE);
    assert_ok(sx_smp_tpool_notify_on(tp, rq, &nc));
    assert_true(nc.srv_dh_key_len > 0);
    sx_smp_notifier *nt1 = check_notifier(tp, &nc, sq, tp);
    get_one(tp, rq, "notified");
    /* NDEL: the notifier is gone, its NSUB refused (on another pool: this
     * one may still hold the first subscription) */
    assert_ok(sx_smp_tpool_notify_off(tp, rq));
    sx_smp_tpool *tq;
    assert_ok(sx_smp_tpool_new(NULL, &tq));
    sx_smp_notifier *nt;
    assert_ok(sx_smp_notifier_new(R.addr, nc.notifier_id, sizeof nc.notifier_id, nc.notifier_key, &nt));
    assert_ok(sx_smp_tpool_subscribe_notifier(tq, nt));
    sx_smp_pool_note n;
    next_note_or_fail(tq, &n);
    assert_ptr_equal(n.notifier, nt);
    assert_int_equal(n.status, SX_E_AUTH);
    sx_smp_pool_note_clear(&n);
    sx_smp_tpool_free(tq);
    sx_smp_notifier_free(nt);
    sx_wipe(&nc, sizeof nc);

    /* NEW with notifier credentials (SMP v17) */
    sx_smp_new_opts o = {.notifier = true};
    sx_smp_created c2;
    assert_ok(sx_smp_tpool_create(tp, R.addr, &o, &c2));
    assert_true(c2.has_ntf);
    sx_smp_queue *sq2;
    assert_ok(sx_smp_queue_sender(c2.queue, &sq2));
    sx_smp_notifier *nt2 = check_notifier(tp, &c2.ntf, sq2, NULL);
    get_one(tp, c2.queue, "notified");

    sx_smp_tpool_free(tp);
    sx_smp_notifier_free(nt1);
    sx_smp_notifier_free(nt2);
    sx_smp_queue_free(rq);
    sx_smp_queue_free(sq);
    sx_smp_queue_free(c2.queue);
    sx_smp_queue_free(sq2);
    sx_wipe(&c2, sizeof c2);
    router_kill9();
}

/* ---- short links ---- */

static void assert_link(const sx_smp_link *l, const uint8_t *sid, const char *fixed, const char *user)
{
    assert_memory_equal(l->sender_id, sid, SX_SMP_QUEUE_ID_LEN);
    assert_int_equal(l->fixed_len, strlen(fixed));
    assert_memory_equal(l->fixed, fixed, l->fixed_len);
    assert_int_equal(l->user_len, strlen(user));
    if (l->user_len)
        assert_memory_equal(l->user, user, l->user_len);
}

static void test_short_links(void **state)
{
    (void)state;
    router_start();
    sx_smp_tpool *tp, *tp2;
    assert_ok(sx_smp_tpool_new(NULL, &tp));
    assert_ok(sx_smp_tpool_new(NULL, &tp2)); /* another connection, for the readers */

    /* a contact queue with link data and the client's sender id */
    uint8_t corr[24], link_id[SX_SMP_QUEUE_ID_LEN], want_sid[SX_SMP_QUEUE_ID_LEN];
    sx_random_bytes(corr, sizeof corr);
    sx_random_bytes(link_id, sizeof link_id);
    assert_ok(sx_smp_link_sender_id(corr, want_sid));
    const char *fixed = "fixed data, encrypted by the agent";
    sx_smp_new_opts o = {.contact = true,
                         .has_link = true,
                         .corr_id = corr,
                         .link_id = link_id,
                         .fixed = (const uint8_t *)fixed,
                         .fixed_len = strlen(fixed),
                         .user = (const uint8_t *)"user 1",
                         .user_len = 6};
    sx_smp_created c;
    assert_ok(sx_smp_tpool_create(tp, R.addr, &o, &c));
    assert_int_equal(c.mode, 'C');
    assert_memory_equal(c.snd_id, want_sid, sizeof want_sid);
    assert_true(c.has_link_id);
    assert_memory_equal(c.link_id, link_id, sizeof link_id);
    sx_smp_queue *crq = c.queue;

    /* the same NEW again (a retry after a lost answer): refused, nothing
     * changed */
    sx_smp_created again;
    assert_int_equal(sx_smp_tpool_create(tp, R.addr, &o, &again), SX_E_AUTH);
    assert_null(again.queue);
    sx_smp_new_opts o2 = o;
    sx_random_bytes(link_id, sizeof link_id); /* another link id, the same sender id */
    o2.link_id = link_id;
    assert_int_equal(sx_smp_tpool_create(tp, R.addr, &o2, &again), SX_E_AUTH);
    memcpy(link_id, c.link_id, sizeof link_id);
    o2.contact = false; /* a messaging queue needs no link id; the corrId still decides */
    assert_int_equal(sx_smp_tpool_create(tp, R.addr, &o2, &again), SX_E_AUTH);

    /* LGET from another connection: the same blobs */
    sx_smp_link l;
    assert_ok(sx_smp_tpool_link_get(tp2, R.addr, link_id, &l));
    assert_link(&l, want_sid, fixed, "user 1");
    sx_smp_link_clear(&l);
    /* anyone may send to a contact queue, without a key */
    sx_smp_queue *csq;
    assert_ok(sx_smp_queue_sender_new(R.addr, want_sid, &csq));
    send_one(tp2, csq, "hello contact");
    get_one(tp, crq, "hello contact");

    /* LSET: the user data changes; other fixed data is refused */
    assert_ok(sx_smp_tpool_link_set(tp, crq, link_id, (const uint8_t *)fixed, strlen(fixed),
                                    (const uint8_t *)"user 2", 6));
    assert_ok(sx_smp_tpool_link_get(tp2, R.addr, link_id, &l));
    assert_link(&l, want_sid, fixed, "user 2");
    sx_smp_link_clear(&l);
    assert_int_equal(sx_smp_tpool_link_set(tp, crq, link_id, (const uint8_t *)"other", 5,
                                           (const uint8_t *)"user 3", 6),
                     SX_E_AUTH);
    assert_ok(sx_smp_tpool_link_get(tp2, R.addr, link_id, &l));
    assert_link(&l, want_sid, fixed, "user 2");
    sx_smp_link_clear(&l);
    /* LKEY is for invitation queues only */
    sx_smp_queue *lsq;
    assert_ok(sx_smp_queue_sender_new(R.addr, NULL, &lsq));
    assert_int_equal(sx_smp_tpool_link_secure(tp2, lsq, link_id, &l), SX_E_AUTH);
    sx_smp_queue_free(lsq);
    /* LDEL: the link data is gone */
    assert_ok(sx_smp_tpool_link_delete(tp, crq));
    assert_int_equal(sx_smp_tpool_link_get(tp2, R.addr, link_id, &l), SX_E_AUTH);
    assert_null(l.fixed);

    /* an invitation (messaging) queue with link data: the router picks the
     * link id; LKEY secures it and gives the data */
    sx_random_bytes(corr, sizeof corr);
    assert_ok(sx_smp_link_sender_id(corr, want_sid));
    sx_smp_new_opts oi = {.has_link = true,
                          .corr_id = corr,
                          .fixed = (const uint8_t *)fixed,
                          .fixed_len = strlen(fixed),
                          .user = NULL,
                          .user_len = 0};
    sx_smp_created ci;
    assert_ok(sx_smp_tpool_create(tp, R.addr, &oi, &ci));
    assert_int_equal(ci.mode, 'M');
    assert_true(ci.has_link_id);
    assert_memory_equal(ci.snd_id, want_sid, sizeof want_sid);
    /* LGET is for contact queues only */
    assert_int_equal(sx_smp_tpool_link_get(tp2, R.addr, ci.link_id, &l), SX_E_AUTH);
    /* LSET by the recipient while unsecured: the user data changes */
    assert_ok(sx_smp_tpool_link_set(tp, ci.queue, ci.link_id, (const uint8_t *)fixed, strlen(fixed),
                                    (const uint8_t *)"invite", 6));
    sx_smp_queue *isq;
    assert_ok(sx_smp_queue_sender_new(R.addr, NULL, &isq));
    assert_false(sx_smp_queue_has_sender_key(isq));
    assert_ok(sx_smp_tpool_link_secure(tp2, isq, ci.link_id, &l));
    assert_link(&l, want_sid, fixed, "invite");
    sx_smp_link_clear(&l);
    assert_true(sx_smp_queue_has_sender_key(isq));
    uint8_t sid[SX_SMP_QUEUE_ID_LEN];
    sx_smp_queue_ids(isq, NULL, sid);
    assert_memory_equal(sid, want_sid, sizeof sid);
    /* repeated with the same key (a retry): the same answer */
    assert_ok(sx_smp_tpool_link_secure(tp2, isq, ci.link_id, &l));
    assert_link(&l, want_sid, fixed, "invite");
    sx_smp_link_clear(&l);
    /* another key: refused */
    sx_smp_queue *isq2;
    assert_ok(sx_smp_queue_sender_new(R.addr, NULL, &isq2));
    assert_int_equal(sx_smp_tpool_link_secure(tp2, isq2, ci.link_id, &l), SX_E_AUTH);
    sx_smp_queue_free(isq2);
    /* secured now: the recipient's LSET is refused, the sender sends with its key */
    assert_int_equal(sx_smp_tpool_link_set(tp, ci.queue, ci.link_id, (const uint8_t *)fixed, strlen(fixed),
                                           (const uint8_t *)"late", 4),
                     SX_E_AUTH);
    send_one(tp2, isq, "joined");
    get_one(tp, ci.queue, "joined");
    /* unknown link ids */
    uint8_t nobody[SX_SMP_QUEUE_ID_LEN] = {0};
    assert_int_equal(sx_smp_tpool_link_get(tp2, R.addr, nobody, &l), SX_E_AUTH);

    /* usage */
    assert_int_equal(sx_smp_tpool_link_get(tp2, "not an address", link_id, &l), SX_E_USAGE);
    sx_smp_new_opts bad = {.contact = true, .has_link = true};
    assert_int_equal(sx_smp_tpool_create(tp, R.addr, &bad, &again), SX_E_USAGE);
    assert_int_equal(sx_smp_queue_sender_new("smp://nowhere", NULL, &isq2), SX_E_USAGE);

    sx_smp_tpool_free(tp);
    sx_smp_tpool_free(tp2);
    sx_smp_queue_free(crq);
    sx_smp_queue_free(csq);
    sx_smp_queue_free(ci.queue);
    sx_smp_queue_free(isq);
    router_kill9();
}

/* ---- SKEY, LKEY and LGET through a proxy ---- */

static void test_secure_proxied(void **state)
{
    (void)state;
    router_start();
    pool_router P;
    assert_int_equal(pool_router_init(&P, NULL), 0);
    pool_router_start(&P);
    sx_smp_tpool *tp;
    assert_ok(sx_smp_tpool_new(NULL, &tp));
    sx_smp_created c;
    assert_ok(sx_smp_tpool_create(tp, R.addr, NULL, &c));
    sx_smp_queue *sq;
    assert_ok(sx_smp_queue_sender(c.queue, &sq));

    /* a pool that always goes through P: SKEY and SEND without a
     * connection to the queue's router */
    const char *via[] = {P.addr};
    sx_smp_pool_opts po = {.proxy_mode = SX_SMP_PROXY_ALWAYS, .proxies = via, .n_proxies = 1};
    sx_smp_tpool *px;
    assert_ok(sx_smp_tpool_new(&po, &px));
    assert_ok(sx_smp_tpool_secure_sender(px, sq));
    assert_ok(sx_smp_tpool_secure_sender(px, sq));
    send_one(px, sq, "proxied");
    sx_smp_pool_stats st;
    sx_smp_tpool_get_stats(px, &st);
    assert_int_equal(st.connected, 1);
    assert_int_equal(st.sessions, 1);
    assert_int_equal(st.sent_proxied, 1);
    assert_int_equal(st.sent_direct, 0);
    get_one(tp, c.queue, "proxied");
    /* LGET and LKEY go through P too */
    uint8_t corr[24], link_id[SX_SMP_QUEUE_ID_LEN], sid[SX_SMP_QUEUE_ID_LEN];
    sx_random_bytes(corr, sizeof corr);
    sx_random_bytes(link_id, sizeof link_id);
    assert_ok(sx_smp_link_sender_id(corr, sid));
    sx_smp_new_opts oc = {.contact = true,
                          .has_link = true,
                          .corr_id = corr,
                          .link_id = link_id,
                          .fixed = (const uint8_t *)"cfixed",
                          .fixed_len = 6,
                          .user = (const uint8_t *)"cuser",
                          .user_len = 5};
    sx_smp_created cc;
    assert_ok(sx_smp_tpool_create(tp, R.addr, &oc, &cc));
    sx_smp_link l;
    if (sx_smp_tpool_link_get(px, R.addr, link_id, &l) != SX_OK)
        fail_msg("link get through P: %s", sx_error_message());
    assert_link(&l, sid, "cfixed", "cuser");
    sx_smp_link_clear(&l);
    uint8_t nobody[SX_SMP_QUEUE_ID_LEN] = {1};
    assert_int_equal(sx_smp_tpool_link_get(px, R.addr, nobody, &l), SX_E_AUTH);
    sx_random_bytes(corr, sizeof corr);
    assert_ok(sx_smp_link_sender_id(corr, sid));
    sx_smp_new_opts oi = {.has_link = true, .corr_id = corr, .fixed = (const uint8_t *)"ifixed", .fixed_len = 6};
    sx_smp_created ci;
    assert_ok(sx_smp_tpool_create(tp, R.addr, &oi, &ci));
    sx_smp_queue *isq;
    assert_ok(sx_smp_queue_sender_new(R.addr, NULL, &isq));
    for (int i = 0; i < 2; i++) {
        assert_ok(sx_smp_tpool_link_secure(px, isq, ci.link_id, &l));
        assert_link(&l, sid, "ifixed", "");
        sx_smp_link_clear(&l);
    }
    send_one(px, isq, "joined through P");
    get_one(tp, ci.queue, "joined through P");
    /* a notified send through P */
    sx_smp_ntf_creds nc;
    assert_ok(sx_smp_tpool_notify_on(tp, c.queue, &nc));
    sx_smp_notifier *nt = check_notifier(tp, &nc, sq, px);
    get_one(tp, c.queue, "notified");
    sx_smp_tpool_get_stats(px, &st);
    assert_int_equal(st.connected, 1); /* still only P */
    assert_int_equal(st.sessions, 1);
    sx_smp_queue_free(isq);
    sx_smp_queue_free(cc.queue);
    sx_smp_queue_free(ci.queue);
    /* secured: a side without the key cannot send */
    sx_smp_queue *nokey;
    assert_ok(sx_smp_queue_sender(c.queue, &nokey));
    assert_int_equal(sx_smp_tpool_send(tp, nokey, "x", 1), SX_E_AUTH);
    sx_smp_queue_free(nokey);

    sx_smp_tpool_free(px);
    sx_smp_tpool_free(tp);
    sx_smp_notifier_free(nt);
    sx_wipe(&nc, sizeof nc);
    sx_smp_queue_free(c.queue);
    sx_smp_queue_free(sq);
    pool_router_free(&P);
    router_kill9();
}

/* ---- the same commands on blocking connections ---- */

static void test_blocking(void **state)
{
    (void)state;
    router_start();
    sx_smp_conn *c, *c2;
    assert_ok(sx_smp_connect(R.addr, NULL, &c));
    assert_ok(sx_smp_connect(R.addr, NULL, &c2));

    /* a contact queue with link data; LGET, LSET, LDEL */
    uint8_t corr[24], link_id[SX_SMP_QUEUE_ID_LEN], want_sid[SX_SMP_QUEUE_ID_LEN];
    sx_random_bytes(corr, sizeof corr);
    sx_random_bytes(link_id, sizeof link_id);
    assert_ok(sx_smp_link_sender_id(corr, want_sid));
    const char *fixed = "fixed";
    sx_smp_new_opts o = {.contact = true,
                         .has_link = true,
                         .corr_id = corr,
                         .link_id = link_id,
                         .fixed = (const uint8_t *)fixed,
                         .fixed_len = 5,
                         .user = (const uint8_t *)"u1",
                         .user_len = 2};
    sx_smp_created cc;
    assert_ok(sx_smp_queue_create_ex(c, &o, &cc));
    assert_int_equal(cc.mode, 'C');
    assert_memory_equal(cc.snd_id, want_sid, sizeof want_sid);
    assert_memory_equal(cc.link_id, link_id, sizeof link_id);
    sx_smp_created again;
    assert_int_equal(sx_smp_queue_create_ex(c, &o, &again), SX_E_AUTH);
    assert_null(again.queue);
    sx_smp_link l;
    assert_ok(sx_smp_link_get(c2, link_id, &l));
    assert_link(&l, want_sid, fixed, "u1");
    sx_smp_link_clear(&l);
    assert_ok(sx_smp_link_set(c, cc.queue, link_id, (const uint8_t *)fixed, 5, (const uint8_t *)"u2", 2));
    assert_ok(sx_smp_link_get(c2, link_id, &l));
    assert_link(&l, want_sid, fixed, "u2");
    sx_smp_link_clear(&l);
    assert_int_equal(sx_smp_link_set(c, cc.queue, link_id, (const uint8_t *)"fixeD", 5, NULL, 0), SX_E_AUTH);
    assert_ok(sx_smp_link_delete(c, cc.queue));
    assert_int_equal(sx_smp_link_get(c2, link_id, &l), SX_E_AUTH);

    /* an invitation: LKEY twice with one key, refused with another */
    sx_random_bytes(corr, sizeof corr);
    assert_ok(sx_smp_link_sender_id(corr, want_sid));
    sx_smp_new_opts oi = {.has_link = true, .corr_id = corr, .fixed = (const uint8_t *)fixed, .fixed_len = 5};
    sx_smp_created ci;
    assert_ok(sx_smp_queue_create_ex(c, &oi, &ci));
    assert_true(ci.has_link_id);
    sx_smp_queue *isq, *isq2;
    assert_ok(sx_smp_queue_sender_new(R.addr, NULL, &isq));
    for (int i = 0; i < 2; i++) {
        assert_ok(sx_smp_link_secure(c2, isq, ci.link_id, &l));
        assert_link(&l, want_sid, fixed, "");
        sx_smp_link_clear(&l);
    }
    assert_ok(sx_smp_queue_sender_new(R.addr, NULL, &isq2));
    assert_int_equal(sx_smp_link_secure(c2, isq2, ci.link_id, &l), SX_E_AUTH);
    assert_ok(sx_smp_send(c2, isq, "joined", 6));
    sx_smp_event ev;
    assert_ok(sx_smp_get(c, ci.queue, &ev));
    assert_int_equal(ev.kind, SX_SMP_EVENT_MESSAGE);
    assert_memory_equal(ev.body, "joined", 6);
    assert_ok(sx_smp_ack(c, ci.queue, &ev));
    sx_smp_event_clear(&ev);

    /* NEW that subscribes at once: the message comes to sx_smp_receive */
    sx_smp_new_opts os = {.subscribe = true};
    sx_smp_created cs;
    assert_ok(sx_smp_queue_create_ex(c, &os, &cs));
    sx_smp_queue *ssq;
    assert_ok(sx_smp_queue_sender(cs.queue, &ssq));
    assert_ok(sx_smp_send(c2, ssq, "at once", 7));
    assert_ok(sx_smp_receive(c, WAIT_MS, &ev));
    assert_int_equal(ev.kind, SX_SMP_EVENT_MESSAGE);
    assert_ptr_equal(ev.queue, cs.queue);
    assert_memory_equal(ev.body, "at once", 7);
    assert_ok(sx_smp_ack(c, cs.queue, &ev));
    sx_smp_event_clear(&ev);
    assert_ok(sx_smp_queue_delete(c, cs.queue));
    sx_smp_queue_free(cs.queue);
    sx_smp_queue_free(ssq);

    /* KEY by the recipient, NKEY / NDEL, OFF */
    sx_smp_created cm;
    sx_smp_new_opts on = {.notifier = true};
    assert_ok(sx_smp_queue_create_ex(c, &on, &cm));
    assert_true(cm.has_ntf);
    sx_smp_queue *msq;
    assert_ok(sx_smp_queue_sender(cm.queue, &msq));
    uint8_t key[SX_SMP_DH_KEY_MAX];
    size_t key_len;
    assert_ok(sx_smp_queue_sender_public_key(msq, key, sizeof key, &key_len));
    assert_ok(sx_smp_queue_secure_recipient(c, cm.queue, key, key_len));
    assert_int_equal(sx_smp_queue_secure_recipient(c, cm.queue, key, 3), SX_E_USAGE);
    assert_ok(sx_smp_send(c2, msq, "keyed", 5));
    sx_smp_ntf_creds nc;
    assert_ok(sx_smp_queue_notify_on(c, cm.queue, &nc));
    assert_memory_not_equal(nc.notifier_id, cm.ntf.notifier_id, sizeof nc.notifier_id); /* a new one */
    assert_ok(sx_smp_queue_notify_off(c, cm.queue));
    assert_int_equal(sx_smp_queue_notify_on(c, NULL, &nc), SX_E_USAGE);
    assert_ok(sx_smp_queue_suspend(c, cm.queue));
    assert_int_equal(sx_smp_send(c2, msq, "late", 4), SX_E_AUTH);
    assert_ok(sx_smp_get(c, cm.queue, &ev));
    assert_memory_equal(ev.body, "keyed", 5);
    sx_smp_event_clear(&ev);

    sx_smp_close(c);
    sx_smp_close(c2);
    sx_smp_queue_free(cc.queue);
    sx_smp_queue_free(ci.queue);
    sx_smp_queue_free(cm.queue);
    sx_smp_queue_free(isq);
    sx_smp_queue_free(isq2);
    sx_smp_queue_free(msq);
    sx_wipe(&nc, sizeof nc);
    router_kill9();
}

/* ---- the event-loop flavour's callbacks ---- */

static struct {
    sx_loop *loop;
    bool in_call;
    int created, secured, deleted, freed_cb;
    sx_status last;
    sx_smp_queue *rq;
    char bad[160];
} L;

static void l_bad(const char *what)
{
    if (!L.bad[0])
        snprintf(L.bad, sizeof L.bad, "%s", what);
}

static void l_event(sx_smp_pool *p, const sx_smp_pool_event *e, void *arg)
{
    (void)p;
    (void)e;
    (void)arg;
}

static void l_created(sx_smp_pool *p, sx_status st, sx_smp_created *c, void *arg)
{
    (void)p;
    (void)arg;
    if (L.in_call)
        l_bad("created: called from inside the call");
    L.last = st;
    if (st == SX_OK) {
        L.rq = c->queue;
        c->queue = NULL;
    } else if (c) {
        l_bad("created: results with an error");
    }
    L.created++;
}

static void l_done(sx_smp_pool *p, sx_status st, void *arg)
{
    (void)p;
    if (L.in_call)
        l_bad("done: called from inside the call");
    L.last = st;
    (*(int *)arg)++;
}

static void l_never(sx_smp_pool *p, sx_status st, sx_smp_event *ev, void *arg)
{
    (void)p;
    (void)st;
    (void)ev;
    (void)arg;
    L.freed_cb++;
}

static const int *g_counter;
static int g_want;
static int64_t g_until;

static void l_check(sx_loop *loop, void *arg)
{
    (void)arg;
    if (*g_counter >= g_want || L.bad[0] || now_ms() > g_until)
        sx_loop_stop(loop);
}

/* Runs the loop until *counter reaches want (WAIT_MS at most). */
static void l_run_until(const int *counter, int want)
{
    g_counter = counter;
    g_want = want;
    g_until = now_ms() + WAIT_MS;
    sx_timer *t;
    assert_ok(sx_timer_new(L.loop, l_check, NULL, &t));
    sx_timer_start(t, 5, 5);
    assert_ok(sx_loop_run(L.loop));
    sx_timer_free(t);
    if (L.bad[0])
        fail_msg("%s", L.bad);
    assert_int_equal(*counter, want);
}

static void test_loop_callbacks(void **state)
{
    (void)state;
    router_start();
    memset(&L, 0, sizeof L);
    assert_ok(sx_loop_new(&L.loop));
    sx_smp_pool *p;
    assert_ok(sx_smp_pool_new(L.loop, NULL, l_event, NULL, &p));
    /* before the connection is up, and once it is */
    for (int i = 0; i < 2; i++) {
        L.in_call = true;
        assert_ok(sx_smp_pool_create(p, R.addr, NULL, l_created, NULL));
        L.in_call = false;
        l_run_until(&L.created, i + 1);
        assert_int_equal(L.last, SX_OK);
        sx_smp_queue *sq;
        assert_ok(sx_smp_queue_sender(L.rq, &sq));
        L.in_call = true;
        assert_ok(sx_smp_pool_secure_sender(p, sq, l_done, &L.secured));
        L.in_call = false;
        l_run_until(&L.secured, i + 1);
        assert_int_equal(L.last, SX_OK);
        L.in_call = true;
        assert_ok(sx_smp_pool_delete(p, L.rq, l_done, &L.deleted));
        L.in_call = false;
        l_run_until(&L.deleted, 2 * i + 1);
        assert_int_equal(L.last, SX_OK);
        /* the router's refusal through the callback */
        assert_ok(sx_smp_pool_delete(p, L.rq, l_done, &L.deleted));
        l_run_until(&L.deleted, 2 * i + 2);
        assert_int_equal(L.last, SX_E_AUTH);
        assert_code("AUTH");
        sx_smp_queue_free(sq);
        if (i == 0)
            sx_smp_queue_free(L.rq);
    }
    /* usage errors have no callback */
    assert_int_equal(sx_smp_pool_get(p, L.rq, NULL, NULL), SX_E_USAGE);
    assert_int_equal(sx_smp_pool_create(p, "smp://nowhere", NULL, l_created, NULL), SX_E_USAGE);
    /* an operation in flight when the pool is freed: no callback */
    assert_ok(sx_smp_pool_get(p, L.rq, l_never, NULL));
    sx_smp_pool_free(p);
    sx_loop_free(L.loop);
    assert_int_equal(L.freed_cb, 0);
    assert_int_equal(L.created, 2);
    sx_smp_queue_free(L.rq);
    router_kill9();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_queue_ops, router_setup, router_teardown),
        cmocka_unit_test_setup_teardown(test_notifiers, router_setup, router_teardown),
        cmocka_unit_test_setup_teardown(test_short_links, router_setup, router_teardown),
        cmocka_unit_test_setup_teardown(test_secure_proxied, router_setup, router_teardown),
        cmocka_unit_test_setup_teardown(test_loop_callbacks, router_setup, router_teardown),
        cmocka_unit_test_setup_teardown(test_blocking, router_setup, router_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
