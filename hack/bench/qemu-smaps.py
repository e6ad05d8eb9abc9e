#!/usr/bin/env python3
"""Where a QEMU's memory goes: /proc/<pid>/smaps grouped by what each mapping holds, in kB.

    python3 hack/bench/qemu-smaps.py <qemu pid> [<guest RAM MiB> (512)]

Groups (docs/performance.md, "Density: idle pods per host"):
- guest RAM: the RAM mappings at least as large as the guest's RAM (anonymous for a cold VM; the template's memory
  file mapped private for a clone: its Private_Dirty is what the clone wrote since the restore, its Shared_Clean the
  template pages it read); the hot-plug backend is reserved, not resident, until plugged.
- TCG cache: QEMU's translation buffer, the anonymous rwx mappings (tb-size; none under KVM).
- vmlinux file, initramfs file: QEMU keeps both mapped for the VM's life (a reset reloads them); page cache shared by
  every QEMU that maps them.
- libraries+exe: QEMU and its shared libraries (Private_Dirty: their relocated data).
- brk heap, other anon (malloc's thread arenas, QEMU's own allocations), stacks.
Run it against an idle pod's QEMU: `cat /run/cc/<namespace>/<id>/vm/qemu.pid`.
"""
import collections
import re
import sys

FIELDS = ("Rss", "Pss", "Private_Dirty", "Private_Clean", "Shared_Clean", "Shared_Dirty", "Anonymous")


def mappings(pid):
    """Every mapping with its fields, read whole (a mapping's fields follow its header line)."""
    found = []
    with open(f"/proc/{pid}/smaps") as smaps:
        for line in smaps:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                parts = line.split(None, 5)
                start, end = (int(x, 16) for x in parts[0].split("-"))
                current = {"size": (end - start) // 1024, "perm": parts[1],
                           "name": parts[5].strip() if len(parts) > 5 else ""}
                found.append(current)
            else:
                key, _, value = line.partition(":")
                value = value.split()
                if value and value[0].isdigit():
                    current[key] = int(value[0])
    return found


def group(mapping, ram_kb):
    name, perm = mapping["name"], mapping["perm"]
    if mapping["size"] >= ram_kb and perm.startswith("rw") and (name == "" or "memory" in name):
        return "guest RAM"
    if name == "" and perm == "rwxp":
        return "TCG cache"
    if name.endswith("vmlinux"):
        return "vmlinux file"
    if "initramfs" in name:
        return "initramfs file"
    if ".so" in name or "qemu-system" in name:
        return "libraries+exe"
    if name == "[heap]":
        return "brk heap"
    if name.startswith("[stack"):
        return "stacks"
    if name == "":
        return "other anon"
    return "other"


def main():
    pid = sys.argv[1]
    ram_kb = (int(sys.argv[2]) if len(sys.argv) > 2 else 512) * 1024
    totals = collections.defaultdict(collections.Counter)
    for mapping in mappings(pid):
        counter = totals[group(mapping, ram_kb)]
        counter["mappings"] += 1
        for field in FIELDS:
            counter[field] += mapping.get(field, 0)
    columns = ("mappings",) + FIELDS
    print("%-15s" % "group" + "".join("%15s" % c for c in columns))
    grand = collections.Counter()
    for name, counter in sorted(totals.items(), key=lambda item: -item[1]["Pss"]):
        print("%-15s" % name + "".join("%15d" % counter[c] for c in columns))
        grand.update(counter)
    print("%-15s" % "total" + "".join("%15d" % grand[c] for c in columns))


if __name__ == "__main__":
    main()
