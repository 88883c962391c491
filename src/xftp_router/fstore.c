/* The XFTP router's file store: two id maps (idmap.h: sender id -> file,
 * recipient id -> recipient) under one mutex, the used-storage counter (the
 * bytes of stored chunks and of uploads under way), and the store log (flog.c lines handed to the
 * router kit's writer thread, src/kit/logwriter.h, which appends them to the
 * kit's log file; replay and compaction through its start-up sequence,
 * PROTOCOL-NOTES E26/F27). */
#include "xftp_router/fstore.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/base64.h"
#include "core/fileio.h"
#include "core/writer.h"
#include "crypto/util.h"
#include "kit/lines.h"
#include "kit/logstart.h"
#include "kit/logwriter.h"
#include "xftp_router/flog.h"
#include "xftp_router/idmap.h"

#define ID_LEN SX_XFTP_FILE_ID_LEN
#define ID_TRIES 3            /* fresh ids tried before giving up (as retryAdd) */
#define EXPIRE_BATCH 64       /* files deleted per lock round in expiry */
#define EXPIRE_SCAN 4096      /* slots scanned per lock round in expiry */
#define SNAPSHOT_FLUSH 65536  /* compaction write size */

/* ---- records ------------------------------------------------------------- */

typedef struct file {
    sx_xftp_frec r; /* r.n_recipients == n_rids */
    uint8_t (*rids)[ID_LEN];
    size_t n_rids, cap_rids;
} file;

typedef struct rcp {
    uint8_t id[ID_LEN];
    file *f;
    sx_xftp_rkey key;
} rcp;

/* ---- the store ------------------------------------------------------------ */

struct sx_xftp_fstore {
    pthread_mutex_t lock;
    sx_idmap files; /* sender id -> file* */
    sx_idmap rcps;  /* recipient id -> rcp* */
    size_t n_uploaded;
    int64_t used;
    int64_t quota;
    char *files_dir;
    char *log_path;
    sx_kit_log *log;
    sx_kit_logwriter *lw; /* the log's writer thread, while the log is open */
    /* After each of the writer's batches: wakes sx_xftp_fstore_wait_durable
     * and calls on_durable; both under notify_mu, so that clearing on_durable
     * waits out a call in progress. */
    pthread_mutex_t notify_mu;
    pthread_cond_t notify_cv;
    sx_xftp_fstore_durable_cb on_durable;
    void *on_durable_arg;
    sx_xftp_fstore_warn_cb warn;
    sx_xftp_fstore_warn_cb note; /* NULL: notes go to warn */
    void *warn_arg;
};

static void warnf(const sx_xftp_fstore *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warnf(const sx_xftp_fstore *st, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (st->warn)
        st->warn(st->warn_arg, msg);
    else
        fprintf(stderr, "%s\n", msg);
}

static void id_text(const uint8_t *id, char out[32])
{
    if (sx_b64_encode(sx_slice_of(id, ID_LEN), SX_B64_URL, out, 32) != SX_OK)
        out[0] = '\0';
}

static sx_status path_of(const char *dir, const uint8_t *id, char *out, size_t cap)
{
    char b64[32];
    id_text(id, b64);
    size_t dl = strlen(dir);
    const char *sep = dl > 0 && dir[dl - 1] == '/' ? "" : "/";
    int n = snprintf(out, cap, "%s%s%s", dir, sep, b64);
    return n < 0 || (size_t)n >= cap ? SX_E_LIMIT : SX_OK;
}

sx_status sx_xftp_fstore_path(const sx_xftp_fstore *st, const uint8_t sender_id[SX_XFTP_FILE_ID_LEN],
                              char *out, size_t cap)
{
    return path_of(st->files_dir, sender_id, out, cap);
}

static void file_free(file *f)
{
    if (!f)
        return;
    free(f->rids);
    free(f);
}

/* Removes a file and its recipients from the maps and frees it. */
static void drop_file(sx_xftp_fstore *st, file *f)
{
    for (size_t i = 0; i < f->n_rids; i++)
        free(sx_idmap_del(&st->rcps, f->rids[i]));
    sx_idmap_del(&st->files, f->r.sender_id);
    if (f->r.uploaded)
        st->n_uploaded--;
    file_free(f);
}

static void rid_remove(file *f, const uint8_t *rid)
{
    for (size_t i = 0; i < f->n_rids; i++) {
        if (memcmp(f->rids[i], rid, ID_LEN) == 0) {
            memmove(f->rids[i], f->rids[f->n_rids - 1], ID_LEN);
            f->n_rids--;
            f->r.n_recipients = f->n_rids;
            return;
        }
    }
}

/* Adds recipient rid of f; SX_E_AUTH if rid is taken. */
static sx_status rcp_add(sx_xftp_fstore *st, file *f, const uint8_t *rid, const uint8_t *key, size_t key_len,
                         sx_key_alg alg)
{
    if (sx_idmap_get(&st->rcps, rid))
        return SX_E_AUTH;
    if (f->n_rids >= SX_XFTP_MAX_RECIPIENTS || key_len > SX_KEY_SPKI_MAX)
        return SX_E_LIMIT;
    if (f->n_rids == f->cap_rids) {
        size_t nc = f->cap_rids ? f->cap_rids * 2 : 4;
        void *nr = realloc(f->rids, nc * ID_LEN);
        if (!nr)
            return SX_E_NOMEM;
        f->rids = nr;
        f->cap_rids = nc;
    }
    rcp *rc = calloc(1, sizeof *rc);
    if (!rc)
        return SX_E_NOMEM;
    memcpy(rc->id, rid, ID_LEN);
    rc->f = f;
    memcpy(rc->key.key, key, key_len);
    rc->key.key_len = key_len;
    rc->key.alg = alg;
    sx_status s = sx_idmap_put(&st->rcps, rid, rc);
    if (s != SX_OK) {
        free(rc);
        return s;
    }
    memcpy(f->rids[f->n_rids++], rid, ID_LEN);
    f->r.n_recipients = f->n_rids;
    return SX_OK;
}

static void rcp_remove(sx_xftp_fstore *st, const uint8_t *rid)
{
    rcp *rc = sx_idmap_del(&st->rcps, rid);
    if (!rc)
        return;
    rid_remove(rc->f, rid);
    free(rc);
}

static bool id_taken(const sx_xftp_fstore *st, const uint8_t *id)
{
    return sx_idmap_get(&st->files, id) != NULL || sx_idmap_get(&st->rcps, id) != NULL;
}

static sx_status fresh_id(const sx_xftp_fstore *st, uint8_t id[ID_LEN])
{
    for (int i = 0; i < ID_TRIES; i++) {
        sx_random_bytes(id, ID_LEN);
        if (!id_taken(st, id))
            return SX_OK;
    }
    return SX_E_INTERNAL;
}

/* ---- log records (the caller holds the lock) ------------------------------ */

static void rec_of_file(const file *f, sx_xftp_flog_rec *r)
{
    memset(r, 0, sizeof *r);
    r->type = SX_XFTP_FLOG_FNEW;
    memcpy(r->id, f->r.sender_id, ID_LEN);
    memcpy(r->snd_key, f->r.snd_key, f->r.snd_key_len);
    r->snd_key_len = f->r.snd_key_len;
    r->snd_alg = f->r.snd_alg;
    r->size = f->r.size;
    memcpy(r->digest, f->r.digest, f->r.digest_len);
    r->digest_len = f->r.digest_len;
    r->created_at = f->r.created_at;
    r->status = f->r.status;
    r->blocked = f->r.blocked;
}

static bool encode_rec(sx_writer *w, const void *rec)
{
    return sx_xftp_flog_encode(w, rec);
}

/* Hands r to the writer thread and sets *seq to its sequence number. The
 * caller holds st->lock and makes the change only when this succeeds, so the
 * log's order is the order of the changes. No log: SX_OK, *seq untouched.
 * SX_E_IO when the log is failing (the writer refuses records until a
 * write succeeds again, or for good), SX_E_USAGE when r cannot be encoded. */
static sx_status log_rec(sx_xftp_fstore *st, const sx_xftp_flog_rec *r, uint64_t *seq)
{
    if (!st->lw)
        return SX_OK;
    uint64_t n = sx_kit_logwriter_submit(st->lw, encode_rec, r);
    if (n == 0)
        return sx_kit_logwriter_failed(st->lw) ? SX_E_IO : SX_E_USAGE;
    *seq = n;
    return SX_OK;
}

/* A failing log refuses every record: checked before a change that
 * cannot be undone (a chunk file removed) is made for a record that would
 * then be refused. */
static bool log_refuses(const sx_xftp_fstore *st)
{
    return st->lw && sx_kit_logwriter_failed(st->lw);
}

static sx_status log_id(sx_xftp_fstore *st, sx_xftp_flog_type type, const uint8_t *id, uint64_t *seq)
{
    sx_xftp_flog_rec r;
    memset(&r, 0, sizeof r);
    r.type = type;
    memcpy(r.id, id, ID_LEN);
    return log_rec(st, &r, seq);
}

/* FNEW of f when fnew is given, then FADD of the recipients of f from index
 * first on (none: no FADD), as two records in that order. */
static sx_status log_fadd(sx_xftp_fstore *st, const file *f, size_t first, const sx_xftp_flog_rec *fnew,
                          uint64_t *seq)
{
    size_t n = f->n_rids - first;
    sx_xftp_flog_rcp *items = calloc(n ? n : 1, sizeof *items); /* before anything is queued */
    if (!items)
        return SX_E_NOMEM;
    sx_status res = fnew ? log_rec(st, fnew, seq) : SX_OK;
    if (res != SX_OK || n == 0) {
        free(items);
        return res;
    }
    for (size_t i = 0; i < n; i++) {
        const rcp *rc = sx_idmap_get(&st->rcps, f->rids[first + i]);
        memcpy(items[i].id, f->rids[first + i], ID_LEN);
        if (rc)
            items[i].key = rc->key;
    }
    sx_xftp_flog_rec r;
    memset(&r, 0, sizeof r);
    r.type = SX_XFTP_FLOG_FADD;
    memcpy(r.id, f->r.sender_id, ID_LEN);
    r.rcps = items;
    r.n_rcps = n;
    res = log_rec(st, &r, seq);
    free(items);
    return res;
}

/* ---- operations ----------------------------------------------------------- */

/* What a mutating call tells its caller: the sequence number of its last
 * record when it succeeded, else 0. */
static void give_seq(uint64_t *seq, sx_status res, uint64_t logged)
{
    if (seq)
        *seq = res == SX_OK ? logged : 0;
}

static sx_status add_rcv_keys(sx_xftp_fstore *st, file *f, const sx_smp_pubkey *keys, size_t n,
                              uint8_t (*rcv_ids)[SX_XFTP_FILE_ID_LEN])
{
    for (size_t i = 0; i < n; i++) {
        uint8_t rid[ID_LEN];
        sx_status s = fresh_id(st, rid);
        if (s == SX_OK)
            s = rcp_add(st, f, rid, keys[i].der.ptr, keys[i].der.len, keys[i].alg);
        if (s != SX_OK)
            return s;
        memcpy(rcv_ids[i], rid, ID_LEN);
    }
    return SX_OK;
}

static bool key_ok(const sx_smp_pubkey *k)
{
    sx_key_alg alg;
    return k->der.len <= SX_KEY_SPKI_MAX &&
           sx_key_check_public(k->der, SX_KEY_AUTH_ALGS, &alg) == SX_OK && alg == k->alg;
}

sx_status sx_xftp_fstore_create(sx_xftp_fstore *st, const sx_xftp_file_info *info, const sx_smp_pubkey *rcv_keys,
                                size_t n_rcv, int64_t now, uint8_t sender_id[SX_XFTP_FILE_ID_LEN],
                                uint8_t (*rcv_ids)[SX_XFTP_FILE_ID_LEN], uint64_t *seq)
{
    if (seq)
        *seq = 0;
    if (n_rcv > SX_XFTP_MAX_RECIPIENTS || info->digest.len > SX_XFTP_DIGEST_MAX)
        return SX_E_LIMIT;
    if (!key_ok(&info->snd_key) || info->digest.len == 0)
        return SX_E_USAGE;
    for (size_t i = 0; i < n_rcv; i++)
        if (!key_ok(&rcv_keys[i]))
            return SX_E_USAGE;
    file *f = calloc(1, sizeof *f);
    if (!f)
        return SX_E_NOMEM;
    memcpy(f->r.snd_key, info->snd_key.der.ptr, info->snd_key.der.len);
    f->r.snd_key_len = info->snd_key.der.len;
    f->r.snd_alg = info->snd_key.alg;
    f->r.size = info->size;
    memcpy(f->r.digest, info->digest.ptr, info->digest.len);
    f->r.digest_len = info->digest.len;
    f->r.created_at = now - (now % SX_XFTP_FILE_TIME_PRECISION + SX_XFTP_FILE_TIME_PRECISION) %
                                SX_XFTP_FILE_TIME_PRECISION;
    f->r.status = SX_XFTP_FILE_ACTIVE;

    pthread_mutex_lock(&st->lock);
    sx_status res = fresh_id(st, f->r.sender_id);
    if (res == SX_OK)
        res = sx_idmap_put(&st->files, f->r.sender_id, f);
    if (res != SX_OK) {
        pthread_mutex_unlock(&st->lock);
        file_free(f);
        return res;
    }
    res = add_rcv_keys(st, f, rcv_keys, n_rcv, rcv_ids);
    uint64_t logged = 0;
    if (res == SX_OK) {
        sx_xftp_flog_rec fnew;
        rec_of_file(f, &fnew);
        res = log_fadd(st, f, 0, &fnew, &logged);
    }
    if (res != SX_OK)
        drop_file(st, f);
    else
        memcpy(sender_id, f->r.sender_id, ID_LEN);
    pthread_mutex_unlock(&st->lock);
    give_seq(seq, res, logged);
    return res;
}

sx_status sx_xftp_fstore_add_recipients(sx_xftp_fstore *st, const uint8_t sender_id[SX_XFTP_FILE_ID_LEN],
                                        const sx_smp_pubkey *rcv_keys, size_t n_rcv,
                                        uint8_t (*rcv_ids)[SX_XFTP_FILE_ID_LEN], uint64_t *seq)
{
    if (seq)
        *seq = 0;
    for (size_t i = 0; i < n_rcv; i++)
        if (!key_ok(&rcv_keys[i]))
            return SX_E_USAGE;
    uint64_t logged = 0;
    pthread_mutex_lock(&st->lock);
    sx_status res = SX_OK;
    file *f = sx_idmap_get(&st->files, sender_id);
    if (!f) {
        res = SX_E_AUTH;
        goto out;
    }
    if (n_rcv > SX_XFTP_MAX_RECIPIENTS - f->n_rids) {
        res = SX_E_LIMIT;
        goto out;
    }
    size_t first = f->n_rids;
    res = add_rcv_keys(st, f, rcv_keys, n_rcv, rcv_ids);
    if (res == SX_OK)
        res = log_fadd(st, f, first, NULL, &logged);
    if (res != SX_OK) {
        while (f->n_rids > first) {
            uint8_t rid[ID_LEN];
            memcpy(rid, f->rids[f->n_rids - 1], ID_LEN);
            rcp_remove(st, rid);
        }
    }
out:
    pthread_mutex_unlock(&st->lock);
    give_seq(seq, res, logged);
    return res;
}

static bool slice_id(sx_slice s) { return s.len == ID_LEN && s.ptr; }

/* Whether f's size counts against the quota: its chunk is stored. A file
 * announced but never uploaded holds no bytes, and a blocked file's chunk
 * was removed when it was blocked. The reference counts every record at
 * start (countUsedStorage) and gives a record's size back on delete whether
 * or not its data had arrived, so after its restart announced files fill
 * the quota until they expire; here used is always the stored bytes plus
 * the reservations of uploads under way. */
static bool holds_data(const file *f)
{
    return f->r.uploaded && f->r.status == SX_XFTP_FILE_ACTIVE;
}

sx_status sx_xftp_fstore_get_sender(sx_xftp_fstore *st, sx_slice sender_id, sx_xftp_frec *out)
{
    if (!slice_id(sender_id))
        return SX_E_AUTH;
    pthread_mutex_lock(&st->lock);
    file *f = sx_idmap_get(&st->files, sender_id.ptr);
    if (f)
        *out = f->r;
    pthread_mutex_unlock(&st->lock);
    return f ? SX_OK : SX_E_AUTH;
}

sx_status sx_xftp_fstore_get_recipient(sx_xftp_fstore *st, sx_slice rcv_id, sx_xftp_frec *out, sx_xftp_rkey *key)
{
    if (!slice_id(rcv_id))
        return SX_E_AUTH;
    pthread_mutex_lock(&st->lock);
    rcp *rc = sx_idmap_get(&st->rcps, rcv_id.ptr);
    if (rc) {
        *out = rc->f->r;
        if (key)
            *key = rc->key;
    }
    pthread_mutex_unlock(&st->lock);
    return rc ? SX_OK : SX_E_AUTH;
}

sx_status sx_xftp_fstore_reserve(sx_xftp_fstore *st, uint32_t size)
{
    sx_status res = SX_OK;
    pthread_mutex_lock(&st->lock);
    /* receiveServerFile: used + size <= quota, or QUOTA. */
    if (st->quota > 0 && st->used + (int64_t)size > st->quota)
        res = SX_E_LIMIT;
    else
        st->used += size;
    pthread_mutex_unlock(&st->lock);
    return res;
}

void sx_xftp_fstore_unreserve(sx_xftp_fstore *st, uint32_t size)
{
    pthread_mutex_lock(&st->lock);
    st->used -= size;
    pthread_mutex_unlock(&st->lock);
}

sx_status sx_xftp_fstore_set_uploaded(sx_xftp_fstore *st, const uint8_t sender_id[SX_XFTP_FILE_ID_LEN],
                                      uint64_t *seq)
{
    if (seq)
        *seq = 0;
    char path[SX_XFTP_FLOG_PATH_MAX + 1];
    sx_status res = path_of(st->files_dir, sender_id, path, sizeof path);
    if (res != SX_OK)
        return res;
    uint64_t logged = 0;
    pthread_mutex_lock(&st->lock);
    file *f = sx_idmap_get(&st->files, sender_id);
    if (!f) {
        res = SX_E_AUTH;
        goto out;
    }
    sx_xftp_flog_rec r;
    memset(&r, 0, sizeof r);
    r.type = SX_XFTP_FLOG_FPUT;
    memcpy(r.id, sender_id, ID_LEN);
    r.path = path;
    res = log_rec(st, &r, &logged);
    if (res == SX_OK && !f->r.uploaded) {
        f->r.uploaded = true;
        st->n_uploaded++;
    }
out:
    pthread_mutex_unlock(&st->lock);
    give_seq(seq, res, logged);
    return res;
}

/* Removes f's chunk file if it has one; a file already gone is fine. */
static sx_status remove_chunk(sx_xftp_fstore *st, const file *f)
{
    if (!f->r.uploaded)
        return SX_OK;
    char path[SX_XFTP_FLOG_PATH_MAX + 1];
    if (path_of(st->files_dir, f->r.sender_id, path, sizeof path) != SX_OK)
        return SX_E_IO;
    if (unlink(path) != 0 && errno != ENOENT) {
        warnf(st, "failed to remove file %s: %s", path, strerror(errno));
        return SX_E_IO;
    }
    return SX_OK;
}

sx_status sx_xftp_fstore_delete(sx_xftp_fstore *st, const uint8_t sender_id[SX_XFTP_FILE_ID_LEN], uint64_t *seq)
{
    uint64_t logged = 0;
    pthread_mutex_lock(&st->lock);
    sx_status res;
    file *f = sx_idmap_get(&st->files, sender_id);
    if (!f) {
        res = SX_E_AUTH;
        goto out;
    }
    res = log_refuses(st) ? SX_E_IO : remove_chunk(st, f);
    if (res == SX_OK)
        res = log_id(st, SX_XFTP_FLOG_FDEL, sender_id, &logged);
    if (res == SX_OK) {
        if (holds_data(f))
            st->used -= f->r.size;
        drop_file(st, f);
    }
out:
    pthread_mutex_unlock(&st->lock);
    give_seq(seq, res, logged);
    return res;
}

sx_status sx_xftp_fstore_block(sx_xftp_fstore *st, const uint8_t sender_id[SX_XFTP_FILE_ID_LEN],
                               const sx_smp_blocking_info *info, uint64_t *seq)
{
    uint64_t logged = 0;
    pthread_mutex_lock(&st->lock);
    sx_status res;
    file *f = sx_idmap_get(&st->files, sender_id);
    if (!f) {
        res = SX_E_AUTH;
        goto out;
    }
    res = log_refuses(st) ? SX_E_IO : remove_chunk(st, f);
    if (res == SX_OK) {
        sx_xftp_flog_rec r;
        memset(&r, 0, sizeof r);
        r.type = SX_XFTP_FLOG_FBLK;
        memcpy(r.id, sender_id, ID_LEN);
        r.blocked = *info;
        res = log_rec(st, &r, &logged);
    }
    if (res == SX_OK) {
        /* blockFile ... True: the chunk is removed, its storage given back;
         * the path stays recorded. */
        if (holds_data(f))
            st->used -= f->r.size;
        f->r.status = SX_XFTP_FILE_BLOCKED;
        f->r.blocked = *info;
    }
out:
    pthread_mutex_unlock(&st->lock);
    give_seq(seq, res, logged);
    return res;
}

sx_status sx_xftp_fstore_ack(sx_xftp_fstore *st, sx_slice rcv_id, uint64_t *seq)
{
    if (seq)
        *seq = 0;
    if (!slice_id(rcv_id))
        return SX_E_AUTH;
    uint64_t logged = 0;
    pthread_mutex_lock(&st->lock);
    sx_status res = SX_E_AUTH;
    if (sx_idmap_get(&st->rcps, rcv_id.ptr)) {
        res = log_id(st, SX_XFTP_FLOG_FACK, rcv_id.ptr, &logged);
        if (res == SX_OK)
            rcp_remove(st, rcv_id.ptr);
    }
    pthread_mutex_unlock(&st->lock);
    give_seq(seq, res, logged);
    return res;
}

sx_status sx_xftp_fstore_expire(sx_xftp_fstore *st, int64_t now, int64_t ttl, size_t *n_deleted, uint64_t *seq)
{
    *n_deleted = 0;
    if (seq)
        *seq = 0;
    int64_t old = now - ttl;
    size_t pos = 0;
    sx_status res = SX_OK;
    for (;;) {
        uint8_t ids[EXPIRE_BATCH][ID_LEN];
        size_t n = 0;
        pthread_mutex_lock(&st->lock);
        size_t end = pos + EXPIRE_SCAN < st->files.cap ? pos + EXPIRE_SCAN : st->files.cap;
        for (; pos < end && n < EXPIRE_BATCH; pos++) {
            const file *f = sx_idmap_at(&st->files, pos);
            if (!f)
                continue;
            /* expiredFilePath: createdAt + fileTimePrecision < now - ttl */
            if (f->r.created_at + SX_XFTP_FILE_TIME_PRECISION < old)
                memcpy(ids[n++], f->r.sender_id, ID_LEN);
        }
        bool done = pos >= st->files.cap;
        pthread_mutex_unlock(&st->lock);
        for (size_t i = 0; i < n; i++) {
            uint64_t one = 0;
            sx_status d = sx_xftp_fstore_delete(st, ids[i], &one);
            if (d == SX_OK)
                (*n_deleted)++;
            if (seq && one > *seq)
                *seq = one;
            else if (d != SX_E_AUTH && res == SX_OK)
                res = d; /* keep going; the file stays for the next sweep */
        }
        if (done)
            break;
    }
    return res;
}

void sx_xftp_fstore_stats_get(sx_xftp_fstore *st, sx_xftp_fstore_stats *out)
{
    pthread_mutex_lock(&st->lock);
    out->files = st->files.count;
    out->uploaded = st->n_uploaded;
    out->recipients = st->rcps.count;
    out->used = st->used;
    out->quota = st->quota;
    pthread_mutex_unlock(&st->lock);
}

/* ---- durability ------------------------------------------------------------- */

/* The writer thread, after each batch (ok false: the log failed). */
static void batch_written(void *arg, uint64_t seq, bool ok)
{
    (void)seq;
    (void)ok;
    sx_xftp_fstore *st = arg;
    pthread_mutex_lock(&st->notify_mu);
    pthread_cond_broadcast(&st->notify_cv);
    if (st->on_durable)
        st->on_durable(st->on_durable_arg);
    pthread_mutex_unlock(&st->notify_mu);
}

sx_status sx_xftp_fstore_log_status(const sx_xftp_fstore *st, uint64_t seq)
{
    if (seq == 0 || !st->lw || sx_kit_logwriter_durable(st->lw) >= seq)
        return SX_OK;
    /* A failing writer keeps the record and tries again: it still waits. */
    if (!sx_kit_logwriter_dead(st->lw))
        return SX_E_WOULD_BLOCK;
    /* The batch that holds seq may have been written just before a later
     * one failed: the durable mark is set before the failure is. */
    return sx_kit_logwriter_durable(st->lw) >= seq ? SX_OK : SX_E_IO;
}

sx_status sx_xftp_fstore_wait_durable(sx_xftp_fstore *st, uint64_t seq)
{
    sx_status res = sx_xftp_fstore_log_status(st, seq);
    if (res != SX_E_WOULD_BLOCK)
        return res;
    /* The writer raises its mark before it takes notify_mu to broadcast, and
     * the mark is read here under notify_mu: no wake-up is lost. */
    pthread_mutex_lock(&st->notify_mu);
    while ((res = sx_xftp_fstore_log_status(st, seq)) == SX_E_WOULD_BLOCK) {
        /* A log that cannot be written now: the operator hears it at once
         * (the record stays queued and is written once the disk can take
         * it), as the SMP router's control port does. */
        if (sx_kit_logwriter_failed(st->lw)) {
            res = SX_E_IO;
            break;
        }
        pthread_cond_wait(&st->notify_cv, &st->notify_mu);
    }
    pthread_mutex_unlock(&st->notify_mu);
    return res;
}

void sx_xftp_fstore_set_durable_cb(sx_xftp_fstore *st, sx_xftp_fstore_durable_cb cb, void *arg)
{
    pthread_mutex_lock(&st->notify_mu);
    st->on_durable = cb;
    st->on_durable_arg = arg;
    pthread_mutex_unlock(&st->notify_mu);
}

/* ---- replay (readFileStore) ------------------------------------------------ */

static const char *excerpt(sx_slice line, char out[104])
{
    size_t n = line.len < 100 ? line.len : 100;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = line.ptr[i];
        out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    out[n] = '\0';
    return out;
}

static sx_status apply_rec(sx_xftp_fstore *st, const sx_xftp_flog_rec *r)
{
    file *f = r->type == SX_XFTP_FLOG_FACK ? NULL : sx_idmap_get(&st->files, r->id);
    switch (r->type) {
    case SX_XFTP_FLOG_FNEW: {
        if (f)
            return SX_E_AUTH; /* DUPLICATE_ */
        file *nf = calloc(1, sizeof *nf);
        if (!nf)
            return SX_E_NOMEM;
        memcpy(nf->r.sender_id, r->id, ID_LEN);
        memcpy(nf->r.snd_key, r->snd_key, r->snd_key_len);
        nf->r.snd_key_len = r->snd_key_len;
        nf->r.snd_alg = r->snd_alg;
        nf->r.size = r->size;
        memcpy(nf->r.digest, r->digest, r->digest_len);
        nf->r.digest_len = r->digest_len;
        nf->r.created_at = r->created_at;
        nf->r.status = r->status;
        nf->r.blocked = r->blocked;
        sx_status s = sx_idmap_put(&st->files, r->id, nf);
        if (s != SX_OK)
            file_free(nf);
        return s;
    }
    case SX_XFTP_FLOG_FPUT: {
        if (!f)
            return SX_E_AUTH;
        char mine[SX_XFTP_FLOG_PATH_MAX + 1];
        if (path_of(st->files_dir, r->id, mine, sizeof mine) == SX_OK && strcmp(mine, r->path) != 0)
            warnf(st, "file path in store log %s differs from %s; using the files folder", r->path, mine);
        if (!f->r.uploaded) {
            f->r.uploaded = true;
            st->n_uploaded++;
        }
        return SX_OK;
    }
    case SX_XFTP_FLOG_FADD:
        if (!f)
            return SX_E_AUTH;
        /* addRecipient one by one: the ones before a failure stay. */
        for (size_t i = 0; i < r->n_rcps; i++) {
            const sx_xftp_flog_rcp *rc = &r->rcps[i];
            sx_status s = rcp_add(st, f, rc->id, rc->key.key, rc->key.key_len, rc->key.alg);
            if (s != SX_OK)
                return s;
        }
        return SX_OK;
    case SX_XFTP_FLOG_FDEL:
        if (!f)
            return SX_E_AUTH;
        drop_file(st, f);
        return SX_OK;
    case SX_XFTP_FLOG_FBLK:
        if (!f)
            return SX_E_AUTH;
        f->r.status = SX_XFTP_FILE_BLOCKED;
        f->r.blocked = r->blocked;
        return SX_OK;
    case SX_XFTP_FLOG_FACK: {
        rcp *rc = sx_idmap_get(&st->rcps, r->id);
        if (!rc)
            return SX_E_AUTH;
        rcp_remove(st, r->id);
        return SX_OK;
    }
    default:
        return SX_E_USAGE;
    }
}

static void sl_warn(void *arg, const char *msg);

static sx_status replay(void *ctx, const char *path)
{
    sx_xftp_fstore *st = ctx;
    /* the kit's reader checks each line against the log's checksums
     * (kit/logsum.h): a damaged line is reported and never gets here */
    sx_kit_linereader lr;
    bool missing;
    sx_status res = sx_kit_linereader_open_log(&lr, path, sl_warn, st, &missing);
    if (res != SX_OK)
        return missing ? SX_OK : res;
    size_t lines = 0, bad = 0, skipped = 0;
    for (;;) {
        bool got, too_long;
        res = sx_kit_linereader_next(&lr, &got, &too_long);
        if (res != SX_OK || !got)
            break;
        size_t n = lr.len;
        if (n == 0 && !too_long)
            continue; /* the reference's lines of an empty file / trailing newline */
        lines++;
        sx_slice line = sx_slice_of(lr.line, n);
        char ex[104];
        sx_xftp_flog_rec rec;
        sx_status p = too_long || n > SX_XFTP_FLOG_LINE_MAX ? SX_E_LIMIT : sx_xftp_flog_parse(line, &rec);
        if (p == SX_E_NOMEM) {
            res = p;
            break;
        }
        if (p != SX_OK) {
            warnf(st, "Log parsing error (%s): %s", sx_status_str(p), excerpt(line, ex));
            bad++;
            continue;
        }
        sx_status a = apply_rec(st, &rec);
        sx_xftp_flog_cleanup(&rec);
        if (a == SX_E_NOMEM) {
            res = a;
            break;
        }
        if (a != SX_OK) {
            warnf(st, "Log processing error (%s): %s", a == SX_E_AUTH ? "AUTH" : sx_status_str(a),
                  excerpt(line, ex));
            skipped++;
        }
    }
    sx_kit_linereader_close(&lr);
    if (bad || skipped)
        warnf(st, "store log %s: %zu lines, %zu not parsed, %zu not applied", path, lines, bad, skipped);
    return res;
}

/* ---- compaction (writeFileStore) ------------------------------------------ */

/* Per file: FNEW with its status, FADD with all recipients, FPUT if it has
 * data. Written to path (truncated) and synced. */
/* Appends w's complete lines to the log and empties w. */
static sx_status snapshot_flush(sx_kit_log *log, sx_writer *w, size_t *lines)
{
    sx_status res = sx_writer_status(w);
    if (res == SX_OK && w->len > 0)
        res = sx_kit_log_append_lines(log, sx_slice_of(w->buf, w->len), *lines);
    w->len = 0;
    *lines = 0;
    return res;
}

/* The compacted log: FNEW, then FADD and FPUT where they apply, per file. */
static sx_status write_snapshot(void *ctx, sx_kit_log *log)
{
    sx_xftp_fstore *st = ctx;
    size_t lines = 0;
    sx_writer w;
    sx_writer_init_dynamic(&w, (size_t)SX_XFTP_FLOG_LINE_MAX * 4);
    sx_status res = SX_OK;
    sx_xftp_flog_rcp *items = calloc(SX_XFTP_MAX_RECIPIENTS, sizeof *items);
    if (!items)
        res = SX_E_NOMEM;
    char fpath[SX_XFTP_FLOG_PATH_MAX + 1];
    for (size_t i = 0; res == SX_OK && i < st->files.cap; i++) {
        const file *f = sx_idmap_at(&st->files, i);
        if (!f)
            continue;
        sx_xftp_flog_rec r;
        rec_of_file(f, &r);
        if (!sx_xftp_flog_encode(&w, &r) || !sx_write_str(&w, "\n"))
            break;
        lines++;
        if (f->n_rids > 0) {
            for (size_t k = 0; k < f->n_rids; k++) {
                const rcp *rc = sx_idmap_get(&st->rcps, f->rids[k]);
                memcpy(items[k].id, f->rids[k], ID_LEN);
                if (rc)
                    items[k].key = rc->key;
            }
            memset(&r, 0, sizeof r);
            r.type = SX_XFTP_FLOG_FADD;
            memcpy(r.id, f->r.sender_id, ID_LEN);
            r.rcps = items;
            r.n_rcps = f->n_rids;
            if (!sx_xftp_flog_encode(&w, &r) || !sx_write_str(&w, "\n"))
                break;
            lines++;
        }
        if (f->r.uploaded) {
            res = path_of(st->files_dir, f->r.sender_id, fpath, sizeof fpath);
            if (res != SX_OK)
                break;
            memset(&r, 0, sizeof r);
            r.type = SX_XFTP_FLOG_FPUT;
            memcpy(r.id, f->r.sender_id, ID_LEN);
            r.path = fpath;
            if (!sx_xftp_flog_encode(&w, &r) || !sx_write_str(&w, "\n"))
                break;
            lines++;
        }
        if (w.len >= SNAPSHOT_FLUSH)
            res = snapshot_flush(log, &w, &lines);
    }
    if (res == SX_OK)
        res = snapshot_flush(log, &w, &lines);
    if (res == SX_OK)
        res = sx_kit_log_sync(log);
    sx_writer_cleanup(&w);
    free(items);
    return res;
}

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static void sl_warn(void *arg, const char *msg)
{
    const sx_xftp_fstore *st = arg;
    warnf(st, "%s", msg);
}

/* The kit's start-up reports: warnings to warn, notes to note (or warn). */
static void sl_report(void *arg, sx_say_level level, const char *msg)
{
    const sx_xftp_fstore *st = arg;
    if (level < SX_SAY_WARN && st->note)
        st->note(st->warn_arg, msg);
    else
        warnf(st, "%s", msg);
}

/* readWriteStoreLog: the router kit's start-up sequence (.start recovery,
 * replay, compaction, backup, pruning) with this store's records. */
static sx_status start_log(sx_xftp_fstore *st)
{
    sx_kit_log_opts lo;
    memset(&lo, 0, sizeof lo);
    lo.sync = SX_KIT_SYNC_NEVER;
    lo.warn = sl_warn;
    lo.report = sl_report;
    lo.warn_arg = st;
    sx_kit_log_owner owner = {.ctx = st, .replay = replay, .snapshot = write_snapshot};
    return sx_kit_log_start(st->log_path, &lo, &owner, &st->log);
}

sx_status sx_xftp_fstore_open(const sx_xftp_fstore_opts *opts, sx_xftp_fstore **out)
{
    *out = NULL;
    if (!opts || !opts->files_dir || !opts->files_dir[0])
        return SX_E_USAGE;
    sx_xftp_fstore *st = calloc(1, sizeof *st);
    if (!st)
        return SX_E_NOMEM;
    pthread_mutex_init(&st->lock, NULL);
    pthread_mutex_init(&st->notify_mu, NULL);
    pthread_cond_init(&st->notify_cv, NULL);
    st->quota = opts->quota;
    st->warn = opts->warn;
    st->note = opts->note;
    st->warn_arg = opts->warn_arg;
    sx_idmap_init(&st->files);
    sx_idmap_init(&st->rcps);
    sx_status res = SX_E_NOMEM;
    st->files_dir = strdup(opts->files_dir);
    if (!st->files_dir)
        goto fail;
    if (opts->log_path && !(st->log_path = strdup(opts->log_path)))
        goto fail;
    res = SX_E_IO;
    char failed[SX_XFTP_FLOG_PATH_MAX + 1] = "";
    sx_status made = sx_fs_mkdirs(st->files_dir, 0755, failed, sizeof failed);
    if (made != SX_OK) {
        warnf(st, "cannot create files folder %s (at %s): %s", st->files_dir, failed[0] ? failed : st->files_dir,
              made == SX_E_LIMIT ? "path too long" : strerror(errno));
        goto fail;
    }
    struct stat sb;
    if (stat(st->files_dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        warnf(st, "files folder %s is not a folder", st->files_dir);
        goto fail;
    }
    if (st->log_path) {
        res = start_log(st);
        if (res == SX_OK)
        {
            /* A failed write is tried again every second (a full disk that
             * gets space back); changes are refused meanwhile. */
            sx_kit_logwriter_opts wo = {.cb = batch_written, .arg = st, .retry_ms = SX_XFTP_LOG_RETRY_MS};
            res = sx_kit_logwriter_start_opts(st->log, &wo, &st->lw);
        }
        if (res != SX_OK)
            goto fail;
    }
    /* The stored chunks' sizes (holds_data; the reference's countUsedStorage
     * counts every record). */
    size_t missing = 0;
    char fpath[SX_XFTP_FLOG_PATH_MAX + 1];
    for (size_t i = 0; i < st->files.cap; i++) {
        const file *f = sx_idmap_at(&st->files, i);
        if (!f)
            continue;
        if (holds_data(f))
            st->used += f->r.size;
        if (f->r.uploaded && f->r.status == SX_XFTP_FILE_ACTIVE &&
            path_of(st->files_dir, f->r.sender_id, fpath, sizeof fpath) == SX_OK && !exists(fpath)) {
            if (missing < 10)
                warnf(st, "chunk file %s of a stored file is missing", fpath);
            missing++;
        }
    }
    if (missing > 10)
        warnf(st, "%zu chunk files are missing in total", missing);
    if (st->quota > 0 && st->quota < st->used)
        warnf(st, "WARNING: storage quota is less than used storage, no files can be uploaded!");
    *out = st;
    return SX_OK;
fail:
    sx_xftp_fstore_close(st);
    return res;
}

void sx_xftp_fstore_close(sx_xftp_fstore *st)
{
    if (!st)
        return;
    sx_kit_logwriter_stop(st->lw); /* writes what is queued first */
    if (st->log)
        sx_kit_log_close(st->log);
    for (size_t i = 0; i < st->files.cap; i++) {
        file *f = sx_idmap_at(&st->files, i);
        if (f)
            file_free(f);
    }
    for (size_t i = 0; i < st->rcps.cap; i++)
        free(sx_idmap_at(&st->rcps, i));
    sx_idmap_free(&st->files);
    sx_idmap_free(&st->rcps);
    pthread_mutex_destroy(&st->lock);
    pthread_cond_destroy(&st->notify_cv);
    pthread_mutex_destroy(&st->notify_mu);
    free(st->files_dir);
    free(st->log_path);
    free(st);
}
