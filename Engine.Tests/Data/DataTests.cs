using Engine.Data;

namespace Engine.Tests.Data;

public class DataTests
{
    [Theory]
    [InlineData(300)]      // uint16 ids
    [InlineData(100_000)]  // uint32 ids
    public void Shards_round_trip_and_reject_bad_files(int vocab)
    {
        var dir = Directory.CreateTempSubdirectory("engine-data-");
        try
        {
            var path = Path.Combine(dir.FullName, "a.bin");
            var r = new Random(vocab);
            var tokens = Enumerable.Range(0, 5000).Select(_ => r.Next(vocab)).ToArray();
            TokenShard.Write(path, tokens, vocab);
            using (var shard = TokenShard.Open(path))
            {
                Assert.Equal(vocab <= 65536 ? 2 : 4, shard.TokenBytes);
                var back = new long[tokens.Length];
                shard.Read(0, back);
                Assert.Equal(tokens.Select(t => (long)t), back);
            }
            var bytes = File.ReadAllBytes(path);
            File.WriteAllBytes(path, bytes[..^3]);
            Assert.Contains("truncated", Assert.Throws<InvalidDataException>(() => TokenShard.Open(path)).Message);
            File.WriteAllBytes(path, [.. "NOTASHARD"u8, .. new byte[40]]);
            Assert.Contains("magic", Assert.Throws<InvalidDataException>(() => TokenShard.Open(path)).Message);
            Assert.Contains("out of range", Assert.Throws<ArgumentOutOfRangeException>(() => TokenShard.Write(path, [1, vocab], vocab)).Message);
        }
        finally { dir.Delete(recursive: true); }
    }

    [Fact]
    public void Rows_start_at_documents_do_not_overlap_and_resume_exactly()
    {
        var dir = Directory.CreateTempSubdirectory("engine-data-");
        try
        {
            const int bos = 0, T = 8;
            // Documents of varied length, each a bos followed by its own id repeated.
            var tokens = new List<int>();
            var r = new Random(3);
            for (int doc = 1; doc <= 60; doc++)
            {
                tokens.Add(bos);
                tokens.AddRange(Enumerable.Repeat(doc % 90 + 1, r.Next(1, 15)));
            }
            var path = Path.Combine(dir.FullName, "s.bin");
            TokenShard.Write(path, [.. tokens], 100);
            using var loader = new BatchLoader([path], bos, batchSize: 3, sequenceLength: T);
            var seen = new List<long[]>();
            for (int i = 0; i < 4; i++)
            {
                var (x, y) = loader.Next();
                var xs = x.ToArray<long>(); var ys = y.ToArray<long>();
                for (int b = 0; b < 3; b++)
                {
                    Assert.Equal(bos, xs[b * T]);                                   // every row starts a document
                    Assert.Equal(xs.Skip(b * T + 1).Take(T - 1), ys.Skip(b * T).Take(T - 1));   // targets are inputs shifted by one
                    seen.Add(xs.Skip(b * T).Take(T).ToArray());
                }
                x.Dispose(); y.Dispose();
            }
            // Rows do not overlap: each document's id appears in the first position after bos of at most one row.
            var firstDocs = seen.Select(row => row[1]).ToList();
            Assert.Equal(firstDocs.Count, firstDocs.Distinct().Count());

            loader.Position = 6;                                                    // resume after two batches
            var (rx, ry) = loader.Next();
            Assert.Equal(seen[6], rx.ToArray<long>().Take(T).ToArray());
            rx.Dispose(); ry.Dispose();
        }
        finally { dir.Delete(recursive: true); }
    }
}
