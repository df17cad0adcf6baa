// The CUDA backend's launchers with the kernels run serially through cuda_shim.h.
// Mirrors softrec/csrc/cuda/soft_raster_cuda.cu, whose <<<...>>> launches plain C++ cannot parse.
#include "cuda_shim.h"

#include "soft_raster_cuda.h"
#include "soft_raster_kernels.cuh"

namespace softrec {
namespace {
constexpr unsigned kThreads = 64;
unsigned blocks_for(int64_t n) { return unsigned((n + kThreads - 1) / kThreads); }
}  // namespace

template <typename T>
void launch_count_bins(const T* fv, int64_t B, const Params<T>& P, int64_t* counts,
                       cudaStream_t) {
    shim_launch(blocks_for(B * P.F), kThreads, kernels::count_bins_kernel<T>, fv, B, P, counts);
}

template <typename T>
void launch_fill_bins(const T* fv, int64_t B, const Params<T>& P, int64_t* cursor,
                      int32_t* bin_faces, int64_t capacity, cudaStream_t) {
    shim_launch(blocks_for(B * P.F), kThreads, kernels::fill_bins_kernel<T>, fv, B, P, cursor,
                bin_faces, capacity);
}

template <typename T>
void launch_forward(const T* fv, const T* tex, int64_t B, const Params<T>& P,
                    const int64_t* offsets, const int32_t* bin_faces, int64_t capacity,
                    T* image, T* aux, int32_t* winner, cudaStream_t) {
    shim_launch(blocks_for(B * int64_t(P.S) * P.S), kThreads, kernels::forward_kernel<T>, fv,
                tex, B, P, offsets, bin_faces, capacity, image, aux, winner);
}

template <typename T>
void launch_backward(const T* fv, const T* tex, int64_t B, const Params<T>& P,
                     const int64_t* offsets, const int32_t* bin_faces, int64_t capacity,
                     const T* grad_image, const T* image, const T* aux, const int32_t* winner,
                     T* grad_fv, T* grad_tex, cudaStream_t) {
    shim_launch(blocks_for(B * int64_t(P.S) * P.S), kThreads, kernels::backward_kernel<T>, fv,
                tex, B, P, offsets, bin_faces, capacity, grad_image, image, aux, winner,
                grad_fv, grad_tex);
}

SOFTREC_INSTANTIATE_LAUNCHERS(float)
SOFTREC_INSTANTIATE_LAUNCHERS(double)

}  // namespace softrec
