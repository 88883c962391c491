/* Unit tests of SMP transmissions (PROTOCOL-NOTES C.1-C.3, C8, C9, W3, W4, P2,
 * P3): layouts per version, the authorized bytes with the reference's known
 * authenticator, the service-signature slot, truncation, and the router's
 * decoding order. */
#include "test_smp_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/box.h"
#include "smp/version.h"

static void assert_slice(sx_slice a, sx_slice b)
{
    assert_int_equal(a.len, b.len);
    if (a.len)
        assert_bytes_equal(a.ptr, b.ptr, a.len);
}

static uint8_t out_buf[20000];

static sx_slice write_t(uint16_t v, const sx_smp_transmission *t)
{
    sx_writer w;
    sx_writer_init_fixed(&w, out_buf, sizeof out_buf);
    sx_smp_transmission_write(&w, v, t);
    assert_ok(sx_writer_status(&w));
    return sx_writer_slice(&w);
}

static void test_auth_kind(void **state)
{
    (void)state;
    sx_smp_auth_kind k;
    assert_ok(sx_smp_auth_kind_of(tsu_seq(0, 0), &k));
    assert_int_equal(k, SX_SMP_AUTH_NONE);
    assert_ok(sx_smp_auth_kind_of(tsu_seq(80, 0), &k));
    assert_int_equal(k, SX_SMP_AUTH_AUTHENTICATOR);
    assert_ok(sx_smp_auth_kind_of(tsu_seq(64, 0), &k));
    assert_int_equal(k, SX_SMP_AUTH_ED25519);
    assert_ok(sx_smp_auth_kind_of(tsu_seq(114, 0), &k));
    assert_int_equal(k, SX_SMP_AUTH_ED448);
    const size_t bad[] = {1, 32, 63, 65, 79, 81, 113, 115, 255};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(sx_smp_auth_kind_of(tsu_seq(bad[i], 0), &k), SX_E_PROTOCOL);
}

/* PROTOCOL-NOTES W3: v18 SEND signed with Ed25519, and its signed bytes. */
static void test_w3_signed_send(void **state)
{
    (void)state;
    sx_slice sig = tsu_seq(64, 0x10), corr = tsu_seq(24, 0x30), snd = tsu_seq(24, 0x50);
    sx_slice sid = tsu_seq(32, 0x01);
    sx_slice cmd = sx_slice_str("SEND T hello");
    sx_smp_transmission t = {.auth = sig, .corr_id = corr, .entity_id = snd, .command = cmd};
    sx_slice e = write_t(18, &t);

    /* 40 <sig> 30 18 <corrId> 18 <senderId> "SEND T hello", byte by byte */
    assert_int_equal(e.len, 1 + 64 + 1 + 1 + 24 + 1 + 24 + cmd.len);
    assert_int_equal(e.ptr[0], 0x40);
    assert_bytes_equal(e.ptr + 1, sig.ptr, 64);
    assert_int_equal(e.ptr[65], 0x30);
    assert_int_equal(e.ptr[66], 0x18);
    assert_bytes_equal(e.ptr + 67, corr.ptr, 24);
    assert_int_equal(e.ptr[91], 0x18);
    assert_bytes_equal(e.ptr + 92, snd.ptr, 24);
    assert_bytes_equal(e.ptr + 116, cmd.ptr, cmd.len);

    sx_smp_transmission p;
    assert_ok(sx_smp_transmission_parse(e, 18, &p));
    assert_slice(p.auth, sig);
    assert_false(p.has_service_sig);
    assert_int_equal(p.session_id.len, 0);
    assert_slice(p.corr_id, corr);
    assert_slice(p.entity_id, snd);
    assert_slice(p.command, cmd);
    assert_ptr_equal(p.command.ptr, e.ptr + e.len - cmd.len);
    assert_int_equal(p.signed_part.len, e.len - 66);

    /* signed bytes: 20 <sid> 18 <corrId> 18 <senderId> "SEND T hello" */
    uint8_t ab[300];
    sx_writer w;
    sx_writer_init_fixed(&w, ab, sizeof ab);
    sx_smp_transmission_auth_bytes(&w, &p, 18, sid, tsu_seq(0, 0));
    assert_ok(sx_writer_status(&w));
    assert_int_equal(w.len, 1 + 32 + 1 + 24 + 1 + 24 + cmd.len);
    assert_int_equal(ab[0], 0x20);
    assert_bytes_equal(ab + 1, sid.ptr, 32);
    assert_int_equal(ab[33], 0x18);
    assert_bytes_equal(ab + 34, corr.ptr, 24);
    assert_int_equal(ab[58], 0x18);
    assert_bytes_equal(ab + 59, snd.ptr, 24);
    assert_bytes_equal(ab + 83, cmd.ptr, cmd.len);
    /* the same from the fields */
    uint8_t ab2[300];
    sx_writer w2;
    sx_writer_init_fixed(&w2, ab2, sizeof ab2);
    sx_smp_write_auth_bytes(&w2, tsu_seq(0, 0), sid, corr, snd, cmd);
    assert_ok(sx_writer_status(&w2));
    assert_slice(sx_writer_slice(&w2), sx_writer_slice(&w));
}

/* PROTOCOL-NOTES W4: an unauthenticated SEND has no Maybe byte after the empty
 * auth (PROTOCOL-NOTES P2). */
static void test_w4_unauth_send(void **state)
{
    (void)state;
    sx_slice corr = tsu_seq(24, 0x30), snd = tsu_seq(24, 0x50);
    sx_smp_transmission t = {.corr_id = corr, .entity_id = snd, .command = sx_slice_str("SEND F x")};
    for (uint16_t v = 7; v <= 19; v++) {
        sx_slice e = write_t(v, &t);
        assert_int_equal(e.len, 1 + 25 + 25 + 8);
        assert_int_equal(e.ptr[0], 0x00);
        assert_int_equal(e.ptr[1], 0x18);
        sx_smp_transmission p;
        assert_ok(sx_smp_transmission_parse(e, v, &p));
        assert_int_equal(p.auth.len, 0);
        assert_slice(p.command, sx_slice_str("SEND F x"));
    }
}

/* v6: the session id travels after the authorization and is part of what
 * is signed as sent (PROTOCOL-NOTES B23, P3). */
static void test_v6_session(void **state)
{
    (void)state;
    sx_slice sid = tsu_seq(32, 0x01), corr = tsu_seq(24, 2), ent = tsu_seq(24, 3);
    sx_smp_transmission t = {.auth = tsu_seq(64, 9), .session_id = sid, .corr_id = corr,
                             .entity_id = ent, .command = sx_slice_str("SUB")};
    sx_slice e = write_t(6, &t);
    assert_int_equal(e.len, 65 + 33 + 25 + 25 + 3);
    assert_int_equal(e.ptr[65], 32);
    sx_smp_transmission p;
    assert_ok(sx_smp_transmission_parse(e, 6, &p));
    assert_slice(p.session_id, sid);
    assert_false(p.has_service_sig);
    uint8_t ab[300];
    sx_writer w;
    sx_writer_init_fixed(&w, ab, sizeof ab);
    sx_smp_transmission_auth_bytes(&w, &p, 6, sid, tsu_seq(0, 0));
    assert_ok(sx_writer_status(&w));
    /* exactly the bytes after the authorization */
    assert_slice(sx_writer_slice(&w), sx_slice_of(e.ptr + 65, e.len - 65));
    /* and the same as the field form */
    uint8_t ab2[300];
    sx_writer w2;
    sx_writer_init_fixed(&w2, ab2, sizeof ab2);
    sx_smp_write_auth_bytes(&w2, tsu_seq(0, 0), sid, corr, ent, sx_slice_str("SUB"));
    assert_slice(sx_writer_slice(&w2), sx_writer_slice(&w));
    /* the same bytes read as v7 are a different layout */
    assert_ok(sx_smp_transmission_parse(e, 7, &p));
    assert_int_equal(p.corr_id.len, 32);
}

/* PROTOCOL-NOTES C3, C9: the service-signature slot exists for v >= 16 after a
 * non-empty authorization only; with a service, the entity key signs
 * fp || bytes. */
static void test_service_sig(void **state)
{
    (void)state;
    sx_slice sig = tsu_seq(64, 1), ssig = tsu_seq(64, 2), corr = tsu_seq(24, 3),
             ent = tsu_seq(24, 4), fp = tsu_seq(32, 5), sid = tsu_seq(32, 6);
    sx_smp_transmission t = {.auth = sig, .has_service_sig = true, .service_sig = ssig,
                             .corr_id = corr, .entity_id = ent, .command = sx_slice_str("SUB")};
    sx_slice e = write_t(16, &t);
    assert_int_equal(e.len, 65 + 1 + 65 + 25 + 25 + 3);
    assert_int_equal(e.ptr[65], '1');
    assert_int_equal(e.ptr[66], 64);
    sx_smp_transmission p;
    assert_ok(sx_smp_transmission_parse(e, 16, &p));
    assert_true(p.has_service_sig);
    assert_slice(p.service_sig, ssig);
    assert_slice(p.entity_id, ent);

    uint8_t ab[300];
    sx_writer w;
    sx_writer_init_fixed(&w, ab, sizeof ab);
    sx_smp_transmission_auth_bytes(&w, &p, 16, sid, fp);
    assert_ok(sx_writer_status(&w));
    assert_int_equal(w.len, 32 + 33 + 25 + 25 + 3);
    assert_bytes_equal(ab, fp.ptr, 32);
    assert_int_equal(ab[32], 32);
    assert_bytes_equal(ab + 33, sid.ptr, 32);
    /* a fingerprint must be 32 bytes */
    sx_writer_init_fixed(&w, ab, sizeof ab);
    sx_smp_transmission_auth_bytes(&w, &p, 16, sid, tsu_seq(31, 0));
    assert_int_equal(sx_writer_status(&w), SX_E_USAGE);
    sx_writer_init_fixed(&w, ab, sizeof ab);
    sx_smp_write_auth_bytes(&w, tsu_seq(33, 0), sid, corr, ent, sx_slice_str("SUB"));
    assert_int_equal(sx_writer_status(&w), SX_E_USAGE);

    /* '0' without a service */
    t.has_service_sig = false;
    e = write_t(19, &t);
    assert_int_equal(e.ptr[65], '0');
    assert_ok(sx_smp_transmission_parse(e, 19, &p));
    assert_false(p.has_service_sig);
    /* no slot before v16 */
    e = write_t(15, &t);
    assert_int_equal(e.ptr[65], 24);
    /* a service signature where the layout has no slot is refused */
    t.has_service_sig = true;
    sx_writer_init_fixed(&w, out_buf, sizeof out_buf);
    sx_smp_transmission_write(&w, 15, &t);
    assert_int_equal(sx_writer_status(&w), SX_E_USAGE);
    t.auth = tsu_seq(0, 0);
    sx_writer_init_fixed(&w, out_buf, sizeof out_buf);
    sx_smp_transmission_write(&w, 19, &t);
    assert_int_equal(sx_writer_status(&w), SX_E_USAGE);
    t.auth = sig;
    t.service_sig = tsu_seq(63, 0);
    sx_writer_init_fixed(&w, out_buf, sizeof out_buf);
    sx_smp_transmission_write(&w, 19, &t);
    assert_int_equal(sx_writer_status(&w), SX_E_USAGE);
}

static void test_parse_bad(void **state)
{
    (void)state;
    sx_slice sig = tsu_seq(64, 1), corr = tsu_seq(24, 3), ent = tsu_seq(24, 4);
    sx_smp_transmission t = {.auth = sig, .corr_id = corr, .entity_id = ent,
                             .command = sx_slice_str("SUB")};
    uint8_t copy[400];
    sx_slice e = write_t(19, &t);
    memcpy(copy, e.ptr, e.len);
    sx_smp_transmission p;
    /* Maybe tag other than '0' / '1' */
    copy[65] = '2';
    assert_int_equal(sx_smp_transmission_parse(sx_slice_of(copy, e.len), 19, &p), SX_E_PROTOCOL);
    /* a service signature that is not 64 bytes */
    uint8_t bad[200];
    sx_writer w;
    sx_writer_init_fixed(&w, bad, sizeof bad);
    sx_write_short(&w, sig);
    sx_write_str(&w, "1");
    sx_write_short(&w, tsu_seq(63, 0));
    sx_write_short(&w, corr);
    sx_write_short(&w, ent);
    sx_write_str(&w, "SUB");
    assert_int_equal(sx_smp_transmission_parse(sx_writer_slice(&w), 19, &p), SX_E_PROTOCOL);
    sx_writer_init_fixed(&w, bad, sizeof bad);
    sx_write_short(&w, sig);
    sx_write_str(&w, "1");
    sx_write_short(&w, tsu_seq(114, 0)); /* Ed448 size: still refused */
    sx_write_short(&w, corr);
    sx_write_short(&w, ent);
    assert_int_equal(sx_smp_transmission_parse(sx_writer_slice(&w), 19, &p), SX_E_PROTOCOL);
    /* oversized lengths */
    assert_int_equal(sx_smp_transmission_parse(sx_slice_of("\x05" "ab", 3), 19, &p), SX_E_PROTOCOL);
    assert_int_equal(sx_smp_transmission_parse(sx_slice_of("\x00\x18" "ab", 4), 19, &p),
                     SX_E_PROTOCOL);
    assert_int_equal(sx_smp_transmission_parse(sx_slice_of("", 0), 19, &p), SX_E_PROTOCOL);
    /* the minimum: empty everything */
    assert_ok(sx_smp_transmission_parse(sx_slice_of("\x00\x00\x00", 3), 19, &p));
    assert_int_equal(p.command.len, 0);
}

/* Every prefix that ends before the command fails; the command is a Tail. */
static void test_truncation(void **state)
{
    (void)state;
    sx_smp_transmission t = {.auth = tsu_seq(80, 1), .has_service_sig = true,
                             .service_sig = tsu_seq(64, 2), .corr_id = tsu_seq(24, 3),
                             .entity_id = tsu_seq(24, 4), .command = sx_slice_str("ACK x")};
    const uint16_t versions[] = {6, 16, 19};
    for (size_t vi = 0; vi < 3; vi++) {
        uint16_t v = versions[vi];
        t.has_service_sig = v >= 16;
        t.session_id = v < 7 ? tsu_seq(32, 5) : tsu_seq(0, 0);
        sx_slice e = write_t(v, &t);
        size_t cmd_at = e.len - t.command.len;
        for (size_t n = 0; n < e.len; n++) {
            sx_smp_transmission p;
            sx_status st = sx_smp_transmission_parse(sx_slice_of(e.ptr, n), v, &p);
            if (n < cmd_at) {
                assert_int_equal(st, SX_E_PROTOCOL);
                assert_int_equal(p.corr_id.len, 0);
            } else {
                assert_ok(st);
                assert_int_equal(p.command.len, n - cmd_at);
            }
        }
    }
}

/* PROTOCOL-NOTES C8 with the reference's known answer (vectors/smp-crypto.md
 * section 2): the authorized bytes built here, authenticated, then verified
 * again on the parsed transmission. */
static void test_authenticator_vector(void **state)
{
    (void)state;
    uint8_t raw[32];
    sx_key *router = NULL, *queue = NULL, *router_pub = NULL;
    tu_bytes_seq(raw, 32, 0x80);
    assert_ok(sx_key_from_raw_private(SX_KEY_X25519, sx_slice_of(raw, 32), &router));
    tu_bytes_seq(raw, 32, 0x20);
    assert_ok(sx_key_from_raw_private(SX_KEY_X25519, sx_slice_of(raw, 32), &queue));
    assert_ok(sx_key_public_copy(router, &router_pub));
    uint8_t secret[32];
    size_t slen;
    assert_ok(sx_key_dh(queue, router_pub, secret, sizeof secret, &slen));

    sx_slice sid = tsu_seq(32, 0x01), corr = tsu_seq(24, 0x60), snd = tsu_seq(24, 0x90);
    sx_slice cmd = sx_slice_str("SEND F hello");
    uint8_t ab[200];
    sx_writer w;
    sx_writer_init_fixed(&w, ab, sizeof ab);
    sx_smp_write_auth_bytes(&w, tsu_seq(0, 0), sid, corr, snd, cmd);
    assert_ok(sx_writer_status(&w));
    uint8_t nonce[SX_CB_NONCE_LEN], auth[SX_CB_AUTH_LEN];
    sx_cb_nonce(corr, nonce);
    assert_ok(sx_cb_authenticate(secret, nonce, sx_writer_slice(&w), auth));
    assert_string_equal(tu_to_hex(auth, sizeof auth),
                        "92d0110a006f1610c2258aae2a1ebb264b2219bb5f83394fe3e5082cd8621d3c12f248d6"
                        "d77bdbf4fedcf16130a0518d5c5dcc62d8dcfb9bc005d40d5067cdee069d818b1f42051f"
                        "5aad00ae7654b1da");

    /* the router side: parse, rebuild the authorized bytes, verify */
    sx_smp_transmission t = {.auth = sx_slice_of(auth, sizeof auth), .corr_id = corr,
                             .entity_id = snd, .command = cmd};
    sx_slice e = write_t(19, &t);
    sx_smp_request req;
    assert_ok(sx_smp_request_decode(e, 19, sid, &req));
    assert_int_equal(req.auth_kind, SX_SMP_AUTH_AUTHENTICATOR);
    assert_int_equal(req.cmd.tag, SX_SMP_C_SEND);
    assert_false(req.cmd.send.notification);
    uint8_t ab2[200];
    sx_writer_init_fixed(&w, ab2, sizeof ab2);
    sx_smp_transmission_auth_bytes(&w, &req.t, 19, sid, tsu_seq(0, 0));
    assert_ok(sx_writer_status(&w));
    uint8_t rnonce[SX_CB_NONCE_LEN];
    sx_cb_nonce(req.t.corr_id, rnonce);
    assert_ok(sx_cb_verify(secret, rnonce, req.t.auth, sx_writer_slice(&w)));
    /* another session id does not verify (PROTOCOL-NOTES P4) */
    sx_writer_init_fixed(&w, ab2, sizeof ab2);
    sx_smp_transmission_auth_bytes(&w, &req.t, 19, tsu_seq(32, 0x02), tsu_seq(0, 0));
    assert_int_equal(sx_cb_verify(secret, rnonce, req.t.auth, sx_writer_slice(&w)), SX_E_AUTH);
    sx_key_free(router);
    sx_key_free(queue);
    sx_key_free(router_pub);
}

/* tDecodeServer: which error, with which corrId and entity. */
static void test_request_errors(void **state)
{
    (void)state;
    sx_slice sid = tsu_seq(32, 1), corr = tsu_seq(24, 2), ent = tsu_seq(24, 3);
    sx_smp_request req;

    /* layout: BLOCK, nothing echoed */
    assert_int_equal(sx_smp_request_decode(sx_slice_of("\x05" "ab", 3), 19, sid, &req),
                     SX_E_PROTOCOL);
    assert_int_equal(req.err.type, SX_SMP_ERR_BLOCK);
    assert_int_equal(req.reply_corr_id.len, 0);
    assert_int_equal(req.reply_entity_id.len, 0);

    /* v6 session mismatch: SESSION with the corrId, no entity */
    sx_smp_transmission t = {.auth = tsu_seq(64, 1), .session_id = tsu_seq(32, 9),
                             .corr_id = corr, .entity_id = ent, .command = sx_slice_str("SUB")};
    assert_int_equal(sx_smp_request_decode(write_t(6, &t), 6, sid, &req), SX_E_PROTOCOL);
    assert_int_equal(req.err.type, SX_SMP_ERR_SESSION);
    assert_slice(req.reply_corr_id, corr);
    assert_int_equal(req.reply_entity_id.len, 0);
    t.session_id = sid;
    assert_ok(sx_smp_request_decode(write_t(6, &t), 6, sid, &req));
    assert_int_equal(req.cmd.tag, SX_SMP_C_SUB);
    /* v7+: no session id on the wire */
    t.session_id = tsu_seq(0, 0);
    assert_ok(sx_smp_request_decode(write_t(7, &t), 7, sid, &req));

    /* bad authorization length: BLOCK with the corrId */
    t.auth = tsu_seq(63, 1);
    assert_int_equal(sx_smp_request_decode(write_t(15, &t), 15, sid, &req), SX_E_PROTOCOL);
    assert_int_equal(req.err.type, SX_SMP_ERR_BLOCK);
    assert_slice(req.reply_corr_id, corr);
    assert_int_equal(req.reply_entity_id.len, 0);

    /* command errors carry corrId and entity */
    t.auth = tsu_seq(114, 1);
    t.command = sx_slice_str("HELLO");
    assert_int_equal(sx_smp_request_decode(write_t(19, &t), 19, sid, &req), SX_E_PROTOCOL);
    assert_int_equal(req.err.type, SX_SMP_ERR_CMD);
    assert_int_equal(req.err.cmd, SX_SMP_CMD_UNKNOWN);
    assert_slice(req.reply_corr_id, corr);
    assert_slice(req.reply_entity_id, ent);
    t.command = sx_slice_str("SUB x");
    assert_int_equal(sx_smp_request_decode(write_t(19, &t), 19, sid, &req), SX_E_PROTOCOL);
    assert_int_equal(req.err.cmd, SX_SMP_CMD_SYNTAX);
    assert_slice(req.reply_entity_id, ent);

    /* credentials */
    t.command = sx_slice_str("PING");
    assert_int_equal(sx_smp_request_decode(write_t(19, &t), 19, sid, &req), SX_E_PROTOCOL);
    assert_int_equal(req.err.cmd, SX_SMP_CMD_HAS_AUTH);
    t.auth = tsu_seq(0, 0);
    t.entity_id = tsu_seq(0, 0);
    assert_ok(sx_smp_request_decode(write_t(19, &t), 19, sid, &req));
    assert_int_equal(req.cmd.tag, SX_SMP_C_PING);
    assert_int_equal(req.auth_kind, SX_SMP_AUTH_NONE);
    t.command = sx_slice_str("SEND T x");
    assert_int_equal(sx_smp_request_decode(write_t(19, &t), 19, sid, &req), SX_E_PROTOCOL);
    assert_int_equal(req.err.cmd, SX_SMP_CMD_NO_ENTITY);
    t.command = sx_slice_str("SUB");
    t.entity_id = ent;
    assert_int_equal(sx_smp_request_decode(write_t(19, &t), 19, sid, &req), SX_E_PROTOCOL);
    assert_int_equal(req.err.cmd, SX_SMP_CMD_NO_AUTH);
    /* an unauthenticated SEND to a queue passes this stage (PROTOCOL-NOTES
     * C14) */
    t.command = sx_slice_str("SEND F x");
    assert_ok(sx_smp_request_decode(write_t(19, &t), 19, sid, &req));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_kind),
        cmocka_unit_test(test_w3_signed_send),
        cmocka_unit_test(test_w4_unauth_send),
        cmocka_unit_test(test_v6_session),
        cmocka_unit_test(test_service_sig),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_authenticator_vector),
        cmocka_unit_test(test_request_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
