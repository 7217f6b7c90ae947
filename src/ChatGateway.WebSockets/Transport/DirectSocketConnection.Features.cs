using System.Collections;
using Microsoft.AspNetCore.Http.Features;

namespace ChatGateway.WebSockets.Transport;

/// <summary>
/// The connection's feature collection is the connection itself: the features it implements are answered without
/// storage, and the few that Kestrel sets per connection (heartbeat, completion, lifetime notification, metrics:
/// four to six) sit in a small array searched linearly. A feature set here takes precedence over the connection's
/// own, as in <see cref="FeatureCollection"/> with defaults.
/// <para>
/// Why not <see cref="FeatureCollection"/>: it keeps a <see cref="Dictionary{TKey,TValue}"/>, ~350 bytes per
/// connection once Kestrel has set its features, for a gateway whose idle connections are counted in bytes. Why
/// not a collection object of its own: 32 B more per connection (its header and the references both ways).
/// </para>
/// Bound: one entry per feature type; Kestrel sets fewer than ten.
/// </summary>
internal sealed partial class DirectSocketConnection : IFeatureCollection
{
    private KeyValuePair<Type, object>[] _others = Array.Empty<KeyValuePair<Type, object>>();
    private int _featureCount;
    private int _revision;

    bool IFeatureCollection.IsReadOnly => false;

    int IFeatureCollection.Revision => _revision;

    object? IFeatureCollection.this[Type key]
    {
        get
        {
            int index = IndexOf(key);
            if (index >= 0)
            {
                return _others[index].Value;
            }
            return Implements(key) ? this : null;
        }
        set
        {
            // A feature set explicitly (even one the connection implements) takes precedence, as in FeatureCollection.
            _revision++;
            int index = IndexOf(key);
            if (value is null)
            {
                if (index >= 0)
                {
                    _others[index] = _others[--_featureCount];
                    _others[_featureCount] = default;
                }
                return;
            }
            if (index >= 0)
            {
                _others[index] = new(key, value);
                return;
            }
            if (_featureCount == _others.Length)
            {
                Array.Resize(ref _others, Math.Max(4, _featureCount * 2));
            }
            _others[_featureCount++] = new(key, value);
        }
    }

    TFeature? IFeatureCollection.Get<TFeature>() where TFeature : default => (TFeature?)((IFeatureCollection)this)[typeof(TFeature)];

    void IFeatureCollection.Set<TFeature>(TFeature? instance) where TFeature : default => ((IFeatureCollection)this)[typeof(TFeature)] = instance;

    IEnumerator<KeyValuePair<Type, object>> IEnumerable<KeyValuePair<Type, object>>.GetEnumerator()
    {
        for (int i = 0; i < _featureCount; i++)
        {
            yield return _others[i];
        }
        foreach (Type type in ImplementedFeatures)
        {
            if (IndexOf(type) < 0)
            {
                yield return new(type, this);
            }
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => ((IEnumerable<KeyValuePair<Type, object>>)this).GetEnumerator();

    private int IndexOf(Type key)
    {
        for (int i = 0; i < _featureCount; i++)
        {
            if (_others[i].Key == key)
            {
                return i;
            }
        }
        return -1;
    }
}
