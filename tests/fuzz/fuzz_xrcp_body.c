/* Fuzz target: the XRCP session payloads (xrcp/body.h). The input is read
 * as a command by the host and as a response by the controller of the unit
 * test's KAT session (fresh state each run); the seeds are the known-answer
 * bodies of unit.xrcp_body. Whatever is read must lie inside the input's
 * size and anything accepted must have taken a counter. The same input
 * read piece by piece (xrcp/bodystream.h, pieces of a size taken from the
 * input) by a fresh state must give the same outcome, JSON and attachment. */
#include "xrcp/body.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/util.h"
#include "xrcp/bodystream.h"
#include "xrcp/session.h"

static const uint8_t HYBRID[32] = {0xe5, 0x17, 0xb9, 0x1c, 0xca, 0x3c, 0x71, 0x75, 0xed, 0x7f, 0x18,
                                   0xc1, 0x1a, 0xbe, 0x39, 0x2b, 0xbd, 0x38, 0x60, 0xe0, 0xf1, 0x0e,
                                   0x8a, 0x46, 0xfc, 0xd8, 0xe6, 0xe4, 0x32, 0x50, 0x6b, 0xa0};

static sx_key *key_from_seq(uint8_t start)
{
    uint8_t raw[32];
    for (size_t i = 0; i < 32; i++)
        raw[i] = (uint8_t)(start + i);
    sx_key *k = NULL;
    if (sx_key_from_raw_private(SX_KEY_ED25519, sx_slice_of(raw, 32), &k) != SX_OK)
        abort();
    return k;
}

typedef struct sink {
    uint8_t *buf;
    size_t len, cap;
} sink;

static sx_status sink_write(void *arg, sx_slice plain)
{
    sink *s = arg;
    if (plain.len > s->cap - s->len)
        abort(); /* more than the input holds */
    memcpy(s->buf + s->len, plain.ptr, plain.len);
    s->len += plain.len;
    return SX_OK;
}

/* c2 is a fresh copy of c's state before c read the input */
static void compare_stream(sx_xrcp_crypto *c2, const uint8_t *data, size_t size, sx_status st1, sx_slice json1,
                           bool has1, sx_slice att1)
{
    sink s = {.buf = malloc(size + 1), .cap = size};
    if (s.buf == NULL)
        abort();
    size_t piece = size > 0 ? (size_t)data[size - 1] % 61 + 1 : 1;
    sx_xrcp_body_rx rx;
    sx_xrcp_body_rx_init(&rx, c2, sink_write, &s);
    sx_status st = SX_OK;
    for (size_t off = 0; off < size && st == SX_OK; off += piece)
        st = sx_xrcp_body_rx_feed(&rx, sx_slice_of(data + off, piece < size - off ? piece : size - off));
    uint8_t *jbuf = NULL;
    sx_slice json;
    bool has = false;
    uint64_t alen = 0;
    sx_xrcp_body_err why;
    sx_status end = sx_xrcp_body_rx_end(&rx, &jbuf, &json, &has, &alen, &why);
    sx_xrcp_body_rx_cleanup(&rx);
    if (st == SX_OK)
        st = end;
    if ((st == SX_OK) != (st1 == SX_OK))
        abort();
    if (st == SX_OK && (json.len != json1.len || memcmp(json.ptr, json1.ptr, json.len) != 0 || has != has1 ||
                        alen != att1.len || s.len != att1.len || (s.len > 0 && memcmp(s.buf, att1.ptr, s.len) != 0)))
        abort();
    free(jbuf);
    free(s.buf);
}

static void check(sx_xrcp_crypto *c, const uint8_t *data, size_t size)
{
    sx_xrcp_crypto *c2 = malloc(sizeof *c2);
    if (c2 == NULL)
        abort();
    memcpy(c2, c, sizeof *c2);
    uint8_t *buf = NULL;
    sx_slice json, att;
    bool has = false;
    sx_xrcp_body_err why;
    sx_status st = sx_xrcp_body_read(c, sx_slice_of(data, size), &buf, &json, &has, &att, &why);
    if (st == SX_OK) {
        if (c->rcv_counter == 0 || json.len + att.len > size || (!has && att.len != 0))
            abort();
    } else if (buf != NULL || why == SX_XRCP_BODY_OK) {
        abort();
    }
    compare_stream(c2, data, size, st, json, has, att);
    free(buf);
    sx_xrcp_crypto_cleanup(c2);
    free(c2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sx_key *skey, *idkey;
    static sx_xrcp_invitation inv;
    if (skey == NULL) {
        if (sx_crypto_init() != SX_OK)
            abort();
        skey = key_from_seq(0);
        idkey = key_from_seq(32);
        size_t len = 0;
        if (sx_key_raw_public(skey, inv.skey, 32, &len) != SX_OK ||
            sx_key_raw_public(idkey, inv.idkey, 32, &len) != SX_OK)
            abort();
    }
    uint8_t code[32], k[32], n[24];
    for (size_t i = 0; i < 32; i++)
        code[i] = (uint8_t)(40 + i);
    sx_sbchain csnd, crcv, hsnd, hrcv;
    sx_xrcp_crypto ctrl, host;
    if (sx_xrcp_chains_init(HYBRID, true, &csnd, &crcv) != SX_OK ||
        sx_xrcp_chains_init(HYBRID, false, &hsnd, &hrcv) != SX_OK || sx_sbchain_step(&hrcv, k, n) != SX_OK ||
        sx_xrcp_crypto_init(&ctrl, sx_slice_of(code, 32), &csnd, &crcv, skey, idkey, NULL) != SX_OK ||
        sx_xrcp_crypto_init(&host, sx_slice_of(code, 32), &hsnd, &hrcv, NULL, NULL, &inv) != SX_OK)
        abort();
    check(&host, data, size);
    check(&ctrl, data, size);
    sx_xrcp_crypto_cleanup(&ctrl);
    sx_xrcp_crypto_cleanup(&host);
    return 0;
}
