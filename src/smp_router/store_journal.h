/* The queue store's messages on the journal message store
 * (store_messages: journal): a message back-end (store.h) over jstore.h,
 * so that push, head, remove and expire read and write the queue's journal
 * folder instead of the in-memory list, and deleting a queue removes its
 * folder. Queue records stay in memory with the store log, as the
 * reference pairs them. q->n_msgs follows the queue's size once its head
 * was read in this run (before, a queue counts 0). */
#ifndef SX_ROUTER_STORE_JOURNAL_H
#define SX_ROUTER_STORE_JOURNAL_H

#include "smp_router/jstore.h"
#include "smp_router/store.h"

/* Hands js to the store (closed by sx_store_free). */
void sx_store_use_journal(sx_store *s, sx_jstore *js);

#endif
