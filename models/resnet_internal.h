/* The loaded form of a ResNet, shared by resnet_load.c and resnet_forward.c. */
#ifndef LP_RESNET_INTERNAL_H
#define LP_RESNET_INTERNAL_H

#include "kernels/conv_plan.h"
#include "kernels/ops.h"
#include "models/resnet.h"

struct cJSON;

#define LP_RESNET_MAX_STAGES 8

/* A convolution with its batch norm folded in: weight and bias are owned f32.
 * The plan (over weight and bias) keeps the backend's prepared forms of them
 * (oneDNN's reordered weights and primitives on the CPU). */
typedef struct lp_resnet_conv {
    lp_tensor weight, bias;
    lp_conv2d_params params;
    lp_conv2d_plan *plan;
    int cin, cout, k;
} lp_resnet_conv;

typedef struct lp_resnet_block {
    lp_resnet_conv conv[3]; /* 2 (basic) or 3 (bottleneck) */
    int nconv;
    bool has_down;
    lp_resnet_conv down; /* 1x1 projection of the skip connection */
} lp_resnet_block;

struct lp_resnet {
    lp_resnet_layout layout;
    bool bottleneck;
    int nstages, depths[LP_RESNET_MAX_STAGES];
    lp_resnet_conv stem;
    lp_resnet_block *blocks;
    int nblocks;
    lp_conv2d_plan **plans; /* every conv's plan, freed before the buffers */
    int nplans;
    lp_tensor fc_weight, fc_bias; /* [classes, features], [classes]: owned f32 */
    int features, classes;
    char **labels;
    const char *label_source;
    char describe[96];
    void **owned; /* every buffer above, freed together */
    size_t nowned, capowned;
};

/* Drops the device copies of m's weights from every backend that uploaded
 * them (lp_resnet_free calls it; resnet_device.c). */
void lp_resnet_forget_device_weights(const lp_resnet *m);

/* Appends p to m->owned (frees p and fails when out of memory). */
lp_status lp_resnet_own(lp_resnet *m, void *p, lp_error *err);

/* Fills m->labels (classes entries) from config.json / labels.txt / class_N. */
lp_status lp_resnet_load_labels(lp_resnet *m, const char *dir, const struct cJSON *config, lp_error *err);

#endif
