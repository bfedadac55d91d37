"""Independent check of `gpuntk nth kernels --checkpoint` on the README's example: the test fixture's PyTorch
nn.Sequential (Linear 6→16, ReLU, Linear 16→16, ReLU, Linear 16→3) loaded by PyTorch itself, traced K3 (mean over the
3 outputs of the K3 of each scalar output) by functorch jvp of the NTK along each example's gradient, float64.

Usage: gpuntk nth kernels --arch fcn:depth=2,width=16,in=6,out=3,act=relu,param=standard \
           --checkpoint tests/GpuNtk.Tests/Checkpoints/Fixtures/mlp_state_dict.pt --inputs x.npy --order 3 --out k3.npy
       /usr/bin/python3 bench/HierarchyKernels/k3_checkpoint_functorch.py <mlp_state_dict.pt> x.npy k3.npy
"""
import sys
import numpy as np
import torch
from functorch import jacrev, jvp, vmap
from torch.nn.utils.stateless import functional_call

checkpoint, inputs, expected = sys.argv[1:4]
model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16), torch.nn.ReLU(),
                            torch.nn.Linear(16, 3)).double()
model.load_state_dict({k: v.double() for k, v in torch.load(checkpoint).items()})
names = [n for n, _ in model.named_parameters()]
ps = tuple(p.detach() for _, p in model.named_parameters())
sizes = [p.numel() for p in ps]
x = torch.from_numpy(np.load(inputs)).double()
outputs = 3


def f(ps, xi, a):
    return functional_call(model, dict(zip(names, ps)), (xi.unsqueeze(0),))[0, a]


def jac(ps, a):
    js = vmap(jacrev(f), in_dims=(None, 0, None))(ps, x, a)
    return torch.cat([j.reshape(x.shape[0], -1) for j in js], 1)


k3 = 0
for a in range(outputs):
    g = jac(ps, a)
    dirs = [tuple(t.reshape(p.shape) for t, p in zip(torch.split(g[c], sizes), ps)) for c in range(x.shape[0])]
    k3 = k3 + torch.stack([jvp(lambda q: jac(q, a) @ jac(q, a).T, (ps,), (d,))[1] for d in dirs], 2)
k3 = k3 / outputs
ours = torch.from_numpy(np.load(expected))
print({"shape": list(k3.shape), "relative_difference_vs_gpuntk": float((k3 - ours).norm() / k3.norm())})
