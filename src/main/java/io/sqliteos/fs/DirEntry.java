package io.sqliteos.fs;

/** One name in a directory listing, with the inode and its type bits. */
public record DirEntry(String name, long ino, int mode) {}
