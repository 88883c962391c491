/* Internal to the public SMP API (src/client/smp_api*.c): what the blocking
 * and the event-loop flavours share. Functions set the per-thread error
 * detail (core/error.h) when they fail. */
#ifndef SX_CLIENT_SMP_API_INT_H
#define SX_CLIENT_SMP_API_INT_H

#include "simplex/smp.h"

#include "client/queue_file.h"
#include "client/smp_client.h"

struct sx_smp_queue {
    sx_queue_file f;
};

/* The router's ERR answer to `what` as a status and detail. */
sx_status sx_smpapi_router_error(const char *what, const sx_smp_error *e);
/* SX_OK when r is the response `tag`; otherwise records why not. */
sx_status sx_smpapi_expect(const char *what, const sx_smp_client_reply *r, sx_smp_resp_tag tag);
/* A failed exchange with the router (timeout, closed, ...) as detail. */
sx_status sx_smpapi_net_error(const char *what, sx_status st);
/* SX_E_USAGE unless q is a side of the given role. */
sx_status sx_smpapi_need_role(const sx_smp_queue *q, sx_queue_role role, const char *what);
sx_slice sx_smpapi_rcv_id(const sx_smp_queue *q);
sx_smp_queue *sx_smpapi_queue_new(void);

/* Creating a queue: begin makes the keys and the NEW command (which points
 * into n and addr: keep both until it is sent); finish reads the router's
 * answer (*created: the router holds a queue, to delete when finish fails).
 * take hands the queue over; cleanup frees whatever is left. */
typedef struct sx_smpapi_new {
    sx_smp_queue *q;
    sx_key *rdh;
    uint8_t b1[SX_KEY_SPKI_MAX], b2[SX_KEY_SPKI_MAX];
    sx_smp_cmd cmd;
} sx_smpapi_new;
sx_status sx_smpapi_new_begin(const sx_smp_address *addr, sx_smpapi_new *n);
sx_status sx_smpapi_new_finish(sx_smpapi_new *n, const sx_smp_client_reply *r, const char *server, bool *created);
sx_smp_queue *sx_smpapi_new_take(sx_smpapi_new *n);
void sx_smpapi_new_cleanup(sx_smpapi_new *n);

/* A MSG transmission for q as an event (decrypted; UNREADABLE when it does
 * not open). */
sx_status sx_smpapi_msg_event(sx_smp_queue *q, const sx_smp_client_reply *r, sx_smp_event *ev);

#endif
