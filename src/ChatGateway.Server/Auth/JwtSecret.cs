using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;

namespace ChatGateway.Server.Auth;

/// <summary>
/// Where the signing secret comes from: configuration (Auth:JwtSecret, CHAT_JWT_SECRET) or, when none is set, a
/// development secret generated once under the data folder, so that a laptop gateway and
/// <c>./run.sh token</c> agree without setup.
/// </summary>
public sealed class JwtSecret
{
    public const string DevSecretFile = "dev-jwt-secret";
    public const int MinimumBytes = 32; // HS256 needs a 256-bit key

    private JwtSecret(byte[] key, bool development, string? path)
    {
        Key = key;
        IsDevelopment = development;
        DevSecretPath = path;
    }

    public byte[] Key { get; }
    public bool IsDevelopment { get; }
    public string? DevSecretPath { get; }

    public static JwtSecret Resolve(string? configured, string dataDirectory)
    {
        if (!string.IsNullOrEmpty(configured))
        {
            byte[] key = Encoding.UTF8.GetBytes(configured);
            if (key.Length < MinimumBytes)
            {
                throw new InvalidOperationException($"Auth:JwtSecret (CHAT_JWT_SECRET) must be at least {MinimumBytes} bytes; it has {key.Length}");
            }
            return new JwtSecret(key, development: false, path: null);
        }
        string path = Path.Combine(Path.GetFullPath(dataDirectory), DevSecretFile);
        if (!File.Exists(path))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            string generated = Convert.ToBase64String(RandomNumberGenerator.GetBytes(48));
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }
            try
            {
                using var stream = new FileStream(path, options);
                stream.Write(Encoding.UTF8.GetBytes(generated));
                stream.Flush(flushToDisk: true);
            }
            catch (IOException) when (File.Exists(path))
            {
                // another process (run.sh token, a second start) created it first: use theirs
            }
        }
        return new JwtSecret(Encoding.UTF8.GetBytes(File.ReadAllText(path).Trim()), development: true, path);
    }

    public void LogMode(ILogger logger)
    {
        if (IsDevelopment)
        {
            logger.LogWarning("DEV MODE: no Auth:JwtSecret / CHAT_JWT_SECRET configured; tokens are signed with the generated development secret in {Path}. " +
                              "Anyone who can read that file can sign in as any user. Configure a secret for production.", DevSecretPath);
        }
    }
}
