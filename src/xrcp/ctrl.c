/* XRCP controller (ctrl.h, PROTOCOL-NOTES X7-X10). */
#include "xrcp/ctrl.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/util.h"
#include "crypto/x509.h"
#include "transport/net.h"
#include "xrcp/announce.h"
#include "xrcp/discovery.h"
#include "xrcp/bodystream.h"
#include "xrcp/h2.h"
#include "xrcp/json.h"
#include "xrcp/session.h"

#define LAST_MAX 65536

struct sx_xrcp_ctrl {
    sx_xrcp_ctrl_pairing *pairing;
    sx_key *skey, *dh; /* session signing and DH keys */
    sx_xrcp_signed_invitation s;
    char *uri;
    sx_tls_ctx *tls;
    int lfd, fd;
    uint16_t port;
    sx_tls_conn *conn;
    uint8_t code[SX_TLS_UNIQUE_MAX];
    size_t code_len;
    uint8_t host_fp[SX_XRCP_FP_LEN];
    bool started; /* a valid HELLO was answered */
    sx_sbchain snd, rcv;
    sx_xrcp_crypto crypto;
    sx_xrcp_h2 *h2;
    bool test_repeat, test_tamper;
    uint8_t *last; /* the last command's bytes, when small (a test's replay) */
    size_t last_len;
    uint8_t *host_app;
    size_t host_app_len;
    sx_xrcp_err err;
    /* the announcer */
    pthread_t ann;
    bool ann_running;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool ann_stop;
    unsigned ann_sent;
    int ann_fd;
    char ann_group[16];
    uint16_t ann_port;
    unsigned ann_count;
    int ann_interval;
    uint8_t ann_host_dh[SX_XRCP_KEY_LEN];
};

static sx_status fail(sx_xrcp_ctrl *c, sx_xrcp_err e, sx_status st)
{
    c->err = e;
    return st;
}

sx_status sx_xrcp_ctrl_new(sx_xrcp_ctrl_pairing *pairing, const sx_xrcp_ctrl_config *cfg, sx_xrcp_ctrl **out)
{
    if (pairing == NULL || pairing->id_key == NULL || cfg == NULL || cfg->address == NULL || out == NULL)
        return SX_E_USAGE;
    *out = NULL;
    sx_xrcp_ctrl *c = calloc(1, sizeof *c);
    if (c == NULL)
        return SX_E_NOMEM;
    c->pairing = pairing;
    c->lfd = c->fd = c->ann_fd = -1;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    sx_xrcp_invitation inv;
    memset(&inv, 0, sizeof inv);
    size_t len = 0;
    sx_status st = sx_str_copy(inv.host, sizeof inv.host, cfg->address) ? SX_OK : SX_E_USAGE;
    if (st == SX_OK)
        st = sx_key_generate(SX_KEY_ED25519, &c->skey);
    if (st == SX_OK)
        st = sx_key_generate(SX_KEY_X25519, &c->dh);
    if (st == SX_OK)
        st = sx_xrcp_tls_ctx(&pairing->ca, true, &c->tls);
    if (st == SX_OK)
        st = sx_net_listen(cfg->bind != NULL ? cfg->bind : cfg->address, cfg->port, 4, &c->lfd, &c->port);
    if (st == SX_OK) {
        memcpy(inv.ca, pairing->ca.fp, SX_XRCP_FP_LEN);
        inv.port = c->port;
        inv.v.min = 1;
        inv.v.max = SX_XRCP_VERSION;
        inv.ts = cfg->ts != 0 ? cfg->ts : (int64_t)time(NULL);
        st = sx_xrcp_invitation_set_app(&inv, sx_slice_str(cfg->app != NULL ? cfg->app : "{}"));
    }
    if (st == SX_OK)
        st = sx_key_raw_public(c->skey, inv.skey, SX_XRCP_KEY_LEN, &len);
    if (st == SX_OK)
        st = sx_key_raw_public(pairing->id_key, inv.idkey, SX_XRCP_KEY_LEN, &len);
    if (st == SX_OK)
        st = sx_key_raw_public(c->dh, inv.dh, SX_XRCP_KEY_LEN, &len);
    if (st == SX_OK)
        st = sx_xrcp_invitation_sign(&inv, c->skey, pairing->id_key, &c->s);
    if (st == SX_OK) {
        sx_writer w;
        sx_writer_init_dynamic(&w, SX_XRCP_URI_MAX);
        if (sx_xrcp_signed_invitation_write(&w, &c->s) && sx_write_u8(&w, 0))
            c->uri = (char *)sx_writer_take(&w, &len);
        else
            st = sx_writer_status(&w) != SX_OK ? sx_writer_status(&w) : SX_E_INTERNAL;
        sx_writer_cleanup(&w);
    }
    sx_xrcp_invitation_clear(&inv);
    if (st != SX_OK) {
        sx_xrcp_ctrl_free(c);
        return st;
    }
    *out = c;
    return SX_OK;
}

static void announce_stop(sx_xrcp_ctrl *c)
{
    if (!c->ann_running)
        return;
    pthread_mutex_lock(&c->mu);
    c->ann_stop = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->ann, NULL);
    c->ann_running = false;
    sx_xrcp_mcast_close(c->ann_fd);
    c->ann_fd = -1;
}

void sx_xrcp_ctrl_free(sx_xrcp_ctrl *c)
{
    if (c == NULL)
        return;
    announce_stop(c);
    if (c->h2 != NULL) {
        sx_status said = sx_xrcp_h2_close(c->h2, 1000);
        (void)said; /* the host may be gone */
    }
    sx_xrcp_h2_free(c->h2);
    sx_xrcp_crypto_cleanup(&c->crypto);
    if (c->conn != NULL) {
        sx_status closed = sx_tls_shutdown_blocking(c->conn, 1000);
        (void)closed; /* the host may be gone */
    }
    sx_tls_conn_free(c->conn);
    sx_net_close(c->fd);
    sx_net_close(c->lfd);
    sx_tls_ctx_free(c->tls);
    sx_key_free(c->skey);
    sx_key_free(c->dh);
    sx_xrcp_signed_invitation_clear(&c->s);
    free(c->uri);
    free(c->host_app);
    free(c->last);
    sx_sbchain_cleanup(&c->snd);
    sx_sbchain_cleanup(&c->rcv);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    sx_wipe(c, sizeof *c);
    free(c);
}

const char *sx_xrcp_ctrl_invitation(const sx_xrcp_ctrl *c)
{
    return c->uri;
}

const sx_xrcp_signed_invitation *sx_xrcp_ctrl_signed(const sx_xrcp_ctrl *c)
{
    return &c->s;
}

uint16_t sx_xrcp_ctrl_port(const sx_xrcp_ctrl *c)
{
    return c->port;
}

static sx_status build_packet(const sx_xrcp_ctrl *c, const uint8_t host_dh[SX_XRCP_KEY_LEN], uint8_t *out)
{
    return sx_xrcp_announce_encode(&c->s, c->dh, host_dh, NULL, out);
}

sx_status sx_xrcp_ctrl_announcement(sx_xrcp_ctrl *c, uint8_t *out)
{
    if (c == NULL || out == NULL)
        return SX_E_USAGE;
    if (!c->pairing->paired)
        return fail(c, SX_XRCP_ERR_NEW_CONTROLLER, SX_E_USAGE);
    sx_status st = build_packet(c, c->pairing->host_dh, out);
    return st == SX_OK ? SX_OK : fail(c, SX_XRCP_ERR_ENCRYPT, st);
}

static void *announcer(void *arg)
{
    sx_xrcp_ctrl *c = arg;
    uint8_t packet[SX_XRCP_ANNOUNCE_LEN];
    pthread_mutex_lock(&c->mu);
    for (unsigned i = 0; i < c->ann_count && !c->ann_stop; i++) {
        pthread_mutex_unlock(&c->mu);
        bool ok = build_packet(c, c->ann_host_dh, packet) == SX_OK &&
                  sx_xrcp_mcast_send(c->ann_fd, c->ann_group, c->ann_port, sx_slice_of(packet, sizeof packet)) == SX_OK;
        pthread_mutex_lock(&c->mu);
        if (ok)
            c->ann_sent++;
        if (i + 1 == c->ann_count)
            break;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += c->ann_interval / 1000;
        until.tv_nsec += (long)(c->ann_interval % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!c->ann_stop && pthread_cond_timedwait(&c->cv, &c->mu, &until) != ETIMEDOUT) {
        }
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

sx_status sx_xrcp_ctrl_announce_start(sx_xrcp_ctrl *c, const char *group, uint16_t port, const char *iface,
                                      unsigned count, int interval_ms)
{
    if (c == NULL || group == NULL || c->ann_running || c->started || interval_ms < 0 ||
        !sx_str_copy(c->ann_group, sizeof c->ann_group, group))
        return SX_E_USAGE;
    if (!c->pairing->paired)
        return fail(c, SX_XRCP_ERR_NEW_CONTROLLER, SX_E_USAGE);
    memcpy(c->ann_host_dh, c->pairing->host_dh, SX_XRCP_KEY_LEN);
    c->ann_port = port;
    c->ann_count = count;
    c->ann_interval = interval_ms;
    c->ann_stop = false;
    sx_status st = sx_xrcp_mcast_sender(iface, &c->ann_fd);
    if (st != SX_OK)
        return fail(c, SX_XRCP_ERR_EXCEPTION, st);
    if (pthread_create(&c->ann, NULL, announcer, c) != 0) {
        sx_xrcp_mcast_close(c->ann_fd);
        c->ann_fd = -1;
        return fail(c, SX_XRCP_ERR_INTERNAL, SX_E_INTERNAL);
    }
    c->ann_running = true;
    return SX_OK;
}

unsigned sx_xrcp_ctrl_announced(sx_xrcp_ctrl *c)
{
    pthread_mutex_lock(&c->mu);
    unsigned n = c->ann_sent;
    pthread_mutex_unlock(&c->mu);
    return n;
}

static void drop_conn(sx_xrcp_ctrl *c)
{
    sx_tls_conn_free(c->conn);
    c->conn = NULL;
    sx_net_close(c->fd);
    c->fd = -1;
    c->code_len = 0;
}

sx_status sx_xrcp_ctrl_accept(sx_xrcp_ctrl *c, int timeout_ms)
{
    if (c == NULL || c->lfd < 0 || c->started)
        return SX_E_USAGE;
    drop_conn(c);
    sx_status st = sx_net_accept(c->lfd, timeout_ms, &c->fd);
    if (st == SX_OK)
        st = sx_tls_conn_new_server(c->tls, c->fd, &c->conn);
    if (st == SX_OK)
        st = sx_tls_handshake_blocking(c->conn, timeout_ms);
    if (st != SX_OK) {
        drop_conn(c);
        return fail(c, SX_XRCP_ERR_EXCEPTION, st == SX_E_AUTH ? SX_E_AUTH : SX_E_IO);
    }
    /* the host's chain: exactly [leaf, CA], the CA the paired one (PROTOCOL-NOTES X9) */
    if (sx_tls_peer_chain_len(c->conn) != 2 ||
        sx_x509_fingerprint_der(sx_tls_peer_cert(c->conn, 1), c->host_fp) != SX_OK ||
        (c->pairing->paired && memcmp(c->pairing->host_fp, c->host_fp, SX_XRCP_FP_LEN) != 0)) {
        drop_conn(c);
        return fail(c, SX_XRCP_ERR_IDENTITY, SX_E_AUTH);
    }
    sx_slice u = sx_tls_unique(c->conn);
    if (u.len == 0 || u.len > sizeof c->code) {
        drop_conn(c);
        return fail(c, SX_XRCP_ERR_INTERNAL, SX_E_INTERNAL);
    }
    memcpy(c->code, u.ptr, u.len);
    c->code_len = u.len;
    return SX_OK;
}

sx_slice sx_xrcp_ctrl_code(const sx_xrcp_ctrl *c)
{
    return sx_slice_of(c->code, c->code_len);
}

const uint8_t *sx_xrcp_ctrl_host_fp(const sx_xrcp_ctrl *c)
{
    return c->host_fp;
}

/* The ERROR reply to a HELLO that opened but failed a check. */
static void send_error(sx_xrcp_ctrl *c, const uint8_t secret[SX_CB_KEY_LEN], uint8_t *block, int timeout_ms)
{
    if (sx_xrcp_ctrl_error_encode(secret, sx_xrcp_err_text(c->err), NULL, block) == SX_OK) {
        sx_status sent = sx_tls_write_full(c->conn, block, SX_XRCP_BLOCK_LEN, timeout_ms);
        (void)sent; /* the session fails either way */
    }
}

sx_status sx_xrcp_ctrl_answer_hello(sx_xrcp_ctrl *c, int timeout_ms)
{
    if (c == NULL || c->conn == NULL || c->started)
        return SX_E_USAGE;
    uint8_t *block = malloc(SX_XRCP_BLOCK_LEN);
    if (block == NULL)
        return fail(c, SX_XRCP_ERR_INTERNAL, SX_E_NOMEM);
    sx_xrcp_host_hello h;
    memset(&h, 0, sizeof h);
    uint8_t secret[SX_CB_KEY_LEN], ct[SX_SNTRUP761_CT_LEN], ss[SX_SNTRUP761_SS_LEN], hybrid[32];
    sx_status st = sx_tls_read_full(c->conn, block, SX_XRCP_BLOCK_LEN, timeout_ms);
    if (st != SX_OK) {
        fail(c, SX_XRCP_ERR_EXCEPTION, st);
        goto done;
    }
    st = sx_xrcp_host_hello_decode(sx_slice_of(block, SX_XRCP_BLOCK_LEN), c->dh, &h, secret);
    if (st != SX_OK) {
        fail(c, st == SX_E_AUTH ? SX_XRCP_ERR_DECRYPT : SX_XRCP_ERR_SYNTAX, st);
        goto done;
    }
    if (memcmp(h.ca, c->host_fp, SX_XRCP_FP_LEN) != 0)
        st = fail(c, SX_XRCP_ERR_IDENTITY, SX_E_AUTH);
    else if (!sx_xrcp_version_ok(h.v))
        st = fail(c, SX_XRCP_ERR_VERSION, SX_E_PROTOCOL);
    if (st != SX_OK) {
        send_error(c, secret, block, timeout_ms);
        goto done;
    }
    st = sx_sntrup761_enc(ct, ss, h.kem_pk, NULL);
    if (st == SX_OK)
        st = sx_xrcp_hybrid_secret(c->dh, h.dh, ss, hybrid);
    if (st == SX_OK)
        st = sx_xrcp_chains_init(hybrid, true, &c->snd, &c->rcv);
    if (st == SX_OK)
        st = sx_xrcp_ctrl_hello_encode(ct, &c->snd, block);
    if (st == SX_OK)
        st = sx_xrcp_crypto_init(&c->crypto, sx_slice_of(c->code, c->code_len), &c->snd, &c->rcv, c->skey,
                                 c->pairing->id_key, NULL);
    if (st == SX_OK)
        st = sx_xrcp_h2_new(c->conn, c->fd, false, &c->h2);
    if (st != SX_OK) {
        fail(c, SX_XRCP_ERR_ENCRYPT, st);
        goto done;
    }
    st = sx_tls_write_full(c->conn, block, SX_XRCP_BLOCK_LEN, timeout_ms);
    if (st != SX_OK) {
        fail(c, SX_XRCP_ERR_EXCEPTION, st);
        goto done;
    }
    /* the session has started: no more connections, no more announcements,
     * and the pairing now names this host and its newest key */
    c->started = true;
    announce_stop(c);
    sx_net_close(c->lfd);
    c->lfd = -1;
    memcpy(c->pairing->host_fp, c->host_fp, SX_XRCP_FP_LEN);
    memcpy(c->pairing->host_dh, h.dh, SX_XRCP_KEY_LEN);
    c->pairing->paired = true;
    c->host_app = h.app;
    c->host_app_len = h.app_len;
    h.app = NULL;
    c->err = SX_XRCP_ERR_NONE;
done:
    sx_wipe(secret, sizeof secret);
    sx_wipe(ss, sizeof ss);
    sx_wipe(hybrid, sizeof hybrid);
    sx_xrcp_host_hello_clear(&h);
    free(block);
    return st;
}

sx_slice sx_xrcp_ctrl_host_app(const sx_xrcp_ctrl *c)
{
    return sx_slice_of(c->host_app, c->host_app_len);
}

sx_xrcp_err sx_xrcp_ctrl_error(const sx_xrcp_ctrl *c)
{
    return c->err;
}

/* What a command sends: its body, and a copy of the bytes as they go
 * when they fit LAST_MAX (a test's replay). */
typedef struct cmd_src {
    sx_xrcp_body_tx tx;
    sx_writer copy;
} cmd_src;

static sx_status cmd_source(void *arg, uint8_t *buf, size_t cap, size_t *got, bool *eof)
{
    cmd_src *cs = arg;
    sx_status st = sx_xrcp_body_tx_take(&cs->tx, buf, cap, got, eof);
    if (st == SX_OK && sx_writer_status(&cs->copy) == SX_OK)
        (void)sx_write_bytes(&cs->copy, buf, *got); /* over the bound: no copy */
    return st;
}

/* The previous command's bytes again (a replay). */
static sx_status replay_source(void *arg, uint8_t *buf, size_t cap, size_t *got, bool *eof)
{
    sx_xrcp_mem_src *m = arg;
    sx_status st = sx_xrcp_mem_read(m, buf, cap, got);
    *eof = m->off == m->s.len;
    return st;
}

static sx_status rx_sink(void *arg, int32_t stream, sx_slice data)
{
    (void)stream;
    /* a failure stays in the receiver, which says it at the end */
    sx_status kept = sx_xrcp_body_rx_feed(arg, data);
    (void)kept;
    return SX_OK;
}

sx_status sx_xrcp_ctrl_command_stream(sx_xrcp_ctrl *c, sx_slice json, bool has_att, uint64_t att_len,
                                      sx_xrcp_att_reader read, void *read_arg, sx_xrcp_att_writer write,
                                      void *write_arg, int timeout_ms, uint8_t **buf, sx_slice *rjson,
                                      bool *rhas_att, uint64_t *ratt_len, sx_xrcp_body_err *why)
{
    if (c == NULL || !c->started || buf == NULL || rjson == NULL || rhas_att == NULL || ratt_len == NULL ||
        (has_att && att_len > 0 && read == NULL))
        return SX_E_USAGE;
    *buf = NULL;
    sx_xrcp_body_err e = SX_XRCP_BODY_OK;
    if (why != NULL)
        *why = e;
    cmd_src cs;
    sx_xrcp_mem_src replay = {.s = sx_slice_of(c->last, c->last_len)};
    bool repeat = c->test_repeat && c->last != NULL;
    sx_status st = SX_OK;
    if (repeat) {
        /* a replay: the previous command's bytes again, nothing new sealed */
        c->test_repeat = false;
        memset(&cs, 0, sizeof cs);
    } else {
        st = sx_xrcp_body_tx_init(&cs.tx, &c->crypto, json, has_att, att_len, read, read_arg);
        sx_writer_init_dynamic(&cs.copy, LAST_MAX);
        if (st != SX_OK) {
            sx_xrcp_body_tx_cleanup(&cs.tx);
            sx_writer_cleanup(&cs.copy);
            return fail(c, SX_XRCP_ERR_ENCRYPT, st);
        }
        if (c->test_tamper) {
            cs.tx.head.buf[9] ^= 1; /* inside the boxed JSON, under both signatures */
            c->test_tamper = false;
            (void)sx_writer_fail(&cs.copy, SX_E_LIMIT); /* not kept */
        }
    }
    sx_xrcp_body_rx rx;
    sx_xrcp_body_rx_init(&rx, &c->crypto, write, write_arg);
    st = repeat ? sx_xrcp_h2_request(c->h2, replay_source, &replay, rx_sink, &rx, timeout_ms)
                : sx_xrcp_h2_request(c->h2, cmd_source, &cs, rx_sink, &rx, timeout_ms);
    if (!repeat) {
        size_t n = 0;
        uint8_t *copy = st == SX_OK && sx_writer_status(&cs.copy) == SX_OK ? sx_writer_take(&cs.copy, &n) : NULL;
        if (copy != NULL) {
            free(c->last);
            c->last = copy;
            c->last_len = n;
        }
        sx_xrcp_body_tx_cleanup(&cs.tx);
        sx_writer_cleanup(&cs.copy);
    }
    if (st != SX_OK) {
        sx_xrcp_body_rx_cleanup(&rx);
        return fail(c, SX_XRCP_ERR_EXCEPTION, st);
    }
    st = sx_xrcp_body_rx_end(&rx, buf, rjson, rhas_att, ratt_len, &e);
    sx_xrcp_body_rx_cleanup(&rx);
    if (why != NULL)
        *why = e;
    if (st != SX_OK)
        return fail(c, SX_XRCP_ERR_DECRYPT, st);
    return SX_OK;
}

sx_status sx_xrcp_ctrl_command(sx_xrcp_ctrl *c, sx_slice json, sx_slice attachment, int timeout_ms, uint8_t **buf,
                               sx_slice *rjson, bool *has_att, sx_slice *att, sx_xrcp_body_err *why)
{
    if (buf == NULL || att == NULL || has_att == NULL)
        return SX_E_USAGE;
    sx_xrcp_mem_src src = {.s = attachment};
    sx_writer w;
    sx_writer_init_dynamic(&w, SX_XRCP_ATTACH_MAX);
    uint64_t n = 0;
    *att = sx_slice_of(NULL, 0);
    sx_status st = sx_xrcp_ctrl_command_stream(c, json, attachment.ptr != NULL, attachment.len, sx_xrcp_mem_read,
                                               &src, sx_xrcp_mem_write, &w, timeout_ms, buf, rjson, has_att, &n,
                                               why);
    if (st == SX_OK && *has_att && (st = sx_xrcp_mem_join(buf, rjson, &w, att)) != SX_OK) {
        free(*buf);
        *buf = NULL;
    }
    sx_writer_cleanup(&w);
    return st;
}

void sx_xrcp_ctrl_test_repeat_counter(sx_xrcp_ctrl *c)
{
    c->test_repeat = true;
}

void sx_xrcp_ctrl_test_tamper(sx_xrcp_ctrl *c)
{
    c->test_tamper = true;
}
