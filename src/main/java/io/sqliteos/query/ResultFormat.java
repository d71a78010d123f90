package io.sqliteos.query;

import io.sqliteos.db.ReadOnlyQuery;
import java.util.List;
import java.util.Locale;

/** How a query's rows are printed: an aligned table for people, CSV or JSON for programs. */
public enum ResultFormat {
    TABLE, CSV, JSON;

    /** The format named by {@code word} (table, csv, json), or null. */
    public static ResultFormat named(String word) {
        for (ResultFormat f : values()) {
            if (f.name().equalsIgnoreCase(word)) {
                return f;
            }
        }
        return null;
    }

    public String word() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The whole result as text, ending in a newline. */
    public String render(ReadOnlyQuery.Result r) {
        return switch (this) {
            case TABLE -> table(r);
            case CSV -> csv(r);
            case JSON -> json(r);
        };
    }

    private static String csv(ReadOnlyQuery.Result r) {
        StringBuilder out = new StringBuilder();
        out.append(String.join(",", r.columns().stream().map(ResultFormat::csvField).toList())).append('\n');
        for (List<String> row : r.rows()) {
            out.append(String.join(",", row.stream().map(ResultFormat::csvField).toList())).append('\n');
        }
        return out.toString();
    }

    private static String csvField(String v) {
        if (v == null) {
            return "";
        }
        return v.matches("[^,\"\\r\\n]*") ? v : "\"" + v.replace("\"", "\"\"") + "\"";
    }

    private static String jsonString(String v) {
        if (v == null) {
            return "null";
        }
        StringBuilder sb = new StringBuilder("\"");
        for (char ch : v.toCharArray()) {
            switch (ch) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> sb.append(ch < 0x20 ? String.format("\\u%04x", (int) ch) : String.valueOf(ch));
            }
        }
        return sb.append('"').toString();
    }

    private static String json(ReadOnlyQuery.Result r) {
        StringBuilder out = new StringBuilder("[");
        for (int i = 0; i < r.rows().size(); i++) {
            out.append(i == 0 ? "\n  {" : ",\n  {");
            List<String> row = r.rows().get(i);
            for (int c = 0; c < row.size(); c++) {
                out.append(c == 0 ? "" : ", ").append(jsonString(r.columns().get(c))).append(": ").append(jsonString(row.get(c)));
            }
            out.append('}');
        }
        return out.append(r.rows().isEmpty() ? "]\n" : "\n]\n").toString();
    }

    private static String table(ReadOnlyQuery.Result r) {
        int[] width = new int[r.columns().size()];
        for (int c = 0; c < width.length; c++) {
            width[c] = r.columns().get(c).length();
            for (List<String> row : r.rows()) {
                width[c] = Math.max(width[c], String.valueOf(row.get(c)).length());
            }
        }
        StringBuilder out = new StringBuilder();
        StringBuilder line = new StringBuilder();
        StringBuilder rule = new StringBuilder();
        for (int c = 0; c < width.length; c++) {
            line.append(c == 0 ? "" : "  ").append(pad(r.columns().get(c), width[c]));
            rule.append(c == 0 ? "" : "  ").append("-".repeat(width[c]));
        }
        out.append(line.toString().stripTrailing()).append('\n').append(rule).append('\n');
        for (List<String> row : r.rows()) {
            line.setLength(0);
            for (int c = 0; c < width.length; c++) {
                line.append(c == 0 ? "" : "  ").append(pad(String.valueOf(row.get(c)), width[c]));
            }
            out.append(line.toString().stripTrailing()).append('\n');
        }
        return out.append("(").append(r.rows().size()).append(r.rows().size() == 1 ? " row)" : " rows)").append('\n').toString();
    }

    private static String pad(String s, int width) {
        return s + " ".repeat(Math.max(0, width - s.length()));
    }
}
