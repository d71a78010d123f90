-- SQLiteOS data model, version 6: fsinfo keeps the number of inodes.
--
-- statfs reports the free inodes, and a create checks the inode budget, from
-- this count; counting the inode table instead took time in proportion to the
-- number of files. Triggers keep it, so every insert and delete of an inode,
-- whichever code path makes it, changes the count in the same transaction.
ALTER TABLE fsinfo ADD COLUMN inode_count INTEGER NOT NULL DEFAULT 0;
UPDATE fsinfo SET inode_count = (SELECT count(*) FROM inode) WHERE id = 1;
CREATE TRIGGER inode_counted_in AFTER INSERT ON inode
BEGIN
  UPDATE fsinfo SET inode_count = inode_count + 1 WHERE id = 1;
END;
CREATE TRIGGER inode_counted_out AFTER DELETE ON inode
BEGIN
  UPDATE fsinfo SET inode_count = inode_count - 1 WHERE id = 1;
END;
