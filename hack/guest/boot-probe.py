#!/usr/bin/env python3
"""Boots a VM once and times it: boot-probe.py <timeout s> <marker> <qemu> [args...].

QEMU must write the guest's serial console to its stdout (-serial stdio). Prints one line:
  wall_ms=<start to the marker line> uptime_s=<the word after the kernel release on the marker
  line, or -> rss_kb=<QEMU's peak RSS when the marker arrived> exit_ms=<start to QEMU's exit>
and exits non-zero, with the console tail on stderr, when the marker does not arrive in time or QEMU
does not exit after it. The clock starts just before QEMU is spawned.
"""
import os
import selectors
import subprocess
import sys
import time


def peak_rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: boot-probe.py <timeout s> <marker> <qemu> [args...]")
    timeout, marker, argv = float(sys.argv[1]), sys.argv[2].encode(), sys.argv[3:]
    start = time.monotonic()
    qemu = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = start + timeout
    console, buffered, found = [], b"", None
    selector = selectors.DefaultSelector()
    selector.register(qemu.stdout, selectors.EVENT_READ)
    try:
        while found is None and time.monotonic() < deadline:
            if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                continue
            chunk = os.read(qemu.stdout.fileno(), 65536)
            if not chunk:
                break
            buffered += chunk
            *lines, buffered = buffered.split(b"\n")
            for line in lines:
                console.append(line)
                if line.lstrip().startswith(marker) and found is None:
                    found = (time.monotonic(), line, peak_rss_kb(qemu.pid))
        if found is None:
            raise TimeoutError("the marker did not appear")
        # Drain the console until QEMU exits (the guest powers off right after the marker).
        while time.monotonic() < deadline:
            if selector.select(timeout=max(0.0, deadline - time.monotonic())):
                if not os.read(qemu.stdout.fileno(), 65536):
                    break
        qemu.wait(timeout=max(0.1, deadline - time.monotonic()))
        exited = time.monotonic()
    except (TimeoutError, subprocess.TimeoutExpired) as e:
        qemu.kill()
        qemu.wait()
        tail = b"\n".join(console[-20:] + [buffered]).decode(errors="replace")
        sys.stderr.write(f"boot-probe: {e or 'QEMU did not exit'} within {timeout} s; console tail:\n{tail}\n")
        sys.exit(1)
    at, line, rss = found
    words = line.decode(errors="replace").split()
    uptime = words[2] if len(words) > 2 else "-"
    print(f"wall_ms={(at - start) * 1000:.0f} uptime_s={uptime} rss_kb={rss} "
          f"exit_ms={(exited - start) * 1000:.0f} qemu_rc={qemu.returncode}")


if __name__ == "__main__":
    main()
