/* Unit tests of the NTF codecs (PROTOCOL-NOTES G.1, G.2): known encodings
 * pinned from the reference's Encoding instances, every command and response
 * round-tripped at v1..v3, truncation at every offset, trailing bytes,
 * oversized fields and blocks, credential rules, request and reply decoding
 * errors and the two hellos. */
#include "test_smp_util.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/x509.h"
#include "ntf/protocol.h"

static uint8_t g_buf[8][1024];
static int g_next;

static sx_slice enc_cmd(const sx_ntf_cmd *c, uint16_t v)
{
    uint8_t *b = g_buf[g_next++ % 8];
    sx_writer w;
    sx_writer_init_fixed(&w, b, sizeof g_buf[0]);
    sx_ntf_cmd_write(&w, v, c);
    assert_ok(sx_writer_status(&w));
    return sx_writer_slice(&w);
}

static sx_slice enc_resp(const sx_ntf_resp *r, uint16_t v)
{
    uint8_t *b = g_buf[g_next++ % 8];
    sx_writer w;
    sx_writer_init_fixed(&w, b, sizeof g_buf[0]);
    sx_ntf_resp_write(&w, v, r);
    assert_ok(sx_writer_status(&w));
    return sx_writer_slice(&w);
}

static sx_slice hex(const char *h)
{
    uint8_t *b = g_buf[g_next++ % 8];
    size_t n = 0;
    uint8_t *p = tu_hex(h, &n);
    assert_true(n <= sizeof g_buf[0]);
    memcpy(b, p, n);
    free(p);
    return sx_slice_of(b, n);
}

/* An Ed25519 private key in PKCS#8, fixed for the test run. */
static sx_slice notifier_pkcs8(void)
{
    static uint8_t buf[128];
    static size_t len;
    if (!len) {
        sx_key *k = NULL;
        assert_ok(sx_key_generate(SX_KEY_ED25519, &k));
        sx_writer w;
        sx_writer_init_fixed(&w, buf, sizeof buf);
        assert_true(sx_key_write_private(&w, k));
        len = w.len;
        sx_key_free(k);
    }
    return sx_slice_of(buf, len);
}

static sx_ntf_queue sample_queue(void)
{
    static uint8_t hosts[64];
    sx_writer w;
    sx_writer_init_fixed(&w, hosts, sizeof hosts);
    sx_write_short(&w, TSU_STR("localhost"));
    sx_ntf_queue q = {0};
    q.server.hosts.count = 1;
    q.server.hosts.items = sx_writer_slice(&w);
    q.server.port = TSU_STR("5001");
    q.server.key_hash = tsu_seq(32, 0x70);
    q.notifier_id = tsu_seq(24, 0x30);
    return q;
}

static sx_ntf_cmd sample_cmd(sx_ntf_cmd_tag tag)
{
    sx_ntf_cmd c = {0};
    c.tag = tag;
    switch (tag) {
    case SX_NTF_C_TNEW:
        c.tnew.token.provider = SX_NTF_PP_APNS_PROD;
        c.tnew.token.token = TSU_STR("0123456789abcdef");
        c.tnew.verify_key = tsu_key(SX_KEY_ED25519, 0x10);
        c.tnew.dh_key = tsu_key(SX_KEY_X25519, 0x20);
        break;
    case SX_NTF_C_TVFY:
        c.reg_code = tsu_seq(32, 0x44);
        break;
    case SX_NTF_C_TRPL:
        c.token.provider = SX_NTF_PP_APNS_DEV;
        c.token.token = TSU_STR("abcdef");
        break;
    case SX_NTF_C_TCRN:
        c.cron_minutes = 0x0102;
        break;
    case SX_NTF_C_SNEW:
        c.snew.token_id = tsu_seq(24, 0x50);
        c.snew.queue = sample_queue();
        c.snew.notifier_key = notifier_pkcs8();
        break;
    default:
        break;
    }
    return c;
}

static sx_ntf_resp sample_resp(sx_ntf_resp_tag tag)
{
    sx_ntf_resp r = {0};
    r.tag = tag;
    switch (tag) {
    case SX_NTF_R_IDTKN:
        r.idtkn.id = tsu_seq(24, 1);
        r.idtkn.dh_key = tsu_key(SX_KEY_X25519, 0x21);
        break;
    case SX_NTF_R_IDSUB:
        r.sub_id = tsu_seq(24, 2);
        break;
    case SX_NTF_R_ERR:
        r.err = sx_smp_error_of(SX_SMP_ERR_AUTH);
        break;
    case SX_NTF_R_TKN:
        r.tkn.status = SX_NTF_TKN_ACTIVE;
        break;
    case SX_NTF_R_SUB:
        r.sub.status = SX_NTF_SUB_PENDING;
        break;
    default:
        break;
    }
    return r;
}

/* Known encodings, written out from the reference's smpEncode instances. */
static void test_known_encodings(void **state)
{
    (void)state;
    /* TNEW: "TNEW T" "AP" shortString(token) key(Ed25519) key(X25519) */
    sx_ntf_cmd c = sample_cmd(SX_NTF_C_TNEW);
    sx_slice want = tsu_cat(
        tsu_cat(hex("544e45572054 4150 10"), TSU_STR("0123456789abcdef")),
        tsu_cat(tsu_cat(hex("2c 302a300506032b6570032100"), tsu_seq(32, 0x10)),
                tsu_cat(hex("2c 302a300506032b656e032100"), tsu_seq(32, 0x20))));
    sx_slice got = enc_cmd(&c, 3);
    assert_int_equal(got.len, want.len);
    assert_bytes_equal(got.ptr, want.ptr, want.len);

    /* TCRN Word16 big-endian; commands without parameters are the bare tag */
    c = sample_cmd(SX_NTF_C_TCRN);
    c.cron_minutes = 20;
    got = enc_cmd(&c, 3);
    want = hex("5443524e20 0014");
    assert_true(sx_slice_eq(got, want));
    c = sample_cmd(SX_NTF_C_PING);
    assert_true(sx_slice_eq(enc_cmd(&c, 1), TSU_STR("PING")));

    /* SNEW: "SNEW S" ss(tokenId) NonEmpty(host) ss(port) ss(keyHash) ss(nId) ss(PKCS#8) */
    c = sample_cmd(SX_NTF_C_SNEW);
    want = tsu_cat(tsu_cat(hex("534e45572053 18"), tsu_seq(24, 0x50)),
                   tsu_cat(hex("01 09 6c6f63616c686f7374 04 35303031 20"), tsu_seq(32, 0x70)));
    want = tsu_cat(tsu_cat(want, hex("18")), tsu_seq(24, 0x30));
    want = tsu_cat(tsu_cat(want, hex("30")), notifier_pkcs8());
    got = enc_cmd(&c, 2);
    assert_true(sx_slice_eq(got, want));
    /* the PKCS#8 of an Ed25519 key has the reference's 48-byte shape */
    assert_int_equal(notifier_pkcs8().len, 48);
    assert_bytes_equal(notifier_pkcs8().ptr, hex("302e020100300506032b657004220420").ptr, 16);

    /* responses */
    sx_ntf_resp r = sample_resp(SX_NTF_R_IDTKN);
    want = tsu_cat(tsu_cat(TSU_STR("IDTKN "), hex("18")), tsu_seq(24, 1));
    want = tsu_cat(tsu_cat(want, hex("2c 302a300506032b656e032100")), tsu_seq(32, 0x21));
    assert_true(sx_slice_eq(enc_resp(&r, 3), want));
    r.tag = SX_NTF_R_TKN;
    r.tkn.status = SX_NTF_TKN_INVALID;
    r.tkn.reason = SX_NTF_INVALID_UNREGISTERED;
    assert_true(sx_slice_eq(enc_resp(&r, 3), TSU_STR("TKN INVALID,UNREGISTERED")));
    assert_true(sx_slice_eq(enc_resp(&r, 2), TSU_STR("TKN INVALID")));
    r.tag = SX_NTF_R_SUB;
    r.sub.status = SX_NTF_SUB_ERR;
    r.sub.err = TSU_STR("CONNECTION timeout");
    assert_true(sx_slice_eq(enc_resp(&r, 3), TSU_STR("SUB ERR CONNECTION timeout")));
    r.tag = SX_NTF_R_ERR;
    r.err = sx_smp_error_cmd(SX_SMP_CMD_NO_AUTH);
    assert_true(sx_slice_eq(enc_resp(&r, 1), TSU_STR("ERR CMD NO_AUTH")));
    r = sample_resp(SX_NTF_R_PONG);
    assert_true(sx_slice_eq(enc_resp(&r, 3), TSU_STR("PONG")));

    /* the decoded fields */
    sx_ntf_cmd d;
    sx_smp_cmd_err ce;
    c = sample_cmd(SX_NTF_C_SNEW);
    assert_ok(sx_ntf_cmd_decode(enc_cmd(&c, 3), 3, &d, &ce));
    assert_true(sx_slice_eq(d.snew.token_id, tsu_seq(24, 0x50)));
    assert_true(sx_slice_eq(d.snew.queue.notifier_id, tsu_seq(24, 0x30)));
    assert_true(sx_slice_eq(d.snew.queue.server.port, TSU_STR("5001")));
    assert_true(sx_slice_eq(d.snew.notifier_key, notifier_pkcs8()));
    c = sample_cmd(SX_NTF_C_TNEW);
    assert_ok(sx_ntf_cmd_decode(enc_cmd(&c, 3), 3, &d, &ce));
    assert_int_equal(d.tnew.token.provider, SX_NTF_PP_APNS_PROD);
    assert_int_equal(d.tnew.verify_key.alg, SX_KEY_ED25519);
    assert_int_equal(d.tnew.dh_key.alg, SX_KEY_X25519);
}

static void test_roundtrip_truncation_trailing(void **state)
{
    (void)state;
    for (uint16_t v = SX_NTF_VERSION_MIN; v <= SX_NTF_VERSION_MAX; v++) {
        for (int t = SX_NTF_C_TNEW; t <= SX_NTF_C_PING; t++) {
            sx_ntf_cmd c = sample_cmd((sx_ntf_cmd_tag)t), d;
            sx_slice e = enc_cmd(&c, v);
            sx_smp_cmd_err ce;
            assert_ok(sx_ntf_cmd_decode(e, v, &d, &ce));
            assert_int_equal(d.tag, t);
            assert_true(sx_slice_eq(enc_cmd(&d, v), e));
            for (size_t n = 0; n < e.len; n++) {
                assert_int_equal(sx_ntf_cmd_decode(sx_slice_of(e.ptr, n), v, &d, &ce),
                                 SX_E_PROTOCOL);
                assert_true(ce == SX_SMP_CMD_SYNTAX || ce == SX_SMP_CMD_UNKNOWN);
            }
            /* after a bare tag "x" makes another tag; after parameters a syntax error */
            bool bare = e.len == 4;
            assert_int_equal(sx_ntf_cmd_decode(tsu_cat(e, TSU_STR("x")), v, &d, &ce),
                             SX_E_PROTOCOL);
            assert_int_equal(ce, bare ? SX_SMP_CMD_UNKNOWN : SX_SMP_CMD_SYNTAX);
            assert_int_equal(sx_ntf_cmd_decode(tsu_cat(e, TSU_STR(" ")), v, &d, &ce),
                             SX_E_PROTOCOL);
            assert_int_equal(ce, SX_SMP_CMD_SYNTAX);
        }
        for (int t = SX_NTF_R_IDTKN; t <= SX_NTF_R_PONG; t++) {
            sx_ntf_resp r = sample_resp((sx_ntf_resp_tag)t), d;
            sx_slice e = enc_resp(&r, v);
            sx_smp_cmd_err ce;
            assert_ok(sx_ntf_resp_decode(e, v, &d, &ce));
            assert_int_equal(d.tag, t);
            assert_true(sx_slice_eq(enc_resp(&d, v), e));
            for (size_t n = 0; n < e.len; n++)
                assert_int_equal(sx_ntf_resp_decode(sx_slice_of(e.ptr, n), v, &d, &ce),
                                 SX_E_PROTOCOL);
            assert_int_equal(sx_ntf_resp_decode(tsu_cat(e, TSU_STR("x")), v, &d, &ce),
                             SX_E_PROTOCOL);
            assert_int_equal(sx_ntf_resp_decode(tsu_cat(e, TSU_STR(" ")), v, &d, &ce),
                             SX_E_PROTOCOL);
        }
    }
}

static void test_bad_fields(void **state)
{
    (void)state;
    sx_ntf_cmd d;
    sx_smp_cmd_err ce;
    /* unknown tags, entity kinds swapped, bad provider, wrong key kinds */
    assert_int_equal(sx_ntf_cmd_decode(TSU_STR("NEW"), 3, &d, &ce), SX_E_PROTOCOL);
    assert_int_equal(ce, SX_SMP_CMD_UNKNOWN);
    sx_ntf_cmd c = sample_cmd(SX_NTF_C_TNEW);
    sx_slice e = enc_cmd(&c, 3);
    uint8_t *m = g_buf[g_next++ % 8];
    memcpy(m, e.ptr, e.len);
    m[5] = 'S';
    assert_int_equal(sx_ntf_cmd_decode(sx_slice_of(m, e.len), 3, &d, &ce), SX_E_PROTOCOL);
    assert_int_equal(ce, SX_SMP_CMD_SYNTAX);
    m[5] = 'T';
    m[7] = 'X'; /* "AX" */
    assert_int_equal(sx_ntf_cmd_decode(sx_slice_of(m, e.len), 3, &d, &ce), SX_E_PROTOCOL);
    c.tnew.dh_key = tsu_key(SX_KEY_ED25519, 0x20); /* not an X25519 key */
    sx_writer w;
    uint8_t buf[512];
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_false(sx_ntf_cmd_write(&w, 3, &c));
    /* SNEW with a notifier key that is not a PKCS#8 private key */
    c = sample_cmd(SX_NTF_C_SNEW);
    c.snew.notifier_key = tsu_seq(48, 3);
    assert_int_equal(sx_ntf_cmd_decode(enc_cmd(&c, 3), 3, &d, &ce), SX_E_PROTOCOL);
    assert_int_equal(ce, SX_SMP_CMD_SYNTAX);
    /* oversized: a registration code over 255 bytes cannot be written */
    c = sample_cmd(SX_NTF_C_TVFY);
    c.reg_code = tsu_seq(256, 1);
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_false(sx_ntf_cmd_write(&w, 3, &c));

    /* statuses */
    sx_ntf_resp r;
    assert_ok(sx_ntf_resp_decode(TSU_STR("TKN INVALID"), 3, &r, &ce));
    assert_int_equal(r.tkn.status, SX_NTF_TKN_INVALID);
    assert_int_equal(r.tkn.reason, SX_NTF_INVALID_NONE);
    assert_ok(sx_ntf_resp_decode(TSU_STR("TKN INVALID,TOPIC"), 3, &r, &ce));
    assert_int_equal(r.tkn.reason, SX_NTF_INVALID_TOPIC);
    assert_int_equal(sx_ntf_resp_decode(TSU_STR("TKN INVALID,"), 3, &r, &ce), SX_E_PROTOCOL);
    assert_int_equal(sx_ntf_resp_decode(TSU_STR("TKN INVALID,FOO"), 3, &r, &ce), SX_E_PROTOCOL);
    assert_int_equal(sx_ntf_resp_decode(TSU_STR("TKN ACTIVE,BAD"), 3, &r, &ce), SX_E_PROTOCOL);
    assert_int_equal(sx_ntf_resp_decode(TSU_STR("TKN active"), 3, &r, &ce), SX_E_PROTOCOL);
    assert_ok(sx_ntf_resp_decode(TSU_STR("SUB ERR "), 3, &r, &ce));
    assert_int_equal(r.sub.status, SX_NTF_SUB_ERR);
    assert_int_equal(r.sub.err.len, 0);
    assert_int_equal(sx_ntf_resp_decode(TSU_STR("SUB ERR"), 3, &r, &ce), SX_E_PROTOCOL);
    assert_int_equal(sx_ntf_resp_decode(TSU_STR("SUB ACTIVE "), 3, &r, &ce), SX_E_PROTOCOL);
    assert_int_equal(sx_ntf_resp_decode(TSU_STR("OK "), 3, &r, &ce), SX_E_PROTOCOL);
    /* a reason on a status other than INVALID cannot be written */
    sx_ntf_tkn_state bad = {SX_NTF_TKN_ACTIVE, SX_NTF_INVALID_BAD};
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_false(sx_ntf_tkn_state_write(&w, &bad));

    /* token state rules */
    assert_true(sx_ntf_tkn_allows_verify(SX_NTF_TKN_CONFIRMED));
    assert_false(sx_ntf_tkn_allows_verify(SX_NTF_TKN_INVALID));
    assert_true(sx_ntf_tkn_allows_subs(SX_NTF_TKN_EXPIRED));
    assert_false(sx_ntf_tkn_allows_subs(SX_NTF_TKN_REGISTERED));
    assert_int_equal(sx_ntf_provider_from_text(TSU_STR("apns_test")), SX_NTF_PP_APNS_TEST);
    assert_int_equal(sx_ntf_provider_from_text(TSU_STR("apns")), 0);
}

static void test_credentials(void **state)
{
    (void)state;
    sx_smp_cmd_err e;
    assert_ok(sx_ntf_check_credentials(SX_NTF_C_TNEW, true, true, &e));
    assert_int_equal(sx_ntf_check_credentials(SX_NTF_C_TNEW, false, true, &e), SX_E_PROTOCOL);
    assert_int_equal(e, SX_SMP_CMD_NO_AUTH);
    assert_int_equal(sx_ntf_check_credentials(SX_NTF_C_SNEW, true, false, &e), SX_E_PROTOCOL);
    assert_int_equal(e, SX_SMP_CMD_HAS_AUTH);
    assert_ok(sx_ntf_check_credentials(SX_NTF_C_PING, false, true, &e));
    assert_int_equal(sx_ntf_check_credentials(SX_NTF_C_PING, true, true, &e), SX_E_PROTOCOL);
    assert_int_equal(e, SX_SMP_CMD_HAS_AUTH);
    assert_int_equal(sx_ntf_check_credentials(SX_NTF_C_PING, false, false, &e), SX_E_PROTOCOL);
    assert_ok(sx_ntf_check_credentials(SX_NTF_C_TCHK, true, false, &e));
    assert_int_equal(sx_ntf_check_credentials(SX_NTF_C_SDEL, true, true, &e), SX_E_PROTOCOL);
    assert_int_equal(e, SX_SMP_CMD_NO_AUTH);
    assert_int_equal(sx_ntf_check_credentials(SX_NTF_C_TVFY, false, false, &e), SX_E_PROTOCOL);

    assert_ok(sx_ntf_resp_check_entity(SX_NTF_R_IDTKN, true, &e));
    assert_int_equal(sx_ntf_resp_check_entity(SX_NTF_R_IDSUB, false, &e), SX_E_PROTOCOL);
    assert_int_equal(e, SX_SMP_CMD_HAS_AUTH);
    assert_int_equal(sx_ntf_resp_check_entity(SX_NTF_R_OK, true, &e), SX_E_PROTOCOL);
    assert_int_equal(e, SX_SMP_CMD_NO_ENTITY);
    assert_ok(sx_ntf_resp_check_entity(SX_NTF_R_ERR, true, &e));
    assert_ok(sx_ntf_resp_check_entity(SX_NTF_R_ERR, false, &e));
}

static sx_slice transmission(uint16_t v, sx_slice auth, sx_slice sess, sx_slice corr,
                             sx_slice entity, sx_slice cmd)
{
    sx_smp_transmission t = {0};
    t.auth = auth;
    t.session_id = sess;
    t.corr_id = corr;
    t.entity_id = entity;
    t.command = cmd;
    uint8_t *b = g_buf[g_next++ % 8];
    sx_writer w;
    sx_writer_init_fixed(&w, b, sizeof g_buf[0]);
    assert_true(sx_ntf_transmission_write(&w, v, &t));
    return sx_writer_slice(&w);
}

static void test_requests_and_replies(void **state)
{
    (void)state;
    sx_slice sess = tsu_seq(32, 0x11), corr = tsu_seq(24, 0x22), ent = tsu_seq(24, 0x33);
    sx_slice none = sx_slice_of(NULL, 0), sig = tsu_seq(64, 9);
    sx_ntf_request q;

    /* v1 carries the session id; v2 implies it */
    sx_slice t1 = transmission(1, none, sess, corr, none, TSU_STR("PING"));
    assert_true(sx_slice_eq(t1, tsu_cat(tsu_cat(hex("00 20"), sess),
                                        tsu_cat(tsu_cat(hex("18"), corr), hex("00 50494e47")))));
    assert_ok(sx_ntf_request_decode(t1, 1, sess, &q));
    assert_int_equal(q.cmd.tag, SX_NTF_C_PING);
    assert_int_equal(sx_ntf_request_decode(t1, 1, tsu_seq(32, 0x12), &q), SX_E_PROTOCOL);
    assert_int_equal(q.err.type, SX_SMP_ERR_SESSION);
    assert_true(sx_slice_eq(q.reply_corr_id, corr));
    sx_slice t2 = transmission(2, none, none, corr, none, TSU_STR("PING"));
    assert_true(sx_slice_eq(t2, tsu_cat(tsu_cat(hex("00 18"), corr), hex("00 50494e47"))));
    assert_ok(sx_ntf_request_decode(t2, 2, sess, &q));

    /* layout error: empty corrId in the reply */
    assert_int_equal(sx_ntf_request_decode(hex("40 0102"), 3, sess, &q), SX_E_PROTOCOL);
    assert_int_equal(q.err.type, SX_SMP_ERR_BLOCK);
    assert_int_equal(q.reply_corr_id.len, 0);
    /* auth of a bad length */
    sx_slice t = transmission(3, tsu_seq(10, 1), none, corr, ent, TSU_STR("TCHK"));
    assert_int_equal(sx_ntf_request_decode(t, 3, sess, &q), SX_E_PROTOCOL);
    assert_int_equal(q.err.type, SX_SMP_ERR_BLOCK);
    assert_true(sx_slice_eq(q.reply_corr_id, corr));
    /* unknown command and a credentials error carry the entity */
    t = transmission(3, sig, none, corr, ent, TSU_STR("TXXX"));
    assert_int_equal(sx_ntf_request_decode(t, 3, sess, &q), SX_E_PROTOCOL);
    assert_int_equal(q.err.type, SX_SMP_ERR_CMD);
    assert_int_equal(q.err.cmd, SX_SMP_CMD_UNKNOWN);
    assert_true(sx_slice_eq(q.reply_entity_id, ent));
    t = transmission(3, none, none, corr, ent, TSU_STR("TCHK"));
    assert_int_equal(sx_ntf_request_decode(t, 3, sess, &q), SX_E_PROTOCOL);
    assert_int_equal(q.err.cmd, SX_SMP_CMD_NO_AUTH);
    t = transmission(3, sig, none, corr, ent, TSU_STR("TCHK"));
    assert_ok(sx_ntf_request_decode(t, 3, sess, &q));
    assert_int_equal(q.auth_kind, SX_SMP_AUTH_ED25519);
    assert_true(sx_slice_eq(q.t.entity_id, ent));

    /* auth bytes: session id, corrId, entity, command */
    uint8_t ab[256];
    sx_writer w;
    sx_writer_init_fixed(&w, ab, sizeof ab);
    assert_true(sx_ntf_auth_bytes(&w, sess, corr, ent, TSU_STR("TCHK")));
    assert_int_equal(w.len, 1 + 32 + 1 + 24 + 1 + 24 + 4);

    /* replies */
    sx_ntf_reply rep;
    t = transmission(3, none, none, corr, ent, TSU_STR("OK"));
    assert_ok(sx_ntf_reply_decode(t, 3, sess, &rep));
    assert_int_equal(rep.resp.tag, SX_NTF_R_OK);
    t = transmission(3, none, none, corr, none, TSU_STR("OK"));
    assert_int_equal(sx_ntf_reply_decode(t, 3, sess, &rep), SX_E_PROTOCOL);
    assert_int_equal(rep.err.cmd, SX_SMP_CMD_NO_ENTITY);
    t = transmission(1, none, tsu_seq(32, 1), corr, ent, TSU_STR("OK"));
    assert_int_equal(sx_ntf_reply_decode(t, 1, sess, &rep), SX_E_PROTOCOL);
    assert_int_equal(rep.err.type, SX_SMP_ERR_SESSION);
    assert_int_equal(sx_ntf_reply_decode(hex("00"), 3, sess, &rep), SX_E_PROTOCOL);
    assert_int_equal(rep.err.type, SX_SMP_ERR_BLOCK);
}

static void test_blocks_and_batches(void **state)
{
    (void)state;
    uint8_t block[SX_NTF_BLOCK_SIZE];
    sx_slice content = tsu_seq(SX_NTF_MAX_CONTENT, 5), got;
    assert_ok(sx_ntf_block_encode(content, block));
    assert_int_equal(block[0], 0x01);
    assert_int_equal(block[1], 0xfe);
    assert_ok(sx_ntf_block_decode(sx_slice_of(block, sizeof block), &got));
    assert_true(sx_slice_eq(got, content));
    /* oversized content, short and long blocks, a length past the end */
    assert_int_equal(sx_ntf_block_encode(tsu_seq(SX_NTF_MAX_CONTENT + 1, 5), block), SX_E_LIMIT);
    assert_int_equal(sx_ntf_block_decode(sx_slice_of(block, 511), &got), SX_E_PROTOCOL);
    assert_int_equal(sx_ntf_block_decode(tsu_seq(513, 0), &got), SX_E_PROTOCOL);
    block[0] = 0x02;
    assert_int_equal(sx_ntf_block_decode(sx_slice_of(block, sizeof block), &got), SX_E_PROTOCOL);

    /* batches: v1 is the transmission itself */
    sx_slice items[3] = {TSU_STR("abc"), TSU_STR("de"), TSU_STR("")}, out[4];
    size_t n = 0;
    uint8_t buf[64];
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_true(sx_ntf_batch_write(&w, 1, items, 1));
    assert_true(sx_slice_eq(sx_writer_slice(&w), TSU_STR("abc")));
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_false(sx_ntf_batch_write(&w, 1, items, 2));
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_true(sx_ntf_batch_write(&w, 2, items, 3));
    sx_slice b = sx_writer_slice(&w);
    assert_true(sx_slice_eq(b, hex("03 0003616263 00026465 0000")));
    assert_ok(sx_ntf_batch_split(b, 2, out, 4, &n));
    assert_int_equal(n, 3);
    assert_true(sx_slice_eq(out[1], TSU_STR("de")));
    assert_int_equal(sx_ntf_batch_split(b, 2, out, 2, &n), SX_E_LIMIT);
    for (size_t i = 0; i < b.len; i++)
        assert_int_equal(sx_ntf_batch_split(sx_slice_of(b.ptr, i), 2, out, 4, &n), SX_E_PROTOCOL);
    assert_int_equal(sx_ntf_batch_split(tsu_cat(b, hex("00")), 2, out, 4, &n), SX_E_PROTOCOL);
    assert_int_equal(sx_ntf_batch_split(hex("00"), 3, out, 4, &n), SX_E_PROTOCOL);
    assert_ok(sx_ntf_batch_split(b, 1, out, 4, &n));
    assert_int_equal(n, 1);
    assert_true(sx_slice_eq(out[0], b));
}

static void test_hellos(void **state)
{
    (void)state;
    sx_key *signer = NULL, *dh = NULL;
    assert_ok(sx_key_generate(SX_KEY_ED448, &signer));
    assert_ok(sx_key_generate(SX_KEY_X25519, &dh));
    uint8_t skbuf[256];
    sx_writer sw;
    sx_writer_init_fixed(&sw, skbuf, sizeof skbuf);
    assert_true(sx_x509_write_signed_key(&sw, signer, dh));

    sx_ntf_server_hello h = {{1, 3}, tsu_seq(32, 7), true, sx_writer_slice(&sw)}, d;
    uint8_t buf[SX_NTF_BLOCK_SIZE];
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_true(sx_ntf_server_hello_write(&w, &h));
    sx_slice e = sx_writer_slice(&w);
    assert_true(e.len <= SX_NTF_MAX_CONTENT);
    /* 0001 0003 20 <session id> LLLL <signed key DER> */
    assert_bytes_equal(e.ptr, hex("0001 0003 20").ptr, 5);
    assert_int_equal(e.len, 4 + 33 + 2 + h.signed_key.len);
    assert_ok(sx_ntf_server_hello_decode(e, &d));
    assert_true(d.has_signed_key);
    assert_true(sx_slice_eq(d.signed_key, h.signed_key));
    sx_key *got = NULL;
    assert_ok(sx_x509_signed_key_verify(d.signed_key, signer, SX_KEY_BIT(SX_KEY_X25519), &got));
    sx_key_free(got);
    for (size_t n = 0; n < e.len; n++)
        assert_int_equal(sx_ntf_server_hello_decode(sx_slice_of(e.ptr, n), &d), SX_E_PROTOCOL);
    assert_ok(sx_ntf_server_hello_decode(tsu_cat(e, TSU_STR("future")), &d));
    /* a key that is not a signed key */
    sx_ntf_server_hello bad = h;
    bad.signed_key = tsu_seq(40, 1);
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_true(sx_ntf_server_hello_write(&w, &bad));
    assert_int_equal(sx_ntf_server_hello_decode(sx_writer_slice(&w), &d), SX_E_PROTOCOL);
    /* the legacy range 1..1 has no key */
    sx_ntf_server_hello legacy = {{1, 1}, tsu_seq(32, 7), false, {0}};
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_true(sx_ntf_server_hello_write(&w, &legacy));
    assert_int_equal(w.len, 4 + 33);
    assert_ok(sx_ntf_server_hello_decode(sx_writer_slice(&w), &d));
    assert_false(d.has_signed_key);
    legacy.range.max = 2;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_false(sx_ntf_server_hello_write(&w, &legacy));

    /* client hello: Word16 version, shortString(key hash) */
    sx_ntf_client_hello c = {3, tsu_seq(32, 0x70)}, cd;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_true(sx_ntf_client_hello_write(&w, &c));
    e = sx_writer_slice(&w);
    assert_true(sx_slice_eq(e, tsu_cat(hex("0003 20"), tsu_seq(32, 0x70))));
    assert_ok(sx_ntf_client_hello_decode(tsu_cat(e, TSU_STR("x")), &cd));
    assert_int_equal(cd.version, 3);
    assert_true(sx_slice_eq(cd.key_hash, c.key_hash));
    for (size_t n = 0; n < e.len; n++)
        assert_int_equal(sx_ntf_client_hello_decode(sx_slice_of(e.ptr, n), &cd), SX_E_PROTOCOL);

    sx_key_free(signer);
    sx_key_free(dh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_encodings),
        cmocka_unit_test(test_roundtrip_truncation_trailing),
        cmocka_unit_test(test_bad_fields),
        cmocka_unit_test(test_credentials),
        cmocka_unit_test(test_requests_and_replies),
        cmocka_unit_test(test_blocks_and_batches),
        cmocka_unit_test(test_hellos),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
