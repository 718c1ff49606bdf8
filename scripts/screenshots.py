#!/usr/bin/env python3
"""Drive the real kiosk binary under Xvfb and capture every screen.

Called by scripts/screenshots.sh (which builds the binary, the models and the
synthetic astronaut demo face first). Standard library only.

The kiosk runs with --automation: it reads intents on stdin (`start`,
`accept`, `type 1101...`, `ready`, `home`, ...) and prints `screen <name>` on
every screen change. Screenshots are grabbed from the X display with ffmpeg's
x11grab, so they show exactly what the real window drew.

The camera is a replay of the synthetic clip made from scikit-image's
public-domain astronaut photo; no other face is ever used.
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

DUE = "110105195203150013"
SUSPENDED = "110105194912310054"
ALREADY = "110105195709180076"
NO_TEMPLATE = "110105196011200084"
PIN = "246810"


class Kiosk:
    def __init__(self, binary: str, env: dict[str, str], log: Path):
        self.proc = subprocess.Popen(
            [binary, "--automation"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(log, "w"),
            env=env,
            text=True,
            bufsize=1,
        )
        self.screens: "queue.Queue[str]" = queue.Queue()
        self.current = ""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.strip()
            if line.startswith("screen "):
                self.screens.put(line.split(" ", 1)[1])

    def send(self, *commands: str) -> None:
        assert self.proc.stdin is not None
        for c in commands:
            self.proc.stdin.write(c + "\n")
        self.proc.stdin.flush()

    def wait(self, name: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.current != name:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SystemExit(f"screenshots: screen {name!r} never came (at {self.current!r})")
            try:
                self.current = self.screens.get(timeout=left)
            except queue.Empty:
                continue
            print(f"  screen {self.current}", flush=True)

    def stop(self) -> None:
        try:
            self.send("home")
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def grab(display: str, size: str, out: Path) -> None:
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-f", "x11grab", "-video_size", size,
         "-i", display, "-frames:v", "1", str(out)],
        check=True,
    )
    print(f"  -> {out}", flush=True)


def wait_receipt(path: Path, timeout: float) -> str:
    """The first decoded receipt the simulated printer wrote."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith("{"):
                    print("  receipt printed (simulated printer)", flush=True)
                    return line
        time.sleep(0.2)
    raise SystemExit(f"screenshots: no receipt in {path}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--face", required=True, help="demo face dir (enrol/, clip/)")
    ap.add_argument("--out", default="docs/screens")
    ap.add_argument("--size", default="1280x800")
    ap.add_argument("--devices", required=True,
                    help="directory of the simulated reader and printer (scripts/local_devices.sh)")
    args = ap.parse_args()
    devices = Path(args.devices)

    def device(name: str, command: str) -> None:
        with open(devices / f"{name}.cmd", "w") as fifo:
            fifo.write(command + "\n")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()
    work = Path(subprocess.check_output(["mktemp", "-d"], text=True).strip())
    data = work / "data"
    camera = work / "camera"
    shutil.copytree(Path(args.face) / "clip", camera)

    env = dict(os.environ)
    # The kiosk data dir registered with the local server (screenshots.sh), if any.
    env.setdefault("LIFECERT__STORAGE__DATA_DIR", str(data))
    env.update({
        "LIFECERT__CAMERA__DEVICE": f"replay:{camera}",
        "LIFECERT__CAMERA__FPS": "10",
        "LIFECERT__AUDIO__VOLUME": "0",
        "LANG": "zh_CN.UTF-8",
    })
    enrol = sorted(str(p) for p in (Path(args.face) / "enrol").glob("*.png"))
    subprocess.run([args.binary, "enroll-template", "--id", DUE, *enrol], check=True, env=env,
                   stdout=subprocess.DEVNULL)

    # A virtual screen with a window manager, so full screen really fills it.
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", "1", "-screen", "0", f"{args.size}x24", "-nolisten", "tcp"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert xvfb.stdout is not None
    display = ":" + xvfb.stdout.readline().strip()
    env["DISPLAY"] = display
    env.pop("WAYLAND_DISPLAY", None)
    wm = subprocess.Popen(["matchbox-window-manager", "-use_titlebar", "no"],
                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    k = Kiosk(args.binary, env, work / "kiosk.log")
    n = 0

    def shot(name: str, settle: float = 0.8) -> None:
        nonlocal n
        time.sleep(settle)
        n += 1
        grab(display, args.size, out / f"{n:02d}-{name}.png")

    try:
        k.wait("attract", 60)
        shot("attract", 1.5)
        k.send("start"); k.wait("consent"); shot("consent")
        k.send("decline"); k.wait("alternatives"); shot("alternatives")
        k.send("home"); k.wait("attract")
        # A certification, start to finish, with the replayed demo face.
        k.send("start"); k.wait("consent")
        k.send("accept"); k.wait("who"); shot("who")
        k.send("myself"); k.wait("identity")
        k.send(f"type {DUE[:11]}"); shot("identity")
        # The demo card laid on the simulated reader fills the identity in.
        k.send("clear")
        device("reader", "place")
        k.wait("guidance"); shot("guidance")
        k.send("ready"); k.wait("capture")
        shot("capture", 4.0)
        k.wait("success", 60); shot("success", 1.5)
        k.send("print")
        receipt = wait_receipt(devices / "printer.out", 20)
        if DUE in receipt or "1101**********0013" not in receipt:
            raise SystemExit("screenshots: the receipt does not show the masked ID only")
        shot("success-printed", 1.0)
        device("reader", "remove")
        k.send("home"); k.wait("attract")
        # The same person again: already certified today.
        k.send("start", "accept", "myself", f"type {DUE}", "submit")
        k.wait("ineligible"); shot("already-certified")
        k.send("home"); k.wait("attract")
        k.send("start", "accept", "myself", f"type {SUSPENDED}", "submit")
        k.wait("ineligible"); shot("suspended")
        k.send("home"); k.wait("attract")
        # History by proxy.
        k.send("history"); k.wait("who")
        k.send("myself", f"type {DUE}", "submit")
        k.wait("history"); shot("history")
        k.send("home"); k.wait("attract")
        # Staff mode.
        k.send("staff"); k.wait("staff_pin")
        k.send(f"type {PIN[:3]}"); shot("staff-pin")
        k.send(f"type {PIN[3:]}", "submit"); k.wait("staff_home")
        shot("staff-home", 3.5)
        k.send("self_test"); k.wait("staff_self_test"); shot("self-test", 3.0)
        k.send("back"); k.wait("staff_home")
        k.send("enrol"); k.wait("staff_enrol_id")
        k.send(f"type {NO_TEMPLATE}"); shot("enrol-id")
        k.send("submit"); k.wait("staff_enrol_capture"); shot("enrol-capture", 1.5)
        k.wait("staff_enrol_done", 60); shot("enrol-done")
        k.send("exit_staff"); k.wait("attract")
        # Unplug the camera (the replay disappears): out of service, then back.
        camera.rename(work / "camera-unplugged")
        k.wait("out_of_service", 20); shot("out-of-service")
        (work / "camera-unplugged").rename(camera)
        k.wait("attract", 20)
        print("screenshots: done, the kiosk recovered by itself", flush=True)
    finally:
        k.stop()
        wm.terminate()
        xvfb.terminate()
        log = (work / "kiosk.log").read_text(errors="replace")
        if "panicked" in log:
            print(log[-4000:], file=sys.stderr)
            return 1
        shutil.rmtree(work, ignore_errors=True)
    print(f"screenshots: {n} screens in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
