package io.sqliteos.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A seeded random exerciser in the spirit of fsx: thousands of random writes,
 * reads (also through memory mappings), truncates, fallocates (allocate, zero
 * range, punch hole), renames, links and unlinks, applied both to the mount and
 * to an in-memory model, and compared after every step.
 *
 * <p>{@code -Dsqliteos.fsx.seed=N} replays a run (the seed is printed, and named
 * in every failure); {@code -Dsqliteos.fsx.ops=N} sets the number of steps;
 * {@code -Dsqliteos.fsx.long=true} runs a long soak (200,000 steps, larger files).
 */
class RandomOpsIT {

    static final boolean LONG = Boolean.getBoolean("sqliteos.fsx.long");
    static final long SEED = Long.getLong("sqliteos.fsx.seed", System.nanoTime());
    static final int OPS = Integer.getInteger("sqliteos.fsx.ops", LONG ? 200_000 : 2_500);
    /** Most offsets fall below this; 64 KiB storage blocks are crossed often. */
    static final int MAX_SIZE = LONG ? 4 << 20 : 600_000;
    static final int MAX_IO = 150_000;
    static final String[] DIRS = {"d0", "d1", "d2"};
    static final int NAMES_PER_DIR = 6;
    static final int FULL_CHECK_EVERY = 250;

    static MountedFs fs;

    @BeforeAll
    static void mount() throws Exception {
        fs = MountedFs.start("--size", "1G");
    }

    @AfterAll
    static void unmount() {
        fs.close();
    }

    /** One file in the model: its bytes (the length is the size) and its real inode number. */
    static final class Node {
        byte[] data = new byte[0];
        long ino;

        void resize(int size) {
            data = Arrays.copyOf(data, size);
        }
    }

    private final Random rnd = new Random(SEED);
    /** Every name ("d1/f3") and the file it names; hard links share a Node. */
    private final TreeMap<String, Node> names = new TreeMap<>();
    private final Deque<String> history = new ArrayDeque<>();
    private int step;

    @Test
    void randomOperationsMatchTheModel() throws Exception {
        System.out.println("RandomOpsIT: seed " + SEED + " (replay with -Dsqliteos.fsx.seed=" + SEED + "), " + OPS + " steps");
        for (String d : DIRS) {
            Files.createDirectory(fs.path(d));
        }
        Map<String, Integer> counts = new TreeMap<>();
        for (step = 1; step <= OPS; step++) {
            try {
                String op = pickAndApply();
                counts.merge(op.split(" ")[0], 1, Integer::sum);
                if (step % FULL_CHECK_EVERY == 0) {
                    checkEverything();
                }
            } catch (Throwable e) {
                throw new AssertionError("seed " + SEED + " failed at step " + step + " (" + history.peekLast() + "); replay with -Dsqliteos.fsx.seed="
                        + SEED + "\nlast steps:\n  " + String.join("\n  ", history) + "\n" + e.getMessage(), e);
            }
        }
        checkEverything();
        System.out.println("RandomOpsIT: seed " + SEED + " passed; operations " + counts);
        assertThat(counts.keySet()).contains("write", "read", "mapwrite", "mapread", "truncate", "fallocate", "zero", "punch", "rename", "link", "unlink");
    }

    private void log(String what) {
        history.addLast(step + ": " + what);
        if (history.size() > 25) {
            history.removeFirst();
        }
    }

    private Path real(String name) {
        return fs.path(name);
    }

    private String randomName() {
        return DIRS[rnd.nextInt(DIRS.length)] + "/f" + rnd.nextInt(NAMES_PER_DIR);
    }

    private String existingName() {
        List<String> all = new ArrayList<>(names.keySet());
        return all.get(rnd.nextInt(all.size()));
    }

    private int offset() {
        return rnd.nextInt(10) == 0 ? rnd.nextInt(MAX_SIZE) & ~0xFFFF : rnd.nextInt(MAX_SIZE);
    }

    private int length() {
        int kind = rnd.nextInt(10);
        return 1 + (kind < 4 ? rnd.nextInt(100) : kind < 9 ? rnd.nextInt(MAX_IO) : 65_536);
    }

    /** Chooses an operation, applies it to the mount and the model, and checks what it touched. */
    private String pickAndApply() throws Exception {
        if (names.isEmpty() || rnd.nextInt(20) == 0) {
            return create(randomName());
        }
        String name = existingName();
        int r = rnd.nextInt(100);
        if (r < 22) {
            return write(name, rnd.nextInt(8) == 0);
        } else if (r < 25) {
            return mapWrite(name);
        } else if (r < 37) {
            return read(name);
        } else if (r < 40) {
            return mapRead(name);
        } else if (r < 52) {
            return truncate(name);
        } else if (r < 57) {
            return fallocate(name);
        } else if (r < 60) {
            return zeroRange(name);
        } else if (r < 66) {
            return punch(name);
        } else if (r < 78) {
            return rename(name, randomName());
        } else if (r < 88) {
            return link(name, randomName());
        } else {
            return unlink(name);
        }
    }

    private int open(String name, int flags) {
        int fd = Sys.open(real(name), flags, 0644);
        assertThat(fd).as("open %s", name).isNotNegative();
        return fd;
    }

    private String create(String name) throws Exception {
        String what = "create " + name;
        log(what);
        int fd = Sys.open(real(name), Sys.O_RDWR | Sys.O_CREAT | Sys.O_EXCL, 0644);
        if (names.containsKey(name)) {
            assertThat(fd).as("O_EXCL on an existing name").isEqualTo(-Sys.EEXIST);
            return what;
        }
        assertThat(fd).isNotNegative();
        Sys.close(fd);
        Node n = new Node();
        n.ino = (long) fs.stat(name).get("ino");
        names.put(name, n);
        checkNode(n);
        checkListing();
        return what;
    }

    private String write(String name, boolean append) throws Exception {
        Node n = names.get(name);
        int off = append ? n.data.length : offset();
        byte[] data = new byte[length()];
        rnd.nextBytes(data);
        String what = (append ? "write (append) " : "write ") + name + " at " + off + " len " + data.length;
        log(what);
        int fd = open(name, append ? Sys.O_WRONLY | Sys.O_APPEND : Sys.O_WRONLY);
        try {
            long written = append ? Sys.write(fd, data) : Sys.pwrite(fd, data, off);
            assertThat(written).isEqualTo(data.length);
        } finally {
            Sys.close(fd);
        }
        if (off + data.length > n.data.length) {
            n.resize(off + data.length);
        }
        System.arraycopy(data, 0, n.data, off, data.length);
        checkNode(n);
        return what;
    }

    private String read(String name) {
        Node n = names.get(name);
        int off = rnd.nextInt(Math.max(1, n.data.length + 1000));
        int len = length();
        String what = "read " + name + " at " + off + " len " + len;
        log(what);
        int fd = open(name, Sys.O_RDONLY);
        try {
            byte[] got = Sys.pread(fd, len, off);
            int expectedLength = Math.max(0, Math.min(len, n.data.length - off));
            assertThat(got.length).as("bytes read").isEqualTo(expectedLength);
            assertThat(got).isEqualTo(Arrays.copyOfRange(n.data, Math.min(off, n.data.length), Math.min(off, n.data.length) + expectedLength));
        } finally {
            Sys.close(fd);
        }
        return what;
    }

    /** Writes through a shared memory mapping of part of the file, then msync. */
    private String mapWrite(String name) throws Exception {
        Node n = names.get(name);
        if (n.data.length == 0) {
            return read(name);
        }
        int off = rnd.nextInt(n.data.length);
        int len = Math.min(n.data.length - off, length());
        byte[] data = new byte[len];
        rnd.nextBytes(data);
        String what = "mapwrite " + name + " at " + off + " len " + len;
        log(what);
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(real(name),
                java.nio.file.StandardOpenOption.READ, java.nio.file.StandardOpenOption.WRITE)) {
            java.nio.MappedByteBuffer map = ch.map(java.nio.channels.FileChannel.MapMode.READ_WRITE, off, len);
            map.put(data);
            map.force();
        }
        System.arraycopy(data, 0, n.data, off, len);
        checkNode(n);
        return what;
    }

    /** Reads through a private memory mapping and compares. */
    private String mapRead(String name) throws Exception {
        Node n = names.get(name);
        if (n.data.length == 0) {
            return read(name);
        }
        int off = rnd.nextInt(n.data.length);
        int len = Math.min(n.data.length - off, length());
        String what = "mapread " + name + " at " + off + " len " + len;
        log(what);
        byte[] got = new byte[len];
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(real(name))) {
            ch.map(java.nio.channels.FileChannel.MapMode.READ_ONLY, off, len).get(got);
        }
        assertThat(got).isEqualTo(Arrays.copyOfRange(n.data, off, off + len));
        return what;
    }

    private String truncate(String name) throws Exception {
        Node n = names.get(name);
        int size = rnd.nextInt(3) == 0 ? rnd.nextInt(Math.max(1, n.data.length + 1)) : offset();
        boolean byFd = rnd.nextBoolean();
        String what = (byFd ? "truncate (ftruncate) " : "truncate ") + name + " to " + size + " from " + n.data.length;
        log(what);
        if (byFd) {
            int fd = open(name, Sys.O_RDWR);
            try {
                assertThat(Sys.ftruncate(fd, size)).isZero();
            } finally {
                Sys.close(fd);
            }
        } else {
            assertThat(Sys.truncate(real(name), size)).isZero();
        }
        n.resize(size);
        checkNode(n);
        return what;
    }

    private String fallocate(String name) throws Exception {
        Node n = names.get(name);
        int off = offset();
        int len = length();
        boolean keep = rnd.nextBoolean();
        String what = "fallocate " + (keep ? "(keep size) " : "") + name + " at " + off + " len " + len;
        log(what);
        int fd = open(name, Sys.O_RDWR);
        try {
            assertThat(Sys.fallocate(fd, keep ? Sys.FALLOC_FL_KEEP_SIZE : 0, off, len)).isZero();
        } finally {
            Sys.close(fd);
        }
        if (!keep && off + len > n.data.length) {
            n.resize(off + len);
        }
        checkNode(n);
        return what;
    }

    private String zeroRange(String name) throws Exception {
        Node n = names.get(name);
        int off = offset();
        int len = length();
        boolean keep = rnd.nextBoolean();
        String what = "zero " + (keep ? "(keep size) " : "") + name + " at " + off + " len " + len;
        log(what);
        int fd = open(name, Sys.O_RDWR);
        try {
            assertThat(Sys.fallocate(fd, Sys.FALLOC_FL_ZERO_RANGE | (keep ? Sys.FALLOC_FL_KEEP_SIZE : 0), off, len)).isZero();
        } finally {
            Sys.close(fd);
        }
        if (!keep && off + len > n.data.length) {
            n.resize(off + len);
        }
        if (off < n.data.length) {
            Arrays.fill(n.data, off, Math.min(n.data.length, off + len), (byte) 0);
        }
        checkNode(n);
        return what;
    }

    private String punch(String name) throws Exception {
        Node n = names.get(name);
        int off = rnd.nextInt(Math.max(1, n.data.length));
        int len = length();
        String what = "punch " + name + " at " + off + " len " + len;
        log(what);
        int fd = open(name, Sys.O_RDWR);
        try {
            assertThat(Sys.fallocate(fd, Sys.FALLOC_FL_PUNCH_HOLE | Sys.FALLOC_FL_KEEP_SIZE, off, len)).isZero();
        } finally {
            Sys.close(fd);
        }
        if (off < n.data.length) {
            Arrays.fill(n.data, off, Math.min(n.data.length, off + len), (byte) 0);
        }
        checkNode(n);
        return what;
    }

    private String rename(String from, String to) throws Exception {
        String what = "rename " + from + " to " + to;
        log(what);
        assertThat(Sys.rename(real(from), real(to))).isZero();
        Node moving = names.get(from);
        Node replaced = names.get(to);
        if (replaced != moving) {
            names.remove(from);
            names.put(to, moving);
        } // else: two names of one file, rename does nothing
        checkNode(moving);
        if (replaced != null && replaced != moving) {
            checkNodeIfLinked(replaced);
        }
        checkListing();
        return what;
    }

    private String link(String existing, String newName) throws Exception {
        String what = "link " + existing + " as " + newName;
        log(what);
        int rc = Sys.link(real(existing), real(newName));
        Node n = names.get(existing);
        if (names.containsKey(newName)) {
            assertThat(rc).as("link over an existing name").isEqualTo(-Sys.EEXIST);
        } else {
            assertThat(rc).isZero();
            names.put(newName, n);
        }
        checkNode(n);
        checkListing();
        return what;
    }

    private String unlink(String name) throws Exception {
        String what = "unlink " + name;
        log(what);
        assertThat(Sys.unlink(real(name))).isZero();
        Node n = names.remove(name);
        assertThat(Files.exists(real(name), java.nio.file.LinkOption.NOFOLLOW_LINKS)).isFalse();
        checkNodeIfLinked(n);
        checkListing();
        return what;
    }

    // --- comparing -------------------------------------------------------------------------------------

    private List<String> namesOf(Node n) {
        List<String> out = new ArrayList<>();
        names.forEach((name, node) -> {
            if (node == n) {
                out.add(name);
            }
        });
        return out;
    }

    private void checkNodeIfLinked(Node n) throws Exception {
        if (!namesOf(n).isEmpty()) {
            checkNode(n);
        }
    }

    /** Every name of the file shows its inode, link count and size; one of them, chosen at random, its bytes. */
    private void checkNode(Node n) throws Exception {
        List<String> all = namesOf(n);
        for (String name : all) {
            Map<String, Object> st = fs.stat(name);
            assertThat(st.get("ino")).as("inode of %s", name).isEqualTo(n.ino);
            assertThat(st.get("nlink")).as("links of %s", name).isEqualTo(all.size());
            assertThat(st.get("size")).as("size of %s", name).isEqualTo((long) n.data.length);
        }
        String via = all.get(rnd.nextInt(all.size()));
        byte[] actual = Files.readAllBytes(real(via));
        if (!Arrays.equals(actual, n.data)) {
            throw new AssertionError("content of " + via + " differs from the model: " + firstDifference(actual, n.data));
        }
    }

    private static String firstDifference(byte[] actual, byte[] expected) {
        int n = Math.min(actual.length, expected.length);
        for (int i = 0; i < n; i++) {
            if (actual[i] != expected[i]) {
                return "first difference at byte " + i + " (actual " + actual[i] + ", expected " + expected[i]
                        + "), sizes " + actual.length + " / " + expected.length;
            }
        }
        return "sizes " + actual.length + " / " + expected.length;
    }

    /** The directories hold exactly the model's names. */
    private void checkListing() throws Exception {
        TreeSet<String> actual = new TreeSet<>();
        for (String d : DIRS) {
            try (Stream<Path> s = Files.list(fs.path(d))) {
                s.forEach(p -> actual.add(d + "/" + p.getFileName()));
            }
        }
        assertThat(actual).as("names in the directories").isEqualTo(names.navigableKeySet());
    }

    private void checkEverything() throws Exception {
        checkListing();
        Map<Node, Boolean> seen = new HashMap<>();
        for (Node n : names.values()) {
            if (seen.put(n, true) == null) {
                checkNode(n);
            }
        }
        long distinctInodes = names.values().stream().map(n -> n.ino).distinct().count();
        assertThat(distinctInodes).as("distinct files").isEqualTo(seen.size());
    }
}
