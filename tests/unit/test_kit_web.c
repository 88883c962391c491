/* Unit tests of the router kit's static web server (kit/web.h): request
 * heads (complete, truncated, oversized, trailing bytes, malformed), the
 * file resolution (index.html, .well-known, `..`, a symbolic link leading
 * out of the root), content types, and the server on a real loopback
 * socket over plain HTTP: 200 with the file, HEAD, 404, 405, 400,
 * keep-alive with two requests on one connection. */
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "testutil.h"

#include "kit/web.h"
#include "transport/net.h"

static sx_status parse_str(const char *s, sx_kit_http_req *req, size_t *used)
{
    return sx_kit_http_parse((const uint8_t *)s, strlen(s), req, used);
}

static void test_parse(void **state)
{
    (void)state;
    sx_kit_http_req req;
    size_t used = 0;
    const char *a = "GET /a/b%20c?x=1 HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\nGET";
    assert_int_equal(parse_str(a, &req, &used), SX_OK);
    assert_string_equal(req.method, "GET");
    assert_string_equal(req.path, "/a/b c");
    assert_int_equal(req.minor, 1);
    assert_true(req.keep_alive);
    assert_false(req.has_body);
    assert_int_equal(used, strlen(a) - 3); /* trailing bytes stay for the next request */

    assert_int_equal(parse_str("HEAD / HTTP/1.0\r\n\r\n", &req, &used), SX_OK);
    assert_false(req.keep_alive);
    assert_int_equal(parse_str("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &req, &used), SX_OK);
    assert_true(req.keep_alive);
    assert_int_equal(parse_str("GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n", &req, &used), SX_OK);
    assert_false(req.keep_alive);
    assert_int_equal(parse_str("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", &req, &used), SX_OK);
    assert_true(req.has_body);
    assert_int_equal(parse_str("GET / HTTP/1.1\r\ncontent-length: 0\r\n\r\n", &req, &used), SX_OK);
    assert_false(req.has_body);

    /* truncated: every proper prefix waits for more */
    size_t n = strlen(a) - 3;
    for (size_t i = 0; i < n; i++)
        assert_int_equal(sx_kit_http_parse((const uint8_t *)a, i, &req, &used), SX_E_WOULD_BLOCK);

    /* malformed */
    const char *bad[] = {
        "GET\r\n\r\n",
        "GET  / HTTP/1.1\r\n\r\n",
        "GET x HTTP/1.1\r\n\r\n",
        "GET / HTTP/2.0\r\n\r\n",
        "GET / HTTP/1.1x\r\n\r\n",
        "GET / HTTP/1.x\r\n\r\n",
        "GET /%zz HTTP/1.1\r\n\r\n",
        "GET /%00 HTTP/1.1\r\n\r\n",
        "GET /%2 HTTP/1.1\r\n\r\n",
        "G(T / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
        "GET / HTTP/1.1\r\n: empty name\r\n\r\n",
        "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(parse_str(bad[i], &req, &used), SX_E_PROTOCOL);

    /* oversized: a long method, a long path, a head that never ends */
    assert_int_equal(parse_str("GETGETGETGET / HTTP/1.1\r\n\r\n", &req, &used), SX_E_LIMIT);
    char *big = malloc(SX_KIT_HTTP_HEAD_MAX + 64);
    assert_non_null(big);
    memcpy(big, "GET /", 5);
    memset(big + 5, 'a', SX_KIT_HTTP_PATH_MAX + 10);
    strcpy(big + 5 + SX_KIT_HTTP_PATH_MAX + 10, " HTTP/1.1\r\n\r\n");
    assert_int_equal(parse_str(big, &req, &used), SX_E_LIMIT);
    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    memset(big + 19, 'b', SX_KIT_HTTP_HEAD_MAX + 20);
    assert_int_equal(sx_kit_http_parse((const uint8_t *)big, SX_KIT_HTTP_HEAD_MAX + 39, &req, &used), SX_E_LIMIT);
    assert_int_equal(sx_kit_http_parse((const uint8_t *)big, 100, &req, &used), SX_E_WOULD_BLOCK);
    free(big);
}

static sx_status path_of(const char *t, char *out, size_t cap)
{
    return sx_kit_http_path((const uint8_t *)t, strlen(t), out, cap);
}

static void test_path(void **state)
{
    (void)state;
    char out[16];
    assert_int_equal(path_of("/a%2Fb?q=%zz#f", out, sizeof out), SX_OK);
    assert_string_equal(out, "/a/b");
    assert_int_equal(path_of("/", out, sizeof out), SX_OK);
    assert_string_equal(out, "/");
    assert_int_equal(path_of("", out, sizeof out), SX_E_PROTOCOL);
    assert_int_equal(path_of("a/b", out, sizeof out), SX_E_PROTOCOL);
    assert_int_equal(path_of("/a b", out, sizeof out), SX_E_PROTOCOL);
    assert_int_equal(path_of("/a%4", out, sizeof out), SX_E_PROTOCOL);  /* truncated escape */
    assert_int_equal(path_of("/a%00", out, sizeof out), SX_E_PROTOCOL); /* NUL */
    assert_int_equal(path_of("/\x7f", out, sizeof out), SX_E_PROTOCOL);
    assert_int_equal(path_of("/123456789012345", out, sizeof out), SX_E_LIMIT);
    assert_int_equal(path_of("/12345678901234", out, sizeof out), SX_OK);
    /* the length given is respected: bytes after it are not read */
    assert_int_equal(sx_kit_http_path((const uint8_t *)"/ab%zz", 3, out, sizeof out), SX_OK);
    assert_string_equal(out, "/ab");
}

static char root[PATH_MAX];

static void put_file(const char *rel, const char *text)
{
    char p[PATH_MAX * 2];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup_root(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/sx_web_XXXXXX";
    char *d = mkdtemp(tmpl);
    if (!d || !realpath(d, root))
        return -1;
    char p[PATH_MAX * 2];
    snprintf(p, sizeof p, "%s/contact", root);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/well-known", root);
    mkdir(p, 0755);
    put_file("index.html", "<p>home</p>\n");
    put_file("contact/index.html", "<p>link</p>\n");
    put_file("well-known/assetlinks.json", "[]\n");
    put_file(".hidden", "secret\n");
    snprintf(p, sizeof p, "%s/out", root);
    if (symlink("/etc/passwd", p) != 0)
        return -1;
    return 0;
}

static int teardown_root(void **state)
{
    (void)state;
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_resolve(void **state)
{
    (void)state;
    char out[PATH_MAX], want[PATH_MAX * 2];
    assert_int_equal(sx_kit_web_resolve(root, "/", out, sizeof out), SX_OK);
    snprintf(want, sizeof want, "%s/index.html", root);
    assert_string_equal(out, want);
    assert_int_equal(sx_kit_web_resolve(root, "/contact", out, sizeof out), SX_OK);
    snprintf(want, sizeof want, "%s/contact/index.html", root);
    assert_string_equal(out, want);
    assert_int_equal(sx_kit_web_resolve(root, "/contact/", out, sizeof out), SX_OK);
    assert_string_equal(out, want);
    assert_int_equal(sx_kit_web_resolve(root, "/.well-known/assetlinks.json", out, sizeof out), SX_OK);
    snprintf(want, sizeof want, "%s/well-known/assetlinks.json", root);
    assert_string_equal(out, want);
    assert_int_equal(sx_kit_web_resolve(root, "/well-known/assetlinks.json", out, sizeof out), SX_OK);
    assert_int_equal(sx_kit_web_resolve(root, "/missing.html", out, sizeof out), SX_E_IO);
    assert_int_equal(sx_kit_web_resolve(root, "/.hidden", out, sizeof out), SX_E_IO);
    assert_int_equal(sx_kit_web_resolve(root, "/contact/../index.html", out, sizeof out), SX_E_IO);
    assert_int_equal(sx_kit_web_resolve(root, "/../etc/passwd", out, sizeof out), SX_E_IO);
    assert_int_equal(sx_kit_web_resolve(root, "/out", out, sizeof out), SX_E_IO);
    assert_int_equal(sx_kit_web_resolve(root, "relative", out, sizeof out), SX_E_IO);
    assert_int_equal(sx_kit_web_resolve(root, "/", out, 4), SX_E_LIMIT);
}

static void test_mime(void **state)
{
    (void)state;
    assert_string_equal(sx_kit_web_mime("/x/index.html"), "text/html; charset=utf-8");
    assert_string_equal(sx_kit_web_mime("a.css"), "text/css");
    assert_string_equal(sx_kit_web_mime("f.woff2"), "font/woff2");
    assert_string_equal(sx_kit_web_mime("/w/apple-app-site-association"), "application/json");
    assert_string_equal(sx_kit_web_mime("noext"), "application/octet-stream");
    assert_string_equal(sx_kit_web_mime(".html"), "application/octet-stream");
}

/* One exchange on a fresh or given socket: sends req, reads until the
 * peer closes or `until` bytes arrived. */
static size_t exchange(int fd, const char *req, char *buf, size_t cap, size_t until)
{
    assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
    size_t have = 0;
    while (have + 1 < cap && have < until) {
        ssize_t n = recv(fd, buf + have, cap - 1 - have, 0);
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    buf[have] = 0;
    return have;
}

static int connect_to(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void test_server(void **state)
{
    (void)state;
    sx_kit_web_opts o = {.root = root, .host = "127.0.0.1", .http = true, .io_timeout_ms = 5000};
    sx_kit_web *w = NULL;
    char err[256];
    assert_int_equal(sx_kit_web_start(&o, &w, err, sizeof err), SX_OK);
    uint16_t port = sx_kit_web_http_port(w);
    assert_true(port > 0);
    assert_int_equal(sx_kit_web_https_port(w), 0);
    assert_null(sx_kit_web_tls(w));
    char buf[4096];

    int fd = connect_to(port);
    exchange(fd, "GET / HTTP/1.0\r\n\r\n", buf, sizeof buf, SIZE_MAX);
    close(fd);
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(buf, "Content-Type: text/html; charset=utf-8\r\n"));
    assert_non_null(strstr(buf, "Content-Length: 12\r\n"));
    assert_non_null(strstr(buf, "\r\n\r\n<p>home</p>\n"));

    fd = connect_to(port);
    exchange(fd, "HEAD /contact HTTP/1.1\r\nConnection: close\r\n\r\n", buf, sizeof buf, SIZE_MAX);
    close(fd);
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
    assert_null(strstr(buf, "<p>link</p>"));

    fd = connect_to(port);
    exchange(fd, "GET /nothing HTTP/1.1\r\nConnection: close\r\n\r\n", buf, sizeof buf, SIZE_MAX);
    close(fd);
    assert_non_null(strstr(buf, "HTTP/1.1 404 Not Found\r\n"));

    fd = connect_to(port);
    exchange(fd, "GET /../../etc/passwd HTTP/1.1\r\nConnection: close\r\n\r\n", buf, sizeof buf, SIZE_MAX);
    close(fd);
    assert_non_null(strstr(buf, "HTTP/1.1 404 Not Found\r\n"));

    fd = connect_to(port);
    exchange(fd, "DELETE / HTTP/1.1\r\n\r\n", buf, sizeof buf, SIZE_MAX);
    close(fd);
    assert_non_null(strstr(buf, "HTTP/1.1 405 Method Not Allowed\r\n"));
    assert_non_null(strstr(buf, "Allow: GET, HEAD\r\n"));

    fd = connect_to(port);
    exchange(fd, "garbage\r\n\r\n", buf, sizeof buf, SIZE_MAX);
    close(fd);
    assert_non_null(strstr(buf, "HTTP/1.1 400 Bad Request\r\n"));

    /* keep-alive: two requests, pipelined, on one connection */
    fd = connect_to(port);
    exchange(fd,
             "GET /.well-known/assetlinks.json HTTP/1.1\r\nHost: a\r\n\r\n"
             "GET /contact/ HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
             buf, sizeof buf, SIZE_MAX);
    close(fd);
    char *second = strstr(buf, "[]\n");
    assert_non_null(second);
    assert_non_null(strstr(buf, "Content-Type: application/json\r\n"));
    assert_non_null(strstr(second, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(second, "<p>link</p>"));

    /* an idle connection does not hold the stop */
    fd = connect_to(port);
    sx_kit_web_stop(w);
    close(fd);

    /* a missing root and https without a certificate are refused */
    o.root = "/nonexistent/sx-web";
    assert_int_equal(sx_kit_web_start(&o, &w, err, sizeof err), SX_E_IO);
    o.root = root;
    o.https = true;
    assert_int_equal(sx_kit_web_start(&o, &w, err, sizeof err), SX_E_USAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_path),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_mime),
        cmocka_unit_test(test_server),
    };
    return cmocka_run_group_tests(tests, setup_root, teardown_root);
}
