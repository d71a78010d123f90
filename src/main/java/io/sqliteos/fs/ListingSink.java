package io.sqliteos.fs;

/**
 * Receives a directory listing's entries, packed as {@link io.sqliteos.db.PackedEntries}
 * lays them out, with their positions: an entry's position is its index in
 * the listing ("." is 0, ".." 1), and a listing resumes at the position after
 * the last entry taken.
 */
public interface ListingSink {

    /**
     * Takes the packed entries in {@code [from, to)} of {@code packed}, the
     * first at {@code position}. Returns how many it took: fewer than offered
     * once the reply is full, and the listing then stops.
     */
    int take(byte[] packed, int from, int to, long position);
}
