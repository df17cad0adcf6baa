// GPU launchers of the soft rasterizer kernels (soft_raster_kernels.cuh): coarse tile
// binning (count -> cumsum -> fill with atomics into a buffer whose capacity the host picks
// without reading the count back, see soft_raster_cuda.cpp), then one thread per pixel
// running softrec::pixel_forward / pixel_backward, the same per-pixel code as the CPU
// backend. Bin
// order within a tile is not deterministic; results depend on it only through float
// summation order. Raw pointers only (no torch headers); soft_raster_cuda.cpp drives it.
#include <cuda_runtime.h>

#include <cstdint>

#include "soft_raster.h"
#include "soft_raster_cuda.h"
#include "soft_raster_kernels.cuh"

namespace {

using softrec::Params;
using namespace softrec::kernels;
constexpr int kThreads = 256;

inline unsigned blocks_for(int64_t n) { return unsigned((n + kThreads - 1) / kThreads); }

}  // namespace

namespace softrec {

template <typename T>
void launch_count_bins(const T* fv, int64_t B, const Params<T>& P, int64_t* counts,
                       cudaStream_t stream) {
    if (B * P.F > 0)
        count_bins_kernel<<<blocks_for(B * P.F), kThreads, 0, stream>>>(fv, B, P, counts);
}

template <typename T>
void launch_fill_bins(const T* fv, int64_t B, const Params<T>& P, int64_t* cursor,
                      int32_t* bin_faces, int64_t capacity, cudaStream_t stream) {
    if (B * P.F > 0)
        fill_bins_kernel<<<blocks_for(B * P.F), kThreads, 0, stream>>>(fv, B, P, cursor,
                                                                       bin_faces, capacity);
}

template <typename T>
void launch_forward(const T* fv, const T* tex, int64_t B, const Params<T>& P,
                    const int64_t* offsets, const int32_t* bin_faces, int64_t capacity,
                    T* image, T* aux, int32_t* winner, cudaStream_t stream) {
    const int64_t n = B * int64_t(P.S) * P.S;
    if (n > 0)
        forward_kernel<<<blocks_for(n), kThreads, 0, stream>>>(fv, tex, B, P, offsets, bin_faces,
                                                               capacity, image, aux, winner);
}

template <typename T>
void launch_backward(const T* fv, const T* tex, int64_t B, const Params<T>& P,
                     const int64_t* offsets, const int32_t* bin_faces, int64_t capacity,
                     const T* grad_image, const T* image, const T* aux, const int32_t* winner,
                     T* grad_fv, T* grad_tex, cudaStream_t stream) {
    const int64_t n = B * int64_t(P.S) * P.S;
    if (n > 0)
        backward_kernel<<<blocks_for(n), kThreads, 0, stream>>>(fv, tex, B, P, offsets,
                                                                bin_faces, capacity, grad_image,
                                                                image, aux, winner, grad_fv,
                                                                grad_tex);
}

SOFTREC_INSTANTIATE_LAUNCHERS(float)
SOFTREC_INSTANTIATE_LAUNCHERS(double)

}  // namespace softrec
