package io.sqliteos.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * While many clients' requests queue up, the worker serving them runs at
 * real-time priority (SCHED_FIFO), and it returns to its normal priority once
 * the queue is gone; with --no-priority-boost no worker ever leaves it. Either
 * way every client gets the right answer. Seen from outside, as a user would
 * see it with {@code chrt -p}: the scheduling policy of the daemon's threads.
 */
class WorkerPriorityIT {

    private static final int SCHED_FIFO = 1;
    private static final int DIRS = 40;
    private static final int FILES_PER_DIR = 100;
    private static final int CLIENTS = 16;

    @Test
    void aQueueOfRequestsIsServedAtRealTimePriorityUntilItIsGone() throws Exception {
        try (MountedFs fs = MountedFs.start("--size", "256M")) {
            List<Path> files = makeTree(fs);
            long pid = fs.daemon().pid();
            int mostAtOnce = 0;
            for (int round = 0; round < 5 && mostAtOnce == 0; round++) {
                mostAtOnce = realTimeThreadsWhile(pid, () -> statFromManyClients(files));
            }
            assertThat(mostAtOnce).as("workers seen at SCHED_FIFO while %d clients stat files", CLIENTS).isPositive();

            // one client at a time: the first read that finds no request waiting lowers the worker again
            AtomicInteger n = new AtomicInteger();
            MountedFs.eventually("every worker back at its normal priority", 20, () -> {
                fs.sh("echo x > single-" + n.incrementAndGet() + " && sleep 0.05").ok();
                return threadsAt(pid, SCHED_FIFO) == 0;
            });
            assertThat(fs.sh("cat single-1").ok().stdout()).isEqualTo("x\n");
        }
    }

    @Test
    void withNoPriorityBoostEveryWorkerKeepsItsNormalPriority() throws Exception {
        try (MountedFs fs = MountedFs.start("--size", "256M", "--no-priority-boost")) {
            List<Path> files = makeTree(fs);
            long pid = fs.daemon().pid();
            int mostAtOnce = 0;
            for (int round = 0; round < 3; round++) {
                mostAtOnce = Math.max(mostAtOnce, realTimeThreadsWhile(pid, () -> statFromManyClients(files)));
            }
            assertThat(mostAtOnce).isZero();
        }
    }

    /** DIRS directories of FILES_PER_DIR files, each holding its own name. */
    private static List<Path> makeTree(MountedFs fs) throws Exception {
        fs.sh("for d in $(seq " + DIRS + "); do mkdir d$d; for f in $(seq " + FILES_PER_DIR + "); do"
                + " echo d$d/f$f > d$d/f$f; done; done").ok();
        List<Path> files = new ArrayList<>();
        for (int d = 1; d <= DIRS; d++) {
            for (int f = 1; f <= FILES_PER_DIR; f++) {
                files.add(fs.path("d" + d + "/f" + f));
            }
        }
        return files;
    }

    /**
     * Drops the kernel's cached names, so that every stat is a request to the
     * daemon, then stats every file from CLIENTS threads at once, each its own
     * share, and checks each answer.
     */
    private static void statFromManyClients(List<Path> files) throws Exception {
        Files.writeString(Path.of("/proc/sys/vm/drop_caches"), "2");
        ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int c = 0; c < CLIENTS; c++) {
                List<Path> share = files.subList(c * files.size() / CLIENTS, (c + 1) * files.size() / CLIENTS);
                done.add(clients.submit(() -> {
                    for (Path file : share) {
                        BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class,
                                LinkOption.NOFOLLOW_LINKS);
                        // "dN/fM\n"
                        String name = file.getParent().getFileName() + "/" + file.getFileName();
                        assertThat(a.isRegularFile()).as(name).isTrue();
                        assertThat(a.size()).as(name).isEqualTo(name.length() + 1);
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get();
            }
        } finally {
            clients.shutdownNow();
        }
    }

    interface Load {
        void run() throws Exception;
    }

    /** The most of the daemon's threads seen at SCHED_FIFO at once while {@code load} runs. */
    private static int realTimeThreadsWhile(long pid, Load load) throws Exception {
        AtomicBoolean running = new AtomicBoolean(true);
        AtomicInteger most = new AtomicInteger();
        Thread watcher = new Thread(() -> {
            while (running.get()) {
                most.accumulateAndGet(threadsAt(pid, SCHED_FIFO), Math::max);
            }
        });
        watcher.start();
        try {
            load.run();
        } finally {
            running.set(false);
            watcher.join();
        }
        return most.get();
    }

    /** How many of the process's threads have the scheduling policy {@code policy} (field 41 of their stat). */
    private static int threadsAt(long pid, int policy) {
        int count = 0;
        try (Stream<Path> tasks = Files.list(Path.of("/proc", Long.toString(pid), "task"))) {
            for (Path task : tasks.toList()) {
                String stat;
                try {
                    stat = Files.readString(task.resolve("stat"));
                } catch (IOException gone) {
                    continue; // the thread ended
                }
                // the fields after the command name (which may hold spaces) start at field 3
                String[] fields = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
                if (Integer.parseInt(fields[41 - 3]) == policy) {
                    count++;
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot read the threads of " + pid, e);
        }
        return count;
    }
}
