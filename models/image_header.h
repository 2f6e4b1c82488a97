/* Header-only image size for the formats whose header is at a fixed place
 * (PNG, GIF, BMP), found by a marker walk (JPEG) or read as text (PNM). Internal to the image
 * pipeline. */
#ifndef LP_IMAGE_HEADER_H
#define LP_IMAGE_HEADER_H

#include <stddef.h>
#include <stdint.h>

#include "models/image_decode.h"

/* 1 and the stored size when the header could be read; 0 otherwise. */
int lp_image_header_size(const void *bytes, size_t size, lp_image_format format, uint64_t *width,
                         uint64_t *height);

/* 0 (and why) when a JPEG's Huffman tables are malformed in a way stb_image
 * does not check; 1 otherwise. */
int lp_image_jpeg_tables_ok(const void *bytes, size_t size, const char **why);

/* 0 (and why) when a binary PNM header has a number stb would overflow on, or
 * 16-bit samples, which stb 2.27 misreads. */
int lp_image_pnm_header_ok(const void *bytes, size_t size, const char **why);

/* 0 (and why) when a PNG chunk declares more bytes than the file has left. */
int lp_image_png_chunks_ok(const void *bytes, size_t size, const char **why);

#endif
