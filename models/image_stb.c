/* stb_image compiled into lepton (Debian's libstb-dev ships the header), with
 * only the formats lepton accepts: TGA has no signature and PSD/HDR/PIC are not
 * image-diagnosis inputs, so leaving them out keeps random bytes from being
 * "decoded" and shrinks what a hostile upload can reach. No stdio: every input
 * comes from memory. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

#include "models/image_stb.h"

#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_ONLY_GIF
#define STBI_ONLY_PNM
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
/* The pixel limit is checked by lp_image_decode before stb runs; this is the
 * per-side backstop inside stb. */
#define STBI_MAX_DIMENSIONS (1 << 20)
/* Pixels are handed to lp_image, which frees them with free(). */
#define STBI_MALLOC(sz) malloc(sz)
#define STBI_REALLOC(p, newsz) realloc(p, newsz)
#define STBI_FREE(p) free(p)
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION

/* stb's warnings surface at the end of the file (unused functions) and where
 * its code is inlined into the wrappers below, so they stay off for the whole
 * (small) file rather than around the include only. */
#pragma GCC diagnostic ignored "-Wpragmas"                 /* gcc: unknown names below */
#pragma GCC diagnostic ignored "-Wunknown-warning-option"  /* clang: the same */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wmisleading-indentation"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
/* UBSan in stb's own code: a few of its idioms are undefined but harmless
 * (a zero offset added to, or a 0-byte memcpy into, the NULL buffer of an
 * empty PNG chunk; shifts of
 * negative DCT values), and the fuzz build aborts on any report, so those
 * checks are off inside stb only. Bounds checks and ASan stay on, and real
 * stb memory bugs are guarded in front of it (image_header.c). */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((no_sanitize("pointer-overflow", "shift", "nonnull-attribute"))), apply_to = function)
#endif
#include <stb/stb_image.h>
#if defined(__clang__)
#pragma clang attribute pop
#endif

int lp_image_stb_info(const uint8_t *bytes, size_t size, int *width, int *height,
                      const char **why) {
    int comp = 0;
    *width = *height = 0;
    if (size > INT_MAX) {
        *why = "input larger than 2 GiB";
        return 0;
    }
    if (!stbi_info_from_memory(bytes, (int)size, width, height, &comp)) {
        *why = stbi_failure_reason();
        if (!*why) *why = "unreadable header";
        return 0;
    }
    return 1;
}

uint8_t *lp_image_stb_decode_rgb(const uint8_t *bytes, size_t size, int *width, int *height,
                                 const char **why) {
    int comp = 0;
    *width = *height = 0;
    if (size > INT_MAX) {
        *why = "input larger than 2 GiB";
        return NULL;
    }
    /* Native channels (req_comp 0), converted to RGB here: stb 2.27's own
     * conversion treats 16-bit PNM data as 8-bit and overruns its buffer. */
    uint8_t *px = stbi_load_from_memory(bytes, (int)size, width, height, &comp, 0);
    if (!px) {
        *why = stbi_failure_reason();
        if (!*why) *why = "corrupt image data";
        return NULL;
    }
    if (comp == 3) return px;
    if (comp < 1 || comp > 4) {
        stbi_image_free(px);
        *why = "unexpected channel count";
        return NULL;
    }
    const size_t n = (size_t)*width * (size_t)*height;
    uint8_t *rgb = malloc(n * 3);
    if (!rgb) {
        stbi_image_free(px);
        *why = "out of memory";
        return NULL;
    }
    /* As PIL's convert('RGB'): gray replicated, alpha dropped. */
    for (size_t i = 0; i < n; i++) {
        const uint8_t *src = px + i * (size_t)comp;
        uint8_t *d = rgb + i * 3;
        if (comp <= 2) {
            d[0] = d[1] = d[2] = src[0];
        } else {
            d[0] = src[0];
            d[1] = src[1];
            d[2] = src[2];
        }
    }
    stbi_image_free(px);
    return rgb;
}

void lp_image_stb_free(void *pixels) { stbi_image_free(pixels); }
