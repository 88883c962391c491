/* Helpers of the service tests (services_env.h). */
#include "services_env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "crypto/hash.h"
#include "crypto/util.h"
#include "crypto/x509.h"
#include "smp/transmission.h"
#include "smp_router/storelog.h"
#include "transport/net.h"


void make_chain(const env *e, const char *name, bool broken, chain_files *out)
{
    snprintf(out->crt, sizeof out->crt, "%s/%s.crt", e->dir, name);
    snprintf(out->ca, sizeof out->ca, "%s/%s-ca.crt", e->dir, name);
    snprintf(out->key, sizeof out->key, "%s/%s.key", e->dir, name);
    sx_key *ca_key, *other_key, *leaf_key;
    assert_ok(sx_key_generate(SX_KEY_ED25519, &ca_key));
    assert_ok(sx_key_generate(SX_KEY_ED25519, &other_key));
    assert_ok(sx_key_generate(SX_KEY_ED25519, &leaf_key));
    X509 *ca, *other, *leaf;
    assert_ok(sx_x509_create_ca(ca_key, &ca));
    assert_ok(sx_x509_create_ca(other_key, &other));
    if (broken)
        assert_ok(sx_x509_create_server(other_key, other, leaf_key, "service", &leaf));
    else
        assert_ok(sx_x509_create_server(ca_key, ca, leaf_key, "service", &leaf));
    assert_ok(sx_x509_write_cert_file(out->crt, leaf));
    assert_ok(sx_x509_write_cert_file(out->ca, ca));
    assert_ok(sx_x509_write_key_file(out->key, leaf_key));
    X509_free(ca);
    X509_free(other);
    X509_free(leaf);
    sx_key_free(ca_key);
    sx_key_free(other_key);
    sx_key_free(leaf_key);
}

/* A chain of one self-signed certificate: it is its own identity. */
void make_single(const env *e, const char *name, chain_files *out)
{
    snprintf(out->crt, sizeof out->crt, "%s/%s.crt", e->dir, name);
    out->ca[0] = '\0';
    snprintf(out->key, sizeof out->key, "%s/%s.key", e->dir, name);
    sx_key *k;
    X509 *c;
    assert_ok(sx_key_generate(SX_KEY_ED25519, &k));
    assert_ok(sx_x509_create_ca(k, &c));
    assert_ok(sx_x509_write_cert_file(out->crt, c));
    assert_ok(sx_x509_write_key_file(out->key, k));
    X509_free(c);
    sx_key_free(k);
}

void env_init(env *e)
{
    memset(e, 0, sizeof *e);
    snprintf(e->dir, sizeof e->dir, "/tmp/sx_services_XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    snprintf(e->slog, sizeof e->slog, "%s/%s", e->dir, SX_STORELOG_FILE);
    snprintf(e->metrics, sizeof e->metrics, "%s/metrics.txt", e->dir);
    snprintf(e->crt, sizeof e->crt, "%s", tu_data_path("fixtures/server.crt"));
    snprintf(e->ca, sizeof e->ca, "%s", tu_data_path("fixtures/ca.crt"));
    snprintf(e->key, sizeof e->key, "%s", tu_data_path("fixtures/server.key"));
    X509 *x;
    assert_ok(sx_x509_read_cert_file(e->ca, &x));
    assert_ok(sx_x509_fingerprint(x, e->fp));
    X509_free(x);
    sx_router_opts *o = &e->o;
    o->cert_file = e->crt;
    o->ca_file = e->ca;
    o->key_file = e->key;
    o->host = "127.0.0.1";
    o->n_ports = 1;
    o->workers = 2;
    o->new_queues = true;
    o->store_log_path = e->slog;
    o->metrics_path = e->metrics;
    o->metrics_interval = 1;
    o->quiet = true;
    o->handshake_timeout_ms = WAIT_MS;
    assert_ok(sx_router_start(o, &e->r));
}

void env_restart(env *e)
{
    sx_router_stop(e->r);
    assert_ok(sx_router_start(&e->o, &e->r));
}

void env_done(env *e)
{
    sx_router_stop(e->r);
    tu_rm_rf(e->dir);
}

sx_smp_client *plain_connect(env *e)
{
    sx_smp_client_opts o = {.timeout_ms = WAIT_MS};
    sx_smp_client *cl = NULL;
    assert_ok(sx_smp_client_connect("127.0.0.1", sx_router_port(e->r, 0), e->fp, &o, &cl));
    return cl;
}

sx_status svc_connect(env *e, const chain_files *ch, sx_smp_service_role role, const sx_key *svc_key,
                      sx_smp_client **out, sx_transport_error *te)
{
    sx_smp_client_service_opts so = {.role = role, .service_key = svc_key};
    so.creds.cert_file = ch->crt;
    so.creds.ca_file = ch->ca[0] ? ch->ca : NULL;
    so.creds.key_file = ch->key;
    sx_smp_client_opts o = {.timeout_ms = WAIT_MS, .service = &so};
    return sx_smp_client_connect_ex("127.0.0.1", sx_router_port(e->r, 0), e->fp, &o, out, te);
}

/* Connects the service and returns its id in id[24]. */
sx_smp_client *svc_connect_role(env *e, const chain_files *ch, sx_smp_service_role role,
                                const sx_key *svc_key, uint8_t id[24])
{
    sx_smp_client *cl = NULL;
    sx_transport_error te;
    assert_ok(svc_connect(e, ch, role, svc_key, &cl, &te));
    const sx_smp_session *s = sx_smp_client_session(cl);
    assert_true(s->has_service);
    assert_int_equal(s->service_id_len, 24);
    memcpy(id, s->service_id, 24);
    return cl;
}

sx_smp_client *svc_connect_ok(env *e, const chain_files *ch, const sx_key *svc_key, uint8_t id[24])
{
    return svc_connect_role(e, ch, SX_SMP_SERVICE_NOTIFIER, svc_key, id);
}

sx_key *gen(sx_key_alg alg)
{
    sx_key *k;
    assert_ok(sx_key_generate(alg, &k));
    return k;
}

sx_smp_pubkey pub_of(const sx_key *k, uint8_t *buf)
{
    sx_smp_pubkey p;
    assert_ok(sx_smp_pubkey_of(k, buf, &p));
    return p;
}


void tq_create(sx_smp_client *cl, tq *q)
{
    q->rkey = gen(SX_KEY_ED25519);
    q->rdh = gen(SX_KEY_X25519);
    q->nkey = gen(SX_KEY_ED25519);
    q->ndh = gen(SX_KEY_X25519);
    uint8_t b1[SX_KEY_SPKI_MAX], b2[SX_KEY_SPKI_MAX], b3[SX_KEY_SPKI_MAX], b4[SX_KEY_SPKI_MAX];
    sx_smp_cmd c = {.tag = SX_SMP_C_NEW};
    c.new_queue.rcv_auth_key = pub_of(q->rkey, b1);
    c.new_queue.rcv_dh_key = pub_of(q->rdh, b2);
    c.new_queue.subscribe = true;
    c.new_queue.has_queue_req = true;
    c.new_queue.queue_req.mode = SX_SMP_QUEUE_MESSAGING;
    c.new_queue.has_ntf_creds = true;
    c.new_queue.ntf_auth_key = pub_of(q->nkey, b3);
    c.new_queue.ntf_dh_key = pub_of(q->ndh, b4);
    sx_smp_client_reply r;
    assert_ok(sx_smp_client_call(cl, sx_slice_of(NULL, 0), &c, q->rkey, &r));
    assert_true(r.ok);
    assert_int_equal(r.reply.resp.tag, SX_SMP_R_IDS);
    const sx_smp_ids *ids = &r.reply.resp.ids;
    assert_true(ids->has_ntf);
    memcpy(q->rid, ids->rcv_id.ptr, 24);
    memcpy(q->sid, ids->snd_id.ptr, 24);
    memcpy(q->nid, ids->ntf_id.ptr, 24);
    sx_smp_client_reply_free(&r);
}

void tq_free(tq *q)
{
    sx_key_free(q->rkey);
    sx_key_free(q->rdh);
    sx_key_free(q->nkey);
    sx_key_free(q->ndh);
}

/* The answer's tag; for ERR, *err (may be NULL) gets the error. */
sx_smp_resp_tag call(sx_smp_client *cl, sx_slice entity, const sx_smp_cmd *c, const sx_key *k,
                     sx_smp_client_reply *keep, sx_smp_error *err)
{
    sx_smp_client_reply r;
    assert_ok(sx_smp_client_call(cl, entity, c, k, &r));
    assert_true(r.ok);
    sx_smp_resp_tag t = r.reply.resp.tag;
    if (err && t == SX_SMP_R_ERR)
        *err = r.reply.resp.err;
    if (keep)
        *keep = r;
    else
        sx_smp_client_reply_free(&r);
    return t;
}

void nsub(sx_smp_client *cl, const tq *q, bool expect_id, const uint8_t id[24])
{
    sx_smp_cmd c = {.tag = SX_SMP_C_NSUB};
    sx_smp_client_reply r;
    assert_int_equal(call(cl, sx_slice_of(q->nid, 24), &c, q->nkey, &r, NULL), SX_SMP_R_SOK);
    assert_int_equal(r.reply.resp.sok.has_service_id, expect_id);
    if (expect_id)
        assert_memory_equal(r.reply.resp.sok.service_id.ptr, id, 24);
    sx_smp_client_reply_free(&r);
}

const uint8_t zero_hash[16];

/* The XOR of the MD5 of the queues' notifier ids. */
void ids_hash(tq *const *qs, size_t n, uint8_t out[16])
{
    memset(out, 0, 16);
    for (size_t i = 0; i < n; i++) {
        uint8_t md[SX_MD5_LEN];
        assert_ok(sx_md5(sx_slice_of(qs[i]->nid, 24), md));
        for (int j = 0; j < 16; j++)
            out[j] ^= md[j];
    }
}

/* NSUBS as the service: the count, and the hash checked against the queues'
 * notifier ids. */
void nsubs_expect(sx_smp_client *cl, const uint8_t id[24], const sx_key *svc_key, tq *const *qs, size_t n)
{
    sx_smp_cmd c = {.tag = SX_SMP_C_NSUBS};
    c.subs.count = (int64_t)n;
    c.subs.ids_hash = sx_slice_of(zero_hash, 16);
    sx_smp_client_reply r;
    assert_int_equal(call(cl, sx_slice_of(id, 24), &c, svc_key, &r, NULL), SX_SMP_R_SOKS);
    assert_int_equal(r.reply.resp.subs.count, (int64_t)n);
    uint8_t want[16];
    ids_hash(qs, n, want);
    assert_int_equal(r.reply.resp.subs.ids_hash.len, 16);
    assert_memory_equal(r.reply.resp.subs.ids_hash.ptr, want, 16);
    sx_smp_client_reply_free(&r);
}

/* Lines of the file that start with word, or (anywhere) hold it. */
size_t count_lines(const char *path, const char *word, bool anywhere)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[65536];
    size_t n = 0;
    while (fgets(line, sizeof line, f))
        n += anywhere ? strstr(line, word) != NULL : strncmp(line, word, strlen(word)) == 0;
    fclose(f);
    return n;
}

/* ---- the tests ---- */

void expect_nmsg(sx_smp_client *cl, const tq *q)
{
    sx_smp_client_reply ev;
    assert_ok(sx_smp_client_next_event(cl, WAIT_MS, &ev));
    assert_true(ev.ok);
    assert_int_equal(ev.reply.resp.tag, SX_SMP_R_NMSG);
    assert_memory_equal(ev.reply.t.entity_id.ptr, q->nid, 24);
    sx_smp_client_reply_free(&ev);
}

void send_msg(env *e, const tq *q)
{
    sx_smp_client *snd = plain_connect(e);
    static uint8_t body[64];
    sx_smp_cmd c = {.tag = SX_SMP_C_SEND};
    c.send.notification = true;
    c.send.body = sx_slice_of(body, sizeof body);
    assert_int_equal(call(snd, sx_slice_of(q->sid, 24), &c, NULL, NULL, NULL), SX_SMP_R_OK);
    sx_smp_client_close(snd);
}

/* ---- a messaging service ---- */

void rid_hash(tq *const *qs, size_t n, uint8_t out[16])
{
    memset(out, 0, 16);
    for (size_t i = 0; i < n; i++) {
        uint8_t md[SX_MD5_LEN];
        assert_ok(sx_md5(sx_slice_of(qs[i]->rid, 24), md));
        for (int j = 0; j < 16; j++)
            out[j] ^= md[j];
    }
}

/* SUBS: SOKS with the count and hash, then one MSG per queue in want (any
 * order), then ALLS. */
void subs_expect(sx_smp_client *cl, const uint8_t id[24], const sx_key *svc_key, tq *const *qs, size_t n,
                 tq *const *want, size_t n_want)
{
    sx_smp_cmd c = {.tag = SX_SMP_C_SUBS};
    c.subs.count = (int64_t)n;
    c.subs.ids_hash = sx_slice_of(zero_hash, 16);
    sx_smp_client_reply r;
    assert_int_equal(call(cl, sx_slice_of(id, 24), &c, svc_key, &r, NULL), SX_SMP_R_SOKS);
    assert_int_equal(r.reply.resp.subs.count, (int64_t)n);
    uint8_t h[16];
    rid_hash(qs, n, h);
    assert_memory_equal(r.reply.resp.subs.ids_hash.ptr, h, 16);
    sx_smp_client_reply_free(&r);
    bool seen[8] = {0};
    for (size_t k = 0; k < n_want; k++) {
        sx_smp_client_reply ev;
        assert_ok(sx_smp_client_next_event(cl, WAIT_MS, &ev));
        assert_true(ev.ok);
        assert_int_equal(ev.reply.resp.tag, SX_SMP_R_MSG);
        size_t j = 0;
        while (j < n_want && memcmp(ev.reply.t.entity_id.ptr, want[j]->rid, 24) != 0)
            j++;
        assert_true(j < n_want && !seen[j]);
        seen[j] = true;
        sx_smp_client_reply_free(&ev);
    }
    sx_smp_client_reply ev;
    assert_ok(sx_smp_client_next_event(cl, WAIT_MS, &ev));
    assert_true(ev.ok);
    assert_int_equal(ev.reply.resp.tag, SX_SMP_R_ALLS);
    assert_int_equal(ev.reply.t.entity_id.len, 0);
    sx_smp_client_reply_free(&ev);
}

void expect_msg(sx_smp_client *cl, const tq *q)
{
    sx_smp_client_reply ev;
    assert_ok(sx_smp_client_next_event(cl, WAIT_MS, &ev));
    assert_true(ev.ok);
    assert_int_equal(ev.reply.resp.tag, SX_SMP_R_MSG);
    assert_memory_equal(ev.reply.t.entity_id.ptr, q->rid, 24);
    sx_smp_client_reply_free(&ev);
}

/* The next MSG for q, acknowledged with the recipient key alone: ACK carries
 * no service signature (PROTOCOL-NOTES C9). */
void ack_next(sx_smp_client *cl, const tq *q)
{
    sx_smp_client_reply ev;
    assert_ok(sx_smp_client_next_event(cl, WAIT_MS, &ev));
    assert_true(ev.ok);
    assert_int_equal(ev.reply.resp.tag, SX_SMP_R_MSG);
    assert_memory_equal(ev.reply.t.entity_id.ptr, q->rid, 24);
    sx_smp_cmd ack = {.tag = SX_SMP_C_ACK};
    ack.msg_id = ev.reply.resp.msg.msg_id;
    assert_int_equal(call(cl, sx_slice_of(q->rid, 24), &ack, q->rkey, NULL, NULL), SX_SMP_R_OK);
    sx_smp_client_reply_free(&ev);
}

long long metric(const env *e, const char *name)
{
    FILE *f = fopen(e->metrics, "r");
    if (!f)
        return -1;
    char line[512];
    long long v = -1;
    size_t nl = strlen(name);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, name, nl) == 0 && line[nl] == ' ')
            v = atoll(line + nl + 1);
    fclose(f);
    return v;
}

long long metric_reach(const env *e, const char *name, long long want)
{
    long long v = -1;
    for (int i = 0; i < WAIT_MS / 100 && (v = metric(e, name)) < want; i++)
        usleep(100 * 1000);
    return v;
}

void expect_event(sx_smp_client *cl, sx_smp_resp_tag tag, const uint8_t entity[24])
{
    sx_smp_client_reply ev;
    assert_ok(sx_smp_client_next_event(cl, WAIT_MS, &ev));
    assert_true(ev.ok);
    assert_int_equal(ev.reply.resp.tag, tag);
    assert_memory_equal(ev.reply.t.entity_id.ptr, entity, 24);
    sx_smp_client_reply_free(&ev);
}
