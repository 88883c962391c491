/* Pieces of the routers' generated web pages (see html.h). */
#include "kit/html.h"

#include <string.h>

/* [INFORMATION] keys shown on the pages, in order, with our labels. */
static const struct {
    const char *key;
    const char *label;
} FIELDS[] = {
    {"website", "Website"},
    {"usage_conditions", "Usage conditions"},
    {"condition_amendments", "Amendments to the conditions"},
    {"operator", "Operator"},
    {"operator_country", "Operator country"},
    {"admin_simplex", "Administrator (SimpleX address)"},
    {"admin_email", "Administrator email"},
    {"admin_pgp", "Administrator PGP key"},
    {"admin_pgp_fingerprint", "Administrator PGP fingerprint"},
    {"complaints_simplex", "Complaints (SimpleX address)"},
    {"complaints_email", "Complaints email"},
    {"complaints_pgp", "Complaints PGP key"},
    {"complaints_pgp_fingerprint", "Complaints PGP fingerprint"},
    {"hosting", "Hosting provider"},
    {"hosting_country", "Hosting country"},
    {"hosting_type", "Hosting type"},
    {"server_country", "Server country"},
};

bool sx_html_put(sx_writer *w, const char *s)
{
    return sx_write_bytes(w, s, strlen(s));
}

bool sx_html_put_escaped(sx_writer *w, const char *s)
{
    for (; *s; s++) {
        const char *e = NULL;
        switch (*s) {
        case '&': e = "&amp;"; break;
        case '<': e = "&lt;"; break;
        case '>': e = "&gt;"; break;
        case '"': e = "&quot;"; break;
        case '\'': e = "&#39;"; break;
        default: break;
        }
        if (!(e ? sx_html_put(w, e) : sx_write_bytes(w, s, 1)))
            return false;
    }
    return true;
}

/* Only these schemes become links (no javascript: and the like). */
static bool is_link(const char *v)
{
    return strncmp(v, "https://", 8) == 0 || strncmp(v, "http://", 7) == 0 || strncmp(v, "simplex:", 8) == 0;
}

bool sx_html_row(sx_writer *w, const char *label, const char *value, bool code)
{
    bool ok = sx_html_put(w, "<tr><th>") && sx_html_put_escaped(w, label) && sx_html_put(w, "</th><td>");
    if (is_link(value))
        ok = ok && sx_html_put(w, "<a href=\"") && sx_html_put_escaped(w, value) && sx_html_put(w, "\">") &&
             sx_html_put_escaped(w, value) && sx_html_put(w, "</a>");
    else if (code)
        ok = ok && sx_html_put(w, "<code>") && sx_html_put_escaped(w, value) && sx_html_put(w, "</code>");
    else
        ok = ok && sx_html_put_escaped(w, value);
    return ok && sx_html_put(w, "</td></tr>\n");
}

bool sx_html_info_rows(sx_writer *w, const sx_ini *ini)
{
    bool ok = true;
    for (size_t i = 0; ok && ini && i < sizeof FIELDS / sizeof FIELDS[0]; i++) {
        const char *v = sx_ini_get(ini, "INFORMATION", FIELDS[i].key);
        if (v && *v)
            ok = sx_html_row(w, FIELDS[i].label, v, false);
    }
    return ok;
}
