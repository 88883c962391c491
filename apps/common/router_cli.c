/* Shared parts of the router programs' command lines (see router_cli.h). */
#include "router_cli.h"

#include <stdio.h>
#include <string.h>

#include "kit/identity.h"
#include "kit/workers.h"

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
