/* The NTF router's subscriptions (see subs.h). The records live in an
 * array (for the walks: compaction, each) and in three hash indexes
 * (hindex.h): by subscription id, by SMP queue (router address text and
 * notifier id; SNEW's duplicate check) and by token (TDEL, and the token's
 * last notifications in a message push). */
#include "ntf_router/subs.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "crypto/util.h"
#include "ntf_router/hindex.h"

/* A token's subscriptions with the newest notifications, oldest first: the
 * message push's payload without a walk over the token's subscriptions
 * (the reference's tokenLastNtfs: one entry per queue, at most six). */
typedef struct sub sub;
typedef struct tlast {
    sx_hnode node;
    sx_ntf_sl_bytes token_id;
    size_t n;
    sub *recent[SX_NTF_LAST_NTFS_MAX];
} tlast;

/* An SMP router's address, kept once for all its subscriptions (counted
 * references, by text in servers). */
typedef struct srvref {
    sx_hnode node;
    size_t refs;
    sx_server_address addr;
} srvref;

/* sx_ntf_sub_rec with the address by reference (see rec_out). */
typedef struct sub_rec {
    sx_ntf_sl_bytes id;
    srvref *server;
    sx_ntf_sl_bytes notifier_id;
    uint8_t notifier_key[SX_KEY_PKCS8_MAX];
    size_t notifier_key_len;
    sx_ntf_sl_bytes token_id;
    sx_ntf_sub_status status;
    sx_ntf_sl_bytes status_err;
    bool service_assoc;
} sub_rec;

typedef struct sub {
    sub_rec rec;
    size_t pos; /* in items */
    sx_hnode by_id, by_queue, by_token;
    bool has_last;
    bool in_recent; /* in its token's recent list */
    int64_t last_ts;
    uint64_t last_seq; /* order of arrival, for equal timestamps */
    uint8_t last_nonce[24];
    uint8_t last_meta[SX_NTF_SL_META_MAX];
    size_t last_meta_len;
} sub;

struct sx_ntf_subs {
    pthread_mutex_t mu;
    sub **items;
    size_t count, cap;
    sx_hindex ids, queues, tokens;
    sx_hindex lasts;   /* tlast by token id */
    sx_hindex servers; /* srvref by address text */
    uint64_t seq;
    sx_ntf_log_fn log;
    void *log_arg;
    sx_ntf_last_fn last_hook;
    void *last_arg;
};

sx_status sx_ntf_subs_new(sx_ntf_subs **out)
{
    SX_ENSURE(out != NULL, SX_E_USAGE);
    sx_ntf_subs *s = calloc(1, sizeof *s);
    SX_ENSURE(s != NULL, SX_E_NOMEM);
    pthread_mutex_init(&s->mu, NULL);
    sx_hindex_init(&s->ids);
    sx_hindex_init(&s->queues);
    sx_hindex_init(&s->tokens);
    sx_hindex_init(&s->lasts);
    sx_hindex_init(&s->servers);
    *out = s;
    return SX_OK;
}

static uint64_t hash_server(const sx_ntf_subs *s, const sx_server_address *a)
{
    return sx_hindex_hash(&s->servers, sx_slice_of(a->text, a->text_len), sx_slice_of(NULL, 0));
}

/* The interned copy of a (one more reference), NULL without memory. */
static srvref *server_ref(sx_ntf_subs *s, const sx_server_address *a)
{
    uint64_t h = hash_server(s, a);
    for (sx_hnode *n = sx_hindex_first(&s->servers, h); n; n = sx_hindex_next(n)) {
        srvref *r = SX_HNODE_OWNER(n, srvref, node);
        if (r->addr.text_len == a->text_len && memcmp(r->addr.text, a->text, a->text_len) == 0) {
            r->refs++;
            return r;
        }
    }
    srvref *r = malloc(sizeof *r);
    if (!r)
        return NULL;
    r->refs = 1;
    r->addr = *a;
    if (sx_hindex_add(&s->servers, &r->node, h) != SX_OK) {
        free(r);
        return NULL;
    }
    return r;
}

static void server_unref(sx_ntf_subs *s, srvref *r)
{
    if (r && --r->refs == 0) {
        sx_hindex_remove(&s->servers, &r->node);
        free(r);
    }
}

/* The record as callers see it, the address copied in. */
static void rec_out(const sub *b, sx_ntf_sub_rec *out)
{
    const sub_rec *r = &b->rec;
    out->id = r->id;
    out->server = r->server->addr;
    out->notifier_id = r->notifier_id;
    memcpy(out->notifier_key, r->notifier_key, sizeof out->notifier_key);
    out->notifier_key_len = r->notifier_key_len;
    out->token_id = r->token_id;
    out->status = r->status;
    out->status_err = r->status_err;
    out->service_assoc = r->service_assoc;
}

static void sub_free(sx_ntf_subs *s, sub *b)
{
    server_unref(s, b->rec.server);
    sx_wipe(b, sizeof *b);
    free(b);
}

void sx_ntf_subs_free(sx_ntf_subs *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->count; i++)
        sub_free(s, s->items[i]);
    free(s->items);
    sx_hindex_free(&s->ids);
    sx_hindex_free(&s->queues);
    sx_hindex_free(&s->tokens);
    for (size_t i = 0; i < s->lasts.cap; i++) {
        sx_hnode *h = sx_hindex_bucket(&s->lasts, i);
        while (h) {
            sx_hnode *next = h->next;
            free(SX_HNODE_OWNER(h, tlast, node));
            h = next;
        }
    }
    sx_hindex_free(&s->lasts);
    sx_hindex_free(&s->servers); /* empty: each sub let go of its router */
    pthread_mutex_destroy(&s->mu);
    free(s);
}

void sx_ntf_subs_set_log(sx_ntf_subs *s, sx_ntf_log_fn fn, void *arg)
{
    pthread_mutex_lock(&s->mu);
    s->log = fn;
    s->log_arg = arg;
    pthread_mutex_unlock(&s->mu);
}

void sx_ntf_subs_set_last_hook(sx_ntf_subs *s, sx_ntf_last_fn fn, void *arg)
{
    pthread_mutex_lock(&s->mu);
    s->last_hook = fn;
    s->last_arg = arg;
    pthread_mutex_unlock(&s->mu);
}

size_t sx_ntf_subs_count(sx_ntf_subs *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->count;
    pthread_mutex_unlock(&s->mu);
    return n;
}

size_t sx_ntf_subs_last_count(sx_ntf_subs *s)
{
    size_t n = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->lasts.cap; i++)
        for (sx_hnode *h = sx_hindex_bucket(&s->lasts, i); h; h = h->next)
            n += SX_HNODE_OWNER(h, tlast, node)->n;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static uint64_t hash_id(const sx_ntf_subs *s, sx_slice id)
{
    return sx_hindex_hash(&s->ids, id, sx_slice_of(NULL, 0));
}

static uint64_t hash_queue(const sx_ntf_subs *s, const sx_server_address *srv, sx_slice nid)
{
    return sx_hindex_hash(&s->queues, sx_slice_of(srv->text, srv->text_len), nid);
}

static uint64_t hash_token(const sx_ntf_subs *s, sx_slice token_id)
{
    return sx_hindex_hash(&s->tokens, token_id, sx_slice_of(NULL, 0));
}

static sub *find(const sx_ntf_subs *s, sx_slice id)
{
    uint64_t h = hash_id(s, id);
    for (sx_hnode *n = sx_hindex_first(&s->ids, h); n; n = sx_hindex_next(n)) {
        sub *b = SX_HNODE_OWNER(n, sub, by_id);
        if (sx_slice_eq(sx_ntf_sl_slice(&b->rec.id), id))
            return b;
    }
    return NULL;
}

static sub *find_queue(const sx_ntf_subs *s, const sx_server_address *srv, sx_slice nid)
{
    uint64_t h = hash_queue(s, srv, nid);
    for (sx_hnode *n = sx_hindex_first(&s->queues, h); n; n = sx_hindex_next(n)) {
        sub *b = SX_HNODE_OWNER(n, sub, by_queue);
        const sub_rec *r = &b->rec;
        if (sx_slice_eq(sx_ntf_sl_slice(&r->notifier_id), nid) && r->server->addr.text_len == srv->text_len &&
            memcmp(r->server->addr.text, srv->text, srv->text_len) == 0)
            return b;
    }
    return NULL;
}

/* The first subscription of token_id after node n (NULL: from the start). */
static sub *next_of_token(const sx_ntf_subs *s, sx_slice token_id, sx_hnode *n)
{
    n = n ? sx_hindex_next(n) : sx_hindex_first(&s->tokens, hash_token(s, token_id));
    for (; n; n = sx_hindex_next(n)) {
        sub *b = SX_HNODE_OWNER(n, sub, by_token);
        if (sx_slice_eq(sx_ntf_sl_slice(&b->rec.token_id), token_id))
            return b;
    }
    return NULL;
}

static tlast *find_tlast(sx_ntf_subs *s, sx_slice token_id, bool create)
{
    uint64_t h = sx_hindex_hash(&s->lasts, token_id, sx_slice_of(NULL, 0));
    for (sx_hnode *n = sx_hindex_first(&s->lasts, h); n; n = sx_hindex_next(n)) {
        tlast *t = SX_HNODE_OWNER(n, tlast, node);
        if (sx_slice_eq(sx_ntf_sl_slice(&t->token_id), token_id))
            return t;
    }
    if (!create)
        return NULL;
    tlast *t = calloc(1, sizeof *t);
    if (!t || sx_ntf_sl_bytes_set(&t->token_id, token_id) != SX_OK || sx_hindex_add(&s->lasts, &t->node, h) != SX_OK) {
        free(t);
        return NULL;
    }
    return t;
}

/* Takes b out of its token's recent list (the list goes when empty). */
static void untouch(sx_ntf_subs *s, sub *b)
{
    if (!b->in_recent)
        return;
    b->in_recent = false;
    tlast *t = find_tlast(s, sx_ntf_sl_slice(&b->rec.token_id), false);
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        if (t->recent[i] == b) {
            memmove(&t->recent[i], &t->recent[i + 1], (t->n - i - 1) * sizeof t->recent[0]);
            t->n--;
            break;
        }
    if (t->n == 0) {
        sx_hindex_remove(&s->lasts, &t->node);
        free(t);
    }
}

/* b had a notification: the newest of its token's list. false without
 * memory for the list. */
static bool touch(sx_ntf_subs *s, sub *b)
{
    untouch(s, b);
    tlast *t = find_tlast(s, sx_ntf_sl_slice(&b->rec.token_id), true);
    if (!t)
        return false;
    if (t->n == SX_NTF_LAST_NTFS_MAX) {
        t->recent[0]->in_recent = false;
        memmove(&t->recent[0], &t->recent[1], (t->n - 1) * sizeof t->recent[0]);
        t->n--;
    }
    t->recent[t->n++] = b;
    b->in_recent = true;
    return true;
}

static void sub_unindex(sx_ntf_subs *s, sub *b)
{
    untouch(s, b);
    sx_hindex_remove(&s->ids, &b->by_id);
    sx_hindex_remove(&s->queues, &b->by_queue);
    sx_hindex_remove(&s->tokens, &b->by_token);
}

static sx_status add(sx_ntf_subs *s, const sx_ntf_sub_rec *r, sub **out)
{
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        sub **items = realloc(s->items, cap * sizeof *items);
        SX_ENSURE(items != NULL, SX_E_NOMEM);
        s->items = items;
        s->cap = cap;
    }
    sub *b = calloc(1, sizeof *b);
    SX_ENSURE(b != NULL, SX_E_NOMEM);
    b->rec.id = r->id;
    b->rec.server = server_ref(s, &r->server);
    if (!b->rec.server) {
        free(b);
        return SX_E_NOMEM;
    }
    b->rec.notifier_id = r->notifier_id;
    memcpy(b->rec.notifier_key, r->notifier_key, sizeof b->rec.notifier_key);
    b->rec.notifier_key_len = r->notifier_key_len;
    b->rec.token_id = r->token_id;
    b->rec.status = r->status;
    b->rec.status_err = r->status_err;
    b->rec.service_assoc = r->service_assoc;
    sx_status st = sx_hindex_add(&s->ids, &b->by_id, hash_id(s, sx_ntf_sl_slice(&r->id)));
    if (st == SX_OK) {
        st = sx_hindex_add(&s->queues, &b->by_queue, hash_queue(s, &r->server, sx_ntf_sl_slice(&r->notifier_id)));
        if (st != SX_OK)
            sx_hindex_remove(&s->ids, &b->by_id);
    }
    if (st == SX_OK) {
        st = sx_hindex_add(&s->tokens, &b->by_token, hash_token(s, sx_ntf_sl_slice(&r->token_id)));
        if (st != SX_OK) {
            sx_hindex_remove(&s->ids, &b->by_id);
            sx_hindex_remove(&s->queues, &b->by_queue);
        }
    }
    if (st != SX_OK) {
        sub_free(s, b);
        return st;
    }
    b->pos = s->count;
    s->items[s->count++] = b;
    if (out)
        *out = b;
    return SX_OK;
}

static void remove_sub(sx_ntf_subs *s, sub *b)
{
    sub_unindex(s, b);
    size_t pos = b->pos;
    s->items[pos] = s->items[--s->count];
    s->items[pos]->pos = pos;
    sub_free(s, b);
}

static void log_rec(sx_ntf_subs *s, const sx_ntf_sl_rec *r)
{
    if (!s->log)
        return;
    static __thread uint8_t buf[4096];
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    if (sx_ntf_sl_write(&w, r))
        s->log(s->log_arg, sx_writer_slice(&w));
}

static void log_status(sx_ntf_subs *s, const sub *b)
{
    static __thread sx_ntf_sl_rec r;
    memset(&r, 0, sizeof r);
    r.kind = SX_NTF_SL_SSTATUS;
    r.id = b->rec.id;
    r.sub_status.status = b->rec.status;
    r.sub_status.err = b->rec.status_err;
    r.sub_status.service_assoc = b->rec.service_assoc;
    log_rec(s, &r);
}

sx_status sx_ntf_subs_server_text(const sx_smp_server *srv, sx_server_address *out)
{
    return sx_server_address_from_wire(srv, out) == SX_OK ? SX_OK : SX_E_PROTOCOL;
}

static void answer_err(sx_ntf_sub_result *out, sx_smp_err_type e)
{
    out->resp.tag = SX_NTF_R_ERR;
    out->resp.err = sx_smp_error_of(e);
}

static void answer_id(sx_ntf_sub_result *out, const sub *b)
{
    size_t n = b->rec.id.len < sizeof out->id ? b->rec.id.len : sizeof out->id;
    memcpy(out->id, b->rec.id.b, n);
    out->resp.tag = SX_NTF_R_IDSUB;
    out->resp.sub_id = sx_slice_of(out->id, n);
    rec_out(b, &out->sub);
}

sx_status sx_ntf_subs_snew(sx_ntf_subs *s, sx_slice token_id, const sx_ntf_cmd *cmd, sx_ntf_sub_result *out)
{
    SX_ENSURE(s != NULL && cmd != NULL && out != NULL && cmd->tag == SX_NTF_C_SNEW, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    static __thread sx_ntf_sl_rec r;
    memset(&r, 0, sizeof r);
    r.kind = SX_NTF_SL_SCREATE;
    sx_ntf_sub_rec *rec = &r.sub;
    if (sx_ntf_subs_server_text(&cmd->snew.queue.server, &rec->server) != SX_OK ||
        sx_ntf_sl_bytes_set(&rec->notifier_id, cmd->snew.queue.notifier_id) != SX_OK ||
        sx_ntf_sl_bytes_set(&rec->token_id, token_id) != SX_OK ||
        cmd->snew.notifier_key.len > sizeof rec->notifier_key) {
        out->resp.tag = SX_NTF_R_ERR;
        out->resp.err = sx_smp_error_cmd(SX_SMP_CMD_SYNTAX);
        return SX_OK;
    }
    memcpy(rec->notifier_key, cmd->snew.notifier_key.ptr, cmd->snew.notifier_key.len);
    rec->notifier_key_len = cmd->snew.notifier_key.len;
    pthread_mutex_lock(&s->mu);
    sx_status st = SX_OK;
    sub *b = find_queue(s, &rec->server, sx_ntf_sl_slice(&rec->notifier_id));
    if (b) {
        /* the same queue again: its id for the same token and key */
        if (sx_slice_eq(sx_ntf_sl_slice(&b->rec.token_id), token_id) &&
            b->rec.notifier_key_len == rec->notifier_key_len &&
            sx_ct_equal(sx_slice_of(b->rec.notifier_key, b->rec.notifier_key_len),
                        sx_slice_of(rec->notifier_key, rec->notifier_key_len)))
            answer_id(out, b);
        else
            answer_err(out, SX_SMP_ERR_AUTH);
    } else {
        rec->id.len = SX_NTF_ID_LEN;
        sx_random_bytes(rec->id.b, rec->id.len);
        rec->status = SX_NTF_SUB_NEW;
        sub *nb = NULL;
        st = add(s, rec, &nb);
        if (st == SX_OK) {
            log_rec(s, &r);
            answer_id(out, nb);
            out->subscribe = true;
        }
    }
    pthread_mutex_unlock(&s->mu);
    sx_wipe(&r, sizeof r);
    return st;
}

bool sx_ntf_subs_token_of(sx_ntf_subs *s, sx_slice id, sx_ntf_sl_bytes *token_id)
{
    pthread_mutex_lock(&s->mu);
    sub *b = find(s, id);
    if (b && token_id)
        *token_id = b->rec.token_id;
    pthread_mutex_unlock(&s->mu);
    return b != NULL;
}

sx_status sx_ntf_subs_cmd(sx_ntf_subs *s, sx_slice id, const sx_ntf_cmd *cmd, sx_ntf_sub_result *out)
{
    SX_ENSURE(s != NULL && cmd != NULL && out != NULL, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&s->mu);
    sub *b = find(s, id);
    sx_status st = SX_OK;
    if (!b) {
        answer_err(out, SX_SMP_ERR_AUTH);
    } else if (cmd->tag == SX_NTF_C_SCHK) {
        rec_out(b, &out->sub);
        out->resp.tag = SX_NTF_R_SUB;
        out->resp.sub.status = out->sub.status;
        out->resp.sub.err = sx_ntf_sl_slice(&out->sub.status_err);
    } else if (cmd->tag == SX_NTF_C_SDEL) {
        rec_out(b, &out->sub);
        static __thread sx_ntf_sl_rec r;
        memset(&r, 0, sizeof r);
        r.kind = SX_NTF_SL_SDELETE;
        r.id = b->rec.id;
        log_rec(s, &r);
        remove_sub(s, b);
        out->unsubscribe = true;
        out->resp.tag = SX_NTF_R_OK;
    } else {
        st = SX_E_USAGE;
    }
    pthread_mutex_unlock(&s->mu);
    return st;
}

bool sx_ntf_subs_set_status(sx_ntf_subs *s, sx_slice id, sx_ntf_sub_status st, sx_slice err)
{
    pthread_mutex_lock(&s->mu);
    sub *b = find(s, id);
    if (b) {
        sx_ntf_sl_bytes e = {0};
        if (st == SX_NTF_SUB_ERR &&
            sx_ntf_sl_bytes_set(&e, err.len > SX_NTF_SL_BYTES_MAX ? sx_slice_of(err.ptr, 200) : err) != SX_OK)
            e.len = 0;
        if (b->rec.status != st || !sx_slice_eq(sx_ntf_sl_slice(&b->rec.status_err), sx_ntf_sl_slice(&e))) {
            b->rec.status = st;
            b->rec.status_err = e;
            log_status(s, b);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return b != NULL;
}

bool sx_ntf_subs_set_active(sx_ntf_subs *s, sx_slice id, bool service_assoc)
{
    pthread_mutex_lock(&s->mu);
    sub *b = find(s, id);
    if (b && (b->rec.status != SX_NTF_SUB_ACTIVE || b->rec.status_err.len || b->rec.service_assoc != service_assoc)) {
        b->rec.status = SX_NTF_SUB_ACTIVE;
        b->rec.status_err.len = 0;
        b->rec.service_assoc = service_assoc;
        log_status(s, b);
    }
    pthread_mutex_unlock(&s->mu);
    return b != NULL;
}

static size_t delete_token(sx_ntf_subs *s, sx_slice token_id, void (*fn)(void *, const sx_ntf_sub_rec *), void *arg)
{
    size_t n = 0;
    sub *b;
    while ((b = next_of_token(s, token_id, NULL)) != NULL) {
        if (fn) {
            static __thread sx_ntf_sub_rec tmp;
            rec_out(b, &tmp);
            fn(arg, &tmp);
        }
        remove_sub(s, b);
        n++;
    }
    return n;
}

size_t sx_ntf_subs_delete_token(sx_ntf_subs *s, sx_slice token_id, void (*fn)(void *arg, const sx_ntf_sub_rec *r),
                                void *arg)
{
    pthread_mutex_lock(&s->mu);
    size_t n = delete_token(s, token_id, fn, arg);
    pthread_mutex_unlock(&s->mu);
    return n;
}

void sx_ntf_subs_each(sx_ntf_subs *s, void (*fn)(void *arg, const sx_ntf_sub_rec *r), void *arg)
{
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->count; i++) {
        static __thread sx_ntf_sub_rec tmp;
        rec_out(s->items[i], &tmp);
        fn(arg, &tmp);
    }
    pthread_mutex_unlock(&s->mu);
}

static bool write_b64(sx_writer *w, sx_slice b)
{
    char text[512];
    if (sx_b64_encode(b, SX_B64_URL, text, sizeof text) != SX_OK)
        return sx_writer_fail(w, SX_E_LIMIT);
    return sx_write_str(w, text);
}

static bool write_item(sx_writer *w, const sub *b)
{
    char ts[24];
    snprintf(ts, sizeof ts, "%lld", (long long)b->last_ts);
    return sx_write_bytes(w, b->rec.server->addr.text, b->rec.server->addr.text_len) && sx_write_str(w, "/") &&
           write_b64(w, sx_ntf_sl_slice(&b->rec.notifier_id)) && sx_write_str(w, " ") && sx_write_str(w, ts) &&
           sx_write_str(w, " ") && write_b64(w, sx_slice_of(b->last_nonce, 24)) && sx_write_str(w, " ") &&
           write_b64(w, sx_slice_of(b->last_meta, b->last_meta_len));
}

bool sx_ntf_subs_notification(sx_ntf_subs *s, sx_slice id, int64_t ts, const uint8_t nonce[24], sx_slice meta,
                              sx_ntf_sl_bytes *token_id, sx_writer *payload)
{
    if (meta.len > sizeof((sub *)0)->last_meta)
        return false;
    pthread_mutex_lock(&s->mu);
    sub *b = find(s, id);
    bool ok = b != NULL;
    if (ok) {
        b->has_last = true;
        b->last_ts = ts;
        b->last_seq = ++s->seq;
        memcpy(b->last_nonce, nonce, 24);
        if (meta.len)
            memcpy(b->last_meta, meta.ptr, meta.len);
        b->last_meta_len = meta.len;
        *token_id = b->rec.token_id;
        /* the token's newest notifications, oldest first */
        ok = touch(s, b);
        const tlast *t = ok ? find_tlast(s, sx_ntf_sl_slice(token_id), false) : NULL;
        size_t n = t ? t->n : 0;
        const sub *const *pick = t ? (const sub *const *)t->recent : NULL;
        for (size_t i = 0; ok && i < n; i++)
            ok = (i == 0 || sx_write_str(payload, ";")) && write_item(payload, pick[i]);
    }
    sx_ntf_last_fn hook = b ? s->last_hook : NULL;
    void *hook_arg = s->last_arg;
    static __thread sx_ntf_sl_last l;
    if (hook) {
        l.token_id = b->rec.token_id;
        l.server = b->rec.server->addr;
        l.notifier_id = b->rec.notifier_id;
        l.ts = ts;
        memcpy(l.nonce, nonce, sizeof l.nonce);
        memcpy(l.meta, b->last_meta, b->last_meta_len);
        l.meta_len = b->last_meta_len;
    }
    pthread_mutex_unlock(&s->mu);
    if (hook)
        hook(hook_arg, &l);
    return ok;
}

static int by_seq(const void *a, const void *b)
{
    const sub *x = *(const sub *const *)a, *y = *(const sub *const *)b;
    return x->last_seq < y->last_seq ? -1 : x->last_seq > y->last_seq;
}

sx_status sx_ntf_subs_write_last(sx_ntf_subs *s, sx_ntf_log_fn fn, void *arg)
{
    SX_ENSURE(s != NULL && fn != NULL, SX_E_USAGE);
    static __thread uint8_t buf[2048];
    sx_status st = SX_OK;
    pthread_mutex_lock(&s->mu);
    const sub **with = s->count ? malloc(s->count * sizeof *with) : NULL;
    size_t n = 0;
    for (size_t i = 0; with && i < s->count; i++)
        if (s->items[i]->has_last)
            with[n++] = s->items[i];
    if (s->count && !with)
        st = SX_E_NOMEM;
    if (n)
        qsort(with, n, sizeof *with, by_seq);
    for (size_t i = 0; st == SX_OK && i < n; i++) {
        sx_writer w;
        sx_writer_init_fixed(&w, buf, sizeof buf);
        if (sx_write_str(&w, "v1 ") && write_b64(&w, sx_ntf_sl_slice(&with[i]->rec.token_id)) &&
            sx_write_str(&w, " ") && write_item(&w, with[i]))
            fn(arg, sx_writer_slice(&w));
        else
            st = sx_writer_status(&w);
    }
    pthread_mutex_unlock(&s->mu);
    free(with);
    return st;
}

bool sx_ntf_subs_restore_last(sx_ntf_subs *s, const sx_ntf_sl_last *l)
{
    if (!s || !l || l->meta_len > sizeof((sub *)0)->last_meta)
        return false;
    pthread_mutex_lock(&s->mu);
    sub *b = find_queue(s, &l->server, sx_ntf_sl_slice(&l->notifier_id));
    bool ok = b && sx_slice_eq(sx_ntf_sl_slice(&b->rec.token_id), sx_ntf_sl_slice(&l->token_id));
    if (ok) {
        b->has_last = true;
        b->last_ts = l->ts;
        b->last_seq = ++s->seq;
        memcpy(b->last_nonce, l->nonce, sizeof b->last_nonce);
        if (l->meta_len)
            memcpy(b->last_meta, l->meta, l->meta_len);
        b->last_meta_len = l->meta_len;
        ok = touch(s, b);
    }
    pthread_mutex_unlock(&s->mu);
    return ok;
}

sx_status sx_ntf_subs_apply(sx_ntf_subs *s, const sx_ntf_sl_rec *r)
{
    SX_ENSURE(s != NULL && r != NULL, SX_E_USAGE);
    sx_status st = SX_OK;
    pthread_mutex_lock(&s->mu);
    sub *b = NULL;
    switch (r->kind) {
    case SX_NTF_SL_SCREATE:
        b = find(s, sx_ntf_sl_slice(&r->sub.id));
        if (b)
            remove_sub(s, b);
        st = add(s, &r->sub, NULL);
        break;
    case SX_NTF_SL_SSTATUS:
        b = find(s, sx_ntf_sl_slice(&r->id));
        if (b) {
            b->rec.status = r->sub_status.status;
            b->rec.status_err = r->sub_status.err;
            b->rec.service_assoc = r->sub_status.service_assoc;
        }
        break;
    case SX_NTF_SL_SDELETE:
        b = find(s, sx_ntf_sl_slice(&r->id));
        if (b)
            remove_sub(s, b);
        break;
    case SX_NTF_SL_TDELETE: (void)delete_token(s, sx_ntf_sl_slice(&r->id), NULL, NULL); break;
    default: break;
    }
    pthread_mutex_unlock(&s->mu);
    return st;
}

sx_status sx_ntf_subs_write_all(sx_ntf_subs *s, sx_ntf_log_fn fn, void *arg)
{
    SX_ENSURE(s != NULL && fn != NULL, SX_E_USAGE);
    static __thread sx_ntf_sl_rec r;
    static __thread uint8_t buf[4096];
    sx_status st = SX_OK;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; st == SX_OK && i < s->count; i++) {
        memset(&r, 0, sizeof r);
        r.kind = SX_NTF_SL_SCREATE;
        rec_out(s->items[i], &r.sub);
        sx_writer w;
        sx_writer_init_fixed(&w, buf, sizeof buf);
        if (sx_ntf_sl_write(&w, &r))
            fn(arg, sx_writer_slice(&w));
        else
            st = sx_writer_status(&w);
    }
    pthread_mutex_unlock(&s->mu);
    sx_wipe(&r, sizeof r);
    return st;
}
