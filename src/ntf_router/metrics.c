/* The NTF router's metrics file in the Prometheus text format (see
 * metrics.h). Every sample carries the time it was made. */
#include "ntf_router/metrics.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kit/prom.h"

/* A gauge of one unlabelled sample (also the reference's gauges of "other"
 * routers). */
static void gauge(sx_kit_prom *o, const char *name, const char *help, int64_t v, const char *comment)
{
    sx_kit_prom_one(o, name, "gauge", help, v, comment);
}

#define NM "simplex_ntf_"

static void counter(sx_kit_prom *o, const char *name, const char *help, const sx_ntf_metrics_in *in, sx_ntf_stat k)
{
    sx_kit_prom_one(o, name, "counter", help, in->c[k], sx_ntf_stat_name(k));
}

static void tokens(sx_kit_prom *o, const sx_ntf_metrics_in *in)
{
    sx_kit_prom_put(o, "# Tokens\n# ------\n\n");
    counter(o, NM "tokens_created", "Created tokens", in, SX_NTF_STAT_TKN_CREATED);
    counter(o, NM "tokens_verified", "Verified tokens", in, SX_NTF_STAT_TKN_VERIFIED);
    counter(o, NM "tokens_deleted", "Deleted tokens", in, SX_NTF_STAT_TKN_DELETED);
    /* the reference's HELP text */
    counter(o, NM "tokens_replaced", "Deleted tokens", in, SX_NTF_STAT_TKN_REPLACED);
    gauge(o, NM "tokens_count_daily", "Daily active tokens", (int64_t)in->tokens_active[0], "dayCountTkn");
    gauge(o, NM "tokens_count_weekly", "Weekly active tokens", (int64_t)in->tokens_active[1],
          "weekCountTkn");
    gauge(o, NM "tokens_count_monthly", "Monthly active tokens", (int64_t)in->tokens_active[2],
          "monthCountTkn");
    gauge(o, NM "tokens_total", "Total number of tokens stored.", in->token_count, "tokenCount");
}

/* A gauge with a sample per own router of group g, labelled with its
 * host (1 for a router in the server-count series). */
static void own_gauge(sx_kit_prom *o, const sx_ntf_metrics_in *in, sx_ntf_gauge_group g, const char *name,
                      const char *help, const char *comment, bool ones)
{
    sx_kit_prom_head(o, name, "gauge", help);
    size_t i = 0;
    const char *h;
    int64_t c;
    while (sx_ntf_gauge_own_next(in->routers, in->n_routers, g, &i, &h, &c)) {
        char labels[SX_NTF_HOST_MAX + 16];
        snprintf(labels, sizeof labels, "{server=\"%s\"}", h);
        sx_kit_prom_sample(o, name, labels, ones ? 1 : c, NULL);
    }
    sx_kit_prom_put(o, "# %s\n\n", comment);
}

/* The reference's four groups of SMP subscription gauges: own routers
 * (when any) by host, then the others. */
static void sub_group(sx_kit_prom *o, const sx_ntf_metrics_in *in, sx_ntf_gauge_group g, const char *pfx,
                      const char *what)
{
    char name[128], help[128];
    sx_ntf_gauge_split sp;
    sx_ntf_gauge_split_of(in->routers, in->n_routers, g, &sp);
    if (sp.own_entries > 0) {
        snprintf(name, sizeof name, "%sserver_count_own", pfx);
        snprintf(help, sizeof help, "%s SMP subscriptions, own server count", what);
        own_gauge(o, in, g, name, help, "ownSrvSubs server", true);
        snprintf(name, sizeof name, "%ssub_count_own", pfx);
        snprintf(help, sizeof help, "%s SMP subscriptions count for own servers", what);
        own_gauge(o, in, g, name, help, "ownSrvSubs count", false);
    }
    snprintf(name, sizeof name, "%sserver_count_other", pfx);
    snprintf(help, sizeof help, "%s SMP subscriptions, other server count", what);
    gauge(o, name, help, sp.other_servers, "otherServers");
    snprintf(name, sizeof name, "%ssub_count_other", pfx);
    snprintf(help, sizeof help, "%s SMP subscriptions count for other servers", what);
    gauge(o, name, help, sp.other_count, "otherSrvSubCount");
}

/* The reference's connection gauges: own routers (when any) by host, then
 * the number of others. */
static void worker_group(sx_kit_prom *o, const sx_ntf_metrics_in *in, sx_ntf_gauge_group g, const char *pfx,
                         const char *what)
{
    char name[128], help[128];
    sx_ntf_gauge_split sp;
    sx_ntf_gauge_split_of(in->routers, in->n_routers, g, &sp);
    if (sp.own_entries > 0) {
        snprintf(name, sizeof name, "%scount_own", pfx);
        snprintf(help, sizeof help, "%s count for own servers", what);
        own_gauge(o, in, g, name, help, "ownServers", true);
    }
    snprintf(name, sizeof name, "%scount_other", pfx);
    snprintf(help, sizeof help, "%s count for other servers", what);
    gauge(o, name, help, sp.other_servers, "otherServers");
}

static void subscriptions(sx_kit_prom *o, const sx_ntf_metrics_in *in)
{
    sx_kit_prom_put(o, "# Subscriptions\n# -------------\n\n");
    counter(o, NM "subscriptions_created", "Created subscriptions", in, SX_NTF_STAT_SUB_CREATED);
    counter(o, NM "subscriptions_deleted", "Deleted subscriptions", in, SX_NTF_STAT_SUB_DELETED);
    gauge(o, NM "subscriptions_count_daily", "Daily subscriptions count", (int64_t)in->subs_active[0],
          "dayCountSub");
    gauge(o, NM "subscriptions_count_weekly", "Weekly subscriptions count",
          (int64_t)in->subs_active[1], "weekCountSub");
    gauge(o, NM "subscriptions_count_monthly", "Monthly subscriptions count",
          (int64_t)in->subs_active[2], "monthCountSub");
    gauge(o, NM "subscriptions_approx_total", "Approximate total number of subscriptions stored.",
          in->sub_count, "approxSubCount");
    sub_group(o, in, SX_NTF_G_SERVICE_ACTIVE, NM "smp_service_subscription_active_", "Active");
    sub_group(o, in, SX_NTF_G_QUEUE_ACTIVE, NM "smp_subscription_active_", "Active");
    sub_group(o, in, SX_NTF_G_SERVICE_PENDING, NM "smp_service_subscription_pending_", "Pending");
    sub_group(o, in, SX_NTF_G_QUEUE_PENDING, NM "smp_subscription_pending_", "Pending");
}

/* A counter with a sample per SMP router of a per-router line ("host n"
 * pairs joined by commas), labelled with the host; nothing for none. */
static void by_server(sx_kit_prom *o, const char *line, const char *name, const char *help, const char *comment)
{
    if (!line[0])
        return;
    sx_kit_prom_head(o, name, "counter", help);
    const char *p = line, *h;
    size_t l;
    int64_t v;
    while (sx_ntf_own_next(&p, &h, &l, &v)) {
        char labels[300];
        snprintf(labels, sizeof labels, "{server=\"%.*s\"}", l < 256 ? (int)l : 256, h);
        sx_kit_prom_sample(o, name, labels, v, NULL);
    }
    sx_kit_prom_put(o, "# %s\n\n", comment);
}

static void notifications(sx_kit_prom *o, const sx_ntf_metrics_in *in)
{
    sx_kit_prom_put(o, "# Notifications\n# -------------\n\n");
    counter(o, NM "notifications_received", "Received notifications", in, SX_NTF_STAT_NTF_RECEIVED);
    counter(o, NM "notifications_received_auth",
            "Received notifications without token or subscription (AUTH error)", in,
            SX_NTF_STAT_NTF_RECEIVED_AUTH);
    counter(o, NM "notifications_delivered", "Delivered notifications", in, SX_NTF_STAT_NTF_DELIVERED);
    counter(o, NM "notifications_failed", "Failed notifications", in, SX_NTF_STAT_NTF_FAILED);
    counter(o, NM "notifications_periodic_delivered", "Delivered periodic notifications", in,
            SX_NTF_STAT_NTF_CRON_DELIVERED);
    counter(o, NM "notifications_periodic_failed", "Failed periodic notifications", in,
            SX_NTF_STAT_NTF_CRON_FAILED);
    counter(o, NM "notifications_verification_queued", "Token verifications queued", in,
            SX_NTF_STAT_NTF_VRF_QUEUED);
    counter(o, NM "notifications_verification_delivered", "Delivered token verifications", in,
            SX_NTF_STAT_NTF_VRF_DELIVERED);
    counter(o, NM "notifications_verification_failed", "Failed token verification deliveries", in,
            SX_NTF_STAT_NTF_VRF_FAILED);
    counter(o, NM "notifications_verification_invalid_tkn", "Invalid token errors while delivering verifications",
            in, SX_NTF_STAT_NTF_VRF_INVALID_TKN);
    gauge(o, NM "notifications_total", "Total number of last notifications stored.",
          in->last_ntf_count, "lastNtfCount");
    static const char *const names[SX_NTF_STATS_OWN][3] = {
        {NM "notifications_received_own", "Received notifications", "ntfReceivedOwn"},
        {NM "notifications_received_auth_own", "Received notifications without token or subscription (AUTH error)",
         "ntfReceivedAuthOwn"},
        {NM "notifications_delivered_own", "Delivered notifications", "ntfDeliveredOwn"},
        {NM "notifications_failed_own", "Failed notifications", "ntfFailedOwn"},
    };
    for (size_t k = 0; k < SX_NTF_STATS_OWN; k++)
        by_server(o, in->own[k], names[k][0], names[k][1], names[k][2]);
}

static void info(sx_kit_prom *o, const sx_ntf_metrics_in *in)
{
    sx_kit_prom_put(o, "# Info\n# ----\n\n");
    /* the reference names its runtime's options here; ours has none */
    sx_kit_prom_put(o, "# HELP " NM "info Server information. "
                       "RTS options have to be passed via NTF_RTS_OPTIONS env var\n"
                       "# TYPE " NM "info gauge\n");
    sx_kit_prom_put(o, NM "info{version=\"%s\",rts_options=\"\"} 1\n\n", in->version ? in->version : "");
    gauge(o, NM "threads_total", "Thread count", in->threads, "threadsCount");
    /* one connection (subscriber and client) per SMP router; the
     * reference's HELP text */
    worker_group(o, in, SX_NTF_G_SUBSCRIBERS, NM "smp_subscribers_", "SMP subcscribers");
    worker_group(o, in, SX_NTF_G_CLIENTS, NM "smp_agent_clients_", "SMP agent clients");
    worker_group(o, in, SX_NTF_G_SUB_WORKERS, NM "smp_agent_sub_workers_", "SMP agent subscription workers");
    gauge(o, NM "smp_sessions_count", "SMP sessions count", in->smp_sessions, "smpSessionCount");
    gauge(o, NM "apns_push_queue_length", "Count of notifications in push queue", in->push_queue,
          "apnsPushQLength");
}

sx_status sx_ntf_metrics_text(const sx_ntf_metrics_in *in, char **text, size_t *text_len)
{
    SX_ENSURE(in && text, SX_E_USAGE);
    *text = NULL;
    sx_kit_prom o;
    sx_kit_prom_begin(&o, (size_t)1 << 20, in->now_ms, in->from_time);
    tokens(&o, in);
    subscriptions(&o, in);
    notifications(&o, in);
    info(&o, in);
    return sx_kit_prom_finish(&o, text, text_len);
}

void sx_ntf_metrics_from_stats(sx_ntf_stats *s, sx_ntf_metrics_in *in)
{
    for (int k = 0; k < SX_NTF_STAT_COUNT; k++)
        in->c[k] = (int64_t)sx_ntf_stats_get(s, (sx_ntf_stat)k);
    pthread_mutex_lock(&s->mu);
    in->from_time = s->d.from_time;
    in->tokens_active[0] = s->d.active_tokens.day.n;
    in->tokens_active[1] = s->d.active_tokens.week.n;
    in->tokens_active[2] = s->d.active_tokens.month.n;
    in->subs_active[0] = s->d.active_subs.day.n;
    in->subs_active[1] = s->d.active_subs.week.n;
    in->subs_active[2] = s->d.active_subs.month.n;
    memcpy(in->own, s->d.own, sizeof in->own);
    pthread_mutex_unlock(&s->mu);
}

sx_status sx_ntf_metrics_write(const char *path, const char *text, size_t len)
{
    char tmp[4200];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return SX_E_IO;
    FILE *f = fopen(tmp, "w");
    if (!f)
        return SX_E_IO;
    bool ok = fwrite(text, 1, len, f) == len;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        (void)unlink(tmp);
        return SX_E_IO;
    }
    return SX_OK;
}
