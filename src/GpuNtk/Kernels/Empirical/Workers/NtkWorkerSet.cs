using System.Runtime.ExceptionServices;
using GpuNtk.Networks;
using static TorchSharp.torch;

namespace GpuNtk.Kernels.Empirical;

/// <summary>
/// The workers of one NTK computation, one per entry of <see cref="NtkOptions.Devices"/> (or one on the model's
/// device), and the thread logic that runs them: a single worker runs on the caller's thread; several run on one
/// thread each, a failure in one (or the caller's cancellation) stops the others, and the first failure is rethrown
/// to the caller unchanged.
/// </summary>
internal sealed class NtkWorkerSet : IDisposable
{
    private readonly CancellationTokenSource _stop;

    private NtkWorkerSet(List<NtkWorker> workers, CancellationTokenSource stop)
    {
        Workers = workers;
        _stop = stop;
    }

    public IReadOnlyList<NtkWorker> Workers { get; }

    /// <summary>Cancelled by the caller's token or by the first worker that fails; checked between blocks.</summary>
    public CancellationToken Stop => _stop.Token;

    /// <summary>
    /// One worker per device. The worker on the first entry equal to the model's device computes with
    /// <paramref name="plan"/> (the model as it is); every other one with a <see cref="NetworkReplica"/> on its device
    /// (a device listed twice gets an independent copy, since forward hooks and autograd graphs of one module must not
    /// be shared between threads), and copies of the inputs unless they already live there.
    /// </summary>
    public static NtkWorkerSet Create(ModelPlan plan, NtkImplementation implementation, Tensor x1, Tensor? x2, NtkOptions options)
    {
        var stop = CancellationTokenSource.CreateLinkedTokenSource(options.Cancellation);
        var workers = new List<NtkWorker>();
        try
        {
            var home = x1.device;
            if (options.Devices is not { Count: > 0 } devices)
            {
                workers.Add(new NtkWorker(0, home, CreateKernel(plan, implementation, options, stop.Token), x1, x2));
                return new NtkWorkerSet(workers, stop);
            }
            int homeWorker = Enumerable.Range(0, devices.Count).FirstOrDefault(i => SameDevice(devices[i], home), -1);
            bool needsReplicas = devices.Count > (homeWorker >= 0 ? 1 : 0);
            if (needsReplicas && plan.Model is not Network)
                throw new ArgumentException($"NtkOptions.Devices: spreading the NTK over {string.Join(", ", devices)} needs a replica " +
                                            $"of the model per extra worker, and GpuNtk can build one only for a GpuNtk.Networks.Network " +
                                            $"(from its Spec); this model is a {plan.Model.GetType().Name}. Leave Devices null to compute on the model's device");
            for (int i = 0; i < devices.Count; i++)
            {
                var device = devices[i];
                if (i == homeWorker)
                {
                    workers.Add(new NtkWorker(i, home, CreateKernel(plan, implementation, options, stop.Token), x1, x2));
                    continue;
                }
                var copies = new List<Tensor>();
                Network? replica = null;
                try
                {
                    replica = NetworkReplica.Create((Network)plan.Model, device);
                    var (wx1, wx2) = (OnDevice(x1, device, copies), x2 is null ? null : OnDevice(x2, device, copies));
                    var replicaPlan = ModelPlan.Build(replica, wx1, options.Rules);
                    workers.Add(new NtkWorker(i, device, CreateKernel(replicaPlan, implementation, options, stop.Token), wx1, wx2, replica, copies));
                }
                catch
                {
                    foreach (var t in copies) t.Dispose();
                    replica?.Dispose();
                    throw;
                }
            }
            return new NtkWorkerSet(workers, stop);
        }
        catch
        {
            foreach (var w in workers) w.Dispose();
            stop.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Runs <paramref name="body"/> once per worker until it returns (normally when the shared queue is empty).
    /// Exceptions: the first one thrown by any worker is rethrown here, after every worker has stopped.
    /// </summary>
    public void Run(Action<NtkWorker> body)
    {
        if (Workers.Count == 1)
        {
            body(Workers[0]);
            return;
        }
        ExceptionDispatchInfo? first = null;
        var threads = Workers.Select(w => new Thread(() =>
        {
            try
            {
                body(w);
            }
            catch (Exception e)
            {
                // The first failure is the cause; the others are (normally) the cancellations it triggers.
                Interlocked.CompareExchange(ref first, ExceptionDispatchInfo.Capture(e), null);
                try { _stop.Cancel(); } catch (AggregateException) { /* a callback registered on the caller's token threw; the first failure wins */ }
            }
        })
        {
            IsBackground = true,
            Name = $"gpuntk ntk worker {w.Index} ({w.Device})",
        }).ToList();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        first?.Throw();
    }

    public void Dispose()
    {
        foreach (var w in Workers) w.Dispose();
        _stop.Dispose();
    }

    internal static INtkBlockKernel CreateKernel(ModelPlan plan, NtkImplementation implementation, NtkOptions options, CancellationToken cancellation) =>
        implementation switch
        {
            NtkImplementation.Structured => new LayerwiseNtk(plan, structured: true, options.MemoryBudgetBytes),
            NtkImplementation.JacobianContraction => new LayerwiseNtk(plan, structured: false, options.MemoryBudgetBytes),
            NtkImplementation.VectorProducts => new VectorProductNtk(plan, cancellation),
            NtkImplementation.Reference => new ReferenceBlockKernel(plan),
            _ => throw new ArgumentOutOfRangeException(nameof(implementation)),
        };

    /// <summary>Same device, reading a CUDA device without an index as the current one (0).</summary>
    internal static bool SameDevice(Device a, Device b) =>
        a.type == b.type && (a.type == TorchSharp.DeviceType.CPU || Math.Max(a.index, 0) == Math.Max(b.index, 0));

    private static Tensor OnDevice(Tensor x, Device device, List<Tensor> owned)
    {
        if (SameDevice(x.device, device)) return x; // shared read-only: workers only take narrow() views of it
        var copy = x.to(device);
        copy.DetachFromDisposeScope(); // owned by the worker, released by the caller's thread after the run
        owned.Add(copy);
        return copy;
    }
}
