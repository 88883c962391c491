/* XFTP router commands (PROTOCOL-NOTES F11-F26): decoding the request block,
 * authorization (signatures, or X25519 authenticators with the session key),
 * the file store calls, FPUT bodies handed to the worker's I/O thread (chunk
 * file write + incremental SHA-256, flow control released as they are
 * written), and FGET answers streamed from disk through the
 * secret box keyed by a fresh DH secret. */
#include "xftp_router/server_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/fileio.h"
#include "crypto/box.h"
#include "crypto/util.h"

/* FPUT body buffers (see "FPUT body" below, and XS_UPLOAD_HOLD_MAX). */
#define XS_UPBUF_SIZE (256 * 1024)

struct xs_upjob {
    xs_worker *w;
    xs_stream *st;     /* worker: NULL once detached */
    int cancelled;     /* atomic: set when detached; the I/O thread skips work */
    unsigned inflight; /* worker: buffers queued and not yet posted back */
    size_t unconsumed; /* worker: bytes taken and not yet consumed */
    xs_upbuf *fill;    /* worker: buffer being filled */
    bool reserved;
    uint32_t size;
    /* The body goes to a file of this upload's own (path, in <files>/.part),
     * renamed to the chunk's name (final_path) once complete and checked: a failed or
     * abandoned upload, whose cleanup may run after the client has already
     * retried, only ever removes its own file. */
    char path[XS_PATH_MAX];
    char final_path[XS_PATH_MAX];
    /* I/O thread while buffers are in flight, then the worker: */
    int fd;
    sx_hash_ctx hash;
    bool failed;
    uint8_t digest[32];
};

struct xs_upbuf {
    xs_upbuf *next;
    sx_loop_task task;
    xs_upjob *job;
    bool final;
    bool err;
    size_t len, cap;
    uint8_t data[];
};


/* ---- responses ---- */

void xs_respond_resp(xs_stream *st, uint16_t v, sx_slice corr, sx_slice ent, const sx_xftp_resp *r)
{
    xs_conn *c = st->c;
    uint8_t *cmd = malloc(SX_XFTP_BLOCK_SIZE);
    uint8_t *tr = malloc(SX_XFTP_BLOCK_SIZE);
    uint8_t *block = malloc(SX_XFTP_BLOCK_SIZE);
    sx_writer w;
    bool ok = cmd && tr && block;
    if (ok) {
        sx_writer_init_fixed(&w, cmd, SX_XFTP_BLOCK_SIZE);
        ok = sx_xftp_resp_write(&w, v, r);
    }
    if (ok) {
        sx_xftp_transmission t = {0};
        t.session_id = sx_slice_of(c->sid, c->sid_len);
        t.corr_id = corr;
        t.entity_id = ent;
        t.command = sx_writer_slice(&w);
        sx_writer tw;
        sx_writer_init_fixed(&tw, tr, SX_XFTP_BLOCK_SIZE);
        ok = sx_xftp_transmission_write(&tw, &t) &&
             sx_xftp_block_encode(sx_writer_slice(&tw), block) == SX_OK;
    }
    free(cmd);
    free(tr);
    if (!ok) {
        free(block);
        c->closing = true;
        return;
    }
    xs_respond(st, block, SX_XFTP_BLOCK_SIZE, NULL);
}

static void respond_error(xs_stream *st, uint16_t v, sx_slice corr, sx_slice ent, const sx_xftp_error *e)
{
    sx_xftp_resp r = {0};
    r.tag = SX_XFTP_R_ERR;
    r.err = *e;
    xs_respond_resp(st, v, corr, ent, &r);
}

void xs_respond_err(xs_stream *st, uint16_t v, sx_slice corr, sx_slice ent, sx_xftp_err_type e)
{
    sx_xftp_error err = sx_xftp_error_of(e);
    respond_error(st, v, corr, ent, &err);
}

static void respond_tag(xs_stream *st, uint16_t v, sx_slice corr, sx_slice ent, sx_xftp_resp_tag tag)
{
    sx_xftp_resp r = {0};
    r.tag = tag;
    xs_respond_resp(st, v, corr, ent, &r);
}

/* ---- authorization (PROTOCOL-NOTES F14, F26, C12) ---- */

static uint8_t dummy_der[3][SX_KEY_SPKI_MAX];
static size_t dummy_len[3];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static const sx_key_alg dummy_alg[3] = {SX_KEY_ED25519, SX_KEY_ED448, SX_KEY_X25519};

static void make_dummy_keys(void)
{
    for (int i = 0; i < 3; i++) {
        sx_key *k = NULL;
        sx_writer w;
        sx_writer_init_fixed(&w, dummy_der[i], sizeof dummy_der[i]);
        if (sx_key_generate(dummy_alg[i], &k) == SX_OK && sx_key_write_public(&w, k))
            dummy_len[i] = w.len;
        sx_key_free(k);
    }
}

static bool verify_key(const xs_conn *c, const sx_xftp_request *req, sx_slice key_der)
{
    sx_key_alg want;
    switch (req->auth_kind) {
    case SX_SMP_AUTH_ED25519: want = SX_KEY_ED25519; break;
    case SX_SMP_AUTH_ED448: want = SX_KEY_ED448; break;
    case SX_SMP_AUTH_AUTHENTICATOR: want = SX_KEY_X25519; break;
    case SX_SMP_AUTH_NONE:
    default: return false;
    }
    sx_key *k = NULL;
    if (sx_key_decode_public(key_der, SX_KEY_BIT(want), &k) != SX_OK)
        return false;
    bool ok = false;
    if (want != SX_KEY_X25519) {
        ok = sx_key_verify(k, req->t.signed_part, req->t.auth) == SX_OK;
    } else if (c->hs_key) {
        uint8_t pub[32], secret[32], nonce[SX_CB_NONCE_LEN];
        size_t n = 0;
        if (sx_key_raw_public(k, pub, sizeof pub, &n) == SX_OK && n == 32 &&
            sx_x25519_raw(c->hs_priv, pub, secret) == SX_OK) {
            sx_cb_nonce(req->t.corr_id, nonce);
            ok = sx_cb_verify(secret, nonce, req->t.auth, req->t.signed_part) == SX_OK;
        }
        sx_wipe(secret, sizeof secret);
    }
    sx_key_free(k);
    return ok;
}

/* PROTOCOL-NOTES C12: the same work as a real verification, result ignored. */
static void dummy_verify(const xs_conn *c, const sx_xftp_request *req)
{
    pthread_once(&dummy_once, make_dummy_keys);
    int i = req->auth_kind == SX_SMP_AUTH_ED448 ? 1 : req->auth_kind == SX_SMP_AUTH_AUTHENTICATOR ? 2 : 0;
    if (dummy_len[i])
        (void)verify_key(c, req, sx_slice_of(dummy_der[i], dummy_len[i]));
}

/* ---- commands ---- */

typedef struct xs_req {
    xs_stream *st;
    xs_conn *c;
    xs_server *s;
    uint16_t v;
    sx_xftp_request req;
    sx_slice corr, ent;
} xs_req;

static void fail(xs_req *x, sx_xftp_err_type e)
{
    xs_respond_err(x->st, x->v, x->corr, x->ent, e);
}

static sx_xftp_err_type err_of(sx_status st)
{
    switch (st) {
    case SX_E_AUTH: return SX_XFTP_ERR_AUTH;
    case SX_E_IO: return SX_XFTP_ERR_FILE_IO;
    default: return SX_XFTP_ERR_INTERNAL;
    }
}

/* Finds the record of the request's entity and checks its authorization;
 * false after answering the error. */
static bool authorize(xs_req *x, sx_xftp_frec *rec, sx_xftp_rkey *rkey, bool recipient)
{
    sx_status st = recipient ? sx_xftp_fstore_get_recipient(x->s->store, x->ent, rec, rkey)
                             : sx_xftp_fstore_get_sender(x->s->store, x->ent, rec);
    if (st == SX_E_AUTH) {
        dummy_verify(x->c, &x->req);
        fail(x, SX_XFTP_ERR_AUTH);
        return false;
    }
    if (st != SX_OK) {
        fail(x, SX_XFTP_ERR_INTERNAL);
        return false;
    }
    if (rec->status == SX_XFTP_FILE_BLOCKED) {
        sx_xftp_error e = sx_xftp_error_of(SX_XFTP_ERR_BLOCKED);
        e.blocked = rec->blocked;
        respond_error(x->st, x->v, x->corr, x->ent, &e);
        return false;
    }
    sx_slice key = recipient ? sx_slice_of(rkey->key, rkey->key_len) : sx_slice_of(rec->snd_key, rec->snd_key_len);
    if (!verify_key(x->c, &x->req, key)) {
        fail(x, SX_XFTP_ERR_AUTH);
        return false;
    }
    return true;
}

/* Keys of a list into a new array; NULL on failure. */
static sx_smp_pubkey *list_keys(const sx_smp_list *l)
{
    if (l->count == 0 || l->count > SX_XFTP_MAX_RECIPIENTS)
        return NULL;
    sx_smp_pubkey *keys = calloc(l->count, sizeof *keys);
    for (size_t i = 0; keys && i < l->count; i++) {
        if (sx_smp_list_key(l, i, &keys[i]) != SX_OK) {
            free(keys);
            return NULL;
        }
    }
    return keys;
}

/* SIDS / RIDS with the ids as NonEmpty(shortString). */
static void respond_ids(xs_req *x, const uint8_t *sender_id, const uint8_t (*rids)[SX_XFTP_FILE_ID_LEN],
                        size_t n)
{
    uint8_t *items = malloc(n * (SX_XFTP_FILE_ID_LEN + 1));
    if (!items) {
        fail(x, SX_XFTP_ERR_INTERNAL);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        items[i * (SX_XFTP_FILE_ID_LEN + 1)] = SX_XFTP_FILE_ID_LEN;
        memcpy(items + i * (SX_XFTP_FILE_ID_LEN + 1) + 1, rids[i], SX_XFTP_FILE_ID_LEN);
    }
    sx_xftp_resp r = {0};
    sx_xftp_ids ids = {n, sx_slice_of(items, n * (SX_XFTP_FILE_ID_LEN + 1))};
    if (sender_id) {
        r.tag = SX_XFTP_R_SIDS;
        r.sids.sender_id = sx_slice_of(sender_id, SX_XFTP_FILE_ID_LEN);
        r.sids.rcv_ids = ids;
    } else {
        r.tag = SX_XFTP_R_RIDS;
        r.rcv_ids = ids;
    }
    xs_respond_resp(x->st, x->v, x->corr, x->ent, &r);
    free(items);
}

static void save_reply_ids(xs_req *x);

/* The answer to a change goes out only once the change's store-log record
 * (seq) is in the file (xs_respond in server.c holds it until then); if the
 * log fails first, the client gets ERR e, what the command answers when the
 * store refuses the change for its log. */
static void hold_for_log(xs_req *x, uint64_t seq, sx_xftp_err_type e)
{
    if (seq == 0)
        return;
    save_reply_ids(x);
    x->st->hold_seq = seq;
    x->st->hold_err = e;
}

static bool new_allowed(const xs_req *x)
{
    const sx_xftp_server_opts *o = &x->s->opts;
    if (!o->new_files)
        return false;
    if (!o->create_password)
        return true;
    const sx_xftp_cmd *cmd = &x->req.cmd;
    return cmd->fnew.has_basic_auth &&
           sx_ct_equal(cmd->fnew.basic_auth, sx_slice_of(o->create_password, strlen(o->create_password)));
}

static void cmd_fnew(xs_req *x)
{
    const sx_xftp_cmd *cmd = &x->req.cmd;
    if (!verify_key(x->c, &x->req, cmd->fnew.file.snd_key.der)) {
        fail(x, SX_XFTP_ERR_AUTH);
        return;
    }
    if (!new_allowed(x)) {
        fail(x, SX_XFTP_ERR_AUTH);
        return;
    }
    if (!sx_xftp_chunk_size_allowed(cmd->fnew.file.size)) {
        fail(x, SX_XFTP_ERR_SIZE);
        return;
    }
    sx_smp_pubkey *keys = list_keys(&cmd->fnew.rcv_keys);
    size_t n = cmd->fnew.rcv_keys.count;
    uint8_t (*rids)[SX_XFTP_FILE_ID_LEN] = keys ? calloc(n, sizeof *rids) : NULL;
    uint8_t sid[SX_XFTP_FILE_ID_LEN];
    if (!rids) {
        fail(x, SX_XFTP_ERR_INTERNAL);
    } else {
        uint64_t seq = 0;
        sx_status st =
            sx_xftp_fstore_create(x->s->store, &cmd->fnew.file, keys, n, (int64_t)time(NULL), sid, rids, &seq);
        if (st == SX_OK) {
            hold_for_log(x, seq, SX_XFTP_ERR_INTERNAL);
            sx_xftp_stats_add(&x->s->stats, SX_XFTP_STAT_FILES_CREATED, 1);
            sx_xftp_stats_add(&x->s->stats, SX_XFTP_STAT_FILE_RECIPIENTS, (int64_t)n);
            respond_ids(x, sid, (const uint8_t (*)[SX_XFTP_FILE_ID_LEN])rids, n);
        } else
            fail(x, SX_XFTP_ERR_INTERNAL);
    }
    free(rids);
    free(keys);
}

static void cmd_fadd(xs_req *x, const sx_xftp_frec *rec)
{
    sx_smp_pubkey *keys = list_keys(&x->req.cmd.rcv_keys);
    size_t n = x->req.cmd.rcv_keys.count;
    uint8_t (*rids)[SX_XFTP_FILE_ID_LEN] = keys ? calloc(n, sizeof *rids) : NULL;
    if (!rids) {
        fail(x, SX_XFTP_ERR_INTERNAL);
    } else {
        uint64_t seq = 0;
        sx_status st = sx_xftp_fstore_add_recipients(x->s->store, rec->sender_id, keys, n, rids, &seq);
        if (st == SX_OK) {
            hold_for_log(x, seq, SX_XFTP_ERR_INTERNAL);
            sx_xftp_stats_add(&x->s->stats, SX_XFTP_STAT_FILE_RECIPIENTS, (int64_t)n);
            respond_ids(x, NULL, (const uint8_t (*)[SX_XFTP_FILE_ID_LEN])rids, n);
        } else
            fail(x, st == SX_E_AUTH ? SX_XFTP_ERR_AUTH : SX_XFTP_ERR_INTERNAL);
    }
    free(rids);
    free(keys);
}

static void save_reply_ids(xs_req *x)
{
    xs_stream *st = x->st;
    st->v = x->v;
    st->corr_len = x->corr.len <= sizeof st->corr ? x->corr.len : 0;
    if (st->corr_len)
        memcpy(st->corr, x->corr.ptr, st->corr_len);
    st->ent_len = x->ent.len <= sizeof st->ent ? x->ent.len : 0;
    if (st->ent_len)
        memcpy(st->ent, x->ent.ptr, st->ent_len);
}

static void cmd_fput(xs_req *x, const sx_xftp_frec *rec)
{
    xs_stream *st = x->st;
    save_reply_ids(x);
    memcpy(st->sender_id, rec->sender_id, SX_XFTP_FILE_ID_LEN);
    st->up_size = rec->size;
    st->up_got = 0;
    if (rec->uploaded) {
        /* PROTOCOL-NOTES F18: read and discard; OK when the body has the
         * chunk's length. */
        st->phase = XS_DRAIN;
        return;
    }
    if (sx_xftp_fstore_reserve(x->s->store, rec->size) != SX_OK) {
        fail(x, SX_XFTP_ERR_QUOTA);
        return;
    }
    xs_upjob *j = calloc(1, sizeof *j);
    if (!j) {
        sx_xftp_fstore_unreserve(x->s->store, rec->size);
        fail(x, SX_XFTP_ERR_INTERNAL);
        return;
    }
    j->w = st->c->w;
    j->st = st;
    j->fd = -1;
    j->reserved = true;
    j->size = rec->size;
    st->up = j;
    static unsigned long upload_seq; /* atomic: unique part-file names */
    unsigned long seq = __atomic_add_fetch(&upload_seq, 1, __ATOMIC_RELAXED);
    int k = -1;
    if (sx_xftp_fstore_path(x->s->store, rec->sender_id, j->final_path, sizeof j->final_path) == SX_OK) {
        const char *name = strrchr(j->final_path, '/');
        name = name ? name + 1 : j->final_path;
        k = snprintf(j->path, sizeof j->path, "%s/" XS_PART_DIR "/%s.%d.%lu", x->s->opts.files_dir, name,
                     (int)getpid(), seq);
    }
    if (k < 0 || (size_t)k >= sizeof j->path || sx_hash_init(&j->hash, SX_HASH_SHA256) != SX_OK) {
        j->path[0] = 0;
        xs_upload_abort(st);
        fail(x, SX_XFTP_ERR_INTERNAL);
        return;
    }
    j->fd = open(j->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (j->fd < 0) {
        xs_upload_abort(st);
        fail(x, SX_XFTP_ERR_FILE_IO);
        return;
    }
    memcpy(st->up_digest, rec->digest, rec->digest_len);
    st->up_digest_len = rec->digest_len;
    st->deadline_ms = sx_loop_now_ms() + x->s->file_timeout_ms;
    st->phase = XS_UPLOAD;
}

static void cmd_fget(xs_req *x, const sx_xftp_frec *rec)
{
    xs_stream *st = x->st;
    if (!rec->uploaded) {
        fail(x, SX_XFTP_ERR_NO_FILE);
        return;
    }
    char path[XS_PATH_MAX];
    if (sx_xftp_fstore_path(x->s->store, rec->sender_id, path, sizeof path) != SX_OK) {
        fail(x, SX_XFTP_ERR_INTERNAL);
        return;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || (uint64_t)sb.st_size < rec->size) {
        if (fd >= 0)
            close(fd);
        fail(x, SX_XFTP_ERR_AUTH); /* the record is there, its data is not */
        return;
    }
    sx_key *priv = NULL, *peer = NULL;
    uint8_t secret[32], nonce[SX_XFTP_NONCE_LEN], der[SX_KEY_SPKI_MAX];
    size_t slen = 0;
    sx_writer w;
    sx_writer_init_fixed(&w, der, sizeof der);
    bool ok = sx_key_decode_public(x->req.cmd.dh_key.der, SX_KEY_BIT(SX_KEY_X25519), &peer) == SX_OK &&
              sx_key_generate(SX_KEY_X25519, &priv) == SX_OK &&
              sx_key_dh(priv, peer, secret, sizeof secret, &slen) == SX_OK && slen == 32 &&
              sx_key_write_public(&w, priv);
    if (ok) {
        sx_random_bytes(nonce, sizeof nonce);
        ok = sx_xftp_sb_init(&st->sb, secret, nonce) == SX_OK;
    }
    sx_wipe(secret, sizeof secret);
    sx_key_free(priv);
    sx_key_free(peer);
    if (!ok) {
        close(fd);
        fail(x, SX_XFTP_ERR_INTERNAL);
        return;
    }
    st->file_fd = fd;
    st->file_off = 0;
    st->file_left = rec->size;
    st->encrypt = true;
    st->tag_pos = 0;
    sx_xftp_stats_add(&x->s->stats, SX_XFTP_STAT_FILE_DOWNLOADS, 1);
    sx_xftp_stats_downloaded(&x->s->stats, rec->sender_id, SX_XFTP_FILE_ID_LEN);
    sx_xftp_resp r = {0};
    r.tag = SX_XFTP_R_FILE;
    r.file.dh_key.der = sx_writer_slice(&w);
    r.file.dh_key.alg = SX_KEY_X25519;
    r.file.nonce = sx_slice_of(nonce, sizeof nonce);
    xs_respond_resp(st, x->v, x->corr, x->ent, &r);
}

void xs_stats_removed(xs_server *s, const sx_xftp_frec *rec, sx_xftp_stat k)
{
    sx_xftp_stats_add(&s->stats, k, 1);
    if (rec->uploaded) { /* its chunk file was there and is gone */
        sx_xftp_stats_add(&s->stats, SX_XFTP_STAT_FILES_COUNT, -1);
        sx_xftp_stats_add(&s->stats, SX_XFTP_STAT_FILES_SIZE, -(int64_t)rec->size);
    }
}

void xs_process_request(xs_stream *st, uint16_t v)
{
    xs_conn *c = st->c;
    xs_req x = {0};
    x.st = st;
    x.c = c;
    x.s = c->w->s;
    x.v = v;
    sx_slice tr;
    if (st->head_len != SX_XFTP_BLOCK_SIZE || sx_xftp_block_decode(sx_slice_of(st->head, st->head_len), &tr) != SX_OK) {
        fail(&x, SX_XFTP_ERR_BLOCK);
        return;
    }
    if (sx_xftp_request_decode(tr, v, sx_slice_of(c->sid, c->sid_len), &x.req) != SX_OK) {
        respond_error(st, v, x.req.reply_corr_id, x.req.reply_entity_id, &x.req.err);
        return;
    }
    x.corr = x.req.t.corr_id;
    x.ent = x.req.t.entity_id;
    sx_xftp_frec rec;
    sx_xftp_rkey rkey;
    sx_status s2;
    uint64_t seq = 0;
    switch (x.req.cmd.tag) {
    case SX_XFTP_C_FNEW:
        cmd_fnew(&x);
        return;
    case SX_XFTP_C_PING:
        respond_tag(st, v, x.corr, x.ent, SX_XFTP_R_PONG);
        return;
    case SX_XFTP_C_FADD:
        if (authorize(&x, &rec, &rkey, false))
            cmd_fadd(&x, &rec);
        return;
    case SX_XFTP_C_FPUT:
        if (authorize(&x, &rec, &rkey, false))
            cmd_fput(&x, &rec);
        return;
    case SX_XFTP_C_FDEL:
        if (!authorize(&x, &rec, &rkey, false))
            return;
        s2 = sx_xftp_fstore_delete(x.s->store, rec.sender_id, &seq);
        if (s2 == SX_OK) {
            hold_for_log(&x, seq, err_of(SX_E_IO));
            xs_stats_removed(x.s, &rec, SX_XFTP_STAT_FILES_DELETED);
            respond_tag(st, v, x.corr, x.ent, SX_XFTP_R_OK);
        } else
            fail(&x, err_of(s2));
        return;
    case SX_XFTP_C_FGET:
        if (authorize(&x, &rec, &rkey, true))
            cmd_fget(&x, &rec);
        return;
    case SX_XFTP_C_FACK:
        if (!authorize(&x, &rec, &rkey, true))
            return;
        s2 = sx_xftp_fstore_ack(x.s->store, x.ent, &seq);
        if (s2 == SX_OK) {
            hold_for_log(&x, seq, err_of(SX_E_IO));
            sx_xftp_stats_add(&x.s->stats, SX_XFTP_STAT_FILE_DOWNLOAD_ACKS, 1);
            respond_tag(st, v, x.corr, x.ent, SX_XFTP_R_OK);
        } else
            fail(&x, err_of(s2));
        return;
    }
    fail(&x, SX_XFTP_ERR_INTERNAL);
}

/* ---- FPUT body ----
 *
 * The worker copies the body into buffers of up to XS_UPBUF_SIZE and queues
 * them (full, at the end of the body, or after a read pass once the
 * connection's partial buffers hold XS_UPLOAD_HOLD_MAX) to its I/O thread, which writes them to the chunk file and hashes them
 * in order, then posts each buffer back. Only then are its bytes consumed for
 * HTTP/2 flow control, so the peer's window bounds what is buffered. A job
 * outlives its stream while buffers are in flight: a detached job is freed
 * (file removed, quota released) when the last one comes back. */

static void upload_answer(xs_stream *st, sx_xftp_err_type e, bool ok)
{
    st->phase = XS_DISCARD;
    sx_slice corr = sx_slice_of(st->corr, st->corr_len), ent = sx_slice_of(st->ent, st->ent_len);
    if (ok)
        respond_tag(st, st->v, corr, ent, SX_XFTP_R_OK);
    else
        xs_respond_err(st, st->v, corr, ent, e);
}

static xs_upbuf *buf_new(size_t cap)
{
    xs_upbuf *b = malloc(sizeof *b + cap);
    if (b) {
        memset(b, 0, sizeof *b);
        b->cap = cap;
    }
    return b;
}

/* Worker, with no buffer in flight. */
static void job_free(xs_upjob *j)
{
    if (j->fd >= 0)
        close(j->fd);
    sx_hash_cleanup(&j->hash);
    if (j->reserved) {
        if (j->path[0])
            (void)unlink(j->path);
        sx_xftp_fstore_unreserve(j->w->s->store, j->size);
    }
    free(j->fill);
    free(j);
}

static void detach(xs_stream *st, bool stream_open)
{
    xs_upjob *j = st->up;
    if (!j)
        return;
    st->up = NULL;
    j->st = NULL;
    __atomic_store_n(&j->cancelled, 1, __ATOMIC_RELEASE);
    nghttp2_session *h2 = st->c->h2;
    if (j->unconsumed > 0 && h2) {
        int r = stream_open ? nghttp2_session_consume(h2, st->id, j->unconsumed)
                            : nghttp2_session_consume_connection(h2, j->unconsumed);
        if (r != 0)
            st->c->closing = true;
    }
    j->unconsumed = 0;
    if (j->inflight == 0)
        job_free(j);
}

void xs_upload_abort(xs_stream *st)
{
    detach(st, true);
}

void xs_upload_gone(xs_stream *st)
{
    detach(st, false);
}

/* I/O thread (or the worker when there is none). */
static void io_process(xs_upbuf *b)
{
    xs_upjob *j = b->job;
    if (__atomic_load_n(&j->cancelled, __ATOMIC_ACQUIRE) || j->failed) {
        b->err = true;
        return;
    }
    bool ok = sx_fd_write_all(j->fd, b->data, b->len) == SX_OK && sx_hash_update(&j->hash, sx_slice_of(b->data, b->len)) == SX_OK;
    if (ok && b->final) {
        ok = sx_hash_final(&j->hash, j->digest, sizeof j->digest) == SX_OK;
        int r = close(j->fd);
        j->fd = -1;
        ok = ok && r == 0;
    }
    if (!ok) {
        j->failed = true;
        b->err = true;
    }
}

static void upload_finish(xs_stream *st)
{
    xs_upjob *j = st->up;
    if (!sx_ct_equal(sx_slice_of(j->digest, sizeof j->digest), sx_slice_of(st->up_digest, st->up_digest_len))) {
        xs_upload_abort(st);
        upload_answer(st, SX_XFTP_ERR_DIGEST, false);
        return;
    }
    /* Another upload of the same chunk may have completed meanwhile (a retry
     * on another connection): keep that one, drop ours, answer OK as for a
     * repeated FPUT. */
    sx_xftp_frec rec;
    sx_status s2 = sx_xftp_fstore_get_sender(st->c->w->s->store, sx_slice_of(st->sender_id, SX_XFTP_FILE_ID_LEN),
                                             &rec);
    if (s2 == SX_OK && rec.uploaded) {
        xs_upload_abort(st); /* removes our file, gives the reservation back */
        upload_answer(st, SX_XFTP_ERR_INTERNAL, true);
        return;
    }
    if (s2 == SX_OK && rename(j->path, j->final_path) != 0)
        s2 = SX_E_IO;
    if (s2 != SX_OK) {
        xs_upload_abort(st);
        upload_answer(st, err_of(s2), false);
        return;
    }
    /* From here a failure removes the chunk file itself (the record is gone). */
    memcpy(j->path, j->final_path, sizeof j->path);
    uint64_t seq = 0;
    s2 = sx_xftp_fstore_set_uploaded(st->c->w->s->store, st->sender_id, &seq);
    if (s2 != SX_OK) {
        xs_upload_abort(st);
        upload_answer(st, err_of(s2), false);
        return;
    }
    /* The OK below waits for the FPUT record (reply ids saved by cmd_fput). */
    st->hold_seq = seq;
    st->hold_err = err_of(SX_E_IO);
    j->reserved = false; /* the storage now belongs to the stored chunk */
    sx_xftp_stats *stats = &st->c->w->s->stats;
    sx_xftp_stats_add(stats, SX_XFTP_STAT_FILES_UPLOADED, 1);
    sx_xftp_stats_add(stats, SX_XFTP_STAT_FILES_COUNT, 1);
    sx_xftp_stats_add(stats, SX_XFTP_STAT_FILES_SIZE, (int64_t)st->up_size);
    xs_upload_abort(st);  /* frees the job: nothing is in flight */
    upload_answer(st, SX_XFTP_ERR_INTERNAL, true);
}

/* Worker: a buffer came back from the I/O thread. */
static void upload_done_cb(sx_loop *loop, sx_loop_task *t)
{
    (void)loop;
    xs_upbuf *b = t->data;
    xs_upjob *j = b->job;
    bool err = b->err, final = b->final;
    size_t len = b->len;
    free(b);
    j->inflight--;
    xs_stream *st = j->st;
    if (!st) {
        if (j->inflight == 0)
            job_free(j);
        return;
    }
    xs_conn *c = st->c;
    j->unconsumed -= len;
    if (len > 0 && c->h2 && nghttp2_session_consume(c->h2, st->id, len) != 0)
        c->closing = true;
    if (err) {
        xs_upload_abort(st);
        upload_answer(st, SX_XFTP_ERR_FILE_IO, false);
    } else if (final) {
        upload_finish(st);
    }
    xs_conn_flush(c); /* window update, answer; may close c */
}

static void io_submit(xs_upjob *j, xs_upbuf *b)
{
    xs_worker *w = j->w;
    b->job = j;
    b->next = NULL;
    b->task.cb = upload_done_cb;
    b->task.data = b;
    j->inflight++;
    if (!w->io.running) {
        io_process(b);
        sx_loop_post(w->loop, &b->task);
        return;
    }
    pthread_mutex_lock(&w->io.mu);
    if (w->io.tail)
        w->io.tail->next = b;
    else
        w->io.head = b;
    w->io.tail = b;
    pthread_cond_signal(&w->io.cv);
    pthread_mutex_unlock(&w->io.mu);
}

static void *io_main(void *arg)
{
    xs_worker *w = arg;
    xs_io *io = &w->io;
    char name[16];
    snprintf(name, sizeof name, "file io %u", w->index);
    prctl(PR_SET_NAME, name, 0, 0, 0); /* what ps and the benchmark see */
    pthread_mutex_lock(&io->mu);
    for (;;) {
        while (!io->head && !io->stop)
            pthread_cond_wait(&io->cv, &io->mu);
        xs_upbuf *b = io->head;
        if (!b)
            break;
        io->head = b->next;
        if (!io->head)
            io->tail = NULL;
        pthread_mutex_unlock(&io->mu);
        io_process(b);
        sx_loop_post(w->loop, &b->task);
        pthread_mutex_lock(&io->mu);
    }
    pthread_mutex_unlock(&io->mu);
    return NULL;
}

void xs_io_start(xs_worker *w)
{
    xs_io *io = &w->io;
    io->running = false;
    if (pthread_mutex_init(&io->mu, NULL) != 0)
        return;
    if (pthread_cond_init(&io->cv, NULL) != 0) {
        pthread_mutex_destroy(&io->mu);
        return;
    }
    io->head = io->tail = NULL;
    io->stop = false;
    io->running = true; /* before the thread can see it */
    if (pthread_create(&io->thread, NULL, io_main, w) != 0) {
        io->running = false;
        pthread_cond_destroy(&io->cv);
        pthread_mutex_destroy(&io->mu);
    }
}

void xs_io_stop(xs_worker *w)
{
    xs_io *io = &w->io;
    if (!io->running)
        return;
    pthread_mutex_lock(&io->mu);
    io->stop = true;
    pthread_cond_signal(&io->cv);
    pthread_mutex_unlock(&io->mu);
    pthread_join(io->thread, NULL);
    io->running = false;
    pthread_cond_destroy(&io->cv);
    pthread_mutex_destroy(&io->mu);
}

size_t xs_upload_data(xs_stream *st, const uint8_t *data, size_t len)
{
    if (st->up_got + len > st->up_size) {
        /* More than the chunk: SIZE now, the rest is discarded. */
        if (st->phase == XS_UPLOAD)
            xs_upload_abort(st);
        upload_answer(st, SX_XFTP_ERR_SIZE, false);
        return 0;
    }
    st->up_got += len;
    xs_upjob *j = st->up;
    if (st->phase != XS_UPLOAD || !j)
        return 0;
    size_t taken = 0;
    while (taken < len) {
        if (!j->fill && !(j->fill = buf_new(XS_UPBUF_SIZE))) {
            xs_upload_abort(st); /* consumes what was taken */
            upload_answer(st, SX_XFTP_ERR_INTERNAL, false);
            return taken;
        }
        xs_upbuf *b = j->fill;
        size_t k = b->cap - b->len;
        if (k > len - taken)
            k = len - taken;
        memcpy(b->data + b->len, data + taken, k);
        b->len += k;
        j->unconsumed += k;
        taken += k;
        if (b->len == b->cap) {
            j->fill = NULL;
            io_submit(j, b);
        }
    }
    return taken;
}

/* Takes the buffer being filled; a mostly empty one is shrunk to its
 * bytes, so that memory stays bounded by the flow-control window however
 * the body arrives. */
static xs_upbuf *take_fill(xs_upjob *j)
{
    xs_upbuf *b = j->fill;
    j->fill = NULL;
    if (b && b->len < b->cap / 2) {
        xs_upbuf *small = realloc(b, sizeof *b + b->len);
        if (small) {
            b = small;
            b->cap = b->len;
        }
    }
    return b;
}

size_t xs_upload_held(const xs_stream *st)
{
    return st->up && st->up->fill ? st->up->fill->len : 0;
}

void xs_upload_flush(xs_stream *st)
{
    xs_upjob *j = st->up;
    if (j && j->fill && j->fill->len > 0)
        io_submit(j, take_fill(j));
}

void xs_upload_end(xs_stream *st)
{
    if (st->up_got != st->up_size) {
        if (st->phase == XS_UPLOAD)
            xs_upload_abort(st);
        upload_answer(st, SX_XFTP_ERR_SIZE, false);
        return;
    }
    if (st->phase == XS_DRAIN) {
        upload_answer(st, SX_XFTP_ERR_INTERNAL, true);
        return;
    }
    xs_upjob *j = st->up;
    if (!j)
        return;
    xs_upbuf *b = j->fill ? take_fill(j) : buf_new(0);
    if (!b) {
        xs_upload_abort(st);
        upload_answer(st, SX_XFTP_ERR_INTERNAL, false);
        return;
    }
    b->final = true;
    io_submit(j, b); /* answered when it comes back */
}
