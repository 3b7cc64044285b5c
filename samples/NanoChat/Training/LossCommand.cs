using System.Buffers.Binary;
using Engine;
using Engine.Autograd;
using Engine.IO;
using Engine.NN;

namespace NanoChat.Training;

/// <summary>
/// <c>nanochat loss</c>: the mean next-token cross-entropy of a checkpoint on rows of token ids read
/// from a file of little-endian uint32 values, each row sequence_len + 1 ids long.
/// </summary>
internal static class LossCommand
{
    public static double Compute(string checkpointDir, string tokensFile, int batchRows = 8, Device? device = null)
    {
        if (!File.Exists(Path.Combine(checkpointDir, Checkpoint.ModelFile)))
            throw new UserException($"'{checkpointDir}' is not a checkpoint folder: it has no {Checkpoint.ModelFile}.");
        using var model = Checkpoint.Load(checkpointDir, device);
        var rows = ReadRows(tokensFile, model.Config.SequenceLen, model.Config.VocabSize);
        return MeanLoss(model, rows, batchRows);
    }

    /// <summary>Reads and checks the token file: whole rows of <paramref name="sequenceLen"/> + 1 ids, each below the vocabulary size.</summary>
    public static long[][] ReadRows(string path, int sequenceLen, int vocabSize)
    {
        if (!File.Exists(path)) throw new UserException($"Token file '{path}' does not exist.");
        var bytes = File.ReadAllBytes(path);
        int rowBytes = (sequenceLen + 1) * 4;
        if (bytes.Length == 0 || bytes.Length % rowBytes != 0)
            throw new UserException($"'{path}' has {bytes.Length} bytes, which is not a whole number of rows: the checkpoint's sequence_len is {sequenceLen}, " +
                $"so each row is {sequenceLen + 1} uint32 ids = {rowBytes} bytes.");
        var rows = new long[bytes.Length / rowBytes][];
        for (int r = 0; r < rows.Length; r++)
        {
            rows[r] = new long[sequenceLen + 1];
            for (int i = 0; i <= sequenceLen; i++)
            {
                uint id = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(r * rowBytes + 4 * i));
                if (id >= vocabSize)
                    throw new UserException($"'{path}': token id {id} at row {r}, position {i} is out of range for the checkpoint's vocabulary of {vocabSize}.");
                rows[r][i] = id;
            }
        }
        return rows;
    }

    /// <summary>Mean cross-entropy over every predicted token of every row (rows batched, each batch weighted by its tokens).</summary>
    public static double MeanLoss(Gpt model, long[][] rows, int batchRows)
    {
        int t = rows[0].Length - 1;
        double total = 0;
        long count = 0;
        using var noGrad = GradMode.NoGrad();
        for (int start = 0; start < rows.Length; start += batchRows)
        {
            int b = Math.Min(batchRows, rows.Length - start);
            var x = new long[b * t];
            var y = new long[b * t];
            for (int r = 0; r < b; r++)
            {
                Array.Copy(rows[start + r], 0, x, r * t, t);
                Array.Copy(rows[start + r], 1, y, r * t, t);
            }
            using var scope = new TensorScope();
            double loss = model.Loss(Tensor.FromArray(x, b, t), Tensor.FromArray(y, b, t)).Item();
            total += loss * b * t;
            count += (long)b * t;
        }
        return total / count;
    }
}
