#!/usr/bin/env python3
"""Writes a reproducible newc ("070701") cpio archive from a list of entries: mkcpio.py <out> < list.

Input, one entry a line (the kernel's gen_init_cpio vocabulary; names are relative, no leading '/'):
  dir   <name> <mode>
  file  <name> <source path> <mode>
  slink <name> <target> <mode>
  nod   <name> <mode> c|b <major> <minor>
Names and paths contain no whitespace. Modes are octal permission bits. Blank lines and lines starting with '#' are ignored. Parents that
are not listed are added as 0755 directories.

Reproducibility: the archive depends only on the list and the sources' contents. Entries are sorted
by path components (so every directory precedes its children), owners are 0:0, every mtime is
$SOURCE_DATE_EPOCH (0 when unset), inode numbers are the entry's index, device numbers of the
archive's own files are 0. Nothing is read from the build machine's file metadata but the bytes.

newc header: the magic "070701" and 13 fields of 8 ASCII hex digits: ino, mode, uid, gid, nlink,
mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize (with its NUL), check (0).
The name follows, then the data; each is padded with NULs to a multiple of 4 bytes counted from the
archive start. The archive ends with the entry "TRAILER!!!".
"""
import os
import stat
import sys


def pad4(n):
    return (4 - n % 4) % 4


def header(ino, mode, nlink, mtime, size, rdev_major, rdev_minor, namesize):
    fields = [ino, mode, 0, 0, nlink, mtime, size, 0, 0, rdev_major, rdev_minor, namesize, 0]
    return b"070701" + b"".join(b"%08X" % v for v in fields)


def parse(lines):
    entries = {}
    for number, line in enumerate(lines, 1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        kind, name = words[0], words[1].strip("/")
        if not name or ".." in name.split("/"):
            sys.exit(f"mkcpio: line {number}: bad name '{words[1]}'")
        if name in entries:
            sys.exit(f"mkcpio: line {number}: '{name}' listed twice")
        if kind == "dir" and len(words) == 3:
            entries[name] = (stat.S_IFDIR | int(words[2], 8), 2, b"", 0, 0)
        elif kind == "file" and len(words) == 4:
            with open(words[2], "rb") as f:
                data = f.read()
            entries[name] = (stat.S_IFREG | int(words[3], 8), 1, data, 0, 0)
        elif kind == "slink" and len(words) == 4:
            entries[name] = (stat.S_IFLNK | int(words[3], 8), 1, words[2].encode(), 0, 0)
        elif kind == "nod" and len(words) == 6 and words[3] in ("c", "b"):
            kind_bits = stat.S_IFCHR if words[3] == "c" else stat.S_IFBLK
            entries[name] = (kind_bits | int(words[2], 8), 1, b"", int(words[4]), int(words[5]))
        else:
            sys.exit(f"mkcpio: line {number}: cannot parse '{line.rstrip()}'")
    # The kernel does not create missing directories while unpacking: add every unlisted parent
    # as a plain 0755 directory, and refuse a parent that is listed as something else.
    for name in list(entries):
        parent = os.path.dirname(name)
        while parent:
            if parent not in entries:
                entries[parent] = (stat.S_IFDIR | 0o755, 2, b"", 0, 0)
            elif not stat.S_ISDIR(entries[parent][0]):
                sys.exit(f"mkcpio: '{name}' needs '{parent}' to be a directory")
            parent = os.path.dirname(parent)
    return entries


def write(out, entries, mtime):
    offset = 0

    def put(chunk):
        nonlocal offset
        out.write(chunk)
        offset += len(chunk)

    def entry(ino, name, mode, nlink, data, rmaj, rmin):
        encoded = name.encode() + b"\0"
        put(header(ino, mode, nlink, mtime, len(data), rmaj, rmin, len(encoded)))
        put(encoded)
        put(b"\0" * pad4(offset))
        put(data)
        put(b"\0" * pad4(offset))

    names = sorted(entries, key=lambda n: n.split("/"))
    for ino, name in enumerate(names, 1):
        mode, nlink, data, rmaj, rmin = entries[name]
        entry(ino, name, mode, nlink, data, rmaj, rmin)
    entry(0, "TRAILER!!!", 0, 1, b"", 0, 0)
    return offset


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: mkcpio.py <out.cpio> < entries")
    mtime = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    entries = parse(sys.stdin.read().splitlines())
    tmp = sys.argv[1] + ".tmp"
    with open(tmp, "wb") as out:
        size = write(out, entries, mtime)
    os.replace(tmp, sys.argv[1])
    print(f"mkcpio: {sys.argv[1]}: {len(entries)} entries, {size} bytes")


if __name__ == "__main__":
    main()
