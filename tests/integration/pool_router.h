/* The smp-server program as a child process for the pool tests
 * (test_pool.c, test_tpool.c): `init` in a temporary folder with a port of
 * its own (below the ephemeral range, so that nothing takes it while the
 * router is down), `start` on that same port again after a SIGKILL (same
 * store), and the folder removed at the end. */
#ifndef SX_TEST_POOL_ROUTER_H
#define SX_TEST_POOL_ROUTER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct pool_router {
    char dir[64], etc[128], var[128], out[192], ini[192];
    char env_cfg[160], env_log[160];
    char **envp;
    char fp[128];   /* the router's fingerprint, base64url */
    char addr[256]; /* smp://<fp>@127.0.0.1:<port> */
    uint16_t port;
    pid_t pid;
} pool_router;

extern pool_router R;

int64_t now_ms(void);
void sleep_ms(int ms);
/* Starts the router on R.port and returns once a client got through the
 * handshake; fails the test otherwise. */
void router_start(void);
/* SIGKILL, and waits for the exit. */
void router_kill9(void);
/* The same for any router: init in a new folder with its own port, the
 * INI's "key: value" lines of extra (NULL: none) replacing those keys'
 * lines (commented or not); start; SIGKILL; kill and remove. */
int pool_router_init(pool_router *rp, const char *extra);
void pool_router_start(pool_router *rp);
/* The INI edited again as init does with extra (before a start). */
void pool_router_edit(pool_router *rp, const char *extra);
/* A port nothing listens on, below the ephemeral range. */
uint16_t pool_router_free_port(void);
void pool_router_kill9(pool_router *rp);
void pool_router_free(pool_router *rp);
/* rp's smp:// address with the password pw in it (NULL: none). */
void pool_router_addr_pw(char *out, size_t cap, const pool_router *rp, const char *pw);
/* The services of role ('M' messaging, 'N' notifier) the router's store
 * log registered (NEW_SERVICE lines): how many, and the last one's
 * service_id= and cert_hash= values (base64url, cap bytes each). The wait
 * form polls for up to 60 s until there are at least want. */
int pool_router_services(const pool_router *rp, char role, char *id, char *hash, size_t cap);
int pool_router_wait_services(const pool_router *rp, char role, int want, char *id, char *hash, size_t cap);
/* cmocka setup and teardown: init in a new folder / kill and remove. */
int router_setup(void **state);
int router_teardown(void **state);

/* The number after "<name>: " (or after "<field>=" on that line) in the
 * `stats` answer of the router's control port on port, as the user with
 * password; fails the test when it is not there. */
long long pool_router_ctl_stat(uint16_t port, const char *password, const char *name,
                               const char *field);

#endif
