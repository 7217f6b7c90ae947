namespace ChatGateway.Protocol;

/// <summary>A frame that cannot be decoded; <see cref="Code"/> is the error code to answer with.</summary>
public sealed class ProtocolException(string code, string message) : Exception(message)
{
    public string Code { get; } = code;
}
