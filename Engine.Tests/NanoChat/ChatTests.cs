using Engine.Inference;
using Engine.NN;
using NanoChat.Chat;
using NanoChat.Data;
using NanoChat.Report;
using NanoChat.Tasks;
using NanoChat.Training;

namespace Engine.Tests.NanoChat;

public class ChatTests(MicroRun micro) : IClassFixture<MicroRun>
{
    [Fact]
    public void Sft_targets_are_exactly_the_assistant_tokens()
    {
        var format = new ChatFormat(micro.Tokenizer);
        var conversation = new Conversation([
            Message.User("What is 12*34?"),
            Message.Assistant(new Part(PartKind.Python, "12*34"), new Part(PartKind.Output, "408"), new Part(PartKind.Text, "The answer is 408.")),
            Message.User("thanks"),
            Message.Assistant("you are welcome"),
        ]);
        var (ids, mask) = format.Render(conversation);
        Assert.Equal(format.Bos, ids[0]);
        var tok = micro.Tokenizer;
        // The trained tokens, in order: the python block (with its markers), the text, the end marker, for each reply.
        var expectedTrained = new List<int> { format.PythonStart };
        expectedTrained.AddRange(tok.Encode("12*34"));
        expectedTrained.Add(format.PythonEnd);
        expectedTrained.AddRange(tok.Encode("The answer is 408."));
        expectedTrained.Add(format.AssistantEnd);
        expectedTrained.AddRange(tok.Encode("you are welcome"));
        expectedTrained.Add(format.AssistantEnd);
        Assert.Equal(expectedTrained, ids.Where((_, i) => mask[i] == 1));
        // The tool's output block is in the sequence but never a target.
        int outputStart = ids.IndexOf(format.OutputStart);
        Assert.True(outputStart > 0);
        Assert.Equal(0, mask[outputStart]);
        Assert.Equal(tok.Encode("408"), ids.Skip(outputStart + 1).Take(tok.Encode("408").Length));

        var (x, y, t, targets) = SftTraining.Collate([(ids, mask)], maxLen: 256, padId: format.Bos);
        Assert.Equal(0, t % 32);
        Assert.Equal(expectedTrained.Count, targets);
        for (int i = 0; i < t; i++)
        {
            bool trained = i + 1 < ids.Count && mask[i + 1] == 1;
            Assert.Equal(trained ? ids[i + 1] : -1, y[i]);
            if (i < ids.Count - 1) Assert.Equal(ids[i], x[i]);   // the last token is only a target
        }
    }

    [Fact]
    public void Pretraining_text_rows_join_an_sft_batch_with_every_position_a_target()
    {
        var format = new ChatFormat(micro.Tokenizer);
        var rendered = format.Render(new Conversation([Message.User("What is 2+3?"), Message.Assistant("5")]));
        var (x, y, t, targets) = SftTraining.Collate([rendered], maxLen: 64, padId: format.Bos);
        string[] shards = Directory.GetFiles(micro.Run.ShardDir, "train_*.bin");
        using var loader = new Engine.Data.BatchLoader(shards, format.Bos, batchSize: 2, sequenceLength: 64);
        using var reference = new Engine.Data.BatchLoader(shards, format.Bos, batchSize: 2, sequenceLength: 64);
        var (rx, ry) = reference.Next();
        long[] refX = rx.ToArray<long>(), refY = ry.ToArray<long>();
        rx.Dispose();
        ry.Dispose();

        var (mx, my, mixedTargets) = SftTraining.AppendText(loader, x, y, t, targets);
        Assert.Equal(3 * t, mx.Length);
        Assert.Equal(targets + 2 * t, mixedTargets);
        Assert.Equal(x, mx[..t]);                      // the conversation row is untouched
        Assert.Equal(y, my[..t]);
        for (int r = 0; r < 2; r++)
        {
            // Each text row is the loader's row cut to the batch's length, every position trained.
            Assert.Equal(refX[(r * 64)..(r * 64 + t)], mx[((r + 1) * t)..((r + 2) * t)]);
            Assert.Equal(refY[(r * 64)..(r * 64 + t)], my[((r + 1) * t)..((r + 2) * t)]);
            Assert.DoesNotContain(-1L, my[((r + 1) * t)..((r + 2) * t)]);
        }
    }

    [Fact]
    public void Chat_data_jsonl_reads_strings_and_tool_parts()
    {
        var c = Conversation.FromJson("""{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}, {"role": "assistant", "content": [{"type": "python", "text": "2+2"}, {"type": "python_output", "text": "4"}, {"type": "text", "text": "4"}]}]}""");
        Assert.Equal(3, c.Messages.Count);
        Assert.Equal(PartKind.Output, c.Messages[2].Parts[1].Kind);
        var (ids, _) = new ChatFormat(micro.Tokenizer).Render(c);   // system merged into the first user turn
        Assert.Equal(micro.Tokenizer.Encode("Be brief.\n\n2+2?"), ids.Skip(2).Take(micro.Tokenizer.Encode("Be brief.\n\n2+2?").Length));
        Assert.Throws<FormatException>(() => Conversation.FromJson("""{"messages": [{"role": "robot", "content": "x"}]}"""));
    }

    [Fact]
    public void Task_generators_are_deterministic_and_hold_questions_out()
    {
        var words = WordList.Fallback.ToList();
        var members = Enumerable.Range(0, 400).Select(i => new MemberRecord($"M:N.T.M{i}", $"T.M{i}", $"Does thing number {i} well.", Corpus.IsValidation($"M:N.T.M{i}"))).ToList();
        var suite = new TaskSuite(words, members);
        Assert.Equal(["arithmetic", "spelling", "letter_count", "docs"], suite.Tasks.Select(t => t.Task.Name));
        foreach (var (task, _) in suite.Tasks)
        {
            var a = task.Examples(5, evaluation: false).Take(50).Select(e => e.Conversation.Messages[0].Text + "|" + e.Reference).ToList();
            var b = task.Examples(5, evaluation: false).Take(50).Select(e => e.Conversation.Messages[0].Text + "|" + e.Reference).ToList();
            Assert.Equal(a, b);
            var held = task.Examples(5, evaluation: true).Take(50).Select(e => e.Conversation.Messages[0].Text + "|" + e.Reference).ToHashSet();
            var trained = task.Examples(6, evaluation: false).Take(2000).Select(e => e.Conversation.Messages[0].Text + "|" + e.Reference);
            Assert.DoesNotContain(trained, held.Contains);
        }
        var mixA = suite.Mixture(9, []).Take(100).Select(c => c.Messages[0].Text).ToList();
        Assert.Equal(mixA, suite.Mixture(9, []).Take(100).Select(c => c.Messages[0].Text));

        // Arithmetic answers come from the calculator, through a python block.
        foreach (var e in new ArithmeticTask().Examples(1, false).Take(20))
        {
            var reply = e.Conversation.Messages[1];
            Assert.Equal(PartKind.Python, reply.Parts[0].Kind);
            Assert.Equal(Calculator.Evaluate(reply.Parts[0].Text), reply.Parts[1].Text);
            Assert.Equal(1, new ArithmeticTask().Score(e, reply.Parts[2].Text));
        }
        Assert.Equal(1.0, DocsTask.Overlap("Gets the value.", "gets the value"));
        Assert.Equal(0.5, DocsTask.Overlap("a b", "a c"), 1e-12);
    }

    [Fact]
    public void Generation_runs_the_calculator_when_a_python_block_closes()
    {
        var format = new ChatFormat(micro.Tokenizer);
        using var model = new Gpt(Preset.Micro.ModelConfig(micro.Tokenizer.VocabSize), seed: 1);
        var session = new ChatSession(model, format);
        var ids = new List<int> { format.Bos, format.AssistantStart, format.PythonStart };
        ids.AddRange(micro.Tokenizer.Encode("12*34"));
        ids.Add(format.PythonEnd);
        var output = session.ToolOutput(ids);
        Assert.Equal(format.OutputStart, output[0]);
        Assert.Equal(format.OutputEnd, output[^1]);
        Assert.Equal("408", micro.Tokenizer.Decode(output.ToArray()[1..^1]));

        // A whole (untrained) reply streams, stops within its budget and is reproducible.
        var prompt = format.RenderForCompletion(new Conversation([Message.User("hi")]));
        var first = session.Reply([.. prompt], 12, new SamplingOptions(0.8, 20, 3)).Select(e => e.Token).ToList();
        var second = session.Reply([.. prompt], 12, new SamplingOptions(0.8, 20, 3)).Select(e => e.Token).ToList();
        Assert.Equal(first, second);
        Assert.InRange(first.Count, 1, 12 + 64);
    }

    [Fact]
    public void Svg_chart_is_well_formed_with_nice_axes()
    {
        var svg = SvgLineChart.Render("loss", "step", "nats", [new Series("train", "#000", [(0, 3.2), (10, 2.5), (20, 2.1)]), new Series("empty", "#f00", [])]);
        var doc = System.Xml.Linq.XDocument.Parse(svg);
        Assert.Single(doc.Descendants("{http://www.w3.org/2000/svg}polyline"));
        Assert.Equal((2.0, 3.5, 0.5), RoundTriple(SvgLineChart.NiceRange(2.1, 3.2)));
        Assert.Contains("no data", SvgLineChart.Render("x", "a", "b", []));
    }

    private static (double, double, double) RoundTriple((double A, double B, double C) t) => (Math.Round(t.A, 9), Math.Round(t.B, 9), Math.Round(t.C, 9));
}
