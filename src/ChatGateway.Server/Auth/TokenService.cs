using System.Globalization;
using System.Security.Claims;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace ChatGateway.Server.Auth;

/// <summary>
/// Validates access tokens: a JWT signed with HS256/384/512 and the configured secret, with <c>exp</c>
/// required and enforced, and <c>sub</c> the user id: a decimal integer from 1 to 2^63-1 (chat user ids are
/// numbers, as in most chat backends; the application's account service maps its own ids to them).
/// Also issues tokens (<c>./run.sh token USER</c>, tests).
/// </summary>
public sealed class TokenService
{
    private readonly JsonWebTokenHandler _handler = new() { MapInboundClaims = false };
    private readonly SymmetricSecurityKey _key;
    private readonly AuthOptions _options;
    private readonly TimeProvider _time;
    private readonly TokenValidationParameters _parameters;

    public TokenService(JwtSecret secret, AuthOptions options, TimeProvider time)
    {
        _key = new SymmetricSecurityKey(secret.Key);
        _options = options;
        _time = time;
        _parameters = new TokenValidationParameters
        {
            IssuerSigningKey = _key,
            ValidAlgorithms = [SecurityAlgorithms.HmacSha256, SecurityAlgorithms.HmacSha384, SecurityAlgorithms.HmacSha512],
            ValidateIssuer = options.Issuer is not null,
            ValidIssuer = options.Issuer,
            ValidateAudience = options.Audience is not null,
            ValidAudience = options.Audience,
            ValidateLifetime = true,
            RequireExpirationTime = true,
            RequireSignedTokens = true,
            ClockSkew = options.ClockSkew,
            LifetimeValidator = ValidateLifetime,
        };
    }

    /// <summary>The user a token names, or the reason it is refused.</summary>
    public async ValueTask<(AuthenticatedUser? User, string? Error)> ValidateAsync(string? token)
    {
        if (string.IsNullOrEmpty(token))
        {
            return (null, "no access token: pass access_token in the query string or an Authorization: Bearer header");
        }
        TokenValidationResult result = await _handler.ValidateTokenAsync(token, _parameters).ConfigureAwait(false);
        if (!result.IsValid)
        {
            return (null, result.Exception is SecurityTokenExpiredException ? "the access token has expired" : "the access token is not valid");
        }
        var jwt = (JsonWebToken)result.SecurityToken;
        if (!long.TryParse(jwt.Subject, NumberStyles.None, CultureInfo.InvariantCulture, out long user) || user <= 0)
        {
            return (null, "the token's sub must be a user id: a decimal integer from 1 to 9223372036854775807");
        }
        return (new AuthenticatedUser(user, new DateTimeOffset(jwt.ValidTo, TimeSpan.Zero).ToUnixTimeMilliseconds()), null);
    }

    public string Issue(long user, TimeSpan lifetime)
    {
        DateTime now = _time.GetUtcNow().UtcDateTime;
        var descriptor = new SecurityTokenDescriptor
        {
            Subject = new ClaimsIdentity([new Claim("sub", user.ToString(CultureInfo.InvariantCulture))]),
            IssuedAt = now,
            NotBefore = now,
            Expires = now + lifetime,
            Issuer = _options.Issuer,
            Audience = _options.Audience,
            SigningCredentials = new SigningCredentials(_key, SecurityAlgorithms.HmacSha256),
        };
        return _handler.CreateToken(descriptor);
    }

    // The handler's default lifetime check reads the wall clock; this one reads the injected TimeProvider, so
    // expiry is testable with a fake clock.
    private bool ValidateLifetime(DateTime? notBefore, DateTime? expires, SecurityToken token, TokenValidationParameters parameters)
    {
        DateTime now = _time.GetUtcNow().UtcDateTime;
        if (expires is null || now - parameters.ClockSkew >= expires.Value)
        {
            throw new SecurityTokenExpiredException("expired");
        }
        return notBefore is null || now + parameters.ClockSkew >= notBefore.Value;
    }
}
