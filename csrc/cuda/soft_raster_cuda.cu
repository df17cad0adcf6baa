// CUDA kernels of the soft rasterizer: coarse tile binning, then one thread per pixel.
//
// Binning is count -> cumsum -> fill with atomics (no shared memory, no warp intrinsics),
// and the per-pixel work is softrec::pixel_forward / pixel_backward from the shared header,
// the same code the CPU backend runs. Bin order within a tile is not deterministic; the
// shared math makes results independent of it up to float summation order. This file
// sees raw pointers only (no torch headers); soft_raster_cuda.cpp drives it.
#include <cuda_runtime.h>

#include <cstdint>

#include "soft_raster.h"
#include "soft_raster_cuda.h"

namespace {

using softrec::Params;
constexpr int kThreads = 256;

template <typename T>
__global__ void count_bins_kernel(const T* fv, int64_t B, Params<T> P, int64_t* counts) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= B * P.F) return;
    const int64_t b = i / P.F;
    int tx0, tx1, ty0, ty1;
    if (!softrec::face_tile_range(fv + i * 9, P, tx0, tx1, ty0, ty1)) return;
    for (int ty = ty0; ty <= ty1; ++ty)
        for (int tx = tx0; tx <= tx1; ++tx)
            atomicAdd(reinterpret_cast<unsigned long long*>(counts + b * P.n_tiles +
                                                           ty * P.tiles_x + tx),
                      1ULL);
}

template <typename T>
__global__ void fill_bins_kernel(const T* fv, int64_t B, Params<T> P, int64_t* cursor,
                                 int32_t* bin_faces) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= B * P.F) return;
    const int64_t b = i / P.F;
    const int32_t j = int32_t(i % P.F);
    int tx0, tx1, ty0, ty1;
    if (!softrec::face_tile_range(fv + i * 9, P, tx0, tx1, ty0, ty1)) return;
    for (int ty = ty0; ty <= ty1; ++ty)
        for (int tx = tx0; tx <= tx1; ++tx) {
            const unsigned long long slot = atomicAdd(
                reinterpret_cast<unsigned long long*>(cursor + b * P.n_tiles + ty * P.tiles_x + tx),
                1ULL);
            bin_faces[slot] = j;
        }
}

template <typename T>
__global__ void forward_kernel(const T* fv, const T* tex, int64_t B, Params<T> P,
                               const int64_t* offsets, const int32_t* bin_faces, T* image,
                               T* aux, int32_t* winner) {
    const int64_t SS = int64_t(P.S) * P.S;
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= B * SS) return;
    const int64_t b = i / SS, pix = i % SS;
    const int r = int(pix / P.S), c = int(pix % P.S);
    const int64_t bin = b * P.n_tiles + (r / P.tile) * P.tiles_x + c / P.tile;
    T out[4];
    softrec::pixel_forward(fv + b * P.F * 9, P.has_color ? tex + b * P.F * P.T_tex * 3 : tex,
                           bin_faces + offsets[bin], offsets[bin + 1] - offsets[bin],
                           softrec::pixel_x<T>(c, P.S), softrec::pixel_y<T>(r, P.S), P, out,
                           aux + i * softrec::kAuxSize, winner[i]);
    for (int ch = 0; ch < 4; ++ch) image[(b * 4 + ch) * SS + pix] = out[ch];
}

template <typename T>
__global__ void backward_kernel(const T* fv, const T* tex, int64_t B, Params<T> P,
                                const int64_t* offsets, const int32_t* bin_faces,
                                const T* grad_image, const T* image, const T* aux,
                                const int32_t* winner, T* grad_fv, T* grad_tex) {
    const int64_t SS = int64_t(P.S) * P.S;
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= B * SS) return;
    const int64_t b = i / SS, pix = i % SS;
    const int r = int(pix / P.S), c = int(pix % P.S);
    const int64_t bin = b * P.n_tiles + (r / P.tile) * P.tiles_x + c / P.tile;
    T grad[4], out[4];
    for (int ch = 0; ch < 4; ++ch) {
        grad[ch] = grad_image[(b * 4 + ch) * SS + pix];
        out[ch] = image[(b * 4 + ch) * SS + pix];
    }
    const int64_t tex_stride = int64_t(P.T_tex) * 3;
    T* gfv = grad_fv + b * P.F * 9;
    T* gtex = P.has_color ? grad_tex + b * P.F * tex_stride : grad_tex;
    softrec::pixel_backward(
        fv + b * P.F * 9, P.has_color ? tex + b * P.F * tex_stride : tex,
        bin_faces + offsets[bin], offsets[bin + 1] - offsets[bin], softrec::pixel_x<T>(c, P.S),
        softrec::pixel_y<T>(r, P.S), P, grad, out, aux + i * softrec::kAuxSize, winner[i],
        [&](int32_t j, const T* gf) {
            for (int k = 0; k < 9; ++k)
                if (gf[k] != 0) atomicAdd(gfv + int64_t(j) * 9 + k, gf[k]);
        },
        [&](int32_t j, int texel, int ch, T v) {
            atomicAdd(gtex + int64_t(j) * tex_stride + texel * 3 + ch, v);
        });
}

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
                      int32_t* bin_faces, cudaStream_t stream) {
    if (B * P.F > 0)
        fill_bins_kernel<<<blocks_for(B * P.F), kThreads, 0, stream>>>(fv, B, P, cursor,
                                                                       bin_faces);
}

template <typename T>
void launch_forward(const T* fv, const T* tex, int64_t B, const Params<T>& P,
                    const int64_t* offsets, const int32_t* bin_faces, T* image, T* aux,
                    int32_t* winner, cudaStream_t stream) {
    const int64_t n = B * int64_t(P.S) * P.S;
    if (n > 0)
        forward_kernel<<<blocks_for(n), kThreads, 0, stream>>>(fv, tex, B, P, offsets, bin_faces,
                                                               image, aux, winner);
}

template <typename T>
void launch_backward(const T* fv, const T* tex, int64_t B, const Params<T>& P,
                     const int64_t* offsets, const int32_t* bin_faces, const T* grad_image,
                     const T* image, const T* aux, const int32_t* winner, T* grad_fv,
                     T* grad_tex, cudaStream_t stream) {
    const int64_t n = B * int64_t(P.S) * P.S;
    if (n > 0)
        backward_kernel<<<blocks_for(n), kThreads, 0, stream>>>(
            fv, tex, B, P, offsets, bin_faces, grad_image, image, aux, winner, grad_fv, grad_tex);
}

#define SOFTREC_INSTANTIATE(T)                                                                 \
    template void launch_count_bins<T>(const T*, int64_t, const Params<T>&, int64_t*,          \
                                       cudaStream_t);                                          \
    template void launch_fill_bins<T>(const T*, int64_t, const Params<T>&, int64_t*, int32_t*, \
                                      cudaStream_t);                                           \
    template void launch_forward<T>(const T*, const T*, int64_t, const Params<T>&,             \
                                    const int64_t*, const int32_t*, T*, T*, int32_t*,          \
                                    cudaStream_t);                                             \
    template void launch_backward<T>(const T*, const T*, int64_t, const Params<T>&,            \
                                     const int64_t*, const int32_t*, const T*, const T*,       \
                                     const T*, const int32_t*, T*, T*, cudaStream_t);
SOFTREC_INSTANTIATE(float)
SOFTREC_INSTANTIATE(double)
#undef SOFTREC_INSTANTIATE

}  // namespace softrec
