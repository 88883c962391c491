/* Queue files of the `smp` client: text format, strict parser, and
 * writing with mode 0600 (new file, or a temporary file renamed over the
 * old one). The format is described in queue_file.h. */
#include "smp_client/queue_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smp_client/smp_client.h"
#include "core/base64.h"
#include "core/fileio.h"
#include "core/writer.h"
#include "crypto/util.h"
#include "smp/address.h"

/* The keys of the format, as bits of a set. */
enum {
    K_VERSION = 1u << 0,
    K_ROLE = 1u << 1,
    K_SERVER = 1u << 2,
    K_RCV_ID = 1u << 3,
    K_SND_ID = 1u << 4,
    K_RCV_KEY = 1u << 5,
    K_DH_SECRET = 1u << 6,
    K_SND_KEY = 1u << 7,
};

#define KEYS_RECIPIENT (K_VERSION | K_ROLE | K_SERVER | K_RCV_ID | K_SND_ID | K_RCV_KEY | K_DH_SECRET)
#define KEYS_SENDER (K_VERSION | K_ROLE | K_SERVER | K_SND_ID | K_SND_KEY)

static const struct {
    const char *name;
    unsigned bit;
} keys[] = {
    {"version", K_VERSION},         {"role", K_ROLE},     {"server", K_SERVER},
    {"recipient_id", K_RCV_ID},     {"sender_id", K_SND_ID}, {"recipient_key", K_RCV_KEY},
    {"dh_secret", K_DH_SECRET},     {"sender_key", K_SND_KEY},
};

static const char *const header_recipient =
    "# SMP queue, recipient side (smp recv / get / delete).\n"
    "# Keep this file secret: its keys read and delete the queue.\n";
static const char *const header_sender =
    "# SMP queue, sender side (smp secure / send).\n"
    "# Once secured it holds the key that sends to the queue: keep it private.\n";

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void sx_queue_file_init(sx_queue_file *q)
{
    memset(q, 0, sizeof *q);
}

void sx_queue_file_cleanup(sx_queue_file *q)
{
    if (!q)
        return;
    sx_key_free(q->rcv_key);
    sx_key_free(q->snd_key);
    sx_wipe(q, sizeof *q);
}

/* Values are single tokens of printable ASCII: no spaces, no controls. */
static bool token_valid(const char *v, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (v[i] < 0x21 || v[i] > 0x7e)
            return false;
    return len > 0;
}

static bool address_valid(const char *text)
{
    sx_smp_address a;
    size_t len = strlen(text);
    bool ok = len < SX_QUEUE_ADDR_MAX && token_valid(text, len) && sx_smp_address_parse(text, &a) == SX_OK;
    sx_wipe(&a, sizeof a);
    return ok;
}

/* "name: base64url(bytes)\n" */
static bool write_b64(sx_writer *w, const char *name, sx_slice bytes)
{
    char text[128];
    if (sx_b64_encode(bytes, SX_B64_URL, text, sizeof text) != SX_OK)
        return sx_writer_fail(w, SX_E_INTERNAL);
    bool ok = sx_write_str(w, name) && sx_write_str(w, ": ") && sx_write_str(w, text) && sx_write_str(w, "\n");
    sx_wipe(text, sizeof text);
    return ok;
}

static bool write_key(sx_writer *w, const char *name, const sx_key *k)
{
    if (!k)
        return sx_write_str(w, name) && sx_write_str(w, ": none\n");
    char text[SX_KEY_TEXT_MAX];
    sx_status st = sx_key_private_to_text(k, text, sizeof text);
    if (st != SX_OK)
        return sx_writer_fail(w, st == SX_E_LIMIT ? SX_E_INTERNAL : st);
    bool ok = sx_write_str(w, name) && sx_write_str(w, ": ") && sx_write_str(w, text) && sx_write_str(w, "\n");
    sx_wipe(text, sizeof text);
    return ok;
}

sx_status sx_queue_file_format(const sx_queue_file *q, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    bool rcv = q->role == SX_QUEUE_RECIPIENT;
    SX_ENSURE(rcv || q->role == SX_QUEUE_SENDER, SX_E_USAGE);
    SX_ENSURE(address_valid(q->server), SX_E_USAGE);
    SX_ENSURE(!rcv || (q->rcv_key && sx_key_is_private(q->rcv_key)), SX_E_USAGE);
    SX_ENSURE(rcv || !q->snd_key || sx_key_is_private(q->snd_key), SX_E_USAGE);
    sx_writer w;
    sx_writer_init_dynamic(&w, SX_QUEUE_FILE_MAX);
    (void)(sx_write_str(&w, rcv ? header_recipient : header_sender) && sx_write_str(&w, "version: 1\n") &&
           sx_write_str(&w, rcv ? "role: recipient\n" : "role: sender\n") && sx_write_str(&w, "server: ") &&
           sx_write_str(&w, q->server) && sx_write_str(&w, "\n"));
    if (rcv) {
        (void)(write_b64(&w, "recipient_id", sx_slice_of(q->rcv_id, SX_QUEUE_ID_LEN)) &&
               write_b64(&w, "sender_id", sx_slice_of(q->snd_id, SX_QUEUE_ID_LEN)) &&
               write_key(&w, "recipient_key", q->rcv_key) &&
               write_b64(&w, "dh_secret", sx_slice_of(q->dh_secret, SX_CB_KEY_LEN)));
    } else {
        (void)(write_b64(&w, "sender_id", sx_slice_of(q->snd_id, SX_QUEUE_ID_LEN)) &&
               write_key(&w, "sender_key", q->snd_key));
    }
    sx_write_u8(&w, 0); /* the NUL, not counted in *len */
    sx_status st = sx_writer_status(&w);
    if (st != SX_OK) {
        sx_writer_cleanup(&w);
        return st;
    }
    size_t n = 0;
    *out = (char *)sx_writer_take(&w, &n);
    if (!*out)
        return SX_E_NOMEM;
    *len = n - 1;
    return SX_OK;
}

/* Decodes base64url text of exactly n bytes. */
static bool read_b64_exact(const char *v, size_t vlen, uint8_t *out, size_t n)
{
    uint8_t buf[64];
    size_t got = 0;
    bool ok = vlen > 0 && n <= sizeof buf && sx_b64_decode(v, vlen, SX_B64_URL, buf, sizeof buf, &got) == SX_OK &&
              got == n;
    if (ok)
        memcpy(out, buf, n);
    sx_wipe(buf, sizeof buf);
    return ok;
}

/* Acts on one `key: value` entry. False with err set on a bad value. */
static bool parse_entry(sx_queue_file *q, unsigned bit, const char *v, size_t vlen, unsigned *version, char *err,
                        size_t errlen, size_t line)
{
    switch (bit) {
    case K_VERSION:
        if (vlen == 1 && v[0] == '1') {
            *version = 1;
            return true;
        }
        set_err(err, errlen, "line %zu: unsupported version '%.*s' (this program reads version %d)", line,
                (int)(vlen > 16 ? 16 : vlen), v, SX_QUEUE_FILE_VERSION);
        return false;
    case K_ROLE:
        if (vlen == 9 && memcmp(v, "recipient", 9) == 0)
            q->role = SX_QUEUE_RECIPIENT;
        else if (vlen == 6 && memcmp(v, "sender", 6) == 0)
            q->role = SX_QUEUE_SENDER;
        else {
            set_err(err, errlen, "line %zu: role must be 'recipient' or 'sender'", line);
            return false;
        }
        return true;
    case K_SERVER:
        if (vlen < SX_QUEUE_ADDR_MAX) {
            memcpy(q->server, v, vlen);
            q->server[vlen] = 0;
            if (address_valid(q->server))
                return true;
        }
        set_err(err, errlen, "line %zu: server is not a valid smp:// address", line);
        return false;
    case K_RCV_ID:
        if (read_b64_exact(v, vlen, q->rcv_id, SX_QUEUE_ID_LEN))
            return true;
        set_err(err, errlen, "line %zu: recipient_id is not base64url of %d bytes", line, SX_QUEUE_ID_LEN);
        return false;
    case K_SND_ID:
        if (read_b64_exact(v, vlen, q->snd_id, SX_QUEUE_ID_LEN))
            return true;
        set_err(err, errlen, "line %zu: sender_id is not base64url of %d bytes", line, SX_QUEUE_ID_LEN);
        return false;
    case K_DH_SECRET:
        if (read_b64_exact(v, vlen, q->dh_secret, SX_CB_KEY_LEN))
            return true;
        set_err(err, errlen, "line %zu: dh_secret is not base64url of %d bytes", line, SX_CB_KEY_LEN);
        return false;
    case K_RCV_KEY:
        if (sx_key_private_from_text(v, vlen, SX_KEY_AUTH_ALGS, &q->rcv_key) == SX_OK)
            return true;
        set_err(err, errlen, "line %zu: recipient_key is not a private Ed25519, Ed448 or X25519 key", line);
        return false;
    case K_SND_KEY:
        if (vlen == 4 && memcmp(v, "none", 4) == 0)
            return true;
        if (sx_key_private_from_text(v, vlen, SX_KEY_AUTH_ALGS, &q->snd_key) == SX_OK)
            return true;
        set_err(err, errlen, "line %zu: sender_key is neither 'none' nor a private Ed25519, Ed448 or X25519 key",
                line);
        return false;
    default:
        set_err(err, errlen, "line %zu: internal error", line);
        return false;
    }
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static sx_status parse_text(const char *text, size_t len, sx_queue_file *q, char *err, size_t errlen)
{
    if (len > SX_QUEUE_FILE_MAX) {
        set_err(err, errlen, "file is larger than %d bytes", SX_QUEUE_FILE_MAX);
        return SX_E_LIMIT;
    }
    if (len == 0) {
        set_err(err, errlen, "file is empty");
        return SX_E_PROTOCOL;
    }
    if (memchr(text, 0, len)) {
        set_err(err, errlen, "file holds a NUL byte: not a queue file");
        return SX_E_PROTOCOL;
    }
    if (text[len - 1] != '\n') {
        set_err(err, errlen, "last line is not complete (truncated file?)");
        return SX_E_PROTOCOL;
    }
    unsigned seen = 0, version = 0;
    size_t line = 0;
    for (size_t off = 0; off < len;) {
        line++;
        const char *l = text + off;
        const char *nl = memchr(l, '\n', len - off);
        size_t ll = (size_t)(nl - l); /* nl exists: the text ends with '\n' */
        off += ll + 1;
        while (ll > 0 && (is_blank(l[ll - 1]) || l[ll - 1] == '\r'))
            ll--;
        size_t start = 0;
        while (start < ll && is_blank(l[start]))
            start++;
        if (start == ll || l[start] == '#')
            continue;
        const char *colon = memchr(l + start, ':', ll - start);
        if (!colon) {
            set_err(err, errlen, "line %zu: expected 'key: value'", line);
            return SX_E_PROTOCOL;
        }
        size_t klen = (size_t)(colon - (l + start));
        unsigned bit = 0;
        for (size_t i = 0; i < sizeof keys / sizeof keys[0] && !bit; i++)
            if (strlen(keys[i].name) == klen && memcmp(keys[i].name, l + start, klen) == 0)
                bit = keys[i].bit;
        if (!bit) {
            set_err(err, errlen, "line %zu: unknown key '%.*s'", line, (int)(klen > 32 ? 32 : klen), l + start);
            return SX_E_PROTOCOL;
        }
        if (seen & bit) {
            set_err(err, errlen, "line %zu: '%.*s' given twice", line, (int)klen, l + start);
            return SX_E_PROTOCOL;
        }
        seen |= bit;
        size_t vstart = (size_t)(colon - l) + 1;
        while (vstart < ll && is_blank(l[vstart]))
            vstart++;
        if (vstart == ll) {
            set_err(err, errlen, "line %zu: '%.*s' has no value", line, (int)klen, l + start);
            return SX_E_PROTOCOL;
        }
        if (!token_valid(l + vstart, ll - vstart)) {
            set_err(err, errlen, "line %zu: the value of '%.*s' has a space or a control character", line,
                    (int)klen, l + start);
            return SX_E_PROTOCOL;
        }
        if (!parse_entry(q, bit, l + vstart, ll - vstart, &version, err, errlen, line))
            return SX_E_PROTOCOL;
    }
    if (!(seen & K_VERSION) || version != SX_QUEUE_FILE_VERSION) {
        set_err(err, errlen, "no 'version' line: not a queue file");
        return SX_E_PROTOCOL;
    }
    if (!(seen & K_ROLE)) {
        set_err(err, errlen, "no 'role' line");
        return SX_E_PROTOCOL;
    }
    unsigned want = q->role == SX_QUEUE_RECIPIENT ? KEYS_RECIPIENT : KEYS_SENDER;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (!(want & keys[i].bit) && (seen & keys[i].bit)) {
            set_err(err, errlen, "'%s' does not belong in a %s file", keys[i].name,
                    q->role == SX_QUEUE_RECIPIENT ? "recipient" : "sender");
            return SX_E_PROTOCOL;
        }
    }
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if ((want & keys[i].bit) && !(seen & keys[i].bit)) {
            set_err(err, errlen, "'%s' is missing (truncated file?)", keys[i].name);
            return SX_E_PROTOCOL;
        }
    }
    return SX_OK;
}

sx_status sx_queue_file_parse(const char *text, size_t len, sx_queue_file *out, char *err, size_t errlen)
{
    sx_queue_file_init(out);
    sx_status st = parse_text(text, len, out, err, errlen);
    if (st != SX_OK)
        sx_queue_file_cleanup(out);
    return st;
}

/* Writes text to the open fd, forces mode 0600 whatever the umask was, and
 * syncs it; closes fd in all cases. */
static bool write_file(int fd, const char *text, size_t len)
{
    bool ok = fchmod(fd, S_IRUSR | S_IWUSR) == 0 && sx_fd_write_all(fd, text, len) == SX_OK && fsync(fd) == 0;
    if (close(fd) != 0)
        ok = false;
    return ok;
}

sx_status sx_queue_file_save(const char *path, const sx_queue_file *q, bool replace, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    sx_status st = sx_queue_file_format(q, &text, &len);
    if (st != SX_OK) {
        set_err(err, errlen, "%s: cannot format the queue file (%s)", path, sx_status_str(st));
        return st;
    }
    st = SX_E_IO;
    if (!replace) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, S_IRUSR | S_IWUSR);
        if (fd < 0) {
            int e = errno;
            set_err(err, errlen, "%s: %s", path, e == EEXIST ? "file exists (not overwritten)" : strerror(e));
            st = e == EEXIST ? SX_E_USAGE : SX_E_IO;
        } else if (!write_file(fd, text, len)) {
            set_err(err, errlen, "%s: cannot write: %s", path, strerror(errno));
            unlink(path);
        } else {
            sx_fs_sync_parent(path);
            st = SX_OK;
        }
    } else {
        char tmp[4096];
        int fd = -1;
        if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmpXXXXXX", path) >= sizeof tmp) {
            set_err(err, errlen, "%s: path too long", path);
        } else if ((fd = mkstemp(tmp)) < 0) {
            set_err(err, errlen, "%s: cannot create a temporary file: %s", path, strerror(errno));
        } else if (!write_file(fd, text, len)) {
            set_err(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
            unlink(tmp);
        } else if (rename(tmp, path) != 0) {
            set_err(err, errlen, "%s: cannot replace: %s", path, strerror(errno));
            unlink(tmp);
        } else {
            sx_fs_sync_parent(path);
            st = SX_OK;
        }
    }
    sx_wipe(text, len);
    free(text);
    return st;
}

sx_status sx_queue_file_load(const char *path, sx_queue_file *out, char *err, size_t errlen)
{
    sx_queue_file_init(out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        set_err(err, errlen, "%s: %s", path, strerror(errno));
        return SX_E_IO;
    }
    char *buf = malloc(SX_QUEUE_FILE_MAX + 1);
    if (!buf) {
        close(fd);
        return SX_E_NOMEM;
    }
    size_t len = 0;
    sx_status st = SX_OK;
    while (len < SX_QUEUE_FILE_MAX + 1) {
        ssize_t k = read(fd, buf + len, SX_QUEUE_FILE_MAX + 1 - len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            set_err(err, errlen, "%s: %s", path, strerror(errno));
            st = SX_E_IO;
            break;
        }
        if (k == 0)
            break;
        len += (size_t)k;
    }
    close(fd);
    if (st == SX_OK) {
        char msg[256] = "";
        st = sx_queue_file_parse(buf, len, out, msg, sizeof msg);
        if (st != SX_OK)
            set_err(err, errlen, "%s: %s", path, msg);
    }
    sx_wipe(buf, len);
    free(buf);
    return st;
}

sx_status sx_queue_address_public(const char *address, char *out, size_t cap)
{
    SX_ENSURE(address_valid(address), SX_E_PROTOCOL);
    /* the address as written without ":<password>" */
    sx_server_address a;
    sx_status st = sx_server_address_parse(address, strlen(address), &a);
    if (st == SX_OK)
        st = sx_server_address_format(&a, false, out, cap, NULL);
    sx_wipe(&a, sizeof a);
    return st;
}

sx_status sx_queue_file_sender_of(const sx_queue_file *rcv, sx_queue_file *out)
{
    sx_queue_file_init(out);
    SX_ENSURE(rcv->role == SX_QUEUE_RECIPIENT, SX_E_USAGE);
    SX_TRY(sx_queue_address_public(rcv->server, out->server, sizeof out->server));
    out->role = SX_QUEUE_SENDER;
    memcpy(out->snd_id, rcv->snd_id, SX_QUEUE_ID_LEN);
    return SX_OK;
}
