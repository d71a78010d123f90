package io.sqliteos.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A MyISAM-style engine ({@link MiniIsam}) is killed with SIGKILL at random
 * moments, many times. With each statement in a transaction, data and index
 * always agree afterwards; without, the same check finds torn tables, which
 * shows the check can see what transactions prevent. Cycles:
 * -Dsqliteos.crash.cycles (default 10). Seed: -Dsqliteos.crash.seed.
 */
class StorageEngineCrashIT {

    static final int CYCLES = Integer.getInteger("sqliteos.crash.cycles", 10);
    static final long SEED = Long.getLong("sqliteos.crash.seed", System.nanoTime());

    static MountedFs fs;

    @BeforeAll
    static void mount() throws Exception {
        fs = MountedFs.start("--size", "256M", "--busy-timeout", "2000");
    }

    @AfterAll
    static void unmount() {
        fs.close();
    }

    /** Runs the engine, kills it at a random point, and returns the check's verdict (null = consistent). */
    static List<String> crashCycles(String mode, Path dir, Random random) throws Exception {
        Files.createDirectories(dir);
        List<String> verdicts = new ArrayList<>();
        for (int cycle = 0; cycle < CYCLES; cycle++) {
            Process engine = new ProcessBuilder("java", "-cp", System.getProperty("java.class.path"),
                    MiniIsam.class.getName(), dir.toString(), mode, "1000000").redirectErrorStream(true).start();
            try {
                String first = MountedFs.firstLine(engine, 120);
                assertThat(first).as("engine output (seed %d)", SEED).isEqualTo("started");
                Thread.sleep(20 + random.nextInt(400));
            } finally {
                engine.destroyForcibly(); // SIGKILL, mid-statement more often than not
                engine.waitFor(30, TimeUnit.SECONDS);
            }
            // a killed owner's transaction is rolled back by the daemon: wait until writers get through
            MountedFs.eventually("the write lock is free again", () -> fs.sh("touch " + dir + "/probe").exitCode() == 0);
            verdicts.add(MiniIsam.check(dir));
        }
        return verdicts;
    }

    @Test
    void withTransactionsDataAndIndexAlwaysAgree() throws Exception {
        Path dir = fs.path("engine-tx");
        List<String> verdicts = crashCycles("tx", dir, new Random(SEED));
        assertThat(verdicts).as("torn tables with transactions (seed %d)", SEED).containsOnlyNulls();
        assertThat(MiniIsam.rows(dir)).as("rows committed across the crashes").isPositive();
    }

    @Test
    void withoutTransactionsTheSameCheckFindsTornTables() throws Exception {
        Path dir = fs.path("engine-plain");
        List<String> verdicts = crashCycles("plain", dir, new Random(SEED + 1));
        assertThat(verdicts).as("seed %d", SEED).anyMatch(v -> v != null);
    }
}
