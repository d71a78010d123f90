-- SQLiteOS data model, version 2: IPC queues in the same database as the files.

-- A named channel. mode holds permission bits as for files: the owner, members
-- of no group (the daemon sees only the peer's user) and others; write permits
-- send, read permits receive.
CREATE TABLE ipc_channel (
  name       TEXT    PRIMARY KEY,
  kind       TEXT    NOT NULL CHECK (kind IN ('queue')),
  owner_uid  INTEGER NOT NULL,
  mode       INTEGER NOT NULL,
  created_ns INTEGER NOT NULL
);

-- Messages in send order. receiver is NULL while a message waits; a receiving
-- connection's id while it is in flight. Acknowledging deletes the message; a
-- receiver that goes away puts its in-flight messages back (receiver = NULL).
CREATE TABLE ipc_message (
  id          INTEGER PRIMARY KEY,
  channel     TEXT    NOT NULL REFERENCES ipc_channel(name) ON DELETE CASCADE,
  body        BLOB    NOT NULL,
  sent_ns     INTEGER NOT NULL,
  receiver    TEXT,
  received_ns INTEGER
);
CREATE INDEX ipc_message_waiting ON ipc_message(channel, receiver, id);
