/* The NTF router's subscriptions (PROTOCOL-NOTES G13, G14, G17, G22;
 * reference Notifications/Server.hs processCommand and the store's
 * subscription functions at 152c30ca68): the records by id, SNEW / SCHK /
 * SDEL effects and answers, the store log lines (SCREATE, SSTATUS, SDELETE)
 * and their replay, the statuses the SMP side reports, the deletion of a
 * token's subscriptions, and the last notification of each subscription
 * with the message payload built from a token's last ones. The transport
 * checks the token (exists, its key authorized the command, its status
 * allows subscriptions) before calling here. One mutex guards the store. */
#ifndef SX_NTF_ROUTER_SUBS_H
#define SX_NTF_ROUTER_SUBS_H

#include <stdbool.h>
#include <stdint.h>

#include "ntf/protocol.h"
#include "ntf_router/slrec.h"
#include "ntf_router/tokens.h"

#define SX_NTF_LAST_NTFS_MAX 6 /* notifications in one message push */

typedef struct sx_ntf_subs sx_ntf_subs;

SX_MUST_CHECK sx_status sx_ntf_subs_new(sx_ntf_subs **out);
void sx_ntf_subs_free(sx_ntf_subs *s);
void sx_ntf_subs_set_log(sx_ntf_subs *s, sx_ntf_log_fn fn, void *arg);
size_t sx_ntf_subs_count(sx_ntf_subs *s);
/* The last notifications kept (at most six per token): the reference's
 * lastNtfCount. */
size_t sx_ntf_subs_last_count(sx_ntf_subs *s);

typedef struct sx_ntf_sub_result {
    sx_ntf_resp resp; /* views into id */
    uint8_t id[SX_NTF_ID_LEN];
    bool subscribe;     /* SNEW made a new subscription: subscribe sub */
    bool unsubscribe;   /* SDEL removed sub */
    sx_ntf_sub_rec sub; /* the subscription concerned */
} sx_ntf_sub_result;

/* SNEW for token token_id (checked by the caller): the existing
 * subscription of the same queue answers its id when the notifier key is
 * the same (ERR AUTH otherwise, or when it belongs to another token); else
 * a new one (random id, status NEW), logged as SCREATE. SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_ntf_subs_snew(sx_ntf_subs *s, sx_slice token_id, const sx_ntf_cmd *cmd,
                                         sx_ntf_sub_result *out);
/* The token of subscription id (for the caller's checks); false if none. */
bool sx_ntf_subs_token_of(sx_ntf_subs *s, sx_slice id, sx_ntf_sl_bytes *token_id);
/* SCHK (SUB status) and SDEL (OK, logged as SDELETE) of subscription id;
 * ERR AUTH for an unknown id. */
SX_MUST_CHECK sx_status sx_ntf_subs_cmd(sx_ntf_subs *s, sx_slice id, const sx_ntf_cmd *cmd, sx_ntf_sub_result *out);
/* Sets a status (err: the ERR text), logged as SSTATUS when it changes;
 * false when there is no such subscription. */
bool sx_ntf_subs_set_status(sx_ntf_subs *s, sx_slice id, sx_ntf_sub_status st, sx_slice err);
/* ACTIVE after an NSUB, with whether the SMP router associated the queue
 * with the notifier service (the reference's ntf_service_assoc; the store
 * log's SSTATUS ... service=T), logged when either changed. */
bool sx_ntf_subs_set_active(sx_ntf_subs *s, sx_slice id, bool service_assoc);
/* Removes the token's subscriptions (TDEL; not logged: replaying TDELETE
 * does the same), calling fn with each before it goes. */
size_t sx_ntf_subs_delete_token(sx_ntf_subs *s, sx_slice token_id, void (*fn)(void *arg, const sx_ntf_sub_rec *r),
                                void *arg);
/* Calls fn with every subscription (under the lock: fn must not call back). */
void sx_ntf_subs_each(sx_ntf_subs *s, void (*fn)(void *arg, const sx_ntf_sub_rec *r), void *arg);

/* An NMSG for subscription id at ts (seconds): kept as its last
 * notification; *token_id gets its token and payload the message push's
 * payload (PROTOCOL-NOTES G22): the token's last notifications, newest
 * SX_NTF_LAST_NTFS_MAX, oldest first, ';'-separated, each
 * "<smp address>/<b64 notifier id> <ts> <b64 nonce> <b64 meta>". false when
 * there is no such subscription (or the payload does not fit). */
bool sx_ntf_subs_notification(sx_ntf_subs *s, sx_slice id, int64_t ts, const uint8_t nonce[24], sx_slice meta,
                              sx_ntf_sl_bytes *token_id, sx_writer *payload);
/* Called after each notification kept by sx_ntf_subs_notification (outside
 * the store's lock, before it returns) with that notification as a last
 * notification record: the PostgreSQL store writes it (pgstore.h). */
typedef void (*sx_ntf_last_fn)(void *arg, const sx_ntf_sl_last *l);
void sx_ntf_subs_set_last_hook(sx_ntf_subs *s, sx_ntf_last_fn fn, void *arg);

/* Applies a store log record: SCREATE, SSTATUS, SDELETE, and TDELETE (the
 * token's subscriptions go); others are ignored. Not logged. */
SX_MUST_CHECK sx_status sx_ntf_subs_apply(sx_ntf_subs *s, const sx_ntf_sl_rec *r);
/* Calls fn with an SCREATE line for every subscription (the compacted log). */
SX_MUST_CHECK sx_status sx_ntf_subs_write_all(sx_ntf_subs *s, sx_ntf_log_fn fn, void *arg);

/* The last notifications across restarts (ntf-server-last-notifications.log,
 * slrec.h sx_ntf_sl_last): fn gets a "v1 ..." line for each subscription
 * that had a notification, oldest first; restore applies one read back to
 * the subscription of that queue and token (false when there is none, as
 * after its SDEL). */
SX_MUST_CHECK sx_status sx_ntf_subs_write_last(sx_ntf_subs *s, sx_ntf_log_fn fn, void *arg);
bool sx_ntf_subs_restore_last(sx_ntf_subs *s, const sx_ntf_sl_last *l);

/* The text of an SMPQueueNtf's server, smp://<b64 key hash>@<hosts>[:port],
 * parsed into out. SX_E_PROTOCOL when it does not make an address. */
SX_MUST_CHECK sx_status sx_ntf_subs_server_text(const sx_smp_server *srv, sx_server_address *out);

#endif
