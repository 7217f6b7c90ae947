namespace ChatGateway.Server.Auth;

/// <summary>Section "Auth". The secret may also come from the environment variable CHAT_JWT_SECRET.</summary>
public sealed class AuthOptions
{
    /// <summary>HMAC secret for HS256/384/512 tokens, at least 32 bytes. Empty: a development secret under the data folder.</summary>
    public string JwtSecret { get; set; } = "";

    /// <summary>If set, tokens must carry this <c>iss</c>.</summary>
    public string? Issuer { get; set; }

    /// <summary>If set, tokens must carry this <c>aud</c>.</summary>
    public string? Audience { get; set; }

    /// <summary>Tolerance for clock differences when checking <c>exp</c> and <c>nbf</c>.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Lifetime of tokens printed by <c>./run.sh token USER</c>.</summary>
    public TimeSpan DevTokenLifetime { get; set; } = TimeSpan.FromDays(1);
}
