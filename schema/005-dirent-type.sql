-- SQLiteOS data model, version 5: each directory entry keeps its inode's type.
--
-- type holds the S_IFMT bits of the named inode's mode (what readdir reports as
-- d_type). An inode never changes type, so the copy never goes stale, and
-- listing a directory or looking a name up reads dirent alone instead of
-- joining every entry with its inode.
CREATE TABLE dirent_v5 (
  parent INTEGER NOT NULL REFERENCES inode(ino),
  name   TEXT    NOT NULL,
  ino    INTEGER NOT NULL REFERENCES inode(ino),
  type   INTEGER NOT NULL,                -- mode & 0170000 of inode ino
  PRIMARY KEY (parent, name)
) WITHOUT ROWID;
-- An entry whose inode is missing keeps type 0 (fsck reports and drops it).
INSERT INTO dirent_v5 (parent, name, ino, type)
  SELECT d.parent, d.name, d.ino, coalesce(i.mode & 61440, 0)
  FROM dirent d LEFT JOIN inode i ON i.ino = d.ino;
DROP TABLE dirent;
ALTER TABLE dirent_v5 RENAME TO dirent;
CREATE INDEX dirent_by_ino ON dirent(ino);
