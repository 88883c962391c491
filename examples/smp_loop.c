/* smp_loop: the event-loop flavour of the SMP API (simplex/smp.h,
 * sx_smp_aconn_*) on a loop of simplex/loop.h. One connection creates a
 * queue, secures it, subscribes, and sends COUNT messages to itself, one
 * every 10 ms from a timer; each message that arrives is acknowledged; when
 * all have come back the queue is deleted and the loop stops.
 *
 *   cc smp_loop.c $(pkg-config --cflags --libs simplex) -o smp_loop
 *   ./smp_loop 'smp://<fingerprint>:<password>@localhost:5223' [COUNT]
 *
 * Nothing here blocks: every step continues in the callback of the one
 * before. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <simplex/simplex.h>

typedef struct app {
    sx_loop *loop;
    sx_smp_aconn *conn;
    sx_smp_queue *rcv, *snd;
    sx_timer *timer;
    int count, sent, received;
    int rc;
} app;

static void stop(app *a, const char *what, sx_status st)
{
    if (st != SX_OK) {
        fprintf(stderr, "smp_loop: %s: %s\n", what, sx_error_message());
        a->rc = 1;
    }
    sx_timer_stop(a->timer);
    sx_smp_aconn_close(a->conn); /* closed() stops the loop */
}

static void deleted(sx_smp_aconn *c, sx_status st, void *arg)
{
    (void)c;
    app *a = arg;
    if (st == SX_OK)
        printf("queue deleted\n");
    stop(a, "delete", st);
}

static void sent(sx_smp_aconn *c, sx_status st, void *arg)
{
    (void)c;
    if (st != SX_OK)
        stop(arg, "send", st);
}

static void send_next(sx_loop *loop, void *arg)
{
    (void)loop;
    app *a = arg;
    if (a->sent == a->count) {
        sx_timer_stop(a->timer);
        return;
    }
    char text[64];
    int n = snprintf(text, sizeof text, "message %d", a->sent + 1);
    /* The body is encoded before the call returns: text may go. */
    sx_status st = sx_smp_aconn_send(a->conn, a->snd, text, (size_t)n, sent, a);
    if (st != SX_OK)
        stop(a, "send", st);
    a->sent++;
}

static void acked(sx_smp_aconn *c, sx_status st, void *arg)
{
    app *a = arg;
    if (st != SX_OK) {
        stop(a, "acknowledge", st);
    } else if (a->received == a->count) {
        st = sx_smp_aconn_delete(c, a->rcv, deleted, a);
        if (st != SX_OK)
            stop(a, "delete", st);
    }
}

static void on_event(sx_smp_aconn *c, sx_smp_event *ev, void *arg)
{
    app *a = arg;
    if (ev->kind != SX_SMP_EVENT_MESSAGE) {
        fprintf(stderr, "smp_loop: unexpected event kind %d\n", (int)ev->kind);
        stop(a, "receive", SX_OK);
        a->rc = 1;
        return;
    }
    char want[64];
    snprintf(want, sizeof want, "message %d", a->received + 1);
    if (ev->body_len != strlen(want) || memcmp(ev->body, want, ev->body_len) != 0) {
        fprintf(stderr, "smp_loop: got '%.*s', expected '%s'\n", (int)ev->body_len, (const char *)ev->body, want);
        a->rc = 1;
    }
    a->received++;
    sx_status st = sx_smp_aconn_ack(c, a->rcv, ev, acked, a);
    if (st != SX_OK)
        stop(a, "acknowledge", st);
}

static void subscribed(sx_smp_aconn *c, sx_status st, void *arg)
{
    (void)c;
    app *a = arg;
    if (st != SX_OK) {
        stop(a, "subscribe", st);
        return;
    }
    sx_timer_start(a->timer, 0, 10);
}

static void secured(sx_smp_aconn *c, sx_status st, void *arg)
{
    app *a = arg;
    if (st == SX_OK)
        st = sx_smp_aconn_subscribe(c, a->rcv, subscribed, a);
    if (st != SX_OK)
        stop(a, "secure", st);
}

static void created(sx_smp_aconn *c, sx_status st, sx_smp_queue *q, void *arg)
{
    app *a = arg;
    a->rcv = q;
    if (st == SX_OK)
        st = sx_smp_queue_sender(q, &a->snd);
    if (st == SX_OK)
        st = sx_smp_aconn_secure(c, a->snd, secured, a);
    if (st != SX_OK)
        stop(a, "create", st);
}

static void connected(sx_smp_aconn *c, sx_status st, void *arg)
{
    app *a = arg;
    if (st != SX_OK) {
        fprintf(stderr, "smp_loop: %s\n", sx_error_message());
        a->rc = 1;
        sx_loop_stop(a->loop);
        return;
    }
    printf("connected, SMP version %u\n", sx_smp_aconn_version(c));
    st = sx_smp_aconn_create(c, created, a);
    if (st != SX_OK)
        stop(a, "create", st);
}

static void closed(sx_smp_aconn *c, sx_status st, void *arg)
{
    (void)c;
    app *a = arg;
    if (st != SX_OK) {
        fprintf(stderr, "smp_loop: connection lost: %s\n", sx_error_message());
        a->rc = 1;
    }
    sx_loop_stop(a->loop);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: smp_loop SMP_SERVER_ADDRESS [COUNT]\n");
        return 2;
    }
    app a = {.count = argc == 3 ? atoi(argv[2]) : 100};
    if (a.count < 1)
        a.count = 1;
    if (sx_loop_new(&a.loop) != SX_OK || sx_timer_new(a.loop, send_next, &a, &a.timer) != SX_OK) {
        fprintf(stderr, "smp_loop: %s\n", sx_error_message());
        return 1;
    }
    sx_smp_aconn_callbacks cbs = {.connected = connected, .event = on_event, .closed = closed, .arg = &a};
    if (sx_smp_aconn_connect(a.loop, argv[1], NULL, &cbs, &a.conn) != SX_OK) {
        fprintf(stderr, "smp_loop: %s\n", sx_error_message());
        return 1;
    }
    if (sx_loop_run(a.loop) != SX_OK)
        a.rc = 1;
    if (a.rc == 0)
        printf("sent %d, received %d\n", a.sent, a.received);
    sx_timer_free(a.timer);
    sx_loop_free(a.loop); /* runs the connection's last clean-up */
    sx_smp_queue_free(a.snd);
    sx_smp_queue_free(a.rcv);
    return a.rc == 0 && a.received == a.count ? 0 : 1;
}
