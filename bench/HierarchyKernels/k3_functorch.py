"""Independent check of GpuNtk's K3 with PyTorch's functorch (torch 1.13): K3(:, :, c) is the forward-mode derivative
of the NTK Θ(A, T) along g_c = ∇θ f(x_c), computed as a jvp of θ ↦ Θ(θ) (vmapped over c).

Usage: /usr/bin/python3 bench/HierarchyKernels/k3_functorch.py <export-dir> [threads]   (written by the C# bench with --export)
"""
import json, math, sys, time
import numpy as np
import torch
from functorch import jacrev, jvp, vmap

d = sys.argv[1]
if len(sys.argv) > 2 and int(sys.argv[2]) > 0:
    torch.set_num_threads(int(sys.argv[2]))
meta = json.load(open(f"{d}/network.json"))
probe = torch.from_numpy(np.load(f"{d}/probe.npy"))
train = torch.from_numpy(np.load(f"{d}/train.npy"))
expected = torch.from_numpy(np.load(f"{d}/k3.npy"))
nlayers = len(meta["weight_multipliers"])
params = []
for i in range(nlayers):
    params += [torch.from_numpy(np.load(f"{d}/w{i}.npy")), torch.from_numpy(np.load(f"{d}/b{i}.npy"))]
act = {"tanh": torch.tanh, "gelu": lambda z: torch.nn.functional.gelu(z), "erf": torch.erf}[meta["activation"]]


def f(ps, x):
    a = x.reshape(1, -1)
    for i in range(nlayers):
        a = meta["weight_multipliers"][i] * a @ ps[2 * i].T + meta["bias_multipliers"][i] * ps[2 * i + 1]
        if i + 1 < nlayers:
            a = act(a)
    return a.reshape(())


def jac(ps, xs):
    js = vmap(jacrev(f), in_dims=(None, 0))(ps, xs)
    return torch.cat([j.reshape(xs.shape[0], -1) for j in js], dim=1)


def ntk(ps):
    return jac(ps, probe) @ jac(ps, train).T


ps = tuple(params)
start = time.perf_counter()
g = jac(ps, train)  # [n, P]
sizes = [p.numel() for p in ps]


def direction(c):
    return tuple(t.reshape(p.shape) for t, p in zip(torch.split(g[c], sizes), ps))


k3 = torch.stack([jvp(ntk, (ps,), (direction(c),))[1] for c in range(train.shape[0])], dim=2)
seconds = time.perf_counter() - start
err = (k3 - expected.to(k3.dtype)).norm() / k3.norm()
print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "shape": list(k3.shape),
                  "seconds": round(seconds, 3), "relative_difference_vs_gpuntk": float(err)}))
