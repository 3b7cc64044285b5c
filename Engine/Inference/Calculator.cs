using System.Globalization;
using System.Numerics;

namespace Engine.Inference;

/// <summary>
/// The chat model's calculator tool: evaluates an arithmetic expression such as <c>12*34</c> or
/// <c>(3.5 + 2) / 4</c> without executing code. Integers are exact (arbitrary precision, within
/// bounds); a division that does not come out even, or any decimal operand, switches to double.
/// </summary>
/// <remarks>
/// Grammar (Python's precedence): sum := product (('+'|'-') product)*;
/// product := unary (('*'|'/'|'//'|'%') unary)*; unary := ('-'|'+') unary | power;
/// power := atom ('**' unary)?; atom := number | '(' sum ')'.
/// Bounds keep a hostile expression from costing time or memory: at most 200 characters, 32 levels
/// of nesting, exponents up to 1000 and integer results up to 10,000 bits.
/// </remarks>
public static class Calculator
{
    /// <summary>Longest expression accepted.</summary>
    public const int MaxLength = 200;

    private const int MaxDepth = 32, MaxExponent = 1000, MaxBits = 10_000;

    /// <summary>Evaluates <paramref name="expression"/>; false with a short reason when it is not valid arithmetic or exceeds the bounds.</summary>
    public static bool TryEvaluate(string expression, out string result)
    {
        try
        {
            result = Evaluate(expression);
            return true;
        }
        catch (FormatException e)
        {
            result = e.Message;
            return false;
        }
    }

    /// <summary>Evaluates <paramref name="expression"/> and formats the result (integers exactly, doubles round-trip, trailing ".0" dropped).</summary>
    /// <exception cref="FormatException">The text is not arithmetic this calculator accepts, or exceeds its bounds.</exception>
    public static string Evaluate(string expression)
    {
        ArgumentNullException.ThrowIfNull(expression);
        if (expression.Length > MaxLength) throw new FormatException($"expression longer than {MaxLength} characters");
        var parser = new Parser(expression.Replace(",", "", StringComparison.Ordinal));
        var value = parser.Sum(0);
        parser.SkipSpaces();
        if (!parser.AtEnd) throw new FormatException($"unexpected '{parser.Current}' at position {parser.Position}");
        return value.ToString();
    }

    private readonly record struct Number(BigInteger Integer, double Real, bool IsInteger)
    {
        public static Number Of(BigInteger i) => i.GetBitLength() > MaxBits ? throw new FormatException("result too large") : new(i, 0, true);
        public static Number Of(double d) => double.IsFinite(d) ? new(0, d, false) : throw new FormatException(double.IsNaN(d) ? "undefined result" : "result too large");
        public double AsDouble => IsInteger ? (double)Integer : Real;
        public override string ToString()
        {
            if (IsInteger) return Integer.ToString(CultureInfo.InvariantCulture);
            if (Real == Math.Floor(Real) && Math.Abs(Real) < 1e15) return ((long)Real).ToString(CultureInfo.InvariantCulture);
            return Real.ToString("R", CultureInfo.InvariantCulture);
        }
    }

    private sealed class Parser(string text)
    {
        public int Position;
        public bool AtEnd => Position >= text.Length;
        public char Current => text[Position];

        public void SkipSpaces()
        {
            while (!AtEnd && char.IsWhiteSpace(Current)) Position++;
        }

        private bool Take(string token)
        {
            SkipSpaces();
            if (string.CompareOrdinal(text, Position, token, 0, token.Length) != 0) return false;
            Position += token.Length;
            return true;
        }

        public Number Sum(int depth)
        {
            var value = Product(depth);
            while (true)
            {
                if (Take("+")) value = Apply('+', value, Product(depth));
                else if (Take("-")) value = Apply('-', value, Product(depth));
                else return value;
            }
        }

        private Number Product(int depth)
        {
            var value = Unary(depth);
            while (true)
            {
                if (Take("//")) value = Apply('d', value, Unary(depth));
                else if (Take("*")) value = Apply('*', value, Unary(depth));
                else if (Take("/")) value = Apply('/', value, Unary(depth));
                else if (Take("%")) value = Apply('%', value, Unary(depth));
                else return value;
            }
        }

        // As in Python, a sign binds looser than '**' (-2**2 is -4) and '**' is right-associative.
        private Number Unary(int depth)
        {
            if (depth > MaxDepth) throw new FormatException("expression nested too deeply");
            if (Take("-")) { var v = Unary(depth + 1); return v.IsInteger ? Number.Of(-v.Integer) : Number.Of(-v.Real); }
            if (Take("+")) return Unary(depth + 1);
            return Power(depth);
        }

        private Number Power(int depth)
        {
            var baseValue = Atom(depth);
            return Take("**") ? Apply('^', baseValue, Unary(depth + 1)) : baseValue;
        }

        private Number Atom(int depth)
        {
            if (!Take("(")) return Literal();
            var v = Sum(depth + 1);
            if (!Take(")")) throw new FormatException($"missing ')' at position {Position}");
            return v;
        }

        private Number Literal()
        {
            SkipSpaces();
            int start = Position;
            while (!AtEnd && (char.IsAsciiDigit(Current) || Current == '.')) Position++;
            if (!AtEnd && (Current is 'e' or 'E') && Position > start)
            {
                Position++;
                if (!AtEnd && Current is '+' or '-') Position++;
                while (!AtEnd && char.IsAsciiDigit(Current)) Position++;
            }
            var token = text[start..Position];
            if (token.Length == 0) throw new FormatException(AtEnd ? "expression ends too early" : $"unexpected '{Current}' at position {Position}");
            if (!token.Contains('.') && !token.Contains('e') && !token.Contains('E'))
                return Number.Of(BigInteger.Parse(token, CultureInfo.InvariantCulture));
            if (!double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)) throw new FormatException($"bad number '{token}'");
            return Number.Of(d);
        }

        private static Number Apply(char op, Number a, Number b)
        {
            if (a.IsInteger && b.IsInteger)
            {
                BigInteger x = a.Integer, y = b.Integer;
                switch (op)
                {
                    case '+': return Number.Of(x + y);
                    case '-': return Number.Of(x - y);
                    case '*':
                        if (x.GetBitLength() + y.GetBitLength() > MaxBits + 1) throw new FormatException("result too large");
                        return Number.Of(x * y);
                    case '/':
                        if (y.IsZero) throw new FormatException("division by zero");
                        return BigInteger.Remainder(x, y).IsZero ? Number.Of(x / y) : Number.Of((double)x / (double)y);
                    case 'd':
                    case '%':
                        {
                            if (y.IsZero) throw new FormatException(op == '%' ? "modulo by zero" : "division by zero");
                            // Floor division and a modulo with the divisor's sign, as Python (the tool's original language) defines them.
                            var q = BigInteger.DivRem(x, y, out var r);
                            if (!r.IsZero && (r.Sign < 0) != (y.Sign < 0)) { q -= 1; r += y; }
                            return Number.Of(op == 'd' ? q : r);
                        }
                    case '^':
                        if (y.Sign < 0) return Number.Of(Math.Pow((double)x, (double)y));
                        if (y > MaxExponent) throw new FormatException($"exponent above {MaxExponent}");
                        if (x.GetBitLength() * (long)y > MaxBits) throw new FormatException("result too large");
                        return Number.Of(BigInteger.Pow(x, (int)y));
                }
            }
            double p = a.AsDouble, q2 = b.AsDouble;
            switch (op)
            {
                case '+': return Number.Of(p + q2);
                case '-': return Number.Of(p - q2);
                case '*': return Number.Of(p * q2);
                case '/': return q2 == 0 ? throw new FormatException("division by zero") : Number.Of(p / q2);
                case 'd': return q2 == 0 ? throw new FormatException("division by zero") : Number.Of(Math.Floor(p / q2));
                case '%': return q2 == 0 ? throw new FormatException("modulo by zero") : Number.Of(p - q2 * Math.Floor(p / q2));
                default:
                    if (Math.Abs(q2) > MaxExponent) throw new FormatException($"exponent above {MaxExponent}");
                    return Number.Of(Math.Pow(p, q2));
            }
        }
    }
}
