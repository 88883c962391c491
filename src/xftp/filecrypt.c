/* Streaming secret box and XFTP whole-file encryption. The keystream is
 * libsodium's XSalsa20 addressed by 64-byte block counter, so pieces of any
 * size can be processed: whole blocks go straight through
 * crypto_stream_xsalsa20_xor_ic, a partial block uses one generated block
 * of keystream. */
#include "xftp/filecrypt.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

#include "core/reader.h"
#include "crypto/util.h"

_Static_assert(crypto_stream_xsalsa20_KEYBYTES == SX_XFTP_SB_KEY_LEN, "key size");
_Static_assert(crypto_stream_xsalsa20_NONCEBYTES == SX_XFTP_SB_NONCE_LEN, "nonce size");
_Static_assert(crypto_onetimeauth_poly1305_BYTES == SX_XFTP_SB_TAG_LEN, "tag size");

#define KS_BLOCK 64

static sx_status gen_block(sx_xftp_sb *s)
{
    static const uint8_t zero[KS_BLOCK];
    if (crypto_stream_xsalsa20_xor_ic(s->ks, zero, KS_BLOCK, s->nonce, s->pos / KS_BLOCK, s->k) != 0)
        return SX_E_INTERNAL;
    return SX_OK;
}

/* OpenSSL's Poly1305, fetched once; NULL when this OpenSSL has none. Never
 * freed (process lifetime). */
static pthread_once_t poly_once = PTHREAD_ONCE_INIT;
static EVP_MAC *poly_impl;

static void poly_fetch(void)
{
    poly_impl = EVP_MAC_fetch(NULL, "POLY1305", NULL);
}

static sx_status mac_init(sx_xftp_sb *s, bool sodium)
{
    if (!sodium && pthread_once(&poly_once, poly_fetch) == 0 && poly_impl != NULL) {
        EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(poly_impl);
        if (ctx == NULL)
            return SX_E_NOMEM;
        s->ossl = ctx;
        return EVP_MAC_init(ctx, s->ks, 32, NULL) == 1 ? SX_OK : SX_E_INTERNAL;
    }
    return crypto_onetimeauth_poly1305_init(&s->mac, s->ks) == 0 ? SX_OK : SX_E_INTERNAL;
}

static sx_status mac_update(sx_xftp_sb *s, const uint8_t *p, size_t n)
{
    if (s->ossl)
        return EVP_MAC_update(s->ossl, p, n) == 1 ? SX_OK : SX_E_INTERNAL;
    crypto_onetimeauth_poly1305_update(&s->mac, p, n);
    return SX_OK;
}

/* The tag; false (and a zero tag) when OpenSSL fails. */
static bool mac_final(sx_xftp_sb *s, uint8_t tag[SX_XFTP_SB_TAG_LEN])
{
    if (s->ossl) {
        size_t len = 0;
        if (EVP_MAC_final(s->ossl, tag, &len, SX_XFTP_SB_TAG_LEN) == 1 && len == SX_XFTP_SB_TAG_LEN)
            return true;
        memset(tag, 0, SX_XFTP_SB_TAG_LEN);
        return false;
    }
    crypto_onetimeauth_poly1305_final(&s->mac, tag);
    return true;
}

static sx_status sb_init(sx_xftp_sb *s, const uint8_t key[SX_XFTP_SB_KEY_LEN],
                         const uint8_t nonce[SX_XFTP_SB_NONCE_LEN], bool sodium)
{
    SX_ENSURE(s != NULL && key != NULL && nonce != NULL, SX_E_USAGE);
    memset(s, 0, sizeof *s);
    SX_TRY(sx_crypto_init());
    static const uint8_t zero16[crypto_core_hsalsa20_INPUTBYTES];
    /* PROTOCOL-NOTES A34: secret_box keys go through HSalsa20 first, like
     * crypto_box. */
    if (crypto_core_hsalsa20(s->k, zero16, key, NULL) != 0)
        return SX_E_INTERNAL;
    memcpy(s->nonce, nonce, SX_XFTP_SB_NONCE_LEN);
    sx_status st = gen_block(s);
    /* PROTOCOL-NOTES A36: keystream bytes 0..31 are the Poly1305 key, data
     * starts at 32. */
    if (st == SX_OK)
        st = mac_init(s, sodium);
    if (st != SX_OK) {
        sx_xftp_sb_cleanup(s);
        return st;
    }
    s->pos = 32;
    return SX_OK;
}

sx_status sx_xftp_sb_init(sx_xftp_sb *s, const uint8_t key[SX_XFTP_SB_KEY_LEN],
                          const uint8_t nonce[SX_XFTP_SB_NONCE_LEN])
{
    return sb_init(s, key, nonce, false);
}

sx_status sx_xftp_sb_init_sodium(sx_xftp_sb *s, const uint8_t key[SX_XFTP_SB_KEY_LEN],
                                 const uint8_t nonce[SX_XFTP_SB_NONCE_LEN])
{
    return sb_init(s, key, nonce, true);
}

static sx_status process(sx_xftp_sb *s, sx_slice in, uint8_t *out, bool encrypt)
{
    SX_ENSURE(s != NULL && (in.len == 0 || (in.ptr != NULL && out != NULL)), SX_E_USAGE);
    const uint8_t *src = in.ptr;
    size_t n = in.len;
    while (n > 0) {
        size_t off = (size_t)(s->pos % KS_BLOCK);
        size_t take;
        if (off == 0 && n >= KS_BLOCK) {
            take = n - n % KS_BLOCK;
            if (!encrypt)
                SX_TRY(mac_update(s, src, take));
            if (crypto_stream_xsalsa20_xor_ic(out, src, take, s->nonce, s->pos / KS_BLOCK, s->k) !=
                0)
                return SX_E_INTERNAL;
        } else {
            if (off == 0)
                SX_TRY(gen_block(s));
            take = KS_BLOCK - off < n ? KS_BLOCK - off : n;
            if (!encrypt)
                SX_TRY(mac_update(s, src, take));
            for (size_t i = 0; i < take; i++)
                out[i] = src[i] ^ s->ks[off + i];
        }
        if (encrypt)
            SX_TRY(mac_update(s, out, take));
        s->pos += take;
        src += take;
        out += take;
        n -= take;
    }
    return SX_OK;
}

sx_status sx_xftp_sb_encrypt(sx_xftp_sb *s, sx_slice in, uint8_t *out)
{
    return process(s, in, out, true);
}

sx_status sx_xftp_sb_decrypt(sx_xftp_sb *s, sx_slice in, uint8_t *out)
{
    return process(s, in, out, false);
}

void sx_xftp_sb_tag(sx_xftp_sb *s, uint8_t tag[SX_XFTP_SB_TAG_LEN])
{
    (void)mac_final(s, tag);
    sx_xftp_sb_cleanup(s);
}

sx_status sx_xftp_sb_verify(sx_xftp_sb *s, sx_slice tag)
{
    uint8_t mine[SX_XFTP_SB_TAG_LEN];
    bool done = mac_final(s, mine);
    sx_xftp_sb_cleanup(s);
    bool ok = done && tag.len == SX_XFTP_SB_TAG_LEN && sx_ct_equal(tag, sx_slice_of(mine, sizeof mine));
    sx_wipe(mine, sizeof mine);
    return ok ? SX_OK : SX_E_AUTH;
}

void sx_xftp_sb_cleanup(sx_xftp_sb *s)
{
    if (!s)
        return;
    EVP_MAC_CTX_free(s->ossl); /* clears the key it holds */
    sx_wipe(s, sizeof *s);
}

/* ---- sizes ---- */

static const uint32_t CHUNKS[] = {64u * 1024u, 256u * 1024u, 1024u * 1024u, 4u * 1024u * 1024u};

static int64_t three_quarters(uint32_t sz) { return ((int64_t)sz * 3) / 4; }

sx_status sx_xftp_chunk_sizes(int64_t payload, uint32_t *out, size_t cap, size_t *n)
{
    SX_ENSURE(n != NULL && payload >= 0 && (out != NULL || cap == 0), SX_E_USAGE);
    *n = 0;
    uint32_t small = CHUNKS[0], big = CHUNKS[1];
    if (payload > three_quarters(CHUNKS[3]))
        small = CHUNKS[2], big = CHUNKS[3];
    else if (payload > three_quarters(CHUNKS[2]))
        small = CHUNKS[1], big = CHUNKS[2];
    int64_t count_big = payload / big, rest = payload % big;
    int64_t count_small = 0;
    if (rest > three_quarters(big))
        count_big++; /* one more big chunk rather than many small ones */
    else
        count_small = (rest + small - 1) / small;
    if (count_big + count_small > (int64_t)cap)
        return SX_E_LIMIT;
    for (int64_t i = 0; i < count_big; i++)
        out[(*n)++] = big;
    for (int64_t i = 0; i < count_small; i++)
        out[(*n)++] = small;
    return SX_OK;
}

sx_status sx_xftp_single_chunk_size(int64_t payload, uint32_t *out)
{
    SX_ENSURE(out != NULL && payload >= 0, SX_E_USAGE);
    for (size_t i = 0; i < sizeof CHUNKS / sizeof CHUNKS[0]; i++)
        if ((int64_t)CHUNKS[i] >= payload) {
            *out = CHUNKS[i];
            return SX_OK;
        }
    return SX_E_LIMIT;
}

/* ---- file header ---- */

static bool utf8_valid(sx_slice s)
{
    size_t i = 0;
    while (i < s.len) {
        uint8_t c = s.ptr[i];
        size_t extra;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            extra = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            extra = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            extra = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (s.len - i <= extra)
            return false;
        for (size_t k = 1; k <= extra; k++) {
            if ((s.ptr[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s.ptr[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += extra + 1;
    }
    return true;
}

bool sx_xftp_file_header_write(sx_writer *w, const sx_xftp_file_header *h)
{
    if (!h || !utf8_valid(h->name) || (h->has_extra && !utf8_valid(h->extra)))
        return sx_writer_fail(w, SX_E_USAGE);
    return sx_write_short(w, h->name) && sx_write_maybe(w, h->has_extra) &&
           (!h->has_extra || sx_write_short(w, h->extra));
}

sx_status sx_xftp_file_header_decode(sx_slice content, sx_xftp_file_header *out, size_t *used)
{
    SX_ENSURE(out != NULL && used != NULL, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    *used = 0;
    sx_reader r;
    sx_reader_init_slice(&r, content);
    sx_read_short(&r, &out->name);
    sx_read_maybe(&r, &out->has_extra);
    if (out->has_extra)
        sx_read_short(&r, &out->extra);
    if (!sx_reader_ok(&r) || !utf8_valid(out->name) || !utf8_valid(out->extra)) {
        memset(out, 0, sizeof *out);
        return SX_E_PROTOCOL;
    }
    *used = r.off;
    return SX_OK;
}

/* ---- whole files ---- */

sx_status sx_xftp_file_encrypt_init(sx_xftp_file_enc *e, const uint8_t key[SX_XFTP_SB_KEY_LEN],
                                    const uint8_t nonce[SX_XFTP_SB_NONCE_LEN],
                                    int64_t content_len, int64_t enc_size,
                                    uint8_t len_out[SX_XFTP_FILE_LEN_HEADER])
{
    SX_ENSURE(e != NULL && len_out != NULL && content_len >= 0, SX_E_USAGE);
    memset(e, 0, sizeof *e);
    SX_ENSURE(content_len <= INT64_MAX - SX_XFTP_FILE_LEN_HEADER - SX_XFTP_SB_TAG_LEN &&
                  enc_size >= sx_xftp_payload_size(content_len),
              SX_E_USAGE);
    SX_TRY(sx_xftp_sb_init(&e->sb, key, nonce));
    e->content_len = content_len;
    e->pad_len = enc_size - sx_xftp_payload_size(content_len);
    uint8_t hdr[SX_XFTP_FILE_LEN_HEADER];
    sx_writer w;
    sx_writer_init_fixed(&w, hdr, sizeof hdr);
    sx_write_i64(&w, content_len);
    sx_status st = sx_writer_status(&w);
    if (st == SX_OK)
        st = sx_xftp_sb_encrypt(&e->sb, sx_slice_of(hdr, sizeof hdr), len_out);
    if (st != SX_OK)
        sx_xftp_sb_cleanup(&e->sb);
    return st;
}

sx_status sx_xftp_file_encrypt_update(sx_xftp_file_enc *e, sx_slice in, uint8_t *out)
{
    SX_ENSURE(e != NULL && (int64_t)in.len <= e->content_len, SX_E_USAGE);
    SX_TRY(sx_xftp_sb_encrypt(&e->sb, in, out));
    e->content_len -= (int64_t)in.len;
    return SX_OK;
}

sx_status sx_xftp_file_encrypt_pad(sx_xftp_file_enc *e, uint8_t *out, size_t cap, size_t *n)
{
    SX_ENSURE(e != NULL && n != NULL && e->content_len == 0 && (out != NULL || cap == 0),
              SX_E_USAGE);
    size_t take = (int64_t)cap < e->pad_len ? cap : (size_t)e->pad_len;
    if (take)
        memset(out, '#', take); /* PROTOCOL-NOTES A32 fill */
    *n = 0;
    SX_TRY(sx_xftp_sb_encrypt(&e->sb, sx_slice_of(out, take), out));
    e->pad_len -= (int64_t)take;
    *n = take;
    return SX_OK;
}

sx_status sx_xftp_file_encrypt_final(sx_xftp_file_enc *e, uint8_t tag[SX_XFTP_SB_TAG_LEN])
{
    SX_ENSURE(e != NULL && tag != NULL && e->content_len == 0 && e->pad_len == 0, SX_E_USAGE);
    sx_xftp_sb_tag(&e->sb, tag);
    sx_wipe(e, sizeof *e);
    return SX_OK;
}

sx_status sx_xftp_file_decrypt_init(sx_xftp_file_dec *d, const uint8_t key[SX_XFTP_SB_KEY_LEN],
                                    const uint8_t nonce[SX_XFTP_SB_NONCE_LEN], int64_t enc_size)
{
    SX_ENSURE(d != NULL, SX_E_USAGE);
    memset(d, 0, sizeof *d);
    SX_ENSURE(enc_size >= SX_XFTP_FILE_LEN_HEADER + SX_XFTP_SB_TAG_LEN, SX_E_USAGE);
    SX_TRY(sx_xftp_sb_init(&d->sb, key, nonce));
    d->body_len = enc_size - SX_XFTP_SB_TAG_LEN;
    d->content_len = -1;
    return SX_OK;
}

sx_status sx_xftp_file_decrypt_update(sx_xftp_file_dec *d, sx_slice in, uint8_t *out,
                                      sx_slice *content)
{
    SX_ENSURE(d != NULL && content != NULL, SX_E_USAGE);
    *content = sx_slice_of(NULL, 0);
    if ((int64_t)in.len > d->body_len - d->done)
        return SX_E_PROTOCOL;
    SX_TRY(sx_xftp_sb_decrypt(&d->sb, in, out));
    int64_t start = d->done, end = d->done + (int64_t)in.len;
    d->done = end;
    /* the length header: the first 8 plaintext bytes, maybe split */
    for (int64_t p = start; p < end && p < SX_XFTP_FILE_LEN_HEADER; p++)
        d->len_buf[p] = out[p - start];
    if (d->content_len < 0 && end >= SX_XFTP_FILE_LEN_HEADER) {
        sx_reader r;
        sx_reader_init(&r, d->len_buf, sizeof d->len_buf);
        int64_t len = -1;
        sx_read_i64(&r, &len);
        if (len < 0 || len > d->body_len - SX_XFTP_FILE_LEN_HEADER)
            return SX_E_PROTOCOL;
        d->content_len = len;
    }
    if (d->content_len < 0)
        return SX_OK;
    /* content occupies plaintext offsets [8, 8 + content_len) */
    int64_t c0 = SX_XFTP_FILE_LEN_HEADER, c1 = SX_XFTP_FILE_LEN_HEADER + d->content_len;
    int64_t a = start > c0 ? start : c0, b = end < c1 ? end : c1;
    if (a < b)
        *content = sx_slice_of(out + (a - start), (size_t)(b - a));
    return SX_OK;
}

sx_status sx_xftp_file_decrypt_final(sx_xftp_file_dec *d, sx_slice tag, int64_t *content_len)
{
    SX_ENSURE(d != NULL && content_len != NULL, SX_E_USAGE);
    *content_len = 0;
    bool complete = d->done == d->body_len && d->content_len >= 0;
    int64_t len = d->content_len;
    sx_status st = sx_xftp_sb_verify(&d->sb, tag);
    sx_wipe(d, sizeof *d);
    if (st != SX_OK)
        return st;
    if (!complete)
        return SX_E_PROTOCOL;
    *content_len = len;
    return SX_OK;
}
