namespace Engine.Tests.Core;

/// <summary>Tests that read the device's live-buffer count run alone: other tests allocate concurrently.</summary>
[CollectionDefinition("Memory", DisableParallelization = true)]
public sealed class MemoryCollection;
