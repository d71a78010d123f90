package io.sqliteos.it;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;

/**
 * A tiny MyISAM-style storage engine: a data file of fixed-size records and an
 * index file of (id, offset) entries, each with a count in its header. An
 * INSERT touches both files in several writes, so a crash between them tears
 * the table unless the statement runs in a file-system transaction.
 *
 * <p>Run as {@code MiniIsam DIR tx|plain STATEMENTS}; it prints "started" once
 * its first statement is done, then inserts until killed or finished.
 */
public final class MiniIsam {

    static final int HEADER = 16;
    static final int RECORD = 128;
    static final int ENTRY = 16;

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        boolean transactional = args[1].equals("tx");
        long statements = Long.parseLong(args[2]);
        for (long n = 0; n < statements; n++) {
            if (transactional) {
                control(dir, "begin");
            }
            insert(dir);
            if (transactional) {
                control(dir, "commit");
            }
            if (n == 0) {
                System.out.println("started");
                System.out.flush();
            }
        }
    }

    static void control(Path dir, String verb) throws IOException {
        Files.getFileAttributeView(dir, UserDefinedFileAttributeView.class)
                .write("sqliteos.tx", ByteBuffer.wrap(verb.getBytes(StandardCharsets.UTF_8)));
    }

    /** INSERT: append a record, bump the data count, append an index entry, bump the index count. */
    static void insert(Path dir) throws Exception {
        try (RandomAccessFile data = new RandomAccessFile(dir.resolve("table.dat").toFile(), "rw");
             RandomAccessFile index = new RandomAccessFile(dir.resolve("table.idx").toFile(), "rw")) {
            long id = count(data);
            long offset = HEADER + id * RECORD;
            byte[] record = new byte[RECORD];
            ByteBuffer.wrap(record).putLong(id).put(("row " + id).getBytes(StandardCharsets.UTF_8));
            data.seek(offset);
            data.write(record);
            Thread.sleep(1); // a real engine does work here; it widens the window a crash can hit
            setCount(data, id + 1);
            long entries = count(index);
            index.seek(HEADER + entries * ENTRY);
            index.writeLong(id);
            index.writeLong(offset);
            setCount(index, entries + 1);
        }
    }

    static long count(RandomAccessFile f) throws IOException {
        if (f.length() < HEADER) {
            return 0;
        }
        f.seek(8);
        return f.readLong();
    }

    static void setCount(RandomAccessFile f, long count) throws IOException {
        f.seek(0);
        f.writeLong(0x5153_4c49_5445_4f53L); // magic
        f.writeLong(count);
    }

    /** Why the table is torn, or null when data and index agree. */
    static String check(Path dir) throws IOException {
        Path dat = dir.resolve("table.dat");
        Path idx = dir.resolve("table.idx");
        if (!Files.exists(dat) && !Files.exists(idx)) {
            return null;
        }
        try (RandomAccessFile data = new RandomAccessFile(dat.toFile(), "r");
             RandomAccessFile index = new RandomAccessFile(idx.toFile(), "r")) {
            long rows = count(data);
            long entries = count(index);
            if (rows != entries) {
                return "data has " + rows + " rows but the index has " + entries;
            }
            if (data.length() != HEADER + rows * RECORD) {
                return "data file holds " + data.length() + " bytes for " + rows + " rows";
            }
            if (index.length() != HEADER + entries * ENTRY) {
                return "index file holds " + index.length() + " bytes for " + entries + " entries";
            }
            for (long i = 0; i < entries; i++) {
                index.seek(HEADER + i * ENTRY);
                long id = index.readLong();
                long offset = index.readLong();
                data.seek(offset);
                if (id != i || offset != HEADER + i * RECORD || data.readLong() != id) {
                    return "index entry " + i + " does not match its record";
                }
            }
            return null;
        }
    }

    static long rows(Path dir) throws IOException {
        Path dat = dir.resolve("table.dat");
        if (!Files.exists(dat)) {
            return 0;
        }
        try (RandomAccessFile data = new RandomAccessFile(dat.toFile(), "r")) {
            return count(data);
        }
    }
}
