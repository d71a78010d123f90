package io.sqliteos.db;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * The IPC tables (schema 002) on a connection of their own. Every method is one
 * committed transaction; the methods are serialised, which is what a single
 * SQLite writer does anyway.
 */
public final class IpcStore implements AutoCloseable {

    /** A channel and how many messages wait in it and are in flight. */
    public record Channel(String name, String kind, int ownerUid, int mode, long waiting, long inFlight) {}

    /** A received message. */
    public record Message(long id, byte[] body) {}

    private final Connection c;

    IpcStore(Connection connection) {
        this.c = connection;
    }

    private static long now() {
        java.time.Instant t = java.time.Instant.now();
        return t.getEpochSecond() * 1_000_000_000L + t.getNano();
    }

    private interface Body<T> {
        T run() throws SQLException;
    }

    private synchronized <T> T transaction(Body<T> body) {
        try {
            try (Statement st = c.createStatement()) {
                st.execute("BEGIN IMMEDIATE");
            }
            try {
                T result = body.run();
                try (Statement st = c.createStatement()) {
                    st.execute("COMMIT");
                }
                return result;
            } catch (SQLException | RuntimeException e) {
                try (Statement st = c.createStatement()) {
                    st.execute("ROLLBACK");
                } catch (SQLException ignored) {
                    // SQLite may have rolled back already
                }
                throw e;
            }
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }

    /** Creates a channel; false if the name is taken. */
    public boolean create(String name, int ownerUid, int mode) {
        return transaction(() -> {
            try (PreparedStatement ps = c.prepareStatement(
                    "INSERT OR IGNORE INTO ipc_channel (name, kind, owner_uid, mode, created_ns) VALUES (?, 'queue', ?, ?, ?)")) {
                ps.setString(1, name);
                ps.setInt(2, ownerUid);
                ps.setInt(3, mode);
                ps.setLong(4, now());
                return ps.executeUpdate() == 1;
            }
        });
    }

    /** The channel, or null. */
    public Channel channel(String name) {
        List<Channel> found = channels(name);
        return found.isEmpty() ? null : found.get(0);
    }

    /** All channels (or the one named), with their message counts. */
    public List<Channel> channels(String onlyName) {
        return transaction(() -> {
            String sql = "SELECT c.name, c.kind, c.owner_uid, c.mode,"
                    + " (SELECT count(*) FROM ipc_message m WHERE m.channel = c.name AND m.receiver IS NULL),"
                    + " (SELECT count(*) FROM ipc_message m WHERE m.channel = c.name AND m.receiver IS NOT NULL)"
                    + " FROM ipc_channel c" + (onlyName != null ? " WHERE c.name = ?" : "") + " ORDER BY c.name";
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                if (onlyName != null) {
                    ps.setString(1, onlyName);
                }
                List<Channel> out = new ArrayList<>();
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        out.add(new Channel(rs.getString(1), rs.getString(2), rs.getInt(3), rs.getInt(4), rs.getLong(5), rs.getLong(6)));
                    }
                }
                return out;
            }
        });
    }

    /** Deletes a channel and its messages; false if there was none. */
    public boolean delete(String name) {
        return transaction(() -> {
            try (PreparedStatement m = c.prepareStatement("DELETE FROM ipc_message WHERE channel = ?");
                 PreparedStatement ch = c.prepareStatement("DELETE FROM ipc_channel WHERE name = ?")) {
                m.setString(1, name);
                m.executeUpdate();
                ch.setString(1, name);
                return ch.executeUpdate() == 1;
            }
        });
    }

    /** Appends a message and returns its id. */
    public long send(String channel, byte[] body) {
        return transaction(() -> {
            try (PreparedStatement ps = c.prepareStatement(
                    "INSERT INTO ipc_message (channel, body, sent_ns) VALUES (?, ?, ?) RETURNING id")) {
                ps.setString(1, channel);
                ps.setBytes(2, body);
                ps.setLong(3, now());
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    return rs.getLong(1);
                }
            }
        });
    }

    /** Takes the oldest waiting message for {@code receiver}, or null when none waits. */
    public Message claim(String channel, String receiver) {
        return transaction(() -> {
            try (PreparedStatement ps = c.prepareStatement("UPDATE ipc_message SET receiver = ?, received_ns = ?"
                    + " WHERE id = (SELECT id FROM ipc_message WHERE channel = ? AND receiver IS NULL ORDER BY id LIMIT 1)"
                    + " RETURNING id, body")) {
                ps.setString(1, receiver);
                ps.setLong(2, now());
                ps.setString(3, channel);
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next() ? new Message(rs.getLong(1), rs.getBytes(2)) : null;
                }
            }
        });
    }

    /** Acknowledges (deletes) a message the receiver holds; false if it holds no such message. */
    public boolean ack(long id, String receiver) {
        return transaction(() -> {
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM ipc_message WHERE id = ? AND receiver = ?")) {
                ps.setLong(1, id);
                ps.setString(2, receiver);
                return ps.executeUpdate() == 1;
            }
        });
    }

    /** Puts the receiver's unacknowledged messages back in their queues; returns how many. */
    public int release(String receiver) {
        return transaction(() -> {
            try (PreparedStatement ps = c.prepareStatement(
                    "UPDATE ipc_message SET receiver = NULL, received_ns = NULL WHERE receiver = ?")) {
                ps.setString(1, receiver);
                return ps.executeUpdate();
            }
        });
    }

    /** At start-up: every message in flight when the daemon stopped is delivered again. */
    public int releaseAll() {
        return transaction(() -> {
            try (Statement st = c.createStatement()) {
                return st.executeUpdate("UPDATE ipc_message SET receiver = NULL, received_ns = NULL WHERE receiver IS NOT NULL");
            }
        });
    }

    @Override
    public synchronized void close() {
        try {
            c.close();
        } catch (SQLException e) {
            throw StoreException.wrap(e);
        }
    }
}
