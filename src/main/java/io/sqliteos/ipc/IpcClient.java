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
 * to their queue if it disconnects first. Not thread-safe: one per thread.
 */
public final class IpcClient implements AutoCloseable {

    /** A received message: acknowledge it with {@link #ack(long)}. */
    public record Message(long id, byte[] body) {}

    /** A channel as listed. */
    public record ChannelInfo(String name, String kind, int ownerUid, int mode, long waiting, long inFlight) {}

    private final SocketChannel channel;
    private final InputStream in;
    private final OutputStream out;

    public IpcClient(Path socket) throws IOException {
        channel = SocketChannel.open(StandardProtocolFamily.UNIX);
        channel.connect(UnixDomainSocketAddress.of(socket));
        in = new BufferedInputStream(Channels.newInputStream(channel), 65536);
        out = new BufferedOutputStream(Channels.newOutputStream(channel), 65536);
    }

    private String request(String line, byte[] body) throws IOException {
        out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
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

    public void delete(String name) throws IOException {
        request("DELETE " + name, null);
    }

    public long send(String name, byte[] body) throws IOException {
        return Long.parseLong(request("SEND " + name + " " + body.length, body).substring(3));
    }

    /** Waits up to {@code timeoutMillis} for a message; null when none came. */
    public Message receive(String name, long timeoutMillis) throws IOException {
        String reply = request("RECV " + name + " " + timeoutMillis, null);
        if (reply.equals("NONE")) {
            return null;
        }
        String[] w = reply.split(" ");
        byte[] body = in.readNBytes(Integer.parseInt(w[2]));
        return new Message(Long.parseLong(w[1]), body);
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
                    Long.parseLong(f[4]), Long.parseLong(f[5])));
        }
        return out;
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
