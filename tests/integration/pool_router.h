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
/* cmocka setup and teardown: init in a new folder / kill and remove. */
int router_setup(void **state);
int router_teardown(void **state);

#endif
