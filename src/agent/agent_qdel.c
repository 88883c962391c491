/* Deleting our receiving queues on their routers (docs/AGENT.md, "Deleting
 * connections"): a DEL the router answered (or refused for good) drops the
 * queue's row; one that could not reach the router keeps the row, its
 * connection marked deleted, and an RDEL command (agent_cmds.c) tries again
 * with the commands' back-off, also in the next process, as the
 * reference's cleanup manager does for queues marked deleted. After the
 * reference's deleteErrorCount failures in all (opts.delete_error_count)
 * the row goes anyway with the last error. A retry's outcome is a DEL_RCVQ
 * event; the connection goes once its last queue is gone (DEL_CONN),
 * unless it waits for deliveries (agent_delwait.c finishes it then). */
#include "agent/agent_int.h"
#include "agent/agent_cmds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "crypto/util.h"

#define QDEL_V 1

static unsigned max_errors(const sx_agent *a)
{
    return a->opts.delete_error_count ? a->opts.delete_error_count : 10;
}

static bool temporary(sx_status st)
{
    return st == SX_E_IO || st == SX_E_CLOSED || st == SX_E_WOULD_BLOCK;
}

static void emit_del_rcvq(sx_agent *a, const sx_agent_rcv_queue *row, sx_status st)
{
    sx_agent_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = SX_AGENT_EV_DEL_RCVQ;
    sx_agent_id_text(&row->conn_id, ev.conn);
    ev.status = st;
    if (st != SX_OK)
        snprintf(ev.detail, sizeof ev.detail, "%.250s", sx_error_message());
    sx_status tst = sx_agent_server_text(a, row->server_id, ev.server, sizeof ev.server);
    (void)tst; /* the event goes without the address */
    sx_agent_emit_ev(a, &ev);
}

sx_status sx_agent_rq_del_router(sx_agent *a, const sx_agent_rcv_queue *row)
{
    sx_agent_rq *mem = sx_agent_rq_held(a, &row->conn_id, row->queue_id);
    sx_smp_queue *own = NULL;
    sx_status st = mem ? SX_OK : sx_agent_rq_object(a, row, &own);
    if (st == SX_OK)
        st = sx_smp_tpool_delete(a->pool, mem ? mem->q : own);
    sx_smp_queue_free(own);
    if (mem) {
        mem->gone = true;
        mem->has_pending = false;
    }
    return st;
}

static sx_status qdel_store(sx_agent *a, const sx_agent_id *conn, int64_t rqid, uint8_t errors,
                            int64_t *cmd)
{
    sx_writer w;
    sx_writer_init_dynamic(&w, 16);
    if (sx_write_u8(&w, QDEL_V) && sx_write_i64(&w, rqid))
        (void)sx_write_u8(&w, errors);
    return sx_agent_cmd_store(a, conn, SX_AGENT_CMD_QDEL, &w, cmd);
}

sx_status sx_agent_rq_delete(sx_agent *a, const sx_agent_rcv_queue *row, bool event, bool *kept)
{
    *kept = false;
    sx_status st = sx_agent_rq_del_router(a, row);
    if (temporary(st) && 1 < max_errors(a)) {
        int64_t cmd = 0;
        SX_TRY(qdel_store(a, &row->conn_id, row->queue_id, 1, &cmd));
        if (cmd != 0) {
            sx_agent_cmd_defer(a, cmd);
            *kept = true;
            return SX_OK;
        }
    }
    if (event)
        emit_del_rcvq(a, row, st);
    /* The router may keep the queue (the error above); ours goes anyway. */
    return sx_agent_store_rcv_queue_delete(a->store, row->queue_id);
}

sx_status sx_agent_conn_rqs_delete(sx_agent *a, const sx_agent_id *conn, bool event, bool *any_kept)
{
    sx_agent_rcv_queue *rqs = NULL;
    size_t nr = 0;
    SX_TRY(sx_agent_store_rcv_queue_list(a->store, conn, &rqs, &nr));
    sx_status st = SX_OK;
    for (size_t i = 0; i < nr && st == SX_OK; i++) {
        bool kept = false;
        st = sx_agent_rq_delete(a, &rqs[i], event, &kept);
        *any_kept = *any_kept || kept;
    }
    if (rqs)
        sx_wipe(rqs, nr * sizeof *rqs);
    free(rqs);
    return st;
}

/* The connection of a retried queue, once its last queue is gone: deleted
 * now (DEL_CONN), unless it waits for deliveries (agent_delwait.c). */
static sx_status conn_done(sx_agent *a, const sx_agent_id *conn)
{
    for (size_t i = 0; i < a->n_delw; i++)
        if (memcmp(a->delw[i].conn.b, conn->b, sizeof conn->b) == 0)
            return SX_OK;
    sx_agent_rcv_queue *rqs = NULL;
    size_t nr = 0;
    SX_TRY(sx_agent_store_rcv_queue_list(a->store, conn, &rqs, &nr));
    if (rqs)
        sx_wipe(rqs, nr * sizeof *rqs);
    free(rqs);
    if (nr > 0)
        return SX_OK;
    SX_TRY(sx_agent_store_conn_delete(a->store, conn));
    sx_agent_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = SX_AGENT_EV_DEL_CONN;
    sx_agent_id_text(conn, ev.conn);
    sx_agent_emit_ev(a, &ev);
    return SX_OK;
}

sx_status sx_agent_qdel_run(sx_agent *a, const sx_agent_command *c)
{
    sx_reader rd;
    sx_reader_init(&rd, c->body.ptr, c->body.len);
    uint8_t v = 0, errors = 0;
    int64_t rqid = 0;
    if (!sx_read_u8(&rd, &v) || v != QDEL_V || !sx_read_i64(&rd, &rqid) ||
        !sx_read_u8(&rd, &errors) || rd.off != rd.len)
        return sx_error_set(SX_E_PROTOCOL, NULL, "agent: a stored command does not decode");
    sx_agent_rcv_queue row;
    sx_status st = sx_agent_store_rcv_queue_get(a->store, rqid, &row);
    if (st != SX_OK) {
        /* the queue went another way (its connection deleted again) */
        sx_error_clear();
        return sx_agent_store_cmd_complete(a->store, c->command_id);
    }
    st = sx_agent_rq_del_router(a, &row);
    if (temporary(st) && (unsigned)errors + 1 < max_errors(a)) {
        /* counted in the command's body, for the next process too */
        sx_writer w;
        uint8_t b[16];
        sx_writer_init_fixed(&w, b, sizeof b);
        if (sx_write_u8(&w, QDEL_V) && sx_write_i64(&w, rqid) &&
            sx_write_u8(&w, (uint8_t)(errors + 1))) {
            sx_status bst = sx_agent_cmd_set_body(a, c->command_id, sx_writer_slice(&w));
            (void)bst; /* one count too few at worst */
        }
        sx_wipe(&row, sizeof row);
        return SX_E_IO; /* kept, tried again after the back-off */
    }
    emit_del_rcvq(a, &row, st);
    sx_agent_id conn = row.conn_id;
    sx_wipe(&row, sizeof row);
    SX_TRY(sx_agent_store_begin(a->store));
    st = sx_agent_store_rcv_queue_delete(a->store, rqid);
    if (st == SX_OK)
        st = sx_agent_store_cmd_complete(a->store, c->command_id);
    if (st == SX_OK)
        st = sx_agent_store_commit(a->store);
    else
        sx_agent_store_rollback(a->store);
    SX_TRY(st);
    return conn_done(a, &conn);
}
