/* What the blocking (smp_api.c) and event-loop (smp_api_loop.c) flavours of
 * the public SMP API share: the queue sides, router errors as status and
 * detail, queue creation from NEW's answer, decrypting received messages,
 * and the queue files. */
#include "smp_client/smp_api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "crypto/hash.h"
#include "crypto/util.h"
#include "smp/msgcrypt.h"
#include "smp/version.h"

#define ERRLEN 256

/* ---- errors ---- */

static const char *cmd_err_name(sx_smp_cmd_err e)
{
    switch (e) {
    case SX_SMP_CMD_UNKNOWN: return "CMD UNKNOWN";
    case SX_SMP_CMD_SYNTAX: return "CMD SYNTAX";
    case SX_SMP_CMD_PROHIBITED: return "CMD PROHIBITED";
    case SX_SMP_CMD_NO_AUTH: return "CMD NO_AUTH";
    case SX_SMP_CMD_HAS_AUTH: return "CMD HAS_AUTH";
    case SX_SMP_CMD_NO_ENTITY: return "CMD NO_ENTITY";
    default: return "CMD";
    }
}

/* The class a program branches on for a router's error. */
static sx_status router_error_class(sx_smp_err_type t)
{
    switch (t) {
    case SX_SMP_ERR_AUTH:
    case SX_SMP_ERR_BLOCKED: return SX_E_AUTH;
    case SX_SMP_ERR_QUOTA:
    case SX_SMP_ERR_LARGE_MSG: return SX_E_LIMIT;
    default: return SX_E_PROTOCOL;
    }
}

/* Records the router's ERR answer to `what` (in `step`) and returns its
 * class; the sentence comes from the shared table (sx_error_explain). */
static sx_status router_error_in(sx_error_step step, const char *what, const sx_smp_error *e)
{
    const char *code = e->type == SX_SMP_ERR_CMD ? cmd_err_name(e->cmd) : sx_smp_err_name(e->type);
    char why[SX_ERROR_MSG_MAX];
    sx_error_explain(step, code, why, sizeof why);
    if (e->type == SX_SMP_ERR_PROXY) {
        /* 2-hop routing: the proxy's error in its wire text (PROXY NO_SESSION,
         * PROXY BROKER NETWORK, ...); the destination unreachable is a
         * network failure. */
        char text[SX_ERROR_CODE_MAX];
        sx_writer w;
        sx_writer_init_fixed(&w, (uint8_t *)text, sizeof text - 1);
        size_t n = sx_smp_error_write(&w, SX_SMP_VERSION_CURRENT, e) ? w.len : 0;
        text[n] = 0;
        bool net = e->proxy.kind == SX_SMP_PROXY_BROKER &&
                   (e->proxy.broker == SX_SMP_BROKER_NETWORK || e->proxy.broker == SX_SMP_BROKER_TIMEOUT ||
                    e->proxy.broker == SX_SMP_BROKER_HOST);
        return sx_error_set(net ? SX_E_IO : SX_E_PROTOCOL, n ? text : code, "%s: %s (%s)", what, why,
                            n ? text : code);
    }
    return sx_error_set(router_error_class(e->type), code, "%s: %s", what, why);
}

sx_status sx_smpapi_router_error(const char *what, const sx_smp_error *e)
{
    return router_error_in(SX_STEP_SMP, what, e);
}

/* SX_OK when r is the response `tag`; otherwise records why not. */
sx_status sx_smpapi_expect(const char *what, const sx_smp_client_reply *r, sx_smp_resp_tag tag)
{
    if (!r->ok)
        return sx_error_set(SX_E_PROTOCOL, NULL, "%s: the router's response could not be read", what);
    if (r->reply.resp.tag == tag)
        return SX_OK;
    if (r->reply.resp.tag == SX_SMP_R_ERR)
        return sx_smpapi_router_error(what, &r->reply.resp.err);
    return sx_error_set(SX_E_PROTOCOL, NULL, "%s: unexpected response %s from the router", what,
                        sx_smp_resp_name(r->reply.resp.tag));
}

sx_status sx_smpapi_net_error(const char *what, sx_status st)
{
    switch (st) {
    case SX_E_IO: return sx_error_set(st, NULL, "%s: network error or timeout talking to the router", what);
    case SX_E_CLOSED: return sx_error_set(st, NULL, "%s: the router closed the connection", what);
    case SX_E_LIMIT: return sx_error_set(st, NULL, "%s: the command does not fit in a block", what);
    default: return sx_error_set(st, NULL, "%s: %s", what, sx_strerror(st));
    }
}

sx_slice sx_smpapi_rcv_id(const sx_smp_queue *q)
{
    return sx_slice_of(q->f.rcv_id, SX_QUEUE_ID_LEN);
}

sx_status sx_smpapi_need_role(const sx_smp_queue *q, sx_queue_role role, const char *what)
{
    if (!q)
        return sx_error_set(SX_E_USAGE, NULL, "%s: no queue", what);
    if (q->f.role != role)
        return sx_error_set(SX_E_USAGE, NULL, "%s needs the %s side of the queue", what,
                            role == SX_QUEUE_RECIPIENT ? "recipient" : "sender");
    return SX_OK;
}

/* ---- addresses ---- */

/* text for a message, with "***" for a password between the key hash and '@' */
static void address_shown(const char *text, char *out, size_t cap)
{
    const char *scheme = strstr(text, "://");
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *colon = scheme ? strchr(scheme + 3, ':') : NULL;
    if (at && colon && colon < at)
        snprintf(out, cap, "%.*s:***%.*s", (int)(colon - text), text, 200, at);
    else
        snprintf(out, cap, "%.*s", 300, text);
}

sx_status sx_smpapi_parse_server(const char *text, sx_smp_address *addr, char server[SX_QUEUE_ADDR_MAX])
{
    bool printable = strlen(text) < SX_QUEUE_ADDR_MAX;
    for (const char *p = text; printable && *p; p++)
        printable = *p > ' ' && *p <= '~';
    if (!printable || sx_smp_address_parse(text, addr) != SX_OK) {
        char shown[512];
        address_shown(text, shown, sizeof shown);
        sx_wipe(addr, sizeof *addr);
        return sx_error_set(SX_E_USAGE, NULL,
                            "invalid server address '%s' (expected smp://fingerprint[:password]@host[:port])", shown);
    }
    snprintf(server, SX_QUEUE_ADDR_MAX, "%s", text);
    return SX_OK;
}

sx_status sx_smpapi_connect_error(const sx_smp_address *addr, const char *host, sx_status st)
{
    const char *why = st == SX_E_AUTH       ? "the router's identity does not match the fingerprint in the address"
                      : st == SX_E_PROTOCOL ? "SMP handshake failed (not an SMP router, or no common version)"
                      : st == SX_E_IO       ? "connection refused, unreachable or timed out"
                      : st == SX_E_CLOSED   ? "closed before the handshake finished"
                                            : sx_strerror(st);
    return sx_error_set(st, NULL, "cannot connect to %s:%u: %s", host ? host : addr->host, (unsigned)addr->port, why);
}

int64_t sx_smpapi_now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return (int64_t)time(NULL) * 1000000000;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

sx_status sx_smpapi_route(const sx_smp_conn_opts *opts, const sx_smp_address *addr, int64_t session_ns,
                          const char **host, sx_socks_route *route, bool *use)
{
    *use = false;
    *host = addr->host;
    bool socks = opts && opts->socks_proxy;
    sx_socks_proxy p;
    if (socks && sx_socks_proxy_parse(opts->socks_proxy, &p) != SX_OK)
        return sx_error_set(SX_E_USAGE, NULL,
                            "invalid SOCKS proxy (expected [user:password@]host:port with a numeric host)");
    sx_smp_host_mode mode = opts ? opts->host_mode : SX_SMP_HOSTS_ONION_VIA_SOCKS;
    bool required = opts && opts->required_host_mode;
    *host = sx_smp_address_choose_host(addr, (int)mode, required, socks);
    if (!*host) {
        *host = addr->host;
        return sx_error_set(SX_E_USAGE, "HOST", "no %s host in the address of %s and required_host_mode is set",
                            mode == SX_SMP_HOSTS_PUBLIC || (mode == SX_SMP_HOSTS_ONION_VIA_SOCKS && !socks) ? "public"
                                                                                                            : "onion",
                            addr->host);
    }
    if (!socks)
        return SX_OK;
    char iso[SX_SOCKS_ISOLATION_LEN + 1];
    SX_TRY(sx_socks_isolation_user(1, session_ns, iso));
    *use = sx_socks_route_for(&p, opts->socks_mode == SX_SMP_SOCKS_ONION, *host, iso, route);
    return SX_OK;
}

/* ---- queues ---- */

sx_smp_queue *sx_smpapi_queue_new(void)
{
    sx_smp_queue *q = calloc(1, sizeof *q);
    if (q)
        sx_queue_file_init(&q->f);
    return q;
}

void sx_smp_queue_free(sx_smp_queue *q)
{
    if (!q)
        return;
    sx_queue_file_cleanup(&q->f);
    free(q);
}

sx_smp_role sx_smp_queue_role(const sx_smp_queue *q)
{
    return q && q->f.role == SX_QUEUE_SENDER ? SX_SMP_ROLE_SENDER : SX_SMP_ROLE_RECIPIENT;
}

const char *sx_smp_queue_server(const sx_smp_queue *q)
{
    return q ? q->f.server : "";
}

bool sx_smp_queue_has_sender_key(const sx_smp_queue *q)
{
    return q && q->f.snd_key != NULL;
}

sx_status sx_smp_queue_sender(const sx_smp_queue *rcv, sx_smp_queue **out)
{
    sx_error_clear();
    if (!out)
        return sx_error_set(SX_E_USAGE, NULL, "sender: no place for the queue");
    *out = NULL;
    SX_TRY(sx_smpapi_need_role(rcv, SX_QUEUE_RECIPIENT, "sender"));
    sx_smp_queue *q = calloc(1, sizeof *q);
    if (!q)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    sx_status st = sx_queue_file_sender_of(&rcv->f, &q->f);
    if (st != SX_OK) {
        free(q);
        return sx_error_set(st, NULL, "cannot make the sender side of the queue");
    }
    *out = q;
    return SX_OK;
}

sx_status sx_smp_queue_make_sender_key(sx_smp_queue *snd, bool *created)
{
    sx_error_clear();
    if (created)
        *created = false;
    SX_TRY(sx_smpapi_need_role(snd, SX_QUEUE_SENDER, "making the sender key"));
    if (snd->f.snd_key)
        return SX_OK;
    if (sx_key_generate(SX_KEY_ED25519, &snd->f.snd_key) != SX_OK)
        return sx_error_set(SX_E_INTERNAL, NULL, "cannot generate a key");
    if (created)
        *created = true;
    return SX_OK;
}

/* ---- creating a queue ---- */

sx_status sx_smpapi_new_begin(const sx_smp_address *addr, sx_smpapi_new *n)
{
    memset(n, 0, sizeof *n);
    /* addr's password was checked against the basic-auth grammar when the
     * address was parsed (smp/address.c). */
    n->q = sx_smpapi_queue_new();
    if (!n->q)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    if (sx_key_generate(SX_KEY_ED25519, &n->q->f.rcv_key) != SX_OK || sx_key_generate(SX_KEY_X25519, &n->rdh) != SX_OK)
        return sx_error_set(SX_E_INTERNAL, NULL, "create: cannot generate keys");
    n->cmd.tag = SX_SMP_C_NEW;
    if (sx_smp_pubkey_of(n->q->f.rcv_key, n->b1, &n->cmd.new_queue.rcv_auth_key) != SX_OK ||
        sx_smp_pubkey_of(n->rdh, n->b2, &n->cmd.new_queue.rcv_dh_key) != SX_OK)
        return sx_error_set(SX_E_INTERNAL, NULL, "create: cannot encode keys");
    n->cmd.new_queue.has_basic_auth = addr->has_password;
    n->cmd.new_queue.basic_auth = sx_slice_str(addr->password);
    n->cmd.new_queue.subscribe = false; /* create only; subscribing is a call of its own */
    n->cmd.new_queue.has_queue_req = true;
    n->cmd.new_queue.queue_req.mode = SX_SMP_QUEUE_MESSAGING;
    return SX_OK;
}

sx_status sx_smpapi_new_finish(sx_smpapi_new *n, const sx_smp_client_reply *r, const char *server, bool *created)
{
    *created = false;
    sx_smp_queue *q = n->q;
    if (r->ok && r->reply.resp.tag == SX_SMP_R_ERR)
        return router_error_in(SX_STEP_SMP_CREATE, "create", &r->reply.resp.err);
    SX_TRY(sx_smpapi_expect("create", r, SX_SMP_R_IDS));
    const sx_smp_ids *ids = &r->reply.resp.ids;
    if (ids->rcv_id.len == SX_QUEUE_ID_LEN) {
        memcpy(q->f.rcv_id, ids->rcv_id.ptr, SX_QUEUE_ID_LEN);
        *created = true;
    }
    if (ids->rcv_id.len != SX_QUEUE_ID_LEN || ids->snd_id.len != SX_QUEUE_ID_LEN)
        return sx_error_set(SX_E_PROTOCOL, NULL, "create: the router sent queue ids of %zu and %zu bytes (%d expected)",
                            ids->rcv_id.len, ids->snd_id.len, SX_QUEUE_ID_LEN);
    memcpy(q->f.snd_id, ids->snd_id.ptr, SX_QUEUE_ID_LEN);
    size_t len = 0;
    sx_key *srv = NULL;
    sx_status st = sx_key_decode_public(ids->srv_dh_key.der, SX_KEY_BIT(SX_KEY_X25519), &srv);
    if (st == SX_OK)
        st = sx_key_dh(n->rdh, srv, q->f.dh_secret, sizeof q->f.dh_secret, &len);
    sx_key_free(srv);
    if (st != SX_OK || len != SX_CB_KEY_LEN)
        return sx_error_set(SX_E_PROTOCOL, NULL, "create: the router's DH key is not usable");
    q->f.role = SX_QUEUE_RECIPIENT;
    snprintf(q->f.server, sizeof q->f.server, "%s", server);
    return SX_OK;
}

sx_smp_queue *sx_smpapi_new_take(sx_smpapi_new *n)
{
    sx_smp_queue *q = n->q;
    n->q = NULL;
    return q;
}

void sx_smpapi_new_cleanup(sx_smpapi_new *n)
{
    sx_key_free(n->rdh);
    sx_smp_queue_free(n->q);
    sx_wipe(n, sizeof *n);
}

/* ---- securing and sending ---- */

sx_status sx_smpapi_secure_begin(sx_smp_queue *snd, unsigned version, uint8_t buf[SX_KEY_SPKI_MAX], sx_smp_cmd *cmd,
                                 bool *had_key)
{
    if (version < SX_SMP_V_SND_AUTH_KEY)
        return sx_error_set(SX_E_PROTOCOL, NULL, "secure: the router speaks SMP v%u; securing by the sender needs v%d",
                            version, SX_SMP_V_SND_AUTH_KEY);
    *had_key = snd->f.snd_key != NULL;
    SX_TRY(sx_smp_queue_make_sender_key(snd, NULL));
    memset(cmd, 0, sizeof *cmd);
    cmd->tag = SX_SMP_C_SKEY;
    if (sx_smp_pubkey_of(snd->f.snd_key, buf, &cmd->key) != SX_OK)
        return sx_error_set(SX_E_INTERNAL, NULL, "secure: cannot encode the key");
    return SX_OK;
}

sx_status sx_smpapi_secure_answer(const sx_smp_client_reply *r, bool had_key)
{
    sx_status st = sx_smpapi_expect("secure", r, SX_SMP_R_OK);
    if (st == SX_E_AUTH && had_key)
        sx_error_set(st, "AUTH",
                     "secure: the router refused it (AUTH): the queue is secured with another key already, or "
                     "it does not exist");
    return st;
}

sx_status sx_smpapi_send_begin(unsigned version, const void *body, size_t len, sx_smp_cmd *cmd)
{
    size_t max = sx_smp_max_message_length((uint16_t)version);
    if (len > max)
        return sx_error_set(SX_E_LIMIT, NULL, "send: the message is %zu bytes, longer than the %zu bytes SMP v%u allows",
                            len, max, version);
    memset(cmd, 0, sizeof *cmd);
    cmd->tag = SX_SMP_C_SEND;
    cmd->send.notification = false;
    cmd->send.body = sx_slice_of(body, len);
    return SX_OK;
}

sx_status sx_smpapi_send_answer(const sx_smp_client_reply *r, const sx_smp_queue *snd)
{
    sx_status st = sx_smpapi_expect("send", r, SX_SMP_R_OK);
    if (st == SX_E_AUTH && !snd->f.snd_key)
        sx_error_set(st, "AUTH",
                     "send: the router refused it (AUTH): this sender side has no key; if the queue was secured, "
                     "use the side that holds the key (or the queue does not exist)");
    return st;
}

/* ---- received messages ---- */

void sx_smp_event_clear(sx_smp_event *ev)
{
    if (!ev)
        return;
    if (ev->body) {
        sx_wipe(ev->body, ev->body_len);
        free(ev->body);
    }
    memset(ev, 0, sizeof *ev);
}

/* Turns a MSG transmission for q into an event (decrypted). */
sx_status sx_smpapi_msg_event(sx_smp_queue *q, const sx_smp_client_reply *r, sx_smp_event *ev)
{
    sx_slice id = r->reply.resp.msg.msg_id;
    ev->queue = q;
    if (id.len == 0 || id.len > SX_SMP_MSG_ID_MAX)
        return sx_error_set(SX_E_PROTOCOL, NULL, "receive: the router sent a message id of %zu bytes", id.len);
    memcpy(ev->msg_id, id.ptr, id.len);
    ev->msg_id_len = id.len;
    uint8_t plain[SX_SMP_ENC_MSG_LEN];
    sx_smp_rcv_msg m;
    sx_status st = sx_smp_msg_decrypt(q->f.dh_secret, id, r->reply.resp.msg.body, plain, sizeof plain, &m);
    if (st != SX_OK) {
        ev->kind = SX_SMP_EVENT_UNREADABLE;
        return SX_OK;
    }
    ev->timestamp = m.ts;
    if (m.quota) {
        ev->kind = SX_SMP_EVENT_QUOTA;
    } else {
        ev->kind = SX_SMP_EVENT_MESSAGE;
        ev->notification = m.notification;
        ev->body = malloc(m.body.len ? m.body.len : 1);
        if (!ev->body) {
            sx_wipe(plain, sizeof plain);
            memset(ev, 0, sizeof *ev);
            return sx_error_set(SX_E_NOMEM, NULL, NULL);
        }
        memcpy(ev->body, m.body.ptr, m.body.len);
        ev->body_len = m.body.len;
    }
    sx_wipe(plain, sizeof plain);
    return SX_OK;
}

/* ---- subscriptions ---- */

sx_smp_queue *sx_smpapi_subs_find(const sx_smpapi_subs *s, sx_slice rcv_id)
{
    for (size_t i = 0; i < s->n; i++)
        if (sx_slice_eq(rcv_id, sx_smpapi_rcv_id(s->v[i])))
            return s->v[i];
    return NULL;
}

sx_status sx_smpapi_subs_add(sx_smpapi_subs *s, sx_smp_queue *q)
{
    if (sx_smpapi_subs_find(s, sx_smpapi_rcv_id(q)))
        return SX_OK;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4;
        sx_smp_queue **v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return sx_error_set(SX_E_NOMEM, NULL, NULL);
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = q;
    return SX_OK;
}

void sx_smpapi_subs_remove(sx_smpapi_subs *s, const sx_smp_queue *q)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i] == q) {
            s->v[i] = s->v[--s->n];
            return;
        }
    }
}

void sx_smpapi_subs_cleanup(sx_smpapi_subs *s)
{
    free(s->v);
    memset(s, 0, sizeof *s);
}

sx_status sx_smpapi_reply_event(sx_smpapi_subs *s, const sx_smp_client_reply *r, sx_smp_event *ev,
                                bool *used)
{
    *used = false;
    if (!r->ok)
        return SX_OK;
    /* Service events (PROTOCOL-NOTES D8, D27): not of one queue. */
    if (r->reply.resp.tag == SX_SMP_R_ALLS || r->reply.resp.tag == SX_SMP_R_ENDS) {
        *used = true;
        ev->kind = r->reply.resp.tag == SX_SMP_R_ALLS ? SX_SMP_EVENT_SERVICE_ALL : SX_SMP_EVENT_SERVICE_END;
        if (r->reply.resp.tag == SX_SMP_R_ENDS)
            ev->service_count = r->reply.resp.subs.count;
        return SX_OK;
    }
    sx_smp_queue *q = sx_smpapi_subs_find(s, r->reply.t.entity_id);
    if (!q)
        return SX_OK;
    switch (r->reply.resp.tag) {
    case SX_SMP_R_MSG: *used = true; return sx_smpapi_msg_event(q, r, ev);
    case SX_SMP_R_END:
    case SX_SMP_R_DELD:
        *used = true;
        ev->kind = r->reply.resp.tag == SX_SMP_R_END ? SX_SMP_EVENT_END : SX_SMP_EVENT_DELETED;
        ev->queue = q;
        sx_smpapi_subs_remove(s, q); /* the program may free the queue now */
        return SX_OK;
    default: return SX_OK;
    }
}

/* ---- queue files ---- */

sx_status sx_smp_queue_load(const char *path, sx_smp_queue **out)
{
    sx_error_clear();
    if (!path || !out)
        return sx_error_set(SX_E_USAGE, NULL, "load: no path or no place for the queue");
    *out = NULL;
    sx_smp_queue *q = calloc(1, sizeof *q);
    if (!q)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    char err[ERRLEN] = "";
    sx_status st = sx_queue_file_load(path, &q->f, err, sizeof err);
    if (st != SX_OK) {
        free(q);
        return sx_error_set(st, NULL, "%s", err[0] ? err : sx_strerror(st));
    }
    *out = q;
    return SX_OK;
}

sx_status sx_smp_queue_save(const sx_smp_queue *q, const char *path, bool replace)
{
    sx_error_clear();
    if (!q || !path)
        return sx_error_set(SX_E_USAGE, NULL, "save: no queue or no path");
    char err[ERRLEN] = "";
    sx_status st = sx_queue_file_save(path, &q->f, replace, err, sizeof err);
    if (st != SX_OK)
        return sx_error_set(st, NULL, "%s", err[0] ? err : sx_strerror(st));
    return SX_OK;
}

sx_status sx_smp_queue_format(const sx_smp_queue *q, char **text, size_t *len)
{
    sx_error_clear();
    if (!q || !text || !len)
        return sx_error_set(SX_E_USAGE, NULL, "format: no queue or no place for the text");
    sx_status st = sx_queue_file_format(&q->f, text, len);
    return st == SX_OK ? SX_OK : sx_error_set(st, NULL, "cannot format the queue file");
}

sx_status sx_smp_queue_parse(const char *text, size_t len, sx_smp_queue **out)
{
    sx_error_clear();
    if (!text || !out)
        return sx_error_set(SX_E_USAGE, NULL, "parse: no text or no place for the queue");
    *out = NULL;
    sx_smp_queue *q = calloc(1, sizeof *q);
    if (!q)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    char err[ERRLEN] = "";
    sx_status st = sx_queue_file_parse(text, len, &q->f, err, sizeof err);
    if (st != SX_OK) {
        free(q);
        return sx_error_set(st, NULL, "%s", err[0] ? err : sx_strerror(st));
    }
    *out = q;
    return SX_OK;
}

void sx_smp_text_free(char *text, size_t len)
{
    if (!text)
        return;
    sx_wipe(text, len);
    free(text);
}

/* ---- ids, keys and link data for the pool's queue operations ---- */

sx_status sx_smp_link_sender_id(const uint8_t corr_id[24], uint8_t out[SX_SMP_QUEUE_ID_LEN])
{
    uint8_t h[SX_SHA3_384_LEN];
    if (!corr_id || !out)
        return sx_error_set(SX_E_USAGE, NULL, "sender id: no corrId or no place for the id");
    if (sx_sha3_384(sx_slice_of(corr_id, 24), h) != SX_OK)
        return sx_error_set(SX_E_INTERNAL, NULL, "sender id: cannot hash");
    memcpy(out, h, SX_SMP_QUEUE_ID_LEN);
    return SX_OK;
}

void sx_smp_link_clear(sx_smp_link *l)
{
    if (!l)
        return;
    if (l->fixed) {
        sx_wipe(l->fixed, l->fixed_len);
        free(l->fixed);
    }
    if (l->user) {
        sx_wipe(l->user, l->user_len);
        free(l->user);
    }
    memset(l, 0, sizeof *l);
}

sx_status sx_smp_queue_sender_new(const char *server, const uint8_t *snd_id, sx_smp_queue **out)
{
    sx_error_clear();
    if (!out)
        return sx_error_set(SX_E_USAGE, NULL, "sender: no place for the queue");
    *out = NULL;
    if (!server)
        return sx_error_set(SX_E_USAGE, NULL, "sender: no router address");
    sx_smp_address a;
    char text[SX_QUEUE_ADDR_MAX];
    SX_TRY(sx_smpapi_parse_server(server, &a, text));
    sx_wipe(&a, sizeof a);
    sx_smp_queue *q = sx_smpapi_queue_new();
    if (!q)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    q->f.role = SX_QUEUE_SENDER;
    if (sx_queue_address_public(server, q->f.server, sizeof q->f.server) != SX_OK) {
        sx_smp_queue_free(q);
        return sx_error_set(SX_E_USAGE, NULL, "sender: the router address does not parse");
    }
    if (snd_id)
        memcpy(q->f.snd_id, snd_id, SX_QUEUE_ID_LEN);
    *out = q;
    return SX_OK;
}

void sx_smp_queue_ids(const sx_smp_queue *q, uint8_t *rcv_id, uint8_t *snd_id)
{
    if (rcv_id) {
        if (q && q->f.role == SX_QUEUE_RECIPIENT)
            memcpy(rcv_id, q->f.rcv_id, SX_QUEUE_ID_LEN);
        else
            memset(rcv_id, 0, SX_QUEUE_ID_LEN);
    }
    if (snd_id) {
        if (q)
            memcpy(snd_id, q->f.snd_id, SX_QUEUE_ID_LEN);
        else
            memset(snd_id, 0, SX_QUEUE_ID_LEN);
    }
}

sx_status sx_smp_queue_sender_public_key(sx_smp_queue *snd, uint8_t *out, size_t cap, size_t *len)
{
    sx_error_clear();
    if (!out || !len)
        return sx_error_set(SX_E_USAGE, NULL, "sender key: no place for it");
    *len = 0;
    SX_TRY(sx_smp_queue_make_sender_key(snd, NULL));
    uint8_t b[SX_KEY_SPKI_MAX];
    sx_smp_pubkey pk;
    if (sx_smp_pubkey_of(snd->f.snd_key, b, &pk) != SX_OK)
        return sx_error_set(SX_E_INTERNAL, NULL, "sender key: cannot encode it");
    if (pk.der.len > cap)
        return sx_error_set(SX_E_LIMIT, NULL, "sender key: %zu bytes do not fit in %zu", pk.der.len, cap);
    memcpy(out, pk.der.ptr, pk.der.len);
    *len = pk.der.len;
    return SX_OK;
}

/* ---- NEW with options, notifiers, link data ---- */

sx_status sx_smpapi_ntf_keys(const char *what, sx_key **nkey, sx_key **ndh)
{
    if (sx_key_generate(SX_KEY_ED25519, nkey) != SX_OK || sx_key_generate(SX_KEY_X25519, ndh) != SX_OK)
        return sx_error_set(SX_E_INTERNAL, NULL, "%s: cannot make the notifier's keys", what);
    return SX_OK;
}

sx_status sx_smpapi_new_ext(sx_smpapi_new *n, const sx_smp_new_opts *o, sx_slice fixed, sx_slice user,
                            sx_smpapi_new_x *x)
{
    memset(x, 0, sizeof *x);
    if (!o)
        return SX_OK;
    x->contact = o->contact;
    x->has_link = o->has_link;
    x->notifier = o->notifier;
    x->subscribe = o->subscribe;
    sx_smp_new *nq = &n->cmd.new_queue;
    nq->subscribe = o->subscribe;
    nq->queue_req.mode = o->contact ? SX_SMP_QUEUE_CONTACT : SX_SMP_QUEUE_MESSAGING;
    if (o->has_link) {
        if (o->contact && !o->link_id)
            return sx_error_set(SX_E_USAGE, NULL, "create: a contact queue's link data needs its link id");
        if ((!fixed.ptr && fixed.len) || (!user.ptr && user.len))
            return sx_error_set(SX_E_USAGE, NULL, "create: no link data bytes");
        if (o->corr_id)
            memcpy(x->corr, o->corr_id, sizeof x->corr);
        else
            sx_random_bytes(x->corr, sizeof x->corr);
        SX_TRY(sx_smp_link_sender_id(x->corr, x->snd_id));
        if (o->contact)
            memcpy(x->link_id, o->link_id, SX_QUEUE_ID_LEN);
        nq->queue_req.has_link = true;
        nq->queue_req.sender_id = sx_slice_of(x->snd_id, SX_QUEUE_ID_LEN);
        nq->queue_req.link_id = o->contact ? sx_slice_of(x->link_id, SX_QUEUE_ID_LEN) : sx_slice_of(NULL, 0);
        nq->queue_req.link.fixed = fixed;
        nq->queue_req.link.user = user;
    }
    if (o->notifier) {
        SX_TRY(sx_smpapi_ntf_keys("create", &x->nkey, &x->ndh));
        if (sx_smp_pubkey_of(x->nkey, x->nb1, &nq->ntf_auth_key) != SX_OK ||
            sx_smp_pubkey_of(x->ndh, x->nb2, &nq->ntf_dh_key) != SX_OK)
            return sx_error_set(SX_E_INTERNAL, NULL, "create: cannot encode the notifier's keys");
        nq->has_ntf_creds = true;
    }
    return SX_OK;
}

unsigned sx_smpapi_new_min_version(const sx_smpapi_new_x *x)
{
    if (x->notifier)
        return SX_SMP_V_NEW_NTF_CREDS;
    if (x->contact || x->has_link)
        return SX_SMP_V_SHORT_LINKS;
    return SX_SMP_VERSION_MIN;
}

sx_status sx_smpapi_ntf_creds(const char *what, const sx_key *nkey, const sx_key *ndh, sx_slice nid,
                              const sx_smp_pubkey *srv_dh, sx_smp_ntf_creds *out)
{
    memset(out, 0, sizeof *out);
    if (nid.len != SX_QUEUE_ID_LEN)
        return sx_error_set(SX_E_PROTOCOL, NULL, "%s: the router sent a notifier id of %zu bytes", what, nid.len);
    if (srv_dh->der.len > sizeof out->srv_dh_key)
        return sx_error_set(SX_E_PROTOCOL, NULL, "%s: the router's notifier DH key is too long", what);
    memcpy(out->notifier_id, nid.ptr, SX_QUEUE_ID_LEN);
    memcpy(out->srv_dh_key, srv_dh->der.ptr, srv_dh->der.len);
    out->srv_dh_key_len = srv_dh->der.len;
    sx_key *srv = NULL;
    size_t len = 0;
    sx_status st = sx_key_decode_public(srv_dh->der, SX_KEY_BIT(SX_KEY_X25519), &srv);
    if (st == SX_OK)
        st = sx_key_dh(ndh, srv, out->dh_secret, sizeof out->dh_secret, &len);
    sx_key_free(srv);
    if (st != SX_OK || len != sizeof out->dh_secret) {
        sx_wipe(out, sizeof *out);
        return sx_error_set(SX_E_PROTOCOL, NULL, "%s: the router's notifier DH key is not usable", what);
    }
    if (sx_key_private_to_text(nkey, out->notifier_key, sizeof out->notifier_key) != SX_OK) {
        sx_wipe(out, sizeof *out);
        return sx_error_set(SX_E_INTERNAL, NULL, "%s: cannot encode the notifier key", what);
    }
    return SX_OK;
}

sx_status sx_smpapi_new_created(const sx_smpapi_new_x *x, const sx_smp_ids *ids, sx_smp_created *c)
{
    memset(c, 0, sizeof *c);
    memcpy(c->rcv_id, ids->rcv_id.ptr, SX_QUEUE_ID_LEN); /* both checked by sx_smpapi_new_finish */
    memcpy(c->snd_id, ids->snd_id.ptr, SX_QUEUE_ID_LEN);
    c->mode = ids->has_queue_mode ? (char)ids->queue_mode : 0;
    if (x->has_link && memcmp(c->snd_id, x->snd_id, SX_QUEUE_ID_LEN) != 0)
        return sx_error_set(SX_E_PROTOCOL, NULL, "create: the router did not take the client's sender id");
    if (ids->has_link_id) {
        if (ids->link_id.len != SX_QUEUE_ID_LEN)
            return sx_error_set(SX_E_PROTOCOL, NULL, "create: the router sent a link id of %zu bytes",
                                ids->link_id.len);
        memcpy(c->link_id, ids->link_id.ptr, SX_QUEUE_ID_LEN);
        c->has_link_id = true;
    }
    if (x->has_link && !c->has_link_id)
        return sx_error_set(SX_E_PROTOCOL, NULL, "create: the router kept no link data");
    if (x->contact && x->has_link && memcmp(c->link_id, x->link_id, SX_QUEUE_ID_LEN) != 0)
        return sx_error_set(SX_E_PROTOCOL, NULL, "create: the router did not take the client's link id");
    if (x->notifier) {
        if (!ids->has_ntf)
            return sx_error_set(SX_E_PROTOCOL, NULL, "create: the router made no notifier");
        SX_TRY(sx_smpapi_ntf_creds("create", x->nkey, x->ndh, ids->ntf_id, &ids->srv_ntf_dh_key, &c->ntf));
        c->has_ntf = true;
    }
    return SX_OK;
}

void sx_smpapi_new_x_cleanup(sx_smpapi_new_x *x)
{
    sx_key_free(x->nkey);
    sx_key_free(x->ndh);
    sx_wipe(x, sizeof *x);
}

sx_status sx_smpapi_link_of(const char *what, const sx_smp_client_reply *r, sx_smp_link *l)
{
    memset(l, 0, sizeof *l);
    SX_TRY(sx_smpapi_expect(what, r, SX_SMP_R_LNK));
    sx_slice sid = r->reply.resp.lnk.sender_id;
    const sx_smp_link_data *d = &r->reply.resp.lnk.data;
    if (sid.len != SX_QUEUE_ID_LEN)
        return sx_error_set(SX_E_PROTOCOL, NULL, "%s: the router sent a sender id of %zu bytes", what, sid.len);
    memcpy(l->sender_id, sid.ptr, SX_QUEUE_ID_LEN);
    l->fixed = malloc(d->fixed.len ? d->fixed.len : 1);
    l->user = malloc(d->user.len ? d->user.len : 1);
    if (!l->fixed || !l->user) {
        sx_smp_link_clear(l);
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    }
    if (d->fixed.len)
        memcpy(l->fixed, d->fixed.ptr, d->fixed.len);
    if (d->user.len)
        memcpy(l->user, d->user.ptr, d->user.len);
    l->fixed_len = d->fixed.len;
    l->user_len = d->user.len;
    return SX_OK;
}
