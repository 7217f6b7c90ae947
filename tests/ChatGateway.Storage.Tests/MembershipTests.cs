namespace ChatGateway.Storage.Tests;

public sealed class MembershipTests
{
    [Fact]
    public async Task Only_members_may_append_when_membership_is_required()
    {
        await using var temp = new TempStore();
        ChatStore store = await temp.OpenAsync();

        Assert.Equal(WriteStatus.NotMember, (await store.AppendMessageAsync(5, 1, default, "x"u8)).Status);
        Assert.Equal(WriteStatus.Ok, (await store.AddMemberAsync(5, 1)).Status);
        Assert.Equal(WriteStatus.Ok, (await store.AppendMessageAsync(5, 1, default, "x"u8)).Status);
        Assert.Equal(WriteStatus.Ok, (await store.RemoveMemberAsync(5, 1)).Status);
        Assert.Equal(WriteStatus.NotMember, (await store.AppendMessageAsync(5, 1, default, "y"u8)).Status);
        Assert.Equal(1, store.GetConversation(5).Head);
    }

    [Fact]
    public async Task Members_and_conversations_of_a_user_stay_consistent_through_adds_and_removals()
    {
        await using var temp = new TempStore();
        ChatStore store = await temp.OpenAsync();
        foreach (long user in new long[] { 10, 11, 12, 13, 14 })
        {
            await store.AddMemberAsync(1, user);
        }
        await store.AddMemberAsync(2, 12);
        await store.AddMemberAsync(3, 12);

        Assert.Equal(WriteStatus.AlreadyMember, (await store.AddMemberAsync(1, 12)).Status);
        await store.RemoveMemberAsync(1, 11);   // from the middle: the last one moves into its place
        await store.RemoveMemberAsync(1, 14);   // the last one
        await store.RemoveMemberAsync(2, 12);
        Assert.Equal(WriteStatus.NotMember, (await store.RemoveMemberAsync(1, 99)).Status);

        var list = new List<long>();
        store.GetMembers(1, list);
        Assert.Equal(new long[] { 10, 12, 13 }, list.Order());
        Assert.Equal(3, store.GetConversation(1).MemberCount);
        store.GetConversationsOf(12, list);
        Assert.Equal(new long[] { 1, 3 }, list.Order());
        store.GetConversationsOf(11, list);
        Assert.Empty(list);
        Assert.True(store.IsMember(1, 13));
        Assert.False(store.IsMember(1, 11));

        // Removing everyone and adding again reuses the list slots correctly.
        foreach (long user in new long[] { 10, 12, 13 })
        {
            await store.RemoveMemberAsync(1, user);
        }
        await store.AddMemberAsync(1, 20);
        store.GetMembers(1, list);
        Assert.Equal(new long[] { 20 }, list);
    }

    [Fact]
    public async Task Membership_survives_a_reopen()
    {
        await using var temp = new TempStore();
        ChatStore store = await temp.OpenAsync();
        await store.AddMemberAsync(1, 10);
        await store.AddMemberAsync(1, 11);
        await store.RemoveMemberAsync(1, 10);

        store = await temp.ReopenAsync();

        var members = new List<long>();
        store.GetMembers(1, members);
        Assert.Equal(new long[] { 11 }, members);
    }
}
