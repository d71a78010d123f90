package io.sqliteos.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Requests reach the daemon through /dev/fuse by default, and through io_uring
 * with --io-uring where the kernel offers it (through /dev/fuse still where the
 * daemon may not make rings); either way every kind of request and reply comes
 * through whole: large writes and reads, listings, names, attributes, and many
 * clients' requests at once.
 */
class TransportIT {

    private static final Path ENABLE_URING = Path.of("/sys/module/fuse/parameters/enable_uring");
    private static final Path IO_URING_DISABLED = Path.of("/proc/sys/kernel/io_uring_disabled");

    @Test
    void withIoUringRequestsComeThroughIoUringWhereTheKernelOffersIt() throws Exception {
        assumeTrue(Files.exists(ENABLE_URING) && Files.readString(ENABLE_URING).trim().equals("Y"),
                "FUSE over io_uring is off on this machine (scripts/setup turns it on where the kernel has it)");
        try (MountedFs fs = MountedFs.start("--size", "256M", "--io-uring")) {
            MountedFs.eventually("the transport to be reported", 30, () -> fs.log().contains("come through"));
            assertThat(fs.log()).contains("come through io_uring");
            // one ring per worker, at least one worker per processor's queue
            assertThat(ringsOf(fs.daemon().pid())).isGreaterThanOrEqualTo(Runtime.getRuntime().availableProcessors());
            everyKindOfRequestComesThroughWhole(fs);
        }
    }

    @Test
    void byDefaultRequestsComeThroughDevFuse() throws Exception {
        try (MountedFs fs = MountedFs.start("--size", "256M")) {
            MountedFs.eventually("the transport to be reported", 30, () -> fs.log().contains("come through"));
            assertThat(fs.log()).contains("come through /dev/fuse: io_uring not asked for");
            assertThat(ringsOf(fs.daemon().pid())).isZero();
            everyKindOfRequestComesThroughWhole(fs);
        }
    }

    @Test
    void noIoUringStillMeansDevFuse() throws Exception {
        try (MountedFs fs = MountedFs.start("--size", "256M", "--no-io-uring")) {
            MountedFs.eventually("the transport to be reported", 30, () -> fs.log().contains("come through"));
            assertThat(fs.log()).contains("come through /dev/fuse: io_uring not asked for");
            assertThat(ringsOf(fs.daemon().pid())).isZero();
            assertThat(fs.sh("echo hi > f && cat f").ok().stdout()).isEqualTo("hi\n");
        }
    }

    @Test
    void whereTheWorkersCannotMakeRingsRequestsStillComeThroughDevFuse() throws Exception {
        assumeTrue(Files.exists(ENABLE_URING) && Files.readString(ENABLE_URING).trim().equals("Y"),
                "FUSE over io_uring is off on this machine");
        assumeTrue(Files.isWritable(IO_URING_DISABLED), "cannot refuse io_uring to processes here");
        String before = Files.readString(IO_URING_DISABLED).trim();
        Files.writeString(IO_URING_DISABLED, "2"); // io_uring_setup fails with EPERM for everyone
        try (MountedFs fs = MountedFs.start("--size", "256M", "--io-uring")) {
            MountedFs.eventually("the transport to be reported", 30, () -> fs.log().contains("come through"));
            assertThat(fs.log()).contains("come through /dev/fuse: io_uring is refused to this process");
            assertThat(ringsOf(fs.daemon().pid())).isZero();
            everyKindOfRequestComesThroughWhole(fs);
        } finally {
            Files.writeString(IO_URING_DISABLED, before);
        }
    }

    private static long ringsOf(long pid) throws Exception {
        List<String> targets = new ArrayList<>();
        try (Stream<Path> fds = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    targets.add(Files.readSymbolicLink(fd).toString());
                } catch (java.io.IOException closedMeanwhile) {
                    // not a ring
                }
            }
        }
        return targets.stream().filter(t -> t.contains("io_uring")).count();
    }

    private static void everyKindOfRequestComesThroughWhole(MountedFs fs) throws Exception {
        // 1 MiB requests both ways, around the page cache and through it
        fs.sh("head -c 5242880 /dev/urandom > /tmp/transport-src.$$ && "
                + "dd if=/tmp/transport-src.$$ of=big bs=1M oflag=direct status=none && "
                + "dd if=big of=/tmp/transport-back.$$ bs=1M iflag=direct status=none && "
                + "cmp /tmp/transport-src.$$ /tmp/transport-back.$$ && cp big big2 && cmp big big2 && "
                + "rm -f /tmp/transport-src.$$ /tmp/transport-back.$$").ok();
        // a listing of many names, with their attributes, over several replies
        fs.sh("mkdir many && cd many && for i in $(seq 1 600); do echo $i > \"file-$i-$(printf '%0100d' $i)\"; done").ok();
        assertThat(fs.sh("ls many | wc -l").ok().stdout().trim()).isEqualTo("600");
        assertThat(fs.sh("cat many/file-600-* && stat -c %s many/file-37-*").ok().stdout()).isEqualTo("600\n3\n");
        // names and attributes in both directions
        fs.sh("ln -s big link && ln big hard && mv big2 moved && setfattr -n user.colour -v blue moved").ok();
        assertThat(fs.sh("readlink link && stat -c %h big && getfattr --only-values -n user.colour moved").ok().stdout())
                .isEqualTo("big\n2\nblue");
        assertThat(fs.sh("cat missing").exitCode()).isNotZero();
        // many clients at once, more than a processor's queue starts with: each gets its own answers
        fs.sh("for i in $(seq 1 16); do (head -c 2097152 /dev/urandom > /tmp/transport-$i.$$ && "
                + "cp /tmp/transport-$i.$$ par-$i && cmp /tmp/transport-$i.$$ par-$i && ls many > /dev/null && "
                + "rm /tmp/transport-$i.$$) & done; wait").ok();
        assertThat(fs.sh("ls par-* | wc -l && du -cb par-* | tail -n 1").ok().stdout())
                .isEqualTo("16\n" + 16 * 2097152 + "\ttotal\n");
        fs.sh("rm -r many big hard moved link par-*").ok();
        assertThat(fs.sh("ls -A").ok().stdout()).isEmpty();
    }
}
