/* Tests for crypto/sntrup761: the reference's known answers (vectors/
 * sntrup761.txt: pk inside sk, dec(ct) and dec(ct_bad) with implicit
 * rejection, key consistency), round trips with random and seeded keys,
 * determinism of the seeded generator, tampering, and the sorting network. */
#include "testutil.h"

#include "crypto/hash.h"
#include "crypto/sntrup761.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PK SX_SNTRUP761_PK_LEN
#define SK SX_SNTRUP761_SK_LEN
#define CT SX_SNTRUP761_CT_LEN
#define SS SX_SNTRUP761_SS_LEN
#define SMALL 191
#define SK_PK (2 * SMALL)
#define SK_RHO (SK_PK + PK)
#define SK_CACHE (SK_RHO + SMALL)

/* Hash_prefix(b, x) of the specification, computed here with the project's
 * SHA-512 independently of the module. */
static void hash_prefix(uint8_t out[32], uint8_t b, const uint8_t *x, size_t n)
{
    uint8_t *buf = malloc(n + 1);
    uint8_t full[SX_SHA512_LEN];
    assert_non_null(buf);
    buf[0] = b;
    memcpy(buf + 1, x, n);
    assert_ok(sx_sha512(sx_slice_of(buf, n + 1), full));
    memcpy(out, full, 32);
    free(buf);
}

/* The secret implicit rejection must give: Hash_prefix(0, Hash_prefix(3, rho) || ct). */
static void rejection_secret(uint8_t out[SS], const uint8_t sk[SK], const uint8_t ct[CT])
{
    uint8_t x[32 + CT];
    hash_prefix(x, 3, sk + SK_RHO, SMALL);
    memcpy(x + 32, ct, CT);
    hash_prefix(out, 0, x, sizeof x);
}

/* ---- known answers ------------------------------------------------------- */

typedef struct kat {
    uint8_t pk[PK], sk[SK], ct[CT], ss[SS], ct_bad[CT], ss_bad[SS];
} kat;

static const char *field(char *line, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(line, name, n) == 0 && line[n] == '=')
        return line + n + 1;
    return NULL;
}

/* Parses every record of the vector file into a new array; returns the count. */
static size_t load_kats(kat **out)
{
    size_t len;
    char *text = (char *)tu_read_shared("vectors/sntrup761.txt", &len);
    kat *k = NULL;
    size_t count = 0;
    int seen = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        const char *v;
        if (strncmp(line, "seed=", 5) == 0) {
            if (count > 0)
                assert_int_equal(seen, 6);
            k = realloc(k, (count + 1) * sizeof *k);
            assert_non_null(k);
            count++;
            seen = 0;
        } else if ((v = field(line, "pk"))) {
            tu_hex_to(v, k[count - 1].pk, PK), seen++;
        } else if ((v = field(line, "sk"))) {
            tu_hex_to(v, k[count - 1].sk, SK), seen++;
        } else if ((v = field(line, "ct"))) {
            tu_hex_to(v, k[count - 1].ct, CT), seen++;
        } else if ((v = field(line, "ss"))) {
            tu_hex_to(v, k[count - 1].ss, SS), seen++;
        } else if ((v = field(line, "ct_bad"))) {
            tu_hex_to(v, k[count - 1].ct_bad, CT), seen++;
        } else if ((v = field(line, "ss_bad"))) {
            tu_hex_to(v, k[count - 1].ss_bad, SS), seen++;
        }
    }
    assert_int_equal(seen, 6);
    free(text);
    *out = k;
    return count;
}

static void test_kat(void **state)
{
    (void)state;
    kat *k;
    size_t n = load_kats(&k);
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++) {
        uint8_t ss[SS], want[SS];
        /* the public key is embedded in the secret key */
        assert_memory_equal(k[i].sk + SK_PK, k[i].pk, PK);
        /* f has weight w, 3fh is small g, v g = 1 in R/3, cache = Hash4(pk) */
        assert_ok(sx_sntrup761_sk_check(k[i].sk));
        hash_prefix(want, 4, k[i].pk, PK);
        assert_memory_equal(k[i].sk + SK_CACHE, want, 32);

        assert_ok(sx_sntrup761_dec(ss, k[i].ct, k[i].sk));
        assert_memory_equal(ss, k[i].ss, SS);

        /* implicit rejection, and the formula it follows */
        assert_int_equal(k[i].ct_bad[0], k[i].ct[0] ^ 1);
        assert_ok(sx_sntrup761_dec(ss, k[i].ct_bad, k[i].sk));
        assert_memory_equal(ss, k[i].ss_bad, SS);
        rejection_secret(want, k[i].sk, k[i].ct_bad);
        assert_memory_equal(ss, want, SS);
        /* and a good ciphertext does not take that path */
        rejection_secret(want, k[i].sk, k[i].ct);
        assert_memory_not_equal(k[i].ss, want, SS);
    }
    free(k);
}

/* One bit flipped at every fourth byte of a reference ciphertext's rounded
 * part and at every byte of its confirmation hash: always rejected. */
static void test_kat_tamper(void **state)
{
    (void)state;
    kat *k;
    size_t n = load_kats(&k);
    assert_true(n > 0);
    uint8_t ct[CT], ss[SS], want[SS];
    size_t tried = 0;
    for (size_t pos = 0; pos < CT; pos++) {
        if (pos < CT - 32 && pos % 4 != 0)
            continue;
        tried++;
        memcpy(ct, k[0].ct, CT);
        ct[pos] ^= (uint8_t)(1u << (pos % 8));
        assert_ok(sx_sntrup761_dec(ss, ct, k[0].sk));
        rejection_secret(want, k[0].sk, ct);
        assert_memory_equal(ss, want, SS);
        assert_memory_not_equal(ss, k[0].ss, SS);
    }
    assert_int_equal(tried, (CT - 32 + 3) / 4 + 32);
    free(k);
}

/* The 2-bit field of coefficient i of the small element at s. */
static unsigned field_get(const uint8_t *s, size_t i)
{
    return (s[i / 4] >> (2 * (i % 4))) & 3u;
}

static void field_set(uint8_t *s, size_t i, unsigned v)
{
    unsigned sh = 2 * (unsigned)(i % 4);
    s[i / 4] = (uint8_t)((s[i / 4] & ~(3u << sh)) | (v << sh));
}

/* sk_check notices each kind of damage. */
static void test_sk_check_rejects(void **state)
{
    (void)state;
    kat *k;
    size_t n = load_kats(&k);
    assert_true(n > 0);
    uint8_t sk[SK];

    memcpy(sk, k[0].sk, SK);
    sk[0] |= 3; /* a field of f that is not a small coefficient */
    assert_int_equal(sx_sntrup761_sk_check(sk), SX_E_PROTOCOL);

    memcpy(sk, k[0].sk, SK);
    sk[SMALL - 1] |= 4; /* unused high bits of f's last byte */
    assert_int_equal(sx_sntrup761_sk_check(sk), SX_E_PROTOCOL);

    /* f with a different weight: a zero coefficient becomes 1 */
    memcpy(sk, k[0].sk, SK);
    size_t z = 0;
    while (field_get(sk, z) != 1)
        z++;
    field_set(sk, z, 2);
    assert_int_equal(sx_sntrup761_sk_check(sk), SX_E_PROTOCOL);

    /* swap two different coefficients of f: weight kept, 3fh no longer small */
    memcpy(sk, k[0].sk, SK);
    size_t j = 1;
    while (field_get(sk, j) == field_get(sk, 0))
        j++;
    unsigned f0 = field_get(sk, 0), fj = field_get(sk, j);
    field_set(sk, 0, fj);
    field_set(sk, j, f0);
    assert_int_equal(sx_sntrup761_sk_check(sk), SX_E_PROTOCOL);

    /* 1/g with one coefficient changed to another small value */
    memcpy(sk, k[0].sk, SK);
    field_set(sk + SMALL, 5, (field_get(sk + SMALL, 5) + 1) % 3);
    assert_int_equal(sx_sntrup761_sk_check(sk), SX_E_PROTOCOL);

    /* pk changed: the cache no longer matches */
    memcpy(sk, k[0].sk, SK);
    sk[SK_PK + 100] ^= 0x10;
    assert_int_equal(sx_sntrup761_sk_check(sk), SX_E_PROTOCOL);
    /* and with the cache recomputed, 3fh is no longer small (byte 100 is a
     * low byte of a first-level pair, so the encoding stays canonical) */
    hash_prefix(sk + SK_CACHE, 4, sk + SK_PK, PK);
    assert_int_equal(sx_sntrup761_sk_check(sk), SX_E_PROTOCOL);

    memcpy(sk, k[0].sk, SK);
    sk[SK_CACHE + 31] ^= 0x80;
    assert_int_equal(sx_sntrup761_sk_check(sk), SX_E_PROTOCOL);

    /* rho is not checked: any value is a valid key */
    memcpy(sk, k[0].sk, SK);
    sk[SK_RHO] ^= 0xff;
    assert_ok(sx_sntrup761_sk_check(sk));
    free(k);
}

/* ---- round trips ---------------------------------------------------------- */

static void test_roundtrip_random(void **state)
{
    (void)state;
    static uint8_t pk[PK], sk[SK], ct[CT], ct2[CT];
    uint8_t ss1[SS], ss2[SS], ss3[SS];
    for (int i = 0; i < 4; i++) {
        assert_ok(sx_sntrup761_keypair(pk, sk, NULL));
        assert_memory_equal(sk + SK_PK, pk, PK);
        assert_ok(sx_sntrup761_sk_check(sk));
        for (int j = 0; j < 3; j++) {
            assert_ok(sx_sntrup761_enc(ct, ss1, pk, NULL));
            assert_ok(sx_sntrup761_dec(ss2, ct, sk));
            assert_memory_equal(ss1, ss2, SS);
            rejection_secret(ss3, sk, ct);
            assert_memory_not_equal(ss1, ss3, SS);
            /* fresh randomness each time */
            assert_ok(sx_sntrup761_enc(ct2, ss3, pk, NULL));
            assert_memory_not_equal(ct, ct2, CT);
            assert_memory_not_equal(ss1, ss3, SS);
        }
    }
}

static void seed_of(uint8_t seed[32], const char *label)
{
    uint8_t d[SX_SHA256_LEN];
    assert_ok(sx_sha256(sx_slice_str(label), d));
    memcpy(seed, d, 32);
}

typedef struct run {
    uint8_t pk[PK], sk[SK], ct[CT], ss[SS];
} run;

static void seeded_run(run *out, const char *label)
{
    uint8_t seed[32];
    sx_sntrup761_drbg d;
    seed_of(seed, label);
    sx_sntrup761_drbg_init(&d, seed);
    sx_sntrup761_rng rng = sx_sntrup761_drbg_rng(&d);
    assert_ok(sx_sntrup761_keypair(out->pk, out->sk, &rng));
    assert_ok(sx_sntrup761_enc(out->ct, out->ss, out->pk, &rng));
    sx_sntrup761_drbg_cleanup(&d);
}

static void test_seeded_deterministic(void **state)
{
    (void)state;
    static run a, b, c;
    seeded_run(&a, "sntrup761 test seed A");
    seeded_run(&b, "sntrup761 test seed A");
    seeded_run(&c, "sntrup761 test seed B");
    assert_memory_equal(&a, &b, sizeof a);
    assert_memory_not_equal(a.pk, c.pk, PK);
    assert_memory_not_equal(a.sk, c.sk, SK);
    assert_memory_not_equal(a.ct, c.ct, CT);
    assert_memory_not_equal(a.ss, c.ss, SS);

    uint8_t ss[SS];
    assert_ok(sx_sntrup761_sk_check(a.sk));
    assert_ok(sx_sntrup761_dec(ss, a.ct, a.sk));
    assert_memory_equal(ss, a.ss, SS);
    assert_ok(sx_sntrup761_dec(ss, c.ct, c.sk));
    assert_memory_equal(ss, c.ss, SS);
    /* the other key's ciphertext is rejected */
    assert_ok(sx_sntrup761_dec(ss, c.ct, a.sk));
    assert_memory_not_equal(ss, c.ss, SS);
}

/* Many seeded key pairs and encapsulations all round-trip and pass sk_check:
 * this walks both reciprocals over many inputs, and the R/3 retry path. */
static void test_seeded_many(void **state)
{
    (void)state;
    static uint8_t pk[PK], sk[SK], ct[CT];
    uint8_t seed[32] = {7}, ss1[SS], ss2[SS];
    sx_sntrup761_drbg d;
    sx_sntrup761_drbg_init(&d, seed);
    sx_sntrup761_rng rng = sx_sntrup761_drbg_rng(&d);
    for (int i = 0; i < 12; i++) {
        assert_ok(sx_sntrup761_keypair(pk, sk, &rng));
        assert_ok(sx_sntrup761_sk_check(sk));
        for (int j = 0; j < 2; j++) {
            assert_ok(sx_sntrup761_enc(ct, ss1, pk, &rng));
            assert_ok(sx_sntrup761_dec(ss2, ct, sk));
            assert_memory_equal(ss1, ss2, SS);
        }
    }
    sx_sntrup761_drbg_cleanup(&d);
}

/* ChaCha20 under the all-zero key and nonce, block 0 (RFC 8439 A.1 #1) and
 * block 1 (A.1 #2), however the reads are split. */
static void test_drbg_known_answer(void **state)
{
    (void)state;
    uint8_t seed[32] = {0}, want[128], got[128];
    tu_hex_to("76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
              "da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586"
              "9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed"
              "29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f",
              want, sizeof want);
    static const size_t splits[][4] = {{128, 0, 0, 0}, {1, 63, 64, 0}, {10, 100, 17, 1}};
    for (size_t s = 0; s < sizeof splits / sizeof splits[0]; s++) {
        sx_sntrup761_drbg d;
        sx_sntrup761_drbg_init(&d, seed);
        size_t off = 0;
        for (size_t j = 0; j < 4; j++) {
            sx_sntrup761_drbg_fill(&d, got + off, splits[s][j]);
            off += splits[s][j];
        }
        assert_int_equal(off, sizeof got);
        assert_memory_equal(got, want, sizeof want);
        sx_sntrup761_drbg_cleanup(&d);
    }
}

/* ---- tampering ------------------------------------------------------------ */

static void test_tamper(void **state)
{
    (void)state;
    static uint8_t pk[PK], sk[SK], ct[CT], bad[CT], pk2[PK];
    uint8_t ss[SS], ss2[SS], want[SS];
    uint8_t seed[32] = {1, 2, 3};
    sx_sntrup761_drbg d;
    sx_sntrup761_drbg_init(&d, seed);
    sx_sntrup761_rng rng = sx_sntrup761_drbg_rng(&d);
    assert_ok(sx_sntrup761_keypair(pk, sk, &rng));
    assert_ok(sx_sntrup761_enc(ct, ss, pk, &rng));

    /* the confirmation hash, a rounded coefficient, the last byte */
    static const size_t positions[] = {0, 1, 500, 1006, 1007, 1020, CT - 1};
    for (size_t i = 0; i < sizeof positions / sizeof positions[0]; i++) {
        memcpy(bad, ct, CT);
        bad[positions[i]] ^= 0x40;
        assert_ok(sx_sntrup761_dec(ss2, bad, sk));
        rejection_secret(want, sk, bad);
        assert_memory_equal(ss2, want, SS);
    }

    /* all-zero and all-ones ciphertexts (the latter is not even canonical) */
    memset(bad, 0, CT);
    assert_ok(sx_sntrup761_dec(ss2, bad, sk));
    rejection_secret(want, sk, bad);
    assert_memory_equal(ss2, want, SS);
    memset(bad, 0xff, CT);
    assert_ok(sx_sntrup761_dec(ss2, bad, sk));
    rejection_secret(want, sk, bad);
    assert_memory_equal(ss2, want, SS);

    /* encapsulating to a damaged public key: the real key holder rejects */
    memcpy(pk2, pk, PK);
    pk2[10] ^= 0x01;
    assert_ok(sx_sntrup761_enc(bad, ss2, pk2, &rng));
    assert_ok(sx_sntrup761_dec(want, bad, sk));
    assert_memory_not_equal(ss2, want, SS);

    /* a different rho changes only the rejection secret */
    assert_ok(sx_sntrup761_dec(ss2, ct, sk));
    assert_memory_equal(ss2, ss, SS);
    sk[SK_RHO + 5] ^= 1;
    assert_ok(sx_sntrup761_dec(ss2, ct, sk));
    assert_memory_equal(ss2, ss, SS);

    /* a damaged cache breaks the confirmation: rejected */
    sk[SK_CACHE] ^= 1;
    assert_ok(sx_sntrup761_dec(ss2, ct, sk));
    assert_memory_not_equal(ss2, ss, SS);
    sx_sntrup761_drbg_cleanup(&d);
}

static void test_usage(void **state)
{
    (void)state;
    static uint8_t pk[PK], sk[SK], ct[CT];
    uint8_t ss[SS];
    assert_int_equal(sx_sntrup761_keypair(NULL, sk, NULL), SX_E_USAGE);
    assert_int_equal(sx_sntrup761_keypair(pk, NULL, NULL), SX_E_USAGE);
    assert_int_equal(sx_sntrup761_enc(NULL, ss, pk, NULL), SX_E_USAGE);
    assert_int_equal(sx_sntrup761_enc(ct, NULL, pk, NULL), SX_E_USAGE);
    assert_int_equal(sx_sntrup761_enc(ct, ss, NULL, NULL), SX_E_USAGE);
    assert_int_equal(sx_sntrup761_dec(NULL, ct, sk), SX_E_USAGE);
    assert_int_equal(sx_sntrup761_dec(ss, NULL, sk), SX_E_USAGE);
    assert_int_equal(sx_sntrup761_dec(ss, ct, NULL), SX_E_USAGE);
    assert_int_equal(sx_sntrup761_sk_check(NULL), SX_E_USAGE);
    /* an all-zero secret key is not a key */
    assert_int_equal(sx_sntrup761_sk_check(sk), SX_E_PROTOCOL);
}

/* ---- sorting network ------------------------------------------------------ */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static void test_sort(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 255,
                                   286, 761, 1024, 1500};
    static uint32_t x[1500], y[1500];
    uint32_t state32 = 0x12345678u;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        for (int variant = 0; variant < 4; variant++) {
            for (size_t i = 0; i < n; i++) {
                state32 = state32 * 1664525u + 1013904223u;
                switch (variant) {
                case 0: x[i] = state32; break;                        /* random */
                case 1: x[i] = state32 >> 30; break;                  /* many ties */
                case 2: x[i] = (uint32_t)(n - i); break;              /* reversed */
                default: x[i] = (i & 1) ? 0xffffffffu : 0; break;     /* extremes */
                }
            }
            memcpy(y, x, n * sizeof x[0]);
            sx_sntrup761_sort_u32(x, n);
            if (n == 0)
                continue;
            qsort(y, n, sizeof y[0], cmp_u32);
            assert_memory_equal(x, y, n * sizeof x[0]);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kat),
        cmocka_unit_test(test_kat_tamper),
        cmocka_unit_test(test_sk_check_rejects),
        cmocka_unit_test(test_roundtrip_random),
        cmocka_unit_test(test_seeded_deterministic),
        cmocka_unit_test(test_seeded_many),
        cmocka_unit_test(test_drbg_known_answer),
        cmocka_unit_test(test_tamper),
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_sort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
