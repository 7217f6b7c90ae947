using FASTER.core;

namespace ChatGateway.Storage.Disk;

/// <summary>
/// Turns a failed device write into an error that says what failed. FASTER 2.6.5 either never completes a commit
/// or a checkpoint whose page write failed, or fails it with an error of its own that does not name the write; so
/// whatever waits for one races it against the device's first failed write (<see cref="SegmentDevice.WriteFailure"/>).
/// </summary>
internal static class DeviceWriteFailure
{
    private static readonly Task<IOException> Never = new TaskCompletionSource<IOException>().Task;

    /// <summary>The first failed write of <paramref name="device"/>; never completes for FASTER's own devices.</summary>
    public static Task<IOException> Of(IDevice device) => (device as SegmentDevice)?.WriteFailure ?? Never;

    /// <summary>
    /// Waits for <paramref name="pending"/>. Unless it succeeds, a failed device write is what is reported:
    /// <see cref="StoreException"/>(<paramref name="message"/>) with the write's error inside.
    /// </summary>
    public static async Task WhenWrittenAsync(Task pending, Task<IOException> failure, string message)
    {
        await Task.WhenAny(pending, failure).ConfigureAwait(false);
        if (pending.IsCompletedSuccessfully)
        {
            return;
        }
        // The device sets its failure before it reports the write to FASTER, so a commit that FASTER failed because
        // of it finds it set here; in 1 run of ~60 FASTER's own error won the race and the errno was lost.
        if (failure.IsCompleted)
        {
            throw new StoreException(message, await failure.ConfigureAwait(false));
        }
        await pending.ConfigureAwait(false);
    }
}
