using System.Diagnostics;
using System.IO.Compression;
using System.Xml.Linq;

namespace Engine.Tests.Packaging;

/// <summary>
/// The NuGet path end to end: pack Engine, Engine.Kernels and Engine.Gpu into a temporary feed, then
/// build and run a small consumer project against those packages, so a broken package (a missing
/// dependency, a file left out) fails here rather than for a user.
/// </summary>
public class PackagingTests
{
    private static string RepoRoot()
    {
        var recorded = typeof(PackagingTests).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .Cast<System.Reflection.AssemblyMetadataAttribute>().SingleOrDefault(a => a.Key == "RepositoryRoot")?.Value;
        if (recorded is null || !File.Exists(Path.Combine(recorded, "Engine.sln")))
        {
            // A packed test build elsewhere has no sources: say so instead of passing.
            Assert.Skip($"The repository sources are not here (looked in '{recorded}'); packaging is tested where the SDK and sources are.");
        }
        // The GPU machine gets the sources with the working tree but only the .NET runtime, no SDK.
        if (!HasSdk())
        {
            Assert.Skip("No .NET SDK here (`dotnet --list-sdks` lists none); packaging is tested where the SDK is.");
        }
        return recorded;
    }

    private static bool HasSdk()
    {
        try
        {
            var (code, output) = Run(Path.GetTempPath(), "--list-sdks");
            return code == 0 && output.Split('\n').Any(line => line.Length > 0 && char.IsDigit(line[0]));
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false; // No dotnet on PATH at all.
        }
    }

    private static (int Code, string Output) Run(string workingDir, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        // The test host's MSBuild variables must not leak into the child builds.
        foreach (var key in new[] { "MSBuildExtensionsPath", "MSBUILD_EXE_PATH", "MSBuildSDKsPath", "VSTEST_HOST_DEBUG" }) psi.Environment.Remove(key);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(8))) { p.Kill(true); throw new TimeoutException($"dotnet {string.Join(' ', args)} took over 8 minutes."); }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    [Fact]
    public void Readme_main_command_trains_and_samples()
    {
        var root = RepoRoot();
        var temp = Directory.CreateTempSubdirectory("engine-demo-");
        try
        {
            // The README's first command, at the micro preset (the whole pipeline in seconds).
            string run = Path.Combine(temp.FullName, "run");
            var (code, output) = Run(root, "run", "-c", "Release", "--project", "samples/NanoChat", "--artifacts-path", Path.Combine(temp.FullName, "build"),
                "--", "speedrun", "--preset", "micro", "--run", run);
            Assert.True(code == 0, $"samples/NanoChat speedrun failed (exit {code}):\n{output}");
            Assert.Contains("talk to it: dotnet run -c Release --project samples/NanoChat -- chat", output);
            Assert.True(File.Exists(Path.Combine(run, "sft", "model.safetensors")), output);
            Assert.True(File.Exists(Path.Combine(run, "report.md")), output);
        }
        finally
        {
            try { temp.Delete(recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public void Packages_build_and_a_consumer_trains_from_them()
    {
        var root = RepoRoot();
        var temp = Directory.CreateTempSubdirectory("engine-pack-");
        try
        {
            string feed = Path.Combine(temp.FullName, "feed"), artifacts = Path.Combine(temp.FullName, "artifacts");
            string version = $"0.1.0-ci.{DateTime.UtcNow:yyyyMMddHHmmss}";
            foreach (var project in new[] { "Engine.Gpu", "Engine.Kernels", "Engine" })
            {
                var (code, output) = Run(root, "pack", $"{project}/{project}.csproj", "-c", "Release", "-o", feed,
                    "--artifacts-path", artifacts, $"-p:Version={version}");
                Assert.True(code == 0, $"dotnet pack {project} failed:\n{output}");
            }

            foreach (var id in new[] { "Engine", "Engine.Kernels", "Engine.Gpu" })
            {
                string nupkg = Path.Combine(feed, $"{id}.{version}.nupkg");
                Assert.True(File.Exists(nupkg), $"{nupkg} was not produced");
                Assert.True(File.Exists(Path.Combine(feed, $"{id}.{version}.snupkg")), $"{id} has no symbol package");
                using var zip = ZipFile.OpenRead(nupkg);
                var names = zip.Entries.Select(e => e.FullName).ToArray();
                Assert.Contains("README.md", names);
                Assert.Contains($"lib/net10.0/{id}.dll", names);
                Assert.Contains($"lib/net10.0/{id}.xml", names);
                using var nuspec = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open();
                var doc = XDocument.Load(nuspec);
                var meta = doc.Root!.Elements().Single(e => e.Name.LocalName == "metadata");
                Assert.Equal("MIT", meta.Elements().Single(e => e.Name.LocalName == "license").Value);
                Assert.NotNull(meta.Elements().SingleOrDefault(e => e.Name.LocalName == "repository"));
                Assert.False(string.IsNullOrWhiteSpace(meta.Elements().Single(e => e.Name.LocalName == "description").Value));
            }

            string consumer = Path.Combine(temp.FullName, "consumer");
            Directory.CreateDirectory(consumer);
            File.WriteAllText(Path.Combine(consumer, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <add key="local" value="{feed}" />
                  </packageSources>
                </configuration>
                """);
            // Without <clear/>, the machine's default source stays available for Engine's own dependencies.
            File.WriteAllText(Path.Combine(consumer, "Consumer.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <Nullable>enable</Nullable>
                    <ImplicitUsings>enable</ImplicitUsings>
                    <ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="Engine" Version="{version}" />
                  </ItemGroup>
                </Project>
                """);
            // The consumer is README.md's C# example, verbatim.
            var readme = File.ReadAllText(Path.Combine(root, "README.md"));
            int start = readme.IndexOf("```csharp\n", StringComparison.Ordinal);
            Assert.True(start >= 0, "README.md has no ```csharp example");
            start += "```csharp\n".Length;
            File.WriteAllText(Path.Combine(consumer, "Program.cs"), readme[start..readme.IndexOf("```", start, StringComparison.Ordinal)]);
            // The consumer lives outside the repository, so the repository's Directory.*.props do not apply.
            var (rc, log) = Run(consumer, "run", "-c", "Release", "--packages", Path.Combine(temp.FullName, "packages"));
            Assert.True(rc == 0, $"consumer failed (exit {rc}):\n{log}");
            var losses = System.Text.RegularExpressions.Regex.Matches(log, @"loss (\d+\.\d+)").Select(m => double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            Assert.True(losses.Length == 5 && losses[^1] < losses[0], $"the README example should print 5 falling losses:\n{log}");
            Assert.True(File.Exists(Path.Combine(consumer, "checkpoints", "tiny", "model.safetensors")), "the README example's checkpoint was not written");
        }
        finally
        {
            try { temp.Delete(recursive: true); } catch (IOException) { }
        }
    }
}
