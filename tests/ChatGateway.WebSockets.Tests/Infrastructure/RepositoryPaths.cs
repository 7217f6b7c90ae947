namespace ChatGateway.WebSockets.Tests.Infrastructure;

public static class RepositoryPaths
{
    /// <summary>The folder holding ChatGateway.sln, found by walking up from the test binaries.</summary>
    public static string Root { get; } = FindRoot();

    public static string Interop => Path.Combine(Root, "tests", "interop");

    private static string FindRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ChatGateway.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("ChatGateway.sln not found above " + AppContext.BaseDirectory);
    }
}
