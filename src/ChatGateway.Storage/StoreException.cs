namespace ChatGateway.Storage;

/// <summary>A storage operation failed; a write that fails this way was not acknowledged and is not in the journal's committed part.</summary>
public class StoreException : Exception
{
    public StoreException(string message) : base(message) { }
    public StoreException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>The store directory is held by another process (or another open store in this one).</summary>
public sealed class StoreLockedException(string message, Exception inner) : StoreException(message, inner);

/// <summary>An earlier I/O failure stopped the store: nothing more is accepted until it is reopened (which recovers).</summary>
public sealed class StoreFaultedException(string message, Exception inner) : StoreException(message, inner);

/// <summary>Stored bytes do not have the shape this version wrote.</summary>
public sealed class StoreCorruptedException(string message) : StoreException(message);

/// <summary>The store's disk has less free space than <see cref="StoreOptions.RequiredFreeBytes"/>: the write was refused, nothing was written. Retry once space is freed.</summary>
public sealed class StoreDiskFullException(string message) : StoreException(message);
