// The CUDA kernels of the soft rasterizer, as plain kernel bodies.
//
// No shared memory, no warp intrinsics, no launch syntax: only blockIdx/blockDim/threadIdx
// and atomicAdd. soft_raster_cuda.cu launches them on the GPU; the tests compile this same
// file as ordinary C++ with a serial stand-in for those names (tests/cuda_shim) and check
// the kernels against the CPU backend on machines without a GPU.
#pragma once

#include <cstdint>

#include "soft_raster.h"

namespace softrec {
namespace kernels {


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

// Writes the entries below `capacity` (the length of bin_faces); the tiles whose lists
// end past it are read as "all faces" (bin_candidates).
template <typename T>
__global__ void fill_bins_kernel(const T* fv, int64_t B, Params<T> P, int64_t* cursor,
                                 int32_t* bin_faces, int64_t capacity) {
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
            if (int64_t(slot) < capacity) bin_faces[slot] = j;
        }
}

// Where global pixel i (over the whole batch) lives: image, pixel, row/column and tile bin.
struct PixelSlot {
    int64_t b, pix, bin;
    int r, c;
};

template <typename T>
SR_HD PixelSlot pixel_slot(int64_t i, const Params<T>& P) {
    PixelSlot s;
    const int64_t SS = int64_t(P.S) * P.S;
    s.b = i / SS;
    s.pix = i % SS;
    s.r = int(s.pix / P.S);
    s.c = int(s.pix % P.S);
    s.bin = s.b * P.n_tiles + (s.r / P.tile) * P.tiles_x + s.c / P.tile;
    return s;
}

// The candidate faces of tile bin `bin`: its list, or, where the list did not fit in
// bin_faces, every face of the image (null list). Culling in eval_fragment rejects exactly
// the faces the binning left out, so both give the same result up to summation order.
template <typename T>
SR_HD void bin_candidates(const int64_t* offsets, const int32_t* bin_faces, int64_t capacity,
                          int64_t bin, const Params<T>& P, const int32_t*& list, int64_t& n) {
    if (offsets[bin + 1] <= capacity) {
        list = bin_faces + offsets[bin];
        n = offsets[bin + 1] - offsets[bin];
    } else {
        list = nullptr;
        n = P.F;
    }
}

template <typename T>
__global__ void forward_kernel(const T* fv, const T* tex, int64_t B, Params<T> P,
                               const int64_t* offsets, const int32_t* bin_faces,
                               int64_t capacity, T* image, T* aux, int32_t* winner) {
    const int64_t SS = int64_t(P.S) * P.S;
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= B * SS) return;
    const PixelSlot px = pixel_slot(i, P);
    const int64_t b = px.b, pix = px.pix, bin = px.bin;
    const int r = px.r, c = px.c;
    const int32_t* list;
    int64_t n;
    bin_candidates(offsets, bin_faces, capacity, bin, P, list, n);
    T out[4];
    softrec::pixel_forward(fv + b * P.F * 9, P.has_color ? tex + b * P.F * P.T_tex * 3 : tex,
                           list, n, softrec::pixel_x<T>(c, P.S), softrec::pixel_y<T>(r, P.S), P,
                           out, aux + i * softrec::kAuxSize, winner[i]);
    for (int ch = 0; ch < 4; ++ch) image[(b * 4 + ch) * SS + pix] = out[ch];
}

template <typename T>
__global__ void backward_kernel(const T* fv, const T* tex, int64_t B, Params<T> P,
                                const int64_t* offsets, const int32_t* bin_faces,
                                int64_t capacity, const T* grad_image, const T* image,
                                const T* aux, const int32_t* winner, T* grad_fv, T* grad_tex) {
    const int64_t SS = int64_t(P.S) * P.S;
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= B * SS) return;
    const PixelSlot px = pixel_slot(i, P);
    const int64_t b = px.b, pix = px.pix, bin = px.bin;
    const int r = px.r, c = px.c;
    T grad[4], out[4];
    for (int ch = 0; ch < 4; ++ch) {
        grad[ch] = grad_image[(b * 4 + ch) * SS + pix];
        out[ch] = image[(b * 4 + ch) * SS + pix];
    }
    const int64_t tex_stride = int64_t(P.T_tex) * 3;
    T* gfv = grad_fv + b * P.F * 9;
    T* gtex = P.has_color ? grad_tex + b * P.F * tex_stride : grad_tex;
    const int32_t* list;
    int64_t n;
    bin_candidates(offsets, bin_faces, capacity, bin, P, list, n);
    softrec::pixel_backward(
        fv + b * P.F * 9, P.has_color ? tex + b * P.F * tex_stride : tex, list, n,
        softrec::pixel_x<T>(c, P.S), softrec::pixel_y<T>(r, P.S), P, grad, out,
        aux + i * softrec::kAuxSize, winner[i],
        [&](int32_t j, const T* gf) {
            for (int k = 0; k < 9; ++k)
                if (gf[k] != 0) atomicAdd(gfv + int64_t(j) * 9 + k, gf[k]);
        },
        [&](int32_t j, int texel, int ch, T v) {
            atomicAdd(gtex + int64_t(j) * tex_stride + texel * 3 + ch, v);
        });
}

}  // namespace kernels
}  // namespace softrec
