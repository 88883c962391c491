/* Unit tests of the SOCKS5 client (src/transport/socks.c): the bytes it sends
 * (RFC 1928 greeting and CONNECT, RFC 1929 credentials), the proxy's replies
 * it accepts and those it refuses (truncated, oversized, trailing, bad
 * fields), the proxy string of the reference's settings, and a whole
 * exchange over a socket pair. */
#include "testutil.h"

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport/socks.h"

#define S(lit) sx_slice_of((const uint8_t *)(lit), sizeof(lit) - 1)

static void test_reply_parse(void **state)
{
    (void)state;
    sx_socks_reply r;
    assert_int_equal(sx_socks_reply_parse(S("\x05\x00\x00\x01\x7f\x00\x00\x01\x23\x45"), &r), SX_OK);
    assert_int_equal(r.rep, 0);
    assert_int_equal(r.atyp, 1);
    assert_int_equal(r.addr.len, 4);
    assert_int_equal(r.port, 0x2345);
    assert_int_equal(sx_socks_reply_parse(S("\x05\x00\x00\x03\x03" "abc" "\x00\x50"), &r), SX_OK);
    assert_int_equal(r.addr.len, 3);
    assert_memory_equal(r.addr.ptr, "abc", 3);
    uint8_t v6[22] = {5, 0, 0, 4};
    v6[20] = 1;
    assert_int_equal(sx_socks_reply_parse(sx_slice_of(v6, sizeof v6), &r), SX_OK);
    assert_int_equal(r.addr.len, 16);
    assert_int_equal(r.port, 0x100);
    /* a failure code parses: the caller decides */
    assert_int_equal(sx_socks_reply_parse(S("\x05\x04\x00\x01\x00\x00\x00\x00\x00\x00"), &r), SX_OK);
    assert_int_equal(r.rep, 4);
}

static void test_reply_bad(void **state)
{
    (void)state;
    sx_socks_reply r;
    static const uint8_t good[] = {5, 0, 0, 1, 127, 0, 0, 1, 0x23, 0x45};
    /* every truncation */
    for (size_t n = 0; n < sizeof good; n++)
        assert_int_equal(sx_socks_reply_parse(sx_slice_of(good, n), &r), SX_E_PROTOCOL);
    /* trailing bytes (the destination's stream is not the reply's) */
    uint8_t longer[sizeof good + 1];
    memcpy(longer, good, sizeof good);
    longer[sizeof good] = 0x16;
    assert_int_equal(sx_socks_reply_parse(sx_slice_of(longer, sizeof longer), &r), SX_E_PROTOCOL);
    /* a name longer than the bytes: oversized length */
    assert_int_equal(sx_socks_reply_parse(S("\x05\x00\x00\x03\xff" "abc" "\x00\x50"), &r), SX_E_PROTOCOL);
    /* an empty name, a bad version, reserved byte, address type */
    assert_int_equal(sx_socks_reply_parse(S("\x05\x00\x00\x03\x00\x00\x50"), &r), SX_E_PROTOCOL);
    assert_int_equal(sx_socks_reply_parse(S("\x04\x00\x00\x01\x7f\x00\x00\x01\x23\x45"), &r), SX_E_PROTOCOL);
    assert_int_equal(sx_socks_reply_parse(S("\x05\x00\x01\x01\x7f\x00\x00\x01\x23\x45"), &r), SX_E_PROTOCOL);
    assert_int_equal(sx_socks_reply_parse(S("\x05\x00\x00\x02\x7f\x00\x00\x01\x23\x45"), &r), SX_E_PROTOCOL);
    /* an oversized input: longer than any reply can be */
    uint8_t big[SX_SOCKS_REPLY_MAX + 8];
    memset(big, 'a', sizeof big);
    memcpy(big, "\x05\x00\x00\x03\xff", 5);
    assert_int_equal(sx_socks_reply_parse(sx_slice_of(big, sizeof big), &r), SX_E_PROTOCOL);
    assert_int_equal(sx_socks_reply_parse(sx_slice_of(big, SX_SOCKS_REPLY_MAX), &r), SX_OK);
    size_t total = 0;
    assert_int_equal(sx_socks_reply_len(sx_slice_of(big, 4), &total), SX_E_WOULD_BLOCK);
    assert_int_equal(sx_socks_reply_len(sx_slice_of(big, 5), &total), SX_OK);
    assert_int_equal(total, SX_SOCKS_REPLY_MAX);
}

/* Feeds the proxy's bytes in the pieces the client asks for; the client's
 * output is checked against want_out at each step (NULL: not checked). */
static sx_status feed_all(sx_socks_client *s, sx_slice in)
{
    size_t off = 0;
    while (!sx_socks_client_done(s)) {
        s->out_off = s->out_len;
        size_t want = sx_socks_client_want(s);
        assert_true(want > 0);
        if (off + want > in.len)
            return SX_E_WOULD_BLOCK;
        sx_status st = sx_socks_client_feed(s, in.ptr + off, want);
        if (st != SX_OK)
            return st;
        off += want;
    }
    assert_int_equal(off, in.len);
    return SX_OK;
}

static void test_client_bytes(void **state)
{
    (void)state;
    sx_socks_client s;
    /* no authentication, a name: the greeting, then CONNECT with the name */
    assert_int_equal(sx_socks_client_init(&s, "abc.onion", 5223, NULL, NULL), SX_OK);
    assert_int_equal(s.out_len, 3);
    assert_memory_equal(s.out, "\x05\x01\x00", 3);
    s.out_off = s.out_len;
    assert_int_equal(sx_socks_client_want(&s), 2);
    assert_int_equal(sx_socks_client_feed(&s, (const uint8_t *)"\x05\x00", 2), SX_OK);
    static const uint8_t conn[] = "\x05\x01\x00\x03\x09" "abc.onion" "\x14\x67";
    assert_int_equal(s.out_len, sizeof conn - 1);
    assert_memory_equal(s.out, conn, sizeof conn - 1);
    s.out_off = s.out_len;
    assert_int_equal(sx_socks_client_want(&s), 5);
    assert_int_equal(sx_socks_client_feed(&s, (const uint8_t *)"\x05\x00\x00\x03\x02", 5), SX_OK);
    assert_int_equal(sx_socks_client_want(&s), 4); /* the name's 2 bytes and the port */
    assert_int_equal(sx_socks_client_feed(&s, (const uint8_t *)"xy\x00\x01", 4), SX_OK);
    assert_true(sx_socks_client_done(&s));

    /* credentials: method 2, then RFC 1929's request */
    assert_int_equal(sx_socks_client_init(&s, "127.0.0.1", 443, "u1", ""), SX_OK);
    assert_memory_equal(s.out, "\x05\x01\x02", 3);
    s.out_off = s.out_len;
    assert_int_equal(sx_socks_client_feed(&s, (const uint8_t *)"\x05\x02", 2), SX_OK);
    assert_int_equal(s.out_len, 5);
    assert_memory_equal(s.out, "\x01\x02u1\x00", 5);
    s.out_off = s.out_len;
    assert_int_equal(sx_socks_client_feed(&s, (const uint8_t *)"\x01\x00", 2), SX_OK);
    assert_int_equal(s.out_len, 10); /* an IPv4 address goes as one */
    assert_memory_equal(s.out, "\x05\x01\x00\x01\x7f\x00\x00\x01\x01\xbb", 10);
    assert_int_equal(feed_all(&s, S("\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00")), SX_OK);

    /* IPv6 */
    assert_int_equal(sx_socks_client_init(&s, "::1", 80, NULL, NULL), SX_OK);
    s.out_off = s.out_len;
    assert_int_equal(sx_socks_client_feed(&s, (const uint8_t *)"\x05\x00", 2), SX_OK);
    assert_int_equal(s.out_len, 22);
    assert_int_equal(s.out[3], 4);
    assert_int_equal(s.out[19], 1);

    /* bad arguments */
    char name[300];
    memset(name, 'a', sizeof name);
    name[256] = '\0';
    assert_int_equal(sx_socks_client_init(&s, name, 80, NULL, NULL), SX_E_USAGE);
    assert_int_equal(sx_socks_client_init(&s, "", 80, NULL, NULL), SX_E_USAGE);
    assert_int_equal(sx_socks_client_init(&s, "a", 0, NULL, NULL), SX_E_USAGE);
    assert_int_equal(sx_socks_client_init(&s, "a", 1, name, ""), SX_E_USAGE);
}

static void test_client_refusals(void **state)
{
    (void)state;
    sx_socks_client s;
    assert_int_equal(sx_socks_client_init(&s, "a.onion", 1, NULL, NULL), SX_OK);
    assert_int_equal(feed_all(&s, S("\x05\xff")), SX_E_AUTH);
    assert_int_equal(sx_socks_client_init(&s, "a.onion", 1, NULL, NULL), SX_OK);
    assert_int_equal(feed_all(&s, S("\x05\x02")), SX_E_PROTOCOL); /* a method not offered */
    assert_int_equal(sx_socks_client_init(&s, "a.onion", 1, NULL, NULL), SX_OK);
    assert_int_equal(feed_all(&s, S("\x04\x00")), SX_E_PROTOCOL);
    assert_int_equal(sx_socks_client_init(&s, "a.onion", 1, "u", "p"), SX_OK);
    assert_int_equal(feed_all(&s, S("\x05\x02\x01\x01")), SX_E_AUTH); /* credentials refused */
    assert_int_equal(sx_socks_client_init(&s, "a.onion", 1, NULL, NULL), SX_OK);
    assert_int_equal(feed_all(&s, S("\x05\x00\x05\x04\x00\x01\x00\x00\x00\x00\x00\x00")), SX_E_IO);
    assert_int_equal(s.rep, 4);
    assert_int_equal(sx_socks_client_init(&s, "a.onion", 1, NULL, NULL), SX_OK);
    assert_int_equal(feed_all(&s, S("\x05\x00\x05\x00\x00\x09\x00")), SX_E_PROTOCOL);
    /* a truncated reply leaves it waiting; more than it wants is refused */
    assert_int_equal(sx_socks_client_init(&s, "a.onion", 1, NULL, NULL), SX_OK);
    assert_int_equal(feed_all(&s, S("\x05\x00\x05\x00\x00\x01\x00")), SX_E_WOULD_BLOCK);
    assert_false(sx_socks_client_done(&s));
    uint8_t junk[SX_SOCKS_REPLY_MAX + 1] = {0};
    assert_int_equal(sx_socks_client_feed(&s, junk, sizeof junk), SX_E_PROTOCOL);
}

static void test_proxy_string(void **state)
{
    (void)state;
    sx_socks_proxy p;
    assert_int_equal(sx_socks_proxy_parse("127.0.0.1:9150", &p), SX_OK);
    assert_string_equal(p.host, "127.0.0.1");
    assert_int_equal(p.port, 9150);
    assert_int_equal(p.auth, SX_SOCKS_AUTH_ISOLATE);
    assert_int_equal(sx_socks_proxy_parse(":9151", &p), SX_OK);
    assert_string_equal(p.host, "127.0.0.1");
    assert_int_equal(p.port, 9151);
    assert_int_equal(sx_socks_proxy_parse("10.0.0.2", &p), SX_OK);
    assert_int_equal(p.port, 9050);
    assert_int_equal(sx_socks_proxy_parse("@127.0.0.1:1", &p), SX_OK);
    assert_int_equal(p.auth, SX_SOCKS_AUTH_NONE);
    assert_int_equal(sx_socks_proxy_parse("alice:secret@[::1]:1080", &p), SX_OK);
    assert_int_equal(p.auth, SX_SOCKS_AUTH_USER);
    assert_string_equal(p.user, "alice");
    assert_string_equal(p.pass, "secret");
    assert_string_equal(p.host, "::1");
    assert_int_equal(p.port, 1080);
    assert_int_equal(sx_socks_proxy_parse("localhost:9050", &p), SX_E_USAGE); /* numeric only */
    assert_int_equal(sx_socks_proxy_parse("127.0.0.1:0", &p), SX_E_USAGE);
    assert_int_equal(sx_socks_proxy_parse("127.0.0.1:70000", &p), SX_E_USAGE);
    assert_int_equal(sx_socks_proxy_parse("127.0.0.1:x", &p), SX_E_USAGE);
    assert_int_equal(sx_socks_proxy_parse("nocolon@127.0.0.1", &p), SX_E_USAGE);
    assert_true(sx_socks_is_onion("abc.onion"));
    assert_true(sx_socks_is_onion("x.y.ONION"));
    assert_false(sx_socks_is_onion(".onion"));
    assert_false(sx_socks_is_onion("onion.example"));
}

/* The blocking exchange over a socket pair, the proxy's side played here. */
static void test_connect_fd(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    /* everything the proxy says, written at once ahead, plus the destination's
     * first byte, which the client must leave unread */
    static const uint8_t proxy[] = "\x05\x02\x01\x00\x05\x00\x00\x03\x01z\x00\x01" "D";
    assert_int_equal(write(sv[1], proxy, sizeof proxy - 1), (ssize_t)(sizeof proxy - 1));
    assert_int_equal(sx_socks_connect_fd(sv[0], "q.onion", 5223, "iso", "", 10000), SX_OK);
    uint8_t got[64];
    ssize_t n = read(sv[1], got, sizeof got);
    static const uint8_t sent[] = "\x05\x01\x02" "\x01\x03iso\x00" "\x05\x01\x00\x03\x07q.onion\x14\x67";
    assert_int_equal(n, (ssize_t)(sizeof sent - 1));
    assert_memory_equal(got, sent, sizeof sent - 1);
    assert_int_equal(read(sv[0], got, 1), 1);
    assert_int_equal(got[0], 'D');
    /* the proxy closes early */
    close(sv[1]);
    assert_int_equal(sx_socks_connect_fd(sv[0], "q.onion", 5223, NULL, NULL, 10000), SX_E_IO);
    close(sv[0]);
}

/* The reference's session names: its clients print the session's start
 * as Haskell shows a UTCTime and hash "1:<that>" (known answers computed
 * with SHA-256 and standard base64 over the texts). */
static void test_isolation_user(void **state)
{
    (void)state;
    char t[64];
    const int64_t s = 1796555143; /* 2026-12-06 11:05:43 UTC */
    assert_int_equal(sx_socks_time_text(s * 1000000000 + 123456789, t, sizeof t), 33);
    assert_string_equal(t, "2026-12-06 11:05:43.123456789 UTC");
    sx_socks_time_text(s * 1000000000, t, sizeof t);
    assert_string_equal(t, "2026-12-06 11:05:43 UTC");
    sx_socks_time_text(s * 1000000000 + 500000000, t, sizeof t);
    assert_string_equal(t, "2026-12-06 11:05:43.5 UTC");
    sx_socks_time_text(s * 1000000000 + 1000, t, sizeof t);
    assert_string_equal(t, "2026-12-06 11:05:43.000001 UTC");
    sx_socks_time_text(0, t, sizeof t);
    assert_string_equal(t, "1970-01-01 00:00:00 UTC");
    char u[SX_SOCKS_ISOLATION_LEN + 1];
    assert_int_equal(sx_socks_isolation_user(1, s * 1000000000 + 123456789, u), SX_OK);
    assert_string_equal(u, "Vjf7HINlg1YttdyYfbbjVk/jCZTKfL4b4EcgIc90niY=");
    assert_int_equal(sx_socks_isolation_user(1, s * 1000000000, u), SX_OK);
    assert_string_equal(u, "41xkktlZSFUnFM42lf2+i9YefpuSIltnWgaQPZZrmbA=");
    assert_int_equal(sx_socks_isolation_user(1, s * 1000000000 + 500000000, u), SX_OK);
    assert_string_equal(u, "2nWNJ8T0ZoFDdkdr5aEQeOuQ7BCH+jaBQVP9FwuxhGY=");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_parse),     cmocka_unit_test(test_reply_bad),
        cmocka_unit_test(test_client_bytes),    cmocka_unit_test(test_client_refusals),
        cmocka_unit_test(test_proxy_string),    cmocka_unit_test(test_connect_fd),
        cmocka_unit_test(test_isolation_user),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
