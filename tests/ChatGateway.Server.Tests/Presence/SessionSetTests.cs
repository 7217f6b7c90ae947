using ChatGateway.Server.Presence;

namespace ChatGateway.Server.Tests.Presence;

/// <summary>A user's sessions held without a list while there is one: every size up and back down.</summary>
public sealed class SessionSetTests
{
    private sealed class Device(long user) : IPresenceSession
    {
        public long UserId => user;
        public long LastActivityMs => 0;
    }

    private static List<IPresenceSession> Members(SessionSet set)
    {
        var found = new List<IPresenceSession>();
        foreach (IPresenceSession session in set)
        {
            found.Add(session);
        }
        Assert.Equal(set.Count, found.Count);
        return found;
    }

    [Fact]
    public void Adding_and_removing_devices_keeps_exactly_the_open_ones_from_none_to_three_and_back()
    {
        var set = new SessionSet();
        Device phone = new(1), laptop = new(1), tablet = new(1), stranger = new(1);
        Assert.Empty(Members(set));
        Assert.False(set.Remove(phone));

        set.Add(phone);
        Assert.Equal([phone], Members(set));
        Assert.False(set.Remove(stranger)); // not in the set: nothing changes
        Assert.Equal([phone], Members(set));

        set.Add(laptop);
        set.Add(tablet);
        Assert.Equal([phone, laptop, tablet], Members(set));
        Assert.False(set.Remove(stranger));

        Assert.True(set.Remove(laptop));
        Assert.Equal([phone, tablet], Members(set));
        Assert.True(set.Remove(phone));
        Assert.Equal([tablet], Members(set)); // back to one
        Assert.False(set.Remove(phone)); // removed once only

        set.Add(laptop); // and up again from one
        Assert.Equal([tablet, laptop], Members(set));
        Assert.True(set.Remove(tablet));
        Assert.True(set.Remove(laptop));
        Assert.Empty(Members(set));
        Assert.Equal(0, set.Count);
    }
}
