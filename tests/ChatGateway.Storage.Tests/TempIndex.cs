using ChatGateway.Storage.Recovery;
using ChatGateway.Storage.State;

namespace ChatGateway.Storage.Tests;

/// <summary>
/// A real index (the store's FASTER KV, current format) in a fresh temporary folder, with one session, for tests that
/// drive the state layer without the journal and the writer. Deleted afterwards.
/// </summary>
internal sealed class TempIndex : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("chatgw-index-").FullName;

    public TempIndex()
    {
        Store = new StateStore(_directory, TempStore.SmallOptions(_directory), StoreMetadata.CurrentFormat);
        Session = Store.NewSession();
    }

    public StateStore Store { get; }
    public StateSession Session { get; }

    public void Dispose()
    {
        Session.Dispose();
        Store.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
