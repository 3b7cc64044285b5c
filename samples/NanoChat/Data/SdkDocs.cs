using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace NanoChat.Data;

/// <summary>
/// The default corpus, which needs no download: the XML API reference that ships beside the
/// reference assemblies of every .NET SDK (<c>packs/Microsoft.NETCore.App.Ref/&lt;ver&gt;/ref/net10.0/*.xml</c>).
/// </summary>
internal static partial class SdkDocs
{
    /// <summary>Candidate dotnet roots: the running runtime's, DOTNET_ROOT, then every dotnet on PATH (symlinks resolved).</summary>
    public static IEnumerable<string> DotnetRoots()
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        // The runtime directory is <root>/shared/Microsoft.NETCore.App/<version>/.
        var runtimeDir = RuntimeEnvironment.GetRuntimeDirectory();
        var fromRuntime = Path.GetFullPath(Path.Combine(runtimeDir, "..", "..", ".."));
        if (seen.Add(fromRuntime)) yield return fromRuntime;
        foreach (var variable in new[] { "DOTNET_ROOT", "DOTNET_ROOT_X64" })
        {
            var root = Environment.GetEnvironmentVariable(variable);
            if (!string.IsNullOrEmpty(root) && seen.Add(Path.GetFullPath(root))) yield return Path.GetFullPath(root);
        }
        var exe = OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet";
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, exe);
            if (!File.Exists(candidate)) continue;
            var target = new FileInfo(candidate).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? candidate;
            var root = Path.GetDirectoryName(Path.GetFullPath(target));
            if (root is not null && seen.Add(root)) yield return root;
        }
    }

    /// <summary>
    /// The XML docs of the newest Microsoft.NETCore.App reference pack under the first dotnet root
    /// that has one, in ordinal order; empty when none is installed.
    /// </summary>
    public static IReadOnlyList<string> FindXmlFiles()
    {
        foreach (var root in DotnetRoots())
        {
            var packs = Path.Combine(root, "packs", "Microsoft.NETCore.App.Ref");
            if (!Directory.Exists(packs)) continue;
            // Newest pack version first; within it the newest target framework folder.
            foreach (var version in Directory.GetDirectories(packs).OrderByDescending(d => ParseVersion(Path.GetFileName(d))))
            {
                var refDir = Path.Combine(version, "ref");
                if (!Directory.Exists(refDir)) continue;
                foreach (var tfm in Directory.GetDirectories(refDir).OrderByDescending(d => Path.GetFileName(d), StringComparer.Ordinal))
                {
                    var files = Directory.GetFiles(tfm, "*.xml").OrderBy(f => f, StringComparer.Ordinal).ToArray();
                    if (files.Length > 0) return files;
                }
            }
        }
        return [];
    }

    private static Version ParseVersion(string name) =>
        Version.TryParse(name.Split('-')[0], out var v) ? v : new Version(0, 0);

    /// <summary>Reads every member of the given XML doc files, the first occurrence of each id winning.</summary>
    public static List<ApiMember> ReadMembers(IEnumerable<string> xmlFiles)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var members = new List<ApiMember>();
        foreach (var file in xmlFiles)
        {
            XDocument doc;
            try { doc = XDocument.Load(file, LoadOptions.PreserveWhitespace); }
            catch (System.Xml.XmlException) { continue; }   // not a doc file; skip it rather than fail the corpus
            foreach (var m in doc.Descendants("member"))
            {
                var member = Parse(m);
                if (member is not null && seen.Add(member.Id)) members.Add(member);
            }
        }
        return members;
    }

    /// <summary>One &lt;member&gt; element as plain text; null when it has no summary worth keeping.</summary>
    public static ApiMember? Parse(XElement member)
    {
        var id = (string?)member.Attribute("name");
        if (string.IsNullOrEmpty(id)) return null;
        string summary = PlainText(member.Element("summary"));
        if (summary.Length == 0 || summary.StartsWith("This API supports the product infrastructure", StringComparison.Ordinal)) return null;
        var parameters = member.Elements().Where(e => e.Name == "param" || e.Name == "typeparam")
            .Select(e => ((string?)e.Attribute("name") ?? "?", PlainText(e)))
            .Where(p => p.Item2.Length > 0).ToList();
        string returns = PlainText(member.Element("returns") ?? member.Element("value"));
        return new ApiMember(id, summary, PlainText(member.Element("remarks")), parameters, returns);
    }

    /// <summary>
    /// The text of a doc element: tags dropped, &lt;see cref&gt; and friends replaced by the names
    /// they point at, &lt;para&gt; and list items on their own lines, runs of spaces collapsed.
    /// </summary>
    public static string PlainText(XElement? element)
    {
        if (element is null) return "";
        var sb = new StringBuilder();
        Append(element, sb);
        var lines = sb.ToString().Split('\n').Select(l => Spaces().Replace(l, " ").Trim()).Where(l => l.Length > 0);
        return string.Join("\n", lines);
    }

    private static void Append(XElement element, StringBuilder sb)
    {
        foreach (var node in element.Nodes())
        {
            switch (node)
            {
                case XText text:
                    sb.Append(text.Value.Replace('\n', ' ').Replace('\r', ' '));
                    break;
                case XElement e:
                    switch (e.Name.LocalName)
                    {
                        case "see" or "seealso":
                            if (!e.IsEmpty && e.Value.Length > 0) sb.Append(e.Value);
                            else if (e.Attribute("cref") is { } cref) sb.Append(ApiMember.ShortName(cref.Value));
                            else if (e.Attribute("langword") is { } word) sb.Append(word.Value);
                            else if (e.Attribute("href") is { } href) sb.Append(href.Value);
                            break;
                        case "paramref" or "typeparamref":
                            sb.Append((string?)e.Attribute("name"));
                            break;
                        case "para" or "p" or "br":
                            sb.Append('\n');
                            Append(e, sb);
                            sb.Append('\n');
                            break;
                        case "item" or "listheader":
                            sb.Append("\n- ");
                            Append(e, sb);
                            sb.Append('\n');
                            break;
                        case "term":
                            Append(e, sb);
                            sb.Append(": ");
                            break;
                        case "code":
                            sb.Append('\n').Append(e.Value.Trim()).Append('\n');
                            break;
                        default:
                            Append(e, sb);
                            break;
                    }
                    break;
            }
        }
    }

    [GeneratedRegex(@"[ \t\u00A0]+")]
    private static partial Regex Spaces();
}
