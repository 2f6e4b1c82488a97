/* PIL-exact resampling (see image_resize.h). The math follows Pillow's
 * libImaging/Resample.c: for each output index, the source window is
 * [center - support, center + support) rounded, the weights are the filter at
 * (source pixel center - output center) / filterscale, normalized to sum 1,
 * then scaled to 22-bit integers rounded half away from zero. Accumulation
 * starts at half an LSB and the result is clipped to 0..255. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "models/image_resize.h"

#define PRECISION_BITS 22 /* 32 - 8 bits of result - 2 bits of headroom, as PIL */

typedef struct filter {
    double (*fn)(double x);
    double support;
} filter;

static double box_fn(double x) { return x > -0.5 && x <= 0.5 ? 1.0 : 0.0; }

static double bilinear_fn(double x) {
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

static double hamming_fn(double x) {
    if (x < 0.0) x = -x;
    if (x == 0.0) return 1.0;
    if (x >= 1.0) return 0.0;
    x = x * M_PI;
    /* PIL writes the constants as floats: keep them so. */
    return sin(x) / x * (0.54f + 0.46f * cos(x));
}

static double bicubic_fn(double x) { /* Keys cubic, a = -0.5 */
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

static double sinc(double x) {
    if (x == 0.0) return 1.0;
    x = x * M_PI;
    return sin(x) / x;
}

static double lanczos_fn(double x) { return -3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3) : 0.0; }

static const filter *filter_for(lp_image_resample r) {
    static const filter BOX = {box_fn, 0.5}, BILINEAR = {bilinear_fn, 1.0},
                        HAMMING = {hamming_fn, 1.0}, BICUBIC = {bicubic_fn, 2.0},
                        LANCZOS = {lanczos_fn, 3.0};
    switch (r) {
    case LP_RESAMPLE_BOX: return &BOX;
    case LP_RESAMPLE_BILINEAR: return &BILINEAR;
    case LP_RESAMPLE_HAMMING: return &HAMMING;
    case LP_RESAMPLE_BICUBIC: return &BICUBIC;
    case LP_RESAMPLE_LANCZOS: return &LANCZOS;
    default: return NULL;
    }
}

const char *lp_image_resample_name(lp_image_resample r) {
    switch (r) {
    case LP_RESAMPLE_NEAREST: return "nearest";
    case LP_RESAMPLE_LANCZOS: return "lanczos";
    case LP_RESAMPLE_BILINEAR: return "bilinear";
    case LP_RESAMPLE_BICUBIC: return "bicubic";
    case LP_RESAMPLE_BOX: return "box";
    case LP_RESAMPLE_HAMMING: return "hamming";
    }
    return "unknown";
}

lp_status lp_image_resample_parse(const char *name, lp_image_resample *out, lp_error *err) {
    static const struct {
        const char *name;
        lp_image_resample r;
    } names[] = {{"nearest", LP_RESAMPLE_NEAREST}, {"bilinear", LP_RESAMPLE_BILINEAR},
                 {"linear", LP_RESAMPLE_BILINEAR}, {"bicubic", LP_RESAMPLE_BICUBIC},
                 {"cubic", LP_RESAMPLE_BICUBIC},   {"lanczos", LP_RESAMPLE_LANCZOS},
                 {"box", LP_RESAMPLE_BOX},         {"hamming", LP_RESAMPLE_HAMMING}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (name && !strcmp(name, names[i].name)) {
            *out = names[i].r;
            return LP_OK;
        }
    return lp_fail(err, LP_ERR_UNSUPPORTED,
                   "interpolation '%s' is not supported (nearest, bilinear, bicubic, lanczos, box, hamming)",
                   name ? name : "(null)");
}

/* Per output index: first source index, count, and `ksize` fixed-point weights. */
typedef struct coeffs {
    int ksize;
    int *bounds; /* [out * 2]: xmin, count */
    int32_t *k;  /* [out * ksize] */
} coeffs;

static void coeffs_free(coeffs *c) {
    free(c->bounds);
    free(c->k);
}

/* Coefficients of outputs first .. first + count - 1 of an in_size -> out_size
 * resize (an output's weights depend only on its own index, so a cropped
 * resize computes exactly the pixels a full one would). */
static lp_status coeffs_make(int in_size, int out_size, int first, int count, const filter *f, coeffs *c,
                             lp_error *err) {
    memset(c, 0, sizeof *c);
    double scale = (double)in_size / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = f->support * filterscale;
    c->ksize = (int)ceil(support) * 2 + 1;
    double *w = malloc(sizeof(double) * (size_t)c->ksize);
    c->bounds = malloc(sizeof(int) * 2 * (size_t)count);
    c->k = malloc(sizeof(int32_t) * (size_t)c->ksize * (size_t)count);
    if (!w || !c->bounds || !c->k) {
        free(w);
        coeffs_free(c);
        return lp_fail(err, LP_ERR_NOMEM, "out of memory for resize coefficients (%d -> %d)", in_size, out_size);
    }
    for (int o = 0; o < count; o++) {
        const int xx = first + o;
        double center = (xx + 0.5) * scale;
        double ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double ww = 0.0;
        for (int x = 0; x < xmax; x++) {
            w[x] = f->fn((x + xmin - center + 0.5) * ss);
            ww += w[x];
        }
        int32_t *k = c->k + (size_t)o * c->ksize;
        for (int x = 0; x < c->ksize; x++) {
            double v = x < xmax ? (ww != 0.0 ? w[x] / ww : w[x]) : 0.0;
            k[x] = (int32_t)(v < 0 ? -0.5 + v * (1 << PRECISION_BITS) : 0.5 + v * (1 << PRECISION_BITS));
        }
        c->bounds[o * 2] = xmin;
        c->bounds[o * 2 + 1] = xmax;
    }
    free(w);
    return LP_OK;
}

static inline uint8_t clip8(int64_t ss) {
    int64_t v = ss >> PRECISION_BITS; /* arithmetic: floor, as PIL's table lookup */
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* rows [row0, row0 + rows) of src (width sw) -> dst (width dw). */
static void pass_horizontal(const uint8_t *src, int sw, int row0, int rows, uint8_t *dst, int dw,
                            const coeffs *c) {
    for (int y = 0; y < rows; y++) {
        const uint8_t *s = src + (size_t)(row0 + y) * sw * 3;
        uint8_t *d = dst + (size_t)y * dw * 3;
        for (int xx = 0; xx < dw; xx++) {
            const int xmin = c->bounds[xx * 2], n = c->bounds[xx * 2 + 1];
            const int32_t *k = c->k + (size_t)xx * c->ksize;
            int64_t s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
            for (int x = 0; x < n; x++) {
                const uint8_t *p = s + (size_t)(x + xmin) * 3;
                s0 += p[0] * k[x];
                s1 += p[1] * k[x];
                s2 += p[2] * k[x];
            }
            d[xx * 3] = clip8(s0);
            d[xx * 3 + 1] = clip8(s1);
            d[xx * 3 + 2] = clip8(s2);
        }
    }
}

/* Source row r is src + (r - row_shift) * src_stride; dst rows are w pixels. */
static void pass_vertical(const uint8_t *src, size_t src_stride, int w, int row_shift, uint8_t *dst, int dh,
                          const coeffs *c) {
    const size_t row = (size_t)w * 3;
    for (int yy = 0; yy < dh; yy++) {
        const int ymin = c->bounds[yy * 2] - row_shift, n = c->bounds[yy * 2 + 1];
        const int32_t *k = c->k + (size_t)yy * c->ksize;
        uint8_t *d = dst + (size_t)yy * row;
        for (size_t i = 0; i < row; i++) {
            int64_t s = 1 << (PRECISION_BITS - 1);
            for (int y = 0; y < n; y++) s += src[(size_t)(y + ymin) * src_stride + i] * k[y];
            d[i] = clip8(s);
        }
    }
}

static lp_status resize_nearest(const lp_image *in, int out_w, int out_h, int x0, int y0, lp_image *out) {
    /* PIL's affine nearest: source = (int)(scale / 2 + scale * x). */
    const double sx = (double)in->width / out_w, sy = (double)in->height / out_h;
    for (int y = 0; y < out->height; y++) {
        int iy = (int)(sy * 0.5 + sy * (y + y0));
        if (iy >= in->height) iy = in->height - 1;
        for (int x = 0; x < out->width; x++) {
            int ix = (int)(sx * 0.5 + sx * (x + x0));
            if (ix >= in->width) ix = in->width - 1;
            memcpy(out->rgb + ((size_t)y * out->width + x) * 3, in->rgb + ((size_t)iy * in->width + ix) * 3, 3);
        }
    }
    return LP_OK;
}

lp_status lp_image_resize(const lp_image *in, int out_w, int out_h, lp_image_resample r, lp_image *out,
                          lp_error *err) {
    return lp_image_resize_crop(in, out_w, out_h, r, 0, 0, out_w, out_h, out, err);
}

lp_status lp_image_resize_crop(const lp_image *in, int out_w, int out_h, lp_image_resample r, int x0, int y0,
                               int cw, int ch, lp_image *out, lp_error *err) {
    memset(out, 0, sizeof *out);
    if (!in || !in->rgb || in->width <= 0 || in->height <= 0)
        return lp_fail(err, LP_ERR_INVALID_ARG, "resize: empty input image");
    /* Extreme aspect ratios resize to long thin images, as in torchvision:
     * allowed while the result stays within the decode limit. */
    if (out_w <= 0 || out_h <= 0 || out_w > (1 << 20) || out_h > (1 << 20) ||
        (uint64_t)out_w * (uint64_t)out_h > LP_IMAGE_DEFAULT_MAX_PIXELS)
        return lp_fail(err, LP_ERR_INVALID_ARG,
                       "resize: target size %dx%d is too large (at most 2^20 a side and %llu pixels); "
                       "the image's aspect ratio is too extreme",
                       out_w, out_h, (unsigned long long)LP_IMAGE_DEFAULT_MAX_PIXELS);
    if (x0 < 0 || y0 < 0 || cw <= 0 || ch <= 0 || x0 > out_w - cw || y0 > out_h - ch)
        return lp_fail(err, LP_ERR_INVALID_ARG, "resize: window %dx%d at (%d, %d) is outside %dx%d", cw, ch, x0, y0,
                       out_w, out_h);
    const filter *f = filter_for(r);
    if (!f && r != LP_RESAMPLE_NEAREST)
        return lp_fail(err, LP_ERR_INVALID_ARG, "resize: unknown resample filter %d", (int)r);
    out->rgb = malloc((size_t)cw * ch * 3);
    if (!out->rgb) return lp_fail(err, LP_ERR_NOMEM, "out of memory for a %dx%d image", cw, ch);
    out->width = cw;
    out->height = ch;
    const size_t in_stride = (size_t)in->width * 3;
    if (out_w == in->width && out_h == in->height) { /* PIL copies */
        for (int y = 0; y < ch; y++)
            memcpy(out->rgb + (size_t)y * cw * 3, in->rgb + (size_t)(y + y0) * in_stride + (size_t)x0 * 3,
                   (size_t)cw * 3);
        return LP_OK;
    }
    if (r == LP_RESAMPLE_NEAREST) return resize_nearest(in, out_w, out_h, x0, y0, out);

    coeffs cv = {0}, chz = {0};
    const int need_h = out_w != in->width, need_v = out_h != in->height;
    lp_status st = LP_OK;
    if (need_h && (st = coeffs_make(in->width, out_w, x0, cw, f, &chz, err)) != LP_OK) goto fail_out;
    if (!need_v) { /* horizontal only: output row y is input row y0 + y */
        pass_horizontal(in->rgb, in->width, y0, ch, out->rgb, cw, &chz);
        coeffs_free(&chz);
        return LP_OK;
    }
    if ((st = coeffs_make(in->height, out_h, y0, ch, f, &cv, err)) != LP_OK) goto fail_out;
    if (!need_h) { /* vertical only, on columns x0 .. x0 + cw */
        pass_vertical(in->rgb + (size_t)x0 * 3, in_stride, cw, 0, out->rgb, ch, &cv);
        coeffs_free(&cv);
        return LP_OK;
    }
    /* Both: the horizontal pass over just the rows the vertical pass reads. */
    const int first = cv.bounds[0];
    const int last = cv.bounds[(ch - 1) * 2] + cv.bounds[(ch - 1) * 2 + 1];
    uint8_t *tmp = malloc((size_t)cw * (size_t)(last - first) * 3);
    if (!tmp) {
        st = lp_fail(err, LP_ERR_NOMEM, "out of memory resizing to %dx%d", out_w, out_h);
        goto fail_out;
    }
    pass_horizontal(in->rgb, in->width, first, last - first, tmp, cw, &chz);
    pass_vertical(tmp, (size_t)cw * 3, cw, first, out->rgb, ch, &cv);
    free(tmp);
    coeffs_free(&chz);
    coeffs_free(&cv);
    return LP_OK;
fail_out:
    coeffs_free(&chz);
    coeffs_free(&cv);
    lp_image_free(out);
    return st;
}
