using System.Text.Json;
using Cc.Integration.Containerd.Harness;

namespace Cc.Integration.Containerd.Install;

/// <summary>
/// deploy/: the node installer DaemonSet, its cleanup and the RuntimeClass, parsed as Kubernetes would read them
/// (PyYAML, then JSON: no cluster and no kubectl here) and checked for what a node needs: the same install script as
/// `make install` under DESTDIR=/host with the host paths it writes mounted, the privileges node-install.sh uses, the
/// uninstall on delete, and a RuntimeClass equal to the one `hack/configure-containerd.py --runtime-class` prints.
/// </summary>
[Trait("Category", "Install")]
public sealed class DeployManifestTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

    // The Debian interpreter: python3-yaml is a Debian package (hack/install-deps.sh), another python3 on PATH may lack it.
    private const string Python = "/usr/bin/python3";

    /// <summary>Every document of the file, as JSON.</summary>
    private static async Task<List<JsonElement>> DocumentsAsync(string file)
    {
        var result = await ProcessRunner.RunAsync(Python,
            ["-c", "import json, sys, yaml; print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d]))",
                Path.Combine(RepoPaths.Root, "deploy", file)],
            s_timeout, CancellationToken.None);
        result.ExitCode.ShouldBe(0, result.Describe());
        return JsonDocument.Parse(result.Stdout).RootElement.EnumerateArray().ToList();
    }

    private static JsonElement Single(List<JsonElement> documents, string kind) =>
        documents.Single(d => d.GetProperty("kind").GetString() == kind);

    private static string Text(JsonElement element, params string[] path) =>
        path.Aggregate(element, (e, p) => e.GetProperty(p)).ToString();

    [Fact]
    public async Task The_installer_daemonset_runs_the_install_script_privileged_with_the_host_paths_it_writes()
    {
        var documents = await DocumentsAsync("cc-deploy.yaml");
        documents.Select(d => $"{d.GetProperty("apiVersion")}/{d.GetProperty("kind")}").ShouldBe(
            ["v1/ServiceAccount", "rbac.authorization.k8s.io/v1/ClusterRole", "rbac.authorization.k8s.io/v1/ClusterRoleBinding", "apps/v1/DaemonSet"]);
        var daemonSet = Single(documents, "DaemonSet");
        var pod = daemonSet.GetProperty("spec").GetProperty("template").GetProperty("spec");
        var container = pod.GetProperty("containers").EnumerateArray().Single();

        Text(daemonSet, "spec", "selector", "matchLabels", "app.kubernetes.io/name")
            .ShouldBe(Text(daemonSet, "spec", "template", "metadata", "labels", "app.kubernetes.io/name"));
        pod.GetProperty("hostPID").GetBoolean().ShouldBeTrue();
        Text(pod, "serviceAccountName").ShouldBe(Text(Single(documents, "ServiceAccount"), "metadata", "name"));
        container.GetProperty("securityContext").GetProperty("privileged").GetBoolean().ShouldBeTrue();
        container.GetProperty("args").EnumerateArray().Select(a => a.GetString()).ShouldBe(["install"]);
        container.GetProperty("lifecycle").GetProperty("preStop").GetProperty("exec").GetProperty("command")
            .EnumerateArray().Select(a => a.GetString()).ShouldBe(["/opt/cc/deploy/node-install.sh", "uninstall"]);
        container.GetProperty("env").EnumerateArray().Select(e => Text(e, "name")).ShouldContain("NODE_NAME");

        // Each host path the install writes (hack/install.sh defaults under DESTDIR=/host) is a mounted hostPath.
        var volumes = pod.GetProperty("volumes").EnumerateArray()
            .ToDictionary(v => Text(v, "name"), v => Text(v, "hostPath", "path"));
        var mounts = container.GetProperty("volumeMounts").EnumerateArray()
            .ToDictionary(m => Text(m, "mountPath"), m => volumes[Text(m, "name")]);
        foreach (var written in new[] { "/usr/local/bin", "/usr/share/cc/guest", "/usr/share/defaults/cc", "/etc/containerd" })
        {
            mounts.ShouldContain(m => m.Key == "/host" + m.Value
                && (written == m.Value || written.StartsWith(m.Value + "/", StringComparison.Ordinal)),
                $"nothing mounts the node's {written} at /host{written}");
        }

        var rules = Single(documents, "ClusterRole").GetProperty("rules").EnumerateArray().Single();
        rules.GetProperty("resources").EnumerateArray().Select(r => r.GetString()).ShouldBe(["nodes"]);
        rules.GetProperty("verbs").EnumerateArray().Select(r => r.GetString()).ShouldContain("patch");
    }

    [Fact]
    public async Task The_cleanup_daemonset_runs_the_cleanup_with_the_same_image_and_mounts()
    {
        var deploy = Single(await DocumentsAsync("cc-deploy.yaml"), "DaemonSet").GetProperty("spec").GetProperty("template").GetProperty("spec");
        var cleanup = Single(await DocumentsAsync("cc-cleanup.yaml"), "DaemonSet").GetProperty("spec").GetProperty("template").GetProperty("spec");
        var deployContainer = deploy.GetProperty("containers")[0];
        var cleanupContainer = cleanup.GetProperty("containers")[0];

        cleanupContainer.GetProperty("args").EnumerateArray().Select(a => a.GetString()).ShouldBe(["cleanup"]);
        Text(cleanupContainer, "image").ShouldBe(Text(deployContainer, "image"));
        cleanupContainer.GetProperty("volumeMounts").ToString().ShouldBe(deployContainer.GetProperty("volumeMounts").ToString());
        cleanup.GetProperty("volumes").ToString().ShouldBe(deploy.GetProperty("volumes").ToString());
        cleanup.GetProperty("hostPID").GetBoolean().ShouldBeTrue();
    }

    [Fact]
    public async Task The_runtime_class_is_the_one_the_install_prints_scheduled_onto_labelled_nodes()
    {
        var printed = await ProcessRunner.RunAsync(Python, [RepoPaths.Hack("configure-containerd.py"), "--runtime-class"],
            s_timeout, CancellationToken.None);
        printed.ExitCode.ShouldBe(0, printed.Describe());
        var file = Path.Combine(RepoPaths.Root, "deploy", "runtimeclass.yaml");
        var runtimeClass = Single(await DocumentsAsync("runtimeclass.yaml"), "RuntimeClass");

        File.ReadAllText(file).ShouldContain(printed.Stdout);
        Text(runtimeClass, "apiVersion").ShouldBe("node.k8s.io/v1");
        Text(runtimeClass, "handler").ShouldBe("cc");
        Text(runtimeClass, "overhead", "podFixed", "memory").ShouldBe("320Mi");
        // The label node-install.sh sets is the one the class schedules onto.
        Text(runtimeClass, "scheduling", "nodeSelector", "cc.io/runtime").ShouldBe("true");
        File.ReadAllText(Path.Combine(RepoPaths.Root, "deploy", "node-install.sh")).ShouldContain("label=cc.io/runtime");
    }

    [Fact]
    public async Task The_node_script_is_valid_bash_and_refuses_an_unknown_step()
    {
        var script = Path.Combine(RepoPaths.Root, "deploy", "node-install.sh");
        (await ProcessRunner.RunAsync("bash", ["-n", script], s_timeout, CancellationToken.None)).ExitCode.ShouldBe(0);

        var unknown = await ProcessRunner.RunAsync("bash", [script, "reinstall"], s_timeout, CancellationToken.None);

        unknown.ExitCode.ShouldBe(2);
        unknown.Stderr.ShouldContain("usage:");
    }
}
