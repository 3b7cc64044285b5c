using Engine.Inference;
using NanoChat.Chat;

namespace NanoChat.Tasks;

/// <summary>
/// Arithmetic answered through the calculator tool: the assistant copies the expression into a
/// python block, the tool writes the result, the assistant states it.
/// </summary>
internal sealed class ArithmeticTask : ChatTask
{
    private static readonly string[] Templates = ["What is {0}?", "Compute {0}.", "Calculate {0}.", "{0} = ?", "Please work out {0}.", "How much is {0}?"];
    private static readonly string[] Operators = ["+", "-", "*"];

    public override string Name => "arithmetic";

    protected override TaskExample Draw(Random random, out string key)
    {
        int Operand() => random.Next((int)Math.Pow(10, random.Next(1, 4)));
        string expression = $"{Operand()}{Pick(random, Operators)}{Operand()}";
        key = expression;
        string result = Calculator.Evaluate(expression);
        var conversation = new Conversation([
            Message.User(string.Format(System.Globalization.CultureInfo.InvariantCulture, Pick(random, Templates), expression)),
            Message.Assistant(new Part(PartKind.Python, expression), new Part(PartKind.Output, result), new Part(PartKind.Text, $"The answer is {result}.")),
        ]);
        return new TaskExample(Name, conversation, result);
    }

    public override double Score(TaskExample example, string reply) => SameNumber(LastNumber(reply), example.Reference) ? 1 : 0;
}
