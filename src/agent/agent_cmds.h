/* The agent's persisted asynchronous commands (agent_cmds.c; docs/AGENT.md,
 * "Commands and crashes"): the network steps of a handshake after its first
 * durable write, stored as a row of `commands` in the transaction that
 * stores their keys, run once in the caller's call, retried with back-off by
 * the sender thread while the router cannot be reached, and resumed when the
 * store is opened after a crash. Every function here runs with a->mu held.
 * The agent object's calls (resume at open, the sender thread's retries,
 * close) are declared in agent_int.h. */
#ifndef SX_AGENT_AGENT_CMDS_H
#define SX_AGENT_AGENT_CMDS_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/agent_int.h"

/* The command tags. */
#define SX_AGENT_CMD_JOIN "JOIN"     /* SKEY, the reply queue, the confirmation */
#define SX_AGENT_CMD_ALLOW "ALLOW"   /* KEY (legacy), SKEY, our connection info */
#define SX_AGENT_CMD_CONTACT "CJOIN" /* the requester's queue, its invitation sent */
#define SX_AGENT_CMD_HELLO "KEYH"    /* the legacy joiner's KEY, then its HELLO */
#define SX_AGENT_CMD_NEW "NEWI"      /* an asynchronous invitation's queue, then INV */
#define SX_AGENT_CMD_ACK "ACKM"      /* an asynchronous ack of a received message */
#define SX_AGENT_CMD_QDEL "RDEL"     /* DEL of a deleted connection's queue again */

/* Stores the body w (consumed) as a command tag of conn in the caller's
 * open transaction, held by this process; *command_id its row. */
SX_MUST_CHECK sx_status sx_agent_cmd_store(sx_agent *a, const sx_agent_id *conn, const char *tag,
                                           sx_writer *w, int64_t *command_id);

/* The JOIN command of a joiner whose send queue sqid and ratchet are being
 * stored in the caller's open transaction: stored (held by this process),
 * *command_id its row. fast: SKEY the send queue; server: the router of
 * our reply queue; pub: our e2e parameters for the confirmation. */
SX_MUST_CHECK sx_status sx_agent_cmd_join_store(sx_agent *a, const sx_agent_id *conn, int64_t sqid,
                                                uint16_t smpc_v, bool fast, const char *server,
                                                const sx_e2e_params *pub, sx_slice info,
                                                int64_t *command_id);
/* The ALLOW command of an initiator whose send queue sqid is being stored
 * in the caller's open transaction. sender_key: the joiner's key for our
 * KEY (legacy handshake), empty otherwise. */
SX_MUST_CHECK sx_status sx_agent_cmd_allow_store(sx_agent *a, const sx_agent_id *conn,
                                                 int64_t sqid, bool fast, sx_slice sender_key,
                                                 sx_slice info, int64_t *command_id);
/* The KEYH command of a legacy joiner whose inviter's confirmation (with
 * the inviter's sender key for our receiving queue rqid) is being stored
 * in the caller's open transaction. */
SX_MUST_CHECK sx_status sx_agent_cmd_hello_store(sx_agent *a, const sx_agent_id *conn,
                                                 int64_t rqid, sx_slice sender_key,
                                                 int64_t *command_id);
/* The address of our receiving queue row as its sender will use it. */
SX_MUST_CHECK sx_status sx_agent_rq_address(sx_agent *a, const sx_agent_rcv_queue *row,
                                            sx_agent_queue *qa);
/* Runs the CJOIN command c (agent_contact.c): SX_OK when done. */
SX_MUST_CHECK sx_status sx_agent_contact_run(sx_agent *a, const sx_agent_command *c);
/* Runs the NEWI command c (agent_async.c): SX_OK when done (INV emitted). */
SX_MUST_CHECK sx_status sx_agent_async_run_new(sx_agent *a, const sx_agent_command *c);
/* SX_OK for a correlation id of 1..SX_AGENT_CORR_ID_MAX bytes, SX_E_USAGE
 * otherwise (agent_async.c). */
SX_MUST_CHECK sx_status sx_agent_corr_check(const char *corr_id);
/* Takes the prepared connection id (sx_agent_prepare_join) for a join with
 * these versions: SX_E_USAGE when it is no prepared connection or was
 * joined already (agent_async.c). */
SX_MUST_CHECK sx_status sx_agent_prepared_take(sx_agent *a, const sx_agent_id *id,
                                               uint16_t agent_v, bool pq);
/* sx_agent_join_invitation into the prepared connection id. */
SX_MUST_CHECK sx_status sx_agent_join_invitation_prepared(sx_agent *a,
                                                          const sx_agent_connreq *cr,
                                                          const char *server, sx_slice info,
                                                          const sx_agent_id *id);
/* Runs the ACKM command c (agent_async.c). */
SX_MUST_CHECK sx_status sx_agent_async_run_ack(sx_agent *a, const sx_agent_command *c);
/* Forgets a held command whose row the caller's transaction did not keep
 * (rolled back). */
void sx_agent_cmd_drop(sx_agent *a, int64_t command_id);
/* Ends the caller's transaction that stored command cmd (0: none): commit
 * when st is SX_OK, else roll back; on any failure the held command is
 * forgotten. Returns the outcome. */
SX_MUST_CHECK sx_status sx_agent_cmd_tx_end(sx_agent *a, sx_status st, int64_t cmd);
/* Runs a command just stored (after the commit) in the caller's call: SX_OK
 * when it is done or will be retried (the router cannot be reached), the
 * error when it failed for good (the command is then dropped; a JOIN is
 * parked for sx_agent_cmd_join_again). */
SX_MUST_CHECK sx_status sx_agent_cmd_run_now(sx_agent *a, int64_t command_id);
/* The application joins the link of conn again (the reference's repeated
 * joinConnection after an error): its JOIN command, held and waiting for a
 * retry, is tried now; parked after failing for good, it is stored again
 * with server (NULL: the one stored) and info and run, with the keys and
 * ratchet of the first join (the inviter's queue may be secured with them
 * already: new keys would be refused). *had false when conn has no JOIN
 * command (the join was done). Returns as sx_agent_cmd_run_now. */
SX_MUST_CHECK sx_status sx_agent_cmd_join_again(sx_agent *a, const sx_agent_id *conn,
                                                const char *server, sx_slice info, bool *had);
/* The same for a contact address joined again (the CJOIN command of conn,
 * the requester's connection): its queue, keys and invitation are those of
 * the first attempt; server is used only when the queue was not made yet. */
SX_MUST_CHECK sx_status sx_agent_cmd_contact_again(sx_agent *a, const sx_agent_id *conn,
                                                   const char *server, sx_slice info, bool *had);
/* A parked CJOIN's body with server (NULL: the stored one) and info
 * replaced (agent_contact.c). */
SX_MUST_CHECK sx_status sx_agent_contact_body_again(sx_slice body, const char *server,
                                                    sx_slice info, sx_writer *w);
/* The first try of a command just stored waits for the back-off's first
 * interval (its step failed just now in the caller). */
void sx_agent_cmd_defer(sx_agent *a, int64_t command_id);
/* Replaces a held command's body, in the store and in memory. */
SX_MUST_CHECK sx_status sx_agent_cmd_set_body(sx_agent *a, int64_t command_id, sx_slice body);
/* Runs the QDEL command c (agent_qdel.c). */
SX_MUST_CHECK sx_status sx_agent_qdel_run(sx_agent *a, const sx_agent_command *c);
/* A test hook: when the environment variable SX_AGENT_CRASH_AT names this
 * point, the process ends at once (_exit, as a kill -9 would leave the
 * store). One getenv per call; the points are on the handshake's steps. */
void sx_agent_crash_point(const char *name);

#endif
