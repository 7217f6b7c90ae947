namespace ChatGateway.LoadTest;

/// <summary>Where the repository is: results go under bench/results, the Node peer lives under bench/peers.</summary>
public static class Paths
{
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ChatGateway.sln")))
            {
                return dir.FullName;
            }
        }
        return Directory.GetCurrentDirectory();
    }
}
