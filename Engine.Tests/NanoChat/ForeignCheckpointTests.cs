using System.Text.Json;
using NanoChat.Training;

namespace Engine.Tests.NanoChat;

/// <summary>
/// `nanochat loss` on a checkpoint Engine did not write: tools/fixtures/make_loss_fixture.py built it with
/// the PyTorch reference (nanochat's names and config fields, GQA, a sliding window that cuts) and
/// computed the loss in float64.
/// </summary>
public class ForeignCheckpointTests
{
    [Theory]
    [InlineData("cpu")]
    [InlineData("emulated")]
    [InlineData("cuda")]
    public void Loss_reproduces_a_pytorch_made_checkpoint(string kind)
    {
        using var accelerator = kind == "emulated" ? new Engine.Gpu.CpuAccelerator(32) : null;
        if (kind == "cuda" && Device.CudaUnavailable is { } why) Assert.Skip($"No CUDA GPU: {why}");
        var device = kind switch
        {
            "cpu" => Device.Cpu,
            "emulated" => Device.FromAccelerator(accelerator!),
            _ => Device.Cuda,
        };
        string dir = Path.Combine(AppContext.BaseDirectory, "Fixtures", "nanochat_checkpoint");
        double expected = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "expected.json"))).RootElement.GetProperty("loss").GetDouble();
        double actual = LossCommand.Compute(dir, Path.Combine(dir, "tokens.bin"), device: device);
        // float32 arithmetic against a float64 reference over 768 predictions.
        Assert.True(Math.Abs(actual - expected) <= 1e-5 * expected, $"loss {actual:R}, PyTorch float64 {expected:R}");
    }
}
