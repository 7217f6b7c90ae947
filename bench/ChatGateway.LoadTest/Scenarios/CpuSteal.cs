using System.Globalization;

namespace ChatGateway.LoadTest.Scenarios;

/// <summary>
/// Each core's time so far from <c>/proc/stat</c> (clock ticks): all of it, and what the hypervisor took for other work
/// while the core had something to run (steal). On this suite's virtual machine the host took 7–12% of both cores while
/// the gateway in Commit mode wrote ~1,000 commits a second (`rate` at 5,000 msgs/s; under 1% in Relaxed mode and
/// with the raw TCP relay), and 7–10% in the gateway's Relaxed `pairs` passes (docs/benchmarks.md, session 26),
/// stalling whichever process the core ran: a reader needs it beside a figure to tell the host from the software.
/// </summary>
public sealed class CpuSteal
{
    private readonly Dictionary<int, (long Steal, long Total)> _cores;

    private CpuSteal(Dictionary<int, (long, long)> cores) => _cores = cores;

    public static CpuSteal? Read()
    {
        const string path = "/proc/stat";
        return File.Exists(path) ? Parse(File.ReadLines(path)) : null;
    }

    /// <summary>From the lines of <c>/proc/stat</c>.</summary>
    public static CpuSteal Parse(IEnumerable<string> lines)
    {
        var cores = new Dictionary<int, (long, long)>();
        foreach (string line in lines)
        {
            // "cpuN user nice system idle iowait irq softirq steal guest guest_nice"; guest time is inside user already.
            if (!line.StartsWith("cpu", StringComparison.Ordinal) || line.Length < 4 || !char.IsAsciiDigit(line[3]))
            {
                continue;
            }
            string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            int core = int.Parse(fields[0].AsSpan(3), CultureInfo.InvariantCulture);
            long total = 0;
            for (int i = 1; i <= Math.Min(8, fields.Length - 1); i++)
            {
                total += long.Parse(fields[i], CultureInfo.InvariantCulture);
            }
            cores[core] = (fields.Length > 8 ? long.Parse(fields[8], CultureInfo.InvariantCulture) : 0, total);
        }
        return new CpuSteal(cores);
    }

    /// <summary>The share of <paramref name="core"/>'s time stolen between <paramref name="earlier"/> and this reading; null when unknown.</summary>
    public double? ShareSince(CpuSteal earlier, int core) =>
        _cores.TryGetValue(core, out var now) && earlier._cores.TryGetValue(core, out var then) && now.Total > then.Total
            ? (double)(now.Steal - then.Steal) / (now.Total - then.Total)
            : null;
}
