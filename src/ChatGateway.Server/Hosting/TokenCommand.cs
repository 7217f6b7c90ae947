using System.Globalization;
using ChatGateway.Server.Auth;

namespace ChatGateway.Server.Hosting;

/// <summary>
/// <c>ChatGateway.Server token USER [--data DIR] [--lifetime 1.00:00:00]</c> (what <c>./run.sh token USER</c> runs):
/// prints a token for USER signed with the secret the server would use with the same configuration.
/// </summary>
public static class TokenCommand
{
    public static int Run(string[] args)
    {
        if (args.Length < 2 || !long.TryParse(args[1], NumberStyles.None, CultureInfo.InvariantCulture, out long user) || user <= 0)
        {
            Console.Error.WriteLine("usage: token USER_ID   (USER_ID: a decimal integer from 1 to 9223372036854775807)");
            return 2;
        }
        string[] rest = args[2..];
        IConfiguration configuration = new ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true)
            .AddEnvironmentVariables("CHAT_")
            .AddCommandLine(rest)
            .Build();
        GatewayOptions gateway = configuration.Get<GatewayOptions>() ?? new GatewayOptions();
        AuthOptions auth = GatewayHost.ReadAuthOptions(configuration);
        TimeSpan lifetime = configuration["lifetime"] is { } text ? TimeSpan.Parse(text, CultureInfo.InvariantCulture) : auth.DevTokenLifetime;
        var tokens = new TokenService(JwtSecret.Resolve(auth.JwtSecret, gateway.Data), auth, TimeProvider.System);
        Console.WriteLine(tokens.Issue(user, lifetime));
        return 0;
    }
}
