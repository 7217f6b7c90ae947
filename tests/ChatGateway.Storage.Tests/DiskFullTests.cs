using System.Diagnostics;
using ChatGateway.Storage.Reading;

namespace ChatGateway.Storage.Tests;

/// <summary>
/// A full disk, for real: the store lives on a 16 MiB tmpfs. Appends fail with a clear error once the
/// journal cannot commit, nothing that failed was acknowledged, and after space is freed the store reopens
/// with every acknowledged message. Mounting needs root, as the rest of the test command does (apt-get).
/// </summary>
public sealed class DiskFullTests
{
    [Fact]
    public async Task A_full_disk_fails_writes_clearly_and_loses_nothing_acknowledged()
    {
        string mountPoint = Directory.CreateTempSubdirectory("chatgw-tinyfs-").FullName;
        Run("mount", $"-t tmpfs -o size=16M tmpfs {mountPoint}");
        try
        {
            string filler = Path.Combine(mountPoint, "filler");
            await File.WriteAllBytesAsync(filler, new byte[4 << 20]); // freed later, to let recovery write again
            var options = new StoreOptions
            {
                Directory = Path.Combine(mountPoint, "store"),
                JournalMemoryBytes = 2 << 20,
                IndexMemoryBytes = 4 << 20,
                IndexHashBytes = 1 << 16,
                RetainMessagesFor = TimeSpan.Zero,
            };
            byte[] body = new byte[8000];
            long acknowledged = 0;
            Exception? failure = null;
            await using (ChatStore store = await ChatStore.OpenAsync(options))
            {
                while (failure is null)
                {
                    try
                    {
                        body[0] = (byte)(acknowledged + 1);
                        WriteResult result = await store.AppendMessageAsync(1, 1, default, body, requireMembership: false);
                        Assert.Equal(acknowledged + 1, result.Seq);
                        acknowledged = result.Seq;
                        Assert.True(acknowledged < 10_000, "16 MiB should have filled long ago");
                    }
                    catch (StoreException ex)
                    {
                        failure = ex;
                    }
                }
                Assert.IsType<StoreFaultedException>(failure);
                Assert.Contains("I/O failure", failure.Message);
                // Later writes fail at once, with the same clear error; reads still work.
                await Assert.ThrowsAsync<StoreFaultedException>(async () => await store.AppendMessageAsync(1, 1, default, body, requireMembership: false));
                Assert.Equal(acknowledged, store.GetConversation(1).Head);
            }

            File.Delete(filler);
            await using ChatStore reopened = await ChatStore.OpenAsync(options);
            ConversationInfo info = reopened.GetConversation(1);
            Assert.InRange(info.Head, acknowledged, acknowledged + 1); // the failed append was never acknowledged; it may or may not have reached the disk
            var page = new MessagePage();
            reopened.ReadRange(1, 1, (int)acknowledged, page);
            Assert.Equal(Enumerable.Range(1, (int)acknowledged).Select(s => (long)s), page.Messages.Select(m => m.Seq));
            Assert.All(page.Messages, m => Assert.Equal((byte)m.Seq, m.Body.Span[0]));
        }
        finally
        {
            Run("umount", mountPoint);
            Directory.Delete(mountPoint);
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
