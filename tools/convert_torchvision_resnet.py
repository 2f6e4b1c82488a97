#!/usr/bin/env python3
"""Converts a torchvision ResNet checkpoint (.pth: a state dict, or a whole
pickled model, or {"state_dict": ...} / {"model": ...} as training scripts save
them) into a lepton model directory: OUTDIR/model.safetensors with
torchvision's tensor names (conv1.weight, bn1.*, layer1.0.conv1.weight, ...,
fc.weight), and optionally OUTDIR/labels.txt.

    python3 tools/convert_torchvision_resnet.py resnet50.pth models/resnet50 \\
        --labels ../shared/data/imagenet_classes.txt

lepton reads labels from labels.txt beside the weights (one per line, index
order); without one it names classes class_0, class_1, ... torchvision's
ImageNet list renames index 134 "crane bird" and 639 "maillot tank suit"; the
--labels file is copied as given.
The evaluation preprocessing is torchvision's default recipe (Resize 256,
CenterCrop 224, bilinear); weights evaluated otherwise (IMAGENET1K_V2 uses
Resize 232) can carry a preprocessor_config.json: pass --resize 232.
Needs torch and safetensors (numpy-free path: safetensors.torch)."""
import argparse
import json
import os
import sys

import torch
from safetensors.torch import save_file


def state_dict_of(obj):
    if isinstance(obj, torch.nn.Module):
        return obj.state_dict()
    if isinstance(obj, dict):
        for key in ("state_dict", "model", "model_state_dict"):
            if key in obj and isinstance(obj[key], (dict, torch.nn.Module)):
                return state_dict_of(obj[key])
        return obj
    sys.exit(f"unrecognized checkpoint object: {type(obj).__name__}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pth")
    ap.add_argument("outdir")
    ap.add_argument("--labels", help="a text file with one class name per line, copied to labels.txt")
    ap.add_argument("--resize", type=int, help="shorter-side resize before the 224 crop (writes "
                    "preprocessor_config.json); default: torchvision's 256")
    a = ap.parse_args()
    obj = torch.load(a.pth, map_location="cpu", weights_only=False)
    sd = state_dict_of(obj)
    # DataParallel / DDP checkpoints prefix every name with "module."
    sd = {(k[7:] if k.startswith("module.") else k): v for k, v in sd.items()}
    tensors = {k: v.detach().contiguous() for k, v in sd.items() if isinstance(v, torch.Tensor)}
    for need in ("conv1.weight", "fc.weight", "layer1.0.conv1.weight"):
        if need not in tensors:
            sys.exit(f"{a.pth}: no '{need}': not a torchvision ResNet state dict")
    os.makedirs(a.outdir, exist_ok=True)
    save_file(tensors, os.path.join(a.outdir, "model.safetensors"), metadata={"format": "pt"})
    classes = tensors["fc.weight"].shape[0]
    if a.labels:
        with open(a.labels, encoding="utf-8") as f:
            names = [line.rstrip("\r\n") for line in f if line.strip()]
        if len(names) != classes:
            sys.exit(f"{a.labels}: {len(names)} labels for a {classes}-class model")
        with open(os.path.join(a.outdir, "labels.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(names) + "\n")
    if a.resize:
        cfg = {"image_processor_type": "lepton-torchvision", "do_resize": True, "size": {"shortest_edge": a.resize},
               "do_center_crop": True, "crop_size": {"height": 224, "width": 224}, "resample": 2,
               "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
               "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}
        with open(os.path.join(a.outdir, "preprocessor_config.json"), "w") as f:
            json.dump(cfg, f, indent=1)
    print(f"{a.outdir}: {len(tensors)} tensors, {classes} classes")


if __name__ == "__main__":
    main()
