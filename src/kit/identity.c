/* Router kit: folder housekeeping, in-process certificate creation with
 * crypto/x509 (instead of the reference's calls to the openssl program, so no
 * openssl_*.conf, server.csr or ca.srl files are left) and the fingerprint
 * file (see identity.h). */
#include "kit/identity.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fileio.h"
#include "crypto/util.h"

#define MAX_TREE_DEPTH 64

/* Removes name (relative to dirfd) and, for a folder, everything inside it;
 * symbolic links are removed, never followed. */
static sx_status remove_at(int dirfd, const char *name, int depth, char *err, size_t errlen)
{
    struct stat sb;
    if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? SX_OK : SX_E_IO;
    if (S_ISDIR(sb.st_mode)) {
        if (depth >= MAX_TREE_DEPTH) {
            snprintf(err, errlen, "%s: folders nested too deeply", name);
            return SX_E_LIMIT;
        }
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return SX_E_IO;
        DIR *d = fdopendir(fd);
        if (!d) {
            close(fd);
            return SX_E_IO;
        }
        sx_status st = SX_OK;
        struct dirent *e;
        while (st == SX_OK && (e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            st = remove_at(fd, e->d_name, depth + 1, err, errlen);
        }
        closedir(d);
        if (st != SX_OK)
            return st;
        return unlinkat(dirfd, name, AT_REMOVEDIR) == 0 ? SX_OK : SX_E_IO;
    }
    return unlinkat(dirfd, name, 0) == 0 ? SX_OK : SX_E_IO;
}

/* Empties an existing folder (the reference's clearDirIfExists). */
static sx_status clear_dir(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return SX_OK;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return SX_E_IO;
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return SX_E_IO;
    }
    sx_status st = SX_OK;
    struct dirent *e;
    while (st == SX_OK && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        st = remove_at(fd, e->d_name, 0, err, errlen);
        if (st != SX_OK && (!err || !err[0]))
            snprintf(err, errlen, "%s/%s: cannot remove: %s", path, e->d_name, strerror(errno));
    }
    closedir(d);
    return st;
}

/* mkdir -p with mode 0777 less the umask, as the reference creates folders. */
static sx_status make_dirs(const char *path, char *err, size_t errlen)
{
    char failed[SX_KIT_PATH_MAX];
    sx_status st = sx_fs_mkdirs(path, 0777, failed, sizeof failed);
    if (st == SX_E_IO)
        snprintf(err, errlen, "%s: cannot create folder: %s", failed, strerror(errno));
    return st;
}

/* Writes text to path created with mode; a secret file (no group or other
 * bits in mode) gets exactly mode, even when it existed with a wider one. */
static sx_status write_text_mode(const char *path, const char *text, mode_t mode, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return SX_E_IO;
    }
    sx_status st = SX_OK;
    if ((mode & 077) == 0 && fchmod(fd, mode) != 0)
        st = SX_E_IO;
    size_t left = strlen(text);
    while (st == SX_OK && left > 0) {
        ssize_t w = write(fd, text, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            st = SX_E_IO;
            break;
        }
        text += w;
        left -= (size_t)w;
    }
    if (st == SX_OK && fsync(fd) != 0)
        st = SX_E_IO;
    if (close(fd) != 0 && st == SX_OK)
        st = SX_E_IO;
    if (st != SX_OK)
        snprintf(err, errlen, "%s: write failed", path);
    return st;
}

sx_status sx_kit_write_text(const char *path, const char *text, char *err, size_t errlen)
{
    return write_text_mode(path, text, 0666, err, errlen);
}

sx_status sx_kit_write_secret_text(const char *path, const char *text, char *err, size_t errlen)
{
    return write_text_mode(path, text, 0600, err, errlen);
}

/* Takes the group and other bits off path when it is a regular file that
 * has any (symbolic links are left alone, never followed). */
static void secure_one(const char *path, sx_kit_warn_cb warn, void *warn_arg, size_t *changed)
{
    struct stat sb;
    if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode) || (sb.st_mode & 077) == 0)
        return;
    mode_t was = sb.st_mode & 07777, now = was & ~(mode_t)077;
    if (chmod(path, now) != 0) {
        sx_kit_report(warn, warn_arg, "Warning: %s holds secrets and others can read it (mode %04o), "
                                      "and its mode cannot be changed: %s",
                      path, (unsigned)was, strerror(errno));
        return;
    }
    sx_kit_report(warn, warn_arg, "Warning: %s holds secrets and others could read it (mode %04o): "
                                  "changed to %04o",
                  path, (unsigned)was, (unsigned)now);
    if (changed)
        (*changed)++;
}

/* secure_one for every file of path's folder whose name is path's name
 * followed by '.' (backups, .bak, .start, .tmp, .sum). */
static void secure_siblings(const char *path, sx_kit_warn_cb warn, void *warn_arg, size_t *changed)
{
    const char *slash = strrchr(path, '/');
    if (!slash || !slash[1])
        return;
    char dir[SX_KIT_PATH_MAX];
    int dn = snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (dn < 0 || (size_t)dn >= sizeof dir)
        return;
    if (dn == 0)
        snprintf(dir, sizeof dir, "/");
    const char *base = slash + 1;
    size_t blen = strlen(base);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, base, blen) != 0 || e->d_name[blen] != '.')
            continue;
        char full[SX_KIT_PATH_MAX];
        int n = snprintf(full, sizeof full, "%s/%s", dn == 0 ? "" : dir, e->d_name);
        if (n > 0 && (size_t)n < sizeof full)
            secure_one(full, warn, warn_arg, changed);
    }
    closedir(d);
}

size_t sx_kit_secure_files(const sx_kit_paths *paths, sx_kit_warn_cb warn, void *warn_arg)
{
    size_t changed = 0;
    const char *one[] = {paths->ini, paths->ca_key, paths->server_key};
    for (size_t i = 0; i < sizeof one / sizeof one[0]; i++)
        if (one[i][0])
            secure_one(one[i], warn, warn_arg, &changed);
    const char *logs[] = {paths->store_log, paths->messages_log, paths->ntfs_log};
    for (size_t i = 0; i < sizeof logs / sizeof logs[0]; i++) {
        if (!logs[i][0])
            continue;
        secure_one(logs[i], warn, warn_arg, &changed);
        secure_siblings(logs[i], warn, warn_arg, &changed);
    }
    return changed;
}

/* CA and server keys and certificates, then the fingerprint file
 * (PROTOCOL-NOTES H5, H6). */
static sx_status make_certificates(const sx_kit_paths *p, sx_key_alg alg, const char *cn,
                                   uint8_t fp[SX_FINGERPRINT_LEN], char *err, size_t errlen)
{
    sx_key *ca_key = NULL, *srv_key = NULL;
    X509 *ca = NULL, *srv = NULL;
    const char *what = "generating keys";
    sx_status st = sx_key_generate(alg, &ca_key);
    if (st == SX_OK)
        st = sx_key_generate(alg, &srv_key);
    if (st == SX_OK) {
        what = "creating certificates";
        st = sx_x509_create_ca(ca_key, &ca);
    }
    if (st == SX_OK)
        st = sx_x509_create_server(ca_key, ca, srv_key, cn, &srv);
    if (st == SX_OK) {
        what = p->ca_key;
        st = sx_x509_write_key_file(p->ca_key, ca_key);
    }
    if (st == SX_OK) {
        what = p->ca_crt;
        st = sx_x509_write_cert_file(p->ca_crt, ca);
    }
    if (st == SX_OK) {
        what = p->server_key;
        st = sx_x509_write_key_file(p->server_key, srv_key);
    }
    if (st == SX_OK) {
        what = p->server_crt;
        st = sx_x509_write_cert_file(p->server_crt, srv);
    }
    char text[SX_FINGERPRINT_TEXT_SIZE + 1];
    if (st == SX_OK) {
        what = "computing the fingerprint";
        st = sx_x509_fingerprint(ca, fp);
    }
    if (st == SX_OK)
        st = sx_x509_fingerprint_text(fp, text, sizeof text - 1);
    if (st == SX_OK) {
        strcat(text, "\n");
        st = sx_kit_write_text(p->fingerprint, text, err, errlen);
        what = NULL; /* sx_kit_write_text wrote err */
    }
    if (st != SX_OK && what)
        snprintf(err, errlen, "%s: failed (%s)", what, sx_status_str(st));
    X509_free(srv);
    X509_free(ca);
    sx_key_free(srv_key);
    sx_key_free(ca_key);
    return st;
}

sx_status sx_kit_setup_identity(const sx_kit_paths *paths, sx_key_alg alg, const char *cn,
                                uint8_t fp[SX_FINGERPRINT_LEN], char *err, size_t errlen)
{
    SX_ENSURE(paths && cn && (err || errlen == 0), SX_E_USAGE);
    if (errlen)
        err[0] = 0;
    if (sx_crypto_init() != SX_OK) {
        snprintf(err, errlen, "crypto library initialisation failed");
        return SX_E_INTERNAL;
    }
    SX_TRY(clear_dir(paths->cfg_dir, err, errlen));
    SX_TRY(clear_dir(paths->log_dir, err, errlen));
    SX_TRY(make_dirs(paths->cfg_dir, err, errlen));
    SX_TRY(make_dirs(paths->log_dir, err, errlen));
    return make_certificates(paths, alg, cn, fp, err, errlen);
}

sx_status sx_kit_setup_delete(const sx_kit_paths *paths, char *err, size_t errlen)
{
    SX_ENSURE(paths && (err || errlen == 0), SX_E_USAGE);
    if (errlen)
        err[0] = 0;
    const char *dirs[] = {paths->cfg_dir, paths->log_dir};
    for (size_t i = 0; i < 2; i++) {
        SX_TRY(clear_dir(dirs[i], err, errlen));
        if (rmdir(dirs[i]) != 0 && errno != ENOENT) {
            snprintf(err, errlen, "%s: %s", dirs[i], strerror(errno));
            return SX_E_IO;
        }
    }
    return SX_OK;
}

sx_status sx_kit_setup_cert(const sx_kit_paths *paths, bool has_alg, sx_key_alg alg, const char *cn,
                            char *err, size_t errlen)
{
    sx_key *ca_key = NULL, *old_pub = NULL, *server_key = NULL;
    X509 *ca_crt = NULL, *old_crt = NULL, *new_crt = NULL;
    char old_cn[256] = "";
    sx_status st = sx_x509_read_key_file(paths->ca_key, SX_KEY_SIGN_ALGS, &ca_key);
    if (st != SX_OK) {
        snprintf(err, errlen, "cannot read the CA key %s", paths->ca_key);
        goto done;
    }
    st = sx_x509_read_cert_file(paths->ca_crt, &ca_crt);
    if (st != SX_OK) {
        snprintf(err, errlen, "cannot read %s", paths->ca_crt);
        goto done;
    }
    if (!has_alg || !cn) {
        st = sx_x509_read_cert_file(paths->server_crt, &old_crt);
        if (st == SX_OK)
            st = sx_x509_public_key(old_crt, &old_pub);
        if (st != SX_OK) {
            snprintf(err, errlen, "cannot read %s (give --sign-algorithm and --cn)", paths->server_crt);
            goto done;
        }
        if (!has_alg)
            alg = sx_key_alg_of(old_pub);
        if (!cn) {
            X509_NAME *subject = X509_get_subject_name(old_crt);
            if (!subject || X509_NAME_get_text_by_NID(subject, NID_commonName, old_cn, sizeof old_cn) <= 0) {
                snprintf(err, errlen, "%s has no CN (give --cn)", paths->server_crt);
                st = SX_E_PROTOCOL;
                goto done;
            }
            cn = old_cn;
        }
    }
    if (alg != SX_KEY_ED25519 && alg != SX_KEY_ED448) {
        snprintf(err, errlen, "the sign algorithm must be ED25519 or ED448");
        st = SX_E_USAGE;
        goto done;
    }
    st = sx_key_generate(alg, &server_key);
    if (st == SX_OK)
        st = sx_x509_create_server(ca_key, ca_crt, server_key, cn, &new_crt);
    if (st != SX_OK) {
        snprintf(err, errlen, "cannot create the certificate (%s)", sx_status_str(st));
        goto done;
    }
    st = sx_x509_write_key_file(paths->server_key, server_key);
    if (st == SX_OK)
        st = sx_x509_write_cert_file(paths->server_crt, new_crt);
    if (st != SX_OK)
        snprintf(err, errlen, "cannot write %s or %s", paths->server_key, paths->server_crt);
done:
    X509_free(new_crt);
    X509_free(old_crt);
    X509_free(ca_crt);
    sx_key_free(server_key);
    sx_key_free(old_pub);
    sx_key_free(ca_key);
    return st;
}

sx_status sx_kit_check_fingerprint(const sx_kit_paths *paths, uint8_t fp[SX_FINGERPRINT_LEN],
                                   char *err, size_t errlen)
{
    char line[128] = "";
    FILE *f = fopen(paths->fingerprint, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", paths->fingerprint, strerror(errno));
        return SX_E_IO;
    }
    bool got = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    if (!got) {
        snprintf(err, errlen, "%s: empty file", paths->fingerprint);
        return SX_E_IO;
    }
    line[strcspn(line, "\r\n")] = 0;

    X509 *ca = NULL;
    sx_status st = sx_x509_read_cert_file(paths->ca_crt, &ca);
    if (st != SX_OK) {
        snprintf(err, errlen, "%s: cannot read the CA certificate", paths->ca_crt);
        return st;
    }
    st = sx_x509_fingerprint(ca, fp);
    X509_free(ca);
    char text[SX_FINGERPRINT_TEXT_SIZE];
    if (st == SX_OK)
        st = sx_x509_fingerprint_text(fp, text, sizeof text);
    if (st != SX_OK) {
        snprintf(err, errlen, "%s: cannot compute the fingerprint", paths->ca_crt);
        return st;
    }
    if (strcmp(line, text) != 0) {
        snprintf(err, errlen, "Stored fingerprint is invalid.");
        return SX_E_AUTH;
    }
    return SX_OK;
}
