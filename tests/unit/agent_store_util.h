/* Helpers of the agent store tests: temporary folders, raw SQLite looks at
 * the file, a pair of real ratchets, and the send and receive callbacks the
 * agent core would give the store. */
#ifndef SX_TEST_AGENT_STORE_UTIL_H
#define SX_TEST_AGENT_STORE_UTIL_H

#include <stdint.h>

#include "agent/store.h"

/* The group's fixtures: the crypto library, and a new folder under TMPDIR
 * for the test files (removed at the end). */
int asu_setup(void **state);
int asu_teardown(void **state);
/* A path in that folder (heap), with no file there. */
char *asu_fresh(const char *name);

/* One integer from SQL run on the file through its own connection. */
int64_t asu_sql_int(const char *path, const char *sql);
/* Runs SQL on the file through its own connection; fails the test on error. */
void asu_sql_exec(const char *path, const char *sql);

/* A receiving (alice, the initiator) and a sending (bob) ratchet that match. */
void asu_ratchet_pair(sx_ratchet *alice, sx_ratchet *bob);
/* The storage encoding of r (with skipped keys), heap. */
uint8_t *asu_ratchet_bytes(const sx_ratchet *r, size_t *len);

/* A user and a connection with a user of its own. */
void asu_conn(sx_agent_store *s, sx_agent_conn_state state, int64_t *user, sx_agent_id *id);
/* A router and a send queue (and its id) on conn. */
int64_t asu_snd_queue(sx_agent_store *s, const sx_agent_id *conn, uint8_t tag);
int64_t asu_rcv_queue(sx_agent_store *s, const sx_agent_id *conn, uint8_t tag);

/* The send callback: encrypts text's header under r; the ciphertext of the
 * whole message goes to out (cap bytes; *out_len). fail makes it fail after
 * advancing the ratchet (to test the rollback). */
typedef struct asu_snd_ctx {
    const char *text;
    bool fail;
    uint8_t *out;
    size_t cap;
    size_t out_len;
    sx_agent_snd_ids seen;
} asu_snd_ctx;
sx_status asu_snd_cb(void *ctx, const sx_agent_snd_ids *ids, sx_ratchet *r, sx_agent_snd_msg *msg);

/* The receive callback: decrypts msg (wire bytes) under r. */
typedef struct asu_rcv_ctx {
    const uint8_t *wire;
    size_t wire_len;
    int64_t rcv_queue_id;
    uint8_t broker_id[24];
    uint8_t plain[4096];
    sx_agent_rcv_prev seen;
    sx_ratchet_error err;
} asu_rcv_ctx;
sx_status asu_rcv_cb(void *ctx, const sx_agent_rcv_prev *prev, sx_ratchet *r, sx_agent_rcv_msg *msg);

#define ASU_PAD 256

#endif
