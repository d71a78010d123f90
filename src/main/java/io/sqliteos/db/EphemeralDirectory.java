package io.sqliteos.db;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The RAM directory (on /dev/shm) that holds an in-memory file system's
 * database. Its daemon holds a lock on a file inside for as long as it runs;
 * the kernel drops the lock when the daemon dies, however it dies. A daemon
 * killed with SIGKILL cannot remove its directory, so each new one removes
 * the directories whose lock nobody holds: otherwise their RAM would stay
 * taken until the next reboot, with no way to mount them again.
 */
final class EphemeralDirectory implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(EphemeralDirectory.class);
    private static final String PREFIX = "sqliteos-";
    private static final String LOCK = "owner.lock";
    /**
     * Directories this process holds. The sweep must not even open their lock
     * files: the locks are POSIX record locks, which belong to the process, and
     * closing any descriptor of the file drops them, after which the next
     * daemon's sweep would remove a live database.
     */
    private static final Set<String> HELD = ConcurrentHashMap.newKeySet();

    private final Path dir;
    /** Its real path, as SQLite names the files in it: named private while it lasts. */
    private final Path realPath;
    private final FileChannel lockChannel;

    private EphemeralDirectory(Path dir, Path realPath, FileChannel lockChannel) {
        this.dir = dir;
        this.realPath = realPath;
        this.lockChannel = lockChannel;
    }

    /** Removes abandoned directories under {@code base}, then makes and locks a new one. */
    static EphemeralDirectory create(Path base) throws IOException {
        removeAbandoned(base);
        // Set up and locked under a name the sweep ignores, then renamed: a sweep
        // never sees it unlocked.
        Path staging = Files.createTempDirectory(base, "staging-" + PREFIX);
        FileChannel channel = FileChannel.open(staging.resolve(LOCK), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        try {
            if (channel.tryLock() == null) {
                throw new IOException("cannot lock " + staging.resolve(LOCK));
            }
            Path dir = Files.createTempDirectory(base, PREFIX);
            Files.delete(dir); // only its fresh, unique name is needed
            HELD.add(dir.getFileName().toString());
            Files.move(staging, dir);
            // no other process opens the database: its connections need no record locks
            Path realPath = dir.toRealPath();
            SqliteNative.load();
            PrivateLocks.name(realPath);
            return new EphemeralDirectory(dir, realPath, channel);
        } catch (IOException | RuntimeException e) {
            channel.close();
            deleteTree(staging);
            throw e;
        }
    }

    Path path() {
        return dir;
    }

    private static void removeAbandoned(Path base) {
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(base, PREFIX + "*")) {
            for (Path d : dirs) {
                if (HELD.contains(d.getFileName().toString())) {
                    continue; // this process's own
                }
                Path lock = d.resolve(LOCK);
                if (!Files.isRegularFile(lock)) {
                    continue; // not one of ours, or from a version without the lock: leave it
                }
                try (FileChannel ch = FileChannel.open(lock, StandardOpenOption.WRITE)) {
                    FileLock held = ch.tryLock();
                    if (held == null) {
                        continue; // its daemon runs
                    }
                    long bytes = sizeOf(d);
                    deleteTree(d);
                    log.info("removed {} ({} MiB): the in-memory database of a daemon that is gone",
                            d, bytes >> 20);
                } catch (OverlappingFileLockException | IOException e) {
                    // held in this process, or vanished meanwhile: not abandoned
                }
            }
        } catch (IOException e) {
            log.debug("could not look for abandoned databases in {}: {}", base, e.getMessage());
        }
    }

    private static long sizeOf(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            return paths.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
        } catch (IOException e) {
            return 0;
        }
    }

    static void deleteTree(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            log.warn("could not remove {}: {}", dir, e.getMessage());
        }
    }

    /** Removes the directory and everything in it, then gives up the lock. */
    @Override
    public void close() {
        PrivateLocks.forget(realPath);
        deleteTree(dir);
        try {
            lockChannel.close();
        } catch (IOException e) {
            log.debug("closing the lock of {}: {}", dir, e.getMessage());
        }
        HELD.remove(dir.getFileName().toString());
    }
}
