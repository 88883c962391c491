/* Pieces shared by the blocking and the event-loop SMP clients: encoding an
 * authorized command transmission and turning a received batch item into a
 * decoded reply. Internal to src/client. */
#ifndef SX_CLIENT_SMP_CLIENT_INT_H
#define SX_CLIENT_SMP_CLIENT_INT_H

#include "smp_client/smp_client.h"

/* Room for one encoded transmission (a command up to a block plus its
 * authorization and header). */
#define SX_SMP_CLIENT_TBUF (SX_BLOCK_SIZE + 1536)

/* Draws a fresh corrId into corr_id and appends the transmission of cmd for
 * entity, authorized with auth_key (NULL: none; X25519: PROTOCOL-NOTES C8
 * authenticator with the router's session key; Ed25519/Ed448: signature), to w.
 * Errors: SX_E_LIMIT / SX_E_USAGE from the writer, SX_E_AUTH (X25519 key but no
 * router session key), SX_E_NOMEM, SX_E_INTERNAL. */
SX_MUST_CHECK sx_status sx_smp_client_encode(const sx_smp_session *s, sx_slice entity,
                                             const sx_smp_cmd *cmd, const sx_key *auth_key,
                                             uint8_t corr_id[SX_SMP_CORR_ID_LEN], sx_writer *w);

/* The same with the corrId given (PFWD and RFWD use it as a nonce). */
SX_MUST_CHECK sx_status sx_smp_client_encode_corr(const sx_smp_session *s, sx_slice entity,
                                                  const sx_smp_cmd *cmd, const sx_key *auth_key,
                                                  const uint8_t corr_id[SX_SMP_CORR_ID_LEN], sx_writer *w);
/* The same in a service session (PROTOCOL-NOTES C9): with service_key set and
 * the session's service accepted, NEW, SUB and NSUB are signed by auth_key
 * over the service certificate fingerprint and the bytes, and by service_key
 * over the bytes. The service's own commands (SUBS, NSUBS) pass the service
 * key as auth_key. service_key NULL: as sx_smp_client_encode. */
SX_MUST_CHECK sx_status sx_smp_client_encode_svc(const sx_smp_session *s, const sx_key *service_key,
                                                 sx_slice entity, const sx_smp_cmd *cmd,
                                                 const sx_key *auth_key, uint8_t corr_id[SX_SMP_CORR_ID_LEN],
                                                 sx_writer *w);

/* Copies one batch item into r->buf and decodes it for the session (r->ok
 * false with r->reply.err when it does not decode). SX_E_NOMEM only. */
SX_MUST_CHECK sx_status sx_smp_client_reply_from(const sx_smp_session *s, sx_slice item,
                                                 sx_smp_client_reply *r);

#endif
