/* Tests for crypto/hash: FIPS 180-4 / FIPS 202 known answers, incremental
 * hashing, and HKDF-SHA512: published SHA-512 answers for the RFC 5869 test
 * inputs, the reference's sbcInit output, an extract+expand computed here with
 * OpenSSL's HMAC-SHA512, and OpenSSL's EVP_KDF "HKDF" over random inputs. */
#include "testutil.h"

#include "crypto/hash.h"
#include "crypto/util.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <stdlib.h>
#include <string.h>

static void check_hash(sx_hash_alg alg, const char *msg, size_t len, const char *hex)
{
    uint8_t want[SX_HASH_MAX_LEN], got[SX_HASH_MAX_LEN];
    size_t n = sx_hash_len(alg);
    tu_hex_to(hex, want, n);
    memset(got, 0, sizeof got);
    assert_ok(sx_hash(alg, sx_slice_of(msg, len), got, sizeof got));
    assert_memory_equal(got, want, n);
}

static const char abc448[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
static const char abc896[] = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                             "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";

static void test_sha256_kat(void **state)
{
    (void)state;
    uint8_t out[SX_SHA256_LEN], want[SX_SHA256_LEN];
    tu_hex_to("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want, 32);
    assert_ok(sx_sha256(sx_slice_str("abc"), out));
    assert_memory_equal(out, want, 32);
    check_hash(SX_HASH_SHA256, "", 0,
               "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check_hash(SX_HASH_SHA256, abc448, strlen(abc448),
               "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* A NULL pointer with length 0 is the empty message. */
    assert_ok(sx_sha256(sx_slice_of(NULL, 0), out));
    tu_hex_to("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want, 32);
    assert_memory_equal(out, want, 32);
}

static void test_sha512_kat(void **state)
{
    (void)state;
    uint8_t out[SX_SHA512_LEN], want[SX_SHA512_LEN];
    tu_hex_to("ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
              "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
              want, 64);
    assert_ok(sx_sha512(sx_slice_str("abc"), out));
    assert_memory_equal(out, want, 64);
    check_hash(SX_HASH_SHA512, abc896, strlen(abc896),
               "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018"
               "501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909");
}

static void test_sha3_384_kat(void **state)
{
    (void)state;
    uint8_t out[SX_SHA3_384_LEN], want[SX_SHA3_384_LEN];
    tu_hex_to("ec01498288516fc926459f58e2c6ad8df9b473cb0fc08c2596da7cf0e49be4b2"
              "98d88cea927ac7f539f1edf228376d25",
              want, 48);
    assert_ok(sx_sha3_384(sx_slice_str("abc"), out));
    assert_memory_equal(out, want, 48);
    check_hash(SX_HASH_SHA3_384, "", 0,
               "0c63a75b845e4f7d01107d852e4c2485c51a50aaaa94fc61995e71bbee983a2a"
               "c3713831264adb47fb6bd1e058d5f004");
}

/* FIPS 202 examples. */
/* RFC 1321 test suite. */
static void test_md5_kat(void **state)
{
    (void)state;
    uint8_t out[SX_MD5_LEN], want[SX_MD5_LEN];
    tu_hex_to("900150983cd24fb0d6963f7d28e17f72", want, 16);
    assert_ok(sx_md5(sx_slice_str("abc"), out));
    assert_memory_equal(out, want, 16);
    check_hash(SX_HASH_MD5, "", 0, "d41d8cd98f00b204e9800998ecf8427e");
    check_hash(SX_HASH_MD5, "message digest", 14, "f96b697d7cb7938d525a2f31aaf161d0");
    assert_int_equal(sx_hash_len(SX_HASH_MD5), 16);
}

static void test_sha3_256_kat(void **state)
{
    (void)state;
    uint8_t out[SX_SHA3_256_LEN], want[SX_SHA3_256_LEN];
    tu_hex_to("3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532", want, 32);
    assert_ok(sx_sha3_256(sx_slice_str("abc"), out));
    assert_memory_equal(out, want, 32);
    check_hash(SX_HASH_SHA3_256, "", 0,
               "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a");
    assert_int_equal(sx_hash_len(SX_HASH_SHA3_256), 32);
}

static void test_hash_usage_errors(void **state)
{
    (void)state;
    uint8_t out[SX_HASH_MAX_LEN];
    assert_int_equal(sx_hash_len(SX_HASH_SHA256), 32);
    assert_int_equal(sx_hash_len(SX_HASH_SHA512), 64);
    assert_int_equal(sx_hash_len(SX_HASH_SHA3_384), 48);
    assert_int_equal(sx_hash_len((sx_hash_alg)99), 0);
    assert_int_equal(sx_hash((sx_hash_alg)99, sx_slice_str("abc"), out, sizeof out), SX_E_USAGE);
    assert_int_equal(sx_hash(SX_HASH_SHA512, sx_slice_str("abc"), out, 63), SX_E_USAGE);
    assert_int_equal(sx_hash(SX_HASH_SHA256, sx_slice_str("abc"), NULL, 32), SX_E_USAGE);
    assert_int_equal(sx_hash(SX_HASH_SHA256, sx_slice_of(NULL, 3), out, 32), SX_E_USAGE);
}

/* Million 'a' (FIPS 180 long-message vectors) fed in uneven pieces. */
static void test_incremental_million_a(void **state)
{
    (void)state;
    static const struct {
        sx_hash_alg alg;
        const char *hex;
    } cases[] = {
        {SX_HASH_SHA256, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
        {SX_HASH_SHA512, "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb"
                         "de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b"},
    };
    uint8_t chunk[997];
    memset(chunk, 'a', sizeof chunk);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        sx_hash_ctx h;
        assert_ok(sx_hash_init(&h, cases[c].alg));
        size_t left = 1000000, step = 1;
        while (left > 0) {
            size_t n = step < left ? step : left;
            if (n > sizeof chunk)
                n = sizeof chunk;
            assert_ok(sx_hash_update(&h, sx_slice_of(chunk, n)));
            left -= n;
            step = step * 3 + 1;
        }
        assert_ok(sx_hash_update(&h, sx_slice_of(NULL, 0)));
        uint8_t got[64], want[64];
        size_t len = sx_hash_len(cases[c].alg);
        tu_hex_to(cases[c].hex, want, len);
        assert_ok(sx_hash_final(&h, got, sizeof got));
        assert_memory_equal(got, want, len);
        sx_hash_cleanup(&h);
    }
}

static void test_incremental_matches_oneshot(void **state)
{
    (void)state;
    uint8_t data[3000];
    tu_bytes_seq(data, sizeof data, 0x33);
    const sx_hash_alg algs[] = {SX_HASH_SHA256, SX_HASH_SHA512, SX_HASH_SHA3_384};
    for (size_t a = 0; a < 3; a++) {
        uint8_t one[SX_HASH_MAX_LEN], inc[SX_HASH_MAX_LEN];
        assert_ok(sx_hash(algs[a], sx_slice_of(data, sizeof data), one, sizeof one));
        /* Split at every 97th offset into two parts. */
        for (size_t cut = 0; cut <= sizeof data; cut += 97) {
            sx_hash_ctx h;
            assert_ok(sx_hash_init(&h, algs[a]));
            assert_ok(sx_hash_update(&h, sx_slice_of(data, cut)));
            assert_ok(sx_hash_update(&h, sx_slice_of(data + cut, sizeof data - cut)));
            assert_ok(sx_hash_final(&h, inc, sx_hash_len(algs[a])));
            assert_memory_equal(inc, one, sx_hash_len(algs[a]));
            sx_hash_cleanup(&h);
        }
    }
}

static void test_incremental_usage(void **state)
{
    (void)state;
    sx_hash_ctx h;
    uint8_t out[SX_HASH_MAX_LEN];
    assert_int_equal(sx_hash_init(&h, (sx_hash_alg)42), SX_E_USAGE);
    sx_hash_cleanup(&h); /* safe after a failed init */
    assert_int_equal(sx_hash_init(NULL, SX_HASH_SHA256), SX_E_USAGE);

    assert_ok(sx_hash_init(&h, SX_HASH_SHA512));
    assert_int_equal(sx_hash_final(&h, out, 63), SX_E_USAGE); /* too small, still running */
    assert_int_equal(sx_hash_update(&h, sx_slice_of(NULL, 5)), SX_E_USAGE);
    assert_ok(sx_hash_update(&h, sx_slice_str("abc")));
    assert_ok(sx_hash_final(&h, out, sizeof out));
    /* Finished: no more updates or finals. */
    assert_int_equal(sx_hash_update(&h, sx_slice_str("x")), SX_E_USAGE);
    assert_int_equal(sx_hash_final(&h, out, sizeof out), SX_E_USAGE);
    sx_hash_cleanup(&h);
    sx_hash_cleanup(&h);
    sx_hash_cleanup(NULL);

    sx_hash_ctx z;
    memset(&z, 0, sizeof z);
    sx_hash_cleanup(&z);
    assert_int_equal(sx_hash_update(&z, sx_slice_str("x")), SX_E_USAGE);
}

/* RFC 5869 HKDF computed step by step with HMAC-SHA512, independent of the
 * EVP_KDF path under test. */
static void manual_hkdf_sha512(const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
                               size_t ikm_len, const uint8_t *info, size_t info_len, uint8_t *out,
                               size_t len)
{
    static const uint8_t zeros[64];
    uint8_t prk[64];
    unsigned int n = 0;
    if (salt_len == 0) {
        salt = zeros;
        salt_len = sizeof zeros;
    }
    assert_non_null(HMAC(EVP_sha512(), salt, (int)salt_len, ikm, ikm_len, prk, &n));
    assert_int_equal(n, 64);
    uint8_t t[64];
    size_t tlen = 0, done = 0;
    for (uint8_t i = 1; done < len; i++) {
        uint8_t block[64 + 256 + 1];
        assert_true(tlen + info_len + 1 <= sizeof block);
        memcpy(block, t, tlen);
        memcpy(block + tlen, info, info_len);
        block[tlen + info_len] = i;
        assert_non_null(HMAC(EVP_sha512(), prk, 64, block, tlen + info_len + 1, t, &n));
        tlen = 64;
        size_t take = len - done < 64 ? len - done : 64;
        memcpy(out + done, t, take);
        done += take;
    }
}

static void check_hkdf_against_manual(const char *salt_hex, const char *ikm_hex,
                                      const char *info_hex, size_t len)
{
    size_t sl, il, nl;
    uint8_t *salt = tu_hex(salt_hex, &sl);
    uint8_t *ikm = tu_hex(ikm_hex, &il);
    uint8_t *info = tu_hex(info_hex, &nl);
    uint8_t *want = malloc(len), *got = malloc(len);
    assert_non_null(want);
    assert_non_null(got);
    manual_hkdf_sha512(salt, sl, ikm, il, info, nl, want, len);
    assert_ok(sx_hkdf_sha512(sx_slice_of(salt, sl), sx_slice_of(ikm, il), sx_slice_of(info, nl),
                             got, len));
    assert_memory_equal(got, want, len);
    free(salt);
    free(ikm);
    free(info);
    free(want);
    free(got);
}

static void test_hkdf_rfc5869_inputs(void **state)
{
    (void)state;
    /* RFC 5869 A.1 inputs (basic case). */
    check_hkdf_against_manual("000102030405060708090a0b0c",
                              "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
                              "f0f1f2f3f4f5f6f7f8f9", 42);
    /* A.2 inputs: longer inputs, output spanning two SHA-512 blocks. */
    check_hkdf_against_manual("606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
                              "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1"
                              "a2a3a4a5a6a7a8a9aaabacadaeaf",
                              "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
                              "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f4041"
                              "42434445464748494a4b4c4d4e4f",
                              "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
                              "d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1"
                              "f2f3f4f5f6f7f8f9fafbfcfdfeff",
                              82);
    /* A.3 inputs: empty salt and info. */
    check_hkdf_against_manual("", "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "", 42);
    /* Empty ikm, long output. */
    check_hkdf_against_manual("01", "", "02", 300);
}

/* The inputs of RFC 5869 test cases 1-3, with SHA-512 in place of SHA-256: the outputs as
 * published by other HKDF implementations' test suites (the RFC itself lists
 * only SHA-256 and SHA-1). */
static void check_hkdf_kat(const char *salt_hex, const char *ikm_hex, const char *info_hex,
                           const char *okm_hex)
{
    size_t sl, il, nl, ol;
    uint8_t *salt = tu_hex(salt_hex, &sl);
    uint8_t *ikm = tu_hex(ikm_hex, &il);
    uint8_t *info = tu_hex(info_hex, &nl);
    uint8_t *want = tu_hex(okm_hex, &ol);
    uint8_t got[128];
    assert_true(ol <= sizeof got);
    assert_ok(sx_hkdf_sha512(sx_slice_of(salt, sl), sx_slice_of(ikm, il), sx_slice_of(info, nl),
                             got, ol));
    assert_memory_equal(got, want, ol);
    free(salt);
    free(ikm);
    free(info);
    free(want);
}

static void test_hkdf_sha512_kat(void **state)
{
    (void)state;
    check_hkdf_kat("000102030405060708090a0b0c", "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
                   "f0f1f2f3f4f5f6f7f8f9",
                   "832390086cda71fb47625bb5ceb168e4c8e26a1a16ed34d9fc7fe92c1481579338da362cb8d9f9"
                   "25d7cb");
    check_hkdf_kat("606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485"
                   "868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaab"
                   "acadaeaf",
                   "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425"
                   "262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b"
                   "4c4d4e4f",
                   "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5"
                   "d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafb"
                   "fcfdfeff",
                   "ce6c97192805b346e6161e821ed165673b84f400a2b514b2fe23d84cd189ddf1b695b48cbd1c83"
                   "88441137b3ce28f16aa64ba33ba466b24df6cfcb021ecff235f6a2056ce3af1de44d572097a850"
                   "5d9e7a93");
    check_hkdf_kat("", "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "",
                   "f5fa02b18298a72a8c23898a8703472c6eb179dc204c03425c970e3b164bf90fff22d04836d0e2"
                   "343bac");
}

/* OpenSSL's own HKDF, the implementation sx_hkdf_sha512 replaced. */
static void evp_hkdf_sha512(sx_slice salt, sx_slice ikm, sx_slice info, uint8_t *out, size_t len)
{
    static const uint8_t zeros[64];
    static uint8_t empty[1];
    if (salt.len == 0)
        salt = sx_slice_of(zeros, sizeof zeros);
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
    assert_non_null(kdf);
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
    assert_non_null(ctx);
    char digest[] = "SHA512";
    OSSL_PARAM params[5];
    size_t i = 0;
    params[i++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
    params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                                    ikm.len ? (void *)ikm.ptr : empty, ikm.len);
    params[i++] =
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt.ptr, salt.len);
    if (info.len > 0)
        params[i++] =
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info.ptr, info.len);
    params[i] = OSSL_PARAM_construct_end();
    assert_int_equal(EVP_KDF_derive(ctx, out, len, params), 1);
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
}

/* Random salts, keys and infos (empty, short, over one SHA-512 block, over
 * the 128-byte HMAC key size that makes HMAC hash the key) and output
 * lengths across block boundaries; then many block-chain steps (32-byte key,
 * empty salt, 88 bytes) fed back as the chain does. */
static void test_hkdf_matches_evp_kdf(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 13, 32, 63, 64, 65, 127, 128, 129, 200, 300};
    enum { NS = sizeof sizes / sizeof sizes[0] };
    uint8_t salt[300], ikm[300], info[300], want[700], got[700];
    srand(18);
    for (unsigned n = 0; n < 20000; n++) {
        size_t sl = n < NS * NS ? sizes[n % NS] : (size_t)rand() % sizeof salt;
        size_t il = n < NS * NS ? sizes[n / NS] : (size_t)rand() % sizeof ikm;
        size_t nl = (size_t)rand() % sizeof info;
        size_t len = 1 + (size_t)rand() % sizeof want;
        sx_random_bytes(salt, sl);
        sx_random_bytes(ikm, il);
        sx_random_bytes(info, nl);
        evp_hkdf_sha512(sx_slice_of(salt, sl), sx_slice_of(ikm, il), sx_slice_of(info, nl), want,
                        len);
        assert_ok(sx_hkdf_sha512(sx_slice_of(salt, sl), sx_slice_of(ikm, il),
                                 sx_slice_of(info, nl), got, len));
        assert_memory_equal(got, want, len);
    }
    uint8_t ck[32];
    sx_random_bytes(ck, sizeof ck);
    for (unsigned n = 0; n < 50000; n++) {
        evp_hkdf_sha512(sx_slice_of(NULL, 0), sx_slice_of(ck, 32), sx_slice_str("SimpleXSbChain"),
                        want, 88);
        assert_ok(sx_hkdf_sha512(sx_slice_of(NULL, 0), sx_slice_of(ck, 32),
                                 sx_slice_str("SimpleXSbChain"), got, 88));
        assert_memory_equal(got, want, 88);
        memcpy(ck, got, sizeof ck);
    }
}

static void test_hkdf_empty_salt_is_zero_salt(void **state)
{
    (void)state;
    uint8_t zeros[64] = {0}, ikm[32], a[88], b[88];
    tu_bytes_seq(ikm, sizeof ikm, 9);
    assert_ok(sx_hkdf_sha512(sx_slice_of(NULL, 0), sx_slice_of(ikm, 32), sx_slice_str("x"), a, 88));
    assert_ok(
        sx_hkdf_sha512(sx_slice_of(zeros, 64), sx_slice_of(ikm, 32), sx_slice_str("x"), b, 88));
    assert_memory_equal(a, b, 88);
    /* but a different salt gives different bytes */
    zeros[0] = 1;
    assert_ok(
        sx_hkdf_sha512(sx_slice_of(zeros, 64), sx_slice_of(ikm, 32), sx_slice_str("x"), b, 88));
    assert_memory_not_equal(a, b, 88);
}

/* smp-crypto.md section 1: the reference's sbcInit = HKDF-SHA512. */
static void test_hkdf_reference_sbcinit(void **state)
{
    (void)state;
    uint8_t sid[32], secret[32], want[64], got[64];
    tu_bytes_seq(sid, sizeof sid, 0x01);
    tu_hex_to("dcd77236231add34de0561c47859a65d304f2a8550e8df98df053cf5dfabea0b", secret, 32);
    tu_hex_to("15edae1e6c8f3388f7cbb988ef10c584ed813a69a55b89b2262128c3b0dafb82"
              "2748471430da6bc42732cca6f00f059f45205344ad2c88ccc4649c10385039f4",
              want, 64);
    assert_ok(sx_hkdf_sha512(sx_slice_of(sid, 32), sx_slice_of(secret, 32),
                             sx_slice_str("SimpleXSbChainInit"), got, 64));
    assert_memory_equal(got, want, 64);

    /* sbcHkdf of ck1 (empty salt, 88 bytes): bytes 32..88 are step 1 key || nonce. */
    uint8_t step[88], key_nonce[56];
    tu_hex_to("927287cc3a53315fd3fd6337700c1a09fd35001528ac5cf8e899cb94ba59fdc9"
              "e302905a8b92d0d182e9aa90ca434a424673419ee1443c28",
              key_nonce, 56);
    assert_ok(sx_hkdf_sha512(sx_slice_of(NULL, 0), sx_slice_of(want, 32),
                             sx_slice_str("SimpleXSbChain"), step, 88));
    assert_memory_equal(step + 32, key_nonce, 56);
}

static void test_hkdf_lengths(void **state)
{
    (void)state;
    static uint8_t big[SX_HKDF_SHA512_MAX_LEN + 1];
    uint8_t small[100];
    sx_slice ikm = sx_slice_str("input key material");
    sx_slice salt = sx_slice_str("salt");
    sx_slice info = sx_slice_str("info");
    assert_int_equal(sx_hkdf_sha512(salt, ikm, info, small, 0), SX_E_USAGE);
    assert_int_equal(sx_hkdf_sha512(salt, ikm, info, big, sizeof big), SX_E_USAGE);
    assert_int_equal(sx_hkdf_sha512(salt, ikm, info, NULL, 10), SX_E_USAGE);
    assert_int_equal(sx_hkdf_sha512(sx_slice_of(NULL, 4), ikm, info, small, 10), SX_E_USAGE);
    assert_int_equal(sx_hkdf_sha512(salt, sx_slice_of(NULL, 4), info, small, 10), SX_E_USAGE);
    assert_int_equal(sx_hkdf_sha512(salt, ikm, sx_slice_of(NULL, 4), small, 10), SX_E_USAGE);
    /* The maximum works, and every shorter output is a prefix of it. */
    assert_ok(sx_hkdf_sha512(salt, ikm, info, big, SX_HKDF_SHA512_MAX_LEN));
    for (size_t n = 1; n <= sizeof small; n += 33) {
        assert_ok(sx_hkdf_sha512(salt, ikm, info, small, n));
        assert_memory_equal(small, big, n);
    }
    /* and it agrees with the manual computation at full length */
    uint8_t *want = malloc(SX_HKDF_SHA512_MAX_LEN);
    assert_non_null(want);
    manual_hkdf_sha512(salt.ptr, salt.len, ikm.ptr, ikm.len, info.ptr, info.len, want,
                       SX_HKDF_SHA512_MAX_LEN);
    assert_memory_equal(big, want, SX_HKDF_SHA512_MAX_LEN);
    free(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_kat),
        cmocka_unit_test(test_md5_kat),
        cmocka_unit_test(test_sha512_kat),
        cmocka_unit_test(test_sha3_384_kat),
        cmocka_unit_test(test_sha3_256_kat),
        cmocka_unit_test(test_hash_usage_errors),
        cmocka_unit_test(test_incremental_million_a),
        cmocka_unit_test(test_incremental_matches_oneshot),
        cmocka_unit_test(test_incremental_usage),
        cmocka_unit_test(test_hkdf_rfc5869_inputs),
        cmocka_unit_test(test_hkdf_sha512_kat),
        cmocka_unit_test(test_hkdf_matches_evp_kdf),
        cmocka_unit_test(test_hkdf_empty_salt_is_zero_salt),
        cmocka_unit_test(test_hkdf_reference_sbcinit),
        cmocka_unit_test(test_hkdf_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
