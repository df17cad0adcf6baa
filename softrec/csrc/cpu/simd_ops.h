// Lane wrappers for the CPU rasterizer's vector path: one struct per instruction set with
// the same static functions, so soft_raster_cpu_simd.inc is written once for every width.
//
// Masks are full-width lane masks (all bits set = true) stored in the float vector type.
// AVX2 code is compiled per function (target attribute / pragma), never for the whole
// file, and is called only after a run-time CPU check: a build cached on one machine stays
// safe on another (e.g. a shared home directory on a heterogeneous cluster), which a
// -march=native build would not be.
#pragma once

#if defined(__x86_64__) || defined(_M_X64)
#define SOFTREC_SIMD_X86 1
#include <immintrin.h>
#endif

#if defined(SOFTREC_SIMD_X86) && (defined(__GNUC__) || defined(__clang__))
#define SOFTREC_SIMD_AVX2 1
#if defined(__clang__)
#define SOFTREC_AVX2_BEGIN \
    _Pragma("clang attribute push(__attribute__((target(\"avx2,fma\"))), apply_to = function)")
#define SOFTREC_AVX2_END _Pragma("clang attribute pop")
#else
#define SOFTREC_AVX2_BEGIN _Pragma("GCC push_options") _Pragma("GCC target(\"avx2,fma\")")
#define SOFTREC_AVX2_END _Pragma("GCC pop_options")
#endif
#endif

#define SR_VI static inline __attribute__((always_inline))
#define SR_VM inline __attribute__((always_inline))  // member functions

namespace softrec {
namespace simd {

#ifdef SOFTREC_SIMD_X86
// SSE2 is part of x86-64 itself: no target attribute, usable on every x86-64 CPU.
struct Sse2 {
    using V = __m128;
    static constexpr int W = 4;
    static constexpr int kRows = 1;  // a vector holds 4 x kRows pixels (4 columns, kRows rows)
    SR_VI V set1(float a) { return _mm_set1_ps(a); }
    SR_VI V rows(const float* p) { return _mm_set1_ps(p[0]); }  // p[i] to the lanes of row i
    SR_VI V zero() { return _mm_setzero_ps(); }
    SR_VI V load(const float* p) { return _mm_loadu_ps(p); }
    SR_VI void store(float* p, V a) { _mm_storeu_ps(p, a); }
    SR_VI V add(V a, V b) { return _mm_add_ps(a, b); }
    SR_VI V sub(V a, V b) { return _mm_sub_ps(a, b); }
    SR_VI V mul(V a, V b) { return _mm_mul_ps(a, b); }
    SR_VI V div(V a, V b) { return _mm_div_ps(a, b); }
    SR_VI V min(V a, V b) { return _mm_min_ps(a, b); }
    SR_VI V max(V a, V b) { return _mm_max_ps(a, b); }
    SR_VI V mul_add(V a, V b, V c) { return _mm_add_ps(_mm_mul_ps(a, b), c); }
    SR_VI V and_(V a, V b) { return _mm_and_ps(a, b); }
    SR_VI V or_(V a, V b) { return _mm_or_ps(a, b); }
    SR_VI V andnot(V a, V b) { return _mm_andnot_ps(a, b); }  // ~a & b
    SR_VI V lt(V a, V b) { return _mm_cmplt_ps(a, b); }
    SR_VI V le(V a, V b) { return _mm_cmple_ps(a, b); }
    SR_VI V gt(V a, V b) { return _mm_cmpgt_ps(a, b); }
    SR_VI V ge(V a, V b) { return _mm_cmpge_ps(a, b); }
    SR_VI V eq(V a, V b) { return _mm_cmpeq_ps(a, b); }
    SR_VI V neq(V a, V b) { return _mm_cmpneq_ps(a, b); }
    SR_VI V select(V m, V a, V b) { return _mm_or_ps(_mm_and_ps(m, a), _mm_andnot_ps(m, b)); }
    SR_VI int bits(V m) { return _mm_movemask_ps(m); }
    // Nearest integer (current rounding mode: to nearest) as float; |a| < 2^31.
    SR_VI V round(V a) { return _mm_cvtepi32_ps(_mm_cvtps_epi32(a)); }
    // 2^n for integral n in [-126, 127].
    SR_VI V pow2(V n) {
        const __m128i e = _mm_add_epi32(_mm_cvttps_epi32(n), _mm_set1_epi32(127));
        return _mm_castsi128_ps(_mm_slli_epi32(e, 23));
    }
    SR_VI float hsum(V a) {  // fixed order: (a0 + a2) + (a1 + a3)
        const V s = _mm_add_ps(a, _mm_movehl_ps(a, a));
        return _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
    }
};
#endif

#ifdef SOFTREC_SIMD_AVX2
SOFTREC_AVX2_BEGIN
struct Avx2 {
    using V = __m256;
    static constexpr int W = 8;
    static constexpr int kRows = 2;
    SR_VI V set1(float a) { return _mm256_set1_ps(a); }
    SR_VI V rows(const float* p) {
        const __m256 lo = _mm256_castps128_ps256(_mm_set1_ps(p[0]));
        return _mm256_insertf128_ps(lo, _mm_set1_ps(p[1]), 1);
    }
    SR_VI V zero() { return _mm256_setzero_ps(); }
    SR_VI V load(const float* p) { return _mm256_loadu_ps(p); }
    SR_VI void store(float* p, V a) { _mm256_storeu_ps(p, a); }
    SR_VI V add(V a, V b) { return _mm256_add_ps(a, b); }
    SR_VI V sub(V a, V b) { return _mm256_sub_ps(a, b); }
    SR_VI V mul(V a, V b) { return _mm256_mul_ps(a, b); }
    SR_VI V div(V a, V b) { return _mm256_div_ps(a, b); }
    SR_VI V min(V a, V b) { return _mm256_min_ps(a, b); }
    SR_VI V max(V a, V b) { return _mm256_max_ps(a, b); }
    SR_VI V mul_add(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
    SR_VI V and_(V a, V b) { return _mm256_and_ps(a, b); }
    SR_VI V or_(V a, V b) { return _mm256_or_ps(a, b); }
    SR_VI V andnot(V a, V b) { return _mm256_andnot_ps(a, b); }
    SR_VI V lt(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
    SR_VI V le(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_LE_OQ); }
    SR_VI V gt(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
    SR_VI V ge(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
    SR_VI V eq(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
    SR_VI V neq(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_NEQ_UQ); }
    SR_VI V select(V m, V a, V b) { return _mm256_blendv_ps(b, a, m); }
    SR_VI int bits(V m) { return _mm256_movemask_ps(m); }
    SR_VI V round(V a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
    SR_VI V pow2(V n) {
        const __m256i e = _mm256_add_epi32(_mm256_cvttps_epi32(n), _mm256_set1_epi32(127));
        return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
    }
    SR_VI float hsum(V a) {  // fixed order: the two halves, then as Sse2::hsum
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        return _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
    }
};
SOFTREC_AVX2_END
#endif

}  // namespace simd
}  // namespace softrec
