/* Internal to the public SMP API (src/smp_client/smp_api*.c): what the blocking
 * and the event-loop flavours share. Functions set the per-thread error
 * detail (core/error.h) when they fail. */
#ifndef SX_CLIENT_SMP_API_INT_H
#define SX_CLIENT_SMP_API_INT_H

#include "simplex/smp.h"

#include "smp_client/queue_file.h"
#include "smp_client/smp_client.h"

struct sx_smp_queue {
    sx_queue_file f;
};

/* The router's ERR answer to `what` as a status and detail. */
sx_status sx_smpapi_router_error(const char *what, const sx_smp_error *e);
/* SX_OK when r is the response `tag`; otherwise records why not. */
sx_status sx_smpapi_expect(const char *what, const sx_smp_client_reply *r, sx_smp_resp_tag tag);
/* A failed exchange with the router (timeout, closed, ...) as detail. */
sx_status sx_smpapi_net_error(const char *what, sx_status st);
/* Parses the address a connection is made to and keeps its text in server.
 * SX_E_USAGE with detail when it does not parse (the detail does not
 * repeat a password). */
sx_status sx_smpapi_parse_server(const char *text, sx_smp_address *addr, char server[SX_QUEUE_ADDR_MAX]);
/* Records why connecting to host (addr's, as sx_smpapi_route chose it)
 * failed with st. Returns st. */
sx_status sx_smpapi_connect_error(const sx_smp_address *addr, const char *host, sx_status st);
/* How to reach the router at addr with opts (the blocking, event-loop and
 * pool connects share it): the host chosen by opts' host mode (*host,
 * pointing into addr), and whether the connection goes through opts'
 * SOCKS proxy (*use; route filled then), isolated by the username of a
 * session that started at session_ns (ns since 1970). Errors, with the
 * error set: SX_E_USAGE when socks_proxy does not parse, or code "HOST"
 * when required_host_mode finds no host of the mode's kind. */
sx_status sx_smpapi_route(const sx_smp_conn_opts *opts, const sx_smp_address *addr, int64_t session_ns,
                          const char **host, sx_socks_route *route, bool *use);
/* Now, in ns since 1970 (a session's start). */
int64_t sx_smpapi_now_ns(void);
/* SX_E_USAGE unless q is a side of the given role. */
sx_status sx_smpapi_need_role(const sx_smp_queue *q, sx_queue_role role, const char *what);
sx_slice sx_smpapi_rcv_id(const sx_smp_queue *q);
sx_smp_queue *sx_smpapi_queue_new(void);

/* Creating a queue: begin makes the keys and the NEW command (which points
 * into n and addr: keep both until it is sent); finish reads the router's
 * answer (*created: the router holds a queue, to delete when finish fails).
 * take hands the queue over; cleanup frees whatever is left. */
typedef struct sx_smpapi_new {
    sx_smp_queue *q;
    sx_key *rdh;
    uint8_t b1[SX_KEY_SPKI_MAX], b2[SX_KEY_SPKI_MAX];
    sx_smp_cmd cmd;
} sx_smpapi_new;
sx_status sx_smpapi_new_begin(const sx_smp_address *addr, sx_smpapi_new *n);
sx_status sx_smpapi_new_finish(sx_smpapi_new *n, const sx_smp_client_reply *r, const char *server, bool *created);
sx_smp_queue *sx_smpapi_new_take(sx_smpapi_new *n);
void sx_smpapi_new_cleanup(sx_smpapi_new *n);

/* NEW from sx_smp_new_opts: after sx_smpapi_new_begin, sets the queue mode,
 * the link data with the client's sender id (from x->corr: o->corr_id or a
 * random one) and the notifier's keys (made here) in n->cmd, whose slices
 * then point into x, fixed and user (kept by the caller until NEW is
 * sent). */
typedef struct sx_smpapi_new_x {
    bool contact, has_link, notifier, subscribe;
    uint8_t corr[SX_SMP_CORR_ID_LEN]; /* the corrId NEW must go with (has_link) */
    uint8_t snd_id[SX_QUEUE_ID_LEN];
    uint8_t link_id[SX_QUEUE_ID_LEN];
    sx_key *nkey, *ndh;
    uint8_t nb1[SX_KEY_SPKI_MAX], nb2[SX_KEY_SPKI_MAX];
} sx_smpapi_new_x;
sx_status sx_smpapi_new_ext(sx_smpapi_new *n, const sx_smp_new_opts *o, sx_slice fixed, sx_slice user,
                            sx_smpapi_new_x *x);
/* The SMP version these options need. */
unsigned sx_smpapi_new_min_version(const sx_smpapi_new_x *x);
/* After sx_smpapi_new_finish: the rest of IDS into c (not c->queue),
 * checking that the router took the client's sender id and kept the link
 * data and the notifier asked for. */
sx_status sx_smpapi_new_created(const sx_smpapi_new_x *x, const sx_smp_ids *ids, sx_smp_created *c);
void sx_smpapi_new_x_cleanup(sx_smpapi_new_x *x);
/* A notifier's credentials from the router's notifier id and DH key (NID,
 * or IDS) and this client's keys. */
sx_status sx_smpapi_ntf_creds(const char *what, const sx_key *nkey, const sx_key *ndh, sx_slice nid,
                              const sx_smp_pubkey *srv_dh, sx_smp_ntf_creds *out);
/* Makes the notifier's keys (Ed25519, X25519). */
sx_status sx_smpapi_ntf_keys(const char *what, sx_key **nkey, sx_key **ndh);
/* LNK (the answer to LKEY, LGET) as a link with copies of its data. */
sx_status sx_smpapi_link_of(const char *what, const sx_smp_client_reply *r, sx_smp_link *l);

/* SKEY: checks the version, makes the sender's key when it has none
 * (*had_key tells) and fills cmd (its key encoded into buf). */
sx_status sx_smpapi_secure_begin(sx_smp_queue *snd, unsigned version, uint8_t buf[SX_KEY_SPKI_MAX], sx_smp_cmd *cmd,
                                 bool *had_key);
sx_status sx_smpapi_secure_answer(const sx_smp_client_reply *r, bool had_key);
/* SEND: checks the length against the version's limit and fills cmd (which
 * points to body). */
sx_status sx_smpapi_send_begin(unsigned version, const void *body, size_t len, sx_smp_cmd *cmd);
sx_status sx_smpapi_send_answer(const sx_smp_client_reply *r, const sx_smp_queue *snd);

/* The recipient sides subscribed on one connection (borrowed pointers). */
typedef struct sx_smpapi_subs {
    sx_smp_queue **v;
    size_t n, cap;
} sx_smpapi_subs;
sx_smp_queue *sx_smpapi_subs_find(const sx_smpapi_subs *s, sx_slice rcv_id);
sx_status sx_smpapi_subs_add(sx_smpapi_subs *s, sx_smp_queue *q);
void sx_smpapi_subs_remove(sx_smpapi_subs *s, const sx_smp_queue *q);
void sx_smpapi_subs_cleanup(sx_smpapi_subs *s);

/* The event a transmission from the router makes for a subscribed queue
 * (MSG, END, DELD); *used false when it is none (the caller drops it). END
 * and DELD end the queue's subscription: it leaves s. */
sx_status sx_smpapi_reply_event(sx_smpapi_subs *s, const sx_smp_client_reply *r, sx_smp_event *ev,
                                bool *used);

/* A MSG transmission for q as an event (decrypted; UNREADABLE when it does
 * not open). */
sx_status sx_smpapi_msg_event(sx_smp_queue *q, const sx_smp_client_reply *r, sx_smp_event *ev);

/* ---- the blocking connection's parts for smp_api_proxy.c ---- */

/* Proxy sessions opened through one connection, by destination. */
typedef struct sx_smpapi_proxied sx_smpapi_proxied;
void sx_smpapi_proxied_free(sx_smpapi_proxied *list);
/* The destination of a sender side (its router's address without a
 * password). */
sx_status sx_smpapi_dest_of(const sx_smp_queue *snd, const char *what, sx_smp_address *dest);
/* The session to dest in list, or NULL; add takes rs (its key) over. */
const struct sx_smp_relay_session *sx_smpapi_proxied_find(sx_smpapi_proxied *list, const sx_smp_address *dest);
sx_status sx_smpapi_proxied_add(sx_smpapi_proxied **list, const sx_smp_address *dest,
                                struct sx_smp_relay_session *rs);
void sx_smpapi_proxied_forget(sx_smpapi_proxied **list, const sx_smp_address *dest);
/* Why a PKEY was not accepted (SX_E_AUTH identity, SX_E_PROTOCOL version). */
sx_status sx_smpapi_pkey_error(const char *what, sx_status st);
/* The proxy's answer is PROXY NO_SESSION. */
bool sx_smpapi_is_no_session(const sx_smp_client_reply *r);
sx_smp_client *sx_smpapi_conn_client(sx_smp_conn *c);
const sx_smp_address *sx_smpapi_conn_address(const sx_smp_conn *c);
sx_smpapi_proxied **sx_smpapi_conn_proxied(sx_smp_conn *c);
/* The same for the event-loop connection (smp_api_loop_proxy.c). */
struct sx_smp_aclient *sx_smpapi_aconn_client(sx_smp_aconn *c);
const sx_smp_address *sx_smpapi_aconn_address(const sx_smp_aconn *c);
sx_smpapi_proxied **sx_smpapi_aconn_proxied(sx_smp_aconn *c);
bool sx_smpapi_aconn_usable(const sx_smp_aconn *c);

/* One proxied send or secure on any event-loop client cl to a proxy router
 * (address proxy, for its password), with list the sessions opened through
 * cl (smp_api_loop_proxy.c). done gets the outcome, and whether the proxy
 * said it cannot use the destination's hosts or versions (the reference's
 * serverHostError, after which a direct send may be allowed). body is
 * copied; snd must stay valid until done. An error returned here has no
 * callback. */
typedef void (*sx_smpapi_proxy_done_fn)(sx_status st, bool host_error, void *arg);
sx_status sx_smpapi_proxy_op(struct sx_smp_aclient *cl, sx_smpapi_proxied **list, const sx_smp_address *proxy,
                             bool secure, bool notify, sx_smp_queue *snd, const void *body, size_t len,
                             sx_smpapi_proxy_done_fn done, void *arg);
/* The same for LKEY (lkey: signed with snd's key, made first if missing)
 * or LGET (unsigned) of link_id on snd's router (for LGET snd only names
 * the router); the answer's link data goes to *out before done. */
sx_status sx_smpapi_proxy_link_op(struct sx_smp_aclient *cl, sx_smpapi_proxied **list, const sx_smp_address *proxy,
                                  sx_smp_queue *snd, bool lkey, const uint8_t link_id[SX_QUEUE_ID_LEN],
                                  sx_smp_link *out, sx_smpapi_proxy_done_fn done, void *arg);

#endif
