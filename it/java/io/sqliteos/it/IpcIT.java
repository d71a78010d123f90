package io.sqliteos.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.sqliteos.ipc.IpcClient;
import io.sqliteos.ipc.IpcException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The IPC service of a real mount: CLI, Java client, redelivery, many clients, bad input. */
class IpcIT {

    static final int MESSAGES = Integer.getInteger("sqliteos.ipc.messages", 100_000);

    static MountedFs fs;
    static Path socket;

    @BeforeAll
    static void mount() throws Exception {
        socket = Files.createTempDirectory("sqliteos-ipc-").resolve("ipc.sock");
        fs = MountedFs.start("--ipc-socket", socket.toString());
    }

    @AfterAll
    static void unmount() throws Exception {
        fs.close();
        assertThat(Files.exists(socket)).as("the socket is removed at unmount").isFalse();
        Files.deleteIfExists(socket.getParent());
    }

    static MountedFs.Result ipc(String script) throws Exception {
        return fs.sh("J='java -jar " + MountedFs.jar() + "'; " + script);
    }

    @Test
    void theSocketIsOwnerOnly() throws Exception {
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(socket))).isEqualTo("rw-------");
    }

    @Test
    void shellPipelinesSendAndReceive() throws Exception {
        String sock = " --socket " + socket;
        ipc("$J ipc create jobs" + sock).ok();
        ipc("printf 'one\\ntwo\\nthree\\n' | $J ipc send --lines jobs" + sock + " && echo payload | $J ipc send jobs" + sock).ok();
        assertThat(ipc("$J ipc ls" + sock).ok().stdout()).containsPattern("jobs\\s+queue\\s+0\\s+600\\s+4\\s+0");
        assertThat(ipc("$J ipc recv jobs -n 3 --lines" + sock + " | tr a-z A-Z").ok().stdout()).isEqualTo("ONE\nTWO\nTHREE\n");
        assertThat(ipc("$J ipc recv jobs" + sock).ok().stdout()).isEqualTo("payload\n");
        assertThat(ipc("$J ipc recv jobs --timeout 100" + sock).exitCode()).isEqualTo(3);
        MountedFs.Result unknown = ipc("$J ipc send nowhere x" + sock);
        assertThat(unknown.exitCode()).isEqualTo(1);
        assertThat(unknown.stderr()).contains("NOCHANNEL");
        ipc("$J ipc rm jobs" + sock).ok();
        assertThat(ipc("$J ipc ls" + sock).ok().stdout()).doesNotContain("jobs");
    }

    @Test
    void leasedMessagesAreAcknowledgedFromAnotherCommandOrComeBack() throws Exception {
        String sock = " --socket " + socket;
        ipc("$J ipc create tasks" + sock + " && $J ipc send tasks build" + sock + " && $J ipc send tasks test" + sock).ok();
        // the shell pattern: take a task, work on it, acknowledge it in a later command
        String first = ipc("$J ipc recv tasks --lease 60000 --print-id" + sock).ok().stdout();
        String id = first.substring(0, first.indexOf('\n'));
        assertThat(first.substring(first.indexOf('\n') + 1)).isEqualTo("build");
        ipc("$J ipc ack " + id + sock).ok();
        MountedFs.Result again = ipc("$J ipc ack " + id + sock);
        assertThat(again.exitCode()).isEqualTo(1);
        assertThat(again.stderr()).contains("NOTHELD");
        // a lease that runs out puts the message back
        assertThat(ipc("$J ipc recv tasks --lease 3000" + sock).ok().stdout()).isEqualTo("test");
        assertThat(ipc("$J ipc recv tasks --timeout 0" + sock).exitCode()).as("held by the lease").isEqualTo(3);
        assertThat(ipc("$J ipc recv tasks --timeout 10000" + sock).ok().stdout()).as("back after the lease").isEqualTo("test");
    }

    @Test
    void sqlOverTheSocketIsReadOnlyAndFormatted() throws Exception {
        String sock = " --socket " + socket;
        ipc("$J ipc create metrics" + sock + " && $J ipc send metrics a" + sock + " && $J ipc send metrics b" + sock).ok();
        String query = "\"SELECT c.name, count(m.id) AS waiting FROM ipc_channel c JOIN ipc_message m ON m.channel = c.name"
                + " WHERE c.name = 'metrics' GROUP BY c.name\"";
        assertThat(ipc("$J sql" + sock + " " + query).ok().stdout())
                .isEqualTo("name     waiting\n-------  -------\nmetrics  2\n(1 row)\n");
        assertThat(ipc("$J sql --csv" + sock + " " + query).ok().stdout()).isEqualTo("name,waiting\nmetrics,2\n");
        assertThat(ipc("$J sql --json" + sock + " " + query).ok().stdout())
                .isEqualTo("[\n  {\"name\": \"metrics\", \"waiting\": \"2\"}\n]\n");
        MountedFs.Result write = ipc("$J sql" + sock + " \"DELETE FROM ipc_message\"");
        assertThat(write.exitCode()).isEqualTo(2);
        assertThat(write.stderr()).contains("refused");
        assertThat(ipc("$J sql --max-rows 1" + sock + " \"SELECT name FROM ipc_channel\"").ok().stderr()).contains("--max-rows");
        try (IpcClient c = new IpcClient(socket)) {
            assertThatThrownBy(() -> c.sql("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n",
                    "table", 10, 300)).isInstanceOf(IpcException.class).hasMessageContaining("stopped after 300 ms");
            assertThatThrownBy(() -> c.sql("ATTACH '/tmp/x.db' AS x", "csv", 10, 1000)).isInstanceOf(IpcException.class)
                    .hasMessageContaining("refused");
            assertThat(c.sql("SELECT count(*) AS n FROM ipc_message WHERE channel = 'metrics'", "csv", 10, 1000).text())
                    .isEqualTo("n\n2\n");
        }
    }

    @Test
    void aWaitingReceiverWakesOnSend() throws Exception {
        try (IpcClient a = new IpcClient(socket); IpcClient b = new IpcClient(socket)) {
            a.create("wake", 0600);
            Future<IpcClient.Message> waiting = Executors.newSingleThreadExecutor().submit(() -> b.receive("wake", 30_000));
            Thread.sleep(200);
            assertThat(waiting.isDone()).isFalse();
            a.send("wake", "now".getBytes());
            assertThat(new String(waiting.get(10, TimeUnit.SECONDS).body())).isEqualTo("now");
        }
    }

    @Test
    void eightProducersAndEightConsumersLoseAndDuplicateNothingEvenWhenConsumersDie() throws Exception {
        try (IpcClient admin = new IpcClient(socket)) {
            admin.create("work", 0600);
        }
        int producers = 8;
        int consumers = 8;
        ConcurrentHashMap<String, Integer> acked = new ConcurrentHashMap<>();
        AtomicInteger redeliverable = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(producers + consumers);
        List<Future<?>> jobs = new ArrayList<>();
        for (int p = 0; p < producers; p++) {
            int producer = p;
            jobs.add(pool.submit(() -> {
                try (IpcClient c = new IpcClient(socket)) {
                    for (int i = producer; i < MESSAGES; i += producers) {
                        c.send("work", ("m" + i).getBytes(StandardCharsets.UTF_8));
                    }
                }
                return null;
            }));
        }
        for (int k = 0; k < consumers; k++) {
            boolean dies = k < 2; // two consumers vanish mid-stream holding unacknowledged messages
            jobs.add(pool.submit(() -> {
                while (acked.size() < MESSAGES) {
                    try (IpcClient c = new IpcClient(socket)) {
                        int taken = 0;
                        while (acked.size() < MESSAGES) {
                            IpcClient.Message m = c.receive("work", 200);
                            if (m == null) {
                                continue;
                            }
                            taken++;
                            if (dies && taken % 500 == 0) {
                                redeliverable.incrementAndGet();
                                break; // disconnect without acknowledging: the message must come back
                            }
                            c.ack(m.id());
                            acked.merge(new String(m.body(), StandardCharsets.UTF_8), 1, Integer::sum);
                        }
                    }
                }
                return null;
            }));
        }
        for (Future<?> job : jobs) {
            job.get(10, TimeUnit.MINUTES);
        }
        pool.shutdown();
        assertThat(acked).hasSize(MESSAGES);
        assertThat(acked.values()).allMatch(n -> n == 1);
        assertThat(redeliverable.get()).isPositive();
        try (IpcClient admin = new IpcClient(socket)) {
            IpcClient.ChannelInfo work = admin.list().stream().filter(c -> c.name().equals("work")).findFirst().orElseThrow();
            assertThat(work.waiting()).isZero();
            assertThat(work.inFlight()).isZero();
        }
    }

    @Test
    void badRequestsGetClearErrorsAndTheDaemonServesOthers() throws Exception {
        try (IpcClient c = new IpcClient(socket)) {
            c.create("sturdy", 0600);
            assertThatThrownBy(() -> c.create("sturdy", 0600)).isInstanceOf(IpcException.class).hasMessageContaining("exists");
            assertThatThrownBy(() -> c.create("bad/name", 0600)).isInstanceOf(IpcException.class);
        }
        assertThat(rawExchange("HELLO there\n")).startsWith("ERR BADREQUEST");
        assertThat(rawExchange("SEND sturdy 99999999999\n")).startsWith("ERR TOOBIG");
        assertThat(rawExchange("X".repeat(10_000) + "\n")).startsWith("ERR BADREQUEST");
        assertThat(rawExchange("ACK 12345\n")).startsWith("ERR NOTHELD");
        // a client that dies inside a message body leaves nothing behind
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            Channels.newOutputStream(ch).write("SEND sturdy 1000\nonly part".getBytes());
        }
        // thousands of idle connections do not stop the service
        List<SocketChannel> idle = new ArrayList<>();
        try {
            for (int i = 0; i < 2000; i++) {
                SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                ch.connect(UnixDomainSocketAddress.of(socket));
                idle.add(ch);
            }
            try (IpcClient c = new IpcClient(socket)) {
                c.send("sturdy", "still here".getBytes());
                assertThat(new String(c.receive("sturdy", 5000).body())).isEqualTo("still here");
                IpcClient.ChannelInfo info = c.list().stream().filter(x -> x.name().equals("sturdy")).findFirst().orElseThrow();
                assertThat(info.waiting()).as("the torn message was never stored").isZero();
            }
        } finally {
            for (SocketChannel ch : idle) {
                ch.close();
            }
        }
        assertThat(fs.daemon().isAlive()).isTrue();
    }

    @Test
    void aClientThatNeverReadsItsRepliesIsDroppedAndWhatItHeldComesBack() throws Exception {
        int count = 20;
        try (IpcClient c = new IpcClient(socket)) {
            c.create("heavy", 0600);
            for (int i = 0; i < count; i++) {
                byte[] body = new byte[64 << 10];
                java.util.Arrays.fill(body, (byte) i);
                c.send("heavy", body);
            }
        }
        try (SocketChannel stalled = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            stalled.connect(UnixDomainSocketAddress.of(socket));
            // asks for every message and never reads a reply: the daemon blocks on it, then drops it
            Channels.newOutputStream(stalled).write("RECV heavy 0\n".repeat(count).getBytes(StandardCharsets.US_ASCII));
            try (IpcClient other = new IpcClient(socket)) {
                MountedFs.eventually("the stalled client holds messages", () -> inFlight(other, "heavy") > 0);
                other.create("meanwhile", 0600); // everyone else is served
                // the daemon gives up after 10 s without progress (each partial write starts the clock again)
                MountedFs.eventually("the stalled client is dropped", 60, () -> inFlight(other, "heavy") == 0);
                java.util.Set<Byte> got = new java.util.HashSet<>();
                for (IpcClient.Message m = other.receive("heavy", 1000); m != null; m = other.receive("heavy", 1000)) {
                    assertThat(got.add(m.body()[0])).as("no message is delivered twice").isTrue();
                    other.ack(m.id());
                }
                assertThat(got).as("none is lost").hasSize(count);
            }
        }
        assertThat(fs.log()).contains("has read no reply bytes");
    }

    static long inFlight(IpcClient c, String channel) throws Exception {
        return c.list().stream().filter(x -> x.name().equals(channel)).findFirst().orElseThrow().inFlight();
    }

    /** Sends raw bytes and returns the first reply line. */
    static String rawExchange(String request) throws Exception {
        return rawExchange(socket, request);
    }

    static String rawExchange(Path socket, String request) throws Exception {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            OutputStream out = Channels.newOutputStream(ch);
            out.write(request.getBytes(StandardCharsets.UTF_8));
            out.flush();
            InputStream in = Channels.newInputStream(ch);
            StringBuilder line = new StringBuilder();
            for (int b = in.read(); b >= 0 && b != '\n'; b = in.read()) {
                line.append((char) b);
            }
            return line.toString();
        }
    }
}
