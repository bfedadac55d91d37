using GpuNtk.Training;
using NUnit.Framework;

namespace GpuNtk.Tests.Training;

/// <summary>One process (here: one holder) per run folder.</summary>
public sealed class RunFolderLockTests
{
    [Test]
    public void ASecondHolderIsRefusedNamingTheFirstAndTheLockIsFreeAfterwards()
    {
        using var dir = new TempDirectory("gpuntk-lock");
        using (RunFolderLock.Acquire(dir.Path))
        {
            var e = Assert.Throws<IOException>(() => RunFolderLock.Acquire(dir.Path))!;
            Assert.That(e.Message, Does.Contain(dir.Path).And.Contain($"PID {Environment.ProcessId}").And.Contain(Environment.MachineName));
        }
        using (RunFolderLock.Acquire(dir.Path)) { }
    }
}
