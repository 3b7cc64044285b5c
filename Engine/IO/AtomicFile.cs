using System.Runtime.InteropServices;
using System.Text;

namespace Engine.IO;

/// <summary>
/// Writes files so that a reader, or the file system after a crash, sees the old content or the
/// complete new content, never a torn mix: the bytes go to a temporary file in the same folder, are
/// flushed to the disk, and the temporary file is renamed over the target (a rename within one
/// folder is atomic on Linux, macOS and NTFS). If anything fails, the temporary file is deleted
/// and the old file is left as it was.
/// </summary>
public static unsafe class AtomicFile
{
    /// <summary>Creates or replaces <paramref name="path"/> with what <paramref name="write"/> writes, atomically.</summary>
    /// <param name="path">The target file; its folder is created if missing.</param>
    /// <param name="write">Writes the whole new content to the stream it is given (and must not dispose it).</param>
    /// <remarks>An existing target's Unix permissions are carried over to the new file.</remarks>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full)) throw new IOException($"Cannot write file '{full}': a folder of that name exists.");
        var dir = Path.GetDirectoryName(full) ?? throw new ArgumentException($"'{path}' has no parent folder.", nameof(path));
        Directory.CreateDirectory(dir);
        // A dot-prefixed, unique name: hidden from casual listings, and two writers never share one.
        var temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            if (!OperatingSystem.IsWindows() && File.Exists(full))
                File.SetUnixFileMode(temp, File.GetUnixFileMode(full));
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); }
            catch (Exception) { /* the original failure is the one worth reporting */ }
            throw;
        }
        // The rename lives in the folder's own metadata: sync it too, or a power cut could lose the new name.
        SyncDirectory(dir);
    }

    /// <summary>Creates or replaces <paramref name="path"/> with <paramref name="bytes"/>, atomically.</summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        var copy = bytes.ToArray();   // a span cannot be captured by the callback
        Write(path, s => s.Write(copy));
    }

    /// <summary>Creates or replaces <paramref name="path"/> with <paramref name="text"/>, atomically.</summary>
    /// <param name="path">The target file.</param>
    /// <param name="text">The new content.</param>
    /// <param name="encoding">The encoding; UTF-8 without a byte-order mark if omitted.</param>
    public static void WriteAllText(string path, string text, Encoding? encoding = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        WriteAllBytes(path, (encoding ?? new UTF8Encoding(encoderShouldEmitUTF8Identifier: false)).GetBytes(text));
    }

    private static readonly delegate* unmanaged<byte*, int, int> s_open;
    private static readonly delegate* unmanaged<int, int> s_fsync;
    private static readonly delegate* unmanaged<int, int> s_close;

    static AtomicFile()
    {
        // .NET has no API to fsync a folder, so call libc directly where there is one.
        if (OperatingSystem.IsWindows()) return;
        foreach (var name in new[] { "libc.so.6", "libc", "/usr/lib/libSystem.dylib" })
        {
            if (!NativeLibrary.TryLoad(name, out var lib)) continue;
            if (NativeLibrary.TryGetExport(lib, "open", out var open)
                && NativeLibrary.TryGetExport(lib, "fsync", out var fsync)
                && NativeLibrary.TryGetExport(lib, "close", out var close))
            {
                s_open = (delegate* unmanaged<byte*, int, int>)open;
                s_fsync = (delegate* unmanaged<int, int>)fsync;
                s_close = (delegate* unmanaged<int, int>)close;
            }
            return;
        }
    }

    /// <summary>True when folder syncs are available on this platform (tests use it to tell a skipped sync from a working one).</summary>
    internal static bool CanSyncDirectories => s_open != null;

    /// <summary>Flushes a folder's entries to disk, best effort: returns false where that is not possible.</summary>
    internal static bool SyncDirectory(string dir)
    {
        if (s_open == null) return false;
        var utf8 = Encoding.UTF8.GetBytes(dir + "\0");
        fixed (byte* p = utf8)
        {
            int fd = s_open(p, 0);   // O_RDONLY is 0 on Linux and macOS
            if (fd < 0) return false;
            bool ok = s_fsync(fd) == 0;
            s_close(fd);
            return ok;
        }
    }
}
