namespace Cc.Integration.Containerd.Contract;

public abstract partial class RuntimeContract
{
    [Theory]
    [InlineData("1.6")]
    [InlineData("1.7")]
    public async Task Bind_mounts_of_host_directories_and_files_reach_the_container_read_only_when_asked(string containerd)
    {
        await using var s = await BeginAsync(containerd);
        var id = s.NewId("bind");
        var host = Directory.CreateTempSubdirectory("cc-bind-").FullName;
        try
        {
            var data = Path.Combine(host, "data");
            Directory.CreateDirectory(data);
            await File.WriteAllTextAsync(Path.Combine(data, "greeting"), "hello from the host\n");
            var single = Path.Combine(host, "single-file");
            await File.WriteAllTextAsync(single, "one file\n");
            var scratch = Path.Combine(host, "scratch");
            Directory.CreateDirectory(scratch);

            // Reads both binds, proves the read-only one refuses a write, and writes through the writable one.
            var script = "cat /data/greeting /one; if touch /data/x 2>/dev/null; then echo ro-broken; else echo ro-held; fi; " +
                         "echo written > /scratch/out; echo done";
            var result = await s.CtrAsync([
                "run", "--rm",
                "--mount", $"type=bind,src={data},dst=/data,options=rbind:ro",
                "--mount", $"type=bind,src={single},dst=/one,options=bind:ro",
                "--mount", $"type=bind,src={scratch},dst=/scratch,options=rbind:rw",
                .. s.Runtime.RunOptions, s.Image, id, "sh", "-c", AfterCtrAttached(script)]);

            s.ShouldSucceed(result);
            result.Stdout.ShouldBe("hello from the host\none file\nro-held\ndone\n", s.Because(result));
            (await File.ReadAllTextAsync(Path.Combine(scratch, "out"))).ShouldBe("written\n", "the write reached the host directory");
            File.Exists(Path.Combine(data, "x")).ShouldBeFalse();
            await s.ShouldLeaveNothingAsync(id);
            // Clean-up unmounted the shares before removing anything: the host's files are all still there.
            (await File.ReadAllTextAsync(Path.Combine(data, "greeting"))).ShouldBe("hello from the host\n");
            (await File.ReadAllTextAsync(single)).ShouldBe("one file\n");
        }
        finally
        {
            Directory.Delete(host, recursive: true);
        }
    }
}
