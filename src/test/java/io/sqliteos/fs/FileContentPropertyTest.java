package io.sqliteos.fs;

import static org.assertj.core.api.Assertions.assertThat;

import io.sqliteos.db.Database;
import io.sqliteos.tx.SessionRouter;
import java.util.Arrays;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Any sequence of writes, truncations, hole punches, zeroed ranges and allocations leaves the
 * file holding exactly what a plain byte array would, and once the file is
 * gone every stored byte is given back to the budget.
 */
class FileContentPropertyTest {

    private static final int BLOCK = BlockLayout.BLOCK_SIZE;

    enum Kind { WRITE, TRUNCATE, PUNCH, ALLOCATE, ALLOCATE_KEEP_SIZE, ZERO, ZERO_KEEP_SIZE }

    /** One operation; offsets cluster around block boundaries where the arithmetic is delicate. */
    record Op(Kind kind, long offset, int length, byte fill) {}

    @Provide
    Arbitrary<List<Op>> operations() {
        Arbitrary<Long> offsets = Arbitraries.oneOf(
                Arbitraries.longs().between(0, 5L * BLOCK),
                Arbitraries.integers().between(0, 5).flatMap(b -> Arbitraries.integers().between(-3, 3)
                        .map(d -> Math.max(0, (long) b * BLOCK + d))));
        Arbitrary<Integer> lengths = Arbitraries.oneOf(
                Arbitraries.integers().between(1, 3 * BLOCK),
                Arbitraries.of(1, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK));
        Arbitrary<Op> op = Combinators.combine(Arbitraries.of(Kind.class), offsets, lengths, Arbitraries.bytes())
                .as(Op::new);
        return op.list().ofMinSize(1).ofMaxSize(25);
    }

    @Property(tries = 60)
    void contentMatchesAByteArrayModel(@ForAll("operations") List<Op> ops) {
        try (Database db = Database.openEphemeral(5_000)) {
            FileSystem fs = new FileSystem(new SessionRouter(db), 1L << 30);
            fs.initialize(0, 0);
            long fh = fs.create(Caller.ROOT, "/f", 0644, 0100 | 02);
            byte[] model = new byte[0];
            for (Op op : ops) {
                model = apply(fs, fh, op, model);
                assertThat(fs.fgetattr(Caller.ROOT, fh, null).size()).as("size after %s", op).isEqualTo(model.length);
            }
            byte[] content = new byte[model.length];
            java.util.Arrays.fill(content, (byte) 0x5A); // as in a reused buffer: every byte read must be written
            int n = fs.read(Caller.ROOT, fh, content, content.length, 0);
            assertThat(n).isEqualTo(model.length);
            assertThat(content).as("content after %s", ops).isEqualTo(model);
            FileAttributes a = fs.fgetattr(Caller.ROOT, fh, null);
            assertThat(a.blocks()).isGreaterThanOrEqualTo(0);
            fs.unlink(Caller.ROOT, "/f");
            fs.release(Caller.ROOT, fh);
            FsStats s = fs.statfs(Caller.ROOT);
            assertThat(s.freeBlocks()).as("every stored byte is freed").isEqualTo(s.totalBlocks());
        }
    }

    private static byte[] apply(FileSystem fs, long fh, Op op, byte[] model) {
        long end = op.offset() + op.length();
        switch (op.kind()) {
            case WRITE -> {
                byte[] data = new byte[op.length()];
                Arrays.fill(data, op.fill());
                fs.write(Caller.ROOT, fh, data, data.length, op.offset());
                if (end > model.length) {
                    model = Arrays.copyOf(model, (int) end);
                }
                System.arraycopy(data, 0, model, (int) op.offset(), data.length);
            }
            case TRUNCATE -> {
                fs.ftruncate(Caller.ROOT, fh, op.offset());
                model = Arrays.copyOf(model, (int) op.offset());
            }
            case PUNCH -> {
                fs.fallocate(Caller.ROOT, fh, FileSystem.FALLOC_FL_PUNCH_HOLE | FileSystem.FALLOC_FL_KEEP_SIZE,
                        op.offset(), op.length());
                if (op.offset() < model.length) {
                    Arrays.fill(model, (int) op.offset(), (int) Math.min(end, model.length), (byte) 0);
                }
            }
            case ALLOCATE -> {
                fs.fallocate(Caller.ROOT, fh, 0, op.offset(), op.length());
                if (end > model.length) {
                    model = Arrays.copyOf(model, (int) end);
                }
            }
            case ZERO, ZERO_KEEP_SIZE -> {
                boolean keep = op.kind() == Kind.ZERO_KEEP_SIZE;
                fs.fallocate(Caller.ROOT, fh, FileSystem.FALLOC_FL_ZERO_RANGE | (keep ? FileSystem.FALLOC_FL_KEEP_SIZE : 0),
                        op.offset(), op.length());
                if (!keep && end > model.length) {
                    model = Arrays.copyOf(model, (int) end);
                }
                if (op.offset() < model.length) {
                    Arrays.fill(model, (int) op.offset(), (int) Math.min(end, model.length), (byte) 0);
                }
            }
            case ALLOCATE_KEEP_SIZE -> fs.fallocate(Caller.ROOT, fh, FileSystem.FALLOC_FL_KEEP_SIZE, op.offset(), op.length());
        }
        return model;
    }
}
