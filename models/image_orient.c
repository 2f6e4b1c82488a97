/* Applies an EXIF orientation so the image is upright, with the same eight
 * transforms as PIL's ImageOps.exif_transpose. */
#include <stdlib.h>
#include <string.h>

#include "models/image_decode.h"

lp_status lp_image_apply_orientation(lp_image *img, int o, lp_error *err) {
    if (o < 1 || o > 8) return lp_fail(err, LP_ERR_INVALID_ARG, "EXIF orientation %d is not 1..8", o);
    if (o == 1) return LP_OK;
    const int W = img->width, H = img->height;
    const int swap = o >= 5; /* 5..8 exchange width and height */
    const int ow = swap ? H : W, oh = swap ? W : H;
    uint8_t *dst = malloc((size_t)W * (size_t)H * 3);
    if (!dst) return lp_fail(err, LP_ERR_NOMEM, "out of memory rotating a %dx%d image", W, H);
    for (int y = 0; y < oh; y++) {
        for (int x = 0; x < ow; x++) {
            int sx, sy;
            switch (o) {
            case 2: sx = W - 1 - x; sy = y; break;             /* mirror */
            case 3: sx = W - 1 - x; sy = H - 1 - y; break;     /* 180 */
            case 4: sx = x; sy = H - 1 - y; break;             /* flip */
            case 5: sx = y; sy = x; break;                     /* transpose */
            case 6: sx = y; sy = H - 1 - x; break;             /* 90 clockwise */
            case 7: sx = W - 1 - y; sy = H - 1 - x; break;     /* transverse */
            default: sx = W - 1 - y; sy = x; break;            /* 8: 90 counter-clockwise */
            }
            memcpy(dst + ((size_t)y * ow + x) * 3, img->rgb + ((size_t)sy * W + sx) * 3, 3);
        }
    }
    free(img->rgb);
    img->rgb = dst;
    img->width = ow;
    img->height = oh;
    return LP_OK;
}
