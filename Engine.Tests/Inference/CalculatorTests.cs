using Engine.Inference;

namespace Engine.Tests.Inference;

public class CalculatorTests
{
    [Theory]
    [InlineData("12*34", "408")]
    [InlineData("1 + 2 * 3", "7")]
    [InlineData("(1 + 2) * 3", "9")]
    [InlineData("2**3**2", "512")]
    [InlineData("-2**2", "-4")]
    [InlineData("7 / 2", "3.5")]
    [InlineData("8 / 2", "4")]
    [InlineData("7 // 2", "3")]
    [InlineData("-7 // 2", "-4")]
    [InlineData("-7 % 3", "2")]
    [InlineData("7 % -3", "-2")]
    [InlineData("2 ** -1", "0.5")]
    [InlineData("0.1 + 0.2", "0.30000000000000004")]
    [InlineData("1.5 * 4", "6")]
    [InlineData("123456789 * 987654321", "121932631112635269")]
    [InlineData("2**100", "1267650600228229401496703205376")]
    [InlineData("1,000 + 1", "1001")]
    [InlineData("  3  ", "3")]
    public void Evaluates_like_python(string expression, string expected) => Assert.Equal(expected, Calculator.Evaluate(expression));

    [Theory]
    [InlineData("1/0", "division by zero")]
    [InlineData("2**100000", "exponent above")]
    [InlineData("99999999999**999", "too large")]
    [InlineData("1 +", "ends too early")]
    [InlineData("(1 + 2", "missing ')'")]
    [InlineData("import os", "unexpected 'i'")]
    [InlineData("__import__('os')", "unexpected '_'")]
    [InlineData("2 3", "unexpected '3'")]
    public void Rejects_what_is_not_bounded_arithmetic(string expression, string reason)
    {
        Assert.False(Calculator.TryEvaluate(expression, out var message));
        Assert.Contains(reason, message);
    }

    [Fact]
    public void Bounds_input_size_and_nesting()
    {
        Assert.False(Calculator.TryEvaluate(new string('1', Calculator.MaxLength + 1), out var m1));
        Assert.Contains("longer than", m1);
        Assert.False(Calculator.TryEvaluate(new string('(', 60) + "1" + new string(')', 60), out var m2));
        Assert.Contains("nested too deeply", m2);
        Assert.False(Calculator.TryEvaluate(string.Concat(Enumerable.Repeat("-", 100)) + "1", out _));
    }

    [Fact]
    public void Random_integer_expressions_match_exact_arithmetic()
    {
        var r = new Random(11);
        for (int i = 0; i < 500; i++)
        {
            long a = r.Next(-10_000, 10_000), b = r.Next(-10_000, 10_000), c = r.Next(1, 100);
            Assert.Equal((a * b + c).ToString(System.Globalization.CultureInfo.InvariantCulture), Calculator.Evaluate($"{a} * ({b}) + {c}"));
            Assert.Equal(((a - b) * c).ToString(System.Globalization.CultureInfo.InvariantCulture), Calculator.Evaluate($"({a} - ({b})) * {c}"));
        }
    }
}
