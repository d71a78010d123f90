package io.sqliteos.fs;

/** The Linux errno values the file system reports. */
public enum Errno {
    EPERM(1), ENOENT(2), EINTR(4), EIO(5), E2BIG(7), EBADF(9), EAGAIN(11), EACCES(13), EBUSY(16), EEXIST(17),
    EXDEV(18), ENODEV(19), ENOTDIR(20), EISDIR(21), EINVAL(22), EFBIG(27), ENOSPC(28), EROFS(30), EMLINK(31),
    ERANGE(34), EDEADLK(35), ENAMETOOLONG(36), ENOSYS(38), ENOTEMPTY(39), ELOOP(40), ENODATA(61),
    EPROTO(71), EOPNOTSUPP(95), ETIMEDOUT(110);

    private final int number;

    Errno(int number) {
        this.number = number;
    }

    /** The positive errno number. */
    public int number() {
        return number;
    }

    /** The symbolic name of an errno number ("EINVAL" for 22), or "errno N" for one not listed here. */
    public static String nameOf(long number) {
        for (Errno e : values()) {
            if (e.number == number) {
                return e.name();
            }
        }
        return "errno " + number;
    }
}
