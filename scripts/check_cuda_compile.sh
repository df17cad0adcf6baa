#!/usr/bin/env bash
# Compile (not run) the CUDA kernels with nvcc so a broken .cu fails CI on GPU-less machines.
# The torch-side binding (soft_raster_cuda.cpp) needs a CUDA build of torch for its headers;
# it is syntax-checked only when those headers are present.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cuda_home=$(dirname "$(dirname "$(command -v nvcc)")")
# Turing and Hopper; double atomicAdd needs sm_60+.
arch=(-gencode arch=compute_75,code=sm_75 -gencode arch=compute_90,code=sm_90)
nvcc -std=c++17 -O3 "${arch[@]}" -Isoftrec/csrc/common -Isoftrec/csrc/cuda -I"$cuda_home/include" \
    -c softrec/csrc/cuda/soft_raster_cuda.cu -o "$out/soft_raster_cuda.o"
echo "soft_raster_cuda.cu: compiled"
torch_inc=$(python -c 'from torch.utils.cpp_extension import include_paths; print(":".join(include_paths()))')
py_inc=$(python -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
incs=(-Isoftrec/csrc/common -Isoftrec/csrc/cuda -I"$py_inc" -I"$cuda_home/include")
IFS=: read -ra tparts <<<"$torch_inc"
for p in "${tparts[@]}"; do incs+=(-I"$p"); done
if python -c 'import torch, os, sys; sys.exit(0 if os.path.exists(os.path.join(os.path.dirname(torch.__file__), "include/c10/cuda/impl/cuda_cmake_macros.h")) else 1)'; then
    g++ -std=c++17 -fsyntax-only "${incs[@]}" -DTORCH_EXTENSION_NAME=softrec_raster_cuda \
        softrec/csrc/cuda/soft_raster_cuda.cpp
    echo "soft_raster_cuda.cpp: syntax OK"
else
    echo "soft_raster_cuda.cpp: skipped (this torch build has no CUDA headers)"
fi
