#!/usr/bin/env python3
"""Adds (or removes) the containerd CRI runtime entry for io.containerd.cc.v2 in an existing config.toml.

    hack/configure-containerd.py [--config /etc/containerd/config.toml] [--handler cc]
        [--config-path /usr/share/defaults/cc/configuration.toml] [--runtime-path PATH]
        [--version auto|2|3] [--remove] [--dry-run] [--runtime-class]

What it writes (docs/kubernetes.md): one block, between a BEGIN and an END comment line naming the handler,
appended to the file:
  version 2 (containerd 1.6, 1.7):  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.<handler>]
  version 3 and 4 (containerd 2.x): [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.<handler>]
with runtime_type = "io.containerd.cc.v2", the pod/container annotation globs, privileged_without_host_devices and
options.ConfigPath. Invariants:
  * The rest of the file is never rewritten: the block is appended, and --remove takes exactly that block away, so
    install then uninstall gives back the original bytes.
  * Running it again replaces its own block (idempotent); a handler of that name defined elsewhere in the file is an
    error, and the file is left as it was.
  * The result is parsed (tomllib) and must hold the entry before it replaces the file (atomically, mode kept);
    anything else is an error that changes nothing.
--version auto takes the file's `version`, or for a new file containerd's major version (2.x -> 3, else 2). A file
without `version` is containerd's version 1 format, which is refused: migrate it first (`containerd config migrate`
on 2.x, or add the version 2 tables by hand). --runtime-class prints the Kubernetes RuntimeClass for the handler.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import tomllib

RUNTIME_TYPE = "io.containerd.cc.v2"
CRI_PLUGIN = {2: "io.containerd.grpc.v1.cri", 3: "io.containerd.cri.v1.runtime"}

# Host memory one idle pod costs beyond its containers' requests: QEMU (512 MiB guest) ~307 MB PSS plus the shim
# ~13 MB PSS (docs/performance.md), rounded up. CPU: the VMM's and the agent's own threads at idle, a quarter core.
POD_OVERHEAD_MEMORY = "320Mi"
POD_OVERHEAD_CPU = "250m"


def fail(message):
    print(f"configure-containerd: {message}", file=sys.stderr)
    sys.exit(1)


def markers(handler):
    return (f"# BEGIN containerd-shim-cc-v2 handler {handler} (hack/configure-containerd.py)",
            f"# END containerd-shim-cc-v2 handler {handler}")


def block(handler, version, config_path, runtime_path):
    begin, end = markers(handler)
    table = f'plugins."{CRI_PLUGIN[min(version, 3)]}".containerd.runtimes.{handler}'
    lines = [
        "",
        begin,
        f"[{table}]",
        f'  runtime_type = "{RUNTIME_TYPE}"',
    ]
    if runtime_path:
        lines.append(f"  runtime_path = {toml_string(runtime_path)}")
    lines += [
        '  pod_annotations = ["io.cc.*"]',
        '  container_annotations = ["io.cc.*"]',
        "  privileged_without_host_devices = true",
    ]
    if version >= 3:
        # The pause container path (podsandbox) is what this shim serves on every version (docs/kubernetes.md).
        lines.append('  sandboxer = "podsandbox"')
    lines += [
        f"  [{table}.options]",
        f"    ConfigPath = {toml_string(config_path)}",
        end,
        "",
    ]
    return "\n".join(lines)


def toml_string(value):
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def without_block(text, handler):
    """The text with this script's block for handler removed (exactly as it was added), and whether there was one."""
    begin, end = markers(handler)
    pattern = re.compile(r"\n" + re.escape(begin) + r"\n.*?" + re.escape(end) + r"\n", re.S)
    matches = list(pattern.finditer(text))
    if len(matches) > 1:
        fail(f"the file holds {len(matches)} blocks for handler {handler}; remove the extra ones by hand")
    if not matches:
        return text, False
    m = matches[0]
    return text[:m.start()] + text[m.end():], True


def handler_table(doc, version, handler):
    plugin = doc.get("plugins", {}).get(CRI_PLUGIN[min(version, 3)], {})
    return plugin.get("containerd", {}).get("runtimes", {}).get(handler)


def parse(text, what):
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        fail(f"{what} is not valid TOML: {e}")


def containerd_major():
    try:
        out = subprocess.run(["containerd", "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"\s v?(\d+)\.\d+", out)
    return int(m.group(1)) if m else None


def choose_version(requested, doc, exists):
    if exists:
        found = doc.get("version")
        if found is None or found == 1:
            fail("the file is containerd's version 1 format (no `version = 2`); migrate it first")
        if not isinstance(found, int) or found not in (2, 3, 4):
            fail(f"unsupported config version {found!r} (2 for containerd 1.6/1.7, 3 or 4 for 2.x)")
        if requested != "auto" and int(requested) != min(found, 3):
            fail(f"--version {requested} does not match the file's version {found}")
        return found
    if requested != "auto":
        return int(requested)
    return 3 if (containerd_major() or 1) >= 2 else 2


def runtime_class(handler):
    return f"""apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata:
  name: {handler}
handler: {handler}
overhead:
  podFixed:
    memory: "{POD_OVERHEAD_MEMORY}"
    cpu: "{POD_OVERHEAD_CPU}"
"""


def write_atomically(path, text):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    mode = os.stat(path).st_mode & 0o7777 if os.path.exists(path) else 0o644
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".config.toml.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main():
    p = argparse.ArgumentParser(description="Adds or removes the io.containerd.cc.v2 CRI runtime entry.")
    p.add_argument("--config", default="/etc/containerd/config.toml")
    p.add_argument("--handler", default="cc")
    p.add_argument("--config-path", default="/usr/share/defaults/cc/configuration.toml",
                   help="the shim's configuration.toml, passed as options.ConfigPath")
    p.add_argument("--runtime-path", default="", help="absolute shim path (default: found on containerd's PATH)")
    p.add_argument("--version", default="auto", choices=["auto", "2", "3"])
    p.add_argument("--remove", action="store_true", help="take this script's block for the handler away")
    p.add_argument("--dry-run", action="store_true", help="print the resulting file instead of writing it")
    p.add_argument("--runtime-class", action="store_true", help="print the RuntimeClass manifest and exit")
    a = p.parse_args()

    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", a.handler):
        fail(f"handler {a.handler!r} must be a lowercase RFC 1123 label (Kubernetes RuntimeClass.handler)")
    if a.runtime_class:
        sys.stdout.write(runtime_class(a.handler))
        return
    if not os.path.isabs(a.config_path):
        fail(f"--config-path must be absolute, got {a.config_path}")
    if a.runtime_path and not os.path.isabs(a.runtime_path):
        fail(f"--runtime-path must be absolute, got {a.runtime_path}")

    exists = os.path.exists(a.config)
    original = open(a.config).read() if exists else ""
    base, had_block = without_block(original, a.handler)
    doc = parse(base, a.config)

    if a.remove:
        if not had_block:
            print(f"configure-containerd: {a.config} has no block for handler {a.handler}; nothing to do", file=sys.stderr)
            return
        result = base
    else:
        version = choose_version(a.version, doc, exists and base.strip() != "")
        if handler_table(doc, version, a.handler) is not None:
            fail(f"handler {a.handler} is already defined in {a.config} outside this script's block; "
                 "remove it or choose another --handler")
        head = base if base.strip() else f"version = {version}\n"
        result = head + block(a.handler, version, a.config_path, a.runtime_path)
        entry = handler_table(parse(result, "the merged config"), version, a.handler)
        if not entry or entry.get("runtime_type") != RUNTIME_TYPE or entry.get("options", {}).get("ConfigPath") != a.config_path:
            fail(f"the merged config does not hold the handler {a.handler} as written (a parent table of it is defined "
                 f"inline or with dotted keys in {a.config}?); nothing was changed")
        disabled = doc.get("disabled_plugins", [])
        if CRI_PLUGIN[min(version, 3)] in disabled or "cri" in disabled:
            print(f"configure-containerd: warning: the CRI plugin is disabled in {a.config} (disabled_plugins)",
                  file=sys.stderr)

    if a.dry_run:
        sys.stdout.write(result)
        return
    if result == original:
        print(f"configure-containerd: {a.config} already up to date", file=sys.stderr)
        return
    write_atomically(a.config, result)
    what = "removed from" if a.remove else "written to"
    print(f"configure-containerd: handler {a.handler} {what} {a.config}; restart containerd to apply", file=sys.stderr)


if __name__ == "__main__":
    main()
