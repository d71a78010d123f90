package io.sqliteos.fs;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * The listings of open handles are held to a number of entries between them:
 * processes close directories without telling the daemon, so listings they
 * abandoned must not pile up.
 */
class DirectoryListingsTest {

    private static DirectoryListing listingOf(int entries) {
        DirectoryListing l = new DirectoryListing();
        for (int i = 0; i < entries; i++) {
            l.accept(("entry-" + i).getBytes(StandardCharsets.UTF_8), 100 + i, Mode.S_IFREG);
        }
        return l;
    }

    @Test
    void theListingsReadLeastRecentlyAreLetGoOnceTooManyEntriesAreHeld() {
        DirectoryListings listings = new DirectoryListings(null, 10, 0);
        DirectoryListing first = listingOf(4);
        DirectoryListing second = listingOf(4);
        DirectoryListing third = listingOf(4);
        listings.started(1, first, 7, null);
        listings.started(2, second, 7, null);
        listings.started(3, third, 7, null);
        assertThat(listings.of(1)).isSameAs(first); // 8 held when the third began: within the limit
        first.serve(0, (page, from, to, position) -> 0); // read: now the second is the least recent
        listings.started(4, listingOf(4), 7, null); // 12 held: down to half the limit, oldest first
        assertThat(listings.of(2)).isNull();
        assertThat(listings.of(3)).isNull();
        assertThat(listings.of(1)).isSameAs(first);
        assertThat(listings.of(4)).isNotNull();
    }

    @Test
    void aListingReadWithinTheLastMomentIsKept() {
        DirectoryListings listings = new DirectoryListings(null, 10, 60_000_000_000L);
        for (long fh = 1; fh <= 5; fh++) {
            listings.started(fh, listingOf(4), 7, null);
        }
        for (long fh = 1; fh <= 5; fh++) {
            assertThat(listings.of(fh)).as("handle %d", fh).isNotNull();
        }
    }
}
