namespace ChatGateway.LoadTest;

/// <summary>
/// Where the suite pins its processes (taskset): the server under test on one core, the load workers on the other, as
/// the method asks, so that neither takes the other's CPU and each one's CPU share is its own.
/// </summary>
public static class Cores
{
    public const int Server = 0;
    public const int Load = 1;
}
