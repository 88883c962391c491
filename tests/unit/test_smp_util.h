/* Helpers shared by the SMP codec tests: keys with known DER, one-call
 * encoders into scratch buffers, and a sample of every command and router
 * message with all optional fields set. */
#ifndef SX_TEST_SMP_UTIL_H
#define SX_TEST_SMP_UTIL_H

#include "testutil.h"

#include "smp/command.h"
#include "smp/response.h"

/* A public key of alg whose raw bytes are bytes(n, seed); the DER lives in
 * static storage that stays valid for the whole test run (one slot per
 * (alg, seed) pair used; up to 32 pairs). */
sx_smp_pubkey tsu_key(sx_key_alg alg, uint8_t seed);

/* Encodes into one of 8 rotating static buffers; fails the test on error. */
sx_slice tsu_enc_cmd(const sx_smp_cmd *c, uint16_t v);
sx_slice tsu_enc_resp(const sx_smp_resp *m, uint16_t v);
/* The writer status of encoding (for tests of refused values). */
sx_status tsu_enc_cmd_status(const sx_smp_cmd *c, uint16_t v);
sx_status tsu_enc_resp_status(const sx_smp_resp *m, uint16_t v);

/* A byte string of n bytes bytes(n, seed) in static storage (n <= 20000). */
sx_slice tsu_seq(size_t n, uint8_t seed);
/* Concatenation of a and b into a rotating static buffer. */
sx_slice tsu_cat(sx_slice a, sx_slice b);
#define TSU_STR(s) sx_slice_str(s)

/* Samples with every field the newest layout can carry (tag-specific). */
sx_smp_cmd tsu_sample_cmd(sx_smp_cmd_tag tag);
sx_smp_resp tsu_sample_resp(sx_smp_resp_tag tag);

#define TSU_CMD_FIRST SX_SMP_C_NEW
#define TSU_CMD_LAST SX_SMP_C_RFWD
#define TSU_RESP_FIRST SX_SMP_R_IDS
#define TSU_RESP_LAST SX_SMP_R_PONG

#endif
