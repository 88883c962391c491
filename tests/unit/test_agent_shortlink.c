/* Unit tests of short links (docs/AGENT.md, "Short links"): the link text
 * with the reference's known answers (tests/AgentTests/ConnectionRequestTests.hs
 * at 152c30ca68), shortening for preset routers, the binary form, and the
 * link data: keys, encodings, encryption and every check of decryption (the
 * cases of the reference's tests/AgentTests/ShortLinkTests.hs). */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "agent/link_text.h"
#include "agent/shortlink_data.h"
#include "crypto/util.h"
#include "simplex/smp.h"

#define ONION "jjbyvoemxysm7qxap7m5d5m35jzv5qq6gnlv7s4rsn7tdwwmuqciwpid.onion"
#define KEY_B64 "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"
#define ID_B64 "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3"
#define DH_B64 "MCowBQYDK2VuAyEAjiswwI3O_NlS8Fk3HJUW870EY2bAwmttMBsvRB9eV3o="
#define QUEUE_TEXT "smp://1234-w==@smp.simplex.im/3456-w==#/?v=1-4&dh=" DH_B64 "&q=m"
#define E2E_TEXT                                                                                               \
    "v=2-3&x3dh=MEIwBQYDK2VvAzkAmKuSYeQ_m0SixPDS8Wq8VBaTS1cW-Lp0n0h4Diu-kUpR-qXx4SDJ32YGEFoGFGSbGPry5Ychr6U=," \
    "MEIwBQYDK2VvAzkAmKuSYeQ_m0SixPDS8Wq8VBaTS1cW-Lp0n0h4Diu-kUpR-qXx4SDJ32YGEFoGFGSbGPry5Ychr6U="

static void server(sx_agent_server *s, const char *h1, const char *h2, const char *port, bool kh)
{
    memset(s, 0, sizeof *s);
    assert_ok(sx_agent_server_add_host(s, sx_slice_str(h1)));
    if (h2)
        assert_ok(sx_agent_server_add_host(s, sx_slice_str(h2)));
    strcpy(s->port, port);
    if (kh) {
        const uint8_t k[4] = {215, 'm', 248, 251};
        memcpy(s->key_hash, k, 4);
        s->key_hash_len = 4;
    }
}

static void make_link(sx_short_link *l, sx_sl_type t, bool web, const sx_agent_server *s)
{
    memset(l, 0, sizeof *l);
    l->type = t;
    l->web = web;
    l->server = *s;
    memcpy(l->key, "0123456789abcdef0123456789abcdef", 32);
    l->key_len = 32;
    if (t == SX_SL_INVITATION) {
        memcpy(l->link_id, "0123456789abcdef01234567", 24);
        l->link_id_len = 24;
    }
}

static void assert_link_equal(const sx_short_link *a, const sx_short_link *b)
{
    assert_int_equal(a->type, b->type);
    assert_true(sx_agent_server_equal(&a->server, &b->server));
    assert_int_equal(a->link_id_len, b->link_id_len);
    assert_memory_equal(a->link_id, b->link_id, a->link_id_len);
    assert_int_equal(a->key_len, b->key_len);
    assert_memory_equal(a->key, b->key, a->key_len);
}

static void link_vector(const sx_short_link *l, const char *s)
{
    char buf[SX_SL_TEXT_MAX + 1];
    sx_writer w;
    sx_writer_init_fixed(&w, (uint8_t *)buf, SX_SL_TEXT_MAX);
    assert_true(sx_short_link_write_text(&w, l));
    buf[w.len] = '\0';
    assert_string_equal(buf, s);
    sx_short_link got;
    assert_ok(sx_short_link_parse(s, strlen(s), &got));
    assert_link_equal(&got, l);
    assert_int_equal(got.web, l->web);
    /* binary */
    uint8_t bin[2048];
    sx_writer_init_fixed(&w, bin, sizeof bin);
    assert_true(sx_short_link_write(&w, l));
    sx_reader r;
    sx_reader_init(&r, bin, w.len);
    assert_true(sx_short_link_read(&r, &got));
    assert_ok(sx_reader_finish(&r));
    assert_link_equal(&got, l);
    for (size_t n = 0; n < w.len; n++) {
        sx_reader_init(&r, bin, n);
        assert_false(sx_short_link_read(&r, &got));
    }
}

static void test_link_vectors(void **state)
{
    (void)state;
    sx_agent_server srv, short_srv;
    sx_short_link l;
    server(&srv, "smp.simplex.im", ONION, "5223", true);
    server(&short_srv, "smp.simplex.im", NULL, "", false);
    make_link(&l, SX_SL_CONTACT, true, &srv);
    link_vector(&l, "https://smp.simplex.im/a#" KEY_B64 "?h=" ONION "&p=5223&c=1234-w");
    make_link(&l, SX_SL_GROUP, true, &srv);
    link_vector(&l, "https://smp.simplex.im/g#" KEY_B64 "?h=" ONION "&p=5223&c=1234-w");
    make_link(&l, SX_SL_CONTACT, true, &short_srv);
    link_vector(&l, "https://smp.simplex.im/a#" KEY_B64);
    make_link(&l, SX_SL_INVITATION, true, &srv);
    link_vector(&l, "https://smp.simplex.im/i#" ID_B64 "/" KEY_B64 "?h=" ONION "&p=5223&c=1234-w");
    make_link(&l, SX_SL_INVITATION, true, &short_srv);
    link_vector(&l, "https://smp.simplex.im/i#" ID_B64 "/" KEY_B64);
    make_link(&l, SX_SL_CONTACT, false, &srv);
    link_vector(&l, "simplex:/a#" KEY_B64 "?h=smp.simplex.im%2C" ONION "&p=5223&c=1234-w");
    make_link(&l, SX_SL_GROUP, false, &srv);
    link_vector(&l, "simplex:/g#" KEY_B64 "?h=smp.simplex.im%2C" ONION "&p=5223&c=1234-w");
    make_link(&l, SX_SL_CONTACT, false, &short_srv);
    link_vector(&l, "simplex:/a#" KEY_B64 "?h=smp.simplex.im");
    make_link(&l, SX_SL_INVITATION, false, &srv);
    link_vector(&l, "simplex:/i#" ID_B64 "/" KEY_B64 "?h=smp.simplex.im%2C" ONION "&p=5223&c=1234-w");
    make_link(&l, SX_SL_INVITATION, false, &short_srv);
    link_vector(&l, "simplex:/i#" ID_B64 "/" KEY_B64 "?h=smp.simplex.im");
    make_link(&l, SX_SL_CHANNEL, false, &short_srv);
    link_vector(&l, "simplex:/c#" KEY_B64 "?h=smp.simplex.im");
    make_link(&l, SX_SL_RELAY, true, &short_srv);
    link_vector(&l, "https://smp.simplex.im/r#" KEY_B64);

    /* read leniently: upper-case contact type, padding, '/' before '#',
     * a port with a leading zero (written back without it) */
    sx_short_link got;
    const char *t1 = "https://smp.simplex.im/A/#" KEY_B64 "=?p=05223";
    assert_ok(sx_short_link_parse(t1, strlen(t1), &got));
    assert_int_equal(got.type, SX_SL_CONTACT);
    assert_string_equal(got.server.port, "5223");
    /* refused */
    const char *bad[] = {
        "simplex:/a#" KEY_B64,                          /* no router */
        "simplex:/a#" KEY_B64 "?p=5223",                /* no host */
        "https://smp.simplex.im/I#" ID_B64 "/" KEY_B64, /* 'I' is not a type */
        "https://smp.simplex.im/x#" KEY_B64,
        "https://smp.simplex.im/i#" KEY_B64, /* invitation without ID */
        "https://smp.simplex.im/a#" KEY_B64 "?p=70000",
        "https://smp.simplex.im/a#" KEY_B64 "?c=@@",
        "https://smp.simplex.im/a#" KEY_B64 "x!",
        "https://smp.simplex.im/a#" KEY_B64 "? ",
        "ftp://smp.simplex.im/a#" KEY_B64,
        "https:///a#" KEY_B64,
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_not_equal(sx_short_link_parse(bad[i], strlen(bad[i]), &got), SX_OK);
    char *big = calloc(1, SX_SL_TEXT_MAX + 2);
    memset(big, 'a', SX_SL_TEXT_MAX + 1);
    assert_int_equal(sx_short_link_parse(big, SX_SL_TEXT_MAX + 1, &got), SX_E_LIMIT);
    free(big);
    /* a key longer than we hold */
    char longkey[400] = "https://smp.simplex.im/a#";
    for (int i = 0; i < 100; i++)
        strcat(longkey, "AAA");
    assert_int_equal(sx_short_link_parse(longkey, strlen(longkey), &got), SX_E_LIMIT);
}

static void test_shorten_restore(void **state)
{
    (void)state;
    sx_agent_server srv, short_srv, srv_onion, srv1, srv2;
    server(&srv, "smp.simplex.im", ONION, "5223", true);
    server(&short_srv, "smp.simplex.im", NULL, "", false);
    server(&srv_onion, ONION, NULL, "", true);
    server(&srv1, "smp.simplex.im", NULL, "5223", true);
    server(&srv2, "smp2.simplex.im", ONION, "", true);
    struct {
        bool shorten;
        const sx_agent_server *preset, *in, *want;
    } cases[] = {
        {true, &srv, &srv, &short_srv},
        {true, &srv, &srv_onion, &srv_onion},
        {true, &srv, &srv1, &short_srv},
        {true, &srv, &srv2, &srv2},
        {false, &srv, &short_srv, &srv},
        {false, &srv, &srv1, &srv1},
        {false, &srv2, &short_srv, &short_srv},
        {false, &srv, &srv2, &srv2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sx_short_link l;
        make_link(&l, SX_SL_CONTACT, true, cases[i].in);
        if (cases[i].shorten)
            sx_short_link_shorten(&l, cases[i].preset, 1);
        else
            sx_short_link_restore(&l, cases[i].preset, 1);
        assert_true(sx_agent_server_equal(&l.server, cases[i].want));
    }
    /* the reference's localhost case, for a contact and an invitation */
    const char *lnk = "https://localhost/a#4AkRDmhf64tdRlN406g8lJRg5OCmhD6ynIhi6glOcCM?p=7001&c=LcJUMfVhwD8yxjAiSaDzzGF3-kLG4Uh0Fl_ZIjrRwjI";
    const char *lnk_short = "https://localhost/a#4AkRDmhf64tdRlN406g8lJRg5OCmhD6ynIhi6glOcCM";
    const char *inv = "https://localhost/i#tnUaHYp8saREmyEHR93SBpl8ySHBchOt/LJ1ZQUzxH9Udb0jw5wmJACv5o6oe8e7BsX_hUCUMTSY?p=7001&c=LcJUMfVhwD8yxjAiSaDzzGF3-kLG4Uh0Fl_ZIjrRwjI";
    const char *inv_short = "https://localhost/i#tnUaHYp8saREmyEHR93SBpl8ySHBchOt/LJ1ZQUzxH9Udb0jw5wmJACv5o6oe8e7BsX_hUCUMTSY";
    const char *preset_text = "smp://LcJUMfVhwD8yxjAiSaDzzGF3-kLG4Uh0Fl_ZIjrRwjI=@localhost:7001";
    sx_agent_server preset;
    assert_ok(sx_agent_server_parse(preset_text, strlen(preset_text), &preset));
    const char *pairs[2][2] = {{lnk, lnk_short}, {inv, inv_short}};
    for (int i = 0; i < 2; i++) {
        sx_short_link full, shrt, x;
        assert_ok(sx_short_link_parse(pairs[i][0], strlen(pairs[i][0]), &full));
        assert_ok(sx_short_link_parse(pairs[i][1], strlen(pairs[i][1]), &shrt));
        x = full;
        sx_short_link_shorten(&x, &preset, 1);
        assert_link_equal(&x, &shrt);
        x = shrt;
        sx_short_link_restore(&x, &preset, 1);
        assert_link_equal(&x, &full);
    }
}

/* ---- link data ---- */

static sx_key *root, *owner_keys[6];

static void key_der(const sx_key *k, uint8_t der[SX_ED25519_SPKI_LEN])
{
    sx_writer w;
    sx_writer_init_fixed(&w, der, SX_ED25519_SPKI_LEN);
    assert_true(sx_key_write_public(&w, k));
}

static void make_connreq(sx_agent_connreq *c, sx_conn_mode mode)
{
    memset(c, 0, sizeof *c);
    c->mode = mode;
    c->agent_vr = (sx_version_range){2, 7};
    c->queue_count = 1;
    assert_ok(sx_agent_queue_uri_parse(QUEUE_TEXT, strlen(QUEUE_TEXT), &c->queues[0]));
    c->queues[0].vr = (sx_version_range){4, 4};
    if (mode == SX_CONN_INVITATION)
        assert_ok(sx_e2e_params_decode_text(E2E_TEXT, strlen(E2E_TEXT), &c->e2e));
}

typedef struct enc_link {
    uint8_t link_key[32], sb_key[32], link_id[24];
    sx_writer fixed_blob;
} enc_link;

/* encodeSignFixedData + encryptLinkData of the fixed part. */
static void encrypt_fixed(enc_link *e, sx_conn_mode mode, const uint8_t *wrong_key)
{
    static sx_sl_fixed f;
    memset(&f, 0, sizeof f);
    f.agent_vr = (sx_version_range){2, 7};
    key_der(root, f.root_key);
    make_connreq(&f.conn_req, mode);
    sx_writer signed_fd;
    sx_writer_init_dynamic(&signed_fd, 4096);
    assert_ok(sx_sl_sign_fixed(root, &f, &signed_fd, e->link_key));
    if (wrong_key)
        memcpy(e->link_key, wrong_key, 32);
    if (mode == SX_CONN_CONTACT)
        assert_ok(sx_sl_contact_kdf(e->link_key, e->link_id, e->sb_key));
    else
        assert_ok(sx_sl_inv_kdf(e->link_key, e->sb_key));
    sx_writer_init_dynamic(&e->fixed_blob, SX_SL_FIXED_BLOB_LEN);
    assert_true(sx_sl_encrypt(&e->fixed_blob, e->sb_key, SX_SL_FIXED_PADDED, NULL, sx_writer_slice(&signed_fd)));
    assert_int_equal(e->fixed_blob.len, SX_SL_FIXED_BLOB_LEN);
    sx_writer_cleanup(&signed_fd);
    sx_sl_fixed_free(&f);
}

/* encodeSignUserData + encryptUserData. */
static void encrypt_user(const enc_link *e, const sx_sl_user *u, const sx_key *signer, sx_writer *blob)
{
    sx_writer ud, signed_ud;
    sx_writer_init_dynamic(&ud, SX_SL_USER_PADDED);
    sx_writer_init_dynamic(&signed_ud, SX_SL_USER_PADDED);
    assert_true(sx_sl_user_write(&ud, u));
    assert_true(sx_sl_write_signed(&signed_ud, signer, sx_writer_slice(&ud)));
    sx_writer_init_dynamic(blob, SX_SL_USER_BLOB_LEN);
    assert_true(sx_sl_encrypt(blob, e->sb_key, SX_SL_USER_PADDED, NULL, sx_writer_slice(&signed_ud)));
    assert_int_equal(blob->len, SX_SL_USER_BLOB_LEN);
    sx_writer_cleanup(&ud);
    sx_writer_cleanup(&signed_ud);
}

static sx_sl_plain plain;
static sx_sl_fixed got_f;
static sx_sl_user got_u;

static sx_sl_check decrypt(const enc_link *e, const sx_writer *user_blob, sx_conn_mode mode)
{
    sx_sl_check check = SX_SL_OK;
    sx_status st = sx_sl_decrypt(e->link_key, e->sb_key, sx_writer_slice(&e->fixed_blob), sx_writer_slice(user_blob),
                                 mode, &plain, &got_f, &got_u, &check);
    assert_int_equal(st == SX_OK, check == SX_SL_OK);
    return check;
}

static void user_contact(sx_sl_user *u, const char *data)
{
    memset(u, 0, sizeof *u);
    u->mode = SX_CONN_CONTACT;
    u->agent_vr = (sx_version_range){2, 7};
    u->direct = true;
    u->data = sx_slice_str(data);
}

static void add_owner(sx_sl_user *u, int key, const sx_key *signer, const char *id)
{
    sx_sl_owner *o = &u->owners[u->owner_count++];
    o->owner_id = sx_slice_str(id);
    key_der(owner_keys[key], o->key);
    assert_ok(sx_sl_owner_sign(signer, o->owner_id, o->key, o->sig));
}

static void test_kdf(void **state)
{
    (void)state;
    const uint8_t *k = (const uint8_t *)"0123456789abcdef0123456789abcdef";
    uint8_t id[24], sb[32];
    assert_ok(sx_sl_contact_kdf(k, id, sb));
    assert_string_equal(tu_to_hex(id, 24), "7bb6cac6ddda05661de73a9974926c4d3d30f3dd36e0e365");
    assert_string_equal(tu_to_hex(sb, 32), "92f91f61f480698b6edcbc6277359f463f5810065e47253f72657bb8847e0ebe");
    assert_ok(sx_sl_inv_kdf(k, sb));
    assert_string_equal(tu_to_hex(sb, 32), "7414e908a26d11b2e23016afa771e45d62bcdd72a14237958069e33f9c2c2319");
}

/* A queue with link data gets its sender id from NEW's corrId: the first
 * 24 bytes of SHA3-384(corrId) (the reference's Agent.hs prepareLinkData
 * and its router's check in Server.hs). Answers from Python's hashlib. */
static void test_link_sender_id(void **state)
{
    (void)state;
    uint8_t corr[24], id[24];
    for (size_t i = 0; i < sizeof corr; i++)
        corr[i] = (uint8_t)i;
    assert_ok(sx_smp_link_sender_id(corr, id));
    assert_string_equal(tu_to_hex(id, 24), "3ae1a7e6f8e0007f53167b85c478203b8445ac2b7b092da2");
    memset(corr, 0, sizeof corr);
    assert_ok(sx_smp_link_sender_id(corr, id));
    assert_string_equal(tu_to_hex(id, 24), "b31374073676682fb6f0dd82edc46bf7402211d8fe585efc");
    assert_int_equal(sx_smp_link_sender_id(NULL, id), SX_E_USAGE);
}

static void test_invitation_data(void **state)
{
    (void)state;
    static enc_link e;
    sx_writer ub;
    static sx_sl_user u;
    memset(&u, 0, sizeof u);
    u.mode = SX_CONN_INVITATION;
    u.agent_vr = (sx_version_range){2, 7};
    u.data = sx_slice_str("some user data");
    encrypt_fixed(&e, SX_CONN_INVITATION, NULL);
    encrypt_user(&e, &u, root, &ub);
    assert_int_equal(decrypt(&e, &ub, SX_CONN_INVITATION), SX_SL_OK);
    assert_int_equal(got_f.conn_req.mode, SX_CONN_INVITATION);
    assert_int_equal(got_f.conn_req.queue_count, 1);
    assert_true(sx_slice_eq(got_u.data, u.data));
    sx_sl_fixed_free(&got_f);
    /* the wrong mode is refused as a bad message */
    assert_int_equal(decrypt(&e, &ub, SX_CONN_CONTACT), SX_SL_BAD_MESSAGE);
    /* user data signed by another key */
    sx_writer_cleanup(&ub);
    encrypt_user(&e, &u, owner_keys[0], &ub);
    assert_int_equal(decrypt(&e, &ub, SX_CONN_INVITATION), SX_SL_BAD_USER_SIGNATURE);
    sx_writer_cleanup(&ub);
    sx_writer_cleanup(&e.fixed_blob);
    /* bad hash: encrypted under a random link key */
    uint8_t wrong[32];
    sx_random_bytes(wrong, 32);
    encrypt_fixed(&e, SX_CONN_INVITATION, wrong);
    encrypt_user(&e, &u, root, &ub);
    assert_int_equal(decrypt(&e, &ub, SX_CONN_INVITATION), SX_SL_BAD_HASH);
    /* a changed byte of a blob does not open */
    ub.buf[ub.len - 1] ^= 1;
    assert_int_equal(decrypt(&e, &ub, SX_CONN_INVITATION), SX_SL_BAD_MESSAGE);
    sx_writer_cleanup(&ub);
    sx_writer_cleanup(&e.fixed_blob);
}

static void test_contact_data(void **state)
{
    (void)state;
    static enc_link e;
    static sx_sl_user u;
    sx_writer ub;
    encrypt_fixed(&e, SX_CONN_CONTACT, NULL);
    user_contact(&u, "some user data");
    encrypt_user(&e, &u, root, &ub);
    assert_int_equal(decrypt(&e, &ub, SX_CONN_CONTACT), SX_SL_OK);
    assert_true(got_u.direct);
    assert_int_equal(got_f.conn_req.mode, SX_CONN_CONTACT);
    sx_sl_fixed_free(&got_f);
    sx_writer_cleanup(&ub);
    /* updated user data with relays, long data (the 0xFF Large form) */
    char *longdata = malloc(1001);
    memset(longdata, 'd', 1000);
    longdata[1000] = '\0';
    user_contact(&u, longdata);
    u.direct = false;
    u.relay_count = 2;
    const char *r1 = "https://localhost/a#4AkRDmhf64tdRlN406g8lJRg5OCmhD6ynIhi6glOcCM?p=7001&c=LcJUMfVhwD8yxjAiSaDzzGF3-kLG4Uh0Fl_ZIjrRwjI";
    const char *r2 = "https://localhost/a#4AkRDmhf64tdRlN406g8lJRg5OCmhD6ynIhi6glOcCM";
    assert_ok(sx_short_link_parse(r1, strlen(r1), &u.relays[0]));
    assert_ok(sx_short_link_parse(r2, strlen(r2), &u.relays[1]));
    encrypt_user(&e, &u, root, &ub);
    assert_int_equal(decrypt(&e, &ub, SX_CONN_CONTACT), SX_SL_OK);
    assert_false(got_u.direct);
    assert_int_equal(got_u.relay_count, 2);
    assert_link_equal(&got_u.relays[0], &u.relays[0]);
    assert_link_equal(&got_u.relays[1], &u.relays[1]);
    assert_int_equal(got_u.data.len, 1000);
    sx_sl_fixed_free(&got_f);
    sx_writer_cleanup(&ub);
    free(longdata);
    /* bad signature */
    user_contact(&u, "updated user data");
    encrypt_user(&e, &u, owner_keys[0], &ub);
    assert_int_equal(decrypt(&e, &ub, SX_CONN_CONTACT), SX_SL_BAD_USER_SIGNATURE);
    sx_writer_cleanup(&ub);
    /* a signature by the root key over a fixed data encrypted under another link key */
    sx_writer_cleanup(&e.fixed_blob);
    uint8_t wrong[32];
    sx_random_bytes(wrong, 32);
    encrypt_fixed(&e, SX_CONN_CONTACT, wrong);
    encrypt_user(&e, &u, root, &ub);
    assert_int_equal(decrypt(&e, &ub, SX_CONN_CONTACT), SX_SL_BAD_HASH);
    sx_writer_cleanup(&ub);
    sx_writer_cleanup(&e.fixed_blob);
}

static void test_owners(void **state)
{
    (void)state;
    static enc_link e;
    static sx_sl_user u;
    sx_writer ub;
    encrypt_fixed(&e, SX_CONN_CONTACT, NULL);
    /* one owner: signed by root or by the owner; a stranger fails */
    user_contact(&u, "updated user data");
    add_owner(&u, 0, root, "owner-0");
    const sx_key *signers_ok[] = {root, owner_keys[0]};
    for (int i = 0; i < 2; i++) {
        encrypt_user(&e, &u, signers_ok[i], &ub);
        assert_int_equal(decrypt(&e, &ub, SX_CONN_CONTACT), SX_SL_OK);
        assert_int_equal(got_u.owner_count, 1);
        assert_true(sx_slice_eq(got_u.owners[0].owner_id, u.owners[0].owner_id));
        sx_sl_fixed_free(&got_f);
        sx_writer_cleanup(&ub);
    }
    encrypt_user(&e, &u, owner_keys[5], &ub);
    assert_int_equal(decrypt(&e, &ub, SX_CONN_CONTACT), SX_SL_BAD_USER_SIGNATURE);
    sx_writer_cleanup(&ub);
    /* many owners: 1, 2 by root; 3, 4 by 1; 5 by 3 (keys 0..4) */
    user_contact(&u, "updated user data");
    add_owner(&u, 0, root, "o1");
    add_owner(&u, 1, root, "o2");
    add_owner(&u, 2, owner_keys[0], "o3");
    add_owner(&u, 3, owner_keys[0], "o4");
    add_owner(&u, 4, owner_keys[2], "o5");
    for (int i = 0; i < 5; i++) {
        encrypt_user(&e, &u, owner_keys[i], &ub);
        assert_int_equal(decrypt(&e, &ub, SX_CONN_CONTACT), SX_SL_OK);
        assert_int_equal(got_u.owner_count, 5);
        sx_sl_fixed_free(&got_f);
        sx_writer_cleanup(&ub);
    }
    /* invalid: the root key as an owner; a repeated ID; a repeated key;
     * signed by a later owner */
    size_t bad = 99;
    uint8_t root_der[SX_ED25519_SPKI_LEN];
    key_der(root, root_der);
    user_contact(&u, "x");
    add_owner(&u, 0, root, "o1");
    memcpy(u.owners[0].key, root_der, SX_ED25519_SPKI_LEN);
    assert_ok(sx_sl_owner_sign(root, u.owners[0].owner_id, u.owners[0].key, u.owners[0].sig));
    assert_int_equal(sx_sl_validate_owners(root_der, u.owners, u.owner_count, &bad), SX_SL_BAD_OWNERS);
    assert_int_equal(bad, 0);
    encrypt_user(&e, &u, root, &ub);
    assert_int_equal(decrypt(&e, &ub, SX_CONN_CONTACT), SX_SL_BAD_OWNERS);
    sx_writer_cleanup(&ub);
    user_contact(&u, "x");
    add_owner(&u, 0, root, "o1");
    add_owner(&u, 1, root, "o1");
    assert_int_equal(sx_sl_validate_owners(root_der, u.owners, u.owner_count, &bad), SX_SL_BAD_OWNERS);
    assert_int_equal(bad, 1);
    user_contact(&u, "x");
    add_owner(&u, 0, root, "o1");
    add_owner(&u, 0, root, "o2");
    assert_int_equal(sx_sl_validate_owners(root_der, u.owners, u.owner_count, &bad), SX_SL_BAD_OWNERS);
    assert_int_equal(bad, 1);
    /* order: o3 signed by o1 must come after o1 */
    user_contact(&u, "x");
    add_owner(&u, 0, root, "o1");
    add_owner(&u, 1, root, "o2");
    add_owner(&u, 2, owner_keys[0], "o3");
    assert_int_equal(sx_sl_validate_owners(root_der, u.owners, u.owner_count, &bad), SX_SL_OK);
    sx_sl_owner tmp = u.owners[2];
    u.owners[2] = u.owners[0];
    u.owners[0] = tmp;
    assert_int_equal(sx_sl_validate_owners(root_der, u.owners, u.owner_count, &bad), SX_SL_BAD_OWNERS);
    assert_int_equal(bad, 0);
    encrypt_user(&e, &u, root, &ub);
    assert_int_equal(decrypt(&e, &ub, SX_CONN_CONTACT), SX_SL_BAD_OWNERS);
    sx_writer_cleanup(&ub);
    sx_writer_cleanup(&e.fixed_blob);
}

static void test_data_codecs(void **state)
{
    (void)state;
    static sx_sl_fixed f, g;
    memset(&f, 0, sizeof f);
    f.agent_vr = (sx_version_range){2, 7};
    key_der(root, f.root_key);
    make_connreq(&f.conn_req, SX_CONN_CONTACT);
    sx_writer w;
    sx_writer_init_dynamic(&w, 8192);
    assert_true(sx_sl_fixed_write(&w, &f));
    size_t base = w.len;
    assert_ok(sx_sl_fixed_decode(sx_writer_slice(&w), SX_CONN_CONTACT, &g));
    assert_false(g.has_entity_id);
    sx_sl_fixed_free(&g);
    /* truncations fail; an entity ID is read; bytes after it are ignored */
    for (size_t n = 0; n < base; n++)
        assert_int_not_equal(sx_sl_fixed_decode(sx_slice_of(w.buf, n), SX_CONN_CONTACT, &g), SX_OK);
    assert_int_equal(sx_sl_fixed_decode(sx_writer_slice(&w), SX_CONN_INVITATION, &g), SX_E_PROTOCOL);
    assert_true(sx_write_short(&w, sx_slice_str("entity")) && sx_write_str(&w, "later fields"));
    assert_ok(sx_sl_fixed_decode(sx_writer_slice(&w), SX_CONN_CONTACT, &g));
    assert_true(g.has_entity_id);
    assert_true(sx_slice_eq(g.entity_id, sx_slice_str("entity")));
    sx_sl_fixed_free(&g);
    sx_writer_cleanup(&w);
    sx_sl_fixed_free(&f);
    /* user data: short and Large forms at the 254 / 255 boundary */
    static sx_sl_user u, v;
    uint8_t data[300];
    memset(data, 'x', sizeof data);
    for (size_t len = 253; len <= 256; len++) {
        memset(&u, 0, sizeof u);
        u.mode = SX_CONN_INVITATION;
        u.agent_vr = (sx_version_range){2, 7};
        u.data = sx_slice_of(data, len);
        sx_writer_init_dynamic(&w, 1024);
        assert_true(sx_sl_user_write(&w, &u));
        assert_int_equal(w.buf[5], len <= 254 ? len : 0xFF);
        assert_true(sx_write_str(&w, "ignored"));
        assert_ok(sx_sl_user_decode(sx_writer_slice(&w), SX_CONN_INVITATION, &v));
        assert_int_equal(v.data.len, len);
        for (size_t n = 0; n < w.len - 7; n++)
            assert_int_not_equal(sx_sl_user_decode(sx_slice_of(w.buf, n), SX_CONN_INVITATION, &v), SX_OK);
        sx_writer_cleanup(&w);
    }
    /* too many owners */
    uint8_t many[] = {'C', 0, 2, 0, 7, 'T', SX_SL_OWNERS_MAX + 1};
    assert_int_equal(sx_sl_user_decode(sx_slice_of(many, sizeof many), SX_CONN_CONTACT, &v), SX_E_LIMIT);
    /* an invitation link among the relays */
    memset(&u, 0, sizeof u);
    user_contact(&u, "x");
    u.relay_count = 1;
    const char *inv = "https://localhost/i#tnUaHYp8saREmyEHR93SBpl8ySHBchOt/LJ1ZQUzxH9Udb0jw5wmJACv5o6oe8e7BsX_hUCUMTSY";
    assert_ok(sx_short_link_parse(inv, strlen(inv), &u.relays[0]));
    sx_writer_init_dynamic(&w, 1024);
    assert_false(sx_sl_user_write(&w, &u));
    sx_writer_cleanup(&w);
}

static int setup(void **state)
{
    (void)state;
    if (sx_crypto_init() != SX_OK || sx_key_generate(SX_KEY_ED25519, &root) != SX_OK)
        return -1;
    for (int i = 0; i < 6; i++)
        if (sx_key_generate(SX_KEY_ED25519, &owner_keys[i]) != SX_OK)
            return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sx_key_free(root);
    for (int i = 0; i < 6; i++)
        sx_key_free(owner_keys[i]);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_link_vectors),
        cmocka_unit_test(test_shorten_restore),
        cmocka_unit_test(test_kdf),
        cmocka_unit_test(test_link_sender_id),
        cmocka_unit_test(test_invitation_data),
        cmocka_unit_test(test_contact_data),
        cmocka_unit_test(test_owners),
        cmocka_unit_test(test_data_codecs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
