/* cuDNN helpers shared by gpu_cudnn.c and the host-only descriptor test. */
#ifndef LP_CUDA_GPU_CUDNN_H
#define LP_CUDA_GPU_CUDNN_H

#include <cudnn.h>

#include "kernels/ops.h"

typedef struct lp_cudnn_conv_desc {
    cudnnTensorDescriptor_t x, y, bias;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    cudnnActivationDescriptor_t act;
} lp_cudnn_conv_desc;

/* Descriptors for one lp_conv2d call (NCHW tensors, as the op). Host-only
 * calls; the output dims cuDNN computes are checked against out's shape. */
lp_status lp_cudnn_conv_describe(const lp_tensor *x, const lp_tensor *weight,
                                 const lp_conv2d_params *p, const lp_tensor *out,
                                 lp_cudnn_conv_desc *d, lp_error *err);
void lp_cudnn_conv_destroy(lp_cudnn_conv_desc *d);

#endif
