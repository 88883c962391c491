/* Test helper: Prometheus text format checker (see prom_check.h). */
#include "prom_check.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 200

static bool name_start(char c)
{
    return isalpha((unsigned char)c) || c == '_' || c == ':';
}

static bool name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == ':';
}

/* A metric name at *p; copied to out. */
static bool take_name(const char **p, char *out)
{
    const char *s = *p;
    if (!name_start(*s))
        return false;
    size_t n = 0;
    while (name_char(s[n]) && n < NAME_MAX_LEN)
        n++;
    if (n >= NAME_MAX_LEN)
        return false;
    memcpy(out, s, n);
    out[n] = '\0';
    *p = s + n;
    return true;
}

static bool take_labels(const char **p)
{
    const char *s = *p;
    if (*s != '{')
        return true;
    s++;
    while (*s != '}') {
        if (!(isalpha((unsigned char)*s) || *s == '_'))
            return false;
        while (isalnum((unsigned char)*s) || *s == '_')
            s++;
        if (*s++ != '=' || *s++ != '"')
            return false;
        while (*s != '"') {
            if (*s == '\0' || *s == '\n')
                return false;
            if (*s == '\\') {
                s++;
                if (*s != '\\' && *s != '"' && *s != 'n')
                    return false;
            }
            s++;
        }
        s++;
        if (*s == ',')
            s++;
        else if (*s != '}')
            return false;
    }
    *p = s + 1;
    return true;
}

static bool take_value(const char **p)
{
    const char *s = *p;
    if (strncmp(s, "+Inf", 4) == 0 || strncmp(s, "-Inf", 4) == 0 || strncmp(s, "NaN", 3) == 0) {
        *p = s + (s[0] == 'N' ? 3 : 4);
        return true;
    }
    char *end;
    (void)strtod(s, &end);
    if (end == s)
        return false;
    *p = end;
    return true;
}

static bool take_int(const char **p)
{
    const char *s = *p;
    if (*s == '-')
        s++;
    if (!isdigit((unsigned char)*s))
        return false;
    while (isdigit((unsigned char)*s))
        s++;
    *p = s;
    return true;
}

/* The family a sample belongs to: its name, less a histogram's suffix
 * when the family typed so is the current one. */
static void family_of(const char *name, const char *cur, const char *cur_type, char *out)
{
    snprintf(out, NAME_MAX_LEN, "%s", name);
    if (strcmp(cur_type, "histogram") != 0 && strcmp(cur_type, "summary") != 0)
        return;
    static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(name), k = strlen(suffixes[i]);
        if (n > k && strcmp(name + n - k, suffixes[i]) == 0 && strncmp(name, cur, n - k) == 0 &&
            cur[n - k] == '\0') {
            snprintf(out, NAME_MAX_LEN, "%s", cur);
            return;
        }
    }
}

typedef struct seen {
    char (*names)[NAME_MAX_LEN];
    size_t n, cap;
} seen;

static bool seen_has(const seen *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->names[i], name) == 0)
            return true;
    return false;
}

static void seen_add(seen *s, const char *name)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->names = realloc(s->names, s->cap * sizeof *s->names);
    }
    snprintf(s->names[s->n++], NAME_MAX_LEN, "%s", name);
}

bool prom_check(const char *text, size_t *samples, char *err, size_t errlen)
{
    seen typed = {0}, helped = {0}, done = {0};
    char cur[NAME_MAX_LEN] = "", cur_type[32] = "untyped";
    size_t count = 0, no = 0;
    bool ok = true;
    const char *p = text;
    while (ok && *p) {
        no++;
        const char *nl = strchr(p, '\n');
        if (!nl) {
            snprintf(err, errlen, "line %zu: no newline at the end", no);
            ok = false;
            break;
        }
        char line[2048];
        size_t n = (size_t)(nl - p);
        if (n >= sizeof line) {
            snprintf(err, errlen, "line %zu: too long", no);
            ok = false;
            break;
        }
        memcpy(line, p, n);
        line[n] = '\0';
        p = nl + 1;
        if (n == 0)
            continue;
        char name[NAME_MAX_LEN];
        const char *s = line;
        if (line[0] == '#') {
            bool help = strncmp(line, "# HELP ", 7) == 0, type = strncmp(line, "# TYPE ", 7) == 0;
            if (!help && !type)
                continue; /* a comment */
            s = line + 7;
            if (!take_name(&s, name) || (*s != ' ' && *s != '\0')) {
                snprintf(err, errlen, "line %zu: bad metric name in \"%s\"", no, line);
                ok = false;
                break;
            }
            if (help) {
                if (seen_has(&helped, name)) {
                    snprintf(err, errlen, "line %zu: second HELP for %s", no, name);
                    ok = false;
                }
                seen_add(&helped, name);
            } else {
                const char *t = *s ? s + 1 : s;
                if (strcmp(t, "counter") && strcmp(t, "gauge") && strcmp(t, "histogram") && strcmp(t, "summary") &&
                    strcmp(t, "untyped")) {
                    snprintf(err, errlen, "line %zu: bad type \"%s\"", no, t);
                    ok = false;
                } else if (seen_has(&typed, name) || seen_has(&done, name)) {
                    snprintf(err, errlen, "line %zu: TYPE for %s after its samples or twice", no, name);
                    ok = false;
                }
                seen_add(&typed, name);
                snprintf(cur, sizeof cur, "%s", name);
                snprintf(cur_type, sizeof cur_type, "%s", t);
            }
            continue;
        }
        if (!take_name(&s, name) || !take_labels(&s) || *s++ != ' ' || !take_value(&s) ||
            (*s == ' ' && (s++, !take_int(&s))) || *s != '\0') {
            snprintf(err, errlen, "line %zu: bad sample \"%s\"", no, line);
            ok = false;
            break;
        }
        char fam[NAME_MAX_LEN];
        family_of(name, cur, cur_type, fam);
        if (strcmp(fam, cur) != 0) {
            /* an untyped family of its own: it must not come back later */
            if (seen_has(&done, fam) || seen_has(&typed, fam)) {
                snprintf(err, errlen, "line %zu: samples of %s apart from their family", no, fam);
                ok = false;
                break;
            }
            snprintf(cur, sizeof cur, "%s", fam);
            snprintf(cur_type, sizeof cur_type, "untyped");
        }
        if (!seen_has(&done, fam))
            seen_add(&done, fam);
        count++;
    }
    free(typed.names);
    free(helped.names);
    free(done.names);
    if (samples)
        *samples = count;
    return ok;
}

bool prom_value(const char *text, const char *series, double *v)
{
    size_t k = strlen(series);
    const char *p = text;
    while (p && *p) {
        if (strncmp(p, series, k) == 0 && p[k] == ' ') {
            *v = strtod(p + k + 1, NULL);
            return true;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return false;
}
