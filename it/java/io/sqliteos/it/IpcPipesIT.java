package io.sqliteos.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.sqliteos.ipc.IpcClient;
import io.sqliteos.ipc.IpcException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Pipes of a real mount: byte streams with one writer, one reader, end of file and back-pressure. */
class IpcPipesIT {

    static MountedFs fs;
    static Path socket;
    static String sock;
    static final ExecutorService pool = Executors.newCachedThreadPool();

    @BeforeAll
    static void mount() throws Exception {
        socket = Files.createTempDirectory("sqliteos-pipe-").resolve("ipc.sock");
        sock = " --socket " + socket;
        fs = MountedFs.start("--ipc-socket", socket.toString());
    }

    @AfterAll
    static void unmount() throws Exception {
        pool.shutdownNow();
        fs.close();
        Files.deleteIfExists(socket.getParent());
    }

    static MountedFs.Result ipc(String script) throws Exception {
        return fs.sh("J='java -jar " + MountedFs.jar() + "'; " + script);
    }

    @Test
    void shellPipelinesStreamBytesUntilEndOfFile() throws Exception {
        ipc("$J ipc create --pipe --capacity 16K logs" + sock).ok();
        assertThat(ipc("$J ipc ls" + sock).ok().stdout()).containsPattern("logs\\s+pipe\\s+0\\s+600\\s+0\\s+0\\s+16384");
        // 3 MB through a 16 KiB pipe: the writer waits for the reader again and again
        MountedFs.Result r = ipc("head -c 3000000 /dev/urandom > /tmp/pipe-in.$$; "
                + "$J ipc write logs" + sock + " < /tmp/pipe-in.$$ & "
                + "$J ipc read logs" + sock + " | sha256sum; wait $! && echo writer-ok; sha256sum < /tmp/pipe-in.$$; rm /tmp/pipe-in.$$").ok();
        String[] lines = r.stdout().split("\n");
        assertThat(lines[1]).isEqualTo("writer-ok");
        assertThat(lines[0]).as("the reader got every byte in order").isEqualTo(lines[2]);
        // as with a FIFO, reading when the writer has gone and everything is read is end of file
        assertThat(ipc("$J ipc read logs --timeout 300" + sock).ok().stdout()).isEmpty();
        ipc("$J ipc create --pipe fresh" + sock).ok();
        assertThat(ipc("$J ipc read fresh --timeout 300" + sock).exitCode()).as("no writer yet: wait, then time out").isEqualTo(3);
    }

    @Test
    void aFullPipeHoldsItsWriterUntilTheReaderTakesBytes() throws Exception {
        byte[] data = new byte[10_000];
        new Random(7).nextBytes(data);
        try (IpcClient writer = new IpcClient(socket); IpcClient reader = new IpcClient(socket);
             IpcClient observer = new IpcClient(socket)) {
            writer.createPipe("narrow", 0600, 1024);
            writer.openPipe("narrow", true);
            reader.openPipe("narrow", false);
            Future<?> writing = pool.submit(() -> {
                writer.write("narrow", data, 0, data.length);
                writer.closePipe("narrow");
                return null;
            });
            MountedFs.eventually("the pipe fills to its capacity", () -> buffered(observer, "narrow") == 1024);
            Thread.sleep(200);
            assertThat(writing.isDone()).as("the writer waits while the pipe is full").isFalse();
            assertThat(buffered(observer, "narrow")).as("never more than the capacity").isEqualTo(1024);
            java.io.ByteArrayOutputStream got = new java.io.ByteArrayOutputStream();
            for (byte[] b = reader.read("narrow", 700, 10_000); b.length > 0; b = reader.read("narrow", 700, 10_000)) {
                assertThat(b.length).isLessThanOrEqualTo(700);
                got.write(b);
            }
            writing.get(10, TimeUnit.SECONDS);
            assertThat(got.toByteArray()).as("end of file after every byte").isEqualTo(data);
        }
    }

    static long buffered(IpcClient c, String pipe) throws Exception {
        return c.list().stream().filter(x -> x.name().equals(pipe)).findFirst().orElseThrow().waiting();
    }

    @Test
    void oneWriterOneReaderAndClearErrorsForMisuse() throws Exception {
        try (IpcClient a = new IpcClient(socket); IpcClient b = new IpcClient(socket)) {
            a.createPipe("solo", 0600, 4096);
            a.create("queue-not-pipe", 0600);
            a.openPipe("solo", true);
            assertThatThrownBy(() -> b.openPipe("solo", true)).isInstanceOf(IpcException.class)
                    .hasFieldOrPropertyWithValue("code", IpcException.Code.INUSE);
            assertThatThrownBy(() -> b.read("solo", 10, 0)).isInstanceOf(IpcException.class)
                    .hasFieldOrPropertyWithValue("code", IpcException.Code.NOTOPEN);
            assertThatThrownBy(() -> b.openPipe("queue-not-pipe", false)).isInstanceOf(IpcException.class)
                    .hasFieldOrPropertyWithValue("code", IpcException.Code.WRONGKIND);
            assertThatThrownBy(() -> b.send("solo", "x".getBytes())).isInstanceOf(IpcException.class)
                    .hasFieldOrPropertyWithValue("code", IpcException.Code.WRONGKIND);
            assertThatThrownBy(() -> b.createPipe("huge", 0600, 1L << 40)).isInstanceOf(IpcException.class)
                    .hasFieldOrPropertyWithValue("code", IpcException.Code.BADREQUEST);
        }
        assertThat(IpcIT.rawExchange(socket, "OPEN solo sideways\n")).startsWith("ERR BADREQUEST");
        assertThat(IpcIT.rawExchange(socket, "WRITE solo 99999999999\n")).startsWith("ERR TOOBIG");
        assertThat(IpcIT.rawExchange(socket, "READ solo 10 0\n")).startsWith("ERR NOTOPEN");
        assertThat(fs.daemon().isAlive()).isTrue();
    }

    @Test
    void aReaderThatLeavesBreaksThePipeAndAWriterThatDiesEndsIt() throws Exception {
        try (IpcClient writer = new IpcClient(socket)) {
            writer.createPipe("fragile", 0600, 1024);
            writer.openPipe("fragile", true);
            try (IpcClient reader = new IpcClient(socket)) {
                reader.openPipe("fragile", false);
            } // the reader's connection closes: its end closes with it
            byte[] two = new byte[2048];
            assertThatThrownBy(() -> writer.write("fragile", two, 0, two.length)).isInstanceOf(IpcException.class)
                    .hasFieldOrPropertyWithValue("code", IpcException.Code.BROKEN);
        }
        // a writer killed mid-stream: the reader gets what was written, then end of file
        ipc("$J ipc create --pipe dying" + sock).ok();
        Process w = fs.spawn(0, 0, "exec java -jar " + MountedFs.jar() + " ipc write dying" + sock);
        w.getOutputStream().write("last words\n".getBytes(StandardCharsets.UTF_8));
        w.getOutputStream().flush();
        try (IpcClient reader = new IpcClient(socket)) {
            reader.openPipe("dying", false);
            byte[] first = reader.read("dying", 100, 30_000);
            assertThat(new String(first, StandardCharsets.UTF_8)).isEqualTo("last words\n");
            w.destroyForcibly().waitFor();
            assertThat(reader.read("dying", 100, 30_000)).as("end of file").isEmpty();
        }
    }
}
