package io.sqliteos.it;

import org.junit.jupiter.api.BeforeAll;

/** The operation tests again, with plain writes held in a batch until something needs them committed. */
class OperationsInLongBatchesIT extends OperationsIT {

    @BeforeAll
    static void mount() throws Exception {
        fs = MountedFs.start(BatchedWritesIT.LONG_BATCHES, "--size", "256M");
    }
}
