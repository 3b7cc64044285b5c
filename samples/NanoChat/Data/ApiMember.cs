using System.Text;

namespace NanoChat.Data;

/// <summary>One documented member of the .NET API reference (a type, method, property, field or event).</summary>
/// <param name="Id">The doc-comment id, e.g. <c>M:System.String.Trim(System.Char[])</c>.</param>
/// <param name="Summary">The summary as plain text.</param>
/// <param name="Remarks">The remarks as plain text (often empty).</param>
/// <param name="Parameters">Parameter and type-parameter names with their descriptions.</param>
/// <param name="Returns">What a method returns (or a property's value), plain text.</param>
internal sealed record ApiMember(string Id, string Summary, string Remarks, IReadOnlyList<(string Name, string Text)> Parameters, string Returns)
{
    /// <summary>The member's kind in words, from the id's prefix.</summary>
    public string Kind => Id.Length > 1 && Id[1] == ':' ? Id[0] switch
    {
        'T' => "type",
        'M' => Id.Contains(".#ctor", StringComparison.Ordinal) ? "constructor" : "method",
        'P' => "property",
        'F' => "field",
        'E' => "event",
        _ => "member",
    } : "member";

    /// <summary>The full name without the id prefix: <c>System.String.Trim(System.Char[])</c>.</summary>
    public string FullName => Id.Length > 2 && Id[1] == ':' ? Id[2..] : Id;

    /// <summary>A short readable name: the type and member without namespaces, e.g. <c>String.Trim(Char[])</c>.</summary>
    public string DisplayName => ShortName(Id);

    /// <summary>
    /// Turns a doc-comment id (with or without its prefix) into a short name: namespaces dropped,
    /// generic arity marks removed, parameter types shortened, constructors shown as the type's name.
    /// </summary>
    public static string ShortName(string id)
    {
        string name = id.Length > 2 && id[1] == ':' ? id[2..] : id;
        string args = "";
        int paren = name.IndexOf('(');
        if (paren >= 0)
        {
            var inner = name[(paren + 1)..].TrimEnd(')');
            args = "(" + string.Join(", ", SplitTopLevel(inner).Select(a => LastSegment(StripArity(a)))) + ")";
            name = name[..paren];
        }
        name = StripArity(name);
        var parts = name.Split('.');
        string shortName = parts.Length >= 2 && id.StartsWith("T:", StringComparison.Ordinal) is false
            ? parts[^2] + "." + parts[^1]
            : parts[^1];
        shortName = shortName.Replace(".#ctor", "", StringComparison.Ordinal).Replace("#ctor", "", StringComparison.Ordinal);
        return shortName + args;
    }

    private static string StripArity(string s)
    {
        var sb = new StringBuilder(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '`')
            {
                // After a name, `N is an arity mark (dropped); on its own, `N or ``N names a type parameter (shown as T, T1, ...).
                bool parameter = i == 0 || s[i - 1] is '{' or ',' or '(' or '[';
                int digitsStart = i;
                while (i + 1 < s.Length && (s[i + 1] == '`' || char.IsAsciiDigit(s[i + 1]))) i++;
                if (parameter)
                {
                    var number = s[digitsStart..(i + 1)].TrimStart('`');
                    sb.Append('T').Append(number == "0" ? "" : number);
                }
                continue;
            }
            sb.Append(s[i]);
        }
        return sb.ToString();
    }

    private static string LastSegment(string typeName)
    {
        // Keep generic arguments readable: System.Collections.Generic.List{System.Int32} -> List<Int32>.
        int brace = typeName.IndexOf('{');
        if (brace < 0) return typeName[(typeName.LastIndexOf('.') + 1)..];
        int depth = 0, close = -1;
        for (int i = brace; i < typeName.Length && close < 0; i++)
        {
            if (typeName[i] == '{') depth++;
            else if (typeName[i] == '}' && --depth == 0) close = i;
        }
        if (close < 0) return typeName[(typeName.LastIndexOf('.') + 1)..];
        string head = typeName[..brace];
        string inner = typeName[(brace + 1)..close];
        string tail = typeName[(close + 1)..];
        return head[(head.LastIndexOf('.') + 1)..] + "<" + string.Join(", ", SplitTopLevel(inner).Select(LastSegment)) + ">" + tail;
    }

    private static IEnumerable<string> SplitTopLevel(string s)
    {
        int depth = 0, start = 0;
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] is '{' or '[' or '(') depth++;
            else if (s[i] is '}' or ']' or ')') depth--;
            else if (s[i] == ',' && depth == 0) { yield return s[start..i]; start = i + 1; }
        }
        if (s.Length > start) yield return s[start..];
    }

    /// <summary>The member as a plain-text training document.</summary>
    public string ToDocument()
    {
        var sb = new StringBuilder();
        sb.Append(Kind).Append(' ').Append(FullName).Append('\n');
        if (Summary.Length > 0) sb.Append(Summary).Append('\n');
        if (Parameters.Count > 0)
        {
            sb.Append("Parameters:\n");
            foreach (var (name, text) in Parameters) sb.Append("  ").Append(name).Append(": ").Append(text).Append('\n');
        }
        if (Returns.Length > 0) sb.Append("Returns: ").Append(Returns).Append('\n');
        if (Remarks.Length > 0) sb.Append("Remarks: ").Append(Remarks).Append('\n');
        return sb.ToString();
    }
}
