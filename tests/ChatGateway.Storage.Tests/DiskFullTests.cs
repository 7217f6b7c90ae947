using System.Diagnostics;
using ChatGateway.Storage.Reading;
using Microsoft.Extensions.Time.Testing;

namespace ChatGateway.Storage.Tests;

/// <summary>
/// A full disk, for real: the store lives on a 48 MiB tmpfs that a filler file nearly fills. Writes are refused
/// with a clear error before FASTER runs out of room (it would wait forever on a failed index flush),
/// nothing refused was written, and writing resumes by itself once space is freed, with every acknowledged
/// message intact. Mounting needs root, as the rest of the test command does (apt-get).
/// </summary>
[CollectionDefinition(nameof(DiskFullTests), DisableParallelization = true)]
public sealed class DiskFullCollection;

[Collection(nameof(DiskFullTests))] // alone: it measures free space on its own tmpfs while writing flat out
public sealed class DiskFullTests
{
    /// <summary>Every wait is bounded: if FASTER ever got stuck on a full disk, this test must fail, not hang.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public Task A_full_disk_refuses_writes_clearly_and_they_resume_when_space_is_freed() => OnTinyDisk(async mountPoint =>
    {
        StoreOptions options = TightOptions(mountPoint);
        ChatStore store = await ChatStore.OpenAsync(options).WaitAsync(Bound);
        string filler = Path.Combine(mountPoint, "filler");
        byte[] body = new byte[8000];
        long acknowledged = 0;
        StoreDiskFullException? refusal = null;
        // Another tenant of the disk leaves just 2 MiB above what the store needs...
        await FillUntil(filler, () => new DriveInfo(mountPoint).AvailableFreeSpace <= options.RequiredFreeBytes + (2 << 20));
        // ...and the store's own growth takes it below.
        while (refusal is null)
        {
            try
            {
                body[0] = (byte)(acknowledged + 1);
                acknowledged = (await store.AppendMessageAsync(1, 1, default, body, requireMembership: false).AsTask().WaitAsync(Bound)).Seq;
                Assert.True(acknowledged < 5_000, "2 MiB of head room should have gone long ago");
            }
            catch (StoreDiskFullException ex)
            {
                refusal = ex;
            }
        }
        Assert.Contains("nothing was written", refusal.Message);
        Assert.Equal(acknowledged, store.GetConversation(1).Head);

        File.Delete(filler);
        // While writes are refused, free space is read before every batch: the very next write goes through.
        WriteResult resumed = await store.AppendMessageAsync(1, 1, default, "after"u8, requireMembership: false).AsTask().WaitAsync(Bound);
        Assert.Equal(acknowledged + 1, resumed.Seq);

        var page = new MessagePage();
        store.ReadRange(1, 1, (int)acknowledged, page);
        Assert.Equal(Enumerable.Range(1, (int)acknowledged).Select(s => (long)s), page.Messages.Select(m => m.Seq));
        Assert.All(page.Messages, m => Assert.Equal((byte)m.Seq, m.Body.Span[0]));
        await store.DisposeAsync().AsTask().WaitAsync(Bound);
    });

    [Fact]
    public Task Free_space_is_read_every_100_ms_or_eighth_of_the_margin_written_and_before_every_write_while_refusing() => OnTinyDisk(async mountPoint =>
    {
        StoreOptions options = TightOptions(mountPoint); // free space is read at least every 512 KiB of journal
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 12, 0, 0, TimeSpan.Zero));
        ChatStore store = await ChatStore.OpenAsync(options, time: time).WaitAsync(Bound);
        Task<WriteResult> Append(int bytes) => store.AppendMessageAsync(1, 1, default, new byte[bytes], requireMembership: false).AsTask().WaitAsync(Bound);
        await Append(100); // the first batch reads it: plenty
        string filler = Path.Combine(mountPoint, "filler");
        // Another tenant takes the disk 1 MiB below what the store needs (with room left for what the store writes below).
        Func<bool> belowNeeded = () => new DriveInfo(mountPoint).AvailableFreeSpace < options.RequiredFreeBytes - (1 << 20);
        await FillUntil(filler, belowNeeded);

        // Not read again yet: under 100 ms and a few bytes of journal since the last reading.
        Assert.Equal(2, (await Append(100)).Seq);
        // 100 ms later it is, and writes are refused.
        time.Advance(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAsync<StoreDiskFullException>(() => Append(100));

        File.Delete(filler);
        // While refusing it is read before every write: the next one goes through, with no time passing.
        Assert.Equal(3, (await Append(100)).Seq);

        // By journal growth alone: with the clock stopped and the disk taken again, writes go on until an eighth of the
        // margin (512 KiB) has been written since the last reading, and are refused from there.
        await FillUntil(filler, belowNeeded);
        long accepted = 0;
        StoreDiskFullException? refusal = null;
        while (refusal is null)
        {
            try
            {
                await Append(8000);
                accepted++;
            }
            catch (StoreDiskFullException ex)
            {
                refusal = ex;
            }
        }
        // 512 KiB of 8,000-byte bodies is 65 records; the first batch after the reading may hold a few.
        Assert.InRange(accepted, 60, 70);
        await store.DisposeAsync().AsTask().WaitAsync(Bound);
    });

    /// <summary>A 48 MiB tmpfs for the test's store and filler, unmounted afterwards.</summary>
    private static async Task OnTinyDisk(Func<string, Task> test)
    {
        string mountPoint = Directory.CreateTempSubdirectory("chatgw-tinyfs-").FullName;
        Run("mount", $"-t tmpfs -o size=48M tmpfs {mountPoint}");
        try
        {
            await test(mountPoint);
        }
        finally
        {
            Run("umount", $"-l {mountPoint}");
            Directory.Delete(mountPoint);
        }
    }

    /// <summary>Small memory sizes, so that the store needs 4 + 2*4 + 0.06 + 4 = ~16 MiB free.</summary>
    private static StoreOptions TightOptions(string mountPoint) => new()
    {
        Directory = Path.Combine(mountPoint, "store"),
        JournalMemoryBytes = 4 << 20,
        IndexMemoryBytes = 4 << 20,
        IndexHashBytes = 1 << 16,
        MinFreeDiskBytes = 4 << 20,
        RetainMessagesFor = TimeSpan.Zero,
    };

    /// <summary>Writes a filler file, 64 KiB at a time, until <paramref name="done"/>.</summary>
    private static async Task FillUntil(string filler, Func<bool> done)
    {
        await using FileStream fill = File.Create(filler);
        byte[] chunk = new byte[64 * 1024];
        while (!done())
        {
            await fill.WriteAsync(chunk);
            await fill.FlushAsync();
        }
    }

    private static void Run(string command, string arguments)
    {
        using Process process = Process.Start(new ProcessStartInfo(command, arguments) { RedirectStandardError = true })!;
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{command} {arguments} failed ({error.Trim()}); this test needs root to mount a tmpfs");
    }
}
