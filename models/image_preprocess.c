/* Resize, center crop, scale, normalize: see image_preprocess.h. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "models/image_preprocess.h"

#define LP_IMAGE_MAX_SIDE 8192

void lp_image_preprocess_default(lp_image_preprocess *p) {
    memset(p, 0, sizeof *p);
    p->resize_mode = LP_RESIZE_SHORTEST_EDGE;
    p->shortest = 256;
    p->resample = LP_RESAMPLE_BILINEAR;
    p->center_crop = true;
    p->crop_h = p->crop_w = 224;
    p->crop_rounding = LP_CROP_ROUND_HALF_EVEN;
    p->rescale = 1.0f / 255.0f;
    p->normalize = true;
    const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    memcpy(p->mean, mean, sizeof mean);
    memcpy(p->std, std, sizeof std);
    strcpy(p->source, "ImageNet defaults (torchvision: 256 -> 224 bilinear)");
}

static bool side_ok(int v) { return v > 0 && v <= LP_IMAGE_MAX_SIDE; }

lp_status lp_image_preprocess_validate(const lp_image_preprocess *p, lp_error *err) {
    if (p->resize_mode == LP_RESIZE_SHORTEST_EDGE && !side_ok(p->shortest))
        return lp_fail(err, LP_ERR_INVALID_ARG, "preprocessing (%s): resize size %d is not in 1..%d", p->source,
                       p->shortest, LP_IMAGE_MAX_SIDE);
    if (p->resize_mode == LP_RESIZE_EXACT && (!side_ok(p->resize_h) || !side_ok(p->resize_w)))
        return lp_fail(err, LP_ERR_INVALID_ARG, "preprocessing (%s): resize %dx%d is not in 1..%d", p->source,
                       p->resize_h, p->resize_w, LP_IMAGE_MAX_SIDE);
    if (p->center_crop && (!side_ok(p->crop_h) || !side_ok(p->crop_w)))
        return lp_fail(err, LP_ERR_INVALID_ARG, "preprocessing (%s): crop %dx%d is not in 1..%d", p->source,
                       p->crop_h, p->crop_w, LP_IMAGE_MAX_SIDE);
    if (p->resize_mode == LP_RESIZE_NONE && !p->center_crop)
        return lp_fail(err, LP_ERR_INVALID_ARG,
                       "preprocessing (%s): neither a resize nor a crop: the input size would vary", p->source);
    if (!(p->rescale > 0.0f) || !isfinite(p->rescale))
        return lp_fail(err, LP_ERR_INVALID_ARG, "preprocessing (%s): rescale factor %g must be > 0", p->source,
                       (double)p->rescale);
    for (int c = 0; c < 3 && p->normalize; c++)
        if (!(fabsf(p->std[c]) > 0.0f) || !isfinite(p->std[c]) || !isfinite(p->mean[c]))
            return lp_fail(err, LP_ERR_INVALID_ARG, "preprocessing (%s): mean/std[%d] = %g/%g is not usable",
                           p->source, c, (double)p->mean[c], (double)p->std[c]);
    return LP_OK;
}

/* torchvision's _compute_resized_output_size (and transformers'
 * get_resize_output_image_size): the longer side is truncated, not rounded. */
static void resized_size(const lp_image_preprocess *p, int in_h, int in_w, int *h, int *w) {
    if (p->resize_mode == LP_RESIZE_EXACT) {
        *h = p->resize_h;
        *w = p->resize_w;
    } else if (p->resize_mode == LP_RESIZE_SHORTEST_EDGE) {
        const int shorter = in_w <= in_h ? in_w : in_h, longer = in_w <= in_h ? in_h : in_w;
        int new_long = (int)((double)((int64_t)p->shortest * longer) / shorter);
        if (new_long < 1) new_long = 1;
        if (in_w <= in_h) {
            *w = p->shortest;
            *h = new_long;
        } else {
            *h = p->shortest;
            *w = new_long;
        }
    } else {
        *h = in_h;
        *w = in_w;
    }
}

lp_status lp_image_preprocess_out_size(const lp_image_preprocess *p, int in_h, int in_w, int *out_h,
                                       int *out_w, lp_error *err) {
    lp_status st = lp_image_preprocess_validate(p, err);
    if (st != LP_OK) return st;
    if (in_h <= 0 || in_w <= 0) return lp_fail(err, LP_ERR_INVALID_ARG, "image size %dx%d is empty", in_w, in_h);
    if (p->center_crop) {
        *out_h = p->crop_h;
        *out_w = p->crop_w;
    } else {
        resized_size(p, in_h, in_w, out_h, out_w);
        if (*out_h > LP_IMAGE_MAX_SIDE || *out_w > LP_IMAGE_MAX_SIDE)
            return lp_fail(err, LP_ERR_INVALID_ARG, "resized image %dx%d is over %d a side", *out_w, *out_h,
                           LP_IMAGE_MAX_SIDE);
    }
    return LP_OK;
}

/* Python's round() on (d / 2.0) for an integer d: half to even. */
static int half_round_even(int d) {
    int q = d / 2; /* d >= 0 here */
    if (d % 2 == 0) return q;
    return (q % 2 == 0) ? q : q + 1; /* q + 0.5: round to the even neighbour */
}

/* Crop offset of a window of `want` in `have` (have >= want). */
static int crop_offset(lp_image_crop_rounding r, int have, int want) {
    int d = have - want;
    return r == LP_CROP_FLOOR ? d / 2 : half_round_even(d);
}

/* Center crop; a window larger than the image is padded with zeros first, as
 * torchvision's center_crop pads (left/top get the floor half). */
static lp_status center_crop(const lp_image *in, int ch, int cw, lp_image_crop_rounding r, lp_image *out,
                             lp_error *err) {
    out->rgb = calloc((size_t)ch * cw, 3);
    if (!out->rgb) return lp_fail(err, LP_ERR_NOMEM, "out of memory for a %dx%d crop", cw, ch);
    out->width = cw;
    out->height = ch;
    /* Coordinates of the crop window in the (virtually padded) input. */
    int pad_top = ch > in->height ? (ch - in->height) / 2 : 0;
    int pad_left = cw > in->width ? (cw - in->width) / 2 : 0;
    int ph = in->height + pad_top + (ch > in->height ? (ch - in->height + 1) / 2 : 0);
    int pw = in->width + pad_left + (cw > in->width ? (cw - in->width + 1) / 2 : 0);
    int top = crop_offset(r, ph, ch), left = crop_offset(r, pw, cw);
    for (int y = 0; y < ch; y++) {
        int sy = y + top - pad_top;
        if (sy < 0 || sy >= in->height) continue;
        for (int x = 0; x < cw; x++) {
            int sx = x + left - pad_left;
            if (sx < 0 || sx >= in->width) continue;
            memcpy(out->rgb + ((size_t)y * cw + x) * 3, in->rgb + ((size_t)sy * in->width + sx) * 3, 3);
        }
    }
    return LP_OK;
}

lp_status lp_image_preprocess_pixels(const lp_image_preprocess *p, const lp_image *img, lp_image *out,
                                     lp_error *err) {
    memset(out, 0, sizeof *out);
    if (!img || !img->rgb || img->width <= 0 || img->height <= 0)
        return lp_fail(err, LP_ERR_INVALID_ARG, "preprocess: empty image");
    int oh, ow;
    lp_status st = lp_image_preprocess_out_size(p, img->height, img->width, &oh, &ow, err);
    if (st != LP_OK) return st;
    int rh, rw;
    resized_size(p, img->height, img->width, &rh, &rw);
    lp_image resized = {0};
    const lp_image *cur = img;
    if (p->center_crop && (rh != img->height || rw != img->width) && p->crop_h <= rh && p->crop_w <= rw)
        /* Resize only the window the crop keeps: the same pixels, less work. */
        return lp_image_resize_crop(img, rw, rh, p->resample, crop_offset(p->crop_rounding, rw, p->crop_w),
                                    crop_offset(p->crop_rounding, rh, p->crop_h), p->crop_w, p->crop_h, out, err);
    if (rh != img->height || rw != img->width) {
        st = lp_image_resize(img, rw, rh, p->resample, &resized, err);
        if (st != LP_OK) return st;
        cur = &resized;
    }
    if (p->center_crop)
        st = center_crop(cur, p->crop_h, p->crop_w, p->crop_rounding, out, err);
    else if (cur == img) { /* no resize, no crop: a copy */
        out->rgb = malloc((size_t)img->width * img->height * 3);
        if (!out->rgb) st = lp_fail(err, LP_ERR_NOMEM, "out of memory copying an image");
        else {
            memcpy(out->rgb, img->rgb, (size_t)img->width * img->height * 3);
            out->width = img->width;
            out->height = img->height;
        }
    } else {
        *out = resized;
        return LP_OK;
    }
    lp_image_free(&resized);
    return st;
}

lp_status lp_image_preprocess_run(const lp_image_preprocess *p, const lp_image *img, float *out, int out_h,
                                  int out_w, lp_error *err) {
    lp_image px;
    lp_status st = lp_image_preprocess_pixels(p, img, &px, err);
    if (st != LP_OK) return st;
    if (px.height != out_h || px.width != out_w) {
        lp_image_free(&px);
        return lp_fail(err, LP_ERR_SHAPE, "preprocess: output is %dx%d but the tensor slot is %dx%d", px.width,
                       px.height, out_w, out_h);
    }
    /* ToTensor divides by 255 in f32; other rescale factors multiply (as transformers). */
    const bool div255 = fabsf(p->rescale * 255.0f - 1.0f) < 1e-6f;
    float lut[3][256];
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++) {
            float x = div255 ? (float)v / 255.0f : (float)v * p->rescale;
            lut[c][v] = p->normalize ? (x - p->mean[c]) / p->std[c] : x;
        }
    const size_t plane = (size_t)out_h * out_w;
    for (size_t i = 0; i < plane; i++)
        for (int c = 0; c < 3; c++) out[c * plane + i] = lut[c][px.rgb[i * 3 + c]];
    lp_image_free(&px);
    return LP_OK;
}

lp_status lp_image_preprocess_bytes(const lp_image_preprocess *p, const lp_image_decode_opts *opts,
                                    const void *bytes, size_t size, float *out, int out_h, int out_w,
                                    lp_error *err) {
    lp_image img;
    lp_status st = lp_image_decode(bytes, size, opts, &img, err);
    if (st != LP_OK) return st;
    st = lp_image_preprocess_run(p, &img, out, out_h, out_w, err);
    lp_image_free(&img);
    return st;
}
