/* Shared parts of the router programs' command lines (see router_cli.h). */
#include "router_cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "kit/identity.h"
#include "kit/workers.h"
#include "transport/net.h"

void rcli_print_ca_key_warning(const sx_kit_paths *paths)
{
    printf("----------\n"
           "Keep the CA private key in a safe place and remove it from this machine.\n"
           "If the server's TLS credentials are ever compromised, it can sign new ones\n"
           "with the same server identity, so existing connections keep working.\n"
           "CA private key location:\n%s\n----------\n",
           paths->ca_key);
}

bool rcli_parse_alg(const char *v, sx_key_alg *alg)
{
    if (strcmp(v, "ED25519") == 0)
        *alg = SX_KEY_ED25519;
    else if (strcmp(v, "ED448") == 0)
        *alg = SX_KEY_ED448;
    else
        return false;
    return true;
}

int rcli_cert(const sx_kit_paths *paths, int argc, char **argv)
{
    bool has_alg = false;
    sx_key_alg alg = SX_KEY_ED25519; /* unused unless given: the default is server.crt's */
    const char *cn = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "-a") == 0 || strcmp(a, "--sign-algorithm") == 0) && i + 1 < argc) {
            if (!rcli_parse_alg(argv[++i], &alg)) {
                fprintf(stderr, "Error: --sign-algorithm must be ED25519 or ED448\n");
                return 1;
            }
            has_alg = true;
        } else if (strcmp(a, "--cn") == 0 && i + 1 < argc) {
            cn = argv[++i];
        } else {
            fprintf(stderr, "Error: unknown cert option '%s'\n", a);
            return 1;
        }
    }
    char err[512] = "";
    if (sx_kit_setup_cert(paths, has_alg, alg, cn, err, sizeof err) != SX_OK) {
        fprintf(stderr, "Error: %s\n", err);
        return 1;
    }
    printf("New server certificate written to %s (fingerprint unchanged).\n", paths->server_crt);
    rcli_print_ca_key_warning(paths);
    return 0;
}

void rcli_raise_nofile(FILE *out)
{
    uint64_t before = 0, after = 0;
    if (sx_kit_raise_nofile(&before, &after) != SX_OK)
        fprintf(out, "Warning: cannot raise the open files limit (now %llu)\n", (unsigned long long)before);
    else if (after != before)
        fprintf(out, "Open files limit: %llu (raised from %llu)\n", (unsigned long long)after,
                (unsigned long long)before);
    else
        fprintf(out, "Open files limit: %llu\n", (unsigned long long)after);
}

bool rcli_answer_is_yes(const char *line)
{
    return strcasecmp(line, "y") == 0 || strcasecmp(line, "yes") == 0;
}

bool rcli_confirm(const char *warning, const char *refused)
{
    char line[256];
    printf("%s\nContinue (y/N): ", warning);
    fflush(stdout);
    if (!fgets(line, sizeof line, stdin))
        line[0] = 0;
    line[strcspn(line, "\r\n")] = 0;
    if (rcli_answer_is_yes(line))
        return true;
    puts(refused);
    return false;
}

int rcli_delete(const sx_kit_paths *paths, int argc, char **argv, const char *what_is_lost)
{
    if (argc > 1) {
        fprintf(stderr, "Error: unexpected argument '%s'\n", argv[1]);
        return 1;
    }
    char warning[512];
    snprintf(warning, sizeof warning,
             "WARNING: deleting the server destroys its identity (the certificate fingerprint changes),\n"
             "so %s.\nTHIS CANNOT BE UNDONE!",
             what_is_lost);
    if (!rcli_confirm(warning, "Server NOT deleted"))
        return 1;
    char err[256] = "";
    if (sx_kit_setup_delete(paths, err, sizeof err) != SX_OK) {
        printf("Error: %s\n", err);
        return 1;
    }
    puts("Deleted configuration and log files");
    return 0;
}

const char *rcli_listen_fix(int e, const char *program, const char *ini, char *buf, size_t cap)
{
    if (cap == 0)
        return buf;
    buf[0] = 0;
    if (e == EACCES || e == EPERM)
        snprintf(buf, cap,
                 "Ports below 1024 need root or the capability CAP_NET_BIND_SERVICE. Give it to the\n"
                 "program once, as root:\n"
                 "  setcap cap_net_bind_service=+ep %s\n"
                 "(under systemd: AmbientCapabilities=CAP_NET_BIND_SERVICE), or choose a port\n"
                 "from 1024 up: `port` in section [TRANSPORT] of %s.\n",
                 program, ini);
    else if (e == EADDRINUSE)
        snprintf(buf, cap,
                 "Another program listens on this port (`ss -ltnp` names it): stop it, or choose\n"
                 "another port: `port` (or `control_port` for the control port) in section\n"
                 "[TRANSPORT] of %s.\n",
                 ini);
    return buf;
}

void rcli_print_start_error(FILE *f, sx_status st, const char *ini)
{
    const char *msg = sx_error_message();
    fprintf(f, "Error: cannot start the server: %s\n", msg[0] ? msg : sx_strerror(st));
    char program[PATH_MAX] = "";
    ssize_t n = readlink("/proc/self/exe", program, sizeof program - 1);
    program[n > 0 ? n : 0] = 0;
    char fix[1024];
    fputs(rcli_listen_fix(sx_net_listen_errno(), program[0] ? program : "<program>", ini, fix,
                          sizeof fix),
          f);
}

void rcli_print_hostnames_note(const char *host, const char *ini)
{
    if (strcmp(host, "<hostnames>") != 0)
        return;
    printf("Replace <hostnames> with this server's host name(s) or IP address(es) when you share\n"
           "the address; `host` in section [TRANSPORT] of %s sets what `start` prints\n"
           "(init --fqdn or --ip sets it at once).\n",
           ini);
}

int rcli_drop_rts(int argc, char **argv)
{
    int n = 1;
    bool in_rts = false;
    for (int i = 1; i < argc; i++) {
        if (!in_rts && strcmp(argv[i], "+RTS") == 0)
            in_rts = true;
        else if (in_rts && strcmp(argv[i], "-RTS") == 0)
            in_rts = false;
        else if (!in_rts)
            argv[n++] = argv[i];
    }
    argv[n] = NULL;
    return n;
}

bool rcli_parse_log_level(const char *word, sx_say_level *out)
{
    if (sx_say_parse_level(word, out))
        return true;
    fprintf(stderr, "Error: invalid log level '%s'\n", word);
    return false;
}
