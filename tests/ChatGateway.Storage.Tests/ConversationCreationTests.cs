namespace ChatGateway.Storage.Tests;

public sealed class ConversationCreationTests
{
    [Fact]
    public async Task Create_succeeds_once_per_id_and_makes_the_creator_a_member()
    {
        await using var temp = new TempStore();
        ChatStore store = await temp.OpenAsync();

        Assert.Equal(WriteStatus.Ok, (await store.CreateConversationAsync(7, 1)).Status);
        Assert.True(store.IsMember(7, 1));
        Assert.Equal(WriteStatus.Exists, (await store.CreateConversationAsync(7, 2)).Status);
        Assert.False(store.IsMember(7, 2));
    }

    [Fact]
    public async Task Concurrent_creates_of_one_id_have_exactly_one_winner()
    {
        await using var temp = new TempStore();
        ChatStore store = await temp.OpenAsync();

        ValueTask<WriteResult>[] attempts = [.. Enumerable.Range(1, 50).Select(user => store.CreateConversationAsync(9, user))];
        var statuses = new List<WriteStatus>();
        foreach (ValueTask<WriteResult> attempt in attempts)
        {
            statuses.Add((await attempt).Status);
        }

        Assert.Equal(1, statuses.Count(s => s == WriteStatus.Ok));
        Assert.Equal(49, statuses.Count(s => s == WriteStatus.Exists));
        Assert.Equal(1, store.GetConversation(9).MemberCount);
    }

    [Fact]
    public async Task Create_adds_every_listed_member_once()
    {
        await using var temp = new TempStore();
        ChatStore store = await temp.OpenAsync();

        Assert.Equal(WriteStatus.Ok, (await store.CreateConversationAsync(4, 1, [2, 3, 2, 1])).Status);

        var members = new List<long>();
        store.GetMembers(4, members);
        Assert.Equal(new long[] { 1, 2, 3 }, members.Order());
    }

    [Fact]
    public async Task An_id_with_messages_counts_as_taken()
    {
        await using var temp = new TempStore();
        ChatStore store = await temp.OpenAsync();
        await store.AppendMessageAsync(3, 1, default, "x"u8, requireMembership: false);

        Assert.Equal(WriteStatus.Exists, (await store.CreateConversationAsync(3, 1)).Status);
    }
}

public sealed class ReadPositionTests
{
    [Fact]
    public async Task Read_positions_only_move_forward_are_clamped_to_the_head_and_need_membership()
    {
        await using var temp = new TempStore();
        ChatStore store = await temp.OpenAsync();
        await store.AddMemberAsync(1, 10);
        for (int i = 0; i < 5; i++)
        {
            await store.AppendMessageAsync(1, 10, default, "m"u8);
        }

        Assert.Equal(0, store.GetReadPosition(10, 1));
        Assert.Equal(WriteStatus.Ok, (await store.MarkReadAsync(10, 1, 3)).Status);
        Assert.Equal(3, store.GetReadPosition(10, 1));
        Assert.Equal(WriteStatus.NoChange, (await store.MarkReadAsync(10, 1, 2)).Status);
        Assert.Equal(3, store.GetReadPosition(10, 1));
        WriteResult beyond = await store.MarkReadAsync(10, 1, 99);
        Assert.Equal((WriteStatus.Ok, 5L), (beyond.Status, beyond.Seq));
        Assert.Equal(WriteStatus.NotMember, (await store.MarkReadAsync(11, 1, 1)).Status);
        Assert.Equal(0, store.GetReadPosition(11, 1));
    }

    [Fact]
    public async Task Read_positions_survive_a_reopen()
    {
        await using var temp = new TempStore();
        ChatStore store = await temp.OpenAsync();
        await store.AddMemberAsync(1, 10);
        await store.AppendMessageAsync(1, 10, default, "m"u8);
        await store.AppendMessageAsync(1, 10, default, "m"u8);
        await store.MarkReadAsync(10, 1, 2);

        store = await temp.ReopenAsync();

        Assert.Equal(2, store.GetReadPosition(10, 1));
    }
}
