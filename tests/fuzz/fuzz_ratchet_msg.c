/* Fuzz target: ratchet messages from a peer (crypto/ratchet). The input is
 * parsed as a plaintext header (v2 and v3 encodings; what parses must encode
 * back to the bytes read), as an encrypted header, as a message envelope, and
 * finally decrypted by a receiving ratchet restored from a fixed state that
 * holds skipped keys and a next header key. A failed decrypt must leave that
 * state byte for byte unchanged. Keys come from a seeded generator, so the
 * state is the same in every run; SX_FUZZ_SEED_OUT=<dir> makes the first run
 * write real messages for this state as seeds. */
#include "crypto/ratchet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint8_t *saved;
static size_t saved_len;

static void must(bool ok)
{
    if (!ok)
        abort();
}

static uint8_t *state_bytes(const sx_ratchet *r, size_t *len)
{
    sx_writer w;
    sx_writer_init_dynamic(&w, 1u << 20);
    must(sx_ratchet_write(&w, r) && sx_writer_status(&w) == SX_OK);
    return sx_writer_take(&w, len);
}

static void write_file(const char *dir, const char *name, const uint8_t *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    must(f != NULL && fwrite(p, 1, n, f) == n && fclose(f) == 0);
}

#define PAD 512
#define CAP (3 + SX_RATCHET_ENC_HEADER_MAX + 16 + PAD)

static size_t enc(sx_ratchet *s, const char *text, uint8_t *out)
{
    size_t len = 0;
    must(sx_ratchet_encrypt(s, SX_PQ_KEEP, SX_E2E_VERSION_CURRENT, PAD, sx_slice_str(text), out,
                            CAP, &len) == SX_OK);
    return len;
}

static void dec(sx_ratchet *r, const uint8_t *m, size_t len)
{
    static uint8_t out[CAP];
    sx_slice plain;
    must(sx_ratchet_decrypt(r, sx_slice_of(m, len), out, sizeof out, &plain, NULL) == SX_OK);
}

/* alice (receiving) gets m0 and m2 from bob, so m1 is a skipped key; then
 * alice replies and bob turns, so m3 opens with alice's next header key. */
static void setup(void)
{
    static sx_e2e_private ap, bp;
    static sx_e2e_params au, bu;
    static sx_x3dh_result ar, br;
    static sx_ratchet alice, bob;
    static uint8_t m[5][CAP];
    size_t l[5];
    static sx_sntrup761_drbg da, db;
    uint8_t seed[32] = "ratchet fuzz alice";
    sx_sntrup761_drbg_init(&da, seed);
    seed[15] = 'b';
    sx_sntrup761_drbg_init(&db, seed);
    static sx_sntrup761_rng ra, rb;
    ra = sx_sntrup761_drbg_rng(&da);
    rb = sx_sntrup761_drbg_rng(&db);
    must(sx_e2e_generate(3, SX_USE_KEM_PROPOSE, NULL, &ra, &ap, &au) == SX_OK);
    must(sx_e2e_generate(3, SX_USE_KEM_ACCEPT, au.kem.pk, &rb, &bp, &bu) == SX_OK);
    must(sx_x3dh_snd(&bp, &au, &br) == SX_OK && sx_x3dh_rcv(&ap, &bu, &ar) == SX_OK);
    must(sx_ratchet_init_snd(&bob, 3, 3, au.k2, NULL, &br, &rb) == SX_OK);
    must(sx_ratchet_init_rcv(&alice, 3, 3, ap.k2, &ar, true, &ra) == SX_OK);
    l[0] = enc(&bob, "m0", m[0]);
    l[1] = enc(&bob, "m1", m[1]);
    l[2] = enc(&bob, "m2", m[2]);
    dec(&alice, m[0], l[0]);
    dec(&alice, m[2], l[2]);
    l[4] = enc(&alice, "r0", m[4]);
    dec(&bob, m[4], l[4]);
    l[3] = enc(&bob, "m3", m[3]);
    saved = state_bytes(&alice, &saved_len);

    const char *out = getenv("SX_FUZZ_SEED_OUT");
    if (out != NULL) {
        write_file(out, "skipped", m[1], l[1]);
        write_file(out, "duplicate", m[2], l[2]);
        write_file(out, "next_chain", m[3], l[3]);
        write_file(out, "own_message", m[4], l[4]);
        sx_ratchet_enc_msg em;
        must(sx_ratchet_enc_msg_decode(sx_slice_of(m[3], l[3]), &em) == SX_OK);
        write_file(out, "enc_header", em.header.ptr, em.header.len);
        static sx_ratchet_header h;
        memset(&h, 0, sizeof h);
        h.max_version = 3;
        memcpy(h.dh, bob.dhrs_pub, SX_X448_LEN);
        h.pn = 3;
        h.ns = 1;
        for (uint16_t v = 2; v <= 3; v++) {
            sx_writer w;
            sx_writer_init_dynamic(&w, 4096);
            must(sx_ratchet_header_write(&w, v, &h));
            write_file(out, v == 2 ? "header_v2" : "header_v3", w.buf, w.len);
            sx_writer_cleanup(&w);
        }
    }
    sx_ratchet_cleanup(&alice);
    sx_ratchet_cleanup(&bob);
    sx_e2e_private_wipe(&ap);
    sx_e2e_private_wipe(&bp);
    sx_x3dh_result_wipe(&ar);
    sx_x3dh_result_wipe(&br);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sx_ratchet_header h;
    static sx_ratchet r;
    if (saved == NULL)
        setup();
    sx_slice in = sx_slice_of(data, size);

    for (uint16_t v = 2; v <= 3; v++) {
        sx_reader rd;
        sx_reader_init_slice(&rd, in);
        if (sx_ratchet_header_read(&rd, v, &h)) {
            size_t used = size - sx_reader_remaining(&rd);
            sx_writer w;
            sx_writer_init_dynamic(&w, 4096);
            must(sx_ratchet_header_write(&w, v, &h) && w.len == used &&
                 memcmp(w.buf, data, used) == 0);
            sx_writer_cleanup(&w);
        }
    }
    sx_ratchet_enc_header eh;
    if (sx_ratchet_enc_header_decode(in, &eh) == SX_OK)
        must(eh.iv.len == 16 && eh.tag.len == 16 && eh.body.len <= 65535);
    sx_ratchet_enc_msg em;
    if (sx_ratchet_enc_msg_decode(in, &em) == SX_OK)
        must(em.tag.len == 16 && em.header.len + em.body.len + 16 < size + 1);

    must(sx_ratchet_read(sx_slice_of(saved, saved_len), &r) == SX_OK);
    uint8_t *out = malloc(size > 0 ? size : 1);
    must(out != NULL);
    sx_slice plain;
    sx_ratchet_error err;
    sx_status st = sx_ratchet_decrypt(&r, in, out, size, &plain, &err);
    if (st != SX_OK) {
        size_t n;
        uint8_t *now = state_bytes(&r, &n);
        must(n == saved_len && memcmp(now, saved, n) == 0);
        must(err.code != SX_RATCHET_OK ||
             (st != SX_E_PROTOCOL && st != SX_E_AUTH && st != SX_E_LIMIT));
        free(now);
    }
    free(out);
    sx_ratchet_cleanup(&r);
    return 0;
}
