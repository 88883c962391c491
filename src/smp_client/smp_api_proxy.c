/* The public SMP API's 2-hop routing (include/simplex/smp.h, "sending
 * through a proxy"): a sender side sends to its queue's router through the
 * router of another connection. Proxy sessions (PRXY -> PKEY, checked
 * against the queue's router address) are kept on that connection, one per
 * destination, and opened again once when the proxy has forgotten one
 * (PROXY NO_SESSION, e.g. after it lost its connection to the destination). */
#include "simplex/smp.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "crypto/util.h"
#include "smp_client/smp_api_int.h"
#include "smp_client/smp_proxy.h"

struct sx_smpapi_proxied {
    sx_smpapi_proxied *next;
    sx_smp_address dest; /* host, port and identity of the destination */
    sx_smp_relay_session rs;
};

void sx_smpapi_proxied_free(sx_smpapi_proxied *list)
{
    while (list) {
        sx_smpapi_proxied *next = list->next;
        sx_smp_relay_session_cleanup(&list->rs);
        free(list);
        list = next;
    }
}

static bool same_router(const sx_smp_address *a, const sx_smp_address *b)
{
    return a->port == b->port && strcmp(a->host, b->host) == 0 &&
           memcmp(a->key_hash, b->key_hash, SX_FINGERPRINT_LEN) == 0;
}

sx_status sx_smpapi_dest_of(const sx_smp_queue *snd, const char *what, sx_smp_address *dest)
{
    if (sx_smp_address_parse(snd->f.server, dest) != SX_OK)
        return sx_error_set(SX_E_USAGE, NULL, "%s: the queue's router address does not parse", what);
    dest->has_password = false;
    memset(dest->password, 0, sizeof dest->password);
    return SX_OK;
}

const sx_smp_relay_session *sx_smpapi_proxied_find(sx_smpapi_proxied *list, const sx_smp_address *dest)
{
    for (sx_smpapi_proxied *p = list; p; p = p->next)
        if (same_router(&p->dest, dest))
            return &p->rs;
    return NULL;
}

sx_status sx_smpapi_proxied_add(sx_smpapi_proxied **list, const sx_smp_address *dest, sx_smp_relay_session *rs)
{
    sx_smpapi_proxied *p = calloc(1, sizeof *p);
    if (!p)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    p->dest = *dest;
    p->rs = *rs; /* takes the key */
    memset(rs, 0, sizeof *rs);
    p->next = *list;
    *list = p;
    return SX_OK;
}

void sx_smpapi_proxied_forget(sx_smpapi_proxied **list, const sx_smp_address *dest)
{
    for (sx_smpapi_proxied **pp = list; *pp; pp = &(*pp)->next) {
        if (same_router(&(*pp)->dest, dest)) {
            sx_smpapi_proxied *p = *pp;
            *pp = p->next;
            p->next = NULL;
            sx_smpapi_proxied_free(p);
            return;
        }
    }
}

sx_status sx_smpapi_pkey_error(const char *what, sx_status st)
{
    if (st == SX_E_AUTH)
        return sx_error_set(st, NULL,
                            "%s: the destination router's identity, as the proxy reports it, does not match the "
                            "queue's address",
                            what);
    if (st == SX_E_PROTOCOL)
        return sx_error_set(st, NULL, "%s: no SMP version in common with the destination router", what);
    return sx_error_set(st, NULL, "%s: %s", what, sx_strerror(st));
}

bool sx_smpapi_is_no_session(const sx_smp_client_reply *r)
{
    const sx_smp_resp *m = &r->reply.resp;
    return r->ok && m->tag == SX_SMP_R_ERR && m->err.type == SX_SMP_ERR_PROXY &&
           m->err.proxy.kind == SX_SMP_PROXY_NO_SESSION;
}

/* The proxy session to the router of snd, opened when there is none. */
static sx_status session_for(sx_smp_conn *c, const sx_smp_queue *snd, const char *what,
                             const sx_smp_relay_session **out)
{
    sx_smp_address dest;
    SX_TRY(sx_smpapi_dest_of(snd, what, &dest));
    *out = sx_smpapi_proxied_find(*sx_smpapi_conn_proxied(c), &dest);
    if (*out)
        return SX_OK;
    const sx_smp_address *pa = sx_smpapi_conn_address(c);
    sx_slice auth = pa->has_password ? sx_slice_str(pa->password) : sx_slice_of(NULL, 0);
    sx_smp_client_reply r;
    sx_smp_relay_session rs;
    sx_status st = sx_smp_client_proxy_session(sx_smpapi_conn_client(c), &dest, auth, &rs, &r);
    if (st != SX_OK) {
        if (st == SX_E_PROTOCOL && r.buf)
            st = sx_smpapi_expect(what, &r, SX_SMP_R_PKEY);
        else if (st == SX_E_AUTH || st == SX_E_PROTOCOL)
            st = sx_smpapi_pkey_error(what, st);
        else
            st = sx_smpapi_net_error(what, st);
        sx_smp_client_reply_free(&r);
        return st;
    }
    st = sx_smpapi_proxied_add(sx_smpapi_conn_proxied(c), &dest, &rs);
    sx_smp_relay_session_cleanup(&rs);
    if (st == SX_OK)
        *out = sx_smpapi_proxied_find(*sx_smpapi_conn_proxied(c), &dest);
    return st;
}

/* One command through the proxy; the destination's answer in *r, or the
 * proxy's error recorded. A forgotten session is opened again once. */
static sx_status proxied_call(sx_smp_conn *c, const sx_smp_queue *snd, const char *what, const sx_smp_cmd *cmd,
                              sx_smp_client_reply *r)
{
    for (int attempt = 0;; attempt++) {
        const sx_smp_relay_session *rs;
        SX_TRY(session_for(c, snd, what, &rs));
        sx_status st = sx_smp_client_proxy_call(sx_smpapi_conn_client(c), rs,
                                                sx_slice_of(snd->f.snd_id, SX_QUEUE_ID_LEN), cmd, snd->f.snd_key, r);
        if (st == SX_OK)
            return SX_OK;
        if (st == SX_E_PROTOCOL && r->buf) {
            if (sx_smpapi_is_no_session(r) && attempt == 0) {
                sx_smp_address dest;
                SX_TRY(sx_smpapi_dest_of(snd, what, &dest));
                sx_smp_client_reply_free(r);
                sx_smpapi_proxied_forget(sx_smpapi_conn_proxied(c), &dest);
                continue;
            }
            st = sx_smpapi_expect(what, r, SX_SMP_R_PRES);
            sx_smp_client_reply_free(r);
            return st;
        }
        if (st == SX_E_AUTH || st == SX_E_PROTOCOL)
            return sx_error_set(SX_E_PROTOCOL, NULL, "%s: the destination's answer could not be opened", what);
        return sx_smpapi_net_error(what, st);
    }
}

sx_status sx_smp_queue_secure_proxied(sx_smp_conn *proxy, sx_smp_queue *snd)
{
    sx_error_clear();
    if (!proxy)
        return sx_error_set(SX_E_USAGE, NULL, "secure: no proxy connection");
    SX_TRY(sx_smpapi_need_role(snd, SX_QUEUE_SENDER, "secure"));
    uint8_t b[SX_KEY_SPKI_MAX];
    sx_smp_cmd cmd;
    bool had_key;
    /* The destination's version is known once the session is open. */
    const sx_smp_relay_session *rs;
    SX_TRY(session_for(proxy, snd, "secure", &rs));
    SX_TRY(sx_smpapi_secure_begin(snd, rs->version, b, &cmd, &had_key));
    sx_smp_client_reply r;
    SX_TRY(proxied_call(proxy, snd, "secure", &cmd, &r));
    sx_status st = sx_smpapi_secure_answer(&r, had_key);
    sx_smp_client_reply_free(&r);
    return st;
}

sx_status sx_smp_send_proxied(sx_smp_conn *proxy, const sx_smp_queue *snd, const void *body, size_t len)
{
    sx_error_clear();
    if (!proxy || (!body && len))
        return sx_error_set(SX_E_USAGE, NULL, "send: no proxy connection or no body");
    SX_TRY(sx_smpapi_need_role(snd, SX_QUEUE_SENDER, "send"));
    const sx_smp_relay_session *rs;
    SX_TRY(session_for(proxy, snd, "send", &rs));
    sx_smp_cmd cmd;
    SX_TRY(sx_smpapi_send_begin(rs->version, body, len, &cmd));
    sx_smp_client_reply r;
    SX_TRY(proxied_call(proxy, snd, "send", &cmd, &r));
    sx_status st = sx_smpapi_send_answer(&r, snd);
    sx_smp_client_reply_free(&r);
    return st;
}
