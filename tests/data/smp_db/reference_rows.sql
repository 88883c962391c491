-- Rows of an SMP router's PostgreSQL store (schema smp_server) written by
-- hand in the encoding the reference's queue and message stores use
-- (simplexmq 152c30ca68, Server/QueueStore/Postgres.hs and
-- MsgStore/Postgres.hs), to be loaded into a schema our router has
-- migrated (the same tables). Loaded by tests/integration/test_smp_db_fixture.sh,
-- which holds the private keys of these rows in its queue files.
--
-- The encodings, column by column:
--   recipient_id, sender_id, notifier_id, msg_id: the 24 bytes of the id
--   recipient_keys: a list: one byte with the number of keys, then each key
--     as one length byte and its X.509 SubjectPublicKeyInfo (DER); Ed25519
--     keys are 44 bytes (302a300506032b6570032100 + the 32-byte key)
--   sender_key, notifier_key: the SubjectPublicKeyInfo alone (no length)
--   rcv_dh_secret, rcv_ntf_dh_secret: the 32 bytes of the X25519 secret
--   status: text, 'active' (or 'blocked,' and the blocking information)
--   queue_mode: text, 'M' (messaging) or 'C' (contact)
--   updated_at, deleted_at, msg_ts: unix seconds (updated_at on a day)
--   msg_queue_size: the messages in the messages table for the queue;
--     msg_can_write and msg_queue_expire as the reference leaves them after
--     writing them
--   messages: msg_quota false and msg_ntf_flag as sent; msg_body the body
--     as the sender sent it; message_id from the table's identity column
-- Ids as base64url (the queue files): rid1 5onAQpoh35t-gTKa6eH-8JrV-pHANYH1,
-- sid1 3Npg3r3C-nZqdasAzsYA1RsyLBLCmVE4, rid2 S-8jLMYf82yzUTD8Jcobu7ofhvuRPcIq,
-- sid2 SiJamosNcN3VSHs_xRnPkO6GycHqjJ0C, sid3 84rkvn0Fv75Eih285wL0LuvG_tjbqqzZ.

SET search_path TO smp_server;

-- 1: secured by its sender, two messages waiting
INSERT INTO msg_queues (recipient_id, recipient_keys, rcv_dh_secret, sender_id, sender_key,
                        status, updated_at, queue_mode, msg_can_write, msg_queue_expire, msg_queue_size)
VALUES ('\xe689c0429a21df9b7e81329ae9e1fef09ad5fa91c03581f5',
        '\x012c302a300506032b6570032100047292f18b745ecd3fd2f3f7bc378ebef27ab45e32f48c1469a2463c6c56feee',
        '\xa5cb8acc841c891862529caaea1a89a8ea86190d178b4001aba30890f23b1efd',
        '\xdcda60debdc2fa766a75ab00cec600d51b322c12c2995138',
        '\x302a300506032b6570032100c36002a2bbea4a1d4269df8706b3cfa0a963f65c9749808ffbf4454d55dfebcc',
        'active', 1764979200, 'M', TRUE, TRUE, 2);
INSERT INTO messages (recipient_id, msg_id, msg_ts, msg_quota, msg_ntf_flag, msg_body)
VALUES ('\xe689c0429a21df9b7e81329ae9e1fef09ad5fa91c03581f5', '\xbca4c97fd57d169e93ab6f911d221da440d051b211ac0b55', 1764982800, FALSE, FALSE,
        '\x746865206669727374206d6573736167652c20696e206120726f7720617320746865207265666572656e636520777269746573206974'),
       ('\xe689c0429a21df9b7e81329ae9e1fef09ad5fa91c03581f5', '\xf112f29419764030774d302f57d0c5be90df76ba9d0e6846', 1764982801, FALSE, TRUE,
        '\x746865207365636f6e64206f6e65200001ff2062696e617279');

-- 2: not secured yet, with a notifier
INSERT INTO msg_queues (recipient_id, recipient_keys, rcv_dh_secret, sender_id, sender_key,
                        notifier_id, notifier_key, rcv_ntf_dh_secret, status, updated_at, queue_mode)
VALUES ('\x4bef232cc61ff36cb35130fc25ca1bbbba1f86fb913dc22a',
        '\x012c302a300506032b6570032100f7348a44ae1d646314b3072ae613adbc64770036bdfe6e14ddeef7b9081d0c54',
        '\x01a872c1dd9ee15dfbe5859a2e9f37b51e4805c792a481c7d484372e7c6d046d',
        '\x4a225a9a8b0d70ddd5487b3fc519cf90ee86c9c1ea8c9d02',
        NULL,
        '\xfa89fab725228613844c525b7d73c119a38b061e52a173f2',
        '\x302a300506032b65700321006d633de31331efec1cb0e192ba5a21e323eb236868603d24f2b55326c94dd2c6',
        '\x1d9d357ad7cebf7e01630d5d49d004c72b24850cb3f840382acbfbd8cb396950',
        'active', 1764979200, 'M');

-- 3: deleted (its row kept for db_deleted_ttl)
INSERT INTO msg_queues (recipient_id, recipient_keys, rcv_dh_secret, sender_id, status, updated_at, deleted_at, queue_mode)
VALUES ('\x53aaf81ae4ca9d348a592bccd6636ef129645a1041719b6a',
        '\x012c302a300506032b6570032100f7348a44ae1d646314b3072ae613adbc64770036bdfe6e14ddeef7b9081d0c54',
        '\x71ce5802aa1c67bbdcaf94198267da0cdfb252a3d6d93821317bae11c9d3374d',
        '\xf38ae4be7d05bfbe448a1dbce702f42eebc6fed8dbaaacd9',
        'active', 1764979200, 1764986400, 'M');
