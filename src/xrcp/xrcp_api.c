/* The public XRCP API (include/simplex/xrcp.h) over the controller and
 * host objects (ctrl.h, host.h), the pairing files (pairfile.h) and the
 * multicast sockets (discovery.h). */
#include "simplex/xrcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "crypto/util.h"
#include "xrcp/addrs.h"
#include "xrcp/ctrl.h"
#include "xrcp/discovery.h"
#include "xrcp/host.h"
#include "xrcp/pairfile.h"
#include "xrcp/session.h"

#define PATH_MAX_LEN 4096
#define SX_RC_ADDRESSES_MAX 64

struct sx_rc_ctrl {
    sx_xrcp_ctrl_pairing pairing;
    sx_xrcp_ctrl *ctrl;
    char path[PATH_MAX_LEN];
};

struct sx_rc_host {
    sx_xrcp_host_pairing pairing;
    sx_xrcp_host *host;
    char path[PATH_MAX_LEN];
};

static sx_status init(void)
{
    sx_error_clear();
    if (sx_crypto_init() != SX_OK)
        return sx_error_set(SX_E_INTERNAL, NULL, "cannot initialise the crypto libraries");
    return SX_OK;
}

static sx_status rc_fail(sx_status st, sx_xrcp_err e, const char *what)
{
    const char *word = e == SX_XRCP_ERR_NONE ? NULL : sx_xrcp_err_text(e);
    return sx_error_set(st, word, "%s: %s%s%s", what, sx_strerror(st), word ? ", " : "", word ? word : "");
}

static void code_text(sx_slice code, char out[SX_RC_CODE_TEXT])
{
    sx_xrcp_code_text(code, out, SX_RC_CODE_TEXT);
}

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static sx_status message_new(uint8_t *buf, sx_slice json, bool has, sx_slice att, int32_t stream,
                             sx_rc_message **out)
{
    sx_rc_message *m = calloc(1, sizeof *m);
    char *text = malloc(json.len + 1);
    if (m == NULL || text == NULL) {
        free(m);
        free(text);
        free(buf);
        return sx_error_set(SX_E_NOMEM, NULL, "out of memory");
    }
    if (json.len > 0)
        memcpy(text, json.ptr, json.len);
    text[json.len] = 0;
    m->json = text;
    m->json_len = json.len;
    m->has_attachment = has;
    m->attachment = has ? att.ptr : NULL;
    m->attachment_len = has ? att.len : 0;
    m->stream = stream;
    m->priv = buf; /* holds the attachment */
    *out = m;
    return SX_OK;
}

void sx_rc_message_free(sx_rc_message *m)
{
    if (m == NULL)
        return;
    free((char *)m->json);
    free(m->priv);
    free(m);
}

/* ---- addresses ---- */

size_t sx_rc_local_addresses(const sx_rc_address *prefer, sx_rc_address *out, size_t cap)
{
    sx_xrcp_addr p, got[SX_RC_ADDRESSES_MAX];
    const sx_xrcp_addr *pp = NULL;
    if (prefer != NULL) {
        memset(&p, 0, sizeof p);
        struct in_addr ip;
        if (inet_pton(AF_INET, prefer->address, &ip) == 1)
            memcpy(p.ip, &ip.s_addr, 4);
        if (!sx_str_copy(p.iface, sizeof p.iface, prefer->iface))
            p.iface[0] = 0;
        pp = &p;
    }
    size_t n = 0;
    if (sx_xrcp_local_addrs(pp, got, SX_RC_ADDRESSES_MAX, &n) != SX_OK)
        return 0;
    for (size_t i = 0; i < n && i < cap && i < SX_RC_ADDRESSES_MAX; i++) {
        snprintf(out[i].address, sizeof out[i].address, "%u.%u.%u.%u", got[i].ip[0], got[i].ip[1], got[i].ip[2],
                 got[i].ip[3]);
        if (!sx_str_copy(out[i].iface, sizeof out[i].iface, got[i].iface))
            out[i].iface[0] = 0;
    }
    return n < SX_RC_ADDRESSES_MAX ? n : SX_RC_ADDRESSES_MAX;
}

/* ---- streamed attachments ---- */

sx_status sx_rc_read_fd(void *arg, void *buf, size_t cap, size_t *got)
{
    *got = 0;
    if (arg == NULL)
        return SX_E_USAGE;
    for (;;) {
        ssize_t n = read(*(int *)arg, buf, cap);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return SX_E_IO;
        *got = (size_t)n;
        return n == 0 && cap > 0 ? SX_E_IO : SX_OK; /* ended before its length */
    }
}

sx_status sx_rc_write_fd(void *arg, const void *data, size_t len)
{
    if (arg == NULL)
        return SX_E_USAGE;
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = write(*(int *)arg, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return SX_E_IO;
        p += n;
        len -= (size_t)n;
    }
    return SX_OK;
}

/* The library's reader and writer shapes over the public ones. */
static sx_status src_read(void *arg, uint8_t *buf, size_t cap, size_t *got)
{
    const sx_rc_source *s = arg;
    return s->read(s->arg, buf, cap, got);
}

static sx_status sink_write(void *arg, sx_slice plain)
{
    const sx_rc_sink *k = arg;
    return k->write(k->arg, plain.ptr, plain.len);
}

/* ---- controller ---- */

sx_status sx_rc_ctrl_start(const char *pairing_file, const sx_rc_ctrl_opts *o, sx_rc_ctrl **out)
{
    sx_status st = init();
    if (st != SX_OK)
        return st;
    if (pairing_file == NULL || o == NULL || o->address == NULL || out == NULL)
        return sx_error_set(SX_E_USAGE, NULL, "a pairing file, options with an address and an output are needed");
    *out = NULL;
    sx_rc_ctrl *c = calloc(1, sizeof *c);
    if (c == NULL)
        return sx_error_set(SX_E_NOMEM, NULL, "out of memory");
    if (!sx_str_copy(c->path, sizeof c->path, pairing_file)) {
        free(c);
        return sx_error_set(SX_E_USAGE, NULL, "pairing file name too long");
    }
    if (exists(pairing_file)) {
        st = sx_xrcp_ctrl_pairing_load(pairing_file, &c->pairing);
        if (st != SX_OK) {
            free(c);
            return sx_error_set(st, NULL, "%s: not a controller pairing file (%s)", pairing_file, sx_strerror(st));
        }
    } else {
        st = sx_xrcp_ctrl_pairing_new(&c->pairing);
        if (st == SX_OK)
            st = sx_xrcp_ctrl_pairing_save(pairing_file, &c->pairing);
        if (st != SX_OK) {
            sx_xrcp_ctrl_pairing_clear(&c->pairing);
            free(c);
            return sx_error_set(st, NULL, "%s: cannot create the pairing file", pairing_file);
        }
    }
    sx_xrcp_ctrl_config cfg = {.address = o->address, .port = o->port, .app = o->app, .ts = o->ts};
    st = sx_xrcp_ctrl_new(&c->pairing, &cfg, &c->ctrl);
    if (st != SX_OK) {
        sx_rc_ctrl_free(c);
        return sx_error_set(st, sx_xrcp_err_text(SX_XRCP_ERR_TLS_START), "cannot start the session on %s:%u: %s",
                            o->address, o->port, sx_strerror(st));
    }
    if (o->mcast_port != 0 && c->pairing.paired) {
        st = sx_xrcp_ctrl_announce_start(c->ctrl, o->mcast_group ? o->mcast_group : SX_RC_MCAST_GROUP,
                                         o->mcast_port, o->mcast_iface,
                                         o->announce_count > 0 ? (unsigned)o->announce_count : SX_XRCP_ANNOUNCE_COUNT,
                                         o->announce_interval_ms > 0 ? o->announce_interval_ms
                                                                     : SX_XRCP_ANNOUNCE_INTERVAL_MS);
        if (st != SX_OK) {
            sx_xrcp_err e = sx_xrcp_ctrl_error(c->ctrl);
            sx_rc_ctrl_free(c);
            return rc_fail(st, e, "cannot announce the session");
        }
    }
    *out = c;
    return SX_OK;
}

const char *sx_rc_ctrl_invitation(const sx_rc_ctrl *c)
{
    return c != NULL ? sx_xrcp_ctrl_invitation(c->ctrl) : NULL;
}

bool sx_rc_ctrl_paired(const sx_rc_ctrl *c)
{
    return c != NULL && c->pairing.paired;
}

sx_status sx_rc_ctrl_accept(sx_rc_ctrl *c, int timeout_ms, char code[SX_RC_CODE_TEXT])
{
    sx_error_clear();
    if (c == NULL || code == NULL)
        return sx_error_set(SX_E_USAGE, NULL, "no controller");
    sx_status st = sx_xrcp_ctrl_accept(c->ctrl, timeout_ms);
    if (st != SX_OK)
        return rc_fail(st, sx_xrcp_ctrl_error(c->ctrl), "host connection refused");
    code_text(sx_xrcp_ctrl_code(c->ctrl), code);
    return SX_OK;
}

sx_status sx_rc_ctrl_confirm(sx_rc_ctrl *c, int timeout_ms)
{
    sx_error_clear();
    if (c == NULL)
        return sx_error_set(SX_E_USAGE, NULL, "no controller");
    sx_status st = sx_xrcp_ctrl_answer_hello(c->ctrl, timeout_ms);
    if (st != SX_OK)
        return rc_fail(st, sx_xrcp_ctrl_error(c->ctrl), "host HELLO refused");
    st = sx_xrcp_ctrl_pairing_save(c->path, &c->pairing);
    if (st != SX_OK)
        return sx_error_set(st, NULL, "%s: cannot save the pairing", c->path);
    return SX_OK;
}

sx_status sx_rc_ctrl_command(sx_rc_ctrl *c, const char *json, const void *attachment, size_t attachment_len,
                             bool has_attachment, int timeout_ms, sx_rc_message **resp)
{
    sx_error_clear();
    if (c == NULL || json == NULL || resp == NULL || (has_attachment && attachment == NULL && attachment_len > 0))
        return sx_error_set(SX_E_USAGE, NULL, "bad command arguments");
    *resp = NULL;
    uint8_t *buf = NULL;
    sx_slice rjson, att;
    bool has = false;
    sx_xrcp_body_err why = SX_XRCP_BODY_OK;
    sx_slice a = has_attachment ? sx_slice_of(attachment != NULL ? attachment : "", attachment_len)
                                : sx_slice_of(NULL, 0);
    sx_status st =
        sx_xrcp_ctrl_command(c->ctrl, sx_slice_str(json), a, timeout_ms, &buf, &rjson, &has, &att, &why);
    if (st != SX_OK) {
        if (why != SX_XRCP_BODY_OK)
            return sx_error_set(st, sx_xrcp_err_text(SX_XRCP_ERR_DECRYPT), "response refused: %s",
                                sx_xrcp_body_err_text(why));
        return rc_fail(st, sx_xrcp_ctrl_error(c->ctrl), "command failed");
    }
    return message_new(buf, rjson, has, att, 0, resp);
}

sx_status sx_rc_ctrl_command_stream(sx_rc_ctrl *c, const char *json, const sx_rc_source *att,
                                    const sx_rc_sink *resp_att, int timeout_ms, sx_rc_message **resp)
{
    sx_error_clear();
    if (c == NULL || json == NULL || resp == NULL || (att != NULL && att->len > 0 && att->read == NULL) ||
        (resp_att != NULL && resp_att->write == NULL))
        return sx_error_set(SX_E_USAGE, NULL, "bad command arguments");
    *resp = NULL;
    uint8_t *buf = NULL;
    sx_slice rjson;
    bool has = false;
    uint64_t n = 0;
    sx_xrcp_body_err why = SX_XRCP_BODY_OK;
    sx_status st = sx_xrcp_ctrl_command_stream(
        c->ctrl, sx_slice_str(json), att != NULL, att != NULL ? att->len : 0, att != NULL ? src_read : NULL,
        (void *)att, resp_att != NULL ? sink_write : NULL, (void *)resp_att, timeout_ms, &buf, &rjson, &has, &n, &why);
    if (st != SX_OK) {
        if (why != SX_XRCP_BODY_OK)
            return sx_error_set(st, sx_xrcp_err_text(SX_XRCP_ERR_DECRYPT), "response refused: %s",
                                sx_xrcp_body_err_text(why));
        return rc_fail(st, sx_xrcp_ctrl_error(c->ctrl), "command failed");
    }
    st = message_new(buf, rjson, has, sx_slice_of(NULL, 0), 0, resp);
    if (st == SX_OK && has)
        (*resp)->attachment_len = (size_t)n;
    return st;
}

void sx_rc_ctrl_test_fault(sx_rc_ctrl *c, int fault)
{
    if (c == NULL)
        return;
    if (fault & SX_RC_FAULT_TAMPER)
        sx_xrcp_ctrl_test_tamper(c->ctrl);
    if (fault & SX_RC_FAULT_REPEAT)
        sx_xrcp_ctrl_test_repeat_counter(c->ctrl);
}

void sx_rc_ctrl_free(sx_rc_ctrl *c)
{
    if (c == NULL)
        return;
    sx_xrcp_ctrl_free(c->ctrl);
    sx_xrcp_ctrl_pairing_clear(&c->pairing);
    free(c);
}

/* ---- host ---- */

static sx_status host_open(const char *pairing_file, sx_rc_host **out)
{
    sx_status st = init();
    if (st != SX_OK)
        return st;
    if (pairing_file == NULL || out == NULL)
        return sx_error_set(SX_E_USAGE, NULL, "a pairing file and an output are needed");
    *out = NULL;
    sx_rc_host *h = calloc(1, sizeof *h);
    if (h == NULL)
        return sx_error_set(SX_E_NOMEM, NULL, "out of memory");
    if (!sx_str_copy(h->path, sizeof h->path, pairing_file)) {
        free(h);
        return sx_error_set(SX_E_USAGE, NULL, "pairing file name too long");
    }
    if (exists(pairing_file)) {
        st = sx_xrcp_host_pairing_load(pairing_file, &h->pairing);
        if (st != SX_OK) {
            free(h);
            return sx_error_set(st, NULL, "%s: not a host pairing file (%s)", pairing_file, sx_strerror(st));
        }
    } else {
        st = sx_xrcp_host_pairing_new(&h->pairing);
        if (st == SX_OK)
            st = sx_xrcp_host_pairing_save(pairing_file, &h->pairing);
        if (st != SX_OK) {
            sx_xrcp_host_pairing_clear(&h->pairing);
            free(h);
            return sx_error_set(st, NULL, "%s: cannot create the pairing file", pairing_file);
        }
    }
    *out = h;
    return SX_OK;
}

static sx_status host_connect(sx_rc_host *h, const sx_xrcp_signed_invitation *s, const sx_rc_host_opts *o,
                              int timeout_ms, char code[SX_RC_CODE_TEXT])
{
    sx_xrcp_err e = SX_XRCP_ERR_NONE;
    sx_status st = sx_xrcp_host_connect(&h->pairing, s, o != NULL ? o->app : NULL, timeout_ms, &h->host, &e);
    if (st != SX_OK)
        return rc_fail(st, e, "cannot connect to the controller");
    code_text(sx_xrcp_host_code(h->host), code);
    return SX_OK;
}

static int64_t max_age(const sx_rc_host_opts *o)
{
    return o != NULL && o->max_age > 0 ? o->max_age : SX_XRCP_MAX_AGE;
}

sx_status sx_rc_host_join(const char *pairing_file, const char *link, const sx_rc_host_opts *o, int timeout_ms,
                          char code[SX_RC_CODE_TEXT], sx_rc_host **out)
{
    if (link == NULL || code == NULL)
        return sx_error_set(SX_E_USAGE, NULL, "an invitation link is needed");
    sx_rc_host *h = NULL;
    sx_status st = host_open(pairing_file, &h);
    if (st != SX_OK)
        return st;
    sx_xrcp_signed_invitation s;
    st = sx_xrcp_invitation_decode(sx_slice_str(link), &s);
    if (st != SX_OK) {
        sx_rc_host_free(h);
        return sx_error_set(st, sx_xrcp_err_text(SX_XRCP_ERR_INVITATION), "not an invitation link");
    }
    sx_xrcp_err e = SX_XRCP_ERR_NONE;
    st = sx_xrcp_host_check(&s, &h->pairing, (int64_t)time(NULL), max_age(o), &e);
    if (st != SX_OK)
        st = rc_fail(st, e,
                     e == SX_XRCP_ERR_IDENTITY ? "the invitation is from another controller than the paired one"
                                               : "invitation refused (signature or time)");
    else
        st = host_connect(h, &s, o, timeout_ms, code);
    sx_xrcp_signed_invitation_clear(&s);
    if (st != SX_OK) {
        sx_rc_host_free(h);
        return st;
    }
    *out = h;
    return SX_OK;
}

sx_status sx_rc_host_discover(const char *pairing_file, const sx_rc_host_opts *o, int timeout_ms,
                              char code[SX_RC_CODE_TEXT], sx_rc_host **out)
{
    if (code == NULL)
        return sx_error_set(SX_E_USAGE, NULL, "no code buffer");
    sx_rc_host *h = NULL;
    sx_status st = host_open(pairing_file, &h);
    if (st != SX_OK)
        return st;
    if (!h->pairing.paired || h->pairing.dh == NULL) {
        sx_rc_host_free(h);
        return sx_error_set(SX_E_USAGE, sx_xrcp_err_text(SX_XRCP_ERR_CTRL_NOT_FOUND),
                            "%s: no paired controller yet: join by its invitation first", pairing_file);
    }
    int fd = -1;
    uint16_t bound = 0;
    st = sx_xrcp_mcast_listen(o != NULL && o->mcast_group ? o->mcast_group : SX_RC_MCAST_GROUP,
                              o != NULL && o->mcast_port ? o->mcast_port : SX_RC_MCAST_PORT,
                              o != NULL ? o->mcast_iface : NULL, &fd, &bound);
    if (st != SX_OK) {
        sx_rc_host_free(h);
        return sx_error_set(st, NULL, "cannot listen for announcements: %s", sx_strerror(st));
    }
    sx_xrcp_host_pairing *ps[1] = {&h->pairing};
    size_t which = 0;
    sx_xrcp_err e = SX_XRCP_ERR_NONE;
    /* a failed connection (an ended session's packet) does not end the
     * search: the next session's announcement is taken */
    st = sx_xrcp_host_discover_connect(fd, ps, 1, max_age(o), o != NULL ? o->app : NULL, timeout_ms, &h->host,
                                       &which, &e);
    sx_xrcp_mcast_close(fd);
    if (st != SX_OK) {
        sx_rc_host_free(h);
        return rc_fail(st, e,
                       e == SX_XRCP_ERR_NOT_DISCOVERED ? "no announcement from the paired controller"
                                                       : "cannot connect to the controller");
    }
    code_text(sx_xrcp_host_code(h->host), code);
    *out = h;
    return SX_OK;
}

sx_status sx_rc_host_confirm(sx_rc_host *h, int timeout_ms)
{
    sx_error_clear();
    if (h == NULL || h->host == NULL)
        return sx_error_set(SX_E_USAGE, NULL, "no host session");
    sx_status st = sx_xrcp_host_send_hello(h->host, timeout_ms);
    if (st != SX_OK) {
        sx_xrcp_err e = sx_xrcp_host_error(h->host);
        if (e == SX_XRCP_ERR_CTRL_ERROR)
            return sx_error_set(st, "CTRL_ERROR", "the controller refused the HELLO: %s",
                                sx_xrcp_host_ctrl_message(h->host));
        return rc_fail(st, e, "session set-up failed");
    }
    st = sx_xrcp_host_pairing_save(h->path, &h->pairing);
    if (st != SX_OK)
        return sx_error_set(st, NULL, "%s: cannot save the pairing", h->path);
    return SX_OK;
}

sx_status sx_rc_host_next(sx_rc_host *h, int timeout_ms, sx_rc_message **cmd)
{
    sx_error_clear();
    if (h == NULL || h->host == NULL || cmd == NULL)
        return sx_error_set(SX_E_USAGE, NULL, "no host session");
    *cmd = NULL;
    int32_t stream = 0;
    uint8_t *buf = NULL;
    sx_slice json, att;
    bool has = false;
    sx_xrcp_body_err why = SX_XRCP_BODY_OK;
    sx_status st = sx_xrcp_host_next_command(h->host, timeout_ms, &stream, &buf, &json, &has, &att, &why);
    if (st == SX_E_CLOSED)
        return sx_error_set(st, NULL, "the controller ended the session");
    if (st != SX_OK && why != SX_XRCP_BODY_OK)
        return sx_error_set(st, why == SX_XRCP_BODY_CTRL_AUTH ? "CTRL_AUTH" : NULL, "command refused: %s",
                            sx_xrcp_body_err_text(why));
    if (st != SX_OK)
        return rc_fail(st, sx_xrcp_host_error(h->host), "no command");
    return message_new(buf, json, has, att, stream, cmd);
}

sx_status sx_rc_host_reply(sx_rc_host *h, const sx_rc_message *cmd, const char *json, const void *attachment,
                           size_t attachment_len, bool has_attachment, int timeout_ms)
{
    sx_error_clear();
    if (h == NULL || h->host == NULL || cmd == NULL || json == NULL ||
        (has_attachment && attachment == NULL && attachment_len > 0))
        return sx_error_set(SX_E_USAGE, NULL, "bad reply arguments");
    sx_slice a = has_attachment ? sx_slice_of(attachment != NULL ? attachment : "", attachment_len)
                                : sx_slice_of(NULL, 0);
    sx_status st = sx_xrcp_host_reply(h->host, cmd->stream, sx_slice_str(json), a, timeout_ms);
    if (st != SX_OK)
        return rc_fail(st, sx_xrcp_host_error(h->host), "reply failed");
    return SX_OK;
}

sx_status sx_rc_host_next_stream(sx_rc_host *h, int timeout_ms, const sx_rc_sink *att, sx_rc_message **cmd)
{
    sx_error_clear();
    if (h == NULL || h->host == NULL || cmd == NULL || (att != NULL && att->write == NULL))
        return sx_error_set(SX_E_USAGE, NULL, "no host session");
    *cmd = NULL;
    int32_t stream = 0;
    uint8_t *buf = NULL;
    sx_slice json;
    bool has = false;
    uint64_t n = 0;
    sx_xrcp_body_err why = SX_XRCP_BODY_OK;
    sx_status st = sx_xrcp_host_next_command_stream(h->host, timeout_ms, att != NULL ? sink_write : NULL,
                                                    (void *)att, &stream, &buf, &json, &has, &n, &why);
    if (st == SX_E_CLOSED)
        return sx_error_set(st, NULL, "the controller ended the session");
    if (st != SX_OK && why != SX_XRCP_BODY_OK)
        return sx_error_set(st, why == SX_XRCP_BODY_CTRL_AUTH ? "CTRL_AUTH" : NULL, "command refused: %s",
                            sx_xrcp_body_err_text(why));
    if (st != SX_OK)
        return rc_fail(st, sx_xrcp_host_error(h->host), "no command");
    st = message_new(buf, json, has, sx_slice_of(NULL, 0), stream, cmd);
    if (st == SX_OK && has)
        (*cmd)->attachment_len = (size_t)n;
    return st;
}

sx_status sx_rc_host_reply_stream(sx_rc_host *h, const sx_rc_message *cmd, const char *json, const sx_rc_source *att,
                                  int timeout_ms)
{
    sx_error_clear();
    if (h == NULL || h->host == NULL || cmd == NULL || json == NULL ||
        (att != NULL && att->len > 0 && att->read == NULL))
        return sx_error_set(SX_E_USAGE, NULL, "bad reply arguments");
    sx_status st = sx_xrcp_host_reply_stream(h->host, cmd->stream, sx_slice_str(json), att != NULL,
                                             att != NULL ? att->len : 0, att != NULL ? src_read : NULL, (void *)att,
                                             timeout_ms);
    if (st != SX_OK)
        return rc_fail(st, sx_xrcp_host_error(h->host), "reply failed");
    return SX_OK;
}

void sx_rc_host_free(sx_rc_host *h)
{
    if (h == NULL)
        return;
    sx_xrcp_host_free(h->host);
    sx_xrcp_host_pairing_clear(&h->pairing);
    free(h);
}
