using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Engine.Cpu;

namespace Engine.Benchmarks;

/// <summary>
/// Square SGEMM, Engine against OpenBLAS (the baseline: BDN's Ratio column is Engine's time over
/// OpenBLAS's) in the same run, same threads. GFLOP/s = 2N³ / time.
/// </summary>
[Config(typeof(GflopsConfig))]
public unsafe class SgemmBenchmarks
{
    [Params(512, 1024, 2048)]
    public int N { get; set; }

    private float[] _a = [], _b = [], _c = [];

    [GlobalSetup]
    public void Setup()
    {
        var r = new Random(0);
        _a = Enumerable.Range(0, N * N).Select(_ => (float)r.NextDouble()).ToArray();
        _b = Enumerable.Range(0, N * N).Select(_ => (float)r.NextDouble()).ToArray();
        _c = new float[N * N];
        OpenBlas.SetThreads(Sgemm.MaxDegreeOfParallelism);
        Console.WriteLine($"// Engine kernel: {Sgemm.KernelName}, threads {Sgemm.MaxDegreeOfParallelism}; OpenBLAS core: {OpenBlas.CoreName} ({OpenBlas.Config})");
    }

    [Benchmark(Baseline = true)]
    public void OpenBLAS()
    {
        fixed (float* a = _a, b = _b, c = _c) OpenBlas.Sgemm(false, false, N, N, N, 1, a, N, b, N, 0, c, N);
    }

    [Benchmark]
    public void Engine() => Sgemm.Multiply(false, false, N, N, N, 1, _a, N, _b, N, 0, _c, N);

    private sealed class GflopsConfig : ManualConfig
    {
        public GflopsConfig() => AddColumn(new GflopsColumn());
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
        public string Legend => "2·N³ floating-point operations per second, from the mean time";
        public bool IsAvailable(Summary summary) => true;
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var report = summary[benchmarkCase];
            if (report?.ResultStatistics is null) return "-";
            double n = Convert.ToDouble(benchmarkCase.Parameters["N"]);
            return (2 * n * n * n / report.ResultStatistics.Mean).ToString("F1");   // ns → GFLOP/s
        }
    }
}
