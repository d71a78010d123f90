package io.sqliteos.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A directory of 100,000 entries lists every name exactly once, with its type
 * and inode number, by readdir and by ls.
 */
class LargeDirectoryIT {

    static final int ENTRIES = Integer.getInteger("sqliteos.it.largeDirEntries", 100_000);
    static final int DIRS = 10;
    static final int DT_DIR = 4;
    static final int DT_REG = 8;

    static MountedFs fs;

    @BeforeAll
    static void mount() throws Exception {
        fs = MountedFs.start("--size", "256M");
    }

    @AfterAll
    static void unmount() {
        fs.close();
    }

    @Test
    void hundredThousandEntriesListCorrectly() throws Exception {
        Path dir = fs.path("big");
        Files.createDirectory(dir);
        // mknod is the cheapest create (a lookup and one request); two callers keep both cores busy
        IntStream.range(0, ENTRIES).parallel().forEach(i -> {
            int rc = Sys.mknod(dir.resolve(name(i)), Sys.S_IFREG | 0644, 0);
            assertThat(rc).as("mknod %s", name(i)).isZero();
        });
        BitSet seen = new BitSet(ENTRIES);
        try (Stream<Path> s = Files.list(dir)) {
            s.forEach(p -> {
                String n = p.getFileName().toString();
                assertThat(n).startsWith("entry-");
                int i = Integer.parseInt(n.substring(6));
                assertThat(seen.get(i)).as("listed twice: %s", n).isFalse();
                seen.set(i);
            });
        }
        assertThat(seen.cardinality()).isEqualTo(ENTRIES);
        assertThat(fs.sh("ls -f big | wc -l").ok().stdout().trim()).isEqualTo(String.valueOf(ENTRIES + 2));
        assertThat(fs.sh("ls big | sort -c && ls big | head -1 && ls big | tail -1").ok().stdout())
                .isEqualTo(name(0) + "\n" + name(ENTRIES - 1) + "\n");
        assertThat(fs.sh("find big -type f | wc -l").ok().stdout().trim()).isEqualTo(String.valueOf(ENTRIES));
        // every entry's type and inode number, in every part of a listing this long
        for (int k = 0; k < DIRS; k++) {
            Files.createDirectory(dir.resolve("zz-dir-" + k)); // named to list last
        }
        Map<String, Sys.Dirent> listed = Sys.dirents(dir);
        assertThat(listed).hasSize(ENTRIES + DIRS + 2);
        assertThat(listed.entrySet()).filteredOn(e -> e.getKey().startsWith("entry-"))
                .hasSize(ENTRIES).allMatch(e -> e.getValue().type() == DT_REG);
        assertThat(listed.entrySet()).filteredOn(e -> e.getKey().startsWith("zz-dir-"))
                .hasSize(DIRS).allMatch(e -> e.getValue().type() == DT_DIR);
        for (int i = 0; i < ENTRIES; i += 997) {
            assertThat(listed.get(name(i)).ino()).as("inode of %s", name(i))
                    .isEqualTo(Files.getAttribute(dir.resolve(name(i)), "unix:ino"));
        }
        String lastDir = "zz-dir-" + (DIRS - 1);
        assertThat(listed.get(lastDir).ino()).isEqualTo(Files.getAttribute(dir.resolve(lastDir), "unix:ino"));
        // lookups by name still hit, removals show in the next listing
        for (int i = 0; i < ENTRIES; i += 1000) {
            assertThat(Sys.unlink(dir.resolve(name(i)))).isZero();
        }
        assertThat(fs.sh("ls -f big | wc -l").ok().stdout().trim())
                .isEqualTo(String.valueOf(ENTRIES + DIRS + 2 - ENTRIES / 1000));
        assertThat(Files.exists(dir.resolve(name(1)))).isTrue();
        assertThat(Files.exists(dir.resolve(name(1000)))).isFalse();
    }

    @Test
    void namesOfManyScriptsAndLengthsListOnceWithTheirTypesAcrossEveryBufferful() throws Exception {
        Path dir = fs.path("scripts");
        Files.createDirectory(dir);
        // one- to four-byte UTF-8 characters and names up to 255 bytes: entries of every length
        // fall at the boundaries of the daemon's pages and buffers
        String[] stems = {"a", "\u00e9t\u00e9", "\u65e5\u672c\u8a9e", "\ud83d\ude00", "long-" + "x".repeat(240)};
        int count = 3_000;
        Map<String, Integer> types = new HashMap<>();
        for (int i = 0; i < count; i++) {
            String n = (stems[i % stems.length] + "-" + i);
            n = n.length() > 250 ? n.substring(n.length() - 250) : n;
            if (i % 50 == 0) {
                Files.createDirectory(dir.resolve(n));
                types.put(n, DT_DIR);
            } else {
                assertThat(Sys.mknod(dir.resolve(n), Sys.S_IFREG | 0644, 0)).as("mknod %s", n).isZero();
                types.put(n, DT_REG);
            }
        }
        Map<String, Sys.Dirent> listed = Sys.dirents(dir);
        assertThat(listed).hasSize(count + 2);
        for (Map.Entry<String, Integer> e : types.entrySet()) {
            assertThat(listed.get(e.getKey())).as("entry %s", e.getKey()).isNotNull();
            assertThat(listed.get(e.getKey()).type()).as("type of %s", e.getKey()).isEqualTo(e.getValue());
        }
        assertThat(fs.sh("ls -f scripts | wc -l").ok().stdout().trim()).isEqualTo(String.valueOf(count + 2));
    }

    /**
     * A listing long enough to take several replies, and pages of the daemon's
     * listing, returns to every position telldir gave, also once it has reached
     * its end; rewinddir starts it over and shows what changed meanwhile.
     */
    @Test
    void telldirPositionsResumeTheListingEvenAfterItsEnd() throws Exception {
        int count = 5_000;
        Path dir = directoryWith("positions", count);
        try (Sys.OpenDirectory d = new Sys.OpenDirectory(dir)) {
            List<Long> positions = new ArrayList<>();
            List<String> names = new ArrayList<>();
            for (long at = d.tell(); ; at = d.tell()) {
                String n = d.next();
                if (n == null) {
                    break;
                }
                positions.add(at);
                names.add(n);
            }
            assertThat(names).hasSize(count + 2).doesNotHaveDuplicates();
            assertThat(d.next()).as("still at the end").isNull();
            for (int k : new int[] {names.size() - 1, 0, 1, 2, 1023, 1024, 1025, 2049, 3000, names.size() / 2}) {
                d.seek(positions.get(k));
                assertThat(d.next()).as("the entry at position %d of the listing", k).isEqualTo(names.get(k));
                assertThat(d.next()).as("and the one after it").isEqualTo(k + 1 < names.size() ? names.get(k + 1) : null);
            }
            assertThat(Sys.unlink(dir.resolve(name(7)))).isZero();
            assertThat(Sys.mknod(dir.resolve("new-entry"), Sys.S_IFREG | 0644, 0)).isZero();
            d.rewind();
            Set<String> again = new HashSet<>();
            for (String n = d.next(); n != null; n = d.next()) {
                assertThat(again.add(n)).as("listed twice: %s", n).isTrue();
            }
            assertThat(again).hasSize(count + 2).contains("new-entry").doesNotContain(name(7));
        }
    }

    /**
     * The kernel names the place a listing stopped only by an offset, and the
     * daemon follows a limited number of unfinished listings (1,024): one
     * left standing while more than that many others start and stop halfway
     * goes on where it stopped, every name once.
     */
    @Test
    void aListingTakenUpAfterAThousandOthersStillListsEveryNameOnce() throws Exception {
        int count = 3_000;
        Path dir = directoryWith("standing", count);
        Path others = fs.path("others");
        Files.createDirectory(others);
        for (int i = 0; i < 1_100; i++) {
            assertThat(Sys.mkdir(others.resolve("d" + i), 0755)).isZero();
        }
        try (Sys.OpenDirectory d = new Sys.OpenDirectory(dir)) {
            Set<String> seen = new HashSet<>();
            for (int i = 0; i < 100; i++) {
                assertThat(seen.add(d.next())).isTrue();
            }
            for (int i = 0; i < 1_100; i++) {
                try (Sys.OpenDirectory other = new Sys.OpenDirectory(others.resolve("d" + i))) {
                    assertThat(other.next()).isNotNull(); // and closed before its end
                }
            }
            for (String n = d.next(); n != null; n = d.next()) {
                assertThat(seen.add(n)).as("listed twice: %s", n).isTrue();
            }
            assertThat(seen).hasSize(count + 2).contains(".", "..", name(0), name(count - 1));
        }
    }

    /**
     * Entries that stay in a directory throughout a listing are listed exactly
     * once, however the directory changes between the listing's replies.
     */
    @Test
    void entriesThatStayAreListedOnceWhileOthersComeAndGo() throws Exception {
        int count = 6_000;
        Path dir = directoryWith("changing", count);
        Map<String, Integer> seen = new HashMap<>();
        try (Sys.OpenDirectory d = new Sys.OpenDirectory(dir)) {
            int read = 0;
            for (String n = d.next(); n != null; n = d.next()) {
                seen.merge(n, 1, Integer::sum);
                if (++read % 500 == 0) { // between replies: names before and after the listing's place go and come
                    int k = read / 500;
                    assertThat(Sys.unlink(dir.resolve(name(k * 3)))).isZero();
                    assertThat(Sys.unlink(dir.resolve(name(count - k * 7)))).isZero();
                    assertThat(Sys.mknod(dir.resolve("a-" + k), Sys.S_IFREG | 0644, 0)).isZero();
                    assertThat(Sys.mknod(dir.resolve("zz-" + k), Sys.S_IFREG | 0644, 0)).isZero();
                }
            }
        }
        Set<String> stayed = new HashSet<>();
        try (Stream<Path> s = Files.list(dir)) {
            s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("entry-")).forEach(stayed::add);
        }
        assertThat(stayed).hasSizeGreaterThan(count - 40);
        for (String n : stayed) {
            assertThat(seen.get(n)).as("times %s was listed", n).isEqualTo(1);
        }
        assertThat(seen.values()).allMatch(times -> times == 1);
    }

    /**
     * libfuse keeps a node per name the kernel knows, on pages the daemon
     * keeps and hands out again once their nodes are freed (node_pages.c).
     * Thirty thousand names forgotten at once free more pages than are kept,
     * and looking them all up again reuses every kept page and maps new ones:
     * each name must still lead to its own file.
     */
    @Test
    void namesTheKernelForgotLeadToTheirOwnFilesWhenLookedUpAgain() throws Exception {
        String script = """
                import os
                d, n = 'forgotten', 30000
                os.mkdir(d)
                for i in range(n):
                    fd = os.open(f'{d}/f{i}', os.O_CREAT | os.O_WRONLY, 0o644)
                    os.write(fd, b'%d' % i)
                    os.close(fd)
                inos = [os.stat(f'{d}/f{i}').st_ino for i in range(n)]
                assert len(set(inos)) == n, 'inode numbers are not distinct'
                def path(i, renamed):
                    return f'{d}/g{i}' if renamed and i % 2 == 0 else f'{d}/f{i}'
                def forget():  # the kernel drops its names: libfuse frees their nodes
                    with open('/proc/sys/vm/drop_caches', 'w') as f:
                        f.write('2')
                wrong = []
                for renamed in (False, True):
                    forget()
                    for i in range(n):
                        with open(path(i, renamed), 'rb') as f:
                            if os.fstat(f.fileno()).st_ino != inos[i] or f.read() != b'%d' % i:
                                wrong.append(path(i, renamed))
                    if not renamed:
                        for i in range(0, n, 2):
                            os.rename(path(i, False), path(i, True))
                for i in range(n):
                    os.unlink(path(i, True))
                print(len(wrong), wrong[:5], len(os.listdir(d)))
                """;
        Files.writeString(fs.path("forget.py"), script);
        assertThat(fs.sh("python3 forget.py && rmdir forgotten && rm forget.py").ok().stdout())
                .as("files whose name led elsewhere, and names left").isEqualTo("0 [] 0\n");
    }

    /** Makes empty files {@code name(0)} to {@code name(count - 1)} in {@code dir}. */
    /** A new directory of the mount with {@code count} empty files, named as {@link #name} gives. */
    private static Path directoryWith(String name, int count) throws Exception {
        Path dir = fs.path(name);
        Files.createDirectory(dir);
        makeEntries(dir, count);
        return dir;
    }

    private static void makeEntries(Path dir, int count) {
        for (int i = 0; i < count; i++) {
            assertThat(Sys.mknod(dir.resolve(name(i)), Sys.S_IFREG | 0644, 0)).as("mknod %s", name(i)).isZero();
        }
    }

    private static String name(int i) {
        return String.format("entry-%06d", i);
    }
}
