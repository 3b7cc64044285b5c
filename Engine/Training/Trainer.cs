using System.Diagnostics;
using System.Globalization;
using Engine.Autograd;
using Engine.Data;
using Engine.IO;
using Engine.NN;
using Engine.Optim;

namespace Engine.Training;

/// <summary>What a <see cref="Trainer"/> does and how often.</summary>
/// <param name="Steps">Optimizer steps in the whole run.</param>
/// <param name="GradAccumulation">Micro-batches whose gradients are summed into each step.</param>
/// <param name="CheckpointEvery">Save a checkpoint every this many steps (0: only at the end).</param>
/// <param name="CheckpointDirectory">Where checkpoints go (each save replaces the previous one atomically); null saves none.</param>
/// <param name="EvalEvery">Run the validation loss every this many steps (0: never).</param>
/// <param name="EvalBatches">Validation batches per evaluation.</param>
public sealed record TrainerOptions(int Steps, int GradAccumulation = 1, int CheckpointEvery = 0, string? CheckpointDirectory = null, int EvalEvery = 0, int EvalBatches = 4);

/// <summary>One step's numbers, reported to the caller's log.</summary>
/// <param name="Step">The step just taken (1-based).</param>
/// <param name="Loss">Mean training loss over the step's micro-batches.</param>
/// <param name="LearningRateMultiplier">The schedule's multiplier for this step.</param>
/// <param name="TokensPerSecond">Training tokens per second over this step.</param>
/// <param name="ValidationLoss">Validation loss when this step evaluated, else null.</param>
/// <param name="FlopsPerSecond">Model FLOPs per second (nanochat's estimate per token × tokens per second); divided by a device's dense peak this is MFU.</param>
public sealed record StepReport(int Step, double Loss, double LearningRateMultiplier, double TokensPerSecond, double? ValidationLoss, double FlopsPerSecond);

/// <summary>The loss became NaN or infinite: the run stops, naming the step and the last good checkpoint.</summary>
public sealed class TrainingDivergedException(string message) : Exception(message);

/// <summary>
/// The pretraining/fine-tuning loop: gradient accumulation, nanochat's schedules, periodic validation
/// and checkpoints (weights, optimizer state, step and data position, so a resumed run continues
/// exactly), a stop on a non-finite loss, and a clean save-and-exit on cancellation (Ctrl+C).
/// </summary>
public sealed class Trainer(Gpt model, GptOptimizers optimizers, LrSchedule schedule, BatchLoader train, BatchLoader? validation, TrainerOptions options)
{
    /// <summary>Steps completed (restored by <see cref="Resume"/>).</summary>
    public int Step { get; private set; }

    /// <summary>Called after every step.</summary>
    public event Action<StepReport>? StepCompleted;

    /// <summary>Loads weights, optimizer state, step and data position from a checkpoint written by this trainer.</summary>
    public void Resume(string directory)
    {
        Checkpoint.LoadWeights(model, Path.Combine(directory, Checkpoint.ModelFile));
        var meta = Checkpoint.LoadTrainingState(directory, optimizers);
        Step = int.Parse(meta["trainer.step"], CultureInfo.InvariantCulture);
        train.Position = long.Parse(meta["trainer.data_position"], CultureInfo.InvariantCulture);
    }

    /// <summary>Saves a checkpoint of the run as it stands.</summary>
    public void SaveCheckpoint(string directory) =>
        Checkpoint.Save(directory, model, optimizers, new Dictionary<string, string>
        {
            ["trainer.step"] = Step.ToString(CultureInfo.InvariantCulture),
            ["trainer.data_position"] = train.Position.ToString(CultureInfo.InvariantCulture),
        });

    /// <summary>
    /// Trains until <see cref="TrainerOptions.Steps"/>; on cancellation saves a checkpoint (when a
    /// directory is set) and returns early. Returns the steps completed.
    /// </summary>
    public int Run(CancellationToken cancellation = default)
    {
        int tokensPerStep = options.GradAccumulation * train.BatchSize * train.SequenceLength;
        double flopsPerToken = model.FlopsPerToken();
        string? lastCheckpoint = null;
        while (Step < options.Steps)
        {
            if (cancellation.IsCancellationRequested) break;
            var clock = Stopwatch.StartNew();
            double loss = 0;
            for (int micro = 0; micro < options.GradAccumulation; micro++)
            {
                using var scope = new TensorScope();
                var (x, y) = train.Next();
                var l = model.Loss(x, y);
                double value = l.Item();
                if (!double.IsFinite(value))
                    throw new TrainingDivergedException($"The training loss became {value} at step {Step + 1}. " +
                        (lastCheckpoint is null ? "No checkpoint was saved in this run." : $"The last good checkpoint is '{lastCheckpoint}'.") +
                        " Lower the learning rate or check the data.");
                loss += value / options.GradAccumulation;
                (l * (1.0 / options.GradAccumulation)).Backward();
            }
            optimizers.Step(schedule, Step);
            optimizers.ZeroGrad();
            Step++;
            double? validationLoss = options.EvalEvery > 0 && validation is not null && (Step % options.EvalEvery == 0 || Step == options.Steps)
                ? Evaluate(validation, options.EvalBatches) : null;
            double tokensPerSecond = tokensPerStep / clock.Elapsed.TotalSeconds;
            StepCompleted?.Invoke(new StepReport(Step, loss, schedule.Multiplier(Step - 1), tokensPerSecond, validationLoss, tokensPerSecond * flopsPerToken));
            if (options.CheckpointDirectory is not null && options.CheckpointEvery > 0 && Step % options.CheckpointEvery == 0)
            {
                SaveCheckpoint(options.CheckpointDirectory);
                lastCheckpoint = options.CheckpointDirectory;
            }
        }
        if (options.CheckpointDirectory is not null && (Step == options.Steps || cancellation.IsCancellationRequested))
            SaveCheckpoint(options.CheckpointDirectory);
        return Step;
    }

    /// <summary>Mean loss over <paramref name="batches"/> batches of <paramref name="loader"/>, without gradients.</summary>
    public double Evaluate(BatchLoader loader, int batches)
    {
        double total = 0;
        using var noGrad = GradMode.NoGrad();
        for (int i = 0; i < batches; i++)
        {
            using var scope = new TensorScope();
            var (x, y) = loader.Next();
            total += model.Loss(x, y).Item();
        }
        return total / batches;
    }
}
