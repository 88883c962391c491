/* Unit tests of the server address parser (smp/address.h, PROTOCOL-NOTES
 * A28, A29): schemes and default ports, host kinds, basic auth, port lists,
 * every prefix of valid addresses read from exactly-sized heap copies,
 * limits, malformed input, the reference's order and the public form. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smp/address.h"

/* bytes 0..31 */
#define FP "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define ONION "jk6jybnel5hin2am5omd7g3hyvb4tfkyl7ea4vx5ldi7gpvz5ogqtcqd.onion"

/* Parses len bytes from an exact-size heap copy, so that a read past len is
 * caught by the sanitizers. */
static sx_status parse_n(const char *t, size_t len, sx_server_address *a)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len)
        memcpy(copy, t, len);
    sx_status st = sx_server_address_parse(copy, len, a);
    free(copy);
    return st;
}

static sx_status parse(const char *t, sx_server_address *a)
{
    return parse_n(t, strlen(t), a);
}

static void expect_status(const char *t, sx_status want)
{
    sx_server_address a;
    sx_status st = parse(t, &a);
    if (st != want)
        print_error("'%s': %d, expected %d\n", t, st, want);
    assert_int_equal(st, want);
}

static void host_is(const sx_server_address *a, size_t i, sx_smp_host_kind kind, const char *text,
                    const char *connect)
{
    assert_true(i < a->host_count);
    assert_int_equal(a->host_kind[i], kind);
    assert_int_equal(a->host_len[i], strlen(text));
    assert_memory_equal(a->text + a->host_off[i], text, strlen(text));
    char buf[256];
    assert_ok(sx_server_address_host(a, i, buf, sizeof buf));
    assert_string_equal(buf, connect);
}

static void port_text_is(const sx_server_address *a, const char *text)
{
    assert_int_equal(a->port_len, strlen(text));
    assert_memory_equal(a->text + a->port_off, text, strlen(text));
}

static void test_schemes_and_ports(void **state)
{
    (void)state;
    sx_server_address a;
    assert_ok(parse("smp://" FP "@example.com", &a));
    assert_int_equal(a.scheme, SX_SERVER_SMP);
    assert_int_equal(a.port, 5223);
    assert_int_equal(a.port_len, 0);
    assert_int_equal(a.key_hash_len, 32);
    for (int i = 0; i < 32; i++)
        assert_int_equal(a.key_hash[i], i);
    assert_int_equal(a.key_hash_off, 6);
    assert_int_equal(a.key_hash_text_len, 44);
    assert_false(a.has_auth);
    assert_int_equal(a.host_count, 1);
    host_is(&a, 0, SX_SMP_HOST_DOMAIN, "example.com", "example.com");
    assert_string_equal(a.text, "smp://" FP "@example.com");
    assert_int_equal(a.text_len, strlen(a.text));

    assert_ok(parse("xftp://" FP "@example.com", &a));
    assert_int_equal(a.scheme, SX_SERVER_XFTP);
    assert_int_equal(a.port, 443);
    assert_ok(parse("ntf://" FP "@example.com", &a));
    assert_int_equal(a.scheme, SX_SERVER_NTF);
    assert_int_equal(a.port, 443);

    assert_ok(parse("smp://" FP "@example.com:443", &a));
    assert_int_equal(a.port, 443);
    port_text_is(&a, "443");
    assert_ok(parse("xftp://" FP "@example.com:5223", &a));
    assert_int_equal(a.port, 5223);
    assert_ok(parse("ntf://" FP "@example.com:1", &a));
    assert_int_equal(a.port, 1);
    assert_ok(parse("xftp://" FP "@example.com:65535", &a));
    assert_int_equal(a.port, 65535);
    assert_ok(parse("xftp://" FP "@example.com:00443", &a)); /* text kept as written */
    assert_int_equal(a.port, 443);
    port_text_is(&a, "00443");

    /* unpadded base64url and other key hash lengths (the reference does not
     * fix the length) */
    assert_ok(parse("smp://AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8@h", &a));
    assert_int_equal(a.key_hash_len, 32);
    assert_ok(parse("xftp://AQ==@h", &a));
    assert_int_equal(a.key_hash_len, 1);
    assert_int_equal(a.key_hash[0], 1);
    assert_ok(parse("xftp://abc=@h", &a));
    assert_int_equal(a.key_hash_len, 2);

    expect_status("http://" FP "@h", SX_E_PROTOCOL);
    expect_status("SMP://" FP "@h", SX_E_PROTOCOL);
    expect_status("smp:/" FP "@h", SX_E_PROTOCOL);
    expect_status("smpx://" FP "@h", SX_E_PROTOCOL);
    expect_status(FP "@h", SX_E_PROTOCOL);
    expect_status("", SX_E_PROTOCOL);
}

static void test_host_kinds(void **state)
{
    (void)state;
    sx_server_address a;
    const char *t = "smp://" FP "@1.2.3.4,[::1],fe80::2:3,abc2.onion,example.com,10.0.0.255,"
                    "[2001:db8::ff00:42:8329],xn--d1acufc.xn--p1ai:5224";
    assert_ok(parse(t, &a));
    assert_int_equal(a.host_count, 8);
    host_is(&a, 0, SX_SMP_HOST_IPV4, "1.2.3.4", "1.2.3.4");
    host_is(&a, 1, SX_SMP_HOST_IPV6, "[::1]", "::1");
    host_is(&a, 2, SX_SMP_HOST_IPV6, "fe80::2:3", "fe80::2:3");
    host_is(&a, 3, SX_SMP_HOST_ONION, "abc2.onion", "abc2.onion");
    host_is(&a, 4, SX_SMP_HOST_DOMAIN, "example.com", "example.com");
    host_is(&a, 5, SX_SMP_HOST_IPV4, "10.0.0.255", "10.0.0.255");
    host_is(&a, 6, SX_SMP_HOST_IPV6, "[2001:db8::ff00:42:8329]", "2001:db8::ff00:42:8329");
    host_is(&a, 7, SX_SMP_HOST_DOMAIN, "xn--d1acufc.xn--p1ai", "xn--d1acufc.xn--p1ai");
    assert_int_equal(a.port, 5224);

    static const uint8_t v4[16] = {1, 2, 3, 4};
    static const uint8_t v6[16] = {[15] = 1};
    static const uint8_t v6b[16] = {0xfe, 0x80, [13] = 2, [15] = 3};
    static const uint8_t v4b[16] = {10, 0, 0, 255};
    static const uint8_t zero[16] = {0};
    assert_memory_equal(a.host_addr[0], v4, 16);
    assert_memory_equal(a.host_addr[1], v6, 16);
    assert_memory_equal(a.host_addr[2], v6b, 16);
    assert_memory_equal(a.host_addr[3], zero, 16);
    assert_memory_equal(a.host_addr[4], zero, 16);
    assert_memory_equal(a.host_addr[5], v4b, 16);

    /* a bare IPv6 host takes every hex digit and colon: no port after it */
    assert_ok(parse("xftp://" FP "@::1:443", &a));
    host_is(&a, 0, SX_SMP_HOST_IPV6, "::1:443", "::1:443");
    assert_int_equal(a.port, 443);
    assert_int_equal(a.port_len, 0);
    assert_ok(parse("xftp://" FP "@[::1]:8443", &a));
    assert_int_equal(a.port, 8443);
    assert_ok(parse("xftp://" FP "@[::ffff:1.2.3.4]", &a));
    static const uint8_t mapped[16] = {[10] = 0xff, [11] = 0xff, 1, 2, 3, 4};
    assert_memory_equal(a.host_addr[0], mapped, 16);
    /* words that look like hex are domains */
    assert_ok(parse("smp://" FP "@cafe:5223", &a));
    host_is(&a, 0, SX_SMP_HOST_DOMAIN, "cafe", "cafe");
    assert_int_equal(a.port, 5223);
    assert_ok(parse("smp://" FP "@" ONION ",smp.example.com:5223", &a));
    host_is(&a, 0, SX_SMP_HOST_ONION, ONION, ONION);
    host_is(&a, 1, SX_SMP_HOST_DOMAIN, "smp.example.com", "smp.example.com");
    /* not an IPv4 address, so a domain */
    assert_ok(parse("smp://" FP "@1.2.3", &a));
    host_is(&a, 0, SX_SMP_HOST_DOMAIN, "1.2.3", "1.2.3");
    assert_ok(parse("smp://" FP "@localhost", &a));
    host_is(&a, 0, SX_SMP_HOST_DOMAIN, "localhost", "localhost");

    expect_status("smp://" FP "@1.2.3.256", SX_E_PROTOCOL);
    expect_status("smp://" FP "@1.2.3.999", SX_E_PROTOCOL);
    expect_status("smp://" FP "@1.2.3.4.5", SX_E_PROTOCOL);
    expect_status("smp://" FP "@1.2.3.4x", SX_E_PROTOCOL);
    assert_ok(parse("smp://" FP "@256.1.1.1", &a)); /* not IPv4: a domain name */
    host_is(&a, 0, SX_SMP_HOST_DOMAIN, "256.1.1.1", "256.1.1.1");
    assert_ok(parse("smp://" FP "@[]", &a)); /* the PROTOCOL-NOTES A28 grammar takes it as a domain */
    host_is(&a, 0, SX_SMP_HOST_DOMAIN, "[]", "[]");
    assert_ok(parse("smp://" FP "@.onion", &a)); /* as the reference: an empty onion name */
    host_is(&a, 0, SX_SMP_HOST_ONION, ".onion", ".onion");
    expect_status("smp://" FP "@[::1", SX_E_PROTOCOL);
    expect_status("smp://" FP "@[::1]x", SX_E_PROTOCOL);
    expect_status("smp://" FP "@b-d.onion", SX_E_PROTOCOL);
    expect_status("smp://" FP "@ABC.onion", SX_E_PROTOCOL);
    expect_status("smp://" FP "@ho st", SX_E_PROTOCOL);
    expect_status("smp://" FP "@host;x", SX_E_PROTOCOL);
    expect_status("smp://" FP "@host#x", SX_E_PROTOCOL);
    expect_status("smp://" FP "@host/", SX_E_PROTOCOL);
    expect_status("smp://" FP "@host\n", SX_E_PROTOCOL);
}

static void test_basic_auth(void **state)
{
    (void)state;
    sx_server_address a;
    char buf[300];
    const char *t = "smp://" FP ":s3cret-Pass=@127.0.0.1,backup.example.com:45123";
    assert_ok(parse(t, &a));
    assert_true(a.has_auth);
    assert_int_equal(a.auth_off, 6 + 44 + 1);
    assert_int_equal(a.auth_len, strlen("s3cret-Pass="));
    assert_ok(sx_server_address_auth(&a, buf, sizeof buf));
    assert_string_equal(buf, "s3cret-Pass=");
    assert_int_equal(sx_server_address_auth(&a, buf, 12), SX_E_LIMIT);
    assert_int_equal(a.key_hash_len, 32);
    assert_int_equal(a.port, 45123);
    size_t n = 0;
    assert_ok(sx_server_address_format(&a, true, buf, sizeof buf, &n));
    assert_string_equal(buf, t);
    assert_int_equal(n, strlen(t));
    assert_ok(sx_server_address_format(&a, false, buf, sizeof buf, &n));
    assert_string_equal(buf, "smp://" FP "@127.0.0.1,backup.example.com:45123");
    assert_int_equal(n, strlen(buf));
    size_t pub = strlen("smp://" FP "@127.0.0.1,backup.example.com:45123");
    assert_int_equal(sx_server_address_format(&a, false, buf, pub, &n), SX_E_LIMIT);
    assert_string_equal(buf, "");
    assert_ok(sx_server_address_format(&a, false, buf, pub + 1, NULL));

    /* every scheme may carry it (the xftp CLI's -s takes one); a description
     * refuses it itself */
    assert_ok(parse("xftp://" FP ":password@xftp.example.com", &a));
    assert_true(a.has_auth);
    assert_ok(parse("ntf://" FP ":p@h", &a));
    /* no auth: "" */
    assert_ok(parse("smp://" FP "@h", &a));
    assert_ok(sx_server_address_auth(&a, buf, sizeof buf));
    assert_string_equal(buf, "");
    assert_ok(sx_server_address_format(&a, false, buf, sizeof buf, NULL));
    assert_string_equal(buf, "smp://" FP "@h");
    /* PROTOCOL-NOTES A22 characters (Latin-1 printable allowed) */
    assert_ok(parse("smp://" FP ":a!\"#$%&'()*+,-.;<=>?[\\]^_`{|}~\xe9@h", &a));
    expect_status("smp://" FP ":@h", SX_E_PROTOCOL);
    expect_status("smp://" FP ":pa ss@h", SX_E_PROTOCOL);
    expect_status("smp://" FP ":pa/ss@h", SX_E_PROTOCOL);
    expect_status("smp://" FP ":pa\tss@h", SX_E_PROTOCOL);
    expect_status("smp://" FP ":pa\x7fss@h", SX_E_PROTOCOL);
    expect_status("smp://" FP ":pa:ss@h", SX_E_PROTOCOL);
    expect_status("smp://" FP ":pass", SX_E_PROTOCOL);
    char big[600];
    snprintf(big, sizeof big, "smp://" FP ":%0255d@h", 7);
    assert_ok(parse(big, &a));
    assert_int_equal(a.auth_len, 255);
    snprintf(big, sizeof big, "smp://" FP ":%0256d@h", 7);
    expect_status(big, SX_E_LIMIT);
}

static void test_port_lists(void **state)
{
    (void)state;
    sx_server_address a;
    assert_ok(parse("smp://" FP ":pw@smp.example.com:5223,443", &a));
    assert_int_equal(a.port, 5223);
    port_text_is(&a, "5223,443");
    assert_ok(parse("smp://" FP "@a,b:443,5223,7000", &a));
    assert_int_equal(a.port, 443);
    assert_int_equal(a.host_count, 2);
    port_text_is(&a, "443,5223,7000");
    expect_status("xftp://" FP "@h:443,5223", SX_E_PROTOCOL);
    expect_status("ntf://" FP "@h:443,5223", SX_E_PROTOCOL);
    expect_status("smp://" FP "@h:5223,", SX_E_PROTOCOL);
    expect_status("smp://" FP "@h:5223,0", SX_E_PROTOCOL);
    expect_status("smp://" FP "@h:5223,65536", SX_E_PROTOCOL);
    expect_status("smp://" FP "@h:5223,,443", SX_E_PROTOCOL);
    expect_status("smp://" FP "@h:5223,x", SX_E_PROTOCOL);
    expect_status("smp://" FP "@h:,5223", SX_E_PROTOCOL);
}

static void test_malformed(void **state)
{
    (void)state;
    /* bad base64 / key hash */
    expect_status("smp://@h", SX_E_PROTOCOL);
    expect_status("smp://F*P@h", SX_E_PROTOCOL);
    expect_status("smp://A@h", SX_E_PROTOCOL);
    expect_status("smp://AAAA+AAA@h", SX_E_PROTOCOL);
    expect_status("smp://AAAA/AAA@h", SX_E_PROTOCOL);
    expect_status("smp://AA AA@h", SX_E_PROTOCOL);
    expect_status("smp://" FP, SX_E_PROTOCOL);
    expect_status("smp://" FP "h", SX_E_PROTOCOL);
    /* empty hosts */
    expect_status("smp://" FP "@", SX_E_PROTOCOL);
    expect_status("smp://" FP "@,h", SX_E_PROTOCOL);
    expect_status("smp://" FP "@h,", SX_E_PROTOCOL);
    expect_status("smp://" FP "@h,,g", SX_E_PROTOCOL);
    expect_status("smp://" FP "@:5223", SX_E_PROTOCOL);
    /* ports */
    expect_status("smp://" FP "@h:", SX_E_PROTOCOL);
    expect_status("smp://" FP "@h:0", SX_E_PROTOCOL);
    expect_status("smp://" FP "@h:00", SX_E_PROTOCOL);
    expect_status("smp://" FP "@h:65536", SX_E_PROTOCOL);
    expect_status("smp://" FP "@h:99999999999999999999999", SX_E_PROTOCOL);
    expect_status("smp://" FP "@h:-1", SX_E_PROTOCOL);
    expect_status("smp://" FP "@h:+1", SX_E_PROTOCOL);
    expect_status("smp://" FP "@h:x", SX_E_PROTOCOL);
    expect_status("smp://" FP "@h:0x10", SX_E_PROTOCOL);
    expect_status("smp://" FP "@h: 5223", SX_E_PROTOCOL);
    expect_status("xftp://" FP "@h:443:443", SX_E_PROTOCOL);
    /* trailing garbage */
    expect_status("smp://" FP "@h:5223x", SX_E_PROTOCOL);
    expect_status("smp://" FP "@h:5223/", SX_E_PROTOCOL);
    expect_status("smp://" FP "@h:5223 ", SX_E_PROTOCOL);
    expect_status("smp://" FP "@h ", SX_E_PROTOCOL);
    expect_status("smp://" FP "@h/q#k", SX_E_PROTOCOL);
    expect_status("smp://" FP "@h:5223\n", SX_E_PROTOCOL);
    /* '@' is a domain character (PROTOCOL-NOTES A28) */
    sx_server_address a;
    assert_ok(parse("smp://" FP "@h@g", &a));
    host_is(&a, 0, SX_SMP_HOST_DOMAIN, "h@g", "h@g");
    assert_ok(parse("smp://" FP ":a@b@h", &a));
    host_is(&a, 0, SX_SMP_HOST_DOMAIN, "b@h", "b@h");
    assert_int_equal(a.auth_len, 1);
}

static void test_nul_and_null(void **state)
{
    (void)state;
    sx_server_address a;
    const char t[] = "smp://" FP "@ho\0st";
    assert_int_equal(parse_n(t, sizeof t - 1, &a), SX_E_PROTOCOL);
    const char t2[] = "smp://" FP "@host\0";
    assert_int_equal(parse_n(t2, sizeof t2 - 1, &a), SX_E_PROTOCOL);
    const char t3[] = "smp://" FP ":p\0w@host";
    assert_int_equal(parse_n(t3, sizeof t3 - 1, &a), SX_E_PROTOCOL);
    const char t4[] = "smp://AAEC\0wQF@host";
    assert_int_equal(parse_n(t4, sizeof t4 - 1, &a), SX_E_PROTOCOL);
    /* the parse is bounded by len, not by a NUL: a prefix parses */
    assert_ok(parse_n(t, strlen("smp://" FP "@ho"), &a));
    assert_string_equal(a.text, "smp://" FP "@ho");

    assert_int_equal(sx_server_address_parse(NULL, 3, &a), SX_E_USAGE);
    assert_int_equal(sx_server_address_parse("smp://", 6, NULL), SX_E_USAGE);
    char buf[16];
    assert_ok(parse("smp://" FP "@h", &a));
    assert_int_equal(sx_server_address_host(&a, 1, buf, sizeof buf), SX_E_USAGE);
    assert_int_equal(sx_server_address_host(&a, 0, NULL, 4), SX_E_USAGE);
    assert_int_equal(sx_server_address_host(NULL, 0, buf, sizeof buf), SX_E_USAGE);
    assert_int_equal(sx_server_address_host(&a, 0, buf, 0), SX_E_USAGE);
    assert_int_equal(sx_server_address_host(&a, 0, buf, 1), SX_E_LIMIT);
    assert_ok(sx_server_address_host(&a, 0, buf, 2));
    assert_string_equal(buf, "h");
    assert_int_equal(sx_server_address_format(NULL, true, buf, sizeof buf, NULL), SX_E_USAGE);
    assert_int_equal(sx_server_address_auth(&a, NULL, 3), SX_E_USAGE);
}

static void test_limits(void **state)
{
    (void)state;
    sx_server_address a;
    char t[SX_SERVER_ADDRESS_MAX + 64];
    /* 8 hosts, not 9 */
    assert_ok(parse("smp://" FP "@a,b,c,d,e,f,g,h:1", &a));
    assert_int_equal(a.host_count, 8);
    host_is(&a, 7, SX_SMP_HOST_DOMAIN, "h", "h");
    expect_status("smp://" FP "@a,b,c,d,e,f,g,h,i:1", SX_E_LIMIT);
    expect_status("smp://" FP "@a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", SX_E_LIMIT);

    /* SX_SERVER_ADDRESS_MAX bytes parse, one more does not */
    size_t head = strlen("smp://" FP "@");
    memcpy(t, "smp://" FP "@", head);
    memset(t + head, 'a', SX_SERVER_ADDRESS_MAX - head);
    t[SX_SERVER_ADDRESS_MAX] = '\0';
    assert_ok(parse(t, &a));
    assert_int_equal(a.host_len[0], SX_SERVER_ADDRESS_MAX - head);
    char host[SX_SERVER_ADDRESS_MAX];
    assert_ok(sx_server_address_host(&a, 0, host, sizeof host));
    assert_int_equal(strlen(host), SX_SERVER_ADDRESS_MAX - head);
    t[SX_SERVER_ADDRESS_MAX] = 'a';
    t[SX_SERVER_ADDRESS_MAX + 1] = '\0';
    expect_status(t, SX_E_LIMIT);
    /* the length is checked before any byte is read */
    assert_int_equal(sx_server_address_parse(t, SIZE_MAX, &a), SX_E_LIMIT);

    /* key hash: 255 bytes parse, 256 do not */
    uint8_t kh[256];
    for (int i = 0; i < 256; i++)
        kh[i] = (uint8_t)i;
    char b64[400];
    for (size_t n = 255; n <= 256; n++) {
        static const char alpha[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        size_t o = 0;
        for (size_t i = 0; i < n; i += 3) {
            uint32_t v = (uint32_t)kh[i] << 16 | (i + 1 < n ? (uint32_t)kh[i + 1] << 8 : 0) |
                         (i + 2 < n ? kh[i + 2] : 0);
            size_t chars = i + 2 < n ? 4 : (i + 1 < n ? 3 : 2);
            for (size_t c = 0; c < chars; c++)
                b64[o++] = alpha[(v >> (18 - 6 * c)) & 63];
        }
        b64[o] = '\0';
        snprintf(t, sizeof t, "xftp://%s@h", b64);
        sx_status st = parse(t, &a);
        if (n == 255) {
            assert_ok(st);
            assert_int_equal(a.key_hash_len, 255);
            assert_memory_equal(a.key_hash, kh, 255);
        } else {
            assert_int_equal(st, SX_E_LIMIT);
        }
    }
}

/* Checks what a successful parse of t[0..len) must satisfy. */
static void check_consistent(const char *t, size_t len, const sx_server_address *a)
{
    assert_int_equal(a->text_len, len);
    assert_memory_equal(a->text, t, len);
    assert_int_equal(a->text[len], '\0');
    assert_true(a->host_count >= 1 && a->host_count <= SX_SERVER_HOSTS_MAX);
    for (size_t i = 0; i < a->host_count; i++) {
        assert_true(a->host_len[i] > 0 && a->host_off[i] + a->host_len[i] <= len);
        assert_true(a->host_kind[i] >= SX_SMP_HOST_IPV4 && a->host_kind[i] <= SX_SMP_HOST_DOMAIN);
    }
    assert_true(a->port_off + a->port_len <= len);
    assert_true(a->port > 0);
    assert_true(a->key_hash_len > 0 && a->key_hash_len <= SX_SERVER_KEY_HASH_MAX);
    if (a->has_auth)
        assert_true(a->auth_len > 0 && a->auth_off + a->auth_len <= len);
    char buf[SX_SERVER_ADDRESS_MAX + 1];
    size_t n;
    assert_ok(sx_server_address_format(a, true, buf, sizeof buf, &n));
    assert_int_equal(n, len);
    assert_memory_equal(buf, t, len);
    sx_server_address b;
    assert_ok(sx_server_address_format(a, false, buf, sizeof buf, &n));
    assert_ok(parse_n(buf, n, &b));
    assert_int_equal(sx_server_address_compare(a, &b), 0);
    assert_false(b.has_auth);
    assert_int_equal(b.port, a->port);
}

static void test_every_prefix(void **state)
{
    (void)state;
    static const char *const valid[] = {
        "smp://" FP ":s3cret-Pass=@127.0.0.1,backup.example.com:5223,443",
        "xftp://" FP "@[2001:db8::1],xftp1.simplex.im," ONION ":5443",
        "ntf://" FP "@10.1.2.3,::1",
        "smp://" FP "@h",
    };
    for (size_t v = 0; v < sizeof valid / sizeof valid[0]; v++) {
        const char *t = valid[v];
        size_t len = strlen(t);
        sx_server_address a;
        assert_ok(parse_n(t, len, &a));
        check_consistent(t, len, &a);
        size_t ok = 0;
        for (size_t i = 0; i < len; i++) {
            sx_status st = parse_n(t, i, &a);
            if (st == SX_OK) {
                check_consistent(t, i, &a);
                ok++;
            } else {
                assert_int_equal(st, SX_E_PROTOCOL);
                /* a failed parse leaves nothing behind */
                assert_int_equal(a.text_len, 0);
                assert_int_equal(a.host_count, 0);
            }
        }
        /* nothing before the '@' and the first host parses */
        for (size_t i = 0; i <= (size_t)(strchr(t, '@') - t) + 1; i++)
            assert_int_not_equal(parse_n(t, i, &a), SX_OK);
        /* prefixes ending inside a later host or the port list parse */
        assert_true(ok > 0 || strcmp(t, "smp://" FP "@h") == 0);
        /* one byte of trailing garbage after a complete address */
        char *g = malloc(len + 1);
        memcpy(g, t, len);
        g[len] = '/';
        assert_int_equal(parse_n(g, len + 1, &a), SX_E_PROTOCOL);
        free(g);
    }
}

/* The reference's order (the same list sx_xftp_fd_server_compare is tested
 * with), the scheme last, auth ignored. */
static void test_order(void **state)
{
    (void)state;
    static const char *const sorted[] = {
        "xftp://AQ==@1.2.3.4",   "xftp://AQ==@10.0.0.1",  "xftp://AQ==@[::1]",
        "xftp://AQ==@[fe80::1]", "xftp://AQ==@abc.onion", "xftp://AQ==@a.com",
        "xftp://AQ==@a.com:443", "xftp://Ag==@a.com:443", "smp://AQ==@a.com,b.com",
        "xftp://AQ==@a.com,b.com", "xftp://AQ==@b.com",
    };
    size_t n = sizeof sorted / sizeof sorted[0];
    sx_server_address *s = calloc(n, sizeof *s);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        assert_ok(parse(sorted[i], &s[i]));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            int c = sx_server_address_compare(&s[i], &s[j]);
            if (!(i < j ? c < 0 : (i == j ? c == 0 : c > 0)))
                print_error("%s vs %s: %d\n", sorted[i], sorted[j], c);
            assert_true(i < j ? c < 0 : (i == j ? c == 0 : c > 0));
        }
    sx_server_address x, y;
    assert_ok(parse("xftp://AQ==:pw@a.com", &x));
    assert_ok(parse("xftp://AQ==@a.com", &y));
    assert_int_equal(sx_server_address_compare(&x, &y), 0);
    /* IPv6 by number, not by text */
    assert_ok(parse("xftp://AQ==@[::1]", &x));
    assert_ok(parse("xftp://AQ==@0:0:0:0:0:0:0:1", &y));
    assert_int_equal(sx_server_address_compare(&x, &y), 0);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schemes_and_ports),
        cmocka_unit_test(test_host_kinds),
        cmocka_unit_test(test_basic_auth),
        cmocka_unit_test(test_port_lists),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_nul_and_null),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_every_prefix),
        cmocka_unit_test(test_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
