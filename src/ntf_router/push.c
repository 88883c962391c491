/* The push thread (see push.h). */
#include "ntf_router/push.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/util.h"
#include "kit/say.h"

#define BODY_CAP 8192 /* a sealed 3072-byte payload in base64 is ~4.1 KB */
#define PAYLOAD_MAX 3072
#define BATCH SX_NTF_APNS_BATCH_MAX
#define SCAN_MAX 4096 /* queued pushes looked at for one batch */

typedef enum push_kind { P_VERIFY,
                         P_CHECK,
                         P_MESSAGE } push_kind;

typedef struct item {
    struct item *next;
    push_kind kind;
    sx_ntf_tkn_rec tkn;
    char own[SX_NTF_OWN_HOST_MAX]; /* P_MESSAGE: the own SMP router's host, or "" */
    size_t payload_len;
    uint8_t payload[]; /* P_MESSAGE */
} item;

struct sx_ntf_pusher {
    sx_ntf_tokens *tokens;
    sx_ntf_apns_client *client;
    unsigned periodic_s;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    item *head, *tail;
    size_t queued;
    bool stop;
    sx_ntf_push_stats stats;
    sx_ntf_stats *counters; /* the router's (control.h), or NULL */
    /* the push thread's batch */
    item *batch[BATCH];
    uint8_t (*bodies)[BODY_CAP];
    size_t body_len[BATCH];
    bool send[BATCH];
};

static bool enqueue(sx_ntf_pusher *p, push_kind kind, const sx_ntf_tkn_rec *r, sx_slice payload, const char *own)
{
    if (r->token.provider == SX_NTF_PP_APNS_NULL)
        return false;
    if (payload.len > PAYLOAD_MAX)
        return false;
    item *it = malloc(sizeof *it + payload.len);
    if (!it)
        return false;
    it->next = NULL;
    it->kind = kind;
    it->tkn = *r;
    snprintf(it->own, sizeof it->own, "%s", own ? own : "");
    it->payload_len = payload.len;
    if (payload.len)
        memcpy(it->payload, payload.ptr, payload.len);
    pthread_mutex_lock(&p->mu);
    bool ok = !p->stop && p->queued < SX_NTF_PUSH_QUEUE_MAX;
    if (ok) {
        if (p->tail)
            p->tail->next = it;
        else
            p->head = it;
        p->tail = it;
        p->queued++;
        pthread_cond_signal(&p->cv);
    } else {
        p->stats.dropped++;
    }
    pthread_mutex_unlock(&p->mu);
    if (!ok) {
        sx_wipe(it, sizeof *it);
        free(it);
        SX_SAY(SX_SAY_WARN, "push queue full: a push is dropped");
    }
    return ok;
}

bool sx_ntf_pusher_verify(sx_ntf_pusher *p, const sx_ntf_tkn_rec *r)
{
    bool ok = p && r && enqueue(p, P_VERIFY, r, sx_slice_of(NULL, 0), NULL);
    if (ok)
        sx_ntf_stats_inc(p->counters, SX_NTF_STAT_NTF_VRF_QUEUED);
    return ok;
}

void sx_ntf_pusher_set_counters(sx_ntf_pusher *p, sx_ntf_stats *counters)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->counters = counters;
    pthread_mutex_unlock(&p->mu);
}

size_t sx_ntf_pusher_queued(sx_ntf_pusher *p)
{
    if (!p)
        return 0;
    pthread_mutex_lock(&p->mu);
    size_t n = p->queued;
    pthread_mutex_unlock(&p->mu);
    return n;
}

/* The router's counter of a push's outcome (the reference's ntf*, ntfCron*
 * and ntfVrf* counters). */
static void count_outcome(sx_ntf_pusher *p, const item *it, bool delivered, bool invalid)
{
    push_kind kind = it->kind;
    static const sx_ntf_stat ok[] = {SX_NTF_STAT_NTF_VRF_DELIVERED, SX_NTF_STAT_NTF_CRON_DELIVERED,
                                     SX_NTF_STAT_NTF_DELIVERED};
    static const sx_ntf_stat bad[] = {SX_NTF_STAT_NTF_VRF_FAILED, SX_NTF_STAT_NTF_CRON_FAILED,
                                      SX_NTF_STAT_NTF_FAILED};
    sx_ntf_stats_inc(p->counters, delivered ? ok[kind] : bad[kind]);
    if (kind == P_MESSAGE) /* the own SMP router's line, as the reference */
        sx_ntf_stats_inc_own(p->counters, delivered ? SX_NTF_OWN_DELIVERED : SX_NTF_OWN_FAILED, it->own);
    if (kind == P_VERIFY && invalid)
        sx_ntf_stats_inc(p->counters, SX_NTF_STAT_NTF_VRF_INVALID_TKN);
}

bool sx_ntf_pusher_message(sx_ntf_pusher *p, const sx_ntf_tkn_rec *r, sx_slice payload, const char *own)
{
    return p && r && enqueue(p, P_MESSAGE, r, payload, own);
}

static void queue_check(void *arg, const sx_ntf_tkn_rec *r)
{
    (void)enqueue(arg, P_CHECK, r, sx_slice_of(NULL, 0), NULL);
}

/* The body of a push into w; false on failure (reported). */
static bool make_body(const item *it, sx_writer *w)
{
    uint8_t nonce[24];
    sx_random_bytes(nonce, sizeof nonce);
    switch (it->kind) {
    case P_VERIFY:
        return sx_ntf_apns_verification_body(w, it->tkn.dh_secret, nonce, it->tkn.reg_code.b, it->tkn.reg_code.len);
    case P_MESSAGE: return sx_ntf_apns_message_body(w, it->tkn.dh_secret, nonce, it->payload, it->payload_len);
    case P_CHECK: return sx_ntf_apns_check_body(w);
    }
    return false;
}

static const char *kind_name(push_kind k)
{
    return k == P_VERIFY ? "verification" : k == P_CHECK ? "periodic"
                                                         : "message";
}

static void count(sx_ntf_pusher *p, uint64_t *field)
{
    pthread_mutex_lock(&p->mu);
    (*field)++;
    pthread_mutex_unlock(&p->mu);
}

static bool same_token(const item *a, const item *b)
{
    return a->tkn.id.len == b->tkn.id.len && memcmp(a->tkn.id.b, b->tkn.id.b, a->tkn.id.len) == 0;
}

static bool token_among(item *const *list, size_t n, const item *it)
{
    for (size_t i = 0; i < n; i++)
        if (same_token(list[i], it))
            return true;
    return false;
}

/* Takes the next batch off the queue (under p->mu): pushes of the head's
 * provider, at most one per token, so that a token's pushes stay in the
 * order they were queued. A push passed over holds back the later pushes of
 * its token. Returns how many. */
static size_t take_batch(sx_ntf_pusher *p)
{
    item *held[BATCH];
    size_t n = 0, nheld = 0, seen = 0;
    sx_ntf_provider pp = p->head->tkn.token.provider;
    item **link = &p->head, *prev = NULL;
    while (*link && n < BATCH && seen++ < SCAN_MAX) {
        item *it = *link;
        bool take = it->tkn.token.provider == pp && !token_among(p->batch, n, it) && !token_among(held, nheld, it);
        if (!take) {
            if (!token_among(held, nheld, it)) {
                if (nheld == BATCH)
                    break;
                held[nheld++] = it;
            }
            prev = it;
            link = &it->next;
            continue;
        }
        *link = it->next;
        if (p->tail == it)
            p->tail = prev;
        it->next = NULL;
        p->batch[n++] = it;
        p->queued--;
    }
    return n;
}

/* What a push's answer does (the reference's ntfPush). */
static void settle(sx_ntf_pusher *p, const item *it, sx_status st, const sx_ntf_apns_result *res)
{
    sx_slice id = sx_ntf_sl_slice(&it->tkn.id);
    if (st != SX_OK || res->outcome != SX_NTF_APNS_DELIVERED) {
        count(p, &p->stats.failed);
        count_outcome(p, it, false, st == SX_OK && res->outcome == SX_NTF_APNS_TOKEN_INVALID);
        if (st == SX_OK && res->outcome == SX_NTF_APNS_TOKEN_INVALID) {
            sx_ntf_tkn_state s = {SX_NTF_TKN_INVALID, res->invalid};
            (void)sx_ntf_tokens_set_status(p->tokens, id, s);
        }
        SX_SAY(SX_SAY_WARN, "%s push (%s) failed: %d %s", kind_name(it->kind),
               sx_ntf_provider_text(it->tkn.token.provider), st == SX_OK ? res->status : -1,
               st == SX_OK ? res->reason : "not sent");
        return;
    }
    count(p, &p->stats.delivered);
    count_outcome(p, it, true, false);
    if (it->kind == P_VERIFY)
        (void)sx_ntf_tokens_confirm(p->tokens, id);
    else if (it->kind == P_CHECK)
        sx_ntf_tokens_cron_sent(p->tokens, id, (int64_t)time(NULL));
}

/* Makes the body of batch item i; false when it is not to be sent. */
static bool prepare(sx_ntf_pusher *p, size_t i)
{
    const item *it = p->batch[i];
    sx_slice id = sx_ntf_sl_slice(&it->tkn.id);
    if (it->kind == P_MESSAGE) {
        /* the reference checks the token's status before a message push */
        sx_ntf_tkn_rec now_rec;
        bool active = sx_ntf_tokens_get(p->tokens, id, &now_rec) && now_rec.status.status == SX_NTF_TKN_ACTIVE;
        sx_wipe(&now_rec, sizeof now_rec);
        if (!active) {
            SX_SAY(SX_SAY_WARN, "message push not sent: the token is not active");
            return false;
        }
        sx_ntf_stats_active_token(p->counters, id.ptr, id.len); /* the day's active tokens */
    }
    sx_writer w;
    sx_writer_init_fixed(&w, p->bodies[i], BODY_CAP);
    if (!make_body(it, &w)) {
        SX_SAY(SX_SAY_ERROR, "%s push: cannot make its body", kind_name(it->kind));
        count(p, &p->stats.failed);
        return false;
    }
    p->body_len[i] = w.len;
    return true;
}

/* Sends the batch (n pushes of one provider) as concurrent streams; what
 * the connection lost or the answer asked to retry is sent once more on a
 * new connection, as the reference retries a push. */
static void deliver_batch(sx_ntf_pusher *p, size_t n)
{
    sx_ntf_apns_req reqs[BATCH];
    sx_ntf_apns_result res[BATCH];
    char hex[BATCH][SX_NTF_SL_BYTES_MAX + 1];
    size_t idx[BATCH], m = 0;
    sx_ntf_provider pp = p->batch[0]->tkn.token.provider;
    for (size_t i = 0; i < n; i++) {
        if (!prepare(p, i))
            continue;
        const item *it = p->batch[i];
        memcpy(hex[m], it->tkn.token.token.b, it->tkn.token.token.len);
        hex[m][it->tkn.token.token.len] = 0;
        reqs[m].token_hex = hex[m];
        reqs[m].background = it->kind != P_MESSAGE;
        reqs[m].body = sx_slice_of(p->bodies[i], p->body_len[i]);
        idx[m++] = i;
    }
    if (m == 0)
        return;
    sx_status st = sx_ntf_apns_client_push_batch(p->client, pp, reqs, m, res);
    if (st == SX_OK) {
        /* the retries, in their order */
        sx_ntf_apns_req again[BATCH];
        sx_ntf_apns_result res2[BATCH];
        size_t where[BATCH], r = 0;
        for (size_t j = 0; j < m; j++)
            if (res[j].outcome == SX_NTF_APNS_RETRY) {
                again[r] = reqs[j];
                where[r++] = j;
            }
        if (r) {
            pthread_mutex_lock(&p->mu);
            p->stats.retried += r;
            pthread_mutex_unlock(&p->mu);
            sx_ntf_apns_client_disconnect(p->client, pp);
            if (sx_ntf_apns_client_push_batch(p->client, pp, again, r, res2) == SX_OK)
                for (size_t k = 0; k < r; k++)
                    res[where[k]] = res2[k];
        }
    }
    for (size_t j = 0; j < m; j++)
        settle(p, p->batch[idx[j]], st, &res[j]);
}

static void *run(void *arg)
{
    sx_ntf_pusher *p = arg;
    struct timespec next;
    clock_gettime(CLOCK_REALTIME, &next);
    next.tv_sec += p->periodic_s;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        if (!p->head) {
            int rc = pthread_cond_timedwait(&p->cv, &p->mu, &next);
            if (rc == ETIMEDOUT) {
                pthread_mutex_unlock(&p->mu);
                size_t n = sx_ntf_tokens_due_cron(p->tokens, (int64_t)time(NULL), queue_check, p);
                if (n)
                    SX_SAY(SX_SAY_NOTE, "Scheduled periodic notifications: %zu", n);
                clock_gettime(CLOCK_REALTIME, &next);
                next.tv_sec += p->periodic_s;
                pthread_mutex_lock(&p->mu);
            }
            continue;
        }
        size_t n = take_batch(p);
        pthread_mutex_unlock(&p->mu);
        deliver_batch(p, n);
        for (size_t i = 0; i < n; i++) {
            item *it = p->batch[i];
            sx_wipe(it, sizeof *it + it->payload_len);
            free(it);
            p->batch[i] = NULL;
        }
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

sx_status sx_ntf_pusher_start(sx_ntf_tokens *tokens, sx_ntf_apns_client *client, unsigned periodic_s,
                              sx_ntf_pusher **out)
{
    if (!tokens || !client || !out) {
        sx_ntf_apns_client_free(client);
        return SX_E_USAGE;
    }
    *out = NULL;
    sx_ntf_pusher *p = calloc(1, sizeof *p);
    if (!p) {
        sx_ntf_apns_client_free(client);
        return SX_E_NOMEM;
    }
    p->tokens = tokens;
    p->client = client;
    p->periodic_s = periodic_s ? periodic_s : SX_NTF_PERIODIC_INTERVAL;
    p->bodies = malloc((size_t)BATCH * BODY_CAP);
    if (!p->bodies) {
        sx_ntf_apns_client_free(client);
        free(p);
        return SX_E_NOMEM;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (pthread_create(&p->thread, NULL, run, p) != 0) {
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        sx_ntf_apns_client_free(client);
        free(p->bodies);
        free(p);
        return SX_E_INTERNAL;
    }
    *out = p;
    return SX_OK;
}

void sx_ntf_pusher_stop(sx_ntf_pusher *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    while (p->head) {
        item *it = p->head;
        p->head = it->next;
        sx_wipe(it, sizeof *it + it->payload_len);
        free(it);
    }
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    sx_ntf_apns_client_free(p->client);
    free(p->bodies);
    free(p);
}

void sx_ntf_pusher_stats(sx_ntf_pusher *p, sx_ntf_push_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    *out = p->stats;
    pthread_mutex_unlock(&p->mu);
}
