/* The agent store's migrations: numbered SQL texts, applied in order, each
 * in one transaction with its row in schema_migrations. A migration, once
 * released, is never edited: changes come as a new one. The tables follow
 * the shape of the reference agent's (docs/AGENT-STORE.md, "Schema") in our own form:
 * integer enums with CHECKs, connection ids as 12-byte blobs, and the
 * ratchet's skipped keys in a table of their own. */
#include "agent/store_int.h"

static const char M1_INITIAL[] =
    "CREATE TABLE settings(\n"
    "  key TEXT NOT NULL PRIMARY KEY,\n"
    "  value BLOB NOT NULL\n"
    ") STRICT;\n"
    "CREATE TABLE users(\n"
    "  user_id INTEGER PRIMARY KEY,\n"
    "  deleted INTEGER NOT NULL DEFAULT 0\n"
    ") STRICT;\n"
    "CREATE TABLE servers(\n"
    "  server_id INTEGER PRIMARY KEY,\n"
    "  host TEXT NOT NULL,\n"
    "  port TEXT NOT NULL,\n"
    "  key_hash BLOB NOT NULL,\n"
    "  UNIQUE(host, port)\n"
    ") STRICT;\n"
    "CREATE TABLE connections(\n"
    "  conn_id BLOB NOT NULL PRIMARY KEY CHECK(length(conn_id) = 12),\n"
    "  user_id INTEGER NOT NULL REFERENCES users ON DELETE CASCADE,\n"
    "  mode INTEGER NOT NULL CHECK(mode IN (1, 2)),\n"
    "  state INTEGER NOT NULL CHECK(state BETWEEN 0 AND 5),\n"
    "  agent_version INTEGER NOT NULL,\n"
    "  pq_support INTEGER NOT NULL DEFAULT 0,\n"
    "  duplex_handshake INTEGER NOT NULL DEFAULT 0,\n"
    "  enable_ntfs INTEGER NOT NULL DEFAULT 0,\n"
    "  ratchet_sync INTEGER NOT NULL DEFAULT 0 CHECK(ratchet_sync BETWEEN 0 AND 4),\n"
    "  last_internal_msg_id INTEGER NOT NULL DEFAULT 0,\n"
    "  last_internal_rcv_msg_id INTEGER NOT NULL DEFAULT 0,\n"
    "  last_internal_snd_msg_id INTEGER NOT NULL DEFAULT 0,\n"
    "  last_external_snd_msg_id INTEGER NOT NULL DEFAULT 0,\n"
    "  last_rcv_msg_hash BLOB NOT NULL DEFAULT x'',\n"
    "  last_snd_msg_hash BLOB NOT NULL DEFAULT x'',\n"
    "  created_at INTEGER NOT NULL\n"
    ") STRICT;\n"
    "CREATE INDEX idx_connections_user ON connections(user_id);\n"
    "CREATE TABLE rcv_queues(\n"
    "  queue_id INTEGER PRIMARY KEY,\n"
    "  conn_id BLOB NOT NULL REFERENCES connections ON DELETE CASCADE,\n"
    "  server_id INTEGER NOT NULL REFERENCES servers ON DELETE RESTRICT,\n"
    "  rcv_id BLOB NOT NULL,\n"
    "  snd_id BLOB NOT NULL,\n"
    "  rcv_private_key BLOB NOT NULL,\n"
    "  rcv_dh_secret BLOB NOT NULL,\n"
    "  e2e_priv_key BLOB NOT NULL,\n"
    "  e2e_dh_secret BLOB,\n"
    "  status INTEGER NOT NULL CHECK(status BETWEEN 0 AND 4),\n"
    "  smp_client_version INTEGER NOT NULL,\n"
    "  is_primary INTEGER NOT NULL,\n"
    "  replace_queue_id INTEGER,\n"
    "  queue_mode INTEGER NOT NULL DEFAULT 0,\n"
    "  UNIQUE(server_id, rcv_id),\n"
    "  UNIQUE(server_id, snd_id)\n"
    ") STRICT;\n"
    "CREATE INDEX idx_rcv_queues_conn ON rcv_queues(conn_id);\n"
    "CREATE TABLE snd_queues(\n"
    "  queue_id INTEGER PRIMARY KEY,\n"
    "  conn_id BLOB NOT NULL REFERENCES connections ON DELETE CASCADE,\n"
    "  server_id INTEGER NOT NULL REFERENCES servers ON DELETE RESTRICT,\n"
    "  snd_id BLOB NOT NULL,\n"
    "  snd_private_key BLOB NOT NULL,\n"
    "  e2e_pub_key BLOB NOT NULL,\n"
    "  e2e_dh_secret BLOB NOT NULL,\n"
    "  status INTEGER NOT NULL CHECK(status BETWEEN 0 AND 4),\n"
    "  smp_client_version INTEGER NOT NULL,\n"
    "  is_primary INTEGER NOT NULL,\n"
    "  replace_queue_id INTEGER,\n"
    "  queue_mode INTEGER NOT NULL DEFAULT 0,\n"
    "  UNIQUE(server_id, snd_id)\n"
    ") STRICT;\n"
    "CREATE INDEX idx_snd_queues_conn ON snd_queues(conn_id);\n"
    "CREATE TABLE ratchets(\n"
    "  conn_id BLOB NOT NULL PRIMARY KEY REFERENCES connections ON DELETE CASCADE,\n"
    "  e2e_version INTEGER NOT NULL,\n"
    "  x3dh_private BLOB,\n"
    "  ratchet_state BLOB\n"
    ") WITHOUT ROWID, STRICT;\n"
    "CREATE TABLE skipped_keys(\n"
    "  conn_id BLOB NOT NULL REFERENCES ratchets ON DELETE CASCADE,\n"
    "  ord INTEGER NOT NULL,\n"
    "  header_key BLOB NOT NULL,\n"
    "  msg_n INTEGER NOT NULL,\n"
    "  msg_key BLOB NOT NULL,\n"
    "  msg_iv BLOB NOT NULL,\n"
    "  PRIMARY KEY(conn_id, ord)\n"
    ") WITHOUT ROWID, STRICT;\n"
    "CREATE TABLE messages(\n"
    "  conn_id BLOB NOT NULL REFERENCES connections ON DELETE CASCADE,\n"
    "  internal_id INTEGER NOT NULL,\n"
    "  created_at INTEGER NOT NULL,\n"
    "  internal_rcv_id INTEGER,\n"
    "  internal_snd_id INTEGER,\n"
    "  msg_type INTEGER NOT NULL,\n"
    "  notification INTEGER NOT NULL,\n"
    "  pq_encryption INTEGER NOT NULL,\n"
    "  body BLOB NOT NULL,\n"
    "  PRIMARY KEY(conn_id, internal_id)\n"
    ") WITHOUT ROWID, STRICT;\n"
    "CREATE TABLE rcv_messages(\n"
    "  conn_id BLOB NOT NULL,\n"
    "  internal_rcv_id INTEGER NOT NULL,\n"
    "  internal_id INTEGER NOT NULL,\n"
    "  rcv_queue_id INTEGER NOT NULL,\n"
    "  external_snd_id INTEGER NOT NULL,\n"
    "  broker_id BLOB NOT NULL,\n"
    "  broker_ts INTEGER NOT NULL,\n"
    "  internal_hash BLOB NOT NULL,\n"
    "  external_prev_snd_hash BLOB NOT NULL,\n"
    "  integrity BLOB NOT NULL,\n"
    "  user_ack INTEGER NOT NULL DEFAULT 0,\n"
    "  PRIMARY KEY(conn_id, internal_rcv_id),\n"
    "  FOREIGN KEY(conn_id, internal_id) REFERENCES messages ON DELETE CASCADE\n"
    ") WITHOUT ROWID, STRICT;\n"
    "CREATE INDEX idx_rcv_messages_broker ON rcv_messages(conn_id, broker_id);\n"
    "CREATE INDEX idx_rcv_messages_msg ON rcv_messages(conn_id, internal_id);\n"
    "CREATE TABLE snd_messages(\n"
    "  conn_id BLOB NOT NULL,\n"
    "  internal_snd_id INTEGER NOT NULL,\n"
    "  internal_id INTEGER NOT NULL,\n"
    "  internal_hash BLOB NOT NULL,\n"
    "  previous_msg_hash BLOB NOT NULL,\n"
    "  msg_encrypt_key BLOB NOT NULL,\n"
    "  padded_msg_len INTEGER NOT NULL,\n"
    "  retry_int_slow INTEGER,\n"
    "  retry_int_fast INTEGER,\n"
    "  rcpt_internal_id INTEGER,\n"
    "  rcpt_status INTEGER,\n"
    "  PRIMARY KEY(conn_id, internal_snd_id),\n"
    "  FOREIGN KEY(conn_id, internal_id) REFERENCES messages ON DELETE CASCADE\n"
    ") WITHOUT ROWID, STRICT;\n"
    "CREATE INDEX idx_snd_messages_msg ON snd_messages(conn_id, internal_id);\n"
    "CREATE TABLE snd_message_deliveries(\n"
    "  delivery_id INTEGER PRIMARY KEY,\n"
    "  conn_id BLOB NOT NULL,\n"
    "  snd_queue_id INTEGER NOT NULL REFERENCES snd_queues ON DELETE CASCADE,\n"
    "  internal_id INTEGER NOT NULL,\n"
    "  failed INTEGER NOT NULL DEFAULT 0,\n"
    "  FOREIGN KEY(conn_id, internal_id) REFERENCES messages ON DELETE CASCADE\n"
    ") STRICT;\n"
    "CREATE INDEX idx_deliveries_queue ON snd_message_deliveries(snd_queue_id, delivery_id);\n"
    "CREATE INDEX idx_deliveries_msg ON snd_message_deliveries(conn_id, internal_id);\n"
    "CREATE TABLE conn_confirmations(\n"
    "  confirmation_id BLOB NOT NULL PRIMARY KEY,\n"
    "  conn_id BLOB NOT NULL REFERENCES connections ON DELETE CASCADE,\n"
    "  e2e_snd_pub_key BLOB NOT NULL,\n"
    "  sender_key BLOB NOT NULL,\n"
    "  ratchet_state BLOB NOT NULL,\n"
    "  sender_conn_info BLOB NOT NULL,\n"
    "  reply_queues BLOB NOT NULL,\n"
    "  smp_client_version INTEGER NOT NULL,\n"
    "  accepted INTEGER NOT NULL DEFAULT 0,\n"
    "  own_conn_info BLOB,\n"
    "  created_at INTEGER NOT NULL\n"
    ") WITHOUT ROWID, STRICT;\n"
    "CREATE INDEX idx_confirmations_conn ON conn_confirmations(conn_id);\n"
    "CREATE TABLE conn_invitations(\n"
    "  invitation_id BLOB NOT NULL PRIMARY KEY,\n"
    "  contact_conn_id BLOB REFERENCES connections ON DELETE SET NULL,\n"
    "  invitation BLOB NOT NULL,\n"
    "  recipient_conn_info BLOB NOT NULL,\n"
    "  accepted INTEGER NOT NULL DEFAULT 0,\n"
    "  own_conn_info BLOB,\n"
    "  created_at INTEGER NOT NULL\n"
    ") WITHOUT ROWID, STRICT;\n"
    "CREATE INDEX idx_invitations_conn ON conn_invitations(contact_conn_id);\n"
    "CREATE TABLE commands(\n"
    "  command_id INTEGER PRIMARY KEY,\n"
    "  conn_id BLOB NOT NULL REFERENCES connections ON DELETE CASCADE,\n"
    "  server_id INTEGER REFERENCES servers ON DELETE RESTRICT,\n"
    "  tag TEXT NOT NULL,\n"
    "  body BLOB NOT NULL,\n"
    "  taken INTEGER NOT NULL DEFAULT 0,\n"
    "  created_at INTEGER NOT NULL\n"
    ") STRICT;\n"
    "CREATE INDEX idx_commands_conn ON commands(conn_id, server_id, command_id);\n";

/* Hashes of received encrypted messages, for telling a re-delivery from a
 * new undecryptable message (docs/AGENT-STORE.md, "Duplicates"). */
static const char M2_RCV_HASHES[] =
    "CREATE TABLE encrypted_rcv_message_hashes(\n"
    "  conn_id BLOB NOT NULL REFERENCES connections ON DELETE CASCADE,\n"
    "  hash BLOB NOT NULL,\n"
    "  created_at INTEGER NOT NULL,\n"
    "  PRIMARY KEY(conn_id, hash)\n"
    ") WITHOUT ROWID, STRICT;\n";

/* Ratchet re-synchronisation (docs/AGENT.md): the hashes of the peer's
 * ratchet keys already acted on, so that a re-delivered key message does
 * not set up the ratchet twice, and our X3DH keys kept beside the ratchet
 * in use until the new one replaces it. */
static const char M3_RATCHET_KEY_HASHES[] =
    "CREATE TABLE processed_ratchet_key_hashes(\n"
    "  conn_id BLOB NOT NULL REFERENCES connections ON DELETE CASCADE,\n"
    "  hash BLOB NOT NULL,\n"
    "  created_at INTEGER NOT NULL,\n"
    "  PRIMARY KEY(conn_id, hash)\n"
    ") WITHOUT ROWID, STRICT;\n"
    "ALTER TABLE ratchets ADD COLUMN sync_x3dh_private BLOB;\n";
/* Delivery receipts (docs/AGENT-STORE.md, "Receipts"): acknowledging a
 * message looks up the sent messages its receipt confirmed. */
static const char M4_RCPT_INDEX[] =
    "CREATE INDEX idx_snd_messages_rcpt ON snd_messages(conn_id, rcpt_internal_id);\n";

/* Queue rotation (docs/AGENT.md, "Queue rotation"): where each side's
 * switch stands, on the queue being replaced; NULL when none runs. The next
 * queue points at that one with replace_queue_id (in the first migration). */
static const char M5_QUEUE_SWITCH[] =
    "ALTER TABLE rcv_queues ADD COLUMN switch_status INTEGER "
    "CHECK(switch_status BETWEEN 1 AND 4);\n"
    "ALTER TABLE snd_queues ADD COLUMN switch_status INTEGER "
    "CHECK(switch_status BETWEEN 1 AND 2);\n"
    "CREATE INDEX idx_rcv_queues_replace ON rcv_queues(replace_queue_id);\n"
    "CREATE INDEX idx_snd_queues_replace ON snd_queues(replace_queue_id);\n";
/* Short links of our connections (docs/AGENT.md, "Short links"): the link
 * id and key, the root signing key (PKCS#8 DER) that signs the user data,
 * and the encrypted fixed data as the router holds it (LSET must repeat it
 * byte for byte); and the sender keys of invitations' short links we are
 * joining, stored before the LKEY that sends them so that a repeated join
 * repeats the same key. */
static const char M6_SHORT_LINKS[] =
    "CREATE TABLE short_links(\n"
    "  conn_id BLOB NOT NULL PRIMARY KEY REFERENCES connections ON DELETE CASCADE,\n"
    "  link_mode INTEGER NOT NULL,\n"
    "  link_id BLOB NOT NULL,\n"
    "  link_key BLOB NOT NULL,\n"
    "  root_private_key BLOB NOT NULL,\n"
    "  enc_fixed_data BLOB NOT NULL,\n"
    "  created_at INTEGER NOT NULL\n"
    ") WITHOUT ROWID, STRICT;\n"
    "CREATE TABLE inv_short_links(\n"
    "  server_id INTEGER NOT NULL REFERENCES servers ON DELETE RESTRICT,\n"
    "  link_id BLOB NOT NULL,\n"
    "  snd_private_key BLOB NOT NULL,\n"
    "  created_at INTEGER NOT NULL,\n"
    "  PRIMARY KEY(server_id, link_id)\n"
    ") WITHOUT ROWID, STRICT;\n";

/* The back-off of a persisted command (docs/AGENT-STORE.md, "Commands"),
 * kept as the deliveries' is in snd_messages.retry_int_fast so that an
 * agent opened again goes on from it; and the indexes of the periodic
 * cleanup (sx_agent_store_cleanup): sent messages and received hashes by
 * age. */
static const char M7_CMD_RETRY_CLEANUP[] =
    "ALTER TABLE commands ADD COLUMN retry_int_fast INTEGER;\n"
    "CREATE INDEX idx_messages_snd_created ON messages(created_at) "
    "WHERE internal_snd_id IS NOT NULL;\n"
    "CREATE INDEX idx_rcv_hashes_created ON encrypted_rcv_message_hashes(created_at);\n"
    "CREATE INDEX idx_ratchet_key_hashes_created ON processed_ratchet_key_hashes(created_at);\n";

/* Deleting a connection after its pending deliveries (docs/AGENT.md,
 * "Deleting after delivery"): when it was marked deleted, for the wait's
 * limit across restarts (the reference's deleted_at_wait_delivery). */
static const char M8_DELETED_AT[] = "ALTER TABLE connections ADD COLUMN deleted_at INTEGER;\n";

/* The caller's correlation id of a command made by an asynchronous call
 * (docs/AGENT.md, "Asynchronous calls"), echoed in the event that reports
 * its end, also when an agent opened again completes it. */
static const char M9_CMD_CORR_ID[] = "ALTER TABLE commands ADD COLUMN corr_id TEXT;\n";

static const sx_agent_migration MIGRATIONS[] = {
    {1, "initial", M1_INITIAL},
    {2, "rcv_message_hashes", M2_RCV_HASHES},
    {3, "ratchet_key_hashes", M3_RATCHET_KEY_HASHES},
    {4, "snd_messages_rcpt_index", M4_RCPT_INDEX},
    {5, "queue_switch", M5_QUEUE_SWITCH},
    {6, "short_links", M6_SHORT_LINKS},
    {7, "command_retry_cleanup", M7_CMD_RETRY_CLEANUP},
    {8, "conn_deleted_at", M8_DELETED_AT},

    {9, "command_corr_id", M9_CMD_CORR_ID},
};

_Static_assert(sizeof MIGRATIONS / sizeof MIGRATIONS[0] == SX_AGENT_STORE_SCHEMA,
               "SX_AGENT_STORE_SCHEMA is the number of the last migration");

const sx_agent_migration *sx_agent_store_migrations(size_t *n)
{
    *n = sizeof MIGRATIONS / sizeof MIGRATIONS[0];
    return MIGRATIONS;
}
