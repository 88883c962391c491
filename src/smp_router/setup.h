/* smp-server `init` (PROTOCOL-NOTES H3-H7, H9): checks the options, creates
 * the folders, certificates and fingerprint file through the router kit
 * (kit/identity.h, which also has `cert` and `delete`) and writes the INI
 * text in the reference's layout. Questions to the operator (prompts) belong
 * to the program, not here. */
#ifndef SX_ROUTER_SETUP_H
#define SX_ROUTER_SETUP_H

#include <stdbool.h>
#include <stdint.h>

#include "crypto/keys.h"
#include "kit/paths.h"
#include "kit/values.h"
#include "smp_router/config.h"
#include "simplex/status.h"

#define SX_ROUTER_DEFAULT_CONTROL_PORT 5224
#define SX_ROUTER_DEFAULT_SOCKS_PROXY "127.0.0.1:9050"
#define SX_ROUTER_DEFAULT_SOURCE_CODE "https://github.com/simplex-chat/simplexmq"
#define SX_ROUTER_DEFAULT_DB_CONNECTION "postgresql://smp@/smp_server_store"
#define SX_ROUTER_DEFAULT_DB_SCHEMA "smp_server"
#define SX_ROUTER_DEFAULT_DB_POOL_SIZE 10

typedef enum sx_router_password_mode {
    SX_ROUTER_PASSWORD_RANDOM, /* default: base64url of 32 random bytes */
    SX_ROUTER_PASSWORD_NONE,   /* --no-password */
    SX_ROUTER_PASSWORD_GIVEN,  /* --password PWD */
} sx_router_password_mode;

/* PROTOCOL-NOTES H3 options of `init`. Strings are borrowed; NULL means "not
 * given". */
typedef struct sx_router_init_options {
    bool store_log;               /* default on; --disable-store-log */
    bool daily_stats;             /* --daily-stats */
    sx_key_alg sign_alg;          /* SX_KEY_ED25519 (default) or SX_KEY_ED448 */
    const char *ip;               /* default "127.0.0.1" */
    bool ip_given;                /* --ip was given: the host even when 127.0.0.1 */
    const char *fqdn;             /* certificate CN and host when given */
    sx_router_password_mode password_mode;
    const char *password;         /* with SX_ROUTER_PASSWORD_GIVEN */
    uint16_t control_port;        /* 0 = no control port */
    const char *socks_proxy;      /* written uncommented when given */
    const char *own_domains;      /* comma-separated */
    const char *source_code;      /* written uncommented when given */
    const char *operator_name;
    const char *operator_country;
    const char *hosting_name;
    const char *hosting_country;
    const char *hosting_type;     /* virtual|dedicated|colocation|owned */
    const char *server_country;
    const char *website;
    const char *web_path;         /* default <log>/www */
    bool disable_web;             /* comments out [WEB] https, cert, key */
    const char *db_connection;    /* default SX_ROUTER_DEFAULT_DB_CONNECTION */
    const char *db_schema;        /* default SX_ROUTER_DEFAULT_DB_SCHEMA */
    int db_pool_size;             /* default 10 */
} sx_router_init_options;

/* The reference's defaults (store log on, Ed25519, 127.0.0.1, random
 * password, web enabled). */
void sx_router_init_options_default(sx_router_init_options *o);

/* PROTOCOL-NOTES H3 checks: server information needs source_code, a country
 * needs its entity, country codes and hosting type are valid, the password is a
 * valid BasicAuth, no value contains a control character (it would break the
 * INI). Country codes are not upper-cased here (see sx_router_ini_text). On
 * failure SX_E_USAGE with the reason in err. */
SX_MUST_CHECK sx_status sx_router_init_check(const sx_router_init_options *o, char *err,
                                             size_t errlen);

/* PROTOCOL-NOTES H7: the INI text init writes, with `key: value` entries and
 * the same keys, defaults and commented-out lines as the reference; host is
 * the [TRANSPORT] host, password / ctl_admin / ctl_user are NULL when
 * absent. *out is a new NUL-terminated string the caller frees with free().
 * SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_router_ini_text(const sx_kit_paths *paths,
                                           const sx_router_init_options *o, const char *host,
                                           const char *password, const char *ctl_admin,
                                           const char *ctl_user, char **out);

/* What init made, for the lines it prints (PROTOCOL-NOTES H9). */
typedef struct sx_router_init_result {
    uint8_t fingerprint[SX_FINGERPRINT_LEN];
    bool has_password;
    char password[SX_KIT_PASSWORD_MAX + 1];
    char host[SX_KIT_HOST_MAX + 1]; /* fqdn, else a given or non-loopback ip, else "<hostnames>" */
} sx_router_init_result;

/* PROTOCOL-NOTES H3: refuses with SX_E_USAGE ("server is already
 * initialized ...") when the INI exists; otherwise checks the options, empties
 * and creates both folders, creates ca.key/ca.crt/server.key/server.crt (keys
 * mode 0600), `fingerprint` (base64url + "\n") and the INI. Errors: SX_E_USAGE
 * (options), SX_E_IO (files), SX_E_INTERNAL / SX_E_NOMEM; err names what
 * failed. */
SX_MUST_CHECK sx_status sx_router_setup_init(const sx_kit_paths *paths,
                                             const sx_router_init_options *o,
                                             sx_router_init_result *res, char *err,
                                             size_t errlen);

#endif
