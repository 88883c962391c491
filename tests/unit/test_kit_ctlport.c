/* Unit tests of the router kit's control port: the grammar pieces
 * (kit/ctlline.h: words, white space, base64url and BasicAuth arguments,
 * with truncated, oversized and trailing input) and the line server
 * (kit/ctlport.h) on a real loopback socket: greeting, line splitting with
 * "\n" and "\r\n", roles, the "AUTH" refusal, quit, an over-long line. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "testutil.h"

#include "kit/ctlline.h"
#include "kit/ctlport.h"
#include "transport/net.h"

/* ---- grammar ---- */

static void test_word(void **state)
{
    (void)state;
    sx_kit_line l;
    sx_kit_line_init(&l, "delete abc", 10);
    sx_slice w = sx_kit_line_word(&l);
    assert_true(sx_kit_line_word_is(w, "delete"));
    assert_false(sx_kit_line_word_is(w, "delet"));
    assert_false(sx_kit_line_word_is(w, "deletex"));
    assert_int_equal(l.pos, 6);
    assert_false(sx_kit_line_at_end(&l));
    sx_kit_line_init(&l, "", 0);
    w = sx_kit_line_word(&l);
    assert_true(sx_kit_line_word_is(w, ""));
    assert_true(sx_kit_line_at_end(&l));
    /* the word ends at ' ' only */
    sx_kit_line_init(&l, "a\tb c", 5);
    w = sx_kit_line_word(&l);
    assert_int_equal(w.len, 3);
    /* every white-space byte separates arguments */
    const char *spaces = " \t\n\v\f\r";
    for (size_t i = 0; spaces[i]; i++) {
        sx_kit_line_init(&l, spaces + i, 1);
        assert_true(sx_kit_line_space(&l));
        assert_true(sx_kit_line_at_end(&l));
    }
    sx_kit_line_init(&l, "x", 1);
    assert_false(sx_kit_line_space(&l));
    assert_int_equal(l.pos, 0);
}

static const char *b64(const char *text, uint8_t *out, size_t cap, size_t *n, size_t *pos)
{
    sx_kit_line l;
    sx_kit_line_init(&l, text, strlen(text));
    const char *err = sx_kit_line_b64url_arg(&l, out, cap, n);
    *pos = l.pos;
    return err;
}

static void test_b64url_arg(void **state)
{
    (void)state;
    uint8_t out[8];
    size_t n, pos;
    assert_null(b64(" AQIDBA==", out, sizeof out, &n, &pos));
    assert_int_equal(n, 4);
    assert_memory_equal(out, "\x01\x02\x03\x04", 4);
    assert_int_equal(pos, 9);
    assert_null(b64(" AQIDBA rest", out, sizeof out, &n, &pos)); /* trailing: the caller decides */
    assert_int_equal(pos, 7);
    assert_string_equal(b64("AQID", out, sizeof out, &n, &pos), "space");
    assert_string_equal(b64("", out, sizeof out, &n, &pos), "space");
    assert_string_equal(b64(" ", out, sizeof out, &n, &pos), "Failed reading: takeWhile1");
    assert_string_equal(b64(" +/", out, sizeof out, &n, &pos), "Failed reading: takeWhile1");
    assert_string_equal(b64(" A", out, sizeof out, &n, &pos), "Failed reading: invalid base64url"); /* truncated */
    assert_int_equal(n, 0);
    /* 9 bytes do not fit in 8 */
    assert_string_equal(b64(" AAAAAAAAAAAA", out, sizeof out, &n, &pos), "Failed reading: invalid base64url");
    assert_null(b64(" AAAAAAAAAAA", out, sizeof out, &n, &pos));
    assert_int_equal(n, 8);
}

static const char *auth(const char *text, sx_slice *pw, size_t *pos)
{
    sx_kit_line l;
    sx_kit_line_init(&l, text, strlen(text));
    const char *err = sx_kit_line_auth_arg(&l, pw);
    *pos = l.pos;
    return err;
}

static void test_auth_arg(void **state)
{
    (void)state;
    sx_slice pw;
    size_t pos;
    assert_null(auth(" s3cr3t!", &pw, &pos));
    assert_int_equal(pw.len, 7);
    assert_memory_equal(pw.ptr, "s3cr3t!", 7);
    assert_null(auth(" pw@host", &pw, &pos)); /* stops at '@', the caller sees the rest */
    assert_int_equal(pw.len, 2);
    assert_int_equal(pos, 3);
    assert_null(auth(" caf\xc3\xa9", &pw, &pos)); /* Latin-1 letters are printable */
    assert_string_equal(auth("pw", &pw, &pos), "space");
    assert_string_equal(auth(" ", &pw, &pos), "Failed reading: takeWhile1");
    assert_string_equal(auth(" @x", &pw, &pos), "Failed reading: takeWhile1");
    const char *bad[] = {" a b", " a:b", " a/b", " a\x7f", " a\x01", " a\xa0", " a\xad", " a\x85"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_string_equal(auth(bad[i], &pw, &pos), "Failed reading: invalid character in BasicAuth");
        assert_int_equal(pw.len, 0);
    }
}

/* ---- the line server ---- */

/* The test router: echoes lines, runs auth / need-user / need-admin / quit. */
static int lines_seen; /* atomic: the control thread counts, the test reads */

static void on_line(void *arg, sx_kit_ctl_conn *c, const char *s, size_t len)
{
    assert_ptr_equal(sx_kit_ctl_arg(c), &lines_seen);
    (void)arg;
    __atomic_add_fetch(&lines_seen, 1, __ATOMIC_RELAXED);
    sx_kit_line l;
    sx_kit_line_init(&l, s, len);
    sx_slice w = sx_kit_line_word(&l);
    if (sx_kit_line_word_is(w, "auth")) {
        sx_slice pw;
        const char *err = sx_kit_line_auth_arg(&l, &pw);
        if (err)
            sx_kit_ctl_say(c, "error: %s", err);
        else
            sx_kit_ctl_auth(c, pw);
    } else if (sx_kit_line_word_is(w, "need-user")) {
        if (sx_kit_ctl_allow(c, SX_KIT_CTL_USER))
            sx_kit_ctl_say(c, "user ok");
    } else if (sx_kit_line_word_is(w, "need-admin")) {
        if (sx_kit_ctl_allow(c, SX_KIT_CTL_ADMIN))
            sx_kit_ctl_say(c, "admin ok");
    } else if (sx_kit_line_word_is(w, "quit")) {
        sx_kit_ctl_quit(c);
    } else if (len > 100) {
        sx_kit_ctl_say(c, "got %zu bytes", len);
    } else {
        sx_kit_ctl_say(c, "got [%.*s]", (int)len, s);
    }
}

typedef struct client {
    int fd;
    char buf[16384];
    size_t len;
} client;

static sx_kit_ctl *ctl;

static int setup(void **state)
{
    (void)state;
    sx_kit_ctl_opts o = {
        .greeting = "TEST server control port",
        .port = 0,
        .user_password = "userpw",
        .admin_password = "adminpw",
        .quiet = true,
        .on_line = on_line,
        .arg = &lines_seen,
    };
    return sx_kit_ctl_start(&o, &ctl) == SX_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    sx_kit_ctl_stop(ctl);
    ctl = NULL;
    return 0;
}

static void cl_open(client *cl)
{
    memset(cl, 0, sizeof *cl);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(sx_kit_ctl_port(ctl))};
    a.sin_addr.s_addr = htonl(0x7f000001);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    cl->fd = fd;
}

static void cl_send(client *cl, const char *s, size_t n)
{
    assert_int_equal(send(cl->fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* The next answer line, or NULL when the server closed the connection. */
static const char *cl_line(client *cl)
{
    static char line[16384];
    for (;;) {
        char *nl = memchr(cl->buf, '\n', cl->len);
        if (nl) {
            size_t n = (size_t)(nl - cl->buf);
            memcpy(line, cl->buf, n);
            line[n] = 0;
            memmove(cl->buf, nl + 1, cl->len - n - 1);
            cl->len -= n + 1;
            return line;
        }
        ssize_t r = recv(cl->fd, cl->buf + cl->len, sizeof cl->buf - cl->len, 0);
        if (r == 0)
            return NULL;
        if (r < 0)
            fail_msg("control port: no answer (%s)", strerror(errno));
        cl->len += (size_t)r;
    }
}

static void expect(client *cl, const char *want)
{
    const char *got = cl_line(cl);
    if (!got)
        fail_msg("connection closed, expected \"%s\"", want);
    assert_string_equal(got, want);
}

static void test_session(void **state)
{
    (void)state;
    client cl;
    cl_open(&cl);
    expect(&cl, "TEST server control port");
    expect(&cl, "'help' for supported commands");
    /* two lines in one segment, "\r\n" and "\n", and one split across two */
    cl_send(&cl, "one\r\ntwo\nthr", 12);
    expect(&cl, "got [one]");
    expect(&cl, "got [two]");
    cl_send(&cl, "ee\n\n", 4);
    expect(&cl, "got [three]");
    expect(&cl, "got []");
    /* roles: none refuses; a wrong password leaves none and may be retried */
    cl_send(&cl, "need-user\n", 10);
    expect(&cl, "AUTH");
    cl_send(&cl, "auth wrong\n", 11);
    expect(&cl, "Current role is CPRNone");
    cl_send(&cl, "auth userpw\n", 12);
    expect(&cl, "Current role is CPRUser");
    cl_send(&cl, "need-user\nneed-admin\n", 21);
    expect(&cl, "user ok");
    expect(&cl, "AUTH");
    /* once set, the role stays for the session */
    cl_send(&cl, "auth adminpw\n", 13);
    expect(&cl, "Current role is CPRUser, start new session to change.");
    cl_send(&cl, "auth userpw\n", 12);
    expect(&cl, "Current role is CPRUser");
    /* quit: lines after it in the same segment are not run */
    int before = __atomic_load_n(&lines_seen, __ATOMIC_RELAXED);
    cl_send(&cl, "quit\nafter\n", 11);
    assert_null(cl_line(&cl));
    assert_int_equal(__atomic_load_n(&lines_seen, __ATOMIC_RELAXED), before + 1);
    close(cl.fd);

    /* a new session starts without a role */
    cl_open(&cl);
    expect(&cl, "TEST server control port");
    expect(&cl, "'help' for supported commands");
    cl_send(&cl, "auth adminpw\nneed-admin\n", 24);
    expect(&cl, "Current role is CPRAdmin");
    expect(&cl, "admin ok");
    close(cl.fd);
}

static void test_long_line(void **state)
{
    (void)state;
    client cl;
    cl_open(&cl);
    expect(&cl, "TEST server control port");
    expect(&cl, "'help' for supported commands");
    /* the longest line that fits (its '\n' included) is served */
    static char big[SX_KIT_CTL_LINE_MAX + 8];
    memset(big, 'x', sizeof big);
    big[SX_KIT_CTL_LINE_MAX - 1] = '\n';
    cl_send(&cl, big, SX_KIT_CTL_LINE_MAX);
    char want[64];
    snprintf(want, sizeof want, "got %d bytes", SX_KIT_CTL_LINE_MAX - 1);
    expect(&cl, want);
    /* one byte more without a line end: refused and closed */
    memset(big, 'y', sizeof big);
    cl_send(&cl, big, SX_KIT_CTL_LINE_MAX);
    expect(&cl, "error: line too long");
    assert_null(cl_line(&cl));
    close(cl.fd);
}

static void test_many_sessions(void **state)
{
    (void)state;
    /* more sessions than the server keeps: the extra ones are closed at
     * once, the others still work */
    client cl[20];
    size_t served = 0, refused = 0;
    for (size_t i = 0; i < 20; i++) {
        cl_open(&cl[i]);
        const char *got = cl_line(&cl[i]);
        if (got) {
            assert_string_equal(got, "TEST server control port");
            served++;
        } else {
            refused++;
        }
    }
    assert_int_equal(served, 16);
    assert_int_equal(refused, 4);
    for (size_t i = 0; i < 20; i++)
        close(cl[i].fd);
    /* closed sessions make room again */
    client again;
    for (int tries = 0;; tries++) {
        cl_open(&again);
        if (cl_line(&again))
            break;
        close(again.fd);
        assert_true(tries < 100);
        usleep(10000);
    }
    close(again.fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_word),
        cmocka_unit_test(test_b64url_arg),
        cmocka_unit_test(test_auth_arg),
        cmocka_unit_test_setup_teardown(test_session, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_sessions, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
