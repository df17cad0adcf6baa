// Serial stand-ins for the few CUDA names the softrec kernels use, so that
// softrec/csrc/cuda/soft_raster_kernels.cuh compiles as plain C++ and runs on one CPU thread.
#pragma once

#include <cstdint>

struct ShimDim3 {
    unsigned x = 0, y = 0, z = 0;
};
inline ShimDim3 blockIdx, threadIdx, blockDim, gridDim;
using cudaStream_t = void*;

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline

template <typename T>
inline T atomicAdd(T* address, T value) {  // serial execution: a plain read-modify-write
    const T old = *address;
    *address = old + value;
    return old;
}

// Runs kernel(args...) for every (block, thread) in order, like a one-core GPU.
template <typename Kernel, typename... Args>
inline void shim_launch(unsigned blocks, unsigned threads, Kernel kernel, Args... args) {
    blockDim.x = threads;
    gridDim.x = blocks;
    for (unsigned b = 0; b < blocks; ++b)
        for (unsigned t = 0; t < threads; ++t) {
            blockIdx.x = b;
            threadIdx.x = t;
            kernel(args...);
        }
}
