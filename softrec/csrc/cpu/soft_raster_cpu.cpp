// CPU backend of the soft rasterizer: face-major walk over screen bands with culling.
//
// Each work item owns one image and a band of its rows. It visits every face once and,
// for that face, only the pixels inside the face's bounding box grown by sqrt(threshold)
// (the pixels it can reach: the culling rule of docs/conventions.md §1), accumulating into
// per-pixel state.
// That is tile binning with the bins built implicitly: a face lands in the bands it
// overlaps. The backward pass re-walks the same bands; every work item writes gradients
// into its own slice of a (B, bands, F, ...) buffer, summed afterwards, so no atomic adds
// are needed and results are deterministic.
//
// float32 runs the vector path (soft_raster_cpu_simd.inc): the same walk with faces set
// up once per image into a structure-of-arrays table and pixels evaluated in blocks of
// 4 x 2 (AVX2 + FMA, 8 lanes) or 4 x 1 (SSE2), chosen at run time from the CPU; when a
// backward follows, the forward keeps D for it. float64, and float32 on other CPUs, run
// the scalar path below.
#include <torch/extension.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <type_traits>
#include <vector>

#include "simd_ops.h"
#include "soft_raster.h"
#include "soft_raster_params.h"

namespace softrec {
namespace cpu {

// What one work item (image, band of rows [r0, r1)) reads and writes.
struct BandIO {
    const float* faces;    // (F, 9) of the image
    const float* tex;      // (F, T, 3) of the image, or null
    const float* aux;      // (S, S, kAuxSize) of the image
    const int32_t* winner; // (S, S) of the image
    int r0, r1;
};

// Fields of the vector path's per-image face table (FaceSetup as structure-of-arrays).
enum FaceField {
    FT_X = 0, FT_Y = 3, FT_EX = 6, FT_EY = 9, FT_INV_LEN2 = 12, FT_XMIN = 15, FT_XMAX,
    FT_YMIN, FT_YMAX, FT_DENOM, FT_INV_DENOM, FT_COUNT
};

struct FaceTable {
    float* data;    // (FT_COUNT, stride)
    int64_t stride; // F rounded up to a multiple of 8
    int32_t* rect;  // (F, 4): face_pixel_rect's c0, c1, r0, r1; r0 > r1 for invalid faces
    float* field(int f) const { return data + f * stride; }
};

// Per-band arrays of the vector path. A vector holds a block of 4 columns x bh rows
// (bh = 2 with AVX2, 1 with SSE2); per-pixel arrays are stored block by block (`at`).
struct BandScratch {
    int bh, ncb;            // rows per block, blocks per row of blocks (S / 4 rounded up)
    const float* px;        // (ncb, lanes) pixel centre x of each lane; huge past the image
    const float* col_mask;  // (ncb, lanes) all bits set for lanes inside the image
    const float* py;        // (S + 2) pixel centre y of each image row; huge past the image
    const float* row_mask;  // (row blocks, lanes) all bits set for lanes inside the band
    // forward: acc1 = prod_nz | alpha_sum | alpha_hard, acc2 = n_zero
    // backward: acc1 = upstream alpha gradient, acc2 = prod_nz, acc3 = n_zero
    float *acc1, *acc2, *acc3;
    const float* active;      // backward: all bits set where pixel_has_grad
    PixelAccum<float>* cacc;  // forward with color: (rows, S)
    FaceTable faces;          // filled by the band's pass
    // D of every evaluated block with a surviving lane, in visiting order: appended by the
    // forward (d_out), replayed by the backward (d_in) instead of recomputing exp.
    std::vector<float>* d_out;
    const float* d_in;

    // Index of pixel (row rr of the band, column c) in the blocked arrays.
    int64_t at(int rr, int c) const {
        return (int64_t(rr / bh) * ncb + c / 4) * (4 * bh) + (rr % bh) * 4 + c % 4;
    }
};

}  // namespace cpu
}  // namespace softrec

#ifdef SOFTREC_SIMD_AVX2
SOFTREC_AVX2_BEGIN
namespace softrec {
namespace cpu_avx2 {
using namespace softrec;
using namespace softrec::cpu;
using cpu::BandIO;
using cpu::BandScratch;
using cpu::FaceTable;
using Ops = simd::Avx2;
#include "soft_raster_cpu_simd.inc"
}  // namespace cpu_avx2
}  // namespace softrec
SOFTREC_AVX2_END
#endif

#ifdef SOFTREC_SIMD_X86
namespace softrec {
namespace cpu_sse2 {
using namespace softrec;
using namespace softrec::cpu;
using cpu::BandIO;
using cpu::BandScratch;
using cpu::FaceTable;
using Ops = simd::Sse2;
#include "soft_raster_cpu_simd.inc"
}  // namespace cpu_sse2
}  // namespace softrec
#endif

namespace {

using softrec::Fragment;
using softrec::Params;
using softrec::PixelAccum;

// Bands per image: enough work items to keep every thread busy, whole images when B is large.
int bands_for(int64_t B, int S) {
    const int64_t want = (4 * int64_t(at::get_num_threads()) + B - 1) / B;
    return int(std::max<int64_t>(1, std::min<int64_t>(want, S)));
}

// Calls fn(b, band, r0, r1) for each (image, band of rows [r0, r1)) work item, in parallel.
// Threads take the next item as they finish one (images differ in cost); each item writes
// only its own outputs, so which thread runs it does not change any result.
template <typename Fn>
void for_each_band(int64_t B, int S, int bands, Fn fn) {
    const int rows = (S + bands - 1) / bands;
    const int64_t n = B * bands;
    std::atomic<int64_t> next{0};
    at::parallel_for(0, std::min<int64_t>(n, at::get_num_threads()), 1, [&](int64_t, int64_t) {
        for (int64_t w = next++; w < n; w = next++) {
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

// Vector instruction sets: 0 scalar, 1 SSE2 (4 lanes), 2 AVX2 + FMA (8 lanes).
int detected_simd_level() {
#ifdef SOFTREC_SIMD_AVX2
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 2;
#endif
#ifdef SOFTREC_SIMD_X86
    return 1;
#else
    return 0;
#endif
}

std::atomic<int> g_max_simd_level{2};  // lowered only to compare the paths (tests, benchmarks)

int simd_level() {
    static const int detected = detected_simd_level();
    return std::min(detected, g_max_simd_level.load());
}

// Tables and scratch of the vector path for one image size and instruction set.
struct VecLayout {
    int S, bh, lanes, ncb;
    std::vector<float> px, col_mask, py;
    VecLayout(int S_, int level)
        : S(S_), bh(level == 2 ? 2 : 1), lanes(4 * bh), ncb((S_ + 3) / 4), px(size_t(ncb) * lanes),
          col_mask(px.size()), py(size_t(S_) + 2) {
        for (int cb = 0; cb < ncb; ++cb)
            for (int l = 0; l < lanes; ++l) {
                const int c = cb * 4 + l % 4;
                px[cb * lanes + l] = c < S ? softrec::pixel_x<float>(c, S) : 1e30f;
                set_mask(col_mask[cb * lanes + l], c < S);
            }
        for (int r = 0; r < S + 2; ++r) py[r] = r < S ? softrec::pixel_y<float>(r, S) : 1e30f;
    }
    static void set_mask(float& m, bool on) {
        const uint32_t bits = on ? ~uint32_t(0) : 0;
        std::memcpy(&m, &bits, sizeof(float));
    }
    int64_t band_size(int rows) const { return int64_t((rows + bh - 1) / bh) * ncb * lanes; }
    std::vector<float> row_mask(int rows) const {
        std::vector<float> m(size_t((rows + bh - 1) / bh) * lanes);
        for (size_t i = 0; i < m.size(); ++i)
            set_mask(m[i], int(i / lanes) * bh + int(i % lanes) / 4 < rows);
        return m;
    }
    // The band's scratch over rmask (row_mask) and face storage ft, fr (resized here).
    softrec::cpu::BandScratch scratch(const std::vector<float>& rmask, int F,
                                      std::vector<float>& ft, std::vector<int32_t>& fr) const {
        softrec::cpu::BandScratch sc{};
        const int64_t stride = (F + 7) / 8 * 8;
        ft.resize(size_t(softrec::cpu::FT_COUNT * stride));
        fr.resize(size_t(4) * F);
        sc.faces = {ft.data(), stride, fr.data()};
        sc.bh = bh;
        sc.ncb = ncb;
        sc.px = px.data();
        sc.col_mask = col_mask.data();
        sc.py = py.data();
        sc.row_mask = rmask.data();
        return sc;
    }
};

void forward_band_vec(int level, const softrec::cpu::BandIO& io, const Params<float>& P,
                      const softrec::cpu::BandScratch& sc) {
#ifdef SOFTREC_SIMD_AVX2
    if (level == 2) return softrec::cpu_avx2::forward_band(io, P, sc);
#endif
#ifdef SOFTREC_SIMD_X86
    softrec::cpu_sse2::forward_band(io, P, sc);
#endif
}

void backward_band_vec(int level, const softrec::cpu::BandIO& io, const Params<float>& P,
                       const softrec::cpu::BandScratch& sc, const float* gimg, const float* img,
                       float* gface, float* gtex) {
#ifdef SOFTREC_SIMD_AVX2
    if (level == 2) return softrec::cpu_avx2::backward_band(io, P, sc, gimg, img, gface, gtex);
#endif
#ifdef SOFTREC_SIMD_X86
    softrec::cpu_sse2::backward_band(io, P, sc, gimg, img, gface, gtex);
#endif
}

// Whether the forward keeps D for the backward: silhouettes with product aggregation (the
// training case), where the backward needs D but not 1 - D. Keeping it costs ~14 % in the
// forward and saves ~30 % of the backward (measured on the training workload).
bool keeps_d(const Params<float>& P) {
    return !P.has_color && P.aggr_alpha == softrec::ALPHA_PROD && P.dist_func != softrec::DIST_HARD;
}

// Buffers for D, recycled between calls: fresh pages each cost a fault and a kernel zeroing,
// measured at 10-15 % of a training step (B = 256). Keeps at most kMaxFloats in reserve.
class BufferPool {
  public:
    using Buffer = std::vector<float>;
    Buffer take() {
        std::lock_guard<std::mutex> lock(mutex_);
        if (free_.empty()) return {};
        Buffer b = std::move(free_.back());
        free_.pop_back();
        held_ -= b.capacity();
        return b;
    }
    void give(Buffer&& b) {
        b.clear();
        std::lock_guard<std::mutex> lock(mutex_);
        if (held_ + b.capacity() > kMaxFloats) return;
        held_ += b.capacity();
        free_.push_back(std::move(b));
    }

  private:
    static constexpr size_t kMaxFloats = size_t(1) << 26;  // 256 MB
    std::mutex mutex_;
    std::vector<Buffer> free_;
    size_t held_ = 0;
};

BufferPool& d_pool() {
    static BufferPool* pool = new BufferPool;  // never destroyed: tensors may outlive statics
    return *pool;
}

// The D values of one forward, all (image, band) items packed into one buffer that the
// state tensor views; the buffer goes back to `flat_pool` when the last view is gone. The
// backward finds item k at index[2 + 2k] (offset) with index[3 + 2k] values.
class FlatPool {
  public:
    struct Buffer {
        std::unique_ptr<float[]> data;  // uninitialized: every used float is written
        size_t size = 0;
    };
    Buffer take(size_t n) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            for (auto it = free_.begin(); it != free_.end(); ++it)
                if (it->size >= n) {
                    Buffer b = std::move(*it);
                    free_.erase(it);
                    return b;
                }
        }
        return {std::unique_ptr<float[]>(new float[std::max<size_t>(n, 1)]), n};
    }
    void give(Buffer&& b) {  // keeps the two largest
        std::lock_guard<std::mutex> lock(mutex_);
        if (free_.size() < 2) {
            free_.push_back(std::move(b));
            return;
        }
        auto smallest = std::min_element(free_.begin(), free_.end(), [](const Buffer& x,
                                         const Buffer& y) { return x.size < y.size; });
        if (smallest->size < b.size) *smallest = std::move(b);
    }

  private:
    std::mutex mutex_;
    std::vector<Buffer> free_;
};

FlatPool& flat_pool() {
    static FlatPool* pool = new FlatPool;  // never destroyed: tensors may outlive statics
    return *pool;
}

// Floats reserved for the next forward's packed D: the largest total seen, plus room to
// grow. A forward that needs more packs again into an exact buffer (no data is lost).
std::atomic<size_t> g_flat_hint{0};

// Forward of the vector path (float32), same bands and outputs as the scalar path.
// With for_backward, returns the state the backward replays: an int64 index (band count,
// instruction set, then offset and length of each (image, band) item) and the packed D.
std::vector<at::Tensor> forward_vec(int level, const at::Tensor& fv, const at::Tensor& tex,
                                    const Params<float>& params, at::Tensor& image,
                                    at::Tensor& aux, at::Tensor& winner, bool for_backward) {
    const int64_t B = fv.size(0);
    const int S = params.S;
    const VecLayout lay(S, level);
    const int bands = bands_for(B, S);
    const bool keep = for_backward && keeps_d(params);
    // Item k's D goes to offset sum(len(D_j), j < k), so the layout does not depend on which
    // thread finishes first. An item is placed as soon as all items before it have finished
    // (mostly at once: items are handed out in order) and copied into `flat` while it is
    // still in cache; items past the buffer's end stay in `spill` and are packed after the
    // walk.
    auto flat = std::make_shared<FlatPool::Buffer>();
    std::vector<std::vector<float>> spill;
    std::vector<char> finished;
    std::mutex placing;
    int64_t n_placed = 0;
    size_t total = 0;
    at::Tensor index;
    int64_t* items = nullptr;
    if (keep) {
        *flat = flat_pool().take(g_flat_hint.load());
        spill.resize(B * bands);
        finished.assign(B * bands, 0);
        const int rows = (S + bands - 1) / bands;
        for (int64_t k = 0; k < B * bands; ++k)  // bands past the image are never visited
            finished[k] = int(k % bands) * rows >= S;
        index = at::zeros({2 + 2 * B * bands}, at::kLong);
        items = index.data_ptr<int64_t>();
        items[0] = bands;
        items[1] = level;
        items += 2;
    }
    // Marks item k finished; places every item whose predecessors are all finished and
    // copies those that fit into `flat`.
    auto place = [&](int64_t k) {
        std::vector<int64_t> now;
        {
            std::lock_guard<std::mutex> lock(placing);
            finished[k] = 1;
            for (; n_placed < B * bands && finished[n_placed]; ++n_placed) {
                items[2 * n_placed] = int64_t(total);
                total += size_t(items[2 * n_placed + 1]);
                now.push_back(n_placed);
            }
        }
        for (const int64_t j : now) {
            const size_t at = size_t(items[2 * j]), n = size_t(items[2 * j + 1]);
            if (at + n > flat->size) continue;  // packed after the walk
            if (n) std::memcpy(flat->data.get() + at, spill[j].data(), n * sizeof(float));
            if (spill[j].capacity()) d_pool().give(std::move(spill[j]));
        }
    };
    const float* fvp = fv.data_ptr<float>();
    const float* texp = params.has_color ? tex.data_ptr<float>() : nullptr;
    float* img = image.data_ptr<float>();
    float* auxp = aux.data_ptr<float>();
    int32_t* win = winner.data_ptr<int32_t>();
    const int64_t SS = int64_t(S) * S;
    const int64_t tex_stride = int64_t(params.T_tex) * 3;
    for_each_band(B, S, bands, [&](int64_t b, int band, int r0, int r1) {
        const auto P = params;
        const int64_t n = lay.band_size(r1 - r0);
        const float init1 = P.aggr_alpha == softrec::ALPHA_PROD ? 1.f : 0.f;
        std::vector<float> acc1(n, init1), acc2(n, 0.f);
        std::vector<PixelAccum<float>> cacc(P.has_color ? size_t(r1 - r0) * S : 0);
        for (auto& a : cacc) a.init(P);
        const std::vector<float> rmask = lay.row_mask(r1 - r0);
        std::vector<float> ft;
        std::vector<int32_t> frect;
        auto sc = lay.scratch(rmask, P.F, ft, frect);
        sc.acc1 = acc1.data();
        sc.acc2 = acc2.data();
        sc.cacc = cacc.data();
        std::vector<float> d;
        if (keep) {
            d = d_pool().take();
            d.reserve(size_t(P.F) * 64);
            sc.d_out = &d;
        }
        const softrec::cpu::BandIO io{fvp + b * P.F * 9,
                                      texp ? texp + b * P.F * tex_stride : nullptr, nullptr,
                                      nullptr, r0, r1};
        forward_band_vec(level, io, P, sc);
        if (keep) {
            const int64_t k = b * bands + band;
            items[2 * k + 1] = int64_t(d.size());
            spill[k] = std::move(d);
            place(k);
        }
        PixelAccum<float> a;
        a.init(P);
        for (int r = r0; r < r1; ++r)
            for (int c = 0; c < S; ++c) {
                const int64_t i = sc.at(r - r0, c), pix = int64_t(r) * S + c;
                if (P.has_color) a = cacc[size_t(r - r0) * S + c];
                if (P.aggr_alpha == softrec::ALPHA_PROD) {
                    a.prod_nz = acc1[i];
                    a.n_zero = acc2[i];
                } else if (P.aggr_alpha == softrec::ALPHA_SUM) {
                    a.alpha_sum = acc1[i];
                } else {
                    a.alpha_hard = acc1[i];
                }
                float out[4];
                a.finish(P, out, auxp + (b * SS + pix) * softrec::kAuxSize, win[b * SS + pix]);
                for (int ch = 0; ch < 4; ++ch) img[(b * 4 + ch) * SS + pix] = out[ch];
            }
    });
    if (!keep) return {};
    if (total > flat->size) {  // some items did not fit: pack all into an exact buffer
        auto exact = std::make_shared<FlatPool::Buffer>(flat_pool().take(total));
        for (int64_t k = 0; k < B * bands; ++k) {
            const size_t at = size_t(items[2 * k]), n = size_t(items[2 * k + 1]);
            const float* src = at + n > flat->size ? spill[k].data() : flat->data.get() + at;
            if (n) std::memcpy(exact->data.get() + at, src, n * sizeof(float));
            if (at + n > flat->size) d_pool().give(std::move(spill[k]));
        }
        flat_pool().give(std::move(*flat));
        flat = exact;
    }
    size_t hint = g_flat_hint.load();
    const size_t want = total + total / 8;
    while (hint < want && !g_flat_hint.compare_exchange_weak(hint, want)) {
    }
    auto data = at::from_blob(flat->data.get(), {int64_t(total)},
                              [flat](void*) { flat_pool().give(std::move(*flat)); },
                              at::TensorOptions().dtype(at::kFloat));
    return {index, data};
}

// Backward of the vector path (float32): fills the per-band gradient slices.
void backward_vec(int level, const at::Tensor& fv, const at::Tensor& tex,
                  const Params<float>& params, const at::Tensor& grad_image,
                  const at::Tensor& image, const at::Tensor& aux, const at::Tensor& winner,
                  int bands, const std::vector<at::Tensor>& state, at::Tensor& gbuf,
                  at::Tensor& tbuf) {
    // the forward's D is replayed where it was kept with the same blocks, in the same order
    const bool replay = keeps_d(params) && state.size() == 2 &&
                        state[0].numel() == 2 + 2 * fv.size(0) * bands &&
                        state[0].data_ptr<int64_t>()[1] == level;
    const int64_t* items = replay ? state[0].data_ptr<int64_t>() + 2 : nullptr;
    const float* dpacked = replay ? state[1].data_ptr<float>() : nullptr;
    const int64_t B = fv.size(0);
    const int S = params.S;
    const VecLayout lay(S, level);
    const float* fvp = fv.data_ptr<float>();
    const float* texp = params.has_color ? tex.data_ptr<float>() : nullptr;
    const float* gimg = grad_image.data_ptr<float>();
    const float* img = image.data_ptr<float>();
    const float* auxp = aux.data_ptr<float>();
    const int32_t* win = winner.data_ptr<int32_t>();
    float* gb = gbuf.data_ptr<float>();
    float* tb = params.has_color ? tbuf.data_ptr<float>() : nullptr;
    const int64_t SS = int64_t(S) * S;
    const int64_t tex_stride = int64_t(params.T_tex) * 3;
    for_each_band(B, S, bands, [&](int64_t b, int band, int r0, int r1) {
        const auto P = params;
        const int64_t n = lay.band_size(r1 - r0);
        std::vector<float> gA(n, 0.f), pz(n, 0.f), nz(n, 0.f), active(n, 0.f);
        const std::vector<float> rmask = lay.row_mask(r1 - r0);
        std::vector<float> ft;
        std::vector<int32_t> frect;
        auto sc = lay.scratch(rmask, P.F, ft, frect);
        bool any = false;
        for (int r = r0; r < r1; ++r)
            for (int c = 0; c < S; ++c) {
                const int64_t i = sc.at(r - r0, c), pix = int64_t(r) * S + c;
                float g[4];
                for (int ch = 0; ch < 4; ++ch) g[ch] = gimg[(b * 4 + ch) * SS + pix];
                if (!softrec::pixel_has_grad(P, g)) continue;
                any = true;
                VecLayout::set_mask(active[i], true);
                gA[i] = g[3];
                pz[i] = auxp[(b * SS + pix) * softrec::kAuxSize + softrec::AUX_PROD_NONZERO];
                nz[i] = auxp[(b * SS + pix) * softrec::kAuxSize + softrec::AUX_N_ZERO];
            }
        if (!any) return;
        sc.acc1 = gA.data();
        sc.acc2 = pz.data();
        sc.acc3 = nz.data();
        sc.active = active.data();
        if (replay) sc.d_in = dpacked + items[2 * (b * bands + band)];
        const softrec::cpu::BandIO io{fvp + b * P.F * 9,
                                      texp ? texp + b * P.F * tex_stride : nullptr,
                                      auxp + b * SS * softrec::kAuxSize, win + b * SS, r0, r1};
        backward_band_vec(level, io, P, sc, gimg + b * 4 * SS, img + b * 4 * SS,
                          gb + (b * bands + band) * P.F * 9,
                          tb ? tb + (b * bands + band) * P.F * tex_stride : nullptr);
    });
}

// The vector path where the CPU has one (float32 only); false: run the scalar path.
bool try_forward_vec(const at::Tensor& fv, const at::Tensor& tex, const Params<float>& P,
                     at::Tensor& image, at::Tensor& aux, at::Tensor& winner, bool for_backward,
                     std::vector<at::Tensor>& state) {
    const int level = simd_level();
    if (level) state = forward_vec(level, fv, tex, P, image, aux, winner, for_backward);
    return level != 0;
}
bool try_forward_vec(const at::Tensor&, const at::Tensor&, const Params<double>&, at::Tensor&,
                     at::Tensor&, at::Tensor&, bool, std::vector<at::Tensor>&) {
    return false;
}
bool try_backward_vec(const at::Tensor& fv, const at::Tensor& tex, const Params<float>& P,
                      const at::Tensor& grad_image, const at::Tensor& image, const at::Tensor& aux,
                      const at::Tensor& winner, int bands, const std::vector<at::Tensor>& state,
                      at::Tensor& gbuf, at::Tensor& tbuf) {
    const int level = simd_level();
    if (level)
        backward_vec(level, fv, tex, P, grad_image, image, aux, winner, bands, state, gbuf, tbuf);
    return level != 0;
}
bool try_backward_vec(const at::Tensor&, const at::Tensor&, const Params<double>&,
                      const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
                      int, const std::vector<at::Tensor>&, at::Tensor&, at::Tensor&) {
    return false;
}

std::vector<at::Tensor> forward(at::Tensor fv, at::Tensor tex,
                                const softrec::RasterSettings& settings) {
    softrec::check_inputs(fv, tex, /*cuda=*/false);
    const int64_t B = fv.size(0);
    const int S = int(settings.image_size);
    auto image = at::empty({B, 4, S, S}, fv.options());
    auto aux = at::empty({B, S, S, softrec::kAuxSize}, fv.options());
    auto winner = at::empty({B, S, S}, fv.options().dtype(at::kInt));
    std::vector<at::Tensor> state;
    AT_DISPATCH_FLOATING_TYPES(fv.scalar_type(), "softrec_forward_cpu", [&] {
        const auto params = softrec::make_params<scalar_t>(fv, tex, settings);
        if (try_forward_vec(fv, tex, params, image, aux, winner,
                            settings.for_backward, state))
            return;
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
    std::vector<at::Tensor> out{image, aux, winner};
    out.insert(out.end(), state.begin(), state.end());
    return out;
}

std::vector<at::Tensor> backward(at::Tensor grad_image, at::Tensor fv, at::Tensor tex,
                                 at::Tensor image, at::Tensor aux, at::Tensor winner,
                                 std::vector<at::Tensor> state,
                                 const softrec::RasterSettings& settings) {
    softrec::check_inputs(fv, tex, /*cuda=*/false);
    TORCH_CHECK(grad_image.sizes() == image.sizes(), "grad_image has the wrong shape");
    grad_image = grad_image.contiguous().to(fv.scalar_type());
    const int64_t B = fv.size(0);
    const int S = int(settings.image_size);
    // the forward's band count where it kept state (the thread count may have changed)
    TORCH_CHECK(state.empty() || (state.size() == 2 && state[0].scalar_type() == at::kLong &&
                                  state[0].numel() >= 2 && state[1].scalar_type() == at::kFloat),
                "CPU backward expects the forward's state (index, D) or none");
    const int bands = state.empty() ? bands_for(B, S) : int(state[0].data_ptr<int64_t>()[0]);
    at::Tensor grad_fv, grad_tex;
    AT_DISPATCH_FLOATING_TYPES(fv.scalar_type(), "softrec_backward_cpu", [&] {
        const auto params = softrec::make_params<scalar_t>(fv, tex, settings);
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
        if (!try_backward_vec(fv, tex, params, grad_image, image, aux, winner, bands, state,
                              gbuf, tbuf)) {
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
                            f, tj, j, fr, px, py, P, g, out,
                            auxp + (b * SS + pix) * softrec::kAuxSize, win[b * SS + pix], gf,
                            [&](int texel, int ch, scalar_t v) { tg[texel * 3 + ch] += v; });
                    });
                    for (int k = 0; k < 9; ++k) gslice[j * 9 + k] += gf[k];
                }
            });
        }
        grad_fv = bands == 1 ? gbuf.reshape_as(fv) : gbuf.sum(1).reshape_as(fv);
        if (P.has_color) grad_tex = bands == 1 ? tbuf.reshape_as(tex) : tbuf.sum(1).reshape_as(tex);
        else grad_tex = at::zeros_like(tex);
    });
    return {grad_fv, grad_tex};
}

// The vector path's exp at instruction set `level` (1 or 2; the error-bound test).
at::Tensor vector_exp(at::Tensor x, int64_t level) {
    TORCH_CHECK(x.scalar_type() == at::kFloat, "vector_exp takes float32");
    TORCH_CHECK(level >= 1 && level <= detected_simd_level(), "instruction set not available");
    x = x.contiguous();
    auto y = at::empty_like(x);
#ifdef SOFTREC_SIMD_AVX2
    if (level == 2) {
        softrec::cpu_avx2::exp_array(x.data_ptr<float>(), y.data_ptr<float>(), x.numel());
        return y;
    }
#endif
#ifdef SOFTREC_SIMD_X86
    softrec::cpu_sse2::exp_array(x.data_ptr<float>(), y.data_ptr<float>(), x.numel());
#endif
    return y;
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
    softrec::bind_raster_settings(m);
    m.def("forward", &forward, "soft rasterizer forward (CPU)");
    m.def("backward", &backward, "soft rasterizer backward (CPU)");
    m.def("simd_level", &simd_level,
          "vector instruction set of the float32 path: 0 scalar, 1 SSE2, 2 AVX2 + FMA");
    m.def("set_max_simd_level", [](int level) { g_max_simd_level = level; },
          "cap the float32 path's instruction set (to compare the paths)");
    m.def("vector_exp", &vector_exp, "exp of a float32 tensor through the vector path's exp");
}
