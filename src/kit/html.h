/* Pieces of the routers' generated web pages (the [WEB] static sites):
 * HTML text with the five meaningful characters escaped, table rows whose
 * value becomes a link only for http, https and simplex: addresses, and the
 * rows of a router's [INFORMATION] section. */
#ifndef SX_KIT_HTML_H
#define SX_KIT_HTML_H

#include <stdbool.h>

#include "core/ini.h"
#include "core/writer.h"

/* s as it is (markup of our own). */
bool sx_html_put(sx_writer *w, const char *s);
/* s as text or an attribute value: & < > " ' escaped. */
bool sx_html_put_escaped(sx_writer *w, const char *s);
/* "<tr><th>label</th><td>value</td></tr>": the value a link when it is an
 * http, https or simplex: address, else in <code> when code is set. */
bool sx_html_row(sx_writer *w, const char *label, const char *value, bool code);
/* A row for each [INFORMATION] key of ini that has a value (operator,
 * contacts, hosting, ...), in one fixed order with our labels. */
bool sx_html_info_rows(sx_writer *w, const sx_ini *ini);

#endif
