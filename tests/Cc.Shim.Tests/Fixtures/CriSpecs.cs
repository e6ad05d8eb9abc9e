namespace Cc.Shim.Tests.Fixtures;

/// <summary>
/// config.json documents in the shapes containerd's CRI writes (v1.7 <c>pkg/cri/server/sandbox_run_linux.go</c>
/// sandboxContainerSpec and <c>container_create_linux.go</c>; v1.6 is the same apart from the ociVersion), trimmed of
/// the members the shim does not read (capabilities, seccomp, masked paths) but keeping their places and types.
/// </summary>
public static class CriSpecs
{
    public const string PodSandboxId = "6f1c0a4d2b9e8f7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b";

    /// <summary>The pause container of pod default/web (CNI netns set, sysctls, kubelet's resources).</summary>
    public const string Sandbox17 = """
        {"ociVersion":"1.1.0-rc.1",
         "process":{"user":{"uid":65535,"gid":65535},"args":["/pause"],"env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
           "cwd":"/","noNewPrivileges":true,"oomScoreAdj":-998},
         "root":{"path":"rootfs","readonly":true},
         "hostname":"web-0",
         "mounts":[
           {"destination":"/proc","type":"proc","source":"proc","options":["nosuid","noexec","nodev"]},
           {"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]},
           {"destination":"/dev/shm","type":"bind","source":"/run/containerd/io.containerd.grpc.v1.cri/sandboxes/6f1c0a4d2b9e8f7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b/shm","options":["rbind","ro","nosuid","nodev","noexec"]},
           {"destination":"/etc/resolv.conf","type":"bind","source":"/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/6f1c0a4d2b9e8f7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b/resolv.conf","options":["rbind","ro","nosuid","nodev","noexec"]}
         ],
         "annotations":{
           "io.kubernetes.cri.container-type":"sandbox",
           "io.kubernetes.cri.sandbox-cpu-period":"100000",
           "io.kubernetes.cri.sandbox-cpu-quota":"250000",
           "io.kubernetes.cri.sandbox-cpu-shares":"2560",
           "io.kubernetes.cri.sandbox-id":"6f1c0a4d2b9e8f7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b",
           "io.kubernetes.cri.sandbox-log-directory":"/var/log/pods/default_web-0_0d6b2c3e-8f8a-4c1e-9b7d-2a5e1f3c4d6b",
           "io.kubernetes.cri.sandbox-memory":"805306368",
           "io.kubernetes.cri.sandbox-name":"web-0",
           "io.kubernetes.cri.sandbox-namespace":"default",
           "io.kubernetes.cri.sandbox-uid":"0d6b2c3e-8f8a-4c1e-9b7d-2a5e1f3c4d6b"},
         "linux":{
           "sysctl":{"net.ipv4.ip_unprivileged_port_start":"0","net.ipv4.ping_group_range":"0 2147483647","kernel.shm_rmid_forced":"1"},
           "resources":{"devices":[{"allow":false,"access":"rwm"}],"cpu":{"shares":2}},
           "cgroupsPath":"/kubepods/besteffort/pod0d6b2c3e-8f8a-4c1e-9b7d-2a5e1f3c4d6b/6f1c0a4d2b9e8f7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b",
           "namespaces":[{"type":"pid"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},
             {"type":"network","path":"/var/run/netns/cni-1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901"}],
           "maskedPaths":["/proc/acpi"],"readonlyPaths":["/proc/bus"]}}
        """;

    /// <summary>An app container of that pod, as containerd 1.7 writes it: namespace paths name the sandbox's host pid.</summary>
    public const string App17 = """
        {"ociVersion":"1.1.0-rc.1",
         "process":{"user":{"uid":0,"gid":0},"args":["sh","-c","sleep 3600"],"env":["PATH=/bin"],"cwd":"/"},
         "root":{"path":"rootfs"},
         "mounts":[
           {"destination":"/proc","type":"proc","source":"proc","options":["nosuid","noexec","nodev"]},
           {"destination":"/etc/hosts","type":"bind","source":"/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/6f1c0a4d2b9e8f7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b/hosts","options":["rbind","rprivate","rw"]},
           {"destination":"/etc/hostname","type":"bind","source":"/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/6f1c0a4d2b9e8f7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b/hostname","options":["rbind","rprivate","rw"]},
           {"destination":"/etc/resolv.conf","type":"bind","source":"/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/6f1c0a4d2b9e8f7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b/resolv.conf","options":["rbind","rprivate","rw"]},
           {"destination":"/dev/shm","type":"bind","source":"/run/containerd/io.containerd.grpc.v1.cri/sandboxes/6f1c0a4d2b9e8f7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b/shm","options":["rbind","rprivate","rw"]}
         ],
         "annotations":{
           "io.kubernetes.cri.container-name":"app",
           "io.kubernetes.cri.container-type":"container",
           "io.kubernetes.cri.image-name":"docker.io/library/busybox:latest",
           "io.kubernetes.cri.sandbox-id":"6f1c0a4d2b9e8f7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b",
           "io.kubernetes.cri.sandbox-name":"web-0",
           "io.kubernetes.cri.sandbox-namespace":"default",
           "io.kubernetes.cri.sandbox-uid":"0d6b2c3e-8f8a-4c1e-9b7d-2a5e1f3c4d6b"},
         "linux":{
           "cgroupsPath":"/kubepods/besteffort/pod0d6b2c3e-8f8a-4c1e-9b7d-2a5e1f3c4d6b/9a8b7c6d",
           "namespaces":[{"type":"pid"},{"type":"ipc","path":"/proc/4242/ns/ipc"},{"type":"uts","path":"/proc/4242/ns/uts"},
             {"type":"mount"},{"type":"network","path":"/proc/4242/ns/net"}]}}
        """;

    /// <summary>A hostNetwork pod's pause container: containerd removes the network (and UTS) entries.</summary>
    public const string HostNetworkSandbox = """
        {"ociVersion":"1.0.2-dev","process":{"args":["/pause"],"cwd":"/"},"root":{"path":"rootfs","readonly":true},
         "hostname":"node-1",
         "annotations":{"io.kubernetes.cri.container-type":"sandbox","io.kubernetes.cri.sandbox-id":"hn",
           "io.kubernetes.cri.sandbox-name":"hn","io.kubernetes.cri.sandbox-namespace":"kube-system","io.kubernetes.cri.sandbox-uid":"u"},
         "linux":{"namespaces":[{"type":"pid"},{"type":"ipc"},{"type":"mount"}]}}
        """;

    /// <summary><c>ctr run</c> with no options (containerd's default spec: every namespace fresh, no hostname).</summary>
    public const string CtrRun = """
        {"ociVersion":"1.1.0","process":{"args":["sh"],"cwd":"/"},"root":{"path":"rootfs"},
         "linux":{"namespaces":[{"type":"pid"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},{"type":"network"}]}}
        """;
}
