/* The SMP router's metrics file in the Prometheus text format, with the
 * reference's metric names, labels, HELP and TYPE lines and section
 * comments, in its order. Every sample carries the time it was made. */
#include "smp_router/metrics.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kit/prom.h"

static void section(sx_kit_prom *o, const char *title, const char *rule)
{
    sx_kit_prom_put(o, "# %s\n# %s\n\n", title, rule);
}

#define SM "simplex_smp_"

static void queues(sx_kit_prom *o, const sx_smp_metrics_in *in)
{
    const int64_t *c = in->d->c;
    section(o, "Queues", "------");
    sx_kit_prom_one(o, SM "queues_created", "counter", "Created queues", c[SX_SMP_STAT_Q_CREATED], "qCreated");
    sx_kit_prom_one(o, SM "queues_secured", "counter", "Secured queues", c[SX_SMP_STAT_Q_SECURED], "qSecured");
    sx_kit_prom_head(o, SM "queues_deleted", "counter", "Deleted queues");
    sx_kit_prom_sample(o, SM "queues_deleted", "{type=\"all\"}", c[SX_SMP_STAT_Q_DELETED_ALL], "qDeleted");
    sx_kit_prom_sample(o, SM "queues_deleted", "{type=\"new\"}", c[SX_SMP_STAT_Q_DELETED_NEW], "qDeletedNew");
    sx_kit_prom_sample(o, SM "queues_deleted", "{type=\"secured\"}", c[SX_SMP_STAT_Q_DELETED_SECURED],
                       "qDeletedSecured");
    sx_kit_prom_put(o, "\n");
    /* the reference's HELP text says "Deleted" here too */
    sx_kit_prom_one(o, SM "queues_blocked", "counter", "Deleted queues", c[SX_SMP_STAT_Q_BLOCKED], "qBlocked");
    sx_kit_prom_one(o, SM "queues_deleted_batch", "counter", "Batched requests to delete queues",
                    c[SX_SMP_STAT_Q_DELETED_ALL_B], "qDeletedAllB");
    sx_kit_prom_one(o, SM "queues_total1", "gauge", "Total number of stored queues (first type of count).",
                    c[SX_SMP_STAT_Q_COUNT], "qCount");
    sx_kit_prom_one(o, SM "queues_total2", "gauge", "Total number of stored queues (second type of count).",
                    in->ent.queues, "qCount2");
    sx_kit_prom_one(o, SM "queues_daily", "gauge", "Daily active queues.", (int64_t)in->active[0], "dayMsgQueues");
    sx_kit_prom_one(o, SM "queues_weekly", "gauge", "Weekly active queues.", (int64_t)in->active[1], "weekMsgQueues");
    sx_kit_prom_one(o, SM "queues_monthly", "gauge", "Monthly active queues.", (int64_t)in->active[2],
                    "monthMsgQueues");
    sx_kit_prom_one(o, SM "queues_notify_daily", "gauge", "Daily active queues with notifications.",
                    (int64_t)in->active_ntf[0], "dayCountNtf");
    sx_kit_prom_one(o, SM "queues_notify_weekly", "gauge", "Weekly active queues with notifications.",
                    (int64_t)in->active_ntf[1], "weekCountNtf");
    sx_kit_prom_one(o, SM "queues_notify_monthly", "gauge", "Monthly active queues with notifications.",
                    (int64_t)in->active_ntf[2], "monthCountNtf");
}

static void subscriptions(sx_kit_prom *o, const sx_smp_metrics_in *in)
{
    const int64_t *c = in->d->c;
    section(o, "Subscriptions", "-------------");
    sx_kit_prom_one(o, SM "subscribtion_successes", "counter", "Successful subscriptions.", c[SX_SMP_STAT_Q_SUB],
                    "qSub");
    sx_kit_prom_one(o, SM "subscribtion_successes_batch", "counter", "Batched successful subscriptions.",
                    c[SX_SMP_STAT_Q_SUB_ALL_B], "qSubAllB");
    sx_kit_prom_one(o, SM "subscribtion_end", "counter", "Ended subscriptions.", c[SX_SMP_STAT_Q_SUB_END], "qSubEnd");
    sx_kit_prom_one(o, SM "subscribtion_end_batch", "counter", "Batched ended subscriptions.",
                    c[SX_SMP_STAT_Q_SUB_END_B], "qSubEndB");
    sx_kit_prom_head(o, SM "subscribtion_errors", "counter", "Subscription errors.");
    sx_kit_prom_sample(o, SM "subscribtion_errors", "{type=\"auth\"}", c[SX_SMP_STAT_Q_SUB_AUTH], "qSubAuth");
    sx_kit_prom_sample(o, SM "subscribtion_errors", "{type=\"duplicate\"}", c[SX_SMP_STAT_Q_SUB_DUPLICATE],
                       "qSubDuplicate");
    sx_kit_prom_sample(o, SM "subscribtion_errors", "{type=\"prohibited\"}", c[SX_SMP_STAT_Q_SUB_PROHIBITED],
                       "qSubProhibited");
    sx_kit_prom_put(o, "\n");
}

static void messages(sx_kit_prom *o, const sx_smp_metrics_in *in)
{
    const int64_t *c = in->d->c;
    section(o, "Messages", "--------");
    sx_kit_prom_one(o, SM "messages_sent", "counter", "Sent messages.", c[SX_SMP_STAT_MSG_SENT], "msgSent");
    sx_kit_prom_head(o, SM "messages_sent_errors", "counter", "Total number of messages errors by type.");
    sx_kit_prom_sample(o, SM "messages_sent_errors", "{type=\"auth\"}", c[SX_SMP_STAT_MSG_SENT_AUTH], "msgSentAuth");
    sx_kit_prom_sample(o, SM "messages_sent_errors", "{type=\"quota\"}", c[SX_SMP_STAT_MSG_SENT_QUOTA], "msgSentQuota");
    sx_kit_prom_sample(o, SM "messages_sent_errors", "{type=\"large\"}", c[SX_SMP_STAT_MSG_SENT_LARGE], "msgSentLarge");
    sx_kit_prom_sample(o, SM "messages_sent_errors", "{type=\"block\"}", c[SX_SMP_STAT_MSG_SENT_BLOCK], "msgSentBlock");
    sx_kit_prom_put(o, "\n");
    sx_kit_prom_one(o, SM "messages_received", "counter", "Received messages.", c[SX_SMP_STAT_MSG_RECV], "msgRecv");
    sx_kit_prom_one(o, SM "messages_expired", "counter", "Expired messages.", c[SX_SMP_STAT_MSG_EXPIRED], "msgExpired");
    sx_kit_prom_one(o, SM "messages_total", "gauge", "Total number of messages stored.", c[SX_SMP_STAT_MSG_COUNT],
                    "msgCount");

    section(o, "Notification messages (client)", "------------------------------");
    sx_kit_prom_one(o, SM "messages_notify_sent", "counter", "Sent messages with notification flag (cleint).",
                    c[SX_SMP_STAT_MSG_SENT_NTF], "msgSentNtf");
    sx_kit_prom_one(o, SM "messages_notify_received", "counter", "Received messages with notification flag (client).",
                    c[SX_SMP_STAT_MSG_RECV_NTF], "msgRecvNtf");
    sx_kit_prom_one(o, SM "messages_notify_get_sent", "counter",
                    "Requests to get messages with notification flag (client).",
                    c[SX_SMP_STAT_MSG_GET], "msgGet");
    sx_kit_prom_one(o, SM "messages_notify_get_received", "counter",
                    "Succesfully received get requests messages with notification flag (client).",
                    c[SX_SMP_STAT_MSG_RECV_GET], "msgRecvGet");
    sx_kit_prom_head(o, SM "messages_notify_get_errors", "counter",
                     "Error events with messages with notification flag (client). ");
    sx_kit_prom_sample(o, SM "messages_notify_get_errors", "{type=\"nomsg\"}", c[SX_SMP_STAT_MSG_GET_NO_MSG],
                       "msgGetNoMsg");
    sx_kit_prom_sample(o, SM "messages_notify_get_errors", "{type=\"auth\"}", c[SX_SMP_STAT_MSG_GET_AUTH],
                       "msgGetAuth");
    sx_kit_prom_sample(o, SM "messages_notify_get_errors", "{type=\"duplicate\"}", c[SX_SMP_STAT_MSG_GET_DUPLICATE],
                       "msgGetDuplicate");
    sx_kit_prom_sample(o, SM "messages_notify_get_errors", "{type=\"prohibited\"}", c[SX_SMP_STAT_MSG_GET_PROHIBITED],
                       "msgGetProhibited");
    sx_kit_prom_put(o, "\n");
    sx_kit_prom_one(o, SM "queues_notify_created", "counter", "Created queue notification credentials.",
                    c[SX_SMP_STAT_NTF_CREATED], "ntfCreated");
    sx_kit_prom_one(o, SM "queues_notify_new_created", "counter", "Created new queues with notification credentials.",
                    c[SX_SMP_STAT_NTF_NEW_CREATED], "ntfNewCreated");
    sx_kit_prom_one(o, SM "queues_notify_deleted", "counter", "Deleted queue notification credentials.",
                    c[SX_SMP_STAT_NTF_DELETED], "ntfDeleted");
    sx_kit_prom_one(o, SM "queues_notify_deleted_batch", "counter", "Deleted batched queue notification credentials.",
                    c[SX_SMP_STAT_NTF_DELETED_B], "ntfDeletedB");
    sx_kit_prom_one(o, SM "queues_notify_total1", "gauge",
                    "Total number of stored queues with notification flag (first type of count).",
                    c[SX_SMP_STAT_NTF_COUNT], "ntfCount1");
    sx_kit_prom_one(o, SM "queues_notify_total2", "gauge",
                    "Total number of stored queues with notification flag (second type of count).", in->ent.notifiers,
                    "ntfCount2");
}

static void ntfs(sx_kit_prom *o, const sx_smp_metrics_in *in)
{
    const int64_t *c = in->d->c;
    section(o, "Notifications (server)", "----------------------");
    sx_kit_prom_one(o, SM "messages_ntf_successes", "counter",
                    "Successful events with notification messages (to ntf server). ", c[SX_SMP_STAT_MSG_NTFS],
                    "msgNtfs");
    sx_kit_prom_one(o, SM "messages_ntf_successes_batch", "counter",
                    "Successful batched events with notification messages (to ntf server). ", c[SX_SMP_STAT_MSG_NTFS_B],
                    "msgNtfsB");
    sx_kit_prom_head(o, SM "messages_ntf_errors", "counter",
                     "Error events with notification messages (to ntf server). ");
    sx_kit_prom_sample(o, SM "messages_ntf_errors", "{type=\"nosub\"}", c[SX_SMP_STAT_MSG_NTF_NO_SUB], "msgNtfNoSub");
    sx_kit_prom_sample(o, SM "messages_ntf_errors", "{type=\"lost\"}", c[SX_SMP_STAT_MSG_NTF_LOST], "msgNtfLost");
    sx_kit_prom_sample(o, SM "messages_ntf_errors", "{type=\"expired\"}", c[SX_SMP_STAT_MSG_NTF_EXPIRED],
                       "msgNtfExpired");
    sx_kit_prom_put(o, "\n");
    sx_kit_prom_one(o, SM "subscription_ntf_requests", "counter",
                    "Subscription requests with notification flag (from ntf server). ", c[SX_SMP_STAT_NTF_SUB],
                    "ntfSub");
    sx_kit_prom_one(o, SM "subscription_ntf_requests_batch", "counter",
                    "Batched subscription requests with notification flag (from ntf server). ",
                    c[SX_SMP_STAT_NTF_SUB_B], "ntfSubB");
    sx_kit_prom_head(o, SM "subscribtion_ntf_errors", "counter",
                     "Subscription errors with notification flag (from ntf server). ");
    sx_kit_prom_sample(o, SM "subscribtion_ntf_errors", "{type=\"auth\"}", c[SX_SMP_STAT_NTF_SUB_AUTH], "ntfSubAuth");
    sx_kit_prom_sample(o, SM "subscribtion_ntf_errors", "{type=\"duplicate\"}", c[SX_SMP_STAT_NTF_SUB_DUPLICATE],
                       "ntfSubDuplicate");
    sx_kit_prom_put(o, "\n");
}

/* The five proxy counters of one group: requests, successes, then errors. */
static void relay_group(sx_kit_prom *o, const char *what, const char *help_req, const char *help_ok,
                        const char *help_err,
                        const int64_t *all, const int64_t *own, const char *key_all, const char *key_own)
{
    char name[96], comment[64];
    static const char *const fld[] = {"pRequests", "pSuccesses", "pErrorsConnect", "pErrorsCompat", "pErrorsOther"};
    snprintf(name, sizeof name, SM "relay_%s_requests", what);
    sx_kit_prom_head(o, name, "counter", help_req);
    snprintf(comment, sizeof comment, "%s_%s", key_all, fld[0]);
    sx_kit_prom_sample(o, name, "{source=\"all\"}", all[0], comment);
    snprintf(comment, sizeof comment, "%s_%s", key_own, fld[0]);
    sx_kit_prom_sample(o, name, "{source=\"own\"}", own[0], comment);
    sx_kit_prom_put(o, "\n");
    snprintf(name, sizeof name, SM "relay_%s_successes", what);
    sx_kit_prom_head(o, name, "counter", help_ok);
    snprintf(comment, sizeof comment, "%s_%s", key_all, fld[1]);
    sx_kit_prom_sample(o, name, "{source=\"all\"}", all[1], comment);
    snprintf(comment, sizeof comment, "%s_%s", key_own, fld[1]);
    sx_kit_prom_sample(o, name, "{source=\"own\"}", own[1], comment);
    sx_kit_prom_put(o, "\n");
    snprintf(name, sizeof name, SM "relay_%s_errors", what);
    sx_kit_prom_head(o, name, "counter", help_err);
    static const char *const types[] = {"connect", "compat", "other"};
    for (int src = 0; src < 2; src++)
        for (int t = 0; t < 3; t++) {
            char labels[64];
            snprintf(labels, sizeof labels, "{source=\"%s\",type=\"%s\"}", src ? "own" : "all", types[t]);
            snprintf(comment, sizeof comment, "%s_%s", src ? key_own : key_all, fld[2 + t]);
            sx_kit_prom_sample(o, name, labels, (src ? own : all)[2 + t], comment);
        }
    sx_kit_prom_put(o, "\n");
}

static void relays(sx_kit_prom *o, const sx_smp_metrics_in *in)
{
    const int64_t *c = in->d->c;
    section(o, "Relays", "------");
    relay_group(o, "sessions", "Session requests through relay.", "Successful session events through relay.",
                "Error session events through relay.", &c[SX_SMP_STAT_P_RELAYS_REQUESTS],
                &c[SX_SMP_STAT_P_RELAYS_OWN_REQUESTS], "pRelays", "pRelaysOwn");
    relay_group(o, "messages", "Message requests sent through relay.", "Successful messages sent through relay.",
                "Error events with messages sent through relay.", &c[SX_SMP_STAT_P_MSG_FWDS_REQUESTS],
                &c[SX_SMP_STAT_P_MSG_FWDS_OWN_REQUESTS], "pMsgFwds", "pMsgFwdsOwn");
    sx_kit_prom_one(o, SM "relay_messages_received", "counter", "Relay messages statistics.",
                    c[SX_SMP_STAT_P_MSG_FWDS_RECV], "pMsgFwdsRecv");
}

static void service_group(sx_kit_prom *o, const int64_t *v, const char *pfx, const char *name)
{
    static const struct {
        const char *suffix, *type, *help_a, *help_b, *key;
    } m[] = {
        {"assoc_new", "counter", "New queue associations with ", " services.", "srvAssocNew"},
        {"assoc_duplicate", "counter", "Duplicate queue associations with ", " services.", "srvAssocDuplicate"},
        {"assoc_updated", "counter", "Updated queue associations with ", " services.", "srvAssocUpdated"},
        {"assoc_removed", "counter", "Removed queue associations with ", " services.", "srvAssocRemoved"},
        {"sub_count", "counter", "Service subscriptions by ", " services.", "srvSubCount"},
        {"sub_duplicate", "counter", "Duplicate service subscriptions by ", " services.", "srvSubDuplicate"},
        {"sub_queues", "gauge", "Queues subscribed by ", " services.", "srvSubQueues"},
        {"sub_end", "gauge", "Ended subscriptions with ", " services.", "srvSubEnd"},
        {"sub_ok", "gauge", "Service subscriptions for ", " services.", "srvSubOk"},
        {"sub_more", "gauge", "Service subscriptions for ", " services with more queues than in the client.",
         "srvSubMore"},
        {"sub_fewer", "gauge", "Service subscriptions for ", " services with fewer queues than in the client.",
         "srvSubFewer"},
        {"sub_diff", "gauge", "Service subscriptions for ", " services with different hash than in the client.",
         "srvSubDiff"},
        {"sub_more_total", "gauge",
         "Service subscriptions for ", " services with more queues than in the client total.", "srvSubMoreTotal"},
        {"sub_fewer_total", "gauge",
         "Service subscriptions for ", " services with fewer queues than in the client total.", "srvSubFewerTotal"},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        char metric[96], help[160], comment[64];
        snprintf(metric, sizeof metric, SM "%s_services_%s", pfx, m[i].suffix);
        /* The reference uses this name twice (also for rcvServicesSubDuplicate
         * above), which makes its file invalid for Prometheus; the second one
         * is renamed here. */
        if (strcmp(metric, SM "rcv_services_sub_duplicate") == 0)
            snprintf(metric, sizeof metric, SM "rcv_services_subs_duplicate");
        snprintf(help, sizeof help, "%s%s%s", m[i].help_a, name, m[i].help_b);
        snprintf(comment, sizeof comment, "%s.%s", pfx, m[i].key);
        sx_kit_prom_one(o, metric, m[i].type, help, v[i], comment);
    }
}

static void services(sx_kit_prom *o, const sx_smp_metrics_in *in)
{
    const int64_t *c = in->d->c;
    sx_kit_prom_put(o, "# Services\n# --------\n");
    sx_kit_prom_one(o, SM "rcv_services_count", "gauge", "The count of receiving services.", in->ent.rcv_services,
                    "rcvServiceCount");
    sx_kit_prom_one(o, SM "rcv_services_queues_count", "gauge",
                    "The count of queues associated with receiving services.",
                    in->ent.rcv_service_queues, "rcv.rcvServiceQueuesCount");
    sx_kit_prom_one(o, SM "ntf_services_count", "gauge", "The count of notification services.", in->ent.ntf_services,
                    "ntfServiceCount");
    sx_kit_prom_one(o, SM "ntf_services_queues_count", "gauge",
                    "The count of queues associated with notification services.",
                    in->ent.ntf_service_queues, "ntfServiceQueuesCount");
    sx_kit_prom_one(o, SM "rcv_services_sub_msg", "counter", "The count of subscribed service queues with messages.",
                    c[SX_SMP_STAT_RCV_SERVICES_SUB_MSG], "rcvServicesSubMsg");
    sx_kit_prom_one(o, SM "rcv_services_sub_duplicate", "counter", "The count of duplicate subscribed service queues.",
                    c[SX_SMP_STAT_RCV_SERVICES_SUB_DUPLICATE], "rcvServicesSubDuplicate");
    service_group(o, &c[SX_SMP_STAT_RCV_SRV_ASSOC_NEW], "rcv", "receiving");
    service_group(o, &c[SX_SMP_STAT_NTF_SRV_ASSOC_NEW], "ntf", "notification");
}

static void sockets(sx_kit_prom *o, const sx_smp_metrics_rt *rt, const uint64_t *v, const char *name, const char *help)
{
    sx_kit_prom_head(o, name, "gauge", help);
    for (size_t i = 0; i < rt->n_ports && i < SX_SMP_METRICS_PORTS; i++) {
        char labels[32];
        snprintf(labels, sizeof labels, "{port=\"%u\"}", (unsigned)rt->port[i]);
        sx_kit_prom_sample(o, name, labels, (int64_t)v[i], NULL);
    }
    sx_kit_prom_put(o, "\n");
}

/* The delivery-to-ACK histogram: a cumulative bucket per second bound
 * seen, with a bucket 60 s before one that follows a gap (as the
 * reference draws them), then +Inf. */
static void ack_histogram(sx_kit_prom *o, const sx_smp_metrics_in *in, int64_t recv_total)
{
    const char *name = SM "delivery_ack_confirmed_time";
    sx_kit_prom_head(o, name, "histogram", "Times to confirm message delivery, only confirmed deliveries");
    sx_kit_prom_put(o, "%s_sum %" PRId64 "%s\n", name, in->ack_sum, o->ts);
    sx_kit_prom_put(o, "%s_count %" PRId64 "%s\n", name, recv_total, o->ts);
    int64_t prev = 0, total = 0;
    for (size_t i = 0; i < SX_SMP_ACK_BUCKETS; i++) {
        if (!in->ack[i])
            continue;
        int64_t sec = sx_smp_ack_bucket_seconds(i);
        if (sec - 60 > prev)
            sx_kit_prom_put(o, "%s_bucket{le=\"%" PRId64 "\"} %" PRId64 "%s\n", name, sec - 60, total, o->ts);
        total += in->ack[i];
        sx_kit_prom_put(o, "%s_bucket{le=\"%" PRId64 "\"} %" PRId64 "%s\n", name, sec, total, o->ts);
        prev = sec;
    }
    sx_kit_prom_put(o, "%s_bucket{le=\"+Inf\"} %" PRId64 "%s\n", name, recv_total, o->ts);
    sx_kit_prom_put(o, "\n");
    static const int64_t lo[] = {0, 60, 300, 1200, 3600}, hi[] = {60, 300, 1200, 3600, INT64_MAX};
    name = SM "delivery_ack_confirmed_count";
    sx_kit_prom_head(o, name, "counter", "Counts for confirmed deliveries");
    for (int p = 0; p < 5; p++) {
        int64_t sum = 0;
        for (size_t i = 0; i < SX_SMP_ACK_BUCKETS; i++) {
            int64_t sec = sx_smp_ack_bucket_seconds(i);
            if (sec >= lo[p] && sec < hi[p])
                sum += in->ack[i];
        }
        char labels[40];
        if (hi[p] <= 3600)
            snprintf(labels, sizeof labels, "{period=\"%" PRId64 "-%" PRId64 "\"}", lo[p], hi[p]);
        else
            snprintf(labels, sizeof labels, "{period=\"%" PRId64 "+\"}", lo[p]);
        sx_kit_prom_sample(o, name, labels, sum, NULL);
    }
    sx_kit_prom_put(o, "\n");
    name = SM "delivery_ack_pending_count";
    sx_kit_prom_head(o, name, "gauge", "Counts for pending delivery");
    for (int p = 0; p < 5; p++) {
        char labels[40];
        if (hi[p] <= 3600)
            snprintf(labels, sizeof labels, "{period=\"%" PRId64 "-%" PRId64 "\"}", lo[p], hi[p]);
        else
            snprintf(labels, sizeof labels, "{period=\"%" PRId64 "+\"}", lo[p]);
        sx_kit_prom_sample(o, name, labels, in->rt.pending[p], NULL);
    }
    sx_kit_prom_put(o, "\n");
}

static void info(sx_kit_prom *o, const sx_smp_metrics_in *in)
{
    const sx_smp_metrics_rt *rt = &in->rt;
    const int64_t *c = in->d->c;
    section(o, "Info", "----");
    /* the reference names its runtime's options here; ours has none */
    sx_kit_prom_head(o, SM "info", "gauge",
                     "Server information. RTS options have to be passed via SMP_RTS_OPTIONS env var");
    sx_kit_prom_put(o, SM "info{version=\"%s\",rts_options=\"\"} 1\n\n", in->version ? in->version : "");
    sockets(o, rt, rt->accepted, SM "sockets_accepted", "Accepted sockets");
    sockets(o, rt, rt->closed, SM "sockets_closed", "Closed sockets");
    sockets(o, rt, rt->active, SM "sockets_active", "Active sockets");
    sockets(o, rt, rt->leaked, SM "sockets_leaked", "Leaked sockets");
    sx_kit_prom_head(o, SM "threads_total", "gauge", "Threads");
    sx_kit_prom_sample(o, SM "threads_total", NULL, rt->threads, NULL);
    sx_kit_prom_put(o, "\n");
    sx_kit_prom_head(o, SM "clients_total", "gauge", "Clients");
    sx_kit_prom_sample(o, SM "clients_total", NULL, rt->clients, NULL);
    sx_kit_prom_put(o, "\n");
    sx_kit_prom_one(o, SM "delivered_total", "gauge", "Total SMP subscriptions with delivered messages",
                    rt->delivered_subs, "delivered.subsCount");
    sx_kit_prom_one(o, SM "delivered_clients_total", "gauge", "Subscribed clients", rt->delivered_clients,
                    "delivered.subClientsCount");
    ack_histogram(o, in, c[SX_SMP_STAT_MSG_RECV] + c[SX_SMP_STAT_MSG_RECV_GET]);
    sx_kit_prom_one(o, SM "delivery_ack_time_max", "gauge", "Max time to confirm message delivery", rt->pending_max,
                    "delivered.maxTime");
    sx_kit_prom_one(o, SM "subscribtion_total", "gauge", "Total SMP subscriptions", rt->smp_subs, "smp.subsCount");
    sx_kit_prom_one(o, SM "subscribtion_clients_total", "gauge", "Subscribed clients", rt->smp_sub_clients,
                    "smp.subClientsCount");
    sx_kit_prom_one(o, SM "subscribtion_services_total", "gauge", "Subscribed services, first counting method", 0,
                    "smp.subServicesCount");
    sx_kit_prom_one(o, SM "subscription_ntf_total", "gauge", "Total notification subscripbtions (from ntf server)",
                    rt->ntf_subs, "ntf.subsCount");
    sx_kit_prom_one(o, SM "subscription_ntf_clients_total", "gauge", "Total subscribed NTF servers",
                    rt->ntf_sub_clients, "ntf.subClientsCount");
    sx_kit_prom_one(o, SM "subscribtion_nts_services_total", "gauge", "Subscribed NTF services, first counting method",
                    0, "ntf.subServicesCount");
    sx_kit_prom_one(o, SM "loaded_queues_queue_count", "gauge",
                    "Total loaded queues count (all queues for memory/journal storage)", rt->loaded_queues,
                    "loadedCounts.loadedQueueCount");
    sx_kit_prom_one(o, SM "loaded_queues_ntf_count", "gauge",
                    "Total loaded ntf credential references (all ntf credentials for memory/journal storage)",
                    rt->loaded_notifiers, "loadedCounts.loadedNotifierCount");
    sx_kit_prom_one(o, SM "loaded_queues_open_journal_count", "gauge",
                    "Total opened queue journals (0 for memory storage)", 0,
                    "loadedCounts.openJournalCount");
    sx_kit_prom_one(o, SM "loaded_queues_queue_lock_count", "gauge", "Total queue locks (0 for memory storage)", 0,
                    "loadedCounts.queueLockCount");
    sx_kit_prom_head(o, SM "loaded_queues_ntf_lock_count", "gauge",
                     "Total notifier locks (0 for memory/journal storage)");
    sx_kit_prom_sample(o, SM "loaded_queues_ntf_lock_count", NULL, 0, "loadedCounts.notifierLockCount");
}

sx_status sx_smp_metrics_text(const sx_smp_metrics_in *in, char **text, size_t *text_len)
{
    SX_ENSURE(in && in->d && in->ack && text, SX_E_USAGE);
    *text = NULL;
    sx_kit_prom o;
    sx_kit_prom_begin(&o, (size_t)16 << 20, in->now_ms, in->d->from_time);
    queues(&o, in);
    subscriptions(&o, in);
    messages(&o, in);
    ntfs(&o, in);
    relays(&o, in);
    services(&o, in);
    info(&o, in);
    return sx_kit_prom_finish(&o, text, text_len);
}
