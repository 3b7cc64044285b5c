using System.Text.RegularExpressions;

namespace Engine.Tokenizers;

/// <summary>
/// Cuts text into the pieces that BPE works within. The pieces are the split pattern's matches, plus any
/// text between matches as pieces of its own: tiktoken drops such text, but a tokenizer whose decode must
/// invert its encode cannot (the built-in patterns match everything, so this only matters for custom ones).
/// </summary>
internal static class Pieces
{
    public static Enumerator Split(ReadOnlySpan<char> text, Regex split) => new(text, split);

    /// <summary>Enumerates (start, length) of each piece, in order, without allocating.</summary>
    public ref struct Enumerator
    {
        private readonly int _textLength;
        private Regex.ValueMatchEnumerator _matches;
        private int _end;          // where the previous piece ended
        private int _pendingStart; // a match found after a gap, to be returned after the gap
        private int _pendingLength;
        private bool _hasPending;

        internal Enumerator(ReadOnlySpan<char> text, Regex split)
        {
            _textLength = text.Length;
            _matches = split.EnumerateMatches(text);
        }

        public (int Start, int Length) Current { get; private set; }

        public readonly Enumerator GetEnumerator() => this;

        public bool MoveNext()
        {
            if (_hasPending)
            {
                _hasPending = false;
                return Emit(_pendingStart, _pendingLength);
            }
            while (_matches.MoveNext())
            {
                var m = _matches.Current;
                if (m.Length == 0) continue;   // an empty match carries no text
                if (m.Index > _end)
                {
                    _pendingStart = m.Index;
                    _pendingLength = m.Length;
                    _hasPending = true;
                    return Emit(_end, m.Index - _end);
                }
                return Emit(m.Index, m.Length);
            }
            if (_end < _textLength) return Emit(_end, _textLength - _end);
            return false;
        }

        private bool Emit(int start, int length)
        {
            Current = (start, length);
            _end = start + length;
            return true;
        }
    }
}
