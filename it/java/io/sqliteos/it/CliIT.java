package io.sqliteos.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The {@code sqliteos} command: refusals with clear messages, and clean unmounts by command and by signal. */
class CliIT {

    @Test
    void refusesAMissingMountPoint() throws Exception {
        Path missing = Path.of("/tmp", "sqliteos-it-missing-" + ProcessHandle.current().pid());
        MountedFs.Result r = MountedFs.cli("mount", missing.toString(), "--size", "16M");
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.stderr()).contains("mount point " + missing + " does not exist").contains("mkdir -p");
        assertThat(Files.exists(missing)).isFalse();
    }

    @Test
    void refusesANonEmptyMountPointAndTouchesNothing() throws Exception {
        Path dir = Files.createTempDirectory("sqliteos-it-full-");
        try {
            Files.writeString(dir.resolve("precious"), "keep me");
            MountedFs.Result r = MountedFs.cli("mount", dir.toString(), "--size", "16M");
            assertThat(r.exitCode()).isEqualTo(1);
            assertThat(r.stderr()).contains("mount point " + dir + " is not empty").contains("-o nonempty");
            assertThat(Files.readString(dir.resolve("precious"))).isEqualTo("keep me");
            assertThat(Files.readString(Path.of("/proc/self/mountinfo"))).doesNotContain(" " + dir + " ");
        } finally {
            Files.deleteIfExists(dir.resolve("precious"));
            Files.deleteIfExists(dir);
        }
    }

    @Test
    void refusesSettingsOutOfRangeAndMountsNothing() throws Exception {
        Path dir = Files.createTempDirectory("sqliteos-it-range-");
        try {
            MountedFs.Result keep = MountedFs.cli("mount", dir.toString(), "--keep-free", "-1");
            assertThat(keep.exitCode()).isEqualTo(2);
            assertThat(keep.stderr()).contains("--keep-free takes 0 to 86400 seconds");
            MountedFs.Result names = MountedFs.cli("mount", dir.toString(), "--name-cache", "61");
            assertThat(names.exitCode()).isEqualTo(2);
            assertThat(names.stderr()).contains("--name-cache takes 0 to 60 seconds");
            assertThat(Files.readString(Path.of("/proc/self/mountinfo"))).doesNotContain(" " + dir + " ");
        } finally {
            Files.deleteIfExists(dir);
        }
    }

    @Test
    void refusesAFileAsMountPoint() throws Exception {
        Path file = Files.createTempFile("sqliteos-it-file-", ".txt");
        try {
            MountedFs.Result r = MountedFs.cli("mount", file.toString());
            assertThat(r.exitCode()).isEqualTo(1);
            assertThat(r.stderr()).contains("is not a directory");
        } finally {
            Files.deleteIfExists(file);
        }
    }

    @Test
    void umountCommandUnmountsAndTheDaemonExits() throws Exception {
        try (MountedFs fs = MountedFs.start("--size", "16M")) {
            fs.sh("echo data > f").ok();
            MountedFs.Result r = MountedFs.cli("umount", fs.root().toString());
            assertThat(r.exitCode()).as(r.stderr()).isZero();
            assertThat(fs.isMounted()).isFalse();
            assertThat(fs.daemon().waitFor(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            assertThat(fs.daemon().exitValue()).isZero();
            // a second umount says there is nothing there
            MountedFs.Result again = MountedFs.cli("umount", fs.root().toString());
            assertThat(again.exitCode()).isEqualTo(1);
            assertThat(again.stderr()).contains("nothing is mounted on " + fs.root());
        }
    }

    @Test
    void sigtermUnmountsCleanlyWhileManyRequestsAreInFlight() throws Exception {
        try (MountedFs fs = MountedFs.start("--size", "16M")) {
            // 32 processes at once keep every worker busy, so the daemon adds workers. They
            // work from outside the mount: a working directory inside would keep it alive.
            List<Process> clients = new java.util.ArrayList<>();
            try {
                for (int i = 0; i < 32; i++) {
                    clients.add(fs.spawn(0, 0, "cd /; i=0; while :; do stat $2/missing$i >/dev/null 2>&1;"
                            + " : > $2/f$1-$((i % 50)) 2>/dev/null; i=$((i + 1)); done", String.valueOf(i), fs.root().toString()));
                }
                MountedFs.eventually("files from every client", () -> {
                    try (var entries = Files.list(fs.root())) {
                        return entries.map(f -> f.getFileName().toString().split("-")[0]).distinct().count() == 32;
                    }
                });
                assertThat(fs.terminate()).isIn(0, 143);
                assertThat(fs.isMounted()).isFalse();
                assertThat(fs.log()).contains("unmounted " + fs.root());
            } finally {
                // endless loops: left running, they would load the machine for every later test
                for (Process client : clients) {
                    client.destroyForcibly().waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
                }
            }
        }
    }

    @Test
    void sigtermUnmountsCleanly() throws Exception {
        try (MountedFs fs = MountedFs.start("--size", "16M")) {
            fs.sh("echo data > f").ok();
            // after its shutdown hook has unmounted, the JVM reports the signal as status 128 + 15
            assertThat(fs.terminate()).isIn(0, 143);
            assertThat(fs.isMounted()).isFalse();
            assertThat(fs.log()).contains("signal received: unmounting").contains("unmounted " + fs.root());
            // the mount point is an ordinary empty directory again
            try (var entries = Files.list(fs.root())) {
                assertThat(entries.count()).isZero();
            }
        }
    }

    @Test
    void sigtermEndsAMountStillInUseAndKeepsItsData() throws Exception {
        Path db = MountedFs.newDatabasePath();
        try {
            String sum;
            try (MountedFs fs = MountedFs.start("--db", db.toString(), "--size", "64M")) {
                sum = fs.sh("head -c 3000000 /dev/urandom > blob && md5sum blob").ok().stdout();
                // a process that holds a file keeps a lazily detached mount alive in the kernel
                Process holder = fs.spawn(0, 0, "exec 3< blob; cd /; echo holding; exec sleep 600");
                try {
                    assertThat(MountedFs.firstLine(holder, 10)).isEqualTo("holding");
                    assertThat(fs.terminate()).isIn(0, 143);
                } finally {
                    holder.destroyForcibly().waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
                }
                assertThat(fs.isMounted()).isFalse();
                assertThat(fs.log()).contains("still in use").contains("aborted FUSE connection")
                        .contains("unmounted " + fs.root());
            }
            try (MountedFs fs = MountedFs.start("--db", db.toString(), "--size", "64M")) {
                assertThat(fs.sh("md5sum blob").ok().stdout()).isEqualTo(sum);
            }
        } finally {
            MountedFs.deleteDatabase(db);
        }
    }

    @Test
    void sigtermOnAnInMemoryMountStillInUseGivesItsRamBack() throws Exception {
        java.util.Set<Path> before = MountedFs.ramDatabases();
        try (MountedFs fs = MountedFs.start("--size", "64M")) {
            MountedFs.eventually("the warm-up to finish", 60, () -> fs.log().contains("warm-up: "));
            Files.writeString(fs.path("f"), "x".repeat(1 << 20));
            // a memory mapping, as a database engine keeps one, holds the mount like an open file
            Process holder = fs.spawn(0, 0, "exec python3 -c 'import mmap,sys; f=open(\"f\",\"rb\");"
                    + " m=mmap.mmap(f.fileno(),0,prot=mmap.PROT_READ); f.close(); import os; os.chdir(\"/\");"
                    + " print(\"holding\", m[:1].decode(), flush=True); sys.stdin.read()'");
            try {
                assertThat(MountedFs.firstLine(holder, 10)).isEqualTo("holding x");
                java.util.Set<Path> during = MountedFs.ramDatabases();
                during.removeAll(before);
                assertThat(during).hasSize(1);
                assertThat(fs.terminate()).isIn(0, 143);
                assertThat(during.iterator().next()).doesNotExist();
            } finally {
                holder.destroyForcibly().waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void backgroundMountPrintsWhereAndUnmountsByCommand() throws Exception {
        Path dir = Files.createTempDirectory("sqliteos-it-bg-");
        Path log = Files.createTempFile("sqliteos-it-bg-", ".log");
        try {
            MountedFs.Result r = MountedFs.cli("mount", dir.toString(), "--size", "16M", "--log", log.toString());
            assertThat(r.exitCode()).as(r.stderr()).isZero();
            assertThat(r.stdout()).contains("mounted an in-memory file system on " + dir).contains("sqliteos umount " + dir);
            Files.writeString(dir.resolve("f"), "in the mount");
            assertThat(Files.readString(dir.resolve("f"))).isEqualTo("in the mount");
            // the daemon got the options the command was given: df shows the 16 MiB budget
            MountedFs.Result df = MountedFs.exec("stat", "-f", "-c", "%b %S", dir.toString());
            String[] blocks = df.stdout().trim().split(" ");
            assertThat(Long.parseLong(blocks[0]) * Long.parseLong(blocks[1])).isEqualTo(16L << 20);
            assertThat(MountedFs.cli("mount", dir.toString()).stderr()).contains("already mounted on " + dir);
            assertThat(MountedFs.cli("umount", dir.toString()).exitCode()).isZero();
            assertThat(Files.exists(dir.resolve("f"))).isFalse();
        } finally {
            if (Files.readString(Path.of("/proc/self/mountinfo")).contains(" " + dir + " ")) {
                new ProcessBuilder("fusermount", "-u", "-z", dir.toString()).start().waitFor();
            }
            Files.deleteIfExists(dir);
            Files.deleteIfExists(log);
        }
    }

    /**
     * A jar's class-data archive (scripts/class-archive) starts both the
     * command's JVM and the daemon's through the launcher; one older than the
     * jar is left out, silently, and the mount works either way.
     */
    @Test
    void theLauncherAndTheDaemonStartFromTheJarsClassArchiveWhileItIsCurrent() throws Exception {
        Path work = Files.createTempDirectory("sqliteos-it-cds-");
        Path jar = work.resolve("sqliteos.jar");
        Path archive = work.resolve("sqliteos.jsa");
        Path dir = Files.createDirectory(work.resolve("mnt"));
        try {
            Files.copy(MountedFs.jar(), jar);
            MountedFs.exec(Path.of("scripts/class-archive").toAbsolutePath().toString(), jar.toString()).ok();
            assertThat(archive).isRegularFile();

            String daemonMaps = mountThroughLauncher(jar, dir, work.resolve("1.log"));
            assertThat(daemonMaps).contains(archive.toString());

            // a jar built after the archive: the archive is not used, and nothing says so
            Files.setLastModifiedTime(jar, java.nio.file.attribute.FileTime.fromMillis(
                    Files.getLastModifiedTime(archive).toMillis() + 1000));
            assertThat(mountThroughLauncher(jar, dir, work.resolve("2.log"))).doesNotContain(archive.toString());
        } finally {
            if (Files.readString(Path.of("/proc/self/mountinfo")).contains(" " + dir + " ")) {
                new ProcessBuilder("fusermount", "-u", "-z", dir.toString()).start().waitFor();
            }
            MountedFs.exec("rm", "-rf", work.toString());
        }
    }

    /** Mounts {@code dir} with {@code sqliteos mount} from {@code jar}, uses and unmounts it; returns the daemon's memory map. */
    private static String mountThroughLauncher(Path jar, Path dir, Path log) throws Exception {
        String launcher = Path.of("fuse-daemon/sqliteos").toAbsolutePath().toString();
        MountedFs.Result r = MountedFs.exec("env", "SQLITEOS_JAR=" + jar, launcher, "mount", dir.toString(),
                "--size", "16M", "--log", log.toString(), "--ipc-socket", log + ".sock");
        assertThat(r.exitCode()).as(r.stderr()).isZero();
        assertThat(r.stderr()).isEmpty();
        java.util.regex.Matcher pid = java.util.regex.Pattern.compile("daemon pid (\\d+)").matcher(r.stdout());
        assertThat(pid.find()).as(r.stdout()).isTrue();
        String maps = Files.readString(Path.of("/proc", pid.group(1), "maps"));
        Files.writeString(dir.resolve("f"), "through the mount");
        assertThat(Files.readString(dir.resolve("f"))).isEqualTo("through the mount");
        assertThat(MountedFs.exec("env", "SQLITEOS_JAR=" + jar, launcher, "umount", dir.toString()).exitCode()).isZero();
        assertThat(Files.readString(log)).doesNotContain("[warning]").doesNotContain("shared archive");
        return maps;
    }

    @Test
    void umountOfABusyMountRefusesWithAHintAndKeepsServing() throws Exception {
        try (MountedFs fs = MountedFs.start("--size", "16M")) {
            fs.sh("echo data > f").ok();
            Process holder = fs.spawn(0, 0, "exec 3<f; echo ready; exec sleep 60");
            try {
                assertThat(new String(holder.getInputStream().readNBytes(6))).isEqualTo("ready\n");
                MountedFs.Result r = MountedFs.cli("umount", fs.root().toString());
                assertThat(r.exitCode()).isEqualTo(1);
                assertThat(r.stderr()).contains("could not unmount").contains("fusermount -u -z");
                assertThat(fs.isMounted()).isTrue();
                assertThat(fs.sh("cat f").ok().stdout()).isEqualTo("data\n");
            } finally {
                holder.destroyForcibly().waitFor();
            }
        }
    }

    @Test
    void readOnlyMountRefusesChanges() throws Exception {
        try (MountedFs fs = MountedFs.start("--size", "16M", "-o", "ro")) {
            for (String change : new String[] {"touch f", "mkdir d", "ln -s a b", "mkfifo p", "setfattr -n user.a -v 1 ."}) {
                assertThat(fs.sh(change).stderr()).as(change).contains("Read-only file system");
            }
            assertThat(fs.sh("ls -A").ok().stdout()).isEmpty();
        }
    }

    @Test
    void aDatabaseFileKeepsTheFileSystemAcrossMounts() throws Exception {
        Path db = MountedFs.newDatabasePath();
        try {
            String described;
            try (MountedFs fs = MountedFs.start("--db", db.toString(), "--size", "64M")) {
                fs.sh("mkdir -p a/b && head -c 200000 /dev/urandom > a/b/blob && ln -s b/blob a/link && ln a/b/blob a/hard"
                        + " && setfattr -n user.k -v v a && chmod 1750 a/b && touch -d '2003-03-03 03:03:03.333' a/b/blob").ok();
                described = fs.sh("find . | sort | xargs stat -c '%n %F %a %h %s %y' && md5sum a/b/blob && getfattr -n user.k a").ok().stdout();
                assertThat(fs.terminate()).isIn(0, 143);
            }
            try (MountedFs fs = MountedFs.start("--db", db.toString(), "--size", "64M")) {
                assertThat(fs.sh("find . | sort | xargs stat -c '%n %F %a %h %s %y' && md5sum a/b/blob && getfattr -n user.k a")
                        .ok().stdout()).isEqualTo(described);
                fs.sh("rm -r a").ok();
            }
            try (MountedFs fs = MountedFs.start("--db", db.toString(), "--size", "64M")) {
                assertThat(fs.sh("ls -A").ok().stdout()).isEmpty();
                assertThat(fs.sh("df -B1 --output=used . | tail -1").ok().stdout().trim()).isEqualTo("0");
            }
        } finally {
            MountedFs.deleteDatabase(db);
        }
    }
}
