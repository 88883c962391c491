/* Unit tests of the state file of an unfinished `xftp send`
 * (src/xftp_client/transfer_state.c): print and parse give the same text;
 * every truncation, trailing bytes, an oversized text, counts the text
 * cannot hold and each kind of bad field are refused; save and load. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#include "xftp_client/transfer_state.h"

#define ROUTER "xftp://LqqcrREfI9xvadNfMqB87av6TGNNYARB5y_BfzwiAjA=@127.0.0.1:443"

/* Two chunks, two recipients; chunk 1 uploaded, chunk 2 created only. */
static char *sample(size_t *len)
{
    sx_xftp_send_state s;
    assert_ok(sx_xftp_state_alloc(&s, 2, 2));
    for (size_t i = 0; i < sizeof s.key; i++)
        s.key[i] = (uint8_t)i;
    for (size_t i = 0; i < sizeof s.nonce; i++)
        s.nonce[i] = (uint8_t)(0x80 + i);
    for (size_t i = 0; i < sizeof s.digest; i++)
        s.digest[i] = (uint8_t)(0x40 ^ i);
    s.src_size = 1000000;
    s.src_mtime_sec = 1765000000;
    s.src_mtime_nsec = 123456789;
    s.enc_size = 4194304 + 1048576;
    for (size_t i = 0; i < 2; i++) {
        sx_xftp_state_chunk *c = &s.chunks[i];
        c->number = (uint32_t)i + 1;
        c->size = i == 0 ? 4194304 : 1048576;
        memset(c->digest, 0x11 * (int)(i + 1), sizeof c->digest);
        snprintf(c->router, sizeof c->router, "%s", ROUTER);
        c->snd_key.len = 48;
        memset(c->snd_key.der, 0x30 + (int)i, c->snd_key.len);
        c->snd_id.len = 24;
        memset(c->snd_id.bytes, 0xa0 + (int)i, 24);
        for (int j = 0; j < 2; j++) {
            c->rcv_keys[j].len = 48;
            memset(c->rcv_keys[j].der, 0x50 + j, 48);
            c->rcv_ids[j].len = 24;
            memset(c->rcv_ids[j].bytes, 0xc0 + j, 24);
        }
        c->uploaded = i == 0;
    }
    char *text = NULL;
    assert_ok(sx_xftp_state_print(&s, &text, len));
    sx_xftp_state_cleanup(&s);
    return text;
}

static sx_status parse(const char *t, size_t n)
{
    sx_xftp_send_state s;
    sx_status st = sx_xftp_state_parse(t, n, &s);
    if (st == SX_OK)
        sx_xftp_state_cleanup(&s);
    return st;
}

/* The sample with the first occurrence of from replaced by to. */
static char *edited(const char *text, const char *from, const char *to)
{
    const char *p = strstr(text, from);
    assert_non_null(p);
    size_t a = (size_t)(p - text), fl = strlen(from), tl = strlen(to), n = strlen(text);
    char *out = malloc(n - fl + tl + 1);
    assert_non_null(out);
    memcpy(out, text, a);
    memcpy(out + a, to, tl);
    memcpy(out + a + tl, p + fl, n - a - fl + 1);
    return out;
}

static void expect_bad(const char *text, const char *from, const char *to)
{
    char *t = edited(text, from, to);
    if (parse(t, strlen(t)) != SX_E_PROTOCOL)
        fail_msg("accepted with \"%s\" -> \"%s\"", from, to);
    free(t);
}

static void test_round_trip(void **state)
{
    (void)state;
    size_t len;
    char *text = sample(&len);
    sx_xftp_send_state s;
    assert_ok(sx_xftp_state_parse(text, len, &s));
    assert_int_equal(s.chunk_count, 2);
    assert_int_equal(s.recipients, 2);
    assert_true(s.chunks[0].uploaded);
    assert_false(s.chunks[1].uploaded);
    assert_string_equal(s.chunks[1].router, ROUTER);
    char *again = NULL;
    size_t len2;
    assert_ok(sx_xftp_state_print(&s, &again, &len2));
    assert_int_equal(len2, len);
    assert_memory_equal(again, text, len);
    sx_xftp_state_cleanup(&s);
    free(again);
    free(text);
}

static void test_truncated_and_trailing(void **state)
{
    (void)state;
    size_t len;
    char *text = sample(&len);
    /* every proper prefix but the one that only lacks the last newline */
    for (size_t n = 0; n + 1 < len; n++)
        if (parse(text, n) != SX_E_PROTOCOL)
            fail_msg("a prefix of %zu of %zu bytes was accepted", n, len);
    char *more = malloc(len + 2);
    assert_non_null(more);
    memcpy(more, text, len);
    more[len] = 'x';
    assert_int_equal(parse(more, len + 1), SX_E_PROTOCOL);
    more[len] = '\n';
    assert_int_equal(parse(more, len + 1), SX_E_PROTOCOL);
    free(more);
    /* over the size limit, whatever it holds */
    size_t big = (size_t)SX_XFTP_STATE_MAX_LEN + 1;
    char *huge = malloc(big);
    assert_non_null(huge);
    memset(huge, 'a', big);
    memcpy(huge, text, len);
    assert_int_equal(parse(huge, big), SX_E_PROTOCOL);
    free(huge);
    free(text);
}

static void test_bad_fields(void **state)
{
    (void)state;
    size_t len;
    char *text = sample(&len);
    expect_bad(text, "xftp-send-state 1", "xftp-send-state 2");
    expect_bad(text, "key 00010203", "key 00010x03");
    expect_bad(text, "key 000102030405060708090a", "key 000102030405060708090A"); /* upper-case hex */
    expect_bad(text, "nonce 8081", "nonce 81"); /* a byte short */
    expect_bad(text, "source-size 1000000", "source-size 01000000"); /* a leading zero */
    expect_bad(text, "source-size 1000000", "source-size -1000000");
    expect_bad(text, "source-mtime 1765000000 123456789", "source-mtime 1765000000 1234567890");
    expect_bad(text, "source-mtime 1765000000 123456789", "source-mtime 1765000000");
    expect_bad(text, "encrypted-size 5242880", "encrypted-size 5242881"); /* chunk sizes sum differs */
    expect_bad(text, "recipients 2", "recipients 0");
    expect_bad(text, "recipients 2", "recipients 256");
    expect_bad(text, "chunks 2", "chunks 0");
    expect_bad(text, "chunks 2", "chunks 4096"); /* more than the text can hold */
    expect_bad(text, "chunks 2", "chunks 4097");
    expect_bad(text, "chunk 1 ", "chunk 2 "); /* out of order */
    expect_bad(text, "chunk 1 4194304", "chunk 1 0");
    expect_bad(text, "router xftp://", "router smp://");
    expect_bad(text, "sender-id a0a0", "sender-id  a0a0");
    expect_bad(text, "uploaded yes", "uploaded maybe");
    expect_bad(text, "\nend", "\nended");
    expect_bad(text, "sender-key ", "sender_key ");
    free(text);
}

static void test_save_load(void **state)
{
    (void)state;
    char dir[] = "/tmp/sx_send_state_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/state", dir);
    size_t len;
    char *text = sample(&len);
    sx_xftp_send_state s, back;
    assert_ok(sx_xftp_state_parse(text, len, &s));
    assert_ok(sx_xftp_state_save(&s, path));
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_ok(sx_xftp_state_load(path, &back));
    assert_int_equal(back.enc_size, s.enc_size);
    assert_memory_equal(back.key, s.key, sizeof s.key);
    sx_xftp_state_cleanup(&back);
    sx_xftp_state_cleanup(&s);
    char missing[160];
    snprintf(missing, sizeof missing, "%s/nothing", dir);
    assert_int_equal(sx_xftp_state_load(missing, &back), SX_E_IO);
    free(text);
    tu_rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_truncated_and_trailing),
        cmocka_unit_test(test_bad_fields),
        cmocka_unit_test(test_save_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
