package io.sqliteos.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What {@code sqliteos mount} hands its background daemon, and how {@code sqliteos umount} finds it again. */
class DaemonLaunchTest {

    private final List<String> setProperties = new ArrayList<>();

    @AfterEach
    void clearProperties() {
        setProperties.forEach(System::clearProperty);
    }

    @Test
    void theDaemonReadsBackEverySetting() {
        Daemon.Settings given = new Daemon.Settings(Path.of("/mnt/with space"), Path.of("/var/lib/x.db"), 16L << 20,
                List.of("allow_other", "ro"), 1234, true, true, Path.of("/run/x.sock"), 0.5, 2.5, false, false);
        assertThat(roundTrip(given)).isEqualTo(given);
    }

    @Test
    void unsetOptionsStayUnset() {
        Daemon.Settings given = new Daemon.Settings(Path.of("/mnt/x"), null, 64L << 20, List.of(), 5000, false, false,
                null, null, 30, true, true);
        assertThat(roundTrip(given)).isEqualTo(given);
    }

    @Test
    void umountRecognizesTheDaemonThatMountStarts() {
        Path dir = Path.of("/mnt/a b");
        Daemon.Settings s = new Daemon.Settings(dir, null, 1L << 30, List.of(), 5000, false, false, null, null, 30, true, true);
        List<String> args = MountCommand.daemonArguments(List.of("-Xmx1g"), s, "/opt/sqliteos.jar");
        assertThat(UmountCommand.servesMountPoint(args, dir)).isTrue();
        assertThat(UmountCommand.servesMountPoint(args, Path.of("/mnt/a"))).isFalse();
        assertThat(args).contains("-Xmx1g").doesNotContain("-Xmx256m");
    }

    @Test
    void theDaemonStartsFromTheJarsClassArchiveOnlyWhileItIsNewerThanTheJar(@TempDir Path dir) throws Exception {
        Path jar = Files.writeString(dir.resolve("sqliteos.jar"), "jar");
        Daemon.Settings s = new Daemon.Settings(Path.of("/mnt/x"), null, 1L << 30, List.of(), 5000, false, false, null, null, 30, true, true);
        assertThat(MountCommand.daemonArguments(List.of(), s, jar.toString())).noneMatch(a -> a.contains("SharedArchive"));

        Path archive = Files.writeString(dir.resolve("sqliteos.jsa"), "archive");
        Files.setLastModifiedTime(jar, FileTime.fromMillis(1_000_000_000_000L));
        Files.setLastModifiedTime(archive, FileTime.fromMillis(1_000_000_001_000L));
        assertThat(MountCommand.daemonArguments(List.of(), s, jar.toString()))
                .containsSubsequence("-XX:SharedArchiveFile=" + archive, "-cp", jar.toString());
        // the launcher's own choice is passed on as it is, not doubled
        List<String> launched = MountCommand.daemonArguments(List.of("-XX:SharedArchiveFile=/opt/other.jsa"), s, jar.toString());
        assertThat(launched.stream().filter(a -> a.startsWith("-XX:SharedArchiveFile"))).containsExactly("-XX:SharedArchiveFile=/opt/other.jsa");
        // a class path of several entries has no archive of its own
        assertThat(MountCommand.daemonArguments(List.of(), s, jar + ":" + dir)).noneMatch(a -> a.contains("SharedArchive"));

        // a jar built after its archive was made: the archive is stale and left out
        Files.setLastModifiedTime(jar, FileTime.fromMillis(1_000_000_002_000L));
        assertThat(MountCommand.daemonArguments(List.of(), s, jar.toString())).noneMatch(a -> a.contains("SharedArchive"));
    }

    @Test
    void umountRecognizesAForegroundDaemon() {
        List<String> args = List.of("-jar", "/opt/sqliteos.jar", "mount", "--foreground", "/mnt/x", "--size", "1G");
        assertThat(UmountCommand.servesMountPoint(args, Path.of("/mnt/x"))).isTrue();
        assertThat(UmountCommand.servesMountPoint(args, Path.of("/mnt/y"))).isFalse();
    }

    /** Sets the -D options as this JVM's system properties and reads them back, as the daemon's JVM does. */
    private Daemon.Settings roundTrip(Daemon.Settings given) {
        for (String option : given.asSystemProperties()) {
            assertThat(option).startsWith("-D");
            String[] kv = option.substring(2).split("=", 2);
            System.setProperty(kv[0], kv[1]);
            setProperties.add(kv[0]);
        }
        return Daemon.Settings.fromSystemProperties(given.mountPoint());
    }
}
