"""Template-deforming mesh decoder (NMR / SoftRas style)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..mesh import deform_template, icosphere, template_logits


class MeshDecoder(nn.Module):
    """Feature vector → mesh vertices, by deforming an icosphere template.

    ``feature → FC hidden[0] → … → FC hidden[-1]`` (ReLU), then two heads:

    * centroid ``c = tanh(centroid_scale · fc_c(h))`` ∈ (−1, 1)³;
    * per-vertex bias ``β = bias_scale · fc_b(h)`` (V×3).

    For template vertex b (coordinates in (−1, 1) after ``template_radius``), each
    coordinate is moved in logit space, ``u = sigmoid(logit(|b|) + β) · sign(b)`` ∈ (−1, 1),
    then pushed towards the centroid with asymmetric scaling so it stays inside the cube,
    ``u' = relu(u)·(1 − c) − relu(−u)·(1 + c) + c`` ∈ (−1, 1), and finally
    ``vertex = output_scale · u'``. With ``output_scale = 0.5`` every vertex lies strictly
    inside [−0.5, 0.5]³, the dataset's object box.

    Template coordinates that are exactly 0 have no sign and an infinite logit; they are
    clamped to ``±coord_eps`` (sign +) so that they can still move.

    Args:
        in_dim: feature size.
        hidden: FC widths (public code: 1024, 2048).
        template_subdivisions: icosphere level (3 → 642 vertices / 1280 faces).
        template_radius: template radius before ``output_scale`` (public code: 0.5).
        centroid_scale, bias_scale: output scales of the two heads (public: 0.1, 1.0).
        output_scale: final scale (0.5 maps (−1, 1) to the object box).
        coord_eps: clamp of |b| into [coord_eps, 1 − coord_eps] before the logit.
    """

    def __init__(
        self,
        in_dim: int = 512,
        hidden: Sequence[int] = (1024, 2048),
        template_subdivisions: int = 3,
        template_radius: float = 0.5,
        centroid_scale: float = 0.1,
        bias_scale: float = 1.0,
        output_scale: float = 0.5,
        coord_eps: float = 1e-3,
    ) -> None:
        super().__init__()
        if not 0.0 < template_radius < 1.0:
            raise ValueError(f"template_radius must lie in (0, 1), got {template_radius}")
        vertices, faces = icosphere(int(template_subdivisions), float(template_radius))
        self.register_buffer("template_vertices", vertices)  # (V, 3)
        self.register_buffer("faces", faces)  # (F, 3)
        self.num_vertices = vertices.shape[0]
        self.centroid_scale, self.bias_scale = centroid_scale, bias_scale
        self.output_scale, self.coord_eps = output_scale, coord_eps
        layers: list[nn.Module] = []
        d = in_dim
        for h in hidden:
            layers += [nn.Linear(d, int(h)), nn.ReLU(inplace=True)]
            d = int(h)
        self.mlp = nn.Sequential(*layers)
        self.fc_centroid = nn.Linear(d, 3)
        self.fc_bias = nn.Linear(d, self.num_vertices * 3)
        # start from the template: small initial deformation
        nn.init.zeros_(self.fc_bias.bias)
        nn.init.zeros_(self.fc_centroid.bias)
        with torch.no_grad():
            self.fc_bias.weight.mul_(0.1)

    def template_logits(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(V, 3) logit(|b|) and (V, 3) sign(b) (0 → +1) of the template vertices."""
        return template_logits(self.template_vertices, self.coord_eps)

    def deform(self, bias: torch.Tensor, centroid: torch.Tensor) -> torch.Tensor:
        """Apply (B, V, 3) logit biases and (B, 3) raw centroids → (B, V, 3) vertices
        (:func:`softrec.mesh.deform_template`, shared with :mod:`softrec.fit`)."""
        base, sign = self.template_logits()
        return deform_template(base, sign, bias, centroid, self.output_scale)

    def rest_shape(self) -> torch.Tensor:
        """(V, 3) vertices for zero bias and zero centroid (the undeformed template)."""
        z = self.template_vertices.new_zeros(1, self.num_vertices, 3)
        return self.deform(z, z.new_zeros(1, 3))[0]

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(B, in_dim) → (B, V, 3) vertices inside (−output_scale, output_scale)³."""
        h = self.mlp(features)
        centroid = self.fc_centroid(h) * self.centroid_scale
        bias = (self.fc_bias(h) * self.bias_scale).view(-1, self.num_vertices, 3)
        return self.deform(bias, centroid)
