"""Procedural generators of the 13 ShapeNet categories, built from parts.

Each generator takes a ``numpy.random.Generator`` and returns a list of
:class:`~softrec.data.synthetic.parts.Part` in arbitrary units (normalized later) in the
build frame: +y up, the object's front towards +z and its left-right symmetry plane at
x = 0 (when it has one). :func:`~softrec.data.synthetic.objects.generate_object` turns the
result half a turn about y, so in the dataset every front faces −z like the release's
objects. Each docstring says what the category's front is; the parts that show it are
named (``Part.named``) so that the orientation can be checked on the finished object.
Proportions, part presence and colors are randomized; the numbers below are plausible
ranges for each part, relative to the object's main dimension.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .parts import Part, box, cylinder, ellipsoid, frustum, tapered_box

Generator = Callable[[np.random.Generator], list[Part]]


def _color(rng: np.random.Generator, dark: bool = False) -> np.ndarray:
    """A random color; ``dark`` gives a dim grey-ish one (tires, screens, metal)."""
    if dark:
        return np.full(3, rng.uniform(0.05, 0.3)) + rng.uniform(0, 0.05, 3)
    base = rng.uniform(0.15, 0.95, 3)
    grey = rng.uniform(0.2, 0.9)
    mix = rng.uniform(0.0, 0.8)  # how desaturated
    return mix * grey + (1 - mix) * base


def _legs(xs, zs, top_y, height, thick, color, round_legs: bool, splay: float = 0.0):
    parts = []
    for x in xs:
        for z in zs:
            foot = (x * (1 + splay), top_y - height, z * (1 + splay))
            if round_legs:
                parts.append(cylinder(foot, (x, top_y, z), thick / 2, color))
            else:
                parts.append(
                    box(
                        ((x + foot[0]) / 2, top_y - height / 2, (z + foot[2]) / 2),
                        (thick, height, thick),
                        color,
                    )
                )
    return parts


def airplane(rng: np.random.Generator) -> list[Part]:
    """Fuselage + swept wings + horizontal and vertical tail, optional engines; long along
    z, nose in front, tail fin at the back."""
    body_c, wing_c = _color(rng), _color(rng)
    length = 1.0
    radius = rng.uniform(0.04, 0.09)
    fuselage = ellipsoid((0, 0, 0), (radius, radius * rng.uniform(0.9, 1.2), length / 2), body_c)
    parts = [fuselage.named("fuselage")]
    span = rng.uniform(0.7, 1.2)
    chord = rng.uniform(0.12, 0.3)
    wing_z = rng.uniform(-0.05, 0.12)
    wing_y = rng.uniform(-0.6, 0.4) * radius
    sweep = rng.uniform(0.0, 0.6)
    thick = rng.uniform(0.015, 0.03)
    parts.append(tapered_box((0, wing_y, wing_z), (span, thick, chord), wing_c, sweep=sweep))
    tail_z = -length / 2 + rng.uniform(0.05, 0.1)
    tail_span = span * rng.uniform(0.25, 0.45)
    parts.append(
        tapered_box((0, radius * 0.3, tail_z), (tail_span, thick, chord * 0.6), wing_c, sweep=sweep)
    )
    fin_h = rng.uniform(0.1, 0.22)
    fin = tapered_box(
        (0, radius + fin_h / 2, tail_z),
        (thick, fin_h, chord * 0.7),
        wing_c,
        top_scale=(1.0, rng.uniform(0.4, 0.9)),
    )
    lean = rng.uniform(0.0, 0.8)
    fin = fin.warped(lambda v: v - np.outer(v[:, 1] - radius, [0, 0, lean]) * (v[:, 1:2] > 0))
    parts.append(fin.named("fin"))
    if rng.random() < 0.6:
        er = rng.uniform(0.025, 0.045)
        for side in (-1, 1):
            x = side * span * rng.uniform(0.18, 0.3)
            z = wing_z - sweep * abs(x) + chord * 0.4
            parts.append(
                cylinder(
                    (x, wing_y - er * 1.2, z - 0.18),
                    (x, wing_y - er * 1.2, z + 0.02),
                    er,
                    _color(rng, dark=True),
                )
            )
    return parts


def bench(rng: np.random.Generator) -> list[Part]:
    """Long seat slab, slab or post legs, optional back rest; long along x, the back rest
    (when there is one) at the back."""
    c = _color(rng)
    leg_c = c if rng.random() < 0.5 else _color(rng, dark=True)
    w, d = rng.uniform(1.0, 1.6), rng.uniform(0.25, 0.45)
    h, t = rng.uniform(0.35, 0.5), rng.uniform(0.03, 0.07)
    parts = [box((0, h, 0), (w, t, d), c).named("seat")]
    if rng.random() < 0.5:  # slab legs at both ends
        for side in (-1, 1):
            parts.append(box((side * (w / 2 - 0.06), h / 2, 0), (0.05, h, d * 0.9), leg_c))
    else:
        parts += _legs(
            (-w / 2 + 0.06, w / 2 - 0.06),
            (-d / 2 + 0.04, d / 2 - 0.04),
            h,
            h,
            0.05,
            leg_c,
            rng.random() < 0.5,
        )
    if rng.random() < 0.6:
        bh = rng.uniform(0.25, 0.45)
        parts.append(box((0, h + bh / 2 + 0.05, -d / 2 + 0.02), (w, bh, 0.04), c).named("back"))
        for side in (-1, 1):
            parts.append(
                box(
                    (side * (w / 2 - 0.06), h + bh / 2, -d / 2 + 0.02),
                    (0.05, bh + 0.05, 0.05),
                    leg_c,
                )
            )
    return parts


def cabinet(rng: np.random.Generator) -> list[Part]:
    """Box carcass, drawers or doors on the front with handles, plinth or legs."""
    c = _color(rng)
    w, h, d = rng.uniform(0.5, 1.2), rng.uniform(0.5, 1.3), rng.uniform(0.3, 0.6)
    base = rng.uniform(0.0, 0.12)
    parts = [box((0, base + h / 2, 0), (w, h, d), c).named("carcass")]
    if base > 0.03:
        if rng.random() < 0.5:
            parts.append(box((0, base / 2, 0), (w * 0.92, base, d * 0.92), _color(rng, True)))
        else:
            parts += _legs(
                (-w / 2 + 0.04, w / 2 - 0.04),
                (-d / 2 + 0.04, d / 2 - 0.04),
                base,
                base,
                0.04,
                _color(rng, True),
                False,
            )
    front_c, handle_c = _color(rng), _color(rng, dark=True)
    rows = int(rng.integers(1, 5))
    cols = 1 if rows > 1 else int(rng.integers(1, 3))
    gap = 0.02
    cell_h, cell_w = (h - gap * (rows + 1)) / rows, (w - gap * (cols + 1)) / cols
    for r in range(rows):
        for k in range(cols):
            x = -w / 2 + gap + cell_w / 2 + k * (cell_w + gap)
            y = base + gap + cell_h / 2 + r * (cell_h + gap)
            parts.append(box((x, y, d / 2 + 0.01), (cell_w, cell_h, 0.02), front_c).named("door"))
            hx = x + (cell_w * 0.35 if cols > 1 and k == 0 else 0.0)
            parts.append(box((hx, y + cell_h * 0.25, d / 2 + 0.03), (0.1, 0.025, 0.03), handle_c))
    return parts


def car(rng: np.random.Generator) -> list[Part]:
    """Body + cabin + four wheels; sedan, SUV/van, pickup (open bed) or sports car,
    optional spoiler; long along z, the body's front end (hood) lowered to a nose."""
    kind = rng.choice(["sedan", "suv", "pickup", "sports"], p=[0.4, 0.25, 0.15, 0.2])
    c = _color(rng)
    length = 1.0
    if kind == "sports":
        width, body_h = rng.uniform(0.42, 0.52), rng.uniform(0.08, 0.13)
        clearance, nose = rng.uniform(0.03, 0.06), rng.uniform(0.4, 0.7)
        cab_len, cab_h, cab_z = length * rng.uniform(0.3, 0.45), rng.uniform(0.06, 0.1), -0.05
    elif kind == "suv":
        width, body_h = rng.uniform(0.4, 0.5), rng.uniform(0.17, 0.27)
        clearance, nose = rng.uniform(0.07, 0.12), rng.uniform(0.7, 0.95)
        cab_len, cab_h = length * rng.uniform(0.55, 0.8), rng.uniform(0.14, 0.24)
        cab_z = rng.uniform(-0.12, 0.0)
    elif kind == "pickup":
        width, body_h = rng.uniform(0.4, 0.5), rng.uniform(0.15, 0.22)
        clearance, nose = rng.uniform(0.07, 0.12), rng.uniform(0.75, 0.95)
        cab_len, cab_h = length * rng.uniform(0.25, 0.35), rng.uniform(0.13, 0.2)
        cab_z = rng.uniform(0.0, 0.12)
    else:
        width, body_h = rng.uniform(0.38, 0.5), rng.uniform(0.12, 0.2)
        clearance, nose = rng.uniform(0.05, 0.09), rng.uniform(0.6, 0.9)
        cab_len, cab_h = length * rng.uniform(0.35, 0.6), rng.uniform(0.1, 0.18)
        cab_z = rng.uniform(-0.15, 0.05)
    parts = [
        tapered_box(
            (0, clearance + body_h / 2, 0),
            (width, body_h, length),
            c,
            top_scale=(0.95, 0.97),
            front_scale=(0.92, nose),
        ).named("body")
    ]
    glass = c if rng.random() < 0.3 else _color(rng, dark=True)
    top = clearance + body_h
    boxy = kind in ("suv", "pickup")
    parts.append(
        tapered_box(
            (0, top + cab_h / 2 - 0.005, cab_z),
            (width * 0.88, cab_h, cab_len),
            glass,
            top_scale=(
                rng.uniform(0.88, 0.98) if boxy else rng.uniform(0.75, 0.95),
                rng.uniform(0.8, 0.95) if boxy else rng.uniform(0.5, 0.85),
            ),
        )
    )
    if kind == "pickup":  # open bed: side walls and tailgate behind the cabin
        bed_front, bed_back = cab_z - cab_len / 2 - 0.02, -length / 2 + 0.02
        bed_len, wall_h = bed_front - bed_back, rng.uniform(0.05, 0.1)
        bed_z = (bed_front + bed_back) / 2
        for side in (-1, 1):
            parts.append(
                box(
                    (side * (width / 2 - 0.02), top + wall_h / 2, bed_z), (0.03, wall_h, bed_len), c
                )
            )
        parts.append(box((0, top + wall_h / 2, bed_back + 0.015), (width, wall_h, 0.03), c))
    wr = rng.uniform(0.07, 0.1) if kind != "sports" else rng.uniform(0.06, 0.08)
    wheel_c = _color(rng, dark=True)
    for zs in (length / 2 - rng.uniform(0.15, 0.22), -length / 2 + rng.uniform(0.15, 0.22)):
        for side in (-1, 1):
            x = side * width / 2
            parts.append(
                cylinder((x - side * 0.05, wr, zs), (x + side * 0.02, wr, zs), wr, wheel_c)
            )
    if kind != "pickup" and rng.random() < (0.5 if kind == "sports" else 0.2):
        parts.append(box((0, top + 0.05, -length / 2 + 0.04), (width * 0.9, 0.015, 0.08), c))
        for side in (-1, 1):
            parts.append(
                box((side * width * 0.3, top + 0.025, -length / 2 + 0.04), (0.02, 0.05, 0.03), c)
            )
    return parts


def chair(rng: np.random.Generator) -> list[Part]:
    """Seat + back + four legs (or a pedestal), optional arms; the back at the back."""
    c = _color(rng)
    leg_c = c if rng.random() < 0.5 else _color(rng)
    w, d = rng.uniform(0.4, 0.6), rng.uniform(0.4, 0.6)
    h, t = rng.uniform(0.4, 0.5), rng.uniform(0.04, 0.1)
    parts = [box((0, h, 0), (w, t, d), c).named("seat")]
    back_h = rng.uniform(0.35, 0.6)
    tilt = rng.uniform(0.0, 0.15)
    back = box((0, h + back_h / 2, -d / 2 + 0.03), (w * rng.uniform(0.8, 1.0), back_h, 0.05), c)
    parts.append(back.warped(lambda v: v - np.outer(v[:, 1] - h, [0, 0, tilt])).named("back"))
    if rng.random() < 0.25:  # office chair: pedestal with star base
        parts.append(cylinder((0, 0.06, 0), (0, h, 0), 0.03, leg_c))
        for a in np.linspace(0, 2 * np.pi, 5, endpoint=False):
            end = (np.sin(a) * w * 0.5, 0.03, np.cos(a) * w * 0.5)
            parts.append(cylinder((0, 0.04, 0), end, 0.025, leg_c, sections=6))
    else:
        inset = 0.04
        parts += _legs(
            (-w / 2 + inset, w / 2 - inset),
            (-d / 2 + inset, d / 2 - inset),
            h - t / 2,
            h - t / 2,
            rng.uniform(0.03, 0.06),
            leg_c,
            rng.random() < 0.5,
            splay=rng.uniform(0.0, 0.15),
        )
    if rng.random() < 0.35:
        arm_h = rng.uniform(0.15, 0.25)
        for side in (-1, 1):
            parts.append(box((side * w / 2, h + arm_h, 0), (0.05, 0.04, d * 0.85), c))
            parts.append(box((side * w / 2, h + arm_h / 2, d * 0.3), (0.04, arm_h, 0.04), c))
    return parts


def display(rng: np.random.Generator) -> list[Part]:
    """Flat monitor on a neck and base, CRT monitor (deep tapered back), TV on two feet or
    a bare (wall-mounted) panel; dark screen on the front."""
    kind = rng.choice(["monitor", "crt", "tv", "panel"], p=[0.45, 0.2, 0.2, 0.15])
    frame = _color(rng, dark=rng.random() < 0.6)
    w = 1.0
    if kind == "crt":
        ph, pt = w * rng.uniform(0.72, 0.85), rng.uniform(0.06, 0.1)
    elif kind == "monitor":
        ph, pt = w * rng.uniform(0.42, 0.8), rng.uniform(0.02, 0.08)
    else:
        ph, pt = w * rng.uniform(0.5, 0.62), rng.uniform(0.02, 0.06)
    stand_h = {"monitor": rng.uniform(0.05, 0.3), "crt": rng.uniform(0.02, 0.06),
               "tv": rng.uniform(0.04, 0.12), "panel": 0.0}[kind]  # fmt: skip
    y = stand_h + ph / 2
    parts = [
        box((0, y, 0), (w, ph, pt), frame).named("panel"),
        box((0, y, pt / 2 + 0.005), (w * 0.92, ph * 0.88, 0.01), _color(rng, True)).named("screen"),
    ]
    if kind == "crt":  # tube housing narrowing towards the back
        depth = w * rng.uniform(0.55, 0.9)
        back = rng.uniform(0.4, 0.7)
        parts.append(
            tapered_box(
                (0, y - ph * 0.03, -pt / 2 - depth / 2),
                (w * 0.9 * back, ph * 0.9 * back, depth),
                frame,
                front_scale=(1 / back, 1 / back),
            )
        )
        parts.append(box((0, stand_h / 2, -depth * 0.4), (w * 0.5, stand_h, depth * 0.5), frame))
    elif kind == "monitor":
        if rng.random() < 0.3:
            parts.append(box((0, y, -pt / 2 - 0.03), (w * 0.5, ph * 0.5, 0.06), frame))
        parts.append(box((0, stand_h / 2 + 0.01, -0.02), (0.06, stand_h + 0.02, 0.04), frame))
        bw, bd = rng.uniform(0.25, 0.5), rng.uniform(0.15, 0.3)
        parts.append(box((0, 0.01, 0), (bw, 0.02, bd), frame))
    elif kind == "tv":  # two feet near the sides
        foot_x = w * rng.uniform(0.3, 0.45)
        fd = rng.uniform(0.15, 0.3)
        for side in (-1, 1):
            parts.append(
                box((side * foot_x, stand_h / 2 + 0.01, 0), (0.04, stand_h + 0.02, fd), frame)
            )
    else:  # wall bracket
        parts.append(box((0, y, -pt / 2 - 0.02), (0.2, 0.2, 0.04), _color(rng, dark=True)))
    return parts


def lamp(rng: np.random.Generator) -> list[Part]:
    """Base + pole (straight or bent) + shade; a bent (desk lamp) arm reaches forward."""
    metal, shade_c = _color(rng), _color(rng)
    height = 1.0
    br = rng.uniform(0.1, 0.22)
    if rng.random() < 0.5:
        parts = [cylinder((0, 0, 0), (0, 0.04, 0), br, metal)]
    else:
        parts = [box((0, 0.02, 0), (br * 1.6, 0.04, br * 1.6), metal)]
    pr = rng.uniform(0.012, 0.025)
    top = np.array([0.0, height * rng.uniform(0.6, 0.85), 0.0])
    parts.append(cylinder((0, 0.03, 0), top, pr, metal).named("pole"))
    if rng.random() < 0.4:  # desk lamp: an arm reaching forward
        end = top + np.array(
            [rng.uniform(-0.1, 0.1), rng.uniform(0.05, 0.2), rng.uniform(0.2, 0.4)]
        )
        parts.append(cylinder(top, end, pr, metal).named("arm"))
        shade_top = end
        shade_bottom = end + np.array([0.0, -rng.uniform(0.12, 0.2), 0.05])
        parts.append(
            frustum(
                shade_top, shade_bottom, rng.uniform(0.03, 0.06), rng.uniform(0.1, 0.16), shade_c
            )
        )
    else:
        sh = rng.uniform(0.18, 0.32)
        r_bottom = rng.uniform(0.12, 0.25)
        r_top = r_bottom * rng.uniform(0.4, 1.0)
        parts.append(
            frustum(top - [0, sh * 0.4, 0], top + [0, sh * 0.6, 0], r_bottom, r_top, shade_c)
        )
    return parts


def loudspeaker(rng: np.random.Generator) -> list[Part]:
    """Cabinet box with driver cones on the front, optional stand."""
    c = _color(rng)
    w, h, d = rng.uniform(0.3, 0.6), rng.uniform(0.5, 1.0), rng.uniform(0.3, 0.6)
    base = 0.0 if rng.random() < 0.6 else rng.uniform(0.05, 0.2)
    parts = [box((0, base + h / 2, 0), (w, h, d), c).named("cabinet")]
    if base > 0:
        parts.append(box((0, base / 2, 0), (w * 0.6, base, d * 0.6), _color(rng, dark=True)))
    n = int(rng.integers(1, 4))
    drv = _color(rng, dark=True)
    radii = sorted(rng.uniform(0.05, min(w, h / n) * 0.42, n), reverse=True)
    y = base + h * 0.08
    for r in radii:
        y += r + 0.02
        driver = frustum((0, y, d / 2 - 0.01), (0, y, d / 2 + 0.03), r, r * 0.7, drv)
        parts.append(driver.named("driver"))
        y += r
    return parts


def rifle(rng: np.random.Generator) -> list[Part]:
    """Long along z: barrel (muzzle in front), receiver, stock (at the back), grip,
    magazine, optional scope."""
    metal, wood = _color(rng, dark=True), _color(rng)
    length = 1.0
    recv_len = rng.uniform(0.25, 0.35)
    recv_h = rng.uniform(0.06, 0.1)
    parts = [box((0, 0, 0.05), (0.04, recv_h, recv_len), metal)]
    barrel_end = length / 2
    parts.append(
        cylinder(
            (0, recv_h * 0.2, 0.05 + recv_len / 2),
            (0, recv_h * 0.2, barrel_end),
            rng.uniform(0.012, 0.02),
            metal,
            sections=8,
        ).named("barrel")
    )
    stock_len = rng.uniform(0.25, 0.35)
    stock_z = 0.05 - recv_len / 2 - stock_len / 2
    parts.append(
        tapered_box(
            (0, -0.02, stock_z),
            (0.045, recv_h * 1.2, stock_len),
            wood,
            front_scale=(1.0, rng.uniform(0.4, 0.8)),
        )
        .warped(lambda v: v - np.outer(np.clip(-(v[:, 2] - stock_z), 0, None), [0, 0.4, 0]))
        .named("stock")
    )
    parts.append(
        box((0, -recv_h, -0.05), (0.035, 0.1, 0.04), wood).warped(
            lambda v: v - np.outer(-(v[:, 1] + recv_h), [0, 0, 0.4])
        )
    )
    if rng.random() < 0.7:
        parts.append(box((0, -recv_h - 0.03, 0.12), (0.03, rng.uniform(0.08, 0.15), 0.05), metal))
    if rng.random() < 0.5:
        sr = rng.uniform(0.015, 0.025)
        parts.append(
            cylinder(
                (0, recv_h / 2 + sr + 0.01, -0.05),
                (0, recv_h / 2 + sr + 0.01, 0.15),
                sr,
                metal,
                sections=8,
            )
        )
    return parts


def sofa(rng: np.random.Generator) -> list[Part]:
    """Base + back + optional arms, optional feet; long along x, the back at the back."""
    c = _color(rng)
    w, d = rng.uniform(0.9, 1.6), rng.uniform(0.4, 0.6)
    feet = rng.uniform(0.0, 0.08)
    base_h = rng.uniform(0.15, 0.25)
    parts = [box((0, feet + base_h / 2, 0), (w, base_h, d), c).named("seat")]
    back_h = rng.uniform(0.2, 0.4)
    back_t = rng.uniform(0.1, 0.2)
    parts.append(
        box(
            (0, feet + base_h + back_h / 2 - 0.01, -d / 2 + back_t / 2), (w, back_h, back_t), c
        ).named("back")
    )
    if rng.random() < 0.8:
        arm_w, arm_h = rng.uniform(0.08, 0.18), rng.uniform(0.08, 0.2)
        for side in (-1, 1):
            parts.append(
                box(
                    (side * (w / 2 - arm_w / 2), feet + base_h + arm_h / 2 - 0.01, 0),
                    (arm_w, arm_h, d),
                    c,
                )
            )
    if rng.random() < 0.5:  # cushions in another shade
        cc = np.clip(c * rng.uniform(0.7, 1.2), 0, 1)
        n = int(rng.integers(1, 4))
        cw = w * 0.8 / n
        for k in range(n):
            x = -w * 0.4 + cw / 2 + k * cw
            parts.append(box((x, feet + base_h + 0.03, 0.03), (cw * 0.95, 0.06, d * 0.7), cc))
    if feet > 0.02:
        parts += _legs(
            (-w / 2 + 0.05, w / 2 - 0.05),
            (-d / 2 + 0.05, d / 2 - 0.05),
            feet,
            feet,
            0.04,
            _color(rng, dark=True),
            True,
        )
    return parts


def table(rng: np.random.Generator) -> list[Part]:
    """Top (rectangular or round) + four legs or a pedestal, optional shelf; long along x,
    front and back alike."""
    c = _color(rng)
    leg_c = c if rng.random() < 0.6 else _color(rng)
    w, d = rng.uniform(0.8, 1.5), rng.uniform(0.5, 1.0)
    h, t = rng.uniform(0.5, 0.8), rng.uniform(0.03, 0.07)
    round_top = rng.random() < 0.3
    if round_top:
        r = d / 2
        parts = [cylinder((0, h - t, 0), (0, h, 0), r, c, sections=16)]
    else:
        parts = [box((0, h - t / 2, 0), (w, t, d), c)]
    if round_top or rng.random() < 0.15:
        parts.append(cylinder((0, 0.03, 0), (0, h - t, 0), rng.uniform(0.03, 0.06), leg_c))
        parts.append(cylinder((0, 0, 0), (0, 0.03, 0), rng.uniform(0.15, 0.3), leg_c))
        return parts
    inset = rng.uniform(0.03, 0.1)
    xs, zs = (-w / 2 + inset, w / 2 - inset), (-d / 2 + inset, d / 2 - inset)
    parts += _legs(xs, zs, h - t, h - t, rng.uniform(0.03, 0.07), leg_c, rng.random() < 0.4)
    if rng.random() < 0.3:
        parts.append(box((0, (h - t) * 0.25, 0), (w - 2 * inset, 0.03, d - 2 * inset), leg_c))
    return parts


def _rotate_x(pivot_y: float, pivot_z: float, angle: float) -> Callable[[np.ndarray], np.ndarray]:
    """Rotation about the x-parallel axis through (y, z) = pivot; positive ``angle`` tips
    +y towards −z (leaning back)."""
    c, s = np.cos(angle), np.sin(angle)

    def fn(v: np.ndarray) -> np.ndarray:
        dy, dz = v[:, 1] - pivot_y, v[:, 2] - pivot_z
        out = v.copy()
        out[:, 1] = pivot_y + c * dy + s * dz
        out[:, 2] = pivot_z - s * dy + c * dz
        return out

    return fn


def telephone(rng: np.random.Generator) -> list[Part]:
    """Smartphone (upright slab with a screen), bar phone (keypad, antenna), open flip
    phone, or desk phone (sloped base with a handset lying on it); screen and keypad in
    front."""
    kind = rng.choice(["smart", "bar", "flip", "desk"], p=[0.5, 0.15, 0.15, 0.2])
    c = _color(rng, dark=rng.random() < 0.5)
    screen, keys = _color(rng, dark=True), _color(rng)
    h = 1.0
    if kind == "desk":
        w, d, bh = h, h * rng.uniform(0.6, 0.9), h * rng.uniform(0.15, 0.3)
        parts = [
            tapered_box(
                (0, bh / 2, 0), (w, bh, d), c, front_scale=(1.0, rng.uniform(0.3, 0.6))
            ).named("body")
        ]
        hl, hr = w * rng.uniform(0.7, 0.9), rng.uniform(0.06, 0.1)  # handset along x
        hz = -d * rng.uniform(0.1, 0.25)
        parts.append(cylinder((-hl / 2, bh + hr, hz), (hl / 2, bh + hr, hz), hr * 0.7, c))
        for side in (-1, 1):
            parts.append(box((side * hl * 0.42, bh + hr, hz), (hl * 0.18, hr * 2, hr * 2.4), c))
        parts.append(box((0, bh * 0.55, d * 0.2), (w * 0.4, 0.03, d * 0.3), keys).named("keypad"))
        return parts
    if kind == "flip":
        w, t = h * rng.uniform(0.35, 0.45), h * rng.uniform(0.06, 0.1)
        lower = h * rng.uniform(0.45, 0.55)
        parts = [box((0, lower / 2, 0), (w, lower, t), c).named("body")]
        keypad = box((0, lower * 0.45, t / 2 + 0.005), (w * 0.8, lower * 0.7, 0.01), keys)
        parts.append(keypad.named("keypad"))
        upper = box((0, lower + (h - lower) / 2, 0), (w, h - lower, t * 0.8), c)
        lid_screen = box((0, lower + (h - lower) * 0.55, t * 0.4 + 0.005),
                         (w * 0.85, (h - lower) * 0.7, 0.01), screen)  # fmt: skip
        tip = _rotate_x(lower, -t / 2, rng.uniform(0.1, 0.45))
        return parts + [upper.warped(tip), lid_screen.warped(tip)]
    if kind == "bar":
        w, t = h * rng.uniform(0.33, 0.45), h * rng.uniform(0.1, 0.18)
        parts = [box((0, h / 2, 0), (w, h, t), c).named("body")]
        face = box((0, h * 0.72, t / 2 + 0.005), (w * 0.8, h * 0.35, 0.01), screen)
        parts.append(face.named("screen"))
        keypad = box((0, h * 0.28, t / 2 + 0.005), (w * 0.8, h * 0.4, 0.012), keys)
        parts.append(keypad.named("keypad"))
        if rng.random() < 0.5:
            parts.append(cylinder((w * 0.3, h * 0.9, 0), (w * 0.3, h * 1.1, 0), 0.02, c))
        return parts
    w, t = h * rng.uniform(0.42, 0.62), h * rng.uniform(0.04, 0.12)
    parts = [box((0, h / 2, 0), (w, h, t), c).named("body")]
    scr = rng.uniform(0.7, 0.9)
    face = box((0, h / 2 + h * 0.02, t / 2 + 0.005), (w * 0.88, h * scr, 0.01), screen)
    parts.append(face.named("screen"))
    if rng.random() < 0.6:
        parts.append(box((w * 0.25, h * 0.88, -t / 2 - 0.01), (0.12, 0.12, 0.02), screen))
    if rng.random() < 0.4:
        parts.append(box((0, h * 0.06, t / 2 + 0.008), (0.12, 0.05, 0.016), keys))
    return parts


def watercraft(rng: np.random.Generator) -> list[Part]:
    """Hull pointed at the bow (in front) + cabin(s), optional mast and sail; long along z."""
    hull_c, cabin_c = _color(rng), _color(rng)
    length, beam = 1.0, rng.uniform(0.18, 0.32)
    depth = rng.uniform(0.1, 0.18)
    hull = tapered_box(
        (0, depth / 2, 0),
        (beam, depth, length),
        hull_c,
        top_scale=(1.0, 1.0),
        front_scale=(rng.uniform(0.02, 0.2), 1.0),
    )
    keel = rng.uniform(0.4, 0.8)  # narrower bottom
    hull = hull.warped(lambda v: v * np.where(v[:, 1:2] < depth / 2, [keel, 1, 1], [1, 1, 1]))
    parts = [hull.named("hull")]
    n = int(rng.integers(1, 3))
    z = rng.uniform(-0.3, -0.05)
    y = depth
    for _ in range(n):
        ch, cl = rng.uniform(0.05, 0.12), rng.uniform(0.15, 0.3)
        parts.append(box((0, y + ch / 2, z), (beam * rng.uniform(0.5, 0.8), ch, cl), cabin_c))
        y += ch
        z += rng.uniform(-0.02, 0.05)
        cl *= 0.7
    if rng.random() < 0.4:
        mast_h = rng.uniform(0.4, 0.7)
        mz = rng.uniform(0.0, 0.15)
        parts.append(cylinder((0, depth, mz), (0, depth + mast_h, mz), 0.012, _color(rng, True)))
        parts.append(
            tapered_box(
                (0, depth + mast_h * 0.5, mz - 0.12),
                (0.01, mast_h * 0.85, 0.22),
                (0.92, 0.92, 0.88),
                top_scale=(1.0, 0.1),
            )
        )
    return parts


#: Generator for each synset id.
GENERATORS: dict[str, Generator] = {
    "02691156": airplane,
    "02828884": bench,
    "02933112": cabinet,
    "02958343": car,
    "03001627": chair,
    "03211117": display,
    "03636649": lamp,
    "03691459": loudspeaker,
    "04090263": rifle,
    "04256520": sofa,
    "04379243": table,
    "04401088": telephone,
    "04530566": watercraft,
}
