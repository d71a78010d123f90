package io.sqliteos.ipc;

import java.io.IOException;
import jnr.enxio.channels.NativeSelectableChannel;
import jnr.ffi.LibraryLoader;
import jnr.ffi.annotations.In;

/**
 * Sets SO_SNDTIMEO on a socket, so that a write to a client that has stopped
 * reading fails instead of blocking its thread for ever. (The socket library's
 * own option setter does not reach the kernel here.)
 */
final class SendTimeout {

    private static final int SOL_SOCKET = 1;
    private static final int SO_SNDTIMEO = 21;

    /** The one libc call needed. */
    public interface LibC {
        int setsockopt(int fd, int level, int option, @In long[] value, int length);
    }

    private static final LibC C = LibraryLoader.create(LibC.class).load("c");

    private SendTimeout() {}

    static void set(NativeSelectableChannel socket, int millis) throws IOException {
        long[] timeval = {millis / 1000, (millis % 1000) * 1000L}; // struct timeval: seconds, microseconds
        if (C.setsockopt(socket.getFD(), SOL_SOCKET, SO_SNDTIMEO, timeval, 16) != 0) {
            throw new IOException("cannot set a send timeout on the IPC socket");
        }
    }
}
