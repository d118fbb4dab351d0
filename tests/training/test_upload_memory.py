"""Large uploads (12 to 49 megapixels) decode within the memory cap to the same input a full-size decode gives.

Peak memory is measured in a fresh Python process, as growth of its peak resident size over what importing numpy,
Pillow and vgg.data.uploads took: VmHWM in /proc/self/status, not ru_maxrss, which Linux carries over from the
parent (pytest, hundreds of MB after making these files) through exec.
"""

import functools
import io
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from helpers import encode, flattened, photo, quadrants, subprocess_environment, transparent_design
from vgg.data.uploads import MAX_DECODE_BYTES, to_network_input

CAP_MB = MAX_DECODE_BYTES / 2**20  # 200 MB: what one upload may take.
PEAK_PROBE = """
import json, re, sys
import numpy, PIL.Image
from vgg.data.uploads import load_upload

def peak_mb():
    with open("/proc/self/status") as status:
        return int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1)) / 1024

before = peak_mb()
with open(sys.argv[1], "rb") as file:
    data = file.read()
image, pixels = load_upload(data, sys.argv[1])
print(json.dumps({"growth_mb": peak_mb() - before, "size": image.size, "pixels": pixels.tolist()}))
"""


@functools.cache
def large_file(kind):
    """(bytes, the 32x32 input a full-size decode gives) for each large upload measured."""
    if kind == "rgba-png-49mp":  # 7000x7000: the design at 10x, so its own input is the full-size one.
        design = transparent_design(700)
        return encode(design.resize((7000, 7000), Image.Resampling.NEAREST), "PNG"), to_network_input(flattened(design))
    if kind == "webp-12mp":  # A 12-megapixel phone photo saved as WebP.
        return encode(quadrants(4032, 3024), "WEBP", lossless=True), to_network_input(quadrants(4032, 3024))
    width, height = {
        "baseline-jpeg-49mp": (8100, 6048),
        "progressive-jpeg-24mp": (6000, 4000),
        "progressive-jpeg-49mp": (8100, 6048),
    }[kind]
    data = encode(photo(width, height, seed=len(kind)), quality=90, progressive=kind.startswith("progressive"))
    return data, to_network_input(Image.open(io.BytesIO(data)))  # Decoded at full size, as RGB.


@pytest.mark.skipif(sys.platform != "linux", reason="reads the peak from /proc/self/status")
@pytest.mark.parametrize(
    "kind", ["rgba-png-49mp", "baseline-jpeg-49mp", "progressive-jpeg-24mp", "progressive-jpeg-49mp", "webp-12mp"]
)
def test_a_large_upload_decodes_within_the_memory_cap_to_the_same_input(kind, tmp_path):
    data, expected = large_file(kind)
    path = tmp_path / kind
    path.write_bytes(data)
    done = subprocess.run(
        [sys.executable, "-c", PEAK_PROBE, str(path)],
        env=subprocess_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    print(f"{kind}: {len(data) / 1e6:.1f} MB file, decoded {result['size']}, peak +{result['growth_mb']:.0f} MB")
    assert result["growth_mb"] < CAP_MB, result["growth_mb"]
    difference = np.abs(np.array(result["pixels"]) - expected.astype(int))
    assert difference.max() <= 4 and difference.mean() < 1, (difference.max(), difference.mean())
