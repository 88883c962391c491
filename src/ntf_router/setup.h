/* ntf-server setup (PROTOCOL-NOTES H20-H23; reference
 * Notifications/Server/Main.hs at 152c30ca68): its folders and file names,
 * init's options, the ntf-server.ini text init writes, the files it creates
 * (certificates through the router kit, src/kit/identity.h) and the printed
 * server address. */
#ifndef SX_NTF_ROUTER_SETUP_H
#define SX_NTF_ROUTER_SETUP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "crypto/keys.h"
#include "crypto/x509.h"
#include "kit/paths.h"

#define SX_NTF_DEFAULT_CFG_DIR "/etc/opt/simplex-notifications"
#define SX_NTF_DEFAULT_LOG_DIR "/var/opt/simplex-notifications"
#define SX_NTF_CFG_ENV "NTF_SERVER_CFG_PATH"
#define SX_NTF_LOG_ENV "NTF_SERVER_LOG_PATH"
#define SX_NTF_INI_NAME "ntf-server.ini"
#define SX_NTF_LAST_NTFS_NAME "ntf-server-last-notifications.log" /* in the log folder */
#define SX_NTF_DEFAULT_PORT "443"
#define SX_NTF_DEFAULT_DB_CONNECTION "postgresql://ntf@/ntf_server_store"
#define SX_NTF_DEFAULT_DB_SCHEMA "ntf_server"
#define SX_NTF_DEFAULT_DB_POOL_SIZE 10
#define SX_NTF_DEFAULT_DELETED_TTL_DAYS 21
/* What `start` needs from the environment (PROTOCOL-NOTES H22). */
#define SX_NTF_APNS_KEY_FILE_ENV "APNS_KEY_FILE"
#define SX_NTF_APNS_KEY_ID_ENV "APNS_KEY_ID"

/* Paths with ntf-server's file names (ntf-server.ini, ntf-server-store.log,
 * ntf-server-stats.daily.log, ntf-server-stats.log,
 * ntf-server-metrics.txt). */
SX_MUST_CHECK sx_status sx_ntf_paths_init(sx_kit_paths *p, const char *cfg_dir, const char *log_dir);
SX_MUST_CHECK sx_status sx_ntf_paths_from_env(sx_kit_paths *p);

typedef struct sx_ntf_init_options {
    bool store_log;      /* --disable-store-log turns it off */
    sx_key_alg sign_alg; /* -a/--sign-algorithm, default ED448 */
    const char *ip;      /* --ip, default 127.0.0.1 */
    bool ip_given;
    const char *fqdn;      /* -n/--fqdn or NULL */
    const char *db_conn;   /* -d/--database or NULL (default) */
    const char *db_schema; /* --schema or NULL (default) */
    unsigned db_pool_size; /* --pool-size, 0 = default */
} sx_ntf_init_options;

void sx_ntf_init_options_default(sx_ntf_init_options *o);
/* The values init can write: no control characters, --ip / --fqdn 1..255
 * characters, database values that fit on an INI line. SX_E_USAGE with err. */
SX_MUST_CHECK sx_status sx_ntf_init_check(const sx_ntf_init_options *o, char *err, size_t errlen);
/* The host init writes into [TRANSPORT] host and prints: the FQDN, else the
 * IP, else "<hostnames>" when the IP is the default 127.0.0.1. */
const char *sx_ntf_init_host(const sx_ntf_init_options *o);
/* The ntf-server.ini text (new memory, free() it). The keys, sections and
 * values are the reference's; the comments are ours. */
SX_MUST_CHECK sx_status sx_ntf_ini_text(const sx_ntf_init_options *o, const char *host, char **out);
/* init: refuses when the INI exists; empties and creates both folders, makes
 * the identity (CA and server certificates, fingerprint) with CN = FQDN or
 * IP, writes the INI; *fp gets the fingerprint, host the printed host. */
SX_MUST_CHECK sx_status sx_ntf_setup_init(const sx_kit_paths *paths, const sx_ntf_init_options *o,
                                          uint8_t fp[SX_FINGERPRINT_LEN], char *host, size_t host_cap,
                                          char *err, size_t errlen);

/* "ntf://<fingerprint>@<host>[:<port>]", the port only when given and not
 * 443. SX_E_LIMIT when it does not fit. */
SX_MUST_CHECK sx_status sx_ntf_format_address(const uint8_t fp[SX_FINGERPRINT_LEN], const char *host,
                                              const char *port, char *out, size_t cap);
/* The version line, "Fingerprint: ..." and "Server address: ..." lines. */
void sx_ntf_print_service(FILE *out, const char *version_line, const uint8_t fp[SX_FINGERPRINT_LEN],
                          const char *host, const char *port);

#endif
