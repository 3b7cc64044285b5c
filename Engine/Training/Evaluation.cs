using Engine.Autograd;
using Engine.Data;
using Engine.NN;

namespace Engine.Training;

/// <summary>Evaluation metrics that do not depend on the tokenizer.</summary>
public static class Evaluation
{
    /// <summary>
    /// Validation bits per byte, nanochat's tokenizer-independent loss: the summed cross-entropy of
    /// every predicted token, in bits, over the UTF-8 bytes those tokens stand for. Tokens with no
    /// bytes (special tokens) are left out of both sums. <paramref name="tokenBytes"/>[id] is the
    /// byte length of token id.
    /// </summary>
    public static double BitsPerByte(Gpt model, BatchLoader loader, int batches, ReadOnlySpan<int> tokenBytes)
    {
        if (tokenBytes.Length != model.Config.VocabSize)
            throw new ArgumentException($"tokenBytes has {tokenBytes.Length} entries but the model's vocabulary has {model.Config.VocabSize} tokens.", nameof(tokenBytes));
        double nats = 0;
        long bytes = 0;
        using var noGrad = GradMode.NoGrad();
        for (int i = 0; i < batches; i++)
        {
            using var scope = new TensorScope();
            var (x, y) = loader.Next();
            var losses = model.TokenLosses(x, y).To(DType.Float64).ToArray<double>();
            var targets = y.ToArray<long>();
            for (int j = 0; j < targets.Length; j++)
            {
                if (targets[j] < 0) continue;
                int n = tokenBytes[(int)targets[j]];
                if (n == 0) continue;
                nats += losses[j];
                bytes += n;
            }
        }
        if (bytes == 0) throw new InvalidOperationException("The evaluation batches held no bytes (only special tokens?).");
        return nats / Math.Log(2) / bytes;
    }
}
