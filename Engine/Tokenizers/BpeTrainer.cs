using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace Engine.Tokenizers;

/// <summary>
/// Learns byte-pair merges. The corpus is reduced to its distinct pieces (the split pattern's matches)
/// with their counts, so the merge loop works on a few hundred thousand short words however large the
/// text was. Pair counts are kept up to date incrementally: a merge touches only the words that contain
/// the merged pair (found through a per-pair list of word indices) and changes only the counts of the
/// pairs next to each occurrence. The next pair comes from a max-heap whose entries may be stale; since
/// a pair's count only falls after the merge that created it, a stale entry is an upper bound, and it is
/// re-queued with its true count when it surfaces.
/// </summary>
internal static class BpeTrainer
{
    /// <summary>Orders heap entries: the higher count first; on a tie, the smaller (left, right) pair, so training is deterministic.</summary>
    private sealed class Order : IComparer<(long Count, long Pair)>
    {
        public static readonly Order Instance = new();
        public int Compare((long Count, long Pair) x, (long Count, long Pair) y)
            => x.Count != y.Count ? y.Count.CompareTo(x.Count) : x.Pair.CompareTo(y.Pair);
    }

    private static long Key(int left, int right) => ((long)left << 32) | (uint)right;

    /// <summary>Counts the distinct pieces of <paramref name="texts"/>, using every core.</summary>
    public static Dictionary<string, long> CountPieces(IEnumerable<string> texts, Regex split)
    {
        var total = new Dictionary<string, long>(StringComparer.Ordinal);
        ParallelErrors.Run(() => Parallel.ForEach(
            texts,
            () => new Dictionary<string, long>(StringComparer.Ordinal),
            (text, state, local) =>
            {
                if (text is null) throw new ArgumentNullException(nameof(texts), "A training document is null.");
                var lookup = local.GetAlternateLookup<ReadOnlySpan<char>>();
                foreach (var range in Pieces.Split(text, split))
                    CollectionsMarshal.GetValueRefOrAddDefault(lookup, text.AsSpan(range.Start, range.Length), out _)++;
                return local;
            },
            local =>
            {
                lock (total)
                    foreach (var (piece, count) in local)
                        CollectionsMarshal.GetValueRefOrAddDefault(total, piece, out _) += count;
            }));
        return total;
    }

    /// <summary>Learns up to <paramref name="mergeCount"/> merges over byte-level words; returns the bytes of each new token, in rank order (ids 256, 257, ...).</summary>
    public static List<byte[]> LearnMerges(Dictionary<string, long> pieces, int mergeCount)
    {
        var vocab = new List<byte[]>(256 + mergeCount);
        for (int b = 0; b < 256; b++) vocab.Add([(byte)b]);
        var merges = new List<byte[]>(mergeCount);
        if (mergeCount == 0) return merges;

        // Words: each distinct piece as token ids (bytes at first), merged in place; single bytes hold no pair.
        var words = new List<int[]>(pieces.Count);
        var lengths = new List<int>(pieces.Count);
        var counts = new List<long>(pieces.Count);
        foreach (var (piece, count) in pieces)
        {
            var bytes = Wtf8.GetBytes(piece);
            if (bytes.Length < 2) continue;
            var ids = new int[bytes.Length];
            for (int i = 0; i < bytes.Length; i++) ids[i] = bytes[i];
            words.Add(ids);
            lengths.Add(ids.Length);
            counts.Add(count);
        }

        var pairCounts = new Dictionary<long, long>();
        var where = new Dictionary<long, List<int>>();
        for (int w = 0; w < words.Count; w++)
        {
            var ids = words[w];
            for (int i = 0; i + 1 < ids.Length; i++)
            {
                long k = Key(ids[i], ids[i + 1]);
                CollectionsMarshal.GetValueRefOrAddDefault(pairCounts, k, out _) += counts[w];
                AddWord(where, k, w);
            }
        }

        var heap = new PriorityQueue<long, (long Count, long Pair)>(pairCounts.Count, Order.Instance);
        foreach (var (k, c) in pairCounts) heap.Enqueue(k, (c, k));

        var stamp = new int[words.Count];   // the last merge that rewrote each word, to skip duplicates in a pair's word list
        var deltas = new Dictionary<long, long>();
        while (merges.Count < mergeCount && heap.TryDequeue(out long pair, out var queued))
        {
            if (!pairCounts.TryGetValue(pair, out long current)) continue;
            if (current != queued.Count) { heap.Enqueue(pair, (current, pair)); continue; }

            int a = (int)(pair >> 32), b = (int)(uint)pair;
            int id = vocab.Count;
            var merged = new byte[vocab[a].Length + vocab[b].Length];
            vocab[a].CopyTo(merged, 0);
            vocab[b].CopyTo(merged, vocab[a].Length);
            vocab.Add(merged);
            merges.Add(merged);

            deltas.Clear();
            var list = where[pair];
            where.Remove(pair);
            pairCounts.Remove(pair);
            foreach (int w in list)
            {
                if (stamp[w] == id) continue;
                stamp[w] = id;
                lengths[w] = MergeWord(words[w], lengths[w], a, b, id, counts[w], w, deltas, where);
            }
            foreach (var (k, d) in deltas)
            {
                if (k == pair || d == 0) continue;
                ref long c = ref CollectionsMarshal.GetValueRefOrAddDefault(pairCounts, k, out _);
                c += d;
                if (c <= 0) { pairCounts.Remove(k); where.Remove(k); }
                else if (d > 0) heap.Enqueue(k, (c, k));   // only pairs with the new token grow; the rest keep valid upper bounds
            }
        }
        return merges;
    }

    private static void AddWord(Dictionary<long, List<int>> where, long key, int word)
    {
        ref var list = ref CollectionsMarshal.GetValueRefOrAddDefault(where, key, out _);
        list ??= [];
        if (list.Count == 0 || list[^1] != word) list.Add(word);
    }

    /// <summary>Replaces every (a, b) in the word with <paramref name="id"/>, left to right, and records how the neighbouring pairs' counts change.</summary>
    private static int MergeWord(int[] t, int n, int a, int b, int id, long count, int word, Dictionary<long, long> deltas, Dictionary<long, List<int>> where)
    {
        int o = 0, i = 0;
        while (i < n)
        {
            if (i + 1 < n && t[i] == a && t[i + 1] == b)
            {
                if (o > 0)
                {
                    int prev = t[o - 1];   // already rewritten: may itself be the new token
                    CollectionsMarshal.GetValueRefOrAddDefault(deltas, Key(prev, a), out _) -= count;
                    long k = Key(prev, id);
                    CollectionsMarshal.GetValueRefOrAddDefault(deltas, k, out _) += count;
                    AddWord(where, k, word);
                }
                if (i + 2 < n)
                {
                    int next = t[i + 2];
                    CollectionsMarshal.GetValueRefOrAddDefault(deltas, Key(b, next), out _) -= count;
                    long k = Key(id, next);
                    CollectionsMarshal.GetValueRefOrAddDefault(deltas, k, out _) += count;
                    AddWord(where, k, word);
                }
                t[o++] = id;
                i += 2;
            }
            else t[o++] = t[i++];
        }
        return o;
    }
}
