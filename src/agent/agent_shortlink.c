/* Short links in the agent's flows (docs/AGENT.md, "Short links"): a
 * one-time invitation or a contact address created with its link data on
 * the router (NEW with the data, our own sender id from NEW's corrId), the
 * owner's updates of the user data (LSET) and its removal (LDEL), and the
 * joiner's side: the data fetched (LGET for an address; LKEY for an
 * invitation, which secures the inviter's queue with our key at the same
 * time; the key is stored first), decrypted and verified, then the usual
 * join of the full link it holds. */
#include "agent/agent_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/shortlink.h"
#include "agent/shortlink_data.h"
#include "agent/version.h"
#include "core/error.h"
#include "crypto/util.h"
#include "smp_client/queue_file.h"

#define SHORT_TEXT_MAX 1024

bool sx_agent_is_short_link(const char *link)
{
    if (!link)
        return false;
    sx_short_link sl;
    return sx_short_link_parse(link, strlen(link), &sl) == SX_OK;
}

static sx_status link_keys(uint8_t mode, const uint8_t link_key[SX_SL_LINK_KEY_LEN],
                           uint8_t link_id[SX_SL_LINK_ID_LEN], uint8_t sb_key[SX_CB_KEY_LEN])
{
    if (mode == 'C')
        return sx_sl_contact_kdf(link_key, link_id, sb_key);
    return sx_sl_inv_kdf(link_key, sb_key);
}

/* The user data blob: encoded for mode, signed with root, encrypted. */
static sx_status user_blob(const sx_agent *a, uint8_t mode, const sx_key *root, const uint8_t sb_key[SX_CB_KEY_LEN],
                           sx_slice data, sx_writer *blob)
{
    sx_sl_user *u = calloc(1, sizeof *u);
    if (!u)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    u->mode = mode == 'C' ? SX_CONN_CONTACT : SX_CONN_INVITATION;
    u->agent_vr = a->agent_vr;
    u->direct = true;
    u->data = data;
    sx_writer ud, sud;
    sx_writer_init_dynamic(&ud, SX_SL_USER_PADDED);
    sx_writer_init_dynamic(&sud, SX_SL_USER_PADDED);
    sx_status st = SX_OK;
    if (!sx_sl_user_write(&ud, u) || !sx_sl_write_signed(&sud, root, sx_writer_slice(&ud)) ||
        !sx_sl_encrypt(blob, sb_key, SX_SL_USER_PADDED, NULL, sx_writer_slice(&sud)))
        st = sx_error_set(SX_E_LIMIT, NULL, "agent: the link's user data is too long");
    sx_writer_cleanup(&ud);
    sx_writer_cleanup(&sud);
    free(u);
    return st;
}

static sx_status take_text(sx_writer *w, const char *what, char **out)
{
    if (!sx_write_u8(w, 0)) {
        sx_status st = sx_writer_status(w);
        sx_writer_cleanup(w);
        return sx_error_set(st, NULL, "agent: cannot write the %s", what);
    }
    size_t n = 0;
    *out = (char *)sx_writer_take(w, &n);
    return SX_OK;
}

/* ---- the owner ---- */

/* Everything a short link's creation needs before NEW (the reference's
 * PreparedLinkParams): the link is known before its queue exists, as the
 * queue's sender id comes from NEW's corrId. */
struct sx_agent_prepared_link {
    uint8_t mode;        /* 'I' or 'C' */
    char *server;        /* as given, with its password: for NEW */
    sx_agent_connreq cr; /* no heap data */
    uint8_t corr[SX_CB_NONCE_LEN];
    uint8_t e2e_priv[32]; /* the queue's DH key */
    sx_e2e_private x3dh;  /* invitations: the ratchet's keys */
    sx_key *root;
    sx_writer sfd; /* the signed fixed data */
    uint8_t link_key[SX_SL_LINK_KEY_LEN];
    char *link, *short_link;
};

void sx_agent_prepared_link_free(sx_agent_prepared_link *p)
{
    if (!p)
        return;
    free(p->server);
    sx_e2e_private_wipe(&p->x3dh);
    sx_key_free(p->root);
    if (p->sfd.buf)
        sx_wipe(p->sfd.buf, p->sfd.len);
    sx_writer_cleanup(&p->sfd);
    free(p->link);
    free(p->short_link);
    sx_wipe(p, sizeof *p);
    free(p);
}

/* The short link's text of p, shortened for a preset router. */
static sx_status short_text(const sx_agent *a, const sx_agent_prepared_link *p, uint8_t mode,
                            const uint8_t link_id[SX_SL_LINK_ID_LEN], char **out)
{
    sx_short_link sl;
    memset(&sl, 0, sizeof sl);
    sl.type = mode == 'C' ? SX_SL_CONTACT : SX_SL_INVITATION;
    sl.web = true; /* the reference's agent makes https://<host>/... links */
    sl.server = p->cr.queues[0].q.server;
    if (mode != 'C') {
        memcpy(sl.link_id, link_id, SX_SL_LINK_ID_LEN);
        sl.link_id_len = SX_SL_LINK_ID_LEN;
    }
    memcpy(sl.key, p->link_key, sizeof p->link_key);
    sl.key_len = sizeof p->link_key;
    sx_short_link_shorten(&sl, a->presets, a->n_presets);
    sx_writer lt;
    sx_writer_init_dynamic(&lt, SHORT_TEXT_MAX);
    if (!sx_short_link_write_text(&lt, &sl)) {
        sx_status st = sx_writer_status(&lt);
        sx_writer_cleanup(&lt);
        return sx_error_set(st, NULL, "agent: cannot write the short link");
    }
    return take_text(&lt, "short link", out);
}

/* No network, no store: the keys, the queue's address, the signed fixed
 * data and both links' texts (an invitation's short link only after NEW:
 * the router gives its link id). */
static sx_status prepare(sx_agent *a, const char *server, uint8_t mode, sx_slice entity,
                         sx_agent_prepared_link *p)
{
    SX_ENSURE(mode == 'C' || sx_agent_inv_queue_mode(a) == 'M',
              sx_error_set(SX_E_USAGE, NULL,
                           "agent: short links need queues their sender secures (not legacy)"));
    p->mode = mode;
    sx_writer_init_dynamic(&p->sfd, SX_SL_FIXED_PADDED);
    char pub[SX_QUEUE_ADDR_MAX];
    SX_TRY(sx_queue_address_public(server, pub, sizeof pub));
    p->server = strdup(server);
    if (!p->server)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    sx_agent_connreq *cr = &p->cr;
    cr->queue_count = 1;
    cr->agent_vr = a->agent_vr;
    cr->queues[0].vr = sx_smpc_vrange();
    sx_agent_queue *qa = &cr->queues[0].q;
    SX_TRY(sx_agent_server_parse(pub, strlen(pub), &qa->server));
    bool pq = !a->opts.pq_off && a->e2e_vr.max >= SX_E2E_V_PQ;
    if (mode == 'C') {
        cr->mode = SX_CONN_CONTACT;
        qa->mode = SX_QUEUE_MODE_CONTACT;
    } else {
        cr->mode = SX_CONN_INVITATION;
        qa->mode = SX_QUEUE_MODE_MESSAGING;
        SX_TRY(sx_e2e_generate(a->e2e_vr.max, pq ? SX_USE_KEM_PROPOSE : SX_USE_KEM_NO, NULL, NULL,
                               &p->x3dh, &cr->e2e));
        cr->e2e.range = a->e2e_vr;
    }
    /* The queue's address is in the signed fixed data, so it is made
     * before NEW: our per-queue key, and the sender id from the corrId. */
    sx_random_bytes(p->corr, sizeof p->corr);
    SX_TRY(sx_smp_link_sender_id(p->corr, qa->sender_id));
    qa->sender_id_len = SX_SMP_QUEUE_ID_LEN;
    SX_TRY(sx_agent_e2e_new(p->e2e_priv, qa->dh, NULL, NULL));

    SX_TRY(sx_key_generate(SX_KEY_ED25519, &p->root));
    sx_sl_fixed f;
    memset(&f, 0, sizeof f);
    f.agent_vr = a->agent_vr;
    f.conn_req = *cr; /* no heap data: not freed through f */
    f.has_entity_id = entity.ptr != NULL;
    f.entity_id = entity;
    sx_writer w;
    sx_writer_init_fixed(&w, f.root_key, sizeof f.root_key);
    if (!sx_key_write_public(&w, p->root) || w.len != sizeof f.root_key)
        return sx_error_set(SX_E_INTERNAL, NULL, "agent: cannot encode the link's root key");
    SX_TRY(sx_sl_sign_fixed(p->root, &f, &p->sfd, p->link_key));

    uint8_t link_id[SX_SL_LINK_ID_LEN], sb_key[SX_CB_KEY_LEN];
    sx_status st = link_keys(mode, p->link_key, link_id, sb_key);
    sx_wipe(sb_key, sizeof sb_key);
    SX_TRY(st);
    /* The full link given beside the short one leaves the KEM key out (it
     * is in the short link's data), as the reference's agent does. */
    sx_agent_connreq *shown = malloc(sizeof *shown);
    if (!shown)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    *shown = *cr; /* no heap data */
    shown->e2e.kem.state = SX_KEM_NONE;
    st = sx_agent_connreq_text(shown, "link", &p->link);
    free(shown);
    SX_TRY(st);
    return mode == 'C' ? short_text(a, p, mode, link_id, &p->short_link) : SX_OK;
}

/* The connection and its queue for a prepared link, with the user data:
 * the one network step (NEW with both blobs). Under a->mu. */
static sx_status create_for(sx_agent *a, const sx_agent_prepared_link *p, sx_slice data,
                            sx_agent_id *id, uint8_t link_id[SX_SL_LINK_ID_LEN])
{
    uint8_t mode = p->mode;
    bool pq = !a->opts.pq_off && a->e2e_vr.max >= SX_E2E_V_PQ;
    if (mode == 'C')
        SX_TRY(sx_agent_conn_new(a, SX_AGENT_MODE_CONTACT, a->agent_vr.max, false, id));
    else
        SX_TRY(sx_agent_conn_new(a, SX_AGENT_MODE_INVITATION, a->agent_vr.max, pq, id));
    sx_status st = SX_OK;
    if (mode != 'C')
        st = sx_agent_store_x3dh_save(a->store, id, a->e2e_vr.max, &p->x3dh);

    sx_agent_short_link_row row;
    memset(&row, 0, sizeof row);
    row.mode = mode;
    memcpy(row.link_key, p->link_key, sizeof row.link_key);
    uint8_t sb_key[SX_CB_KEY_LEN];
    sx_writer fixed, user, rk;
    sx_writer_init_dynamic(&fixed, SX_SL_FIXED_BLOB_LEN);
    sx_writer_init_dynamic(&user, SX_SL_USER_BLOB_LEN);
    sx_writer_init_dynamic(&rk, 128);
    if (st == SX_OK)
        st = link_keys(mode, row.link_key, row.link_id, sb_key);
    if (st == SX_OK &&
        !sx_sl_encrypt(&fixed, sb_key, SX_SL_FIXED_PADDED, NULL, sx_writer_slice(&p->sfd)))
        st = sx_error_set(SX_E_LIMIT, NULL, "agent: the link's fixed data is too long");
    if (st == SX_OK)
        st = user_blob(a, mode, p->root, sb_key, data, &user);
    if (st == SX_OK && !sx_key_write_private(&rk, p->root))
        st = sx_error_set(SX_E_INTERNAL, NULL, "agent: cannot encode the link's root key");

    int64_t qid = 0;
    sx_agent_queue got;
    memset(&got, 0, sizeof got);
    if (st == SX_OK) {
        sx_smp_new_opts nopts;
        memset(&nopts, 0, sizeof nopts);
        nopts.has_link = true;
        nopts.corr_id = p->corr;
        nopts.link_id = mode == 'C' ? row.link_id : NULL;
        nopts.fixed = fixed.buf;
        nopts.fixed_len = fixed.len;
        nopts.user = user.buf;
        nopts.user_len = user.len;
        st = sx_agent_new_rcv_queue_ex(a, id, p->server, mode == 'C' ? 'C' : 'M', 0, p->e2e_priv,
                                       &nopts, mode == 'C' ? NULL : row.link_id, &qid, &got);
    }
    if (st == SX_OK &&
        memcmp(got.sender_id, p->cr.queues[0].q.sender_id, SX_SMP_QUEUE_ID_LEN) != 0)
        st = sx_error_set(SX_E_PROTOCOL, NULL, "agent: the router changed the link's sender id");
    if (st == SX_OK) {
        row.root_priv.ptr = rk.buf;
        row.root_priv.len = rk.len;
        row.enc_fixed.ptr = fixed.buf;
        row.enc_fixed.len = fixed.len;
        st = sx_agent_store_short_link_set(a->store, id, &row);
    }
    if (st == SX_OK)
        st = sx_agent_store_conn_set_state(a->store, id,
                                           mode == 'C' ? SX_AGENT_CONN_CONTACT : SX_AGENT_CONN_RCV);
    if (st == SX_OK)
        memcpy(link_id, row.link_id, sizeof row.link_id);
    sx_wipe(sb_key, sizeof sb_key);
    sx_wipe(rk.buf, rk.len);
    sx_writer_cleanup(&fixed);
    sx_writer_cleanup(&user);
    sx_writer_cleanup(&rk);
    if (st != SX_OK && qid == 0) {
        /* As the reference: a connection whose queue was not made goes. */
        char code[32], why[256];
        snprintf(code, sizeof code, "%s", sx_error_code() ? sx_error_code() : "");
        snprintf(why, sizeof why, "%s", sx_error_message());
        if (sx_agent_store_conn_delete(a->store, id) == SX_OK)
            st = sx_error_set(st, code[0] ? code : NULL, "%s", why);
    }
    return st;
}

static sx_status create_api(sx_agent *a, const char *server, uint8_t mode, const void *data,
                            size_t data_len, char conn_id[SX_AGENT_CONN_ID_TEXT], char **link,
                            char **short_link)
{
    SX_ENSURE(a && server && conn_id && short_link && (data || data_len == 0), SX_E_USAGE);
    SX_ENSURE(data_len <= SX_AGENT_LINK_DATA_MAX,
              sx_error_set(SX_E_LIMIT, NULL, "agent: the link's user data is too long"));
    *short_link = NULL;
    if (link)
        *link = NULL;
    sx_agent_prepared_link *p = calloc(1, sizeof *p);
    if (!p)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    sx_agent_id id;
    uint8_t link_id[SX_SL_LINK_ID_LEN];
    sx_status st = prepare(a, server, mode, sx_slice_of(NULL, 0), p);
    if (st == SX_OK) {
        pthread_mutex_lock(&a->mu);
        st = create_for(a, p, sx_slice_of(data, data_len), &id, link_id);
        pthread_mutex_unlock(&a->mu);
    }
    if (st == SX_OK && mode != 'C')
        st = short_text(a, p, mode, link_id, &p->short_link);
    if (st == SX_OK) {
        sx_agent_id_text(&id, conn_id);
        *short_link = p->short_link;
        p->short_link = NULL;
        if (link) {
            *link = p->link;
            p->link = NULL;
        }
    }
    sx_agent_prepared_link_free(p);
    return st;
}

sx_status sx_agent_create_invitation_short(sx_agent *a, const char *server, const void *data,
                                           size_t data_len, char conn_id[SX_AGENT_CONN_ID_TEXT],
                                           char **link, char **short_link)
{
    return create_api(a, server, 'I', data, data_len, conn_id, link, short_link);
}

sx_status sx_agent_create_contact_short(sx_agent *a, const char *server, const void *data,
                                        size_t data_len, char conn_id[SX_AGENT_CONN_ID_TEXT],
                                        char **link, char **short_link)
{
    return create_api(a, server, 'C', data, data_len, conn_id, link, short_link);
}

sx_status sx_agent_prepare_contact_link(sx_agent *a, const char *server, const void *entity_id,
                                        size_t entity_id_len, char **link, char **short_link,
                                        sx_agent_prepared_link **out)
{
    SX_ENSURE(a && server && short_link && out && (entity_id || entity_id_len == 0), SX_E_USAGE);
    SX_ENSURE(entity_id_len <= SX_AGENT_LINK_ENTITY_MAX,
              sx_error_set(SX_E_LIMIT, NULL, "agent: the link's entity id is too long"));
    *out = NULL;
    *short_link = NULL;
    if (link)
        *link = NULL;
    sx_agent_prepared_link *p = calloc(1, sizeof *p);
    if (!p)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    /* A zero-length id is still an id (the reference's Just ""). */
    static const uint8_t empty[1];
    sx_slice entity = entity_id ? sx_slice_of(entity_id, entity_id_len) : sx_slice_of(NULL, 0);
    if (entity_id && entity_id_len == 0)
        entity = sx_slice_of(empty, 0);
    sx_status st = prepare(a, server, 'C', entity, p);
    char *sl = st == SX_OK ? strdup(p->short_link) : NULL;
    char *l = st == SX_OK && link ? strdup(p->link) : NULL;
    if (st == SX_OK && (!sl || (link && !l)))
        st = sx_error_set(SX_E_NOMEM, NULL, NULL);
    if (st != SX_OK) {
        free(sl);
        free(l);
        sx_agent_prepared_link_free(p);
        return st;
    }
    *short_link = sl;
    if (link)
        *link = l;
    *out = p;
    return SX_OK;
}

sx_status sx_agent_create_contact_for_link(sx_agent *a, const sx_agent_prepared_link *p,
                                           const void *data, size_t data_len,
                                           char conn_id[SX_AGENT_CONN_ID_TEXT])
{
    SX_ENSURE(a && p && conn_id && (data || data_len == 0), SX_E_USAGE);
    SX_ENSURE(data_len <= SX_AGENT_LINK_DATA_MAX,
              sx_error_set(SX_E_LIMIT, NULL, "agent: the link's user data is too long"));
    sx_agent_id id;
    uint8_t link_id[SX_SL_LINK_ID_LEN];
    pthread_mutex_lock(&a->mu);
    sx_status st = create_for(a, p, sx_slice_of(data, data_len), &id, link_id);
    pthread_mutex_unlock(&a->mu);
    SX_TRY(st);
    sx_agent_id_text(&id, conn_id);
    return SX_OK;
}

/* The link row and a recipient queue object of conn, for LSET / LDEL. */
static sx_status owner_of(sx_agent *a, const sx_agent_id *id, sx_agent_short_link_row *row,
                          sx_smp_queue **q)
{
    bool found = false;
    SX_TRY(sx_agent_store_short_link_get(a->store, id, row, &found));
    SX_ENSURE(found, sx_error_set(SX_E_USAGE, NULL, "agent: the connection has no short link"));
    sx_agent_rcv_queue *rqs = NULL;
    size_t n = 0;
    sx_status st = sx_agent_store_rcv_queue_list(a->store, id, &rqs, &n);
    if (st == SX_OK && n == 0)
        st = sx_error_set(SX_E_USAGE, NULL, "agent: the connection has no queue");
    if (st == SX_OK)
        st = sx_agent_rq_object(a, &rqs[0], q);
    if (rqs)
        sx_wipe(rqs, n * sizeof *rqs);
    free(rqs);
    if (st != SX_OK)
        sx_agent_short_link_row_free(row);
    return st;
}

/* LSET of new user data on the link of conn id. Under a->mu. */
static sx_status set_data_locked(sx_agent *a, const sx_agent_id *id, sx_slice data)
{
    sx_agent_short_link_row row;
    sx_smp_queue *q = NULL;
    SX_TRY(owner_of(a, id, &row, &q));
    sx_key *root = NULL;
    uint8_t link_id[SX_SL_LINK_ID_LEN], sb_key[SX_CB_KEY_LEN];
    sx_writer user;
    sx_writer_init_dynamic(&user, SX_SL_USER_BLOB_LEN);
    sx_status st = sx_key_decode_private(sx_slice_of(row.root_priv.ptr, row.root_priv.len),
                                         SX_KEY_BIT(SX_KEY_ED25519), &root);
    if (st == SX_OK)
        st = link_keys(row.mode, row.link_key, link_id, sb_key);
    if (st == SX_OK)
        st = user_blob(a, row.mode, root, sb_key, data, &user);
    /* The fixed data goes again as it was: the router refuses a change. */
    if (st == SX_OK)
        st = sx_smp_tpool_link_set(a->pool, q, row.link_id, row.enc_fixed.ptr, row.enc_fixed.len,
                                   user.buf, user.len);
    sx_wipe(sb_key, sizeof sb_key);
    sx_writer_cleanup(&user);
    sx_key_free(root);
    sx_smp_queue_free(q);
    sx_agent_short_link_row_free(&row);
    return st;
}

sx_status sx_agent_set_short_link_data(sx_agent *a, const char *conn_id, const void *data,
                                       size_t data_len)
{
    SX_ENSURE(a && conn_id && (data || data_len == 0), SX_E_USAGE);
    SX_ENSURE(data_len <= SX_AGENT_LINK_DATA_MAX,
              sx_error_set(SX_E_LIMIT, NULL, "agent: the link's user data is too long"));
    sx_agent_id id;
    SX_TRY(sx_agent_id_parse(conn_id, &id));
    pthread_mutex_lock(&a->mu);
    sx_status st = set_data_locked(a, &id, sx_slice_of(data, data_len));
    pthread_mutex_unlock(&a->mu);
    return st;
}

/* The contact link of the address's queue rq into p->cr (as
 * sx_agent_create_contact gave it). */
static sx_status address_connreq(sx_agent *a, const sx_agent_rcv_queue *rq,
                                 sx_agent_prepared_link *p)
{
    p->mode = 'C';
    sx_agent_connreq *cr = &p->cr;
    cr->mode = SX_CONN_CONTACT;
    cr->queue_count = 1;
    cr->agent_vr = a->agent_vr;
    cr->queues[0].vr = sx_smpc_vrange();
    sx_agent_queue *qa = &cr->queues[0].q;
    SX_TRY(sx_agent_server_of(a, rq->server_id, &qa->server));
    SX_ENSURE(rq->snd_id_len <= sizeof qa->sender_id,
              sx_error_set(SX_E_PROTOCOL, NULL, "agent: a stored sender id is too long"));
    memcpy(qa->sender_id, rq->snd_id, rq->snd_id_len);
    qa->sender_id_len = rq->snd_id_len;
    qa->mode = SX_QUEUE_MODE_CONTACT;
    return sx_agent_e2e_pub_der(rq->e2e_priv_key, qa->dh);
}

/* A new link for the address id (queue rq, its link in p->cr): the keys
 * and both blobs, the link's row stored before LSET (as the reference: a
 * retry after a failed LSET sends the same fixed data). Under a->mu. */
static sx_status add_link_locked(sx_agent *a, const sx_agent_id *id, const sx_agent_rcv_queue *rq,
                                 sx_slice data, sx_agent_prepared_link *p,
                                 uint8_t link_id[SX_SL_LINK_ID_LEN])
{
    sx_writer_init_dynamic(&p->sfd, SX_SL_FIXED_PADDED);
    SX_TRY(sx_key_generate(SX_KEY_ED25519, &p->root));
    sx_sl_fixed f;
    memset(&f, 0, sizeof f);
    f.agent_vr = a->agent_vr;
    f.conn_req = p->cr; /* no heap data: not freed through f */
    sx_writer w;
    sx_writer_init_fixed(&w, f.root_key, sizeof f.root_key);
    if (!sx_key_write_public(&w, p->root) || w.len != sizeof f.root_key)
        return sx_error_set(SX_E_INTERNAL, NULL, "agent: cannot encode the link's root key");
    SX_TRY(sx_sl_sign_fixed(p->root, &f, &p->sfd, p->link_key));

    sx_agent_short_link_row row;
    memset(&row, 0, sizeof row);
    row.mode = 'C';
    memcpy(row.link_key, p->link_key, sizeof row.link_key);
    uint8_t sb_key[SX_CB_KEY_LEN];
    sx_writer fixed, user, rk;
    sx_writer_init_dynamic(&fixed, SX_SL_FIXED_BLOB_LEN);
    sx_writer_init_dynamic(&user, SX_SL_USER_BLOB_LEN);
    sx_writer_init_dynamic(&rk, 128);
    sx_status st = link_keys('C', row.link_key, row.link_id, sb_key);
    if (st == SX_OK &&
        !sx_sl_encrypt(&fixed, sb_key, SX_SL_FIXED_PADDED, NULL, sx_writer_slice(&p->sfd)))
        st = sx_error_set(SX_E_LIMIT, NULL, "agent: the link's fixed data is too long");
    if (st == SX_OK)
        st = user_blob(a, 'C', p->root, sb_key, data, &user);
    if (st == SX_OK && !sx_key_write_private(&rk, p->root))
        st = sx_error_set(SX_E_INTERNAL, NULL, "agent: cannot encode the link's root key");
    if (st == SX_OK) {
        row.root_priv.ptr = rk.buf;
        row.root_priv.len = rk.len;
        row.enc_fixed.ptr = fixed.buf;
        row.enc_fixed.len = fixed.len;
        st = sx_agent_store_short_link_set(a->store, id, &row);
    }
    sx_smp_queue *q = NULL;
    if (st == SX_OK)
        st = sx_agent_rq_object(a, rq, &q);
    if (st == SX_OK)
        st = sx_smp_tpool_link_set(a->pool, q, row.link_id, fixed.buf, fixed.len, user.buf,
                                   user.len);
    if (st == SX_OK)
        memcpy(link_id, row.link_id, sizeof row.link_id);
    sx_smp_queue_free(q);
    sx_wipe(sb_key, sizeof sb_key);
    sx_wipe(rk.buf, rk.len);
    sx_writer_cleanup(&fixed);
    sx_writer_cleanup(&user);
    sx_writer_cleanup(&rk);
    return st;
}

/* Under a->mu: the address's short link text into p->short_link, the link
 * made first when it has none, its user data set either way. */
static sx_status contact_link_locked(sx_agent *a, const sx_agent_id *id, sx_slice data,
                                     sx_agent_prepared_link *p)
{
    sx_agent_conn cn;
    SX_TRY(sx_agent_store_conn_get(a->store, id, &cn));
    SX_ENSURE(cn.state == SX_AGENT_CONN_CONTACT,
              sx_error_set(SX_E_USAGE, NULL, "agent: not a contact address"));
    sx_agent_rcv_queue *rqs = NULL;
    size_t n = 0;
    SX_TRY(sx_agent_store_rcv_queue_list(a->store, id, &rqs, &n));
    sx_status st = n == 0 ? sx_error_set(SX_E_USAGE, NULL, "agent: the connection has no queue")
                          : address_connreq(a, &rqs[0], p);
    sx_agent_short_link_row row;
    bool found = false;
    if (st == SX_OK)
        st = sx_agent_store_short_link_get(a->store, id, &row, &found);
    uint8_t link_id[SX_SL_LINK_ID_LEN];
    if (st == SX_OK && found) {
        memcpy(p->link_key, row.link_key, sizeof p->link_key);
        memcpy(link_id, row.link_id, sizeof link_id);
        sx_agent_short_link_row_free(&row);
        st = set_data_locked(a, id, data);
    } else if (st == SX_OK) {
        st = add_link_locked(a, id, &rqs[0], data, p, link_id);
    }
    if (rqs)
        sx_wipe(rqs, n * sizeof *rqs);
    free(rqs);
    if (st == SX_OK)
        st = short_text(a, p, 'C', link_id, &p->short_link);
    return st;
}

sx_status sx_agent_set_contact_short_link(sx_agent *a, const char *conn_id, const void *data,
                                          size_t data_len, char **short_link)
{
    SX_ENSURE(a && conn_id && short_link && (data || data_len == 0), SX_E_USAGE);
    SX_ENSURE(data_len <= SX_AGENT_LINK_DATA_MAX,
              sx_error_set(SX_E_LIMIT, NULL, "agent: the link's user data is too long"));
    *short_link = NULL;
    sx_agent_id id;
    SX_TRY(sx_agent_id_parse(conn_id, &id));
    sx_agent_prepared_link *p = calloc(1, sizeof *p);
    if (!p)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    pthread_mutex_lock(&a->mu);
    sx_status st = contact_link_locked(a, &id, sx_slice_of(data, data_len), p);
    pthread_mutex_unlock(&a->mu);
    if (st == SX_OK) {
        *short_link = p->short_link;
        p->short_link = NULL;
    }
    sx_agent_prepared_link_free(p);
    return st;
}

sx_status sx_agent_delete_short_link(sx_agent *a, const char *conn_id)
{
    SX_ENSURE(a && conn_id, SX_E_USAGE);
    sx_agent_id id;
    SX_TRY(sx_agent_id_parse(conn_id, &id));
    pthread_mutex_lock(&a->mu);
    sx_agent_short_link_row row;
    sx_smp_queue *q = NULL;
    sx_status st = owner_of(a, &id, &row, &q);
    if (st == SX_OK) {
        st = sx_smp_tpool_link_delete(a->pool, q);
        if (st == SX_OK)
            st = sx_agent_store_short_link_delete(a->store, &id);
        sx_smp_queue_free(q);
        sx_agent_short_link_row_free(&row);
    }
    pthread_mutex_unlock(&a->mu);
    return st;
}

/* ---- the joiner ---- */

static const char *check_name(sx_sl_check c)
{
    switch (c) {
    case SX_SL_OK: return "ok";
    case SX_SL_BAD_MESSAGE: return "it does not decrypt or parse";
    case SX_SL_BAD_HASH: return "its hash is not the link's key";
    case SX_SL_BAD_SIGNATURE: return "bad signature";
    case SX_SL_BAD_OWNERS: return "bad owners";
    case SX_SL_BAD_USER_SIGNATURE: return "bad user data signature";
    }
    return "?";
}

typedef struct resolved {
    sx_sl_plain buf;
    sx_sl_fixed fixed;
    sx_sl_user user;
    sx_smp_queue *snd; /* invitations: our sender side, secured by LKEY */
    int64_t server_id; /* invitations: where its stored sender key is */
    uint8_t link_id[SX_SL_LINK_ID_LEN];
} resolved;

/* Our sender side of an invitation's queue for LKEY: with the key stored
 * for this link by an earlier attempt, or a new key stored before use (so
 * that a join repeated after a lost answer sends the same key, which the
 * router accepts again). */
static sx_status lkey_sender(sx_agent *a, const sx_agent_server *server, const char *srv,
                             resolved *r)
{
    sx_agent_snd_queue row;
    memset(&row, 0, sizeof row);
    row.snd_id_len = SX_SMP_QUEUE_ID_LEN; /* zeros: LKEY's answer fills it */
    SX_TRY(sx_agent_server_id(a, server, &row.server_id));
    r->server_id = row.server_id;
    sx_slice lid = sx_slice_of(r->link_id, sizeof r->link_id);
    sx_agent_blob key = {0};
    bool found = false;
    sx_status st = sx_agent_store_inv_short_link_get(a->store, row.server_id, lid, &key, &found);
    if (st == SX_OK && found) {
        if (key.len > sizeof row.snd_priv_key)
            st = sx_error_set(SX_E_PROTOCOL, NULL, "agent: a stored sender key is too long");
        else
            memcpy(row.snd_priv_key, key.ptr, row.snd_priv_key_len = key.len);
        if (st == SX_OK)
            st = sx_agent_sq_object(a, &row, true, &r->snd);
    } else if (st == SX_OK) {
        st = sx_smp_queue_sender_new(srv, NULL, &r->snd);
        if (st == SX_OK)
            st = sx_smp_queue_make_sender_key(r->snd, NULL);
        if (st == SX_OK)
            st = sx_agent_sq_fill(r->snd, &row);
        if (st == SX_OK)
            st = sx_agent_store_inv_short_link_set(
                a->store, row.server_id, lid, sx_slice_of(row.snd_priv_key, row.snd_priv_key_len));
    }
    if (key.ptr)
        sx_wipe(key.ptr, key.len);
    sx_agent_blob_free(&key);
    sx_wipe(&row, sizeof row);
    return st;
}

static void resolved_free(resolved *r)
{
    sx_sl_fixed_free(&r->fixed);
    sx_smp_queue_free(r->snd);
    sx_wipe(r, sizeof *r);
    free(r);
}

/* Fetches, decrypts and verifies the data of a short link: LGET for an
 * address, LKEY (securing the queue with a new key of ours) for an
 * invitation. */
static sx_status resolve(sx_agent *a, const char *link, resolved **out)
{
    *out = NULL;
    sx_short_link sl;
    SX_TRY(sx_short_link_parse(link, strlen(link), &sl));
    SX_ENSURE(sl.type == SX_SL_INVITATION || sl.type == SX_SL_CONTACT,
              sx_error_set(SX_E_USAGE, NULL, "agent: only invitation and contact short links are supported"));
    /* A preset router is named by its first host alone. */
    sx_short_link_restore(&sl, a->presets, a->n_presets);
    SX_ENSURE(sl.server.key_hash_len > 0,
              sx_error_set(SX_E_USAGE, NULL,
                           "agent: the short link names its router by host only, not a preset router"));
    SX_ENSURE(sl.key_len == SX_SL_LINK_KEY_LEN,
              sx_error_set(SX_E_PROTOCOL, NULL, "agent: the short link's key has a bad length"));
    bool inv = sl.type == SX_SL_INVITATION;
    SX_ENSURE(!inv || sl.link_id_len == SX_SL_LINK_ID_LEN,
              sx_error_set(SX_E_PROTOCOL, NULL, "agent: the short link's id has a bad length"));
    char srv[SX_SMP_SERVER_TEXT_MAX];
    sx_writer w;
    sx_writer_init_fixed(&w, (uint8_t *)srv, sizeof srv - 1);
    if (!sx_agent_server_write_text(&w, &sl.server, false))
        return sx_error_set(SX_E_PROTOCOL, NULL, "agent: the short link's router is too long");
    srv[w.len] = '\0';
    uint8_t link_id[SX_SL_LINK_ID_LEN], sb_key[SX_CB_KEY_LEN];
    SX_TRY(link_keys(inv ? 'I' : 'C', sl.key, link_id, sb_key));
    if (inv)
        memcpy(link_id, sl.link_id, sizeof link_id);
    resolved *r = calloc(1, sizeof *r);
    if (!r)
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    sx_smp_link l;
    memset(&l, 0, sizeof l);
    sx_status st = SX_OK;
    if (inv) {
        memcpy(r->link_id, link_id, sizeof link_id);
        st = lkey_sender(a, &sl.server, srv, r);
        if (st == SX_OK)
            st = sx_smp_tpool_link_secure(a->pool, r->snd, link_id, &l);
    } else {
        st = sx_smp_tpool_link_get(a->pool, srv, link_id, &l);
    }
    if (st != SX_OK) {
        char code[32], why[160];
        snprintf(code, sizeof code, "%s", sx_error_code() ? sx_error_code() : "");
        snprintf(why, sizeof why, "%s", sx_error_message());
        resolved_free(r);
        sx_wipe(sb_key, sizeof sb_key);
        return sx_error_set(st, code, "agent: the short link's router did not give its data (%s)", why);
    }
    sx_sl_check check = SX_SL_OK;
    st = sx_sl_decrypt(sl.key, sb_key, sx_slice_of(l.fixed, l.fixed_len),
                       sx_slice_of(l.user, l.user_len), inv ? SX_CONN_INVITATION : SX_CONN_CONTACT,
                       &r->buf, &r->fixed, &r->user, &check);
    sx_wipe(sb_key, sizeof sb_key);
    if (st != SX_OK && check != SX_SL_OK)
        st = sx_error_set(st, "A_LINK", "agent: the short link's data does not verify: %s",
                          check_name(check));
    /* The link must lead to the queue the router gave the data of. */
    if (st == SX_OK) {
        const sx_agent_queue *qa = &r->fixed.conn_req.queues[0].q;
        bool host = false;
        for (size_t i = 0; i < sl.server.host_count && qa->server.host_count > 0; i++)
            host = host || strcmp(sl.server.host[i], qa->server.host[0]) == 0;
        if (!host || qa->sender_id_len != SX_SMP_QUEUE_ID_LEN ||
            memcmp(qa->sender_id, l.sender_id, SX_SMP_QUEUE_ID_LEN) != 0)
            st = sx_error_set(SX_E_AUTH, "A_LINK", "agent: the short link's data names a different address");
    }
    sx_smp_link_clear(&l);
    if (st != SX_OK) {
        resolved_free(r);
        return st;
    }
    *out = r;
    return SX_OK;
}

sx_status sx_agent_join_short(sx_agent *a, const char *link, const char *server, sx_slice info,
                              sx_agent_id *id)
{
    resolved *r = NULL;
    SX_TRY(resolve(a, link, &r));
    sx_status st;
    if (r->fixed.conn_req.mode == SX_CONN_CONTACT)
        st = sx_agent_join_contact(a, &r->fixed.conn_req, server, info, id);
    else {
        memset(id, 0, sizeof *id);
        st = sx_agent_join_invitation_ex(a, &r->fixed.conn_req, server, info, r->snd, id);
        /* A join that failed part way leaves no connection holding our
         * send queue, so that repeating it (with the same stored key) can
         * make it again. */
        static const sx_agent_id none;
        if (st != SX_OK && memcmp(id->b, none.b, sizeof none.b) != 0) {
            char code[32], why[256];
            snprintf(code, sizeof code, "%s", sx_error_code() ? sx_error_code() : "");
            snprintf(why, sizeof why, "%s", sx_error_message());
            if (sx_agent_store_conn_delete(a->store, id) == SX_OK)
                st = sx_error_set(st, code, "%s", why);
            else
                st = sx_error_set(st, code, "%s (and its connection stays)", why);
        }
    }
    /* The key is the send queue's now. */
    if (st == SX_OK && r->snd)
        st = sx_agent_store_inv_short_link_delete(a->store, r->server_id,
                                                  sx_slice_of(r->link_id, sizeof r->link_id));
    resolved_free(r);
    return st;
}

sx_status sx_agent_short_link_data(sx_agent *a, const char *short_link, char **link, char **data,
                                   size_t *data_len)
{
    return sx_agent_short_link_info(a, short_link, link, data, data_len, NULL, NULL);
}

sx_status sx_agent_short_link_info(sx_agent *a, const char *short_link, char **link, char **data,
                                   size_t *data_len, char **entity_id, size_t *entity_id_len)
{
    SX_ENSURE(a && short_link && data && data_len && (!entity_id || entity_id_len), SX_E_USAGE);
    *data = NULL;
    *data_len = 0;
    if (link)
        *link = NULL;
    if (entity_id) {
        *entity_id = NULL;
        *entity_id_len = 0;
    }
    sx_short_link sl;
    SX_TRY(sx_short_link_parse(short_link, strlen(short_link), &sl));
    SX_ENSURE(sl.type == SX_SL_CONTACT,
              sx_error_set(SX_E_USAGE, NULL,
                           "agent: an invitation's data is read by joining it (reading secures its queue)"));
    resolved *r = NULL;
    pthread_mutex_lock(&a->mu);
    sx_status st = resolve(a, short_link, &r);
    pthread_mutex_unlock(&a->mu);
    SX_TRY(st);
    char *d = malloc(r->user.data.len + 1);
    if (!d) {
        resolved_free(r);
        return sx_error_set(SX_E_NOMEM, NULL, NULL);
    }
    if (r->user.data.len)
        memcpy(d, r->user.data.ptr, r->user.data.len);
    d[r->user.data.len] = '\0';
    if (link)
        st = sx_agent_connreq_text(&r->fixed.conn_req, "link", link);
    /* The entity id, NUL-terminated beside its length (NULL when the link
     * has none). */
    if (st == SX_OK && entity_id && r->fixed.has_entity_id) {
        size_t n = r->fixed.entity_id.len;
        *entity_id = malloc(n + 1);
        if (!*entity_id) {
            st = sx_error_set(SX_E_NOMEM, NULL, NULL);
        } else {
            if (n)
                memcpy(*entity_id, r->fixed.entity_id.ptr, n);
            (*entity_id)[n] = '\0';
            *entity_id_len = n;
        }
    }
    if (st != SX_OK) {
        free(d);
        if (link) {
            free(*link);
            *link = NULL;
        }
        resolved_free(r);
        return st;
    }
    *data = d;
    *data_len = r->user.data.len;
    resolved_free(r);
    return SX_OK;
}
