/* From an upright RGB image to the float tensor a classifier takes: resize
 * (shorter side to a size, keeping the aspect ratio, or to an exact size),
 * center crop, scale to [0, 1], normalize by mean and std, CHW layout.
 *
 * The settings come from the checkpoint, in this order:
 *  1. preprocessor_config.json (transformers' image processors, PIL path):
 *     size (shortest_edge | height+width | int), crop_pct (ConvNext-style,
 *     microsoft/resnet-*), do_center_crop + crop_size, resample, do_rescale +
 *     rescale_factor, do_normalize + image_mean/image_std;
 *  2. config.json's pretrained_cfg (timm): input_size, crop_pct, crop_mode
 *     (center | squash), interpolation, mean, std;
 *  3. else torchvision's ImageNet recipe: Resize(256) (bilinear, antialiased),
 *     CenterCrop(224), ToTensor, Normalize((0.485,0.456,0.406),(0.229,0.224,0.225)).
 * Each reproduces its framework to the pixel (resizing as PIL, the crop offset
 * rounded as that framework rounds it). */
#ifndef LP_IMAGE_PREPROCESS_H
#define LP_IMAGE_PREPROCESS_H

#include <stdbool.h>

#include "kernels/status.h"
#include "models/image_decode.h"
#include "models/image_resize.h"

typedef enum lp_image_resize_mode {
    LP_RESIZE_NONE = 0,      /* keep the decoded size */
    LP_RESIZE_SHORTEST_EDGE, /* shorter side -> shortest, longer side truncated as torchvision */
    LP_RESIZE_EXACT          /* -> resize_h x resize_w, aspect ratio not kept */
} lp_image_resize_mode;

typedef enum lp_image_crop_rounding {
    LP_CROP_ROUND_HALF_EVEN = 0, /* torchvision / timm: int(round((H - h) / 2)) */
    LP_CROP_FLOOR                /* transformers: (H - h) // 2 */
} lp_image_crop_rounding;

typedef struct lp_image_preprocess {
    lp_image_resize_mode resize_mode;
    int shortest;           /* LP_RESIZE_SHORTEST_EDGE */
    int resize_h, resize_w; /* LP_RESIZE_EXACT */
    lp_image_resample resample;
    bool center_crop;
    int crop_h, crop_w;
    lp_image_crop_rounding crop_rounding;
    float rescale; /* 1/255: ToTensor */
    bool normalize;
    float mean[3], std[3];
    char source[96]; /* where the settings came from, for messages and `info` */
} lp_image_preprocess;

/* torchvision's ImageNet evaluation recipe (256 -> 224, bilinear). */
void lp_image_preprocess_default(lp_image_preprocess *p);

/* Reads dir/preprocessor_config.json, else the pretrained_cfg in
 * dir/config.json, else keeps the defaults (source says which). A file that is
 * present but malformed or asks for something unsupported is an error. */
lp_status lp_image_preprocess_from_dir(const char *dir, lp_image_preprocess *p, lp_error *err);

/* The same from JSON text: a preprocessor_config.json, or a timm config.json /
 * pretrained_cfg object. `label` names the text in messages. */
lp_status lp_image_preprocess_from_hf_json(const char *json, const char *label, lp_image_preprocess *p,
                                           lp_error *err);
lp_status lp_image_preprocess_from_timm_json(const char *json, const char *label, lp_image_preprocess *p,
                                             lp_error *err);

/* Checks sizes and values (positive sizes up to 8192, std != 0). */
lp_status lp_image_preprocess_validate(const lp_image_preprocess *p, lp_error *err);

/* Output height and width of run() for an input of in_h x in_w. */
lp_status lp_image_preprocess_out_size(const lp_image_preprocess *p, int in_h, int in_w, int *out_h,
                                       int *out_w, lp_error *err);

/* The resized and cropped 8-bit image (before scaling): what run() normalizes. */
lp_status lp_image_preprocess_pixels(const lp_image_preprocess *p, const lp_image *img, lp_image *out,
                                     lp_error *err);

/* img -> out: f32 [3, out_h, out_w] (one image of an NCHW batch), where
 * out_h/out_w must equal lp_image_preprocess_out_size's answer. */
lp_status lp_image_preprocess_run(const lp_image_preprocess *p, const lp_image *img, float *out,
                                  int out_h, int out_w, lp_error *err);

/* Decode + preprocess one encoded image into out (as run()). */
lp_status lp_image_preprocess_bytes(const lp_image_preprocess *p, const lp_image_decode_opts *opts,
                                    const void *bytes, size_t size, float *out, int out_h, int out_w,
                                    lp_error *err);

#endif
