/* Unit tests of the XFTP control-port line parser (xs_cp_parse in
 * src/xftp_router/server_control.c): every command, the reference's error
 * messages, truncated and oversize ids, trailing bytes, logging flag. */
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#include "xftp_router/server_control.h"

static xs_cp_cmd cmd;

static void parse(const char *line)
{
    memset(&cmd, 0xa5, sizeof cmd); /* the parser must write every field */
    xs_cp_parse(line, strlen(line), &cmd);
}

static void expect_error(const char *line, const char *msg)
{
    parse(line);
    assert_int_equal(cmd.kind, XS_CP_ERROR);
    assert_non_null(cmd.error);
    assert_string_equal(cmd.error, msg);
}

static void test_simple(void **state)
{
    (void)state;
    parse("");
    assert_int_equal(cmd.kind, XS_CP_EMPTY);
    assert_false(cmd.loggable);
    parse("stats-rts");
    assert_int_equal(cmd.kind, XS_CP_STATS_RTS);
    assert_true(cmd.loggable);
    parse("help");
    assert_int_equal(cmd.kind, XS_CP_HELP);
    assert_false(cmd.loggable);
    parse("quit");
    assert_int_equal(cmd.kind, XS_CP_QUIT);
    assert_false(cmd.loggable);
    /* trailing bytes after a word without arguments */
    expect_error("help ", "endOfInput");
    expect_error("quit now", "endOfInput");
    expect_error("stats-rts x", "endOfInput");
    assert_false(cmd.loggable); /* the reference logs only parsed commands */
    expect_error("stats", "Failed reading: bad ControlProtocol command");
    expect_error("HELP", "Failed reading: bad ControlProtocol command");
    expect_error("helpx", "Failed reading: bad ControlProtocol command");
    /* a line starting with a space has an empty first word, which takes
     * no arguments */
    expect_error(" help", "endOfInput");
    /* bytes after a NUL are still part of the line */
    xs_cp_parse("help\0x", 6, &cmd);
    assert_int_equal(cmd.kind, XS_CP_ERROR);
}

static void test_auth(void **state)
{
    (void)state;
    parse("auth s3cret");
    assert_int_equal(cmd.kind, XS_CP_AUTH);
    assert_false(cmd.loggable); /* never log passwords */
    assert_int_equal(cmd.password.len, 6);
    assert_memory_equal(cmd.password.ptr, "s3cret", 6);
    /* the word ends at a space only */
    expect_error("auth\ts3cret", "Failed reading: bad ControlProtocol command");
    /* a BasicAuth password: printable, no space, ':' or '/', ends at '@' */
    expect_error("auth s3cret pass", "Failed reading: invalid character in BasicAuth");
    expect_error("auth a:b", "Failed reading: invalid character in BasicAuth");
    expect_error("auth a/b", "Failed reading: invalid character in BasicAuth");
    expect_error("auth a\x01", "Failed reading: invalid character in BasicAuth");
    expect_error("auth pw@host", "endOfInput");
    expect_error("auth @", "Failed reading: takeWhile1");
    expect_error("auth", "space");
    assert_false(cmd.loggable);
    expect_error("auth ", "Failed reading: takeWhile1");
    expect_error("authx", "Failed reading: bad ControlProtocol command");
}

static void test_delete(void **state)
{
    (void)state;
    parse("delete AQIDBA==");
    assert_int_equal(cmd.kind, XS_CP_DELETE);
    assert_true(cmd.loggable);
    assert_int_equal(cmd.id_len, 4);
    assert_memory_equal(cmd.id, "\x01\x02\x03\x04", 4);
    parse("delete AQIDBA"); /* padding is optional */
    assert_int_equal(cmd.kind, XS_CP_DELETE);
    assert_int_equal(cmd.id_len, 4);
    parse("delete -_-_");
    assert_int_equal(cmd.kind, XS_CP_DELETE);
    assert_int_equal(cmd.id_len, 3);
    assert_memory_equal(cmd.id, "\xfb\xff\xbf", 3);
    expect_error("delete", "space");
    expect_error("delete ", "Failed reading: takeWhile1");
    expect_error("delete  AQID", "Failed reading: takeWhile1");
    expect_error("delete +/==", "Failed reading: takeWhile1"); /* standard alphabet */
    expect_error("delete A", "Failed reading: invalid base64url"); /* truncated */
    expect_error("delete AQIDBA== ", "endOfInput");
    expect_error("delete AQIDBA==x", "endOfInput");
    expect_error("delete AQ=ID", "endOfInput");
    /* the largest id a line can hold, and one that cannot fit */
    static char line[XS_CP_LINE_MAX * 2];
    memcpy(line, "delete ", 7);
    memset(line + 7, 'A', XS_CP_LINE_MAX - 8);
    line[XS_CP_LINE_MAX - 1] = 0; /* 4088 characters, a multiple of 4 */
    parse(line);
    assert_int_equal(cmd.kind, XS_CP_DELETE);
    assert_int_equal(cmd.id_len, (XS_CP_LINE_MAX - 8) / 4 * 3);
    memset(line + 7, 'A', sizeof line - 8);
    line[sizeof line - 1] = 0;
    expect_error(line, "Failed reading: invalid base64url");
}

static void test_block(void **state)
{
    (void)state;
    parse("block AQIDBA== reason=spam");
    assert_int_equal(cmd.kind, XS_CP_BLOCK);
    assert_true(cmd.loggable);
    assert_int_equal(cmd.id_len, 4);
    assert_int_equal(cmd.info.reason, SX_SMP_BLOCK_SPAM);
    assert_false(cmd.info.has_notice);
    parse("block AQIDBA== reason=content,notice={\"ttl\":3600}");
    assert_int_equal(cmd.kind, XS_CP_BLOCK);
    assert_int_equal(cmd.info.reason, SX_SMP_BLOCK_CONTENT);
    assert_true(cmd.info.has_notice);
    assert_true(cmd.info.has_ttl);
    assert_int_equal(cmd.info.ttl, 3600);
    expect_error("block AQIDBA==", "space");
    expect_error("block AQIDBA== ", "Failed reading: bad BlockingInfo");
    expect_error("block AQIDBA== reason=other", "Failed reading: bad BlockingInfo");
    expect_error("block AQIDBA== reason=spam ", "Failed reading: bad BlockingInfo");
    expect_error("block AQIDBA== reason=content,notice={\"ttl\":1", "Failed reading: bad BlockingInfo");
    expect_error("block AQIDBAx", "Failed reading: invalid base64url");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple),
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_delete),
        cmocka_unit_test(test_block),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
