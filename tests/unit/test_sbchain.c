/* Tests for crypto/sbchain: the reference's known answers of
 * vectors/smp-crypto.md section 1 (sbcInit, sbcHkdf steps, the router's first
 * encrypted block), PROTOCOL-NOTES B34 chain advance on failures, limits and
 * round trips. */
#include "testutil.h"

#include "crypto/hash.h"
#include "crypto/sbchain.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define CK1 "15edae1e6c8f3388f7cbb988ef10c584ed813a69a55b89b2262128c3b0dafb82"
#define CK2 "2748471430da6bc42732cca6f00f059f45205344ad2c88ccc4649c10385039f4"

static const uint8_t pong[] = {0x01, 0x00, 0x06, 'P', 'O', 'N', 'G', '!', '!'};

/* Router and client chains from the vector's session keys. */
static void vector_chains(sx_sbchain *ck1, sx_sbchain *ck2)
{
    assert_true(sodium_init() >= 0);
    uint8_t sid[32], client_sk[32], router_sk[32], client_pk[32], router_pk[32], s1[32], s2[32];
    uint8_t want[32];
    tu_bytes_seq(sid, 32, 0x01);
    tu_bytes_seq(client_sk, 32, 0x40);
    tu_bytes_seq(router_sk, 32, 0x80);
    assert_int_equal(crypto_scalarmult_base(client_pk, client_sk), 0);
    assert_int_equal(crypto_scalarmult_base(router_pk, router_sk), 0);
    tu_hex_to("79a631eede1bf9c98f12032cdeadd0e7a079398fc786b88cc846ec89af85a51a", want, 32);
    assert_memory_equal(client_pk, want, 32);
    tu_hex_to("493e82fc74464a59268817623d2053c5eb8e2cc4a988b4fee179ec6b010d531d", want, 32);
    assert_memory_equal(router_pk, want, 32);
    /* PROTOCOL-NOTES B26: both sides reach the same secret. */
    assert_int_equal(crypto_scalarmult(s1, router_sk, client_pk), 0);
    assert_int_equal(crypto_scalarmult(s2, client_sk, router_pk), 0);
    assert_memory_equal(s1, s2, 32);
    tu_hex_to("dcd77236231add34de0561c47859a65d304f2a8550e8df98df053cf5dfabea0b", want, 32);
    assert_memory_equal(s1, want, 32);
    assert_ok(sx_sbchain_init(sx_slice_of(sid, 32), s1, ck1, ck2));
}

static void test_init_vector(void **state)
{
    (void)state;
    sx_sbchain ck1, ck2;
    uint8_t want[32];
    vector_chains(&ck1, &ck2);
    tu_hex_to(CK1, want, 32);
    assert_memory_equal(ck1.ck, want, 32);
    tu_hex_to(CK2, want, 32);
    assert_memory_equal(ck2.ck, want, 32);

    /* Usage errors: NULL pointers, the same chain for both outputs. */
    uint8_t secret[32] = {0};
    assert_int_equal(sx_sbchain_init(sx_slice_str("sid"), NULL, &ck1, &ck2), SX_E_USAGE);
    assert_int_equal(sx_sbchain_init(sx_slice_str("sid"), secret, &ck1, &ck1), SX_E_USAGE);
    assert_int_equal(sx_sbchain_init(sx_slice_str("sid"), secret, NULL, &ck2), SX_E_USAGE);
    assert_int_equal(sx_sbchain_init(sx_slice_of(NULL, 32), secret, &ck1, &ck2), SX_E_USAGE);
}

static void check_step(sx_sbchain *c, const char *key_hex, const char *nonce_hex)
{
    uint8_t key[32], nonce[24], wk[32], wn[24];
    assert_ok(sx_sbchain_step(c, key, nonce));
    tu_hex_to(key_hex, wk, 32);
    tu_hex_to(nonce_hex, wn, 24);
    assert_memory_equal(key, wk, 32);
    assert_memory_equal(nonce, wn, 24);
}

static void test_step_vectors(void **state)
{
    (void)state;
    sx_sbchain ck1, ck2;
    vector_chains(&ck1, &ck2);
    /* router send chain (ck1), steps 1 and 2 */
    check_step(&ck1, "927287cc3a53315fd3fd6337700c1a09fd35001528ac5cf8e899cb94ba59fdc9",
               "e302905a8b92d0d182e9aa90ca434a424673419ee1443c28");
    check_step(&ck1, "019a520cb683376cf83daa66f55712ee68c012b4c2667db58e8679717db9610a",
               "474d152dd66478bb7507c99e80b3fab64f93de2a7cd5f820");
    /* client send chain (ck2), step 1 */
    check_step(&ck2, "79ed188791e53ced0a29f3a2f23ff318c805dc815de085eda0be2fabe30a9dab",
               "799bdef469eeeaae0c27ca6549c1bb044958763223973800");
    uint8_t key[32], nonce[24];
    assert_int_equal(sx_sbchain_step(NULL, key, nonce), SX_E_USAGE);
    assert_int_equal(sx_sbchain_step(&ck1, NULL, nonce), SX_E_USAGE);
    assert_int_equal(sx_sbchain_step(&ck1, key, NULL), SX_E_USAGE);
}

static void test_first_router_block_vector(void **state)
{
    (void)state;
    sx_sbchain router_send, router_recv, client_recv, client_send;
    vector_chains(&router_send, &router_recv);
    vector_chains(&client_recv, &client_send); /* PROTOCOL-NOTES B31: client receives on ck1 */

    uint8_t *block = malloc(SX_SBBLOCK_LEN), *buf = malloc(SX_SBBLOCK_PADDED_LEN);
    assert_non_null(block);
    assert_non_null(buf);
    assert_ok(sx_sbchain_seal(&router_send, sx_slice_of(pong, sizeof pong), block, SX_SBBLOCK_LEN));
    uint8_t first48[48], digest[32], want[32];
    tu_hex_to("3b901eb0646894f14a5cb133abe7e1d8e342052517b6e7c36a8db72e19ffbfe4"
              "5cd0a09d1f1e6a788d12fe07b04178f4",
              first48, 48);
    assert_memory_equal(block, first48, 48);
    assert_ok(sx_sha256(sx_slice_of(block, SX_SBBLOCK_LEN), digest));
    tu_hex_to("d7386e7e760c9efaf1ca48554e357729bc62a0a46302a0be3c17ed9707b5bce8", want, 32);
    assert_memory_equal(digest, want, 32);
    /* sealing advanced the router's send chain by exactly one step */
    check_step(&router_send, "019a520cb683376cf83daa66f55712ee68c012b4c2667db58e8679717db9610a",
               "474d152dd66478bb7507c99e80b3fab64f93de2a7cd5f820");

    /* The client opens it with its receive chain. */
    sx_slice content;
    assert_ok(sx_sbchain_open(&client_recv, sx_slice_of(block, SX_SBBLOCK_LEN), buf,
                              SX_SBBLOCK_PADDED_LEN, &content));
    assert_true(sx_slice_eq(content, sx_slice_of(pong, sizeof pong)));
    assert_true(content.ptr >= buf && content.ptr < buf + SX_SBBLOCK_PADDED_LEN);
    /* The wrong direction's chain cannot open it. */
    assert_int_equal(sx_sbchain_open(&router_recv, sx_slice_of(block, SX_SBBLOCK_LEN), buf,
                                     SX_SBBLOCK_PADDED_LEN, &content),
                     SX_E_AUTH);
    sx_sbchain_cleanup(&router_send);
    sx_sbchain_cleanup(&router_recv);
    sx_sbchain_cleanup(&client_recv);
    sx_sbchain_cleanup(&client_send);
    free(block);
    free(buf);
}

static void test_chain_advances_on_failure(void **state)
{
    (void)state;
    sx_sbchain tx, rx, unused;
    vector_chains(&tx, &unused);
    vector_chains(&rx, &unused);
    uint8_t *b1 = malloc(SX_SBBLOCK_LEN), *b2 = malloc(SX_SBBLOCK_LEN);
    uint8_t *buf = malloc(SX_SBBLOCK_PADDED_LEN);
    assert_non_null(b1);
    assert_non_null(b2);
    assert_non_null(buf);
    assert_ok(sx_sbchain_seal(&tx, sx_slice_str("first"), b1, SX_SBBLOCK_LEN));
    assert_ok(sx_sbchain_seal(&tx, sx_slice_str("second"), b2, SX_SBBLOCK_LEN));

    /* PROTOCOL-NOTES B34: the first block arrives damaged; it is refused but
     * still counts, so the second one opens. */
    sx_slice content;
    b1[SX_SBBLOCK_LEN - 1] ^= 0x01;
    memset(buf, 0x77, SX_SBBLOCK_PADDED_LEN);
    sx_sbchain before = rx;
    assert_int_equal(
        sx_sbchain_open(&rx, sx_slice_of(b1, SX_SBBLOCK_LEN), buf, SX_SBBLOCK_PADDED_LEN, &content),
        SX_E_AUTH);
    assert_int_equal(content.len, 0);
    assert_memory_not_equal(rx.ck, before.ck, 32);
    const uint8_t zero[64] = {0};
    assert_memory_equal(buf, zero, 64); /* buf wiped */
    assert_ok(sx_sbchain_open(&rx, sx_slice_of(b2, SX_SBBLOCK_LEN), buf, SX_SBBLOCK_PADDED_LEN,
                              &content));
    assert_true(sx_slice_eq(content, sx_slice_str("second")));
    /* and the chains are in step again */
    assert_memory_equal(rx.ck, tx.ck, 32);

    /* A replay of an old block fails (it belongs to an earlier step). */
    b1[SX_SBBLOCK_LEN - 1] ^= 0x01;
    assert_int_equal(
        sx_sbchain_open(&rx, sx_slice_of(b1, SX_SBBLOCK_LEN), buf, SX_SBBLOCK_PADDED_LEN, &content),
        SX_E_AUTH);
    free(b1);
    free(b2);
    free(buf);
}

static void test_tamper_every_region(void **state)
{
    (void)state;
    sx_sbchain tx0, rx0, unused;
    vector_chains(&tx0, &unused);
    rx0 = tx0;
    uint8_t *block = malloc(SX_SBBLOCK_LEN), *buf = malloc(SX_SBBLOCK_PADDED_LEN);
    assert_non_null(block);
    assert_non_null(buf);
    sx_sbchain tx = tx0;
    assert_ok(sx_sbchain_seal(&tx, sx_slice_str("payload"), block, SX_SBBLOCK_LEN));
    /* tag bytes, content bytes, padding bytes: each flip is caught */
    const size_t offsets[] = {0, 8, 15, 16, 17, 20, 100, 8000, SX_SBBLOCK_LEN - 1};
    for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
        sx_sbchain rx = rx0;
        sx_slice content;
        block[offsets[i]] ^= 0x80;
        assert_int_equal(sx_sbchain_open(&rx, sx_slice_of(block, SX_SBBLOCK_LEN), buf,
                                         SX_SBBLOCK_PADDED_LEN, &content),
                         SX_E_AUTH);
        block[offsets[i]] ^= 0x80;
    }
    sx_sbchain rx = rx0;
    sx_slice content;
    assert_ok(sx_sbchain_open(&rx, sx_slice_of(block, SX_SBBLOCK_LEN), buf, SX_SBBLOCK_PADDED_LEN,
                              &content));
    assert_true(sx_slice_eq(content, sx_slice_str("payload")));
    free(block);
    free(buf);
}

static void test_limits_and_usage(void **state)
{
    (void)state;
    sx_sbchain tx, rx, unused;
    vector_chains(&tx, &unused);
    rx = tx;
    uint8_t *block = malloc(SX_SBBLOCK_LEN + 1), *buf = malloc(SX_SBBLOCK_PADDED_LEN);
    uint8_t *big = malloc(SX_SBBLOCK_MAX_CONTENT + 1);
    assert_non_null(block);
    assert_non_null(buf);
    assert_non_null(big);
    tu_bytes_seq(big, SX_SBBLOCK_MAX_CONTENT + 1, 0);

    /* Oversize content: SX_E_LIMIT and the chain does not move. */
    sx_sbchain before = tx;
    assert_int_equal(
        sx_sbchain_seal(&tx, sx_slice_of(big, SX_SBBLOCK_MAX_CONTENT + 1), block, SX_SBBLOCK_LEN),
        SX_E_LIMIT);
    assert_memory_equal(tx.ck, before.ck, 32);
    assert_int_equal(sx_sbchain_seal(&tx, sx_slice_str("x"), block, SX_SBBLOCK_LEN - 1),
                     SX_E_USAGE);
    assert_int_equal(sx_sbchain_seal(&tx, sx_slice_of(NULL, 1), block, SX_SBBLOCK_LEN), SX_E_USAGE);
    assert_int_equal(sx_sbchain_seal(NULL, sx_slice_str("x"), block, SX_SBBLOCK_LEN), SX_E_USAGE);
    assert_memory_equal(tx.ck, before.ck, 32);

    /* The largest content fits exactly. */
    assert_ok(
        sx_sbchain_seal(&tx, sx_slice_of(big, SX_SBBLOCK_MAX_CONTENT), block, SX_SBBLOCK_LEN));
    sx_slice content;

    /* Wrong block length or short buffer: SX_E_USAGE, chain unchanged. */
    before = rx;
    assert_int_equal(sx_sbchain_open(&rx, sx_slice_of(block, SX_SBBLOCK_LEN - 1), buf,
                                     SX_SBBLOCK_PADDED_LEN, &content),
                     SX_E_USAGE);
    assert_int_equal(sx_sbchain_open(&rx, sx_slice_of(block, SX_SBBLOCK_LEN + 1), buf,
                                     SX_SBBLOCK_PADDED_LEN, &content),
                     SX_E_USAGE);
    assert_int_equal(sx_sbchain_open(&rx, sx_slice_of(block, SX_SBBLOCK_LEN), buf,
                                     SX_SBBLOCK_PADDED_LEN - 1, &content),
                     SX_E_USAGE);
    assert_int_equal(
        sx_sbchain_open(&rx, sx_slice_of(block, SX_SBBLOCK_LEN), buf, SX_SBBLOCK_PADDED_LEN, NULL),
        SX_E_USAGE);
    assert_int_equal(sx_sbchain_open(&rx, sx_slice_of(NULL, SX_SBBLOCK_LEN), buf,
                                     SX_SBBLOCK_PADDED_LEN, &content),
                     SX_E_USAGE);
    assert_memory_equal(rx.ck, before.ck, 32);
    assert_ok(sx_sbchain_open(&rx, sx_slice_of(block, SX_SBBLOCK_LEN), buf, SX_SBBLOCK_PADDED_LEN,
                              &content));
    assert_int_equal(content.len, SX_SBBLOCK_MAX_CONTENT);
    assert_memory_equal(content.ptr, big, SX_SBBLOCK_MAX_CONTENT);

    /* Empty content. */
    assert_ok(sx_sbchain_seal(&tx, sx_slice_of(NULL, 0), block, SX_SBBLOCK_LEN));
    assert_ok(sx_sbchain_open(&rx, sx_slice_of(block, SX_SBBLOCK_LEN), buf, SX_SBBLOCK_PADDED_LEN,
                              &content));
    assert_int_equal(content.len, 0);
    free(block);
    free(buf);
    free(big);
}

/* An authentic block whose padding is malformed: SX_E_PROTOCOL, chain moved. */
static void test_bad_padding_inside(void **state)
{
    (void)state;
    sx_sbchain tx, rx, unused;
    vector_chains(&tx, &unused);
    rx = tx;
    uint8_t *plain = malloc(SX_SBBLOCK_PADDED_LEN), *block = malloc(SX_SBBLOCK_LEN);
    uint8_t *buf = malloc(SX_SBBLOCK_PADDED_LEN);
    assert_non_null(plain);
    assert_non_null(block);
    assert_non_null(buf);
    memset(plain, '#', SX_SBBLOCK_PADDED_LEN);
    plain[0] = 0x3f; /* declares 0x3ff0 = 16368 bytes, 2 more than follow */
    plain[1] = 0xf0;
    uint8_t key[32], nonce[24];
    assert_ok(sx_sbchain_step(&tx, key, nonce));
    assert_ok(sx_sb_encrypt(key, nonce, sx_slice_of(plain, SX_SBBLOCK_PADDED_LEN), block,
                            SX_SBBLOCK_LEN));
    sx_slice content;
    assert_int_equal(sx_sbchain_open(&rx, sx_slice_of(block, SX_SBBLOCK_LEN), buf,
                                     SX_SBBLOCK_PADDED_LEN, &content),
                     SX_E_PROTOCOL);
    assert_int_equal(content.len, 0);
    assert_memory_equal(rx.ck, tx.ck, 32);

    /* declared length exactly what follows is accepted */
    plain[1] = 0xee; /* 0x3fee = 16366 */
    assert_ok(sx_sbchain_step(&tx, key, nonce));
    assert_ok(sx_sb_encrypt(key, nonce, sx_slice_of(plain, SX_SBBLOCK_PADDED_LEN), block,
                            SX_SBBLOCK_LEN));
    assert_ok(sx_sbchain_open(&rx, sx_slice_of(block, SX_SBBLOCK_LEN), buf, SX_SBBLOCK_PADDED_LEN,
                              &content));
    assert_int_equal(content.len, SX_SBBLOCK_MAX_CONTENT);
    free(plain);
    free(block);
    free(buf);
}

/* Many blocks both ways, opened in place (buf overlapping the block). */
static void test_duplex_round_trips(void **state)
{
    (void)state;
    sx_sbchain r_send, r_recv, c_recv, c_send;
    vector_chains(&r_send, &r_recv);
    vector_chains(&c_recv, &c_send);
    uint8_t *block = malloc(SX_SBBLOCK_LEN);
    uint8_t msg[300];
    assert_non_null(block);
    for (int i = 0; i < 50; i++) {
        size_t n = (size_t)(i * 6) % sizeof msg;
        tu_bytes_seq(msg, n, (uint8_t)i);
        sx_sbchain *tx = (i % 3) ? &r_send : &c_send;
        sx_sbchain *rx = (i % 3) ? &c_recv : &r_recv;
        assert_ok(sx_sbchain_seal(tx, sx_slice_of(msg, n), block, SX_SBBLOCK_LEN));
        sx_slice content;
        assert_ok(sx_sbchain_open(rx, sx_slice_of(block, SX_SBBLOCK_LEN), block, SX_SBBLOCK_LEN,
                                  &content));
        assert_int_equal(content.len, n);
        if (n > 0)
            assert_memory_equal(content.ptr, msg, n);
    }
    sx_sbchain_cleanup(&r_send);
    const uint8_t zero[32] = {0};
    assert_memory_equal(r_send.ck, zero, 32);
    sx_sbchain_cleanup(NULL);
    free(block);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_vector),
        cmocka_unit_test(test_step_vectors),
        cmocka_unit_test(test_first_router_block_vector),
        cmocka_unit_test(test_chain_advances_on_failure),
        cmocka_unit_test(test_tamper_every_region),
        cmocka_unit_test(test_limits_and_usage),
        cmocka_unit_test(test_bad_padding_inside),
        cmocka_unit_test(test_duplex_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
