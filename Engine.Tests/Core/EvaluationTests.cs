using Engine.Data;
using Engine.NN;
using Engine.Training;

namespace Engine.Tests.Core;

public class EvaluationTests
{
    [Fact]
    public void Bits_per_byte_is_the_summed_loss_in_bits_over_the_bytes_skipping_byteless_tokens()
    {
        var dir = Directory.CreateTempSubdirectory("engine-eval-");
        try
        {
            var config = new GptConfig { SequenceLen = 8, VocabSize = 10, NLayer = 1, NHead = 2, NKvHead = 2, NEmbd = 8, WindowPattern = "L" };
            using var model = new Gpt(config);       // zero head: uniform predictions, loss ln(10) per token
            var tokens = new List<int>();
            for (int d = 0; d < 20; d++) { tokens.Add(0); tokens.AddRange([1, 2, 3, 4, 5, 6, 7, 8, 9]); }
            var path = Path.Combine(dir.FullName, "v.bin");
            TokenShard.Write(path, [.. tokens], 10);
            using var loader = new BatchLoader([path], 0, 2, 8);
            // Token 0 (bos) has no bytes; token i has i bytes.
            int[] bytes = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
            double bpb = Evaluation.BitsPerByte(model, loader, 1, bytes);
            // Each row: inputs 0..7 predict targets 1..8 (bytes 1+…+8 = 36), each costing ln(10) nats.
            double expected = 8 * Math.Log(10) / Math.Log(2) / 36;
            Assert.Equal(expected, bpb, 5);
            Assert.Throws<ArgumentException>(() => Evaluation.BitsPerByte(model, loader, 1, [1, 2]));
        }
        finally { dir.Delete(recursive: true); }
    }
}
