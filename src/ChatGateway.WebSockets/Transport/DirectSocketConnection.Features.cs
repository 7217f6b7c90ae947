using System.Collections;
using Microsoft.AspNetCore.Http.Features;

namespace ChatGateway.WebSockets.Transport;

/// <summary>
/// The feature collection of one <see cref="DirectSocketConnection"/>: the features the connection implements
/// itself are answered without storage, and the few that Kestrel sets per connection (heartbeat, completion,
/// lifetime notification, metrics: four to six) sit in a small array searched linearly. A feature set here takes
/// precedence over the connection's own, as in <see cref="FeatureCollection"/> with defaults.
/// <para>
/// Why not <see cref="FeatureCollection"/>: it keeps a <see cref="Dictionary{TKey,TValue}"/>, ~350 bytes per
/// connection once Kestrel has set its features, for a gateway whose idle connections are counted in bytes.
/// </para>
/// Bound: one entry per feature type; Kestrel sets fewer than ten.
/// </summary>
internal sealed class ConnectionFeatures(DirectSocketConnection connection) : IFeatureCollection
{
    private KeyValuePair<Type, object>[] _others = Array.Empty<KeyValuePair<Type, object>>();
    private int _count;

    public bool IsReadOnly => false;

    public int Revision { get; private set; }

    public object? this[Type key]
    {
        get
        {
            int index = IndexOf(key);
            if (index >= 0)
            {
                return _others[index].Value;
            }
            return DirectSocketConnection.Implements(key) ? connection : null;
        }
        set
        {
            // A feature set explicitly (even one the connection implements) takes precedence, as in FeatureCollection.
            Revision++;
            int index = IndexOf(key);
            if (value is null)
            {
                if (index >= 0)
                {
                    _others[index] = _others[--_count];
                    _others[_count] = default;
                }
                return;
            }
            if (index >= 0)
            {
                _others[index] = new(key, value);
                return;
            }
            if (_count == _others.Length)
            {
                Array.Resize(ref _others, Math.Max(4, _count * 2));
            }
            _others[_count++] = new(key, value);
        }
    }

    public TFeature? Get<TFeature>() => (TFeature?)this[typeof(TFeature)];

    public void Set<TFeature>(TFeature? instance) => this[typeof(TFeature)] = instance;

    public IEnumerator<KeyValuePair<Type, object>> GetEnumerator()
    {
        for (int i = 0; i < _count; i++)
        {
            yield return _others[i];
        }
        foreach (Type type in DirectSocketConnection.ImplementedFeatures)
        {
            if (IndexOf(type) < 0)
            {
                yield return new(type, connection);
            }
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private int IndexOf(Type key)
    {
        for (int i = 0; i < _count; i++)
        {
            if (_others[i].Key == key)
            {
                return i;
            }
        }
        return -1;
    }
}
