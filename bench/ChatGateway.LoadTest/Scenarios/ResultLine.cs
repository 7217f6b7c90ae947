using System.Globalization;

namespace ChatGateway.LoadTest.Scenarios;

/// <summary>A worker's "RESULT key=value ..." line.</summary>
public sealed class ResultLine(string line)
{
    private readonly Dictionary<string, string> _fields = line.Split(' ').Skip(1).Select(f => f.Split('=')).ToDictionary(f => f[0], f => f[1]);

    public long Long(string key) => long.Parse(_fields[key], CultureInfo.InvariantCulture);

    public double Double(string key) => double.Parse(_fields[key], CultureInfo.InvariantCulture);
}
