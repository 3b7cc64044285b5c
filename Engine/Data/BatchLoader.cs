namespace Engine.Data;

/// <summary>
/// Cuts (inputs, targets) batches of shape (B, T) from token shards so that every row starts at a
/// document boundary (a bos token). A row takes T + 1 tokens and runs on through as many following
/// documents as fit; the next row starts at the first bos at or after where this row's inputs end,
/// so rows do not overlap and the part of a document that does not fit the end of a row is cropped
/// (as nanochat's bos-aligned loader crops). Deterministic: the same shards give the same batches,
/// and <see cref="Position"/> restores the stream exactly after a resume.
/// </summary>
public sealed class BatchLoader : IDisposable
{
    private readonly TokenShard[] _shards;
    private readonly long[][] _starts;

    /// <summary>Opens the shards and indexes their document starts (the positions of <paramref name="bosId"/>).</summary>
    public BatchLoader(IEnumerable<string> shardPaths, int bosId, int batchSize, int sequenceLength)
    {
        if (batchSize <= 0 || sequenceLength <= 0)
            throw new ArgumentOutOfRangeException(nameof(batchSize), $"Batch size and sequence length must be positive, got {batchSize} and {sequenceLength}.");
        BatchSize = batchSize;
        SequenceLength = sequenceLength;
        _shards = shardPaths.Select(TokenShard.Open).ToArray();
        if (_shards.Length == 0) throw new ArgumentException("The batch loader needs at least one shard.", nameof(shardPaths));
        _starts = new long[_shards.Length][];
        var buffer = new long[1 << 16];
        for (int s = 0; s < _shards.Length; s++)
        {
            var starts = new List<long>();
            var shard = _shards[s];
            long nextAllowed = 0;
            for (long at = 0; at < shard.Count; at += buffer.Length)
            {
                int n = (int)Math.Min(buffer.Length, shard.Count - at);
                shard.Read(at, buffer.AsSpan(0, n));
                for (int i = 0; i < n; i++)
                {
                    long pos = at + i;
                    if (buffer[i] != bosId || pos < nextAllowed || pos + sequenceLength + 1 > shard.Count) continue;
                    starts.Add(pos);
                    nextAllowed = pos + sequenceLength;
                }
            }
            _starts[s] = [.. starts];
        }
        if (_starts.All(s => s.Length == 0))
            throw new InvalidDataException($"No shard has a document start (token {bosId}) followed by {sequenceLength + 1} tokens; prepare the data with the same tokenizer, or use a shorter sequence length.");
    }

    /// <summary>Rows per batch.</summary>
    public int BatchSize { get; }
    /// <summary>Tokens per row.</summary>
    public int SequenceLength { get; }
    /// <summary>Rows handed out so far (wraps around the data): save it with a checkpoint and set it on resume.</summary>
    public long Position { get; set; }
    /// <summary>Document-aligned rows the data offers before it repeats.</summary>
    public long RowsPerEpoch => _starts.Sum(s => (long)s.Length);

    /// <summary>The next batch: inputs and next-token targets, Int64 tensors of shape (B, T).</summary>
    public (Tensor Inputs, Tensor Targets) Next()
    {
        int t = SequenceLength;
        var x = new long[BatchSize * t];
        var y = new long[BatchSize * t];
        var row = new long[t + 1];
        for (int b = 0; b < BatchSize; b++)
        {
            var (shard, start) = Locate(Position++ % RowsPerEpoch);
            _shards[shard].Read(start, row);
            Array.Copy(row, 0, x, b * t, t);
            Array.Copy(row, 1, y, b * t, t);
        }
        return (Tensor.FromArray(x, BatchSize, t), Tensor.FromArray(y, BatchSize, t));
    }

    private (int Shard, long Start) Locate(long row)
    {
        for (int s = 0; s < _starts.Length; s++)
        {
            if (row < _starts[s].Length) return (s, _starts[s][row]);
            row -= _starts[s].Length;
        }
        throw new InvalidOperationException("Row index past the data; RowsPerEpoch is inconsistent.");
    }

    /// <summary>Unmaps the shards.</summary>
    public void Dispose()
    {
        foreach (var s in _shards) s.Dispose();
    }
}
