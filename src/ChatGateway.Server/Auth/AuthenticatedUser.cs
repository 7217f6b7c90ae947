namespace ChatGateway.Server.Auth;

/// <summary>Who a valid token names, and until when it is valid (Unix ms).</summary>
public readonly record struct AuthenticatedUser(long UserId, long ExpiresAtMs);
