using System.Buffers;
using System.Text.Unicode;

namespace Engine.Tokenizers;

/// <summary>
/// UTF-16 to bytes and back, such that every .NET string survives the trip, lone surrogates included.
/// Well-formed text becomes ordinary UTF-8 (so a tokenizer trained here agrees with tiktoken on it);
/// a lone surrogate, which UTF-8 cannot express, becomes the 3-byte form its code point would have
/// (ED A0..BF xx), as WTF-8 does. Decoding accepts those 3-byte forms back as lone surrogates and turns
/// any other invalid byte sequence into U+FFFD, one per maximal invalid subpart.
/// </summary>
internal static class Wtf8
{
    /// <summary>The most bytes <paramref name="charCount"/> UTF-16 units can become.</summary>
    public static int MaxByteCount(int charCount) => checked(charCount * 3);

    /// <summary>Writes the bytes of <paramref name="text"/> to <paramref name="dest"/> (at least <see cref="MaxByteCount"/> long); returns how many.</summary>
    public static int Encode(ReadOnlySpan<char> text, Span<byte> dest)
    {
        // Almost all text is well-formed: let the vectorised UTF-8 encoder do it, and only walk by hand after a lone surrogate.
        var status = Utf8.FromUtf16(text, dest, out int read, out int written, replaceInvalidSequences: false);
        if (status == OperationStatus.Done) return written;
        int i = read, o = written;
        while (i < text.Length)
        {
            char c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                int cp = char.ConvertToUtf32(c, text[i + 1]);
                dest[o++] = (byte)(0xF0 | (cp >> 18));
                dest[o++] = (byte)(0x80 | ((cp >> 12) & 0x3F));
                dest[o++] = (byte)(0x80 | ((cp >> 6) & 0x3F));
                dest[o++] = (byte)(0x80 | (cp & 0x3F));
                i += 2;
            }
            else if (c < 0x80) { dest[o++] = (byte)c; i++; }
            else if (c < 0x800)
            {
                dest[o++] = (byte)(0xC0 | (c >> 6));
                dest[o++] = (byte)(0x80 | (c & 0x3F));
                i++;
            }
            else
            {
                // Lone surrogates land here too: the generic 3-byte form is exactly WTF-8's.
                dest[o++] = (byte)(0xE0 | (c >> 12));
                dest[o++] = (byte)(0x80 | ((c >> 6) & 0x3F));
                dest[o++] = (byte)(0x80 | (c & 0x3F));
                i++;
            }
        }
        return o;
    }

    /// <summary>The bytes of <paramref name="text"/> as a new array.</summary>
    public static byte[] GetBytes(ReadOnlySpan<char> text)
    {
        var buffer = text.Length <= 256 ? stackalloc byte[768] : new byte[MaxByteCount(text.Length)];
        int n = Encode(text, buffer);
        return buffer[..n].ToArray();
    }

    /// <summary>Decodes <paramref name="bytes"/> (see the class remarks for what is accepted).</summary>
    public static string GetString(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty) return string.Empty;
        char[]? rented = null;
        // Each byte yields at most one UTF-16 unit (4-byte sequences yield 2 units for 4 bytes).
        Span<char> chars = bytes.Length <= 512 ? stackalloc char[512] : (rented = ArrayPool<char>.Shared.Rent(bytes.Length));
        try
        {
            var status = Utf8.ToUtf16(bytes, chars, out int read, out int written, replaceInvalidSequences: false);
            if (status == OperationStatus.Done) return new string(chars[..written]);
            int o = DecodeSlow(bytes, read, chars, written);
            return new string(chars[..o]);
        }
        finally
        {
            if (rented != null) ArrayPool<char>.Shared.Return(rented);
        }
    }

    private static int DecodeSlow(ReadOnlySpan<byte> b, int i, Span<char> dest, int o)
    {
        while (i < b.Length)
        {
            byte lead = b[i];
            if (lead < 0x80) { dest[o++] = (char)lead; i++; continue; }
            int need; int min; int cp;
            if (lead >= 0xC2 && lead <= 0xDF) { need = 1; cp = lead & 0x1F; min = 0x80; }
            else if (lead >= 0xE0 && lead <= 0xEF) { need = 2; cp = lead & 0x0F; min = 0x800; }
            else if (lead >= 0xF0 && lead <= 0xF4) { need = 3; cp = lead & 0x07; min = 0x10000; }
            else { dest[o++] = '\uFFFD'; i++; continue; }
            int j = 1;
            bool ok = true;
            for (; j <= need; j++)
            {
                if (i + j >= b.Length || (b[i + j] & 0xC0) != 0x80) { ok = false; break; }
                int next = (cp << 6) | (b[i + j] & 0x3F);
                // Reject overlong and out-of-range prefixes as soon as the second byte shows them,
                // so that the replacement covers the maximal invalid subpart, as the Unicode standard recommends.
                if (j == 1 && ((need == 2 && next < (min >> 6)) || (need == 3 && (next < (min >> 12) || next > 0x10FFFF >> 12)))) { ok = false; break; }
                cp = next;
            }
            if (!ok) { dest[o++] = '\uFFFD'; i += j; continue; }
            if (cp < min) { dest[o++] = '\uFFFD'; i += need + 1; continue; }
            if (cp >= 0x10000)
            {
                cp -= 0x10000;
                dest[o++] = (char)(0xD800 + (cp >> 10));
                dest[o++] = (char)(0xDC00 + (cp & 0x3FF));
            }
            else dest[o++] = (char)cp;   // includes ED A0..BF xx: a lone surrogate, the WTF-8 extension
            i += need + 1;
        }
        return o;
    }
}
