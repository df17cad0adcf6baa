"""What the renderer computes: conventions, soft gradients, limits and bad input."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

import softrec
from softrec.render import SoftRenderer, cameras, lighting, soft_rasterize
from tests.render.helpers import random_faces, sphere_screen_faces

BACKENDS = ["reference", "cpu"]


def _tri(points, depth=2.0, dtype=torch.float64):
    fv = torch.tensor(points, dtype=dtype).reshape(1, -1, 3, 2)
    z = torch.full(fv.shape[:-1] + (1,), depth, dtype=dtype)
    return torch.cat((fv, z), dim=-1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_pixel_grid_orientation(backend):
    # A triangle in the upper-left quadrant lights up the top-left pixels (row 0 = top).
    fv = _tri([[(-1.0, 1.0), (-1.0, 0.0), (0.0, 1.0)]])
    img = soft_rasterize(fv, None, image_size=8, dist_func="hard", backend=backend)[0, 3]
    assert img[0, 0] == 1 and img[7, 7] == 0 and img[0, 7] == 0 and img[7, 0] == 0
    assert img[:4, :4].sum() > 0 and img[4:, :].sum() == 0 and img[:, 4:].sum() == 0


def test_camera_conventions():
    eye = cameras.eye_from_angles(2.0, 0.0, 90.0)
    torch.testing.assert_close(eye, torch.tensor([2.0, 0.0, 0.0]), atol=1e-6, rtol=0)
    eye = cameras.eye_from_angles(2.732, 30.0, 0.0)
    torch.testing.assert_close(
        eye,
        torch.tensor([0.0, 2.732 * 0.5, -2.732 * math.cos(math.radians(30))]),
        atol=1e-5,
        rtol=0,
    )
    # the origin projects to the image centre, +y world appears up, depth = distance
    pts = torch.tensor([[[0.0, 0.0, 0.0], [0.0, 0.1, 0.0], [0.1, 0.0, 0.0]]])
    scr = cameras.perspective(cameras.look_at(pts, torch.tensor([0.0, 0.0, -3.0])), 15.0)
    torch.testing.assert_close(scr[0, 0], torch.tensor([0.0, 0.0, 3.0]))
    assert scr[0, 1, 1] > 0 and scr[0, 2, 0] > 0  # official convention: world +x maps to +x
    expected = 0.1 / (3.0 * math.tan(math.radians(15.0)))
    assert abs(scr[0, 1, 1].item() - expected) < 1e-6
    # orthographic keeps sizes, look() equals look_at() for the matching direction
    ortho = cameras.orthographic(cameras.look_at(pts, torch.tensor([0.0, 0.0, -3.0])), 2.0)
    assert abs(ortho[0, 1, 1].item() - 0.2) < 1e-6
    la = cameras.look_at(pts, torch.tensor([1.0, 2.0, -3.0]))
    lk = cameras.look(pts, torch.tensor([1.0, 2.0, -3.0]), torch.tensor([-1.0, -2.0, 3.0]))
    torch.testing.assert_close(la, lk)


def test_projection_matrix_matches_look_at_perspective():
    # A pinhole K[R|t] built from the look-at camera reproduces look_at + perspective.
    size, angle = 64.0, 15.0
    eye = torch.tensor([0.3, 0.8, -2.5])
    pts = torch.rand(1, 20, 3) - 0.5
    want = cameras.perspective(cameras.look_at(pts, eye), angle)
    f = size / (2 * math.tan(math.radians(angle)))
    K = torch.tensor([[f, 0, size / 2], [0, f, size / 2], [0, 0, 1.0]])
    basis = cameras.look_at(torch.eye(3)[None] + eye, eye)[0]  # rows: R applied to unit axes
    R = basis.T
    t = -R @ eye
    P = K @ torch.cat((R, t[:, None]), dim=1)
    got = cameras.projection(pts, P, orig_size=size)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_eye_angles_batch_and_renderer_per_element_cameras():
    v, f = softrec.icosphere(2, 0.5)
    r = SoftRenderer(image_size=16, viewing_angle=15, sigma=1e-4, dist_func="hard")
    eyes = cameras.eye_from_angles(torch.tensor([2.732, 2.732]), torch.tensor([30.0, 30.0]),
                                   torch.tensor([0.0, 90.0]))  # fmt: skip
    verts = v[None].expand(2, -1, -1)
    both = r(verts, f, eyes=eyes)
    one = r(v[None], f, eyes=eyes[1:])
    torch.testing.assert_close(both[1:], one)


@pytest.mark.parametrize("backend", BACKENDS)
def test_occluded_and_far_faces_receive_gradients(backend):
    # Face 0 in front, face 1 behind it (fully occluded), face 2 a little off to the side.
    fv = _tri(
        [
            [(-0.6, -0.6), (0.6, -0.6), (0.0, 0.6)],
            [(-0.3, -0.3), (0.3, -0.3), (0.0, 0.3)],
            [(0.62, 0.7), (0.8, 0.7), (0.7, 0.85)],
        ]
    )
    fv[0, 0, :, 2] = 2.0
    fv[0, 1, :, 2] = 3.0
    fv[0, 2, :, 2] = 2.0
    fv = fv.to(torch.float64).requires_grad_()
    tex = torch.rand(1, 3, 1, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    img = soft_rasterize(fv, tex, image_size=16, sigma=1e-2, gamma=1e-1, dist_eps=1e-8,
                         double_side=True, backend=backend)  # fmt: skip
    img[:, :3].sum().backward()
    g = fv.grad.abs().sum(dim=(2, 3))[0]
    assert g[1] > 0, "occluded face got no gradient"
    assert g[2] > 0, "face away from the pixels got no gradient"
    # the hard z-buffer gives the occluded face nothing
    tex.requires_grad_()
    img = soft_rasterize(fv, tex, image_size=16, aggr_rgb="hard", dist_func="hard",
                         double_side=True, backend=backend)  # fmt: skip
    g_fv, g_tex = torch.autograd.grad(img[:, :3].sum(), (fv, tex), allow_unused=True)
    assert g_fv is None or g_fv.abs()[0, 1].sum() == 0
    assert g_tex[0, 1].abs().sum() == 0 and g_tex[0, 0].abs().sum() > 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_tiny_sigma_matches_hard_rasterization(backend):
    fv = sphere_screen_faces(batch=2, subdivisions=2)
    soft = soft_rasterize(fv, None, image_size=32, sigma=1e-7, backend=backend)[:, 3]
    hard = soft_rasterize(fv, None, image_size=32, dist_func="hard", backend=backend)[:, 3]
    s, h = soft > 0.5, hard > 0.5
    iou = (s & h).sum().item() / (s | h).sum().item()
    assert iou >= 0.99
    assert h.sum() > 100  # the sphere is really there


@pytest.mark.parametrize("backend", BACKENDS)
def test_softmax_color_shows_nearest_face_and_background(backend):
    fv = _tri([[(-0.8, -0.8), (0.8, -0.8), (0.0, 0.8)], [(-0.8, -0.8), (0.8, -0.8), (0.0, 0.8)]])
    fv[0, 0, :, 2] = 2.0
    fv[0, 1, :, 2] = 5.0
    # make both front-facing in the official convention (negative signed area)
    fv = fv[:, :, [0, 2, 1]]
    tex = torch.tensor([[[[1.0, 0.0, 0.0]], [[0.0, 0.0, 1.0]]]], dtype=torch.float64)
    img = soft_rasterize(fv, tex, image_size=16, sigma=1e-6, background_color=(0, 1, 0),
                         backend=backend)  # fmt: skip
    centre, corner = img[0, :3, 8, 8], img[0, :3, 0, 0]
    torch.testing.assert_close(
        centre, torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64), atol=1e-6, rtol=0
    )
    torch.testing.assert_close(
        corner, torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64), atol=1e-6, rtol=0
    )
    # back-facing faces get color only when double-sided
    back = soft_rasterize(fv[:, :, [0, 2, 1]], tex, image_size=16, sigma=1e-6, backend=backend)
    assert back[0, :3, 8, 8].abs().max() < 1e-6
    both = soft_rasterize(fv[:, :, [0, 2, 1]], tex, image_size=16, sigma=1e-6, double_side=True,
                          backend=backend)  # fmt: skip
    assert both[0, 0, 8, 8] > 0.99


@pytest.mark.parametrize("backend", BACKENDS)
def test_degenerate_faces_are_finite(backend):
    fv = _tri(
        [
            [(0.0, 0.0), (0.0, 0.0), (0.0, 0.0)],  # a point
            [(-0.5, 0.0), (0.0, 0.0), (0.5, 0.0)],  # a line (edge-on)
            [(-0.5, -0.5), (0.5, -0.5), (0.0, 0.5)],  # a normal face
            [(-0.2, -0.2), (0.2, -0.2), (0.0, 0.2)],  # behind the camera
        ]
    )
    fv[0, 3, :, 2] = torch.tensor([-1.0, 0.5, 2.0], dtype=torch.float64)
    fv.requires_grad_()
    tex = torch.rand(1, 4, 4, 3, dtype=torch.float64, requires_grad=True)
    img = soft_rasterize(fv, tex, image_size=16, sigma=1e-3, backend=backend)
    img.sum().backward()
    assert torch.isfinite(img).all() and torch.isfinite(fv.grad).all()
    assert fv.grad[0, :2].abs().sum() == 0 and fv.grad[0, 3].abs().sum() == 0
    assert fv.grad[0, 2].abs().sum() > 0


def test_renderer_with_camera_behind_vertices_is_finite():
    v, f = softrec.icosphere(1, 0.5)
    v = v.clone().requires_grad_()
    r = SoftRenderer(image_size=16, eye=(0.0, 0.0, -0.2))  # camera inside the sphere
    img = r(v[None], f)
    img.sum().backward()
    assert torch.isfinite(img).all() and torch.isfinite(v.grad).all()


def test_bad_input_raises_clear_errors():
    fv, tex = random_faces(batch=1, faces=3)
    with pytest.raises(ValueError, match="face_vertices"):
        soft_rasterize(fv[..., :2])
    with pytest.raises(TypeError, match="face_vertices"):
        soft_rasterize(fv.to(torch.int64))
    with pytest.raises(TypeError, match="face_vertices"):
        soft_rasterize(fv.numpy())
    with pytest.raises(ValueError, match="no faces"):
        soft_rasterize(fv[:, :0])
    bad = fv.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        soft_rasterize(bad)
    with pytest.raises(ValueError, match="face_textures"):
        soft_rasterize(fv, tex[:, :2])
    with pytest.raises(TypeError, match="face_textures"):
        soft_rasterize(fv, tex.float())
    with pytest.raises(ValueError, match="T = R"):
        soft_rasterize(fv, torch.rand(1, 3, 5, 3, dtype=fv.dtype))
    with pytest.raises(ValueError, match="vertex"):
        soft_rasterize(fv, tex, texture_type="vertex")
    with pytest.raises(ValueError, match="dist_func"):
        soft_rasterize(fv, dist_func="manhattan")
    with pytest.raises(ValueError, match="sigma"):
        soft_rasterize(fv, sigma=0.0)
    with pytest.raises(ValueError, match="dist_eps"):
        soft_rasterize(fv, dist_eps=0.7)
    with pytest.raises(ValueError, match="near"):
        soft_rasterize(fv, near=10.0, far=1.0)
    with pytest.raises(ValueError, match="backend"):
        soft_rasterize(fv, backend="opengl")
    with pytest.raises(ValueError, match="cuda"):
        soft_rasterize(fv, backend="cuda")
    v, f = softrec.icosphere(0)
    r = SoftRenderer(image_size=8)
    with pytest.raises(ValueError, match="faces"):
        r(v[None], f[:0])
    with pytest.raises(ValueError, match="faces"):
        r(v[None], f + 100)
    with pytest.raises(ValueError, match="vertices"):
        r(v, f)
    with pytest.raises(ValueError, match="camera_mode"):
        SoftRenderer(camera_mode="fisheye")


def test_build_failure_falls_back_with_one_warning(monkeypatch):
    from softrec.render import _ext

    monkeypatch.setitem(_ext._modules, "cpu", None)
    fv, _ = random_faces(batch=1, faces=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = soft_rasterize(fv, image_size=8)  # auto: silently uses the cached fallback
    ref = soft_rasterize(fv, image_size=8, backend="reference")
    torch.testing.assert_close(out, ref)
    with pytest.raises(RuntimeError, match="requested"):
        soft_rasterize(fv, image_size=8, backend="cpu")


def test_lighting_direction_and_ambient():
    # one face with outward normal -y (faces down), one with +y (faces up)
    down = torch.tensor([[0.0, 0, 0], [1.0, 0, 0], [0.0, 0, 1]])
    up = down[[0, 2, 1]]
    fv = torch.stack((down, up))[None]
    tex = torch.ones(1, 2, 1, 3)
    lit = lighting(fv, tex)  # light travels along +y: it hits faces that look down
    torch.testing.assert_close(lit[0, 0, 0], torch.ones(3))
    torch.testing.assert_close(lit[0, 1, 0], torch.full((3,), 0.5))


@pytest.mark.parametrize("backend", BACKENDS)
def test_anti_aliasing_and_texture_atlas(backend):
    fv, tex = random_faces(batch=1, faces=4, texels=9, dtype=torch.float32)
    out = soft_rasterize(fv, tex, image_size=8, anti_aliasing=True, backend=backend)
    big = soft_rasterize(fv, tex, image_size=16, backend=backend)
    torch.testing.assert_close(out, torch.nn.functional.avg_pool2d(big, 2))
    assert out.shape == (1, 4, 8, 8)


def test_renderer_sigma_is_settable_and_float64_agrees():
    v, f = softrec.icosphere(2, 0.5)
    r = SoftRenderer(image_size=16, viewing_angle=15, eye=(0.0, 0.0, -2.732), sigma=1e-3)
    a = r(v[None], f)
    r.sigma = 1e-5
    b = r(v[None], f)
    assert (a[0, 3] - b[0, 3]).abs().max() > 1e-2
    c = r(v[None].double(), f)
    torch.testing.assert_close(c.float(), b, atol=1e-4, rtol=1e-4)


def test_mesh_helpers_and_obj_round_trip(tmp_path):
    v, f = softrec.icosphere(3, 0.5)
    assert v.shape == (642, 3) and f.shape == (1280, 3)
    torch.testing.assert_close(v.norm(dim=1), torch.full((642,), 0.5))
    n = softrec.face_normals(v[None], f)[0]
    centres = softrec.face_vertices(v[None], f)[0].mean(1)
    assert ((n * centres).sum(-1) > 0).all()  # outward
    vn = softrec.vertex_normals(v[None], f)[0]
    assert ((vn * v).sum(-1) > 0.49).all()
    softrec.save_obj(tmp_path / "s.obj", v, f)
    v2, f2 = softrec.load_obj(tmp_path / "s.obj")
    torch.testing.assert_close(v2, v, atol=1e-6, rtol=0)
    assert torch.equal(f2, f)
    with pytest.raises(FileNotFoundError):
        softrec.load_obj(tmp_path / "missing.obj")


def test_renderer_settings_are_carried_by_option_objects():
    from softrec.render import CameraOptions, LightingOptions, RasterOptions

    flat = softrec.SoftRenderer(image_size=24, sigma=1e-4, viewing_angle=15, double_side=True,
                                lighting=False, light_directions=(0, 0, 1))  # fmt: skip
    grouped = softrec.SoftRenderer(RasterOptions(image_size=24, sigma=1e-4, double_side=True),
                                   CameraOptions(viewing_angle=15),
                                   LightingOptions(enabled=False, direction=(0, 0, 1)))
    assert (flat.raster, flat.camera, flat.lights) == (grouped.raster, grouped.camera,
                                                       grouped.lights)  # fmt: skip
    v, f = softrec.icosphere(1, 0.5)
    tex = torch.rand(1, f.shape[0], 1, 3)
    torch.testing.assert_close(flat(v[None], f, tex), grouped(v[None], f, tex))
    flat.sigma = 3e-5  # annealing is one assignment; the carrier stays immutable
    assert flat.raster.sigma == 3e-5 and grouped.raster.sigma == 1e-4
    with pytest.raises(TypeError, match="unknown setting 'sigmaa'"):
        softrec.SoftRenderer(sigmaa=1e-4)
    with pytest.raises(ValueError, match="viewing_angle"):
        softrec.SoftRenderer(viewing_angle=120)


def test_fill_back_draws_every_face_twice_like_the_official_renderer():
    v, f = softrec.icosphere(1, 0.5)
    v = v * torch.tensor([1.0, 0.2, 1.0])  # flat: soft edges where the doubling shows
    opts = dict(image_size=32, sigma=1e-3, viewing_angle=15, dist_eps=1e-10)
    eye = softrec.eye_from_angles(2.732, 30.0, 40.0)
    tex = torch.rand(1, f.shape[0], 1, 3)
    single = softrec.SoftRenderer(**opts)(v[None], f, tex, eyes=eye)
    filled = softrec.SoftRenderer(**opts, fill_back=True)(v[None], f, tex, eyes=eye)
    doubled = torch.cat([f, f.flip(-1)])
    explicit = softrec.SoftRenderer(**opts)(v[None], doubled, torch.cat([tex, tex], 1), eyes=eye)
    torch.testing.assert_close(filled, explicit)
    a1, a2 = single[0, 3], filled[0, 3]
    torch.testing.assert_close(a2, 1 - (1 - a1) ** 2, atol=1e-5, rtol=1e-4)  # counted twice
    assert (a2 - a1).abs().max() > 0.05


def test_finiteness_check_can_be_turned_off_for_sync_free_training():
    from softrec.render import RasterOptions
    from softrec.render.rasterize import rasterize_with_options

    fv, _ = random_faces(batch=1, faces=3)
    bad = fv.clone()
    bad[0, 0, 0, 0] = float("nan")
    checked = RasterOptions(image_size=8)
    with pytest.raises(ValueError, match="NaN"):
        rasterize_with_options(bad, None, checked)
    unchecked = RasterOptions(image_size=8, check_finite=False)
    out = rasterize_with_options(bad, None, unchecked, backend="reference")
    assert out.shape == (1, 4, 8, 8)  # no error: the NaN shows up downstream instead
    renderer = softrec.SoftRenderer(image_size=8, check_finite=False)
    assert renderer.raster.check_finite is False


def test_renderer_reads_a_faces_tensor_back_once():
    """The index-range check of the faces reads them back from the device: it runs once per
    faces tensor (and again after an in-place change), not on every render."""
    from torch.overrides import TorchFunctionMode

    v, f = softrec.icosphere(1, 0.5)
    renderer = SoftRenderer(image_size=8, check_finite=False)

    class Reads(TorchFunctionMode):
        count = 0

        def __torch_function__(self, func, types, args=(), kwargs=None):
            if func in (torch.Tensor.min, torch.Tensor.max) and args and args[0] is f:
                Reads.count += 1
            return func(*args, **(kwargs or {}))

    with Reads():
        renderer(v[None], f)
        first = Reads.count
        renderer(v[None], f)
    assert first > 0 and Reads.count == first
    bad = f.clone()
    bad[0, 0] = v.shape[0]
    with pytest.raises(ValueError, match="faces index outside"):
        renderer(v[None], bad)
    f[0, 0] = -1  # in place: checked again
    with pytest.raises(ValueError, match="faces index outside"):
        renderer(v[None], f)
