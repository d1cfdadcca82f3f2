#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Instructions per function for each phase of the profile app (see README.md).

usage: profile.py BUILD_DIR [--top N]

Runs BUILD_DIR/zephyr/zephyr.elf (qemu_cortex_m3) in qemu-system-arm with one instruction per
translation block (-singlestep) and the exec log (-d exec,nochain), so that the log has one line
per executed instruction with its function's name. Then, for the second pass of the app's
phases (the first warms up), prints the instructions per round of each phase and the functions
they were spent in.
"""
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import time

PHASES = {
    1: "msg_pool_try_alloc + msg_unref",
    2: "msg_ref + msg_unref (not the last reference)",
    3: "alloc, msg_broadcast to 8, 8 x (msg_receive + msg_unref)",
    4: "floor: a 4-byte token through 8 k_msgq (put + get)",
}
ROUNDS = 100
MARKER = "profile_phase"


def marker_address(elf):
    out = subprocess.run(["arm-none-eabi-nm", elf], check=True, capture_output=True, text=True)
    for line in out.stdout.splitlines():
        addr, _, name = line.split()[:3] if len(line.split()) >= 3 else (None, None, None)
        if name == MARKER:
            return int(addr, 16)
    sys.exit(f"profile.py: no symbol {MARKER} in {elf}")


def run_trace(elf, log):
    qemu = subprocess.Popen(
        ["qemu-system-arm", "-cpu", "cortex-m3", "-machine", "lm3s6965evb", "-nographic",
         "-icount", "shift=6,align=off,sleep=off", "-kernel", elf, "-singlestep",
         "-d", "exec,nochain", "-D", log],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    console = []
    for line in qemu.stdout:
        console.append(line)
        if "PROFILE DONE" in line or time.time() > deadline:
            break
    qemu.kill()
    qemu.wait()
    done = [l for l in console if "PROFILE DONE" in l]
    if not done:
        sys.exit("profile.py: the app did not finish:\n" + "".join(console))
    return done[0].strip()


def demangle(names):
    tool = shutil.which("arm-none-eabi-c++filt") or shutil.which("c++filt")
    if not tool:
        return {n: n for n in names}
    out = subprocess.run([tool], input="\n".join(names), capture_output=True, text=True).stdout
    pretty = {}
    for raw, nice in zip(names, out.splitlines()):
        # Drop the Rust hash suffix (::h0123456789abcdef).
        if "::h" in nice and len(nice.rsplit("::h", 1)[1]) == 16:
            nice = nice.rsplit("::h", 1)[0]
        pretty[raw] = nice
    return pretty


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    build = sys.argv[1]
    top = int(sys.argv[sys.argv.index("--top") + 1]) if "--top" in sys.argv else 12
    elf = os.path.join(build, "zephyr", "zephyr.elf")
    mark = marker_address(elf)
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "exec.log")
        status = run_trace(elf, log)
        per_phase = collections.defaultdict(collections.Counter)
        markers = 0
        with open(log) as f:
            for line in f:
                if not line.startswith("Trace"):
                    continue
                # "Trace 0: 0x7f.. [00000000/000003e0/00000110/ff020201] symbol"
                fields = line.split("[", 1)[1].split("]", 1)
                pc = int(fields[0].split("/")[1], 16)
                sym = fields[1].strip()
                if sym == MARKER:
                    if pc == mark:
                        markers += 1
                        if markers == 10:
                            break
                    continue
                phase = markers - 5  # the second pass: markers 6..9 start phases 1..4
                if 1 <= phase <= 4:
                    per_phase[phase][sym] += 1
    names = sorted({s for c in per_phase.values() for s in c})
    pretty = demangle(names)
    print(status)
    for phase in sorted(per_phase):
        counts = per_phase[phase]
        print(f"\nphase {phase}: {PHASES[phase]}: {sum(counts.values()) / ROUNDS:.1f} instructions per round")
        for sym, n in counts.most_common(top):
            print(f"  {n / ROUNDS:8.1f}  {pretty.get(sym, sym)}")


if __name__ == "__main__":
    main()
