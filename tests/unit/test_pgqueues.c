/* Unit tests of the column encodings of the PostgreSQL queue store
 * (smp_router/pgqueues.h) that need no server: recipient_keys and
 * service_cert as the reference writes them, round trips, and rows that are
 * truncated, too long, over our bounds or with bytes after the end. (The
 * store itself runs against a real server in integration.smp_db_store_*
 * and integration.smp_db_migrate.) */
#include "testutil.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/keys.h"
#include "smp_router/pgqueues.h"

static sx_qkey key_of(sx_key_alg alg)
{
    sx_key *k = NULL;
    assert_ok(sx_key_generate(alg, &k));
    sx_qkey q;
    assert_ok(sx_qkey_from_key(k, &q));
    sx_key_free(k);
    return q;
}

static void test_rkeys_round_trip(void **state)
{
    (void)state;
    sx_qkey keys[3] = {key_of(SX_KEY_ED25519), key_of(SX_KEY_X25519), key_of(SX_KEY_ED448)};
    uint8_t buf[1 + 3 * (1 + SX_KEY_SPKI_MAX)];
    size_t len;
    assert_ok(sx_pgq_encode_rkeys(keys, 3, buf, sizeof buf, &len));
    /* as the reference: a count, then each DER key after its length byte */
    assert_int_equal(buf[0], 3);
    assert_int_equal(buf[1], 44);
    assert_int_equal(buf[2], 0x30);
    assert_int_equal(len, 1 + 45 + 45 + 70);
    sx_qkey back[SX_MAX_RCV_KEYS];
    uint8_t n = 0;
    assert_ok(sx_pgq_decode_rkeys(sx_slice_of(buf, len), back, &n));
    assert_int_equal(n, 3);
    for (size_t i = 0; i < 3; i++)
        assert_true(sx_qkey_equal(&keys[i], &back[i]));

    /* every truncation fails, and so do trailing bytes */
    for (size_t cut = 0; cut < len; cut++)
        assert_int_not_equal(sx_pgq_decode_rkeys(sx_slice_of(buf, cut), back, &n), SX_OK);
    uint8_t longer[sizeof buf + 1];
    memcpy(longer, buf, len);
    longer[len] = 0;
    assert_int_equal(sx_pgq_decode_rkeys(sx_slice_of(longer, len + 1), back, &n), SX_E_PROTOCOL);
    /* no key, too many keys, a key that is not one */
    uint8_t zero = 0;
    assert_int_equal(sx_pgq_decode_rkeys(sx_slice_of(&zero, 1), back, &n), SX_E_PROTOCOL);
    uint8_t many[2] = {SX_MAX_RCV_KEYS + 1, 0};
    assert_int_equal(sx_pgq_decode_rkeys(sx_slice_of(many, 2), back, &n), SX_E_LIMIT);
    memcpy(longer, buf, len);
    longer[5] ^= 0xff; /* inside the first key's DER header */
    assert_int_equal(sx_pgq_decode_rkeys(sx_slice_of(longer, len), back, &n), SX_E_PROTOCOL);
    /* the encoder refuses what the reference could not read */
    assert_int_not_equal(sx_pgq_encode_rkeys(keys, 0, buf, sizeof buf, &len), SX_OK);
    assert_int_not_equal(sx_pgq_encode_rkeys(keys, 3, buf, 10, &len), SX_OK);
}

static uint8_t *cert_der(const char *rel, size_t *len)
{
    FILE *f = fopen(tu_data_path(rel), "r");
    assert_non_null(f);
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(x);
    uint8_t *der = NULL;
    int n = i2d_X509(x, &der);
    X509_free(x);
    assert_true(n > 0);
    *len = (size_t)n;
    return der;
}

static void test_certs_round_trip(void **state)
{
    (void)state;
    size_t l1, l2;
    uint8_t *c1 = cert_der("fixtures/server.crt", &l1);
    uint8_t *c2 = cert_der("fixtures/ca.crt", &l2);
    sx_slice certs[2] = {sx_slice_of(c1, l1), sx_slice_of(c2, l2)};
    size_t cap = 1 + 4 + l1 + l2, len;
    uint8_t *buf = malloc(cap + 1);
    assert_non_null(buf);
    assert_ok(sx_pgq_encode_certs(certs, 2, buf, cap, &len));
    assert_int_equal(len, cap);
    assert_int_equal(buf[0], 2);
    assert_int_equal((buf[1] << 8) | buf[2], (int)l1);
    sx_slice back[SX_SL_CERTS_MAX];
    uint8_t n = 0;
    assert_ok(sx_pgq_decode_certs(sx_slice_of(buf, len), back, &n));
    assert_int_equal(n, 2);
    assert_true(sx_slice_eq(back[0], certs[0]));
    assert_true(sx_slice_eq(back[1], certs[1]));
    for (size_t cut = 0; cut < len; cut += 7)
        assert_int_not_equal(sx_pgq_decode_certs(sx_slice_of(buf, cut), back, &n), SX_OK);
    buf[len] = 0x00;
    assert_int_equal(sx_pgq_decode_certs(sx_slice_of(buf, len + 1), back, &n), SX_E_PROTOCOL);
    /* a length that runs past the end, a certificate that does not parse */
    buf[1] = 0xff;
    assert_int_equal(sx_pgq_decode_certs(sx_slice_of(buf, len), back, &n), SX_E_PROTOCOL);
    uint8_t junk[6] = {1, 0, 3, 0x30, 0x01, 0x00};
    assert_int_equal(sx_pgq_decode_certs(sx_slice_of(junk, sizeof junk), back, &n), SX_E_PROTOCOL);
    uint8_t many[1] = {SX_SL_CERTS_MAX + 1};
    assert_int_equal(sx_pgq_decode_certs(sx_slice_of(many, 1), back, &n), SX_E_LIMIT);
    free(buf);
    OPENSSL_free(c1);
    OPENSSL_free(c2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rkeys_round_trip),
        cmocka_unit_test(test_certs_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
