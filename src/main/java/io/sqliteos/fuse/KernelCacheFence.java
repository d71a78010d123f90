package io.sqliteos.fuse;

import io.sqliteos.tx.CacheFence;

/**
 * The fence around transactions for everything the kernel caches: names and
 * attributes by their timeouts ({@link NameCacheTimeouts}); file pages by
 * having the kernel drop those of every open file once something is undone,
 * since an owner's reads and writes through a handle opened before the
 * transaction pass through them (undone_pages.c).
 */
final class KernelCacheFence implements CacheFence {

    private final NameCacheTimeouts names;

    KernelCacheFence(NameCacheTimeouts names) {
        this.names = names;
    }

    @Override
    public void enter() throws InterruptedException {
        names.enter();
    }

    @Override
    public void exit() {
        names.exit();
    }

    @Override
    public void undone() {
        names.withMountHandle(LibfuseShim::dropPagesOfOpenFiles);
    }
}
