using ChatGateway.Server.Auth;

namespace ChatGateway.LoadTest;

/// <summary>Access tokens signed with the secret the server under test was started with.</summary>
public sealed class Tokens(string secret)
{
    private readonly TokenService _service = new(JwtSecret.Resolve(secret, Path.GetTempPath()), new AuthOptions(), TimeProvider.System);

    public string For(long user) => _service.Issue(user, TimeSpan.FromHours(2));
}
