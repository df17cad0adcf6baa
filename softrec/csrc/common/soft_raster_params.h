// Torch-side glue shared by the CPU and CUDA bindings: the named settings passed from
// Python, argument checks and their conversion into softrec::Params.
#pragma once

#include <torch/extension.h>

#include <cmath>
#include <vector>

#include "soft_raster.h"

namespace softrec {

// The rasterizer's settings by name, filled from softrec.render.RasterOptions by
// softrec/render/rasterize.py (_settings). Choices are indices into the Python option
// tuples (DIST_FUNCS, AGGR_ALPHA, AGGR_RGB, TEXTURE_TYPES), as soft_raster.h numbers them.
struct RasterSettings {
    int64_t image_size = 0;
    int64_t dist_func = 0;
    int64_t aggr_alpha = 0;
    int64_t aggr_rgb = 0;
    int64_t texture_type = 0;
    bool double_side = false;
    int64_t tile = 8;           // side of the screen tiles of the binning, pixels
    bool for_backward = true;   // a backward pass will follow (a backend may keep state)
    double near = 1.0;
    double far = 100.0;
    double eps = 1e-3;
    double sigma = 1e-5;
    double gamma = 1e-4;
    double threshold = 0.0;     // squared culling reach, sigma * ln(1 / dist_eps - 1)
    std::vector<double> background = {0.0, 0.0, 0.0};
};

// Exposes RasterSettings to Python with a field per setting. Module-local: the CPU and
// CUDA extensions (and test builds) each register their own copy in one process.
inline void bind_raster_settings(pybind11::module_& m) {
    pybind11::class_<RasterSettings>(m, "RasterSettings", pybind11::module_local())
        .def(pybind11::init<>())
        .def_readwrite("image_size", &RasterSettings::image_size)
        .def_readwrite("dist_func", &RasterSettings::dist_func)
        .def_readwrite("aggr_alpha", &RasterSettings::aggr_alpha)
        .def_readwrite("aggr_rgb", &RasterSettings::aggr_rgb)
        .def_readwrite("texture_type", &RasterSettings::texture_type)
        .def_readwrite("double_side", &RasterSettings::double_side)
        .def_readwrite("tile", &RasterSettings::tile)
        .def_readwrite("for_backward", &RasterSettings::for_backward)
        .def_readwrite("near", &RasterSettings::near)
        .def_readwrite("far", &RasterSettings::far)
        .def_readwrite("eps", &RasterSettings::eps)
        .def_readwrite("sigma", &RasterSettings::sigma)
        .def_readwrite("gamma", &RasterSettings::gamma)
        .def_readwrite("threshold", &RasterSettings::threshold)
        .def_readwrite("background", &RasterSettings::background);
}

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
Params<T> make_params(const at::Tensor& fv, const at::Tensor& tex, const RasterSettings& s) {
    TORCH_CHECK(s.background.size() == 3, "background must hold 3 values");
    Params<T> P;
    P.S = int(s.image_size);
    P.F = int(fv.size(1));
    P.has_color = tex.numel() > 0;
    P.T_tex = P.has_color ? int(tex.size(2)) : 0;
    P.R = int(std::lround(std::sqrt(double(P.T_tex))));
    P.dist_func = int(s.dist_func);
    P.aggr_alpha = int(s.aggr_alpha);
    P.aggr_rgb = int(s.aggr_rgb);
    P.texture_type = int(s.texture_type);
    P.double_side = s.double_side;
    P.near = T(s.near);
    P.far = T(s.far);
    P.eps = T(s.eps);
    P.sigma = T(s.sigma);
    P.gamma = T(s.gamma);
    P.threshold = T(s.threshold);
    P.reach = T(std::sqrt(s.threshold));
    for (int k = 0; k < 3; ++k) P.bg[k] = T(s.background[k]);
    P.tile = int(s.tile);
    TORCH_CHECK(P.S > 0 && P.tile > 0, "image size and tile size must be positive");
    P.tiles_x = (P.S + P.tile - 1) / P.tile;
    P.n_tiles = P.tiles_x * P.tiles_x;
    return P;
}

}  // namespace softrec
