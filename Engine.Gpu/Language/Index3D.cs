namespace Engine.Gpu;

/// <summary>A three-dimensional index or extent, as used for grid and group shapes.</summary>
/// <param name="X">The x component (fastest varying).</param>
/// <param name="Y">The y component.</param>
/// <param name="Z">The z component (slowest varying).</param>
public readonly record struct Index3D(int X, int Y, int Z)
{
    /// <summary>A one-dimensional extent: (x, 1, 1).</summary>
    /// <param name="x">The x component.</param>
    public Index3D(int x) : this(x, 1, 1)
    {
    }

    /// <summary>A two-dimensional extent: (x, y, 1).</summary>
    /// <param name="x">The x component.</param>
    /// <param name="y">The y component.</param>
    public Index3D(int x, int y) : this(x, y, 1)
    {
    }

    /// <summary>The number of points in the extent: X * Y * Z.</summary>
    public long Size => (long)X * Y * Z;

    /// <summary>Converts an integer into the extent (x, 1, 1).</summary>
    /// <param name="x">The x component.</param>
    public static implicit operator Index3D(int x) => new(x, 1, 1);

    /// <inheritdoc/>
    public override string ToString() => $"({X}, {Y}, {Z})";
}
