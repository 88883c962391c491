/* The XFTP router's control port (PROTOCOL-NOTES F29a; reference
 * FileTransfer/Server.hs runCPServer, Server/Control.hs): one thread polls
 * a 127.0.0.1 listener and a few operator connections, one command per
 * line: auth, stats-rts, delete <rId>, block <rId> <info>, help, quit. */
#include "xftp_router/server_control.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/base64.h"
#include "crypto/util.h"
#include "transport/net.h"
#include "xftp_router/server_int.h"

#define CP_MAX_CONNS 16
#define CP_LINE_MAX XS_CP_LINE_MAX

typedef enum cp_role { CP_NONE = 0, CP_USER, CP_ADMIN } cp_role;

typedef struct cp_conn {
    int fd;
    cp_role role;
    bool closing;
    char in[CP_LINE_MAX];
    size_t in_len;
} cp_conn;

struct xs_control {
    sx_xftp_server *s;
    sx_xftp_fstore *store;
    const sx_xftp_server_opts *o;
    pthread_t thread;
    int listen_fd;
    int wake[2];
    uint16_t port;
    cp_conn conns[CP_MAX_CONNS];
};

static void say(cp_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(cp_conn *c, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof buf - 1 ? (size_t)n : sizeof buf - 2;
    buf[len++] = '\n';
    /* Answers are short: a socket that cannot take one ends the session. */
    size_t off = 0;
    while (off < len) {
        ssize_t w = send(c->fd, buf + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            c->closing = true;
            return;
        }
        off += (size_t)w;
    }
}

static const char *role_name(cp_role r)
{
    return r == CP_ADMIN ? "CPRAdmin" : r == CP_USER ? "CPRUser" : "CPRNone";
}

static bool password_is(const char *configured, const char *given, size_t n)
{
    return configured && sx_ct_equal(sx_slice_of(configured, strlen(configured)), sx_slice_of(given, n));
}

static void cmd_auth(xs_control *cp, cp_conn *c, const char *pw, size_t n)
{
    cp_role role = password_is(cp->o->control_admin_password, pw, n)  ? CP_ADMIN
                   : password_is(cp->o->control_user_password, pw, n) ? CP_USER
                                                                      : CP_NONE;
    if (c->role == CP_NONE) {
        c->role = role;
        say(c, "Current role is %s", role_name(role));
    } else {
        say(c, "Current role is %s%s", role_name(c->role), c->role == role ? "" : ", start new session to change.");
    }
}

static bool b64url_char(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
           ch == '_';
}

/* "delete <rId>" / "block <rId> <info>": args points after the word.
 * Returns the error message, NULL when the line parses. */
static const char *parse_file(xs_cp_cmd *out, bool block, const char *args, size_t n)
{
    if (n == 0 || args[0] != ' ')
        return "space";
    size_t pos = 1, start = 1;
    while (pos < n && b64url_char(args[pos]))
        pos++;
    if (pos == start)
        return "Failed reading: takeWhile1";
    while (pos < n && args[pos] == '=')
        pos++;
    if (sx_b64_decode(args + start, pos - start, SX_B64_URL, out->id, sizeof out->id, &out->id_len) != SX_OK) {
        out->id_len = 0;
        return "Failed reading: invalid base64url";
    }
    if (block) {
        if (pos >= n || args[pos] != ' ')
            return "space";
        sx_reader rd;
        sx_reader_init(&rd, (const uint8_t *)args + pos + 1, n - pos - 1);
        if (!sx_smp_blocking_info_read(&rd, &out->info))
            return "Failed reading: bad BlockingInfo";
        pos = n;
    }
    if (pos != n)
        return "endOfInput";
    out->kind = block ? XS_CP_BLOCK : XS_CP_DELETE;
    return NULL;
}

static bool word_is(const char *w, size_t n, const char *s)
{
    return strlen(s) == n && memcmp(w, s, n) == 0;
}

void xs_cp_parse(const char *s, size_t len, xs_cp_cmd *out)
{
    memset(out, 0, sizeof *out);
    size_t wn = 0;
    while (wn < len && s[wn] != ' ')
        wn++;
    bool loggable = !(word_is(s, wn, "auth") || word_is(s, wn, "help") || word_is(s, wn, "quit") || wn == 0);
    const char *error = NULL;
    if (word_is(s, wn, "auth")) {
        if (wn + 1 >= len || s[wn] != ' ') {
            error = "space";
        } else {
            out->kind = XS_CP_AUTH;
            out->password = sx_slice_of(s + wn + 1, len - wn - 1);
        }
    } else if (word_is(s, wn, "delete") || word_is(s, wn, "block")) {
        error = parse_file(out, word_is(s, wn, "block"), s + wn, len - wn);
    } else if (wn != len && (word_is(s, wn, "stats-rts") || word_is(s, wn, "help") || word_is(s, wn, "quit"))) {
        error = "endOfInput";
    } else if (word_is(s, wn, "stats-rts")) {
        out->kind = XS_CP_STATS_RTS;
    } else if (word_is(s, wn, "help")) {
        out->kind = XS_CP_HELP;
    } else if (word_is(s, wn, "quit")) {
        out->kind = XS_CP_QUIT;
    } else if (wn != 0) {
        error = "Failed reading: bad ControlProtocol command";
    }
    if (error) {
        memset(out, 0, sizeof *out);
        out->kind = XS_CP_ERROR;
        out->error = error;
    }
    out->loggable = loggable;
}

static void cmd_file(xs_control *cp, cp_conn *c, const xs_cp_cmd *cmd)
{
    if (c->role == CP_NONE) {
        if (!cp->o->quiet)
            fprintf(stderr, "Unauthorized control port command\n");
        say(c, "AUTH");
        return;
    }
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
        say(c, "ok");
    }
    else
        say(c, "error: %s", st == SX_E_AUTH ? "AUTH" : st == SX_E_IO ? "FILE_IO" : "INTERNAL");
}

static void run_line(xs_control *cp, cp_conn *c, const char *s, size_t len)
{
    xs_cp_cmd cmd;
    xs_cp_parse(s, len, &cmd);
    if (cmd.loggable && !cp->o->quiet)
        fprintf(stderr, "ControlPort: %.*s\n", (int)len, s);
    switch (cmd.kind) {
    case XS_CP_EMPTY: break;
    case XS_CP_ERROR: say(c, "error: %s", cmd.error); break;
    case XS_CP_AUTH: cmd_auth(cp, c, (const char *)cmd.password.ptr, cmd.password.len); break;
    case XS_CP_DELETE:
    case XS_CP_BLOCK: cmd_file(cp, c, &cmd); break;
    case XS_CP_STATS_RTS: say(c, "stats-rts not available"); break; /* the reference prints its runtime's statistics */
    case XS_CP_HELP: say(c, "commands: stats-rts, delete, help, quit"); break;
    case XS_CP_QUIT: c->closing = true; break;
    }
}

static void conn_read(xs_control *cp, cp_conn *c)
{
    ssize_t r = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r <= 0) {
        c->closing = true;
        return;
    }
    c->in_len += (size_t)r;
    size_t start = 0;
    for (size_t i = 0; i < c->in_len && !c->closing; i++) {
        if (c->in[i] != '\n')
            continue;
        size_t end = i;
        if (end > start && c->in[end - 1] == '\r')
            end--;
        run_line(cp, c, c->in + start, end - start);
        start = i + 1;
    }
    memmove(c->in, c->in + start, c->in_len - start);
    c->in_len -= start;
    if (c->in_len == sizeof c->in)
        c->closing = true; /* an over-long line */
}

static void *control_main(void *arg)
{
    xs_control *cp = arg;
    for (;;) {
        struct pollfd pf[CP_MAX_CONNS + 2];
        int map[CP_MAX_CONNS + 2];
        nfds_t n = 0;
        pf[n].fd = cp->wake[0];
        pf[n++].events = POLLIN;
        pf[n].fd = cp->listen_fd;
        pf[n++].events = POLLIN;
        for (int i = 0; i < CP_MAX_CONNS; i++) {
            if (cp->conns[i].fd < 0)
                continue;
            map[n] = i;
            pf[n].fd = cp->conns[i].fd;
            pf[n++].events = POLLIN;
        }
        if (poll(pf, n, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pf[0].revents)
            break;
        for (nfds_t k = 2; k < n; k++) {
            cp_conn *c = &cp->conns[map[k]];
            if (pf[k].revents)
                conn_read(cp, c);
            if (c->closing) {
                sx_net_close(c->fd);
                c->fd = -1;
            }
        }
        if (pf[1].revents & POLLIN) {
            int fd;
            if (sx_net_accept(cp->listen_fd, 0, &fd) != SX_OK)
                continue;
            cp_conn *c = NULL;
            for (int i = 0; i < CP_MAX_CONNS && !c; i++)
                if (cp->conns[i].fd < 0)
                    c = &cp->conns[i];
            if (!c) {
                sx_net_close(fd);
                continue;
            }
            memset(c, 0, sizeof *c);
            c->fd = fd;
            say(c, "XFTP server control port\n'help' for supported commands");
            if (c->closing) {
                sx_net_close(c->fd);
                c->fd = -1;
            }
        }
    }
    return NULL;
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
    cp->o = o;
    cp->wake[0] = cp->wake[1] = -1;
    for (int i = 0; i < CP_MAX_CONNS; i++)
        cp->conns[i].fd = -1;
    sx_status st = sx_net_listen("127.0.0.1", o->control_port, 16, &cp->listen_fd, &cp->port);
    if (st != SX_OK) {
        free(cp);
        return SX_E_IO;
    }
    if (pipe(cp->wake) != 0 || pthread_create(&cp->thread, NULL, control_main, cp) != 0) {
        if (cp->wake[0] >= 0) {
            close(cp->wake[0]);
            close(cp->wake[1]);
        }
        sx_net_close(cp->listen_fd);
        free(cp);
        return SX_E_INTERNAL;
    }
    *out = cp;
    return SX_OK;
}

uint16_t xs_control_port(const xs_control *cp)
{
    return cp ? cp->port : 0;
}

void xs_control_stop(xs_control *cp)
{
    if (!cp)
        return;
    char b = 1;
    while (write(cp->wake[1], &b, 1) < 0 && errno == EINTR)
        ;
    pthread_join(cp->thread, NULL);
    for (int i = 0; i < CP_MAX_CONNS; i++)
        if (cp->conns[i].fd >= 0)
            sx_net_close(cp->conns[i].fd);
    sx_net_close(cp->listen_fd);
    close(cp->wake[0]);
    close(cp->wake[1]);
    free(cp);
}
