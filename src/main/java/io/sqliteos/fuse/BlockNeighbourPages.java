package io.sqliteos.fuse;

import io.sqliteos.fs.BlockLayout;
import io.sqliteos.fs.FileSystem;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;

/**
 * A worker's way to put the rest of a block that a small READ loaded into the
 * kernel's page cache, beside the pages the READ itself asks for
 * (page_store.c). Each worker thread has one, with its buffer.
 */
final class BlockNeighbourPages implements FileSystem.BlockPages {

    private static final ThreadLocal<BlockNeighbourPages> PER_WORKER = ThreadLocal.withInitial(BlockNeighbourPages::new);

    /** The kernel is sent the bytes from here. */
    private final Pointer sent = Memory.allocateDirect(Runtime.getSystemRuntime(), BlockLayout.BLOCK_SIZE);

    private BlockNeighbourPages() {}

    /** This worker's; null when the native library cannot store pages. */
    static BlockNeighbourPages forRead() {
        return LibfuseShim.storesReadPages() ? PER_WORKER.get() : null;
    }

    @Override
    public void store(byte[] block, int from, int length, long fileOffset) {
        sent.put(0, block, from, length);
        // a refusal costs nothing but the pages: a later read asks for them
        LibfuseShim.storeReadPages(sent.address(), fileOffset, length);
    }
}
