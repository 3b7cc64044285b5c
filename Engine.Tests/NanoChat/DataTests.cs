using System.Xml.Linq;
using Engine.Data;
using NanoChat;
using NanoChat.Data;
using NanoChat.Tokenizing;

namespace Engine.Tests.NanoChat;

public class NanoChatDataTests(MicroRun micro) : IClassFixture<MicroRun>
{
    [Fact]
    public void Sdk_docs_are_found_on_this_machine_and_become_documents()
    {
        if (!SdkDocs.DotnetRoots().Any(root => Directory.Exists(Path.Combine(root, "packs"))))
        {
            // A runtime-only install (the GPU machine gets a packed runtime) has no reference packs to read.
            Assert.Skip("No .NET SDK reference packs here (runtime only): " + string.Join(", ", SdkDocs.DotnetRoots()));
        }
        var files = SdkDocs.FindXmlFiles();
        Assert.True(files.Count > 0, "No SDK XML docs found under " + string.Join(", ", SdkDocs.DotnetRoots()));
        var runtime = files.FirstOrDefault(f => Path.GetFileName(f) == "System.Runtime.xml") ?? files[0];
        var members = SdkDocs.ReadMembers([runtime]);
        Assert.True(members.Count > 1000, $"{runtime} gave only {members.Count} members");
        Assert.All(members.Take(500), m =>
        {
            Assert.NotEmpty(m.Summary);
            Assert.DoesNotContain("<see", m.Summary);
            Assert.DoesNotContain("cref=", m.Summary);
        });
        var trim = members.FirstOrDefault(m => m.Id == "M:System.String.Trim");
        if (trim is not null)
        {
            Assert.Equal("String.Trim", trim.DisplayName);
            Assert.StartsWith("method System.String.Trim\n", trim.ToDocument());
        }
    }

    [Fact]
    public void Doc_xml_becomes_plain_text_with_names_for_references()
    {
        var member = XElement.Parse("""
            <member name="M:System.Collections.Generic.List`1.IndexOf(`0,System.Int32)">
              <summary>Searches for <paramref name="item" /> starting at <see cref="P:System.Collections.Generic.List`1.Count" />;
              returns <see langword="null" /> if <c>x</c> is absent. <see href="https://example.org">Docs</see>
              <para>Second paragraph.</para></summary>
              <param name="item">The object to locate.</param>
              <param name="index">The starting index.</param>
              <returns>The index, or -1.</returns>
            </member>
            """);
        var m = SdkDocs.Parse(member)!;
        Assert.Equal("Searches for item starting at List.Count; returns null if x is absent. Docs\nSecond paragraph.", m.Summary);
        Assert.Equal("method", m.Kind);
        Assert.Equal("List.IndexOf(T, Int32)", m.DisplayName);
        Assert.Equal([("item", "The object to locate."), ("index", "The starting index.")], m.Parameters);
        Assert.Contains("Returns: The index, or -1.", m.ToDocument());
        Assert.Equal("Dictionary(IDictionary<String, Int32>)", ApiMember.ShortName("M:System.Collections.Generic.Dictionary`2.#ctor(System.Collections.Generic.IDictionary{System.String,System.Int32})"));
    }

    [Fact]
    public void The_split_depends_on_the_document_not_on_its_position()
    {
        Assert.Equal(Corpus.IsValidation("M:System.String.Trim"), Corpus.IsValidation("M:System.String.Trim"));
        Assert.Equal(0xcbf29ce484222325UL, Corpus.StableHash(""));          // FNV-1a offset basis
        int val = Enumerable.Range(0, 10_000).Count(i => Corpus.IsValidation("doc " + i));
        Assert.InRange(val, 400, 600);                                       // about 5%
    }

    [Fact]
    public void Shards_round_trip_documents_with_bos_and_never_split_one()
    {
        var tok = micro.Tokenizer;
        var dir = Path.Combine(micro.Root, "shard-rt");
        Directory.CreateDirectory(dir);
        var split = Path.Combine(micro.Run.DataDir, RunLayout.ValFile);
        long total = ShardWriter.WriteSplit(tok, split, dir, "val", shardTokens: 2000, _ => { });
        var files = Directory.GetFiles(dir, "val_*.bin").Order(StringComparer.Ordinal).ToArray();
        Assert.True(files.Length > 1, "expected several shards at 2,000 tokens each");
        var expected = Corpus.ReadSplit(split).Select(d => (int[])[tok.BosId, .. tok.Encode(d)]).ToList();
        var read = new List<long>();
        foreach (var f in files)
        {
            using var shard = TokenShard.Open(f);
            Assert.Equal(2, shard.TokenBytes);                                // vocabulary 300 fits uint16
            Assert.Equal(tok.VocabSize, shard.VocabSize);
            var ids = new long[shard.Count];
            shard.Read(0, ids);
            Assert.Equal(tok.BosId, ids[0]);                                  // every shard starts a document
            read.AddRange(ids);
        }
        Assert.Equal(total, read.Count);
        Assert.Equal(expected.SelectMany(d => d).Select(i => (long)i), read);
        Assert.Equal(0, ShardWriter.TokenByteLengths(tok)[tok.BosId]);
        Assert.Equal(1, ShardWriter.TokenByteLengths(tok)['a']);
    }

    [Fact]
    public void User_data_reads_txt_paragraphs_and_jsonl_text()
    {
        var dir = Path.Combine(micro.Root, "user-data");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "a.txt"), "one\ntwo\n\n\nthree\n");
        File.WriteAllText(Path.Combine(dir, "b.jsonl"), "{\"text\": \"x\"}\n\n{\"text\": \"y\\nz\"}\n");
        Assert.Equal(["one\ntwo", "three"], Corpus.ReadUserData(Path.Combine(dir, "a.txt")));
        Assert.Equal(["x", "y\nz"], Corpus.ReadUserData(Path.Combine(dir, "b.jsonl")));
        File.WriteAllText(Path.Combine(dir, "c.jsonl"), "{\"content\": 1}\n");
        Assert.Contains("c.jsonl:1", Assert.Throws<UserException>(() => Corpus.ReadUserData(Path.Combine(dir, "c.jsonl")).ToList()).Message);
        Assert.Throws<UserException>(() => Corpus.ReadUserData(Path.Combine(dir, "d.csv")).ToList());
    }
}
