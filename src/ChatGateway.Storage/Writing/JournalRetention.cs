using ChatGateway.Storage.Recovery;

namespace ChatGateway.Storage.Writing;

/// <summary>
/// How far the journal may be truncated after a checkpoint. Never past the checkpoint's replay point; in format 4
/// also never past a message still inside age retention, because message bodies live only in the journal.
/// <para>
/// Each checkpoint notes the time and the journal's tail (a <see cref="JournalMark"/>, kept in store.json). Once a
/// mark is older than <see cref="StoreOptions.RetainMessagesFor"/>, everything before its address has aged out and
/// those segment files can go. Marks are taken at most every 1/<see cref="MarksPerWindow"/> of the retention
/// window, so there are never more than about <see cref="MarksPerWindow"/> + 1 of them; the journal then keeps up
/// to that fraction of the window (one day of 30) longer than strictly needed.
/// </para>
/// Retention is by write time: a message whose timestamp was held ahead of the clock (timestamps never go back in a
/// conversation) can lose its body up to that much earlier than its timestamp says. With no age limit
/// (<see cref="TimeSpan.Zero"/>) the journal is never truncated.
/// </summary>
internal static class JournalRetention
{
    public const int MarksPerWindow = 32;

    /// <param name="marks">The marks so far, oldest first.</param>
    /// <param name="now">Unix ms.</param>
    /// <param name="replayFrom">The checkpoint's replay point (the journal's tail when it was taken).</param>
    /// <returns>The marks to keep, and the address the journal may now be truncated until (0: nothing more aged out).</returns>
    public static (IReadOnlyList<JournalMark> Marks, long TruncateUntil) AtCheckpoint(IReadOnlyList<JournalMark> marks, long now, long replayFrom, TimeSpan retain)
    {
        if (retain <= TimeSpan.Zero)
        {
            return ([], 0);
        }
        long window = (long)retain.TotalMilliseconds;
        long cutoff = now - window;
        long agedOutUntil = 0;
        int firstKept = 0;
        for (int i = 0; i < marks.Count && marks[i].At < cutoff; i++)
        {
            agedOutUntil = marks[i].Address;
            firstKept = i + 1;
        }
        var kept = new List<JournalMark>(marks.Count - firstKept + 1);
        for (int i = firstKept; i < marks.Count; i++)
        {
            kept.Add(marks[i]);
        }
        if (kept.Count == 0 || now - kept[^1].At >= window / MarksPerWindow)
        {
            kept.Add(new JournalMark(now, replayFrom));
        }
        return (kept, Math.Min(agedOutUntil, replayFrom));
    }
}
