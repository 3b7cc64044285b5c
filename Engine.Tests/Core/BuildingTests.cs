using Engine;

namespace Engine.Tests.Core;

public class BuildingTests
{
    [Fact]
    public void Cat_joins_along_any_dimension_and_splits_gradients()
    {
        using var scope = new TensorScope();
        var a = Tensor.FromArray(new double[] { 1, 2, 3, 4 }, 2, 2);
        var b = Tensor.FromArray(new double[] { 5, 6 }, 2, 1);
        Assert.Equal([1.0, 2, 5, 3, 4, 6], Tensor.Cat([a, b], 1).ToArray<double>());
        Assert.Equal([1.0, 2, 3, 4, 1, 2, 3, 4], Tensor.Cat([a, a], 0).ToArray<double>());
        Assert.Contains("[2, 1]", Assert.Throws<ArgumentException>(() => Tensor.Cat([a, b], 0)).Message);
        var r = new Random(2);
        GradCheck.Check("cat", t => Tensor.Cat([t[0], t[1].Transpose(0, 1)], 1), [GradCheck.Rand(r, 3, 2), GradCheck.Rand(r, 4, 3)]);
    }

    [Fact]
    public void ArgMax_Arange_and_Ones()
    {
        using var scope = new TensorScope();
        var x = Tensor.FromArray(new float[] { 1, 9, 9, 0, -1, -5, -0.5f, -2 }, 2, 4);
        Assert.Equal([1L, 2], x.ArgMax().ToArray<long>());
        Assert.Equal([0L, 1, 2], Tensor.Arange(3).ToArray<long>());
        Assert.Equal(6.0, Tensor.Ones([2, 3]).Sum().Item());
    }
}
