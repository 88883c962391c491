/* Unit tests of the shared SMP field codecs (PROTOCOL-NOTES A16, A21, A22, A28,
 * D2): strict key fields, list views, host grammar, basic auth, servers. */
#include "test_smp_util.h"

#include <string.h>

static void assert_slice(sx_slice a, sx_slice b)
{
    assert_int_equal(a.len, b.len);
    if (a.len)
        assert_bytes_equal(a.ptr, b.ptr, a.len);
}

static void test_pubkey_fields(void **state)
{
    (void)state;
    const sx_key_alg algs[] = {SX_KEY_ED25519, SX_KEY_ED448, SX_KEY_X25519, SX_KEY_X448};
    for (size_t i = 0; i < 4; i++) {
        sx_smp_pubkey k = tsu_key(algs[i], 1);
        assert_int_equal(k.der.len, sx_key_spki_len(algs[i]));
        uint8_t buf[100];
        sx_writer w;
        sx_writer_init_fixed(&w, buf, sizeof buf);
        assert_true(sx_smp_write_pubkey(&w, SX_KEY_ANY, &k));
        sx_reader r;
        sx_smp_pubkey d;
        /* allowed */
        sx_reader_init_slice(&r, sx_writer_slice(&w));
        assert_true(sx_smp_read_pubkey(&r, SX_KEY_BIT(algs[i]), &d));
        assert_ok(sx_reader_finish(&r));
        assert_int_equal(d.alg, algs[i]);
        assert_slice(d.der, k.der);
        assert_ptr_equal(d.der.ptr, buf + 1);
        /* not allowed */
        sx_reader_init_slice(&r, sx_writer_slice(&w));
        assert_false(sx_smp_read_pubkey(&r, SX_KEY_ANY & ~SX_KEY_BIT(algs[i]), &d));
        assert_int_equal(r.err, SX_E_PROTOCOL);
        /* truncated at every offset */
        for (size_t n = 0; n < w.len; n++) {
            sx_reader_init(&r, buf, n);
            assert_false(sx_smp_read_pubkey(&r, SX_KEY_ANY, &d));
        }
        /* one byte more inside the DER */
        buf[0]++;
        buf[w.len] = 0;
        sx_reader_init(&r, buf, w.len + 1);
        assert_false(sx_smp_read_pubkey(&r, SX_KEY_ANY, &d));
    }
    /* the non-allocating check agrees with the decoder */
    sx_smp_pubkey k = tsu_key(SX_KEY_X25519, 1);
    sx_key_alg alg;
    assert_ok(sx_key_check_public(k.der, SX_KEY_ANY, &alg));
    assert_int_equal(alg, SX_KEY_X25519);
    assert_int_equal(sx_key_check_public(k.der, SX_KEY_SIGN_ALGS, &alg), SX_E_PROTOCOL);
    assert_int_equal(sx_key_check_public(sx_slice_of(k.der.ptr, 43), SX_KEY_ANY, &alg),
                     SX_E_PROTOCOL);
}

static void test_lists(void **state)
{
    (void)state;
    sx_smp_cmd c = tsu_sample_cmd(SX_SMP_C_RKEY);
    uint8_t buf[600];
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_true(sx_smp_write_list(&w, SX_SMP_ITEM_AUTH_KEY, &c.keys));
    assert_int_equal(buf[0], 3);
    sx_reader r;
    sx_smp_list l;
    sx_reader_init_slice(&r, sx_writer_slice(&w));
    assert_true(sx_smp_read_list(&r, SX_SMP_ITEM_AUTH_KEY, 255, &l));
    assert_ok(sx_reader_finish(&r));
    assert_int_equal(l.count, 3);
    assert_ptr_equal(l.items.ptr, buf + 1);
    assert_int_equal(l.items.len, w.len - 1);
    /* max */
    sx_reader_init_slice(&r, sx_writer_slice(&w));
    assert_false(sx_smp_read_list(&r, SX_SMP_ITEM_AUTH_KEY, 2, &l));
    /* truncation */
    for (size_t n = 0; n < w.len; n++) {
        sx_reader_init(&r, buf, n);
        assert_false(sx_smp_read_list(&r, SX_SMP_ITEM_AUTH_KEY, 255, &l));
    }
    /* count 0 */
    uint8_t zero = 0;
    sx_reader_init(&r, &zero, 1);
    assert_false(sx_smp_read_list(&r, SX_SMP_ITEM_LARGE, 255, &l));
    /* access */
    sx_slice item;
    assert_ok(sx_smp_list_get(&c.keys, SX_SMP_ITEM_AUTH_KEY, 2, &item));
    assert_slice(item, tsu_key(SX_KEY_ED448, 15).der);
    assert_int_equal(sx_smp_list_get(&c.keys, SX_SMP_ITEM_AUTH_KEY, 3, &item), SX_E_USAGE);
    sx_smp_list broken = {3, sx_slice_of(c.keys.items.ptr, 50)};
    assert_int_equal(sx_smp_list_get(&broken, SX_SMP_ITEM_AUTH_KEY, 1, &item), SX_E_PROTOCOL);
    /* items of another kind */
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_false(sx_smp_write_list(&w, SX_SMP_ITEM_HOST, &c.keys));
    assert_int_equal(sx_writer_status(&w), SX_E_USAGE);
}

static void test_hosts(void **state)
{
    (void)state;
    const char *good[] = {
        "smp.example.com", "localhost", "a", "1.2.3.4", "255.255.255.255", "1.2.3.999",
        "::1", "::", "fe80::1", "2001:db8:0:0:0:0:2:1", "[::1]", "[2001:db8::2:1]",
        "[::ffff:1.2.3.4]", "abcdefghijklmnop.onion", ".onion", "1.2.3", "256.1.2.3",
        "xn--80ak6aa92e.com", "under_score.example", "dead", "cafe.example",
        "[notipv6]", "-leading-dash", "evil.onion", "[1.2.3.4.5]x", "\xc3\xa9t\xc3\xa9.fr",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!sx_smp_host_valid(sx_slice_str(good[i])))
            fail_msg("refused '%s'", good[i]);
    const char *bad[] = {
        "", "smp.example.com:5223", "a b", "a,b", "a;b", "a/b", "a#b", "a\tb", "a\nb",
        "evil-x.onion", "Abc.onion", "x.onion.com", "1.2.3.4x", "1.2.3.4.5", "1.2.3.4:80",
        "::1x", "[::1", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", ":1", "1:", "[::1]x",
        "cafe:80", "a.b.onion",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (sx_smp_host_valid(sx_slice_str(bad[i])))
            fail_msg("accepted '%s'", bad[i]);
    assert_true(sx_smp_host_valid(sx_slice_of("a\0b", 3)));
}

static void test_basic_auth(void **state)
{
    (void)state;
    assert_true(sx_smp_basic_auth_valid(sx_slice_str("")));
    assert_true(sx_smp_basic_auth_valid(sx_slice_str("pa$$w0rd!~")));
    assert_true(sx_smp_basic_auth_valid(sx_slice_str("\xe9\xff\xa1")));
    const char *bad[] = {"a b", "a@b", "a:b", "a/b", "\t", "\x7f", "\x80", "\xa0", "\xad", "\x01"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(sx_smp_basic_auth_valid(sx_slice_str(bad[i])));
    uint8_t buf[16];
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_false(sx_smp_write_basic_auth(&w, sx_slice_str("a@b")));
    assert_int_equal(sx_writer_status(&w), SX_E_USAGE);
    sx_reader r;
    sx_slice out;
    sx_reader_init(&r, (const uint8_t *)"\x03" "a:b", 4);
    assert_false(sx_smp_read_basic_auth(&r, &out));
    sx_reader_init(&r, (const uint8_t *)"\x03" "abc", 4);
    assert_true(sx_smp_read_basic_auth(&r, &out));
    assert_slice(out, sx_slice_str("abc"));
}

static void test_server_and_link(void **state)
{
    (void)state;
    sx_smp_cmd c = tsu_sample_cmd(SX_SMP_C_PRXY);
    uint8_t buf[200];
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_true(sx_smp_write_server(&w, &c.prxy.server));
    sx_reader r;
    sx_smp_server s;
    sx_reader_init_slice(&r, sx_writer_slice(&w));
    assert_true(sx_smp_read_server(&r, &s));
    assert_ok(sx_reader_finish(&r));
    assert_int_equal(s.hosts.count, 2);
    assert_slice(s.port, sx_slice_str("5223"));
    assert_slice(s.key_hash, c.prxy.server.key_hash);
    for (size_t n = 0; n < w.len; n++) {
        sx_reader_init(&r, buf, n);
        assert_false(sx_smp_read_server(&r, &s));
    }

    sx_smp_link_data d = {tsu_seq(300, 1), tsu_seq(0, 0)};
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_false(sx_smp_write_link_data(&w, &d)); /* does not fit 200 bytes */
    uint8_t big[400];
    sx_writer_init_fixed(&w, big, sizeof big);
    assert_true(sx_smp_write_link_data(&w, &d));
    assert_int_equal(w.len, 2 + 300 + 2);
    sx_smp_link_data e;
    sx_reader_init_slice(&r, sx_writer_slice(&w));
    assert_true(sx_smp_read_link_data(&r, &e));
    assert_slice(e.fixed, d.fixed);
    assert_int_equal(e.user.len, 0);
    sx_reader_init(&r, big, w.len - 1);
    assert_false(sx_smp_read_link_data(&r, &e));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pubkey_fields),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_hosts),
        cmocka_unit_test(test_basic_auth),
        cmocka_unit_test(test_server_and_link),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
