package io.sqliteos.db;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A few megabytes of disk kept beside the database. SQLite needs free space
 * even to delete (the write-ahead log grows first), so on a full disk the
 * reserve is given back, letting users remove files, and is taken again once
 * there is room.
 */
final class DiskReserve {

    private static final Logger log = LoggerFactory.getLogger(DiskReserve.class);
    /** The largest reserve; on a small disk it is a sixteenth of the disk, at least 256 KiB. */
    static final long MAX_SIZE = 4 << 20;
    private static final long RETRY_NANOS = 10_000_000_000L;

    private final Path file;
    private final long size;
    private volatile boolean held;
    private long lastAttempt = System.nanoTime() - RETRY_NANOS;

    DiskReserve(Path file, long diskBytes) {
        this.file = file;
        this.size = Math.max(256 << 10, Math.min(MAX_SIZE, diskBytes / 16));
    }

    /** Takes the reserve if it is not held, at most every ten seconds; never fails. */
    synchronized void replenish() {
        if (held || System.nanoTime() - lastAttempt < RETRY_NANOS) {
            return;
        }
        replenishNow();
    }

    /** Takes the reserve if it is not held, now: when space was just given back to the disk. */
    synchronized void replenishNow() {
        if (held) {
            return;
        }
        lastAttempt = System.nanoTime();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            ByteBuffer zeros = ByteBuffer.allocate(64 << 10);
            for (long at = 0; at < size; at += zeros.capacity()) {
                zeros.clear();
                ch.write(zeros, at);
            }
            ch.force(false);
            held = true;
        } catch (IOException e) {
            try {
                Files.deleteIfExists(file);
            } catch (IOException ignored) {
                // nothing more to give back
            }
            log.debug("disk reserve not taken: {}", e.getMessage());
        }
    }

    /** Gives the reserve back to a full disk; true if there was one. */
    synchronized boolean release() {
        boolean had = discard();
        if (had) {
            log.warn("disk full: released the {} KiB reserve beside the database", size >> 10);
        }
        return had;
    }

    /** Removes the reserve file (when the database closes); true if it was held. */
    synchronized boolean discard() {
        boolean had = held;
        held = false;
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            log.warn("could not release the disk reserve {}: {}", file, e.getMessage());
            return false;
        }
        return had;
    }
}
