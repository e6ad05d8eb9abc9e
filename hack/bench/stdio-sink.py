#!/usr/bin/env python3
"""Reads stdin (or, with --connect PATH, a unix socket it connects to, retrying for up to 600 s while the socket is
not there yet) to its end and prints one line: "<bytes> <first_ns> <last_ns> <sha256> <cpu_s>".

first_ns / last_ns are CLOCK_MONOTONIC when the first byte arrived and when the last one did (not when end-of-file
came: a runtime's tear-down after the output is off the clock). Used by hack/bench/45-stdio-exec.sh to time a
container's stdout from its first byte to its last and to prove that nothing was lost or changed on the way.

With --cpu-pids CMD, CMD (a shell command) runs once at the first byte and prints pids; cpu_s is the CPU time (user +
system) those processes used between the first byte and the last MiB (each sampled after every MiB received). On a loaded machine the wall time measures the scheduler; the CPU time of
the runtime's processes (for ours: the shim and QEMU, whose CPU is the guest's) does not. "-" without --cpu-pids.
"""
import hashlib
import os
import socket
import subprocess
import sys
import time

CHUNK = 1 << 20
TICK = os.sysconf("SC_CLK_TCK")


def connect(path: str) -> socket.socket:
    deadline = time.monotonic() + 600
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
            return sock
        except OSError:
            sock.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def cpu_ticks(pid: int):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    except (OSError, IndexError, ValueError):
        return None


def comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def main() -> int:
    args = sys.argv[1:]
    sock = None
    pids_cmd = None
    while args:
        if args[0] == "--connect":
            sock = connect(args[1])
        elif args[0] == "--cpu-pids":
            pids_cmd = args[1]
        else:
            print(f"stdio-sink: unknown option {args[0]}", file=sys.stderr)
            return 2
        args = args[2:]
    fd = sock.fileno() if sock else sys.stdin.fileno()
    digest = hashlib.sha256()
    total = 0
    first = last = 0
    start_ticks: dict[int, int] = {}
    last_ticks: dict[int, int] = {}
    since_sample = 0
    names: dict[int, str] = {}

    def sample():
        for pid in start_ticks:
            ticks = cpu_ticks(pid)
            if ticks is not None:
                last_ticks[pid] = ticks

    while True:
        data = os.read(fd, CHUNK)
        if not data:
            break
        now = time.monotonic_ns()
        if total == 0:
            first = now
            if pids_cmd:
                out = subprocess.run(["bash", "-c", pids_cmd], capture_output=True, text=True).stdout
                for word in out.split():
                    ticks = cpu_ticks(int(word))
                    if ticks is not None:
                        start_ticks[int(word)] = last_ticks[int(word)] = ticks
                        names[int(word)] = comm(int(word))
        last = now
        total += len(data)
        since_sample += len(data)
        if since_sample >= CHUNK:
            sample()
            since_sample = 0
        digest.update(data)
    # No sample after end of file: by then a runtime may be tearing its container (and VM) down.
    # Each process's share on stderr: where the CPU went (for ours, the shim or QEMU, i.e. the guest).
    for pid in start_ticks:
        print(f"stdio-sink: {names[pid]} ({pid}): {(last_ticks[pid] - start_ticks[pid]) / TICK:.2f} s CPU", file=sys.stderr)
    cpu = f"{sum(last_ticks[p] - start_ticks[p] for p in start_ticks) / TICK:.2f}" if start_ticks else "-"
    print(total, first, last, digest.hexdigest(), cpu)
    return 0


if __name__ == "__main__":
    sys.exit(main())
