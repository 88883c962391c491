/* xftp: the XFTP command-line client (reference apps/xftp and
 * FileTransfer/Client/Main.hs): send, recv, del and info, with the
 * reference's commands, files and printed lines. Errors go to standard
 * error with the smp tool's exit codes. Argument parsing and printing only;
 * the work (and the words of its errors) is the public library API's
 * (include/simplex/xftp.h). */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "simplex/xftp.h"

#define DEFAULT_RETRY 3
#define PATH_MAX_LEN 4096

static const char version_line[] = "SimpleX XFTP client v" SX_VERSION " / " SX_GIT_COMMIT;

/* defaultXFTPServers of the reference (preset routers). */
static const char *const preset_servers[] = {
    "xftp://da1aH3nOT-9G8lV7bWamhxpDYdJ1xmW7j3JpGaDR5Ug=@xftp1.simplex.im,"
    "blisztokwh6alt5oem45f2eksm2xdowxszmhjesntcyolmhutoon7sid.onion",
    "xftp://5vog2Imy1ExJB_7zDZrkV1KDWi96jYFyy9CL6fndBVw=@xftp2.simplex.im,"
    "jk6jybnel5hin2am5omd7g3hyvb4tfkyl7ea4vx5ldi7gpvz5ogqtcqd.onion",
    "xftp://PYa32DdYNFWi0uZZOprWQoQpIk5qyjRJ3EF7bVpbsn8=@xftp3.simplex.im,"
    "pqhchr4bpkzef5wra4hnmzvppn5j5mjrpzkh5ixx6mhylnxxd6lmwnad.onion",
    "xftp://k_GgQl40UZVV0Y4BX9ZTyMVqX5ZewcLW0waQIl7AYDE=@xftp4.simplex.im,"
    "q2lrjgiyo2efyweksavwxh3dlsrxetaxjztde2x5nateugrtrwzvmdid.onion",
    "xftp://-bIo6o8wuVc4wpZkZD3tH-rCeYaeER_0lz1ffQcSJDs=@xftp5.simplex.im,"
    "2kikdbdhlrluburwt6q6rnoxvezcm2ifx2hj463jlunkeftlzm7hf3qd.onion",
    "xftp://6nSvtY9pJn6PXWTAIMNl95E1Kk1vD7FM2TeOA64CFLg=@xftp6.simplex.im,"
    "tg3fmu6houq7vfqlsipm2qqzhtpgxesnuydqozx3khojxydhs53sbbyd.onion",
};

/* Exit codes (as the smp tool's). */
enum {
    EXIT_OKAY = 0,
    EXIT_FAIL = 1,  /* network, router or file error */
    EXIT_USAGE = 2, /* bad command line, or a folder that cannot be used (SX_E_USAGE) */
};

static void usage(FILE *f)
{
    fprintf(f,
            "%s\n\n"
            "Usage: xftp COMMAND [ARGUMENTS]\n\n"
            "  xftp send FILE [DIR] [-n COUNT] [-s SERVER[;SERVER...]] [-r RETRY] [--tmp TMP]\n"
            "      Encrypt FILE, upload it in chunks and write the descriptions into\n"
            "      DIR/FILE.xftp/ (DIR: an existing folder, default: the current one):\n"
            "      rcv1.xftp .. rcvCOUNT.xftp for the recipients (COUNT 1..255, default 1)\n"
            "      and snd.xftp.private to delete the file. SERVER is\n"
            "      xftp://fingerprint[:password]@host[:port] (default: the preset routers).\n"
            "  xftp recv DESCRIPTION [DIR] [-r RETRY] [--tmp TMP] [-y]\n"
            "      Download and decrypt the file of a recipient description (a file, or\n"
            "      a web link https://host/#...) into the existing folder DIR (default:\n"
            "      ~/Downloads). A description can be received once; -y deletes it then.\n"
            "  xftp del DESCRIPTION [-r RETRY] [-y]\n"
            "      Delete the file from its routers with the sender description, or the\n"
            "      chunks of an unfinished send with its folder OUT/NAME.xftp.part.\n"
            "  xftp info DESCRIPTION\n"
            "      Show what a description holds.\n\n"
            "  -r, --retry N   attempts per network step (default %d)\n"
            "  --tmp TMP       folder for temporary files (default: $TMPDIR or /tmp)\n"
            "  -y, --yes       delete the description without asking\n"
            "  -v, --verbose   what the transfer does on standard error: connections,\n"
            "                  each chunk uploaded, downloaded or deleted and with which\n"
            "                  router, retries and why\n"
            "Options: -h, --help   --version\n"
            "Ctrl-C (SIGINT) or SIGTERM stops a transfer (exit code 130 or 143; a second\n"
            "one stops at once). The same command goes on from where it stopped: a send\n"
            "keeps its progress in OUT/NAME.xftp.part, a receive the chunks it has in\n"
            "the temporary folder (for 7 days: a recv removes the chunks of receives\n"
            "not run again for 7 days); other temporary files are removed. A second\n"
            "run of a send under way (or del of its .part folder) exits at once with 2.\n"
            "Errors go to standard error. Exit codes: 0 success, 1 failure, 2 usage error\n"
            "(a bad command line, or a folder that cannot be used).\n",
            version_line, DEFAULT_RETRY);
}

static void errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void errorf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("xftp: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

typedef struct args {
    const char *cmd;
    const char *pos[2];
    int npos;
    int count;
    char *servers;
    int retry;
    const char *tmp;
    bool verbose, yes;
} args;

static int parse_int(const char *s, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || !end || end == s || *end || v < 0 || v > 100000)
        return -1;
    *out = (int)v;
    return 0;
}

/* Fills a; on a bad command line says what is wrong and returns -1. */
static int parse_args(int argc, char **argv, args *a)
{
    memset(a, 0, sizeof *a);
    a->count = 1;
    a->retry = DEFAULT_RETRY;
    a->cmd = argv[1];
    bool send = !strcmp(a->cmd, "send"), recv = !strcmp(a->cmd, "recv");
    bool del = !strcmp(a->cmd, "del"), info = !strcmp(a->cmd, "info");
    if (!send && !recv && !del && !info) {
        errorf("unknown command '%s' (see xftp --help)", a->cmd);
        return -1;
    }
    for (int i = 2; i < argc; i++) {
        const char *s = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (send && (!strcmp(s, "-n") || !strcmp(s, "--count"))) {
            if (!v || parse_int(v, &a->count) || a->count < 1 || a->count > 255) {
                errorf("send: %s needs a number of recipients from 1 to 255", s);
                return -1;
            }
            i++;
        } else if (send && (!strcmp(s, "-s") || !strcmp(s, "--servers"))) {
            if (!v) {
                errorf("send: %s needs router addresses (xftp://fingerprint[:password]@host[:port];...)", s);
                return -1;
            }
            free(a->servers);
            a->servers = strdup(v);
            i++;
        } else if (!info && (!strcmp(s, "-r") || !strcmp(s, "--retry"))) {
            if (!v || parse_int(v, &a->retry) || a->retry < 1) {
                errorf("%s: %s needs a number of attempts of 1 or more", a->cmd, s);
                return -1;
            }
            i++;
        } else if ((send || recv) && !strcmp(s, "--tmp")) {
            if (!v) {
                errorf("%s: --tmp needs a folder", a->cmd);
                return -1;
            }
            a->tmp = v;
            i++;
        } else if (!info && (!strcmp(s, "-v") || !strcmp(s, "--verbose"))) {
            a->verbose = true;
        } else if ((recv || del) && (!strcmp(s, "-y") || !strcmp(s, "--yes"))) {
            a->yes = true;
        } else if (s[0] == '-' && s[1] != '\0') {
            errorf("%s: unknown option %s (see xftp --help)", a->cmd, s);
            return -1;
        } else {
            int maxpos = send || recv ? 2 : 1;
            if (a->npos >= maxpos) {
                errorf("%s: too many arguments: '%s' (see xftp --help)", a->cmd, s);
                return -1;
            }
            a->pos[a->npos++] = s;
        }
    }
    if (a->npos < 1) {
        errorf("%s: missing %s (see xftp --help)", a->cmd, send ? "FILE" : "DESCRIPTION");
        return -1;
    }
    return 0;
}

/* The signal (SIGINT, SIGTERM) that asked to stop, 0 until one came. The
 * library watches it (sx_xftp_opts.cancel), stops the transfer and removes
 * its temporary files (recv keeps the chunks it downloaded, for a re-run);
 * a second signal ends the program at once. */
static volatile sig_atomic_t g_stop;

static void on_stop(int sig)
{
    __atomic_store_n(&g_stop, sig, __ATOMIC_RELAXED); /* read by the library's threads */
}

static void catch_stop(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sa.sa_flags = (int)SA_RESETHAND; /* the second one is not caught */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* Prints what the library said about the failure it just returned; the
 * exit code by its class, or 128 + the signal that interrupted it. */
static int lib_failed(sx_status st)
{
    const char *m = sx_error_message();
    errorf("%s", m[0] ? m : sx_strerror(st));
    if (g_stop)
        return 128 + g_stop;
    return st == SX_E_USAGE ? EXIT_USAGE : EXIT_FAIL;
}

/* printNoNewLine: the line padded to 25 columns then a carriage return.
 * Progress goes to stderr and only on a terminal. */
static void status_line(const char *s)
{
    if (!isatty(STDERR_FILENO))
        return;
    fprintf(stderr, "%-25s\r", s);
    fflush(stderr);
}

static void progress_cb(void *ud, const char *phase, int64_t done, int64_t total)
{
    (void)ud;
    char line[64];
    if (total > 0)
        snprintf(line, sizeof line, "%s %lld%%", phase, (long long)(done * 100 / total));
    else
        snprintf(line, sizeof line, "%s file...", phase);
    status_line(line);
}

/* -v: the library's lines of what it does, on stderr. */
static void verbose_line(void *ud, const char *line)
{
    (void)ud;
    char when[64] = "";
    time_t t = time(NULL);
    struct tm tm;
    if (localtime_r(&t, &tm))
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %z", &tm);
    /* after a status line of a terminal, on a line of its own */
    fprintf(stderr, "%s[DEBUG %s] %s\n", isatty(STDERR_FILENO) ? "\r\033[K" : "", when, line);
}

static void end_status(void)
{
    if (isatty(STDERR_FILENO))
        fprintf(stderr, "%-25s\r", "");
}

/* removeFD: with -y the description is deleted; otherwise ask on a terminal. */
static void remove_fd(bool yes, const char *path)
{
    if (!yes) {
        if (!isatty(STDIN_FILENO))
            return;
        for (;;) {
            printf("\nFile description %s can't be used again. Delete it (Y/n): ", path);
            fflush(stdout);
            char line[16];
            if (!fgets(line, sizeof line, stdin))
                return;
            if (line[0] == 'n' || line[0] == 'N')
                return;
            if (line[0] == 'y' || line[0] == 'Y' || line[0] == '\n')
                break;
        }
        if (unlink(path) != 0)
            errorf("cannot delete the description %s: %s", path, strerror(errno));
        return;
    }
    if (unlink(path) == 0)
        printf("\nFile description %s is deleted.\n", path);
    else
        errorf("cannot delete the description %s: %s", path, strerror(errno));
}

static int cmd_send(const args *a, sx_xftp_opts *o)
{
    const char *list[64];
    size_t n = 0;
    if (a->servers) {
        for (char *save = NULL, *t = strtok_r(a->servers, ";", &save); t;
             t = strtok_r(NULL, ";", &save)) {
            if (n == sizeof list / sizeof list[0]) {
                errorf("send: more than %zu routers", sizeof list / sizeof list[0]);
                return EXIT_USAGE;
            }
            list[n++] = t;
        }
    } else {
        for (; n < sizeof preset_servers / sizeof preset_servers[0]; n++)
            list[n] = preset_servers[n];
    }
    if (n == 0) {
        errorf("send: -s gives no router address");
        return EXIT_USAGE;
    }
    o->servers = list;
    o->server_count = n;
    o->recipients = a->count;
    sx_xftp_upload *up = NULL;
    status_line("Encrypting file...");
    sx_status st = sx_xftp_send_file(a->pos[0], a->npos > 1 ? a->pos[1] : NULL, o, &up);
    end_status();
    if (st != SX_OK)
        return lib_failed(st);
    printf("Sender file description: %s\n", sx_xftp_upload_sender(up));
    printf("Pass file descriptions to the recipient(s):\n");
    for (size_t i = 0; i < sx_xftp_upload_recipients(up); i++)
        printf("%s\n", sx_xftp_upload_recipient(up, i));
    if (sx_xftp_upload_link(up))
        printf("\nWeb link:\n%s\n", sx_xftp_upload_link(up));
    sx_xftp_upload_free(up);
    return EXIT_OKAY;
}

static int cmd_recv(const args *a, sx_xftp_opts *o)
{
    char dest[PATH_MAX_LEN];
    if (a->npos > 1) {
        snprintf(dest, sizeof dest, "%s", a->pos[1]);
    } else {
        const char *home = getenv("HOME");
        snprintf(dest, sizeof dest, "%s/Downloads", home ? home : ".");
    }
    char out[PATH_MAX_LEN];
    status_line("Downloading file...");
    sx_status st = sx_xftp_receive_file(a->pos[0], dest, o, out, sizeof out);
    end_status();
    if (st != SX_OK)
        return lib_failed(st);
    printf("File downloaded: %s\n", out);
    bool web = !strncmp(a->pos[0], "https://", 8) || !strncmp(a->pos[0], "http://", 7);
    if (!web)
        remove_fd(a->yes, a->pos[0]);
    return EXIT_OKAY;
}

static int cmd_del(const args *a, sx_xftp_opts *o)
{
    sx_status st = sx_xftp_delete_file(a->pos[0], o);
    if (st != SX_OK)
        return lib_failed(st);
    printf("File deleted!\n");
    /* A sender description is a file to offer deleting; the folder of an
     * unfinished send (<out>/<name>.xftp.part) is gone already. */
    struct stat sb;
    if (stat(a->pos[0], &sb) == 0 && S_ISREG(sb.st_mode))
        remove_fd(a->yes, a->pos[0]);
    return EXIT_OKAY;
}

static int cmd_info(const args *a)
{
    char *text = NULL;
    sx_status st = sx_xftp_describe(a->pos[0], &text);
    if (st != SX_OK)
        return lib_failed(st);
    fputs(text, stdout);
    sx_free(text);
    return EXIT_OKAY;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-v")) {
        printf("%s\n", version_line);
        return EXIT_OKAY;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return EXIT_OKAY;
    }
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return EXIT_OKAY;
        }
    args a;
    if (parse_args(argc, argv, &a) != 0) {
        free(a.servers);
        return EXIT_USAGE;
    }
    sx_xftp_opts o;
    memset(&o, 0, sizeof o);
    o.retry = a.retry;
    o.tmp_dir = a.tmp;
    o.progress = progress_cb;
    if (a.verbose) {
        o.log = verbose_line;
        o.log_arg = NULL;
    }
    o.cancel = &g_stop;
    catch_stop();
    int rc;
    if (!strcmp(a.cmd, "send"))
        rc = cmd_send(&a, &o);
    else if (!strcmp(a.cmd, "recv"))
        rc = cmd_recv(&a, &o);
    else if (!strcmp(a.cmd, "del"))
        rc = cmd_del(&a, &o);
    else
        rc = cmd_info(&a);
    free(a.servers);
    return rc;
}
