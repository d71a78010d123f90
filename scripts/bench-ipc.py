#!/usr/bin/env python3
"""IPC workloads for scripts/bench and scripts/bench-ipc.

    bench-ipc.py SYSTEM [--socket PATH] [--quick]

SYSTEM is sqliteos (queues and a pipe through the daemon's socket), unix-pipe
(os.pipe between two processes) or unix-socket (a Unix stream socket pair). The
same harness drives all three, so the ratios compare transports, not
languages. Prints result lines "workload<TAB>value<TAB>unit<TAB>better".
Standard library only.
"""
import argparse
import os
import socket
import statistics
import struct
import sys
import time

SIZES = [("64B", 64), ("1K", 1024), ("64K", 65536)]


def emit(name, value, unit, better="higher"):
    print(f"{name}\t{value:.6g}\t{unit}\t{better}", flush=True)


# --- transports ------------------------------------------------------------------------
# Each offers send(body), recv() -> body for messages, and write(data) / read(max)
# for a byte stream. A transport object is made in the process that uses it.

class Framed:
    """Length-prefixed messages over a pair of file descriptors (pipe or socket)."""

    def __init__(self, rfd, wfd):
        self.r, self.w = rfd, wfd

    def _read_exact(self, n):
        parts = []
        while n:
            b = os.read(self.r, min(n, 1 << 20))
            if not b:
                raise EOFError
            parts.append(b)
            n -= len(b)
        return b"".join(parts)

    def send(self, body):
        data = struct.pack("<I", len(body)) + body
        while data:
            data = data[os.write(self.w, data):]

    def recv(self):
        (n,) = struct.unpack("<I", self._read_exact(4))
        return self._read_exact(n)

    def write(self, data):
        view = memoryview(data)
        while view:
            view = view[os.write(self.w, view):]

    def read(self, max_bytes):
        return os.read(self.r, max_bytes)

    def close_write(self):
        os.close(self.w)


class SqliteosClient:
    """One connection to the daemon, speaking docs/ipc-protocol.md."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.f = self.sock.makefile("rb", buffering=1 << 16)

    def request(self, line, body=b""):
        self.sock.sendall(line.encode() + b"\n" + body)
        reply = self.f.readline().decode().rstrip("\n")
        if reply.startswith("ERR "):
            raise RuntimeError(f"{line.split()[0]}: {reply}")
        return reply

    def body(self, n):
        data = self.f.read(n)
        if len(data) != n:
            raise EOFError("the daemon closed the connection")
        return data


class Queue:
    """Messages through a SQLiteOS queue: SEND, then RECV and ACK."""

    def __init__(self, path, channel):
        self.c, self.channel = SqliteosClient(path), channel

    def send(self, body):
        self.c.request(f"SEND {self.channel} {len(body)}", body)

    def recv(self):
        w = self.c.request(f"RECV {self.channel} 60000").split()
        if w[0] != "MSG":
            raise RuntimeError(f"no message within 60 s on {self.channel}")
        body = self.c.body(int(w[2]))
        self.c.request(f"ACK {w[1]}")
        return body


class Pipe:
    """A byte stream through a SQLiteOS pipe."""

    def __init__(self, path, channel, writer):
        self.c, self.channel = SqliteosClient(path), channel
        self.c.request(f"OPEN {channel} {'write' if writer else 'read'}")

    def write(self, data):
        self.c.request(f"WRITE {self.channel} {len(data)}", bytes(data))

    def read(self, max_bytes):
        w = self.c.request(f"READ {self.channel} {max_bytes} 60000").split()
        if w[0] == "EOF":
            return b""
        if w[0] != "DATA":
            raise RuntimeError(f"no data within 60 s on {self.channel}")
        return self.c.body(int(w[1]))

    def close_write(self):
        self.c.request(f"CLOSE {self.channel}")


# --- running two sides in two processes ----------------------------------------------

def two_processes(child, parent):
    """Runs child() in a forked process and parent() here; returns parent's result."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            child()
        except BaseException as e:  # report, never fall back into the parent's code
            print(f"bench-ipc: child failed: {e}", file=sys.stderr)
            code = 1
        os._exit(code)
    try:
        return parent()
    finally:
        _, status = os.waitpid(pid, 0)
        if status != 0:
            raise RuntimeError("the other side of the benchmark failed")


class Setup:
    """Makes the transports of one system, fresh for each measurement."""

    def __init__(self, system, sock_path):
        self.system, self.sock_path, self.n = system, sock_path, 0
        if system == "sqliteos":
            self.admin = SqliteosClient(sock_path)

    def _name(self, what):
        self.n += 1
        return f"bench-{os.getpid()}-{what}-{self.n}"

    def channels(self, count):
        """count one-way message channels: pairs of (sender factory, receiver factory)."""
        out = []
        for _ in range(count):
            if self.system == "sqliteos":
                name = self._name("q")
                self.admin.request(f"CREATE {name} 600")
                out.append((lambda n=name: Queue(self.sock_path, n), lambda n=name: Queue(self.sock_path, n)))
            elif self.system == "unix-pipe":
                r, w = os.pipe()
                out.append((lambda r=r, w=w: Framed(r, w), lambda r=r, w=w: Framed(r, w)))
            else:
                a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
                out.append((lambda a=a: Framed(a.fileno(), a.fileno()), lambda b=b: Framed(b.fileno(), b.fileno())))
        return out

    def stream(self):
        """(writer factory, reader factory) of a byte stream."""
        if self.system == "sqliteos":
            name = self._name("p")
            self.admin.request(f"CREATE {name} 600 pipe {1 << 20}")
            return (lambda: Pipe(self.sock_path, name, True), lambda: Pipe(self.sock_path, name, False))
        if self.system == "unix-pipe":
            r, w = os.pipe()
            return (lambda: Framed(r, w), lambda: Framed(r, w))
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        return (lambda: Framed(a.fileno(), a.fileno()), lambda: Framed(b.fileno(), b.fileno()))


# --- workloads ---------------------------------------------------------------------------

def throughput(setup, size, count):
    """One producer and one consumer process; messages per second end to end."""
    ((make_sender, make_receiver),) = setup.channels(1)
    body = os.urandom(size)

    def produce():
        s = make_sender()
        for _ in range(count):
            s.send(body)

    def consume():
        r = make_receiver()
        t = time.perf_counter()
        for _ in range(count):
            if len(r.recv()) != size:
                raise RuntimeError("a message came back with the wrong size")
        return time.perf_counter() - t

    seconds = two_processes(produce, consume)
    return count / seconds


def latency(setup, size, rounds):
    """Round trips through two one-way channels; median and 99th percentile in microseconds."""
    (ping_send, ping_recv), (pong_send, pong_recv) = setup.channels(2)
    body = os.urandom(size)

    def echo():
        r, s = ping_recv(), pong_send()
        for _ in range(rounds):
            s.send(r.recv())

    def measure():
        s, r = ping_send(), pong_recv()
        times = []
        for _ in range(rounds):
            t = time.perf_counter()
            s.send(body)
            r.recv()
            times.append((time.perf_counter() - t) * 1e6)
        return times

    times = sorted(two_processes(echo, measure))
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def bandwidth(setup, mib):
    """A writer process streams mib MiB in 64 KiB writes; the reader reads to end of file."""
    make_writer, make_reader = setup.stream()
    chunk = os.urandom(64 << 10)
    total = mib << 20

    def write():
        w = make_writer()
        for _ in range(total // len(chunk)):
            w.write(chunk)
        w.close_write()

    def read():
        r = make_reader()
        got = 0
        t = time.perf_counter()
        while got < total:
            b = r.read(64 << 10)
            if not b:
                break
            got += len(b)
        seconds = time.perf_counter() - t
        if got != total:
            raise RuntimeError(f"the stream ended after {got} of {total} bytes")
        return seconds

    seconds = two_processes(write, read)
    return total / seconds / 1e6


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("system", choices=["sqliteos", "unix-pipe", "unix-socket"])
    p.add_argument("--socket", help="the SQLiteOS IPC socket (for sqliteos)")
    p.add_argument("--quick", action="store_true")
    a = p.parse_args()
    if a.system == "sqliteos" and not a.socket:
        p.error("sqliteos needs --socket")
    setup = Setup(a.system, a.socket)
    counts = {64: 2000, 1024: 2000, 65536: 500} if a.quick else {64: 20000, 1024: 20000, 65536: 3000}
    rounds = 300 if a.quick else 3000
    mib = 32 if a.quick else 256
    for label, size in SIZES:
        rate = throughput(setup, size, counts[size])
        emit(f"ipc_msgs_{label}", rate, "msg/s")
        emit(f"ipc_mbps_{label}", rate * size / 1e6, "MB/s")
    for label, size in SIZES:
        median, p99 = latency(setup, size, rounds)
        emit(f"ipc_rtt_{label}", median, "us median", "lower")
        emit(f"ipc_rtt99_{label}", p99, "us p99", "lower")
    emit("ipc_pipe_bw", bandwidth(setup, mib), "MB/s")


if __name__ == "__main__":
    main()
