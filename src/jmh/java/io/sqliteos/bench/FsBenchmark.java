package io.sqliteos.bench;

import io.sqliteos.db.Database;
import io.sqliteos.fs.Caller;
import io.sqliteos.fs.FileSystem;
import io.sqliteos.tx.SessionRouter;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The file-system layer on an in-memory database, without FUSE: what one
 * request costs in {@code fs} and {@code db} alone. Compare with the mounted
 * figures of scripts/bench to see what FUSE and the kernel add.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
@Fork(1)
@State(Scope.Benchmark)
public class FsBenchmark {

    private static final Caller ROOT = Caller.ROOT;
    private static final int O_RDWR = 2;
    private static final int SMALL = 4096;
    private static final int LARGE = 128 * 1024;
    /** The file the data benchmarks read and write: 64 MiB. */
    private static final long FILE_SIZE = 64L << 20;

    private Database database;
    private FileSystem fs;
    private long dataFh;
    private final byte[] small = new byte[SMALL];
    private final byte[] large = new byte[LARGE];
    private long largeOffset;
    private long createCount;
    private String createDir;
    /** A directory 20 levels down, as mkdir -p of a deep tree makes them. */
    private String deepDir;

    @Setup(Level.Trial)
    public void setUp() {
        database = Database.openEphemeral(5000);
        fs = new FileSystem(new SessionRouter(database), 8L << 30);
        fs.initialize(0, 0);
        // a directory path four levels deep with 1,000 files in the last one
        fs.mkdir(ROOT, "/a", 0755);
        fs.mkdir(ROOT, "/a/b", 0755);
        fs.mkdir(ROOT, "/a/b/c", 0755);
        fs.mkdir(ROOT, "/a/b/c/d", 0755);
        for (int i = 0; i < 1000; i++) {
            fs.release(ROOT, fs.create(ROOT, "/a/b/c/d/f" + i, 0644, O_RDWR));
        }
        StringBuilder deep = new StringBuilder();
        for (int i = 0; i < 20; i++) {
            deep.append("/level").append(i);
            fs.mkdir(ROOT, deep.toString(), 0755);
        }
        deepDir = deep.toString();
        ThreadLocalRandom.current().nextBytes(large);
        ThreadLocalRandom.current().nextBytes(small);
        dataFh = fs.create(ROOT, "/data", 0644, O_RDWR);
        for (long off = 0; off < FILE_SIZE; off += LARGE) {
            fs.write(ROOT, dataFh, large, LARGE, off);
        }
    }

    @Setup(Level.Iteration)
    public void freshDirectory() {
        createDir = "/create" + System.nanoTime();
        fs.mkdir(ROOT, createDir, 0755);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        fs.release(ROOT, dataFh);
        database.close();
    }

    /** Resolves a path four directories deep (what every path-based request starts with). */
    @Benchmark
    public Object lookupDeep() {
        return fs.getattr(ROOT, "/a/b/c/d/f" + ThreadLocalRandom.current().nextInt(1000));
    }

    /** stat of a file in the root directory. */
    @Benchmark
    public Object getattr() {
        return fs.getattr(ROOT, "/data");
    }

    /** stat of a directory 20 levels deep. */
    @Benchmark
    public Object getattrTwentyDeep() {
        return fs.getattr(ROOT, deepDir);
    }

    /** stat of a name that is not there, 20 levels deep: the lookup before each mkdir of mkdir -p. */
    @Benchmark
    public Object getattrMissingTwentyDeep() {
        try {
            return fs.getattr(ROOT, deepDir + "/missing");
        } catch (io.sqliteos.fs.FsException expected) {
            return expected;
        }
    }

    /** opendir + closedir of a directory 20 levels deep: what mkdir -p does at each level to enter it. */
    @Benchmark
    public void opendirTwentyDeep() {
        fs.releasedir(ROOT, fs.opendir(ROOT, deepDir));
    }

    /** create + release of a new empty file, as open(O_CREAT) + close do. */
    @Benchmark
    public void create() {
        fs.release(ROOT, fs.create(ROOT, createDir + "/n" + (createCount++), 0644, O_RDWR));
    }

    /** create + release, then unlink, of a new empty file: a file's whole life in its directory. */
    @Benchmark
    public void createAndUnlink() {
        String path = createDir + "/u" + (createCount++);
        fs.release(ROOT, fs.create(ROOT, path, 0644, O_RDWR));
        fs.unlink(ROOT, path);
    }

    /** A 4 KiB write at a random place in the 64 MiB file (read-modify-write of a block). */
    @Benchmark
    public int smallWrite() {
        long off = ThreadLocalRandom.current().nextLong(FILE_SIZE / SMALL) * SMALL;
        return fs.write(ROOT, dataFh, small, SMALL, off);
    }

    /** A 128 KiB write, sequential through the file, as FUSE delivers big writes. */
    @Benchmark
    public int largeWrite() {
        largeOffset = (largeOffset + LARGE) % FILE_SIZE;
        return fs.write(ROOT, dataFh, large, LARGE, largeOffset);
    }

    @Benchmark
    public int smallRead() {
        long off = ThreadLocalRandom.current().nextLong(FILE_SIZE / SMALL) * SMALL;
        return fs.read(ROOT, dataFh, small, SMALL, off);
    }

    @Benchmark
    public int largeRead() {
        long off = ThreadLocalRandom.current().nextLong(FILE_SIZE / LARGE) * LARGE;
        return fs.read(ROOT, dataFh, large, LARGE, off);
    }
}
