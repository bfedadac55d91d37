#!/usr/bin/env bash
# Publishes a self-contained linux-x64 gpuntk (the .NET runtime included, no .NET needed on the target) WITHOUT
# libtorch, for GPU machines that bring their own: run it there with
#   GPUNTK_LIBTORCH=<folder of libtorch*.so, e.g. a PyTorch 2.10 CUDA wheel's torch/lib> ./gpuntk/gpuntk train --device cuda
# Output: out/gpuntk-linux-x64.tar.xz (and the folder out/bundle/gpuntk).
set -euo pipefail
cd "$(dirname "$0")/.."
out=out/bundle
rm -rf "$out"
dotnet publish src/GpuNtk.Cli -c Release -r linux-x64 --self-contained true -p:PublishReadyToRun=false -o "$out/gpuntk" -nologo -v q
# Drop libtorch and its companions (~600 MB); keep TorchSharp's shim libLibTorchSharp.so, which binds to the
# preloaded libtorch by soname.
find "$out/gpuntk" -maxdepth 1 -type f \( -name 'libtorch*.so*' -o -name 'libc10*.so*' -o -name 'libgomp*.so*' \
  -o -name 'libshm.so' -o -name 'libjitbackend_test.so' -o -name 'libnnapi_backend.so' -o -name 'libbackend_with_compiler.so' \
  -o -name 'libaoti_custom_ops.so' -o -name 'libcaffe2*.so' \) -delete
tar -C "$out" -cJf out/gpuntk-linux-x64.tar.xz gpuntk
du -sh "$out/gpuntk" out/gpuntk-linux-x64.tar.xz
