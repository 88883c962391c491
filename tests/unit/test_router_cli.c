/* Unit tests of the router programs' shared words (apps/common/router_cli.h):
 * delete's answer and the fix printed for a port that cannot be bound (the
 * permission case is also run as a real process by integration.router_start
 * when the tests run as root with setpriv). */
#include "testutil.h"

#include <errno.h>
#include <string.h>

#include "common/router_cli.h"
#include "transport/net.h"

static void test_answer(void **state)
{
    (void)state;
    assert_true(rcli_answer_is_yes("y"));
    assert_true(rcli_answer_is_yes("Y"));
    assert_true(rcli_answer_is_yes("yes"));
    assert_true(rcli_answer_is_yes("YES"));
    assert_false(rcli_answer_is_yes(""));
    assert_false(rcli_answer_is_yes("n"));
    assert_false(rcli_answer_is_yes("ye"));
    assert_false(rcli_answer_is_yes("yes please"));
}

static void test_listen_fix(void **state)
{
    (void)state;
    char buf[1024];
    const char *t = rcli_listen_fix(EACCES, "/usr/local/bin/smp-server", "/etc/opt/simplex/smp-server.ini",
                                    buf, sizeof buf);
    assert_non_null(strstr(t, "\n  setcap cap_net_bind_service=+ep /usr/local/bin/smp-server\n"));
    assert_non_null(strstr(t, "AmbientCapabilities=CAP_NET_BIND_SERVICE"));
    assert_non_null(strstr(t, "[TRANSPORT] of /etc/opt/simplex/smp-server.ini"));
    assert_string_equal(rcli_listen_fix(EPERM, "p", "i", buf, sizeof buf),
                        rcli_listen_fix(EACCES, "p", "i", buf + 512, 512));
    t = rcli_listen_fix(EADDRINUSE, "p", "/x.ini", buf, sizeof buf);
    assert_non_null(strstr(t, "ss -ltnp"));
    assert_non_null(strstr(t, "[TRANSPORT] of /x.ini"));
    assert_null(strstr(t, "setcap"));
    assert_string_equal(rcli_listen_fix(EADDRNOTAVAIL, "p", "i", buf, sizeof buf), "");
    assert_string_equal(rcli_listen_fix(0, "p", "i", buf, sizeof buf), "");
    /* truncated, never overrun */
    assert_true(strlen(rcli_listen_fix(EACCES, "p", "i", buf, 10)) == 9);
}

static void test_drop_rts(void **state)
{
    (void)state;
    char *a[] = {"start", "+RTS", "-N", "-RTS", "--skip-warnings", "+RTS", "-A16m", NULL};
    int n = rcli_drop_rts(7, a);
    assert_int_equal(n, 2);
    assert_string_equal(a[0], "start");
    assert_string_equal(a[1], "--skip-warnings");
    assert_null(a[2]);
    char *b[] = {"start", "-RTS", NULL};
    assert_int_equal(rcli_drop_rts(2, b), 2); /* a lone -RTS is an argument */
}

/* A port held by a listener of this test: the errno and the error detail
 * that the programs print. */
static void test_listen_errno(void **state)
{
    (void)state;
    int held = -1, fd = -1;
    uint16_t port = 0;
    assert_ok(sx_net_listen("127.0.0.1", 0, 1, &held, &port));
    assert_int_equal(sx_net_listen_errno(), 0);
    assert_int_equal(sx_net_listen("127.0.0.1", port, 1, &fd, NULL), SX_E_IO);
    assert_int_equal(fd, -1);
    assert_int_equal(sx_net_listen_errno(), EADDRINUSE);
    char want[64];
    snprintf(want, sizeof want, "cannot listen on port %u: Address already in use", (unsigned)port);
    assert_string_equal(sx_error_message(), want);
    sx_net_close(held);
    assert_ok(sx_net_listen("127.0.0.1", port, 1, &fd, NULL));
    assert_int_equal(sx_net_listen_errno(), 0);
    sx_net_close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answer),
        cmocka_unit_test(test_listen_fix),
        cmocka_unit_test(test_drop_rts),
        cmocka_unit_test(test_listen_errno),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
