/* What the router programs (smp-server, xftp-server) say and parse alike:
 * the CA key warning, --sign-algorithm values, the `cert` subcommand, the
 * answer to `delete`'s question and why a start failed. */
#ifndef SX_APPS_ROUTER_CLI_H
#define SX_APPS_ROUTER_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "crypto/keys.h"
#include "kit/paths.h"
#include "kit/say.h"

/* The reminder to keep ca.key offline, printed after init and cert. */
void rcli_print_ca_key_warning(const sx_kit_paths *paths);
/* "ED25519" / "ED448"; false for anything else. */
bool rcli_parse_alg(const char *v, sx_key_alg *alg);
/* `cert [-a|--sign-algorithm ALG] [--cn NAME]`: a new server certificate
 * signed by the CA (argv[0] is "cert"). Returns the exit code. */
int rcli_cert(const sx_kit_paths *paths, int argc, char **argv);

/* At start: raises the soft limit of open files to the hard one
 * (sx_kit_raise_nofile) and prints the limit on out. */
void rcli_raise_nofile(FILE *out);
/* `delete`'s "Continue (y/N): " answer: true for y, Y, yes (any case);
 * anything else, the empty line included, is no. */
bool rcli_answer_is_yes(const char *line);
/* Prints warning and "Continue (y/N): ", reads the answer from stdin: true
 * for yes; otherwise prints refused and returns false. */
bool rcli_confirm(const char *warning, const char *refused);
/* `delete` (argv[0] is "delete", nothing may follow): warns that the
 * router's identity goes and with it what_is_lost ("every queue on it
 * becomes unreachable"), asks "Continue (y/N)" on stdin and removes the
 * configuration and log files on yes. Returns the exit code. */
int rcli_delete(const sx_kit_paths *paths, int argc, char **argv, const char *what_is_lost);
/* What to do when a port could not be listened on, for the errno e of
 * sx_net_listen_errno(): a port below 1024 without the capability (EACCES,
 * EPERM) or a port in use (EADDRINUSE) get their fix, naming the program to
 * give the capability to and the INI that sets the ports; "" for anything
 * else. Writes at most cap bytes into buf and returns buf. */
const char *rcli_listen_fix(int e, const char *program, const char *ini, char *buf, size_t cap);
/* Removes the reference's runtime options ("+RTS ... -RTS", as in its
 * systemd units' `start +RTS -N -RTS`) from argv[1..argc-1] in place, so
 * that its start commands work with ours; returns the new argc. */
int rcli_drop_rts(int argc, char **argv);
/* After init's address, when its host is the "<hostnames>" placeholder
 * (neither --fqdn nor --ip given): what to put there, and where. */
void rcli_print_hostnames_note(const char *host, const char *ini);
/* Prints "Error: cannot start the server: <cause>" and the fix above to f,
 * after sx_*_start failed with st. */
void rcli_print_start_error(FILE *f, sx_status st, const char *ini);

/* `start --log-level WORD`: the level, or false after printing the error. */
bool rcli_parse_log_level(const char *word, sx_say_level *out);

#endif
