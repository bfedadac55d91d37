#!/usr/bin/env python3
"""torch.func peer for the GpuNtk NTK benchmark (FCN, Myrtle CNN and WideResNet without BatchNorm).

Reads what `GpuNtk.Bench` (or `TorchFuncPeerTests`) exports to a folder:
  meta.json     {"arch": "<GpuNtk spec string, canonical>", "dtype": "float32"|"float64", "params": "params.pt",
                 "inputs": "x.npy", "ntk_full": "ntk_full.npy"}   (ntk_full optional)
  params.pt     the network's state dict as GpuNtk writes it (TorchCheckpoint.SaveStateDict; names layers.{i}.weight,
                layers.{i}.conv1.bias, ...)
  x.npy         the inputs, [N, in*size*size] (flat, as the bench feeds them)
  ntk_full.npy  GpuNtk's full NTK [N, N, O, O] of the same network and inputs
rebuilds the network from the spec string exactly as src/GpuNtk/Networks/NetworkFactory.cs does (NTK parameterization:
every dense/conv layer computes (wstd/sqrt(fan_in))*(W*x) + bstd*b, fan_in = C*k*k; SAME padding k//2), loads the state
dict strictly (every name and shape must match, so a structural difference fails loudly), and times the two recipes of
PyTorch's "Neural Tangent Kernels" tutorial on the chosen device:
  jacrev+vmap  per-example Jacobians, contracted parameter tensor by parameter tensor (full [N,N,O,O] and traced [N,N])
  NTK-vector products  vjp then jvp under vmap, one per output basis vector (full)
It checks the full NTK against GpuNtk's (max |peer - gpuntk| / max |gpuntk|) and prints one JSON line per DIR.

The traced kernel is the MEAN over outputs of the diagonal (GpuNtk's convention, src/GpuNtk/Kernels/README.md), not
the tutorial's sum.

API: torch.func (PyTorch >= 2.0) when importable, else functorch + torch.nn.utils.stateless.functional_call
(PyTorch 1.13, e.g. Debian's /usr/bin/python3); the code path is the same. On CUDA, TF32 is off (as in GpuNtk) and
every timed call is bracketed by torch.cuda.synchronize().

usage: torchfunc_ntk.py DIR [DIR ...] [--device cpu|cuda] [--threads 2] [--skip-vp] [--check-only]
       [--min-repeats 3] [--min-seconds 1.0]
"""
import argparse
import json
import resource
import math
import os
import platform
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

try:  # PyTorch >= 2.0
    from torch.func import functional_call, jacrev, jvp, vjp, vmap
    API = "torch.func"
except ImportError:  # PyTorch 1.13: the same transforms live in functorch
    from functorch import jacrev, jvp, vjp, vmap
    from torch.nn.utils.stateless import functional_call
    API = "functorch"


# ---------------------------------------------------------------- architecture specs (mirror of ArchitectureSpec.Parse)

KEYS = {
    "fcn": {"depth": 2, "width": 512, "act": "relu", "param": "ntk", "in": 3072, "out": 10},
    "cnn": {"depth": 1, "channels": 64, "act": "relu", "param": "ntk", "in": 3, "size": 32, "out": 10},
    "wrn": {"depth": 10, "k": 1, "act": "relu", "param": "ntk", "in": 3, "size": 32, "out": 10},
}


def parse_spec(text):
    kind, _, body = text.strip().partition(":")
    kind = {"wideresnet": "wrn"}.get(kind.strip().lower(), kind.strip().lower())
    if kind not in KEYS:
        raise ValueError(f"architecture '{text}': unknown kind '{kind}'; use fcn, cnn or wrn")
    spec = dict(KEYS[kind], kind=kind)
    given = {}
    for part in filter(None, (p.strip() for p in body.split(","))):
        key, eq, value = part.partition("=")
        if not eq:
            raise ValueError(f"architecture '{text}': '{part}' is not key=value")
        given[key.strip().lower()] = value.strip()
    unknown = set(given) - set(KEYS[kind]) - {"wstd", "bstd"}
    if unknown:
        raise ValueError(f"architecture '{text}': unknown key(s) {sorted(unknown)} for {kind}")
    for key, value in given.items():
        spec[key] = value if key in ("act", "param") else (float(value) if key in ("wstd", "bstd") else int(value))
    spec["act"] = {"linear": "identity", "none": "identity"}.get(spec["act"].lower(), spec["act"].lower())
    spec["param"] = {"std": "standard"}.get(spec["param"].lower(), spec["param"].lower())
    spec.setdefault("wstd", math.sqrt(2) if spec["act"] in ("relu", "gelu") else 1.0)
    spec.setdefault("bstd", 0.1)
    return spec


# ---------------------------------------------------------------- layers (mirror of src/GpuNtk/Networks)

class Dense(torch.nn.Module):
    def __init__(self, fan_in, fan_out, s):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(fan_out, fan_in))
        self.bias = torch.nn.Parameter(torch.zeros(fan_out))
        ntk = s["param"] == "ntk"
        self.wm = s["wstd"] / math.sqrt(fan_in) if ntk else 1.0
        self.bm = s["bstd"] if ntk else 1.0

    def forward(self, x):
        return (x @ self.weight.t()) * self.wm + self.bias * self.bm


class Conv(torch.nn.Module):
    def __init__(self, cin, cout, k, stride, s):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(cout, cin, k, k))
        self.bias = torch.nn.Parameter(torch.zeros(cout))
        ntk = s["param"] == "ntk"
        self.wm = s["wstd"] / math.sqrt(cin * k * k) if ntk else 1.0
        self.bm = s["bstd"] if ntk else 1.0
        self.stride, self.padding = stride, k // 2

    def forward(self, x):
        return F.conv2d(x, self.weight * self.wm, self.bias * self.bm, stride=self.stride, padding=self.padding)


class Act(torch.nn.Module):
    FUNCTIONS = {"relu": F.relu, "erf": torch.erf, "tanh": torch.tanh, "gelu": F.gelu, "identity": lambda x: x}

    def __init__(self, kind):
        super().__init__()
        if kind not in self.FUNCTIONS:
            raise ValueError(f"unknown activation '{kind}'")
        self.f = self.FUNCTIONS[kind]

    def forward(self, x):
        return self.f(x)


class Flatten(torch.nn.Module):
    def forward(self, x):
        return x if x.dim() == 2 else x.reshape(x.shape[0], -1)


class ToImage(torch.nn.Module):
    def __init__(self, channels, size):
        super().__init__()
        self.channels, self.size = channels, size

    def forward(self, x):
        return x if x.dim() == 4 else x.reshape(x.shape[0], self.channels, self.size, self.size)


class AvgPool(torch.nn.Module):
    def forward(self, x):
        return F.avg_pool2d(x, 2, 2)


class GlobalAvgPool(torch.nn.Module):
    def forward(self, x):
        return x.mean((2, 3))


class ResidualBlock(torch.nn.Module):
    """Pre-activation block without BatchNorm: conv2(act2(conv1(act1(x)))) + shortcut(x), 1x1 shortcut on shape change."""

    def __init__(self, cin, cout, stride, s):
        super().__init__()
        self.act1 = Act(s["act"])
        self.conv1 = Conv(cin, cout, 3, stride, s)
        self.act2 = Act(s["act"])
        self.conv2 = Conv(cout, cout, 3, 1, s)
        self.shortcut = Conv(cin, cout, 1, stride, s) if stride != 1 or cin != cout else None

    def forward(self, x):
        h = self.conv2(self.act2(self.conv1(self.act1(x))))
        return h + (x if self.shortcut is None else self.shortcut(x))


class Network(torch.nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.layers = torch.nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


def build(spec):
    s = parse_spec(spec)
    act = s["act"]
    layers = []
    if s["kind"] == "fcn":
        layers.append(Flatten())
        fan_in = s["in"]
        for _ in range(s["depth"]):
            layers += [Dense(fan_in, s["width"], s), Act(act)]
            fan_in = s["width"]
        layers.append(Dense(fan_in, s["out"], s))
    elif s["kind"] == "cnn":
        c = s["channels"]
        layers += [ToImage(s["in"], s["size"]), Conv(s["in"], c, 3, 1, s), Act(act)]
        for stage in range(3):
            for _ in range(s["depth"]):
                layers += [Conv(c, c, 3, 1, s), Act(act)]
            layers.append(AvgPool() if stage < 2 else GlobalAvgPool())
        layers.append(Dense(c, s["out"], s))
    else:
        if s["depth"] < 10 or (s["depth"] - 4) % 6:
            raise ValueError(f"{spec}: depth must be 6n+4 with n >= 1")
        blocks = (s["depth"] - 4) // 6
        widths = [16 * s["k"], 32 * s["k"], 64 * s["k"]]
        layers += [ToImage(s["in"], s["size"]), Conv(s["in"], 16, 3, 1, s)]
        c = 16
        for g in range(3):
            for b in range(blocks):
                layers.append(ResidualBlock(c, widths[g], 2 if b == 0 and g > 0 else 1, s))
                c = widths[g]
        layers += [Act(act), GlobalAvgPool(), Dense(c, s["out"], s)]
    return Network(layers), s


def load_state_dict(path):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except TypeError:  # PyTorch < 1.13 has no weights_only
        return torch.load(path, map_location="cpu")


# ---------------------------------------------------------------- the two NTK recipes (PyTorch tutorial)

def ntk_jacobian_contraction(fnet_single, params, x1, x2, compute):
    """Per-example Jacobians by vmap(jacrev), contracted parameter tensor by parameter tensor."""
    jac1 = [j.flatten(2) for j in vmap(jacrev(fnet_single), (None, 0))(params, x1).values()]
    jac2 = [j.flatten(2) for j in vmap(jacrev(fnet_single), (None, 0))(params, x2).values()]
    if compute == "full":
        return torch.stack([torch.einsum("Naf,Mbf->NMab", j1, j2) for j1, j2 in zip(jac1, jac2)]).sum(0)
    outputs = jac1[0].shape[1]
    return torch.stack([torch.einsum("Naf,Maf->NM", j1, j2) for j1, j2 in zip(jac1, jac2)]).sum(0) / outputs


def ntk_vector_products(fnet_single, params, x1, x2):
    """Full NTK by NTK-vector products: vjp on x1, jvp on x2, vmapped over the output basis and the input pairs."""
    def get_ntk(x1, x2):
        def func_x1(p):
            return fnet_single(p, x1)

        def func_x2(p):
            return fnet_single(p, x2)

        output, vjp_fn = vjp(func_x1, params)

        def get_ntk_slice(vec):
            vjps = vjp_fn(vec)
            _, jvps = jvp(func_x2, (params,), vjps)
            return jvps

        basis = torch.eye(output.numel(), dtype=output.dtype, device=output.device).view(output.numel(), -1)
        return vmap(get_ntk_slice)(basis)

    return vmap(vmap(get_ntk, (None, 0)), (0, None))(x1, x2)


# ---------------------------------------------------------------- timing (same policy as GpuNtk.Bench's BenchRunner)

def timed(fn, sync, min_repeats, min_seconds, peak=None):
    """Warm-up, then runs until min_repeats and min_seconds (at most 20; one run when the warm-up took > 5 s).
    Every run is bracketed by sync() so asynchronous devices are timed to completion. Returns best, median, runs."""
    sync()
    t = time.perf_counter()
    fn()
    sync()
    warm = time.perf_counter() - t
    if peak is not None:
        peak()
    target = 1 if warm > 5 else min_repeats
    times = []
    start = time.perf_counter()
    while len(times) < target or (time.perf_counter() - start < min_seconds and len(times) < 20):
        sync()
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return min(times), float(np.median(times)), len(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dirs", nargs="+", metavar="DIR")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (cuda:i)")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads (torch.set_num_threads)")
    ap.add_argument("--skip-vp", action="store_true", help="do not run the NTK-vector-product recipe")
    ap.add_argument("--check-only", action="store_true", help="compute and compare once, no timings")
    ap.add_argument("--min-repeats", type=int, default=3)
    ap.add_argument("--min-seconds", type=float, default=1.0)
    args = ap.parse_args()

    try:
        device = torch.device(args.device)
    except RuntimeError:
        print(f"torchfunc_ntk.py: --device {args.device}: use cpu, cuda or cuda:<index>", file=sys.stderr)
        return 2
    if device.type == "cuda":
        if not torch.cuda.is_available():
            print(f"torchfunc_ntk.py: --device {args.device} but torch {torch.__version__} sees no usable CUDA device "
                  f"(torch.version.cuda = {torch.version.cuda}); run on a CUDA machine with a CUDA build of PyTorch, "
                  "or use --device cpu", file=sys.stderr)
            return 2
        # GpuNtk turns TF32 off by default (src/GpuNtk/Devices/PrecisionSettings.cs); compare like with like.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    elif device.type != "cpu":
        print(f"torchfunc_ntk.py: --device {args.device}: use cpu or cuda", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    for directory in args.dirs:
        print(json.dumps(run(directory, device, args)), flush=True)
    return 0


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "cpu"


def run(directory, device, args):
    with open(os.path.join(directory, "meta.json")) as f:
        meta = json.load(f)
    dtype = {"float32": torch.float32, "float64": torch.float64}[meta.get("dtype", "float32")]
    net, spec = build(meta["arch"])
    net = net.to(dtype)  # before loading: load_state_dict copies into the parameters' own dtype
    state = load_state_dict(os.path.join(directory, meta.get("params", "params.pt")))
    net.load_state_dict(state, strict=True)  # every name and shape must match GpuNtk's network
    net = net.to(device)
    x = torch.from_numpy(np.load(os.path.join(directory, meta.get("inputs", "x.npy")))).to(device=device, dtype=dtype)
    params = {k: v.detach() for k, v in net.named_parameters()}

    def fnet_single(p, xi):
        return functional_call(net, p, (xi.unsqueeze(0),)).squeeze(0)

    cuda = device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    out = {
        "api": API, "torch": torch.__version__, "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if cuda else cpu_name(),
        "threads": torch.get_num_threads(), "arch": meta["arch"], "dtype": str(dtype).replace("torch.", ""),
        "n": int(x.shape[0]), "outputs": spec["out"], "parameters": sum(p.numel() for p in params.values()),
    }
    if cuda:
        out["tf32"] = bool(torch.backends.cuda.matmul.allow_tf32 or torch.backends.cudnn.allow_tf32)

    full = ntk_jacobian_contraction(fnet_single, params, x, x, "full").detach()
    trace = ntk_jacobian_contraction(fnet_single, params, x, x, "trace").detach()
    ours_path = os.path.join(directory, meta.get("ntk_full", "ntk_full.npy"))
    if os.path.exists(ours_path):
        ours = torch.from_numpy(np.load(ours_path)).to(torch.float64)
        scale = ours.abs().max()
        out["max_rel_diff_vs_gpuntk"] = float((full.cpu().double() - ours).abs().max() / scale)
        ours_trace = torch.einsum("NMaa->NM", ours) / ours.shape[-1]
        out["trace_max_rel_diff_vs_gpuntk"] = float((trace.cpu().double() - ours_trace).abs().max() / ours_trace.abs().max())
    if not args.skip_vp:
        vp = ntk_vector_products(fnet_single, params, x, x).detach()
        out["vp_max_rel_diff_vs_jc"] = float((vp - full).abs().max() / full.abs().max())
    if not args.check_only:
        def peak_reset():
            if cuda:
                torch.cuda.reset_peak_memory_stats(device)

        def peak_read(key):
            if cuda:
                out[key] = torch.cuda.max_memory_allocated(device)

        for key, fn in [("jc_full", lambda: ntk_jacobian_contraction(fnet_single, params, x, x, "full")),
                        ("jc_trace", lambda: ntk_jacobian_contraction(fnet_single, params, x, x, "trace"))] + \
                       ([] if args.skip_vp else [("vp_full", lambda: ntk_vector_products(fnet_single, params, x, x))]):
            peak_reset()
            out[key + "_s"], out[key + "_median_s"], out[key + "_runs"] = timed(
                fn, sync, args.min_repeats, args.min_seconds, peak=lambda k=key: peak_read(k + "_peak_bytes"))
    # The process's peak resident memory (all recipes and the agreement check; on Linux ru_maxrss is in KiB).
    out["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return out


if __name__ == "__main__":
    sys.exit(main())
