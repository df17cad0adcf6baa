// Torch bindings of the CUDA backend: tensor checks, allocation, the bins' cumsum, and the
// launches of the kernels in soft_raster_cuda.cu.
//
// Built with SOFTREC_CUDA_SHIM defined, the same file drives serial CPU stand-ins of the
// launchers (tests/cuda_shim) on CPU tensors, so the kernels are tested without a GPU.
#include <torch/extension.h>

#ifdef SOFTREC_CUDA_SHIM
#define SOFTREC_GUARD(tensor)
#define SOFTREC_STREAM nullptr
#define SOFTREC_ON_GPU false
#define SOFTREC_LAUNCH_CHECK()
#else
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#define SOFTREC_GUARD(tensor) const c10::cuda::CUDAGuard guard((tensor).device())
#define SOFTREC_STREAM c10::cuda::getCurrentCUDAStream()
#define SOFTREC_ON_GPU true
#define SOFTREC_LAUNCH_CHECK() C10_CUDA_KERNEL_LAUNCH_CHECK()
#endif

#include <vector>

#include "soft_raster_cuda.h"
#include "soft_raster_params.h"

namespace {

std::vector<at::Tensor> forward(at::Tensor fv, at::Tensor tex,
                                const softrec::RasterSettings& settings) {
    softrec::check_inputs(fv, tex, SOFTREC_ON_GPU);
    SOFTREC_GUARD(fv);
    const int64_t B = fv.size(0);
    const int S = int(settings.image_size);
    auto image = at::empty({B, 4, S, S}, fv.options());
    auto aux = at::empty({B, S, S, softrec::kAuxSize}, fv.options());
    auto winner = at::empty({B, S, S}, fv.options().dtype(at::kInt));
    at::Tensor offsets, bin_faces;
    cudaStream_t stream = SOFTREC_STREAM;
    AT_DISPATCH_FLOATING_TYPES(fv.scalar_type(), "softrec_forward_cuda", [&] {
        const auto P = softrec::make_params<scalar_t>(fv, tex, settings);
        const scalar_t* texp = P.has_color ? tex.data_ptr<scalar_t>() : nullptr;
        auto counts = at::zeros({B * P.n_tiles + 1}, fv.options().dtype(at::kLong));
        softrec::launch_count_bins(fv.data_ptr<scalar_t>(), B, P, counts.data_ptr<int64_t>() + 1,
                                   stream);
        SOFTREC_LAUNCH_CHECK();
        offsets = counts.cumsum(0);
        auto cursor = offsets.clone();
        const int64_t n_entries = offsets[B * P.n_tiles].item<int64_t>();
        bin_faces = at::empty({n_entries}, fv.options().dtype(at::kInt));
        softrec::launch_fill_bins(fv.data_ptr<scalar_t>(), B, P, cursor.data_ptr<int64_t>(),
                                  bin_faces.data_ptr<int32_t>(), stream);
        SOFTREC_LAUNCH_CHECK();
        softrec::launch_forward(fv.data_ptr<scalar_t>(), texp, B, P, offsets.data_ptr<int64_t>(),
                                bin_faces.data_ptr<int32_t>(), image.data_ptr<scalar_t>(),
                                aux.data_ptr<scalar_t>(), winner.data_ptr<int32_t>(), stream);
        SOFTREC_LAUNCH_CHECK();
    });
    return {image, aux, winner, offsets, bin_faces};
}

std::vector<at::Tensor> backward(at::Tensor grad_image, at::Tensor fv, at::Tensor tex,
                                 at::Tensor image, at::Tensor aux, at::Tensor winner,
                                 std::vector<at::Tensor> state,
                                 const softrec::RasterSettings& settings) {
    softrec::check_inputs(fv, tex, SOFTREC_ON_GPU);
    TORCH_CHECK(state.size() == 2, "CUDA backward expects the forward's bins");
    TORCH_CHECK(grad_image.sizes() == image.sizes(), "grad_image has the wrong shape");
    SOFTREC_GUARD(fv);
    grad_image = grad_image.contiguous().to(fv.scalar_type());
    const int64_t B = fv.size(0);
    auto grad_fv = at::zeros_like(fv);
    auto grad_tex = at::zeros_like(tex);
    cudaStream_t stream = SOFTREC_STREAM;
    AT_DISPATCH_FLOATING_TYPES(fv.scalar_type(), "softrec_backward_cuda", [&] {
        const auto P = softrec::make_params<scalar_t>(fv, tex, settings);
        softrec::launch_backward(
            fv.data_ptr<scalar_t>(), P.has_color ? tex.data_ptr<scalar_t>() : nullptr, B, P,
            state[0].data_ptr<int64_t>(), state[1].data_ptr<int32_t>(),
            grad_image.data_ptr<scalar_t>(), image.data_ptr<scalar_t>(), aux.data_ptr<scalar_t>(),
            winner.data_ptr<int32_t>(), grad_fv.data_ptr<scalar_t>(),
            P.has_color ? grad_tex.data_ptr<scalar_t>() : nullptr, stream);
        SOFTREC_LAUNCH_CHECK();
    });
    return {grad_fv, grad_tex};
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
    softrec::bind_raster_settings(m);
    m.def("forward", &forward, "soft rasterizer forward (CUDA)");
    m.def("backward", &backward, "soft rasterizer backward (CUDA)");
}
