package io.sqliteos.cli;

import io.sqliteos.ipc.IpcClient;
import io.sqliteos.ipc.IpcException;
import io.sqliteos.ipc.IpcServer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Parameters;

/** {@code sqliteos ipc create|send|recv|ls|rm}: the IPC service from the shell. */
@Command(name = "ipc", mixinStandardHelpOptions = true,
        description = "Named message queues in the file system's database, over the mount's IPC socket.",
        subcommands = {IpcCommand.Create.class, IpcCommand.Send.class, IpcCommand.Recv.class,
            IpcCommand.Ls.class, IpcCommand.Rm.class})
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
            target = IpcServer.defaultSocket(root);
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

    @Command(name = "create", mixinStandardHelpOptions = true, description = "Create a queue.")
    static final class Create implements Callable<Integer> {
        @ParentCommand IpcCommand parent;
        @Parameters(paramLabel = "NAME") String name;
        @Option(names = "--mode", defaultValue = "600", description = "Octal permissions (default ${DEFAULT-VALUE}): others need 2 to send, 4 to receive.")
        String mode;

        @Override
        public Integer call() {
            return with(parent, "create", c -> {
                c.create(name, Integer.parseInt(mode, 8));
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
                "Exit status 3 when the timeout passes with no message."})
    static final class Recv implements Callable<Integer> {
        @ParentCommand IpcCommand parent;
        @Parameters(paramLabel = "NAME") String name;
        @Option(names = "--timeout", defaultValue = "0", description = "Milliseconds to wait for a message (default ${DEFAULT-VALUE}: do not wait).")
        long timeout;
        @Option(names = {"-n", "--count"}, defaultValue = "1", description = "How many messages to receive (default ${DEFAULT-VALUE}).")
        int count;
        @Option(names = {"-l", "--lines"}, description = "End each message with a newline.")
        boolean lines;

        @Override
        public Integer call() {
            return with(parent, "recv", c -> {
                for (int i = 0; i < count; i++) {
                    IpcClient.Message m = c.receive(name, timeout);
                    if (m == null) {
                        return i == 0 ? 3 : 0;
                    }
                    System.out.write(m.body());
                    if (lines) {
                        System.out.write('\n');
                    }
                    System.out.flush();
                    if (System.out.checkError()) {
                        return 1; // not acknowledged: the message goes back to the queue
                    }
                    c.ack(m.id());
                }
                return 0;
            });
        }
    }

    @Command(name = "ls", mixinStandardHelpOptions = true, description = "List channels with waiting and in-flight counts.")
    static final class Ls implements Callable<Integer> {
        @ParentCommand IpcCommand parent;

        @Override
        public Integer call() {
            return with(parent, "ls", c -> {
                System.out.printf("%-24s %-6s %6s %5s %8s %9s%n", "NAME", "KIND", "OWNER", "MODE", "WAITING", "IN-FLIGHT");
                for (IpcClient.ChannelInfo ch : c.list()) {
                    System.out.printf("%-24s %-6s %6d %5s %8d %9d%n", ch.name(), ch.kind(), ch.ownerUid(),
                            Integer.toOctalString(ch.mode()), ch.waiting(), ch.inFlight());
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
