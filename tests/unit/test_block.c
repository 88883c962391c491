/* Unit tests of transport blocks and batches (PROTOCOL-NOTES B12-B14, B33,
 * P5). */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/block.h"

static uint8_t block[SX_BLOCK_SIZE];

static void test_constants(void **state)
{
    (void)state;
    assert_int_equal(SX_BLOCK_SIZE, 16384);
    assert_int_equal(SX_BLOCK_MAX_CONTENT, 16382);
    assert_int_equal(SX_BLOCK_ENC_MAX_CONTENT, 16366);
    assert_int_equal(SX_BATCH_CAP_PLAIN, 16381);
    assert_int_equal(SX_BATCH_CAP_ENCRYPTED, 16365); /* PROTOCOL-NOTES B14: 16384 - 2 - 1 - 16 */
    assert_int_equal(sx_batch_capacity(true), 16365);
    assert_int_equal(sx_batch_capacity(false), 16381);
}

/* PROTOCOL-NOTES W1 shape: 00 52 || 82 bytes || '#' to 16384. */
static void test_block_layout(void **state)
{
    (void)state;
    uint8_t content[82];
    tu_bytes_seq(content, sizeof content, 7);
    assert_ok(sx_block_encode(sx_slice_of(content, sizeof content), block));
    assert_int_equal(block[0], 0x00);
    assert_int_equal(block[1], 0x52);
    assert_bytes_equal(block + 2, content, sizeof content);
    for (size_t i = 2 + sizeof content; i < SX_BLOCK_SIZE; i++)
        assert_int_equal(block[i], '#');
    sx_slice c;
    assert_ok(sx_block_decode(sx_slice_of(block, SX_BLOCK_SIZE), &c));
    assert_int_equal(c.len, sizeof content);
    assert_ptr_equal(c.ptr, block + 2);
}

static void test_block_roundtrip_sizes(void **state)
{
    (void)state;
    static uint8_t content[SX_BLOCK_MAX_CONTENT + 1];
    tu_bytes_seq(content, sizeof content, 0);
    const size_t sizes[] = {0, 1, 255, 256, 16000, SX_BLOCK_MAX_CONTENT};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        assert_ok(sx_block_encode(sx_slice_of(content, sizes[i]), block));
        sx_slice c;
        assert_ok(sx_block_decode(sx_slice_of(block, SX_BLOCK_SIZE), &c));
        assert_int_equal(c.len, sizes[i]);
        assert_bytes_equal(c.ptr, content, sizes[i]);
    }
    assert_int_equal(sx_block_encode(sx_slice_of(content, SX_BLOCK_MAX_CONTENT + 1), block), SX_E_LIMIT);
}

static void test_block_decode_bad(void **state)
{
    (void)state;
    sx_slice c;
    static uint8_t big[SX_BLOCK_SIZE + 1];
    memset(big, '#', sizeof big);
    big[0] = 0;
    big[1] = 0;
    /* PROTOCOL-NOTES B12: only whole blocks. */
    assert_int_equal(sx_block_decode(sx_slice_of(big, SX_BLOCK_SIZE - 1), &c), SX_E_PROTOCOL);
    assert_int_equal(sx_block_decode(sx_slice_of(big, SX_BLOCK_SIZE + 1), &c), SX_E_PROTOCOL);
    assert_int_equal(sx_block_decode(sx_slice_of(big, 0), &c), SX_E_PROTOCOL);
    assert_int_equal(sx_block_decode(sx_slice_of(big, 2), &c), SX_E_PROTOCOL);
    /* Declared length: 16382 fits exactly, 16383 and 0xffff do not. */
    big[0] = 0x3f;
    big[1] = 0xfe;
    assert_ok(sx_block_decode(sx_slice_of(big, SX_BLOCK_SIZE), &c));
    assert_int_equal(c.len, 16382);
    big[1] = 0xff;
    assert_int_equal(sx_block_decode(sx_slice_of(big, SX_BLOCK_SIZE), &c), SX_E_PROTOCOL);
    assert_null(c.ptr);
    assert_int_equal(c.len, 0);
    big[0] = 0xff;
    assert_int_equal(sx_block_decode(sx_slice_of(big, SX_BLOCK_SIZE), &c), SX_E_PROTOCOL);
}

static void test_batch_layout(void **state)
{
    (void)state;
    sx_batch *b = malloc(sizeof *b);
    assert_non_null(b);
    assert_ok(sx_batch_init(b, SX_BATCH_CAP_ENCRYPTED));
    sx_slice content;
    /* An empty batch has no valid encoding (count 0 is invalid). */
    assert_int_equal(sx_batch_content(b, &content), SX_E_USAGE);
    assert_ok(sx_batch_add(b, sx_slice_str("abc")));
    assert_ok(sx_batch_add(b, sx_slice_of(NULL, 0)));
    assert_ok(sx_batch_add(b, sx_slice_str("de")));
    assert_int_equal(sx_batch_add(b, sx_slice_of(NULL, 1)), SX_E_USAGE);
    assert_int_equal(sx_batch_count(b), 3);
    assert_ok(sx_batch_content(b, &content));
    const uint8_t expect[] = {3, 0, 3, 'a', 'b', 'c', 0, 0, 0, 2, 'd', 'e'};
    assert_int_equal(content.len, sizeof expect);
    assert_bytes_equal(content.ptr, expect, sizeof expect);

    sx_batch_reset(b);
    assert_int_equal(sx_batch_count(b), 0);
    assert_int_equal(sx_batch_content(b, &content), SX_E_USAGE);
    assert_ok(sx_batch_add(b, sx_slice_str("x")));
    assert_ok(sx_batch_content(b, &content));
    const uint8_t expect1[] = {1, 0, 1, 'x'};
    assert_int_equal(content.len, sizeof expect1);
    assert_bytes_equal(content.ptr, expect1, sizeof expect1);
    free(b);
}

static void test_batch_init_bad(void **state)
{
    (void)state;
    sx_batch *b = malloc(sizeof *b);
    assert_non_null(b);
    assert_int_equal(sx_batch_init(b, 0), SX_E_USAGE);
    assert_int_equal(sx_batch_init(b, SX_BATCH_CAP_PLAIN + 1), SX_E_USAGE);
    assert_int_equal(sx_batch_init(NULL, 100), SX_E_USAGE);
    assert_ok(sx_batch_init(b, SX_BATCH_CAP_PLAIN));
    assert_ok(sx_batch_init(b, 1));
    /* A capacity of 1 cannot hold even an empty Large item. */
    assert_int_equal(sx_batch_add(b, sx_slice_str("")), SX_E_LIMIT);
    free(b);
}

/* Fill a batch up to its capacity, in both modes: the last item that fits
 * exactly is accepted, one more byte is refused and leaves the batch as it
 * was, and the full content still makes a block. */
static void check_fill(size_t cap, bool encrypted)
{
    static uint8_t data[SX_BLOCK_SIZE];
    tu_bytes_seq(data, sizeof data, 3);
    sx_batch *b = malloc(sizeof *b);
    assert_non_null(b);
    assert_ok(sx_batch_init(b, cap));

    /* A single transmission of cap - 2 bytes fits alone, cap - 1 never does. */
    assert_true(sx_batch_fits_alone(cap, cap - 2));
    assert_false(sx_batch_fits_alone(cap, cap - 1));
    assert_int_equal(sx_batch_add(b, sx_slice_of(data, cap - 1)), SX_E_LIMIT);
    assert_int_equal(sx_batch_count(b), 0);
    assert_ok(sx_batch_add(b, sx_slice_of(data, cap - 2)));
    assert_int_equal(sx_batch_add(b, sx_slice_str("")), SX_E_LIMIT);
    sx_slice content;
    assert_ok(sx_batch_content(b, &content));
    assert_int_equal(content.len, 1 + cap);

    /* Several items summing to exactly cap. */
    sx_batch_reset(b);
    assert_ok(sx_batch_add(b, sx_slice_of(data, 1000)));
    assert_ok(sx_batch_add(b, sx_slice_of(data, 5000)));
    size_t last = cap - (2 + 1000) - (2 + 5000) - 2;
    assert_int_equal(sx_batch_add(b, sx_slice_of(data, last + 1)), SX_E_LIMIT);
    assert_int_equal(sx_batch_count(b), 2);
    assert_ok(sx_batch_add(b, sx_slice_of(data, last)));
    assert_int_equal(sx_batch_add(b, sx_slice_str("")), SX_E_LIMIT);
    assert_ok(sx_batch_content(b, &content));
    assert_int_equal(content.len, 1 + cap);

    if (encrypted) {
        sx_sbchain snd, rcv;
        uint8_t secret[32];
        tu_bytes_seq(secret, sizeof secret, 1);
        assert_ok(sx_sbchain_init(sx_slice_str("session"), secret, &snd, &rcv));
        sx_sbchain rcv_side = snd;
        assert_ok(sx_block_write(&snd, content, block));
        sx_slice got;
        assert_ok(sx_block_read(&rcv_side, block, &got));
        assert_int_equal(got.len, content.len);
        sx_slice items[3];
        size_t n = 0;
        assert_ok(sx_batch_decode(got, items, 3, &n));
        assert_int_equal(n, 3);
        assert_int_equal(items[2].len, last);
        sx_sbchain_cleanup(&snd);
        sx_sbchain_cleanup(&rcv);
        sx_sbchain_cleanup(&rcv_side);
    } else {
        assert_ok(sx_block_encode(content, block));
        sx_slice items[3];
        size_t n = 0;
        assert_ok(sx_block_decode_batch(sx_slice_of(block, SX_BLOCK_SIZE), items, 3, &n));
        assert_int_equal(n, 3);
        assert_int_equal(items[0].len, 1000);
        assert_int_equal(items[1].len, 5000);
        assert_int_equal(items[2].len, last);
        assert_bytes_equal(items[2].ptr, data, last);
    }
    free(b);
}

static void test_batch_fill_plain(void **state)
{
    (void)state;
    check_fill(SX_BATCH_CAP_PLAIN, false);
}

static void test_batch_fill_encrypted(void **state)
{
    (void)state;
    check_fill(SX_BATCH_CAP_ENCRYPTED, true);
}

static void test_batch_max_items(void **state)
{
    (void)state;
    sx_batch *b = malloc(sizeof *b);
    assert_non_null(b);
    assert_ok(sx_batch_init(b, SX_BATCH_CAP_ENCRYPTED));
    uint8_t one[4];
    for (size_t i = 0; i < SX_BATCH_MAX_ITEMS; i++) {
        one[0] = (uint8_t)i;
        assert_ok(sx_batch_add(b, sx_slice_of(one, 1 + i % 3)));
    }
    /* PROTOCOL-NOTES B14: at most 255 transmissions, whatever room is left. */
    assert_int_equal(sx_batch_add(b, sx_slice_str("")), SX_E_LIMIT);
    assert_int_equal(sx_batch_count(b), 255);
    sx_slice content;
    assert_ok(sx_batch_content(b, &content));
    assert_int_equal(content.ptr[0], 255);

    sx_slice items[SX_BATCH_MAX_ITEMS];
    size_t n = 0;
    assert_ok(sx_batch_decode(content, items, SX_BATCH_MAX_ITEMS, &n));
    assert_int_equal(n, 255);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(items[i].len, 1 + i % 3);
        assert_int_equal(items[i].ptr[0], (uint8_t)i);
    }
    /* The caller's array is too small: a limit, not a parse error. */
    assert_int_equal(sx_batch_decode(content, items, 254, &n), SX_E_LIMIT);
    assert_int_equal(n, 0);
    free(b);
}

static void test_batch_decode_bad(void **state)
{
    (void)state;
    sx_slice items[4];
    size_t n = 99;
    /* count 0 */
    const uint8_t zero[] = {0};
    assert_int_equal(sx_batch_decode(sx_slice_of(zero, 1), items, 4, &n), SX_E_PROTOCOL);
    assert_int_equal(n, 0);
    /* empty content */
    assert_int_equal(sx_batch_decode(sx_slice_of(zero, 0), items, 4, &n), SX_E_PROTOCOL);
    /* count larger than the items present */
    const uint8_t more[] = {3, 0, 1, 'a', 0, 1, 'b'};
    assert_int_equal(sx_batch_decode(sx_slice_of(more, sizeof more), items, 4, &n), SX_E_PROTOCOL);
    assert_int_equal(n, 0);
    /* trailing bytes after the last item */
    const uint8_t trail[] = {2, 0, 1, 'a', 0, 1, 'b', '#'};
    assert_int_equal(sx_batch_decode(sx_slice_of(trail, sizeof trail), items, 4, &n), SX_E_PROTOCOL);
    const uint8_t trail0[] = {1, 0, 0, 0};
    assert_int_equal(sx_batch_decode(sx_slice_of(trail0, sizeof trail0), items, 4, &n), SX_E_PROTOCOL);
    /* oversized Large lengths */
    const uint8_t over1[] = {1, 0, 3, 'a', 'b'};
    assert_int_equal(sx_batch_decode(sx_slice_of(over1, sizeof over1), items, 4, &n), SX_E_PROTOCOL);
    const uint8_t over2[] = {1, 0xff, 0xff, 'a', 'b'};
    assert_int_equal(sx_batch_decode(sx_slice_of(over2, sizeof over2), items, 4, &n), SX_E_PROTOCOL);
    const uint8_t over3[] = {2, 0, 1, 'a', 0x40, 0x00, 'b'};
    assert_int_equal(sx_batch_decode(sx_slice_of(over3, sizeof over3), items, 4, &n), SX_E_PROTOCOL);
    /* a bare count with nothing after */
    const uint8_t bare[] = {1};
    assert_int_equal(sx_batch_decode(sx_slice_of(bare, 1), items, 4, &n), SX_E_PROTOCOL);
    assert_int_equal(n, 0);
    /* the good one still decodes */
    const uint8_t good[] = {2, 0, 1, 'a', 0, 1, 'b'};
    assert_ok(sx_batch_decode(sx_slice_of(good, sizeof good), items, 4, &n));
    assert_int_equal(n, 2);
    assert_true(sx_slice_eq(items[0], sx_slice_str("a")));
    assert_true(sx_slice_eq(items[1], sx_slice_str("b")));
}

static void test_batch_decode_truncated(void **state)
{
    (void)state;
    sx_batch *b = malloc(sizeof *b);
    assert_non_null(b);
    assert_ok(sx_batch_init(b, SX_BATCH_CAP_PLAIN));
    assert_ok(sx_batch_add(b, sx_slice_str("first transmission")));
    assert_ok(sx_batch_add(b, sx_slice_str("")));
    assert_ok(sx_batch_add(b, sx_slice_str("third")));
    sx_slice content;
    assert_ok(sx_batch_content(b, &content));
    sx_slice items[3];
    size_t n = 0;
    assert_ok(sx_batch_decode(content, items, 3, &n));
    assert_int_equal(n, 3);
    /* Every proper prefix fails, read only within its bounds (heap copy so
     * that ASan catches an overread). */
    for (size_t cut = 0; cut < content.len; cut++) {
        uint8_t *p = malloc(cut ? cut : 1);
        assert_non_null(p);
        memcpy(p, content.ptr, cut);
        assert_int_equal(sx_batch_decode(sx_slice_of(p, cut), items, 3, &n), SX_E_PROTOCOL);
        assert_int_equal(n, 0);
        free(p);
    }
    free(b);
}

static void test_block_decode_batch_bad(void **state)
{
    (void)state;
    sx_slice items[2];
    size_t n = 0;
    /* Declared content has a count of 0. */
    const uint8_t zero[] = {0};
    assert_ok(sx_block_encode(sx_slice_of(zero, 1), block));
    assert_int_equal(sx_block_decode_batch(sx_slice_of(block, SX_BLOCK_SIZE), items, 2, &n), SX_E_PROTOCOL);
    /* Padding is not part of the batch: a content shorter than its items. */
    const uint8_t shortc[] = {1, 0, 5, 'a'};
    assert_ok(sx_block_encode(sx_slice_of(shortc, sizeof shortc), block));
    assert_int_equal(sx_block_decode_batch(sx_slice_of(block, SX_BLOCK_SIZE), items, 2, &n), SX_E_PROTOCOL);
    /* Wrong block size. */
    assert_int_equal(sx_block_decode_batch(sx_slice_of(block, 100), items, 2, &n), SX_E_PROTOCOL);
}

static void test_block_rw_plain(void **state)
{
    (void)state;
    assert_ok(sx_block_write(NULL, sx_slice_str("hello"), block));
    assert_int_equal(block[1], 5);
    sx_slice c;
    assert_ok(sx_block_read(NULL, block, &c));
    assert_true(sx_slice_eq(c, sx_slice_str("hello")));
    static uint8_t big[SX_BLOCK_MAX_CONTENT + 1];
    assert_int_equal(sx_block_write(NULL, sx_slice_of(big, sizeof big), block), SX_E_LIMIT);
    assert_ok(sx_block_write(NULL, sx_slice_of(big, SX_BLOCK_MAX_CONTENT), block));
}

static void test_block_rw_encrypted(void **state)
{
    (void)state;
    uint8_t secret[32];
    tu_bytes_seq(secret, sizeof secret, 9);
    sx_sbchain srv_snd, srv_rcv, cli_snd, cli_rcv;
    assert_ok(sx_sbchain_init(sx_slice_str("tls-unique-bytes"), secret, &srv_snd, &srv_rcv));
    /* PROTOCOL-NOTES B31: the client receives with ck1 and sends with ck2. */
    assert_ok(sx_sbchain_init(sx_slice_str("tls-unique-bytes"), secret, &cli_rcv, &cli_snd));

    static uint8_t big[SX_BLOCK_ENC_MAX_CONTENT + 1];
    assert_int_equal(sx_block_write(&srv_snd, sx_slice_of(big, sizeof big), block), SX_E_LIMIT);

    sx_slice c;
    for (int i = 0; i < 3; i++) {
        char msg[16];
        snprintf(msg, sizeof msg, "block %d", i);
        assert_ok(sx_block_write(&srv_snd, sx_slice_str(msg), block));
        assert_ok(sx_block_read(&cli_rcv, block, &c));
        assert_true(sx_slice_eq(c, sx_slice_str(msg)));
        assert_ok(sx_block_write(&cli_snd, sx_slice_str(msg), block));
        assert_ok(sx_block_read(&srv_rcv, block, &c));
        assert_true(sx_slice_eq(c, sx_slice_str(msg)));
    }
    /* A tampered block fails authentication, and the chain still advances
     * (PROTOCOL-NOTES B34): the block after it decrypts. */
    assert_ok(sx_block_write(&srv_snd, sx_slice_str("bad"), block));
    block[100] ^= 1;
    assert_int_equal(sx_block_read(&cli_rcv, block, &c), SX_E_AUTH);
    assert_int_equal(c.len, 0);
    assert_ok(sx_block_write(&srv_snd, sx_slice_str("next"), block));
    assert_ok(sx_block_read(&cli_rcv, block, &c));
    assert_true(sx_slice_eq(c, sx_slice_str("next")));
    /* The other direction's chain cannot open it. */
    assert_ok(sx_block_write(&srv_snd, sx_slice_str("x"), block));
    assert_int_equal(sx_block_read(&srv_rcv, block, &c), SX_E_AUTH);

    sx_sbchain_cleanup(&srv_snd);
    sx_sbchain_cleanup(&srv_rcv);
    sx_sbchain_cleanup(&cli_snd);
    sx_sbchain_cleanup(&cli_rcv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constants),
        cmocka_unit_test(test_block_layout),
        cmocka_unit_test(test_block_roundtrip_sizes),
        cmocka_unit_test(test_block_decode_bad),
        cmocka_unit_test(test_batch_layout),
        cmocka_unit_test(test_batch_init_bad),
        cmocka_unit_test(test_batch_fill_plain),
        cmocka_unit_test(test_batch_fill_encrypted),
        cmocka_unit_test(test_batch_max_items),
        cmocka_unit_test(test_batch_decode_bad),
        cmocka_unit_test(test_batch_decode_truncated),
        cmocka_unit_test(test_block_decode_batch_bad),
        cmocka_unit_test(test_block_rw_plain),
        cmocka_unit_test(test_block_rw_encrypted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
