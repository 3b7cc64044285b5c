using Engine.Numerics;

namespace Engine.Tests.Numerics;

public class BFloat16Tests
{
    private static ushort Bits(float f) => ((BFloat16)f).RawValue;
    private static float F(uint bits) => BitConverter.UInt32BitsToSingle(bits);

    /// <summary>The value of a bfloat16 bit pattern, from its fields (sign, 8-bit exponent, 7-bit mantissa), by arithmetic alone.</summary>
    private static double ValueOf(ushort b)
    {
        int sign = b >> 15, exp = (b >> 7) & 0xFF, man = b & 0x7F;
        double magnitude = exp == 0xFF ? (man == 0 ? double.PositiveInfinity : double.NaN)
            : exp == 0 ? Math.ScaleB(man, -126 - 7)                 // subnormal: 0.man × 2^-126
            : Math.ScaleB(128 + man, exp - 127 - 7);                // normal: 1.man × 2^(exp-127)
        return sign == 1 ? -magnitude : magnitude;
    }

    /// <summary>
    /// Independent reference for any finite or infinite double: put |x| on the bfloat16 grid of its
    /// binade (spacing 2^(e-7), with e clamped at -126 for subnormals), pick the nearer grid point
    /// with ties to the even one, and call anything that reaches 2^128 infinity, as IEEE does
    /// (it rounds as if the exponent were unbounded). Every step is exact in double arithmetic.
    /// </summary>
    private static ushort Reference(double x)
    {
        ushort sign = (ushort)(double.IsNegative(x) ? 0x8000 : 0);
        double a = Math.Abs(x);
        if (double.IsInfinity(a)) return (ushort)(sign | 0x7F80);
        int e = a == 0 ? -126 : Math.Max(Math.ILogB(a), -126);
        double ulp = Math.ScaleB(1.0, e - 7);
        double q = a / ulp, lo = Math.Floor(q), frac = q - lo;
        double m = frac > 0.5 || (frac == 0.5 && lo % 2 == 1) ? lo + 1 : lo;
        double v = m * ulp;
        if (v >= Math.ScaleB(1.0, 128)) return (ushort)(sign | 0x7F80);
        return (ushort)(sign | (BitConverter.SingleToUInt32Bits((float)v) >> 16));
    }

    [Fact]
    public void Field_decoding_reference_agrees_with_widening_for_every_pattern()
    {
        // The reference rounding above trusts ValueOf; ValueOf trusts nothing but arithmetic.
        for (int b = 0; b < 65536; b++)
        {
            double want = ValueOf((ushort)b);
            float got = BFloat16.FromBits((ushort)b);
            if (double.IsNaN(want)) Assert.True(float.IsNaN(got), $"0x{b:X4}");
            else Assert.True(want.Equals((double)got), $"0x{b:X4}: {got} != {want}");
            Assert.Equal(double.IsNaN(want), BFloat16.IsNaN(BFloat16.FromBits((ushort)b)));
            Assert.Equal(double.IsInfinity(want), BFloat16.IsInfinity(BFloat16.FromBits((ushort)b)));
            Assert.Equal(double.IsFinite(want), BFloat16.IsFinite(BFloat16.FromBits((ushort)b)));
        }
    }

    [Theory]
    [InlineData(0x3F800000u, (ushort)0x3F80)]   // 1
    [InlineData(0x3F808000u, (ushort)0x3F80)]   // 1 + 2^-8: tie, stays on the even 0x3F80
    [InlineData(0x3F818000u, (ushort)0x3F82)]   // tie between 0x3F81 and 0x3F82: up to the even one
    [InlineData(0x3F808001u, (ushort)0x3F81)]   // just above the tie
    [InlineData(0x3F807FFFu, (ushort)0x3F80)]   // just below the tie
    [InlineData(0xBF808000u, (ushort)0xBF80)]   // negative tie, to even
    [InlineData(0xBF80C000u, (ushort)0xBF81)]   // negative, above half
    [InlineData(0x7F7FFFFFu, (ushort)0x7F80)]   // float max rounds to +∞
    [InlineData(0x7F7F8000u, (ushort)0x7F80)]   // tie between bf16 max (odd) and 2^128: even is ∞
    [InlineData(0x7F7F7FFFu, (ushort)0x7F7F)]   // largest float that stays finite
    [InlineData(0xFF7FFFFFu, (ushort)0xFF80)]   // −float max rounds to −∞
    [InlineData(0x00000001u, (ushort)0x0000)]   // tiny subnormal rounds to +0
    [InlineData(0x80000001u, (ushort)0x8000)]   // ... and keeps its sign
    [InlineData(0x00018000u, (ushort)0x0002)]   // subnormal tie, up to even
    [InlineData(0x00008000u, (ushort)0x0000)]   // subnormal tie, down to even
    [InlineData(0x007FFFFFu, (ushort)0x0080)]   // largest subnormal rounds up to the smallest normal
    [InlineData(0x80000000u, (ushort)0x8000)]   // −0
    [InlineData(0x7F800000u, (ushort)0x7F80)]   // +∞
    [InlineData(0xFF800000u, (ushort)0xFF80)]   // −∞
    public void Rounds_to_nearest_even(uint input, ushort expected)
    {
        Assert.Equal(expected, Bits(F(input)));
        var v = new BFloat16[1];
        BFloat16.ConvertFromSingle([F(input)], v);
        Assert.Equal(expected, v[0].RawValue);
        Assert.Equal(expected, Reference(F(input)));   // the reference agrees with the hand-picked answers too
    }

    [Fact]
    public void NaN_stays_a_quiet_NaN_with_its_sign_even_when_only_low_payload_bits_are_set()
    {
        foreach (uint nan in new[] { 0x7FC00000u, 0x7F800001u, 0xFF800001u, 0x7FFFFFFFu, 0x7F810000u, 0xFFC0FFFFu })
        {
            var scalar = (BFloat16)F(nan);
            var v = new BFloat16[40];
            BFloat16.ConvertFromSingle(Enumerable.Repeat(F(nan), 40).ToArray(), v);   // SIMD lanes and the scalar tail
            foreach (var x in v.Append(scalar))
            {
                Assert.True(BFloat16.IsNaN(x), $"0x{nan:X8} -> 0x{x.RawValue:X4}");
                Assert.True((x.RawValue & 0x0040) != 0, $"0x{nan:X8} -> 0x{x.RawValue:X4} is not quiet");
                Assert.Equal(nan >> 31, (uint)x.RawValue >> 15);
            }
        }
        Assert.True(BFloat16.IsNaN((BFloat16)double.NaN));
        Assert.True(BFloat16.IsNaN((BFloat16)(-double.NaN)));
    }

    [Fact]
    public void Random_patterns_match_reference_on_scalar_and_vector_paths()
    {
        var r = new Random(17);
        var inputs = new float[100_003];
        for (int i = 0; i < inputs.Length; i++)
        {
            uint bits = (uint)r.NextInt64(0, 1L << 32);
            if (i % 3 == 0) bits = (bits & 0xFFFF0000u) | 0x8000u;   // exact ties, often
            if (i % 7 == 0) bits = (bits & 0xFFFF0000u) | (uint)r.Next(0x7FFE, 0x8002);   // near ties
            if (float.IsNaN(F(bits))) bits &= 0xFF7FFFFFu;
            inputs[i] = F(bits);
        }
        var vector = new BFloat16[inputs.Length];
        vector.AsSpan().Fill(BFloat16.NaN);
        BFloat16.ConvertFromSingle(inputs, vector);
        for (int i = 0; i < inputs.Length; i++)
        {
            ushort want = Reference(inputs[i]);
            Assert.True(want == Bits(inputs[i]), $"scalar: 0x{BitConverter.SingleToUInt32Bits(inputs[i]):X8} -> 0x{Bits(inputs[i]):X4}, want 0x{want:X4}");
            Assert.True(want == vector[i].RawValue, $"vector: 0x{BitConverter.SingleToUInt32Bits(inputs[i]):X8} -> 0x{vector[i].RawValue:X4}, want 0x{want:X4}");
        }
    }

    [Fact]
    public void Span_conversions_agree_with_the_scalar_casts_at_every_length_and_alignment()
    {
        // Lengths up to 100 from offsets 0..3 walk every SIMD width's loop, their hand-offs and the tail.
        var r = new Random(5);
        var pool = Enumerable.Range(0, 110).Select(_ => F((uint)r.NextInt64(0, 1L << 32) & 0xFF7FFFFFu)).ToArray();
        var bfPool = Enumerable.Range(0, 110).Select(_ => BFloat16.FromBits((ushort)r.Next(65536))).ToArray();
        for (int offset = 0; offset < 4; offset++)
        {
            for (int n = 0; n <= 100; n++)
            {
                var dst = new BFloat16[n + 2];
                dst.AsSpan().Fill(BFloat16.FromBits(0xDEAD));
                BFloat16.ConvertFromSingle(pool.AsSpan(offset, n), dst.AsSpan(1, n));
                Assert.Equal(0xDEAD, dst[0].RawValue);
                Assert.Equal(0xDEAD, dst[n + 1].RawValue);   // nothing written past the end
                for (int i = 0; i < n; i++) Assert.Equal(Bits(pool[offset + i]), dst[1 + i].RawValue);

                var wide = new float[n + 2];
                wide.AsSpan().Fill(float.NaN);
                BFloat16.ConvertToSingle(bfPool.AsSpan(offset, n), wide.AsSpan(1, n));
                Assert.True(float.IsNaN(wide[0]) && float.IsNaN(wide[n + 1]));
                for (int i = 0; i < n; i++)
                    Assert.Equal(BitConverter.SingleToUInt32Bits(bfPool[offset + i]), BitConverter.SingleToUInt32Bits(wide[1 + i]));
            }
        }
        Assert.Throws<ArgumentException>(() => BFloat16.ConvertFromSingle(new float[5], new BFloat16[4]));
        Assert.Throws<ArgumentException>(() => BFloat16.ConvertToSingle(new BFloat16[5], new float[4]));
    }

    [Fact]
    public void Every_bfloat16_round_trips_through_float_on_both_paths()
    {
        var all = Enumerable.Range(0, 65536).Select(b => BFloat16.FromBits((ushort)b)).ToArray();
        var floats = new float[all.Length];
        floats.AsSpan().Fill(float.NaN);
        BFloat16.ConvertToSingle(all, floats);
        var back = new BFloat16[all.Length];
        BFloat16.ConvertFromSingle(floats, back);
        for (int b = 0; b < all.Length; b++)
        {
            Assert.Equal((uint)b << 16, BitConverter.SingleToUInt32Bits(floats[b]));   // widening is exact, NaN payloads included
            if (BFloat16.IsNaN(all[b])) { Assert.True(BFloat16.IsNaN(back[b])); continue; }
            Assert.Equal((ushort)b, back[b].RawValue);
            Assert.Equal((ushort)b, ((BFloat16)floats[b]).RawValue);
            Assert.Equal((ushort)b, ((BFloat16)(double)all[b]).RawValue);
        }
    }

    [Fact]
    public void Doubles_round_once_not_twice()
    {
        // 1 + 2^-8 + 2^-40: as a float it rounds to the tie 1 + 2^-8 (then even: 1.0); directly, it is above the tie.
        double x = 1 + Math.Pow(2, -8) + Math.Pow(2, -40);
        Assert.Equal((ushort)0x3F80, ((BFloat16)(float)x).RawValue);
        Assert.Equal((ushort)0x3F81, ((BFloat16)x).RawValue);
        Assert.Equal((ushort)0xBF81, ((BFloat16)(-x)).RawValue);
        double y = 1 + 3 * Math.Pow(2, -8) - Math.Pow(2, -40);       // just below the tie 0x3F81|half: rounds down
        Assert.Equal((ushort)0x3F81, ((BFloat16)y).RawValue);
        Assert.Equal((ushort)0x3F82, ((BFloat16)(float)y).RawValue);
        // Overflow: the tie between the largest finite value and 2^128 goes to ∞, anything below it stays finite.
        double threshold = (2 - Math.Pow(2, -8)) * Math.Pow(2, 127);
        Assert.Equal((ushort)0x7F80, ((BFloat16)threshold).RawValue);
        Assert.Equal((ushort)0x7F7F, ((BFloat16)Math.BitDecrement(threshold)).RawValue);
        Assert.Equal((ushort)0xFF7F, ((BFloat16)(-Math.BitDecrement(threshold))).RawValue);
        Assert.Equal((ushort)0x7F80, ((BFloat16)1e300).RawValue);
        Assert.Equal((ushort)0xFF80, ((BFloat16)double.NegativeInfinity).RawValue);
        Assert.Equal((ushort)0x8000, ((BFloat16)(-1e-300)).RawValue);
    }

    [Fact]
    public void Random_doubles_and_near_ties_match_reference()
    {
        var r = new Random(99);
        for (int i = 0; i < 200_000; i++)
        {
            double x;
            if (i % 2 == 0)
            {
                // Random sign and mantissa over binades from deep below bf16's subnormals to past its overflow.
                ulong mantissa = (ulong)r.NextInt64(0, 1L << 52);
                int exp = r.Next(-150, 130);
                x = Math.ScaleB(1 + mantissa / Math.Pow(2, 52), exp) * (r.Next(2) == 0 ? 1 : -1);
            }
            else
            {
                // Exactly half-way between two neighbouring finite bf16s, or the very next double on either side:
                // the float conversion lands those on the tie, which is the double-rounding trap.
                ushort b = (ushort)r.Next(0, 0x7F7F);
                double tie = (ValueOf(b) + ValueOf((ushort)(b + 1))) / 2;
                x = (i % 6) switch { 1 => tie, 3 => Math.BitIncrement(tie), _ => Math.BitDecrement(tie) };
                if (r.Next(2) == 0) x = -x;
            }
            ushort want = Reference(x);
            ushort got = ((BFloat16)x).RawValue;
            Assert.True(want == got, $"{x:R} (0x{BitConverter.DoubleToUInt64Bits(x):X16}) -> 0x{got:X4}, want 0x{want:X4}");
        }
    }

    [Fact]
    public void Constants_have_their_documented_values()
    {
        Assert.Equal((ushort)0x0000, BFloat16.Zero.RawValue);
        Assert.Equal(1f, (float)BFloat16.One);
        Assert.True(BFloat16.IsNaN(BFloat16.NaN));
        Assert.Equal(float.PositiveInfinity, (float)BFloat16.PositiveInfinity);
        Assert.Equal(float.NegativeInfinity, (float)BFloat16.NegativeInfinity);
        Assert.Equal(Math.ScaleB(1.0, -133), (double)BFloat16.Epsilon);
        Assert.Equal((2 - Math.Pow(2, -7)) * Math.Pow(2, 127), (double)BFloat16.MaxValue);
        Assert.Equal(-(double)BFloat16.MaxValue, (double)BFloat16.MinValue);
        Assert.Equal(BFloat16.MaxValue.RawValue, BFloat16.FromBits(0x7F7F).ToBits());
        // MaxValue is the largest finite value: the next pattern up is infinity.
        Assert.True(BFloat16.IsInfinity(BFloat16.FromBits((ushort)(BFloat16.MaxValue.RawValue + 1))));
    }

    [Fact]
    public void Comparisons_follow_float_semantics()
    {
        var nan = BFloat16.NaN;
        var otherNan = BFloat16.FromBits(0x7FC0);      // the same bits: IEEE says unequal all the same
        var one = BFloat16.One;
        var oneAgain = (BFloat16)1f;
        var two = (BFloat16)2f;
        var negZero = BFloat16.FromBits(0x8000);
        Assert.False(nan == otherNan);
        Assert.True(nan != otherNan);
        Assert.False(nan < one || nan > one || nan <= one || nan >= one);
        Assert.True(nan.Equals(otherNan));                 // IEquatable, like float.Equals: usable as a key
        Assert.True(BFloat16.Zero == negZero);
        Assert.True(BFloat16.Zero.Equals(negZero));
        Assert.Equal(BFloat16.Zero.GetHashCode(), negZero.GetHashCode());
        Assert.True(one < two && two > one && one <= oneAgain && one >= oneAgain && one == oneAgain && one != two);
        Assert.Equal(0, BFloat16.Zero.CompareTo(negZero));
        Assert.Equal(1, one.CompareTo((object?)null));
        Assert.Throws<ArgumentException>(() => one.CompareTo((object)1.0f));

        // Sorting agrees with float's total order (NaN first) on random patterns.
        var r = new Random(3);
        var values = Enumerable.Range(0, 2000).Select(_ => BFloat16.FromBits((ushort)r.Next(65536))).ToArray();
        var sorted = values.Order().Select(v => (float)v).ToArray();
        var floats = values.Select(v => (float)v).Order().ToArray();
        Assert.Equal(floats.Select(f => float.IsNaN(f) ? "NaN" : f.ToString("R")), sorted.Select(f => float.IsNaN(f) ? "NaN" : f.ToString("R")));
    }

    [Fact]
    public void ToString_shows_the_float_value_in_the_invariant_culture()
    {
        Assert.Equal("1", BFloat16.One.ToString());
        Assert.Equal("-2.5", ((BFloat16)(-2.5f)).ToString());
        var tenth = (BFloat16)0.1f;
        Assert.Equal(((float)tenth).ToString(System.Globalization.CultureInfo.InvariantCulture), tenth.ToString());
        Assert.Equal("0.1001", tenth.ToString("F4", System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("NaN", BFloat16.NaN.ToString());
        Assert.Equal(float.NegativeInfinity.ToString(System.Globalization.CultureInfo.InvariantCulture), BFloat16.NegativeInfinity.ToString());
    }
}
