/* Unit tests of the XFTP codecs (PROTOCOL-NOTES F.2-F.4, W9, W10): block and
 * transmission layout, every command and response at v1..v3, truncation at
 * every offset, trailing bytes, unknown tags, credential rules, the error list
 * and the three hello messages. */
#include "test_smp_util.h"

#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/x509.h"
#include "xftp/protocol.h"

static uint8_t g_buf[8][SX_XFTP_BLOCK_SIZE];
static int g_next;

static sx_slice enc_cmd(const sx_xftp_cmd *c, uint16_t v)
{
    uint8_t *b = g_buf[g_next++ % 8];
    sx_writer w;
    sx_writer_init_fixed(&w, b, SX_XFTP_BLOCK_SIZE);
    sx_xftp_cmd_write(&w, v, c);
    assert_ok(sx_writer_status(&w));
    return sx_writer_slice(&w);
}

static sx_slice enc_resp(const sx_xftp_resp *r, uint16_t v)
{
    uint8_t *b = g_buf[g_next++ % 8];
    sx_writer w;
    sx_writer_init_fixed(&w, b, SX_XFTP_BLOCK_SIZE);
    sx_xftp_resp_write(&w, v, r);
    assert_ok(sx_writer_status(&w));
    return sx_writer_slice(&w);
}

static sx_slice ids_of(const char *const *ids, size_t n, uint8_t *buf, size_t cap, size_t *count)
{
    sx_writer w;
    sx_writer_init_fixed(&w, buf, cap);
    for (size_t i = 0; i < n; i++)
        sx_write_short(&w, sx_slice_str(ids[i]));
    assert_ok(sx_writer_status(&w));
    *count = n;
    return sx_writer_slice(&w);
}

static sx_smp_list rcv_keys(void)
{
    static uint8_t buf[256];
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    sx_smp_pubkey a = tsu_key(SX_KEY_ED25519, 0x40), b = tsu_key(SX_KEY_X25519, 0x50);
    sx_smp_write_pubkey(&w, SX_KEY_AUTH_ALGS, &a);
    sx_smp_write_pubkey(&w, SX_KEY_AUTH_ALGS, &b);
    assert_ok(sx_writer_status(&w));
    sx_smp_list l = {2, sx_writer_slice(&w)};
    return l;
}

static sx_xftp_cmd sample_cmd(sx_xftp_cmd_tag tag)
{
    sx_xftp_cmd c;
    memset(&c, 0, sizeof c);
    c.tag = tag;
    switch (tag) {
    case SX_XFTP_C_FNEW:
        c.fnew.file.snd_key = tsu_key(SX_KEY_ED25519, 0x10);
        c.fnew.file.size = SX_XFTP_CHUNK_256K;
        c.fnew.file.digest = tsu_seq(32, 0xa0);
        c.fnew.rcv_keys = rcv_keys();
        c.fnew.has_basic_auth = true;
        c.fnew.basic_auth = sx_slice_str("s3cret!");
        break;
    case SX_XFTP_C_FADD:
        c.rcv_keys = rcv_keys();
        break;
    case SX_XFTP_C_FGET:
        c.dh_key = tsu_key(SX_KEY_X25519, 0x60);
        break;
    default:
        break;
    }
    return c;
}

static sx_xftp_resp sample_resp(sx_xftp_resp_tag tag)
{
    static uint8_t ids_buf[64];
    static const char *const ids[] = {"0123456789abcdef", "fedcba9876543210", "x"};
    sx_xftp_resp r;
    memset(&r, 0, sizeof r);
    r.tag = tag;
    switch (tag) {
    case SX_XFTP_R_SIDS:
        r.sids.sender_id = sx_slice_str("sender-id-16byte");
        r.sids.rcv_ids.items = ids_of(ids, 3, ids_buf, sizeof ids_buf, &r.sids.rcv_ids.count);
        break;
    case SX_XFTP_R_RIDS:
        r.rcv_ids.items = ids_of(ids, 2, ids_buf, sizeof ids_buf, &r.rcv_ids.count);
        break;
    case SX_XFTP_R_FILE:
        r.file.dh_key = tsu_key(SX_KEY_X25519, 0x70);
        r.file.nonce = tsu_seq(SX_XFTP_NONCE_LEN, 0x33);
        break;
    case SX_XFTP_R_ERR:
        r.err = sx_xftp_error_cmd(SX_SMP_CMD_SYNTAX);
        break;
    default:
        break;
    }
    return r;
}

static void test_names_versions_sizes(void **state)
{
    (void)state;
    assert_string_equal(sx_xftp_cmd_name(SX_XFTP_C_FNEW), "FNEW");
    assert_string_equal(sx_xftp_cmd_name(SX_XFTP_C_PING), "PING");
    assert_string_equal(sx_xftp_cmd_name(0), "?");
    assert_int_equal(sx_xftp_cmd_party(SX_XFTP_C_FPUT), SX_XFTP_PARTY_SENDER);
    assert_int_equal(sx_xftp_cmd_party(SX_XFTP_C_FACK), SX_XFTP_PARTY_RECIPIENT);
    assert_int_equal(sx_xftp_cmd_party(SX_XFTP_C_PING), SX_XFTP_PARTY_RECIPIENT);
    assert_int_equal(sx_xftp_cmd_party(42), 0);
    assert_string_equal(sx_xftp_resp_name(SX_XFTP_R_SIDS), "SIDS");
    assert_int_equal(sx_xftp_vrange().min, 1);
    assert_int_equal(sx_xftp_vrange().max, 3);
    assert_true(sx_xftp_chunk_size_allowed(65536));
    assert_true(sx_xftp_chunk_size_allowed(262144));
    assert_true(sx_xftp_chunk_size_allowed(1048576));
    assert_true(sx_xftp_chunk_size_allowed(4194304));
    assert_false(sx_xftp_chunk_size_allowed(0));
    assert_false(sx_xftp_chunk_size_allowed(65535));
    assert_false(sx_xftp_chunk_size_allowed(8388608));
}

/* PROTOCOL-NOTES W9: FNEW signed with Ed25519, 64 KiB chunk, one recipient key,
 * no auth. */
static void test_w9_fnew(void **state)
{
    (void)state;
    sx_xftp_cmd c;
    memset(&c, 0, sizeof c);
    c.tag = SX_XFTP_C_FNEW;
    c.fnew.file.snd_key = tsu_key(SX_KEY_ED25519, 0x01);
    c.fnew.file.size = 65536;
    c.fnew.file.digest = tsu_seq(32, 0x80);
    uint8_t kb[64];
    sx_writer kw;
    sx_writer_init_fixed(&kw, kb, sizeof kb);
    sx_smp_pubkey rk = tsu_key(SX_KEY_ED25519, 0x02);
    assert_true(sx_smp_write_pubkey(&kw, SX_KEY_AUTH_ALGS, &rk));
    c.fnew.rcv_keys.count = 1;
    c.fnew.rcv_keys.items = sx_writer_slice(&kw);
    sx_slice cmd = enc_cmd(&c, 3);

    size_t n;
    char hex[1024];
    strcpy(hex, "464e455720"); /* "FNEW " */
    strcat(hex, "2c302a300506032b6570032100");
    strcat(hex, tu_to_hex(tsu_seq(32, 0x01).ptr, 32));
    strcat(hex, "00010000");
    strcat(hex, "20");
    strcat(hex, tu_to_hex(tsu_seq(32, 0x80).ptr, 32));
    strcat(hex, "012c302a300506032b6570032100");
    strcat(hex, tu_to_hex(tsu_seq(32, 0x02).ptr, 32));
    strcat(hex, "30");
    uint8_t *want = tu_hex(hex, &n);
    assert_int_equal(cmd.len, n);
    assert_bytes_equal(cmd.ptr, want, n);
    free(want);

    /* The transmission and its block. */
    sx_xftp_transmission t = {
        .auth = tsu_seq(64, 0xee),
        .session_id = tsu_seq(32, 0x11),
        .command = cmd,
    };
    uint8_t tb[512];
    sx_writer w;
    sx_writer_init_fixed(&w, tb, sizeof tb);
    assert_true(sx_xftp_transmission_write(&w, &t));
    sx_slice ts = sx_writer_slice(&w);
    assert_int_equal(ts.len, 1 + 64 + 1 + 32 + 1 + 1 + cmd.len);
    assert_int_equal(ts.ptr[0], 0x40);
    assert_int_equal(ts.ptr[65], 0x20);
    assert_int_equal(ts.ptr[98], 0x00); /* empty corrId */
    assert_int_equal(ts.ptr[99], 0x00); /* empty entity */
    assert_bytes_equal(ts.ptr + 100, cmd.ptr, cmd.len);

    static uint8_t block[SX_XFTP_BLOCK_SIZE];
    assert_ok(sx_xftp_block_encode(ts, block));
    assert_int_equal((block[0] << 8) | block[1], ts.len + 3);
    assert_int_equal(block[2], 0x01);
    assert_int_equal((block[3] << 8) | block[4], ts.len);
    assert_bytes_equal(block + 5, ts.ptr, ts.len);
    for (size_t i = 5 + ts.len; i < SX_XFTP_BLOCK_SIZE; i++)
        assert_int_equal(block[i], '#');

    sx_slice back;
    assert_ok(sx_xftp_block_decode(sx_slice_of(block, sizeof block), &back));
    sx_xftp_request req;
    assert_ok(sx_xftp_request_decode(back, 3, tsu_seq(32, 0x11), &req));
    assert_int_equal(req.auth_kind, SX_SMP_AUTH_ED25519);
    assert_int_equal(req.cmd.tag, SX_XFTP_C_FNEW);
    assert_int_equal(req.cmd.fnew.file.size, 65536);
    assert_int_equal(req.cmd.fnew.rcv_keys.count, 1);
    assert_false(req.cmd.fnew.has_basic_auth);
    /* what the signature covers: everything after the auth field */
    assert_int_equal(req.t.signed_part.len, ts.len - 65);
    assert_ptr_equal(req.t.signed_part.ptr, back.ptr + 65);
    sx_writer_init_fixed(&w, tb, sizeof tb);
    assert_true(sx_xftp_write_auth_bytes(&w, t.session_id, t.corr_id, t.entity_id, cmd));
    assert_true(sx_slice_eq(sx_writer_slice(&w), req.t.signed_part));
}

/* PROTOCOL-NOTES W10: FILE with the router's X25519 key and a 24-byte nonce. */
static void test_w10_file(void **state)
{
    (void)state;
    sx_xftp_resp r = sample_resp(SX_XFTP_R_FILE);
    sx_slice e = enc_resp(&r, 3);
    assert_int_equal(e.len, 5 + 45 + 24);
    assert_memory_equal(e.ptr, "FILE \x2c", 6);
    assert_string_equal(tu_to_hex(e.ptr + 6, 12), "302a300506032b656e032100");
    assert_bytes_equal(e.ptr + 50, tsu_seq(24, 0x33).ptr, 24);
    sx_xftp_resp d;
    sx_smp_cmd_err err;
    assert_ok(sx_xftp_resp_decode(e, 3, &d, &err));
    assert_int_equal(d.tag, SX_XFTP_R_FILE);
    assert_int_equal(d.file.dh_key.alg, SX_KEY_X25519);
    assert_true(sx_slice_eq(d.file.nonce, tsu_seq(24, 0x33)));
    /* a nonce of 23 bytes, or the key of another algorithm, is SYNTAX */
    assert_int_equal(sx_xftp_resp_decode(sx_slice_of(e.ptr, e.len - 1), 3, &d, &err),
                     SX_E_PROTOCOL);
    assert_int_equal(err, SX_SMP_CMD_SYNTAX);
    r.file.dh_key = tsu_key(SX_KEY_ED25519, 0x70);
    sx_writer w;
    uint8_t buf[128];
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_false(sx_xftp_resp_write(&w, 3, &r));
    assert_int_equal(sx_writer_status(&w), SX_E_USAGE);
}

static void test_roundtrip_and_truncation(void **state)
{
    (void)state;
    for (uint16_t v = 1; v <= 3; v++) {
        for (int t = SX_XFTP_C_FNEW; t <= SX_XFTP_C_PING; t++) {
            sx_xftp_cmd c = sample_cmd((sx_xftp_cmd_tag)t), d;
            sx_slice e = enc_cmd(&c, v);
            sx_smp_cmd_err err;
            assert_ok(sx_xftp_cmd_decode(e, v, &d, &err));
            assert_int_equal(d.tag, t);
            sx_slice e2 = enc_cmd(&d, v);
            assert_true(sx_slice_eq(e, e2));
            for (size_t cut = 0; cut < e.len; cut++) {
                assert_int_equal(sx_xftp_cmd_decode(sx_slice_of(e.ptr, cut), v, &d, &err),
                                 SX_E_PROTOCOL);
                assert_true(err == SX_SMP_CMD_SYNTAX || err == SX_SMP_CMD_UNKNOWN);
                assert_int_equal(d.tag, 0);
            }
            uint8_t more[SX_XFTP_BLOCK_SIZE];
            memcpy(more, e.ptr, e.len);
            more[e.len] = ' ';
            assert_int_equal(sx_xftp_cmd_decode(sx_slice_of(more, e.len + 1), v, &d, &err),
                             SX_E_PROTOCOL);
            assert_int_equal(err, SX_SMP_CMD_SYNTAX);
        }
        for (int t = SX_XFTP_R_SIDS; t <= SX_XFTP_R_PONG; t++) {
            sx_xftp_resp r = sample_resp((sx_xftp_resp_tag)t), d;
            sx_slice e = enc_resp(&r, v);
            sx_smp_cmd_err err;
            assert_ok(sx_xftp_resp_decode(e, v, &d, &err));
            assert_int_equal(d.tag, t);
            assert_true(sx_slice_eq(e, enc_resp(&d, v)));
            for (size_t cut = 0; cut < e.len; cut++) {
                assert_int_equal(sx_xftp_resp_decode(sx_slice_of(e.ptr, cut), v, &d, &err),
                                 SX_E_PROTOCOL);
                assert_true(err == SX_SMP_CMD_SYNTAX || err == SX_SMP_CMD_UNKNOWN);
            }
            uint8_t more[SX_XFTP_BLOCK_SIZE];
            memcpy(more, e.ptr, e.len);
            more[e.len] = ' ';
            assert_int_equal(sx_xftp_resp_decode(sx_slice_of(more, e.len + 1), v, &d, &err),
                             SX_E_PROTOCOL);
            assert_int_equal(err, SX_SMP_CMD_SYNTAX);
        }
    }
}

static void test_decoded_fields(void **state)
{
    (void)state;
    sx_xftp_cmd c = sample_cmd(SX_XFTP_C_FNEW), d;
    sx_smp_cmd_err err;
    assert_ok(sx_xftp_cmd_decode(enc_cmd(&c, 3), 3, &d, &err));
    assert_int_equal(d.fnew.file.snd_key.alg, SX_KEY_ED25519);
    assert_int_equal(d.fnew.file.size, SX_XFTP_CHUNK_256K);
    assert_true(sx_slice_eq(d.fnew.file.digest, tsu_seq(32, 0xa0)));
    assert_int_equal(d.fnew.rcv_keys.count, 2);
    sx_smp_pubkey k;
    assert_ok(sx_smp_list_key(&d.fnew.rcv_keys, 1, &k));
    assert_int_equal(k.alg, SX_KEY_X25519);
    assert_true(d.fnew.has_basic_auth);
    assert_true(sx_slice_eq(d.fnew.basic_auth, sx_slice_str("s3cret!")));

    sx_xftp_resp r = sample_resp(SX_XFTP_R_SIDS), dr;
    assert_ok(sx_xftp_resp_decode(enc_resp(&r, 3), 3, &dr, &err));
    assert_true(sx_slice_eq(dr.sids.sender_id, sx_slice_str("sender-id-16byte")));
    assert_int_equal(dr.sids.rcv_ids.count, 3);
    sx_slice id;
    assert_ok(sx_xftp_ids_get(&dr.sids.rcv_ids, 2, &id));
    assert_true(sx_slice_eq(id, sx_slice_str("x")));
    assert_int_equal(sx_xftp_ids_get(&dr.sids.rcv_ids, 3, &id), SX_E_USAGE);

    /* FGET takes only an X25519 key; FNEW's basic auth is checked
     * (PROTOCOL-NOTES A22). */
    sx_xftp_cmd bad = sample_cmd(SX_XFTP_C_FGET);
    bad.dh_key = tsu_key(SX_KEY_ED25519, 0x60);
    uint8_t buf[256];
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_false(sx_xftp_cmd_write(&w, 3, &bad));
    uint8_t raw[64] = "FGET ";
    sx_smp_pubkey ed = tsu_key(SX_KEY_ED25519, 0x60);
    raw[5] = (uint8_t)ed.der.len;
    memcpy(raw + 6, ed.der.ptr, ed.der.len);
    assert_int_equal(sx_xftp_cmd_decode(sx_slice_of(raw, 6 + ed.der.len), 3, &d, &err),
                     SX_E_PROTOCOL);
    assert_int_equal(err, SX_SMP_CMD_SYNTAX);
    bad = sample_cmd(SX_XFTP_C_FNEW);
    bad.fnew.basic_auth = sx_slice_str("a:b");
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_false(sx_xftp_cmd_write(&w, 3, &bad));
    /* NonEmpty: zero recipient keys is SYNTAX */
    sx_slice e = enc_cmd(&c, 3);
    uint8_t copy[512];
    memcpy(copy, e.ptr, e.len);
    size_t count_at = 5 + 45 + 4 + 33;
    assert_int_equal(copy[count_at], 2);
    copy[count_at] = 0;
    assert_int_equal(sx_xftp_cmd_decode(sx_slice_of(copy, e.len), 3, &d, &err), SX_E_PROTOCOL);
    assert_int_equal(err, SX_SMP_CMD_SYNTAX);
}

static void test_unknown_tags(void **state)
{
    (void)state;
    static const char *const bad[] = {"", "fnew", "FNEWX", "NEW", "SEND", " FNEW", "PONG", "OK"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sx_xftp_cmd d;
        sx_smp_cmd_err err;
        assert_int_equal(sx_xftp_cmd_decode(sx_slice_str(bad[i]), 1, &d, &err), SX_E_PROTOCOL);
        assert_int_equal(err, SX_SMP_CMD_UNKNOWN);
    }
    sx_xftp_resp d;
    sx_smp_cmd_err err;
    assert_int_equal(sx_xftp_resp_decode(sx_slice_str("FNEW"), 1, &d, &err), SX_E_PROTOCOL);
    assert_int_equal(err, SX_SMP_CMD_UNKNOWN);
    /* a parameterless command followed by a space is a syntax error */
    sx_xftp_cmd c;
    assert_int_equal(sx_xftp_cmd_decode(sx_slice_str("PING "), 1, &c, &err), SX_E_PROTOCOL);
    assert_int_equal(err, SX_SMP_CMD_SYNTAX);
    assert_ok(sx_xftp_cmd_decode(sx_slice_str("FPUT"), 1, &c, &err));
    assert_int_equal(c.tag, SX_XFTP_C_FPUT);
}

static void test_errors(void **state)
{
    (void)state;
    for (int t = SX_XFTP_ERR_BLOCK; t <= SX_XFTP_ERR_DUPLICATE; t++) {
        sx_xftp_error e = sx_xftp_error_of((sx_xftp_err_type)t);
        if (t == SX_XFTP_ERR_CMD)
            e.cmd = SX_SMP_CMD_NO_ENTITY;
        if (t == SX_XFTP_ERR_BLOCKED)
            e.blocked.reason = SX_SMP_BLOCK_CONTENT;
        uint8_t buf[128];
        sx_writer w;
        sx_writer_init_fixed(&w, buf, sizeof buf);
        assert_true(sx_xftp_error_write(&w, 3, &e));
        sx_reader r;
        sx_reader_init_slice(&r, sx_writer_slice(&w));
        sx_xftp_error d;
        assert_true(sx_xftp_error_read(&r, &d));
        assert_int_equal(d.type, t);
        assert_int_equal(d.cmd, e.cmd);
        assert_int_equal(d.blocked.reason, e.blocked.reason);
    }
    sx_xftp_resp r = sample_resp(SX_XFTP_R_ERR);
    r.err = sx_xftp_error_of(SX_XFTP_ERR_BLOCKED);
    r.err.blocked.reason = SX_SMP_BLOCK_SPAM;
    sx_slice v3 = enc_resp(&r, 3), v2 = enc_resp(&r, 2);
    assert_true(sx_slice_eq(v3, sx_slice_str("ERR BLOCKED reason=spam")));
    assert_true(sx_slice_eq(v2, sx_slice_str("ERR AUTH")));
    assert_true(sx_slice_eq(enc_resp(&(sx_xftp_resp){.tag = SX_XFTP_R_ERR,
                                                     .err = sx_xftp_error_cmd(SX_SMP_CMD_HAS_AUTH)},
                                     1),
                            sx_slice_str("ERR CMD HAS_AUTH")));
    sx_xftp_resp d;
    sx_smp_cmd_err err;
    assert_ok(sx_xftp_resp_decode(sx_slice_str("ERR CMD NO_QUEUE"), 3, &d, &err));
    assert_int_equal(d.err.cmd, SX_SMP_CMD_NO_ENTITY);
    assert_ok(sx_xftp_resp_decode(sx_slice_str("ERR BLOCKED reason=content,notice={\"ttl\":60}"),
                                  3, &d, &err));
    assert_true(d.err.blocked.has_notice && d.err.blocked.has_ttl);
    static const char *const bad[] = {"ERR", "ERR ", "ERR CMD", "ERR CMD ", "ERR CMD BAD",
                                      "ERR AUTH ", "ERR NOPE", "ERR BLOCKED", "ERR BLOCKED x",
                                      "ERR CMD SYNTAX x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(sx_xftp_resp_decode(sx_slice_str(bad[i]), 3, &d, &err), SX_E_PROTOCOL);
        assert_int_equal(err, SX_SMP_CMD_SYNTAX);
    }
    assert_string_equal(sx_xftp_err_name(SX_XFTP_ERR_NO_FILE), "NO_FILE");
    assert_string_equal(sx_xftp_err_name(0), "?");
}

static void test_blocks(void **state)
{
    (void)state;
    static uint8_t block[SX_XFTP_BLOCK_SIZE];
    static uint8_t big[SX_XFTP_MAX_TRANSMISSION + 1];
    sx_slice t;
    assert_ok(sx_xftp_block_encode(sx_slice_of(big, SX_XFTP_MAX_TRANSMISSION), block));
    assert_ok(sx_xftp_block_decode(sx_slice_of(block, sizeof block), &t));
    assert_int_equal(t.len, SX_XFTP_MAX_TRANSMISSION);
    assert_int_equal(sx_xftp_block_encode(sx_slice_of(big, sizeof big), block), SX_E_LIMIT);

    assert_ok(sx_xftp_block_encode(sx_slice_str("abc"), block));
    assert_int_equal(sx_xftp_block_decode(sx_slice_of(block, sizeof block - 1), &t),
                     SX_E_PROTOCOL);
    /* two items, or bytes after the only item, are ERR BLOCK */
    block[2] = 2;
    assert_int_equal(sx_xftp_block_decode(sx_slice_of(block, sizeof block), &t), SX_E_PROTOCOL);
    block[2] = 0;
    assert_int_equal(sx_xftp_block_decode(sx_slice_of(block, sizeof block), &t), SX_E_PROTOCOL);
    block[2] = 1;
    block[1] = 9; /* content length 9 > 1 + 2 + 3 */
    assert_int_equal(sx_xftp_block_decode(sx_slice_of(block, sizeof block), &t), SX_E_PROTOCOL);
    block[0] = 0x7f; /* content longer than the block */
    assert_int_equal(sx_xftp_block_decode(sx_slice_of(block, sizeof block), &t), SX_E_PROTOCOL);
}

static sx_slice make_ts(sx_slice auth, sx_slice sid, sx_slice corr, sx_slice ent, sx_slice cmd)
{
    uint8_t *b = g_buf[g_next++ % 8];
    sx_xftp_transmission t = {auth, sid, corr, ent, cmd, {0}};
    sx_writer w;
    sx_writer_init_fixed(&w, b, SX_XFTP_BLOCK_SIZE);
    assert_true(sx_xftp_transmission_write(&w, &t));
    return sx_writer_slice(&w);
}

static sx_slice make_t(sx_slice auth, sx_slice sid, sx_slice corr, sx_slice ent, const char *cmd)
{
    return make_ts(auth, sid, corr, ent, sx_slice_str(cmd));
}

static void expect_req(sx_slice t, sx_xftp_err_type type, sx_smp_cmd_err cmd, bool has_corr,
                       bool has_entity)
{
    sx_xftp_request req;
    assert_int_equal(sx_xftp_request_decode(t, 3, tsu_seq(32, 1), &req), SX_E_PROTOCOL);
    assert_int_equal(req.err.type, type);
    assert_int_equal(req.err.cmd, cmd);
    assert_int_equal(req.reply_corr_id.len > 0, has_corr);
    assert_int_equal(req.reply_entity_id.len > 0, has_entity);
}

static void test_request_errors(void **state)
{
    (void)state;
    sx_slice sid = tsu_seq(32, 1), sig = tsu_seq(64, 9), corr = sx_slice_str("c"),
             ent = sx_slice_str("0123456789abcdef"), none = {0};
    sx_xftp_request req;
    sx_slice ok = make_t(sig, sid, corr, ent, "FDEL");
    assert_ok(sx_xftp_request_decode(ok, 3, sid, &req));
    assert_int_equal(req.cmd.tag, SX_XFTP_C_FDEL);
    for (size_t cut = 0; cut < ok.len - 4; cut++)
        expect_req(sx_slice_of(ok.ptr, cut), SX_XFTP_ERR_BLOCK, 0, false, false);
    expect_req(make_t(sig, tsu_seq(32, 2), corr, ent, "FDEL"), SX_XFTP_ERR_SESSION, 0, true, false);
    expect_req(make_t(sig, none, corr, ent, "FDEL"), SX_XFTP_ERR_SESSION, 0, true, false);
    expect_req(make_t(tsu_seq(10, 9), sid, corr, ent, "FDEL"), SX_XFTP_ERR_BLOCK, 0, true, false);
    expect_req(make_t(sig, sid, corr, ent, "FDEX"), SX_XFTP_ERR_CMD, SX_SMP_CMD_UNKNOWN, true,
               true);
    expect_req(make_t(sig, sid, corr, ent, "FDEL "), SX_XFTP_ERR_CMD, SX_SMP_CMD_SYNTAX, true,
               true);
    /* PROTOCOL-NOTES F15 credentials */
    expect_req(make_t(none, sid, corr, ent, "FDEL"), SX_XFTP_ERR_CMD, SX_SMP_CMD_NO_AUTH, true,
               true);
    expect_req(make_t(sig, sid, corr, none, "FACK"), SX_XFTP_ERR_CMD, SX_SMP_CMD_NO_AUTH, true,
               false);
    expect_req(make_t(sig, sid, corr, ent, "PING"), SX_XFTP_ERR_CMD, SX_SMP_CMD_HAS_AUTH, true,
               true);
    expect_req(make_t(none, sid, corr, ent, "PING"), SX_XFTP_ERR_CMD, SX_SMP_CMD_HAS_AUTH, true,
               true);
    assert_ok(sx_xftp_request_decode(make_t(none, sid, none, none, "PING"), 1, sid, &req));
    assert_int_equal(req.auth_kind, SX_SMP_AUTH_NONE);
    /* FNEW: auth required, entity forbidden */
    sx_xftp_cmd c = sample_cmd(SX_XFTP_C_FNEW);
    sx_slice fnew = enc_cmd(&c, 3);
    expect_req(make_ts(none, sid, corr, none, fnew), SX_XFTP_ERR_CMD, SX_SMP_CMD_NO_AUTH, true,
               false);
    expect_req(make_ts(sig, sid, corr, ent, fnew), SX_XFTP_ERR_CMD, SX_SMP_CMD_HAS_AUTH, true,
               true);
    assert_ok(sx_xftp_request_decode(make_ts(tsu_seq(80, 3), sid, none, none, fnew), 2, sid, &req));
    assert_int_equal(req.auth_kind, SX_SMP_AUTH_AUTHENTICATOR);
    sx_smp_cmd_err ce;
    assert_int_equal(sx_xftp_check_credentials(99, true, false, &ce), SX_E_USAGE);
}

static void test_reply_decode(void **state)
{
    (void)state;
    sx_slice sid = tsu_seq(32, 1), ent = sx_slice_str("r"), none = {0};
    sx_xftp_reply rep;
    assert_ok(sx_xftp_reply_decode(make_t(none, sid, none, ent, "OK"), 3, sid, &rep));
    assert_int_equal(rep.resp.tag, SX_XFTP_R_OK);
    assert_ok(sx_xftp_reply_decode(make_t(none, sid, none, none, "PONG"), 3, sid, &rep));
    assert_ok(sx_xftp_reply_decode(make_t(none, sid, none, none, "ERR AUTH"), 3, sid, &rep));
    assert_int_equal(rep.resp.err.type, SX_XFTP_ERR_AUTH);
    assert_int_equal(sx_xftp_reply_decode(make_t(none, sid, none, none, "OK"), 3, sid, &rep),
                     SX_E_PROTOCOL);
    assert_int_equal(rep.err.cmd, SX_SMP_CMD_NO_ENTITY);
    assert_int_equal(sx_xftp_reply_decode(make_t(none, sid, none, ent, "PONG"), 3, sid, &rep),
                     SX_E_PROTOCOL);
    assert_int_equal(rep.err.cmd, SX_SMP_CMD_HAS_AUTH);
    assert_int_equal(sx_xftp_reply_decode(make_t(none, tsu_seq(32, 2), none, ent, "OK"), 3, sid,
                                          &rep),
                     SX_E_PROTOCOL);
    assert_int_equal(rep.err.type, SX_XFTP_ERR_SESSION);
    assert_int_equal(sx_xftp_reply_decode(sx_slice_str("\x05"), 3, sid, &rep), SX_E_PROTOCOL);
    assert_int_equal(rep.err.type, SX_XFTP_ERR_BLOCK);
    assert_int_equal(sx_xftp_reply_decode(make_t(none, sid, none, ent, "OKAY"), 3, sid, &rep),
                     SX_E_PROTOCOL);
    assert_int_equal(rep.err.type, SX_XFTP_ERR_CMD);
    assert_int_equal(rep.err.cmd, SX_SMP_CMD_UNKNOWN);
}

static void load_der(const char *rel, uint8_t **der, size_t *len)
{
    X509 *x = NULL;
    assert_ok(sx_x509_read_cert_file(tu_data_path(rel), &x));
    assert_ok(sx_x509_to_der(x, der, len));
    X509_free(x);
}

static void test_hellos(void **state)
{
    (void)state;
    uint8_t *srv_der, *ca_der;
    size_t srv_len, ca_len;
    load_der("fixtures/server.crt", &srv_der, &srv_len);
    load_der("fixtures/ca.crt", &ca_der, &ca_len);
    sx_key *signer = NULL, *dh = NULL;
    assert_ok(sx_x509_read_key_file(tu_data_path("fixtures/server.key"), SX_KEY_SIGN_ALGS,
                                    &signer));
    assert_ok(sx_key_generate(SX_KEY_X25519, &dh));
    uint8_t skbuf[512];
    sx_writer sw;
    sx_writer_init_fixed(&sw, skbuf, sizeof skbuf);
    assert_true(sx_x509_write_signed_key(&sw, signer, dh));

    sx_xftp_server_hello h = {.range = sx_xftp_vrange(), .session_id = tsu_seq(32, 7)};
    h.cert_key.chain_len = 2;
    h.cert_key.chain[0] = sx_slice_of(srv_der, srv_len);
    h.cert_key.chain[1] = sx_slice_of(ca_der, ca_len);
    h.cert_key.signed_key = sx_writer_slice(&sw);
    static uint8_t buf[SX_XFTP_BLOCK_SIZE];
    for (int proof = 0; proof < 2; proof++) {
        h.has_web_proof = proof;
        h.web_proof = proof ? tsu_seq(114, 5) : sx_slice_of(NULL, 0);
        sx_writer w;
        sx_writer_init_fixed(&w, buf, sizeof buf - 8);
        assert_true(sx_xftp_server_hello_write(&w, &h));
        sx_slice e = sx_writer_slice(&w);
        assert_bytes_equal(e.ptr, "\x00\x01\x00\x03\x20", 5);
        assert_int_equal(e.ptr[e.len - (proof ? 115 : 1)], proof ? 114 : 0);
        sx_xftp_server_hello d;
        assert_ok(sx_xftp_server_hello_decode(e, &d));
        assert_int_equal(d.range.max, 3);
        assert_true(sx_slice_eq(d.session_id, h.session_id));
        assert_int_equal(d.cert_key.chain_len, 2);
        assert_true(sx_slice_eq(d.cert_key.chain[1], h.cert_key.chain[1]));
        assert_true(sx_slice_eq(d.cert_key.signed_key, h.cert_key.signed_key));
        assert_int_equal(d.has_web_proof, proof);
        /* trailing bytes are ignored */
        memcpy(buf + e.len, "tail", 4);
        assert_ok(sx_xftp_server_hello_decode(sx_slice_of(buf, e.len + 4), &d));
        assert_int_equal(d.has_web_proof, proof);
        /* truncated mandatory parts fail; a truncated proof is absent */
        size_t mandatory = e.len - (proof ? 115 : 1);
        for (size_t cut = 0; cut < e.len; cut++) {
            sx_status st = sx_xftp_server_hello_decode(sx_slice_of(e.ptr, cut), &d);
            if (cut < mandatory)
                assert_int_equal(st, SX_E_PROTOCOL);
            else {
                assert_ok(st);
                assert_false(d.has_web_proof);
            }
        }
    }
    /* a proof of another length is read as absent */
    {
        sx_writer w;
        sx_writer_init_fixed(&w, buf, sizeof buf);
        h.has_web_proof = false;
        assert_true(sx_xftp_server_hello_write(&w, &h));
        buf[w.len - 1] = 3;
        memcpy(buf + w.len, "abc", 3);
        sx_xftp_server_hello d;
        assert_ok(sx_xftp_server_hello_decode(sx_slice_of(buf, w.len + 3), &d));
        assert_false(d.has_web_proof);
        h.has_web_proof = true;
        h.web_proof = tsu_seq(10, 1);
        sx_writer_init_fixed(&w, buf, sizeof buf);
        assert_false(sx_xftp_server_hello_write(&w, &h));
    }

    /* client handshake */
    sx_xftp_client_handshake ch = {.version = 3, .key_hash = tsu_seq(32, 4)}, chd;
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_true(sx_xftp_client_handshake_write(&w, &ch));
    assert_int_equal(w.len, 35);
    assert_bytes_equal(buf, "\x00\x03\x20", 3);
    memcpy(buf + 35, "more", 4);
    assert_ok(sx_xftp_client_handshake_decode(sx_slice_of(buf, 39), &chd));
    assert_int_equal(chd.version, 3);
    assert_true(sx_slice_eq(chd.key_hash, ch.key_hash));
    for (size_t cut = 0; cut < 35; cut++)
        assert_int_equal(sx_xftp_client_handshake_decode(sx_slice_of(buf, cut), &chd),
                         SX_E_PROTOCOL);

    /* web client hello */
    sx_xftp_client_hello wh = {.has_web_challenge = true, .web_challenge = tsu_seq(32, 8)}, whd;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_true(sx_xftp_client_hello_write(&w, &wh));
    assert_int_equal(w.len, 34);
    assert_ok(sx_xftp_client_hello_decode(sx_slice_of(buf, 34), &whd));
    assert_true(whd.has_web_challenge && sx_slice_eq(whd.web_challenge, wh.web_challenge));
    for (size_t cut = 0; cut < 34; cut++)
        assert_int_equal(sx_xftp_client_hello_decode(sx_slice_of(buf, cut), &whd), SX_E_PROTOCOL);
    buf[1] = 31;
    assert_int_equal(sx_xftp_client_hello_decode(sx_slice_of(buf, 34), &whd), SX_E_PROTOCOL);
    assert_ok(sx_xftp_client_hello_decode(sx_slice_str("0 anything"), &whd));
    assert_false(whd.has_web_challenge);
    assert_int_equal(sx_xftp_client_hello_decode(sx_slice_str("2"), &whd), SX_E_PROTOCOL);
    wh.web_challenge = tsu_seq(31, 8);
    sx_writer_init_fixed(&w, buf, sizeof buf);
    assert_false(sx_xftp_client_hello_write(&w, &wh));

    sx_key_free(signer);
    sx_key_free(dh);
    free(srv_der);
    free(ca_der);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_versions_sizes),
        cmocka_unit_test(test_w9_fnew),
        cmocka_unit_test(test_w10_file),
        cmocka_unit_test(test_roundtrip_and_truncation),
        cmocka_unit_test(test_decoded_fields),
        cmocka_unit_test(test_unknown_tags),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_blocks),
        cmocka_unit_test(test_request_errors),
        cmocka_unit_test(test_reply_decode),
        cmocka_unit_test(test_hellos),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
