/* The smp-server program as a child process for the pool tests (see
 * pool_router.h). */
#include "pool_router.h"

#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "simplex/simplex.h"

#ifndef SX_SMP_SERVER_BIN
#error "SX_SMP_SERVER_BIN must name the smp-server executable"
#endif

#define START_MS 30000
#define START_ATTEMPTS 3

extern char **environ;

pool_router R;

int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 16);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void dump_output_of(const pool_router *rp)
{
    char *t = read_text(rp->out);
    if (t) {
        size_t n = strlen(t);
        fprintf(stderr, "---- smp-server output ----\n%s---- end ----\n", n > 4000 ? t + n - 4000 : t);
        free(t);
    }
}

static pid_t spawn(pool_router *rp, char *const argv[])
{
    pid_t parent = getpid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(rp->out, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd < 0)
            _exit(126);
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a crashed test leaves no router behind */
        if (getppid() != parent)
            _exit(125);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        execve(SX_SMP_SERVER_BIN, argv, rp->envp);
        _exit(127);
    }
    return pid;
}

static bool wait_exit(pid_t pid, int timeout_ms, int *status)
{
    int64_t deadline = now_ms() + timeout_ms;
    while (waitpid(pid, status, WNOHANG) != pid) {
        if (now_ms() > deadline)
            return false;
        sleep_ms(10);
    }
    return true;
}

/* The INI with our port, and each "key: value" line of extra (NULL: none)
 * in place of that key's line, commented or not. */
static void ini_edit(pool_router *rp, uint16_t port, const char *extra)
{
    char *text = read_text(rp->ini);
    assert_non_null(text);
    FILE *f = fopen(rp->ini, "wb");
    assert_non_null(f);
    int ports = 0;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        int n = nl ? (int)(nl - line) : (int)strlen(line);
        const char *key = line[0] == '#' && line[1] == ' ' ? line + 2 : line;
        const char *repl = NULL;
        int repl_len = 0;
        for (const char *e = extra; e && *e;) {
            const char *enl = strchr(e, '\n');
            int en = enl ? (int)(enl - e) : (int)strlen(e);
            const char *colon = memchr(e, ':', (size_t)en);
            if (colon && strncmp(key, e, (size_t)(colon - e + 1)) == 0) {
                repl = e;
                repl_len = en;
            }
            e += en + (enl ? 1 : 0);
        }
        if (strncmp(line, "port:", 5) == 0) {
            fprintf(f, "port: %u\n", port);
            ports++;
        } else if (repl) {
            fprintf(f, "%.*s\n", repl_len, repl);
        } else {
            fprintf(f, "%.*s\n", n, line);
        }
        line += n + (nl ? 1 : 0);
    }
    assert_int_equal(fclose(f), 0);
    assert_int_equal(ports, 1);
    free(text);
}

/* Starts the router on its port and returns once a client got through the
 * handshake. */
void pool_router_start(pool_router *rp)
{
    assert_int_equal(rp->pid, 0);
    char *argv[] = {"smp-server", "start", NULL};
    rp->pid = spawn(rp, argv);
    int64_t deadline = now_ms() + START_MS;
    int starts = 1;
    for (;;) {
        int status;
        if (waitpid(rp->pid, &status, WNOHANG) == rp->pid) {
            /* the port may be busy for a moment (a socket closing) */
            if (starts++ < START_ATTEMPTS) {
                sleep_ms(300);
                rp->pid = spawn(rp, argv);
                continue;
            }
            rp->pid = 0;
            dump_output_of(rp);
            fail_msg("smp-server exited at start %d times (status 0x%x)", START_ATTEMPTS, (unsigned)status);
        }
        sx_smp_conn_opts o = {.timeout_ms = 2000};
        sx_smp_conn *c = NULL;
        if (sx_smp_connect(rp->addr, &o, &c) == SX_OK) {
            sx_smp_close(c);
            return;
        }
        if (now_ms() > deadline) {
            dump_output_of(rp);
            fail_msg("smp-server did not accept connections within %d ms", START_MS);
        }
        sleep_ms(50);
    }
}

void router_start(void)
{
    pool_router_start(&R);
}

void pool_router_kill9(pool_router *rp)
{
    assert_true(rp->pid > 0);
    assert_int_equal(kill(rp->pid, SIGKILL), 0);
    int status = 0;
    assert_true(wait_exit(rp->pid, 30000, &status));
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    rp->pid = 0;
}

void router_kill9(void)
{
    pool_router_kill9(&R);
}

/* A free port below the system's range of ephemeral ports (32768 and up
 * here), so that no outgoing connection, the pool's own attempts to reach
 * the stopped router included, can take it while the router is down: a
 * connect to a port of that range where nothing listens can even end up
 * connected to itself. */
uint16_t pool_router_free_port(void)
{
    static uint32_t calls;
    uint32_t r = ((uint32_t)getpid() * 2654435761u ^ (uint32_t)now_ms()) + calls++ * 104729u;
    for (int i = 0; i < 200; i++) {
        uint16_t port = (uint16_t)(20000 + (r + (uint32_t)i * 7919u) % 12000u);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
        a.sin_addr.s_addr = htonl(INADDR_ANY);
        bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok)
            return port;
    }
    fail_msg("no free port between 20000 and 32000");
    return 0;
}

int pool_router_init(pool_router *rp, const char *extra)
{
    memset(rp, 0, sizeof *rp);
    snprintf(rp->dir, sizeof rp->dir, "/tmp/sx_pool_XXXXXX");
    if (!mkdtemp(rp->dir))
        return -1;
    snprintf(rp->etc, sizeof rp->etc, "%s/etc", rp->dir);
    snprintf(rp->var, sizeof rp->var, "%s/var", rp->dir);
    snprintf(rp->out, sizeof rp->out, "%s/output.log", rp->dir);
    snprintf(rp->ini, sizeof rp->ini, "%s/smp-server.ini", rp->etc);
    size_t n = 0;
    while (environ[n])
        n++;
    rp->envp = calloc(n + 3, sizeof *rp->envp);
    if (!rp->envp)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "SMP_SERVER_CFG_PATH=", 20) != 0 && strncmp(environ[i], "SMP_SERVER_LOG_PATH=", 20) != 0)
            rp->envp[k++] = environ[i];
    snprintf(rp->env_cfg, sizeof rp->env_cfg, "SMP_SERVER_CFG_PATH=%s", rp->etc);
    snprintf(rp->env_log, sizeof rp->env_log, "SMP_SERVER_LOG_PATH=%s", rp->var);
    rp->envp[k++] = rp->env_cfg;
    rp->envp[k++] = rp->env_log;
    signal(SIGPIPE, SIG_IGN);
    char *argv[] = {"smp-server", "init", "-y", "--disable-web", "--no-password", NULL};
    pid_t pid = spawn(rp, argv);
    int status = 0;
    if (!wait_exit(pid, 60000, &status) || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        dump_output_of(rp);
        return -1;
    }
    char path[256];
    snprintf(path, sizeof path, "%s/fingerprint", rp->etc);
    char *fp = read_text(path);
    if (!fp)
        return -1;
    fp[strcspn(fp, "\r\n")] = 0;
    snprintf(rp->fp, sizeof rp->fp, "%s", fp);
    free(fp);
    rp->port = pool_router_free_port();
    ini_edit(rp, rp->port, extra);
    snprintf(rp->addr, sizeof rp->addr, "smp://%s@127.0.0.1:%u", rp->fp, rp->port);
    return 0;
}

void pool_router_edit(pool_router *rp, const char *extra)
{
    ini_edit(rp, rp->port, extra);
}

int router_setup(void **state)
{
    (void)state;
    return pool_router_init(&R, NULL);
}

void pool_router_free(pool_router *rp)
{
    if (rp->pid > 0) {
        int status;
        kill(rp->pid, SIGKILL);
        (void)wait_exit(rp->pid, 30000, &status);
        rp->pid = 0;
    }
    free(rp->envp);
    tu_rm_rf(rp->dir);
}

int router_teardown(void **state)
{
    (void)state;
    pool_router_free(&R);
    return 0;
}

int pool_router_services(const pool_router *rp, char role, char *id, char *hash, size_t cap)
{
    char path[256], tag[16];
    snprintf(path, sizeof path, "%s/smp-server-store.log", rp->var);
    snprintf(tag, sizeof tag, " role=%c ", role);
    id[0] = hash[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    static char line[16384];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "NEW_SERVICE ", 12) != 0 || !strstr(line, tag))
            continue;
        n++;
        const char *keys[2] = {"service_id=", "cert_hash="};
        char *outs[2] = {id, hash};
        for (int k = 0; k < 2; k++) {
            const char *v = strstr(line, keys[k]);
            outs[k][0] = 0;
            if (v) {
                v += strlen(keys[k]);
                int l = (int)strcspn(v, " \n");
                snprintf(outs[k], cap, "%.*s", l, v);
            }
        }
    }
    fclose(f);
    return n;
}

int pool_router_wait_services(const pool_router *rp, char role, int want, char *id, char *hash, size_t cap)
{
    int n = 0;
    for (int i = 0; i < 600 && (n = pool_router_services(rp, role, id, hash, cap)) < want; i++)
        sleep_ms(100);
    return n;
}

long long pool_router_ctl_stat(uint16_t port, const char *password, const char *name,
                               const char *field)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    char cmd[160];
    int cl = snprintf(cmd, sizeof cmd, "auth %s\nstats\nquit\n", password);
    assert_true(cl > 0 && (size_t)cl < sizeof cmd);
    assert_int_equal(write(fd, cmd, (size_t)cl), (ssize_t)cl);
    static char buf[65536];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof buf - 1 && (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)n;
    close(fd);
    buf[len] = 0;
    char key[128];
    snprintf(key, sizeof key, "\n%s: ", name);
    const char *p = strstr(buf, key);
    if (!p)
        fail_msg("no %s in the stats of %u:\n%s", name, port, buf);
    p += strlen(key);
    if (field) {
        char f[64];
        snprintf(f, sizeof f, "%s=", field);
        const char *eol = strchr(p, '\n');
        const char *q = strstr(p, f);
        if (!q || (eol && q > eol))
            fail_msg("no %s in %s of %u", field, name, port);
        p = q + strlen(f);
    }
    return strtoll(p, NULL, 10);
}

void pool_router_addr_pw(char *out, size_t cap, const pool_router *rp, const char *pw)
{
    if (pw)
        snprintf(out, cap, "smp://%s:%s@127.0.0.1:%u", rp->fp, pw, rp->port);
    else
        snprintf(out, cap, "smp://%s@127.0.0.1:%u", rp->fp, rp->port);
}
