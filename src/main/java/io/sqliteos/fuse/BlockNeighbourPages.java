package io.sqliteos.fuse;

import io.sqliteos.fs.BlockLayout;
import io.sqliteos.fs.FileSystem;
import java.util.concurrent.Semaphore;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;

/**
 * A worker's way to put the rest of a block that a small READ loaded into the
 * kernel's page cache, beside the pages the READ itself asks for
 * (page_store.c). Each worker thread has one, with its buffer.
 *
 * <p>A STORE waits for any page that the kernel holds locked for another READ
 * of the file, which may not have been sent yet: the kernel has at most 12
 * background requests (readahead) out at once, and the READ being served may
 * be one of them. So only a few workers store at a time, and the others leave
 * the pages out: the waiting READs always find a free slot.
 */
final class BlockNeighbourPages implements FileSystem.BlockPages {

    private static final ThreadLocal<BlockNeighbourPages> PER_WORKER = ThreadLocal.withInitial(BlockNeighbourPages::new);
    /** Workers storing at once: a third of the kernel's default limit of background requests. */
    private static final Semaphore STORING = new Semaphore(4);

    /** The kernel is sent the bytes from here. */
    private final Pointer sent = Memory.allocateDirect(Runtime.getSystemRuntime(), BlockLayout.BLOCK_SIZE);

    private BlockNeighbourPages() {}

    /** This worker's; null when the native library cannot store pages. */
    static BlockNeighbourPages forRead() {
        return LibfuseShim.storesReadPages() ? PER_WORKER.get() : null;
    }

    @Override
    public void store(byte[] block, int from, int length, long fileOffset) {
        if (!STORING.tryAcquire()) {
            return; // pages left out cost nothing but a later READ
        }
        try {
            sent.put(0, block, from, length);
            LibfuseShim.storeReadPages(sent.address(), fileOffset, length); // a refusal costs the same
        } finally {
            STORING.release();
        }
    }
}
