/* The static site `smp-server start` writes into [WEB] static_path before
 * serving (as the reference's generated site; our own markup): index.html
 * with the server's public configuration and the [INFORMATION] fields, the
 * connection-link pages (contact/, invitation/, a/, c/, g/, r/, i/, each an
 * index.html that hands the link to the app) and well-known/ with the app
 * association files served as /.well-known/. Every value HTML-escaped. */
#ifndef SX_ROUTER_WEBSITE_H
#define SX_ROUTER_WEBSITE_H

#include <stddef.h>

#include "core/ini.h"
#include "smp_router/config.h"
#include "simplex/status.h"

/* index.html as a new NUL-terminated string (*out, the caller frees; *len
 * without the NUL), from the loaded configuration and its INI (for
 * [INFORMATION] and the onion host of [TRANSPORT] host; ini may be NULL).
 * version is printed as is. SX_E_USAGE, SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_router_site_index(const sx_router_config *cfg, const sx_ini *ini, const char *version,
                                             char **out, size_t *len);

/* The reference's wording of a duration (its timedTTLText): "21 days",
 * "1 week", "1 hour 30 min", "0 sec". */
void sx_router_site_ttl_text(int64_t seconds, char *out, size_t cap);

/* Writes the whole site into dir (created with its parents when missing),
 * each file through a temporary file and rename. Reads cfg->paths.ini for
 * [INFORMATION]. SX_E_IO / SX_E_LIMIT / SX_E_PROTOCOL / SX_E_NOMEM with the
 * reason in err. */
SX_MUST_CHECK sx_status sx_router_site_generate(const sx_router_config *cfg, const char *dir, const char *version,
                                                char *err, size_t errlen);

#endif
