-- SQLiteOS data model, version 1: the file system.
-- Every file-system object is an inode; names live in dirent; file data lives
-- in extent as fixed-size blocks; extended attributes live in xattr.

-- One row per inode. mode holds the file type and permission bits exactly as
-- st_mode does. Times are nanoseconds since the Unix epoch.
CREATE TABLE inode (
  ino      INTEGER PRIMARY KEY,
  mode     INTEGER NOT NULL,
  uid      INTEGER NOT NULL,
  gid      INTEGER NOT NULL,
  nlink    INTEGER NOT NULL,
  size     INTEGER NOT NULL DEFAULT 0,  -- the file's length; never inferred from extents
  alloc    INTEGER NOT NULL DEFAULT 0,  -- bytes held in extent rows (reported as st_blocks)
  atime_ns INTEGER NOT NULL,
  mtime_ns INTEGER NOT NULL,
  ctime_ns INTEGER NOT NULL,
  rdev     INTEGER NOT NULL DEFAULT 0,
  target   BLOB                         -- symlink target bytes, NULL for other types
);

-- Directory entries: (parent, name) -> inode. Hard links are several rows.
CREATE TABLE dirent (
  parent INTEGER NOT NULL REFERENCES inode(ino),
  name   TEXT    NOT NULL,
  ino    INTEGER NOT NULL REFERENCES inode(ino),
  PRIMARY KEY (parent, name)
) WITHOUT ROWID;
CREATE INDEX dirent_by_ino ON dirent(ino);

-- File data in blocks of a fixed size (see BlockLayout). The key packs the
-- inode and the block number into one integer, ino << 32 | block, so a file's
-- blocks are one contiguous range of the table's b-tree. A block's blob may be
-- shorter than the block size: the missing tail reads as zeros, and so does a
-- missing block (a hole). Bytes past the inode's size are always zero.
CREATE TABLE extent (
  key    INTEGER PRIMARY KEY,
  ino    INTEGER NOT NULL,
  offset INTEGER NOT NULL,               -- byte offset of the block in the file
  data   BLOB    NOT NULL
);

-- Extended attributes.
CREATE TABLE xattr (
  ino   INTEGER NOT NULL REFERENCES inode(ino),
  name  TEXT    NOT NULL,
  value BLOB    NOT NULL,
  PRIMARY KEY (ino, name)
);

-- File-system wide counters, one row.
CREATE TABLE fsinfo (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  used_bytes INTEGER NOT NULL,           -- sum of extent bytes, charged against --size
  created_ns INTEGER NOT NULL
);
INSERT INTO fsinfo (id, used_bytes, created_ns)
VALUES (1, 0, CAST((julianday('now') - 2440587.5) * 86400000000000 AS INTEGER));
