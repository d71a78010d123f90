package io.sqliteos.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.spi.ContextAwareBase;

/**
 * SQLiteOS's default logging, set up in code: to stderr (a background daemon's
 * log file), SQLiteOS at INFO or $SQLITEOS_LOG_LEVEL, everything else at WARN.
 * Parsing an XML configuration would add a third of a second to every mount.
 * {@code -Dlogback.configurationFile=...} (fuse-daemon/logback.xml holds these
 * same settings to start from) replaces it.
 */
public final class LoggingDefaults extends ContextAwareBase implements Configurator {

    static final String PATTERN = "%d{yyyy-MM-dd HH:mm:ss.SSS} %-5level [%thread] %logger{20} - %msg%n";

    @Override
    public ExecutionStatus configure(LoggerContext context) {
        if (System.getProperty("logback.configurationFile") != null) {
            return ExecutionStatus.INVOKE_NEXT_IF_ANY;
        }
        PatternLayoutEncoder encoder = new PatternLayoutEncoder();
        encoder.setContext(context);
        encoder.setPattern(PATTERN);
        encoder.start();
        ConsoleAppender<ILoggingEvent> stderr = new ConsoleAppender<>();
        stderr.setContext(context);
        stderr.setName("STDERR");
        stderr.setTarget("System.err");
        stderr.setEncoder(encoder);
        stderr.start();
        Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
        root.setLevel(Level.WARN);
        root.addAppender(stderr);
        context.getLogger("io.sqliteos").setLevel(Level.toLevel(levelSetting(), Level.INFO));
        return ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY;
    }

    /** SQLITEOS_LOG_LEVEL as a system property or, failing that, an environment variable. */
    private static String levelSetting() {
        String level = System.getProperty("SQLITEOS_LOG_LEVEL");
        return level != null ? level : System.getenv("SQLITEOS_LOG_LEVEL");
    }
}
