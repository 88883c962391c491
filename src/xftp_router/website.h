/* The static page `xftp-server start` writes into [WEB] static_path before
 * serving (the reference's generateSite, our own minimal HTML): the server
 * address, version, source code link and the [INFORMATION] fields present,
 * every value HTML-escaped. No network here. */
#ifndef SX_XFTP_WEBSITE_H
#define SX_XFTP_WEBSITE_H

#include <stddef.h>

#include "core/ini.h"
#include "simplex/status.h"

#define SX_XFTP_SITE_INDEX "index.html"

/* The page as a new NUL-terminated string (*out, the caller frees; *len
 * without the NUL). address and version are required; ini may be NULL (no
 * [INFORMATION]). Values that look like http(s) / simplex links become
 * links, others plain text. SX_E_USAGE (NULL arguments), SX_E_NOMEM. */
SX_MUST_CHECK sx_status sx_xftp_site_html(const sx_ini *ini, const char *address, const char *version,
                                          char **out, size_t *len);

/* Creates dir (and its parents) when missing and writes dir/index.html
 * (through a temporary file and rename) from the page above. ini_path is
 * file-server.ini, read for [INFORMATION]. SX_E_IO / SX_E_PROTOCOL (the
 * INI) / SX_E_LIMIT (path too long) / SX_E_NOMEM with the reason in err. */
SX_MUST_CHECK sx_status sx_xftp_site_generate(const char *ini_path, const char *dir, const char *address,
                                              const char *version, char *err, size_t errlen);

#endif
