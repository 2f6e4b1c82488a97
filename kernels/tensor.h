/* The tensor descriptor: a view over memory someone else owns (an arena, a
 * memory-mapped checkpoint, a device buffer). Copying an lp_tensor copies the
 * view, never the data.
 *
 * Shapes have up to LP_MAX_DIMS dimensions (4 plus a batch dimension). Strides
 * are in elements, so a transposed or head-split view (as attention uses) is a
 * tensor too; ops say which strides they accept. */
#ifndef LP_TENSOR_H
#define LP_TENSOR_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/dtype.h"
#include "kernels/status.h"

#define LP_MAX_DIMS 5

typedef enum lp_device_kind { LP_DEVICE_CPU = 0, LP_DEVICE_CUDA = 1 } lp_device_kind;

typedef struct lp_device {
    lp_device_kind kind;
    int index; /* CUDA ordinal; 0 for the CPU */
} lp_device;

typedef struct lp_tensor {
    void *data;
    lp_dtype dtype;
    int ndim;
    int64_t shape[LP_MAX_DIMS];
    int64_t stride[LP_MAX_DIMS]; /* elements */
    lp_device device;
} lp_tensor;

/* A contiguous (row-major) CPU view of `data`. ndim 0 is a scalar. */
lp_tensor lp_tensor_make(void *data, lp_dtype dtype, int ndim, const int64_t *shape);

/* Same, for the common ranks. */
lp_tensor lp_tensor_1d(void *data, lp_dtype dtype, int64_t d0);
lp_tensor lp_tensor_2d(void *data, lp_dtype dtype, int64_t d0, int64_t d1);
lp_tensor lp_tensor_3d(void *data, lp_dtype dtype, int64_t d0, int64_t d1, int64_t d2);
lp_tensor lp_tensor_4d(void *data, lp_dtype dtype, int64_t d0, int64_t d1, int64_t d2, int64_t d3);

int64_t lp_tensor_numel(const lp_tensor *t);
/* numel * element size; meaningful for contiguous tensors. */
size_t lp_tensor_nbytes(const lp_tensor *t);
bool lp_tensor_is_contiguous(const lp_tensor *t);
bool lp_tensor_same_shape(const lp_tensor *a, const lp_tensor *b);

/* A view of dimension `dim` narrowed to [start, start+len). */
lp_tensor lp_tensor_narrow(const lp_tensor *t, int dim, int64_t start, int64_t len);
/* A view with dimensions d0 and d1 swapped. */
lp_tensor lp_tensor_transpose(const lp_tensor *t, int d0, int d1);
/* A contiguous tensor viewed with another shape of the same numel; fails on a
 * non-contiguous input or a numel mismatch. */
lp_status lp_tensor_reshape(const lp_tensor *t, int ndim, const int64_t *shape, lp_tensor *out,
                            lp_error *err);

/* "[2, 3, 4] f32" into buf; returns buf. */
const char *lp_tensor_describe(const lp_tensor *t, char *buf, size_t size);

/* Validation helpers for op front-ends: each fills err with the op name, the
 * argument name and what was expected. */
lp_status lp_check_dtype(const char *op, const char *arg, const lp_tensor *t, lp_dtype want,
                         lp_error *err);
lp_status lp_check_ndim(const char *op, const char *arg, const lp_tensor *t, int min_ndim,
                        int max_ndim, lp_error *err);
lp_status lp_check_contiguous(const char *op, const char *arg, const lp_tensor *t, lp_error *err);

#endif
