package io.sqliteos.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Durable mounts, crashes, snapshots, fsck, and bad database files, through real mounts and the CLI. */
class DurabilityIT {

    Path work;

    @BeforeEach
    void workDirectory() throws Exception {
        work = Files.createTempDirectory("sqliteos-durability-");
    }

    @AfterEach
    void cleanUp() throws Exception {
        MountedFs.exec("sh", "-c", "umount " + work + "/disk 2>/dev/null; rm -rf " + work);
    }

    static String digest(Path file) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }

    @Test
    void everythingSyncedSurvivesKillNineAndTheDatabaseStaysClean() throws Exception {
        Path db = work.resolve("fs.db");
        byte[] payload = new byte[3 << 20];
        new Random(7).nextBytes(payload);
        Files.write(work.resolve("payload"), payload);
        try (MountedFs fs = MountedFs.start("--db", db.toString())) {
            fs.sh("mkdir -p keep/deep && cp " + work.resolve("payload") + " keep/deep/data && sync keep/deep/data"
                    + " && echo moved > tmp && mv tmp keep/renamed && ln keep/renamed keep/link"
                    + " && setfattr -n user.tag -v kept keep/renamed && sync keep/renamed").ok();
            fs.killDaemon(); // SIGKILL: no clean shutdown, no checkpoint
        }
        assertThat(MountedFs.cli("fsck", db.toString()).stdout()).contains("is clean");
        try (MountedFs fs = MountedFs.start("--db", db.toString())) {
            assertThat(digest(fs.path("keep/deep/data"))).isEqualTo(digest(work.resolve("payload")));
            assertThat(fs.sh("cat keep/renamed; stat -c %h keep/link; getfattr --only-values -n user.tag keep/renamed")
                    .ok().stdout()).isEqualTo("moved\n2\nkept");
        }
    }

    /**
     * Removing a file takes its attributes with it, also those stored by an
     * earlier mount (the daemon asks for a file's attributes only where it
     * knows some may be): none is left behind, and the space in use comes back.
     */
    @Test
    void filesRemovedAfterARemountTakeTheAttributesStoredBeforeWithThem() throws Exception {
        Path db = work.resolve("fs.db");
        String used = "stat -f -c '%b %f' . | awk '{print $1 - $2}'";
        String before;
        try (MountedFs fs = MountedFs.start("--db", db.toString())) {
            before = fs.sh(used).ok().stdout();
            fs.sh("mkdir d && echo a > d/tagged && echo b > d/plain && echo c > d/linked && ln d/linked d/link"
                    + " && setfattr -n user.tag -v \"$(head -c 3000 /dev/zero | tr '\\0' t)\" d/tagged"
                    + " && setfattr -n user.two -v 2 d/linked").ok();
        }
        try (MountedFs fs = MountedFs.start("--db", db.toString())) {
            fs.sh("rm d/tagged d/plain d/linked && echo new > d/fresh && setfattr -n user.new -v 1 d/fresh").ok();
            assertThat(fs.sh("getfattr --only-values -n user.two d/link").ok().stdout()).isEqualTo("2");
            fs.sh("rm -r d").ok();
            assertThat(fs.sh(used).ok().stdout()).isEqualTo(before);
        }
        assertThat(MountedFs.cli("fsck", db.toString()).stdout()).contains("is clean");
        assertThat(MountedFs.exec("sqlite3", db.toString(), "SELECT count(*) FROM xattr").ok().stdout().trim()).isEqualTo("0");
    }

    @Test
    void aSnapshotOfALiveMountHoldsCommittedStateOnlyAndMountsAgain() throws Exception {
        Path copy = work.resolve("copy.db");
        try (MountedFs fs = MountedFs.start()) {
            fs.sh("mkdir d && echo committed > d/a && echo 12345 > d/b").ok();
            assertThat(Sys.setxattr(fs.root(), "user.sqliteos.tx", "begin".getBytes(), 0)).isZero();
            Files.writeString(fs.path("d/uncommitted"), "no");
            Files.writeString(fs.path("d/a"), "changed inside the transaction");
            MountedFs.Result snap = MountedFs.cli("snapshot", fs.root().toString(), copy.toString());
            assertThat(Sys.setxattr(fs.root(), "user.sqliteos.tx", "commit".getBytes(), 0)).isZero();
            assertThat(snap.exitCode()).as(snap.stderr()).isZero();
            assertThat(MountedFs.cli("snapshot", fs.root().toString(), copy.toString()).exitCode())
                    .as("refuses to overwrite").isNotZero();
            MountedFs.Result live = MountedFs.cli("fsck", "--mount", fs.root().toString());
            assertThat(live.exitCode()).as(live.stdout() + live.stderr()).isZero();
        }
        assertThat(MountedFs.cli("fsck", copy.toString()).exitCode()).isZero();
        try (MountedFs fs = MountedFs.start("--db", copy.toString())) {
            assertThat(fs.sh("ls d; cat d/a").ok().stdout()).isEqualTo("a\nb\ncommitted\n");
        }
    }

    @Test
    void fsckReportsDamageRefusesTheMountAndRepairs() throws Exception {
        Path db = work.resolve("fs.db");
        try (MountedFs fs = MountedFs.start("--db", db.toString())) {
            fs.sh("mkdir -p a/b && echo data > a/b/f && ln a/b/f a/g").ok();
        }
        assertThat(MountedFs.cli("fsck", db.toString()).exitCode()).isZero();
        String ino = MountedFs.exec("sqlite3", db.toString(), "SELECT ino FROM dirent WHERE name = 'b'").stdout().trim();
        // damage: a directory vanishes under its entries (and from the inode count), a link count and the byte counter drift
        MountedFs.exec("sqlite3", db.toString(), "DELETE FROM inode WHERE ino = " + ino
                + "; UPDATE inode SET nlink = 9 WHERE ino = 1; UPDATE fsinfo SET used_bytes = 1").ok();

        MountedFs.Result found = MountedFs.cli("fsck", db.toString());
        assertThat(found.exitCode()).isEqualTo(1);
        assertThat(found.stdout()).contains("names missing inode " + ino).contains("directory 1 has nlink 9")
                .contains("used_bytes").contains("fsinfo.inode_count is 4 but the inode table holds 3");
        String before = digest(db);
        assertThatThrownBy(() -> MountedFs.start("--db", db.toString()))
                .hasMessageContaining("refusing to mount").hasMessageContaining("names missing inode " + ino);
        assertThat(digest(db)).as("a refused mount writes nothing").isEqualTo(before);

        MountedFs.Result repaired = MountedFs.cli("fsck", "--repair", db.toString());
        assertThat(repaired.exitCode()).as(repaired.stdout()).isZero();
        assertThat(repaired.stdout()).contains("repaired:").contains("now clean");
        try (MountedFs fs = MountedFs.start("--db", db.toString())) {
            assertThat(fs.sh("cat a/g").ok().stdout()).isEqualTo("data\n");
        }
    }

    @Test
    void aNameStoredAsABlobIsReportedRefusedAndRepairedAndAForcedMountFailsOnlyItsListing() throws Exception {
        Path db = work.resolve("fs.db");
        try (MountedFs fs = MountedFs.start("--db", db.toString())) {
            fs.sh("mkdir d && cd d && seq 1 1100 | sed 's/^/f/' | xargs touch && echo kept > ../other").ok();
        }
        // more names than one page of a listing, some of them blobs: written by hand, never by the daemon
        MountedFs.exec("sqlite3", db.toString(), "UPDATE dirent SET name = CAST(name AS BLOB) WHERE name GLOB 'f1*'").ok();

        MountedFs.Result found = MountedFs.cli("fsck", db.toString());
        assertThat(found.exitCode()).isEqualTo(1);
        assertThat(found.stdout()).contains("is stored as blob, not text");
        assertThatThrownBy(() -> MountedFs.start("--db", db.toString()))
                .hasMessageContaining("refusing to mount").hasMessageContaining("not text");

        try (MountedFs fs = MountedFs.start("--db", db.toString(), "--force")) {
            MountedFs.Result listing = fs.sh("ls d");
            assertThat(listing.exitCode()).isNotZero();
            assertThat(listing.stderr()).contains("Input/output error");
            assertThat(fs.log()).contains("holds a name that is not text");
            assertThat(fs.sh("cat other").ok().stdout()).isEqualTo("kept\n");
            assertThat(fs.sh("ls").ok().stdout()).contains("d").contains("other");
        }

        MountedFs.Result repaired = MountedFs.cli("fsck", "--repair", db.toString());
        assertThat(repaired.exitCode()).as(repaired.stdout()).isZero();
        assertThat(repaired.stdout()).contains("repaired: stored 212 names held as blobs as text").contains("now clean");
        try (MountedFs fs = MountedFs.start("--db", db.toString())) {
            assertThat(fs.sh("ls d | wc -l").ok().stdout().trim()).isEqualTo("1100");
            assertThat(fs.sh("ls d/f1 d/f1100 && echo found").ok().stdout()).endsWith("found\n");
        }
    }

    /** The bytes of file {@code name} as the blocks in database {@code db} hold them. */
    static byte[] storedBytes(Path db, String name) throws Exception {
        try (java.sql.Connection c = java.sql.DriverManager.getConnection("jdbc:sqlite:file:" + db + "?mode=ro");
                java.sql.Statement st = c.createStatement();
                java.sql.ResultSet file = st.executeQuery(
                        "SELECT i.ino, i.size FROM inode i JOIN dirent d ON d.ino = i.ino WHERE d.name = '" + name + "'")) {
            assertThat(file.next()).isTrue();
            byte[] out = new byte[file.getInt(2)];
            try (java.sql.Statement blocks = c.createStatement();
                    java.sql.ResultSet rs = blocks.executeQuery("SELECT offset, data FROM extent WHERE ino = " + file.getLong(1))) {
                while (rs.next()) {
                    byte[] data = rs.getBytes(2);
                    int at = rs.getInt(1);
                    System.arraycopy(data, 0, out, at, Math.min(data.length, out.length - at));
                }
            }
            return out;
        }
    }

    @Test
    void aDatabaseWithTheOldLargeBlocksMountsWithEveryByteAndTakesSmallWrites() throws Exception {
        Path db = work.resolve("old.db");
        try (java.io.InputStream in = getClass().getResourceAsStream("/fixtures/schema-v1.db")) {
            Files.copy(in, db); // made with 64 KiB blocks
        }
        byte[] expected = storedBytes(db, "big");
        assertThat(expected).hasSize(100_000);
        try (MountedFs fs = MountedFs.start("--db", db.toString())) {
            assertThat(Files.readAllBytes(fs.path("docs/big"))).isEqualTo(expected);
            // small writes across the old (64 KiB) and the new (16 KiB) block boundaries
            fs.sh("printf ABCDEFGH | dd of=docs/big bs=1 seek=16380 conv=notrunc status=none"
                    + " && printf abcdefgh | dd of=docs/big bs=1 seek=65532 conv=notrunc status=none").ok();
        }
        System.arraycopy("ABCDEFGH".getBytes(), 0, expected, 16380, 8);
        System.arraycopy("abcdefgh".getBytes(), 0, expected, 65532, 8);
        assertThat(MountedFs.cli("fsck", db.toString()).stdout()).contains("is clean");
        try (MountedFs fs = MountedFs.start("--db", db.toString())) {
            assertThat(Files.readAllBytes(fs.path("docs/big"))).isEqualTo(expected);
            assertThat(fs.sh("cat docs/old/note.txt; stat -c %h docs/link").ok().stdout())
                    .isEqualTo("written by schema version 1\n2\n");
        }
    }

    @Test
    void foreignTruncatedAndReadOnlyDatabasesAreRefusedAndLeftUntouched() throws Exception {
        Path foreign = work.resolve("foreign.db");
        Files.writeString(foreign, "this is a text file, not a database\n".repeat(200));
        Files.createDirectories(work.resolve("mnt"));
        MountedFs.Result r = MountedFs.cli("mount", "--foreground", "--db", foreign.toString(), work.resolve("mnt").toString());
        assertThat(r.exitCode()).isNotZero();
        assertThat(r.stderr()).contains("cannot open the database").contains("not a database");
        assertThat(Files.readString(foreign)).startsWith("this is a text file");
        assertThat(MountedFs.cli("fsck", foreign.toString()).exitCode()).isEqualTo(2);

        Path good = work.resolve("good.db");
        try (MountedFs fs = MountedFs.start("--db", good.toString())) {
            fs.sh("for i in $(seq 1 200); do head -c 20000 /dev/urandom > f$i; done").ok();
        }
        Path truncated = work.resolve("truncated.db");
        byte[] whole = Files.readAllBytes(good);
        Files.write(truncated, java.util.Arrays.copyOf(whole, whole.length / 2));
        String truncatedDigest = digest(truncated);
        r = MountedFs.cli("mount", "--foreground", "--db", truncated.toString(), work.resolve("mnt").toString());
        assertThat(r.exitCode()).isNotZero();
        assertThat(r.stderr()).containsAnyOf("refusing to mount", "cannot open the database", "malformed");
        assertThat(digest(truncated)).isEqualTo(truncatedDigest);

        // a database on a read-only file system
        Path disk = work.resolve("disk");
        Files.createDirectories(disk);
        MountedFs.exec("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", disk.toString());
        Files.copy(good, disk.resolve("ro.db"));
        assertThat(MountedFs.exec("mount", "-o", "remount,ro", disk.toString()).exitCode()).isZero();
        r = MountedFs.cli("mount", "--foreground", "--db", disk.resolve("ro.db").toString(), work.resolve("mnt").toString());
        assertThat(r.exitCode()).isNotZero();
        assertThat(r.stderr()).contains("cannot open the database").containsIgnoringCase("readonly");
        assertThat(digest(disk.resolve("ro.db"))).isEqualTo(digest(good));
    }

    /** What a database file and its write-ahead log take of the disk (or of RAM): their blocks, not their sizes. */
    static long databaseBlocks(Path db) throws Exception {
        long bytes = 0;
        for (Path p : new Path[] {db, Path.of(db + "-wal")}) {
            if (Files.exists(p)) {
                String[] blocks = MountedFs.exec("stat", "-c", "%b %B", p.toString()).ok().stdout().trim().split(" ");
                bytes += Long.parseLong(blocks[0]) * Long.parseLong(blocks[1]);
            }
        }
        return bytes;
    }

    /**
     * Writes a 48 MiB file beside a 4 MiB one and deletes it, twice: the second
     * time its data goes where the first one's was, and it is deleted before the
     * daemon had a quiet moment in between. Each time the database (in RAM or on
     * disk) gives the space back once the mount's keep time is over (not before),
     * and the small file keeps its bytes.
     */
    private static void deletionsGiveSpaceBack(MountedFs fs, Path db) throws Exception {
        fs.sh("head -c 48M /dev/urandom > big && head -c 4M /dev/urandom > small && sync").ok();
        String small = digest(fs.path("small"));
        MountedFs.eventually("the database holding the files", 30, () -> databaseBlocks(db) > (52L << 20));
        fs.sh("rm big").ok();
        // kept for new data first (the mounts here keep free pages 2 s)
        Thread.sleep(1000);
        assertThat(databaseBlocks(db)).isGreaterThan(48L << 20);
        MountedFs.eventually("the database giving the space back", 30, () -> databaseBlocks(db) < (12L << 20));
        assertThat(digest(fs.path("small"))).isEqualTo(small);

        fs.sh("head -c 48M /dev/urandom > again && sync && rm again").ok();
        MountedFs.eventually("the database giving the reused space back", 30, () -> databaseBlocks(db) < (12L << 20));
        fs.sh("head -c 1M /dev/zero > more").ok(); // and it takes space again
        assertThat(digest(fs.path("small"))).isEqualTo(small);
        assertThat(fs.sh("wc -c < more").ok().stdout().trim()).isEqualTo("1048576");
    }

    @Test
    void deletedFilesGiveTheirSpaceBackToTheDiskAndToRam() throws Exception {
        Path db = work.resolve("fs.db");
        try (MountedFs fs = MountedFs.start("--db", db.toString(), "--keep-free", "2")) {
            deletionsGiveSpaceBack(fs, db);
        }
        assertThat(MountedFs.cli("fsck", db.toString()).stdout()).contains("is clean");

        // the default: a database in RAM gives the memory back
        java.util.Set<Path> before = MountedFs.ramDatabases();
        try (MountedFs fs = MountedFs.start("--keep-free", "2")) {
            // the warm-up's scratch database is there too until it finishes
            MountedFs.eventually("the warm-up to finish", 60, () -> fs.log().contains("warm-up: "));
            java.util.Set<Path> created = MountedFs.ramDatabases();
            created.removeAll(before);
            assertThat(created).hasSize(1);
            deletionsGiveSpaceBack(fs, created.iterator().next().resolve("fs.db"));
            // punching holes worked all along
            assertThat(fs.log()).doesNotContain("free pages stay", "not giving free pages back", "punching a hole");
        }
    }

    @Test
    void anUnmountGivesTheDiskBlocksOfKeptFreePagesBack() throws Exception {
        Path db = work.resolve("kept.db");
        try (MountedFs fs = MountedFs.start("--db", db.toString())) { // free pages kept 60 s
            fs.sh("head -c 32M /dev/urandom > big && echo small > small && sync && rm big").ok();
            Thread.sleep(1500); // the log emptied, the free pages kept
            assertThat(databaseBlocks(db)).isGreaterThan(32L << 20);
        }
        assertThat(databaseBlocks(db)).isLessThan(4L << 20);
        assertThat(MountedFs.cli("fsck", db.toString()).stdout()).contains("is clean");
        try (MountedFs fs = MountedFs.start("--db", db.toString())) {
            assertThat(fs.sh("cat small").ok().stdout()).isEqualTo("small\n");
        }
    }

    /** A file of 256 KiB of random bytes (from {@code seed}) outside the mount, to copy in. */
    private Path payload(long seed) throws Exception {
        byte[] bytes = new byte[256 << 10];
        new Random(seed).nextBytes(bytes);
        return Files.write(work.resolve("payload"), bytes);
    }

    /** Where a database goes on a new 12 MiB tmpfs, mounted at {@code work/disk} (unmounted after each test). */
    private Path databaseOnSmallDisk() throws Exception {
        Path disk = work.resolve("disk");
        Files.createDirectories(disk);
        MountedFs.exec("mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", disk.toString()).ok();
        return disk.resolve("fs.db");
    }

    /**
     * SQLite undoes a whole transaction when it meets a full disk. The rest of
     * that transaction must then fail too (run on its connection, each would
     * commit alone), and its commit must apply nothing, as it says.
     */
    @Test
    void aTransactionUndoneByAFullDiskAppliesNothingAfterwards() throws Exception {
        Path db = databaseOnSmallDisk();
        try (MountedFs fs = MountedFs.start("--db", db.toString(), "--size", "1G")) {
            fs.sh("echo precious > keep && sync keep").ok();
            MountedFs.Result tx = fs.sh("java -jar " + MountedFs.jar() + " tx -- sh -c "
                    + "'dd if=/dev/urandom of=big bs=64k count=400; echo after > later; mkdir dir; cat keep; exit 0'");
            assertThat(tx.exitCode()).isNotZero();
            assertThat(tx.stderr()).contains("dd: error writing 'big': No space left on device")
                    .contains("cannot create later: No space left on device")
                    .contains("cannot create directory 'dir': No space left on device")
                    .contains("commit failed, nothing was applied");
            assertThat(fs.sh("ls").ok().stdout()).isEqualTo("keep\n");
            assertThat(fs.log()).contains("was undone by the database");
            fs.sh("echo more > more && sync more").ok(); // the mount goes on
        }
        assertThat(MountedFs.cli("fsck", db.toString()).stdout()).contains("is clean");
    }

    /**
     * A transaction's pages go into the log at its commit, and a checkpoint must
     * then copy them into the database file. On a nearly full disk one too large
     * for the room left is refused at its commit, with nothing applied, so that
     * the log can always be emptied and a deletion always makes room again.
     */
    @Test
    void aTransactionTooLargeForANearlyFullDiskIsRefusedAtItsCommit() throws Exception {
        Path db = databaseOnSmallDisk();
        Path payload = payload(6);
        String tx = "java -jar " + MountedFs.jar() + " tx -- sh -c 'dd if=/dev/urandom of=%s bs=64k count=%d status=none'";
        try (MountedFs fs = MountedFs.start("--db", db.toString(), "--size", "1G")) {
            fs.sh("echo precious > keep && sync keep").ok();
            MountedFs.Result large = fs.sh(String.format(tx, "big", 90));
            assertThat(large.exitCode()).isNotZero();
            assertThat(large.stderr()).contains("commit failed, nothing was applied").contains("No space left on device");
            assertThat(fs.log()).contains("the disk under the database is nearly full")
                    .contains("needed to copy this transaction and the log into the database");
            assertThat(fs.sh("ls").ok().stdout()).isEqualTo("keep\n");
            Thread.sleep(1500); // the checkpointer's quiet moment
            fs.sh("cp " + payload + " after && sync after").ok();
            assertThat(digest(fs.path("after"))).isEqualTo(digest(payload));

            // a transaction that fits commits, and deleting its file makes room again
            fs.sh(String.format(tx, "small", 16)).ok();
            assertThat(fs.sh("wc -c < small").ok().stdout().trim()).isEqualTo("1048576");
            fs.sh("rm small").ok();
            Thread.sleep(1500);
            fs.sh("cp " + payload + " later && sync later").ok();
        }
        assertThat(MountedFs.cli("fsck", db.toString()).stdout()).contains("is clean");
        try (MountedFs fs = MountedFs.start("--db", db.toString())) {
            assertThat(fs.sh("ls").ok().stdout()).isEqualTo("after\nkeep\nlater\n");
            assertThat(digest(fs.path("later"))).isEqualTo(digest(payload));
        }
    }

    @Test
    void aFullDiskFailsWritesWithEnospcAndKeepsWhatWasStored() throws Exception {
        Path db = databaseOnSmallDisk();
        Path payload = payload(5);
        String log;
        try (MountedFs fs = MountedFs.start("--db", db.toString(), "--size", "1G")) {
            fs.sh("echo precious > keep && sync keep").ok();
            MountedFs.Result fill = fs.sh("dd if=/dev/urandom of=big bs=64k count=400 conv=fsync");
            assertThat(fill.exitCode()).isNotZero();
            assertThat(fill.stderr()).contains("No space left on device");
            assertThat(fs.sh("cat keep").ok().stdout()).isEqualTo("precious\n");
            fs.sh("rm big").ok(); // a reserve beside the database leaves room to delete on a full disk
            // The deleted file's pages waited in the log; copying them into the database must not
            // take back the room the deletion made, once the checkpointer has had a quiet moment.
            Thread.sleep(3000);
            // the writes that failed left nothing behind that could spoil later ones
            fs.sh("cp " + payload + " after && sync after").ok();
            assertThat(digest(fs.path("after"))).isEqualTo(digest(payload));
            fs.sh("cp " + payload + " after2 && sync after2").ok();
            // a second full disk soon after the first, with small writes
            MountedFs.Result again = fs.sh("dd if=/dev/urandom of=big2 bs=4k count=3000");
            assertThat(again.stderr()).contains("No space left on device");
            fs.sh("rm big2").ok();
            fs.sh("cp " + payload + " later && sync later").ok();
            log = fs.log();
        }
        // SQLite undoes a transaction that met a full disk itself: nothing is left for the daemon to undo
        assertThat(log).contains("returning ENOSPC").doesNotContain("rollback failed");
        assertThat(MountedFs.cli("fsck", db.toString()).stdout()).contains("is clean");
        try (MountedFs fs = MountedFs.start("--db", db.toString())) {
            assertThat(fs.sh("ls; cat keep").ok().stdout()).isEqualTo("after\nafter2\nkeep\nlater\nprecious\n");
            for (String name : new String[] {"after", "after2", "later"}) {
                assertThat(digest(fs.path(name))).isEqualTo(digest(payload));
            }
            fs.sh("cp " + payload + " remounted && sync remounted").ok(); // and there is room for more
        }
    }
}
