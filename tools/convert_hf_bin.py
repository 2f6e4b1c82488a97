#!/usr/bin/env python3
"""Convert a Hugging Face checkpoint saved as pytorch_model.bin into model.safetensors,
the format lepton reads (BERT, RoBERTa / XLM-RoBERTa, DistilBERT and other HF models).

    python3 tools/convert_hf_bin.py MODEL_DIR            # writes MODEL_DIR/model.safetensors
    python3 tools/convert_hf_bin.py MODEL_DIR --out DIR  # writes DIR/model.safetensors

Tensors keep their names and dtypes. Tied or shared tensors (a decoder tied to the word
embeddings) are stored once per name, as separate copies, since safetensors has no
aliasing. Sharded checkpoints (pytorch_model.bin.index.json) are merged into one file.
The output is written to a temporary name and renamed, so a failed run leaves nothing
half-written. Needs torch and safetensors (not needed by lepton itself).
"""
import argparse
import json
import os
import sys


def load_state(model_dir):
    import torch
    index = os.path.join(model_dir, "pytorch_model.bin.index.json")
    if os.path.exists(index):
        files = sorted(set(json.load(open(index))["weight_map"].values()))
    else:
        files = ["pytorch_model.bin"]
    state = {}
    for f in files:
        path = os.path.join(model_dir, f)
        if not os.path.exists(path):
            sys.exit(f"convert_hf_bin: {path} does not exist")
        part = torch.load(path, map_location="cpu", weights_only=True)
        for k, v in part.items():
            if k in state:
                sys.exit(f"convert_hf_bin: tensor {k} appears in two shards")
            state[k] = v
    return state


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir")
    ap.add_argument("--out", help="output directory (default: model_dir)")
    args = ap.parse_args()
    from safetensors.torch import save_file
    state = load_state(args.model_dir)
    # contiguous, unshared copies: safetensors refuses views and aliases
    tensors = {k: v.detach().clone().contiguous() for k, v in state.items()}
    out_dir = args.out or args.model_dir
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, "model.safetensors")
    tmp = out + ".tmp"
    save_file(tensors, tmp, metadata={"format": "pt"})
    os.replace(tmp, out)
    print(f"wrote {out}: {len(tensors)} tensors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
