/* cuBLASLt helpers shared by gpu_cublaslt.c and the host-only descriptor test
 * (tests/cuda/test_cuda_descriptors.c). Needs cublasLt.h. */
#ifndef LP_CUDA_GPU_CUBLASLT_H
#define LP_CUDA_GPU_CUBLASLT_H

#include <cublasLt.h>

#include "kernels/cuda/gemm_desc.h"

cudaDataType_t lp_cublaslt_type(lp_dtype t);
const char *cublasLt_status_name(int status);

/* The matmul descriptor and the three layouts for one GEMM call description:
 * host-only calls, no GPU needed. */
lp_status lp_cublaslt_describe(const lp_cuda_gemm_desc *d, cublasLtMatmulDesc_t *op,
                               cublasLtMatrixLayout_t *la, cublasLtMatrixLayout_t *lb,
                               cublasLtMatrixLayout_t *lc, lp_error *err);

#endif
