using System.Reflection;
using System.Text;
using Engine.Gpu.Ptx;

namespace Engine.Gpu;

/// <summary>
/// Compiled PTX on disk, one file per <see cref="KernelFingerprint"/>, so that a process starting again
/// skips the compiler for kernels it has seen. The folder is <c>$ENGINE_KERNEL_CACHE</c> when set ("off"
/// disables the cache), else <c>$XDG_CACHE_HOME/engine/ptx</c>, else <c>~/.cache/engine/ptx</c>
/// (<c>%LOCALAPPDATA%\engine\ptx</c> on Windows).
/// </summary>
/// <remarks>
/// Entries are written to a temporary file in the same folder and renamed into place, so a reader sees
/// a whole entry or none, and two processes compiling the same kernel both succeed. An entry that
/// cannot be read or written is a miss, never an error: the cache only ever saves time.
/// </remarks>
internal sealed class PtxDiskCache
{
    /// <summary>The environment variable that overrides the folder (or disables the cache with "off").</summary>
    public const string EnvironmentVariable = "ENGINE_KERNEL_CACHE";

    private static readonly Lazy<PtxDiskCache?> DefaultCache = new(() => DefaultDirectory() is { } d ? new PtxDiskCache(d) : null);

    /// <summary>Creates a cache in <paramref name="directory"/> (created on the first write).</summary>
    public PtxDiskCache(string directory) => Directory = directory;

    /// <summary>The cache of this process (from the environment at first use), or null when disabled.</summary>
    public static PtxDiskCache? Default => DefaultCache.Value;

    /// <summary>The folder holding the entries.</summary>
    public string Directory { get; }

    /// <summary>Hits since this instance was created.</summary>
    public int Hits => _hits;

    /// <summary>Misses (compilations) since this instance was created.</summary>
    public int Misses => _misses;

    private int _hits;
    private int _misses;

    /// <summary>The folder the environment asks for, or null when it says "off".</summary>
    public static string? DefaultDirectory()
    {
        string? overridden = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(overridden))
        {
            return overridden.Trim().Equals("off", StringComparison.OrdinalIgnoreCase) ? null : Path.GetFullPath(overridden.Trim());
        }
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (!string.IsNullOrWhiteSpace(xdg) && Path.IsPathRooted(xdg))
        {
            return Path.Combine(xdg, "engine", "ptx");
        }
        if (OperatingSystem.IsWindows())
        {
            return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "engine", "ptx");
        }
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return string.IsNullOrEmpty(home) ? null : Path.Combine(home, ".cache", "engine", "ptx");
    }

    /// <summary>The file an entry for <paramref name="kernel"/> on <paramref name="target"/> lives in.</summary>
    public string PathOf(MethodInfo kernel, string target) => Path.Combine(Directory, KernelFingerprint.Compute(kernel, target) + ".ptx");

    /// <summary>
    /// The cached PTX of <paramref name="kernel"/> for <paramref name="target"/>, or the result of
    /// <paramref name="compile"/>, which is then stored.
    /// </summary>
    /// <param name="kernel">The kernel method (closed if generic).</param>
    /// <param name="target">Everything about the target that changes the code, e.g. "sm_80 ptx 7.0".</param>
    /// <param name="compile">Produces the PTX on a miss; its exceptions pass through and nothing is stored.</param>
    /// <param name="hit">True when the entry came from disk.</param>
    public string GetOrAdd(MethodInfo kernel, string target, Func<string> compile, out bool hit)
    {
        string path = PathOf(kernel, target);
        if (TryRead(path) is { } cached)
        {
            Interlocked.Increment(ref _hits);
            hit = true;
            return cached;
        }
        Interlocked.Increment(ref _misses);
        hit = false;
        string ptx = compile();
        TryWrite(path, ptx);
        return ptx;
    }

    /// <summary>The cached PTX of <paramref name="kernel"/> for <paramref name="target"/>, or null (nothing is compiled).</summary>
    /// <param name="kernel">The kernel method (closed if generic).</param>
    /// <param name="target">The target.</param>
    public string? TryGet(MethodInfo kernel, PtxTarget target)
    {
        string? cached = TryRead(PathOf(kernel, target.CacheKey));
        if (cached is not null)
        {
            Interlocked.Increment(ref _hits);
        }
        return cached;
    }

    /// <summary>The PTX of <paramref name="kernel"/> for <paramref name="target"/>: from this cache, or compiled and stored.</summary>
    public string GetOrCompile(MethodInfo kernel, PtxTarget target, out bool hit) =>
        GetOrAdd(kernel, target.CacheKey, () => Compile(kernel, target), out hit);

    /// <summary>The PTX of <paramref name="kernel"/>, through <see cref="Default"/> when the cache is enabled.</summary>
    public static string Get(MethodInfo kernel, PtxTarget target) =>
        Default is { } cache ? cache.GetOrCompile(kernel, target, out _) : Compile(kernel, target);

    /// <summary>The uncached path: IL to IR (itself cached in memory per method), then PTX text.</summary>
    public static string Compile(MethodInfo kernel, PtxTarget target) =>
        PtxEmitter.Emit(KernelCompiler.Compile(kernel).Function, target, "kernel");

    private static string? TryRead(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadAllText(path, Encoding.UTF8) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private void TryWrite(string path, string ptx)
    {
        string temp = Path.Combine(Directory, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            File.WriteAllText(temp, ptx, new UTF8Encoding(false));
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            try
            {
                File.Delete(temp);
            }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException)
            {
                // A read-only or vanished folder: the entry is simply not cached.
            }
        }
    }
}
