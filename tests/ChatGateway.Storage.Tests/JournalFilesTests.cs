using ChatGateway.Storage.Disk;
using System.Buffers;
using System.Buffers.Binary;
using ChatGateway.Storage.Journal;
using FASTER.core;

namespace ChatGateway.Storage.Tests;

/// <summary>
/// The journal's own files on Linux: segments written with O_DIRECT into zeros filled ahead of the tail
/// (<see cref="SegmentDevice"/>), and the commit metadata in two slots (<see cref="CommitMetadataFile"/>).
/// </summary>
public sealed class JournalFilesTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("chatgw-journal-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Records_across_fill_windows_and_a_segment_boundary_read_back_intact_after_reopening()
    {
        Assert.True(DirectFile.IsSupported, "these tests run where the gateway runs: Linux x64/arm64");
        var options = new StoreOptions { Directory = _directory, JournalMemoryBytes = 8 << 20 };
        // 70 MiB of 4 KiB records: past several 8 MiB zero-fill windows and into the second 64 MiB segment,
        // committed every 64 records so fills, commits and page flushes interleave.
        const int Records = 17_920;
        var record = new byte[4000];
        using (var journal = new JournalLog(_directory, options))
        {
            for (int i = 0; i < Records; i++)
            {
                Fill(record, i);
                journal.Append(record);
                if (i % 64 == 63)
                {
                    await journal.CommitAsync();
                }
            }
            await journal.CommitAsync();
            // Each byte of the journal is zero-filled once ahead of it, plus the window past the tail of each
            // segment written to: not the same zeros again and again.
            long written = journal.TailAddress;
            Assert.InRange(journal.ZerosWritten, written, written + 4 * (8L << 20));
        }
        Assert.True(File.Exists(Path.Combine(_directory, "fasterlog.log.1")), "the records reach the second segment");

        using var reopened = new JournalLog(_directory, options);
        Assert.Equal(0, reopened.BytesPastCommit());
        Assert.Equal(Records, ReadAll(reopened, record));
    }

    [Fact]
    public void Commit_metadata_survives_a_torn_newer_slot_by_falling_back_to_the_older_one()
    {
        string path = Path.Combine(_directory, "commit-metadata");
        using (var file = new CommitMetadataFile(path, new NoCommits()))
        {
            Assert.Empty(file.ListCommits());
            file.Commit(0, 100, [1, 2, 3], commitNum: 7, forceWriteMetadata: false);
            file.Commit(0, 200, [4, 5, 6, 7], commitNum: 8, forceWriteMetadata: false);
            Assert.Equal([8L, 7L], file.ListCommits());
            Assert.Equal([4, 5, 6, 7], file.GetCommitMetadata(8));
        }

        // A crash in the middle of writing commit 8 (the second write: slot 1): its bytes are half new, half old.
        using (var stream = new FileStream(path, FileMode.Open))
        {
            stream.Position = 4096 + 25; // inside its metadata bytes
            stream.Write([0xA5, 0xA5]);
        }
        using (var file = new CommitMetadataFile(path, new NoCommits()))
        {
            Assert.Equal([7L], file.ListCommits());
            Assert.Equal([1, 2, 3], file.GetCommitMetadata(7));
            file.Commit(0, 300, [9], commitNum: 9, forceWriteMetadata: false); // into the torn slot: 7 stays
            Assert.Equal([9L, 7L], file.ListCommits());
            file.Commit(0, 400, [1, 1], commitNum: 11, forceWriteMetadata: false); // numbers may skip: 7, the older, goes
            Assert.Equal([11L, 9L], file.ListCommits());
        }
    }

    [Fact]
    public void Commit_metadata_reads_the_older_commit_files_of_a_store_until_it_has_its_own()
    {
        var legacy = new NoCommits { Commits = { [42] = [4, 2] } };
        using var file = new CommitMetadataFile(Path.Combine(_directory, "commit-metadata"), legacy);
        Assert.Equal([42L], file.ListCommits());
        Assert.Equal([4, 2], file.GetCommitMetadata(42));
        file.Commit(0, 10, [1], commitNum: 43, forceWriteMetadata: false);
        Assert.Equal([43L], file.ListCommits());
    }

    [Fact]
    public async Task Bytes_past_the_commit_are_counted_never_replayed_and_later_commits_overwrite_them()
    {
        var options = new StoreOptions { Directory = _directory, JournalMemoryBytes = 4 << 20 };
        var record = new byte[300];
        long committedEnd;
        using (var journal = new JournalLog(_directory, options))
        {
            for (int i = 0; i < 100; i++)
            {
                Fill(record, i);
                journal.Append(record);
            }
            await journal.CommitAsync();
            committedEnd = journal.CommittedUntilAddress;
        }

        // What a run killed mid-write leaves past the commit: bytes that look like records.
        string segment = Path.Combine(_directory, "fasterlog.log.0");
        using (var stream = new FileStream(segment, FileMode.Open))
        {
            stream.Position = committedEnd;
            stream.Write(Enumerable.Repeat((byte)0x5A, 5000).ToArray());
        }

        using (var journal = new JournalLog(_directory, options))
        {
            Assert.Equal(committedEnd, journal.CommittedUntilAddress); // the newest commit, not a scan past it
            Assert.Equal(5000, journal.BytesPastCommit());
            for (int i = 100; i < 110; i++)
            {
                Fill(record, i);
                journal.Append(record);
            }
            await journal.CommitAsync();
        }
        using (var journal = new JournalLog(_directory, options))
        {
            Assert.Equal(110, ReadAll(journal, record));
        }
    }

    /// <summary>Reads every committed record, checking each is the one <see cref="Fill"/> wrote in that place.</summary>
    private static int ReadAll(JournalLog journal, byte[] record)
    {
        int read = 0;
        using FasterLogScanIterator iterator = journal.Scan(journal.BeginAddress, journal.CommittedUntilAddress);
        while (iterator.GetNext(MemoryPool<byte>.Shared, out IMemoryOwner<byte> entry, out int length, out _, out _))
        {
            using (entry)
            {
                Fill(record, read);
                Assert.True(entry.Memory.Span[..length].SequenceEqual(record), $"record {read} differs");
                read++;
            }
        }
        return read;
    }

    private static void Fill(byte[] record, int index)
    {
        BinaryPrimitives.WriteInt32LittleEndian(record, index);
        for (int i = 4; i < record.Length; i++)
        {
            record[i] = (byte)(index * 31 + i);
        }
    }

    /// <summary>FASTER's own commit files, as a store written before <see cref="CommitMetadataFile"/> has them.</summary>
    private sealed class NoCommits : ILogCommitManager
    {
        public Dictionary<long, byte[]> Commits { get; } = [];
        public void Commit(long beginAddress, long untilAddress, byte[] commitMetadata, long commitNum, bool forceWriteMetadata) => Commits[commitNum] = commitMetadata;
        public byte[] GetCommitMetadata(long commitNum) => Commits.GetValueOrDefault(commitNum)!;
        public IEnumerable<long> ListCommits() => Commits.Keys.OrderDescending();
        public void RemoveCommit(long commitNum) => Commits.Remove(commitNum);
        public void RemoveAllCommits() => Commits.Clear();
        public void OnRecovery(long commitNum)
        {
        }

        public void Dispose()
        {
        }
    }
}
