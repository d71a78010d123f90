package io.sqliteos.ipc;

import io.sqliteos.db.IpcStore;
import io.sqliteos.db.StoreException;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.atomic.AtomicLong;
import jdk.net.ExtendedSocketOptions;
import jnr.posix.POSIX;
import jnr.posix.POSIXFactory;
import jnr.posix.Passwd;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The IPC service on a Unix domain socket (owner-only by default), one thread
 * per connection, speaking the line protocol of docs/ipc-protocol.md. Who the
 * peer is comes from the kernel (SO_PEERCRED), never from the request.
 */
public final class IpcServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(IpcServer.class);
    static final int MAX_LINE = 4096;

    private final IpcService service;
    private final Path socket;
    private final ServerSocketChannel server;
    private final Thread acceptor;
    private final AtomicLong connections = new AtomicLong();
    private final String instance = Long.toHexString(System.nanoTime());
    private final POSIX posix = POSIXFactory.getPOSIX();
    private volatile boolean closed;

    private IpcServer(IpcService service, Path socket, ServerSocketChannel server) {
        this.service = service;
        this.socket = socket;
        this.server = server;
        this.acceptor = new Thread(this::acceptLoop, "sqliteos-ipc-accept");
        acceptor.setDaemon(true);
    }

    /** Where a mount's socket lives unless --ipc-socket says otherwise. */
    public static Path defaultSocket(Path mountPoint) {
        String name = mountPoint.toAbsolutePath().normalize().toString().replaceAll("[^A-Za-z0-9._-]", "_") + ".sock";
        Path run = Path.of("/run/sqliteos");
        try {
            Files.createDirectories(run);
            if (Files.isWritable(run)) {
                return run.resolve(name);
            }
        } catch (IOException ignored) {
            // fall back to /tmp
        }
        return Path.of(System.getProperty("java.io.tmpdir"), "sqliteos-" + name);
    }

    /** Binds the socket with the given permissions (e.g. "rw-------") and starts serving. */
    public static IpcServer start(IpcService service, Path socket, String permissions) throws IOException {
        Files.createDirectories(socket.toAbsolutePath().getParent());
        if (Files.exists(socket)) {
            try (SocketChannel probe = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
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
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(staging));
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
                SocketChannel client = server.accept();
                long n = connections.incrementAndGet();
                Thread t = new Thread(null, () -> serve(client, n), "sqliteos-ipc-" + n, 256 << 10);
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                if (!closed) {
                    log.warn("ipc accept failed: {}", e.getMessage());
                }
            }
        }
    }

    private int peerUid(SocketChannel client) throws IOException {
        String user = client.getOption(ExtendedSocketOptions.SO_PEERCRED).user().getName();
        if (user.matches("\\d+")) {
            return Integer.parseInt(user);
        }
        Passwd pw = posix.getpwnam(user);
        if (pw == null) {
            throw new IOException("unknown peer user " + user);
        }
        return (int) pw.getUID();
    }

    private void serve(SocketChannel client, long number) {
        String receiver = instance + ":" + number;
        try (client) {
            int uid = peerUid(client);
            InputStream in = new BufferedInputStream(Channels.newInputStream(client), 65536);
            OutputStream out = new BufferedOutputStream(Channels.newOutputStream(client), 65536);
            while (!closed) {
                String line = "";
                try {
                    line = readLine(in);
                    if (line == null) {
                        return;
                    }
                    handle(line, in, out, uid, receiver);
                } catch (IpcException e) {
                    reply(out, "ERR " + e.code() + " " + e.getMessage());
                    if (e.code() == IpcException.Code.BADREQUEST || e.code() == IpcException.Code.TOOBIG) {
                        log.info("ipc connection {} (uid {}) dropped: {}", number, uid, e.getMessage());
                        return; // the framing can no longer be trusted
                    }
                } catch (StoreException e) {
                    log.warn("ipc request '{}' failed: {}", firstWord(line), e.getMessage());
                    reply(out, "ERR " + (e.kind() == StoreException.Kind.BUSY ? "BUSY" : "INTERNAL") + " " + e.getMessage());
                }
            }
        } catch (EOFException e) {
            log.debug("ipc connection {} closed mid-request", number);
        } catch (IOException e) {
            log.debug("ipc connection {}: {}", number, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            log.error("ipc connection {} failed", number, e);
        } finally {
            service.release(receiver);
        }
    }

    private static String firstWord(String line) {
        int sp = line.indexOf(' ');
        return sp < 0 ? line : line.substring(0, sp);
    }

    private void handle(String line, InputStream in, OutputStream out, int uid, String receiver)
            throws IOException, InterruptedException {
        String[] w = line.split(" ");
        switch (w[0]) {
            case "PING" -> reply(out, "OK");
            case "CREATE" -> {
                args(w, 2, 3);
                service.create(uid, w[1], w.length == 3 ? parseOctal(w[2]) : 0600);
                reply(out, "OK");
            }
            case "DELETE" -> {
                args(w, 2, 2);
                service.delete(uid, w[1]);
                reply(out, "OK");
            }
            case "LIST" -> {
                args(w, 1, 1);
                var channels = service.list();
                StringBuilder sb = new StringBuilder("OK " + channels.size());
                for (IpcStore.Channel c : channels) {
                    sb.append('\n').append(c.name()).append(' ').append(c.kind()).append(' ').append(c.ownerUid())
                            .append(' ').append(Integer.toOctalString(c.mode())).append(' ').append(c.waiting())
                            .append(' ').append(c.inFlight());
                }
                reply(out, sb.toString());
            }
            case "SEND" -> {
                args(w, 3, 3);
                long length = parseLong(w[2]);
                if (length < 0 || length > IpcService.MAX_MESSAGE) {
                    throw new IpcException(IpcException.Code.TOOBIG, "messages are limited to " + IpcService.MAX_MESSAGE + " bytes");
                }
                byte[] body = in.readNBytes((int) length);
                if (body.length != length) {
                    throw new EOFException("connection closed inside a message body");
                }
                reply(out, "OK " + service.send(uid, w[1], body));
            }
            case "RECV" -> {
                args(w, 3, 3);
                IpcStore.Message m = service.receive(uid, w[1], receiver, parseLong(w[2]));
                if (m == null) {
                    reply(out, "NONE");
                } else {
                    out.write(("MSG " + m.id() + " " + m.body().length + "\n").getBytes(StandardCharsets.US_ASCII));
                    out.write(m.body());
                    out.flush();
                }
            }
            case "ACK" -> {
                args(w, 2, 2);
                service.ack(receiver, parseLong(w[1]));
                reply(out, "OK");
            }
            default -> throw new IpcException(IpcException.Code.BADREQUEST, "unknown request '" + w[0] + "'");
        }
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
