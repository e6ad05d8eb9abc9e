using System.Runtime.InteropServices;

namespace Cc.Agent.Native;

// The guest's entropy pool (GuestSystem.AddEntropy): linux/random.h.
internal static unsafe partial class LibC
{
    // _IOW('R', 0x03, int[2]): adds struct rand_pool_info's bytes to the pool and credits entropy_count bits. Root only.
    public const ulong RNDADDENTROPY = 0x40085203;

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static partial int ioctl(int fd, ulong request, byte* argument);
}
