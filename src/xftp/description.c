/* File description YAML. Two steps: a small block-YAML reader builds a tree
 * of mappings, sequences and scalars (only what the reference's emitter
 * produces: two-space indentation, sequences under a key at the key's
 * column or deeper, plain or single-quoted scalars, `[]`), then a schema
 * walk fills sx_xftp_fd, folding the per-server replica lists back into
 * chunks and validating them like foldReplicasToChunks and
 * validateFileDescription. Printing redoes groupReplicasByServer. */
#include "xftp/description.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/writer.h"
#include "crypto/box.h"
#include "crypto/util.h"

/* ---- scalars: sizes, base64, quoting ---- */

static const int64_t KB = 1024;

sx_status sx_xftp_size_to_text(int64_t size, char *out, size_t cap)
{
    SX_ENSURE(out != NULL && size >= 0, SX_E_USAGE);
    const char *unit = "";
    int64_t n = size;
    /* The largest unit that divides the size exactly (PROTOCOL-NOTES F32); 0
     * stays "0". */
    static const char *const units[] = {"kb", "mb", "gb"};
    for (size_t i = 0; i < 3 && n != 0 && n % KB == 0; i++) {
        n /= KB;
        unit = units[i];
    }
    int w = snprintf(out, cap, "%" PRId64 "%s", n, unit);
    return w > 0 && (size_t)w < cap ? SX_OK : SX_E_LIMIT;
}

sx_status sx_xftp_size_from_text(const char *text, size_t len, int64_t max, int64_t *out)
{
    SX_ENSURE(text != NULL && out != NULL, SX_E_USAGE);
    *out = 0;
    size_t digits = 0;
    int64_t n = 0;
    while (digits < len && text[digits] >= '0' && text[digits] <= '9') {
        int d = text[digits] - '0';
        if (n > (INT64_MAX - d) / 10)
            return SX_E_PROTOCOL;
        n = n * 10 + d;
        digits++;
    }
    if (digits == 0)
        return SX_E_PROTOCOL;
    int64_t mult = 1;
    size_t rest = len - digits;
    const char *u = text + digits;
    if (rest == 2 && !memcmp(u, "kb", 2))
        mult = KB;
    else if (rest == 2 && !memcmp(u, "mb", 2))
        mult = KB * KB;
    else if (rest == 2 && !memcmp(u, "gb", 2))
        mult = KB * KB * KB;
    else if (rest != 0)
        return SX_E_PROTOCOL;
    if (n > max / mult)
        return SX_E_PROTOCOL;
    *out = n * mult;
    return SX_OK;
}

/* base64url text (PROTOCOL-NOTES A23) into out; at least one character. */
static sx_status b64_field(const char *s, size_t len, uint8_t *out, size_t cap, size_t *n)
{
    sx_status st = sx_b64_decode(s, len, SX_B64_URL, out, cap, n);
    return st == SX_OK ? SX_OK : (st == SX_E_LIMIT ? SX_E_LIMIT : SX_E_PROTOCOL);
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* attoparsec's scientific (sign, digits, fraction, exponent), or 0x / 0o
 * numbers: the strings a YAML reader would not take as text. */
static bool is_numeric(const char *s, size_t n)
{
    size_t i = 0;
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
        for (i = 2; i < n; i++) {
            char c = s[i];
            bool ok = s[1] == 'x' ? (is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))
                                  : (c >= '0' && c <= '7');
            if (!ok)
                return false;
        }
        return true;
    }
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    size_t d0 = i;
    while (i < n && is_digit(s[i]))
        i++;
    if (i == d0)
        return false;
    if (i < n && s[i] == '.') {
        size_t f0 = ++i;
        while (i < n && is_digit(s[i]))
            i++;
        if (i == f0)
            return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t e0 = i;
        while (i < n && is_digit(s[i]))
            i++;
        if (i == e0)
            return false;
    }
    return i == n;
}

/* Strings the YAML library writes single-quoted because a reader would
 * resolve them to another type. */
static bool is_special(const char *s, size_t n)
{
    static const char *const words[] = {
        "y",     "Y",     "yes",   "Yes", "YES", "n",    "N",    "no",   "No",
        "NO",    "true",  "True",  "TRUE", "false", "False", "FALSE", "on", "On",
        "ON",    "off",   "Off",   "OFF", "null", "Null", "NULL", "~",    "*",
    };
    if (n == 0)
        return true;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strlen(words[i]) == n && !memcmp(words[i], s, n))
            return true;
    return is_numeric(s, n);
}

/* Quoting as the emitter chooses it for our alphabets: special strings, and
 * the "---" / "..." prefixes libyaml refuses to write plain. */
static bool needs_quotes(const char *s, size_t n)
{
    if (is_special(s, n))
        return true;
    if (n >= 3 && (!memcmp(s, "---", 3) || !memcmp(s, "...", 3)))
        return true;
    return false;
}

static bool write_scalar(sx_writer *w, const char *s)
{
    size_t n = strlen(s);
    if (!needs_quotes(s, n))
        return sx_write_bytes(w, s, n);
    if (!sx_write_str(w, "'"))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!sx_write_bytes(w, s[i] == '\'' ? "''" : &s[i], s[i] == '\'' ? 2 : 1))
            return false;
    return sx_write_str(w, "'");
}

/* ---- the YAML subset: lines -> tree ---- */

enum { Y_SCALAR = 1, Y_MAP, Y_SEQ };
#define NONE ((size_t)-1)
#define SCALAR_MAX 4096

typedef struct yline {
    size_t indent;
    const char *s; /* content after the indentation */
    size_t len;
} yline;

typedef struct ynode {
    int kind;
    const char *key; /* entry of a mapping: its key */
    size_t key_len;
    const char *val; /* scalar: the text (inside the quotes when quoted) */
    size_t val_len;
    bool quoted;
    bool number; /* a plain scalar a YAML reader takes as a number */
    size_t first, last, next; /* children, sibling */
} ynode;

typedef struct yparser {
    yline *lines;
    size_t nlines, i;
    ynode *nodes;
    size_t nnodes, cap;
    sx_status err;
} yparser;

static bool yfail(yparser *p, sx_status st)
{
    if (p->err == SX_OK)
        p->err = st;
    return false;
}

static size_t ynew(yparser *p, int kind)
{
    if (p->nnodes == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        ynode *n = realloc(p->nodes, cap * sizeof *n);
        if (!n) {
            yfail(p, SX_E_NOMEM);
            return NONE;
        }
        p->nodes = n;
        p->cap = cap;
    }
    ynode *n = &p->nodes[p->nnodes];
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->first = n->last = n->next = NONE;
    return p->nnodes++;
}

static void yadd(yparser *p, size_t parent, size_t child)
{
    ynode *pa = &p->nodes[parent];
    if (pa->last == NONE)
        pa->first = child;
    else
        p->nodes[pa->last].next = child;
    pa->last = child;
}

static bool is_seq_item(const yline *l) { return l->len >= 2 && l->s[0] == '-' && l->s[1] == ' '; }

/* A mapping key: a letter, then letters and digits, then ':' at the end or
 * before a space. *klen is the key's length. */
static bool is_key(const char *s, size_t n, size_t *klen)
{
    size_t i = 0;
    if (n == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return false;
    while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || is_digit(s[i])))
        i++;
    if (i >= n || s[i] != ':' || (i + 1 < n && s[i + 1] != ' '))
        return false;
    *klen = i;
    return true;
}

/* A scalar in value position: single-quoted ('' escapes a quote) or plain
 * (no indicator first, no ": " or " #", no trailing space, not a string a
 * YAML reader would turn into a number, boolean or null). */
static bool yscalar(yparser *p, const char *s, size_t n, size_t node)
{
    ynode *y = &p->nodes[node];
    if (n >= 2 && s[0] == '\'' && s[n - 1] == '\'') {
        for (size_t i = 1; i + 1 < n; i++) {
            if (s[i] != '\'')
                continue;
            if (i + 2 < n && s[i + 1] == '\'')
                i++;
            else
                return yfail(p, SX_E_PROTOCOL);
        }
        y->val = s + 1;
        y->val_len = n - 2;
        y->quoted = true;
        return true;
    }
    if (n == 0 || strchr("'\"[]{}#&*!|>%@`,?:", s[0]) != NULL || s[n - 1] == ' ')
        return yfail(p, SX_E_PROTOCOL);
    for (size_t i = 0; i + 1 < n; i++)
        if ((s[i] == ':' && s[i + 1] == ' ') || (s[i] == ' ' && s[i + 1] == '#'))
            return yfail(p, SX_E_PROTOCOL);
    /* Numbers are kept (the redirect size is one); the fields that want text
     * refuse them, as the reference's String fields do. Other special plain
     * values (booleans, null) are never valid here. */
    y->number = is_numeric(s, n);
    if (!y->number && is_special(s, n))
        return yfail(p, SX_E_PROTOCOL);
    y->val = s;
    y->val_len = n;
    return true;
}

static bool ymap(yparser *p, size_t ind, size_t *out);
static bool yseq(yparser *p, size_t ind, size_t *out);

/* The value of a key with nothing after the colon: a deeper block, or a
 * sequence at the key's own column. */
static bool ynested(yparser *p, size_t ind, size_t *out)
{
    if (p->i >= p->nlines)
        return yfail(p, SX_E_PROTOCOL);
    yline *l = &p->lines[p->i];
    if (l->indent == ind && is_seq_item(l))
        return yseq(p, ind, out);
    if (l->indent <= ind)
        return yfail(p, SX_E_PROTOCOL);
    if (is_seq_item(l))
        return yseq(p, l->indent, out);
    return ymap(p, l->indent, out);
}

static bool ymap(yparser *p, size_t ind, size_t *out)
{
    size_t map = ynew(p, Y_MAP);
    if (map == NONE)
        return false;
    *out = map;
    while (p->i < p->nlines && p->lines[p->i].indent == ind && !is_seq_item(&p->lines[p->i])) {
        yline *l = &p->lines[p->i];
        size_t klen;
        if (!is_key(l->s, l->len, &klen))
            return yfail(p, SX_E_PROTOCOL);
        for (size_t c = p->nodes[map].first; c != NONE; c = p->nodes[c].next)
            if (p->nodes[c].key_len == klen && !memcmp(p->nodes[c].key, l->s, klen))
                return yfail(p, SX_E_PROTOCOL); /* duplicate key */
        const char *v = l->s + klen + 1;
        size_t vlen = l->len - klen - 1;
        size_t child;
        p->i++;
        if (vlen == 0) {
            if (!ynested(p, ind, &child))
                return false;
        } else {
            v++, vlen--; /* the space after the colon */
            bool empty_list = vlen == 2 && !memcmp(v, "[]", 2);
            child = ynew(p, empty_list ? Y_SEQ : Y_SCALAR);
            if (child == NONE || (!empty_list && !yscalar(p, v, vlen, child)))
                return false;
        }
        p->nodes[child].key = l->s;
        p->nodes[child].key_len = klen;
        yadd(p, map, child);
    }
    if (p->i < p->nlines && p->lines[p->i].indent >= ind)
        return yfail(p, SX_E_PROTOCOL); /* deeper, or a stray item */
    return true;
}

static bool yseq(yparser *p, size_t ind, size_t *out)
{
    size_t seq = ynew(p, Y_SEQ);
    if (seq == NONE)
        return false;
    *out = seq;
    while (p->i < p->nlines && p->lines[p->i].indent == ind && is_seq_item(&p->lines[p->i])) {
        yline *l = &p->lines[p->i];
        /* "- x": x starts a block two columns deeper on the same line. */
        l->indent = ind + 2;
        l->s += 2;
        l->len -= 2;
        size_t klen, child;
        if (is_seq_item(l))
            return yfail(p, SX_E_PROTOCOL); /* nested "- - " is not written */
        if (is_key(l->s, l->len, &klen)) {
            if (!ymap(p, ind + 2, &child))
                return false;
        } else {
            child = ynew(p, Y_SCALAR);
            if (child == NONE || !yscalar(p, l->s, l->len, child))
                return false;
            p->i++;
        }
        yadd(p, seq, child);
    }
    if (p->i < p->nlines && p->lines[p->i].indent > ind)
        return yfail(p, SX_E_PROTOCOL);
    return true;
}

static sx_status ysplit(yparser *p, const char *text, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\n')
            n++;
    p->lines = calloc(n + 1, sizeof *p->lines);
    if (!p->lines)
        return SX_E_NOMEM;
    size_t start = 0;
    while (start < len) {
        const char *nl = memchr(text + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - text) : len;
        yline *l = &p->lines[p->nlines++];
        size_t k = start;
        while (k < end && text[k] == ' ')
            k++;
        l->indent = k - start;
        l->s = text + k;
        l->len = end - k;
        /* No blank lines, comments, tabs, control bytes or document markers. */
        if (l->len == 0 || l->s[0] == '#' || (l->indent == 0 && l->len >= 3 &&
                                               (!memcmp(l->s, "---", 3) || !memcmp(l->s, "...", 3))))
            return SX_E_PROTOCOL;
        for (size_t j = 0; j < l->len; j++)
            if ((unsigned char)l->s[j] < 0x20 || (unsigned char)l->s[j] == 0x7f)
                return SX_E_PROTOCOL;
        start = end + 1;
    }
    return SX_OK;
}

/* ---- schema walk ---- */

static size_t yget(const yparser *p, size_t map, const char *key)
{
    size_t n = strlen(key);
    for (size_t c = p->nodes[map].first; c != NONE; c = p->nodes[c].next)
        if (p->nodes[c].key_len == n && !memcmp(p->nodes[c].key, key, n))
            return c;
    return NONE;
}

/* Every key of map must be one of the allowed (NULL-terminated). */
static bool ykeys_known(const yparser *p, size_t map, const char *const *allowed)
{
    for (size_t c = p->nodes[map].first; c != NONE; c = p->nodes[c].next) {
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strlen(allowed[i]) == p->nodes[c].key_len &&
                 !memcmp(allowed[i], p->nodes[c].key, p->nodes[c].key_len);
        if (!ok)
            return false;
    }
    return true;
}

/* The scalar's text, unescaped into buf (NUL-terminated). */
static sx_status ytext(const yparser *p, size_t node, char *buf, size_t cap, size_t *len)
{
    if (node == NONE || p->nodes[node].kind != Y_SCALAR || p->nodes[node].number)
        return SX_E_PROTOCOL;
    const ynode *y = &p->nodes[node];
    size_t n = 0;
    for (size_t i = 0; i < y->val_len; i++) {
        if (n + 1 >= cap)
            return SX_E_LIMIT;
        buf[n++] = y->val[i];
        if (y->quoted && y->val[i] == '\'')
            i++;
    }
    buf[n] = '\0';
    *len = n;
    return SX_OK;
}

static sx_status field_b64(const yparser *p, size_t map, const char *key, uint8_t *out,
                           size_t cap, size_t *n)
{
    char buf[SCALAR_MAX];
    size_t len;
    SX_TRY(ytext(p, yget(p, map, key), buf, sizeof buf, &len));
    return b64_field(buf, len, out, cap, n);
}

static sx_status field_size(const yparser *p, size_t map, const char *key, int64_t max,
                            int64_t *out)
{
    char buf[SCALAR_MAX];
    size_t len;
    SX_TRY(ytext(p, yget(p, map, key), buf, sizeof buf, &len));
    return sx_xftp_size_from_text(buf, len, max, out);
}

/* A JSON integer field (the redirect size, RedirectFileInfo): a plain
 * number of decimal digits, at most max. */
static sx_status field_int(const yparser *p, size_t map, const char *key, int64_t max,
                           int64_t *out)
{
    size_t node = yget(p, map, key);
    if (node == NONE || p->nodes[node].kind != Y_SCALAR || !p->nodes[node].number)
        return SX_E_PROTOCOL;
    const ynode *y = &p->nodes[node];
    int64_t v = 0;
    if (y->val_len == 0)
        return SX_E_PROTOCOL;
    for (size_t i = 0; i < y->val_len; i++) {
        if (!is_digit(y->val[i]))
            return SX_E_PROTOCOL;
        int d = y->val[i] - '0';
        if (v > (max - d) / 10)
            return SX_E_PROTOCOL;
        v = v * 10 + d;
    }
    *out = v;
    return SX_OK;
}

/* ---- server addresses ---- */

sx_status sx_xftp_fd_server_parse(const char *text, size_t len, sx_xftp_fd_server *out)
{
    SX_ENSURE(text != NULL && out != NULL, SX_E_USAGE);
    sx_status st = sx_server_address_parse(text, len, out);
    /* a description names xftp:// servers without basic auth (a
     * ProtocolServer, not a ProtoServerWithAuth) */
    if (st == SX_OK && (out->scheme != SX_SERVER_XFTP || out->has_auth)) {
        sx_wipe(out, sizeof *out);
        st = SX_E_PROTOCOL;
    }
    return st;
}

int sx_xftp_fd_server_compare(const sx_xftp_fd_server *a, const sx_xftp_fd_server *b)
{
    return sx_server_address_compare(a, b);
}

/* ---- parse ---- */

/* One replica string, "no:id:key[:digest[:size]]", before folding. */
typedef struct flat_replica {
    uint32_t number;
    size_t server;
    bool has_digest, has_size;
    uint32_t size;
    uint8_t digest[SX_XFTP_FD_BYTES_MAX];
    size_t digest_len;
    sx_xftp_fd_replica r;
} flat_replica;

static sx_status parse_replica(const char *s, size_t len, size_t server, flat_replica *out)
{
    memset(out, 0, sizeof *out);
    out->server = server;
    out->r.server = server;
    const char *part[6];
    size_t plen[6], n = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == ':') {
            if (n == 6)
                return SX_E_PROTOCOL;
            part[n] = s + start;
            plen[n++] = i - start;
            start = i + 1;
        }
    }
    if (n < 3 || n > 5)
        return SX_E_PROTOCOL;
    int64_t no;
    if (plen[0] == 0 || plen[0] > 9 ||
        sx_xftp_size_from_text(part[0], plen[0], INT32_MAX, &no) != SX_OK ||
        !is_digit(part[0][plen[0] - 1]) || no == 0)
        return SX_E_PROTOCOL;
    out->number = (uint32_t)no;
    SX_TRY(b64_field(part[1], plen[1], out->r.id, sizeof out->r.id, &out->r.id_len));
    SX_TRY(b64_field(part[2], plen[2], out->r.key, sizeof out->r.key, &out->r.key_len));
    sx_key *k = NULL;
    if (sx_key_decode_private(sx_slice_of(out->r.key, out->r.key_len), SX_KEY_AUTH_ALGS, &k) !=
        SX_OK)
        return SX_E_PROTOCOL;
    out->r.key_alg = sx_key_alg_of(k);
    sx_key_free(k);
    if (n >= 4) {
        out->has_digest = true;
        SX_TRY(b64_field(part[3], plen[3], out->digest, sizeof out->digest, &out->digest_len));
    }
    if (n == 5) {
        int64_t sz;
        if (sx_xftp_size_from_text(part[4], plen[4], UINT32_MAX, &sz) != SX_OK)
            return SX_E_PROTOCOL;
        out->has_size = true;
        out->size = (uint32_t)sz;
    }
    return SX_OK;
}

static sx_status add_server(sx_xftp_fd *fd, const sx_xftp_fd_server *s, size_t *index)
{
    for (size_t i = 0; i < fd->server_count; i++)
        if (sx_xftp_fd_server_compare(&fd->servers[i], s) == 0) {
            *index = i;
            return SX_OK;
        }
    sx_xftp_fd_server *n = realloc(fd->servers, (fd->server_count + 1) * sizeof *n);
    if (!n)
        return SX_E_NOMEM;
    fd->servers = n;
    n[fd->server_count] = *s;
    *index = fd->server_count++;
    return SX_OK;
}

/* foldReplicasToChunks: chunk numbers, digests and sizes from the first
 * replica that has them (and no disagreement), replicas in reading order. */
static sx_status fold_chunks(sx_xftp_fd *fd, flat_replica *fr, size_t n)
{
    uint32_t max_no = 0;
    for (size_t i = 0; i < n; i++)
        if (fr[i].number > max_no)
            max_no = fr[i].number;
    /* validation below needs numbers exactly 1..count, so more distinct
     * numbers than replicas can never validate */
    if (max_no > n || max_no > SX_XFTP_FD_MAX_CHUNKS)
        return n == 0 ? SX_OK : SX_E_PROTOCOL;
    if (max_no == 0)
        return n == 0 ? SX_OK : SX_E_PROTOCOL;
    sx_xftp_fd_chunk *ch = calloc(max_no, sizeof *ch);
    if (!ch)
        return SX_E_NOMEM;
    fd->chunks = ch;
    fd->chunk_count = max_no;
    bool *have_size = calloc(max_no, sizeof *have_size);
    if (!have_size)
        return SX_E_NOMEM;
    sx_status st = SX_OK;
    for (size_t i = 0; i < n && st == SX_OK; i++) {
        sx_xftp_fd_chunk *c = &ch[fr[i].number - 1];
        if (fr[i].has_digest) {
            if (c->digest_len == 0) {
                memcpy(c->digest, fr[i].digest, fr[i].digest_len);
                c->digest_len = fr[i].digest_len;
            } else if (!sx_slice_eq(sx_slice_of(c->digest, c->digest_len),
                                    sx_slice_of(fr[i].digest, fr[i].digest_len))) {
                st = SX_E_PROTOCOL; /* different digests in one chunk's replicas */
            }
        }
        if (fr[i].has_size) {
            if (!have_size[fr[i].number - 1]) {
                have_size[fr[i].number - 1] = true;
                c->size = fr[i].size;
            } else if (c->size != fr[i].size) {
                st = SX_E_PROTOCOL;
            }
        }
        c->replica_count++;
    }
    for (uint32_t k = 0; k < max_no && st == SX_OK; k++) {
        ch[k].number = k + 1;
        if (!have_size[k])
            ch[k].size = fd->chunk_size;
        if (ch[k].replica_count == 0) {
            st = SX_E_PROTOCOL; /* a gap in the chunk numbers */
            break;
        }
        if (ch[k].digest_len == 0) {
            st = SX_E_PROTOCOL; /* no digest for the chunk */
            break;
        }
        ch[k].replicas = calloc(ch[k].replica_count, sizeof *ch[k].replicas);
        if (!ch[k].replicas)
            st = SX_E_NOMEM;
        ch[k].replica_count = 0;
    }
    free(have_size);
    for (size_t i = 0; i < n && st == SX_OK; i++) {
        sx_xftp_fd_chunk *c = &ch[fr[i].number - 1];
        c->replicas[c->replica_count++] = fr[i].r;
    }
    return st;
}

static const char *const TOP_KEYS[] = {"party", "size",     "digest",   "key", "nonce",
                                       "chunkSize", "replicas", "redirect", NULL};
static const char *const GROUP_KEYS[] = {"server", "chunks", NULL};
static const char *const REDIRECT_KEYS[] = {"size", "digest", NULL};

static sx_status parse_tree(const yparser *p, size_t top, sx_xftp_fd *fd, flat_replica **frp,
                            size_t *nfr)
{
    char buf[SCALAR_MAX];
    size_t len, n;
    if (p->nodes[top].kind != Y_MAP || !ykeys_known(p, top, TOP_KEYS))
        return SX_E_PROTOCOL;
    SX_TRY(ytext(p, yget(p, top, "party"), buf, sizeof buf, &len));
    if (!strcmp(buf, "recipient"))
        fd->party = SX_XFTP_PARTY_RECIPIENT;
    else if (!strcmp(buf, "sender"))
        fd->party = SX_XFTP_PARTY_SENDER;
    else
        return SX_E_PROTOCOL;
    SX_TRY(field_size(p, top, "size", INT64_MAX, &fd->size));
    SX_TRY(field_b64(p, top, "digest", fd->digest, sizeof fd->digest, &fd->digest_len));
    SX_TRY(field_b64(p, top, "key", fd->key, sizeof fd->key, &n));
    if (n != SX_XFTP_FD_KEY_LEN)
        return SX_E_PROTOCOL;
    /* CbNonce: any length, cut or zero-padded to 24 (cbNonce) */
    uint8_t nonce[SX_XFTP_FD_BYTES_MAX];
    SX_TRY(field_b64(p, top, "nonce", nonce, sizeof nonce, &n));
    sx_cb_nonce(sx_slice_of(nonce, n), fd->nonce);
    int64_t cs;
    SX_TRY(field_size(p, top, "chunkSize", UINT32_MAX, &cs));
    fd->chunk_size = (uint32_t)cs;

    size_t red = yget(p, top, "redirect");
    if (red != NONE) {
        if (p->nodes[red].kind != Y_MAP || !ykeys_known(p, red, REDIRECT_KEYS))
            return SX_E_PROTOCOL;
        fd->has_redirect = true;
        SX_TRY(field_int(p, red, "size", INT64_MAX, &fd->redirect_size));
        SX_TRY(field_b64(p, red, "digest", fd->redirect_digest, sizeof fd->redirect_digest,
                         &fd->redirect_digest_len));
    }

    size_t reps = yget(p, top, "replicas");
    if (reps == NONE || p->nodes[reps].kind != Y_SEQ)
        return SX_E_PROTOCOL;
    size_t total = 0;
    for (size_t g = p->nodes[reps].first; g != NONE; g = p->nodes[g].next) {
        if (p->nodes[g].kind != Y_MAP || !ykeys_known(p, g, GROUP_KEYS))
            return SX_E_PROTOCOL;
        size_t chunks = yget(p, g, "chunks");
        if (chunks == NONE || p->nodes[chunks].kind != Y_SEQ)
            return SX_E_PROTOCOL;
        for (size_t c = p->nodes[chunks].first; c != NONE; c = p->nodes[c].next)
            total++;
    }
    if (total > SX_XFTP_FD_MAX_CHUNKS)
        return SX_E_LIMIT;
    flat_replica *fr = total ? calloc(total, sizeof *fr) : NULL;
    if (total && !fr)
        return SX_E_NOMEM;
    *frp = fr;
    *nfr = 0;
    sx_xftp_fd_server *srv = malloc(sizeof *srv);
    if (!srv)
        return SX_E_NOMEM;
    sx_status st = SX_OK;
    for (size_t g = p->nodes[reps].first; g != NONE && st == SX_OK; g = p->nodes[g].next) {
        size_t si;
        st = ytext(p, yget(p, g, "server"), buf, sizeof buf, &len);
        if (st == SX_OK)
            st = sx_xftp_fd_server_parse(buf, len, srv);
        if (st == SX_OK)
            st = add_server(fd, srv, &si);
        size_t chunks = yget(p, g, "chunks");
        for (size_t c = p->nodes[chunks].first; c != NONE && st == SX_OK; c = p->nodes[c].next) {
            st = ytext(p, c, buf, sizeof buf, &len);
            if (st == SX_OK)
                st = parse_replica(buf, len, si, &fr[(*nfr)++]);
        }
    }
    free(srv);
    SX_TRY(st);
    return fold_chunks(fd, fr, *nfr);
}

sx_status sx_xftp_fd_parse(const char *text, size_t len, sx_xftp_fd *out)
{
    SX_ENSURE(text != NULL && out != NULL, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    if (len > SX_XFTP_FD_TEXT_MAX)
        return SX_E_LIMIT;
    yparser p;
    memset(&p, 0, sizeof p);
    flat_replica *fr = NULL;
    size_t nfr = 0;
    sx_status st = ysplit(&p, text, len);
    size_t top = NONE;
    if (st == SX_OK) {
        if (p.nlines == 0 || p.lines[0].indent != 0 || !ymap(&p, 0, &top))
            st = p.err != SX_OK ? p.err : SX_E_PROTOCOL;
        else if (p.i != p.nlines)
            st = SX_E_PROTOCOL;
    }
    if (st == SX_OK)
        st = parse_tree(&p, top, out, &fr, &nfr);
    if (st == SX_OK)
        st = sx_xftp_fd_validate(out);
    if (fr) {
        sx_wipe(fr, nfr * sizeof *fr);
        free(fr);
    }
    free(p.nodes);
    free(p.lines);
    if (st != SX_OK)
        sx_xftp_fd_cleanup(out);
    return st;
}

sx_status sx_xftp_fd_validate(const sx_xftp_fd *fd)
{
    SX_ENSURE(fd != NULL, SX_E_USAGE);
    int64_t sum = 0;
    for (size_t i = 0; i < fd->chunk_count; i++) {
        if (fd->chunks[i].number != i + 1)
            return SX_E_PROTOCOL; /* chunk numbers are not sequential */
        sum += fd->chunks[i].size;
    }
    if (sum != fd->size)
        return SX_E_PROTOCOL; /* chunks total size is different from file size */
    return SX_OK;
}

void sx_xftp_fd_cleanup(sx_xftp_fd *fd)
{
    if (!fd)
        return;
    for (size_t i = 0; i < fd->chunk_count; i++) {
        if (fd->chunks[i].replicas) {
            sx_wipe(fd->chunks[i].replicas,
                    fd->chunks[i].replica_count * sizeof *fd->chunks[i].replicas);
            free(fd->chunks[i].replicas);
        }
    }
    free(fd->chunks);
    free(fd->servers);
    sx_wipe(fd, sizeof *fd);
}

/* ---- print ---- */

typedef struct out_replica {
    const sx_xftp_fd_chunk *chunk;
    const sx_xftp_fd_replica *r;
    bool first; /* the chunk's first replica: carries digest and size */
} out_replica;

static bool write_b64(sx_writer *w, const uint8_t *p, size_t n)
{
    char buf[SX_XFTP_FD_BYTES_MAX * 2];
    if (sx_b64_encode(sx_slice_of(p, n), SX_B64_URL, buf, sizeof buf) != SX_OK)
        return sx_writer_fail(w, SX_E_USAGE);
    return write_scalar(w, buf);
}

static bool write_size(sx_writer *w, int64_t size)
{
    char buf[32];
    if (sx_xftp_size_to_text(size, buf, sizeof buf) != SX_OK)
        return sx_writer_fail(w, SX_E_USAGE);
    return write_scalar(w, buf);
}

static bool write_replica(sx_writer *w, const sx_xftp_fd *fd, const out_replica *o)
{
    char buf[SX_XFTP_FD_BYTES_MAX * 2], num[16];
    snprintf(num, sizeof num, "%" PRIu32, o->chunk->number);
    /* The whole replica string is one scalar: build it, then quote if needed. */
    sx_writer line;
    char text[3 * SX_XFTP_FD_BYTES_MAX * 2];
    sx_writer_init_fixed(&line, (uint8_t *)text, sizeof text - 1);
    sx_write_str(&line, num);
    sx_write_str(&line, ":");
    if (sx_b64_encode(sx_slice_of(o->r->id, o->r->id_len), SX_B64_URL, buf, sizeof buf) != SX_OK)
        return sx_writer_fail(w, SX_E_USAGE);
    sx_write_str(&line, buf);
    sx_write_str(&line, ":");
    if (sx_b64_encode(sx_slice_of(o->r->key, o->r->key_len), SX_B64_URL, buf, sizeof buf) != SX_OK)
        return sx_writer_fail(w, SX_E_USAGE);
    sx_write_str(&line, buf);
    if (o->first) {
        if (sx_b64_encode(sx_slice_of(o->chunk->digest, o->chunk->digest_len), SX_B64_URL, buf,
                          sizeof buf) != SX_OK)
            return sx_writer_fail(w, SX_E_USAGE);
        sx_write_str(&line, ":");
        sx_write_str(&line, buf);
        if (o->chunk->size != fd->chunk_size) {
            sx_write_str(&line, ":");
            if (sx_xftp_size_to_text(o->chunk->size, buf, sizeof buf) != SX_OK)
                return sx_writer_fail(w, SX_E_USAGE);
            sx_write_str(&line, buf);
        }
    }
    if (sx_writer_status(&line) != SX_OK)
        return sx_writer_fail(w, SX_E_LIMIT);
    text[line.len] = '\0';
    return sx_write_str(w, "  - ") && write_scalar(w, text) && sx_write_str(w, "\n");
}

static int server_ptr_cmp(const void *a, const void *b)
{
    const sx_xftp_fd_server *x = *(const sx_xftp_fd_server *const *)a;
    const sx_xftp_fd_server *y = *(const sx_xftp_fd_server *const *)b;
    int c = sx_xftp_fd_server_compare(x, y);
    if (c != 0)
        return c;
    return x < y ? -1 : (x > y ? 1 : 0); /* array order: keeps the sort stable */
}

/* groupAllWith server: replicas (in chunk order) stably sorted by the rank
 * of their server in the reference's order; equal servers share a rank. */
static sx_status group_replicas(const sx_xftp_fd *fd, out_replica **out, size_t **rank_out,
                                size_t *n)
{
    size_t total = 0;
    for (size_t i = 0; i < fd->chunk_count; i++) {
        if (fd->chunks[i].replica_count == 0)
            return SX_E_USAGE;
        for (size_t j = 0; j < fd->chunks[i].replica_count; j++)
            if (fd->chunks[i].replicas[j].server >= fd->server_count)
                return SX_E_USAGE;
        total += fd->chunks[i].replica_count;
    }
    size_t ns = fd->server_count;
    const sx_xftp_fd_server **sorted = calloc(ns + 1, sizeof *sorted);
    size_t *rank = calloc(ns + 1, sizeof *rank);
    size_t *start = calloc(ns + 2, sizeof *start);
    out_replica *o = calloc(total + 1, sizeof *o);
    sx_status st = SX_E_NOMEM;
    if (!sorted || !rank || !start || !o)
        goto cleanup;
    for (size_t i = 0; i < ns; i++)
        sorted[i] = &fd->servers[i];
    if (ns > 1)
        qsort(sorted, ns, sizeof *sorted, server_ptr_cmp);
    for (size_t i = 0, r = 0; i < ns; i++) {
        if (i > 0 && sx_xftp_fd_server_compare(sorted[i - 1], sorted[i]) != 0)
            r++;
        rank[sorted[i] - fd->servers] = r;
    }
    /* counting sort by rank, stable */
    for (size_t i = 0; i < fd->chunk_count; i++)
        for (size_t j = 0; j < fd->chunks[i].replica_count; j++)
            start[rank[fd->chunks[i].replicas[j].server] + 1]++;
    for (size_t r = 1; r <= ns; r++)
        start[r] += start[r - 1];
    for (size_t i = 0; i < fd->chunk_count; i++)
        for (size_t j = 0; j < fd->chunks[i].replica_count; j++) {
            const sx_xftp_fd_replica *rp = &fd->chunks[i].replicas[j];
            out_replica cur = {&fd->chunks[i], rp, j == 0};
            o[start[rank[rp->server]]++] = cur;
        }
    *out = o;
    *rank_out = rank;
    *n = total;
    o = NULL;
    rank = NULL;
    st = SX_OK;
cleanup:
    free(o);
    free(start);
    free(rank);
    free(sorted);
    return st;
}

sx_status sx_xftp_fd_print(const sx_xftp_fd *fd, char **out, size_t *out_len)
{
    SX_ENSURE(fd != NULL && out != NULL && out_len != NULL, SX_E_USAGE);
    *out = NULL;
    *out_len = 0;
    const char *party = fd->party == SX_XFTP_PARTY_RECIPIENT ? "recipient"
                        : fd->party == SX_XFTP_PARTY_SENDER  ? "sender"
                                                             : NULL;
    SX_ENSURE(party != NULL, SX_E_USAGE);
    out_replica *o = NULL;
    size_t *rank = NULL;
    size_t n = 0;
    SX_TRY(group_replicas(fd, &o, &rank, &n));

    sx_writer w;
    sx_writer_init_dynamic(&w, SX_XFTP_FD_TEXT_MAX * 4);
    sx_write_str(&w, "chunkSize: ");
    write_size(&w, fd->chunk_size);
    sx_write_str(&w, "\ndigest: ");
    write_b64(&w, fd->digest, fd->digest_len);
    sx_write_str(&w, "\nkey: ");
    write_b64(&w, fd->key, sizeof fd->key);
    sx_write_str(&w, "\nnonce: ");
    write_b64(&w, fd->nonce, sizeof fd->nonce);
    sx_write_str(&w, "\nparty: ");
    write_scalar(&w, party);
    sx_write_str(&w, "\n");
    if (fd->has_redirect) {
        sx_write_str(&w, "redirect:\n  digest: ");
        write_b64(&w, fd->redirect_digest, fd->redirect_digest_len);
        /* A JSON number, not FileSize text (RedirectFileInfo). */
        char num[24];
        snprintf(num, sizeof num, "%" PRId64, fd->redirect_size);
        sx_write_str(&w, "\n  size: ");
        sx_write_str(&w, num);
        sx_write_str(&w, "\n");
    }
    sx_write_str(&w, n ? "replicas:\n" : "replicas: []\n");
    for (size_t i = 0; i < n;) {
        size_t srv = o[i].r->server;
        sx_write_str(&w, "- chunks:\n");
        size_t j = i;
        while (j < n && rank[o[j].r->server] == rank[srv])
            write_replica(&w, fd, &o[j++]);
        sx_write_str(&w, "  server: ");
        write_scalar(&w, fd->servers[srv].text);
        sx_write_str(&w, "\n");
        i = j;
    }
    sx_write_str(&w, "size: ");
    write_size(&w, fd->size);
    sx_write_str(&w, "\n");
    sx_write_u8(&w, 0);
    free(o);
    free(rank);
    sx_status st = sx_writer_status(&w);
    if (st != SX_OK) {
        sx_writer_cleanup(&w);
        return st == SX_E_LIMIT ? SX_E_NOMEM : st;
    }
    size_t len;
    *out = (char *)sx_writer_take(&w, &len);
    *out_len = len - 1;
    return SX_OK;
}
