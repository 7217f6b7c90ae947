using System.Globalization;
using ChatGateway.LoadTest.Targets;

namespace ChatGateway.LoadTest;

/// <summary>A command line the load generator cannot run: the message names what was wrong.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>
/// What <c>./run.sh bench e2e</c> was asked to run. Every argument is checked: a misspelt option or scenario is an
/// error, not a silent default (<c>--help</c> once started the whole 15-minute suite, and <c>--second 30</c> would
/// have measured for the default 15 s without a word).
/// </summary>
public sealed record CommandLine
{
    public const string Usage = """
        Usage: ./run.sh bench e2e [SCENARIO] [options]

        Scenarios (default: all of them, in this order):
          idle        idle authenticated connections at each step: RSS and managed heap per connection
          pairs       sender→receiver pairs with a bounded window: delivered messages per server CPU-second
          rate        a fixed offered rate, open loop: send→deliver latency percentiles
          group       one sender into groups of 100 and 1,000 members (gateway only)
          reconnect   clients drop and reconnect, then sync what they missed (gateway only)
          presence    a mass reconnect with presence subscriptions (gateway only)
          all         every scenario above

        Options:
          --quick            a reduced version of every scenario (under 5 minutes for all)
          --servers LIST     comma-separated: gateway, gateway-relaxed, signalr, websockets, node-ws, tcp
                             (default: all six)
          --steps LIST       idle: connection counts (default 1000,5000,10000,18000; quick 1000,4000)
          --pairs N          pairs and rate: pairs of clients (default 100)
          --window N         pairs: messages in flight per pair (default 64)
          --rate N           rate: messages per second offered (default 20000)
          --seconds S        pairs, rate, group: measured seconds (default 15; quick 3)
          --warmup S         pairs, rate, group: seconds of load before measuring (default 5; quick 4)
          --passes N         pairs, rate: passes over the servers, one server after another in each; the
                             tables show each server's median pass (default 3; quick 1)
          --repeat N         run everything N times (default 1)
          --out DIR          where latest.json, latest.md and the charts go (default bench/results)
          --help             this text

        Other modes: report [FILE] writes the tables and charts again from a results file.
        """;

    private static readonly string[] Scenarios = ["idle", "pairs", "rate", "group", "reconnect", "presence", "all"];
    private static readonly string[] ValueOptions = ["--servers", "--steps", "--pairs", "--window", "--rate", "--seconds", "--warmup", "--passes", "--repeat", "--out"];

    public bool Help { get; private init; }
    public string Scenario { get; private init; } = "all";
    public bool Quick { get; private init; }
    public IReadOnlyList<ServerKind> Servers { get; private init; } = [];
    public IReadOnlyList<int> Steps { get; private init; } = [];
    public int Pairs { get; private init; }
    public int Window { get; private init; }
    public double Rate { get; private init; }
    public double Seconds { get; private init; }
    public double Warmup { get; private init; }
    public int Passes { get; private init; }
    public int Repeat { get; private init; }
    public string? Out { get; private init; }

    /// <exception cref="UsageException">An unknown scenario or option, a missing or malformed value.</exception>
    public static CommandLine Parse(IReadOnlyList<string> args)
    {
        string? scenario = null;
        bool quick = false, help = false;
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (arg is "--help" or "-h" or "help")
            {
                help = true;
            }
            else if (arg == "--quick")
            {
                quick = true;
            }
            else if (Array.IndexOf(ValueOptions, arg) >= 0)
            {
                if (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    throw new UsageException($"{arg} needs a value");
                }
                values[arg] = args[++i];
            }
            else if (arg.StartsWith('-'))
            {
                throw new UsageException($"unknown option '{arg}'");
            }
            else if (scenario is null && Array.IndexOf(Scenarios, arg) >= 0)
            {
                scenario = arg;
            }
            else
            {
                throw new UsageException(scenario is null
                    ? $"unknown scenario '{arg}' (one of: {string.Join(", ", Scenarios)})"
                    : $"one scenario at a time: '{scenario}' was given, then '{arg}'");
            }
        }
        if (help)
        {
            return new CommandLine { Help = true };
        }

        string Value(string name, string fallback) => values.GetValueOrDefault(name, fallback);
        return new CommandLine
        {
            Scenario = scenario ?? "all",
            Quick = quick,
            Servers = values.TryGetValue("--servers", out string? servers) ? [.. List("--servers", servers).Select(ParseServer)] : Enum.GetValues<ServerKind>(),
            Steps = [.. List("--steps", Value("--steps", quick ? "1000,4000" : "1000,5000,10000,18000")).Select(s => Positive("--steps", s))],
            Pairs = Positive("--pairs", Value("--pairs", "100")),
            Window = Positive("--window", Value("--window", "64")),
            Rate = PositiveNumber("--rate", Value("--rate", "20000")),
            Seconds = PositiveNumber("--seconds", Value("--seconds", quick ? "3" : "15")),
            // Quick: 4 s, not less. The gateway's hot path is recompiled with its profile in the first seconds of load
            // (its csproj); after 2 s, pairs measured 165-205k per CPU-second against 315-381k after 4 s (session 13).
            Warmup = Number("--warmup", Value("--warmup", quick ? "4" : "5")),
            // Three passes: on this machine one 15 s measurement of one server moves by ±30% from one minute to the next,
            // and a full run once caught the gateway at 216k delivered per CPU-second where three passes right after
            // gave 262k-415k (docs/benchmarks.md, session 13). Interleaved, a slow minute hits every server alike.
            Passes = Positive("--passes", Value("--passes", quick ? "1" : "3")),
            Repeat = Positive("--repeat", Value("--repeat", "1")),
            Out = values.GetValueOrDefault("--out"),
        };
    }

    private static string[] List(string option, string value)
    {
        string[] items = value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        return items.Length > 0 ? items : throw new UsageException($"{option} needs at least one item");
    }

    private static ServerKind ParseServer(string name)
    {
        try
        {
            return ServerKinds.Parse(name);
        }
        catch (ArgumentException ex)
        {
            throw new UsageException(ex.Message);
        }
    }

    private static int Positive(string option, string value) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n > 0
            ? n : throw new UsageException($"{option} takes a positive whole number, not '{value}'");

    private static double PositiveNumber(string option, string value) =>
        TryParseNumber(value, out double n) && n > 0 ? n : throw new UsageException($"{option} takes a positive number, not '{value}'");

    private static double Number(string option, string value) =>
        TryParseNumber(value, out double n) && n >= 0 ? n : throw new UsageException($"{option} takes a number, 0 or more, not '{value}'");

    private static bool TryParseNumber(string value, out double n) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out n) && double.IsFinite(n);
}
