package io.sqliteos.cli;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The class-data archive that {@code scripts/class-archive} made for the jar
 * (its name, ending in {@code .jsa}). A JVM started from it maps the classes a
 * mount loads instead of reading and checking each one from the jar, which is
 * most of what a daemon's start costs before its first request.
 */
final class ClassArchive {

    private ClassArchive() {
    }

    /**
     * The JVM options that start a daemon from the archive of {@code classPath},
     * or none: when the class path is not one jar, when the archive is missing or
     * older than the jar (made for an earlier build), or when the options given
     * already choose how classes are shared (the launcher passes its own).
     * Logging of class sharing is off: a JVM that finds the archive unusable
     * (another JDK) starts without it, and should not say so on every mount.
     */
    static List<String> jvmOptions(List<String> given, String classPath) {
        boolean chosen = given.stream().anyMatch(o -> o.startsWith("-XX:SharedArchiveFile")
                || o.startsWith("-XX:ArchiveClassesAtExit") || o.startsWith("-Xshare"));
        if (chosen || classPath.contains(File.pathSeparator) || !classPath.endsWith(".jar")) {
            return List.of();
        }
        Path jar = Path.of(classPath);
        Path archive = jar.resolveSibling(jar.getFileName().toString().replaceFirst("\\.jar$", ".jsa"));
        try {
            if (Files.getLastModifiedTime(archive).compareTo(Files.getLastModifiedTime(jar)) <= 0) {
                return List.of();
            }
        } catch (IOException e) {
            return List.of();
        }
        return List.of("-XX:SharedArchiveFile=" + archive, "-Xlog:cds=off", "-Xlog:cds+dynamic=off");
    }
}
