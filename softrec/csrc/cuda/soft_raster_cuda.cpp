// Torch bindings of the CUDA backend: tensor checks, allocation, the bins' cumsum and
// capacity, and the launches of the kernels in soft_raster_cuda.cu.
//
// Built with SOFTREC_CUDA_SHIM defined, the same file drives serial CPU stand-ins of the
// launchers (tests/cuda_shim) on CPU tensors, so the kernels are tested without a GPU.
#include <torch/extension.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

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

#include "soft_raster_cuda.h"
#include "soft_raster_params.h"

namespace {

// A copy of a device count to the host that is read once it has arrived, never waited for.
struct CountReadback {
    at::Tensor host;  // (1,) int64, pinned on the GPU
    bool pending = false;
#ifdef SOFTREC_CUDA_SHIM
    void start(const at::Tensor& count) {  // CPU tensors: the copy is done at once
        host = count.clone();
        pending = true;
    }
    bool ready() const { return pending; }
#else
    cudaEvent_t done = nullptr;  // never destroyed, like the budgets that hold it
    void start(const at::Tensor& count) {
        if (!host.defined())
            host = at::empty({1}, at::TensorOptions().dtype(at::kLong).pinned_memory(true));
        if (!done) C10_CUDA_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
        host.copy_(count, /*non_blocking=*/true);  // on the current stream, as are the kernels
        C10_CUDA_CHECK(cudaEventRecord(done, c10::cuda::getCurrentCUDAStream()));
        pending = true;
    }
    bool ready() const {
        if (!pending) return false;
        const cudaError_t err = cudaEventQuery(done);
        if (err == cudaErrorNotReady) {
            (void)cudaGetLastError();  // not an error: clear it
            return false;
        }
        C10_CUDA_CHECK(err);
        return true;
    }
#endif
    int64_t take() {
        pending = false;
        return host.data_ptr<int64_t>()[0];
    }
};

// Capacity of the bin lists (bin_faces entries) for one launch shape. Reading the entry
// count back before allocating would wait for the device on every call; instead the forward
// allocates the capacity learned so far, tiles whose lists do not fit render from all faces
// (bin_candidates in soft_raster_kernels.cuh: same pairs, same results), and the count is
// copied to the host asynchronously so that a later call grows the capacity. Only the first
// call of a shape reads its count back and waits.
struct BinBudget {
    int64_t capacity = -1;  // -1: not sized yet
    CountReadback count;
};

using BudgetKey = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t>;  // device, B, F, S, tile
std::mutex g_budget_mutex;
int64_t g_max_bin_capacity = -1;  // tests: cap on every capacity (-1: none)

std::map<BudgetKey, BinBudget>& budgets() {
    // never destroyed: events and pinned memory must not be released after CUDA shuts down
    static auto* map = new std::map<BudgetKey, BinBudget>;
    return *map;
}

int64_t with_headroom(int64_t entries) { return entries + entries / 4 + 64; }

// Allocates bin_faces for the bins of `offsets` (cumulated counts, B * n_tiles + 1 entries)
// and fills them; returns bin_faces, whose length is the capacity the kernels compare to.
template <typename T>
at::Tensor fill_bins(const at::Tensor& fv, const softrec::Params<T>& P, const at::Tensor& offsets,
                     cudaStream_t stream) {
    const int64_t B = fv.size(0), n_bins = B * P.n_tiles;
    const BudgetKey key{fv.get_device(), B, P.F, P.S, P.tile};
    const at::Tensor total = offsets.narrow(0, n_bins, 1);
    std::lock_guard<std::mutex> lock(g_budget_mutex);
    BinBudget& budget = budgets()[key];
    if (budget.count.ready())
        budget.capacity = std::max(budget.capacity, with_headroom(budget.count.take()));
    if (budget.capacity < 0)
        budget.capacity = with_headroom(total.item<int64_t>());  // first call: waits once
    else if (!budget.count.pending)
        budget.count.start(total);
    int64_t capacity = budget.capacity;
    if (g_max_bin_capacity >= 0) capacity = std::min(capacity, g_max_bin_capacity);
    auto bin_faces = at::empty({capacity}, fv.options().dtype(at::kInt));
    auto cursor = offsets.clone();
    softrec::launch_fill_bins(fv.data_ptr<T>(), B, P, cursor.data_ptr<int64_t>(),
                              bin_faces.data_ptr<int32_t>(), capacity, stream);
    SOFTREC_LAUNCH_CHECK();
    return bin_faces;
}

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
        bin_faces = fill_bins(fv, P, offsets, stream);
        softrec::launch_forward(fv.data_ptr<scalar_t>(), texp, B, P, offsets.data_ptr<int64_t>(),
                                bin_faces.data_ptr<int32_t>(), bin_faces.numel(),
                                image.data_ptr<scalar_t>(), aux.data_ptr<scalar_t>(),
                                winner.data_ptr<int32_t>(), stream);
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
            state[0].data_ptr<int64_t>(), state[1].data_ptr<int32_t>(), state[1].numel(),
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
    m.def("set_max_bin_capacity", [](int64_t n) { g_max_bin_capacity = n; },
          "cap the bin lists' capacity, so that tiles past it take the all-faces path (-1: no cap)");
}
