using ChatGateway.Storage.State;

namespace ChatGateway.Storage.Tests;

/// <summary>
/// The key hash decides where FASTER puts every index key (bucket: low bits; tag: bits 48–61). Its values are
/// part of the on-disk format, so they are pinned; the format-3 layout (neighbours share buckets) is checked
/// against a table of 2^20 buckets, the size of the default 64 MiB index.
/// </summary>
public sealed class StateKeyComparerTests
{
    private const long BucketMask = (1L << 20) - 1;

    private static int Tag(long hash) => (int)((ulong)hash >> 48) & 0x3FFF;

    private static long MessageHash(long conversation, long seq)
    {
        Span<byte> key = stackalloc byte[StateKey.MaxLength];
        return StateKeyComparer.PositionalHash(StateKey.Of(key, KeyKind.Message, conversation, seq));
    }

    private static long DedupeHash(long sender, ClientMessageId id)
    {
        Span<byte> key = stackalloc byte[StateKey.MaxLength];
        return StateKeyComparer.PositionalHash(StateKey.Of(key, KeyKind.Dedupe, sender, id));
    }

    [Fact]
    public void Hash_values_are_pinned_because_checkpointed_indexes_are_laid_out_by_them()
    {
        Span<byte> key = stackalloc byte[StateKey.MaxLength];
        Assert.Equal(0x67a2c83711618a71, StateKeyComparer.UniformHash(StateKey.Of(key, KeyKind.Message, 123456789, 42)));
        Assert.Equal(unchecked((long)0xf6add550e5d0b8cb), MessageHash(123456789, 42));
        Assert.Equal(0x2e9aaa229e8d4637, DedupeHash(77, new ClientMessageId(0x1234, 99)));
        Assert.Equal(0x70e355789fe12f96, StateKeyComparer.PositionalHash(StateKey.Of(key, KeyKind.Conversation, 123456789)));
    }

    [Fact]
    public void A_conversations_consecutive_seqs_fill_one_bucket_four_at_a_time_with_distinct_tags()
    {
        for (long conversation = 1; conversation <= 50; conversation++)
        {
            for (long first = 0; first < 400; first += 4)
            {
                long bucket = MessageHash(conversation, first) & BucketMask;
                var tags = new HashSet<int>();
                for (long seq = first; seq < first + 4; seq++)
                {
                    Assert.Equal(bucket, MessageHash(conversation, seq) & BucketMask);
                    tags.Add(Tag(MessageHash(conversation, seq)));
                }
                Assert.True(tags.Count >= 3, $"conversation {conversation}, seqs {first}..{first + 3}: tags {string.Join(',', tags)}");
                Assert.Equal((bucket + 1) & BucketMask, MessageHash(conversation, first + 4) & BucketMask);
            }
        }
    }

    [Fact]
    public void A_senders_counting_client_ids_share_buckets_and_random_ids_scatter()
    {
        var counting = new HashSet<long>();
        var random = new HashSet<long>();
        var rng = new Random(5);
        for (ulong i = 0; i < 4_000; i++)
        {
            counting.Add(DedupeHash(42, new ClientMessageId(0x5eed, i)) & BucketMask);
            random.Add(DedupeHash(42, new ClientMessageId((ulong)rng.NextInt64(), (ulong)rng.NextInt64())) & BucketMask);
        }
        Assert.Equal(1_000, counting.Count); // four ids per bucket, in a run of neighbouring buckets
        Assert.True(random.Count > 3_980, $"{random.Count} buckets for 4,000 random ids");
    }

    [Fact]
    public void Different_owners_spread_over_the_table_like_a_uniform_hash()
    {
        var firstBuckets = new HashSet<long>();
        var senders = new HashSet<long>();
        for (long owner = 1; owner <= 10_000; owner++)
        {
            firstBuckets.Add(MessageHash(owner, 1) & BucketMask);
            senders.Add(DedupeHash(owner, new ClientMessageId(0x5eed, 1)) & BucketMask);
        }
        // 10,000 random picks of 2^20 buckets collide ~48 times on average.
        Assert.True(firstBuckets.Count > 9_850, $"{firstBuckets.Count} distinct buckets for 10,000 conversations");
        Assert.True(senders.Count > 9_850, $"{senders.Count} distinct buckets for 10,000 senders");
    }

    [Fact]
    public void Each_format_gets_its_own_hash()
    {
        Span<byte> bytes = stackalloc byte[StateKey.MaxLength];
        ReadOnlySpan<byte> key = StateKey.Of(bytes, KeyKind.Message, 5, 6);
        var spanByte = FASTER.core.SpanByte.FromFixedSpan(bytes[..key.Length]); // stack memory does not move
        Assert.Equal(StateKeyComparer.UniformHash(key), StateKeyComparer.ForFormat(2).GetHashCode64(ref spanByte));
        Assert.Equal(StateKeyComparer.PositionalHash(key), StateKeyComparer.ForFormat(3).GetHashCode64(ref spanByte));
        Assert.NotEqual(StateKeyComparer.UniformHash(key), StateKeyComparer.PositionalHash(key));
    }
}
