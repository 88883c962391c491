/* Unit tests of SMP client commands (PROTOCOL-NOTES C.3, D.0-D.6, W6, W8): byte
 * layouts, round trips at every version, truncation, trailing bytes, unknown
 * tags, strict keys, SEND flags and limits, credential rules. */
#include "test_smp_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smp/version.h"

static sx_status decode(sx_slice s, uint16_t v, sx_smp_cmd *c, sx_smp_cmd_err *err)
{
    return sx_smp_cmd_decode(s, v, c, err);
}

static void assert_cmd_err(sx_slice s, uint16_t v, sx_smp_cmd_err want)
{
    sx_smp_cmd c;
    sx_smp_cmd_err err;
    assert_int_equal(decode(s, v, &c, &err), SX_E_PROTOCOL);
    assert_int_equal(err, want);
    assert_int_equal(c.tag, 0);
}

static void assert_slice(sx_slice a, sx_slice b)
{
    assert_int_equal(a.len, b.len);
    if (a.len)
        assert_bytes_equal(a.ptr, b.ptr, a.len);
}

static void test_names_and_parties(void **state)
{
    (void)state;
    assert_string_equal(sx_smp_cmd_name(SX_SMP_C_NEW), "NEW");
    assert_string_equal(sx_smp_cmd_name(SX_SMP_C_NSUBS), "NSUBS");
    assert_string_equal(sx_smp_cmd_name(0), "?");
    assert_int_equal(sx_smp_cmd_party(SX_SMP_C_NEW), SX_SMP_PARTY_CREATOR);
    assert_int_equal(sx_smp_cmd_party(SX_SMP_C_SUBS), SX_SMP_PARTY_RECIPIENT_SERVICE);
    assert_int_equal(sx_smp_cmd_party(SX_SMP_C_QUE), SX_SMP_PARTY_RECIPIENT);
    assert_int_equal(sx_smp_cmd_party(SX_SMP_C_SEND), SX_SMP_PARTY_SENDER);
    assert_int_equal(sx_smp_cmd_party(SX_SMP_C_LGET), SX_SMP_PARTY_LINK_CLIENT);
    assert_int_equal(sx_smp_cmd_party(SX_SMP_C_NSUB), SX_SMP_PARTY_NOTIFIER);
    assert_int_equal(sx_smp_cmd_party(SX_SMP_C_NSUBS), SX_SMP_PARTY_NOTIFIER_SERVICE);
    assert_int_equal(sx_smp_cmd_party(SX_SMP_C_PFWD), SX_SMP_PARTY_PROXIED_CLIENT);
    assert_int_equal(sx_smp_cmd_party(SX_SMP_C_RFWD), SX_SMP_PARTY_PROXY_SERVICE);
    assert_int_equal(sx_smp_cmd_party(SX_SMP_C_PING), SX_SMP_PARTY_IDLE_CLIENT);
    assert_int_equal(sx_smp_cmd_party(99), 0);
    for (int t = TSU_CMD_FIRST; t <= TSU_CMD_LAST; t++)
        assert_int_equal(sx_smp_cmd_uses_service_auth(t),
                         t == SX_SMP_C_NEW || t == SX_SMP_C_SUB || t == SX_SMP_C_NSUB);
}

static void test_versions(void **state)
{
    (void)state;
    assert_int_equal(SX_SMP_V_SUB_MODE, 6);
    assert_int_equal(SX_SMP_V_AUTH_CMDS, 7);
    assert_int_equal(SX_SMP_V_SENDING_PROXY, 8);
    assert_int_equal(SX_SMP_V_SND_AUTH_KEY, 9);
    assert_int_equal(SX_SMP_V_DELETED_EVENT, 10);
    assert_int_equal(SX_SMP_V_ENCRYPTED_BLOCK, 11);
    assert_int_equal(SX_SMP_V_BLOCKED_ENTITY, 12);
    assert_int_equal(SX_SMP_V_PROXY_SERVER_HANDSHAKE, 14);
    assert_int_equal(SX_SMP_V_SHORT_LINKS, 15);
    assert_int_equal(SX_SMP_V_SERVICE_CERTS, 16);
    assert_int_equal(SX_SMP_V_NEW_NTF_CREDS, 17);
    assert_int_equal(SX_SMP_V_CLIENT_NOTICES, 18);
    assert_int_equal(SX_SMP_V_RCV_SERVICE, 19);
    assert_int_equal(sx_smp_server_vrange().min, 6);
    assert_int_equal(sx_smp_server_vrange().max, 19);
    assert_int_equal(sx_smp_legacy_vrange().min, 6);
    assert_int_equal(sx_smp_legacy_vrange().max, 6);
    assert_int_equal(sx_smp_proxied_vrange().min, 8);
    assert_int_equal(sx_smp_proxied_vrange().max, 18);
}

/* PROTOCOL-NOTES W6: NEW, v18, messaging queue, no password, subscribe, no link
 * data, no notifier. */
static void test_w6_new(void **state)
{
    (void)state;
    sx_smp_cmd c = {.tag = SX_SMP_C_NEW};
    c.new_queue.rcv_auth_key = tsu_key(SX_KEY_ED25519, 1);
    c.new_queue.rcv_dh_key = tsu_key(SX_KEY_X25519, 2);
    c.new_queue.subscribe = true;
    c.new_queue.has_queue_req = true;
    c.new_queue.queue_req.mode = SX_SMP_QUEUE_MESSAGING;
    sx_slice enc = tsu_enc_cmd(&c, 18);

    uint8_t want[200];
    sx_writer w;
    sx_writer_init_fixed(&w, want, sizeof want);
    sx_write_str(&w, "NEW ");
    sx_write_u8(&w, 0x2c);
    sx_write_slice(&w, c.new_queue.rcv_auth_key.der);
    sx_write_u8(&w, 0x2c);
    sx_write_slice(&w, c.new_queue.rcv_dh_key.der);
    const uint8_t tail[] = {0x30, 0x53, 0x31, 0x4d, 0x30, 0x30};
    sx_write_bytes(&w, tail, sizeof tail);
    assert_ok(sx_writer_status(&w));
    assert_int_equal(enc.len, 4 + 45 + 45 + 6);
    assert_int_equal(w.len, enc.len);
    assert_bytes_equal(enc.ptr, want, enc.len);
    /* the Ed25519 SPKI prefix of PROTOCOL-NOTES A16 */
    assert_string_equal(tu_to_hex(enc.ptr + 5, 12), "302a300506032b6570032100");
    assert_string_equal(tu_to_hex(enc.ptr + 50, 12), "302a300506032b656e032100");

    sx_smp_cmd d;
    sx_smp_cmd_err err;
    assert_ok(decode(enc, 18, &d, &err));
    assert_int_equal(d.tag, SX_SMP_C_NEW);
    assert_int_equal(d.new_queue.rcv_auth_key.alg, SX_KEY_ED25519);
    assert_int_equal(d.new_queue.rcv_dh_key.alg, SX_KEY_X25519);
    assert_false(d.new_queue.has_basic_auth);
    assert_true(d.new_queue.subscribe);
    assert_true(d.new_queue.has_queue_req);
    assert_int_equal(d.new_queue.queue_req.mode, SX_SMP_QUEUE_MESSAGING);
    assert_false(d.new_queue.queue_req.has_link);
    assert_false(d.new_queue.has_ntf_creds);
    /* views into the input */
    assert_ptr_equal(d.new_queue.rcv_auth_key.der.ptr, enc.ptr + 5);
}

/* The four NEW layouts (PROTOCOL-NOTES D1), built field by field. */
static void test_new_layouts(void **state)
{
    (void)state;
    sx_smp_cmd c = tsu_sample_cmd(SX_SMP_C_NEW);
    const sx_smp_new *n = &c.new_queue;
    uint8_t want[2000];
    sx_writer w;
    sx_smp_cmd d;
    sx_smp_cmd_err err;

    /* v6-8: 'A' shortString(auth), subMode */
    for (uint16_t v = 6; v <= 8; v++) {
        sx_writer_init_fixed(&w, want, sizeof want);
        sx_write_str(&w, "NEW ");
        sx_write_short(&w, n->rcv_auth_key.der);
        sx_write_short(&w, n->rcv_dh_key.der);
        sx_write_str(&w, "A");
        sx_write_short(&w, sx_slice_str("pass"));
        sx_write_str(&w, "S");
        assert_slice(tsu_enc_cmd(&c, v), sx_writer_slice(&w));
        assert_ok(decode(sx_writer_slice(&w), v, &d, &err));
        assert_true(d.new_queue.has_basic_auth);
        assert_slice(d.new_queue.basic_auth, sx_slice_str("pass"));
        assert_false(d.new_queue.has_queue_req);
        assert_false(d.new_queue.has_ntf_creds);
    }
    /* v6 without auth: no 'A' at all */
    sx_smp_cmd c2 = c;
    c2.new_queue.has_basic_auth = false;
    c2.new_queue.subscribe = false;
    sx_slice e6 = tsu_enc_cmd(&c2, 6);
    assert_int_equal(e6.len, 4 + 45 + 45 + 1);
    assert_int_equal(e6.ptr[e6.len - 1], 'C');

    /* v9-14: Maybe auth, subMode, senderCanSecure */
    for (uint16_t v = 9; v <= 14; v++) {
        sx_writer_init_fixed(&w, want, sizeof want);
        sx_write_str(&w, "NEW ");
        sx_write_short(&w, n->rcv_auth_key.der);
        sx_write_short(&w, n->rcv_dh_key.der);
        sx_write_str(&w, "1");
        sx_write_short(&w, sx_slice_str("pass"));
        sx_write_str(&w, "SF"); /* contact queue: sender cannot secure */
        assert_slice(tsu_enc_cmd(&c, v), sx_writer_slice(&w));
        assert_ok(decode(sx_writer_slice(&w), v, &d, &err));
        assert_true(d.new_queue.has_queue_req);
        assert_int_equal(d.new_queue.queue_req.mode, SX_SMP_QUEUE_CONTACT);
        assert_false(d.new_queue.queue_req.has_link);
        /* T decodes as a messaging queue */
        want[w.len - 1] = 'T';
        assert_ok(decode(sx_writer_slice(&w), v, &d, &err));
        assert_int_equal(d.new_queue.queue_req.mode, SX_SMP_QUEUE_MESSAGING);
    }
    /* a NEW without queue request still says F */
    c2 = c;
    c2.new_queue.has_queue_req = false;
    sx_slice e9 = tsu_enc_cmd(&c2, 9);
    assert_int_equal(e9.ptr[e9.len - 1], 'F');

    /* v15-16 and v17+: Maybe QueueReqData, then (v17) Maybe NewNtfCreds */
    for (uint16_t v = 15; v <= 19; v++) {
        sx_writer_init_fixed(&w, want, sizeof want);
        sx_write_str(&w, "NEW ");
        sx_write_short(&w, n->rcv_auth_key.der);
        sx_write_short(&w, n->rcv_dh_key.der);
        sx_write_str(&w, "1");
        sx_write_short(&w, sx_slice_str("pass"));
        sx_write_str(&w, "S1C1");
        sx_write_short(&w, n->queue_req.link_id);
        sx_write_short(&w, n->queue_req.sender_id);
        sx_write_large(&w, n->queue_req.link.fixed);
        sx_write_large(&w, n->queue_req.link.user);
        if (v >= 17) {
            sx_write_str(&w, "1");
            sx_write_short(&w, n->ntf_auth_key.der);
            sx_write_short(&w, n->ntf_dh_key.der);
        }
        assert_ok(sx_writer_status(&w));
        assert_slice(tsu_enc_cmd(&c, v), sx_writer_slice(&w));
        assert_ok(decode(sx_writer_slice(&w), v, &d, &err));
        assert_true(d.new_queue.queue_req.has_link);
        assert_int_equal(d.new_queue.queue_req.mode, SX_SMP_QUEUE_CONTACT);
        assert_slice(d.new_queue.queue_req.link_id, n->queue_req.link_id);
        assert_slice(d.new_queue.queue_req.sender_id, n->queue_req.sender_id);
        assert_slice(d.new_queue.queue_req.link.fixed, n->queue_req.link.fixed);
        assert_slice(d.new_queue.queue_req.link.user, n->queue_req.link.user);
        assert_int_equal(d.new_queue.has_ntf_creds, v >= 17);
        if (v >= 17) {
            assert_int_equal(d.new_queue.ntf_auth_key.alg, SX_KEY_ED448);
            assert_slice(d.new_queue.ntf_dh_key.der, n->ntf_dh_key.der);
        }
    }
    /* messaging queue with link data: no link id */
    c2 = c;
    c2.new_queue.queue_req.mode = SX_SMP_QUEUE_MESSAGING;
    sx_slice e15 = tsu_enc_cmd(&c2, 15);
    assert_ok(decode(e15, 15, &d, &err));
    assert_int_equal(d.new_queue.queue_req.link_id.len, 0);
    assert_slice(d.new_queue.queue_req.sender_id, n->queue_req.sender_id);
    assert_int_equal(e15.len, 4 + 45 + 45 + 6 + 4 + 25 + 102 + 302);
}

/* PROTOCOL-NOTES W8: PRXY with one host, default port, no password. */
static void test_w8_prxy(void **state)
{
    (void)state;
    uint8_t items[32];
    sx_writer w;
    sx_writer_init_fixed(&w, items, sizeof items);
    sx_write_short(&w, sx_slice_str("smp.example.com"));
    sx_smp_cmd c = {.tag = SX_SMP_C_PRXY};
    c.prxy.server.hosts.count = 1;
    c.prxy.server.hosts.items = sx_writer_slice(&w);
    c.prxy.server.key_hash = tsu_seq(32, 0x70);
    sx_slice enc = tsu_enc_cmd(&c, 18);
    char want_hex[512];
    snprintf(want_hex, sizeof want_hex, "50525859 20 01 0f %s 00 20 %s 30",
             "736d702e6578616d706c652e636f6d", tu_to_hex(c.prxy.server.key_hash.ptr, 32));
    size_t n;
    uint8_t *want = tu_hex(want_hex, &n);
    assert_int_equal(enc.len, n);
    assert_bytes_equal(enc.ptr, want, n);
    free(want);

    sx_smp_cmd d;
    sx_smp_cmd_err err;
    assert_ok(decode(enc, 18, &d, &err));
    assert_int_equal(d.prxy.server.hosts.count, 1);
    sx_slice host;
    assert_ok(sx_smp_list_get(&d.prxy.server.hosts, SX_SMP_ITEM_HOST, 0, &host));
    assert_slice(host, sx_slice_str("smp.example.com"));
    assert_int_equal(d.prxy.server.port.len, 0);
    assert_false(d.prxy.has_basic_auth);
}

/* Every command at every version: encode, decode, encode again. */
static void test_roundtrip_all(void **state)
{
    (void)state;
    for (int t = TSU_CMD_FIRST; t <= TSU_CMD_LAST; t++) {
        sx_smp_cmd c = tsu_sample_cmd(t);
        for (uint16_t v = SX_SMP_VERSION_MIN; v <= SX_SMP_VERSION_CURRENT; v++) {
            sx_slice e1 = tsu_enc_cmd(&c, v);
            sx_smp_cmd d;
            sx_smp_cmd_err err = 0;
            if (decode(e1, v, &d, &err) != SX_OK)
                fail_msg("%s v%u does not decode (err %d)", sx_smp_cmd_name(t), v, err);
            assert_int_equal(d.tag, t);
            sx_slice e2 = tsu_enc_cmd(&d, v);
            assert_slice(e2, e1);
        }
    }
}

/* Decoded fields of the samples at the newest version. */
static void test_decoded_fields(void **state)
{
    (void)state;
    sx_smp_cmd d;
    sx_smp_cmd_err err;
    sx_smp_cmd c = tsu_sample_cmd(SX_SMP_C_RKEY);
    assert_ok(decode(tsu_enc_cmd(&c, 19), 19, &d, &err));
    assert_int_equal(d.keys.count, 3);
    sx_smp_pubkey k;
    assert_ok(sx_smp_list_key(&d.keys, 0, &k));
    assert_int_equal(k.alg, SX_KEY_ED25519);
    assert_ok(sx_smp_list_key(&d.keys, 1, &k));
    assert_int_equal(k.alg, SX_KEY_X25519);
    assert_ok(sx_smp_list_key(&d.keys, 2, &k));
    assert_int_equal(k.alg, SX_KEY_ED448);
    assert_int_equal(sx_smp_list_key(&d.keys, 3, &k), SX_E_USAGE);

    c = tsu_sample_cmd(SX_SMP_C_SKEY);
    assert_ok(decode(tsu_enc_cmd(&c, 19), 19, &d, &err));
    assert_int_equal(d.key.alg, SX_KEY_ED448);
    assert_slice(d.key.der, c.key.der);

    c = tsu_sample_cmd(SX_SMP_C_KEY);
    assert_ok(decode(tsu_enc_cmd(&c, 6), 6, &d, &err));
    assert_int_equal(d.key.alg, SX_KEY_X25519);

    c = tsu_sample_cmd(SX_SMP_C_LSET);
    assert_ok(decode(tsu_enc_cmd(&c, 19), 19, &d, &err));
    assert_slice(d.lset.link_id, c.lset.link_id);
    assert_slice(d.lset.data.fixed, c.lset.data.fixed);
    assert_slice(d.lset.data.user, c.lset.data.user);

    c = tsu_sample_cmd(SX_SMP_C_NKEY);
    assert_ok(decode(tsu_enc_cmd(&c, 19), 19, &d, &err));
    assert_slice(d.nkey.auth_key.der, c.nkey.auth_key.der);
    assert_slice(d.nkey.dh_key.der, c.nkey.dh_key.der);

    c = tsu_sample_cmd(SX_SMP_C_ACK);
    assert_ok(decode(tsu_enc_cmd(&c, 19), 19, &d, &err));
    assert_slice(d.msg_id, c.msg_id);

    c = tsu_sample_cmd(SX_SMP_C_PFWD);
    assert_ok(decode(tsu_enc_cmd(&c, 19), 19, &d, &err));
    assert_int_equal(d.pfwd.version, 18);
    assert_slice(d.pfwd.enc, c.pfwd.enc);

    c = tsu_sample_cmd(SX_SMP_C_RFWD);
    assert_ok(decode(tsu_enc_cmd(&c, 8), 8, &d, &err));
    assert_slice(d.enc, c.enc);

    c = tsu_sample_cmd(SX_SMP_C_PRXY);
    assert_ok(decode(tsu_enc_cmd(&c, 19), 19, &d, &err));
    assert_int_equal(d.prxy.server.hosts.count, 2);
    sx_slice h;
    assert_ok(sx_smp_list_get(&d.prxy.server.hosts, SX_SMP_ITEM_HOST, 1, &h));
    assert_slice(h, sx_slice_str("abcdefghijklmnop.onion"));
    assert_slice(d.prxy.server.port, sx_slice_str("5223"));
    assert_slice(d.prxy.basic_auth, sx_slice_str("secret"));
}

/* v19 gives SUBS/NSUBS their count and ids hash; before, the bare tag. */
static void test_subs_versions(void **state)
{
    (void)state;
    sx_smp_cmd c = tsu_sample_cmd(SX_SMP_C_SUBS);
    sx_smp_cmd d;
    sx_smp_cmd_err err;
    for (uint16_t v = 6; v <= 18; v++) {
        assert_slice(tsu_enc_cmd(&c, v), sx_slice_str("SUBS"));
        assert_ok(decode(sx_slice_str("NSUBS"), v, &d, &err));
        assert_int_equal(d.tag, SX_SMP_C_NSUBS);
        assert_int_equal(d.subs.count, -1);
        assert_int_equal(d.subs.ids_hash.len, 16);
        for (size_t i = 0; i < 16; i++)
            assert_int_equal(d.subs.ids_hash.ptr[i], 0);
        assert_cmd_err(sx_slice_str("SUBS "), v, SX_SMP_CMD_SYNTAX);
    }
    uint8_t want[64];
    sx_writer w;
    sx_writer_init_fixed(&w, want, sizeof want);
    sx_write_str(&w, "SUBS ");
    sx_write_i64(&w, 42);
    sx_write_short(&w, c.subs.ids_hash);
    assert_slice(tsu_enc_cmd(&c, 19), sx_writer_slice(&w));
    assert_int_equal(w.len, 5 + 8 + 17);
    assert_ok(decode(sx_writer_slice(&w), 19, &d, &err));
    assert_int_equal(d.subs.count, 42);
    assert_slice(d.subs.ids_hash, c.subs.ids_hash);
    assert_cmd_err(sx_slice_str("SUBS"), 19, SX_SMP_CMD_SYNTAX);
}

/* Commands whose last field is a Tail accept any shorter tail. */
static size_t tail_len(const sx_smp_cmd *c)
{
    switch (c->tag) {
    case SX_SMP_C_SEND:
        return c->send.body.len;
    case SX_SMP_C_PFWD:
        return c->pfwd.enc.len;
    case SX_SMP_C_RFWD:
        return c->enc.len;
    default:
        return 0;
    }
}

static bool is_bare_tag(sx_slice s)
{
    sx_smp_cmd d;
    sx_smp_cmd_err err;
    for (size_t i = 0; i < s.len; i++)
        if (s.ptr[i] == ' ')
            return false;
    return decode(s, 19, &d, &err) == SX_OK;
}

/* Every proper prefix (up to the tail) fails; a decode error is SYNTAX once
 * the tag is complete. */
static void test_truncation(void **state)
{
    (void)state;
    const uint16_t versions[] = {6, 8, 14, 15, 16, 19};
    for (int t = TSU_CMD_FIRST; t <= TSU_CMD_LAST; t++) {
        sx_smp_cmd c = tsu_sample_cmd(t);
        for (size_t vi = 0; vi < sizeof versions / sizeof versions[0]; vi++) {
            uint16_t v = versions[vi];
            sx_slice e = tsu_enc_cmd(&c, v);
            size_t name_len = strlen(sx_smp_cmd_name(t));
            for (size_t n = 0; n + tail_len(&c) < e.len; n++) {
                sx_slice p = sx_slice_of(e.ptr, n);
                sx_smp_cmd d;
                sx_smp_cmd_err err;
                sx_status st = decode(p, v, &d, &err);
                if (st == SX_OK) {
                    /* only a shorter tag such as SUB inside SUBS */
                    assert_true(n < name_len && is_bare_tag(p));
                    continue;
                }
                assert_int_equal(err, n < name_len ? SX_SMP_CMD_UNKNOWN : SX_SMP_CMD_SYNTAX);
            }
        }
    }
}

static void test_trailing(void **state)
{
    (void)state;
    for (int t = TSU_CMD_FIRST; t <= TSU_CMD_LAST; t++) {
        sx_smp_cmd c = tsu_sample_cmd(t);
        if (tail_len(&c))
            continue;
        for (uint16_t v = 6; v <= 19; v++) {
            sx_slice e = tsu_enc_cmd(&c, v);
            /* After a bare tag, a non-space byte makes the tag unknown. */
            sx_smp_cmd_err after_tag = memchr(e.ptr, ' ', e.len) ? SX_SMP_CMD_SYNTAX : SX_SMP_CMD_UNKNOWN;
            assert_cmd_err(tsu_cat(e, sx_slice_str("x")), v, after_tag);
            assert_cmd_err(tsu_cat(e, sx_slice_str(" ")), v, SX_SMP_CMD_SYNTAX);
            assert_cmd_err(tsu_cat(e, sx_slice_str(" x")), v, SX_SMP_CMD_SYNTAX);
            assert_cmd_err(tsu_cat(e, sx_slice_of("\0", 1)), v, after_tag);
        }
    }
}

static void test_unknown_tags(void **state)
{
    (void)state;
    const char *bad[] = {"", "FOO", "new", "Sub", "SUBX", " SUB", "NSUBSS", "SEND\tT x", "IDS",
                         "OK", "PONG", "ERR AUTH", "SEN", "LINK x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_cmd_err(sx_slice_str(bad[i]), 19, SX_SMP_CMD_UNKNOWN);
    /* a NUL inside the tag */
    assert_cmd_err(sx_slice_of("SUB\0", 4), 19, SX_SMP_CMD_UNKNOWN);
}

/* Builds "TAG " || ss(der) for key tests. */
static sx_slice key_cmd(const char *tag, sx_slice der)
{
    static uint8_t buf[4][300];
    static int next;
    sx_writer w;
    sx_writer_init_fixed(&w, buf[next], sizeof buf[0]);
    next = (next + 1) % 4;
    sx_write_str(&w, tag);
    sx_write_str(&w, " ");
    sx_write_short(&w, der);
    assert_ok(sx_writer_status(&w));
    return sx_writer_slice(&w);
}

static void test_strict_keys(void **state)
{
    (void)state;
    sx_smp_pubkey ed = tsu_key(SX_KEY_ED25519, 1), x448 = tsu_key(SX_KEY_X448, 2);
    sx_smp_cmd d;
    sx_smp_cmd_err err;
    assert_ok(decode(key_cmd("KEY", ed.der), 19, &d, &err));
    /* X448 is not an authorization algorithm */
    assert_cmd_err(key_cmd("KEY", x448.der), 19, SX_SMP_CMD_SYNTAX);
    /* DER with a trailing byte, truncated DER, a wrong prefix byte */
    uint8_t der[SX_KEY_SPKI_MAX + 1];
    memcpy(der, ed.der.ptr, ed.der.len);
    der[ed.der.len] = 0;
    assert_cmd_err(key_cmd("SKEY", sx_slice_of(der, ed.der.len + 1)), 19, SX_SMP_CMD_SYNTAX);
    assert_cmd_err(key_cmd("LKEY", sx_slice_of(der, ed.der.len - 1)), 19, SX_SMP_CMD_SYNTAX);
    der[1] ^= 1;
    assert_cmd_err(key_cmd("KEY", sx_slice_of(der, ed.der.len)), 19, SX_SMP_CMD_SYNTAX);
    assert_cmd_err(key_cmd("KEY", sx_slice_of(der, 0)), 19, SX_SMP_CMD_SYNTAX);

    /* NEW with an Ed25519 key where the X25519 DH key goes */
    sx_smp_cmd c = tsu_sample_cmd(SX_SMP_C_NEW);
    sx_slice e = tsu_enc_cmd(&c, 19);
    uint8_t copy[2000];
    memcpy(copy, e.ptr, e.len);
    copy[4 + 45 + 1 + 8] = 0x70; /* OID 1.3.101.110 -> 112 */
    assert_cmd_err(sx_slice_of(copy, e.len), 19, SX_SMP_CMD_SYNTAX);
    /* PFWD and NKEY DH keys must be X25519 */
    c = tsu_sample_cmd(SX_SMP_C_PFWD);
    c.pfwd.dh_key = ed;
    assert_int_equal(tsu_enc_cmd_status(&c, 19), SX_E_USAGE);
    c = tsu_sample_cmd(SX_SMP_C_NKEY);
    c.nkey.dh_key = tsu_key(SX_KEY_ED448, 3);
    assert_int_equal(tsu_enc_cmd_status(&c, 19), SX_E_USAGE);
    /* a key whose alg field does not match its DER */
    c = tsu_sample_cmd(SX_SMP_C_KEY);
    c.key.alg = SX_KEY_ED25519;
    assert_int_equal(tsu_enc_cmd_status(&c, 19), SX_E_USAGE);
}

static void test_syntax_errors(void **state)
{
    (void)state;
    const char *bad[] = {"SUB ", "GET x", "PING ", "SEND", "SEND ", "SEND T", "SEND X hello",
                         "SEND  hello", "ACK", "ACK ", "ACK \x05" "abc", "RKEY \x00", "NKEY ",
                         "LSET \x01" "a", "LSET \x01" "a\x00\x01", "PFWD \x00", "RFWD",
                         "PRXY \x00\x00\x20", "NEW ", "QUE  "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_cmd_err(sx_slice_str(bad[i]), 19, SX_SMP_CMD_SYNTAX);
    assert_cmd_err(sx_slice_of("ACK \x00 ", 6), 19, SX_SMP_CMD_SYNTAX);

    sx_smp_cmd d;
    sx_smp_cmd_err err;
    /* an oversized short length */
    assert_ok(decode(sx_slice_of("ACK \x03" "abc", 8), 19, &d, &err));
    assert_cmd_err(sx_slice_of("ACK \x04" "abc", 8), 19, SX_SMP_CMD_SYNTAX);
    assert_cmd_err(sx_slice_of("ACK \xff" "abc", 8), 19, SX_SMP_CMD_SYNTAX);
    /* an oversized Large length in LSET */
    assert_cmd_err(sx_slice_of("LSET \x00\x00\x05" "ab\x00\x00", 12), 19, SX_SMP_CMD_SYNTAX);
    assert_ok(decode(sx_slice_of("LSET \x00\x00\x02" "ab\x00\x00", 12), 19, &d, &err));

    /* queue mode other than M / C */
    sx_smp_cmd c = tsu_sample_cmd(SX_SMP_C_NEW);
    c.new_queue.has_basic_auth = false;
    c.new_queue.has_ntf_creds = false;
    c.new_queue.queue_req.has_link = false;
    sx_slice e = tsu_enc_cmd(&c, 19);
    uint8_t copy[300];
    memcpy(copy, e.ptr, e.len);
    assert_int_equal(copy[e.len - 3], 'C');
    copy[e.len - 3] = 'X';
    assert_cmd_err(sx_slice_of(copy, e.len), 19, SX_SMP_CMD_SYNTAX);
    /* subMode other than S / C */
    copy[e.len - 3] = 'C';
    copy[e.len - 5] = 'X';
    assert_cmd_err(sx_slice_of(copy, e.len), 19, SX_SMP_CMD_SYNTAX);
    /* Maybe tag other than '0' / '1' */
    copy[e.len - 5] = 'S';
    copy[e.len - 1] = '2';
    assert_cmd_err(sx_slice_of(copy, e.len), 19, SX_SMP_CMD_SYNTAX);
    copy[e.len - 1] = 0;
    assert_cmd_err(sx_slice_of(copy, e.len), 19, SX_SMP_CMD_SYNTAX);
    copy[e.len - 1] = '0';
    assert_ok(decode(sx_slice_of(copy, e.len), 19, &d, &err));
    /* v17 NEW lacks the notifier Maybe at v19 */
    assert_cmd_err(sx_slice_of(copy, e.len - 1), 19, SX_SMP_CMD_SYNTAX);
    /* and v16 has one byte too many */
    assert_cmd_err(sx_slice_of(copy, e.len), 16, SX_SMP_CMD_SYNTAX);

    /* basic auth with a forbidden character */
    c = tsu_sample_cmd(SX_SMP_C_NEW);
    e = tsu_enc_cmd(&c, 19);
    uint8_t copy2[2000];
    memcpy(copy2, e.ptr, e.len);
    size_t at = 4 + 45 + 45 + 1 + 1; /* after '1' and the length byte */
    assert_int_equal(copy2[at], 'p');
    const uint8_t forbidden[] = {'@', ':', '/', ' ', 0x7f, 0x0a, 0xa0, 0xad, 0x80};
    for (size_t i = 0; i < sizeof forbidden; i++) {
        copy2[at] = forbidden[i];
        assert_cmd_err(sx_slice_of(copy2, e.len), 19, SX_SMP_CMD_SYNTAX);
    }
    copy2[at] = 0xe9; /* printable Latin-1 */
    assert_ok(decode(sx_slice_of(copy2, e.len), 19, &d, &err));

    /* RKEY with a zero count, a key list whose count overstates */
    assert_cmd_err(sx_slice_of("RKEY \x00", 6), 19, SX_SMP_CMD_SYNTAX);
    c = tsu_sample_cmd(SX_SMP_C_RKEY);
    e = tsu_enc_cmd(&c, 19);
    memcpy(copy2, e.ptr, e.len);
    copy2[5] = 4;
    assert_cmd_err(sx_slice_of(copy2, e.len), 19, SX_SMP_CMD_SYNTAX);
    copy2[5] = 2;
    assert_cmd_err(sx_slice_of(copy2, e.len), 19, SX_SMP_CMD_SYNTAX);

    /* PRXY: bad host, zero hosts */
    c = tsu_sample_cmd(SX_SMP_C_PRXY);
    e = tsu_enc_cmd(&c, 19);
    memcpy(copy2, e.ptr, e.len);
    assert_int_equal(copy2[5], 2);
    copy2[7 + 3] = ':'; /* "smp:example.com" */
    assert_cmd_err(sx_slice_of(copy2, e.len), 19, SX_SMP_CMD_SYNTAX);
    copy2[7 + 3] = '.';
    copy2[5] = 0;
    assert_cmd_err(sx_slice_of(copy2, e.len), 19, SX_SMP_CMD_SYNTAX);
}

/* PROTOCOL-NOTES D21: the notification flag, extra flag characters, the
 * body. */
static void test_send_flags(void **state)
{
    (void)state;
    sx_smp_cmd d;
    sx_smp_cmd_err err;
    assert_ok(decode(sx_slice_str("SEND T hello"), 19, &d, &err));
    assert_true(d.send.notification);
    assert_slice(d.send.body, sx_slice_str("hello"));
    assert_ok(decode(sx_slice_str("SEND FXYZ hello world"), 19, &d, &err));
    assert_false(d.send.notification);
    assert_slice(d.send.body, sx_slice_str("hello world"));
    assert_ok(decode(sx_slice_str("SEND T "), 6, &d, &err));
    assert_int_equal(d.send.body.len, 0);
    assert_ok(decode(sx_slice_str("SEND T  "), 6, &d, &err));
    assert_slice(d.send.body, sx_slice_str(" "));
    /* the encoder writes exactly one flag character */
    sx_slice e = tsu_enc_cmd(&d, 19);
    assert_slice(e, sx_slice_str("SEND T  "));
    d.send.notification = false;
    d.send.body = sx_slice_str("x");
    assert_slice(tsu_enc_cmd(&d, 19), sx_slice_str("SEND F x"));
    assert_cmd_err(sx_slice_str("SEND t x"), 19, SX_SMP_CMD_SYNTAX);
    assert_cmd_err(sx_slice_str("SEND 1 x"), 19, SX_SMP_CMD_SYNTAX);
}

/* PROTOCOL-NOTES D21: body limits per version; the decoder itself accepts any
 * length, the router compares against sx_smp_max_message_length (ERR
 * LARGE_MSG). */
static void test_send_limits(void **state)
{
    (void)state;
    for (uint16_t v = 6; v <= 19; v++) {
        size_t max = sx_smp_max_message_length(v);
        assert_int_equal(max, v >= 11 ? 16048 : v >= 8 ? 16064 : 16088);
        sx_smp_cmd c = {.tag = SX_SMP_C_SEND};
        c.send.body = tsu_seq(max + 1, 1);
        sx_slice e = tsu_enc_cmd(&c, v);
        sx_smp_cmd d;
        sx_smp_cmd_err err;
        assert_ok(decode(e, v, &d, &err));
        assert_int_equal(d.send.body.len, max + 1);
        assert_true(d.send.body.len > sx_smp_max_message_length(v));
    }
    assert_int_equal(sx_smp_max_message_length(10), 16064);
    assert_int_equal(sx_smp_max_message_length(11), 16048);
    assert_int_equal(sx_smp_max_message_length(7), 16088);
    assert_int_equal(sx_smp_max_message_length(8), 16064);
}

/* PROTOCOL-NOTES C.3: (command, auth?, entity empty?) -> OK or the CMD
 * error. */
static void test_credentials(void **state)
{
    (void)state;
    for (int t = TSU_CMD_FIRST; t <= TSU_CMD_LAST; t++) {
        for (int a = 0; a < 2; a++) {
            for (int e = 0; e < 2; e++) {
                bool auth = a, empty = e;
                sx_smp_cmd_err want = 0;
                switch (t) {
                case SX_SMP_C_NEW:
                    want = !auth ? SX_SMP_CMD_NO_AUTH : !empty ? SX_SMP_CMD_HAS_AUTH : 0;
                    break;
                case SX_SMP_C_SEND:
                    want = empty ? SX_SMP_CMD_NO_ENTITY : 0;
                    break;
                case SX_SMP_C_PING:
                case SX_SMP_C_PRXY:
                case SX_SMP_C_RFWD:
                    want = (auth || !empty) ? SX_SMP_CMD_HAS_AUTH : 0;
                    break;
                case SX_SMP_C_LGET:
                case SX_SMP_C_PFWD:
                    want = empty ? SX_SMP_CMD_NO_ENTITY : auth ? SX_SMP_CMD_HAS_AUTH : 0;
                    break;
                default:
                    want = (!auth || empty) ? SX_SMP_CMD_NO_AUTH : 0;
                    break;
                }
                sx_smp_cmd_err err = 99;
                sx_status st = sx_smp_check_credentials(t, auth, empty, &err);
                assert_int_equal(st, want ? SX_E_PROTOCOL : SX_OK);
                assert_int_equal(err, want);
            }
        }
    }
    sx_smp_cmd_err err;
    assert_int_equal(sx_smp_check_credentials(SX_SMP_C_SUB, true, false, &err), SX_OK);
    assert_int_equal(sx_smp_check_credentials(SX_SMP_C_SUBS, false, false, &err), SX_E_PROTOCOL);
    assert_int_equal(err, SX_SMP_CMD_NO_AUTH);
    assert_int_equal(sx_smp_check_credentials(0, true, false, &err), SX_E_USAGE);
}

static void test_encode_refuses(void **state)
{
    (void)state;
    sx_smp_cmd c = {.tag = 0};
    assert_int_equal(tsu_enc_cmd_status(&c, 19), SX_E_USAGE);
    c = tsu_sample_cmd(SX_SMP_C_NEW);
    c.new_queue.basic_auth = sx_slice_str("a@b");
    assert_int_equal(tsu_enc_cmd_status(&c, 19), SX_E_USAGE);
    assert_int_equal(tsu_enc_cmd_status(&c, 6), SX_E_USAGE);
    c = tsu_sample_cmd(SX_SMP_C_NEW);
    c.new_queue.queue_req.mode = 'X';
    assert_int_equal(tsu_enc_cmd_status(&c, 19), SX_E_USAGE);
    c = tsu_sample_cmd(SX_SMP_C_RKEY);
    c.keys.count = 0;
    assert_int_equal(tsu_enc_cmd_status(&c, 19), SX_E_USAGE);
    c.keys.count = 4;
    assert_int_equal(tsu_enc_cmd_status(&c, 19), SX_E_USAGE);
    c.keys.count = 2;
    assert_int_equal(tsu_enc_cmd_status(&c, 19), SX_E_USAGE);
    c = tsu_sample_cmd(SX_SMP_C_PRXY);
    c.prxy.server.hosts.count = 0;
    assert_int_equal(tsu_enc_cmd_status(&c, 19), SX_E_USAGE);
    c = tsu_sample_cmd(SX_SMP_C_ACK);
    c.msg_id = tsu_seq(256, 1);
    assert_int_equal(tsu_enc_cmd_status(&c, 19), SX_E_LIMIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_parties),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_w6_new),
        cmocka_unit_test(test_new_layouts),
        cmocka_unit_test(test_w8_prxy),
        cmocka_unit_test(test_roundtrip_all),
        cmocka_unit_test(test_decoded_fields),
        cmocka_unit_test(test_subs_versions),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_trailing),
        cmocka_unit_test(test_unknown_tags),
        cmocka_unit_test(test_strict_keys),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_send_flags),
        cmocka_unit_test(test_send_limits),
        cmocka_unit_test(test_credentials),
        cmocka_unit_test(test_encode_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
