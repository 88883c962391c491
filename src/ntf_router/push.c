/* The push thread (see push.h). */
#include "ntf_router/push.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/util.h"
#include "kit/say.h"

#define BODY_CAP 8192 /* a sealed 3072-byte payload in base64 is ~4.1 KB */
#define PAYLOAD_MAX 3072

typedef enum push_kind { P_VERIFY,
                         P_CHECK,
                         P_MESSAGE } push_kind;

typedef struct item {
    struct item *next;
    push_kind kind;
    sx_ntf_tkn_rec tkn;
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
};

static bool enqueue(sx_ntf_pusher *p, push_kind kind, const sx_ntf_tkn_rec *r, sx_slice payload)
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
    bool ok = p && r && enqueue(p, P_VERIFY, r, sx_slice_of(NULL, 0));
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
static void count_outcome(sx_ntf_pusher *p, push_kind kind, bool delivered, bool invalid)
{
    static const sx_ntf_stat ok[] = {SX_NTF_STAT_NTF_VRF_DELIVERED, SX_NTF_STAT_NTF_CRON_DELIVERED,
                                     SX_NTF_STAT_NTF_DELIVERED};
    static const sx_ntf_stat bad[] = {SX_NTF_STAT_NTF_VRF_FAILED, SX_NTF_STAT_NTF_CRON_FAILED,
                                      SX_NTF_STAT_NTF_FAILED};
    sx_ntf_stats_inc(p->counters, delivered ? ok[kind] : bad[kind]);
    if (kind == P_VERIFY && invalid)
        sx_ntf_stats_inc(p->counters, SX_NTF_STAT_NTF_VRF_INVALID_TKN);
}

bool sx_ntf_pusher_message(sx_ntf_pusher *p, const sx_ntf_tkn_rec *r, sx_slice payload)
{
    return p && r && enqueue(p, P_MESSAGE, r, payload);
}

static void queue_check(void *arg, const sx_ntf_tkn_rec *r)
{
    (void)enqueue(arg, P_CHECK, r, sx_slice_of(NULL, 0));
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

static void deliver(sx_ntf_pusher *p, item *it)
{
    sx_slice id = sx_ntf_sl_slice(&it->tkn.id);
    if (it->kind == P_MESSAGE) {
        /* the reference checks the token's status before a message push */
        sx_ntf_tkn_rec now_rec;
        if (!sx_ntf_tokens_get(p->tokens, id, &now_rec) || now_rec.status.status != SX_NTF_TKN_ACTIVE) {
            SX_SAY(SX_SAY_WARN, "message push not sent: the token is not active");
            sx_wipe(&now_rec, sizeof now_rec);
            return;
        }
        sx_wipe(&now_rec, sizeof now_rec);
        sx_ntf_stats_active_token(p->counters, id.ptr, id.len); /* the day's active tokens */
    }
    static __thread uint8_t body[BODY_CAP];
    sx_writer w;
    sx_writer_init_fixed(&w, body, sizeof body);
    if (!make_body(it, &w)) {
        SX_SAY(SX_SAY_ERROR, "%s push: cannot make its body", kind_name(it->kind));
        count(p, &p->stats.failed);
        return;
    }
    char hex[SX_NTF_SL_BYTES_MAX + 1];
    memcpy(hex, it->tkn.token.token.b, it->tkn.token.token.len);
    hex[it->tkn.token.token.len] = 0;
    bool background = it->kind != P_MESSAGE;
    sx_ntf_provider pp = it->tkn.token.provider;
    sx_slice b = sx_writer_slice(&w);
    sx_ntf_apns_result res;
    sx_status st = sx_ntf_apns_client_push(p->client, pp, hex, background, b, &res);
    if (st == SX_OK && res.outcome == SX_NTF_APNS_RETRY) {
        count(p, &p->stats.retried);
        sx_ntf_apns_client_disconnect(p->client, pp);
        st = sx_ntf_apns_client_push(p->client, pp, hex, background, b, &res);
    }
    if (st != SX_OK || res.outcome != SX_NTF_APNS_DELIVERED) {
        count(p, &p->stats.failed);
        count_outcome(p, it->kind, false, st == SX_OK && res.outcome == SX_NTF_APNS_TOKEN_INVALID);
        if (st == SX_OK && res.outcome == SX_NTF_APNS_TOKEN_INVALID) {
            sx_ntf_tkn_state s = {SX_NTF_TKN_INVALID, res.invalid};
            (void)sx_ntf_tokens_set_status(p->tokens, id, s);
        }
        SX_SAY(SX_SAY_WARN, "%s push (%s) failed: %d %s", kind_name(it->kind),
               sx_ntf_provider_text(it->tkn.token.provider), st == SX_OK ? res.status : -1,
               st == SX_OK ? res.reason : "not sent");
        return;
    }
    count(p, &p->stats.delivered);
    count_outcome(p, it->kind, true, false);
    if (it->kind == P_VERIFY)
        (void)sx_ntf_tokens_confirm(p->tokens, id);
    else if (it->kind == P_CHECK)
        sx_ntf_tokens_cron_sent(p->tokens, id, (int64_t)time(NULL));
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
        item *it = p->head;
        p->head = it->next;
        if (!p->head)
            p->tail = NULL;
        p->queued--;
        pthread_mutex_unlock(&p->mu);
        deliver(p, it);
        sx_wipe(it, sizeof *it + it->payload_len);
        free(it);
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
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (pthread_create(&p->thread, NULL, run, p) != 0) {
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        sx_ntf_apns_client_free(client);
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
