package io.sqliteos.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Eight OS processes (four as root, four as unprivileged users) create, write,
 * append, read, rename, link, truncate and delete in four shared directories
 * at the same time. Each owns its names, so the end state is deterministic: the
 * test replays the same rules in a model and compares the whole tree, byte for
 * byte, with link counts and owners. All also append lines to one shared log.
 * Then eight processes write interleaved stripes of one file and lose nothing.
 */
class ConcurrencyIT {

    static final int WORKERS = 8;
    static final int ROUNDS = Integer.getInteger("sqliteos.it.concurrencyRounds", 30);

    /** One worker: $1 = its number, $2 = rounds. Fails loudly on any surprise in its own files. */
    static final String WORKER = """
            set -u
            w=$1; R=$2
            fail() { echo "worker $w round $i: $*" >&2; exit 1; }
            content() { local k=$(( 1 + (w * 7 + i * 13) % 50 )) j; for ((j = 0; j < k; j++)); do printf 'w%d r%d line %d\\n' $w $i $j; done; }
            for ((i = 0; i < R; i++)); do
              d=$(( (w + i) % 4 )); e=$(( (w + i + 1) % 4 )); n=$(( (w + i + 2) % 4 ))
              f=s$d/w$w-$i.tmp
              content > $f || fail "write $f"
              cmp -s <(content) $f || fail "read back $f"
              echo "end $w $i" >> $f || fail "append $f"
              mv $f s$e/w$w-$i || fail "rename $f"
              [ "$(tail -n 1 s$e/w$w-$i)" = "end $w $i" ] || fail "tail of s$e/w$w-$i"
              echo "w$w r$i" >> shared.log || fail "shared append"
              if (( i % 4 == 1 )); then ln s$e/w$w-$i s$n/w$w-$i.ln || fail "link"; fi
              if (( i % 3 == 2 )); then rm s$d/w$w-$((i - 1)) || fail "unlink"; fi
              if (( i % 5 == 0 )); then
                mkdir s$d/w$w-dir$i && echo "dir $w $i" > s$d/w$w-dir$i/inside && mv s$d/w$w-dir$i s$n/ || fail "dir"
              fi
              if (( i % 6 == 5 )); then
                echo "latest $w $i" > s$d/w$w-latest.tmp && mv s$d/w$w-latest.tmp s0/w$w-latest || fail "replace"
              fi
              if (( i % 7 == 3 )); then truncate -s $(( i * 10 )) s$e/w$w-$i || fail "truncate"; fi
              cat s$n/* > /dev/null 2>&1 || true  # read whatever the others have there now
            done
            """;

    /**
     * One writer of a shared file: $1 = its number, $2 = rounds. It owns every
     * eighth 1000-byte stripe (so writes straddle the others' stripes within a
     * storage block) and checks after each round that its stripes are intact.
     */
    static final String STRIPER = """
            perl -e '
              my ($w, $rounds) = @ARGV;
              open(my $f, "+<", "striped") or die "open: $!";
              for my $r (0 .. $rounds - 1) {
                my $s = chr(65 + $w) x 999 . chr(48 + $r % 10);
                for (my $k = $w; $k < 400; $k += 8) {
                  sysseek($f, $k * 1000, 0) or die "seek: $!";
                  syswrite($f, $s) == 1000 or die "write: $!";
                }
                for (my $k = $w; $k < 400; $k += 8) {
                  sysseek($f, $k * 1000, 0) or die "seek: $!";
                  sysread($f, my $got, 1000) == 1000 or die "short read";
                  $got eq $s or die "worker $w round $r: stripe $k was changed by someone else";
                }
              }' "$@"
            """;

    static MountedFs fs;

    @BeforeAll
    static void mount() throws Exception {
        fs = MountedFs.start("--size", "256M");
    }

    @AfterAll
    static void unmount() {
        fs.close();
    }

    static int uidOf(int worker) {
        return worker < WORKERS / 2 ? 0 : 3000 + worker;
    }

    /** A file in the model; hard links share one. */
    static final class Node {
        byte[] data;
        final int owner;

        Node(byte[] data, int owner) {
            this.data = data;
            this.owner = owner;
        }
    }

    /** The end state the workers' rules produce: file paths, directory paths and the log lines. */
    static final class Model {
        final Map<String, Node> files = new TreeMap<>();
        final TreeSet<String> dirs = new TreeSet<>(List.of("s0", "s1", "s2", "s3"));

        void run(int w) {
            int uid = uidOf(w);
            for (int i = 0; i < ROUNDS; i++) {
                int d = (w + i) % 4;
                int e = (w + i + 1) % 4;
                int n = (w + i + 2) % 4;
                StringBuilder text = new StringBuilder();
                int k = 1 + (w * 7 + i * 13) % 50;
                for (int j = 0; j < k; j++) {
                    text.append("w").append(w).append(" r").append(i).append(" line ").append(j).append('\n');
                }
                text.append("end ").append(w).append(' ').append(i).append('\n');
                Node node = new Node(text.toString().getBytes(StandardCharsets.UTF_8), uid);
                String name = "s" + e + "/w" + w + "-" + i;
                files.put(name, node);
                if (i % 4 == 1) {
                    files.put("s" + n + "/w" + w + "-" + i + ".ln", node);
                }
                if (i % 3 == 2) {
                    assertThat(files.remove("s" + d + "/w" + w + "-" + (i - 1))).isNotNull();
                }
                if (i % 5 == 0) {
                    String dir = "s" + n + "/w" + w + "-dir" + i;
                    dirs.add(dir);
                    files.put(dir + "/inside", new Node(("dir " + w + " " + i + "\n").getBytes(StandardCharsets.UTF_8), uid));
                }
                if (i % 6 == 5) {
                    files.put("s0/w" + w + "-latest", new Node(("latest " + w + " " + i + "\n").getBytes(StandardCharsets.UTF_8), uid));
                }
                if (i % 7 == 3) {
                    node.data = Arrays.copyOf(node.data, i * 10);
                }
            }
        }
    }

    @Test
    void eightProcessesWritingInterleavedStripesOfOneFileLoseNothing() throws Exception {
        int rounds = Math.max(3, ROUNDS / 3);
        fs.sh("truncate -s 400000 striped && chmod 666 striped").ok();
        List<Process> writers = new ArrayList<>();
        for (int w = 0; w < WORKERS; w++) {
            writers.add(fs.spawn(uidOf(w), uidOf(w), STRIPER, String.valueOf(w), String.valueOf(rounds)));
        }
        List<String> failures = new ArrayList<>();
        for (int w = 0; w < WORKERS; w++) {
            Process p = writers.get(w);
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(10, TimeUnit.MINUTES) || p.exitValue() != 0) {
                p.destroyForcibly();
                failures.add("writer " + w + ": " + out);
            }
        }
        assertThat(failures).as("writer failures").isEmpty();
        byte[] actual = Files.readAllBytes(fs.path("striped"));
        byte[] expected = new byte[400_000];
        for (int k = 0; k < 400; k++) {
            Arrays.fill(expected, k * 1000, k * 1000 + 999, (byte) ('A' + k % WORKERS));
            expected[k * 1000 + 999] = (byte) ('0' + (rounds - 1) % 10);
        }
        assertThat(actual.length).isEqualTo(expected.length);
        for (int k = 0; k < 400; k++) {
            assertThat(new String(actual, k * 1000, 1000, StandardCharsets.ISO_8859_1)).as("stripe %d", k)
                    .isEqualTo(new String(expected, k * 1000, 1000, StandardCharsets.ISO_8859_1));
        }
    }

    @Test
    void eightProcessesLeaveExactlyTheModelledTree() throws Exception {
        fs.sh("mkdir -m 1777 s0 s1 s2 s3 && touch shared.log && chmod 666 shared.log").ok();
        List<Process> workers = new ArrayList<>();
        for (int w = 0; w < WORKERS; w++) {
            workers.add(fs.spawn(uidOf(w), uidOf(w), WORKER, String.valueOf(w), String.valueOf(ROUNDS)));
        }
        List<String> failures = new ArrayList<>();
        for (int w = 0; w < WORKERS; w++) {
            Process p = workers.get(w);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            p.getInputStream().transferTo(out);
            if (!p.waitFor(10, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                failures.add("worker " + w + " timed out");
            } else if (p.exitValue() != 0) {
                failures.add("worker " + w + " exited " + p.exitValue() + ": " + out.toString(StandardCharsets.UTF_8));
            }
        }
        assertThat(failures).as("worker failures").isEmpty();

        Model model = new Model();
        for (int w = 0; w < WORKERS; w++) {
            model.run(w);
        }
        // the tree: every directory and every file, nothing more
        TreeSet<String> actualDirs = new TreeSet<>();
        Map<String, byte[]> actualFiles = new TreeMap<>();
        for (String shared : List.of("s0", "s1", "s2", "s3")) {
            try (Stream<Path> walk = Files.walk(fs.path(shared))) {
                for (Path p : (Iterable<Path>) walk::iterator) {
                    String rel = fs.root().relativize(p).toString();
                    if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                        actualDirs.add(rel);
                    } else {
                        actualFiles.put(rel, Files.readAllBytes(p));
                    }
                }
            }
        }
        assertThat(actualDirs).isEqualTo(model.dirs);
        assertThat(actualFiles.keySet()).isEqualTo(model.files.keySet());
        Map<Node, List<String>> namesOfNode = new IdentityHashMap<>();
        model.files.forEach((name, node) -> namesOfNode.computeIfAbsent(node, x -> new ArrayList<>()).add(name));
        for (Map.Entry<String, Node> e : model.files.entrySet()) {
            String name = e.getKey();
            Node node = e.getValue();
            assertThat(new String(actualFiles.get(name), StandardCharsets.ISO_8859_1)).as("content of %s", name)
                    .isEqualTo(new String(node.data, StandardCharsets.ISO_8859_1));
            Map<String, Object> st = fs.stat(name);
            assertThat(st.get("nlink")).as("links of %s", name).isEqualTo(namesOfNode.get(node).size());
            assertThat(st.get("uid")).as("owner of %s", name).isEqualTo(node.owner);
            assertThat(st.get("ino")).as("inode of %s", name).isEqualTo(fs.stat(namesOfNode.get(node).get(0)).get("ino"));
        }
        // appends from all processes to one file: every line once, none torn
        List<String> lines = Files.readAllLines(fs.path("shared.log"));
        Map<String, Integer> counts = new HashMap<>();
        lines.forEach(l -> counts.merge(l, 1, Integer::sum));
        assertThat(lines).hasSize(WORKERS * ROUNDS);
        for (int w = 0; w < WORKERS; w++) {
            for (int i = 0; i < ROUNDS; i++) {
                assertThat(counts.get("w" + w + " r" + i)).as("log line w%d r%d", w, i).isEqualTo(1);
            }
        }
        // each directory's link count is 2 plus its subdirectories
        for (String dir : model.dirs) {
            long subdirs = model.dirs.stream().filter(x -> x.startsWith(dir + "/") && x.indexOf('/', dir.length() + 1) < 0).count();
            assertThat(fs.stat(dir).get("nlink")).as("links of %s", dir).isEqualTo((int) (2 + subdirs));
        }
        assertThat(fs.daemon().isAlive()).isTrue();
    }
}
