-- SQLiteOS data model, version 3: pipes beside queues, and leased messages.

-- A channel is a queue of messages or a pipe (a byte stream whose bytes wait in
-- ipc_message as chunks in write order). capacity bounds the bytes a pipe holds;
-- it is NULL for queues. SQLite cannot widen a CHECK in place, so the table is
-- rebuilt (the daemon runs with foreign_keys off, so messages stay put).
CREATE TABLE ipc_channel_v3 (
  name       TEXT    PRIMARY KEY,
  kind       TEXT    NOT NULL CHECK (kind IN ('queue', 'pipe')),
  owner_uid  INTEGER NOT NULL,
  mode       INTEGER NOT NULL,
  created_ns INTEGER NOT NULL,
  capacity   INTEGER CHECK (capacity IS NULL OR capacity > 0)
);
INSERT INTO ipc_channel_v3 (name, kind, owner_uid, mode, created_ns)
  SELECT name, kind, owner_uid, mode, created_ns FROM ipc_channel;
DROP TABLE ipc_channel;
ALTER TABLE ipc_channel_v3 RENAME TO ipc_channel;

-- Messages get ids that are never reused (AUTOINCREMENT), so that a late
-- acknowledgement cannot hit a newer message. A message received with a lease
-- is held by 'lease:UID' until lease_until_ns (wall clock, ns): acknowledged by
-- that user from any connection before then, or delivered again after.
CREATE TABLE ipc_message_v3 (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  channel        TEXT    NOT NULL REFERENCES ipc_channel(name) ON DELETE CASCADE,
  body           BLOB    NOT NULL,
  sent_ns        INTEGER NOT NULL,
  receiver       TEXT,
  received_ns    INTEGER,
  lease_until_ns INTEGER
);
INSERT INTO ipc_message_v3 (id, channel, body, sent_ns, receiver, received_ns)
  SELECT id, channel, body, sent_ns, receiver, received_ns FROM ipc_message;
DROP TABLE ipc_message;
ALTER TABLE ipc_message_v3 RENAME TO ipc_message;
CREATE INDEX ipc_message_waiting ON ipc_message(channel, receiver, id);
CREATE INDEX ipc_message_leased ON ipc_message(lease_until_ns) WHERE lease_until_ns IS NOT NULL;
