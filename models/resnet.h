/* ResNet image classifiers: ResNet-18/34 (BasicBlock) and 50/101/152
 * (Bottleneck, v1.5: the stride sits on the 3x3 convolution, as torchvision and
 * timm; HF's downsample_in_bottleneck=true puts it on the first 1x1), with any
 * number of classes. Also whatever widths and depths the checkpoint has
 * (wide and grouped variants included), read from the tensor shapes.
 *
 * Loaded from a model directory in one of three layouts, detected from the files:
 *  - torchvision state dict as model.safetensors (conv1.weight, bn1.*,
 *    layer1.0.conv1.weight, ..., fc.weight); tools/convert_torchvision_resnet.py
 *    makes one from a .pth file;
 *  - timm: the same tensor names, with config.json holding "architecture" and
 *    "pretrained_cfg" (deep-stem / avg-down variants are refused by name);
 *  - transformers ResNetForImageClassification: config.json model_type
 *    "resnet" (depths, hidden_sizes, embedding_size, layer_type,
 *    downsample_in_first_stage, downsample_in_bottleneck), tensors
 *    resnet.embedder.*, resnet.encoder.stages.N.layers.M.*, classifier.1.*.
 * Batch norm is folded into the convolutions at load (eval mode); the residual
 * add and its ReLU are fused into each block's last convolution.
 *
 * Labels: config.json id2label (transformers), "label_names" (timm), else a
 * labels.txt beside the weights (one per line), else "class_N". */
#ifndef LP_RESNET_H
#define LP_RESNET_H

#include <stdbool.h>
#include <stddef.h>

#include "kernels/arena.h"
#include "kernels/context.h"
#include "kernels/status.h"
#include "kernels/tensor.h"

typedef enum lp_resnet_layout {
    LP_RESNET_TORCHVISION = 0,
    LP_RESNET_TIMM,
    LP_RESNET_HF
} lp_resnet_layout;

typedef struct lp_resnet lp_resnet;

/* dir holds model.safetensors (+ config.json, labels.txt as above). */
lp_status lp_resnet_load(const char *dir, lp_resnet **out, lp_error *err);
void lp_resnet_free(lp_resnet *m);

lp_resnet_layout lp_resnet_get_layout(const lp_resnet *m);
const char *lp_resnet_layout_name(lp_resnet_layout layout);
/* "resnet50" for the standard depths, else "resnet(bottleneck, [1, 1, 1, 1])". */
const char *lp_resnet_describe(const lp_resnet *m);
int lp_resnet_num_classes(const lp_resnet *m);
/* Never NULL for 0 <= index < num_classes. */
const char *lp_resnet_label(const lp_resnet *m, int index);
/* Where the labels came from: "id2label", "label_names", "labels.txt" or "none". */
const char *lp_resnet_label_source(const lp_resnet *m);

/* logits[N, classes] = model(x[N, 3, H, W]) (f32, contiguous; any H, W >= 1
 * that survive the five stride-2 stages). Activations come from `arena`; the
 * caller calls lp_arena_reset(arena) when it is done with the pass, and after
 * the first pass of a given shape a forward allocates nothing. x, logits and
 * the arena's memory are on ctx's backend's device; on a device backend m is
 * the view lp_resnet_for_backend made. */
lp_status lp_resnet_forward(const lp_resnet *m, lp_ctx *ctx, lp_arena *arena, const lp_tensor *x,
                            lp_tensor *logits, lp_error *err);

/* The model as a session on backend `b` runs it. On a backend whose tensors
 * live in device memory, *view is a copy of m's description whose weights are
 * the backend's device copies (lp_backend_weight: uploaded once per process,
 * shared by every session) and whose convolutions run as lp_conv2d (the
 * plans prepare host weights only); free it with lp_resnet_free_view before
 * m. On a host backend *view is NULL: use m itself. */
lp_status lp_resnet_for_backend(const lp_resnet *m, const lp_backend *b, lp_resnet **view, lp_error *err);
void lp_resnet_free_view(lp_resnet *view);

#endif
