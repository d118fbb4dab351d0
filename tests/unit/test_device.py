"""The precision a run trains in: what each device is fastest with, and the blog's float32 everywhere."""

import platform

import pytest

from vgg.core.config import preset
from vgg.model.device import cpu_flags, precision_policy

AMX = {"avx512f", "amx_tile", "amx_bf16"}
NO_AMX = {"avx512f", "avx512_bf16"}  # An AMD EPYC's: bfloat16 instructions, no matrix units.
NO_BFLOAT16 = {"avx512f", "avx512_vnni"}  # An older Xeon's: no bfloat16 arithmetic at all.


@pytest.mark.parametrize(
    "flags, on_gpu, expected",
    [
        (AMX, False, "mixed_bfloat16"),
        (NO_AMX, False, "mixed_bfloat16"),
        (NO_BFLOAT16, False, "float32"),
        (NO_AMX, True, "mixed_float16"),
        (AMX, True, "mixed_float16"),
    ],
)
def test_auto_precision_follows_the_device(flags, on_gpu, expected):
    assert precision_policy(preset("cpu"), on_gpu, flags) == expected


def test_a_chosen_precision_and_the_blog_recipe_are_kept_on_any_device():
    assert precision_policy(preset("cpu").replace(mixed_precision="off"), False, AMX) == "float32"
    assert precision_policy(preset("cpu").replace(mixed_precision="bfloat16"), False, NO_BFLOAT16) == "mixed_bfloat16"
    assert precision_policy(preset("blog"), False, AMX) == "float32"


@pytest.mark.skipif(platform.machine() != "x86_64", reason="/proc/cpuinfo names flags so on x86 Linux only")
def test_this_machine_reports_its_flags():
    assert "fpu" in cpu_flags()  # Every x86 CPU lists it: the function read the real file.
