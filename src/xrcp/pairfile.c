/* XRCP pairing files (pairfile.h, PROTOCOL-NOTES X10). */
#include "xrcp/pairfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fileio.h"
#include "crypto/util.h"

#define MAGIC "XRCP"
#define KEY_LEN 32

static bool write_private(sx_writer *w, const sx_key *k)
{
    uint8_t raw[KEY_LEN];
    size_t n = 0;
    sx_status st = sx_key_raw_private(k, raw, sizeof raw, &n);
    bool ok = st == SX_OK && n == KEY_LEN ? sx_write_bytes(w, raw, KEY_LEN)
                                          : sx_writer_fail(w, st != SX_OK ? st : SX_E_USAGE);
    sx_wipe(raw, sizeof raw);
    return ok;
}

static bool write_head(sx_writer *w, char kind, const sx_xrcp_ca *ca)
{
    if (ca->key == NULL || ca->der == NULL || ca->der_len == 0)
        return sx_writer_fail(w, SX_E_USAGE);
    return sx_write_str(w, MAGIC) && sx_write_u8(w, SX_XRCP_PAIRFILE_VERSION) && sx_write_u8(w, (uint8_t)kind) &&
           write_private(w, ca->key) && sx_write_large(w, sx_slice_of(ca->der, ca->der_len));
}

bool sx_xrcp_ctrl_pairing_write(sx_writer *w, const sx_xrcp_ctrl_pairing *p)
{
    if (p == NULL || p->id_key == NULL)
        return sx_writer_fail(w, SX_E_USAGE);
    bool ok = write_head(w, 'C', &p->ca) && write_private(w, p->id_key) && sx_write_u8(w, p->paired ? 1 : 0);
    if (ok && p->paired)
        ok = sx_write_bytes(w, p->host_fp, SX_XRCP_FP_LEN) && sx_write_bytes(w, p->host_dh, SX_XRCP_KEY_LEN);
    return ok;
}

static bool write_opt_dh(sx_writer *w, const sx_key *k)
{
    if (k == NULL)
        return sx_write_u8(w, 0);
    return sx_write_u8(w, 1) && write_private(w, k);
}

bool sx_xrcp_host_pairing_write(sx_writer *w, const sx_xrcp_host_pairing *p)
{
    if (p == NULL)
        return sx_writer_fail(w, SX_E_USAGE);
    bool ok = write_head(w, 'H', &p->ca) && sx_write_u8(w, p->paired ? 1 : 0);
    if (ok && p->paired)
        ok = sx_write_bytes(w, p->ctrl_fp, SX_XRCP_FP_LEN) && sx_write_bytes(w, p->ctrl_idkey, SX_XRCP_KEY_LEN);
    return ok && write_opt_dh(w, p->dh) && write_opt_dh(w, p->prev_dh);
}

static bool read_flag(sx_reader *r, bool *out)
{
    uint8_t b = 0;
    if (!sx_read_u8(r, &b))
        return false;
    if (b > 1)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    *out = b == 1;
    return true;
}

static bool read_private(sx_reader *r, sx_key_alg alg, sx_key **out)
{
    sx_slice raw;
    if (!sx_read_bytes(r, KEY_LEN, &raw))
        return false;
    if (sx_key_from_raw_private(alg, raw, out) != SX_OK)
        return sx_reader_fail(r, SX_E_PROTOCOL);
    return true;
}

/* magic, version, kind, CA */
static sx_status read_head(sx_reader *r, char kind, sx_xrcp_ca *ca)
{
    uint8_t version = 0, k = 0;
    sx_slice der;
    sx_key *key = NULL;
    if (!sx_read_expect_str(r, MAGIC) || !sx_read_u8(r, &version) || !sx_read_u8(r, &k))
        return SX_E_PROTOCOL;
    if (version != SX_XRCP_PAIRFILE_VERSION || k != (uint8_t)kind)
        return SX_E_PROTOCOL;
    if (!read_private(r, SX_KEY_ED25519, &key) || !sx_read_large(r, &der) || der.len == 0) {
        sx_key_free(key);
        return SX_E_PROTOCOL;
    }
    sx_status st = sx_xrcp_ca_from(key, der, ca);
    sx_key_free(key);
    return st == SX_E_NOMEM || st == SX_E_AUTH ? st : st != SX_OK ? SX_E_PROTOCOL
                                                                  : SX_OK;
}

sx_status sx_xrcp_ctrl_pairing_read(sx_slice in, sx_xrcp_ctrl_pairing *out)
{
    if (out == NULL || (in.ptr == NULL && in.len != 0))
        return SX_E_USAGE;
    memset(out, 0, sizeof *out);
    if (in.len > SX_XRCP_PAIRFILE_MAX)
        return SX_E_LIMIT;
    sx_reader r;
    sx_reader_init_slice(&r, in);
    sx_status st = read_head(&r, 'C', &out->ca);
    if (st == SX_OK && (!read_private(&r, SX_KEY_ED25519, &out->id_key) || !read_flag(&r, &out->paired) ||
                        (out->paired && (!sx_read_copy(&r, out->host_fp, SX_XRCP_FP_LEN) ||
                                         !sx_read_copy(&r, out->host_dh, SX_XRCP_KEY_LEN))) ||
                        sx_reader_finish(&r) != SX_OK))
        st = SX_E_PROTOCOL;
    if (st != SX_OK)
        sx_xrcp_ctrl_pairing_clear(out);
    return st;
}

static bool read_opt_dh(sx_reader *r, sx_key **out)
{
    bool present = false;
    if (!read_flag(r, &present))
        return false;
    return !present || read_private(r, SX_KEY_X25519, out);
}

sx_status sx_xrcp_host_pairing_read(sx_slice in, sx_xrcp_host_pairing *out)
{
    if (out == NULL || (in.ptr == NULL && in.len != 0))
        return SX_E_USAGE;
    memset(out, 0, sizeof *out);
    if (in.len > SX_XRCP_PAIRFILE_MAX)
        return SX_E_LIMIT;
    sx_reader r;
    sx_reader_init_slice(&r, in);
    sx_status st = read_head(&r, 'H', &out->ca);
    if (st == SX_OK && (!read_flag(&r, &out->paired) ||
                        (out->paired && (!sx_read_copy(&r, out->ctrl_fp, SX_XRCP_FP_LEN) ||
                                         !sx_read_copy(&r, out->ctrl_idkey, SX_XRCP_KEY_LEN))) ||
                        !read_opt_dh(&r, &out->dh) || !read_opt_dh(&r, &out->prev_dh) ||
                        sx_reader_finish(&r) != SX_OK))
        st = SX_E_PROTOCOL;
    /* a previous key without a current one is not a state we write */
    if (st == SX_OK && out->dh == NULL && out->prev_dh != NULL)
        st = SX_E_PROTOCOL;
    if (st != SX_OK)
        sx_xrcp_host_pairing_clear(out);
    return st;
}

static sx_status save(const char *path, sx_writer *w)
{
    sx_status st = sx_writer_status(w);
    if (st != SX_OK)
        return st;
    char tmp[4200];
    if (path == NULL || snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return SX_E_USAGE;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return SX_E_IO;
    st = sx_fd_write_all(fd, w->buf, w->len);
    if (st == SX_OK && fsync(fd) != 0)
        st = SX_E_IO;
    if (close(fd) != 0 && st == SX_OK)
        st = SX_E_IO;
    if (st == SX_OK && rename(tmp, path) != 0)
        st = SX_E_IO;
    if (st != SX_OK)
        unlink(tmp);
    else
        sx_fs_sync_parent(path);
    return st;
}

static sx_status load(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
    if (path == NULL)
        return SX_E_USAGE;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return SX_E_IO;
    size_t n = 0;
    sx_status st = SX_OK;
    for (;;) {
        ssize_t k = read(fd, buf + n, cap - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            st = SX_E_IO;
            break;
        }
        if (k == 0)
            break;
        n += (size_t)k;
        if (n == cap) {
            st = SX_E_LIMIT; /* one byte over the bound */
            break;
        }
    }
    close(fd);
    *len = n;
    return st;
}

sx_status sx_xrcp_ctrl_pairing_save(const char *path, const sx_xrcp_ctrl_pairing *p)
{
    uint8_t buf[SX_XRCP_PAIRFILE_MAX];
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    bool ok = sx_xrcp_ctrl_pairing_write(&w, p);
    sx_status st = ok ? save(path, &w) : sx_writer_status(&w);
    sx_wipe(buf, sizeof buf);
    return st;
}

sx_status sx_xrcp_host_pairing_save(const char *path, const sx_xrcp_host_pairing *p)
{
    uint8_t buf[SX_XRCP_PAIRFILE_MAX];
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    bool ok = sx_xrcp_host_pairing_write(&w, p);
    sx_status st = ok ? save(path, &w) : sx_writer_status(&w);
    sx_wipe(buf, sizeof buf);
    return st;
}

sx_status sx_xrcp_ctrl_pairing_load(const char *path, sx_xrcp_ctrl_pairing *out)
{
    uint8_t buf[SX_XRCP_PAIRFILE_MAX + 1];
    size_t n = 0;
    sx_status st = load(path, buf, sizeof buf, &n);
    if (st == SX_OK)
        st = sx_xrcp_ctrl_pairing_read(sx_slice_of(buf, n), out);
    sx_wipe(buf, sizeof buf);
    return st;
}

sx_status sx_xrcp_host_pairing_load(const char *path, sx_xrcp_host_pairing *out)
{
    uint8_t buf[SX_XRCP_PAIRFILE_MAX + 1];
    size_t n = 0;
    sx_status st = load(path, buf, sizeof buf, &n);
    if (st == SX_OK)
        st = sx_xrcp_host_pairing_read(sx_slice_of(buf, n), out);
    sx_wipe(buf, sizeof buf);
    return st;
}
