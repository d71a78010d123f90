package io.sqliteos.fuse;

import io.sqliteos.fs.FileSystem;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;

/**
 * A worker's way to put the whole of a small file into the kernel's page cache
 * while it opens the file, so that the reads that follow cost no request
 * (page_store.c). Each worker thread has one, with its buffers.
 */
final class OpenedPages implements FileSystem.PageCacheFill {

    /** Files up to this size are offered: most source files, configuration and the like, in one go. */
    static final int MAX_BYTES = 64 * 1024;

    private static final ThreadLocal<OpenedPages> PER_WORKER = ThreadLocal.withInitial(OpenedPages::new);

    private final byte[] buffer = new byte[MAX_BYTES];
    /** The kernel is sent the bytes from here. */
    private final Pointer sent = Memory.allocateDirect(Runtime.getSystemRuntime(), MAX_BYTES);
    private boolean stored;

    private OpenedPages() {}

    /** This worker's, ready for one open; null when the native library cannot store pages. */
    static OpenedPages forOpen() {
        if (!LibfuseShim.storesPages()) {
            return null;
        }
        OpenedPages pages = PER_WORKER.get();
        pages.stored = false;
        return pages;
    }

    @Override
    public byte[] buffer() {
        return buffer;
    }

    @Override
    public boolean store(int length) {
        sent.put(0, buffer, 0, length);
        stored = LibfuseShim.storeOpenedPages(sent.address(), length) == 0;
        return stored;
    }

    @Override
    public void keep() {
        stored = true;
    }

    /** Whether this open's file is now in the kernel's page cache, whole: then its reply keeps the cache. */
    boolean stored() {
        return stored;
    }
}
