-- SQLiteOS data model, version 4: file data in 16 KiB blocks instead of 64 KiB.
--
-- A small write into a block makes SQLite read and rewrite that block's chain of
-- overflow pages; a quarter of the size makes random 4 KiB I/O much cheaper.
-- Every stored block is cut into up to four 16 KiB pieces at the same byte
-- offsets, so the bytes, holes, sizes and allocated counts stay exactly as they
-- were. The key keeps its packing: ino << 32 | (offset >> 14).
CREATE TABLE extent_v4 (
  key    INTEGER PRIMARY KEY,
  ino    INTEGER NOT NULL,
  offset INTEGER NOT NULL,               -- byte offset of the block in the file
  data   BLOB    NOT NULL
);
INSERT INTO extent_v4 (key, ino, offset, data)
  SELECT (e.ino << 32) | ((e.offset + p.part * 16384) >> 14), e.ino, e.offset + p.part * 16384,
         substr(e.data, p.part * 16384 + 1, 16384)
  FROM extent e,
       (SELECT 0 AS part UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3) p
  WHERE length(e.data) > p.part * 16384;
DROP TABLE extent;
ALTER TABLE extent_v4 RENAME TO extent;
