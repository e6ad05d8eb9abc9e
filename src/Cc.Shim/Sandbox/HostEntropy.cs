namespace Cc.Shim.Sandbox;

/// <summary>
/// Random bytes for the guest's entropy pool (CreateSandbox's <c>entropy</c>), read from the host kernel's
/// <c>/dev/urandom</c>. Not <c>RandomNumberGenerator</c>: on Linux .NET implements it with OpenSSL's RAND_bytes, and
/// that first call loaded libcrypto and libssl into every shim daemon, with OpenSSL's own allocations, for 64 bytes per
/// pod: 0.6 MB of the daemon's PSS (docs/performance.md "Where the shim's memory goes"). <c>/dev/urandom</c> is the
/// kernel CSPRNG OpenSSL seeds itself from; once the host has booted it never blocks.
/// </summary>
internal static class HostEntropy
{
    private const string Source = "/dev/urandom";

    public static byte[] Read(int count)
    {
        var bytes = new byte[count];
        // bufferSize 0: no FileStream buffer; the one read(2) asks for exactly these bytes.
        using var source = new FileStream(Source, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
        source.ReadExactly(bytes);
        return bytes;
    }
}
