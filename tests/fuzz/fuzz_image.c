/* libFuzzer target: decode + preprocess arbitrary bytes. Every input must
 * either produce a tensor of the configured size or fail with a message. The
 * pixel limit is lowered so that the fuzzer does not spend its time (and
 * memory) on legitimately huge images. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "models/image_decode.h"
#include "models/image_preprocess.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static float out[3 * 32 * 32];
    lp_image_preprocess p;
    lp_image_preprocess_default(&p);
    /* The first byte picks the resampling filter and the crop rule. */
    if (size > 0) {
        p.resample = (lp_image_resample)(data[0] % 6);
        p.crop_rounding = (data[0] >> 3) & 1 ? LP_CROP_FLOOR : LP_CROP_ROUND_HALF_EVEN;
        p.resize_mode = (data[0] >> 4) & 1 ? LP_RESIZE_EXACT : LP_RESIZE_SHORTEST_EDGE;
    }
    p.shortest = 36;
    p.resize_h = 40;
    p.resize_w = 28;
    p.crop_h = p.crop_w = 32;
    lp_image_decode_opts opts = {.max_pixels = 1u << 20};
    lp_error err = {0};
    lp_image img;
    if (lp_image_decode(data, size, &opts, &img, &err) != LP_OK) {
        if (!err.msg[0]) abort(); /* a failure must say why */
        return 0;
    }
    if (!img.rgb || img.width <= 0 || img.height <= 0) abort();
    /* Preprocessing may refuse (an extreme aspect ratio resizes past the side
     * limit) but must say why. */
    if (lp_image_preprocess_run(&p, &img, out, 32, 32, &err) != LP_OK && !err.msg[0]) abort();
    lp_image_free(&img);
    (void)lp_image_exif_orientation(data, size);
    return 0;
}
