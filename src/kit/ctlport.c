/* Router kit: the control port's line server (see ctlport.h). One thread
 * runs an event loop with the listener and the connections; each connection
 * keeps its unfinished input line and its unsent answers. */
#include "kit/ctlport.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <string.h>
#include <sys/socket.h>

#include "core/loop.h"
#include "crypto/util.h"
#include "transport/net.h"
#include "kit/say.h"

#define CTL_OUT_MAX (256 * 1024) /* unread answers beyond this end the session */
#define CTL_MAX_CONNS 16

struct sx_kit_ctl_conn {
    sx_kit_ctl *ctl;
    sx_kit_ctl_conn *prev, *next;
    int fd;
    sx_loop_io io;
    sx_kit_ctl_role role;
    bool closing; /* quit, or an over-long line: close once answers are out */
    char in[SX_KIT_CTL_LINE_MAX];
    size_t in_len;
    char *out;
    size_t out_len, out_off, out_cap;
};

struct sx_kit_ctl {
    sx_kit_ctl_opts o;
    sx_loop *loop;
    pthread_t thread;
    int listen_fd;
    uint16_t port;
    sx_loop_io listen_io;
    sx_kit_ctl_conn *conns;
    size_t n_conns;
};

static void conn_close(sx_kit_ctl_conn *c)
{
    sx_kit_ctl *ctl = c->ctl;
    sx_loop_io_stop(ctl->loop, &c->io);
    sx_net_close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        ctl->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    ctl->n_conns--;
    free(c->out);
    free(c);
}

static void out_append(sx_kit_ctl_conn *c, const char *s, size_t len)
{
    if (c->out_len + len > CTL_OUT_MAX) {
        c->closing = true; /* the operator does not read: give up */
        return;
    }
    if (c->out_len + len > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap * 2 : 4096;
        while (cap < c->out_len + len)
            cap *= 2;
        char *p = realloc(c->out, cap);
        if (!p) {
            c->closing = true;
            return;
        }
        c->out = p;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, s, len);
    c->out_len += len;
}

void sx_kit_ctl_say(sx_kit_ctl_conn *c, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof line - 1 ? (size_t)n : sizeof line - 2;
    line[len++] = '\n';
    out_append(c, line, len);
}

static const char *role_name(sx_kit_ctl_role r)
{
    switch (r) {
    case SX_KIT_CTL_USER: return "CPRUser";
    case SX_KIT_CTL_ADMIN: return "CPRAdmin";
    case SX_KIT_CTL_NONE:
    default: return "CPRNone";
    }
}

static bool password_is(const char *configured, sx_slice given)
{
    return configured && sx_ct_equal(sx_slice_str(configured), given);
}

void sx_kit_ctl_auth(sx_kit_ctl_conn *c, sx_slice password)
{
    const sx_kit_ctl_opts *o = &c->ctl->o;
    sx_kit_ctl_role role = password_is(o->admin_password, password)  ? SX_KIT_CTL_ADMIN
                           : password_is(o->user_password, password) ? SX_KIT_CTL_USER
                                                                     : SX_KIT_CTL_NONE;
    if (c->role == SX_KIT_CTL_NONE) {
        c->role = role;
        sx_kit_ctl_say(c, "Current role is %s", role_name(role));
    } else {
        sx_kit_ctl_say(c, "Current role is %s%s", role_name(c->role),
                       c->role == role ? "" : ", start new session to change.");
    }
}

bool sx_kit_ctl_allow(sx_kit_ctl_conn *c, sx_kit_ctl_role need)
{
    if (c->role >= need)
        return true;
    if (!c->ctl->o.quiet)
        SX_SAY(SX_SAY_ERROR, "Unauthorized control port command");
    sx_kit_ctl_say(c, "AUTH");
    return false;
}

sx_kit_ctl_role sx_kit_ctl_role_of(const sx_kit_ctl_conn *c)
{
    return c->role;
}

/* The line as the reference shows a string: quoted, with '"' and '\\'
 * escaped and other unprintable bytes as decimal escapes. */
void sx_kit_ctl_log(sx_kit_ctl_conn *c, const char *line, size_t len)
{
    if (c->ctl->o.quiet)
        return;
    char buf[SX_KIT_CTL_LINE_MAX * 5 + 16];
    size_t n = 0;
    buf[n++] = '"';
    for (size_t i = 0; i < len && i < SX_KIT_CTL_LINE_MAX; i++) {
        unsigned char ch = (unsigned char)line[i];
        if (ch == '"' || ch == '\\') {
            buf[n++] = '\\';
            buf[n++] = (char)ch;
        } else if (ch >= ' ' && ch < 0x7f) {
            buf[n++] = (char)ch;
        } else {
            n += (size_t)snprintf(buf + n, sizeof buf - n, "\\%u", ch);
        }
    }
    buf[n++] = '"';
    SX_SAY(SX_SAY_WARN, "ControlPort: %.*s", (int)n, buf);
}

void *sx_kit_ctl_arg(const sx_kit_ctl_conn *c)
{
    return c->ctl->o.arg;
}

void sx_kit_ctl_quit(sx_kit_ctl_conn *c)
{
    c->closing = true;
}

/* Writes what it can and sets what to wait for; false when c was closed. */
static bool conn_flush(sx_kit_ctl_conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            conn_close(c);
            return false;
        }
        c->out_off += (size_t)n;
    }
    if (c->out_off == c->out_len) {
        c->out_off = c->out_len = 0;
        if (c->closing) {
            conn_close(c);
            return false;
        }
    }
    unsigned ev = c->out_len ? SX_EV_WRITE : 0;
    if (!c->closing)
        ev |= SX_EV_READ;
    if (sx_loop_io_start(c->ctl->loop, &c->io, ev) != SX_OK) {
        conn_close(c);
        return false;
    }
    return true;
}

/* Hands every complete line in the input to the router. */
static void run_lines(sx_kit_ctl_conn *c)
{
    size_t start = 0;
    for (size_t i = 0; i < c->in_len && !c->closing; i++) {
        if (c->in[i] != '\n')
            continue;
        size_t end = i;
        if (end > start && c->in[end - 1] == '\r')
            end--;
        c->ctl->o.on_line(c->ctl->o.arg, c, c->in + start, end - start);
        start = i + 1;
    }
    if (c->closing)
        start = c->in_len;
    memmove(c->in, c->in + start, c->in_len - start);
    c->in_len -= start;
}

static void conn_io_cb(sx_loop *loop, sx_loop_io *io, unsigned events)
{
    (void)loop;
    sx_kit_ctl_conn *c = io->data;
    if (!c->closing && (events & (SX_EV_READ | SX_EV_ERROR))) {
        for (;;) {
            ssize_t n = recv(c->fd, c->in + c->in_len, sizeof c->in - c->in_len, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                break;
            if (n <= 0) {
                conn_close(c);
                return;
            }
            c->in_len += (size_t)n;
            run_lines(c);
            if (c->closing)
                break;
            if (c->in_len == sizeof c->in) {
                sx_kit_ctl_say(c, "error: line too long");
                c->closing = true;
                break;
            }
        }
    }
    (void)conn_flush(c);
}

static void accept_cb(sx_loop *loop, sx_loop_io *io, unsigned events)
{
    (void)events;
    sx_kit_ctl *ctl = io->data;
    for (;;) {
        int fd;
        if (sx_net_accept(io->fd, 0, &fd) != SX_OK)
            return;
        sx_kit_ctl_conn *c = ctl->n_conns < CTL_MAX_CONNS ? calloc(1, sizeof *c) : NULL;
        if (!c) {
            sx_net_close(fd);
            continue;
        }
        c->ctl = ctl;
        c->fd = fd;
        c->next = ctl->conns;
        if (ctl->conns)
            ctl->conns->prev = c;
        ctl->conns = c;
        ctl->n_conns++;
        sx_loop_io_init(&c->io, fd, conn_io_cb, c);
        sx_kit_ctl_say(c, "%s", ctl->o.greeting);
        sx_kit_ctl_say(c, "'help' for supported commands");
        if (sx_loop_io_start(loop, &c->io, SX_EV_READ) != SX_OK) {
            conn_close(c);
            continue;
        }
        (void)conn_flush(c);
    }
}

static void *control_main(void *arg)
{
    sx_kit_ctl *ctl = arg;
    prctl(PR_SET_NAME, "control port", 0, 0, 0);
    if (sx_loop_run(ctl->loop) != SX_OK)
        fprintf(stderr, "control port: event loop failed\n");
    while (ctl->conns)
        conn_close(ctl->conns);
    sx_loop_io_stop(ctl->loop, &ctl->listen_io);
    return NULL;
}

sx_status sx_kit_ctl_start(const sx_kit_ctl_opts *o, sx_kit_ctl **out)
{
    *out = NULL;
    if (!o->on_line || !o->greeting)
        return SX_E_USAGE;
    sx_kit_ctl *ctl = calloc(1, sizeof *ctl);
    if (!ctl)
        return SX_E_NOMEM;
    ctl->o = *o;
    ctl->listen_fd = -1;
    sx_status st = sx_loop_new(&ctl->loop);
    if (st == SX_OK)
        st = sx_net_listen("127.0.0.1", o->port, 16, &ctl->listen_fd, &ctl->port);
    if (st == SX_OK) {
        sx_loop_io_init(&ctl->listen_io, ctl->listen_fd, accept_cb, ctl);
        st = sx_loop_io_start(ctl->loop, &ctl->listen_io, SX_EV_READ);
    }
    if (st == SX_OK && pthread_create(&ctl->thread, NULL, control_main, ctl) != 0)
        st = SX_E_INTERNAL;
    if (st != SX_OK) {
        if (ctl->loop) {
            sx_loop_io_stop(ctl->loop, &ctl->listen_io);
            sx_loop_free(ctl->loop);
        }
        sx_net_close(ctl->listen_fd);
        free(ctl);
        return st;
    }
    *out = ctl;
    return SX_OK;
}

uint16_t sx_kit_ctl_port(const sx_kit_ctl *ctl)
{
    return ctl ? ctl->port : 0;
}

void sx_kit_ctl_stop(sx_kit_ctl *ctl)
{
    if (!ctl)
        return;
    sx_loop_stop(ctl->loop);
    pthread_join(ctl->thread, NULL);
    sx_loop_free(ctl->loop);
    sx_net_close(ctl->listen_fd);
    free(ctl);
}
