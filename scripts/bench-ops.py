#!/usr/bin/env python3
"""Workloads for scripts/bench, run inside one mounted directory.

Each command prints result lines "workload<TAB>value<TAB>unit<TAB>better",
where better is "higher" or "lower". Standard library only.
"""
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import time
import zipfile

MiB = 1 << 20


def emit(name, value, unit, better="higher"):
    print(f"{name}\t{value:.6g}\t{unit}\t{better}", flush=True)


def drop_caches(*tools):
    """Drops the page, dentry and inode caches, then brings back the binaries of
    `tools`, so that the workload that follows finds the file system under test
    cold and not its own program, read again from the root disk."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
    except OSError as e:
        print(f"bench: cannot drop caches ({e}); cold reads are warm", file=sys.stderr)
    for tool in tools:
        subprocess.run([tool, "--version"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


# --- metadata -------------------------------------------------------------------

def meta(d, n):
    """create, stat and unlink of n files in one directory."""
    os.mkdir(os.path.join(d, "meta"))
    names = [os.path.join(d, "meta", f"f{i:06d}") for i in range(n)]

    def create():
        for p in names:
            os.close(os.open(p, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o644))

    def stat():
        for p in names:
            os.stat(p)

    def unlink():
        for p in names:
            os.unlink(p)

    emit("create", n / timed(create), "files/s")
    drop_caches()
    emit("stat", n / timed(stat), "files/s")
    emit("unlink", n / timed(unlink), "files/s")
    os.rmdir(os.path.join(d, "meta"))


def mkdirp(d, branches, depth):
    """mkdir -p of a deep tree: `branches` chains of `depth` nested directories."""
    root = os.path.join(d, "deep")
    paths = [os.path.join(root, *[f"b{b}"] + [f"level{k}" for k in range(depth - 1)]) for b in range(branches)]

    def make():
        for p in paths:
            subprocess.run(["mkdir", "-p", p], check=True)

    emit("mkdir_p_deep", branches * depth / timed(make), "dirs/s")
    shutil.rmtree(root)


def readdir_make(d, n):
    """A directory of n entries to list: made once, since it takes some systems minutes."""
    big = os.path.join(d, "big")
    os.mkdir(big)
    for i in range(n):
        os.close(os.open(os.path.join(big, f"entry-{i:07d}"), os.O_CREAT | os.O_WRONLY, 0o644))


def readdir_list(d, n):
    """Listing of that directory, cold (after dropping caches): the median of three listings."""
    big = os.path.join(d, "big")
    rates = []
    for _ in range(3):
        drop_caches()
        count = [0]

        def listing():
            with os.scandir(big) as it:
                count[0] = sum(1 for _ in it)

        elapsed = timed(listing)
        if count[0] != n:
            raise SystemExit(f"readdir saw {count[0]} entries, expected {n}")
        rates.append(n / elapsed)
    emit("readdir", sorted(rates)[1], "entries/s")


def readdir_rm(d):
    subprocess.run(["rm", "-rf", os.path.join(d, "big")], check=True)


# --- sequential ---------------------------------------------------------------------

def seq(d, mib):
    """Sequential write (1 MiB requests, fsync at the end) and cold read of one file."""
    path = os.path.join(d, "seq.bin")
    block = random.Random(42).randbytes(MiB)

    def write():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
        try:
            for _ in range(mib):
                view = memoryview(block)
                while view:
                    view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)

    emit("seq_write", mib * MiB / 1e6 / timed(write), "MB/s")
    drop_caches()
    buf = bytearray(MiB)
    total = [0]

    def read():
        fd = os.open(path, os.O_RDONLY)
        try:
            while True:
                n = os.readv(fd, [buf])
                if n == 0:
                    break
                total[0] += n
        finally:
            os.close(fd)

    elapsed = timed(read)
    if total[0] != mib * MiB:
        raise SystemExit(f"read {total[0]} bytes, expected {mib * MiB}")
    emit("seq_read", mib * MiB / 1e6 / elapsed, "MB/s")


def rm(path):
    os.unlink(path)


# --- random I/O with fio ----------------------------------------------------------------

def fio(d, seconds):
    path = os.path.join(d, "fio.bin")
    common = ["fio", "--output-format=json", "--filename=" + path, "--size=256M", "--bs=4k",
              "--ioengine=psync", "--numjobs=1", f"--runtime={seconds}", "--time_based", "--group_reporting"]
    for name, rw, extra in (("rand_write_4k", "randwrite", ["--end_fsync=1"]),
                            ("rand_read_4k", "randread", [])):
        if rw == "randread":
            drop_caches("fio")
        out = subprocess.run(common + ["--name=" + name, "--rw=" + rw] + extra,
                             check=True, capture_output=True, text=True).stdout
        job = json.loads(out[out.index("{"):])["jobs"][0]
        iops = job["write" if rw == "randwrite" else "read"]["iops"]
        emit(name, iops, "IOPS")
    os.unlink(path)


# --- small-file tree -------------------------------------------------------------------------

def make_tarball(out, src_zip, max_files):
    """A deterministic tarball of a source tree: a JDK's src.zip if present, else generated text."""
    entries = []
    if src_zip and os.path.exists(src_zip):
        with zipfile.ZipFile(src_zip) as z:
            infos = sorted((i for i in z.infolist() if not i.is_dir()), key=lambda i: i.filename)
            for info in infos[:max_files]:
                entries.append(("src/" + info.filename, z.read(info)))
    else:
        rnd = random.Random(7)
        words = ["int", "return", "static", "void", "struct", "if", "else", "for", "while", "const",
                 "char", "buffer", "length", "offset", "inode", "block", "entry", "lookup", "error", "main"]
        for i in range(max_files):
            lines = [" ".join(rnd.choice(words) for _ in range(rnd.randint(3, 12))) + ";"
                     for _ in range(rnd.randint(20, 200))]
            path = f"src/mod{i // 500:02d}/pkg{(i // 50) % 10}/file{i:05d}.c"
            entries.append((path, ("\n".join(lines) + "\n").encode()))
    with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_700_000_000
            info.mode = 0o644
            tar.addfile(info, __import__("io").BytesIO(data))
    print(f"bench: tarball {out}: {len(entries)} files, {sum(len(d) for _, d in entries) / 1e6:.0f} MB "
          f"from {'src.zip' if src_zip and os.path.exists(src_zip) else 'generated text'}", file=sys.stderr)


def tree(d, tarball):
    with tarfile.open(tarball) as t:
        files = sum(1 for m in t.getmembers() if m.isfile())
    root = os.path.join(d, "tree")
    os.mkdir(root)

    def sh(*cmd, cwd=root):
        subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL)

    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "-c", "gc.auto=0",
           "-c", "core.fsync=none"]
    emit("tar_extract", files / timed(lambda: sh("tar", "-xf", tarball)), "files/s")
    drop_caches("find")
    emit("find", files / timed(lambda: sh("find", ".")), "files/s")
    drop_caches("du")
    emit("du", files / timed(lambda: sh("du", "-s", ".")), "files/s")
    drop_caches("grep", "git")
    emit("grep_r", files / timed(lambda: subprocess.run(["grep", "-r", "-c", "zzqqxx_not_there", "."],
                                                          cwd=root, stdout=subprocess.DEVNULL)), "files/s")
    # one git init takes milliseconds: ten empty repositories beside the tree, then the tree's own
    inits = os.path.join(d, "git-inits")
    os.mkdir(inits)
    repos = [os.path.join(inits, f"r{i}") for i in range(10)] + [root]
    emit("git_init", len(repos) / timed(lambda: [sh(*git, "init", "-q", r) for r in repos]), "ops/s")
    shutil.rmtree(inits)
    emit("git_add", files / timed(lambda: sh(*git, "add", "-A")), "files/s")
    emit("git_commit", files / timed(lambda: sh(*git, "commit", "-q", "-m", "tree")), "files/s")
    drop_caches("git")
    emit("git_status", files / timed(lambda: sh(*git, "status", "--porcelain")), "files/s")
    emit("rm_rf", files / timed(lambda: sh("rm", "-rf", root, cwd=d)), "files/s")


# --- SQLite on the mount --------------------------------------------------------------------------

def sqlite(d, txs, rows):
    path = os.path.join(d, "bench.db")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT, v BLOB)")
    rnd = random.Random(3)
    payload = rnd.randbytes(100)

    def run():
        n = 0
        for _ in range(txs):
            db.execute("BEGIN")
            for _ in range(rows):
                db.execute("INSERT INTO t (k, v) VALUES (?, ?)", (f"key-{n:08d}", payload))
                n += 1
            db.execute("COMMIT")

    emit("sqlite_insert", txs * rows / timed(run), "rows/s")
    db.close()
    for suffix in ("", "-journal", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)


def status_mib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise SystemExit(f"no {field} for pid {pid}")


def allocated_bytes(path):
    """Bytes a file or tree really occupies (tmpfs pages), like du."""
    if os.path.isfile(path):
        return os.stat(path).st_blocks * 512
    total = 0
    for dirpath, dirnames, filenames in os.walk(path):
        for n in filenames + dirnames:
            total += os.lstat(os.path.join(dirpath, n)).st_blocks * 512
    return total


def memory(pid, stored_mib, backing):
    """RAM held for the stored data: the daemon's resident set, and the RAM of what it keeps on tmpfs.

    daemon_rss is VmRSS. memory_per_gib adds the daemon's anonymous memory to the tmpfs
    bytes behind the file system (database, image or backing directory); mapped tmpfs
    pages are counted once, as tmpfs bytes. memory_vs_target divides the same total by
    the allowance of 1.25 bytes per byte stored plus 256 MiB.
    """
    anon = 0.0
    if pid:
        emit("daemon_rss", status_mib(pid, "VmRSS"), "MiB", "lower")
        anon = status_mib(pid, "RssAnon")
    tmpfs = sum(allocated_bytes(p) for p in backing) / MiB
    emit("memory_per_gib", (anon + tmpfs) * 1024 / stored_mib, "MiB/GiB stored", "lower")
    # the target: at most 1.25 bytes per byte stored plus a fixed 256 MiB; at most 1 meets it
    emit("memory_vs_target", (anon + tmpfs) / (1.25 * stored_mib + 256), "of 1.25x+256MiB", "lower")


def tx_work(d, n):
    """n files created, written, closed, renamed, then deleted; prints the seconds it took."""
    t = time.perf_counter()
    os.mkdir(d)
    for i in range(n):
        with open(os.path.join(d, f"f{i}"), "w") as f:
            f.write(f"row {i}\n")
        os.rename(os.path.join(d, f"f{i}"), os.path.join(d, f"g{i}"))
    for i in range(n):
        os.unlink(os.path.join(d, f"g{i}"))
    os.rmdir(d)
    print(time.perf_counter() - t)


def tx(mount, jar, n):
    """The cost of a transaction (SQLiteOS only): the same operations plain and inside one `sqliteos tx`."""
    me = os.path.abspath(__file__)

    def run(prefix, name):
        out = subprocess.run(prefix + ["python3", me, "tx-work", os.path.join(mount, name), str(n)],
                             check=True, capture_output=True, text=True).stdout
        return float(out.split()[0])

    plain = run([], "tx-plain")
    inside = run(["java", "-jar", jar, "tx", "--quiet", "--mount", mount, "--"], "tx-inside")
    ops = 4 * n
    emit("tx_plain", ops / plain, "ops/s")
    emit("tx_inside", ops / inside, "ops/s")
    emit("tx_cost", inside / plain, "time ratio", "lower")


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "meta":
        meta(args[0], int(args[1]))
    elif cmd == "mkdirp":
        mkdirp(args[0], int(args[1]), int(args[2]))
    elif cmd == "readdir-make":
        readdir_make(args[0], int(args[1]))
    elif cmd == "readdir-list":
        readdir_list(args[0], int(args[1]))
    elif cmd == "readdir-rm":
        readdir_rm(args[0])
    elif cmd == "seq":
        seq(args[0], int(args[1]))
    elif cmd == "rm":
        rm(args[0])
    elif cmd == "fio":
        fio(args[0], int(args[1]))
    elif cmd == "make-tarball":
        make_tarball(args[0], args[1], int(args[2]))
    elif cmd == "tree":
        tree(args[0], args[1])
    elif cmd == "sqlite":
        sqlite(args[0], int(args[1]), int(args[2]))
    elif cmd == "memory":
        memory(int(args[0]), int(args[1]), args[2:])
    elif cmd == "tx":
        tx(args[0], args[1], int(args[2]))
    elif cmd == "tx-work":
        tx_work(args[0], int(args[1]))
    else:
        raise SystemExit(f"unknown workload {cmd}")


if __name__ == "__main__":
    main()
