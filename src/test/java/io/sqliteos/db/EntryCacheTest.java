package io.sqliteos.db;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class EntryCacheTest {

    private final EntryCache cache = new EntryCache();
    private final EntryCache.Key key = new EntryCache.Key(1, "a");
    private final DirEntryRow old = new DirEntryRow("a", 7, 0100000);

    @Test
    void aValueReadBeforeACommitIsNotKeptAfterIt() {
        long seen = cache.epoch();
        // a writer changes the entry and commits while a reader still holds the old value
        cache.changing(key);
        cache.settled(List.of(key));
        cache.fill(key, old, seen);
        assertThat(cache.get(key)).isNull();
    }

    @Test
    void aValueKeptBeforeTheCommitIsRemovedByIt() {
        cache.fill(key, old, cache.epoch());
        assertThat(cache.get(key)).isEqualTo(old);
        cache.settled(List.of(key));
        assertThat(cache.get(key)).isNull();
    }

    @Test
    void otherEntriesSurviveACommitThatDidNotTouchThem() {
        EntryCache.Key other = new EntryCache.Key(2, "b");
        DirEntryRow b = new DirEntryRow("b", 8, 040000);
        cache.fill(other, b, cache.epoch());
        cache.settled(List.of(key));
        assertThat(cache.get(other)).isEqualTo(b);
    }

    @Test
    void writersDistrustTheCacheWhileATransactionsCommitIsUnsettled() {
        cache.fill(key, old, cache.epoch());
        assertThat(cache.trustworthyForWriters()).isTrue();
        cache.transactionCommitting();
        assertThat(cache.trustworthyForWriters()).isFalse();
        cache.settled(List.of(key));
        assertThat(cache.trustworthyForWriters()).isFalse();
        cache.transactionSettled();
        assertThat(cache.trustworthyForWriters()).isTrue();
        assertThat(cache.get(key)).isNull();
    }

    @Test
    void aDirectoryKnownWholeLacksEveryNameItHoldsNoKeyFor() {
        EntryCache.Key missing = new EntryCache.Key(5, "missing");
        assertThat(cache.find(missing)).isNull();
        cache.holdWhole(List.of(5L), cache.clears());
        assertThat(cache.find(missing)).isSameAs(EntryCache.ABSENT);
        assertThat(cache.find(key)).as("another directory").isNull();
    }

    @Test
    void aNameChangingInAWholeDirectoryIsLeftToTheDatabaseUntilItsValueIsKnown() {
        EntryCache.Key made = new EntryCache.Key(5, "made");
        DirEntryRow row = new DirEntryRow("made", 9, 0100000);
        cache.holdWhole(List.of(5L), cache.clears());
        cache.changing(made);
        assertThat(cache.find(made)).isNull();
        long settled = cache.settled(List.of(made));
        assertThat(cache.find(made)).isNull();
        cache.fill(made, row, settled);
        assertThat(cache.find(made)).isEqualTo(row);
    }

    @Test
    void aClearForgetsWholeDirectoriesAndRefusesThoseMadeAcrossIt() {
        EntryCache.Key missing = new EntryCache.Key(5, "missing");
        long before = cache.clears();
        cache.holdWhole(List.of(5L), before);
        cache.clear();
        assertThat(cache.find(missing)).isNull();
        cache.holdWhole(List.of(5L), before);
        assertThat(cache.find(missing)).isNull();
        cache.holdWhole(List.of(5L), cache.clears());
        assertThat(cache.find(missing)).isSameAs(EntryCache.ABSENT);
        cache.forgetWhole(5);
        assertThat(cache.find(missing)).isNull();
    }

    @Test
    void aRemovalThatSettledKeepsNoKeyUnlessAnotherCommitSettledSince() {
        EntryCache.Key gone = new EntryCache.Key(5, "gone");
        cache.holdWhole(List.of(5L), cache.clears());
        cache.fill(gone, old, cache.epoch());
        cache.changing(gone);
        long settled = cache.settled(List.of(gone));
        cache.settledAbsent(gone, settled);
        assertThat(cache.size()).isZero();
        assertThat(cache.find(gone)).isSameAs(EntryCache.ABSENT);

        // a later commit made the name again and settled before this removal's settling ended
        cache.changing(gone);
        long mine = cache.settled(List.of(gone));
        cache.settled(List.of(gone));
        cache.settledAbsent(gone, mine);
        assertThat(cache.find(gone)).as("left to the database").isNull();
    }
}
