/* The agent's event queue as the application sees it, without a router:
 * events come out in the order the agent put them in, sx_agent_next with
 * timeout 0 only looks, and the descriptor of sx_agent_event_fd is
 * readable for poll(2) exactly while an event waits (also when the event
 * is put in by another thread while the application sleeps in poll). The
 * events are put in with the agent's own sx_agent_emit. */
#include "testutil.h"

#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_int.h"
#include "agent_store_util.h"

static sx_agent *A;
static char *Path;

static int setup(void **state)
{
    if (asu_setup(state) != 0)
        return -1;
    Path = asu_fresh("events.db");
    sx_agent_opts o;
    memset(&o, 0, sizeof o);
    o.no_subscribe = true;
    return sx_agent_open(Path, &o, &A) == SX_OK ? 0 : -1;
}

static int teardown(void **state)
{
    sx_agent_close(A);
    A = NULL;
    free(Path);
    return asu_teardown(state);
}

/* Whether the event descriptor is readable, waiting up to ms. */
static bool readable(int ms)
{
    struct pollfd p = {.fd = sx_agent_event_fd(A), .events = POLLIN};
    int r = poll(&p, 1, ms);
    assert_true(r >= 0);
    return r == 1 && (p.revents & POLLIN);
}

static void expect_next(sx_agent_event_kind kind, int64_t msg_id)
{
    sx_agent_event ev;
    assert_ok(sx_agent_next(A, 0, &ev));
    assert_int_equal(ev.kind, kind);
    assert_int_equal(ev.msg_id, msg_id);
    sx_agent_event_clear(&ev);
}

static void test_order_and_fd(void **state)
{
    (void)state;
    assert_true(sx_agent_event_fd(A) >= 0);
    assert_int_equal(sx_agent_event_fd(NULL), -1);
    assert_false(readable(0));
    expect_next(SX_AGENT_EV_NONE, 0);
    sx_agent_id c;
    memset(&c, 7, sizeof c);
    sx_agent_emit(A, SX_AGENT_EV_SENT, &c, 2, sx_slice_str(""));
    sx_agent_emit(A, SX_AGENT_EV_MSG, &c, 3, sx_slice_str("hello"));
    sx_agent_emit(A, SX_AGENT_EV_SENT, &c, 4, sx_slice_str(""));
    assert_true(readable(0));
    sx_agent_event ev;
    assert_ok(sx_agent_next(A, 0, &ev));
    assert_int_equal(ev.kind, SX_AGENT_EV_SENT);
    assert_int_equal(ev.msg_id, 2);
    char text[SX_AGENT_CONN_ID_TEXT];
    sx_agent_id_text(&c, text);
    assert_string_equal(ev.conn, text);
    sx_agent_event_clear(&ev);
    /* Still one waiting: still readable, as often as it is polled. */
    assert_true(readable(0));
    assert_true(readable(0));
    assert_ok(sx_agent_next(A, 0, &ev));
    assert_int_equal(ev.kind, SX_AGENT_EV_MSG);
    assert_int_equal(ev.msg_id, 3);
    assert_int_equal(ev.body_len, 5);
    assert_memory_equal(ev.body, "hello", 5);
    sx_agent_event_clear(&ev);
    assert_true(readable(0));
    expect_next(SX_AGENT_EV_SENT, 4);
    /* Empty: not readable, and again after more rounds. */
    assert_false(readable(0));
    expect_next(SX_AGENT_EV_NONE, 0);
    for (int64_t i = 0; i < 100; i++) {
        sx_agent_emit(A, SX_AGENT_EV_SENT, &c, i, sx_slice_str(""));
        sx_agent_emit(A, SX_AGENT_EV_SENT, &c, i + 1000, sx_slice_str(""));
        assert_true(readable(0));
        expect_next(SX_AGENT_EV_SENT, i);
        assert_true(readable(0));
        expect_next(SX_AGENT_EV_SENT, i + 1000);
        assert_false(readable(0));
    }
}

static void *emit_later(void *arg)
{
    (void)arg;
    sx_agent_emit(A, SX_AGENT_EV_OK, NULL, 42, sx_slice_str(""));
    return NULL;
}

/* An event put in by another thread wakes a poll that was waiting. */
static void test_fd_wakes_poll(void **state)
{
    (void)state;
    assert_false(readable(0));
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, emit_later, NULL), 0);
    assert_true(readable(60000));
    assert_int_equal(pthread_join(t, NULL), 0);
    expect_next(SX_AGENT_EV_OK, 42);
    assert_false(readable(0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_order_and_fd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fd_wakes_poll, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
