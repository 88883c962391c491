/* Unit tests of crypto/keys: RFC 8032 and RFC 7748 known answers, the exact
 * DER forms of PROTOCOL-NOTES A16/A17/A24, the PROTOCOL-NOTES C12 dummy keys,
 * and strict decoding (truncation, trailing bytes, wrong OID, wrong
 * algorithm). */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/base64.h"
#include "crypto/keys.h"

static const sx_key_alg ALL[] = {SX_KEY_ED25519, SX_KEY_ED448, SX_KEY_X25519, SX_KEY_X448};
#define N_ALL 4

/* ---- helpers ---- */

static sx_key *priv_from_hex(sx_key_alg alg, const char *hex)
{
    uint8_t raw[SX_KEY_RAW_MAX];
    size_t n = sx_key_raw_len(alg);
    tu_hex_to(hex, raw, n);
    sx_key *k = NULL;
    assert_ok(sx_key_from_raw_private(alg, sx_slice_of(raw, n), &k));
    assert_non_null(k);
    return k;
}

static sx_key *pub_from_hex(sx_key_alg alg, const char *hex)
{
    uint8_t raw[SX_KEY_RAW_MAX];
    size_t n = sx_key_raw_len(alg);
    tu_hex_to(hex, raw, n);
    sx_key *k = NULL;
    assert_ok(sx_key_from_raw_public(alg, sx_slice_of(raw, n), &k));
    return k;
}

static void assert_pub_hex(const sx_key *k, const char *hex)
{
    uint8_t raw[SX_KEY_RAW_MAX];
    size_t n;
    assert_ok(sx_key_raw_public(k, raw, sizeof raw, &n));
    assert_string_equal(tu_to_hex(raw, n), hex);
}

/* DER of a key into a caller buffer; returns its length. */
static size_t der_of(const sx_key *k, bool priv, uint8_t *buf, size_t cap)
{
    sx_writer w;
    sx_writer_init_fixed(&w, buf, cap);
    if (priv)
        assert_true(sx_key_write_private(&w, k));
    else
        assert_true(sx_key_write_public(&w, k));
    assert_ok(sx_writer_status(&w));
    return w.len;
}

static sx_status decode(bool priv, const uint8_t *der, size_t len, unsigned allowed, sx_key **out)
{
    return priv ? sx_key_decode_private(sx_slice_of(der, len), allowed, out)
                : sx_key_decode_public(sx_slice_of(der, len), allowed, out);
}

/* ---- sizes ---- */

static void test_alg_sizes(void **state)
{
    (void)state;
    assert_int_equal(sx_key_raw_len(SX_KEY_ED25519), 32);
    assert_int_equal(sx_key_raw_len(SX_KEY_ED448), 57);
    assert_int_equal(sx_key_raw_len(SX_KEY_X25519), 32);
    assert_int_equal(sx_key_raw_len(SX_KEY_X448), 56);
    assert_int_equal(sx_key_sig_len(SX_KEY_ED25519), 64);
    assert_int_equal(sx_key_sig_len(SX_KEY_ED448), 114);
    assert_int_equal(sx_key_sig_len(SX_KEY_X25519), 0);
    assert_int_equal(sx_key_spki_len(SX_KEY_ED25519), 44);
    assert_int_equal(sx_key_spki_len(SX_KEY_ED448), 69);
    assert_int_equal(sx_key_spki_len(SX_KEY_X25519), 44);
    assert_int_equal(sx_key_spki_len(SX_KEY_X448), 68);
    assert_int_equal(sx_key_pkcs8_len(SX_KEY_ED25519), 48);
    assert_int_equal(sx_key_pkcs8_len(SX_KEY_ED448), 73);
    assert_int_equal(sx_key_pkcs8_len(SX_KEY_X25519), 48);
    assert_int_equal(sx_key_pkcs8_len(SX_KEY_X448), 72);
    assert_int_equal(sx_key_raw_len((sx_key_alg)7), 0);
    assert_string_equal(sx_key_alg_name(SX_KEY_X448), "X448");
    assert_string_equal(sx_key_alg_name((sx_key_alg)9), "?");
}

/* ---- RFC 8032 ---- */

typedef struct eddsa_vector {
    const char *secret, *public, *msg, *sig;
} eddsa_vector;

/* RFC 8032 section 7.1, TEST 1..3. */
static const eddsa_vector ED25519_VECTORS[] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
     "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
     "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
     "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
};

/* RFC 8032 section 7.4, "-----Blank" and "-----1 octet" (pure Ed448, no context). */
static const eddsa_vector ED448_VECTORS[] = {
    {"6c82a562cb808d10d632be89c8513ebf6c929f34ddfa8c9f63c9960ef6e348a3"
     "528c8a3fcc2f044e39a3fc5b94492f8f032e7549a20098f95b",
     "5fd7449b59b461fd2ce787ec616ad46a1da1342485a70e1f8a0ea75d80e96778"
     "edf124769b46c7061bd6783df1e50f6cd1fa1abeafe8256180",
     "",
     "533a37f6bbe457251f023c0d88f976ae2dfb504a843e34d2074fd823d41a591f"
     "2b233f034f628281f2fd7a22ddd47d7828c59bd0a21bfd3980ff0d2028d4b18a"
     "9df63e006c5d1c2d345b925d8dc00b4104852db99ac5c7cdda8530a113a0f4db"
     "b61149f05a7363268c71d95808ff2e652600"},
    {"c4eab05d357007c632f3dbb48489924d552b08fe0c353a0d4a1f00acda2c463a"
     "fbea67c5e8d2877c5e3bc397a659949ef8021e954e0a12274e",
     "43ba28f430cdff456ae531545f7ecd0ac834a55d9358c0372bfa0c6c6798c086"
     "6aea01eb00742802b8438ea4cb82169c235160627b4c3a9480",
     "03",
     "26b8f91727bd62897af15e41eb43c377efb9c610d48f2335cb0bd0087810f435"
     "2541b143c4b981b7e18f62de8ccdf633fc1bf037ab7cd779805e0dbcc0aae1cb"
     "cee1afb2e027df36bc04dcecbf154336c19f0af7e0a6472905e799f1953d2a0f"
     "f3348ab21aa4adafd1d234441cf807c03a00"},
};

static void check_eddsa(sx_key_alg alg, const eddsa_vector *v)
{
    sx_key *priv = priv_from_hex(alg, v->secret);
    assert_true(sx_key_is_private(priv));
    assert_int_equal(sx_key_alg_of(priv), alg);
    assert_pub_hex(priv, v->public);

    size_t mlen;
    uint8_t *msg = tu_hex(v->msg, &mlen);
    uint8_t sig[SX_SIG_MAX];
    size_t slen;
    assert_ok(sx_key_sign(priv, sx_slice_of(msg, mlen), sig, sizeof sig, &slen));
    assert_int_equal(slen, sx_key_sig_len(alg));
    assert_string_equal(tu_to_hex(sig, slen), v->sig);

    /* Verify with a key built from the public bytes only. */
    sx_key *pub = pub_from_hex(alg, v->public);
    assert_false(sx_key_is_private(pub));
    assert_ok(sx_key_verify(pub, sx_slice_of(msg, mlen), sx_slice_of(sig, slen)));
    assert_ok(sx_key_verify(priv, sx_slice_of(msg, mlen), sx_slice_of(sig, slen)));

    /* Tampered signature, tampered or extended message, wrong lengths. */
    sig[slen / 2] ^= 0x01;
    assert_int_equal(sx_key_verify(pub, sx_slice_of(msg, mlen), sx_slice_of(sig, slen)), SX_E_AUTH);
    sig[slen / 2] ^= 0x01;
    uint8_t longer[8] = {0};
    if (mlen)
        memcpy(longer, msg, mlen);
    longer[mlen] = 'x';
    assert_int_equal(sx_key_verify(pub, sx_slice_of(longer, mlen + 1), sx_slice_of(sig, slen)),
                     SX_E_AUTH);
    assert_int_equal(sx_key_verify(pub, sx_slice_of(msg, mlen), sx_slice_of(sig, slen - 1)),
                     SX_E_AUTH);
    assert_int_equal(sx_key_verify(pub, sx_slice_of(msg, mlen), sx_slice_of(NULL, 0)), SX_E_AUTH);
    /* Signature buffer too small. */
    assert_int_equal(sx_key_sign(priv, sx_slice_of(msg, mlen), sig, slen - 1, &slen), SX_E_USAGE);

    free(msg);
    sx_key_free(pub);
    sx_key_free(priv);
}

static void test_ed25519_rfc8032(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof ED25519_VECTORS / sizeof ED25519_VECTORS[0]; i++)
        check_eddsa(SX_KEY_ED25519, &ED25519_VECTORS[i]);
}

static void test_ed448_rfc8032(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof ED448_VECTORS / sizeof ED448_VECTORS[0]; i++)
        check_eddsa(SX_KEY_ED448, &ED448_VECTORS[i]);
}

/* ---- RFC 7748 ---- */

static void check_scalarmult(sx_key_alg alg, const char *scalar, const char *u, const char *out)
{
    sx_key *k = priv_from_hex(alg, scalar);
    sx_key *p = pub_from_hex(alg, u);
    uint8_t s[SX_DH_MAX];
    size_t n;
    assert_ok(sx_key_dh(k, p, s, sizeof s, &n));
    assert_int_equal(n, sx_key_raw_len(alg));
    assert_string_equal(tu_to_hex(s, n), out);
    sx_key_free(k);
    sx_key_free(p);
}

static void test_x25519_rfc7748_scalarmult(void **state)
{
    (void)state;
    /* Section 5.2 (the second u has its top bit set: it must be masked). */
    check_scalarmult(SX_KEY_X25519,
                     "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
                     "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
                     "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
    check_scalarmult(SX_KEY_X25519,
                     "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
                     "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
                     "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957");
}

static void test_x448_rfc7748_scalarmult(void **state)
{
    (void)state;
    check_scalarmult(SX_KEY_X448,
                     "3d262fddf9ec8e88495266fea19a34d28882acef045104d0d1aae121700a779c"
                     "984c24f8cdd78fbff44943eba368f54b29259a4f1c600ad3",
                     "06fce640fa3487bfda5f6cf2d5263f8aad88334cbd07437f020f08f9814dc031"
                     "ddbdc38c19c6da2583fa5429db94ada18aa7a7fb4ef8a086",
                     "ce3e4ff95a60dc6697da1db1d85e6afbdf79b50a2412d7546d5f239fe14fbaad"
                     "eb445fc66a01b0779d98223961111e21766282f73dd96b6f");
    check_scalarmult(SX_KEY_X448,
                     "203d494428b8399352665ddca42f9de8fef600908e0d461cb021f8c538345dd7"
                     "7c3e4806e25f46d3315c44e0a5b4371282dd2c8d5be3095f",
                     "0fbcc2f993cd56d3305b0b7d9e55d4c1a8fb5dbb52f8e9a1e9b6201b165d0158"
                     "94e56c4d3570bee52fe205e28a78b91cdfbde71ce8d157db",
                     "884a02576239ff7a2f2f63b2db6a9ff37047ac13568e1e30fe63c4a7ad1b3ee3"
                     "a5700df34321d62077e63633c575c1c954514e99da7c179d");
}

static void check_alice_bob(sx_key_alg alg, const char *a_priv, const char *a_pub,
                            const char *b_priv, const char *b_pub, const char *shared)
{
    sx_key *a = priv_from_hex(alg, a_priv);
    sx_key *b = priv_from_hex(alg, b_priv);
    assert_pub_hex(a, a_pub);
    assert_pub_hex(b, b_pub);
    sx_key *apub = NULL, *bpub = NULL;
    assert_ok(sx_key_public_copy(a, &apub));
    assert_ok(sx_key_public_copy(b, &bpub));
    uint8_t s1[SX_DH_MAX], s2[SX_DH_MAX];
    size_t n1, n2;
    assert_ok(sx_key_dh(a, bpub, s1, sizeof s1, &n1));
    assert_ok(sx_key_dh(b, apub, s2, sizeof s2, &n2));
    assert_string_equal(tu_to_hex(s1, n1), shared);
    assert_string_equal(tu_to_hex(s2, n2), shared);
    /* A public key cannot do DH. */
    assert_int_equal(sx_key_dh(apub, bpub, s1, sizeof s1, &n1), SX_E_USAGE);
    sx_key_free(a);
    sx_key_free(b);
    sx_key_free(apub);
    sx_key_free(bpub);
}

static void test_x25519_rfc7748_dh(void **state)
{
    (void)state;
    check_alice_bob(SX_KEY_X25519,
                    "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
                    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
                    "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
                    "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
                    "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
}

static void test_x448_rfc7748_dh(void **state)
{
    (void)state;
    check_alice_bob(SX_KEY_X448,
                    "9a8f4925d1519f5775cf46b04b5800d4ee9ee8bae8bc5565d498c28dd9c9baf5"
                    "74a9419744897391006382a6f127ab1d9ac2d8c0a598726b",
                    "9b08f7cc31b7e3e67d22d5aea121074a273bd2b83de09c63faa73d2c22c5d9bb"
                    "c836647241d953d40c5b12da88120d53177f80e532c41fa0",
                    "1c306a7ac2a0e2e0990b294470cba339e6453772b075811d8fad0d1d6927c120"
                    "bb5ee8972b0d3e21374c9c921b09d1b0366f10b65173992d",
                    "3eb7a829b0cd20f5bcfc0b599b6feccf6da4627107bdb0d4f345b43027d8b972"
                    "fc3e34fb4232a13ca706dcb57aec3dae07bdc1c67bf33609",
                    "07fff4181ac6cc95ec1c16a94a0f74d12da232ce40a77552281d282bb60c0b56"
                    "fd2464c335543936521c24403085d59a449a5037514a879d");
}

/* smp-crypto.md section 1: session keys of bytes(32, 0x40) and bytes(32, 0x80). */
static void test_smp_session_dh_vector(void **state)
{
    (void)state;
    uint8_t c[32], r[32];
    tu_bytes_seq(c, 32, 0x40);
    tu_bytes_seq(r, 32, 0x80);
    sx_key *ck, *rk;
    assert_ok(sx_key_from_raw_private(SX_KEY_X25519, sx_slice_of(c, 32), &ck));
    assert_ok(sx_key_from_raw_private(SX_KEY_X25519, sx_slice_of(r, 32), &rk));
    assert_pub_hex(ck, "79a631eede1bf9c98f12032cdeadd0e7a079398fc786b88cc846ec89af85a51a");
    assert_pub_hex(rk, "493e82fc74464a59268817623d2053c5eb8e2cc4a988b4fee179ec6b010d531d");
    uint8_t s[32];
    size_t n;
    assert_ok(sx_key_dh(ck, rk, s, sizeof s, &n)); /* a private key serves as public too */
    assert_string_equal(tu_to_hex(s, n),
                        "dcd77236231add34de0561c47859a65d304f2a8550e8df98df053cf5dfabea0b");
    sx_key_free(ck);
    sx_key_free(rk);
}

static void test_dh_small_order_refused(void **state)
{
    (void)state;
    sx_key *k, *zero;
    assert_ok(sx_key_generate(SX_KEY_X25519, &k));
    uint8_t z[32] = {0};
    assert_ok(sx_key_from_raw_public(SX_KEY_X25519, sx_slice_of(z, 32), &zero));
    uint8_t s[32];
    size_t n = 99;
    assert_int_equal(sx_key_dh(k, zero, s, sizeof s, &n), SX_E_AUTH);
    assert_int_equal(n, 0);
    sx_key_free(k);
    sx_key_free(zero);
}

/* ---- generation and round trips ---- */

static void test_generate_all(void **state)
{
    (void)state;
    for (int i = 0; i < N_ALL; i++) {
        sx_key_alg alg = ALL[i];
        sx_key *a, *b;
        assert_ok(sx_key_generate(alg, &a));
        assert_ok(sx_key_generate(alg, &b));
        assert_int_equal(sx_key_alg_of(a), alg);
        assert_true(sx_key_is_private(a));
        assert_false(sx_key_public_equal(a, b));
        assert_true(sx_key_public_equal(a, a));

        /* Raw private bytes rebuild the same key. */
        uint8_t raw[SX_KEY_RAW_MAX];
        size_t n;
        assert_ok(sx_key_raw_private(a, raw, sizeof raw, &n));
        assert_int_equal(n, sx_key_raw_len(alg));
        sx_key *a2;
        assert_ok(sx_key_from_raw_private(alg, sx_slice_of(raw, n), &a2));
        assert_true(sx_key_public_equal(a, a2));

        sx_key *apub;
        assert_ok(sx_key_public_copy(a, &apub));
        assert_false(sx_key_is_private(apub));
        assert_true(sx_key_public_equal(a, apub));
        assert_int_equal(sx_key_raw_private(apub, raw, sizeof raw, &n), SX_E_USAGE);

        if (sx_key_sig_len(alg)) {
            uint8_t sig[SX_SIG_MAX];
            size_t sl;
            sx_slice m = sx_slice_str("hello");
            assert_ok(sx_key_sign(a, m, sig, sizeof sig, &sl));
            assert_ok(sx_key_verify(apub, m, sx_slice_of(sig, sl)));
            assert_int_equal(sx_key_verify(b, m, sx_slice_of(sig, sl)), SX_E_AUTH);
            assert_int_equal(sx_key_sign(apub, m, sig, sizeof sig, &sl), SX_E_USAGE);
            uint8_t s[SX_DH_MAX];
            assert_int_equal(sx_key_dh(a, b, s, sizeof s, &sl), SX_E_USAGE);
        } else {
            uint8_t s1[SX_DH_MAX], s2[SX_DH_MAX];
            size_t n1, n2;
            assert_ok(sx_key_dh(a, b, s1, sizeof s1, &n1));
            assert_ok(sx_key_dh(b, apub, s2, sizeof s2, &n2));
            assert_int_equal(n1, n2);
            assert_memory_equal(s1, s2, n1);
            assert_int_equal(sx_key_dh(a, b, s1, n1 - 1, &n1), SX_E_USAGE);
            uint8_t sig[SX_SIG_MAX] = {0};
            size_t sl;
            assert_int_equal(sx_key_sign(a, sx_slice_str("x"), sig, sizeof sig, &sl), SX_E_USAGE);
            assert_int_equal(sx_key_verify(a, sx_slice_str("x"), sx_slice_of(sig, 64)), SX_E_USAGE);
        }
        sx_key_free(a);
        sx_key_free(a2);
        sx_key_free(b);
        sx_key_free(apub);
    }
}

static void test_mixed_algorithms_and_usage(void **state)
{
    (void)state;
    sx_key *x25519, *x448, *ed;
    assert_ok(sx_key_generate(SX_KEY_X25519, &x25519));
    assert_ok(sx_key_generate(SX_KEY_X448, &x448));
    assert_ok(sx_key_generate(SX_KEY_ED25519, &ed));
    uint8_t s[SX_DH_MAX];
    size_t n;
    assert_int_equal(sx_key_dh(x25519, x448, s, sizeof s, &n), SX_E_USAGE);
    assert_int_equal(sx_key_dh(x25519, ed, s, sizeof s, &n), SX_E_USAGE);
    assert_false(sx_key_public_equal(x25519, ed));
    assert_false(sx_key_public_equal(x25519, NULL));

    uint8_t raw[64] = {0};
    sx_key *k = (sx_key *)&raw; /* poison: must be reset to NULL */
    assert_int_equal(sx_key_from_raw_public(SX_KEY_X25519, sx_slice_of(raw, 31), &k), SX_E_USAGE);
    assert_null(k);
    assert_int_equal(sx_key_from_raw_private(SX_KEY_ED448, sx_slice_of(raw, 56), &k), SX_E_USAGE);
    assert_int_equal(sx_key_from_raw_private((sx_key_alg)5, sx_slice_of(raw, 32), &k), SX_E_USAGE);
    assert_int_equal(sx_key_generate((sx_key_alg)5, &k), SX_E_USAGE);
    assert_null(k);

    size_t len;
    assert_int_equal(sx_key_raw_public(ed, raw, 31, &len), SX_E_USAGE);

    sx_key_free(NULL);
    sx_key_free(x25519);
    sx_key_free(x448);
    sx_key_free(ed);
}

static void test_from_evp(void **state)
{
    (void)state;
    EVP_PKEY *p = EVP_PKEY_Q_keygen(NULL, NULL, "ED448");
    assert_non_null(p);
    sx_key *k;
    assert_ok(sx_key_from_evp(p, true, &k));
    assert_int_equal(sx_key_alg_of(k), SX_KEY_ED448);
    assert_true(sx_key_is_private(k));
    assert_ptr_equal(sx_key_evp(k), p);
    EVP_PKEY_free(p); /* k keeps its own reference */
    uint8_t sig[SX_SIG_MAX];
    size_t sl;
    assert_ok(sx_key_sign(k, sx_slice_str("m"), sig, sizeof sig, &sl));
    assert_ok(sx_key_verify(k, sx_slice_str("m"), sx_slice_of(sig, sl)));

    /* A public-only EVP key cannot be taken as a private one. */
    uint8_t raw[57];
    size_t n;
    assert_ok(sx_key_raw_public(k, raw, sizeof raw, &n));
    EVP_PKEY *pubp = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED448, NULL, raw, n);
    sx_key *k2 = NULL;
    assert_int_equal(sx_key_from_evp(pubp, true, &k2), SX_E_PROTOCOL);
    assert_null(k2);
    assert_ok(sx_key_from_evp(pubp, false, &k2));
    assert_false(sx_key_is_private(k2));
    assert_true(sx_key_public_equal(k, k2));
    EVP_PKEY_free(pubp);

    /* Other algorithms are refused. */
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(ec);
    sx_key *k3 = NULL;
    assert_int_equal(sx_key_from_evp(ec, false, &k3), SX_E_PROTOCOL);
    EVP_PKEY_free(ec);

    sx_key_free(k);
    sx_key_free(k2);
}

/* ---- DER forms (PROTOCOL-NOTES A16, A17) ---- */

static const char *SPKI_PREFIX_HEX[N_ALL] = {
    "302a300506032b6570032100", "3043300506032b6571033a00",
    "302a300506032b656e032100", "3042300506032b656f033900"};
static const char *PKCS8_PREFIX_HEX[N_ALL] = {
    "302e020100300506032b657004220420", "3047020100300506032b6571043b0439",
    "302e020100300506032b656e04220420", "3046020100300506032b656f043a0438"};

static void test_der_exact_bytes(void **state)
{
    (void)state;
    for (int i = 0; i < N_ALL; i++) {
        sx_key_alg alg = ALL[i];
        sx_key *k;
        assert_ok(sx_key_generate(alg, &k));
        uint8_t raw[SX_KEY_RAW_MAX], der[SX_KEY_PKCS8_MAX], want[SX_KEY_PKCS8_MAX];
        size_t rn;

        assert_ok(sx_key_raw_public(k, raw, sizeof raw, &rn));
        size_t dn = der_of(k, false, der, sizeof der);
        assert_int_equal(dn, sx_key_spki_len(alg));
        tu_hex_to(SPKI_PREFIX_HEX[i], want, 12);
        memcpy(want + 12, raw, rn);
        assert_memory_equal(der, want, dn);

        assert_ok(sx_key_raw_private(k, raw, sizeof raw, &rn));
        dn = der_of(k, true, der, sizeof der);
        assert_int_equal(dn, sx_key_pkcs8_len(alg));
        tu_hex_to(PKCS8_PREFIX_HEX[i], want, 16);
        memcpy(want + 16, raw, rn);
        assert_memory_equal(der, want, dn);
        sx_key_free(k);
    }
}

/* Our hand-built DER is byte-identical to what OpenSSL itself encodes. */
static void test_der_matches_openssl(void **state)
{
    (void)state;
    for (int i = 0; i < N_ALL; i++) {
        sx_key *k;
        assert_ok(sx_key_generate(ALL[i], &k));
        uint8_t der[SX_KEY_PKCS8_MAX];

        unsigned char *ossl = NULL;
        int on = i2d_PUBKEY(sx_key_evp(k), &ossl);
        assert_true(on > 0);
        size_t dn = der_of(k, false, der, sizeof der);
        assert_int_equal(dn, (size_t)on);
        assert_memory_equal(der, ossl, dn);
        OPENSSL_free(ossl);

        PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(sx_key_evp(k));
        assert_non_null(p8);
        ossl = NULL;
        on = i2d_PKCS8_PRIV_KEY_INFO(p8, &ossl);
        assert_true(on > 0);
        dn = der_of(k, true, der, sizeof der);
        assert_int_equal(dn, (size_t)on);
        assert_memory_equal(der, ossl, dn);
        OPENSSL_clear_free(ossl, (size_t)on);
        PKCS8_PRIV_KEY_INFO_free(p8);
        sx_key_free(k);
    }
}

static void test_der_round_trip(void **state)
{
    (void)state;
    for (int i = 0; i < N_ALL; i++) {
        sx_key *k;
        assert_ok(sx_key_generate(ALL[i], &k));
        for (int priv = 0; priv < 2; priv++) {
            uint8_t der[SX_KEY_PKCS8_MAX];
            size_t dn = der_of(k, priv, der, sizeof der);
            sx_key *d = NULL;
            assert_ok(decode(priv, der, dn, SX_KEY_ANY, &d));
            assert_int_equal(sx_key_alg_of(d), ALL[i]);
            assert_int_equal(sx_key_is_private(d), priv);
            assert_true(sx_key_public_equal(k, d));
            sx_key_free(d);
            assert_ok(decode(priv, der, dn, SX_KEY_BIT(ALL[i]), &d));
            sx_key_free(d);
        }
        sx_key_free(k);
    }
}

static void test_decode_truncated_and_trailing(void **state)
{
    (void)state;
    for (int i = 0; i < N_ALL; i++) {
        sx_key *k;
        assert_ok(sx_key_generate(ALL[i], &k));
        for (int priv = 0; priv < 2; priv++) {
            uint8_t der[SX_KEY_PKCS8_MAX + 1];
            size_t dn = der_of(k, priv, der, sizeof der - 1);
            for (size_t cut = 0; cut < dn; cut++) {
                sx_key *d = (sx_key *)der;
                assert_int_equal(decode(priv, der, cut, SX_KEY_ANY, &d), SX_E_PROTOCOL);
                assert_null(d);
            }
            der[dn] = 0;
            sx_key *d = NULL;
            assert_int_equal(decode(priv, der, dn + 1, SX_KEY_ANY, &d), SX_E_PROTOCOL);
            assert_null(d);
            /* NULL slice */
            assert_int_equal(decode(priv, NULL, 0, SX_KEY_ANY, &d), SX_E_PROTOCOL);
        }
        sx_key_free(k);
    }
}

/* Any single bit flipped in the fixed prefix (tags, lengths, OID, version,
 * unused-bits byte) makes the key undecodable. */
static void test_decode_prefix_bit_flips(void **state)
{
    (void)state;
    for (int i = 0; i < N_ALL; i++) {
        sx_key *k;
        assert_ok(sx_key_generate(ALL[i], &k));
        for (int priv = 0; priv < 2; priv++) {
            uint8_t der[SX_KEY_PKCS8_MAX];
            size_t dn = der_of(k, priv, der, sizeof der);
            size_t plen = priv ? 16 : 12;
            for (size_t off = 0; off < plen; off++) {
                for (int bit = 0; bit < 8; bit++) {
                    der[off] ^= (uint8_t)(1u << bit);
                    sx_key *d = NULL;
                    assert_int_equal(decode(priv, der, dn, SX_KEY_ANY, &d), SX_E_PROTOCOL);
                    der[off] ^= (uint8_t)(1u << bit);
                }
            }
        }
        sx_key_free(k);
    }
}

static void test_decode_unknown_oid(void **state)
{
    (void)state;
    /* 1.3.101.114 does not exist; 1.2.840.10045.2.1 (EC) is another family. */
    size_t n;
    uint8_t *der = tu_hex("302a300506032b6572032100"
                          "0000000000000000000000000000000000000000000000000000000000000000",
                          &n);
    sx_key *d = NULL;
    assert_int_equal(sx_key_decode_public(sx_slice_of(der, n), SX_KEY_ANY, &d), SX_E_PROTOCOL);
    free(der);
    der = tu_hex("302e020100300506032b657204220420"
                 "0000000000000000000000000000000000000000000000000000000000000000",
                 &n);
    assert_int_equal(sx_key_decode_private(sx_slice_of(der, n), SX_KEY_ANY, &d), SX_E_PROTOCOL);
    free(der);
    /* A PKCS#8 with the public key attached (version 1) is not what
     * PROTOCOL-NOTES A17 allows. */
    der = tu_hex("3051020101300506032b657004220420"
                 "0000000000000000000000000000000000000000000000000000000000000000"
                 "812100"
                 "0000000000000000000000000000000000000000000000000000000000000000",
                 &n);
    assert_int_equal(sx_key_decode_private(sx_slice_of(der, n), SX_KEY_ANY, &d), SX_E_PROTOCOL);
    free(der);
    assert_null(d);
}

static void test_decode_expected_algorithm(void **state)
{
    (void)state;
    sx_key *keys[N_ALL];
    for (int i = 0; i < N_ALL; i++)
        assert_ok(sx_key_generate(ALL[i], &keys[i]));
    for (int i = 0; i < N_ALL; i++) {
        for (int priv = 0; priv < 2; priv++) {
            uint8_t der[SX_KEY_PKCS8_MAX];
            size_t dn = der_of(keys[i], priv, der, sizeof der);
            for (int j = 0; j < N_ALL; j++) {
                sx_key *d = NULL;
                sx_status want = i == j ? SX_OK : SX_E_PROTOCOL;
                assert_int_equal(decode(priv, der, dn, SX_KEY_BIT(ALL[j]), &d), want);
                sx_key_free(d);
            }
            sx_key *d = NULL;
            bool sign = i < 2;
            assert_int_equal(decode(priv, der, dn, SX_KEY_SIGN_ALGS, &d),
                             sign ? SX_OK : SX_E_PROTOCOL);
            sx_key_free(d);
            d = NULL;
            assert_int_equal(decode(priv, der, dn, SX_KEY_DH_ALGS, &d),
                             sign ? SX_E_PROTOCOL : SX_OK);
            sx_key_free(d);
            d = NULL;
            assert_int_equal(decode(priv, der, dn, SX_KEY_AUTH_ALGS, &d),
                             ALL[i] == SX_KEY_X448 ? SX_E_PROTOCOL : SX_OK);
            sx_key_free(d);
            d = NULL;
            assert_int_equal(decode(priv, der, dn, 0, &d), SX_E_PROTOCOL);
        }
    }
    for (int i = 0; i < N_ALL; i++)
        sx_key_free(keys[i]);
}

/* An SPKI is not a PKCS#8 and vice versa. */
static void test_decode_public_private_confusion(void **state)
{
    (void)state;
    sx_key *k;
    assert_ok(sx_key_generate(SX_KEY_ED25519, &k));
    uint8_t der[SX_KEY_PKCS8_MAX];
    size_t dn = der_of(k, false, der, sizeof der);
    sx_key *d = NULL;
    assert_int_equal(sx_key_decode_private(sx_slice_of(der, dn), SX_KEY_ANY, &d), SX_E_PROTOCOL);
    dn = der_of(k, true, der, sizeof der);
    assert_int_equal(sx_key_decode_public(sx_slice_of(der, dn), SX_KEY_ANY, &d), SX_E_PROTOCOL);
    sx_key_free(k);
}

/* ---- short forms (PROTOCOL-NOTES A16 inside messages) ---- */

static void test_short_forms(void **state)
{
    (void)state;
    sx_key *ed, *x;
    assert_ok(sx_key_generate(SX_KEY_ED25519, &ed));
    assert_ok(sx_key_generate(SX_KEY_X25519, &x));
    uint8_t buf[256];
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_true(sx_key_write_public_short(&w, ed));
    assert_true(sx_key_write_public_short(&w, x));
    assert_true(sx_key_write_private_short(&w, x));
    assert_ok(sx_writer_status(&w));
    assert_int_equal(w.len, 45 + 45 + 49);
    assert_int_equal(buf[0], 44);
    assert_int_equal(buf[45], 44);
    assert_int_equal(buf[90], 48);

    sx_reader r;
    sx_reader_init(&r, buf, w.len);
    sx_key *a = NULL, *b = NULL, *c = NULL;
    assert_true(sx_key_read_public_short(&r, SX_KEY_AUTH_ALGS, &a));
    assert_true(sx_key_read_public_short(&r, SX_KEY_BIT(SX_KEY_X25519), &b));
    assert_true(sx_key_read_private_short(&r, SX_KEY_DH_ALGS, &c));
    assert_ok(sx_reader_finish(&r));
    assert_true(sx_key_public_equal(a, ed));
    assert_true(sx_key_public_equal(b, x));
    assert_true(sx_key_public_equal(c, x));
    assert_true(sx_key_is_private(c));
    sx_key_free(a);
    sx_key_free(b);
    sx_key_free(c);

    /* A field typed X25519 rejects the Ed25519 key and fails the reader. */
    sx_reader_init(&r, buf, w.len);
    a = NULL;
    assert_false(sx_key_read_public_short(&r, SX_KEY_BIT(SX_KEY_X25519), &a));
    assert_null(a);
    assert_int_equal(sx_reader_status(&r), SX_E_PROTOCOL);

    /* Writing a public key as a private one fails the writer. */
    sx_key *pub;
    assert_ok(sx_key_public_copy(x, &pub));
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_false(sx_key_write_private_short(&w, pub));
    assert_int_equal(sx_writer_status(&w), SX_E_USAGE);
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_false(sx_key_write_private(&w, pub));
    assert_int_equal(sx_writer_status(&w), SX_E_USAGE);
    /* And a buffer too small for the key fails it too. */
    sx_writer_init_fixed(&w, buf, 40);
    assert_false(sx_key_write_public(&w, pub));
    assert_int_not_equal(sx_writer_status(&w), SX_OK);

    sx_key_free(pub);
    sx_key_free(ed);
    sx_key_free(x);
}

/* ---- text forms (PROTOCOL-NOTES A24) and PROTOCOL-NOTES C12 dummy
 * keys ---- */

static void test_text_prefixes(void **state)
{
    (void)state;
    static const char *pub_prefix[N_ALL] = {"MCowBQYDK2Vw", "MEMwBQYDK2Vx", "MCowBQYDK2Vu",
                                            "MEIwBQYDK2Vv"};
    for (int i = 0; i < N_ALL; i++) {
        sx_key *k;
        assert_ok(sx_key_generate(ALL[i], &k));
        char t[SX_KEY_TEXT_MAX];
        assert_ok(sx_key_public_to_text(k, t, sizeof t));
        assert_memory_equal(t, pub_prefix[i], strlen(pub_prefix[i]));
        assert_int_equal(strlen(t), sx_b64_encoded_size(sx_key_spki_len(ALL[i]), SX_B64_URL) - 1);
        sx_key *d = NULL;
        assert_ok(sx_key_public_from_text(t, strlen(t), SX_KEY_BIT(ALL[i]), &d));
        assert_true(sx_key_public_equal(k, d));
        sx_key_free(d);
        /* wrong algorithm expected */
        assert_int_equal(sx_key_public_from_text(t, strlen(t), SX_KEY_BIT(ALL[(i + 1) % N_ALL]), &d),
                         SX_E_PROTOCOL);

        assert_ok(sx_key_private_to_text(k, t, sizeof t));
        if (ALL[i] == SX_KEY_ED25519)
            assert_memory_equal(t, "MC4CAQAwBQYDK2VwBCIE", 20);
        assert_ok(sx_key_private_from_text(t, strlen(t), SX_KEY_ANY, &d));
        assert_true(sx_key_is_private(d));
        assert_true(sx_key_public_equal(k, d));
        sx_key_free(d);

        /* Padding is optional on input (PROTOCOL-NOTES A23). */
        size_t len = strlen(t);
        while (len && t[len - 1] == '=')
            len--;
        assert_ok(sx_key_private_from_text(t, len, SX_KEY_ANY, &d));
        sx_key_free(d);
        /* Too small an output buffer. */
        assert_int_equal(sx_key_public_to_text(k, t, 20), SX_E_LIMIT);
        sx_key_free(k);
    }
}

static void test_text_errors(void **state)
{
    (void)state;
    sx_key *d = NULL;
    assert_int_equal(sx_key_public_from_text("", 0, SX_KEY_ANY, &d), SX_E_PROTOCOL);
    assert_int_equal(sx_key_public_from_text("MCow!QYDK2Vw", 12, SX_KEY_ANY, &d), SX_E_PROTOCOL);
    /* Standard-alphabet characters are not base64url. */
    const char *std = "MCowBQYDK2VuAyEA4JGSMYht18H4mas/jHeBwfcM7jLwNYJNOAhi2/g4RXg=";
    assert_int_equal(sx_key_public_from_text(std, strlen(std), SX_KEY_ANY, &d), SX_E_PROTOCOL);
    /* Longer than any key. */
    char big[200];
    memset(big, 'A', sizeof big);
    assert_int_equal(sx_key_public_from_text(big, sizeof big, SX_KEY_ANY, &d), SX_E_PROTOCOL);
    assert_null(d);
}

static sx_key *decode_c12(const char *b64, unsigned allowed, sx_status want)
{
    uint8_t der[128];
    size_t n;
    assert_ok(sx_b64_decode(b64, strlen(b64), SX_B64_STD, der, sizeof der, &n));
    sx_key *k = NULL;
    assert_int_equal(sx_key_decode_public(sx_slice_of(der, n), allowed, &k), want);
    return k;
}

static void test_c12_dummy_keys(void **state)
{
    (void)state;
    const char *ed25519 = "MCowBQYDK2VwAyEA139Oqs4QgpqbAmB0o7rZf6T19ryl7E65k4AYe0kE3Qs=";
    const char *ed448 = "MEMwBQYDK2VxAzoA6ibQc9XpkSLtwrf7PLvp81qW/etiumckVFImCMRdftcG/"
                        "XopbOSaq9qyLhrgJWKOLyNrQPNVvpMA";
    const char *x25519 = "MCowBQYDK2VuAyEA4JGSMYht18H4mas/jHeBwfcM7jLwNYJNOAhi2/g4RXg=";

    sx_key *k = decode_c12(ed25519, SX_KEY_AUTH_ALGS, SX_OK);
    assert_int_equal(sx_key_alg_of(k), SX_KEY_ED25519);
    sx_key_free(k);
    k = decode_c12(ed448, SX_KEY_AUTH_ALGS, SX_OK);
    assert_int_equal(sx_key_alg_of(k), SX_KEY_ED448);
    sx_key_free(k);
    k = decode_c12(x25519, SX_KEY_AUTH_ALGS, SX_OK);
    assert_int_equal(sx_key_alg_of(k), SX_KEY_X25519);
    sx_key_free(k);

    assert_null(decode_c12(ed25519, SX_KEY_DH_ALGS, SX_E_PROTOCOL));
    assert_null(decode_c12(x25519, SX_KEY_SIGN_ALGS, SX_E_PROTOCOL));
    assert_null(decode_c12(ed448, SX_KEY_BIT(SX_KEY_ED25519), SX_E_PROTOCOL));

    /* A verification against a dummy key runs and fails (PROTOCOL-NOTES
     * C12). */
    k = decode_c12(ed25519, SX_KEY_ANY, SX_OK);
    uint8_t sig[64] = {0};
    assert_int_equal(sx_key_verify(k, sx_slice_str("x"), sx_slice_of(sig, 64)), SX_E_AUTH);
    sx_key_free(k);
}

/* The raw-key fast paths give the same answers as the RFC vectors. */
static void test_raw_fast_paths(void **state)
{
    (void)state;
    uint8_t pk[32], sig[64];
    tu_hex_to("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", pk, 32);
    tu_hex_to("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
              "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b", sig, 64);
    assert_ok(sx_key_verify_raw(SX_KEY_ED25519, sx_slice_of(pk, 32), sx_slice_of(NULL, 0), sx_slice_of(sig, 64)));
    sig[10] ^= 1;
    assert_int_equal(sx_key_verify_raw(SX_KEY_ED25519, sx_slice_of(pk, 32), sx_slice_of(NULL, 0),
                                       sx_slice_of(sig, 64)), SX_E_AUTH);
    assert_int_equal(sx_key_verify_raw(SX_KEY_ED25519, sx_slice_of(pk, 32), sx_slice_of(NULL, 0),
                                       sx_slice_of(sig, 63)), SX_E_AUTH);
    assert_int_equal(sx_key_verify_raw(SX_KEY_X25519, sx_slice_of(pk, 32), sx_slice_of(NULL, 0),
                                       sx_slice_of(sig, 64)), SX_E_USAGE);
    /* Ed448 through OpenSSL, with a fresh key. */
    sx_key *k;
    assert_ok(sx_key_generate(SX_KEY_ED448, &k));
    uint8_t raw[57], s448[114];
    size_t n, sl;
    assert_ok(sx_key_raw_public(k, raw, sizeof raw, &n));
    assert_ok(sx_key_sign(k, sx_slice_str("msg"), s448, sizeof s448, &sl));
    assert_ok(sx_key_verify_raw(SX_KEY_ED448, sx_slice_of(raw, n), sx_slice_str("msg"), sx_slice_of(s448, sl)));
    assert_int_equal(sx_key_verify_raw(SX_KEY_ED448, sx_slice_of(raw, n), sx_slice_str("msh"), sx_slice_of(s448, sl)),
                     SX_E_AUTH);
    sx_key_free(k);
    /* RFC 7748 section 6.1. */
    uint8_t a[32], b[32], out[32], want[32];
    tu_hex_to("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", a, 32);
    tu_hex_to("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", b, 32);
    tu_hex_to("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", want, 32);
    assert_ok(sx_x25519_raw(a, b, out));
    assert_memory_equal(out, want, 32);
    /* A small-order point gives the all-zero secret: refused. */
    memset(b, 0, 32);
    assert_int_equal(sx_x25519_raw(a, b, out), SX_E_AUTH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw_fast_paths),
        cmocka_unit_test(test_alg_sizes),
        cmocka_unit_test(test_ed25519_rfc8032),
        cmocka_unit_test(test_ed448_rfc8032),
        cmocka_unit_test(test_x25519_rfc7748_scalarmult),
        cmocka_unit_test(test_x448_rfc7748_scalarmult),
        cmocka_unit_test(test_x25519_rfc7748_dh),
        cmocka_unit_test(test_x448_rfc7748_dh),
        cmocka_unit_test(test_smp_session_dh_vector),
        cmocka_unit_test(test_dh_small_order_refused),
        cmocka_unit_test(test_generate_all),
        cmocka_unit_test(test_mixed_algorithms_and_usage),
        cmocka_unit_test(test_from_evp),
        cmocka_unit_test(test_der_exact_bytes),
        cmocka_unit_test(test_der_matches_openssl),
        cmocka_unit_test(test_der_round_trip),
        cmocka_unit_test(test_decode_truncated_and_trailing),
        cmocka_unit_test(test_decode_prefix_bit_flips),
        cmocka_unit_test(test_decode_unknown_oid),
        cmocka_unit_test(test_decode_expected_algorithm),
        cmocka_unit_test(test_decode_public_private_confusion),
        cmocka_unit_test(test_short_forms),
        cmocka_unit_test(test_text_prefixes),
        cmocka_unit_test(test_text_errors),
        cmocka_unit_test(test_c12_dummy_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
