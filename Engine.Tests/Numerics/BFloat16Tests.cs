using Engine.Numerics;

namespace Engine.Tests.Numerics;

public class BFloat16Tests
{
    private static ushort Bits(float f) => ((BFloat16)f).RawValue;
    private static float F(uint bits) => BitConverter.UInt32BitsToSingle(bits);

    /// <summary>
    /// Independent reference: the nearer of the two bfloat16 neighbours by exact double arithmetic,
    /// ties to the even one. Past the largest finite value the upper neighbour is 2^128 (IEEE rounds
    /// as if the exponent were unbounded), and landing there means ∞.
    /// </summary>
    private static ushort Reference(float f)
    {
        uint bits = BitConverter.SingleToUInt32Bits(f);
        ushort down = (ushort)(bits >> 16);                          // the neighbour towards zero
        if ((bits & 0xFFFF) == 0) return down;
        ushort up = (ushort)(down + 1);                              // the neighbour away from zero
        double lo = (float)BFloat16.FromBits(down);
        double hi = (down & 0x7FFF) == 0x7F7F ? Math.CopySign(Math.Pow(2, 128), f) : (float)BFloat16.FromBits(up);
        double dl = Math.Abs(f - lo), dh = Math.Abs(hi - f);
        if (dl != dh) return dl < dh ? down : up;
        return (down & 1) == 0 ? down : up;
    }

    [Theory]
    [InlineData(0x3F800000u, (ushort)0x3F80)]   // 1
    [InlineData(0x3F808000u, (ushort)0x3F80)]   // 1 + 2^-8: tie, stays even
    [InlineData(0x3F818000u, (ushort)0x3F82)]   // tie, rounds up to even
    [InlineData(0x3F808001u, (ushort)0x3F81)]   // just above the tie
    [InlineData(0xBF80C000u, (ushort)0xBF81)]   // negative, above half
    [InlineData(0x7F7FFFFFu, (ushort)0x7F80)]   // float max rounds to +∞
    [InlineData(0x7F7F7FFFu, (ushort)0x7F7F)]   // largest that stays finite
    [InlineData(0x00000001u, (ushort)0x0000)]   // tiny subnormal rounds to +0
    [InlineData(0x00018000u, (ushort)0x0002)]   // subnormal tie to even
    [InlineData(0x80000000u, (ushort)0x8000)]   // -0
    [InlineData(0x7F800000u, (ushort)0x7F80)]   // +∞
    [InlineData(0xFF800000u, (ushort)0xFF80)]   // −∞
    public void Rounds_to_nearest_even(uint input, ushort expected) => Assert.Equal(expected, Bits(F(input)));

    [Fact]
    public void NaN_stays_NaN_even_when_only_low_payload_bits_are_set()
    {
        foreach (uint nan in new[] { 0x7FC00000u, 0x7F800001u, 0xFF800001u, 0x7FFFFFFFu })
        {
            Assert.True(BFloat16.IsNaN((BFloat16)F(nan)), $"0x{nan:X8}");
            var v = new BFloat16[1];
            BFloat16.ConvertFromSingle([F(nan)], v);
            Assert.True(BFloat16.IsNaN(v[0]), $"vector path 0x{nan:X8}");
        }
        Assert.True(BFloat16.IsNaN((BFloat16)double.NaN));
        Assert.False(BFloat16.NaN == BFloat16.NaN);
        Assert.True(BFloat16.Zero == BFloat16.FromBits(0x8000));
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
            if (float.IsNaN(F(bits))) bits &= 0xFF7FFFFFu;
            inputs[i] = F(bits);
        }
        var vector = new BFloat16[inputs.Length];
        BFloat16.ConvertFromSingle(inputs, vector);
        for (int i = 0; i < inputs.Length; i++)
        {
            ushort want = Reference(inputs[i]);
            Assert.True(want == Bits(inputs[i]), $"scalar: 0x{BitConverter.SingleToUInt32Bits(inputs[i]):X8} -> 0x{Bits(inputs[i]):X4}, want 0x{want:X4}");
            Assert.True(want == vector[i].RawValue, $"vector: 0x{BitConverter.SingleToUInt32Bits(inputs[i]):X8} -> 0x{vector[i].RawValue:X4}, want 0x{want:X4}");
        }
    }

    [Fact]
    public void Every_bfloat16_round_trips_through_float_on_both_paths()
    {
        var all = Enumerable.Range(0, 65536).Select(b => BFloat16.FromBits((ushort)b)).ToArray();
        var floats = new float[all.Length];
        BFloat16.ConvertToSingle(all, floats);
        var back = new BFloat16[all.Length];
        BFloat16.ConvertFromSingle(floats, back);
        for (int b = 0; b < all.Length; b++)
        {
            Assert.Equal((float)all[b], floats[b]);
            if (BFloat16.IsNaN(all[b])) { Assert.True(BFloat16.IsNaN(back[b])); continue; }
            Assert.Equal((ushort)b, back[b].RawValue);
            Assert.Equal((ushort)b, ((BFloat16)floats[b]).RawValue);
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
    }
}
