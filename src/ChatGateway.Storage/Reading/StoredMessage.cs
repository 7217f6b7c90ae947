namespace ChatGateway.Storage.Reading;

/// <summary>A message as stored. Its body points into the <see cref="MessagePage"/> it was read into.</summary>
public readonly record struct StoredMessage(long Conversation, long Seq, long Sender, long Timestamp, ClientMessageId ClientId, ReadOnlyMemory<byte> Body);
