/* The NTF router's tokens (PROTOCOL-NOTES G7-G12; reference
 * Notifications/Server.hs processCommand at 152c30ca68): the token records
 * by id, the token commands' effects and answers, the store log lines each
 * change writes, and the replay of those lines at start. The transport
 * decodes and verifies a command (TNEW with its own verify key, the others
 * with the token's, sx_ntf_tokens_verify_key) before calling here; pushes
 * are left to the caller, which gets what to push in the result. One mutex
 * guards the store: any thread may call. */
#ifndef SX_NTF_ROUTER_TOKENS_H
#define SX_NTF_ROUTER_TOKENS_H

#include <stdbool.h>
#include <stdint.h>

#include "ntf/protocol.h"
#include "ntf_router/slrec.h"

typedef struct sx_ntf_tokens sx_ntf_tokens;

/* Receives each store log line (without its newline) as a change is made,
 * under the store's lock. */
typedef void (*sx_ntf_log_fn)(void *arg, sx_slice line);

SX_MUST_CHECK sx_status sx_ntf_tokens_new(sx_ntf_tokens **out);
void sx_ntf_tokens_free(sx_ntf_tokens *t);
void sx_ntf_tokens_set_log(sx_ntf_tokens *t, sx_ntf_log_fn fn, void *arg);
size_t sx_ntf_tokens_count(sx_ntf_tokens *t);

/* What a token command answers, and the verification push it asks for. */
typedef struct sx_ntf_tkn_result {
    sx_ntf_resp resp; /* views into the buffers below */
    uint8_t id[SX_NTF_ID_LEN];
    uint8_t dh_pub[SX_KEY_SPKI_MAX];
    bool push_verification;
    bool created;         /* TNEW made a new token */
    sx_ntf_tkn_rec token; /* the token to push to, with its registration code */
} sx_ntf_tkn_result;

/* TNEW (PROTOCOL-NOTES G7): a new token (random id, X25519 key pair, registration code,
 * status REGISTERED, updated at `today`), or, for a registration of the same
 * device token and verify key, the same id and key when the DH secret is the
 * same (ERR AUTH otherwise; REGISTERED again unless TVFY is allowed). Both
 * ask for a verification push. SX_E_NOMEM / SX_E_INTERNAL. */
SX_MUST_CHECK sx_status sx_ntf_tokens_tnew(sx_ntf_tokens *t, const sx_ntf_cmd *cmd, int64_t today,
                                           sx_ntf_tkn_result *out);
/* TVFY, TCHK, TRPL, TDEL, TCRN (PROTOCOL-NOTES G8-G12) on the token `id`; ERR AUTH for an
 * unknown id. */
SX_MUST_CHECK sx_status sx_ntf_tokens_cmd(sx_ntf_tokens *t, sx_slice id, const sx_ntf_cmd *cmd,
                                          sx_ntf_tkn_result *out);
/* The verify key DER of token `id` into buf (cap >= SX_KEY_SPKI_MAX); false
 * when there is no such token. */
bool sx_ntf_tokens_verify_key(sx_ntf_tokens *t, sx_slice id, uint8_t *buf, size_t cap, size_t *len);
/* A copy of token `id`'s record; false when there is none. */
bool sx_ntf_tokens_get(sx_ntf_tokens *t, sx_slice id, sx_ntf_tkn_rec *out);
/* Sets token `id`'s state (after a push: CONFIRMED, INVALID,<reason>),
 * logged as TSTATUS; false when there is no such token. */
bool sx_ntf_tokens_set_status(sx_ntf_tokens *t, sx_slice id, sx_ntf_tkn_state s);

/* After a delivered verification push: CONFIRMED unless the token is
 * CONFIRMED or ACTIVE already (the reference's setTknStatusConfirmed),
 * logged as TSTATUS; false when there is no such token. */
bool sx_ntf_tokens_confirm(sx_ntf_tokens *t, sx_slice id);
/* Calls fn (under the store's lock: fn must not call back into t) with each
 * ACTIVE token whose periodic interval (cron minutes) has passed since its
 * last periodic push, as the reference's withPeriodicNtfTokens; returns how
 * many. A token that never had one is due at once (the reference's query
 * compares with a NULL cron_sent_at and so never sends it: see docs/NTF.md). */
size_t sx_ntf_tokens_due_cron(sx_ntf_tokens *t, int64_t now, void (*fn)(void *arg, const sx_ntf_tkn_rec *r),
                              void *arg);
/* Records a delivered periodic push (cron_sent_at = now). */
void sx_ntf_tokens_cron_sent(sx_ntf_tokens *t, sx_slice id, int64_t now);

/* Applies one store log record of a token (TCREATE, TSTATUS, TUPDATE,
 * TCRON, TDELETE, TTIME; others are ignored) as the reference's replay
 * does: records of unknown tokens are skipped. Not logged. */
SX_MUST_CHECK sx_status sx_ntf_tokens_apply(sx_ntf_tokens *t, const sx_ntf_sl_rec *r);
/* Calls fn with a TCREATE line for every token (the compacted log). */
SX_MUST_CHECK sx_status sx_ntf_tokens_write_all(sx_ntf_tokens *t, sx_ntf_log_fn fn, void *arg);

#endif
