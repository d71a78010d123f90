package io.sqliteos.ipc;

import io.sqliteos.db.StoreException;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.atomic.AtomicLong;
import io.sqliteos.db.MessageStore;
import io.sqliteos.db.ReadOnlyQuery;
import io.sqliteos.query.ResultFormat;
import io.sqliteos.tx.ProcessSessions;
import jnr.unixsocket.Credentials;
import jnr.unixsocket.UnixServerSocketChannel;
import jnr.unixsocket.UnixSocketAddress;
import jnr.unixsocket.UnixSocketChannel;
import jnr.unixsocket.UnixSocketOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The IPC service on a Unix domain socket (owner-only by default), one thread
 * per connection, speaking the line protocol of docs/ipc-protocol.md. Who the
 * peer is (user and process) comes from the kernel (SO_PEERCRED) when it
 * connects, never from a request.
 */
public final class IpcServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(IpcServer.class);
    static final int MAX_LINE = 4096;
    /** A client that takes no reply bytes for this long is dropped, and what it held goes back. */
    static final int REPLY_TIMEOUT_MS = 10_000;

    private final IpcService service;
    private final Path socket;
    private final UnixServerSocketChannel server;
    private final Thread acceptor;
    private final AtomicLong connections = new AtomicLong();
    private final String instance = Long.toHexString(System.nanoTime());
    private volatile boolean closed;

    private IpcServer(IpcService service, Path socket, UnixServerSocketChannel server) {
        this.service = service;
        this.socket = socket;
        this.server = server;
        this.acceptor = new Thread(this::acceptLoop, "sqliteos-ipc-accept");
        acceptor.setDaemon(true);
    }

    /** Binds the socket with the given permissions (e.g. "rw-------") and starts serving. */
    public static IpcServer start(IpcService service, Path socket, String permissions) throws IOException {
        Files.createDirectories(socket.toAbsolutePath().getParent());
        if (Files.exists(socket)) {
            try (UnixSocketChannel probe = UnixSocketChannel.open(new UnixSocketAddress(socket.toFile()))) {
                throw new IOException("another daemon serves " + socket);
            } catch (IOException e) {
                if (e.getMessage() != null && e.getMessage().startsWith("another daemon")) {
                    throw e;
                }
                Files.delete(socket); // a stale socket of a daemon that died
            }
        }
        // bind under a temporary name, set the permissions, then rename: never reachable with looser ones
        Path staging = socket.resolveSibling(".staging-" + socket.getFileName() + "-" + ProcessHandle.current().pid());
        Files.deleteIfExists(staging);
        UnixServerSocketChannel server = UnixServerSocketChannel.open();
        server.socket().bind(new UnixSocketAddress(staging.toFile()), 512);
        Files.setPosixFilePermissions(staging, PosixFilePermissions.fromString(permissions));
        Files.move(staging, socket, StandardCopyOption.ATOMIC_MOVE);
        IpcServer s = new IpcServer(service, socket, server);
        s.acceptor.start();
        return s;
    }

    public Path socket() {
        return socket;
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                UnixSocketChannel client = server.accept();
                if (client == null) {
                    continue;
                }
                long n = connections.incrementAndGet();
                Thread t = new Thread(null, () -> serve(client, n), "sqliteos-ipc-" + n, 256 << 10);
                t.setDaemon(true);
                try {
                    t.start();
                } catch (OutOfMemoryError e) {
                    client.close(); // no thread to serve it: the client sees the connection close
                    throw e;
                }
            } catch (IOException | OutOfMemoryError e) {
                if (!closed) {
                    // e.g. out of descriptors or threads: refuse newcomers for a moment, keep serving the rest
                    log.warn("ipc accept failed: {}", e.getMessage());
                    try {
                        Thread.sleep(100);
                    } catch (InterruptedException ie) {
                        return;
                    }
                }
            }
        }
    }

    private void serve(UnixSocketChannel client, long number) {
        Peer peer = null;
        try (client) {
            Credentials cred = client.getOption(UnixSocketOptions.SO_PEERCRED);
            peer = new Peer(cred.getUid(), cred.getPid(), ProcessSessions.startTime(cred.getPid()),
                    instance + ":" + number);
            SendTimeout.set(client, REPLY_TIMEOUT_MS);
            InputStream in = new BufferedInputStream(Channels.newInputStream(client), 65536);
            OutputStream out = new BufferedOutputStream(replies(client), 65536);
            while (!closed) {
                String line = "";
                try {
                    line = readLine(in);
                    if (line == null) {
                        return;
                    }
                    handle(line, in, out, peer);
                } catch (IpcException e) {
                    log.info("ipc request '{}' of uid {} (pid {}) refused: {} {}", firstWord(line), peer.uid(), peer.pid(),
                            e.code(), e.getMessage());
                    reply(out, "ERR " + e.code() + " " + e.getMessage());
                    if (e.code() == IpcException.Code.BADREQUEST || e.code() == IpcException.Code.TOOBIG) {
                        log.info("ipc connection {} (uid {}, pid {}) dropped: {}", number, peer.uid(), peer.pid(), e.getMessage());
                        return; // the framing can no longer be trusted
                    }
                } catch (StoreException e) {
                    log.warn("ipc request '{}' failed: {}", firstWord(line), e.getMessage());
                    reply(out, "ERR " + (e.kind() == StoreException.Kind.BUSY ? "BUSY" : "INTERNAL") + " " + e.getMessage());
                }
            }
        } catch (EOFException e) {
            log.debug("ipc connection {} closed mid-request", number);
        } catch (StalledClientException e) {
            log.info("ipc connection {} (uid {}, pid {}) dropped: {}", number, peer.uid(), peer.pid(), e.getMessage());
        } catch (IOException e) {
            log.debug("ipc connection {}: {}", number, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            log.error("ipc connection {} failed", number, e);
        } finally {
            if (peer != null) {
                service.disconnected(peer);
            }
        }
    }

    /** A client that stopped reading its replies. */
    private static final class StalledClientException extends IOException {
        StalledClientException() {
            super("it has read no reply bytes for " + REPLY_TIMEOUT_MS + " ms");
        }
    }

    /** Replies to a client; a send that times out (SO_SNDTIMEO) means the client is not reading. */
    private static OutputStream replies(UnixSocketChannel client) {
        return new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                java.nio.ByteBuffer buf = java.nio.ByteBuffer.wrap(b, off, len);
                while (buf.hasRemaining()) {
                    if (client.write(buf) <= 0) {
                        throw new StalledClientException();
                    }
                }
            }
        };
    }

    private static String firstWord(String line) {
        int sp = line.indexOf(' ');
        return sp < 0 ? line : line.substring(0, sp);
    }

    private void handle(String line, InputStream in, OutputStream out, Peer peer)
            throws IOException, InterruptedException {
        String[] w = line.split(" ");
        switch (w[0]) {
            case "PING" -> reply(out, "OK");
            case "TX" -> {
                args(w, 1, 1);
                long tx = service.transactionId(peer);
                reply(out, tx == 0 ? "OK none" : "OK " + tx);
            }
            case "CREATE" -> {
                args(w, 2, 5);
                int mode = w.length >= 3 ? parseOctal(w[2]) : 0600;
                String kind = w.length >= 4 ? w[3] : "queue";
                if (!kind.equals("queue") && !kind.equals("pipe")) {
                    throw new IpcException(IpcException.Code.BADREQUEST, "a channel is a queue or a pipe, not " + kind);
                }
                if (w.length == 5 && kind.equals("queue")) {
                    throw new IpcException(IpcException.Code.BADREQUEST, "only pipes have a capacity");
                }
                long capacity = w.length == 5 ? parseLong(w[4]) : IpcService.DEFAULT_PIPE_CAPACITY;
                service.create(peer, w[1], mode, kind.equals("pipe"), capacity);
                reply(out, "OK");
            }
            case "DELETE" -> {
                args(w, 2, 2);
                service.delete(peer, w[1]);
                reply(out, "OK");
            }
            case "LIST" -> {
                args(w, 1, 1);
                var channels = service.list(peer);
                StringBuilder sb = new StringBuilder("OK " + channels.size());
                for (MessageStore.ChannelRow c : channels) {
                    sb.append('\n').append(c.name()).append(' ').append(c.kind()).append(' ').append(c.ownerUid())
                            .append(' ').append(Integer.toOctalString(c.mode())).append(' ').append(c.waiting())
                            .append(' ').append(c.inFlight()).append(' ').append(c.capacity());
                }
                reply(out, sb.toString());
            }
            case "SEND" -> {
                args(w, 3, 3);
                reply(out, "OK " + service.send(peer, w[1], body(in, w[2])));
            }
            case "RECV" -> {
                args(w, 3, 4);
                long lease = w.length == 4 ? parseLong(w[3]) : 0;
                MessageStore.MessageRow m = service.receive(peer, w[1], parseLong(w[2]), lease);
                if (m == null) {
                    reply(out, "NONE");
                } else {
                    replyWithBody(out, "MSG " + m.id() + " " + m.body().length, m.body());
                }
            }
            case "ACK" -> {
                args(w, 2, 2);
                service.ack(peer, parseLong(w[1]));
                reply(out, "OK");
            }
            case "OPEN" -> {
                args(w, 3, 3);
                if (!w[2].equals("read") && !w[2].equals("write")) {
                    throw new IpcException(IpcException.Code.BADREQUEST, "open a pipe to read or to write, not " + w[2]);
                }
                service.open(peer, w[1], w[2].equals("write"));
                reply(out, "OK");
            }
            case "WRITE" -> {
                args(w, 3, 3);
                service.write(peer, w[1], body(in, w[2]));
                reply(out, "OK");
            }
            case "READ" -> {
                args(w, 4, 4);
                byte[] data = service.read(peer, w[1], (int) Math.min(Integer.MAX_VALUE, parseLong(w[2])), parseLong(w[3]));
                if (data == null) {
                    reply(out, "NONE");
                } else if (data.length == 0) {
                    reply(out, "EOF");
                } else {
                    replyWithBody(out, "DATA " + data.length, data);
                }
            }
            case "CLOSE" -> {
                args(w, 2, 2);
                service.closePipe(peer, w[1]);
                reply(out, "OK");
            }
            case "SQL" -> {
                args(w, 5, 5);
                ResultFormat format = ResultFormat.named(w[1]);
                if (format == null) {
                    throw new IpcException(IpcException.Code.BADREQUEST, "SQL output is table, csv or json, not " + w[1]);
                }
                int maxRows = (int) Math.min(Integer.MAX_VALUE, parseLong(w[2]));
                long timeout = parseLong(w[3]);
                String query = new String(body(in, w[4]), StandardCharsets.UTF_8);
                service.requireDatabaseReader(peer);
                String refused = ReadOnlyQuery.refusal(query);
                if (refused != null) {
                    throw new IpcException(IpcException.Code.SQL, "refused: " + refused);
                }
                ReadOnlyQuery.Result r;
                try {
                    r = ReadOnlyQuery.run(service.databaseFileForQuery(), query, maxRows, timeout);
                } catch (StoreException e) {
                    boolean interrupted = String.valueOf(e.getMessage()).contains("SQLITE_INTERRUPT");
                    throw new IpcException(IpcException.Code.SQL, interrupted ? "stopped after " + timeout + " ms" : e.getMessage());
                }
                byte[] text = format.render(r).getBytes(StandardCharsets.UTF_8);
                replyWithBody(out, "ROWS " + r.rows().size() + " " + (r.truncated() ? "truncated" : "complete") + " " + text.length, text);
            }
            default -> throw new IpcException(IpcException.Code.BADREQUEST, "unknown request '" + w[0] + "'");
        }
    }

    /** The body announced by a LENGTH word: exactly that many bytes, at most a message's worth. */
    private static byte[] body(InputStream in, String lengthWord) throws IOException {
        long length = parseLong(lengthWord);
        if (length < 0 || length > IpcService.MAX_MESSAGE) {
            throw new IpcException(IpcException.Code.TOOBIG, "bodies are limited to " + IpcService.MAX_MESSAGE + " bytes");
        }
        byte[] body = in.readNBytes((int) length);
        if (body.length != length) {
            throw new EOFException("connection closed inside a body");
        }
        return body;
    }

    private static void replyWithBody(OutputStream out, String line, byte[] body) throws IOException {
        out.write((line + "\n").getBytes(StandardCharsets.US_ASCII));
        out.write(body);
        out.flush();
    }

    private static void args(String[] w, int min, int max) {
        if (w.length < min || w.length > max) {
            throw new IpcException(IpcException.Code.BADREQUEST, w[0] + " takes " + (min - 1)
                    + (max > min ? " to " + (max - 1) : "") + " argument(s)");
        }
    }

    private static long parseLong(String s) {
        try {
            return Long.parseLong(s);
        } catch (NumberFormatException e) {
            throw new IpcException(IpcException.Code.BADREQUEST, "not a number: " + s);
        }
    }

    private static int parseOctal(String s) {
        try {
            return Integer.parseInt(s, 8);
        } catch (NumberFormatException e) {
            throw new IpcException(IpcException.Code.BADREQUEST, "not an octal mode: " + s);
        }
    }

    private static void reply(OutputStream out, String line) throws IOException {
        out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    /** One request line, at most MAX_LINE bytes; null at a clean end of stream. */
    static String readLine(InputStream in) throws IOException {
        byte[] buf = new byte[MAX_LINE];
        int n = 0;
        while (true) {
            int b = in.read();
            if (b < 0) {
                if (n == 0) {
                    return null;
                }
                throw new EOFException("connection closed inside a request line");
            }
            if (b == '\n') {
                return new String(buf, 0, n, StandardCharsets.UTF_8);
            }
            if (n == MAX_LINE) {
                throw new IpcException(IpcException.Code.BADREQUEST, "request line longer than " + MAX_LINE + " bytes");
            }
            buf[n++] = (byte) b;
        }
    }

    /** Stops serving, removes the socket and closes the service it was given. */
    @Override
    public void close() {
        closed = true;
        try {
            server.close();
            Files.deleteIfExists(socket);
        } catch (IOException e) {
            log.warn("closing the ipc socket: {}", e.getMessage());
        }
        service.close();
    }
}
