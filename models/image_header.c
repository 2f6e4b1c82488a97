/* Width and height straight from a header, without stb: stb's own info call
 * refuses very large images with "unknown image type", which would hide the
 * real reason (a decompression bomb) behind a vague one. PNM headers are read here too. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "models/image_header.h"

static uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t le16(const uint8_t *p) { return (uint32_t)p[1] << 8 | p[0]; }
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static uint32_t le32(const uint8_t *p) { return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]; }

static int jpeg_size(const uint8_t *p, size_t n, uint64_t *w, uint64_t *h) {
    size_t pos = 2;
    while (pos + 4 <= n) {
        if (p[pos] != 0xFF) return 0;
        uint8_t m = p[pos + 1];
        if (m == 0xFF) {
            pos++;
            continue;
        }
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD8)) {
            pos += 2;
            continue;
        }
        if (m == 0xD9 || m == 0xDA) return 0;
        size_t len = be16(p + pos + 2);
        if (len < 2 || len > n - pos - 2) return 0;
        /* SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) */
        if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
            if (len < 7) return 0;
            *h = be16(p + pos + 5);
            *w = be16(p + pos + 7);
            return 1;
        }
        pos += 2 + len;
    }
    return 0;
}

/* One header number of a binary PNM, after whitespace and #-comments. stb
 * accumulates the digits in an int without a bound (signed overflow), so a
 * number longer than 9 digits is refused here first. */
static int pnm_number(const uint8_t *p, size_t n, size_t *pos, uint64_t *out) {
    size_t i = *pos;
    for (;;) {
        while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r' || p[i] == '\v' || p[i] == '\f'))
            i++;
        if (i < n && p[i] == '#') {
            while (i < n && p[i] != '\n' && p[i] != '\r') i++;
            continue;
        }
        break;
    }
    uint64_t v = 0;
    int digits = 0;
    while (i < n && p[i] >= '0' && p[i] <= '9') {
        if (++digits > 9) return -1;
        v = v * 10 + (uint64_t)(p[i++] - '0');
    }
    if (!digits) return 0;
    *pos = i;
    *out = v;
    return 1;
}

int lp_image_pnm_header_ok(const void *bytes, size_t n, const char **why) {
    const uint8_t *p = bytes;
    size_t pos = 2;
    uint64_t v = 0;
    for (int k = 0; k < 3; k++) {
        int got = pnm_number(p, n, &pos, &v);
        if (got < 0) {
            *why = "a header number has more than 9 digits";
            return 0;
        }
        if (got == 0) return 1; /* malformed: stb reports it */
    }
    /* stb 2.27 reads 16-bit samples in the wrong byte order (and overran its
     * buffer converting them), so 16-bit PNM is refused rather than misread. */
    if (v > 255) {
        *why = "16-bit samples (maxval > 255) are not supported; convert it to 8-bit PNM or to PNG";
        return 0;
    }
    return 1;
}

int lp_image_header_size(const void *bytes, size_t n, lp_image_format f, uint64_t *w, uint64_t *h) {
    const uint8_t *p = bytes;
    *w = *h = 0;
    switch (f) {
    case LP_IMAGE_PNG:
        if (n < 24 || memcmp(p + 12, "IHDR", 4)) return 0;
        *w = be32(p + 16);
        *h = be32(p + 20);
        return 1;
    case LP_IMAGE_GIF:
        if (n < 10) return 0;
        *w = le16(p + 6);
        *h = le16(p + 8);
        return 1;
    case LP_IMAGE_BMP: {
        if (n < 26) return 0;
        uint32_t hs = le32(p + 14);
        if (hs == 12) {
            *w = le16(p + 18);
            *h = le16(p + 20);
            return 1;
        }
        int32_t sw = (int32_t)le32(p + 18), sh = (int32_t)le32(p + 22);
        *w = sw < 0 ? 0 : (uint64_t)sw;
        *h = sh < 0 ? (uint64_t)(-(int64_t)sh) : (uint64_t)sh; /* negative: top-down rows */
        return 1;
    }
    case LP_IMAGE_JPEG: return jpeg_size(p, n, w, h);
    case LP_IMAGE_PNM: {
        size_t pos = 2;
        return n > 2 && pnm_number(p, n, &pos, w) == 1 && pnm_number(p, n, &pos, h) == 1;
    }
    default: return 0;
    }
}

/* Huffman tables of every DHT segment, including those between the scans of a
 * progressive JPEG: stb_image 2.27 (Debian's) trusts the 16 code counts and
 * writes past its tables when they add up to more than 256 (fixed upstream
 * later), so such files are refused here before stb sees them. */
/* A scan may name a Huffman table no DHT defined: stb 2.27 then decodes with
 * its uninitialized table memory and indexes outside it (2.28 added a bounds
 * check). So every table a scan uses must have been defined before it. */
static int scan_tables_defined(const uint8_t *p, size_t n, size_t pos, size_t len, const bool defined[2][4],
                               const char **why) {
    if (len < 3 || pos + 2 + len > n) return 1; /* truncated: stb reports it */
    const uint8_t *q = p + pos + 4;
    unsigned ns = q[0];
    if (len < 6 + 2 * (size_t)ns) return 1; /* malformed: stb reports it */
    unsigned ss = q[1 + 2 * ns], se = q[2 + 2 * ns], ah = q[3 + 2 * ns] >> 4;
    for (unsigned i = 0; i < ns; i++) {
        unsigned td = q[2 + 2 * i] >> 4, ta = q[2 + 2 * i] & 15;
        if ((ss == 0 && ah == 0 && (td > 3 || !defined[0][td])) || (se > 0 && (ta > 3 || !defined[1][ta]))) {
            *why = "a scan uses a Huffman table that was never defined";
            return 0;
        }
    }
    return 1;
}

int lp_image_jpeg_tables_ok(const void *bytes, size_t n, const char **why) {
    const uint8_t *p = bytes;
    size_t pos = 2;
    bool defined[2][4] = {{false}};
    while (pos + 4 <= n) {
        if (p[pos] != 0xFF) { /* entropy-coded data: skip to the next marker */
            pos++;
            continue;
        }
        uint8_t m = p[pos + 1];
        if (m == 0x00 || m == 0xFF || m == 0x01 || (m >= 0xD0 && m <= 0xD8)) {
            pos += (m == 0xFF) ? 1 : 2; /* stuffed byte, fill, RSTn, SOI */
            continue;
        }
        if (m == 0xD9) return 1; /* EOI */
        size_t len = be16(p + pos + 2);
        if (len < 2) return 1; /* stb reports it */
        if (m == 0xC4) {
            /* stb reads a cut-off segment on as zeros: so does this check. */
            size_t q = pos + 4, end = pos + 2 + len;
            while (q < end) {
                if (end - q < 17) {
                    *why = "Huffman table header is cut short";
                    return 0;
                }
                unsigned total = 0;
                for (size_t i = 1; i <= 16; i++) total += q + i < n ? p[q + i] : 0;
                if (total > 256) {
                    *why = "Huffman table declares more than 256 codes";
                    return 0;
                }
                if (total > end - q - 17) {
                    *why = "Huffman table is longer than its segment";
                    return 0;
                }
                const unsigned sel = q < n ? p[q] : 0; /* past the end stb reads 0 */
                unsigned tc = sel >> 4, th = sel & 15;
                if (tc <= 1 && th <= 3) defined[tc][th] = true;
                q += 17 + total;
            }
        }
        if (m == 0xDA && !scan_tables_defined(p, n, pos, len, (const bool(*)[4])defined, why)) return 0;
        if (len > n - pos - 2) return 1; /* truncated: stb reports it */
        pos += 2 + len;
    }
    return 1;
}

/* Every PNG chunk must fit in the file: stb 2.27 grows its IDAT buffer to a
 * chunk's declared length before reading it, so a few bytes declaring a 2 GiB
 * chunk cost a 2 GiB allocation. */
int lp_image_png_chunks_ok(const void *bytes, size_t n, const char **why) {
    const uint8_t *p = bytes;
    size_t pos = 8;
    while (pos + 8 <= n) {
        uint32_t len = be32(p + pos);
        if ((uint64_t)len + 12 > n - pos) {
            *why = "a chunk is longer than the rest of the file (truncated or corrupt)";
            return 0;
        }
        if (!memcmp(p + pos + 4, "IEND", 4)) return 1;
        pos += 12 + (size_t)len;
    }
    return 1; /* no IEND: stb reports it */
}
