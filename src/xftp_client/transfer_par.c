/* Whole-file XFTP transfers: a connection per router, and the runner that
 * moves chunks of different routers in parallel. */
#define _GNU_SOURCE
#include "xftp_client/transfer_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/base64.h"
#include "core/fileio.h"
#include "core/writer.h"
#include "crypto/hash.h"
#include "crypto/util.h"

/* ---- connections ----------------------------------------------------------- */

void xt_pool_cleanup(conn_pool *p)
{
    for (size_t i = 0; p->c && i < p->n; i++)
        sx_xftp_client_free(p->c[i]);
    free(p->c);
    memset(p, 0, sizeof *p);
}

/* A usable connection to server i, connecting when needed. */
sx_status xt_pool_get(conn_pool *p, size_t i, const sx_xftp_transfer_opts *o,
                          sx_xftp_client **out)
{
    if (p->c[i] && !sx_xftp_client_usable(p->c[i])) {
        sx_xftp_client_free(p->c[i]);
        p->c[i] = NULL;
    }
    p->connect_failed = false;
    if (!p->c[i]) {
        xt_log(o, "connecting to %s...", p->servers[i].text);
        sx_status st = sx_xftp_client_connect_ex(&p->servers[i], o ? &o->client : NULL, &p->c[i], &p->fail);
        if (st != SX_OK) {
            p->connect_failed = true;
            return st;
        }
        xt_log(o, "connected to %s", p->servers[i].text);
    }
    *out = p->c[i];
    return SX_OK;
}

/* Whether a failed step is worth another attempt: not when the router
 * answered with an error (it would answer the same), except TIMEOUT. */
bool xt_retryable(const conn_pool *p, sx_xftp_client *c, sx_status st)
{
    if (st == SX_E_NOMEM || st == SX_E_USAGE)
        return false;
    if (!c && p && p->connect_failed) {
        /* the same address would fail the same way; a refused or timed out
         * connect may work once the router is back */
        sx_xftp_connect_step k = p->fail.step;
        return k != SX_XFTP_STEP_ADDRESS && k != SX_XFTP_STEP_RESOLVE && k != SX_XFTP_STEP_IDENTITY &&
               k != SX_XFTP_STEP_ALPN && k != SX_XFTP_STEP_CANCELLED;
    }
    if (!c)
        return true;
    if (sx_xftp_client_cancelled(c))
        return false;
    sx_xftp_error e = sx_xftp_client_error(c);
    return e.type == 0 || e.type == SX_XFTP_ERR_TIMEOUT || !sx_xftp_client_usable(c);
}

/* ---- parallel chunk work ------------------------------------------------------ */

/* As the reference CLI (Client/Main.hs uploadFile / receive): chunks are
 * grouped by router, each group runs in order on one connection, and up to
 * PAR_MAX groups run at once (pooledForConcurrentlyN 16). Here every group
 * is taken by one of min(PAR_MAX, groups) threads (the caller is one of
 * them); a thread keeps its own connections. The first failure is kept and
 * the other threads start no further chunk; progress is reported under the
 * lock as the sum of the chunks done. */

static bool par_stopped(par_run *r)
{
    pthread_mutex_lock(&r->mu);
    bool f = r->failed;
    pthread_mutex_unlock(&r->mu);
    return f;
}

static void *par_worker(void *arg)
{
    par_run *r = arg;
    char err[PAR_ERR_LEN], code[sizeof r->code];
    err[0] = '\0';
    code[0] = '\0';
    sx_xftp_transfer_opts wo = *r->o;
    wo.progress = NULL;
    wo.errbuf = err;
    wo.errbuf_len = sizeof err;
    wo.errcode = code;
    wo.errcode_len = sizeof code;
    conn_pool pool = {.n = r->n_servers, .servers = r->servers};
    pool.c = calloc(r->n_servers ? r->n_servers : 1, sizeof *pool.c);
    sx_status st = pool.c ? SX_OK : SX_E_NOMEM;
    while (st == SX_OK) {
        pthread_mutex_lock(&r->mu);
        size_t g = r->next_group;
        bool stop = r->failed || g >= r->n_groups;
        if (!stop)
            r->next_group++;
        pthread_mutex_unlock(&r->mu);
        if (stop)
            break;
        for (size_t k = r->group_start[g]; k < r->group_start[g + 1] && st == SX_OK; k++) {
            if (par_stopped(r))
                break;
            if (xt_cancelled(r->o)) {
                xt_set_err(&wo, "interrupted");
                st = SX_E_IO;
                break;
            }
            size_t i = r->order[k];
            st = r->fn(r, &pool, &wo, i);
            if (st != SX_OK)
                break;
            pthread_mutex_lock(&r->mu);
            r->done += r->sizes[i];
            xt_progress(r->o, r->phase, r->done, r->total);
            pthread_mutex_unlock(&r->mu);
        }
    }
    pthread_mutex_lock(&r->mu);
    if (st != SX_OK && !r->failed) {
        r->failed = true;
        r->st = st;
        memcpy(r->err, err, sizeof err);
        memcpy(r->code, code, sizeof code);
    }
    /* usable connections go back to the caller (acknowledgements follow) */
    for (size_t i = 0; pool.c && i < pool.n; i++)
        if (pool.c[i] && r->keep.c && !r->keep.c[i] && sx_xftp_client_usable(pool.c[i])) {
            r->keep.c[i] = pool.c[i];
            pool.c[i] = NULL;
        }
    pthread_mutex_unlock(&r->mu);
    xt_pool_cleanup(&pool);
    return NULL;
}

/* Runs fn over items 0..n, item i belonging to group key[i] (a server index,
 * or SIZE_MAX for its own group). On return keep (if not NULL, with n_servers
 * slots) holds connections the workers left open. */
sx_status xt_par_run_items(const sx_xftp_transfer_opts *o, par_item_fn fn, void *ctx,
                               size_t n, const size_t *key, const uint32_t *sizes,
                               const char *phase, int64_t total, sx_xftp_fd_server *servers,
                               size_t n_servers, conn_pool *keep)
{
    par_run r;
    memset(&r, 0, sizeof r);
    r.o = o;
    r.fn = fn;
    r.ctx = ctx;
    r.servers = servers;
    r.n_servers = n_servers;
    r.sizes = sizes;
    r.phase = phase;
    r.total = total;
    if (keep)
        r.keep = *keep;
    r.order = calloc(n ? n : 1, sizeof *r.order);
    r.group_start = calloc(n + 1, sizeof *r.group_start);
    if (!r.order || !r.group_start) {
        free(r.order);
        free(r.group_start);
        return SX_E_NOMEM;
    }
    /* stable insertion sort by key (groupAllOn: groups in key order) */
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        while (j > 0 && key[r.order[j - 1]] > key[i]) {
            r.order[j] = r.order[j - 1];
            j--;
        }
        r.order[j] = i;
    }
    for (size_t k = 0; k < n; k++)
        if (k == 0 || key[r.order[k]] != key[r.order[k - 1]] || key[r.order[k]] == SIZE_MAX)
            r.group_start[r.n_groups++] = k;
    r.group_start[r.n_groups] = n;
    size_t nthreads = r.n_groups < PAR_MAX ? r.n_groups : PAR_MAX;
    pthread_t tid[PAR_MAX];
    size_t started = 0;
    if (pthread_mutex_init(&r.mu, NULL) != 0) {
        free(r.order);
        free(r.group_start);
        return SX_E_INTERNAL;
    }
    xt_progress(o, phase, 0, total);
    /* the caller is the last worker; a thread that cannot start is not needed */
    for (size_t t = 1; t < nthreads; t++)
        if (pthread_create(&tid[started], NULL, par_worker, &r) == 0)
            started++;
    par_worker(&r);
    for (size_t t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
    pthread_mutex_destroy(&r.mu);
    free(r.order);
    free(r.group_start);
    if (r.failed) {
        xt_set_err(o, "%s", r.err);
        if (o->errcode && o->errcode_len > 0)
            snprintf(o->errcode, o->errcode_len, "%s", r.code);
    }
    return r.failed ? r.st : SX_OK;
}

