/* libFuzzer target for the safetensors reader: any bytes either parse into a
 * reader whose every tensor and metadata entry can be read, or are refused
 * with an error message; never a crash, leak or undefined behaviour. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pretrained/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lp_safetensors *st = NULL;
    lp_error err = {0};
    if (lp_safetensors_parse(data, size, "fuzz", &st, &err) != LP_OK) {
        if (!err.msg[0] || st) abort(); /* a refusal always says why */
        return 0;
    }
    volatile uint8_t sink = 0;
    uint64_t covered = 0;
    for (size_t i = 0; i < lp_safetensors_count(st); i++) {
        const lp_st_tensor *t = lp_safetensors_at(st, i);
        if (lp_safetensors_find(st, t->name) != t) abort();
        uint64_t nbytes = t->end - t->begin;
        covered += nbytes;
        if (nbytes) sink ^= ((const uint8_t *)t->data)[nbytes - 1]; /* in bounds */
        lp_tensor view;
        lp_error e = {0};
        if (lp_safetensors_get(st, t->name, &view, &e) == LP_OK) {
            if (lp_tensor_nbytes(&view) != nbytes) abort();
            if (nbytes) sink ^= ((const uint8_t *)view.data)[0];
        } else if (t->ndim <= LP_MAX_DIMS) {
            abort(); /* only ranks a view cannot hold may fail */
        }
    }
    for (size_t i = 0; i < lp_safetensors_metadata_count(st); i++) {
        const char *k, *v;
        lp_safetensors_metadata_at(st, i, &k, &v);
        if (lp_safetensors_metadata(st, k) != v) abort();
    }
    /* the tensors tile the data section exactly */
    uint64_t n = 0;
    memcpy(&n, data, 8); /* little-endian host */
    if (covered != size - 8 - n) abort();
    (void)sink;
    lp_safetensors_close(st);
    return 0;
}
