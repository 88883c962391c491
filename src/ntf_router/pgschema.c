/* The NTF router's PostgreSQL migrations (see pgschema.h): the reference's
 * four at 152c30ca68, by name, each written here as our own SQL for the
 * same tables, indexes, functions and triggers. */
#include "ntf_router/pgschema.h"

/* Tokens, the SMP routers, subscriptions and each token's last
 * notifications. cron_interval is in minutes, cron_sent_at and updated_at
 * in seconds. */
static const char M_INITIAL[] =
    "CREATE TABLE tokens (\n"
    "  token_id BYTEA NOT NULL PRIMARY KEY,\n"
    "  push_provider TEXT NOT NULL,\n"
    "  push_provider_token BYTEA NOT NULL,\n"
    "  status TEXT NOT NULL,\n"
    "  verify_key BYTEA NOT NULL,\n"
    "  dh_priv_key BYTEA NOT NULL,\n"
    "  dh_secret BYTEA NOT NULL,\n"
    "  reg_code BYTEA NOT NULL,\n"
    "  cron_interval BIGINT NOT NULL,\n"
    "  cron_sent_at BIGINT,\n"
    "  updated_at BIGINT\n"
    ");\n"
    "CREATE UNIQUE INDEX idx_tokens_push_provider_token ON tokens (push_provider, push_provider_token, verify_key);\n"
    "CREATE INDEX idx_tokens_status_cron_interval_sent_at\n"
    "  ON tokens (status, cron_interval, (cron_sent_at + cron_interval * 60));\n"
    "CREATE TABLE smp_servers (\n"
    "  smp_server_id BIGINT PRIMARY KEY GENERATED ALWAYS AS IDENTITY,\n"
    "  smp_host TEXT NOT NULL,\n"
    "  smp_port TEXT NOT NULL,\n"
    "  smp_keyhash BYTEA NOT NULL\n"
    ");\n"
    "CREATE UNIQUE INDEX idx_smp_servers ON smp_servers (smp_host, smp_port, smp_keyhash);\n"
    "CREATE TABLE subscriptions (\n"
    "  subscription_id BYTEA NOT NULL PRIMARY KEY,\n"
    "  token_id BYTEA NOT NULL REFERENCES tokens ON DELETE CASCADE ON UPDATE RESTRICT,\n"
    "  smp_server_id BIGINT REFERENCES smp_servers ON DELETE RESTRICT ON UPDATE RESTRICT,\n"
    "  smp_notifier_id BYTEA NOT NULL,\n"
    "  smp_notifier_key BYTEA NOT NULL,\n"
    "  status TEXT NOT NULL\n"
    ");\n"
    "CREATE UNIQUE INDEX idx_subscriptions_smp_server_id_notifier_id\n"
    "  ON subscriptions (smp_server_id, smp_notifier_id);\n"
    "CREATE INDEX idx_subscriptions_smp_server_id_status ON subscriptions (smp_server_id, status);\n"
    "CREATE INDEX idx_subscriptions_token_id ON subscriptions (token_id);\n"
    "CREATE TABLE last_notifications (\n"
    "  token_ntf_id BIGINT PRIMARY KEY GENERATED ALWAYS AS IDENTITY,\n"
    "  token_id BYTEA NOT NULL REFERENCES tokens ON DELETE CASCADE ON UPDATE RESTRICT,\n"
    "  subscription_id BYTEA NOT NULL REFERENCES subscriptions ON DELETE CASCADE ON UPDATE RESTRICT,\n"
    "  sent_at TIMESTAMPTZ NOT NULL,\n"
    "  nmsg_nonce BYTEA NOT NULL,\n"
    "  nmsg_data BYTEA NOT NULL\n"
    ");\n"
    "CREATE INDEX idx_last_notifications_token_id_sent_at ON last_notifications (token_id, sent_at);\n"
    "CREATE INDEX idx_last_notifications_subscription_id ON last_notifications (subscription_id);\n"
    "CREATE UNIQUE INDEX idx_last_notifications_token_subscription\n"
    "  ON last_notifications (token_id, subscription_id);\n";

/* The notifier service: its id per SMP router and whether a subscription
 * is associated with it. */
static const char M_SERVICE_CERT[] =
    "ALTER TABLE smp_servers ADD COLUMN ntf_service_id BYTEA;\n"
    "ALTER TABLE subscriptions ADD COLUMN ntf_service_assoc BOOLEAN NOT NULL DEFAULT FALSE;\n"
    "DROP INDEX idx_subscriptions_smp_server_id_status;\n"
    "CREATE INDEX idx_subscriptions_smp_server_id_ntf_service_status\n"
    "  ON subscriptions (smp_server_id, ntf_service_assoc, status);\n";
static const char D_SERVICE_CERT[] =
    "DROP INDEX idx_subscriptions_smp_server_id_ntf_service_status;\n"
    "CREATE INDEX idx_subscriptions_smp_server_id_status ON subscriptions (smp_server_id, status);\n"
    "ALTER TABLE smp_servers DROP COLUMN ntf_service_id;\n"
    "ALTER TABLE subscriptions DROP COLUMN ntf_service_assoc;\n";

/* Per SMP router, the count and XOR of the MD5 of the notifier ids of the
 * service-associated subscriptions that are to be subscribed, kept by
 * triggers (pgcrypto's digest() in schema public). */
static const char M_QUEUE_IDS_HASH[] =
    "CREATE OR REPLACE FUNCTION xor_combine(state BYTEA, value BYTEA) RETURNS BYTEA\n"
    "LANGUAGE plpgsql IMMUTABLE STRICT AS $$\n"
    "DECLARE\n"
    "  acc BYTEA := state;\n"
    "  n INTEGER := octet_length(value);\n"
    "BEGIN\n"
    "  IF octet_length(state) <> n THEN\n"
    "    RAISE EXCEPTION 'Inputs must be equal length (% != %)', octet_length(state), n;\n"
    "  END IF;\n"
    "  FOR i IN 0 .. n - 1 LOOP\n"
    "    acc := set_byte(acc, i, get_byte(state, i) # get_byte(value, i));\n"
    "  END LOOP;\n"
    "  RETURN acc;\n"
    "END;\n"
    "$$;\n"
    "CREATE OR REPLACE AGGREGATE xor_aggregate(BYTEA) (\n"
    "  SFUNC = xor_combine, STYPE = BYTEA, INITCOND = '\\x00000000000000000000000000000000'\n"
    ");\n"
    "ALTER TABLE smp_servers\n"
    "  ADD COLUMN smp_notifier_count BIGINT NOT NULL DEFAULT 0,\n"
    "  ADD COLUMN smp_notifier_ids_hash BYTEA NOT NULL DEFAULT '\\x00000000000000000000000000000000';\n"
    "CREATE FUNCTION should_subscribe_status(p_status TEXT) RETURNS BOOLEAN\n"
    "LANGUAGE plpgsql IMMUTABLE STRICT AS $$\n"
    "BEGIN\n"
    "  RETURN p_status IN ('NEW', 'PENDING', 'ACTIVE', 'INACTIVE');\n"
    "END;\n"
    "$$;\n"
    "CREATE FUNCTION update_all_aggregates() RETURNS VOID\n"
    "LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  WITH per_server AS (\n"
    "    SELECT s.smp_server_id, count(s.smp_notifier_id) AS notifier_count,\n"
    "      xor_aggregate(public.digest(s.smp_notifier_id, 'md5')) AS notifier_hash\n"
    "    FROM subscriptions s\n"
    "    WHERE s.ntf_service_assoc = true AND should_subscribe_status(s.status)\n"
    "    GROUP BY s.smp_server_id\n"
    "  )\n"
    "  UPDATE smp_servers srv\n"
    "  SET smp_notifier_count = COALESCE(per_server.notifier_count, 0),\n"
    "      smp_notifier_ids_hash = COALESCE(per_server.notifier_hash, '\\x00000000000000000000000000000000')\n"
    "  FROM per_server\n"
    "  WHERE srv.smp_server_id = per_server.smp_server_id;\n"
    "END;\n"
    "$$;\n"
    "SELECT update_all_aggregates();\n"
    "CREATE FUNCTION update_aggregates(p_server_id BIGINT, p_change BIGINT, p_notifier_id BYTEA) RETURNS VOID\n"
    "LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  UPDATE smp_servers\n"
    "  SET smp_notifier_count = smp_notifier_count + p_change,\n"
    "      smp_notifier_ids_hash = xor_combine(smp_notifier_ids_hash, public.digest(p_notifier_id, 'md5'))\n"
    "  WHERE smp_server_id = p_server_id;\n"
    "END;\n"
    "$$;\n"
    "CREATE FUNCTION on_subscription_insert() RETURNS TRIGGER\n"
    "LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  IF NEW.ntf_service_assoc = true AND should_subscribe_status(NEW.status) THEN\n"
    "    PERFORM update_aggregates(NEW.smp_server_id, 1, NEW.smp_notifier_id);\n"
    "  END IF;\n"
    "  RETURN NEW;\n"
    "END;\n"
    "$$;\n"
    "CREATE FUNCTION on_subscription_delete() RETURNS TRIGGER\n"
    "LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  IF OLD.ntf_service_assoc = true AND should_subscribe_status(OLD.status) THEN\n"
    "    PERFORM update_aggregates(OLD.smp_server_id, -1, OLD.smp_notifier_id);\n"
    "  END IF;\n"
    "  RETURN OLD;\n"
    "END;\n"
    "$$;\n"
    "CREATE FUNCTION on_subscription_update() RETURNS TRIGGER\n"
    "LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  IF OLD.ntf_service_assoc = true AND should_subscribe_status(OLD.status) THEN\n"
    "    IF NOT (NEW.ntf_service_assoc = true AND should_subscribe_status(NEW.status)) THEN\n"
    "      PERFORM update_aggregates(OLD.smp_server_id, -1, OLD.smp_notifier_id);\n"
    "    END IF;\n"
    "  ELSIF NEW.ntf_service_assoc = true AND should_subscribe_status(NEW.status) THEN\n"
    "    PERFORM update_aggregates(NEW.smp_server_id, 1, NEW.smp_notifier_id);\n"
    "  END IF;\n"
    "  RETURN NEW;\n"
    "END;\n"
    "$$;\n"
    "CREATE TRIGGER tr_subscriptions_insert AFTER INSERT ON subscriptions\n"
    "  FOR EACH ROW EXECUTE PROCEDURE on_subscription_insert();\n"
    "CREATE TRIGGER tr_subscriptions_delete AFTER DELETE ON subscriptions\n"
    "  FOR EACH ROW EXECUTE PROCEDURE on_subscription_delete();\n"
    "CREATE TRIGGER tr_subscriptions_update AFTER UPDATE ON subscriptions\n"
    "  FOR EACH ROW EXECUTE PROCEDURE on_subscription_update();\n";
static const char D_QUEUE_IDS_HASH[] = "DROP TRIGGER tr_subscriptions_insert ON subscriptions;\n"
                                       "DROP TRIGGER tr_subscriptions_delete ON subscriptions;\n"
                                       "DROP TRIGGER tr_subscriptions_update ON subscriptions;\n"
                                       "DROP FUNCTION on_subscription_insert;\n"
                                       "DROP FUNCTION on_subscription_delete;\n"
                                       "DROP FUNCTION on_subscription_update;\n"
                                       "DROP FUNCTION update_aggregates;\n"
                                       "DROP FUNCTION update_all_aggregates;\n"
                                       "DROP FUNCTION should_subscribe_status;\n"
                                       "ALTER TABLE smp_servers\n"
                                       "  DROP COLUMN smp_notifier_count,\n"
                                       "  DROP COLUMN smp_notifier_ids_hash;\n"
                                       "DROP AGGREGATE xor_aggregate(BYTEA);\n"
                                       "DROP FUNCTION xor_combine;\n";

/* The service's certificate and key per SMP router; every association is
 * reset (without the update trigger) and the aggregates cleared, both ways. */
#define RESET_NTF_SERVICES                                                 \
    "ALTER TABLE subscriptions DISABLE TRIGGER tr_subscriptions_update;\n" \
    "UPDATE subscriptions SET ntf_service_assoc = FALSE;\n"                \
    "ALTER TABLE subscriptions ENABLE TRIGGER tr_subscriptions_update;\n"  \
    "UPDATE smp_servers\n"                                                 \
    "SET ntf_service_id = NULL, smp_notifier_count = 0, smp_notifier_ids_hash = DEFAULT;\n"
static const char M_SERVICE_CERT_PER_SERVER[] = "ALTER TABLE smp_servers\n"
                                                "  ADD COLUMN ntf_service_cert BYTEA,\n"
                                                "  ADD COLUMN ntf_service_cert_hash BYTEA,\n"
                                                "  ADD COLUMN ntf_service_priv_key BYTEA;\n" RESET_NTF_SERVICES;
static const char D_SERVICE_CERT_PER_SERVER[] = "ALTER TABLE smp_servers\n"
                                                "  DROP COLUMN ntf_service_cert,\n"
                                                "  DROP COLUMN ntf_service_cert_hash,\n"
                                                "  DROP COLUMN ntf_service_priv_key;\n" RESET_NTF_SERVICES;

static const sx_pg_migration MIGRATIONS[] = {
    {"20250417_initial", M_INITIAL, NULL},
    {"20250517_service_cert", M_SERVICE_CERT, D_SERVICE_CERT},
    {"20250830_queue_ids_hash", M_QUEUE_IDS_HASH, D_QUEUE_IDS_HASH},
    {"20251219_service_cert_per_server", M_SERVICE_CERT_PER_SERVER, D_SERVICE_CERT_PER_SERVER},
};

const sx_pg_migration *sx_ntf_pg_migrations(size_t *n)
{
    *n = sizeof MIGRATIONS / sizeof MIGRATIONS[0];
    return MIGRATIONS;
}

void sx_ntf_pg_cfg(sx_pgdb_cfg *c)
{
    c->migrations = sx_ntf_pg_migrations(&c->n_migrations);
    c->pgcrypto_at = "20250830_queue_ids_hash";
    c->absent_hint = "the NTF router's store is the database";
}
