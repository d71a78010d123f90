package io.sqliteos.fuse;

import static org.assertj.core.api.Assertions.assertThat;

import io.sqliteos.db.Database;
import io.sqliteos.fs.Caller;
import io.sqliteos.fs.DirEntry;
import io.sqliteos.fs.FileSystem;
import io.sqliteos.tx.SessionRouter;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The warm-up's rehearsal: made-up requests reach the file system through
 * libfuse and the adapter, and do to it what the same requests from a kernel
 * would.
 */
class RequestRehearsalTest {

    private Database database;
    private SessionRouter router;
    private FileSystem fs;

    @BeforeEach
    void open() {
        database = Database.openEphemeral(5_000);
        router = new SessionRouter(database);
        fs = new FileSystem(router, 1L << 30);
        fs.initialize(0, 0);
    }

    @AfterEach
    void close() {
        router.transactions().close();
        database.close();
    }

    private List<String> names(String dir) {
        long dh = fs.opendir(Caller.ROOT, dir);
        try {
            return fs.readdir(Caller.ROOT, dir, dh).stream().map(DirEntry::name)
                    .filter(n -> !n.equals(".") && !n.equals("..")).sorted().collect(Collectors.toList());
        } finally {
            fs.releasedir(Caller.ROOT, dh);
        }
    }

    @Test
    void roundsAndListingsGoThroughLibfuseToTheFileSystem() {
        try (RequestRehearsal rehearsal = RequestRehearsal.start(fs)) {
            assertThat(rehearsal).as("libfuse and the daemon's native library are installed").isNotNull();
            // the start made the round's fifty directories through MKDIR requests
            assertThat(names("/d")).hasSize(50).contains("s0", "s49");
            for (int i = 0; i < 120; i++) {
                rehearsal.round(i);
            }
            rehearsal.listing();
            rehearsal.listing();
        }
        // each round created, wrote, renamed and removed a file, and made and removed a directory
        for (int i = 1; i < 50; i++) {
            assertThat(names("/d/s" + i)).as("/d/s" + i).isEmpty();
        }
        assertThat(names("/d/s0")).containsExactly("full");
        List<String> listed = names("/d/s0/full");
        assertThat(listed).hasSize(250).allMatch(n -> n.startsWith("entry-") && n.endsWith("source-files.txt"));
        assertThat(fs.getattr(Caller.ROOT, "/d/s0/full/" + listed.get(0)).mode() & 0170000).isEqualTo(0100000);
    }
}
