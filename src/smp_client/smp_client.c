/* Blocking SMP client: connection, handshake, batched commands with
 * corrId matching, a queue of events received in between, and keep-alive
 * PINGs while the caller waits for events. */
#include "smp_client/smp_client.h"
#include "smp_client/smp_client_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/util.h"
#include "simplex/smp.h"
#include "smp/address.h"
#include "transport/net.h"

#define SX_SMP_DEFAULT_PING_MS 600000u /* the reference's smpPingInterval */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct event {
    struct event *next;
    sx_smp_client_reply r;
} event;

struct sx_smp_client {
    int fd;
    sx_tls_ctx *ctx;
    sx_tls_conn *tls;
    sx_smp_session sess;
    int timeout_ms;
    unsigned ping_ms; /* 0: no keep-alive */
    int64_t last_io_ms;
    sx_smp_client_stats stats;
    const sx_key *service_key; /* borrowed; set in a service session */
    event *ev_head, *ev_tail;
    sx_batch batch;
    uint8_t block[SX_BLOCK_SIZE];
};

sx_status sx_smp_address_parse(const char *text, sx_smp_address *out)
{
    SX_ENSURE(out != NULL, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    SX_ENSURE(text != NULL, SX_E_USAGE);
    sx_server_address a;
    sx_status st = sx_server_address_parse(text, strlen(text), &a);
    /* the client checks the router's identity against a 32-byte hash */
    if (st == SX_OK && (a.scheme != SX_SERVER_SMP || a.key_hash_len != SX_FINGERPRINT_LEN))
        st = SX_E_PROTOCOL;
    if (st == SX_OK)
        st = sx_server_address_host(&a, 0, out->host, sizeof out->host);
    for (size_t i = 0; st == SX_OK && i < a.host_count; i++) {
        bool onion = a.host_kind[i] == SX_SMP_HOST_ONION;
        char *h = onion ? out->onion_host : out->public_host;
        if (!h[0])
            st = sx_server_address_host(&a, i, h, sizeof out->host);
    }
    if (st == SX_OK)
        st = sx_server_address_auth(&a, out->password, sizeof out->password);
    if (st == SX_OK) {
        memcpy(out->key_hash, a.key_hash, SX_FINGERPRINT_LEN);
        out->port = a.port;
        out->has_password = a.has_auth;
    }
    sx_wipe(&a, sizeof a);
    if (st != SX_OK)
        sx_wipe(out, sizeof *out);
    return st;
}

const char *sx_smp_address_choose_host(const sx_smp_address *a, int mode, bool required, bool socks)
{
    const char *h;
    switch (mode) {
    case SX_SMP_HOSTS_ONION:
        h = a->onion_host;
        break;
    case SX_SMP_HOSTS_PUBLIC:
        h = a->public_host;
        break;
    default: /* SX_SMP_HOSTS_ONION_VIA_SOCKS */
        h = socks ? a->onion_host : a->public_host;
        break;
    }
    if (h[0])
        return h;
    return required ? NULL : a->host;
}

sx_status sx_smp_client_connect(const char *host, uint16_t port, const uint8_t key_hash[SX_FINGERPRINT_LEN],
                                const sx_smp_client_opts *opts, sx_smp_client **out)
{
    return sx_smp_client_connect_ex(host, port, key_hash, opts, out, NULL);
}

/* The SMP handshake, presenting the service when there is one: its chain is
 * the one our TLS context sent, its leaf key signs the service key. */
static sx_status smp_handshake(sx_smp_client *cl, const uint8_t key_hash[SX_FINGERPRINT_LEN], sx_version_range range,
                               const sx_smp_client_service_opts *so, sx_transport_error *te)
{
    sx_smp_client_config cfg = {.range = range};
    memcpy(cfg.key_hash, key_hash, SX_FINGERPRINT_LEN);
    sx_smp_client_service svc = {0};
    sx_key *leaf = NULL;
    if (so) {
        SX_ENSURE(so->service_key != NULL, SX_E_USAGE);
        SX_TRY(sx_tls_ctx_private_key(cl->ctx, &leaf));
        svc.role = so->role;
        svc.leaf_key = leaf;
        svc.service_key = so->service_key;
        svc.chain_len = sx_tls_ctx_chain_len(cl->ctx);
        for (size_t i = 0; i < svc.chain_len && i < SX_X509_CHAIN_MAX; i++)
            svc.chain[i] = sx_tls_ctx_cert(cl->ctx, i);
        cfg.service = &svc;
    }
    sx_status st = sx_smp_handshake_client_blocking_ex(cl->tls, &cfg, cl->timeout_ms, &cl->sess, te);
    sx_key_free(leaf);
    if (st == SX_OK && cl->sess.has_service)
        cl->service_key = so->service_key;
    return st;
}

sx_status sx_smp_client_connect_ex(const char *host, uint16_t port, const uint8_t key_hash[SX_FINGERPRINT_LEN],
                                   const sx_smp_client_opts *opts, sx_smp_client **out, sx_transport_error *te)
{
    *out = NULL;
    if (te)
        *te = SX_TE_NONE;
    SX_TRY(sx_crypto_init());
    sx_smp_client *cl = calloc(1, sizeof *cl);
    if (!cl)
        return SX_E_NOMEM;
    cl->fd = -1;
    cl->timeout_ms = opts && opts->timeout_ms ? opts->timeout_ms : 15000;
    cl->ping_ms = opts && opts->no_keepalive  ? 0
                  : opts && opts->ping_interval_ms ? opts->ping_interval_ms
                                                   : SX_SMP_DEFAULT_PING_MS;
    cl->last_io_ms = now_ms();
    sx_version_range range = opts && opts->range.max ? opts->range : sx_smp_server_vrange();
    static const char *const alpn[] = {"smp/1", NULL};
    const sx_smp_client_service_opts *so = opts ? opts->service : NULL;
    sx_tls_client_config tcfg = {.alpn = opts && opts->no_alpn ? NULL : alpn, .creds = so ? &so->creds : NULL};
    sx_status st = sx_tls_client_ctx_new(&tcfg, &cl->ctx);
    const sx_socks_route *sr = opts ? opts->socks : NULL;
    if (st == SX_OK)
        st = sr ? sx_net_connect(sr->host, sr->port, cl->timeout_ms, &cl->fd)
                : sx_net_connect(host, port, cl->timeout_ms, &cl->fd);
    if (st == SX_OK && sr)
        st = sx_socks_connect_fd(cl->fd, host, port, sr->user[0] ? sr->user : NULL, sr->pass, cl->timeout_ms);
    if (st == SX_OK)
        st = sx_tls_conn_new_client(cl->ctx, cl->fd, key_hash, &cl->tls);
    if (st == SX_OK)
        st = sx_tls_handshake_blocking(cl->tls, cl->timeout_ms);
    if (st == SX_OK)
        st = smp_handshake(cl, key_hash, range, so, te);
    if (st != SX_OK) {
        sx_smp_client_close(cl);
        return st;
    }
    *out = cl;
    return SX_OK;
}

void sx_smp_client_reply_free(sx_smp_client_reply *r)
{
    if (r && r->buf) {
        sx_wipe(r->buf, r->len);
        free(r->buf);
    }
    if (r)
        memset(r, 0, sizeof *r);
}

void sx_smp_client_close(sx_smp_client *cl)
{
    if (!cl)
        return;
    while (cl->ev_head) {
        event *e = cl->ev_head;
        cl->ev_head = e->next;
        sx_smp_client_reply_free(&e->r);
        free(e);
    }
    /* Best effort close_notify; the socket is closed right after anyway. */
    if (cl->tls && sx_tls_established(cl->tls) && sx_tls_shutdown(cl->tls) != SX_OK) {
    }
    sx_smp_session_cleanup(&cl->sess);
    sx_tls_conn_free(cl->tls);
    sx_net_close(cl->fd);
    sx_tls_ctx_free(cl->ctx);
    free(cl);
}

const sx_smp_session *sx_smp_client_session(const sx_smp_client *cl)
{
    return &cl->sess;
}

/* Encodes one authorized transmission into w. */
static sx_status encode_cmd(sx_smp_client *cl, sx_smp_client_cmd *c, sx_writer *w)
{
    if (c->corr_given) /* PFWD, RFWD: never signed as a service */
        return sx_smp_client_encode_corr(&cl->sess, c->entity, c->cmd, c->auth_key, c->corr_id, w);
    return sx_smp_client_encode_svc(&cl->sess, cl->service_key, c->entity, c->cmd, c->auth_key, c->corr_id, w);
}

static sx_status send_batch(sx_smp_client *cl)
{
    sx_slice content;
    SX_TRY(sx_batch_content(&cl->batch, &content));
    SX_TRY(sx_smp_session_send_blocking(&cl->sess, cl->tls, content, cl->timeout_ms));
    cl->stats.blocks_sent++;
    cl->last_io_ms = now_ms();
    return SX_OK;
}

sx_status sx_smp_client_send_raw(sx_smp_client *cl, sx_slice content)
{
    SX_TRY(sx_smp_session_send_blocking(&cl->sess, cl->tls, content, cl->timeout_ms));
    cl->stats.blocks_sent++;
    cl->last_io_ms = now_ms();
    return SX_OK;
}

/* Reads one block and turns its transmissions into replies, handing each to
 * match (which returns true if it took it) or to the event queue. */
static sx_status read_block(sx_smp_client *cl, int timeout_ms, sx_smp_client_cmd *cmds, size_t n,
                            sx_smp_client_reply *replies, bool *got)
{
    sx_slice content;
    SX_TRY(sx_smp_session_recv_blocking(&cl->sess, cl->tls, cl->block, &content, timeout_ms));
    cl->stats.blocks_received++;
    cl->last_io_ms = now_ms();
    sx_slice items[SX_BATCH_MAX_ITEMS];
    size_t count = 0;
    SX_TRY(sx_batch_decode(content, items, SX_BATCH_MAX_ITEMS, &count));
    for (size_t i = 0; i < count; i++) {
        sx_smp_client_reply r = {0};
        SX_TRY(sx_smp_client_reply_from(&cl->sess, items[i], &r));
        bool taken = false;
        sx_slice corr = r.reply.t.corr_id;
        for (size_t k = 0; k < n && !taken && corr.len == SX_SMP_CORR_ID_LEN; k++) {
            if (!replies[k].buf && memcmp(cmds[k].corr_id, corr.ptr, SX_SMP_CORR_ID_LEN) == 0) {
                replies[k] = r;
                taken = true;
                got[k] = true;
            }
        }
        if (taken)
            continue;
        event *e = calloc(1, sizeof *e);
        if (!e) {
            sx_smp_client_reply_free(&r);
            return SX_E_NOMEM;
        }
        e->r = r;
        if (cl->ev_tail)
            cl->ev_tail->next = e;
        else
            cl->ev_head = e;
        cl->ev_tail = e;
    }
    return SX_OK;
}

sx_status sx_smp_client_call_many(sx_smp_client *cl, sx_smp_client_cmd *cmds, size_t n,
                                  sx_smp_client_reply *replies)
{
    SX_ENSURE(n > 0 && n <= 1024, SX_E_USAGE);
    memset(replies, 0, n * sizeof *replies);
    bool *got = calloc(n, sizeof *got);
    uint8_t *tbuf = malloc(SX_SMP_CLIENT_TBUF);
    sx_status st = SX_E_NOMEM;
    if (!got || !tbuf)
        goto done;
    st = sx_batch_init(&cl->batch, sx_smp_session_batch_capacity(&cl->sess));
    for (size_t i = 0; i < n && st == SX_OK; i++) {
        sx_writer w;
        sx_writer_init_fixed(&w, tbuf, SX_SMP_CLIENT_TBUF);
        st = encode_cmd(cl, &cmds[i], &w);
        if (st != SX_OK)
            break;
        st = sx_batch_add(&cl->batch, sx_writer_slice(&w));
        if (st == SX_E_LIMIT && sx_batch_count(&cl->batch) > 0) {
            st = send_batch(cl);
            if (st == SX_OK) {
                sx_batch_reset(&cl->batch);
                st = sx_batch_add(&cl->batch, sx_writer_slice(&w));
            }
        }
    }
    if (st == SX_OK && sx_batch_count(&cl->batch) > 0)
        st = send_batch(cl);
    for (size_t done_n = 0; st == SX_OK;) {
        done_n = 0;
        for (size_t i = 0; i < n; i++)
            done_n += got[i];
        if (done_n == n)
            break;
        st = read_block(cl, cl->timeout_ms, cmds, n, replies, got);
    }
done:
    if (st != SX_OK && got)
        for (size_t i = 0; i < n; i++)
            sx_smp_client_reply_free(&replies[i]);
    free(got);
    free(tbuf);
    return st;
}

sx_status sx_smp_client_call(sx_smp_client *cl, sx_slice entity, const sx_smp_cmd *cmd, const sx_key *auth_key,
                             sx_smp_client_reply *reply)
{
    sx_smp_client_cmd c = {.entity = entity, .cmd = cmd, .auth_key = auth_key};
    return sx_smp_client_call_many(cl, &c, 1, reply);
}

/* One keep-alive round trip; events that come meanwhile are queued. */
static sx_status ping(sx_smp_client *cl)
{
    sx_smp_cmd c = {.tag = SX_SMP_C_PING};
    sx_smp_client_reply r;
    cl->stats.pings_sent++;
    sx_status st = sx_smp_client_call(cl, sx_slice_of(NULL, 0), &c, NULL, &r);
    if (st != SX_OK)
        return st == SX_E_WOULD_BLOCK ? SX_E_IO : st;
    bool pong = r.ok && r.reply.resp.tag == SX_SMP_R_PONG;
    sx_smp_client_reply_free(&r);
    if (!pong)
        return SX_E_PROTOCOL;
    cl->stats.pongs_received++;
    return SX_OK;
}

sx_status sx_smp_client_next_event(sx_smp_client *cl, int timeout_ms, sx_smp_client_reply *out)
{
    memset(out, 0, sizeof *out);
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    while (!cl->ev_head) {
        int64_t now = now_ms();
        if (cl->ping_ms && now - cl->last_io_ms >= (int64_t)cl->ping_ms) {
            SX_TRY(ping(cl));
            continue;
        }
        int64_t wait = deadline < 0 ? -1 : deadline - now;
        if (wait < 0 && deadline >= 0)
            wait = 0;
        if (cl->ping_ms) {
            int64_t until_ping = cl->last_io_ms + cl->ping_ms - now;
            if (wait < 0 || until_ping < wait)
                wait = until_ping;
        }
        if (wait > 0x7fffffff)
            wait = 0x7fffffff;
        /* Bytes already inside TLS raise no socket readiness. */
        if (!sx_tls_has_pending(cl->tls) && sx_net_wait(cl->fd, false, (int)wait) == SX_E_WOULD_BLOCK) {
            if (deadline >= 0 && now_ms() >= deadline)
                return SX_E_WOULD_BLOCK;
            continue; /* time to ping, or a spurious wake-up */
        }
        SX_TRY(read_block(cl, cl->timeout_ms, NULL, 0, NULL, NULL));
    }
    event *e = cl->ev_head;
    cl->ev_head = e->next;
    if (!cl->ev_head)
        cl->ev_tail = NULL;
    *out = e->r;
    free(e);
    return SX_OK;
}

void sx_smp_client_get_stats(const sx_smp_client *cl, sx_smp_client_stats *out)
{
    *out = cl->stats;
}
