/* XRCP host (host.h, PROTOCOL-NOTES X7-X10). */
#include "xrcp/host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/util.h"
#include "transport/net.h"
#include "xrcp/announce.h"
#include "xrcp/discovery.h"
#include "xrcp/h2.h"
#include "xrcp/json.h"
#include "xrcp/session.h"

struct sx_xrcp_host {
    sx_xrcp_host_pairing *pairing;
    sx_xrcp_signed_invitation s;
    char *app;
    sx_tls_ctx *tls;
    int fd;
    sx_tls_conn *conn;
    uint8_t code[SX_TLS_UNIQUE_MAX];
    size_t code_len;
    bool started;
    bool lie_ca;
    sx_sbchain snd, rcv;
    sx_xrcp_crypto crypto;
    sx_xrcp_h2 *h2;
    /* the command being received: its stream, and where its attachment goes */
    sx_xrcp_body_rx rx;
    bool rx_on;
    int32_t rx_stream;
    sx_xrcp_att_writer att_write;
    void *att_arg;
    sx_xrcp_err err;
    char message[256];
};

static void set_err(sx_xrcp_err *err, sx_xrcp_err e)
{
    if (err != NULL)
        *err = e;
}

sx_status sx_xrcp_host_check(const sx_xrcp_signed_invitation *s, const sx_xrcp_host_pairing *p, int64_t now,
                             int64_t max_age, sx_xrcp_err *err)
{
    if (s == NULL || p == NULL)
        return SX_E_USAGE;
    if (sx_xrcp_invitation_verify(s) != SX_OK || s->inv.ts > now + SX_XRCP_CLOCK_SKEW ||
        (max_age >= 0 && s->inv.ts < now - max_age)) {
        set_err(err, SX_XRCP_ERR_INVITATION);
        return SX_E_AUTH;
    }
    if (p->paired && (memcmp(s->inv.ca, p->ctrl_fp, SX_XRCP_FP_LEN) != 0 ||
                      memcmp(s->inv.idkey, p->ctrl_idkey, SX_XRCP_KEY_LEN) != 0)) {
        set_err(err, SX_XRCP_ERR_IDENTITY);
        return SX_E_AUTH;
    }
    return SX_OK;
}

sx_status sx_xrcp_host_discover(int fd, sx_xrcp_host_pairing *const *pairings, size_t n, int64_t max_age,
                                int timeout_ms, sx_xrcp_signed_invitation *out, size_t *which, sx_xrcp_err *err)
{
    if (pairings == NULL || n == 0 || n > 64 || out == NULL || which == NULL)
        return SX_E_USAGE;
    const sx_key *keys[128];
    for (size_t i = 0; i < n; i++) {
        keys[2 * i] = pairings[i]->dh;
        keys[2 * i + 1] = pairings[i]->prev_dh;
    }
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint8_t *buf = malloc(SX_XRCP_MCAST_MAX);
    if (buf == NULL)
        return SX_E_NOMEM;
    sx_status st = SX_E_IO;
    set_err(err, SX_XRCP_ERR_NOT_DISCOVERED);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        long spent = (long)(t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (spent >= timeout_ms)
            break;
        size_t len = 0, k = 0;
        char src[16];
        if (sx_xrcp_mcast_recv(fd, (int)(timeout_ms - spent), buf, SX_XRCP_MCAST_MAX, &len, src) != SX_OK)
            continue;
        if (sx_xrcp_announce_decode(sx_slice_of(buf, len), keys, 2 * n, out, &k) != SX_OK)
            continue; /* not for us, or not a valid packet: keep listening */
        if (sx_xrcp_announce_from_host(&out->inv, src) &&
            sx_xrcp_host_check(out, pairings[k / 2], (int64_t)time(NULL), max_age, NULL) == SX_OK) {
            *which = k / 2;
            set_err(err, SX_XRCP_ERR_NONE);
            st = SX_OK;
            break;
        }
        sx_xrcp_signed_invitation_clear(out);
    }
    free(buf);
    return st;
}

sx_status sx_xrcp_host_connect(sx_xrcp_host_pairing *p, const sx_xrcp_signed_invitation *s, const char *app,
                               int timeout_ms, sx_xrcp_host **out, sx_xrcp_err *err)
{
    if (p == NULL || s == NULL || out == NULL)
        return SX_E_USAGE;
    *out = NULL;
    const char *a = app != NULL ? app : "{}";
    if (!sx_xrcp_json_valid(sx_slice_str(a)))
        return SX_E_USAGE;
    sx_xrcp_host *h = calloc(1, sizeof *h);
    if (h == NULL)
        return SX_E_NOMEM;
    h->pairing = p;
    h->fd = -1;
    sx_xrcp_err e = SX_XRCP_ERR_INTERNAL;
    sx_status st = SX_OK;
    /* a copy of the invitation, through its text */
    sx_writer w;
    sx_writer_init_dynamic(&w, SX_XRCP_URI_MAX);
    if (!sx_xrcp_signed_invitation_write(&w, s))
        st = SX_E_USAGE;
    if (st == SX_OK)
        st = sx_xrcp_invitation_decode(sx_writer_slice(&w), &h->s);
    sx_writer_cleanup(&w);
    if (st == SX_OK && (h->app = strdup(a)) == NULL)
        st = SX_E_NOMEM;
    if (st == SX_OK)
        st = sx_xrcp_tls_ctx(&p->ca, false, &h->tls);
    if (st == SX_OK) {
        e = SX_XRCP_ERR_EXCEPTION;
        st = sx_net_connect(h->s.inv.host, h->s.inv.port, timeout_ms, &h->fd);
    }
    if (st == SX_OK)
        st = sx_tls_conn_new_client(h->tls, h->fd, h->s.inv.ca, &h->conn);
    if (st == SX_OK) {
        st = sx_tls_handshake_blocking(h->conn, timeout_ms);
        if (st == SX_E_AUTH)
            e = SX_XRCP_ERR_IDENTITY; /* the server's CA is not the invitation's */
    }
    if (st == SX_OK) {
        sx_slice u = sx_tls_unique(h->conn);
        if (u.len == 0 || u.len > sizeof h->code) {
            st = SX_E_INTERNAL;
        } else {
            memcpy(h->code, u.ptr, u.len);
            h->code_len = u.len;
        }
    }
    if (st != SX_OK) {
        set_err(err, e);
        sx_xrcp_host_free(h);
        return st;
    }
    set_err(err, SX_XRCP_ERR_NONE);
    *out = h;
    return SX_OK;
}

static long elapsed_ms(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)(t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

#define FAILED_MAX 16

sx_status sx_xrcp_host_discover_connect(int fd, sx_xrcp_host_pairing *const *pairings, size_t n, int64_t max_age,
                                        const char *app, int timeout_ms, sx_xrcp_host **out, size_t *which,
                                        sx_xrcp_err *err)
{
    if (out == NULL || which == NULL || timeout_ms < 0)
        return SX_E_USAGE;
    *out = NULL;
    /* the invitation DH keys of sessions that could not be joined: each
     * session has its own, so every later packet of theirs is passed over */
    uint8_t failed[FAILED_MAX][SX_XRCP_KEY_LEN];
    size_t nfailed = 0, next = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    sx_status st = SX_E_IO;
    set_err(err, SX_XRCP_ERR_NOT_DISCOVERED);
    for (;;) {
        long left = timeout_ms - elapsed_ms(&t0);
        if (left <= 0)
            break;
        sx_xrcp_signed_invitation s;
        sx_xrcp_err e = SX_XRCP_ERR_NONE;
        size_t k = 0;
        sx_status found = sx_xrcp_host_discover(fd, pairings, n, max_age, (int)left, &s, &k, &e);
        if (found == SX_E_USAGE || found == SX_E_NOMEM)
            return found;
        if (found != SX_OK)
            break; /* the time is spent: st and *err as they are */
        bool skip = false;
        for (size_t i = 0; i < nfailed && !skip; i++)
            skip = memcmp(failed[i], s.inv.dh, SX_XRCP_KEY_LEN) == 0;
        if (!skip) {
            left = timeout_ms - elapsed_ms(&t0);
            st = sx_xrcp_host_connect(pairings[k], &s, app, left > 0 ? (int)left : 1, out, &e);
            set_err(err, e);
            if (st == SX_OK) {
                *which = k;
                sx_xrcp_signed_invitation_clear(&s);
                return SX_OK;
            }
            if (st == SX_E_USAGE || st == SX_E_NOMEM) {
                sx_xrcp_signed_invitation_clear(&s);
                return st;
            }
            /* an ended session's announcement (or a controller gone): keep
             * listening for another session */
            memcpy(failed[next], s.inv.dh, SX_XRCP_KEY_LEN);
            next = (next + 1) % FAILED_MAX;
            nfailed = nfailed < FAILED_MAX ? nfailed + 1 : FAILED_MAX;
        }
        sx_xrcp_signed_invitation_clear(&s);
    }
    return st;
}

void sx_xrcp_host_free(sx_xrcp_host *h)
{
    if (h == NULL)
        return;
    sx_xrcp_h2_free(h->h2);
    if (h->rx_on)
        sx_xrcp_body_rx_cleanup(&h->rx);
    sx_xrcp_crypto_cleanup(&h->crypto);
    if (h->conn != NULL) {
        sx_status closed = sx_tls_shutdown_blocking(h->conn, 1000);
        (void)closed; /* the controller may be gone */
    }
    sx_tls_conn_free(h->conn);
    sx_net_close(h->fd);
    sx_tls_ctx_free(h->tls);
    sx_xrcp_signed_invitation_clear(&h->s);
    free(h->app);
    sx_sbchain_cleanup(&h->snd);
    sx_sbchain_cleanup(&h->rcv);
    sx_wipe(h, sizeof *h);
    free(h);
}

sx_slice sx_xrcp_host_code(const sx_xrcp_host *h)
{
    return sx_slice_of(h->code, h->code_len);
}

static sx_status fail(sx_xrcp_host *h, sx_xrcp_err e, sx_status st)
{
    h->err = e;
    return st;
}

/* The bytes of a command's body, decoded as they come (one command at a
 * time: a second stream at once fails; h2 holds a new request back until
 * one the controller reset has been returned, so that the new one's bytes
 * never reach the writer of the call that reports the reset). A refused
 * body keeps its failure in the receiver, which says it when the body has
 * ended. */
static sx_status command_sink(void *arg, int32_t stream, sx_slice data)
{
    sx_xrcp_host *h = arg;
    if (!h->rx_on) {
        sx_xrcp_body_rx_init(&h->rx, &h->crypto, h->att_write, h->att_arg);
        h->rx_on = true;
        h->rx_stream = stream;
    } else if (stream != h->rx_stream) {
        return SX_E_LIMIT;
    }
    sx_status kept = sx_xrcp_body_rx_feed(&h->rx, data);
    (void)kept;
    return SX_OK;
}

sx_status sx_xrcp_host_send_hello(sx_xrcp_host *h, int timeout_ms)
{
    if (h == NULL || h->conn == NULL || h->started)
        return SX_E_USAGE;
    sx_xrcp_host_pairing *p = h->pairing;
    sx_xrcp_host_hello hello;
    memset(&hello, 0, sizeof hello);
    uint8_t *block = malloc(SX_XRCP_BLOCK_LEN);
    uint8_t *kem_sk = malloc(SX_SNTRUP761_SK_LEN);
    sx_key *dh = NULL, *peer = NULL;
    uint8_t secret[32], ct[SX_SNTRUP761_CT_LEN], ss[SX_SNTRUP761_SS_LEN], hybrid[32];
    size_t len = 0;
    sx_status st = block != NULL && kem_sk != NULL ? SX_OK : SX_E_NOMEM;
    if (st == SX_OK && sx_xrcp_version_choose(h->s.inv.v, &hello.v) != SX_OK) {
        st = fail(h, SX_XRCP_ERR_VERSION, SX_E_PROTOCOL);
        goto done;
    }
    memcpy(hello.ca, p->ca.fp, SX_XRCP_FP_LEN);
    if (h->lie_ca)
        hello.ca[0] ^= 1;
    hello.app = (uint8_t *)h->app;
    hello.app_len = strlen(h->app);
    if (st == SX_OK)
        st = sx_key_generate(SX_KEY_X25519, &dh);
    if (st == SX_OK)
        st = sx_key_raw_public(dh, hello.dh, SX_XRCP_KEY_LEN, &len);
    if (st == SX_OK)
        st = sx_sntrup761_keypair(hello.kem_pk, kem_sk, NULL);
    if (st == SX_OK)
        st = sx_xrcp_host_hello_encode(&hello, dh, h->s.inv.dh, NULL, block);
    hello.app = NULL;
    if (st != SX_OK) {
        fail(h, SX_XRCP_ERR_ENCRYPT, st);
        goto done;
    }
    st = sx_tls_write_full(h->conn, block, SX_XRCP_BLOCK_LEN, timeout_ms);
    if (st == SX_OK)
        st = sx_tls_read_full(h->conn, block, SX_XRCP_BLOCK_LEN, timeout_ms);
    if (st != SX_OK) {
        fail(h, SX_XRCP_ERR_EXCEPTION, st);
        goto done;
    }
    st = sx_key_from_raw_public(SX_KEY_X25519, sx_slice_of(h->s.inv.dh, SX_XRCP_KEY_LEN), &peer);
    if (st == SX_OK)
        st = sx_key_dh(dh, peer, secret, sizeof secret, &len);
    if (st != SX_OK) {
        fail(h, SX_XRCP_ERR_INTERNAL, st);
        goto done;
    }
    bool is_error = false;
    st = sx_xrcp_ctrl_reply_decode(sx_slice_of(block, SX_XRCP_BLOCK_LEN), secret, &is_error, ct, h->message,
                                   sizeof h->message);
    if (st != SX_OK) {
        fail(h, st == SX_E_AUTH ? SX_XRCP_ERR_DECRYPT : SX_XRCP_ERR_SYNTAX, st);
        goto done;
    }
    if (is_error) {
        st = fail(h, SX_XRCP_ERR_CTRL_ERROR, SX_E_AUTH);
        goto done;
    }
    st = sx_sntrup761_dec(ss, ct, kem_sk);
    if (st == SX_OK)
        st = sx_xrcp_hybrid_secret(dh, h->s.inv.dh, ss, hybrid);
    if (st == SX_OK)
        st = sx_xrcp_chains_init(hybrid, false, &h->snd, &h->rcv);
    if (st != SX_OK) {
        fail(h, SX_XRCP_ERR_DECRYPT, st);
        goto done;
    }
    st = sx_xrcp_ctrl_hello_open(sx_slice_of(block, SX_XRCP_BLOCK_LEN), &h->rcv);
    if (st != SX_OK) {
        fail(h, st == SX_E_AUTH ? SX_XRCP_ERR_DECRYPT : SX_XRCP_ERR_SYNTAX, st);
        goto done;
    }
    st = sx_xrcp_crypto_init(&h->crypto, sx_slice_of(h->code, h->code_len), &h->snd, &h->rcv, NULL, NULL,
                             &h->s.inv);
    if (st == SX_OK)
        st = sx_xrcp_h2_new(h->conn, h->fd, true, &h->h2);
    if (st == SX_OK)
        sx_xrcp_h2_set_sink(h->h2, command_sink, h);
    if (st != SX_OK) {
        fail(h, SX_XRCP_ERR_INTERNAL, st);
        goto done;
    }
    /* started: the pairing names this controller and keeps this HELLO's key
     * and the one before it */
    h->started = true;
    if (!p->paired) {
        memcpy(p->ctrl_fp, h->s.inv.ca, SX_XRCP_FP_LEN);
        memcpy(p->ctrl_idkey, h->s.inv.idkey, SX_XRCP_KEY_LEN);
        p->paired = true;
    }
    sx_key_free(p->prev_dh);
    p->prev_dh = p->dh;
    p->dh = dh;
    dh = NULL;
    h->err = SX_XRCP_ERR_NONE;
done:
    if (kem_sk != NULL)
        sx_wipe(kem_sk, SX_SNTRUP761_SK_LEN);
    free(kem_sk);
    free(block);
    sx_wipe(secret, sizeof secret);
    sx_wipe(ss, sizeof ss);
    sx_wipe(hybrid, sizeof hybrid);
    sx_key_free(dh);
    sx_key_free(peer);
    sx_xrcp_host_hello_clear(&hello);
    return st;
}

const char *sx_xrcp_host_ctrl_message(const sx_xrcp_host *h)
{
    return h->message;
}

sx_xrcp_err sx_xrcp_host_error(const sx_xrcp_host *h)
{
    return h->err;
}

const sx_xrcp_signed_invitation *sx_xrcp_host_signed(const sx_xrcp_host *h)
{
    return &h->s;
}

static sx_status reply(sx_xrcp_host *h, int32_t stream, sx_slice json, bool has_att, uint64_t att_len,
                       sx_xrcp_att_reader read, void *arg, int timeout_ms)
{
    sx_xrcp_body_tx tx;
    sx_status st = sx_xrcp_body_tx_init(&tx, &h->crypto, json, has_att, att_len, read, arg);
    if (st == SX_OK)
        st = sx_xrcp_h2_respond(h->h2, stream, sx_xrcp_body_tx_source, &tx, timeout_ms);
    sx_xrcp_body_tx_cleanup(&tx);
    return st;
}

static void rx_drop(sx_xrcp_host *h)
{
    if (h->rx_on)
        sx_xrcp_body_rx_cleanup(&h->rx);
    h->rx_on = false;
    h->att_write = NULL;
    h->att_arg = NULL;
}

sx_status sx_xrcp_host_next_command_stream(sx_xrcp_host *h, int timeout_ms, sx_xrcp_att_writer write, void *arg,
                                           int32_t *stream, uint8_t **buf, sx_slice *json, bool *has_att,
                                           uint64_t *att_len, sx_xrcp_body_err *why)
{
    if (h == NULL || !h->started || stream == NULL || buf == NULL || json == NULL || has_att == NULL ||
        att_len == NULL)
        return SX_E_USAGE;
    *buf = NULL;
    sx_xrcp_body_err e = SX_XRCP_BODY_OK;
    if (why != NULL)
        *why = e;
    h->att_write = write;
    h->att_arg = arg;
    sx_status st = sx_xrcp_h2_next(h->h2, timeout_ms, stream);
    if (st != SX_OK) {
        /* a command half received is given up with its writer (after a
         * timeout its later bytes make a body that is refused) */
        rx_drop(h);
        return fail(h, SX_XRCP_ERR_EXCEPTION, st);
    }
    if (!h->rx_on) {
        /* a request without a body */
        sx_xrcp_body_rx_init(&h->rx, &h->crypto, write, arg);
        h->rx_on = true;
        h->rx_stream = *stream;
    }
    st = h->rx_stream == *stream ? sx_xrcp_body_rx_end(&h->rx, buf, json, has_att, att_len, &e) : SX_E_PROTOCOL;
    rx_drop(h);
    if (why != NULL)
        *why = e;
    if (st != SX_OK) {
        char text[128];
        snprintf(text, sizeof text, "{\"type\":\"protocolError\",\"error\":\"%s\"}", sx_xrcp_body_err_text(e));
        sx_status answered = reply(h, *stream, sx_slice_str(text), false, 0, NULL, NULL, timeout_ms);
        (void)answered; /* the refusal is what the caller learns */
        return fail(h, e == SX_XRCP_BODY_CTRL_AUTH ? SX_XRCP_ERR_CTRL_AUTH : SX_XRCP_ERR_DECRYPT, st);
    }
    return SX_OK;
}

sx_status sx_xrcp_host_next_command(sx_xrcp_host *h, int timeout_ms, int32_t *stream, uint8_t **buf, sx_slice *json,
                                    bool *has_att, sx_slice *att, sx_xrcp_body_err *why)
{
    if (att == NULL)
        return SX_E_USAGE;
    *att = sx_slice_of(NULL, 0);
    sx_writer w;
    sx_writer_init_dynamic(&w, SX_XRCP_ATTACH_MAX);
    uint64_t n = 0;
    sx_status st =
        sx_xrcp_host_next_command_stream(h, timeout_ms, sx_xrcp_mem_write, &w, stream, buf, json, has_att, &n, why);
    if (st == SX_OK && *has_att && (st = sx_xrcp_mem_join(buf, json, &w, att)) != SX_OK) {
        free(*buf);
        *buf = NULL;
    }
    sx_writer_cleanup(&w);
    return st;
}

sx_status sx_xrcp_host_reply_stream(sx_xrcp_host *h, int32_t stream, sx_slice json, bool has_att, uint64_t att_len,
                                    sx_xrcp_att_reader read, void *arg, int timeout_ms)
{
    if (h == NULL || !h->started || (has_att && att_len > 0 && read == NULL))
        return SX_E_USAGE;
    sx_status st = reply(h, stream, json, has_att, att_len, read, arg, timeout_ms);
    return st == SX_OK ? SX_OK : fail(h, SX_XRCP_ERR_EXCEPTION, st);
}

sx_status sx_xrcp_host_reply(sx_xrcp_host *h, int32_t stream, sx_slice json, sx_slice attachment, int timeout_ms)
{
    sx_xrcp_mem_src src = {.s = attachment};
    return sx_xrcp_host_reply_stream(h, stream, json, attachment.ptr != NULL, attachment.len, sx_xrcp_mem_read,
                                     &src, timeout_ms);
}

void sx_xrcp_host_test_lie_ca(sx_xrcp_host *h)
{
    h->lie_ca = true;
}
