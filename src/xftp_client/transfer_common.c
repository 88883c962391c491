/* Whole-file XFTP transfers: the small helpers every part uses (transfer_int.h). */
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
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "core/base64.h"
#include "core/fileio.h"
#include "core/writer.h"
#include "crypto/hash.h"
#include "crypto/util.h"

bool xt_cancel_set(const volatile sig_atomic_t *cancel)
{
    return cancel && __atomic_load_n(cancel, __ATOMIC_RELAXED);
}

bool xt_cancelled(const sx_xftp_transfer_opts *o)
{
    return o && xt_cancel_set(o->client.cancel);
}

void xt_set_err(const sx_xftp_transfer_opts *o, const char *fmt, ...)
{
    if (!o || !o->errbuf || o->errbuf_len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->errbuf, o->errbuf_len, fmt, ap);
    va_end(ap);
}

void xt_set_code(const sx_xftp_transfer_opts *o, const char *code)
{
    if (o && o->errcode && o->errcode_len > 0)
        snprintf(o->errcode, o->errcode_len, "%s", code);
}

void xt_progress(const sx_xftp_transfer_opts *o, const char *phase, int64_t done,
                     int64_t total)
{
    if (o && o->progress)
        o->progress(o->progress_ud, phase, done, total);
}

bool xt_logging(const sx_xftp_transfer_opts *o)
{
    return o && o->log;
}

void xt_log(const sx_xftp_transfer_opts *o, const char *fmt, ...)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    if (!xt_logging(o))
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&mu);
    o->log(o->log_ud, line);
    pthread_mutex_unlock(&mu);
}

int xt_retries(const sx_xftp_transfer_opts *o)
{
    return o && o->retry > 0 ? o->retry : SX_XFTP_DEFAULT_RETRY;
}

void xt_retry_pause(const sx_xftp_transfer_opts *o, int a, const conn_pool *pool, size_t server,
                    sx_xftp_client *c, sx_status st)
{
    if (a + 1 >= xt_retries(o) || xt_cancelled(o))
        return;
    int ms = 1000 << (a < 3 ? a : 3);
    if (xt_logging(o)) {
        char why[XT_REASON_LEN];
        xt_retry_reason(pool, server, c, st, why, sizeof why);
        xt_log(o, "attempt %d of %d with %s failed (%s): retrying in %d s", a + 1, xt_retries(o),
               pool && server < pool->n ? pool->servers[server].text : "?", why, ms / 1000);
    }
    /* in slices, so that a cancel is seen within a fraction of a second */
    for (int waited = 0; waited < ms && !xt_cancelled(o); waited += 100) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

const char *xt_tmp_dir(const sx_xftp_transfer_opts *o)
{
    if (o && o->tmp_dir)
        return o->tmp_dir;
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

sx_status xt_read_some(int fd, uint8_t *p, size_t cap, size_t *n)
{
    ssize_t k;
    do
        k = read(fd, p, cap);
    while (k < 0 && errno == EINTR);
    if (k < 0)
        return SX_E_IO;
    *n = (size_t)k;
    return SX_OK;
}

sx_status sx_xftp_unique_path(const char *dir, const char *name, char *out, size_t cap)
{
    SX_ENSURE(dir && name && out, SX_E_USAGE);
    const char *dot = strchr(name, '.');
    size_t stem = dot ? (size_t)(dot - name) : strlen(name);
    const char *ext = dot ? dot : "";
    for (unsigned n = 0; n < 100000; n++) {
        int k = n == 0 ? snprintf(out, cap, "%s/%s", dir, name)
                       : snprintf(out, cap, "%s/%.*s_%u%s", dir, (int)stem, name, n, ext);
        if (k < 0 || (size_t)k >= cap)
            return SX_E_LIMIT;
        struct stat st;
        if (lstat(out, &st) != 0 && errno == ENOENT)
            return SX_OK;
    }
    return SX_E_LIMIT;
}

/* A fresh name in the temporary folder: random, so that several xftp
 * processes sharing the folder never race for the same name between the
 * existence check and the exclusive create. */
sx_status xt_temp_path(const sx_xftp_transfer_opts *o, char *out, size_t cap)
{
    uint8_t r[8];
    sx_random_bytes(r, sizeof r);
    char name[64];
    snprintf(name, sizeof name, "xftp_%02x%02x%02x%02x%02x%02x%02x%02x.encrypted", r[0], r[1], r[2],
             r[3], r[4], r[5], r[6], r[7]);
    return sx_xftp_unique_path(xt_tmp_dir(o), name, out, cap);
}


void xt_address_shown(const char *text, char *out, size_t cap)
{
    /* <scheme>://<key hash>[:<password>]@...: the password is between the
     * first ':' after the scheme and the '@' */
    const char *scheme = strstr(text, "://");
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *colon = scheme ? strchr(scheme + 3, ':') : NULL;
    if (at && colon && colon < at)
        snprintf(out, cap, "%.*s:***%s", (int)(colon - text), text, at);
    else
        snprintf(out, cap, "%s", text);
}
