using ChatGateway.Storage.State;

namespace ChatGateway.Storage.Tests;

/// <summary>
/// The writer keeps the dedupe claims of a batch that are certain to succeed and writes each block's once, at the
/// end of the batch. These tests drive the claims against a real index in a temporary folder and check every answer
/// a claim gives, before and after the flush.
/// </summary>
public sealed class DedupeClaimRunsTests : IDisposable
{
    private const long Window = 1_000;

    private readonly TempIndex _index = new();
    private readonly DedupeClaimRuns _claims;

    public DedupeClaimRunsTests() => _claims = new DedupeClaimRuns(_index.Session);

    public void Dispose() => _index.Dispose();

    private static ClientMessageId Id(long sender, long n) => new((ulong)sender, (ulong)n);

    private static DedupeEntry EntryOf(long sender, long n, long timestamp = 5_000) => new() { Conversation = sender * 100, Seq = n, Timestamp = timestamp };

    private bool Claim(long sender, long n, out DedupeEntry original, long timestamp = 5_000) =>
        _claims.TryClaim(sender, Id(sender, n), EntryOf(sender, n, timestamp), freshSince: timestamp - Window, out original);

    /// <summary>The entry the index's block holds for the id, if any.</summary>
    private DedupeEntry? InIndex(long sender, long n)
    {
        Span<byte> key = stackalloc byte[StateKey.MaxLength];
        Span<byte> block = stackalloc byte[DedupeBlock.BytesFor(DedupeBlock.Ids)];
        int length = _index.Session.Read(StateKey.Of(key, KeyKind.DedupeBlock, sender, DedupeBlock.BlockOf(Id(sender, n))), block);
        return length > 0 && DedupeBlock.TryFind(block[..length], (ulong)n, out DedupeEntry entry) ? entry : null;
    }

    [Fact]
    public void A_blocks_later_new_ids_are_kept_until_the_flush_and_a_retry_meanwhile_is_answered_from_them()
    {
        for (long n = 64; n < 128; n++) // one block of 64 ids
        {
            Assert.True(Claim(1, n, out _));
        }
        Assert.Equal(63, _claims.Kept); // the first went to the index, to learn what the block holds

        Assert.False(Claim(1, 100, out DedupeEntry original, timestamp: 5_500));
        Assert.Equal(EntryOf(1, 100), original);
        Assert.Equal(EntryOf(1, 64), InIndex(1, 64));

        _claims.Flush();

        Assert.Equal(0, _claims.Kept);
        for (long n = 64; n < 128; n++)
        {
            Assert.Equal(EntryOf(1, n), InIndex(1, n));
        }
    }

    [Fact]
    public void Ids_the_block_already_holds_are_decided_by_the_index_fresh_or_expired()
    {
        Assert.True(Claim(2, 1, out _));
        Assert.True(Claim(2, 2, out _));
        _claims.Flush();

        // The next batch: 3 learns the block holds 1 and 2; a retry of 1 is still fresh, 2 comes back after its window.
        Assert.True(Claim(2, 3, out _, timestamp: 5_900));
        Assert.False(Claim(2, 1, out DedupeEntry original, timestamp: 5_900));
        Assert.Equal(EntryOf(2, 1), original);
        Assert.True(Claim(2, 2, out _, timestamp: 6_500));
        Assert.Equal(0, _claims.Kept);
        Assert.Equal(EntryOf(2, 2, 6_500), InIndex(2, 2));

        Assert.True(Claim(2, 4, out _, timestamp: 6_500));
        Assert.Equal(1, _claims.Kept);
    }

    [Fact]
    public void A_kept_claim_whose_entry_is_no_longer_fresh_is_replaced_as_recovery_replaces_it()
    {
        Assert.True(Claim(3, 1, out _));
        Assert.True(Claim(3, 2, out _)); // kept
        var replayed = new DedupeEntry { Conversation = 7, Seq = 9, Timestamp = 4_000 };
        Assert.True(_claims.TryClaim(3, Id(3, 2), replayed, freshSince: long.MaxValue, out _));
        _claims.Flush();

        Assert.Equal(replayed, InIndex(3, 2));
    }

    [Fact]
    public void Past_the_open_block_and_kept_claim_limits_claims_go_to_the_index_at_once_and_none_is_lost()
    {
        // 300 senders (more blocks than MaxBlocks) of 20 ids each (more claims than MaxClaims), interleaved.
        const int senders = DedupeClaimRuns.MaxBlocks + 44;
        const int ids = 20;
        for (long n = 1; n <= ids; n++)
        {
            for (long sender = 1; sender <= senders; sender++)
            {
                Assert.True(Claim(sender, n, out _));
            }
        }
        // Ids 2 to 17 of the first MaxBlocks senders fill the kept claims; the rest went to the index at once.
        Assert.Equal(DedupeClaimRuns.MaxClaims, _claims.Kept);
        Assert.Null(InIndex(1, 2));
        Assert.Equal(EntryOf(1, ids), InIndex(1, ids));
        Assert.Equal(EntryOf(senders, 2), InIndex(senders, 2));

        _claims.Flush();

        for (long sender = 1; sender <= senders; sender++)
        {
            for (long n = 1; n <= ids; n++)
            {
                Assert.Equal(EntryOf(sender, n), InIndex(sender, n));
            }
        }
    }
}
