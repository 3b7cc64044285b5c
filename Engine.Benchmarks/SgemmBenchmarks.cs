using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Engine.Cpu;

namespace Engine.Benchmarks;

/// <summary>
/// Square SGEMM (C = A·B, N×N, beta = 0), Engine against OpenBLAS's cblas_sgemm in the same run with
/// the same thread count. OpenBLAS is the baseline, so BDN's Ratio column is Engine's time over
/// OpenBLAS's (below 1 is faster); the GFLOP/s column is 2·N³ over the mean time.
/// Run: <c>env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE dotnet run -c Release --project Engine.Benchmarks -- --filter '*SgemmBenchmarks*'</c>
/// (docs/cpu-sgemm.md).
/// </summary>
[Config(typeof(SgemmConfig))]
public unsafe class SgemmBenchmarks
{
    /// <summary>Matrix size: every operand is N×N.</summary>
    [Params(512, 1024, 2048)]
    public int N { get; set; }

    private float[] _a = [], _b = [], _c = [];

    [GlobalSetup]
    public void Setup()
    {
        var r = new Random(0);
        _a = new float[N * N];
        _b = new float[N * N];
        _c = new float[N * N];
        for (int i = 0; i < _a.Length; i++)
        {
            _a[i] = (float)(r.NextDouble() * 2 - 1);
            _b[i] = (float)(r.NextDouble() * 2 - 1);
        }
        OpenBlas.SetThreads(Sgemm.MaxDegreeOfParallelism);
        Console.WriteLine($"// Engine: kernel {Sgemm.KernelName}, {Sgemm.MaxDegreeOfParallelism} threads");
        Console.WriteLine($"// OpenBLAS: core {OpenBlas.CoreName}, {OpenBlas.Threads} threads, config '{OpenBlas.Config}', " +
                          $"OPENBLAS_CORETYPE={Environment.GetEnvironmentVariable("OPENBLAS_CORETYPE") ?? "(unset)"}");
    }

    [Benchmark(Baseline = true, Description = "OpenBLAS")]
    public void OpenBLAS()
    {
        fixed (float* a = _a, b = _b, c = _c) OpenBlas.Sgemm(false, false, N, N, N, 1, a, N, b, N, 0, c, N);
    }

    [Benchmark(Description = "Engine")]
    public void Engine() => Sgemm.Multiply(false, false, N, N, N, 1, _a, N, _b, N, 0, _c, N);

    /// <summary>
    /// One launch, a short warm-up and 15 measured iterations: a few minutes for the six cases. Min and
    /// Median sit next to the Mean because this shared 2-core machine has noisy neighbours.
    /// </summary>
    private sealed class SgemmConfig : ManualConfig
    {
        public SgemmConfig()
        {
            AddJob(Job.Default.WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(15).WithId("Sgemm"));
            AddColumn(StatisticColumn.Min, StatisticColumn.Median, new GflopsColumn());
        }
    }

    private sealed class GflopsColumn : IColumn
    {
        public string Id => "GFLOPs";
        public string ColumnName => "GFLOP/s";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => "2·N³ floating-point operations over the mean time";
        public bool IsAvailable(Summary summary) => true;
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var report = summary[benchmarkCase];
            if (report?.ResultStatistics is null) return "-";
            double n = Convert.ToDouble(benchmarkCase.Parameters["N"]);
            return (2 * n * n * n / report.ResultStatistics.Mean).ToString("F1");   // flop per ns = GFLOP/s
        }
    }
}
