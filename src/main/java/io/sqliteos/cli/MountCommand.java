package io.sqliteos.cli;

import java.io.File;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code sqliteos mount MOUNTPOINT}: starts a daemon serving one file system. */
@Command(name = "mount", mixinStandardHelpOptions = true,
        description = {"Mount a SQLiteOS file system.",
            "Without --db the file system lives in memory and is gone at unmount."})
final class MountCommand implements Callable<Integer> {

    @Parameters(paramLabel = "MOUNTPOINT", description = "An existing, empty directory.")
    Path mountPoint;

    @Option(names = "--size", paramLabel = "BYTES", converter = ByteSize.class,
            description = "Space budget for file data, e.g. 512M or 4G (default: half of the RAM). Beyond it writes fail with ENOSPC.")
    Long size;

    @Option(names = "--db", paramLabel = "FILE", description = "Keep the file system in this database file on disk.")
    Path db;

    @Option(names = "-o", paramLabel = "OPTS", split = ",",
            description = "FUSE mount options, comma separated (e.g. allow_other, ro, nonempty).")
    List<String> fuseOptions = new ArrayList<>();

    @Option(names = {"-f", "--foreground"}, description = "Stay in the foreground (log to stderr) until unmounted.")
    boolean foreground;

    @Option(names = "--log", paramLabel = "FILE",
            description = "Where a background daemon writes its log (default: /tmp/sqliteos-<mount name>.log).")
    Path logFile;

    @Option(names = "--busy-timeout", paramLabel = "MS", defaultValue = "5000",
            description = "How long a writer waits for the database before failing with EBUSY (default: ${DEFAULT-VALUE}).")
    long busyTimeoutMs;

    @Option(names = "--name-cache", paramLabel = "SECONDS",
            description = {"How long the kernel may cache names, and the attributes of directories and single-link",
                "files, while no transaction is open (0 never). Default: 10 on Linux 6.16 and later, where a",
                "transaction's begin has the kernel drop them all at once; 0.2 on older kernels, where a",
                "transaction's begin waits this long for them to expire."})
    Double nameCacheSeconds;

    @Option(names = "--keep-free", paramLabel = "SECONDS", defaultValue = "60",
            description = {"How long the pages of deleted data are kept for new data before their RAM (or, with",
                "--db, their disk blocks) is given back (default: ${DEFAULT-VALUE}; 0 at once). Given back at once",
                "when the disk under the database has less than 256 MiB free or the machine is low on memory."})
    double keepFreeSeconds;

    @Option(names = "--ipc-socket", paramLabel = "PATH",
            description = "Where the IPC service listens (default: /run/sqliteos/<mount point>.sock, owner-only).")
    Path ipcSocket;

    @Option(names = "--force", description = "Mount a --db database even if fsck finds problems in it.")
    boolean force;

    @Option(names = "--debug", description = "Log every FUSE request (very verbose).")
    boolean debug;

    @Option(names = "--io-uring", negatable = true,
            description = "Take requests through FUSE over io_uring where the kernel offers it: Linux 6.14 and"
                    + " later, with /sys/module/fuse/parameters/enable_uring set to Y (scripts/setup sets it)."
                    + " By default, and with --no-io-uring, every request comes through /dev/fuse.")
    boolean ioUring;

    @Option(names = "--priority-boost", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "While requests queue up (many clients at once), let the worker serving them run at the"
                    + " lowest real-time priority until the queue is empty, so that the clients its replies wake"
                    + " do not take its processor. Needs root or CAP_SYS_NICE; without it, or with"
                    + " --no-priority-boost, workers keep their normal priority.")
    boolean priorityBoost;

    @Override
    public Integer call() throws Exception {
        Path dir = mountPoint.toAbsolutePath().normalize();
        String problem = MountPoints.problem(dir, fuseOptions.contains("nonempty"));
        if (problem != null) {
            System.err.println("sqliteos: " + problem);
            return 1;
        }
        if (db != null && Files.isDirectory(db)) {
            System.err.println("sqliteos: --db " + db + " is a directory; give a file path");
            return 1;
        }
        if (nameCacheSeconds != null && !(nameCacheSeconds >= 0 && nameCacheSeconds <= 60)) {
            System.err.println("sqliteos: --name-cache takes 0 to 60 seconds");
            return 2;
        }
        if (!(keepFreeSeconds >= 0 && keepFreeSeconds <= 86_400)) {
            System.err.println("sqliteos: --keep-free takes 0 to 86400 seconds");
            return 2;
        }
        Daemon.Settings settings = new Daemon.Settings(dir, db, size != null ? size : defaultSize(), fuseOptions,
                busyTimeoutMs, debug, force, ipcSocket, nameCacheSeconds, keepFreeSeconds, ioUring,
                priorityBoost);
        return foreground ? new Daemon(settings).run() : startInBackground(settings);
    }

    static long defaultSize() {
        long ram = ((com.sun.management.OperatingSystemMXBean)
                java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getTotalMemorySize();
        return Math.max(64L << 20, ram / 2);
    }

    /**
     * JVM options for the daemon: the ones this JVM was given (SQLITEOS_JAVA_OPTS),
     * plus a small heap and the serial collector unless they chose otherwise. File
     * data lives in the database, not on the heap, which only holds request buffers
     * and caches; a default heap (a quarter of the RAM) would just let garbage grow.
     * The JIT keeps its usual call counts: lower ones had it compile the start-up
     * code too, which delayed the mount by a third of a second, and
     * {@link JitWarmup} already compiles the request paths.
     */
    static List<String> daemonJvmOptions(List<String> inherited) {
        List<String> opts = new ArrayList<>(inherited);
        if (inherited.stream().noneMatch(o -> o.startsWith("-Xmx") || o.startsWith("-XX:MaxHeapSize"))) {
            opts.add("-Xmx256m");
        }
        if (inherited.stream().noneMatch(o -> o.startsWith("-Xmn") || o.contains("NewSize") || o.contains("NewRatio"))) {
            // nearly everything a request allocates dies with it: a small young
            // generation, collected often and cheaply, keeps the resident set small
            opts.add("-Xmn32m");
        }
        if (inherited.stream().noneMatch(o -> o.startsWith("-XX:+Use") && o.endsWith("GC"))) {
            opts.add("-XX:+UseSerialGC");
        }
        return opts;
    }

    /** The arguments of a daemon's JVM (what follows the java command). */
    static List<String> daemonArguments(List<String> jvmOptions, Daemon.Settings settings, String classPath) {
        List<String> args = new ArrayList<>(daemonJvmOptions(jvmOptions));
        args.addAll(ClassArchive.jvmOptions(jvmOptions, classPath));
        args.addAll(Arrays.asList("-Dfile.encoding=UTF-8", "-Dsun.jnu.encoding=UTF-8"));
        args.addAll(settings.asSystemProperties());
        args.addAll(List.of("-cp", classPath, Daemon.class.getName(), settings.mountPoint().toString()));
        return args;
    }

    /**
     * Starts the daemon in a detached JVM and waits until the mount is live.
     * A shell starts it in the background and exits at once, printing its
     * pid: were the daemon this JVM's own child, a thread would wait for it in
     * native code, and this JVM's exit waits 300 ms for such threads before it
     * gives up on them.
     */
    private int startInBackground(Daemon.Settings settings) throws IOException, InterruptedException {
        Path dir = settings.mountPoint();
        Path log = logFile != null ? logFile
                : Path.of("/tmp", "sqliteos-" + dir.toString().replaceAll("[^A-Za-z0-9._-]", "_") + ".log");
        String java = ProcessHandle.current().info().command().orElse("java");
        // a background job of a shell without job control is no group leader, so setsid needs no fork: $! is the daemon
        List<String> cmd = new ArrayList<>(List.of("sh", "-c",
                "log=$1; shift; setsid \"$@\" </dev/null >>\"$log\" 2>&1 & echo $!", "sh", log.toString(), java));
        cmd.addAll(daemonArguments(ManagementFactory.getRuntimeMXBean().getInputArguments(), settings,
                System.getProperty("java.class.path")));
        Process starter = new ProcessBuilder(cmd)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        String pid = new String(starter.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim();
        if (starter.waitFor() != 0 || !pid.matches("[0-9]+")) {
            System.err.println("sqliteos: could not start the daemon (sh exited with status " + starter.exitValue() + ")");
            return 1;
        }
        ProcessHandle daemon = ProcessHandle.of(Long.parseLong(pid)).orElse(null);
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (System.nanoTime() < deadline) {
            if (MountPoints.isMounted(dir)) {
                System.out.println("sqliteos: mounted " + (db == null ? "an in-memory file system" : db.toAbsolutePath())
                        + " on " + dir + " (daemon pid " + pid + ", log " + log + ")");
                System.out.println("sqliteos: IPC socket " + (ipcSocket != null ? ipcSocket.toAbsolutePath()
                        : io.sqliteos.ipc.SocketPath.forMount(dir)));
                System.out.println("sqliteos: unmount with: sqliteos umount " + dir);
                return 0;
            }
            if (daemon == null || !daemon.isAlive()) {
                System.err.println("sqliteos: the daemon exited; its log " + log + " says:");
                try {
                    List<String> lines = Files.readAllLines(log);
                    lines.subList(Math.max(0, lines.size() - 15), lines.size()).forEach(l -> System.err.println("  " + l));
                } catch (IOException e) {
                    System.err.println("  (nothing: " + e + ")");
                }
                return 1;
            }
            Thread.sleep(10);
        }
        System.err.println("sqliteos: the daemon did not mount " + dir + " within 30 s; see " + log);
        if (daemon != null) {
            daemon.destroy();
        }
        return 1;
    }
}
