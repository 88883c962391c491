/* smp: a command-line SMP client for scripts and small devices. It creates
 * a queue on a router and keeps each side's keys in a queue file
 * (client/queue_file.h), then secures, sends, receives, polls and deletes
 * with one connection per invocation (client/smp_client.h). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client/queue_file.h"
#include "client/smp_client.h"
#include "crypto/util.h"
#include "smp/msgcrypt.h"
#include "smp/version.h"

#ifndef SX_VERSION
#define SX_VERSION "0.0.0"
#endif
#ifndef SX_GIT_COMMIT
#define SX_GIT_COMMIT "unknown"
#endif

static const char version_line[] = "smp v" SX_VERSION " / " SX_GIT_COMMIT;

/* Exit codes. */
enum {
    EXIT_OKAY = 0,
    EXIT_FAIL = 1,  /* network, router or file error */
    EXIT_USAGE = 2, /* bad command line */
    EXIT_EMPTY = 3, /* recv / get: no message */
};

#define ERRLEN 512
/* The client library PINGs a connection idle this long while the tool
 * waits for messages (sx_smp_client_next_event). */
#define KEEPALIVE_MS 60000
#define BODY_READ_MAX SX_SMP_MSG_BODY_MAX /* the largest body any version accepts (PROTOCOL-NOTES D21) */

static void usage(FILE *f)
{
    fprintf(f,
            "%s\n\n"
            "Usage: smp COMMAND [ARGUMENTS]\n\n"
            "  smp create SERVER --out RECIPIENT_FILE [--sender-out SENDER_FILE]\n"
            "      Create a queue on SERVER (smp://fingerprint[:password]@host[:port]).\n"
            "      Writes the recipient file (mode 0600) and the sender file, or prints\n"
            "      the sender file on standard output when --sender-out is not given.\n"
            "  smp secure SENDER_FILE\n"
            "      Generate the sender key, store it in SENDER_FILE and secure the queue\n"
            "      with it (run again to retry with the stored key).\n"
            "  smp send SENDER_FILE [MESSAGE | -]\n"
            "      Send MESSAGE, or standard input as it is (- or no argument).\n"
            "  smp recv RECIPIENT_FILE [--count N] [--timeout SECONDS] [--no-ack] [--raw]\n"
            "      Subscribe and write each message to standard output, acknowledging it\n"
            "      once written. Stops after N messages or SECONDS (default: neither).\n"
            "      --no-ack stops after the first message and leaves it on the router.\n"
            "  smp get RECIPIENT_FILE [--no-ack] [--raw]\n"
            "      Fetch one message, if there is one, and acknowledge it.\n"
            "  smp delete RECIPIENT_FILE\n"
            "      Delete the queue and its messages from the router.\n\n"
            "Messages are written followed by a newline, or with --raw each preceded by\n"
            "its length (4 bytes, big-endian) and nothing after it.\n"
            "Options: -h, --help   -v, --version\n"
            "Exit codes: 0 success, 1 failure, 2 usage error, 3 no message (recv, get).\n",
            version_line);
}

static void errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void errorf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("smp: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static const char *cmd_err_name(sx_smp_cmd_err e)
{
    switch (e) {
    case SX_SMP_CMD_UNKNOWN: return "UNKNOWN";
    case SX_SMP_CMD_SYNTAX: return "SYNTAX";
    case SX_SMP_CMD_PROHIBITED: return "PROHIBITED";
    case SX_SMP_CMD_NO_AUTH: return "NO_AUTH";
    case SX_SMP_CMD_HAS_AUTH: return "HAS_AUTH";
    case SX_SMP_CMD_NO_ENTITY: return "NO_ENTITY";
    default: return "?";
    }
}

/* Reports a router's ERR for the action `what`. */
static void report_router_err(const char *what, const sx_smp_error *e)
{
    switch (e->type) {
    case SX_SMP_ERR_AUTH:
        errorf("%s: not authorized (AUTH): the queue does not exist (deleted?), or the key in the "
               "queue file is not the queue's key",
               what);
        break;
    case SX_SMP_ERR_QUOTA:
        errorf("%s: the queue is full (QUOTA): the recipient has to receive messages first", what);
        break;
    case SX_SMP_ERR_LARGE_MSG: errorf("%s: the message is too large (LARGE_MSG)", what); break;
    case SX_SMP_ERR_NO_MSG: errorf("%s: no message to acknowledge (NO_MSG)", what); break;
    case SX_SMP_ERR_BLOCKED: errorf("%s: the queue is blocked by the router's operator (BLOCKED)", what); break;
    case SX_SMP_ERR_CMD:
        errorf("%s: the router refused the command (CMD %s)", what, cmd_err_name(e->cmd));
        break;
    default: errorf("%s: the router answered ERR %s", what, sx_smp_err_name(e->type)); break;
    }
}

/* True when r is the response `tag`; otherwise reports why not. */
static bool expect_resp(const char *what, const sx_smp_client_reply *r, sx_smp_resp_tag tag)
{
    if (!r->ok) {
        errorf("%s: the router's response could not be read", what);
        return false;
    }
    if (r->reply.resp.tag == tag)
        return true;
    if (r->reply.resp.tag == SX_SMP_R_ERR)
        report_router_err(what, &r->reply.resp.err);
    else
        errorf("%s: unexpected response %s from the router", what, sx_smp_resp_name(r->reply.resp.tag));
    return false;
}

static void report_net_err(const char *what, sx_status st)
{
    switch (st) {
    case SX_E_IO: errorf("%s: network error or timeout talking to the router", what); break;
    case SX_E_CLOSED: errorf("%s: the router closed the connection", what); break;
    default: errorf("%s: %s", what, sx_status_str(st)); break;
    }
}

/* One command and its response; false (reported) on a network failure. */
static bool call(sx_smp_client *cl, const char *what, sx_slice entity, const sx_smp_cmd *cmd, const sx_key *key,
                 sx_smp_client_reply *r)
{
    sx_status st = sx_smp_client_call(cl, entity, cmd, key, r);
    if (st != SX_OK) {
        report_net_err(what, st);
        return false;
    }
    return true;
}

static int open_client(const char *server, sx_smp_address *addr, sx_smp_client **cl)
{
    if (sx_smp_address_parse(server, addr) != SX_OK) {
        errorf("invalid server address '%s' (expected smp://fingerprint[:password]@host[:port])", server);
        return EXIT_USAGE;
    }
    sx_smp_client_opts o = {.timeout_ms = 15000, .ping_interval_ms = KEEPALIVE_MS};
    sx_status st = sx_smp_client_connect(addr->host, addr->port, addr->key_hash, &o, cl);
    if (st == SX_OK)
        return EXIT_OKAY;
    if (st == SX_E_AUTH)
        errorf("cannot connect to %s:%u: the router's identity does not match the fingerprint in the address",
               addr->host, addr->port);
    else if (st == SX_E_PROTOCOL)
        errorf("cannot connect to %s:%u: SMP handshake failed (not an SMP router, or no common version)",
               addr->host, addr->port);
    else
        errorf("cannot connect to %s:%u (%s)", addr->host, addr->port,
               st == SX_E_IO ? "connection refused, unreachable or timed out" : sx_status_str(st));
    return EXIT_FAIL;
}

static bool parse_long(const char *s, long min, long max, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int load(const char *path, sx_queue_role role, sx_queue_file *q)
{
    char err[ERRLEN];
    if (sx_queue_file_load(path, q, err, sizeof err) != SX_OK) {
        errorf("%s", err);
        return EXIT_FAIL;
    }
    struct stat sb;
    bool secret = q->role == SX_QUEUE_RECIPIENT || q->snd_key;
    if (secret && stat(path, &sb) == 0 && (sb.st_mode & (S_IRWXG | S_IRWXO)))
        errorf("warning: %s holds a private key and other users can read it (chmod 600 %s)", path, path);
    if (q->role != role) {
        errorf("%s: this is a %s file; this command needs the %s file", path,
               q->role == SX_QUEUE_RECIPIENT ? "recipient" : "sender",
               role == SX_QUEUE_RECIPIENT ? "recipient" : "sender");
        sx_queue_file_cleanup(q);
        return EXIT_USAGE;
    }
    return EXIT_OKAY;
}

/* ---- create ---- */

static int cmd_create(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'},
        {"sender-out", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL, *sender_out = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "o:s:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 's': sender_out = optarg; break;
        case 'h': usage(stdout); return EXIT_OKAY;
        default: return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc || !out) {
        errorf("usage: smp create SERVER --out RECIPIENT_FILE [--sender-out SENDER_FILE]");
        return EXIT_USAGE;
    }
    const char *server = argv[optind];
    if (strlen(server) >= SX_QUEUE_ADDR_MAX) {
        errorf("server address is too long");
        return EXIT_USAGE;
    }
    for (const char *p = server; *p; p++) {
        if (*p <= ' ' || *p > '~') {
            errorf("invalid server address: it has a space or a control character");
            return EXIT_USAGE;
        }
    }
    /* Refuse early what would fail after the queue exists. */
    if (access(out, F_OK) == 0 || (sender_out && access(sender_out, F_OK) == 0)) {
        errorf("%s: file exists (not overwritten)", access(out, F_OK) == 0 ? out : sender_out);
        return EXIT_USAGE;
    }
    if (sender_out && strcmp(out, sender_out) == 0) {
        errorf("--out and --sender-out must be different files");
        return EXIT_USAGE;
    }
    sx_smp_address addr;
    if (sx_smp_address_parse(server, &addr) == SX_OK && addr.has_password &&
        !sx_smp_basic_auth_valid(sx_slice_str(addr.password))) {
        errorf("the password in the server address has characters a router cannot accept");
        return EXIT_USAGE;
    }

    int rc = EXIT_FAIL;
    sx_queue_file q, sq;
    sx_queue_file_init(&q);
    sx_queue_file_init(&sq);
    sx_key *rdh = NULL, *srv = NULL;
    sx_smp_client *cl = NULL;
    sx_smp_client_reply r = {0};
    bool created = false;
    if (sx_key_generate(SX_KEY_ED25519, &q.rcv_key) != SX_OK || sx_key_generate(SX_KEY_X25519, &rdh) != SX_OK) {
        errorf("cannot generate keys");
        goto done;
    }
    rc = open_client(server, &addr, &cl);
    if (rc != EXIT_OKAY)
        goto done;
    rc = EXIT_FAIL;
    uint8_t b1[SX_KEY_SPKI_MAX], b2[SX_KEY_SPKI_MAX];
    sx_smp_cmd cmd = {.tag = SX_SMP_C_NEW};
    if (sx_smp_pubkey_of(q.rcv_key, b1, &cmd.new_queue.rcv_auth_key) != SX_OK ||
        sx_smp_pubkey_of(rdh, b2, &cmd.new_queue.rcv_dh_key) != SX_OK) {
        errorf("cannot encode keys");
        goto done;
    }
    cmd.new_queue.has_basic_auth = addr.has_password;
    cmd.new_queue.basic_auth = sx_slice_str(addr.password);
    cmd.new_queue.subscribe = false; /* subMode 'C': only create */
    cmd.new_queue.has_queue_req = true;
    cmd.new_queue.queue_req.mode = SX_SMP_QUEUE_MESSAGING;
    if (!call(cl, "create", sx_slice_of(NULL, 0), &cmd, q.rcv_key, &r))
        goto done;
    if (r.ok && r.reply.resp.tag == SX_SMP_R_ERR && r.reply.resp.err.type == SX_SMP_ERR_AUTH) {
        errorf("create: the router refused to create a queue (AUTH): it needs a password in the server "
               "address (smp://fingerprint:password@host), or the one given is wrong");
        goto done;
    }
    if (!expect_resp("create", &r, SX_SMP_R_IDS))
        goto done;
    const sx_smp_ids *ids = &r.reply.resp.ids;
    if (ids->rcv_id.len == SX_QUEUE_ID_LEN) {
        memcpy(q.rcv_id, ids->rcv_id.ptr, SX_QUEUE_ID_LEN);
        created = true;
    }
    if (ids->rcv_id.len != SX_QUEUE_ID_LEN || ids->snd_id.len != SX_QUEUE_ID_LEN) {
        errorf("create: the router sent queue ids of %zu and %zu bytes (%d expected)", ids->rcv_id.len,
               ids->snd_id.len, SX_QUEUE_ID_LEN);
        goto done;
    }
    memcpy(q.snd_id, ids->snd_id.ptr, SX_QUEUE_ID_LEN);
    size_t n = 0;
    if (sx_key_decode_public(ids->srv_dh_key.der, SX_KEY_BIT(SX_KEY_X25519), &srv) != SX_OK ||
        sx_key_dh(rdh, srv, q.dh_secret, sizeof q.dh_secret, &n) != SX_OK || n != SX_CB_KEY_LEN) {
        errorf("create: the router's DH key is not usable");
        goto done;
    }
    q.role = SX_QUEUE_RECIPIENT;
    snprintf(q.server, sizeof q.server, "%s", server);
    char err[ERRLEN];
    if (sx_queue_file_save(out, &q, false, err, sizeof err) != SX_OK) {
        errorf("%s", err);
        goto done;
    }
    created = false; /* the keys are saved: the queue is the user's now */
    if (sx_queue_file_sender_of(&q, &sq) != SX_OK) {
        errorf("cannot make the sender file");
        goto done;
    }
    if (sender_out) {
        if (sx_queue_file_save(sender_out, &sq, false, err, sizeof err) != SX_OK) {
            errorf("%s", err);
            errorf("the queue was created; here is its sender file:");
        } else {
            printf("%s\n", sender_out);
            rc = EXIT_OKAY;
            goto done;
        }
    }
    char *text = NULL;
    size_t len = 0;
    if (sx_queue_file_format(&sq, &text, &len) != SX_OK) {
        errorf("cannot make the sender file");
        goto done;
    }
    fwrite(text, 1, len, stdout);
    free(text);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        errorf("cannot write the sender file to standard output");
        goto done;
    }
    rc = sender_out ? EXIT_FAIL : EXIT_OKAY;
done:
    if (created && cl) {
        /* The recipient file could not be written: remove the queue rather
         * than leave one nobody can use. */
        sx_smp_client_reply d = {0};
        sx_smp_cmd del = {.tag = SX_SMP_C_DEL};
        if (sx_smp_client_call(cl, sx_slice_of(q.rcv_id, SX_QUEUE_ID_LEN), &del, q.rcv_key, &d) == SX_OK)
            sx_smp_client_reply_free(&d);
    }
    sx_smp_client_reply_free(&r);
    sx_smp_client_close(cl);
    sx_key_free(srv);
    sx_key_free(rdh);
    sx_queue_file_cleanup(&q);
    sx_queue_file_cleanup(&sq);
    sx_wipe(&addr, sizeof addr);
    return rc;
}

/* ---- secure ---- */

static int cmd_secure(int argc, char **argv)
{
    if (argc != 2) {
        errorf("usage: smp secure SENDER_FILE");
        return EXIT_USAGE;
    }
    const char *path = argv[1];
    sx_queue_file q;
    int rc = load(path, SX_QUEUE_SENDER, &q);
    if (rc != EXIT_OKAY)
        return rc;
    rc = EXIT_FAIL;
    sx_smp_address addr;
    sx_smp_client *cl = NULL;
    sx_smp_client_reply r = {0};
    bool had_key = q.snd_key != NULL;
    int orc = open_client(q.server, &addr, &cl);
    if (orc != EXIT_OKAY) {
        rc = orc;
        goto done;
    }
    if (sx_smp_client_session(cl)->version < SX_SMP_V_SND_AUTH_KEY) {
        errorf("secure: the router speaks SMP v%u; securing by the sender needs v%d",
               (unsigned)sx_smp_client_session(cl)->version, SX_SMP_V_SND_AUTH_KEY);
        goto done;
    }
    if (!had_key) {
        /* Saved before SKEY: if the command's outcome is lost, running
         * secure again sends the same key, which the router accepts. */
        char err[ERRLEN];
        if (sx_key_generate(SX_KEY_ED25519, &q.snd_key) != SX_OK) {
            errorf("cannot generate a key");
            goto done;
        }
        if (sx_queue_file_save(path, &q, true, err, sizeof err) != SX_OK) {
            errorf("%s", err);
            goto done;
        }
    }
    uint8_t b[SX_KEY_SPKI_MAX];
    sx_smp_cmd cmd = {.tag = SX_SMP_C_SKEY};
    if (sx_smp_pubkey_of(q.snd_key, b, &cmd.key) != SX_OK) {
        errorf("cannot encode the key");
        goto done;
    }
    if (!call(cl, "secure", sx_slice_of(q.snd_id, SX_QUEUE_ID_LEN), &cmd, q.snd_key, &r))
        goto done;
    if (!expect_resp("secure", &r, SX_SMP_R_OK)) {
        if (had_key && r.ok && r.reply.resp.tag == SX_SMP_R_ERR && r.reply.resp.err.type == SX_SMP_ERR_AUTH)
            errorf("(the queue may be secured with another key already)");
        goto done;
    }
    rc = EXIT_OKAY;
done:
    sx_smp_client_reply_free(&r);
    sx_smp_client_close(cl);
    sx_queue_file_cleanup(&q);
    return rc;
}

/* ---- send ---- */

/* Reads all of standard input, at most max bytes (*too_long beyond). */
static bool read_stdin(uint8_t *buf, size_t max, size_t *len, bool *too_long)
{
    *len = 0;
    *too_long = false;
    for (;;) {
        uint8_t extra;
        uint8_t *p = *len < max ? buf + *len : &extra;
        size_t room = *len < max ? max - *len : 1;
        ssize_t k = read(STDIN_FILENO, p, room);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return false;
        if (k == 0)
            return true;
        if (p == &extra) {
            *too_long = true;
            return true;
        }
        *len += (size_t)k;
    }
}

static int cmd_send(int argc, char **argv)
{
    if (argc != 2 && argc != 3) {
        errorf("usage: smp send SENDER_FILE [MESSAGE | -]");
        return EXIT_USAGE;
    }
    const char *path = argv[1];
    bool from_stdin = argc == 2 || strcmp(argv[2], "-") == 0;
    sx_queue_file q;
    int rc = load(path, SX_QUEUE_SENDER, &q);
    if (rc != EXIT_OKAY)
        return rc;
    rc = EXIT_FAIL;
    sx_smp_address addr;
    sx_smp_client *cl = NULL;
    sx_smp_client_reply r = {0};
    uint8_t *buf = NULL;
    sx_slice body;
    if (from_stdin) {
        /* Read before connecting, so that a slow producer does not hold an
         * idle connection. */
        buf = malloc(BODY_READ_MAX);
        size_t len = 0;
        bool too_long = false;
        if (!buf || !read_stdin(buf, BODY_READ_MAX, &len, &too_long)) {
            errorf("send: cannot read standard input");
            goto done;
        }
        if (too_long) {
            errorf("send: the message is longer than %d bytes", BODY_READ_MAX);
            goto done;
        }
        body = sx_slice_of(buf, len);
    } else {
        body = sx_slice_str(argv[2]);
    }
    int orc = open_client(q.server, &addr, &cl);
    if (orc != EXIT_OKAY) {
        rc = orc;
        goto done;
    }
    size_t max = sx_smp_max_message_length(sx_smp_client_session(cl)->version);
    if (body.len > max) {
        errorf("send: the message is %zu bytes, longer than the %zu bytes SMP v%u allows", body.len, max,
               (unsigned)sx_smp_client_session(cl)->version);
        goto done;
    }
    sx_smp_cmd cmd = {.tag = SX_SMP_C_SEND};
    cmd.send.notification = false;
    cmd.send.body = body;
    if (!call(cl, "send", sx_slice_of(q.snd_id, SX_QUEUE_ID_LEN), &cmd, q.snd_key, &r))
        goto done;
    if (!expect_resp("send", &r, SX_SMP_R_OK)) {
        if (!q.snd_key && r.ok && r.reply.resp.tag == SX_SMP_R_ERR && r.reply.resp.err.type == SX_SMP_ERR_AUTH)
            errorf("(the sender file has no key: if the queue was secured, use the file `smp secure` updated)");
        goto done;
    }
    rc = EXIT_OKAY;
done:
    sx_smp_client_reply_free(&r);
    sx_smp_client_close(cl);
    sx_queue_file_cleanup(&q);
    if (buf) {
        sx_wipe(buf, BODY_READ_MAX);
        free(buf);
    }
    return rc;
}

/* ---- recv / get ---- */

typedef struct rx {
    sx_smp_client *cl;
    sx_queue_file *q;
    bool raw;
    bool no_ack;
    long got;
    uint8_t plain[SX_SMP_ENC_MSG_LEN];
} rx;

static bool write_body(rx *x, sx_slice body)
{
    if (x->raw) {
        uint8_t len[4] = {(uint8_t)(body.len >> 24), (uint8_t)(body.len >> 16), (uint8_t)(body.len >> 8),
                          (uint8_t)body.len};
        fwrite(len, 1, sizeof len, stdout);
        fwrite(body.ptr, 1, body.len, stdout);
    } else {
        fwrite(body.ptr, 1, body.len, stdout);
        fputc('\n', stdout);
    }
    /* Written (and flushed) before the ACK: a message is never lost, at
     * worst printed twice after a failure. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        errorf("cannot write to standard output: %s", strerror(errno));
        return false;
    }
    return true;
}

typedef enum deliver_result {
    D_PRINTED,  /* printed (and acknowledged unless no_ack) */
    D_SKIPPED,  /* quota marker or unreadable message, acknowledged */
    D_FAILED,   /* reported */
} deliver_result;

/* Handles one MSG: decrypts, prints, ACKs. When the ACK's response is the
 * next message, it goes to *next (next->buf set). */
static deliver_result deliver(rx *x, const sx_smp_client_reply *m, sx_smp_client_reply *next)
{
    memset(next, 0, sizeof *next);
    sx_slice msg_id = m->reply.resp.msg.msg_id;
    sx_smp_rcv_msg rm;
    sx_status st = sx_smp_msg_decrypt(x->q->dh_secret, msg_id, m->reply.resp.msg.body, x->plain, sizeof x->plain, &rm);
    deliver_result res = D_SKIPPED;
    if (st != SX_OK) {
        errorf("warning: a message could not be decrypted (%s); acknowledging it to go on", sx_status_str(st));
    } else if (rm.quota) {
        /* The router's "queue was full" marker, not a message. */
    } else {
        if (!write_body(x, rm.body)) {
            sx_wipe(x->plain, sizeof x->plain);
            return D_FAILED;
        }
        res = D_PRINTED;
    }
    sx_wipe(x->plain, sizeof x->plain);
    if (res == D_PRINTED && x->no_ack)
        return res;
    sx_smp_cmd ack = {.tag = SX_SMP_C_ACK};
    ack.msg_id = msg_id;
    sx_smp_client_reply r;
    if (!call(x->cl, "acknowledge", sx_slice_of(x->q->rcv_id, SX_QUEUE_ID_LEN), &ack, x->q->rcv_key, &r))
        return D_FAILED;
    if (r.ok && r.reply.resp.tag == SX_SMP_R_MSG) {
        *next = r;
        return res;
    }
    bool ok = expect_resp("acknowledge", &r, SX_SMP_R_OK);
    sx_smp_client_reply_free(&r);
    return ok ? res : D_FAILED;
}

/* True when r is a MSG for our queue. */
static bool is_our_msg(const rx *x, const sx_smp_client_reply *r)
{
    return r->ok && r->reply.resp.tag == SX_SMP_R_MSG &&
           sx_slice_eq(r->reply.t.entity_id, sx_slice_of(x->q->rcv_id, SX_QUEUE_ID_LEN));
}

static int parse_rx_opts(int argc, char **argv, bool with_wait, long *count, long *timeout_ms, rx *x)
{
    static const struct option opts[] = {
        {"count", required_argument, NULL, 'n'},
        {"timeout", required_argument, NULL, 't'},
        {"no-ack", no_argument, NULL, 'k'},
        {"raw", no_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, with_wait ? "n:t:h" : "h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (!with_wait || !parse_long(optarg, 1, LONG_MAX, count)) {
                errorf(with_wait ? "--count needs a positive number" : "get takes no --count");
                return EXIT_USAGE;
            }
            break;
        case 't': {
            char *end = NULL;
            double s = with_wait ? strtod(optarg, &end) : -1;
            if (!with_wait || !end || end == optarg || *end || !(s >= 0 && s <= 31536000)) {
                errorf(with_wait ? "--timeout needs a number of seconds" : "get takes no --timeout");
                return EXIT_USAGE;
            }
            *timeout_ms = (long)(s * 1000);
            break;
        }
        case 'k': x->no_ack = true; break;
        case 'r': x->raw = true; break;
        case 'h': usage(stdout); return -1;
        default: return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        errorf(with_wait ? "usage: smp recv RECIPIENT_FILE [--count N] [--timeout SECONDS] [--no-ack] [--raw]"
                         : "usage: smp get RECIPIENT_FILE [--no-ack] [--raw]");
        return EXIT_USAGE;
    }
    return EXIT_OKAY;
}

static int cmd_recv(int argc, char **argv)
{
    rx *x = calloc(1, sizeof *x);
    if (!x)
        return EXIT_FAIL;
    long count = 0, timeout_ms = -1;
    int rc = parse_rx_opts(argc, argv, true, &count, &timeout_ms, x);
    if (rc != EXIT_OKAY) {
        free(x);
        return rc < 0 ? EXIT_OKAY : rc;
    }
    sx_queue_file q;
    rc = load(argv[optind], SX_QUEUE_RECIPIENT, &q);
    if (rc != EXIT_OKAY) {
        free(x);
        return rc;
    }
    x->q = &q;
    if (x->no_ack)
        count = 1; /* nothing more is delivered until the first is acknowledged */
    rc = EXIT_FAIL;
    int64_t deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : -1;
    sx_smp_address addr;
    sx_smp_client_reply r = {0}, next = {0};
    int orc = open_client(q.server, &addr, &x->cl);
    if (orc != EXIT_OKAY) {
        rc = orc;
        goto done;
    }
    sx_slice rid = sx_slice_of(q.rcv_id, SX_QUEUE_ID_LEN);
    sx_smp_cmd sub = {.tag = SX_SMP_C_SUB};
    if (!call(x->cl, "subscribe", rid, &sub, q.rcv_key, &r))
        goto done;
    /* SOK from v16, OK before. */
    if (!(r.ok && r.reply.resp.tag == SX_SMP_R_OK) && !expect_resp("subscribe", &r, SX_SMP_R_SOK))
        goto done;
    sx_smp_client_reply_free(&r);
    while (count == 0 || x->got < count) {
        if (!next.buf) {
            int64_t now = now_ms();
            if (deadline >= 0 && now >= deadline)
                break;
            int64_t wait = deadline >= 0 ? deadline - now : -1;
            if (wait > 0x7fffffff)
                wait = 0x7fffffff;
            /* The client keeps the connection alive while it waits. */
            sx_status st = sx_smp_client_next_event(x->cl, (int)wait, &r);
            if (st == SX_E_WOULD_BLOCK)
                continue;
            if (st != SX_OK) {
                report_net_err("receive", st);
                goto done;
            }
        } else {
            r = next;
            memset(&next, 0, sizeof next);
        }
        if (is_our_msg(x, &r)) {
            deliver_result d = deliver(x, &r, &next);
            if (d == D_FAILED)
                goto done;
            if (d == D_PRINTED)
                x->got++;
        } else if (r.ok && r.reply.resp.tag == SX_SMP_R_END) {
            errorf("receive: another client subscribed to this queue (END)");
            goto done;
        } else if (r.ok && r.reply.resp.tag == SX_SMP_R_DELD) {
            errorf("receive: the queue was deleted (DELD)");
            goto done;
        } else if (r.ok && r.reply.resp.tag == SX_SMP_R_ERR) {
            report_router_err("receive", &r.reply.resp.err);
            goto done;
        }
        sx_smp_client_reply_free(&r);
    }
    if (x->got > 0) {
        rc = EXIT_OKAY;
    } else {
        errorf("no message arrived within %.3g seconds", (double)timeout_ms / 1000);
        rc = EXIT_EMPTY;
    }
done:
    sx_smp_client_reply_free(&r);
    sx_smp_client_reply_free(&next);
    sx_smp_client_close(x->cl);
    sx_queue_file_cleanup(&q);
    sx_wipe(x, sizeof *x);
    free(x);
    return rc;
}

static int cmd_get(int argc, char **argv)
{
    rx *x = calloc(1, sizeof *x);
    if (!x)
        return EXIT_FAIL;
    long count = 0, timeout_ms = -1;
    int rc = parse_rx_opts(argc, argv, false, &count, &timeout_ms, x);
    if (rc != EXIT_OKAY) {
        free(x);
        return rc < 0 ? EXIT_OKAY : rc;
    }
    sx_queue_file q;
    rc = load(argv[optind], SX_QUEUE_RECIPIENT, &q);
    if (rc != EXIT_OKAY) {
        free(x);
        return rc;
    }
    x->q = &q;
    rc = EXIT_FAIL;
    sx_smp_address addr;
    sx_smp_client_reply r = {0}, next = {0};
    int orc = open_client(q.server, &addr, &x->cl);
    if (orc != EXIT_OKAY) {
        rc = orc;
        goto done;
    }
    sx_slice rid = sx_slice_of(q.rcv_id, SX_QUEUE_ID_LEN);
    /* A quota marker or an unreadable message is acknowledged and skipped;
     * the queue holds at most a few of those in a row. */
    for (int tries = 0; tries < 4; tries++) {
        sx_smp_cmd get = {.tag = SX_SMP_C_GET};
        if (!call(x->cl, "get", rid, &get, q.rcv_key, &r))
            goto done;
        if (r.ok && r.reply.resp.tag == SX_SMP_R_OK) {
            errorf("no message");
            rc = EXIT_EMPTY;
            goto done;
        }
        if (!is_our_msg(x, &r)) {
            (void)expect_resp("get", &r, SX_SMP_R_MSG);
            goto done;
        }
        deliver_result d = deliver(x, &r, &next);
        sx_smp_client_reply_free(&r);
        sx_smp_client_reply_free(&next); /* GET-mode ACK answers OK only */
        if (d == D_FAILED)
            goto done;
        if (d == D_PRINTED) {
            rc = EXIT_OKAY;
            goto done;
        }
    }
    errorf("get: only unreadable messages or quota markers");
done:
    sx_smp_client_reply_free(&r);
    sx_smp_client_reply_free(&next);
    sx_smp_client_close(x->cl);
    sx_queue_file_cleanup(&q);
    sx_wipe(x, sizeof *x);
    free(x);
    return rc;
}

/* ---- delete ---- */

static int cmd_delete(int argc, char **argv)
{
    if (argc != 2) {
        errorf("usage: smp delete RECIPIENT_FILE");
        return EXIT_USAGE;
    }
    sx_queue_file q;
    int rc = load(argv[1], SX_QUEUE_RECIPIENT, &q);
    if (rc != EXIT_OKAY)
        return rc;
    rc = EXIT_FAIL;
    sx_smp_address addr;
    sx_smp_client *cl = NULL;
    sx_smp_client_reply r = {0};
    int orc = open_client(q.server, &addr, &cl);
    if (orc != EXIT_OKAY) {
        rc = orc;
        goto done;
    }
    sx_smp_cmd del = {.tag = SX_SMP_C_DEL};
    if (!call(cl, "delete", sx_slice_of(q.rcv_id, SX_QUEUE_ID_LEN), &del, q.rcv_key, &r))
        goto done;
    if (!expect_resp("delete", &r, SX_SMP_R_OK))
        goto done;
    rc = EXIT_OKAY;
done:
    sx_smp_client_reply_free(&r);
    sx_smp_client_close(cl);
    sx_queue_file_cleanup(&q);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return EXIT_OKAY;
    }
    if (strcmp(cmd, "-v") == 0 || strcmp(cmd, "--version") == 0) {
        printf("%s\n", version_line);
        return EXIT_OKAY;
    }
    if (sx_crypto_init() != SX_OK) {
        errorf("cannot initialise the crypto libraries");
        return EXIT_FAIL;
    }
    /* Each command parses argv[1..]: its own name is argv[0] for getopt. */
    int sub_argc = argc - 1;
    char **sub_argv = argv + 1;
    if (strcmp(cmd, "create") == 0)
        return cmd_create(sub_argc, sub_argv);
    if (strcmp(cmd, "secure") == 0)
        return cmd_secure(sub_argc, sub_argv);
    if (strcmp(cmd, "send") == 0)
        return cmd_send(sub_argc, sub_argv);
    if (strcmp(cmd, "recv") == 0)
        return cmd_recv(sub_argc, sub_argv);
    if (strcmp(cmd, "get") == 0)
        return cmd_get(sub_argc, sub_argv);
    if (strcmp(cmd, "delete") == 0)
        return cmd_delete(sub_argc, sub_argv);
    errorf("unknown command '%s' (see smp --help)", cmd);
    return EXIT_USAGE;
}
