using Cc.Shim.Cli;
using Cc.Shim.Configuration;
using Cc.Shim.Sandbox;

namespace Cc.Shim.Tests.Templates;

/// <summary>[factory] (docs/templates.md): off by default; the shape `factory init` makes is the one a pod computes.</summary>
public sealed class FactoryConfigurationTests
{
    [Fact]
    public void Templates_are_off_unless_the_configuration_turns_them_on()
    {
        ConfigurationLoader.Parse("[hypervisor]\nmemory_mib = 256\n", "test").Factory.Template.ShouldBeFalse();
        var on = ConfigurationLoader.Parse("[factory]\ntemplate = true\ndirectory = \"/run/t\"\n", "test");
        on.Factory.Template.ShouldBeTrue();
        on.Factory.Directory.ShouldBe("/run/t");
    }

    [Fact]
    public void The_default_shape_boots_with_the_share_mounted_late_and_the_configured_size()
    {
        var configuration = ConfigurationLoader.Parse("[hypervisor]\nmemory_mib = 384\nvcpus = 2\nkernel_params = \"a=b\"\n", "test");
        var shape = FactoryCommand.DefaultShape(configuration);
        shape.MemoryMiB.ShouldBe(384);
        shape.Vcpus.ShouldBe(2);
        shape.Kernel.ExtraParameters.ShouldBe(["a=b", GuestVmConfig.LateShareParameter]);
        GuestVmConfig.Build(configuration, 384, 2, "/r", "/s", forTemplate: false).Kernel.ExtraParameters.ShouldBe(["a=b"]);
    }

    [Fact]
    public void Free_page_reporting_is_on_for_a_cold_boot_by_default_and_never_on_a_template_or_its_clones()
    {
        var defaults = ConfigurationLoader.Parse("", "test");
        GuestVmConfig.Build(defaults, 512, 1, "/r", "/s", forTemplate: false).FreePageReporting.ShouldBeTrue();
        GuestVmConfig.Build(defaults, 512, 1, "/r", "/s", forTemplate: true).FreePageReporting.ShouldBeFalse();
        var off = ConfigurationLoader.Parse("[hypervisor]\nfree_page_reporting = false\n", "test");
        GuestVmConfig.Build(off, 512, 1, "/r", "/s", forTemplate: false).FreePageReporting.ShouldBeFalse();
    }

    [Fact]
    public void Cold_boots_and_templates_take_the_hypervisor_TCG_cache_size_and_clones_the_factory_one()
    {
        var defaults = ConfigurationLoader.Parse("", "test");
        // 64 MiB by default for a cold boot and a template's boot: 32 made execs 1.6× slower (docs/performance.md).
        GuestVmConfig.Build(defaults, 512, 1, "/r", "/s", forTemplate: false).TcgTranslationCacheMiB.ShouldBe(64);
        var template = GuestVmConfig.Build(defaults, 512, 1, "/r", "/s", forTemplate: true);
        template.TcgTranslationCacheMiB.ShouldBe(64);
        GuestVmConfig.ForClone(template, defaults).TcgTranslationCacheMiB.ShouldBe(defaults.Factory.CloneTcgTbSizeMib);

        var configured = ConfigurationLoader.Parse("[hypervisor]\ntcg_tb_size_mib = 128\n[factory]\nclone_tcg_tb_size_mib = 8\n", "test");
        GuestVmConfig.Build(configured, 512, 1, "/r", "/s", forTemplate: false).TcgTranslationCacheMiB.ShouldBe(128);
        var shape = GuestVmConfig.Build(configured, 512, 1, "/r", "/s", forTemplate: true);
        shape.TcgTranslationCacheMiB.ShouldBe(128);
        var clone = GuestVmConfig.ForClone(shape, configured);
        clone.TcgTranslationCacheMiB.ShouldBe(8);
        // Nothing else differs: the clone's shape is its template's.
        (clone with { TcgTranslationCacheMiB = 128 }).ShouldBe(shape);
    }

    [Fact]
    public async Task Factory_without_a_known_subcommand_prints_its_usage()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        (await FactoryCommand.RunAsync(["frobnicate"], stdout, stderr)).ShouldBe(2);
        (await FactoryCommand.RunAsync([], stdout, stderr)).ShouldBe(2);
        stderr.ToString().ShouldContain(FactoryCommand.Usage);
    }
}
