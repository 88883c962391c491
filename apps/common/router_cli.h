/* What the router programs (smp-server, xftp-server) say and parse alike:
 * the CA key warning, --sign-algorithm values and the `cert` subcommand. */
#ifndef SX_APPS_ROUTER_CLI_H
#define SX_APPS_ROUTER_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "crypto/keys.h"
#include "kit/paths.h"

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

#endif
