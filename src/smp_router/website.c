/* The smp-server's generated static site (website.h): pages built with a
 * growing writer, every INI value escaped, files written atomically. */
#include "smp_router/website.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/writer.h"
#include "kit/html.h"

#define PAGE_LIMIT (1u << 20)

/* The link pages (the reference's link paths). */
static const char *const LINK_DIRS[] = {"contact", "invitation", "a", "c", "g", "r", "i"};

/* A row of plain text or a link (no <code>). */
static bool put_row(sx_writer *w, const char *label, const char *value)
{
    return sx_html_row(w, label, value, false);
}

static const char STYLE[] = "<style>body{font-family:sans-serif;max-width:48em;margin:2em auto;padding:0 1em;"
                            "line-height:1.4}th{text-align:left;padding-right:1em;vertical-align:top}"
                            "td{word-break:break-word}h2{margin-top:1.5em}</style>\n";

static bool page_start(sx_writer *w, const char *title)
{
    return sx_html_put(w, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>") &&
           sx_html_put_escaped(w, title) && sx_html_put(w, "</title>\n") && sx_html_put(w, STYLE) && sx_html_put(w, "</head>\n<body>\n");
}

void sx_router_site_ttl_text(int64_t ttl, char *out, size_t cap)
{
    if (!cap)
        return;
    out[0] = 0;
    if (ttl <= 0) {
        snprintf(out, cap, "0 sec");
        return;
    }
    int64_t s = ttl % 60, m = ttl / 60 % 60, h = ttl / 3600 % 24, d = ttl / 86400 % 30, mo = ttl / (86400 * 30);
    size_t n = 0;
    char part[48];
#define ADD(...)                                                         \
    do {                                                                 \
        snprintf(part, sizeof part, __VA_ARGS__);                        \
        int k_ = snprintf(out + n, cap - n, "%s%s", n ? " " : "", part); \
        if (k_ > 0)                                                      \
            n = (size_t)k_ + n < cap ? n + (size_t)k_ : cap - 1;         \
    } while (0)
    if (mo)
        ADD(mo == 1 ? "1 month" : "%lld months", (long long)mo);
    if (d) {
        if (d == 1)
            ADD("1 day");
        else if (d == 7)
            ADD("1 week");
        else if (d == 14)
            ADD("2 weeks");
        else
            ADD("%lld days", (long long)d);
    }
    if (h)
        ADD(h == 1 ? "1 hour" : "%lld hours", (long long)h);
    if (m)
        ADD("%lld min", (long long)m);
    if (s)
        ADD("%lld sec", (long long)s);
#undef ADD
}

/* The first .onion name of [TRANSPORT] host (comma-separated), or "". */
static void onion_host(const sx_ini *ini, char *out, size_t cap)
{
    out[0] = 0;
    const char *h = ini ? sx_ini_get(ini, "TRANSPORT", "host") : NULL;
    while (h && *h) {
        while (*h == ' ' || *h == ',')
            h++;
        const char *e = h;
        while (*e && *e != ',')
            e++;
        size_t n = (size_t)(e - h);
        while (n && h[n - 1] == ' ')
            n--;
        if (n > 6 && memcmp(h + n - 6, ".onion", 6) == 0 && n < cap) {
            memcpy(out, h, n);
            out[n] = 0;
            return;
        }
        h = e;
    }
}

static bool finish(sx_writer *w, bool ok, char **out, size_t *len, sx_status *st)
{
    ok = ok && sx_write_bytes(w, "", 1);
    *st = sx_writer_status(w);
    if (!ok || *st != SX_OK) {
        sx_writer_cleanup(w);
        if (*st == SX_OK)
            *st = SX_E_INTERNAL;
        return false;
    }
    size_t n = 0;
    uint8_t *buf = sx_writer_take(w, &n);
    if (!buf) {
        *st = SX_E_NOMEM;
        return false;
    }
    *out = (char *)buf;
    *len = n - 1;
    return true;
}

sx_status sx_router_site_index(const sx_router_config *cfg, const sx_ini *ini, const char *version, char **out,
                               size_t *len)
{
    SX_ENSURE(cfg && version && out && len, SX_E_USAGE);
    *out = NULL;
    *len = 0;
    sx_writer w;
    sx_writer_init_dynamic(&w, PAGE_LIMIT);
    const char *persistence = !cfg->store_log          ? "In-memory only"
                              : !cfg->restore_messages ? "Queues"
                                                       : "Queues and messages";
    char ttl[96];
    sx_router_site_ttl_text(cfg->msg_ttl, ttl, sizeof ttl);
    bool ok = page_start(&w, "SimpleX SMP server") &&
              sx_html_put(&w, "<h1>SimpleX SMP server</h1>\n"
                              "<p>This server relays messages of the SimpleX network: it keeps encrypted messages in "
                              "queues until the recipient's app receives them. This page tells who runs it and how it "
                              "is configured.</p>\n<h2>Configuration</h2>\n<table>\n") &&
              put_row(&w, "Persistence", persistence) &&
              put_row(&w, "Message expiration", cfg->msg_ttl > 0 ? ttl : "Never") &&
              put_row(&w, "Statistics enabled", cfg->log_stats ? "Yes" : "No") &&
              put_row(&w, "New queues allowed", cfg->new_queues ? "Yes" : "No") &&
              put_row(&w, "Password to create queues", cfg->has_create_password ? "Yes" : "No") &&
              sx_html_put(&w, "</table>\n<h2>Server information</h2>\n<table>\n") && put_row(&w, "Version", version);
    /* As the reference: without source_code the other fields are not shown. */
    const char *src = ini ? sx_ini_get(ini, "INFORMATION", "source_code") : NULL;
    if (src && *src) {
        ok = ok && put_row(&w, "Source code", src);
        ok = ok && sx_html_info_rows(&w, ini);
    } else {
        ok = ok && put_row(&w, "Source code", "not published: set source_code in [INFORMATION] of smp-server.ini");
    }
    char onion[256];
    onion_host(ini, onion, sizeof onion);
    if (onion[0])
        ok = ok && put_row(&w, "Onion address", onion);
    ok = ok && sx_html_put(&w, "</table>\n</body>\n</html>\n");
    sx_status st = SX_OK;
    finish(&w, ok, out, len, &st);
    return st;
}

/* The page of a connection link: the link itself is in the address (after
 * '#'); the page offers it to the app as a simplex: link. */
static sx_status link_page(char **out, size_t *len)
{
    sx_writer w;
    sx_writer_init_dynamic(&w, PAGE_LIMIT);
    bool ok = page_start(&w, "SimpleX connection link") &&
              sx_html_put(&w, "<h1>SimpleX connection link</h1>\n"
                              "<p>Someone shared this link so that you can connect with them in SimpleX Chat. "
                              "Open it in the app: on a phone with the app installed the link opens it; otherwise "
                              "install SimpleX Chat and paste this page's address into it.</p>\n"
                              "<p><a id=\"open\" href=\"/\">Open in SimpleX Chat</a></p>\n"
                              "<p><a href=\"/\">About this server</a></p>\n"
                              "<script>\n"
                              "(function(){var a=document.getElementById('open');"
                              "a.href='simplex:'+location.pathname+location.search+location.hash;})();\n"
                              "</script>\n</body>\n</html>\n");
    sx_status st = SX_OK;
    finish(&w, ok, out, len, &st);
    return st;
}

/* The app association files (the same apps and paths as the reference's). */
static const char APPLE_AASA[] =
    "{\"applinks\":{\"details\":[{\"appIDs\":[\"5NN7GUYB6T.chat.simplex.app\"],\"components\":["
    "{\"/\":\"/contact/*\"},{\"/\":\"/contact\"},{\"/\":\"/invitation/*\"},{\"/\":\"/invitation\"},"
    "{\"/\":\"/a/*\"},{\"/\":\"/a\"},{\"/\":\"/c/*\"},{\"/\":\"/c\"},{\"/\":\"/g/*\"},{\"/\":\"/g\"},"
    "{\"/\":\"/i/*\"},{\"/\":\"/i\"}]}]}}\n";
static const char ASSETLINKS[] =
    "[{\"relation\":[\"delegate_permission/common.handle_all_urls\"],"
    "\"target\":{\"namespace\":\"android_app\",\"package_name\":\"chat.simplex.app\","
    "\"sha256_cert_fingerprints\":["
    "\"5E:3E:DC:C2:00:FB:A8:D5:F4:88:F3:CA:4C:32:5B:05:78:C5:6A:9C:03:A1:CC:B5:92:9C:D7:5C:7E:57:E2:4D\","
    "\"3C:52:C4:FD:3C:AD:1C:07:C9:B0:0A:70:80:E3:58:FA:B9:FE:FC:B8:AF:5A:EC:14:77:65:F1:6D:0F:21:AD:85\","
    "\"AE:C1:95:DC:FD:46:14:BD:3A:91:EC:26:D1:D5:14:C8:75:71:C5:CC:8D:CF:48:08:3F:92:83:14:3C:A2:B9:A6\"]}}]\n";

static sx_status write_file(const char *dir, const char *sub, const char *name, const void *data, size_t len,
                            char *err, size_t errlen)
{
    char d[PATH_MAX], final_path[PATH_MAX], tmp[PATH_MAX];
    int k0 = snprintf(d, sizeof d, "%s%s%s", dir, sub ? "/" : "", sub ? sub : "");
    int k1 = snprintf(final_path, sizeof final_path, "%s/%s", d, name);
    int k2 = snprintf(tmp, sizeof tmp, "%s/.%s.tmp", d, name);
    if (k0 < 0 || (size_t)k0 >= sizeof d || k1 < 0 || (size_t)k1 >= sizeof final_path || k2 < 0 ||
        (size_t)k2 >= sizeof tmp) {
        snprintf(err, errlen, "web folder path is too long");
        return SX_E_LIMIT;
    }
    char failed[PATH_MAX];
    sx_status st = sx_fs_mkdirs(d, 0755, failed, sizeof failed);
    if (st != SX_OK) {
        snprintf(err, errlen, "cannot create %s: %s", st == SX_E_IO ? failed : d, strerror(errno));
        return st;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        return SX_E_IO;
    }
    bool ok = sx_fd_write_all(fd, data, len) == SX_OK;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, final_path) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", final_path, strerror(errno));
        unlink(tmp);
        return SX_E_IO;
    }
    return SX_OK;
}

sx_status sx_router_site_generate(const sx_router_config *cfg, const char *dir, const char *version, char *err,
                                  size_t errlen)
{
    char dummy[8];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof dummy;
    }
    SX_ENSURE(cfg && dir && version, SX_E_USAGE);
    sx_ini *ini = NULL;
    char *html = NULL, *link = NULL;
    size_t len = 0, link_len = 0;
    sx_status st = sx_ini_load(cfg->paths.ini, &ini, err, errlen);
    if (st == SX_OK)
        st = sx_router_site_index(cfg, ini, version, &html, &len);
    if (st == SX_OK)
        st = link_page(&link, &link_len);
    if (st != SX_OK && !err[0])
        snprintf(err, errlen, "cannot build the pages: %s", sx_status_str(st));
    if (st == SX_OK)
        st = write_file(dir, NULL, "index.html", html, len, err, errlen);
    for (size_t i = 0; st == SX_OK && i < sizeof LINK_DIRS / sizeof LINK_DIRS[0]; i++)
        st = write_file(dir, LINK_DIRS[i], "index.html", link, link_len, err, errlen);
    if (st == SX_OK)
        st = write_file(dir, "well-known", "apple-app-site-association", APPLE_AASA, sizeof APPLE_AASA - 1, err,
                        errlen);
    if (st == SX_OK)
        st = write_file(dir, "well-known", "assetlinks.json", ASSETLINKS, sizeof ASSETLINKS - 1, err, errlen);
    free(html);
    free(link);
    sx_ini_free(ini);
    return st;
}
