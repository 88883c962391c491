/* Unit tests of the routers' diagnostic lines (src/kit/say.h): the level
 * words, filtering by level (nothing written below it), the line's form,
 * cutting of long text, and lines of several threads never mixed (one write each). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "kit/say.h"

/* Lines go to a file opened for appending (g_fd[1]); g_fd[0] reads what
 * came since the last read. */
static int g_fd[2];
static char g_path[64];

static int setup(void **state)
{
    (void)state;
    setenv("TZ", "UTC", 1);
    tzset();
    snprintf(g_path, sizeof g_path, "/tmp/sx_say_XXXXXX");
    g_fd[1] = mkstemp(g_path);
    if (g_fd[1] < 0)
        return -1;
    close(g_fd[1]);
    g_fd[1] = open(g_path, O_WRONLY | O_APPEND);
    g_fd[0] = open(g_path, O_RDONLY);
    if (g_fd[0] < 0 || g_fd[1] < 0)
        return -1;
    sx_say_set_fd(g_fd[1]);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sx_say_set_fd(2);
    sx_say_set_level(SX_SAY_INFO);
    close(g_fd[0]);
    close(g_fd[1]);
    unlink(g_path);
    return 0;
}

static size_t drain(char *buf, size_t cap)
{
    size_t n = 0;
    for (;;) {
        ssize_t r = read(g_fd[0], buf + n, cap - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    buf[n] = 0;
    return n;
}

static void test_levels(void **state)
{
    (void)state;
    static const char *const words[] = {"trace", "debug", "info", "note", "warn", "error"};
    static const char *const names[] = {"TRACE", "DEBUG", "INFO", "NOTE", "WARN", "ERROR"};
    for (int i = 0; i < 6; i++) {
        sx_say_level l = SX_SAY_ERROR;
        assert_true(sx_say_parse_level(words[i], &l));
        assert_int_equal(l, i);
        assert_string_equal(sx_say_level_name(l), names[i]);
    }
    sx_say_level l;
    assert_false(sx_say_parse_level("DEBUG", &l));
    assert_false(sx_say_parse_level("", &l));
    assert_false(sx_say_parse_level("warning", &l));
    /* the default is info */
    assert_int_equal(sx_say_level_get(), SX_SAY_INFO);
}

static int g_formatted;
static const char *counted(void)
{
    g_formatted++;
    return "x";
}

static void test_filtering(void **state)
{
    (void)state;
    char buf[4096];
    drain(buf, sizeof buf);
    sx_say_set_level(SX_SAY_INFO);
    g_formatted = 0;
    SX_SAY(SX_SAY_DEBUG, "hidden %s", counted());
    SX_SAY(SX_SAY_TRACE, "hidden too");
    assert_int_equal(g_formatted, 0); /* the arguments are not even evaluated */
    assert_int_equal(drain(buf, sizeof buf), 0);
    SX_SAY(SX_SAY_INFO, "shown %d", 1);
    SX_SAY(SX_SAY_ERROR, "shown %d", 2);
    drain(buf, sizeof buf);
    assert_non_null(strstr(buf, "[INFO "));
    assert_non_null(strstr(buf, "] shown 1\n"));
    assert_non_null(strstr(buf, "[ERROR "));
    assert_null(strstr(buf, "hidden"));

    sx_say_set_level(SX_SAY_DEBUG);
    SX_SAY(SX_SAY_DEBUG, "now %s", counted());
    assert_int_equal(g_formatted, 1);
    drain(buf, sizeof buf);
    assert_non_null(strstr(buf, "[DEBUG "));
    assert_non_null(strstr(buf, "test_kit_say.c:"));
    assert_non_null(strstr(buf, "] now x\n"));

    sx_say_set_level(SX_SAY_ERROR);
    SX_SAY(SX_SAY_WARN, "warn is below error");
    assert_int_equal(drain(buf, sizeof buf), 0);
    sx_say_set_level(SX_SAY_INFO);
}

static void test_format(void **state)
{
    (void)state;
    char buf[256];
    /* 2024-01-01 00:00:00 UTC */
    size_t n = sx_say_format(buf, sizeof buf, SX_SAY_WARN, 1704067200, "/a/b/src/kit/workers.c", 205, "accept failed");
    assert_string_equal(buf, "[WARN 2024-01-01 00:00:00 +0000 workers.c:205] accept failed\n");
    assert_int_equal(n, strlen(buf));
    /* cut to the buffer, the newline kept */
    char small[24];
    n = sx_say_format(small, sizeof small, SX_SAY_NOTE, 1704067200, "f.c", 1, "long text");
    assert_int_equal(n, sizeof small - 1);
    assert_int_equal(strlen(small), n);
    assert_int_equal(small[n - 1], '\n');
    assert_memory_equal(small, "[NOTE 2024-01-01", 16);
    /* text longer than a line */
    char *big = malloc(3 * SX_SAY_LINE_MAX);
    assert_non_null(big);
    memset(big, 'y', 3 * SX_SAY_LINE_MAX - 1);
    big[3 * SX_SAY_LINE_MAX - 1] = 0;
    char out[8192];
    drain(out, sizeof out);
    SX_SAY(SX_SAY_ERROR, "%s", big);
    n = drain(out, sizeof out);
    assert_true(n > 0 && n < SX_SAY_LINE_MAX + 128);
    assert_int_equal(out[n - 1], '\n');
    assert_ptr_equal(strchr(out, '\n'), out + n - 1);
    free(big);
}

static void *writer(void *arg)
{
    char tag = (char)(intptr_t)arg;
    char text[301];
    memset(text, tag, 300);
    text[300] = 0;
    for (int i = 0; i < 200; i++)
        SX_SAY(SX_SAY_INFO, "%s", text);
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    drain(buf, 1 << 20);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, writer, (void *)(intptr_t)('a' + i)), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    drain(buf, 1 << 20);
    size_t lines = 0;
    for (char *line = buf, *end; *line; line = end + 1) {
        end = strchr(line, '\n');
        assert_non_null(end);
        char *text = strstr(line, "] ");
        assert_non_null(text);
        text += 2;
        assert_int_equal(end - text, 300);
        for (char *p = text; p < end; p++)
            assert_int_equal(*p, *text); /* one thread's text only */
        lines++;
    }
    assert_int_equal(lines, 800);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_filtering),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
