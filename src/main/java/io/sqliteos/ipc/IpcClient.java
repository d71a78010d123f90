package io.sqliteos.ipc;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A Java client of the SQLiteOS IPC service. One client is one connection: the
 * messages it receives are held for it until it acknowledges them, and go back
 * to their queue if it disconnects first; the pipe ends it opens close with it.
 * When the calling process is inside a file-system transaction, its requests
 * are part of it (see {@link #transaction()}). Not thread-safe: one per thread.
 */
public final class IpcClient implements AutoCloseable {

    /** A received message: acknowledge it with {@link #ack(long)}. */
    public record Message(long id, byte[] body) {}

    /** A channel as listed. */
    public record ChannelInfo(String name, String kind, int ownerUid, int mode, long waiting, long inFlight, long capacity) {}

    /** A query's output as the daemon rendered it. */
    public record QueryOutput(long rows, boolean truncated, String text) {}

    private final SocketChannel channel;
    private final InputStream in;
    private final OutputStream out;

    public IpcClient(Path socket) throws IOException {
        channel = SocketChannel.open(StandardProtocolFamily.UNIX);
        channel.connect(UnixDomainSocketAddress.of(socket));
        in = new BufferedInputStream(Channels.newInputStream(channel), 65536);
        out = new BufferedOutputStream(Channels.newOutputStream(channel), 65536);
    }

    /** Sends a request (null: one already written) and reads its reply line; ERR becomes an exception. */
    private String request(String line, byte[] body) throws IOException {
        if (line != null) {
            out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        }
        if (body != null) {
            out.write(body);
        }
        out.flush();
        String reply = IpcServer.readLine(in);
        if (reply == null) {
            throw new EOFException("the daemon closed the connection");
        }
        if (reply.startsWith("ERR ")) {
            String[] parts = reply.split(" ", 3);
            throw new IpcException(IpcException.Code.valueOf(parts[1]), parts.length > 2 ? parts[2] : parts[1]);
        }
        return reply;
    }

    public void create(String name, int mode) throws IOException {
        request("CREATE " + name + " " + Integer.toOctalString(mode), null);
    }

    /** Creates a pipe holding at most {@code capacity} bytes that no reader has taken yet. */
    public void createPipe(String name, int mode, long capacity) throws IOException {
        request("CREATE " + name + " " + Integer.toOctalString(mode) + " pipe " + capacity, null);
    }

    /** The file-system transaction this connection's requests join, or 0. */
    public long transaction() throws IOException {
        String id = request("TX", null).substring(3);
        return id.equals("none") ? 0 : Long.parseLong(id);
    }

    public void delete(String name) throws IOException {
        request("DELETE " + name, null);
    }

    public long send(String name, byte[] body) throws IOException {
        return Long.parseLong(request("SEND " + name + " " + body.length, body).substring(3));
    }

    /** Waits up to {@code timeoutMillis} for a message; null when none came. */
    public Message receive(String name, long timeoutMillis) throws IOException {
        return receive(name, timeoutMillis, 0);
    }

    /**
     * Like {@link #receive(String, long)}; with a lease the message stays held for
     * this user for {@code leaseMillis} even after this connection closes, and any
     * connection of the same user may acknowledge it.
     */
    public Message receive(String name, long timeoutMillis, long leaseMillis) throws IOException {
        String reply = request("RECV " + name + " " + timeoutMillis + (leaseMillis > 0 ? " " + leaseMillis : ""), null);
        if (reply.equals("NONE")) {
            return null;
        }
        String[] w = reply.split(" ");
        return new Message(Long.parseLong(w[1]), readBody(Integer.parseInt(w[2])));
    }

    public void ack(long id) throws IOException {
        request("ACK " + id, null);
    }

    public List<ChannelInfo> list() throws IOException {
        String reply = request("LIST", null);
        int n = Integer.parseInt(reply.substring(3));
        List<ChannelInfo> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String[] f = IpcServer.readLine(in).split(" ");
            out.add(new ChannelInfo(f[0], f[1], Integer.parseInt(f[2]), Integer.parseInt(f[3], 8),
                    Long.parseLong(f[4]), Long.parseLong(f[5]), Long.parseLong(f[6])));
        }
        return out;
    }

    /** Attaches this connection to a pipe as its only writer (or reader). */
    public void openPipe(String name, boolean writer) throws IOException {
        request("OPEN " + name + (writer ? " write" : " read"), null);
    }

    /** Writes all of {@code data} to a pipe opened for writing, waiting while it is full. */
    public void write(String name, byte[] data, int offset, int length) throws IOException {
        out.write(("WRITE " + name + " " + length + "\n").getBytes(StandardCharsets.UTF_8));
        out.write(data, offset, length);
        request(null, null);
    }

    /** Up to {@code max} bytes from a pipe opened for reading; empty at end of file, null after the timeout. */
    public byte[] read(String name, int max, long timeoutMillis) throws IOException {
        String reply = request("READ " + name + " " + max + " " + timeoutMillis, null);
        if (reply.equals("NONE")) {
            return null;
        }
        if (reply.equals("EOF")) {
            return new byte[0];
        }
        return readBody(Integer.parseInt(reply.substring(5)));
    }

    public void closePipe(String name) throws IOException {
        request("CLOSE " + name, null);
    }

    /** Runs a read-only query on the live database (root or the mount's owner). */
    public QueryOutput sql(String query, String format, int maxRows, long timeoutMillis) throws IOException {
        byte[] q = query.getBytes(StandardCharsets.UTF_8);
        String[] w = request("SQL " + format + " " + maxRows + " " + timeoutMillis + " " + q.length, q).split(" ");
        return new QueryOutput(Long.parseLong(w[1]), w[2].equals("truncated"),
                new String(readBody(Integer.parseInt(w[3])), StandardCharsets.UTF_8));
    }

    private byte[] readBody(int length) throws IOException {
        byte[] body = in.readNBytes(length);
        if (body.length != length) {
            throw new EOFException("the daemon closed the connection inside a reply");
        }
        return body;
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
