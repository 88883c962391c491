/* smp_hello: creates a queue on an SMP router, sends itself a message
 * through it, receives and acknowledges it, and deletes the queue: the
 * whole life of a queue with the public API (simplex/smp.h).
 *
 *   cc smp_hello.c $(pkg-config --cflags --libs simplex) -o smp_hello
 *   ./smp_hello 'smp://<fingerprint>:<password>@localhost:5223' [MESSAGE]
 *
 * In a real program the two sides live on different devices: the
 * recipient hands the sender side (sx_smp_queue_format, or a queue file)
 * to the sender over a channel of its choice. */
#include <stdio.h>
#include <string.h>

#include <simplex/simplex.h>

static int fail(const char *what)
{
    fprintf(stderr, "smp_hello: %s: %s", what, sx_error_message());
    if (sx_error_code()[0])
        fprintf(stderr, " [router: %s]", sx_error_code());
    fputc('\n', stderr);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: smp_hello SMP_SERVER_ADDRESS [MESSAGE]\n");
        return 2;
    }
    const char *text = argc == 3 ? argv[2] : "hello from libsimplex";
    printf("libsimplex %s (compiled against %s)\n", sx_version(), SX_VERSION_STRING);

    sx_smp_conn *conn = NULL;
    sx_smp_queue *rcv = NULL, *snd = NULL;
    sx_smp_event ev = {0};
    int rc = 1;

    if (sx_smp_connect(argv[1], NULL, &conn) != SX_OK)
        return fail("connect");
    printf("connected, SMP version %u\n", sx_smp_conn_version(conn));

    /* The recipient creates the queue and makes the sender's side of it. */
    if (sx_smp_queue_create(conn, &rcv) != SX_OK) {
        rc = fail("create");
        goto done;
    }
    if (sx_smp_queue_sender(rcv, &snd) != SX_OK) {
        rc = fail("sender side");
        goto done;
    }
    /* The sender keys the queue, so that nobody else can send to it. */
    if (sx_smp_queue_secure(conn, snd) != SX_OK) {
        rc = fail("secure");
        goto done;
    }
    if (sx_smp_send(conn, snd, text, strlen(text)) != SX_OK) {
        rc = fail("send");
        goto done;
    }
    /* The recipient subscribes and waits for the message. */
    if (sx_smp_subscribe(conn, rcv) != SX_OK) {
        rc = fail("subscribe");
        goto done;
    }
    if (sx_smp_receive(conn, 10000, &ev) != SX_OK) {
        rc = fail("receive");
        goto done;
    }
    if (ev.kind != SX_SMP_EVENT_MESSAGE) {
        fprintf(stderr, "smp_hello: expected a message, got event kind %d\n", (int)ev.kind);
        goto done;
    }
    printf("received: %.*s\n", (int)ev.body_len, (const char *)ev.body);
    if (ev.body_len != strlen(text) || memcmp(ev.body, text, ev.body_len) != 0) {
        fprintf(stderr, "smp_hello: the message changed on the way\n");
        goto done;
    }
    if (sx_smp_ack(conn, rcv, &ev) != SX_OK) {
        rc = fail("acknowledge");
        goto done;
    }
    if (sx_smp_queue_delete(conn, rcv) != SX_OK) {
        rc = fail("delete");
        goto done;
    }
    printf("queue deleted\n");
    rc = 0;
done:
    sx_smp_event_clear(&ev);
    sx_smp_close(conn); /* before freeing a queue subscribed on it */
    sx_smp_queue_free(snd);
    sx_smp_queue_free(rcv);
    return rc;
}
