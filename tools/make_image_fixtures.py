#!/usr/bin/env python3
"""Regenerates tests/fixtures/images/: small test images in every format and
EXIF orientation lepton reads, and what torchvision / transformers / timm make
of them (the reference the C pipeline is tested against).

Reference pipeline, per case (the frameworks' own code where installed):
  PIL.Image.open -> ImageOps.exif_transpose -> .convert('RGB')
  -> torchvision.transforms.Resize(resize, interpolation) -> CenterCrop(crop)
  [-> ToTensor -> Normalize(mean, std) for the "norm" tensors]
transformers' ConvNextImageProcessor / ViTImageProcessor (PIL path) for the
"hf_*" cases; timm's eval transform (Resize(floor(size / crop_pct)) +
CenterCrop(size), as timm.data.transforms_factory builds it) for "timm_*".
One deliberate difference from PIL: 16-bit grayscale keeps its high byte (PIL
clips it to 255); the reference for that case applies the same rule.

Outputs: the images, manifest.json (cases), expected.safetensors (u8 [H, W, 3]
pixels after resize+crop, and f32 [3, H, W] normalized tensors for a few).
Needs: torch, torchvision, pillow, numpy, safetensors, transformers.

    python3 tools/make_image_fixtures.py                  # the committed set
    python3 tools/make_image_fixtures.py --full DIR       # full-size (256 -> 224)
        references for the real photographs, written to DIR (not committed);
        run the C test with LP_IMAGE_FULL_FIXTURES=DIR/manifest.json
"""
import argparse
import io
import json
import math
import os
import sys

import numpy as np
from PIL import Image, ImageOps
from safetensors.numpy import save_file
from torchvision import transforms
from torchvision.transforms import InterpolationMode

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "images")
MEDICAL = "../shared/data/images/medical"
SKIMAGE = "/usr/lib/python3/dist-packages/skimage/data"
INTERP = {"bilinear": InterpolationMode.BILINEAR, "bicubic": InterpolationMode.BICUBIC,
          "nearest": InterpolationMode.NEAREST, "lanczos": InterpolationMode.LANCZOS,
          "box": InterpolationMode.BOX, "hamming": InterpolationMode.HAMMING}
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def synthetic(w, h, seed):
    """A photo-like RGB image: smooth gradients, hard edges, texture, noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 128 + 100 * np.sin(x / 9.0) * np.cos(y / 13.0)
    g = 255 * x / max(w - 1, 1)
    b = 255 * ((x - w / 2) ** 2 + (y - h / 3) ** 2 < (min(w, h) / 3) ** 2)
    img = np.stack([r, g, b], -1) + rng.normal(0, 12, (h, w, 3))
    img[h // 5:h // 5 + 3, :, :] = (255, 0, 0)       # a thin line: aliasing shows
    img[:, w // 4, :] = 0
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


def to_rgb(img):
    img = ImageOps.exif_transpose(img)
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):  # lepton: 16-bit gray keeps its high byte
        a = np.asarray(img).astype(np.uint32) >> 8
        img = Image.fromarray(a.astype(np.uint8), "L")
    return img.convert("RGB")


def tv_pixels(path, resize, crop, interp):
    img = to_rgb(Image.open(path))
    t = transforms.Compose([transforms.Resize(resize, interpolation=INTERP[interp]),
                            transforms.CenterCrop(crop)])
    return np.ascontiguousarray(np.asarray(t(img), dtype=np.uint8))


def tv_normalized(path, resize, crop, interp):
    img = to_rgb(Image.open(path))
    t = transforms.Compose([transforms.Resize(resize, interpolation=INTERP[interp]),
                            transforms.CenterCrop(crop), transforms.ToTensor(),
                            transforms.Normalize(MEAN, STD)])
    return t(img).numpy().astype(np.float32)


def exif_bytes(orientation, big_endian=False):
    """An APP1 payload ("Exif\\0\\0" + TIFF) with IFD0 holding only 0x0112."""
    e = ">" if big_endian else "<"
    import struct
    tiff = (b"MM" if big_endian else b"II") + struct.pack(e + "HI", 42, 8)
    tiff += struct.pack(e + "H", 2)  # two entries: a decoy tag, then orientation
    tiff += struct.pack(e + "HHI", 0x010F, 2, 4) + b"abc\0"        # Make = "abc"
    tiff += struct.pack(e + "HHIH", 0x0112, 3, 1, orientation) + b"\0\0"
    tiff += struct.pack(e + "I", 0)
    return b"Exif\0\0" + tiff


def save(img, name, **kw):
    path = os.path.join(OUT, name)
    img.save(path, **kw)
    assert os.path.getsize(path) < 50_000, (name, os.path.getsize(path))
    return path


def make_images():
    """Writes the committed images; returns [(file, exact)]: exact when the
    decode is lossless in both PIL and stb (all but JPEG)."""
    os.makedirs(OUT, exist_ok=True)
    base = synthetic(150, 101, 1)
    files = []
    files.append((save(base, "rgb_baseline.jpg", quality=90), False))
    files.append((save(base, "rgb_progressive.jpg", quality=90, progressive=True), False))
    files.append((save(base, "rgb_444.jpg", quality=95, subsampling=0), False))
    files.append((save(base.convert("L"), "gray.jpg", quality=90), False))
    files.append((save(base, "rgb8.png"), True))
    rgba = base.copy()
    rgba.putalpha(Image.fromarray(np.tile(np.arange(150, dtype=np.uint8), (101, 1))))
    files.append((save(rgba, "rgba8.png"), True))
    files.append((save(base.convert("L"), "gray8.png"), True))
    files.append((save(base.convert("LA"), "gray_alpha.png"), True))
    pal = base.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    files.append((save(pal, "palette.png"), True))
    palt = pal.copy()
    palt.info["transparency"] = 3
    files.append((save(palt, "palette_trns.png", transparency=3), True))
    a16 = (np.asarray(base.resize((90, 61)), dtype=np.uint16) * 257 + 7).astype(">u2")
    # 16-bit RGB PNG: PIL cannot write it, so write it by hand (zlib + crc).
    files.append((write_png16_rgb(a16, "rgb16.png"), True))
    g16 = Image.fromarray((np.asarray(base.convert("L"), dtype=np.uint16) * 200).astype(np.uint16))
    files.append((save(g16, "gray16.png"), True))
    files.append((save(base.convert("1"), "bilevel.png"), True))
    files.append((save(base, "rgb24.bmp"), True))
    files.append((save(pal, "palette8.bmp"), True))
    frame2 = synthetic(150, 101, 2).convert("P", palette=Image.Palette.ADAPTIVE, colors=32)
    files.append((save(pal, "anim.gif", save_all=True, append_images=[frame2], duration=100, loop=0), True))
    files.append((save(base, "rgb.ppm"), True))
    files.append((save(base.convert("L"), "gray.pgm"), True))
    small = synthetic(40, 30, 3)  # smaller than the crop: upscaling path
    files.append((save(small, "small_up.png"), True))
    # EXIF orientations on a non-symmetric image (60 x 40), little and big endian.
    orient = synthetic(60, 40, 4)
    for o in range(1, 9):
        files.append((save(orient, f"exif_{o}.jpg", quality=92, exif=exif_bytes(o)), False))
    files.append((save(orient, "exif_6_be.jpg", quality=92, exif=exif_bytes(6, True)), False))
    return files


def write_png16_rgb(a16, name):
    import struct
    import zlib
    h, w, _ = a16.shape
    raw = b"".join(b"\0" + a16[y].tobytes() for y in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    path = os.path.join(OUT, name)
    with open(path, "wb") as f:
        f.write(png)
    assert Image.open(path).mode == "RGB"
    assert os.path.getsize(path) < 50_000
    return path


def rel(path):
    return os.path.relpath(path, ROOT)


def committed():
    files = make_images()
    cases, tensors = [], {}
    # 51 - 48 = 3: torchvision's round-half-even offset (2) differs from floor (1).
    combos = [(55, 48, "bilinear"), (51, 48, "bicubic")]
    for i, (path, exact) in enumerate(files):
        stem = os.path.splitext(os.path.basename(path))[0]
        both = stem in ("rgb8", "rgb_baseline", "rgb_progressive", "small_up")
        for resize, crop, interp in (combos if both else [combos[i % 2]]):
            name = f"{stem}_{interp}"
            tensors[name] = tv_pixels(path, resize, crop, interp)
            cases.append({"name": name, "image": rel(path), "resize": resize, "crop": crop,
                          "interpolation": interp, "pixels": name, "exact": exact})
    base = os.path.join(OUT, "rgb8.png")
    for interp in ("nearest", "lanczos", "box", "hamming"):
        name = f"rgb8_{interp}"
        tensors[name] = tv_pixels(base, 55, 48, interp)
        cases.append({"name": name, "image": rel(base), "resize": 55, "crop": 48,
                      "interpolation": interp, "pixels": name, "exact": True})
    # Normalized tensors (ToTensor + Normalize) for two cases.
    for stem, interp, resize in (("rgb8", "bilinear", 55), ("palette", "bicubic", 51)):
        name = f"norm_{stem}_{interp}"
        tensors[name] = tv_normalized(os.path.join(OUT, stem + ".png"), resize, 48, interp)
        cases.append({"name": name, "image": rel(os.path.join(OUT, stem + ".png")), "resize": resize,
                      "crop": 48, "interpolation": interp, "normalized": name, "exact": True})
    # Real images (read in place from shared data), reduced size.
    for f in sorted(os.listdir(os.path.join(ROOT, MEDICAL))):
        if f.endswith(".dcm"):
            continue
        path = os.path.join(ROOT, MEDICAL, f)
        name = "medical_" + os.path.splitext(f)[0]
        tensors[name] = tv_pixels(path, 73, 64, "bilinear")
        cases.append({"name": name, "image": os.path.join(MEDICAL, f), "resize": 73, "crop": 64,
                      "interpolation": "bilinear", "pixels": name, "exact": not f.endswith(".jpg")})
    # One full ImageNet-recipe case (256 -> 224 bilinear) on the fundus photo.
    fundus = os.path.join(MEDICAL, "600px-Fundus_photograph_of_normal_right_eye.jpg")
    tensors["full_fundus"] = tv_pixels(os.path.join(ROOT, fundus), 256, 224, "bilinear")
    cases.append({"name": "full_fundus", "image": fundus, "resize": 256, "crop": 224,
                  "interpolation": "bilinear", "pixels": "full_fundus", "exact": False})
    cases += hf_cases(tensors)
    cases += timm_cases(tensors)
    save_file(tensors, os.path.join(OUT, "expected.safetensors"))
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump({"generator": "tools/make_image_fixtures.py", "cases": cases}, f, indent=1)
    print(f"{len(cases)} cases, {len(tensors)} tensors, "
          f"{os.path.getsize(os.path.join(OUT, 'expected.safetensors'))} bytes of expectations")


def hf_cases(tensors):
    """transformers' own image processors (slow, PIL) on the committed images."""
    from transformers import ConvNextImageProcessor, ViTImageProcessor
    cases = []
    procs = {
        # as microsoft/resnet-50 (ConvNext-style: shortest_edge / crop_pct, then crop)
        "hf_convnext": ConvNextImageProcessor(size={"shortest_edge": 42}, crop_pct=0.875, resample=3),
        # a plain warp to height x width, bilinear, custom mean/std
        "hf_vit": ViTImageProcessor(size={"height": 36, "width": 30}, resample=2,
                                    image_mean=[0.5, 0.4, 0.3], image_std=[0.2, 0.25, 0.3]),
    }
    for name, proc in procs.items():
        cfg = os.path.join(OUT, name)
        os.makedirs(cfg, exist_ok=True)
        proc.save_pretrained(cfg)
        for stem in ("rgb8.png", "rgb_baseline.jpg"):
            path = os.path.join(OUT, stem)
            img = to_rgb(Image.open(path))
            pv = proc(images=img, return_tensors="np")["pixel_values"][0].astype(np.float32)
            key = f"{name}_{os.path.splitext(stem)[0]}"
            tensors[key] = np.ascontiguousarray(pv)
            # transformers 5 resizes with torchvision on tensors, not PIL: up to
            # a level apart from PIL on a few pixels, so never "exact".
            cases.append({"name": key, "image": rel(path), "config_dir": rel(cfg), "normalized": key,
                          "exact": False})
    return cases


def timm_cases(tensors):
    """timm's eval transform, built as timm.data.transforms_factory does (timm is
    not installed here): scale = floor(size / crop_pct); Resize(scale) when
    square; CenterCrop(size); ToTensor; Normalize."""
    cfg_dir = os.path.join(OUT, "timm_cfg")
    os.makedirs(cfg_dir, exist_ok=True)
    pcfg = {"input_size": [3, 48, 48], "interpolation": "bicubic", "crop_pct": 0.95, "crop_mode": "center",
            "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "num_classes": 3}
    with open(os.path.join(cfg_dir, "config.json"), "w") as f:
        json.dump({"architecture": "resnet50", "num_classes": 3, "pretrained_cfg": pcfg}, f, indent=1)
    scale = math.floor(48 / 0.95)
    t = transforms.Compose([transforms.Resize(scale, interpolation=InterpolationMode.BICUBIC),
                            transforms.CenterCrop(48), transforms.ToTensor(),
                            transforms.Normalize(pcfg["mean"], pcfg["std"])])
    path = os.path.join(OUT, "rgb8.png")
    tensors["timm_rgb8"] = t(to_rgb(Image.open(path))).numpy().astype(np.float32)
    return [{"name": "timm_rgb8", "image": rel(path), "config_dir": rel(cfg_dir), "normalized": "timm_rgb8",
             "exact": True}]


def full(outdir):
    """256 -> 224 references for every real photograph (medical + skimage)."""
    os.makedirs(outdir, exist_ok=True)
    sources = [os.path.join(ROOT, MEDICAL, f) for f in sorted(os.listdir(os.path.join(ROOT, MEDICAL)))
               if not f.endswith(".dcm")]
    if os.path.isdir(SKIMAGE):
        for f in sorted(os.listdir(SKIMAGE)):
            if f.endswith((".png", ".jpg", ".gif")) and f != "truncated.jpg":
                p = os.path.join(SKIMAGE, f)
                w, h = Image.open(p).size
                if min(w, h) >= 64:
                    sources.append(p)
    cases, tensors = [], {}
    for p in sources:
        for interp in ("bilinear", "bicubic"):
            name = os.path.splitext(os.path.basename(p))[0] + "_" + interp
            tensors[name] = tv_pixels(p, 256, 224, interp)
            cases.append({"name": name, "image": os.path.abspath(p), "resize": 256, "crop": 224,
                          "interpolation": interp, "pixels": name,
                          "exact": not p.endswith(".jpg"), "expected": os.path.abspath(
                              os.path.join(outdir, "expected.safetensors"))})
    save_file(tensors, os.path.join(outdir, "expected.safetensors"))
    with open(os.path.join(outdir, "manifest.json"), "w") as f:
        json.dump({"generator": "tools/make_image_fixtures.py --full", "cases": cases}, f, indent=1)
    print(f"{len(cases)} full-size cases in {outdir}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", metavar="DIR")
    a = ap.parse_args()
    if a.full:
        full(a.full)
    else:
        committed()
