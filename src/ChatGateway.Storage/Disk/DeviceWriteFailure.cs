using FASTER.core;

namespace ChatGateway.Storage.Disk;

/// <summary>
/// Turns a failed device write into an error. FASTER 2.6.5 never completes a commit or a checkpoint whose page
/// write failed, so whatever waits for one races it against the device's first failed write
/// (<see cref="SegmentDevice.WriteFailure"/>).
/// </summary>
internal static class DeviceWriteFailure
{
    private static readonly Task<IOException> Never = new TaskCompletionSource<IOException>().Task;

    /// <summary>The first failed write of <paramref name="device"/>; never completes for FASTER's own devices.</summary>
    public static Task<IOException> Of(IDevice device) => (device as SegmentDevice)?.WriteFailure ?? Never;

    /// <summary>
    /// Waits for <paramref name="pending"/>, or throws <see cref="StoreException"/>(<paramref name="message"/>) once
    /// <paramref name="failure"/> completes first.
    /// </summary>
    public static async Task WhenWrittenAsync(Task pending, Task<IOException> failure, string message)
    {
        if (await Task.WhenAny(pending, failure).ConfigureAwait(false) != pending)
        {
            throw new StoreException(message, await failure.ConfigureAwait(false));
        }
        await pending.ConfigureAwait(false);
    }
}
