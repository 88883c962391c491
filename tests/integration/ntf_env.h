/* What the NTF integration tests share (test_ntf_push.c, test_ntf_subs.c):
 * the APNS stand-in as a child process, the NTF router in process with its
 * APNS client pointed at the stand-in, an NTF client connected to it, and
 * helpers that wait for recorded pushes and token statuses and open the
 * sealed payloads. */
#ifndef SX_TEST_NTF_ENV_H
#define SX_TEST_NTF_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ntf_client/client.h"
#include "ntf_router/server.h"
#include "ntf_router/setup.h"

#define TIMEOUT_MS 20000
#define WAIT_S 60
#define KID "KEY1234567"

extern const char *g_standin; /* the apns-standin program */
/* The ntf-server program: set, the NTF router runs as that process (init
 * and start); NULL, in this process. */
extern const char *g_ntf_server;
/* With g_ntf_server: init's INI gets use_service_credentials: on. */
extern bool g_ntf_service;
/* In process: the router gets a control port (ephemeral) with the user
 * password "ntf-user" and the admin password "ntf-admin". */
extern bool g_ntf_control;
/* In process: non-NULL, the router keeps its store in this PostgreSQL
 * database (db_connection) in place of the store log. */
extern const char *g_ntf_db;
/* With g_ntf_server and g_ntf_db: the process's INI gets db_connection
 * g_ntf_db, db_schema this (NULL: init's), db_pool_size 2. */
extern const char *g_ntf_db_schema;
/* The stand-in holds each answer back this many ms (--delay-ms; 0: none). */
extern int g_standin_delay_ms;
/* The statistics kept in the log folder's ntf-server-stats.log; with an
 * interval > 0 also the daily line and the metrics file every that many
 * seconds (in process), or the metrics file (the process: log_stats on,
 * prometheus_interval). */
extern bool g_ntf_stats;
extern int64_t g_ntf_stats_interval;
/* [SUBSCRIBER] own_server_domains (in process, or in the process's INI);
 * NULL: none. */
extern const char *g_ntf_own_domains;

typedef struct env {
    char dir[64], sdir[96], key[96], reqs[128], failures[128];
    sx_kit_paths paths;
    uint8_t fp[SX_FINGERPRINT_LEN];
    pid_t standin;
    uint16_t apns_port;
    sx_ntf_server *srv;
    sx_ntf_client *c;
    unsigned periodic_s;
    pid_t ntf_pid;     /* the ntf-server process, 0 in process */
    uint16_t ntf_port; /* its port */
} env;

typedef struct device {
    char hex[80];
    sx_key *verify, *dh;
    sx_ntf_token_reg reg;
} device;

void write_text(const char *path, const char *text);
void ntf_sleep_ms(long ms);
void env_init(env *e, unsigned periodic_s);
void env_free(env *e);
/* The NTF router (and the client) stopped and started again on its store. */
void env_router_stop(env *e);
void env_router_start(env *e);
/* The ntf-server process killed with SIGKILL (g_ntf_server only). */
void env_router_kill(env *e);
int find_lines(env *e, const char *hex, const char *what, char *line, size_t cap);
void wait_lines(env *e, const char *hex, const char *what, int n, char *line, size_t cap);
void wait_status(env *e, sx_slice id, const sx_key *verify, sx_ntf_tkn_status want,
                 sx_ntf_invalid_reason reason);
size_t body_value(const char *line, const char *key, uint8_t *out, size_t cap);
size_t open_sealed(const char *line, const char *key, const uint8_t secret[32], uint8_t *out, size_t cap);
void device_register(env *e, device *d, const char *hex);
sx_slice dev_id(const device *d);
void device_free(device *d);
void device_activate(env *e, device *d, const char *hex);

#endif
