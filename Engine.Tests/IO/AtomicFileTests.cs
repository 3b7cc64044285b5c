using System.Text;
using Engine.IO;

namespace Engine.Tests.IO;

public class AtomicFileTests
{
    private static string TempDir() => Directory.CreateTempSubdirectory("engine-atomic-").FullName;

    [Fact]
    public void Writes_and_replaces_leaving_only_the_target()
    {
        var dir = TempDir();
        var path = Path.Combine(dir, "sub", "file.txt");    // the missing folder is created
        AtomicFile.WriteAllText(path, "first");
        Assert.Equal("first", File.ReadAllText(path));
        AtomicFile.WriteAllBytes(path, [1, 2, 3]);
        Assert.Equal([1, 2, 3], File.ReadAllBytes(path));
        AtomicFile.Write(path, s => { s.Write("stream "u8); s.Write("write"u8); });
        Assert.Equal("stream write", File.ReadAllText(path));
        AtomicFile.WriteAllText(path, "ünï");
        Assert.Equal(Encoding.UTF8.GetBytes("ünï"), File.ReadAllBytes(path));   // UTF-8 without a byte-order mark
        Assert.Equal([path], Directory.GetFiles(Path.GetDirectoryName(path)!));
    }

    [Fact]
    public void A_failing_writer_leaves_the_old_file_and_no_temporaries()
    {
        var dir = TempDir();
        var path = Path.Combine(dir, "t.safetensors");
        AtomicFile.WriteAllText(path, "old");
        var e = Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s =>
        {
            s.Write(new byte[100_000]);   // more than the stream's buffer, so part of it reached the temporary file
            throw new InvalidOperationException("disk full");
        }));
        Assert.Equal("disk full", e.Message);
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(dir, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public void A_failing_first_write_creates_nothing()
    {
        var dir = TempDir();
        var path = Path.Combine(dir, "new.bin");
        Assert.Throws<IOException>(() => AtomicFile.Write(path, _ => throw new IOException("boom")));
        Assert.Empty(Directory.GetFiles(dir, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public void A_failed_safetensors_write_keeps_the_old_checkpoint()
    {
        var dir = TempDir();
        var path = Path.Combine(dir, "model.safetensors");
        SafeTensors.Write(path, [SafeTensorEntry.FromSingle("w", [1f, 2f], [2])]);
        var before = File.ReadAllBytes(path);
        // An enumeration that fails half-way, as a tensor conversion error would.
        IEnumerable<SafeTensorEntry> Failing()
        {
            yield return SafeTensorEntry.FromSingle("w", [3f, 4f], [2]);
            throw new InvalidOperationException("conversion failed");
        }
        Assert.Throws<InvalidOperationException>(() => SafeTensors.Write(path, Failing()));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(dir));
    }

    [Fact]
    public void A_folder_in_the_way_is_reported()
    {
        var dir = TempDir();
        var e = Assert.Throws<IOException>(() => AtomicFile.WriteAllText(dir, "x"));
        Assert.Contains("folder", e.Message);
    }

    [Fact]
    public void Unix_permissions_of_the_old_file_are_kept()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Skip("Unix file modes do not exist on Windows.");
            return;
        }
        var path = Path.Combine(TempDir(), "secret.txt");
        AtomicFile.WriteAllText(path, "v1");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        AtomicFile.WriteAllText(path, "v2");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Equal("v2", File.ReadAllText(path));
    }

    [Fact]
    public void Folder_sync_works_where_libc_exists()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), "Folder sync is a Unix call.");
        Assert.True(AtomicFile.CanSyncDirectories);
        Assert.True(AtomicFile.SyncDirectory(TempDir()));
        Assert.False(AtomicFile.SyncDirectory(Path.Combine(TempDir(), "missing")));
    }

    [Fact]
    public async Task Readers_see_a_whole_old_or_whole_new_file_while_it_is_rewritten()
    {
        var path = Path.Combine(TempDir(), "live.bin");
        const int size = 200_000, versions = 60;
        byte[] Version(int v) => Enumerable.Repeat((byte)v, size).ToArray();
        AtomicFile.WriteAllBytes(path, Version(0));
        using var done = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        int reads = 0;
        var reader = Task.Run(() =>
        {
            while (!done.IsCancellationRequested)
            {
                var b = File.ReadAllBytes(path);
                Assert.Equal(size, b.Length);
                Assert.True(b.All(x => x == b[0]), "a read saw a mix of two versions");
                Interlocked.Increment(ref reads);
            }
        }, TestContext.Current.CancellationToken);
        // Keep rewriting until the reader has had plenty of chances to catch a write half-way (or 20 s pass).
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int v = 0;
        while ((v < versions || Volatile.Read(ref reads) < 50) && clock.Elapsed.TotalSeconds < 20 && !reader.IsCompleted)
            AtomicFile.WriteAllBytes(path, Version(++v % 256));
        await done.CancelAsync();
        await reader;
        Assert.Equal(Version(v % 256), File.ReadAllBytes(path));
        Assert.True(reads >= 50, $"the reader managed only {reads} reads");
    }
}
