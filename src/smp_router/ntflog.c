/* Pending notifications of the SMP router (PROTOCOL-NOTES E28): the line
 * parser and encoder, the list kept until shutdown, saving and restoring
 * (see ntflog.h). */
#include "smp_router/ntflog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kit/lines.h"
#include "kit/paths.h"
#include "smp_router/sltext.h"

static bool parse_ntf(sx_slt_parser *p, void *rec_)
{
    sx_ntfrec *n = rec_;
    sx_reader *r = &p->r;
    sx_slt_expect(r, "v1 ");
    sx_slt_read_fixed(r, n->nid, SX_ID_LEN);
    sx_slt_expect(r, " ");
    sx_slt_read_fixed(r, n->msg_id, SX_ID_LEN);
    sx_slt_expect(r, " ");
    sx_slt_read_int(r, &n->ts);
    sx_slt_expect(r, " ");
    /* CbNonce: whatever length is given is cut or zero-padded to 24. */
    sx_slice nonce;
    if (sx_slt_read_data(p, SIZE_MAX, &nonce)) {
        memset(n->nonce, 0, sizeof n->nonce);
        memcpy(n->nonce, nonce.ptr, nonce.len < SX_NTF_NONCE_LEN ? nonce.len : SX_NTF_NONCE_LEN);
    }
    sx_slt_expect(r, " ");
    sx_slt_read_data(p, SX_NTF_META_MAX, &n->meta);
    return sx_reader_ok(r);
}

sx_status sx_ntfrec_parse(sx_slice line, sx_ntfrec *out)
{
    return sx_slt_parse_line(line, parse_ntf, out, sizeof *out, &out->arena);
}

void sx_ntfrec_cleanup(sx_ntfrec *n)
{
    if (!n)
        return;
    free(n->arena);
    memset(n, 0, sizeof *n);
}

bool sx_ntfrec_encode(sx_writer *w, const sx_ntfrec *n)
{
    if (n->meta.len == 0 || n->meta.len > SX_NTF_META_MAX)
        return sx_writer_fail(w, SX_E_USAGE);
    sx_write_str(w, "v1 ");
    sx_slt_put_id(w, n->nid);
    sx_write_str(w, " ");
    sx_slt_put_id(w, n->msg_id);
    sx_write_str(w, " ");
    sx_slt_put_int(w, n->ts);
    sx_write_str(w, " ");
    sx_slt_put_b64(w, sx_slice_of(n->nonce, SX_NTF_NONCE_LEN));
    sx_write_str(w, " ");
    return sx_slt_put_b64(w, n->meta);
}

void sx_ntf_list_init(sx_ntf_list *l) { memset(l, 0, sizeof *l); }

void sx_ntf_list_cleanup(sx_ntf_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i].arena);
    free(l->items);
    memset(l, 0, sizeof *l);
}

sx_status sx_ntf_list_add(sx_ntf_list *l, const sx_ntfrec *n)
{
    SX_ENSURE(n->meta.len > 0 && n->meta.len <= SX_NTF_META_MAX, SX_E_LIMIT);
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        sx_ntfrec *items = realloc(l->items, cap * sizeof *items);
        if (!items)
            return SX_E_NOMEM;
        l->items = items;
        l->cap = cap;
    }
    uint8_t *meta = malloc(n->meta.len);
    if (!meta)
        return SX_E_NOMEM;
    memcpy(meta, n->meta.ptr, n->meta.len);
    sx_ntfrec *e = &l->items[l->n++];
    *e = *n;
    e->meta = sx_slice_of(meta, n->meta.len);
    e->arena = meta;
    return SX_OK;
}

static void fill_ntfs(sx_kit_linebuf *ob, void *arg)
{
    const sx_ntf_list *l = arg;
    for (size_t i = 0; i < l->n && ob->err == SX_OK; i++) {
        size_t start = ob->w.len;
        sx_kit_linebuf_end_line(ob, start, sx_ntfrec_encode(&ob->w, &l->items[i]));
    }
}

sx_status sx_ntflog_save(const char *path, const sx_ntf_list *l)
{
    return sx_kit_save_lines(path, fill_ntfs, (void *)l, NULL);
}

sx_status sx_ntflog_restore(const char *path, const sx_msglog_opts *o, sx_ntf_list *l, sx_msglog_stats *stats)
{
    sx_msglog_stats s = {0};
    if (stats)
        *stats = s;
    sx_kit_linereader lr;
    bool missing;
    sx_status res = sx_kit_linereader_open(&lr, path, &missing);
    if (res != SX_OK)
        return missing ? SX_OK : res;
    for (;;) {
        bool got, too_long;
        res = sx_kit_linereader_next(&lr, &got, &too_long);
        if (res != SX_OK || !got)
            break;
        sx_slice line = sx_slice_of(lr.line, lr.len);
        sx_ntfrec n;
        sx_status pst = too_long ? SX_E_LIMIT : sx_ntfrec_parse(line, &n);
        if (pst != SX_OK) {
            char ex[SX_KIT_EXCERPT_SIZE];
            sx_kit_report(o ? o->warn : NULL, o ? o->warn_arg : NULL,
                          "error restoring notifications: parsing error (%s): %s", sx_status_str(pst),
                          sx_kit_line_excerpt(line, ex));
            res = pst == SX_E_NOMEM ? pst : SX_E_PROTOCOL;
            break;
        }
        if (o && o->expire && n.ts < o->expire_before) {
            s.expired++;
        } else {
            res = sx_ntf_list_add(l, &n);
            s.stored++;
        }
        sx_ntfrec_cleanup(&n);
        if (res != SX_OK)
            break;
    }
    sx_kit_linereader_close(&lr);
    if (res == SX_OK) {
        char *bak = sx_kit_path_with(path, ".bak");
        if (!bak)
            res = SX_E_NOMEM;
        else if (rename(path, bak) != 0)
            res = SX_E_IO;
        free(bak);
    }
    if (stats)
        *stats = s;
    return res;
}
