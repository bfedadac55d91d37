#!/usr/bin/python3
"""Reads a checkpoint written by GpuNtk the way Python users will, and prints what it holds as JSON.

    /usr/bin/python3 read_checkpoint.py FILE [FILE ...]

.pt/.pth: torch.load(FILE, weights_only=True) when this PyTorch has weights_only (1.13 does), else torch.load(FILE).
.safetensors: parsed here per the format spec (the `safetensors` package is not in Debian), strictly: header length,
JSON, dtypes, offsets tiling the data buffer exactly.
Output, one JSON object per line and file:
{"file": FILE, "torch": version, "loader": how, "aligned": bool|null, "tensors": {name: {dtype, shape, values, storage}}}
"""

import inspect
import json
import struct
import sys
import zipfile

import torch

DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64,
    "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool,
}
NAMES = {
    torch.float64: "float64", torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16",
    torch.int64: "int64", torch.int32: "int32", torch.int16: "int16", torch.int8: "int8", torch.uint8: "uint8",
    torch.bool: "bool",
}


def load_safetensors(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    assert 8 + n <= len(data), "header length past end of file"
    header = json.loads(data[8:8 + n].decode("utf-8"))
    buffer = data[8 + n:]
    header.pop("__metadata__", None)
    spans = sorted((v["data_offsets"][0], v["data_offsets"][1]) for v in header.values())
    expected = 0
    for begin, end in spans:
        assert begin == expected, "offsets do not tile the buffer"
        expected = end
    assert expected == len(buffer), "data buffer length mismatch"
    out = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = DTYPES[info["dtype"]]
        raw = bytearray(buffer[begin:end])
        if end > begin:
            flat = torch.frombuffer(raw, dtype=torch.uint8 if dtype == torch.bool else dtype)
        else:
            flat = torch.zeros(0, dtype=torch.uint8 if dtype == torch.bool else dtype)
        if dtype == torch.bool:
            flat = flat.to(torch.bool)
        out[name] = flat.reshape(info["shape"]).clone()
    return out


def aligned(path):
    """True when every zip record's data starts at a multiple of 64 bytes, as torch.save writes them."""
    raw = open(path, "rb").read()
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            n, e = struct.unpack("<HH", raw[info.header_offset + 26:info.header_offset + 30])
            if (info.header_offset + 30 + n + e) % 64 != 0:
                return False
    return True


def main(path):
    if path.endswith(".safetensors"):
        tensors, loader, align = load_safetensors(path), "safetensors (spec parser)", None
    else:
        if "weights_only" in inspect.signature(torch.load).parameters:
            tensors, loader = torch.load(path, weights_only=True), "torch.load(weights_only=True)"
        else:
            tensors, loader = torch.load(path), "torch.load"
        align = aligned(path)
    result = {}
    for name, t in tensors.items():
        result[name] = {
            "dtype": NAMES[t.dtype],
            "shape": list(t.shape),
            "values": [float(v) for v in t.reshape(-1).to(torch.float64).tolist()],
            "storage": t.storage().data_ptr() if t.numel() > 0 else 0,
        }
    print(json.dumps({"file": path, "torch": torch.__version__, "loader": loader, "aligned": align, "tensors": result}))


if __name__ == "__main__":
    for file in sys.argv[1:]:
        main(file)
