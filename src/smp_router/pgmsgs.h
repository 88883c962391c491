/* The queue store's messages in PostgreSQL (store_messages: database): a
 * message back-end (store.h) over the reference's messages table and the
 * functions of its schema (write_message, try_del_msg,
 * delete_expired_msgs), so that the rows are the reference's and either
 * router reads the other's. Every write is committed before the call
 * returns: a message a sender was told OK for survives kill -9.
 * q->n_msgs is the queue's msg_queue_size from the start (pgqueues.h
 * loads it) and follows the writes and reads, so that expiry skips the
 * queues it says are empty. */
#ifndef SX_ROUTER_PGMSGS_H
#define SX_ROUTER_PGMSGS_H

#include "smp_router/pgschema.h"
#include "smp_router/store.h"

/* Messages of s go to db (which must outlive s; closing s does not close
 * db). */
void sx_store_use_pg_messages(sx_store *s, sx_pgdb *db);

/* Every stored message in queue order (database export): fn for each,
 * with the queue's recipient id. Rows that do not decode are counted in
 * *bad. A callback returning false stops with SX_E_USAGE. SX_E_IO. */
typedef bool (*sx_pgmsgs_fn)(void *arg, const uint8_t rid[SX_ID_LEN], const sx_msg *m);
SX_MUST_CHECK sx_status sx_pgmsgs_each(sx_pgdb *db, sx_pgmsgs_fn fn, void *arg, size_t *bad);
/* Adds one message to a queue's end as it is (database import); then
 * sx_pgmsgs_fix_counts. */
SX_MUST_CHECK sx_status sx_pgmsgs_insert(sx_pgconn *c, const uint8_t rid[SX_ID_LEN], const sx_msg *m);
/* Sets every queue's message counters from its messages. */
SX_MUST_CHECK sx_status sx_pgmsgs_fix_counts(sx_pgconn *c);

#endif
