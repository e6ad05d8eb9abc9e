#!/usr/bin/env python3
# A stand-in for qemu-system-x86_64 that serves just enough QMP to test the driver's stop and exit
# paths: it finds its QMP socket in the -chardev socket,id=qmp,... argument, greets, answers
# qmp_capabilities and query-status, and IGNORES quit (replies, keeps running) so that the driver
# has to escalate to SIGKILL. It also ignores SIGTERM for the same reason.
import json, os, signal, socket, sys

signal.signal(signal.SIGTERM, signal.SIG_IGN)
path = None
for arg in sys.argv[1:]:
    if arg.startswith("socket,id=qmp,"):
        path = dict(kv.split("=", 1) for kv in arg.split(",")[1:] if "=" in kv)["path"]
if path is None:
    sys.exit("fake-qemu: no QMP chardev")
print("fake-qemu: serving QMP on " + path, file=sys.stderr, flush=True)
listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
listener.bind(path)
listener.listen(1)
conn, _ = listener.accept()
send = lambda obj: conn.sendall((json.dumps(obj) + "\r\n").encode())
send({"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 0}, "package": "fake"}, "capabilities": []}})
buffer = b""
while True:
    chunk = conn.recv(4096)
    if not chunk:
        break
    buffer += chunk
    while b"\n" in buffer:
        line, buffer = buffer.split(b"\n", 1)
        if not line.strip():
            continue
        request = json.loads(line)
        command = request["execute"]
        if command == "query-status":
            send({"return": {"status": "running", "running": True}, "id": request["id"]})
        else:
            send({"return": {}, "id": request["id"]})
# The driver closed QMP; wait to be killed.
signal.pause()
