/* The NTF router's tokens (see tokens.h). Tokens live in an array; an
 * open-addressing index over their ids (random, chosen by the router, so
 * their first bytes serve as the hash) finds them. A second index (hindex.h)
 * by device token (provider and token) finds the registrations of one
 * device: a TNEW's earlier registration with the same verify key, and the
 * other registrations a TVFY removes, without a scan of every token. */
#include "ntf_router/tokens.h"

#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/util.h"
#include "ntf_router/hindex.h"

/* A token's record with its node in the device index (the record first:
 * items[] point at it and so at the whole). */
typedef struct tok {
    sx_ntf_tkn_rec rec;
    sx_hnode by_dev;
} tok;

struct sx_ntf_tokens {
    pthread_mutex_t mu;
    sx_ntf_tkn_rec **items; /* NULL holes after deletes are compacted */
    size_t count, cap;
    size_t *index; /* slot -> position in items + 1; 0 empty, SIZE_MAX deleted */
    size_t index_cap;
    sx_hindex by_dev; /* tok.by_dev by (provider, device token) */
    sx_ntf_log_fn log;
    void *log_arg;
};

static tok *tok_of(sx_ntf_tkn_rec *r)
{
    return (tok *)(void *)r;
}

static uint64_t dev_hash(const sx_ntf_tokens *t, sx_ntf_provider pp, sx_slice token)
{
    uint8_t p = (uint8_t)pp;
    return sx_hindex_hash(&t->by_dev, sx_slice_of(&p, 1), token);
}

static bool same_device(const sx_ntf_tkn_rec *r, sx_ntf_provider pp, sx_slice token)
{
    return r->token.provider == pp && sx_slice_eq(sx_ntf_sl_slice(&r->token.token), token);
}

/* The next registration of device (pp, token) after r (NULL: the first);
 * NULL at the end. */
static sx_ntf_tkn_rec *dev_next(const sx_ntf_tokens *t, sx_ntf_provider pp, sx_slice token, sx_ntf_tkn_rec *r)
{
    sx_hnode *n = r ? sx_hindex_next(&tok_of(r)->by_dev) : sx_hindex_first(&t->by_dev, dev_hash(t, pp, token));
    for (; n; n = sx_hindex_next(n)) {
        sx_ntf_tkn_rec *c = &SX_HNODE_OWNER(n, tok, by_dev)->rec;
        if (same_device(c, pp, token))
            return c;
    }
    return NULL;
}

static sx_status dev_add(sx_ntf_tokens *t, sx_ntf_tkn_rec *r)
{
    return sx_hindex_add(&t->by_dev, &tok_of(r)->by_dev,
                         dev_hash(t, r->token.provider, sx_ntf_sl_slice(&r->token.token)));
}

#define DELETED SIZE_MAX

static uint64_t id_hash(sx_slice id)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < id.len; i++)
        h = (h ^ id.ptr[i]) * 1099511628211ull;
    return h;
}

static bool id_eq(const sx_ntf_tkn_rec *r, sx_slice id)
{
    return sx_slice_eq(sx_ntf_sl_slice(&r->id), id);
}

/* The index slot holding id, or the first free slot for it (*found false). */
static size_t slot_of(const sx_ntf_tokens *t, sx_slice id, bool *found)
{
    size_t mask = t->index_cap - 1, i = (size_t)id_hash(id) & mask, free_slot = SIZE_MAX;
    *found = false;
    for (size_t n = 0; n < t->index_cap; n++, i = (i + 1) & mask) {
        size_t v = t->index[i];
        if (v == 0)
            return free_slot != SIZE_MAX ? free_slot : i;
        if (v == DELETED) {
            if (free_slot == SIZE_MAX)
                free_slot = i;
            continue;
        }
        if (id_eq(t->items[v - 1], id)) {
            *found = true;
            return i;
        }
    }
    return free_slot;
}

static sx_status rebuild_index(sx_ntf_tokens *t, size_t cap)
{
    size_t *idx = calloc(cap, sizeof *idx);
    SX_ENSURE(idx != NULL, SX_E_NOMEM);
    free(t->index);
    t->index = idx;
    t->index_cap = cap;
    for (size_t p = 0; p < t->count; p++) {
        bool found;
        size_t s = slot_of(t, sx_ntf_sl_slice(&t->items[p]->id), &found);
        t->index[s] = p + 1;
    }
    return SX_OK;
}

static sx_ntf_tkn_rec *find(const sx_ntf_tokens *t, sx_slice id)
{
    if (!t->index_cap || id.len == 0)
        return NULL;
    bool found;
    size_t s = slot_of(t, id, &found);
    return found ? t->items[t->index[s] - 1] : NULL;
}

static sx_status add(sx_ntf_tokens *t, const sx_ntf_tkn_rec *r)
{
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        sx_ntf_tkn_rec **items = realloc(t->items, cap * sizeof *items);
        SX_ENSURE(items != NULL, SX_E_NOMEM);
        t->items = items;
        t->cap = cap;
    }
    if ((t->count + 1) * 2 > t->index_cap)
        SX_TRY(rebuild_index(t, t->index_cap ? t->index_cap * 2 : 128));
    tok *k = calloc(1, sizeof *k);
    SX_ENSURE(k != NULL, SX_E_NOMEM);
    k->rec = *r;
    bool found;
    size_t s = slot_of(t, sx_ntf_sl_slice(&r->id), &found);
    if (found || dev_add(t, &k->rec) != SX_OK) {
        sx_wipe(k, sizeof *k);
        free(k);
        return found ? SX_E_USAGE : SX_E_NOMEM;
    }
    t->items[t->count++] = &k->rec;
    t->index[s] = t->count;
    return SX_OK;
}

static void remove_token(sx_ntf_tokens *t, sx_slice id)
{
    if (!t->index_cap)
        return;
    bool found;
    size_t s = slot_of(t, id, &found);
    if (!found)
        return;
    size_t p = t->index[s] - 1;
    sx_ntf_tkn_rec *r = t->items[p];
    t->index[s] = DELETED;
    /* the last item takes the freed position */
    if (p != t->count - 1) {
        t->items[p] = t->items[t->count - 1];
        size_t s2 = slot_of(t, sx_ntf_sl_slice(&t->items[p]->id), &found);
        t->index[s2] = p + 1;
    }
    t->count--;
    sx_hindex_remove(&t->by_dev, &tok_of(r)->by_dev);
    sx_wipe(tok_of(r), sizeof(tok));
    free(tok_of(r));
}

/* Gives token r a new device token (TRPL, TUPDATE), moving it in the device
 * index. */
static void set_device(sx_ntf_tokens *t, sx_ntf_tkn_rec *r, const sx_ntf_sl_token *d)
{
    sx_hindex_remove(&t->by_dev, &tok_of(r)->by_dev);
    r->token = *d;
    /* the index has buckets (it held r): adding cannot fail */
    (void)dev_add(t, r);
}

/* ---- logging ---- */

static void log_rec(sx_ntf_tokens *t, const sx_ntf_sl_rec *r)
{
    if (!t->log)
        return;
    uint8_t buf[2048];
    sx_writer w;
    sx_writer_init_fixed(&w, buf, sizeof buf);
    if (sx_ntf_sl_write(&w, r))
        t->log(t->log_arg, sx_writer_slice(&w));
}

static void log_short(sx_ntf_tokens *t, sx_ntf_sl_kind kind, const sx_ntf_tkn_rec *tkn)
{
    static __thread sx_ntf_sl_rec r; /* large: not on the stack */
    memset(&r, 0, sizeof r);
    r.kind = kind;
    r.id = tkn->id;
    switch (kind) {
    case SX_NTF_SL_TSTATUS: r.tkn_status = tkn->status; break;
    case SX_NTF_SL_TUPDATE:
        r.update.token = tkn->token;
        r.update.reg_code = tkn->reg_code;
        break;
    case SX_NTF_SL_TCRON: r.cron = tkn->cron; break;
    default: break;
    }
    log_rec(t, &r);
}

static void log_create(sx_ntf_tokens *t, const sx_ntf_tkn_rec *tkn)
{
    static __thread sx_ntf_sl_rec r;
    memset(&r, 0, sizeof r);
    r.kind = SX_NTF_SL_TCREATE;
    r.tkn = *tkn;
    log_rec(t, &r);
}

/* ---- public ---- */

sx_status sx_ntf_tokens_new(sx_ntf_tokens **out)
{
    SX_ENSURE(out != NULL, SX_E_USAGE);
    sx_ntf_tokens *t = calloc(1, sizeof *t);
    SX_ENSURE(t != NULL, SX_E_NOMEM);
    pthread_mutex_init(&t->mu, NULL);
    sx_hindex_init(&t->by_dev);
    *out = t;
    return SX_OK;
}

void sx_ntf_tokens_free(sx_ntf_tokens *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->count; i++) {
        sx_wipe(tok_of(t->items[i]), sizeof(tok));
        free(tok_of(t->items[i]));
    }
    free(t->items);
    free(t->index);
    sx_hindex_free(&t->by_dev);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

void sx_ntf_tokens_set_log(sx_ntf_tokens *t, sx_ntf_log_fn fn, void *arg)
{
    pthread_mutex_lock(&t->mu);
    t->log = fn;
    t->log_arg = arg;
    pthread_mutex_unlock(&t->mu);
}

size_t sx_ntf_tokens_count(sx_ntf_tokens *t)
{
    pthread_mutex_lock(&t->mu);
    size_t n = t->count;
    pthread_mutex_unlock(&t->mu);
    return n;
}

static void answer_err(sx_ntf_tkn_result *out, sx_smp_err_type e)
{
    out->resp.tag = SX_NTF_R_ERR;
    out->resp.err = sx_smp_error_of(e);
}

static void answer_id(sx_ntf_tkn_result *out, const sx_ntf_tkn_rec *r)
{
    memcpy(out->id, r->id.b, r->id.len);
    memcpy(out->dh_pub, r->dh_pub, r->dh_pub_len);
    out->resp.tag = SX_NTF_R_IDTKN;
    out->resp.idtkn.id = sx_slice_of(out->id, r->id.len);
    out->resp.idtkn.dh_key.der = sx_slice_of(out->dh_pub, r->dh_pub_len);
    out->resp.idtkn.dh_key.alg = SX_KEY_X25519;
}

static void ask_push(sx_ntf_tkn_result *out, const sx_ntf_tkn_rec *r)
{
    out->push_verification = true;
    out->token = *r;
}

/* X25519(client key, our private key) into secret. */
static sx_status dh_secret(sx_slice priv_der, const sx_key *client, uint8_t secret[SX_NTF_SL_DH_SECRET_LEN])
{
    sx_key *priv = NULL;
    SX_TRY(sx_key_decode_private(priv_der, SX_KEY_BIT(SX_KEY_X25519), &priv));
    size_t len = 0;
    sx_status st = sx_key_dh(priv, client, secret, SX_NTF_SL_DH_SECRET_LEN, &len);
    sx_key_free(priv);
    return st == SX_OK && len != SX_NTF_SL_DH_SECRET_LEN ? SX_E_INTERNAL : st;
}

static bool token_hex_ok(const sx_ntf_device_token *d)
{
    if (d->provider == SX_NTF_PP_APNS_NULL)
        return true;
    if (d->token.len % 2)
        return false;
    for (size_t i = 0; i < d->token.len; i++) {
        uint8_t c = d->token.ptr[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

static sx_status new_token(const sx_ntf_cmd *cmd, const sx_key *client, int64_t today, sx_ntf_tkn_rec *r)
{
    memset(r, 0, sizeof *r);
    r->id.len = SX_NTF_ID_LEN;
    sx_random_bytes(r->id.b, r->id.len);
    r->token.provider = cmd->tnew.token.provider;
    SX_TRY(sx_ntf_sl_bytes_set(&r->token.token, cmd->tnew.token.token));
    r->status.status = SX_NTF_TKN_REGISTERED;
    SX_ENSURE(cmd->tnew.verify_key.der.len <= sizeof r->verify_key, SX_E_PROTOCOL);
    memcpy(r->verify_key, cmd->tnew.verify_key.der.ptr, cmd->tnew.verify_key.der.len);
    r->verify_key_len = cmd->tnew.verify_key.der.len;
    sx_key *kp = NULL;
    SX_TRY(sx_key_generate(SX_KEY_X25519, &kp));
    sx_writer w;
    sx_writer_init_fixed(&w, r->dh_pub, sizeof r->dh_pub);
    bool ok = sx_key_write_public(&w, kp);
    r->dh_pub_len = w.len;
    sx_writer_init_fixed(&w, r->dh_priv, sizeof r->dh_priv);
    ok = ok && sx_key_write_private(&w, kp);
    r->dh_priv_len = w.len;
    sx_key_free(kp);
    SX_ENSURE(ok, SX_E_INTERNAL);
    SX_TRY(dh_secret(sx_slice_of(r->dh_priv, r->dh_priv_len), client, r->dh_secret));
    r->reg_code.len = SX_NTF_REG_CODE_LEN;
    sx_random_bytes(r->reg_code.b, r->reg_code.len);
    r->has_updated_at = true;
    r->updated_at = today;
    return SX_OK;
}

sx_status sx_ntf_tokens_tnew(sx_ntf_tokens *t, const sx_ntf_cmd *cmd, int64_t today, sx_ntf_tkn_result *out)
{
    SX_ENSURE(t != NULL && cmd != NULL && out != NULL && cmd->tag == SX_NTF_C_TNEW, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    if (!token_hex_ok(&cmd->tnew.token)) {
        /* the store log could not keep it (nor could the reference's) */
        out->resp.tag = SX_NTF_R_ERR;
        out->resp.err = sx_smp_error_cmd(SX_SMP_CMD_SYNTAX);
        return SX_OK;
    }
    sx_key *client = NULL;
    if (sx_key_decode_public(cmd->tnew.dh_key.der, SX_KEY_BIT(SX_KEY_X25519), &client) != SX_OK) {
        answer_err(out, SX_SMP_ERR_AUTH);
        return SX_OK;
    }
    sx_status st = SX_OK;
    pthread_mutex_lock(&t->mu);
    sx_ntf_tkn_rec *r = NULL;
    sx_ntf_provider pp = cmd->tnew.token.provider;
    for (sx_ntf_tkn_rec *c = dev_next(t, pp, cmd->tnew.token.token, NULL); c && !r;
         c = dev_next(t, pp, cmd->tnew.token.token, c))
        if (sx_slice_eq(sx_slice_of(c->verify_key, c->verify_key_len), cmd->tnew.verify_key.der))
            r = c;
    if (r) {
        uint8_t secret[SX_NTF_SL_DH_SECRET_LEN];
        if (dh_secret(sx_slice_of(r->dh_priv, r->dh_priv_len), client, secret) != SX_OK ||
            !sx_ct_equal(sx_slice_of(secret, sizeof secret), sx_slice_of(r->dh_secret, sizeof r->dh_secret))) {
            answer_err(out, SX_SMP_ERR_AUTH);
        } else {
            if (!sx_ntf_tkn_allows_verify(r->status.status)) {
                r->status.status = SX_NTF_TKN_REGISTERED;
                r->status.reason = SX_NTF_INVALID_NONE;
                log_short(t, SX_NTF_SL_TSTATUS, r);
            }
            answer_id(out, r);
            ask_push(out, r);
        }
        sx_wipe(secret, sizeof secret);
    } else {
        static __thread sx_ntf_tkn_rec fresh;
        st = new_token(cmd, client, today, &fresh);
        if (st == SX_OK)
            st = add(t, &fresh);
        if (st == SX_OK) {
            log_create(t, &fresh);
            answer_id(out, &fresh);
            ask_push(out, &fresh);
            out->created = true;
        } else if (st == SX_E_AUTH) {
            answer_err(out, SX_SMP_ERR_AUTH); /* a small-order client key */
            st = SX_OK;
        }
        sx_wipe(&fresh, sizeof fresh);
    }
    pthread_mutex_unlock(&t->mu);
    sx_key_free(client);
    return st;
}

sx_status sx_ntf_tokens_cmd(sx_ntf_tokens *t, sx_slice id, const sx_ntf_cmd *cmd, sx_ntf_tkn_result *out)
{
    SX_ENSURE(t != NULL && cmd != NULL && out != NULL, SX_E_USAGE);
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&t->mu);
    sx_ntf_tkn_rec *r = find(t, id);
    sx_status st = SX_OK;
    if (!r) {
        answer_err(out, SX_SMP_ERR_AUTH);
        pthread_mutex_unlock(&t->mu);
        return SX_OK;
    }
    out->resp.tag = SX_NTF_R_OK;
    switch (cmd->tag) {
    case SX_NTF_C_TVFY:
        if (sx_ntf_tkn_allows_verify(r->status.status) &&
            sx_ct_equal(cmd->reg_code, sx_ntf_sl_slice(&r->reg_code))) {
            if (r->status.status != SX_NTF_TKN_ACTIVE) {
                r->status.status = SX_NTF_TKN_ACTIVE;
                log_short(t, SX_NTF_SL_TSTATUS, r);
            }
            /* other registrations of the same device that are not active go */
            sx_slice dev = sx_ntf_sl_slice(&r->token.token);
            sx_ntf_provider pp = r->token.provider;
            for (sx_ntf_tkn_rec *c = dev_next(t, pp, dev, NULL); c;) {
                sx_ntf_tkn_rec *next = dev_next(t, pp, dev, c);
                if (c != r && c->status.status != SX_NTF_TKN_ACTIVE) {
                    log_short(t, SX_NTF_SL_TDELETE, c);
                    remove_token(t, sx_ntf_sl_slice(&c->id)); /* r stays where it is */
                }
                c = next;
            }
        } else {
            answer_err(out, SX_SMP_ERR_AUTH);
        }
        break;
    case SX_NTF_C_TCHK:
        out->resp.tag = SX_NTF_R_TKN;
        out->resp.tkn = r->status;
        break;
    case SX_NTF_C_TRPL: {
        sx_ntf_sl_token d;
        d.provider = cmd->token.provider;
        if (!token_hex_ok(&cmd->token) || sx_ntf_sl_bytes_set(&d.token, cmd->token.token) != SX_OK) {
            out->resp.err = sx_smp_error_cmd(SX_SMP_CMD_SYNTAX);
            out->resp.tag = SX_NTF_R_ERR;
            break;
        }
        set_device(t, r, &d);
        r->status.status = SX_NTF_TKN_REGISTERED;
        r->status.reason = SX_NTF_INVALID_NONE;
        r->reg_code.len = SX_NTF_REG_CODE_LEN;
        sx_random_bytes(r->reg_code.b, r->reg_code.len);
        log_short(t, SX_NTF_SL_TUPDATE, r);
        ask_push(out, r);
        break;
    }
    case SX_NTF_C_TDEL:
        log_short(t, SX_NTF_SL_TDELETE, r);
        remove_token(t, id);
        break;
    case SX_NTF_C_TCRN:
        if (cmd->cron_minutes > 0 && cmd->cron_minutes < SX_NTF_CRON_MIN) {
            answer_err(out, SX_SMP_ERR_QUOTA);
            break;
        }
        r->cron = cmd->cron_minutes;
        log_short(t, SX_NTF_SL_TCRON, r);
        break;
    default: st = SX_E_USAGE; break;
    }
    pthread_mutex_unlock(&t->mu);
    return st;
}

bool sx_ntf_tokens_verify_key(sx_ntf_tokens *t, sx_slice id, uint8_t *buf, size_t cap, size_t *len)
{
    pthread_mutex_lock(&t->mu);
    const sx_ntf_tkn_rec *r = find(t, id);
    bool ok = r && r->verify_key_len <= cap;
    if (ok) {
        memcpy(buf, r->verify_key, r->verify_key_len);
        *len = r->verify_key_len;
    }
    pthread_mutex_unlock(&t->mu);
    return ok;
}

bool sx_ntf_tokens_get(sx_ntf_tokens *t, sx_slice id, sx_ntf_tkn_rec *out)
{
    pthread_mutex_lock(&t->mu);
    const sx_ntf_tkn_rec *r = find(t, id);
    if (r)
        *out = *r;
    pthread_mutex_unlock(&t->mu);
    return r != NULL;
}

bool sx_ntf_tokens_set_status(sx_ntf_tokens *t, sx_slice id, sx_ntf_tkn_state s)
{
    pthread_mutex_lock(&t->mu);
    sx_ntf_tkn_rec *r = find(t, id);
    if (r) {
        r->status = s;
        log_short(t, SX_NTF_SL_TSTATUS, r);
    }
    pthread_mutex_unlock(&t->mu);
    return r != NULL;
}

bool sx_ntf_tokens_confirm(sx_ntf_tokens *t, sx_slice id)
{
    pthread_mutex_lock(&t->mu);
    sx_ntf_tkn_rec *r = find(t, id);
    if (r && r->status.status != SX_NTF_TKN_CONFIRMED && r->status.status != SX_NTF_TKN_ACTIVE) {
        r->status.status = SX_NTF_TKN_CONFIRMED;
        r->status.reason = SX_NTF_INVALID_NONE;
        log_short(t, SX_NTF_SL_TSTATUS, r);
    }
    pthread_mutex_unlock(&t->mu);
    return r != NULL;
}

size_t sx_ntf_tokens_due_cron(sx_ntf_tokens *t, int64_t now, void (*fn)(void *arg, const sx_ntf_tkn_rec *r),
                              void *arg)
{
    size_t n = 0;
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->count; i++) {
        const sx_ntf_tkn_rec *r = t->items[i];
        if (r->status.status == SX_NTF_TKN_ACTIVE && r->cron != 0 &&
            r->cron_sent_at + (int64_t)r->cron * 60 < now) {
            fn(arg, r);
            n++;
        }
    }
    pthread_mutex_unlock(&t->mu);
    return n;
}

void sx_ntf_tokens_cron_sent(sx_ntf_tokens *t, sx_slice id, int64_t now)
{
    pthread_mutex_lock(&t->mu);
    sx_ntf_tkn_rec *r = find(t, id);
    if (r)
        r->cron_sent_at = now;
    pthread_mutex_unlock(&t->mu);
}

sx_status sx_ntf_tokens_apply(sx_ntf_tokens *t, const sx_ntf_sl_rec *rec)
{
    SX_ENSURE(t != NULL && rec != NULL, SX_E_USAGE);
    sx_status st = SX_OK;
    pthread_mutex_lock(&t->mu);
    sx_slice id = sx_ntf_sl_slice(&rec->id);
    sx_ntf_tkn_rec *r = find(t, id);
    switch (rec->kind) {
    case SX_NTF_SL_TCREATE:
        remove_token(t, sx_ntf_sl_slice(&rec->tkn.id));
        st = add(t, &rec->tkn);
        break;
    case SX_NTF_SL_TSTATUS:
        if (r)
            r->status = rec->tkn_status;
        break;
    case SX_NTF_SL_TUPDATE:
        if (r) {
            set_device(t, r, &rec->update.token);
            r->reg_code = rec->update.reg_code;
            r->status.status = SX_NTF_TKN_REGISTERED;
            r->status.reason = SX_NTF_INVALID_NONE;
        }
        break;
    case SX_NTF_SL_TCRON:
        if (r)
            r->cron = rec->cron;
        break;
    case SX_NTF_SL_TDELETE: remove_token(t, id); break;
    case SX_NTF_SL_TTIME:
        if (r) {
            r->has_updated_at = true;
            r->updated_at = rec->time;
        }
        break;
    default: break;
    }
    pthread_mutex_unlock(&t->mu);
    return st;
}

sx_status sx_ntf_tokens_write_all(sx_ntf_tokens *t, sx_ntf_log_fn fn, void *arg)
{
    SX_ENSURE(t != NULL && fn != NULL, SX_E_USAGE);
    pthread_mutex_lock(&t->mu);
    sx_ntf_log_fn saved = t->log;
    void *saved_arg = t->log_arg;
    t->log = fn;
    t->log_arg = arg;
    for (size_t i = 0; i < t->count; i++)
        log_create(t, t->items[i]);
    t->log = saved;
    t->log_arg = saved_arg;
    pthread_mutex_unlock(&t->mu);
    return SX_OK;
}
