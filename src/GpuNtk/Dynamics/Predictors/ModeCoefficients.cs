using static TorchSharp.torch;

namespace GpuNtk.Dynamics.Predictors;

/// <summary>
/// The linearized MSE dynamics of every process, reduced to one scalar per eigenmode of Θ and time.
/// <para>
/// The parameters of a linearized model move in the row space of J: θ_t − θ0 = Jᵀ·z_t. With c = η/(N·O), the
/// train residual is e_t = f_t − y = e_0 + Θ·z_t and the test outputs are f_t* = f_0* + Θ*·z_t. In the eigenbasis
/// Θ = V·diag(λ)·Vᵀ every mode of z is a_t(λ)·(Vᵀe_0), with a scalar a_t(λ) that solves, from a_0 = 0:
/// <list type="bullet">
/// <item>gradient flow: a' = −c·(1 + λa) ⇒ a = −(1 − e^{−cλt})/λ;</item>
/// <item>gradient descent: a_{k+1} = a_k − c·(1 + λa_k) ⇒ a = −(1 − (1 − cλ)^k)/λ;</item>
/// <item>heavy-ball ODE: a'' + (1 − β)·a' = −c·(1 + λa), a'(0) = 0 (3×3 matrix exponential per mode);</item>
/// <item>heavy-ball steps: w_{k+1} = β·w_k + (1 + λa_k)/(N·O), a_{k+1} = a_k − η·w_{k+1} (3×3 matrix power per mode).</item>
/// </list>
/// λ = 0 is the limit (a = −c·t for the first-order processes), so no Θ⁻¹ ever appears.
/// Then f_t = y + V·diag(1 + λa)·Vᵀ·(f_0 − y) and f_t* = f_0* + Θ*·V·diag(a)·Vᵀ·(f_0 − y).
/// </para>
/// </summary>
internal static class ModeCoefficients
{
    /// <summary>(decay = 1 + λa, a), each <c>[T, n]</c>, for eigenvalues <paramref name="lambda"/> <c>[n]</c>.</summary>
    public static (Tensor Decay, Tensor A) Compute(Tensor lambda, IReadOnlyList<double> times, double learningRate, long examplesTimesOutputs,
                                                   DynamicsOptions options)
    {
        double c = learningRate / examplesTimesOutputs;
        using var scope = NewDisposeScope();
        var t = tensor(times.ToArray(), dtype: ScalarType.Float64, device: lambda.device).to(lambda.dtype).unsqueeze(1); // [T, 1]
        var l = lambda.unsqueeze(0); // [1, n]
        var positive = l.gt(0);
        Tensor decay, a;
        if (options.Momentum == 0 && options.Process == TrainingProcess.GradientFlow)
        {
            var x = l.mul(t).mul_(-c); // −cλt
            decay = x.exp();
            a = where(positive, x.expm1().div(l), t.mul(-c).expand_as(x));
        }
        else if (options.Momentum == 0)
        {
            var cl = l.mul(c);
            var baseFactor = cl.neg().add_(1); // 1 − cλ, may be negative beyond η = N·O/λ
            decay = baseFactor.pow(t);
            // For 0 < 1 − cλ: (1 − cλ)^k − 1 = expm1(k·log1p(−cλ)) keeps small cλ accurate.
            var decayMinusOne = where(baseFactor.gt(0), cl.neg().log1p().mul(t).expm1(), decay.sub(1));
            a = where(positive, decayMinusOne.div(l), t.mul(-c).expand_as(decay));
        }
        else
        {
            a = options.Process == TrainingProcess.GradientFlow
                ? HeavyBallFlow(lambda, t, c, options.Momentum)
                : HeavyBallSteps(lambda, times, learningRate, examplesTimesOutputs, options.Momentum);
            decay = a.mul(l).add_(1);
        }
        return (decay.MoveToOuterDisposeScope(), a.MoveToOuterDisposeScope());
    }

    /// <summary>a(t) from exp(A·t)·(0, 0, 1) with state (a, a', 1) and A = [[0, 1, 0], [−cλ, −γ, −c], [0, 0, 0]].</summary>
    private static Tensor HeavyBallFlow(Tensor lambda, Tensor t, double c, double beta)
    {
        long n = lambda.shape[0];
        var generator = zeros([n, 3, 3], lambda.dtype, lambda.device);
        generator[.., 0, 1] = ones(n, lambda.dtype, lambda.device);
        generator[.., 1, 0] = lambda.mul(-c);
        generator[.., 1, 1] = full(n, -(1 - beta), lambda.dtype, lambda.device);
        generator[.., 1, 2] = full(n, -c, lambda.dtype, lambda.device);
        // [T, n, 3, 3]: one small exponential per (time, mode).
        var scaled = generator.unsqueeze(0).mul(t.reshape(-1, 1, 1, 1));
        return linalg.matrix_exp(scaled)[.., .., 0, 2];
    }

    /// <summary>a_k from M^k·(0, 0, 1) with state (a, w, 1) (see the class summary).</summary>
    private static Tensor HeavyBallSteps(Tensor lambda, IReadOnlyList<double> steps, double eta, long no, double beta)
    {
        long n = lambda.shape[0];
        double c = eta / no;
        var m = zeros([n, 3, 3], lambda.dtype, lambda.device);
        m[.., 0, 0] = lambda.mul(-c).add_(1);
        m[.., 0, 1] = full(n, -eta * beta, lambda.dtype, lambda.device);
        m[.., 0, 2] = full(n, -c, lambda.dtype, lambda.device);
        m[.., 1, 0] = lambda.div(no);
        m[.., 1, 1] = full(n, beta, lambda.dtype, lambda.device);
        m[.., 1, 2] = full(n, 1.0 / no, lambda.dtype, lambda.device);
        m[.., 2, 2] = ones(n, lambda.dtype, lambda.device);
        var rows = steps.Select(k => m.matrix_power((int)k)[.., 0, 2]).ToArray();
        return stack(rows);
    }

    /// <summary>Checks that the requested times suit the process (finite, ≥ 0, integers for gradient descent).</summary>
    public static void CheckTimes(IReadOnlyList<double> times, TrainingProcess process)
    {
        if (times.Count == 0) throw new ArgumentException("give at least one time");
        foreach (var t in times)
        {
            if (!(t >= 0) || double.IsPositiveInfinity(t))
                throw new ArgumentException($"time {t} must be finite and ≥ 0 (use AtInfinity for t = ∞)");
            if (process == TrainingProcess.GradientDescent && (t != Math.Floor(t) || t > int.MaxValue))
                throw new ArgumentException($"gradient descent runs whole steps: t = {t} must be an integer (use TrainingProcess.GradientFlow for continuous time)");
        }
    }
}
