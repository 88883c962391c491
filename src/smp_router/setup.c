/* smp-server `init`: its option checks and the INI text; the folders, keys,
 * certificates and fingerprint file are made by the router kit
 * (kit/identity.h). The key lines of the INI follow the reference exactly so
 * each implementation reads the other's file; the comments are ours. */
#include "smp_router/setup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base64.h"
#include "crypto/util.h"
#include "kit/identity.h"
#include "kit/values.h"

#define CN_MAX 64 /* X.520 upper bound of a commonName */

void sx_router_init_options_default(sx_router_init_options *o)
{
    memset(o, 0, sizeof *o);
    o->store_log = true;
    o->sign_alg = SX_KEY_ED25519;
    o->ip = "127.0.0.1";
    o->password_mode = SX_ROUTER_PASSWORD_RANDOM;
    o->db_pool_size = SX_ROUTER_DEFAULT_DB_POOL_SIZE;
}

/* ---- option checks ------------------------------------------------------- */

static bool fail(char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    return false;
}

sx_status sx_router_init_check(const sx_router_init_options *o, char *err, size_t errlen)
{
    const char *texts[] = {o->ip,           o->fqdn,          o->password,
                           o->socks_proxy,  o->own_domains,   o->source_code,
                           o->operator_name, o->operator_country, o->hosting_name,
                           o->hosting_country, o->hosting_type, o->server_country,
                           o->website,      o->web_path,      o->db_connection,
                           o->db_schema};
    bool ok = true;
    for (size_t i = 0; ok && i < sizeof texts / sizeof texts[0]; i++)
        if (sx_kit_has_control_char(texts[i]))
            ok = fail(err, errlen, "option values cannot contain control characters or newlines");
    bool info = o->operator_name || o->website || o->hosting_name || o->hosting_type ||
                o->server_country;
    if (!ok)
        return SX_E_USAGE;
    if (o->sign_alg != SX_KEY_ED25519 && o->sign_alg != SX_KEY_ED448)
        ok = fail(err, errlen, "the signature algorithm must be ED25519 or ED448");
    else if (!o->ip || !o->ip[0] || strlen(o->ip) > CN_MAX)
        ok = fail(err, errlen, "--ip must be 1 to 64 characters");
    else if (o->fqdn && (!o->fqdn[0] || strlen(o->fqdn) > CN_MAX))
        ok = fail(err, errlen, "--fqdn must be 1 to 64 characters");
    else if (o->password_mode == SX_ROUTER_PASSWORD_GIVEN &&
             (!o->password || !sx_kit_password_valid(o->password)))
        ok = fail(err, errlen,
                  "invalid password: use printable ASCII characters without spaces, '@', ':' or "
                  "'/'");
    else if (!o->source_code && info)
        ok = fail(err, errlen, "passing any server information requires passing --source-code");
    else if (!o->operator_name && o->operator_country)
        ok = fail(err, errlen, "passing --operator-country requires passing --operator");
    else if (!o->hosting_name && o->hosting_country)
        ok = fail(err, errlen, "passing --hosting-country requires passing --hosting");
    else if ((o->operator_country && !sx_kit_country_valid(o->operator_country)) ||
             (o->hosting_country && !sx_kit_country_valid(o->hosting_country)) ||
             (o->server_country && !sx_kit_country_valid(o->server_country)))
        ok = fail(err, errlen, "countries must be ISO 3166 two-letter codes");
    else if (o->hosting_type && !sx_kit_hosting_type_valid(o->hosting_type))
        ok = fail(err, errlen, "--hosting-type must be virtual, dedicated, colocation or owned");
    else if (o->db_pool_size < 1)
        ok = fail(err, errlen, "--pool-size must be at least 1");
    else if ((o->source_code && !o->source_code[0]) || (o->web_path && !o->web_path[0]))
        ok = fail(err, errlen, "empty option value");
    return ok ? SX_OK : SX_E_USAGE;
}

/* ---- INI text ------------------------------------------------------------ */

/* "# " when the line is disabled, as the reference comments out a key. */
static const char *off(bool disabled)
{
    return disabled ? "# " : "";
}

static const char *on_off(bool b)
{
    return b ? "on" : "off";
}

static void put_country(FILE *f, const char *name, const char *cc)
{
    fprintf(f, "%s%s_country: ", off(!cc), name);
    if (cc)
        fprintf(f, "%c%c\n", cc[0] & ~0x20, cc[1] & ~0x20); /* ASCII upper case */
    else
        fprintf(f, "ISO-3166 2-letter code\n");
}

static void put_entity(FILE *f, const char *name, const char *value, const char *cc)
{
    fprintf(f, "%s%s: %s\n", off(!value), name, value ? value : "entity (organization or person name)");
    put_country(f, name, value ? cc : NULL);
}

static void put_information(FILE *f, const sx_router_init_options *o)
{
    fputs("[INFORMATION]\n"
          "# The AGPLv3 license asks operators to publish any changes they make to the\n"
          "# server code: set source_code to where your version can be found.\n"
          "# LICENSE: https://github.com/simplex-chat/simplexmq/blob/stable/LICENSE\n"
          "# source_code is required as soon as any other field of this section is set.\n\n",
          f);
    fprintf(f, "%ssource_code: %s\n\n", off(!o->source_code), o->source_code ? o->source_code : "URI");
    fputs("# Everything below is optional.\n\n"
          "# Usage conditions of the server, and amendments to them (as a link).\n"
          "# usage_conditions: https://github.com/simplex-chat/simplex-chat/blob/stable/PRIVACY.md\n"
          "# condition_amendments: link\n\n"
          "# Where the server runs and who operates it.\n",
          f);
    put_country(f, "server", o->server_country);
    put_entity(f, "operator", o->operator_name, o->operator_country);
    fprintf(f, "%swebsite: %s\n\n", off(!o->website), o->website ? o->website : "");
    fputs("# Contacts of the administrators.\n"
          "# admin_simplex: SimpleX address\n"
          "# admin_email:\n"
          "# admin_pgp:\n"
          "# admin_pgp_fingerprint:\n\n"
          "# Contacts for complaints and feedback.\n"
          "# complaints_simplex: SimpleX address\n"
          "# complaints_email:\n"
          "# complaints_pgp:\n"
          "# complaints_pgp_fingerprint:\n\n"
          "# The hosting provider.\n",
          f);
    put_entity(f, "hosting", o->hosting_name, o->hosting_country);
    fputs("\n# One of `virtual`, `dedicated`, `colocation` or `owned`.\n", f);
    fprintf(f, "hosting_type: %s\n\n", o->hosting_type ? o->hosting_type : "virtual");
}

static void put_store_log(FILE *f, const sx_router_init_options *o)
{
    const char *conn = o->db_connection ? o->db_connection : SX_ROUTER_DEFAULT_DB_CONNECTION;
    const char *schema = o->db_schema ? o->db_schema : SX_ROUTER_DEFAULT_DB_SCHEMA;
    fputs("[STORE_LOG]\n"
          "# Queue records live in memory or in a PostgreSQL database. With `enable: on`\n"
          "# every change is appended to a log file that restores the queues after a\n"
          "# restart; the log is compacted at start.\n",
          f);
    fprintf(f, "enable: %s\n\n", on_off(o->store_log));
    fputs("# Where queue records are kept: `memory` (with the log above) or `database`\n"
          "# (PostgreSQL, with `store_messages: journal` or `database`; no store log).\n"
          "store_queues: memory\n\n"
          "# PostgreSQL connection, used with `store_queues: database`.\n",
          f);
    fprintf(f, "%sdb_connection: %s\n", off(strcmp(conn, SX_ROUTER_DEFAULT_DB_CONNECTION) == 0), conn);
    fprintf(f, "%sdb_schema: %s\n", off(strcmp(schema, SX_ROUTER_DEFAULT_DB_SCHEMA) == 0), schema);
    fprintf(f, "%sdb_pool_size: %d\n\n", off(o->db_pool_size == SX_ROUTER_DEFAULT_DB_POOL_SIZE),
            o->db_pool_size);
    fputs("# Also append database changes to the store log file.\n"
          "# db_store_log: off\n\n"
          "# Days to keep deleted queues in the database.\n"
          "# db_deleted_ttl: 21\n\n"
          "# Where messages are kept: `memory` or `journal`, or `database` with\n"
          "# `store_queues: database`.\n"
          "store_messages: memory\n\n"
          "# With `store_messages: memory`, undelivered messages are saved at shutdown and\n"
          "# loaded at start; the saved file is kept as .bak until the next restart.\n",
          f);
    fprintf(f, "restore_messages: %s\n\n", on_off(o->store_log));
    fputs("# Durability of the store log (ours; the reference does not read it). Every\n"
          "# queue change is written to the log before the client is told, so it survives\n"
          "# a crash or kill -9 of the router. With `fsync: on` the log is also flushed to\n"
          "# disk (fdatasync) after each batch of changes, so it survives a power loss or\n"
          "# kernel crash too, at the cost of a disk flush per batch.\n"
          "# fsync: off\n\n",
          f);
    fputs("# How long messages (days) and notifications (hours) are kept.\n"
          "expire_messages_days: 21\n"
          "expire_messages_on_start: on\n"
          "expire_messages_on_send: off\n"
          "expire_ntfs_hours: 24\n\n"
          "# Daily statistics in a CSV file.\n",
          f);
    fprintf(f, "log_stats: %s\n\n", on_off(o->daily_stats));
    fputs("# Seconds between updates of the Prometheus metrics file.\n"
          "# prometheus_interval: 60\n\n",
          f);
}

static void put_auth(FILE *f, const char *password, const char *ctl_admin, const char *ctl_user)
{
    fputs("[AUTH]\n"
          "# `new_queues: off` stops all queue creation, e.g. while moving users away\n"
          "# from a server that is being retired.\n"
          "new_queues: on\n\n"
          "# With create_password set, creating queues needs this password, given in the\n"
          "# server address of the client: smp://fingerprint:password@host1,host2\n"
          "# Share it only with the users allowed to create queues here; their contacts\n"
          "# do not need it.\n",
          f);
    fprintf(f, "%screate_password: %s\n\n", off(!password),
            password ? password
                     : "password for creating queues and forwarding messages (printable ASCII, "
                       "no spaces, '@', ':' or '/')");
    fprintf(f, "%scontrol_port_admin_password: %s\n", off(!ctl_admin), ctl_admin ? ctl_admin : "");
    fprintf(f, "%scontrol_port_user_password: %s\n\n", off(!ctl_user), ctl_user ? ctl_user : "");
    fputs("# How many queues the control port may block per day (resets at 00:00 UTC);\n"
          "# 0 means no limit and -1 forbids blocking. The default is 20.\n"
          "# daily_block_queue_quota: 20\n\n",
          f);
}

static void put_transport(FILE *f, const sx_router_init_options *o, const char *host)
{
    fputs("[TRANSPORT]\n"
          "# host is only used to print the server address at start.\n"
          "# port may list several ports, separated by commas.\n",
          f);
    fprintf(f, "host: %s\n", host);
    fputs("port: 5223,443\n"
          "log_tls_errors: off\n\n"
          "# Websockets (`websockets: 443`, with 443 also listed in port) are deprecated\n"
          "# and only meant for testing.\n"
          "websockets: off\n",
          f);
    fprintf(f, "%scontrol_port: %u\n\n", off(!o->control_port),
            (unsigned)(o->control_port ? o->control_port : SX_ROUTER_DEFAULT_CONTROL_PORT));
    fputs("# Not a reference setting (this implementation only, the reference ignores\n"
          "# it): number of worker threads; the default is one per CPU core.\n"
          "# workers: 4\n\n",
          f);
}

static void put_proxy(FILE *f, const sx_router_init_options *o)
{
    fputs("[PROXY]\n"
          "# How this server connects to destination servers when it forwards messages.\n"
          "# host_mode is `public` (default) or `onion`: which of several host names\n"
          "# of a destination server to prefer.\n"
          "# host_mode: public\n"
          "# required_host_mode: off\n\n"
          "# Domain suffixes of your own servers (space-separated), counted separately\n"
          "# in the proxy statistics.\n",
          f);
    fprintf(f, "%sown_server_domains: %s\n\n", off(!o->own_domains),
            o->own_domains ? o->own_domains : "");
    fputs("# SOCKS proxy used to reach destination servers; single-hop clients may need\n"
          "# an instance of their own.\n",
          f);
    fprintf(f, "%ssocks_proxy: %s\n\n", off(!o->socks_proxy),
            o->socks_proxy ? o->socks_proxy : "localhost:9050");
    fputs("# socks_mode `onion` (default) uses the proxy for .onion hosts only, `always`\n"
          "# for every destination.\n"
          "# socks_mode: onion\n\n"
          "# How many proxy commands of one client may run at the same time.\n"
          "# client_concurrency: 32\n\n",
          f);
}

static void put_inactive_and_web(FILE *f, const sx_kit_paths *paths,
                                 const sx_router_init_options *o)
{
    fputs("[INACTIVE_CLIENTS]\n"
          "# Disconnect clients idle for ttl seconds, checking every check_interval.\n"
          "disconnect: on\n"
          "ttl: 21600\n"
          "check_interval: 3600\n\n"
          "[WEB]\n"
          "# Folder for the generated pages with server information and QR codes.\n",
          f);
    if (o->web_path)
        fprintf(f, "static_path: %s\n\n", o->web_path);
    else
        fprintf(f, "static_path: %s/www\n\n", paths->log_dir);
    fputs("# Plain HTTP port for these pages (.onion sites may use any port; port 80 may\n"
          "# need extra process capabilities).\n"
          "# http: 8000\n\n"
          "# HTTPS port with its certificate and key (not needed for an onion-only\n"
          "# server).\n",
          f);
    const char *d = off(o->disable_web);
    fprintf(f, "%shttps: 443\n", d);
    fprintf(f, "%scert: %s/web.crt\n", d, paths->cfg_dir);
    fprintf(f, "%skey: %s/web.key\n", d, paths->cfg_dir);
}

sx_status sx_router_ini_text(const sx_kit_paths *paths, const sx_router_init_options *o,
                             const char *host, const char *password, const char *ctl_admin,
                             const char *ctl_user, char **out)
{
    SX_ENSURE(paths && o && host && out, SX_E_USAGE);
    *out = NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    SX_ENSURE(f, SX_E_NOMEM);
    put_information(f, o);
    put_store_log(f, o);
    put_auth(f, password, ctl_admin, ctl_user);
    put_transport(f, o, host);
    put_proxy(f, o);
    put_inactive_and_web(f, paths, o);
    bool failed = ferror(f) != 0;
    if (fclose(f) != 0 || failed) {
        free(buf);
        return SX_E_NOMEM;
    }
    *out = buf;
    return SX_OK;
}

/* ---- init ---------------------------------------------------------------- */

/* base64url of n random bytes (the reference's random passwords). */
static sx_status random_text(size_t n, char *out, size_t cap)
{
    uint8_t raw[32];
    SX_ENSURE(n <= sizeof raw, SX_E_USAGE);
    sx_random_bytes(raw, n);
    sx_status st = sx_b64_encode(sx_slice_of(raw, n), SX_B64_URL, out, cap);
    sx_wipe(raw, sizeof raw);
    return st;
}

sx_status sx_router_setup_init(const sx_kit_paths *paths, const sx_router_init_options *o,
                               sx_router_init_result *res, char *err, size_t errlen)
{
    SX_ENSURE(paths && o && res && (err || errlen == 0), SX_E_USAGE);
    if (errlen)
        err[0] = 0;
    memset(res, 0, sizeof *res);
    if (access(paths->ini, F_OK) == 0) {
        snprintf(err, errlen, "server is already initialized (%s exists)", paths->ini);
        return SX_E_USAGE;
    }
    SX_TRY(sx_router_init_check(o, err, errlen));
    SX_TRY(sx_kit_setup_identity(paths, o->sign_alg, o->fqdn ? o->fqdn : o->ip, res->fingerprint, err, errlen));

    switch (o->password_mode) {
    case SX_ROUTER_PASSWORD_RANDOM:
        SX_TRY(random_text(32, res->password, sizeof res->password));
        res->has_password = true;
        break;
    case SX_ROUTER_PASSWORD_GIVEN:
        memcpy(res->password, o->password, strlen(o->password) + 1); /* checked above */
        res->has_password = true;
        break;
    case SX_ROUTER_PASSWORD_NONE:
    default:
        break;
    }
    char ctl_admin[32] = "", ctl_user[32] = "";
    if (o->control_port) {
        SX_TRY(random_text(18, ctl_admin, sizeof ctl_admin));
        SX_TRY(random_text(18, ctl_user, sizeof ctl_user));
    }
    /* PROTOCOL-NOTES H9: the FQDN, else the IP unless it is the loopback
     * default (an --ip 127.0.0.1 that was given is the host). */
    const char *host = o->fqdn                                               ? o->fqdn
                       : !o->ip_given && strcmp(o->ip, "127.0.0.1") == 0 ? "<hostnames>"
                                                                           : o->ip;
    memcpy(res->host, host, strlen(host) + 1); /* at most 64 characters, checked above */

    char *text = NULL;
    sx_status st = sx_router_ini_text(paths, o, res->host, res->has_password ? res->password : NULL,
                                      o->control_port ? ctl_admin : NULL,
                                      o->control_port ? ctl_user : NULL, &text);
    if (st == SX_OK)
        st = sx_kit_write_secret_text(paths->ini, text, err, errlen);
    else
        snprintf(err, errlen, "out of memory");
    free(text);
    sx_wipe(ctl_admin, sizeof ctl_admin);
    sx_wipe(ctl_user, sizeof ctl_user);
    return st;
}
