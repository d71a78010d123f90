package io.sqliteos.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.sqliteos.ipc.IpcClient;
import io.sqliteos.ipc.IpcException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * IPC inside file-system transactions: sends commit with file changes,
 * receives are undone by a rollback, and membership is decided by the kernel's
 * word on who the socket's peer is.
 */
class IpcTransactionsIT {

    static final String TX = "user.sqliteos.tx";
    static MountedFs fs;
    static Path socket;
    static String sock;

    @BeforeAll
    static void mount() throws Exception {
        socket = Files.createTempDirectory("sqliteos-ipctx-").resolve("ipc.sock");
        sock = " --socket " + socket;
        // a short busy timeout: outsiders' writes meet the open transaction quickly
        fs = MountedFs.start("--ipc-socket", socket.toString(), "--busy-timeout", "500");
    }

    @AfterAll
    static void unmount() throws Exception {
        fs.close();
        Files.deleteIfExists(socket.getParent());
    }

    @AfterEach
    void noTransactionLeftOpen() {
        Sys.setxattr(fs.root(), TX, "rollback".getBytes(StandardCharsets.UTF_8), 0);
    }

    static void tx(String verb) {
        assertThat(Sys.setxattr(fs.root(), TX, verb.getBytes(StandardCharsets.UTF_8), 0)).as(verb).isZero();
    }

    /** The CLI in another process, which is in no transaction of this one. */
    static MountedFs.Result outside(String args) throws Exception {
        return fs.sh("java -jar " + MountedFs.jar() + " ipc " + args + sock);
    }

    @Test
    void sendsCommitTogetherWithFileChanges() throws Exception {
        try (IpcClient c = new IpcClient(socket)) {
            c.create("orders", 0600);
            tx("begin process");
            long id = c.transaction();
            assertThat(id).as("this process's requests join its transaction").isPositive();
            Files.writeString(fs.path("order-1"), "paid\n");
            c.send("orders", "order-1".getBytes(StandardCharsets.UTF_8));
            assertThat(fs.sh("test -e order-1").exitCode()).as("the file is not visible outside yet").isNotZero();
            assertThat(outside("recv orders --timeout 0").exitCode()).as("nor is the message").isEqualTo(3);
            tx("commit");
            assertThat(c.transaction()).isZero();
        }
        assertThat(outside("recv orders --timeout 5000").ok().stdout()).isEqualTo("order-1");
        assertThat(fs.sh("cat order-1").ok().stdout()).isEqualTo("paid\n");
    }

    @Test
    void rollbackDropsSendsAndGivesReceivedMessagesBack() throws Exception {
        try (IpcClient c = new IpcClient(socket)) {
            c.create("inbox", 0600);
            c.create("outbox", 0600);
            c.send("inbox", "job-7".getBytes(StandardCharsets.UTF_8));
            tx("begin process");
            IpcClient.Message m = c.receive("inbox", 1000);
            assertThat(new String(m.body(), StandardCharsets.UTF_8)).isEqualTo("job-7");
            c.ack(m.id());
            Files.writeString(fs.path("job-7.done"), "ok\n");
            c.send("outbox", "job-7 finished".getBytes(StandardCharsets.UTF_8));
            tx("rollback");
        }
        assertThat(fs.sh("test -e job-7.done").exitCode()).isNotZero();
        assertThat(outside("recv outbox --timeout 200").exitCode()).as("the reply was never sent").isEqualTo(3);
        assertThat(outside("recv inbox --timeout 5000").ok().stdout()).as("the job is delivered again").isEqualTo("job-7");
    }

    @Test
    void aShellTransactionCoversFilesAndMessagesOfItsWholeTree() throws Exception {
        outside("create events").ok();
        String j = "java -jar " + MountedFs.jar();
        fs.sh(j + " tx -- sh -c 'echo a > tree-a && " + j + " ipc send events a" + sock + " && exit 1'");
        fs.sh(j + " tx -- sh -c 'echo b > tree-b && " + j + " ipc send events b" + sock + "'").ok();
        assertThat(fs.sh("ls tree-*").stdout()).isEqualTo("tree-b\n");
        assertThat(outside("recv events -n 5 --lines --timeout 2000").ok().stdout()).isEqualTo("b\n");
    }

    @Test
    void membershipComesFromTheKernelNotFromTheClient() throws Exception {
        try (IpcClient c = new IpcClient(socket)) {
            c.create("audit", 0600);
            tx("begin process");
            assertThat(c.transaction()).isPositive();
            // another process cannot join, whatever it says: it has no way to name a pid, and its
            // send meets the transaction's write lock
            assertThat(IpcIT.rawExchange(socket, "TX " + ProcessHandle.current().pid() + "\n")).startsWith("ERR BADREQUEST");
            MountedFs.Result other = outside("send audit from-outside");
            assertThat(other.exitCode()).isEqualTo(1);
            assertThat(other.stderr()).contains("BUSY");
            c.send("audit", "from-inside".getBytes(StandardCharsets.UTF_8));
            tx("commit");
        }
        assertThat(outside("recv audit -n 5 --lines --timeout 2000").ok().stdout()).isEqualTo("from-inside\n");
    }

    @Test
    void aThreadTransactionIsNotJoinedTheKernelNamesOnlyTheProcess() throws Exception {
        try (IpcClient c = new IpcClient(socket)) {
            tx("begin thread");
            assertThat(c.transaction()).isZero();
            tx("rollback");
            tx("begin process");
            assertThat(c.transaction()).isPositive();
        }
    }

    @Test
    void pipesAreRefusedInsideATransactionWithAClearError() throws Exception {
        try (IpcClient c = new IpcClient(socket)) {
            c.createPipe("stream", 0600, 4096);
            tx("begin process");
            assertThatThrownBy(() -> c.openPipe("stream", true)).isInstanceOf(IpcException.class)
                    .hasFieldOrPropertyWithValue("code", IpcException.Code.TRANSACTION)
                    .hasMessageContaining("queue");
            tx("rollback");
            c.openPipe("stream", true);
        }
    }

    @Test
    void aReadTransactionCannotSend() throws Exception {
        try (IpcClient c = new IpcClient(socket)) {
            c.create("quiet", 0600);
            tx("begin-read process");
            assertThatThrownBy(() -> c.send("quiet", "x".getBytes())).isInstanceOf(IpcException.class)
                    .hasFieldOrPropertyWithValue("code", IpcException.Code.TRANSACTION)
                    .hasMessageContaining("read-only");
        }
    }
}
