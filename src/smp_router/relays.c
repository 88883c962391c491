/* Relay connections of a proxy router (see relays.h). */
#include "smp_router/relays.h"

#include <stdlib.h>
#include <string.h>

#include "kit/say.h"

struct sx_relay {
    sx_relay *next; /* the worker's list */
    sx_worker *w;
    /* The destination as the PRXY named it (PROTOCOL-NOTES D31): relays
     * are told apart by the whole address (sx_server_address_compare). */
    sx_server_address id;
    char host[256]; /* the one of its hosts connected to */
    uint16_t port;
    uint8_t key_hash[SX_FINGERPRINT_LEN];
    sx_smp_aclient *cl;
    bool active;           /* connected and not closing */
    bool own;              /* one of the router's own (statistics) */
    sx_relay_req *waiting; /* PRXYs waiting for the connection */
};

static void unlink_relay(sx_relay *rl)
{
    sx_relay **pp = &rl->w->relays;
    while (*pp && *pp != rl)
        pp = &(*pp)->next;
    if (*pp)
        *pp = rl->next;
}

static void connected_cb(sx_smp_aclient *cl, sx_status st, void *arg)
{
    (void)cl;
    sx_relay *rl = arg;
    sx_relay_req *req = rl->waiting;
    rl->waiting = NULL;
    if (st == SX_OK) {
        rl->active = true;
        SX_SAY(SX_SAY_DEBUG, "proxy: connected to relay %s:%u", rl->host, (unsigned)rl->port);
    } else {
        SX_SAY(SX_SAY_WARN, "proxy: cannot connect to relay %s:%u: %s", rl->host, (unsigned)rl->port,
               sx_status_str(st));
        unlink_relay(rl);
    }
    while (req) {
        sx_relay_req *next = req->next;
        req->done(req, st == SX_OK ? rl : NULL, st, NULL);
        req = next;
    }
    if (st != SX_OK)
        free(rl); /* the client is gone with this callback */
}

static void closed_cb(sx_smp_aclient *cl, sx_status st, void *arg)
{
    (void)cl;
    sx_relay *rl = arg;
    SX_SAY(SX_SAY_DEBUG, "proxy: relay %s:%u closed (%s)", rl->host, (unsigned)rl->port, sx_status_str(st));
    if (rl->active)
        unlink_relay(rl);
    free(rl);
}

sx_status sx_relays_get(sx_worker *w, const sx_server_address *id, const char *host, uint16_t port,
                        const uint8_t key_hash[SX_FINGERPRINT_LEN], sx_relay_req *req, sx_relay **out)
{
    *out = NULL;
    for (sx_relay *rl = w->relays; rl; rl = rl->next) {
        if (sx_server_address_compare(&rl->id, id) != 0)
            continue;
        if (rl->active) {
            *out = rl;
            return SX_OK;
        }
        /* Answered in the order they came. */
        sx_relay_req **pp = &rl->waiting;
        while (*pp)
            pp = &(*pp)->next;
        req->next = NULL;
        *pp = req;
        return SX_E_WOULD_BLOCK;
    }
    sx_relay *rl = calloc(1, sizeof *rl);
    if (!rl)
        return SX_E_NOMEM;
    rl->w = w;
    rl->id = *id;
    sx_str_copy(rl->host, sizeof rl->host, host);
    rl->port = port;
    rl->own = req->own;
    memcpy(rl->key_hash, key_hash, SX_FINGERPRINT_LEN);
    sx_smp_aclient_opts o = {.proxy_server = true};
    sx_socks_route route;
    const sx_router *r = w->r;
    if (r->has_socks &&
        sx_socks_route_for(&r->socks, r->opts.proxy_socks_onion_only, host, r->socks_isolation, &route))
        o.socks = &route;
    sx_smp_aclient_callbacks cbs = {.connected = connected_cb, .closed = closed_cb, .arg = rl};
    sx_status st = sx_smp_aclient_connect(w->loop, host, port, key_hash, &o, &cbs, &rl->cl);
    if (st != SX_OK) {
        free(rl);
        return st;
    }
    rl->next = w->relays;
    w->relays = rl;
    req->next = NULL;
    rl->waiting = req;
    return SX_E_WOULD_BLOCK;
}

sx_relay *sx_relays_by_session(sx_worker *w, sx_slice sid)
{
    for (sx_relay *rl = w->relays; rl; rl = rl->next)
        if (rl->active && sx_slice_eq(sx_smp_session_id(sx_smp_aclient_session(rl->cl)), sid))
            return rl;
    return NULL;
}

const sx_smp_session *sx_relay_session(const sx_relay *rl)
{
    return sx_smp_aclient_session(rl->cl);
}

bool sx_relay_own(const sx_relay *rl)
{
    return rl->own;
}

static void reply_cb(sx_smp_aclient *cl, sx_status st, sx_smp_client_reply *reply, void *arg)
{
    (void)cl;
    sx_relay_req *req = arg;
    req->done(req, req->relay, st, reply);
}

sx_status sx_relay_send(sx_relay *rl, const sx_smp_cmd *cmd, sx_relay_req *req)
{
    req->relay = rl;
    return sx_smp_aclient_send_corr(rl->cl, req->nonce, sx_slice_of(NULL, 0), cmd, NULL, reply_cb, req);
}

void sx_relays_req_attach(sx_conn *c, sx_relay_req *req)
{
    req->c = c;
    c->proxied_n++;
    req->cprev = NULL;
    req->cnext = c->proxied;
    if (c->proxied)
        c->proxied->cprev = req;
    c->proxied = req;
}

void sx_relays_req_detach(sx_relay_req *req)
{
    sx_conn *c = req->c;
    if (!c)
        return;
    if (req->cprev)
        req->cprev->cnext = req->cnext;
    else
        c->proxied = req->cnext;
    if (req->cnext)
        req->cnext->cprev = req->cprev;
    c->proxied_n--;
    req->c = NULL;
    req->cprev = req->cnext = NULL;
}

void sx_relays_conn_closed(sx_conn *c)
{
    while (c->proxied)
        sx_relays_req_detach(c->proxied);
}

void sx_relays_stop(sx_worker *w)
{
    for (sx_relay *rl = w->relays; rl; rl = rl->next)
        sx_smp_aclient_close(rl->cl);
}
