using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using Engine.Inference;
using Engine.IO;
using Engine.NN;
using NanoChat;
using NanoChat.Serve;
using NanoChat.Training;

namespace Engine.Tests.NanoChat;

/// <summary>
/// `nanochat serve`: the streaming endpoint over HTTP, and the page in headless Chromium (Debian's
/// `chromium`, which .ci/run installs; skipped with the reason where it is missing).
/// </summary>
public class ServeTests(MicroRun micro) : IClassFixture<MicroRun>
{
    /// <summary>A run folder with the micro fixture's tokenizer and an untrained model: it babbles, which is all streaming needs.</summary>
    private RunLayout RunWithModel(string name)
    {
        var run = new RunLayout(Path.Combine(micro.Root, name));
        Directory.CreateDirectory(run.TokenizerDir);
        foreach (var f in Directory.GetFiles(micro.Run.TokenizerDir))
            File.Copy(f, Path.Combine(run.TokenizerDir, Path.GetFileName(f)), overwrite: true);
        using var model = new Gpt(Preset.Micro.ModelConfig(micro.Tokenizer.VocabSize), seed: 5);
        Checkpoint.Save(run.BaseDir, model);
        return run;
    }

    private static SamplingOptions Sampling => new(1.0, 0, 7);

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Replies_stream_as_server_sent_events_and_end_with_done()
    {
        var run = RunWithModel("serve-http");
        await using var server = await ChatServer.StartAsync(run, null, 0, Sampling, maxTokens: 24);
        Assert.StartsWith("http://127.0.0.1:", server.Url);
        using var http = new HttpClient { BaseAddress = new Uri(server.Url) };
        var page = await http.GetStringAsync("/", Cancel);
        Assert.Contains("/api/chat", page);

        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/chat")
        {
            Content = JsonContent.Create(new { messages = new[] { new { role = "user", content = "What is 2+3?" } } }),
        };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Cancel);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(Cancel));
        var frames = new List<string>();
        var block = new StringBuilder();
        while (await reader.ReadLineAsync(Cancel) is { } line)
        {
            if (line.Length == 0)
            {
                frames.Add(block.ToString());
                block.Clear();
                continue;
            }
            block.AppendLine(line);
        }
        Assert.True(frames.Count >= 2, $"expected text frames then done, got: {string.Join(" | ", frames)}");
        Assert.StartsWith("event: done", frames[^1]);
        Assert.All(frames[..^1], f => Assert.StartsWith("data: {", f));
    }

    [Fact]
    public async Task A_bad_request_gets_a_400_that_says_what_was_expected()
    {
        var run = RunWithModel("serve-bad");
        await using var server = await ChatServer.StartAsync(run, null, 0, Sampling, maxTokens: 8);
        using var http = new HttpClient { BaseAddress = new Uri(server.Url) };
        using var response = await http.PostAsync("/api/chat", JsonContent.Create(new { messages = new[] { new { role = "assistant", content = "hi" } } }), Cancel);
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("must end with a user message", await response.Content.ReadAsStringAsync(Cancel));
    }

    [Fact]
    public async Task The_page_streams_an_answer_in_headless_chromium()
    {
        string? chromium = new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome" }.FirstOrDefault(File.Exists);
        if (chromium is null)
        {
            Assert.Skip("No Chromium (apt-get install chromium; .ci/run does it).");
        }
        var run = RunWithModel("serve-browser");
        await using var server = await ChatServer.StartAsync(run, null, 0, Sampling, maxTokens: 24);
        string profile = Directory.CreateTempSubdirectory("nanochat-chromium-").FullName;
        try
        {
            // --dump-dom prints the DOM once the page is loaded and the virtual-time budget has run out;
            // virtual time does not advance while a fetch is pending, so the streamed reply is complete.
            var start = new ProcessStartInfo(chromium)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                ArgumentList =
                {
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", $"--user-data-dir={profile}",
                    "--virtual-time-budget=60000", "--dump-dom", server.Url + "/?q=" + Uri.EscapeDataString("What is 2+3?"),
                },
            };
            using var browser = Process.Start(start)!;
            var stdout = browser.StandardOutput.ReadToEndAsync(Cancel);
            var stderr = browser.StandardError.ReadToEndAsync(Cancel);
            if (!browser.WaitForExit(TimeSpan.FromMinutes(2)))
            {
                browser.Kill(entireProcessTree: true);
                Assert.Fail("Chromium did not finish within 2 minutes.");
            }
            string dom = await stdout;
            Assert.True(dom.Contains("data-state=\"done\"", StringComparison.Ordinal), $"the page never finished streaming. DOM:\n{dom}\nChromium said:\n{await stderr}");
            Assert.Contains("What is 2+3?", dom);
            int answer = dom.IndexOf("id=\"answer-1\"", StringComparison.Ordinal);
            Assert.True(answer >= 0, dom);
            string afterAnswer = dom[answer..];
            string text = afterAnswer[(afterAnswer.IndexOf('>') + 1)..afterAnswer.IndexOf("</div>", StringComparison.Ordinal)];
            Assert.False(string.IsNullOrWhiteSpace(text), $"the answer bubble is empty. DOM:\n{dom}");
        }
        finally
        {
            try { Directory.Delete(profile, recursive: true); } catch (IOException) { }
        }
    }
}
