#!/usr/bin/python3
"""Writes the checkpoint fixtures the GpuNtk tests read, using real PyTorch.

Run from anywhere with Debian's interpreter (PyTorch 1.13 from python3-torch):

    /usr/bin/python3 tests/GpuNtk.Tests/Checkpoints/Fixtures/make_fixtures.py

Every file is small and deterministic in content (fixed seeds); re-running rewrites them in place. safetensors files
are written by the small writer below (the `safetensors` package is not in Debian), following the format spec:
u64 little-endian header length, JSON header, data buffer.
"""

import collections
import io
import json
import os
import struct
import tempfile
import zipfile

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))


def path(name):
    return os.path.join(HERE, name)


def values_of(t):
    """A tensor's values as a flat list of Python numbers (bool → 0/1), row-major over its shape."""
    return [float(v) for v in t.detach().reshape(-1).to(torch.float64).tolist()]


DTYPE_NAMES = {
    torch.float64: "float64", torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16",
    torch.int64: "int64", torch.int32: "int32", torch.int16: "int16", torch.int8: "int8", torch.uint8: "uint8",
    torch.bool: "bool",
}
SAFETENSORS_CODES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
    torch.bool: "BOOL",
}


def describe(tensors):
    return {k: {"dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape), "values": values_of(t)}
            for k, t in tensors.items()}


def raw_bytes(t):
    t = t.detach().contiguous()
    if t.dtype in (torch.float16, torch.bfloat16):
        t = t.view(torch.int16)
    if t.dtype == torch.bool:
        t = t.to(torch.uint8)
    return t.numpy().tobytes()


def write_safetensors(file, tensors, metadata=None):
    header, chunks, offset = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, t in tensors.items():
        data = raw_bytes(t)
        header[name] = {"dtype": SAFETENSORS_CODES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(file, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)


def dtype_tensors():
    """One tensor per supported dtype plus view cases: slices, transposes, tied weights, 0-d and empty tensors."""
    base = torch.arange(24, dtype=torch.float64).reshape(4, 6) / 8 - 1
    d = collections.OrderedDict()
    d["float64"] = base.clone()
    d["float32"] = (base * 3).to(torch.float32)
    d["float16"] = (base * 5).to(torch.float16)
    d["bfloat16"] = (base * 7).to(torch.bfloat16)
    d["int64"] = torch.arange(-6, 6, dtype=torch.int64).reshape(3, 4) * 1000000007
    d["int32"] = torch.arange(-6, 6, dtype=torch.int32) * 65537
    d["int16"] = torch.arange(-6, 6, dtype=torch.int16) * 1001
    d["int8"] = torch.arange(-6, 6, dtype=torch.int8) * 20
    d["uint8"] = torch.arange(0, 12, dtype=torch.uint8) * 21
    d["bool"] = torch.tensor([True, False, False, True, True, False])
    d["scalar"] = torch.tensor(2.5, dtype=torch.float32)
    d["empty"] = torch.zeros(0, 3, dtype=torch.float32)
    shared = torch.arange(20, dtype=torch.float32) * 0.5
    d["shared.whole"] = shared.view(4, 5)
    d["shared.row"] = shared.view(4, 5)[2]            # storage offset 10
    d["shared.column"] = shared.view(4, 5)[:, 3]      # offset 3, stride 5
    d["shared.transposed"] = shared.view(4, 5).t()    # strides (1, 5)
    tied = torch.linspace(-1, 1, 6, dtype=torch.float32).reshape(2, 3)
    d["tied.encoder"] = tied
    d["tied.decoder"] = tied                          # the same tensor twice
    return d


def mlp():
    torch.manual_seed(1234)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))
    x = torch.randn(8, 6, generator=torch.Generator().manual_seed(99))
    with torch.no_grad():
        y32 = model(x)
        y64 = model.double()(x.double())
    model.float()
    return model, x, y32, y64


def cnn():
    torch.manual_seed(4321)
    c = 4
    model = nn.Sequential(
        nn.Conv2d(1, c, 3, padding=1), nn.ReLU(),
        nn.Conv2d(c, c, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(c, c, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(c, c, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(c, 3))
    x = torch.randn(5, 1, 8, 8, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        y64 = model.double()(x.double())
    model.float()
    return model, x, y64


class Evil:
    """Pickles as a call to os.system: a loader that executes globals would run it."""

    def __reduce__(self):
        return (os.system, ("echo this should never run",))


def big_endian_copy(src, dst):
    """Re-packs a torch.save file as a big-endian machine would have written it: swapped storages, byteorder=big."""
    with zipfile.ZipFile(src) as zin:
        names = zin.namelist()
        prefix = names[0].split("/")[0]
        # Storage key → element size, from the tensors that use each storage.
        key_size = {}
        pkl = zin.read(prefix + "/data.pkl")

        import pickle

        class KeyFinder(pickle.Unpickler):
            def persistent_load(self, pid):
                _, storage_type, key, _, _ = pid
                key_size[key] = torch.tensor([], dtype=storage_type(0).dtype).element_size()
                return storage_type(0)

            def find_class(self, module, name):
                if module == "torch._utils" and name == "_rebuild_tensor_v2":
                    return lambda *a, **k: None
                return super().find_class(module, name)

        KeyFinder(io.BytesIO(pkl)).load()
        with zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
            for n in names:
                data = zin.read(n)
                if n.startswith(prefix + "/data/"):
                    size = key_size[n[len(prefix) + 6:]]
                    data = b"".join(data[i:i + size][::-1] for i in range(0, len(data), size))
                zout.writestr(n, data)
            zout.writestr(prefix + "/byteorder", b"big")


def main():
    expected = {}

    # 1. All dtypes and view cases, in the default protocol and in protocols 4 and 5.
    d = dtype_tensors()
    torch.save(d, path("dtypes.pt"))
    torch.save(d, path("dtypes_protocol4.pt"), pickle_protocol=4)
    torch.save(d, path("dtypes_protocol5.pt"), pickle_protocol=5)
    expected["dtypes"] = describe(d)

    # 2. Big-endian storages with a byteorder record (PyTorch ≥ 2.1 writes that record; 1.13 does not).
    be = collections.OrderedDict((k, d[k]) for k in ["float64", "float32", "float16", "bfloat16", "int64", "int32",
                                                     "int16", "int8", "uint8", "bool", "shared.row"])
    with tempfile.TemporaryDirectory() as tmp:
        little = os.path.join(tmp, "dtypes_big_endian.pt")  # the archive folder is named after the file
        torch.save(be, little)
        big_endian_copy(little, path("dtypes_big_endian.pt"))
    expected["dtypes_big_endian"] = describe(be)

    # 3. safetensors with every dtype and metadata.
    st = collections.OrderedDict((k, d[k].contiguous()) for k in ["float64", "float32", "float16", "bfloat16", "int64",
                                                                  "int32", "int16", "int8", "uint8", "bool", "scalar",
                                                                  "empty"])
    write_safetensors(path("dtypes.safetensors"), st, {"format": "pt", "source": "make_fixtures.py"})
    expected["dtypes_safetensors"] = describe(st)

    # 4. The MLP: a real state_dict (with _metadata), its outputs on fixed inputs, a training-style container.
    model, x, y32, y64 = mlp()
    torch.save(model.state_dict(), path("mlp_state_dict.pt"))
    write_safetensors(path("mlp.safetensors"), model.state_dict(), {"arch": "6-16-16-3 relu"})
    torch.save(collections.OrderedDict(x=x, y32=y32, y64=y64), path("mlp_io.pt"))
    torch.save(collections.OrderedDict(model.named_parameters()), path("mlp_parameters.pt"))  # nn.Parameter objects
    expected["mlp_io"] = describe(collections.OrderedDict(x=x, y32=y32, y64=y64))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999))
    loss = model(x).pow(2).mean()
    loss.backward()
    optimizer.step()
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 7, "lr": 0.001,
                "name": "mlp-6-16-16-3", "history": [1.5, 2.25, -0.125], "flags": (True, False, None),
                "big": 2 ** 70, "negative": -123456789012},
               path("container.pt"))
    expected["container_model"] = describe(model.state_dict())

    # 5. A CNN matching cnn:depth=1,channels=4,in=1,size=8,out=3,param=standard.
    cmodel, cx, cy64 = cnn()
    torch.save({"state_dict": cmodel.state_dict()}, path("cnn_state_dict.pt"))
    torch.save(collections.OrderedDict(x=cx, y64=cy64), path("cnn_io.pt"))

    # 6. Things to refuse: the legacy format, a whole pickled module, a pickle that would call os.system.
    torch.save(model.state_dict(), path("legacy.pt"), _use_new_zipfile_serialization=False)
    torch.save(model, path("whole_module.pt"))
    torch.save({"payload": Evil()}, path("evil.pt"))

    with open(path("expected.json"), "w") as f:
        json.dump(expected, f, indent=None, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
