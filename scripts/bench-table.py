#!/usr/bin/env python3
"""Prints benchmark rows as tables with SQLiteOS's ratio to every other system.

    bench-table.py RESULTS.tsv [OUT.json]

RESULTS.tsv has lines "workload<TAB>system<TAB>value<TAB>unit<TAB>better"; a
workload run in several rounds has a line per round, and its figure is their
median. File-system workloads (against tmpfs and FUSE file systems), transaction cost
(tx_*, SQLiteOS alone) and IPC workloads (ipc_*, against a Unix pipe and a Unix
socket) get a table each. With
OUT.json, every figure is also written as JSON (with each round's value
under "runs" when there were several).
"""
import json
import statistics
import sys


def print_table(workloads, systems, data):
    others = [s for s in systems if s != "sqliteos"]
    width = {s: max(12, len(s) + 2) for s in systems}  # a column as wide as its system's name needs
    head = f"{'workload':<16} {'unit':<16}" + "".join(f"{s:>{width[s]}}" for s in systems)
    if "sqliteos" in systems:
        head += "".join(f"{'vs ' + s:>{width[s] + 3}}" for s in others)
    print()
    print(head)
    print("-" * len(head))
    for name, unit, better in workloads:
        line = f"{name:<16} {unit:<16}"
        for s in systems:
            v = data.get((name, s))
            line += f"{v:>{width[s]}.4g}" if v is not None else f"{'-':>{width[s]}}"
        for s in others if "sqliteos" in systems else []:
            a, b = data.get((name, "sqliteos")), data.get((name, s))
            if a and b:
                # always "times as good": >1 means SQLiteOS is better
                r = a / b if better == "higher" else b / a
                line += f"{r:>{width[s] + 2}.3g}x"
            else:
                line += f"{'-':>{width[s] + 3}}"
        print(line)


def main():
    rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
    systems, workloads, runs = [], [], {}
    for name, system, value, unit, better in rows:
        if system not in systems:
            systems.append(system)
        if name not in [w[0] for w in workloads]:
            workloads.append((name, unit, better))
        runs.setdefault((name, system), []).append(float(value))
    data = {key: statistics.median(values) for key, values in runs.items()}
    # file-system, transaction and IPC workloads compare against different systems: one table each
    groups = {}
    for w in workloads:
        groups.setdefault(w[0].split("_")[0] if w[0].startswith(("ipc_", "tx_")) else "fs", []).append(w)
    for group in groups.values():
        measured = [s for s in systems if any((w[0], s) in data for w in group)]
        print_table(group, measured, data)
    rounds = max(len(v) for v in runs.values()) if runs else 1
    if rounds > 1:
        print(f"\nfigures run in rounds are the median of {rounds}")
    print("\nratios: SQLiteOS relative to each system, >1 means SQLiteOS is better (faster, or less memory/time)")
    if len(sys.argv) > 2 and sys.argv[2]:
        out = []
        for name, unit, better in workloads:
            for system in systems:
                values = runs.get((name, system))
                if values is None:
                    continue
                entry = {"workload": name, "system": system, "value": data[(name, system)], "unit": unit,
                         "better": better}
                if len(values) > 1:
                    entry["runs"] = values
                out.append(entry)
        with open(sys.argv[2], "w") as f:
            json.dump(out, f, indent=1)
        print(f"wrote {sys.argv[2]}")


if __name__ == "__main__":
    main()
