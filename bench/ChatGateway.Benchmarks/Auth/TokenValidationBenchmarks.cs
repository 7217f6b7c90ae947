using BenchmarkDotNet.Attributes;
using ChatGateway.Server.Auth;

namespace ChatGateway.Benchmarks.Auth;

/// <summary>
/// Validating one access token, as every WebSocket upgrade does: in a mass reconnect it is paid once per client
/// (`./run.sh bench micro --filter '*TokenValidation*'`).
/// </summary>
[MemoryDiagnoser]
public class TokenValidationBenchmarks
{
    private TokenService _tokens = null!;
    private string _token = null!;

    [GlobalSetup]
    public void Setup()
    {
        JwtSecret secret = JwtSecret.Resolve(new string('k', 48), Path.GetTempPath());
        _tokens = new TokenService(secret, new AuthOptions(), TimeProvider.System);
        _token = _tokens.Issue(123_456_789, TimeSpan.FromHours(1));
    }

    [Benchmark]
    public long Validate() => _tokens.ValidateAsync(_token).AsTask().GetAwaiter().GetResult().User!.Value.UserId;
}
