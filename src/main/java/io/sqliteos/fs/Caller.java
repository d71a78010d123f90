package io.sqliteos.fs;

/** Who asks: the credentials and thread id the kernel reports for a request. */
public record Caller(int uid, int gid, long pid) {

    /** The daemon itself, with root's rights. */
    public static final Caller ROOT = new Caller(0, 0, 0);

    public boolean isRoot() {
        return uid == 0;
    }
}
