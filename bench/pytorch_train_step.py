#!/usr/bin/python3
"""PyTorch peer of `dotnet run --project bench/GpuNtk.Bench.TrainStep -c Release`: one training step of an FCN 3072-512-512-10
(ReLU) — or, with --arch SPEC, of the Myrtle CNN / WideResNet rebuilt exactly as torchfunc_ntk.py does —, batch 128, SGD with heavy-ball momentum 0.9, MSE loss 1/(2·N·O)·‖f−y‖², minibatches drawn on the device from a
4096-example set. Two layer flavours: NTK parameterization (addmm with σw/√fan_in and σb multipliers, what GpuNtk's
DenseLayer computes) and plain nn.Linear. Run with Debian's interpreter: /usr/bin/python3 bench/pytorch_train_step.py
"""
import argparse
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torchfunc_ntk  # noqa: E402  (the exact CNN/WRN twins of GpuNtk's networks)


class NtkDense(torch.nn.Module):
    def __init__(self, fan_in, fan_out, w_std=math.sqrt(2), b_std=0.1):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(fan_out, fan_in))
        self.bias = torch.nn.Parameter(torch.randn(fan_out))
        self.alpha = w_std / math.sqrt(fan_in)
        self.beta = b_std

    def forward(self, x):
        return torch.addmm(self.bias, x, self.weight.t(), beta=self.beta, alpha=self.alpha)


def fcn(kind, widths):
    layers = []
    for i in range(len(widths) - 1):
        layers.append(NtkDense(widths[i], widths[i + 1]) if kind == "ntk" else torch.nn.Linear(widths[i], widths[i + 1]))
        if i < len(widths) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--lr", type=float, default=None, help="default: 0.5 for the FCN, 0.1 for CNN/WRN (as the C# side)")
    p.add_argument("--arch", default="fcn", help="fcn (default) or a GpuNtk cnn:/wrn: spec string")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    n = 4096
    if args.arch == "fcn":
        models = {"ntk": lambda: fcn("ntk", [3072, 512, 512, 10]), "linear": lambda: fcn("linear", [3072, 512, 512, 10])}
        inputs, lr = 3072, 0.5
    else:
        net, spec = torchfunc_ntk.build(args.arch)
        models = {"ntk": lambda: net}
        inputs, lr = spec["in"] * spec["size"] * spec["size"], 0.1
        with torch.no_grad():
            for q in net.parameters():
                q.normal_()
    lr = args.lr if args.lr is not None else lr
    x_all = torch.randn(n, inputs)
    y_all = torch.nn.functional.one_hot(torch.randint(0, 10, (n,)), 10).float() - 0.1
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, batch {args.batch}, {args.arch}")
    for kind, make in models.items():
        model = make()
        opt = torch.optim.SGD(model.parameters(), lr=lr if kind == "ntk" else 0.01, momentum=0.9)
        perm = torch.randperm(n)
        pos = 0

        def step():
            nonlocal perm, pos
            if pos + args.batch > n:
                perm = torch.randperm(n)
                pos = 0
            idx = perm[pos:pos + args.batch]
            pos += args.batch
            x = x_all.index_select(0, idx)
            y = y_all.index_select(0, idx)
            opt.zero_grad(set_to_none=True)
            loss = 0.5 * torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            return loss

        for _ in range(args.warmup):
            step()
        best = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            for _ in range(args.steps):
                loss = step()
            loss.item()
            best.append((time.perf_counter() - t0) / args.steps * 1000)
        best.sort()
        print(f"{kind:6s}: median {best[len(best) // 2]:.2f} ms/step, min {best[0]:.2f} ms/step over {args.repeats}×{args.steps} steps")


if __name__ == "__main__":
    main()
