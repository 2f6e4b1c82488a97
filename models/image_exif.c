/* The EXIF orientation of a JPEG: the first APP1 "Exif\0\0" segment, its TIFF
 * header, IFD0, tag 0x0112. Every offset is bounds-checked; anything malformed
 * reads as orientation 1 (upright), as PIL treats an unreadable EXIF block. */
#include <stdint.h>
#include <string.h>

#include "models/image_decode.h"

static unsigned rd16(const uint8_t *p, int big) {
    return big ? ((unsigned)p[0] << 8 | p[1]) : ((unsigned)p[1] << 8 | p[0]);
}

static uint32_t rd32(const uint8_t *p, int big) {
    return big ? ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3])
               : ((uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]);
}

/* Orientation from a TIFF block (the APP1 payload after "Exif\0\0"). */
static int tiff_orientation(const uint8_t *t, size_t n) {
    if (n < 8) return 1;
    int big;
    if (t[0] == 'I' && t[1] == 'I')
        big = 0;
    else if (t[0] == 'M' && t[1] == 'M')
        big = 1;
    else
        return 1;
    if (rd16(t + 2, big) != 42) return 1;
    uint32_t ifd = rd32(t + 4, big);
    if (ifd > n || n - ifd < 2) return 1;
    unsigned count = rd16(t + ifd, big);
    for (unsigned i = 0; i < count; i++) {
        size_t e = (size_t)ifd + 2 + (size_t)i * 12;
        if (e > n || n - e < 12) return 1;
        if (rd16(t + e, big) != 0x0112) continue;
        unsigned type = rd16(t + e + 2, big);
        uint32_t value;
        if (type == 3) /* SHORT: left-justified in the 4-byte value field */
            value = rd16(t + e + 8, big);
        else if (type == 4) /* LONG */
            value = rd32(t + e + 8, big);
        else
            return 1;
        return value >= 1 && value <= 8 ? (int)value : 1;
    }
    return 1;
}

int lp_image_exif_orientation(const void *bytes, size_t size) {
    const uint8_t *p = bytes;
    if (!p || size < 4 || p[0] != 0xFF || p[1] != 0xD8) return 1;
    size_t pos = 2;
    while (pos + 4 <= size) {
        if (p[pos] != 0xFF) return 1;
        uint8_t marker = p[pos + 1];
        if (marker == 0xFF) { /* fill byte */
            pos++;
            continue;
        }
        if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {
            pos += 2; /* markers without a length */
            continue;
        }
        if (marker == 0xDA || marker == 0xD9) return 1; /* scan data: no more headers */
        size_t len = (size_t)p[pos + 2] << 8 | p[pos + 3];
        if (len < 2 || len > size - pos - 2) return 1;
        const uint8_t *seg = p + pos + 4;
        size_t seglen = len - 2;
        if (marker == 0xE1 && seglen >= 6 && !memcmp(seg, "Exif\0\0", 6))
            return tiff_orientation(seg + 6, seglen - 6);
        pos += 2 + len;
    }
    return 1;
}
