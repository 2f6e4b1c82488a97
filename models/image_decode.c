/* Bytes -> upright RGB: format check, header-only size check, stb decode,
 * EXIF orientation. See image_decode.h for the conversion rules. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "models/image_decode.h"
#include "models/image_header.h"
#include "models/image_stb.h"

lp_image_format lp_image_sniff(const void *bytes, size_t size) {
    const uint8_t *p = bytes;
    if (!p) return LP_IMAGE_UNKNOWN;
    if (size >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) return LP_IMAGE_JPEG;
    if (size >= 8 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8)) return LP_IMAGE_PNG;
    if (size >= 6 && (!memcmp(p, "GIF87a", 6) || !memcmp(p, "GIF89a", 6))) return LP_IMAGE_GIF;
    if (size >= 2 && p[0] == 'B' && p[1] == 'M') return LP_IMAGE_BMP;
    if (size >= 2 && p[0] == 'P' && (p[1] == '5' || p[1] == '6')) return LP_IMAGE_PNM;
    return LP_IMAGE_UNKNOWN;
}

const char *lp_image_format_name(lp_image_format format) {
    switch (format) {
    case LP_IMAGE_JPEG: return "JPEG";
    case LP_IMAGE_PNG: return "PNG";
    case LP_IMAGE_BMP: return "BMP";
    case LP_IMAGE_GIF: return "GIF";
    case LP_IMAGE_PNM: return "PNM";
    default: return "unknown";
    }
}

/* Names the formats people send that lepton does not read, so the error says
 * what the file is rather than "not an image". */
static const char *unsupported_name(const uint8_t *p, size_t n) {
    if (n >= 12 && !memcmp(p, "RIFF", 4) && !memcmp(p + 8, "WEBP", 4)) return "WebP";
    if (n >= 12 && !memcmp(p + 4, "ftyp", 4)) return "HEIF/AVIF (or MP4)";
    if (n >= 4 && (!memcmp(p, "II*\0", 4) || !memcmp(p, "MM\0*", 4))) return "TIFF";
    if (n >= 132 && !memcmp(p + 128, "DICM", 4)) return "DICOM";
    if (n >= 2 && p[0] == 'P' && (p[1] == '1' || p[1] == '2' || p[1] == '3' || p[1] == '4'))
        return "ASCII or 1-bit PNM (only binary P5/P6 are read)";
    if (n >= 4 && !memcmp(p, "%PDF", 4)) return "PDF";
    return NULL;
}

#define SUPPORTED "JPEG, PNG, BMP, GIF or binary PNM (P5/P6)"

lp_status lp_image_info(const void *bytes, size_t size, lp_image_format *format, int *width,
                        int *height, lp_error *err) {
    *width = *height = 0;
    *format = LP_IMAGE_UNKNOWN;
    if (!bytes || size == 0) return lp_fail(err, LP_ERR_FORMAT, "empty image: 0 bytes; send a " SUPPORTED " file");
    lp_image_format f = lp_image_sniff(bytes, size);
    if (f == LP_IMAGE_UNKNOWN) {
        const char *what = unsupported_name(bytes, size);
        if (what) return lp_fail(err, LP_ERR_UNSUPPORTED, "image format %s is not supported; convert it to " SUPPORTED, what);
        return lp_fail(err, LP_ERR_FORMAT, "not an image: the first bytes match no " SUPPORTED " signature");
    }
    const char *why = NULL;
    /* stb reads the tables while looking for the size, so check them first. */
    if (f == LP_IMAGE_JPEG && !lp_image_jpeg_tables_ok(bytes, size, &why))
        return lp_fail(err, LP_ERR_FORMAT, "JPEG is corrupt: %s", why);
    if (f == LP_IMAGE_PNG && !lp_image_png_chunks_ok(bytes, size, &why))
        return lp_fail(err, LP_ERR_FORMAT, "PNG is corrupt or truncated: %s", why);
    if (f == LP_IMAGE_PNM && !lp_image_pnm_header_ok(bytes, size, &why))
        return lp_fail(err, LP_ERR_FORMAT, "PNM: %s", why);
    if (!lp_image_stb_info(bytes, size, width, height, &why))
        return lp_fail(err, LP_ERR_FORMAT, "%s header is unreadable (%s): the file is corrupt or truncated",
                       lp_image_format_name(f), why);
    if (*width <= 0 || *height <= 0)
        return lp_fail(err, LP_ERR_FORMAT, "%s header gives a zero size (%dx%d)", lp_image_format_name(f), *width, *height);
    *format = f;
    return LP_OK;
}

static lp_status bomb(lp_error *err, lp_image_format f, uint64_t w, uint64_t h, uint64_t limit) {
    return lp_fail(err, LP_ERR_FORMAT,
                   "%s image of %llux%llu = %llu pixels is over the limit of %llu pixels "
                   "(decompression bomb guard); downscale it or raise the limit",
                   lp_image_format_name(f), (unsigned long long)w, (unsigned long long)h,
                   (unsigned long long)(w * h), (unsigned long long)limit);
}

lp_status lp_image_decode(const void *bytes, size_t size, const lp_image_decode_opts *opts,
                          lp_image *out, lp_error *err) {
    memset(out, 0, sizeof *out);
    uint64_t limit = opts && opts->max_pixels ? opts->max_pixels : LP_IMAGE_DEFAULT_MAX_PIXELS;
    /* The size check comes first, from the header alone. */
    uint64_t hw, hh;
    lp_image_format f = lp_image_sniff(bytes, size);
    if (f != LP_IMAGE_UNKNOWN && lp_image_header_size(bytes, size, f, &hw, &hh) && hw * hh > limit)
        return bomb(err, f, hw, hh, limit);
    int w, h;
    lp_status st = lp_image_info(bytes, size, &f, &w, &h, err);
    if (st != LP_OK) return st;
    if ((uint64_t)w * (uint64_t)h > limit) return bomb(err, f, (uint64_t)w, (uint64_t)h, limit);
    const char *why = NULL;
    int dw, dh;
    uint8_t *px = lp_image_stb_decode_rgb(bytes, size, &dw, &dh, &why);
    if (!px)
        return lp_fail(err, LP_ERR_FORMAT, "%s %dx%d could not be decoded (%s): the file is corrupt or truncated",
                       lp_image_format_name(f), w, h, why);
    if (dw != w || dh != h || dw <= 0 || dh <= 0) { /* the header and the data disagree */
        lp_image_stb_free(px);
        return lp_fail(err, LP_ERR_FORMAT, "%s decoded as %dx%d but its header says %dx%d",
                       lp_image_format_name(f), dw, dh, w, h);
    }
    out->rgb = px;
    out->width = dw;
    out->height = dh;
    if (f == LP_IMAGE_JPEG && !(opts && opts->ignore_orientation)) {
        st = lp_image_apply_orientation(out, lp_image_exif_orientation(bytes, size), err);
        if (st != LP_OK) {
            lp_image_free(out);
            return st;
        }
    }
    return LP_OK;
}

lp_status lp_image_read_file(const char *path, size_t max_bytes, uint8_t **bytes, size_t *size,
                             lp_error *err) {
    *bytes = NULL;
    *size = 0;
    if (!max_bytes) max_bytes = (size_t)256 << 20;
    FILE *f = fopen(path, "rb");
    if (!f) return lp_fail(err, LP_ERR_IO, "cannot open image '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return lp_fail(err, LP_ERR_IO, "'%s' is not a regular file", path);
    }
    if ((uint64_t)sb.st_size > max_bytes) {
        fclose(f);
        return lp_fail(err, LP_ERR_FORMAT, "image '%s' is %lld bytes, over the %zu-byte limit", path,
                       (long long)sb.st_size, max_bytes);
    }
    size_t n = (size_t)sb.st_size;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        fclose(f);
        return lp_fail(err, LP_ERR_NOMEM, "out of memory reading '%s' (%zu bytes)", path, n);
    }
    size_t got = fread(buf, 1, n, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != n) {
        free(buf);
        return lp_fail(err, LP_ERR_IO, "read error on '%s'", path);
    }
    *bytes = buf;
    *size = n;
    return LP_OK;
}

lp_status lp_image_load_file(const char *path, const lp_image_decode_opts *opts, lp_image *out,
                             lp_error *err) {
    memset(out, 0, sizeof *out);
    uint8_t *bytes;
    size_t size;
    lp_status st = lp_image_read_file(path, 0, &bytes, &size, err);
    if (st != LP_OK) return st;
    st = lp_image_decode(bytes, size, opts, out, err);
    free(bytes);
    if (st != LP_OK) return lp_fail(err, st, "%s", path);
    return LP_OK;
}

void lp_image_free(lp_image *img) {
    if (!img) return;
    free(img->rgb);
    img->rgb = NULL;
    img->width = img->height = 0;
}
