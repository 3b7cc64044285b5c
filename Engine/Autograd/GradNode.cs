namespace Engine.Autograd;

/// <summary>
/// One recorded op on the tape: its inputs and how to turn the gradient of its output into
/// gradients of its inputs (null where an input needs none). Ops build these next to their forward.
/// </summary>
internal sealed class GradNode(string op, Tensor[] inputs, Func<Tensor, Tensor?[]> backward)
{
    public string Op { get; } = op;
    public Tensor[] Inputs { get; } = inputs;
    public Func<Tensor, Tensor?[]> Backward { get; } = backward;
}
