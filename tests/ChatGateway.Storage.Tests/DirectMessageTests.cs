namespace ChatGateway.Storage.Tests;

/// <summary>A 1:1 conversation is created by its first message, in the writer, and only ever holds its own pair.</summary>
public sealed class DirectMessageTests
{
    [Fact]
    public async Task The_first_message_creates_the_conversation_with_both_users_then_later_ones_append()
    {
        await using var temp = new TempStore();
        ChatStore store = await temp.OpenAsync();

        WriteResult first = await store.AppendDirectMessageAsync(50, 1, 2, default, "hi"u8);
        WriteResult second = await store.AppendDirectMessageAsync(50, 2, 1, default, "hello"u8);

        Assert.Equal((WriteStatus.Ok, 1L, true), (first.Status, first.Seq, first.Created));
        Assert.Equal((WriteStatus.Ok, 2L, false), (second.Status, second.Seq, second.Created));
        var members = new List<long>();
        store.GetMembers(50, members);
        Assert.Equal(new long[] { 1, 2 }, members.Order());
    }

    [Fact]
    public async Task Concurrent_first_messages_of_a_pair_create_once_and_get_consecutive_seqs()
    {
        await using var temp = new TempStore();
        ChatStore store = await temp.OpenAsync();

        ValueTask<WriteResult>[] sends = [.. Enumerable.Range(0, 20).Select(i => store.AppendDirectMessageAsync(60, i % 2 == 0 ? 1 : 2, i % 2 == 0 ? 2 : 1, default, "m"u8))];
        var results = new List<WriteResult>();
        foreach (ValueTask<WriteResult> send in sends)
        {
            results.Add(await send);
        }

        Assert.All(results, r => Assert.Equal(WriteStatus.Ok, r.Status));
        Assert.Single(results, r => r.Created);
        Assert.Equal(Enumerable.Range(1, 20).Select(i => (long)i), results.Select(r => r.Seq).Order());
        Assert.Equal(2, store.GetConversation(60).MemberCount);
    }

    [Fact]
    public async Task An_id_held_by_another_pair_is_refused_and_nothing_is_written()
    {
        await using var temp = new TempStore();
        ChatStore store = await temp.OpenAsync();
        await store.AppendDirectMessageAsync(70, 1, 2, default, "ours"u8);

        WriteResult oneOfUs = await store.AppendDirectMessageAsync(70, 1, 3, default, "collision"u8);   // 1 is in, 3 is not
        WriteResult neither = await store.AppendDirectMessageAsync(70, 4, 5, default, "collision"u8);   // held, but by others

        Assert.Equal(WriteStatus.NotMember, oneOfUs.Status);
        Assert.Equal(WriteStatus.NotMember, neither.Status);
        Assert.Equal(1, store.GetConversation(70).Head);
        Assert.False(store.IsMember(70, 3));
        Assert.False(store.IsMember(70, 4));
    }

    [Fact]
    public async Task A_retried_first_message_keeps_its_seq_and_a_note_to_self_has_one_member()
    {
        await using var temp = new TempStore();
        ChatStore store = await temp.OpenAsync();
        ClientMessageId id = ClientMessageId.FromBytes(Guid.NewGuid().ToByteArray());

        WriteResult sent = await store.AppendDirectMessageAsync(80, 1, 2, id, "once"u8);
        WriteResult retried = await store.AppendDirectMessageAsync(80, 1, 2, id, "once"u8);
        WriteResult self = await store.AppendDirectMessageAsync(81, 9, 9, default, "note"u8);

        Assert.Equal(WriteStatus.Duplicate, retried.Status);
        Assert.Equal(sent.Seq, retried.Seq);
        Assert.Equal(1, store.GetConversation(80).Head);
        Assert.Equal((WriteStatus.Ok, 1), (self.Status, store.GetConversation(81).MemberCount));
    }

    [Fact]
    public async Task A_created_pair_survives_a_restart()
    {
        await using var temp = new TempStore();
        ChatStore store = await temp.OpenAsync();
        await store.AppendDirectMessageAsync(90, 1, 2, default, "before"u8);
        store = await temp.ReopenAsync();

        WriteResult after = await store.AppendDirectMessageAsync(90, 2, 1, default, "after"u8);

        Assert.Equal((WriteStatus.Ok, 2L, false), (after.Status, after.Seq, after.Created));
    }
}
