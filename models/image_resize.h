/* Resizing 8-bit RGB exactly as PIL's Image.resize does (which is what
 * torchvision's Resize does on PIL images, antialiased, and what transformers'
 * image processors call): separable convolution whose filter support grows
 * with the downscale factor, coefficients normalized to sum 1 then turned into
 * 22-bit fixed point, a horizontal pass over just the rows the vertical pass
 * needs, rounding to uint8 between the passes, then the vertical pass. NEAREST
 * follows PIL's affine nearest sampling. The results are bit-identical to PIL. */
#ifndef LP_IMAGE_RESIZE_H
#define LP_IMAGE_RESIZE_H

#include "kernels/status.h"
#include "models/image_decode.h"

/* PIL's numbering (Image.Resampling), which is also what preprocessor_config.json
 * stores in "resample". */
typedef enum lp_image_resample {
    LP_RESAMPLE_NEAREST = 0,
    LP_RESAMPLE_LANCZOS = 1,
    LP_RESAMPLE_BILINEAR = 2,
    LP_RESAMPLE_BICUBIC = 3,
    LP_RESAMPLE_BOX = 4,
    LP_RESAMPLE_HAMMING = 5
} lp_image_resample;

const char *lp_image_resample_name(lp_image_resample r);
/* "bilinear", "bicubic", ... (timm and torchvision spellings) -> value. */
lp_status lp_image_resample_parse(const char *name, lp_image_resample *out, lp_error *err);

/* out gets a new image of out_w x out_h (free with lp_image_free). */
lp_status lp_image_resize(const lp_image *in, int out_w, int out_h, lp_image_resample filter,
                          lp_image *out, lp_error *err);

/* The window [x0, x0 + cw) x [y0, y0 + ch) of that out_w x out_h resize,
 * without computing the rest (bit-identical to resizing, then cropping). */
lp_status lp_image_resize_crop(const lp_image *in, int out_w, int out_h, lp_image_resample filter, int x0,
                               int y0, int cw, int ch, lp_image *out, lp_error *err);

#endif
