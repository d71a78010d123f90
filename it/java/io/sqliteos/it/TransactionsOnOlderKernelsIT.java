package io.sqliteos.it;

import java.util.List;
import org.junit.jupiter.api.BeforeAll;

/**
 * The transaction tests again, with the daemon acting as on a kernel older
 * than Linux 6.16, which cannot drop its cached names on request: there a
 * transaction's begin waits for them to expire instead.
 */
class TransactionsOnOlderKernelsIT extends TransactionsIT {

    @BeforeAll
    static void mount() throws Exception {
        fs = MountedFs.start(List.of("-Dsqliteos.kernelEpochs=false"), "--size", "256M", "--busy-timeout", "1000");
    }
}
