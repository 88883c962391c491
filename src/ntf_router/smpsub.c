/* The NTF router's SMP side (see smpsub.h). The notifiers handed to the
 * pool are entries in two hash indexes (hindex.h): by notifier (the pool's
 * notes name it) and by subscription id (SDEL, TDEL). */
#include "ntf_router/smpsub.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/base64.h"
#include "crypto/util.h"
#include "kit/say.h"
#include "ntf_router/hindex.h"
#include "simplex/smp.h"

#define PAYLOAD_MAX 3072

/* An SMP router's address text, kept once for all its subscriptions
 * (counted references). */
typedef struct srvname {
    sx_hnode node;
    size_t refs;
    char text[];
} srvname;

typedef struct entry {
    sx_hnode by_n, by_id;
    sx_smp_notifier *n;
    bool subscribed; /* once: a service resubscription covers it */
    sx_ntf_sl_bytes id;
    srvname *server;
} entry;

struct sx_ntf_smpsub {
    sx_ntf_subs *subs;
    sx_ntf_tokens *tokens;
    sx_ntf_pusher *pusher;
    sx_smp_tpool *pool;
    pthread_t thread;
    pthread_mutex_t mu; /* entries, stop */
    sx_hindex by_n, by_id;
    sx_hindex names; /* srvname by text */
    bool stop;
    uint64_t received;
    uint64_t service_subs; /* NSUBS answered */
    sx_ntf_stats *counters;
    sx_ntf_svccreds *service; /* NULL: not a service */
};

bool sx_ntf_smpsub_wants(sx_ntf_sub_status st)
{
    return st == SX_NTF_SUB_NEW || st == SX_NTF_SUB_PENDING || st == SX_NTF_SUB_ACTIVE ||
           st == SX_NTF_SUB_INACTIVE || st == SX_NTF_SUB_SERVICE;
}

static uint64_t hash_n(const sx_ntf_smpsub *x, const sx_smp_notifier *n)
{
    return sx_hindex_hash(&x->by_n, sx_slice_of(&n, sizeof n), sx_slice_of(NULL, 0));
}

static uint64_t hash_id(const sx_ntf_smpsub *x, sx_slice id)
{
    return sx_hindex_hash(&x->by_id, id, sx_slice_of(NULL, 0));
}

/* The interned text (under mu), NULL without memory. */
static srvname *name_ref(sx_ntf_smpsub *x, const char *text)
{
    size_t len = strlen(text);
    uint64_t h = sx_hindex_hash(&x->names, sx_slice_of(text, len), sx_slice_of(NULL, 0));
    for (sx_hnode *n = sx_hindex_first(&x->names, h); n; n = sx_hindex_next(n)) {
        srvname *s = SX_HNODE_OWNER(n, srvname, node);
        if (strcmp(s->text, text) == 0) {
            s->refs++;
            return s;
        }
    }
    srvname *s = malloc(sizeof *s + len + 1);
    if (!s)
        return NULL;
    s->refs = 1;
    memcpy(s->text, text, len + 1);
    if (sx_hindex_add(&x->names, &s->node, h) != SX_OK) {
        free(s);
        return NULL;
    }
    return s;
}

static void name_unref(sx_ntf_smpsub *x, srvname *s)
{
    if (s && --s->refs == 0) {
        sx_hindex_remove(&x->names, &s->node);
        free(s);
    }
}

static entry *find_n(const sx_ntf_smpsub *x, const sx_smp_notifier *n)
{
    for (sx_hnode *h = sx_hindex_first(&x->by_n, hash_n(x, n)); h; h = sx_hindex_next(h)) {
        entry *e = SX_HNODE_OWNER(h, entry, by_n);
        if (e->n == n)
            return e;
    }
    return NULL;
}

static entry *find_id(const sx_ntf_smpsub *x, sx_slice id)
{
    for (sx_hnode *h = sx_hindex_first(&x->by_id, hash_id(x, id)); h; h = sx_hindex_next(h)) {
        entry *e = SX_HNODE_OWNER(h, entry, by_id);
        if (sx_slice_eq(sx_ntf_sl_slice(&e->id), id))
            return e;
    }
    return NULL;
}

/* Removes the entry of notifier n (or of id), copying its id out; the
 * notifier is returned for the caller to free. */
static sx_smp_notifier *take(sx_ntf_smpsub *x, const sx_smp_notifier *n, sx_slice id, sx_ntf_sl_bytes *id_out)
{
    entry *e = n ? find_n(x, n) : find_id(x, id);
    if (!e)
        return NULL;
    sx_smp_notifier *found = e->n;
    if (id_out)
        *id_out = e->id;
    sx_hindex_remove(&x->by_n, &e->by_n);
    sx_hindex_remove(&x->by_id, &e->by_id);
    name_unref(x, e->server);
    free(e);
    return found;
}

/* The subscription id of notifier n and, when counters has own domains
 * and n's SMP router is on one, that router's host (else own is ""). */
static bool id_of(sx_ntf_smpsub *x, const sx_smp_notifier *n, sx_ntf_sl_bytes *id, const sx_ntf_stats *counters,
                  char *own, size_t cap)
{
    if (own)
        own[0] = 0;
    pthread_mutex_lock(&x->mu);
    entry *e = find_n(x, n);
    if (e) {
        *id = e->id;
        if (own && !sx_ntf_stats_own_server(counters, e->server->text, own, cap))
            own[0] = 0;
    }
    pthread_mutex_unlock(&x->mu);
    return e != NULL;
}

static void on_notification(sx_ntf_smpsub *x, const sx_smp_pool_note *note)
{
    sx_ntf_sl_bytes id, tkn_id;
    sx_ntf_stats *counters = __atomic_load_n(&x->counters, __ATOMIC_ACQUIRE);
    char own[SX_NTF_OWN_HOST_MAX]; /* the reference's host of an own SMP router, or "" */
    if (!id_of(x, note->notifier, &id, counters, own, sizeof own))
        return;
    __atomic_add_fetch(&x->received, 1, __ATOMIC_RELAXED);
    sx_ntf_stats_active_sub(counters, id.b, id.len); /* the day's active subscriptions */
    static __thread uint8_t payload[PAYLOAD_MAX];
    sx_writer w;
    sx_writer_init_fixed(&w, payload, sizeof payload);
    if (!sx_ntf_subs_notification(x->subs, sx_ntf_sl_slice(&id), (int64_t)time(NULL), note->nonce,
                                  sx_slice_of(note->meta, note->meta_len), &tkn_id, &w)) {
        SX_SAY(SX_SAY_WARN, "notification not pushed: no subscription or its payload does not fit");
        sx_ntf_stats_inc(counters, SX_NTF_STAT_NTF_RECEIVED_AUTH); /* the reference's AUTH case */
        sx_ntf_stats_inc_own(counters, SX_NTF_OWN_RECEIVED_AUTH, own);
        return;
    }
    sx_ntf_stats_inc(counters, SX_NTF_STAT_NTF_RECEIVED);
    sx_ntf_stats_inc_own(counters, SX_NTF_OWN_RECEIVED, own);
    sx_ntf_tkn_rec *tkn = malloc(sizeof *tkn);
    if (!tkn)
        return;
    if (sx_ntf_tokens_get(x->tokens, sx_ntf_sl_slice(&tkn_id), tkn) && tkn->status.status == SX_NTF_TKN_ACTIVE) {
        if (!x->pusher)
            SX_SAY(SX_SAY_WARN, "message push not sent: APNS is not configured");
        else if (!sx_ntf_pusher_message(x->pusher, tkn, sx_writer_slice(&w), own))
            SX_SAY(SX_SAY_WARN, "message push not queued");
    }
    sx_wipe(tkn, sizeof *tkn);
    free(tkn);
}

/* The pool has let go of the notifier: status st, entry and notifier gone. */
static void ended(sx_ntf_smpsub *x, const sx_smp_notifier *n, sx_ntf_sub_status st, const char *err)
{
    sx_ntf_sl_bytes id;
    pthread_mutex_lock(&x->mu);
    sx_smp_notifier *found = take(x, n, sx_slice_of(NULL, 0), &id);
    pthread_mutex_unlock(&x->mu);
    if (!found)
        return;
    (void)sx_ntf_subs_set_status(x->subs, sx_ntf_sl_slice(&id), st, sx_slice_str(err ? err : ""));
    sx_smp_notifier_free(found);
}

static void on_disconnected(sx_ntf_smpsub *x, const char *server)
{
    pthread_mutex_lock(&x->mu);
    size_t n = x->by_id.count;
    sx_ntf_sl_bytes *ids = n ? malloc(n * sizeof *ids) : NULL;
    size_t k = 0;
    for (size_t i = 0; ids && i < x->by_id.cap; i++)
        for (sx_hnode *h = sx_hindex_bucket(&x->by_id, i); h; h = h->next) {
            const entry *e = SX_HNODE_OWNER(h, entry, by_id);
            if (strcmp(e->server->text, server) == 0)
                ids[k++] = e->id;
        }
    pthread_mutex_unlock(&x->mu);
    for (size_t i = 0; i < k; i++)
        (void)sx_ntf_subs_set_status(x->subs, sx_ntf_sl_slice(&ids[i]), SX_NTF_SUB_INACTIVE, sx_slice_of(NULL, 0));
    free(ids);
}

static bool mark_subscribed(sx_ntf_smpsub *x, const sx_smp_notifier *n, sx_ntf_sl_bytes *id)
{
    pthread_mutex_lock(&x->mu);
    entry *e = find_n(x, n);
    if (e) {
        e->subscribed = true;
        *id = e->id;
    }
    pthread_mutex_unlock(&x->mu);
    return e != NULL;
}

/* One NSUBS answered (PROTOCOL-NOTES G18): the queues subscribed before on
 * that router, associated with the service, are active again without a
 * SUBSCRIBED note each (the reference keeps their status through a service
 * disconnection; ours went INACTIVE with the connection). */
static void on_service_subscribed(sx_ntf_smpsub *x, const sx_smp_pool_note *note)
{
    __atomic_add_fetch(&x->service_subs, 1, __ATOMIC_RELAXED);
    bool same = note->service_expected == note->service_count &&
                memcmp(note->service_expected_hash, note->service_hash, 16) == 0;
    if (same)
        SX_SAY(SX_SAY_NOTE, "SMP router %s: service subscribed, %lld queues", note->server,
               (long long)note->service_count);
    else
        SX_SAY(SX_SAY_WARN, "SMP router %s: service subscribed, %lld queues expected, %lld confirmed%s",
               note->server, (long long)note->service_expected, (long long)note->service_count,
               note->service_expected == note->service_count ? ", different ids hash" : "");
    pthread_mutex_lock(&x->mu);
    size_t n = x->by_id.count;
    sx_ntf_sl_bytes *ids = n ? malloc(n * sizeof *ids) : NULL;
    size_t k = 0;
    for (size_t i = 0; ids && i < x->by_id.cap; i++)
        for (sx_hnode *h = sx_hindex_bucket(&x->by_id, i); h; h = h->next) {
            const entry *e = SX_HNODE_OWNER(h, entry, by_id);
            if (e->subscribed && strcmp(e->server->text, note->server) == 0)
                ids[k++] = e->id;
        }
    pthread_mutex_unlock(&x->mu);
    for (size_t i = 0; i < k; i++)
        (void)sx_ntf_subs_set_status(x->subs, sx_ntf_sl_slice(&ids[i]), SX_NTF_SUB_ACTIVE, sx_slice_of(NULL, 0));
    free(ids);
}

static void on_note(sx_ntf_smpsub *x, const sx_smp_pool_note *note)
{
    sx_ntf_sl_bytes id;
    switch (note->kind) {
    case SX_SMP_POOL_SUBSCRIBED:
        /* ACTIVE, and whether the router associated it with the service
         * (kept, so that the next start counts it for the NSUBS) */
        if (note->notifier && mark_subscribed(x, note->notifier, &id))
            (void)sx_ntf_subs_set_active(x->subs, sx_ntf_sl_slice(&id), x->service && note->service_assoc);
        break;
    case SX_SMP_POOL_SERVICE_SUBSCRIBED: on_service_subscribed(x, note); break;
    case SX_SMP_POOL_SERVICE_UNAVAILABLE:
        SX_SAY(SX_SAY_WARN, "SMP router %s: service unavailable (%lld queues expected): subscribing each queue",
               note->server, (long long)note->service_expected);
        break;
    case SX_SMP_POOL_SERVICE_END:
        SX_SAY(SX_SAY_WARN, "SMP router %s: another connection of the service took %lld queues", note->server,
               (long long)note->service_count);
        break;
    case SX_SMP_POOL_SUB_FAILED:
        if (note->notifier) {
            if (note->status == SX_E_AUTH) {
                ended(x, note->notifier, SX_NTF_SUB_AUTH, NULL);
            } else {
                char text[96];
                snprintf(text, sizeof text, "SMP error %s", note->code[0] ? note->code : "?");
                ended(x, note->notifier, SX_NTF_SUB_ERR, text);
            }
        }
        break;
    case SX_SMP_POOL_MESSAGE:
        if (note->notifier && note->ev.kind == SX_SMP_EVENT_END)
            ended(x, note->notifier, SX_NTF_SUB_END, NULL);
        else if (note->notifier && note->ev.kind == SX_SMP_EVENT_DELETED)
            ended(x, note->notifier, SX_NTF_SUB_DELETED, NULL);
        break;
    case SX_SMP_POOL_NOTIFICATION:
        if (note->notifier)
            on_notification(x, note);
        break;
    case SX_SMP_POOL_CONNECTED:
        /* the reference records the ServiceId after each handshake */
        if (x->service)
            sx_ntf_svccreds_service_id(x->service, note->server,
                                       sx_slice_of(note->service_id, note->service_id_len));
        break;
    case SX_SMP_POOL_DISCONNECTED: on_disconnected(x, note->server); break;
    default: break;
    }
}

static void *run(void *arg)
{
    sx_ntf_smpsub *x = arg;
    static __thread sx_smp_pool_note note;
    for (;;) {
        pthread_mutex_lock(&x->mu);
        bool stop = x->stop;
        pthread_mutex_unlock(&x->mu);
        if (stop)
            break;
        memset(&note, 0, sizeof note);
        if (sx_smp_tpool_next(x->pool, 200, &note) == SX_OK && note.kind)
            on_note(x, &note);
        sx_smp_pool_note_clear(&note);
    }
    return NULL;
}

sx_status sx_ntf_smpsub_start(sx_ntf_subs *subs, sx_ntf_tokens *tokens, sx_ntf_pusher *pusher,
                              sx_ntf_svccreds *service, sx_ntf_smpsub **out)
{
    SX_ENSURE(subs != NULL && tokens != NULL && out != NULL, SX_E_USAGE);
    *out = NULL;
    sx_ntf_smpsub *x = calloc(1, sizeof *x);
    SX_ENSURE(x != NULL, SX_E_NOMEM);
    x->subs = subs;
    x->tokens = tokens;
    x->pusher = pusher;
    pthread_mutex_init(&x->mu, NULL);
    sx_hindex_init(&x->by_n);
    sx_hindex_init(&x->by_id);
    sx_hindex_init(&x->names);
    sx_smp_pool_opts po = {0};
    x->service = service;
    po.hold = true; /* until the start's resubscriptions are in */
    if (service) {
        po.service_creds = sx_ntf_svccreds_get;
        po.service_creds_arg = service;
        po.notifier_service = true;
    }
    sx_status st = sx_smp_tpool_new(&po, &x->pool);
    if (st == SX_OK && pthread_create(&x->thread, NULL, run, x) != 0)
        st = SX_E_INTERNAL;
    if (st != SX_OK) {
        sx_smp_tpool_free(x->pool);
        sx_hindex_free(&x->by_n);
        sx_hindex_free(&x->by_id);
        pthread_mutex_destroy(&x->mu);
        free(x);
        return st;
    }
    *out = x;
    return SX_OK;
}

void sx_ntf_smpsub_stop(sx_ntf_smpsub *x)
{
    if (!x)
        return;
    pthread_mutex_lock(&x->mu);
    x->stop = true;
    pthread_mutex_unlock(&x->mu);
    pthread_join(x->thread, NULL);
    sx_smp_tpool_free(x->pool); /* lets go of every notifier */
    for (size_t i = 0; i < x->by_id.cap; i++) {
        sx_hnode *h = sx_hindex_bucket(&x->by_id, i);
        while (h) {
            sx_hnode *next = h->next;
            entry *e = SX_HNODE_OWNER(h, entry, by_id);
            sx_smp_notifier_free(e->n);
            name_unref(x, e->server);
            free(e);
            h = next;
        }
    }
    sx_hindex_free(&x->by_n);
    sx_hindex_free(&x->by_id);
    sx_hindex_free(&x->names);
    pthread_mutex_destroy(&x->mu);
    free(x);
}

void sx_ntf_smpsub_subscribe(sx_ntf_smpsub *x, const sx_ntf_sub_rec *r)
{
    if (!x || !r)
        return;
    char key[SX_KEY_PKCS8_MAX * 2];
    sx_smp_notifier *n = NULL;
    sx_slice id = sx_ntf_sl_slice(&r->id);
    if (sx_b64_encode(sx_slice_of(r->notifier_key, r->notifier_key_len), SX_B64_URL, key, sizeof key) != SX_OK ||
        sx_smp_notifier_new(r->server.text, r->notifier_id.b, r->notifier_id.len, key, &n) != SX_OK) {
        sx_wipe(key, sizeof key);
        (void)sx_ntf_subs_set_status(x->subs, id, SX_NTF_SUB_ERR, sx_slice_str("bad notifier key"));
        return;
    }
    sx_wipe(key, sizeof key);
    /* associated with the service before (kept across restarts): covered
     * by the pool's NSUBS, not by an NSUB of its own */
    bool assoc = x->service && r->service_assoc;
    sx_smp_notifier_set_associated(n, assoc);
    entry *e = calloc(1, sizeof *e);
    bool ok = e != NULL;
    pthread_mutex_lock(&x->mu);
    if (ok) {
        e->n = n;
        e->subscribed = assoc;
        e->id = r->id;
        e->server = name_ref(x, r->server.text);
        ok = e->server && sx_hindex_add(&x->by_n, &e->by_n, hash_n(x, n)) == SX_OK;
        if (ok && sx_hindex_add(&x->by_id, &e->by_id, hash_id(x, id)) != SX_OK) {
            sx_hindex_remove(&x->by_n, &e->by_n);
            ok = false;
        }
        if (!ok) {
            name_unref(x, e->server);
            free(e);
        }
    }
    pthread_mutex_unlock(&x->mu);
    if (!ok) {
        sx_smp_notifier_free(n);
        return;
    }
    (void)sx_ntf_subs_set_status(x->subs, id, SX_NTF_SUB_PENDING, sx_slice_of(NULL, 0));
    if (sx_smp_tpool_subscribe_notifier(x->pool, n) != SX_OK) {
        pthread_mutex_lock(&x->mu);
        sx_smp_notifier *found = take(x, n, id, NULL);
        pthread_mutex_unlock(&x->mu);
        sx_smp_notifier_free(found);
        (void)sx_ntf_subs_set_status(x->subs, id, SX_NTF_SUB_ERR, sx_slice_str("not subscribed"));
    }
}

void sx_ntf_smpsub_unsubscribe(sx_ntf_smpsub *x, sx_slice id)
{
    if (!x)
        return;
    pthread_mutex_lock(&x->mu);
    sx_smp_notifier *n = take(x, NULL, id, NULL);
    pthread_mutex_unlock(&x->mu);
    if (!n)
        return;
    if (sx_smp_tpool_unsubscribe_notifier(x->pool, n) != SX_OK)
        SX_SAY(SX_SAY_WARN, "notifier unsubscribe refused by the pool");
    sx_smp_notifier_free(n);
}

uint64_t sx_ntf_smpsub_received(sx_ntf_smpsub *x)
{
    return x ? __atomic_load_n(&x->received, __ATOMIC_RELAXED) : 0;
}

void sx_ntf_smpsub_set_counters(sx_ntf_smpsub *x, sx_ntf_stats *counters)
{
    if (x)
        __atomic_store_n(&x->counters, counters, __ATOMIC_RELEASE);
}

uint64_t sx_ntf_smpsub_service_subs(sx_ntf_smpsub *x)
{
    return x ? __atomic_load_n(&x->service_subs, __ATOMIC_RELAXED) : 0;
}

void sx_ntf_smpsub_pool_stats(sx_ntf_smpsub *x, sx_smp_pool_stats *out)
{
    memset(out, 0, sizeof *out);
    if (x)
        sx_smp_tpool_get_stats(x->pool, out);
}

void sx_ntf_smpsub_routers(sx_ntf_smpsub *x, sx_smp_pool_router_fn fn, void *arg)
{
    if (x)
        sx_smp_tpool_routers(x->pool, fn, arg);
}

void sx_ntf_smpsub_release(sx_ntf_smpsub *x)
{
    if (x)
        sx_smp_tpool_release(x->pool);
}
