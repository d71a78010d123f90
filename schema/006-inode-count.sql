-- SQLiteOS data model, version 6: fsinfo keeps the number of inodes.
--
-- statfs reports the free inodes, and a create checks the inode budget, from
-- this count; counting the inode table instead took time in proportion to the
-- number of files. The daemon changes it in the same transaction as the
-- inodes it adds or removes (like used_bytes, a batch of plain writes adds its
-- change once, as it commits); fsck checks it against the table.
ALTER TABLE fsinfo ADD COLUMN inode_count INTEGER NOT NULL DEFAULT 0;
UPDATE fsinfo SET inode_count = (SELECT count(*) FROM inode) WHERE id = 1;
