using System.Buffers.Binary;
using ChatGateway.Storage.Journal;
using ChatGateway.Storage.Memory;
using ChatGateway.Storage.Recovery;
using ChatGateway.Storage.State;

namespace ChatGateway.Storage.Tests;

/// <summary>
/// <see cref="StoreOptions.PrefaultLogPages"/>: a background thread stocks FASTER's spare-page pool, so the thread that
/// appends takes its logs' fresh pages from there instead of allocating them (the stall the option removes). Each
/// test also runs with the option off, which shows the measurement sees those pages.
/// </summary>
public sealed class LogPageStockTests : IDisposable
{
    private const int PageBytes = (int)JournalLog.PageBytes; // the index's pages are the same size (StateStore.PageBytes)
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly string _directory = Directory.CreateTempSubdirectory("chatgw-pages-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Journal_appends_onto_fresh_pages_take_them_from_the_stock_instead_of_allocating(bool prefault)
    {
        var options = new StoreOptions { Directory = _directory, JournalMemoryBytes = 16 << 20, PrefaultLogPages = prefault };
        using var journal = new JournalLog(_directory, options);
        var record = new byte[4000];
        journal.Append(record); // the first call's one-time costs
        AwaitFullStock(journal.PageStock, prefault);

        long allocated = AllocatedWhile(() =>
        {
            // Three and a half pages: the tail allocates the page after the one it enters, so four fresh pages, the stock's four.
            for (long written = 0; written < 7L * PageBytes / 2; written += record.Length)
            {
                journal.Append(record);
            }
        });

        AssertPages(prefault, allocated);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Index_upserts_onto_fresh_pages_take_them_from_the_stock_instead_of_allocating(bool prefault)
    {
        StoreOptions options = TempStore.SmallOptions(_directory);
        options.PrefaultLogPages = prefault;
        using var store = new StateStore(_directory, options, StoreMetadata.CurrentFormat);
        using StateSession session = store.NewSession();
        Span<byte> key = stackalloc byte[17];
        var value = new byte[2000];
        session.Upsert(Key(key, 0), value);
        AwaitFullStock(store.PageStock, prefault);

        long before = GC.GetAllocatedBytesForCurrentThread(); // not AllocatedWhile: a lambda cannot capture the key's span
        for (int i = 1; i <= 7 * PageBytes / 2 / value.Length; i++)
        {
            session.Upsert(Key(key, i), value);
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        AssertPages(prefault, allocated);
    }

    [Fact]
    public void The_stock_adds_only_the_pages_the_buffer_lacks_and_stops_once_it_is_full()
    {
        // Four pages of memory, two allocated when the log opens: two to stock, not four.
        var options = new StoreOptions { Directory = _directory, JournalMemoryBytes = 4 << 20 };
        using var journal = new JournalLog(_directory, options);
        LogPageStock stock = journal.PageStock ?? throw new Xunit.Sdk.XunitException("no page stock: FASTER's internals moved (LogPageStock)");
        Assert.True(SpinWait.SpinUntil(() => stock.Available == 2, Timeout), $"{stock.Available} pages stocked");

        var record = new byte[4000];
        for (long written = 0; written < 3L * PageBytes; written += record.Length)
        {
            journal.Append(record);
        }

        Assert.True(SpinWait.SpinUntil(() => stock.Finished, Timeout), "the stock still runs with every page of the buffer allocated");
        Assert.Equal(2, stock.Stocked);
        Assert.Equal(0, stock.Available);
    }

    /// <summary>With the option on: a stock exists (FASTER's internals are where it expects them) and holds its four pages.</summary>
    private static void AwaitFullStock(LogPageStock? stock, bool prefault)
    {
        if (!prefault)
        {
            Assert.Null(stock);
            return;
        }
        Assert.NotNull(stock);
        Assert.True(SpinWait.SpinUntil(() => stock.Available == LogPageStock.PoolCapacity, Timeout), $"{stock.Available} pages stocked");
    }

    private static long AllocatedWhile(Action write)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        write();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    /// <summary>Stocked: nothing near one page (FASTER's flush bookkeeping is a few hundred bytes a page). Otherwise: each fresh page.</summary>
    private static void AssertPages(bool prefault, long allocated)
    {
        if (prefault)
        {
            Assert.True(allocated < PageBytes / 16, $"{allocated:N0} bytes allocated while the log's tail crossed four stocked pages");
        }
        else
        {
            Assert.True(allocated >= 3L * PageBytes, $"only {allocated:N0} bytes allocated while the log's tail crossed four fresh pages");
        }
    }

    private static ReadOnlySpan<byte> Key(Span<byte> key, long i)
    {
        key[0] = 0x7F; // not a kind the store uses: these records are only bytes to fill pages with
        BinaryPrimitives.WriteInt64BigEndian(key[1..], i);
        BinaryPrimitives.WriteInt64BigEndian(key[9..], i);
        return key;
    }
}
