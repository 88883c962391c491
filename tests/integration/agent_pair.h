/* Two agents over the test's router (agent_pair.c). */
#ifndef SX_TEST_AGENT_PAIR_H
#define SX_TEST_AGENT_PAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "simplex/agent.h"

#define WAIT_MS 60000

/* The test's folder for the store files. */
extern char DIR_[64];

void db_path(char *out, size_t cap, const char *name);
/* An agent with the store <DIR_>/<name>.db and short network retries. */
sx_agent *open_agent(const char *name, bool pq_off);
/* The same with opts (the short retries set over them). */
sx_agent *open_agent_opts(const char *name, const sx_agent_opts *opts);
/* The next event other than UP and DOWN; ERR and MERR fail the test. */
void next_ev(sx_agent *a, sx_agent_event *ev);
/* The next event must be kind, of conn. */
void expect(sx_agent *a, sx_agent_event_kind kind, const char *conn, sx_agent_event *ev);
void expect_body(const sx_agent_event *ev, const char *text);
/* alice invites, bob joins; the event sequence of the reference's
 * runAgentClientTest for the fast handshake. */
void connect_pair(sx_agent *alice, sx_agent *bob, char *bob_id, char *alice_id, bool pq);
void send_expect_sent(sx_agent *a, const char *conn, const char *text, int64_t id);
void expect_sent(sx_agent *a, const char *conn, int64_t id);
/* MSG with text and id, acknowledged; pq: 0 or 1, or -1 for a message
 * shown again from the store (no flag kept). */
void expect_msg(sx_agent *a, const char *conn, const char *text, int64_t id, int pq);
/* One number from the store file <name>.db: the first column of the first
 * row of sql (read-only, beside the agent that has it open). */
long long db_count(const char *name, const char *sql);
/* How many connections the agent's store lists. */
size_t conn_count(sx_agent *a);
/* cmocka setup / teardown: a new folder and router, both removed. */
int pair_setup(void **state);
int pair_teardown(void **state);

#endif
