using System.Globalization;
using System.Net;
using System.Text;

namespace NanoChat.Report;

/// <summary>One line of a chart: a name, a colour and its (x, y) points.</summary>
internal sealed record Series(string Name, string Color, IReadOnlyList<(double X, double Y)> Points);

/// <summary>
/// A minimal SVG line chart: axes with "nice" ticks, one polyline per series, a legend. Enough for
/// loss curves in a Markdown report, with no dependency.
/// </summary>
internal static class SvgLineChart
{
    public static string Render(string title, string xLabel, string yLabel, IReadOnlyList<Series> series, int width = 640, int height = 360)
    {
        const int left = 64, right = 16, top = 36, bottom = 48;
        var points = series.SelectMany(s => s.Points).Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).ToList();
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        svg.Append(CultureInfo.InvariantCulture, $"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{width / 2}\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">{Escape(title)}</text>\n");
        if (points.Count == 0)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{width / 2}\" y=\"{height / 2}\" text-anchor=\"middle\">no data</text>\n</svg>\n");
            return svg.ToString();
        }
        var (x0, x1, xStep) = NiceRange(points.Min(p => p.X), points.Max(p => p.X));
        var (y0, y1, yStep) = NiceRange(points.Min(p => p.Y), points.Max(p => p.Y));
        double plotW = width - left - right, plotH = height - top - bottom;
        double Px(double x) => left + (x - x0) / (x1 - x0) * plotW;
        double Py(double y) => top + plotH - (y - y0) / (y1 - y0) * plotH;

        for (double y = y0; y <= y1 + yStep / 2; y += yStep)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" y1=\"{Py(y):F1}\" x2=\"{width - right}\" y2=\"{Py(y):F1}\" stroke=\"#e5e5e5\"/>\n");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 6}\" y=\"{Py(y) + 4:F1}\" text-anchor=\"end\">{Label(y, yStep)}</text>\n");
        }
        for (double x = x0; x <= x1 + xStep / 2; x += xStep)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Px(x):F1}\" y1=\"{top}\" x2=\"{Px(x):F1}\" y2=\"{top + plotH}\" stroke=\"#f0f0f0\"/>\n");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Px(x):F1}\" y=\"{top + plotH + 16}\" text-anchor=\"middle\">{Label(x, xStep)}</text>\n");
        }
        svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{left}\" y=\"{top}\" width=\"{plotW}\" height=\"{plotH}\" fill=\"none\" stroke=\"#888\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left + plotW / 2}\" y=\"{height - 10}\" text-anchor=\"middle\">{Escape(xLabel)}</text>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text transform=\"translate(16 {top + plotH / 2}) rotate(-90)\" text-anchor=\"middle\">{Escape(yLabel)}</text>\n");

        int legendY = top + 14;
        foreach (var s in series)
        {
            var pts = s.Points.Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).ToList();
            if (pts.Count == 0) continue;
            if (pts.Count == 1)
                svg.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{Px(pts[0].X):F1}\" cy=\"{Py(pts[0].Y):F1}\" r=\"3\" fill=\"{s.Color}\"/>\n");
            else
                svg.Append(CultureInfo.InvariantCulture, $"<polyline fill=\"none\" stroke=\"{s.Color}\" stroke-width=\"1.5\" points=\"{string.Join(" ", pts.Select(p => $"{Px(p.X).ToString("F1", CultureInfo.InvariantCulture)},{Py(p.Y).ToString("F1", CultureInfo.InvariantCulture)}"))}\"/>\n");
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{width - right - 150}\" y1=\"{legendY - 4}\" x2=\"{width - right - 130}\" y2=\"{legendY - 4}\" stroke=\"{s.Color}\" stroke-width=\"2\"/>\n");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{width - right - 124}\" y=\"{legendY}\">{Escape(s.Name)}</text>\n");
            legendY += 16;
        }
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    /// <summary>Axis bounds on multiples of a 1-2-5 step, about five ticks; a flat range is widened.</summary>
    public static (double Low, double High, double Step) NiceRange(double min, double max)
    {
        if (max - min < 1e-12) { double pad = Math.Max(Math.Abs(min) * 0.1, 1e-3); min -= pad; max += pad; }
        double raw = (max - min) / 5;
        double magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double step = new[] { 1.0, 2.0, 5.0, 10.0 }.Select(m => m * magnitude).First(s => s >= raw);
        return (Math.Floor(min / step) * step, Math.Ceiling(max / step) * step, step);
    }

    private static string Label(double value, double step)
    {
        int decimals = Math.Max(0, (int)-Math.Floor(Math.Log10(step)));
        return Math.Round(value, decimals).ToString("F" + decimals, CultureInfo.InvariantCulture);
    }

    private static string Escape(string s) => WebUtility.HtmlEncode(s);
}
