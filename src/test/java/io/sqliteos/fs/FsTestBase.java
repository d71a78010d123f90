package io.sqliteos.fs;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.sqliteos.db.Database;
import io.sqliteos.tx.SessionRouter;
import java.nio.charset.StandardCharsets;
import org.assertj.core.api.AbstractThrowableAssert;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/**
 * A fresh file system on a real (RAM) database for every test, driven the way
 * the FUSE adapter drives it, with helpers that keep the tests about semantics.
 */
abstract class FsTestBase {

    static final Caller ROOT = Caller.ROOT;
    static final Caller ALICE = new Caller(1000, 1000, 4242);
    static final Caller BOB = new Caller(1001, 1001, 4343);
    static final int O_RDONLY = 0;
    static final int O_WRONLY = 01;
    static final int O_RDWR = 02;
    static final int O_CREAT = 0100;
    static final int O_EXCL = 0200;
    static final int O_TRUNC = 01000;
    static final int O_APPEND = 02000;
    static final long KIB = 1024;
    static final long MIB = 1024 * KIB;
    static final long GIB = 1024 * MIB;
    static final long TIB = 1024 * GIB;

    Database database;
    FileSystem fs;

    /** The budget for stored data; tests of ENOSPC shrink it. */
    long capacity() {
        return 256 * MIB;
    }

    @BeforeEach
    void openFileSystem() {
        database = Database.openEphemeral(5_000);
        fs = new FileSystem(new SessionRouter(database), capacity());
        fs.initialize(0, 0);
    }

    @AfterEach
    void closeFileSystem() {
        database.close();
    }

    static AbstractThrowableAssert<?, ? extends Throwable> assertErrno(Errno errno, ThrowingCallable call) {
        return assertThatThrownBy(call)
                .isInstanceOf(FsException.class)
                .matches(e -> ((FsException) e).errno() == errno, "errno " + errno);
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    FileAttributes stat(String path) {
        return fs.getattr(ROOT, path);
    }

    /** Creates a file holding {@code content} and closes it. */
    void writeFile(String path, byte[] content) {
        long fh = fs.create(ROOT, path, 0644, O_WRONLY | O_CREAT | O_TRUNC);
        try {
            fs.write(ROOT, fh, content, content.length, 0);
        } finally {
            fs.release(ROOT, fh);
        }
    }

    void writeAt(String path, long offset, byte[] data) {
        long fh = fs.open(ROOT, path, O_WRONLY);
        try {
            fs.write(ROOT, fh, data, data.length, offset);
        } finally {
            fs.release(ROOT, fh);
        }
    }

    /** What a read buffer holds before the read. */
    static final byte STALE = 0x5A;

    byte[] readAt(String path, long offset, int length) {
        long fh = fs.open(ROOT, path, O_RDONLY);
        try {
            return read(fh, offset, length);
        } finally {
            fs.release(ROOT, fh);
        }
    }

    byte[] read(long fh, long offset, int length) {
        byte[] buf = new byte[length];
        java.util.Arrays.fill(buf, STALE); // as in a reused buffer: every byte read must be written
        int n = fs.read(ROOT, fh, buf, length, offset);
        return java.util.Arrays.copyOf(buf, n);
    }

    byte[] readAll(String path) {
        return readAt(path, 0, (int) stat(path).size());
    }

    /** Moves a file's times into the past so that any update is visible without waiting. */
    void ageTimes(String path) {
        fs.utimens(ROOT, path, 1_000_000, 0, 1_000_000, 0);
    }

    /** Lets the clock move on, so that a time set by the next operation differs from earlier ones. */
    static void tick() throws InterruptedException {
        Thread.sleep(2);
    }

    static final long AGED_NS = 1_000_000L * 1_000_000_000L;
}
