/* Tests for crypto/sntrup761: the reference's known answers (vectors/
 * sntrup761.txt: pk inside sk, dec(ct) and dec(ct_bad) with implicit
 * rejection, key consistency), round trips with random and seeded keys
 * (10,000 random ones), determinism of the seeded generator and our own
 * regression hashes, fixed and random tampering, the size of every encoding
 * and the effect of every byte of pk, sk and ct, and the sorting network. */
#include "testutil.h"

#include "crypto/hash.h"
#include "crypto/sntrup761.h"
#include "crypto/util.h"

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
    char *text = (char *)tu_read_data("vectors/sntrup761.txt", &len);
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

/* ---- scale ---------------------------------------------------------------- */

/* The counted loops below run in full in every build without sanitizers and
 * scaled down under ASan/TSan, which slow each product about 25-fold against
 * -O2. Whole file when written: about 8.5 s at RelWithDebInfo (7 s of it the
 * 10,000 round trips), 42 s at -O0 (Debug), 23 s with ASan+UBSan (scaled). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

#define ROUNDTRIPS (SANITIZED ? 500 : 10000) /* issue 5: 10,000 */
#define ROUNDTRIP_KEYS 5
#define TAMPERINGS (SANITIZED ? 200 : 2000)
#define BYTE_STRIDE (SANITIZED ? 5 : 1) /* every byte, or every fifth */

/* The seed of the randomised tests: 64 hex digits in SX_TEST_SEED to replay
 * a failure, otherwise fresh from the system CSPRNG. */
static void test_seed(uint8_t seed[32])
{
    const char *env = getenv("SX_TEST_SEED");
    if (env != NULL && *env != '\0')
        tu_hex_to(env, seed, 32);
    else
        sx_random_bytes(seed, 32);
}

/* ---- random round trips ---------------------------------------------------- */

/* 10,000 encapsulations spread over a handful of key pairs, all drawn from a
 * DRBG under a random seed (printed on failure): each decapsulates to the
 * same secret, which is not the rejection secret, and each ciphertext is new.
 * Every 64th ciphertext also goes to the previous key pair, which rejects it. */
static void test_roundtrip_10000(void **state)
{
    (void)state;
    static uint8_t pk[PK], sk[SK], ct[CT], prev_ct[CT], prev_sk[SK];
    uint8_t seed[32], ss1[SS], ss2[SS], rej[SS];
    test_seed(seed);
    sx_sntrup761_drbg d;
    sx_sntrup761_drbg_init(&d, seed);
    sx_sntrup761_rng rng = sx_sntrup761_drbg_rng(&d);
    size_t done = 0, foreign = 0;
    for (int k = 0; k < ROUNDTRIP_KEYS; k++) {
        assert_ok(sx_sntrup761_keypair(pk, sk, &rng));
        assert_ok(sx_sntrup761_sk_check(sk));
        memset(prev_ct, 0, CT);
        for (int i = 0; i < ROUNDTRIPS / ROUNDTRIP_KEYS; i++) {
            assert_ok(sx_sntrup761_enc(ct, ss1, pk, &rng));
            assert_ok(sx_sntrup761_dec(ss2, ct, sk));
            bool ok = memcmp(ss1, ss2, SS) == 0 && memcmp(ct, prev_ct, CT) != 0;
            if (ok && i % 16 == 0) {
                rejection_secret(rej, sk, ct);
                ok = memcmp(ss1, rej, SS) != 0;
            }
            if (ok && k > 0 && i % 64 == 0) {
                assert_ok(sx_sntrup761_dec(ss2, ct, prev_sk));
                rejection_secret(rej, prev_sk, ct);
                ok = memcmp(ss2, rej, SS) == 0 && memcmp(ss2, ss1, SS) != 0;
                foreign++;
            }
            if (!ok)
                fail_msg("round trip %d of key pair %d failed; replay with SX_TEST_SEED=%s", i, k,
                         tu_to_hex(seed, 32));
            memcpy(prev_ct, ct, CT);
            done++;
        }
        memcpy(prev_sk, sk, SK);
    }
    assert_int_equal(done, ROUNDTRIPS);
    assert_true(foreign > 0);
    sx_sntrup761_drbg_cleanup(&d);
}

/* ---- random tampering ------------------------------------------------------ */

static uint32_t drbg_u32(sx_sntrup761_drbg *d)
{
    uint8_t b[4];
    sx_sntrup761_drbg_fill(d, b, sizeof b);
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* A nonzero byte. */
static uint8_t drbg_nonzero(sx_sntrup761_drbg *d)
{
    return (uint8_t)(1 + drbg_u32(d) % 255);
}

/* Changes bad (a copy of ct) in one of several ways; other is another valid
 * ciphertext to the same key. Every way leaves bad != ct. */
static void tamper(uint8_t bad[CT], const uint8_t ct[CT], const uint8_t other[CT],
                   sx_sntrup761_drbg *d)
{
    memcpy(bad, ct, CT);
    uint32_t kind = drbg_u32(d) % 6;
    switch (kind) {
    case 0: { /* one bit */
        uint32_t bit = drbg_u32(d) % (CT * 8);
        bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        break;
    }
    case 1: /* one byte, anywhere */
        bad[drbg_u32(d) % CT] ^= drbg_nonzero(d);
        break;
    case 2: { /* 2..16 bytes */
        uint32_t n = 2 + drbg_u32(d) % 15;
        for (uint32_t i = 0; i < n; i++)
            bad[drbg_u32(d) % CT] ^= drbg_nonzero(d);
        if (memcmp(bad, ct, CT) == 0) /* the changes cancelled out */
            bad[0] ^= 1;
        break;
    }
    case 3: /* a random confirmation hash */
        sx_sntrup761_drbg_fill(d, bad + CT - 32, 32);
        bad[CT - 1] ^= (uint8_t)(bad[CT - 1] == ct[CT - 1]); /* differ at least there */
        break;
    case 4: /* another valid rounded part with this confirmation, or the reverse */
        if (drbg_u32(d) & 1)
            memcpy(bad, other, CT - 32);
        else
            memcpy(bad + CT - 32, other + CT - 32, 32);
        break;
    default: /* one byte of the rounded part, one of the hash */
        bad[drbg_u32(d) % (CT - 32)] ^= drbg_nonzero(d);
        bad[CT - 32 + drbg_u32(d) % 32] ^= drbg_nonzero(d);
        break;
    }
    assert_memory_not_equal(bad, ct, CT);
}

/* Many random tamperings of valid ciphertexts: each is rejected implicitly,
 * with exactly Hash_prefix(0, Hash_prefix(3, rho) || bad), never the real
 * secret, and different tamperings get different secrets. */
static void test_tamper_random(void **state)
{
    (void)state;
    static uint8_t pk[PK], sk[SK], ct[4][CT], bad[CT], prev_bad[CT];
    uint8_t seed[32], ss[4][SS], got[SS], want[SS], prev[SS] = {0};
    test_seed(seed);
    sx_sntrup761_drbg d;
    sx_sntrup761_drbg_init(&d, seed);
    sx_sntrup761_rng rng = sx_sntrup761_drbg_rng(&d);
    for (int t = 0; t < TAMPERINGS; t++) {
        if (t % (TAMPERINGS / 4) == 0) { /* a new key pair for each quarter */
            assert_ok(sx_sntrup761_keypair(pk, sk, &rng));
            for (int j = 0; j < 4; j++)
                assert_ok(sx_sntrup761_enc(ct[j], ss[j], pk, &rng));
        }
        size_t j = drbg_u32(&d) % 4;
        tamper(bad, ct[j], ct[(j + 1) % 4], &d);
        assert_ok(sx_sntrup761_dec(got, bad, sk));
        rejection_secret(want, sk, bad);
        /* (the same tampering twice in a row gives the same secret) */
        bool repeat = memcmp(bad, prev_bad, CT) == 0;
        if (memcmp(got, want, SS) != 0 || memcmp(got, ss[j], SS) == 0 ||
            (memcmp(got, prev, SS) == 0) != repeat)
            fail_msg("tampering %d not rejected as expected; replay with SX_TEST_SEED=%s", t,
                     tu_to_hex(seed, 32));
        memcpy(prev, got, SS);
        memcpy(prev_bad, bad, CT);
    }
    sx_sntrup761_drbg_cleanup(&d);
}

/* ---- encodings ------------------------------------------------------------- */

/* Length of the specification's Encode(R, M) for n moduli all equal to m,
 * computed from its recursion independently of the module: pairs merge into
 * one digit whose low bytes go out while the range is >= 2^14. */
static size_t radix_len(size_t n, uint32_t m)
{
    static uint32_t M[761];
    assert_true(n <= 761);
    for (size_t i = 0; i < n; i++)
        M[i] = m;
    size_t bytes = 0;
    while (n > 1) {
        size_t half = 0;
        for (size_t i = 0; i + 1 < n; i += 2) {
            uint32_t r = M[i] * M[i + 1];
            for (; r >= 16384; r = (r + 255) / 256)
                bytes++;
            M[half++] = r;
        }
        if (n % 2)
            M[half++] = M[n - 1];
        n = half;
    }
    for (uint32_t r = M[0]; r > 1; r = (r + 255) / 256)
        bytes++;
    return bytes;
}

#define GUARD 64

/* Runs keypair, enc and dec under a fixed seed into buffers pre-filled with
 * fill, each followed by GUARD bytes that must stay untouched. */
static void sized_run(uint8_t fill, uint8_t *pk, uint8_t *sk, uint8_t *ct, uint8_t *ss,
                      uint8_t *ss_dec)
{
    uint8_t seed[32] = "sntrup761 output extents";
    sx_sntrup761_drbg d;
    sx_sntrup761_drbg_init(&d, seed);
    sx_sntrup761_rng rng = sx_sntrup761_drbg_rng(&d);
    memset(pk, fill, PK + GUARD);
    memset(sk, fill, SK + GUARD);
    memset(ct, fill, CT + GUARD);
    memset(ss, fill, SS + GUARD);
    memset(ss_dec, fill, SS + GUARD);
    assert_ok(sx_sntrup761_keypair(pk, sk, &rng));
    assert_ok(sx_sntrup761_enc(ct, ss, pk, &rng));
    assert_ok(sx_sntrup761_dec(ss_dec, ct, sk));
    uint8_t *bufs[] = {pk, sk, ct, ss, ss_dec};
    const size_t lens[] = {PK, SK, CT, SS, SS};
    for (size_t b = 0; b < 5; b++)
        for (size_t i = 0; i < GUARD; i++)
            if (bufs[b][lens[b] + i] != fill)
                fail_msg("output %zu written past its %zu bytes", b, lens[b]);
    sx_sntrup761_drbg_cleanup(&d);
}

/* Every size: the lengths follow from the parameters (the radix encodings'
 * lengths computed here from the specification), and each function writes
 * exactly its output's length: every byte (the same result over two
 * different fillings) and nothing after it. */
static void test_encoding_sizes(void **state)
{
    (void)state;
    assert_int_equal(radix_len(761, 4591), PK);             /* Encode(R/q) */
    assert_int_equal(radix_len(761, (4591 - 1) / 3 + 1), CT - 32); /* Rounded */
    assert_int_equal(radix_len(1, 4591), 2);
    assert_int_equal(SMALL, (761 + 3) / 4);
    assert_int_equal(SK, SMALL + SMALL + PK + SMALL + 32); /* f, 1/g, pk, rho, Hash4(pk) */
    assert_int_equal(CT, 1039);
    assert_int_equal(PK, 1158);
    assert_int_equal(SK, 1763);
    assert_int_equal(SS, 32);

    static uint8_t pk[2][PK + GUARD], sk[2][SK + GUARD], ct[2][CT + GUARD];
    uint8_t ss[2][SS + GUARD], ss_dec[2][SS + GUARD];
    sized_run(0x00, pk[0], sk[0], ct[0], ss[0], ss_dec[0]);
    sized_run(0xff, pk[1], sk[1], ct[1], ss[1], ss_dec[1]);
    assert_memory_equal(pk[0], pk[1], PK);
    assert_memory_equal(sk[0], sk[1], SK);
    assert_memory_equal(ct[0], ct[1], CT);
    assert_memory_equal(ss[0], ss[1], SS);
    assert_memory_equal(ss_dec[0], ss[0], SS);
    assert_memory_equal(ss_dec[1], ss[0], SS);
}

/* Positions 0, BYTE_STRIDE, 2 * BYTE_STRIDE, ... below n, and always n - 1. */
static size_t next_pos(size_t i, size_t n)
{
    if (i + 1 >= n)
        return n;
    return i + BYTE_STRIDE < n ? i + BYTE_STRIDE : n - 1;
}

/* A seeded key pair and encapsulation for the byte-by-byte tests. */
static const uint8_t byte_seed[32] = "sntrup761 every byte: key";
static const uint8_t byte_seed_enc[32] = "sntrup761 every byte: enc";

static void byte_setup(uint8_t pk[PK], uint8_t sk[SK], uint8_t ct[CT], uint8_t ss[SS])
{
    sx_sntrup761_drbg d;
    sx_sntrup761_drbg_init(&d, byte_seed);
    sx_sntrup761_rng rng = sx_sntrup761_drbg_rng(&d);
    assert_ok(sx_sntrup761_keypair(pk, sk, &rng));
    sx_sntrup761_drbg_cleanup(&d);
    /* the encapsulation's randomness from a seed of its own, for replays */
    sx_sntrup761_drbg_init(&d, byte_seed_enc);
    assert_ok(sx_sntrup761_enc(ct, ss, pk, &rng));
    sx_sntrup761_drbg_cleanup(&d);
}

/* Every byte of pk goes into encapsulation: with the same randomness, one
 * changed bit anywhere in pk changes the confirmation hash (it covers
 * Hash_prefix(4, pk)) and so the ciphertext and the secret. */
static void test_every_pk_byte(void **state)
{
    (void)state;
    static uint8_t pk[PK], sk[SK], ct[CT], pk2[PK], ct2[CT];
    uint8_t ss[SS], ss2[SS];
    byte_setup(pk, sk, ct, ss);
    size_t tried = 0;
    for (size_t i = 0; i < PK; i = next_pos(i, PK)) {
        memcpy(pk2, pk, PK);
        pk2[i] ^= (uint8_t)(1u << (i % 8));
        sx_sntrup761_drbg d;
        sx_sntrup761_drbg_init(&d, byte_seed_enc);
        sx_sntrup761_rng rng = sx_sntrup761_drbg_rng(&d);
        assert_ok(sx_sntrup761_enc(ct2, ss2, pk2, &rng));
        sx_sntrup761_drbg_cleanup(&d);
        if (memcmp(ct2 + CT - 32, ct + CT - 32, 32) == 0 || memcmp(ss2, ss, SS) == 0)
            fail_msg("pk byte %zu does not affect encapsulation", i);
        tried++;
    }
    assert_true(tried >= PK / BYTE_STRIDE);
}

/* Every byte of ct goes into decapsulation: one changed bit anywhere gives
 * the rejection secret of the changed ciphertext. */
static void test_every_ct_byte(void **state)
{
    (void)state;
    static uint8_t pk[PK], sk[SK], ct[CT], bad[CT];
    uint8_t ss[SS], got[SS], want[SS];
    byte_setup(pk, sk, ct, ss);
    for (size_t i = 0; i < CT; i = next_pos(i, CT)) {
        memcpy(bad, ct, CT);
        bad[i] ^= (uint8_t)(0x80u >> (i % 8));
        assert_ok(sx_sntrup761_dec(got, bad, sk));
        rejection_secret(want, sk, bad);
        if (memcmp(got, want, SS) != 0 || memcmp(got, ss, SS) == 0)
            fail_msg("ct byte %zu: not rejected", i);
    }
}

/* Changes coefficient 4 * (byte index) of the small element at s to the
 * next value of {-1, 0, 1}: a valid key with one coefficient changed. */
static void small_bump(uint8_t *s, size_t byte)
{
    field_set(s, 4 * byte, (field_get(s, 4 * byte) + 1) % 3);
}

/* Every byte of sk, where it should: a change in f, in 1/g, in the embedded
 * pk (re-encryption) or in the cached Hash4(pk) (confirmation) makes a
 * valid ciphertext fail, giving its rejection secret; rho is used only on
 * that path, so a change in rho keeps the good secret but changes every
 * rejection secret. The six unused high bits of the last byte of f and of
 * 1/g are ignored, as in the reference's decoder. */
static void test_every_sk_byte(void **state)
{
    (void)state;
    static uint8_t pk[PK], sk[SK], ct[CT], sk2[SK], bad[CT];
    uint8_t ss[SS], got[SS], want[SS], bad_ss[SS];
    byte_setup(pk, sk, ct, ss);
    memcpy(bad, ct, CT);
    bad[3] ^= 0x10;
    assert_ok(sx_sntrup761_dec(bad_ss, bad, sk));
    size_t counts[5] = {0};
    for (size_t i = 0; i < SK; i = next_pos(i, SK)) {
        memcpy(sk2, sk, SK);
        bool rejects; /* a valid ciphertext now fails */
        if (i < SK_PK) {
            small_bump(sk2, i); /* f or 1/g */
            rejects = true;
            counts[0]++;
        } else if (i < SK_RHO) {
            sk2[i] ^= (uint8_t)(1u << (i % 8));
            rejects = true;
            counts[1]++;
        } else if (i < SK_CACHE) {
            sk2[i] ^= (uint8_t)(1u << (i % 8));
            rejects = false;
            counts[2]++;
        } else {
            sk2[i] ^= (uint8_t)(1u << (i % 8));
            rejects = true;
            counts[3]++;
        }
        assert_ok(sx_sntrup761_dec(got, ct, sk2));
        if (rejects) {
            rejection_secret(want, sk2, ct);
            if (memcmp(got, want, SS) != 0 || memcmp(got, ss, SS) == 0)
                fail_msg("sk byte %zu: a valid ciphertext still decapsulates", i);
        } else {
            if (memcmp(got, ss, SS) != 0)
                fail_msg("sk byte %zu (rho): changed a good secret", i);
            assert_ok(sx_sntrup761_dec(got, bad, sk2));
            rejection_secret(want, sk2, bad);
            if (memcmp(got, want, SS) != 0 || memcmp(got, bad_ss, SS) == 0)
                fail_msg("sk byte %zu (rho): rejection secret unchanged", i);
        }
    }
    assert_true(counts[0] >= 2 * SMALL / BYTE_STRIDE && counts[1] >= PK / BYTE_STRIDE &&
                counts[2] >= SMALL / BYTE_STRIDE && counts[3] >= 32 / BYTE_STRIDE);

    /* the unused bits of the last bytes of f and 1/g */
    for (size_t part = 0; part < 2; part++) {
        for (unsigned bit = 2; bit < 8; bit++) {
            memcpy(sk2, sk, SK);
            sk2[part * SMALL + SMALL - 1] ^= (uint8_t)(1u << bit);
            assert_ok(sx_sntrup761_dec(got, ct, sk2));
            assert_memory_equal(got, ss, SS);
        }
    }
}

/* ---- regression values ------------------------------------------------------ */

/* OUR REGRESSION VALUES, NOT REFERENCE VECTORS: SHA-256 of pk, sk, ct and
 * ss from sx_sntrup761_keypair then sx_sntrup761_enc, both drawing in order
 * from one sx_sntrup761_drbg under each seed below (32 zero bytes; the bytes
 * 0..31; 32 bytes 0xff). Generated once with this implementation; they pin
 * its deterministic output (the DRBG, the order of random draws, the
 * encodings) so that any change to it shows. Compatibility with the
 * reference rests on vectors/sntrup761.txt (test_kat). (When recorded, the
 * reference's cbits/sntrup761.c fed the same ChaCha20 keystream gave the
 * same four hashes for all three seeds; that check is not part of the
 * build.) */
static const struct regression {
    uint8_t seed_start; /* seed byte i = start + i * step */
    uint8_t seed_step;
    const char *pk, *sk, *ct, *ss;
} regressions[] = {
    {0x00, 0,
     "e9cfcf9d46e1480b876470c04bff9bd008c180b2e95373cc6d4af86ac566589f",
     "0624f159ae7e906ebc8d827e97e4f554a97dfe262f4c9cbb38343377eea7de01",
     "7bb64e35e4167c6e98321fe94a79aac2e4993a2da779bc175665271567044855",
     "187389d4a4052cb3580b85fdf7911c4f0a6a7195152fb01ff2d8d54812a574e8"},
    {0x00, 1,
     "b58e66af89de6a118a2e73e8ffb58c18e958303cffb4bafb2815ea5773a84f32",
     "98a79463d51c24b9a328d4a26297932f5bafc261b47601aaf6012584f0281c3c",
     "da952d5f247280aff5013abfeb7ea07593b93eb0b43fcfa2395aac86285ec229",
     "0cea13d0f79397861a005eada1317f02c0980b71b5f977712c2f02c768206ca2"},
    {0xff, 0,
     "4fbb1cd98ba6af0951c94518c6f33b4d5ea7ad107232d4d3214e2e14666afecd",
     "f4bd8615122969c66316a43648736f48755eee15916286687ee104a0a0ab9f54",
     "3eb58db14f0723c427e2f18535f30dc8f0a15ccfb26e6defa70c5fa33be7ec46",
     "3b7d88d6ed612acfa883b027f4c4f377b7f215175b1f284bee2cfcb2fd2e7516"},
};

static void assert_sha256(const uint8_t *p, size_t n, const char *want, const char *what, size_t i)
{
    uint8_t d[SX_SHA256_LEN];
    assert_ok(sx_sha256(sx_slice_of(p, n), d));
    const char *got = tu_to_hex(d, sizeof d);
    if (strcmp(got, want) != 0)
        fail_msg("regression %zu: SHA-256(%s) = %s, recorded %s", i, what, got, want);
}

static void test_regression_values(void **state)
{
    (void)state;
    static uint8_t pk[PK], sk[SK], ct[CT];
    uint8_t seed[32], ss[SS], ss2[SS];
    for (size_t i = 0; i < sizeof regressions / sizeof regressions[0]; i++) {
        const struct regression *g = &regressions[i];
        for (size_t j = 0; j < 32; j++)
            seed[j] = (uint8_t)(g->seed_start + j * g->seed_step);
        sx_sntrup761_drbg d;
        sx_sntrup761_drbg_init(&d, seed);
        sx_sntrup761_rng rng = sx_sntrup761_drbg_rng(&d);
        assert_ok(sx_sntrup761_keypair(pk, sk, &rng));
        assert_ok(sx_sntrup761_enc(ct, ss, pk, &rng));
        sx_sntrup761_drbg_cleanup(&d);
        assert_ok(sx_sntrup761_sk_check(sk));
        assert_ok(sx_sntrup761_dec(ss2, ct, sk));
        assert_memory_equal(ss2, ss, SS);
        assert_sha256(pk, PK, g->pk, "pk", i);
        assert_sha256(sk, SK, g->sk, "sk", i);
        assert_sha256(ct, CT, g->ct, "ct", i);
        assert_sha256(ss, SS, g->ss, "ss", i);
    }
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
        cmocka_unit_test(test_encoding_sizes),
        cmocka_unit_test(test_every_pk_byte),
        cmocka_unit_test(test_every_ct_byte),
        cmocka_unit_test(test_every_sk_byte),
        cmocka_unit_test(test_regression_values),
        cmocka_unit_test(test_tamper_random),
        cmocka_unit_test(test_roundtrip_10000),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
