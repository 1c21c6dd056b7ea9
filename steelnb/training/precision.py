"""Mixed precision, one switch for training and validation: fp16 on CUDA, bf16 on CPUs that have it.

On a CUDA GPU, autocast to float16 (with a gradient scaler) roughly doubles throughput. On a CPU
with native bfloat16 instructions (AVX512-BF16 or AMX), autocast to bfloat16 makes a DeepLabV3+
ResNet18 training step about 1.6x faster; bfloat16 has float32's range, so no gradient scaling is
needed. On other CPUs bfloat16 would be emulated and slower, so they stay in float32. Losses and
metrics are always computed in float32.
"""
from __future__ import annotations

import contextlib

import torch

#: The instruction sets that compute bfloat16 in hardware, with torch's probe for each.
NATIVE_BF16_PROBES = {"AVX512-BF16": "_is_avx512_bf16_supported", "AMX": "_is_amx_tile_supported"}


def native_bf16_instruction_sets() -> list[str]:
    """Which of :data:`NATIVE_BF16_PROBES` this CPU has (torch's probes; none where this torch lacks them).

    None where torch's vector code is capped below AVX-512 (``ATEN_CPU_CAPABILITY=avx2``, as with
    ``ONEDNN_MAX_CPU_ISA=AVX2`` for oneDNN): the probes read the chip, but the kernels then run without those
    instructions, so bfloat16 would be emulated. That is how an AVX-512 machine stands in for an AVX2-only one."""
    if torch.backends.cpu.get_cpu_capability() != "AVX512":
        return []
    return [name for name, probe in NATIVE_BF16_PROBES.items() if getattr(torch.cpu, probe, lambda: False)()]


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 in hardware (AVX512-BF16 or AMX tiles)."""
    return bool(native_bf16_instruction_sets())


def autocast_dtype(device: torch.device, enabled: bool = True) -> torch.dtype | None:
    """The autocast dtype for ``device`` (None: run in float32)."""
    if not enabled:
        return None
    if device.type == "cuda":
        return torch.float16
    if device.type == "cpu" and cpu_has_native_bf16():
        return torch.bfloat16
    return None


def mixed_precision(device: torch.device, enabled: bool = True) -> contextlib.AbstractContextManager:
    """A context that runs the forward pass in :func:`autocast_dtype` (or does nothing)."""
    dtype = autocast_dtype(device, enabled)
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()


def make_grad_scaler(device: torch.device, amp: bool) -> torch.amp.GradScaler:
    """The gradient scaler of mixed-precision training: active for float16 on CUDA, where small gradients
    would underflow; a pass-through elsewhere (bfloat16 on CPUs has float32's range, float32 needs none).
    Its state (the current scale) is saved in every checkpoint and restored on resume."""
    return torch.amp.GradScaler(device.type, enabled=amp and device.type == "cuda")
