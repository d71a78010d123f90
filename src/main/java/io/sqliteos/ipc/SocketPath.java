package io.sqliteos.ipc;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where a mount's IPC socket lives unless --ipc-socket says otherwise. Apart
 * from the server so that the CLI can name the path without loading the
 * socket and logging libraries.
 */
public final class SocketPath {

    private SocketPath() {}

    public static Path forMount(Path mountPoint) {
        String name = mountPoint.toAbsolutePath().normalize().toString().replaceAll("[^A-Za-z0-9._-]", "_") + ".sock";
        Path run = Path.of("/run/sqliteos");
        try {
            Files.createDirectories(run);
            if (Files.isWritable(run)) {
                return run.resolve(name);
            }
        } catch (IOException ignored) {
            // fall back to /tmp
        }
        return Path.of(System.getProperty("java.io.tmpdir"), "sqliteos-" + name);
    }
}
