/* Unit tests of the XRCP pairing files (xrcp/pairfile.h, PROTOCOL-NOTES
 * X10): both kinds written and read back, every truncation, a byte more,
 * wrong magic, version, kind and flags, a CA key that is not the
 * certificate's, oversized input, and the files on disk (mode 0600, a
 * missing file). With SX_XRCP_SEEDS=<folder> the test also writes its
 * files there as fuzz seeds. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/util.h"
#include "xrcp/pairfile.h"

static uint8_t *ctrl_bytes(const sx_xrcp_ctrl_pairing *p, size_t *len)
{
    sx_writer w;
    sx_writer_init_dynamic(&w, SX_XRCP_PAIRFILE_MAX);
    assert_true(sx_xrcp_ctrl_pairing_write(&w, p));
    return sx_writer_take(&w, len);
}

static uint8_t *host_bytes(const sx_xrcp_host_pairing *p, size_t *len)
{
    sx_writer w;
    sx_writer_init_dynamic(&w, SX_XRCP_PAIRFILE_MAX);
    assert_true(sx_xrcp_host_pairing_write(&w, p));
    return sx_writer_take(&w, len);
}

static void seed(const char *name, const uint8_t *b, size_t n)
{
    const char *dir = getenv("SX_XRCP_SEEDS");
    if (dir == NULL)
        return;
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

static void test_ctrl_round_trip(void **state)
{
    (void)state;
    sx_xrcp_ctrl_pairing p, q;
    assert_ok(sx_xrcp_ctrl_pairing_new(&p));
    for (int paired = 0; paired < 2; paired++) {
        p.paired = paired == 1;
        tu_bytes_seq(p.host_fp, 32, 1);
        tu_bytes_seq(p.host_dh, 32, 50);
        size_t len = 0;
        uint8_t *b = ctrl_bytes(&p, &len);
        seed(paired ? "ctrl_paired" : "ctrl_new", b, len);
        assert_ok(sx_xrcp_ctrl_pairing_read(sx_slice_of(b, len), &q));
        assert_memory_equal(q.ca.fp, p.ca.fp, 32);
        assert_int_equal(q.ca.der_len, p.ca.der_len);
        assert_true(sx_key_public_equal(q.ca.key, p.ca.key));
        assert_true(sx_key_public_equal(q.id_key, p.id_key));
        assert_int_equal(q.paired, p.paired);
        if (p.paired) {
            assert_memory_equal(q.host_fp, p.host_fp, 32);
            assert_memory_equal(q.host_dh, p.host_dh, 32);
        }
        /* written again: the same bytes */
        size_t len2 = 0;
        uint8_t *b2 = ctrl_bytes(&q, &len2);
        assert_int_equal(len2, len);
        assert_memory_equal(b2, b, len);
        free(b2);
        sx_xrcp_ctrl_pairing_clear(&q);
        free(b);
    }
    sx_xrcp_ctrl_pairing_clear(&p);
}

static void test_host_round_trip(void **state)
{
    (void)state;
    sx_xrcp_host_pairing p, q;
    assert_ok(sx_xrcp_host_pairing_new(&p));
    size_t len = 0;
    uint8_t *b = host_bytes(&p, &len);
    seed("host_new", b, len);
    assert_ok(sx_xrcp_host_pairing_read(sx_slice_of(b, len), &q));
    assert_false(q.paired);
    assert_null(q.dh);
    assert_null(q.prev_dh);
    sx_xrcp_host_pairing_clear(&q);
    free(b);
    p.paired = true;
    tu_bytes_seq(p.ctrl_fp, 32, 3);
    tu_bytes_seq(p.ctrl_idkey, 32, 70);
    assert_ok(sx_key_generate(SX_KEY_X25519, &p.dh));
    assert_ok(sx_key_generate(SX_KEY_X25519, &p.prev_dh));
    b = host_bytes(&p, &len);
    seed("host_paired", b, len);
    assert_ok(sx_xrcp_host_pairing_read(sx_slice_of(b, len), &q));
    assert_true(q.paired);
    assert_memory_equal(q.ctrl_fp, p.ctrl_fp, 32);
    assert_memory_equal(q.ctrl_idkey, p.ctrl_idkey, 32);
    assert_true(sx_key_public_equal(q.dh, p.dh));
    assert_true(sx_key_public_equal(q.prev_dh, p.prev_dh));
    sx_xrcp_host_pairing_clear(&q);
    free(b);
    sx_xrcp_host_pairing_clear(&p);
}

/* Every truncation, a byte more, and single-byte changes of the fixed
 * parts: refused, nothing left allocated (the clear of a refused read is
 * a no-op). */
static void test_malformed(void **state)
{
    (void)state;
    sx_xrcp_host_pairing p, q;
    assert_ok(sx_xrcp_host_pairing_new(&p));
    p.paired = true;
    assert_ok(sx_key_generate(SX_KEY_X25519, &p.dh));
    size_t len = 0;
    uint8_t *b = host_bytes(&p, &len);
    for (size_t n = 0; n < len; n++)
        assert_int_not_equal(sx_xrcp_host_pairing_read(sx_slice_of(b, n), &q), SX_OK);
    uint8_t *more = malloc(len + 1);
    memcpy(more, b, len);
    more[len] = 0;
    assert_int_equal(sx_xrcp_host_pairing_read(sx_slice_of(more, len + 1), &q), SX_E_PROTOCOL);
    free(more);
    /* magic, version, kind */
    for (size_t i = 0; i < 6; i++) {
        b[i] ^= 0x40;
        assert_int_equal(sx_xrcp_host_pairing_read(sx_slice_of(b, len), &q), SX_E_PROTOCOL);
        b[i] ^= 0x40;
    }
    /* a host file read as a controller's */
    sx_xrcp_ctrl_pairing cq;
    assert_int_equal(sx_xrcp_ctrl_pairing_read(sx_slice_of(b, len), &cq), SX_E_PROTOCOL);
    /* the CA key that is not the certificate's */
    b[6] ^= 1;
    assert_int_equal(sx_xrcp_host_pairing_read(sx_slice_of(b, len), &q), SX_E_AUTH);
    b[6] ^= 1;
    /* the paired flag and the dh flag out of range */
    size_t flag = 6 + 32 + 2 + p.ca.der_len;
    b[flag] = 2;
    assert_int_equal(sx_xrcp_host_pairing_read(sx_slice_of(b, len), &q), SX_E_PROTOCOL);
    b[flag] = 1;
    b[flag + 65] = 7;
    assert_int_equal(sx_xrcp_host_pairing_read(sx_slice_of(b, len), &q), SX_E_PROTOCOL);
    b[flag + 65] = 1;
    assert_ok(sx_xrcp_host_pairing_read(sx_slice_of(b, len), &q));
    sx_xrcp_host_pairing_clear(&q);
    /* a certificate length longer than what follows */
    b[6 + 32] = 0xff;
    assert_int_equal(sx_xrcp_host_pairing_read(sx_slice_of(b, len), &q), SX_E_PROTOCOL);
    /* over the bound */
    uint8_t *big = calloc(1, SX_XRCP_PAIRFILE_MAX + 1);
    assert_int_equal(sx_xrcp_host_pairing_read(sx_slice_of(big, SX_XRCP_PAIRFILE_MAX + 1), &q), SX_E_LIMIT);
    free(big);
    free(b);
    sx_xrcp_host_pairing_clear(&p);
}

static void test_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/sx-xrcp-pair-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/ctrl.pair", dir);
    sx_xrcp_ctrl_pairing p, q;
    assert_int_equal(sx_xrcp_ctrl_pairing_load(path, &q), SX_E_IO);
    assert_ok(sx_xrcp_ctrl_pairing_new(&p));
    assert_ok(sx_xrcp_ctrl_pairing_save(path, &p));
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_ok(sx_xrcp_ctrl_pairing_load(path, &q));
    assert_memory_equal(q.ca.fp, p.ca.fp, 32);
    sx_xrcp_ctrl_pairing_clear(&q);
    /* a host file is not a controller file */
    sx_xrcp_host_pairing h;
    assert_int_equal(sx_xrcp_host_pairing_load(path, &h), SX_E_PROTOCOL);
    sx_xrcp_ctrl_pairing_clear(&p);
    tu_rm_rf(dir);
}

int main(void)
{
    if (sx_crypto_init() != SX_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ctrl_round_trip),
        cmocka_unit_test(test_host_round_trip),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
