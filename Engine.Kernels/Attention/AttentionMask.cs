using Engine.Gpu;

namespace Engine.Kernels;

/// <summary>
/// A block-sparse causal attention mask: for each 64-query block, the 64-key blocks it attends to, and
/// within them the element rule: causal, an optional window, and optionally per-token document ids
/// (packed sequences attend only within their document). One pair of kernels runs every mask; the
/// sliding window, document masks and top-k block selection are masks, not separate kernels. Blocks
/// the element rule hides entirely are dropped, blocks it leaves whole skip the element test, and
/// every query block keeps its diagonal block (every token sees itself, so no softmax row is empty).
/// </summary>
public sealed class AttentionMask
{
    private readonly long _visiblePairs;

    private AttentionMask(int sequence, int window, int batch, int[]? documentIds, int[] schedule, int activeBlocks, long visiblePairs)
    {
        Sequence = sequence;
        Window = window;
        Batch = batch;
        DocumentIds = documentIds;
        Schedule = schedule;
        ActiveBlocks = activeBlocks;
        _visiblePairs = visiblePairs;
    }

    /// <summary>Tokens per sequence (a multiple of 64).</summary>
    public int Sequence { get; }

    /// <summary>The window of the element rule (0: none).</summary>
    public int Window { get; }

    /// <summary>Sequences the document ids describe (0 without documents).</summary>
    public int Batch { get; }

    /// <summary>Per-token document ids, [Batch, Sequence], or null.</summary>
    public IReadOnlyList<int>? DocumentIds { get; }

    /// <summary>Query-key block pairs the kernels visit.</summary>
    public int ActiveBlocks { get; }

    /// <summary>Block pairs on or below the diagonal: what the plain causal mask visits.</summary>
    public int CausalBlocks => Blocks * (Blocks + 1) / 2;

    /// <summary>Active blocks over causal blocks: the fraction of the causal work left.</summary>
    public double Density => (double)ActiveBlocks / CausalBlocks;

    private int Blocks => Sequence / FlashAttention.Block;

    /// <summary>[forward offsets | backward offsets | forward entries | backward entries] (see SparseSchedule).</summary>
    internal int[] Schedule { get; }

    /// <summary>Visible query-key pairs per head over <paramref name="batch"/> sequences.</summary>
    /// <param name="batch">The batch size of the call.</param>
    public long VisiblePairs(int batch) => DocumentIds is null ? _visiblePairs * batch : _visiblePairs;

    /// <summary>Causal attention with an optional window, as a block list (what the dense kernels do, for comparison).</summary>
    /// <param name="sequence">Tokens per sequence, a multiple of 64.</param>
    /// <param name="window">0, or how far back a query sees.</param>
    public static AttentionMask Causal(int sequence, int window = 0) =>
        Build(sequence, window, 0, null, AllCausalBlocks(sequence));

    /// <summary>
    /// Only the given blocks (top-k block selection, strided patterns, anything): each pair is (query block,
    /// key block) with key block ≤ query block; diagonal blocks are added. Elements follow the causal rule
    /// and the window inside them.
    /// </summary>
    /// <param name="sequence">Tokens per sequence, a multiple of 64.</param>
    /// <param name="blocks">The active block pairs.</param>
    /// <param name="window">0, or how far back a query sees.</param>
    public static AttentionMask FromBlocks(int sequence, IEnumerable<(int QueryBlock, int KeyBlock)> blocks, int window = 0)
    {
        ArgumentNullException.ThrowIfNull(blocks);
        CheckSequence(sequence, window);
        int n = sequence / FlashAttention.Block;
        var list = new List<(int, int)>();
        foreach (var (qb, kb) in blocks)
        {
            if (qb < 0 || qb >= n || kb < 0 || kb > qb)
            {
                throw new ArgumentException($"Block ({qb}, {kb}) is not a causal block of a {sequence}-token sequence: query blocks are 0..{n - 1} and a key block may not follow its query block.", nameof(blocks));
            }
            list.Add((qb, kb));
        }
        return Build(sequence, window, 0, null, list);
    }

    /// <summary>
    /// Packed sequences: tokens attend causally only to tokens of the same document. Blocks where no pair
    /// shares a document in any of the batch's sequences are skipped.
    /// </summary>
    /// <param name="sequence">Tokens per sequence, a multiple of 64.</param>
    /// <param name="documentIds">[batch, sequence] document ids, e.g. a running count of BOS tokens.</param>
    /// <param name="window">0, or how far back a query sees.</param>
    public static AttentionMask Documents(int sequence, int[] documentIds, int window = 0)
    {
        ArgumentNullException.ThrowIfNull(documentIds);
        CheckSequence(sequence, window);
        if (documentIds.Length == 0 || documentIds.Length % sequence != 0)
        {
            throw new ArgumentException($"documentIds has {documentIds.Length} ids, not a whole number of {sequence}-token sequences.", nameof(documentIds));
        }
        return Build(sequence, window, documentIds.Length / sequence, (int[])documentIds.Clone(), AllCausalBlocks(sequence));
    }

    /// <summary>Copies the block lists (and document ids) to <paramref name="accelerator"/> for the kernels.</summary>
    /// <param name="accelerator">Where the attention will run.</param>
    public DeviceAttentionMask Upload(Accelerator accelerator) => new(accelerator, this);

    private static void CheckSequence(int sequence, int window)
    {
        if (sequence <= 0 || sequence % FlashAttention.Block != 0)
        {
            throw new ArgumentException($"The sequence length {sequence} must be a positive multiple of {FlashAttention.Block}.", nameof(sequence));
        }
        if (window < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(window), window, "The window is 0 (none) or positive.");
        }
    }

    private static IEnumerable<(int, int)> AllCausalBlocks(int sequence)
    {
        int n = sequence / FlashAttention.Block;
        for (int qb = 0; qb < n; qb++)
        {
            for (int kb = 0; kb <= qb; kb++)
            {
                yield return (qb, kb);
            }
        }
    }

    private static AttentionMask Build(int sequence, int window, int batch, int[]? documents, IEnumerable<(int Q, int K)> candidates)
    {
        CheckSequence(sequence, window);
        const int b = FlashAttention.Block;
        int n = sequence / b;
        var chosen = new SortedSet<(int Q, int K)>(candidates);
        for (int qb = 0; qb < n; qb++)
        {
            chosen.Add((qb, qb));
        }
        int sequences = Math.Max(1, batch);
        var forward = new List<int>[n];
        var backward = new List<(int Q, int Entry)>[n];
        for (int i = 0; i < n; i++)
        {
            forward[i] = [];
            backward[i] = [];
        }
        long visiblePairs = 0;
        int active = 0;
        foreach (var (qb, kb) in chosen)
        {
            long visible = 0;
            for (int s = 0; s < sequences; s++)
            {
                for (int q = qb * b; q < qb * b + b; q++)
                {
                    for (int k = kb * b; k < kb * b + b; k++)
                    {
                        if (k <= q && (window <= 0 || q - k <= window)
                            && (documents is null || documents[s * sequence + q] == documents[s * sequence + k]))
                        {
                            visible++;
                        }
                    }
                }
            }
            if (visible == 0)
            {
                continue;
            }
            int partial = visible == (long)sequences * b * b ? 0 : 1;
            forward[qb].Add(kb * 2 + partial);
            backward[kb].Add((qb, qb * 2 + partial));
            visiblePairs += visible;
            active++;
        }
        var schedule = new int[2 * (n + 1) + 2 * active];
        int entries = 2 * (n + 1);
        for (int qb = 0; qb < n; qb++)
        {
            schedule[qb + 1] = schedule[qb] + forward[qb].Count;
            forward[qb].CopyTo(schedule, entries + schedule[qb]);
        }
        for (int kb = 0; kb < n; kb++)
        {
            schedule[n + 1 + kb + 1] = schedule[n + 1 + kb] + backward[kb].Count;
            backward[kb].Select(e => e.Entry).ToList().CopyTo(schedule, entries + active + schedule[n + 1 + kb]);
        }
        return new AttentionMask(sequence, window, batch, documents, schedule, active, visiblePairs);
    }
}

/// <summary>An <see cref="AttentionMask"/>'s lists and document ids on an accelerator; dispose it to free them.</summary>
public sealed class DeviceAttentionMask : IDisposable
{
    private readonly MemoryBuffer<int> _schedule;
    private readonly MemoryBuffer<int>? _documents;

    internal DeviceAttentionMask(Accelerator accelerator, AttentionMask mask)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        Accelerator = accelerator;
        Mask = mask;
        _schedule = accelerator.Allocate<int>(mask.Schedule);
        _documents = mask.DocumentIds is { } ids ? accelerator.Allocate<int>(ids.ToArray()) : null;
    }

    /// <summary>Where the lists live.</summary>
    public Accelerator Accelerator { get; }

    /// <summary>The mask on the host.</summary>
    public AttentionMask Mask { get; }

    internal ArrayView<int> Schedule => _schedule.View;

    internal ArrayView<int> Documents => _documents?.View ?? default;

    /// <summary>Frees the device copies.</summary>
    public void Dispose()
    {
        _schedule.Dispose();
        _documents?.Dispose();
    }
}
