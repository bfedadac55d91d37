using System.Collections;
using System.Globalization;

namespace GpuNtk.Kernels.Sharding;

/// <summary>A shard read off a launcher's environment, and which launcher set it.</summary>
public readonly record struct DetectedShard(Shard Shard, string Launcher);

/// <summary>
/// Reads this process's shard from the environment cluster launchers set, so the same command line runs under any
/// of them. Checked in this order (the innermost launcher first: <c>mpirun</c> inside a SLURM allocation inherits
/// the batch step's SLURM variables):
/// <list type="number">
/// <item>Open MPI <c>mpirun</c>: <c>OMPI_COMM_WORLD_RANK</c> of <c>OMPI_COMM_WORLD_SIZE</c>;</item>
/// <item>MPICH / Intel MPI (Hydra): <c>PMI_RANK</c> of <c>PMI_SIZE</c>;</item>
/// <item>SLURM: task <c>SLURM_PROCID</c> of <c>SLURM_STEP_NUM_TASKS</c> (else <c>SLURM_NTASKS</c>) within job-array
/// element <c>(SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP</c> of
/// <c>SLURM_ARRAY_TASK_COUNT</c> — arrays need not start at 0 — combined as
/// <c>element·tasks + task</c> of <c>elements·tasks</c>;</item>
/// <item>Kubernetes indexed Job: <c>JOB_COMPLETION_INDEX</c>, with the count given by the caller (the Job's
/// <c>completions</c>; Kubernetes does not export it).</item>
/// </list>
/// </summary>
public static class ShardLaunchers
{
    /// <summary>Detects the shard from the current process's environment.</summary>
    public static DetectedShard Detect(int? count = null)
    {
        var env = new Dictionary<string, string>();
        foreach (DictionaryEntry e in Environment.GetEnvironmentVariables()) env[(string)e.Key] = e.Value as string ?? "";
        return Detect(env, count);
    }

    /// <summary>
    /// Detects the shard from <paramref name="env"/>. <paramref name="count"/> is required for a Kubernetes indexed
    /// Job and, when given with another launcher, must equal the count it reports.
    /// </summary>
    public static DetectedShard Detect(IReadOnlyDictionary<string, string> env, int? count = null)
    {
        ArgumentNullException.ThrowIfNull(env);
        DetectedShard found;
        if (Has(env, "OMPI_COMM_WORLD_RANK"))
            found = new(new Shard(Int(env, "OMPI_COMM_WORLD_RANK"), Int(env, "OMPI_COMM_WORLD_SIZE")), "Open MPI");
        else if (Has(env, "PMI_RANK"))
            found = new(new Shard(Int(env, "PMI_RANK"), Int(env, "PMI_SIZE")), "MPICH/Intel MPI (PMI)");
        else if (Has(env, "SLURM_PROCID") || Has(env, "SLURM_ARRAY_TASK_ID"))
            found = Slurm(env);
        else if (Has(env, "JOB_COMPLETION_INDEX"))
        {
            int index = Int(env, "JOB_COMPLETION_INDEX");
            if (count is not int n)
                throw new ArgumentException($"Kubernetes indexed Job (JOB_COMPLETION_INDEX={index}) does not say how many shards there are: " +
                                            "give the shard count, equal to the Job's spec.completions");
            return new(Checked(index, n, "JOB_COMPLETION_INDEX", "the shard count"), "Kubernetes indexed Job");
        }
        else
            throw new ArgumentException("no launcher found in the environment (looked for OMPI_COMM_WORLD_RANK, PMI_RANK, SLURM_PROCID, " +
                                        "SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX): start the workers with mpirun, srun, sbatch --array or " +
                                        "a Kubernetes indexed Job, or give the shard explicitly as i/n");
        if (count is int c && c != found.Shard.Count)
            throw new ArgumentException($"the shard count {c} disagrees with {found.Launcher}, which started {found.Shard.Count} workers: " +
                                        "leave the count out or make them equal");
        return found;
    }

    private static DetectedShard Slurm(IReadOnlyDictionary<string, string> env)
    {
        int task = 0, tasks = 1, element = 0, elements = 1;
        if (Has(env, "SLURM_PROCID"))
        {
            task = Int(env, "SLURM_PROCID");
            tasks = Has(env, "SLURM_STEP_NUM_TASKS") ? Int(env, "SLURM_STEP_NUM_TASKS") : Has(env, "SLURM_NTASKS") ? Int(env, "SLURM_NTASKS") : 1;
            Checked(task, tasks, "SLURM_PROCID", "SLURM_STEP_NUM_TASKS/SLURM_NTASKS");
        }
        if (Has(env, "SLURM_ARRAY_TASK_ID"))
        {
            int id = Int(env, "SLURM_ARRAY_TASK_ID");
            int min = Has(env, "SLURM_ARRAY_TASK_MIN") ? Int(env, "SLURM_ARRAY_TASK_MIN") : 0;
            int step = Has(env, "SLURM_ARRAY_TASK_STEP") ? Int(env, "SLURM_ARRAY_TASK_STEP") : 1;
            elements = Int(env, "SLURM_ARRAY_TASK_COUNT");
            if (step < 1 || id < min || (id - min) % step != 0)
                throw new ArgumentException($"SLURM_ARRAY_TASK_ID={id} is not min + k·step (SLURM_ARRAY_TASK_MIN={min}, SLURM_ARRAY_TASK_STEP={step}): " +
                                            "shard over a regular array such as --array=0-7 or --array=1-15:2");
            element = (id - min) / step;
            Checked(element, elements, $"SLURM_ARRAY_TASK_ID={id} (element {element} from SLURM_ARRAY_TASK_MIN={min})", "SLURM_ARRAY_TASK_COUNT");
        }
        string what = Has(env, "SLURM_ARRAY_TASK_ID") ? Has(env, "SLURM_PROCID") && tasks > 1 ? "SLURM array × srun tasks" : "SLURM job array" : "SLURM srun";
        return new(new Shard(element * tasks + task, elements * tasks), what);
    }

    private static Shard Checked(int index, int count, string indexName, string countName)
    {
        if (count < 1 || index < 0 || index >= count)
            throw new ArgumentException($"{indexName} = {index} is outside 0…{count - 1} ({countName} = {count}): the launcher's variables disagree");
        return new Shard(index, count);
    }

    private static bool Has(IReadOnlyDictionary<string, string> env, string name) => env.TryGetValue(name, out var v) && !string.IsNullOrWhiteSpace(v);

    private static int Int(IReadOnlyDictionary<string, string> env, string name)
    {
        if (!env.TryGetValue(name, out var text) || string.IsNullOrWhiteSpace(text))
            throw new ArgumentException($"{name} is not set, but the launcher's other variables are: the environment is incomplete");
        if (!int.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value))
            throw new ArgumentException($"{name}={text}: not an integer");
        return value;
    }
}
