/* INI reader: one pass over the text into a flat array of entries. Files are
 * small (a few hundred lines), so lookups are linear. */
#include "core/ini.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SX_INI_MAX_FILE (1u << 20)

typedef struct entry {
    char *section;
    char *key;
    char *value;
} entry;

struct sx_ini {
    entry *entries;
    size_t n;
    size_t cap;
};

static char *dup_range(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = 0;
    }
    return s;
}

static void trim(const char **p, size_t *n)
{
    while (*n && (**p == ' ' || **p == '\t')) {
        (*p)++;
        (*n)--;
    }
    while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t' || (*p)[*n - 1] == '\r'))
        (*n)--;
}

static sx_status add(sx_ini *ini, const char *section, const char *k, size_t kn, const char *v, size_t vn)
{
    if (ini->n == ini->cap) {
        size_t cap = ini->cap ? ini->cap * 2 : 32;
        entry *e = realloc(ini->entries, cap * sizeof *e);
        if (!e)
            return SX_E_NOMEM;
        ini->entries = e;
        ini->cap = cap;
    }
    entry *e = &ini->entries[ini->n];
    e->section = dup_range(section, strlen(section));
    e->key = dup_range(k, kn);
    e->value = dup_range(v, vn);
    if (!e->section || !e->key || !e->value) {
        free(e->section);
        free(e->key);
        free(e->value);
        return SX_E_NOMEM;
    }
    ini->n++;
    return SX_OK;
}

sx_status sx_ini_parse(const char *text, size_t len, sx_ini **out, char *err, size_t errlen)
{
    *out = NULL;
    if (errlen)
        err[0] = 0;
    sx_ini *ini = calloc(1, sizeof *ini);
    if (!ini)
        return SX_E_NOMEM;
    char section[128] = "";
    bool have_section = false;
    size_t lineno = 0, pos = 0;
    sx_status st = SX_OK;
    while (pos < len && st == SX_OK) {
        lineno++;
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        pos += n + (nl ? 1 : 0);
        trim(&line, &n);
        if (n == 0 || line[0] == '#' || line[0] == ';')
            continue;
        if (line[0] == '[') {
            if (line[n - 1] != ']' || n - 2 >= sizeof section || n < 3) {
                snprintf(err, errlen, "line %zu: bad section header", lineno);
                st = SX_E_PROTOCOL;
                break;
            }
            const char *s = line + 1;
            size_t sn = n - 2;
            trim(&s, &sn);
            memcpy(section, s, sn);
            section[sn] = 0;
            have_section = true;
            continue;
        }
        /* The separator is the first ':' or '=' (values may contain either). */
        size_t k = 0;
        while (k < n && line[k] != ':' && line[k] != '=')
            k++;
        if (k == n || k == 0) {
            snprintf(err, errlen, "line %zu: expected 'key: value'", lineno);
            st = SX_E_PROTOCOL;
            break;
        }
        if (!have_section) {
            snprintf(err, errlen, "line %zu: entry outside of a [SECTION]", lineno);
            st = SX_E_PROTOCOL;
            break;
        }
        const char *key = line, *val = line + k + 1;
        size_t kn = k, vn = n - k - 1;
        trim(&key, &kn);
        trim(&val, &vn);
        if (kn == 0) {
            snprintf(err, errlen, "line %zu: empty key", lineno);
            st = SX_E_PROTOCOL;
            break;
        }
        st = add(ini, section, key, kn, val, vn);
    }
    if (st != SX_OK) {
        sx_ini_free(ini);
        return st;
    }
    *out = ini;
    return SX_OK;
}

sx_status sx_ini_load(const char *path, sx_ini **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return SX_E_IO;
    }
    char *buf = malloc(SX_INI_MAX_FILE);
    if (!buf) {
        fclose(f);
        return SX_E_NOMEM;
    }
    size_t n = fread(buf, 1, SX_INI_MAX_FILE, f);
    bool too_big = n == SX_INI_MAX_FILE;
    bool failed = ferror(f) != 0;
    fclose(f);
    sx_status st;
    if (failed) {
        snprintf(err, errlen, "%s: read error", path);
        st = SX_E_IO;
    } else if (too_big) {
        snprintf(err, errlen, "%s: file too large", path);
        st = SX_E_LIMIT;
    } else {
        st = sx_ini_parse(buf, n, out, err, errlen);
    }
    free(buf);
    return st;
}

void sx_ini_free(sx_ini *ini)
{
    if (!ini)
        return;
    for (size_t i = 0; i < ini->n; i++) {
        free(ini->entries[i].section);
        free(ini->entries[i].key);
        free(ini->entries[i].value);
    }
    free(ini->entries);
    free(ini);
}

const char *sx_ini_get(const sx_ini *ini, const char *section, const char *key)
{
    const char *v = NULL;
    for (size_t i = 0; ini && i < ini->n; i++)
        if (strcmp(ini->entries[i].section, section) == 0 && strcmp(ini->entries[i].key, key) == 0)
            v = ini->entries[i].value;
    return v;
}

sx_status sx_ini_bool(const sx_ini *ini, const char *section, const char *key, bool dflt, bool *out,
                      char *err, size_t errlen)
{
    const char *v = sx_ini_get(ini, section, key);
    *out = dflt;
    if (!v)
        return SX_OK;
    if (strcmp(v, "on") == 0)
        *out = true;
    else if (strcmp(v, "off") == 0)
        *out = false;
    else {
        snprintf(err, errlen, "[%s] %s: expected on or off, got '%s'", section, key, v);
        return SX_E_PROTOCOL;
    }
    return SX_OK;
}

sx_status sx_ini_int(const sx_ini *ini, const char *section, const char *key, int64_t min, int64_t max,
                     int64_t dflt, int64_t *out, char *err, size_t errlen)
{
    const char *v = sx_ini_get(ini, section, key);
    *out = dflt;
    if (!v)
        return SX_OK;
    char *end = NULL;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno != 0 || end == v || *end != 0 || x < min || x > max) {
        snprintf(err, errlen, "[%s] %s: expected a whole number from %lld to %lld, got '%s'", section, key,
                 (long long)min, (long long)max, v);
        return SX_E_PROTOCOL;
    }
    *out = x;
    return SX_OK;
}
