#!/usr/bin/python3
"""functorch peer for the GpuNtk NTK benchmark.

Loads the FCN weights and inputs that `GpuNtk.Bench` exported (.npy + meta.json), rebuilds the network exactly
(NTK parameterization: y = (wstd/sqrt(fan_in)) * x W^T + bstd * b, ReLU between dense layers), times the two
recipes of the PyTorch "neural tangent kernels" tutorial (jacrev+vmap Jacobian contraction, and NTK-vector products
with vjp/jvp under vmap), checks that functorch's NTK equals GpuNtk's (exported as ntk_full.npy), and prints one
JSON line. Run with Debian's /usr/bin/python3 (PyTorch 1.13 + functorch; install libopenblas0-pthread, or matrix
products use the reference BLAS).

usage: /usr/bin/python3 bench/functorch_ntk.py DIR [--threads 2] [--repeats 3] [--skip-vp]
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from functorch import jacrev, jvp, make_functional, vjp, vmap


class NtkDense(torch.nn.Module):
    def __init__(self, weight, bias, wstd, bstd):
        super().__init__()
        self.weight = torch.nn.Parameter(weight)
        self.bias = torch.nn.Parameter(bias)
        self.wm = wstd / (weight.shape[1] ** 0.5)
        self.bm = bstd

    def forward(self, x):
        return (x @ self.weight.t()) * self.wm + self.bias * self.bm


def build(meta, directory, dtype):
    layers = []
    for k in range(meta["layers"]):
        w = torch.from_numpy(np.load(os.path.join(directory, f"W{k}.npy"))).to(dtype)
        b = torch.from_numpy(np.load(os.path.join(directory, f"b{k}.npy"))).to(dtype)
        layers.append(NtkDense(w, b, meta["wstd"], meta["bstd"]))
        if k + 1 < meta["layers"]:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def ntk_jacobian_contraction(fnet_single, params, x1, x2, compute):
    # The tutorial's recipe: per-example Jacobians by vmap(jacrev), contracted parameter tensor by parameter tensor.
    jac1 = [j.flatten(2) for j in vmap(jacrev(fnet_single), (None, 0))(params, x1)]
    jac2 = [j.flatten(2) for j in vmap(jacrev(fnet_single), (None, 0))(params, x2)]
    expr = {"full": "Naf,Mbf->NMab", "trace": "Naf,Maf->NM"}[compute]
    return torch.stack([torch.einsum(expr, j1, j2) for j1, j2 in zip(jac1, jac2)]).sum(0)


def ntk_vector_products(func, params, x1, x2, compute):
    def get_ntk(x1, x2):
        def func_x1(p):
            return func(p, x1)

        def func_x2(p):
            return func(p, x2)

        output, vjp_fn = vjp(func_x1, params)

        def get_ntk_slice(vec):
            vjps = vjp_fn(vec)
            _, jvps = jvp(func_x2, (params,), vjps)
            return jvps

        basis = torch.eye(output.numel(), dtype=output.dtype, device=output.device).view(output.numel(), -1)
        return vmap(get_ntk_slice)(basis)

    result = vmap(vmap(get_ntk, (None, 0)), (0, None))(x1, x2)
    if compute == "trace":
        return torch.einsum("NMKK->NM", result)
    return result


def best_of(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), float(np.median(times))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-vp", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with open(os.path.join(args.dir, "meta.json")) as f:
        meta = json.load(f)
    dtype = {"float32": torch.float32, "float64": torch.float64}[meta["dtype"]]
    net = build(meta, args.dir, dtype)
    x = torch.from_numpy(np.load(os.path.join(args.dir, "x.npy"))).to(dtype)
    fnet, params = make_functional(net)

    def fnet_single(p, xi):
        return fnet(p, xi.unsqueeze(0)).squeeze(0)

    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "n": x.shape[0], "outputs": meta["outputs"]}
    full = ntk_jacobian_contraction(fnet_single, params, x, x, "full").detach()
    ours_path = os.path.join(args.dir, "ntk_full.npy")
    if os.path.exists(ours_path):
        ours = torch.from_numpy(np.load(ours_path)).to(torch.float64)
        out["max_rel_diff_vs_gpuntk"] = float((full.double() - ours).abs().max() / ours.abs().max())

    out["jc_full_s"], out["jc_full_median_s"] = best_of(
        lambda: ntk_jacobian_contraction(fnet_single, params, x, x, "full"), args.repeats)
    out["jc_trace_s"], out["jc_trace_median_s"] = best_of(
        lambda: ntk_jacobian_contraction(fnet_single, params, x, x, "trace"), args.repeats)
    if not args.skip_vp:
        vp = ntk_vector_products(fnet_single, params, x, x, "full")
        out["vp_max_rel_diff_vs_jc"] = float((vp - full).abs().max() / full.abs().max())
        out["vp_full_s"], out["vp_full_median_s"] = best_of(
            lambda: ntk_vector_products(fnet_single, params, x, x, "full"), 1)
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
