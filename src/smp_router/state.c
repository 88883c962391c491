/* SMP router: its state across restarts. At start the store log is replayed
 * (and compacted) and the undelivered messages and pending notifications
 * saved at the last stop are restored; at stop they are saved again. */
#include "smp_router/server_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "core/base64.h"
#include "crypto/util.h"
#include "smp_router/msgjournal.h"
#include "smp_router/pglazy.h"
#include "smp_router/pgschema.h"
#include "smp_router/pgmsgs.h"
#include "smp_router/pgqueues.h"
#include "smp_router/store_journal.h"
#include "smp_router/msglog.h"
#include "smp_router/ntflog.h"
#include "kit/say.h"

static sx_status restore_ntfs(sx_router *r);

/* PROTOCOL-NOTES E26, E27: replays and compacts the store log, then restores
 * the messages saved at the last stop. */
static void journal_warn(void *arg, const char *msg)
{
    (void)arg;
    SX_SAY(SX_SAY_WARN, "%s", msg);
}

/* store_queues: database: the schema migrated, the rows of queues deleted
 * long ago removed, the services read, and the queues read on demand
 * (pglazy.h). */
static sx_status restore_db(sx_router *r)
{
    const sx_router_opts *o = &r->opts;
    sx_pgdb_cfg dc = {
        .conninfo = o->db_connection,
        .schema = o->db_schema ? o->db_schema : SX_PGDB_DEFAULT_SCHEMA,
        .pool_size = o->db_pool_size > 0 ? o->db_pool_size : SX_PGDB_DEFAULT_POOL,
        .migrate = true,
    };
    sx_pg_smp_cfg(&dc);
    char err[700];
    sx_status st = sx_pgdb_open(&dc, &r->db, err, sizeof err);
    if (st != SX_OK) {
        SX_SAY(SX_SAY_ERROR, "Error: %s", err);
        return st;
    }
    int64_t ttl = o->db_deleted_ttl > 0 ? o->db_deleted_ttl : 21 * 86400;
    int64_t purged = 0;
    SX_TRY(sx_pgq_purge_deleted(r->db, (int64_t)time(NULL) - ttl, &purged));
    SX_TRY(sx_slservices_new(&r->svc));
    sx_kit_log_opts lo = {0};
    sx_pgq_stats ps = {0};
    /* as the reference: queues are read when first used (pglazy.h) */
    SX_TRY(sx_pglazy_start(r->db, r->store, r->svc, &lo, &ps));
    int64_t nq = 0, nn = 0, nm = 0;
    if (sx_pglazy_counts(r->db, &nq, &nn, &nm) != SX_OK)
        nq = -1;
    if (!o->quiet)
        SX_SAY(SX_SAY_NOTE, "Database: %lld queues (read when used) and %zu services%s", (long long)nq, ps.services,
               ps.bad_rows ? " (some rows skipped)" : "");
    if (o->db_messages) {
        sx_store_use_pg_messages(r->store, r->db);
        if (!o->quiet)
            SX_SAY(SX_SAY_NOTE, "Messages: database store (committed before each OK)");
    }
    return SX_OK;
}

sx_status sx_server_restore_state(sx_router *r)
{
    const sx_router_opts *o = &r->opts;
    if (o->db_connection)
        SX_TRY(restore_db(r));
    if (o->store_log_path && !o->db_connection) {
        SX_TRY(sx_slservices_new(&r->svc));
        sx_kit_log_opts lo = {0};
        lo.sync = o->store_log_sync ? SX_KIT_SYNC_BATCH : SX_KIT_SYNC_NEVER;
        sx_slreplay_stats stats = {0};
        SX_TRY(sx_storelog_start(o->store_log_path, r->store, r->svc, &lo, &stats, &r->log));
        if (!o->quiet)
            SX_SAY(SX_SAY_NOTE, "Store log: %zu queues restored", sx_store_queue_count(r->store));
    }
    if (o->msgs_dir_path) {
        sx_jstore_cfg jc;
        sx_jstore_cfg_default(&jc, o->msgs_dir_path);
        jc.sync = o->msgs_dir_fsync ? SX_JSYNC_FSYNC : SX_JSYNC_WRITE;
        if (o->msg_check_interval > 0)
            jc.idle_interval = o->msg_check_interval;
        jc.warn = journal_warn;
        /* up to 3 descriptors per open queue, within the process's limit
         * (a quarter of it left for connections and logs) */
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
            size_t fit = (size_t)(rl.rlim_cur / 4 * 3 / 3);
            if (fit < jc.max_open)
                jc.max_open = fit > 16 ? fit : 16;
        }
        sx_jstore *js;
        sx_status st = sx_jstore_open(&jc, &js);
        if (st != SX_OK) {
            SX_SAY(SX_SAY_ERROR, "Error opening the journal message store %s: %s", o->msgs_dir_path,
                   sx_status_str(st));
            return st;
        }
        sx_store_use_journal(r->store, js);
        if (!o->quiet)
            SX_SAY(SX_SAY_NOTE, "Messages: journal store in %s (%s)", o->msgs_dir_path,
                   o->msgs_dir_fsync ? "fsync on every write" : "written before each OK, no fsync");
    }
    if (o->msgs_log_path) {
        sx_msglog_opts mo = {0};
        if (o->msg_ttl_seconds > 0) {
            mo.expire = true;
            mo.expire_before = (int64_t)time(NULL) - o->msg_ttl_seconds;
        }
        mo.skip_warnings = o->skip_warnings;
        sx_msglog_stats ms = {0};
        sx_msgjournal_stats js = {0};
        sx_status st;
        if (o->msgs_journal_path) {
            sx_msgjournal_paths jp = {.journal = o->msgs_journal_path, .msgs_log = o->msgs_log_path};
            sx_kit_log_opts lo = {0};
            lo.sync = o->store_log_sync ? SX_KIT_SYNC_BATCH : SX_KIT_SYNC_NEVER;
            st = sx_msgjournal_start(&jp, r->store, &mo, &lo, &ms, &js, &r->mlog);
        } else {
            st = sx_msglog_restore(o->msgs_log_path, r->store, &mo, &ms);
        }
        if (st != SX_OK) {
            SX_SAY(SX_SAY_ERROR, "Error restoring messages from %s: %s", o->msgs_log_path, sx_status_str(st));
            return st;
        }
        r->expired_at_start += (int64_t)(ms.expired + js.expired); /* statistics (ops.c) */
        if (!o->quiet && (ms.stored || ms.expired || ms.dropped))
            SX_SAY(SX_SAY_NOTE, "Messages restored: %zu stored, %zu expired, %zu dropped", ms.stored, ms.expired,
                   ms.dropped);
        if (!o->quiet && js.lines)
            SX_SAY(SX_SAY_NOTE,
                   "Message journal replayed: %zu records, %zu messages stored, %zu acknowledged, %zu expired, "
                   "%zu dropped, %zu of deleted queues, %zu unreadable lines skipped",
                   js.lines, js.stored, js.acked, js.expired, js.dropped, js.unknown, js.bad_lines);
    }
    if (o->ntfs_log_path)
        SX_TRY(restore_ntfs(r));
    return SX_OK;
}

typedef struct ntf_collect {
    sx_ntf_list *list;
    sx_status st;
} ntf_collect;

static void collect_ntfs(sx_queue *q, void *arg)
{
    ntf_collect *c = arg;
    for (sx_pending_ntf *e = q->side ? q->side->ntf_head : NULL; e && sx_queue_notifier(q) && c->st == SX_OK; e = e->next) {
        sx_ntfrec n = {0};
        memcpy(n.nid, sx_queue_notifier(q)->id, SX_ID_LEN);
        memcpy(n.msg_id, e->msg_id, SX_ID_LEN);
        n.ts = e->ts;
        memcpy(n.nonce, e->nonce, sizeof n.nonce);
        n.meta = sx_slice_of(e->meta, sizeof e->meta);
        c->st = sx_ntf_list_add(c->list, &n);
    }
}

/* PROTOCOL-NOTES E28: notifications restored into their queues' pending
 * lists. */
static sx_status restore_ntfs(sx_router *r)
{
    const sx_router_opts *o = &r->opts;
    sx_ntf_list list;
    sx_ntf_list_init(&list);
    sx_msglog_opts mo = {0};
    mo.expire = true;
    mo.expire_before = (int64_t)time(NULL) - (o->ntf_ttl_seconds > 0 ? o->ntf_ttl_seconds : 86400);
    sx_msglog_stats ms = {0};
    sx_status st = sx_ntflog_restore(o->ntfs_log_path, &mo, &list, &ms);
    r->ntfs_expired_at_start += (int64_t)ms.expired; /* statistics (ops.c) */
    for (size_t i = 0; st == SX_OK && i < list.n; i++) {
        const sx_ntfrec *n = &list.items[i];
        sx_queue *q = sx_store_find(r->store, SX_PARTY_NOTIFIER, sx_slice_of(n->nid, SX_ID_LEN));
        if (!q)
            continue; /* the notifier is gone: its notifications go too */
        sx_pending_ntf p = {0};
        p.ts = n->ts;
        memcpy(p.msg_id, n->msg_id, SX_ID_LEN);
        memcpy(p.nonce, n->nonce, sizeof p.nonce);
        if (n->meta.len == sizeof p.meta) {
            memcpy(p.meta, n->meta.ptr, sizeof p.meta);
            st = sx_queue_add_ntf(q, &p);
        }
        sx_queue_release(r->store, q);
    }
    sx_ntf_list_cleanup(&list);
    if (st != SX_OK)
        SX_SAY(SX_SAY_ERROR, "Error restoring notifications from %s: %s", o->ntfs_log_path, sx_status_str(st));
    return st;
}

/* PROTOCOL-NOTES E27, E28: saves undelivered messages and pending notifications
 * when the router stops (all workers have stopped, nothing else touches the
 * store). */
sx_status sx_server_save_state(sx_router *r)
{
    sx_status res = SX_OK;
    if (r->opts.ntfs_log_path) {
        sx_ntf_list list;
        sx_ntf_list_init(&list);
        ntf_collect c = {&list, SX_OK};
        if (sx_store_each(r->store, collect_ntfs, &c) != SX_OK)
            c.st = SX_E_NOMEM;
        sx_status st = c.st == SX_OK ? sx_ntflog_save(r->opts.ntfs_log_path, &list) : c.st;
        if (st != SX_OK) {
            SX_SAY(SX_SAY_ERROR, "Error saving notifications to %s: %s", r->opts.ntfs_log_path, sx_status_str(st));
            res = SX_E_IO;
        }
        sx_ntf_list_cleanup(&list);
    }
    if (!r->opts.msgs_log_path)
        return res;
    size_t saved = 0;
    sx_status st = sx_msglog_save(r->opts.msgs_log_path, r->store, &saved);
    if (st != SX_OK) {
        SX_SAY(SX_SAY_ERROR, "Error saving messages to %s: %s", r->opts.msgs_log_path, sx_status_str(st));
        if (r->mlog)
            SX_SAY(SX_SAY_WARN, "The message journal %s is kept: the next start replays it", r->opts.msgs_journal_path);
        return SX_E_IO;
    }
    if (!r->opts.quiet)
        SX_SAY(SX_SAY_NOTE, "Saved %zu messages to %s", saved, r->opts.msgs_log_path);
    if (r->mlog) {
        /* Every message is in smp-server-messages.log now: the journal goes, so that
         * the reference can take the files over. */
        sx_kit_log_close(r->mlog);
        r->mlog = NULL;
        sx_msgjournal_remove(r->opts.msgs_journal_path);
    }
    return res;
}
