namespace NanoChat.Serve;

/// <summary>
/// The chat page: plain HTML, CSS and a few lines of JavaScript, no external files. The reply streams in
/// through fetch's body reader. <c>?q=...</c> asks a first question on load (links, and the browser test);
/// <c>data-state</c> on the body says "ready", "streaming" or "done".
/// </summary>
internal static class Page
{
    public const string Html = """
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>nanochat on Engine</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
  #log { display: flex; flex-direction: column; gap: .6rem; margin-bottom: 1rem; }
  .msg { padding: .5rem .8rem; border-radius: .6rem; white-space: pre-wrap; }
  .user { align-self: flex-end; background: #dbeafe; }
  .assistant { align-self: flex-start; background: #f3f4f6; }
  .tool { font-family: ui-monospace, monospace; color: #065f46; }
  form { display: flex; gap: .5rem; }
  input { flex: 1; padding: .5rem; font-size: 1rem; }
</style>
</head>
<body data-state="ready">
<h1>nanochat on Engine</h1>
<div id="log"></div>
<form id="ask"><input id="q" autocomplete="off" placeholder="Ask something, e.g. What is 12*34?"><button>Send</button></form>
<script>
const log = document.getElementById('log');
const history = [];
function bubble(role, text) {
  const div = document.createElement('div');
  div.className = 'msg ' + role;
  div.textContent = text;
  log.appendChild(div);
  return div;
}
async function ask(question) {
  document.body.dataset.state = 'streaming';
  history.push({ role: 'user', content: question });
  bubble('user', question);
  const answer = bubble('assistant', '');
  answer.id = 'answer-' + history.length;
  const response = await fetch('/api/chat', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ messages: history }) });
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  // The reply as the chat-data format's parts, so the next turn sends the calculator call back as
  // python and output tokens rather than as text the model never wrote.
  let buffer = '', text = '';
  const parts = [];
  const addText = t => {
    if (parts.length > 0 && parts[parts.length - 1].type === 'text') parts[parts.length - 1].text += t;
    else parts.push({ type: 'text', text: t });
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = frame.split('\n').find(l => l.startsWith('data: '));
      if (frame.startsWith('event: done') || !data) continue;
      const event = JSON.parse(data.slice(6));
      if (event.text !== undefined) { text += event.text; addText(event.text); answer.textContent = text; }
      if (event.tool !== undefined) {
        const span = document.createElement('span');
        span.className = 'tool';
        span.textContent = ' [' + event.tool + ' = ' + event.result + '] ';
        answer.appendChild(span);
        text += span.textContent;
        parts.push({ type: 'python', text: event.tool }, { type: 'python_output', text: event.result });
      }
    }
  }
  history.push({ role: 'assistant', content: parts.length > 0 ? parts : '' });
  document.body.dataset.state = 'done';
}
document.getElementById('ask').addEventListener('submit', e => {
  e.preventDefault();
  const q = document.getElementById('q');
  if (q.value.trim()) { ask(q.value.trim()); q.value = ''; }
});
const first = new URLSearchParams(location.search).get('q');
if (first) ask(first);
</script>
</body>
</html>
""";
}
