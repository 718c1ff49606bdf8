#!/usr/bin/env python3
"""Synthesise a replayable liveness demo from ONE public-domain photo.

The only face used is scikit-image's ``skimage.data.astronaut()`` (NASA
portrait of Eileen Collins, public domain; it ships inside the scikit-image
wheel from PyPI). From that single still this script writes

  OUT/enrol/enrol_N.png   neutral frontal stills for ``lifecert enroll-template``
  OUT/clip/NNNNN.png      a 10 fps frame sequence (640x480) that cycles through
                          all six voiced actions with neutral pauses
  OUT/clip.mp4            the same frames as a video (only if ffmpeg exists)
  OUT/timeline.csv        frame -> what the synthetic face is doing

Every movement is a non-rigid warp of the photo, not a flat transform:

* head turns / nods: the face inside its outline is treated as a rounded
  surface whose texture slides round its centre (foreshortened on the side
  turning away, stretched on the near side), with a nose that stands out of
  it, so the nose moves relative to the cheeks the way a real head's does
  (the engine's planar-photo test); the movement fades out across the hair;
* blink: the upper-eyelid skin is stretched down over the eye to the lower
  lid (the upper lash line becomes the closed-lid line);
* open mouth: the lower lip and chin are displaced downwards and the gap
  under the upper teeth is painted as a dark mouth interior.

Each frame gets a little sensor noise, sub-pixel sway and brightness flicker
so the sequence is not a frozen still. The RNG seed is fixed: the output is
byte-for-byte reproducible for one version of numpy/scipy/scikit-image.

Usage:  python3 make_demo_face.py [OUT_DIR] [--cycles N] [--no-mp4]
        (default OUT_DIR target/demo-face; run it via make_demo_face.sh,
        which makes the venv; check the result with check_demo_face.sh)
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys

import numpy as np
from scipy import ndimage
from skimage import data as skdata
from skimage.transform import rescale

try:  # imageio comes with scikit-image's optional deps; Pillow as a fallback
    import imageio.v3 as iio

    def write_png(path: str, img: np.ndarray) -> None:
        iio.imwrite(path, img)

except ImportError:  # pragma: no cover
    from PIL import Image

    def write_png(path: str, img: np.ndarray) -> None:
        Image.fromarray(img).save(path)


SEED = 20240611
FPS = 10
W, H = 640, 480

# ---------------------------------------------------------------- the photo
# Landmarks of the astronaut photo in its own 512x512 pixel coordinates,
# read off zoomed crops and checked against `lifecert analyze` (BlazeFace
# eyes (205,101) / (249,108), nose (224,124), mouth (221,144)).
SRC = {
    # image-left eye = subject's right eye: corners, upper/lower lid at centre
    "eye_r": dict(c0=(191.5, 100.0), c1=(213.5, 102.0), up=96.8, low=104.6, brow=90.0),
    # image-right eye = subject's left eye
    "eye_l": dict(c0=(234.5, 101.5), c1=(259.5, 104.0), up=98.8, low=106.2, brow=92.0),
    "nose": (224.0, 120.0),
    # mouth: corners, bottom edge of the upper teeth (split line) at the centre
    "mouth_c0": (203.0, 140.0),
    "mouth_c1": (244.0, 141.0),
    "teeth_bottom": 147.6,
    "lower_lip_bottom": 154.5,
    "chin": (224.0, 179.0),
    # the face (skin outline, forehead under the fringe, chin) as an ellipse
    "face_c": (225.5, 119.0),
    "face_ax": (47.0, 68.0),
}

# Placement of the photo on the 640x480 canvas: scale, then crop offset.
# Face box (BlazeFace-like) about 0.33-0.35 of the frame height, centred.
SCALE = 1.7
# How far the nose tip stands out of the turning face surface, in face
# half-widths.
NOSE_HEIGHT = 0.30
# Width (in face-outline radii) over which the face's movement fades out
# across the hair and neck.
HAIR_FADE = 0.45
# How far the lower lip drops when the mouth is fully open (photo px).
MOUTH_DROP = 19.0
# The face outline lies at this fraction of the radius of the rounded surface
# that turns (1.0 would make the outline the occluding rim and stretch it).
FACE_RIM = 0.85
# Size of the nose bump (photo px): sigma across, sigma along.
NOSE_SIGMA = (7.0, 13.0)
# The face centre (photo px) goes to the canvas's horizontal centre; the top of
# the photo stays at the top (the face centre lands at about 0.45 of the height).
FACE_CENTRE_SRC = (224.0, 129.0)
OFF = (int(round(FACE_CENTRE_SRC[0] * SCALE - W / 2)), 0)


def canvas_xy(p):
    """Photo pixel -> canvas pixel."""
    return (p[0] * SCALE - OFF[0], p[1] * SCALE - OFF[1])


def base_canvas() -> np.ndarray:
    """The astronaut photo scaled and cropped to the canvas (float RGB 0..255)."""
    photo = skdata.astronaut().astype(np.float64)
    big = rescale(photo, SCALE, order=3, channel_axis=-1, preserve_range=True, anti_aliasing=False)
    crop = big[OFF[1] : OFF[1] + H, OFF[0] : OFF[0] + W]
    assert crop.shape[:2] == (H, W), crop.shape
    return np.clip(crop, 0, 255)


# ---------------------------------------------------------------- warping helpers

YY, XX = np.mgrid[0:H, 0:W].astype(np.float64)


def sample(img: np.ndarray, sx: np.ndarray, sy: np.ndarray, order: int = 1) -> np.ndarray:
    out = np.empty_like(img)
    for ch in range(img.shape[2]):
        out[..., ch] = ndimage.map_coordinates(img[..., ch], [sy, sx], order=order, mode="nearest")
    return out


def smoothstep(e0, e1, x):
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


# ---------------------------------------------------------------- head pose

def _slide(t: np.ndarray, angle: float) -> np.ndarray:
    """Forward slide of a point on a circular cross-section: position t (the
    sine of its surface angle) after turning by `angle`. Points turned past
    the rim pile up at the rim (occluded)."""
    phi = np.arcsin(np.clip(t, -1, 1)) + angle
    return np.sin(np.clip(phi, -np.pi / 2, np.pi / 2))


def pose_displacement(x: np.ndarray, y: np.ndarray, yaw: float, pitch: float):
    """Forward displacement (dx, dy) of the photo point (x, y) (canvas px) when
    the head turns by `yaw` / nods by `pitch` (radians).

    The face inside its outline ellipse is a rounded surface (circular cross
    sections whose rim lies a little beyond the outline, at FACE_RIM of the
    radius) that turns round its centre; the nose tip stands NOSE_HEIGHT face
    half-widths out of it. Outside the outline the rim's displacement fades out
    across the hair and neck, so nothing tears."""
    cx, cy = canvas_xy(SRC["face_c"])
    ax, ay = SRC["face_ax"][0] * SCALE, SRC["face_ax"][1] * SCALE
    u = (x - cx) / ax
    v = (y - cy) / ay
    r = np.sqrt(u * u + v * v)
    # points outside the outline take the displacement of the outline point
    # in their direction, faded out over HAIR_FADE outline radii
    k = np.where(r > 1.0, 1.0 / np.maximum(r, 1e-9), 1.0)
    fade = 1.0 - smoothstep(1.0, 1.0 + HAIR_FADE, r)
    ue, ve = u * k, v * k
    # row / column cross-sections of the surface
    R_row = np.sqrt(np.clip(1 - ve * ve, 0, 1)) / FACE_RIM  # in units of ax
    R_col = np.sqrt(np.clip(1 - ue * ue, 0, 1)) / FACE_RIM  # in units of ay
    tx = np.where(R_row > 1e-6, ue / np.maximum(R_row, 1e-6), 0.0)
    ty = np.where(R_col > 1e-6, ve / np.maximum(R_col, 1e-6), 0.0)
    dx = ax * R_row * (_slide(tx, yaw) - tx)
    dy = ay * R_col * (_slide(ty, pitch) - ty)
    # the nose stands out of the surface
    nx, ny = canvas_xy(SRC["nose"])
    g = np.exp(-0.5 * (((x - nx) / (NOSE_SIGMA[0] * SCALE)) ** 2 + ((y - ny) / (NOSE_SIGMA[1] * SCALE)) ** 2))
    h = NOSE_HEIGHT * ax
    dx = dx * fade + h * np.sin(yaw) * g
    dy = dy * fade + h * np.sin(pitch) * g
    # the neck and suit below the chin stay where they are
    chin_y = SRC["chin"][1] * SCALE - OFF[1]
    keep = 1.0 - smoothstep(chin_y - 2 * SCALE, chin_y + 20 * SCALE, y)
    return dx * keep, dy * keep


def pose_warp(img: np.ndarray, yaw_deg: float, pitch_deg: float) -> np.ndarray:
    """Turns (yaw > 0: to the subject's own left, face towards the image right)
    or nods (pitch > 0: head down) the face; see `pose_displacement`."""
    if abs(yaw_deg) < 1e-6 and abs(pitch_deg) < 1e-6:
        return img
    a, b = np.radians(yaw_deg), np.radians(pitch_deg)
    # backward map by damped fixed-point iteration: src + D(src) = dst
    sx, sy = XX.copy(), YY.copy()
    for _ in range(40):
        dx, dy = pose_displacement(sx, sy, a, b)
        sx = 0.5 * sx + 0.5 * (XX - dx)
        sy = 0.5 * sy + 0.5 * (YY - dy)
    return sample(img, sx, sy, order=1)


# ---------------------------------------------------------------- blink

def _lid_curves(eye, x):
    """Upper and lower lid y (photo px) over x for one eye, NaN outside."""
    (x0, y0), (x1, y1) = eye["c0"], eye["c1"]
    t = (x - x0) / (x1 - x0)
    inside = (t > 0) & (t < 1)
    mid = y0 + (y1 - y0) * t
    prof = np.sqrt(np.clip(1 - (2 * t - 1) ** 2, 0, 1))
    cmid = y0 + (y1 - y0) * 0.5
    up = mid - (cmid - eye["up"]) * prof
    low = mid + (eye["low"] - cmid) * prof
    return np.where(inside, up, np.nan), np.where(inside, low, np.nan)


def blink_warp(img: np.ndarray, amount: float) -> np.ndarray:
    """Closes both eyes by `amount` (0 open .. 1 closed): the skin between the
    brow and the upper lid is stretched down to the lower lid."""
    if amount <= 0:
        return img
    out = img.copy()
    for name in ("eye_r", "eye_l"):
        eye = SRC[name]
        x0 = int(np.floor(canvas_xy(eye["c0"])[0])) - 2
        x1 = int(np.ceil(canvas_xy(eye["c1"])[0])) + 2
        xs_c = np.arange(x0, x1 + 1, dtype=np.float64)
        xs_p = (xs_c + OFF[0]) / SCALE
        up, low = _lid_curves(eye, xs_p)
        ok = ~np.isnan(up)
        top_p = eye["brow"] + 2.0
        for xc, u, lo, good in zip(xs_c.astype(int), up, low, ok):
            if not good:
                continue
            close = u + amount * (lo - u - 0.6)
            yt, yu, yc = top_p * SCALE - OFF[1], u * SCALE - OFF[1], close * SCALE - OFF[1]
            ylo = lo * SCALE - OFF[1]
            ys = np.arange(int(np.floor(yt)), int(np.ceil(ylo)) + 2)
            src = ys.astype(np.float64).copy()
            k = (yu - yt) / max(yc - yt, 1e-3)
            m1 = ys <= yc
            src[m1] = yt + (ys[m1] - yt) * k
            # below the new lid line the rest of the eye shows unchanged
            col = np.stack([src, np.full_like(src, xc)])
            for ch in range(3):
                out[ys, xc, ch] = ndimage.map_coordinates(img[..., ch], col, order=1, mode="nearest")
    return out


# ---------------------------------------------------------------- mouth

def _teeth_line(xp: np.ndarray) -> np.ndarray:
    """Bottom edge of the upper teeth (photo px): a smile curve through the
    mouth corners and the teeth's lowest point."""
    (x0, y0), (x1, y1) = SRC["mouth_c0"], SRC["mouth_c1"]
    t = (xp - x0) / (x1 - x0)
    return y0 + (y1 - y0) * t + (SRC["teeth_bottom"] - (y0 + y1) / 2) * 4 * t * (1 - t)


def mouth_warp(img: np.ndarray, amount: float) -> np.ndarray:
    """Opens the mouth by `amount` (0..1): the lower lip and the chin drop,
    the gap under the upper teeth becomes a dark mouth interior."""
    if amount <= 0:
        return img
    (mx0, _), (mx1, _) = SRC["mouth_c0"], SRC["mouth_c1"]
    mcx = (mx0 + mx1) / 2 * SCALE - OFF[0]
    half = (mx1 - mx0) / 2 * SCALE
    drop = amount * MOUTH_DROP * SCALE
    xp = (XX[0] + OFF[0]) / SCALE
    split = _teeth_line(xp) * SCALE - OFF[1]  # per canvas column
    u = (XX[0] - mcx) / half
    lens = np.clip(1 - u * u, 0, 1) ** 0.8  # the lip opening between the corners
    jaw = np.exp(-0.5 * (u / 1.5) ** 2)  # the jaw and chin drop more broadly
    lip_y = SRC["lower_lip_bottom"] * SCALE - OFF[1]
    chin_y = SRC["chin"][1] * SCALE - OFF[1]

    def dy_of(y):
        t = smoothstep(lip_y - 2 * SCALE, lip_y + 10 * SCALE, y)
        d = drop * (lens * (1 - t) + jaw * t)
        d = d * (1.0 - smoothstep(chin_y, chin_y + 30 * SCALE, y))
        return np.where(y >= split, d, 0.0)

    gap_top = split
    gap_bot = split + drop * lens
    sy = YY.copy()
    for _ in range(30):
        sy = 0.5 * sy + 0.5 * (YY - dy_of(np.maximum(sy, split + 1e-3)))
    below = YY >= gap_bot
    sy = np.where(below, np.maximum(sy, split), YY)
    out = sample(img, XX, sy, order=1)
    # the mouth interior: dark under the teeth, a little redder towards the
    # tongue, with 1 px soft edges
    span = np.maximum(gap_bot - gap_top, 1e-3)
    depth = np.clip((YY - gap_top) / span, 0, 1)
    colour = np.stack([28 + 55 * depth**2, 10 + 18 * depth**2, 12 + 20 * depth**2], axis=-1)
    alpha = np.clip(YY - gap_top + 0.5, 0, 1) * np.clip(gap_bot - YY + 0.5, 0, 1)
    alpha = alpha * (lens > 0)
    return out * (1 - alpha[..., None]) + colour * alpha[..., None]


# ---------------------------------------------------------------- frame finishing

def finish(img: np.ndarray, rng: np.random.Generator, t: float) -> np.ndarray:
    """Sub-pixel sway, brightness flicker and sensor noise; to uint8."""
    dx = 0.8 * np.sin(2 * np.pi * t / 3.7) + rng.normal(0, 0.15)
    dy = 0.6 * np.sin(2 * np.pi * t / 5.3 + 1.0) + rng.normal(0, 0.15)
    moved = sample(img, XX - dx, YY - dy, order=1)
    gain = 1.0 + 0.012 * np.sin(2 * np.pi * t / 2.9) + rng.normal(0, 0.004)
    noisy = moved * gain + rng.normal(0, 2.0, moved.shape)
    return np.clip(np.round(noisy), 0, 255).astype(np.uint8)


def render(base, yaw=0.0, pitch=0.0, blink=0.0, mouth=0.0):
    img = blink_warp(base, blink)
    img = mouth_warp(img, mouth)
    img = pose_warp(img, yaw, pitch)
    return img


# ---------------------------------------------------------------- the choreography

# Peak synthetic angles (degrees of the warp model, not of the measured head
# pose: the face mesh reads about 0.6-0.7 of a yaw warp and about 1.2-1.3 of
# a pitch warp, see README.md).
TURN_YAW_LEFT = 40.0
TURN_YAW_RIGHT = 46.0
NOD_PITCH = 15.0

# One cycle, 10 fps. Each action: one ramp frame, HOLD frames at the peak,
# one ramp frame back; GAP neutral frames after it. Blinks happen inside some
# gaps (eye state does not matter to the engine's "back to neutral" check).
HOLD = 5
GAP = 4
ORDER = ["turn_left", "raise_head", "open_mouth", "turn_right", "lower_head"]
BLINK_AFTER = {"turn_left", "open_mouth", "lower_head"}
RAMP = 0.55
BLINK_SHAPE = [0.0, 0.75, 1.0, 0.35]  # eyelid closure over the GAP frames


def pose_for(action: str, k: float) -> dict:
    return {
        "turn_left": dict(yaw=TURN_YAW_LEFT * k),
        "turn_right": dict(yaw=-TURN_YAW_RIGHT * k),
        "raise_head": dict(pitch=-NOD_PITCH * k),
        "lower_head": dict(pitch=NOD_PITCH * k),
        "open_mouth": dict(mouth=k),
    }[action]


def cycle() -> list:
    """The frames of one cycle: dicts of render parameters plus a label."""
    frames = []
    for action in ORDER:
        profile = [RAMP] + [1.0] * HOLD + [RAMP]
        for k in profile:
            f = dict(yaw=0.0, pitch=0.0, blink=0.0, mouth=0.0, label=action)
            f.update(pose_for(action, k))
            frames.append(f)
        for i in range(GAP):
            f = dict(yaw=0.0, pitch=0.0, blink=0.0, mouth=0.0, label="neutral")
            if action in BLINK_AFTER:
                f["blink"] = BLINK_SHAPE[i % len(BLINK_SHAPE)]
                if f["blink"] > 0:
                    f["label"] = "blink"
            frames.append(f)
    # a little natural sway of the head on every frame (degrees of the model)
    n = len(frames)
    for i, f in enumerate(frames):
        f["yaw"] += 1.5 * np.sin(2 * np.pi * i / n + 0.4)
        f["pitch"] += 1.0 * np.sin(4 * np.pi * i / n + 1.3)
    return frames


ENROL_VARIANTS = [  # (yaw, pitch, gain) of each enrolment still
    (0.0, 0.0, 1.00),
    (3.0, -1.5, 1.03),
    (-3.0, 1.5, 0.97),
    (1.5, 2.0, 1.01),
]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", nargs="?", default="target/demo-face", help="output directory")
    ap.add_argument("--cycles", type=int, default=4, help="cycles in the clip (default 4)")
    ap.add_argument("--no-mp4", action="store_true", help="do not write clip.mp4")
    ap.add_argument("--probe", action="store_true", help="only write one frame per pose (tuning)")
    args = ap.parse_args(argv)
    out = args.out
    base = base_canvas()
    rng = np.random.default_rng(SEED)

    if args.probe:
        d = os.path.join(out, "probe")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        poses = [
            ("00_neutral", {}),
            ("01_left", dict(yaw=TURN_YAW_LEFT)),
            ("02_right", dict(yaw=-TURN_YAW_RIGHT)),
            ("03_down", dict(pitch=NOD_PITCH)),
            ("04_up", dict(pitch=-NOD_PITCH)),
            ("05_blink", dict(blink=1.0)),
            ("06_mouth", dict(mouth=1.0)),
            ("07_blink75", dict(blink=0.75)),
            ("08_blink35", dict(blink=0.35)),
            ("09_mouth55", dict(mouth=RAMP)),
        ]
        for i, (name, kw) in enumerate(poses):
            write_png(os.path.join(d, f"{name}.png"), finish(render(base, **kw), rng, i / FPS))
        return 0

    for sub in ("enrol", "clip"):
        shutil.rmtree(os.path.join(out, sub), ignore_errors=True)
        os.makedirs(os.path.join(out, sub))

    # enrolment stills: frontal, slight pose / light variation
    for i, (yaw, pitch, gain) in enumerate(ENROL_VARIANTS):
        img = render(base, yaw=yaw, pitch=pitch) * gain
        write_png(os.path.join(out, "enrol", f"enrol_{i + 1}.png"), finish(img, rng, 0.37 * i))

    # the clip: one cycle rendered, replayed with fresh noise and sway
    frames = cycle()
    rendered = []
    for f in frames:
        rendered.append(render(base, f["yaw"], f["pitch"], f["blink"], f["mouth"]))
    rows = []
    n = 0
    for c in range(args.cycles):
        for i, f in enumerate(frames):
            t = n / FPS
            write_png(os.path.join(out, "clip", f"{n:05d}.png"), finish(rendered[i], rng, t))
            rows.append([n, f"{t:.1f}", f["label"], f"{f['yaw']:.1f}", f"{f['pitch']:.1f}", f"{f['blink']:.2f}", f"{f['mouth']:.2f}"])
            n += 1
    with open(os.path.join(out, "timeline.csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["frame", "t", "label", "warp_yaw", "warp_pitch", "blink", "mouth"])
        w.writerows(rows)

    if not args.no_mp4 and shutil.which("ffmpeg"):
        mp4 = os.path.join(out, "clip.mp4")
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-y", "-framerate", str(FPS),
             "-i", os.path.join(out, "clip", "%05d.png"),
             "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "16", mp4],
            check=True,
        )
    print(f"{out}: {len(ENROL_VARIANTS)} enrolment stills, {n} clip frames "
          f"({n / FPS:.1f} s, cycle {len(frames) / FPS:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
