/* The public SMP client API (include/simplex/smp.h): typed queue operations
 * over the blocking client (client/smp_client.h), the queue files
 * (client/queue_file.h) and the decryption of received messages
 * (smp/msgcrypt.h). Every public function clears the per-thread error
 * detail when it starts and sets it when it fails (core/error.h). */
#include "simplex/smp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/queue_file.h"
#include "client/smp_client.h"
#include "core/error.h"
#include "crypto/util.h"
#include "smp/msgcrypt.h"
#include "smp/version.h"

#define DEFAULT_TIMEOUT_MS 15000
#define ERRLEN 256

struct sx_smp_queue {
    sx_queue_file f;
};

/* A reply that arrived as the answer to an ACK (the queue's next message)
 * and waits to be returned by sx_smp_receive. */
typedef struct pending {
    struct pending *next;
    sx_smp_client_reply r;
} pending;

struct sx_smp_conn {
    sx_smp_client *cl;
    sx_smp_address addr; /* with the password, for NEW */
    char server[SX_QUEUE_ADDR_MAX]; /* the address as given */
    sx_smp_queue **subs; /* subscribed recipient sides (borrowed) */
    size_t nsubs, subs_cap;
    pending *head, *tail;
    uint8_t plain[SX_SMP_ENC_MSG_LEN];
};

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

/* Records the router's ERR answer to `what` and returns its class. */
static sx_status router_error(const char *what, const sx_smp_error *e)
{
    const char *code = e->type == SX_SMP_ERR_CMD ? cmd_err_name(e->cmd) : sx_smp_err_name(e->type);
    switch (e->type) {
    case SX_SMP_ERR_AUTH:
        return sx_error_set(SX_E_AUTH, code,
                            "%s: the router refused it (AUTH): the queue does not exist, or the key is not "
                            "the queue's key",
                            what);
    case SX_SMP_ERR_QUOTA:
        return sx_error_set(SX_E_LIMIT, code,
                            "%s: the queue is full (QUOTA): the recipient has to receive messages first", what);
    case SX_SMP_ERR_LARGE_MSG:
        return sx_error_set(SX_E_LIMIT, code, "%s: the message is too large (LARGE_MSG)", what);
    case SX_SMP_ERR_NO_MSG:
        return sx_error_set(SX_E_PROTOCOL, code, "%s: no message to acknowledge (NO_MSG)", what);
    case SX_SMP_ERR_BLOCKED:
        return sx_error_set(SX_E_AUTH, code, "%s: the queue is blocked by the router's operator (BLOCKED)",
                            what);
    case SX_SMP_ERR_CMD:
        return sx_error_set(SX_E_PROTOCOL, code, "%s: the router refused the command (%s)", what, code);
    default: return sx_error_set(SX_E_PROTOCOL, code, "%s: the router answered ERR %s", what, code);
    }
}

/* SX_OK when r is the response `tag`; otherwise records why not. */
static sx_status expect(const char *what, const sx_smp_client_reply *r, sx_smp_resp_tag tag)
{
    if (!r->ok)
        return sx_error_set(SX_E_PROTOCOL, NULL, "%s: the router's response could not be read", what);
    if (r->reply.resp.tag == tag)
        return SX_OK;
    if (r->reply.resp.tag == SX_SMP_R_ERR)
        return router_error(what, &r->reply.resp.err);
    return sx_error_set(SX_E_PROTOCOL, NULL, "%s: unexpected response %s from the router", what,
                        sx_smp_resp_name(r->reply.resp.tag));
}

static sx_status net_error(const char *what, sx_status st)
{
    switch (st) {
    case SX_E_IO: return sx_error_set(st, NULL, "%s: network error or timeout talking to the router", what);
    case SX_E_CLOSED: return sx_error_set(st, NULL, "%s: the router closed the connection", what);
    case SX_E_LIMIT: return sx_error_set(st, NULL, "%s: the command does not fit in a block", what);
    default: return sx_error_set(st, NULL, "%s: %s", what, sx_strerror(st));
    }
}

/* One command and its response (*r to be freed by the caller). */
static sx_status call(sx_smp_conn *c, const char *what, sx_slice entity, const sx_smp_cmd *cmd,
                      const sx_key *key, sx_smp_client_reply *r)
{
    memset(r, 0, sizeof *r);
    sx_status st = sx_smp_client_call(c->cl, entity, cmd, key, r);
    return st == SX_OK ? SX_OK : net_error(what, st);
}

static sx_slice rcv_id(const sx_smp_queue *q)
{
    return sx_slice_of(q->f.rcv_id, SX_QUEUE_ID_LEN);
}

static sx_status need_role(const sx_smp_queue *q, sx_queue_role role, const char *what)
{
    if (!q)
        return sx_error_set(SX_E_USAGE, NULL, "%s: no queue", what);
    if (q->f.role != role)
        return sx_error_set(SX_E_USAGE, NULL, "%s needs the %s side of the queue", what,
                            role == SX_QUEUE_RECIPIENT ? "recipient" : "sender");
    return SX_OK;
}

/* ---- connections ---- */

sx_status sx_smp_connect(const char *server, const sx_smp_conn_opts *opts, sx_smp_conn **out)
{
    sx_error_clear();
    if (!out)
        return sx_error_set(SX_E_USAGE, NULL, "connect: no place for the connection");
    *out = NULL;
    if (!server)
        return sx_error_set(SX_E_USAGE, NULL, "connect: no server address");
    if (sx_crypto_init() != SX_OK)
        return sx_error_set(SX_E_INTERNAL, NULL, "cannot initialise the crypto libraries");
    sx_smp_conn *c = calloc(1, sizeof *c);
    if (!c)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    bool printable = strlen(server) < sizeof c->server;
    for (const char *p = server; printable && *p; p++)
        printable = *p > ' ' && *p <= '~';
    if (!printable || sx_smp_address_parse(server, &c->addr) != SX_OK) {
        free(c);
        return sx_error_set(SX_E_USAGE, NULL,
                            "invalid server address '%s' (expected smp://fingerprint[:password]@host[:port])",
                            server);
    }
    snprintf(c->server, sizeof c->server, "%s", server);
    sx_smp_client_opts o = {
        .timeout_ms = opts && opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS,
        .ping_interval_ms = opts ? opts->keepalive_ms : 0,
    };
    sx_status st = sx_smp_client_connect(c->addr.host, c->addr.port, c->addr.key_hash, &o, &c->cl);
    if (st != SX_OK) {
        const char *why = st == SX_E_AUTH     ? "the router's identity does not match the fingerprint in the address"
                          : st == SX_E_PROTOCOL ? "SMP handshake failed (not an SMP router, or no common version)"
                          : st == SX_E_IO       ? "connection refused, unreachable or timed out"
                                                : sx_strerror(st);
        sx_error_set(st, NULL, "cannot connect to %s:%u: %s", c->addr.host, (unsigned)c->addr.port, why);
        sx_wipe(&c->addr, sizeof c->addr);
        free(c);
        return st;
    }
    *out = c;
    return SX_OK;
}

void sx_smp_close(sx_smp_conn *c)
{
    if (!c)
        return;
    sx_smp_client_close(c->cl);
    for (pending *p = c->head, *n; p; p = n) {
        n = p->next;
        sx_smp_client_reply_free(&p->r);
        free(p);
    }
    free(c->subs);
    sx_wipe(c, sizeof *c);
    free(c);
}

unsigned sx_smp_conn_version(const sx_smp_conn *c)
{
    return c ? sx_smp_client_session(c->cl)->version : 0;
}

size_t sx_smp_conn_max_body(const sx_smp_conn *c)
{
    return c ? sx_smp_max_message_length(sx_smp_client_session(c->cl)->version) : 0;
}

/* ---- queues ---- */

static sx_smp_queue *queue_new(void)
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

/* Deletes a queue that was created but cannot be handed to the caller. */
static void delete_quietly(sx_smp_conn *c, const sx_smp_queue *q)
{
    sx_smp_client_reply r = {0};
    sx_smp_cmd del = {.tag = SX_SMP_C_DEL};
    if (sx_smp_client_call(c->cl, rcv_id(q), &del, q->f.rcv_key, &r) == SX_OK)
        sx_smp_client_reply_free(&r);
}

sx_status sx_smp_queue_create(sx_smp_conn *c, sx_smp_queue **out)
{
    sx_error_clear();
    if (!c || !out)
        return sx_error_set(SX_E_USAGE, NULL, "create: no connection or no place for the queue");
    *out = NULL;
    if (c->addr.has_password && !sx_smp_basic_auth_valid(sx_slice_str(c->addr.password)))
        return sx_error_set(SX_E_USAGE, NULL,
                            "the password in the server address has characters a router cannot accept");
    sx_smp_queue *q = queue_new();
    sx_key *rdh = NULL, *srv = NULL;
    sx_smp_client_reply r = {0};
    bool created = false;
    sx_status st;
    if (!q) {
        st = sx_error_set(SX_E_NOMEM, NULL, NULL);
        goto done;
    }
    if (sx_key_generate(SX_KEY_ED25519, &q->f.rcv_key) != SX_OK || sx_key_generate(SX_KEY_X25519, &rdh) != SX_OK) {
        st = sx_error_set(SX_E_INTERNAL, NULL, "create: cannot generate keys");
        goto done;
    }
    uint8_t b1[SX_KEY_SPKI_MAX], b2[SX_KEY_SPKI_MAX];
    sx_smp_cmd cmd = {.tag = SX_SMP_C_NEW};
    if (sx_smp_pubkey_of(q->f.rcv_key, b1, &cmd.new_queue.rcv_auth_key) != SX_OK ||
        sx_smp_pubkey_of(rdh, b2, &cmd.new_queue.rcv_dh_key) != SX_OK) {
        st = sx_error_set(SX_E_INTERNAL, NULL, "create: cannot encode keys");
        goto done;
    }
    cmd.new_queue.has_basic_auth = c->addr.has_password;
    cmd.new_queue.basic_auth = sx_slice_str(c->addr.password);
    cmd.new_queue.subscribe = false; /* create only; sx_smp_subscribe subscribes */
    cmd.new_queue.has_queue_req = true;
    cmd.new_queue.queue_req.mode = SX_SMP_QUEUE_MESSAGING;
    if ((st = call(c, "create", sx_slice_of(NULL, 0), &cmd, q->f.rcv_key, &r)) != SX_OK)
        goto done;
    if (r.ok && r.reply.resp.tag == SX_SMP_R_ERR && r.reply.resp.err.type == SX_SMP_ERR_AUTH) {
        st = sx_error_set(SX_E_AUTH, "AUTH",
                          "create: the router refused to create a queue (AUTH): it needs a password in the "
                          "server address (smp://fingerprint:password@host), or the one given is wrong, or it "
                          "does not allow new queues");
        goto done;
    }
    if ((st = expect("create", &r, SX_SMP_R_IDS)) != SX_OK)
        goto done;
    const sx_smp_ids *ids = &r.reply.resp.ids;
    if (ids->rcv_id.len == SX_QUEUE_ID_LEN) {
        memcpy(q->f.rcv_id, ids->rcv_id.ptr, SX_QUEUE_ID_LEN);
        created = true;
    }
    if (ids->rcv_id.len != SX_QUEUE_ID_LEN || ids->snd_id.len != SX_QUEUE_ID_LEN) {
        st = sx_error_set(SX_E_PROTOCOL, NULL, "create: the router sent queue ids of %zu and %zu bytes (%d expected)",
                          ids->rcv_id.len, ids->snd_id.len, SX_QUEUE_ID_LEN);
        goto done;
    }
    memcpy(q->f.snd_id, ids->snd_id.ptr, SX_QUEUE_ID_LEN);
    size_t n = 0;
    if (sx_key_decode_public(ids->srv_dh_key.der, SX_KEY_BIT(SX_KEY_X25519), &srv) != SX_OK ||
        sx_key_dh(rdh, srv, q->f.dh_secret, sizeof q->f.dh_secret, &n) != SX_OK || n != SX_CB_KEY_LEN) {
        st = sx_error_set(SX_E_PROTOCOL, NULL, "create: the router's DH key is not usable");
        goto done;
    }
    q->f.role = SX_QUEUE_RECIPIENT;
    snprintf(q->f.server, sizeof q->f.server, "%s", c->server);
    *out = q;
    q = NULL;
    created = false;
    st = SX_OK;
done:
    if (created)
        delete_quietly(c, q);
    sx_smp_client_reply_free(&r);
    sx_key_free(srv);
    sx_key_free(rdh);
    sx_smp_queue_free(q);
    return st;
}

sx_status sx_smp_queue_sender(const sx_smp_queue *rcv, sx_smp_queue **out)
{
    sx_error_clear();
    if (!out)
        return sx_error_set(SX_E_USAGE, NULL, "sender: no place for the queue");
    *out = NULL;
    SX_TRY(need_role(rcv, SX_QUEUE_RECIPIENT, "sender"));
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
    SX_TRY(need_role(snd, SX_QUEUE_SENDER, "making the sender key"));
    if (snd->f.snd_key)
        return SX_OK;
    if (sx_key_generate(SX_KEY_ED25519, &snd->f.snd_key) != SX_OK)
        return sx_error_set(SX_E_INTERNAL, NULL, "cannot generate a key");
    if (created)
        *created = true;
    return SX_OK;
}

sx_status sx_smp_queue_secure(sx_smp_conn *c, sx_smp_queue *snd)
{
    sx_error_clear();
    if (!c)
        return sx_error_set(SX_E_USAGE, NULL, "secure: no connection");
    SX_TRY(need_role(snd, SX_QUEUE_SENDER, "secure"));
    unsigned v = sx_smp_conn_version(c);
    if (v < SX_SMP_V_SND_AUTH_KEY)
        return sx_error_set(SX_E_PROTOCOL, NULL, "secure: the router speaks SMP v%u; securing by the sender needs v%d",
                            v, SX_SMP_V_SND_AUTH_KEY);
    bool had_key = snd->f.snd_key != NULL;
    SX_TRY(sx_smp_queue_make_sender_key(snd, NULL));
    uint8_t b[SX_KEY_SPKI_MAX];
    sx_smp_cmd cmd = {.tag = SX_SMP_C_SKEY};
    if (sx_smp_pubkey_of(snd->f.snd_key, b, &cmd.key) != SX_OK)
        return sx_error_set(SX_E_INTERNAL, NULL, "secure: cannot encode the key");
    sx_smp_client_reply r;
    SX_TRY(call(c, "secure", sx_slice_of(snd->f.snd_id, SX_QUEUE_ID_LEN), &cmd, snd->f.snd_key, &r));
    sx_status st = expect("secure", &r, SX_SMP_R_OK);
    if (st == SX_E_AUTH && had_key)
        sx_error_set(st, "AUTH",
                     "secure: the router refused it (AUTH): the queue is secured with another key already, or "
                     "it does not exist");
    sx_smp_client_reply_free(&r);
    return st;
}

sx_status sx_smp_send(sx_smp_conn *c, const sx_smp_queue *snd, const void *body, size_t len)
{
    sx_error_clear();
    if (!c || (!body && len))
        return sx_error_set(SX_E_USAGE, NULL, "send: no connection or no body");
    SX_TRY(need_role(snd, SX_QUEUE_SENDER, "send"));
    size_t max = sx_smp_conn_max_body(c);
    if (len > max)
        return sx_error_set(SX_E_LIMIT, NULL, "send: the message is %zu bytes, longer than the %zu bytes SMP v%u allows",
                            len, max, sx_smp_conn_version(c));
    sx_smp_cmd cmd = {.tag = SX_SMP_C_SEND};
    cmd.send.notification = false;
    cmd.send.body = sx_slice_of(body, len);
    sx_smp_client_reply r;
    SX_TRY(call(c, "send", sx_slice_of(snd->f.snd_id, SX_QUEUE_ID_LEN), &cmd, snd->f.snd_key, &r));
    sx_status st = expect("send", &r, SX_SMP_R_OK);
    if (st == SX_E_AUTH && !snd->f.snd_key)
        sx_error_set(st, "AUTH",
                     "send: the router refused it (AUTH): this sender side has no key; if the queue was secured, "
                     "use the side that holds the key (or the queue does not exist)");
    sx_smp_client_reply_free(&r);
    return st;
}

sx_status sx_smp_queue_delete(sx_smp_conn *c, sx_smp_queue *rcv)
{
    sx_error_clear();
    if (!c)
        return sx_error_set(SX_E_USAGE, NULL, "delete: no connection");
    SX_TRY(need_role(rcv, SX_QUEUE_RECIPIENT, "delete"));
    sx_smp_cmd del = {.tag = SX_SMP_C_DEL};
    sx_smp_client_reply r;
    SX_TRY(call(c, "delete", rcv_id(rcv), &del, rcv->f.rcv_key, &r));
    sx_status st = expect("delete", &r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    return st;
}

/* ---- receiving ---- */

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

static sx_smp_queue *find_sub(const sx_smp_conn *c, sx_slice entity)
{
    for (size_t i = 0; i < c->nsubs; i++)
        if (sx_slice_eq(entity, rcv_id(c->subs[i])))
            return c->subs[i];
    return NULL;
}

/* Turns a MSG transmission for q into an event (decrypted). */
static sx_status msg_event(sx_smp_conn *c, sx_smp_queue *q, const sx_smp_client_reply *r, sx_smp_event *ev)
{
    sx_slice id = r->reply.resp.msg.msg_id;
    ev->queue = q;
    if (id.len == 0 || id.len > SX_SMP_MSG_ID_MAX)
        return sx_error_set(SX_E_PROTOCOL, NULL, "receive: the router sent a message id of %zu bytes", id.len);
    memcpy(ev->msg_id, id.ptr, id.len);
    ev->msg_id_len = id.len;
    sx_smp_rcv_msg m;
    sx_status st = sx_smp_msg_decrypt(q->f.dh_secret, id, r->reply.resp.msg.body, c->plain, sizeof c->plain, &m);
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
            sx_wipe(c->plain, sizeof c->plain);
            memset(ev, 0, sizeof *ev);
            return sx_error_set(SX_E_NOMEM, NULL, NULL);
        }
        memcpy(ev->body, m.body.ptr, m.body.len);
        ev->body_len = m.body.len;
    }
    sx_wipe(c->plain, sizeof c->plain);
    return SX_OK;
}

/* Makes an event of a transmission from the router, if it is one for a
 * subscribed queue (*used false otherwise: the caller drops it). */
static sx_status to_event(sx_smp_conn *c, const sx_smp_client_reply *r, sx_smp_event *ev, bool *used)
{
    *used = false;
    if (!r->ok)
        return SX_OK;
    sx_smp_queue *q = find_sub(c, r->reply.t.entity_id);
    if (!q)
        return SX_OK;
    switch (r->reply.resp.tag) {
    case SX_SMP_R_MSG: *used = true; return msg_event(c, q, r, ev);
    case SX_SMP_R_END: *used = true; ev->kind = SX_SMP_EVENT_END; ev->queue = q; return SX_OK;
    case SX_SMP_R_DELD: *used = true; ev->kind = SX_SMP_EVENT_DELETED; ev->queue = q; return SX_OK;
    default: return SX_OK;
    }
}

sx_status sx_smp_subscribe(sx_smp_conn *c, sx_smp_queue *rcv)
{
    sx_error_clear();
    if (!c)
        return sx_error_set(SX_E_USAGE, NULL, "subscribe: no connection");
    SX_TRY(need_role(rcv, SX_QUEUE_RECIPIENT, "subscribe"));
    if (!find_sub(c, rcv_id(rcv))) {
        if (c->nsubs == c->subs_cap) {
            size_t cap = c->subs_cap ? c->subs_cap * 2 : 4;
            sx_smp_queue **s = realloc(c->subs, cap * sizeof *s);
            if (!s)
                return sx_error_set(SX_E_NOMEM, NULL, NULL);
            c->subs = s;
            c->subs_cap = cap;
        }
        c->subs[c->nsubs++] = rcv;
    }
    sx_smp_cmd sub = {.tag = SX_SMP_C_SUB};
    sx_smp_client_reply r;
    SX_TRY(call(c, "subscribe", rcv_id(rcv), &sub, rcv->f.rcv_key, &r));
    sx_status st = SX_OK;
    if (r.ok && r.reply.resp.tag == SX_SMP_R_MSG) {
        /* A waiting message comes as the answer to SUB: keep it for receive. */
        pending *p = calloc(1, sizeof *p);
        if (!p) {
            sx_smp_client_reply_free(&r);
            return sx_error_set(SX_E_NOMEM, NULL, NULL);
        }
        p->r = r;
        if (c->tail)
            c->tail->next = p;
        else
            c->head = p;
        c->tail = p;
        return SX_OK;
    }
    /* SOK from SMP v16 on, OK before. */
    if (!(r.ok && r.reply.resp.tag == SX_SMP_R_OK))
        st = expect("subscribe", &r, SX_SMP_R_SOK);
    sx_smp_client_reply_free(&r);
    return st;
}

sx_status sx_smp_receive(sx_smp_conn *c, int timeout_ms, sx_smp_event *ev)
{
    sx_error_clear();
    if (!c || !ev)
        return sx_error_set(SX_E_USAGE, NULL, "receive: no connection or no event");
    memset(ev, 0, sizeof *ev);
    while (c->head) {
        pending *p = c->head;
        c->head = p->next;
        if (!c->head)
            c->tail = NULL;
        bool used;
        sx_status st = to_event(c, &p->r, ev, &used);
        sx_smp_client_reply_free(&p->r);
        free(p);
        if (st != SX_OK || used)
            return st;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t start = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    for (;;) {
        int wait = timeout_ms;
        if (timeout_ms >= 0) {
            clock_gettime(CLOCK_MONOTONIC, &ts);
            int64_t spent = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - start;
            if (spent >= timeout_ms)
                return SX_OK; /* SX_SMP_EVENT_NONE */
            wait = (int)(timeout_ms - spent);
        }
        sx_smp_client_reply r;
        sx_status st = sx_smp_client_next_event(c->cl, wait, &r);
        if (st == SX_E_WOULD_BLOCK)
            return SX_OK;
        if (st != SX_OK)
            return net_error("receive", st);
        if (r.ok && r.reply.resp.tag == SX_SMP_R_ERR && find_sub(c, r.reply.t.entity_id)) {
            st = router_error("receive", &r.reply.resp.err);
            sx_smp_client_reply_free(&r);
            return st;
        }
        bool used;
        st = to_event(c, &r, ev, &used);
        sx_smp_client_reply_free(&r);
        if (st != SX_OK || used)
            return st;
    }
}

sx_status sx_smp_get(sx_smp_conn *c, sx_smp_queue *rcv, sx_smp_event *ev)
{
    sx_error_clear();
    if (!c || !ev)
        return sx_error_set(SX_E_USAGE, NULL, "get: no connection or no event");
    memset(ev, 0, sizeof *ev);
    SX_TRY(need_role(rcv, SX_QUEUE_RECIPIENT, "get"));
    sx_smp_cmd get = {.tag = SX_SMP_C_GET};
    sx_smp_client_reply r;
    SX_TRY(call(c, "get", rcv_id(rcv), &get, rcv->f.rcv_key, &r));
    sx_status st;
    if (r.ok && r.reply.resp.tag == SX_SMP_R_OK)
        st = SX_OK; /* empty */
    else if (r.ok && r.reply.resp.tag == SX_SMP_R_MSG)
        st = msg_event(c, rcv, &r, ev);
    else
        st = expect("get", &r, SX_SMP_R_MSG);
    sx_smp_client_reply_free(&r);
    return st;
}

sx_status sx_smp_ack(sx_smp_conn *c, sx_smp_queue *rcv, const sx_smp_event *ev)
{
    sx_error_clear();
    if (!c || !ev)
        return sx_error_set(SX_E_USAGE, NULL, "acknowledge: no connection or no event");
    SX_TRY(need_role(rcv, SX_QUEUE_RECIPIENT, "acknowledge"));
    if (ev->kind != SX_SMP_EVENT_MESSAGE && ev->kind != SX_SMP_EVENT_QUOTA && ev->kind != SX_SMP_EVENT_UNREADABLE)
        return sx_error_set(SX_E_USAGE, NULL, "acknowledge: the event is not a message");
    sx_smp_cmd ack = {.tag = SX_SMP_C_ACK};
    ack.msg_id = sx_slice_of(ev->msg_id, ev->msg_id_len);
    sx_smp_client_reply r;
    SX_TRY(call(c, "acknowledge", rcv_id(rcv), &ack, rcv->f.rcv_key, &r));
    if (r.ok && r.reply.resp.tag == SX_SMP_R_MSG) {
        /* The queue's next message answers the ACK of a subscribed queue. */
        pending *p = calloc(1, sizeof *p);
        if (!p) {
            sx_smp_client_reply_free(&r);
            return sx_error_set(SX_E_NOMEM, NULL, NULL);
        }
        p->r = r;
        if (c->tail)
            c->tail->next = p;
        else
            c->head = p;
        c->tail = p;
        return SX_OK;
    }
    sx_status st = expect("acknowledge", &r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    return st;
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
