// Per-pixel / per-face math of the soft rasterizer, written once for every backend.
//
// Everything here is a plain inline function (`__host__ __device__` under nvcc) with no
// framework types, so the C++ CPU kernel and the CUDA kernel run literally the same code.
// The semantics are defined by softrec/render/reference.py; the comments below say which
// expression of the reference each piece reproduces.
#pragma once

#include <cmath>
#include <cstdint>

#ifdef __CUDACC__
#define SR_HD __host__ __device__ __forceinline__
#else
#define SR_HD inline
#endif

namespace softrec {

// Enumerations follow the tuples in softrec/render/options.py.
enum DistFunc { DIST_HARD = 0, DIST_EUCLIDEAN = 1, DIST_BARYCENTRIC = 2 };
enum AggrAlpha { ALPHA_HARD = 0, ALPHA_SUM = 1, ALPHA_PROD = 2 };
enum AggrRgb { RGB_HARD = 0, RGB_SOFTMAX = 1 };
enum TextureType { TEX_SURFACE = 0, TEX_VERTEX = 1 };

// Same constants as reference.py.
constexpr double kDegenerateArea = 1e-10;
constexpr double kClipSumMin = 1e-5;
constexpr double kMinEdgeLength2 = 1e-30;

template <typename T>
struct Params {
    int S;             // image side
    int F;             // faces per mesh
    int T_tex;         // texels per face (R*R or 3); 0 when rendering silhouettes only
    int R;             // atlas resolution (surface textures)
    int dist_func, aggr_alpha, aggr_rgb, texture_type;
    bool double_side, has_color;
    T near, far, eps, sigma, gamma;
    T threshold;       // sigma * ln(1/dist_eps - 1)
    T reach;           // sqrt(threshold): bounding-box growth
    T bg[3];
    int tile, tiles_x, n_tiles;
};

template <typename T> SR_HD T sr_min(T a, T b) { return a < b ? a : b; }
template <typename T> SR_HD T sr_max(T a, T b) { return a > b ? a : b; }
template <typename T> SR_HD T sr_abs(T a) { return a < 0 ? -a : a; }
template <typename T> SR_HD T sr_clamp(T a, T lo, T hi) { return a < lo ? lo : (a > hi ? hi : a); }
// Single-precision math stays single precision (an unqualified exp(float) may promote).
SR_HD float sr_exp(float x) { return expf(x); }
SR_HD double sr_exp(double x) { return exp(x); }
SR_HD float sr_sqrt(float x) { return sqrtf(x); }
SR_HD double sr_sqrt(double x) { return sqrt(x); }
SR_HD float sr_floor(float x) { return floorf(x); }
SR_HD double sr_floor(double x) { return floor(x); }

// NDC pixel centres (row 0 at the top, +y up).
template <typename T> SR_HD T pixel_x(int c, int S) { return T(2 * c + 1 - S) / T(S); }
template <typename T> SR_HD T pixel_y(int r, int S) { return T(S - 1 - 2 * r) / T(S); }

// A face's doubled signed area (= the barycentric denominator); < 0 is front-facing.
template <typename T>
SR_HD T face_area2(const T* f) {
    return (f[3] - f[0]) * (f[7] - f[1]) - (f[4] - f[1]) * (f[6] - f[0]);
}

template <typename T>
SR_HD bool face_is_valid(const T* f) {
    return sr_abs(face_area2(f)) > T(kDegenerateArea) && f[2] > 0 && f[5] > 0 && f[8] > 0;
}

// Range of pixel indices [lo, hi] whose centres may lie inside [vmin, vmax] (NDC), with a
// small slack so rounding never drops a pixel (the exact per-pixel test runs later).
template <typename T>
SR_HD void pixel_range(T vmin, T vmax, int S, bool is_row, int& lo, int& hi) {
    const double slack = 1e-3;
    double a, b;
    if (!is_row) {  // column c has x = (2c + 1 - S)/S
        a = (double(vmin) * S + S - 1) / 2.0;
        b = (double(vmax) * S + S - 1) / 2.0;
    } else {        // row r has y = (S - 1 - 2r)/S
        a = (double(S) - 1 - double(vmax) * S) / 2.0;
        b = (double(S) - 1 - double(vmin) * S) / 2.0;
    }
    a = sr_clamp(a - slack, -1.0, double(S));
    b = sr_clamp(b + slack, -1.0, double(S));
    lo = int(ceil(a));
    hi = int(floor(b));
    lo = lo < 0 ? 0 : lo;
    hi = hi > S - 1 ? S - 1 : hi;
}

// Pixels whose centres may lie in a face's bounding box grown by `reach`: columns
// [c0, c1], rows [r0, r1]. False if none, or if the face is invalid.
template <typename T>
SR_HD bool face_pixel_rect(const T* f, const Params<T>& P, int& c0, int& c1, int& r0, int& r1) {
    if (!face_is_valid(f)) return false;
    const T xmin = sr_min(sr_min(f[0], f[3]), f[6]) - P.reach;
    const T xmax = sr_max(sr_max(f[0], f[3]), f[6]) + P.reach;
    const T ymin = sr_min(sr_min(f[1], f[4]), f[7]) - P.reach;
    const T ymax = sr_max(sr_max(f[1], f[4]), f[7]) + P.reach;
    pixel_range<T>(xmin, xmax, P.S, false, c0, c1);
    pixel_range<T>(ymin, ymax, P.S, true, r0, r1);
    return c0 <= c1 && r0 <= r1;
}

// Screen tiles (P.tile pixels square) touched by that rectangle.
template <typename T>
SR_HD bool face_tile_range(const T* f, const Params<T>& P, int& tx0, int& tx1, int& ty0,
                           int& ty1) {
    int c0, c1, r0, r1;
    if (!face_pixel_rect(f, P, c0, c1, r0, r1)) return false;
    tx0 = c0 / P.tile;
    tx1 = c1 / P.tile;
    ty0 = r0 / P.tile;
    ty1 = r1 / P.tile;
    return true;
}

// Everything the forward and backward passes need about one pixel-face pair.
template <typename T>
struct Fragment {
    T w[3];        // barycentric coordinates
    T denom;       // doubled signed area
    T D, omD;      // probability and 1 - D (computed as sigmoid(-x) for accuracy)
    bool inside;   // strictly inside
    int edge;      // euclidean: closest edge (k, k+1); barycentric: argmin w
    T t, rx, ry;   // euclidean: closest point parameter and residual
    T wmin;        // barycentric: smallest coordinate
};

// Per-face quantities reused by every pixel the face reaches.
template <typename T>
struct FaceSetup {
    T x[3], y[3];
    T xmin, xmax, ymin, ymax;  // bounding box grown by reach
    T denom, inv_denom;
    T ex[3], ey[3];            // edge k: from corner k to corner k+1
    T inv_len2[3], inv_len[3];
};

// False for faces that never contribute (degenerate or with a corner at depth <= 0).
template <typename T>
SR_HD bool face_setup(const T* f, const Params<T>& P, FaceSetup<T>& fs) {
    if (!face_is_valid(f)) return false;
    for (int k = 0; k < 3; ++k) {
        fs.x[k] = f[3 * k];
        fs.y[k] = f[3 * k + 1];
    }
    fs.xmin = sr_min(sr_min(fs.x[0], fs.x[1]), fs.x[2]) - P.reach;
    fs.xmax = sr_max(sr_max(fs.x[0], fs.x[1]), fs.x[2]) + P.reach;
    fs.ymin = sr_min(sr_min(fs.y[0], fs.y[1]), fs.y[2]) - P.reach;
    fs.ymax = sr_max(sr_max(fs.y[0], fs.y[1]), fs.y[2]) + P.reach;
    fs.denom = face_area2(f);
    fs.inv_denom = T(1) / fs.denom;
    for (int k = 0; k < 3; ++k) {
        const int k1 = (k + 1) % 3;
        fs.ex[k] = fs.x[k1] - fs.x[k];
        fs.ey[k] = fs.y[k1] - fs.y[k];
        const T len2 = sr_max(fs.ex[k] * fs.ex[k] + fs.ey[k] * fs.ey[k], T(kMinEdgeLength2));
        fs.inv_len2[k] = T(1) / len2;
        fs.inv_len[k] = T(1) / sr_sqrt(len2);
    }
    return true;
}

// Evaluate pair (pixel, face); false when culled. Mirrors `_rasterize_chunk` up to `prob`.
template <typename T>
SR_HD bool eval_fragment(const FaceSetup<T>& fs, T px, T py, const Params<T>& P,
                         Fragment<T>& fr) {
    if (px < fs.xmin || px > fs.xmax || py < fs.ymin || py > fs.ymax) return false;
    fr.denom = fs.denom;
    // w_k = E(v_{k+1}, v_{k+2}; p) / denom; E's sign says on which side of edge k+1 p is.
    for (int k = 0; k < 3; ++k) {
        const int a = (k + 1) % 3, b = (k + 2) % 3;
        fr.w[k] = ((fs.x[a] - px) * (fs.y[b] - py) - (fs.y[a] - py) * (fs.x[b] - px)) *
                  fs.inv_denom;
    }
    fr.inside = fr.w[0] > 0 && fr.w[1] > 0 && fr.w[2] > 0;
    T x;
    if (P.dist_func == DIST_HARD) {
        if (!fr.inside) return false;
        fr.D = 1;
        fr.omD = 0;
        return true;
    } else if (P.dist_func == DIST_EUCLIDEAN) {
        T d2[3], ts[3], rxs[3], rys[3];
        for (int k = 0; k < 3; ++k) {  // squared distance to each edge segment
            const T dx = px - fs.x[k], dy = py - fs.y[k];
            ts[k] = sr_clamp((dx * fs.ex[k] + dy * fs.ey[k]) * fs.inv_len2[k], T(0), T(1));
            rxs[k] = dx - ts[k] * fs.ex[k];
            rys[k] = dy - ts[k] * fs.ey[k];
            d2[k] = rxs[k] * rxs[k] + rys[k] * rys[k];
        }
        int k = d2[1] < d2[0] ? 1 : 0;
        k = d2[2] < d2[k] ? 2 : k;
        const T best = d2[k];
        fr.edge = k;
        fr.t = ts[k];
        fr.rx = rxs[k];
        fr.ry = rys[k];
        if (!fr.inside && best >= P.threshold) return false;
        x = (fr.inside ? best : -best) / P.sigma;
    } else {
        int k = 0;
        if (fr.w[1] < fr.w[k]) k = 1;
        if (fr.w[2] < fr.w[k]) k = 2;
        fr.edge = k;
        fr.wmin = fr.w[k];
        const T dis = fr.wmin * sr_abs(fr.wmin);
        if (-dis >= P.threshold) return false;
        x = dis / P.sigma;
    }
    // One exponential for both D = sigmoid(x) and 1 - D = sigmoid(-x) (accurate near 1).
    const T e = sr_exp(-x);
    fr.D = T(1) / (T(1) + e);
    fr.omD = e * fr.D;
    return true;
}

// Columns [c0, c1] of row `py` that can be within reach of the face: the row clipped by
// the three edge half-planes pushed out by how far outside an edge a pair can survive (a
// superset of the region kept; the exact test in eval_fragment decides). Narrows the
// bounding box for slanted faces.
template <typename T>
SR_HD void row_span(const FaceSetup<T>& fs, T py, const Params<T>& P, int& c0, int& c1) {
    const double sgn = fs.denom > 0 ? 1.0 : -1.0;
    double lo = -1e30, hi = 1e30;
    const double reach = double(P.reach);
    for (int k = 0; k < 3; ++k) {
        // Euclidean: pairs survive up to `reach` outside an edge. Barycentric: up to where
        // the opposite corner's coordinate reaches -reach, i.e. reach x that corner's height
        // over edge k (|denom| / |edge k|), which exceeds `reach` on faces taller than 1.
        const double allowed = P.dist_func == DIST_BARYCENTRIC
                                   ? reach * sr_abs(double(fs.denom)) * fs.inv_len[k]
                                   : reach;
        const double lim = allowed * 1.0001 + 1e-6;  // margin: never drop a pixel
        // outward unit normal of edge k and the constraint n.(p - v_k) <= lim
        const double nx = sgn * fs.ey[k] * fs.inv_len[k], ny = -sgn * fs.ex[k] * fs.inv_len[k];
        const double rhs = lim + nx * fs.x[k] + ny * (double(fs.y[k]) - py);
        if (nx > 1e-12) hi = sr_min(hi, rhs / nx);
        else if (nx < -1e-12) lo = sr_max(lo, rhs / nx);
        else if (rhs < 0) { c0 = 1; c1 = 0; return; }
    }
    int a, b;
    pixel_range<double>(lo, hi, P.S, false, a, b);
    c0 = a > c0 ? a : c0;
    c1 = b < c1 ? b : c1;
}

// Clipped, renormalized barycentrics (reference: `wc`).
template <typename T>
SR_HD T clip_barycentric(const T w[3], T wc[3]) {
    T s = 0;
    for (int k = 0; k < 3; ++k) {
        wc[k] = sr_clamp(w[k], T(0), T(1));
        s += wc[k];
    }
    const T sc = sr_max(s, T(kClipSumMin));
    for (int k = 0; k < 3; ++k) wc[k] /= sc;
    return s;
}

// Perspective-correct depth at clipped barycentrics.
template <typename T>
SR_HD T interp_depth(const T* f, const T wc[3]) {
    return T(1) / (wc[0] / f[2] + wc[1] / f[5] + wc[2] / f[8]);
}

// Texel index for surface atlases (nearest texel in the face's R x R triangle grid).
template <typename T>
SR_HD int atlas_index(const T wc[3], int R) {
    int ix = int(sr_floor(wc[0] * R));
    int iy = int(sr_floor(wc[1] * R));
    ix = ix > R - 1 ? R - 1 : ix;
    iy = iy > R - 1 ? R - 1 : iy;
    // 1 - wc2 (= wc0 + wc1) is exact on the clipped edge wc2 = 0, where the rounding of
    // wc0 + wc1 would otherwise pick the lower or upper texel at random.
    const bool upper = (T(1) - wc[2]) * R - ix - iy > 1;
    return upper ? (R - 1 - iy) * R + (R - 1 - ix) : iy * R + ix;
}

template <typename T>
SR_HD void sample_color(const T* tex, const T wc[3], const Params<T>& P, T c[3]) {
    if (P.texture_type == TEX_VERTEX) {
        for (int ch = 0; ch < 3; ++ch)
            c[ch] = wc[0] * tex[ch] + wc[1] * tex[3 + ch] + wc[2] * tex[6 + ch];
    } else {
        const T* texel = tex + 3 * atlas_index(wc, P.R);
        for (int ch = 0; ch < 3; ++ch) c[ch] = texel[ch];
    }
}

// Whether the pair contributes color and at which depth (reference: `color_ok`, `zp`).
template <typename T>
SR_HD bool color_eligible(const T* f, const Fragment<T>& fr, const Params<T>& P, T wc[3],
                          T& zp) {
    clip_barycentric(fr.w, wc);
    zp = interp_depth(f, wc);
    if (!(zp >= P.near && zp <= P.far)) return false;
    return P.double_side || fr.denom < 0;
}

template <typename T>
SR_HD bool closed_inside(const Fragment<T>& fr) {
    return fr.w[0] >= 0 && fr.w[1] >= 0 && fr.w[2] >= 0 && fr.w[0] <= 1 && fr.w[1] <= 1 &&
           fr.w[2] <= 1;
}

// Per-pixel state carried from the forward to the backward pass.
enum AuxSlot { AUX_SOFTMAX_SUM = 0, AUX_SOFTMAX_MAX = 1, AUX_PROD_NONZERO = 2, AUX_N_ZERO = 3 };
constexpr int kAuxSize = 4;

// Running aggregation of one pixel's fragments. Faces may be added in any order, but
// adding them in ascending face index reproduces the reference's rounding best.
template <typename T>
struct PixelAccum {
    T prod_nz, n_zero, alpha_sum, alpha_hard;
    T sm_max, sm_sum, num[3];
    T zmin, hard_rgb[3];
    int32_t winner;

    SR_HD void init(const Params<T>& P) {
        prod_nz = 1;
        n_zero = alpha_sum = alpha_hard = 0;
        sm_max = P.eps;  // the background enters with weight exp((eps - max)/gamma) = 1
        sm_sum = 1;
        zmin = 0;
        winner = -1;
        for (int ch = 0; ch < 3; ++ch) num[ch] = hard_rgb[ch] = P.bg[ch];
    }

    // f: the face's 9 screen-space values; tj: its T*3 texels; fr: eval_fragment's result.
    SR_HD void add(const T* f, const T* tj, int32_t j, const Fragment<T>& fr,
                   const Params<T>& P) {
        add_alpha(fr, P);
        if (P.has_color) add_color(f, tj, j, fr, P);
    }

    SR_HD void add_alpha(const Fragment<T>& fr, const Params<T>& P) {
        if (P.aggr_alpha == ALPHA_PROD) {
            const bool zero = fr.omD == 0;  // kept apart so the product stays informative
            n_zero += zero ? T(1) : T(0);
            prod_nz *= zero ? T(1) : fr.omD;
        } else if (P.aggr_alpha == ALPHA_SUM) {
            alpha_sum += fr.D;
        } else if (fr.D > T(0.5)) {
            alpha_hard = 1;
        }
    }

    // Only for P.has_color.
    SR_HD void add_color(const T* f, const T* tj, int32_t j, const Fragment<T>& fr,
                         const Params<T>& P) {
        T wc[3], zp;
        if (!color_eligible(f, fr, P, wc, zp)) return;
        if (P.aggr_rgb == RGB_SOFTMAX) {
            const T zn = (P.far - zp) / (P.far - P.near);
            if (zn > sm_max) {  // rescale what was accumulated to the new running maximum
                const T scale = sr_exp((sm_max - zn) / P.gamma);
                sm_sum *= scale;
                for (int ch = 0; ch < 3; ++ch) num[ch] *= scale;
                sm_max = zn;
            }
            const T we = fr.D * sr_exp((zn - sm_max) / P.gamma);
            T c[3];
            sample_color(tj, wc, P, c);
            sm_sum += we;
            for (int ch = 0; ch < 3; ++ch) num[ch] += we * c[ch];
        } else if (closed_inside(fr) && (winner < 0 || zp < zmin || (zp == zmin && j < winner))) {
            // ties go to the lower face index whatever the visiting order
            zmin = zp;
            winner = j;
            sample_color(tj, wc, P, hard_rgb);
        }
    }

    SR_HD void finish(const Params<T>& P, T out[4], T aux[kAuxSize], int32_t& win) const {
        if (P.aggr_alpha == ALPHA_PROD) out[3] = n_zero > 0 ? T(1) : T(1) - prod_nz;
        else if (P.aggr_alpha == ALPHA_SUM) out[3] = alpha_sum / T(P.F);
        else out[3] = alpha_hard;
        for (int ch = 0; ch < 3; ++ch) {
            if (!P.has_color) out[ch] = P.bg[ch];
            else if (P.aggr_rgb == RGB_SOFTMAX) out[ch] = num[ch] / sm_sum;
            else out[ch] = hard_rgb[ch];
        }
        aux[AUX_SOFTMAX_SUM] = sm_sum;
        aux[AUX_SOFTMAX_MAX] = sm_max;
        aux[AUX_PROD_NONZERO] = prod_nz;
        aux[AUX_N_ZERO] = n_zero;
        win = winner;
    }
};

// Forward for one pixel over a list of candidate faces (the GPU's per-pixel loop); a null
// list stands for faces 0 .. n-1.
template <typename T>
SR_HD void pixel_forward(const T* faces, const T* tex, const int32_t* list, int64_t n, T px,
                         T py, const Params<T>& P, T out[4], T aux[kAuxSize], int32_t& winner) {
    PixelAccum<T> acc;
    acc.init(P);
    for (int64_t i = 0; i < n; ++i) {
        const int32_t j = list ? list[i] : int32_t(i);
        FaceSetup<T> fs;
        Fragment<T> fr;
        if (!face_setup(faces + 9 * j, P, fs) || !eval_fragment(fs, px, py, P, fr)) continue;
        acc.add(faces + 9 * j, P.has_color ? tex + 3 * P.T_tex * j : tex, j, fr, P);
    }
    acc.finish(P, out, aux, winner);
}

// d(edge function E(a, b; p))/d(a, b) scaled by g, accumulated into ga, gb (x, y each).
// E = (ax - px)(by - py) - (ay - py)(bx - px).
template <typename T>
SR_HD void edge_fn_backward(T g, T px, T py, const T* a, const T* b, T* ga, T* gb) {
    ga[0] += g * (b[1] - py);
    ga[1] -= g * (b[0] - px);
    gb[0] -= g * (a[1] - py);
    gb[1] += g * (a[0] - px);
}

// Gradient of the barycentric coordinates (gw) → gradient of the corners' x, y.
// w_i = N_i / denom with N_0 = E(v1, v2), N_1 = E(v2, v0), N_2 = E(v0, v1) and
// denom = N_0 + N_1 + N_2 (for any p), so every N_i receives gw_i/denom + g_denom.
template <typename T>
SR_HD void barycentric_backward(const T* f, const Fragment<T>& fr, const T gw[3], T px, T py,
                                T gf[9]) {
    T g_denom = 0;
    for (int k = 0; k < 3; ++k) g_denom -= gw[k] * fr.w[k];
    g_denom /= fr.denom;
    for (int k = 0; k < 3; ++k) {
        const int a = (k + 1) % 3, b = (k + 2) % 3;
        const T gN = gw[k] / fr.denom + g_denom;
        edge_fn_backward(gN, px, py, f + 3 * a, f + 3 * b, gf + 3 * a, gf + 3 * b);
    }
}

// Gradient of the clipped barycentrics → raw barycentrics (clamp + renormalization).
template <typename T>
SR_HD void clip_backward(const T w[3], const T wc[3], const T gwc[3], T gw[3]) {
    T s = 0;
    for (int k = 0; k < 3; ++k) s += sr_clamp(w[k], T(0), T(1));
    T gc[3];
    if (s >= T(kClipSumMin)) {
        T dot = 0;
        for (int k = 0; k < 3; ++k) dot += gwc[k] * wc[k];
        for (int k = 0; k < 3; ++k) gc[k] = (gwc[k] - dot) / s;
    } else {
        for (int k = 0; k < 3; ++k) gc[k] = gwc[k] / T(kClipSumMin);
    }
    for (int k = 0; k < 3; ++k) gw[k] += (w[k] >= 0 && w[k] <= 1) ? gc[k] : T(0);
}

// Whether a pixel's upstream gradient can produce any face gradient at all.
template <typename T>
SR_HD bool pixel_has_grad(const Params<T>& P, const T grad[4]) {
    const bool color = P.has_color && (grad[0] != 0 || grad[1] != 0 || grad[2] != 0);
    const bool alpha = grad[3] != 0 && P.aggr_alpha != ALPHA_HARD;
    return color || alpha;
}

// Backward of one pixel-face pair. `grad` = dL/d(out) of the pixel; `out`, `aux`, `winner`
// are the forward's results there. Adds the corner gradients into gf[9] and calls
// add_texel(texel, ch, value) for texture gradients.
template <typename T, typename AddTexel>
SR_HD void pair_backward(const T* f, const T* tj, int32_t j, const Fragment<T>& fr, T px, T py,
                         const Params<T>& P, const T grad[4], const T out[4],
                         const T aux[kAuxSize], int32_t winner, T gf[9], AddTexel add_texel) {
    const T gA = grad[3];
    T gD = 0;
    if (gA != 0) {
        if (P.aggr_alpha == ALPHA_PROD) {
            const T nz = aux[AUX_N_ZERO];
            if (nz == 0) gD += gA * aux[AUX_PROD_NONZERO] / fr.omD;
            else if (nz == 1 && fr.omD == 0) gD += gA * aux[AUX_PROD_NONZERO];
        } else if (P.aggr_alpha == ALPHA_SUM) {
            gD += gA / T(P.F);
        }
    }
    T gw[3] = {0, 0, 0};
    if (P.has_color && (grad[0] != 0 || grad[1] != 0 || grad[2] != 0)) {
        T wc[3], zp;
        const bool ok = color_eligible(f, fr, P, wc, zp);
        if (ok && (P.aggr_rgb == RGB_SOFTMAX || j == winner)) {
            T c[3];
            sample_color(tj, wc, P, c);
            T gC[3];
            T gwc[3] = {0, 0, 0};
            if (P.aggr_rgb == RGB_SOFTMAX) {
                const T zn = (P.far - zp) / (P.far - P.near);
                const T e_over_s =
                    sr_exp((zn - aux[AUX_SOFTMAX_MAX]) / P.gamma) / aux[AUX_SOFTMAX_SUM];
                const T wj = fr.D * e_over_s;
                T diff = 0;
                for (int ch = 0; ch < 3; ++ch) {
                    diff += grad[ch] * (c[ch] - out[ch]);
                    gC[ch] = grad[ch] * wj;
                }
                gD += e_over_s * diff;
                // zn = (far - zp)/(far - near); zp = 1/Q; Q = sum_k wc_k / z_k.
                const T gzn = wj * diff / P.gamma;
                const T gQ = gzn / (P.far - P.near) * zp * zp;
                for (int k = 0; k < 3; ++k) {
                    const T zk = f[3 * k + 2];
                    gf[3 * k + 2] -= gQ * wc[k] / (zk * zk);
                    gwc[k] += gQ / zk;
                }
            } else {
                for (int ch = 0; ch < 3; ++ch) gC[ch] = grad[ch];
            }
            if (P.texture_type == TEX_VERTEX) {
                for (int k = 0; k < 3; ++k)
                    for (int ch = 0; ch < 3; ++ch) {
                        add_texel(k, ch, wc[k] * gC[ch]);
                        gwc[k] += gC[ch] * tj[3 * k + ch];
                    }
            } else {
                const int idx = atlas_index(wc, P.R);
                for (int ch = 0; ch < 3; ++ch) add_texel(idx, ch, gC[ch]);
            }
            clip_backward(fr.w, wc, gwc, gw);
        }
    }
    if (gD != 0 && P.dist_func != DIST_HARD) {
        const T gx = gD * fr.D * fr.omD / P.sigma;  // d sigmoid(x)/dx, x = (±d²)/sigma
        if (P.dist_func == DIST_EUCLIDEAN) {
            const T gd2 = fr.inside ? gx : -gx;
            const int a = fr.edge, b = (fr.edge + 1) % 3;
            // d(d²)/da = -2 r (1 - t), d(d²)/db = -2 r t
            gf[3 * a + 0] -= 2 * gd2 * fr.rx * (1 - fr.t);
            gf[3 * a + 1] -= 2 * gd2 * fr.ry * (1 - fr.t);
            gf[3 * b + 0] -= 2 * gd2 * fr.rx * fr.t;
            gf[3 * b + 1] -= 2 * gd2 * fr.ry * fr.t;
        } else {
            gw[fr.edge] += gx * 2 * sr_abs(fr.wmin);
        }
    }
    if (gw[0] != 0 || gw[1] != 0 || gw[2] != 0) barycentric_backward(f, fr, gw, px, py, gf);
}

// Backward of one pixel over its candidate list (the GPU's per-pixel loop; a null list
// stands for faces 0 .. n-1). Calls
// add_face(j, gf[9]) and add_texel(j, texel, ch, value) for every contributing pair.
template <typename T, typename AddFace, typename AddTexel>
SR_HD void pixel_backward(const T* faces, const T* tex, const int32_t* list, int64_t n, T px,
                          T py, const Params<T>& P, const T grad[4], const T out[4],
                          const T aux[kAuxSize], int32_t winner, AddFace add_face,
                          AddTexel add_texel) {
    if (!pixel_has_grad(P, grad)) return;
    for (int64_t i = 0; i < n; ++i) {
        const int32_t j = list ? list[i] : int32_t(i);
        const T* f = faces + 9 * j;
        FaceSetup<T> fs;
        Fragment<T> fr;
        if (!face_setup(f, P, fs) || !eval_fragment(fs, px, py, P, fr)) continue;
        T gf[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
        pair_backward(f, P.has_color ? tex + 3 * P.T_tex * j : tex, j, fr, px, py, P, grad, out,
                      aux, winner, gf,
                      [&](int texel, int ch, T v) { add_texel(j, texel, ch, v); });
        add_face(j, gf);
    }
}

}  // namespace softrec
