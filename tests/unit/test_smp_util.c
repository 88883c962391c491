/* Helpers shared by the SMP codec tests. */
#include "test_smp_util.h"

#include <string.h>

#include "smp/version.h"

#define SLOTS 8
#define SLOT_LEN 40000

static uint8_t slots[SLOTS][SLOT_LEN];
static size_t next_slot;

static uint8_t *slot(void)
{
    uint8_t *s = slots[next_slot];
    next_slot = (next_slot + 1) % SLOTS;
    return s;
}

sx_smp_pubkey tsu_key(sx_key_alg alg, uint8_t seed)
{
    static struct {
        bool used;
        sx_key_alg alg;
        uint8_t seed;
        uint8_t der[SX_KEY_SPKI_MAX];
        sx_smp_pubkey k;
    } cache[32];
    for (size_t i = 0; i < 32; i++)
        if (cache[i].used && cache[i].alg == alg && cache[i].seed == seed)
            return cache[i].k;
    for (size_t i = 0; i < 32; i++) {
        if (cache[i].used)
            continue;
        uint8_t raw[SX_KEY_RAW_MAX];
        size_t n = sx_key_raw_len(alg);
        tu_bytes_seq(raw, n, seed);
        sx_key *k = NULL;
        assert_ok(sx_key_from_raw_public(alg, sx_slice_of(raw, n), &k));
        assert_ok(sx_smp_pubkey_of(k, cache[i].der, &cache[i].k));
        sx_key_free(k);
        cache[i].used = true;
        cache[i].alg = alg;
        cache[i].seed = seed;
        return cache[i].k;
    }
    fail_msg("tsu_key: cache full");
    sx_smp_pubkey none = {0};
    return none;
}

sx_status tsu_enc_cmd_status(const sx_smp_cmd *c, uint16_t v)
{
    sx_writer w;
    sx_writer_init_fixed(&w, slot(), SLOT_LEN);
    sx_smp_cmd_write(&w, v, c);
    return sx_writer_status(&w);
}

sx_status tsu_enc_resp_status(const sx_smp_resp *m, uint16_t v)
{
    sx_writer w;
    sx_writer_init_fixed(&w, slot(), SLOT_LEN);
    sx_smp_resp_write(&w, v, m);
    return sx_writer_status(&w);
}

sx_slice tsu_enc_cmd(const sx_smp_cmd *c, uint16_t v)
{
    sx_writer w;
    sx_writer_init_fixed(&w, slot(), SLOT_LEN);
    sx_smp_cmd_write(&w, v, c);
    assert_ok(sx_writer_status(&w));
    return sx_writer_slice(&w);
}

sx_slice tsu_enc_resp(const sx_smp_resp *m, uint16_t v)
{
    sx_writer w;
    sx_writer_init_fixed(&w, slot(), SLOT_LEN);
    sx_smp_resp_write(&w, v, m);
    assert_ok(sx_writer_status(&w));
    return sx_writer_slice(&w);
}

sx_slice tsu_seq(size_t n, uint8_t seed)
{
    static uint8_t bufs[64][20000];
    static size_t next;
    assert_true(n <= sizeof bufs[0]);
    uint8_t *b = bufs[next];
    next = (next + 1) % 64;
    tu_bytes_seq(b, n, seed);
    return sx_slice_of(b, n);
}

sx_slice tsu_cat(sx_slice a, sx_slice b)
{
    assert_true(a.len + b.len <= SLOT_LEN);
    sx_writer w;
    sx_writer_init_fixed(&w, slot(), SLOT_LEN);
    sx_write_slice(&w, a);
    sx_write_slice(&w, b);
    assert_ok(sx_writer_status(&w));
    return sx_writer_slice(&w);
}

/* Encoded list items in static storage. */
static sx_smp_list key_list(void)
{
    static uint8_t buf[512];
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    sx_smp_pubkey a = tsu_key(SX_KEY_ED25519, 13), b = tsu_key(SX_KEY_X25519, 14),
                  c = tsu_key(SX_KEY_ED448, 15);
    sx_smp_write_pubkey(&w, SX_KEY_AUTH_ALGS, &a);
    sx_smp_write_pubkey(&w, SX_KEY_AUTH_ALGS, &b);
    sx_smp_write_pubkey(&w, SX_KEY_AUTH_ALGS, &c);
    assert_ok(sx_writer_status(&w));
    sx_smp_list l = {3, sx_writer_slice(&w)};
    return l;
}

static sx_smp_list host_list(void)
{
    static uint8_t buf[128];
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    sx_write_short(&w, sx_slice_str("smp.example.com"));
    sx_write_short(&w, sx_slice_str("abcdefghijklmnop.onion"));
    assert_ok(sx_writer_status(&w));
    sx_smp_list l = {2, sx_writer_slice(&w)};
    return l;
}

static sx_smp_list cert_list(void)
{
    static uint8_t buf[1024];
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    sx_write_large(&w, tsu_seq(300, 47));
    sx_write_large(&w, tsu_seq(200, 48));
    assert_ok(sx_writer_status(&w));
    sx_smp_list l = {2, sx_writer_slice(&w)};
    return l;
}

sx_smp_cmd tsu_sample_cmd(sx_smp_cmd_tag tag)
{
    sx_smp_cmd c;
    memset(&c, 0, sizeof c);
    c.tag = tag;
    switch (tag) {
    case SX_SMP_C_NEW:
        c.new_queue.rcv_auth_key = tsu_key(SX_KEY_ED25519, 1);
        c.new_queue.rcv_dh_key = tsu_key(SX_KEY_X25519, 2);
        c.new_queue.has_basic_auth = true;
        c.new_queue.basic_auth = sx_slice_str("pass");
        c.new_queue.subscribe = true;
        c.new_queue.has_queue_req = true;
        c.new_queue.queue_req.mode = SX_SMP_QUEUE_CONTACT;
        c.new_queue.queue_req.has_link = true;
        c.new_queue.queue_req.link_id = tsu_seq(24, 3);
        c.new_queue.queue_req.sender_id = tsu_seq(24, 4);
        c.new_queue.queue_req.link.fixed = tsu_seq(100, 5);
        c.new_queue.queue_req.link.user = tsu_seq(300, 6);
        c.new_queue.has_ntf_creds = true;
        c.new_queue.ntf_auth_key = tsu_key(SX_KEY_ED448, 7);
        c.new_queue.ntf_dh_key = tsu_key(SX_KEY_X25519, 8);
        break;
    case SX_SMP_C_SUBS:
    case SX_SMP_C_NSUBS:
        c.subs.count = 42;
        c.subs.ids_hash = tsu_seq(16, 9);
        break;
    case SX_SMP_C_KEY:
        c.key = tsu_key(SX_KEY_X25519, 10);
        break;
    case SX_SMP_C_SKEY:
        c.key = tsu_key(SX_KEY_ED448, 11);
        break;
    case SX_SMP_C_LKEY:
        c.key = tsu_key(SX_KEY_ED25519, 12);
        break;
    case SX_SMP_C_RKEY:
        c.keys = key_list();
        break;
    case SX_SMP_C_LSET:
        c.lset.link_id = tsu_seq(24, 16);
        c.lset.data.fixed = tsu_seq(50, 17);
        c.lset.data.user = tsu_seq(60, 18);
        break;
    case SX_SMP_C_NKEY:
        c.nkey.auth_key = tsu_key(SX_KEY_ED25519, 19);
        c.nkey.dh_key = tsu_key(SX_KEY_X25519, 20);
        break;
    case SX_SMP_C_ACK:
        c.msg_id = tsu_seq(24, 21);
        break;
    case SX_SMP_C_SEND:
        c.send.notification = true;
        c.send.body = tsu_seq(200, 22);
        break;
    case SX_SMP_C_PRXY:
        c.prxy.server.hosts = host_list();
        c.prxy.server.port = sx_slice_str("5223");
        c.prxy.server.key_hash = tsu_seq(32, 23);
        c.prxy.has_basic_auth = true;
        c.prxy.basic_auth = sx_slice_str("secret");
        break;
    case SX_SMP_C_PFWD:
        c.pfwd.version = 18;
        c.pfwd.dh_key = tsu_key(SX_KEY_X25519, 24);
        c.pfwd.enc = tsu_seq(1000, 25);
        break;
    case SX_SMP_C_RFWD:
        c.enc = tsu_seq(500, 26);
        break;
    default:
        break;
    }
    return c;
}

sx_smp_resp tsu_sample_resp(sx_smp_resp_tag tag)
{
    sx_smp_resp m;
    memset(&m, 0, sizeof m);
    m.tag = tag;
    switch (tag) {
    case SX_SMP_R_IDS:
        m.ids.rcv_id = tsu_seq(24, 30);
        m.ids.snd_id = tsu_seq(24, 31);
        m.ids.srv_dh_key = tsu_key(SX_KEY_X25519, 32);
        m.ids.has_queue_mode = true;
        m.ids.queue_mode = SX_SMP_QUEUE_MESSAGING;
        m.ids.has_link_id = true;
        m.ids.link_id = tsu_seq(24, 33);
        m.ids.has_service_id = true;
        m.ids.service_id = tsu_seq(24, 34);
        m.ids.has_ntf = true;
        m.ids.ntf_id = tsu_seq(24, 35);
        m.ids.srv_ntf_dh_key = tsu_key(SX_KEY_X25519, 36);
        break;
    case SX_SMP_R_LNK:
        m.lnk.sender_id = tsu_seq(24, 37);
        m.lnk.data.fixed = tsu_seq(70, 38);
        m.lnk.data.user = tsu_seq(80, 39);
        break;
    case SX_SMP_R_SOK:
        m.sok.has_service_id = true;
        m.sok.service_id = tsu_seq(24, 38);
        break;
    case SX_SMP_R_SOKS:
    case SX_SMP_R_ENDS:
        m.subs.count = 7;
        m.subs.ids_hash = tsu_seq(16, 39);
        break;
    case SX_SMP_R_MSG:
        m.msg.msg_id = tsu_seq(24, 40);
        m.msg.body = tsu_seq(16122, 41);
        break;
    case SX_SMP_R_NID:
        m.nid.notifier_id = tsu_seq(24, 42);
        m.nid.srv_dh_key = tsu_key(SX_KEY_X25519, 43);
        break;
    case SX_SMP_R_NMSG:
        m.nmsg.nonce = tsu_seq(24, 44);
        m.nmsg.enc_meta = tsu_seq(144, 45);
        break;
    case SX_SMP_R_PKEY:
        m.pkey.session_id = tsu_seq(32, 46);
        m.pkey.vrange.min = 8;
        m.pkey.vrange.max = 18;
        m.pkey.chain = cert_list();
        m.pkey.signed_key = tsu_seq(120, 49);
        break;
    case SX_SMP_R_RRES:
    case SX_SMP_R_PRES:
        m.enc = tsu_seq(800, 50);
        break;
    case SX_SMP_R_INFO:
        m.info = sx_slice_str("{\"qiSnd\":false,\"qiNtf\":false,\"qiSize\":0}");
        break;
    case SX_SMP_R_ERR:
        m.err = sx_smp_error_of(SX_SMP_ERR_QUOTA);
        break;
    default:
        break;
    }
    return m;
}
