/* SOCKS5 client (RFC 1928, RFC 1929); see socks.h. */
#include "transport/socks.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/base64.h"
#include "core/reader.h"
#include "crypto/hash.h"
#include "transport/net.h"

enum { VER = 5, AUTH_VER = 1, CMD_CONNECT = 1 };
enum { ATYP_IPV4 = 1, ATYP_NAME = 3, ATYP_IPV6 = 4 };
enum { M_NONE = 0, M_USER = 2, M_REFUSED = 0xff };
enum { STEP_METHOD, STEP_AUTH, STEP_REPLY, STEP_DONE, STEP_FAILED };

/* ---- the connect reply ---- */

sx_status sx_socks_reply_len(sx_slice in, size_t *total)
{
    if (in.len < 5)
        return SX_E_WOULD_BLOCK;
    const uint8_t *b = in.ptr;
    if (b[0] != VER || b[2] != 0)
        return SX_E_PROTOCOL;
    switch (b[3]) {
    case ATYP_IPV4: *total = 4 + 4 + 2; return SX_OK;
    case ATYP_IPV6: *total = 4 + 16 + 2; return SX_OK;
    case ATYP_NAME:
        if (b[4] == 0)
            return SX_E_PROTOCOL;
        *total = 4 + 1 + (size_t)b[4] + 2;
        return SX_OK;
    default: return SX_E_PROTOCOL;
    }
}

sx_status sx_socks_reply_parse(sx_slice in, sx_socks_reply *out)
{
    memset(out, 0, sizeof *out);
    sx_reader r;
    sx_reader_init_slice(&r, in);
    uint8_t ver = 0, rsv = 0;
    if (!sx_read_u8(&r, &ver) || !sx_read_u8(&r, &out->rep) || !sx_read_u8(&r, &rsv) || !sx_read_u8(&r, &out->atyp))
        return SX_E_PROTOCOL;
    if (ver != VER || rsv != 0)
        return SX_E_PROTOCOL;
    bool ok;
    switch (out->atyp) {
    case ATYP_IPV4: ok = sx_read_bytes(&r, 4, &out->addr); break;
    case ATYP_IPV6: ok = sx_read_bytes(&r, 16, &out->addr); break;
    case ATYP_NAME: ok = sx_read_short_len(&r, 1, SX_SOCKS_NAME_MAX, &out->addr); break;
    default: return SX_E_PROTOCOL;
    }
    if (!ok || !sx_read_u16(&r, &out->port) || sx_reader_finish(&r) != SX_OK)
        return SX_E_PROTOCOL;
    return SX_OK;
}

/* ---- the client ---- */

static void put_out(sx_socks_client *s, const uint8_t *b, size_t n)
{
    memcpy(s->out, b, n);
    s->out_len = n;
    s->out_off = 0;
    s->in_len = 0;
}

sx_status sx_socks_client_init(sx_socks_client *s, const char *host, uint16_t port, const char *user,
                               const char *pass)
{
    memset(s, 0, sizeof *s);
    SX_ENSURE(host && port, SX_E_USAGE);
    size_t hl = strlen(host);
    SX_ENSURE(hl >= 1 && hl <= SX_SOCKS_NAME_MAX, SX_E_USAGE);
    if (user) {
        size_t ul = strlen(user), pl = pass ? strlen(pass) : 0;
        SX_ENSURE(ul >= 1 && ul <= SX_SOCKS_NAME_MAX && pl <= SX_SOCKS_NAME_MAX, SX_E_USAGE);
        s->with_auth = true;
        memcpy(s->user, user, ul);
        s->user_len = (uint8_t)ul;
        if (pl)
            memcpy(s->pass, pass, pl);
        s->pass_len = (uint8_t)pl;
    }
    uint8_t *q = s->req;
    *q++ = VER;
    *q++ = CMD_CONNECT;
    *q++ = 0;
    uint8_t a6[16];
    if (inet_pton(AF_INET, host, a6) == 1) {
        *q++ = ATYP_IPV4;
        memcpy(q, a6, 4);
        q += 4;
    } else if (inet_pton(AF_INET6, host, a6) == 1) {
        *q++ = ATYP_IPV6;
        memcpy(q, a6, 16);
        q += 16;
    } else {
        *q++ = ATYP_NAME;
        *q++ = (uint8_t)hl;
        memcpy(q, host, hl);
        q += hl;
    }
    *q++ = (uint8_t)(port >> 8);
    *q++ = (uint8_t)port;
    s->req_len = (size_t)(q - s->req);
    /* Only the method the client means to use is offered: with
     * credentials the proxy must take them (isolation depends on it). */
    uint8_t hello[3] = {VER, 1, s->with_auth ? M_USER : M_NONE};
    put_out(s, hello, sizeof hello);
    s->step = STEP_METHOD;
    return SX_OK;
}

size_t sx_socks_client_want(const sx_socks_client *s)
{
    if (s->out_off < s->out_len)
        return 0;
    switch (s->step) {
    case STEP_METHOD:
    case STEP_AUTH: return 2 - s->in_len;
    case STEP_REPLY: {
        size_t total = 0;
        sx_status st = sx_socks_reply_len(sx_slice_of(s->in, s->in_len), &total);
        if (st == SX_E_WOULD_BLOCK)
            return 5 - s->in_len;
        if (st != SX_OK || total <= s->in_len)
            return 0; /* feed reports it */
        return total - s->in_len;
    }
    default: return 0;
    }
}

static sx_status fail(sx_socks_client *s, sx_status st)
{
    s->step = STEP_FAILED;
    return st;
}

static void send_connect(sx_socks_client *s)
{
    put_out(s, s->req, s->req_len);
    s->step = STEP_REPLY;
}

sx_status sx_socks_client_feed(sx_socks_client *s, const uint8_t *b, size_t n)
{
    if (s->step == STEP_FAILED || s->step == STEP_DONE)
        return SX_E_USAGE;
    if (n > sizeof s->in - s->in_len)
        return fail(s, SX_E_PROTOCOL);
    memcpy(s->in + s->in_len, b, n);
    s->in_len += n;
    switch (s->step) {
    case STEP_METHOD:
        if (s->in_len < 2)
            return SX_OK;
        if (s->in_len > 2 || s->in[0] != VER)
            return fail(s, SX_E_PROTOCOL);
        if (s->in[1] == (s->with_auth ? M_USER : M_NONE)) {
            if (!s->with_auth) {
                send_connect(s);
                return SX_OK;
            }
            uint8_t a[3 + 2 * SX_SOCKS_NAME_MAX];
            size_t k = 0;
            a[k++] = AUTH_VER;
            a[k++] = s->user_len;
            memcpy(a + k, s->user, s->user_len);
            k += s->user_len;
            a[k++] = s->pass_len;
            memcpy(a + k, s->pass, s->pass_len);
            k += s->pass_len;
            put_out(s, a, k);
            s->step = STEP_AUTH;
            return SX_OK;
        }
        return fail(s, s->in[1] == M_REFUSED ? SX_E_AUTH : SX_E_PROTOCOL);
    case STEP_AUTH:
        if (s->in_len < 2)
            return SX_OK;
        if (s->in_len > 2 || s->in[0] != AUTH_VER)
            return fail(s, SX_E_PROTOCOL);
        if (s->in[1] != 0)
            return fail(s, SX_E_AUTH);
        send_connect(s);
        return SX_OK;
    case STEP_REPLY: {
        size_t total = 0;
        sx_status st = sx_socks_reply_len(sx_slice_of(s->in, s->in_len), &total);
        if (st == SX_E_WOULD_BLOCK)
            return SX_OK;
        if (st != SX_OK)
            return fail(s, st);
        if (s->in_len < total)
            return SX_OK;
        sx_socks_reply rep;
        if (sx_socks_reply_parse(sx_slice_of(s->in, s->in_len), &rep) != SX_OK)
            return fail(s, SX_E_PROTOCOL);
        if (rep.rep != 0) {
            s->rep = rep.rep;
            return fail(s, SX_E_IO);
        }
        s->step = STEP_DONE;
        return SX_OK;
    }
    default: return fail(s, SX_E_INTERNAL);
    }
}

bool sx_socks_client_done(const sx_socks_client *s)
{
    return s->step == STEP_DONE;
}

/* ---- blocking ---- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int left_ms(int64_t deadline)
{
    if (deadline < 0)
        return -1;
    int64_t left = deadline - mono_ms();
    return left < 0 ? 0 : left > 1000000000 ? 1000000000 : (int)left;
}

sx_status sx_socks_connect_fd(int fd, const char *host, uint16_t port, const char *user, const char *pass,
                              int timeout_ms)
{
    sx_socks_client *s = malloc(sizeof *s);
    if (!s)
        return SX_E_NOMEM;
    sx_status st = sx_socks_client_init(s, host, port, user, pass);
    int64_t deadline = timeout_ms < 0 ? -1 : mono_ms() + timeout_ms;
    while (st == SX_OK && !sx_socks_client_done(s)) {
        if (s->out_off < s->out_len) {
            ssize_t w = send(fd, s->out + s->out_off, s->out_len - s->out_off, MSG_NOSIGNAL);
            if (w > 0) {
                s->out_off += (size_t)w;
                continue;
            }
            if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                st = SX_E_IO;
                break;
            }
            if (deadline >= 0 && left_ms(deadline) == 0)
                st = SX_E_IO;
            else if (sx_net_wait(fd, true, left_ms(deadline)) != SX_OK)
                st = SX_E_IO;
            continue;
        }
        size_t want = sx_socks_client_want(s);
        if (want == 0) {
            st = SX_E_PROTOCOL;
            break;
        }
        uint8_t buf[SX_SOCKS_REPLY_MAX];
        ssize_t r = recv(fd, buf, want, 0);
        if (r > 0) {
            st = sx_socks_client_feed(s, buf, (size_t)r);
            continue;
        }
        if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            st = SX_E_IO;
            break;
        }
        if (deadline >= 0 && left_ms(deadline) == 0)
            st = SX_E_IO;
        else if (sx_net_wait(fd, false, left_ms(deadline)) != SX_OK)
            st = SX_E_IO;
    }
    free(s);
    return st;
}

/* ---- the proxy string ---- */

sx_status sx_socks_proxy_parse(const char *s, sx_socks_proxy *out)
{
    memset(out, 0, sizeof *out);
    SX_ENSURE(s, SX_E_USAGE);
    out->auth = SX_SOCKS_AUTH_ISOLATE;
    const char *at = strrchr(s, '@');
    if (at) {
        if (at == s) {
            out->auth = SX_SOCKS_AUTH_NONE;
        } else {
            const char *colon = memchr(s, ':', (size_t)(at - s));
            SX_ENSURE(colon, SX_E_USAGE);
            size_t ul = (size_t)(colon - s), pl = (size_t)(at - colon - 1);
            SX_ENSURE(ul >= 1 && ul <= SX_SOCKS_NAME_MAX && pl <= SX_SOCKS_NAME_MAX, SX_E_USAGE);
            snprintf(out->user, sizeof out->user, "%.*s", (int)ul, s);
            snprintf(out->pass, sizeof out->pass, "%.*s", (int)pl, colon + 1);
            out->auth = SX_SOCKS_AUTH_USER;
        }
        s = at + 1;
    }
    const char *port_s = NULL;
    size_t hl;
    const char *h = s;
    if (*s == '[') {
        const char *end = strchr(s, ']');
        SX_ENSURE(end, SX_E_USAGE);
        h = s + 1;
        hl = (size_t)(end - h);
        SX_ENSURE(end[1] == '\0' || end[1] == ':', SX_E_USAGE);
        port_s = end[1] == ':' ? end + 2 : NULL;
    } else {
        const char *colon = strchr(s, ':');
        hl = colon ? (size_t)(colon - s) : strlen(s);
        port_s = colon ? colon + 1 : NULL;
    }
    SX_ENSURE(hl < sizeof out->host, SX_E_USAGE);
    if (hl == 0)
        snprintf(out->host, sizeof out->host, "127.0.0.1");
    else
        snprintf(out->host, sizeof out->host, "%.*s", (int)hl, h);
    uint8_t a[16];
    SX_ENSURE(inet_pton(AF_INET, out->host, a) == 1 || inet_pton(AF_INET6, out->host, a) == 1, SX_E_USAGE);
    out->port = 9050;
    if (port_s) {
        SX_ENSURE(*port_s, SX_E_USAGE);
        unsigned p = 0;
        for (const char *c = port_s; *c; c++) {
            SX_ENSURE(*c >= '0' && *c <= '9' && p <= 65535, SX_E_USAGE);
            p = p * 10 + (unsigned)(*c - '0');
        }
        SX_ENSURE(p >= 1 && p <= 65535, SX_E_USAGE);
        out->port = (uint16_t)p;
    }
    return SX_OK;
}

bool sx_socks_is_onion(const char *host)
{
    size_t n = strlen(host);
    static const char sfx[] = ".onion";
    size_t k = sizeof sfx - 1;
    return n > k && strcasecmp(host + n - k, sfx) == 0;
}

bool sx_socks_route_for(const sx_socks_proxy *p, bool onion_only, const char *dest_host, const char *isolation,
                        sx_socks_route *out)
{
    memset(out, 0, sizeof *out);
    if (!p || !p->port || (onion_only && !sx_socks_is_onion(dest_host)))
        return false;
    snprintf(out->host, sizeof out->host, "%s", p->host);
    out->port = p->port;
    if (p->auth == SX_SOCKS_AUTH_USER) {
        snprintf(out->user, sizeof out->user, "%s", p->user);
        snprintf(out->pass, sizeof out->pass, "%s", p->pass);
    } else if (p->auth == SX_SOCKS_AUTH_ISOLATE && isolation) {
        snprintf(out->user, sizeof out->user, "%.255s", isolation);
    }
    return true;
}

size_t sx_socks_time_text(int64_t unix_ns, char *out, size_t cap)
{
    int64_t secs = unix_ns / 1000000000, frac = unix_ns % 1000000000;
    if (frac < 0) {
        frac += 1000000000;
        secs--;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    char day[32] = "1970-01-01 00:00:00";
    if (gmtime_r(&t, &tm))
        strftime(day, sizeof day, "%Y-%m-%d %H:%M:%S", &tm);
    char digits[16] = "";
    if (frac) {
        int n = snprintf(digits, sizeof digits, ".%09lld", (long long)frac);
        while (n > 1 && digits[n - 1] == '0')
            digits[--n] = 0;
    }
    int n = snprintf(out, cap, "%s%s UTC", day, digits);
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap ? cap - 1 : 0;
}

sx_status sx_socks_isolation_user(int64_t user_id, int64_t unix_ns, char out[SX_SOCKS_ISOLATION_LEN + 1])
{
    char when[64], text[96];
    sx_socks_time_text(unix_ns, when, sizeof when);
    int n = snprintf(text, sizeof text, "%lld:%s", (long long)user_id, when);
    SX_ENSURE(n > 0 && (size_t)n < sizeof text, SX_E_INTERNAL);
    uint8_t h[SX_SHA256_LEN];
    SX_TRY(sx_sha256(sx_slice_of(text, (size_t)n), h));
    return sx_b64_encode(sx_slice_of(h, sizeof h), SX_B64_STD, out, SX_SOCKS_ISOLATION_LEN + 1);
}
