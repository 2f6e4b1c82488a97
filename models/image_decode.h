/* Image decoding for classification: bytes from a file, an HTTP body or a
 * dataset -> an 8-bit RGB image the preprocessing can resize.
 *
 * Formats: JPEG (baseline and progressive), PNG (1-16 bit, gray, gray+alpha,
 * palette, RGB, RGBA), BMP, GIF (first frame) and binary PNM (P5/P6). The
 * decoder is stb_image, compiled into lepton with only those formats enabled
 * (so random bytes are never taken for a TGA).
 *
 * Conversion to RGB follows PIL's Image.convert('RGB'): gray is replicated,
 * alpha is dropped (not composited), palettes are expanded. One deliberate
 * difference: 16-bit samples keep their high byte (as PIL does for 16-bit RGB),
 * where PIL clips 16-bit grayscale to 255 and would turn an X-ray white.
 *
 * The JPEG EXIF orientation (tag 0x0112) is applied, as PIL's
 * ImageOps.exif_transpose and transformers' load_image do. The pixel count is
 * read from the header and checked against a limit before any pixel is
 * decoded, so a decompression bomb costs nothing. */
#ifndef LP_IMAGE_DECODE_H
#define LP_IMAGE_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/status.h"

/* PIL's Image.MAX_IMAGE_PIXELS (above twice this PIL raises; we refuse above it). */
#define LP_IMAGE_DEFAULT_MAX_PIXELS ((uint64_t)89478485)

typedef enum lp_image_format {
    LP_IMAGE_UNKNOWN = 0,
    LP_IMAGE_JPEG,
    LP_IMAGE_PNG,
    LP_IMAGE_BMP,
    LP_IMAGE_GIF,
    LP_IMAGE_PNM
} lp_image_format;

/* Interleaved RGB, row-major, width * 3 bytes per row, owned (lp_image_free). */
typedef struct lp_image {
    uint8_t *rgb;
    int width, height;
} lp_image;

typedef struct lp_image_decode_opts {
    uint64_t max_pixels;     /* width * height above this is refused; 0 = default */
    bool ignore_orientation; /* true: keep the stored pixel order */
} lp_image_decode_opts;

/* The format named by the first bytes; LP_IMAGE_UNKNOWN when none matches. */
lp_image_format lp_image_sniff(const void *bytes, size_t size);
const char *lp_image_format_name(lp_image_format format);

/* Width and height from the header (no pixels decoded), after the format
 * check. Orientation is not applied here. */
lp_status lp_image_info(const void *bytes, size_t size, lp_image_format *format, int *width,
                        int *height, lp_error *err);

/* Decodes `bytes` into out (opts may be NULL for the defaults). On failure out
 * is left empty and err says what was wrong with the input. */
lp_status lp_image_decode(const void *bytes, size_t size, const lp_image_decode_opts *opts,
                          lp_image *out, lp_error *err);

/* Reads a whole file (at most max_bytes; 0 = 256 MiB) and decodes it. */
lp_status lp_image_load_file(const char *path, const lp_image_decode_opts *opts, lp_image *out,
                             lp_error *err);

/* Reads a whole file into a malloc'd buffer (freed by the caller). */
lp_status lp_image_read_file(const char *path, size_t max_bytes, uint8_t **bytes, size_t *size,
                             lp_error *err);

void lp_image_free(lp_image *img);

/* The EXIF orientation (1..8) of a JPEG; 1 when there is none or it cannot be
 * read (a malformed EXIF block never fails a decode: PIL ignores it too). */
int lp_image_exif_orientation(const void *bytes, size_t size);

/* Rotates/flips img in place so that orientation `o` (1..8) becomes 1. */
lp_status lp_image_apply_orientation(lp_image *img, int orientation, lp_error *err);

#endif
