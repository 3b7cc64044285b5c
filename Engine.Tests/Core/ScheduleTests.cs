using Engine.Optim;

namespace Engine.Tests.Core;

public class ScheduleTests
{
    [Fact]
    public void Warmup_constant_and_linear_warmdown_follow_nanochat()
    {
        var s = new LrSchedule(TotalSteps: 100, WarmupSteps: 10, WarmdownRatio: 0.2, FinalFraction: 0.1);
        Assert.Equal(0.1, s.Multiplier(0), 12);           // (0 + 1) / 10
        Assert.Equal(1.0, s.Multiplier(9), 12);
        Assert.Equal(1.0, s.Multiplier(50), 12);
        Assert.Equal(1.0, s.Multiplier(80), 12);          // warmdown starts after step 100 − 20
        Assert.Equal(0.5 + 0.5 * 0.1, s.Multiplier(90), 12);
        Assert.Equal(0.1 + 0.9 / 20, s.Multiplier(99), 12);
        Assert.Equal(0.85, LrSchedule.MuonMomentum(0), 12);
        Assert.Equal(0.90, LrSchedule.MuonMomentum(150), 12);
        Assert.Equal(0.95, LrSchedule.MuonMomentum(1000), 12);
    }
}
