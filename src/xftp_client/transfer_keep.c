/* Whole-file XFTP transfers: the folders a receive keeps its chunks in
 * between runs (transfer_int.h, transfer.h). Each description has its own
 * private folder in the temporary folder, named after the description and
 * the user and locked while a receive uses it; a chunk file there is taken
 * when its size and digest check out; what is kept counts towards the room
 * a receive needs, and
 * the folders of receives nobody went on with are removed after
 * SX_XFTP_RECV_KEEP_DAYS, never one a receive holds (its lock). */
#define _GNU_SOURCE
#include "xftp_client/transfer_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto/hash.h"
#include "crypto/util.h"

#define RECV_PREFIX "xftp_recv_"
#define HASH_HEX 32 /* the first 16 bytes of the description's SHA-256 */

sx_status xt_rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? SX_OK : SX_E_IO;
    struct dirent *ent;
    char p[SX_XFTP_PATH_MAX];
    while ((ent = readdir(d)) != NULL) {
        if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, ".."))
            continue;
        int k = snprintf(p, sizeof p, "%s/%s", dir, ent->d_name);
        if (k > 0 && (size_t)k < sizeof p)
            unlink(p);
    }
    closedir(d);
    return rmdir(dir) == 0 ? SX_OK : SX_E_IO;
}

sx_status xt_recv_dir_name(const sx_xftp_fd *fd, const sx_xftp_transfer_opts *o, char *out, size_t cap)
{
    char *text = NULL;
    size_t len = 0;
    SX_TRY(sx_xftp_fd_print(fd, &text, &len));
    uint8_t h[SX_SHA256_LEN];
    sx_status st = sx_sha256(sx_slice_of((const uint8_t *)text, len), h);
    sx_wipe(text, len);
    free(text);
    SX_TRY(st);
    char hex[HASH_HEX + 1];
    for (size_t i = 0; i < HASH_HEX / 2; i++)
        snprintf(hex + 2 * i, 3, "%02x", h[i]);
    int k = snprintf(out, cap, "%s/" RECV_PREFIX "%u_%s", xt_tmp_dir(o), (unsigned)geteuid(), hex);
    return k > 0 && (size_t)k < cap ? SX_OK : SX_E_LIMIT;
}

/* Whether a chunk file left by an earlier run is whole: its size and
 * SHA-256 are the description's. */
bool xt_chunk_file_ok(const char *path, const sx_xftp_fd_chunk *ch)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return false;
    struct stat sb;
    bool ok = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size == (off_t)ch->size &&
              ch->digest_len == SX_SHA256_LEN;
    sx_hash_ctx h;
    uint8_t *buf = ok ? malloc(XT_BUF_LEN) : NULL;
    ok = ok && buf && sx_hash_init(&h, SX_HASH_SHA256) == SX_OK;
    if (ok) {
        for (;;) {
            size_t n = 0;
            if (xt_read_some(fd, buf, XT_BUF_LEN, &n) != SX_OK) {
                ok = false;
                break;
            }
            if (n == 0)
                break;
            if (sx_hash_update(&h, sx_slice_of(buf, n)) != SX_OK) {
                ok = false;
                break;
            }
        }
        uint8_t dg[SX_SHA256_LEN];
        ok = ok && sx_hash_final(&h, dg, sizeof dg) == SX_OK &&
             sx_slice_eq(sx_slice_of(dg, sizeof dg), sx_slice_of(ch->digest, ch->digest_len));
        sx_hash_cleanup(&h);
    }
    free(buf);
    close(fd);
    return ok;
}

sx_status xt_dir_lock(const char *dir, const sx_xftp_transfer_opts *o, char *lp, size_t cap, int *lock_fd)
{
    *lock_fd = -1;
    int k = snprintf(lp, cap, "%s/lock", dir);
    if (k <= 0 || (size_t)k >= cap)
        return SX_E_LIMIT;
    int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        xt_set_err(o, "Error creating %s: %s", lp, strerror(errno));
        return SX_E_IO;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return SX_E_USAGE;
    }
    *lock_fd = fd;
    return SX_OK;
}

/* The folder the chunks of a description are downloaded into, kept when a
 * receive stops early so that the same command goes on from there: named
 * after the SHA-256 of the description (as printed again, so that a file
 * and its link share it) and the user, made 0700 and refused when it is
 * someone else's or open to others. The name goes to out, a lock held
 * while the folder is in use to *lock_fd: two receives of one description
 * at once would write the same files. */
sx_status xt_recv_dir_open(const sx_xftp_fd *fd, const sx_xftp_transfer_opts *o, char *out, size_t cap,
                           int *lock_fd)
{
    SX_TRY(xt_recv_dir_name(fd, o, out, cap));
    if (mkdir(out, 0700) != 0 && errno != EEXIST) {
        xt_set_err(o, "Error creating %s: %s", out, strerror(errno));
        return SX_E_IO;
    }
    struct stat sb;
    if (lstat(out, &sb) != 0 || !S_ISDIR(sb.st_mode) || sb.st_uid != geteuid() || (sb.st_mode & 077) != 0) {
        xt_set_err(o, "The temporary folder %s is not a private folder of this user: remove it or choose another "
                      "temporary folder (TMPDIR)",
                   out);
        return SX_E_IO;
    }
    char lp[SX_XFTP_PATH_MAX];
    sx_status st = xt_dir_lock(out, o, lp, sizeof lp, lock_fd);
    if (st == SX_E_USAGE)
        xt_set_err(o, "Another receive of this description is under way (it uses %s): wait for it to end", out);
    if (st != SX_OK)
        return st;
    /* its age (sx_xftp_recv_prune) counts from its last use */
    (void)utimensat(AT_FDCWD, out, NULL, 0);
    return SX_OK;
}

sx_status sx_xftp_recv_kept(const sx_xftp_fd *fd, const sx_xftp_transfer_opts *o, int64_t *kept)
{
    SX_ENSURE(fd && kept, SX_E_USAGE);
    *kept = 0;
    char dir[SX_XFTP_PATH_MAX], p[SX_XFTP_PATH_MAX];
    SX_TRY(xt_recv_dir_name(fd, o, dir, sizeof dir));
    struct stat sb;
    if (lstat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode) || sb.st_uid != geteuid())
        return SX_OK;
    for (size_t i = 0; i < fd->chunk_count; i++) {
        int k = snprintf(p, sizeof p, "%s/%u", dir, fd->chunks[i].number);
        /* whole chunks only: the digest is checked when the receive runs */
        if (k > 0 && (size_t)k < sizeof p && lstat(p, &sb) == 0 && S_ISREG(sb.st_mode) &&
            sb.st_size == (off_t)fd->chunks[i].size)
            *kept += sb.st_size;
    }
    return SX_OK;
}

/* Whether name is RECV_PREFIX "<uid>_<HASH_HEX hex digits>" of this user. */
static bool own_recv_name(const char *name)
{
    char pre[64];
    int k = snprintf(pre, sizeof pre, RECV_PREFIX "%u_", (unsigned)geteuid());
    if (k <= 0 || strncmp(name, pre, (size_t)k) != 0)
        return false;
    const char *h = name + k;
    if (strlen(h) != HASH_HEX)
        return false;
    for (; *h; h++)
        if (!((*h >= '0' && *h <= '9') || (*h >= 'a' && *h <= 'f')))
            return false;
    return true;
}

size_t sx_xftp_recv_prune(const sx_xftp_fd *fd, const sx_xftp_transfer_opts *o, int64_t max_age_sec)
{
    char mine[SX_XFTP_PATH_MAX] = "", dir[SX_XFTP_PATH_MAX], lp[SX_XFTP_PATH_MAX];
    if (fd && xt_recv_dir_name(fd, o, mine, sizeof mine) != SX_OK)
        mine[0] = '\0';
    const char *tmp = xt_tmp_dir(o);
    DIR *d = opendir(tmp);
    if (!d)
        return 0;
    time_t now = time(NULL);
    size_t removed = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        if (!own_recv_name(ent->d_name))
            continue;
        int k = snprintf(dir, sizeof dir, "%s/%s", tmp, ent->d_name);
        if (k <= 0 || (size_t)k >= sizeof dir || !strcmp(dir, mine))
            continue; /* the folder of this receive: it goes on from there */
        struct stat sb;
        if (lstat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode) || sb.st_uid != geteuid() ||
            (int64_t)(now - sb.st_mtime) < max_age_sec)
            continue;
        /* a receive that holds the lock is using it, however old it looks */
        k = snprintf(lp, sizeof lp, "%s/lock", dir);
        if (k <= 0 || (size_t)k >= sizeof lp)
            continue;
        int lfd = open(lp, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        if (lfd < 0 && errno != ENOENT)
            continue;
        if (lfd >= 0 && flock(lfd, LOCK_EX | LOCK_NB) != 0) {
            close(lfd);
            continue;
        }
        if (xt_rm_tree(dir) == SX_OK) {
            removed++;
            xt_log(o, "removed %s: the chunks of a receive stopped %lld days ago", dir,
                   (long long)((now - sb.st_mtime) / 86400));
        }
        if (lfd >= 0)
            close(lfd);
    }
    closedir(d);
    return removed;
}
