// Host-side launchers of the CUDA kernels (raw pointers; defined in soft_raster_cuda.cu).
#pragma once

#ifdef SOFTREC_CUDA_SHIM
#include "cuda_shim.h"  // serial CPU stand-ins (tests)
#else
#include <cuda_runtime.h>
#endif

#include <cstdint>

#include "soft_raster.h"

namespace softrec {

template <typename T>
void launch_count_bins(const T* fv, int64_t B, const Params<T>& P, int64_t* counts,
                       cudaStream_t stream);
// bin_faces holds `capacity` entries: the fill writes those below it, and the pixel
// kernels read a tile whose list ends past it as "all faces of the image".
template <typename T>
void launch_fill_bins(const T* fv, int64_t B, const Params<T>& P, int64_t* cursor,
                      int32_t* bin_faces, int64_t capacity, cudaStream_t stream);
template <typename T>
void launch_forward(const T* fv, const T* tex, int64_t B, const Params<T>& P,
                    const int64_t* offsets, const int32_t* bin_faces, int64_t capacity,
                    T* image, T* aux, int32_t* winner, cudaStream_t stream);
template <typename T>
void launch_backward(const T* fv, const T* tex, int64_t B, const Params<T>& P,
                     const int64_t* offsets, const int32_t* bin_faces, int64_t capacity,
                     const T* grad_image, const T* image, const T* aux, const int32_t* winner,
                     T* grad_fv, T* grad_tex, cudaStream_t stream);

// Explicit instantiations of the four launchers for T, written once for the CUDA build
// (soft_raster_cuda.cu) and the serial stand-in (tests/render/cuda_shim/shim_launch.cpp).
#define SOFTREC_INSTANTIATE_LAUNCHERS(T)                                                       \
    template void launch_count_bins<T>(const T*, int64_t, const Params<T>&, int64_t*,          \
                                       cudaStream_t);                                          \
    template void launch_fill_bins<T>(const T*, int64_t, const Params<T>&, int64_t*, int32_t*, \
                                      int64_t, cudaStream_t);                                  \
    template void launch_forward<T>(const T*, const T*, int64_t, const Params<T>&,             \
                                    const int64_t*, const int32_t*, int64_t, T*, T*, int32_t*, \
                                    cudaStream_t);                                             \
    template void launch_backward<T>(const T*, const T*, int64_t, const Params<T>&,            \
                                     const int64_t*, const int32_t*, int64_t, const T*,        \
                                     const T*, const T*, const int32_t*, T*, T*, cudaStream_t);

}  // namespace softrec
