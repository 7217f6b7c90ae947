using ChatGateway.Protocol;
using ChatGateway.Server.Auth;
using ChatGateway.Server.Hosting;
using ChatGateway.Server.Presence;
using ChatGateway.Server.Sessions;
using ChatGateway.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ChatGateway.Server.Messaging;

/// <summary>
/// The chat state of this node: the sharded store, one sequencer per shard, the open sessions. Started
/// before Kestrel listens (hosted services start first) and stopped after it: shutdown closes sessions with
/// 1001 when the application starts stopping, then (Kestrel stopped) drains the sequencers so every accepted
/// request is committed and acknowledged, then checkpoints and closes the stores.
/// </summary>
public sealed class ChatNode : IHostedService, IAsyncDisposable
{
    private readonly GatewayOptions _gateway;
    private readonly Func<StoreOptions> _storeOptions;
    private readonly ILogger _logger;
    private readonly ILoggerFactory _loggers;
    private volatile ShardedStore? _store;
    private Sequencer[] _sequencers = [];
    private ITimer? _tokenSweep;
    private PresenceTracker? _presence;
    private volatile bool _stopping;

    public ChatNode(GatewayOptions gateway, ChatOptions options, Func<StoreOptions> storeOptions, TokenService tokens, TimeProvider time,
        ILoggerFactory loggers, PresenceOptions? presence = null)
    {
        PresenceOptions = presence ?? new PresenceOptions();
        _gateway = gateway;
        _storeOptions = storeOptions;
        Options = options;
        Tokens = tokens;
        Time = time;
        _loggers = loggers;
        _logger = loggers.CreateLogger("ChatGateway.Chat");
        Registry = new SessionRegistry(options.MaxSessionsPerUser);
        RateLimits = new RateLimits(options, time.TimestampFrequency);
    }

    public ChatOptions Options { get; }
    public RateLimits RateLimits { get; }
    public PresenceOptions PresenceOptions { get; }
    public PresenceTracker Presence => _presence ?? throw new InvalidOperationException("the chat node is not started");
    public TokenService Tokens { get; }
    public TimeProvider Time { get; }
    public SessionRegistry Registry { get; }
    public ILogger Logger => _logger;
    public ShardedStore Store => _store ?? throw new InvalidOperationException("the chat node is not started");
    public bool IsStopping => _stopping;

    public Sequencer SequencerOf(long conversation) => _sequencers[Store.ShardOf(conversation)];

    public IReadOnlyList<Sequencer> Sequencers => _sequencers;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        ILogger storeLogger = _loggers.CreateLogger("ChatGateway.Storage");
        _store = await ShardedStore.OpenAsync(_gateway.Data, Options.Shards, ShardOptions,
            storeLogger, Time).ConfigureAwait(false);
        _sequencers = new Sequencer[_store.Count];
        for (int i = 0; i < _sequencers.Length; i++)
        {
            _sequencers[i] = new Sequencer(_store[i], Registry, Options, _logger);
            _sequencers[i].Start();
        }
        // Presence reads and writes go to the live store only: a session closing after shutdown has begun
        // (Kestrel gave up waiting for it) must not touch disposed shards.
        _presence = new PresenceTracker(PresenceOptions, Time,
            user => _store is { } store && store.PresenceStoreOf(user).TryGetPresence(user, out Storage.Reading.PresenceInfo info)
                ? (info.LastSeen, (Protocol.PresenceStatus)info.Status)
                : null,
            (user, lastSeen, status) => _store?.PresenceStoreOf(user).SetPresence(user, lastSeen, (int)status));
        _tokenSweep = Time.CreateTimer(_ => SweepExpiredTokens(), null, Options.TokenCheckInterval, Options.TokenCheckInterval);
        _logger.LogInformation("Chat node started: {Shards} sequencer shards", _store.Count);
    }

    private StoreOptions ShardOptions(string directory)
    {
        StoreOptions options = _storeOptions();
        options.Directory = directory;
        options.MaxBodyBytes = Math.Max(options.MaxBodyBytes, Options.MaxBodyBytes);
        return options;
    }

    /// <summary>ApplicationStopping: refuse new sessions, close open ones with 1001 so clients reconnect elsewhere.</summary>
    public void BeginShutdown()
    {
        _stopping = true;
        foreach (ChatSession session in Registry.All())
        {
            session.Close(CloseCode.GoingAway, "server shutting down");
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        _tokenSweep?.Dispose();
        await Task.WhenAll(_sequencers.Select(s => s.StopAsync())).ConfigureAwait(false);
        if (_presence is not null)
        {
            _presence.Dispose();
            _presence.PersistAll(); // last_seen reaches the store, and with it the shutdown checkpoint
        }
        if (_store is { } store)
        {
            _store = null; // first: nothing new reaches the shards while they close
            await store.DisposeAsync().ConfigureAwait(false); // commits and checkpoints each shard
        }
        _logger.LogInformation("Chat node stopped: every accepted request committed, shards checkpointed");
    }

    private void SweepExpiredTokens()
    {
        long now = Time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (ChatSession session in Registry.All())
        {
            if (session.TokenExpiresAtMs <= now)
            {
                session.Close(CloseCode.TokenExpired, "access token expired");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_store is not null)
        {
            await StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }
}
