/* xrcp: pairs two terminals by XRCP remote control (include/simplex/xrcp.h).
 * `xrcp ctrl` is the controller: it prints the invitation link and the
 * session code, then sends each line of its standard input as a command and
 * prints the responses. `xrcp host` joins by the link (or by the
 * controller's multicast announcement once paired), prints the same code,
 * prints each command and answers it with a line of its standard input (or
 * echoes it with --echo). Argument parsing and printing only; the work is
 * the public library API's. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "simplex/xrcp.h"

#include "common/qr_text.h"

static const char version_line[] = "SimpleX XRCP remote control v" SX_VERSION " / " SX_GIT_COMMIT;

enum { EXIT_OKAY = 0,
       EXIT_FAIL = 1,
       EXIT_USAGE = 2 };

#define LINE_MAX_LEN 65536
#define FILE_MAX 4294967279ull /* 4 GiB - 17: an attachment's Word32 length counts its tag */

static void usage(FILE *f)
{
    fprintf(f,
            "%s\n\n"
            "Usage: xrcp ctrl --pairing FILE [--address ADDR] [--port PORT] [--app JSON]\n"
            "                 [--announce PORT] [--iface ADDR] [--qr] [--yes] [--timeout SECONDS]\n"
            "       xrcp host --pairing FILE (LINK | --discover PORT) [--iface ADDR] [--app JSON]\n"
            "                 [--echo] [--yes] [--timeout SECONDS]\n\n"
            "  xrcp ctrl  Offer a session as the controller. FILE keeps this controller's\n"
            "      identity and its paired host (created on first use, rewritten after\n"
            "      each session). Prints \"invitation: LINK\" (show it to the host; with\n"
            "      --qr also as a QR code, for the host's camera), then,\n"
            "      when the host connects, \"session code: CODE\". After the code is\n"
            "      confirmed, each line of standard input is sent as a command\n"
            "      {\"command\":\"LINE\"}; a line \"@PATH TEXT\" also attaches the file PATH\n"
            "      (its SHA-512 goes in the command; up to 4 GiB, streamed from the file\n"
            "      as it is sent, not held in memory). Each response is printed as\n"
            "      \"response: JSON\" (and \"attachment: SIZE SHA512\"). End of input ends\n"
            "      the session. With --announce PORT a paired host is also told of the\n"
            "      session by multicast to 224.0.0.251:PORT (the reference uses 5227)\n"
            "      from the interface ADDR of --iface.\n"
            "  xrcp host  Join a session as the host. FILE keeps this host's identity and\n"
            "      its paired controller. LINK is the controller's invitation; with\n"
            "      --discover PORT the host waits for its paired controller's\n"
            "      announcement instead. Prints \"session code: CODE\"; after the code is\n"
            "      confirmed prints each command as \"command: JSON\" (and\n"
            "      \"attachment: SIZE ok\" or \"attachment: SIZE digest mismatch\") and\n"
            "      answers it with the next line of standard input as JSON, or with\n"
            "      --echo with {\"echo\":COMMAND} and the attachment sent back.\n"
            "      Attachments received go through a temporary file, not memory.\n\n"
            "Options:\n"
            "  --address ADDR   IPv4 address the host connects to (default 127.0.0.1);\n"
            "                   auto: the first of this machine's addresses in the\n"
            "                   reference's order (loopback last), printed as\n"
            "                   \"address: ADDR on IFACE\"\n"
            "  --port PORT      TCP port to listen on (default: one the system picks)\n"
            "  --app JSON       application information in the invitation or HELLO\n"
            "  --qr             ctrl: also print the invitation as a QR code of text\n"
            "                   blocks (light modules drawn: for a dark terminal)\n"
            "  --yes            take the session code as confirmed (otherwise a line\n"
            "                   \"y\" on standard input confirms it)\n"
            "  --timeout SECONDS  how long to wait for the other side (default 120)\n"
            "  -h, --help       this text\n"
            "  --version        the version line\n\n"
            "Exit codes: 0 done, 1 refused or failed (the error word of the protocol,\n"
            "such as IDENTITY or INVITATION, is printed), 2 bad command line.\n",
            version_line);
}

typedef struct args {
    const char *role, *pairing, *address, *app, *iface, *link;
    unsigned port, announce, discover;
    bool yes, echo, qr;
    int timeout_s;
    long long ts; /* hidden: the invitation's time, for tests */
    bool fault_tamper, fault_repeat;
    bool peak_rss; /* hidden: print the peak resident size at the end, for tests */
} args;

static int fail(const char *what)
{
    const char *code = sx_error_code();
    fprintf(stderr, "xrcp: %s: %s%s%s\n", what, sx_error_message(), code && *code ? " [" : "",
            code && *code ? code : "");
    if (code && *code)
        fprintf(stderr, "error: %s\n", code);
    return EXIT_FAIL;
}

static bool parse_uint(const char *s, unsigned max, unsigned *out)
{
    char *end = NULL;
    unsigned long v = strtoul(s, &end, 10);
    if (*s == 0 || *end != 0 || v > max)
        return false;
    *out = (unsigned)v;
    return true;
}

static int parse(int argc, char **argv, args *a)
{
    memset(a, 0, sizeof *a);
    a->address = "127.0.0.1";
    a->timeout_s = 120;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        unsigned n = 0;
        if (strcmp(o, "-h") == 0 || strcmp(o, "--help") == 0) {
            usage(stdout);
            exit(EXIT_OKAY);
        } else if (strcmp(o, "--version") == 0) {
            printf("%s\n", version_line);
            exit(EXIT_OKAY);
        } else if (strcmp(o, "--yes") == 0) {
            a->yes = true;
        } else if (strcmp(o, "--echo") == 0) {
            a->echo = true;
        } else if (strcmp(o, "--qr") == 0) {
            a->qr = true;
        } else if (strcmp(o, "--test-tamper") == 0) {
            a->fault_tamper = true;
        } else if (strcmp(o, "--test-repeat") == 0) {
            a->fault_repeat = true;
        } else if (strcmp(o, "--test-peak-rss") == 0) {
            a->peak_rss = true;
        } else if (o[0] == '-' && o[1] == '-' && v == NULL) {
            fprintf(stderr, "xrcp: %s needs a value (see xrcp --help)\n", o);
            return EXIT_USAGE;
        } else if (strcmp(o, "--pairing") == 0) {
            a->pairing = argv[++i];
        } else if (strcmp(o, "--address") == 0) {
            a->address = argv[++i];
        } else if (strcmp(o, "--app") == 0) {
            a->app = argv[++i];
        } else if (strcmp(o, "--iface") == 0) {
            a->iface = argv[++i];
        } else if (strcmp(o, "--port") == 0 || strcmp(o, "--announce") == 0 || strcmp(o, "--discover") == 0) {
            if (!parse_uint(argv[++i], 65535, &n) || (n == 0 && strcmp(o, "--port") != 0)) {
                fprintf(stderr, "xrcp: %s: not a port: %s\n", o, argv[i]);
                return EXIT_USAGE;
            }
            *(strcmp(o, "--port") == 0 ? &a->port : strcmp(o, "--announce") == 0 ? &a->announce
                                                                                 : &a->discover) = n;
        } else if (strcmp(o, "--timeout") == 0) {
            if (!parse_uint(argv[++i], 86400, &n) || n == 0) {
                fprintf(stderr, "xrcp: --timeout: not a number of seconds: %s\n", argv[i]);
                return EXIT_USAGE;
            }
            a->timeout_s = (int)n;
        } else if (strcmp(o, "--timestamp") == 0) {
            a->ts = strtoll(argv[++i], NULL, 10);
        } else if (o[0] == '-') {
            fprintf(stderr, "xrcp: unknown option %s (see xrcp --help)\n", o);
            return EXIT_USAGE;
        } else if (a->role == NULL) {
            a->role = o;
        } else if (a->link == NULL) {
            a->link = o;
        } else {
            fprintf(stderr, "xrcp: unexpected argument %s (see xrcp --help)\n", o);
            return EXIT_USAGE;
        }
    }
    if (a->role == NULL || (strcmp(a->role, "ctrl") != 0 && strcmp(a->role, "host") != 0)) {
        fprintf(stderr, "xrcp: say ctrl or host (see xrcp --help)\n");
        return EXIT_USAGE;
    }
    if (a->pairing == NULL) {
        fprintf(stderr, "xrcp: --pairing FILE is needed\n");
        return EXIT_USAGE;
    }
    bool host = strcmp(a->role, "host") == 0;
    if (host && (a->link == NULL) == (a->discover == 0)) {
        fprintf(stderr, "xrcp host: give either an invitation LINK or --discover PORT\n");
        return EXIT_USAGE;
    }
    if (!host && a->link != NULL) {
        fprintf(stderr, "xrcp ctrl: unexpected argument %s\n", a->link);
        return EXIT_USAGE;
    }
    return EXIT_OKAY;
}

/* A line of standard input without its newline; NULL at the end. */
static char *read_line(char *buf, size_t cap)
{
    if (fgets(buf, (int)cap, stdin) == NULL)
        return NULL;
    buf[strcspn(buf, "\r\n")] = 0;
    return buf;
}

static bool confirmed(const args *a)
{
    if (a->yes)
        return true;
    fprintf(stderr, "Is the same session code shown on the other device? [y/N] ");
    char line[64];
    return read_line(line, sizeof line) != NULL && (line[0] == 'y' || line[0] == 'Y');
}

/* JSON string escaping of s into out (cap). */
static bool json_string(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        char tmp[8];
        const char *put = tmp;
        if (ch == '"' || ch == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)ch;
            tmp[2] = 0;
        } else if (ch < 0x20) {
            snprintf(tmp, sizeof tmp, "\\u%04x", ch);
        } else {
            tmp[0] = (char)ch;
            tmp[1] = 0;
        }
        size_t n = strlen(put);
        if (o + n + 1 > cap)
            return false;
        memcpy(out + o, put, n);
        o += n;
    }
    out[o] = 0;
    return true;
}

/* SHA-512 of a stream of pieces, in hex (128 digits and the NUL), with
 * OpenSSL: the library does not export a hash. */
typedef struct hash_state {
    EVP_MD_CTX *md;
    uint64_t len;
} hash_state;

static bool digest_init(hash_state *d)
{
    d->len = 0;
    d->md = EVP_MD_CTX_new();
    return d->md != NULL && EVP_DigestInit_ex(d->md, EVP_sha512(), NULL) == 1;
}

static void digest_add(hash_state *d, const void *p, size_t n)
{
    if (EVP_DigestUpdate(d->md, p, n) != 1) {
        EVP_MD_CTX_free(d->md); /* the end reports it */
        d->md = NULL;
    }
    d->len += n;
}

static bool digest_end(hash_state *d, char out[129])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t h[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    bool ok = d->md != NULL && EVP_DigestFinal_ex(d->md, h, &n) == 1 && n == 64;
    EVP_MD_CTX_free(d->md);
    d->md = NULL;
    for (size_t i = 0; ok && i < 64; i++) {
        out[2 * i] = hex[h[i] >> 4];
        out[2 * i + 1] = hex[h[i] & 15];
    }
    out[ok ? 128 : 0] = 0;
    return ok;
}

/* An attachment sent from a file: read as it goes, hashed beforehand. */
typedef struct file_src {
    int fd;
    sx_rc_source src;
} file_src;

static bool file_open(const char *path, file_src *f, char hex[129])
{
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (f->fd < 0 || fstat(f->fd, &sb) != 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > FILE_MAX) {
        if (f->fd >= 0)
            close(f->fd);
        return false;
    }
    hash_state d;
    static uint8_t buf[65536];
    bool ok = digest_init(&d);
    for (ssize_t n; ok && (n = read(f->fd, buf, sizeof buf)) != 0;) {
        if (n < 0 && errno == EINTR)
            continue;
        ok = n > 0;
        if (ok)
            digest_add(&d, buf, (size_t)n);
    }
    ok = digest_end(&d, hex) && ok && d.len == (uint64_t)sb.st_size && lseek(f->fd, 0, SEEK_SET) == 0;
    if (!ok) {
        close(f->fd);
        return false;
    }
    f->src = (sx_rc_source){.len = (uint64_t)sb.st_size, .read = sx_rc_read_fd, .arg = &f->fd};
    return true;
}

/* An attachment received: hashed as it comes and kept in an unnamed
 * temporary file (the host sends it back from there with --echo). */
typedef struct file_sink {
    FILE *tmp;
    int fd;
    hash_state d;
    sx_rc_sink sink;
} file_sink;

static sx_status sink_write(void *arg, const void *data, size_t len)
{
    file_sink *k = arg;
    digest_add(&k->d, data, len);
    return k->fd < 0 ? SX_OK : sx_rc_write_fd(&k->fd, data, len);
}

static bool sink_open(file_sink *k, bool keep)
{
    k->tmp = keep ? tmpfile() : NULL;
    k->fd = k->tmp != NULL ? fileno(k->tmp) : -1;
    k->sink = (sx_rc_sink){.write = sink_write, .arg = k};
    return (!keep || k->tmp != NULL) && digest_init(&k->d);
}

static void sink_close(file_sink *k)
{
    if (k->tmp != NULL)
        fclose(k->tmp);
    k->tmp = NULL;
    EVP_MD_CTX_free(k->d.md);
    k->d.md = NULL;
}

static void print_peak_rss(const args *a)
{
    if (!a->peak_rss)
        return;
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "VmHWM:", 6) == 0)
            printf("peak rss: %ld kB\n", strtol(line + 6, NULL, 10));
    if (f != NULL)
        fclose(f);
    fflush(stdout);
}

static int run_ctrl(const args *a)
{
    sx_rc_address first;
    const char *address = a->address;
    if (strcmp(address, "auto") == 0) {
        if (sx_rc_local_addresses(NULL, &first, 1) == 0) {
            fprintf(stderr, "xrcp: no IPv4 address on this machine\n");
            return EXIT_FAIL;
        }
        address = first.address;
        printf("address: %s on %s\n", first.address, first.iface);
    }
    sx_rc_ctrl_opts o = {.address = address,
                         .port = (uint16_t)a->port,
                         .app = a->app,
                         .mcast_port = (uint16_t)a->announce,
                         .mcast_iface = a->iface,
                         .ts = a->ts};
    sx_rc_ctrl *c = NULL;
    if (sx_rc_ctrl_start(a->pairing, &o, &c) != SX_OK)
        return fail("cannot start");
    printf("invitation: %s\n", sx_rc_ctrl_invitation(c));
    if (a->qr && !qr_text_print(stdout, sx_rc_ctrl_invitation(c))) {
        fprintf(stderr, "xrcp: cannot make the QR code\n");
        sx_rc_ctrl_free(c);
        return EXIT_FAIL;
    }
    if (sx_rc_ctrl_paired(c) && a->announce != 0)
        printf("announcing to the paired host on port %u\n", a->announce);
    fflush(stdout);
    char code[SX_RC_CODE_TEXT];
    int ms = a->timeout_s * 1000;
    if (sx_rc_ctrl_accept(c, ms, code) != SX_OK) {
        int rc = fail("session refused");
        sx_rc_ctrl_free(c);
        return rc;
    }
    printf("session code: %s\n", code);
    fflush(stdout);
    if (!confirmed(a)) {
        fprintf(stderr, "xrcp: session code not confirmed\n");
        sx_rc_ctrl_free(c);
        return EXIT_FAIL;
    }
    if (sx_rc_ctrl_confirm(c, ms) != SX_OK) {
        int rc = fail("session refused");
        sx_rc_ctrl_free(c);
        return rc;
    }
    printf("session started\n");
    fflush(stdout);
    if (a->fault_tamper)
        sx_rc_ctrl_test_fault(c, SX_RC_FAULT_TAMPER);
    int rc = EXIT_OKAY;
    static char line[LINE_MAX_LEN], text[2 * LINE_MAX_LEN], json[2 * LINE_MAX_LEN + 256];
    int sent = 0;
    while (read_line(line, sizeof line) != NULL) {
        file_src f = {.fd = -1};
        const char *cmd = line;
        char hex[129] = "";
        if (line[0] == '@') {
            char *sp = strchr(line, ' ');
            if (sp != NULL)
                *sp = 0;
            if (!file_open(line + 1, &f, hex)) {
                fprintf(stderr, "xrcp: cannot read %s (a file of at most 4 GiB)\n", line + 1);
                rc = EXIT_FAIL;
                break;
            }
            cmd = sp != NULL ? sp + 1 : "";
        }
        if (!json_string(cmd, text, sizeof text)) {
            if (f.fd >= 0)
                close(f.fd);
            continue;
        }
        if (f.fd >= 0)
            snprintf(json, sizeof json, "{\"command\":\"%s\",\"fileSize\":%llu,\"fileDigest\":\"%s\"}", text,
                     (unsigned long long)f.src.len, hex);
        else
            snprintf(json, sizeof json, "{\"command\":\"%s\"}", text);
        if (sent == 2 && a->fault_repeat)
            sx_rc_ctrl_test_fault(c, SX_RC_FAULT_REPEAT);
        file_sink back;
        sx_rc_message *resp = NULL;
        sx_status st = sink_open(&back, false) ? SX_OK : SX_E_NOMEM;
        if (st == SX_OK)
            st = sx_rc_ctrl_command_stream(c, json, f.fd >= 0 ? &f.src : NULL, &back.sink, ms, &resp);
        if (f.fd >= 0)
            close(f.fd);
        sent++;
        if (st != SX_OK) {
            sink_close(&back);
            rc = fail("command failed");
            break;
        }
        printf("response: %s\n", resp->json);
        if (resp->has_attachment && digest_end(&back.d, hex))
            printf("attachment: %zu %s\n", resp->attachment_len, hex);
        fflush(stdout);
        sink_close(&back);
        sx_rc_message_free(resp);
    }
    print_peak_rss(a);
    sx_rc_ctrl_free(c);
    printf("session ended\n");
    return rc;
}

static int run_host(const args *a)
{
    sx_rc_host_opts o = {.app = a->app, .mcast_port = (uint16_t)a->discover, .mcast_iface = a->iface};
    sx_rc_host *h = NULL;
    char code[SX_RC_CODE_TEXT];
    int ms = a->timeout_s * 1000;
    sx_status st = a->link != NULL ? sx_rc_host_join(a->pairing, a->link, &o, ms, code, &h)
                                   : sx_rc_host_discover(a->pairing, &o, ms, code, &h);
    if (st != SX_OK)
        return fail("cannot join");
    printf("session code: %s\n", code);
    fflush(stdout);
    if (!confirmed(a)) {
        fprintf(stderr, "xrcp: session code not confirmed\n");
        sx_rc_host_free(h);
        return EXIT_FAIL;
    }
    if (sx_rc_host_confirm(h, ms) != SX_OK) {
        int rc = fail("session refused");
        sx_rc_host_free(h);
        return rc;
    }
    printf("session started\n");
    fflush(stdout);
    int rc = EXIT_OKAY;
    static char line[LINE_MAX_LEN], json[LINE_MAX_LEN + 64];
    for (;;) {
        sx_rc_message *cmd = NULL;
        file_sink in;
        if (!sink_open(&in, a->echo)) {
            rc = fail("no temporary file");
            break;
        }
        st = sx_rc_host_next_stream(h, ms, &in.sink, &cmd);
        if (st == SX_E_CLOSED) {
            sink_close(&in);
            break;
        }
        if (st == SX_E_AUTH || st == SX_E_PROTOCOL) {
            const char *word = sx_error_code();
            printf("refused: %s%s%s\n", sx_error_message(), word && *word ? " " : "", word ? word : "");
            fflush(stdout);
            sink_close(&in);
            continue;
        }
        if (st != SX_OK) {
            sink_close(&in);
            rc = fail("session failed");
            break;
        }
        printf("command: %s\n", cmd->json);
        if (cmd->has_attachment) {
            char hex[129];
            bool ok = digest_end(&in.d, hex) && strstr(cmd->json, hex) != NULL;
            printf("attachment: %zu %s\n", cmd->attachment_len, ok ? "ok" : "digest mismatch");
        }
        fflush(stdout);
        const char *reply = "{}";
        if (a->echo) {
            snprintf(json, sizeof json, "{\"echo\":%s}", cmd->json);
            reply = json;
        } else if (read_line(line, sizeof line) != NULL) {
            reply = line;
        }
        sx_rc_source back = {.len = cmd->attachment_len, .read = sx_rc_read_fd, .arg = &in.fd};
        bool echo_att = a->echo && cmd->has_attachment;
        st = echo_att && lseek(in.fd, 0, SEEK_SET) != 0 ? SX_E_IO : SX_OK;
        if (st == SX_OK)
            st = sx_rc_host_reply_stream(h, cmd, reply, echo_att ? &back : NULL, ms);
        sink_close(&in);
        sx_rc_message_free(cmd);
        if (st != SX_OK) {
            rc = fail("reply failed");
            break;
        }
    }
    print_peak_rss(a);
    sx_rc_host_free(h);
    printf("session ended\n");
    return rc;
}

int main(int argc, char **argv)
{
    args a;
    int rc = parse(argc, argv, &a);
    if (rc != EXIT_OKAY)
        return rc;
    return strcmp(a.role, "ctrl") == 0 ? run_ctrl(&a) : run_host(&a);
}
