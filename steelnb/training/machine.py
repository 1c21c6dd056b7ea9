"""The machine a time or a budgeted score was measured on, in one line: a training budget buys as many
epochs as the CPU allows, so a score under a budget means little without the CPU, its instruction sets and
what oneDNN actually used (AMX tiles, AVX512-BF16 or plain AVX2)."""
from __future__ import annotations

import os
import platform
import re
import subprocess
import sys

import torch

from .precision import autocast_dtype, native_bf16_instruction_sets

#: A bfloat16 convolution under autocast: the kernel oneDNN picks for it names the instruction set it used.
_PROBE = ("import torch\nx = torch.rand(2, 16, 32, 32)\nconv = torch.nn.Conv2d(16, 16, 3)\n"
          "with torch.autocast('cpu', dtype=torch.bfloat16):\n    conv(x)\n")


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_instruction_sets() -> list[str]:
    """The instruction sets that matter to torch on this CPU, in order: AVX2, AVX512, AVX512-BF16, AMX."""
    capability = torch.backends.cpu.get_cpu_capability()
    vector = [name for name, present in (("AVX2", capability in ("AVX2", "AVX512")), ("AVX512", capability == "AVX512"))
              if present]
    return vector + native_bf16_instruction_sets()


def onednn_bf16_kernel() -> str:
    """The oneDNN kernel a bfloat16 convolution runs on this machine (e.g. ``jit_bf16:avx512_core_bf16`` or
    ``brg_conv_fwd:avx512_core_amx``), read from oneDNN's verbose log of a small probe in a fresh process;
    "unknown" where the log shows none."""
    done = subprocess.run([sys.executable, "-c", _PROBE], env={**os.environ, "ONEDNN_VERBOSE": "1"},
                          capture_output=True, text=True, timeout=120)
    kernels = re.findall(r"primitive,exec,cpu,convolution,([^,]+),", done.stdout)
    return kernels[0] if kernels else "unknown"


def machine_line(threads: int | None = None, amp: bool = True) -> str:
    """One line naming what a CPU measurement ran on: the CPU model, its instruction sets, the kernel oneDNN
    used for bfloat16 (does it use AMX?), the threads, the torch version and the training precision (with
    ``amp`` False, float32 on every CPU)."""
    precision = autocast_dtype(torch.device("cpu"), amp) or torch.float32
    kernel = onednn_bf16_kernel() if precision == torch.bfloat16 else "not used (float32)"
    return (f"{cpu_model()}; {'+'.join(cpu_instruction_sets()) or 'no AVX2'}; oneDNN bf16 kernel {kernel}; "
            f"{threads or torch.get_num_threads()} threads; torch {torch.__version__}; "
            f"training precision {str(precision).removeprefix('torch.')}")
