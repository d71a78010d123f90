package io.sqliteos.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.sqliteos.ipc.IpcClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A durable mount is killed with SIGKILL at random moments while a workload of
 * files, directories, renames and transactions runs, then remounted and checked:
 * fsck is clean, everything the workload had synced or committed is there, and
 * no transaction is there in part; IPC queues keep every committed message until
 * it is acknowledged, and never deliver an acknowledged one again. Cycles:
 * -Dsqliteos.recovery.cycles (default 3; 50 for the long run). Seed:
 * -Dsqliteos.recovery.seed.
 */
class CrashRecoveryIT {

    static final int CYCLES = Integer.getInteger("sqliteos.recovery.cycles", 3);
    static final long SEED = Long.getLong("sqliteos.recovery.seed", System.nanoTime());

    /**
     * The workload: each step's effect is synced before it is written to the
     * journal (itself synced), so a journal line promises that the step survived.
     * $1 = first step number.
     */
    static final String WORKLOAD = """
            i=$1
            while true; do
              d=d$((i % 10)); mkdir -p $d
              echo "data $i" > $d/f$i && sync $d/f$i || exit 1
              echo "f $i" >> journal && sync journal || exit 1
              if [ $((i % 3)) = 0 ]; then
                if java -jar "$JAR" tx -q -- sh -c "mkdir t$i && echo a$i > t$i/a && echo b$i > t$i/b"; then
                  echo "t $i" >> journal && sync journal || exit 1
                fi
              fi
              if [ $((i % 5)) = 0 ]; then
                mv $d/f$i $d/g$i && sync $d || exit 1
                echo "m $i" >> journal && sync journal || exit 1
              fi
              i=$((i + 1))
            done
            """;

    @Test
    void syncedAndCommittedWorkSurvivesKillNineAndNothingHalfCommittedAppears() throws Exception {
        Path work = Files.createTempDirectory("sqliteos-recovery-");
        Path db = work.resolve("fs.db");
        Random random = new Random(SEED);
        int next = 0;
        int promises = 0;
        try {
            for (int cycle = 0; cycle < CYCLES; cycle++) {
                try (MountedFs fs = MountedFs.start("--db", db.toString())) {
                    ProcessBuilder pb = new ProcessBuilder("bash", "-c", WORKLOAD, "bash", Integer.toString(next))
                            .directory(fs.root().toFile()).redirectErrorStream(true)
                            .redirectOutput(work.resolve("workload.log").toFile());
                    pb.environment().put("JAR", MountedFs.jar().toString());
                    Process workload = pb.start();
                    Thread.sleep(500 + random.nextInt(2500));
                    fs.killDaemon(); // the crash: no unmount, no checkpoint, no rollback by the daemon
                    workload.waitFor(60, TimeUnit.SECONDS);
                    workload.descendants().forEach(ProcessHandle::destroyForcibly);
                    workload.destroyForcibly();
                }
                MountedFs.Result fsck = MountedFs.cli("fsck", db.toString());
                assertThat(fsck.exitCode()).as("fsck after crash %d (seed %d): %s", cycle, SEED, fsck.stdout()).isZero();
                try (MountedFs fs = MountedFs.start("--db", db.toString())) {
                    List<String> journal = Files.exists(fs.path("journal"))
                            ? Files.readAllLines(fs.path("journal")) : List.of();
                    promises = journal.size();
                    List<String> broken = brokenPromises(fs, journal);
                    assertThat(broken).as("after crash %d (seed %d)", cycle, SEED).isEmpty();
                    for (String line : journal) {
                        next = Math.max(next, Integer.parseInt(line.split(" ")[1]) + 1);
                    }
                    next += 1000; // a step cut short by the crash may have left its name behind
                }
            }
            assertThat(promises).as("the workload made progress (seed %d)", SEED).isPositive();
        } finally {
            MountedFs.deleteDatabase(db);
            Files.deleteIfExists(work.resolve("workload.log"));
            Files.deleteIfExists(work);
        }
    }

    @Test
    void ipcMessagesSurviveKillNineAsAcknowledged() throws Exception {
        Path work = Files.createTempDirectory("sqliteos-ipc-recovery-");
        Path db = work.resolve("fs.db");
        Path socket = work.resolve("ipc.sock");
        Set<String> sent = ConcurrentHashMap.newKeySet();   // the daemon said OK: committed
        Set<String> received = ConcurrentHashMap.newKeySet(); // delivered (its ACK may have been cut off)
        Set<String> acked = ConcurrentHashMap.newKeySet();    // the daemon said OK to ACK: done
        Random random = new Random(SEED);
        try {
            try (MountedFs fs = MountedFs.start("--db", db.toString(), "--ipc-socket", socket.toString())) {
                try (IpcClient c = new IpcClient(socket)) {
                    c.create("orders", 0600);
                }
                ExecutorService pool = Executors.newFixedThreadPool(4);
                for (int p = 0; p < 2; p++) {
                    int producer = p;
                    pool.submit(() -> {
                        try (IpcClient c = new IpcClient(socket)) {
                            for (int i = 0; ; i++) {
                                String body = "p" + producer + "-" + i;
                                c.send("orders", body.getBytes(StandardCharsets.UTF_8));
                                sent.add(body);
                            }
                        }
                    });
                }
                for (int k = 0; k < 2; k++) {
                    pool.submit(() -> {
                        try (IpcClient c = new IpcClient(socket)) {
                            while (true) {
                                IpcClient.Message m = c.receive("orders", 1000);
                                if (m != null) {
                                    String body = new String(m.body(), StandardCharsets.UTF_8);
                                    received.add(body);
                                    c.ack(m.id());
                                    acked.add(body);
                                }
                            }
                        }
                    });
                }
                Thread.sleep(1000 + random.nextInt(2000));
                fs.killDaemon(); // mid-stream: sends, receives and acknowledgements in flight
                pool.shutdown();
                assertThat(pool.awaitTermination(30, TimeUnit.SECONDS)).as("clients saw the daemon go").isTrue();
            }
            List<String> drained = new ArrayList<>();
            try (MountedFs fs = MountedFs.start("--db", db.toString(), "--ipc-socket", socket.toString());
                 IpcClient c = new IpcClient(socket)) {
                for (IpcClient.Message m = c.receive("orders", 500); m != null; m = c.receive("orders", 500)) {
                    drained.add(new String(m.body(), StandardCharsets.UTF_8));
                    c.ack(m.id());
                }
            }
            assertThat(sent).as("progress before the crash (seed %d)", SEED).isNotEmpty();
            assertThat(drained).as("nothing is delivered twice after the restart").doesNotHaveDuplicates();
            assertThat(drained).as("an acknowledged message never comes back").doesNotContainAnyElementsOf(acked);
            // a message whose ACK committed just before the crash, but whose OK never arrived, is gone: delivered
            Set<String> delivered = new HashSet<>(received);
            delivered.addAll(drained);
            assertThat(delivered).as("every committed send was delivered before the crash or waits after it").containsAll(sent);
        } finally {
            MountedFs.deleteDatabase(db);
            Files.deleteIfExists(socket);
            Files.deleteIfExists(work);
        }
    }

    @Test
    void aPipeKeepsItsBufferedBytesAcrossKillNineThenEnds() throws Exception {
        Path work = Files.createTempDirectory("sqliteos-pipe-recovery-");
        Path db = work.resolve("fs.db");
        Path socket = work.resolve("ipc.sock");
        try {
            try (MountedFs fs = MountedFs.start("--db", db.toString(), "--ipc-socket", socket.toString());
                 IpcClient writer = new IpcClient(socket)) {
                writer.createPipe("log", 0600, 4096);
                writer.openPipe("log", true);
                byte[] line = "written before the crash\n".getBytes(StandardCharsets.UTF_8);
                writer.write("log", line, 0, line.length);
                fs.killDaemon(); // the writer is still attached
            }
            try (MountedFs fs = MountedFs.start("--db", db.toString(), "--ipc-socket", socket.toString());
                 IpcClient reader = new IpcClient(socket)) {
                reader.openPipe("log", false);
                assertThat(new String(reader.read("log", 4096, 5000), StandardCharsets.UTF_8))
                        .isEqualTo("written before the crash\n");
                assertThat(reader.read("log", 4096, 5000)).as("no writer survives a restart: end of file").isEmpty();
            }
        } finally {
            MountedFs.deleteDatabase(db);
            Files.deleteIfExists(socket);
            Files.deleteIfExists(work);
        }
    }

    /** Journal lines whose effect is missing, and transactions present only in part. */
    static List<String> brokenPromises(MountedFs fs, List<String> journal) throws Exception {
        List<String> broken = new ArrayList<>();
        for (String line : journal) {
            String[] f = line.split(" ");
            int i = Integer.parseInt(f[1]);
            Path dir = fs.path("d" + (i % 10));
            switch (f[0]) {
                case "f" -> {
                    Path file = Files.exists(dir.resolve("f" + i)) ? dir.resolve("f" + i) : dir.resolve("g" + i);
                    if (!Files.exists(file) || !Files.readString(file).equals("data " + i + "\n")) {
                        broken.add(line + ": file missing or wrong");
                    }
                }
                case "t" -> {
                    if (!Files.exists(fs.path("t" + i + "/a")) || !Files.exists(fs.path("t" + i + "/b"))) {
                        broken.add(line + ": committed transaction missing");
                    }
                }
                case "m" -> {
                    if (!Files.exists(dir.resolve("g" + i)) || Files.exists(dir.resolve("f" + i))) {
                        broken.add(line + ": rename lost");
                    }
                }
                default -> broken.add(line + ": unknown journal line");
            }
        }
        try (var entries = Files.list(fs.root())) {
            for (Path t : (Iterable<Path>) entries.filter(p -> p.getFileName().toString().startsWith("t"))::iterator) {
                String n = t.getFileName().toString().substring(1);
                boolean complete = Files.exists(t.resolve("a")) && Files.exists(t.resolve("b"))
                        && Files.readString(t.resolve("a")).equals("a" + n + "\n")
                        && Files.readString(t.resolve("b")).equals("b" + n + "\n");
                if (!complete) {
                    broken.add(t.getFileName() + ": a transaction is present in part");
                }
            }
        }
        return broken;
    }

    @Test
    void theRamOfAnInMemoryMountKilledWithSigkillIsGivenBackByTheNextMount() throws Exception {
        Set<Path> before = MountedFs.ramDatabases();
        Path abandoned;
        try (MountedFs fs = MountedFs.start()) {
            Files.writeString(fs.path("big"), "x".repeat(1 << 20));
            // the warm-up's scratch database is there too until it finishes
            MountedFs.eventually("the warm-up to finish", 60, () -> fs.log().contains("warm-up: "));
            Set<Path> created = MountedFs.ramDatabases();
            created.removeAll(before);
            assertThat(created).hasSize(1);
            abandoned = created.iterator().next();
            fs.killDaemon();
            assertThat(abandoned).exists(); // a daemon killed with SIGKILL cannot clean up after itself
        }
        try (MountedFs next = MountedFs.start()) {
            assertThat(abandoned).doesNotExist();
            assertThat(next.log()).contains("removed " + abandoned);
            assertThat(next.path("big")).doesNotExist(); // a new in-memory mount starts empty
        }
    }

    @Test
    void anUnmountDuringTheWarmUpLeavesNoDatabaseInRam() throws Exception {
        Set<Path> before = MountedFs.ramDatabases();
        try (MountedFs fs = MountedFs.start()) {
            // the warm-up (seconds of rounds on a scratch database in RAM) has just begun
            Files.writeString(fs.path("f"), "x");
        } // unmounts and waits for the daemon to exit
        assertThat(MountedFs.ramDatabases()).as("in-memory databases left in /dev/shm").isSubsetOf(before);
    }
}
