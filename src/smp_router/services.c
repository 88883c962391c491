/* Services on the SMP router: see services.h. */
#include "smp_router/services.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "crypto/util.h"

#define SERVICE_ID_LEN 24 /* the reference's queue id size, used for service ids too */

static pthread_mutex_t svc_mu = PTHREAD_MUTEX_INITIALIZER;

void sx_router_services_lock(void)
{
    pthread_mutex_lock(&svc_mu);
}

void sx_router_services_unlock(void)
{
    pthread_mutex_unlock(&svc_mu);
}

sx_status sx_router_services_init(sx_slservices **svc)
{
    return *svc ? SX_OK : sx_slservices_new(svc);
}

/* ---- the handshake ---- */

sx_status sx_router_service_assign(sx_slservices **table, sx_kit_logwriter *lw, const sx_smp_session *s,
                                   uint8_t *id, size_t *id_len, uint64_t *log_seq)
{
    *log_seq = 0;
    SX_ENSURE(s->has_service && s->peer_chain_len >= 1 && s->peer_chain_len <= SX_SL_CERTS_MAX, SX_E_USAGE);
    /* All three roles register alike (PROTOCOL-NOTES D8a): a proxy service
     * (role P) then may send only PING and RFWD (commands_svc.c,
     * PROTOCOL-NOTES C11). */
    if (s->service_role != SX_SMP_SERVICE_NOTIFIER && s->service_role != SX_SMP_SERVICE_MESSAGING &&
        s->service_role != SX_SMP_SERVICE_PROXY)
        return SX_E_AUTH;
    sx_slservice svc = {0};
    uint8_t new_id[SERVICE_ID_LEN];
    sx_random_bytes(new_id, sizeof new_id);
    svc.id = sx_slice_of(new_id, sizeof new_id);
    svc.role = (uint8_t)s->service_role;
    svc.n_certs = (uint8_t)s->peer_chain_len;
    for (size_t i = 0; i < s->peer_chain_len; i++)
        svc.certs[i] = s->peer_chain[i];
    svc.cert_hash = sx_slice_of(s->service_cert_hash, SX_FINGERPRINT_LEN);
    svc.created_at = (int64_t)time(NULL);

    pthread_mutex_lock(&svc_mu);
    sx_status st = sx_router_services_init(table);
    sx_slice existing = sx_slice_of(NULL, 0);
    if (st == SX_OK)
        st = sx_slservices_add(*table, &svc, &existing);
    if (st == SX_OK && existing.len) {
        memcpy(id, existing.ptr, existing.len);
        *id_len = existing.len;
    } else if (st == SX_OK) {
        /* A new service: logged before the client learns its id (the
         * reference writes NEW_SERVICE before it answers). */
        if (lw) {
            sx_slrec rec = {.type = SX_SLREC_NEW_SERVICE, .svc = svc};
            *log_seq = sx_storelog_submit(lw, &rec);
            if (*log_seq == 0)
                st = SX_E_IO;
        }
        memcpy(id, new_id, sizeof new_id);
        *id_len = sizeof new_id;
    }
    pthread_mutex_unlock(&svc_mu);
    return st;
}
