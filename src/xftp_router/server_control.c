/* The XFTP router's control port (PROTOCOL-NOTES F29a; reference
 * FileTransfer/Server.hs runCPServer, Server/Control.hs): its commands on
 * the kit's line server (kit/ctlport.h): auth, stats-rts, delete <rId>,
 * block <rId> <info>, help, quit. */
#include "xftp_router/server_control.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kit/ctlline.h"
#include "kit/ctlport.h"
#include "xftp_router/server_int.h"

struct xs_control {
    sx_xftp_server *s;
    sx_xftp_fstore *store;
    sx_kit_ctl *port;
};

void xs_cp_parse(const char *s, size_t len, xs_cp_cmd *out)
{
    memset(out, 0, sizeof *out);
    sx_kit_line l;
    sx_kit_line_init(&l, s, len);
    sx_slice w = sx_kit_line_word(&l);
    const char *error = NULL;
    bool block = sx_kit_line_word_is(w, "block");
    if (sx_kit_line_word_is(w, "auth")) {
        out->kind = XS_CP_AUTH;
        error = sx_kit_line_auth_arg(&l, &out->password);
    } else if (block || sx_kit_line_word_is(w, "delete")) {
        out->kind = block ? XS_CP_BLOCK : XS_CP_DELETE;
        error = sx_kit_line_b64url_arg(&l, out->id, sizeof out->id, &out->id_len);
        if (!error && block) {
            if (!sx_kit_line_space(&l)) {
                error = "space";
            } else {
                sx_reader rd;
                sx_reader_init(&rd, (const uint8_t *)s + l.pos, len - l.pos);
                if (!sx_smp_blocking_info_read(&rd, &out->info))
                    error = "Failed reading: bad BlockingInfo";
                l.pos = len;
            }
        }
    } else if (sx_kit_line_word_is(w, "stats-rts")) {
        out->kind = XS_CP_STATS_RTS;
    } else if (sx_kit_line_word_is(w, "help")) {
        out->kind = XS_CP_HELP;
    } else if (sx_kit_line_word_is(w, "quit")) {
        out->kind = XS_CP_QUIT;
    } else if (w.len != 0) {
        error = "Failed reading: bad ControlProtocol command";
    }
    if (!error && !sx_kit_line_at_end(&l))
        error = "endOfInput";
    if (error) {
        memset(out, 0, sizeof *out);
        out->kind = XS_CP_ERROR;
        out->error = error;
    }
    out->loggable = out->kind == XS_CP_STATS_RTS || out->kind == XS_CP_DELETE || out->kind == XS_CP_BLOCK;
}

static void cmd_file(xs_control *cp, sx_kit_ctl_conn *c, const xs_cp_cmd *cmd)
{
    if (!sx_kit_ctl_allow(c, SX_KIT_CTL_USER))
        return;
    sx_xftp_frec rec;
    sx_xftp_rkey rkey;
    uint64_t seq = 0;
    sx_status st = sx_xftp_fstore_get_recipient(cp->store, sx_slice_of(cmd->id, cmd->id_len), &rec, &rkey);
    if (st == SX_OK)
        st = cmd->kind == XS_CP_BLOCK ? sx_xftp_fstore_block(cp->store, rec.sender_id, &cmd->info, &seq)
                                      : sx_xftp_fstore_delete(cp->store, rec.sender_id, &seq);
    if (st == SX_OK) /* "ok" once the record is in the store log (this thread may wait) */
        st = sx_xftp_fstore_wait_durable(cp->store, seq);
    if (st == SX_OK) {
        xs_stats_removed(cp->s, &rec, cmd->kind == XS_CP_BLOCK ? SX_XFTP_STAT_FILES_BLOCKED : SX_XFTP_STAT_FILES_DELETED);
        sx_kit_ctl_say(c, "ok");
    }
    else
        sx_kit_ctl_say(c, "error: %s", st == SX_E_AUTH ? "AUTH" : st == SX_E_IO ? "FILE_IO" : "INTERNAL");
}

/* One line without its terminator (the kit's on_line). */
static void run_line(void *arg, sx_kit_ctl_conn *c, const char *s, size_t len)
{
    xs_control *cp = arg;
    xs_cp_cmd cmd;
    xs_cp_parse(s, len, &cmd);
    if (cmd.loggable)
        sx_kit_ctl_log(c, s, len);
    switch (cmd.kind) {
    case XS_CP_EMPTY: break;
    case XS_CP_ERROR: sx_kit_ctl_say(c, "error: %s", cmd.error); break;
    case XS_CP_AUTH: sx_kit_ctl_auth(c, cmd.password); break;
    case XS_CP_DELETE:
    case XS_CP_BLOCK: cmd_file(cp, c, &cmd); break;
    case XS_CP_STATS_RTS: sx_kit_ctl_say(c, "stats-rts not available"); break; /* the reference prints its runtime's statistics */
    case XS_CP_HELP: sx_kit_ctl_say(c, "commands: stats-rts, delete, help, quit"); break;
    case XS_CP_QUIT: sx_kit_ctl_quit(c); break;
    }
}

sx_status xs_control_start(sx_xftp_server *s, sx_xftp_fstore *store, const sx_xftp_server_opts *o,
                           xs_control **out)
{
    *out = NULL;
    xs_control *cp = calloc(1, sizeof *cp);
    if (!cp)
        return SX_E_NOMEM;
    cp->s = s;
    cp->store = store;
    sx_kit_ctl_opts ko = {
        .greeting = "XFTP server control port",
        .port = o->control_port,
        .user_password = o->control_user_password,
        .admin_password = o->control_admin_password,
        .quiet = o->quiet,
        .on_line = run_line,
        .arg = cp,
    };
    sx_status st = sx_kit_ctl_start(&ko, &cp->port);
    if (st != SX_OK) {
        free(cp);
        return st;
    }
    *out = cp;
    return SX_OK;
}

uint16_t xs_control_port(const xs_control *cp)
{
    return cp ? sx_kit_ctl_port(cp->port) : 0;
}

void xs_control_stop(xs_control *cp)
{
    if (!cp)
        return;
    sx_kit_ctl_stop(cp->port);
    free(cp);
}
