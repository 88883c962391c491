/* Helpers of the service tests (test_services.c, test_services_move.c): an
 * in-process router with a store log, service certificate chains in files,
 * clients over loopback TLS, queues and the commands the tests send. */
#ifndef SX_TEST_SERVICES_ENV_H
#define SX_TEST_SERVICES_ENV_H

#include "testutil.h"

#include "crypto/keys.h"
#include "smp_client/smp_client.h"
#include "smp_router/server.h"

#define WAIT_MS 20000

typedef struct env {
    sx_router_opts o;
    sx_router *r;
    char dir[64];
    char slog[128];
    char metrics[128]; /* the Prometheus file, written every second */
    char crt[1024], ca[1024], key[1024];
    uint8_t fp[SX_FINGERPRINT_LEN];
} env;

/* A service chain in files: <name>.crt (leaf), <name>-ca.crt, <name>.key. The
 * leaf is signed by signer_key when given (a broken chain), else by the CA. */
typedef struct chain_files {
    char crt[160], ca[160], key[160];
} chain_files;

/* A queue with a notifier, created by an ordinary client. */
typedef struct tq {
    sx_key *rkey, *rdh, *nkey, *ndh;
    uint8_t rid[24], sid[24], nid[24];
} tq;

extern const uint8_t zero_hash[16];

void make_chain(const env *e, const char *name, bool broken, chain_files *out);
/* A chain of one self-signed certificate: it is its own identity. */
void make_single(const env *e, const char *name, chain_files *out);
void env_init(env *e);
void env_restart(env *e);
void env_done(env *e);
sx_smp_client *plain_connect(env *e);
sx_status svc_connect(env *e, const chain_files *ch, sx_smp_service_role role, const sx_key *svc_key,
                      sx_smp_client **out, sx_transport_error *te);
/* Connects the service and returns its id in id[24]. */
sx_smp_client *svc_connect_role(env *e, const chain_files *ch, sx_smp_service_role role,
                                const sx_key *svc_key, uint8_t id[24]);
sx_smp_client *svc_connect_ok(env *e, const chain_files *ch, const sx_key *svc_key, uint8_t id[24]);
sx_key *gen(sx_key_alg alg);
sx_smp_pubkey pub_of(const sx_key *k, uint8_t *buf);
void tq_create(sx_smp_client *cl, tq *q);
void tq_free(tq *q);
/* The answer's tag; for ERR, *err (may be NULL) gets the error. */
sx_smp_resp_tag call(sx_smp_client *cl, sx_slice entity, const sx_smp_cmd *c, const sx_key *k,
                     sx_smp_client_reply *keep, sx_smp_error *err);
void nsub(sx_smp_client *cl, const tq *q, bool expect_id, const uint8_t id[24]);
/* The XOR of the MD5 of the queues' notifier ids. */
void ids_hash(tq *const *qs, size_t n, uint8_t out[16]);
/* NSUBS as the service: the count, and the hash checked against the queues'
 * notifier ids. */
void nsubs_expect(sx_smp_client *cl, const uint8_t id[24], const sx_key *svc_key, tq *const *qs, size_t n);
/* Lines of the file that start with word, or (anywhere) hold it. */
/* The value of a metric in the router's file (-1: not there yet). */
long long metric(const env *e, const char *name);
/* Waits (up to WAIT_MS) until the metric is at least want; its value then. */
long long metric_reach(const env *e, const char *name, long long want);
size_t count_lines(const char *path, const char *word, bool anywhere);
void expect_nmsg(sx_smp_client *cl, const tq *q);
void send_msg(env *e, const tq *q);
void rid_hash(tq *const *qs, size_t n, uint8_t out[16]);
/* SUBS: SOKS with the count and hash, then one MSG per queue in want (any
 * order), then ALLS. */
void subs_expect(sx_smp_client *cl, const uint8_t id[24], const sx_key *svc_key, tq *const *qs, size_t n,
                 tq *const *want, size_t n_want);
void expect_msg(sx_smp_client *cl, const tq *q);
/* The next MSG for q, acknowledged with the recipient key alone: ACK carries
 * no service signature (PROTOCOL-NOTES C9). */
/* The next event is tag (END, DELD) for entity. */
void expect_event(sx_smp_client *cl, sx_smp_resp_tag tag, const uint8_t entity[24]);
void ack_next(sx_smp_client *cl, const tq *q);

#endif
