/* Unit tests of the NTF store log lines (src/ntf_router/slrec.h): every
 * record written and read back, lines written out by hand in the
 * reference's format, its quirk of an ERR status taking the rest of the
 * line, and truncated, oversized and trailing input; the same for the
 * lines of the last-notifications file. */
#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "core/base64.h"
#include "ntf_router/slrec.h"

static char g_line[4096];

static const char *write_line(const sx_ntf_sl_rec *r)
{
    sx_writer w;
    sx_writer_init_fixed(&w, (uint8_t *)g_line, sizeof g_line - 1);
    assert_true(sx_ntf_sl_write(&w, r));
    g_line[w.len] = 0;
    return g_line;
}

static sx_status parse(const char *line, sx_ntf_sl_rec *r)
{
    return sx_ntf_sl_parse(sx_slice_of(line, strlen(line)), r);
}

static void set_bytes(sx_ntf_sl_bytes *b, uint8_t seed, size_t n)
{
    tu_bytes_seq(b->b, n, seed);
    b->len = n;
}

static size_t key_der(sx_key *k, bool priv, uint8_t *out, size_t cap)
{
    sx_writer w;
    sx_writer_init_fixed(&w, out, cap);
    assert_true(priv ? sx_key_write_private(&w, k) : sx_key_write_public(&w, k));
    return w.len;
}

static sx_server_address smp_server(void)
{
    sx_server_address a;
    const char *t = "smp://AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=@smp.example.com,abcdefghijklmnop.onion:5001";
    assert_ok(sx_server_address_parse(t, strlen(t), &a));
    return a;
}

static sx_ntf_sl_rec sample_tkn(void)
{
    static sx_ntf_sl_rec r;
    memset(&r, 0, sizeof r);
    r.kind = SX_NTF_SL_TCREATE;
    sx_ntf_tkn_rec *t = &r.tkn;
    set_bytes(&t->id, 1, 24);
    t->token.provider = SX_NTF_PP_APNS_PROD;
    assert_ok(sx_ntf_sl_bytes_set(&t->token.token, sx_slice_str("00ff12ab")));
    t->status.status = SX_NTF_TKN_INVALID;
    t->status.reason = SX_NTF_INVALID_EXPIRED;
    sx_key *v = NULL, *dh = NULL;
    assert_ok(sx_key_generate(SX_KEY_ED25519, &v));
    assert_ok(sx_key_generate(SX_KEY_X25519, &dh));
    t->verify_key_len = key_der(v, false, t->verify_key, sizeof t->verify_key);
    t->dh_pub_len = key_der(dh, false, t->dh_pub, sizeof t->dh_pub);
    t->dh_priv_len = key_der(dh, true, t->dh_priv, sizeof t->dh_priv);
    sx_key_free(v);
    sx_key_free(dh);
    tu_bytes_seq(t->dh_secret, sizeof t->dh_secret, 9);
    set_bytes(&t->reg_code, 40, 32);
    t->cron = 20;
    t->has_updated_at = true;
    t->updated_at = 1733443200;
    return r;
}

static sx_ntf_sl_rec sample_sub(void)
{
    static sx_ntf_sl_rec r;
    memset(&r, 0, sizeof r);
    r.kind = SX_NTF_SL_SCREATE;
    sx_ntf_sub_rec *s = &r.sub;
    set_bytes(&s->id, 2, 24);
    s->server = smp_server();
    set_bytes(&s->notifier_id, 3, 24);
    sx_key *k = NULL;
    assert_ok(sx_key_generate(SX_KEY_ED448, &k));
    s->notifier_key_len = key_der(k, true, s->notifier_key, sizeof s->notifier_key);
    sx_key_free(k);
    set_bytes(&s->token_id, 1, 24);
    s->status = SX_NTF_SUB_ACTIVE;
    s->service_assoc = true;
    return r;
}

static void roundtrip(const sx_ntf_sl_rec *r)
{
    char first[4096];
    snprintf(first, sizeof first, "%s", write_line(r));
    static sx_ntf_sl_rec d;
    assert_ok(parse(first, &d));
    assert_int_equal(d.kind, r->kind);
    assert_string_equal(write_line(&d), first);
    /* trailing input */
    char more[4200];
    snprintf(more, sizeof more, "%s x", first);
    if (!(d.kind == SX_NTF_SL_SSTATUS && d.sub_status.status == SX_NTF_SUB_ERR) &&
        !(d.kind == SX_NTF_SL_SCREATE && d.sub.status == SX_NTF_SUB_ERR))
        assert_int_equal(parse(more, &d), SX_E_PROTOCOL);
    /* every prefix: fails, or reads as a record that writes again */
    for (size_t n = 0; n < strlen(first); n++) {
        static sx_ntf_sl_rec p;
        if (sx_ntf_sl_parse(sx_slice_of(first, n), &p) == SX_OK)
            (void)write_line(&p);
    }
}

static void test_roundtrip(void **state)
{
    (void)state;
    sx_ntf_sl_rec t = sample_tkn();
    roundtrip(&t);
    const char *line = write_line(&t);
    assert_non_null(strstr(line, "TCREATE tknId=AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcY token=apns_prod 00ff12ab "
                                 "tokenStatus=INVALID,EXPIRED verifyKey=MCowBQYDK2Vw"));
    assert_non_null(strstr(line, " dhKeys=MCowBQYDK2Vu"));
    assert_non_null(strstr(line, " MC4CAQAwBQYDK2VuBCIE"));
    assert_non_null(strstr(line, " cron=20 updatedAt=1733443200"));
    t.tkn.has_updated_at = false;
    roundtrip(&t);

    sx_ntf_sl_rec s = sample_sub();
    roundtrip(&s);
    line = write_line(&s);
    assert_non_null(strstr(line, "SCREATE subId=AgMEBQYHCAkKCwwNDg8QERITFBUWFxgZ smpQueue=smp://"
                                 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=@smp.example.com,"
                                 "abcdefghijklmnop.onion:5001/AwQFBgcICQoLDA0ODxAREhMUFRYXGBka "
                                 "notifierKey=MEcCAQAwBQYDK2Vx"));
    assert_non_null(strstr(line, " tknId=AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcY subStatus=ACTIVE serviceAssoc=T"));

    sx_ntf_sl_rec r;
    memset(&r, 0, sizeof r);
    set_bytes(&r.id, 1, 24);
    r.kind = SX_NTF_SL_TSTATUS;
    r.tkn_status.status = SX_NTF_TKN_ACTIVE;
    roundtrip(&r);
    assert_string_equal(write_line(&r), "TSTATUS AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcY ACTIVE");
    r.kind = SX_NTF_SL_TUPDATE;
    r.update.token.provider = SX_NTF_PP_APNS_DEV;
    assert_ok(sx_ntf_sl_bytes_set(&r.update.token.token, sx_slice_str("abcd")));
    set_bytes(&r.update.reg_code, 0, 3);
    roundtrip(&r);
    assert_string_equal(write_line(&r), "TUPDATE AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcY apns_dev abcd AAEC");
    r.kind = SX_NTF_SL_TCRON;
    r.cron = 65535;
    roundtrip(&r);
    r.kind = SX_NTF_SL_TDELETE;
    roundtrip(&r);
    r.kind = SX_NTF_SL_TTIME;
    r.time = 86400;
    roundtrip(&r);
    assert_string_equal(write_line(&r), "TTIME AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcY 86400");
    r.kind = SX_NTF_SL_SSTATUS;
    r.sub_status.status = SX_NTF_SUB_END;
    r.sub_status.service_assoc = true;
    roundtrip(&r);
    assert_string_equal(write_line(&r), "SSTATUS AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcY END service=T");
    r.kind = SX_NTF_SL_SDELETE;
    roundtrip(&r);
    r.kind = SX_NTF_SL_SERVICE;
    r.service.server = smp_server();
    roundtrip(&r);
    assert_non_null(strstr(write_line(&r), ":5001 service=off"));
    r.service.has_service_id = true;
    set_bytes(&r.service.service_id, 7, 16);
    roundtrip(&r);
}

/* Lines as the reference writes them, typed in from its encoders. */
static void test_reference_lines(void **state)
{
    (void)state;
    static sx_ntf_sl_rec r;
    assert_ok(parse("TSTATUS AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcY INVALID", &r));
    assert_int_equal(r.tkn_status.status, SX_NTF_TKN_INVALID);
    assert_int_equal(r.tkn_status.reason, SX_NTF_INVALID_NONE);
    assert_int_equal(r.id.len, 24);
    assert_ok(parse("TUPDATE AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcY apns_null test_ntf_token AAEC", &r));
    assert_int_equal(r.update.token.provider, SX_NTF_PP_APNS_NULL);
    assert_ok(parse("TUPDATE AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcY apns_test  AAEC", &r));
    assert_int_equal(r.update.token.token.len, 0);
    /* the status ERR takes the rest of the line, service flag included */
    assert_ok(parse("SSTATUS AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcY ERR CONNECTION timeout service=T", &r));
    assert_int_equal(r.sub_status.status, SX_NTF_SUB_ERR);
    assert_false(r.sub_status.service_assoc);
    assert_int_equal(r.sub_status.err.len, strlen("CONNECTION timeout service=T"));
    /* so after ERR nothing is written, and the line reads back the same */
    sx_ntf_sl_rec sub = sample_sub();
    sub.sub.status = SX_NTF_SUB_ERR;
    assert_ok(sx_ntf_sl_bytes_set(&sub.sub.status_err, sx_slice_str("x")));
    assert_non_null(strstr(write_line(&sub), " subStatus=ERR x"));
    assert_null(strstr(write_line(&sub), "serviceAssoc"));
    roundtrip(&sub);
    assert_ok(parse("TCRON AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcY 0", &r));
    assert_ok(parse("SERVICE smp://AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=@localhost service=off", &r));
    assert_false(r.service.has_service_id);

    /* refused: odd or upper-case hex, unknown provider, tags and statuses,
     * a port list or basic auth in the address, a cron over 65535 */
    assert_int_equal(parse("TUPDATE AQID apns_dev abc AAEC", &r), SX_E_PROTOCOL);
    assert_int_equal(parse("TUPDATE AQID apns_dev ABCD AAEC", &r), SX_E_PROTOCOL);
    assert_int_equal(parse("TUPDATE AQID fcm abcd AAEC", &r), SX_E_PROTOCOL);
    assert_int_equal(parse("TSTATUS AQID active", &r), SX_E_PROTOCOL);
    assert_int_equal(parse("TSTATUS AQID", &r), SX_E_PROTOCOL);
    assert_int_equal(parse("TSTATUS  ACTIVE", &r), SX_E_PROTOCOL);
    assert_int_equal(parse("TBLAH AQID", &r), SX_E_PROTOCOL);
    assert_int_equal(parse("TCRON AQID 65536", &r), SX_E_PROTOCOL);
    assert_int_equal(parse("TCRON AQID -1", &r), SX_E_PROTOCOL);
    assert_int_equal(parse("SSTATUS AQID ERR", &r), SX_E_PROTOCOL);
    assert_int_equal(parse("SSTATUS AQID ACTIVE service=X", &r), SX_E_PROTOCOL);
    assert_int_equal(parse("SERVICE smp://AAEC:pwd@localhost service=off", &r), SX_E_PROTOCOL);
    assert_int_equal(parse("SERVICE xftp://AAEC@localhost service=off", &r), SX_E_PROTOCOL);
    assert_int_equal(parse("", &r), SX_E_PROTOCOL);
    /* oversized: an id over 255 bytes */
    char big[600] = "TDELETE ";
    for (size_t i = 8; i < 8 + 400; i++)
        big[i] = 'A';
    big[408] = 0;
    assert_int_equal(parse(big, &r), SX_E_LIMIT);
    /* a record whose token key is not a key */
    sx_ntf_sl_rec t = sample_tkn();
    char line[4096];
    snprintf(line, sizeof line, "%s", write_line(&t));
    char *vk = strstr(line, "verifyKey=MCow");
    assert_non_null(vk);
    vk[10] = 'X';
    assert_int_equal(parse(line, &r), SX_E_PROTOCOL);
}

/* "<b64url of n bytes of value v>" */
static const char *b64_of(uint8_t v, size_t n)
{
    static char out[4][1024];
    static int k;
    uint8_t buf[512];
    memset(buf, v, n);
    char *o = out[k++ % 4];
    assert_ok(sx_b64_encode(sx_slice_of(buf, n), SX_B64_URL, o, sizeof out[0]));
    return o;
}

static sx_status parse_last(const char *line, sx_ntf_sl_last *l)
{
    return sx_ntf_sl_last_parse(sx_slice_of(line, strlen(line)), l);
}

/* ntf-server-last-notifications.log lines (the reference's TNMRv1). */
static void test_last_lines(void **state)
{
    (void)state;
    static char line[4096], bad[8192];
    static sx_ntf_sl_last l;
    char kh[64];
    snprintf(kh, sizeof kh, "%s", b64_of(0xab, 32));
    snprintf(line, sizeof line, "v1 %s smp://%s@127.0.0.1:5223/%s 1700000000 %s %s", b64_of(1, 24), kh,
             b64_of(2, 24), b64_of(3, 24), b64_of(4, 128));
    assert_ok(parse_last(line, &l));
    assert_int_equal(l.token_id.len, 24);
    assert_int_equal(l.token_id.b[0], 1);
    assert_int_equal(l.notifier_id.len, 24);
    assert_int_equal(l.notifier_id.b[23], 2);
    assert_int_equal(l.ts, 1700000000);
    assert_int_equal(l.nonce[0], 3);
    assert_int_equal(l.meta_len, 128);
    assert_int_equal(l.meta[127], 4);
    assert_non_null(strstr(l.server.text, "@127.0.0.1:5223"));
    /* truncated: before and inside the nonce, without the metadata */
    for (size_t cut = 0; cut < strlen(line); cut++) {
        snprintf(bad, sizeof bad, "%.*s", (int)cut, line);
        const char *nonce_end = strstr(line, b64_of(3, 24)) + strlen(b64_of(3, 24));
        if (cut <= (size_t)(nonce_end - line) + 1)
            assert_int_not_equal(parse_last(bad, &l), SX_OK);
    }
    /* trailing text, another version, a nonce of 23 bytes, no notifier id */
    snprintf(bad, sizeof bad, "%s x", line);
    assert_int_not_equal(parse_last(bad, &l), SX_OK);
    snprintf(bad, sizeof bad, "v2%s", line + 2);
    assert_int_equal(parse_last(bad, &l), SX_E_PROTOCOL);
    snprintf(bad, sizeof bad, "v1 %s smp://%s@127.0.0.1:5223/%s 1 %s %s", b64_of(1, 24), kh, b64_of(2, 24),
             b64_of(3, 23), b64_of(4, 16));
    assert_int_equal(parse_last(bad, &l), SX_E_PROTOCOL);
    snprintf(bad, sizeof bad, "v1 %s smp://%s@127.0.0.1:5223/ 1 %s %s", b64_of(1, 24), kh, b64_of(3, 24),
             b64_of(4, 16));
    assert_int_not_equal(parse_last(bad, &l), SX_OK);
    /* oversized: metadata over its buffer, a token id over the field */
    snprintf(bad, sizeof bad, "v1 %s smp://%s@127.0.0.1:5223/%s 1 %s %s", b64_of(1, 24), kh, b64_of(2, 24),
             b64_of(3, 24), b64_of(4, SX_NTF_SL_META_MAX + 1));
    assert_int_equal(parse_last(bad, &l), SX_E_LIMIT);
    snprintf(bad, sizeof bad, "v1 %s smp://%s@127.0.0.1:5223/%s 1 %s %s", b64_of(1, SX_NTF_SL_BYTES_MAX + 1), kh,
             b64_of(2, 24), b64_of(3, 24), b64_of(4, 16));
    assert_int_equal(parse_last(bad, &l), SX_E_LIMIT);
    assert_int_not_equal(parse_last("", &l), SX_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_reference_lines),
        cmocka_unit_test(test_last_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
