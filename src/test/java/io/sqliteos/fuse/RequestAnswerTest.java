package io.sqliteos.fuse;

import static org.assertj.core.api.Assertions.assertThat;

import io.sqliteos.db.StoreException;
import io.sqliteos.fs.Errno;
import io.sqliteos.fs.FsException;
import org.junit.jupiter.api.Test;

/**
 * What the kernel is told when a request fails: jnr answers a callback that
 * throws with 0, so no failure may leave the adapter as an exception.
 */
class RequestAnswerTest {

    @Test
    void aResultIsPassedOn() {
        assertThat(SqliteosFuse.answer("read", "/f", () -> 7)).isEqualTo(7);
    }

    @Test
    void failuresBecomeTheirErrno() {
        assertThat(SqliteosFuse.answer("open", "/f", () -> {
            throw new FsException(Errno.ENOENT, "no such file");
        })).isEqualTo(-Errno.ENOENT.number());
        assertThat(SqliteosFuse.answer("write", "/f", () -> {
            throw new StoreException(StoreException.Kind.FULL, "database or disk is full", null);
        })).isEqualTo(-Errno.ENOSPC.number());
        assertThat(SqliteosFuse.answer("open", "/f", () -> {
            throw new NoClassDefFoundError("io/sqliteos/db/Store$BlockSink");
        })).isEqualTo(-Errno.EIO.number());
    }

    /** As when the jar was rewritten under the daemon: the logger itself fails on the error it is given. */
    @Test
    void aFailureThatCannotBeLoggedIsStillAnError() {
        Error unprintable = new Error() {
            @Override
            public String getMessage() {
                throw new NoClassDefFoundError("ch/qos/logback/classic/spi/ThrowableProxy");
            }
        };
        assertThat(SqliteosFuse.answer("open", "/f", () -> {
            throw unprintable;
        })).isEqualTo(-Errno.EIO.number());
    }
}
