package io.sqliteos.fs;

/** What statfs(2) reports: the memory budget and how much of it is used. */
public record FsStats(long blockSize, long totalBlocks, long freeBlocks, long totalInodes, long freeInodes,
                      int nameMax) {}
