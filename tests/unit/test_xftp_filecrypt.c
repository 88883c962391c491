/* Unit tests of the XFTP streaming secret box and file encryption
 * (PROTOCOL-NOTES A32, A34, A36, F34): the stream equals the one-shot
 * secret_box of the same padded bytes with the tag moved to the end, in pieces
 * of any size, and decryption detects every change; chunk sizes as
 * prepareChunkSizes. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "core/pad.h"
#include "crypto/box.h"
#include "crypto/util.h"
#include "xftp/filecrypt.h"

static uint32_t g_rng = 12345;
static size_t rnd(size_t n)
{
    g_rng = g_rng * 1103515245u + 12345u;
    return n ? (g_rng >> 8) % n : 0;
}

/* Piece sizes: mostly small and odd, sometimes whole blocks or large. */
static size_t piece(size_t left)
{
    size_t p;
    switch (rnd(4)) {
    case 0:
        p = rnd(8);
        break;
    case 1:
        p = 1 + rnd(100);
        break;
    case 2:
        p = 64 * (1 + rnd(4));
        break;
    default:
        p = rnd(5000);
        break;
    }
    return p < left ? p : left;
}

static void stream_with(bool sodium, bool encrypt, const uint8_t key[32], const uint8_t nonce[24],
                        const uint8_t *in, size_t n, uint8_t *out, uint8_t tag[16])
{
    sx_xftp_sb sb;
    assert_ok(sodium ? sx_xftp_sb_init_sodium(&sb, key, nonce) : sx_xftp_sb_init(&sb, key, nonce));
    size_t off = 0;
    while (off < n) {
        size_t p = piece(n - off);
        sx_slice s = sx_slice_of(in + off, p);
        assert_ok(encrypt ? sx_xftp_sb_encrypt(&sb, s, out + off)
                          : sx_xftp_sb_decrypt(&sb, s, out + off));
        off += p;
    }
    sx_xftp_sb_tag(&sb, tag);
}

static void stream(bool encrypt, const uint8_t key[32], const uint8_t nonce[24], const uint8_t *in,
                   size_t n, uint8_t *out, uint8_t tag[16])
{
    stream_with(false, encrypt, key, nonce, in, n, out, tag);
}

/* The stream is crypto_box/secret_box (PROTOCOL-NOTES A34) with the tag at the
 * end. */
static void test_equals_secret_box(void **state)
{
    (void)state;
    static const size_t lens[] = {0, 1, 31, 32, 33, 63, 64, 65, 100, 1000, 65536, 100001};
    uint8_t key[32], nonce[24];
    tu_bytes_seq(key, 32, 7);
    tu_bytes_seq(nonce, 24, 9);
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        size_t n = lens[i];
        uint8_t *msg = malloc(n + 1), *box = malloc(n + 16), *ct = malloc(n + 1),
                *back = malloc(n + 1);
        tu_bytes_seq(msg, n, (uint8_t)i);
        assert_ok(sx_sb_encrypt(key, nonce, sx_slice_of(msg, n), box, n + 16));
        for (int round = 0; round < 5; round++) {
            uint8_t tag[16];
            stream(true, key, nonce, msg, n, ct, tag);
            assert_bytes_equal(tag, box, 16);
            if (n)
                assert_bytes_equal(ct, box + 16, n);
            /* decrypt in other pieces, in place */
            memcpy(back, ct, n);
            uint8_t tag2[16];
            stream(false, key, nonce, back, n, back, tag2);
            assert_bytes_equal(tag2, tag, 16);
            if (n)
                assert_bytes_equal(back, msg, n);
        }
        free(msg);
        free(box);
        free(ct);
        free(back);
    }
}

static void test_verify(void **state)
{
    (void)state;
    uint8_t key[32], nonce[24], msg[300], ct[300], tag[16];
    tu_bytes_seq(key, 32, 1);
    tu_bytes_seq(nonce, 24, 2);
    tu_bytes_seq(msg, sizeof msg, 3);
    stream(true, key, nonce, msg, sizeof msg, ct, tag);
    sx_xftp_sb sb;
    uint8_t out[300];
    assert_ok(sx_xftp_sb_init(&sb, key, nonce));
    assert_ok(sx_xftp_sb_decrypt(&sb, sx_slice_of(ct, sizeof ct), out));
    assert_ok(sx_xftp_sb_verify(&sb, sx_slice_of(tag, 16)));
    /* any changed ciphertext byte, a changed tag, a short tag */
    for (size_t i = 0; i < sizeof ct; i += 37) {
        ct[i] ^= 0x40;
        assert_ok(sx_xftp_sb_init(&sb, key, nonce));
        assert_ok(sx_xftp_sb_decrypt(&sb, sx_slice_of(ct, sizeof ct), out));
        assert_int_equal(sx_xftp_sb_verify(&sb, sx_slice_of(tag, 16)), SX_E_AUTH);
        ct[i] ^= 0x40;
    }
    tag[15] ^= 1;
    assert_ok(sx_xftp_sb_init(&sb, key, nonce));
    assert_ok(sx_xftp_sb_decrypt(&sb, sx_slice_of(ct, sizeof ct), out));
    assert_int_equal(sx_xftp_sb_verify(&sb, sx_slice_of(tag, 16)), SX_E_AUTH);
    tag[15] ^= 1;
    assert_ok(sx_xftp_sb_init(&sb, key, nonce));
    assert_ok(sx_xftp_sb_decrypt(&sb, sx_slice_of(ct, sizeof ct), out));
    assert_int_equal(sx_xftp_sb_verify(&sb, sx_slice_of(tag, 15)), SX_E_AUTH);
    /* another nonce gives another stream */
    nonce[23] ^= 1;
    uint8_t ct2[300], tag2[16];
    stream(true, key, nonce, msg, sizeof msg, ct2, tag2);
    assert_memory_not_equal(ct, ct2, sizeof ct);
}

static void check_sizes(int64_t payload, const uint32_t *want, size_t n)
{
    uint32_t got[64];
    size_t k;
    assert_ok(sx_xftp_chunk_sizes(payload, got, 64, &k));
    assert_int_equal(k, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(got[i], want[i]);
}

#define K64 65536u
#define K256 262144u
#define M1 1048576u
#define M4 4194304u

static void test_chunk_sizes(void **state)
{
    (void)state;
    check_sizes(0, NULL, 0);
    check_sizes(100, (const uint32_t[]){K64}, 1);
    check_sizes(K64, (const uint32_t[]){K64}, 1);
    check_sizes(K64 + 1, (const uint32_t[]){K64, K64}, 2);
    check_sizes(3 * K64, (const uint32_t[]){K64, K64, K64}, 3);     /* = 3/4 of 256K */
    check_sizes(3 * K64 + 1, (const uint32_t[]){K256}, 1);
    check_sizes(700 * 1024, (const uint32_t[]){K256, K256, K64, K64, K64}, 5);
    check_sizes(3 * K256, (const uint32_t[]){K256, K256, K256}, 3); /* = 3/4 of 1M */
    check_sizes(3 * K256 + 1, (const uint32_t[]){M1}, 1);
    check_sizes(M1 + 1, (const uint32_t[]){M1, K256}, 2);
    check_sizes(3 * M1 + 1, (const uint32_t[]){M4}, 1);
    check_sizes(26 * M1, (const uint32_t[]){M4, M4, M4, M4, M4, M4, M1, M1}, 8);
    check_sizes(6 * M4 + 3 * M1 + 1, (const uint32_t[]){M4, M4, M4, M4, M4, M4, M4}, 7);
    uint32_t few[2];
    size_t k;
    assert_int_equal(sx_xftp_chunk_sizes(26 * M1, few, 2, &k), SX_E_LIMIT);
    assert_int_equal(sx_xftp_chunk_sizes(-1, few, 2, &k), SX_E_USAGE);
    uint32_t one;
    assert_ok(sx_xftp_single_chunk_size(100, &one));
    assert_int_equal(one, K64);
    assert_ok(sx_xftp_single_chunk_size(K64, &one));
    assert_int_equal(one, K64);
    assert_ok(sx_xftp_single_chunk_size(K64 + 1, &one));
    assert_int_equal(one, K256);
    assert_ok(sx_xftp_single_chunk_size(M4, &one));
    assert_int_equal(one, M4);
    assert_int_equal(sx_xftp_single_chunk_size(M4 + 1, &one), SX_E_LIMIT);
    assert_int_equal(sx_xftp_payload_size(1000), 1024);
}

static void test_file_header(void **state)
{
    (void)state;
    uint8_t buf[300];
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    sx_xftp_file_header h = {.name = sx_slice_str("f\xc3\xa9.txt")};
    assert_true(sx_xftp_file_header_write(&w, &h));
    assert_int_equal(w.len, 1 + 7 + 1);
    assert_bytes_equal(buf, "\x07" "f\xc3\xa9.txt" "0", 9);
    sx_xftp_file_header d;
    size_t used;
    memcpy(buf + 9, "DATA", 4);
    assert_ok(sx_xftp_file_header_decode(sx_slice_of(buf, 13), &d, &used));
    assert_int_equal(used, 9);
    assert_true(sx_slice_eq(d.name, h.name));
    assert_false(d.has_extra);
    for (size_t cut = 0; cut < 9; cut++)
        assert_int_equal(sx_xftp_file_header_decode(sx_slice_of(buf, cut), &d, &used),
                         SX_E_PROTOCOL);
    buf[2] = 0xff; /* invalid UTF-8 */
    assert_int_equal(sx_xftp_file_header_decode(sx_slice_of(buf, 13), &d, &used), SX_E_PROTOCOL);
    h.has_extra = true;
    h.extra = sx_slice_str("{}");
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_true(sx_xftp_file_header_write(&w, &h));
    assert_ok(sx_xftp_file_header_decode(sx_writer_slice(&w), &d, &used));
    assert_true(d.has_extra && sx_slice_eq(d.extra, h.extra));
    h.name = sx_slice_str("\xc0\x80"); /* overlong */
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_false(sx_xftp_file_header_write(&w, &h));
}

/* Whole file: Int64 length || content || '#' to enc_size - 16, then the
 * tag; the same as secret_box of sx_pad_lazy(content) with the tag moved. */
static void test_file_roundtrip(void **state)
{
    (void)state;
    static const size_t lens[] = {0, 1, 5000, 65536 - 24, 65536 - 23, 200000};
    uint8_t key[32], nonce[24];
    tu_bytes_seq(key, 32, 0x21);
    tu_bytes_seq(nonce, 24, 0x42);
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        size_t n = lens[li];
        uint32_t sizes[16];
        size_t count;
        assert_ok(sx_xftp_chunk_sizes(sx_xftp_payload_size((int64_t)n), sizes, 16, &count));
        int64_t enc = 0;
        for (size_t i = 0; i < count; i++)
            enc += sizes[i];
        if (n == 0)
            enc = K64; /* payload 24 still needs one chunk */
        uint8_t *content = malloc(n + 1), *file = malloc((size_t)enc);
        tu_bytes_seq(content, n, (uint8_t)li);

        sx_xftp_file_enc e;
        assert_ok(sx_xftp_file_encrypt_init(&e, key, nonce, (int64_t)n, enc, file));
        size_t off = 8, done = 0;
        while (done < n) {
            size_t p = piece(n - done);
            assert_ok(sx_xftp_file_encrypt_update(&e, sx_slice_of(content + done, p), file + off));
            done += p, off += p;
        }
        assert_int_equal(sx_xftp_file_encrypt_update(&e, sx_slice_of(content, 1), file),
                         SX_E_USAGE);
        uint8_t tag[16];
        assert_int_equal(sx_xftp_file_encrypt_final(&e, tag), n == (size_t)enc - 24 ? SX_OK
                                                                                     : SX_E_USAGE);
        if (n != (size_t)enc - 24) {
            size_t got;
            do {
                assert_ok(sx_xftp_file_encrypt_pad(&e, file + off, 1 + rnd(70000), &got));
                off += got;
            } while (got > 0);
            assert_ok(sx_xftp_file_encrypt_final(&e, tag));
        }
        assert_int_equal(off, (size_t)enc - 16);
        memcpy(file + off, tag, 16);

        /* known answer by construction */
        uint8_t *padded = malloc((size_t)enc - 16), *box = malloc((size_t)enc);
        assert_ok(sx_pad_lazy(sx_slice_of(content, n), padded, (size_t)enc - 16));
        assert_ok(sx_sb_encrypt(key, nonce, sx_slice_of(padded, (size_t)enc - 16), box, (size_t)enc));
        assert_bytes_equal(file, box + 16, (size_t)enc - 16);
        assert_bytes_equal(file + enc - 16, box, 16);

        /* decrypt in pieces */
        uint8_t *plain = malloc((size_t)enc), *got_content = malloc(n + 1);
        sx_xftp_file_dec d;
        assert_ok(sx_xftp_file_decrypt_init(&d, key, nonce, enc));
        size_t pos = 0, cpos = 0;
        while (pos < (size_t)enc - 16) {
            size_t p = piece((size_t)enc - 16 - pos);
            sx_slice c;
            assert_ok(sx_xftp_file_decrypt_update(&d, sx_slice_of(file + pos, p), plain + pos, &c));
            if (c.len)
                memcpy(got_content + cpos, c.ptr, c.len);
            cpos += c.len;
            pos += p;
        }
        sx_slice c;
        assert_int_equal(sx_xftp_file_decrypt_update(&d, sx_slice_of(file, 1), plain, &c),
                         SX_E_PROTOCOL);
        int64_t clen;
        assert_ok(sx_xftp_file_decrypt_final(&d, sx_slice_of(file + enc - 16, 16), &clen));
        assert_int_equal(clen, n);
        assert_int_equal(cpos, n);
        if (n)
            assert_bytes_equal(got_content, content, n);

        /* tampering and truncation */
        file[enc / 2] ^= 1;
        assert_ok(sx_xftp_file_decrypt_init(&d, key, nonce, enc));
        assert_ok(sx_xftp_file_decrypt_update(&d, sx_slice_of(file, (size_t)enc - 16), plain, &c));
        assert_int_equal(sx_xftp_file_decrypt_final(&d, sx_slice_of(file + enc - 16, 16), &clen),
                         SX_E_AUTH);
        file[enc / 2] ^= 1;
        assert_ok(sx_xftp_file_decrypt_init(&d, key, nonce, enc));
        assert_ok(sx_xftp_file_decrypt_update(&d, sx_slice_of(file, (size_t)enc - 17), plain, &c));
        assert_int_not_equal(sx_xftp_file_decrypt_final(&d, sx_slice_of(file + enc - 16, 16), &clen),
                             SX_OK);
        free(padded);
        free(box);
        free(plain);
        free(got_content);
        free(content);
        free(file);
    }
}

/* A length header larger than the file fits is refused as soon as it is read. */
static void test_bad_length_header(void **state)
{
    (void)state;
    uint8_t key[32], nonce[24], plain[K64 - 16], ct[K64];
    tu_bytes_seq(key, 32, 1);
    tu_bytes_seq(nonce, 24, 2);
    memset(plain, '#', sizeof plain);
    static const int64_t bad[] = {-1, K64 - 24 + 1, INT64_MAX};
    for (size_t i = 0; i < 3; i++) {
        for (int b = 0; b < 8; b++)
            plain[b] = (uint8_t)((uint64_t)bad[i] >> (56 - 8 * b));
        uint8_t tag[16];
        stream(true, key, nonce, plain, sizeof plain, ct, tag);
        sx_xftp_file_dec d;
        sx_slice c;
        assert_ok(sx_xftp_file_decrypt_init(&d, key, nonce, K64));
        assert_ok(sx_xftp_file_decrypt_update(&d, sx_slice_of(ct, 5), plain, &c));
        assert_int_equal(sx_xftp_file_decrypt_update(&d, sx_slice_of(ct + 5, 5), plain, &c),
                         SX_E_PROTOCOL);
        sx_xftp_sb_cleanup(&d.sb);
    }
    sx_xftp_file_enc e;
    assert_int_equal(sx_xftp_file_encrypt_init(&e, key, nonce, 100, 123, ct), SX_E_USAGE);
    assert_int_equal(sx_xftp_file_encrypt_init(&e, key, nonce, -1, K64, ct), SX_E_USAGE);
    sx_xftp_file_dec d;
    assert_int_equal(sx_xftp_file_decrypt_init(&d, key, nonce, 23), SX_E_USAGE);
}

/* Decrypts ct in random pieces with one Poly1305 and checks tag (len tlen). */
static sx_status open_with(bool sodium, const uint8_t key[32], const uint8_t nonce[24],
                           const uint8_t *ct, size_t n, const uint8_t *tag, size_t tlen,
                           uint8_t *out)
{
    sx_xftp_sb sb;
    assert_ok(sodium ? sx_xftp_sb_init_sodium(&sb, key, nonce) : sx_xftp_sb_init(&sb, key, nonce));
    size_t off = 0;
    while (off < n) {
        size_t p = piece(n - off);
        assert_ok(sx_xftp_sb_decrypt(&sb, sx_slice_of(ct + off, p), out + off));
        off += p;
    }
    return sx_xftp_sb_verify(&sb, sx_slice_of(tag, tlen));
}

/* Differential: the default stream (OpenSSL's Poly1305 where available) and
 * the libsodium one give the same ciphertext and tag for random keys, nonces,
 * lengths and piece splits, and accept and refuse the same tampered inputs. */
static void test_openssl_equals_sodium(void **state)
{
    (void)state;
    enum { MAXN = 70000 };
    uint8_t *msg = malloc(MAXN), *c1 = malloc(MAXN), *c2 = malloc(MAXN), *out = malloc(MAXN);
    assert_non_null(msg && c1 && c2 && out);
    for (int round = 0; round < 300; round++) {
        uint8_t key[32], nonce[24], t1[16], t2[16];
        sx_random_bytes(key, sizeof key);
        sx_random_bytes(nonce, sizeof nonce);
        size_t n = round < 100 ? (size_t)round : rnd(round % 10 == 0 ? MAXN : 5000);
        sx_random_bytes(msg, n);
        stream_with(false, true, key, nonce, msg, n, c1, t1);
        stream_with(true, true, key, nonce, msg, n, c2, t2);
        assert_bytes_equal(t1, t2, 16);
        if (n)
            assert_bytes_equal(c1, c2, n);
        for (int sodium = 0; sodium < 2; sodium++) {
            assert_int_equal(open_with(sodium, key, nonce, c1, n, t1, 16, out), SX_OK);
            if (n)
                assert_bytes_equal(out, msg, n);
            /* a flipped tag bit, a flipped ciphertext bit, a short tag, a zero tag */
            uint8_t bad[16];
            memcpy(bad, t1, 16);
            bad[rnd(16)] ^= (uint8_t)(1u << rnd(8));
            assert_int_equal(open_with(sodium, key, nonce, c1, n, bad, 16, out), SX_E_AUTH);
            if (n) {
                size_t at = rnd(n);
                uint8_t bit = (uint8_t)(1u << rnd(8));
                c1[at] ^= bit;
                assert_int_equal(open_with(sodium, key, nonce, c1, n, t1, 16, out), SX_E_AUTH);
                c1[at] ^= bit;
            }
            assert_int_equal(open_with(sodium, key, nonce, c1, n, t1, 15, out), SX_E_AUTH);
            memset(bad, 0, sizeof bad);
            assert_int_equal(open_with(sodium, key, nonce, c1, n, bad, 16, out), SX_E_AUTH);
        }
    }
    free(msg);
    free(c1);
    free(c2);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equals_secret_box), cmocka_unit_test(test_verify),
        cmocka_unit_test(test_chunk_sizes),       cmocka_unit_test(test_file_header),
        cmocka_unit_test(test_file_roundtrip),    cmocka_unit_test(test_bad_length_header),
        cmocka_unit_test(test_openssl_equals_sodium),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
