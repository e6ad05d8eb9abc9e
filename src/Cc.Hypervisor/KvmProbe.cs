using System.Runtime.InteropServices;

namespace Cc.Hypervisor;

/// <summary>
/// Whether a KVM device can actually run a guest, found by running one: a VM with one 16 KiB memory slot, one vCPU in
/// real mode at the slot's start, whose first instruction is HLT; usable means KVM_RUN returns with KVM_EXIT_HLT.
/// Opening /dev/kvm, or even creating a VM, is not enough: a nested or sandboxed /dev/kvm can do both and then stop
/// every guest with an emulation failure (QEMU then reports "KVM internal error" or hangs in firmware).
/// ioctl numbers and struct layouts are linux/kvm.h's for x86_64.
/// </summary>
public static partial class KvmProbe
{
    public const string DefaultDevice = "/dev/kvm";

    private const int KvmApiVersion = 12;
    private const ulong KVM_GET_API_VERSION = 0xAE00;
    private const ulong KVM_CREATE_VM = 0xAE01;
    private const ulong KVM_GET_VCPU_MMAP_SIZE = 0xAE04;
    private const ulong KVM_CREATE_VCPU = 0xAE41;
    // _IOW(KVMIO, 0x46, struct kvm_userspace_memory_region): 32 bytes.
    private const ulong KVM_SET_USER_MEMORY_REGION = 0x4020AE46;
    private const ulong KVM_RUN = 0xAE80;
    // _IOR/_IOW(KVMIO, 0x81/0x82, struct kvm_regs): 18 u64 = 0x90 bytes.
    private const ulong KVM_GET_REGS = 0x8090AE81;
    private const ulong KVM_SET_REGS = 0x4090AE82;
    // _IOR/_IOW(KVMIO, 0x83/0x84, struct kvm_sregs): 0x138 bytes.
    private const ulong KVM_GET_SREGS = 0x8138AE83;
    private const ulong KVM_SET_SREGS = 0x4138AE84;

    private const int KVM_EXIT_HLT = 5;
    // struct kvm_run: u8 request_interrupt_window, u8 immediate_exit, u8 padding[6], then u32 exit_reason.
    private const int ExitReasonOffset = 8;
    // struct kvm_regs: rax … r15 (16 u64), then rip, rflags.
    private const int RipOffset = 16 * 8;
    private const int RflagsOffset = 17 * 8;
    // struct kvm_sregs starts with struct kvm_segment cs: u64 base, u32 limit, u16 selector, …
    private const int CsBaseOffset = 0;
    private const int CsSelectorOffset = 12;

    private const ulong GuestMemorySize = 0x4000;
    private const ulong CodeAddress = 0x1000;
    private const byte Hlt = 0xF4;

    private const int PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1, MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20;
    private const int O_RDWR = 2, O_CLOEXEC = 0x80000;

    /// <summary>The probe's answer: usable, or why not (for `containerd-shim-cc-v2 check`).</summary>
    public sealed record Result(bool Usable, string Detail);

    /// <summary>
    /// Runs the probe on <paramref name="device"/>, bounded by <paramref name="timeout"/>: a KVM_RUN that never returns
    /// (a vCPU that spins instead of halting) counts as unusable; its thread is a background thread, left blocked.
    /// </summary>
    public static Result Probe(string device, TimeSpan timeout)
    {
        if (!File.Exists(device))
        {
            return new Result(false, $"{device} does not exist");
        }
        Result? result = null;
        var thread = new Thread(() => result = Run(device)) { IsBackground = true, Name = "kvm-probe" };
        thread.Start();
        return thread.Join(timeout) && result is not null
            ? result
            : new Result(false, $"{device}: a guest's first HLT did not return from KVM_RUN within {timeout.TotalSeconds:0} s");
    }

    private static unsafe Result Run(string device)
    {
        int kvm = open(device, O_RDWR | O_CLOEXEC);
        if (kvm < 0)
        {
            return new Result(false, $"{device} does not open read/write: {Error()}");
        }
        int vm = -1, vcpu = -1;
        nint memory = -1, run = -1;
        long runSize = 0;
        try
        {
            int api = ioctl(kvm, KVM_GET_API_VERSION, 0);
            if (api != KvmApiVersion)
            {
                return new Result(false, api < 0
                    ? $"{device} is not a KVM device (KVM_GET_API_VERSION: {Error()})"
                    : $"{device} speaks KVM API {api}, not {KvmApiVersion}");
            }
            vm = ioctl(kvm, KVM_CREATE_VM, 0);
            if (vm < 0)
            {
                return new Result(false, $"{device} cannot create a VM (KVM_CREATE_VM: {Error()})");
            }
            memory = mmap(0, (nuint)GuestMemorySize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (memory == -1)
            {
                return new Result(false, $"mmap of the probe's guest memory failed: {Error()}");
            }
            ((byte*)memory)[CodeAddress] = Hlt;
            // struct kvm_userspace_memory_region: u32 slot, u32 flags, u64 guest_phys_addr, u64 memory_size, u64 userspace_addr.
            byte* region = stackalloc byte[32];
            new Span<byte>(region, 32).Clear();
            *(ulong*)(region + 16) = GuestMemorySize;
            *(ulong*)(region + 24) = (ulong)memory;
            if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, (nint)region) < 0)
            {
                return new Result(false, $"{device} refuses guest memory (KVM_SET_USER_MEMORY_REGION: {Error()})");
            }
            vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
            if (vcpu < 0)
            {
                return new Result(false, $"{device} cannot create a vCPU (KVM_CREATE_VCPU: {Error()})");
            }
            runSize = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
            run = runSize > 0 ? mmap(0, (nuint)runSize, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0) : -1;
            if (run == -1)
            {
                return new Result(false, $"{device}: the vCPU's run area does not map: {Error()}");
            }

            byte* sregs = stackalloc byte[0x138];
            byte* regs = stackalloc byte[0x90];
            if (ioctl(vcpu, KVM_GET_SREGS, (nint)sregs) < 0 || ioctl(vcpu, KVM_GET_REGS, (nint)regs) < 0)
            {
                return new Result(false, $"{device}: the vCPU's registers do not read: {Error()}");
            }
            // Real mode, CS = 0, IP at the HLT.
            *(ulong*)(sregs + CsBaseOffset) = 0;
            *(ushort*)(sregs + CsSelectorOffset) = 0;
            *(ulong*)(regs + RipOffset) = CodeAddress;
            *(ulong*)(regs + RflagsOffset) = 2; // bit 1 is reserved and must be set
            if (ioctl(vcpu, KVM_SET_SREGS, (nint)sregs) < 0 || ioctl(vcpu, KVM_SET_REGS, (nint)regs) < 0)
            {
                return new Result(false, $"{device}: the vCPU's registers do not write: {Error()}");
            }
            if (ioctl(vcpu, KVM_RUN, 0) < 0)
            {
                return new Result(false, $"{device} created a VM but cannot run it (KVM_RUN: {Error()})");
            }
            uint exit = *(uint*)((byte*)run + ExitReasonOffset);
            return exit == KVM_EXIT_HLT
                ? new Result(true, $"{device} runs a guest (a test vCPU halted as expected)")
                : new Result(false, $"{device} created a VM but its guest stopped with KVM exit reason {exit} instead of HLT ({ExitName(exit)})");
        }
        finally
        {
            if (run != -1)
            {
                munmap(run, (nuint)runSize);
            }
            if (memory != -1)
            {
                munmap(memory, (nuint)GuestMemorySize);
            }
            foreach (int fd in new[] { vcpu, vm, kvm })
            {
                if (fd >= 0)
                {
                    close(fd);
                }
            }
        }
    }

    private static string ExitName(uint exit) => exit switch
    {
        0 => "unknown",
        1 => "exception",
        8 => "shutdown",
        9 => "fail entry",
        17 => "internal error: emulation failure",
        _ => "see linux/kvm.h KVM_EXIT_*",
    };

    private static string Error() => Marshal.GetLastPInvokeErrorMessage();

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int ioctl(int fd, ulong request, nint argument);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint mmap(nint address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int munmap(nint address, nuint length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
