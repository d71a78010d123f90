package io.sqliteos.tx;

/** Who owns a transaction: the calling thread, its whole process, or the process and all its descendants. */
public enum Scope {
    THREAD, PROCESS, TREE;

    public String word() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
