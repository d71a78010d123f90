package io.sqliteos.db;

/** A directory entry together with the type bits of the inode it names. */
public record DirEntryRow(String name, long ino, int mode) {}
