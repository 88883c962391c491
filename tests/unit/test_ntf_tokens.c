/* Unit tests of the NTF router's tokens (src/ntf_router/tokens.h;
 * PROTOCOL-NOTES G7-G12, T10): TNEW (new, repeated with the same and with
 * another DH key), TVFY with a wrong and the right code, TCHK, TCRN limits,
 * TRPL, TDEL, unknown ids, the removal of a device's other registrations on
 * verification, and the store log: the lines written while commands run and
 * the compacted TCREATE lines both replay into the same tokens; and what
 * pushes do to tokens (confirm, periodic tokens due, INVALID with a reason);
 * the index by device token: many devices with several registrations each,
 * TNEW finding a device's own registration, TVFY removing exactly the other
 * registrations of its device, TRPL moving a token between devices, and the
 * same after a replay of the store log's TUPDATE lines. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/util.h"
#include "ntf_router/tokens.h"

#define MAX_LINES 64
static char g_lines[MAX_LINES][2048];
static size_t g_nlines;

static void collect(void *arg, sx_slice line)
{
    (void)arg;
    assert_true(g_nlines < MAX_LINES && line.len < sizeof g_lines[0]);
    memcpy(g_lines[g_nlines], line.ptr, line.len);
    g_lines[g_nlines++][line.len] = 0;
}

typedef struct client {
    sx_key *verify, *dh;
    uint8_t verify_der[SX_KEY_SPKI_MAX], dh_der[SX_KEY_SPKI_MAX];
    size_t verify_len, dh_len;
} client;

static void client_new(client *c)
{
    memset(c, 0, sizeof *c);
    assert_ok(sx_key_generate(SX_KEY_ED25519, &c->verify));
    assert_ok(sx_key_generate(SX_KEY_X25519, &c->dh));
    sx_writer w;
    sx_writer_init_fixed(&w, c->verify_der, sizeof c->verify_der);
    assert_true(sx_key_write_public(&w, c->verify));
    c->verify_len = w.len;
    sx_writer_init_fixed(&w, c->dh_der, sizeof c->dh_der);
    assert_true(sx_key_write_public(&w, c->dh));
    c->dh_len = w.len;
}

static void client_free(client *c)
{
    sx_key_free(c->verify);
    sx_key_free(c->dh);
}

static sx_ntf_cmd tnew(const client *c, sx_ntf_provider p, const char *token)
{
    sx_ntf_cmd cmd = {0};
    cmd.tag = SX_NTF_C_TNEW;
    cmd.tnew.token.provider = p;
    cmd.tnew.token.token = sx_slice_str(token);
    cmd.tnew.verify_key.der = sx_slice_of(c->verify_der, c->verify_len);
    cmd.tnew.verify_key.alg = SX_KEY_ED25519;
    cmd.tnew.dh_key.der = sx_slice_of(c->dh_der, c->dh_len);
    cmd.tnew.dh_key.alg = SX_KEY_X25519;
    return cmd;
}

static sx_ntf_cmd simple(sx_ntf_cmd_tag tag)
{
    sx_ntf_cmd c = {0};
    c.tag = tag;
    return c;
}

static sx_ntf_tkn_result res;

static sx_ntf_resp_tag run(sx_ntf_tokens *t, sx_slice id, sx_ntf_cmd c)
{
    assert_ok(sx_ntf_tokens_cmd(t, id, &c, &res));
    return res.resp.tag;
}

static void assert_status(sx_ntf_tokens *t, sx_slice id, sx_ntf_tkn_status s)
{
    assert_int_equal(run(t, id, simple(SX_NTF_C_TCHK)), SX_NTF_R_TKN);
    assert_int_equal(res.resp.tkn.status, s);
}

static void test_commands(void **state)
{
    (void)state;
    sx_ntf_tokens *t = NULL;
    assert_ok(sx_ntf_tokens_new(&t));
    g_nlines = 0;
    sx_ntf_tokens_set_log(t, collect, NULL);
    client c;
    client_new(&c);

    sx_ntf_cmd n = tnew(&c, SX_NTF_PP_APNS_NULL, "test_ntf_token");
    assert_ok(sx_ntf_tokens_tnew(t, &n, 86400, &res));
    assert_int_equal(res.resp.tag, SX_NTF_R_IDTKN);
    assert_int_equal(res.resp.idtkn.id.len, SX_NTF_ID_LEN);
    assert_true(res.push_verification);
    assert_int_equal(res.token.reg_code.len, SX_NTF_REG_CODE_LEN);
    uint8_t id_buf[SX_NTF_ID_LEN];
    memcpy(id_buf, res.resp.idtkn.id.ptr, sizeof id_buf);
    sx_slice id = sx_slice_of(id_buf, sizeof id_buf);
    sx_ntf_sl_bytes code = res.token.reg_code;
    /* the client's secret with the answered key is the token's */
    sx_key *srv = NULL;
    assert_ok(sx_key_decode_public(res.resp.idtkn.dh_key.der, SX_KEY_BIT(SX_KEY_X25519), &srv));
    uint8_t secret[32];
    size_t slen = 0;
    assert_ok(sx_key_dh(c.dh, srv, secret, sizeof secret, &slen));
    sx_key_free(srv);
    assert_bytes_equal(secret, res.token.dh_secret, 32);
    assert_status(t, id, SX_NTF_TKN_REGISTERED);

    /* TVFY: a wrong code, then the right one, twice */
    sx_ntf_cmd v = simple(SX_NTF_C_TVFY);
    uint8_t wrong[32];
    memcpy(wrong, code.b, 32);
    wrong[0] ^= 1;
    v.reg_code = sx_slice_of(wrong, 32);
    assert_int_equal(run(t, id, v), SX_NTF_R_ERR);
    assert_int_equal(res.resp.err.type, SX_SMP_ERR_AUTH);
    v.reg_code = sx_ntf_sl_slice(&code);
    assert_int_equal(run(t, id, v), SX_NTF_R_OK);
    assert_int_equal(run(t, id, v), SX_NTF_R_OK);
    assert_status(t, id, SX_NTF_TKN_ACTIVE);

    /* TCRN */
    sx_ntf_cmd cr = simple(SX_NTF_C_TCRN);
    cr.cron_minutes = 10;
    assert_int_equal(run(t, id, cr), SX_NTF_R_ERR);
    assert_int_equal(res.resp.err.type, SX_SMP_ERR_QUOTA);
    cr.cron_minutes = 19;
    assert_int_equal(run(t, id, cr), SX_NTF_R_ERR);
    cr.cron_minutes = 20;
    assert_int_equal(run(t, id, cr), SX_NTF_R_OK);
    cr.cron_minutes = 0;
    assert_int_equal(run(t, id, cr), SX_NTF_R_OK);
    cr.cron_minutes = 60;
    assert_int_equal(run(t, id, cr), SX_NTF_R_OK);

    /* TNEW again: the same id and a push; with another DH key: AUTH */
    assert_ok(sx_ntf_tokens_tnew(t, &n, 86400, &res));
    assert_int_equal(res.resp.tag, SX_NTF_R_IDTKN);
    assert_true(sx_slice_eq(res.resp.idtkn.id, id));
    assert_true(res.push_verification);
    assert_status(t, id, SX_NTF_TKN_ACTIVE);
    client other;
    client_new(&other);
    sx_ntf_cmd n2 = n;
    n2.tnew.dh_key.der = sx_slice_of(other.dh_der, other.dh_len);
    assert_ok(sx_ntf_tokens_tnew(t, &n2, 86400, &res));
    assert_int_equal(res.resp.tag, SX_NTF_R_ERR);
    assert_int_equal(res.resp.err.type, SX_SMP_ERR_AUTH);
    assert_false(res.push_verification);

    /* a token of a real provider must be hex */
    sx_ntf_cmd bad = tnew(&other, SX_NTF_PP_APNS_PROD, "not hex");
    assert_ok(sx_ntf_tokens_tnew(t, &bad, 86400, &res));
    assert_int_equal(res.resp.tag, SX_NTF_R_ERR);
    assert_int_equal(res.resp.err.cmd, SX_SMP_CMD_SYNTAX);

    /* TRPL: a new device token and code, REGISTERED, a push */
    sx_ntf_cmd rp = simple(SX_NTF_C_TRPL);
    rp.token.provider = SX_NTF_PP_APNS_TEST;
    rp.token.token = sx_slice_str("abcdef01");
    assert_int_equal(run(t, id, rp), SX_NTF_R_OK);
    assert_true(res.push_verification);
    assert_false(sx_slice_eq(sx_ntf_sl_slice(&res.token.reg_code), sx_ntf_sl_slice(&code)));
    assert_int_equal(res.token.token.provider, SX_NTF_PP_APNS_TEST);
    assert_status(t, id, SX_NTF_TKN_REGISTERED);
    v.reg_code = sx_ntf_sl_slice(&code);
    assert_int_equal(run(t, id, v), SX_NTF_R_ERR); /* the old code no longer works */
    sx_ntf_tkn_state inv = {SX_NTF_TKN_INVALID, SX_NTF_INVALID_BAD};
    assert_true(sx_ntf_tokens_set_status(t, id, inv));
    assert_status(t, id, SX_NTF_TKN_INVALID);
    assert_int_equal(res.resp.tkn.reason, SX_NTF_INVALID_BAD);

    /* replay of the lines written so far gives the same token */
    sx_ntf_tokens *t2 = NULL;
    assert_ok(sx_ntf_tokens_new(&t2));
    static sx_ntf_sl_rec rec;
    for (size_t i = 0; i < g_nlines; i++) {
        assert_ok(sx_ntf_sl_parse(sx_slice_str(g_lines[i]), &rec));
        assert_ok(sx_ntf_tokens_apply(t2, &rec));
    }
    static sx_ntf_tkn_rec a, b;
    assert_true(sx_ntf_tokens_get(t, id, &a));
    assert_true(sx_ntf_tokens_get(t2, id, &b));
    assert_int_equal(a.status.status, b.status.status);
    assert_int_equal(a.status.reason, b.status.reason);
    assert_int_equal(a.cron, 60);
    assert_int_equal(b.cron, 60);
    assert_true(sx_slice_eq(sx_ntf_sl_slice(&a.reg_code), sx_ntf_sl_slice(&b.reg_code)));
    assert_true(sx_slice_eq(sx_ntf_sl_slice(&a.token.token), sx_ntf_sl_slice(&b.token.token)));
    assert_bytes_equal(a.dh_secret, b.dh_secret, 32);
    /* and so does the compacted form */
    size_t before = g_nlines;
    assert_ok(sx_ntf_tokens_write_all(t, collect, NULL));
    assert_int_equal(g_nlines, before + 1);
    assert_non_null(strstr(g_lines[before], "TCREATE "));
    sx_ntf_tokens *t3 = NULL;
    assert_ok(sx_ntf_tokens_new(&t3));
    assert_ok(sx_ntf_sl_parse(sx_slice_str(g_lines[before]), &rec));
    assert_ok(sx_ntf_tokens_apply(t3, &rec));
    assert_true(sx_ntf_tokens_get(t3, id, &b));
    assert_int_equal(a.status.status, b.status.status);
    assert_int_equal(a.cron, b.cron);
    assert_int_equal(a.updated_at, b.updated_at);
    assert_true(sx_slice_eq(sx_ntf_sl_slice(&a.reg_code), sx_ntf_sl_slice(&b.reg_code)));
    assert_true(sx_slice_eq(sx_slice_of(a.verify_key, a.verify_key_len), sx_slice_of(b.verify_key, b.verify_key_len)));
    assert_true(sx_slice_eq(sx_slice_of(a.dh_priv, a.dh_priv_len), sx_slice_of(b.dh_priv, b.dh_priv_len)));
    assert_bytes_equal(a.dh_secret, b.dh_secret, 32);

    /* TDEL, then the id is unknown */
    assert_int_equal(run(t, id, simple(SX_NTF_C_TDEL)), SX_NTF_R_OK);
    assert_int_equal(run(t, id, simple(SX_NTF_C_TCHK)), SX_NTF_R_ERR);
    assert_int_equal(res.resp.err.type, SX_SMP_ERR_AUTH);
    assert_int_equal(sx_ntf_tokens_count(t), 0);
    assert_int_equal(run(t, sx_slice_str("unknown"), simple(SX_NTF_C_TCHK)), SX_NTF_R_ERR);
    assert_non_null(strstr(g_lines[g_nlines - 1], "TDELETE "));

    sx_ntf_tokens_free(t3);
    sx_ntf_tokens_free(t2);
    sx_ntf_tokens_free(t);
    client_free(&other);
    client_free(&c);
}

/* Verifying one registration removes the device's others that are not
 * active; many tokens exercise the index. */
static void test_registrations(void **state)
{
    (void)state;
    sx_ntf_tokens *t = NULL;
    assert_ok(sx_ntf_tokens_new(&t));
    client a, b;
    client_new(&a);
    client_new(&b);
    sx_ntf_cmd na = tnew(&a, SX_NTF_PP_APNS_DEV, "0a0b"), nb = tnew(&b, SX_NTF_PP_APNS_DEV, "0a0b");
    assert_ok(sx_ntf_tokens_tnew(t, &na, 0, &res));
    uint8_t ida[SX_NTF_ID_LEN];
    memcpy(ida, res.resp.idtkn.id.ptr, sizeof ida);
    assert_ok(sx_ntf_tokens_tnew(t, &nb, 0, &res));
    uint8_t idb[SX_NTF_ID_LEN];
    memcpy(idb, res.resp.idtkn.id.ptr, sizeof idb);
    sx_ntf_sl_bytes code_b = res.token.reg_code;
    assert_int_equal(sx_ntf_tokens_count(t), 2);

    /* 300 other tokens */
    static uint8_t ids[300][SX_NTF_ID_LEN];
    for (int i = 0; i < 300; i++) {
        client c;
        client_new(&c);
        sx_ntf_cmd n = tnew(&c, SX_NTF_PP_APNS_NULL, "x");
        assert_ok(sx_ntf_tokens_tnew(t, &n, 0, &res));
        memcpy(ids[i], res.resp.idtkn.id.ptr, SX_NTF_ID_LEN);
        client_free(&c);
    }
    sx_ntf_cmd v = simple(SX_NTF_C_TVFY);
    v.reg_code = sx_ntf_sl_slice(&code_b);
    assert_int_equal(run(t, sx_slice_of(idb, sizeof idb), v), SX_NTF_R_OK);
    assert_int_equal(run(t, sx_slice_of(ida, sizeof ida), simple(SX_NTF_C_TCHK)), SX_NTF_R_ERR);
    assert_int_equal(sx_ntf_tokens_count(t), 301);
    for (int i = 0; i < 300; i += 7)
        assert_int_equal(run(t, sx_slice_of(ids[i], SX_NTF_ID_LEN), simple(SX_NTF_C_TCHK)), SX_NTF_R_TKN);
    for (int i = 0; i < 300; i += 2)
        assert_int_equal(run(t, sx_slice_of(ids[i], SX_NTF_ID_LEN), simple(SX_NTF_C_TDEL)), SX_NTF_R_OK);
    for (int i = 0; i < 300; i++)
        assert_int_equal(run(t, sx_slice_of(ids[i], SX_NTF_ID_LEN), simple(SX_NTF_C_TCHK)),
                         i % 2 ? SX_NTF_R_TKN : SX_NTF_R_ERR);
    assert_int_equal(sx_ntf_tokens_count(t), 151);
    client_free(&a);
    client_free(&b);
    sx_ntf_tokens_free(t);
}

static size_t g_due;
static void count_due(void *arg, const sx_ntf_tkn_rec *r)
{
    (void)arg;
    assert_int_equal(r->status.status, SX_NTF_TKN_ACTIVE);
    g_due++;
}

/* After pushes: confirm (REGISTERED -> CONFIRMED, ACTIVE kept, logged as
 * TSTATUS), the periodic tokens due (ACTIVE with cron set, not since the
 * last periodic push), INVALID with a reason. */
static void test_after_push(void **state)
{
    (void)state;
    sx_ntf_tokens *t = NULL;
    assert_ok(sx_ntf_tokens_new(&t));
    g_nlines = 0;
    sx_ntf_tokens_set_log(t, collect, NULL);
    client a;
    client_new(&a);
    sx_ntf_cmd na = tnew(&a, SX_NTF_PP_APNS_TEST, "0a0b");
    assert_ok(sx_ntf_tokens_tnew(t, &na, 0, &res));
    uint8_t id[SX_NTF_ID_LEN];
    memcpy(id, res.resp.idtkn.id.ptr, sizeof id);
    sx_ntf_sl_bytes code = res.token.reg_code;
    sx_slice ids = sx_slice_of(id, sizeof id);
    size_t before = g_nlines;
    assert_true(sx_ntf_tokens_confirm(t, ids));
    assert_status(t, ids, SX_NTF_TKN_CONFIRMED);
    assert_int_equal(g_nlines, before + 1);
    assert_non_null(strstr(g_lines[before], "TSTATUS"));
    assert_non_null(strstr(g_lines[before], "CONFIRMED"));
    assert_true(sx_ntf_tokens_confirm(t, ids)); /* already: nothing logged */
    assert_int_equal(g_nlines, before + 1);
    assert_false(sx_ntf_tokens_confirm(t, sx_slice_str("no such token")));
    /* not ACTIVE yet: not due even with cron set */
    sx_ntf_cmd cron = simple(SX_NTF_C_TCRN);
    cron.cron_minutes = 20;
    assert_int_equal(run(t, ids, cron), SX_NTF_R_OK);
    g_due = 0;
    assert_int_equal(sx_ntf_tokens_due_cron(t, 1000000, count_due, NULL), 0);
    sx_ntf_cmd v = simple(SX_NTF_C_TVFY);
    v.reg_code = sx_ntf_sl_slice(&code);
    assert_int_equal(run(t, ids, v), SX_NTF_R_OK);
    assert_true(sx_ntf_tokens_confirm(t, ids));
    assert_status(t, ids, SX_NTF_TKN_ACTIVE); /* confirm keeps ACTIVE */
    assert_int_equal(sx_ntf_tokens_due_cron(t, 1000000, count_due, NULL), 1);
    sx_ntf_tokens_cron_sent(t, ids, 1000000);
    assert_int_equal(sx_ntf_tokens_due_cron(t, 1000000 + 20 * 60, count_due, NULL), 0);
    assert_int_equal(sx_ntf_tokens_due_cron(t, 1000000 + 20 * 60 + 1, count_due, NULL), 1);
    assert_int_equal(g_due, 2);
    sx_ntf_tkn_state inv = {SX_NTF_TKN_INVALID, SX_NTF_INVALID_UNREGISTERED};
    assert_true(sx_ntf_tokens_set_status(t, ids, inv));
    assert_int_equal(run(t, ids, simple(SX_NTF_C_TCHK)), SX_NTF_R_TKN);
    assert_int_equal(res.resp.tkn.reason, SX_NTF_INVALID_UNREGISTERED);
    assert_int_equal(sx_ntf_tokens_due_cron(t, 1 << 30, count_due, NULL), 0);
    client_free(&a);
    sx_ntf_tokens_free(t);
}


/* The index by device token. */
#define DEVICES 300
#define REGS 4

static sx_ntf_tokens *g_replay;
static void replay(void *arg, sx_slice line)
{
    (void)arg;
    static sx_ntf_sl_rec rec;
    assert_ok(sx_ntf_sl_parse(line, &rec));
    assert_ok(sx_ntf_tokens_apply(g_replay, &rec));
}

static void test_device_index(void **state)
{
    (void)state;
    sx_ntf_tokens *t = NULL, *copy = NULL;
    assert_ok(sx_ntf_tokens_new(&t));
    assert_ok(sx_ntf_tokens_new(&copy));
    g_replay = copy;
    sx_ntf_tokens_set_log(t, replay, NULL); /* copy follows t through its log lines */
    static client cl[REGS];
    for (int k = 0; k < REGS; k++)
        client_new(&cl[k]);
    static uint8_t ids[DEVICES][REGS][SX_NTF_ID_LEN];
    static sx_ntf_sl_bytes codes[DEVICES][REGS];
    char hex[16];
    for (int d = 0; d < DEVICES; d++)
        for (int k = 0; k < REGS; k++) {
            snprintf(hex, sizeof hex, "d0%04x", (unsigned)d);
            sx_ntf_cmd n = tnew(&cl[k], SX_NTF_PP_APNS_PROD, hex);
            assert_ok(sx_ntf_tokens_tnew(t, &n, 0, &res));
            assert_int_equal(res.resp.tag, SX_NTF_R_IDTKN);
            memcpy(ids[d][k], res.resp.idtkn.id.ptr, SX_NTF_ID_LEN);
            codes[d][k] = res.token.reg_code;
        }
    assert_int_equal(sx_ntf_tokens_count(t), DEVICES * REGS);
    /* TNEW again of the same device and verify key: the same token */
    snprintf(hex, sizeof hex, "d0%04x", 17u);
    sx_ntf_cmd again = tnew(&cl[2], SX_NTF_PP_APNS_PROD, hex);
    assert_ok(sx_ntf_tokens_tnew(t, &again, 0, &res));
    assert_int_equal(res.resp.tag, SX_NTF_R_IDTKN);
    assert_memory_equal(res.resp.idtkn.id.ptr, ids[17][2], SX_NTF_ID_LEN);
    codes[17][2] = res.token.reg_code;
    /* the same token under another provider is another device */
    sx_ntf_cmd other = tnew(&cl[0], SX_NTF_PP_APNS_DEV, hex);
    assert_ok(sx_ntf_tokens_tnew(t, &other, 0, &res));
    uint8_t other_id[SX_NTF_ID_LEN];
    memcpy(other_id, res.resp.idtkn.id.ptr, sizeof other_id);
    assert_int_equal(sx_ntf_tokens_count(t), DEVICES * REGS + 1);
    /* TRPL: device 5's registration 1 moves to device 6, device 6's
     * registration 3 moves to a new device */
    sx_ntf_cmd rp = simple(SX_NTF_C_TRPL);
    rp.token.provider = SX_NTF_PP_APNS_PROD;
    snprintf(hex, sizeof hex, "d0%04x", 6u);
    rp.token.token = sx_slice_str(hex);
    assert_int_equal(run(t, sx_slice_of(ids[5][1], SX_NTF_ID_LEN), rp), SX_NTF_R_OK);
    codes[5][1] = res.token.reg_code;
    rp.token.token = sx_slice_str("e0e0");
    assert_int_equal(run(t, sx_slice_of(ids[6][3], SX_NTF_ID_LEN), rp), SX_NTF_R_OK);
    codes[6][3] = res.token.reg_code;
    sx_ntf_tokens_set_log(t, NULL, NULL); /* the copy is the store as replayed now */
    for (int pass = 0; pass < 2; pass++) {
        sx_ntf_tokens *s = pass == 0 ? t : copy;
        /* TVFY of registration 0 of every even device: its other
         * registrations go (device 6: the one moved in, not the one moved
         * out), the other devices' stay */
        for (int d = 0; d < DEVICES; d += 2) {
            sx_ntf_cmd v = simple(SX_NTF_C_TVFY);
            v.reg_code = sx_ntf_sl_slice(&codes[d][0]);
            assert_int_equal(run(s, sx_slice_of(ids[d][0], SX_NTF_ID_LEN), v), SX_NTF_R_OK);
        }
        for (int d = 0; d < DEVICES; d++)
            for (int k = 0; k < REGS; k++) {
                bool kept = d % 2 == 1 || k == 0;
                if (d == 5 && k == 1)
                    kept = false; /* moved to device 6 */
                if (d == 6 && k == 3)
                    kept = true; /* moved away from device 6 */
                assert_int_equal(run(s, sx_slice_of(ids[d][k], SX_NTF_ID_LEN), simple(SX_NTF_C_TCHK)),
                                 kept ? SX_NTF_R_TKN : SX_NTF_R_ERR);
            }
        assert_int_equal(run(s, sx_slice_of(other_id, SX_NTF_ID_LEN), simple(SX_NTF_C_TCHK)), SX_NTF_R_TKN);
        /* even devices: 1 each; odd: REGS each, less the one moved from 5;
         * 6's moved one and the other provider's */
        assert_int_equal(sx_ntf_tokens_count(s), DEVICES / 2 + DEVICES / 2 * REGS - 1 + 1 + 1);
    }
    for (int k = 0; k < REGS; k++)
        client_free(&cl[k]);
    sx_ntf_tokens_free(t);
    sx_ntf_tokens_free(copy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_registrations),
        cmocka_unit_test(test_after_push),
        cmocka_unit_test(test_device_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
