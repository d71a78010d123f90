package io.sqliteos.cli;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;

/**
 * How the commands talk to a running daemon: through its virtual
 * {@code user.sqliteos.NAME} attributes on a path inside the mount. The calling
 * thread is what the daemon sees as the caller.
 */
final class ControlAttributes {

    private ControlAttributes() {}

    private static UserDefinedFileAttributeView view(Path path) throws IOException {
        UserDefinedFileAttributeView view = Files.getFileAttributeView(path, UserDefinedFileAttributeView.class);
        if (view == null) {
            throw new IOException("extended attributes are not supported at " + path);
        }
        return view;
    }

    /** Sets {@code user.sqliteos.NAME} to {@code value}: performs the daemon's action. */
    static void set(Path path, String name, String value) throws IOException {
        view(path).write("sqliteos." + name, ByteBuffer.wrap(value.getBytes(StandardCharsets.UTF_8)));
    }

    /** Reads {@code user.sqliteos.NAME}. */
    static String get(Path path, String name) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(4096);
        view(path).read("sqliteos." + name, buf);
        return new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8);
    }
}
