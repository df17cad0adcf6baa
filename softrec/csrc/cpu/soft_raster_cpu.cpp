// CPU backend of the soft rasterizer: face-major walk over screen bands with culling.
//
// Each work item owns one image and a band of its rows. It visits every face once and,
// for that face, only the pixels inside the face's bounding box grown by sqrt(threshold)
// (the pixels it can reach: REFERENCE §1 culling), accumulating into per-pixel state.
// That is tile binning with the bins built implicitly: a face lands in the bands it
// overlaps. The backward pass re-walks the same bands; every work item writes gradients
// into its own slice of a (B, bands, F, ...) buffer, summed afterwards, so no atomics are
// needed and results are deterministic.
#include <torch/extension.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

#include "soft_raster.h"
#include "soft_raster_params.h"

namespace {

using softrec::Fragment;
using softrec::Params;
using softrec::PixelAccum;

// Bands per image: enough work items to keep every thread busy, whole images when B is large.
int bands_for(int64_t B, int S) {
    const int64_t want = (4 * int64_t(at::get_num_threads()) + B - 1) / B;
    return int(std::max<int64_t>(1, std::min<int64_t>(want, S)));
}

// Calls fn(b, r0, r1) for each (image, band of rows [r0, r1)) work item, in parallel.
template <typename Fn>
void for_each_band(int64_t B, int S, int bands, Fn fn) {
    const int rows = (S + bands - 1) / bands;
    at::parallel_for(0, B * bands, 1, [&](int64_t w0, int64_t w1) {
        for (int64_t w = w0; w < w1; ++w) {
            const int64_t b = w / bands;
            const int band = int(w % bands);
            const int r0 = band * rows, r1 = std::min(S, r0 + rows);
            if (r0 < r1) fn(b, band, r0, r1);
        }
    });
}

// Calls fn(r, c, px, py, fragment) for every pixel of rows [r0, r1) that face f reaches
// (its grown bounding box, narrowed per row, then the exact test of eval_fragment).
template <typename T, typename Fn>
void for_each_face_pixel(const T* f, const Params<T>& P, int r0, int r1, Fn fn) {
    int c0, c1, fr0, fr1;
    if (!softrec::face_pixel_rect(f, P, c0, c1, fr0, fr1)) return;
    softrec::FaceSetup<T> fs;
    softrec::face_setup(f, P, fs);
    fr0 = std::max(fr0, r0);
    fr1 = std::min(fr1, r1 - 1);
    for (int r = fr0; r <= fr1; ++r) {
        const T py = softrec::pixel_y<T>(r, P.S);
        int cl = c0, cr = c1;
        softrec::row_span(fs, py, P, cl, cr);
        for (int c = cl; c <= cr; ++c) {
            const T px = softrec::pixel_x<T>(c, P.S);
            Fragment<T> fr;
            if (softrec::eval_fragment(fs, px, py, P, fr)) fn(r, c, px, py, fr);
        }
    }
}

std::vector<at::Tensor> forward(at::Tensor fv, at::Tensor tex, std::vector<double> fparams,
                                std::vector<int64_t> iparams) {
    softrec::check_inputs(fv, tex, /*cuda=*/false);
    const int64_t B = fv.size(0);
    const int S = int(iparams[softrec::IP_IMAGE_SIZE]);
    auto image = at::empty({B, 4, S, S}, fv.options());
    auto aux = at::empty({B, S, S, softrec::kAuxSize}, fv.options());
    auto winner = at::empty({B, S, S}, fv.options().dtype(at::kInt));
    AT_DISPATCH_FLOATING_TYPES(fv.scalar_type(), "softrec_forward_cpu", [&] {
        const auto params = softrec::make_params<scalar_t>(fv, tex, fparams, iparams);
        const scalar_t* fvp = fv.data_ptr<scalar_t>();
        const scalar_t* texp = params.has_color ? tex.data_ptr<scalar_t>() : nullptr;
        scalar_t* img = image.data_ptr<scalar_t>();
        scalar_t* auxp = aux.data_ptr<scalar_t>();
        int32_t* win = winner.data_ptr<int32_t>();
        const int64_t SS = int64_t(S) * S;
        const int64_t tex_stride = int64_t(params.T_tex) * 3;
        for_each_band(B, S, bands_for(B, S), [&](int64_t b, int, int r0, int r1) {
            const auto P = params;  // a private copy: stores to the image cannot alias it
            std::vector<PixelAccum<scalar_t>> acc(size_t(r1 - r0) * S);
            for (auto& a : acc) a.init(P);
            const scalar_t* faces = fvp + b * P.F * 9;
            for (int j = 0; j < P.F; ++j) {
                const scalar_t* f = faces + 9 * j;
                const scalar_t* tj = texp ? texp + (b * P.F + j) * tex_stride : nullptr;
                for_each_face_pixel(f, P, r0, r1, [&](int r, int c, scalar_t, scalar_t,
                                                      const Fragment<scalar_t>& fr) {
                    acc[size_t(r - r0) * S + c].add(f, tj, j, fr, P);
                });
            }
            for (int r = r0; r < r1; ++r)
                for (int c = 0; c < S; ++c) {
                    const int64_t pix = int64_t(r) * S + c;
                    scalar_t out[4];
                    acc[size_t(r - r0) * S + c].finish(
                        P, out, auxp + (b * SS + pix) * softrec::kAuxSize, win[b * SS + pix]);
                    for (int ch = 0; ch < 4; ++ch) img[(b * 4 + ch) * SS + pix] = out[ch];
                }
        });
    });
    return {image, aux, winner};
}

std::vector<at::Tensor> backward(at::Tensor grad_image, at::Tensor fv, at::Tensor tex,
                                 at::Tensor image, at::Tensor aux, at::Tensor winner,
                                 std::vector<at::Tensor> /*state*/, std::vector<double> fparams,
                                 std::vector<int64_t> iparams) {
    softrec::check_inputs(fv, tex, /*cuda=*/false);
    TORCH_CHECK(grad_image.sizes() == image.sizes(), "grad_image has the wrong shape");
    grad_image = grad_image.contiguous().to(fv.scalar_type());
    const int64_t B = fv.size(0);
    const int S = int(iparams[softrec::IP_IMAGE_SIZE]);
    const int bands = bands_for(B, S);
    at::Tensor grad_fv, grad_tex;
    AT_DISPATCH_FLOATING_TYPES(fv.scalar_type(), "softrec_backward_cpu", [&] {
        const auto params = softrec::make_params<scalar_t>(fv, tex, fparams, iparams);
        const auto& P = params;
        const int64_t tex_stride = int64_t(P.T_tex) * 3;
        // One slice per (image, band): written only by the thread owning that band.
        auto gbuf = at::zeros({B, bands, P.F, 9}, fv.options());
        auto tbuf = at::zeros({B, bands, P.has_color ? P.F : 0, tex_stride}, fv.options());
        const scalar_t* fvp = fv.data_ptr<scalar_t>();
        const scalar_t* texp = P.has_color ? tex.data_ptr<scalar_t>() : nullptr;
        const scalar_t* gimg = grad_image.data_ptr<scalar_t>();
        const scalar_t* img = image.data_ptr<scalar_t>();
        const scalar_t* auxp = aux.data_ptr<scalar_t>();
        const int32_t* win = winner.data_ptr<int32_t>();
        scalar_t* gb = gbuf.data_ptr<scalar_t>();
        scalar_t* tb = P.has_color ? tbuf.data_ptr<scalar_t>() : nullptr;
        const int64_t SS = int64_t(S) * S;
        for_each_band(B, S, bands, [&](int64_t b, int band, int r0, int r1) {
            const auto P = params;  // a private copy: stores to the buffers cannot alias it
            // Rows without any upstream gradient are skipped wholesale.
            std::vector<char> active(size_t(r1 - r0) * S);
            bool any = false;
            for (int r = r0; r < r1; ++r)
                for (int c = 0; c < S; ++c) {
                    const int64_t pix = int64_t(r) * S + c;
                    scalar_t g[4];
                    for (int ch = 0; ch < 4; ++ch) g[ch] = gimg[(b * 4 + ch) * SS + pix];
                    const bool a = softrec::pixel_has_grad(P, g);
                    active[size_t(r - r0) * S + c] = a;
                    any = any || a;
                }
            if (!any) return;
            const scalar_t* faces = fvp + b * P.F * 9;
            scalar_t* gslice = gb + (b * bands + band) * P.F * 9;
            scalar_t* tslice = tb ? tb + (b * bands + band) * P.F * tex_stride : nullptr;
            for (int j = 0; j < P.F; ++j) {
                const scalar_t* f = faces + 9 * j;
                const scalar_t* tj = texp ? texp + (b * P.F + j) * tex_stride : nullptr;
                scalar_t* tg = tslice ? tslice + int64_t(j) * tex_stride : nullptr;
                scalar_t gf[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
                for_each_face_pixel(f, P, r0, r1, [&](int r, int c, scalar_t px, scalar_t py,
                                                      const Fragment<scalar_t>& fr) {
                    if (!active[size_t(r - r0) * S + c]) return;
                    const int64_t pix = int64_t(r) * S + c;
                    scalar_t g[4], out[4];
                    for (int ch = 0; ch < 4; ++ch) {
                        g[ch] = gimg[(b * 4 + ch) * SS + pix];
                        out[ch] = img[(b * 4 + ch) * SS + pix];
                    }
                    softrec::pair_backward(
                        f, tj, j, fr, px, py, P, g, out, auxp + (b * SS + pix) * softrec::kAuxSize,
                        win[b * SS + pix], gf,
                        [&](int texel, int ch, scalar_t v) { tg[texel * 3 + ch] += v; });
                });
                for (int k = 0; k < 9; ++k) gslice[j * 9 + k] += gf[k];
            }
        });
        grad_fv = bands == 1 ? gbuf.reshape_as(fv) : gbuf.sum(1).reshape_as(fv);
        if (P.has_color) grad_tex = bands == 1 ? tbuf.reshape_as(tex) : tbuf.sum(1).reshape_as(tex);
        else grad_tex = at::zeros_like(tex);
    });
    return {grad_fv, grad_tex};
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
    m.def("forward", &forward, "soft rasterizer forward (CPU)");
    m.def("backward", &backward, "soft rasterizer backward (CPU)");
}
