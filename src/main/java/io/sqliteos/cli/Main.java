package io.sqliteos.cli;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code sqliteos} command. */
@Command(name = "sqliteos", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "SQLiteOS: a file system and IPC service whose whole state lives in one SQLite database.",
        subcommands = {MountCommand.class, UmountCommand.class, TxCommand.class, SnapshotCommand.class, FsckCommand.class, SqlCommand.class, IpcCommand.class,
            CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    static CommandLine commandLine() {
        return new CommandLine(new Main()).setCaseInsensitiveEnumValuesAllowed(true);
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing command: try 'sqliteos --help'");
    }

    /** Reads the version Maven stamped into the jar. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() throws IOException {
            Properties p = new Properties();
            try (InputStream in = Main.class.getResourceAsStream("/sqliteos-version.properties")) {
                if (in != null) {
                    p.load(in);
                }
            }
            return new String[] {"sqliteos " + p.getProperty("version", "unknown")};
        }
    }
}
