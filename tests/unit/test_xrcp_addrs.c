/* Unit tests of the controller's address order (xrcp/addrs.h) with the
 * cases and answers of the reference's tests/RemoteControl.hs at 152c30ca68
 * ("preferred bindings should go first": localhost suppressed, found by
 * address, by interface, with duplicates), and this machine's own list:
 * usable addresses only, 127/8 last, a preferred one first. */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "simplex/xrcp.h"
#include "xrcp/addrs.h"

static sx_xrcp_addr on(uint8_t a, uint8_t b, uint8_t c, uint8_t d, const char *iface)
{
    sx_xrcp_addr x;
    memset(&x, 0, sizeof x);
    x.ip[0] = a;
    x.ip[1] = b;
    x.ip[2] = c;
    x.ip[3] = d;
    snprintf(x.iface, sizeof x.iface, "%s", iface);
    return x;
}

static void assert_list(const sx_xrcp_addr *got, const sx_xrcp_addr *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        assert_memory_equal(got[i].ip, want[i].ip, 4);
        assert_string_equal(got[i].iface, want[i].iface);
    }
}

/* addrs = [127.0.0.1 lo, 10.20.30.40 eth0, 10.20.30.42 wlan0] */
static void base(sx_xrcp_addr a[3])
{
    a[0] = on(127, 0, 0, 1, "lo");
    a[1] = on(10, 20, 30, 40, "eth0");
    a[2] = on(10, 20, 30, 42, "wlan0");
}

/* addrs' = mkLastLocalHost addrs */
static void last_local(sx_xrcp_addr a[3])
{
    base(a);
    sx_xrcp_addrs_localhost_last(a, 3);
}

static void test_localhost_last(void **state)
{
    (void)state;
    sx_xrcp_addr a[3], want[3] = {on(10, 20, 30, 40, "eth0"), on(10, 20, 30, 42, "wlan0"), on(127, 0, 0, 1, "lo")};
    last_local(a);
    assert_list(a, want, 3);
    /* several of each, in their orders */
    sx_xrcp_addr b[5] = {on(127, 0, 0, 1, "lo"), on(192, 168, 1, 2, "a"), on(127, 1, 2, 3, "lo"),
                         on(10, 0, 0, 1, "b"), on(172, 16, 0, 1, "c")};
    sx_xrcp_addr wb[5] = {on(192, 168, 1, 2, "a"), on(10, 0, 0, 1, "b"), on(172, 16, 0, 1, "c"),
                          on(127, 0, 0, 1, "lo"), on(127, 1, 2, 3, "lo")};
    sx_xrcp_addrs_localhost_last(b, 5);
    assert_list(b, wb, 5);
    sx_xrcp_addrs_localhost_last(NULL, 0);
}

static void test_prefer(void **state)
{
    (void)state;
    sx_xrcp_addr a[3], want[3];
    /* by address: localhost is back on top */
    last_local(a);
    sx_xrcp_addr p = on(127, 0, 0, 1, "lo23");
    sx_xrcp_addrs_prefer(&p, a, 3);
    base(want);
    assert_list(a, want, 3);
    last_local(a);
    p = on(10, 20, 30, 42, "wlp2s0");
    sx_xrcp_addrs_prefer(&p, a, 3);
    sx_xrcp_addr w2[3] = {on(10, 20, 30, 42, "wlan0"), on(10, 20, 30, 40, "eth0"), on(127, 0, 0, 1, "lo")};
    assert_list(a, w2, 3);
    /* by interface */
    last_local(a);
    p = on(127, 1, 2, 3, "lo");
    sx_xrcp_addrs_prefer(&p, a, 3);
    base(want);
    assert_list(a, want, 3);
    last_local(a);
    p = on(0, 0, 0, 0, "eth0");
    sx_xrcp_addrs_prefer(&p, a, 3);
    last_local(want);
    assert_list(a, want, 3);
    /* not found: the order stays */
    last_local(a);
    p = on(192, 168, 9, 9, "none");
    sx_xrcp_addrs_prefer(&p, a, 3);
    assert_list(a, want, 3);
    sx_xrcp_addrs_prefer(NULL, a, 3);
    assert_list(a, want, 3);
}

/* addrsDups = 10.20.30.40 eth1 : addrs'; ifaceDups = 10.20.30.41 eth0 : addrs' */
static void test_duplicates(void **state)
{
    (void)state;
    sx_xrcp_addr d[4], w[4];
    d[0] = on(10, 20, 30, 40, "eth1");
    last_local(d + 1);
    memcpy(w, d, sizeof d);
    sx_xrcp_addr p = on(0, 0, 0, 0, "eth1");
    sx_xrcp_addrs_prefer(&p, d, 4);
    assert_list(d, w, 4);
    d[0] = on(10, 20, 30, 41, "eth0");
    last_local(d + 1);
    memcpy(w, d, sizeof d);
    p = on(0, 0, 0, 0, "eth0");
    sx_xrcp_addrs_prefer(&p, d, 4);
    assert_list(d, w, 4);
}

/* This machine: none of the unusable addresses, the loopback one present
 * and after every other, a preferred one first (the public call). */
static void test_this_machine(void **state)
{
    (void)state;
    sx_xrcp_addr got[64];
    size_t n = 0;
    assert_ok(sx_xrcp_local_addrs(NULL, got, 64, &n));
    assert_true(n >= 1 && n <= 64);
    bool seen_local = false, have_loopback = false;
    for (size_t i = 0; i < n; i++) {
        assert_false(got[i].ip[0] == 0 && got[i].ip[1] == 0 && got[i].ip[2] == 0 && got[i].ip[3] == 0);
        assert_false(got[i].ip[0] == 169 && got[i].ip[1] == 254);
        bool local = got[i].ip[0] == 127;
        assert_false(seen_local && !local); /* 127/8 last */
        seen_local = seen_local || local;
        have_loopback = have_loopback || (local && got[i].ip[3] == 1);
    }
    assert_true(have_loopback);
    sx_rc_address pub[64];
    size_t k = sx_rc_local_addresses(NULL, pub, 64);
    assert_int_equal(k, n);
    sx_rc_address prefer = {.address = "127.0.0.1", .iface = "none"};
    assert_int_equal(sx_rc_local_addresses(&prefer, pub, 64), n);
    assert_string_equal(pub[0].address, "127.0.0.1");
    assert_int_equal(sx_rc_local_addresses(NULL, NULL, 0), n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_localhost_last),
        cmocka_unit_test(test_prefer),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_this_machine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
