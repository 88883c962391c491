/* Unit tests of SMP router messages (PROTOCOL-NOTES D.1-D.7, C19, W5-W7): every
 * layout per version, round trips, downgrades for old sessions, the ErrorType
 * tree, truncation, trailing bytes and unknown tags. */
#include "test_smp_util.h"

#include <string.h>

#include "smp/version.h"
#include "transport/block.h"

static void assert_slice(sx_slice a, sx_slice b)
{
    assert_int_equal(a.len, b.len);
    if (a.len)
        assert_bytes_equal(a.ptr, b.ptr, a.len);
}

static void assert_resp_err(sx_slice s, uint16_t v, sx_smp_cmd_err want)
{
    sx_smp_resp m;
    sx_smp_cmd_err err;
    assert_int_equal(sx_smp_resp_decode(s, v, &m, &err), SX_E_PROTOCOL);
    assert_int_equal(err, want);
}

static uint8_t tbuf[20000];

static sx_slice resp_t(uint16_t v, sx_slice sid, sx_slice corr, sx_slice ent, const sx_smp_resp *m)
{
    sx_writer w;
    sx_writer_init_fixed(&w, tbuf, sizeof tbuf);
    sx_smp_resp_transmission_write(&w, v, sid, corr, ent, m);
    assert_ok(sx_writer_status(&w));
    return sx_writer_slice(&w);
}

/* PROTOCOL-NOTES W5: SUB answered while a message waits - SOK (OK before v16)
 * then MSG. */
static void test_w5_sub_with_msg(void **state)
{
    (void)state;
    sx_slice corr = tsu_seq(24, 1), rcv = tsu_seq(24, 2), none = tsu_seq(0, 0);
    sx_smp_resp sok = {.tag = SX_SMP_R_SOK};
    sx_smp_resp msg = tsu_sample_resp(SX_SMP_R_MSG);

    static uint8_t t1[100], t2[17000];
    sx_slice a = resp_t(18, none, corr, rcv, &sok);
    memcpy(t1, a.ptr, a.len);
    assert_int_equal(a.len, 1 + 25 + 25 + 5);
    assert_int_equal(t1[0], 0x00);
    assert_int_equal(t1[1], 0x18);
    assert_bytes_equal(t1 + 51, "SOK 0", 5);
    sx_slice b = resp_t(18, none, none, rcv, &msg);
    memcpy(t2, b.ptr, b.len);
    assert_int_equal(b.len, 1 + 1 + 25 + 4 + 25 + 16122);
    assert_bytes_equal(t2, "\x00\x00\x18", 3);
    assert_bytes_equal(t2 + 27, "MSG \x18", 5);
    assert_bytes_equal(t2 + 32, msg.msg.msg_id.ptr, 24);
    assert_bytes_equal(t2 + 56, msg.msg.body.ptr, 16122);

    /* both fit one encrypted block as a batch of two */
    sx_batch batch;
    assert_ok(sx_batch_init(&batch, SX_BATCH_CAP_ENCRYPTED));
    assert_ok(sx_batch_add(&batch, sx_slice_of(t1, a.len)));
    assert_ok(sx_batch_add(&batch, sx_slice_of(t2, b.len)));
    sx_slice content;
    assert_ok(sx_batch_content(&batch, &content));
    assert_int_equal(content.ptr[0], 2);
    assert_int_equal(content.ptr[1], 0);
    assert_int_equal(content.ptr[2], a.len);

    /* before v16: OK */
    a = resp_t(15, none, corr, rcv, &sok);
    assert_slice(sx_slice_of(a.ptr + 51, a.len - 51), sx_slice_str("OK"));
    /* with a service id */
    sok.sok.has_service_id = true;
    sok.sok.service_id = tsu_seq(24, 9);
    assert_slice(tsu_enc_resp(&sok, 16), tsu_cat(sx_slice_str("SOK 1\x18"), tsu_seq(24, 9)));
}

/* PROTOCOL-NOTES W7: NMSG event layout. */
static void test_w7_nmsg(void **state)
{
    (void)state;
    sx_slice nid = tsu_seq(24, 5), none = tsu_seq(0, 0);
    sx_smp_resp m = tsu_sample_resp(SX_SMP_R_NMSG);
    sx_slice t = resp_t(19, none, none, nid, &m);
    assert_int_equal(t.len, 2 + 25 + 5 + 24 + 1 + 144);
    assert_bytes_equal(t.ptr, "\x00\x00\x18", 3);
    assert_bytes_equal(t.ptr + 3, nid.ptr, 24);
    assert_bytes_equal(t.ptr + 27, "NMSG ", 5);
    assert_bytes_equal(t.ptr + 32, m.nmsg.nonce.ptr, 24);
    assert_int_equal(t.ptr[56], 0x90);
    assert_bytes_equal(t.ptr + 57, m.nmsg.enc_meta.ptr, 144);

    sx_smp_reply r;
    assert_ok(sx_smp_reply_decode(t, 19, none, &r));
    assert_int_equal(r.resp.tag, SX_SMP_R_NMSG);
    assert_slice(r.resp.nmsg.nonce, m.nmsg.nonce);
    assert_slice(r.resp.nmsg.enc_meta, m.nmsg.enc_meta);
    assert_slice(r.t.entity_id, nid);
}

/* PROTOCOL-NOTES D5: the five IDS layouts, built field by field. */
static void test_ids_layouts(void **state)
{
    (void)state;
    sx_smp_resp m = tsu_sample_resp(SX_SMP_R_IDS);
    const sx_smp_ids *ids = &m.ids;
    for (uint16_t v = 6; v <= 19; v++) {
        uint8_t want[400];
        sx_writer w;
        sx_writer_init_fixed(&w, want, sizeof want);
        sx_write_str(&w, "IDS ");
        sx_write_short(&w, ids->rcv_id);
        sx_write_short(&w, ids->snd_id);
        sx_write_short(&w, ids->srv_dh_key.der);
        if (v >= 9 && v <= 14)
            sx_write_str(&w, "T");
        if (v >= 15) {
            sx_write_str(&w, "1M1");
            sx_write_short(&w, ids->link_id);
        }
        if (v >= 16) {
            sx_write_str(&w, "1");
            sx_write_short(&w, ids->service_id);
        }
        if (v >= 17) {
            sx_write_str(&w, "1");
            sx_write_short(&w, ids->ntf_id);
            sx_write_short(&w, ids->srv_ntf_dh_key.der);
        }
        assert_ok(sx_writer_status(&w));
        assert_slice(tsu_enc_resp(&m, v), sx_writer_slice(&w));

        sx_smp_resp d;
        sx_smp_cmd_err err;
        assert_ok(sx_smp_resp_decode(sx_writer_slice(&w), v, &d, &err));
        assert_slice(d.ids.rcv_id, ids->rcv_id);
        assert_slice(d.ids.snd_id, ids->snd_id);
        assert_int_equal(d.ids.srv_dh_key.alg, SX_KEY_X25519);
        assert_int_equal(d.ids.has_queue_mode, v >= 9);
        if (v >= 9)
            assert_int_equal(d.ids.queue_mode, SX_SMP_QUEUE_MESSAGING);
        assert_int_equal(d.ids.has_link_id, v >= 15);
        assert_int_equal(d.ids.has_service_id, v >= 16);
        assert_int_equal(d.ids.has_ntf, v >= 17);
        if (v >= 17) {
            assert_slice(d.ids.ntf_id, ids->ntf_id);
            assert_slice(d.ids.srv_ntf_dh_key.der, ids->srv_ntf_dh_key.der);
        }
    }
    /* PROTOCOL-NOTES W6's IDS: "IDS " 18 rcv 18 snd 2c <X25519> 31 4d 30 30 30
     * at v18 */
    sx_smp_resp w6 = m;
    w6.ids.has_link_id = w6.ids.has_service_id = w6.ids.has_ntf = false;
    sx_slice e = tsu_enc_resp(&w6, 18);
    assert_int_equal(e.len, 4 + 25 + 25 + 45 + 5);
    assert_bytes_equal(e.ptr + e.len - 5, "\x31\x4d\x30\x30\x30", 5);
    /* a contact queue before v15 is F; no mode at v15+ is '0' */
    w6.ids.queue_mode = SX_SMP_QUEUE_CONTACT;
    e = tsu_enc_resp(&w6, 12);
    assert_int_equal(e.ptr[e.len - 1], 'F');
    w6.ids.has_queue_mode = false;
    e = tsu_enc_resp(&w6, 15);
    assert_bytes_equal(e.ptr + e.len - 2, "00", 2);
    e = tsu_enc_resp(&w6, 12);
    assert_int_equal(e.ptr[e.len - 1], 'F');
    /* the server DH key must be X25519 */
    m.ids.srv_dh_key = tsu_key(SX_KEY_ED25519, 1);
    assert_int_equal(tsu_enc_resp_status(&m, 19), SX_E_USAGE);
}

/* v19 gives SOKS/ENDS an ids hash; DELD is END before v10. */
static void test_version_changes(void **state)
{
    (void)state;
    sx_smp_resp m = tsu_sample_resp(SX_SMP_R_SOKS);
    uint8_t want[64];
    sx_writer w;
    sx_writer_init_fixed(&w, want, sizeof want);
    sx_write_str(&w, "SOKS ");
    sx_write_i64(&w, 7);
    assert_slice(tsu_enc_resp(&m, 18), sx_writer_slice(&w));
    sx_smp_resp d;
    sx_smp_cmd_err err;
    assert_ok(sx_smp_resp_decode(sx_writer_slice(&w), 18, &d, &err));
    assert_int_equal(d.subs.count, 7);
    assert_int_equal(d.subs.ids_hash.len, 16);
    for (size_t i = 0; i < 16; i++)
        assert_int_equal(d.subs.ids_hash.ptr[i], 0);
    /* at v19 the hash is required */
    assert_resp_err(sx_writer_slice(&w), 19, SX_SMP_CMD_SYNTAX);
    sx_write_short(&w, m.subs.ids_hash);
    assert_slice(tsu_enc_resp(&m, 19), sx_writer_slice(&w));
    assert_ok(sx_smp_resp_decode(sx_writer_slice(&w), 19, &d, &err));
    assert_slice(d.subs.ids_hash, m.subs.ids_hash);
    assert_resp_err(sx_writer_slice(&w), 18, SX_SMP_CMD_SYNTAX);
    m.tag = SX_SMP_R_ENDS;
    sx_slice e = tsu_enc_resp(&m, 19);
    assert_bytes_equal(e.ptr, "ENDS ", 5);
    assert_int_equal(e.len, 5 + 8 + 17);

    sx_smp_resp deld = {.tag = SX_SMP_R_DELD};
    for (uint16_t v = 6; v <= 19; v++)
        assert_slice(tsu_enc_resp(&deld, v), sx_slice_str(v >= 10 ? "DELD" : "END"));
    sx_smp_resp alls = {.tag = SX_SMP_R_ALLS};
    assert_slice(tsu_enc_resp(&alls, 19), sx_slice_str("ALLS"));
}

static void test_roundtrip_all(void **state)
{
    (void)state;
    for (int t = TSU_RESP_FIRST; t <= TSU_RESP_LAST; t++) {
        sx_smp_resp m = tsu_sample_resp(t);
        for (uint16_t v = SX_SMP_VERSION_MIN; v <= SX_SMP_VERSION_CURRENT; v++) {
            sx_slice e1 = tsu_enc_resp(&m, v);
            sx_smp_resp d;
            sx_smp_cmd_err err = 0;
            if (sx_smp_resp_decode(e1, v, &d, &err) != SX_OK)
                fail_msg("%s v%u does not decode (err %d)", sx_smp_resp_name(t), v, err);
            bool downgraded = (t == SX_SMP_R_SOK && v < 16) || (t == SX_SMP_R_DELD && v < 10);
            if (!downgraded)
                assert_int_equal(d.tag, t);
            assert_slice(tsu_enc_resp(&d, v), e1);
        }
    }
    /* spot checks of decoded fields */
    sx_smp_resp d;
    sx_smp_cmd_err err;
    sx_smp_resp m = tsu_sample_resp(SX_SMP_R_PKEY);
    assert_ok(sx_smp_resp_decode(tsu_enc_resp(&m, 19), 19, &d, &err));
    assert_slice(d.pkey.session_id, m.pkey.session_id);
    assert_int_equal(d.pkey.vrange.min, 8);
    assert_int_equal(d.pkey.vrange.max, 18);
    assert_int_equal(d.pkey.chain.count, 2);
    sx_slice cert;
    assert_ok(sx_smp_list_get(&d.pkey.chain, SX_SMP_ITEM_LARGE, 1, &cert));
    assert_slice(cert, tsu_seq(200, 48));
    assert_slice(d.pkey.signed_key, m.pkey.signed_key);
    m = tsu_sample_resp(SX_SMP_R_LNK);
    assert_ok(sx_smp_resp_decode(tsu_enc_resp(&m, 19), 19, &d, &err));
    assert_slice(d.lnk.sender_id, m.lnk.sender_id);
    assert_slice(d.lnk.data.user, m.lnk.data.user);
    m = tsu_sample_resp(SX_SMP_R_NID);
    assert_ok(sx_smp_resp_decode(tsu_enc_resp(&m, 6), 6, &d, &err));
    assert_slice(d.nid.notifier_id, m.nid.notifier_id);
    assert_slice(d.nid.srv_dh_key.der, m.nid.srv_dh_key.der);
    m = tsu_sample_resp(SX_SMP_R_INFO);
    assert_ok(sx_smp_resp_decode(tsu_enc_resp(&m, 19), 19, &d, &err));
    assert_slice(d.info, m.info);
    m = tsu_sample_resp(SX_SMP_R_PRES);
    assert_ok(sx_smp_resp_decode(tsu_enc_resp(&m, 19), 19, &d, &err));
    assert_slice(d.enc, m.enc);
}

static size_t tail_len(const sx_smp_resp *m)
{
    switch (m->tag) {
    case SX_SMP_R_MSG:
        return m->msg.body.len;
    case SX_SMP_R_RRES:
    case SX_SMP_R_PRES:
        return m->enc.len;
    case SX_SMP_R_INFO:
        return m->info.len;
    default:
        return 0;
    }
}

static void test_truncation_trailing(void **state)
{
    (void)state;
    const uint16_t versions[] = {6, 9, 15, 16, 17, 18, 19};
    for (int t = TSU_RESP_FIRST; t <= TSU_RESP_LAST; t++) {
        sx_smp_resp m = tsu_sample_resp(t);
        for (size_t vi = 0; vi < sizeof versions / sizeof versions[0]; vi++) {
            uint16_t v = versions[vi];
            sx_slice e = tsu_enc_resp(&m, v);
            bool bare = memchr(e.ptr, ' ', e.len) == NULL;
            for (size_t n = 0; n + tail_len(&m) < e.len; n++) {
                sx_smp_resp d;
                sx_smp_cmd_err err;
                sx_status st = sx_smp_resp_decode(sx_slice_of(e.ptr, n), v, &d, &err);
                if (st == SX_OK) {
                    /* a shorter tag: END in ENDS */
                    assert_true(memchr(e.ptr, ' ', n) == NULL);
                    assert_true((int)d.tag != t);
                    continue;
                }
                assert_true(err == SX_SMP_CMD_SYNTAX || err == SX_SMP_CMD_UNKNOWN);
            }
            if (tail_len(&m))
                continue;
            assert_resp_err(tsu_cat(e, sx_slice_str(" ")), v, SX_SMP_CMD_SYNTAX);
            assert_resp_err(tsu_cat(e, sx_slice_str("x")), v,
                            bare ? SX_SMP_CMD_UNKNOWN : SX_SMP_CMD_SYNTAX);
        }
    }
    /* oversized lengths */
    assert_resp_err(sx_slice_of("MSG \x19" "abc", 8), 19, SX_SMP_CMD_SYNTAX);
    assert_resp_err(sx_slice_of("NID \x01" "a\x2c" "abc", 10), 19, SX_SMP_CMD_SYNTAX);
    assert_resp_err(sx_slice_of("LNK \x00\x00\x09" "ab", 9), 19, SX_SMP_CMD_SYNTAX);
    /* NMSG nonce shorter than 24 */
    assert_resp_err(sx_slice_of("NMSG abc\x00", 9), 19, SX_SMP_CMD_SYNTAX);
}

static void test_unknown_and_bad(void **state)
{
    (void)state;
    const char *unknown[] = {"", "ok", "SEND T x", "NEW", "ERRAUTH", "IDSX", "PONG\n"};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
        assert_resp_err(sx_slice_str(unknown[i]), 19, SX_SMP_CMD_UNKNOWN);
    const char *syntax[] = {"OK ", "PONG x", "ERR", "ERR ", "ERR FOO", "SOK", "SOK 2",
                            "SOKS", "INFO", "RRES", "MSG"};
    for (size_t i = 0; i < sizeof syntax / sizeof syntax[0]; i++)
        assert_resp_err(sx_slice_str(syntax[i]), 19, SX_SMP_CMD_SYNTAX);
    /* PKEY: more than 4 certificates, version range min > max */
    sx_smp_resp m = tsu_sample_resp(SX_SMP_R_PKEY);
    sx_slice e = tsu_enc_resp(&m, 19);
    uint8_t copy[2000];
    memcpy(copy, e.ptr, e.len);
    size_t vr = 5 + 33;
    copy[vr + 1] = 19; /* min 19 > max 18 */
    assert_resp_err(sx_slice_of(copy, e.len), 19, SX_SMP_CMD_SYNTAX);
    copy[vr + 1] = 8;
    assert_int_equal(copy[vr + 4], 2);
    copy[vr + 4] = 0;
    assert_resp_err(sx_slice_of(copy, e.len), 19, SX_SMP_CMD_SYNTAX);
    uint8_t many[64];
    sx_writer w;
    sx_writer_init_fixed(&w, many, sizeof many);
    sx_write_str(&w, "PKEY ");
    sx_write_short(&w, tsu_seq(0, 0));
    sx_write_u16(&w, 8);
    sx_write_u16(&w, 18);
    sx_write_u8(&w, 5);
    for (int i = 0; i < 5; i++)
        sx_write_large(&w, tsu_seq(1, 0));
    sx_write_large(&w, tsu_seq(1, 0));
    assert_ok(sx_writer_status(&w));
    assert_resp_err(sx_writer_slice(&w), 19, SX_SMP_CMD_SYNTAX);
    many[5 + 1 + 4] = 4;
    assert_resp_err(sx_writer_slice(&w), 19, SX_SMP_CMD_SYNTAX); /* now a trailing item */
    m.pkey.chain.count = 5;
    assert_int_equal(tsu_enc_resp_status(&m, 19), SX_E_USAGE);
    /* NMSG nonce must be 24 bytes on encode */
    m = tsu_sample_resp(SX_SMP_R_NMSG);
    m.nmsg.nonce = tsu_seq(23, 0);
    assert_int_equal(tsu_enc_resp_status(&m, 19), SX_E_USAGE);
    m.tag = 0;
    assert_int_equal(tsu_enc_resp_status(&m, 19), SX_E_USAGE);
}

/* ---- ErrorType ---- */

static sx_slice enc_err(const sx_smp_error *e, uint16_t v)
{
    sx_smp_resp m = {.tag = SX_SMP_R_ERR, .err = *e};
    sx_slice s = tsu_enc_resp(&m, v);
    assert_true(s.len >= 4);
    assert_bytes_equal(s.ptr, "ERR ", 4);
    return sx_slice_of(s.ptr + 4, s.len - 4);
}

static void check_err(const sx_smp_error *e, uint16_t v, const char *want)
{
    sx_slice s = enc_err(e, v);
    if (s.len != strlen(want) || memcmp(s.ptr, want, s.len) != 0)
        fail_msg("v%u: got '%.*s', want '%s'", v, (int)s.len, (const char *)s.ptr, want);
    /* and it decodes back to the same encoding */
    sx_smp_error d;
    assert_ok(sx_smp_error_decode(s, &d));
    sx_slice again = enc_err(&d, v);
    assert_slice(again, s);
}

static void test_error_encodings(void **state)
{
    (void)state;
    const struct {
        sx_smp_err_type t;
        const char *text;
    } simple[] = {
        {SX_SMP_ERR_BLOCK, "BLOCK"},       {SX_SMP_ERR_SESSION, "SESSION"},
        {SX_SMP_ERR_AUTH, "AUTH"},         {SX_SMP_ERR_SERVICE, "SERVICE"},
        {SX_SMP_ERR_CRYPTO, "CRYPTO"},     {SX_SMP_ERR_QUOTA, "QUOTA"},
        {SX_SMP_ERR_NO_MSG, "NO_MSG"},     {SX_SMP_ERR_LARGE_MSG, "LARGE_MSG"},
        {SX_SMP_ERR_EXPIRED, "EXPIRED"},   {SX_SMP_ERR_INTERNAL, "INTERNAL"},
        {SX_SMP_ERR_DUPLICATE, "DUPLICATE_"},
    };
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++) {
        sx_smp_error e = sx_smp_error_of(simple[i].t);
        check_err(&e, 19, simple[i].text);
        check_err(&e, 6, simple[i].text);
        assert_string_equal(sx_smp_err_name(simple[i].t), simple[i].text);
    }
    const struct {
        sx_smp_cmd_err c;
        const char *text;
    } cmds[] = {
        {SX_SMP_CMD_UNKNOWN, "CMD UNKNOWN"},   {SX_SMP_CMD_SYNTAX, "CMD SYNTAX"},
        {SX_SMP_CMD_PROHIBITED, "CMD PROHIBITED"}, {SX_SMP_CMD_NO_AUTH, "CMD NO_AUTH"},
        {SX_SMP_CMD_HAS_AUTH, "CMD HAS_AUTH"}, {SX_SMP_CMD_NO_ENTITY, "CMD NO_ENTITY"},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        sx_smp_error e = sx_smp_error_cmd(cmds[i].c);
        check_err(&e, 19, cmds[i].text);
    }

    sx_smp_error e = sx_smp_error_of(SX_SMP_ERR_STORE);
    e.store = sx_slice_str("disk full: no space");
    check_err(&e, 19, "STORE disk full: no space");
    e.store = sx_slice_str("");
    check_err(&e, 19, "STORE ");

    /* PROXY and its nested forms */
    e = sx_smp_error_of(SX_SMP_ERR_PROXY);
    e.proxy.kind = SX_SMP_PROXY_PROTOCOL;
    e.proxy.inner = sx_slice_str("AUTH");
    check_err(&e, 19, "PROXY PROTOCOL AUTH");
    e.proxy.inner = sx_slice_str("PROXY PROTOCOL CMD SYNTAX");
    check_err(&e, 19, "PROXY PROTOCOL PROXY PROTOCOL CMD SYNTAX");
    /* the nested error is sent as given, not downgraded */
    e.proxy.inner = sx_slice_str("BLOCKED reason=spam,notice={}");
    check_err(&e, 8, "PROXY PROTOCOL BLOCKED reason=spam,notice={}");
    e.proxy.inner = sx_slice_str("NOPE");
    assert_int_equal(tsu_enc_resp_status(&(sx_smp_resp){.tag = SX_SMP_R_ERR, .err = e}, 19),
                     SX_E_USAGE);
    e.proxy.kind = SX_SMP_PROXY_BASIC_AUTH;
    check_err(&e, 19, "PROXY BASIC_AUTH");
    e.proxy.kind = SX_SMP_PROXY_NO_SESSION;
    check_err(&e, 19, "PROXY NO_SESSION");
    e.proxy.kind = SX_SMP_PROXY_BROKER;
    e.proxy.broker = SX_SMP_BROKER_RESPONSE;
    e.proxy.text = sx_slice_str("bad");
    check_err(&e, 19, "PROXY BROKER RESPONSE \x03" "bad");
    e.proxy.broker = SX_SMP_BROKER_UNEXPECTED;
    check_err(&e, 19, "PROXY BROKER UNEXPECTED \x03" "bad");
    e.proxy.broker = SX_SMP_BROKER_TRANSPORT;
    e.proxy.transport = SX_SMP_TE_VERSION;
    check_err(&e, 19, "PROXY BROKER TRANSPORT VERSION");
    e.proxy.transport = SX_SMP_TE_NO_AUTH;
    check_err(&e, 19, "PROXY BROKER TRANSPORT NO_AUTH");
    e.proxy.transport = SX_SMP_TE_HANDSHAKE;
    e.proxy.handshake = SX_SMP_HS_IDENTITY;
    check_err(&e, 19, "PROXY BROKER TRANSPORT HANDSHAKE IDENTITY");
    e.proxy.handshake = SX_SMP_HS_BAD_SERVICE;
    check_err(&e, 19, "PROXY BROKER TRANSPORT HANDSHAKE BAD_SERVICE");
    e.proxy.broker = SX_SMP_BROKER_NETWORK;
    e.proxy.network = SX_SMP_NET_TLS;
    check_err(&e, 19, "PROXY BROKER NETWORK"); /* the detail is not sent */
    e.proxy.broker = SX_SMP_BROKER_TIMEOUT;
    check_err(&e, 19, "PROXY BROKER TIMEOUT");
    e.proxy.broker = SX_SMP_BROKER_HOST;
    check_err(&e, 19, "PROXY BROKER HOST");
    e.proxy.broker = SX_SMP_BROKER_NO_SERVICE;
    check_err(&e, 19, "PROXY BROKER NO_SERVICE");

    /* BLOCKED and its downgrades (PROTOCOL-NOTES D41) */
    e = sx_smp_error_of(SX_SMP_ERR_BLOCKED);
    e.blocked.reason = SX_SMP_BLOCK_SPAM;
    e.blocked.has_notice = true;
    e.blocked.has_ttl = true;
    e.blocked.ttl = 3600;
    check_err(&e, 19, "BLOCKED reason=spam,notice={\"ttl\":3600}");
    check_err(&e, 18, "BLOCKED reason=spam,notice={\"ttl\":3600}");
    check_err(&e, 17, "BLOCKED reason=spam");
    check_err(&e, 12, "BLOCKED reason=spam");
    check_err(&e, 11, "AUTH");
    check_err(&e, 6, "AUTH");
    e.blocked.reason = SX_SMP_BLOCK_CONTENT;
    e.blocked.has_ttl = false;
    check_err(&e, 19, "BLOCKED reason=content,notice={}");
    e.blocked.has_notice = false;
    check_err(&e, 19, "BLOCKED reason=content");
    e.blocked.has_notice = true;
    e.blocked.has_ttl = true;
    e.blocked.ttl = -5;
    check_err(&e, 19, "BLOCKED reason=content,notice={\"ttl\":-5}");
    e.blocked.reason = 0;
    assert_int_equal(tsu_enc_resp_status(&(sx_smp_resp){.tag = SX_SMP_R_ERR, .err = e}, 19),
                     SX_E_USAGE);
    e = sx_smp_error_cmd(0);
    assert_int_equal(tsu_enc_resp_status(&(sx_smp_resp){.tag = SX_SMP_R_ERR, .err = e}, 19),
                     SX_E_USAGE);
}

static void test_error_decoding(void **state)
{
    (void)state;
    sx_smp_error d;
    assert_ok(sx_smp_error_decode(sx_slice_str("CMD NO_QUEUE"), &d));
    assert_int_equal(d.type, SX_SMP_ERR_CMD);
    assert_int_equal(d.cmd, SX_SMP_CMD_NO_ENTITY);

    assert_ok(sx_smp_error_decode(sx_slice_str("PROXY BROKER NETWORK TLS \x03" "abc"), &d));
    assert_int_equal(d.proxy.broker, SX_SMP_BROKER_NETWORK);
    assert_int_equal(d.proxy.network, SX_SMP_NET_TLS);
    assert_slice(d.proxy.text, sx_slice_str("abc"));
    assert_ok(sx_smp_error_decode(sx_slice_str("PROXY BROKER NETWORK UNKNOWNCA"), &d));
    assert_int_equal(d.proxy.network, SX_SMP_NET_UNKNOWN_CA);
    assert_ok(sx_smp_error_decode(sx_slice_str("PROXY BROKER NETWORK"), &d));
    assert_int_equal(d.proxy.network, SX_SMP_NET_FAILED);

    assert_ok(sx_smp_error_decode(sx_slice_str("BLOCKED reason=spam,notice={ \"ttl\" : null }"), &d));
    assert_true(d.blocked.has_notice);
    assert_false(d.blocked.has_ttl);
    assert_ok(sx_smp_error_decode(sx_slice_str("BLOCKED reason=spam,notice=\n{\"ttl\":0}\t"), &d));
    assert_true(d.blocked.has_ttl);
    assert_int_equal(d.blocked.ttl, 0);
    assert_ok(sx_smp_error_decode(
        sx_slice_str("BLOCKED reason=spam,notice={\"ttl\":-9223372036854775808}"), &d));
    assert_true(d.blocked.ttl == INT64_MIN);
    assert_ok(sx_smp_error_decode(
        sx_slice_str("BLOCKED reason=spam,notice={\"ttl\":9223372036854775807}"), &d));
    assert_true(d.blocked.ttl == INT64_MAX);

    /* nesting is checked to the bottom, iteratively */
    static char deep[20000];
    size_t n = 0;
    for (int i = 0; i < 1000; i++) {
        memcpy(deep + n, "PROXY PROTOCOL ", 15);
        n += 15;
    }
    memcpy(deep + n, "QUOTA", 5);
    assert_ok(sx_smp_error_decode(sx_slice_of(deep, n + 5), &d));
    assert_int_equal(d.proxy.kind, SX_SMP_PROXY_PROTOCOL);
    assert_int_equal(d.proxy.inner.len, n + 5 - 15);
    memcpy(deep + n, "QUOTX", 5);
    assert_int_equal(sx_smp_error_decode(sx_slice_of(deep, n + 5), &d), SX_E_PROTOCOL);

    const char *bad[] = {
        "", "CMD", "CMD ", "CMD FOO", "CMD SYNTAX ", "AUTH ", "AUTH x", "auth", "PROXY",
        "PROXY ", "PROXY PROTOCOL", "PROXY PROTOCOL ", "PROXY PROTOCOL FOO",
        "PROXY PROTOCOL PROXY PROTOCOL FOO", "PROXY BROKER", "PROXY BROKER RESPONSE",
        "PROXY BROKER RESPONSE \x05" "ab", "PROXY BROKER RESPONSE \x01" "ab",
        "PROXY BROKER NETWORK x", "PROXY BROKER NETWORK ", "PROXY BROKER NETWORK TLS",
        "PROXY BROKER TRANSPORT", "PROXY BROKER TRANSPORT HANDSHAKE",
        "PROXY BROKER TRANSPORT HANDSHAKE FOO", "PROXY BROKER TRANSPORT BLOCK x",
        "PROXY BASIC_AUTH x", "BLOCKED", "BLOCKED ", "BLOCKED reason=eggs", "BLOCKED reason=spa",
        "BLOCKED reason=spam,", "BLOCKED reason=spam,notice=", "BLOCKED reason=spam,notice={",
        "BLOCKED reason=spam,notice={\"x\":1}", "BLOCKED reason=spam,notice={\"ttl\":1.5}",
        "BLOCKED reason=spam,notice={\"ttl\":01}", "BLOCKED reason=spam,notice={\"ttl\":-}",
        "BLOCKED reason=spam,notice={\"ttl\":9223372036854775808}",
        "BLOCKED reason=spam,notice={}x", "BLOCKED reason=spam x", "STORE", "DUPLICATE",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (sx_smp_error_decode(sx_slice_str(bad[i]), &d) != SX_E_PROTOCOL)
            fail_msg("accepted '%s'", bad[i]);
    }
    /* through ERR */
    sx_smp_resp m;
    sx_smp_cmd_err err;
    assert_ok(sx_smp_resp_decode(sx_slice_str("ERR BLOCKED reason=content"), 19, &m, &err));
    assert_int_equal(m.err.type, SX_SMP_ERR_BLOCKED);
    assert_int_equal(m.err.blocked.reason, SX_SMP_BLOCK_CONTENT);
    assert_resp_err(sx_slice_str("ERR AUTH "), 19, SX_SMP_CMD_SYNTAX);
}

/* PROTOCOL-NOTES C19 and the client's decoding of a router transmission. */
static void test_reply(void **state)
{
    (void)state;
    for (int t = TSU_RESP_FIRST; t <= TSU_RESP_LAST; t++) {
        sx_smp_cmd_err err;
        bool any = t == SX_SMP_R_IDS || t == SX_SMP_R_ERR;
        bool none = t == SX_SMP_R_PONG || t == SX_SMP_R_PKEY || t == SX_SMP_R_RRES ||
                    t == SX_SMP_R_ALLS;
        assert_int_equal(sx_smp_resp_check_entity(t, true, &err),
                         any || none ? SX_OK : SX_E_PROTOCOL);
        if (!any && !none)
            assert_int_equal(err, SX_SMP_CMD_NO_ENTITY);
        assert_int_equal(sx_smp_resp_check_entity(t, false, &err), none ? SX_E_PROTOCOL : SX_OK);
        if (none)
            assert_int_equal(err, SX_SMP_CMD_HAS_AUTH);
    }
    sx_slice sid = tsu_seq(32, 1), corr = tsu_seq(24, 2), none = tsu_seq(0, 0);
    sx_smp_resp pong = {.tag = SX_SMP_R_PONG};
    sx_smp_reply r;
    sx_slice t6 = resp_t(6, sid, corr, none, &pong);
    assert_int_equal(t6.len, 1 + 33 + 25 + 1 + 4);
    assert_ok(sx_smp_reply_decode(t6, 6, sid, &r));
    assert_int_equal(r.resp.tag, SX_SMP_R_PONG);
    assert_slice(r.t.corr_id, corr);
    assert_int_equal(sx_smp_reply_decode(t6, 6, tsu_seq(32, 2), &r), SX_E_PROTOCOL);
    assert_int_equal(r.err.type, SX_SMP_ERR_SESSION);
    sx_slice t7 = resp_t(7, sid, corr, tsu_seq(24, 3), &pong);
    assert_int_equal(sx_smp_reply_decode(t7, 7, sid, &r), SX_E_PROTOCOL);
    assert_int_equal(r.err.type, SX_SMP_ERR_CMD);
    assert_int_equal(r.err.cmd, SX_SMP_CMD_HAS_AUTH);
    assert_int_equal(sx_smp_reply_decode(sx_slice_of("\x01", 1), 19, sid, &r), SX_E_PROTOCOL);
    assert_int_equal(r.err.type, SX_SMP_ERR_BLOCK);
    sx_slice bad = resp_t(19, sid, corr, tsu_seq(24, 3), &pong);
    memcpy(tbuf + bad.len - 4, "PONX", 4);
    assert_int_equal(sx_smp_reply_decode(sx_slice_of(tbuf, bad.len), 19, sid, &r), SX_E_PROTOCOL);
    assert_int_equal(r.err.cmd, SX_SMP_CMD_UNKNOWN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_w5_sub_with_msg),
        cmocka_unit_test(test_w7_nmsg),
        cmocka_unit_test(test_ids_layouts),
        cmocka_unit_test(test_version_changes),
        cmocka_unit_test(test_roundtrip_all),
        cmocka_unit_test(test_truncation_trailing),
        cmocka_unit_test(test_unknown_and_bad),
        cmocka_unit_test(test_error_encodings),
        cmocka_unit_test(test_error_decoding),
        cmocka_unit_test(test_reply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
