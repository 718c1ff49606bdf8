#!/usr/bin/env python3
"""Diagnostic: per-frame face-mesh measures of an image directory, including
the nose offset that `lifecert analyze` does not print.

Re-implements the kiosk's mesh step in Python (onnxruntime) closely enough to
tune scripts/demo/make_demo_face.py: ROI tracking from the previous frame's
mesh (crates/vision/src/mesh.rs roi_from_mesh), EAR / MAR / yaw / pitch
(mesh.rs) and nose_offset (src/session.rs). The first ROI comes from a fixed
guess around the demo face; no detector. Not used by the kiosk or the tests.

    pip install onnxruntime   # in the demo venv; dev only
    python3 mesh_probe.py MODELS_DIR FRAMES_DIR [--csv OUT]
"""

from __future__ import annotations

import argparse
import glob
import math
import os
import sys

import numpy as np
import onnxruntime as ort
from scipy import ndimage

try:
    import imageio.v3 as iio

    def read(path):
        return iio.imread(path)[..., :3]

except ImportError:  # pragma: no cover
    from PIL import Image

    def read(path):
        return np.asarray(Image.open(path).convert("RGB"))


N = 192
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263
LIP_UP, LIP_LOW, MOUTH_R, MOUTH_L = 13, 14, 78, 308
CHEEK_R, CHEEK_L, FOREHEAD, CHIN, NOSE = 234, 454, 10, 152, 1


def affine(roi):
    cx, cy, size, th = roi
    k = size / N
    c, s = math.cos(th), math.sin(th)
    h = N / 2
    return np.array([[c * k, -s * k, cx - c * k * h + s * k * h], [s * k, c * k, cy - s * k * h - c * k * h]])


def crop(img, roi):
    m = affine(roi)
    v, u = np.mgrid[0:N, 0:N].astype(np.float64) + 0.5
    x = m[0, 0] * u + m[0, 1] * v + m[0, 2] - 0.5
    y = m[1, 0] * u + m[1, 1] * v + m[1, 2] - 0.5
    out = np.stack(
        [ndimage.map_coordinates(img[..., ch].astype(np.float64), [y, x], order=1, mode="constant") for ch in range(3)],
        axis=-1,
    )
    return (out / 255.0).astype(np.float32)[None]


def apply(m, p):
    return np.stack([m[0, 0] * p[:, 0] + m[0, 1] * p[:, 1] + m[0, 2], m[1, 0] * p[:, 0] + m[1, 1] * p[:, 1] + m[1, 2]], -1)


def roi_from_mesh(mesh):
    r, l = mesh[RIGHT_EYE_OUTER], mesh[LEFT_EYE_OUTER]
    th = math.atan2(l[1] - r[1], l[0] - r[0])
    c, s = math.cos(th), math.sin(th)
    lx = c * mesh[:, 0] + s * mesh[:, 1]
    ly = -s * mesh[:, 0] + c * mesh[:, 1]
    qx, qy = (lx.min() + lx.max()) / 2, (ly.min() + ly.max()) / 2
    cx, cy = c * qx - s * qy, s * qx + c * qy
    return (cx, cy, 1.5 * max(lx.max() - lx.min(), ly.max() - ly.min()), th)


def ear(cnt):
    d = lambda a, b: float(np.hypot(*(cnt[a] - cnt[b])))
    w = d(0, 8)
    return (d(11, 3) + d(13, 5)) / (2 * w) if w > 1e-6 else 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models")
    ap.add_argument("frames")
    ap.add_argument("--roi", default="320,215,260", help="first ROI: cx,cy,size")
    args = ap.parse_args()
    sess = ort.InferenceSession(os.path.join(args.models, "human_facemesh_attention_pinto.onnx"))
    names = ["output_mesh_identity", "conv_faceflag", "output_left_eye:0", "output_right_eye:0"]
    cx, cy, size = (float(v) for v in args.roi.split(","))
    roi = (cx, cy, size, 0.0)
    files = sorted(glob.glob(os.path.join(args.frames, "*.png")) + glob.glob(os.path.join(args.frames, "*.jpg")))
    print("frame,presence,ear_left,ear_right,mar,yaw,pitch,nose_offset")
    for f in files:
        img = read(f)
        mesh_raw, flag, le, re_ = sess.run(names, {"input_1": crop(img, roi)})
        mesh_c = mesh_raw.reshape(-1, 3)[:468]
        m = affine(roi)
        mesh = apply(m, mesh_c[:, :2])
        right_eye = apply(m, le.reshape(-1, 2)[:71])  # image-left eye = subject's right
        left_eye = apply(m, re_.reshape(-1, 2)[:71])
        l, r = mesh_c[CHEEK_L], mesh_c[CHEEK_R]
        yaw = math.degrees(math.atan2(l[2] - r[2], l[0] - r[0]))
        pitch = math.degrees(math.atan2(mesh_c[CHIN][2] - mesh_c[FOREHEAD][2], mesh_c[CHIN][1] - mesh_c[FOREHEAD][1]))
        w = float(np.hypot(*(mesh[MOUTH_R] - mesh[MOUTH_L])))
        mar = float(np.hypot(*(mesh[LIP_UP] - mesh[LIP_LOW]))) / w if w > 1e-6 else 0.0
        rc, lc, n = mesh[CHEEK_R], mesh[CHEEK_L], mesh[NOSE]
        dx, dy = lc - rc
        ln = math.hypot(dx, dy)
        mid = (lc + rc) / 2
        nose = ((n[0] - mid[0]) * dx + (n[1] - mid[1]) * dy) / ln / (ln / 2)
        pres = 1 / (1 + math.exp(-float(flag.ravel()[0])))
        print(f"{os.path.basename(f)},{pres:.3f},{ear(left_eye):.4f},{ear(right_eye):.4f},{mar:.4f},{yaw:.1f},{pitch:.1f},{nose:.3f}")
        if pres >= 0.5:
            roi = roi_from_mesh(mesh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
