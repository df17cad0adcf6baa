"""Property-based tests of the rasterizer on hostile meshes.

Random screen-space meshes mixing ordinary, degenerate (repeated corners), sliver
(collinear), huge, tiny, edge-on (all corners on one line of sight) and behind-camera
(depth <= 0) triangles, rendered with random options: every output and gradient is finite
and the compiled CPU backend agrees with the dense reference in float64.
"""

from __future__ import annotations

import math

import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.render.helpers import render_and_grads

S = 8
# Irrational-looking offsets keep the corners off the pixel grid's symmetric points, where
# two barycentric coordinates or edge distances tie and the gradient (of a min) is not
# defined: there any split between the tied terms is a valid subgradient.
JITTER = [(math.sqrt(p) % 1.0) * 1e-6 for p in (2, 3, 5, 7, 11, 13)]
coord = st.floats(-1.5, 1.5, allow_nan=False, allow_subnormal=False)
depth = st.floats(0.5, 6.0, allow_nan=False)


@st.composite
def triangle(draw) -> list[list[float]]:
    """One screen-space triangle ``[[x, y, z]] * 3`` of a randomly chosen kind."""
    kind = draw(st.sampled_from(["plain", "degenerate", "sliver", "huge", "tiny", "edge_on",
                                 "behind", "crossing"]))  # fmt: skip
    p = [[draw(coord) + JITTER[2 * k], draw(coord) + JITTER[2 * k + 1], draw(depth)]
         for k in range(3)]  # fmt: skip
    if kind == "degenerate":  # two or three corners coincide
        p[1] = list(p[0])
        if draw(st.booleans()):
            p[2] = list(p[0])
    elif kind == "sliver":  # third corner on the line through the first two
        t = draw(st.floats(-2.0, 2.0))
        p[2][:2] = [p[0][i] + t * (p[1][i] - p[0][i]) for i in range(2)]
    elif kind == "huge":
        scale = draw(st.sampled_from([1e2, 1e4, 1e6]))
        p = [[x * scale, y * scale, z] for x, y, z in p]
    elif kind == "tiny":
        scale = draw(st.sampled_from([1e-3, 1e-6, 1e-9]))
        cx, cy = draw(coord), draw(coord)
        p = [[cx + x * scale, cy + y * scale, z] for x, y, z in p]
    elif kind == "edge_on":  # screen projection collapses to a line
        p = [[p[0][0], p[0][1] + k * 0.3, p[0][2] + k] for k in range(3)]
    elif kind == "behind":  # at least one corner at or behind the camera
        p[draw(st.integers(0, 2))][2] = draw(st.sampled_from([0.0, -1e-9, -0.5, -3.0]))
    elif kind == "crossing":  # corners at very different depths
        p[0][2], p[1][2] = 1e-4, 50.0
    return p


@st.composite
def case(draw) -> dict:
    faces = draw(st.lists(triangle(), min_size=1, max_size=5))
    textured = draw(st.booleans())
    opts = {
        "sigma": draw(st.sampled_from([1e-5, 1e-4, 3e-3, 1e-1])),
        "gamma": draw(st.sampled_from([1e-4, 1e-2, 1.0])),
        "dist_func": draw(st.sampled_from(["euclidean", "barycentric", "hard"])),
        "aggr_alpha": draw(st.sampled_from(["prod", "sum", "hard"])),
        "dist_eps": draw(st.sampled_from([1e-10, 1e-4])),
        "near": 1.0 if draw(st.booleans()) else 1e-3,
        "far": 100.0,
        "background_color": (0.2, 0.3, 0.4),
    }
    if textured:
        opts["aggr_rgb"] = draw(st.sampled_from(["softmax", "hard"]))
        opts["texture_type"] = draw(st.sampled_from(["surface", "vertex"]))
        opts["double_side"] = draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    return {"faces": faces, "textured": textured, "opts": opts, "seed": seed}


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(case())
@example(  # a face taller than the screen: barycentric pairs reach beyond the Euclidean reach
    {"faces": [[[4e-5, 7e-5, 1.0], [2e-5, 100.0, 1.0], [100.0, 100.0, 1.0]]], "textured": False,
     "opts": {"sigma": 1e-5, "gamma": 1e-4, "dist_func": "barycentric", "aggr_alpha": "prod",
              "dist_eps": 1e-10, "near": 1e-3, "far": 100.0, "background_color": (0, 0, 0)},
     "seed": 0}
)  # fmt: skip
def test_hostile_meshes_finite_and_cpu_equals_reference(c):
    fv = torch.tensor([c["faces"]], dtype=torch.float64)
    g = torch.Generator().manual_seed(c["seed"])
    tex = None
    if c["textured"]:
        texels = 3 if c["opts"]["texture_type"] == "vertex" else 4
        tex = torch.rand(1, fv.shape[1], texels, 3, generator=g, dtype=torch.float64)
    upstream = torch.randn(1, 4, S, S, generator=g, dtype=torch.float64)
    out, grads = render_and_grads(fv, tex, "cpu", upstream, image_size=S, **c["opts"])
    assert torch.isfinite(out).all()
    assert ((out >= -1e-12) & (out <= 1 + 1e-12)).all()
    for grad in grads:
        assert grad is None or torch.isfinite(grad).all()
    ref_out, ref_grads = render_and_grads(fv, tex, "reference", upstream, image_size=S,
                                          **c["opts"])  # fmt: skip
    torch.testing.assert_close(out, ref_out, rtol=1e-7, atol=1e-7)
    for got, want in zip(grads, ref_grads, strict=True):
        if want is not None:
            scale = max(float(want.abs().max()), 1.0)
            torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6 * scale)


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(case())
def test_hostile_meshes_float32_finite(c):
    fv = torch.tensor([c["faces"]], dtype=torch.float32)
    tex = None
    if c["textured"]:
        texels = 3 if c["opts"]["texture_type"] == "vertex" else 4
        tex = torch.full((1, fv.shape[1], texels, 3), 0.5)
    upstream = torch.ones(1, 4, S, S)
    out, grads = render_and_grads(fv, tex, "cpu", upstream, image_size=S, **c["opts"])
    assert torch.isfinite(out).all()
    for grad in grads:
        assert grad is None or torch.isfinite(grad).all()
