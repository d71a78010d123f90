package io.sqliteos.cli;

import io.sqliteos.ipc.IpcClient;
import io.sqliteos.ipc.IpcException;
import io.sqliteos.ipc.IpcService;
import io.sqliteos.ipc.SocketPath;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Parameters;

/** {@code sqliteos ipc create|send|recv|ack|write|read|ls|rm}: the IPC service from the shell. */
@Command(name = "ipc", mixinStandardHelpOptions = true,
        description = {"Named queues and pipes in the file system's database, over the mount's IPC socket.",
            "Inside a file-system transaction (e.g. under 'sqliteos tx --'), queue requests are part of it."},
        subcommands = {IpcCommand.Create.class, IpcCommand.Send.class, IpcCommand.Recv.class, IpcCommand.Ack.class,
            IpcCommand.Write.class, IpcCommand.Read.class, IpcCommand.Ls.class, IpcCommand.Rm.class})
final class IpcCommand {

    @Option(names = "--socket", paramLabel = "PATH", scope = picocli.CommandLine.ScopeType.INHERIT,
            description = "The IPC socket (default: the one of the mount holding --mount or the current directory).")
    Path socket;

    @Option(names = "--mount", paramLabel = "PATH", scope = picocli.CommandLine.ScopeType.INHERIT,
            description = "A path inside the mount (default: the current directory).")
    Path mount;

    IpcClient connect() throws IOException {
        Path target = socket;
        if (target == null) {
            Path root = MountPoints.sqliteosMountOf((mount != null ? mount : Path.of(".")).toAbsolutePath());
            if (root == null) {
                throw new IOException("not inside a SQLiteOS mount; use --mount PATH or --socket PATH");
            }
            target = SocketPath.forMount(root);
        }
        return new IpcClient(target);
    }

    /** Runs a client action, turning failures into a message and exit status 1. */
    interface Action {
        int run(IpcClient client) throws IOException;
    }

    static int with(IpcCommand parent, String what, Action action) {
        try (IpcClient client = parent.connect()) {
            return action.run(client);
        } catch (IpcException e) {
            System.err.println("sqliteos ipc " + what + ": " + e.code() + ": " + e.getMessage());
            return 1;
        } catch (IOException e) {
            System.err.println("sqliteos ipc " + what + ": " + e.getMessage());
            return 1;
        }
    }

    @Command(name = "create", mixinStandardHelpOptions = true, description = "Create a queue (or, with --pipe, a pipe).")
    static final class Create implements Callable<Integer> {
        @ParentCommand IpcCommand parent;
        @Parameters(paramLabel = "NAME") String name;
        @Option(names = "--mode", defaultValue = "600", description = "Octal permissions (default ${DEFAULT-VALUE}): others need 2 to send or write, 4 to receive or read.")
        String mode;
        @Option(names = "--pipe", description = "A byte stream with one writer and one reader instead of a queue.")
        boolean pipe;
        @Option(names = "--capacity", paramLabel = "SIZE", description = "Bytes a pipe holds before its writer waits (default 64K; K, M suffixes).")
        String capacity;

        @Override
        public Integer call() {
            int bits;
            long cap;
            try {
                bits = Integer.parseInt(mode, 8);
                cap = capacity == null ? IpcService.DEFAULT_PIPE_CAPACITY : ByteSize.parse(capacity);
            } catch (IllegalArgumentException e) {
                System.err.println("sqliteos ipc create: " + e.getMessage());
                return 2;
            }
            if (capacity != null && !pipe) {
                System.err.println("sqliteos ipc create: --capacity is for pipes (add --pipe)");
                return 2;
            }
            return with(parent, "create", c -> {
                if (pipe) {
                    c.createPipe(name, bits, cap);
                } else {
                    c.create(name, bits);
                }
                return 0;
            });
        }
    }

    @Command(name = "send", mixinStandardHelpOptions = true, description = "Send a message (the argument, or all of stdin).")
    static final class Send implements Callable<Integer> {
        @ParentCommand IpcCommand parent;
        @Parameters(index = "0", paramLabel = "NAME") String name;
        @Parameters(index = "1", arity = "0..1", paramLabel = "MESSAGE") String message;
        @Option(names = {"-l", "--lines"}, description = "Send each line of stdin as its own message.")
        boolean lines;

        @Override
        public Integer call() {
            return with(parent, "send", c -> {
                if (message != null) {
                    c.send(name, message.getBytes(StandardCharsets.UTF_8));
                } else if (lines) {
                    var reader = new java.io.BufferedReader(new java.io.InputStreamReader(System.in, StandardCharsets.UTF_8));
                    for (String line = reader.readLine(); line != null; line = reader.readLine()) {
                        c.send(name, line.getBytes(StandardCharsets.UTF_8));
                    }
                } else {
                    c.send(name, System.in.readAllBytes());
                }
                return 0;
            });
        }
    }

    @Command(name = "recv", mixinStandardHelpOptions = true,
            description = {"Receive messages to stdout, acknowledging each once written.",
                "With --lease, leave them unacknowledged for 'sqliteos ipc ack ID' (by the same user) within the lease;",
                "after it they are delivered again. Exit status 3 when the timeout passes with no message."})
    static final class Recv implements Callable<Integer> {
        @ParentCommand IpcCommand parent;
        @Parameters(paramLabel = "NAME") String name;
        @Option(names = "--timeout", defaultValue = "0", description = "Milliseconds to wait for a message (default ${DEFAULT-VALUE}: do not wait).")
        long timeout;
        @Option(names = {"-n", "--count"}, defaultValue = "1", description = "How many messages to receive (default ${DEFAULT-VALUE}).")
        int count;
        @Option(names = {"-l", "--lines"}, description = "End each message with a newline.")
        boolean lines;
        @Option(names = "--lease", paramLabel = "MS", defaultValue = "0", description = "Hold each message for this many milliseconds instead of acknowledging it.")
        long lease;
        @Option(names = "--print-id", description = "Print each message's id on a line of its own before it.")
        boolean printId;

        @Override
        public Integer call() {
            return with(parent, "recv", c -> {
                for (int i = 0; i < count; i++) {
                    IpcClient.Message m = c.receive(name, timeout, lease);
                    if (m == null) {
                        return i == 0 ? 3 : 0;
                    }
                    if (printId) {
                        System.out.write((m.id() + "\n").getBytes(StandardCharsets.US_ASCII));
                    }
                    System.out.write(m.body());
                    if (lines) {
                        System.out.write('\n');
                    }
                    System.out.flush();
                    if (System.out.checkError()) {
                        return 1; // not acknowledged: the message goes back to the queue
                    }
                    if (lease == 0) {
                        c.ack(m.id());
                    }
                }
                return 0;
            });
        }
    }

    @Command(name = "ack", mixinStandardHelpOptions = true, description = "Acknowledge (delete) messages received with --lease.")
    static final class Ack implements Callable<Integer> {
        @ParentCommand IpcCommand parent;
        @Parameters(paramLabel = "ID", arity = "1..*") List<Long> ids;

        @Override
        public Integer call() {
            return with(parent, "ack", c -> {
                for (long id : ids) {
                    c.ack(id);
                }
                return 0;
            });
        }
    }

    @Command(name = "write", mixinStandardHelpOptions = true,
            description = {"Copy stdin into a pipe as its writer; the reader sees end of file when this ends.",
                "Waits while the pipe is full. Exit status 1 if the reader closes first."})
    static final class Write implements Callable<Integer> {
        @ParentCommand IpcCommand parent;
        @Parameters(paramLabel = "NAME") String name;

        @Override
        public Integer call() {
            return with(parent, "write", c -> {
                c.openPipe(name, true);
                byte[] buf = new byte[64 << 10];
                for (int n = System.in.read(buf); n >= 0; n = System.in.read(buf)) {
                    if (n > 0) {
                        c.write(name, buf, 0, n);
                    }
                }
                c.closePipe(name);
                return 0;
            });
        }
    }

    @Command(name = "read", mixinStandardHelpOptions = true,
            description = {"Copy a pipe to stdout as its reader, until its writer closes it.",
                "Exit status 3 when --timeout passes with no data."})
    static final class Read implements Callable<Integer> {
        @ParentCommand IpcCommand parent;
        @Parameters(paramLabel = "NAME") String name;
        @Option(names = "--timeout", paramLabel = "MS", defaultValue = "-1", description = "Give up after this many milliseconds without data (default: wait).")
        long timeout;

        @Override
        public Integer call() {
            return with(parent, "read", c -> {
                c.openPipe(name, false);
                long wait = timeout < 0 ? Long.MAX_VALUE / 4_000_000L : timeout;
                while (true) {
                    byte[] data = c.read(name, 64 << 10, wait);
                    if (data == null) {
                        return 3;
                    }
                    if (data.length == 0) {
                        return 0;
                    }
                    System.out.write(data);
                    System.out.flush();
                    if (System.out.checkError()) {
                        return 1; // closing the connection closes the pipe: the writer gets BROKEN
                    }
                }
            });
        }
    }

    @Command(name = "ls", mixinStandardHelpOptions = true,
            description = "List channels: waiting and in-flight messages for queues, buffered bytes and capacity for pipes.")
    static final class Ls implements Callable<Integer> {
        @ParentCommand IpcCommand parent;

        @Override
        public Integer call() {
            return with(parent, "ls", c -> {
                System.out.printf("%-24s %-6s %6s %5s %8s %9s %9s%n", "NAME", "KIND", "OWNER", "MODE", "WAITING",
                        "IN-FLIGHT", "CAPACITY");
                for (IpcClient.ChannelInfo ch : c.list()) {
                    System.out.printf("%-24s %-6s %6d %5s %8d %9d %9s%n", ch.name(), ch.kind(), ch.ownerUid(),
                            Integer.toOctalString(ch.mode()), ch.waiting(), ch.inFlight(),
                            ch.capacity() > 0 ? Long.toString(ch.capacity()) : "-");
                }
                return 0;
            });
        }
    }

    @Command(name = "rm", mixinStandardHelpOptions = true, description = "Delete a channel and its messages.")
    static final class Rm implements Callable<Integer> {
        @ParentCommand IpcCommand parent;
        @Parameters(paramLabel = "NAME") String name;

        @Override
        public Integer call() {
            return with(parent, "rm", c -> {
                c.delete(name);
                return 0;
            });
        }
    }
}
