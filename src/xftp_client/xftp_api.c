/* The public XFTP client API (include/simplex/xftp.h) over the whole-file
 * transfers of xftp/transfer.h. Messages the transfer writes for the user
 * become the per-thread error detail (core/error.h). */
#include "simplex/xftp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "core/error.h"
#include "crypto/util.h"
#include "xftp_client/transfer.h"

struct sx_xftp_upload {
    sx_xftp_send_result res;
};

/* What a transfer says about its failure. */
typedef struct errs {
    char msg[1024];
    char code[32];
} errs;

/* The internal options for public ones; errors go to e. */
static void internal_opts(const sx_xftp_opts *o, sx_xftp_transfer_opts *t, errs *e)
{
    memset(t, 0, sizeof *t);
    memset(e, 0, sizeof *e);
    t->errbuf = e->msg;
    t->errbuf_len = sizeof e->msg;
    t->errcode = e->code;
    t->errcode_len = sizeof e->code;
    if (!o)
        return;
    t->servers = o->servers;
    t->server_count = o->server_count;
    t->recipients = o->recipients;
    t->tmp_dir = o->tmp_dir;
    t->retry = o->retry;
    t->client.timeout_ms = o->timeout_ms;
    t->progress = o->progress;
    t->progress_ud = o->progress_arg;
    t->log = o->log;
    t->log_ud = o->log_arg;
    t->client.cancel = o->cancel;
}

static bool cancelled(const sx_xftp_opts *o)
{
    return o && o->cancel && __atomic_load_n(o->cancel, __ATOMIC_RELAXED);
}

static sx_status failed(sx_status st, const errs *e)
{
    return sx_error_set(st, e->code, "%s", e->msg[0] ? e->msg : sx_strerror(st));
}

/* A call stopped by the program: what is left of it. */
static sx_status interrupted(const char *what, const char *left)
{
    return sx_error_set(SX_E_IO, NULL, "%s: interrupted; %s", what, left);
}

static sx_status start(void)
{
    sx_error_clear();
    if (sx_crypto_init() != SX_OK)
        return sx_error_set(SX_E_INTERNAL, NULL, "cannot initialise the crypto libraries");
    return SX_OK;
}

/* What is written into a folder is checked before anything is sent or
 * received: the folder exists, the program may create files in it, and it
 * has room for `need` bytes (0: not checked). `what` names the call, `role`
 * the folder ("for the descriptions"), `fix` the way out. */
static sx_status check_folder(const char *what, const char *dir, const char *role, int64_t need, const char *fix)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno == ENOENT)
            return sx_error_set(SX_E_USAGE, NULL, "%s: the folder %s %s does not exist: %s", what, dir, role, fix);
        return sx_error_set(SX_E_USAGE, NULL, "%s: cannot use the folder %s %s: %s; %s", what, dir, role,
                            strerror(errno), fix);
    }
    if (!S_ISDIR(st.st_mode))
        return sx_error_set(SX_E_USAGE, NULL, "%s: %s is not a folder (%s): %s", what, dir, role, fix);
    if (access(dir, W_OK | X_OK) != 0)
        return sx_error_set(SX_E_USAGE, NULL, "%s: cannot write into the folder %s %s: %s; %s", what, dir, role,
                            strerror(errno), fix);
    struct statvfs vfs;
    if (need > 0 && statvfs(dir, &vfs) == 0) {
        int64_t room = (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize;
        if (room < need)
            return sx_error_set(SX_E_IO, NULL, "%s: the folder %s %s has %lld bytes free, %lld are needed: %s", what,
                                dir, role, (long long)room, (long long)need, fix);
    }
    return SX_OK;
}

/* The temporary folder a transfer will use. */
static const char *tmp_folder(const sx_xftp_opts *o)
{
    if (o && o->tmp_dir)
        return o->tmp_dir;
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

#define TMP_FIX "choose another temporary folder (TMPDIR)"
#define DIR_FIX "pass a folder that exists and that you can write to"

sx_status sx_xftp_send_file(const char *path, const char *out_dir, const sx_xftp_opts *o, sx_xftp_upload **out)
{
    SX_TRY(start());
    if (!path || !out)
        return sx_error_set(SX_E_USAGE, NULL, "send: no file or no place for the result");
    *out = NULL;
    if (!o || !o->servers || o->server_count == 0)
        return sx_error_set(SX_E_USAGE, NULL, "send: no XFTP routers to upload to");
    if (o->recipients < 0 || o->recipients > 255)
        return sx_error_set(SX_E_USAGE, NULL, "send: the number of recipients must be 1 to 255");
    /* What would fail after the upload is checked before it: the file can
     * be read, the descriptions and the encrypted copy can be written. */
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return sx_error_set(SX_E_IO, NULL, "send: cannot read %s: %s", path, strerror(errno));
    struct stat sb;
    bool reg = fstat(in, &sb) == 0 && S_ISREG(sb.st_mode);
    close(in);
    if (!reg)
        return sx_error_set(SX_E_USAGE, NULL, "send: %s is not a regular file", path);
    const char *dir = out_dir ? out_dir : ".";
    SX_TRY(check_folder("send", dir, "for the descriptions", 0, DIR_FIX));
    SX_TRY(check_folder("send", tmp_folder(o), "for temporary files", sb.st_size, TMP_FIX));
    sx_xftp_upload *u = calloc(1, sizeof *u);
    if (!u)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    errs e;
    sx_xftp_transfer_opts t;
    internal_opts(o, &t, &e);
    sx_status st = sx_xftp_send(path, dir, &t, &u->res);
    if (st != SX_OK) {
        free(u);
        char part[4200];
        snprintf(part, sizeof part, "%s/%s.xftp.part", dir, strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
        struct stat ps;
        bool kept = stat(part, &ps) == 0;
        if (cancelled(o)) {
            if (!kept)
                return interrupted("send", "its temporary files are removed");
            return sx_error_set(SX_E_IO, NULL,
                                "send: interrupted; what was uploaded is recorded in %s: the same command goes on "
                                "from there (xftp del %s deletes it from the routers)",
                                part, part);
        }
        if (kept && st != SX_E_USAGE)
            return sx_error_set(st, e.code,
                                "%s (what was uploaded is recorded in %s: the same command goes on from there)",
                                e.msg[0] ? e.msg : sx_strerror(st), part);
        return failed(st, &e);
    }
    *out = u;
    return SX_OK;
}

const char *sx_xftp_upload_sender(const sx_xftp_upload *u)
{
    return u ? u->res.snd_path : NULL;
}

size_t sx_xftp_upload_recipients(const sx_xftp_upload *u)
{
    return u ? u->res.rcv_count : 0;
}

const char *sx_xftp_upload_recipient(const sx_xftp_upload *u, size_t i)
{
    return u && i < u->res.rcv_count ? u->res.rcv_paths[i] : NULL;
}

const char *sx_xftp_upload_link(const sx_xftp_upload *u)
{
    return u ? u->res.web_link : NULL;
}

void sx_xftp_upload_free(sx_xftp_upload *u)
{
    if (!u)
        return;
    sx_xftp_send_result_cleanup(&u->res);
    free(u);
}

sx_status sx_xftp_receive_file(const char *description, const char *dest, const sx_xftp_opts *o, char *out_path,
                               size_t cap)
{
    SX_TRY(start());
    if (!description || !dest)
        return sx_error_set(SX_E_USAGE, NULL, "receive: no description or no destination");
    if (out_path && cap < SX_XFTP_OUT_PATH_MAX)
        return sx_error_set(SX_E_USAGE, NULL, "receive: out_path must have room for %d bytes",
                            SX_XFTP_OUT_PATH_MAX);
    errs e;
    sx_xftp_transfer_opts t;
    internal_opts(o, &t, &e);
    sx_xftp_fd fd;
    sx_status st = sx_xftp_read_description(description, &fd, e.msg, sizeof e.msg);
    if (st != SX_OK)
        return failed(st, &e);
    /* The chunks of receives stopped long ago go (not this one's). */
    (void)sx_xftp_recv_prune(&fd, &t, (int64_t)SX_XFTP_RECV_KEEP_DAYS * 86400);
    /* The file goes into an existing folder, with room for it, as do the
     * chunks into the temporary folder, less those a stopped receive of
     * this description kept there: checked before they are moved. */
    int64_t kept = 0;
    if (sx_xftp_recv_kept(&fd, &t, &kept) != SX_OK || kept > fd.size)
        kept = 0;
    struct stat ds, ts;
    bool one_disk = stat(dest, &ds) == 0 && stat(tmp_folder(o), &ts) == 0 && ds.st_dev == ts.st_dev;
    st = check_folder("receive", dest, "to save the file in", fd.size, DIR_FIX);
    if (st == SX_OK) /* on one disk the chunks and the file are there at once */
        st = check_folder("receive", tmp_folder(o), "for temporary files",
                          (one_disk ? 2 * fd.size : fd.size) - kept, TMP_FIX);
    if (st != SX_OK) {
        sx_xftp_fd_cleanup(&fd);
        return st;
    }
    char path[SX_XFTP_PATH_MAX];
    st = sx_xftp_recv(&fd, dest, &t, path, sizeof path);
    sx_xftp_fd_cleanup(&fd);
    if (st != SX_OK && cancelled(o))
        return interrupted("receive", "the chunks downloaded so far are kept in the temporary folder for a "
                                      "re-run: the same command goes on from there");
    if (st != SX_OK)
        return failed(st, &e);
    if (out_path && cap > 0 && (size_t)snprintf(out_path, cap, "%s", path) >= cap)
        return sx_error_set(SX_E_LIMIT, NULL, "receive: the file was saved as %s, longer than out_path", path);
    return SX_OK;
}

sx_status sx_xftp_delete_file(const char *sender_description, const sx_xftp_opts *o)
{
    SX_TRY(start());
    if (!sender_description)
        return sx_error_set(SX_E_USAGE, NULL, "delete: no description");
    errs e;
    sx_xftp_transfer_opts t;
    internal_opts(o, &t, &e);
    struct stat ds;
    if (stat(sender_description, &ds) == 0 && S_ISDIR(ds.st_mode)) {
        /* the folder of a send that did not finish */
        sx_status pst = sx_xftp_delete_part(sender_description, &t);
        if (pst != SX_OK && cancelled(o))
            return sx_error_set(SX_E_IO, NULL, "delete: interrupted; some chunks may be left on the routers");
        return pst == SX_OK ? SX_OK : failed(pst, &e);
    }
    sx_xftp_fd fd;
    sx_status st = sx_xftp_read_description(sender_description, &fd, e.msg, sizeof e.msg);
    if (st != SX_OK)
        return failed(st, &e);
    st = sx_xftp_delete(&fd, &t);
    sx_xftp_fd_cleanup(&fd);
    if (st != SX_OK && cancelled(o))
        return sx_error_set(SX_E_IO, NULL, "delete: interrupted; some chunks may be left on the routers");
    return st == SX_OK ? SX_OK : failed(st, &e);
}

sx_status sx_xftp_describe(const char *description, char **text)
{
    SX_TRY(start());
    if (!description || !text)
        return sx_error_set(SX_E_USAGE, NULL, "describe: no description or no place for the text");
    *text = NULL;
    errs e = {0};
    sx_xftp_fd fd;
    sx_status st = sx_xftp_read_description(description, &fd, e.msg, sizeof e.msg);
    if (st != SX_OK)
        return failed(st, &e);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        sx_xftp_fd_cleanup(&fd);
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    }
    st = sx_xftp_print_info(&fd, f);
    sx_xftp_fd_cleanup(&fd);
    if (fclose(f) != 0 && st == SX_OK)
        st = SX_E_NOMEM;
    if (st != SX_OK) {
        free(buf);
        return sx_error_set(st, NULL, "describe: cannot print the description");
    }
    *text = buf;
    return SX_OK;
}

void sx_free(void *p)
{
    free(p);
}
