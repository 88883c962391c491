/* The xftp-server's generated static page (website.h): one self-contained
 * index.html built with a growing writer, every INI value escaped, written
 * atomically into [WEB] static_path. */
#include "xftp_router/website.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/writer.h"
#include "kit/html.h"

#define PAGE_LIMIT (1u << 20)

sx_status sx_xftp_site_html(const sx_ini *ini, const char *address, const char *version, char **out, size_t *len)
{
    SX_ENSURE(address && version && out && len, SX_E_USAGE);
    *out = NULL;
    *len = 0;
    sx_writer w;
    sx_writer_init_dynamic(&w, PAGE_LIMIT);
    bool ok = sx_html_put(&w, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                              "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                              "<title>XFTP server</title>\n"
                              "<style>body{font-family:sans-serif;max-width:48em;margin:2em auto;padding:0 1em}"
                              "th{text-align:left;padding-right:1em;vertical-align:top}"
                              "code{word-break:break-all}</style>\n"
                              "</head>\n<body>\n<h1>XFTP server</h1>\n"
                              "<p>This server stores encrypted file chunks for SimpleX file transfer.</p>\n"
                              "<table>\n");
    ok = ok && sx_html_row(&w, "Server address", address, true) && sx_html_row(&w, "Version", version, false);
    const char *src = ini ? sx_ini_get(ini, "INFORMATION", "source_code") : NULL;
    if (src && *src)
        ok = ok && sx_html_row(&w, "Source code", src, false);
    ok = ok && sx_html_info_rows(&w, ini);
    ok = ok && sx_html_put(&w, "</table>\n</body>\n</html>\n") && sx_write_bytes(&w, "", 1);
    sx_status st = sx_writer_status(&w);
    if (!ok || st != SX_OK) {
        sx_writer_cleanup(&w);
        return st == SX_OK ? SX_E_INTERNAL : st;
    }
    size_t n = 0;
    uint8_t *buf = sx_writer_take(&w, &n);
    if (!buf)
        return SX_E_NOMEM;
    *out = (char *)buf;
    *len = n - 1;
    return SX_OK;
}

static sx_status fail(char *err, size_t errlen, sx_status st, const char *what, const char *path)
{
    if (err && errlen)
        snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
    return st;
}

/* mkdir -p */
static sx_status make_dirs(const char *dir, char *err, size_t errlen)
{
    char failed[PATH_MAX];
    sx_status st = sx_fs_mkdirs(dir, 0755, failed, sizeof failed);
    if (st == SX_E_LIMIT && err && errlen)
        snprintf(err, errlen, "bad web folder path");
    if (st == SX_E_IO)
        return fail(err, errlen, SX_E_IO, "cannot create", failed);
    return st;
}

sx_status sx_xftp_site_generate(const char *ini_path, const char *dir, const char *address, const char *version,
                                char *err, size_t errlen)
{
    SX_ENSURE(ini_path && dir && address && version, SX_E_USAGE);
    char final_path[PATH_MAX], tmp_path[PATH_MAX];
    int k1 = snprintf(final_path, sizeof final_path, "%s/" SX_XFTP_SITE_INDEX, dir);
    int k2 = snprintf(tmp_path, sizeof tmp_path, "%s/." SX_XFTP_SITE_INDEX ".tmp", dir);
    if (k1 < 0 || (size_t)k1 >= sizeof final_path || k2 < 0 || (size_t)k2 >= sizeof tmp_path) {
        if (err && errlen)
            snprintf(err, errlen, "web folder path is too long");
        return SX_E_LIMIT;
    }
    sx_ini *ini = NULL;
    char *html = NULL;
    size_t len = 0;
    int fd = -1;
    sx_status st = sx_ini_load(ini_path, &ini, err, errlen);
    if (st != SX_OK)
        goto cleanup;
    st = sx_xftp_site_html(ini, address, version, &html, &len);
    if (st != SX_OK) {
        if (err && errlen)
            snprintf(err, errlen, "cannot build the page: %s", sx_status_str(st));
        goto cleanup;
    }
    st = make_dirs(dir, err, errlen);
    if (st != SX_OK)
        goto cleanup;
    fd = open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        st = fail(err, errlen, SX_E_IO, "cannot write", tmp_path);
        goto cleanup;
    }
    if (sx_fd_write_all(fd, html, len) != SX_OK || fsync(fd) != 0) {
        st = fail(err, errlen, SX_E_IO, "cannot write", tmp_path);
        goto cleanup;
    }
    int rc = close(fd);
    fd = -1;
    if (rc != 0 || rename(tmp_path, final_path) != 0) {
        st = fail(err, errlen, SX_E_IO, "cannot write", final_path);
        goto cleanup;
    }
cleanup:
    if (fd >= 0) {
        close(fd);
        unlink(tmp_path);
    } else if (st != SX_OK) {
        unlink(tmp_path);
    }
    free(html);
    sx_ini_free(ini);
    return st;
}
