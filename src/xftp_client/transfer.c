/* Whole-file XFTP send / receive / delete / info on top of the client
 * connection. Files are streamed through fixed buffers: the encrypted
 * temporary file is written and hashed in one pass, chunks are uploaded
 * from it by offset, downloaded chunks go to a temporary folder and are
 * decrypted from there into the destination. Chunks move on a few threads,
 * one per router group (transfer_par.c). The parts: see transfer_int.h. */
#define _GNU_SOURCE
#include "xftp_client/transfer_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/base64.h"
#include "core/fileio.h"
#include "core/writer.h"
#include "crypto/hash.h"
#include "crypto/util.h"
#include "smp/address.h"
#include "xftp_client/transfer_state.h"

/* ---- send ------------------------------------------------------------------ */

typedef sx_xftp_sent_chunk sent_chunk;

void sx_xftp_send_result_cleanup(sx_xftp_send_result *res)
{
    if (!res)
        return;
    free(res->rcv_paths);
    free(res->web_link);
    memset(res, 0, sizeof *res);
}

static void sent_cleanup(sent_chunk *sc, size_t n, int nrcv)
{
    for (size_t i = 0; sc && i < n; i++) {
        sx_key_free(sc[i].snd_key);
        for (int j = 0; sc[i].rcv_keys && j < nrcv; j++)
            sx_key_free(sc[i].rcv_keys[j]);
        free(sc[i].rcv_keys);
        free(sc[i].rcv_ids);
    }
    free(sc);
}

/* A router of the send list: its address as descriptions name it (without
 * the password) into srv, and the password FNEW carries (PROTOCOL-NOTES
 * A29, F16) into auth ("" when there is none). */
static sx_status parse_send_server(const char *text, sx_xftp_fd_server *srv, char auth[SX_SERVER_AUTH_MAX + 1])
{
    sx_server_address a;
    char pub[SX_SERVER_ADDRESS_MAX + 1];
    size_t len = 0;
    sx_status st = sx_server_address_parse(text, strlen(text), &a);
    if (st == SX_OK && a.scheme != SX_SERVER_XFTP)
        st = SX_E_PROTOCOL;
    if (st == SX_OK)
        st = sx_server_address_auth(&a, auth, SX_SERVER_AUTH_MAX + 1);
    if (st == SX_OK)
        st = sx_server_address_format(&a, false, pub, sizeof pub, &len);
    if (st == SX_OK)
        st = sx_xftp_fd_server_parse(pub, len, srv);
    sx_wipe(&a, sizeof a);
    return st;
}


/* What the workers share to record a chunk's progress in the state file. */
typedef struct upload_state {
    pthread_mutex_t mu;
    sx_xftp_send_state *s;
    const char *path;
} upload_state;

/* Records chunk i's ids (after FNEW) or that it is uploaded (after FPUT). */
static sx_status state_record(upload_state *us, size_t i, const sent_chunk *sc, int nrcv, bool uploaded)
{
    pthread_mutex_lock(&us->mu);
    sx_xftp_state_chunk *c = &us->s->chunks[i];
    c->snd_id = sc->snd_id;
    for (int j = 0; j < nrcv; j++)
        c->rcv_ids[j] = sc->rcv_ids[j];
    c->uploaded = uploaded;
    sx_status st = sx_xftp_state_save(us->s, us->path);
    pthread_mutex_unlock(&us->mu);
    return st;
}

static sx_status upload_chunk(conn_pool *pool, sent_chunk *sc, size_t number, int nrcv, int encfd,
                              int64_t offset, uint32_t size, const uint8_t *digest,
                              const char *auth, const sx_xftp_transfer_opts *o, upload_state *us)
{
    sx_status st = SX_E_IO;
    sx_xftp_client *c = NULL;
    bool created = sc->snd_id.len > 0; /* by an earlier run */
    xt_log(o, "uploading chunk %zu (%u bytes) to %s%s...", number, size, pool->servers[sc->server].text,
           created ? ", created there by an earlier run" : "");
    for (int a = 0; a < xt_retries(o); a++) {
        c = NULL;
        st = xt_pool_get(pool, sc->server, o, &c);
        if (st == SX_OK && !created) {
            st = sx_xftp_client_fnew(c, sc->snd_key, size, sx_slice_of(digest, 32),
                                     (const sx_key *const *)sc->rcv_keys, (size_t)nrcv,
                                     auth[0] ? auth : NULL, &sc->snd_id, sc->rcv_ids);
            created = st == SX_OK;
            if (created && state_record(us, number - 1, sc, nrcv, false) != SX_OK) {
                xt_set_err(o, "Error writing the state of the send %s: %s", us->path, strerror(errno));
                return SX_E_IO;
            }
        }
        if (st == SX_OK)
            st = sx_xftp_client_fput(c, sc->snd_key, sx_slice_of(sc->snd_id.bytes, sc->snd_id.len),
                                     encfd, offset, size);
        if (st == SX_OK || !xt_retryable(pool, c, st))
            break;
        xt_retry_pause(o, a, pool, sc->server, c, st);
    }
    if (st != SX_OK) {
        char why[XT_REASON_LEN];
        xt_fail_reason(o, pool, sc->server, XT_OP_UPLOAD, c, st, why, sizeof why);
        xt_set_err(o, "Error uploading chunk %zu to %s: %s", number, pool->servers[sc->server].text, why);
        return st;
    }
    if (state_record(us, number - 1, sc, nrcv, true) != SX_OK) {
        xt_set_err(o, "Error writing the state of the send %s: %s", us->path, strerror(errno));
        return SX_E_IO;
    }
    xt_log(o, "uploaded chunk %zu", number);
    return SX_OK;
}

typedef struct upload_ctx {
    sent_chunk *sc;
    int nrcv;
    int encfd; /* shared: the client reads it with pread */
    const sx_xftp_encrypted *e;
    int64_t *offsets;
    char (*auth)[SX_SERVER_AUTH_MAX + 1]; /* per router */
    upload_state *us;
} upload_ctx;

static sx_status upload_item(par_run *r, conn_pool *pool, const sx_xftp_transfer_opts *wo,
                             size_t i)
{
    upload_ctx *u = r->ctx;
    if (u->us->s->chunks[i].uploaded) { /* by an earlier run */
        xt_log(wo, "chunk %zu was uploaded by an earlier run", i + 1);
        return SX_OK;
    }
    return upload_chunk(pool, &u->sc[i], i + 1, u->nrcv, u->encfd, u->offsets[i], u->e->chunk_sizes[i],
                        u->e->chunk_digests[i], u->auth[u->sc[i].server], wo, u->us);
}

static sx_status key_der(const sx_key *k, sx_xftp_state_key *out)
{
    sx_writer w;
    sx_writer_init_fixed(&w, out->der, sizeof out->der);
    (void)sx_key_write_private(&w, k);
    SX_TRY(sx_writer_status(&w));
    out->len = w.len;
    return SX_OK;
}

/* A fresh state for the encrypted file e: a router picked at random from
 * the list for each chunk (getXFTPServer) and new keys. */
static sx_status state_new(const sx_xftp_encrypted *e, const struct stat *sb, const sx_xftp_fd_server *servers,
                           size_t n_servers, int nrcv, sx_xftp_send_state *s)
{
    SX_TRY(sx_xftp_state_alloc(s, e->chunk_count, nrcv));
    memcpy(s->key, e->key, sizeof s->key);
    memcpy(s->nonce, e->nonce, sizeof s->nonce);
    memcpy(s->digest, e->digest, sizeof s->digest);
    s->enc_size = e->enc_size;
    s->src_size = sb->st_size;
    s->src_mtime_sec = sb->st_mtim.tv_sec;
    s->src_mtime_nsec = sb->st_mtim.tv_nsec;
    sx_status st = SX_OK;
    for (size_t i = 0; st == SX_OK && i < e->chunk_count; i++) {
        sx_xftp_state_chunk *c = &s->chunks[i];
        c->number = (uint32_t)i + 1;
        c->size = e->chunk_sizes[i];
        memcpy(c->digest, e->chunk_digests[i], sizeof c->digest);
        uint32_t r = 0;
        sx_random_bytes(&r, sizeof r);
        snprintf(c->router, sizeof c->router, "%s", servers[n_servers == 1 ? 0 : r % n_servers].text);
        for (int j = -1; st == SX_OK && j < nrcv; j++) {
            sx_key *k = NULL;
            st = sx_key_generate(SX_KEY_ED25519, &k);
            if (st == SX_OK)
                st = key_der(k, j < 0 ? &c->snd_key : &c->rcv_keys[j]);
            sx_key_free(k);
        }
    }
    if (st != SX_OK)
        sx_xftp_state_cleanup(s);
    return st;
}

/* Whether the file encrypted again is the one the state describes. */
static bool state_matches(const sx_xftp_send_state *s, const sx_xftp_encrypted *e)
{
    if (s->enc_size != e->enc_size || s->chunk_count != e->chunk_count ||
        memcmp(s->digest, e->digest, sizeof s->digest) != 0)
        return false;
    for (size_t i = 0; i < e->chunk_count; i++)
        if (s->chunks[i].size != e->chunk_sizes[i] || memcmp(s->chunks[i].digest, e->chunk_digests[i], 32) != 0)
            return false;
    return true;
}

/* The index of router text in servers[0..*n), appended when missing (a
 * chunk an earlier run put on a router the list no longer has). */
static sx_status router_index(const char *text, sx_xftp_fd_server *servers, size_t *n, size_t cap, size_t *out)
{
    for (size_t k = 0; k < *n; k++)
        if (!strcmp(servers[k].text, text)) {
            *out = k;
            return SX_OK;
        }
    if (*n >= cap)
        return SX_E_INTERNAL;
    SX_TRY(sx_xftp_fd_server_parse(text, strlen(text), &servers[*n]));
    *out = (*n)++;
    return SX_OK;
}

/* sent chunks from the state: router index and decoded keys. */
static sx_status sent_from_state(sx_xftp_send_state *s, sx_xftp_fd_server *servers, size_t *n_servers,
                                 size_t cap, sent_chunk *sc)
{
    size_t listed = *n_servers;
    for (size_t i = 0; i < s->chunk_count; i++) {
        sx_xftp_state_chunk *c = &s->chunks[i];
        /* a chunk never created goes to a router of this run's list */
        bool in_list = false;
        for (size_t k = 0; k < listed; k++)
            in_list = in_list || !strcmp(servers[k].text, c->router);
        if (c->snd_id.len == 0 && !in_list) {
            uint32_t r = 0;
            sx_random_bytes(&r, sizeof r);
            snprintf(c->router, sizeof c->router, "%s", servers[r % listed].text);
        }
        SX_TRY(router_index(c->router, servers, n_servers, cap, &sc[i].server));
        SX_TRY(sx_key_decode_private(sx_slice_of(c->snd_key.der, c->snd_key.len), SX_KEY_SIGN_ALGS,
                                     &sc[i].snd_key));
        sc[i].snd_id = c->snd_id;
        sc[i].rcv_keys = calloc((size_t)s->recipients, sizeof *sc[i].rcv_keys);
        sc[i].rcv_ids = calloc((size_t)s->recipients, sizeof *sc[i].rcv_ids);
        if (!sc[i].rcv_keys || !sc[i].rcv_ids)
            return SX_E_NOMEM;
        for (int j = 0; j < s->recipients; j++) {
            SX_TRY(sx_key_decode_private(sx_slice_of(c->rcv_keys[j].der, c->rcv_keys[j].len), SX_KEY_SIGN_ALGS,
                                         &sc[i].rcv_keys[j]));
            sc[i].rcv_ids[j] = c->rcv_ids[j];
        }
    }
    return SX_OK;
}

/* The lock of a send's folder <out>/<name>.xftp.part (made 0700 when
 * missing, *made then): an exclusive flock of its file "lock", held until
 * the send or delete ends, so that two runs of one send never use the state
 * at once. SX_E_USAGE when another run holds it. */
static sx_status part_lock(const char *part, const char *what, const sx_xftp_transfer_opts *o, int *lock_fd,
                           bool *made)
{
    *lock_fd = -1;
    if (made)
        *made = false;
    if (made && mkdir(part, 0700) == 0)
        *made = true;
    else if (made && errno != EEXIST) {
        xt_set_err(o, "Error creating %s: %s", part, strerror(errno));
        return SX_E_IO;
    }
    struct stat sb;
    if (lstat(part, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        xt_set_err(o, "%s is not the folder of a send: remove it or send into another folder", part);
        return SX_E_USAGE;
    }
    char lp[SX_XFTP_PATH_MAX];
    sx_status st = xt_dir_lock(part, o, lp, sizeof lp, lock_fd);
    if (st == SX_E_USAGE)
        xt_set_err(o, "another run of this send is under way (it holds %s): wait for it to end, or stop it, "
                      "before %s",
                   lp, what);
    return st;
}

sx_status sx_xftp_send(const char *path, const char *out_dir, const sx_xftp_transfer_opts *o,
                       sx_xftp_send_result *res)
{
    SX_ENSURE(path && o && res && o->servers && o->server_count > 0, SX_E_USAGE);
    memset(res, 0, sizeof *res);
    int nrcv = o->recipients > 0 ? o->recipients : 1;
    SX_ENSURE(nrcv <= SX_XFTP_CLIENT_MAX_RECIPIENTS, SX_E_USAGE);
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    if (!*name || strlen(name) > 255) {
        xt_set_err(o, "Invalid file name");
        return SX_E_USAGE;
    }
    /* "out/" names the folder "out": no "out//" in the printed paths */
    char dir[SX_XFTP_PATH_MAX], part[SX_XFTP_PATH_MAX], state_path[SX_XFTP_PATH_MAX];
    int k = snprintf(dir, sizeof dir, "%s", out_dir ? out_dir : ".");
    if (k <= 0 || (size_t)k >= sizeof dir)
        return SX_E_LIMIT;
    for (size_t n = (size_t)k; n > 1 && dir[n - 1] == '/'; n--)
        dir[n - 1] = '\0';
    k = snprintf(part, sizeof part, "%s/%s.xftp.part", dir, name);
    if (k <= 0 || (size_t)k >= sizeof part)
        return SX_E_LIMIT;
    k = snprintf(state_path, sizeof state_path, "%s/state", part);
    if (k <= 0 || (size_t)k >= sizeof state_path)
        return SX_E_LIMIT;
    /* room for the list and for every chunk's router of an earlier run */
    size_t srv_cap = o->server_count + SX_XFTP_MAX_CHUNKS;
    size_t n_servers = o->server_count;
    sx_xftp_fd_server *servers = calloc(srv_cap, sizeof *servers);
    char(*auth)[SX_SERVER_AUTH_MAX + 1] = calloc(srv_cap, sizeof *auth);
    if (!servers || !auth) {
        free(servers);
        free(auth);
        return SX_E_NOMEM;
    }
    sx_status st = SX_OK;
    for (size_t i = 0; i < o->server_count && st == SX_OK; i++) {
        st = parse_send_server(o->servers[i], &servers[i], auth[i]);
        if (st != SX_OK) {
            st = SX_E_USAGE;
            char shown[SX_XFTP_FD_SERVER_MAX + 8];
            xt_address_shown(o->servers[i], shown, sizeof shown);
            xt_set_err(o, "Invalid server address: %s (expected xftp://fingerprint[:password]@host[:port])", shown);
        }
    }
    struct stat sbuf;
    if (st == SX_OK && stat(path, &sbuf) != 0) {
        xt_set_err(o, "Error reading %s: %s", path, strerror(errno));
        st = SX_E_IO;
    }
    if (st == SX_OK && sbuf.st_size > SX_XFTP_MAX_FILE_SIZE) {
        xt_set_err(o, "Files bigger than 1gb are not supported: %s is larger", path);
        st = SX_E_LIMIT;
    }
    /* one run of a send at a time: the folder of its state is locked */
    int lock_fd = -1;
    bool made_part = false;
    if (st == SX_OK)
        st = part_lock(part, "running it again", o, &lock_fd, &made_part);
    /* an earlier run of this send left its state */
    sx_xftp_send_state state;
    memset(&state, 0, sizeof state);
    bool resumed = false;
    struct stat pst;
    if (st == SX_OK && lstat(state_path, &pst) == 0) {
        st = sx_xftp_state_load(state_path, &state);
        if (st != SX_OK) {
            xt_set_err(o, "The state of an earlier send %s cannot be used: remove %s to start over", state_path,
                       part);
            st = SX_E_USAGE;
        } else if (state.src_size != sbuf.st_size || state.src_mtime_sec != sbuf.st_mtim.tv_sec ||
                   state.src_mtime_nsec != sbuf.st_mtim.tv_nsec) {
            xt_set_err(o, "%s changed since an earlier send of it stopped: remove %s to start over", path, part);
            st = SX_E_USAGE;
        } else if (state.recipients != nrcv) {
            xt_set_err(o, "An earlier send of %s was for %d recipient(s), not %d: run it with -n %d, or remove %s "
                          "to start over",
                       path, state.recipients, nrcv, state.recipients, part);
            st = SX_E_USAGE;
        }
        resumed = st == SX_OK;
        if (resumed) {
            size_t done = 0;
            for (size_t i = 0; i < state.chunk_count; i++)
                done += state.chunks[i].uploaded;
            xt_log(o, "going on with the send kept in %s: %zu of %zu chunks uploaded already", part, done,
                   state.chunk_count);
        }
    }
    char enc_path[SX_XFTP_PATH_MAX];
    bool have_enc = false;
    sx_xftp_encrypted e;
    memset(&e, 0, sizeof e);
    if (st == SX_OK)
        st = xt_temp_path(o, enc_path, sizeof enc_path);
    if (st == SX_OK) {
        xt_progress(o, "Encrypting", 0, 0);
        st = xt_encrypt_file_with(path, name, enc_path, &e, o->client.cancel, resumed ? state.key : NULL,
                                  resumed ? state.nonce : NULL);
        have_enc = st == SX_OK;
        if (st != SX_OK)
            xt_set_err(o, "Error encrypting file %s: %s", path, xt_local_reason(st));
        else
            xt_log(o, "encrypted %s to %s: %lld bytes in %zu chunks", path, enc_path, (long long)e.enc_size,
                   e.chunk_count);
    }
    if (st == SX_OK && resumed && !state_matches(&state, &e)) {
        xt_set_err(o, "%s does not encrypt to the file an earlier send began uploading: remove %s to start over",
                   path, part);
        st = SX_E_USAGE;
    }
    if (st == SX_OK && !resumed) {
        st = state_new(&e, &sbuf, servers, o->server_count, nrcv, &state);
        errno = 0;
        if (st == SX_OK)
            st = sx_xftp_state_save(&state, state_path);
        if (st != SX_OK)
            xt_set_err(o, "Error creating %s: %s", state_path, errno ? strerror(errno) : xt_local_reason(st));
    }
    sent_chunk *sc = NULL;
    int encfd = -1;
    if (st == SX_OK) {
        sc = calloc(e.chunk_count, sizeof *sc);
        encfd = open(enc_path, O_RDONLY | O_CLOEXEC);
        if (!sc)
            st = SX_E_NOMEM;
        else if (encfd < 0)
            st = SX_E_IO;
    }
    if (st == SX_OK) {
        st = sent_from_state(&state, servers, &n_servers, srv_cap, sc);
        if (st != SX_OK)
            xt_set_err(o, "The state of the send %s names a router or key that cannot be used: remove %s to start "
                          "over",
                       state_path, part);
    }
    upload_state us = {.s = &state, .path = state_path};
    pthread_mutex_init(&us.mu, NULL);
    upload_ctx uc = {.sc = sc, .nrcv = nrcv, .encfd = encfd, .e = &e, .auth = auth, .us = &us};
    size_t *keys = NULL;
    if (st == SX_OK) {
        uc.offsets = calloc(e.chunk_count, sizeof *uc.offsets);
        keys = calloc(e.chunk_count, sizeof *keys);
        if (!uc.offsets || !keys)
            st = SX_E_NOMEM;
    }
    for (size_t i = 0, off = 0; st == SX_OK && i < e.chunk_count; i++) {
        uc.offsets[i] = (int64_t)off;
        off += e.chunk_sizes[i];
        keys[i] = sc[i].server;
    }
    if (st == SX_OK)
        xt_log(o, "uploading %zu chunks...", e.chunk_count);
    if (st == SX_OK)
        st = xt_par_run_items(o, upload_item, &uc, e.chunk_count, keys, e.chunk_sizes, "Uploaded",
                           e.enc_size, servers, n_servers, NULL);
    pthread_mutex_destroy(&us.mu);
    free(uc.offsets);
    free(keys);
    if (encfd >= 0)
        close(encfd);
    if (have_enc)
        unlink(enc_path);
    /* descriptions */
    if (st == SX_OK) {
        char fname[300];
        snprintf(fname, sizeof fname, "%s.xftp", name);
        st = sx_xftp_unique_path(dir, fname, res->dir, sizeof res->dir);
        errno = 0;
        if (st == SX_OK && mkdir(res->dir, 0700) != 0)
            st = SX_E_IO;
        if (st != SX_OK)
            xt_set_err(o, "Error creating %s: %s", res->dir, errno ? strerror(errno) : xt_local_reason(st));
    }
    if (st == SX_OK) {
        res->rcv_paths = calloc((size_t)nrcv, sizeof *res->rcv_paths);
        if (!res->rcv_paths)
            st = SX_E_NOMEM;
    }
    for (int j = 0; st == SX_OK && j < nrcv; j++) {
        sx_xftp_fd fd;
        st = sx_xftp_make_description(&e, servers, n_servers, sc, j, &fd);
        if (st != SX_OK)
            break;
        k = snprintf(res->rcv_paths[j], SX_XFTP_PATH_MAX, "%s/rcv%d.xftp", res->dir, j + 1);
        st = k > 0 && k < SX_XFTP_PATH_MAX ? xt_write_fd_file(&fd, res->rcv_paths[j], 0644) : SX_E_LIMIT;
        if (st == SX_OK && j == 0)
            st = sx_xftp_web_link(&fd, &res->web_link);
        sx_xftp_fd_cleanup(&fd);
        res->rcv_count = (size_t)j + 1;
    }
    if (st == SX_OK) {
        sx_xftp_fd fd;
        st = sx_xftp_make_description(&e, servers, n_servers, sc, -1, &fd);
        if (st == SX_OK) {
            k = snprintf(res->snd_path, sizeof res->snd_path, "%s/snd.xftp.private", res->dir);
            st = k > 0 && (size_t)k < sizeof res->snd_path ? xt_write_fd_file(&fd, res->snd_path, 0600)
                                                          : SX_E_LIMIT;
            sx_xftp_fd_cleanup(&fd);
        }
    }
    /* the descriptions are written, or nothing was created on a router:
     * the state has no more use (a refused run keeps what it found, unless
     * it made the folder itself) */
    bool created = false;
    for (size_t i = 0; state.chunks && i < state.chunk_count; i++)
        created = created || state.chunks[i].snd_id.len > 0;
    if (lock_fd >= 0 && (st == SX_OK || (!created && (st != SX_E_USAGE || made_part))) &&
        xt_rm_tree(part) != SX_OK) {
        /* a leftover folder is not a failure of the send */
    }
    if (lock_fd >= 0)
        close(lock_fd);
    sent_cleanup(sc, e.chunk_count, nrcv);
    sx_xftp_encrypted_cleanup(&e);
    sx_xftp_state_cleanup(&state);
    free(servers);
    sx_wipe(auth, srv_cap * sizeof *auth);
    free(auth);
    if (st != SX_OK)
        sx_xftp_send_result_cleanup(res);
    return st;
}

/* ---- delete what an unfinished send created ---- */

sx_status sx_xftp_delete_part(const char *part, const sx_xftp_transfer_opts *o)
{
    SX_ENSURE(part, SX_E_USAGE);
    char state_path[SX_XFTP_PATH_MAX];
    int k = snprintf(state_path, sizeof state_path, "%s/state", part);
    if (k <= 0 || (size_t)k >= sizeof state_path)
        return SX_E_LIMIT;
    int lock_fd = -1;
    SX_TRY(part_lock(part, "deleting what it uploaded", o, &lock_fd, NULL));
    sx_xftp_send_state s;
    sx_status st = sx_xftp_state_load(state_path, &s);
    if (st != SX_OK) {
        close(lock_fd);
        xt_set_err(o, "%s holds no usable state of a send (%s)", part,
                   st == SX_E_IO ? strerror(errno) : "a damaged state file");
        return st == SX_E_IO ? SX_E_IO : SX_E_PROTOCOL;
    }
    sx_xftp_fd_server *servers = calloc(s.chunk_count, sizeof *servers);
    size_t n = 0;
    conn_pool pool = {.servers = servers};
    pool.c = calloc(s.chunk_count, sizeof *pool.c);
    st = servers && pool.c ? SX_OK : SX_E_NOMEM;
    for (size_t i = 0; st == SX_OK && i < s.chunk_count; i++) {
        const sx_xftp_state_chunk *c = &s.chunks[i];
        if (c->snd_id.len == 0)
            continue; /* never created */
        if (xt_cancelled(o)) {
            st = SX_E_IO;
            break;
        }
        size_t srv = 0;
        st = router_index(c->router, servers, &n, s.chunk_count, &srv);
        pool.n = n;
        sx_key *key = NULL;
        if (st == SX_OK)
            st = sx_key_decode_private(sx_slice_of(c->snd_key.der, c->snd_key.len), SX_KEY_SIGN_ALGS, &key);
        if (st != SX_OK) {
            xt_set_err(o, "The state %s names a router or key that cannot be used", state_path);
            break;
        }
        sx_xftp_client *cl = NULL;
        for (int a = 0; a < xt_retries(o); a++) {
            cl = NULL;
            st = xt_pool_get(&pool, srv, o, &cl);
            if (st == SX_OK)
                st = sx_xftp_client_fdel(cl, key, sx_slice_of(c->snd_id.bytes, c->snd_id.len));
            if (st == SX_OK || !xt_retryable(&pool, cl, st))
                break;
            xt_retry_pause(o, a, &pool, srv, cl, st);
        }
        sx_key_free(key);
        /* a chunk the router no longer has (deleted, expired) is gone already */
        if (st == SX_OK) {
            xt_log(o, "deleted chunk %u from %s", c->number, c->router);
        } else if (cl && sx_xftp_client_error(cl).type == SX_XFTP_ERR_AUTH) {
            xt_log(o, "chunk %u is not on %s any more (deleted or expired)", c->number, c->router);
            st = SX_OK;
        }
        if (st != SX_OK) {
            char why[XT_REASON_LEN];
            xt_fail_reason(o, &pool, srv, XT_OP_DELETE, cl, st, why, sizeof why);
            xt_set_err(o, "Error deleting chunk %u on %s: %s", c->number, c->router, why);
        }
    }
    xt_pool_cleanup(&pool);
    free(servers);
    sx_xftp_state_cleanup(&s);
    if (st == SX_OK && xt_rm_tree(part) != SX_OK) {
        xt_set_err(o, "The chunks are deleted but %s cannot be removed: %s", part, strerror(errno));
        st = SX_E_IO;
    }
    close(lock_fd);
    return st;
}

/* ---- receive ----------------------------------------------------------------- */

static sx_status download_chunk(conn_pool *pool, const sx_xftp_fd_chunk *ch, const char *path,
                                const sx_xftp_transfer_opts *o)
{
    sx_status st = SX_E_PROTOCOL;
    sx_xftp_client *c = NULL;
    /* into <path>.part, renamed when whole: a chunk file under its own
     * name is always a complete one */
    char part[SX_XFTP_PATH_MAX];
    int pk = snprintf(part, sizeof part, "%s.part", path);
    if (pk <= 0 || (size_t)pk >= sizeof part)
        return SX_E_LIMIT;
    /* any replica: the next one when a router fails */
    for (size_t ri = 0; ri < ch->replica_count; ri++) {
        const sx_xftp_fd_replica *r = &ch->replicas[ri];
        sx_key *k = NULL;
        st = sx_key_decode_private(sx_slice_of(r->key, r->key_len), SX_KEY_SIGN_ALGS, &k);
        if (st != SX_OK)
            continue;
        xt_log(o, "downloading chunk %u (%u bytes) from %s...", ch->number, ch->size,
               r->server < pool->n ? pool->servers[r->server].text : "?");
        for (int a = 0; a < xt_retries(o); a++) {
            c = NULL;
            int fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
            if (fd < 0) {
                xt_set_err(o, "Error downloading chunk %u: cannot write %s: %s", ch->number, part, strerror(errno));
                sx_key_free(k);
                return SX_E_IO;
            }
            st = xt_pool_get(pool, r->server, o, &c);
            if (st == SX_OK)
                st = sx_xftp_client_fget(c, k, sx_slice_of(r->id, r->id_len), ch->size,
                                         sx_slice_of(ch->digest, ch->digest_len), fd);
            if (close(fd) != 0 && st == SX_OK)
                st = SX_E_IO;
            if (st == SX_OK || !xt_retryable(pool, c, st))
                break;
            xt_retry_pause(o, a, pool, r->server, c, st);
        }
        sx_key_free(k);
        if (st == SX_OK && rename(part, path) != 0) {
            xt_set_err(o, "Error downloading chunk %u: cannot rename %s: %s", ch->number, part, strerror(errno));
            unlink(part);
            return SX_E_IO;
        }
        if (st == SX_OK) {
            xt_log(o, "downloaded chunk %u to %s", ch->number, path);
            return SX_OK;
        }
        unlink(part);
    }
    char why[XT_REASON_LEN];
    size_t srv = ch->replica_count > 0 ? ch->replicas[ch->replica_count - 1].server : SIZE_MAX;
    xt_fail_reason(o, pool, srv, XT_OP_DOWNLOAD, c, st, why, sizeof why);
    if (srv < pool->n)
        xt_set_err(o, "Error downloading chunk %u from %s: %s", ch->number, pool->servers[srv].text, why);
    else
        xt_set_err(o, "Error downloading chunk %u: %s", ch->number, why);
    return st;
}

typedef struct download_ctx {
    const sx_xftp_fd *fd;
    const char **paths;
} download_ctx;

static sx_status download_item(par_run *r, conn_pool *pool, const sx_xftp_transfer_opts *wo,
                               size_t i)
{
    download_ctx *d = r->ctx;
    /* a chunk an earlier run downloaded is not fetched again */
    if (xt_chunk_file_ok(d->paths[i], &d->fd->chunks[i])) {
        xt_log(wo, "chunk %u was downloaded by an earlier run: %s", d->fd->chunks[i].number, d->paths[i]);
        return SX_OK;
    }
    return download_chunk(pool, &d->fd->chunks[i], d->paths[i], wo);
}

static sx_status ack_chunks(conn_pool *pool, const sx_xftp_fd *fd, const sx_xftp_transfer_opts *o)
{
    for (size_t i = 0; i < fd->chunk_count; i++) {
        const sx_xftp_fd_chunk *ch = &fd->chunks[i];
        if (xt_cancelled(o))
            return SX_E_IO;
        if (ch->replica_count == 0)
            return SX_E_PROTOCOL;
        const sx_xftp_fd_replica *r = &ch->replicas[0];
        sx_key *k = NULL;
        SX_TRY(sx_key_decode_private(sx_slice_of(r->key, r->key_len), SX_KEY_SIGN_ALGS, &k));
        sx_status st = SX_E_IO;
        sx_xftp_client *c = NULL;
        for (int a = 0; a < xt_retries(o); a++) {
            c = NULL;
            st = xt_pool_get(pool, r->server, o, &c);
            if (st == SX_OK)
                st = sx_xftp_client_fack(c, k, sx_slice_of(r->id, r->id_len));
            if (st == SX_OK || !xt_retryable(pool, c, st))
                break;
            xt_retry_pause(o, a, pool, r->server, c, st);
        }
        sx_key_free(k);
        if (st != SX_OK) {
            char why[XT_REASON_LEN];
            xt_fail_reason(o, pool, r->server, XT_OP_ACK, c, st, why, sizeof why);
            xt_set_err(o, "Error acknowledging chunk %u on %s: %s", ch->number,
                       r->server < pool->n ? pool->servers[r->server].text : "?", why);
            return st;
        }
        xt_log(o, "acknowledged chunk %u on %s", ch->number,
               r->server < pool->n ? pool->servers[r->server].text : "?");
    }
    return SX_OK;
}

static sx_status recv_depth(const sx_xftp_fd *fd, const char *dest, const sx_xftp_transfer_opts *o,
                            char *out_path, size_t cap, int depth)
{
    if (fd->party != SX_XFTP_PARTY_RECIPIENT) {
        xt_set_err(o, "file description is not for recipient: this is the sender's (snd.xftp.private); receive with a "
                      "recipient's (rcvN.xftp)");
        return SX_E_USAGE;
    }
    char enc_dir[SX_XFTP_PATH_MAX];
    int lock_fd = -1;
    SX_TRY(xt_recv_dir_open(fd, o, enc_dir, sizeof enc_dir, &lock_fd));
    xt_log(o, "receiving %zu chunks (%lld bytes) from %zu router(s); they are kept in %s until the file is whole",
           fd->chunk_count, (long long)fd->size, fd->server_count, enc_dir);
    conn_pool pool = {.n = fd->server_count, .servers = fd->servers};
    pool.c = calloc(fd->server_count ? fd->server_count : 1, sizeof *pool.c);
    char(*paths)[SX_XFTP_PATH_MAX] = calloc(fd->chunk_count, sizeof *paths);
    const char **pp = calloc(fd->chunk_count, sizeof *pp);
    sx_status st = pool.c && paths && pp ? SX_OK : SX_E_NOMEM;
    size_t *keys = calloc(fd->chunk_count ? fd->chunk_count : 1, sizeof *keys);
    uint32_t *sizes = calloc(fd->chunk_count ? fd->chunk_count : 1, sizeof *sizes);
    if (!keys || !sizes)
        st = SX_E_NOMEM;
    for (size_t i = 0; st == SX_OK && i < fd->chunk_count; i++) {
        int k = snprintf(paths[i], SX_XFTP_PATH_MAX, "%s/%u", enc_dir, fd->chunks[i].number);
        pp[i] = paths[i];
        if (k <= 0 || k >= SX_XFTP_PATH_MAX)
            st = SX_E_LIMIT;
        const sx_xftp_fd_chunk *ch = &fd->chunks[i];
        keys[i] = ch->replica_count > 0 && ch->replicas[0].server < fd->server_count
                      ? ch->replicas[0].server
                      : SIZE_MAX;
        sizes[i] = ch->size;
    }
    download_ctx dc = {.fd = fd, .paths = pp};
    if (st == SX_OK)
        st = xt_par_run_items(o, download_item, &dc, fd->chunk_count, keys, sizes, "Downloaded",
                           fd->size, fd->servers, fd->server_count, &pool);
    free(keys);
    free(sizes);
    /* the whole encrypted file: SHA-512 and size */
    if (st == SX_OK) {
        sx_hash_ctx h;
        uint8_t *buf = malloc(XT_BUF_LEN);
        int64_t total = 0;
        st = buf ? sx_hash_init(&h, SX_HASH_SHA512) : SX_E_NOMEM;
        for (size_t i = 0; st == SX_OK && i < fd->chunk_count; i++) {
            int cfd = open(paths[i], O_RDONLY | O_CLOEXEC);
            if (cfd < 0) {
                st = SX_E_IO;
                break;
            }
            for (;;) {
                size_t n = 0;
                if (xt_cancelled(o)) {
                    st = SX_E_IO;
                    break;
                }
                st = xt_read_some(cfd, buf, XT_BUF_LEN, &n);
                if (st != SX_OK || n == 0)
                    break;
                total += (int64_t)n;
                st = sx_hash_update(&h, sx_slice_of(buf, n));
                if (st != SX_OK)
                    break;
            }
            close(cfd);
        }
        uint8_t dg[SX_SHA512_LEN];
        if (st == SX_OK)
            st = sx_hash_final(&h, dg, sizeof dg);
        if (buf)
            sx_hash_cleanup(&h);
        free(buf);
        if (st == SX_OK && !sx_slice_eq(sx_slice_of(dg, sizeof dg),
                                        sx_slice_of(fd->digest, fd->digest_len))) {
            xt_set_err(o, "File digest mismatch (DIGEST): the routers sent other data than the sender uploaded");
            xt_set_code(o, "DIGEST");
            st = SX_E_AUTH;
        }
        if (st == SX_OK && total != fd->size) {
            xt_set_err(o, "File size mismatch: the routers sent other data than the sender uploaded");
            st = SX_E_PROTOCOL;
        }
    }
    sx_xftp_fd inner;
    memset(&inner, 0, sizeof inner);
    bool follow = false;
    if (st == SX_OK && fd->has_redirect) {
        if (depth <= 0) {
            xt_set_err(o, "Redirect chain too long");
            st = SX_E_PROTOCOL;
        }
        char ypath[SX_XFTP_PATH_MAX];
        if (st == SX_OK)
            st = sx_xftp_unique_path(enc_dir, "redirect.yaml", ypath, sizeof ypath);
        /* the redirect file carries its own header; write it under enc_dir */
        char got[SX_XFTP_PATH_MAX];
        if (st == SX_OK)
            st = xt_decrypt_chunks(pp, fd->chunk_count, fd->size, fd->key, fd->nonce, ypath, got, sizeof got,
                                   o->client.cancel);
        if (st == SX_OK)
            st = ack_chunks(&pool, fd, o);
        char *text = NULL;
        size_t tl = 0;
        if (st == SX_OK)
            st = xt_read_text_file(got, &text, &tl);
        if (st == SX_OK) {
            st = sx_xftp_fd_parse(text, tl, &inner);
            if (st != SX_OK)
                xt_set_err(o, "Redirect: invalid file description");
            follow = st == SX_OK;
        }
        free(text);
    } else if (st == SX_OK) {
        xt_progress(o, "Decrypting", 0, 0);
        st = xt_decrypt_chunks(pp, fd->chunk_count, fd->size, fd->key, fd->nonce, dest, out_path, cap,
                               o->client.cancel);
        if (st == SX_E_AUTH) {
            xt_set_err(o, "Error decrypting file: incorrect auth tag (CRYPTO): the description or the file is damaged");
            xt_set_code(o, "CRYPTO");
        } else if (st == SX_E_USAGE)
            xt_set_err(o, "File already exists");
        else if (st != SX_OK)
            xt_set_err(o, "Error decrypting file: %s", xt_local_reason(st));
        if (st == SX_OK)
            st = ack_chunks(&pool, fd, o);
    }
    xt_pool_cleanup(&pool);
    /* The chunks stay for a re-run unless the file arrived or they are no
     * use: the routers sent other data, or refused the description (AUTH:
     * acknowledged or deleted, never to be downloaded again). */
    if (st == SX_OK || st == SX_E_AUTH || st == SX_E_PROTOCOL) {
        if (xt_rm_tree(enc_dir) != SX_OK) {
            /* a leftover temporary folder is not a failure of the transfer */
        }
    } else if (!xt_cancelled(o) && o->errbuf && o->errbuf_len > 0) {
        size_t l = strnlen(o->errbuf, o->errbuf_len);
        if (l + 1 < o->errbuf_len)
            snprintf(o->errbuf + l, o->errbuf_len - l,
                     " (the chunks downloaded so far are kept in %s: the same command goes on from there)", enc_dir);
    }
    close(lock_fd);
    free(paths);
    free(pp);
    if (follow) {
        st = recv_depth(&inner, dest, o, out_path, cap, depth - 1);
        sx_xftp_fd_cleanup(&inner);
    }
    return st;
}

sx_status sx_xftp_recv(const sx_xftp_fd *fd, const char *dest, const sx_xftp_transfer_opts *o,
                       char *out_path, size_t cap)
{
    SX_ENSURE(fd && dest && out_path && cap > 0, SX_E_USAGE);
    return recv_depth(fd, dest, o, out_path, cap, 1);
}

/* ---- delete and info ----------------------------------------------------------- */

sx_status sx_xftp_delete(const sx_xftp_fd *fd, const sx_xftp_transfer_opts *o)
{
    SX_ENSURE(fd, SX_E_USAGE);
    if (fd->party != SX_XFTP_PARTY_SENDER) {
        xt_set_err(o, "file description is not for sender: delete with the sender's (snd.xftp.private)");
        return SX_E_USAGE;
    }
    conn_pool pool = {.n = fd->server_count, .servers = fd->servers};
    pool.c = calloc(fd->server_count ? fd->server_count : 1, sizeof *pool.c);
    sx_status st = pool.c ? SX_OK : SX_E_NOMEM;
    for (size_t i = 0; st == SX_OK && i < fd->chunk_count; i++) {
        const sx_xftp_fd_chunk *ch = &fd->chunks[i];
        if (xt_cancelled(o)) {
            st = SX_E_IO;
            break;
        }
        if (ch->replica_count == 0) {
            st = SX_E_PROTOCOL;
            break;
        }
        const sx_xftp_fd_replica *r = &ch->replicas[0];
        sx_key *k = NULL;
        st = sx_key_decode_private(sx_slice_of(r->key, r->key_len), SX_KEY_SIGN_ALGS, &k);
        sx_xftp_client *c = NULL;
        /* with the key decoded: every attempt (a failed one leaves st set) */
        for (int a = 0; k && a < xt_retries(o); a++) {
            c = NULL;
            st = xt_pool_get(&pool, r->server, o, &c);
            if (st == SX_OK)
                st = sx_xftp_client_fdel(c, k, sx_slice_of(r->id, r->id_len));
            if (st == SX_OK || !xt_retryable(&pool, c, st))
                break;
            xt_retry_pause(o, a, &pool, r->server, c, st);
        }
        sx_key_free(k);
        if (st == SX_OK)
            xt_log(o, "deleted chunk %u from %s", ch->number, r->server < pool.n ? pool.servers[r->server].text : "?");
        if (st != SX_OK) {
            char why[XT_REASON_LEN];
            xt_fail_reason(o, &pool, r->server, XT_OP_DELETE, c, st, why, sizeof why);
            xt_set_err(o, "Error deleting chunk %u on %s: %s", ch->number,
                       r->server < pool.n ? pool.servers[r->server].text : "?", why);
        }
    }
    xt_pool_cleanup(&pool);
    return st;
}

sx_status sx_xftp_print_info(const sx_xftp_fd *fd, FILE *out)
{
    SX_ENSURE(fd && out, SX_E_USAGE);
    char sz[32];
    SX_TRY(sx_xftp_size_to_text(fd->size, sz, sizeof sz));
    fprintf(out, "%s\n", fd->party == SX_XFTP_PARTY_SENDER ? "Sender file description"
                                                           : "Recipient file description");
    fprintf(out, "File download size: %s\n", sz);
    fprintf(out, "File server(s):\n");
    /* servers in the reference's order, each with the sum of its replicas' sizes */
    size_t n = fd->server_count;
    size_t *order = calloc(n ? n : 1, sizeof *order);
    int64_t *sum = calloc(n ? n : 1, sizeof *sum);
    bool *used = calloc(n ? n : 1, sizeof *used);
    sx_status st = order && sum && used ? SX_OK : SX_E_NOMEM;
    for (size_t i = 0; st == SX_OK && i < fd->chunk_count; i++)
        for (size_t r = 0; r < fd->chunks[i].replica_count; r++) {
            size_t s = fd->chunks[i].replicas[r].server;
            if (s < n) {
                sum[s] += fd->chunks[i].size;
                used[s] = true;
            }
        }
    for (size_t i = 0; st == SX_OK && i < n; i++) {
        order[i] = i;
        for (size_t j = i; j > 0 && sx_xftp_fd_server_compare(&fd->servers[order[j - 1]],
                                                              &fd->servers[order[j]]) > 0;
             j--) {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    }
    for (size_t i = 0; st == SX_OK && i < n; i++) {
        size_t s = order[i];
        if (!used[s])
            continue;
        st = sx_xftp_size_to_text(sum[s], sz, sizeof sz);
        if (st == SX_OK)
            fprintf(out, "%s: %s\n", fd->servers[s].text, sz);
    }
    free(order);
    free(sum);
    free(used);
    return st;
}

