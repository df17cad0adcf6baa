"""softrec.fit: the shared deformation, cameras, subdivision, schedule, targets, fitting."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import softrec
from softrec.fit import (
    DeformableMesh,
    FitOptions,
    ViewCameras,
    as_target_images,
    fit_mesh,
    hard_silhouettes,
    mesh_silhouettes,
    sigma_at,
    silhouette_iou,
)
from softrec.mesh import face_normals, subdivide
from softrec.models.decoder import MeshDecoder
from softrec.render import RasterOptions

from .helpers import ellipsoid, render_rgba, ring_cameras

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "mesh_decoder_v0.pt"


def test_decoder_checkpoints_load_and_give_the_same_vertices():
    # saved by the decoder before its deformation moved to softrec.mesh
    saved = torch.load(FIXTURE)
    dec = MeshDecoder(**saved["config"])
    assert list(dec.state_dict()) == list(saved["state_dict"])
    dec.load_state_dict(saved["state_dict"], strict=True)
    with torch.no_grad():
        assert torch.equal(dec(saved["features"]), saved["vertices"])
        assert torch.equal(dec.rest_shape(), saved["rest_shape"])


def test_fitting_mesh_deforms_exactly_like_the_decoder():
    torch.manual_seed(0)
    dec = MeshDecoder(in_dim=8, hidden=(16,), template_subdivisions=1)
    features = torch.randn(2, 8)
    with torch.no_grad():
        h = dec.mlp(features)
        centroid = dec.fc_centroid(h) * dec.centroid_scale
        bias = (dec.fc_bias(h) * dec.bias_scale).view(2, -1, 3) * 5  # large moves too
        for b in range(2):
            expected = dec.deform(bias[b : b + 1], centroid[b : b + 1])[0]
            mesh = DeformableMesh(dec.template_vertices, dec.faces, bound=dec.output_scale,
                                  coord_eps=dec.coord_eps)  # fmt: skip
            mesh.bias.copy_(bias[b])
            mesh.centroid.copy_(centroid[b])
            assert torch.equal(mesh.vertices(), expected)
            assert not torch.allclose(expected, dec.rest_shape(), atol=1e-2)


def test_vertices_stay_inside_the_bound_for_any_parameters():
    v, f = softrec.icosphere(1, 0.5)
    mesh = DeformableMesh(v, f, bound=0.7)
    with torch.no_grad():
        mesh.bias.copy_(torch.randn_like(mesh.bias) * 4)
        mesh.centroid.copy_(torch.tensor([2.0, -2.0, 0.5]))
        assert mesh.vertices().abs().max() < 0.7
        mesh.bias.mul_(100)  # saturated: at most on the bound, in float32
        mesh.centroid.mul_(100)
        assert mesh.vertices().abs().max() <= 0.7


def look_at_P(eye: torch.Tensor, viewing_angle: float, size: int) -> torch.Tensor:
    """3×4 pixel-unit matrix of the look-at perspective camera (docs/conventions.md §2),
    derived here from the formulas rather than from the library's camera code."""
    z = -eye / eye.norm()
    x = torch.linalg.cross(torch.tensor([0.0, 1.0, 0.0]), z)
    x = x / x.norm()
    y = torch.linalg.cross(z, x)
    R = torch.stack([x, y, z])
    f = size / (2 * math.tan(math.radians(viewing_angle)))
    K = torch.tensor([[f, 0, size / 2], [0, f, size / 2], [0, 0, 1.0]])
    return K @ torch.cat([R, (-R @ eye)[:, None]], 1)


def test_each_camera_form_renders_the_same_images():
    v, f = ellipsoid(1)
    d, el, az = torch.tensor([2.5, 3.0, 2.732]), torch.tensor([10.0, -40.0, 75.0]), \
        torch.tensor([0.0, 130.0, -100.0])  # fmt: skip
    eyes = softrec.eye_from_angles(d, el, az)
    forms = [
        ViewCameras.from_angles(d, el, az, viewing_angle=15),
        ViewCameras.from_eyes(eyes, viewing_angle=15),
        ViewCameras.from_projection(torch.stack([look_at_P(e, 15, 32) for e in eyes]), 32),
    ]
    images = []
    for cams in forms:
        r = cams.renderer(RasterOptions(image_size=32, sigma=1e-4))
        images.append(cams.render(r, v[None].expand(3, -1, -1), f))
    assert images[0][:, 3].sum() > 50  # the object is in view
    assert (images[0][0, 3] - images[0][1, 3]).abs().max() > 0.5  # the views differ
    for other in images[1:]:
        torch.testing.assert_close(other, images[0], atol=1e-4, rtol=0)
    # a subset of the views renders like the same views of the full set
    r = forms[2].renderer(RasterOptions(image_size=32, sigma=1e-4))
    torch.testing.assert_close(forms[2].render(r, v[None], f, index=torch.tensor([2])),
                               images[0][2:3], atol=1e-4, rtol=0)  # fmt: skip


def test_subdivide_keeps_the_surface_and_the_winding():
    v, f = ellipsoid(1)
    v2, f2, edges = subdivide(v, f)
    assert torch.equal(v2[: len(v)], v) and len(f2) == 4 * len(f)
    torch.testing.assert_close(v2[len(v) :], (v[edges[:, 0]] + v[edges[:, 1]]) / 2)
    # every new face lies in its parent's plane, facing the same way
    n, n2 = face_normals(v[None], f)[0], face_normals(v2[None], f2)[0]
    parents = torch.cat([torch.arange(len(f))] * 4)
    assert ((n2 * n[parents]).sum(1) > 0.999).all()


def test_deformable_mesh_subdivision_carries_the_shape_over():
    torch.manual_seed(1)
    v, f = softrec.icosphere(1, 0.5)
    mesh = DeformableMesh(v, f, bound=1.0, colors=True)
    with torch.no_grad():
        mesh.bias.copy_(torch.randn_like(mesh.bias))
        mesh.centroid.copy_(torch.tensor([0.3, -0.2, 0.1]))
        mesh.color_logits.copy_(torch.randn_like(mesh.color_logits))
        before, colors, faces = mesh.vertices(), mesh.colors(), mesh.faces.clone()
        mesh.subdivide()
        after, colors_after = mesh.vertices(), mesh.colors()
    _, expected_faces, edges = subdivide(before, faces)
    assert torch.equal(mesh.faces, expected_faces)
    # coarse vertices untouched (up to the rounding of vectorized math on other sizes)
    torch.testing.assert_close(after[: len(before)], before, atol=1e-6, rtol=0)
    midpoints = (before[edges[:, 0]] + before[edges[:, 1]]) / 2
    torch.testing.assert_close(after[len(before) :], midpoints, atol=1e-6, rtol=0)
    torch.testing.assert_close(
        colors_after[len(before) :],
        (colors[edges[:, 0]] + colors[edges[:, 1]]) / 2,
        atol=1e-5,
        rtol=0,
    )
    assert mesh.bias.shape == (len(after), 3) and mesh.bias.requires_grad


def test_sigma_schedule_is_geometric_from_start_to_end():
    opts = FitOptions(iterations=101, sigma_start=1e-3, sigma_end=1e-5)
    values = [sigma_at(s, opts) for s in range(101)]
    assert values[0] == pytest.approx(1e-3) and values[-1] == pytest.approx(1e-5)
    assert values[50] == pytest.approx(1e-4)  # geometric mean halfway
    assert all(a > b for a, b in zip(values, values[1:], strict=False))
    assert sigma_at(500, opts) == pytest.approx(1e-5)
    constant = replace(opts, sigma_start=1e-4, sigma_end=1e-4)
    assert {round(sigma_at(s, constant), 12) for s in range(0, 101, 10)} == {1e-4}


def test_options_are_checked():
    for bad in ({"iterations": 0}, {"sigma_end": 0.0}, {"subdivide_at": (1.5,)},
                {"template_radius": 1.0}, {"views_per_step": 0}):  # fmt: skip
        with pytest.raises(ValueError):
            FitOptions(**bad)
    assert FitOptions(iterations=10, subdivide_at=(0.3, 0.6)).subdivision_steps() == [3, 6]


def test_target_images_layouts_and_errors():
    rgba = np.zeros((2, 8, 8, 4), np.uint8)
    rgba[:, 2:6, 2:6] = 255
    last = as_target_images(rgba)
    assert last.shape == (2, 4, 8, 8) and last.max() == 1.0
    torch.testing.assert_close(as_target_images(rgba.transpose(0, 3, 1, 2)), last)
    torch.testing.assert_close(as_target_images(rgba.astype(np.float32) / 255), last)
    cases = {"square": np.zeros((2, 8, 6, 4), np.uint8),
             "RGBA": np.zeros((2, 8, 8, 3), np.uint8),
             "empty mask": np.concatenate([rgba[:1], np.zeros_like(rgba[:1])]),
             "[0, 1]": rgba.astype(np.float32)}  # fmt: skip
    for message, images in cases.items():
        with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
            as_target_images(images)


def test_hard_silhouettes_of_a_square():
    # two triangles covering x, y in [-0.5, 0.5]: 8 of 16 pixel centres per row/column
    sq = torch.tensor([[[-0.5, -0.5, 1], [0.5, -0.5, 1], [0.5, 0.5, 1]],
                       [[-0.5, -0.5, 1], [-0.5, 0.5, 1], [0.5, 0.5, 1]]])  # fmt: skip
    mask = hard_silhouettes(sq[None], 16)[0]
    assert mask.sum() == 64 and mask[4:12, 4:12].all()
    behind = sq.clone()
    behind[..., 2] = -1
    assert not hard_silhouettes(behind[None], 16).any()
    assert silhouette_iou(mask[None], mask[None]).item() == 1.0


def test_fitting_raises_iou_well_above_the_template():
    v, f = ellipsoid(2)
    cams = ring_cameras(8)
    targets = render_rgba(v, f, cams, 32)
    truth = mesh_silhouettes(v, f, cams, 32)
    opts = FitOptions(iterations=60, views_per_step=4, template_subdivisions=2, lr=0.05,
                      subdivide_at=(), sigma_start=3e-4, sigma_end=3e-5)  # fmt: skip
    template = DeformableMesh.from_options(opts)
    before = silhouette_iou(mesh_silhouettes(template.vertices().detach(), template.faces,
                                             cams, 32), truth).mean()  # fmt: skip
    result = fit_mesh(targets, cams, opts)
    after = silhouette_iou(mesh_silhouettes(result.vertices, result.faces, cams, 32), truth)
    assert before < 0.6
    assert after.mean() > 0.85 and after.min() > 0.75, after
    assert result.history[-1]["iou"] < 0.5 * result.history[0]["iou"]


def test_fitting_colors_learns_the_target_color():
    v, f = ellipsoid(2)
    cams = ring_cameras(6)
    targets = render_rgba(v, f, cams, 24, color=(0.9, 0.3, 0.1))
    opts = FitOptions(iterations=30, views_per_step=None, template_subdivisions=1,
                      subdivide_at=(0.5,), fit_colors=True, lr=0.05)  # fmt: skip
    result = fit_mesh(targets, cams, opts)
    assert result.colors is not None and result.colors.shape == result.vertices.shape
    assert result.vertices.shape[0] == 162  # 42 → 162 vertices by the subdivision
    mean = result.colors.mean(0)
    assert mean[0] > 0.6 and mean[2] < 0.35, mean  # from 0.5 gray towards the target


def test_fit_refuses_mismatched_counts():
    v, f = ellipsoid(1)
    targets = render_rgba(v, f, ring_cameras(4), 16)
    with pytest.raises(ValueError, match="4 target images but 3 cameras"):
        fit_mesh(targets, ring_cameras(3), FitOptions(iterations=1))
