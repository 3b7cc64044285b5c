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
    public async Task Turns_out_of_order_get_a_400_before_any_reply()
    {
        var run = RunWithModel("serve-order");
        await using var server = await ChatServer.StartAsync(run, null, 0, Sampling, maxTokens: 8);
        using var http = new HttpClient { BaseAddress = new Uri(server.Url) };
        using var response = await http.PostAsync("/api/chat", JsonContent.Create(new { messages = new[] { new { role = "user", content = "hi" }, new { role = "user", content = "again" } } }), Cancel);
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("alternates user and assistant", await response.Content.ReadAsStringAsync(Cancel));
    }

    [Fact]
    public void An_earlier_calculator_call_goes_back_to_the_model_as_its_own_tokens()
    {
        // What the page sends after a reply that used the calculator: the assistant turn as parts.
        const string body = """
            {"messages": [
              {"role": "user", "content": "What is 12*34?"},
              {"role": "assistant", "content": [{"type": "text", "text": "It is "}, {"type": "python", "text": "12*34"}, {"type": "python_output", "text": "408"}, {"type": "text", "text": "."}]},
              {"role": "user", "content": "And doubled?"}
            ]}
            """;
        var conversation = ChatServer.ReadConversation(System.Text.Json.JsonDocument.Parse(body));
        var assistant = conversation.Messages[1];
        Assert.Equal([global::NanoChat.Chat.PartKind.Text, global::NanoChat.Chat.PartKind.Python, global::NanoChat.Chat.PartKind.Output, global::NanoChat.Chat.PartKind.Text],
            assistant.Parts.Select(p => p.Kind));
        var format = new global::NanoChat.Chat.ChatFormat(micro.Tokenizer);
        List<int> prompt = format.RenderForCompletion(conversation);
        int python = prompt.IndexOf(format.PythonStart), output = prompt.IndexOf(format.OutputStart);
        Assert.True(python > 0 && output > python, "the calculator call and its result are special tokens in the prompt");
        Assert.Equal("12*34", micro.Tokenizer.Decode(prompt.Skip(python + 1).TakeWhile(t => t != format.PythonEnd).ToArray()));
        Assert.Equal("408", micro.Tokenizer.Decode(prompt.Skip(output + 1).TakeWhile(t => t != format.OutputEnd).ToArray()));
        // A plain string still works for clients that keep text only.
        var plain = ChatServer.ReadConversation(System.Text.Json.JsonDocument.Parse("""{"messages": [{"role": "user", "content": "hi"}]}"""));
        Assert.Equal("hi", plain.Messages[0].Text);
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
        var start = new ProcessStartInfo(chromium)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            ArgumentList =
            {
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", $"--user-data-dir={profile}",
                "--remote-debugging-port=0", server.Url + "/?q=" + Uri.EscapeDataString("What is 2+3?"),
            },
        };
        using var browser = Process.Start(start)!;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        timeout.CancelAfter(TimeSpan.FromMinutes(2));
        try
        {
            // The page is driven over the DevTools protocol: wait (in the page) until the reply has
            // streamed in and the page says it is done, then read the answer bubble.
            string devtools = await DevToolsPort(browser, timeout.Token);
            using var http = new HttpClient();
            string? socketUrl = null;
            while (socketUrl is null)
            {
                var targets = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync($"http://127.0.0.1:{devtools}/json/list", timeout.Token));
                socketUrl = targets.RootElement.EnumerateArray()
                    .Where(t => t.GetProperty("type").GetString() == "page" && t.GetProperty("url").GetString()!.StartsWith(server.Url, StringComparison.Ordinal))
                    .Select(t => t.GetProperty("webSocketDebuggerUrl").GetString()).FirstOrDefault();
                if (socketUrl is null) await Task.Delay(100, timeout.Token);
            }
            const string waitForAnswer = """
                new Promise(resolve => {
                  const check = () => document.body?.dataset.state === 'done'
                    ? resolve(JSON.stringify({ question: document.querySelector('.msg.user')?.textContent, answer: document.getElementById('answer-1')?.textContent }))
                    : setTimeout(check, 50);
                  check();
                })
                """;
            // While the page is still loading, an evaluation can fail (no document yet, a context
            // replaced by the navigation): ask again until the page answers or the timeout ends.
            string? result = null;
            string lastFailure = "";
            while (result is null)
            {
                try
                {
                    result = await Evaluate(socketUrl, waitForAnswer, timeout.Token);
                }
                catch (InvalidOperationException e)
                {
                    lastFailure = e.Message;
                    await Task.Delay(100, timeout.Token).ContinueWith(_ => { }, CancellationToken.None);
                    if (timeout.IsCancellationRequested) Assert.Fail($"the page never answered: {lastFailure}");
                }
            }
            var page = System.Text.Json.JsonDocument.Parse(result).RootElement;
            Assert.Equal("What is 2+3?", page.GetProperty("question").GetString());
            Assert.False(string.IsNullOrWhiteSpace(page.GetProperty("answer").GetString()), $"the answer bubble is empty: {result}");
        }
        finally
        {
            if (!browser.HasExited) browser.Kill(entireProcessTree: true);
            await browser.WaitForExitAsync(CancellationToken.None);
            try { Directory.Delete(profile, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>The port Chromium prints as "DevTools listening on ws://127.0.0.1:PORT/...".</summary>
    private static async Task<string> DevToolsPort(Process browser, CancellationToken cancel)
    {
        while (await browser.StandardError.ReadLineAsync(cancel) is { } line)
        {
            var match = System.Text.RegularExpressions.Regex.Match(line, @"DevTools listening on ws://[^:]+:(\d+)/");
            if (match.Success) return match.Groups[1].Value;
        }
        throw new InvalidOperationException("Chromium exited without opening its DevTools port.");
    }

    /// <summary>Runtime.evaluate of a promise in the page; returns its (string) value.</summary>
    private static async Task<string> Evaluate(string socketUrl, string expression, CancellationToken cancel)
    {
        using var socket = new System.Net.WebSockets.ClientWebSocket();
        await socket.ConnectAsync(new Uri(socketUrl), cancel);
        string request = System.Text.Json.JsonSerializer.Serialize(new
        {
            id = 1,
            method = "Runtime.evaluate",
            @params = new { expression, awaitPromise = true, returnByValue = true },
        });
        await socket.SendAsync(Encoding.UTF8.GetBytes(request), System.Net.WebSockets.WebSocketMessageType.Text, true, cancel);
        var buffer = new byte[1 << 16];
        while (true)
        {
            using var message = new MemoryStream();
            System.Net.WebSockets.ValueWebSocketReceiveResult part;
            do
            {
                part = await socket.ReceiveAsync(buffer.AsMemory(), cancel);
                message.Write(buffer, 0, part.Count);
            }
            while (!part.EndOfMessage);
            var reply = System.Text.Json.JsonDocument.Parse(message.ToArray()).RootElement;
            if (reply.TryGetProperty("id", out var id) && id.GetInt32() == 1)
            {
                return reply.TryGetProperty("result", out var outer) && outer.TryGetProperty("result", out var result)
                    && result.TryGetProperty("value", out var value) && value.ValueKind == System.Text.Json.JsonValueKind.String
                    ? value.GetString()!
                    : throw new InvalidOperationException($"evaluation failed: {reply}");
            }
        }
    }
}
