package io.sqliteos.it;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The mount comes up, holds data through ordinary tools, reports its budget, and goes away cleanly. */
class SmokeIT {

    static MountedFs fs;

    @BeforeAll
    static void mount() throws Exception {
        fs = MountedFs.start("--size", "256M");
    }

    @AfterAll
    static void unmount() {
        fs.close();
        assertThat(fs.isMounted()).isFalse();
    }

    @Test
    void writesAndReadsBackThroughShellTools() throws Exception {
        fs.sh("echo hello > a.txt && mkdir -p d/e && cp a.txt d/e/b.txt").ok();
        assertThat(fs.sh("cat d/e/b.txt").ok().stdout()).isEqualTo("hello\n");
        assertThat(fs.sh("stat -c %s a.txt").ok().stdout().trim()).isEqualTo("6");
    }

    @Test
    void statfsReportsTheSizeBudget() throws Exception {
        String blocks = fs.sh("stat -f -c '%S %b' .").ok().stdout().trim();
        assertThat(blocks).isEqualTo("4096 65536");
    }
}
