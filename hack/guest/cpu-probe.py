#!/usr/bin/env python3
"""Boots QEMU once and charges the guest's steps with QEMU's own CPU time: cpu-probe.py <qemu> [args...].

QEMU must put the guest's serial console on its stdout and read its stdin (-serial stdio). Whenever the guest prints a
line "CC-T <name>", this samples the CPU time of every QEMU thread (the run time in /proc/<pid>/task/*/schedstat, ns)
and then writes a newline to QEMU's stdin; the guest waits for that newline before it goes on (hack/guest/crun-probe.sh
reads it), so it is idle while the sample is taken. Under TCG a step's CPU time is the work it made QEMU do, and it
follows the host's load far less than its wall time does (a runnable QEMU waiting for a core costs no CPU). Prints one
line per step, "<name> cpu_ms=<since the previous step> wall_ms=<the same>", then "qemu_rc=<exit status>"; other
console lines are passed through on stderr.
"""
import glob
import os
import subprocess
import sys
import time


def cpu_ns(pid):
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(path) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # a thread that ended between the listing and the read
    return total


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: cpu-probe.py <qemu> [args...]")
    qemu = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    last_cpu, last_wall, pending = 0, time.monotonic(), b""
    while True:
        chunk = os.read(qemu.stdout.fileno(), 65536)
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            line = raw.decode(errors="replace").strip()
            if line.startswith("CC-T "):
                cpu, wall = cpu_ns(qemu.pid), time.monotonic()
                print(f"{line[5:]} cpu_ms={(cpu - last_cpu) / 1e6:.1f} wall_ms={(wall - last_wall) * 1000:.0f}", flush=True)
                last_cpu, last_wall = cpu, wall
                qemu.stdin.write(b"\n")
                qemu.stdin.flush()
            elif line:
                print(line, file=sys.stderr, flush=True)
    print(f"qemu_rc={qemu.wait()}", flush=True)


if __name__ == "__main__":
    main()
