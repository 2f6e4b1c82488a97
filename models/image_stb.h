/* The one place stb_image is compiled and called (models/image_stb.c). Internal
 * to the image pipeline: use models/image_decode.h. */
#ifndef LP_IMAGE_STB_H
#define LP_IMAGE_STB_H

#include <stddef.h>
#include <stdint.h>

/* Header dimensions; 0 when stb cannot read them (why says so). */
int lp_image_stb_info(const uint8_t *bytes, size_t size, int *width, int *height,
                      const char **why);

/* Decodes to interleaved RGB (gray replicated, alpha dropped, 16-bit -> high
 * byte). NULL on failure, with stb's reason in why. Free with free(). */
uint8_t *lp_image_stb_decode_rgb(const uint8_t *bytes, size_t size, int *width, int *height,
                                 const char **why);

void lp_image_stb_free(void *pixels);

#endif
