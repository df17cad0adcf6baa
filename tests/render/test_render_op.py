"""The compiled backends as ``torch.library`` ops: op checks, ``torch.compile``, state."""

from __future__ import annotations

import pytest
import torch
import torch._dynamo
import torch._functorch.config
from torch._dynamo.backends.common import aot_autograd
from torch._functorch.aot_autograd import make_boxed_func

from softrec.render import rasterize as rz
from softrec.render import soft_rasterize
from softrec.render.options import RasterOptions
from tests.render.helpers import random_faces

DTYPES = [torch.float32, torch.float64]
KW = dict(image_size=12, sigma=3e-3, gamma=3e-2, background_color=(0.2, 0.3, 0.4), backend="cpu")


def _inputs(dtype: torch.dtype, textured: bool, seed: int = 3):
    fv, tex = random_faces(texels=4, dtype=dtype, seed=seed)
    return fv.requires_grad_(), (tex.requires_grad_() if textured else None)


def _loss(fv: torch.Tensor, tex: torch.Tensor | None) -> torch.Tensor:
    img = soft_rasterize(fv, tex, **KW)
    weights = torch.linspace(0, 1, 12, dtype=fv.dtype)
    return ((img - 0.3) ** 2 * weights).sum()


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.mark.parametrize("textured", [False, True], ids=["silhouette", "textured"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_opcheck(dtype, textured):
    fv, tex = _inputs(dtype, textured)
    settings = rz._setting_values(RasterOptions(image_size=8, sigma=3e-3, gamma=3e-2))
    torch.library.opcheck(rz._rasterize_op, (fv, tex, settings, True, True))
    image, aux, winner, index, data = rz._rasterize_op(fv, tex, settings, True, True)
    grad = torch.rand_like(image)
    torch.library.opcheck(
        rz._rasterize_backward_op,
        (grad, fv.detach(), None if tex is None else tex.detach(), image.detach(), aux, winner,
         index, data, settings),
    )  # fmt: skip


@pytest.mark.parametrize("textured", [False, True], ids=["silhouette", "textured"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_compiled_loss_matches_eager(dtype, textured):
    fv, tex = _inputs(dtype, textured)
    leaves = [x for x in (fv, tex) if x is not None]
    want = _loss(fv, tex)
    want_grads = torch.autograd.grad(want, leaves)
    compiled = torch.compile(_loss, fullgraph=True, backend="aot_eager")
    got = compiled(fv, tex)
    got_grads = torch.autograd.grad(got, leaves)
    torch.testing.assert_close(got, want, rtol=1e-6, atol=0)
    for g, w in zip(got_grads, want_grads, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-6, atol=1e-9)


def test_compiled_graphs_hold_one_op_per_pass():
    graphs: dict[str, list] = {"forward": [], "backward": []}

    def recorder(kind):
        def compiler(gm, example_inputs):
            graphs[kind] += [n.target for n in gm.graph.nodes if n.op == "call_function"]
            return make_boxed_func(gm.forward)

        return compiler

    backend = aot_autograd(fw_compiler=recorder("forward"), bw_compiler=recorder("backward"))
    fv, tex = _inputs(torch.float32, True)
    loss = torch.compile(_loss, fullgraph=True, backend=backend)(fv, tex)
    loss.backward()
    ops = torch.ops.softrec
    assert graphs["forward"].count(ops.rasterize.default) == 1
    assert ops.rasterize_backward.default not in graphs["forward"]
    assert graphs["backward"].count(ops.rasterize_backward.default) == 1


def test_gradcheck_through_compiled_function():
    fv, tex = random_faces(batch=1, faces=3, texels=3, seed=3, size=0.9, spread=0.3)
    kw = dict(image_size=6, sigma=2e-2, gamma=0.5, dist_eps=1e-12, texture_type="vertex",
              double_side=True, backend="cpu")  # fmt: skip

    def fn(v, t):
        return soft_rasterize(v, t, **kw)

    compiled = torch.compile(fn, fullgraph=True, backend="aot_eager")
    # gradcheck runs several backward passes through one graph: no donated buffers
    with torch._functorch.config.patch(donated_buffer=False):
        assert torch.autograd.gradcheck(
            compiled, (fv.requires_grad_(), tex.requires_grad_()), eps=1e-6, atol=1e-6
        )


def test_compiled_function_still_refuses_nan():
    fv, _ = _inputs(torch.float32, False)
    bad = fv.detach().clone()
    bad[0, 0, 0, 0] = float("nan")
    compiled = torch.compile(_loss, fullgraph=True, backend="aot_eager")
    assert torch.isfinite(compiled(fv, None))
    with pytest.raises(ValueError, match="NaN"):
        compiled(bad.requires_grad_(), None)


def test_backward_state_only_when_a_gradient_can_flow(monkeypatch):
    calls = []
    op = rz._rasterize_op

    def spy(fv, tex, settings, for_backward, check_finite):
        out = op(fv, tex, settings, for_backward, check_finite)
        calls.append((for_backward, out[3].numel(), out[4].numel()))
        return out

    monkeypatch.setattr(rz, "_rasterize_op", spy)
    fv, _ = _inputs(torch.float32, False)
    with torch.no_grad():
        soft_rasterize(fv, None, **KW)
    soft_rasterize(fv.detach(), None, **KW)
    soft_rasterize(fv, None, **KW)
    # silhouettes in float32 keep the forward's D for the CPU backward
    assert calls[0] == (False, 0, 0) and calls[1] == (False, 0, 0)
    assert calls[2][0] is True and calls[2][1] > 0 and calls[2][2] > 0
