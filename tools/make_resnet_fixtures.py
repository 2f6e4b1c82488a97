#!/usr/bin/env python3
"""Regenerates tests/fixtures/resnet/: small ResNets built from the reference
frameworks' own code, in every checkpoint layout lepton reads, with the logits
those frameworks compute (the reference for tests/models/test_resnet.c).

Models (seeded random weights; batch-norm running statistics and affine
parameters randomized so that folding is exercised; eval mode):
  tv_bottleneck   torchvision.models.resnet.ResNet's code (Bottleneck v1.5,
                  torchvision's _make_layer) with small widths, depths [1,1,1,1],
                  a 3-class head ("diagnosis" model); labels.txt beside it
  tv_basic        the same with BasicBlock, depths [2,1,1,1], 5 classes, no labels
  timm_bottleneck tv_bottleneck's weights under timm's layout: identical tensor
                  names plus config.json with architecture / pretrained_cfg /
                  label_names (timm itself is not installed here)
  hf_bottleneck   transformers ResNetForImageClassification (ResNetConfig with
                  small hidden_sizes), id2label, preprocessor_config.json
  hf_basic        the same with layer_type "basic"
  hf_v1           bottleneck with downsample_in_bottleneck (stride on the first 1x1,
                  ResNet v1) and downsample_in_first_stage, 3 stages
Inputs: x = f16-rounded normal noise [8, 3, 56, 56] (stored as f16, used as f32).
Expected: logits at batch 8 and at batch 1 (first image, run alone), and end to
end: torchvision's PIL preprocessing of real images -> tv_bottleneck logits.

    python3 tools/make_resnet_fixtures.py              # the committed set
    python3 tools/make_resnet_fixtures.py --full DIR   # ResNet-50 in all three
        layouts (1000 and 3 classes, ~100 MB each) + logits, into DIR (not
        committed); run the C test with LP_RESNET_FULL_FIXTURES=DIR
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import torch
from safetensors.numpy import save_file as np_save
from safetensors.torch import save_file
from torch import nn
from torchvision.models import resnet as tvr

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "resnet")
MEDICAL = os.path.join(ROOT, "..", "shared", "data", "images", "medical")


def randomize_bn(model, seed):
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.2)
            m.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.2)
    return model.eval()


def tiny_torchvision(block, depths, classes, widths=(4, 8, 16, 32), stem=8, seed=0):
    """torchvision's ResNet with its own _make_layer and blocks, small widths."""
    torch.manual_seed(seed)
    m = tvr.ResNet(block, [1, 1, 1, 1], num_classes=classes)
    m.inplanes = stem
    m.conv1 = nn.Conv2d(3, stem, kernel_size=7, stride=2, padding=3, bias=False)
    m.bn1 = nn.BatchNorm2d(stem)
    m.layer1 = m._make_layer(block, widths[0], depths[0])
    m.layer2 = m._make_layer(block, widths[1], depths[1], stride=2)
    m.layer3 = m._make_layer(block, widths[2], depths[2], stride=2)
    m.layer4 = m._make_layer(block, widths[3], depths[3], stride=2)
    m.fc = nn.Linear(widths[3] * block.expansion, classes)
    return randomize_bn(m, seed + 100)


def hf_model(layer_type, depths, hidden, emb, labels, seed, **extra):
    from transformers import ResNetConfig, ResNetForImageClassification
    torch.manual_seed(seed)
    cfg = ResNetConfig(embedding_size=emb, hidden_sizes=hidden, depths=depths, layer_type=layer_type,
                       num_labels=len(labels), id2label=dict(enumerate(labels)),
                       label2id={l: i for i, l in enumerate(labels)}, **extra)
    m = ResNetForImageClassification(cfg)
    return randomize_bn(m, seed + 100)


def state_dict_np(model):
    return {k: v.detach().contiguous() for k, v in model.state_dict().items()}


def save_tv(model, d, labels=None, timm_cfg=None):
    os.makedirs(d, exist_ok=True)
    save_file(state_dict_np(model), os.path.join(d, "model.safetensors"))
    if labels:
        with open(os.path.join(d, "labels.txt"), "w") as f:
            f.write("\n".join(labels) + "\n")
    if timm_cfg:
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(timm_cfg, f, indent=1)


def logits(model, x):
    with torch.no_grad():
        out = model(x)
    return (out.logits if hasattr(out, "logits") else out).float().numpy()


def inputs(n, size, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, size, size, generator=g).half().float()


def tv_preprocess(path):
    from PIL import Image, ImageOps
    from torchvision import transforms
    img = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    t = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                            transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
    return t(img).unsqueeze(0)


def expect(models, x, tensors):
    for name, m in models.items():
        tensors[f"{name}.b8"] = logits(m, x)
        tensors[f"{name}.b1"] = logits(m, x[:1])


def committed():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    diag = ["normal", "benign", "malignant"]
    tvb = tiny_torchvision(tvr.Bottleneck, [1, 1, 1, 1], 3, seed=1)
    tvs = tiny_torchvision(tvr.BasicBlock, [2, 1, 1, 1], 5, seed=2)
    save_tv(tvb, os.path.join(OUT, "tv_bottleneck"), labels=diag)
    save_tv(tvs, os.path.join(OUT, "tv_basic"))
    timm_cfg = {"architecture": "resnet50", "num_classes": 3, "num_features": 128, "label_names": diag,
                "pretrained_cfg": {"input_size": [3, 224, 224], "interpolation": "bicubic", "crop_pct": 0.95,
                                   "crop_mode": "center", "mean": [0.485, 0.456, 0.406],
                                   "std": [0.229, 0.224, 0.225], "num_classes": 3, "first_conv": "conv1",
                                   "classifier": "fc"}}
    save_tv(tvb, os.path.join(OUT, "timm_bottleneck"), timm_cfg=timm_cfg)
    hfb = hf_model("bottleneck", [1, 1, 1, 1], [16, 32, 64, 128], 8, diag, 3)
    hfs = hf_model("basic", [2, 1, 1, 1], [8, 16, 32, 64], 8, ["a", "b", "c", "d"], 4)
    # ResNet v1 placement (stride on the first 1x1) and a strided first stage
    hfv1 = hf_model("bottleneck", [1, 2, 1], [16, 32, 64], 8, diag, 5, downsample_in_bottleneck=True,
                    downsample_in_first_stage=True)
    from transformers import ConvNextImageProcessor
    for m, d in ((hfb, "hf_bottleneck"), (hfs, "hf_basic"), (hfv1, "hf_v1")):
        m.save_pretrained(os.path.join(OUT, d), safe_serialization=True)
    ConvNextImageProcessor(size={"shortest_edge": 224}, crop_pct=0.875, resample=3).save_pretrained(
        os.path.join(OUT, "hf_bottleneck"))
    x = inputs(8, 56, 7)
    tensors = {"x": x.half().numpy()}
    expect({"tv_bottleneck": tvb, "tv_basic": tvs, "timm_bottleneck": tvb, "hf_bottleneck": hfb,
            "hf_basic": hfs, "hf_v1": hfv1}, x, tensors)
    # End to end: real images through torchvision's PIL pipeline into tv_bottleneck.
    images = [os.path.join(ROOT, "tests", "fixtures", "images", f) for f in ("rgb8.png", "rgb_baseline.jpg",
                                                                                "exif_6.jpg")]
    images += [os.path.join(MEDICAL, f) for f in sorted(os.listdir(MEDICAL)) if not f.endswith(".dcm")]
    e2e = []
    for p in images:
        key = "e2e." + os.path.splitext(os.path.basename(p))[0]
        tensors[key] = logits(tvb, tv_preprocess(p))
        e2e.append({"image": os.path.relpath(p, ROOT), "logits": key})
    np_save({k: np.ascontiguousarray(v) for k, v in tensors.items()}, os.path.join(OUT, "expected.safetensors"))
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump({"generator": "tools/make_resnet_fixtures.py", "input": "x",
                   "models": ["tv_bottleneck", "tv_basic", "timm_bottleneck", "hf_bottleneck", "hf_basic", "hf_v1"],
                   "layouts": {"tv_bottleneck": "torchvision", "tv_basic": "torchvision",
                               "timm_bottleneck": "timm", "hf_bottleneck": "transformers",
                               "hf_basic": "transformers", "hf_v1": "transformers"},
                   "e2e_model": "tv_bottleneck", "e2e": e2e}, f, indent=1)
    for root, _, files in os.walk(OUT):
        for fn in files:
            assert os.path.getsize(os.path.join(root, fn)) < 2_000_000, fn
    print("wrote", OUT)


def real_images():
    """The medical images and Debian python3-skimage's sample photographs."""
    out = [os.path.join(MEDICAL, f) for f in sorted(os.listdir(MEDICAL)) if not f.endswith(".dcm")]
    sk = "/usr/lib/python3/dist-packages/skimage/data"
    if os.path.isdir(sk):
        from PIL import Image
        for f in sorted(os.listdir(sk)):
            if f.endswith((".png", ".jpg", ".gif")) and f != "truncated.jpg" and min(Image.open(os.path.join(sk, f)).size) >= 64:
                out.append(os.path.join(sk, f))
    return out


def full(outdir):
    """ResNet-50 (torchvision code, random weights) in all three layouts."""
    from transformers import ResNetConfig, ResNetForImageClassification
    os.makedirs(outdir, exist_ok=True)
    tensors = {}
    x = inputs(8, 224, 11)
    tensors["x"] = x.half().numpy()
    models = []
    for classes in (1000, 3):
        torch.manual_seed(20 + classes)
        tv = randomize_bn(tvr.resnet50(num_classes=classes), 30 + classes)
        name = f"r50_{classes}"
        # torchvision: through the converter script, from a .pth file
        pth = os.path.join(outdir, f"{name}.pth")
        torch.save(tv.state_dict(), pth)
        subprocess.check_call([sys.executable, os.path.join(ROOT, "tools", "convert_torchvision_resnet.py"), pth,
                               os.path.join(outdir, f"tv_{name}")])
        os.remove(pth)
        save_tv(tv, os.path.join(outdir, f"timm_{name}"),
                timm_cfg={"architecture": "resnet50", "num_classes": classes,
                          "pretrained_cfg": {"input_size": [3, 224, 224], "crop_pct": 0.95,
                                             "interpolation": "bicubic"}})
        torch.manual_seed(40 + classes)
        hf = randomize_bn(ResNetForImageClassification(ResNetConfig(num_labels=classes)), 50 + classes)
        hf.save_pretrained(os.path.join(outdir, f"hf_{name}"), safe_serialization=True)
        for prefix, m in (("tv", tv), ("timm", tv), ("hf", hf)):
            tensors[f"{prefix}_{name}.b8"] = logits(m, x)
            tensors[f"{prefix}_{name}.b1"] = logits(m, x[:1])
            models.append(f"{prefix}_{name}")
        if classes == 1000:
            e2e = []
            for p in real_images():
                key = "e2e." + os.path.splitext(os.path.basename(p))[0]
                tensors[key] = logits(tv, tv_preprocess(p))
                e2e.append({"image": os.path.abspath(p), "logits": key})
    np_save({k: np.ascontiguousarray(v) for k, v in tensors.items()}, os.path.join(outdir, "expected.safetensors"))
    with open(os.path.join(outdir, "manifest.json"), "w") as f:
        json.dump({"input": "x", "models": models, "e2e_model": "tv_r50_1000", "e2e": e2e}, f, indent=1)
    print("wrote", outdir)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", metavar="DIR")
    a = ap.parse_args()
    full(a.full) if a.full else committed()
