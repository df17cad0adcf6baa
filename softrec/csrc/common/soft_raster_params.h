// Torch-side glue shared by the CPU and CUDA bindings: argument checks and the conversion
// of the Python option lists into softrec::Params (see softrec/render/rasterize.py:_params).
#pragma once

#include <torch/extension.h>

#include <cmath>
#include <vector>

#include "soft_raster.h"

namespace softrec {

// Layout of the float / int option lists passed from Python.
enum FParam { FP_NEAR = 0, FP_FAR, FP_EPS, FP_SIGMA, FP_GAMMA, FP_THRESHOLD, FP_BG0, FP_COUNT = FP_BG0 + 3 };
enum IParam {
    IP_IMAGE_SIZE = 0, IP_DIST_FUNC, IP_AGGR_ALPHA, IP_AGGR_RGB, IP_TEXTURE_TYPE,
    IP_DOUBLE_SIDE, IP_TILE,
    IP_FOR_BACKWARD,  // 1: a backward pass will follow (a backend may keep state for it)
    IP_COUNT
};

inline void check_inputs(const at::Tensor& fv, const at::Tensor& tex, bool cuda) {
    TORCH_CHECK(fv.dim() == 4 && fv.size(2) == 3 && fv.size(3) == 3,
                "face_vertices must have shape (B, F, 3, 3)");
    TORCH_CHECK(fv.is_contiguous(), "face_vertices must be contiguous");
    TORCH_CHECK(fv.is_cuda() == cuda, "face_vertices is on the wrong device for this backend");
    TORCH_CHECK(fv.size(1) < (int64_t(1) << 31), "too many faces");
    if (tex.numel() > 0) {
        TORCH_CHECK(tex.dim() == 4 && tex.size(0) == fv.size(0) && tex.size(1) == fv.size(1) &&
                        tex.size(3) == 3,
                    "face_textures must have shape (B, F, T, 3)");
        TORCH_CHECK(tex.is_contiguous(), "face_textures must be contiguous");
        TORCH_CHECK(tex.scalar_type() == fv.scalar_type(), "face_textures dtype mismatch");
        TORCH_CHECK(tex.is_cuda() == cuda, "face_textures is on the wrong device");
    }
}

template <typename T>
Params<T> make_params(const at::Tensor& fv, const at::Tensor& tex,
                      const std::vector<double>& fp, const std::vector<int64_t>& ip) {
    TORCH_CHECK(fp.size() == FP_COUNT && ip.size() == IP_COUNT, "bad rasterizer option lists");
    Params<T> P;
    P.S = int(ip[IP_IMAGE_SIZE]);
    P.F = int(fv.size(1));
    P.has_color = tex.numel() > 0;
    P.T_tex = P.has_color ? int(tex.size(2)) : 0;
    P.R = int(std::lround(std::sqrt(double(P.T_tex))));
    P.dist_func = int(ip[IP_DIST_FUNC]);
    P.aggr_alpha = int(ip[IP_AGGR_ALPHA]);
    P.aggr_rgb = int(ip[IP_AGGR_RGB]);
    P.texture_type = int(ip[IP_TEXTURE_TYPE]);
    P.double_side = ip[IP_DOUBLE_SIDE] != 0;
    P.near = T(fp[FP_NEAR]);
    P.far = T(fp[FP_FAR]);
    P.eps = T(fp[FP_EPS]);
    P.sigma = T(fp[FP_SIGMA]);
    P.gamma = T(fp[FP_GAMMA]);
    P.threshold = T(fp[FP_THRESHOLD]);
    P.reach = T(std::sqrt(fp[FP_THRESHOLD]));
    for (int k = 0; k < 3; ++k) P.bg[k] = T(fp[FP_BG0 + k]);
    P.tile = int(ip[IP_TILE]);
    TORCH_CHECK(P.S > 0 && P.tile > 0, "image size and tile size must be positive");
    P.tiles_x = (P.S + P.tile - 1) / P.tile;
    P.n_tiles = P.tiles_x * P.tiles_x;
    return P;
}

}  // namespace softrec
