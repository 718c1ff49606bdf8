"""Write golden tensors for the shipped models from their ORIGINAL frameworks, for model-check.

Used by models/build.sh when no reference set is available (../shared/model-tools/refs, or
LIFECERT_MODEL_REFS).  Runs in the conversion venv (tensorflow-cpu, onnx):

  mp_face_detection_short_range   TFLite interpreter on the .tflite from the mediapipe wheel
  faceapi_landmark68              TensorFlow: the tf.function that faceapi_to_onnx.py exported,
  faceapi_recognition_u8            on the input it saved (*.tfref_in.npy / *.tfref_out.npy)
  human_facemesh_attention_pinto  TensorFlow executing the tfjs graph model itself (its JSON
                                    topology imported as a GraphDef with the weights from its
                                    manifest; tfjs' `Prelu` op rewritten as relu(x) - a*relu(-x))
  with --ort NAME...              onnxruntime on the converted file instead (weaker: checks only
                                    tract against another ONNX runtime); needs onnxruntime

Inputs are seeded pseudo-random tensors in each model's input range.  Output k of a reference is
the model's k-th ONNX graph output (matched by name to the framework's outputs).

usage: python make_refs.py WORK MODELS_DIR REFS_OUT [--ort NAME...]
  WORK        the build's work dir: x/mp/face_detection_short_range.tflite,
              x/faceapi/*.onnx.tfref_{in,out}.npy, x/fm/facemesh-attention-pinto.json
  MODELS_DIR  the converted .onnx files
  REFS_OUT    written: NAME.in.bin, NAME.out<k>.bin (f32 little-endian), refs.txt
"""
import json
import os
import sys

import numpy as np
import onnx

# ---- args
if len(sys.argv) < 4:
    sys.exit(__doc__)
WORK, MODELS, OUT = sys.argv[1:4]
rest = sys.argv[4:]
ORT = set()
if rest:
    if rest[0] != "--ort":
        sys.exit(__doc__)
    ORT = set(rest[1:])
os.makedirs(OUT, exist_ok=True)

import tensorflow as tf  # noqa: E402  (after arg checking: slow import)

lines = []


def onnx_outputs(name):
    return [o.name for o in onnx.load(os.path.join(MODELS, name + ".onnx")).graph.output]


def save(name, x, outs, src):
    x = np.ascontiguousarray(x, np.float32)
    x.astype("<f4").tofile(os.path.join(OUT, f"{name}.in.bin"))
    for k, o in enumerate(outs):
        np.asarray(o, np.float32).astype("<f4").tofile(os.path.join(OUT, f"{name}.out{k}.bin"))
    lines.append(f"{name} {name}.onnx {','.join(map(str, x.shape))} {len(outs)} {src}")
    print(f"ref {name}: input {list(x.shape)}, {len(outs)} output(s) from {src}")


def ort_ref(name, x):
    import onnxruntime as ort

    ort.set_default_logger_severity(3)
    s = ort.InferenceSession(os.path.join(MODELS, name + ".onnx"), providers=["CPUExecutionProvider"])
    return s.run(None, {s.get_inputs()[0].name: x})


def by_name(name, produced):
    """Order the framework's outputs (dict name -> array) as the ONNX graph outputs."""
    want = onnx_outputs(name)
    norm = {k.split(":")[0]: v for k, v in produced.items()}
    missing = [w for w in want if w not in produced and w.split(":")[0] not in norm]
    if missing:
        sys.exit(f"{name}: framework outputs {sorted(produced)} lack ONNX outputs {missing}")
    return [produced[w] if w in produced else norm[w.split(":")[0]] for w in want]


rng = np.random.RandomState(0)

# ---- BlazeFace short-range: TFLite interpreter
name = "mp_face_detection_short_range"
x = rng.uniform(-1, 1, (1, 128, 128, 3)).astype(np.float32)
if name in ORT:
    save(name, x, ort_ref(name, x), "onnxruntime")
else:
    it = tf.lite.Interpreter(model_path=os.path.join(WORK, "x/mp/face_detection_short_range.tflite"))
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    got = {d["name"]: it.get_tensor(d["index"]) for d in it.get_output_details()}
    save(name, x, by_name(name, got), "tflite")

# ---- face-api rebuild: TensorFlow reference saved by faceapi_to_onnx.py
for name, base in [("faceapi_landmark68", "faceapi_landmark68"), ("faceapi_recognition_u8", "faceapi_recognition")]:
    x = np.load(os.path.join(WORK, f"x/faceapi/{base}.onnx.tfref_in.npy"))
    if name in ORT:
        save(name, x, ort_ref(name, x), "onnxruntime")
    else:
        y = np.load(os.path.join(WORK, f"x/faceapi/{base}.onnx.tfref_out.npy"))
        save(name, x, [y], "tensorflow")


# ---- attention FaceMesh: TensorFlow running the tfjs graph model
def tfjs_graph(src):
    from google.protobuf import json_format
    from tensorflow.core.framework import graph_pb2, node_def_pb2

    d = json.load(open(src))
    gd = json_format.ParseDict(d["modelTopology"], graph_pb2.GraphDef(), ignore_unknown_fields=True)
    nodes = {n.name: n for n in gd.node}
    for group in d["weightsManifest"]:
        buf = b"".join(open(os.path.join(os.path.dirname(src), p), "rb").read() for p in group["paths"])
        off = 0
        for w in group["weights"]:
            n = int(np.prod(w["shape"])) if w["shape"] else 1
            q = w.get("quantization")
            if q:
                dt = {"uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}[q["dtype"]]
                raw = np.frombuffer(buf, dt, n, off)
                off += n * np.dtype(dt).itemsize
                v = raw.astype(np.float32) if q["dtype"] == "float16" else raw.astype(np.float32) * q["scale"] + q["min"]
                v = v.astype(np.float32 if w["dtype"] == "float32" else w["dtype"])
            else:
                dt = {"float32": np.float32, "int32": np.int32}[w["dtype"]]
                v = np.frombuffer(buf, dt, n, off)
                off += n * np.dtype(dt).itemsize
            node = nodes[w["name"]]
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(v.reshape(w["shape"])))
            node.attr["dtype"].type = tf.as_dtype(v.dtype).as_datatype_enum
        if off != len(buf):
            sys.exit(f"{src}: weights group size mismatch ({off} != {len(buf)})")
    new = []
    for n in gd.node:  # tfjs-only op: Prelu(x, a) = relu(x) - a * relu(-x)
        if n.op != "Prelu":
            new.append(n)
            continue
        x_in, a_in = n.input[0], n.input[1]

        def mk(nm, op, inputs):
            m = node_def_pb2.NodeDef(name=nm, op=op, input=inputs)
            m.attr["T"].type = tf.float32.as_datatype_enum
            return m

        p = n.name
        new += [mk(p + "/_neg", "Neg", [x_in]), mk(p + "/_rn", "Relu", [p + "/_neg"]),
                mk(p + "/_m", "Mul", [a_in, p + "/_rn"]), mk(p + "/_r", "Relu", [x_in]),
                mk(p, "Sub", [p + "/_r", p + "/_m"])]
    del gd.node[:]
    gd.node.extend(new)
    sig = d["signature"]
    in_name = list(sig["inputs"].values())[0]["name"]
    outs = {k: v["name"] for k, v in sig["outputs"].items()}  # signature key -> tensor name
    return gd, in_name, outs


name = "human_facemesh_attention_pinto"
x = rng.uniform(0, 1, (1, 192, 192, 3)).astype(np.float32)
if name in ORT:
    save(name, x, ort_ref(name, x), "onnxruntime")
else:
    gd, in_name, outs = tfjs_graph(os.path.join(WORK, "x/fm/facemesh-attention-pinto.json"))
    g = tf.Graph()
    with g.as_default():
        tf.compat.v1.import_graph_def(gd, name="")
    with tf.compat.v1.Session(graph=g) as s:
        vals = s.run(list(outs.values()), {in_name: x})
    save(name, x, by_name(name, dict(zip(outs.keys(), vals))), "tensorflow-tfjs-graph")

with open(os.path.join(OUT, "refs.txt"), "w") as f:
    f.write("\n".join(lines) + "\n")
print("wrote", os.path.join(OUT, "refs.txt"))
