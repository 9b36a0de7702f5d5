"""Cost of hostile images in ``prepare_image`` against an ordinary photo, same run.

Builds a corpus of crafted inputs in a temporary directory (nothing downloaded, nothing
committed): pixel bombs under and over the caps, 16-bit and palette PNGs, JPEG fill bytes and
stuffing, a PNG with a million chunks, a million empty APPn segments, RLE BMPs, the marker
trick before APP1, trailers. Each call runs in a fresh process, which reports its CPU time and
its peak RSS growth over the call. Budget: worst CPU at most 10x the ordinary photo's (or
0.5 s, whichever is larger), at most 150 MB RSS growth, no crash, no EXIF or GPS in any
accepted output.

    .venv/bin/python bench/images.py
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def run_one(path: str) -> None:
    """In the child: one call of prepare_image, measured."""
    from PIL import Image

    from face_idcard._images import ImageRejected, prepare_image

    data = Path(path).read_bytes()
    rss_before = _status_kb("VmRSS")
    # Reset the high-water mark so VmHWM measures this call only (Linux >= 4.0).
    Path("/proc/self/clear_refs").write_text("5")
    started = time.process_time()
    try:
        prepared = prepare_image(data)
        outcome = "accepted"
    except ImageRejected as exc:
        prepared, outcome = None, "rejected:" + exc.reason
    cpu = time.process_time() - started
    growth_mb = max(0, _status_kb("VmHWM") - rss_before) / 1024
    metadata_left = False
    if prepared is not None:
        output = Image.open(io.BytesIO(prepared.data))
        metadata_left = (
            b"Exif" in prepared.data
            or bool(output.getexif())
            or b"planted" in prepared.data
            or b"SERIAL-0042" in prepared.data
        )
    print(json.dumps({"cpu": cpu, "rss_mb": growth_mb, "outcome": outcome, "meta": metadata_left}))


def ordinary_photo() -> bytes:
    """About 500 KB: a 1600 x 1200 picture with mild noise and a phone's EXIF (GPS too)."""
    from PIL import Image

    from tests.support import imagefactory as factory

    base = factory.picture(1600, 1200)
    noise = Image.effect_noise((1600, 1200), 24).convert("RGB")
    photo = Image.blend(base, noise, 0.25)
    exif = factory.gps_exif(orientation=1).tobytes()
    for quality in (92, 88, 84, 80, 75, 70):
        buffer = io.BytesIO()
        photo.save(buffer, "JPEG", quality=quality, exif=exif)
        if buffer.tell() <= 560_000:
            break
    return buffer.getvalue()


def corpus() -> dict[str, bytes]:
    from tests.support import imagefactory as factory

    return {
        "ordinary_photo": ordinary_photo(),
        "png_bomb_over_cap_13000x13000_rgba": factory.png_header_bomb(13000, 13000, 8, 6),
        "png_bomb_16bit_rgba_6000x4000": factory.png_header_bomb(6000, 4000, 16, 6),
        "png_under_cap_rgb_3000x3000": factory.png_header_bomb(3000, 3000, 8, 2),
        "png_under_cap_16bit_grey_3000x3000": factory.png_header_bomb(3000, 3000, 16, 0),
        "png_palette_2000x2000": factory.png_header_bomb(2000, 2000, 8, 3)[:33]
        + factory._chunk(b"PLTE", bytes(range(256)) * 3)
        + factory.png_header_bomb(2000, 2000, 8, 3)[33:],
        "jpeg_large_5000x4000": factory.noise_jpeg(5000, 4000, quality=40),
        "jpeg_fill_before_sos_2mb": factory.jpeg_with_fill_before_sos(2_000_000),
        "jpeg_fill_in_scan_14mb": factory.jpeg_with_fill_in_scan(14_000_000),
        "jpeg_stuffing_7mb": factory.jpeg_with_stuffing(3_500_000),
        "jpeg_million_empty_app": factory.jpeg_with_empty_app_segments(1_000_000),
        "jpeg_marker_trick_before_app1": factory.jpeg_with_marker_trick_before_app1(),
        "jpeg_metadata_and_trailer": factory.metadata_jpeg() + b"\x00" * 3_000_000,
        "png_million_chunks_before_idat": factory.png_with_chunks(1_000_000),
        "png_million_chunks_after_idat": factory.png_with_chunks(1_000_000, before_idat=False),
        "png_metadata": factory.metadata_png(),
        "bmp_rle8_4000x4000": factory.rle8_bmp(4000, 4000),
        "bmp_24bit_2000x1500": factory.bmp(2000, 1500),
    }


def main() -> None:
    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, data in corpus().items():
            path = Path(folder) / name
            path.write_bytes(data)
            child = subprocess.run(
                [sys.executable, __file__, "--one", str(path)],
                capture_output=True,
                text=True,
                timeout=300,
                cwd=ROOT,
            )
            try:
                results[name] = json.loads(child.stdout.strip().splitlines()[-1])
            except (IndexError, ValueError):
                results[name] = {"cpu": 0.0, "rss_mb": 0.0, "outcome": "crash", "meta": False}
            item = results[name]
            print(
                f"{name:40} {len(data) / 1e6:7.2f} MB  cpu {float(item['cpu']):6.3f} s  "
                f"rss +{float(item['rss_mb']):6.1f} MB  {item['outcome']}"
                + ("  METADATA LEFT" if item["meta"] else "")
            )
    baseline = float(results["ordinary_photo"]["cpu"])
    hostile = {name: item for name, item in results.items() if name != "ordinary_photo"}
    worst_cpu = max(float(item["cpu"]) for item in hostile.values())
    worst_rss = max(float(item["rss_mb"]) for item in results.values())
    crashes = sum(item["outcome"] == "crash" for item in results.values())
    metadata_left = sum(bool(item["meta"]) for item in results.values())
    budget = max(10 * baseline, 0.5)
    print(
        f"baseline_cpu_s={baseline:.3f} worst_cpu_s={worst_cpu:.3f} budget_cpu_s={budget:.3f} "
        f"within_budget={worst_cpu <= budget and worst_rss <= 150}"
    )
    print(
        f"RESULT worst_cpu_ratio={worst_cpu / baseline:.2f} worst_rss_mb={worst_rss:.1f} "
        f"crashes={crashes} metadata_left={metadata_left}"
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        run_one(sys.argv[2])
    else:
        main()
