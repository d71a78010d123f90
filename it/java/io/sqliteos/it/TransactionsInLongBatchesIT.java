package io.sqliteos.it;

import org.junit.jupiter.api.BeforeAll;

/**
 * The transaction tests again, with plain writes held in a batch until
 * something needs them committed: a transaction's begin must commit it.
 */
class TransactionsInLongBatchesIT extends TransactionsIT {

    @BeforeAll
    static void mount() throws Exception {
        fs = MountedFs.start(BatchedWritesIT.LONG_BATCHES, "--size", "256M", "--busy-timeout", "1000");
    }
}
