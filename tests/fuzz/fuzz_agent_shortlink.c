/* Fuzz target: short links and their data (agent/shortlink,
 * agent/shortlink_data). The first byte picks the decoder:
 *   't' link text, 'b' binary link, 'f' fixed data, 'u' user data (then a
 *       mode byte 'I' / 'C'), 'd' decryption: link key(32) mode(1)
 *       fixed blob length(2) fixed blob, user blob.
 * Whatever decodes must encode, and the encoding must decode and encode to
 * the same bytes (binary links: to exactly the input). With
 * SX_FUZZ_SEED_OUT=<dir> in the environment the first run writes the seed
 * corpus there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/shortlink_data.h"
#include "crypto/util.h"

static sx_sl_fixed fa, fb;
static sx_sl_user ua, ub;
static sx_sl_plain plain;

static void same(sx_writer *w1, sx_writer *w2)
{
    if (sx_writer_status(w1) != SX_OK || sx_writer_status(w2) != SX_OK || w1->len != w2->len ||
        memcmp(w1->buf, w2->buf, w1->len) != 0)
        abort();
    sx_writer_cleanup(w1);
    sx_writer_cleanup(w2);
}

static sx_conn_mode mode_of(uint8_t b) { return b == 'I' ? SX_CONN_INVITATION : SX_CONN_CONTACT; }

static void text_case(sx_slice in)
{
    sx_short_link a, b;
    if (sx_short_link_parse((const char *)in.ptr, in.len, &a) != SX_OK)
        return;
    sx_writer w1, w2;
    sx_writer_init_dynamic(&w1, 4 * SX_SL_TEXT_MAX);
    sx_writer_init_dynamic(&w2, 4 * SX_SL_TEXT_MAX);
    if (!sx_short_link_write_text(&w1, &a) ||
        sx_short_link_parse((const char *)w1.buf, w1.len, &b) != SX_OK || !sx_short_link_write_text(&w2, &b))
        abort();
    same(&w1, &w2);
}

static void binary_case(sx_slice in)
{
    sx_short_link a;
    sx_reader r;
    sx_reader_init_slice(&r, in);
    if (!sx_short_link_read(&r, &a) || sx_reader_finish(&r) != SX_OK)
        return;
    sx_writer w;
    sx_writer_init_dynamic(&w, 1 << 16);
    if (!sx_short_link_write(&w, &a) || w.len != in.len || memcmp(w.buf, in.ptr, in.len) != 0)
        abort();
    sx_writer_cleanup(&w);
}

static void fixed_case(sx_slice in, sx_conn_mode m)
{
    if (sx_sl_fixed_decode(in, m, &fa) != SX_OK)
        return;
    sx_writer w1, w2;
    sx_writer_init_dynamic(&w1, 1 << 17);
    sx_writer_init_dynamic(&w2, 1 << 17);
    if (!sx_sl_fixed_write(&w1, &fa) || sx_sl_fixed_decode(sx_writer_slice(&w1), m, &fb) != SX_OK ||
        !sx_sl_fixed_write(&w2, &fb))
        abort();
    same(&w1, &w2);
    sx_sl_fixed_free(&fa);
    sx_sl_fixed_free(&fb);
}

static void user_case(sx_slice in, sx_conn_mode m)
{
    if (sx_sl_user_decode(in, m, &ua) != SX_OK)
        return;
    sx_writer w1, w2;
    sx_writer_init_dynamic(&w1, 1 << 17);
    sx_writer_init_dynamic(&w2, 1 << 17);
    if (!sx_sl_user_write(&w1, &ua) || sx_sl_user_decode(sx_writer_slice(&w1), m, &ub) != SX_OK ||
        !sx_sl_user_write(&w2, &ub))
        abort();
    same(&w1, &w2);
}

static void decrypt_case(sx_slice in)
{
    if (in.len < 32 + 1 + 2)
        return;
    const uint8_t *key = in.ptr;
    sx_conn_mode m = mode_of(in.ptr[32]);
    size_t flen = (size_t)in.ptr[33] << 8 | in.ptr[34];
    if (in.len - 35 < flen)
        return;
    uint8_t sb[32], id[24];
    if ((m == SX_CONN_CONTACT ? sx_sl_contact_kdf(key, id, sb) : sx_sl_inv_kdf(key, sb)) != SX_OK)
        abort();
    sx_sl_check check;
    sx_status st = sx_sl_decrypt(key, sb, sx_slice_of(in.ptr + 35, flen), sx_slice_of(in.ptr + 35 + flen, in.len - 35 - flen),
                                 m, &plain, &fa, &ua, &check);
    if ((st == SX_OK) != (check == SX_SL_OK))
        abort();
    sx_sl_fixed_free(&fa);
}

static void write_file(const char *dir, const char *name, const void *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0)
        abort();
}

/* The same for a one-time invitation: its binary short link (with the
 * link id), fixed data (an invitation link with its e2e parameters), user
 * data (a blob only) and both blobs encrypted under the invitation's key. */
static void invitation_seeds(const char *dir, const sx_key *root, sx_sl_fixed *f)
{
    static const char inv[] =
        "simplex:/invitation#/?v=2-7&smp=smp%3A%2F%2F1234-w%3D%3D%40smp.simplex.im%2F3456-w%3D%3D%23%2F%3Fv%3D4%26dh%"
        "3DMCowBQYDK2VuAyEAjiswwI3O_NlS8Fk3HJUW870EY2bAwmttMBsvRB9eV3o%253D%26q%3Dm&e2e=v%3D2-3%26x3dh%"
        "3DMEIwBQYDK2VvAzkAmKuSYeQ_m0SixPDS8Wq8VBaTS1cW-Lp0n0h4Diu-kUpR-qXx4SDJ32YGEFoGFGSbGPry5Ychr6U%3D%"
        "2CMEIwBQYDK2VvAzkAmKuSYeQ_m0SixPDS8Wq8VBaTS1cW-Lp0n0h4Diu-kUpR-qXx4SDJ32YGEFoGFGSbGPry5Ychr6U%3D";
    static const char link[] =
        "simplex:/i#MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3/MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY?h=smp.simplex.im";
    static sx_short_link l;
    if (sx_short_link_parse(link, strlen(link), &l) != SX_OK)
        abort();
    sx_writer w;
    sx_writer_init_dynamic(&w, 1 << 17);
    if (!sx_write_u8(&w, 'b') || !sx_short_link_write(&w, &l))
        abort();
    write_file(dir, "binary_invitation", w.buf, w.len);
    sx_writer_cleanup(&w);
    if (sx_agent_connreq_parse(inv, strlen(inv), &f->conn_req) != SX_OK)
        abort();
    static sx_sl_user u;
    memset(&u, 0, sizeof u);
    u.mode = SX_CONN_INVITATION;
    u.agent_vr = f->agent_vr;
    u.data = sx_slice_str("{\"profile\":{}}");
    sx_writer fw, uw, sf, su, dw;
    sx_writer_init_dynamic(&fw, 1 << 17);
    sx_writer_init_dynamic(&uw, 1 << 17);
    if (!sx_write_str(&fw, "fI") || !sx_sl_fixed_write(&fw, f) || !sx_write_str(&uw, "uI") || !sx_sl_user_write(&uw, &u))
        abort();
    write_file(dir, "fixed_invitation", fw.buf, fw.len);
    write_file(dir, "user_invitation", uw.buf, uw.len);
    uint8_t link_key[32], sb[32];
    sx_writer_init_dynamic(&sf, 1 << 17);
    sx_writer_init_dynamic(&su, 1 << 17);
    if (sx_sl_sign_fixed(root, f, &sf, link_key) != SX_OK ||
        !sx_sl_write_signed(&su, root, sx_slice_of(uw.buf + 2, uw.len - 2)) || sx_sl_inv_kdf(link_key, sb) != SX_OK)
        abort();
    sx_writer_init_dynamic(&dw, 1 << 17);
    uint8_t head[3] = {'I', SX_SL_FIXED_BLOB_LEN >> 8, SX_SL_FIXED_BLOB_LEN & 0xFF};
    if (!sx_write_u8(&dw, 'd') || !sx_write_bytes(&dw, link_key, 32) || !sx_write_bytes(&dw, head, 3) ||
        !sx_sl_encrypt(&dw, sb, SX_SL_FIXED_PADDED, NULL, sx_writer_slice(&sf)) ||
        !sx_sl_encrypt(&dw, sb, SX_SL_USER_PADDED, NULL, sx_writer_slice(&su)))
        abort();
    write_file(dir, "decrypt_invitation", dw.buf, dw.len);
    sx_writer_cleanup(&fw);
    sx_writer_cleanup(&uw);
    sx_writer_cleanup(&sf);
    sx_writer_cleanup(&su);
    sx_writer_cleanup(&dw);
    sx_agent_connreq_free(&f->conn_req);
}

static void write_seeds(const char *dir)
{
    static const char *texts[] = {
        "thttps://smp.simplex.im/a#MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY?h=jjbyvoemxysm7qxap7m5d5m35jzv5qq6gnlv7s4rsn7tdwwmuqciwpid.onion&p=5223&c=1234-w",
        "tsimplex:/i#MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3/MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY?h=smp.simplex.im",
        "thttps://localhost/g#4AkRDmhf64tdRlN406g8lJRg5OCmhD6ynIhi6glOcCM?p=7001&c=LcJUMfVhwD8yxjAiSaDzzGF3-kLG4Uh0Fl_ZIjrRwjI",
    };
    char name[32];
    for (size_t i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "text_%zu", i);
        write_file(dir, name, texts[i], strlen(texts[i]));
    }
    static sx_short_link l;
    if (sx_short_link_parse(texts[0] + 1, strlen(texts[0] + 1), &l) != SX_OK)
        abort();
    sx_writer w;
    sx_writer_init_dynamic(&w, 1 << 17);
    if (!sx_write_u8(&w, 'b') || !sx_short_link_write(&w, &l))
        abort();
    write_file(dir, "binary_contact", w.buf, w.len);
    sx_writer_cleanup(&w);
    /* link data of a contact address, with an owner and a relay */
    static const char q[] = "smp://1234-w==@smp.simplex.im/3456-w==#/?v=4&dh="
                            "MCowBQYDK2VuAyEAjiswwI3O_NlS8Fk3HJUW870EY2bAwmttMBsvRB9eV3o=&q=c";
    sx_key *root = NULL, *owner = NULL;
    if (sx_key_generate(SX_KEY_ED25519, &root) != SX_OK || sx_key_generate(SX_KEY_ED25519, &owner) != SX_OK)
        abort();
    static sx_sl_fixed f;
    memset(&f, 0, sizeof f);
    f.agent_vr = (sx_version_range){2, 7};
    sx_writer kw;
    sx_writer_init_fixed(&kw, f.root_key, sizeof f.root_key);
    if (!sx_key_write_public(&kw, root))
        abort();
    f.conn_req.mode = SX_CONN_CONTACT;
    f.conn_req.agent_vr = (sx_version_range){2, 7};
    f.conn_req.queue_count = 1;
    if (sx_agent_queue_uri_parse(q, strlen(q), &f.conn_req.queues[0]) != SX_OK)
        abort();
    static sx_sl_user u;
    memset(&u, 0, sizeof u);
    u.mode = SX_CONN_CONTACT;
    u.agent_vr = f.agent_vr;
    u.direct = true;
    u.owner_count = 1;
    u.owners[0].owner_id = sx_slice_str("owner");
    sx_writer_init_fixed(&kw, u.owners[0].key, sizeof u.owners[0].key);
    if (!sx_key_write_public(&kw, owner) ||
        sx_sl_owner_sign(root, u.owners[0].owner_id, u.owners[0].key, u.owners[0].sig) != SX_OK)
        abort();
    u.relay_count = 1;
    if (sx_short_link_parse(texts[2] + 1, strlen(texts[2] + 1), &u.relays[0]) != SX_OK)
        abort();
    u.data = sx_slice_str("{\"profile\":{}}");
    sx_writer fw, uw, sf, su;
    sx_writer_init_dynamic(&fw, 1 << 17);
    sx_writer_init_dynamic(&uw, 1 << 17);
    if (!sx_write_str(&fw, "fC") || !sx_sl_fixed_write(&fw, &f) || !sx_write_str(&uw, "uC") || !sx_sl_user_write(&uw, &u))
        abort();
    write_file(dir, "fixed_contact", fw.buf, fw.len);
    write_file(dir, "user_contact", uw.buf, uw.len);
    uint8_t link_key[32], id[24], sb[32];
    sx_writer_init_dynamic(&sf, 1 << 17);
    sx_writer_init_dynamic(&su, 1 << 17);
    if (sx_sl_sign_fixed(root, &f, &sf, link_key) != SX_OK ||
        !sx_sl_write_signed(&su, owner, sx_slice_of(uw.buf + 2, uw.len - 2)) ||
        sx_sl_contact_kdf(link_key, id, sb) != SX_OK)
        abort();
    sx_writer dw;
    sx_writer_init_dynamic(&dw, 1 << 17);
    uint8_t head[3] = {'C', SX_SL_FIXED_BLOB_LEN >> 8, SX_SL_FIXED_BLOB_LEN & 0xFF};
    if (!sx_write_u8(&dw, 'd') || !sx_write_bytes(&dw, link_key, 32) || !sx_write_bytes(&dw, head, 3) ||
        !sx_sl_encrypt(&dw, sb, SX_SL_FIXED_PADDED, NULL, sx_writer_slice(&sf)) ||
        !sx_sl_encrypt(&dw, sb, SX_SL_USER_PADDED, NULL, sx_writer_slice(&su)))
        abort();
    write_file(dir, "decrypt_contact", dw.buf, dw.len);
    sx_writer_cleanup(&fw);
    sx_writer_cleanup(&uw);
    sx_writer_cleanup(&sf);
    sx_writer_cleanup(&su);
    sx_writer_cleanup(&dw);
    sx_agent_connreq_free(&f.conn_req);
    invitation_seeds(dir, root, &f);
    sx_key_free(root);
    sx_key_free(owner);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int started;
    if (!started) {
        started = 1;
        if (sx_crypto_init() != SX_OK)
            abort();
        const char *out = getenv("SX_FUZZ_SEED_OUT");
        if (out != NULL)
            write_seeds(out);
    }
    if (size < 2)
        return 0;
    sx_slice in = sx_slice_of(data + 1, size - 1);
    switch (data[0]) {
    case 't':
        text_case(in);
        break;
    case 'b':
        binary_case(in);
        break;
    case 'f':
        fixed_case(sx_slice_of(data + 2, size - 2), mode_of(data[1]));
        break;
    case 'u':
        user_case(sx_slice_of(data + 2, size - 2), mode_of(data[1]));
        break;
    case 'd':
        decrypt_case(in);
        break;
    default:
        break;
    }
    return 0;
}
