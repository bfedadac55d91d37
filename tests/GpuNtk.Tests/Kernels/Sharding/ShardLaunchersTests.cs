using GpuNtk.Kernels.Sharding;
using NUnit.Framework;

namespace GpuNtk.Tests.Kernels.Sharding;

public sealed class ShardLaunchersTests
{
    private static DetectedShard Detect(int? count, params (string Name, string Value)[] env) =>
        ShardLaunchers.Detect(env.ToDictionary(e => e.Name, e => e.Value), count);

    [Test]
    public void OpenMpiRankAndSizeGiveTheShard()
    {
        var d = Detect(null, ("OMPI_COMM_WORLD_RANK", "2"), ("OMPI_COMM_WORLD_SIZE", "3"));
        Assert.That((d.Shard, d.Launcher), Is.EqualTo((new Shard(2, 3), "Open MPI")));
    }

    [Test]
    public void MpichAndIntelMpiPmiVariablesGiveTheShard() =>
        Assert.That(Detect(null, ("PMI_RANK", "0"), ("PMI_SIZE", "4")).Shard, Is.EqualTo(new Shard(0, 4)));

    [Test]
    public void SrunTasksPreferTheStepTaskCountOverTheJobs()
    {
        Assert.That(Detect(null, ("SLURM_PROCID", "5"), ("SLURM_NTASKS", "8")).Shard, Is.EqualTo(new Shard(5, 8)));
        Assert.That(Detect(null, ("SLURM_PROCID", "1"), ("SLURM_NTASKS", "8"), ("SLURM_STEP_NUM_TASKS", "2")).Shard, Is.EqualTo(new Shard(1, 2)));
    }

    [Test]
    public void SlurmArraysCountFromTheirMinimumIndexAndStep()
    {
        // --array=0-3
        Assert.That(Detect(null, ("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_MIN", "0"), ("SLURM_ARRAY_TASK_COUNT", "4")).Shard,
            Is.EqualTo(new Shard(3, 4)));
        // --array=1-4: the first element is shard 0, not 1
        Assert.That(Detect(null, ("SLURM_ARRAY_TASK_ID", "1"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "4")).Shard,
            Is.EqualTo(new Shard(0, 4)));
        Assert.That(Detect(null, ("SLURM_ARRAY_TASK_ID", "4"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "4")).Shard,
            Is.EqualTo(new Shard(3, 4)));
        // --array=10-16:3 → 10, 13, 16
        Assert.That(Detect(null, ("SLURM_ARRAY_TASK_ID", "16"), ("SLURM_ARRAY_TASK_MIN", "10"), ("SLURM_ARRAY_TASK_STEP", "3"),
            ("SLURM_ARRAY_TASK_COUNT", "3")).Shard, Is.EqualTo(new Shard(2, 3)));
    }

    [Test]
    public void AnArrayOfMultiTaskJobsNumbersTasksWithinElements()
    {
        // --array=1-3 with srun -n 2 inside: element 1 (id 2), task 1 → 1·2 + 1 of 3·2
        var d = Detect(null, ("SLURM_ARRAY_TASK_ID", "2"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "3"),
            ("SLURM_PROCID", "1"), ("SLURM_STEP_NUM_TASKS", "2"));
        Assert.That(d.Shard, Is.EqualTo(new Shard(3, 6)));
    }

    [Test]
    public void MpirunInsideASlurmAllocationUsesTheMpiRank()
    {
        var d = Detect(null, ("SLURM_PROCID", "0"), ("SLURM_NTASKS", "4"), ("OMPI_COMM_WORLD_RANK", "3"), ("OMPI_COMM_WORLD_SIZE", "4"));
        Assert.That((d.Shard, d.Launcher), Is.EqualTo((new Shard(3, 4), "Open MPI")));
    }

    [Test]
    public void KubernetesIndexedJobsTakeTheCountFromTheCaller()
    {
        Assert.That(Detect(5, ("JOB_COMPLETION_INDEX", "4")).Shard, Is.EqualTo(new Shard(4, 5)));
        var e = Assert.Throws<ArgumentException>(() => Detect(null, ("JOB_COMPLETION_INDEX", "4")))!;
        Assert.That(e.Message, Does.Contain("completions"));
        Assert.Throws<ArgumentException>(() => Detect(4, ("JOB_COMPLETION_INDEX", "4")), "index 4 of 4");
    }

    [Test]
    public void InconsistentOrMissingVariablesAreRefusedWithTheirNames()
    {
        Assert.That(Assert.Throws<ArgumentException>(() => Detect(null))!.Message, Does.Contain("OMPI_COMM_WORLD_RANK").And.Contain("i/n"));
        Assert.That(Assert.Throws<ArgumentException>(() => Detect(null, ("OMPI_COMM_WORLD_RANK", "1")))!.Message, Does.Contain("OMPI_COMM_WORLD_SIZE"));
        Assert.That(Assert.Throws<ArgumentException>(() => Detect(null, ("PMI_RANK", "x"), ("PMI_SIZE", "2")))!.Message, Does.Contain("PMI_RANK=x"));
        Assert.That(Assert.Throws<ArgumentException>(() => Detect(3, ("OMPI_COMM_WORLD_RANK", "0"), ("OMPI_COMM_WORLD_SIZE", "2")))!.Message,
            Does.Contain("disagrees"));
        Assert.That(Assert.Throws<ArgumentException>(() => Detect(null, ("SLURM_ARRAY_TASK_ID", "2"), ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_STEP", "2"), ("SLURM_ARRAY_TASK_COUNT", "3")))!.Message, Does.Contain("SLURM_ARRAY_TASK_STEP"));
        Assert.Throws<ArgumentException>(() => Detect(null, ("SLURM_ARRAY_TASK_ID", "9"), ("SLURM_ARRAY_TASK_COUNT", "4")));
    }
}
