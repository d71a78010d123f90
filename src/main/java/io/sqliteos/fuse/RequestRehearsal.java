package io.sqliteos.fuse;

import io.sqliteos.fs.FileSystem;

/**
 * Serves made-up requests to an adapter over a scratch file system, through
 * libfuse's own request handling but with no kernel and no mount: the very
 * code a mount runs for each request, from libfuse to the database
 * (rehearsal.c). The JIT warm-up runs it so that a new mount's first clients
 * find that code compiled.
 */
public final class RequestRehearsal implements AutoCloseable {

    /** Kept reachable while libfuse holds its entry points (until {@link #close}). */
    private final SqliteosFuse adapter;
    private long handle;

    private RequestRehearsal(SqliteosFuse adapter, long handle) {
        this.adapter = adapter;
        this.handle = handle;
    }

    /**
     * Starts a rehearsal on {@code scratch}, an initialized file system that
     * nothing else uses; null where the daemon's native library is missing or
     * libfuse refuses.
     */
    public static RequestRehearsal start(FileSystem scratch) {
        if (!LibfuseShim.load() || !LibfuseShim.rehearses()) {
            return null;
        }
        // no kernel to cache names for: timeouts stay zero and the marker is never looked for
        SqliteosFuse adapter = new SqliteosFuse(new NameCacheTimeouts(0.0));
        adapter.serve(scratch, null);
        jnr.ffi.Pointer operations = adapter.operationsInNativeMemory();
        long handle = LibfuseShim.startRehearsal(operations.address(), operations.size());
        java.lang.ref.Reference.reachabilityFence(operations); // libfuse has made its own copy
        return handle == 0 ? null : new RequestRehearsal(adapter, handle);
    }

    /** One round of a file's common requests (rehearsal.c); fails on an unexpected reply. */
    public void round(int round) {
        check(LibfuseShim.rehearseRound(handle, round), "round " + round);
    }

    /** One listing of a directory of many entries. */
    public void listing() {
        check(LibfuseShim.rehearseListing(handle), "listing");
    }

    private static void check(int result, String what) {
        if (result != 0) {
            throw new IllegalStateException("rehearsed " + what + " failed: " + io.sqliteos.fs.Errno.nameOf(-result));
        }
    }

    @Override
    public void close() {
        if (handle != 0) {
            LibfuseShim.endRehearsal(handle);
            handle = 0;
        }
        java.lang.ref.Reference.reachabilityFence(adapter);
    }
}
