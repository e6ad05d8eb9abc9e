#!/usr/bin/env python3
"""Extracts the ELF vmlinux from an x86 bzImage: usage extract-vmlinux.py <bzImage> <out>.

Why: under TCG, QEMU spends ~3 s emulating the bzImage's self-decompression; booting the ELF
through its PVH entry skips that (docs/shared floors.md). The ELF is written once at image-build time.

How: the x86 boot protocol (>= 2.08) records where the compressed kernel lies inside the image:
  0x1F1  u8   setup_sects     real-mode setup size in 512-byte sectors (0 means 4)
  0x202  u32  "HdrS"          boot protocol magic
  0x206  u16  version
  0x248  u32  payload_offset  from the start of the protected-mode code
  0x24C  u32  payload_length
The payload starts with its format's magic (xz, zstd, gzip, ...). When the header is missing or does
not point at a known magic, every offset holding a known magic is tried in file order, as the
kernel's own extract-vmlinux does. A candidate counts only if it decompresses to an ELF image.
"""
import lzma
import shutil
import struct
import subprocess
import sys
import zlib

ELF_MAGIC = b"\x7fELF"

# Magic bytes of the formats the kernel's CONFIG_KERNEL_* choices produce.
MAGICS = [
    ("xz", b"\xfd7zXZ\x00"),
    ("zstd", b"\x28\xb5\x2f\xfd"),
    ("gzip", b"\x1f\x8b\x08"),
    ("lzma", b"\x5d\x00\x00"),
    ("bzip2", b"BZh"),
    ("lz4", b"\x02\x21\x4c\x18"),
]


def decompress(kind, data):
    """Decompresses one stream; trailing bytes after the stream (the kernel appends its size) are ignored."""
    if kind == "xz":
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data)
    if kind == "lzma":
        return lzma.LZMADecompressor(format=lzma.FORMAT_ALONE).decompress(data)
    if kind == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data)
    if kind == "bzip2":
        import bz2
        return bz2.BZ2Decompressor().decompress(data)
    # zstd and lz4 have no module in Python's standard library: use the command-line tool.
    tool = {"zstd": ["zstd", "-dcq"], "lz4": ["lz4", "-dcq"]}[kind]
    if shutil.which(tool[0]) is None:
        raise RuntimeError(f"payload is {kind} but '{tool[0]}' is not installed")
    done = subprocess.run(tool, input=data, capture_output=True)
    # The tools complain about the trailing size bytes but still write the whole stream.
    return done.stdout


def header_payload(image):
    """Returns (offset, length) of the payload from the boot header, or None when there is none."""
    if len(image) < 0x250 or image[0x202:0x206] != b"HdrS":
        return None
    version = struct.unpack_from("<H", image, 0x206)[0]
    if version < 0x208:
        return None
    setup_sects = image[0x1F1] or 4
    offset, length = struct.unpack_from("<II", image, 0x248)
    start = (setup_sects + 1) * 512 + offset
    if start + length > len(image):
        return None
    return start, length


def candidates(image):
    """Yields (kind, offset, data) in the order to try: the header's payload first, then a magic scan."""
    found = header_payload(image)
    if found is not None:
        start, length = found
        for kind, magic in MAGICS:
            if image.startswith(magic, start):
                yield kind, start, image[start:start + length]
    for kind, magic in MAGICS:
        pos = image.find(magic)
        while pos >= 0:
            yield kind, pos, image[pos:]
            pos = image.find(magic, pos + 1)


def pvh_entry(elf):
    """Returns the PVH entry address, or None: QEMU boots an ELF kernel through -kernel only when it
    carries the Xen note XEN_ELFNOTE_PHYS32_ENTRY (type 18), which CONFIG_PVH adds.
    ELF64 little-endian: e_phoff at 0x20, e_phentsize/e_phnum at 0x36/0x38; a PT_NOTE (4) segment
    holds notes of (namesz, descsz, type, name padded to 4, desc padded to 4)."""
    phoff = struct.unpack_from("<Q", elf, 0x20)[0]
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", elf, phoff + i * phentsize)
        if p_type != 4:
            continue
        pos, end = p_offset, p_offset + p_filesz
        while pos + 12 <= end:
            namesz, descsz, note_type = struct.unpack_from("<III", elf, pos)
            name = elf[pos + 12:pos + 12 + namesz].rstrip(b"\0")
            desc = pos + 12 + ((namesz + 3) & ~3)
            if name == b"Xen" and note_type == 18:
                size = "<I" if descsz == 4 else "<Q"
                return struct.unpack_from(size, elf, desc)[0]
            pos = desc + ((descsz + 3) & ~3)
    return None


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: extract-vmlinux.py <bzImage> <out>")
    with open(sys.argv[1], "rb") as f:
        image = f.read()
    for kind, offset, data in candidates(image):
        try:
            elf = decompress(kind, data)
        except (lzma.LZMAError, zlib.error, OSError, EOFError, ValueError):
            continue
        if elf.startswith(ELF_MAGIC):
            with open(sys.argv[2], "wb") as f:
                f.write(elf)
            print(f"extract-vmlinux: {kind} payload at offset {offset:#x} -> {len(elf)} bytes ELF")
            entry = pvh_entry(elf)
            if entry is None:
                sys.exit("extract-vmlinux: the kernel has no PVH entry note (CONFIG_PVH): QEMU cannot "
                         "boot this vmlinux with -kernel; boot vmlinuz instead")
            print(f"extract-vmlinux: PVH entry {entry:#x}")
            return
    sys.exit(f"extract-vmlinux: no compressed ELF kernel found in {sys.argv[1]}")


if __name__ == "__main__":
    main()
