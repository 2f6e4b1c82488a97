/* The image pipeline against torchvision / transformers / timm (fixtures from
 * tools/make_image_fixtures.py), plus the inputs it must refuse.
 *
 * Tolerances: lossless formats (PNG, BMP, GIF, PNM) must match PIL's pixels
 * exactly (max diff 0: the resize is bit-exact); JPEG is decoded by stb_image
 * here and libjpeg in PIL, whose IDCT and upsampling differ by a level or so,
 * so JPEG cases need a mean absolute difference <= 1 level (1/255) and report
 * the max. Normalized tensors: max abs diff <= 1e-5 where lossless.
 *
 * LP_IMAGE_FULL_FIXTURES=path/manifest.json (from make_image_fixtures.py
 * --full) adds the full-size (256 -> 224) real-photograph cases. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/image_decode.h"
#include "models/image_preprocess.h"
#include "pretrained/safetensors.h"
#include "tests/test_util.h"

/* A path from the manifest: absolute, or relative to the source root. */
static const char *src_path(const char *p, char *buf, size_t n) {
    if (p[0] == '/') {
        snprintf(buf, n, "%s", p);
        return buf;
    }
    return lp_test_source_path(p, buf, n);
}

typedef struct stats {
    double sum, max;
    size_t n;
} stats;

static int run_case(const cJSON *c, lp_safetensors *st, const char *root_label) {
    char buf[4096], cfgbuf[4096];
    lp_error err = {0};
    const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
    const char *image = cJSON_GetObjectItem(c, "image")->valuestring;
    const bool exact = cJSON_IsTrue(cJSON_GetObjectItem(c, "exact"));
    src_path(image, buf, sizeof buf);
    FILE *probe = fopen(buf, "rb");
    if (!probe) {
        printf("  skip %s: %s not present\n", name, buf);
        return 0;
    }
    fclose(probe);
    lp_image_preprocess p;
    const cJSON *cd = cJSON_GetObjectItem(c, "config_dir");
    if (cd) {
        CHECK_OK(lp_image_preprocess_from_dir(src_path(cd->valuestring, cfgbuf, sizeof cfgbuf), &p, &err), &err);
    } else {
        lp_image_preprocess_default(&p);
        p.shortest = (int)cJSON_GetObjectItem(c, "resize")->valuedouble;
        p.crop_h = p.crop_w = (int)cJSON_GetObjectItem(c, "crop")->valuedouble;
        CHECK_OK(lp_image_resample_parse(cJSON_GetObjectItem(c, "interpolation")->valuestring, &p.resample, &err),
                 &err);
    }
    lp_image img;
    lp_status s = lp_image_load_file(buf, NULL, &img, &err);
    CHECK_OK(s, &err);
    if (s != LP_OK) return 1;
    const cJSON *px = cJSON_GetObjectItem(c, "pixels");
    const cJSON *nm = cJSON_GetObjectItem(c, "normalized");
    lp_tensor ref;
    if (px) {
        CHECK_OK(lp_safetensors_get(st, px->valuestring, &ref, &err), &err);
        lp_image out;
        CHECK_OK(lp_image_preprocess_pixels(&p, &img, &out, &err), &err);
        if (out.rgb && ref.ndim == 3 && ref.shape[0] == out.height && ref.shape[1] == out.width) {
            const uint8_t *r = ref.data;
            size_t n = (size_t)out.width * out.height * 3, bad = 0;
            double sum = 0, mx = 0;
            for (size_t i = 0; i < n; i++) {
                double d = fabs((double)out.rgb[i] - r[i]);
                sum += d;
                if (d > mx) mx = d;
                bad += d != 0;
            }
            double mean = sum / (double)n;
            printf("  %-44s %s %3dx%-3d pixels: mean |diff| %.4f levels (%.5f of 1), max %.0f, %zu differ\n", name,
                   root_label, out.width, out.height, mean, mean / 255.0, mx, bad);
            if (exact)
                CHECK_MSG(mx == 0, "%s: lossless input must match PIL exactly (max %.0f)", name, mx);
            else
                CHECK_MSG(mean <= 1.0, "%s: mean |diff| %.3f levels > 1", name, mean);
        } else {
            CHECK_MSG(0, "%s: output %dx%d does not match the reference shape", name, out.width, out.height);
        }
        lp_image_free(&out);
    }
    if (nm) {
        CHECK_OK(lp_safetensors_get(st, nm->valuestring, &ref, &err), &err);
        int oh, ow;
        CHECK_OK(lp_image_preprocess_out_size(&p, img.height, img.width, &oh, &ow, &err), &err);
        if (ref.ndim == 3 && ref.shape[0] == 3 && ref.shape[1] == oh && ref.shape[2] == ow) {
            float *out = malloc(sizeof(float) * 3 * oh * ow);
            CHECK_OK(lp_image_preprocess_run(&p, &img, out, oh, ow, &err), &err);
            size_t n = (size_t)3 * oh * ow;
            double mx = lp_test_max_abs_diff(out, ref.data, n), sum = 0, lv = 0;
            for (size_t i = 0; i < n; i++) {
                double d = fabs((double)out[i] - ((const float *)ref.data)[i]);
                sum += d;
                lv += d * p.std[i / ((size_t)oh * ow)] / p.rescale; /* back to pixel levels */
            }
            printf("  %-44s %s %3dx%-3d tensor: mean |diff| %.2e (%.4f levels), max %.2e\n", name, root_label, ow, oh,
                   sum / n, lv / n, mx);
            if (exact)
                CHECK_MSG(mx <= 1e-5, "%s: normalized tensor max diff %.3g > 1e-5", name, mx);
            else
                CHECK_MSG(lv / n <= 1.0, "%s: mean diff %.3f levels > 1", name, lv / n);
            free(out);
        } else {
            CHECK_MSG(0, "%s: reference shape does not match %dx%d", name, ow, oh);
        }
    }
    lp_image_free(&img);
    return 0;
}

static void run_manifest(const char *manifest, const char *expected, const char *label) {
    char *text = lp_test_read_file(manifest, NULL);
    CHECK_MSG(text != NULL, "cannot read %s", manifest);
    if (!text) return;
    cJSON *root = cJSON_Parse(text);
    free(text);
    lp_safetensors *st = NULL;
    lp_error err = {0};
    CHECK_OK(lp_safetensors_open(expected, &st, &err), &err);
    const cJSON *cases = cJSON_GetObjectItem(root, "cases");
    CHECK(cJSON_GetArraySize(cases) > 0);
    const cJSON *c;
    if (st) cJSON_ArrayForEach(c, cases) run_case(c, st, label);
    lp_safetensors_close(st);
    cJSON_Delete(root);
}

/* ---- orientation ------------------------------------------------------ */

static void test_exif(void) {
    char path[4096];
    lp_image up, img;
    lp_error err = {0};
    lp_image_decode_opts keep = {.ignore_orientation = true};
    CHECK_OK(lp_image_load_file(lp_test_source_path("tests/fixtures/images/exif_1.jpg", path, sizeof path), &keep,
                                &up, &err),
             &err);
    for (int o = 1; o <= 9; o++) {
        char name[64];
        snprintf(name, sizeof name, "tests/fixtures/images/exif_%s.jpg", o == 9 ? "6_be" : (char[]){'0' + o, 0});
        size_t n;
        char *bytes = lp_test_read_file(lp_test_source_path(name, path, sizeof path), &n);
        CHECK(bytes != NULL);
        if (!bytes) continue;
        int want = o == 9 ? 6 : o;
        CHECK_MSG(lp_image_exif_orientation(bytes, n) == want, "%s: orientation %d", name,
                  lp_image_exif_orientation(bytes, n));
        CHECK_OK(lp_image_decode(bytes, n, NULL, &img, &err), &err);
        /* The stored pixels are the same in every file: the decoded image must
         * be that image transformed, pixel for pixel. */
        const int W = up.width, H = up.height;
        bool swap = want >= 5;
        CHECK(img.width == (swap ? H : W) && img.height == (swap ? W : H));
        size_t wrong = 0;
        for (int y = 0; y < img.height && img.rgb; y++)
            for (int x = 0; x < img.width; x++) {
                int sx, sy;
                switch (want) {
                case 1: sx = x; sy = y; break;
                case 2: sx = W - 1 - x; sy = y; break;
                case 3: sx = W - 1 - x; sy = H - 1 - y; break;
                case 4: sx = x; sy = H - 1 - y; break;
                case 5: sx = y; sy = x; break;
                case 6: sx = y; sy = H - 1 - x; break;
                case 7: sx = W - 1 - y; sy = H - 1 - x; break;
                default: sx = W - 1 - y; sy = x; break;
                }
                wrong += memcmp(img.rgb + ((size_t)y * img.width + x) * 3, up.rgb + ((size_t)sy * W + sx) * 3, 3) != 0;
            }
        CHECK_MSG(wrong == 0, "%s: %zu pixels not where orientation %d puts them", name, wrong, want);
        lp_image_free(&img);
        free(bytes);
    }
    lp_image_free(&up);
    /* Malformed EXIF blocks read as upright. */
    const uint8_t bad1[] = {0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x10, 'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 42, 0, 0xFF, 0xFF, 0xFF, 0x7F};
    CHECK(lp_image_exif_orientation(bad1, sizeof bad1) == 1);
    const uint8_t bad2[] = {0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF, 'E', 'x', 'i', 'f'};
    CHECK(lp_image_exif_orientation(bad2, sizeof bad2) == 1);
    CHECK(lp_image_exif_orientation(NULL, 0) == 1);
}

/* ---- refusals --------------------------------------------------------- */

static void put32be(uint8_t *p, uint32_t v) {
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

/* A PNG whose IHDR says w x h (no pixel data follows). */
static size_t png_header(uint8_t *b, uint32_t w, uint32_t h) {
    memcpy(b, "\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", 16);
    put32be(b + 16, w);
    put32be(b + 20, h);
    memcpy(b + 24, "\x08\x02\0\0\0\0\0\0\0", 9); /* depth 8, RGB, crc (unchecked) */
    memcpy(b + 33, "\0\0\0\0IEND\xae\x42\x60\x82", 12);
    return 45;
}

static void test_refusals(void) {
    lp_error err = {0};
    lp_image img;
    CHECK_FAILS(lp_image_decode("", 0, NULL, &img, &err), LP_ERR_FORMAT, &err, "empty");
    lp_error_clear(&err);
    CHECK_FAILS(lp_image_decode("hello, world", 12, NULL, &img, &err), LP_ERR_FORMAT, &err, "not an image");
    lp_error_clear(&err);
    CHECK_FAILS(lp_image_decode("II*\0\x08\0\0\0", 8, NULL, &img, &err), LP_ERR_UNSUPPORTED, &err, "TIFF");
    lp_error_clear(&err);
    CHECK_FAILS(lp_image_decode("RIFF\0\0\0\0WEBPVP8 ", 16, NULL, &img, &err), LP_ERR_UNSUPPORTED, &err, "WebP");
    lp_error_clear(&err);
    CHECK_FAILS(lp_image_decode("P3\n2 2\n255\n", 11, NULL, &img, &err), LP_ERR_UNSUPPORTED, &err, "P5/P6");
    lp_error_clear(&err);
    uint8_t b[64];
    size_t n = png_header(b, 20000, 20000);
    CHECK_FAILS(lp_image_decode(b, n, NULL, &img, &err), LP_ERR_FORMAT, &err, "decompression bomb");
    lp_error_clear(&err);
    n = png_header(b, 0, 16);
    CHECK_FAILS(lp_image_decode(b, n, NULL, &img, &err), LP_ERR_FORMAT, &err, "PNG");
    lp_error_clear(&err);
    n = png_header(b, 64, 64); /* a valid header, no pixel data */
    CHECK_FAILS(lp_image_decode(b, n, NULL, &img, &err), LP_ERR_FORMAT, &err, "corrupt or truncated");
    lp_error_clear(&err);
    CHECK(img.rgb == NULL);

    /* JPEG Huffman tables stb 2.27 does not check (found by fuzz_image): more
     * than 256 codes in a table, and a scan using a table never defined. */
    {
        char jp[4096];
        size_t jn;
        lp_test_source_path("tests/fixtures/images/rgb_baseline.jpg", jp, sizeof jp);
        uint8_t *j = (uint8_t *)lp_test_read_file(jp, &jn);
        CHECK(j != NULL);
        size_t dht = 0, sos = 0;
        for (size_t i = 2; j && i + 1 < jn && !sos; i++) {
            if (j[i] == 0xFF && j[i + 1] == 0xC4 && !dht) dht = i;
            if (j[i] == 0xFF && j[i + 1] == 0xDA) sos = i;
        }
        CHECK(dht && sos);
        if (j && dht && sos) {
            uint8_t *bad = malloc(jn);
            memcpy(bad, j, jn);
            for (int k = 0; k < 16; k++) bad[dht + 5 + k] = 0xFF; /* 16 x 255 codes */
            CHECK_FAILS(lp_image_decode(bad, jn, NULL, &img, &err), LP_ERR_FORMAT, &err, "more than 256 codes");
            lp_error_clear(&err);
            memcpy(bad, j, jn);
            bad[sos + 6] = 0x33; /* first component: DC and AC table 3, never defined */
            CHECK_FAILS(lp_image_decode(bad, jn, NULL, &img, &err), LP_ERR_FORMAT, &err, "never defined");
            lp_error_clear(&err);
            /* 16-bit PNM (maxval > 255): stb 2.27 misreads its byte order (and
             * overran its buffer converting it): refused by name. */
            const uint8_t p16[] = "P5\n2 1\n1255\n\x04\xd2\x00\x07";
            CHECK_FAILS(lp_image_decode(p16, sizeof p16 - 1, NULL, &img, &err), LP_ERR_FORMAT, &err, "16-bit");
            lp_error_clear(&err);
            /* PNM with a header number stb would overflow on */
            const char pnm[] = "P5\n1\n66666666666666666666 9\n255\n";
            CHECK_FAILS(lp_image_decode(pnm, sizeof pnm - 1, NULL, &img, &err), LP_ERR_FORMAT, &err, "9 digits");
            lp_error_clear(&err);
            free(bad);
        }
        free(j);
    }

    /* A limit below a real image's size; then truncations and corruptions of
     * real files of every format: each must fail cleanly or decode, never crash. */
    const char *files[] = {"rgb_baseline.jpg", "rgb_progressive.jpg", "rgb8.png", "palette.png", "rgb16.png",
                           "rgb24.bmp", "anim.gif", "rgb.ppm", "gray.pgm"};
    char path[4096], rel[256];
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        snprintf(rel, sizeof rel, "tests/fixtures/images/%s", files[f]);
        size_t size;
        uint8_t *bytes = (uint8_t *)lp_test_read_file(lp_test_source_path(rel, path, sizeof path), &size);
        CHECK(bytes != NULL);
        if (!bytes) continue;
        lp_image_decode_opts small = {.max_pixels = 1000};
        CHECK_FAILS(lp_image_decode(bytes, size, &small, &img, &err), LP_ERR_FORMAT, &err, "over the limit");
        lp_error_clear(&err);
        int refused = 0, total = 0;
        for (size_t cut = 1; cut < size; cut += 1 + size / 23, total++) {
            lp_status s = lp_image_decode(bytes, cut, NULL, &img, &err);
            if (s != LP_OK) {
                refused++;
                CHECK_MSG(err.msg[0] != 0 && img.rgb == NULL, "%s cut at %zu: no message", files[f], cut);
            }
            lp_image_free(&img);
            lp_error_clear(&err);
        }
        /* BMP/PNM/progressive JPEG can decode a truncated body as black; most cuts must fail. */
        CHECK_MSG(refused > 0, "%s: no truncation refused (%d/%d)", files[f], refused, total);
        lp_rng rng = lp_rng_seed(f + 1);
        for (int k = 0; k < 40; k++) {
            uint8_t *copy = malloc(size);
            memcpy(copy, bytes, size);
            for (int j = 0; j < 4; j++) copy[lp_rng_next(&rng) % size] ^= (uint8_t)(1 + lp_rng_next(&rng) % 255);
            if (lp_image_decode(copy, size, NULL, &img, &err) == LP_OK)
                CHECK(img.rgb && img.width > 0 && img.height > 0);
            else
                CHECK(err.msg[0] != 0);
            lp_image_free(&img);
            lp_error_clear(&err);
            free(copy);
        }
        printf("  %-20s %d of %d truncations refused with a message\n", files[f], refused, total);
        free(bytes);
    }
}

/* ---- configuration ---------------------------------------------------- */

static void test_config(void) {
    lp_image_preprocess p;
    lp_error err = {0};
    char path[4096];
    lp_image_preprocess_default(&p);
    CHECK(p.shortest == 256 && p.crop_h == 224 && p.resample == LP_RESAMPLE_BILINEAR);
    CHECK_OK(lp_image_preprocess_from_dir(lp_test_source_path("tests/fixtures/images", path, sizeof path), &p, &err),
             &err);
    CHECK(strstr(p.source, "ImageNet defaults") != NULL);
    CHECK_OK(lp_image_preprocess_from_dir(lp_test_source_path("tests/fixtures/images/hf_convnext", path, sizeof path),
                                          &p, &err),
             &err);
    CHECK(p.resize_mode == LP_RESIZE_SHORTEST_EDGE && p.shortest == 48 && p.crop_h == 42 && p.crop_w == 42 &&
          p.resample == LP_RESAMPLE_BICUBIC && p.crop_rounding == LP_CROP_FLOOR);
    CHECK_OK(lp_image_preprocess_from_dir(lp_test_source_path("tests/fixtures/images/timm_cfg", path, sizeof path), &p,
                                          &err),
             &err);
    CHECK(p.shortest == 50 && p.crop_h == 48 && p.resample == LP_RESAMPLE_BICUBIC && p.mean[0] == 0.5f);
    /* microsoft/resnet-50's preprocessor_config.json (older feature-extractor spelling). */
    const char *msr = "{\"crop_pct\": 0.875, \"do_normalize\": true, \"do_resize\": true, "
                      "\"feature_extractor_type\": \"ConvNextFeatureExtractor\", \"image_mean\": [0.485, 0.456, 0.406], "
                      "\"image_std\": [0.229, 0.224, 0.225], \"resample\": 3, \"size\": 224}";
    CHECK_OK(lp_image_preprocess_from_hf_json(msr, "msr", &p, &err), &err);
    CHECK(p.shortest == 256 && p.crop_h == 224 && p.resample == LP_RESAMPLE_BICUBIC);
    CHECK_FAILS(lp_image_preprocess_from_hf_json("[1,2]", "x", &p, &err), LP_ERR_FORMAT, &err, "not a JSON object");
    lp_error_clear(&err);
    CHECK_FAILS(lp_image_preprocess_from_hf_json("{\"size\": {\"height\": 10}}", "x", &p, &err), LP_ERR_FORMAT, &err,
                "height/width");
    lp_error_clear(&err);
    CHECK_FAILS(lp_image_preprocess_from_hf_json("{\"image_std\": [0, 1, 1], \"size\": 8}", "x", &p, &err),
                LP_ERR_INVALID_ARG, &err, "std");
    lp_error_clear(&err);
    CHECK_FAILS(lp_image_preprocess_from_timm_json("{\"pretrained_cfg\": {\"crop_mode\": \"border\"}}", "t", &p, &err),
                LP_ERR_UNSUPPORTED, &err, "border");
    lp_error_clear(&err);
    CHECK_FAILS(lp_image_preprocess_from_timm_json("{\"interpolation\": \"magic\"}", "t", &p, &err),
                LP_ERR_UNSUPPORTED, &err, "magic");
    lp_error_clear(&err);
}

int main(void) {
    char m[4096], e[4096];
    test_config();
    test_exif();
    test_refusals();
    run_manifest(lp_test_source_path("tests/fixtures/images/manifest.json", m, sizeof m),
                 lp_test_source_path("tests/fixtures/images/expected.safetensors", e, sizeof e), "");
    const char *full = getenv("LP_IMAGE_FULL_FIXTURES");
    if (full && *full) {
        snprintf(e, sizeof e, "%s", full);
        char *slash = strrchr(e, '/');
        snprintf(slash ? slash + 1 : e, sizeof e - (size_t)(slash ? slash + 1 - e : 0), "expected.safetensors");
        run_manifest(full, e, "[full]");
    }
    return lp_test_finish();
}
