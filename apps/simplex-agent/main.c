/* simplex-agent: end-to-end encrypted connections from a shell, over the
 * agent of the public library (include/simplex/agent.h). Every command
 * takes the agent's store file (--db, created on first use); a `listen`
 * may run while other commands use the same store. Argument parsing and
 * printing only. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "simplex/agent.h"

#include "common/qr_text.h"

#ifndef SX_VERSION
#define SX_VERSION "0.0.0"
#endif
#ifndef SX_GIT_COMMIT
#define SX_GIT_COMMIT "unknown"
#endif

static const char version_line[] = "simplex-agent v" SX_VERSION " / " SX_GIT_COMMIT;

enum { EXIT_OKAY = 0,
       EXIT_FAIL = 1,
       EXIT_USAGE = 2 };

#define WAIT_MS 60000

static void usage(FILE *f)
{
    fprintf(f,
            "%s\n\n"
            "Usage: simplex-agent --db FILE COMMAND [ARGUMENTS]\n\n"
            "  invite --server SERVER [--contact] [--short] [--qr | --no-qr]\n"
            "      Create a one-time invitation on SERVER (smp://fingerprint[:password]@host[:port])\n"
            "      and print its link. --contact: a contact address instead, a link that\n"
            "      any number of people may join; each request comes as a REQ event.\n"
            "      --short: print a short link (https://HOST/i#... or https://HOST/a#...; its data\n"
            "      is kept on the router, which needs short links, SMP v15+).\n"
            "      On a terminal the link is followed by its QR code as text for a phone's\n"
            "      camera (between the lines \"qr begin\" and \"qr end\"); --qr prints it\n"
            "      also when the output is not a terminal, --no-qr never.\n"
            "  join LINK [--server SERVER]\n"
            "      Join the invitation or contact address LINK, full or short (our queue on SERVER, by\n"
            "      default the link's router) and print the new connection's id. Through\n"
            "      an address the connection waits for the owner to accept (then CONF).\n"
            "  listen [--accept [--server SERVER]] [--receipts] [--timeout SECONDS]\n"
            "      Print one JSON object per event per line: \"event\", \"conn\" and, for\n"
            "      MSG, \"id\" and \"text\"; for REQ, \"inv\" (the request) and \"info\"; for\n"
            "      RCVD (the peer's delivery receipts of messages this store sent), \"id\"\n"
            "      and \"receipts\" ([{\"id\": sent message id, \"status\": \"ok\" or\n"
            "      \"badMsgHash\"}]). Messages and receipts are acknowledged once printed.\n"
            "      --accept allows confirmations and accepts contact requests as they come\n"
            "      (our queue of an accepted request on SERVER, by default the requester's\n"
            "      router); --receipts acknowledges messages with a delivery receipt to\n"
            "      their sender. Without --timeout it runs until killed.\n"
            "  accept INV [--server SERVER]\n"
            "      Accept the contact request INV of a REQ event (our queue on SERVER, by\n"
            "      default the requester's router) and print the new connection's id.\n"
            "  reject INV\n"
            "      Forget the contact request INV (the requester is not told).\n"
            "  send CONN TEXT [--pq on|off]\n"
            "      Send TEXT on connection CONN; prints the message id once the router\n"
            "      took it. --pq turns post-quantum encryption on or off for this\n"
            "      connection from this message on (listen shows it in \"pq\").\n"
            "  switch CONN [--server SERVER]\n"
            "      Move the receiving queue of connection CONN to a new queue on SERVER (by\n"
            "      default its current router); the running listen finishes the switch\n"
            "      (SWITCH events). Returns once the peer's request is sent.\n"
            "  connections\n"
            "      One line per connection: its id and its state.\n\n"
            "Options: --pq-off (no post-quantum ratchet for new connections),\n"
            "         --router SERVER (repeated: the user's own routers, among which\n"
            "         a proxy is chosen), --proxy-mode MODE (private routing of sends:\n"
            "         never (default), always, unknown (to routers not given with\n"
            "         --router) or unprotected (as unknown; this program has no address\n"
            "         protection of its own)), --proxy-fallback FALLBACK (when the proxy\n"
            "         cannot use the destination's hosts: allow (default) sends directly,\n"
            "         allow-protected and prohibit do not), --preset SERVER (repeated:\n"
            "         preset routers; a short link made on one names it by its host\n"
            "         alone, and such a link is joined through the preset with that\n"
            "         host), --help, --version.\n"
            "After the command only words starting with \"--\" are options, so a\n"
            "connection id starting with '-' is taken as it is; a lone \"--\" ends the\n"
            "options.\n",
            version_line);
}

static int fail(const char *what)
{
    fprintf(stderr, "simplex-agent: %s: %s\n", what, sx_error_message());
    return EXIT_FAIL;
}

static void json_str(const char *key, const uint8_t *p, size_t n)
{
    printf(",\"%s\":\"", key);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c == '\n')
            printf("\\n");
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void print_event(const sx_agent_event *ev)
{
    printf("{\"event\":\"%s\"", sx_agent_event_name(ev->kind));
    json_str("conn", (const uint8_t *)ev->conn, strlen(ev->conn));
    switch (ev->kind) {
    case SX_AGENT_EV_MSG:
        printf(",\"id\":%lld", (long long)ev->msg_id);
        json_str("text", ev->body, ev->body_len);
        json_str("integrity", (const uint8_t *)ev->integrity, strlen(ev->integrity));
        printf(",\"pq\":%s", ev->pq ? "true" : "false");
        break;
    case SX_AGENT_EV_SENT:
    case SX_AGENT_EV_QCONT:
        if (ev->msg_id)
            printf(",\"id\":%lld", (long long)ev->msg_id);
        break;
    case SX_AGENT_EV_RCVD:
        printf(",\"id\":%lld,\"receipts\":[", (long long)ev->msg_id);
        for (size_t i = 0; i < ev->n_receipts; i++)
            printf("%s{\"id\":%lld,\"status\":\"%s\"}", i ? "," : "",
                   (long long)ev->receipts[i].msg_id, ev->receipts[i].ok ? "ok" : "badMsgHash");
        printf("]");
        break;
    case SX_AGENT_EV_CONF:
    case SX_AGENT_EV_INFO:
        json_str("info", ev->body, ev->body_len);
        break;
    case SX_AGENT_EV_REQ:
        json_str("inv", (const uint8_t *)ev->inv_id, strlen(ev->inv_id));
        json_str("info", ev->body, ev->body_len);
        printf(",\"pq\":%s", ev->pq ? "true" : "false");
        break;
    case SX_AGENT_EV_CON:
        printf(",\"pq\":%s", ev->pq ? "true" : "false");
        break;
    case SX_AGENT_EV_UP:
    case SX_AGENT_EV_DOWN:
        json_str("server", (const uint8_t *)ev->server, strlen(ev->server));
        break;
    case SX_AGENT_EV_SWITCH:
        json_str("dir", (const uint8_t *)ev->switch_dir, strlen(ev->switch_dir));
        json_str("phase", (const uint8_t *)ev->switch_phase, strlen(ev->switch_phase));
        break;
    case SX_AGENT_EV_RSYNC:
        json_str("state", (const uint8_t *)ev->rsync, strlen(ev->rsync));
        json_str("error", (const uint8_t *)ev->detail, strlen(ev->detail));
        break;
    case SX_AGENT_EV_MERRS:
        printf(",\"ids\":[");
        for (size_t i = 0; i < ev->n_msg_ids; i++)
            printf("%s%lld", i ? "," : "", (long long)ev->msg_ids[i]);
        printf("]");
        json_str("error", (const uint8_t *)ev->detail, strlen(ev->detail));
        break;
    case SX_AGENT_EV_MERR:
    case SX_AGENT_EV_MWARN:
    case SX_AGENT_EV_ERR:
        printf(",\"id\":%lld", (long long)ev->msg_id);
        json_str("error", (const uint8_t *)ev->detail, strlen(ev->detail));
        break;
    default:
        break;
    }
    printf("}\n");
    fflush(stdout);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Acknowledges a printed MSG (with a receipt when asked) or RCVD. */
static void ack_event(sx_agent *a, const sx_agent_event *ev, bool receipts)
{
    sx_status st = SX_OK;
    if (ev->kind == SX_AGENT_EV_MSG && receipts)
        st = sx_agent_ack_receipt(a, ev->conn, ev->msg_id, "", 0);
    if ((ev->kind == SX_AGENT_EV_MSG && !receipts) || ev->kind == SX_AGENT_EV_RCVD)
        st = sx_agent_ack(a, ev->conn, ev->msg_id);
    if (st != SX_OK)
        fprintf(stderr, "simplex-agent: ack: %s\n", sx_error_message());
}

static int cmd_listen(sx_agent *a, bool accept, const char *server, bool receipts,
                      long timeout_s)
{
    int64_t until = timeout_s > 0 ? mono_ms() + timeout_s * 1000 : 0;
    int64_t rescan = mono_ms() + 1000;
    for (;;) {
        if (until && mono_ms() >= until)
            return EXIT_OKAY;
        if (mono_ms() >= rescan) {
            /* What other commands on this store added meanwhile. */
            if (sx_agent_subscribe_all(a) != SX_OK)
                fprintf(stderr, "simplex-agent: subscribe: %s\n", sx_error_message());
            rescan = mono_ms() + 1000;
        }
        sx_agent_event ev;
        if (sx_agent_next(a, 200, &ev) != SX_OK)
            return fail("listen");
        if (ev.kind == SX_AGENT_EV_NONE)
            continue;
        print_event(&ev);
        ack_event(a, &ev, receipts);
        if (ev.kind == SX_AGENT_EV_CONF && accept &&
            sx_agent_allow(a, ev.conn, ev.conf_id, "", 0) != SX_OK)
            fprintf(stderr, "simplex-agent: allow: %s\n", sx_error_message());
        char id[SX_AGENT_CONN_ID_TEXT];
        if (ev.kind == SX_AGENT_EV_REQ && accept &&
            sx_agent_accept_contact(a, ev.inv_id, server, "", 0, id) != SX_OK)
            fprintf(stderr, "simplex-agent: accept: %s\n", sx_error_message());
        sx_agent_event_clear(&ev);
    }
}

static int cmd_send(sx_agent *a, const char *conn, const char *text, sx_agent_pq pq)
{
    int64_t id = 0;
    if (sx_agent_send_pq(a, conn, pq, text, strlen(text), &id, NULL) != SX_OK)
        return fail("send");
    int64_t until = mono_ms() + WAIT_MS;
    while (mono_ms() < until) {
        sx_agent_event ev;
        if (sx_agent_next(a, 200, &ev) != SX_OK)
            return fail("send");
        bool mine = strcmp(ev.conn, conn) == 0 && ev.msg_id == id;
        sx_agent_event_kind k = ev.kind;
        char detail[sizeof ev.detail];
        memcpy(detail, ev.detail, sizeof detail);
        sx_agent_event_clear(&ev);
        if (mine && k == SX_AGENT_EV_SENT) {
            printf("%lld\n", (long long)id);
            return EXIT_OKAY;
        }
        if (mine && k == SX_AGENT_EV_MERR) {
            fprintf(stderr, "simplex-agent: send: message %lld failed: %s\n", (long long)id,
                    detail);
            return EXIT_FAIL;
        }
    }
    fprintf(stderr, "simplex-agent: send: message %lld not taken by the router yet (it is "
                    "stored and goes with the next command on this store)\n",
            (long long)id);
    return EXIT_FAIL;
}

#define MAX_ROUTERS 16

/* The options given. */
typedef struct cli {
    const char *db, *server;
    bool accept, pq_off, contact, receipts, qr, no_qr, short_link;
    long timeout_s;
    sx_agent_proxy_mode proxy_mode;
    sx_agent_proxy_fallback proxy_fallback;
    const char *routers[MAX_ROUTERS];
    size_t n_routers;
    const char *presets[MAX_ROUTERS];
    size_t n_presets;
    sx_agent_pq send_pq;
} cli;

static bool parse_mode(const char *s, sx_agent_proxy_mode *m)
{
    static const char *const names[] = {"never", "always", "unknown", "unprotected"};
    static const sx_agent_proxy_mode modes[] = {SX_AGENT_PROXY_NEVER, SX_AGENT_PROXY_ALWAYS,
                                                SX_AGENT_PROXY_UNKNOWN, SX_AGENT_PROXY_UNPROTECTED};
    for (size_t i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *m = modes[i];
            return true;
        }
    fprintf(stderr, "simplex-agent: --proxy-mode: expected always, unknown, unprotected or never, got '%s'\n", s);
    return false;
}

static bool parse_fallback(const char *s, sx_agent_proxy_fallback *f)
{
    if (strcmp(s, "allow") == 0)
        *f = SX_AGENT_FALLBACK_ALLOW;
    else if (strcmp(s, "allow-protected") == 0)
        *f = SX_AGENT_FALLBACK_ALLOW_PROTECTED;
    else if (strcmp(s, "prohibit") == 0)
        *f = SX_AGENT_FALLBACK_PROHIBIT;
    else {
        fprintf(stderr, "simplex-agent: --proxy-fallback: expected allow, allow-protected or prohibit, got '%s'\n",
                s);
        return false;
    }
    return true;
}

/* One option by its letter; false for an unknown one or a bad value. */
static bool apply_opt(int c, const char *arg, cli *o)
{
    switch (c) {
    case 'c': o->contact = true; return true;
    case 'R': o->receipts = true; return true;
    case 'Q': o->qr = true; return true;
    case 'N': o->no_qr = true; return true;
    case 'S': o->short_link = true; return true;
    case 'd': o->db = arg; return true;
    case 's': o->server = arg; return true;
    case 'a': o->accept = true; return true;
    case 'p': o->pq_off = true; return true;
    case 'm': return parse_mode(arg, &o->proxy_mode);
    case 'f': return parse_fallback(arg, &o->proxy_fallback);
    case 'q':
        if (strcmp(arg, "on") == 0 || strcmp(arg, "off") == 0) {
            o->send_pq = arg[1] == 'n' ? SX_AGENT_PQ_ON : SX_AGENT_PQ_OFF;
            return true;
        }
        fprintf(stderr, "simplex-agent: --pq: expected on or off, got '%s'\n", arg);
        return false;
    case 'r':
        if (o->n_routers == MAX_ROUTERS) {
            fprintf(stderr, "simplex-agent: at most %d --router options\n", MAX_ROUTERS);
            return false;
        }
        o->routers[o->n_routers++] = arg;
        return true;
    case 'P':
        if (o->n_presets == MAX_ROUTERS) {
            fprintf(stderr, "simplex-agent: at most %d --preset options\n", MAX_ROUTERS);
            return false;
        }
        o->presets[o->n_presets++] = arg;
        return true;
    case 't': {
        char *end = NULL;
        o->timeout_s = strtol(arg, &end, 10);
        if (!end || end == arg || *end || o->timeout_s <= 0) {
            fprintf(stderr, "simplex-agent: --timeout takes a number of seconds\n");
            return false;
        }
        return true;
    }
    default: return false;
    }
}

int main(int argc, char **argv)
{
    cli opt;
    memset(&opt, 0, sizeof opt);
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'},
        {"server", required_argument, NULL, 's'},
        {"accept", no_argument, NULL, 'a'},
        {"contact", no_argument, NULL, 'c'},
        {"qr", no_argument, NULL, 'Q'},
        {"no-qr", no_argument, NULL, 'N'},
        {"short", no_argument, NULL, 'S'},
        {"receipts", no_argument, NULL, 'R'},
        {"timeout", required_argument, NULL, 't'},
        {"pq-off", no_argument, NULL, 'p'},
        {"proxy-mode", required_argument, NULL, 'm'},
        {"proxy-fallback", required_argument, NULL, 'f'},
        {"router", required_argument, NULL, 'r'},
        {"preset", required_argument, NULL, 'P'},
        {"pq", required_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'v'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return EXIT_OKAY;
        }
        if (c == 'v') {
            printf("%s\n", version_line);
            return EXIT_OKAY;
        }
        if (!apply_opt(c, optarg, &opt)) {
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc || !opt.db) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[optind++];
    /* After the command only "--name[=value]" words are options: a
     * connection id is base64url and may itself begin with '-'. A lone
     * "--" makes every later word an argument. */
    const char *args[4];
    int nargs = 0;
    bool opts_done = false;
    for (int i = optind; i < argc; i++) {
        const char *w = argv[i];
        if (!opts_done && strcmp(w, "--") == 0) {
            opts_done = true;
            continue;
        }
        if (opts_done || strncmp(w, "--", 2) != 0) {
            if (nargs == 4) {
                usage(stderr);
                return EXIT_USAGE;
            }
            args[nargs++] = w;
            continue;
        }
        const char *name = w + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const struct option *o = NULL;
        for (const struct option *q = longopts; q->name; q++)
            if (strlen(q->name) == nlen && strncmp(q->name, name, nlen) == 0)
                o = q;
        if (!o || o->val == 'h' || o->val == 'v') {
            usage(stderr);
            return EXIT_USAGE;
        }
        const char *val = NULL;
        if (o->has_arg == required_argument) {
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else {
                usage(stderr);
                return EXIT_USAGE;
            }
        } else if (eq) {
            usage(stderr);
            return EXIT_USAGE;
        }
        if (!apply_opt(o->val, val, &opt)) {
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    sx_agent_opts o;
    memset(&o, 0, sizeof o);
    o.pq_off = opt.pq_off;
    o.proxy_mode = opt.proxy_mode;
    o.proxy_fallback = opt.proxy_fallback;
    o.routers = opt.routers;
    o.n_routers = opt.n_routers;
    o.preset_routers = opt.presets;
    o.n_preset_routers = opt.n_presets;
    o.no_subscribe = strcmp(cmd, "listen") != 0;
    int rc = EXIT_OKAY;
    if (strcmp(cmd, "invite") == 0        ? (nargs != 0 || !opt.server)
        : strcmp(cmd, "join") == 0        ? nargs != 1
        : strcmp(cmd, "listen") == 0      ? nargs != 0
        : strcmp(cmd, "send") == 0        ? nargs != 2
        : strcmp(cmd, "accept") == 0      ? nargs != 1
        : strcmp(cmd, "reject") == 0      ? nargs != 1
        : strcmp(cmd, "switch") == 0      ? nargs != 1
        : strcmp(cmd, "connections") == 0 ? nargs != 0
                                          : true) {
        usage(stderr);
        return EXIT_USAGE;
    }
    sx_agent *a = NULL;
    if (sx_agent_open(opt.db, &o, &a) != SX_OK)
        return fail(opt.db);
    char id[SX_AGENT_CONN_ID_TEXT];
    if (strcmp(cmd, "invite") == 0) {
        char *link = NULL;
        sx_status st;
        if (opt.short_link)
            st = opt.contact
                     ? sx_agent_create_contact_short(a, opt.server, NULL, 0, id, NULL, &link)
                     : sx_agent_create_invitation_short(a, opt.server, NULL, 0, id, NULL, &link);
        else
            st = opt.contact ? sx_agent_create_contact(a, opt.server, id, &link)
                             : sx_agent_create_invitation(a, opt.server, id, &link);
        if (st != SX_OK) {
            rc = fail("invite");
        } else {
            printf("%s\n", link);
            /* The QR code on a terminal (a phone's camera reads it there),
             * or wherever --qr sends it. */
            bool qr = opt.qr || (!opt.no_qr && isatty(STDOUT_FILENO));
            if (qr && !qr_text_print(stdout, link)) {
                fprintf(stderr, "simplex-agent: invite: cannot make the QR code\n");
                rc = EXIT_FAIL;
            }
            sx_agent_free_text(link);
        }
    } else if (strcmp(cmd, "join") == 0) {
        if (sx_agent_join(a, args[0], opt.server, "", 0, id) != SX_OK)
            rc = fail("join");
        else if (sx_agent_flush(a, WAIT_MS) != SX_OK)
            rc = fail("join: the confirmation");
        else
            printf("%s\n", id);
    } else if (strcmp(cmd, "listen") == 0) {
        rc = cmd_listen(a, opt.accept, opt.server, opt.receipts, opt.timeout_s);
    } else if (strcmp(cmd, "send") == 0) {
        rc = cmd_send(a, args[0], args[1], opt.send_pq);
    } else if (strcmp(cmd, "accept") == 0) {
        if (sx_agent_accept_contact(a, args[0], opt.server, "", 0, id) != SX_OK)
            rc = fail("accept");
        else if (sx_agent_flush(a, WAIT_MS) != SX_OK)
            rc = fail("accept: the confirmation");
        else
            printf("%s\n", id);
    } else if (strcmp(cmd, "reject") == 0) {
        if (sx_agent_reject_contact(a, args[0]) != SX_OK)
            rc = fail("reject");
    } else if (strcmp(cmd, "switch") == 0) {
        if (sx_agent_switch_connection(a, args[0], opt.server) != SX_OK)
            rc = fail("switch");
        else if (sx_agent_flush(a, WAIT_MS) != SX_OK)
            rc = fail("switch: the request");
    } else {
        sx_agent_conn_info *ci = NULL;
        size_t n = 0;
        if (sx_agent_connections(a, &ci, &n) != SX_OK) {
            rc = fail("connections");
        } else {
            for (size_t i = 0; i < n; i++)
                printf("%s %s\n", ci[i].id, ci[i].state);
            free(ci);
        }
    }
    sx_agent_close(a);
    return rc;
}
