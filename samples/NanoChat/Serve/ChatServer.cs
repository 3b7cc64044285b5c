using System.Text;
using System.Text.Json;
using Engine.Inference;
using Engine.IO;
using Engine.NN;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NanoChat.Chat;
using NanoChat.Tokenizing;

namespace NanoChat.Serve;

/// <summary>
/// Stage 9: a web chat on 127.0.0.1. <c>GET /</c> is one static page; <c>POST /api/chat</c> takes the
/// conversation as JSON (<c>{"messages": [{"role": "user", "content": "..."}]}</c>, an assistant's content
/// a string or the parts of the chat-data format, so earlier tool calls keep their tokens) and streams the reply
/// as server-sent events: <c>{"text": ...}</c> for each piece of visible text as it is decoded,
/// <c>{"tool": expr, "result": value}</c> when the calculator runs, and a final <c>event: done</c>.
/// One model answers one request at a time (a KV-cache generation is not shared); others wait their turn.
/// </summary>
internal sealed class ChatServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Gpt _model;
    private readonly ChatSession _session;
    private readonly SemaphoreSlim _turn = new(1, 1);
    private readonly SamplingOptions _sampling;
    private readonly int _maxTokens;

    private ChatServer(WebApplication app, Gpt model, ChatSession session, SamplingOptions sampling, int maxTokens)
    {
        _app = app;
        _model = model;
        _session = session;
        _sampling = sampling;
        _maxTokens = maxTokens;
    }

    /// <summary>The address the server listens on, with the port it got.</summary>
    public string Url => _app.Urls.First();

    /// <summary>Loads the model and starts listening on 127.0.0.1:<paramref name="port"/> (0 picks a free port).</summary>
    public static async Task<ChatServer> StartAsync(RunLayout run, string? checkpoint, int port, SamplingOptions sampling, int maxTokens)
    {
        var tokenizer = TokenizerStage.Load(run.TokenizerDir);
        string dir = checkpoint ?? run.LatestModel;
        if (!File.Exists(Path.Combine(dir, Checkpoint.ModelFile)))
            throw new UserException($"No model in '{dir}'. Run `nanochat speedrun` (or pretrain and sft) first, or pass --checkpoint DIR.");
        var model = Checkpoint.Load(dir, run.Device);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        // Loopback only: this is a local demo without authentication, never a public service.
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        var app = builder.Build();
        var server = new ChatServer(app, model, new ChatSession(model, new ChatFormat(tokenizer)), sampling, maxTokens);
        app.MapGet("/", () => Results.Content(Page.Html, "text/html; charset=utf-8"));
        app.MapPost("/api/chat", server.ChatAsync);
        await app.StartAsync();
        return server;
    }

    /// <summary>Serves until <paramref name="stop"/> is cancelled (Ctrl+C).</summary>
    public Task WaitAsync(CancellationToken stop) => _app.WaitForShutdownAsync(stop);

    private async Task ChatAsync(HttpContext context)
    {
        List<int> prompt;
        try
        {
            Conversation conversation = ReadConversation(await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted));
            prompt = _session.Format.RenderForCompletion(conversation); // Turn order is checked here, before any reply starts.
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException or KeyNotFoundException)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync($"Expected {{\"messages\": [{{\"role\": \"user\", \"content\": \"...\"}}]}} ending with a user message: {e.Message}");
            return;
        }
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        await _turn.WaitAsync(context.RequestAborted);
        try
        {
            // Generation is CPU-bound and synchronous; it runs on a worker thread and hands each event
            // to the response as it comes, so the browser sees the reply grow token by token.
            var events = System.Threading.Channels.Channel.CreateUnbounded<string>();
            var producer = Task.Run(() =>
            {
                try
                {
                    Generate(prompt, events.Writer, context.RequestAborted);
                }
                finally
                {
                    events.Writer.TryComplete();
                }
            });
            await foreach (string frame in events.Reader.ReadAllAsync(context.RequestAborted))
            {
                await context.Response.WriteAsync(frame, context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
            }
            await producer;
            await context.Response.WriteAsync("event: done\ndata: {}\n\n", context.RequestAborted);
        }
        catch (OperationCanceledException)
        {
            // The browser went away: nothing to answer.
        }
        finally
        {
            _turn.Release();
        }
    }

    private void Generate(List<int> prompt, System.Threading.Channels.ChannelWriter<string> events, CancellationToken cancel)
    {
        var f = _session.Format;
        var decoder = new Utf8Pieces(f.Tokenizer);
        var tool = new List<int>();
        bool inPython = false, inOutput = false;
        string expression = "";
        foreach (var (token, _) in _session.Reply(prompt, _maxTokens, _sampling))
        {
            cancel.ThrowIfCancellationRequested();
            if (token == f.AssistantEnd || token == f.Bos) break;
            if (token == f.PythonStart) { Flush(); inPython = true; tool.Clear(); continue; }
            if (token == f.PythonEnd) { inPython = false; expression = f.Tokenizer.Decode(tool.ToArray()); tool.Clear(); continue; }
            if (token == f.OutputStart) { inOutput = true; tool.Clear(); continue; }
            if (token == f.OutputEnd)
            {
                inOutput = false;
                events.TryWrite(Frame(new { tool = expression, result = f.Tokenizer.Decode(tool.ToArray()) }));
                tool.Clear();
                continue;
            }
            if (f.Tokenizer.IsSpecial(token)) continue;
            if (inPython || inOutput) { tool.Add(token); continue; }
            string piece = decoder.Add(token);
            if (piece.Length > 0) events.TryWrite(Frame(new { text = piece }));
        }
        Flush();

        void Flush()
        {
            string rest = decoder.Flush();
            if (rest.Length > 0) events.TryWrite(Frame(new { text = rest }));
        }
    }

    private static string Frame(object payload) => $"data: {JsonSerializer.Serialize(payload)}\n\n";

    /// <summary>
    /// The request body as a conversation, in the chat-data format (<see cref="Conversation.FromJson"/>): an
    /// assistant turn may be a list of parts, so a calculator call the model made earlier goes back to it as
    /// the same python and output tokens, not as text. The last turn must be the user's.
    /// </summary>
    internal static Conversation ReadConversation(JsonDocument body)
    {
        Conversation conversation = Conversation.FromJson(body.RootElement.GetRawText());
        foreach (Message m in conversation.Messages)
        {
            // Roles are checked by FromJson; the order (alternating, a system turn only first) by ChatFormat.
            int length = m.Text.Length;
            if (length > 4000) throw new FormatException($"a message of {length} characters; the limit is 4000");
        }
        if (conversation.Messages[^1].Role != "user") throw new FormatException("the conversation must end with a user message");
        return conversation;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _model.Dispose();
        _turn.Dispose();
    }
}

/// <summary>Decodes tokens to text as they come, holding back bytes that do not yet form whole UTF-8 characters.</summary>
internal sealed class Utf8Pieces(Engine.Tokenizers.BpeTokenizer tokenizer)
{
    private readonly Decoder _decoder = new UTF8Encoding(false).GetDecoder();
    private readonly char[] _chars = new char[1024];

    public string Add(int token)
    {
        var bytes = tokenizer.GetTokenBytes(token);
        int n = _decoder.GetChars(bytes, _chars, flush: false);
        return new string(_chars, 0, n);
    }

    public string Flush()
    {
        int n = _decoder.GetChars([], _chars, flush: true);
        return new string(_chars, 0, n);
    }
}
