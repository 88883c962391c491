/* Unit tests of XRCP attachments streamed (xrcp/tailbox.h,
 * xrcp/bodystream.h): the piecewise secret box against the one-shot body
 * writer, a body read in pieces of every size, refusals (truncated,
 * trailing, oversized, tampered: a failed tag at the end, after bytes were
 * written, which the writer then discards), the sending side in pieces
 * (the same bytes as the one-shot writer, a reader that ends early), and
 * an attachment of 100 MB
 * generated on the fly that passes through without the process's peak
 * memory growing with its size. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/box.h"
#include "crypto/hash.h"
#include "crypto/keys.h"
#include "crypto/util.h"
#include "xrcp/body.h"
#include "xrcp/bodystream.h"
#include "xrcp/session.h"

static const char HYBRID[] = "e517b91cca3c7175ed7f18c11abe392bbd3860e0f10e8a46fcd8e6e432506ba0";

typedef struct pair {
    sx_key *skey, *idkey;
    sx_xrcp_invitation inv; /* only skey and idkey are used */
    sx_xrcp_crypto ctrl, host;
} pair;

static sx_key *key_from_seq(uint8_t start)
{
    uint8_t raw[32];
    tu_bytes_seq(raw, sizeof raw, start);
    sx_key *k = NULL;
    assert_ok(sx_key_from_raw_private(SX_KEY_ED25519, sx_slice_of(raw, sizeof raw), &k));
    return k;
}

/* A controller and a host of one session (the same code on both sides). */
static pair *pair_new(void)
{
    pair *p = calloc(1, sizeof *p);
    assert_non_null(p);
    p->skey = key_from_seq(0);
    p->idkey = key_from_seq(32);
    size_t len = 0;
    assert_ok(sx_key_raw_public(p->skey, p->inv.skey, 32, &len));
    assert_ok(sx_key_raw_public(p->idkey, p->inv.idkey, 32, &len));
    uint8_t hybrid[32], code[32];
    tu_hex_to(HYBRID, hybrid, 32);
    tu_bytes_seq(code, sizeof code, 7);
    sx_sbchain csnd, crcv, hsnd, hrcv;
    assert_ok(sx_xrcp_chains_init(hybrid, true, &csnd, &crcv));
    assert_ok(sx_xrcp_chains_init(hybrid, false, &hsnd, &hrcv));
    assert_ok(sx_xrcp_crypto_init(&p->ctrl, sx_slice_of(code, 32), &csnd, &crcv, p->skey, p->idkey, NULL));
    assert_ok(sx_xrcp_crypto_init(&p->host, sx_slice_of(code, 32), &hsnd, &hrcv, NULL, NULL, &p->inv));
    return p;
}

static void pair_free(pair *p)
{
    sx_key_free(p->skey);
    sx_key_free(p->idkey);
    sx_xrcp_crypto_cleanup(&p->ctrl);
    sx_xrcp_crypto_cleanup(&p->host);
    free(p);
}

static void fill(uint8_t *b, size_t len, uint64_t from)
{
    for (size_t i = 0; i < len; i++) {
        uint64_t k = from + i;
        b[i] = (uint8_t)(k * 131 + (k >> 9) + (k >> 17));
    }
}

/* Sealed in pieces of odd sizes, the box is the one-shot box with its tag
 * moved to the end (the body writer's attachment), and opens in other
 * pieces. */
static void test_tailbox_pieces(void **state)
{
    (void)state;
    enum { N = 5000 };
    uint8_t key[32], nonce[24], m[N], c1[N], c2[N], back[N], tag1[16], tag2[16];
    tu_bytes_seq(key, sizeof key, 1);
    tu_bytes_seq(nonce, sizeof nonce, 50);
    fill(m, N, 0);
    sx_xrcp_tailbox b;
    assert_ok(sx_xrcp_tailbox_init(&b, key, nonce));
    assert_ok(sx_xrcp_tailbox_seal(&b, sx_slice_of(m, N), c1));
    sx_xrcp_tailbox_tag(&b, tag1);
    /* the one-shot secret box: tag first */
    uint8_t *one = malloc(N + 16);
    assert_non_null(one);
    assert_ok(sx_sb_encrypt(key, nonce, sx_slice_of(m, N), one, N + 16));
    assert_memory_equal(one, tag1, 16);
    assert_memory_equal(one + 16, c1, N);
    free(one);
    static const size_t sizes[] = {1, 31, 32, 33, 63, 64, 65, 127, 1000, 7};
    assert_ok(sx_xrcp_tailbox_init(&b, key, nonce));
    for (size_t off = 0, i = 0; off < N; i++) {
        size_t n = sizes[i % 10] < N - off ? sizes[i % 10] : N - off;
        assert_ok(sx_xrcp_tailbox_seal(&b, sx_slice_of(m + off, n), c2 + off));
        off += n;
    }
    sx_xrcp_tailbox_tag(&b, tag2);
    assert_memory_equal(c1, c2, N);
    assert_memory_equal(tag1, tag2, 16);
    assert_ok(sx_xrcp_tailbox_init(&b, key, nonce));
    for (size_t off = 0, i = 3; off < N; i++) {
        size_t n = sizes[i % 10] < N - off ? sizes[i % 10] : N - off;
        assert_ok(sx_xrcp_tailbox_open(&b, sx_slice_of(c1 + off, n), back + off));
        off += n;
    }
    assert_true(sx_xrcp_tailbox_verify(&b, tag1));
    assert_memory_equal(back, m, N);
    tag1[15] ^= 1;
    assert_ok(sx_xrcp_tailbox_init(&b, key, nonce));
    assert_ok(sx_xrcp_tailbox_open(&b, sx_slice_of(c1, N), back));
    assert_false(sx_xrcp_tailbox_verify(&b, tag1));
}

/* What the writer received; discarded on failure as an application does. */
typedef struct sink {
    uint8_t *buf;
    size_t len, cap;
    sx_hash_ctx *hash; /* or buf */
    uint64_t total;
} sink;

static sx_status sink_write(void *arg, sx_slice plain)
{
    sink *s = arg;
    s->total += plain.len;
    if (s->hash != NULL)
        return sx_hash_update(s->hash, plain);
    if (s->len + plain.len > s->cap)
        return SX_E_LIMIT;
    memcpy(s->buf + s->len, plain.ptr, plain.len);
    s->len += plain.len;
    return SX_OK;
}

/* Feeds body in pieces of `piece` bytes and ends it. */
static sx_status rx_all(sx_xrcp_crypto *c, const uint8_t *body, size_t len, size_t piece, sink *s, uint8_t **jbuf,
                        sx_slice *json, bool *has, uint64_t *alen, sx_xrcp_body_err *why)
{
    sx_xrcp_body_rx rx;
    sx_xrcp_body_rx_init(&rx, c, sink_write, s);
    sx_status st = SX_OK;
    for (size_t off = 0; off < len && st == SX_OK; off += piece)
        st = sx_xrcp_body_rx_feed(&rx, sx_slice_of(body + off, piece < len - off ? piece : len - off));
    sx_status end = sx_xrcp_body_rx_end(&rx, jbuf, json, has, alen, why);
    sx_xrcp_body_rx_cleanup(&rx);
    return st != SX_OK ? st : end;
}

static uint8_t *body_of(sx_xrcp_crypto *c, const char *json, sx_slice att, size_t *len)
{
    sx_writer w;
    sx_writer_init_dynamic(&w, SX_XRCP_BODY_MAX);
    assert_true(sx_xrcp_body_write(&w, c, sx_slice_str(json), att));
    return sx_writer_take(&w, len);
}

/* Bodies written whole, read in pieces of many sizes: the same JSON and
 * attachment; and one without an attachment. */
static void test_pieces(void **state)
{
    (void)state;
    static const size_t pieces[] = {1, 2, 5, 8, 9, 100, 1000, 16384, 100000};
    enum { ALEN = 70000 };
    uint8_t *att = malloc(ALEN);
    assert_non_null(att);
    fill(att, ALEN, 3);
    for (size_t k = 0; k < sizeof pieces / sizeof pieces[0]; k++) {
        pair *p = pair_new();
        for (int with = 0; with < 2; with++) {
            size_t len = 0;
            uint8_t *body = body_of(&p->ctrl, "{\"a\":1}", with ? sx_slice_of(att, ALEN) : sx_slice_of(NULL, 0),
                                    &len);
            sink s = {.buf = malloc(ALEN), .cap = ALEN};
            uint8_t *jbuf = NULL;
            sx_slice json;
            bool has = true;
            uint64_t alen = 9;
            sx_xrcp_body_err why;
            assert_ok(rx_all(&p->host, body, len, pieces[k], &s, &jbuf, &json, &has, &alen, &why));
            assert_int_equal(json.len, 7);
            assert_memory_equal(json.ptr, "{\"a\":1}", 7);
            assert_int_equal(has, with);
            assert_int_equal(alen, with ? ALEN : 0);
            assert_int_equal(s.len, with ? ALEN : 0);
            if (with)
                assert_memory_equal(s.buf, att, ALEN);
            free(jbuf);
            free(s.buf);
            free(body);
        }
        pair_free(p);
    }
    free(att);
}

/* A reader of att that gives at most `most` bytes a call, and fails
 * after `fail_at` bytes (0: never) or ends after `end_at` (0: at the end). */
typedef struct reader {
    const uint8_t *att;
    size_t len, off, most, end_at;
    bool fail;
} reader;

static sx_status reader_read(void *arg, uint8_t *buf, size_t cap, size_t *got)
{
    reader *r = arg;
    if (r->fail)
        return SX_E_IO;
    size_t end = r->end_at != 0 ? r->end_at : r->len;
    size_t n = end - r->off;
    if (n > cap)
        n = cap;
    if (n > r->most)
        n = r->most;
    memcpy(buf, r->att + r->off, n);
    r->off += n;
    *got = n;
    return SX_OK;
}

/* Takes the whole body from tx in pieces of the sizes given in turn. */
static sx_status tx_all(sx_xrcp_body_tx *tx, uint8_t *out, size_t cap, size_t *len)
{
    static const size_t caps[] = {1, 7, 16384, 3, 100, 65536, 5};
    *len = 0;
    for (size_t i = 0;; i++) {
        size_t want = caps[i % 7], got = 0;
        bool eof = false;
        assert_true(*len + want <= cap);
        sx_status st = sx_xrcp_body_tx_take(tx, out + *len, want, &got, &eof);
        if (st != SX_OK)
            return st;
        assert_true(got <= want);
        *len += got;
        if (eof)
            return SX_OK;
        assert_true(got > 0);
    }
}

/* The body sent in pieces is byte for byte the one written whole (the two
 * pairs start alike: all keys come from the same seeds), with and without
 * an attachment, of lengths around the piece sizes; it reads back. A
 * reader that ends early or fails ends the body with an error. */
static void test_tx_pieces(void **state)
{
    (void)state;
    static const size_t lens[] = {0, 1, 15, 16, 17, 16383, 16384, 70001};
    enum { MAX = 70001 };
    uint8_t *att = malloc(MAX), *out = malloc(MAX + 200000);
    assert_non_null(att);
    assert_non_null(out);
    fill(att, MAX, 11);
    for (size_t k = 0; k <= sizeof lens / sizeof lens[0]; k++) {
        bool with = k < sizeof lens / sizeof lens[0];
        size_t alen = with ? lens[k] : 0;
        pair *whole = pair_new(), *piece = pair_new();
        size_t len = 0, got = 0;
        uint8_t *body = body_of(&whole->ctrl, "{\"b\":2}", with ? sx_slice_of(att, alen) : sx_slice_of(NULL, 0),
                                &len);
        reader r = {.att = att, .len = alen, .most = 777};
        sx_xrcp_body_tx tx;
        assert_ok(sx_xrcp_body_tx_init(&tx, &piece->ctrl, sx_slice_str("{\"b\":2}"), with, alen, reader_read, &r));
        assert_ok(tx_all(&tx, out, MAX + 200000, &got));
        sx_xrcp_body_tx_cleanup(&tx);
        assert_int_equal(got, len);
        assert_memory_equal(out, body, len);
        sink s = {.buf = malloc(MAX + 1), .cap = MAX + 1};
        uint8_t *jbuf = NULL;
        sx_slice json;
        bool has = false;
        uint64_t n = 0;
        sx_xrcp_body_err why;
        assert_ok(rx_all(&piece->host, out, got, 4096, &s, &jbuf, &json, &has, &n, &why));
        assert_int_equal(has, with);
        assert_int_equal(n, alen);
        if (alen > 0)
            assert_memory_equal(s.buf, att, alen);
        free(jbuf);
        free(s.buf);
        free(body);
        pair_free(whole);
        pair_free(piece);
    }
    pair *p = pair_new();
    reader early = {.att = att, .len = 5000, .most = 1000, .end_at = 2500};
    sx_xrcp_body_tx tx;
    size_t got = 0;
    assert_ok(sx_xrcp_body_tx_init(&tx, &p->ctrl, sx_slice_str("{}"), true, 5000, reader_read, &early));
    assert_int_equal(tx_all(&tx, out, MAX + 200000, &got), SX_E_PROTOCOL);
    sx_xrcp_body_tx_cleanup(&tx);
    reader broken = {.att = att, .len = 5000, .most = 1000, .fail = true};
    assert_ok(sx_xrcp_body_tx_init(&tx, &p->ctrl, sx_slice_str("{}"), true, 5000, reader_read, &broken));
    assert_int_equal(tx_all(&tx, out, MAX + 200000, &got), SX_E_IO);
    sx_xrcp_body_tx_cleanup(&tx);
    /* an attachment over the bound, and no reader for one */
    assert_int_equal(sx_xrcp_body_tx_init(&tx, &p->ctrl, sx_slice_str("{}"), true, (uint64_t)SX_XRCP_STREAM_MAX + 1,
                                          reader_read, &early),
                     SX_E_LIMIT);
    sx_xrcp_body_tx_cleanup(&tx);
    assert_int_equal(sx_xrcp_body_tx_init(&tx, &p->ctrl, sx_slice_str("{}"), true, 10, NULL, NULL), SX_E_USAGE);
    sx_xrcp_body_tx_cleanup(&tx);
    pair_free(p);
    free(att);
    free(out);
}

/* Truncated at every length of the head and in the attachment, a trailing
 * byte, a tampered head (refused before the writer gets a byte), a tampered
 * attachment (its tag fails at the end), an attachment to a receiver that
 * takes none. */
static void test_refused(void **state)
{
    (void)state;
    enum { ALEN = 3000 };
    uint8_t att[ALEN];
    fill(att, ALEN, 9);
    pair *p = pair_new();
    size_t len = 0;
    uint8_t *body = body_of(&p->ctrl, "{\"b\":2}", sx_slice_of(att, ALEN), &len);
    uint8_t *copy = malloc(len + 1);
    assert_non_null(copy);
    uint8_t buf[ALEN];
    uint8_t *jbuf = NULL;
    sx_slice json;
    bool has = false;
    uint64_t alen = 0;
    sx_xrcp_body_err why;
    /* each truncation: refused; the counter is not used up by a head that
     * is not whole */
    long head = sx_xrcp_body_head_want(&p->host, sx_slice_of(body, len));
    assert_true(head > 8 && (size_t)head < len);
    for (size_t cut = 0; cut < len; cut += (cut < 300 ? 1 : 97)) {
        sink s = {.buf = buf, .cap = ALEN};
        sx_status st = rx_all(&p->host, body, cut, 64, &s, &jbuf, &json, &has, &alen, &why);
        if (cut == (size_t)head) {
            /* the signatures do not cover the attachment: cut off whole,
             * the body reads as one without (as the reference's would) */
            assert_ok(st);
            assert_false(has);
            free(jbuf);
            jbuf = NULL;
        } else {
            assert_int_not_equal(st, SX_OK);
            assert_null(jbuf);
        }
        if (cut == (size_t)head || cut >= (size_t)head + 5) {
            /* the head was whole and checked: a new session state for the
             * next round, as the counter is now taken */
            pair_free(p);
            p = pair_new();
            free(body);
            body = body_of(&p->ctrl, "{\"b\":2}", sx_slice_of(att, ALEN), &len);
        }
    }
    /* trailing byte */
    pair_free(p);
    p = pair_new();
    free(body);
    body = body_of(&p->ctrl, "{\"b\":2}", sx_slice_of(att, ALEN), &len);
    memcpy(copy, body, len);
    copy[len] = 0;
    sink s = {.buf = buf, .cap = ALEN};
    assert_int_equal(rx_all(&p->host, copy, len + 1, 1000, &s, &jbuf, &json, &has, &alen, &why), SX_E_PROTOCOL);
    assert_int_equal(why, SX_XRCP_BODY_INVALID);
    pair_free(p);
    /* tampered head: nothing written */
    p = pair_new();
    free(body);
    body = body_of(&p->ctrl, "{\"b\":2}", sx_slice_of(att, ALEN), &len);
    memcpy(copy, body, len);
    copy[12] ^= 1;
    s = (sink){.buf = buf, .cap = ALEN};
    assert_int_equal(rx_all(&p->host, copy, len, 100, &s, &jbuf, &json, &has, &alen, &why), SX_E_AUTH);
    assert_int_equal(why, SX_XRCP_BODY_CTRL_AUTH);
    assert_int_equal(s.len, 0);
    /* tampered attachment: written, then refused at the tag */
    memcpy(copy, body, len);
    copy[len - 100] ^= 1;
    s = (sink){.buf = buf, .cap = ALEN};
    assert_int_equal(rx_all(&p->host, copy, len, 100, &s, &jbuf, &json, &has, &alen, &why), SX_E_AUTH);
    assert_int_equal(why, SX_XRCP_BODY_DECRYPT);
    assert_true(s.len > 0);
    assert_null(jbuf);
    pair_free(p);
    /* a receiver without a writer refuses an attachment */
    p = pair_new();
    free(body);
    body = body_of(&p->ctrl, "{\"b\":2}", sx_slice_of(att, ALEN), &len);
    sx_xrcp_body_rx rx;
    sx_xrcp_body_rx_init(&rx, &p->host, NULL, NULL);
    assert_int_equal(sx_xrcp_body_rx_feed(&rx, sx_slice_of(body, len)), SX_E_PROTOCOL);
    assert_int_equal(sx_xrcp_body_rx_end(&rx, &jbuf, &json, &has, &alen, &why), SX_E_PROTOCOL);
    assert_int_equal(why, SX_XRCP_BODY_INVALID);
    sx_xrcp_body_rx_cleanup(&rx);
    /* an oversized ct length in the head */
    memcpy(copy, body, len);
    copy[4] = 0x7f;
    s = (sink){.buf = buf, .cap = ALEN};
    assert_int_equal(rx_all(&p->host, copy, len, 3, &s, &jbuf, &json, &has, &alen, &why), SX_E_PROTOCOL);
    assert_int_equal(why, SX_XRCP_BODY_INVALID);
    pair_free(p);
    free(copy);
    free(body);
}

static long peak_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmHWM: %ld kB", &v) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return v;
}

/* 100 MB, more than the 64 MiB an attachment held in memory may have,
 * generated piece by piece, sealed by the controller's side and read by the
 * host's in pieces of 64 KiB, its digest computed on both sides; the
 * process's peak resident size grows by far less than the attachment. */
static void test_hundred_megabytes(void **state)
{
    (void)state;
    const uint64_t total = 100000000;
    enum { PIECE = 65536 };
    pair *p = pair_new();
    uint8_t *plain = malloc(PIECE), *ct = malloc(PIECE);
    assert_non_null(plain);
    assert_non_null(ct);
    long before = peak_kb();
    sx_writer w;
    sx_writer_init_dynamic(&w, SX_XRCP_BODY_MAX);
    sx_xrcp_tailbox box;
    assert_true(sx_xrcp_body_write_head(&w, &p->ctrl, sx_slice_str("{\"type\":\"file\"}"), true, total, &box));
    sx_hash_ctx sent, got;
    assert_ok(sx_hash_init(&sent, SX_HASH_SHA512));
    assert_ok(sx_hash_init(&got, SX_HASH_SHA512));
    sink s = {.hash = &got};
    sx_xrcp_body_rx rx;
    sx_xrcp_body_rx_init(&rx, &p->host, sink_write, &s);
    assert_ok(sx_xrcp_body_rx_feed(&rx, sx_writer_slice(&w)));
    sx_writer_cleanup(&w);
    for (uint64_t off = 0; off < total;) {
        size_t n = total - off < PIECE ? (size_t)(total - off) : PIECE;
        fill(plain, n, off);
        assert_ok(sx_hash_update(&sent, sx_slice_of(plain, n)));
        assert_ok(sx_xrcp_tailbox_seal(&box, sx_slice_of(plain, n), ct));
        assert_ok(sx_xrcp_body_rx_feed(&rx, sx_slice_of(ct, n)));
        off += n;
    }
    uint8_t tag[16];
    sx_xrcp_tailbox_tag(&box, tag);
    assert_ok(sx_xrcp_body_rx_feed(&rx, sx_slice_of(tag, 16)));
    uint8_t *jbuf = NULL;
    sx_slice json;
    bool has = false;
    uint64_t alen = 0;
    sx_xrcp_body_err why;
    assert_ok(sx_xrcp_body_rx_end(&rx, &jbuf, &json, &has, &alen, &why));
    sx_xrcp_body_rx_cleanup(&rx);
    assert_true(has);
    assert_true(alen == total);
    assert_true(s.total == total);
    uint8_t d1[SX_SHA512_LEN], d2[SX_SHA512_LEN];
    assert_ok(sx_hash_final(&sent, d1, sizeof d1));
    assert_ok(sx_hash_final(&got, d2, sizeof d2));
    sx_hash_cleanup(&sent);
    sx_hash_cleanup(&got);
    assert_memory_equal(d1, d2, sizeof d1);
    long after = peak_kb();
    printf("# 100 MB attachment streamed: peak resident %ld kB before, %ld kB after\n", before, after);
    if (before > 0 && after > 0)
        assert_true(after - before < (long)(total / 1024 / 4));
    free(jbuf);
    free(plain);
    free(ct);
    pair_free(p);
}

int main(void)
{
    if (sx_crypto_init() != SX_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tailbox_pieces),
        cmocka_unit_test(test_pieces),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_tx_pieces),
        cmocka_unit_test(test_hundred_megabytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
