package io.sqliteos.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real SQLiteOS mount for a test: the built jar runs as a separate daemon
 * process on a fresh temporary directory. Closing it (or the JVM exiting, even
 * after a failure) unmounts and removes the directory, so no test leaves a
 * mount behind.
 */
public final class MountedFs implements AutoCloseable {

    private static final Set<MountedFs> LIVE = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> LIVE.forEach(MountedFs::close)));
    }

    private final Path root;
    private final Process daemon;
    private final Path log;

    private MountedFs(Path root, Process daemon, Path log) {
        this.root = root;
        this.daemon = daemon;
        this.log = log;
    }

    /** The runnable jar under test (set by the build; falls back to target/sqliteos.jar). */
    public static Path jar() {
        return Path.of(System.getProperty("sqliteos.jar", "target/sqliteos.jar")).toAbsolutePath();
    }

    /** Mounts an in-memory file system with {@code allow_other} (for the unprivileged-user tests) plus any extra arguments. */
    public static MountedFs start(String... extraArgs) throws IOException, InterruptedException {
        return start(List.of(), extraArgs);
    }

    /** Like {@link #start(String...)}, with extra options for the daemon's JVM (-D properties). */
    public static MountedFs start(List<String> jvmOptions, String... extraArgs) throws IOException, InterruptedException {
        Path dir = Files.createTempDirectory("sqliteos-it-");
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Path log = Files.createTempFile("sqliteos-it-", ".log");
        List<String> cmd = new ArrayList<>(List.of("java", "-Dfile.encoding=UTF-8", "-Dsun.jnu.encoding=UTF-8"));
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-jar", jar().toString(), "mount", "--foreground", dir.toString(), "-o", "allow_other"));
        cmd.addAll(List.of(extraArgs));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        MountedFs fs = new MountedFs(dir, p, log);
        LIVE.add(fs);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!fs.isMounted()) {
            if (!p.isAlive() || System.nanoTime() > deadline) {
                String output = Files.readString(log);
                fs.close();
                throw new IllegalStateException("daemon did not mount " + dir + ":\n" + output);
            }
            Thread.sleep(20);
        }
        return fs;
    }

    public Path root() {
        return root;
    }

    public Path path(String relative) {
        return root.resolve(relative);
    }

    public Process daemon() {
        return daemon;
    }

    /** The daemon's log so far. */
    public String log() {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(log unreadable: " + e.getMessage() + ")";
        }
    }

    /** How often {@code text} occurs in the daemon's log so far. */
    public int logCount(String text) {
        String log = log();
        int count = 0;
        for (int at = log.indexOf(text); at >= 0; at = log.indexOf(text, at + 1)) {
            count++;
        }
        return count;
    }

    public boolean isMounted() {
        try {
            String target = " " + root.toString() + " ";
            return Files.readAllLines(Path.of("/proc/self/mountinfo")).stream().anyMatch(l -> l.contains(target));
        } catch (IOException e) {
            return false;
        }
    }

    /** The outcome of a shell command. */
    public record Result(int exitCode, String stdout, String stderr) {
        public Result ok() {
            if (exitCode != 0) {
                throw new AssertionError("command failed with " + exitCode + "\nstdout: " + stdout + "\nstderr: " + stderr);
            }
            return this;
        }
    }

    /** Runs a bash script as root with the mount root as working directory. */
    public Result sh(String script) throws IOException, InterruptedException {
        return run(List.of("bash", "-c", script));
    }

    /** Runs a bash script as the given unprivileged user and group, without supplementary groups. */
    public Result shAs(int uid, int gid, String script) throws IOException, InterruptedException {
        return run(List.of("setpriv", "--reuid=" + uid, "--regid=" + gid, "--clear-groups", "bash", "-c", script));
    }

    /**
     * Starts a bash script in the background with the mount root as working
     * directory: as root for uid 0, otherwise as that user and group without
     * supplementary groups. Arguments become $1, $2, ...; stderr joins stdout.
     */
    public Process spawn(int uid, int gid, String script, String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        if (uid != 0) {
            cmd.addAll(List.of("setpriv", "--reuid=" + uid, "--regid=" + gid, "--clear-groups"));
        }
        cmd.addAll(List.of("bash", "-c", script, "bash"));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(root.toFile()).redirectErrorStream(true);
        pb.environment().put("LC_ALL", "C");
        return pb.start();
    }

    /**
     * Waits until a condition holds, for effects the kernel delivers after the
     * system call returns: it sends the release of a closed file to the daemon
     * asynchronously, so space freed at the last close shows a moment later.
     */
    public static void eventually(String what, java.util.concurrent.Callable<Boolean> condition) throws Exception {
        eventually(what, 20, condition);
    }

    /** Like {@link #eventually(String, java.util.concurrent.Callable)}, for effects with a known longer delay. */
    public static void eventually(String what, int seconds, java.util.concurrent.Callable<Boolean> condition) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!condition.call()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("still not true after " + seconds + " s: " + what);
            }
            Thread.sleep(20);
        }
    }

    /** Runs the {@code sqliteos} command (the jar under test) as root, e.g. {@code cli("umount", dir)}. */
    public static Result cli(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("java", "-jar", jar().toString()));
        cmd.addAll(List.of(args));
        return execute(cmd, Path.of("/"));
    }

    /** Runs a system command (sqlite3, mount, ...) from / and returns its outcome. */
    public static Result exec(String... cmd) throws IOException, InterruptedException {
        return execute(List.of(cmd), Path.of("/"));
    }

    /** The first line a process prints, waiting at most {@code seconds}: how a test knows a worker is ready. */
    public static String firstLine(Process p, int seconds) throws Exception {
        java.io.BufferedReader out = new java.io.BufferedReader(
                new java.io.InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        return java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
                return out.readLine();
            } catch (IOException e) {
                return "read failed: " + e;
            }
        }).get(seconds, TimeUnit.SECONDS);
    }

    /** Attributes of a path inside the mount, not following a final symlink ({@code unix:*} view). */
    public java.util.Map<String, Object> stat(String relative) throws IOException {
        return Files.readAttributes(path(relative), "unix:*", java.nio.file.LinkOption.NOFOLLOW_LINKS);
    }

    private Result run(List<String> cmd) throws IOException, InterruptedException {
        return execute(cmd, root);
    }

    /** Runs a command with a C locale, so tools print the standard error texts the tests look for. */
    private static Result execute(List<String> cmd, Path dir) throws IOException, InterruptedException {
        Path out = Files.createTempFile("sqliteos-it-out-", ".txt");
        Path err = Files.createTempFile("sqliteos-it-err-", ".txt");
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile());
            pb.environment().put("LC_ALL", "C");
            Process p = pb
                    .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            if (!p.waitFor(5, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new AssertionError("command timed out: " + cmd);
            }
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                    Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    /** A path for a new database file in the temporary directory (the file does not exist yet). */
    public static Path newDatabasePath() throws IOException {
        Path db = Files.createTempFile("sqliteos-it-", ".db");
        Files.delete(db);
        return db;
    }

    /** Deletes a database file and the files SQLite and SQLiteOS keep beside it. */
    public static void deleteDatabase(Path db) throws IOException {
        for (String suffix : new String[] {"", "-wal", "-shm", "-reserve"}) {
            Files.deleteIfExists(Path.of(db + suffix));
        }
    }

    /** The directories in RAM that hold in-memory databases. */
    public static Set<Path> ramDatabases() throws IOException {
        try (Stream<Path> dirs = Files.list(Path.of("/dev/shm"))) {
            return dirs.filter(d -> d.getFileName().toString().startsWith("sqliteos-"))
                    .collect(java.util.stream.Collectors.toCollection(java.util.HashSet::new));
        }
    }

    /** Kills the daemon with SIGKILL, as a crash would. The mount is cleaned up by close(). */
    public void killDaemon() throws InterruptedException {
        daemon.destroyForcibly();
        daemon.waitFor(10, TimeUnit.SECONDS);
    }

    /** Sends SIGTERM to the daemon, as {@code kill} or systemd would, and returns its exit status. */
    public int terminate() throws InterruptedException {
        daemon.destroy();
        if (!daemon.waitFor(30, TimeUnit.SECONDS)) {
            throw new AssertionError("the daemon did not exit within 30 s of SIGTERM:\n" + log());
        }
        return daemon.exitValue();
    }

    /**
     * Unmounts, stops the daemon and removes the mount point. A mount still in
     * use (a test's memory mapping lives until the garbage collector frees it)
     * is stopped with SIGTERM, which ends even a busy mount cleanly.
     */
    @Override
    public void close() {
        LIVE.remove(this);
        try {
            if (isMounted()) {
                Process u = new ProcessBuilder("fusermount", "-u", root.toString()).redirectErrorStream(true).start();
                if (!u.waitFor(20, TimeUnit.SECONDS) || u.exitValue() != 0) {
                    daemon.destroy();
                }
            }
            if (!daemon.waitFor(20, TimeUnit.SECONDS)) {
                daemon.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            if (!isMounted()) {
                try (Stream<Path> s = Files.walk(root)) {
                    s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            }
            Files.deleteIfExists(log);
            // a daemon killed by a test cannot remove its IPC socket; the next daemon would, but none will come here
            Files.deleteIfExists(io.sqliteos.ipc.SocketPath.forMount(root));
        } catch (IOException | InterruptedException e) {
            throw new IllegalStateException("could not clean up mount " + root, e);
        }
    }
}
